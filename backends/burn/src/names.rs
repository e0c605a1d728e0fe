//! Module-path names for a traced graph.
//!
//! burn-onnx names initializers after parameter paths (`conv1.weight`) but nodes and activations
//! after capture positions (`node_7`, `tensor_1234`). Users think in module paths, so every node
//! and tensor is renamed after the module it belongs to:
//!
//! * a node that reads a module's parameters belongs to that module: the one reading `*.weight`
//!   (else the first) is named after the module path (`features.0.conv`), the others
//!   `{module}/{op}` (`fc1/add`); the module's last node writes `{module}/output`;
//! * a parameter-free op (Relu, MaxPool, Reshape, ...) is named after the module whose output
//!   it transforms: `conv1/relu`, then `conv1/max_pool`, each writing `{node}/output`;
//! * graph inputs become `input` (`input_{i}` for several), other constants
//!   `{consumer}/const_{slot}`.
//!
//! The same placement runs on burn's captured operations to name the module path in an
//! unsupported-op error, so the error and the names of a successful trace agree.

use calibr8_core::pb;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// Where a value comes from, as far as naming cares.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// A module parameter.
    Param {
        /// The module path (`conv1` for `conv1.weight`).
        module: String,
        /// Whether it is the module's `weight`, whose reader names the module.
        weight: bool,
    },
    /// A constant that is not a parameter.
    Const,
    /// A graph input.
    Input,
}

/// One node, seen abstractly: its op label (snake case) and its value keys.
pub(crate) struct NodeView<K> {
    pub op: String,
    pub inputs: Vec<K>,
    pub outputs: Vec<K>,
}

/// The computed names of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Placed {
    /// The node's name (`conv1`, `conv1/relu`, `fc1/add`).
    pub name: String,
    /// Names of its outputs, in order.
    pub outputs: Vec<String>,
}

#[derive(Clone, Debug)]
enum Flow {
    /// Derived from parameters and constants only (a reshaped bias): part of that module.
    Param(String),
    Const,
    /// An activation; the string is the anchor (module path, or `input`) naming later ops.
    Act(String),
}

/// The module path of a parameter path: `features.0.conv.weight` → `features.0.conv`; a
/// top-level parameter (`weight`) is its own path.
pub(crate) fn module_of(param_path: &str) -> String {
    match param_path.rsplit_once('.') {
        Some((module, _)) => module.to_string(),
        None => param_path.to_string(),
    }
}

/// The origin of the parameter at `path`.
pub(crate) fn param_origin(path: &str) -> Origin {
    Origin::Param { module: module_of(path), weight: path.rsplit('.').next() == Some("weight") }
}

/// `MaxPool` → `max_pool`, `Conv2d` → `conv2d`.
pub(crate) fn snake(op: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in op.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Names every node and node output of `nodes` (in topological order). `origin` says what
/// the values that no node produces are; unknown ones count as activations without an anchor.
pub(crate) fn place<K: Eq + Hash + Clone>(
    nodes: &[NodeView<K>],
    origin: impl Fn(&K) -> Option<Origin>,
) -> Vec<Placed> {
    // Pass 1: which module each node belongs to, or which anchor it follows.
    let mut flow: HashMap<K, Flow> = HashMap::new();
    let flow_of = |flow: &HashMap<K, Flow>, k: &K| -> Option<Flow> {
        flow.get(k).cloned().or_else(|| {
            origin(k).map(|o| match o {
                Origin::Param { module, .. } => Flow::Param(module),
                Origin::Const => Flow::Const,
                Origin::Input => Flow::Act("input".into()),
            })
        })
    };
    // (module, reads a `.weight`-like parameter directly) or anchor.
    let mut owner: Vec<(Option<String>, bool, Option<String>)> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let (mut module, mut anchor, mut weight, mut activation) = (None, None, false, false);
        for k in &node.inputs {
            match flow_of(&flow, k) {
                Some(Flow::Param(m)) => {
                    if !flow.contains_key(k) {
                        weight |= matches!(origin(k), Some(Origin::Param { weight: true, .. }));
                    }
                    module.get_or_insert(m);
                }
                Some(Flow::Const) => {}
                Some(Flow::Act(a)) => {
                    activation = true;
                    anchor.get_or_insert(a);
                }
                None => activation = true,
            }
        }
        let out_flow = match (&module, &anchor) {
            (Some(m), _) if !activation => Flow::Param(m.clone()),
            (Some(m), _) => Flow::Act(m.clone()),
            (None, Some(a)) => Flow::Act(a.clone()),
            (None, None) if activation => Flow::Act(String::new()),
            (None, None) => Flow::Const,
        };
        for k in &node.outputs {
            flow.insert(k.clone(), out_flow.clone());
        }
        owner.push((module, weight, anchor));
    }

    // Pass 2: the main node and the last node of every module.
    let mut main: HashMap<&str, usize> = HashMap::new();
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (ix, (module, weight, _)) in owner.iter().enumerate() {
        if let Some(m) = module {
            if *weight {
                main.entry(m).or_insert(ix);
            }
            last.insert(m, ix);
        }
    }
    for (ix, (module, _, _)) in owner.iter().enumerate() {
        if let Some(m) = module {
            main.entry(m).or_insert(ix);
        }
    }

    // Pass 3: names, unique across nodes and across tensors.
    let mut used_nodes = HashSet::new();
    let mut used_tensors: HashSet<String> = last.keys().map(|m| format!("{m}/output")).collect();
    let unique = |used: &mut HashSet<String>, base: String| -> String {
        let mut name = base.clone();
        let mut n = 1;
        while !used.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    };
    let mut placed = Vec::with_capacity(nodes.len());
    for (ix, (node, (module, _, anchor))) in nodes.iter().zip(&owner).enumerate() {
        let base = match (module, anchor) {
            (Some(m), _) if main.get(m.as_str()) == Some(&ix) => m.clone(),
            (Some(m), _) => format!("{m}/{}", node.op),
            (None, Some(a)) if !a.is_empty() => format!("{a}/{}", node.op),
            _ => node.op.clone(),
        };
        let name = unique(&mut used_nodes, base);
        let mut outputs = Vec::with_capacity(node.outputs.len());
        for k in 0..node.outputs.len() {
            let module_out = module.as_ref().filter(|m| last.get(m.as_str()) == Some(&ix));
            let out = match module_out {
                Some(m) if k == 0 => format!("{m}/output"),
                _ => {
                    // The main node's own name is the module path; its non-final output is
                    // `{module}/{op}/output` so it cannot collide with the module's output.
                    let stem = if module.as_deref() == Some(name.as_str()) {
                        format!("{name}/{}", node.op)
                    } else {
                        name.clone()
                    };
                    let suffix = if k == 0 { "output".into() } else { format!("output_{k}") };
                    unique(&mut used_tensors, format!("{stem}/{suffix}"))
                }
            };
            outputs.push(out);
        }
        placed.push(Placed { name, outputs });
    }
    placed
}

