//! BatchNormalization folded into the Conv / ConvTranspose / Gemm before it, as TensorRT and
//! ONNX Runtime do when they build the deployed engine. Weights must be quantized after the
//! fold: per channel it makes no difference, per tensor it does (the BN scale differs per
//! channel), and calibr8 should simulate the model the runtime runs.
//!
//! With `s = gamma / sqrt(var + eps)` per output channel: `W' = W * s` along the output-channel
//! axis, `b' = (b - mean) * s + beta`.

use super::edit::{
    all_names, attr_f, constant_initializers, float_attr, fresh_name, producer_index,
    put_initializer, use_counts, writable_name,
};
use super::values::Value;
use crate::graph::attr_i;
use crate::pb;
use ndarray::{ArrayD, Axis, IxDyn};
use std::collections::{HashMap, HashSet};

/// Folds every foldable BatchNormalization of `graph`; returns how many.
pub(crate) fn fold_batchnorms(graph: &mut pb::GraphProto) -> usize {
    let mut folded = 0;
    let mut taken = all_names(graph);
    let mut ix = 0;
    while ix < graph.node.len() {
        match try_fold(graph, ix, &mut taken) {
            Some(()) => folded += 1,
            None => ix += 1,
        }
    }
    folded
}

/// What the fold needs from the BatchNormalization node.
struct Bn {
    scale: Vec<f32>,
    shift: Vec<f32>,
    mean: Vec<f32>,
}

/// Folds the BatchNormalization at `bn_ix` into its producer, removing it. `None` (nothing
/// changed) when the pattern does not apply.
fn try_fold(graph: &mut pb::GraphProto, bn_ix: usize, taken: &mut HashSet<String>) -> Option<()> {
    let bn = &graph.node[bn_ix];
    let is_bn = bn.op_type == "BatchNormalization"
        && (bn.domain.is_empty() || bn.domain == "ai.onnx")
        && bn.input.len() == 5
        && bn.output.iter().filter(|o| !o.is_empty()).count() == 1
        && attr_i(bn, "training_mode").unwrap_or(0) == 0
        && attr_i(bn, "spatial").unwrap_or(1) == 1;
    if !is_bn {
        return None;
    }
    let inits: HashMap<&str, &pb::TensorProto> = constant_initializers(graph);
    let read = |name: &str| inits.get(name).and_then(|t| Value::from_proto(t));
    let vec_of = |name: &str| -> Option<Vec<f32>> {
        let v = read(name)?;
        let a = v.as_f32()?;
        (a.ndim() == 1).then(|| a.iter().copied().collect())
    };
    let [gamma, beta, mean, var] = [1, 2, 3, 4].map(|i| vec_of(&bn.input[i]));
    let (gamma, beta, mean, var) = (gamma?, beta?, mean?, var?);
    let channels = gamma.len();
    if [beta.len(), mean.len(), var.len()].iter().any(|&l| l != channels) {
        return None;
    }
    let eps = attr_f(bn, "epsilon").unwrap_or(1e-5);
    let scale: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + eps).sqrt()).collect();
    let stats = Bn { scale, shift: beta, mean };

    // The producer must feed only this BN and not be a graph output.
    let x = bn.input[0].clone();
    let y = bn.output.iter().find(|o| !o.is_empty())?.clone();
    let uses = use_counts(graph);
    if uses.get(&x) != Some(&1) {
        return None;
    }
    let p_ix = producer_index(graph, &x)?;
    let producer = &graph.node[p_ix];
    if producer.output.len() != 1 || !(producer.domain.is_empty() || producer.domain == "ai.onnx") {
        return None;
    }
    let weight_name = producer.input.get(1)?.clone();
    let weight = read(&weight_name)?.as_f32()?.clone();
    let bias_name = producer.input.get(2).filter(|b| !b.is_empty()).cloned();
    let bias: Option<ArrayD<f32>> = match &bias_name {
        Some(b) => Some(read(b)?.as_f32()?.clone()),
        None => None,
    };
    let (new_weight, new_bias, gemm_beta_reset) = match producer.op_type.as_str() {
        "Conv" => {
            let w = scale_axis(&weight, 0, &stats.scale)?;
            (w, fold_bias(bias.as_ref(), 1.0, &stats)?, false)
        }
        "ConvTranspose" => {
            let group = usize::try_from(attr_i(producer, "group").unwrap_or(1)).ok()?;
            let w = scale_conv_transpose(&weight, group, &stats.scale)?;
            (w, fold_bias(bias.as_ref(), 1.0, &stats)?, false)
        }
        "Gemm" => {
            let axis = if attr_i(producer, "transB").unwrap_or(0) == 1 { 0 } else { 1 };
            let w = scale_axis(&weight, axis, &stats.scale)?;
            let beta = attr_f(producer, "beta").unwrap_or(1.0);
            (w, fold_bias(bias.as_ref(), beta, &stats)?, true)
        }
        _ => return None,
    };

    // Write the folded constants: in place when this node is the only reader of an
    // initializer, under a fresh name otherwise (a shared weight keeps its other readers).
    let weight_target = writable_name(&uses, &weight_name, taken, "bn_folded");
    let bias_target = match &bias_name {
        Some(b) => writable_name(&uses, b, taken, "bn_folded"),
        None => fresh_name(taken, &format!("{}.bias", graph.node[p_ix].name)),
    };
    put_initializer(graph, Value::F32(new_weight).to_proto(&weight_target));
    put_initializer(graph, Value::F32(new_bias).to_proto(&bias_target));

    let producer = &mut graph.node[p_ix];
    producer.input[1] = weight_target;
    if producer.input.len() < 3 {
        producer.input.resize(3, String::new());
    }
    producer.input[2] = bias_target;
    if gemm_beta_reset {
        producer.attribute.retain(|a| a.name != "beta");
        producer.attribute.push(float_attr("beta", 1.0));
    }
    producer.output[0] = y;
    graph.node.remove(bn_ix);
    graph.value_info.retain(|v| v.name != x);
    Some(())
}

