//! `calibr8::compare`: where did accuracy go?
//!
//! Two runs of the same inputs — a reference (the float model) and a candidate (the quantized
//! model), on any two [`Backend`]s (tract fp32 vs tract int8, or tract vs TensorRT) — compared
//! with [`Metrics`]: top-1 agreement, top-1 accuracy against labels, cosine similarity, SQNR,
//! max / mean absolute error. On top of them:
//! - [`calibrate_methods`] + [`rank_methods`]: every observer from one calibration pass, ranked;
//! - [`analyze_layers`]: isolated (one node quantized) and cumulative (all quantized) per layer;
//! - [`mixed_precision`]: the most sensitive nodes kept in fp16/fp32 until a target holds;
//! - [`compare`]: all of it, as a [`CompareReport`] (JSON and Markdown).
//!
//! ```
//! use calibr8_core::compare::{AccuracyTarget, MetricAccumulator};
//! let r = ndarray::arr2(&[[0.1f32, 0.9], [0.8, 0.2]]).into_dyn();
//! let q = ndarray::arr2(&[[0.1f32, 0.8], [0.7, 0.2]]).into_dyn();
//! let mut acc = MetricAccumulator::new(true);
//! acc.add(&r, &q, None)?;
//! let m = acc.finish();
//! assert_eq!(m.top1_agreement, Some(1.0));
//! assert!(AccuracyTarget::Cosine { min: 0.99 }.met(&m));
//! # Ok::<(), calibr8_core::Error>(())
//! ```

mod evaluate;
mod layers;
mod methods;
mod metrics;
mod mixed;
mod progress;
mod report;
mod reuse;
mod table;
pub mod ties;

pub use evaluate::{Evaluation, Labels, OutputMetrics, TensorMetrics};
pub use layers::{analyze_layers, weight_metrics, LayerAnalysis, LayerResult};
pub use methods::{
    amax_table, calibrate_methods, evaluate_method, rank, rank_methods, MethodResult, RankBy,
};
pub use metrics::{argmax_rows, MetricAccumulator, Metrics};
pub use mixed::{
    max_mixed_steps, mixed_precision, mixed_precision_with_progress, AccuracyTarget, MixedOptions,
    MixedPrecision, MixedStep,
};
pub use progress::CompareEvent;
pub use report::{BackendComparison, CompareReport, PlotRef};
pub use reuse::cache_budget;

use crate::backend::{Backend, Lowering};
use crate::data::CalibrationData;
use crate::internal::*;
use calibr8_calibration::Method;

/// Which methods to calibrate and how to choose among them.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareOptions {
    /// Methods to calibrate (from one pass); the best ranked is analysed per layer.
    pub methods: Vec<Method>,
    /// Ranking metric.
    pub rank_by: RankBy,
    /// Mixed-precision search, when a target is given.
    pub mixed: Option<MixedOptions>,
}

impl Default for CompareOptions {
    fn default() -> Self {
        // Every observer, and `auto` ranked among them.
        let methods = Method::all_default().into_iter().chain([Method::Auto]).collect();
        CompareOptions { methods, rank_by: RankBy::Top1, mixed: None }
    }
}

/// Everything [`compare`] needs.
pub struct CompareJob<'a> {
    /// Runs the float model (calibration capture and the reference outputs).
    pub reference: &'a dyn Backend,
    /// Runs the quantized models.
    pub candidate: &'a dyn Backend,
    /// The float model.
    pub model: &'a OnnxModel,
    /// Calibration data.
    pub calib: &'a dyn CalibrationData,
    /// Evaluation data (ideally not the calibration data).
    pub eval: &'a dyn CalibrationData,
    /// Labels for the evaluation data.
    pub labels: Option<Labels>,
    /// What to quantize (its `method` is ignored: `options.methods` decide).
    pub config: &'a QuantConfig,
    /// Methods, ranking, target.
    pub options: CompareOptions,
}

/// [`compare`]'s result: the report and the models behind it.
pub struct Comparison {
    /// Everything measured.
    pub report: CompareReport,
    /// The calibrated model of each method, in `options.methods` order.
    pub models: Vec<(Method, QuantizedModel)>,
    /// The mixed-precision model, when a target was given.
    pub mixed: Option<QuantizedModel>,
}

/// Calibrates every method from one pass, ranks them, analyses the best one per layer, and
/// searches mixed precision when a target is given. `progress` receives a line per stage.
pub fn compare(job: CompareJob<'_>, progress: &mut dyn FnMut(&str)) -> Result<Comparison> {
    compare_with_events(job, &mut |event| {
        if let CompareEvent::Stage { title, .. } = event {
            progress(title)
        }
    })
}

