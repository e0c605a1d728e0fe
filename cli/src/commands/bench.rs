//! `calibr8 bench`: times every engine × precision an installed backend offers (tract fp32,
//! tract int8 through QLinearConv / QLinearMatMul, TensorRT fp32/fp16/int8, burn) on seeded
//! random inputs, and reports a table, `bench.json`, `bench.md`, a latency bar chart and a
//! speed-up heat-map.
//!
//! int8 rows need a `QuantizedModel`: `--calib DATA` calibrates one on tract with the config
//! (`--config` / `--method`, TensorRT's preset by default) plus `_output_` ranges, which the
//! QOperator lowering needs for each node's output scale; or `--qdq FILE` reads the scales of a
//! QDQ export (`calibr8 quantize`). A QDQ export without output ranges would leave the
//! `tract int8` row in float: bench refuses it with the reason, or with `--calib` calibrates
//! exactly the missing output ranges. A row whose nodes stayed float says so in its label.

mod kernels;
mod report;
mod rows;
mod timing;

use crate::output::Output;
use crate::progress::Stage;
use anyhow::Context;
use calibr8::core::import::{fill_output_ranges, missing_output_ranges, quantized_from_qdq};
use calibr8::export::{qoperator_model, with_output_ranges, OutputSet};
use calibr8::{CalibrationData, NpySource, OnnxModel, QuantConfig, QuantizedModel};
use clap::Args;
use report::{Measurement, Outcome};
use std::path::PathBuf;
use std::process::ExitCode;

/// `calibr8 bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The float ONNX model.
    pub model: PathBuf,

    /// Backends to time, comma-separated: tract (fp32, int8 via QLinear ops, int8 as QDQ in
    /// float), tract-int8, tensorrt (fp32, fp16, int8), burn, ort (ONNX Runtime CPU: fp32, the
    /// config's QDQ model, and the CPU preset's, laid out for its int8 kernels). Missing ones get
    /// a row saying why.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "tract,tensorrt,burn,ort",
        help_heading = "Engines",
        env = "CALIBR8_BENCH_BACKENDS"
    )]
    pub backends: Vec<String>,

    /// Batch sizes, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,32",
        help_heading = "Timing",
        value_parser = crate::parse::batch,
        allow_negative_numbers = true
    )]
    pub batch: Vec<usize>,

    /// Untimed runs before measuring each engine and batch.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5,
        help_heading = "Timing",
        value_parser = crate::parse::count,
        allow_negative_numbers = true
    )]
    pub warmup: usize,

    /// Timed runs per engine and batch (median, min and max are reported).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 30,
        help_heading = "Timing",
        value_parser = crate::parse::positive,
        allow_negative_numbers = true
    )]
    pub runs: usize,

    /// Seed of the random inputs (uniform in [-1, 1), the model's input shape).
    #[arg(long, default_value_t = 0, help_heading = "Timing")]
    pub seed: u64,

    /// Calibration data (.npy or folder) for the int8 rows; without it (or --qdq) they are
    /// skipped. With --qdq, only the output ranges the QDQ model lacks are calibrated.
    #[arg(long, value_name = "DATA", help_heading = "Int8")]
    pub calib: Option<PathBuf>,

    /// Use the scales of this QDQ model (written by `calibr8 quantize` from MODEL) instead of
    /// calibrating. QLinearConv / QLinearMatMul need each node's output range: export with
    /// `_output_` in the config's target_names, or add --calib DATA to calibrate the missing
    /// ones (the QDQ model's scales stay as written); without either, bench refuses.
    #[arg(long, value_name = "FILE", help_heading = "Int8")]
    pub qdq: Option<PathBuf>,

    /// Quantization config (JSON or YAML) [default: TensorRT's preset].
    #[arg(long, value_name = "FILE", help_heading = "Int8")]
    pub config: Option<PathBuf>,

    /// Observer for activations [default: the config's method].
    #[arg(long, value_enum, help_heading = "Int8")]
    pub method: Option<crate::args::MethodArg>,

    #[command(flatten)]
    pub rules: crate::rules::RuleArgs,

    /// Folder for bench.json, bench.md, latency.{png,svg}, speedup.{png,svg}.
    #[arg(long, short, value_name = "DIR", help_heading = "Output")]
    pub out: Option<PathBuf>,
}

