//! The per-layer precision dump of a built engine, from TensorRT's engine inspector JSON
//! (`IEngineInspector::getEngineInformation(kJSON)`, detailed when the engine was built with
//! `ProfilingVerbosity::kDETAILED`, which calibr8 always sets).
//!
//! It answers the most common complaint, "int8 is not faster than fp16": it shows which layers
//! actually run in int8, which stayed in fp16/fp32, and how many Reformat layers convert between
//! them.

use crate::internal::*;
use serde::Serialize;

/// What a layer computes in, judged from its I/O formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerPrecision {
    /// Every float I/O in int8.
    Int8,
    /// fp16 I/O.
    Fp16,
    /// fp32 I/O.
    Fp32,
    /// Different types in and out (int8 in, fp32 out: a quantized layer at a float boundary).
    Mixed,
    /// No format information (engine built without detailed profiling).
    Unknown,
}

/// One engine layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EngineLayer {
    /// Name (TensorRT joins the names of fused layers with `+`).
    pub name: String,
    /// Kernel kind (`CaskConvolution`, `Reformat`, ...).
    pub layer_type: String,
    /// `Format/Datatype` of each input.
    pub inputs: Vec<String>,
    /// `Format/Datatype` of each output.
    pub outputs: Vec<String>,
    /// Judged precision.
    pub precision: LayerPrecision,
    /// The tactic TensorRT picked, if reported.
    pub tactic: Option<String>,
}

/// All layers of an engine.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LayerDump {
    /// Layers in execution order.
    pub layers: Vec<EngineLayer>,
}

fn type_of(format: &str) -> Option<LayerPrecision> {
    let f = format.to_ascii_lowercase();
    if f.contains("int8") {
        Some(LayerPrecision::Int8)
    } else if f.contains("fp16") || f.contains("half") {
        Some(LayerPrecision::Fp16)
    } else if f.contains("fp32") || f.contains("float") {
        Some(LayerPrecision::Fp32)
    } else {
        None
    }
}

impl LayerDump {
    /// Parses inspector JSON (`{"Layers": [...], "Bindings": [...]}`); layers given only by name
    /// (non-detailed builds) come back with [`LayerPrecision::Unknown`].
    pub fn parse(json: &str) -> Result<LayerDump> {
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            Error::backend(crate::BACKEND, format!("engine inspector JSON unreadable: {e}"))
        })?;
        let layers = v.get("Layers").and_then(|l| l.as_array()).cloned().unwrap_or_default();
        let formats = |l: &serde_json::Value, key: &str| -> Vec<String> {
            l.get(key)
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .map(|t| {
                            t.get("Format/Datatype")
                                .and_then(|f| f.as_str())
                                .unwrap_or("")
                                .to_string()
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let layers = layers
            .iter()
            .map(|l| {
                if let Some(name) = l.as_str() {
                    return EngineLayer {
                        name: name.to_string(),
                        layer_type: String::new(),
                        inputs: vec![],
                        outputs: vec![],
                        precision: LayerPrecision::Unknown,
                        tactic: None,
                    };
                }
                let (inputs, outputs) = (formats(l, "Inputs"), formats(l, "Outputs"));
                let types: Vec<LayerPrecision> =
                    inputs.iter().chain(&outputs).filter_map(|f| type_of(f)).collect();
                let precision = match types.first() {
                    None => LayerPrecision::Unknown,
                    Some(&first) if types.iter().all(|t| *t == first) => first,
                    Some(_) => LayerPrecision::Mixed,
                };
                EngineLayer {
                    name: l.get("Name").and_then(|n| n.as_str()).unwrap_or("").to_string(),
                    layer_type: l
                        .get("LayerType")
                        .and_then(|n| n.as_str())
                        .unwrap_or("")
                        .to_string(),
                    inputs,
                    outputs,
                    precision,
                    tactic: l.get("TacticName").and_then(|n| n.as_str()).map(String::from),
                }
            })
            .collect();
        Ok(LayerDump { layers })
    }

    /// Layers per precision, and how many are Reformat (type conversions between layers).
    pub fn counts(&self) -> (usize, usize, usize, usize, usize) {
        let n = |p| self.layers.iter().filter(|l| l.precision == p).count();
        let reformats = self.layers.iter().filter(|l| l.layer_type == "Reformat").count();
        (
            n(LayerPrecision::Int8),
            n(LayerPrecision::Fp16),
            n(LayerPrecision::Fp32),
            n(LayerPrecision::Mixed),
            reformats,
        )
    }

    /// A table: one line per layer, then the totals.
    pub fn table(&self) -> String {
        let mut s = String::new();
        for l in &self.layers {
            s += &format!(
                "{:<8} {:<20} {}\n",
                format!("{:?}", l.precision).to_lowercase(),
                l.layer_type,
                l.name
            );
        }
        let (i8, f16, f32, mixed, reformats) = self.counts();
        s += &format!(
            "{} layers: {i8} int8, {f16} fp16, {f32} fp32, {mixed} mixed; {reformats} reformat\n",
            self.layers.len()
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of TensorRT 10's detailed inspector output (trimmed to the keys used).
    const JSON: &str = r#"{"Layers": [
      {"Name": "input to nvinfer1::DataType::kINT8 quantize", "LayerType": "Reformat",
       "Inputs": [{"Name": "input", "Format/Datatype": "Row major linear FP32"}],
       "Outputs": [{"Name": "q", "Format/Datatype": "Four wide channel vectorized row major Int8 format"}]},
      {"Name": "conv1 + relu1", "LayerType": "CaskConvolution", "TacticName": "sm90_xmma_fprop_implicit_gemm_int8",
       "Inputs": [{"Name": "q", "Format/Datatype": "Thirty-two wide channel vectorized row major Int8 format"}],
       "Outputs": [{"Name": "relu1_out", "Format/Datatype": "Thirty-two wide channel vectorized row major Int8 format"}]},
      {"Name": "fc2", "LayerType": "CaskGemm",
       "Inputs": [{"Name": "relu3_out", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}],
       "Outputs": [{"Name": "logits", "Format/Datatype": "Row major linear FP32"}]}
    ], "Bindings": ["input", "logits"]}"#;

    #[test]
    fn per_layer_precision() {
        let dump = LayerDump::parse(JSON).expect("parses");
        let p: Vec<LayerPrecision> = dump.layers.iter().map(|l| l.precision).collect();
        assert_eq!(p, [LayerPrecision::Mixed, LayerPrecision::Int8, LayerPrecision::Mixed]);
        assert_eq!(dump.counts(), (1, 0, 0, 2, 1));
        assert_eq!(dump.layers[1].tactic.as_deref(), Some("sm90_xmma_fprop_implicit_gemm_int8"));
        assert!(dump.table().contains("3 layers: 1 int8"));
        let names_only = LayerDump::parse(r#"{"Layers": ["a", "b"]}"#).expect("parses");
        assert!(names_only.layers.iter().all(|l| l.precision == LayerPrecision::Unknown));
    }
}
