//! calibr8-core: the graph view, [`QuantConfig`], [`quantize_with`], the [`Backend`] /
//! [`Engine`] traits and the exporters. Backends (tract, TensorRT, burn) build on this crate;
//! the `calibr8` façade crate re-exports it with a default backend.
//!
//! ```
//! use calibr8_core::{OnnxModel, QuantConfig, QuantPlan};
//! let model = OnnxModel::load("../examples/digits/digits_cnn.onnx")?;
//! let plan = QuantPlan::resolve(&model, &QuantConfig::default())?;
//! // TensorRT's preset: the inputs and weights of the 2 Conv and 2 Gemm nodes.
//! assert_eq!(plan.weights().count(), 4);
//! assert!(plan.tensors.contains_key("input"));
//! # Ok::<(), calibr8_core::Error>(())
//! ```
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod auto;
pub mod backend;
pub mod bias_correction;
pub mod compare;
pub mod config;
mod contain;
pub mod data;
mod error;
pub mod export;
pub mod graph;
pub mod import;
mod model;
pub mod npy;
pub mod ops;
pub mod parallel;
pub mod pb;
pub mod plan;
pub mod preprocess;
pub mod quantize;
pub mod quantized;
pub mod shapes;
pub mod shards;
pub mod tensor;
pub mod validate;

pub use backend::{Backend, Engine, EngineOptions, Lowering};
pub use config::{ConfigRule, Precision, Preset, QuantConfig, QuantConfigBuilder, Target};
pub use contain::contain;
pub use data::{Batch, CalibrationData, InMemory, NpySource};
pub use error::{Error, Result};
pub use graph::Graph;
pub use model::{OnnxModel, ValueInfo};
pub use plan::{QuantPlan, SameParams, TensorRole, TensorTarget};
pub use quantize::{quantize_with, quantize_with_progress, Progress};
pub use quantized::{QuantizedModel, TensorQuant};
pub use tensor::{ElemType, TensorMap, TensorValue};

/// What every file of this crate needs.
mod internal {
    pub use crate::config::{Precision, QuantConfig};
    pub use crate::error::{Error, Result};
    pub use crate::graph::Graph;
    pub use crate::model::OnnxModel;
    pub use crate::quantized::QuantizedModel;
}
