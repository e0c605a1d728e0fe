//! Drops `Identity` nodes (PP-OCRv6 exports carry 135–147 of them): readers of the output read
//! the input instead. An Identity that connects a graph input or initializer straight to a
//! graph output is kept, since ONNX needs a node there.

use super::edit::{producer_index, rename_uses};
use std::collections::HashSet;
use crate::pb;

/// Removes the Identity nodes of `graph`; returns how many.
pub(crate) fn drop_identities(graph: &mut pb::GraphProto) -> usize {
    let mut removed = 0;
    let mut ix = 0;
    while ix < graph.node.len() {
        let node = &graph.node[ix];
        let is_identity = node.op_type == "Identity"
            && (node.domain.is_empty() || node.domain == "ai.onnx")
            && node.input.len() == 1
            && node.output.len() == 1;
        if !is_identity {
            ix += 1;
            continue;
        }
        let (input, output) = (node.input[0].clone(), node.output[0].clone());
        let graph_outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
        if !graph_outputs.contains(output.as_str()) {
            graph.node.remove(ix);
            rename_uses(graph, &output, &input);
            graph.value_info.retain(|v| v.name != output);
            removed += 1;
            continue;
        }
        // The output is a graph output: its name must survive, so the producer of the input
        // writes it directly, if there is one and the input is not itself a graph output.
        match producer_index(graph, &input) {
            Some(p) if !graph_outputs.contains(input.as_str()) => {
                graph.node.remove(ix);
                for o in graph.node[if p > ix { p - 1 } else { p }].output.iter_mut() {
                    if *o == input {
                        *o = output.clone();
                    }
                }
                rename_uses(graph, &input, &output);
                graph.value_info.retain(|v| v.name != input);
                removed += 1;
            }
            _ => ix += 1,
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, i: &[&str], o: &[&str]) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.into(),
            name: format!("{op}_{}", o[0]),
            input: i.iter().map(|s| s.to_string()).collect(),
            output: o.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn output(name: &str) -> pb::ValueInfoProto {
        pb::ValueInfoProto { name: name.into(), ..Default::default() }
    }

    #[test]
    fn inner_and_output_identities() {
        let mut g = pb::GraphProto {
            node: vec![
                node("Identity", &["x"], &["x1"]),
                node("Relu", &["x1"], &["r"]),
                node("Identity", &["r"], &["r1"]),
                node("Neg", &["r1"], &["n"]),
                node("Identity", &["n"], &["y"]),
                node("Identity", &["x"], &["x_out"]),
            ],
            output: vec![output("y"), output("x_out"), output("r1")],
            ..Default::default()
        };
        // x1 (inner) goes; r1 is an output, so Relu writes r1; y is an output, so Neg writes y;
        // x_out copies a graph input to an output and stays.
        assert_eq!(drop_identities(&mut g), 3);
        let ops: Vec<(&str, Vec<String>, Vec<String>)> =
            g.node.iter().map(|n| (n.op_type.as_str(), n.input.clone(), n.output.clone())).collect();
        assert_eq!(
            ops,
            vec![
                ("Relu", vec!["x".into()], vec!["r1".into()]),
                ("Neg", vec!["r1".into()], vec!["y".into()]),
                ("Identity", vec!["x".into()], vec!["x_out".into()]),
            ]
        );
    }
}
