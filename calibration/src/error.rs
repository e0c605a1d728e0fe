//! The crate's error type.

use crate::internal::*;

/// Everything that can go wrong while observing calibration data or turning it into ranges.
///
/// Every variant names the tensor at fault, and every message ends with the remedy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An [`ObserverConfig`] option (or a method parameter) is out of range.
    #[error("tensor `{tensor}`: invalid option `{option}` = {value}: {remedy}")]
    InvalidConfig {
        /// The tensor whose observer was being configured.
        tensor: String,
        /// The option at fault (`percentile`, `decay`, `num_bins`, ...).
        option: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// What the option accepts.
        remedy: String,
    },
    /// A calibration value is NaN or infinite. The observer state is unchanged.
    #[error(
        "tensor `{tensor}`: non-finite value {value} at flat index {index} of the batch; \
         calibration data must be finite: check the model's inputs and the layers before this \
         tensor, or exclude the tensor from quantization"
    )]
    NonFinite {
        /// The tensor being observed.
        tensor: String,
        /// Row-major index of the first non-finite value in the batch.
        index: usize,
        /// The value found (NaN, inf or -inf).
        value: f32,
    },
    /// The data length does not match the product of the shape.
    #[error(
        "tensor `{tensor}`: batch has {len} values but shape {shape:?} holds {expected}; pass the \
         tensor's row-major data together with its own shape"
    )]
    ShapeMismatch {
        /// The tensor being observed.
        tensor: String,
        /// The shape passed.
        shape: Vec<usize>,
        /// The number of values passed.
        len: usize,
        /// The number of values the shape holds (saturated at `usize::MAX` on overflow).
        expected: usize,
    },
    /// The per-channel axis does not exist in the batch's shape.
    #[error(
        "tensor `{tensor}`: channel axis {axis} does not exist in a rank-{rank} batch; use \
         Granularity::PerChannel {{ axis }} with axis < {rank}, or Granularity::PerTensor"
    )]
    BadAxis {
        /// The tensor being observed.
        tensor: String,
        /// The configured channel axis.
        axis: usize,
        /// The rank of the batch.
        rank: usize,
    },
    /// A batch has a different number of channels than earlier batches (or than the global max).
    #[error(
        "tensor `{tensor}`: batch has {found} channels on the channel axis, earlier data had \
         {expected}; per-channel calibration needs the same channel count in every batch (check \
         the configured axis)"
    )]
    ChannelMismatch {
        /// The tensor being observed.
        tensor: String,
        /// The channel count seen first.
        expected: usize,
        /// The channel count of the offending batch.
        found: usize,
    },
    /// Two observers cannot be merged.
    #[error("tensor `{tensor}`: cannot merge observers: {reason}")]
    Unmergeable {
        /// The tensor of the observer being merged into.
        tensor: String,
        /// Why, ending with the remedy.
        reason: String,
    },
    /// [`crate::TensorObserver::finish_as`] was asked for a method whose statistics were not collected.
    #[error(
        "tensor `{tensor}`: statistics for method `{method}` were not collected ({reason}); \
         configure the observer with this method, or set `collect_all: true`"
    )]
    NotCollected {
        /// The tensor.
        tensor: String,
        /// The method asked for.
        method: Method,
        /// What is missing.
        reason: String,
    },
    /// Two-pass mode: the histogram pass has not been run yet.
    #[error(
        "tensor `{tensor}`: the two-pass histogram has not been collected yet; call \
         start_second_pass() and observe every batch again before finishing"
    )]
    SecondPassPending {
        /// The tensor.
        tensor: String,
    },
    /// Two-pass mode: a value of the second pass lies above the grid fixed from the first pass.
    #[error(
        "tensor `{tensor}`: second-pass value |x| = {value} on channel {channel} exceeds the \
         first-pass maximum {max}; the second pass must replay exactly the batches of the first \
         pass (and set_global_max() must get the maximum over every shard)"
    )]
    SecondPassOutOfRange {
        /// The tensor.
        tensor: String,
        /// The channel (0 per tensor).
        channel: usize,
        /// The largest |x| of the offending batch on that channel.
        value: f32,
        /// The last edge of the fixed grid.
        max: f32,
    },
    /// An operation was called in the wrong phase (e.g. `set_global_max` after second-pass data).
    #[error("tensor `{tensor}`: {message}")]
    InvalidState {
        /// The tensor.
        tensor: String,
        /// What was wrong, ending with the remedy.
        message: String,
    },
    /// A histogram would need more bins than the crate allows.
    #[error(
        "tensor `{tensor}`: the streaming histogram would grow to {bins} bins (limit {limit}) \
         because a later batch's range is far wider than the first batch's; use \
         HistogramMode::TwoPass, which fixes the grid from the global maximum"
    )]
    HistogramTooLarge {
        /// The tensor.
        tensor: String,
        /// Bins the growth asked for.
        bins: usize,
        /// The limit ([`MAX_HISTOGRAM_BINS`]).
        limit: usize,
    },
    /// A histogram passed to [`Histogram::new`] is malformed.
    #[error("invalid histogram: {message}")]
    InvalidHistogram {
        /// What is wrong, ending with the remedy.
        message: String,
    },
    /// The observer saw no values.
    #[error(
        "tensor `{tensor}`: no calibration values were observed; run at least one non-empty \
         batch through observe() before finishing"
    )]
    NoData {
        /// The tensor.
        tensor: String,
    },
}
