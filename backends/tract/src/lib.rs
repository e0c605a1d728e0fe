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
use std::sync::{Arc, Mutex};

mod int8;
pub use int8::TractInt8Backend;
use prost::Message;
use tract_onnx::prelude::{
    Datum, DatumType, Framework, InferenceFact, InferenceModel, InferenceModelExt, IntoRunnable,
    IntoTValue, IntoTensor, TypedRunnableModel,
};

/// The tract CPU backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct TractBackend;

/// A tract plan plus the names of what it returns.
///
/// A model whose inputs declare every dimension is optimized once, at preparation. A model
/// with dynamic or symbolic input dims (PaddleOCR's `[?, 3, ?, ?]`) is optimized for the
/// shapes of the first batch that arrives, and again for each new shape: tract's symbolic
/// shape analysis cannot follow such models through Concat / Resize / AveragePool or a
/// Reshape whose shape is computed at run time, while concrete shapes make all of it constant.
/// Engines from [`Engine::fork`] share the plans.
pub struct TractEngine {
    shared: Arc<Shared>,
}

struct Shared {
    origin: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    /// The plan for every shape, when tract could build one from the declared input facts.
    any_shape: Option<Arc<TypedRunnableModel>>,
    /// For inputs with symbolic dims: the parsed model (outputs selected), optimized per input
    /// shape on demand, when there is no `any_shape` plan or it failed on a batch.
    inference: Option<InferenceModel>,
    /// Cleared when the `any_shape` plan failed at run time (a symbol it could not resolve
    /// from the inputs, e.g. a batch dim only the dropped shape annotations tied down).
    any_shape_works: std::sync::atomic::AtomicBool,
    per_shape: Mutex<Vec<(ShapeKey, Arc<TypedRunnableModel>)>>,
}

/// Element type and dims of every input, in model order.
type ShapeKey = Vec<(DatumType, Vec<usize>)>;

/// Plans kept per engine family; older shapes are dropped first (images of many sizes).
const MAX_PLANS: usize = 16;

pub(crate) fn err(e: impl std::fmt::Display) -> Error {
    Error::backend("tract", format!("{e:#}"))
}

impl Backend for TractBackend {
    fn name(&self) -> &str {
        "tract"
    }

    /// Yes: Q/DQ run in float, exactly as [`calibr8_core::export::qdq_model`] writes them.
    fn runs_qdq_as_written(&self) -> bool {
        true
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
    /// Loads `model` into tract, with `options.capture` tensors as extra outputs, optimized
    /// (for models with dynamic input dims: at the first batch, for its shapes).
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
        let invalid = |e: &dyn std::fmt::Display| Error::InvalidModel {
            path: model.origin.clone(),
            reason: format!("tract: {e:#}"),
        };
        // Shapes of intermediate tensors and outputs are inferred from the inputs: exporters
        // annotate them with their own symbols, which tract would try to unify by name.
        let mut proto = model.proto.clone();
        calibr8_core::shapes::drop_shape_annotations(&mut proto);
        // calibr8's pb types and tract's are separate Rust types of one proto: bytes bridge them.
        let bytes = proto.encode_to_vec();
        let mut inference =
            tract_onnx::onnx().model_for_read(&mut bytes.as_slice()).map_err(|e| invalid(&e))?;
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
        let (any_shape, inference) = if calibr8_core::shapes::inputs_are_concrete(model) {
            let typed = inference.into_optimized().map_err(|e| invalid(&e))?;
            (Some(typed.into_runnable().map_err(err)?), None)
        } else {
            // Symbolic dims tract can follow (a plain dynamic batch) give one plan for all;
            // anything else waits for the data's shapes.
            match inference.clone().into_optimized().and_then(|t| t.into_runnable()) {
                Ok(plan) => (Some(plan), Some(inference)),
                Err(e) => {
                    tracing::debug!(
                        "{}: tract cannot plan for the declared input dims ({e:#}); planning \
                         per batch shape",
                        model.origin
                    );
                    (None, Some(inference))
                }
            }
        };
        Ok(TractEngine {
            shared: Arc::new(Shared {
                origin: model.origin.clone(),
                inputs,
                outputs,
                any_shape,
                inference,
                any_shape_works: std::sync::atomic::AtomicBool::new(true),
                per_shape: Mutex::new(vec![]),
            }),
        })
    }

