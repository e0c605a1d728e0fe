//! Applies a [`TrtPlan`] to a parsed network and builds a serialized engine.
//!
//! The plan speaks ONNX names; the parser keeps them for tensors and for the layer that produces
//! a node's outputs. Layers the parser adds on its own (reshapes around a Gemm, say) get no ONNX
//! name, so the lowering carries ranges through TensorRT's own SHUFFLE / IDENTITY layers and
//! reports every float tensor at a layer that still lacks a range.

use crate::internal::*;
use crate::plan::TrtPlan;
use crate::trt::{Builder, BuilderConfig, LayerInfo, Network};
use calibr8_tensorrt_sys as sys;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the lowering did, beyond the plan: what TensorRT's network turned out to hold.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoweringReport {
    /// Ranges set on network tensors.
    pub ranges_set: usize,
    /// Planned ranges whose tensor is not in the network (folded or renamed by the parser).
    pub ranges_not_in_network: Vec<String>,
    /// Ranges carried through layers TensorRT created: tensor → the tensor it came from.
    pub ranges_carried: BTreeMap<String, String>,
    /// Float tensors of the network still without a range (TensorRT keeps their layers out of
    /// int8 or warns "missing scale").
    pub network_unranged: Vec<String>,
    /// Float tensors without a range that the plan knows are fused into a ranged tensor (no
    /// warning: TensorRT never materializes them).
    pub fused_unranged: Vec<String>,
    /// Ranges set on the Constant-layer weights of int8 matrix multiplies (TensorRT's names).
    pub constant_ranges: BTreeMap<String, f32>,
    /// Every `setDynamicRange(-amax, amax)` made, by TensorRT tensor name: what a calibration
    /// cache must hold for `trtexec --calib` to build the same engine.
    pub ranges: BTreeMap<String, f32>,
    /// Layer constraints applied: ONNX node → TensorRT layers constrained.
    pub constrained: BTreeMap<String, Vec<String>>,
    /// Constraints that matched no layer.
    pub constraints_unmatched: Vec<String>,
}

/// A built engine plan and the report of its lowering.
#[derive(Clone, Debug)]
pub struct BuiltEngine {
    /// The serialized engine (`buildSerializedNetwork`).
    pub plan: Vec<u8>,
    /// What happened.
    pub report: LoweringReport,
}

/// Applies `plan` to `network` (ranges and layer constraints) and returns the report.
pub fn apply(plan: &TrtPlan, network: &mut Network) -> Result<LoweringReport> {
    let mut report = LoweringReport::default();
    for tensor in &plan.extra_outputs {
        network.mark_output(tensor)?;
    }
    let layers = network.layers()?;
    if plan.flags.int8 && !plan.flags.strongly_typed {
        let mut ranges: BTreeMap<String, f32> = BTreeMap::new();
        for r in plan.ranges.values() {
            if network.set_dynamic_range(&r.tensor, r.amax)? {
                ranges.insert(r.tensor.clone(), r.amax);
            } else {
                report.ranges_not_in_network.push(r.tensor.clone());
            }
        }
        // Ranges through TensorRT's own reshapes/identities, in network (topological) order.
        for layer in &layers {
            if !matches!(layer.kind.as_str(), "SHUFFLE" | "IDENTITY") {
                continue;
            }
            let Some(Some(input)) = layer.inputs.first() else {
                continue;
            };
            let Some(&amax) = ranges.get(input) else {
                continue;
            };
            for out in &layer.outputs {
                if !ranges.contains_key(out) && network.set_dynamic_range(out, amax)? {
                    ranges.insert(out.clone(), amax);
                    report.ranges_carried.insert(out.clone(), input.clone());
                }
            }
        }
        for (tensor, amax) in constant_weight_ranges(plan, &layers) {
            if !ranges.contains_key(&tensor) && network.set_dynamic_range(&tensor, amax)? {
                ranges.insert(tensor.clone(), amax);
                report.constant_ranges.insert(tensor, amax);
            }
        }
        report.ranges_set = ranges.len();
        let mut candidates = std::collections::BTreeSet::new();
        for layer in &layers {
            for t in layer.inputs.iter().flatten().chain(&layer.outputs) {
                if ranges.contains_key(t) || candidates.contains(t) {
                    continue;
                }
                let dt = network.tensor_data_type(t)?;
                if is_float(dt) {
                    candidates.insert(t.clone());
                }
            }
        }
        let (unranged, fused) = split_fused(plan, candidates);
        report.network_unranged = unranged;
        report.fused_unranged = fused;
        for t in &report.network_unranged {
            tracing::warn!(target: "calibr8_tensorrt::lower", tensor = %t, "no dynamic range: its layers cannot run in int8");
        }
        report.ranges = ranges;
    }
    if !plan.flags.strongly_typed {
        for c in &plan.layers {
            let matched = layers_of_node(&c.layer, &c.outputs, &layers, &plan.onnx_nodes);
            if matched.is_empty() {
                report.constraints_unmatched.push(c.layer.clone());
                tracing::warn!(target: "calibr8_tensorrt::lower", node = %c.layer, "precision constraint matched no TensorRT layer");
            }
            let mut constrained = Vec::new();
            for l in &matched {
                let types = l
                    .outputs
                    .iter()
                    .map(|o| network.tensor_data_type(o))
                    .collect::<Result<Vec<i32>>>()?;
                let outputs = float_outputs(&types);
                // A layer without float outputs (shape arithmetic, TopK indices alone) has no
                // precision to keep; TensorRT would only log an error.
                if outputs.is_empty() {
                    continue;
                }
                network.constrain_layer(l.index, &outputs, c.precision)?;
                constrained.push(l.name.clone());
            }
            report.constrained.insert(c.layer.clone(), constrained);
        }
    }
    Ok(report)
}

