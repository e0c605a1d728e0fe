//! Automatic mixed precision: keep the most sensitive nodes (isolated mode) in fp16/fp32, one at
//! a time, re-measuring the all-quantized model after each, until an accuracy target holds.

use super::evaluate::Evaluation;
use super::layers::LayerResult;
use super::metrics::Metrics;
use super::reuse::ConeCache;
use crate::backend::Backend;
use crate::internal::*;
use serde::{Deserialize, Serialize};

/// What "accurate enough" means, on the first model output against the reference.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "metric", rename_all = "snake_case")]
pub enum AccuracyTarget {
    /// Top-1 drop at most `max_points` percentage points (accuracy against labels, or without
    /// labels the share of samples whose top-1 changed).
    Top1Drop {
        /// e.g. 0.5.
        max_points: f64,
    },
    /// Cosine similarity at least `min`.
    Cosine {
        /// e.g. 0.999.
        min: f64,
    },
    /// SQNR at least `min_db` dB.
    Sqnr {
        /// e.g. 30.
        min_db: f64,
    },
}

impl AccuracyTarget {
    /// The measured value the target is about.
    pub fn value(&self, m: &Metrics) -> Option<f64> {
        match self {
            AccuracyTarget::Top1Drop { .. } => m.top1_drop_points(),
            AccuracyTarget::Cosine { .. } => Some(m.cosine),
            AccuracyTarget::Sqnr { .. } => Some(m.sqnr_or_inf()),
        }
    }

    /// Whether `m` meets the target.
    pub fn met(&self, m: &Metrics) -> bool {
        match (self, self.value(m)) {
            (AccuracyTarget::Top1Drop { max_points }, Some(v)) => v <= *max_points + 1e-9,
            (AccuracyTarget::Cosine { min }, Some(v)) => v >= *min,
            (AccuracyTarget::Sqnr { min_db }, Some(v)) => v >= *min_db,
            (_, None) => false,
        }
    }

    /// How badly `m` misses: larger is worse (orders nodes by sensitivity).
    pub fn badness(&self, m: &Metrics) -> f64 {
        match self {
            AccuracyTarget::Top1Drop { .. } => m.top1_drop_points().unwrap_or(0.0),
            AccuracyTarget::Cosine { .. } => 1.0 - m.cosine,
            AccuracyTarget::Sqnr { .. } => -m.sqnr_or_inf(),
        }
    }
}

impl std::fmt::Display for AccuracyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccuracyTarget::Top1Drop { max_points } => {
                write!(f, "top-1 drop ≤ {max_points} points")
            }
            AccuracyTarget::Cosine { min } => write!(f, "cosine ≥ {min}"),
            AccuracyTarget::Sqnr { min_db } => write!(f, "SQNR ≥ {min_db} dB"),
        }
    }
}

/// One step of the greedy search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixedStep {
    /// The node this step moved to float (none for the all-int8 start).
    pub kept_in_float: Option<String>,
    /// Nodes in float after this step.
    pub float_nodes: Vec<String>,
    /// The first model output against the reference.
    pub metrics: Metrics,
    /// The target's value (e.g. the top-1 drop in points).
    pub value: Option<f64>,
    /// Whether the target holds.
    pub met: bool,
}

/// The search and its result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixedPrecision {
    /// The target.
    pub target: AccuracyTarget,
    /// Precision given to the nodes kept out of int8: what `model.qdq.onnx` and the TensorRT
    /// plan carry.
    pub float_precision: Precision,
    /// Precision the candidate backend ran those nodes in while the steps were measured
    /// (tract runs fp32 whatever was asked).
    pub measured_precision: Precision,
    /// Whether the final model meets the target.
    pub met: bool,
    /// Nodes ordered most sensitive first (isolated mode, by the target's metric, then SQNR).
    pub sensitivity_order: Vec<String>,
    /// Step 0 is the all-int8 model.
    pub steps: Vec<MixedStep>,
    /// Nodes left in int8.
    pub int8_nodes: Vec<String>,
    /// Nodes kept in float.
    pub float_nodes: Vec<String>,
}

/// How to search.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixedOptions {
    /// The accuracy target.
    pub target: AccuracyTarget,
    /// Precision of nodes kept out of int8 (`fp16` by default: TensorRT's fallback).
    pub precision: Precision,
    /// Give up after this many nodes in float (default: every int8 node).
    pub max_float_nodes: Option<usize>,
}

