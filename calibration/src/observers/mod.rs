//! One module per method, plus the shared |x| histogram. [`crate::TensorObserver`] drives them.

pub mod ema_minmax;
pub mod entropy;
pub mod histogram;
pub mod minmax;
pub mod mse;
pub mod percentile;
