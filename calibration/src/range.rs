//! The result of calibrating one tensor.

use crate::internal::*;

/// Calibrated range of one tensor: one entry per channel (length 1 per tensor).
///
/// For histogram methods `amax` comes from the histogram and `min`/`max` are the observed
/// extremes clipped to `[-amax, amax]` (a post-ReLU tensor gets `[0, amax]`). For min/max
/// methods `amax = max(|min|, |max|)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorRange {
    /// The tensor's name (the ONNX tensor name in calibr8).
    pub tensor: String,
    /// The method that produced this range.
    pub method: Method,
    /// The channel axis, `None` per tensor.
    pub axis: Option<usize>,
    /// Per-channel lower bound.
    pub min: Vec<f32>,
    /// Per-channel upper bound.
    pub max: Vec<f32>,
    /// Per-channel symmetric bound, ≥ 0.
    pub amax: Vec<f32>,
    /// Fraction of calibration values with |x| > amax, over all channels together. Exact (0) for
    /// MinMax; at histogram-bin resolution otherwise (see [`crate::TensorObserver::finish_as`]).
    pub clipped_fraction: f64,
    /// Batches observed (non-empty batches of the first pass).
    pub batches: u64,
    /// Values observed (all channels).
    pub values: u64,
}

impl TensorRange {
    /// A per-tensor range with `amax = max(|min|, |max|)` (handy for tests and hand-set ranges).
    ///
    /// ```
    /// use calibr8_calibration::{Method, TensorRange};
    /// let r = TensorRange::per_tensor("x", Method::MinMax, -2.0, 1.0);
    /// assert_eq!(r.amax, vec![2.0]);
    /// ```
    pub fn per_tensor(tensor: impl Into<String>, method: Method, min: f32, max: f32) -> Self {
        TensorRange {
            tensor: tensor.into(),
            method,
            axis: None,
            min: vec![min],
            max: vec![max],
            amax: vec![min.abs().max(max.abs())],
            clipped_fraction: 0.0,
            batches: 0,
            values: 0,
        }
    }

    /// Number of channels (1 per tensor).
    pub fn channels(&self) -> usize {
        self.amax.len()
    }

    /// The largest amax over channels: the per-tensor range implied by a per-channel one.
    pub fn max_amax(&self) -> f32 {
        self.amax.iter().copied().fold(0.0, f32::max)
    }
}
