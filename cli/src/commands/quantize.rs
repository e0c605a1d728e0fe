//! `calibr8 quantize`: CLI flags → a validated `QuantConfig` → calibrate → write artifacts.

use crate::args::{HistogramArg, QuantizeArgs};
use crate::summary;
use anyhow::Context;
use calibr8::calibration::HistogramMode;
use calibr8::core::config::GranularityName;
use calibr8::export::{write_artifacts, ArtifactOptions, TrtVersion};
use calibr8::{CalibrationData, NpySource, OnnxModel, QuantConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;

/// Builds the config from the file (or TensorRT's preset) and the flags, which win.
pub fn config_from_args(args: &QuantizeArgs) -> anyhow::Result<QuantConfig> {
    let mut config = match &args.config {
        Some(path) => QuantConfig::load(path)?,
        None => QuantConfig::default(),
    };
    if let Some(m) = args.method {
        config.method = m.as_str().into();
    }
    if let Some(p) = args.percentile {
        config.percentile = p;
    }
    if let Some(h) = args.histogram {
        config.histogram = match h {
            HistogramArg::Streaming => HistogramMode::Streaming,
            HistogramArg::TwoPass => HistogramMode::TwoPass,
        };
    }
    if args.per_tensor_weights {
        for rule in &mut config.config_list {
            rule.granularity = GranularityName::Default;
        }
    }
    config.validate()?;
    Ok(config)
}

pub fn run(args: QuantizeArgs) -> anyhow::Result<ExitCode> {
    let config = config_from_args(&args)?;
    let trt_version: TrtVersion = args.trt_version.parse()?;
    let model = OnnxModel::load(&args.model)?;
    let batch = crate::batch::batch_size(&model, args.batch)?;
    let data = NpySource::open(&args.calib, batch)?;
    let backend = calibr8::backend_for_name(&args.backend)?;
    if std::path::Path::new(&args.out).is_file() {
        anyhow::bail!("--out {} is a file; give a folder", args.out.display());
    }

    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(data.num_batches().unwrap_or(0) as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    };
    bar.set_prefix(format!("calibrating ({})", config.method));
    let started = std::time::Instant::now();
    let jobs = match args.jobs {
        Some(0) => anyhow::bail!("--jobs must be at least 1"),
        Some(n) => n,
        None => calibr8::core::parallel::default_jobs(),
    };
    let quantized =
        calibr8::quantize_with_progress(backend.as_ref(), &model, &data, &config, jobs, &mut |p| {
            if p.pass == 2 && p.batch == 1 {
                bar.set_prefix("histogram pass");
                bar.reset();
            }
            bar.set_position(p.batch as u64);
        })
        .with_context(|| format!("calibrating {}", model.origin))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    let written = write_artifacts(&quantized, &args.out, &ArtifactOptions { trt_version })
        .with_context(|| format!("writing artifacts to {}", args.out.display()))?;

    let mut err = std::io::stderr().lock();
    summary::print(&mut err, &quantized, data.num_samples(), elapsed)?;
    summary::warn_clipping(&mut err, &quantized)?;
    for path in written {
        use std::io::Write;
        writeln!(err, "wrote {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
