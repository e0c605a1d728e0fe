//! Named, typed tensors: what data sources yield and engines take and return. Models take more
//! than float images — token ids (int64), masks (bool), a sample rate (an int64 scalar) — so a
//! batch is a map from ONNX input name to a typed array, never a positional list of floats.

use crate::internal::*;
use ndarray::{ArrayD, Axis};
use std::borrow::Cow;
use std::fmt;

/// The element types calibr8 passes between data, engines and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElemType {
    /// 32-bit float (ONNX `FLOAT`, 1).
    F32,
    /// 64-bit float (ONNX `DOUBLE`, 11).
    F64,
    /// 64-bit signed integer (ONNX `INT64`, 7).
    I64,
    /// 32-bit signed integer (ONNX `INT32`, 6).
    I32,
    /// 8-bit signed integer (ONNX `INT8`, 3).
    I8,
    /// 8-bit unsigned integer (ONNX `UINT8`, 2).
    U8,
    /// Boolean (ONNX `BOOL`, 9).
    Bool,
}

impl ElemType {
    /// The ONNX `TensorProto.DataType` code.
    pub fn onnx_code(self) -> i32 {
        match self {
            ElemType::F32 => 1,
            ElemType::U8 => 2,
            ElemType::I8 => 3,
            ElemType::I32 => 6,
            ElemType::I64 => 7,
            ElemType::Bool => 9,
            ElemType::F64 => 11,
        }
    }

    /// The element type of an ONNX `TensorProto.DataType` code, if calibr8 handles it.
    pub fn from_onnx_code(code: i32) -> Option<ElemType> {
        Some(match code {
            1 => ElemType::F32,
            2 => ElemType::U8,
            3 => ElemType::I8,
            6 => ElemType::I32,
            7 => ElemType::I64,
            9 => ElemType::Bool,
            11 => ElemType::F64,
            _ => return None,
        })
    }

    /// Whether values of this type are floating point (the only ones calibration observes).
    pub fn is_float(self) -> bool {
        matches!(self, ElemType::F32 | ElemType::F64)
    }
}

impl fmt::Display for ElemType {
    /// NumPy's names (`float32`, `int64`, `bool`), since that is how users make their data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ElemType::F32 => "float32",
            ElemType::F64 => "float64",
            ElemType::I64 => "int64",
            ElemType::I32 => "int32",
            ElemType::I8 => "int8",
            ElemType::U8 => "uint8",
            ElemType::Bool => "bool",
        })
    }
}

/// One typed n-dimensional array.
///
/// ```
/// use calibr8_core::{ElemType, TensorValue};
/// let ids = TensorValue::from(ndarray::arr2(&[[101i64, 7592, 102]]).into_dyn());
/// assert_eq!(ids.elem_type(), ElemType::I64);
/// assert_eq!(ids.shape(), &[1, 3]);
/// assert_eq!(ids.to_f32().as_slice().unwrap(), &[101.0, 7592.0, 102.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TensorValue {
    /// float32.
    F32(ArrayD<f32>),
    /// float64.
    F64(ArrayD<f64>),
    /// int64.
    I64(ArrayD<i64>),
    /// int32.
    I32(ArrayD<i32>),
    /// int8.
    I8(ArrayD<i8>),
    /// uint8.
    U8(ArrayD<u8>),
    /// bool.
    Bool(ArrayD<bool>),
}

/// Applies `$body` to the array inside any variant, rebuilding the same variant when `$wrap`.
macro_rules! each_variant {
    ($value:expr, $a:ident => $body:expr) => {
        match $value {
            TensorValue::F32($a) => $body,
            TensorValue::F64($a) => $body,
            TensorValue::I64($a) => $body,
            TensorValue::I32($a) => $body,
            TensorValue::I8($a) => $body,
            TensorValue::U8($a) => $body,
            TensorValue::Bool($a) => $body,
        }
    };
    (wrap $value:expr, $a:ident => $body:expr) => {
        match $value {
            TensorValue::F32($a) => TensorValue::F32($body),
            TensorValue::F64($a) => TensorValue::F64($body),
            TensorValue::I64($a) => TensorValue::I64($body),
            TensorValue::I32($a) => TensorValue::I32($body),
            TensorValue::I8($a) => TensorValue::I8($body),
            TensorValue::U8($a) => TensorValue::U8($body),
            TensorValue::Bool($a) => TensorValue::Bool($body),
        }
    };
}

impl TensorValue {
    /// The element type.
    pub fn elem_type(&self) -> ElemType {
        match self {
            TensorValue::F32(_) => ElemType::F32,
            TensorValue::F64(_) => ElemType::F64,
            TensorValue::I64(_) => ElemType::I64,
            TensorValue::I32(_) => ElemType::I32,
            TensorValue::I8(_) => ElemType::I8,
            TensorValue::U8(_) => ElemType::U8,
            TensorValue::Bool(_) => ElemType::Bool,
        }
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        each_variant!(self, a => a.shape())
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        each_variant!(self, a => a.len())
    }

