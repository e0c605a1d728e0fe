//! Constant tensors as arrays, for the passes that compute with them (folding, BatchNorm):
//! float32 and int64 only, the two types weights and shape arithmetic use.

use crate::pb;
use ndarray::{ArrayD, IxDyn};

const FLOAT: i32 = 1;
const INT64: i32 = 7;

/// A constant's values.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
}

impl Value {
    /// Reads a float32 or int64 tensor (raw or typed storage); `None` for other types, external
    /// data or inconsistent sizes, which passes then leave alone.
    pub(crate) fn from_proto(t: &pb::TensorProto) -> Option<Value> {
        if t.data_location == pb::tensor_proto::DataLocation::External as i32
            || !t.external_data.is_empty()
            || t.segment.is_some()
        {
            return None;
        }
        let dims: Vec<usize> =
            t.dims.iter().map(|&d| usize::try_from(d).ok()).collect::<Option<_>>()?;
        let len: usize = dims.iter().product();
        match t.data_type {
            FLOAT => {
                let data: Vec<f32> = if t.raw_data.is_empty() {
                    t.float_data.clone()
                } else {
                    t.raw_data
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect()
                };
                (data.len() == len)
                    .then(|| ArrayD::from_shape_vec(IxDyn(&dims), data).ok().map(Value::F32))
                    .flatten()
            }
            INT64 => {
                let data: Vec<i64> = if t.raw_data.is_empty() {
                    t.int64_data.clone()
                } else {
                    t.raw_data
                        .chunks_exact(8)
                        .map(|c| {
                            i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect()
                };
                (data.len() == len)
                    .then(|| ArrayD::from_shape_vec(IxDyn(&dims), data).ok().map(Value::I64))
                    .flatten()
            }
            _ => None,
        }
    }

    /// The tensor as an initializer called `name` (raw little-endian storage).
    pub(crate) fn to_proto(&self, name: &str) -> pb::TensorProto {
        let (data_type, dims, raw_data): (i32, Vec<i64>, Vec<u8>) = match self {
            Value::F32(a) => {
                (FLOAT, a.shape().iter().map(|&d| d as i64).collect(), pb::raw_data(a))
            }
            Value::I64(a) => {
                (INT64, a.shape().iter().map(|&d| d as i64).collect(), pb::raw_data(a))
            }
        };
        pb::TensorProto { name: name.to_string(), dims, data_type, raw_data, ..Default::default() }
    }

    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            Value::F32(a) => a.shape(),
            Value::I64(a) => a.shape(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shape().iter().product()
    }

    /// The values as int64 (shape and axes inputs).
    pub(crate) fn as_i64(&self) -> Option<&ArrayD<i64>> {
        match self {
            Value::I64(a) => Some(a),
            Value::F32(_) => None,
        }
    }

    /// The values as float32 (weights).
    pub(crate) fn as_f32(&self) -> Option<&ArrayD<f32>> {
        match self {
            Value::F32(a) => Some(a),
            Value::I64(_) => None,
        }
    }

    /// Applies a shape-only operation to either element type.
    pub(crate) fn map_layout(
        &self,
        f32_op: impl Fn(&ArrayD<f32>) -> Option<ArrayD<f32>>,
        i64_op: impl Fn(&ArrayD<i64>) -> Option<ArrayD<i64>>,
    ) -> Option<Value> {
        match self {
            Value::F32(a) => f32_op(a).map(Value::F32),
            Value::I64(a) => i64_op(a).map(Value::I64),
        }
    }
}

/// The tensor a `Constant` node holds (any of its attribute forms), if calibr8 can read it.
pub(crate) fn constant_node_value(node: &pb::NodeProto) -> Option<pb::TensorProto> {
    let attr = node.attribute.first()?;
    if node.attribute.len() != 1 {
        return None;
    }
    let name = node.output.first()?.clone();
    let tensor = match attr.name.as_str() {
        "value" => pb::TensorProto { name, ..attr.t.clone()? },
        "value_float" => Value::F32(ArrayD::from_elem(IxDyn(&[]), attr.f)).to_proto(&name),
        "value_floats" => Value::F32(
            ArrayD::from_shape_vec(IxDyn(&[attr.floats.len()]), attr.floats.clone()).ok()?,
        )
        .to_proto(&name),
        "value_int" => Value::I64(ArrayD::from_elem(IxDyn(&[]), attr.i)).to_proto(&name),
        "value_ints" => {
            Value::I64(ArrayD::from_shape_vec(IxDyn(&[attr.ints.len()]), attr.ints.clone()).ok()?)
                .to_proto(&name)
        }
        _ => return None,
    };
    Some(tensor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_types() {
        let f =
            Value::F32(ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.0, -2.5, 3.0, 0.0]).unwrap());
        let i = Value::I64(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, -1, 1 << 40]).unwrap());
        for v in [f, i] {
            assert_eq!(Value::from_proto(&v.to_proto("t")), Some(v));
        }
    }

    #[test]
    fn typed_storage_and_bad_sizes() {
        let typed = pb::TensorProto {
            dims: vec![2],
            data_type: FLOAT,
            float_data: vec![1.0, 2.0],
            ..Default::default()
        };
        assert_eq!(Value::from_proto(&typed).unwrap().len(), 2);
        let short = pb::TensorProto { dims: vec![3], ..typed };
        assert_eq!(Value::from_proto(&short), None);
    }
}
