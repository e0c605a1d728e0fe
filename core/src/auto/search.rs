//! The network-level half of `auto`. The per-tensor choice (the error of the op that reads the
//! tensor) is local: on a voice-activity model it preferred wide ranges that the loud frames
//! favour while the decision hangs on quiet ones, and on detectors it matched MSE where
//! percentile did better end to end. So the per-tensor choice is one candidate among the whole
//! model quantized with each single method, all scored by the error of the *model outputs* on
//! evenly spaced calibration batches; the best is then refined block by block (tensors in graph
//! order), a block taking the ranges of another candidate only where that raises the output
//! SQNR by at least [`SEARCH_MIN_GAIN_DB`]. The result is never worse on the calibration data than the best single method.

use crate::backend::{Backend, Lowering};
use crate::compare::Evaluation;
use crate::data::{Batch, CalibrationData};
use crate::internal::*;
use crate::plan::QuantPlan;
use calibr8_calibration::TensorRange;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Calibration samples the whole-model candidates are scored on, taken from evenly spaced
/// batches so a long recording or a sorted data set is represented, not just its start (with 32,
/// a VAD calibrated on 24-frame clips was scored on two clips and chose badly).
pub const SEARCH_SAMPLES: usize = 64;
/// Blocks of consecutive tensors (in graph order) the refinement tries one at a time.
pub const SEARCH_BLOCKS: usize = 6;
/// Candidates (after the starting point) a block may take its ranges from: the best-scoring ones.
pub const SEARCH_SOURCES: usize = 3;
/// The score of an output reproduced exactly (its SQNR is infinite); a model scoring it on
/// every output has nothing left to refine.
const EXACT_DB: f64 = 100.0;
/// The name of the whole-model candidate that takes each tensor's local choice.
pub const PER_TENSOR: &str = "per-tensor";
/// The least output-SQNR gain (dB) for which a block changes: smaller differences are within
/// what another set of samples would move, and each change is one more fit to these samples.
pub const SEARCH_MIN_GAIN_DB: f64 = 0.1;

/// A whole-model candidate and its model-output error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateModel {
    /// `minmax`, `percentile(99.99)`, …, or [`PER_TENSOR`] (each tensor at its local choice).
    pub name: String,
    /// Model-output SQNR in dB on the search samples (the mean of each output's SQNR in dB;
    /// +∞ when exact).
    pub sqnr_db: f64,
}

/// One refinement step: a block of tensors tried at other candidates' ranges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockStep {
    /// Block index, 0 = nearest the inputs.
    pub block: usize,
    /// The block's first and last tensor, in graph order.
    pub first: String,
    /// See `first`.
    pub last: String,
    /// Every candidate tried for the block, with the model-output SQNR it gave.
    pub tried: Vec<CandidateModel>,
    /// The candidate the block took (`None`: it kept its ranges).
    pub taken: Option<String>,
}

/// What the network-level search measured and decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoSearch {
    /// Samples scored.
    pub samples: usize,
    /// Every distinct whole-model candidate, best first.
    pub candidates: Vec<CandidateModel>,
    /// The refinement, block by block.
    pub steps: Vec<BlockStep>,
    /// Model-output SQNR of the final choice.
    pub sqnr_db: f64,
}

/// The search's result: the ranges, the candidate each tensor's range came from, the record.
pub(crate) struct Searched {
    pub ranges: BTreeMap<String, TensorRange>,
    pub source_of: BTreeMap<String, String>,
    pub record: AutoSearch,
}

