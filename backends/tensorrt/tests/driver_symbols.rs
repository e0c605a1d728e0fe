//! A CUDA driver too old for the calls calibr8 makes is an error, not a panic: cudarc (dynamic
//! loading) panics with "Missing symbol" at the first call of a symbol the driver lacks, so the
//! device code checks the driver's symbols up front and turns that panic into an error.
// See: https://github.com/calibr8/calibr8/issues/16 (point 3)
#![cfg(target_os = "linux")]

use calibr8_tensorrt::device::{guarded, missing_driver_symbols, CUDA_FLOOR, DRIVER_SYMBOLS};
use std::path::{Path, PathBuf};

/// A fake `libcuda.so` exporting `symbols` (each a function returning CUDA_SUCCESS).
fn fake_driver(dir: &Path, symbols: &[&str]) -> PathBuf {
    let source: String =
        symbols.iter().map(|s| format!("int {s}(void) {{ return 0; }}\n")).collect();
    let src = dir.join("libcuda.c");
    std::fs::write(&src, source).expect("write source");
    let out = dir.join("libcuda.so.1");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = std::process::Command::new(compiler)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run the C compiler");
    assert!(status.success());
    out
}

#[test]
fn issue_16_a_driver_without_a_symbol_calibr8_uses_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let all = fake_driver(dir.path(), DRIVER_SYMBOLS);
    assert_eq!(missing_driver_symbols(&all).expect("opens"), Vec::<&str>::new());

    let old = tempfile::tempdir().expect("tempdir");
    let without: Vec<&str> =
        DRIVER_SYMBOLS.iter().copied().filter(|s| *s != "cuMemAllocAsync").collect();
    let lib = fake_driver(old.path(), &without);
    assert_eq!(missing_driver_symbols(&lib).expect("opens"), ["cuMemAllocAsync"]);
    let err = missing_driver_symbols(&old.path().join("nope.so")).expect_err("no library");
    assert!(err.contains("nope.so"), "{err}");
}

#[test]
fn issue_16_cudarcs_missing_symbol_panic_becomes_an_error() {
    // Exactly what cudarc 0.19's dynamic loader panics with.
    let err = guarded::<()>("event elapsed time", || {
        panic!("Missing symbol cuEventElapsedTime_v2: undefined symbol: cuEventElapsedTime_v2")
    })
    .expect_err("an error, not a panic");
    let text = err.to_string();
    assert!(text.contains("does not export cuEventElapsedTime_v2"), "{text}");
    assert!(text.contains(&format!("CUDA {CUDA_FLOOR} or newer")), "{text}");
    assert!(text.ends_with("supports)"), "{text}");

    // Driver errors keep their own message.
    let err = guarded::<()>("stream synchronize", || {
        Err(cudarc::driver::DriverError(cudarc::driver::sys::CUresult::CUDA_ERROR_INVALID_VALUE))
    })
    .expect_err("driver error");
    assert!(err.to_string().contains("CUDA stream synchronize failed"), "{err}");

    // Any other panic is not swallowed.
    let other = std::panic::catch_unwind(|| guarded::<()>("x", || panic!("a bug elsewhere")));
    assert!(other.is_err());
}

/// The floor is a fact about the bindings: cudarc is built for CUDA 12.0, whose event timing is
/// `cuEventElapsedTime` (the `_v2` of the 12.8+ bindings is what old drivers lack).
#[test]
fn the_symbol_list_is_the_cuda_12_0_one() {
    assert_eq!(CUDA_FLOOR, "12.0");
    assert!(DRIVER_SYMBOLS.contains(&"cuEventElapsedTime"));
    assert!(!DRIVER_SYMBOLS.iter().any(|s| s.starts_with("cuEventElapsedTime_v2")));
}
