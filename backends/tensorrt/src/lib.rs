//! calibr8-tensorrt: calibr8's TensorRT 10 backend.
//!
//! - [`plan`]: the pure-Rust [`TrtPlan`] — ranges, precisions, flags, optimization profile —
//!   decided from a [`calibr8_core::QuantizedModel`] before TensorRT is involved.
//! - [`trt`]: one RAII type per TensorRT object ([`trt::Logger`], [`trt::Builder`],
//!   [`trt::Network`], [`trt::BuilderConfig`], [`trt::Runtime`], [`trt::Engine`],
//!   [`trt::ExecutionContext`]) over `calibr8-tensorrt-sys`.
//! - [`lower`]: applies a plan to a parsed network and builds a serialized engine.
//! - [`engine_file`]: engine files that record the TensorRT version they were built with, and
//!   the calibration cache written with the running library's version.
//! - [`inspect`]: the per-layer precision dump of a built engine.
//! - [`device`]: cudarc device buffers, pinned host memory, one stream, and event timing.
//! - [`TensorRtBackend`]: the [`calibr8_core::Backend`] implementation.
//!
//! Features: `shim` compiles the C++ shim (needs TensorRT 10 headers at build time). Without it
//! every TensorRT call fails with "built without TensorRT headers"; the plan and the device code
//! work in both builds. TensorRT itself is always loaded at run time (`libnvinfer.so.10`).
//!
//! ```
//! use calibr8_core::{Lowering, OnnxModel, Precision};
//! use calibr8_tensorrt::{TrtOptions, TrtPlan};
//! let model = OnnxModel::load("../../examples/digits/digits_cnn.onnx")?;
//! let options = TrtOptions { precision: Precision::Fp16, ..TrtOptions::default() };
//! let plan = TrtPlan::new(Lowering::Float(&model), &options)?;
//! assert!(plan.flags.fp16 && !plan.flags.int8);
//! assert_eq!(plan.profile[0].max, vec![32, 1, 8, 8]);
//! # Ok::<(), calibr8_core::Error>(())
//! ```
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

mod backend;
pub mod device;
pub mod engine_file;
pub mod inspect;
pub mod lower;
pub mod plan;
pub mod trt;

pub use backend::{TensorRtBackend, TrtEngine};
pub use plan::{BatchProfile, LoweringMode, TrtOptions, TrtPlan};

/// The backend's name in errors and reports.
pub const BACKEND: &str = "tensorrt";

/// What every file of this crate needs.
mod internal {
    pub use calibr8_core::{Error, OnnxModel, Precision, QuantizedModel, Result};
}
