//! The build without headers: every call fails with a message saying how to rebuild. With the
//! shim compiled in, the same calls reach it and fail on their null arguments instead.

use calibr8_tensorrt_sys as sys;
use std::ffi::CStr;
use std::ptr;

fn last_error() -> String {
    // SAFETY: the shim (or stub) returns a NUL-terminated string valid until the next call.
    unsafe { CStr::from_ptr(sys::calibr8_trt_last_error()) }.to_string_lossy().into_owned()
}

#[test]
fn every_call_reports_how_it_was_built() {
    // SAFETY: null handles are refused by the shim and ignored by the stub.
    let statuses = unsafe {
        [
            sys::calibr8_trt_builder_create(None, ptr::null_mut(), ptr::null_mut()),
            sys::calibr8_trt_runtime_create(None, ptr::null_mut(), ptr::null_mut()),
            sys::calibr8_trt_network_set_dynamic_range(ptr::null_mut(), ptr::null(), -1.0, 1.0),
            sys::calibr8_trt_context_enqueue_v3(ptr::null_mut(), ptr::null_mut()),
        ]
    };
    if sys::SHIM_AVAILABLE {
        assert_eq!(statuses, [sys::CALIBR8_TRT_ERR_INVALID_ARGUMENT; 4]);
        assert_eq!(last_error(), "calibr8_trt_context_enqueue_v3: `context` is NULL");
        // SAFETY: foreign but argument-free.
        assert_eq!(unsafe { sys::calibr8_trt_header_version() } / 10_000, 10);
    } else {
        assert_eq!(statuses, [sys::CALIBR8_TRT_ERR_UNAVAILABLE; 4]);
        let message = last_error();
        assert!(message.starts_with("built without TensorRT headers"), "{message}");
        assert!(
            message.ends_with(
                "set TENSORRT_INCLUDE_DIR (or TENSORRT_ROOT) and CUDA_PATH, then rebuild with \
                 --features tensorrt (calibr8-tensorrt-sys/shim)"
            ),
            "{message}"
        );
        // SAFETY: foreign-shaped but argument-free.
        assert_eq!(unsafe { sys::calibr8_trt_header_version() }, 0);
    }
}

#[test]
fn destroying_null_is_fine() {
    // SAFETY: destroy functions accept null.
    unsafe {
        let expected = if sys::SHIM_AVAILABLE {
            sys::CALIBR8_TRT_OK
        } else {
            sys::CALIBR8_TRT_ERR_UNAVAILABLE
        };
        assert_eq!(sys::calibr8_trt_builder_destroy(ptr::null_mut()), expected);
        assert_eq!(sys::calibr8_trt_blob_destroy(ptr::null_mut()), expected);
        assert_eq!(sys::calibr8_trt_context_destroy(ptr::null_mut()), expected);
    }
}
