//! Loading an ONNX file into calibr8's protobuf types ([`crate::pb`]), and the small facts about
//! it that the rest of calibr8 needs (opset, inputs, a name for every node).

use crate::internal::*;
use crate::pb;
use crate::validate::Limits;
use prost::Message;
use std::path::Path;

/// An ONNX model as calibr8 holds it: the decoded protobuf plus where it came from.
///
/// Nodes without a name get one (`{op_type}_{index}`) at load time, so every report, QDQ file
/// and TensorRT cache speaks about the same nodes.
#[derive(Clone, Debug)]
pub struct OnnxModel {
    /// The decoded model.
    pub proto: pb::ModelProto,
    /// Where it was loaded from (`<memory>` for bytes).
    pub origin: String,
}

/// One graph input or output: name, element type and dimensions (`None` for symbolic ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueInfo {
    /// The ONNX tensor name.
    pub name: String,
    /// The ONNX element type (1 = float).
    pub elem_type: i32,
    /// Dimensions; `None` where the model declares a symbolic or unknown size.
    pub dims: Vec<Option<usize>>,
    /// Whether the model declares a shape at all (empty `dims` is then a scalar).
    pub shape_known: bool,
}

impl OnnxModel {
    /// Reads and decodes an ONNX file.
    ///
    /// ```
    /// let model = calibr8_core::OnnxModel::load("../examples/digits/digits_cnn.onnx")?;
    /// assert_eq!(model.inputs()[0].name, "input");
    /// # Ok::<(), calibr8_core::Error>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        Self::from_bytes(&bytes, path.display().to_string())
    }

    /// Decodes a model from bytes; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: impl Into<String>) -> Result<Self> {
        let origin = origin.into();
        let proto = pb::ModelProto::decode(bytes)
            .map_err(|e| Error::InvalidModel { path: origin.clone(), reason: e.to_string() })?;
        Self::from_proto(proto, origin)
    }

    /// Wraps an already decoded model, running the [validation pass](crate::validate) with the
    /// process's default [`Limits`].
    pub fn from_proto(proto: pb::ModelProto, origin: impl Into<String>) -> Result<Self> {
        Self::from_proto_with(proto, origin, &Limits::default())
    }

    /// [`OnnxModel::from_proto`] with explicit limits (the memory budget of the size check).
    pub fn from_proto_with(
        mut proto: pb::ModelProto,
        origin: impl Into<String>,
        limits: &Limits,
    ) -> Result<Self> {
        let origin = origin.into();
        let invalid =
            |reason: &str| Error::InvalidModel { path: origin.clone(), reason: reason.into() };
        let graph = proto.graph.as_mut().ok_or_else(|| invalid("the model has no graph"))?;
        if graph.node.is_empty() {
            return Err(invalid("the graph has no nodes"));
        }
        if graph.input.is_empty() || graph.output.is_empty() {
            return Err(invalid("the graph declares no inputs or no outputs"));
        }
        let renamed = name_nodes_uniquely(graph);
        crate::validate::validate_proto(&proto, &origin, limits)?;
        // Said only for a model that loads: before a refusal it is noise.
        if !renamed.is_empty() {
            let more = renamed.len().saturating_sub(8);
            tracing::warn!(
                "{origin}: {} node name(s) repeat an earlier node's; ONNX needs unique names, so \
                 calibr8 renamed them (tensors keep their names): {}{}",
                renamed.len(),
                renamed[..renamed.len().min(8)].join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            );
        }
        Ok(OnnxModel { proto, origin })
    }

    /// The main graph (checked to exist at construction).
    pub fn graph(&self) -> &pb::GraphProto {
        self.proto.graph.as_ref().expect("checked in from_proto")
    }

    /// The default-domain opset version (0 if the model declares none).
    pub fn opset(&self) -> i64 {
        default_opset(&self.proto)
    }

    /// Graph inputs that are real inputs (not initializers listed as inputs, as old exporters do).
    pub fn inputs(&self) -> Vec<ValueInfo> {
        let graph = self.graph();
        let inits: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        graph.input.iter().filter(|i| !inits.contains(i.name.as_str())).map(value_info).collect()
    }

    /// Graph outputs.
    pub fn outputs(&self) -> Vec<ValueInfo> {
        self.graph().output.iter().map(value_info).collect()
    }

    /// Encodes the model back to ONNX bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.proto.encode_to_vec()
    }
}

/// The default-domain opset a model declares (0 if none).
pub(crate) fn default_opset(proto: &pb::ModelProto) -> i64 {
    proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0)
}

fn value_info(v: &pb::ValueInfoProto) -> ValueInfo {
    use pb::tensor_shape_proto::dimension::Value;
    use pb::type_proto::Value as TypeValue;
    let (elem_type, dims, shape_known) = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(TypeValue::TensorType(t)) => {
            let dims = t
                .shape
                .as_ref()
                .map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match d.value {
                            Some(Value::DimValue(v)) if v > 0 => Some(v as usize),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            (t.elem_type, dims, t.shape.is_some())
        }
        _ => (0, vec![], false),
    };
    ValueInfo { name: v.name.clone(), elem_type, dims, shape_known }
}

/// Names every node of `graph` uniquely: unnamed nodes get `<OpType>_<index>`, and a name used
/// again (exporters such as OpenVINO's repeat them; ONNX Runtime runs such models but rejects
/// an export that repeats a name, and calibr8 keys its plan by node) is kept by its first node
/// and replaced on the others by `<name>_<index>`. Returns the renames, `'old' (Op) → 'new'`.
fn name_nodes_uniquely(graph: &mut pb::GraphProto) -> Vec<String> {
    let mut used: std::collections::HashSet<String> =
        graph.node.iter().map(|n| n.name.clone()).filter(|n| !n.is_empty()).collect();
    let mut seen: std::collections::HashSet<String> = Default::default();
    let mut renamed: Vec<String> = vec![];
    for (ix, node) in graph.node.iter_mut().enumerate() {
        let repeated = !node.name.is_empty() && !seen.insert(node.name.clone());
        if node.name.is_empty() || repeated {
            let stem = if node.name.is_empty() { node.op_type.clone() } else { node.name.clone() };
            let mut name = format!("{stem}_{ix}");
            while used.contains(&name) {
                name.push('_');
            }
            used.insert(name.clone());
            seen.insert(name.clone());
            if repeated {
                renamed.push(format!("'{}' ({}) → '{name}'", node.name, node.op_type));
            }
            node.name = name;
        }
    }
    renamed
}
