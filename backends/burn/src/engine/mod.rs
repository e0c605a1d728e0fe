//! An ONNX graph interpreter over burn tensors.
//!
//! At preparation the graph is checked (every op type has a kernel, every captured name
//! exists), constants are uploaded once, and every node whose inputs are all constant is
//! evaluated once (constant folding: the DequantizeLinear of int8 weights, shape arithmetic on
//! constants). What is left runs per batch, in the file's (topological) order, and values are
//! dropped as soon as no later node, output or capture needs them.

mod attrs;
mod constant;
mod ops;
mod value;

use burn::tensor::Device;
use calibr8_core::{Error, OnnxModel, Result};
use calibr8_core::{TensorMap, TensorValue};
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use tract_onnx::pb;
use value::{FloatValue, Value};

/// The opset assumed when a model declares none (the latest calibr8 reads).
const DEFAULT_OPSET: i64 = 21;

/// A model prepared for the burn device.
pub(crate) struct Interpreter {
    device: Device,
    origin: String,
    opset: i64,
    /// The nodes that run per batch, in order.
    steps: Vec<pb::NodeProto>,
    /// Initializers, `Constant` outputs and folded nodes' outputs.
    constants: HashMap<String, Value>,
    /// ONNX element types of the constants read from the file.
    elem_types: HashMap<String, i32>,
    inputs: Vec<(String, Vec<Option<usize>>)>,
    input_names: Vec<String>,
    /// Model outputs, then captured tensors.
    outputs: Vec<String>,
    /// For each step, the values no later step nor output needs.
    drop_after: Vec<Vec<String>>,
}

impl Interpreter {
    /// Checks `model`, uploads its constants and folds what is constant.
    pub(crate) fn new(model: &OnnxModel, capture: &[String], device: Device) -> Result<Self> {
        let origin = model.origin.clone();
        let g = model.graph();
        let opset = match model.opset() {
            0 => DEFAULT_OPSET,
            v => v,
        };
        for n in &g.node {
            let domain_ok = n.domain.is_empty() || n.domain == "ai.onnx";
            if !domain_ok || !ops::SUPPORTED.contains(&n.op_type.as_str()) {
                return Err(Error::UnsupportedNode {
                    path: origin.clone(),
                    node: n.name.clone(),
                    op_type: n.op_type.clone(),
                    reason: format!(
                        "the burn backend has no kernel for {}{}; it runs {}. Run this model on \
                         the tract backend instead",
                        if domain_ok {
                            String::new()
                        } else {
                            format!("domain '{}' op ", n.domain)
                        },
                        n.op_type,
                        ops::SUPPORTED.join(", ")
                    ),
                });
            }
        }

        let mut elem_types = HashMap::new();
        let mut constants = HashMap::new();
        for t in &g.initializer {
            elem_types.insert(t.name.clone(), t.data_type);
            let v = constant::tensor_value(t, &device).map_err(|reason| Error::InvalidModel {
                path: origin.clone(),
                reason: format!("initializer '{}': {reason}", t.name),
            })?;
            constants.insert(t.name.clone(), v);
        }
        for n in g.node.iter().filter(|n| n.op_type == "Constant") {
            let t = n.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref());
            if let (Some(t), Some(out)) = (t, n.output.first()) {
                elem_types.insert(out.clone(), t.data_type);
            }
        }

        let inputs: Vec<(String, Vec<Option<usize>>)> =
            model.inputs().into_iter().map(|i| (i.name, i.dims)).collect();
        let mut known: HashSet<&str> = inputs.iter().map(|(n, _)| n.as_str()).collect();
        known.extend(g.initializer.iter().map(|t| t.name.as_str()));
        known.extend(g.node.iter().flat_map(|n| n.output.iter().map(String::as_str)));
        let mut outputs: Vec<String> = model.outputs().into_iter().map(|o| o.name).collect();
        for name in capture {
            if !known.contains(name.as_str()) {
                return Err(Error::UnknownTensor { tensor: name.clone(), path: origin.clone() });
            }
            outputs.push(name.clone());
        }

