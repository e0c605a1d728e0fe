//! NNI calibration configs, keyed by PyTorch module path (what NNI looks up in
//! `model.named_modules()`):
//!
//! - 2.x layout `{module: {weight_bits, min_weight, max_weight, input_bits, tracked_min_input,
//!   tracked_max_input, output_bits, tracked_min_output, tracked_max_output}}`: the `config` of
//!   `ModelSpeedupTensorRT` in NNI 2.10.1 and, unchanged, in NNI 3.0 (`compress()`).
//! - 3.0 layout `{module: {"_input_0" | "weight" | "_output_0": {scale, zero_point, quant_dtype,
//!   quant_scheme, quant_bits, tracked_min, tracked_max}}}`: what NNI 3.0's
//!   `Quantizer.get_calibration_config()` returns and `update_calibration_config()` takes.
//!
//! Only modules NNI's TensorRT path takes are written (its `torch_to_onnx` asserts the type:
//! Conv2d, Linear, ReLU, ReLU6, MaxPool2d), each complete; everything else calibr8 quantized is
//! listed in [`NniExport::skipped`] with the reason.

use super::nni_modules::{module_paths, MappedBy, ModuleMap};
use crate::internal::*;
use crate::pb;
use crate::plan::TensorRole;
use crate::quantized::TensorQuant;
use calibr8_calibration::{QuantDtype, Scheme};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One module written to the NNI configs.
#[derive(Clone, Debug, PartialEq)]
pub struct NniEntry {
    /// The module path (the key).
    pub module: String,
    /// Its PyTorch type as NNI checks it (`Conv2d`, `Linear`, `ReLU`, `ReLU6`, `MaxPool2d`).
    pub module_type: &'static str,
    /// The ONNX nodes it stands for (more than one when the module is called repeatedly; NNI
    /// applies one entry to every call, so the widest range of the calls is written).
    pub nodes: Vec<String>,
    /// How the module path was found.
    pub mapped_by: MappedBy,
}

/// A node calibr8 calibrated that the NNI configs leave out, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct NniSkipped {
    /// The ONNX node.
    pub node: String,
    /// Its op type.
    pub op_type: String,
    /// Why it is not in the NNI configs.
    pub reason: String,
}

/// Both NNI configs and what went into them.
#[derive(Clone, Debug, PartialEq)]
pub struct NniExport {
    /// `nni_calibration_config.json`.
    pub v2: Value,
    /// `nni3_calibration_config.json`.
    pub v3: Value,
    /// Modules written, in graph order.
    pub entries: Vec<NniEntry>,
    /// Nodes left out, in graph order.
    pub skipped: Vec<NniSkipped>,
    /// Module-map entries naming nodes the model lacks.
    pub unknown_map_nodes: Vec<String>,
}

/// The tensors one entry reads.
struct Ranges<'a> {
    weight: Option<&'a TensorQuant>,
    input: &'a TensorQuant,
    output: &'a TensorQuant,
}

