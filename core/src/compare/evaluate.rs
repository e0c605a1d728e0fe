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
    cache_budget: usize,
    cone_runs: std::sync::atomic::AtomicUsize,
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
            inputs,
            output_names,
            reference_outputs,
            batch_rows,
            jobs,
            cache_budget: super::reuse::cache_budget(),
            cone_runs: Default::default(),
        })
    }

    /// Runs up to `jobs` batches at once in later candidate runs (default: the available
    /// cores, or `CALIBR8_JOBS`); metrics are the same for any value.
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Bytes of evaluation-batch tensors the per-layer analysis and the mixed-precision search
    /// may keep between runs so that a run computes only what its change reaches (default
    /// [`cache_budget`](super::cache_budget): `CALIBR8_COMPARE_CACHE_MIB`, else 1 GiB). `0`
    /// runs the whole model every time. Metrics are the same for any value.
    ///
    /// ```no_run
    /// # fn demo(eval: calibr8_core::compare::Evaluation<'_>) {
    /// let eval = eval.with_cache_budget(256 << 20);
    /// # }
    /// ```
    pub fn with_cache_budget(mut self, bytes: usize) -> Self {
        self.cache_budget = bytes;
        self
    }

    /// The bytes set by [`Evaluation::with_cache_budget`].
    pub fn cache_budget(&self) -> usize {
        self.cache_budget
    }

    /// How many candidate runs so far computed only the part of the model downstream of a
    /// changed node, from cached tensors (see [`Evaluation::with_cache_budget`]).
    pub fn cone_runs(&self) -> usize {
        self.cone_runs.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn count_cone_run(&self) {
        self.cone_runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
        let (outputs, captured, _) =
            self.run_batches(candidate, lowering, capture, Captured::Compared, None)?;
        Ok((outputs, captured))
    }

    /// Samples in each evaluation batch, in order.
    pub(crate) fn batch_rows(&self) -> &[usize] {
        &self.batch_rows
    }

    /// The evaluation data's batches bound to the model's inputs, in order.
    pub(crate) fn data_batches(&self) -> impl Iterator<Item = Result<TensorMap>> + '_ {
        self.data
            .batches()
            .map(|batch| bind(&self.inputs, &self.model().origin, &self.data.name(), batch?))
    }

    /// Runs `lowering` on `candidate` over `inputs` (their names, then one map per evaluation
    /// batch, in order; the evaluation data when `None`), compares its model outputs with the
    /// reference's, and returns the `keep` tensors of every batch: captured ones, and inputs
    /// among them taken from the batch itself. Used to run part of a model from cached tensors.
    pub(crate) fn outputs_keeping(
        &self,
        candidate: &dyn Backend,
        lowering: Lowering<'_>,
        inputs: Option<Inputs<'_>>,
        keep: &[String],
    ) -> Result<(Vec<OutputMetrics>, Vec<TensorMap>)> {
        let (outputs, _, kept) =
            self.run_batches(candidate, lowering, keep, Captured::Kept, inputs)?;
        Ok((outputs, kept))
    }

    fn run_batches(
        &self,
        candidate: &dyn Backend,
        lowering: Lowering<'_>,
        tensors: &[String],
        mode: Captured,
        source: Option<Inputs<'_>>,
    ) -> Result<(Vec<OutputMetrics>, Vec<Metrics>, Vec<TensorMap>)> {
        // Kept inputs come from the batch itself: engines return computed tensors only.
        let (input_names, batches): (
            Vec<String>,
            Box<dyn Iterator<Item = Result<TensorMap>> + '_>,
        ) = match source {
            Some((names, batches)) => (names.to_vec(), batches),
            None => (
                self.inputs.iter().map(|i| i.name.clone()).collect(),
                Box::new(self.data_batches()),
            ),
        };
        let (from_inputs, capture): (Vec<String>, Vec<String>) = match mode {
            Captured::Kept => tensors.iter().cloned().partition(|t| input_names.contains(t)),
            Captured::Compared => (vec![], tensors.to_vec()),
        };
        let compare_captured = mode == Captured::Compared;
        let options = EngineOptions { capture: capture.clone(), ..EngineOptions::default() };
        let engine = candidate.prepare(lowering, &options)?;
        // The reference is rerun only when intermediate tensors are compared.
        let with_reference = compare_captured && !capture.is_empty();
        let reference_engine = if with_reference {
            Some(self.reference.prepare(self.lowering, &options)?)
        } else {
            None
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
        let mut captured: Vec<MetricAccumulator> = match compare_captured {
            true => (0..capture.len()).map(|_| MetricAccumulator::new(false)).collect(),
            false => vec![],
        };
        let mut kept: Vec<TensorMap> = vec![];
        // Batches run concurrently on forked engine pairs; metrics accumulate in batch order,
        // so sums (and the report) are the same for any job count.
        let pair = Paired { candidate: engine, reference: reference_engine, n_out };
        let mut engines = engines_for(Box::new(pair), self.jobs, &mut || {
            Ok(Box::new(Paired {
                candidate: candidate.prepare(lowering, &options)?,
                reference: match with_reference {
                    true => Some(self.reference.prepare(self.lowering, &options)?),
                    false => None,
                },
                n_out,
            }))
        })?;
        let mut offsets = vec![0usize];
        for rows in &self.batch_rows {
            offsets.push(offsets[offsets.len() - 1] + rows);
        }
        run_in_order(&mut engines, batches, !from_inputs.is_empty(), &mut |b, inputs, result| {
            let (Some(reference), Some(&rows)) =
                (self.reference_outputs.get(b), self.batch_rows.get(b))
            else {
                return Err(Error::data(
                    self.data.name(),
                    "gave more batches than the reference run",
                ));
            };
            let offset = offsets[b];
            let mut values = result.into_values();
            let extra = values.split_off(n_out);
            let got: Vec<ArrayD<f32>> = values.into_iter().map(TensorValue::into_f32).collect();
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
            if compare_captured {
                let mut extra: Vec<ArrayD<f32>> =
                    extra.into_iter().map(TensorValue::into_f32).collect();
                let ref_captured = extra.split_off(capture.len());
                for (ix, acc) in captured.iter_mut().enumerate() {
                    acc.add(&ref_captured[ix], &extra[ix], None).map_err(|e| {
                        Error::backend(candidate.name(), format!("tensor '{}': {e}", capture[ix]))
                    })?;
                }
            } else {
                let mut map: TensorMap = capture.iter().cloned().zip(extra).collect();
                for name in &from_inputs {
                    if let Some(v) = inputs.get(name) {
                        map.insert(name.clone(), v.clone());
                    }
                }
                kept.push(map);
            }
            Ok(())
        })?;
        let outputs = self
            .output_names
            .iter()
            .zip(outputs)
            .map(|(name, acc)| OutputMetrics { output: name.clone(), metrics: acc.finish() })
            .collect();
        Ok((outputs, captured.iter().map(MetricAccumulator::finish).collect(), kept))
    }
}

/// Inputs of a run other than the evaluation data: the input names, then one map per batch.
pub(crate) type Inputs<'s> = (&'s [String], Box<dyn Iterator<Item = Result<TensorMap>> + 's>);

/// What a run does with the tensors it captures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Captured {
    /// Compared with the reference run capturing the same tensors (cumulative error).
    Compared,
    /// Returned as they are, per batch (cached for runs of part of the model).
    Kept,
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
