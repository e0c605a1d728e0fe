//! A probe for one consumer node: the node alone as a one-node model, once with float weights
//! (the reference) and once with its weights fake-quantized as the config quantizes them, so a
//! candidate range for one of its inputs can be scored by the error it causes in the node's
//! output.

use crate::backend::{Backend, Engine, EngineOptions, Lowering};
use crate::internal::*;
use crate::pb;
use crate::tensor::{TensorMap, TensorValue};
use calibr8_calibration::QuantParams;
use std::collections::BTreeMap;

/// The node's two engines and the names of the inputs it reads at run time.
pub(crate) struct Probe {
    /// Non-constant inputs, in the node's order (each fed from the captured batch).
    pub inputs: Vec<String>,
    reference: Box<dyn Engine>,
    quantized: Box<dyn Engine>,
}

impl Probe {
    /// Builds the probe for `node` of `model`; `weights` are the fake-quantization parameters
    /// of the node's quantized constant inputs. `None` for nodes a one-node model cannot hold
    /// (subgraphs, several outputs used, no float output).
    pub(crate) fn build(
        backend: &dyn Backend,
        model: &OnnxModel,
        graph: &Graph,
        node_name: &str,
        weights: &BTreeMap<String, QuantParams>,
        input_types: &BTreeMap<String, i32>,
    ) -> Result<Option<Probe>> {
        let Some(node) = model.graph().node.iter().find(|n| n.name == node_name) else {
            return Ok(None);
        };
        let has_subgraph = node.attribute.iter().any(|a| a.g.is_some() || !a.graphs.is_empty());
        if has_subgraph || node.output.is_empty() || node.output[0].is_empty() {
            return Ok(None);
        }
        let mut inputs = vec![];
        let mut float_inits = vec![];
        let mut quant_inits = vec![];
        for name in node.input.iter().filter(|i| !i.is_empty()) {
            if let Some(constant) = graph.constant(name) {
                let mut t = constant.clone();
                t.name = name.clone();
                float_inits.push(t.clone());
                if let Some(params) = weights.get(name) {
                    let Ok((values, dims)) = crate::graph::tensor_f32(&t) else {
                        return Ok(None);
                    };
                    let Some(fq) = params.fake_quant_all(&values, &dims) else {
                        return Ok(None);
                    };
                    t = pb::TensorProto {
                        name: name.clone(),
                        dims: t.dims.clone(),
                        data_type: 1,
                        raw_data: pb::raw_data(&fq),
                        ..Default::default()
                    };
                }
                quant_inits.push(t);
            } else if !inputs.contains(name) {
                inputs.push(name.clone());
            }
        }
        let value_info = |name: &str, elem_type: i32| pb::ValueInfoProto {
            name: name.to_string(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type,
                    shape: None,
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let make = |initializer: Vec<pb::TensorProto>| -> Result<OnnxModel> {
            let graph = pb::GraphProto {
                name: format!("{node_name}.probe"),
                node: vec![node.clone()],
                initializer,
                input: inputs
                    .iter()
                    .map(|i| value_info(i, input_types.get(i).copied().unwrap_or(1)))
                    .collect(),
                output: vec![value_info(&node.output[0], 1)],
                ..Default::default()
            };
            let proto = pb::ModelProto {
                ir_version: model.proto.ir_version,
                opset_import: model.proto.opset_import.clone(),
                graph: Some(graph),
                ..Default::default()
            };
            OnnxModel::from_proto(proto, format!("{} (node {node_name} alone)", model.origin))
        };
        let options = EngineOptions::default();
        let reference = backend.prepare(Lowering::Float(&make(float_inits)?), &options)?;
        let quantized = backend.prepare(Lowering::Float(&make(quant_inits)?), &options)?;
        Ok(Some(Probe { inputs, reference, quantized }))
    }

    /// The node's first output on float inputs and float weights.
    pub(crate) fn reference(&mut self, inputs: TensorMap) -> Result<TensorValue> {
        first_output(self.reference.run(inputs)?)
    }

    /// The node's first output with quantized weights on `inputs`.
    pub(crate) fn quantized(&mut self, inputs: TensorMap) -> Result<TensorValue> {
        first_output(self.quantized.run(inputs)?)
    }
}

fn first_output(outputs: TensorMap) -> Result<TensorValue> {
    outputs
        .into_values()
        .into_iter()
        .next()
        .ok_or_else(|| Error::backend("probe", "the one-node model returned no output"))
}
