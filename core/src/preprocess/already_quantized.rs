//! Already-quantized models are refused: calibrating one "calibrates 0 tensors" (its int8 ops
//! read no float activations calibr8 would quantize) and ships the model unchanged, exit 0.

use super::edit::for_each_subgraph_node;
use crate::internal::*;
use crate::pb;

/// Default-domain ops that only appear in quantized models.
const QUANTIZED_OPS: [&str; 6] = [
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "ConvInteger",
    "MatMulInteger",
    "QLinearConv",
];

/// True for an op that computes on quantized data: the default-domain ops above and any
/// `QLinear*`, and ONNX Runtime's contrib quantized ops (`com.microsoft`: QLinear*, QGemm,
/// QAttention, QOrdered*, DynamicQuantize*, MatMulInteger*, MatMulNBits, ...).
pub(crate) fn is_quantized_op(node: &pb::NodeProto) -> bool {
    let op = node.op_type.as_str();
    let q_prefixed = op.len() > 1 && op.starts_with('Q') && op[1..].starts_with(char::is_uppercase);
    match node.domain.as_str() {
        "" | "ai.onnx" => QUANTIZED_OPS.contains(&op) || op.starts_with("QLinear"),
        "com.microsoft" => {
            q_prefixed
                || op.contains("Quantize")
                || op.contains("Integer")
                || op.starts_with("MatMulNBits")
                || op.starts_with("MatMulBnb4")
                || op.starts_with("MatMulFpQ4")
                || op == "GatherBlockQuantized"
        }
        _ => false,
    }
}

/// An error naming the quantized ops of `model` (main graph and subgraphs), if it has any.
pub fn refuse_quantized(model: &OnnxModel) -> Result<()> {
    let mut found: Vec<(String, String)> = vec![];
    let mut check = |n: &pb::NodeProto| {
        if is_quantized_op(n) {
            let op = if n.domain.is_empty() { n.op_type.clone() } else {
                format!("{}:{}", n.domain, n.op_type)
            };
            found.push((n.name.clone(), op));
        }
    };
    for n in &model.graph().node {
        check(n);
    }
    for_each_subgraph_node(model.graph(), &mut check);
    let Some((node, op_type)) = found.first().cloned() else {
        return Ok(());
    };
    let mut ops: Vec<&str> = found.iter().map(|(_, op)| op.as_str()).collect();
    ops.sort_unstable();
    ops.dedup();
    Err(Error::UnsupportedNode {
        path: model.origin.clone(),
        node,
        op_type,
        reason: format!(
            "the model is already quantized ({} quantized node(s): {}); calibr8 calibrates float \
             models. Give it the float model this one was made from",
            found.len(),
            ops.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(domain: &str, op: &str) -> pb::NodeProto {
        pb::NodeProto { domain: domain.into(), op_type: op.into(), ..Default::default() }
    }

    #[test]
    fn recognises_quantized_ops() {
        for (d, op) in [
            ("", "QuantizeLinear"),
            ("", "DequantizeLinear"),
            ("", "QLinearMatMul"),
            ("", "ConvInteger"),
            ("", "MatMulInteger"),
            ("", "DynamicQuantizeLinear"),
            ("com.microsoft", "DynamicQuantizeLSTM"),
            ("com.microsoft", "QGemm"),
            ("com.microsoft", "QLinearAdd"),
            ("com.microsoft", "QAttention"),
            ("com.microsoft", "MatMulIntegerToFloat"),
            ("com.microsoft", "MatMulNBits"),
        ] {
            assert!(is_quantized_op(&node(d, op)), "{d}:{op}");
        }
        for (d, op) in [("", "Conv"), ("com.microsoft", "QuickGelu"), ("com.microsoft", "FusedConv")] {
            assert!(!is_quantized_op(&node(d, op)), "{d}:{op}");
        }
    }
}
