//! The `Backend` / `Engine` traits, shaped like tract's `Runtime`: a backend checks that its
//! libraries and devices exist, then prepares an engine for one model.

use crate::internal::*;
use ndarray::ArrayD;

/// What a backend is asked to run.
#[derive(Clone, Copy, Debug)]
pub enum Lowering<'a> {
    /// The float model as written (calibration capture, fp32/fp16 baselines).
    Float(&'a OnnxModel),
    /// The quantized model, int8 where its node precisions say so.
    Quantized(&'a QuantizedModel),
}

impl Lowering<'_> {
    /// The underlying float model.
    pub fn model(&self) -> &OnnxModel {
        match self {
            Lowering::Float(m) => m,
            Lowering::Quantized(q) => &q.model,
        }
    }
}

/// Options for [`Backend::prepare`].
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Intermediate tensors to return after the model outputs, in this order.
    pub capture: Vec<String>,
    /// The batch size the engine will see (engines with dynamic shapes may ignore it).
    pub batch: Option<usize>,
    /// Precision for float lowering where the backend offers several (`Fp16` on GPUs).
    pub float_precision: Option<Precision>,
}

/// A prepared model that runs batches.
pub trait Engine: Send {
    /// The model's input names, in the order `run` takes them.
    fn input_names(&self) -> &[String];
    /// The names of what `run` returns: model outputs, then captured tensors.
    fn output_names(&self) -> &[String];
    /// Runs one batch: one array per input, in [`Engine::input_names`] order.
    fn run(&mut self, inputs: Vec<ArrayD<f32>>) -> Result<Vec<ArrayD<f32>>>;
}

/// An execution backend (tract, burn, TensorRT, ...).
pub trait Backend: Send + Sync {
    /// Short name used by the CLI and in reports (`tract`, `tensorrt`).
    fn name(&self) -> String;
    /// Probes libraries and devices; an error says what to install.
    fn check(&self) -> Result<()> {
        Ok(())
    }
    /// Builds an engine for `model`.
    fn prepare(&self, model: Lowering<'_>, options: &EngineOptions) -> Result<Box<dyn Engine>>;
}