/// Builds both NNI configs, with module paths from `map`, torch scope names, weight names or
/// the node names themselves (see [`super::nni_modules`]).
pub fn nni_export(q: &QuantizedModel, map: &ModuleMap) -> NniExport {
    let graph = Graph::new(&q.model);
    let proto_nodes = &q.model.graph().node;
    let paths = module_paths(&graph, map);
    let mut entries: Vec<NniEntry> = vec![];
    let mut ranges: BTreeMap<String, Ranges> = BTreeMap::new();
    let mut skipped = vec![];
    for (ix, node) in graph.nodes.iter().enumerate() {
        let int8 = q.node_precision.get(&node.name) == Some(&Precision::Int8);
        let activation_module = matches!(node.op_type.as_str(), "Relu" | "Clip" | "MaxPool")
            && !q.node_precision.contains_key(&node.name);
        if !int8 && !activation_module {
            continue;
        }
        let skip = |reason: String| NniSkipped {
            node: node.name.clone(),
            op_type: node.op_type.clone(),
            reason,
        };
        let module_type = match nni_module_type(&graph, node, &proto_nodes[ix]) {
            Ok(t) => t,
            Err(reason) => {
                // A lone parameterless op outside int8 is not worth a line.
                if int8 {
                    skipped.push(skip(reason));
                }
                continue;
            }
        };
        let (module, mapped_by) =
            match paths.get(&node.name).cloned().unwrap_or_else(|| Err("unnamed node".to_string()))
            {
                Ok(found) => found,
                Err(reason) => {
                    skipped.push(skip(format!("no module path: {reason}")));
                    continue;
                }
            };
        let these = match node_ranges(q, node, module_type) {
            Ok(r) => r,
            Err(reason) => {
                skipped.push(skip(reason));
                continue;
            }
        };
        match entries.iter_mut().find(|e| e.module == module) {
            Some(entry) if entry.module_type != module_type => {
                skipped.push(skip(format!(
                    "module '{module}' is already the {} of node(s) {:?}; map this node to its \
                     own module in the --nni-module-map file",
                    entry.module_type, entry.nodes
                )));
            }
            Some(entry) => {
                entry.nodes.push(node.name.clone());
                if let Some(r) = ranges.get_mut(&module) {
                    r.input = wider(r.input, these.input);
                    r.output = wider(r.output, these.output);
                }
            }
            None => {
                entries.push(NniEntry {
                    module: module.clone(),
                    module_type,
                    nodes: vec![node.name.clone()],
                    mapped_by,
                });
                ranges.insert(module, these);
            }
        }
    }
    let mut v2 = Map::new();
    let mut v3 = Map::new();
    for entry in &entries {
        let r = &ranges[&entry.module];
        v2.insert(entry.module.clone(), v2_entry(r));
        v3.insert(entry.module.clone(), v3_entry(r));
    }
    NniExport {
        v2: Value::Object(v2),
        v3: Value::Object(v3),
        entries,
        skipped,
        unknown_map_nodes: map.unknown_nodes(&graph).map(String::from).collect(),
    }
}

/// [`nni_export`] with the module map named in `q.config.nni.module_map`, if any.
pub fn nni_export_with_config(q: &QuantizedModel) -> Result<NniExport> {
    let map = match &q.config.nni.module_map {
        Some(path) => ModuleMap::load(path)?,
        None => ModuleMap::default(),
    };
    Ok(nni_export(q, &map))
}

/// NNI 2.x config (see the module docs); module paths as in [`nni_export`].
pub fn nni_v2_config(q: &QuantizedModel) -> Value {
    nni_export(q, &ModuleMap::default()).v2
}

/// NNI 3.0 config (see the module docs); module paths as in [`nni_export`].
pub fn nni_v3_config(q: &QuantizedModel) -> Value {
    nni_export(q, &ModuleMap::default()).v3
}

/// The PyTorch module type NNI would find for `node`, or why NNI cannot take it.
fn nni_module_type(
    graph: &Graph,
    node: &crate::graph::Node,
    proto: &pb::NodeProto,
) -> std::result::Result<&'static str, String> {
    let weight_rank =
        || node.inputs.get(1).and_then(|w| graph.constant(w)).map(|t| t.dims.len()).unwrap_or(0);
    match node.op_type.as_str() {
        "Conv" => match weight_rank() {
            4 => Ok("Conv2d"),
            r => Err(format!(
                "a Conv with a {r}-D weight is not a Conv2d, the only convolution NNI's \
                 TensorRT path takes"
            )),
        },
        "Gemm" if weight_rank() == 2 => Ok("Linear"),
        "Gemm" => Err("a Gemm without a constant weight is no Linear module".into()),
        "MatMul" => Err("a MatMul (Linear on a >2-D input, or torch.matmul): NNI's \
                         torch_to_onnx finds only nodes named Gemm*, Conv*, Relu*, Clip*, MaxP*"
            .into()),
        "Relu" => Ok("ReLU"),
        "Clip" => match clip_bounds(graph, node, proto) {
            Some((lo, hi)) if lo == 0.0 && hi == 6.0 => Ok("ReLU6"),
            bounds => Err(format!(
                "a Clip with bounds {bounds:?} is not a ReLU6 (0, 6), the only Clip NNI takes"
            )),
        },
        "MaxPool" => {
            let dims = proto
                .attribute
                .iter()
                .find(|a| a.name == "kernel_shape")
                .map(|a| a.ints.len())
                .unwrap_or(0);
            if dims == 2 {
                Ok("MaxPool2d")
            } else {
                Err(format!("a {dims}-D MaxPool is not a MaxPool2d"))
            }
        }
        other => Err(format!(
            "{other} is not one of the module types NNI's TensorRT path takes (Conv2d, Linear, \
             ReLU, ReLU6, MaxPool2d); its torch_to_onnx asserts the type"
        )),
    }
}

