//! The core pipeline end to end on the bundled digits example: every observer, the QDQ export
//! checked and run by ONNX Runtime (independent implementation) and by tract, accuracy against
//! fp32, and the TensorRT cache read back.
//! See: https://github.com/calibr8/calibr8/issues/2

use calibr8::compare::argmax_rows;
use calibr8::export::{
    calibration_cache, names, parse_calibration_cache, write_artifacts, ArtifactOptions, TrtVersion,
};
use calibr8::prelude::*;
use calibr8::tract::TractBackend;
use ndarray::ArrayD;
use std::path::Path;
use std::process::Command;

const MODEL: &str = "examples/digits/digits_cnn.onnx";
const CALIB: &str = "examples/digits/calib.npy";
const EVAL: &str = "examples/digits/eval.npy";
const LABELS: &str = "examples/digits/eval_labels.npy";

fn eval_data() -> (ArrayD<f32>, Vec<i64>) {
    let x = calibr8::core::npy::read_npy_f32(EVAL).unwrap();
    let labels = calibr8::compare::Labels::load(LABELS).unwrap().values;
    (x, labels)
}

fn run(engine: &mut dyn Engine, x: &ArrayD<f32>) -> ArrayD<f32> {
    engine.run_f32(vec![x.clone()]).unwrap().remove(0)
}

fn accuracy(logits: &ArrayD<f32>, labels: &[i64]) -> f64 {
    let hits = argmax_rows(logits).iter().zip(labels).filter(|(p, l)| **p as i64 == **l).count();
    100.0 * hits as f64 / labels.len() as f64
}

fn quantize(method: &str) -> QuantizedModel {
    let model = OnnxModel::load(MODEL).unwrap();
    let data = NpySource::open(CALIB, 64).unwrap();
    let config =
        QuantConfig { method: method.parse().expect("a known method"), ..QuantConfig::default() };
    calibr8::quantize(&model, &data, &config).unwrap()
}

/// ONNX Runtime's output for `x` on the QDQ model in `dir` (also runs onnx.checker full_check).
fn onnx_runtime(dir: &Path, x: &ArrayD<f32>) -> ArrayD<f32> {
    let input = dir.join("eval_input.npy");
    let output = dir.join("ort_output.npy");
    std::fs::write(&input, calibr8::core::npy::npy_bytes_f32(x)).unwrap();
    let status = Command::new("python3")
        .arg("tests/ort_check.py")
        .arg(dir.join(names::QDQ_MODEL))
        .arg(&input)
        .arg(&output)
        .status()
        .expect(
            "python3 is needed to check exports with ONNX Runtime (pip install onnx onnxruntime)",
        );
    assert!(status.success(), "ONNX Runtime / onnx.checker rejected the QDQ model (see stderr)");
    calibr8::core::npy::read_npy_f32(&output).unwrap()
}

#[test]
fn every_method_exports_a_qdq_model_that_onnx_runtime_and_tract_agree_on() {
    let (x, labels) = eval_data();
    let model = OnnxModel::load(MODEL).unwrap();
    let mut fp32 =
        TractBackend.prepare(Lowering::Float(&model), &EngineOptions::default()).unwrap();
    let fp32_logits = run(fp32.as_mut(), &x);
    let fp32_acc = accuracy(&fp32_logits, &labels);
    assert!(fp32_acc > 96.0, "fp32 accuracy {fp32_acc}");

    for method in ["minmax", "ema", "percentile", "entropy", "mse"] {
        let q = quantize(method);
        let dir = tempfile::tempdir().unwrap();
        write_artifacts(&q, dir.path(), &ArtifactOptions::default()).unwrap();

        let mut int8 =
            TractBackend.prepare(Lowering::Quantized(&q), &EngineOptions::default()).unwrap();
        let tract_logits = run(int8.as_mut(), &x);
        let ort_logits = onnx_runtime(dir.path(), &x);

        // ONNX Runtime runs fused int8 kernels, tract runs Q/DQ in float: an activation may
        // round to the neighbouring int8 value where it lands on a rounding boundary. One such
        // flip in fc2's input moves a logit by scale(relu3_out) * |w|; allow four of them.
        let fc2_in = q.tensors["relu3_out"].params.scale[0];
        let fc2_w = &q.tensors["fc2.weight"];
        let step = 4.0 * fc2_in * fc2_w.range.amax.iter().copied().fold(0.0, f32::max);
        let max_diff = (&tract_logits - &ort_logits).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        let agree = argmax_rows(&tract_logits)
            .iter()
            .zip(argmax_rows(&ort_logits))
            .filter(|(a, b)| **a == *b)
            .count();
        println!("{method}: max |tract - ort| = {max_diff:.5} (bound {step:.5}), top-1 agreement {agree}/{}", labels.len());
        assert!(max_diff <= step, "{method}: tract and ONNX Runtime differ by {max_diff} > {step}");
        assert!(agree as f64 >= 0.99 * labels.len() as f64, "{method}: top-1 agreement {agree}");

        let int8_acc = accuracy(&tract_logits, &labels);
        println!("{method}: fp32 {fp32_acc:.2}%  int8 {int8_acc:.2}%");
        // Entropy included: NVIDIA's algorithm (checked against ModelOpt in calibr8-calibration)
        // keeps the full range on 17-level pixel data, so it does not hurt here.
        assert!(fp32_acc - int8_acc <= 1.0, "{method}: int8 {int8_acc}% vs fp32 {fp32_acc}%");
        println!(
            "{method}: input clipped {:.4}%",
            100.0 * q.tensors["input"].range.clipped_fraction
        );
    }
}

