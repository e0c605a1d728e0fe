//! The fuzz targets' bodies, shared by the libFuzzer binaries (`cargo fuzz run <target>`) and
//! the stable-Rust driver. Each takes arbitrary bytes; any outcome but a panic (or a hang) is
//! fine.

use calibr8_core::{Graph, OnnxModel, QuantConfig, QuantPlan};

/// The targets by name.
pub const TARGETS: &[(&str, fn(&[u8]))] =
    &[("onnx_loader", onnx_loader), ("npy_reader", npy_reader), ("config_parser", config_parser)];

/// Decode + validation pass, then what `calibr8 inspect` and planning do with a loaded model.
pub fn onnx_loader(data: &[u8]) {
    if let Ok(model) = OnnxModel::from_bytes(data, "fuzz.onnx") {
        let graph = Graph::new(&model);
        let _ = (model.inputs(), model.outputs(), model.opset(), graph.nodes.len());
        let _ = QuantPlan::resolve(&model, &QuantConfig::default());
        let again = OnnxModel::from_bytes(&model.to_bytes(), "round trip");
        assert!(again.is_ok(), "a model that loaded must load again after encoding");
    }
}

/// The `.npy` parser (calibration data, evaluation data, labels).
pub fn npy_reader(data: &[u8]) {
    if let Ok(calibr8_core::npy::NpyArray::F32(a)) = calibr8_core::npy::parse_npy(data) {
        let back = calibr8_core::npy::npy_bytes_f32(&a);
        let again = calibr8_core::npy::parse_npy(&back).expect("own output parses");
        assert_eq!(again, calibr8_core::npy::NpyArray::F32(a));
    }
}

/// The config parser: size / depth limits, then YAML (first byte odd) or JSON, then validation.
pub fn config_parser(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let _ = QuantConfig::from_text(text, first % 2 == 0, "fuzz");
}
