//! Method comparison: one capture pass over the calibration data feeds observers that keep the
//! statistics of every method (min/max, EMA, the shared |x| histogram), each method's ranges
//! come from those same statistics, and the methods are ranked on the evaluation set. No single
//! method wins on every model, so the ranking is calibr8's default recommendation.

use super::evaluate::{Evaluation, OutputMetrics};
use super::metrics::Metrics;
use crate::backend::{Backend, Lowering};
use crate::data::CalibrationData;
use crate::internal::*;
use crate::quantize::{observe_activations, observe_weights, Progress};
use crate::QuantPlan;
use calibr8_calibration::{Method, DEFAULT_EMA_DECAY};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The metric that ranks methods (on the first model output).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Top-1 accuracy against the labels, else top-1 agreement with the reference.
    #[default]
    Top1,
    /// Cosine similarity.
    Cosine,
    /// SQNR (dB).
    Sqnr,
}

impl RankBy {
    /// Higher is better. Ties on top-1 (within sampling noise) are broken in [`rank`].
    pub fn score(self, m: &Metrics) -> f64 {
        match self {
            RankBy::Top1 => m.top1_accuracy.or(m.top1_agreement).unwrap_or(f64::NEG_INFINITY),
            RankBy::Cosine => m.cosine,
            RankBy::Sqnr => m.sqnr_or_inf(),
        }
    }
}

impl std::fmt::Display for RankBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RankBy::Top1 => "top1",
            RankBy::Cosine => "cosine",
            RankBy::Sqnr => "sqnr",
        })
    }
}

/// One calibrated method, evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    /// The method, with its parameter (serialized as `percentile:99.9`, `entropy`, ...).
    pub method: Method,
    /// 1 = best by the ranking metric (top-1 ties within sampling noise broken by agreement,
    /// then SQNR).
    pub rank: usize,
    /// Quantized tensors whose observer clipped more than 1% of the calibration values.
    pub tensors_clipping_over_1pct: usize,
    /// All-int8 model against the reference, per model output.
    pub outputs: Vec<OutputMetrics>,
}

