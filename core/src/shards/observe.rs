//! Observing one shard: the range pass (min/max only) or the histogram pass on a grid fixed by
//! range states, in one pass over the shard's data.

use super::identity::ModelIdentity;
use super::state::{ShardState, Source, TensorState, CALIBR8_VERSION};
use crate::backend::Backend;
use crate::data::{Batch, CalibrationData};
use crate::internal::*;
use crate::plan::QuantPlan;
use crate::quantize::{observer_config, run_observers, Progress};
use crate::tensor::TensorValue;
use calibr8_calibration::{HistogramMode, Method, ObserverConfig, TensorObserver};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What a shard pass observes.
#[derive(Clone, Copy, Debug)]
pub enum ShardPass<'a> {
    /// Per-tensor min/max: the range pass of a histogram method, or all that `minmax` needs.
    Ranges,
    /// The histogram pass: each tensor's histogram on the grid of these (merged) states, which
    /// must come from the same model and configuration and cover this shard's data. For
    /// `minmax`, the states are only checked and a range state is written.
    OnGrid(&'a ShardState),
}

/// Why `config` cannot be observed in shards, if it cannot.
pub fn check_shardable(config: &QuantConfig) -> Result<()> {
    if config.bias_correction {
        return Err(Error::config(
            "bias_correction",
            "bias correction measures the mean of every Conv/Gemm input over the calibration \
             data after the ranges are known, a pass the shard states do not record. Quantize \
             on one machine for it, or leave it off",
        ));
    }
    match &config.method {
        Method::Auto => Err(Error::config(
            "method",
            "auto scores its candidates by running the model on the first calibration samples, \
             and one candidate is EMA, which depends on batch order: it does not split into \
             shards. Pass --method minmax, percentile, entropy or mse (`calibr8 compare` \
             ranks them on one machine)",
        )),
        Method::EmaMinMax { .. } => Err(Error::config(
            "method",
            "ema depends on batch order (every update weighs all earlier batches), so shards \
             cannot be merged exactly. Use minmax (exactly mergeable), or percentile, entropy \
             or mse on a shared grid",
        )),
        m if ObserverConfig::new(m.clone()).collects_histogram()
            && config.histogram != HistogramMode::TwoPass =>
        {
            Err(Error::config(
                "histogram",
                "streaming histograms take their bin width from their first batch, so shards \
                 would not share a grid. Use histogram: two_pass (`calibr8 calibrate` sets it \
                 when --histogram is not given)",
            ))
        }
        _ => Ok(()),
    }
}

