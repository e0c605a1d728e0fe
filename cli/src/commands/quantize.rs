//! `calibr8 quantize`: CLI flags → a validated `QuantConfig` → calibrate → write artifacts.

use crate::args::{CalibrationArgs, HistogramArg, QuantizeArgs};
use crate::output::Output;
use crate::summary;
use anyhow::Context;
use calibr8::calibration::HistogramMode;
use calibr8::core::config::GranularityName;
use calibr8::export::write_artifacts;
use calibr8::{CalibrationData, NpySource, OnnxModel, QuantConfig};
use std::process::ExitCode;

/// Builds the config from the file (or TensorRT's preset) and the flags, which win.
pub fn config_from_args(args: &CalibrationArgs) -> anyhow::Result<QuantConfig> {
    let mut config = match &args.config {
        Some(path) => QuantConfig::load(path)?,
        None => QuantConfig::default(),
    };
    if let Some(m) = args.method {
        config.method = m.as_str().parse().map_err(anyhow::Error::msg)?;
    }
    if let Some(p) = args.percentile {
        config.method = crate::rules::with_percentile(&config.method, p)?;
    }
    if let Some(h) = args.histogram {
        config.histogram = match h {
            HistogramArg::Streaming => HistogramMode::Streaming,
            HistogramArg::TwoPass => HistogramMode::TwoPass,
        };
    }
    args.rules.apply(&mut config)?;
    for text in &args.input_shape {
        let (name, dims) = calibr8::core::shapes::parse_input_shape(text)?;
        config.input_shapes.insert(name, dims);
    }
    if args.no_fold_batchnorm {
        config.fold_batchnorm = false;
    } else if args.fold_batchnorm {
        config.fold_batchnorm = true;
    }
    if args.bias_correction {
        config.bias_correction = true;
    }
    if args.equalize {
        config.cross_layer_equalization = true;
    }
    if args.no_nni_outputs {
        config.nni.calibrate_outputs = false;
    }
    if let Some(map) = &args.nni_module_map {
        // Read it now so a bad map fails before calibration, not after.
        calibr8::export::ModuleMap::load(map)?;
        config.nni.module_map = Some(map.clone());
    }
    if args.per_tensor_weights {
        for rule in &mut config.config_list {
            rule.granularity = GranularityName::Default;
        }
    }
    config.validate()?;
    Ok(config)
}

/// What a calibration run reads, opened from the flags the same way by `quantize` and
/// `calibrate`.
pub struct Inputs {
    /// The model, its rule flags checked against its nodes.
    pub model: OnnxModel,
    /// The calibration data, in batches of --batch (or the model's fixed batch).
    pub data: NpySource,
    /// The backend capturing activations.
    pub backend: Box<dyn calibr8::Backend>,
    /// Batches run at once.
    pub jobs: usize,
}

impl Inputs {
    /// Loads the model, opens the data and the backend, and resolves --jobs.
    pub fn open(flags: &CalibrationArgs, config: &QuantConfig) -> anyhow::Result<Inputs> {
        let model = OnnxModel::load(&flags.model)?;
        flags.rules.check_nodes(&model)?;
        // --input-shape may fix the batch of a dynamic model.
        let shaped = calibr8::core::shapes::with_input_shapes(&model, &config.input_shapes)?;
        let batch = crate::batch::batch_size(&shaped, flags.batch)?;
        let data = NpySource::open(&flags.calib, batch)?;
        let backend = flags.backend.backend()?;
        let jobs = match flags.jobs {
            Some(0) => anyhow::bail!("--jobs must be at least 1"),
            Some(n) => n,
            None => calibr8::core::parallel::default_jobs(),
        };
        Ok(Inputs { model, data, backend, jobs })
    }
}

pub fn run(args: QuantizeArgs, out: Output) -> anyhow::Result<ExitCode> {
    let config = config_from_args(&args.calibration)?;
    let flags = &args.calibration;
    let Inputs { model, data, backend, jobs } = Inputs::open(flags, &config)?;
    if std::path::Path::new(&args.out).is_file() {
        anyhow::bail!("--out {} is a file; give a folder", args.out.display());
    }

    if config.preset == calibr8::Preset::Cpu {
        if let Some(note) = crate::cpu::cpu_preset_note() {
            out.log(format!("note: {note}"));
        }
    }

    let mut stages = crate::progress::Stages::new(out.quiet);
    let batches = data.num_batches();
    stages.start(&format!("calibrating ({})", config.method), batches);
    let started = std::time::Instant::now();
    let mut pass = 1;
    let quantized =
        calibr8::quantize_with_progress(backend.as_ref(), &model, &data, &config, jobs, &mut |p| {
            if p.pass != pass {
                pass = p.pass;
                stages.start("histogram pass", p.batches.or(batches));
            }
            stages.step(p.batch, &format!("batch {}", p.batch));
        })
        .with_context(|| format!("calibrating {}", model.origin))?;
    stages.finish();
    let elapsed = started.elapsed();

    let written = write_artifacts(&quantized, &args.out, &args.cache.artifact_options())
        .with_context(|| format!("writing artifacts to {}", args.out.display()))?;

    if let Some(line) = summary::auto_line(&quantized) {
        out.log(line);
    }
    if let Some(line) = summary::bias_correction_line(&quantized) {
        out.log(line);
    }
    let mut nni = Vec::new();
    crate::nni_summary::print(&mut nni, &calibr8::export::nni_export_with_config(&quantized)?)?;
    out.log_block(&String::from_utf8_lossy(&nni));
    for warning in summary::clipping_warnings(&quantized) {
        out.log(format!("warning: {warning}"));
    }
    let in_subgraphs = calibr8::core::preprocess::subgraph_nodes(&model);
    if let Some(line) = calibr8::core::preprocess::describe_float_subgraphs(&in_subgraphs, 8) {
        out.log(format!("warning: {line}"));
    }
    let samples = data.num_samples();
    out.result(
        || summary::text(&quantized, samples, elapsed, &written),
        &summary::json(&quantized, &model, &flags.calib, samples, elapsed, &written),
    )?;
    Ok(ExitCode::SUCCESS)
}
