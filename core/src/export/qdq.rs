//! The QDQ ONNX exporter: QuantizeLinear/DequantizeLinear pairs on quantized activations, int8
//! weight initializers behind DequantizeLinear (per-channel with `axis`), as ONNX Runtime's
//! `quantize_static` and TensorRT's explicit-quantization path expect.
//!
//! Names: the pair on tensor `t` is `t.quant` / `t.dequant` producing `t.quantized` /
//! `t.dequantized`, with initializers `t.scale` and `t.zero_point`; a weight `w` becomes the int8
//! initializer `w.quantized`. The TensorRT cache and reports use the same `t`.

use crate::internal::*;
use crate::ops::Opset13;
use crate::pb;
use crate::plan::TensorRole;
use calibr8_calibration::{QuantDtype, QuantParams};
use std::collections::{HashMap, HashSet};

const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const INT8: i32 = 3;
const INT64: i32 = 7;

/// Builds the QDQ model of `q` (opset raised to 13 when per-channel Q/DQ needs it).
///
/// ```no_run
/// # fn demo(q: &calibr8_core::QuantizedModel) -> calibr8_core::Result<()> {
/// let qdq = calibr8_core::export::qdq_model(q)?;
/// std::fs::write("model.qdq.onnx", qdq.to_bytes()).unwrap();
/// # Ok(()) }
/// ```
pub fn qdq_model(q: &QuantizedModel) -> Result<OnnxModel> {
    let mut proto = q.model.proto.clone();
    let origin = q.model.origin.clone();
    let per_channel = q.tensors.values().any(|t| t.params.axis.is_some());
    if per_channel && q.model.opset() < 13 {
        upgrade_to_opset13(&mut proto, &origin)?;
    }
    if proto.ir_version < 7 {
        proto.ir_version = 7;
    }
    let graph = proto.graph.as_mut().ok_or_else(|| Error::InvalidModel {
        path: origin.clone(),
        reason: "the model has no graph".into(),
    })?;
    let view = Graph::new(&q.model);

    // New nodes to insert after the producer of each tensor (None: at the start).
    let mut after: HashMap<Option<String>, Vec<pb::NodeProto>> = HashMap::new();
    // (consumer node, old input) -> new input.
    let mut rewire: HashMap<(String, String), String> = HashMap::new();
    let mut new_inits = vec![];

    for (name, tq) in &q.tensors {
        let params = &tq.params;
        let scale_name = format!("{name}.scale");
        let zp_name = format!("{name}.zero_point");
        new_inits.push(scale_tensor(&scale_name, params));
        new_inits.push(zero_point_tensor(&zp_name, params));
        let dq_out = format!("{name}.dequantized");
        let consumers: Vec<String> = if tq.target.consumers.is_empty() {
            view.consumers(name).map(|n| n.name.clone()).collect()
        } else {
            tq.target.consumers.clone()
        };
        for c in &consumers {
            rewire.insert((c.clone(), name.clone()), dq_out.clone());
        }
        let axis_attr = params.axis.map(|a| int_attr("axis", a as i64));
        match tq.target.role {
            TensorRole::Weight => {
                let proto_w = view.constant(name).ok_or_else(|| Error::UnknownTensor {
                    tensor: name.clone(),
                    path: origin.clone(),
                })?;
                let (values, dims) =
                    crate::graph::tensor_f32(proto_w).map_err(|reason| Error::InvalidModel {
                        path: origin.clone(),
                        reason: format!("weight '{name}' {reason}"),
                    })?;
                new_inits.push(quantized_weight(
                    &format!("{name}.quantized"),
                    &values,
                    &dims,
                    params,
                    &origin,
                )?);
                let dq = node(
                    &format!("{name}.dequant"),
                    "DequantizeLinear",
                    vec![format!("{name}.quantized"), scale_name, zp_name],
                    vec![dq_out],
                    axis_attr,
                );
                after.entry(None).or_default().push(dq);
            }
            TensorRole::Activation => {
                let q_out = format!("{name}.quantized");
                let qn = node(
                    &format!("{name}.quant"),
                    "QuantizeLinear",
                    vec![name.clone(), scale_name.clone(), zp_name.clone()],
                    vec![q_out.clone()],
                    axis_attr.clone(),
                );
                let dq = node(
                    &format!("{name}.dequant"),
                    "DequantizeLinear",
                    vec![q_out, scale_name, zp_name],
                    vec![dq_out],
                    axis_attr,
                );
                let producer = view.producer(name).map(|n| n.name.clone());
                after.entry(producer).or_default().extend([qn, dq]);
            }
        }
    }

    // CPU preset: int32 biases, so ONNX Runtime fuses Conv / Gemm into int8 kernels.
    let mut float_biases: HashSet<String> = HashSet::new();
    if q.config.preset.quantizes_bias() {
        for proto_node in &graph.node {
            if q.node_precision.get(&proto_node.name) != Some(&crate::config::Precision::Int8) {
                continue;
            }
            if let Some(bias) = super::qdq_bias::int32_bias(q, &view, proto_node)? {
                rewire.insert((proto_node.name.clone(), bias.float_bias.clone()), bias.dequantized);
                new_inits.extend(bias.initializers);
                after.entry(None).or_default().push(bias.dequant);
                float_biases.insert(bias.float_bias);
            }
        }
    }

    // Rebuild the node list in topological order with the Q/DQ nodes in place.
    let mut nodes = after.remove(&None).unwrap_or_default();
    for mut n in std::mem::take(&mut graph.node) {
        for input in n.input.iter_mut() {
            if let Some(new) = rewire.get(&(n.name.clone(), input.clone())) {
                *input = new.clone();
            }
        }
        let name = n.name.clone();
        nodes.push(n);
        if let Some(extra) = after.remove(&Some(name)) {
            nodes.extend(extra);
        }
    }
    graph.node = nodes;

    // Drop float weights nothing reads any more (their int8 copies replace them).
    let used: HashSet<String> = graph.node.iter().flat_map(|n| n.input.iter().cloned()).collect();
    let outputs: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let dead = |name: &str| !used.contains(name) && !outputs.contains(name);
    let weight_names: HashSet<&String> =
        q.weights().map(|t| &t.target.tensor).chain(&float_biases).collect();
    graph.initializer.retain(|t| !(weight_names.contains(&t.name) && dead(&t.name)));
    graph.input.retain(|i| !(weight_names.contains(&i.name) && dead(&i.name)));
    graph.node.retain(|n| {
        !(n.op_type == "Constant"
            && n.output.len() == 1
            && weight_names.contains(&n.output[0])
            && dead(&n.output[0]))
    });
    graph.initializer.extend(new_inits);
    OnnxModel::from_proto(proto, format!("{origin} (QDQ)"))
}

