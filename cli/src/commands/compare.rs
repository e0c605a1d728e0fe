//! `calibr8 compare`: rank every calibration method from one pass, measure where accuracy goes
//! layer by layer (isolated and cumulative), and with a target find a mixed-precision model.
//! Writes `report.md`, `report.json`, the plots, and with a target the mixed `model.qdq.onnx`,
//! all or nothing.

use anyhow::Context;
use calibr8::compare::{
    compare, AccuracyTarget, CompareJob, CompareOptions, CompareReport, Labels, Metrics,
    MixedOptions, PlotRef, RankBy, ALL_METHODS,
};
use calibr8::export::{qdq_model, OutputSet};
use calibr8::{NpySource, OnnxModel, Precision, QuantConfig};
use calibr8_plot::{bar_chart, BarChart, Series};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Which methods to calibrate and rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodsArg {
    /// Every method, from one pass over the data (shared histograms).
    All,
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
    /// Top-1 accuracy (labels) or agreement, ties broken by SQNR.
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

    /// Hide progress lines.
    #[arg(long, help_heading = "Output")]
    pub quiet: bool,

    /// Backend running the quantized model.
    #[arg(long, default_value = "tract", help_heading = "Backend", env = "CALIBR8_BACKEND")]
    pub backend: String,

    /// Backend running the float reference (and calibration capture). When it differs from
    /// --backend, the report also compares the two backends on the same int8 model.
    #[arg(long, default_value = "tract", help_heading = "Backend")]
    pub reference_backend: String,
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

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => QuantConfig::load(path)?,
        None => QuantConfig::default(),
    };
    if let Some(p) = args.percentile {
        config.percentile = p;
    }
    config.validate()?;
    let methods: Vec<String> = match args.method {
        MethodsArg::All => ALL_METHODS.iter().map(|m| m.to_string()).collect(),
        one => vec![one.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()],
    };
    let target = target(&args)?;
    if let Some(n) = args.max_float_layers {
        anyhow::ensure!(target.is_some(), "--max-float-layers {n} needs a --target-… option");
    }
    let model = OnnxModel::load(&args.model)?;
    let batch = crate::batch::batch_size(&model, args.batch)?;
    let calib = NpySource::open(&args.calib, batch)?;
    let eval = NpySource::open(&args.eval, batch)?;
    let labels = args.labels.as_ref().map(Labels::load).transpose()?;
    let reference = calibr8::backend_for_name(&args.reference_backend)?;
    let candidate = calibr8::backend_for_name(&args.backend)?;
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
    let quiet = args.quiet;
    let mut comparison = compare(job, &mut |stage| {
        if !quiet {
            eprintln!("  {stage}");
        }
    })
    .with_context(|| format!("comparing {}", model.origin))?;

    let mut out = OutputSet::new(&args.out);
    let plots = plots(&comparison.report)?;
    for (stem, title, rendered) in plots {
        out.add(format!("{stem}.svg"), rendered.svg.into_bytes());
        out.add(format!("{stem}.png"), rendered.png);
        comparison.report.plots.push(PlotRef { file: format!("{stem}.png"), title });
    }
    let report = &comparison.report;
    let mut json = serde_json::to_string_pretty(report)?;
    json.push('\n');
    out.add("report.json", json.into_bytes());
    out.add("report.md", report.to_markdown().into_bytes());
    if let Some(mixed) = &comparison.mixed {
        out.add(calibr8::export::names::QDQ_MODEL, qdq_model(mixed)?.to_bytes());
    }
    let written =
        out.commit().with_context(|| format!("writing the report to {}", args.out.display()))?;

    let mut err = std::io::stderr().lock();
    print_summary(&mut err, report, started.elapsed())?;
    for path in written.iter().filter(|p| p.extension().is_none_or(|e| e != "svg")) {
        writeln!(err, "wrote {}", path.display())?;
    }
    // Exit 1: the accuracy gate (the target) was not met; the report says how close it got.
    let met = report.mixed_precision.as_ref().is_none_or(|m| m.met);
    Ok(if met { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn top1(report: &CompareReport, m: &Metrics) -> String {
    let v = if report.labels.is_some() { m.top1_accuracy } else { m.top1_agreement };
    v.map(|v| format!("{:.2}%", 100.0 * v)).unwrap_or_else(|| "-".into())
}

fn sqnr(m: &Metrics) -> String {
    match m.sqnr_db {
        Some(v) => format!("{v:.2}"),
        None if m.identical => "inf".into(),
        None => "-inf".into(),
    }
}

fn print_summary(
    err: &mut impl Write,
    report: &CompareReport,
    elapsed: std::time::Duration,
) -> std::io::Result<()> {
    let top1_name = if report.labels.is_some() { "top-1 acc" } else { "top-1 agree" };
    writeln!(
        err,
        "compared {} on {} eval samples in {:.1}s (reference {}, candidate {})",
        report.model,
        report.eval_samples,
        elapsed.as_secs_f64(),
        report.reference_backend,
        report.backend
    )?;
    if let Some(acc) = report.reference_top1_accuracy {
        writeln!(err, "reference top-1 accuracy: {:.2}%", 100.0 * acc)?;
    }
    let ties = if report.rank_by == RankBy::Sqnr { "" } else { ", ties by SQNR" };
    writeln!(err, "\nmethods (ranked by {}{ties}):", report.rank_by)?;
    writeln!(
        err,
        "  {:<4} {:<11} {:>11} {:>10} {:>10}",
        "rank", "method", top1_name, "cosine", "SQNR dB"
    )?;
    for m in &report.methods {
        if let Some(o) = m.outputs.first() {
            writeln!(
                err,
                "  {:<4} {:<11} {:>11} {:>10.6} {:>10}",
                m.rank,
                m.method,
                top1(report, &o.metrics),
                o.metrics.cosine,
                sqnr(&o.metrics)
            )?;
        }
    }
    writeln!(err, "recommended: {}", report.chosen_method)?;
    writeln!(err, "\nper layer ({}; SQNR dB):", report.chosen_method)?;
    // Columns as wide as the longest name (ResNet's `layer4.0.downsample.0`), at least 20.
    let w = report.layers.iter().map(|l| l.node.chars().count()).max().unwrap_or(0).max(20);
    writeln!(
        err,
        "  {:<w$} {:<6} {:>14} {:>16}",
        "node", "op", "isolated (out)", "cumulative (node)"
    )?;
    for l in &report.layers {
        writeln!(
            err,
            "  {:<w$} {:<6} {:>14} {:>16}",
            l.node,
            l.op_type,
            sqnr(&l.isolated),
            sqnr(&l.cumulative)
        )?;
    }
    if let Some(b) = &report.backend_vs_backend {
        writeln!(err, "\n{} vs {} on the same int8 model (SQNR dB):", b.candidate, b.reference)?;
        let w = b.tensors.iter().map(|t| t.tensor.chars().count()).max().unwrap_or(0).max(20);
        for t in &b.tensors {
            writeln!(err, "  {:<w$} {:>8}", t.tensor, sqnr(&t.metrics))?;
        }
        for o in &b.outputs {
            writeln!(
                err,
                "  {:<w$} {:>8}  top-1 agree {}",
                o.output,
                sqnr(&o.metrics),
                o.metrics
                    .top1_agreement
                    .map(|a| format!("{:.2}%", 100.0 * a))
                    .unwrap_or_else(|| "-".into())
            )?;
        }
    }
    if let Some(mp) = &report.mixed_precision {
        writeln!(err, "\nmixed precision, target {}:", mp.target)?;
        let labels: Vec<String> = mp
            .steps
            .iter()
            .map(|s| {
                s.kept_in_float
                    .as_deref()
                    .map(|n| format!("+{n} in {}", mp.float_precision))
                    .unwrap_or_else(|| "all int8".into())
            })
            .collect();
        let w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0).max(22);
        let steps = mp.steps.len().to_string().len();
        for (ix, (s, label)) in mp.steps.iter().zip(&labels).enumerate() {
            writeln!(
                err,
                "  step {ix:>steps$}: {label:<w$} {} {:>8}  cosine {:.6}  SQNR {:>7} dB  {}",
                top1_name,
                top1(report, &s.metrics),
                s.metrics.cosine,
                sqnr(&s.metrics),
                if s.met { "met" } else { "not met" }
            )?;
        }
        if mp.met {
            writeln!(
                err,
                "target met: {} in {}, int8: {}",
                if mp.float_nodes.is_empty() {
                    "no layer".into()
                } else {
                    mp.float_nodes.join(", ")
                },
                mp.float_precision,
                mp.int8_nodes.join(", ")
            )?;
        } else {
            writeln!(err, "target NOT met with {} layer(s) in float", mp.float_nodes.len())?;
        }
    }
    writeln!(err)
}

/// An infinite SQNR (identical runs) has no bar length; it is drawn as n/a.
fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::NAN
    }
}

