//! `calibr8::compare` on the bundled digits example, against independent references: ONNX
//! Runtime runs the float and the exported (mixed) QDQ models and the metrics are recomputed
//! from its outputs; one-pass method ranking is checked against separate calibrations.
//! See: https://github.com/calibr8/calibr8/issues/5

use calibr8::compare::{
    analyze_layers, calibrate_methods, mixed_precision, AccuracyTarget, Evaluation, Labels,
    MixedOptions,
};
use calibr8::export::qdq_model;
use calibr8::prelude::*;
use calibr8::tract::TractBackend;
use ndarray::ArrayD;
use std::path::Path;
use std::process::Command;

const MODEL: &str = "examples/digits/digits_cnn.onnx";
const CALIB: &str = "examples/digits/calib.npy";
const EVAL: &str = "examples/digits/eval.npy";
const LABELS: &str = "examples/digits/eval_labels.npy";

fn quantize(method: &str) -> QuantizedModel {
    let model = OnnxModel::load(MODEL).unwrap();
    let data = NpySource::open(CALIB, 64).unwrap();
    let config =
        QuantConfig { method: method.parse().expect("a known method"), ..QuantConfig::default() };
    calibr8::quantize(&model, &data, &config).unwrap()
}

/// ONNX Runtime's first output for the eval set on `model` (after onnx.checker full_check).
fn onnx_runtime(model: &OnnxModel, dir: &Path, tag: &str) -> ArrayD<f32> {
    let path = dir.join(format!("{tag}.onnx"));
    let output = dir.join(format!("{tag}_out.npy"));
    std::fs::write(&path, model.to_bytes()).unwrap();
    let status = Command::new("python3")
        .args(["tests/ort_check.py", path.to_str().unwrap(), EVAL, output.to_str().unwrap()])
        .status()
        .expect("python3 with onnx and onnxruntime runs the independent check");
    assert!(status.success(), "ONNX Runtime / onnx.checker rejected {tag}");
    calibr8::core::npy::read_npy_f32(&output).unwrap()
}

/// SQNR (dB), cosine and top-1 accuracy recomputed here from two plain arrays.
fn reference_metrics(r: &ArrayD<f32>, q: &ArrayD<f32>, labels: &[i64]) -> (f64, f64, f64) {
    let (mut s, mut n, mut dot, mut qq) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in r.iter().zip(q.iter()) {
        let (a, b) = (a as f64, b as f64);
        s += a * a;
        n += (a - b) * (a - b);
        dot += a * b;
        qq += b * b;
    }
    let classes = q.shape()[1];
    let flat = q.as_standard_layout();
    let correct = flat
        .as_slice()
        .unwrap()
        .chunks(classes)
        .zip(labels)
        .filter(|(row, &l)| {
            let best = (0..classes).fold(0, |b, i| if row[i] > row[b] { i } else { b });
            best as i64 == l
        })
        .count();
    (10.0 * (s / n).log10(), dot / (s * qq).sqrt(), correct as f64 / labels.len() as f64)
}

