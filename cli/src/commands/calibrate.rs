//! `calibr8 calibrate`: observe one shard of the calibration data into a `.c8state` file, for
//! `calibr8 merge` on any machine (docs/shards.md). The range pass (`--range-only`) records
//! per-tensor min/max; the histogram pass (`--range STATES`) fills histograms on the grid the
//! merged range states fix.

use crate::args::{CacheNamesArg, HistogramArg, MethodArg, QuantizeArgs};
use crate::output::Output;
use anyhow::Context;
use calibr8::calibration::ObserverConfig;
use calibr8::core::shards::{check_shardable, observe_shard, ShardPass, ShardState};
use calibr8::{CalibrationData, NpySource, OnnxModel};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// `calibr8 calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The float ONNX model (opset 11–21).
    pub model: PathBuf,

    /// This shard's calibration data (same forms as `quantize --calib`). For results identical
    /// to one run over all data, give each shard a multiple of --batch samples.
    #[arg(long, value_name = "DATA", help_heading = "Calibration")]
    pub calib: PathBuf,

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

    /// Observer for activations: minmax, percentile, entropy or mse (ema and auto do not
    /// shard) [default: the config file's method].
    #[arg(long, value_enum, help_heading = "Calibration", env = "CALIBR8_METHOD")]
    pub method: Option<MethodArg>,

    /// Percentile for --method percentile, in (0, 100].
    #[arg(long, value_name = "P", help_heading = "Calibration", allow_negative_numbers = true)]
    pub percentile: Option<f64>,

    /// Histogram mode [default: two_pass, the only mode whose shards merge].
    #[arg(long, value_enum, help_heading = "Calibration", hide = true)]
    pub histogram: Option<HistogramArg>,

    /// Samples per batch fed to the model [default: the model's fixed batch, else 32].
    #[arg(
        long,
        value_name = "N",
        help_heading = "Calibration",
        value_parser = crate::parse::batch,
        allow_negative_numbers = true
    )]
    pub batch: Option<usize>,

    /// Dims for a dynamic model input, NAME=1x3x48x320 (repeat for several inputs).
    #[arg(long = "input-shape", value_name = "NAME=DIMS", help_heading = "Calibration")]
    pub input_shape: Vec<String>,

    /// Batches run at once [default: the available cores].
    #[arg(long, short = 'j', value_name = "N", help_heading = "Calibration", env = "CALIBR8_JOBS")]
    pub jobs: Option<usize>,

    /// Quantization config (JSON or YAML; NNI config_list keys accepted).
    #[arg(long, value_name = "FILE", help_heading = "What to quantize")]
    pub config: Option<PathBuf>,

    /// One scale per weight tensor instead of per output channel.
    #[arg(long, help_heading = "What to quantize")]
    pub per_tensor_weights: bool,

    #[command(flatten)]
    pub rules: crate::rules::RuleArgs,

    /// Keep BatchNormalization nodes instead of folding them.
    #[arg(long, help_heading = "What to quantize")]
    pub no_fold_batchnorm: bool,

    /// JSON `{"onnx node name": "module.path"}` for the NNI configs `merge` writes.
    #[arg(long, value_name = "FILE", help_heading = "NNI", env = "CALIBR8_NNI_MODULE_MAP")]
    pub nni_module_map: Option<PathBuf>,

    /// Skip the observations only the NNI configs need.
    #[arg(long, help_heading = "NNI")]
    pub no_nni_outputs: bool,

    /// Backend capturing activations.
    #[arg(
        long,
        value_enum,
        default_value = "tract",
        help_heading = "Backend",
        env = "CALIBR8_BACKEND"
    )]
    pub backend: calibr8::BackendKind,
}

impl CalibrateArgs {
    /// The same flags as `quantize` would take, so the configuration is built exactly as
    /// `quantize` builds it (and states compare equal to a `quantize` run's config).
    fn as_quantize_args(&self) -> QuantizeArgs {
        QuantizeArgs {
            model: self.model.clone(),
            calib: self.calib.clone(),
            method: self.method,
            percentile: self.percentile,
            histogram: Some(self.histogram.unwrap_or(HistogramArg::TwoPass)),
            batch: self.batch,
            input_shape: self.input_shape.clone(),
            jobs: self.jobs,
            config: self.config.clone(),
            per_tensor_weights: self.per_tensor_weights,
            no_per_tensor_weights: false,
            rules: self.rules.clone(),
            no_fold_batchnorm: self.no_fold_batchnorm,
            fold_batchnorm: false,
            out: self.state.clone(),
            trt_version: Default::default(),
            trt_cache_names: CacheNamesArg::Onnx,
            nni_module_map: self.nni_module_map.clone(),
            no_nni_outputs: self.no_nni_outputs,
            backend: self.backend,
        }
    }
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
    let config = crate::commands::quantize::config_from_args(&args.as_quantize_args())?;
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
    let model = OnnxModel::load(&args.model)?;
    args.rules.check_nodes(&model)?;
    let shaped = calibr8::core::shapes::with_input_shapes(&model, &config.input_shapes)?;
    let batch = crate::batch::batch_size(&shaped, args.batch)?;
    let data = NpySource::open(&args.calib, batch)?;
    let backend = args.backend.backend()?;
    let jobs = match args.jobs {
        Some(0) => anyhow::bail!("--jobs must be at least 1"),
        Some(n) => n,
        None => calibr8::core::parallel::default_jobs(),
    };
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
    .with_context(|| format!("observing {} on {}", model.origin, args.calib.display()))?;
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
        calibration_data: args.calib.display().to_string(),
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
