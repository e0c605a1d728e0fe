//! The `auto` method: no single observer wins on every model (minmax on some classifiers,
//! percentile or MSE on detectors and recognisers, EMA somewhere, and entropy collapses inputs
//! with a dominant constant value), so calibr8 chooses per activation tensor, in two halves.
//!
//! One capture pass keeps every method's statistics (as `compare` does). First, per tensor, on
//! the first [`AUTO_SAMPLES`] calibration samples, each candidate range is scored by the error it
//! causes where it is read: the output of the nodes that read the tensor, run alone on the
//! captured inputs with the tensor fake-quantized at the candidate and the nodes' weights
//! quantized as configured, against the same nodes in float (lowest relative squared error wins;
//! ties: the earlier candidate). That local choice is one whole-model candidate; each single
//! method applied everywhere is another. Second, [`AutoSearch`]: every distinct whole-model
//! candidate is run on [`SEARCH_SAMPLES`] evenly spaced calibration samples and scored by the
//! model outputs' SQNR; the best is refined in [`SEARCH_BLOCKS`] stretches of the network, each
//! taking another candidate's ranges only where that raises the output SQNR. So `auto` never
//! scores below the best single method on its calibration samples. Every choice and score is
//! kept in [`QuantizedModel::auto`](crate::QuantizedModel) and
//! [`QuantizedModel::auto_search`](crate::QuantizedModel), and written to `ranges.json`.

mod probe;
mod search;

pub use search::{
    AutoSearch, BlockStep, CandidateModel, PER_TENSOR, SEARCH_BLOCKS, SEARCH_SAMPLES,
};

use crate::backend::{Backend, EngineOptions, Lowering};
use crate::data::{bind, CalibrationData};
use crate::internal::*;
use crate::plan::{QuantPlan, TensorRole, TensorTarget};
use crate::quantized::TensorQuant;
use crate::tensor::{TensorMap, TensorValue};
use calibr8_calibration::{quant_params, Method, QuantParams, TensorObserver, TensorRange};
use probe::Probe;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Calibration samples the candidates are scored on (the ranges use all of them).
pub const AUTO_SAMPLES: usize = 32;

/// The candidates, in tie-breaking order: minmax, percentile 99.9 / 99.99 / 99.999, entropy,
/// MSE, EMA at `ema_decay` (the decay the capture tracked).
pub fn candidate_methods(ema_decay: f64) -> Vec<Method> {
    vec![
        Method::MinMax,
        Method::Percentile { percentile: 99.9 },
        Method::Percentile { percentile: 99.99 },
        Method::Percentile { percentile: 99.999 },
        Method::Entropy,
        Method::Mse,
        Method::EmaMinMax { decay: ema_decay },
    ]
}

/// One candidate's range and score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    /// The observer.
    pub method: Method,
    /// Its amax for this tensor.
    pub amax: f32,
    /// Squared error of the consuming nodes' outputs relative to their energy, summed over
    /// the consumers (0 = exact). `None` where the candidate could not be computed.
    pub error: Option<f64>,
}

/// What `auto` chose for one tensor, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoChoice {
    /// The chosen observer.
    pub chosen: Method,
    /// The candidate with the lowest error of the consuming nodes' outputs (the local choice).
    pub local_best: Method,
    /// The whole-model candidate the range came from after the network-level search
    /// ([`AutoSearch`]): [`PER_TENSOR`] (the local choice) or a single method's name.
    pub taken_from: String,
    /// Nodes whose outputs scored the candidates (empty: the tensor's own quantization error,
    /// for a tensor no runnable node reads).
    pub scored_on: Vec<String>,
    /// Every candidate, in [`candidate_methods`] order.
    pub candidates: Vec<CandidateScore>,
}

/// Per (tensor, consumer): squared error per distinct candidate, and the reference energy.
#[derive(Clone, Debug, Default)]
struct Tally {
    error: Vec<f64>,
    energy: f64,
}