#[test]
fn issue_5_one_pass_ranking_calibrates_exactly_like_separate_runs() {
    let model = OnnxModel::load(MODEL).unwrap();
    let data = NpySource::open(CALIB, 64).unwrap();
    let methods = calibr8::calibration::Method::all_default();
    let one_pass = calibrate_methods(
        &TractBackend,
        &model,
        &data,
        &QuantConfig::default(),
        &methods,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(one_pass.len(), 5);
    for (name, q) in &one_pass {
        let separate = quantize(&name.to_string());
        assert_eq!(q.tensors.len(), separate.tensors.len(), "{name}");
        for (tensor, t) in &q.tensors {
            let s = &separate.tensors[tensor];
            assert_eq!(t.range.amax, s.range.amax, "{name} {tensor}");
            assert_eq!(t.params, s.params, "{name} {tensor}");
        }
    }
    // The methods really differ somewhere (else the ranking would be meaningless).
    let amax = |m: &str| {
        one_pass.iter().find(|(n, _)| n.to_string() == m).unwrap().1.tensors["relu1_out"]
            .range
            .amax
            .clone()
    };
    assert_ne!(amax("minmax"), amax("entropy"));
}

#[test]
fn issue_5_metrics_agree_with_onnx_runtime() {
    let model = OnnxModel::load(MODEL).unwrap();
    let eval = NpySource::open(EVAL, 64).unwrap();
    let labels = Labels::load(LABELS).unwrap();
    let evaluation = Evaluation::new(&TractBackend, &model, &eval, Some(labels.clone())).unwrap();
    let q = quantize("minmax");
    let ours = evaluation.outputs(&TractBackend, Lowering::Quantized(&q)).unwrap().remove(0);

    let dir = tempfile::tempdir().unwrap();
    let r = onnx_runtime(&model, dir.path(), "float");
    let y = onnx_runtime(&qdq_model(&q).unwrap(), dir.path(), "int8");
    let (sqnr, cosine, acc) = reference_metrics(&r, &y, &labels.values);
    let (_, _, ref_acc) = reference_metrics(&r, &r, &labels.values);
    let m = &ours.metrics;
    assert_eq!(ours.output, "logits");
    assert_eq!(m.elements, 3600);
    // ONNX Runtime runs real int8 kernels, tract the Q/DQ in float: close, not bit-equal.
    assert!((m.sqnr_db.unwrap() - sqnr).abs() < 0.5, "tract {m:?} vs ORT sqnr {sqnr}");
    assert!((m.cosine - cosine).abs() < 1e-4, "tract {} vs ORT {cosine}", m.cosine);
    assert!((m.top1_accuracy.unwrap() - acc).abs() <= 2.0 / 360.0, "{m:?} vs ORT {acc}");
    assert_eq!(m.reference_top1_accuracy, Some(ref_acc));
    assert_eq!(evaluation.reference_top1_accuracy().unwrap(), Some(ref_acc));
    assert!((ref_acc - 353.0 / 360.0).abs() < 1e-12, "README's fp32 98.06 %: {ref_acc}");
}

#[test]
fn issue_5_keep_in_float_removes_qdq_and_all_float_equals_the_float_model() {
    let q = quantize("mse");
    assert_eq!(q.int8_nodes(), ["conv1", "conv2", "fc1", "fc2"]);
    let mut mixed = q.clone();
    mixed.keep_in_float(&["fc2"], Precision::Fp16).unwrap();
    assert_eq!(mixed.node_precision["fc2"], Precision::Fp16);
    // fc2 reads relu3_out and fc2.weight; no int8 node reads them any more.
    assert!(!mixed.tensors.contains_key("relu3_out"));
    assert!(!mixed.tensors.contains_key("fc2.weight"));
    assert!(mixed.tensors.contains_key("fc1.weight"));
    let qdq = qdq_model(&mixed).unwrap();
    let nodes = &qdq.graph().node;
    let fc2 = nodes.iter().find(|n| n.name == "fc2").unwrap();
    assert_eq!(fc2.input[..2], ["relu3_out", "fc2.weight"]);
    let fc1 = nodes.iter().find(|n| n.name == "fc1").unwrap();
    assert_eq!(fc1.input[..2], ["flatten_out.dequantized", "fc1.weight.dequantized"]);
    assert!(qdq.graph().initializer.iter().any(|t| t.name == "fc2.weight"));
    // The other exporters follow: no NNI entry for fc2, no cache line for its input.
    let nni = calibr8::export::nni_v2_config(&mixed);
    assert!(nni.get("fc2").is_none() && nni.get("fc1").is_some(), "{nni}");
    let cache = calibr8::export::calibration_cache(&mixed, TrtVersion::default());
    assert!(!cache.contains("relu3_out:") && cache.contains("flatten_out:"), "{cache}");

    // Everything kept in float: no Q/DQ at all, and the run equals the float run exactly.
    let mut float = q.clone();
    float.keep_in_float(&q.int8_nodes(), Precision::Fp32).unwrap();
    assert!(float.tensors.is_empty());
    let qdq = qdq_model(&float).unwrap();
    assert!(!qdq.graph().node.iter().any(|n| n.op_type.ends_with("QuantizeLinear")));
    let model = OnnxModel::load(MODEL).unwrap();
    let eval = NpySource::open(EVAL, 64).unwrap();
    let evaluation = Evaluation::new(&TractBackend, &model, &eval, None).unwrap();
    let m = evaluation.outputs(&TractBackend, Lowering::Quantized(&float)).unwrap().remove(0);
    assert!(m.metrics.identical, "{m:?}");
    assert_eq!(m.metrics.top1_agreement, Some(1.0));

    let err = q.clone().keep_in_float(&["nope"], Precision::Fp16).unwrap_err().to_string();
    assert!(err.contains("node 'nope' is not in"), "{err}");
    let err = q.clone().keep_in_float(&["fc1"], Precision::Int8).unwrap_err().to_string();
    assert!(err.contains("fp16 or fp32"), "{err}");
}

#[test]
fn issue_5_layers_and_mixed_precision_meet_a_target_the_all_int8_model_misses() {
    let model = OnnxModel::load(MODEL).unwrap();
    let eval = NpySource::open(EVAL, 64).unwrap();
    let labels = Labels::load(LABELS).unwrap();
    let evaluation = Evaluation::new(&TractBackend, &model, &eval, Some(labels)).unwrap();
    let q = quantize("minmax");
    let analysis = analyze_layers(&evaluation, &TractBackend, &q, &mut |_| {}).unwrap();

    // Graph order, both kinds of tensors; fc2's output is the model output.
    let tensors: Vec<&str> = analysis.tensors.iter().map(|t| t.tensor.as_str()).collect();
    assert_eq!(
        tensors,
        ["conv1_out", "relu1_out", "conv2_out", "flatten_out", "fc1_out", "relu3_out", "logits"]
    );
    let layers: Vec<&str> = analysis.layers.iter().map(|l| l.node.as_str()).collect();
    assert_eq!(layers, ["conv1", "conv2", "fc1", "fc2"]);
    let all_int8 = analysis.outputs[0].metrics.clone();
    assert_eq!(analysis.layers[3].cumulative, all_int8);
    // One quantized node costs less than all four together.
    for l in &analysis.layers {
        assert!(l.isolated.sqnr_db.unwrap() > all_int8.sqnr_db.unwrap(), "{l:?}");
    }

    // A target 2 dB above what the all-int8 model reaches.
    let target = AccuracyTarget::Sqnr { min_db: all_int8.sqnr_db.unwrap() + 2.0 };
    let options = MixedOptions { target, precision: Precision::Fp16, max_float_nodes: None };
    let (report, mixed) =
        mixed_precision(&evaluation, &TractBackend, &q, &analysis.layers, &all_int8, &options)
            .unwrap();
    assert!(!report.steps[0].met);
    assert!(report.met, "{report:?}");
    assert!(report.steps.len() >= 2);
    assert_eq!(report.float_nodes.len(), report.steps.len() - 1);
    // Most sensitive first: the lowest isolated SQNR leads.
    let mut by_sqnr = analysis.layers.clone();
    by_sqnr.sort_by(|a, b| a.isolated.sqnr_db.partial_cmp(&b.isolated.sqnr_db).unwrap());
    assert_eq!(report.sensitivity_order[0], by_sqnr[0].node);
    for node in &report.float_nodes {
        assert_eq!(mixed.node_precision[node], Precision::Fp16);
    }

    // ONNX Runtime on the exported mixed model confirms the target independently.
    let dir = tempfile::tempdir().unwrap();
    let r = onnx_runtime(&model, dir.path(), "float");
    let y = onnx_runtime(&qdq_model(&mixed).unwrap(), dir.path(), "mixed");
    let labels = Labels::load(LABELS).unwrap();
    let (sqnr, _, _) = reference_metrics(&r, &y, &labels.values);
    let AccuracyTarget::Sqnr { min_db } = target else { unreachable!() };
    assert!(sqnr > min_db - 0.5, "ORT SQNR {sqnr} vs target {min_db}");
    let y_int8 = onnx_runtime(&qdq_model(&q).unwrap(), dir.path(), "int8");
    let (sqnr_int8, _, _) = reference_metrics(&r, &y_int8, &labels.values);
    assert!(sqnr > sqnr_int8 + 1.0, "mixed {sqnr} dB vs all-int8 {sqnr_int8} dB (ORT)");
}

#[test]
fn issue_5_labels_that_do_not_fit_name_the_file() {
    let model = OnnxModel::load(MODEL).unwrap();
    let eval = NpySource::open(EVAL, 64).unwrap();
    let labels = Labels { source: "short_labels.npy".into(), values: vec![0; 10] };
    let err =
        Evaluation::new(&TractBackend, &model, &eval, Some(labels)).err().unwrap().to_string();
    assert!(err.contains("short_labels.npy"), "{err}");
    assert!(err.contains("10 labels") && err.contains("360 samples"), "{err}");
    let err = Labels::load(EVAL).unwrap_err().to_string();
    assert!(err.contains("eval.npy") && err.contains("integer"), "{err}");
}

#[test]
fn issue_5_top1_target_without_labels_on_held_out_data() {
    // mlp_gemm (random weights) on held-out inputs: EMA ranges change some predictions; a
    // "no prediction may change" target (drop 0 points = 100 % agreement) keeps layers in float.
    let model = OnnxModel::load("tests/data/mlp_gemm.onnx").unwrap();
    let calib = NpySource::open("tests/data/mlp_gemm_calib.npy", 32).unwrap();
    let eval = NpySource::open("tests/data/mlp_gemm_eval.npy", 32).unwrap();
    let evaluation = Evaluation::new(&TractBackend, &model, &eval, None).unwrap();
    let config = QuantConfig::default();
    let q = calibrate_methods(
        &TractBackend,
        &model,
        &calib,
        &config,
        &["ema".parse().expect("a known method")],
        &mut |_| {},
    )
    .unwrap()
    .remove(0)
    .1;
    let analysis = analyze_layers(&evaluation, &TractBackend, &q, &mut |_| {}).unwrap();
    let all_int8 = analysis.outputs[0].metrics.clone();
    let agreement = all_int8.top1_agreement.unwrap();
    assert!(all_int8.top1_accuracy.is_none());
    assert!(agreement < 1.0, "EMA int8 changed no prediction on this fixture ({all_int8:?})");
    let options = MixedOptions {
        target: AccuracyTarget::Top1Drop { max_points: 0.0 },
        precision: Precision::Fp16,
        max_float_nodes: None,
    };
    let (report, mixed) =
        mixed_precision(&evaluation, &TractBackend, &q, &analysis.layers, &all_int8, &options)
            .unwrap();
    assert!(!report.steps[0].met);
    assert!((report.steps[0].value.unwrap() - 100.0 * (1.0 - agreement)).abs() < 1e-9);
    assert!(report.met && !report.float_nodes.is_empty(), "{report:?}");
    // Re-measured from scratch, the mixed model agrees with fp32 on every sample.
    let m = evaluation.outputs(&TractBackend, Lowering::Quantized(&mixed)).unwrap().remove(0);
    assert_eq!(m.metrics.top1_agreement, Some(1.0));
}

#[test]
fn issue_5_weight_errors_match_the_exported_int8_weights() {
    // Recomputed from the QDQ model's own int8 initializers and scales (per output channel).
    let q = quantize("minmax");
    let weights = calibr8::compare::weight_metrics(&q).unwrap();
    let names: Vec<&str> = weights.iter().map(|w| w.tensor.as_str()).collect();
    assert_eq!(names, ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]);
    let qdq = qdq_model(&q).unwrap();
    let init = |name: &str| qdq.graph().initializer.iter().find(|t| t.name == name).unwrap();
    let model = OnnxModel::load(MODEL).unwrap();
    for w in &weights {
        let float = model.graph().initializer.iter().find(|t| t.name == w.tensor).unwrap();
        let float: Vec<f32> =
            float.raw_data.chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        let int8 = &init(&format!("{}.quantized", w.tensor)).raw_data;
        let scales: Vec<f32> = init(&format!("{}.scale", w.tensor))
            .raw_data
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let per_channel = float.len() / scales.len();
        let (mut s, mut n, mut max) = (0.0f64, 0.0f64, 0.0f64);
        for (ix, (&x, &q8)) in float.iter().zip(int8).enumerate() {
            let d = (q8 as i8) as f32 * scales[ix / per_channel];
            let e = (x - d) as f64;
            s += (x as f64) * (x as f64);
            n += e * e;
            max = max.max(e.abs());
        }
        let m = &w.metrics;
        assert!((m.sqnr_db.unwrap() - 10.0 * (s / n).log10()).abs() < 1e-9, "{}", w.tensor);
        assert_eq!(m.max_abs_error, max, "{}", w.tensor);
        // Per-channel int8 weights: well above 30 dB.
        assert!(m.sqnr_db.unwrap() > 30.0, "{w:?}");
    }
}

