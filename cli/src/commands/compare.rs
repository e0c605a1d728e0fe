//! `calibr8 compare`: rank every calibration method from one pass, measure where accuracy goes
//! layer by layer (isolated and cumulative), and with a target find a mixed-precision model.
//! Writes `report.md`, `report.json`, the plots, and with a target the mixed `model.qdq.onnx`,
//! all or nothing.

use crate::output::Output;
use anyhow::Context;
use calibr8::calibration::Method;
use calibr8::compare::{
    compare_with_events, AccuracyTarget, CompareEvent, CompareJob, CompareOptions, Labels,
    MixedOptions, PlotRef, RankBy,
};
use calibr8::export::{qdq_model, OutputSet};
use calibr8::{NpySource, OnnxModel, Precision, QuantConfig};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Which methods to calibrate and rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodsArg {
    /// Every method, from one pass over the data (shared histograms), and auto.
    All,
    /// Per tensor, the candidate with the least error in its consumers' output.
    Auto,
    /// max |x|.
    Minmax,
    /// NNI's moving-average min/max.
    Ema,
    /// Percentile of the |x| histogram.
    Percentile,
    /// TensorRT's EntropyCalibration2.
    Entropy,
    /// Minimum mean-squared quantization error.
    Mse,
}

/// Ranking metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RankByArg {
    /// Top-1 accuracy (labels) or agreement; differences within sampling noise are ties,
    /// broken by agreement with fp32, then SQNR.
    Top1,
    /// Cosine similarity of the output.
    Cosine,
    /// SQNR of the output (dB).
    Sqnr,
}

/// Precision for nodes kept out of int8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FloatPrecisionArg {
    /// Half precision (TensorRT's usual fallback).
    Fp16,
    /// Single precision.
    Fp32,
}

/// `calibr8 compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The float ONNX model (opset 11–21).
    pub model: PathBuf,

    /// Calibration data: a float32 .npy shaped [samples, ...input dims], or a folder of them.
    #[arg(long, value_name = "DATA", help_heading = "Data")]
    pub calib: PathBuf,

    /// Evaluation data, shaped like the calibration data (ideally other samples).
    #[arg(long, value_name = "DATA", help_heading = "Data")]
    pub eval: PathBuf,

    /// Labels of the evaluation samples: a 1-D integer .npy (top-1 accuracy; without it, top-1
    /// agreement with the float model).
    #[arg(long, value_name = "LABELS", help_heading = "Data")]
    pub labels: Option<PathBuf>,

    /// Samples per batch [default: the model's fixed batch, else 32].
    #[arg(
        long,
        value_name = "N",
        help_heading = "Data",
        value_parser = crate::parse::batch,
        allow_negative_numbers = true
    )]
    pub batch: Option<usize>,

    /// Methods to calibrate and rank.
    #[arg(long, value_enum, default_value = "all", help_heading = "Methods")]
    pub method: MethodsArg,

    /// Metric that ranks the methods (on the first model output).
    #[arg(long, value_enum, default_value = "top1", help_heading = "Methods")]
    pub rank_by: RankByArg,

    /// Percentile for the percentile method, in (0, 100].
    #[arg(long, value_name = "P", help_heading = "Methods", allow_negative_numbers = true)]
    pub percentile: Option<f64>,

    /// Quantization config (JSON or YAML; NNI config_list keys accepted).
    #[arg(long, value_name = "FILE", help_heading = "Methods")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub rules: crate::rules::RuleArgs,

    /// Mixed precision: keep layers in float until the top-1 drop is at most POINTS
    /// percentage points (against labels, else the share of changed top-1 predictions).
    #[arg(long, value_name = "POINTS", help_heading = "Mixed precision",
          conflicts_with_all = ["target_cosine", "target_sqnr"], allow_negative_numbers = true)]
    pub target_top1_drop: Option<f64>,

    /// Mixed precision: keep layers in float until the output's cosine similarity is ≥ MIN.
    #[arg(
        long,
        value_name = "MIN",
        help_heading = "Mixed precision",
        conflicts_with = "target_sqnr",
        allow_negative_numbers = true
    )]
    pub target_cosine: Option<f64>,

    /// Mixed precision: keep layers in float until the output's SQNR is ≥ DB.
    #[arg(
        long,
        value_name = "DB",
        help_heading = "Mixed precision",
        allow_negative_numbers = true
    )]
    pub target_sqnr: Option<f64>,

    /// Precision of the layers kept out of int8.
    #[arg(long, value_enum, default_value = "fp16", help_heading = "Mixed precision")]
    pub float_precision: FloatPrecisionArg,

    /// Stop after this many layers in float [default: all of them].
    #[arg(
        long,
        value_name = "N",
        help_heading = "Mixed precision",
        value_parser = crate::parse::count,
        allow_negative_numbers = true
    )]
    pub max_float_layers: Option<usize>,

    /// Output folder: report.md, report.json, plots, and model.qdq.onnx with a target.
    #[arg(long, short, value_name = "DIR", help_heading = "Output")]
    pub out: PathBuf,

    /// Backend running the quantized model.
    #[arg(
        long,
        value_enum,
        default_value = "tract",
        help_heading = "Backend",
        env = "CALIBR8_BACKEND"
    )]
    pub backend: calibr8::BackendKind,

    /// Backend running the float reference (and calibration capture). When it differs from
    /// --backend, the report also compares the two backends on the same int8 model.
    #[arg(long, value_enum, default_value = "tract", help_heading = "Backend")]
    pub reference_backend: calibr8::BackendKind,
}

