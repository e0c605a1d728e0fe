//! Deployment presets: where Q/DQ go and in which integer types, for the runtime that will run
//! the model. TensorRT and ONNX Runtime's CPU kernels want different layouts.

use super::{ConfigRule, GranularityName, Target};
use calibr8_calibration::{QuantDtype, Scheme};
use serde::{Deserialize, Serialize};

/// The runtime the quantized model is laid out for (`preset: cpu` in a config, `--preset cpu`
/// on the command line).
///
/// ```
/// use calibr8_core::{Preset, QuantConfig};
/// let config = QuantConfig::builder().preset(Preset::Cpu).build()?;
/// // u8 activations, s8 weights, Q/DQ also on the outputs of Conv, Add, pooling...
/// assert!(config.config_list[0].op_types.contains(&"Add".to_string()));
/// assert_eq!(config.config_list[0].quant_dtype, calibr8_calibration::QuantDtype::Uint8);
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// TensorRT's explicit-quantization layout (the default): symmetric int8 Q/DQ on the
    /// activation inputs and weights of Conv / ConvTranspose / Gemm / MatMul, none on their
    /// outputs; TensorRT fuses what follows and picks the output types itself.
    #[default]
    #[serde(alias = "trt")]
    Tensorrt,
    /// ONNX Runtime's CPU int8 layout: Q/DQ around every op ONNX Runtime has an int8 kernel for
    /// (Conv, Gemm, MatMul, Add, Mul, pooling), on outputs too, so its graph optimizer fuses
    /// each `DQ → op → Q` unit into QLinearConv / QLinearAdd / ...; u8 affine activations (what
    /// the x86 VNNI/AMX kernels take), s8 symmetric per-channel weights, int32 Conv/Gemm bias;
    /// Relu outputs carry the Q/DQ (zero point 0) so ONNX Runtime drops the Relu; MaxPool and
    /// reshapes reuse their input's parameters, which lets ONNX Runtime remove their Q/DQ.
    /// For CPUs with VNNI (AVX-512 VNNI, AVX-VNNI) or AMX.
    Cpu,
    /// [`Preset::Cpu`] with 7-bit weights (`[-64, 64]`, ONNX Runtime's `reduce_range`) for x86
    /// CPUs without VNNI (AVX2, AVX-512 without VNNI): their u8·s8 kernels add pairs of products
    /// in 16 bits, which saturate with 8-bit weights (digits CNN on an AVX2 EPYC: 21.6 dB SQNR
    /// with 8-bit weights, 36.7 dB with 7-bit).
    #[serde(alias = "cpu-avx2")]
    CpuAvx2,
}

impl Preset {
    /// The preset's `config_list` (what a config without one quantizes).
    pub fn rules(self) -> Vec<ConfigRule> {
        let ops = crate::ops::registry();
        match self {
            Preset::Tensorrt => vec![ConfigRule {
                op_types: strings(ops.tensorrt_preset_op_types()),
                granularity: GranularityName::PerChannel,
                ..ConfigRule::default()
            }],
            Preset::Cpu | Preset::CpuAvx2 => vec![ConfigRule {
                op_types: strings(ops.cpu_preset_op_types()),
                target_names: vec![Target::Input, Target::Weight],
                quant_dtype: QuantDtype::Uint8,
                quant_scheme: Scheme::Affine,
                weight_quant_dtype: Some(QuantDtype::Int8),
                weight_quant_scheme: Some(Scheme::Symmetric),
                reduce_range: self == Preset::CpuAvx2,
                granularity: GranularityName::PerChannel,
                ..ConfigRule::default()
            }],
        }
    }

    /// True when the outputs of quantized nodes get Q/DQ where ONNX Runtime's CPU kernels
    /// compute in int8 ([`crate::ops::CpuOutput`]).
    pub fn quantizes_cpu_outputs(self) -> bool {
        self.is_cpu()
    }

    /// True when a quantized Conv / Gemm reads its bias as int32 at scale `x.scale · w.scale`
    /// through DequantizeLinear: ONNX Runtime fuses `DQ → Conv → Q` only when every input
    /// comes from a DequantizeLinear. TensorRT takes the bias in float.
    pub fn quantizes_bias(self) -> bool {
        self.is_cpu()
    }

    /// True for the ONNX Runtime CPU layouts.
    pub fn is_cpu(self) -> bool {
        matches!(self, Preset::Cpu | Preset::CpuAvx2)
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Preset::Tensorrt => "tensorrt",
            Preset::Cpu => "cpu",
            Preset::CpuAvx2 => "cpu_avx2",
        })
    }
}

impl std::str::FromStr for Preset {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Preset> {
        match s.to_ascii_lowercase().as_str() {
            "tensorrt" | "trt" => Ok(Preset::Tensorrt),
            "cpu" => Ok(Preset::Cpu),
            "cpu_avx2" | "cpu-avx2" => Ok(Preset::CpuAvx2),
            _ => Err(crate::Error::config(
                "preset",
                format!("unknown preset '{s}'; use tensorrt (the default), cpu or cpu_avx2"),
            )),
        }
    }
}

fn strings(v: Vec<&'static str>) -> Vec<String> {
    v.into_iter().map(String::from).collect()
}
