//! Observers and int8 scale math for calibr8, with no graph: usable on its own.
//!
//! A [`TensorObserver`] watches one tensor over the calibration batches and produces a
//! [`TensorRange`]; [`quant_params`] turns a range into scales and zero points for a
//! [`QuantSpec`]. Methods ([`Method`]): min/max, EMA min/max (NNI), percentile, entropy (TensorRT
//! EntropyCalibration2) and MSE, the last three on a streaming or two-pass |x| histogram whose
//! numerics reproduce NVIDIA ModelOpt's `calib/histogram.py` (checked against fixtures made
//! with it, `tests/data/make_fixtures.py`).
//!
//! * Memory is fixed per tensor (min/max, EMA, a histogram), independent of the batch count.
//! * Work within a batch runs on rayon; any thread count gives bit-identical results.
//! * Two-pass histograms merge exactly across shards ([`TensorObserver::set_global_max`]).
//! * Bad input is an [`Error`] naming the tensor, never a panic.
//!
//! ```
//! use calibr8_calibration::{quant_params, Method, ObserverConfig, QuantSpec, TensorObserver};
//!
//! let config = ObserverConfig::new(Method::Percentile { percentile: 99.9 }).collect_all();
//! let mut obs = TensorObserver::new("features.0.out", config)?;
//! for seed in 0..8u32 {
//!     // Stand-in for a captured activation of shape [batch, channels].
//!     let batch: Vec<f32> = (0..2048u32)
//!         .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 10_000) as f32 / 2_500.0 - 2.0)
//!         .collect();
//!     obs.observe(&batch, &[16, 128])?;
//! }
//! for method in Method::all_default() {
//!     let range = obs.finish_as(&method)?;
//!     let params = quant_params(&range, &QuantSpec::TENSORRT_ACTIVATION);
//!     assert!(params.scale[0] > 0.0 && params.zero_point[0] == 0);
//!     println!("{method}: amax {} (clips {:.4}%)", range.amax[0], 100.0 * range.clipped_fraction);
//! }
//! # Ok::<(), calibr8_calibration::Error>(())
//! ```
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

mod config;
mod error;
mod method;
mod observer;
pub mod observers;
mod range;
mod spec;

pub use config::{
    Granularity, HistogramMode, ObserverConfig, DEFAULT_NUM_BINS, MAX_HISTOGRAM_BINS, MIN_NUM_BINS,
};
pub use error::Error;
pub use method::{
    InvalidParameter, Method, MethodKind, MethodParameter, DEFAULT_EMA_DECAY, DEFAULT_PERCENTILE,
};
pub use observer::{GridState, ObserverState, TensorObserver};
pub use observers::histogram::Histogram;
pub use range::TensorRange;
pub use spec::{
    fake_quant, quant_params, quantize_value, QuantDtype, QuantParams, QuantSpec, Scheme, DEAD_AMAX,
};

/// What every file of the crate imports (`use crate::internal::*;`).
mod internal {
    pub(crate) use crate::config::*;
    pub(crate) use crate::error::Error;
    pub(crate) use crate::method::*;
    pub(crate) use crate::observers::histogram::Histogram;
    pub(crate) use crate::range::TensorRange;
    #[allow(unused_imports)]
    pub(crate) use crate::spec::*;
    pub(crate) use rayon::prelude::*;
    pub(crate) use serde::{Deserialize, Serialize};
    pub(crate) use std::fmt;
    pub(crate) use std::str::FromStr;
}
