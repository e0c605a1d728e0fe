//! `calibr8 compare` end to end on the bundled digits example: the report, the plots, a
//! mixed-precision model that meets a target the all-int8 model misses (checked by ONNX Runtime),
//! exit codes, bad inputs, and the TensorRT plan of a mixed model (CPU only).
//! See: https://github.com/calibr8/calibr8/issues/5

mod common;
use common::*;

use calibr8::prelude::*;
use calibr8::tensorrt::{LoweringMode, TrtOptions, TrtPlan};
use std::path::Path;
use std::process::{Command, Output};

const EVAL: &str = "examples/digits/eval.npy";
const LABELS: &str = "examples/digits/eval_labels.npy";

/// `calibr8 compare` on the digits example with `extra` flags into `out`.
fn compare(extra: &[&str], out: &Path) -> Output {
    let (model, calib, eval) = (repo(MODEL), repo(CALIB), repo(EVAL));
    let mut args = vec![
        "compare",
        model.to_str().unwrap(),
        "--calib",
        calib.to_str().unwrap(),
        "--eval",
        eval.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_calibr8")).args(args).output().expect("runs calibr8")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A 1-D int64 `.npy` (numpy's exact header layout).
fn npy_i64(values: &[i64]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<i8', 'fortran_order': False, 'shape': ({},), }}", values.len());
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    bytes
}

#[test]
fn compare_writes_report_plots_and_a_mixed_model_meeting_a_missed_target() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plain");
    let labels = repo(LABELS);
    let o = compare(&["--labels", labels.to_str().unwrap()], &out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let report = json(&out.join("report.json"));
    let methods = report["methods"].as_array().unwrap();
    let names: Vec<&str> = methods.iter().map(|m| m["method"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["auto", "ema", "entropy", "minmax", "mse", "percentile"]);
    let ranks: Vec<u64> = methods.iter().map(|m| m["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, [1, 2, 3, 4, 5, 6]);
    // Ranked by top-1 accuracy; a method one sample behind the best is tied with it, and the tie
    // goes to agreement with fp32, then SQNR. See: issue 14 — minmax ranked first on one sample
    // of 360 while mse agrees with fp32 on every sample.
    let metric = |m: &serde_json::Value, k: &str| m["outputs"][0]["metrics"][k].as_f64().unwrap();
    let best_acc = methods.iter().map(|m| metric(m, "top1_accuracy")).fold(0.0, f64::max);
    let tied: Vec<&serde_json::Value> = methods
        .iter()
        .filter(|m| best_acc - metric(m, "top1_accuracy") <= 1.0 / 360.0 + 1e-12)
        .collect();
    let best_agree = tied.iter().map(|m| metric(m, "top1_agreement")).fold(0.0, f64::max);
    assert_eq!(metric(&methods[0], "top1_agreement"), best_agree, "{report}");
    // auto picks per tensor among the others' ranges, mse among them: one of the two leads.
    let first = methods[0]["method"].as_str().unwrap();
    assert!(["auto", "mse"].contains(&first), "{first} ranked first: {report}");
    assert_eq!(report["chosen_method"], methods[0]["method"]);
    assert_eq!(report["layers"].as_array().unwrap().len(), 4);
    assert_eq!(report["tensors"].as_array().unwrap().len(), 7);
    assert!(report["mixed_precision"].is_null());
    assert!((report["reference_top1_accuracy"].as_f64().unwrap() - 353.0 / 360.0).abs() < 1e-12);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in ["## Method ranking", "## Per layer", "| conv2 | Conv |", "![", "layers_sqnr.png"]
    {
        assert!(md.contains(needle), "report.md lacks {needle}:\n{md}");
    }
    for plot in ["layers_sqnr", "methods_sqnr", "methods_top1"] {
        let png = std::fs::read(out.join(format!("{plot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{plot}.png");
        let svg = std::fs::read_to_string(out.join(format!("{plot}.svg"))).unwrap();
        assert!(svg.contains("SQNR") || svg.contains("top-1"), "{plot}.svg has no axis label");
    }
    assert!(!out.join("model.qdq.onnx").exists(), "no target, no mixed model");
    // The summary on stdout, nothing on stderr with --quiet.
    let text = stdout(&o);
    assert!(text.contains(&format!("recommended: {first}")), "{text}");
    assert!(text.contains("ties, broken by top-1 agreement"), "{text}");
    assert!(err.is_empty(), "--quiet, yet stderr: {err}");

    // A target 2 dB above the all-int8 model's SQNR: missed at step 0, met by mixed precision.
    let sqnr = report["all_int8"][0]["metrics"]["sqnr_db"].as_f64().unwrap();
    let target = format!("{:.2}", sqnr + 2.0);
    let mixed_out = dir.path().join("mixed");
    let o = compare(&["--labels", labels.to_str().unwrap(), "--target-sqnr", &target], &mixed_out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let mixed = &json(&mixed_out.join("report.json"))["mixed_precision"];
    assert_eq!(mixed["met"], true, "{mixed}");
    assert_eq!(mixed["steps"][0]["met"], false, "{mixed}");
    assert_eq!(mixed["float_precision"], "fp16");
    let steps = mixed["steps"].as_array().unwrap();
    assert!(steps.last().unwrap()["metrics"]["sqnr_db"].as_f64().unwrap() >= sqnr + 1.99);
    let text = stdout(&o);
    assert!(text.contains("Target met"), "{text}");
    // tract runs the kept layers in fp32 and the report says so.
    assert_eq!(mixed["measured_precision"], "fp32");
    assert!(text.contains("fp16 requested, tract runs fp32"), "{text}");
    assert!(text.contains("in fp32") && !text.contains("in fp16 "), "{text}");
    let png = std::fs::read(mixed_out.join("mixed_steps.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(std::fs::read_to_string(mixed_out.join("mixed_steps.svg"))
        .unwrap()
        .contains("SQNR (dB"));
    // The mixed model passes onnx.checker (full) and runs in ONNX Runtime.
    let qdq = mixed_out.join("model.qdq.onnx");
    let status = Command::new("python3")
        .arg(repo("tests/ort_check.py"))
        .args([qdq.as_path(), repo(EVAL).as_path(), dir.path().join("y.npy").as_path()])
        .status()
        .expect("python3 with onnx and onnxruntime");
    assert!(status.success());
    let model = OnnxModel::load(&qdq).unwrap();
    let float_node = mixed["float_nodes"][0].as_str().unwrap();
    let node = model.graph().node.iter().find(|n| n.name == float_node).unwrap();
    assert!(node.input.iter().all(|i| !i.ends_with(".dequantized")), "{node:?}");
}

#[test]
fn compare_exits_1_when_the_target_is_not_met() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o =
        compare(&["--method", "mse", "--target-cosine", "1.0", "--max-float-layers", "1"], &out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(stdout(&o).contains("Target NOT met after keeping 1 node(s)"), "{}", stdout(&o));
    let report = json(&out.join("report.json"));
    assert_eq!(report["mixed_precision"]["met"], false);
    assert_eq!(report["methods"].as_array().unwrap().len(), 1);
    // Without labels, top-1 is agreement with the float model.
    assert!(report["methods"][0]["outputs"][0]["metrics"]["top1_accuracy"].is_null());
    assert!(report["methods"][0]["outputs"][0]["metrics"]["top1_agreement"].is_f64());
}

#[test]
fn compare_bad_inputs_exit_2_naming_the_culprit_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short_labels.npy");
    std::fs::write(&short, npy_i64(&[1, 2, 3])).unwrap();
    let mlp = repo("tests/data/mlp_gemm_calib.npy");
    let eval = repo(EVAL);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--labels", short.to_str().unwrap()], "short_labels.npy: holds 3 labels"),
        (vec!["--labels", eval.to_str().unwrap()], "labels must be integer"),
        (vec!["--target-cosine", "0.9", "--target-sqnr", "30"], "cannot be used with"),
        (vec!["--max-float-layers", "2"], "needs a --target"),
        (vec!["--target-cosine", "2"], "lies in [-1, 1]"),
    ];
    for (extra, needle) in cases {
        let out = dir.path().join("out");
        let o = compare(&extra, &out);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: expected '{needle}' in {err}");
        assert!(!out.exists(), "{extra:?} left {}", out.display());
    }
    // Evaluation data that does not fit the model.
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_calibr8"))
        .args(["compare", repo(MODEL).to_str().unwrap(), "--calib", repo(CALIB).to_str().unwrap()])
        .args(["--eval", mlp.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("mlp_gemm_calib.npy") && err.contains("does not fit input"), "{err}");
    assert!(!out.exists());
}

#[test]
fn tensorrt_plan_constrains_the_layers_mixed_precision_keeps_in_float() {
    let model = OnnxModel::load(repo(MODEL)).unwrap();
    let data = NpySource::open(repo(CALIB), 64).unwrap();
    let mut q = calibr8::quantize(&model, &data, &QuantConfig::default()).unwrap();
    q.keep_in_float(&["conv1", "fc2"], Precision::Fp16).unwrap();

    let plan = TrtPlan::new(Lowering::Quantized(&q), &TrtOptions::default()).unwrap();
    let constrained: Vec<(&str, Precision)> =
        plan.layers.iter().map(|l| (l.layer.as_str(), l.precision)).collect();
    assert_eq!(constrained, [("conv1", Precision::Fp16), ("fc2", Precision::Fp16)]);
    let fc2 = plan.layers.iter().find(|l| l.layer == "fc2").unwrap();
    assert_eq!(fc2.outputs, ["logits"]);
    assert!(plan.flags.int8 && plan.flags.fp16 && plan.flags.prefer_precision_constraints);
    // The int8 layers keep their ranges; conv1's input is no longer quantized.
    assert!(plan.ranges.contains_key("relu1_out"));
    assert!(!plan.ranges.contains_key("input"));

    let options = TrtOptions { mode: LoweringMode::Explicit, ..TrtOptions::default() };
    let plan = TrtPlan::new(Lowering::Quantized(&q), &options).unwrap();
    let qdq = OnnxModel::from_bytes(&plan.onnx, "plan").unwrap();
    for name in ["conv1", "fc2"] {
        let node = qdq.graph().node.iter().find(|n| n.name == name).unwrap();
        assert!(node.input.iter().all(|i| !i.ends_with(".dequantized")), "{node:?}");
    }
    let conv2 = qdq.graph().node.iter().find(|n| n.name == "conv2").unwrap();
    assert_eq!(conv2.input[0], "relu1_out.dequantized");
    assert!(plan.notes.iter().any(|n| n.contains("conv1, fc2")), "{:?}", plan.notes);
}

#[test]
fn compare_two_backends_reports_the_engine_difference_on_the_same_int8_model() {
    let dir = tempfile::tempdir().unwrap();
    // tract-int8 lowers to QLinearConv / QLinearMatMul, which need output ranges too.
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "config_list:\n  - op_types: [Conv, Gemm]\n    target_names: [_input_, weight, _output_]\n    \
         quant_scheme: symmetric\n    granularity: per_channel\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = compare(
        &["--method", "minmax", "--config", config.to_str().unwrap(), "--backend", "tract-int8"],
        &out,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let report = json(&out.join("report.json"));
    assert_eq!(report["backend"], "tract-int8");
    let b = &report["backend_vs_backend"];
    assert_eq!(
        (b["reference"].as_str(), b["candidate"].as_str()),
        (Some("tract"), Some("tract-int8"))
    );
    let tensors: Vec<&str> =
        b["tensors"].as_array().unwrap().iter().map(|t| t["tensor"].as_str().unwrap()).collect();
    assert_eq!(tensors.len(), report["tensors"].as_array().unwrap().len() - 1, "{tensors:?}");
    let out_sqnr = b["outputs"][0]["metrics"]["sqnr_db"].as_f64().unwrap();
    assert!(out_sqnr > 30.0, "{b}");
    assert!(stdout(&o).contains("tract-int8 vs tract on the same int8 model"), "{}", stdout(&o));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## tract-int8 vs tract on the same int8 model"), "{md}");
}
