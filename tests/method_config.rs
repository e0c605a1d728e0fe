//! The method a config file names, with its parameter, is the method calibration runs.
//! See: https://github.com/calibr8/calibr8/issues/9

use calibr8::prelude::*;

const MODEL: &str = "examples/digits/digits_cnn.onnx";
const CALIB: &str = "examples/digits/calib.npy";

fn quantize(config: &QuantConfig) -> QuantizedModel {
    let model = OnnxModel::load(MODEL).expect("model");
    let data = NpySource::open(CALIB, 64).expect("data");
    calibr8::quantize(&model, &data, config).expect("calibrates")
}

#[test]
fn issue_9_percentile_90_in_a_config_file_runs_90_not_99_99() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "method: percentile:90\n").expect("write");
    let from_file = quantize(&QuantConfig::load(&path).expect("loads"));

    let p90 = Method::Percentile { percentile: 90.0 };
    let in_code = quantize(&QuantConfig::builder().method(p90.clone()).build().expect("valid"));
    let p9999 = Method::Percentile { percentile: 99.99 };
    let default = quantize(&QuantConfig::builder().method(p9999).build().expect("valid"));

    assert_eq!(from_file.config.method, p90);
    let mut differs = 0;
    for t in from_file.activations() {
        let name = &t.target.tensor;
        assert_eq!(t.range.method, p90, "{name}");
        assert_eq!(t.range.amax, in_code.tensors[name].range.amax, "{name}");
        differs += usize::from(t.range.amax != default.tensors[name].range.amax);
    }
    // 90 clips far more than 99.99 somewhere, so the two cannot be confused.
    assert!(differs > 0);
}
