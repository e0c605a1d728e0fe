//! # calibr8
//!
//! Native int8 post-training quantization for ONNX models (and, through `calibr8-burn`, burn
//! modules): streaming observers (minmax, EMA minmax, percentile, TensorRT's entropy, MSE), a
//! quantized graph every backend lowers, and the artifacts deployment stacks take unchanged —
//! QDQ ONNX, TensorRT calibration caches, NNI calibration configs.
//!
//! ```
//! use calibr8::prelude::*;
//!
//! let model = OnnxModel::load("examples/digits/digits_cnn.onnx")?;
//! let data = NpySource::open("examples/digits/calib.npy", 64)?;
//! let config = QuantConfig { method: Method::Percentile { percentile: 99.99 }, ..QuantConfig::default() };
//! let quantized = calibr8::quantize(&model, &data, &config)?;
//! assert!(quantized.tensors["conv1.weight"].params.axis == Some(0));
//! # Ok::<(), calibr8::Error>(())
//! ```
//!
//! ## Features
//! - `tract` (default): the tract CPU backend, used by [`quantize`] to capture activations and
//!   as the embedded engine for fp32 / simulated-int8 runs.
//! - `tensorrt`: the TensorRT 10 backend (`calibr8-tensorrt`); TensorRT is loaded at run time, so
//!   this builds anywhere and fails with "install TensorRT 10" where the library is missing.
//! - `burn`: the burn integration (`calibr8-burn`, as [`burn`](mod@burn) here):
//!   `calibr8::burn::quantize(&model, Model::forward, example, batches, &config)` for any burn
//!   module, fake-quant back into the module, and the burn backend.
//! - `ort`: ONNX Runtime (`calibr8-ort`, as [`ort`](mod@ort) here) on its CPU, CUDA and TensorRT
//!   execution providers; libonnxruntime is loaded at run time (`pip install onnxruntime`, or
//!   `CALIBR8_ORT_LIB`), so this builds anywhere.
//!
//! ## Crates
//! - [`calibration`] (`calibr8-calibration`): observers and scale math, no graph.
//! - [`core`] (`calibr8-core`): graph view, config, plan, `quantize_with`, traits, exporters.
//! - `tract` (`calibr8-tract`): the CPU backend.
//! - `tensorrt` (`calibr8-tensorrt`): the TensorRT 10 backend.
//! - `burn` (`calibr8-burn`): burn modules in, burn as a backend.
//! - `ort` (`calibr8-ort`): the ONNX Runtime backend.
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

mod backend_kind;
pub use backend_kind::BackendKind;

#[cfg(feature = "burn")]
pub use calibr8_burn as burn;
pub use calibr8_calibration as calibration;
pub use calibr8_core as core;
pub use calibr8_core::compare;
pub use calibr8_core::{
    export, quantize_with, quantize_with_progress, Backend, CalibrationData, ConfigRule, ElemType,
    Engine, EngineOptions, Error, InMemory, Lowering, NpySource, OnnxModel, Precision, Preset,
    Progress, QuantConfig, QuantPlan, QuantizedModel, Result, TensorMap, TensorQuant, TensorValue,
};
#[cfg(feature = "ort")]
pub use calibr8_ort as ort;
#[cfg(feature = "tensorrt")]
pub use calibr8_tensorrt as tensorrt;
#[cfg(feature = "tract")]
pub use calibr8_tract as tract;

/// The backend called `name` ([`BackendKind`]'s names), checked ([`Backend::check`]) so a
/// missing library is an error here, never a silent fallback: `name.parse::<BackendKind>()?
/// .backend()`.
pub fn backend_for_name(name: &str) -> Result<Box<dyn Backend>> {
    name.parse::<BackendKind>()?.backend()
}

/// The default backend: tract on the CPU.
#[cfg(feature = "tract")]
pub fn default_backend() -> Box<dyn Backend> {
    Box::new(calibr8_tract::TractBackend)
}

/// Calibrates `model` on `data` per `config` with the default (tract) backend.
#[cfg(feature = "tract")]
pub fn quantize(
    model: &OnnxModel,
    data: &dyn CalibrationData,
    config: &QuantConfig,
) -> Result<QuantizedModel> {
    quantize_with(&calibr8_tract::TractBackend, model, data, config)
}

/// Everything a typical program uses.
pub mod prelude {
    pub use crate::export::{write_artifacts, ArtifactOptions, TrtVersion};
    pub use crate::{
        Backend, BackendKind, CalibrationData, ConfigRule, Engine, EngineOptions, InMemory,
        Lowering, NpySource, OnnxModel, Precision, QuantConfig, QuantizedModel, TensorMap,
        TensorValue,
    };
    pub use calibr8_calibration::{Granularity, Method, QuantDtype, Scheme};
}