/// The per-layer SQNR chart and the per-method charts.
fn plots(
    report: &CompareReport,
) -> anyhow::Result<Vec<(&'static str, String, calibr8_plot::Rendered)>> {
    let mut plots = vec![];
    let model = std::path::Path::new(&report.model)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| report.model.clone());
    if !report.layers.is_empty() {
        let title = format!("{model}: SQNR per layer ({}, higher is better)", report.chosen_method);
        let chart = BarChart {
            title: title.clone(),
            categories: report
                .layers
                .iter()
                .map(|l| format!("{} ({})", l.node, l.op_type))
                .collect(),
            series: vec![
                Series {
                    name: "isolated: model output, only this layer int8".into(),
                    values: report
                        .layers
                        .iter()
                        .map(|l| finite(l.isolated.sqnr_or_inf()))
                        .collect(),
                },
                Series {
                    name: "cumulative: this layer's output, all int8".into(),
                    values: report
                        .layers
                        .iter()
                        .map(|l| finite(l.cumulative.sqnr_or_inf()))
                        .collect(),
                },
            ],
            value_label: "SQNR (dB)".into(),
            horizontal: true,
        };
        plots.push(("layers_sqnr", title, bar_chart(&chart).context("plotting layers_sqnr")?));
    }
    let methods: Vec<(&str, &Metrics)> = report
        .methods
        .iter()
        .filter_map(|m| m.outputs.first().map(|o| (m.method.as_str(), &o.metrics)))
        .collect();
    if !methods.is_empty() {
        let output = &report.methods[0].outputs[0].output;
        let title = format!("{model}: output SQNR per method");
        let chart = BarChart {
            title: title.clone(),
            categories: methods.iter().map(|(m, _)| m.to_string()).collect(),
            series: vec![Series {
                name: "all int8".into(),
                values: methods.iter().map(|(_, m)| finite(m.sqnr_or_inf())).collect(),
            }],
            value_label: format!("SQNR of '{output}' vs fp32 (dB)"),
            horizontal: false,
        };
        plots.push(("methods_sqnr", title, bar_chart(&chart).context("plotting methods_sqnr")?));
        let (label, values): (&str, Vec<f64>) = if report.labels.is_some() {
            let mut values = vec![];
            if let Some(r) = report.reference_top1_accuracy {
                values.push(100.0 * r);
            }
            values.extend(methods.iter().map(|(_, m)| 100.0 * m.top1_accuracy.unwrap_or(f64::NAN)));
            ("top-1 accuracy (%)", values)
        } else {
            (
                "top-1 agreement (%)",
                methods.iter().map(|(_, m)| 100.0 * m.top1_agreement.unwrap_or(f64::NAN)).collect(),
            )
        };
        let mut categories: Vec<String> = methods.iter().map(|(m, _)| m.to_string()).collect();
        if report.labels.is_some() && report.reference_top1_accuracy.is_some() {
            categories.insert(0, "fp32 reference".into());
        }
        let title = format!("{model}: {label} per method");
        let chart = BarChart {
            title: title.clone(),
            categories,
            series: vec![Series { name: "all int8".into(), values }],
            value_label: format!("{label}, output '{output}'"),
            horizontal: false,
        };
        plots.push(("methods_top1", title, bar_chart(&chart).context("plotting methods_top1")?));
    }
    if let Some(mp) = &report.mixed_precision {
        let (label, scale) = match mp.target {
            AccuracyTarget::Top1Drop { .. } => ("top-1 drop (percentage points)", 1.0),
            AccuracyTarget::Cosine { .. } => ("1 − cosine (×10⁻⁶)", 1e6),
            AccuracyTarget::Sqnr { .. } => ("SQNR (dB)", 1.0),
        };
        // Cosine sits within 1e-4 of 1: its distance from 1 is what a bar can show.
        let value = |m: &Metrics| match mp.target {
            AccuracyTarget::Cosine { .. } => scale * (1.0 - m.cosine),
            _ => finite(mp.target.value(m).unwrap_or(f64::NAN)),
        };
        let title = format!("{model}: mixed precision, target {}", mp.target);
        let chart = BarChart {
            title: title.clone(),
            categories: mp
                .steps
                .iter()
                .enumerate()
                .map(|(ix, s)| match &s.kept_in_float {
                    Some(n) => format!("{ix}: +{n} in {}", mp.float_precision),
                    None => format!("{ix}: all int8"),
                })
                .collect(),
            series: vec![Series {
                name: "whole model".into(),
                values: mp.steps.iter().map(|s| value(&s.metrics)).collect(),
            }],
            value_label: label.into(),
            horizontal: true,
        };
        plots.push(("mixed_steps", title, bar_chart(&chart).context("plotting mixed_steps")?));
    }
    Ok(plots)
}
