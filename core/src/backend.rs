//! The `Backend` / `Engine` traits, shaped like tract's `Runtime`: a backend checks that its
//! libraries and devices exist, then prepares an engine for one model.

use crate::internal::*;
use crate::tensor::TensorMap;
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

/// A prepared model that runs batches of named, typed tensors.
pub trait Engine: Send {
    /// The model's input names, in model order.
    fn input_names(&self) -> &[String];
    /// The names of what `run` returns: model outputs, then captured tensors.
    fn output_names(&self) -> &[String];
    /// Runs one batch: one tensor per input name (any order; every input exactly once).
    /// Returns every tensor of [`Engine::output_names`], in that order, with its own type
    /// (float outputs float32, index outputs int64, ...).
    fn run(&mut self, inputs: TensorMap) -> Result<TensorMap>;

    /// Another engine for the same prepared model, to run batches concurrently: it shares the
    /// model (weights, optimized plan) and has its own run state. `None` where the backend
    /// cannot share (callers then prepare another engine).
    fn fork(&self) -> Option<Box<dyn Engine>> {
        None
    }

    /// Convenience for float-input models: `inputs` in [`Engine::input_names`] order, outputs
    /// as float32 in [`Engine::output_names`] order.
    ///
    /// ```no_run
    /// # fn demo(engine: &mut dyn calibr8_core::Engine) -> calibr8_core::Result<()> {
    /// let logits = engine.run_f32(vec![ndarray::ArrayD::zeros(vec![1, 1, 8, 8])])?.remove(0);
    /// # Ok(()) }
    /// ```
    fn run_f32(&mut self, inputs: Vec<ArrayD<f32>>) -> Result<Vec<ArrayD<f32>>> {
        if inputs.len() != self.input_names().len() {
            return Err(Error::data(
                "<arrays>",
                format!(
                    "gives {} array(s) for {} input(s) ({})",
                    inputs.len(),
                    self.input_names().len(),
                    self.input_names().join(", ")
                ),
            ));
        }
        let named: TensorMap = self
            .input_names()
            .iter()
            .cloned()
            .zip(inputs.into_iter().map(crate::tensor::TensorValue::F32))
            .collect();
        Ok(self.run(named)?.into_f32())
    }
}

/// An execution backend (tract, burn, TensorRT, ...).
pub trait Backend: Send + Sync {
    /// Short name used by the CLI and in reports (`tract`, `tensorrt`).
    fn name(&self) -> &str;
    /// Probes libraries and devices; an error says what to install.
    fn check(&self) -> Result<()> {
        Ok(())
    }
    /// Builds an engine for `model`.
    fn prepare(&self, model: Lowering<'_>, options: &EngineOptions) -> Result<Box<dyn Engine>>;
    /// Whether [`Lowering::Quantized`]`(q)` runs exactly the float model
    /// [`qdq_model`](crate::export::qdq_model)`(q)`, Q/DQ computed in float as written, and
    /// [`Lowering::Float`] runs any model as written. Then every tensor of a sub-graph of that
    /// model, fed the values the whole model computes at its boundary, comes out as in the
    /// whole model, and `compare` runs only the part of the model a change reaches (default:
    /// `false`, every run is of the whole model).
    fn runs_qdq_as_written(&self) -> bool {
        false
    }
    /// The precision this backend really runs a node in that a `QuantizedModel` keeps out of
    /// int8 with `precision` (`keep_in_float`). CPU engines run such nodes in fp32 whatever was
    /// asked; reports use this to say so ("fp16 requested, tract runs fp32").
    fn float_precision_for(&self, precision: Precision) -> Precision {
        match precision {
            Precision::Int8 => Precision::Int8,
            Precision::Fp16 | Precision::Fp32 => Precision::Fp32,
        }
    }
}
