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
use calibr8_calibration::Method;
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
    /// Higher is better. Ties on top-1 are broken by SQNR in [`rank_methods`].
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

/// The method names `all` stands for, in a stable order.
pub const ALL_METHODS: [&str; 5] = ["minmax", "ema", "percentile", "entropy", "mse"];

/// One calibrated method, evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    /// The method (`minmax`, `ema`, `percentile`, `entropy`, `mse`).
    pub method: String,
    /// 1 = best by the ranking metric, then SQNR.
    pub rank: usize,
    /// Quantized tensors whose observer clipped more than 1% of the calibration values.
    pub tensors_clipping_over_1pct: usize,
    /// All-int8 model against the reference, per model output.
    pub outputs: Vec<OutputMetrics>,
}

/// Calibrates `plan` with every method in `methods` (names as in `QuantConfig::method`) from
/// one pass over `data` on `backend`. Weights use the config's `weight_method` for all.
pub fn calibrate_methods(
    backend: &dyn Backend,
    model: &OnnxModel,
    data: &dyn CalibrationData,
    config: &QuantConfig,
    methods: &[String],
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<(String, QuantizedModel)>> {
    let plan = QuantPlan::resolve(model, config)?;
    let weights = observe_weights(model, &plan, config)?;
    // Capturing under `ema` tracks the EMA at the config's decay; `collect_all` keeps min/max
    // and the histogram for the others.
    let capture_config = QuantConfig { method: "ema".into(), ..config.clone() };
    let observers = observe_activations(
        backend,
        model,
        &plan,
        data,
        &capture_config,
        true,
        crate::parallel::default_jobs(),
        progress,
    )?;
    let mut out = vec![];
    for name in methods {
        let method_config = QuantConfig { method: name.clone(), ..config.clone() };
        let method: Method = method_config.activation_method()?;
        let mut ranges = weights.clone();
        for (tensor, observer) in &observers {
            ranges.insert(tensor.clone(), observer.finish_as(&method)?);
        }
        out.push((
            name.clone(),
            QuantizedModel::new(model.clone(), plan.clone(), ranges, method_config)?,
        ));
    }
    Ok(out)
}

/// Evaluates every calibrated model on `candidate` against the reference and ranks them, best
/// first: by `rank_by` on the first output, ties broken by SQNR, then by the given order.
pub fn rank_methods(
    eval: &Evaluation<'_>,
    candidate: &dyn Backend,
    models: &[(String, QuantizedModel)],
    rank_by: RankBy,
) -> Result<Vec<MethodResult>> {
    let mut results = vec![];
    for (name, q) in models {
        let outputs = eval.outputs(candidate, Lowering::Quantized(q))?;
        let clipping = q.activations().filter(|t| t.range.clipped_fraction > 0.01).count();
        results.push(MethodResult {
            method: name.clone(),
            rank: 0,
            tensors_clipping_over_1pct: clipping,
            outputs,
        });
    }
    let key = |r: &MethodResult| {
        r.outputs
            .first()
            .map(|o| (rank_by.score(&o.metrics), o.metrics.sqnr_or_inf()))
            .unwrap_or((f64::NEG_INFINITY, f64::NEG_INFINITY))
    };
    // Stable sort: equal keys keep the given order.
    results.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        kb.0.total_cmp(&ka.0).then(kb.1.total_cmp(&ka.1))
    });
    for (ix, r) in results.iter_mut().enumerate() {
        r.rank = ix + 1;
    }
    Ok(results)
}

/// Ranges of every method side by side, for reports: tensor → method → amax (largest channel).
pub fn amax_table(models: &[(String, QuantizedModel)]) -> BTreeMap<String, BTreeMap<String, f32>> {
    let mut table: BTreeMap<String, BTreeMap<String, f32>> = BTreeMap::new();
    for (name, q) in models {
        for t in q.activations() {
            table
                .entry(t.target.tensor.clone())
                .or_default()
                .insert(name.clone(), t.range.max_amax());
        }
    }
    table
}
