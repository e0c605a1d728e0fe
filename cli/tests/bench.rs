//! `calibr8 bench` end to end on the digits example: the table, bench.json / bench.md, the two
//! pictures (their numbers checked against bench.json), and bad inputs failing with exit code 2.
//! See: https://github.com/calibr8/calibr8/issues/5

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

#[test]
fn issue_5_bench_times_tract_rows_and_writes_json_markdown_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let (model, calib) = (repo(MODEL), repo(CALIB));
    let o = calibr8(&[
        "bench",
        model.to_str().unwrap(),
        "--calib",
        calib.to_str().unwrap(),
        "--method",
        "minmax",
        "--backends",
        "tract,tensorrt",
        "--batch",
        "1,4",
        "--warmup",
        "1",
        "--runs",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("QOperator lowering: 4 of 4"), "{stderr}");
    for row in ["tract      fp32", "tract      int8 ", "tract      int8-qdq"] {
        assert_eq!(stdout.matches(row).count(), 2, "{row:?} once per batch:\n{stdout}");
    }
    // The kernels tract chose: integer ones for int8, f32 ones for fp32.
    let kernels = |label: &str| {
        let line = stdout.lines().find(|l| l.starts_with(&format!("{label} kernels: "))).unwrap();
        line.split(": ").nth(1).unwrap().split(", ").map(String::from).collect::<Vec<_>>()
    };
    assert!(kernels("tract int8").iter().all(|k| k.contains("_i32_")), "{stdout}");
    assert!(kernels("tract fp32").iter().all(|k| k.contains("_f32_")), "{stdout}");
    // Where TensorRT is missing: one row that says so (never a silent CPU number).
    let trt_missing = calibr8::backend_for_name("tensorrt").is_err();
    if trt_missing {
        assert!(
            stdout.contains("tensorrt   fp32/fp16/int8") && stdout.contains("not installed: "),
            "{stdout}"
        );
    }

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(json["runs"], 3);
    assert_eq!(json["qoperator"]["lowered"].as_array().unwrap().len(), 4);
    let rows = json["rows"].as_array().unwrap();
    let median = |precision: &str, batch: u64| {
        let r = rows.iter().find(|r| r["precision"] == precision && r["batch"] == batch).unwrap();
        let (min, med, max) = (
            r["min_ms"].as_f64().unwrap(),
            r["median_ms"].as_f64().unwrap(),
            r["max_ms"].as_f64().unwrap(),
        );
        assert!(0.0 < min && min <= med && med <= max, "{r}");
        let throughput = r["samples_per_s"].as_f64().unwrap();
        assert!((throughput - batch as f64 / (med / 1e3)).abs() < 1e-6 * throughput, "{r}");
        med
    };
    let (fp32, int8) = (median("fp32", 4), median("int8", 4));
    if trt_missing {
        let trt = rows.iter().find(|r| r["engine"] == "tensorrt").unwrap();
        let status = trt["status"].as_str().unwrap();
        assert!(trt["median_ms"].is_null() && status.starts_with("not installed"), "{trt}");
    }

    // The int8 features reported are the CPU's (read here independently), with the warning
    // exactly when an x86_64 CPU has none of them.
    if let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") {
        let flags: Vec<&str> =
            info.lines().find(|l| l.starts_with("flags")).unwrap().split_whitespace().collect();
        let expected: Vec<&str> = ["avx512_vnni", "avx_vnni", "amx_int8"]
            .into_iter()
            .filter(|f| flags.contains(f))
            .collect();
        assert_eq!(json["machine"]["int8_features"], serde_json::json!(expected));
        let warned = stdout.contains("note: this CPU has no AVX-512 VNNI");
        assert_eq!(warned, expected.is_empty() && cfg!(target_arch = "x86_64"), "{stdout}");
    }

    let md = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert!(md.contains("| tract | int8 | 4 |") && md.contains("![speed-up](speedup.png)"), "{md}");
    for f in ["latency.png", "speedup.png"] {
        let png = std::fs::read(out.join(f)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000, "{f}");
    }
    let latency = std::fs::read_to_string(out.join("latency.svg")).unwrap();
    for text in ["median latency", "latency per batch (ms", "batch 1", "batch 4", "tract int8-qdq"]
    {
        assert!(latency.contains(text), "latency.svg lacks {text:?}");
    }
    // Each engine pair once: the cell of tract int8 (row) against tract fp32 (column) at
    // batch 4 is column latency ÷ row latency, fp32 ÷ int8.
    let speedup = std::fs::read_to_string(out.join("speedup.svg")).unwrap();
    let cell = format!("{:.2}×", fp32 / int8);
    assert!(speedup.contains(&cell), "speedup.svg lacks {cell}");
    assert!(
        speedup.contains("· batch 4") && speedup.contains("column latency ÷ row latency"),
        "{speedup}"
    );
}

