//! Conv and ConvTranspose: input 0 is the activation, input 1 the weight, input 2 the bias
//! (kept in float: TensorRT and ONNX Runtime fold it themselves).

use super::{activation_or_keep, InputRole, OpRegistry};
use crate::pb;

pub(super) fn register(reg: &mut OpRegistry) {
    // Conv weights are [M, C/group, k...]: output channels on axis 0.
    reg.insert("Conv", |node, rank| roles(node, rank, 0));
    // ConvTranspose weights are [C, M/group, k...]: output channels on axis 1.
    reg.insert("ConvTranspose", |node, rank| roles(node, rank, 1));
}

fn roles(
    node: &pb::NodeProto,
    constant_rank: &dyn Fn(usize) -> Option<usize>,
    channel_axis: usize,
) -> Vec<InputRole> {
    (0..node.input.len())
        .map(|ix| match ix {
            0 => activation_or_keep(constant_rank, 0),
            1 if constant_rank(1).is_some() => InputRole::Weight { channel_axis },
            1 => InputRole::Activation,
            _ => InputRole::Keep,
        })
        .collect()
}
