//! `quantize_with`: resolve the config, observe weights from the file and activations over the
//! calibration data on a backend, and return the annotated model.

use crate::backend::{Backend, EngineOptions, Lowering};
use crate::data::{bind, CalibrationData};
use crate::graph::tensor_f32;
use crate::internal::*;
use crate::parallel::{default_jobs, engines_for, run_in_order};
use crate::plan::{QuantPlan, TensorTarget};
use calibr8_calibration::{ObserverConfig, TensorObserver, TensorRange};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Where calibration stands, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// 1 for the (first) pass, 2 for the histogram pass of two-pass mode.
    pub pass: usize,
    /// Batches done in this pass.
    pub batch: usize,
    /// Batches per pass, if the source knows.
    pub batches: Option<usize>,
}

/// Calibrates `model` on `data` with `backend` capturing the activations, per `config`.
///
/// ```no_run
/// # fn demo(backend: &dyn calibr8_core::Backend) -> calibr8_core::Result<()> {
/// use calibr8_core::{quantize_with, NpySource, OnnxModel, QuantConfig};
/// let model = OnnxModel::load("model.onnx")?;
/// let data = NpySource::open("calib.npy", 32)?;
/// let quantized = quantize_with(backend, &model, &data, &QuantConfig::default())?;
/// # Ok(()) }
/// ```
pub fn quantize_with(
    backend: &dyn Backend,
    model: &OnnxModel,
    data: &dyn CalibrationData,
    config: &QuantConfig,
) -> Result<QuantizedModel> {
    quantize_with_progress(backend, model, data, config, default_jobs(), &mut |_| {})
}