#[test]
fn issue_5_backend_against_backend_on_the_same_int8_model() {
    // tract running the QDQ model (float arithmetic) as the reference, tract-int8 (QLinearConv /
    // QLinearMatMul, integer kernels) as the candidate, layer by layer.
    let model = OnnxModel::load(MODEL).unwrap();
    let data = NpySource::open(CALIB, 64).unwrap();
    let config = calibr8::export::with_output_ranges(&QuantConfig::default());
    let q = calibr8::quantize(&model, &data, &config).unwrap();
    let eval = NpySource::open(EVAL, 64).unwrap();
    let labels = Labels::load(LABELS).unwrap();
    let evaluation =
        Evaluation::with_lowering(&TractBackend, Lowering::Quantized(&q), &eval, Some(labels))
            .unwrap();
    let tensors: Vec<String> = ["conv1_out", "conv2_out", "fc1_out"].map(String::from).to_vec();

    // Same backend, same model: bit-identical everywhere, so captures line up.
    let (outputs, captured) = evaluation.cumulative(&TractBackend, &q, &tensors).unwrap();
    assert!(outputs[0].metrics.identical);
    assert!(captured.iter().all(|m| m.identical), "{captured:?}");

    let (outputs, captured) =
        evaluation.cumulative(&calibr8::tract::TractInt8Backend, &q, &tensors).unwrap();
    let out = &outputs[0].metrics;
    assert!(!out.identical, "tract-int8 lowered nothing: {out:?}");
    // Same scales, different arithmetic (int32 accumulation, requantized outputs): close.
    assert!(out.sqnr_db.unwrap() > 30.0 && out.cosine > 0.999, "{out:?}");
    assert!(out.top1_agreement.unwrap() > 0.99, "{out:?}");
    for (t, m) in tensors.iter().zip(&captured) {
        assert!(m.sqnr_db.unwrap() > 30.0, "{t}: {m:?}");
    }
}

