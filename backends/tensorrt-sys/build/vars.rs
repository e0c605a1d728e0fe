//! Every environment variable the build script reads, read through [`var`] so that cargo reruns
//! the script when any of them changes.

use std::ffi::OsString;
use std::path::PathBuf;

/// Headers of TensorRT (`NvInfer.h`, `NvOnnxParser.h`); wins over [`TENSORRT_ROOT`].
pub const TENSORRT_INCLUDE_DIR: &str = "TENSORRT_INCLUDE_DIR";
/// A TensorRT installation; its `include/` holds the headers.
pub const TENSORRT_ROOT: &str = "TENSORRT_ROOT";
/// A CUDA toolkit; its `include/` holds `cuda_runtime_api.h`.
pub const CUDA_PATH: &str = "CUDA_PATH";
/// `1`: fail the build instead of falling back to the stub when the shim cannot be compiled.
pub const REQUIRE_SHIM: &str = "CALIBR8_TENSORRT_REQUIRE_SHIM";
/// Set by cargo when the `shim` feature is on.
pub const FEATURE_SHIM: &str = "CARGO_FEATURE_SHIM";
/// Set by cargo: the target triple (handed to the tests, which compile fake libraries).
pub const TARGET: &str = "TARGET";

/// The variable's value, `None` when unset or empty. Prints `cargo:rerun-if-env-changed`.
pub fn var(name: &str) -> Option<OsString> {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// [`var`] as a path.
pub fn path(name: &str) -> Option<PathBuf> {
    var(name).map(PathBuf::from)
}

/// [`var`] as a flag: set and not `0`.
pub fn flag(name: &str) -> bool {
    var(name).is_some_and(|v| v != "0")
}
