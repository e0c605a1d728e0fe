//! What each ONNX op type means for quantization: which inputs are weights (and along which
//! axis their output channels lie), which are activations. One module per op family, one
//! [`register_all_ops`] keyed by the exact ONNX `op_type`, as tract's `onnx/src/ops` does.

mod conv;
mod linear;
mod names;

use crate::internal::*;
use crate::pb;
use std::collections::HashMap;

pub use names::{is_onnx_op, ONNX_OPS};

/// The role an input of a node plays for quantization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputRole {
    /// A runtime tensor: quantized per tensor with an observed range.
    Activation,
    /// A constant weight; per-channel quantization uses `channel_axis`.
    Weight {
        /// The output-channel axis of the weight tensor.
        channel_axis: usize,
    },
    /// Never quantized (bias, shapes, indices).
    Keep,
}

/// Decides the role of each input of one node, given the node and whether each input is constant.
pub type RoleFn =
    fn(node: &pb::NodeProto, constant_rank: &dyn Fn(usize) -> Option<usize>) -> Vec<InputRole>;

/// The registry of op types with weights; every other op's non-constant inputs are activations.
pub struct OpRegistry {
    handlers: HashMap<&'static str, RoleFn>,
}

/// Builds the registry with every op family calibr8 knows.
pub fn register_all_ops() -> OpRegistry {
    let mut reg = OpRegistry { handlers: HashMap::new() };
    conv::register(&mut reg);
    linear::register(&mut reg);
    reg
}

impl OpRegistry {
    /// Registers `op_type`'s role function.
    pub fn insert(&mut self, op_type: &'static str, roles: RoleFn) {
        self.handlers.insert(op_type, roles);
    }

    /// True if `op_type` has weights calibr8 knows how to quantize per channel.
    pub fn has_weights(&self, op_type: &str) -> bool {
        self.handlers.contains_key(op_type)
    }

    /// Op types with weights, sorted.
    pub fn weighted_op_types(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.handlers.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// The role of every input of `node` in `graph`.
    pub fn input_roles(&self, node: &pb::NodeProto, graph: &Graph) -> Vec<InputRole> {
        let constant_rank = |ix: usize| {
            node.input.get(ix).and_then(|name| graph.constant(name)).map(|t| t.dims.len())
        };
        match self.handlers.get(node.op_type.as_str()) {
            Some(roles) => roles(node, &constant_rank),
            None => node
                .input
                .iter()
                .enumerate()
                .map(|(ix, name)| {
                    if name.is_empty() || constant_rank(ix).is_some() {
                        InputRole::Keep
                    } else {
                        InputRole::Activation
                    }
                })
                .collect(),
        }
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