    /// Whether the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The float32 array, if that is what this is.
    pub fn as_f32(&self) -> Option<&ArrayD<f32>> {
        match self {
            TensorValue::F32(a) => Some(a),
            _ => None,
        }
    }

    /// The values as float32: borrowed when already float32, converted otherwise (booleans
    /// become 0 and 1). For metrics on any output; never for feeding an engine.
    pub fn to_f32(&self) -> Cow<'_, ArrayD<f32>> {
        match self {
            TensorValue::F32(a) => Cow::Borrowed(a),
            TensorValue::F64(a) => Cow::Owned(a.mapv(|v| v as f32)),
            TensorValue::I64(a) => Cow::Owned(a.mapv(|v| v as f32)),
            TensorValue::I32(a) => Cow::Owned(a.mapv(|v| v as f32)),
            TensorValue::I8(a) => Cow::Owned(a.mapv(f32::from)),
            TensorValue::U8(a) => Cow::Owned(a.mapv(f32::from)),
            TensorValue::Bool(a) => Cow::Owned(a.mapv(|v| if v { 1.0 } else { 0.0 })),
        }
    }

    /// The float32 array, taken out of the value; other types are converted as in
    /// [`TensorValue::to_f32`].
    pub fn into_f32(self) -> ArrayD<f32> {
        match self {
            TensorValue::F32(a) => a,
            other => other.to_f32().into_owned(),
        }
    }

    /// Converts to `to` where no value can change: float64 → float32 (NumPy's default float;
    /// calibration data is then read as the model declares it), and widening integers. Anything
    /// else is `None`, for the caller to report with the tensor's name.
    pub fn cast_losslessly(self, to: ElemType) -> Option<TensorValue> {
        if self.elem_type() == to {
            return Some(self);
        }
        Some(match (self, to) {
            (TensorValue::F64(a), ElemType::F32) => TensorValue::F32(a.mapv(|v| v as f32)),
            (TensorValue::F32(a), ElemType::F64) => TensorValue::F64(a.mapv(f64::from)),
            (TensorValue::I32(a), ElemType::I64) => TensorValue::I64(a.mapv(i64::from)),
            (TensorValue::I8(a), ElemType::I64) => TensorValue::I64(a.mapv(i64::from)),
            (TensorValue::U8(a), ElemType::I64) => TensorValue::I64(a.mapv(i64::from)),
            (TensorValue::I8(a), ElemType::I32) => TensorValue::I32(a.mapv(i32::from)),
            (TensorValue::U8(a), ElemType::I32) => TensorValue::I32(a.mapv(i32::from)),
            _ => return None,
        })
    }

    /// Splits along the leading (sample) axis into chunks of `size` samples.
    pub fn split_samples(&self, size: usize) -> Vec<TensorValue> {
        macro_rules! chunks {
            ($a:expr, $variant:ident) => {
                $a.axis_chunks_iter(Axis(0), size.max(1))
                    .map(|c| TensorValue::$variant(c.to_owned()))
                    .collect()
            };
        }
        match self {
            TensorValue::F32(a) => chunks!(a, F32),
            TensorValue::F64(a) => chunks!(a, F64),
            TensorValue::I64(a) => chunks!(a, I64),
            TensorValue::I32(a) => chunks!(a, I32),
            TensorValue::I8(a) => chunks!(a, I8),
            TensorValue::U8(a) => chunks!(a, U8),
            TensorValue::Bool(a) => chunks!(a, Bool),
        }
    }

    /// The same values in standard (C) layout, so a flat slice can be taken.
    pub fn into_standard_layout(self) -> TensorValue {
        each_variant!(wrap self, a => if a.is_standard_layout() { a } else { a.as_standard_layout().into_owned() })
    }

    /// The first non-finite float value and its flat index (NaN/Inf in data would surface
    /// downstream under another tensor's name).
    pub fn first_non_finite(&self) -> Option<(usize, f64)> {
        match self {
            TensorValue::F32(a) => {
                a.iter().enumerate().find(|(_, v)| !v.is_finite()).map(|(i, v)| (i, *v as f64))
            }
            TensorValue::F64(a) => {
                a.iter().enumerate().find(|(_, v)| !v.is_finite()).map(|(i, v)| (i, *v))
            }
            _ => None,
        }
    }
}

macro_rules! from_array {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<ArrayD<$t>> for TensorValue {
            fn from(a: ArrayD<$t>) -> TensorValue {
                TensorValue::$variant(a)
            }
        }
    )*};
}
from_array!(f32 => F32, f64 => F64, i64 => I64, i32 => I32, i8 => I8, u8 => U8, bool => Bool);