/// A tensor being scored: its distinct candidate ranges and their parameters.
struct Scored {
    target: TensorTarget,
    /// Candidates in order, each pointing into `distinct`.
    candidates: Vec<(Method, TensorRange, usize)>,
    distinct: Vec<QuantParams>,
    /// Consumer node → tally (`""`: the tensor itself).
    tallies: BTreeMap<String, Tally>,
}

/// What `auto` decided: the ranges, each tensor's record and the network-level search.
#[derive(Clone, Debug)]
pub struct AutoOutcome {
    /// The chosen activation ranges, by tensor.
    pub ranges: BTreeMap<String, TensorRange>,
    /// Why each tensor got its range.
    pub choices: BTreeMap<String, AutoChoice>,
    /// The whole-model candidates and the refinement (`None` when there was nothing to choose).
    pub search: Option<AutoSearch>,
}

/// Chooses a range per activation of `plan` from `observers` (captured with `collect_all`,
/// tracking the EMA at `ema_decay`): first per tensor by the error of the nodes that read it,
/// then among whole-model candidates by the error of the model outputs ([`AutoSearch`]).
/// `model` is the model as run (input shapes fixed), `weights` the weight ranges; evaluations
/// run `jobs` batches at once.
#[allow(clippy::too_many_arguments)]
pub fn choose_ranges(
    backend: &dyn Backend,
    model: &OnnxModel,
    plan: &QuantPlan,
    config: &QuantConfig,
    data: &dyn CalibrationData,
    ema_decay: f64,
    jobs: usize,
    weights: &BTreeMap<String, TensorRange>,
    observers: &[(String, TensorObserver)],
) -> Result<AutoOutcome> {
    let methods = candidate_methods(ema_decay);
    // Every candidate range of every tensor, once (entropy and MSE are the costly ones); a
    // method whose statistics were not kept (no histogram) is simply not a candidate.
    let finished: Vec<(String, Vec<(Method, TensorRange)>)> = observers
        .par_iter()
        .map(|(name, observer)| {
            let ranges =
                methods.iter().filter_map(|m| Some((m.clone(), observer.finish_as(m).ok()?)));
            (name.clone(), ranges.collect())
        })
        .collect();
    let (local, mut choices) = choose_locally(backend, model, plan, data, weights, &finished)?;
    // Whole-model candidates: the per-tensor choice first (it wins ties), then each method
    // everywhere (a tensor lacking that method's statistics keeps its local choice).
    let mut candidates = vec![(PER_TENSOR.to_string(), local.clone())];
    for method in &methods {
        let ranges = finished
            .iter()
            .map(|(name, ranges)| {
                let range = ranges.iter().find(|(m, _)| m == method).map(|(_, r)| r.clone());
                range.or_else(|| local.get(name).cloned()).map(|r| (name.clone(), r))
            })
            .collect::<Option<BTreeMap<_, _>>>();
        if let Some(ranges) = ranges {
            candidates.push((method.to_string(), ranges));
        }
    }
    let order = graph_order(model, plan);
    if order.is_empty() {
        return Ok(AutoOutcome { ranges: local, choices, search: None });
    }
    let search::Searched { ranges, source_of, record } =
        search::search(backend, model, plan, config, data, jobs, weights, candidates, &order)?;
    for (name, choice) in choices.iter_mut() {
        if let (Some(range), Some(source)) = (ranges.get(name), source_of.get(name)) {
            choice.chosen = range.method.clone();
            choice.taken_from = source.clone();
        }
    }
    Ok(AutoOutcome { ranges, choices, search: Some(record) })
}

/// The quantized activations of `plan` in the order their producers appear in the graph
/// (graph inputs first), so the search's blocks are stretches of the network.
fn graph_order(model: &OnnxModel, plan: &QuantPlan) -> Vec<String> {
    let position: BTreeMap<&str, usize> =
        model.graph().node.iter().enumerate().map(|(ix, n)| (n.name.as_str(), ix + 1)).collect();
    let mut order: Vec<(usize, String)> = plan
        .tensors
        .values()
        .filter(|t| t.role == TensorRole::Activation)
        .map(|t| {
            let at = t.producer.as_deref().and_then(|p| position.get(p).copied()).unwrap_or(0);
            (at, t.tensor.clone())
        })
        .collect();
    order.sort();
    order.into_iter().map(|(_, t)| t).collect()
}

