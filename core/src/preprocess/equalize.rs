//! Cross-layer equalization (`cross_layer_equalization: true`, `--equalize`; Nagel et al.,
//! "Data-Free Quantization Through Weight Equalization and Bias Correction", 2019, §4.1).
//!
//! For a pair Conv A → [Relu] → Conv B where A's output reaches only B, output channel `c` of A
//! is divided by `s_c` and input channel `c` of B multiplied by it, with `s_c = sqrt(r1_c / r2_c)`
//! (`r1_c`: max |W_A| of A's output channel, `r2_c`: max |W_B| over what B reads from channel `c`),
//! so both become `sqrt(r1_c · r2_c)`. ReLU commutes with a positive scale, so the float model
//! computes the same function; per-tensor weight scales then fit every channel better, which is
//! what depthwise-separable stacks (a depthwise Conv's channels differ by orders of magnitude)
//! need. Pairs through Clip (ReLU6), HardSwish or a gate are left alone: not scale-invariant.
//! Runs after BatchNorm folding, so the BN scale is part of the ranges.

use super::edit::{constant_initializers, put_initializer, use_counts};
use super::values::Value;
use crate::graph::attr_i;
use crate::pb;
use ndarray::{ArrayD, Axis};
use std::collections::{HashMap, HashSet};

/// Rounds over all pairs (a chain A → B → C shares B, so one pass does not settle it).
const ROUNDS: usize = 16;

/// One pair: the producer A, the consumer B, and whether B is depthwise.
struct Pair {
    a: usize,
    b: usize,
    b_depthwise: bool,
}

/// Equalizes every eligible pair of `graph`; returns how many pairs.
pub(crate) fn equalize(graph: &mut pb::GraphProto) -> usize {
    let pairs = find_pairs(graph);
    for _ in 0..ROUNDS {
        for p in &pairs {
            equalize_pair(graph, p);
        }
    }
    pairs.len()
}

fn is_conv(n: &pb::NodeProto) -> bool {
    n.op_type == "Conv" && (n.domain.is_empty() || n.domain == "ai.onnx")
}

fn find_pairs(graph: &pb::GraphProto) -> Vec<Pair> {
    let uses = use_counts(graph);
    let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let inits = constant_initializers(graph);
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(ix, n)| n.output.iter().map(move |o| (o.as_str(), ix)))
        .collect();
    // A tensor that only one node reads and that is not a model output.
    let private = |t: &str| uses.get(t) == Some(&1) && !outputs.contains(t);
    // Weights and biases written in place must belong to their node alone.
    let own_constant = |t: &str| inits.contains_key(t) && uses.get(t) == Some(&1);
    let dims = |t: &str| inits.get(t).map(|i| i.dims.clone()).unwrap_or_default();
    let mut pairs = vec![];
    for (b, node_b) in graph.node.iter().enumerate() {
        if !is_conv(node_b) || node_b.input.len() < 2 || !own_constant(&node_b.input[1]) {
            continue;
        }
        let mut x = node_b.input[0].as_str();
        let Some(&first) = producer.get(x) else { continue };
        let mut a = first;
        if graph.node[a].op_type == "Relu" && private(x) {
            x = graph.node[a].input[0].as_str();
            let Some(&p) = producer.get(x) else { continue };
            a = p;
        }
        let node_a = &graph.node[a];
        if !is_conv(node_a) || !private(x) || node_a.output.len() != 1 {
            continue;
        }
        if node_a.input.len() < 2 || !own_constant(&node_a.input[1]) {
            continue;
        }
        if let Some(bias) = node_a.input.get(2).filter(|b| !b.is_empty()) {
            if !own_constant(bias) {
                continue;
            }
        }
        let (wa, wb) = (dims(&node_a.input[1]), dims(&node_b.input[1]));
        if wa.len() < 2 || wb.len() < 2 {
            continue;
        }
        let group_b = attr_i(node_b, "group").unwrap_or(1);
        let b_depthwise = group_b > 1 && group_b == wb[0] && wb[1] == 1;
        let channels_match =
            if b_depthwise { wb[0] == wa[0] } else { group_b == 1 && wb[1] == wa[0] };
        if channels_match {
            pairs.push(Pair { a, b, b_depthwise });
        }
    }
    pairs
}

fn read(graph: &pb::GraphProto, name: &str) -> Option<ArrayD<f32>> {
    let t = graph.initializer.iter().find(|t| t.name == name)?;
    Value::from_proto(t)?.as_f32().cloned()
}

fn write(graph: &mut pb::GraphProto, name: &str, value: ArrayD<f32>) {
    put_initializer(graph, Value::F32(value).to_proto(name));
}

/// max |w| per slice along `axis`.
fn ranges(w: &ArrayD<f32>, axis: usize) -> Vec<f32> {
    w.axis_iter(Axis(axis)).map(|lane| lane.iter().fold(0.0f32, |m, v| m.max(v.abs()))).collect()
}

fn scale_along(w: &mut ArrayD<f32>, axis: usize, s: &[f32], divide: bool) {
    for (mut lane, &f) in w.axis_iter_mut(Axis(axis)).zip(s) {
        lane.mapv_inplace(|v| if divide { v / f } else { v * f });
    }
}

fn equalize_pair(graph: &mut pb::GraphProto, p: &Pair) {
    let (node_a, node_b) = (&graph.node[p.a], &graph.node[p.b]);
    let (wa_name, wb_name) = (node_a.input[1].clone(), node_b.input[1].clone());
    let bias_name = node_a.input.get(2).filter(|b| !b.is_empty()).cloned();
    let (Some(mut wa), Some(mut wb)) = (read(graph, &wa_name), read(graph, &wb_name)) else {
        return;
    };
    // B reads channel c through axis 0 when depthwise, axis 1 otherwise.
    let b_axis = if p.b_depthwise { 0 } else { 1 };
    let (r1, r2) = (ranges(&wa, 0), ranges(&wb, b_axis));
    if r1.len() != r2.len() {
        return;
    }
    let s: Vec<f32> = r1
        .iter()
        .zip(&r2)
        .map(|(&a, &b)| if a > 0.0 && b > 0.0 { (a / b).sqrt() } else { 1.0 })
        .collect();
    // A's bias scales with its output channel; one that cannot be read leaves the pair alone.
    let bias = match &bias_name {
        Some(name) => match read(graph, name) {
            Some(mut b) if b.len() == s.len() => {
                scale_along(&mut b, 0, &s, true);
                Some((name.clone(), b))
            }
            _ => return,
        },
        None => None,
    };
    scale_along(&mut wa, 0, &s, true);
    scale_along(&mut wb, b_axis, &s, false);
    if let Some((name, b)) = bias {
        write(graph, &name, b);
    }
    write(graph, &wa_name, wa);
    write(graph, &wb_name, wb);
}
