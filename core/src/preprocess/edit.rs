//! Graph edits the passes share: who uses a tensor (subgraphs included, since `If` / `Loop` /
//! `Scan` bodies read outer tensors by name), renaming uses, fresh names, dead-node removal.

use crate::pb;
use std::collections::{HashMap, HashSet};

/// Calls `f` on every node of `graph`'s subgraphs (attributes `g` / `graphs`), recursively.
pub(crate) fn for_each_subgraph_node(graph: &pb::GraphProto, f: &mut dyn FnMut(&pb::NodeProto)) {
    for node in &graph.node {
        for sub in subgraphs(node) {
            for inner in &sub.node {
                f(inner);
            }
            for_each_subgraph_node(sub, f);
        }
    }
}

/// The graphs a node carries as attributes.
pub(crate) fn subgraphs(node: &pb::NodeProto) -> impl Iterator<Item = &pb::GraphProto> {
    node.attribute.iter().flat_map(|a| a.g.iter().chain(a.graphs.iter()))
}

/// How often each tensor is read: node inputs of the graph and of every subgraph (a subgraph
/// reads outer tensors by name), plus one per graph output.
pub(crate) fn use_counts(graph: &pb::GraphProto) -> HashMap<String, usize> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut count = |n: &pb::NodeProto| {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *counts.entry(i.clone()).or_default() += 1;
        }
    };
    for n in &graph.node {
        count(n);
    }
    for_each_subgraph_node(graph, &mut count);
    for o in &graph.output {
        *counts.entry(o.name.clone()).or_default() += 1;
    }
    counts
}

/// Replaces every read of `from` by `to`, in the graph and its subgraphs.
pub(crate) fn rename_uses(graph: &mut pb::GraphProto, from: &str, to: &str) {
    for node in graph.node.iter_mut() {
        for i in node.input.iter_mut().filter(|i| *i == from) {
            *i = to.to_string();
        }
        for attr in node.attribute.iter_mut() {
            for sub in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
                rename_uses(sub, from, to);
            }
        }
    }
}

/// Every tensor name the graph defines or reads (for fresh names).
pub(crate) fn all_names(graph: &pb::GraphProto) -> HashSet<String> {
    let mut names: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    names.extend(graph.input.iter().map(|v| v.name.clone()));
    names.extend(graph.output.iter().map(|v| v.name.clone()));
    names.extend(graph.value_info.iter().map(|v| v.name.clone()));
    for n in &graph.node {
        names.extend(n.input.iter().cloned());
        names.extend(n.output.iter().cloned());
        names.insert(n.name.clone());
    }
    let mut inner = |n: &pb::NodeProto| {
        names.extend(n.input.iter().cloned());
        names.extend(n.output.iter().cloned());
    };
    for_each_subgraph_node(graph, &mut inner);
    names
}

/// `base`, or `base_2`, `base_3`... whichever `taken` does not hold; the result is added.
pub(crate) fn fresh_name(taken: &mut HashSet<String>, base: &str) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    taken.insert(name.clone());
    name
}

/// Removes nodes none of whose outputs are read (ONNX nodes have no side effects), then
/// initializers nobody reads and annotations of tensors that no longer exist. Returns the
/// number of nodes removed.
pub(crate) fn remove_dead(graph: &mut pb::GraphProto) -> usize {
    let before = graph.node.len();
    loop {
        let uses = use_counts(graph);
        let len = graph.node.len();
        graph.node.retain(|n| n.output.iter().any(|o| !o.is_empty() && uses.contains_key(o)));
        if graph.node.len() == len {
            break;
        }
    }
    let uses = use_counts(graph);
    let inputs: HashSet<String> = graph.input.iter().map(|v| v.name.clone()).collect();
    graph.initializer.retain(|t| uses.contains_key(&t.name) || inputs.contains(&t.name));
    let mut defined: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    defined.extend(inputs);
    for n in &graph.node {
        defined.extend(n.output.iter().cloned());
    }
    graph.value_info.retain(|v| defined.contains(&v.name));
    before - graph.node.len()
}

/// The position of the node producing `tensor`.
pub(crate) fn producer_index(graph: &pb::GraphProto, tensor: &str) -> Option<usize> {
    graph.node.iter().position(|n| n.output.iter().any(|o| o == tensor))
}

/// An attribute of type INT.
pub(crate) fn int_attr(name: &str, value: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        i: value,
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        ..Default::default()
    }
}

/// An attribute of type FLOAT.
pub(crate) fn float_attr(name: &str, value: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        f: value,
        r#type: pb::attribute_proto::AttributeType::Float as i32,
        ..Default::default()
    }
}

/// A float attribute's value.
pub(crate) fn attr_f(node: &pb::NodeProto, name: &str) -> Option<f32> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.f)
}

/// An int-list attribute's value.
pub(crate) fn attr_ints<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a [i64]> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.ints.as_slice())
}

/// Initializers that are constants (not overridable graph inputs).
pub(crate) fn constant_initializers(graph: &pb::GraphProto) -> HashMap<&str, &pb::TensorProto> {
    let inputs: HashSet<&str> = graph.input.iter().map(|v| v.name.as_str()).collect();
    graph
        .initializer
        .iter()
        .filter(|t| !inputs.contains(t.name.as_str()))
        .map(|t| (t.name.as_str(), t))
        .collect()
}

/// `name` itself when only one node reads it, else a fresh `{name}.{suffix}`.
pub(crate) fn writable_name(
    uses: &HashMap<String, usize>,
    name: &str,
    taken: &mut HashSet<String>,
    suffix: &str,
) -> String {
    if uses.get(name) == Some(&1) {
        name.to_string()
    } else {
        fresh_name(taken, &format!("{name}.{suffix}"))
    }
}

/// Writes `tensor` over the initializer of its name, or adds it.
pub(crate) fn put_initializer(graph: &mut pb::GraphProto, tensor: pb::TensorProto) {
    match graph.initializer.iter_mut().find(|t| t.name == tensor.name) {
        Some(t) => *t = tensor,
        None => graph.initializer.push(tensor),
    }
}
