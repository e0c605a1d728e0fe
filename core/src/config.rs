//! `QuantConfig`: which nodes and tensors to quantize, how, and with which observer. Serde (JSON
//! and YAML), and it accepts NNI's `config_list` keys so NNI users can bring their configs.

mod limits;

use crate::internal::*;
use calibr8_calibration::{HistogramMode, Method, QuantDtype, Scheme, MIN_NUM_BINS};
pub use limits::{MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH};
use serde::{Deserialize, Serialize};
use std::path::Path;

mod builder;
mod legacy;
mod preset;

pub use builder::QuantConfigBuilder;
pub use preset::Preset;

/// How to calibrate and which tensors to quantize.
///
/// A method carries its parameter (`method: percentile:99.9`, or `method: {percentile: 99.9}`),
/// so nothing else can change what it says. Build one in code with [`QuantConfig::builder`].
///
/// ```
/// use calibr8_calibration::{HistogramMode, Method};
/// use calibr8_core::QuantConfig;
/// let config: QuantConfig = yaml_serde::from_str(r#"
/// method: percentile:99.9
/// histogram: two_pass
/// config_list:
///   - op_types: [Conv, Gemm]
///     target_names: [_input_, weight]
///     quant_scheme: symmetric
///     granularity: per_channel
///   - exclude_op_names: [fc2]
/// "#).map_err(|e| calibr8_core::Error::config("yaml", e.to_string()))?;
/// config.validate()?;
/// assert_eq!(config.method, Method::Percentile { percentile: 99.9 });
/// assert_eq!(config.histogram, HistogramMode::TwoPass);
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "legacy::QuantConfigFile")]
pub struct QuantConfig {
    /// The runtime the model is laid out for: `tensorrt` (the default) or `cpu` (ONNX
    /// Runtime's int8 kernels). It gives the default `config_list` and decides where Q/DQ go
    /// beyond the rules' targets (see [`Preset`]).
    pub preset: Preset,
    /// Observer for activations, with its parameter: `auto` (chosen per tensor, the default),
    /// `minmax`, `ema` / `ema:0.9`, `percentile` / `percentile:99.9`, `entropy` or `mse`.
    pub method: Method,
    /// Observer for weights (TensorRT and ModelOpt use `minmax`, i.e. max |w|).
    pub weight_method: Method,
    /// `streaming` (one pass, batch order matters as in the reference) or `two_pass`
    /// (global |max| first, then a fixed grid; shards merge exactly).
    pub histogram: HistogramMode,
    /// Histogram bins for percentile / entropy / MSE.
    pub num_bins: usize,
    /// NNI-style rules, applied in order; a later rule overrides an earlier one for the same node.
    pub config_list: Vec<ConfigRule>,
    /// Fold BatchNormalization into the Conv / ConvTranspose / Gemm before it, as TensorRT and
    /// ONNX Runtime do at deployment, so weights are quantized after the BN scaling.
    pub fold_batchnorm: bool,
    /// Subtract the mean output shift that weight rounding causes from each quantized Conv /
    /// Gemm's bias, measured on the calibration data ([`crate::bias_correction`]). Off by
    /// default: with per-channel weights the shift is small; it matters with per-tensor weights.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bias_correction: bool,
    /// Rescale Conv → [Relu] → Conv pairs so both weights share their per-channel ranges
    /// (cross-layer equalization, [`crate::preprocess`]); the float function is unchanged, the
    /// weights and the activation ranges between the pair are not, so the calibration cache and
    /// NNI configs then describe `model.equalized.onnx`. Off by default.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cross_layer_equalization: bool,
    /// Dims for dynamic model inputs (`x: [1, 3, 48, 320]`), checked against the model; the
    /// data must match them. Without it the calibration batches give the shapes. The exported
    /// model keeps its dynamic dims.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub input_shapes: std::collections::BTreeMap<String, Vec<usize>>,
    /// What the NNI configs need beyond the quantized tensors.
    pub nni: NniOptions,
}

/// NNI export options (see `calibr8_core::export::nni_export`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NniOptions {
    /// Also observe the outputs of int8 Conv/Gemm nodes and the inputs and outputs of
    /// Relu/Clip/MaxPool nodes, which NNI's entries need (`tracked_min_output`, ...) but the QDQ
    /// model does not quantize. Off: those NNI entries are skipped.
    pub calibrate_outputs: bool,
    /// JSON file `{"onnx node name": "module.path" | null}` naming the PyTorch module of nodes
    /// whose names do not say it (torch < 1.13 numbered names such as `Relu_3`).
    pub module_map: Option<std::path::PathBuf>,
}

impl Default for NniOptions {
    fn default() -> Self {
        NniOptions { calibrate_outputs: true, module_map: None }
    }
}

/// What of a node to quantize (NNI's `target_names`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Target {
    /// Every activation input of the node.
    #[serde(rename = "_input_")]
    Input,
    /// The node's constant weight.
    #[serde(rename = "weight")]
    Weight,
    /// Every output of the node.
    #[serde(rename = "_output_")]
    Output,
}