pub fn run(args: BenchArgs, out: Output) -> anyhow::Result<ExitCode> {
    validate(&args)?;
    let model = OnnxModel::load(&args.model)?;
    args.rules.check_nodes(&model)?;
    let shapes = timing::input_shapes(&model, &args.batch)?;
    let mut variants = rows::variants(&args.backends)?;
    if let Some(dir) = &args.out {
        if dir.is_file() {
            anyhow::bail!("--out {} is a file; give a folder", dir.display());
        }
    }

    let quantized = match (&args.qdq, &args.calib) {
        (Some(qdq), calib) => Some(read_qdq(&args, &model, qdq, calib.as_ref(), out)?),
        (None, Some(calib)) => Some(calibrate(&args, &model, calib, out)?),
        (None, None) => None,
    };
    // The CPU preset's rows need their own calibration (other tensors, u8 activations).
    let cpu_preset = match (&args.calib, variants.iter().find_map(|v| v.preset)) {
        (Some(calib), Some(preset)) => Some(calibrate_preset(&args, &model, calib, preset, out)?),
        _ => None,
    };
    let qop = match &quantized {
        Some(q) => Some(qoperator_model(q).context("lowering to QLinearConv / QLinearMatMul")?),
        None => None,
    };
    if let Some(qop) = &qop {
        out.log_block(&report::lowering_summary(qop));
        rows::label_lowering(
            &mut variants,
            qop.lowered.len(),
            qop.lowered.len() + qop.kept_float.len(),
        );
    }

    let mut measurements = vec![];
    let mut kernel_lists = vec![];
    for engine_rows in rows::by_engine(&variants) {
        // A backend that is missing (not built in, or its library / device absent) is one row.
        if let Err(e) = calibr8::backend_for_name(&engine_rows[0].backend) {
            let variant = rows::Variant::merged(&engine_rows);
            out.log(format!("{}: not installed: {e}", variant.engine));
            let outcome = Outcome::NotInstalled(e.to_string());
            measurements.push(Measurement { variant, batch: args.batch[0], outcome });
            continue;
        }
        for variant in engine_rows {
            if let Some(names) = kernels::tract_kernels(&variant, &model, quantized.as_ref()) {
                kernel_lists.push((variant.label(), names));
            }
            for (&batch, inputs_shape) in args.batch.iter().zip(&shapes) {
                let stage = Stage::new(
                    out.quiet,
                    &format!("timing {}, batch {batch}", variant.label()),
                    Some(args.warmup + args.runs),
                );
                let outcome = measure(
                    &args,
                    &model,
                    match variant.preset {
                        Some(_) => cpu_preset.as_ref(),
                        None => quantized.as_ref(),
                    },
                    &variant,
                    batch,
                    inputs_shape,
                    &mut |done| {
                        stage.step(done, if done <= args.warmup { "warm-up" } else { "timed" })
                    },
                );
                stage.finish();
                if let Outcome::Failed(reason) = &outcome {
                    out.log(format!(
                        "warning: {} at batch {batch} failed: {reason}",
                        variant.label()
                    ));
                }
                measurements.push(Measurement { variant: variant.clone(), batch, outcome });
            }
        }
    }

    let bench = report::Bench {
        model: args.model.display().to_string(),
        inputs: model.inputs().into_iter().map(|i| (i.name, i.dims)).collect(),
        batches: args.batch.clone(),
        warmup: args.warmup,
        runs: args.runs,
        seed: args.seed,
        calib: args.calib.as_ref().or(args.qdq.as_ref()).map(|c| c.display().to_string()),
        method: match (&quantized, &args.qdq, &args.calib) {
            (Some(_), Some(_), None) => Some("scales as written in the QDQ model".into()),
            (Some(q), Some(_), Some(_)) => Some(format!(
                "scales as written in the QDQ model, missing output ranges calibrated ({})",
                q.config.method
            )),
            (Some(q), None, _) => Some(format!("{}, outputs included", q.config.method)),
            (None, _, _) => None,
        },
        lowering: qop.as_ref().map(report::Lowering::from),
        measurements,
        kernels: kernel_lists,
    };
    let mut written = vec![];
    if let Some(dir) = &args.out {
        let mut files = OutputSet::new(dir);
        files.add("bench.json", report::json(&bench));
        files.add("bench.md", report::markdown(&bench).into_bytes());
        // With no measured row (every backend missing) there is nothing to draw; the table and
        // bench.json still say why.
        match report::charts(&bench)? {
            Some((latency, speedup)) => {
                files.add("latency.png", latency.png);
                files.add("latency.svg", latency.svg.into_bytes());
                files.add("speedup.png", speedup.png);
                files.add("speedup.svg", speedup.svg.into_bytes());
            }
            None => out.log("no row was measured, so no plots were drawn"),
        }
        // The int8 model the tract int8 rows ran, for ONNX Runtime or a second look.
        if let Some(qop) = &qop {
            files.add("model.qop.onnx", qop.model.to_bytes());
        }
        written = files.commit().with_context(|| format!("writing to {}", dir.display()))?;
    }
    // stdout: the table (text) or bench.json's document (JSON).
    out.result(
        || {
            let mut text = report::table(&bench);
            for path in &written {
                text.push_str(&format!("wrote {}\n", path.display()));
            }
            text
        },
        &report::json_value(&bench),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `--qdq FILE`: the QDQ model's scales; the output ranges the QOperator lowering needs and the
/// file lacks are calibrated on `--calib`, or bench refuses (a `tract int8` row that ran in
/// float would be a lie).
fn read_qdq(
    args: &BenchArgs,
    model: &OnnxModel,
    qdq: &PathBuf,
    calib: Option<&PathBuf>,
    out: Output,
) -> anyhow::Result<QuantizedModel> {
    let qdq_model = OnnxModel::load(qdq)?;
    let mut q = quantized_from_qdq(model, &qdq_model)
        .with_context(|| format!("--qdq {}", qdq.display()))?;
    out.log(format!("read {} quantized tensors from {}", q.tensors.len(), qdq.display()));
    let missing = missing_output_ranges(&q);
    if missing.is_empty() {
        if let Some(calib) = calib {
            out.log(format!(
                "--calib {}: not used, {} has every output range",
                calib.display(),
                qdq.display()
            ));
        }
        return Ok(q);
    }
    let int8 = q.int8_nodes().len();
    let names: Vec<String> =
        missing.iter().map(|m| format!("{} ({})", m.node, m.op_type)).collect();
    let Some(calib) = calib else {
        anyhow::bail!(
            "--qdq {}: {} of its {int8} int8 nodes have no Q/DQ on their output ({}), and \
             QLinearConv / QLinearMatMul need that range: the `tract int8` row would run them in \
             float. Add --calib DATA to calibrate the missing output ranges (the QDQ model's \
             scales stay as written), or export with `_output_` in the config's target_names",
            qdq.display(),
            missing.len(),
            names.join(", ")
        );
    };
    let calibrated = calibrate(args, model, calib, out)?;
    fill_output_ranges(&mut q, &calibrated, &missing)?;
    q.config = calibrated.config.clone();
    out.log(format!(
        "calibrated the {} output range(s) missing from {} on {} ({}); every other scale is the \
         QDQ model's",
        missing.len(),
        qdq.display(),
        calib.display(),
        calibrated.config.method
    ));
    Ok(q)
}

fn validate(args: &BenchArgs) -> anyhow::Result<()> {
    if args.batch.is_empty() || args.batch.contains(&0) {
        anyhow::bail!("--batch {:?}: give positive batch sizes, e.g. --batch 1,32", args.batch);
    }
    if args.runs == 0 {
        anyhow::bail!("--runs 0: give at least one timed run");
    }
    if args.backends.is_empty() {
        anyhow::bail!("--backends is empty; use e.g. --backends tract,tensorrt");
    }
    Ok(())
}

/// The config of `--config`, `--method` and the rule flags.
fn bench_config(args: &BenchArgs) -> anyhow::Result<QuantConfig> {
    let mut config = match &args.config {
        Some(path) => QuantConfig::load(path)?,
        None => QuantConfig::default(),
    };
    if let Some(m) = args.method {
        config.method = m.as_str().parse().map_err(anyhow::Error::msg)?;
    }
    args.rules.apply(&mut config)?;
    Ok(config)
}

/// Calibrates on tract with the config laid out for `preset` (its rules replacing the default
/// ones, a config's own rules kept), without the QOperator lowering's `_output_` ranges.
fn calibrate_preset(
    args: &BenchArgs,
    model: &OnnxModel,
    calib: &PathBuf,
    preset: calibr8::Preset,
    out: Output,
) -> anyhow::Result<QuantizedModel> {
    let config = bench_config(args)?.with_preset(preset);
    config.validate()?;
    let data = NpySource::open(calib, crate::batch::batch_size(model, None)?)
        .with_context(|| format!("--calib {}", calib.display()))?;
    let backend = calibr8::backend_for_name("tract")?;
    let q = calibr8::quantize_with(backend.as_ref(), model, &data, &config)
        .with_context(|| format!("calibrating the {preset} preset's rows"))?;
    out.log(format!("calibrated {} tensors for the {preset} preset's rows", q.tensors.len()));
    Ok(q)
}

/// Calibrates on tract with the config plus `_output_` ranges (the QOperator lowering's need).
fn calibrate(
    args: &BenchArgs,
    model: &OnnxModel,
    calib: &PathBuf,
    out: Output,
) -> anyhow::Result<QuantizedModel> {
    let config = bench_config(args)?;
    config.validate()?;
    let config = with_output_ranges(&config);
    let data = NpySource::open(calib, crate::batch::batch_size(model, None)?)
        .with_context(|| format!("--calib {}", calib.display()))?;
    let started = std::time::Instant::now();
    let backend = calibr8::backend_for_name("tract")?;
    let mut stages = crate::progress::Stages::new(out.quiet);
    stages.start(&format!("calibrating ({})", config.method), data.num_batches());
    let mut pass = 1;
    let q = calibr8::quantize_with_progress(
        backend.as_ref(),
        model,
        &data,
        &config,
        calibr8::core::parallel::default_jobs(),
        &mut |p| {
            if p.pass != pass {
                pass = p.pass;
                stages.start("histogram pass", p.batches);
            }
            stages.step(p.batch, &format!("batch {}", p.batch));
        },
    )
    .with_context(|| format!("calibrating {} on {}", model.origin, calib.display()))?;
    stages.finish();
    out.log(format!(
        "calibrated {} tensors ({}, outputs included) on {} samples in {:.1}s",
        q.tensors.len(),
        q.config.method,
        data.num_samples(),
        started.elapsed().as_secs_f64()
    ));
    Ok(q)
}

/// Prepares and times one engine at one batch size.
fn measure(
    args: &BenchArgs,
    model: &OnnxModel,
    quantized: Option<&QuantizedModel>,
    variant: &rows::Variant,
    batch: usize,
    shapes: &[Vec<usize>],
    progress: &mut dyn FnMut(usize),
) -> Outcome {
    let backend = match calibr8::backend_for_name(&variant.backend) {
        Ok(b) => b,
        Err(e) => return Outcome::NotInstalled(e.to_string()),
    };
    let lowering = match (variant.int8, quantized) {
        (false, _) => calibr8::Lowering::Float(model),
        (true, Some(q)) => calibr8::Lowering::Quantized(q),
        (true, None) => {
            return Outcome::Skipped("int8 needs ranges: pass --calib DATA or --qdq FILE".into())
        }
    };
    let options = calibr8::EngineOptions {
        batch: Some(batch),
        float_precision: variant.float_precision,
        ..Default::default()
    };
    let mut engine = match backend.prepare(lowering, &options) {
        Ok(e) => e,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let inputs = timing::random_inputs(shapes, args.seed);
    match timing::time(engine.as_mut(), &inputs, args.warmup, args.runs, progress) {
        Ok(stats) => Outcome::Measured(stats),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}
