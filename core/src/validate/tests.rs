//! One small model per rule: each must be refused with a message naming the place and the fix.

use super::*;
use crate::model::OnnxModel;

fn dim(v: i64) -> pb::tensor_shape_proto::Dimension {
    pb::tensor_shape_proto::Dimension {
        value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)),
        ..Default::default()
    }
}

fn sym(name: &str) -> pb::tensor_shape_proto::Dimension {
    pb::tensor_shape_proto::Dimension {
        value: Some(pb::tensor_shape_proto::dimension::Value::DimParam(name.into())),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: Vec<pb::tensor_shape_proto::Dimension>) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto { dim: dims }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(name: &str, op: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), ints: v.to_vec(), r#type: 7, ..Default::default() }
}

fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), i: v, r#type: 2, ..Default::default() }
}

fn i64_tensor(name: &str, dims: &[i64], v: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

fn f32_tensor(name: &str, dims: &[i64], v: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: v.to_vec(),
        ..Default::default()
    }
}

/// `x [N, 1, 4, 4]` → nodes → `y`, opset 13.
fn model(nodes: Vec<pb::NodeProto>, inits: Vec<pb::TensorProto>) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(pb::GraphProto {
            node: nodes,
            initializer: inits,
            input: vec![value_info("x", vec![sym("N"), dim(1), dim(4), dim(4)])],
            output: vec![value_info("y", vec![])],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn conv_model(attrs: Vec<pb::AttributeProto>, wdims: &[i64]) -> pb::ModelProto {
    let n: i64 = wdims.iter().product();
    let mut conv = node("conv1", "Conv", &["x", "w"], &["y"]);
    conv.attribute = attrs;
    model(vec![conv], vec![f32_tensor("w", wdims, &vec![0.5; n as usize])])
}

fn err(proto: pb::ModelProto) -> String {
    match OnnxModel::from_proto_with(proto, "t.onnx", &Limits { max_memory: 1 << 30 }) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

fn has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "expected '{p}' in: {msg}");
    }
}

