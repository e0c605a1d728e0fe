//! The graph view calibr8 reasons on: nodes with their input and output tensor names, which
//! tensors are constant (initializers or `Constant` nodes), who produces and who consumes each.

use crate::internal::*;
use crate::pb;
use std::collections::HashMap;

/// One ONNX node, reduced to what quantization decisions need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The node's (unique) name.
    pub name: String,
    /// Its ONNX op type (`Conv`, `Gemm`, ...).
    pub op_type: String,
    /// Input tensor names (empty string for an omitted optional input).
    pub inputs: Vec<String>,
    /// Output tensor names.
    pub outputs: Vec<String>,
}

/// Read-only analysis of an [`OnnxModel`]'s main graph.
#[derive(Clone, Debug)]
pub struct Graph {
    /// Nodes in file order (ONNX requires topological order).
    pub nodes: Vec<Node>,
    /// Graph input names (initializers excluded).
    pub inputs: Vec<String>,
    /// Graph output names.
    pub outputs: Vec<String>,
    constants: HashMap<String, pb::TensorProto>,
    producer: HashMap<String, usize>,
    consumers: HashMap<String, Vec<usize>>,
}

impl Graph {
    /// Builds the view of `model`'s main graph.
    pub fn new(model: &OnnxModel) -> Graph {
        let g = model.graph();
        let mut constants: HashMap<String, pb::TensorProto> =
            g.initializer.iter().map(|t| (t.name.clone(), t.clone())).collect();
        let mut nodes = Vec::with_capacity(g.node.len());
        let mut producer = HashMap::new();
        let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
        for (ix, n) in g.node.iter().enumerate() {
            if n.op_type == "Constant" && n.output.len() == 1 {
                if let Some(t) =
                    n.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.clone())
                {
                    constants.insert(n.output[0].clone(), t);
                }
            }
            for o in &n.output {
                producer.insert(o.clone(), ix);
            }
            for i in n.input.iter().filter(|i| !i.is_empty()) {
                let list = consumers.entry(i.clone()).or_default();
                if !list.contains(&ix) {
                    list.push(ix);
                }
            }
            nodes.push(Node {
                name: n.name.clone(),
                op_type: n.op_type.clone(),
                inputs: n.input.clone(),
                outputs: n.output.clone(),
            });
        }
        Graph {
            nodes,
            inputs: model.inputs().into_iter().map(|v| v.name).collect(),
            outputs: model.outputs().into_iter().map(|v| v.name).collect(),
            constants,
            producer,
            consumers,
        }
    }

    /// True for initializers and outputs of `Constant` nodes.
    pub fn is_constant(&self, tensor: &str) -> bool {
        self.constants.contains_key(tensor)
    }

    /// The constant's protobuf, if `tensor` is constant.
    pub fn constant(&self, tensor: &str) -> Option<&pb::TensorProto> {
        self.constants.get(tensor)
    }

    /// The node producing `tensor`, if any (graph inputs and initializers have none).
    pub fn producer(&self, tensor: &str) -> Option<&Node> {
        self.producer.get(tensor).map(|&ix| &self.nodes[ix])
    }

    /// The nodes reading `tensor`, in graph order.
    pub fn consumers(&self, tensor: &str) -> impl Iterator<Item = &Node> {
        self.consumers.get(tensor).into_iter().flatten().map(|&ix| &self.nodes[ix])
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// Reads a float tensor's values and dimensions from a `TensorProto` (raw or typed storage).
pub fn tensor_f32(t: &pb::TensorProto) -> Result<(Vec<f32>, Vec<usize>), String> {
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let len: usize = dims.iter().product();
    if t.data_location == pb::tensor_proto::DataLocation::External as i32
        || !t.external_data.is_empty()
    {
        return Err("stored as external data, which calibr8 does not read yet; re-export with \
                    external data embedded (onnx.save(..., save_as_external_data=False))"
            .into());
    }
    let data: Vec<f32> = match t.data_type {
        1 if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        1 => t.float_data.clone(),
        11 if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        11 => t.double_data.iter().map(|&v| v as f32).collect(),
        other => return Err(format!("element type {other} is not float or double")),
    };
    if data.len() != len {
        return Err(format!("holds {} values but its dims {:?} need {len}", data.len(), dims));
    }
    Ok((data, dims))
}

/// Reads an integer attribute of an ONNX node.
pub fn attr_i(node: &pb::NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}
