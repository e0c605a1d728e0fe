//! The registry against the facts the lowerings relied on before it existed.

use super::*;

fn node(op_type: &str, inputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        name: format!("{op_type}_0"),
        op_type: op_type.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec!["y".into()],
        ..Default::default()
    }
}

fn with_attr(mut n: pb::NodeProto, attr: pb::AttributeProto) -> pb::NodeProto {
    n.attribute.push(attr);
    n
}

#[test]
fn every_registered_op_type_is_an_onnx_op() {
    for op in registry().op_types() {
        assert!(is_onnx_op(op), "{op} is registered but is not an ai.onnx op type (typo?)");
    }
}

#[test]
fn weights_and_channel_axes() {
    let ops = registry();
    assert_eq!(ops.weighted_op_types(), ["Conv", "ConvTranspose", "Gemm", "MatMul"]);
    let rank4 = |ix: usize| (ix == 1).then_some(4);
    let conv = node("Conv", &["x", "w", "b"]);
    let roles = ops.get("Conv").input_roles(&conv, &|ix| if ix == 0 { None } else { Some(4) });
    assert_eq!(
        roles,
        [InputRole::Activation, InputRole::Weight { channel_axis: 0 }, InputRole::Keep]
    );
    let deconv = node("ConvTranspose", &["x", "w"]);
    assert_eq!(
        ops.get("ConvTranspose").input_roles(&deconv, &rank4)[1],
        InputRole::Weight { channel_axis: 1 }
    );
    let rank2 = |ix: usize| (ix >= 1).then_some(2);
    let gemm = node("Gemm", &["x", "w", "c"]);
    assert_eq!(
        ops.get("Gemm").input_roles(&gemm, &rank2)[1],
        InputRole::Weight { channel_axis: 1 }
    );
    let trans_b = pb::AttributeProto { name: "transB".into(), i: 1, ..Default::default() };
    let gemm_t = with_attr(gemm, trans_b);
    assert_eq!(
        ops.get("Gemm").input_roles(&gemm_t, &rank2)[1],
        InputRole::Weight { channel_axis: 0 }
    );
    let matmul = node("MatMul", &["x", "w"]);
    let rank3 = |ix: usize| (ix == 1).then_some(3);
    assert_eq!(
        ops.get("MatMul").input_roles(&matmul, &rank3),
        [InputRole::Activation, InputRole::Weight { channel_axis: 2 }]
    );
    // An op without weights: runtime inputs are activations, constants and omitted ones kept.
    let add = node("Add", &["x", "c", ""]);
    let c_const = |ix: usize| (ix == 1).then_some(1);
    assert_eq!(
        ops.get("Add").input_roles(&add, &c_const),
        [InputRole::Activation, InputRole::Keep, InputRole::Keep]
    );
}

#[test]
fn qdq_placement_under_tensorrt_and_cpu() {
    let ops = registry();
    assert_eq!(ops.tensorrt_preset_op_types(), ["Conv", "ConvTranspose", "Gemm", "MatMul"]);
    assert_eq!(QuantConfig::default().config_list[0].op_types, ops.tensorrt_preset_op_types());
    assert_eq!(ops.get("Conv").qdq().cpu_output, CpuOutput::OwnRange);
    assert_eq!(ops.get("MaxPool").qdq().cpu_output, CpuOutput::InputRange);
    // No QLinearConvTranspose in ONNX: its output stays float on CPU.
    assert_eq!(ops.get("ConvTranspose").qdq().cpu_output, CpuOutput::Float);
    assert_eq!(ops.get("Softmax").qdq(), QdqPlacement::NONE);
}

#[test]
fn qlinear_lowering_facts() {
    let ops = registry();
    assert_eq!(ops.qlinear_op_types(), ["Conv", "Gemm", "MatMul"]);
    let w = |rank, axis| WeightShape { name: "w", rank, axis };
    let conv = node("Conv", &["x", "w", "b"]);
    assert_eq!(
        ops.get("Conv").qlinear_form(&conv, &w(4, Some(0))),
        Ok(QLinearForm { op: QLinearOp::Conv, bias_input: Some(2), transpose_weight: false })
    );
    let err = ops.get("Conv").qlinear_form(&conv, &w(4, Some(1))).unwrap_err();
    assert!(err.contains("per output channel"), "{err}");
    let trans_b = pb::AttributeProto { name: "transB".into(), i: 1, ..Default::default() };
    let gemm = with_attr(node("Gemm", &["x", "w", "c"]), trans_b);
    assert_eq!(
        ops.get("Gemm").qlinear_form(&gemm, &w(2, Some(0))),
        Ok(QLinearForm { op: QLinearOp::MatMul, bias_input: Some(2), transpose_weight: true })
    );
    let alpha = pb::AttributeProto { name: "alpha".into(), f: 2.0, ..Default::default() };
    let scaled = with_attr(node("Gemm", &["x", "w"]), alpha);
    assert!(ops.get("Gemm").qlinear_form(&scaled, &w(2, None)).unwrap_err().contains("alpha"));
    let matmul = node("MatMul", &["x", "w"]);
    assert!(ops.get("MatMul").qlinear_form(&matmul, &w(3, None)).is_err());
    assert_eq!(QLinearOp::MatMul.op_type(), "QLinearMatMul");
}

