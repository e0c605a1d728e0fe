//! The loader against fake `libonnxruntime.so` files built by the test: missing, not ONNX
//! Runtime, too old, and a well-formed one; the Python package lookup against a fake `python3`.
//! This file is its own process, so the fakes never meet the real ONNX Runtime of other tests.
#![cfg(target_os = "linux")]

use calibr8_core::Backend;
use calibr8_ort::loader::{find, probe, python_package_lib, LoadError, REMEDY};
use std::path::{Path, PathBuf};

/// `OrtGetApiBase` returning a base whose `GetVersionString` says `version`.
fn fake_ort(version: &str) -> String {
    format!(
        r#"
static const char* version(void) {{ return "{version}"; }}
static const void* get_api(unsigned v) {{ (void)v; return 0; }}
static struct {{ const void* (*get_api)(unsigned); const char* (*version)(void); }} base =
    {{ get_api, version }};
const void* OrtGetApiBase(void) {{ return &base; }}
"#
    )
}

/// Compiles `source` into the shared library `dir/file_name`.
fn shared_library(dir: &Path, file_name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{file_name}.c"));
    std::fs::write(&src, source).expect("write the fake library's source");
    let out = dir.join(file_name);
    let target = env!("CALIBR8_ORT_TARGET");
    let compiler = cc::Build::new()
        .target(target)
        .host(target)
        .opt_level(0)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .get_compiler();
    let status = compiler
        .to_command()
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling {} failed", src.display());
    out
}

#[test]
fn a_library_without_ort_get_api_base_is_not_onnx_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib =
        shared_library(dir.path(), "libonnxruntime.so", "int unrelated(void) { return 0; }\n");
    let err = probe(&lib).expect_err("not ONNX Runtime");
    assert_eq!(err, LoadError::NotOnnxRuntime { path: lib.clone() });
    let message = err.to_string();
    assert!(message.contains("does not export `OrtGetApiBase`"), "{message}");
    assert!(message.ends_with(REMEDY), "{message}");
    // Alone, the precise reason is the error (not "not found").
    assert_eq!(find(std::slice::from_ref(&lib)), Err(err));
}

#[test]
fn onnx_runtime_1_16_is_too_old() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), "libonnxruntime.so.1.16.3", &fake_ort("1.16.3"));
    let err = probe(&lib).expect_err("too old");
    assert_eq!(err, LoadError::BadVersion { found: "1.16.3".into(), path: lib });
    let message = err.to_string();
    assert!(message.contains("is ONNX Runtime 1.16.3; calibr8 needs 1.22 or newer"), "{message}");
    assert!(message.ends_with(REMEDY), "{message}");
}

#[test]
fn a_well_formed_library_reports_its_version_and_a_folder_finds_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), "libonnxruntime.so", &fake_ort("1.32.0"));
    let found = probe(dir.path()).expect("a folder holding libonnxruntime.so");
    assert_eq!((found.path, found.version.as_str()), (lib, "1.32.0"));
}

#[test]
fn the_first_usable_candidate_wins_and_failures_are_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nowhere").join("libonnxruntime.so");
    let other = shared_library(dir.path(), "libother.so", "int unrelated(void) { return 0; }\n");
    let good = shared_library(dir.path(), "libonnxruntime.so.1.30.0", &fake_ort("1.30.0"));
    let found = find(&[missing.clone(), other.clone(), good.clone()]).expect("the third loads");
    assert_eq!(found.path, good);

    let err = find(&[missing.clone(), other.clone()]).expect_err("none usable");
    let LoadError::NotFound { tried } = &err else { panic!("expected NotFound: {err:?}") };
    assert_eq!(tried.iter().map(|t| t.path.clone()).collect::<Vec<_>>(), [missing, other]);
    assert!(tried[1].error.contains("does not export `OrtGetApiBase`"), "{err}");
    assert!(err.to_string().ends_with(REMEDY), "{err}");
}

/// A `python3` stand-in printing `dir` as the onnxruntime package folder.
fn fake_python(at: &Path, prints: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = at.join("python3");
    std::fs::write(&script, format!("#!/bin/sh\necho '{prints}'\n")).expect("write fake python");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

#[test]
fn the_python_package_lookup_takes_the_newest_capi_library() {
    let dir = tempfile::tempdir().expect("tempdir");
    let package = dir.path().join("site-packages").join("onnxruntime");
    let capi = package.join("capi");
    std::fs::create_dir_all(&capi).expect("mkdir");
    for name in ["libonnxruntime.so.1.9.0", "libonnxruntime.so.1.32.0", "libonnxruntime.so.1.22.1"]
    {
        std::fs::write(capi.join(name), b"").expect("touch");
    }
    std::fs::write(capi.join("libonnxruntime_providers_shared.so"), b"").expect("touch");
    let python = fake_python(dir.path(), &package.display().to_string());
    assert_eq!(python_package_lib(&python), Some(capi.join("libonnxruntime.so.1.32.0")));
}

#[test]
fn no_python_or_no_package_is_no_candidate() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(python_package_lib(&dir.path().join("no-python")), None);
    let python = fake_python(dir.path(), "");
    assert_eq!(python_package_lib(&python), None);
}

/// The process-wide loader honours `CALIBR8_ORT_LIB`, and the backend's check says what to do.
/// The only test here that touches the environment or the process-wide runtime.
#[test]
fn the_backend_check_fails_with_the_remedy_when_the_library_is_not_onnx_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), "libnot-ort.so", "int unrelated(void) { return 0; }\n");
    std::env::set_var("CALIBR8_ORT_LIB", &lib);
    let err = calibr8_ort::OrtBackend::default().check().expect_err("not ONNX Runtime");
    let message = err.to_string();
    assert!(message.starts_with("backend ort: "), "{message}");
    assert!(message.contains(&lib.display().to_string()), "{message}");
    assert!(message.ends_with(REMEDY), "{message}");

    // Nothing was cached: pointing at a missing file now gives "not found" for that path.
    let missing = dir.path().join("libonnxruntime.so.1.99.0");
    std::env::set_var("CALIBR8_ORT_LIB", &missing);
    let err = calibr8_ort::runtime().expect_err("missing");
    let LoadError::NotFound { tried } = &err else { panic!("expected NotFound: {err:?}") };
    assert_eq!(tried.len(), 1);
    assert_eq!(tried[0].path, missing);
}
