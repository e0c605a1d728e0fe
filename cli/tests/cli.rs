//! The `calibr8` binary: a successful run, the clipping warning, and a catalogue of bad inputs
//! that must each fail with exit code 2, a message naming what is wrong, and no output files.
//! See: https://github.com/calibr8/calibr8/issues/2

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn calibr8(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calibr8")).args(args).output().expect("runs calibr8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn npy_f32(shape: &[usize], values: impl Fn(usize) -> f32) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let a = ndarray::ArrayD::from_shape_vec(shape.to_vec(), (0..n).map(values).collect()).unwrap();
    calibr8::core::npy::npy_bytes_f32(&a)
}

const MODEL: &str = "examples/digits/digits_cnn.onnx";
const CALIB: &str = "examples/digits/calib.npy";

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
    assert!(err.contains("calibrated 8 tensors on 256 samples"), "{err}");
    assert!(err.contains("conv1.weight"), "{err}");
    assert!(!err.contains("warning"), "{err}");
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
        "--quiet",
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

/// Runs `quantize` with `model`, `calib` and extra args; asserts exit 2, every `expect`ed
/// fragment in stderr, and that the output folder was never created.
fn assert_fails(model: &Path, calib: &Path, extra: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args =
        vec!["quantize", model.to_str().unwrap(), "--calib", calib.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    let has_out = extra.contains(&"--out");
    if !has_out {
        args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    }
    let o = calibr8(&args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.starts_with("calibr8 failed"), "{err}");
    for e in expect {
        assert!(err.contains(e), "expected '{e}' in: {err}");
    }
    assert!(!out.exists(), "output folder created despite the error");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_inputs_fail_clearly_without_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo(MODEL);
    let calib = repo(CALIB);
    let bytes = std::fs::read(&model).unwrap();

    // Truncated and garbage ONNX.
    let truncated = dir.path().join("truncated.onnx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails(&truncated, &calib, &[], &["truncated.onnx", "not a valid ONNX model"]);
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"this is not protobuf at all \xff\xff\xff\xff").unwrap();
    assert_fails(&garbage, &calib, &[], &["garbage.onnx", "not a valid ONNX model"]);
    assert_fails(&dir.path().join("missing.onnx"), &calib, &[], &["missing.onnx"]);

    // Data shaped for another model.
    let wrong = dir.path().join("wrong_shape.npy");
    std::fs::write(&wrong, npy_f32(&[4, 1, 9, 9], |i| i as f32)).unwrap();
    assert_fails(
        &model,
        &wrong,
        &[],
        &["wrong_shape.npy", "does not fit input 'input'", "[?, 1, 8, 8]"],
    );

    // An empty data folder.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_fails(&model, &empty, &[], &["empty", "no .npy or .npz files"]);

    // NaN in the data: named tensor.
    let nan = dir.path().join("nan.npy");
    std::fs::write(&nan, npy_f32(&[4, 1, 8, 8], |i| if i == 70 { f32::NAN } else { 0.5 })).unwrap();
    assert_fails(&model, &nan, &[], &["'input'", "NaN"]);

    // Not a .npy file at all.
    let text = dir.path().join("text.npy");
    std::fs::write(&text, "1,2,3").unwrap();
    assert_fails(&model, &text, &[], &["text.npy", "is not a .npy array"]);

    // An op type that does not exist, in a config file.
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "config_list:\n  - op_types: [Conv2D]\n").unwrap();
    assert_fails(
        &model,
        &calib,
        &["--config", config.to_str().unwrap()],
        &["config_list[0].op_types", "Conv2D"],
    );
    // A node name the model lacks.
    std::fs::write(&config, "config_list:\n  - op_names: [conv9]\n").unwrap();
    assert_fails(
        &model,
        &calib,
        &["--config", config.to_str().unwrap()],
        &["conv9", "calibr8 inspect"],
    );
    // An unknown key.
    std::fs::write(&config, "methd: entropy\n").unwrap();
    assert_fails(
        &model,
        &calib,
        &["--config", config.to_str().unwrap()],
        &["config.yaml", "methd"],
    );
    // A bad percentile.
    assert_fails(
        &model,
        &calib,
        &["--method", "percentile", "--percentile", "150"],
        &["percentile", "150"],
    );

    // An output folder that cannot be created (its parent is a file).
    let file = dir.path().join("a_file");
    std::fs::write(&file, "x").unwrap();
    let bad_out = file.join("out");
    assert_fails(&model, &calib, &["--out", bad_out.to_str().unwrap()], &["a_file"]);
    assert!(!bad_out.exists());
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