fn is_float(dt: i32) -> bool {
    matches!(
        dt,
        sys::CALIBR8_TRT_DATA_TYPE_FLOAT
            | sys::CALIBR8_TRT_DATA_TYPE_HALF
            | sys::CALIBR8_TRT_DATA_TYPE_BF16
    )
}

/// Indices of the float outputs among a layer's output types: the only ones `setOutputType`
/// applies to (TopK's second output is always int32, shape outputs int32/int64).
pub fn float_outputs(types: &[i32]) -> Vec<i32> {
    types.iter().enumerate().filter(|(_, &t)| is_float(t)).map(|(i, _)| i as i32).collect()
}

/// The TensorRT layers that implement ONNX node `node`: the one the parser names after it, the
/// extra ones it names `<node>_<n>` (onnx-tensorrt's unique-name suffix; not when that name is
/// itself another ONNX node's), and any layer writing one of the node's outputs.
pub fn layers_of_node<'a>(
    node: &str,
    node_outputs: &[String],
    layers: &'a [LayerInfo],
    onnx_nodes: &std::collections::BTreeSet<String>,
) -> Vec<&'a LayerInfo> {
    // An unnamed ONNX node is found through its outputs only.
    let suffixed = |name: &str| {
        !node.is_empty()
            && name
                .strip_prefix(node)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            && !onnx_nodes.contains(name)
    };
    layers
        .iter()
        .filter(|l| {
            (!node.is_empty() && l.name == node)
                || suffixed(&l.name)
                || l.outputs.iter().any(|o| node_outputs.contains(o))
        })
        .collect()
}

/// `(tensor, amax)` for every Constant-layer output that feeds a MATRIX_MULTIPLY layer of an
/// int8 Gemm/MatMul node of the plan, directly or through SHUFFLE/IDENTITY layers (every
/// tensor on that path gets the range). The amax is the node's weight whose name the Constant
/// layer carries, else the largest of the node's constant weights.
pub fn constant_weight_ranges(plan: &TrtPlan, layers: &[LayerInfo]) -> Vec<(String, f32)> {
    let producer: BTreeMap<&str, &LayerInfo> =
        layers.iter().flat_map(|l| l.outputs.iter().map(move |o| (o.as_str(), l))).collect();
    let mut by_node: BTreeMap<&str, Vec<&crate::plan::ConstantRange>> = BTreeMap::new();
    for c in &plan.constant_ranges {
        by_node.entry(c.node.as_str()).or_default().push(c);
    }
    let mut out: Vec<(String, f32)> = Vec::new();
    for (node, weights) in by_node {
        let node_outputs: Vec<String> = Vec::new();
        for mm in layers_of_node(node, &node_outputs, layers, &plan.onnx_nodes)
            .into_iter()
            .filter(|l| l.kind == "MATRIX_MULTIPLY")
        {
            for input in mm.inputs.iter().flatten() {
                // Walk back through reshapes/transposes to a Constant layer.
                let mut path = vec![input.clone()];
                let mut tensor = input.as_str();
                let constant = loop {
                    match producer.get(tensor) {
                        Some(l) if l.kind == "CONSTANT" => break Some(*l),
                        Some(l) if matches!(l.kind.as_str(), "SHUFFLE" | "IDENTITY") => {
                            match l.inputs.first() {
                                Some(Some(prev)) => {
                                    path.push(prev.clone());
                                    tensor = prev.as_str();
                                }
                                _ => break None,
                            }
                        }
                        _ => break None,
                    }
                };
                let Some(constant) = constant else { continue };
                let amax = weights
                    .iter()
                    .find(|w| w.weight == constant.name || constant.outputs.contains(&w.weight))
                    .map(|w| w.amax)
                    .unwrap_or_else(|| weights.iter().map(|w| w.amax).fold(0.0f32, f32::max));
                for t in path {
                    if !out.iter().any(|(name, _)| *name == t) {
                        out.push((t, amax));
                    }
                }
            }
        }
    }
    out
}