#[test]
fn opset13_signature_changes() {
    let ops = registry();
    let squeeze = node("Squeeze", &["x"]);
    assert_eq!(ops.get("Squeeze").opset13(&squeeze), Opset13::AttributeToInput("axes"));
    assert_eq!(
        ops.get("Split").opset13(&node("Split", &["x"])),
        Opset13::AttributeToInput("split")
    );
    let softmax = node("Softmax", &["x"]);
    assert!(matches!(ops.get("Softmax").opset13(&softmax), Opset13::Incompatible(_)));
    let last = pb::AttributeProto { name: "axis".into(), i: -1, ..Default::default() };
    assert_eq!(ops.get("Softmax").opset13(&with_attr(softmax, last)), Opset13::Same);
    assert_eq!(ops.get("Conv").opset13(&node("Conv", &["x", "w"])), Opset13::Same);
}

#[test]
fn tensorrt_roles_and_range_flow() {
    let ops = registry();
    let role = |op: &str| ops.get(op).tensorrt();
    assert_eq!(role("Conv"), TrtRole::Weighted);
    for op in ["BatchNormalization", "Relu", "Clip", "LeakyRelu"] {
        assert_eq!(role(op), TrtRole::Epilogue, "{op}");
    }
    assert_eq!(role("Add"), TrtRole::Residual);
    assert_eq!(role("Sum"), TrtRole::Residual);
    assert_eq!(role("Sigmoid"), TrtRole::Other);
    let flow = |n: &pb::NodeProto| ops.get(&n.op_type).range_flow(n);
    for op in ["Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity"] {
        assert_eq!(flow(&node(op, &["x"])), RangeFlow::BothWays, "{op}");
    }
    for op in ["MaxPool", "AveragePool", "GlobalAveragePool", "Relu"] {
        assert_eq!(flow(&node(op, &["x"])), RangeFlow::Forward, "{op}");
    }
    assert_eq!(flow(&node("Conv", &["x", "w"])), RangeFlow::None);
    assert_eq!(flow(&node("Pad", &["x", "pads"])), RangeFlow::BothWays);
    assert_eq!(flow(&node("Pad", &["x", "pads", "value"])), RangeFlow::None);
    let reflect =
        pb::AttributeProto { name: "mode".into(), s: b"reflect".to_vec(), ..Default::default() };
    assert_eq!(flow(&with_attr(node("Pad", &["x", "pads"]), reflect)), RangeFlow::None);
    let value = pb::AttributeProto { name: "value".into(), f: 1.0, ..Default::default() };
    assert_eq!(flow(&with_attr(node("Pad", &["x"]), value)), RangeFlow::None);
}

#[test]
fn burn_support_is_what_the_burn_backend_ran_before_the_registry() {
    // The list burn's interpreter held itself (its kernels are checked against the registry in
    // calibr8-burn's own tests).
    assert_eq!(
        registry().burn_op_types(),
        [
            "Add",
            "AveragePool",
            "BatchNormalization",
            "Cast",
            "Clip",
            "Concat",
            "Constant",
            "Conv",
            "DequantizeLinear",
            "Div",
            "Dropout",
            "Flatten",
            "Gather",
            "Gemm",
            "GlobalAveragePool",
            "Identity",
            "MatMul",
            "MaxPool",
            "Mul",
            "Pad",
            "QuantizeLinear",
            "Relu",
            "Reshape",
            "Shape",
            "Sigmoid",
            "Slice",
            "Softmax",
            "Squeeze",
            "Sub",
            "Tanh",
            "Transpose",
            "Unsqueeze",
        ]
    );
}

#[test]
fn unlisted_op_has_every_default() {
    let op = registry().get("Erf");
    assert!(!op.has_weights() && !op.burn() && op.qlinear_op().is_none());
    assert_eq!(op.qdq(), QdqPlacement::NONE);
    assert_eq!(op.tensorrt(), TrtRole::Other);
    assert_eq!(op.range_flow(&node("Erf", &["x"])), RangeFlow::None);
}
