//! Where accuracy goes, layer by layer, in two modes:
//! - **isolated**: only one node quantized (every other kept in float), metrics on the model
//!   output — how much that node alone costs;
//! - **cumulative**: everything quantized, every quantized tensor and every int8 node's output
//!   captured in the float and the quantized run — how the error builds up through the graph.

use super::evaluate::{Evaluation, OutputMetrics, TensorMetrics};
use super::metrics::Metrics;
use super::reuse::ConeCache;
use crate::backend::Backend;
use crate::internal::*;
use serde::{Deserialize, Serialize};

/// One int8 node in both modes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerResult {
    /// The ONNX node.
    pub node: String,
    /// Its op type.
    pub op_type: String,
    /// The first model output with only this node in int8.
    pub isolated: Metrics,
    /// The node's (first) output tensor.
    pub output_tensor: String,
    /// That tensor in the all-int8 run against the float run: the value the node computes,
    /// before a Q/DQ on the tensor itself (an `_output_` target's own rounding shows downstream).
    pub cumulative: Metrics,
}

/// Both modes for every int8 node of a quantized model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerAnalysis {
    /// Int8 nodes in graph order.
    pub layers: Vec<LayerResult>,
    /// Quantized activations (graph inputs aside, which both runs share) and int8 node outputs
    /// in graph order, cumulative mode.
    pub tensors: Vec<TensorMetrics>,
    /// The all-int8 model's outputs.
    pub outputs: Vec<OutputMetrics>,
    /// Every quantized weight against its dequantized int8 values (see [`weight_metrics`]).
    pub weights: Vec<TensorMetrics>,
}

/// The quantization error of every quantized weight on its own: constants need no run, so the
/// float weight is compared with `(q − zero_point) · scale` channel by channel, exactly what the
/// QDQ model's `DequantizeLinear` computes.
pub fn weight_metrics(q: &QuantizedModel) -> Result<Vec<TensorMetrics>> {
    let graph = Graph::new(&q.model);
    let mut out = vec![];
    for t in q.weights() {
        let name = &t.target.tensor;
        let proto = graph.constant(name).ok_or_else(|| Error::UnknownTensor {
            tensor: name.clone(),
            path: q.model.origin.clone(),
        })?;
        let (values, dims) =
            crate::graph::tensor_f32(proto).map_err(|reason| Error::InvalidModel {
                path: q.model.origin.clone(),
                reason: format!("weight '{name}' {reason}"),
            })?;
        let dequantized =
            t.params.fake_quant_all(&values, &dims).ok_or_else(|| Error::InvalidModel {
                path: q.model.origin.clone(),
                reason: format!(
                    "weight '{name}' shaped {dims:?} does not fit its {} scale(s) on axis {:?}",
                    t.params.scale.len(),
                    t.params.axis
                ),
            })?;
        let shape = vec![values.len()];
        let reference = ndarray::ArrayD::from_shape_vec(shape.clone(), values)
            .map_err(|e| Error::backend("compare", e))?;
        let candidate = ndarray::ArrayD::from_shape_vec(shape, dequantized)
            .map_err(|e| Error::backend("compare", e))?;
        let mut acc = super::metrics::MetricAccumulator::new(false);
        acc.add(&reference, &candidate, None)?;
        out.push(TensorMetrics {
            tensor: name.clone(),
            producer: None,
            quantized: true,
            metrics: acc.finish(),
        });
    }
    Ok(out)
}

/// Runs both modes for `q` on `candidate` against `eval`'s reference. `progress` gets each
/// node's name before its isolated run.
pub fn analyze_layers(
    eval: &Evaluation<'_>,
    candidate: &dyn Backend,
    q: &QuantizedModel,
    progress: &mut dyn FnMut(&str),
) -> Result<LayerAnalysis> {
    let graph = Graph::new(&q.model);
    let int8 = q.int8_nodes();

    // Cumulative: one run capturing every tensor of interest, in graph order.
    let mut wanted: Vec<(String, Option<String>, bool)> = vec![];
    for node in &graph.nodes {
        for input in &node.inputs {
            let quantized_activation = q.tensors.get(input).is_some_and(|t| {
                t.target.role == crate::plan::TensorRole::Activation
                    && t.target.is_read_quantized_by(&node.name)
            });
            if quantized_activation
                && !graph.inputs.contains(input)
                && !wanted.iter().any(|(t, _, _)| t == input)
            {
                wanted.push((input.clone(), graph.producer(input).map(|p| p.name.clone()), true));
            }
        }
        if int8.contains(&node.name) {
            if let Some(out) = node.outputs.first().filter(|o| !o.is_empty()) {
                if !wanted.iter().any(|(t, _, _)| t == out) {
                    wanted.push((out.clone(), Some(node.name.clone()), false));
                }
            }
        }
    }
    // Model outputs come back anyway; capture only the rest.
    let capture: Vec<String> = wanted
        .iter()
        .map(|(t, _, _)| t.clone())
        .filter(|t| !eval.output_names().contains(t))
        .collect();
    progress("all layers (cumulative)");
    let (outputs, captured) = eval.cumulative(candidate, q, &capture)?;
    let metrics_of = |tensor: &str| -> Option<Metrics> {
        match eval.output_names().iter().position(|o| o == tensor) {
            Some(ix) => Some(outputs[ix].metrics.clone()),
            None => capture.iter().position(|c| c == tensor).map(|ix| captured[ix].clone()),
        }
    };
    let tensors: Vec<TensorMetrics> = wanted
        .iter()
        .filter_map(|(tensor, producer, quantized)| {
            metrics_of(tensor).map(|metrics| TensorMetrics {
                tensor: tensor.clone(),
                producer: producer.clone(),
                quantized: *quantized,
                metrics,
            })
        })
        .collect();

    // Isolated: one run per int8 node with every other node in float. Upstream of the node,
    // that is the all-float model: only the node's cone runs, from the all-float tensors.
    let mut base = q.clone();
    base.keep_in_float(&int8, Precision::Fp32)?;
    let mut cones = ConeCache::new(eval, candidate, &base, &int8)?;
    let mut layers = vec![];
    for (ix, name) in int8.iter().enumerate() {
        progress(name);
        let others: Vec<&String> = int8.iter().filter(|n| *n != name).collect();
        let mut only = q.clone();
        only.keep_in_float(&others, Precision::Fp32)?;
        let isolated = cones
            .isolated(&only, name, &base, &int8[ix..])?
            .into_iter()
            .next()
            .map(|o| o.metrics)
            .ok_or_else(|| Error::backend(candidate.name(), "the model has no output"))?;
        let node = graph.node(name).ok_or_else(|| Error::UnknownTensor {
            tensor: name.clone(),
            path: q.model.origin.clone(),
        })?;
        let output_tensor = node.outputs.first().cloned().unwrap_or_default();
        let cumulative = metrics_of(&output_tensor).ok_or_else(|| Error::UnknownTensor {
            tensor: output_tensor.clone(),
            path: q.model.origin.clone(),
        })?;
        layers.push(LayerResult {
            node: name.clone(),
            op_type: node.op_type.clone(),
            isolated,
            output_tensor,
            cumulative,
        });
    }
    tracing::debug!(
        "isolated analysis: {} cone run(s), {} whole-model run(s)",
        cones.cone_runs,
        cones.whole_runs
    );
    Ok(LayerAnalysis { layers, tensors, outputs, weights: weight_metrics(q)? })
}
