//! ONNX constants (initializers, `Constant` nodes) as interpreter values: float tensors go to
//! the device, integer tensors (shapes, axes, int8 weights, zero points) stay on the host.

use super::attrs::Attrs;
use super::value::{FloatValue, Value};
use burn::tensor::Device;
use calibr8_core::pb;
use ndarray::{ArrayD, IxDyn};

/// ONNX element types the interpreter reads.
pub(crate) mod elem {
    pub(crate) const FLOAT: i32 = 1;
    pub(crate) const UINT8: i32 = 2;
    pub(crate) const INT8: i32 = 3;
    pub(crate) const UINT16: i32 = 4;
    pub(crate) const INT16: i32 = 5;
    pub(crate) const INT32: i32 = 6;
    pub(crate) const INT64: i32 = 7;
    pub(crate) const BOOL: i32 = 9;
    pub(crate) const DOUBLE: i32 = 11;
    pub(crate) const UINT32: i32 = 12;
    pub(crate) const UINT64: i32 = 13;
}

/// True for the element types held as [`Value::Float`].
pub(crate) fn is_float(data_type: i32) -> bool {
    matches!(data_type, elem::FLOAT | elem::DOUBLE)
}

/// Reads an integer tensor's values (raw little-endian bytes or the typed fields).
fn ints(t: &pb::TensorProto) -> Result<Vec<i64>, String> {
    let raw = &t.raw_data;
    let from_raw = !raw.is_empty();
    let values: Vec<i64> = match t.data_type {
        elem::INT8 if from_raw => raw.iter().map(|&b| i64::from(b as i8)).collect(),
        elem::UINT8 | elem::BOOL if from_raw => raw.iter().map(|&b| i64::from(b)).collect(),
        elem::INT16 if from_raw => {
            raw.chunks_exact(2).map(|c| i64::from(i16::from_le_bytes([c[0], c[1]]))).collect()
        }
        elem::UINT16 if from_raw => {
            raw.chunks_exact(2).map(|c| i64::from(u16::from_le_bytes([c[0], c[1]]))).collect()
        }
        elem::INT32 if from_raw => raw
            .chunks_exact(4)
            .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        elem::UINT32 if from_raw => raw
            .chunks_exact(4)
            .map(|c| i64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        elem::INT64 | elem::UINT64 if from_raw => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        // The typed storage of the small integer types is int32_data, one value per element.
        elem::INT8 | elem::UINT8 | elem::BOOL | elem::INT16 | elem::UINT16 | elem::INT32 => {
            t.int32_data.iter().map(|&v| i64::from(v)).collect()
        }
        elem::INT64 => t.int64_data.clone(),
        elem::UINT32 | elem::UINT64 => t.uint64_data.iter().map(|&v| v as i64).collect(),
        other => return Err(format!("element type {other} is not supported by the burn backend")),
    };
    Ok(values)
}

/// The value of a `TensorProto`.
pub(crate) fn tensor_value(t: &pb::TensorProto, device: &Device) -> Result<Value, String> {
    if is_float(t.data_type) {
        let (values, dims) = calibr8_core::graph::tensor_f32(t)?;
        return Ok(Value::Float(FloatValue::from_vec(values, &dims, device)?));
    }
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let values = ints(t)?;
    ArrayD::from_shape_vec(IxDyn(&dims), values)
        .map(Value::Int)
        .map_err(|_| format!("tensor '{}': its data does not fill its dims {dims:?}", t.name))
}

/// The value of a `Constant` node (`value`, or one of the scalar / list attribute forms).
pub(crate) fn constant_node(node: &pb::NodeProto, device: &Device) -> Result<Value, String> {
    let a = Attrs(node);
    if let Some(t) = a.tensor("value") {
        return tensor_value(t, device);
    }
    if a.has("value_float") {
        let v = a.float("value_float", 0.0);
        return Ok(Value::Float(FloatValue::from_vec(vec![v], &[], device)?));
    }
    if let Some(v) = a.floats("value_floats") {
        return Ok(Value::Float(FloatValue::from_vec(v.to_vec(), &[v.len()], device)?));
    }
    if a.has("value_int") {
        return Ok(Value::Int(ArrayD::from_elem(IxDyn(&[]), a.int("value_int", 0))));
    }
    if let Some(v) = a.ints("value_ints") {
        return Ok(Value::Int(
            ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).map_err(|e| e.to_string())?,
        ));
    }
    Err("a Constant node needs a value, value_float(s) or value_int(s) attribute \
         (sparse and string constants are not supported)"
        .into())
}