#[test]
fn calibration_cache_round_trips_through_tensorrt_format() {
    let q = quantize("percentile");
    let version: TrtVersion = "10.16.1".parse().unwrap();
    let text = calibration_cache(&q, version);
    assert!(text.starts_with("TRT-101601-EntropyCalibration2\n"), "{text}");
    let parsed = parse_calibration_cache(&text).unwrap();
    assert_eq!(parsed.version, version);
    assert_eq!(parsed.algorithm, "EntropyCalibration2");
    let activations: Vec<_> = q.activations().collect();
    assert_eq!(parsed.scales.len(), activations.len());
    for t in activations {
        let amax = t.symmetric_amax()[0];
        assert_eq!(parsed.scales[&t.target.tensor], amax / 127.0, "{}", t.target.tensor);
    }
    // Weights are not in the cache: TensorRT computes weight scales itself.
    assert!(!parsed.scales.contains_key("conv1.weight"));
}

#[test]
fn artifacts_are_all_written_and_named_after_onnx_tensors() {
    let q = quantize("minmax");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let written = write_artifacts(&q, &out, &ArtifactOptions::default()).unwrap();
    assert_eq!(written.len(), 5);
    let ranges: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(names::RANGES)).unwrap()).unwrap();
    assert_eq!(ranges["conv1.weight"]["axis"], 0);
    assert_eq!(ranges["conv1.weight"]["scale"].as_array().unwrap().len(), 16);
    assert_eq!(ranges["input"]["clipped_fraction"], 0.0);
    let nni: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(names::NNI_V2)).unwrap()).unwrap();
    for node in ["conv1", "conv2", "fc1", "fc2"] {
        assert_eq!(nni[node]["weight_bits"], 8, "{node}");
        assert_eq!(nni[node]["input_bits"], 8, "{node}");
    }
    assert_eq!(nni["conv1"]["tracked_max_input"].as_f64().unwrap(), 1.0);
    let nni3: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(names::NNI_V3)).unwrap()).unwrap();
    assert_eq!(nni3["conv1"]["weight"]["quant_scheme"], "symmetric");
    assert_eq!(nni3["fc2"]["_input_0"]["quant_dtype"], "int8");
    // Only the final names remain: no temporary files.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("calibr8-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Runs the QDQ export of `q` in ONNX Runtime (after onnx.checker full_check) and in tract on
/// `x`; returns the largest difference.
fn ort_vs_tract(q: &QuantizedModel, x: &ArrayD<f32>) -> f32 {
    let dir = tempfile::tempdir().unwrap();
    write_artifacts(q, dir.path(), &ArtifactOptions::default()).unwrap();
    let ort = onnx_runtime(dir.path(), x);
    let mut engine =
        TractBackend.prepare(Lowering::Quantized(q), &EngineOptions::default()).unwrap();
    let tract = run(engine.as_mut(), x);
    assert_eq!(ort.shape(), tract.shape());
    (&ort - &tract).iter().fold(0.0f32, |m, d| m.max(d.abs()))
}

#[test]
fn opset11_model_is_raised_to_opset13_for_per_channel_qdq() {
    let model = OnnxModel::load("tests/data/digits_cnn_opset11.onnx").unwrap();
    assert_eq!(model.opset(), 11);
    let data = NpySource::open(CALIB, 64).unwrap();
    let config =
        QuantConfig { method: "minmax".parse().expect("a known method"), ..QuantConfig::default() };
    let q = calibr8::quantize(&model, &data, &config).unwrap();
    let qdq = calibr8::export::qdq_model(&q).unwrap();
    assert_eq!(qdq.opset(), 13);
    // Squeeze/Unsqueeze `axes` moved from attribute to input, as opset 13 requires.
    let unsqueeze = qdq.graph().node.iter().find(|n| n.op_type == "Unsqueeze").unwrap();
    assert!(unsqueeze.attribute.is_empty() && unsqueeze.input.len() == 2);
    let (x, labels) = eval_data();
    let diff = ort_vs_tract(&q, &x);
    assert!(diff < 0.5, "ONNX Runtime and tract differ by {diff}");
    // Per-tensor weights keep the model's own opset.
    let config = QuantConfig {
        config_list: vec![ConfigRule {
            op_types: vec!["Conv".into(), "Gemm".into()],
            ..ConfigRule::default()
        }],
        ..config
    };
    let q = calibr8::quantize(&model, &data, &config).unwrap();
    assert_eq!(calibr8::export::qdq_model(&q).unwrap().opset(), 11);
    let mut engine =
        TractBackend.prepare(Lowering::Quantized(&q), &EngineOptions::default()).unwrap();
    assert!(accuracy(&run(engine.as_mut(), &x), &labels) > 95.0);
}