/// Named tensors in a fixed order: a batch's inputs (model input order once bound), or what an
/// engine returns (model outputs, then captured tensors, in [`crate::Engine::output_names`]
/// order).
///
/// ```
/// use calibr8_core::{TensorMap, TensorValue};
/// let mut batch = TensorMap::new();
/// batch.insert("input_ids", ndarray::ArrayD::<i64>::zeros(vec![2, 8]));
/// batch.insert("attention_mask", ndarray::ArrayD::<i64>::ones(vec![2, 8]));
/// assert_eq!(batch.names().collect::<Vec<_>>(), ["input_ids", "attention_mask"]);
/// assert_eq!(batch.get("attention_mask").unwrap().shape(), &[2, 8]);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorMap {
    entries: Vec<(String, TensorValue)>,
}

impl TensorMap {
    /// An empty map.
    pub fn new() -> TensorMap {
        TensorMap::default()
    }

    /// A map of one tensor.
    pub fn single(name: impl Into<String>, value: impl Into<TensorValue>) -> TensorMap {
        let mut map = TensorMap::new();
        map.insert(name, value);
        map
    }

    /// Adds `value` under `name`, replacing (in place) a tensor of the same name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<TensorValue>) {
        let (name, value) = (name.into(), value.into());
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&TensorValue> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The float32 tensor called `name`; the error names the tensor and what it is instead.
    pub fn f32(&self, name: &str) -> Result<&ArrayD<f32>> {
        match self.get(name) {
            Some(TensorValue::F32(a)) => Ok(a),
            Some(other) => {
                Err(Error::data(name, format!("is {}, where float32 is needed", other.elem_type())))
            }
            None => Err(Error::data(name, "is not among the tensors returned")),
        }
    }

    /// Removes and returns the tensor called `name`.
    pub fn remove(&mut self, name: &str) -> Option<TensorValue> {
        let ix = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(ix).1)
    }

    /// The tensor at position `ix`.
    pub fn value(&self, ix: usize) -> Option<&TensorValue> {
        self.entries.get(ix).map(|(_, v)| v)
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The tensors, in order.
    pub fn values(&self) -> impl Iterator<Item = &TensorValue> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Name and tensor pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TensorValue)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The tensors without their names, in order.
    pub fn into_values(self) -> Vec<TensorValue> {
        self.entries.into_iter().map(|(_, v)| v).collect()
    }

    /// Every tensor as float32, in order (see [`TensorValue::into_f32`]).
    pub fn into_f32(self) -> Vec<ArrayD<f32>> {
        self.entries.into_iter().map(|(_, v)| v.into_f32()).collect()
    }

    /// Samples in the batch: the leading extent of the first tensor of rank ≥ 1 (1 if all are
    /// scalars).
    pub fn samples(&self) -> usize {
        self.values().find_map(|v| v.shape().first().copied()).unwrap_or(1)
    }
}

impl std::ops::Index<usize> for TensorMap {
    type Output = TensorValue;
    fn index(&self, ix: usize) -> &TensorValue {
        &self.entries[ix].1
    }
}

impl FromIterator<(String, TensorValue)> for TensorMap {
    fn from_iter<I: IntoIterator<Item = (String, TensorValue)>>(iter: I) -> TensorMap {
        let mut map = TensorMap::new();
        for (name, value) in iter {
            map.insert(name, value);
        }
        map
    }
}

impl IntoIterator for TensorMap {
    type Item = (String, TensorValue);
    type IntoIter = std::vec::IntoIter<(String, TensorValue)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossless_casts_only() {
        let f64s = TensorValue::from(ndarray::arr1(&[1.5f64, -2.0]).into_dyn());
        assert_eq!(
            f64s.clone().cast_losslessly(ElemType::F32),
            Some(TensorValue::from(ndarray::arr1(&[1.5f32, -2.0]).into_dyn()))
        );
        assert_eq!(f64s.cast_losslessly(ElemType::I64), None);
        let i32s = TensorValue::from(ndarray::arr1(&[3i32]).into_dyn());
        assert_eq!(i32s.cast_losslessly(ElemType::I64).map(|v| v.elem_type()), Some(ElemType::I64));
        let i64s = TensorValue::from(ndarray::arr1(&[3i64]).into_dyn());
        assert_eq!(i64s.cast_losslessly(ElemType::I32), None);
    }

    #[test]
    fn splits_every_type_along_samples() {
        let mask = TensorValue::from(ndarray::ArrayD::from_elem(vec![5, 2], true));
        let parts = mask.split_samples(2);
        assert_eq!(parts.iter().map(|p| p.shape()[0]).collect::<Vec<_>>(), [2, 2, 1]);
        assert!(parts.iter().all(|p| p.elem_type() == ElemType::Bool));
    }

    #[test]
    fn insert_replaces_in_place() {
        let mut map = TensorMap::single("a", ndarray::ArrayD::<f32>::zeros(vec![1]));
        map.insert("b", ndarray::ArrayD::<i64>::zeros(vec![1]));
        map.insert("a", ndarray::ArrayD::<f32>::ones(vec![2]));
        assert_eq!(map.names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(map.f32("a").unwrap().len(), 2);
        assert!(map.f32("b").unwrap_err().to_string().contains("int64"));
    }
}
