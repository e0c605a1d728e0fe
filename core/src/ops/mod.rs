//! What each ONNX op type means to calibr8, in one place: which inputs are weights (and along
//! which axis their output channels lie), where Q/DQ goes, how the QOperator export lowers it,
//! what TensorRT makes of it, how its opset-13 signature changed, and whether the burn backend
//! runs it. One module per op family, each implementing [`OnnxOp`] for its op types and
//! registering them in [`register_all_ops`] by their exact ONNX `op_type`, as tract's
//! `onnx/src/ops` does. The planner, both exporters, the TensorRT planner and the burn backend
//! all read this registry, so adding an op (or a fact about one) touches one family file.
//!
//! ```
//! use calibr8_core::ops::{registry, RangeFlow, TrtRole};
//! let ops = registry();
//! assert!(ops.has_weights("Conv"));
//! assert_eq!(ops.get("Relu").tensorrt(), TrtRole::Epilogue);
//! assert_eq!(ops.tensorrt_preset_op_types(), ["Conv", "ConvTranspose", "Gemm", "MatMul"]);
//! // An op no family lists gets the defaults: runtime inputs are activations, nothing else.
//! assert_eq!(ops.get("Erf").tensorrt(), TrtRole::Other);
//! ```

mod activation;
mod arithmetic;
mod conv;
mod facts;
mod linear;
mod names;
mod norm;
mod pool;
mod quant;
mod reduce;
mod shape;
mod softmax;

use crate::internal::*;
use crate::pb;
use std::collections::HashMap;
use std::sync::OnceLock;

pub use facts::{
    CpuOutput, InputRole, Opset13, QLinearForm, QLinearOp, QdqPlacement, RangeFlow, TrtRole,
    WeightShape,
};
pub use names::{is_onnx_op, ONNX_OPS};

/// The facts about one ONNX op type. Every method has the answer for an op calibr8 knows
/// nothing special about, so a family file states only what differs.
pub trait OnnxOp: Send + Sync {
    /// The quantization role of each input of `node`; `constant_rank(i)` is the rank of input
    /// `i` when it is a constant. Default: runtime inputs are activations, constants are kept.
    fn input_roles(
        &self,
        node: &pb::NodeProto,
        constant_rank: &dyn Fn(usize) -> Option<usize>,
    ) -> Vec<InputRole> {
        (0..node.input.len())
            .map(|ix| {
                if node.input[ix].is_empty() {
                    InputRole::Keep
                } else {
                    activation_or_keep(constant_rank, ix)
                }
            })
            .collect()
    }

    /// True if the op has a weight input calibr8 quantizes (per channel).
    fn has_weights(&self) -> bool {
        false
    }

    /// Where Q/DQ pairs go around this op.
    fn qdq(&self) -> QdqPlacement {
        QdqPlacement::NONE
    }

    /// The input of `node` that is added to `x·w` at scale `x.scale · w.scale` (Conv's `B`,
    /// Gemm's `C` when alpha = beta = 1): the CPU preset writes it as int32 behind a
    /// DequantizeLinear, which ONNX Runtime needs to fuse the node into an int8 kernel.
    fn bias_input(&self, node: &pb::NodeProto) -> Option<usize> {
        let _ = node;
        None
    }

    /// The ONNX QLinear operator the QOperator export lowers this op to, if any.
    fn qlinear_op(&self) -> Option<QLinearOp> {
        None
    }

    /// How `node` lowers to [`Self::qlinear_op`], given its quantized weight; the error is why
    /// this node stays float. Only called when `qlinear_op` is `Some`.
    fn qlinear_form(
        &self,
        node: &pb::NodeProto,
        weight: &WeightShape<'_>,
    ) -> Result<QLinearForm, String> {
        let _ = weight;
        Err(format!("{} is not lowered", node.op_type))
    }

    /// What opset 13 changed in this op's signature, for `node` as written at opset 11/12.
    fn opset13(&self, node: &pb::NodeProto) -> Opset13 {
        let _ = node;
        Opset13::Same
    }

    /// The part the op plays in a TensorRT int8 network.
    fn tensorrt(&self) -> TrtRole {
        TrtRole::Other
    }

    /// How `max|x|` carries between input 0 and output 0 of `node` (TensorRT's dynamic-range
    /// mode fills uncalibrated ranges with it).
    fn range_flow(&self, node: &pb::NodeProto) -> RangeFlow {
        let _ = node;
        RangeFlow::None
    }