/// Scores whole-model candidates and refines the best. `weights` are the weight ranges,
/// `candidates` each candidate's activation ranges (the first is the per-tensor choice) and
/// `order` the activations in graph order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn search(
    backend: &dyn Backend,
    model: &OnnxModel,
    plan: &QuantPlan,
    config: &QuantConfig,
    data: &dyn CalibrationData,
    jobs: usize,
    weights: &BTreeMap<String, TensorRange>,
    candidates: Vec<(String, BTreeMap<String, TensorRange>)>,
    order: &[String],
) -> Result<Searched> {
    // Identical candidates (e.g. percentile 99.999 = minmax everywhere) are scored once.
    let mut distinct: Vec<(String, BTreeMap<String, TensorRange>)> = vec![];
    for (name, ranges) in candidates {
        if !distinct.iter().any(|(_, r)| same_ranges(r, &ranges, order)) {
            distinct.push((name, ranges));
        }
    }
    let subset = EvenlySpaced::new(data, SEARCH_SAMPLES);
    let eval = Evaluation::new(backend, model, &subset, None)?.with_jobs(jobs);
    let score = |ranges: &BTreeMap<String, TensorRange>| -> Result<f64> {
        let mut all = weights.clone();
        all.extend(ranges.iter().map(|(k, v)| (k.clone(), v.clone())));
        let q = QuantizedModel::new(model.clone(), plan.clone(), all, config.clone())?;
        Ok(output_sqnr_db(&eval.outputs(backend, Lowering::Quantized(&q))?))
    };
    let mut scored = vec![];
    for (ix, (name, ranges)) in distinct.iter().enumerate() {
        let sqnr = score(ranges)?;
        tracing::debug!("auto: whole model at {name}: {sqnr:.2} dB");
        scored.push((ix, CandidateModel { name: name.clone(), sqnr_db: sqnr }));
    }
    // Best first; the earlier candidate on ties (the per-tensor choice comes first).
    scored.sort_by(|a, b| b.1.sqnr_db.total_cmp(&a.1.sqnr_db).then(a.0.cmp(&b.0)));
    let (start, start_score) = (scored[0].0, scored[0].1.clone());
    let mut current = distinct[start].1.clone();
    let mut current_db = start_score.sqnr_db;
    // Tensors observed only for an export follow the starting candidate too.
    let mut source_of: BTreeMap<String, String> =
        current.keys().map(|t| (t.clone(), start_score.name.clone())).collect();
    let sources: Vec<usize> = scored.iter().skip(1).take(SEARCH_SOURCES).map(|s| s.0).collect();

    let mut steps = vec![];
    let blocks = SEARCH_BLOCKS.min(order.len());
    for block in 0..blocks {
        // Exact already, or no output has a defined SQNR: no trial can score higher.
        if current_db >= EXACT_DB || !current_db.is_finite() {
            break;
        }
        let tensors = &order[block * order.len() / blocks..(block + 1) * order.len() / blocks];
        let mut step = BlockStep {
            block,
            first: tensors.first().cloned().unwrap_or_default(),
            last: tensors.last().cloned().unwrap_or_default(),
            tried: vec![],
            taken: None,
        };
        let mut best: Option<(f64, usize, BTreeMap<String, TensorRange>)> = None;
        for &source in &sources {
            let (name, ranges) = &distinct[source];
            let mut trial = current.clone();
            for t in tensors {
                if let Some(r) = ranges.get(t) {
                    trial.insert(t.clone(), r.clone());
                }
            }
            if same_ranges(&trial, &current, tensors) {
                continue;
            }
            let sqnr = score(&trial)?;
            step.tried.push(CandidateModel { name: name.clone(), sqnr_db: sqnr });
            if sqnr > best.as_ref().map_or(current_db + SEARCH_MIN_GAIN_DB, |b| b.0) {
                best = Some((sqnr, source, trial));
            }
        }
        if let Some((sqnr, source, trial)) = best {
            current = trial;
            current_db = sqnr;
            step.taken = Some(distinct[source].0.clone());
            for t in tensors {
                source_of.insert(t.clone(), distinct[source].0.clone());
            }
        }
        steps.push(step);
    }
    let record = AutoSearch {
        samples: eval.samples(),
        candidates: scored.into_iter().map(|(_, c)| c).collect(),
        steps,
        sqnr_db: current_db,
    };
    Ok(Searched { ranges: current, source_of, record })
}

/// The model outputs' SQNR in dB, averaged in dB over the outputs, so a model with several
/// outputs (a detector's heads, a recurrent model's state next to its prediction) weighs each
/// one alike: averaging the noise ratios let the worst output (a VAD's LSTM state) decide alone.
/// An output reproduced exactly counts as [`EXACT_DB`].
fn output_sqnr_db(outputs: &[crate::compare::OutputMetrics]) -> f64 {
    let dbs: Vec<f64> = outputs
        .iter()
        .filter_map(|o| if o.metrics.identical { Some(EXACT_DB) } else { o.metrics.sqnr_db })
        .collect();
    if dbs.is_empty() {
        return f64::NEG_INFINITY;
    }
    dbs.iter().sum::<f64>() / dbs.len() as f64
}

fn same_ranges(
    a: &BTreeMap<String, TensorRange>,
    b: &BTreeMap<String, TensorRange>,
    tensors: &[String],
) -> bool {
    tensors.iter().all(|t| match (a.get(t), b.get(t)) {
        (Some(x), Some(y)) => x.amax == y.amax && x.min == y.min && x.max == y.max,
        (x, y) => x.is_none() && y.is_none(),
    })
}

/// About `samples` samples from batches spread evenly over `data` (all of it when smaller).
struct EvenlySpaced<'a> {
    data: &'a dyn CalibrationData,
    stride: usize,
    take: usize,
}

impl<'a> EvenlySpaced<'a> {
    fn new(data: &'a dyn CalibrationData, samples: usize) -> Self {
        // The batch size is learned from the first batch; unknown lengths take the start.
        let batch =
            data.batches().next().and_then(|b| b.ok()).map(|b| b.samples()).unwrap_or(1).max(1);
        let take = samples.div_ceil(batch).max(1);
        let stride = match data.num_batches() {
            Some(n) if n > take => n / take,
            _ => 1,
        };
        EvenlySpaced { data, stride, take }
    }
}

impl CalibrationData for EvenlySpaced<'_> {
    fn name(&self) -> String {
        if self.stride == 1 {
            self.data.name()
        } else {
            format!("{} (every {}th batch)", self.data.name(), self.stride)
        }
    }

    fn num_batches(&self) -> Option<usize> {
        self.data.num_batches().map(|n| n.div_ceil(self.stride).min(self.take))
    }

    fn batches(&self) -> Box<dyn Iterator<Item = Result<Batch>> + '_> {
        Box::new(self.data.batches().step_by(self.stride).take(self.take))
    }
}