/// Clip's bounds from its attributes (opset < 11) or constant inputs.
fn clip_bounds(
    graph: &Graph,
    node: &crate::graph::Node,
    proto: &pb::NodeProto,
) -> Option<(f32, f32)> {
    let attr = |name: &str| proto.attribute.iter().find(|a| a.name == name).map(|a| a.f);
    let input = |ix: usize| -> Option<f32> {
        let t = graph.constant(node.inputs.get(ix).filter(|n| !n.is_empty())?)?;
        crate::graph::tensor_f32(t).ok()?.0.first().copied()
    };
    let lo = attr("min").or_else(|| input(1)).unwrap_or(f32::MIN);
    let hi = attr("max").or_else(|| input(2)).unwrap_or(f32::MAX);
    Some((lo, hi))
}

/// The calibrated tensors an entry of `module_type` needs, or what is missing.
fn node_ranges<'a>(
    q: &'a QuantizedModel,
    node: &crate::graph::Node,
    module_type: &str,
) -> std::result::Result<Ranges<'a>, String> {
    let find = |name: &str| q.tensors.get(name).or_else(|| q.observed.get(name));
    let weighted = matches!(module_type, "Conv2d" | "Linear");
    let weight = if weighted {
        let w = node.inputs.get(1).map(String::as_str).unwrap_or_default();
        match q.tensors.get(w).filter(|t| t.target.role == TensorRole::Weight) {
            Some(t) => Some(t),
            None => {
                return Err(format!(
                    "its weight '{w}' is not quantized; add `weight` to the rule's target_names"
                ))
            }
        }
    } else {
        None
    };
    let input_name = node.inputs.first().map(String::as_str).unwrap_or_default();
    let input = find(input_name).ok_or_else(|| {
        format!(
            "its input '{input_name}' was not calibrated; add `_input_` to the rule's target_names"
        )
    })?;
    let output_name = node.outputs.first().map(String::as_str).unwrap_or_default();
    let output = find(output_name).ok_or_else(|| {
        format!(
            "its output '{output_name}' was not calibrated; set nni.calibrate_outputs: true in \
             the config (the default; on the command line, drop --no-nni-outputs)"
        )
    })?;
    Ok(Ranges { weight, input, output })
}

/// The call whose range TensorRT would see as wider (symmetric amax).
fn wider<'a>(a: &'a TensorQuant, b: &'a TensorQuant) -> &'a TensorQuant {
    if amax(b) > amax(a) {
        b
    } else {
        a
    }
}

fn amax(t: &TensorQuant) -> f32 {
    t.symmetric_amax().into_iter().fold(0.0, f32::max)
}

/// `(tracked_min, tracked_max)` over all channels, widened so that max(|min|, |max|), which is
/// what TensorRT's `dynamic_range` keeps, equals the symmetric amax calibr8 chose.
fn tracked(t: &TensorQuant) -> (f32, f32) {
    let lo = t.range.min.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = t.range.max.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let a = amax(t);
    if lo.abs().max(hi.abs()) < a {
        (lo, a)
    } else {
        (lo, hi)
    }
}

fn v2_entry(r: &Ranges) -> Value {
    let mut e = Map::new();
    if let Some(w) = r.weight {
        let (lo, hi) = tracked(w);
        e.insert("weight_bits".into(), json!(8));
        e.insert("min_weight".into(), json!(lo));
        e.insert("max_weight".into(), json!(hi));
    }
    let (lo, hi) = tracked(r.input);
    e.insert("input_bits".into(), json!(8));
    e.insert("tracked_min_input".into(), json!(lo));
    e.insert("tracked_max_input".into(), json!(hi));
    let (lo, hi) = tracked(r.output);
    e.insert("output_bits".into(), json!(8));
    e.insert("tracked_min_output".into(), json!(lo));
    e.insert("tracked_max_output".into(), json!(hi));
    Value::Object(e)
}

fn v3_target(t: &TensorQuant) -> Value {
    let one = |v: &[f32]| if v.len() == 1 { json!(v[0]) } else { json!(v) };
    let zp: Vec<f32> = t.params.zero_point.iter().map(|&z| z as f32).collect();
    json!({
        "scale": one(&t.params.scale),
        "zero_point": one(&zp),
        "quant_dtype": match t.params.spec.dtype { QuantDtype::Int8 => "int8", QuantDtype::Uint8 => "uint8" },
        "quant_scheme": match t.params.spec.scheme { Scheme::Symmetric => "symmetric", Scheme::Affine => "affine" },
        "quant_bits": 8,
        "tracked_min": one(&t.range.min),
        "tracked_max": one(&t.range.max),
    })
}

