//! Calibration data: anything that can yield batches — named, typed tensors, one per model
//! input — in a fixed order, as many times as the calibration needs passes.
//!
//! Sources: [`InMemory`] (arrays or ready batches), [`NpySource`] (a `.npy` file or folder for a
//! single-input model, an `.npz` file or folder for any number of inputs, or a folder with one
//! sub-folder of `.npy` files per input). [`bind`] checks a batch against the model.

mod bind;
mod files;
mod memory;

pub use bind::bind;
pub use files::NpySource;
pub use memory::InMemory;

use crate::internal::*;
use crate::tensor::TensorMap;

/// One batch: one tensor per model input, each keyed by the input's ONNX name. A source that
/// holds a single unnamed array (a `.npy` file) keys it [`UNNAMED`]; [`bind`] gives it the name
/// of the model's only input.
pub type Batch = TensorMap;

/// The key of the one array of a single-input source, which does not know the model's input
/// name. Binding to a model with several inputs is an error that says how to name them.
pub const UNNAMED: &str = "";

/// A re-iterable, ordered source of calibration batches.
pub trait CalibrationData: Sync {
    /// Names the source in errors (a path, or `<memory>`).
    fn name(&self) -> String;
    /// Number of batches, if known (for progress bars).
    fn num_batches(&self) -> Option<usize>;
    /// A fresh pass over the batches, always in the same order.
    fn batches(&self) -> Box<dyn Iterator<Item = Result<Batch>> + '_>;
}

fn check_batch_size(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::data("--batch", "must be at least 1 sample per batch"));
    }
    Ok(())
}
