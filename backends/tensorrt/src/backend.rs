//! backend
pub struct TensorRtBackend;
pub struct TrtEngine;
