//! `tract-int8`: the quantized model lowered to QLinearConv / QLinearMatMul, which tract runs
//! with integer kernels (unlike Q/DQ, which it executes in float).

use crate::TractEngine;
use calibr8_core::export::qoperator_model;
use calibr8_core::{Backend, Engine, EngineOptions, Lowering, Result};

/// tract with real int8 kernels: [`Lowering::Quantized`] goes through
/// [`qoperator_model`](calibr8_core::export::qoperator_model) (Conv → QLinearConv, Gemm / MatMul
/// → QLinearMatMul; nodes without the ranges they need stay float). [`Lowering::Float`] runs the
/// float model, as [`TractBackend`](crate::TractBackend) does.
///
/// Use it for speed; for accuracy comparisons of what is shipped as QDQ, use `TractBackend`,
/// which runs the QDQ export itself.
///
/// ```
/// use calibr8_core::{Backend, Lowering, OnnxModel, EngineOptions};
/// let model = OnnxModel::load("../../examples/digits/digits_cnn.onnx")?;
/// let backend = calibr8_tract::TractInt8Backend;
/// assert_eq!(backend.name(), "tract-int8");
/// let mut engine = backend.prepare(Lowering::Float(&model), &EngineOptions::default())?;
/// assert_eq!(engine.run_f32(vec![ndarray::ArrayD::zeros(vec![1, 1, 8, 8])])?[0].shape(), &[1, 10]);
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TractInt8Backend;

impl TractInt8Backend {
    /// The engine with its concrete type, so callers can inspect [`TractEngine::nodes`].
    pub fn prepare_engine(
        &self,
        lowering: Lowering<'_>,
        options: &EngineOptions,
    ) -> Result<TractEngine> {
        match lowering {
            Lowering::Float(m) => TractEngine::new(m, options),
            Lowering::Quantized(q) => TractEngine::new(&qoperator_model(q)?.model, options),
        }
    }
}

impl Backend for TractInt8Backend {
    fn name(&self) -> &str {
        "tract-int8"
    }

    fn prepare(&self, lowering: Lowering<'_>, options: &EngineOptions) -> Result<Box<dyn Engine>> {
        Ok(Box::new(self.prepare_engine(lowering, options)?))
    }
}
