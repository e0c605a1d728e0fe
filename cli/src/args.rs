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
/// `--trt-cache-names`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CacheNamesArg {
    /// The model's ONNX tensor names.
    Onnx,
    /// NNI 3.0's export names.
    Nni,
}

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
    #[arg(long, value_name = "P", help_heading = "Calibration")]
    pub percentile: Option<f64>,

    /// Histogram mode for percentile, entropy and mse.
    #[arg(long, value_enum, help_heading = "Calibration")]
    pub histogram: Option<HistogramArg>,

    /// Samples per batch fed to the model [default: the model's fixed batch, else 32].
    #[arg(long, value_name = "N", help_heading = "Calibration")]
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

    /// Output folder (created if missing; files appear only when all are written).
    #[arg(long, short, value_name = "DIR", help_heading = "Output")]
    pub out: PathBuf,

    /// TensorRT version written in the calibration cache header (TensorRT rejects others).
    #[arg(
        long,
        value_name = "X.Y.Z",
        default_value = "10.9.0",
        help_heading = "Output",
        env = "CALIBR8_TRT_VERSION"
    )]
    pub trt_version: String,

    /// Tensor names in calibration.cache: the model's (`onnx`), or those NNI 3.0's
    /// `compress_with_calibrator` export gives TensorRT (`nni`: input `actual_input_1`, output
    /// `output1`).
    #[arg(long, value_enum, default_value = "onnx", help_heading = "NNI")]
    pub trt_cache_names: CacheNamesArg,

    /// JSON `{"onnx node name": "module.path"}` for nodes whose names do not give the PyTorch
    /// module (torch < 1.13 names such as `Relu_3`); `null` leaves a node out.
    #[arg(long, value_name = "FILE", help_heading = "NNI", env = "CALIBR8_NNI_MODULE_MAP")]
    pub nni_module_map: Option<PathBuf>,

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