/// Observes the activations of `model` over one shard of calibration data, for
/// [`ShardState::merge`] and [`ShardState::quantize`] on another machine.
///
/// One pass over `data` with up to `jobs` batches at once. `model` is the file as loaded:
/// the state records the identity of its pre-processed form and the resolved `config`.
/// `minmax` needs [`ShardPass::Ranges`] only; percentile, entropy and mse need a range pass
/// on every shard, the merged range states, then [`ShardPass::OnGrid`] on every shard.
///
/// ```no_run
/// # use calibr8_core::{Backend, NpySource};
/// # fn demo(backend: &dyn Backend, shards: &[NpySource]) -> calibr8_core::Result<()> {
/// use calibr8_calibration::{HistogramMode, Method};
/// use calibr8_core::shards::{observe_shard, ShardPass, ShardState};
/// use calibr8_core::{OnnxModel, QuantConfig};
/// let model = OnnxModel::load("model.onnx")?;
/// let config =
///     QuantConfig::builder().method(Method::Entropy).histogram(HistogramMode::TwoPass).build()?;
/// let observe =
///     |s: &NpySource, pass| observe_shard(backend, &model, s, &config, pass, 1, &mut |_| {});
/// // On every machine: the ranges of its shard.
/// let ranges: Vec<ShardState> = shards.iter()
///     .map(|s| observe(s, ShardPass::Ranges))
///     .collect::<Result<_, _>>()?;
/// let grid = ShardState::merge(&ranges)?;
/// // On every machine again: histograms on the shared grid.
/// let parts: Vec<ShardState> = shards.iter()
///     .map(|s| observe(s, ShardPass::OnGrid(&grid)))
///     .collect::<Result<_, _>>()?;
/// let quantized = ShardState::merge(&parts)?.quantize(&model)?;
/// # Ok(()) }
/// ```
pub fn observe_shard(
    backend: &dyn Backend,
    model: &OnnxModel,
    data: &dyn CalibrationData,
    config: &QuantConfig,
    pass: ShardPass<'_>,
    jobs: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<ShardState> {
    check_shardable(config)?;
    let pre = crate::preprocess::for_quantization(model, config)?;
    let identity = ModelIdentity::of(&pre, model.origin.clone());
    let run_model = crate::shapes::with_input_shapes(&pre, &config.input_shapes)?;
    let plan = QuantPlan::resolve(&pre, config)?;
    let method = config.activation_method()?;
    let axes: BTreeMap<String, Option<usize>> = plan
        .activations()
        .map(|t| {
            let axis = match t.granularity {
                calibr8_calibration::Granularity::PerChannel { axis } => Some(axis),
                calibr8_calibration::Granularity::PerTensor => None,
            };
            (t.tensor.clone(), axis)
        })
        .collect();
    let mut state = ShardState {
        origin: format!("this shard ({})", data.name()),
        calibr8_version: CALIBR8_VERSION.into(),
        model: identity,
        config: config.clone(),
        sources: vec![],
        tensors: axes
            .iter()
            .map(|(name, &axis)| (name.clone(), TensorState { axis, state: no_data() }))
            .collect(),
    };
    if let ShardPass::OnGrid(grid) = pass {
        // Before running anything: the grid must be of this model, configuration and plan.
        grid.check_same_observation(&state)?;
    }
    let mut observers = Vec::new();
    for target in plan.activations() {
        let oc = observer_config(config, method.clone(), target, false);
        let observer = match pass {
            ShardPass::OnGrid(grid) if oc.collects_histogram() => {
                let maxes = grid.grid_max(&target.tensor).ok_or_else(|| {
                    grid.invalid(format!(
                        "has no range for tensor '{}'; pass range states of this model and \
                         configuration",
                        target.tensor
                    ))
                })?;
                TensorObserver::on_grid(target.tensor.clone(), oc, &maxes)
                    .map_err(|e| grid.invalid(e.to_string()))?
            }
            _ => TensorObserver::new(target.tensor.clone(), oc)?,
        };
        observers.push((target.tensor.clone(), observer));
    }
    let samples = AtomicU64::new(0);
    let digest = Mutex::new(Sha256::new());
    let counted = Counting { inner: data, samples: &samples, digest: &digest };
    let mut batches = 0u64;
    let result =
        run_observers(backend, &run_model, &counted, &mut observers, false, jobs, &mut |p| {
            batches = p.batch as u64;
            progress(p)
        });
    if let (
        Err(Error::Calibration(calibr8_calibration::Error::SecondPassOutOfRange {
            tensor,
            value,
            max,
            ..
        })),
        ShardPass::OnGrid(grid),
    ) = (&result, pass)
    {
        return Err(Error::data(
            data.name(),
            format!(
                "tensor '{tensor}' reaches |x| = {value}, beyond the grid's max {max} from {}; \
                 the range states must cover every shard: run `calibr8 calibrate --range-only` \
                 on every shard and pass all of them (or their merge) to --range",
                grid.origin
            ),
        ));
    }
    result?;
    for (name, observer) in observers {
        if let Some(t) = state.tensors.get_mut(&name) {
            t.state = observer.state()?;
        }
    }
    state.origin = "<memory>".into();
    let sha256 = match digest.into_inner() {
        Ok(h) => super::identity::hex(&h.finalize()),
        Err(poisoned) => super::identity::hex(&poisoned.into_inner().finalize()),
    };
    state.sources =
        vec![Source { data: data.name(), samples: samples.into_inner(), batches, sha256 }];
    Ok(state)
}

fn no_data() -> calibr8_calibration::ObserverState {
    calibr8_calibration::ObserverState {
        batches: 0,
        values: 0,
        min: vec![],
        max: vec![],
        grid: None,
    }
}

/// Counts the samples a pass reads (the first dimension of each batch's first input) and
/// hashes the batches.
struct Counting<'a> {
    inner: &'a dyn CalibrationData,
    samples: &'a AtomicU64,
    digest: &'a Mutex<Sha256>,
}

impl CalibrationData for Counting<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn num_batches(&self) -> Option<usize> {
        self.inner.num_batches()
    }

    fn batches(&self) -> Box<dyn Iterator<Item = Result<Batch>> + '_> {
        Box::new(self.inner.batches().inspect(|b| {
            let Ok(batch) = b else { return };
            if let Some(n) = batch.value(0).and_then(|v| v.shape().first()) {
                self.samples.fetch_add(*n as u64, Ordering::Relaxed);
            }
            let mut h = self.digest.lock().unwrap_or_else(|p| p.into_inner());
            for (name, value) in batch.iter() {
                hash_tensor(&mut h, name, value);
            }
        }))
    }
}

/// Feeds a tensor's name, type, shape and values (little-endian) to `h`.
fn hash_tensor(h: &mut Sha256, name: &str, value: &TensorValue) {
    h.update((name.len() as u64).to_le_bytes());
    h.update(name.as_bytes());
    h.update(value.elem_type().onnx_code().to_le_bytes());
    h.update((value.shape().len() as u64).to_le_bytes());
    for d in value.shape() {
        h.update((*d as u64).to_le_bytes());
    }
    let mut bytes = Vec::with_capacity(value.len() * 8);
    match value {
        TensorValue::F32(a) => a.iter().for_each(|x| bytes.extend(x.to_bits().to_le_bytes())),
        TensorValue::F64(a) => a.iter().for_each(|x| bytes.extend(x.to_bits().to_le_bytes())),
        TensorValue::I64(a) => a.iter().for_each(|x| bytes.extend(x.to_le_bytes())),
        TensorValue::I32(a) => a.iter().for_each(|x| bytes.extend(x.to_le_bytes())),
        TensorValue::I8(a) => a.iter().for_each(|x| bytes.extend(x.to_le_bytes())),
        TensorValue::U8(a) => bytes.extend(a.iter()),
        TensorValue::Bool(a) => bytes.extend(a.iter().map(|&x| u8::from(x))),
    }
    h.update(&bytes);
}