/// [`quantize_with`] with `jobs` batches running at once (results are identical for any
/// count: batches reach the observers in order), reporting progress after every batch.
pub fn quantize_with_progress(
    backend: &dyn Backend,
    model: &OnnxModel,
    data: &dyn CalibrationData,
    config: &QuantConfig,
    jobs: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<QuantizedModel> {
    // The model the runtime will run (BatchNorm folded, legacy Softmax rewritten); engines
    // get the configured input shapes, the export keeps the dynamic dims.
    let model = crate::preprocess::for_quantization(model, config)?;
    let run_model = crate::shapes::with_input_shapes(&model, &config.input_shapes)?;
    let plan = QuantPlan::resolve(&model, config)?;
    let mut q = if config.is_auto() {
        let (ranges, outcome) =
            calibrate_auto(backend, &run_model, &plan, data, config, jobs, progress)?;
        let mut q = QuantizedModel::new(model, plan, ranges, config.clone())?;
        q.auto = outcome.choices;
        q.auto_search = outcome.search;
        q
    } else {
        let ranges = calibrate(backend, &run_model, &plan, data, config, jobs, progress)?;
        QuantizedModel::new(model, plan, ranges, config.clone())?
    };
    if config.bias_correction {
        crate::bias_correction::apply(backend, &run_model, data, jobs, [&mut q])?;
    }
    Ok(q)
}

/// Observes every tensor of `plan` and returns their ranges.
pub fn calibrate(
    backend: &dyn Backend,
    model: &OnnxModel,
    plan: &QuantPlan,
    data: &dyn CalibrationData,
    config: &QuantConfig,
    jobs: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<BTreeMap<String, TensorRange>> {
    let mut ranges = observe_weights(model, plan, config)?;
    ranges.extend(
        observe_activations(backend, model, plan, data, config, false, jobs, progress)?
            .into_iter()
            .map(|(name, observer)| observer.finish().map(|r| (name, r)))
            .collect::<Result<BTreeMap<_, _>, _>>()?,
    );
    Ok(ranges)
}

/// `method: auto`: one capture pass keeping every method's statistics, then a choice per
/// activation by the error it causes in the nodes that read it, refined by the error of the
/// model outputs ([`crate::auto`]). Returns every range (weights included) and the record.
pub fn calibrate_auto(
    backend: &dyn Backend,
    model: &OnnxModel,
    plan: &QuantPlan,
    data: &dyn CalibrationData,
    config: &QuantConfig,
    jobs: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<(BTreeMap<String, TensorRange>, crate::auto::AutoOutcome)> {
    let mut ranges = observe_weights(model, plan, config)?;
    // Capturing under EMA tracks its default decay; `collect_all` keeps min/max and the
    // histogram for the other candidates.
    let decay = calibr8_calibration::DEFAULT_EMA_DECAY;
    let capture =
        QuantConfig { method: calibr8_calibration::Method::EmaMinMax { decay }, ..config.clone() };
    let observers =
        observe_activations(backend, model, plan, data, &capture, true, jobs, progress)?;
    let outcome = crate::auto::choose_ranges(
        backend, model, plan, config, data, decay, jobs, &ranges, &observers,
    )?;
    ranges.extend(outcome.ranges.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok((ranges, outcome))
}

/// Weights are constants: one observation each, straight from the model file, with the config's
/// `weight_method`.
pub fn observe_weights(
    model: &OnnxModel,
    plan: &QuantPlan,
    config: &QuantConfig,
) -> Result<BTreeMap<String, TensorRange>> {
    let graph = Graph::new(model);
    let method = config.weight_method()?;
    let weights: Vec<&TensorTarget> = plan.weights().collect();
    weights
        .par_iter()
        .map(|target| {
            let proto = graph.constant(&target.tensor).ok_or_else(|| Error::UnknownTensor {
                tensor: target.tensor.clone(),
                path: model.origin.clone(),
            })?;
            let (values, dims) = tensor_f32(proto).map_err(|reason| Error::InvalidModel {
                path: model.origin.clone(),
                reason: format!("weight '{}' {reason}", target.tensor),
            })?;
            let mut observer = TensorObserver::new(
                target.tensor.clone(),
                observer_config(config, method.clone(), target, false),
            )?;
            observer.observe(&values, &dims)?;
            if observer.needs_second_pass() {
                observer.start_second_pass()?;
                observer.observe(&values, &dims)?;
            }
            Ok((target.tensor.clone(), observer.finish()?))
        })
        .collect()
}

pub(crate) fn observer_config(
    config: &QuantConfig,
    method: calibr8_calibration::Method,
    target: &TensorTarget,
    collect_all: bool,
) -> ObserverConfig {
    ObserverConfig {
        method,
        granularity: target.granularity,
        histogram: config.histogram,
        num_bins: config.num_bins,
        collect_all,
    }
}

/// Runs the float model over `data` (twice in two-pass mode) and feeds every activation of
/// `plan` to its observer. With `collect_all`, observers keep the statistics of every method so
/// one pass can answer them all (method comparison). Up to `jobs` batches run at once on
/// engines sharing one prepared model; observers still see the batches in order, so every
/// method gives the same result for any `jobs`.
#[allow(clippy::too_many_arguments)]
pub fn observe_activations(
    backend: &dyn Backend,
    model: &OnnxModel,
    plan: &QuantPlan,
    data: &dyn CalibrationData,
    config: &QuantConfig,
    collect_all: bool,
    jobs: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<(String, TensorObserver)>> {
    let method = config.activation_method()?;
    let targets: Vec<&TensorTarget> = plan.activations().collect();
    let mut observers: Vec<(String, TensorObserver)> = targets
        .iter()
        .map(|t| {
            let oc = observer_config(config, method.clone(), t, collect_all);
            TensorObserver::new(t.tensor.clone(), oc).map(|o| (t.tensor.clone(), o))
        })
        .collect::<Result<_, _>>()?;
    run_observers(backend, model, data, &mut observers, true, jobs, progress)?;
    Ok(observers)
}

/// Runs the float model over `data` and feeds every observer (keyed by tensor name) its
/// tensor, batch by batch in order; when `second_pass` allows and an observer needs it (two-pass
/// histograms), replays the data to those observers.
pub(crate) fn run_observers(
    backend: &dyn Backend,
    model: &OnnxModel,
    data: &dyn CalibrationData,
    observers: &mut [(String, TensorObserver)],
    second_pass: bool,
    jobs: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    if observers.is_empty() {
        return Ok(());
    }
    let graph_inputs = model.inputs();
    // Graph inputs are observed from the batch itself; everything else is captured.
    let capture: Vec<String> = observers
        .iter()
        .filter(|(name, _)| graph_inputs.iter().all(|i| &i.name != name))
        .map(|(name, _)| name.clone())
        .collect();
    let reads_inputs = capture.len() < observers.len();
    let options = EngineOptions { capture, ..EngineOptions::default() };
    let first = backend.prepare(Lowering::Float(model), &options)?;
    let mut engines =
        engines_for(first, jobs, &mut || backend.prepare(Lowering::Float(model), &options))?;
    tracing::debug!(
        "calibration: {} batch(es) at once; memory holds at most that many batches' captured tensors",
        engines.len()
    );
    let source_name = data.name();
    let mut pass = 1;
    // Which observers take part in the current pass (all in the first; in two-pass mode only
    // the histogram observers replay the data).
    let mut in_pass = vec![true; observers.len()];
    loop {
        let batches =
            data.batches().map(|batch| bind(&graph_inputs, &model.origin, &source_name, batch?));
        run_in_order(&mut engines, batches, reads_inputs, &mut |ix, batch, outputs| {
            // Every observer runs; the first error in observer (name) order is reported, so
            // the message does not depend on thread scheduling.
            let results: Vec<Result<(), Error>> = observers
                .par_iter_mut()
                .zip(&in_pass)
                .map(|((name, observer), active)| {
                    if !active {
                        return Ok(());
                    }
                    let value = batch.get(name).or_else(|| outputs.get(name)).ok_or_else(|| {
                        Error::backend(
                            backend.name(),
                            format!(
                                "returned no tensor '{name}' though it was asked to capture it"
                            ),
                        )
                    })?;
                    let array = value.as_f32().ok_or_else(|| {
                        Error::data(
                            name.as_str(),
                            format!(
                                "is {}; only float tensors are calibrated (exclude the node that \
                             reads it from quantization)",
                                value.elem_type()
                            ),
                        )
                    })?;
                    let array = array.as_standard_layout();
                    let values = array.as_slice().unwrap_or_default();
                    Ok(observer.observe(values, array.shape())?)
                })
                .collect();
            results.into_iter().collect::<Result<Vec<()>, _>>()?;
            progress(Progress { pass, batch: ix + 1, batches: data.num_batches() });
            Ok(())
        })?;
        if second_pass && pass == 1 && observers.iter().any(|(_, o)| o.needs_second_pass()) {
            for ((_, o), active) in observers.iter_mut().zip(in_pass.iter_mut()) {
                *active = o.needs_second_pass();
                if *active {
                    o.start_second_pass()?;
                }
            }
            pass = 2;
        } else {
            break;
        }
    }
    Ok(())
}