/// The per-tensor half: each tensor's candidates scored on the outputs of the nodes that read it.
fn choose_locally(
    backend: &dyn Backend,
    model: &OnnxModel,
    plan: &QuantPlan,
    data: &dyn CalibrationData,
    weights: &BTreeMap<String, TensorRange>,
    finished: &[(String, Vec<(Method, TensorRange)>)],
) -> Result<(BTreeMap<String, TensorRange>, BTreeMap<String, AutoChoice>)> {
    let graph = Graph::new(model);
    let mut ranges = BTreeMap::new();
    let mut choices = BTreeMap::new();
    let mut scored: Vec<Scored> = vec![];
    for (name, finished) in finished {
        // Quantized tensors, and those observed only for an export (NNI's output ranges).
        let target =
            plan.tensors.get(name).or_else(|| plan.observed.get(name)).ok_or_else(|| {
                Error::UnknownTensor { tensor: name.clone(), path: model.origin.clone() }
            })?;
        let mut candidates = vec![];
        let mut distinct: Vec<(Vec<f32>, QuantParams)> = vec![];
        for (method, range) in finished {
            let range = range.clone();
            let ix = match distinct.iter().position(|(amax, _)| *amax == range.amax) {
                Some(ix) => ix,
                None => {
                    distinct.push((range.amax.clone(), quant_params(&range, &target.spec)));
                    distinct.len() - 1
                }
            };
            candidates.push((method.clone(), range, ix));
        }
        let Some((first_method, first_range, _)) = candidates.first().cloned() else {
            return Err(Error::config(
                "method",
                format!("auto found no candidate range for '{name}'; use another method"),
            ));
        };
        if distinct.len() == 1 {
            // Every candidate agrees: nothing to score.
            ranges.insert(name.clone(), first_range);
            choices.insert(
                name.clone(),
                AutoChoice {
                    chosen: first_method.clone(),
                    local_best: first_method,
                    taken_from: PER_TENSOR.into(),
                    scored_on: vec![],
                    candidates: candidates
                        .iter()
                        .map(|(m, r, _)| CandidateScore {
                            method: m.clone(),
                            amax: r.max_amax(),
                            error: Some(0.0),
                        })
                        .collect(),
                },
            );
            continue;
        }
        scored.push(Scored {
            target: target.clone(),
            candidates,
            distinct: distinct.into_iter().map(|(_, p)| p).collect(),
            tallies: BTreeMap::new(),
        });
    }
    if !scored.is_empty() {
        score(backend, model, &graph, plan, data, weights, &mut scored)?;
    }
    for s in scored {
        let totals: Vec<f64> = (0..s.distinct.len())
            .map(|ix| {
                s.tallies
                    .values()
                    .map(|t| if t.energy > 0.0 { t.error[ix] / t.energy } else { t.error[ix] })
                    .sum()
            })
            .collect();
        // Lowest error; the earlier candidate on ties (stable order of candidate_methods).
        let best = s
            .candidates
            .iter()
            .min_by(|a, b| totals[a.2].total_cmp(&totals[b.2]))
            .cloned()
            .ok_or_else(|| Error::config("method", "auto scored no candidate"))?;
        let name = s.target.tensor.clone();
        ranges.insert(name.clone(), best.1.clone());
        choices.insert(
            name,
            AutoChoice {
                chosen: best.0.clone(),
                local_best: best.0.clone(),
                taken_from: PER_TENSOR.into(),
                scored_on: s.tallies.keys().filter(|k| !k.is_empty()).cloned().collect(),
                candidates: s
                    .candidates
                    .iter()
                    .map(|(m, r, ix)| CandidateScore {
                        method: m.clone(),
                        amax: r.max_amax(),
                        error: totals[*ix].is_finite().then_some(totals[*ix]),
                    })
                    .collect(),
            },
        );
    }
    Ok((ranges, choices))
}

