//! The values the interpreter passes between nodes: float tensors on the burn device, and
//! integer tensors (shapes, axes, indices) on the host.
//!
//! burn tensors carry their rank in the type, ONNX values carry it at run time. Every float
//! value is therefore held as a rank-[`MAX_RANK`] tensor whose leading dimensions are 1, plus
//! its ONNX rank. Padding with leading 1s is exactly how ONNX (numpy) broadcasting aligns
//! shapes, so element-wise ops broadcast without any per-op shape work.

use burn::tensor::{Device, Tensor, TensorData};
use calibr8_core::Result;
use ndarray::{ArrayD, IxDyn};

/// The highest ONNX rank the interpreter holds.
pub(crate) const MAX_RANK: usize = 6;

/// A float tensor of ONNX rank `rank`, stored at rank [`MAX_RANK`].
#[derive(Clone, Debug)]
pub(crate) struct FloatValue {
    pub(crate) t: Tensor<MAX_RANK>,
    pub(crate) rank: usize,
}

/// One ONNX value.
// The float variant is large (a burn tensor handle), but values live in one map per batch and
// are moved a handful of times: boxing would cost more than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// Float data on the device (int8 data after QuantizeLinear too: integers up to 2^24 are
    /// exact in f32, so simulated int8 loses nothing).
    Float(FloatValue),
    /// Integer data on the host: shape arithmetic is constant-folded there.
    Int(ArrayD<i64>),
}

/// `shape` left-padded with 1s to [`MAX_RANK`] dimensions; `None` if the rank is too high.
pub(crate) fn pad_shape(shape: &[usize]) -> Option<[usize; MAX_RANK]> {
    if shape.len() > MAX_RANK {
        return None;
    }
    let mut out = [1; MAX_RANK];
    out[MAX_RANK - shape.len()..].copy_from_slice(shape);
    Some(out)
}

fn rank_error(shape: &[usize]) -> String {
    format!(
        "a tensor of shape {shape:?} has rank {}; the burn interpreter holds ranks up to {MAX_RANK}",
        shape.len()
    )
}

impl FloatValue {
    /// Wraps a rank-6 tensor whose last `rank` dimensions are the ONNX shape.
    pub(crate) fn new(t: Tensor<MAX_RANK>, rank: usize) -> FloatValue {
        FloatValue { t, rank }
    }

    /// Uploads host values of shape `shape` to `device`.
    pub(crate) fn from_vec(
        values: Vec<f32>,
        shape: &[usize],
        device: &Device,
    ) -> Result<FloatValue, String> {
        let padded = pad_shape(shape).ok_or_else(|| rank_error(shape))?;
        let expected: usize = shape.iter().product();
        if values.len() != expected {
            return Err(format!("{} values for shape {shape:?}", values.len()));
        }
        let t = Tensor::from_data(TensorData::new(values, padded), device);
        Ok(FloatValue { t, rank: shape.len() })
    }

    /// The ONNX shape.
    pub(crate) fn shape(&self) -> Vec<usize> {
        self.t.dims()[MAX_RANK - self.rank..].to_vec()
    }

    /// The number of elements.
    pub(crate) fn len(&self) -> usize {
        self.t.dims().iter().product()
    }

    /// The same data under another ONNX shape (same number of elements, checked by the caller).
    pub(crate) fn reshape(self, shape: &[usize]) -> Result<FloatValue, String> {
        let padded = pad_shape(shape).ok_or_else(|| rank_error(shape))?;
        Ok(FloatValue { t: self.t.reshape(padded), rank: shape.len() })
    }

    /// The data as an exact-rank burn tensor (the caller checked `self.rank == D`).
    pub(crate) fn to_rank<const D: usize>(&self) -> Tensor<D> {
        let dims = self.t.dims();
        let mut shape = [1; D];
        shape.copy_from_slice(&dims[MAX_RANK - D..]);
        self.t.clone().reshape(shape)
    }

    /// Wraps an exact-rank burn tensor.
    pub(crate) fn from_rank<const D: usize>(t: Tensor<D>) -> FloatValue {
        let dims = t.dims();
        let mut shape = [1; MAX_RANK];
        shape[MAX_RANK - D..].copy_from_slice(&dims);
        FloatValue { t: t.reshape(shape), rank: D }
    }

    /// Downloads the data to the host.
    pub(crate) fn to_array(&self) -> Result<ArrayD<f32>, String> {
        let values: Vec<f32> =
            self.t.clone().try_into_vec_as::<f32>().map_err(|e| format!("{e:?}"))?;
        ArrayD::from_shape_vec(IxDyn(&self.shape()), values).map_err(|e| e.to_string())
    }
}

impl Value {
    /// A short description for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Float(f) => format!("float {:?}", f.shape()),
            Value::Int(a) => format!("int64 {:?}", a.shape()),
        }
    }

    /// The ONNX shape.
    pub(crate) fn shape(&self) -> Vec<usize> {
        match self {
            Value::Float(f) => f.shape(),
            Value::Int(a) => a.shape().to_vec(),
        }
    }
}