/// Issue 12 item 2: the isolated per-layer runs and the greedy steps compute only the part of
/// the model downstream of the node they change, from cached tensors. Every metric, the
/// sensitivity order, each step and the final float set must be those of whole-model runs
/// (cache budget 0), bit for bit, for each `budgets` (small ones force refills and whole-model
/// fallbacks). The target is out of reach, so the search moves every node, one by one.
fn reuse_gives_whole_model_results(
    model: &OnnxModel,
    q: &QuantizedModel,
    eval: &dyn CalibrationData,
    budgets: &[usize],
) {
    let whole = Evaluation::new(&TractBackend, model, eval, None).unwrap().with_cache_budget(0);
    let expected = analyze_layers(&whole, &TractBackend, q, &mut |_| {}).unwrap();
    let all_int8 = expected.outputs[0].metrics.clone();
    let options = MixedOptions {
        target: AccuracyTarget::Sqnr { min_db: 500.0 },
        precision: Precision::Fp16,
        max_float_nodes: None,
    };
    let (search, mixed) =
        mixed_precision(&whole, &TractBackend, q, &expected.layers, &all_int8, &options).unwrap();
    assert_eq!(whole.cone_runs(), 0, "budget 0 runs whole models only");
    assert!(expected.layers.len() >= 3, "{}: too few int8 nodes to test", model.origin);
    assert_eq!(search.steps.len(), expected.layers.len() + 1);
    for &budget in budgets {
        let reusing =
            Evaluation::new(&TractBackend, model, eval, None).unwrap().with_cache_budget(budget);
        let analysis = analyze_layers(&reusing, &TractBackend, q, &mut |_| {}).unwrap();
        assert_eq!(analysis, expected, "{} per layer, budget {budget}", model.origin);
        let (got, got_model) =
            mixed_precision(&reusing, &TractBackend, q, &analysis.layers, &all_int8, &options)
                .unwrap();
        assert_eq!(got, search, "{} mixed precision, budget {budget}", model.origin);
        assert_eq!(got_model.node_precision, mixed.node_precision);
        assert!(reusing.cone_runs() > 0, "{}: budget {budget} ran no cone", model.origin);
    }
}

#[test]
fn issue_12_reuse_matches_whole_model_runs_on_digits() {
    let model = OnnxModel::load(MODEL).unwrap();
    // 360 samples in batches of 64: the last batch holds 40.
    let eval = NpySource::open(EVAL, 64).unwrap();
    reuse_gives_whole_model_results(&model, &quantize("minmax"), &eval, &[1 << 30, 1_000_000]);
}

#[test]
fn issue_12_reuse_matches_whole_model_runs_on_a_residual_network() {
    // Residual Adds (a cone's frontier has two tensors), a Shape/Slice/Concat/Pad shape path.
    let model = OnnxModel::load("tests/data/resnet_tiny.onnx").unwrap();
    let calib = NpySource::open("tests/data/resnet_tiny_calib.npy", 8).unwrap();
    let q = calibr8::quantize(&model, &calib, &QuantConfig::default()).unwrap();
    // 16 samples in batches of 6: 6, 6, 4.
    let eval = NpySource::open("tests/data/resnet_tiny_calib.npy", 6).unwrap();
    reuse_gives_whole_model_results(&model, &q, &eval, &[1 << 30, 300_000]);
}
