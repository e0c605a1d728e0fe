//! Bias correction (issue 11, item 4): the mean output shift that weight rounding causes is
//! measured on the calibration data and folded into the bias. Checked against the definition,
//! not the formula: after the correction, a Gemm with quantized weights has the float Gemm's
//! mean output over the calibration data.

use calibr8::prelude::*;
use calibr8_core::config::GranularityName;
use ndarray::{Array1, Array2, Axis};

fn per_tensor_weights(bias_correction: bool) -> QuantConfig {
    let mut config =
        QuantConfig { method: Method::MinMax, bias_correction, ..QuantConfig::default() };
    for rule in &mut config.config_list {
        rule.granularity = GranularityName::Default;
    }
    config
}

fn initializer(q: &QuantizedModel, name: &str) -> (Vec<f32>, Vec<usize>) {
    let t = q.model.graph().initializer.iter().find(|t| t.name == name).expect(name);
    calibr8_core::graph::tensor_f32(t).expect("float initializer")
}

fn bias_of<'a>(q: &'a QuantizedModel, node: &str) -> &'a str {
    let n = q.model.graph().node.iter().find(|n| n.name == node).expect(node);
    &n.input[2]
}

/// Mean over the rows of `x · Wᵀ + b` (Gemm with transB = 1).
fn mean_output(x: &Array2<f32>, w: &[f32], dims: &[usize], b: &[f32]) -> Array1<f64> {
    let w = Array2::from_shape_vec((dims[0], dims[1]), w.to_vec()).expect("weight shape");
    let y = x.dot(&w.t()) + &Array1::from(b.to_vec());
    y.mapv(f64::from).mean_axis(Axis(0)).expect("rows")
}

#[test]
fn corrected_gemm_has_the_float_mean_output_on_the_calibration_data() {
    let model = OnnxModel::load("tests/data/mlp_gemm.onnx").expect("model");
    let calib = "tests/data/mlp_gemm_calib.npy";
    let data = NpySource::open(calib, 16).expect("data");
    let plain = calibr8::quantize(&model, &data, &per_tensor_weights(false)).expect("quantizes");
    let corrected = calibr8::quantize(&model, &data, &per_tensor_weights(true)).expect("quantizes");

    // fc1 reads the model input, so its input mean is the data's, exactly.
    let x: Array2<f32> =
        calibr8_core::npy::read_npy_f32(calib).expect("npy").into_dimensionality().expect("2-D");
    let (w, dims) = initializer(&plain, "fc1.weight");
    let wq = plain.tensors["fc1.weight"].params.fake_quant_all(&w, &dims).expect("fake quant");
    let (b, _) = initializer(&plain, bias_of(&plain, "fc1"));
    let (b_corrected, _) = initializer(&corrected, bias_of(&corrected, "fc1"));

    let float = mean_output(&x, &w, &dims, &b);
    let shifted = mean_output(&x, &wq, &dims, &b);
    let fixed = mean_output(&x, &wq, &dims, &b_corrected);
    let worst = |m: &Array1<f64>| (m - &float).iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let (before, after) = (worst(&shifted), worst(&fixed));
    println!("fc1 mean output shift: {before:.3e} before, {after:.3e} after correction");
    assert!(before > 1e-3, "per-tensor rounding shifts the mean: {before}");
    assert!(after < 1e-4 && after < before / 50.0, "{after} vs {before}");
    // Same weights: only the bias moved.
    assert_eq!(corrected.tensors["fc1.weight"].params, plain.tensors["fc1.weight"].params);
}

#[test]
fn nodes_without_a_bias_get_one_and_the_off_switch_changes_nothing() {
    // resnet_tiny's convolutions have no bias input; BatchNorm folding would give them one.
    let model = OnnxModel::load("tests/data/resnet_tiny.onnx").expect("model");
    let data = NpySource::open("tests/data/resnet_tiny_calib.npy", 8).expect("data");
    let config = |bias_correction| QuantConfig {
        fold_batchnorm: false,
        ..per_tensor_weights(bias_correction)
    };
    let plain = calibr8::quantize(&model, &data, &config(false)).expect("quantizes");
    let corrected = calibr8::quantize(&model, &data, &config(true)).expect("quantizes");
    let bias_count = |q: &QuantizedModel| {
        q.model
            .graph()
            .node
            .iter()
            .filter(|n| n.op_type == "Conv" && n.input.get(2).is_some_and(|b| !b.is_empty()))
            .count()
    };
    let convs = corrected.model.graph().node.iter().filter(|n| n.op_type == "Conv").count();
    assert!(bias_count(&plain) < convs, "the fixture has bias-free convolutions");
    assert_eq!(bias_count(&corrected), convs, "every corrected Conv has a bias");
    // The ranges are those of the plain run: correction changes biases only.
    for (name, t) in &plain.tensors {
        assert_eq!(corrected.tensors[name].params, t.params, "{name}");
    }
    // Off, the model is the pre-processed float model, untouched.
    let float =
        calibr8_core::preprocess::for_quantization(&model, &config(false)).expect("pre-processes");
    assert_eq!(plain.model.to_bytes(), float.to_bytes());
    assert_ne!(corrected.model.to_bytes(), float.to_bytes());
}

#[test]
fn bias_correction_is_a_config_key_and_refused_for_shards() {
    let config: QuantConfig =
        yaml_serde::from_str("bias_correction: true\n").expect("the key is accepted");
    assert!(config.bias_correction);
    assert!(!QuantConfig::default().bias_correction, "off by default");
    // Off, the key is not written, so configs and shard states stay as before.
    let yaml = yaml_serde::to_string(&QuantConfig::default()).expect("serializes");
    assert!(!yaml.contains("bias_correction"), "{yaml}");
    let e =
        calibr8_core::shards::check_shardable(&QuantConfig { method: Method::MinMax, ..config })
            .expect_err("refused");
    assert!(e.to_string().contains("bias_correction"), "{e}");
}
