//! Gemm and MatMul: the constant operand is the weight, per channel along its output axis; the
//! QOperator export lowers both to QLinearMatMul.

use super::*;
use crate::graph::attr_i;

pub(super) fn register(reg: &mut OpRegistry) {
    reg.insert("Gemm", Gemm);
    reg.insert("MatMul", MatMul);
}

struct Gemm;

impl OnnxOp for Gemm {
    fn input_roles(
        &self,
        node: &pb::NodeProto,
        constant_rank: &dyn Fn(usize) -> Option<usize>,
    ) -> Vec<InputRole> {
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
    }

    fn has_weights(&self) -> bool {
        true
    }

    fn qdq(&self) -> QdqPlacement {
        QdqPlacement { tensorrt_inputs: true, cpu_output: CpuOutput::OwnRange }
    }

    fn bias_input(&self, node: &pb::NodeProto) -> Option<usize> {
        let float_attr = |a: &str| node.attribute.iter().find(|t| t.name == a).map(|t| t.f);
        let unscaled =
            float_attr("alpha").unwrap_or(1.0) == 1.0 && float_attr("beta").unwrap_or(1.0) == 1.0;
        node.input.get(2).filter(|c| !c.is_empty() && unscaled).map(|_| 2)
    }

    fn qlinear_op(&self) -> Option<QLinearOp> {
        Some(QLinearOp::MatMul)
    }

    fn qlinear_form(
        &self,
        node: &pb::NodeProto,
        w: &WeightShape<'_>,
    ) -> Result<QLinearForm, String> {
        let float_attr = |a: &str| node.attribute.iter().find(|t| t.name == a).map(|t| t.f);
        if attr_i(node, "transA").unwrap_or(0) != 0 {
            return Err("transA = 1 is not lowered".into());
        }
        if float_attr("alpha").unwrap_or(1.0) != 1.0 || float_attr("beta").unwrap_or(1.0) != 1.0 {
            return Err("alpha or beta ≠ 1 is not lowered".into());
        }
        let trans_b = attr_i(node, "transB").unwrap_or(0) != 0;
        if w.rank != 2 || w.axis.is_some_and(|a| a != if trans_b { 0 } else { 1 }) {
            return Err(format!("weight '{}' is not a rank-2 constant per output feature", w.name));
        }
        Ok(QLinearForm { op: QLinearOp::MatMul, bias_input: Some(2), transpose_weight: trans_b })
    }

    fn tensorrt(&self) -> TrtRole {
        TrtRole::Weighted
    }

    fn burn(&self) -> bool {
        true
    }
}

struct MatMul;

impl OnnxOp for MatMul {
    fn input_roles(
        &self,
        node: &pb::NodeProto,
        constant_rank: &dyn Fn(usize) -> Option<usize>,
    ) -> Vec<InputRole> {
        // A @ B with a constant B [.., K, N]: output features are B's last axis.
        (0..node.input.len())
            .map(|ix| match (ix, constant_rank(ix)) {
                (1, Some(rank)) if rank >= 2 => InputRole::Weight { channel_axis: rank - 1 },
                (_, Some(_)) => InputRole::Keep,
                _ => InputRole::Activation,
            })
            .collect()
    }

    fn has_weights(&self) -> bool {
        true
    }

    fn qdq(&self) -> QdqPlacement {
        QdqPlacement { tensorrt_inputs: true, cpu_output: CpuOutput::OwnRange }
    }

    fn qlinear_op(&self) -> Option<QLinearOp> {
        Some(QLinearOp::MatMul)
    }

    fn qlinear_form(
        &self,
        _node: &pb::NodeProto,
        w: &WeightShape<'_>,
    ) -> Result<QLinearForm, String> {
        if w.rank != 2 || w.axis.is_some_and(|a| a != 1) {
            return Err(format!("weight '{}' is not a rank-2 [K, N] constant", w.name));
        }
        Ok(QLinearForm { op: QLinearOp::MatMul, bias_input: None, transpose_weight: false })
    }

    fn tensorrt(&self) -> TrtRole {
        TrtRole::Weighted
    }

    fn burn(&self) -> bool {
        true
    }
}
