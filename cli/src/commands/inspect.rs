//! `calibr8 inspect MODEL.onnx`: inputs, outputs, and what the default preset would quantize.

use crate::args::InspectArgs;
use crate::output::Output;
use calibr8::core::ops::{register_all_ops, InputRole};
use calibr8::core::Graph;
use calibr8::OnnxModel;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::ExitCode;

fn dims(d: &[Option<usize>]) -> String {
    let parts: Vec<String> =
        d.iter().map(|d| d.map(|v| v.to_string()).unwrap_or_else(|| "?".into())).collect();
    format!("[{}]", parts.join(", "))
}

/// `calibr8 inspect --format json` (schema in docs/cli-json.md).
#[derive(Serialize)]
struct InspectJson {
    model: String,
    opset: i64,
    nodes: usize,
    inputs: Vec<ValueJson>,
    outputs: Vec<ValueJson>,
    /// Nodes with weights (what TensorRT's preset quantizes), graph order.
    quantizable: Vec<QuantizableJson>,
    /// op_type → count, for the other nodes.
    other_nodes: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct ValueJson {
    name: String,
    /// `null` for a dynamic axis.
    dims: Vec<Option<usize>>,
}

#[derive(Serialize)]
struct QuantizableJson {
    node: String,
    op_type: String,
    activation_inputs: Vec<String>,
    weight: Option<String>,
    channel_axis: Option<usize>,
}

fn describe(model: &OnnxModel) -> InspectJson {
    let graph = Graph::new(model);
    let registry = register_all_ops();
    let value = |i: calibr8::core::ValueInfo| ValueJson { name: i.name, dims: i.dims };
    let mut quantizable = vec![];
    for (node, proto) in graph.nodes.iter().zip(&model.graph().node) {
        if !registry.has_weights(&node.op_type) {
            continue;
        }
        let roles = registry.input_roles(proto, &graph);
        let acts = node
            .inputs
            .iter()
            .zip(&roles)
            .filter(|(_, r)| **r == InputRole::Activation)
            .map(|(n, _)| n.clone())
            .collect();
        let weight = node.inputs.iter().zip(&roles).find_map(|(n, r)| match r {
            InputRole::Weight { channel_axis } => Some((n.clone(), *channel_axis)),
            _ => None,
        });
        quantizable.push(QuantizableJson {
            node: node.name.clone(),
            op_type: node.op_type.clone(),
            activation_inputs: acts,
            channel_axis: weight.as_ref().map(|w| w.1),
            weight: weight.map(|w| w.0),
        });
    }
    let mut other_nodes = BTreeMap::new();
    for n in graph.nodes.iter().filter(|n| !registry.has_weights(&n.op_type)) {
        *other_nodes.entry(n.op_type.clone()).or_default() += 1;
    }
    InspectJson {
        model: model.origin.clone(),
        opset: model.opset(),
        nodes: graph.nodes.len(),
        inputs: model.inputs().into_iter().map(value).collect(),
        outputs: model.outputs().into_iter().map(value).collect(),
        quantizable,
        other_nodes,
    }
}

fn text(d: &InspectJson) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "model: {} (opset {}, {} nodes)", d.model, d.opset, d.nodes);
    let _ = writeln!(s, "inputs:");
    for i in &d.inputs {
        let _ = writeln!(s, "  {} {}", i.name, dims(&i.dims));
    }
    let _ = writeln!(s, "outputs:");
    for o in &d.outputs {
        let _ = writeln!(s, "  {} {}", o.name, dims(&o.dims));
    }
    let _ = writeln!(s, "quantizable nodes (TensorRT preset: Conv, ConvTranspose, Gemm, MatMul):");
    let _ = writeln!(
        s,
        "  {:<24} {:<14} {:<28} weight (channel axis)",
        "node", "op_type", "activation inputs"
    );
    for q in &d.quantizable {
        let weight = match (&q.weight, q.channel_axis) {
            (Some(w), Some(axis)) => format!("{w} ({axis})"),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "  {:<24} {:<14} {:<28} {}",
            q.node,
            q.op_type,
            q.activation_inputs.join(", "),
            weight
        );
    }
    let _ = writeln!(s, "other nodes:");
    for (op, count) in &d.other_nodes {
        let _ = writeln!(s, "  {op} ×{count}");
    }
    s
}

pub fn run(args: InspectArgs, out: Output) -> anyhow::Result<ExitCode> {
    let model = OnnxModel::load(&args.model)?;
    let description = describe(&model);
    out.result(|| text(&description), &description)?;
    Ok(ExitCode::SUCCESS)
}
