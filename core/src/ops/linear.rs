//! Gemm and MatMul: the constant operand is the weight, per channel along its output axis.

use super::{activation_or_keep, InputRole, OpRegistry};
use crate::graph::attr_i;

pub(super) fn register(reg: &mut OpRegistry) {
    reg.insert("Gemm", |node, constant_rank| {
        // Y = A' B' + C: B is [K, N], or [N, K] with transB=1; output features are N.
        let trans_b = attr_i(node, "transB").unwrap_or(0) != 0;
        (0..node.input.len())
            .map(|ix| match ix {
                0 => activation_or_keep(constant_rank, 0),
                1 if constant_rank(1) == Some(2) => {
                    InputRole::Weight { channel_axis: if trans_b { 0 } else { 1 } }
                }
                1 => activation_or_keep(constant_rank, 1),
                _ => InputRole::Keep,
            })
            .collect()
    });
    reg.insert("MatMul", |node, constant_rank| {
        // A @ B with a constant B [.., K, N]: output features are B's last axis.
        (0..node.input.len())
            .map(|ix| match (ix, constant_rank(ix)) {
                (1, Some(rank)) if rank >= 2 => InputRole::Weight { channel_axis: rank - 1 },
                (_, Some(_)) => InputRole::Keep,
                _ => InputRole::Activation,
            })
            .collect()
    });
}
