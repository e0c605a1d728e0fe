//! The QDQ → [`QuantizedModel`] importer: reads back the quantization of a QDQ model (the one
//! `calibr8 quantize` writes, or any QuantizeLinear/DequantizeLinear export of the same float
//! model), so the scales that were shipped can be timed or compared without recalibrating.
//!
//! Every `DequantizeLinear` names a quantized tensor: a weight when its int8 input is an
//! initializer, an activation when it reads a `QuantizeLinear`. The float tensor it stands for is
//! found through its consumers: the float model's node of the same name reads the original tensor
//! at the same input position. Scales and zero points are taken as written; the range is the one
//! they represent (`amax = 127 · scale` for symmetric int8).

use crate::graph::{attr_i, tensor_f32};
use crate::internal::*;
use crate::quantized::TensorQuant;
use crate::{TensorRole, TensorTarget};
use calibr8_calibration::{
    Granularity, Method, QuantDtype, QuantParams, QuantSpec, Scheme, TensorRange,
};
use std::collections::{BTreeMap, HashMap};

fn bad(origin: &str, reason: String) -> Error {
    Error::QdqImport { path: origin.to_string(), reason }
}

const INT8: i32 = 3;
const UINT8: i32 = 2;

/// Reads the quantization of `qdq` (a QDQ export of `float`) into a `QuantizedModel` of `float`.
///
/// ```no_run
/// use calibr8_core::{import::quantized_from_qdq, OnnxModel};
/// let float = OnnxModel::load("model.onnx")?;
/// let q = quantized_from_qdq(&float, &OnnxModel::load("out/model.qdq.onnx")?)?;
/// println!("{} quantized tensors", q.tensors.len());
/// # Ok::<(), calibr8_core::Error>(())
/// ```
pub fn quantized_from_qdq(float: &OnnxModel, qdq: &OnnxModel) -> Result<QuantizedModel> {
    let g = qdq.graph();
    let inits: HashMap<&str, _> = g.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let producer: HashMap<&str, _> =
        g.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
    let float_nodes: HashMap<&str, _> =
        float.graph().node.iter().map(|n| (n.name.as_str(), n)).collect();
    let origin = &qdq.origin;

    let mut tensors = BTreeMap::new();
    let mut node_precision = BTreeMap::new();
    for dq in g.node.iter().filter(|n| n.op_type == "DequantizeLinear") {
        let (Some(q), Some(s), Some(z), Some(out)) =
            (dq.input.first(), dq.input.get(1), dq.input.get(2), dq.output.first())
        else {
            return Err(bad(
                origin,
                format!("DequantizeLinear '{}' lacks its scale or zero point", dq.name),
            ));
        };
        // The original float tensor, through the consumers of the dequantized one.
        let mut original = None;
        let mut consumers = vec![];
        for c in g.node.iter().filter(|n| n.input.contains(out)) {
            let Some(f) = float_nodes.get(c.name.as_str()) else { continue };
            let ix = c.input.iter().position(|i| i == out).unwrap_or(usize::MAX);
            if let Some(name) = f.input.get(ix) {
                original.get_or_insert_with(|| name.clone());
                consumers.push(c.name.clone());
            }
        }
        let quantize = producer.get(q.as_str()).filter(|p| p.op_type == "QuantizeLinear");
        let (role, tensor) = if inits.contains_key(q.as_str()) {
            let Some(tensor) = original else { continue };
            // A node reading an int8 weight is an int8 node. Nodes reading only dequantized
            // activations are left undecided: a Q/DQ pair before a Relu may be the previous
            // node's `_output_` range, which the file cannot tell from an `_input_` one.
            for c in &consumers {
                node_precision.insert(c.clone(), Precision::Int8);
            }
            (TensorRole::Weight, tensor)
        } else if let Some(quant) = quantize {
            // An activation keeps its name in the QDQ model: the QuantizeLinear reads it (also
            // when nothing reads the dequantized copy, as for a graph output's range).
            (TensorRole::Activation, quant.input.first().cloned().unwrap_or_default())
        } else {
            return Err(bad(
                origin,
                format!(
                    "DequantizeLinear '{}' reads '{q}', neither an int8 initializer nor a \
                 QuantizeLinear",
                    dq.name
                ),
            ));
        };
        let param = |name: &str| {
            inits.get(name).copied().ok_or_else(|| {
                bad(
                    origin,
                    format!("'{name}' of DequantizeLinear '{}' is not an initializer", dq.name),
                )
            })
        };
        let (scale, _) =
            tensor_f32(param(s)?).map_err(|e| bad(origin, format!("scale '{s}' {e}")))?;
        let zp_proto = param(z)?;
        let (dtype, zero_point): (QuantDtype, Vec<i32>) = match zp_proto.data_type {
            INT8 => (QuantDtype::Int8, zp_proto.raw_data.iter().map(|&b| b as i8 as i32).collect()),
            UINT8 => (QuantDtype::Uint8, zp_proto.raw_data.iter().map(|&b| b as i32).collect()),
            other => {
                return Err(bad(
                    origin,
                    format!(
                        "zero point '{z}' has element type {other}; calibr8 reads int8 and \
                         uint8 (raw data)"
                    ),
                ))
            }
        };
        if zero_point.len() != scale.len() {
            return Err(bad(
                origin,
                format!("'{s}' has {} values but '{z}' has {}", scale.len(), zero_point.len()),
            ));
        }
        // Per channel when there are several scales; ONNX's default axis is 1.
        let axis = (scale.len() > 1).then(|| {
            let a = attr_i(dq, "axis").unwrap_or(1);
            let rank = inits.get(q.as_str()).map_or(0, |w| w.dims.len()) as i64;
            (if a < 0 { a + rank } else { a }).max(0) as usize
        });
        let narrow_range = role == TensorRole::Weight
            && dtype == QuantDtype::Int8
            && inits.get(q.as_str()).is_some_and(|w| w.raw_data.iter().all(|&b| b as i8 != -128));
        let symmetric = match dtype {
            QuantDtype::Int8 => zero_point.iter().all(|&z| z == 0),
            QuantDtype::Uint8 => zero_point.iter().all(|&z| z == 128),
        };
        let spec = QuantSpec {
            dtype,
            scheme: if symmetric { Scheme::Symmetric } else { Scheme::Affine },
            narrow_range,
            reduce_range: false,
        };
        // The range these parameters represent.
        let (lo, hi): (Vec<f32>, Vec<f32>) = scale
            .iter()
            .zip(&zero_point)
            .map(|(&s, &z)| ((spec.qmin() - z) as f32 * s, (spec.qmax() - z) as f32 * s))
            .unzip();
        let amax = match (spec.scheme, dtype) {
            (Scheme::Symmetric, QuantDtype::Int8) => scale.iter().map(|s| 127.0 * s).collect(),
            _ => lo.iter().zip(&hi).map(|(l, h)| l.abs().max(h.abs())).collect(),
        };
        let range = TensorRange {
            tensor: tensor.clone(),
            method: Method::MinMax,
            axis,
            min: lo,
            max: hi,
            amax,
            clipped_fraction: 0.0,
            batches: 0,
            values: 0,
        };
        let granularity =
            axis.map_or(Granularity::PerTensor, |axis| Granularity::PerChannel { axis });
        let producer_name =
            float.graph().node.iter().find(|n| n.output.contains(&tensor)).map(|n| n.name.clone());
        let target = TensorTarget {
            tensor: tensor.clone(),
            role,
            spec,
            granularity,
            consumers,
            producer: producer_name,
        };
        let params = QuantParams { scale, zero_point, axis, spec };
        tensors.insert(tensor, TensorQuant { target, range, params });
    }
    if tensors.is_empty() {
        return Err(bad(
            origin,
            format!(
                "no DequantizeLinear feeds a node of {}; pass the QDQ export of this model",
                float.origin
            ),
        ));
    }
    Ok(QuantizedModel {
        auto: Default::default(),
        auto_search: None,
        bias_corrections: vec![],
        model: float.clone(),
        tensors,
        node_precision,
        observed: Default::default(),
        config: QuantConfig::default(),
    })
}
