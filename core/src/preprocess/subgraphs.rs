//! Nodes inside `If` / `Loop` / `Scan` bodies. calibr8 calibrates the main graph; what sits in a
//! body stays float, and it must say so rather than "calibrate 0 tensors" in silence.

use super::edit::subgraphs;
use crate::internal::*;
use serde::Serialize;
use crate::pb;

/// A node in a subgraph, left in float.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubgraphNode {
    /// The main-graph node holding the subgraph (`If`, `Loop`, `Scan`), outermost first when
    /// nested (`outer/inner`).
    pub parent: String,
    /// The parent's op type.
    pub parent_op: String,
    /// The node's name.
    pub node: String,
    /// Its op type.
    pub op_type: String,
}

/// Every node of every subgraph of `model`, in file order.
pub fn subgraph_nodes(model: &OnnxModel) -> Vec<SubgraphNode> {
    let mut out = vec![];
    collect(model.graph(), "", &mut out);
    out
}

fn collect(graph: &pb::GraphProto, prefix: &str, out: &mut Vec<SubgraphNode>) {
    for node in &graph.node {
        let parent = if prefix.is_empty() { node.name.clone() } else {
            format!("{prefix}/{}", node.name)
        };
        for sub in subgraphs(node) {
            for inner in &sub.node {
                out.push(SubgraphNode {
                    parent: parent.clone(),
                    parent_op: node.op_type.clone(),
                    node: inner.name.clone(),
                    op_type: inner.op_type.clone(),
                });
            }
            collect(sub, &parent, out);
        }
    }
}

/// One line for a warning: the parents and the op types left in float, e.g.
/// `2 node(s) inside If 'choose' stay float: a_conv (Conv), b_conv (Conv)`. `None` if there are
/// none. Lists at most `limit` nodes by name.
pub fn describe_float_subgraphs(nodes: &[SubgraphNode], limit: usize) -> Option<String> {
    if nodes.is_empty() {
        return None;
    }
    let mut parents: Vec<String> =
        nodes.iter().map(|n| format!("{} '{}'", n.parent_op, n.parent)).collect();
    let mut seen = std::collections::HashSet::new();
    parents.retain(|p| seen.insert(p.clone()));
    let listed: Vec<String> =
        nodes.iter().take(limit).map(|n| format!("{} ({})", n.node, n.op_type)).collect();
    let more = nodes.len().saturating_sub(limit);
    Some(format!(
        "{} node(s) inside {} are not calibrated and stay float: {}{}. calibr8 quantizes the \
         main graph only; export the model with the branch taken (or the loop unrolled) to \
         quantize them",
        nodes.len(),
        parents.join(", "),
        listed.join(", "),
        if more > 0 { format!(" and {more} more") } else { String::new() }
    ))
}
