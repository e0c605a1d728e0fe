//! `calibr8 inspect MODEL.onnx`: inputs, outputs, and what the default preset would quantize.

use crate::args::InspectArgs;
use calibr8::core::ops::{register_all_ops, InputRole};
use calibr8::core::Graph;
use calibr8::OnnxModel;
use std::io::Write;
use std::process::ExitCode;

fn dims(d: &[Option<usize>]) -> String {
    let parts: Vec<String> =
        d.iter().map(|d| d.map(|v| v.to_string()).unwrap_or_else(|| "?".into())).collect();
    format!("[{}]", parts.join(", "))
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let model = OnnxModel::load(&args.model)?;
    let graph = Graph::new(&model);
    let registry = register_all_ops();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "model: {} (opset {}, {} nodes)",
        model.origin,
        model.opset(),
        graph.nodes.len()
    )?;
    writeln!(out, "inputs:")?;
    for i in model.inputs() {
        writeln!(out, "  {} {}", i.name, dims(&i.dims))?;
    }
    writeln!(out, "outputs:")?;
    for o in model.outputs() {
        writeln!(out, "  {} {}", o.name, dims(&o.dims))?;
    }
    writeln!(out, "quantizable nodes (TensorRT preset: Conv, ConvTranspose, Gemm, MatMul):")?;
    writeln!(
        out,
        "  {:<24} {:<14} {:<28} weight (channel axis)",
        "node", "op_type", "activation inputs"
    )?;
    for (node, proto) in graph.nodes.iter().zip(&model.graph().node) {
        if !registry.has_weights(&node.op_type) {
            continue;
        }
        let roles = registry.input_roles(proto, &graph);
        let acts: Vec<&str> = node
            .inputs
            .iter()
            .zip(&roles)
            .filter(|(_, r)| **r == InputRole::Activation)
            .map(|(n, _)| n.as_str())
            .collect();
        let weight = node
            .inputs
            .iter()
            .zip(&roles)
            .find_map(|(n, r)| match r {
                InputRole::Weight { channel_axis } => Some(format!("{n} ({channel_axis})")),
                _ => None,
            })
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "  {:<24} {:<14} {:<28} {}",
            node.name,
            node.op_type,
            acts.join(", "),
            weight
        )?;
    }
    writeln!(out, "other nodes:")?;
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for n in graph.nodes.iter().filter(|n| !registry.has_weights(&n.op_type)) {
        *counts.entry(&n.op_type).or_default() += 1;
    }
    for (op, count) in counts {
        writeln!(out, "  {op} ×{count}")?;
    }
    Ok(ExitCode::SUCCESS)
}
