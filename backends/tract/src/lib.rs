//! calibr8-tract: the tract CPU backend, calibr8's embedded default. It runs a model in fp32, or
//! its QDQ export (tract executes Q/DQ in float, exactly as the artifact declares), and returns
//! any intermediate tensor by its ONNX name, which is how calibration captures activations.
//!
//! ```
//! use calibr8_core::{Backend, EngineOptions, Lowering, OnnxModel, TensorMap};
//! let model = OnnxModel::load("../../examples/digits/digits_cnn.onnx")?;
//! let options = EngineOptions { capture: vec!["relu1_out".into()], ..Default::default() };
//! let mut engine = calibr8_tract::TractBackend.prepare(Lowering::Float(&model), &options)?;
//! let batch = TensorMap::single("input", ndarray::ArrayD::<f32>::zeros(vec![2, 1, 8, 8]));
//! let out = engine.run(batch)?;
//! assert_eq!(out.names().collect::<Vec<_>>(), ["logits", "relu1_out"]);
//! assert_eq!(out.f32("logits")?.shape(), &[2, 10]);
//! assert_eq!(out.f32("relu1_out")?.shape(), &[2, 16, 8, 8]);
//! # Ok::<(), calibr8_core::Error>(())
//! ```
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

use calibr8_core::{
    Backend, Engine, EngineOptions, Error, Lowering, OnnxModel, Result, TensorMap, TensorValue,
};

mod int8;
pub use int8::TractInt8Backend;
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
    fn name(&self) -> &str {
        "tract"
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
    pub fn new(model: &OnnxModel, options: &EngineOptions) -> Result<TractEngine> {
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

    fn fork(&self) -> Option<Box<dyn Engine>> {
        // tract's runnable plan is immutable and shared; each run makes its own state.
        Some(Box::new(TractEngine {
            plan: self.plan.clone(),
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
        }))
    }

    fn run(&mut self, mut inputs: TensorMap) -> Result<TensorMap> {
        let values = self
            .inputs
            .iter()
            .map(|name| {
                let value = inputs.remove(name).ok_or_else(|| {
                    Error::data(name.as_str(), "is a model input the batch gives no tensor for")
                })?;
                Ok(to_tract(value).into_tvalue())
            })
            .collect::<Result<_>>()?;
        if let Some(extra) = inputs.names().next() {
            return Err(Error::data(extra, "is not an input of the model"));
        }
        let outputs = self.plan.run(values).map_err(err)?;
        self.outputs
            .iter()
            .zip(outputs)
            .map(|(name, v)| Ok((name.clone(), from_tract(v.into_tensor())?)))
            .collect()
    }
}

/// A calibr8 tensor as a tract tensor (moved, not copied).
pub(crate) fn to_tract(value: TensorValue) -> tract_onnx::prelude::Tensor {
    use tract_onnx::prelude::Tensor;
    match value {
        TensorValue::F32(a) => Tensor::from(a),
        TensorValue::F64(a) => Tensor::from(a),
        TensorValue::I64(a) => Tensor::from(a),
        TensorValue::I32(a) => Tensor::from(a),
        TensorValue::I8(a) => Tensor::from(a),
        TensorValue::U8(a) => Tensor::from(a),
        TensorValue::Bool(a) => Tensor::from(a),
        // TensorValue is non-exhaustive for users; this crate knows every variant it can get.
        other => Tensor::from(other.into_f32()),
    }
}

/// A tract tensor as a calibr8 tensor of the same type; types calibr8 does not carry (f16,
/// quantized) are returned as float32.
pub(crate) fn from_tract(t: tract_onnx::prelude::Tensor) -> Result<TensorValue> {
    let dt = t.datum_type();
    Ok(if dt == f32::datum_type() {
        TensorValue::F32(t.into_plain_array::<f32>().map_err(err)?)
    } else if dt == f64::datum_type() {
        TensorValue::F64(t.into_plain_array::<f64>().map_err(err)?)
    } else if dt == i64::datum_type() {
        TensorValue::I64(t.into_plain_array::<i64>().map_err(err)?)
    } else if dt == i32::datum_type() {
        TensorValue::I32(t.into_plain_array::<i32>().map_err(err)?)
    } else if dt == i8::datum_type() {
        TensorValue::I8(t.into_plain_array::<i8>().map_err(err)?)
    } else if dt == u8::datum_type() {
        TensorValue::U8(t.into_plain_array::<u8>().map_err(err)?)
    } else if dt == bool::datum_type() {
        TensorValue::Bool(t.into_plain_array::<bool>().map_err(err)?)
    } else {
        TensorValue::F32(
            t.cast_to::<f32>().map_err(err)?.into_owned().into_plain_array::<f32>().map_err(err)?,
        )
    })
}
