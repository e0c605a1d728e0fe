//! `QuantConfig`: which nodes and tensors to quantize, how, and with which observer. Serde (JSON
//! and YAML), and it accepts NNI's `config_list` keys so NNI users can bring their configs.

use crate::internal::*;
use calibr8_calibration::{HistogramMode, Method, QuantDtype, Scheme};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How to calibrate and which tensors to quantize.
///
/// ```
/// use calibr8_core::QuantConfig;
/// let config: QuantConfig = serde_yaml::from_str(r#"
/// method: percentile
/// percentile: 99.9
/// histogram: two_pass
/// config_list:
///   - op_types: [Conv, Gemm]
///     target_names: [_input_, weight]
///     quant_scheme: symmetric
///     granularity: per_channel
///   - exclude_op_names: [fc2]
/// "#).unwrap();
/// config.validate()?;
/// assert_eq!(config.histogram, calibr8_calibration::HistogramMode::TwoPass);
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuantConfig {
    /// Observer for activations: `minmax`, `ema`, `percentile`, `entropy` or `mse`.
    pub method: String,
    /// Percentile for `method: percentile`, in (0, 100].
    pub percentile: f64,
    /// Decay for `method: ema`, in (0, 1).
    pub ema_decay: f64,
    /// Observer for weights (TensorRT and ModelOpt use `minmax`, i.e. max |w|).
    pub weight_method: String,
    /// `streaming` (one pass, batch order matters as in the reference) or `two_pass`
    /// (global |max| first, then a fixed grid; shards merge exactly).
    pub histogram: HistogramMode,
    /// Histogram bins for percentile / entropy / MSE.
    pub num_bins: usize,
    /// NNI-style rules, applied in order; a later rule overrides an earlier one for the same node.
    pub config_list: Vec<ConfigRule>,
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
            granularity: GranularityName::Default,
            precision: Precision::Fp32,
        }
    }
}

impl Default for QuantConfig {
    /// TensorRT's preset: per-channel symmetric weights, per-tensor symmetric activations on the
    /// inputs of Conv / ConvTranspose / Gemm / MatMul, their outputs not quantized; entropy.
    fn default() -> Self {
        QuantConfig {
            method: "entropy".into(),
            percentile: 99.99,
            ema_decay: 0.99,
            weight_method: "minmax".into(),
            histogram: HistogramMode::Streaming,
            num_bins: 2048,
            config_list: vec![ConfigRule {
                op_types: ["Conv", "ConvTranspose", "Gemm", "MatMul"].map(String::from).to_vec(),
                granularity: GranularityName::PerChannel,
                ..ConfigRule::default()
            }],
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
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let config: QuantConfig = if is_json {
            serde_json::from_str(&text).map_err(|e| {
                Error::config(path.display().to_string(), format!("{e}. Fix the JSON and retry"))
            })?
        } else {
            serde_yaml::from_str(&text).map_err(|e| {
                Error::config(path.display().to_string(), format!("{e}. Fix the YAML and retry"))
            })?
        };
        config.validate()?;
        Ok(config)
    }

    /// The activation observer, with its parameters.
    pub fn activation_method(&self) -> Result<Method> {
        self.parse_method("method", &self.method)
    }

    /// The weight observer.
    pub fn weight_method(&self) -> Result<Method> {
        self.parse_method("weight_method", &self.weight_method)
    }

    fn parse_method(&self, option: &str, name: &str) -> Result<Method> {
        let method: Method = name.parse().map_err(|_| {
            Error::config(
                option,
                format!(
                    "unknown method '{name}'; use one of minmax, ema, percentile, entropy, mse"
                ),
            )
        })?;
        Ok(match method {
            Method::Percentile { .. } => Method::Percentile { percentile: self.percentile },
            Method::EmaMinMax { .. } => Method::EmaMinMax { decay: self.ema_decay },
            other => other,
        })
    }

    /// Checks every option that can be checked without a model.
    pub fn validate(&self) -> Result<()> {
        self.activation_method()?;
        self.weight_method()?;
        if !(self.percentile > 0.0 && self.percentile <= 100.0) {
            return Err(Error::config(
                "percentile",
                format!(
                    "{} is outside (0, 100]; 99.99 is TensorRT's usual choice",
                    self.percentile
                ),
            ));
        }
        if !(self.ema_decay > 0.0 && self.ema_decay < 1.0) {
            return Err(Error::config(
                "ema_decay",
                format!("{} is outside (0, 1); NNI uses 0.99", self.ema_decay),
            ));
        }
        if self.num_bins < 129 {
            return Err(Error::config(
                "num_bins",
                format!(
                    "{} bins is fewer than the 129 entropy and MSE need; use 2048",
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
