//! NNI interop against NNI's own code: calibr8 quantizes a model exported with torch's names, then
//! tests/nni/check_nni.py runs NNI 2.10.1's and 3.0's TensorRT speed-up code (from the wheels,
//! unzipped) with a recording TensorRT stand-in and checks every range NNI sets against
//! ranges.json. Needs python3 with numpy and onnx, and the two wheels in third_party/nni (or
//! CALIBR8_NNI_WHEELS): `pip download --no-deps nni==X -d third_party/nni` for X in 2.10.1 and 3.0.
//! See: https://github.com/calibr8/calibr8/issues/15

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

fn quantize(model: &str, method: &str, extra: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args = vec![
        "quantize",
        model,
        "--calib",
        "tests/nni/torch_named_calib.npy",
        "--method",
        method,
        // Not --quiet: the NNI summary is a log line on stderr.
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let full: Vec<String> = args
        .iter()
        .map(
            |a| if a.starts_with("tests/") { repo(a).display().to_string() } else { a.to_string() },
        )
        .collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let o = calibr8(&full);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    (dir, err)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

const MODULES_WITH_STEM_RELU: [&str; 7] =
    ["conv1", "fc", "layer1.0.conv1", "layer1.0.conv2", "layer1.0.relu", "maxpool", "relu"];

#[test]
fn issue_15_torch_scope_names_become_module_keys_with_complete_entries() {
    let (dir, err) = quantize("tests/nni/torch_named.onnx", "minmax", &[]);
    let out = dir.path().join("out");
    let v2 = json(&out.join("nni_calibration_config.json"));
    assert_eq!(keys(&v2), MODULES_WITH_STEM_RELU, "{err}");
    for (module, entry) in v2.as_object().unwrap() {
        let weighted = module.contains("conv") || module == "fc";
        let mut want = vec![
            "input_bits",
            "output_bits",
            "tracked_max_input",
            "tracked_max_output",
            "tracked_min_input",
            "tracked_min_output",
        ];
        if weighted {
            want.extend(["max_weight", "min_weight", "weight_bits"]);
        }
        want.sort();
        assert_eq!(keys(entry), want, "{module}");
    }
    let v3 = json(&out.join("nni3_calibration_config.json"));
    assert_eq!(keys(&v3), keys(&v2));
    assert_eq!(keys(&v3["fc"]), ["_input_0", "_output_0", "weight"]);
    // The Add and the pooling/flatten tail are not NNI module types, and say so.
    assert!(err.contains("NNI: 7 modules"), "{err}");
    assert!(err.contains("layer1.0.relu (ReLU) is called 2 times"), "{err}");
}

#[test]
fn issue_15_torch_1_12_numbered_names_need_the_module_map() {
    let (_dir, err) = quantize("tests/nni/torch_named_v112.onnx", "minmax", &[]);
    // Only the Linear keeps its parameter name; every other node is listed with the remedy.
    assert!(err.contains("NNI: 1 modules"), "{err}");
    assert!(err.contains("left out Conv_0 (Conv): no module path"), "{err}");
    assert!(err.contains("--nni-module-map"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("map.json");
    std::fs::write(
        &map,
        r#"{"Conv_0": "conv1", "Relu_1": "relu", "MaxPool_2": "maxpool",
            "Conv_3": "layer1.0.conv1", "Relu_4": "layer1.0.relu", "Conv_5": "layer1.0.conv2",
            "Relu_7": "layer1.0.relu", "Gone_99": "x"}"#,
    )
    .unwrap();
    let (out, err) = quantize(
        "tests/nni/torch_named_v112.onnx",
        "minmax",
        &["--nni-module-map", map.to_str().unwrap()],
    );
    let v2 = json(&out.path().join("out/nni_calibration_config.json"));
    assert_eq!(keys(&v2), MODULES_WITH_STEM_RELU, "{err}");
    assert!(err.contains("names 'Gone_99', which the model lacks"), "{err}");
}

#[test]
fn issue_15_a_bad_module_map_fails_before_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("map.json");
    std::fs::write(&map, r#"{"Conv_0": "/conv1/Conv"}"#).unwrap();
    let out = dir.path().join("out");
    let o = calibr8(&[
        "quantize",
        repo("tests/nni/torch_named_v112.onnx").to_str().unwrap(),
        "--calib",
        repo("tests/nni/torch_named_calib.npy").to_str().unwrap(),
        "--nni-module-map",
        map.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("map.json") && err.contains("not a module path"), "{err}");
    assert!(!out.exists());
}

/// Where the NNI wheels are: CALIBR8_NNI_WHEELS, else third_party/nni.
fn wheels() -> PathBuf {
    let dir = std::env::var_os("CALIBR8_NNI_WHEELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("third_party/nni"));
    for version in ["2.10.1", "3.0"] {
        let found = std::fs::read_dir(&dir).into_iter().flatten().flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&format!("nni-{version}-")) && name.ends_with(".whl")
        });
        assert!(
            found,
            "the nni {version} wheel is not in {}: run `pip download --no-deps nni=={version} -d \
             third_party/nni` (as .ci/run does), or set CALIBR8_NNI_WHEELS",
            dir.display()
        );
    }
    dir
}

fn run_nni_check(method: &str) {
    let wheels = wheels();
    let (dir, _) = quantize(
        "tests/nni/torch_named.onnx",
        method,
        &["--trt-version", "8.6.1", "--trt-cache-names", "nni"],
    );
    let o = Command::new("python3")
        .arg(repo("tests/nni/check_nni.py"))
        .arg("--wheels")
        .arg(&wheels)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 could not be started ({e}); install Python 3 with numpy and onnx")
        });
    let text =
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    println!("{text}");
    assert_eq!(o.status.code(), Some(0), "check_nni.py ({method}) failed:\n{text}");
    assert!(text.contains("all NNI checks passed"), "{text}");
}

#[test]
fn issue_15_nni_2_10_1_and_3_0_set_calibr8_ranges_minmax() {
    run_nni_check("minmax");
}

#[test]
fn issue_15_nni_2_10_1_and_3_0_set_calibr8_ranges_entropy() {
    run_nni_check("entropy");
}

/// `--no-nni-outputs` observes only what the QDQ model quantizes: `ranges.json` has no
/// NNI-only tensors, and the NNI entries that needed them are listed as left out, with the reason.
#[test]
fn issue_15_no_nni_outputs_skips_the_extra_observations_and_says_so() {
    let (full_dir, _) = quantize("tests/nni/torch_named.onnx", "minmax", &[]);
    let (dir, err) = quantize("tests/nni/torch_named.onnx", "minmax", &["--no-nni-outputs"]);
    let observed_only = |d: &Path| -> usize {
        let ranges = json(&d.join("out").join("ranges.json"));
        ranges.as_object().unwrap().values().filter(|t| t["quantized"] == false).count()
    };
    assert!(observed_only(full_dir.path()) > 0, "the default observes NNI's extra tensors");
    assert_eq!(observed_only(dir.path()), 0);
    assert!(err.contains("left out") && err.contains("nni.calibrate_outputs"), "{err}");
    // What both runs quantize is identical.
    let scales =
        |d: &Path| std::fs::read_to_string(d.join("out").join("calibration.cache")).unwrap();
    assert_eq!(scales(full_dir.path()), scales(dir.path()));
}
