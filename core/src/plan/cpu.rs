//! The CPU preset's Q/DQ on outputs. ONNX Runtime replaces a `DQ → op → Q` unit with the op's
//! int8 kernel only when the op's output goes through a QuantizeLinear, so every quantized node
//! whose output an int8 kernel can compute gets one:
//! - its own calibrated range where the kernel computes new values (Conv, Gemm, Add, pooling
//!   averages); when the output's only reader is a Relu or Clip, the Q/DQ goes on the
//!   activation's output instead (zero point 0 for u8), which ONNX Runtime's ReluQuantFusion /
//!   ClipQuantFusion turn into "no activation at all";
//!   every reader of the tensor reads it through the pair (ONNX Runtime fuses only when the Q is
//!   the sole reader of the op's output);
//! - its input's parameters where it only moves or selects values (MaxPool, Reshape,
//!   Transpose...): ONNX Runtime then drops the pair and runs the op on the int8 tensor.
//!
//! Gemm and MatMul at a graph output keep it float: ONNX Runtime's kernels for them can write
//! float directly, and a last Q/DQ would only round the model's answer.

use super::{QuantPlan, SameParams, TensorRole, TensorTarget};
use crate::graph::{Graph, Node};
use crate::ops::{registry, CpuOutput};
use calibr8_calibration::{Granularity, QuantSpec};
use std::collections::BTreeMap;

/// Adds the output Q/DQ of every node in `int8_specs` (node name → its activation spec).
pub(super) fn place_outputs(
    plan: &mut QuantPlan,
    graph: &Graph,
    int8_specs: &BTreeMap<String, QuantSpec>,
) {
    // Graph order is topological, so a chain MaxPool → Reshape finds MaxPool's output placed.
    for node in &graph.nodes {
        let Some(&spec) = int8_specs.get(&node.name) else { continue };
        let Some(out) = node.outputs.first().filter(|o| !o.is_empty()) else { continue };
        match registry().get(&node.op_type).qdq().cpu_output {
            CpuOutput::Float => {}
            CpuOutput::OwnRange => {
                if graph.outputs.contains(out) && matches!(node.op_type.as_str(), "Gemm" | "MatMul")
                {
                    continue;
                }
                match fused_activation(graph, out) {
                    Some(act) => plan.add_output_for_all_readers(&act.outputs[0], spec, act),
                    None => plan.add_output_for_all_readers(out, spec, node),
                }
            }
            CpuOutput::InputRange => {
                let Some(source) = node.inputs.first().and_then(|i| plan.params_source(i)) else {
                    continue;
                };
                let source_spec = match plan.tensors.get(&source) {
                    Some(t) => t.spec,
                    None => continue,
                };
                if source_spec != spec {
                    plan.add_output_for_all_readers(out, spec, node);
                    continue;
                }
                // Every reader reads it through Q/DQ: the values are the input's, exact in its
                // parameters, so this rounds nothing.
                let mut target = plan.tensors.remove(out).unwrap_or_else(|| TensorTarget {
                    tensor: out.clone(),
                    role: TensorRole::Activation,
                    spec,
                    granularity: Granularity::PerTensor,
                    consumers: vec![],
                    producer: Some(node.name.clone()),
                });
                target.consumers.clear();
                plan.same_params.insert(out.clone(), SameParams { target, source });
            }
        }
    }
}

/// The Relu or Clip that is the only reader of `tensor`, if any.
fn fused_activation<'g>(graph: &'g Graph, tensor: &str) -> Option<&'g Node> {
    if graph.outputs.iter().any(|o| o == tensor) {
        return None;
    }
    let mut readers = graph.consumers(tensor);
    let only = readers.next()?;
    let fusable = matches!(only.op_type.as_str(), "Relu" | "Clip")
        && only.inputs.first().map(String::as_str) == Some(tensor)
        && only.outputs.first().is_some_and(|o| !o.is_empty());
    (fusable && readers.next().is_none()).then_some(only)
}