/// Weight granularity (NNI's `granularity`): `default` is per tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GranularityName {
    /// One scale per tensor.
    #[default]
    Default,
    /// One scale per output channel (weights only; activations stay per tensor).
    PerChannel,
}

/// Precision of a node as lowered by a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Quantized to int8.
    Int8,
    /// Kept in half precision.
    Fp16,
    /// Kept in single precision.
    Fp32,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Int8 => "int8",
            Precision::Fp16 => "fp16",
            Precision::Fp32 => "fp32",
        })
    }
}

/// One NNI-style rule. A node matches when it is named in `op_names` or its type is in
/// `op_types` (PyTorch module names such as `Conv2d` and `Linear` are accepted as aliases), and
/// it is not excluded. A rule with only `exclude_op_names`/`exclude_op_types` (or `exclude:
/// true`) removes nodes matched by earlier rules and keeps them in `precision`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigRule {
    /// ONNX op types (or PyTorch module aliases) this rule applies to.
    pub op_types: Vec<String>,
    /// Node names this rule applies to.
    pub op_names: Vec<String>,
    /// Node names never quantized.
    pub exclude_op_names: Vec<String>,
    /// Op types never quantized.
    pub exclude_op_types: Vec<String>,
    /// NNI 2.x: this rule excludes the nodes it matches.
    pub exclude: bool,
    /// What to quantize on matched nodes.
    pub target_names: Vec<Target>,
    /// `int8` or `uint8`.
    pub quant_dtype: QuantDtype,
    /// `symmetric` or `affine`.
    pub quant_scheme: Scheme,
    /// The weights' type when it differs from `quant_dtype` (ONNX Runtime's CPU kernels take
    /// u8 activations with s8 weights).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_quant_dtype: Option<QuantDtype>,
    /// The weights' scheme when it differs from `quant_scheme`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_quant_scheme: Option<Scheme>,
    /// 7-bit weights (`[-64, 64]`), ONNX Runtime's `reduce_range`: x86 CPUs without VNNI
    /// multiply u8 activations by s8 weights in 16-bit pair sums, which saturate at 8 bits.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reduce_range: bool,
    /// Weight granularity.
    pub granularity: GranularityName,
    /// Precision for excluded nodes (`fp32` or `fp16`).
    pub precision: Precision,
}

impl Default for ConfigRule {
    fn default() -> Self {
        ConfigRule {
            op_types: vec![],
            op_names: vec![],
            exclude_op_names: vec![],
            exclude_op_types: vec![],
            exclude: false,
            target_names: vec![Target::Input, Target::Weight],
            quant_dtype: QuantDtype::Int8,
            quant_scheme: Scheme::Symmetric,
            weight_quant_dtype: None,
            weight_quant_scheme: None,
            reduce_range: false,
            granularity: GranularityName::Default,
            precision: Precision::Fp32,
        }
    }
}

impl Default for QuantConfig {
    /// TensorRT's preset: per-channel symmetric weights, per-tensor symmetric activations on the
    /// inputs of Conv / ConvTranspose / Gemm / MatMul, their outputs not quantized; BatchNorm folded; `auto` (entropy collapsed
    /// models whose input has a dominant constant value).
    fn default() -> Self {
        QuantConfig {
            preset: Preset::Tensorrt,
            method: Method::Auto,
            weight_method: Method::MinMax,
            histogram: HistogramMode::Streaming,
            num_bins: 2048,
            config_list: Preset::Tensorrt.rules(),
            fold_batchnorm: true,
            bias_correction: false,
            cross_layer_equalization: false,
            input_shapes: Default::default(),
            nni: NniOptions::default(),
        }
    }
}

/// PyTorch module names NNI users write, mapped to the ONNX op types they export to.
const ALIASES: &[(&str, &[&str])] = &[
    ("Conv1d", &["Conv"]),
    ("Conv2d", &["Conv"]),
    ("Conv3d", &["Conv"]),
    ("ConvTranspose1d", &["ConvTranspose"]),
    ("ConvTranspose2d", &["ConvTranspose"]),
    ("ConvTranspose3d", &["ConvTranspose"]),
    ("Linear", &["Gemm", "MatMul"]),
    ("ReLU", &["Relu"]),
    ("BatchNorm2d", &["BatchNormalization"]),
    ("MaxPool2d", &["MaxPool"]),
    ("AvgPool2d", &["AveragePool"]),
    ("AdaptiveAvgPool2d", &["GlobalAveragePool"]),
];

/// The ONNX op types an op-type name in a config stands for.
pub fn expand_op_type(name: &str) -> Option<Vec<String>> {
    if crate::ops::is_onnx_op(name) {
        return Some(vec![name.to_string()]);
    }
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, ops)| ops.iter().map(|s| s.to_string()).collect())
}