    /// The plan for inputs of these types and shapes, built on first use.
    fn plan_for(&self, key: ShapeKey) -> Result<Arc<TypedRunnableModel>> {
        let shared = &self.shared;
        if let Some(plan) = &shared.any_shape {
            if shared.any_shape_works.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(plan.clone());
            }
        }
        let Some(inference) = &shared.inference else {
            return Err(Error::backend("tract", "engine has neither a plan nor a model"));
        };
        let mut plans = shared.per_shape.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, plan)) = plans.iter().find(|(k, _)| *k == key) {
            return Ok(plan.clone());
        }
        let mut model = inference.clone();
        for (ix, (dt, shape)) in key.iter().enumerate() {
            model.set_input_fact(ix, InferenceFact::dt_shape(*dt, shape.clone())).map_err(err)?;
        }
        let optimized = calibr8_core::contain("tract", "optimizing for the data's shapes", || {
            Ok(model.into_optimized().and_then(|t| t.into_runnable()))
        })?;
        let plan = optimized.map_err(|e| {
            let shapes: Vec<String> = shared
                .inputs
                .iter()
                .zip(&key)
                .map(|(name, (_, dims))| format!("{name}={dims:?}"))
                .collect();
            Error::InvalidModel {
                path: shared.origin.clone(),
                reason: format!(
                    "tract, with the input shapes of the data ({}): {e:#}",
                    shapes.join(", ")
                ),
            }
        })?;
        if plans.len() >= MAX_PLANS {
            plans.remove(0);
        }
        plans.push((key, plan.clone()));
        Ok(plan)
    }

    /// The optimized model's nodes as tract will run them: what `calibr8 bench` and the tests
    /// read to see which kernels (and which element types) a model really uses. For a model
    /// planned per input shape, the nodes of the first plan built (none before a batch ran).
    pub fn nodes(&self) -> Vec<TractNode> {
        let first =
            self.shared.per_shape.lock().ok().and_then(|p| p.first().map(|(_, p)| p.clone()));
        let Some(plan) = self.shared.any_shape.clone().or(first) else {
            return vec![];
        };
        let model = plan.model();
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
        &self.shared.inputs
    }

    fn output_names(&self) -> &[String] {
        &self.shared.outputs
    }

    fn fork(&self) -> Option<Box<dyn Engine>> {
        // tract's runnable plans are immutable and shared; each run makes its own state.
        Some(Box::new(TractEngine { shared: self.shared.clone() }))
    }

    fn run(&mut self, mut inputs: TensorMap) -> Result<TensorMap> {
        let tensors: Vec<tract_onnx::prelude::Tensor> = self
            .shared
            .inputs
            .iter()
            .map(|name| {
                let value = inputs.remove(name).ok_or_else(|| {
                    Error::data(name.as_str(), "is a model input the batch gives no tensor for")
                })?;
                Ok(to_tract(value))
            })
            .collect::<Result<_>>()?;
        if let Some(extra) = inputs.names().next() {
            return Err(Error::data(extra, "is not an input of the model"));
        }
        let key: ShapeKey = tensors.iter().map(|t| (t.datum_type(), t.shape().to_vec())).collect();
        let on_any_shape = self.shared.any_shape.is_some()
            && self.shared.any_shape_works.load(std::sync::atomic::Ordering::Relaxed);
        let plan = self.plan_for(key.clone())?;
        let values: tract_onnx::prelude::TVec<_> =
            tensors.into_iter().map(|t| t.into_tvalue()).collect();
        let outputs = &self.shared.outputs;
        let run = |plan: Arc<TypedRunnableModel>, values| -> Result<TensorMap> {
            let tensors = calibr8_core::contain("tract", "running a batch", || {
                plan.run(values).map_err(err)
            })?;
            outputs
                .iter()
                .zip(tensors)
                .map(|(name, v)| Ok((name.clone(), from_tract(v.into_tensor())?)))
                .collect()
        };
        match run(plan, values.clone()) {
            // The shape-generic plan could not follow these inputs (or left a captured shape
            // tensor symbolic): plan for their shapes, from now on.
            Err(e) if on_any_shape && self.shared.inference.is_some() => {
                tracing::debug!(
                    "{}: tract's plan for symbolic input dims failed ({e}); planning per batch \
                     shape",
                    self.shared.origin
                );
                self.shared.any_shape_works.store(false, std::sync::atomic::Ordering::Relaxed);
                run(self.plan_for(key)?, values)
            }
            result => result,
        }
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
    } else if dt == tract_onnx::prelude::TDim::datum_type() {
        // Shape arithmetic (ONNX int64): concrete once the plan knows the input shapes.
        TensorValue::I64(
            t.cast_to::<i64>().map_err(err)?.into_owned().into_plain_array::<i64>().map_err(err)?,
        )
    } else {
        TensorValue::F32(
            t.cast_to::<f32>().map_err(err)?.into_owned().into_plain_array::<f32>().map_err(err)?,
        )
    })
}