/// Splits network float tensors without a range into those worth a warning and those the plan
/// knows TensorRT fuses into a ranged tensor (inside a Conv/Gemm + BatchNorm/Relu/Add chain),
/// which need none.
pub fn split_fused(
    plan: &TrtPlan,
    unranged: impl IntoIterator<Item = String>,
) -> (Vec<String>, Vec<String>) {
    unranged
        .into_iter()
        .partition(|t| !plan.fused.get(t).is_some_and(|tail| plan.ranges.contains_key(tail)))
}

/// Configures a builder config from the plan's flags, profile and limits.
pub fn configure(plan: &TrtPlan, builder: &Builder, config: &mut BuilderConfig) -> Result<()> {
    let f = plan.flags;
    if !f.strongly_typed {
        config.set_flag(sys::CALIBR8_TRT_BUILDER_FLAG_INT8, f.int8)?;
        config.set_flag(sys::CALIBR8_TRT_BUILDER_FLAG_FP16, f.fp16)?;
        config.set_flag(
            sys::CALIBR8_TRT_BUILDER_FLAG_PREFER_PRECISION_CONSTRAINTS,
            f.prefer_precision_constraints,
        )?;
    }
    // Per-layer inspector JSON answers "why is int8 not faster".
    config.set_detailed_profiling()?;
    if let Some(bytes) = plan.options.workspace_bytes {
        config.set_workspace(bytes)?;
    }
    if let Some(level) = plan.options.optimization_level {
        config.set_optimization_level(level)?;
    }
    if !plan.profile.is_empty() {
        let shapes: Vec<_> = plan
            .profile
            .iter()
            .map(|p| (p.input.clone(), p.min.clone(), p.opt.clone(), p.max.clone()))
            .collect();
        builder.add_profile(config, &shapes)?;
    }
    Ok(())
}

