//! The `calibr8` binary: a successful run, the clipping warning, inspect. The bad-input
//! catalogue lives in `catalogue.rs`.
//! See: https://github.com/calibr8/calibr8/issues/2

mod common;
use common::*;

#[test]
fn quantize_writes_every_artifact_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = calibr8(&[
        "quantize",
        repo(MODEL).to_str().unwrap(),
        "--calib",
        repo("examples/digits/calib_batches").to_str().unwrap(),
        "--method",
        "mse",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for f in [
        "model.qdq.onnx",
        "calibration.cache",
        "nni_calibration_config.json",
        "nni3_calibration_config.json",
        "ranges.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing; stderr: {err}");
    }
    // The result on stdout; with --quiet, nothing on stderr.
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("calibrated 8 tensors on 256 samples"), "{text}");
    assert!(text.contains("conv1.weight") && text.contains("wrote "), "{text}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn heavy_clipping_warns_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = calibr8(&[
        "quantize",
        repo(MODEL).to_str().unwrap(),
        "--calib",
        repo(CALIB).to_str().unwrap(),
        "--method",
        "percentile",
        "--percentile",
        "90",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // The 90th percentile of |pixel| leaves the brightest pixels beyond amax.
    assert!(
        err.contains("warning:") && err.contains("of the calibration values of 'input'"),
        "{err}"
    );
    // It suggests other methods, never the one that clipped.
    let warning = err.lines().find(|l| l.contains("'input'")).unwrap();
    assert!(warning.contains("compare with --method minmax or mse or auto"), "{warning}");
    assert!(!warning.contains("--method percentile"), "{warning}");
}

#[test]
fn inspect_lists_inputs_outputs_and_quantizable_nodes() {
    let o = calibr8(&["inspect", repo(MODEL).to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0));
    assert!(out.contains("input [?, 1, 8, 8]"), "{out}");
    assert!(out.contains("logits [?, 10]"), "{out}");
    assert!(out.contains("conv1") && out.contains("conv1.weight (0)"), "{out}");
    assert!(out.contains("fc2") && out.contains("fc2.weight (0)"), "{out}");
}

#[test]
fn tensorrt_backend_without_tensorrt_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = calibr8(&[
        "quantize",
        repo(MODEL).to_str().unwrap(),
        "--calib",
        repo(CALIB).to_str().unwrap(),
        "--backend",
        "tensorrt",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    // No TensorRT here (nor in CI): the message says what to install, nothing is written.
    assert!(err.contains("libnvinfer.so.10") && err.contains("Install TensorRT 10"), "{err}");
    assert!(!out.exists());
}

#[test]
fn bias_correction_changes_the_exported_model_not_the_cache_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let run_dir = dir.path().join(name);
        let o = quantize_digits(
            &run_dir,
            &[&["--method", "minmax", "--per-tensor-weights"], extra].concat(),
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        let read = |f: &str| std::fs::read(run_dir.join("q").join(f)).unwrap();
        (said, read("model.qdq.onnx"), read("calibration.cache"))
    };
    let (plain_said, plain_model, plain_cache) = run("plain", &[]);
    let (said, model, cache) = run("corrected", &["--bias-correction"]);
    assert!(!plain_said.contains("bias correction"), "{plain_said}");
    // digits: conv1, conv2, fc1, fc2 all have a bias and per-tensor int8 weights.
    assert!(said.contains("bias correction: 4 Conv/Gemm bias(es) corrected"), "{said}");
    assert_ne!(model, plain_model, "the corrected biases are in the QDQ model");
    assert_eq!(cache, plain_cache, "the calibration cache holds ranges only");
}
