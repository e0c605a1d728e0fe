//! Input shapes: exported models (PaddleOCR above all) declare dynamic batch, height and width,
//! and name them with symbols that intermediate annotations contradict. The calibration data
//! says the shape; these helpers give it to an engine without touching the model calibr8
//! exports, which keeps its dynamic dims.

use crate::internal::*;
use crate::model::ValueInfo;
use std::collections::BTreeMap;
use crate::pb;

/// Parses `NAME=1x3x48x320` (the `--input-shape` syntax) into the name and its dims.
///
/// ```
/// let (name, dims) = calibr8_core::shapes::parse_input_shape("x=1x3x48x320")?;
/// assert_eq!((name.as_str(), dims), ("x", vec![1, 3, 48, 320]));
/// # Ok::<(), calibr8_core::Error>(())
/// ```
pub fn parse_input_shape(text: &str) -> Result<(String, Vec<usize>)> {
    let bad = |why: &str| {
        Error::config(
            "input_shapes",
            format!("'{text}' {why}; write NAME=DxDx..., e.g. x=1x3x48x320"),
        )
    };
    let (name, dims) = text.rsplit_once('=').ok_or_else(|| bad("has no '='"))?;
    if name.is_empty() {
        return Err(bad("names no input"));
    }
    let dims = dims
        .split(['x', 'X', ','])
        .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| bad("has a dimension that is not a positive integer"))?;
    Ok((name.to_string(), dims))
}

/// Checks `shapes` (input name → dims) against `model`'s inputs: every name an input, the rank
/// as declared, fixed dims kept. Returns the inputs with those dims filled in.
pub fn apply_input_shapes(
    model: &OnnxModel,
    shapes: &BTreeMap<String, Vec<usize>>,
) -> Result<Vec<ValueInfo>> {
    let mut inputs = model.inputs();
    let list = inputs.iter().map(|i| i.name.clone()).collect::<Vec<_>>().join(", ");
    for (name, dims) in shapes {
        let input = inputs.iter_mut().find(|i| &i.name == name).ok_or_else(|| {
            Error::config(
                "input_shapes",
                format!("'{name}' is not an input of {} (inputs: {list})", model.origin),
            )
        })?;
        let declared = describe(&input.dims);
        if input.shape_known && input.dims.len() != dims.len() {
            return Err(Error::config(
                "input_shapes",
                format!(
                    "{name}={} has rank {} but {} declares {name} as {declared} (rank {}); give \
                     one size per dimension",
                    join(dims),
                    dims.len(),
                    model.origin,
                    input.dims.len()
                ),
            ));
        }
        if let Some((ix, (d, want))) = input
            .dims
            .iter()
            .zip(dims)
            .enumerate()
            .find(|(_, (d, want))| d.is_some_and(|d| d != **want))
        {
            return Err(Error::config(
                "input_shapes",
                format!(
                    "{name}={} sets dimension {ix} to {want}, but {} fixes it to {} ({declared}); \
                     only dynamic dimensions can be set",
                    join(dims),
                    model.origin,
                    d.unwrap_or_default()
                ),
            ));
        }
        input.dims = dims.iter().map(|&d| Some(d)).collect();
        input.shape_known = true;
    }
    Ok(inputs)
}

/// A copy of `model` whose inputs named in `shapes` declare those dims, for running (the
/// exported model keeps the original). See [`apply_input_shapes`] for the checks.
pub fn with_input_shapes(
    model: &OnnxModel,
    shapes: &BTreeMap<String, Vec<usize>>,
) -> Result<OnnxModel> {
    if shapes.is_empty() {
        return Ok(model.clone());
    }
    apply_input_shapes(model, shapes)?;
    let mut proto = model.proto.clone();
    if let Some(graph) = proto.graph.as_mut() {
        for input in graph.input.iter_mut() {
            if let Some(dims) = shapes.get(&input.name) {
                set_dims(input, dims);
            }
        }
    }
    Ok(OnnxModel { proto, origin: model.origin.clone() })
}