#[test]
fn resnet_with_constant_weights_computed_pads_and_skip_adds() {
    let model = OnnxModel::load("tests/data/resnet_tiny.onnx").unwrap();
    let data = NpySource::open("tests/data/resnet_tiny_calib.npy", 4).unwrap();
    let q = calibr8::quantize(&model, &data, &QuantConfig::default()).unwrap();
    // The weight held by a Constant node is quantized per channel like the initializers.
    let w = &q.tensors["block2.downsample.weight"];
    assert_eq!(w.params.axis, Some(0));
    // Every Conv and the Gemm got a weight and an input range.
    let convs = model.graph().node.iter().filter(|n| n.op_type == "Conv" || n.op_type == "Gemm");
    for node in convs {
        assert!(q.tensors.contains_key(&node.input[0]), "{} input", node.name);
        assert!(q.tensors.contains_key(&node.input[1]), "{} weight", node.name);
        assert_eq!(q.node_precision[&node.name], Precision::Int8);
    }
    let x = calibr8::core::npy::read_npy_f32("tests/data/resnet_tiny_calib.npy").unwrap();
    let diff = ort_vs_tract(&q, &x);
    println!("resnet_tiny: max |ort - tract| = {diff}");
    assert!(diff < 0.5, "ONNX Runtime and tract differ by {diff}");
}

#[test]
fn two_pass_histograms_calibrate_the_whole_pipeline() {
    let model = OnnxModel::load(MODEL).unwrap();
    let data = NpySource::open(CALIB, 64).unwrap();
    let streaming = QuantConfig {
        method: "percentile".parse().expect("a known method"),
        ..QuantConfig::default()
    };
    let two_pass = QuantConfig {
        histogram: calibr8::calibration::HistogramMode::TwoPass,
        ..streaming.clone()
    };
    let a = calibr8::quantize(&model, &data, &streaming).unwrap();
    let b = calibr8::quantize(&model, &data, &two_pass).unwrap();
    for (name, ta) in &a.tensors {
        let tb = &b.tensors[name];
        assert_eq!(ta.range.values, tb.range.values, "{name}");
        // Both grids have 2048 bins over [0, global max] or a grown first-batch range: the
        // percentile lands within a few bins of each other.
        let (x, y) = (ta.range.amax[0], tb.range.amax[0]);
        assert!((x - y).abs() <= 0.01 * x.max(y) + 1e-6, "{name}: {x} vs {y}");
    }
}

#[test]
fn nni_style_yaml_config_selects_and_excludes_nodes() {
    let config: QuantConfig = yaml_serde::from_str(
        r#"
method: mse
config_list:
  - op_types: [Conv2d, Linear]
    target_names: [_input_, weight, _output_]
    quant_scheme: affine
    quant_dtype: uint8
    granularity: default
  - exclude_op_names: [fc2]
    precision: fp16
"#,
    )
    .unwrap();
    let model = OnnxModel::load(MODEL).unwrap();
    let data = NpySource::open(CALIB, 64).unwrap();
    let q = calibr8::quantize(&model, &data, &config).unwrap();
    assert_eq!(q.node_precision["fc2"], Precision::Fp16);
    assert_eq!(q.node_precision["conv1"], Precision::Int8);
    assert!(!q.tensors.contains_key("fc2.weight"));
    // fc1's output is quantized as an `_output_` target; fc2 (excluded) reads it in float.
    assert!(q.tensors["fc1_out"].target.consumers.is_empty());
    let w = &q.tensors["conv1.weight"];
    assert_eq!((w.params.axis, w.params.spec.dtype), (None, QuantDtype::Uint8));
    let x = &q.tensors["input"];
    assert_eq!(x.params.spec.scheme, Scheme::Affine);
    assert!(x.params.zero_point[0] == 0, "input is non-negative: zero point at qmin");
    let (eval, labels) = eval_data();
    let diff = ort_vs_tract(&q, &eval);
    assert!(diff < 0.5, "{diff}");
    let mut engine =
        TractBackend.prepare(Lowering::Quantized(&q), &EngineOptions::default()).unwrap();
    assert!(accuracy(&run(engine.as_mut(), &eval), &labels) > 96.0);
}