impl MixedPrecision {
    /// "fp16 requested, tract runs fp32" when the backend did not honour the precision.
    pub fn precision_note(&self, backend: &str) -> Option<String> {
        (self.measured_precision != self.float_precision).then(|| {
            format!(
                "{} requested, {backend} runs {}",
                self.float_precision, self.measured_precision
            )
        })
    }

    /// Label of step `ix`: `all int8`, or `+fc2 in fp16` with the precision it was measured in.
    pub fn step_label(&self, ix: usize) -> String {
        match self.steps.get(ix).and_then(|s| s.kept_in_float.as_deref()) {
            Some(node) => format!("+{node} in {}", self.measured_precision),
            None => "all int8".into(),
        }
    }
}

/// Greedy mixed precision: starting from `q` (whose all-int8 first-output metrics are
/// `all_int8`), keeps the most sensitive node of `layers` out of int8, re-evaluates, and
/// repeats until the target holds or `max_float_nodes` nodes are in float.
pub fn mixed_precision(
    eval: &Evaluation<'_>,
    candidate: &dyn Backend,
    q: &QuantizedModel,
    layers: &[LayerResult],
    all_int8: &Metrics,
    options: &MixedOptions,
) -> Result<(MixedPrecision, QuantizedModel)> {
    mixed_precision_with_progress(eval, candidate, q, layers, all_int8, options, &mut |_, _| {})
}

/// The most steps [`mixed_precision`] can take for `layers` (for a progress bar).
pub fn max_mixed_steps(layers: &[LayerResult], options: &MixedOptions) -> usize {
    options.max_float_nodes.unwrap_or(layers.len()).min(layers.len())
}

/// [`mixed_precision`], calling `progress(steps_done, node)` after each step's run.
pub fn mixed_precision_with_progress(
    eval: &Evaluation<'_>,
    candidate: &dyn Backend,
    q: &QuantizedModel,
    layers: &[LayerResult],
    all_int8: &Metrics,
    options: &MixedOptions,
    progress: &mut dyn FnMut(usize, &str),
) -> Result<(MixedPrecision, QuantizedModel)> {
    let MixedOptions { target, precision, max_float_nodes } = *options;
    let mut order: Vec<&LayerResult> = layers.iter().collect();
    // Stable: equally sensitive nodes stay in graph order.
    order.sort_by(|a, b| {
        target
            .badness(&b.isolated)
            .total_cmp(&target.badness(&a.isolated))
            .then(a.isolated.sqnr_or_inf().total_cmp(&b.isolated.sqnr_or_inf()))
    });
    let cap = max_float_nodes.unwrap_or(order.len()).min(order.len());
    let mut current = q.clone();
    let mut steps = vec![MixedStep {
        kept_in_float: None,
        float_nodes: vec![],
        metrics: all_int8.clone(),
        value: target.value(all_int8),
        met: target.met(all_int8),
    }];
    let mut float_nodes: Vec<String> = vec![];
    // Each step changes one node: it runs that node's cone from the previous step's tensors.
    let planned: Vec<String> = order.iter().take(cap).map(|l| l.node.clone()).collect();
    let mut cones = ConeCache::new(eval, candidate, q, &planned)?;
    for (ix, layer) in order.iter().take(cap).enumerate() {
        if steps.last().is_some_and(|s| s.met) {
            break;
        }
        current.keep_in_float(&[&layer.node], precision)?;
        float_nodes.push(layer.node.clone());
        let upcoming: Vec<String> =
            planned[ix + 1..].iter().flat_map(|n| cones.frontier(n)).collect();
        let metrics = cones
            .step(&current, &layer.node, &upcoming)?
            .into_iter()
            .next()
            .map(|o| o.metrics)
            .ok_or_else(|| Error::backend(candidate.name(), "the model has no output"))?;
        steps.push(MixedStep {
            kept_in_float: Some(layer.node.clone()),
            float_nodes: float_nodes.clone(),
            value: target.value(&metrics),
            met: target.met(&metrics),
            metrics,
        });
        progress(float_nodes.len(), &layer.node);
    }
    tracing::debug!(
        "mixed precision: {} cone run(s), {} whole-model run(s)",
        cones.cone_runs,
        cones.whole_runs
    );
    let met = steps.last().is_some_and(|s| s.met);
    let report = MixedPrecision {
        target,
        float_precision: precision,
        measured_precision: candidate.float_precision_for(precision),
        met,
        sensitivity_order: order.iter().map(|l| l.node.clone()).collect(),
        steps,
        int8_nodes: current.int8_nodes(),
        float_nodes,
    };
    Ok((report, current))
}