/// Sets a value info's dims to fixed values (keeping its element type).
pub fn set_dims(value: &mut pb::ValueInfoProto, dims: &[usize]) {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    use pb::type_proto::Value as TypeValue;
    if let Some(TypeValue::TensorType(t)) = value.r#type.as_mut().and_then(|t| t.value.as_mut()) {
        t.shape = Some(pb::TensorShapeProto {
            dim: dims
                .iter()
                .map(|&d| Dimension {
                    value: Some(Value::DimValue(d as i64)),
                    ..Default::default()
                })
                .collect(),
        });
    }
}

/// Removes the shapes (not the element types) of every intermediate `value_info` and every
/// graph output, so an engine infers them from the input shapes it is given. Exporters write
/// these annotations with their own symbols (`N`, `DynamicDimension.0`, `Reshape_470_o0__d2`);
/// an engine that unifies symbols by name then rejects a model ONNX Runtime runs.
pub fn drop_shape_annotations(proto: &mut pb::ModelProto) -> usize {
    use pb::type_proto::Value as TypeValue;
    let Some(graph) = proto.graph.as_mut() else {
        return 0;
    };
    let mut dropped = 0;
    for v in graph.value_info.iter_mut().chain(graph.output.iter_mut()) {
        if let Some(TypeValue::TensorType(t)) = v.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            if t.shape.take().is_some() {
                dropped += 1;
            }
        }
    }
    dropped
}

/// True when every input declares every dimension as a fixed size.
pub fn inputs_are_concrete(model: &OnnxModel) -> bool {
    model.inputs().iter().all(|i| i.shape_known && i.dims.iter().all(Option::is_some))
}

/// `[?, 3, ?, ?]`-style text for declared dims.
pub fn describe(dims: &[Option<usize>]) -> String {
    let parts: Vec<String> =
        dims.iter().map(|d| d.map_or_else(|| "?".to_string(), |d| d.to_string())).collect();
    format!("[{}]", parts.join(", "))
}

fn join(dims: &[usize]) -> String {
    dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shape_syntax() {
        assert_eq!(parse_input_shape("x=1x3x48x320").unwrap().1, vec![1, 3, 48, 320]);
        assert_eq!(parse_input_shape("a=b=2,3").unwrap(), ("a=b".into(), vec![2, 3]));
        for bad in ["x", "=1x2", "x=1x0", "x=1xa", "x="] {
            let e = parse_input_shape(bad).unwrap_err().to_string();
            assert!(e.contains("NAME=DxDx"), "{bad}: {e}");
        }
    }

    #[test]
    fn overrides_only_dynamic_dims() {
        let model = OnnxModel::load("../examples/digits/digits_cnn.onnx").unwrap();
        let name = model.inputs()[0].name.clone();
        let ok = BTreeMap::from([(name.clone(), vec![4, 1, 8, 8])]);
        let fixed = with_input_shapes(&model, &ok).unwrap();
        assert_eq!(fixed.inputs()[0].dims, vec![Some(4), Some(1), Some(8), Some(8)]);
        // The original keeps its symbolic batch.
        assert_eq!(model.inputs()[0].dims[0], None);
        let wrong = BTreeMap::from([(name.clone(), vec![4, 1, 9, 8])]);
        let e = with_input_shapes(&model, &wrong).unwrap_err().to_string();
        assert!(e.contains("dimension 2") && e.contains("fixes it to 8"), "{e}");
        let rank = BTreeMap::from([(name, vec![4, 64])]);
        assert!(with_input_shapes(&model, &rank).unwrap_err().to_string().contains("rank 2"));
        let unknown = BTreeMap::from([("nope".to_string(), vec![1])]);
        let e = with_input_shapes(&model, &unknown).unwrap_err().to_string();
        assert!(e.contains("'nope' is not an input") && e.contains("input"), "{e}");
    }
}
