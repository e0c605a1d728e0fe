//! `--backend ort` end to end: calibration through ONNX Runtime gives tract's ranges, compare
//! runs the int8 model on ONNX Runtime against tract's fp32, and bench has ONNX Runtime rows.
//! These need the real ONNX Runtime (CI installs it): where it is missing they fail, saying so.
//! See: https://github.com/calibr8/calibr8/issues/13

mod common;
use common::*;

use std::path::Path;
use std::process::Output;

const EVAL: &str = "examples/digits/eval.npy";

/// `calibr8 quantize` on the digits model with `flags`, writing `out`.
fn quantize_digits(flags: &[&str], out: &Path) -> Output {
    let (model, calib) = (repo(MODEL), repo(CALIB));
    let mut args = vec!["quantize", model.to_str().unwrap(), "--calib", calib.to_str().unwrap()];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    calibr8(&args)
}

fn quantize(backend: &str, out: &Path) -> serde_json::Value {
    let o = quantize_digits(&["--method", "minmax", "--backend", backend, "--quiet"], out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "calibr8 quantize --backend {backend} failed (ONNX Runtime is needed: pip install \
         onnxruntime):\n{}",
        stderr(&o)
    );
    serde_json::from_slice(&std::fs::read(out.join("ranges.json")).unwrap()).unwrap()
}

#[test]
fn issue_13_quantize_through_ort_gives_tracts_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let tract = quantize("tract", &dir.path().join("tract"));
    let ort = quantize("ort", &dir.path().join("ort"));
    let (tract, ort) = (tract.as_object().unwrap(), ort.as_object().unwrap());
    assert_eq!(tract.keys().collect::<Vec<_>>(), ort.keys().collect::<Vec<_>>());
    for (name, t) in tract {
        for field in ["min", "max", "amax", "scale"] {
            let a: Vec<f64> = serde_json::from_value(t[field].clone()).unwrap();
            let b: Vec<f64> = serde_json::from_value(ort[name][field].clone()).unwrap();
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-5 * x.abs().max(1e-6), "{name} {field}: {x} vs {y}");
            }
        }
    }
    // The TensorRT cache holds the same tensors with the same scales (to float rounding: the
    // two engines sum in different orders) whichever engine captured.
    let cache = |b: &str| {
        let text = std::fs::read_to_string(dir.path().join(b).join("calibration.cache")).unwrap();
        calibr8::export::parse_calibration_cache(&text).unwrap().scales
    };
    let (a, b) = (cache("tract"), cache("ort"));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, x) in &a {
        let y = b[name];
        assert!((x - y).abs() <= 1e-5 * x.abs(), "cache {name}: {x} vs {y}");
    }
}

#[test]
fn issue_13_compare_runs_the_int8_model_on_ort() {
    let (model, calib, eval) = (repo(MODEL), repo(CALIB), repo(EVAL));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let o = calibr8(&[
        "compare",
        "--out",
        out.to_str().unwrap(),
        model.to_str().unwrap(),
        "--calib",
        calib.to_str().unwrap(),
        "--eval",
        eval.to_str().unwrap(),
        "--method",
        "minmax",
        "--backend",
        "ort",
        "--quiet",
    ]);
    let err = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    // 0 or 1 (accuracy target met or not); 2 would be an error.
    assert!(matches!(o.status.code(), Some(0 | 1)), "{err}");
    // tract runs the reference, ONNX Runtime the int8 model: both named in the report.
    assert!(
        err.contains("Reference: float model on `tract`")
            && err.contains("Candidate: quantized model on `ort`"),
        "{err}"
    );
}

#[test]
fn issue_13_bench_has_onnx_runtime_rows() {
    let (model, calib) = (repo(MODEL), repo(CALIB));
    let o = calibr8(&[
        "bench",
        model.to_str().unwrap(),
        "--calib",
        calib.to_str().unwrap(),
        "--method",
        "minmax",
        "--backends",
        "ort",
        "--batch",
        "4",
        "--warmup",
        "1",
        "--runs",
        "3",
    ]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{err}");
    // The TensorRT preset's export and the CPU preset's, calibrated for the row.
    for row in ["ort        fp32", "ort        int8-qdq", "ort        int8-cpu-preset"] {
        let line =
            out.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("{row}:\n{out}"));
        assert!(line.ends_with(" ok"), "{line}\n{err}");
    }
}

#[test]
fn issue_13_quantize_preset_cpu_writes_the_onnx_runtime_layout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cpu");
    let o = quantize_digits(&["--method", "minmax", "--preset", "cpu-avx2"], &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let qdq = calibr8::OnnxModel::load(out.join("model.qdq.onnx")).unwrap();
    let kernels = calibr8::ort::cpu_kernels(&qdq, Some(1)).unwrap();
    assert_eq!(kernels.float_count(), 0, "{kernels}: {:?}", kernels.float);
    assert!(kernels.int8_count() >= 4, "{kernels}");
    // A bad preset names the flag and the choices.
    let o = quantize_digits(&["--preset", "gpu"], &out);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("--preset") && err.contains("cpu-avx2"), "{err}");
}