/// Calibrates `plan` with every method in `methods` (e.g. [`Method::all_default`]) from one
/// pass over `data` on `backend`. Weights use the config's `weight_method` for all. One pass
/// tracks one EMA, so `methods` may hold EMA at one decay only.
pub fn calibrate_methods(
    backend: &dyn Backend,
    model: &OnnxModel,
    data: &dyn CalibrationData,
    config: &QuantConfig,
    methods: &[Method],
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<(Method, QuantizedModel)>> {
    for m in methods {
        m.validate().map_err(|e| Error::config("methods", e.to_string()))?;
    }
    let mut decays = methods.iter().filter_map(|m| match m {
        Method::EmaMinMax { decay } => Some(*decay),
        Method::MinMax
        | Method::Percentile { .. }
        | Method::Entropy
        | Method::Mse
        | Method::Auto => None,
    });
    let decay = decays.next().unwrap_or(DEFAULT_EMA_DECAY);
    if let Some(other) = decays.find(|d| *d != decay) {
        return Err(Error::config(
            "methods",
            format!(
                "EMA at decay {decay} and at {other}: one calibration pass tracks one EMA;                  compare one decay per run"
            ),
        ));
    }
    // The model quantize() calibrates: pre-processed, run at the configured input shapes.
    let model = &crate::preprocess::for_quantization(model, config)?;
    let run_model = &crate::shapes::with_input_shapes(model, &config.input_shapes)?;
    let plan = QuantPlan::resolve(model, config)?;
    let weights = observe_weights(model, &plan, config)?;
    // Capturing under EMA tracks the EMA at the requested decay; `collect_all` keeps min/max
    // and the histogram for the others.
    let capture_config = QuantConfig { method: Method::EmaMinMax { decay }, ..config.clone() };
    let observers = observe_activations(
        backend,
        run_model,
        &plan,
        data,
        &capture_config,
        true,
        crate::parallel::default_jobs(),
        progress,
    )?;
    let mut out = vec![];
    for method in methods {
        let mut ranges = weights.clone();
        if *method == Method::Auto {
            // The same capture; each tensor's range chosen by its consumers' error, then by
            // the model outputs' error.
            let method_config = QuantConfig { method: Method::Auto, ..config.clone() };
            let outcome = crate::auto::choose_ranges(
                backend,
                run_model,
                &plan,
                &method_config,
                data,
                decay,
                crate::parallel::default_jobs(),
                &ranges,
                &observers,
            )?;
            ranges.extend(outcome.ranges);
            let mut q = QuantizedModel::new(model.clone(), plan.clone(), ranges, method_config)?;
            q.auto = outcome.choices;
            q.auto_search = outcome.search;
            out.push((Method::Auto, q));
            continue;
        }
        for (tensor, observer) in &observers {
            ranges.insert(tensor.clone(), observer.finish_as(method)?);
        }
        let method_config = QuantConfig { method: method.clone(), ..config.clone() };
        out.push((
            method.clone(),
            QuantizedModel::new(model.clone(), plan.clone(), ranges, method_config)?,
        ));
    }
    if config.bias_correction {
        // One float pass: the input means are the same for every method.
        let jobs = crate::parallel::default_jobs();
        let models = out.iter_mut().map(|(_, q)| q);
        crate::bias_correction::apply(backend, run_model, data, jobs, models)?;
    }
    Ok(out)
}

/// Evaluates every calibrated model on `candidate` against the reference and ranks them, best
/// first (see [`rank`]).
pub fn rank_methods(
    eval: &Evaluation<'_>,
    candidate: &dyn Backend,
    models: &[(Method, QuantizedModel)],
    rank_by: RankBy,
) -> Result<Vec<MethodResult>> {
    let mut results = vec![];
    for (method, q) in models {
        results.push(evaluate_method(eval, candidate, method, q)?);
    }
    Ok(rank(results, rank_by, eval.samples()))
}

/// One calibrated model on `candidate` against the reference (rank 0 until [`rank`]).
pub fn evaluate_method(
    eval: &Evaluation<'_>,
    candidate: &dyn Backend,
    method: &Method,
    q: &QuantizedModel,
) -> Result<MethodResult> {
    let outputs = eval.outputs(candidate, Lowering::Quantized(q))?;
    let clipping = q.activations().filter(|t| t.range.clipped_fraction > 0.01).count();
    Ok(MethodResult {
        method: method.clone(),
        rank: 0,
        tensors_clipping_over_1pct: clipping,
        outputs,
    })
}

/// Ranks `results` (evaluated on `samples` samples) best first by `rank_by` on the first output.
/// For `top1`, differences within sampling noise (one sample, or the 95 % interval of the pairs
/// the two methods can disagree on, see [`super::ties`]) are ties, broken by top-1 agreement
/// with the float model, then SQNR. Cosine and SQNR rank as measured, ties broken by SQNR.
/// Equal keys keep the given order.
pub fn rank(results: Vec<MethodResult>, rank_by: RankBy, samples: usize) -> Vec<MethodResult> {
    fn first(r: &MethodResult) -> Option<&Metrics> {
        r.outputs.first().map(|o| &o.metrics)
    }
    let order: Vec<usize> = match rank_by {
        RankBy::Top1 => super::ties::rank_top1(
            &results,
            first,
            |m| m.top1_accuracy.or(m.top1_agreement),
            samples,
        ),
        RankBy::Cosine | RankBy::Sqnr => {
            let key = |r: &MethodResult| {
                first(r).map_or((f64::NEG_INFINITY, f64::NEG_INFINITY), |m| {
                    (rank_by.score(m), m.sqnr_or_inf())
                })
            };
            let mut order: Vec<usize> = (0..results.len()).collect();
            // Stable sort: equal keys keep the given order.
            order.sort_by(|&a, &b| {
                let (ka, kb) = (key(&results[a]), key(&results[b]));
                kb.0.total_cmp(&ka.0).then(kb.1.total_cmp(&ka.1))
            });
            order
        }
    };
    let mut slots: Vec<Option<MethodResult>> = results.into_iter().map(Some).collect();
    order
        .into_iter()
        .enumerate()
        .filter_map(|(ix, i)| {
            let mut r = slots[i].take()?;
            r.rank = ix + 1;
            Some(r)
        })
        .collect()
}

/// Ranges of every method side by side, for reports: tensor → method → amax (largest channel).
pub fn amax_table(models: &[(Method, QuantizedModel)]) -> BTreeMap<String, BTreeMap<String, f32>> {
    let mut table: BTreeMap<String, BTreeMap<String, f32>> = BTreeMap::new();
    for (method, q) in models {
        for t in q.activations() {
            table
                .entry(t.target.tensor.clone())
                .or_default()
                .insert(method.to_string(), t.range.max_amax());
        }
    }
    table
}