        let mut interp = Interpreter {
            device,
            origin,
            opset,
            steps: vec![],
            constants,
            elem_types,
            input_names: inputs.iter().map(|(n, _)| n.clone()).collect(),
            inputs,
            outputs,
            drop_after: vec![],
        };
        for n in &g.node {
            let all_constant =
                n.input.iter().filter(|i| !i.is_empty()).all(|i| interp.constants.contains_key(i));
            if all_constant {
                let values = interp.eval(n, &HashMap::new())?;
                for (name, v) in n.output.iter().zip(values) {
                    interp.constants.insert(name.clone(), v);
                }
            } else {
                interp.steps.push(n.clone());
            }
        }
        interp.drop_after = interp.plan_drops();
        Ok(interp)
    }

    /// Which runtime values die after each step (their last reader), never outputs.
    fn plan_drops(&self) -> Vec<Vec<String>> {
        let keep: HashSet<&String> = self.outputs.iter().collect();
        let mut last: HashMap<&String, usize> = HashMap::new();
        for (ix, n) in self.steps.iter().enumerate() {
            for name in n.input.iter().chain(&n.output) {
                if !self.constants.contains_key(name) {
                    last.insert(name, ix);
                }
            }
        }
        for name in &self.input_names {
            last.entry(name).or_insert(0);
        }
        let mut drops = vec![vec![]; self.steps.len()];
        for (name, ix) in last {
            if !keep.contains(name) && !name.is_empty() && ix < drops.len() {
                drops[ix].push(name.clone());
            }
        }
        drops
    }

    /// The model's input names.
    pub(crate) fn input_names(&self) -> &[String] {
        &self.input_names
    }

    /// Model outputs, then captures.
    pub(crate) fn output_names(&self) -> &[String] {
        &self.outputs
    }

    /// Runs one node on values from `env` or the constants.
    fn eval(&self, n: &pb::NodeProto, env: &HashMap<String, Value>) -> Result<Vec<Value>> {
        let fail = |reason: String| {
            Error::backend(
                "burn",
                format!("{}: node '{}' ({}): {reason}", self.origin, n.name, n.op_type),
            )
        };
        let values = n
            .input
            .iter()
            .map(|name| {
                if name.is_empty() {
                    return Ok(None);
                }
                env.get(name)
                    .or_else(|| self.constants.get(name))
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| fail(format!("input '{name}' is produced by no earlier node")))
            })
            .collect::<Result<Vec<_>>>()?;
        let inputs = ops::Inputs { node: n, values, device: &self.device };
        let elem_type = |name: &str| self.elem_types.get(name).copied();
        let cx = ops::Cx { device: &self.device, opset: self.opset, elem_type: &elem_type };
        // Kernels check shapes before calling burn; a panic inside burn is still turned into
        // an error naming the node rather than taking the caller down.
        let out = catch_unwind(AssertUnwindSafe(|| ops::eval(&inputs, &cx)))
            .map_err(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "burn panicked".into());
                fail(format!("burn panicked: {msg}"))
            })?
            .map_err(fail)?;
        Ok(out)
    }

    /// Runs one batch: one tensor per input name; returns outputs then captures, by name.
    pub(crate) fn run(&self, mut batch: TensorMap) -> Result<TensorMap> {
        let err = |reason: String| Error::backend("burn", format!("{}: {reason}", self.origin));
        let mut env: HashMap<String, Value> = HashMap::new();
        for (name, dims) in &self.inputs {
            let value = batch.remove(name).ok_or_else(|| {
                err(format!(
                    "no tensor given for input '{name}' (the model takes {})",
                    self.input_names.join(", ")
                ))
            })?;
            let shape = value.shape().to_vec();
            let fits = dims.len() == shape.len()
                && dims.iter().zip(&shape).all(|(d, s)| d.is_none_or(|d| d == *s));
            if !fits {
                return Err(err(format!(
                    "input '{name}' has shape {shape:?}, the model declares {dims:?}"
                )));
            }
            let v = match value {
                TensorValue::F32(array) => {
                    let values = array.as_standard_layout().iter().copied().collect();
                    Value::Float(
                        FloatValue::from_vec(values, &shape, &self.device)
                            .map_err(|e| err(format!("input '{name}': {e}")))?,
                    )
                }
                TensorValue::I64(a) => Value::Int(a),
                TensorValue::I32(a) => Value::Int(a.mapv(i64::from)),
                TensorValue::I8(a) => Value::Int(a.mapv(i64::from)),
                TensorValue::U8(a) => Value::Int(a.mapv(i64::from)),
                other => {
                    return Err(err(format!(
                        "input '{name}' is {}; the burn backend takes float32 and integer inputs",
                        other.elem_type()
                    )))
                }
            };
            env.insert(name.clone(), v);
        }
        if let Some(extra) = batch.names().next() {
            return Err(err(format!("'{extra}' is not an input of the model")));
        }
        for (n, drops) in self.steps.iter().zip(&self.drop_after) {
            let values = self.eval(n, &env)?;
            for (name, v) in n.output.iter().zip(values) {
                if !name.is_empty() {
                    env.insert(name.clone(), v);
                }
            }
            for name in drops {
                env.remove(name);
            }
        }
        self.outputs
            .iter()
            .map(|name| {
                let v = env
                    .get(name)
                    .or_else(|| self.constants.get(name))
                    .ok_or_else(|| err(format!("no node produced '{name}'")))?;
                let value = match v {
                    Value::Float(f) => {
                        TensorValue::F32(f.to_array().map_err(|e| err(format!("'{name}': {e}")))?)
                    }
                    Value::Int(a) => TensorValue::I64(a.clone()),
                };
                Ok((name.clone(), value))
            })
            .collect()
    }
}
