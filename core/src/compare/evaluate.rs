//! Running two backends over the same evaluation data: the reference (float) run once, its model
//! outputs kept, then any number of candidate runs compared against it — model outputs only, or
//! every quantized tensor captured in both runs (cumulative error).

use super::metrics::{MetricAccumulator, Metrics};
use crate::backend::{Backend, Engine, EngineOptions, Lowering};
use crate::data::bind;
use crate::data::CalibrationData;
use crate::internal::*;
use crate::npy::read_npy;
use crate::parallel::{default_jobs, engines_for, run_in_order};
use crate::tensor::{ElemType, TensorMap, TensorValue};
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
        let array = match read_npy(path)?.cast_losslessly(ElemType::I64) {
            Some(TensorValue::I64(a)) => a,
            _ => {
                return Err(Error::data(
                    source,
                    "holds floats or booleans; labels must be integer class indices \
                     (labels.astype('int64'))",
                ))
            }
        };
        if array.ndim() != 1 {
            return Err(Error::data(
                source,
                format!(
                    "labels are shaped {:?}; they must be 1-D, one class index per sample \
                     (labels.reshape(-1))",
                    array.shape()
                ),
            ));
        }
        Ok(Labels { source, values: array.iter().copied().collect() })
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
    inputs: Vec<crate::ValueInfo>,
    output_names: Vec<String>,
    reference_outputs: Vec<Vec<ArrayD<f32>>>,
    batch_rows: Vec<usize>,
    jobs: usize,
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
        let engine = reference.prepare(lowering, &EngineOptions::default())?;
        let output_names: Vec<String> = engine.output_names().to_vec();
        let jobs = default_jobs();
        let mut engines = engines_for(engine, jobs, &mut || {
            reference.prepare(lowering, &EngineOptions::default())
        })?;
        let mut reference_outputs = vec![];
        let mut batch_rows = vec![];
        let batches =
            data.batches().map(|batch| bind(&inputs, &model.origin, &data.name(), batch?));
        run_in_order(&mut engines, batches, true, &mut |_, inputs, outputs| {
            batch_rows.push(inputs.samples());
            reference_outputs.push(outputs.into_f32());
            Ok(())
        })?;
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
        Ok(Evaluation {
            reference,
            lowering,
            data,
            labels,
            inputs,
            output_names,
            reference_outputs,
            batch_rows,
            jobs,
        })
    }

    /// Runs up to `jobs` batches at once in later candidate runs (default: the available
    /// cores, or `CALIBR8_JOBS`); metrics are the same for any value.
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
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
        let engine = candidate.prepare(lowering, &options)?;
        // The reference is rerun only when intermediate tensors are wanted.
        let reference_engine = if capture.is_empty() {
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
        // Batches run concurrently on forked engine pairs; metrics accumulate in batch order,
        // so sums (and the report) are the same for any job count.
        let pair = Paired { candidate: engine, reference: reference_engine, n_out };
        let mut engines = engines_for(Box::new(pair), self.jobs, &mut || {
            Ok(Box::new(Paired {
                candidate: candidate.prepare(lowering, &options)?,
                reference: match capture.is_empty() {
                    true => None,
                    false => Some(self.reference.prepare(self.lowering, &options)?),
                },
                n_out,
            }))
        })?;
        let mut offsets = vec![0usize];
        for rows in &self.batch_rows {
            offsets.push(offsets[offsets.len() - 1] + rows);
        }
        let batches = self
            .data
            .batches()
            .map(|batch| bind(&self.inputs, &self.model().origin, &self.data.name(), batch?));
        run_in_order(&mut engines, batches, false, &mut |b, _, result| {
            let (Some(reference), Some(&rows)) =
                (self.reference_outputs.get(b), self.batch_rows.get(b))
            else {
                return Err(Error::data(
                    self.data.name(),
                    "gave more batches than the reference run",
                ));
            };
            let offset = offsets[b];
            let mut values = result.into_f32();
            let ref_captured = values.split_off(n_out + capture.len());
            let got = values;
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
            Ok(())
        })?;
        let outputs = self
            .output_names
            .iter()
            .zip(outputs)
            .map(|(name, acc)| OutputMetrics { output: name.clone(), metrics: acc.finish() })
            .collect();
        Ok((outputs, captured.iter().map(MetricAccumulator::finish).collect()))
    }
}

/// A candidate engine and, when intermediate tensors are compared, the reference engine, run
/// on the same batch: returns the candidate's tensors, then the reference's captured ones.
struct Paired {
    candidate: Box<dyn Engine>,
    reference: Option<Box<dyn Engine>>,
    n_out: usize,
}

impl Engine for Paired {
    fn input_names(&self) -> &[String] {
        self.candidate.input_names()
    }
    fn output_names(&self) -> &[String] {
        self.candidate.output_names()
    }
    fn run(&mut self, inputs: TensorMap) -> Result<TensorMap> {
        let reference = match &mut self.reference {
            Some(e) => Some(e.run(inputs.clone())?),
            None => None,
        };
        let mut out: Vec<(String, TensorValue)> = self.candidate.run(inputs)?.into_iter().collect();
        if let Some(reference) = reference {
            // Captured tensors only: the reference's model outputs were kept from its first run.
            out.extend(
                reference.into_iter().skip(self.n_out).map(|(n, v)| (format!("reference:{n}"), v)),
            );
        }
        Ok(out.into_iter().collect())
    }
    fn fork(&self) -> Option<Box<dyn Engine>> {
        let reference = match &self.reference {
            Some(e) => Some(e.fork()?),
            None => None,
        };
        Some(Box::new(Paired { candidate: self.candidate.fork()?, reference, n_out: self.n_out }))
    }
}