    /// True if the burn backend has a kernel for it.
    fn burn(&self) -> bool {
        false
    }
}

/// The op types calibr8 knows something about, each with its [`OnnxOp`].
pub struct OpRegistry {
    ops: HashMap<&'static str, Box<dyn OnnxOp>>,
}

/// An op no family registers: every fact at its default.
struct Unlisted;
impl OnnxOp for Unlisted {}

/// Builds the registry with every op family calibr8 knows. [`registry`] keeps one for the
/// process.
pub fn register_all_ops() -> OpRegistry {
    let mut reg = OpRegistry { ops: HashMap::new() };
    activation::register(&mut reg);
    arithmetic::register(&mut reg);
    conv::register(&mut reg);
    linear::register(&mut reg);
    norm::register(&mut reg);
    pool::register(&mut reg);
    quant::register(&mut reg);
    reduce::register(&mut reg);
    shape::register(&mut reg);
    softmax::register(&mut reg);
    reg
}

/// The process-wide registry, built on first use.
pub fn registry() -> &'static OpRegistry {
    static REGISTRY: OnceLock<OpRegistry> = OnceLock::new();
    REGISTRY.get_or_init(register_all_ops)
}

impl OpRegistry {
    /// Registers `op_type`'s facts (a later registration replaces an earlier one).
    pub fn insert(&mut self, op_type: &'static str, op: impl OnnxOp + 'static) {
        self.ops.insert(op_type, Box::new(op));
    }

    /// The facts about `op_type` (the defaults when no family registers it).
    pub fn get(&self, op_type: &str) -> &dyn OnnxOp {
        match self.ops.get(op_type) {
            Some(op) => op.as_ref(),
            None => &Unlisted,
        }
    }

    /// Every registered op type, sorted.
    pub fn op_types(&self) -> Vec<&'static str> {
        self.sorted(|_| true)
    }

    /// True if `op_type` has weights calibr8 knows how to quantize per channel.
    pub fn has_weights(&self, op_type: &str) -> bool {
        self.get(op_type).has_weights()
    }

    /// Op types with weights, sorted.
    pub fn weighted_op_types(&self) -> Vec<&'static str> {
        self.sorted(|op| op.has_weights())
    }

    /// The op types TensorRT's preset quantizes (Q/DQ on their inputs and weights), sorted.
    pub fn tensorrt_preset_op_types(&self) -> Vec<&'static str> {
        self.sorted(|op| op.qdq().tensorrt_inputs)
    }

    /// The op types the CPU preset quantizes: those whose output ONNX Runtime's CPU kernels
    /// keep in int8 ([`CpuOutput::OwnRange`] or [`CpuOutput::InputRange`]), sorted.
    pub fn cpu_preset_op_types(&self) -> Vec<&'static str> {
        self.sorted(|op| op.qdq().cpu_output != CpuOutput::Float)
    }

    /// The op types the QOperator export lowers to an int8 operator, sorted.
    pub fn qlinear_op_types(&self) -> Vec<&'static str> {
        self.sorted(|op| op.qlinear_op().is_some())
    }

    /// The op types the burn backend runs, sorted.
    pub fn burn_op_types(&self) -> Vec<&'static str> {
        self.sorted(|op| op.burn())
    }

    /// The role of every input of `node` in `graph`.
    pub fn input_roles(&self, node: &pb::NodeProto, graph: &Graph) -> Vec<InputRole> {
        let constant_rank = |ix: usize| {
            node.input.get(ix).and_then(|name| graph.constant(name)).map(|t| t.dims.len())
        };
        self.get(&node.op_type).input_roles(node, &constant_rank)
    }

    fn sorted(&self, keep: impl Fn(&dyn OnnxOp) -> bool) -> Vec<&'static str> {
        let mut v: Vec<_> =
            self.ops.iter().filter(|(_, op)| keep(op.as_ref())).map(|(name, _)| *name).collect();
        v.sort_unstable();
        v
    }
}

/// Activation unless constant (then kept as is).
fn activation_or_keep(constant_rank: &dyn Fn(usize) -> Option<usize>, ix: usize) -> InputRole {
    if constant_rank(ix).is_some() {
        InputRole::Keep
    } else {
        InputRole::Activation
    }
}

#[cfg(test)]
mod tests;
