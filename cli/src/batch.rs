//! The batch size calibration and evaluation data are read in.

use calibr8::OnnxModel;

/// Used when neither `--batch` nor the model fixes one.
const DEFAULT_BATCH: usize = 32;

/// `--batch` if given, else the model's fixed batch, else 32. A `--batch` that contradicts a
/// fixed batch is an error that names both.
pub fn batch_size(model: &OnnxModel, requested: Option<usize>) -> anyhow::Result<usize> {
    let fixed = model.inputs().first().and_then(|i| i.dims.first().copied().flatten());
    Ok(match (requested, fixed) {
        (Some(b), Some(f)) if b != f => anyhow::bail!(
            "--batch {b} does not fit {}: its input has a fixed batch of {f}; pass --batch {f}",
            model.origin
        ),
        (Some(b), _) => b,
        (None, Some(f)) => f,
        (None, None) => DEFAULT_BATCH,
    })
}
