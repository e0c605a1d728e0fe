//! Running two backends over the same evaluation data: the reference (float) run once, its model
//! outputs kept, then any number of candidate runs compared against it — model outputs only, or
//! every quantized tensor captured in both runs (cumulative error).

use super::metrics::{MetricAccumulator, Metrics};
use crate::backend::{Backend, EngineOptions, Lowering};
use crate::data::CalibrationData;
use crate::internal::*;
use crate::npy::{read_npy, NpyArray};
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Class labels for the evaluation samples: a 1-D integer `.npy`, one label per sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    /// Where they came from (named in errors and reports).
    pub source: String,
    /// One class index per sample.
    pub values: Vec<i64>,
}

impl Labels {
    /// Reads a 1-D integer `.npy` (int64, int32 or uint8).
    pub fn load(path: impl AsRef<Path>) -> Result<Labels> {
        let path = path.as_ref();
        let source = path.display().to_string();
        match read_npy(path)? {
            NpyArray::I64(a) if a.ndim() == 1 => {
                Ok(Labels { source, values: a.iter().copied().collect() })
            }
            NpyArray::I64(a) => Err(Error::data(
                source,
                format!(
                    "labels are shaped {:?}; they must be 1-D, one class index per sample \
                     (labels.reshape(-1))",
                    a.shape()
                ),
            )),
            NpyArray::F32(_) => Err(Error::data(
                source,
                "holds floats; labels must be integer class indices (labels.astype('int64'))",
            )),
        }
    }
}

/// Metrics of one model output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputMetrics {
    /// The ONNX output name.
    pub output: String,
    /// Candidate against reference over the evaluation set.
    pub metrics: Metrics,
}

/// Metrics of one intermediate tensor in the cumulative run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorMetrics {
    /// The ONNX tensor name.
    pub tensor: String,
    /// The node producing it (none for graph inputs).
    pub producer: Option<String>,
    /// Whether calibr8 quantizes it (Q/DQ on it), rather than it being a quantized node's output.
    pub quantized: bool,
    /// Float run against the quantized run, both capturing the tensor.
    pub metrics: Metrics,
}

/// The evaluation set and the reference run's outputs.
///
/// The reference outputs are kept in memory (model outputs only, e.g. 360 × 10 logits for the
/// digits example) so each candidate needs one run; intermediate tensors are streamed.
pub struct Evaluation<'a> {
    reference: &'a dyn Backend,
    lowering: Lowering<'a>,
    data: &'a dyn CalibrationData,
    labels: Option<Labels>,
    output_names: Vec<String>,
    reference_outputs: Vec<Vec<ArrayD<f32>>>,
    batch_rows: Vec<usize>,
}

