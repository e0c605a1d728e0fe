//! Capture of intermediate tensors: ONNX Runtime returns only graph outputs, so the tensors to
//! capture are added to the model's outputs before the session is created. A `ValueInfoProto`
//! with a name alone is enough: ONNX Runtime infers the type and shape of a graph output from
//! its producer (checked on ONNX Runtime 1.32), and a fused-away tensor cannot be asked for,
//! because ONNX Runtime keeps every graph output.

use calibr8_core::{pb, Error, OnnxModel, Result};
use std::collections::HashSet;

/// `model` with every name of `capture` that is not already a graph output appended as one.
/// Each name must be a graph input, a node output or an initializer of the main graph; the
/// error names the first that is not.
pub fn with_outputs(model: &OnnxModel, capture: &[String]) -> Result<OnnxModel> {
    if capture.is_empty() {
        return Ok(model.clone());
    }
    let graph = model.graph();
    let known: HashSet<&str> = graph
        .input
        .iter()
        .map(|i| i.name.as_str())
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(graph.node.iter().flat_map(|n| n.output.iter().map(String::as_str)))
        .filter(|n| !n.is_empty())
        .collect();
    if let Some(missing) = capture.iter().find(|n| !known.contains(n.as_str())) {
        return Err(Error::UnknownTensor { tensor: missing.clone(), path: model.origin.clone() });
    }
    let mut proto = model.proto.clone();
    let graph = proto.graph.as_mut().ok_or_else(|| Error::InvalidModel {
        path: model.origin.clone(),
        reason: "the model has no graph".into(),
    })?;
    let mut outputs: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    for name in capture {
        if outputs.insert(name.clone()) {
            graph.output.push(pb::ValueInfoProto { name: name.clone(), ..Default::default() });
        }
    }
    Ok(OnnxModel { proto, origin: model.origin.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits() -> OnnxModel {
        OnnxModel::load("../../examples/digits/digits_cnn.onnx").expect("bundled model")
    }

    #[test]
    fn appends_new_names_once_in_order() {
        let model = digits();
        let out = model.outputs()[0].name.clone();
        let capture =
            vec!["relu1_out".to_string(), out.clone(), "input".into(), "relu1_out".into()];
        let extended = with_outputs(&model, &capture).expect("known tensors");
        let names: Vec<String> = extended.outputs().into_iter().map(|o| o.name).collect();
        assert_eq!(names, [out, "relu1_out".into(), "input".into()]);
        assert_eq!(model.outputs().len(), 1, "the original is untouched");
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_it() {
        let err = with_outputs(&digits(), &["relu9_out".into()]).expect_err("no such tensor");
        let message = err.to_string();
        assert!(message.contains("tensor 'relu9_out' not found"), "{message}");
        assert!(message.contains("calibr8 inspect"), "{message}");
    }
}
