//! calibr8-tract: the tract CPU backend, calibr8's embedded default. It runs a model in fp32, or
//! its QDQ export (tract executes Q/DQ in float, exactly as the artifact declares), and returns
//! any intermediate tensor by its ONNX name, which is how calibration captures activations.
//!
//! ```
//! use calibr8_core::{Backend, EngineOptions, Lowering, OnnxModel};
//! let model = OnnxModel::load("../../examples/digits/digits_cnn.onnx")?;
//! let options = EngineOptions { capture: vec!["relu1_out".into()], ..Default::default() };
//! let mut engine = calibr8_tract::TractBackend.prepare(Lowering::Float(&model), &options)?;
//! let out = engine.run(vec![ndarray::ArrayD::zeros(vec![2, 1, 8, 8])])?;
//! assert_eq!(out[0].shape(), &[2, 10]);
//! assert_eq!(out[1].shape(), &[2, 16, 8, 8]);
//! # Ok::<(), calibr8_core::Error>(())
//! ```
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

use calibr8_core::{Backend, Engine, EngineOptions, Error, Lowering, OnnxModel, Result};

mod int8;
pub use int8::TractInt8Backend;
use ndarray::ArrayD;
use tract_onnx::prelude::{
    Datum, Framework, InferenceModelExt, IntoRunnable, IntoTValue, IntoTensor, TypedRunnableModel,
};

/// The tract CPU backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct TractBackend;

/// A tract plan plus the names of what it returns.
pub struct TractEngine {
    plan: std::sync::Arc<TypedRunnableModel>,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

pub(crate) fn err(e: impl std::fmt::Display) -> Error {
    Error::backend("tract", format!("{e:#}"))
}

impl Backend for TractBackend {
    fn name(&self) -> String {
        "tract".into()
    }

    fn prepare(&self, lowering: Lowering<'_>, options: &EngineOptions) -> Result<Box<dyn Engine>> {
        let model = match lowering {
            Lowering::Float(m) => m.clone(),
            Lowering::Quantized(q) => calibr8_core::export::qdq_model(q)?,
        };
        Ok(Box::new(TractEngine::new(&model, options)?))
    }
}

impl TractEngine {
    /// Loads `model` into tract, with `options.capture` tensors as extra outputs, optimized.
    ///
    /// Every call into tract runs under [`calibr8_core::contain`]: a panic inside tract becomes
    /// [`Error::BackendPanic`].
    pub fn new(model: &OnnxModel, options: &EngineOptions) -> Result<TractEngine> {
        calibr8_core::contain("tract", "loading and optimizing the model", || {
            Self::new_uncontained(model, options)
        })
    }

    fn new_uncontained(model: &OnnxModel, options: &EngineOptions) -> Result<TractEngine> {
        let inputs: Vec<String> = model.inputs().into_iter().map(|i| i.name).collect();
        let mut outputs: Vec<String> = model.outputs().into_iter().map(|o| o.name).collect();
        let mut inference =
            tract_onnx::onnx().model_for_proto_model(&model.proto).map_err(|e| {
                Error::InvalidModel { path: model.origin.clone(), reason: format!("tract: {e:#}") }
            })?;
        let mut outlets = inference.output_outlets().map_err(err)?.to_vec();
        for name in &options.capture {
            let outlet = inference.find_outlet_label(name).ok_or_else(|| Error::UnknownTensor {
                tensor: name.clone(),
                path: model.origin.clone(),
            })?;
            outlets.push(outlet);
            outputs.push(name.clone());
        }
        inference.select_output_outlets(&outlets).map_err(err)?;
        let typed = inference.into_optimized().map_err(|e| Error::InvalidModel {
            path: model.origin.clone(),
            reason: format!("tract: {e:#}"),
        })?;
        let plan = typed.into_runnable().map_err(err)?;
        Ok(TractEngine { plan, inputs, outputs })
    }

    /// The optimized model's nodes as tract will run them: what `calibr8 bench` and the tests
    /// read to see which kernels (and which element types) a model really uses.
    pub fn nodes(&self) -> Vec<TractNode> {
        let model = self.plan.model();
        model
            .nodes()
            .iter()
            .map(|n| TractNode {
                name: n.name.clone(),
                op: n.op().name().to_string(),
                input_types: n
                    .inputs
                    .iter()
                    .map(|o| {
                        model
                            .outlet_fact(*o)
                            .map(|f| format!("{:?}", f.datum_type))
                            .unwrap_or_default()
                    })
                    .collect(),
                info: n.op().info().unwrap_or_default().join("; "),
            })
            .collect()
    }
}

/// One node of an optimized tract model (see [`TractEngine::nodes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TractNode {
    /// tract's node name (derived from the ONNX node name).
    pub name: String,
    /// tract's op name, e.g. `OptMatMul`, `Conv`.
    pub op: String,
    /// Element types of its inputs, e.g. `I8`, `F32`, `QI8(..)`.
    pub input_types: Vec<String>,
    /// tract's own description of the op (kernel choice and parameters).
    pub info: String,
}

impl Engine for TractEngine {
    fn input_names(&self) -> &[String] {
        &self.inputs
    }

    fn output_names(&self) -> &[String] {
        &self.outputs
    }

    fn run(&mut self, inputs: Vec<ArrayD<f32>>) -> Result<Vec<ArrayD<f32>>> {
        calibr8_core::contain("tract", "running a batch", || {
            let values = inputs
                .into_iter()
                .map(|a| tract_onnx::prelude::Tensor::from(a).into_tvalue())
                .collect();
            let outputs = self.plan.run(values).map_err(err)?;
            outputs
                .into_iter()
                .map(|v| {
                    let t = v.into_tensor();
                    // cast_to borrows when the tensor is already f32; into_owned would then copy
                    // every captured activation.
                    let t = if t.datum_type() == f32::datum_type() {
                        t
                    } else {
                        t.cast_to::<f32>().map_err(err)?.into_owned()
                    };
                    t.into_plain_array::<f32>().map_err(err)
                })
                .collect()
        })
    }
}
