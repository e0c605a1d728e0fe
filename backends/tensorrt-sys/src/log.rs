//! TensorRT's log, routed to `tracing`.

use std::ffi::{c_char, c_void, CStr};

/// A [`crate::calibr8_trt_log_fn`] that routes TensorRT's log to `tracing` under the target
/// `calibr8_tensorrt::trt`: internal errors and errors at `error`, warnings at `warn`, TensorRT's
/// chatty `kINFO` at `debug`, and `kVERBOSE` at `trace`. `user_data` is ignored (pass null).
///
/// # Safety
/// `message` is null or a NUL-terminated string, as the shim guarantees.
pub unsafe extern "C" fn calibr8_trt_tracing_log(
    _user_data: *mut c_void,
    severity: i32,
    message: *const c_char,
) {
    if message.is_null() {
        return;
    }
    // SAFETY: non-null and NUL-terminated per this function's contract.
    let message = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    let message = message.trim_end();
    match severity {
        crate::CALIBR8_TRT_SEVERITY_INTERNAL_ERROR => {
            tracing::error!(target: "calibr8_tensorrt::trt", internal = true, "{message}")
        }
        crate::CALIBR8_TRT_SEVERITY_ERROR => {
            tracing::error!(target: "calibr8_tensorrt::trt", "{message}")
        }
        crate::CALIBR8_TRT_SEVERITY_WARNING => {
            tracing::warn!(target: "calibr8_tensorrt::trt", "{message}")
        }
        crate::CALIBR8_TRT_SEVERITY_INFO => {
            tracing::debug!(target: "calibr8_tensorrt::trt", "{message}")
        }
        _ => tracing::trace!(target: "calibr8_tensorrt::trt", severity, "{message}"),
    }
}