pub(super) fn node(
    name: &str,
    op_type: &str,
    input: Vec<String>,
    output: Vec<String>,
    attr: Option<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        name: name.to_string(),
        op_type: op_type.to_string(),
        input,
        output,
        attribute: attr.into_iter().collect(),
        ..Default::default()
    }
}

fn int_attr(name: &str, value: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        i: value,
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        ..Default::default()
    }
}

fn ints_tensor(name: &str, values: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_string(),
        dims: vec![values.len() as i64],
        data_type: INT64,
        raw_data: pb::raw_data(values),
        ..Default::default()
    }
}

fn param_dims(params: &QuantParams) -> Vec<i64> {
    match params.axis {
        Some(_) => vec![params.scale.len() as i64],
        None => vec![],
    }
}

pub(super) fn scale_tensor(name: &str, params: &QuantParams) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_string(),
        dims: param_dims(params),
        data_type: FLOAT,
        raw_data: pb::raw_data(&params.scale),
        ..Default::default()
    }
}

pub(super) fn zero_point_tensor(name: &str, params: &QuantParams) -> pb::TensorProto {
    let (data_type, raw_data) = match params.spec.dtype {
        QuantDtype::Int8 => (INT8, params.zero_point.iter().map(|&z| z as i8 as u8).collect()),
        QuantDtype::Uint8 => (UINT8, params.zero_point.iter().map(|&z| z as u8).collect()),
    };
    pb::TensorProto {
        name: name.to_string(),
        dims: param_dims(params),
        data_type,
        raw_data,
        ..Default::default()
    }
}

/// The weight quantized with its (narrow-range) parameters, channel by channel. An error when
/// the parameters do not fit the weight's shape (`origin` names the model).
pub(super) fn quantized_weight(
    name: &str,
    values: &[f32],
    dims: &[usize],
    params: &QuantParams,
    origin: &str,
) -> Result<pb::TensorProto> {
    let q = params.quantize_all(values, dims).ok_or_else(|| Error::InvalidModel {
        path: origin.to_string(),
        reason: format!(
            "weight '{name}' shaped {dims:?} does not fit its {} scale(s) on axis {:?}; \
             quantize the model again",
            params.scale.len(),
            params.axis
        ),
    })?;
    let data: Vec<u8> = q
        .into_iter()
        .map(|q| match params.spec.dtype {
            QuantDtype::Int8 => q as i8 as u8,
            QuantDtype::Uint8 => q as u8,
        })
        .collect();
    let data_type = match params.spec.dtype {
        QuantDtype::Int8 => INT8,
        QuantDtype::Uint8 => UINT8,
    };
    Ok(pb::TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type,
        raw_data: data,
        ..Default::default()
    })
}

/// Rewrites the ops whose signature changed between opsets 11/12 and 13, then declares opset 13.
fn upgrade_to_opset13(proto: &mut pb::ModelProto, origin: &str) -> Result<()> {
    let opset = crate::model::default_opset(proto);
    if opset < 11 {
        return Err(Error::InvalidModel {
            path: origin.to_string(),
            reason: format!(
                "opset {opset} is too old for per-channel Q/DQ; re-export at opset 13 \
                 (torch.onnx.export(..., opset_version=13)) or pass --per-tensor-weights"
            ),
        });
    }
    // Exact in every opset; quantize() already did it unless pre-processing was skipped.
    crate::preprocess::rewrite_legacy_softmax(proto);
    let Some(graph) = proto.graph.as_mut() else {
        return Ok(());
    };
    let mut new_inits = vec![];
    for n in graph.node.iter_mut() {
        let attr_name = match crate::ops::registry().get(&n.op_type).opset13(n) {
            Opset13::Same => continue,
            Opset13::AttributeToInput(attr_name) => attr_name,
            Opset13::Incompatible(reason) => {
                return Err(Error::UnsupportedNode {
                    path: origin.to_string(),
                    node: n.name.clone(),
                    op_type: n.op_type.clone(),
                    reason: reason.into(),
                })
            }
        };
        if let Some(pos) = n.attribute.iter().position(|a| a.name == attr_name) {
            let attr = n.attribute.remove(pos);
            let name = format!("{}.{attr_name}", n.name);
            new_inits.push(ints_tensor(&name, &attr.ints));
            // Opset 13 takes axes/split as the second input, after the data input.
            n.input.truncate(1);
            n.input.push(name);
        }
    }
    graph.initializer.extend(new_inits);
    for o in proto.opset_import.iter_mut() {
        if o.domain.is_empty() || o.domain == "ai.onnx" {
            o.version = 13;
        }
    }
    Ok(())
}