impl QuantConfig {
    /// Reads a config from a `.json`, `.yaml` or `.yml` file.
    pub fn load(path: impl AsRef<Path>) -> Result<QuantConfig> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let len = std::fs::metadata(path).map_err(|e| Error::io("reading", path, e))?.len();
        limits::check_size(len).map_err(|reason| Error::config(&name, reason))?;
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        QuantConfig::from_text(&text, is_json, &name)
    }

    /// Parses and validates config text (JSON, else YAML); `name` names it in errors. The size
    /// and nesting limits are checked before any parser runs.
    pub fn from_text(text: &str, is_json: bool, name: &str) -> Result<QuantConfig> {
        let invalid = |reason: String| Error::config(name, reason);
        limits::check_size(text.len() as u64).map_err(invalid)?;
        limits::check_depth(text).map_err(invalid)?;
        let config: QuantConfig = if is_json {
            serde_json::from_str(text)
                .map_err(|e| invalid(format!("{e}. Fix the JSON and retry")))?
        } else {
            yaml_serde::from_str(text)
                .map_err(|e| invalid(format!("{e}. Fix the YAML and retry")))?
        };
        config.validate()?;
        Ok(config)
    }

    /// Starts from [`QuantConfig::default`] (TensorRT's preset); [`QuantConfigBuilder::build`]
    /// validates.
    ///
    /// ```
    /// use calibr8_calibration::{HistogramMode, Method};
    /// use calibr8_core::{ConfigRule, QuantConfig};
    /// let config = QuantConfig::builder()
    ///     .method(Method::Percentile { percentile: 99.9 })
    ///     .histogram(HistogramMode::TwoPass)
    ///     .rule(ConfigRule { exclude_op_names: vec!["fc2".into()], ..ConfigRule::default() })
    ///     .build()?;
    /// assert_eq!(config.method.to_string(), "percentile:99.9");
    /// assert_eq!(config.config_list.len(), 2); // the preset's rule, then the exclusion
    /// # Ok::<(), calibr8_core::Error>(())
    /// ```
    pub fn builder() -> QuantConfigBuilder {
        QuantConfigBuilder::new()
    }

    /// Lays the config out for `preset`. Rules that are still the old preset's own are
    /// replaced by the new preset's; rules a user wrote are kept.
    ///
    /// ```
    /// use calibr8_core::{Preset, QuantConfig};
    /// let cpu = QuantConfig::default().with_preset(Preset::Cpu);
    /// assert_eq!(cpu.config_list, Preset::Cpu.rules());
    /// ```
    pub fn with_preset(mut self, preset: Preset) -> QuantConfig {
        if self.config_list == self.preset.rules() {
            self.config_list = preset.rules();
        }
        self.preset = preset;
        self
    }

    /// True for [`Method::Auto`]: the observer is chosen per tensor ([`crate::auto`]).
    pub fn is_auto(&self) -> bool {
        self.method == Method::Auto
    }

    /// The activation observer, checked.
    pub fn activation_method(&self) -> Result<Method> {
        checked("method", &self.method)
    }

    /// The weight observer, checked.
    pub fn weight_method(&self) -> Result<Method> {
        checked("weight_method", &self.weight_method)
    }

    /// Checks every option that can be checked without a model.
    pub fn validate(&self) -> Result<()> {
        self.activation_method()?;
        self.weight_method()?;
        if self.weight_method == Method::Auto {
            return Err(Error::config(
                "weight_method",
                "auto chooses activation ranges by the error they cause downstream; weights are \
                 constants: use minmax (max |w|, what TensorRT does) or another single method",
            ));
        }
        if self.num_bins < MIN_NUM_BINS {
            return Err(Error::config(
                "num_bins",
                format!(
                    "{} bins is fewer than the {MIN_NUM_BINS} entropy and MSE need; use 2048",
                    self.num_bins
                ),
            ));
        }
        for (ix, rule) in self.config_list.iter().enumerate() {
            let op_type_lists =
                [("op_types", &rule.op_types), ("exclude_op_types", &rule.exclude_op_types)];
            for (key, list) in op_type_lists {
                for op in list.iter() {
                    if expand_op_type(op).is_none() {
                        return Err(Error::config(
                            format!("config_list[{ix}].{key}"),
                            format!(
                                "unknown op type '{op}'; use an ONNX op type such as Conv, \
                                 ConvTranspose, Gemm or MatMul (PyTorch names Conv2d and Linear \
                                 are accepted)"
                            ),
                        ));
                    }
                }
            }
            if rule.target_names.is_empty() && !rule.is_exclusion() {
                return Err(Error::config(
                    format!("config_list[{ix}].target_names"),
                    "is empty; list at least one of _input_, weight, _output_",
                ));
            }
            if rule.precision == Precision::Int8 {
                return Err(Error::config(
                    format!("config_list[{ix}].precision"),
                    "is the precision of excluded nodes; use fp32 or fp16",
                ));
            }
        }
        Ok(())
    }
}

impl ConfigRule {
    /// True if this rule only excludes nodes.
    pub fn is_exclusion(&self) -> bool {
        self.exclude
            || (self.op_types.is_empty()
                && self.op_names.is_empty()
                && (!self.exclude_op_names.is_empty() || !self.exclude_op_types.is_empty()))
    }
}

/// `method` with its parameter checked; `option` names the key in the error.
fn checked(option: &str, method: &Method) -> Result<Method> {
    method.validate().map_err(|e| Error::config(option, e.to_string()))?;
    Ok(method.clone())
}
