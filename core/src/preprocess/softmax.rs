//! Softmax, LogSoftmax and Hardmax changed meaning at opset 13: before, `axis` says where the
//! input is flattened to 2-D and the op runs over everything after it; from 13 on, it runs
//! along that one axis. The two agree only for the last axis. Per-channel Q/DQ needs opset 13,
//! so these nodes are rewritten the way `onnx.version_converter` does, exact in every opset:
//! `Shape(x)`, `Flatten(x, axis)`, the op along the last axis of the 2-D tensor, `Reshape` back.

use super::edit::{all_names, fresh_name, int_attr};
use crate::graph::attr_i;
use crate::pb;

const OPS: [&str; 3] = ["Softmax", "LogSoftmax", "Hardmax"];

/// Rewrites the opset < 13 Softmax-family nodes of `graph` whose axis is not -1; returns how
/// many. Does nothing at opset 13 and later, or where the rewrite would need a negative
/// Flatten axis before opset 11.
pub(crate) fn rewrite_legacy_softmax(graph: &mut pb::GraphProto, opset: i64) -> usize {
    if opset >= 13 || opset == 0 {
        return 0;
    }
    let mut taken = all_names(graph);
    let mut rewritten = 0;
    let mut nodes = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        let legacy = OPS.contains(&node.op_type.as_str())
            && (node.domain.is_empty() || node.domain == "ai.onnx")
            && node.input.len() == 1
            && node.output.len() == 1;
        // Opsets before 13 default to axis 1.
        let axis = attr_i(&node, "axis").unwrap_or(1);
        if !legacy || axis == -1 || (axis < 0 && opset < 11) {
            nodes.push(node);
            continue;
        }
        let x = node.input[0].clone();
        let base = node.name.clone();
        let shape = fresh_name(&mut taken, &format!("{base}.input_shape"));
        let flat = fresh_name(&mut taken, &format!("{base}.flat"));
        let flat_out = fresh_name(&mut taken, &format!("{base}.flat_out"));
        let make = |op: &str, name: String, inputs: Vec<String>, outputs: Vec<String>| {
            pb::NodeProto {
                op_type: op.to_string(),
                name,
                input: inputs,
                output: outputs,
                ..Default::default()
            }
        };
        let shape_node = make("Shape", shape.clone(), vec![x.clone()], vec![shape.clone()]);
        let mut flatten = make("Flatten", flat.clone(), vec![x], vec![flat.clone()]);
        flatten.attribute.push(int_attr("axis", axis));
        let mut op = node.clone();
        op.input = vec![flat];
        op.output = vec![flat_out.clone()];
        op.attribute.retain(|a| a.name != "axis");
        op.attribute.push(int_attr("axis", -1));
        let reshape = make(
            "Reshape",
            format!("{base}.reshape"),
            vec![flat_out, shape],
            node.output.clone(),
        );
        nodes.extend([shape_node, flatten, op, reshape]);
        rewritten += 1;
    }
    graph.node = nodes;
    rewritten
}
