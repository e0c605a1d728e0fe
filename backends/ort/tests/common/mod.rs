//! What the tests that need the real ONNX Runtime share.
#![allow(dead_code)]

use calibr8_core::Backend;
use calibr8_ort::OrtBackend;

/// ONNX Runtime on the CPU, one thread (deterministic and comparable timings). These tests
/// FAIL, never skip, where ONNX Runtime is missing: CI installs it (`.ci/run`), so a missing
/// library there is a broken setup that must not pass as green.
pub fn ort_cpu() -> OrtBackend {
    let backend = OrtBackend::cpu(Some(1));
    if let Err(e) = backend.check() {
        panic!(
            "these tests run the real ONNX Runtime and it is not usable here: {e}\n\
             (CI installs it with `python3 -m pip install onnxruntime`; locally do the same, or \
             point CALIBR8_ORT_LIB at a libonnxruntime.so of version 1.22 or newer)"
        );
    }
    backend
}

pub const DIGITS: (&str, &str) =
    ("../../examples/digits/digits_cnn.onnx", "../../examples/digits/calib.npy");
pub const DIGITS_OPSET11: (&str, &str) =
    ("../../tests/data/digits_cnn_opset11.onnx", "../../examples/digits/calib.npy");
pub const RESNET: (&str, &str) =
    ("../../tests/data/resnet_tiny.onnx", "../../tests/data/resnet_tiny_calib.npy");
pub const MLP: (&str, &str) =
    ("../../tests/data/mlp_gemm.onnx", "../../tests/data/mlp_gemm_calib.npy");