impl<'a> Evaluation<'a> {
    /// Runs `model` as written (float) on `reference` over `data` and checks `labels` against it.
    pub fn new(
        reference: &'a dyn Backend,
        model: &'a OnnxModel,
        data: &'a dyn CalibrationData,
        labels: Option<Labels>,
    ) -> Result<Evaluation<'a>> {
        Evaluation::with_lowering(reference, Lowering::Float(model), data, labels)
    }

    /// Like [`Evaluation::new`] with any lowering as the reference: pass the quantized model to
    /// compare backend against backend on the same int8 model (e.g. the QDQ model on tract vs a
    /// TensorRT engine), layer by layer with [`Evaluation::cumulative`].
    pub fn with_lowering(
        reference: &'a dyn Backend,
        lowering: Lowering<'a>,
        data: &'a dyn CalibrationData,
        labels: Option<Labels>,
    ) -> Result<Evaluation<'a>> {
        let model = lowering.model();
        let inputs = model.inputs();
        let mut engine = reference.prepare(lowering, &EngineOptions::default())?;
        let output_names: Vec<String> = engine.output_names().to_vec();
        let mut reference_outputs = vec![];
        let mut batch_rows = vec![];
        for batch in data.batches() {
            let batch = batch?;
            crate::quantize::check_batch(&inputs, &model.origin, &data.name(), &batch)?;
            batch_rows
                .push(batch.first().map(|a| a.shape().first().copied().unwrap_or(1)).unwrap_or(0));
            reference_outputs.push(engine.run(batch)?);
        }
        let samples: usize = batch_rows.iter().sum();
        if let Some(labels) = &labels {
            if labels.values.len() != samples {
                return Err(Error::data(
                    labels.source.clone(),
                    format!(
                        "holds {} labels but the evaluation data {} has {samples} samples; give \
                         one label per sample, in the same order",
                        labels.values.len(),
                        data.name()
                    ),
                ));
            }
        }
        // Labels outside the classes would score 0% top-1 and look like a model problem.
        let first = reference_outputs.first().and_then(|o| o.first()).filter(|a| a.ndim() >= 2);
        if let (Some(labels), Some(first)) = (&labels, first) {
            let classes = first.shape().last().copied().unwrap_or(1);
            let outside =
                labels.values.iter().enumerate().find(|(_, &v)| v < 0 || v as usize >= classes);
            if let Some((ix, bad)) = outside {
                return Err(Error::data(
                    labels.source.clone(),
                    format!(
                        "label {bad} (sample {ix}) is outside [0, {classes}): output '{}' of {} has \
                         {classes} classes. Check that the labels belong to this model and data",
                        output_names.first().map(String::as_str).unwrap_or(""),
                        model.origin
                    ),
                ));
            }
        }
        Ok(Evaluation {
            reference,
            lowering,
            data,
            labels,
            output_names,
            reference_outputs,
            batch_rows,
        })
    }

    /// The reference backend.
    pub fn reference(&self) -> &dyn Backend {
        self.reference
    }

    /// The float model.
    pub fn model(&self) -> &OnnxModel {
        self.lowering.model()
    }

    /// The labels, if given.
    pub fn labels(&self) -> Option<&Labels> {
        self.labels.as_ref()
    }

    /// Number of evaluation samples.
    pub fn samples(&self) -> usize {
        self.batch_rows.iter().sum()
    }

    /// The evaluation data's name.
    pub fn data_name(&self) -> String {
        self.data.name()
    }

    /// The model output names, in order.
    pub fn output_names(&self) -> &[String] {
        &self.output_names
    }

    /// Top-1 accuracy of the reference run against the labels (first output).
    pub fn reference_top1_accuracy(&self) -> Result<Option<f64>> {
        let Some(first) = self.output_names.first() else { return Ok(None) };
        let mut acc = MetricAccumulator::new(true);
        let mut offset = 0;
        for (outputs, &rows) in self.reference_outputs.iter().zip(&self.batch_rows) {
            let labels = self.batch_labels(first, &outputs[0], offset, rows)?;
            acc.add(&outputs[0], &outputs[0], labels)?;
            offset += rows;
        }
        Ok(acc.finish().reference_top1_accuracy)
    }

    /// Runs `lowering` on `candidate` and compares its model outputs with the reference's.
    pub fn outputs(
        &self,
        candidate: &dyn Backend,
        lowering: Lowering<'_>,
    ) -> Result<Vec<OutputMetrics>> {
        Ok(self.run(candidate, lowering, &[])?.0)
    }

    /// Runs `q` on `candidate` and the reference lowering (the float model, unless built
    /// [`with_lowering`](Evaluation::with_lowering)) on the reference backend, both capturing
    /// `tensors` by ONNX name, and compares the model outputs and every captured tensor.
    pub fn cumulative(
        &self,
        candidate: &dyn Backend,
        q: &QuantizedModel,
        tensors: &[String],
    ) -> Result<(Vec<OutputMetrics>, Vec<Metrics>)> {
        self.run(candidate, Lowering::Quantized(q), tensors)
    }

    fn batch_labels(
        &self,
        output: &str,
        reference: &ArrayD<f32>,
        offset: usize,
        rows: usize,
    ) -> Result<Option<&[i64]>> {
        let Some(labels) = &self.labels else { return Ok(None) };
        let out_rows = reference.len() / reference.shape().last().copied().unwrap_or(1).max(1);
        if out_rows != rows {
            return Err(Error::data(
                labels.source.clone(),
                format!(
                    "labels are one per sample, but output '{output}' of {} is shaped {:?} \
                     ({out_rows} rows of classes for {rows} samples); top-1 accuracy needs an \
                     output shaped [samples, classes]. Leave out the labels to compare by \
                     agreement",
                    self.model().origin,
                    reference.shape()
                ),
            ));
        }
        Ok(Some(&labels.values[offset..offset + rows]))
    }

    fn run(
        &self,
        candidate: &dyn Backend,
        lowering: Lowering<'_>,
        capture: &[String],
    ) -> Result<(Vec<OutputMetrics>, Vec<Metrics>)> {
        let options = EngineOptions { capture: capture.to_vec(), ..EngineOptions::default() };
        let mut engine = candidate.prepare(lowering, &options)?;
        // The reference is rerun only when intermediate tensors are wanted.
        let mut reference_engine = if capture.is_empty() {
            None
        } else {
            Some(self.reference.prepare(self.lowering, &options)?)
        };
        let n_out = self.output_names.len();
        if engine.output_names().len() != n_out + capture.len() {
            return Err(Error::backend(
                candidate.name(),
                format!(
                    "returned {} tensors for {} outputs and {} captured; it must return the \
                     model outputs then the captured tensors",
                    engine.output_names().len(),
                    n_out,
                    capture.len()
                ),
            ));
        }
        let mut outputs: Vec<MetricAccumulator> =
            (0..n_out).map(|_| MetricAccumulator::new(true)).collect();
        let mut captured: Vec<MetricAccumulator> =
            (0..capture.len()).map(|_| MetricAccumulator::new(false)).collect();
        let mut offset = 0;
        for ((batch, reference), &rows) in
            self.data.batches().zip(&self.reference_outputs).zip(&self.batch_rows)
        {
            let batch = batch?;
            let ref_captured = match &mut reference_engine {
                Some(e) => e.run(batch.clone())?.split_off(n_out),
                None => vec![],
            };
            let got = engine.run(batch)?;
            for (ix, acc) in outputs.iter_mut().enumerate() {
                let labels = if ix == 0 {
                    self.batch_labels(&self.output_names[0], &reference[0], offset, rows)?
                } else {
                    None
                };
                acc.add(&reference[ix], &got[ix], labels).map_err(|e| {
                    Error::backend(
                        candidate.name(),
                        format!("output '{}': {e}", self.output_names[ix]),
                    )
                })?;
            }
            for (ix, acc) in captured.iter_mut().enumerate() {
                acc.add(&ref_captured[ix], &got[n_out + ix], None).map_err(|e| {
                    Error::backend(candidate.name(), format!("tensor '{}': {e}", capture[ix]))
                })?;
            }
            offset += rows;
        }
        let outputs = self
            .output_names
            .iter()
            .zip(outputs)
            .map(|(name, acc)| OutputMetrics { output: name.clone(), metrics: acc.finish() })
            .collect();
        Ok((outputs, captured.iter().map(MetricAccumulator::finish).collect()))
    }
}