#[test]
fn bundled_models_pass() {
    for path in [
        "../examples/digits/digits_cnn.onnx",
        "../tests/data/digits_cnn_opset11.onnx",
        "../tests/data/mlp_gemm.onnx",
        "../tests/data/resnet_tiny.onnx",
        "../backends/burn/tests/data/ops_zoo.onnx",
    ] {
        OnnxModel::load(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

#[test]
fn a_valid_conv_passes() {
    OnnxModel::from_proto(conv_model(vec![ints("strides", &[1, 1])], &[2, 1, 3, 3]), "t").unwrap();
}

#[test]
fn opset_outside_the_range_or_missing() {
    let mut m = conv_model(vec![], &[2, 1, 3, 3]);
    m.opset_import[0].version = 7;
    has(&err(m.clone()), &["opset 7", "11..=21", "opset_version"]);
    m.opset_import.clear();
    has(&err(m), &["declares no opset"]);
}

#[test]
fn names_and_wiring() {
    let dup =
        model(vec![node("a", "Relu", &["x"], &["t"]), node("a", "Relu", &["t"], &["y"])], vec![]);
    // The pass refuses repeated node names; loading a model renames them first.
    let limits = Limits { max_memory: 1 << 30 };
    let refused = crate::validate::validate_proto(&dup, "t.onnx", &limits).unwrap_err();
    has(&refused.to_string(), &["node 'a' (Relu)", "unique node names"]);
    let loaded = OnnxModel::from_proto_with(dup, "t.onnx", &limits).unwrap();
    let names: Vec<&str> = loaded.graph().node.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["a", "a_1"]);
    let dangling = model(vec![node("a", "Add", &["x", "nowhere"], &["y"])], vec![]);
    has(&err(dangling), &["node 'a' (Add), input 1", "'nowhere'"]);
    let mut unproduced = model(vec![node("a", "Relu", &["x"], &["y"])], vec![]);
    unproduced.graph.as_mut().unwrap().output.push(value_info("ghost", vec![]));
    has(&err(unproduced), &["graph output 'ghost'", "not produced"]);
    let twice =
        model(vec![node("a", "Relu", &["x"], &["y"]), node("b", "Relu", &["x"], &["y"])], vec![]);
    has(&err(twice), &["tensor 'y'", "defined twice"]);
    let cycle = model(
        vec![
            node("a", "Add", &["x", "u"], &["t"]),
            node("b", "Relu", &["t"], &["u"]),
            node("c", "Relu", &["t"], &["y"]),
        ],
        vec![],
    );
    has(&err(cycle), &["cycle"]);
}

#[test]
fn custom_domains_and_unknown_ops() {
    let mut custom = model(vec![node("a", "Relu", &["x"], &["y"])], vec![]);
    custom.graph.as_mut().unwrap().node[0].domain = "com.example.custom".into();
    has(&err(custom), &["node 'a' (Relu)", "com.example.custom", "ai.onnx"]);
    let unknown = model(vec![node("a", "Relux", &["x"], &["y"])], vec![]);
    has(&err(unknown), &["'Relux' is not an ONNX operator"]);
}

#[test]
fn conv_attributes() {
    has(
        &err(conv_model(vec![ints("strides", &[0, 0])], &[2, 1, 3, 3])),
        &["node 'conv1' (Conv), attribute 'strides'", "≥ 1"],
    );
    has(
        &err(conv_model(vec![ints("pads", &[1, 1, 1])], &[2, 1, 3, 3])),
        &["attribute 'pads'", "2 × 2 spatial dims = 4"],
    );
    has(&err(conv_model(vec![ints("dilations", &[1, -1])], &[2, 1, 3, 3])), &["'dilations'"]);
    has(&err(conv_model(vec![int("group", 0)], &[2, 1, 3, 3])), &["'group'", "≥ 1"]);
    has(&err(conv_model(vec![], &[])), &["weight 'w' has rank 0", "out_channels"]);
    has(&err(conv_model(vec![int("group", 3)], &[2, 1, 3, 3])), &["'group'"]);
}

#[test]
fn axis_attributes_against_the_input_rank() {
    let mut flat = node("f", "Flatten", &["x"], &["y"]);
    flat.attribute = vec![int("axis", -10)];
    has(
        &err(model(vec![flat], vec![])),
        &["node 'f' (Flatten), attribute 'axis'", "-10", "[-4, 4]"],
    );
    // The rank flows through Relu.
    let mut soft = node("s", "Softmax", &["r"], &["y"]);
    soft.attribute = vec![int("axis", 4)];
    has(
        &err(model(vec![node("r", "Relu", &["x"], &["r"]), soft], vec![])),
        &["'s' (Softmax)", "[-4, 3]"],
    );
    let mut gemm = node("g", "Gemm", &["x", "w"], &["y"]);
    gemm.attribute = vec![int("transB", 2)];
    has(
        &err(model(vec![gemm], vec![f32_tensor("w", &[2, 2], &[0.0; 4])])),
        &["attribute 'transB'", "0 or 1"],
    );
}

#[test]
fn declared_dims() {
    let mut zero = model(vec![node("a", "Relu", &["x"], &["y"])], vec![]);
    zero.graph.as_mut().unwrap().input[0] = value_info("x", vec![dim(1), dim(0)]);
    has(&err(zero), &["input 'x'", "dim 1 is 0"]);
    let mut neg = model(vec![node("a", "Relu", &["x"], &["y"])], vec![]);
    neg.graph.as_mut().unwrap().input[0] = value_info("x", vec![dim(-3)]);
    has(&err(neg), &["input 'x'", "dim 0 is -3"]);
    let mut huge = model(vec![node("a", "Relu", &["x"], &["y"])], vec![]);
    huge.graph.as_mut().unwrap().input[0] = value_info("x", vec![dim(8_000_000_000_000), dim(512)]);
    has(&err(huge), &["input 'x'", "--max-memory"]);
}

#[test]
fn initializer_data_must_match_its_dims() {
    let mut short = conv_model(vec![], &[2, 1, 3, 3]);
    short.graph.as_mut().unwrap().initializer[0].float_data.truncate(5);
    has(&err(short), &["initializer 'w'", "holds 5 values", "need 18"]);
    let mut raw = conv_model(vec![], &[2, 1, 3, 3]);
    let init = &mut raw.graph.as_mut().unwrap().initializer[0];
    init.float_data.clear();
    init.raw_data = vec![0; 7];
    has(&err(raw), &["holds 7 bytes"]);
}

#[test]
fn constant_folding_bombs_are_refused_before_any_engine() {
    // ConstantOfShape([100000, 100000]) = 37 GiB of float.
    let bomb = model(
        vec![node("big", "ConstantOfShape", &["s"], &["c"]), node("a", "Add", &["x", "c"], &["y"])],
        vec![i64_tensor("s", &[2], &[100_000, 100_000])],
    );
    has(&err(bomb), &["node 'big' (ConstantOfShape)", "output 'c'", "GiB", "--max-memory"]);
    let expand = model(
        vec![node("e", "Expand", &["one", "s"], &["y"])],
        vec![f32_tensor("one", &[], &[1.0]), i64_tensor("s", &[3], &[4096, 4096, 1024])],
    );
    has(&err(expand), &["node 'e' (Expand)", "constant folding"]);
    let tile = model(
        vec![node("t", "Tile", &["c", "r"], &["y"])],
        vec![f32_tensor("c", &[2, 2], &[0.0; 4]), i64_tensor("r", &[2], &[1 << 20, 1 << 20])],
    );
    has(&err(tile), &["node 't' (Tile)"]);
    let range = model(
        vec![node("r", "Range", &["a", "b", "d"], &["y"])],
        vec![
            i64_tensor("a", &[], &[0]),
            i64_tensor("b", &[], &[1 << 40]),
            i64_tensor("d", &[], &[1]),
        ],
    );
    has(&err(range), &["node 'r' (Range)"]);
    let resize = model(
        vec![node("r", "Resize", &["c", "", "sc"], &["y"])],
        vec![
            f32_tensor("c", &[1, 1, 64, 64], &[0.0; 4096]),
            f32_tensor("sc", &[4], &[1.0, 1.0, 1000.0, 1000.0]),
        ],
    );
    has(&err(resize), &["node 'r' (Resize)"]);
    // Shapes computed from the shape of a fixed input, multiplied: Shape → Mul → ConstantOfShape.
    let mut chained = model(
        vec![
            node("sh", "Shape", &["x"], &["s"]),
            node("m", "Mul", &["s", "k"], &["s2"]),
            node("big", "ConstantOfShape", &["s2"], &["y"]),
        ],
        vec![i64_tensor("k", &[1], &[100_000])],
    );
    chained.graph.as_mut().unwrap().input[0] =
        value_info("x", vec![dim(1), dim(4), dim(4), dim(4)]);
    has(&err(chained), &["node 'big' (ConstantOfShape)"]);
    // A small constant computation passes.
    let small = model(
        vec![node("c", "ConstantOfShape", &["s"], &["c"]), node("a", "Add", &["x", "c"], &["y"])],
        vec![i64_tensor("s", &[1], &[4])],
    );
    OnnxModel::from_proto(small, "t").unwrap();
}

#[test]
fn the_budget_is_adjustable() {
    let model = conv_model(vec![], &[8, 1, 3, 3]);
    let w_bytes = 8 * 9 * 4;
    // The input [N, 1, 4, 4] is at least 64 B; the weight is an initializer (bounded by the
    // file), and Conv's output depends on the symbolic batch: 100 B passes.
    let tight = Limits { max_memory: 100 };
    OnnxModel::from_proto_with(model.clone(), "t", &tight).unwrap();
    assert!(w_bytes > 100);
    let tighter = Limits { max_memory: 10 };
    let err = OnnxModel::from_proto_with(model, "t", &tighter).unwrap_err().to_string();
    assert!(err.contains("--max-memory"), "{err}");
}

#[test]
fn parse_bytes_units() {
    assert_eq!(parse_bytes("1024"), Ok(1024));
    assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
    assert_eq!(parse_bytes("2 TB"), Ok(2 << 40));
    assert!(parse_bytes("0").is_err());
    assert!(parse_bytes("lots").unwrap_err().contains("not a size"));
    assert!(parse_bytes("3 parsecs").unwrap_err().contains("unknown unit"));
    assert_eq!(show_bytes(37 << 30), "37.0 GiB");
}
