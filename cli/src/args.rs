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
    /// No progress, logs or warnings on stderr (errors still go there); results still go to
    /// stdout.
    #[arg(short, long, global = true, env = "CALIBR8_QUIET")]
    pub quiet: bool,
    /// Format of the results on stdout: text tables, or one JSON document (schemas in
    /// docs/cli-json.md).
    #[arg(long, value_enum, default_value = "text", global = true, env = "CALIBR8_FORMAT")]
    pub format: crate::output::Format,
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
    /// Observe one shard of the calibration data into a state file, for `merge` (calibration
    /// across machines; docs/shards.md).
    ///
    /// It takes `quantize`'s calibration flags. For results identical to one run over all the
    /// data, give each shard a multiple of --batch samples; ema and auto do not shard, and
    /// --histogram defaults to two_pass, the only mode whose shards merge.
    Calibrate(crate::commands::calibrate::CalibrateArgs),
    /// Merge shard states into the artifacts `quantize` writes (or into one state file).
    Merge(crate::commands::merge::MergeArgs),
    /// Where did accuracy go? Rank methods, measure every layer, find a mixed-precision model.
    Compare(crate::commands::compare::CompareArgs),
    /// Time fp32 / fp16 / int8 engines on every installed backend; table, JSON and plots.
    Bench(crate::commands::bench::BenchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(crate::commands::completions::CompletionsArgs),
}

/// Observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Per tensor, the candidate (minmax, percentile 99.9/99.99/99.999, entropy, mse, ema)
    /// with the least error in the output of the nodes reading it.
    Auto,
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
            MethodArg::Auto => "auto",
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
    /// Global |max| first, then a fixed grid: shards merge exactly. Spelled as in configs
    /// (the kebab-case spelling is accepted too).
    #[value(name = "two_pass", alias = "two-pass")]
    TwoPass,
}

/// `calibr8 quantize`.
#[derive(Debug, Args)]
pub struct QuantizeArgs {
    #[command(flatten)]
    pub calibration: CalibrationArgs,

    /// Output folder, replaced as a whole: readers see the old set or the new one, never a mix
    /// (created if missing; other files in it are kept).
    #[arg(long, short, value_name = "DIR", help_heading = "Output")]
    pub out: PathBuf,

    #[command(flatten)]
    pub cache: CacheArgs,
}

/// How `calibration.cache` is written (`quantize`, `merge`).
#[derive(Clone, Debug, Args)]
pub struct CacheArgs {
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

    /// Tensor names in calibration.cache: the model's (`onnx`), or those NNI 3.0's
    /// `compress_with_calibrator` export gives TensorRT (`nni`: input `actual_input_1`, output
    /// `output1`).
    #[arg(long, value_enum, default_value = "onnx", help_heading = "NNI")]
    pub trt_cache_names: CacheNamesArg,
}

impl CacheArgs {
    /// The export options these flags ask for.
    pub fn artifact_options(&self) -> calibr8::export::ArtifactOptions {
        let cache_naming = match self.trt_cache_names {
            CacheNamesArg::Onnx => calibr8::export::CacheNaming::Onnx,
            CacheNamesArg::Nni => calibr8::export::CacheNaming::Nni,
        };
        calibr8::export::ArtifactOptions { trt_version: self.trt_version, cache_naming }
    }
}

/// What `quantize` and `calibrate` share: the model, its data, how it is observed and what is
/// quantized, so a shard's configuration is built exactly as `quantize` builds it.
#[derive(Clone, Debug, Args)]
pub struct CalibrationArgs {
    /// The float ONNX model (opset 11–21).
    pub model: PathBuf,

    /// Calibration data: .npy [samples, ...] (one input), .npz (one array per input name), or a
    /// folder of either, or a folder with one sub-folder of .npy files per input.
    #[arg(long, value_name = "DATA", help_heading = "Calibration")]
    pub calib: PathBuf,

    /// Observer for activations [default: auto, or the config file's method].
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

    /// Dims for a dynamic model input, NAME=1x3x48x320 (repeat for several inputs) [default:
    /// the calibration batches' shapes]. The data must match; the exported model keeps its
    /// dynamic dims.
    #[arg(long = "input-shape", value_name = "NAME=DIMS", help_heading = "Calibration")]
    pub input_shape: Vec<String>,

    /// Batches run at once [default: the available cores]. Results are identical for any
    /// value: batches reach the observers in order.
    #[arg(long, short = 'j', value_name = "N", help_heading = "Calibration", env = "CALIBR8_JOBS")]
    pub jobs: Option<usize>,

    /// Quantization config (JSON or YAML; NNI config_list keys accepted).
    #[arg(long, value_name = "FILE", help_heading = "What to quantize")]
    pub config: Option<PathBuf>,

    /// One scale per weight tensor instead of per output channel.
    #[arg(long, help_heading = "What to quantize", overrides_with = "no_per_tensor_weights")]
    pub per_tensor_weights: bool,

    /// Per-channel weight scales (the default).
    #[arg(long, help_heading = "What to quantize", hide = true)]
    pub no_per_tensor_weights: bool,

    #[command(flatten)]
    pub rules: crate::rules::RuleArgs,

    /// Keep BatchNormalization nodes instead of folding them into the Conv / ConvTranspose /
    /// Gemm before them (folding is what TensorRT and ONNX Runtime do at deployment).
    #[arg(long, help_heading = "What to quantize", overrides_with = "fold_batchnorm")]
    pub no_fold_batchnorm: bool,

    /// Fold BatchNormalization into the preceding Conv / ConvTranspose / Gemm (the default).
    #[arg(
        long,
        help_heading = "What to quantize",
        hide = true,
        overrides_with = "no_fold_batchnorm"
    )]
    pub fold_batchnorm: bool,

    /// Correct each quantized Conv / Gemm bias for the mean output shift its weight rounding
    /// causes, measured on the calibration data (one extra float pass; mostly useful with
    /// --per-tensor-weights). Changes the exported models, not the calibration cache.
    #[arg(long, help_heading = "What to quantize")]
    pub bias_correction: bool,

    /// Cross-layer equalization: rescale Conv → [Relu] → Conv pairs so their weights share
    /// per-channel ranges (same float function; helps depthwise stacks). Also writes
    /// model.equalized.onnx, the float model the calibration cache and NNI configs describe.
    #[arg(long, help_heading = "What to quantize")]
    pub equalize: bool,

    /// JSON `{"onnx node name": "module.path"}` for nodes whose names do not give the PyTorch
    /// module (torch < 1.13 names such as `Relu_3`); `null` leaves a node out.
    #[arg(long, value_name = "FILE", help_heading = "NNI", env = "CALIBR8_NNI_MODULE_MAP")]
    pub nni_module_map: Option<PathBuf>,

    /// Skip the Conv/Gemm output and Relu/MaxPool input/output observations that only the NNI
    /// configs need (`nni.calibrate_outputs: false`): less memory and time (ResNet18-224, batch
    /// 32: 830 instead of 1310 MB); NNI entries that need them are left out and listed.
    #[arg(long, help_heading = "NNI")]
    pub no_nni_outputs: bool,

    /// Backend capturing activations (`ort`: ONNX Runtime, the fastest where it is installed).
    #[arg(
        long,
        value_enum,
        default_value = "tract",
        help_heading = "Backend",
        env = "CALIBR8_BACKEND"
    )]
    pub backend: calibr8::BackendKind,
}

/// `calibr8 inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The ONNX model.
    pub model: PathBuf,
}