fn target(args: &CompareArgs) -> anyhow::Result<Option<AccuracyTarget>> {
    Ok(match (args.target_top1_drop, args.target_cosine, args.target_sqnr) {
        (Some(p), _, _) => {
            anyhow::ensure!(
                p.is_finite() && p >= 0.0,
                "--target-top1-drop {p}: give a drop in percentage points ≥ 0, e.g. 0.5"
            );
            Some(AccuracyTarget::Top1Drop { max_points: p })
        }
        (_, Some(c), _) => {
            anyhow::ensure!(
                (-1.0..=1.0).contains(&c),
                "--target-cosine {c}: a cosine similarity lies in [-1, 1], e.g. 0.999"
            );
            Some(AccuracyTarget::Cosine { min: c })
        }
        (_, _, Some(db)) => {
            anyhow::ensure!(db.is_finite(), "--target-sqnr {db}: give a finite dB value, e.g. 30");
            Some(AccuracyTarget::Sqnr { min_db: db })
        }
        _ => None,
    })
}

pub fn run(args: CompareArgs, out: Output) -> anyhow::Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => QuantConfig::load(path)?,
        None => QuantConfig::default(),
    };
    args.rules.apply(&mut config)?;
    config.validate()?;
    let mut methods: Vec<Method> = match args.method {
        MethodsArg::All => Method::all_default().into_iter().chain([Method::Auto]).collect(),
        one => {
            let name =
                one.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
            vec![name.parse().map_err(anyhow::Error::msg)?]
        }
    };
    if let Some(p) = args.percentile {
        let percentile = methods.iter_mut().find(|m| matches!(m, Method::Percentile { .. }));
        let Some(m) = percentile else {
            anyhow::bail!("--percentile {p}: no percentile method is compared; add --method all or percentile");
        };
        *m = crate::rules::with_percentile(m, p)?;
    }
    let target = target(&args)?;
    if let Some(n) = args.max_float_layers {
        anyhow::ensure!(target.is_some(), "--max-float-layers {n} needs a --target-… option");
    }
    let model = OnnxModel::load(&args.model)?;
    args.rules.check_nodes(&model)?;
    let batch = crate::batch::batch_size(&model, args.batch)?;
    let calib = NpySource::open(&args.calib, batch)?;
    let eval = NpySource::open(&args.eval, batch)?;
    let labels = args.labels.as_ref().map(Labels::load).transpose()?;
    let reference = args.reference_backend.backend()?;
    let candidate = args.backend.backend()?;
    if args.out.is_file() {
        anyhow::bail!("--out {} is a file; give a folder", args.out.display());
    }
    let float_precision = match args.float_precision {
        FloatPrecisionArg::Fp16 => Precision::Fp16,
        FloatPrecisionArg::Fp32 => Precision::Fp32,
    };
    let options = CompareOptions {
        methods,
        rank_by: match args.rank_by {
            RankByArg::Top1 => RankBy::Top1,
            RankByArg::Cosine => RankBy::Cosine,
            RankByArg::Sqnr => RankBy::Sqnr,
        },
        mixed: target.map(|target| MixedOptions {
            target,
            precision: float_precision,
            max_float_nodes: args.max_float_layers,
        }),
    };
    let job = CompareJob {
        reference: reference.as_ref(),
        candidate: candidate.as_ref(),
        model: &model,
        calib: &calib,
        eval: &eval,
        labels,
        config: &config,
        options,
    };
    let started = std::time::Instant::now();
    let mut stages = crate::progress::Stages::new(out.quiet);
    let mut comparison = compare_with_events(job, &mut |event| match event {
        CompareEvent::Stage { title, total } => stages.start(title, total),
        CompareEvent::Step { done, item } => stages.step(done, item),
    })
    .with_context(|| format!("comparing {}", model.origin))?;
    stages.finish();

    let mut files = OutputSet::new(&args.out);
    let charts = calibr8_plot::reports::compare_charts(&comparison.report).context("plotting")?;
    for c in charts {
        files.add(format!("{}.svg", c.stem), c.rendered.svg.into_bytes());
        files.add(format!("{}.png", c.stem), c.rendered.png);
        comparison.report.plots.push(PlotRef { file: format!("{}.png", c.stem), title: c.title });
    }
    let report = &comparison.report;
    let mut json = serde_json::to_string_pretty(report)?;
    json.push('\n');
    files.add("report.json", json.into_bytes());
    files.add("report.md", report.to_markdown().into_bytes());
    if let Some(mixed) = &comparison.mixed {
        files.add(calibr8::export::names::QDQ_MODEL, qdq_model(mixed)?.to_bytes());
    }
    let written =
        files.commit().with_context(|| format!("writing the report to {}", args.out.display()))?;
    out.log(format!(
        "compared {} on {} evaluation samples in {:.1}s",
        report.model,
        report.eval_samples,
        started.elapsed().as_secs_f64()
    ));
    // stdout: the summary (text) or report.json's document (JSON).
    out.result(
        || {
            let mut text = report.to_text();
            for path in written.iter().filter(|p| p.extension().is_none_or(|e| e != "svg")) {
                text.push_str(&format!("wrote {}\n", path.display()));
            }
            text
        },
        report,
    )?;
    // Exit 1: the accuracy gate (the target) was not met; the report says how close it got.
    let met = report.mixed_precision.as_ref().is_none_or(|m| m.met);
    Ok(if met { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
