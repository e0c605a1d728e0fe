//! `--op-types` and `--exclude`: the two config rules users of ONNX Runtime's
//! (`op_types_to_quantize`, `nodes_to_exclude`) and ModelOpt's quantizers set on the command
//! line, mapped onto the NNI-style `config_list` every other path reads.

use calibr8::calibration::Method;
use calibr8::{ConfigRule, OnnxModel, Preset, QuantConfig};
use clap::{Args, ValueEnum};

/// `--preset`: the runtime the model is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    /// TensorRT's explicit quantization: symmetric int8 Q/DQ on the inputs and weights of
    /// Conv / Gemm / MatMul (the default).
    Tensorrt,
    /// ONNX Runtime's CPU int8 kernels: u8 activations, s8 weights, Q/DQ around every op with
    /// an int8 kernel, outputs included. For CPUs with VNNI or AMX.
    Cpu,
    /// `cpu` with 7-bit weights, for x86 CPUs without VNNI (AVX2), whose u8·s8 kernels
    /// saturate with 8-bit weights.
    #[value(name = "cpu-avx2", alias = "cpu_avx2")]
    CpuAvx2,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Preset {
        match p {
            PresetArg::Tensorrt => Preset::Tensorrt,
            PresetArg::Cpu => Preset::Cpu,
            PresetArg::CpuAvx2 => Preset::CpuAvx2,
        }
    }
}

/// What to quantize, on top of `--config` (or TensorRT's preset).
#[derive(Debug, Clone, Default, Args)]
pub struct RuleArgs {
    /// Lay the model out for this runtime [default: tensorrt, or the config file's preset].
    /// Its rules replace the default ones; rules from --config are kept.
    #[arg(long, value_enum, help_heading = "What to quantize", env = "CALIBR8_PRESET")]
    pub preset: Option<PresetArg>,

    /// Quantize only these op types (ONNX names, or PyTorch ones such as Conv2d, Linear): every
    /// config rule that selects by op type selects these instead.
    #[arg(
        long,
        value_name = "OP_TYPE",
        value_delimiter = ',',
        num_args = 1..,
        help_heading = "What to quantize"
    )]
    pub op_types: Vec<String>,

    /// Keep these nodes in fp32, without Q/DQ: a config rule `exclude_op_names: [NODE, ...]`
    /// after the others. `calibr8 inspect MODEL` lists the node names.
    #[arg(
        long,
        value_name = "NODE",
        value_delimiter = ',',
        num_args = 1..,
        help_heading = "What to quantize"
    )]
    pub exclude: Vec<String>,
}

impl RuleArgs {
    /// Applies the flags to `config` (before `validate`, which checks the op types).
    pub fn apply(&self, config: &mut QuantConfig) -> anyhow::Result<()> {
        if let Some(preset) = self.preset {
            *config = std::mem::take(config).with_preset(preset.into());
        }
        if !self.op_types.is_empty() {
            let mut selecting = config.config_list.iter_mut().filter(|r| !r.op_types.is_empty());
            let mut any = false;
            for rule in selecting.by_ref() {
                rule.op_types = self.op_types.clone();
                any = true;
            }
            if !any {
                anyhow::bail!(
                    "--op-types {}: no rule of the config selects nodes by op type (its rules \
                     name nodes with op_names); add op_types to a rule of --config instead",
                    self.op_types.join(",")
                );
            }
        }
        if !self.exclude.is_empty() {
            config.config_list.push(ConfigRule {
                exclude_op_names: self.exclude.clone(),
                ..ConfigRule::default()
            });
        }
        Ok(())
    }

    /// Every `--exclude` node must be in `model`: a typo would otherwise quantize the node.
    pub fn check_nodes(&self, model: &OnnxModel) -> anyhow::Result<()> {
        let nodes = &model.graph().node;
        for name in &self.exclude {
            if !nodes.iter().any(|n| n.name == *name) {
                anyhow::bail!(
                    "--exclude {name}: {} has no node named '{name}'; `calibr8 inspect {}` lists \
                     its nodes",
                    model.origin,
                    model.origin
                );
            }
        }
        Ok(())
    }
}

/// `--percentile P` on a percentile method: the method with P as its parameter (validated).
pub fn with_percentile(method: &Method, p: f64) -> anyhow::Result<Method> {
    match method {
        Method::Percentile { .. } => {
            let m = Method::Percentile { percentile: p };
            m.validate().map_err(|e| anyhow::anyhow!("--percentile {p}: {e}"))?;
            Ok(m)
        }
        other => anyhow::bail!(
            "--percentile {p} applies to the percentile method, but the method is `{other}`; \
             add --method percentile"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_types_replace_the_selecting_rules_and_exclude_appends_a_rule() {
        let mut config = QuantConfig::default();
        let flags = RuleArgs {
            op_types: vec!["Conv".into()],
            exclude: vec!["fc2".into(), "conv1".into()],
            preset: None,
        };
        flags.apply(&mut config).unwrap();
        assert_eq!(config.config_list.len(), 2);
        assert_eq!(config.config_list[0].op_types, ["Conv"]);
        assert_eq!(config.config_list[1].exclude_op_names, ["fc2", "conv1"]);
        assert!(config.config_list[1].op_types.is_empty());
    }

    #[test]
    fn op_types_without_a_rule_to_change_is_an_error() {
        let mut config = QuantConfig {
            config_list: vec![ConfigRule { op_names: vec!["conv1".into()], ..Default::default() }],
            ..QuantConfig::default()
        };
        let flags = RuleArgs { op_types: vec!["Gemm".into()], exclude: vec![], preset: None };
        let e = flags.apply(&mut config).unwrap_err().to_string();
        assert!(e.contains("--op-types Gemm"), "{e}");
    }
}
