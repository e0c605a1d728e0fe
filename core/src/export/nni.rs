//! NNI calibration configs: the 2.x per-layer dict `ModelSpeedupTensorRT` reads, and NNI 3.0's
//! `{module: {target: {...}}}` layout its own quantizers emit.

use crate::internal::*;
use crate::plan::TensorRole;
use calibr8_calibration::{QuantDtype, Scheme};
use serde_json::{json, Map, Value};

fn min_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::INFINITY, f32::min)
}
fn max_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// NNI 2.x: `{node: {weight_bits, min_weight, max_weight, input_bits, tracked_min_input,
/// tracked_max_input, output_bits, tracked_min_output, tracked_max_output}}` for every int8 node.
pub fn nni_v2_config(q: &QuantizedModel) -> Value {
    let graph = Graph::new(&q.model);
    let mut out = Map::new();
    for node in &graph.nodes {
        let mut entry = Map::new();
        for input in &node.inputs {
            let Some(t) = q.tensors.get(input) else {
                continue;
            };
            if !t.target.consumers.contains(&node.name) {
                continue;
            }
            match t.target.role {
                TensorRole::Weight => {
                    entry.insert("weight_bits".into(), json!(8));
                    entry.insert("min_weight".into(), json!(min_of(&t.range.min)));
                    entry.insert("max_weight".into(), json!(max_of(&t.range.max)));
                }
                TensorRole::Activation if !entry.contains_key("input_bits") => {
                    entry.insert("input_bits".into(), json!(8));
                    entry.insert("tracked_min_input".into(), json!(min_of(&t.range.min)));
                    entry.insert("tracked_max_input".into(), json!(max_of(&t.range.max)));
                }
                _ => {}
            }
        }
        if let Some(t) = node.outputs.first().and_then(|o| q.tensors.get(o)) {
            if t.target.producer.as_deref() == Some(node.name.as_str())
                && t.target.consumers.is_empty()
            {
                entry.insert("output_bits".into(), json!(8));
                entry.insert("tracked_min_output".into(), json!(min_of(&t.range.min)));
                entry.insert("tracked_max_output".into(), json!(max_of(&t.range.max)));
            }
        }
        if !entry.is_empty() {
            out.insert(node.name.clone(), Value::Object(entry));
        }
    }
    Value::Object(out)
}

/// NNI 3.0: `{node: {"_input_0" | "weight" | "_output_0": {scale, zero_point, quant_dtype,
/// quant_scheme, quant_bits, tracked_min, tracked_max}}}`.
pub fn nni_v3_config(q: &QuantizedModel) -> Value {
    let graph = Graph::new(&q.model);
    let mut out = Map::new();
    for node in &graph.nodes {
        let mut entry = Map::new();
        let mut add = |target: String, t: &crate::quantized::TensorQuant| {
            let one = |v: &[f32]| if v.len() == 1 { json!(v[0]) } else { json!(v) };
            let zp: Vec<f32> = t.params.zero_point.iter().map(|&z| z as f32).collect();
            entry.insert(
                target,
                json!({
                    "scale": one(&t.params.scale),
                    "zero_point": one(&zp),
                    "quant_dtype": match t.params.spec.dtype { QuantDtype::Int8 => "int8", QuantDtype::Uint8 => "uint8" },
                    "quant_scheme": match t.params.spec.scheme { Scheme::Symmetric => "symmetric", Scheme::Affine => "affine" },
                    "quant_bits": 8,
                    "tracked_min": one(&t.range.min),
                    "tracked_max": one(&t.range.max),
                }),
            );
        };
        for (ix, input) in node.inputs.iter().enumerate() {
            let Some(t) = q.tensors.get(input) else {
                continue;
            };
            if !t.target.consumers.contains(&node.name) {
                continue;
            }
            match t.target.role {
                TensorRole::Weight => add("weight".into(), t),
                TensorRole::Activation => add(format!("_input_{ix}"), t),
            }
        }
        for (ix, output) in node.outputs.iter().enumerate() {
            if let Some(t) = q.tensors.get(output) {
                if t.target.consumers.is_empty() && t.target.producer.as_deref() == Some(&node.name)
                {
                    add(format!("_output_{ix}"), t);
                }
            }
        }
        if !entry.is_empty() {
            out.insert(node.name.clone(), Value::Object(entry));
        }
    }
    Value::Object(out)
}
