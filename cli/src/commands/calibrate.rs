//! `calibr8 calibrate`: observe one shard of the calibration data into a `.c8state` file, for
//! `calibr8 merge` on any machine (docs/shards.md). The range pass (`--range-only`) records
//! per-tensor min/max; the histogram pass (`--range STATES`) fills histograms on the grid the
//! merged range states fix.

use crate::args::{CalibrationArgs, HistogramArg};
use crate::output::Output;
use anyhow::Context;
use calibr8::calibration::ObserverConfig;
use calibr8::core::shards::{check_shardable, observe_shard, ShardPass, ShardState};
use calibr8::CalibrationData;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// `calibr8 calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The model, this shard's part of the data, and `quantize`'s calibration flags.
    #[command(flatten)]
    pub calibration: CalibrationArgs,

    /// Where to write this shard's state (a `.c8state` file, written atomically).
    #[arg(long, value_name = "FILE", help_heading = "Shards")]
    pub state: PathBuf,

    /// The range pass: record per-tensor min/max only (all that minmax needs; percentile,
    /// entropy and mse then need the histogram pass with --range).
    #[arg(long, help_heading = "Shards", conflicts_with = "range")]
    pub range_only: bool,

    /// The histogram pass: the range states of every shard (or their merge), which fix the
    /// histogram grid every shard shares.
    #[arg(long, value_name = "STATE", num_args = 1.., help_heading = "Shards")]
    pub range: Vec<PathBuf>,
}

/// `calibr8 calibrate --format json` (docs/cli-json.md).
#[derive(Serialize)]
struct CalibrateJson {
    state: String,
    kind: &'static str,
    model: String,
    model_sha256: String,
    method: String,
    calibration_data: String,
    samples: u64,
    batches: u64,
    tensors: usize,
    seconds: f64,
}

pub fn run(args: CalibrateArgs, out: Output) -> anyhow::Result<ExitCode> {
    // Built exactly as `quantize` builds it, so a shard's config compares equal to a
    // `quantize` run's; the histogram mode defaults to the only one whose shards merge.
    let mut flags = args.calibration.clone();
    flags.histogram = Some(flags.histogram.unwrap_or(HistogramArg::TwoPass));
    let config = crate::commands::quantize::config_from_args(&flags)?;
    check_shardable(&config)?;
    let needs_grid = ObserverConfig::new(config.method.clone()).collects_histogram();
    if needs_grid && !args.range_only && args.range.is_empty() {
        anyhow::bail!(
            "{} needs a histogram grid every shard shares: first run `calibr8 calibrate MODEL \
             --calib PART --range-only --state DIR/range-K.c8state` on every shard, then this \
             command with --range DIR/range-*.c8state",
            config.method
        );
    }
    if args.state.is_dir() {
        anyhow::bail!(
            "--state {} is a folder; give a file such as part-0.c8state",
            args.state.display()
        );
    }
    let grid = if args.range.is_empty() {
        None
    } else {
        let states = args
            .range
            .iter()
            .map(ShardState::read)
            .collect::<Result<Vec<_>, _>>()
            .context("reading --range")?;
        Some(ShardState::merge(&states).context("merging the --range states")?)
    };
    let crate::commands::quantize::Inputs { model, data, backend, jobs } =
        crate::commands::quantize::Inputs::open(&flags, &config)?;
    let pass = match &grid {
        Some(g) => ShardPass::OnGrid(g),
        None => ShardPass::Ranges,
    };
    let title = match pass {
        ShardPass::Ranges if needs_grid => "range pass".to_string(),
        _ => format!("observing ({})", config.method),
    };
    let mut stages = crate::progress::Stages::new(out.quiet);
    stages.start(&title, data.num_batches());
    let started = std::time::Instant::now();
    let state = observe_shard(backend.as_ref(), &model, &data, &config, pass, jobs, &mut |p| {
        stages.step(p.batch, &format!("batch {}", p.batch))
    })
    .with_context(|| format!("observing {} on {}", model.origin, flags.calib.display()))?;
    stages.finish();
    let elapsed = started.elapsed();
    state.write(&args.state)?;

    let batches: u64 = state.sources.iter().map(|s| s.batches).sum();
    let json = CalibrateJson {
        state: args.state.display().to_string(),
        kind: state.kind(),
        model: model.origin.clone(),
        model_sha256: state.model.sha256.clone(),
        method: config.method.to_string(),
        calibration_data: flags.calib.display().to_string(),
        samples: state.samples(),
        batches,
        tensors: state.tensors.len(),
        seconds: elapsed.as_secs_f64(),
    };
    out.result(
        || {
            format!(
                "observed {} activations of {} on {} samples ({} batches) in {:.1} s\nwrote {} \
                 state ({}) to {}\n",
                json.tensors,
                json.model,
                json.samples,
                json.batches,
                json.seconds,
                json.kind,
                json.method,
                json.state
            )
        },
        &json,
    )?;
    Ok(ExitCode::SUCCESS)
}