/// Parses the plan's ONNX, applies the plan and builds the serialized engine (on the CUDA
/// context current to this thread: see [`crate::TensorRtBackend::build`]).
pub fn build(plan: &TrtPlan) -> Result<BuiltEngine> {
    let builder = Builder::new()?;
    let mut network = builder.network_from_onnx(&plan.onnx, plan.flags.strongly_typed)?;
    let report = apply(plan, &mut network)?;
    let mut config = builder.config()?;
    configure(plan, &builder, &mut config)?;
    let bytes = builder.build(&mut network, &config)?;
    Ok(BuiltEngine { plan: bytes, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ConstantRange, DynamicRange, RangeOrigin, TrtOptions};
    use calibr8_core::Lowering;

    fn layer(index: i32, name: &str, kind: &str, inputs: &[&str], outputs: &[&str]) -> LayerInfo {
        LayerInfo {
            index,
            name: name.into(),
            kind: kind.into(),
            inputs: inputs.iter().map(|i| Some(i.to_string())).collect(),
            outputs: outputs.iter().map(|o| o.to_string()).collect(),
        }
    }

    fn float_plan() -> TrtPlan {
        let model = OnnxModel::load("../../examples/digits/digits_cnn.onnx").expect("model");
        let options = TrtOptions { precision: Precision::Fp32, ..TrtOptions::default() };
        TrtPlan::new(Lowering::Float(&model), &options).expect("plan")
    }

    /// onnx-tensorrt names a node's first layer after the node and its extra layers
    /// `<node>_<n>`: a constraint must reach all of them, and nothing else.
    // See: https://github.com/calibr8/calibr8/issues/16 (point 6)
    #[test]
    fn issue_16_constraints_reach_a_nodes_extra_layers_only() {
        let nodes: std::collections::BTreeSet<String> =
            ["fc2", "fc2_3", "fc20"].map(String::from).into();
        let layers = [
            layer(0, "fc2", "MATRIX_MULTIPLY", &["x", "w"], &["mm"]),
            layer(1, "fc2_1", "ELEMENTWISE", &["mm", "b"], &["y"]),
            layer(2, "fc2_12", "SHUFFLE", &["y"], &["logits"]),
            layer(3, "fc20", "ACTIVATION", &["z"], &["z2"]),
            layer(4, "fc2_3", "ACTIVATION", &["q"], &["q2"]), // another ONNX node's own name
            layer(5, "fc2_x", "ACTIVATION", &["q"], &["q3"]),
            layer(6, "(Unnamed Layer* 6) [Shuffle]", "SHUFFLE", &["y"], &["out2"]),
        ];
        let matched: Vec<&str> = layers_of_node("fc2", &["out2".to_string()], &layers, &nodes)
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(matched, ["fc2", "fc2_1", "fc2_12", "(Unnamed Layer* 6) [Shuffle]"]);
    }

    /// `setOutputType` is ignored with an error on TopK indices and shape outputs: only float
    /// outputs are constrained, and a layer with none is left alone.
    // See: https://github.com/calibr8/calibr8/issues/16 (point 6)
    #[test]
    fn issue_16_output_types_only_on_float_outputs() {
        use sys::*;
        // TopK: values (fp32) and indices (int32).
        assert_eq!(float_outputs(&[CALIBR8_TRT_DATA_TYPE_FLOAT, CALIBR8_TRT_DATA_TYPE_INT32]), [0]);
        // A shape layer: int64 only.
        assert!(float_outputs(&[CALIBR8_TRT_DATA_TYPE_INT64]).is_empty());
        assert_eq!(
            float_outputs(&[
                CALIBR8_TRT_DATA_TYPE_BOOL,
                CALIBR8_TRT_DATA_TYPE_HALF,
                CALIBR8_TRT_DATA_TYPE_BF16
            ]),
            [1, 2]
        );
    }

    /// The weights of an int8 Gemm/MatMul reach the matrix multiply through a Constant layer
    /// (maybe through a transpose): that tensor, and every one on the way, gets `±max|W|`.
    // See: https://github.com/calibr8/calibr8/issues/16 (point 8)
    #[test]
    fn issue_16_constant_weights_of_matrix_multiplies_get_their_range() {
        let mut plan = float_plan();
        plan.onnx_nodes = ["fc1", "fc2"].map(String::from).into();
        plan.constant_ranges = vec![
            ConstantRange { node: "fc1".into(), weight: "fc1.weight".into(), amax: 0.5 },
            ConstantRange { node: "fc2".into(), weight: "fc2.weight".into(), amax: 0.25 },
        ];
        let layers = [
            layer(0, "fc1.weight", "CONSTANT", &[], &["(Unnamed Layer* 0) [Constant]_output"]),
            layer(
                1,
                "fc1",
                "MATRIX_MULTIPLY",
                &["x", "(Unnamed Layer* 0) [Constant]_output"],
                &["a"],
            ),
            layer(2, "c2", "CONSTANT", &[], &["w2"]),
            layer(3, "fc2_5", "SHUFFLE", &["w2"], &["w2t"]),
            layer(4, "fc2", "MATRIX_MULTIPLY", &["a", "w2t"], &["b"]),
            // A Constant feeding an elementwise layer (Gemm's bias) gets nothing.
            layer(5, "bias", "CONSTANT", &[], &["c"]),
            layer(6, "fc2_6", "ELEMENTWISE", &["b", "c"], &["logits"]),
        ];
        let ranges = constant_weight_ranges(&plan, &layers);
        assert_eq!(
            ranges,
            [
                ("(Unnamed Layer* 0) [Constant]_output".to_string(), 0.5),
                ("w2t".to_string(), 0.25),
                ("w2".to_string(), 0.25),
            ]
        );
        // A node not in int8 (no constant range planned) gets none.
        plan.constant_ranges.truncate(1);
        assert_eq!(constant_weight_ranges(&plan, &layers).len(), 1);
    }

    /// Tensors the plan knows TensorRT fuses into a ranged tensor are not warned about.
    // See: https://github.com/calibr8/calibr8/issues/16 (point 9)
    #[test]
    fn issue_16_fused_tensors_are_not_warned_about() {
        let mut plan = float_plan();
        plan.ranges.insert(
            "relu1_out".into(),
            DynamicRange { tensor: "relu1_out".into(), amax: 1.0, origin: RangeOrigin::Calibrated },
        );
        plan.fused.insert("conv1_out".into(), "relu1_out".into());
        // Fused into a tensor that has no range: still a warning.
        plan.fused.insert("fc1_out".into(), "relu3_out".into());
        let (warn, fused) = split_fused(&plan, ["conv1_out", "fc1_out", "other"].map(String::from));
        assert_eq!(warn, ["fc1_out", "other"]);
        assert_eq!(fused, ["conv1_out"]);
    }
}