/// Runs the model over the first [`AUTO_SAMPLES`] samples, capturing what the probes read, and
/// tallies every distinct candidate of every scored tensor.
fn score(
    backend: &dyn Backend,
    model: &OnnxModel,
    graph: &Graph,
    plan: &QuantPlan,
    data: &dyn CalibrationData,
    weights: &BTreeMap<String, TensorRange>,
    scored: &mut [Scored],
) -> Result<()> {
    let weight_params: BTreeMap<String, QuantParams> = plan
        .tensors
        .values()
        .filter(|t| t.role == TensorRole::Weight)
        .filter_map(|t| {
            weights
                .get(&t.tensor)
                .map(|r| (t.tensor.clone(), TensorQuant::new(t.clone(), r.clone()).params))
        })
        .collect();
    // The nodes that score each tensor: its quantized readers, else every reader.
    let consumers_of = |t: &TensorTarget| -> Vec<String> {
        if t.consumers.is_empty() {
            graph.consumers(&t.tensor).map(|n| n.name.clone()).collect()
        } else {
            t.consumers.clone()
        }
    };
    let mut consumer_names: Vec<String> =
        scored.iter().flat_map(|s| consumers_of(&s.target)).collect();
    consumer_names.sort();
    consumer_names.dedup();
    let mut capture: Vec<String> = scored.iter().map(|s| s.target.tensor.clone()).collect();
    for c in &consumer_names {
        if let Some(node) = graph.node(c) {
            capture.extend(
                node.inputs.iter().filter(|i| !i.is_empty() && !graph.is_constant(i)).cloned(),
            );
        }
    }
    capture.sort();
    capture.dedup();
    capture.retain(|c| !graph.inputs.contains(c));
    let options = EngineOptions { capture, ..EngineOptions::default() };
    let mut engine = backend.prepare(Lowering::Float(model), &options)?;
    let graph_inputs = model.inputs();
    let source = data.name();

    // Probes are built at the first batch, when the captured element types are known.
    let mut probes: Option<Vec<(String, Option<Probe>)>> = None;
    let mut samples = 0;
    for batch in data.batches() {
        if samples >= AUTO_SAMPLES {
            break;
        }
        let batch = bind(&graph_inputs, &model.origin, &source, batch?)?;
        samples += batch.samples();
        let outputs = engine.run(batch.clone())?;
        let value = |name: &str| batch.get(name).or_else(|| outputs.get(name));
        if probes.is_none() {
            let types: BTreeMap<String, i32> = batch
                .iter()
                .chain(outputs.iter())
                .map(|(n, v)| (n.to_string(), v.elem_type().onnx_code()))
                .collect();
            let mut built = vec![];
            for c in &consumer_names {
                let probe = Probe::build(backend, model, graph, c, &weight_params, &types)
                    .unwrap_or_else(|e| {
                        tracing::debug!("auto: node '{c}' cannot run alone ({e}); scoring its inputs by their own error");
                        None
                    });
                built.push((c.clone(), probe));
            }
            probes = Some(built);
        }
        let probes = probes.as_mut().ok_or_else(|| Error::backend("auto", "no probes"))?;
        // One task per consumer node (each owns its engines); tallies are merged afterwards.
        let work: Vec<Vec<(usize, String, Tally)>> = probes
            .par_iter_mut()
            .map(|(node, probe)| {
                let mut out = vec![];
                for (ix, s) in scored.iter().enumerate() {
                    if !consumers_of(&s.target).contains(node) {
                        continue;
                    }
                    let tally = match probe.as_mut() {
                        Some(p) => probe_tally(p, s, &value)?,
                        None => None,
                    };
                    let (key, tally) = match tally {
                        Some(t) => (node.clone(), t),
                        None => (String::new(), self_tally(s, &value)?),
                    };
                    out.push((ix, key, tally));
                }
                Ok(out)
            })
            .collect::<Result<_>>()?;
        // Tensors nobody reads in the graph (outputs): their own error.
        let mut self_only = vec![];
        for (ix, s) in scored.iter().enumerate() {
            if consumers_of(&s.target).is_empty() {
                self_only.push((ix, String::new(), self_tally(s, &value)?));
            }
        }
        for (ix, key, tally) in work.into_iter().flatten().chain(self_only) {
            let entry = scored[ix]
                .tallies
                .entry(key)
                .or_insert_with(|| Tally { error: vec![0.0; tally.error.len()], energy: 0.0 });
            for (e, add) in entry.error.iter_mut().zip(&tally.error) {
                *e += add;
            }
            entry.energy += tally.energy;
        }
    }
    Ok(())
}

