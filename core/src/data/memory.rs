//! Calibration data held in memory.

use super::{check_batch_size, Batch, CalibrationData, UNNAMED};
use crate::internal::*;
use crate::tensor::{TensorMap, TensorValue};
use ndarray::ArrayD;

/// Samples held in memory, split into batches: one float array for a single-input model
/// ([`InMemory::new`]), or ready batches of named tensors for any model ([`InMemory::batches`]).
///
/// ```
/// use calibr8_core::{CalibrationData, InMemory, TensorMap};
/// let samples = ndarray::ArrayD::<f32>::zeros(vec![10, 1, 8, 8]);
/// assert_eq!(InMemory::new(samples, 4)?.num_batches(), Some(3));
///
/// // A two-input model: token ids and a mask, batch by batch.
/// let mut batch = TensorMap::new();
/// batch.insert("input_ids", ndarray::ArrayD::<i64>::zeros(vec![2, 16]));
/// batch.insert("attention_mask", ndarray::ArrayD::<bool>::from_elem(vec![2, 16], true));
/// assert_eq!(InMemory::batches(vec![batch])?.num_batches(), Some(1));
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct InMemory {
    batches: Vec<Batch>,
}

impl InMemory {
    /// `samples` (with a leading sample axis) for a single-input model, in batches of
    /// `batch_size`.
    pub fn new(samples: ArrayD<f32>, batch_size: usize) -> Result<InMemory> {
        check_batch_size(batch_size)?;
        check_samples("<memory>", samples.shape())?;
        let batches = TensorValue::F32(samples)
            .split_samples(batch_size)
            .into_iter()
            .map(|v| TensorMap::single(UNNAMED, v))
            .collect();
        Ok(InMemory { batches })
    }

    /// Ready batches, used as given (no re-batching: the first batch sets the histograms' bin
    /// width, so batch boundaries matter).
    pub fn batches(batches: Vec<Batch>) -> Result<InMemory> {
        if batches.is_empty() {
            return Err(Error::data("<memory>", "holds no batches"));
        }
        Ok(InMemory { batches })
    }
}

pub(super) fn check_samples(name: &str, shape: &[usize]) -> Result<()> {
    if shape.first().is_none_or(|&n| n == 0) {
        return Err(Error::data(
            name,
            format!("holds no samples (shape {shape:?}); it needs a leading sample axis"),
        ));
    }
    Ok(())
}

impl CalibrationData for InMemory {
    fn name(&self) -> String {
        "<memory>".into()
    }
    fn num_batches(&self) -> Option<usize> {
        Some(self.batches.len())
    }
    fn batches(&self) -> Box<dyn Iterator<Item = Result<Batch>> + '_> {
        Box::new(self.batches.iter().cloned().map(Ok))
    }
}
