//! Bias correction (`bias_correction: true`, `--bias-correction`): rounding a weight to int8
//! moves the mean of every output channel of its Conv / Gemm by `ΔW · E[x]`, with
//! `ΔW = Q(W) − W` and `E[x]` the mean of each input channel. Nagel et al. ("Data-Free
//! Quantization Through Weight Equalization and Bias Correction", 2019, §4.2) estimate `E[x]`
//! from the data ("empirical bias correction"); calibr8 measures it in one float pass over the
//! calibration data and subtracts the shift from the bias (adding a bias where the node has
//! none), so the quantized layer's mean output matches the float one.
//!
//! The shift is exact for a Gemm and for a Conv away from its zero padding (the border sees
//! zeros, not `E[x]`). It changes the exported models (QDQ, QOperator) and engines built from
//! them; the TensorRT calibration cache and the NNI configs hold ranges only, so a runtime that
//! builds from the original ONNX file does not get it.

use crate::backend::{Backend, EngineOptions, Lowering};
use crate::data::{bind, CalibrationData};
use crate::graph::attr_i;
use crate::internal::*;
use crate::parallel::{engines_for, run_in_order};
use crate::pb;
use crate::plan::TensorRole;
use crate::preprocess::edit::{all_names, fresh_name, put_initializer, use_counts, writable_name};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// One corrected bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BiasCorrection {
    /// The Conv / Gemm node.
    pub node: String,
    /// The bias initializer written (new when the node had no bias or shared it).
    pub bias: String,
    /// Largest |shift| subtracted, over the output channels.
    pub max_abs_shift: f32,
}

/// A weighted node whose bias can be corrected.
struct Target {
    node: String,
    input: String,
    weight: String,
    /// `Conv`: the `group` attribute; `Gemm`: `None`.
    conv_groups: Option<usize>,
}

/// Per-channel means of the inputs of the nodes `bias_correction` corrects, measured once and
/// applied to any number of quantized models of the same plan (`compare` ranks several).
#[derive(Clone, Debug, Default)]
pub struct InputMeans {
    means: BTreeMap<String, Vec<f64>>,
}

impl InputMeans {
    /// Runs `model` in float over `data` (`jobs` batches at once) and averages every input
    /// channel of the Conv / Gemm nodes whose weights `q` quantizes.
    pub fn measure(
        backend: &dyn Backend,
        model: &OnnxModel,
        q: &QuantizedModel,
        data: &dyn CalibrationData,
        jobs: usize,
    ) -> Result<InputMeans> {
        let targets = targets(q);
        if targets.is_empty() {
            return Ok(InputMeans::default());
        }
        let graph_inputs = model.inputs();
        let mut capture: Vec<String> = targets
            .iter()
            .map(|t| t.input.clone())
            .filter(|i| !graph_inputs.iter().any(|g| &g.name == i))
            .collect();
        capture.sort();
        capture.dedup();
        let options = EngineOptions { capture, ..EngineOptions::default() };
        let first = backend.prepare(Lowering::Float(model), &options)?;
        let mut engines =
            engines_for(first, jobs, &mut || backend.prepare(Lowering::Float(model), &options))?;
        let wanted: HashSet<&str> = targets.iter().map(|t| t.input.as_str()).collect();
        let mut sums: BTreeMap<String, (Vec<f64>, u64)> = BTreeMap::new();
        let source = data.name();
        let batches = data.batches().map(|b| bind(&graph_inputs, &model.origin, &source, b?));
        run_in_order(&mut engines, batches, true, &mut |_, inputs, outputs| {
            for (name, value) in inputs.iter().chain(outputs.iter()) {
                if !wanted.contains(name) {
                    continue;
                }
                let x = value.to_f32();
                if x.ndim() < 2 {
                    continue;
                }
                let channels = x.shape()[1];
                let (sum, count) =
                    sums.entry(name.to_string()).or_insert_with(|| (vec![0.0; channels], 0));
                if sum.len() != channels {
                    return Err(Error::backend(
                        "bias correction",
                        format!("tensor '{name}' changed its channel count between batches"),
                    ));
                }
                for (c, lane) in x.axis_iter(ndarray::Axis(1)).enumerate() {
                    sum[c] += lane.iter().map(|&v| v as f64).sum::<f64>();
                }
                *count += (x.len() / channels) as u64;
            }
            Ok(())
        })?;
        let means = sums
            .into_iter()
            .filter(|(_, (_, n))| *n > 0)
            .map(|(name, (sum, n))| (name, sum.into_iter().map(|s| s / n as f64).collect()))
            .collect();
        Ok(InputMeans { means })
    }
}

