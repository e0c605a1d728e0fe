//! Without TensorRT, the backend fails loudly with the "install TensorRT 10" remedy and writes
//! nothing — never a silent fallback. `CALIBR8_TENSORRT_LIB` points at a path that does not
//! exist, so this holds even on a machine where TensorRT is installed.

use calibr8_calibration::{Method, TensorRange};
use calibr8_core::{
    Backend, EngineOptions, Lowering, OnnxModel, QuantConfig, QuantPlan, QuantizedModel,
};
use calibr8_tensorrt::{engine_file, TensorRtBackend, TrtOptions};

fn without_tensorrt() {
    // Set before the first load in this process (each test sets the same value).
    std::env::set_var("CALIBR8_TENSORRT_LIB", "/nonexistent/calibr8-test/libnvinfer.so.10");
}

fn digits() -> QuantizedModel {
    let model = OnnxModel::load("../../examples/digits/digits_cnn.onnx").expect("model");
    let mut config = QuantConfig::default();
    config.config_list[0].granularity = Default::default();
    let plan = QuantPlan::resolve(&model, &config).expect("plan");
    let ranges = plan
        .tensors
        .keys()
        .map(|t| (t.clone(), TensorRange::per_tensor(t, Method::MinMax, -2.0, 2.0)))
        .collect();
    QuantizedModel::new(model, plan, ranges, config).expect("quantized")
}

fn assert_install_message(err: &calibr8_core::Error) {
    let text = err.to_string();
    assert!(text.contains("backend tensorrt"), "{text}");
    assert!(text.contains("libnvinfer.so.10 not found"), "{text}");
    assert!(text.contains("Install TensorRT 10"), "{text}");
    assert!(text.contains("CALIBR8_TENSORRT_LIB"), "{text}");
}

#[test]
fn check_and_prepare_fail_with_install_tensorrt_10() {
    without_tensorrt();
    let backend = TensorRtBackend::new(TrtOptions::default());
    assert_eq!(backend.name(), "tensorrt");
    let err = backend.check().expect_err("no TensorRT");
    println!("check(): {err}");
    assert_install_message(&err);

    let q = digits();
    let err = backend
        .prepare(Lowering::Quantized(&q), &EngineOptions::default())
        .err()
        .expect("prepare must fail");
    println!("prepare(): {err}");
    assert_install_message(&err);
    let err = backend
        .prepare(Lowering::Float(&q.model), &EngineOptions::default())
        .err()
        .expect("float too");
    assert_install_message(&err);
}

#[test]
fn nothing_is_written_without_tensorrt() {
    without_tensorrt();
    let dir = tempfile::tempdir().expect("tempdir");
    let q = digits();
    let backend = TensorRtBackend::new(TrtOptions::default());
    let err = backend
        .save_engine(Lowering::Quantized(&q), dir.path().join("digits.engine"))
        .expect_err("no engine");
    assert_install_message(&err);
    let plan = calibr8_tensorrt::TrtPlan::new(Lowering::Quantized(&q), &TrtOptions::default())
        .expect("plan");
    let err = engine_file::write_calibration_cache(&plan, dir.path().join("calibration.cache"))
        .expect_err("no cache");
    assert_install_message(&err);
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("read dir").collect();
    assert!(left.is_empty(), "files written: {left:?}");
    // The cache text itself needs no library: the version is given.
    let text = engine_file::calibration_cache_for(&plan, 101601);
    assert!(text.starts_with("TRT-101601-EntropyCalibration2\n"), "{text}");
}
