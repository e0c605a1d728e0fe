//! trt