/// Measures the input means once (with the first model's targets: every model of one plan has
/// the same) and corrects the biases of every model in `models`.
pub fn apply<'q>(
    backend: &dyn Backend,
    model: &OnnxModel,
    data: &dyn CalibrationData,
    jobs: usize,
    models: impl IntoIterator<Item = &'q mut QuantizedModel>,
) -> Result<()> {
    let mut models: Vec<&mut QuantizedModel> = models.into_iter().collect();
    let Some(first) = models.first() else { return Ok(()) };
    let means = InputMeans::measure(backend, model, first, data, jobs)?;
    for q in models.iter_mut() {
        correct_biases(q, &means)?;
    }
    Ok(())
}

/// Subtracts each corrected node's mean output shift from its bias in `q.model` and records
/// what changed in `q.bias_corrections`. Nodes whose input mean was not measured, or whose bias
/// is computed rather than stored, are left as they are (logged).
pub fn correct_biases(q: &mut QuantizedModel, means: &InputMeans) -> Result<()> {
    let targets = targets(q);
    let mut proto = q.model.proto.clone();
    let Some(graph) = proto.graph.as_mut() else { return Ok(()) };
    let mut taken = all_names(graph);
    let uses = use_counts(graph);
    let mut done = vec![];
    for t in &targets {
        let Some(mean) = means.means.get(&t.input) else {
            tracing::debug!("bias correction: no mean measured for '{}'", t.input);
            continue;
        };
        match correct_one(graph, t, q, mean, &uses, &mut taken)? {
            Some(c) => done.push(c),
            None => tracing::debug!("bias correction: node '{}' left as it is", t.node),
        }
    }
    q.model = OnnxModel::from_proto(proto, q.model.origin.clone())?;
    q.bias_corrections = done;
    Ok(())
}

/// The Conv / Gemm nodes whose weight `q` quantizes (as its node's input 1).
fn targets(q: &QuantizedModel) -> Vec<Target> {
    let graph = q.model.graph();
    graph
        .node
        .iter()
        .filter_map(|n| {
            let weight = n.input.get(1)?;
            let quantized =
                q.tensors.get(weight).is_some_and(|w| w.target.role == TensorRole::Weight);
            if !quantized || n.input[0].is_empty() {
                return None;
            }
            let conv_groups = match n.op_type.as_str() {
                "Conv" => Some(usize::try_from(attr_i(n, "group").unwrap_or(1)).ok()?.max(1)),
                // y = alpha · A · B + beta · C with A not transposed: A's channel is its axis 1.
                "Gemm" if attr_i(n, "transA").unwrap_or(0) == 0 => None,
                _ => return None,
            };
            Some(Target {
                node: n.name.clone(),
                input: n.input[0].clone(),
                weight: weight.clone(),
                conv_groups,
            })
        })
        .collect()
}