/// Renames the nodes and tensors of a burn-onnx graph after module paths (see the module docs).
/// `params` holds the module's parameter paths, which burn-onnx uses as initializer names.
/// Returns the renames applied to tensors, old name → new name.
pub(crate) fn rename_graph(
    graph: &mut pb::GraphProto,
    params: &HashSet<String>,
) -> HashMap<String, String> {
    let initializers: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    let runtime_inputs: Vec<String> =
        graph.input.iter().map(|i| i.name.clone()).filter(|n| !initializers.contains(n)).collect();
    let views: Vec<NodeView<String>> = graph
        .node
        .iter()
        .map(|n| NodeView {
            op: snake(&n.op_type),
            inputs: n.input.iter().filter(|i| !i.is_empty()).cloned().collect(),
            outputs: n.output.clone(),
        })
        .collect();
    let placed = place(&views, |k: &String| {
        if params.contains(k) {
            Some(param_origin(k))
        } else if initializers.contains(k) {
            Some(Origin::Const)
        } else if runtime_inputs.contains(k) {
            Some(Origin::Input)
        } else {
            None
        }
    });

    let mut renames: HashMap<String, String> = HashMap::new();
    for (ix, name) in runtime_inputs.iter().enumerate() {
        let new =
            if runtime_inputs.len() == 1 { "input".to_string() } else { format!("input_{ix}") };
        renames.insert(name.clone(), new);
    }
    for (node, p) in graph.node.iter().zip(&placed) {
        for (old, new) in node.output.iter().zip(&p.outputs) {
            renames.insert(old.clone(), new.clone());
        }
    }
    // Non-parameter constants: named after their first consumer and input slot.
    let mut taken: HashSet<String> = renames.values().cloned().collect();
    taken.extend(params.iter().cloned());
    for (node, p) in graph.node.iter().zip(&placed) {
        for (slot, input) in node.input.iter().enumerate() {
            if initializers.contains(input)
                && !params.contains(input)
                && !renames.contains_key(input)
            {
                let mut new = format!("{}/const_{slot}", p.name);
                while !taken.insert(new.clone()) {
                    new.push('_');
                }
                renames.insert(input.clone(), new);
            }
        }
    }

    let map = |name: &mut String| {
        if let Some(new) = renames.get(name.as_str()) {
            *name = new.clone();
        }
    };
    for (node, p) in graph.node.iter_mut().zip(&placed) {
        node.name = p.name.clone();
        node.input.iter_mut().for_each(map);
        node.output.iter_mut().for_each(map);
    }
    graph.initializer.iter_mut().for_each(|t| map(&mut t.name));
    graph.input.iter_mut().for_each(|v| map(&mut v.name));
    graph.output.iter_mut().for_each(|v| map(&mut v.name));
    graph.value_info.iter_mut().for_each(|v| map(&mut v.name));
    renames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeView<String> {
        NodeView {
            op: snake(op),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn linear_with_reshaped_bias_and_following_relu() {
        let nodes = [
            view("MatMul", &["x", "fc1.weight"], &["t1"]),
            view("Reshape", &["fc1.bias", "shape"], &["t2"]),
            view("Add", &["t1", "t2"], &["t3"]),
            view("Relu", &["t3"], &["t4"]),
            view("Relu", &["t4"], &["t5"]),
        ];
        let placed = place(&nodes, |k: &String| match k.as_str() {
            "fc1.weight" | "fc1.bias" => Some(param_origin(k)),
            "shape" => Some(Origin::Const),
            "x" => Some(Origin::Input),
            _ => None,
        });
        let names: Vec<_> = placed.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["fc1", "fc1/reshape", "fc1/add", "fc1/relu", "fc1/relu_1"]);
        let outs: Vec<_> = placed.iter().map(|p| p.outputs[0].as_str()).collect();
        assert_eq!(
            outs,
            [
                "fc1/mat_mul/output",
                "fc1/reshape/output",
                "fc1/output",
                "fc1/relu/output",
                "fc1/relu_1/output"
            ]
        );
    }

    #[test]
    fn module_paths_and_snake_case() {
        assert_eq!(module_of("features.0.conv.weight"), "features.0.conv");
        assert_eq!(module_of("weight"), "weight");
        assert_eq!(snake("MaxPool"), "max_pool");
        assert_eq!(snake("GlobalAveragePool"), "global_average_pool");
        assert_eq!(snake("Conv2d"), "conv2d");
    }
}