fn v3_entry(r: &Ranges) -> Value {
    let mut e = Map::new();
    e.insert("_input_0".into(), v3_target(r.input));
    if let Some(w) = r.weight {
        e.insert("weight".into(), v3_target(w));
    }
    e.insert("_output_0".into(), v3_target(r.output));
    Value::Object(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigRule, Target};
    use crate::QuantPlan;
    use calibr8_calibration::{Method, TensorRange};

    const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/nni/torch_named.onnx");

    /// Every planned tensor gets the range ±(1 + its index), so entries can be traced back.
    fn quantized(config: QuantConfig) -> QuantizedModel {
        let model = OnnxModel::load(MODEL).expect("fixture loads");
        let plan = QuantPlan::resolve(&model, &config).expect("plan");
        let names: Vec<String> = plan.tensors.keys().chain(plan.observed.keys()).cloned().collect();
        let ranges = names
            .iter()
            .enumerate()
            .map(|(ix, t)| {
                let a = 1.0 + ix as f32;
                (t.clone(), TensorRange::per_tensor(t.clone(), Method::MinMax, -a, a))
            })
            .collect();
        QuantizedModel::new(model, plan, ranges, config).expect("assembles")
    }

    #[test]
    fn module_keys_and_complete_entries() {
        let q = quantized(QuantConfig::default());
        let nni = nni_export(&q, &ModuleMap::default());
        let keys: Vec<&String> = nni.v2.as_object().expect("object").keys().collect();
        assert_eq!(
            keys,
            ["conv1", "fc", "layer1.0.conv1", "layer1.0.conv2", "layer1.0.relu", "maxpool", "relu"]
        );
        let conv = &nni.v2["layer1.0.conv1"];
        let amax = |t: &str| q.tensors.get(t).or_else(|| q.observed.get(t)).expect(t).range.amax[0];
        assert_eq!(conv["tracked_max_input"], json!(amax("/maxpool/MaxPool_output_0")));
        assert_eq!(conv["tracked_max_output"], json!(amax("/layer1/layer1.0/conv1/Conv_output_0")));
        assert_eq!(conv["max_weight"], json!(amax("onnx::Conv_43")));
        // The reused block ReLU: one entry, the wider of its two calls.
        let relu = nni.entries.iter().find(|e| e.module == "layer1.0.relu").expect("entry");
        assert_eq!(relu.nodes, ["/layer1/layer1.0/relu/Relu", "/layer1/layer1.0/relu_1/Relu"]);
        let widest = amax("/layer1/layer1.0/relu/Relu_output_0")
            .max(amax("/layer1/layer1.0/relu_1/Relu_output_0"));
        assert_eq!(nni.v2["layer1.0.relu"]["tracked_max_output"], json!(widest));
        assert!(nni.entries.iter().all(|e| e.mapped_by == MappedBy::ScopeName));
        assert_eq!(nni.v3["fc"]["weight"]["quant_scheme"], json!("symmetric"));
        assert!(nni.skipped.is_empty(), "{:?}", nni.skipped);
    }

    #[test]
    fn unsupported_nodes_and_missing_outputs_are_listed_with_the_reason() {
        let mut config = QuantConfig::default();
        config.config_list.push(ConfigRule {
            op_types: vec!["Add".into(), "GlobalAveragePool".into()],
            target_names: vec![Target::Input],
            ..ConfigRule::default()
        });
        config.nni.calibrate_outputs = false;
        let nni = nni_export(&quantized(config), &ModuleMap::default());
        let reason = |node: &str| {
            nni.skipped.iter().find(|s| s.node == node).map(|s| s.reason.clone()).expect(node)
        };
        assert!(reason("/layer1/layer1.0/Add").contains("not one of the module types"));
        assert!(reason("/avgpool/GlobalAveragePool").contains("not one of the module types"));
        assert!(reason("/conv1/Conv").contains("nni.calibrate_outputs"));
        // Only the Conv whose output is a quantized tensor anyway (the Add's input) is complete.
        let keys: Vec<&String> = nni.v2.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["layer1.0.conv2"], "{}", nni.v2);
    }
}