/// The tensor's values as float32.
fn values_of<'a>(
    s: &Scored,
    value: &dyn Fn(&str) -> Option<&'a TensorValue>,
) -> Result<ndarray::ArrayD<f32>> {
    let v = value(&s.target.tensor).ok_or_else(|| {
        Error::backend("auto", format!("tensor '{}' was not captured", s.target.tensor))
    })?;
    Ok(v.to_f32().as_standard_layout().into_owned())
}

fn fake_quant(x: &ndarray::ArrayD<f32>, params: &QuantParams) -> Option<ndarray::ArrayD<f32>> {
    let values = x.as_slice()?;
    let fq = params.fake_quant_all(values, x.shape())?;
    ndarray::ArrayD::from_shape_vec(x.raw_dim(), fq).ok()
}

/// Squared error of the consumer's output per distinct candidate, and its energy. `None` when
/// the consumer cannot run on these inputs (then the tensor's own error scores it).
fn probe_tally<'a>(
    probe: &mut Probe,
    s: &Scored,
    value: &dyn Fn(&str) -> Option<&'a TensorValue>,
) -> Result<Option<Tally>> {
    let mut feeds = TensorMap::new();
    for name in &probe.inputs {
        match value(name) {
            Some(v) => feeds.insert(name.clone(), v.clone()),
            None => return Ok(None),
        }
    }
    let Ok(reference) = probe.reference(feeds.clone()) else {
        return Ok(None);
    };
    let Some(reference) = reference.as_f32().cloned() else {
        return Ok(None);
    };
    let x = values_of(s, value)?;
    let mut error = Vec::with_capacity(s.distinct.len());
    for params in &s.distinct {
        let Some(fq) = fake_quant(&x, params) else {
            return Ok(None);
        };
        let mut candidate = feeds.clone();
        candidate.insert(s.target.tensor.clone(), TensorValue::F32(fq));
        let Ok(out) = probe.quantized(candidate) else {
            return Ok(None);
        };
        let Some(out) = out.as_f32() else {
            return Ok(None);
        };
        if out.shape() != reference.shape() {
            return Ok(None);
        }
        error.push(out.iter().zip(&reference).map(|(a, b)| ((a - b) as f64).powi(2)).sum());
    }
    let energy = reference.iter().map(|v| (*v as f64).powi(2)).sum();
    Ok(Some(Tally { error, energy }))
}

/// The tensor's own fake-quantization error per distinct candidate.
fn self_tally<'a>(s: &Scored, value: &dyn Fn(&str) -> Option<&'a TensorValue>) -> Result<Tally> {
    let x = values_of(s, value)?;
    let error = s
        .distinct
        .iter()
        .map(|p| {
            fake_quant(&x, p)
                .map(|fq| fq.iter().zip(&x).map(|(a, b)| ((a - b) as f64).powi(2)).sum())
                .unwrap_or(f64::INFINITY)
        })
        .collect();
    let energy = x.iter().map(|v| (*v as f64).powi(2)).sum();
    Ok(Tally { error, energy })
}
