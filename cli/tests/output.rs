//! The CLI as users of ripgrep, ruff and ONNX Runtime's tools expect it: results on stdout
//! (text or `--format json`), logs and progress on stderr, `--quiet`, shell completions,
//! `--exclude` / `--op-types`, one spelling of the histogram mode, and bench's `--qdq` refusing
//! a QDQ export whose int8 rows would run in float.
//! See: https://github.com/calibr8/calibr8/issues/14

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Output};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(o: &Output) -> (String, String) {
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    (out, err)
}

fn json(o: &Output) -> serde_json::Value {
    let (out, _) = ok(o);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{out}"))
}

const EVAL: &str = "examples/digits/eval.npy";

#[test]
fn issue_14_quantize_result_on_stdout_logs_on_stderr_quiet_silences_them() {
    let dir = tempfile::tempdir().unwrap();
    // Percentile 90 clips: the warning goes to stderr, the table to stdout.
    let (out, err) =
        ok(&quantize_digits(dir.path(), &["--method", "percentile", "--percentile", "90"]));
    assert!(out.contains("calibrated 8 tensors") && out.contains("conv1.weight"), "{out}");
    assert!(out.contains("wrote ") && out.contains("model.qdq.onnx"), "{out}");
    assert!(!out.contains("warning"), "{out}");
    assert!(err.contains("warning:") && err.contains("'input'"), "{err}");
    assert!(!err.contains("conv1.weight"), "{err}");
    // Global --quiet, before or after the subcommand: stderr is empty, stdout unchanged.
    for quiet in [&["-q"][..], &["--quiet"][..]] {
        let o = quantize_digits(
            dir.path(),
            &[&["--method", "percentile", "--percentile", "90"], quiet].concat(),
        );
        let (out, err) = ok(&o);
        assert!(err.is_empty(), "{err}");
        assert!(out.contains("calibrated 8 tensors"), "{out}");
    }
    let mut args = vec!["--quiet"];
    let (model, calib, q) = (repo(MODEL), repo(CALIB), dir.path().join("q2"));
    args.extend(["quantize", model.to_str().unwrap(), "--calib", calib.to_str().unwrap()]);
    args.extend(["--out", q.to_str().unwrap()]);
    let (_, err) = ok(&calibr8(&args));
    assert!(err.is_empty(), "{err}");
}

#[test]
fn auto_search_and_bias_corrections_are_in_the_json_document() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--method", "auto", "--bias-correction", "--format", "json", "-q"];
    let doc = json(&quantize_digits(dir.path(), &args));
    let search = &doc["auto_search"];
    let candidates = search["candidates"].as_array().unwrap();
    assert!(candidates.iter().any(|c| c["name"] == "per-tensor"), "{search}");
    let best = candidates.iter().map(|c| c["sqnr_db"].as_f64().unwrap()).fold(f64::MIN, f64::max);
    assert!(search["sqnr_db"].as_f64().unwrap() >= best, "{search}");
    let corrected = doc["bias_corrections"].as_array().unwrap();
    assert_eq!(corrected.len(), 4, "conv1, conv2, fc1, fc2: {corrected:?}");
    // minmax: neither key.
    let plain = json(&quantize_digits(&dir.path().join("plain"), &["--format", "json", "-q"]));
    assert!(plain.get("auto_search").is_none() && plain.get("bias_corrections").is_none());
}

