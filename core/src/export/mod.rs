//! Artifacts users' stacks take unchanged: QDQ ONNX, TensorRT calibration cache, NNI configs,
//! `ranges.json`, all published atomically.

mod atomic;
mod nni;
mod nni_modules;
mod qdq;
mod qdq_bias;
mod qoperator;
mod ranges;
mod trt_cache;

pub use atomic::{interrupt, write_atomic, OutputSet};
pub use nni::{
    nni_export, nni_export_with_config, nni_v2_config, nni_v3_config, NniEntry, NniExport,
    NniSkipped,
};
pub use nni_modules::{scope_module_path, MappedBy, ModuleMap};
pub use qdq::qdq_model;
pub use qoperator::{qoperator_model, with_output_ranges, FloatNode, LoweredNode, QOperatorModel};
pub use ranges::ranges_json;
pub use trt_cache::{
    calibration_cache, calibration_cache_named, parse_calibration_cache,
    write_calibration_cache_entries, CacheNaming, CalibrationCache, TrtVersion, NNI_INPUT_NAME,
    NNI_OUTPUT_NAME,
};

use crate::internal::*;
use std::path::{Path, PathBuf};

/// File names [`write_artifacts`] uses.
pub mod names {
    /// The QDQ model.
    pub const QDQ_MODEL: &str = "model.qdq.onnx";
    /// TensorRT's calibration cache.
    pub const TRT_CACHE: &str = "calibration.cache";
    /// NNI's `ModelSpeedupTensorRT(model, input_shape, config=...)` config (2.10.1 and 3.0).
    pub const NNI_V2: &str = "nni_calibration_config.json";
    /// NNI 3.0 `Quantizer.update_calibration_config()` layout.
    pub const NNI_V3: &str = "nni3_calibration_config.json";
    /// Per-tensor ranges.
    pub const RANGES: &str = "ranges.json";
    /// With `cross_layer_equalization`: the float model whose weights were rescaled, which the
    /// calibration cache and NNI configs describe (build a TensorRT engine from this one).
    pub const EQUALIZED_MODEL: &str = "model.equalized.onnx";
}

/// Options for [`write_artifacts`].
#[derive(Clone, Debug, Default)]
pub struct ArtifactOptions {
    /// TensorRT version for the cache header.
    pub trt_version: TrtVersion,
    /// Tensor names in the cache.
    pub cache_naming: CacheNaming,
}

/// Writes every artifact of `q` into `dir`, all or nothing.
pub fn write_artifacts(
    q: &QuantizedModel,
    dir: impl AsRef<Path>,
    options: &ArtifactOptions,
) -> Result<Vec<PathBuf>> {
    let mut out = OutputSet::new(dir.as_ref());
    out.add(names::QDQ_MODEL, qdq_model(q)?.to_bytes());
    out.add(
        names::TRT_CACHE,
        calibration_cache_named(q, options.trt_version, options.cache_naming).into_bytes(),
    );
    let nni = nni_export_with_config(q)?;
    let pretty = |v: serde_json::Value| {
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s.into_bytes()
    };
    out.add(names::NNI_V2, pretty(nni.v2));
    out.add(names::NNI_V3, pretty(nni.v3));
    out.add(names::RANGES, pretty(ranges_json(q)));
    if q.config.cross_layer_equalization {
        out.add(names::EQUALIZED_MODEL, q.model.to_bytes());
    }
    out.commit()
}