#[test]
fn issue_5_bench_rejects_bad_input_with_exit_2_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let file = dir.path().join("a_file");
    std::fs::write(&file, b"x").unwrap();
    let model = repo(MODEL);
    let (m, o) = (model.to_str().unwrap(), out.to_str().unwrap());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["missing.onnx"], "missing.onnx"),
        (vec![m, "--batch", "0"], "--batch"),
        (vec![m, "--runs", "0"], "--runs"),
        (vec![m, "--backends", "onnxruntime"], "unknown backend 'onnxruntime'"),
        (vec![m, "--calib", "nope.npy"], "nope.npy"),
        (vec![m, "--qdq", "nope.qdq.onnx"], "nope.qdq.onnx"),
        (vec![m, "--qdq", m], "no DequantizeLinear"),
        // --qdq with --calib calibrates the output ranges a QDQ export lacks (issue 14); a
        // missing file is still an error naming it.
        (vec![m, "--qdq", m, "--calib", "x.npy"], "no DequantizeLinear"),
        (vec![m, "--out", file.to_str().unwrap()], "is a file"),
    ];
    for (args, expect) in cases {
        let mut full = vec!["bench"];
        full.extend(&args);
        if !args.contains(&"--out") {
            full.extend(["--out", o]);
        }
        if !args.contains(&"--runs") {
            full.extend(["--runs", "1", "--warmup", "0"]);
        }
        let r = calibr8(&full);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: stderr lacks {expect:?}: {err}");
        assert!(!out.exists(), "{args:?} left {out:?}");
    }
}

#[test]
fn issue_5_bench_reads_int8_scales_from_a_qdq_export() {
    // `calibr8 quantize` with `_output_` ranges, then `bench --qdq` on its model.qdq.onnx: the same
    // QOperator model as `bench --calib` with that config (ONNX checked by python's onnx).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "method: minmax\nconfig_list:\n  - op_types: [Conv, Gemm]\n    target_names: [_input_, weight, _output_]\n    granularity: per_channel\n",
    )
    .unwrap();
    let (model, calib) = (repo(MODEL), repo(CALIB));
    let (m, c, cfg) = (model.to_str().unwrap(), calib.to_str().unwrap(), config.to_str().unwrap());
    let quant = dir.path().join("quant");
    let o = calibr8(&[
        "quantize",
        m,
        "--calib",
        c,
        "--config",
        cfg,
        "--quiet",
        "--out",
        quant.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));

    let bench = |extra: &[&str], out: &Path| {
        let mut args =
            vec!["bench", m, "--backends", "tract", "--batch", "2", "--warmup", "0", "--runs", "1"];
        args.extend(extra);
        args.extend(["--out", out.to_str().unwrap()]);
        let o = calibr8(&args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(0), "{err}");
        err
    };
    let (from_qdq, from_calib) = (dir.path().join("from_qdq"), dir.path().join("from_calib"));
    let qdq = quant.join("model.qdq.onnx");
    let err = bench(&["--qdq", qdq.to_str().unwrap()], &from_qdq);
    assert!(err.contains("QOperator lowering: 4 of 4"), "{err}");
    bench(&["--calib", c, "--config", cfg], &from_calib);

    let script = r#"
import sys, onnx, numpy as np
from onnx import numpy_helper
a, b = (onnx.load(p) for p in sys.argv[1:3])
onnx.checker.check_model(a, full_check=True)
ia = {t.name: numpy_helper.to_array(t) for t in a.graph.initializer}
ib = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
assert ia.keys() == ib.keys(), set(ia) ^ set(ib)
assert [n.op_type for n in a.graph.node] == [n.op_type for n in b.graph.node]
for k in ia:
    x, y = ia[k], ib[k]
    assert x.dtype == y.dtype and x.shape == y.shape, k
    if x.dtype.kind == "f":
        # Scales equal up to the f32 rounding of amax = 127 * scale on the way back.
        assert np.allclose(x, y, rtol=1e-6, atol=0), (k, x, y)
    else:
        assert np.array_equal(x, y), k
print(len(ia), "initializers agree")
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(from_qdq.join("model.qop.onnx"))
        .arg(from_calib.join("model.qop.onnx"))
        .output()
        .expect("python3 with onnx and numpy");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn issue_5_bench_with_no_installed_backend_reports_why_and_draws_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let model = repo(MODEL);
    // TensorRT pointed at a library that cannot exist: not installed, whatever this machine has.
    let missing = dir.path().join("no-such-dir/libnvinfer.so.10");
    let o = Command::new(env!("CARGO_BIN_EXE_calibr8"))
        .args(["bench", model.to_str().unwrap(), "--backends", "tensorrt", "--out"])
        .arg(&out)
        .env("CALIBR8_TENSORRT_LIB", &missing)
        .output()
        .expect("runs calibr8");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let status = rows[0]["status"].as_str().unwrap();
    assert!(status.contains("not installed") && status.contains("no-such-dir"), "{}", rows[0]);
    assert!(!out.join("latency.png").exists() && !out.join("speedup.svg").exists());
    let md = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert!(md.contains("not installed") && !md.contains("latency.png"), "{md}");
}

#[test]
fn issue_5_bench_times_burn_fp32_and_simulated_int8() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (model, calib) = (repo(MODEL), repo(CALIB));
    let o = calibr8(&[
        "bench",
        model.to_str().unwrap(),
        "--calib",
        calib.to_str().unwrap(),
        "--backends",
        "burn",
        "--batch",
        "4",
        "--warmup",
        "1",
        "--runs",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    let labels: Vec<String> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|r| assert_eq!(r["status"], "ok", "{r}"))
        .map(|r| format!("{} {}", r["engine"].as_str().unwrap(), r["precision"].as_str().unwrap()))
        .collect();
    assert_eq!(labels, ["burn fp32", "burn int8-qdq"]);
    assert!(out.join("latency.png").exists() && out.join("speedup.svg").exists());
}
