//! Errors of the burn integration: what went wrong, where in the user's module, and what to do.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything `calibr8-burn` can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The forward pass uses a burn operation burn-onnx cannot lower to ONNX.
    #[error(
        "the forward pass uses burn op `{op}` at `{module_path}` (traced operation {index}), which \
         burn-onnx 0.22 cannot lower to ONNX, so calibr8 cannot trace this model. Express that \
         step with supported ops (Conv, Linear, MatMul, Relu, Sigmoid, Tanh, pooling, reshape, \
         add/sub/mul/div, ...), or export the model to ONNX another way and call \
         calibr8::quantize on the file"
    )]
    UnsupportedOp {
        /// The burn operation, e.g. `Float::Cos` or `Activation::Gelu`.
        op: String,
        /// Where it sits, in the names the traced graph uses: the module path of a module's
        /// own op (`head.fc`), or `{module}/{op}` for a parameter-free op applied to that
        /// module's output (`fc1/cos`).
        module_path: String,
        /// Index of the operation in burn's capture of the forward pass.
        index: usize,
    },
    /// Tracing or lowering failed for another reason.
    #[error("tracing the forward pass of `{module}` with burn-onnx failed: {reason}")]
    Trace {
        /// The module's type name.
        module: String,
        /// burn-onnx's message.
        reason: String,
    },
    /// A burn tensor could not be read as f32 data (or rebuilt from it).
    #[error("tensor `{tensor}`: {reason}")]
    Tensor {
        /// Which tensor (a parameter path, `example_input`, `calibration batch 3`, ...).
        tensor: String,
        /// What went wrong.
        reason: String,
    },
    /// A quantized model and a burn module disagree (missing parameter, shape, granularity).
    #[error("applying `{tensor}` to the burn module: {reason}")]
    Mismatch {
        /// The quantized tensor or parameter path.
        tensor: String,
        /// What does not fit, ending with the remedy.
        reason: String,
    },
    /// Calibration, export or a backend failed in calibr8's core.
    #[error(transparent)]
    Core(#[from] calibr8_core::Error),
}

/// calibr8-burn's errors in calibr8's own error type, so `?` works in code that returns
/// `calibr8::Result`: a core error is passed through; the others become
/// [`calibr8_core::Error::BackendFailed`] with the burn error kept as the source.
impl From<Error> for calibr8_core::Error {
    fn from(e: Error) -> Self {
        let context = match e {
            Error::Core(core) => return core,
            Error::UnsupportedOp { .. } | Error::Trace { .. } => "tracing the burn module",
            Error::Tensor { .. } => "reading a burn tensor",
            Error::Mismatch { .. } => "applying the quantized model to the burn module",
        };
        calibr8_core::Error::backend_failed("burn", context, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn burn_errors_convert_keeping_their_source() {
        let e = Error::Trace { module: "Cnn".into(), reason: "no output".into() };
        let core: calibr8_core::Error = e.into();
        assert!(matches!(core, calibr8_core::Error::BackendFailed { .. }), "{core:?}");
        assert_eq!(core.to_string(), "backend burn: tracing the burn module");
        let source = core.source().expect("source").to_string();
        assert!(source.contains("`Cnn`") && source.contains("no output"), "{source}");

        let inner = calibr8_core::Error::config("method", "bad");
        let back: calibr8_core::Error = Error::Core(inner).into();
        assert!(matches!(back, calibr8_core::Error::Config { .. }), "{back:?}");
    }
}