fn correct_one(
    graph: &mut pb::GraphProto,
    t: &Target,
    q: &QuantizedModel,
    mean: &[f64],
    uses: &std::collections::HashMap<String, usize>,
    taken: &mut HashSet<String>,
) -> Result<Option<BiasCorrection>> {
    let Some(wq) = q.tensors.get(&t.weight) else { return Ok(None) };
    let Some(w) = graph.initializer.iter().find(|i| i.name == t.weight) else {
        return Ok(None);
    };
    let (values, dims) = crate::graph::tensor_f32(w)
        .map_err(|e| Error::backend("bias correction", format!("weight '{}': {e}", t.weight)))?;
    let Some(fq) = wq.params.fake_quant_all(&values, &dims) else { return Ok(None) };
    let delta: Vec<f64> = fq.iter().zip(&values).map(|(a, b)| (*a - *b) as f64).collect();
    let Some(node_ix) = graph.node.iter().position(|n| n.name == t.node) else {
        return Ok(None);
    };
    let node = &graph.node[node_ix];
    let mut scale = 1.0f64;
    let shift: Vec<f64> = match t.conv_groups {
        Some(groups) => {
            // W: [O, I/g, k…]; output channel o reads input channels of its group.
            if dims.len() < 2 || dims[0] % groups != 0 || dims[1] * groups != mean.len() {
                return Ok(None);
            }
            let (outs, per_group_in) = (dims[0], dims[1]);
            let taps: usize = dims[2..].iter().product::<usize>().max(1);
            let outs_per_group = outs / groups;
            (0..outs)
                .map(|o| {
                    let g = o / outs_per_group;
                    (0..per_group_in)
                        .map(|i| {
                            let m = mean[g * per_group_in + i];
                            let at = (o * per_group_in + i) * taps;
                            delta[at..at + taps].iter().sum::<f64>() * m
                        })
                        .sum()
                })
                .collect()
        }
        None => {
            // B: [K, N], or [N, K] with transB; output n = Σ_k A[k] · B[k, n].
            if dims.len() != 2 {
                return Ok(None);
            }
            let trans_b = attr_i(node, "transB").unwrap_or(0) == 1;
            let (k, n) = if trans_b { (dims[1], dims[0]) } else { (dims[0], dims[1]) };
            if k != mean.len() {
                return Ok(None);
            }
            let alpha = crate::preprocess::edit::attr_f(node, "alpha").unwrap_or(1.0) as f64;
            let beta = crate::preprocess::edit::attr_f(node, "beta").unwrap_or(1.0) as f64;
            if beta == 0.0 {
                return Ok(None);
            }
            scale = alpha / beta;
            (0..n)
                .map(|j| {
                    (0..k)
                        .map(|i| {
                            let d = if trans_b { delta[j * k + i] } else { delta[i * n + j] };
                            d * mean[i]
                        })
                        .sum()
                })
                .collect()
        }
    };
    let outs = shift.len();
    let bias_name = node.input.get(2).filter(|b| !b.is_empty()).cloned();
    // The old bias and the dims it is stored with (a fresh bias is a vector).
    let (old, old_dims): (Vec<f32>, Vec<i64>) = match &bias_name {
        Some(b) => {
            let Some(init) = graph.initializer.iter().find(|i| &i.name == b) else {
                return Ok(None); // a computed bias
            };
            let Ok((v, d)) = crate::graph::tensor_f32(init) else { return Ok(None) };
            // Gemm's C may broadcast over rows; only a per-output vector is corrected.
            if v.len() != outs || d.iter().filter(|&&x| x != 1).count() > 1 {
                return Ok(None);
            }
            (v, init.dims.clone())
        }
        None => (vec![0.0; outs], vec![outs as i64]),
    };
    let new: Vec<f32> =
        old.iter().zip(&shift).map(|(b, s)| (*b as f64 - scale * s) as f32).collect();
    let max_abs_shift = shift.iter().map(|s| (scale * s).abs() as f32).fold(0.0, f32::max);
    // In place when this node alone reads the bias; a shared one keeps its other readers.
    let name = match &bias_name {
        Some(b) => writable_name(uses, b, taken, "corrected"),
        None => fresh_name(taken, &format!("{}.bias.corrected", t.node)),
    };
    let dims = if bias_name.as_ref() == Some(&name) { old_dims } else { vec![outs as i64] };
    put_initializer(
        graph,
        pb::TensorProto {
            name: name.clone(),
            dims,
            data_type: 1,
            raw_data: pb::raw_data(&new),
            ..Default::default()
        },
    );
    let node = &mut graph.node[node_ix];
    if node.input.len() < 3 {
        node.input.resize(3, String::new());
    }
    node.input[2] = name.clone();
    Ok(Some(BiasCorrection { node: t.node.clone(), bias: name, max_abs_shift }))
}
