//! Binding a batch to a model: every input fed, nothing extra, each tensor of the declared type
//! and shape, in the model's input order.

use super::{Batch, UNNAMED};
use crate::internal::*;
use crate::model::ValueInfo;
use crate::tensor::{ElemType, TensorMap};

/// Checks `batch` from the data source `source` against the declared `inputs` of the model at
/// `origin` and returns it keyed and ordered as the model's inputs: an unnamed single array
/// becomes the only input; float64 data for a float32 input (NumPy's default) and narrower
/// integers for int64 inputs are converted; anything else that does not fit is an error naming
/// the input.
///
/// ```
/// use calibr8_core::{data::bind, OnnxModel, TensorMap};
/// let model = OnnxModel::load("../examples/digits/digits_cnn.onnx")?;
/// let batch = TensorMap::single("", ndarray::ArrayD::<f64>::zeros(vec![2, 1, 8, 8]));
/// let bound = bind(&model.inputs(), &model.origin, "calib.npy", batch)?;
/// assert_eq!(bound.names().collect::<Vec<_>>(), ["input"]);
/// assert!(bound.f32("input").is_ok());
/// # Ok::<(), calibr8_core::Error>(())
/// ```
pub fn bind(inputs: &[ValueInfo], origin: &str, source: &str, batch: Batch) -> Result<TensorMap> {
    let input_list = || inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ");
    let mut batch = batch;
    if batch.len() == 1 && batch.names().next() == Some(UNNAMED) {
        if inputs.len() != 1 {
            return Err(Error::data(
                source,
                format!(
                    "gives one unnamed array but {origin} has {} inputs ({}); give an .npz \
                     with one array per input name (numpy.savez(f, {}=...)), or a folder with one \
                     sub-folder of .npy files per input",
                    inputs.len(),
                    input_list(),
                    inputs.first().map_or("name", |i| i.name.as_str()),
                ),
            ));
        }
        let value = batch.remove(UNNAMED).ok_or_else(|| Error::data(source, "is empty"))?;
        batch.insert(inputs[0].name.clone(), value);
    }
    let missing: Vec<&str> =
        inputs.iter().map(|i| i.name.as_str()).filter(|n| batch.get(n).is_none()).collect();
    if !missing.is_empty() {
        return Err(Error::data(
            source,
            format!(
                "gives no data for input(s) {} of {origin}; every model input needs an array \
                 (inputs: {})",
                missing.join(", "),
                input_list()
            ),
        ));
    }
    let extra: Vec<&str> = batch.names().filter(|n| inputs.iter().all(|i| i.name != *n)).collect();
    if !extra.is_empty() {
        return Err(Error::data(
            source,
            format!(
                "gives array(s) {} that {origin} has no input for (inputs: {}); name each array \
                 after a model input",
                extra.join(", "),
                input_list()
            ),
        ));
    }
    let mut bound = TensorMap::new();
    for input in inputs {
        let value = batch.remove(&input.name).ok_or_else(|| Error::data(source, "changed"))?;
        let value = match ElemType::from_onnx_code(input.elem_type) {
            Some(want) => {
                let have = value.elem_type();
                value.cast_losslessly(want).ok_or_else(|| {
                    Error::data(
                        source,
                        format!(
                            "gives {have} for input '{}', which {origin} declares {want}; save \
                             the array as {want}",
                            input.name
                        ),
                    )
                })?
            }
            // An undeclared type (or one calibr8 does not name) is passed as given.
            None => value,
        };
        check_values(input, origin, source, &value)?;
        bound.insert(input.name.clone(), value);
    }
    Ok(bound)
}

/// Finite values, and the declared rank and fixed dimensions.
fn check_values(
    input: &ValueInfo,
    origin: &str,
    source: &str,
    value: &crate::tensor::TensorValue,
) -> Result<()> {
    if let Some((ix, v)) = value.first_non_finite() {
        let per_sample = value.len() / value.shape().first().copied().unwrap_or(1).max(1);
        return Err(Error::data(
            source,
            format!(
                "input '{}' holds the non-finite value {v} (sample {} of the batch, flat index \
                 {ix}); calibration data must be finite",
                input.name,
                ix / per_sample.max(1)
            ),
        ));
    }
    if input.dims.is_empty() && input.shape_known {
        if !value.shape().is_empty() {
            return Err(Error::data(
                source,
                format!(
                    "gives shape {:?} for input '{}', which {origin} declares a scalar",
                    value.shape(),
                    input.name
                ),
            ));
        }
        return Ok(());
    }
    if input.dims.is_empty() {
        return Ok(());
    }
    let shape = value.shape();
    let fits = shape.len() == input.dims.len()
        && shape.iter().zip(&input.dims).all(|(s, d)| d.is_none_or(|d| d == *s));
    if !fits {
        let declared: Vec<String> = input
            .dims
            .iter()
            .map(|d| d.map(|d| d.to_string()).unwrap_or_else(|| "?".into()))
            .collect();
        return Err(Error::data(
            source,
            format!(
                "batch shaped {shape:?} does not fit input '{}' of {origin} declared [{}]; data \
                 must be [samples, ...] matching the model input",
                input.name,
                declared.join(", ")
            ),
        ));
    }
    Ok(())
}
