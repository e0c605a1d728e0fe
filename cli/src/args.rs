//! clap definitions: doc comments are the help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Native int8 calibration for ONNX models: QDQ ONNX, TensorRT calibration caches, NNI configs.
#[derive(Debug, Parser)]
#[command(name = "calibr8", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Largest tensor a model may compute from constants or declared dims before running
    /// (e.g. 4GiB, 512MiB); larger ones are refused before an engine tries to allocate them.
    #[arg(
        long,
        value_name = "SIZE",
        global = true,
        value_parser = crate::parse::memory,
        env = "CALIBR8_MAX_MEMORY",
        default_value = "4GiB",
        allow_hyphen_values = true
    )]
    pub max_memory: u64,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Calibrate a model and write QDQ ONNX, calibration.cache, NNI configs and ranges.json.
    Quantize(QuantizeArgs),
    /// List a model's inputs, outputs and quantizable nodes.
    Inspect(InspectArgs),
    /// Where did accuracy go? Rank methods, measure every layer, find a mixed-precision model.
    Compare(crate::commands::compare::CompareArgs),
    /// Time fp32 / fp16 / int8 engines on every installed backend; table, JSON and plots.
    Bench(crate::commands::bench::BenchArgs),
}

/// Observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// max |x| (min/max for affine).
    Minmax,
    /// NNI's moving-average min/max (decay 0.99).
    Ema,
    /// Percentile of the |x| histogram (--percentile).
    Percentile,
    /// TensorRT's EntropyCalibration2 (KL divergence).
    Entropy,
    /// Minimum mean-squared quantization error.
    Mse,
}

impl MethodArg {
    pub fn as_str(self) -> &'static str {
        match self {
            MethodArg::Minmax => "minmax",
            MethodArg::Ema => "ema",
            MethodArg::Percentile => "percentile",
            MethodArg::Entropy => "entropy",
            MethodArg::Mse => "mse",
        }
    }
}

/// Histogram collection modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HistogramArg {
    /// One pass; the first batch sets the bin width (as TensorRT and ModelOpt do).
    Streaming,
    /// Global |max| first, then a fixed grid: shards merge exactly.
    TwoPass,
}

/// `calibr8 quantize`.
#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// The float ONNX model (opset 11–21).
    pub model: PathBuf,

    /// Calibration data: a float32 .npy shaped [samples, ...input dims], or a folder of them.
    #[arg(long, value_name = "DATA", help_heading = "Calibration")]
    pub calib: PathBuf,

    /// Observer for activations [default: entropy, or the config file's method].
    #[arg(long, value_enum, help_heading = "Calibration", env = "CALIBR8_METHOD")]
    pub method: Option<MethodArg>,

    /// Percentile for --method percentile, in (0, 100].
    #[arg(long, value_name = "P", help_heading = "Calibration", allow_negative_numbers = true)]
    pub percentile: Option<f64>,

    /// Histogram mode for percentile, entropy and mse.
    #[arg(long, value_enum, help_heading = "Calibration")]
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

    /// Quantization config (JSON or YAML; NNI config_list keys accepted).
    #[arg(long, value_name = "FILE", help_heading = "What to quantize")]
    pub config: Option<PathBuf>,

    /// One scale per weight tensor instead of per output channel.
    #[arg(long, help_heading = "What to quantize", overrides_with = "no_per_tensor_weights")]
    pub per_tensor_weights: bool,

    /// Per-channel weight scales (the default).
    #[arg(long, help_heading = "What to quantize", hide = true)]
    pub no_per_tensor_weights: bool,

    /// Output folder, replaced as a whole: readers see the old set or the new one, never a mix
    /// (created if missing; other files in it are kept).
    #[arg(long, short, value_name = "DIR", help_heading = "Output")]
    pub out: PathBuf,

    /// TensorRT version written in the calibration cache header (TensorRT rejects others).
    #[arg(
        long,
        value_name = "X.Y.Z",
        default_value = "10.9.0",
        help_heading = "Output",
        env = "CALIBR8_TRT_VERSION",
        value_parser = crate::parse::trt_version,
        allow_hyphen_values = true
    )]
    pub trt_version: calibr8::export::TrtVersion,

    /// Backend capturing activations.
    #[arg(long, default_value = "tract", help_heading = "Backend", env = "CALIBR8_BACKEND")]
    pub backend: String,

    /// Hide the progress bar.
    #[arg(long, help_heading = "Output")]
    pub quiet: bool,
}

/// `calibr8 inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The ONNX model.
    pub model: PathBuf,
}
