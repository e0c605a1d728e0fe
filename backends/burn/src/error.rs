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
