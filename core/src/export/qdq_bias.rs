//! Int32 bias behind a DequantizeLinear, for the CPU preset. ONNX Runtime fuses
//! `DQ(x), DQ(w), DQ(b) → Conv → Q` into QLinearConv (and Gemm into QGemm) only when every input
//! comes from a DequantizeLinear; a float bias keeps the node in float. The bias is written as
//! ONNX Runtime's quantizer writes it: `round(b / (x.scale · w.scale[c]))`, zero point 0.

use super::qdq::node;
use crate::internal::*;
use crate::pb;
use crate::plan::TensorRole;

const FLOAT: i32 = 1;
const INT32: i32 = 6;

/// The int32 bias of one node: initializers and the DequantizeLinear reading them.
pub(super) struct Int32Bias {
    /// The float bias it replaces.
    pub float_bias: String,
    /// What the node reads instead.
    pub dequantized: String,
    /// Values, scales, zero points.
    pub initializers: Vec<pb::TensorProto>,
    /// The DequantizeLinear.
    pub dequant: pb::NodeProto,
}

/// `round_half_even(b[c] / scale[c])` saturated to int32; one scale serves every channel when
/// only one is given (per-tensor weights). Shared by the QDQ and QOperator exports.
pub(super) fn int32_codes(values: &[f32], scales: &[f64]) -> Vec<i32> {
    values
        .iter()
        .enumerate()
        .map(|(c, &v)| {
            let scale = scales[c.min(scales.len().saturating_sub(1))];
            (f64::from(v) / scale).round_ties_even().clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect()
}

/// The int32 bias of `node` when its activation input and weight are quantized and its bias is
/// a 1-D constant with one value per weight channel; `None` leaves the bias float.
pub(super) fn int32_bias(
    q: &QuantizedModel,
    view: &Graph,
    proto: &pb::NodeProto,
) -> Result<Option<Int32Bias>> {
    let Some(ix) = crate::ops::registry().get(&proto.op_type).bias_input(proto) else {
        return Ok(None);
    };
    let (Some(x), Some(w), Some(b)) =
        (proto.input.first(), proto.input.get(1), proto.input.get(ix))
    else {
        return Ok(None);
    };
    let quantized = |name: &str, role| {
        q.tensors
            .get(name)
            .filter(|t| t.target.role == role && t.target.is_read_quantized_by(&proto.name))
    };
    let (Some(x), Some(w)) =
        (quantized(x, TensorRole::Activation), quantized(w, TensorRole::Weight))
    else {
        return Ok(None);
    };
    let Some(bias) = view.constant(b) else { return Ok(None) };
    let (values, dims) = crate::graph::tensor_f32(bias).map_err(|reason| Error::InvalidModel {
        path: q.model.origin.clone(),
        reason: format!("bias '{b}' of node '{}' {reason}", proto.name),
    })?;
    let channels = w.params.scale.len();
    if dims.len() != 1 || x.params.scale.len() != 1 || (channels > 1 && channels != values.len()) {
        return Ok(None);
    }
    let xs = f64::from(x.params.scale[0]);
    let scales: Vec<f32> = w.params.scale.iter().map(|&ws| (xs * f64::from(ws)) as f32).collect();
    // Quantized at the scales written into the file, which DequantizeLinear multiplies back.
    let written: Vec<f64> = scales.iter().map(|&s| f64::from(s)).collect();
    let quantized = int32_codes(&values, &written);
    let stem = format!("{}.bias", proto.name);
    let per_channel = channels > 1;
    let param_dims = if per_channel { vec![channels as i64] } else { vec![] };
    let initializers = vec![
        pb::TensorProto {
            name: format!("{stem}_quantized"),
            dims: vec![values.len() as i64],
            data_type: INT32,
            raw_data: pb::raw_data(&quantized),
            ..Default::default()
        },
        pb::TensorProto {
            name: format!("{stem}_scale"),
            dims: param_dims.clone(),
            data_type: FLOAT,
            raw_data: pb::raw_data(&scales),
            ..Default::default()
        },
        pb::TensorProto {
            name: format!("{stem}_zero_point"),
            dims: param_dims,
            data_type: INT32,
            raw_data: vec![0; 4 * scales.len()],
            ..Default::default()
        },
    ];
    let dequantized = format!("{stem}_dequantized");
    let axis = per_channel.then(|| pb::AttributeProto {
        name: "axis".into(),
        i: 0,
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        ..Default::default()
    });
    let dequant = node(
        &format!("{stem}_dequant"),
        "DequantizeLinear",
        vec![format!("{stem}_quantized"), format!("{stem}_scale"), format!("{stem}_zero_point")],
        vec![dequantized.clone()],
        axis,
    );
    Ok(Some(Int32Bias { float_bias: b.clone(), dequantized, initializers, dequant }))
}