/// [`compare`], reporting each stage and each of its steps (calibration batches, methods,
/// nodes, mixed-precision steps) to `events`.
pub fn compare_with_events(
    job: CompareJob<'_>,
    events: &mut dyn FnMut(CompareEvent<'_>),
) -> Result<Comparison> {
    let CompareJob { reference, candidate, model, calib, eval, labels, config, options } = job;
    if options.methods.is_empty() {
        return Err(Error::config("methods", "give at least one method, or `all`"));
    }
    let label_source = labels.as_ref().map(|l| l.source.clone());
    events(CompareEvent::Stage {
        title: &format!("reference run of {} on {}", model.origin, reference.name()),
        total: None,
    });
    let evaluation = Evaluation::new(reference, model, eval, labels)?;
    let batches = calib.num_batches();
    let passes =
        if config.histogram == calibr8_calibration::HistogramMode::TwoPass { 2 } else { 1 };
    let names: Vec<String> = options.methods.iter().map(|m| m.to_string()).collect();
    events(CompareEvent::Stage {
        title: &format!("calibrating {} from one pass over {}", names.join(", "), calib.name()),
        total: batches.map(|b| b * passes),
    });
    let models = calibrate_methods(reference, model, calib, config, &options.methods, &mut |p| {
        let done = (p.pass - 1) * p.batches.unwrap_or(0) + p.batch;
        events(CompareEvent::Step { done, item: &format!("pass {}, batch {}", p.pass, p.batch) });
    })?;
    events(CompareEvent::Stage {
        title: &format!("ranking {} methods on {}", models.len(), candidate.name()),
        total: Some(models.len()),
    });
    let mut results = vec![];
    for (ix, (method, q)) in models.iter().enumerate() {
        results.push(evaluate_method(&evaluation, candidate, method, q)?);
        events(CompareEvent::Step { done: ix + 1, item: &method.to_string() });
    }
    let methods = rank(results, options.rank_by, evaluation.samples());
    let (chosen_method, chosen) = methods
        .first()
        .and_then(|best| models.iter().find(|(m, _)| *m == best.method))
        .map(|(m, q)| (m.to_string(), q.clone()))
        .ok_or_else(|| Error::config("methods", "no method was calibrated"))?;
    // Per layer: one cumulative run, then one isolated run per int8 node.
    let int8_nodes = chosen.int8_nodes().len();
    events(CompareEvent::Stage {
        title: &format!("per-layer analysis of {chosen_method} on {}", candidate.name()),
        total: Some(int8_nodes + 1),
    });
    let mut done = 0;
    let analysis = analyze_layers(&evaluation, candidate, &chosen, &mut |node| {
        // `analyze_layers` names each run before starting it: the previous one is done.
        if done > 0 {
            events(CompareEvent::Step { done, item: node });
        }
        done += 1;
    })?;
    events(CompareEvent::Step { done, item: "per-layer analysis" });
    let (mixed_report, mixed) = match &options.mixed {
        Some(mixed_options) => {
            events(CompareEvent::Stage {
                title: &format!("mixed precision, target {}", mixed_options.target),
                total: Some(max_mixed_steps(&analysis.layers, mixed_options)),
            });
            let all_int8 = analysis
                .outputs
                .first()
                .map(|o| o.metrics.clone())
                .ok_or_else(|| Error::backend(candidate.name(), "the model has no output"))?;
            let (report, q) = mixed_precision_with_progress(
                &evaluation,
                candidate,
                &chosen,
                &analysis.layers,
                &all_int8,
                mixed_options,
                &mut |done, node| events(CompareEvent::Step { done, item: node }),
            )?;
            (Some(report), Some(q))
        }
        None => (None, None),
    };
    // Two different backends: also run the same int8 model on both, tensor by tensor, to tell
    // the engine's own error from the quantization's ("accuracy dropped only after the build").
    let backend_vs_backend = if reference.name() != candidate.name() {
        events(CompareEvent::Stage {
            title: &format!(
                "{} vs {} on the same int8 model ({chosen_method})",
                candidate.name(),
                reference.name()
            ),
            total: None,
        });
        let both = Evaluation::with_lowering(
            reference,
            Lowering::Quantized(&chosen),
            eval,
            evaluation.labels().cloned(),
        )?;
        let names: Vec<String> = analysis
            .tensors
            .iter()
            .map(|t| t.tensor.clone())
            .filter(|t| !both.output_names().contains(t))
            .collect();
        let (outputs, captured) = both.cumulative(candidate, &chosen, &names)?;
        let tensors = analysis
            .tensors
            .iter()
            .filter_map(|t| {
                let ix = names.iter().position(|n| *n == t.tensor)?;
                Some(TensorMetrics { metrics: captured[ix].clone(), ..t.clone() })
            })
            .collect();
        Some(BackendComparison {
            reference: reference.name().into(),
            candidate: candidate.name().into(),
            outputs,
            tensors,
        })
    } else {
        None
    };
    let report = CompareReport {
        calibr8_version: env!("CARGO_PKG_VERSION").into(),
        model: model.origin.clone(),
        reference_backend: reference.name().into(),
        backend: candidate.name().into(),
        calibration_data: calib.name(),
        eval_data: evaluation.data_name(),
        eval_samples: evaluation.samples(),
        labels: label_source,
        reference_top1_accuracy: evaluation.reference_top1_accuracy()?,
        rank_by: options.rank_by,
        methods,
        chosen_method,
        layers: analysis.layers,
        tensors: analysis.tensors,
        weights: analysis.weights,
        all_int8: analysis.outputs,
        mixed_precision: mixed_report,
        backend_vs_backend,
        plots: vec![],
    };
    Ok(Comparison { report, models, mixed })
}