/// Multiplies `w` by `scale[c]` along `axis` (its length must be `scale.len()`).
fn scale_axis(w: &ArrayD<f32>, axis: usize, scale: &[f32]) -> Option<ArrayD<f32>> {
    if w.ndim() <= axis || w.shape()[axis] != scale.len() {
        return None;
    }
    let mut w = w.clone();
    for (mut lane, &s) in w.axis_iter_mut(Axis(axis)).zip(scale) {
        lane.mapv_inplace(|v| v * s);
    }
    Some(w)
}

/// ConvTranspose weights are `[C_in, C_out / group, k...]`: input channel `c` of group
/// `c / (C_in / group)` writes output channel `group_ix * (C_out / group) + j`.
fn scale_conv_transpose(w: &ArrayD<f32>, group: usize, scale: &[f32]) -> Option<ArrayD<f32>> {
    if w.ndim() < 2 || group == 0 || w.shape()[0] % group != 0 {
        return None;
    }
    let (c_in, per_group_out) = (w.shape()[0], w.shape()[1]);
    if per_group_out * group != scale.len() {
        return None;
    }
    let in_per_group = c_in / group;
    let mut w = w.clone();
    for (c, mut lane) in w.axis_iter_mut(Axis(0)).enumerate() {
        let g = c / in_per_group;
        for (j, mut inner) in lane.axis_iter_mut(Axis(0)).enumerate() {
            let s = scale[g * per_group_out + j];
            inner.mapv_inplace(|v| v * s);
        }
    }
    Some(w)
}

/// `(beta * b - mean) * scale + shift`, with `b` broadcast to one value per channel (absent:
/// zero). `None` for a bias that is not per channel (Gemm's `C` of shape `[N, M]`).
fn fold_bias(bias: Option<&ArrayD<f32>>, beta: f32, bn: &Bn) -> Option<ArrayD<f32>> {
    let channels = bn.scale.len();
    let b: Vec<f32> = match bias {
        None => vec![0.0; channels],
        Some(b) => {
            let per_channel = b.len() == channels
                && b.shape().iter().rev().skip(1).all(|&d| d == 1)
                && b.shape().last() == Some(&channels);
            if per_channel {
                b.iter().copied().collect()
            } else if b.len() == 1 {
                vec![b.iter().copied().next()?; channels]
            } else {
                return None;
            }
        }
    };
    let folded: Vec<f32> =
        (0..channels).map(|c| (beta * b[c] - bn.mean[c]) * bn.scale[c] + bn.shift[c]).collect();
    ArrayD::from_shape_vec(IxDyn(&[channels]), folded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_transpose_groups_map_to_output_channels() {
        // 4 input channels, 2 groups, 3 outputs per group: 6 output channels.
        let w = ArrayD::from_elem(IxDyn(&[4, 3, 1, 1]), 1.0f32);
        let scale: Vec<f32> = (1..=6).map(|v| v as f32).collect();
        let out = scale_conv_transpose(&w, 2, &scale).unwrap();
        let got: Vec<f32> = out.iter().copied().collect();
        assert_eq!(got, vec![1., 2., 3., 1., 2., 3., 4., 5., 6., 4., 5., 6.]);
    }

    #[test]
    fn bias_forms() {
        let bn = Bn { scale: vec![2.0, 3.0], shift: vec![1.0, -1.0], mean: vec![0.5, 0.0] };
        let none = fold_bias(None, 1.0, &bn).unwrap();
        assert_eq!(none.as_slice().unwrap(), &[0.0, -1.0]);
        let row = ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![1.0, 2.0]).unwrap();
        assert_eq!(fold_bias(Some(&row), 0.5, &bn).unwrap().as_slice().unwrap(), &[1.0, 2.0]);
        let full = ArrayD::from_elem(IxDyn(&[3, 2]), 1.0f32);
        assert_eq!(fold_bias(Some(&full), 1.0, &bn), None);
    }
}