#[test]
fn issue_14_quantize_and_inspect_json() {
    let dir = tempfile::tempdir().unwrap();
    let doc = json(&quantize_digits(dir.path(), &["--format", "json", "-q"]));
    assert_eq!(doc["method"], "minmax");
    let tensors = doc["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), 8);
    let w = tensors.iter().find(|t| t["tensor"] == "conv1.weight").unwrap();
    assert_eq!(w["role"], "weight");
    assert_eq!(w["axis"], 0);
    assert_eq!(w["scale"].as_array().unwrap().len(), w["zero_point"].as_array().unwrap().len());
    assert!(doc["written"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().ends_with("ranges.json")));

    let doc = json(&calibr8(&["--format", "json", "inspect", repo(MODEL).to_str().unwrap()]));
    assert_eq!(doc["inputs"][0]["name"], "input");
    assert_eq!(doc["inputs"][0]["dims"][0], serde_json::Value::Null);
    let nodes: Vec<&str> = doc["quantizable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["conv1", "conv2", "fc1", "fc2"]);
    assert_eq!(doc["quantizable"][0]["weight"], "conv1.weight");
    assert_eq!(doc["quantizable"][0]["channel_axis"], 0);
}

#[test]
fn issue_14_compare_json_is_report_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c");
    let (model, calib, eval) = (repo(MODEL), repo(CALIB), repo(EVAL));
    let o = calibr8(&[
        "compare",
        model.to_str().unwrap(),
        "--calib",
        calib.to_str().unwrap(),
        "--eval",
        eval.to_str().unwrap(),
        "--method",
        "minmax",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let doc = json(&o);
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(doc, file);
    // Progress goes to stderr (a line per stage off a terminal), never to stdout.
    let err = text(&o.stderr);
    assert!(err.contains("ranking 1 methods on tract"), "{err}");
    assert!(err.contains("per-layer analysis"), "{err}");
}

#[test]
fn issue_14_bench_table_on_stdout_json_is_bench_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let model = repo(MODEL);
    let args = |format: &str| {
        vec![
            "bench".to_string(),
            model.to_str().unwrap().into(),
            "--backends".into(),
            "tract".into(),
            "--batch".into(),
            "1".into(),
            "--warmup".into(),
            "0".into(),
            "--runs".into(),
            "2".into(),
            "--format".into(),
            format.into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let o = Command::new(env!("CARGO_BIN_EXE_calibr8")).args(args("text")).output().unwrap();
    let (stdout, _) = ok(&o);
    assert!(stdout.contains("tract      fp32") && stdout.contains("skipped"), "{stdout}");
    std::fs::remove_dir_all(&out).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_calibr8")).args(args("json")).output().unwrap();
    let doc = json(&o);
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(doc["rows"], file["rows"]);
    assert_eq!(doc["rows"][0]["engine"], "tract");
}

#[test]
fn issue_14_completions_for_every_shell() {
    for (shell, needle) in [
        ("bash", "_calibr8()"),
        ("zsh", "#compdef calibr8"),
        ("fish", "complete -c calibr8"),
        ("elvish", "calibr8"),
        ("powershell", "calibr8"),
    ] {
        let (out, _) = ok(&calibr8(&["completions", shell]));
        assert!(out.contains(needle), "{shell}: {out}");
        if shell != "elvish" && shell != "powershell" {
            assert!(out.contains("quantize") && out.contains("exclude"), "{shell}");
        }
    }
    let o = calibr8(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("bash"), "{}", text(&o.stderr));
}

fn ranges(dir: &Path, name: &str, extra: &[&str]) -> serde_json::Value {
    let (model, calib) = (repo(MODEL), repo(CALIB));
    let out = dir.join(name);
    let mut args = vec!["quantize", model.to_str().unwrap(), "--calib", calib.to_str().unwrap()];
    args.push("-q");
    if !extra.contains(&"--method") && !extra.contains(&"--config") {
        args.extend(["--method", "minmax"]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(extra);
    ok(&calibr8(&args));
    serde_json::from_slice(&std::fs::read(out.join("ranges.json")).unwrap()).unwrap()
}

fn names(ranges: &serde_json::Value) -> Vec<String> {
    let text = ranges.to_string();
    ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]
        .into_iter()
        .filter(|w| text.contains(&format!("\"{w}\"")))
        .map(String::from)
        .collect()
}

#[test]
fn issue_14_exclude_and_op_types_map_onto_config_rules() {
    let dir = tempfile::tempdir().unwrap();
    let all = ranges(dir.path(), "all", &[]);
    assert_eq!(names(&all).len(), 4);
    let excluded = ranges(dir.path(), "ex", &["--exclude", "fc2", "conv1"]);
    assert_eq!(names(&excluded), ["conv2.weight", "fc1.weight"]);
    let convs = ranges(dir.path(), "conv", &["--op-types", "Conv2d"]);
    assert_eq!(names(&convs), ["conv1.weight", "conv2.weight"]);
    let both = ranges(dir.path(), "both", &["--op-types", "Gemm", "--exclude", "fc2"]);
    assert_eq!(names(&both), ["fc1.weight"]);
    // A node that is not there, or an op type that is not ONNX, is an error naming it.
    let (model, calib, out) = (repo(MODEL), repo(CALIB), dir.path().join("bad"));
    for (flag, value, needle) in
        [("--exclude", "fc9", "no node named 'fc9'"), ("--op-types", "Conv9d", "Conv9d")]
    {
        let o = calibr8(&[
            "quantize",
            model.to_str().unwrap(),
            "--calib",
            calib.to_str().unwrap(),
            flag,
            value,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(needle), "{}", text(&o.stderr));
        assert!(!out.exists());
    }
}

#[test]
fn issue_14_histogram_mode_has_one_spelling_and_accepts_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = ranges(dir.path(), "snake", &["--method", "mse", "--histogram", "two_pass"]);
    let b = ranges(dir.path(), "kebab", &["--method", "mse", "--histogram", "two-pass"]);
    assert_eq!(a, b);
    let config = dir.path().join("c.yaml");
    for spelling in ["two_pass", "two-pass"] {
        std::fs::write(&config, format!("method: mse\nhistogram: {spelling}\n")).unwrap();
        let c = ranges(dir.path(), spelling, &["--config", config.to_str().unwrap()]);
        assert_eq!(c, a, "{spelling}");
    }
    let (help, _) = ok(&calibr8(&["quantize", "--help"]));
    assert!(help.contains("two_pass") && !help.contains("two-pass"), "{help}");
}

// See: issue 14 — `bench --qdq` on a QDQ file without output ranges timed ResNet18's "tract int8"
// row entirely in float and reported it as int8.
#[test]
fn issue_14_bench_qdq_without_output_ranges_refuses_or_calibrates_them() {
    let dir = tempfile::tempdir().unwrap();
    ok(&quantize_digits(dir.path(), &["-q"]));
    let qdq = dir.path().join("q").join("model.qdq.onnx");
    let (model, calib) = (repo(MODEL), repo(CALIB));
    let out = dir.path().join("b");
    let bench = |extra: &[&str]| {
        let mut args = vec!["bench", model.to_str().unwrap(), "--qdq", qdq.to_str().unwrap()];
        args.extend(["--backends", "tract", "--batch", "2", "--warmup", "0", "--runs", "1"]);
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(extra);
        calibr8(&args)
    };
    let o = bench(&[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for needle in ["4 of its 4 int8 nodes have no Q/DQ on their output", "conv1 (Conv)", "--calib"]
    {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    assert!(!out.exists());
    // With --calib the missing output ranges are calibrated; the weights keep the QDQ scales.
    let o = bench(&["--calib", calib.to_str().unwrap()]);
    let (stdout, err) = ok(&o);
    assert!(err.contains("calibrated the 4 output range(s) missing"), "{err}");
    assert!(err.contains("QOperator lowering: 4 of 4"), "{err}");
    assert!(stdout.contains("tract      int8 "), "{stdout}");
}
