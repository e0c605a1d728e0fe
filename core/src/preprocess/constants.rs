//! Constant folding where it is cheap: `Constant` nodes become initializers, and nodes whose
//! inputs are all constant are computed once when they are shape arithmetic or simple
//! element-wise math on float32 / int64 (what exporters leave around weights: a transposed or
//! reshaped weight, `Shape`-free shape arithmetic, scaled constants). Anything else stays.

use super::edit::{attr_ints, remove_dead};
use super::values::{constant_node_value, Value};
use crate::graph::attr_i;
use ndarray::{ArrayD, Axis, IxDyn};
use std::collections::{HashMap, HashSet};
use crate::pb;

/// Results larger than this many elements are not folded (they would bloat the file).
const MAX_FOLDED_ELEMENTS: usize = 1 << 24;

/// Folds constants in `graph`; returns how many nodes were replaced by initializers.
pub(crate) fn fold_constants(graph: &mut pb::GraphProto, ir_version: i64) -> usize {
    let outputs: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let mut constants: HashMap<String, pb::TensorProto> =
        graph.initializer.iter().map(|t| (t.name.clone(), t.clone())).collect();
    // An initializer listed as a graph input may be overridden at run time: not a constant.
    for input in &graph.input {
        constants.remove(&input.name);
    }
    let mut folded = 0;
    let mut kept = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        // IR < 4 requires every initializer to be a graph input too; leave such files alone.
        let result = if node.output.len() != 1 || outputs.contains(&node.output[0]) || ir_version < 4
        {
            None
        } else if node.op_type == "Constant" && node.domain.is_empty() {
            constant_node_value(&node)
        } else {
            fold_node(&node, &constants).map(|v| v.to_proto(&node.output[0]))
        };
        match result {
            Some(tensor) => {
                constants.insert(tensor.name.clone(), tensor.clone());
                graph.initializer.push(tensor);
                folded += 1;
            }
            None => kept.push(node),
        }
    }
    graph.node = kept;
    if folded > 0 {
        remove_dead(graph);
    }
    folded
}

/// The value of `node` if all its inputs are readable constants and its op is one folded here.
fn fold_node(node: &pb::NodeProto, constants: &HashMap<String, pb::TensorProto>) -> Option<Value> {
    if !node.domain.is_empty() && node.domain != "ai.onnx" {
        return None;
    }
    let inputs: Vec<Option<Value>> = node
        .input
        .iter()
        .map(|i| {
            if i.is_empty() {
                Some(None)
            } else {
                constants.get(i).and_then(Value::from_proto).map(Some)
            }
        })
        .collect::<Option<_>>()?;
    if inputs.first()?.is_none() {
        return None;
    }
    let arg = |ix: usize| inputs.get(ix).and_then(|v| v.as_ref());
    let x = arg(0)?;
    let value = match node.op_type.as_str() {
        "Identity" => Some(x.clone()),
        "Cast" => cast(x, attr_i(node, "to")?),
        "Reshape" => {
            let shape = arg(1)?.as_i64()?;
            let dims = reshape_dims(x.shape(), shape.as_slice()?, attr_i(node, "allowzero") == Some(1))?;
            x.map_layout(
                |a| a.clone().into_shape_with_order(IxDyn(&dims)).ok(),
                |a| a.clone().into_shape_with_order(IxDyn(&dims)).ok(),
            )
        }
        "Flatten" => {
            let rank = x.shape().len() as i64;
            let axis = attr_i(node, "axis").unwrap_or(1);
            let axis = usize::try_from(if axis < 0 { axis + rank } else { axis }).ok()?;
            if axis > x.shape().len() {
                return None;
            }
            let dims = [x.shape()[..axis].iter().product(), x.shape()[axis..].iter().product()];
            x.map_layout(
                |a| a.as_standard_layout().into_owned().into_shape_with_order(IxDyn(&dims)).ok(),
                |a| a.as_standard_layout().into_owned().into_shape_with_order(IxDyn(&dims)).ok(),
            )
        }
        "Squeeze" | "Unsqueeze" => {
            let axes: Vec<i64> = match attr_ints(node, "axes") {
                Some(a) => a.to_vec(),
                None => match arg(1) {
                    Some(v) => v.as_i64()?.iter().copied().collect(),
                    None => vec![],
                },
            };
            let dims = if node.op_type == "Squeeze" {
                squeeze_dims(x.shape(), &axes)?
            } else {
                unsqueeze_dims(x.shape(), &axes)?
            };
            x.map_layout(
                |a| a.as_standard_layout().into_owned().into_shape_with_order(IxDyn(&dims)).ok(),
                |a| a.as_standard_layout().into_owned().into_shape_with_order(IxDyn(&dims)).ok(),
            )
        }
        "Transpose" => {
            let rank = x.shape().len();
            let perm: Vec<usize> = match attr_ints(node, "perm") {
                Some(p) => p.iter().map(|&v| usize::try_from(v).ok()).collect::<Option<_>>()?,
                None => (0..rank).rev().collect(),
            };
            let mut seen = perm.clone();
            seen.sort_unstable();
            if seen != (0..rank).collect::<Vec<_>>() {
                return None;
            }
            x.map_layout(
                |a| Some(a.clone().permuted_axes(IxDyn(&perm)).as_standard_layout().into_owned()),
                |a| Some(a.clone().permuted_axes(IxDyn(&perm)).as_standard_layout().into_owned()),
            )
        }
        "Concat" => {
            let rank = x.shape().len() as i64;
            let axis = attr_i(node, "axis")?;
            let axis = usize::try_from(if axis < 0 { axis + rank } else { axis }).ok()?;
            let all: Vec<&Value> = inputs.iter().flatten().collect();
            match x {
                Value::F32(_) => {
                    let views: Vec<_> =
                        all.iter().map(|v| v.as_f32().map(|a| a.view())).collect::<Option<_>>()?;
                    ndarray::concatenate(Axis(axis), &views).ok().map(Value::F32)
                }
                Value::I64(_) => {
                    let views: Vec<_> =
                        all.iter().map(|v| v.as_i64().map(|a| a.view())).collect::<Option<_>>()?;
                    ndarray::concatenate(Axis(axis), &views).ok().map(Value::I64)
                }
            }
        }
        "Add" | "Sub" | "Mul" | "Div" => binary(&node.op_type, x, arg(1)?),
        "Neg" => x.map_layout(|a| Some(a.mapv(|v| -v)), |a| Some(a.mapv(|v| v.wrapping_neg()))),
        "Sqrt" => Some(Value::F32(x.as_f32()?.mapv(f32::sqrt))),
        "Reciprocal" => Some(Value::F32(x.as_f32()?.mapv(|v| 1.0 / v))),
        _ => None,
    }?;
    (value.len() <= MAX_FOLDED_ELEMENTS).then_some(value)
}

fn cast(x: &Value, to: i64) -> Option<Value> {
    Some(match (x, to) {
        (Value::F32(a), 1) => Value::F32(a.clone()),
        (Value::I64(a), 7) => Value::I64(a.clone()),
        (Value::I64(a), 1) => Value::F32(a.mapv(|v| v as f32)),
        // ONNX Cast float → int truncates toward zero, as `as` does for in-range values.
        (Value::F32(a), 7) if a.iter().all(|v| v.is_finite() && v.abs() < 9.0e18) => {
            Value::I64(a.mapv(|v| v as i64))
        }
        _ => return None,
    })
}

/// Reshape's output dims: 0 copies the input dim (unless `allowzero`), one -1 is inferred.
fn reshape_dims(input: &[usize], shape: &[i64], allowzero: bool) -> Option<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut dims = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (ix, &d) in shape.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(ix);
                dims.push(1);
            }
            0 if !allowzero => dims.push(*input.get(ix)?),
            d if d >= 0 => dims.push(d as usize),
            _ => return None,
        }
    }
    if let Some(ix) = infer {
        let known: usize = dims.iter().product();
        if known == 0 || total % known != 0 {
            return None;
        }
        dims[ix] = total / known;
    }
    (dims.iter().product::<usize>() == total).then_some(dims)
}

fn squeeze_dims(input: &[usize], axes: &[i64]) -> Option<Vec<usize>> {
    let rank = input.len() as i64;
    let axes: Vec<usize> = axes
        .iter()
        .map(|&a| usize::try_from(if a < 0 { a + rank } else { a }).ok())
        .collect::<Option<_>>()?;
    if axes.iter().any(|&a| input.get(a) != Some(&1)) {
        return None;
    }
    Some(
        input
            .iter()
            .enumerate()
            .filter(|(ix, &d)| if axes.is_empty() { d != 1 } else { !axes.contains(ix) })
            .map(|(_, &d)| d)
            .collect(),
    )
}

fn unsqueeze_dims(input: &[usize], axes: &[i64]) -> Option<Vec<usize>> {
    let rank = (input.len() + axes.len()) as i64;
    let mut axes: Vec<usize> = axes
        .iter()
        .map(|&a| usize::try_from(if a < 0 { a + rank } else { a }).ok().filter(|&a| a < rank as usize))
        .collect::<Option<_>>()?;
    axes.sort_unstable();
    let mut dims = input.to_vec();
    for a in axes {
        if a > dims.len() {
            return None;
        }
        dims.insert(a, 1);
    }
    Some(dims)
}

/// NumPy broadcasting of two shapes.
fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    (0..rank)
        .map(|ix| {
            let da = if ix + a.len() >= rank { a[ix + a.len() - rank] } else { 1 };
            let db = if ix + b.len() >= rank { b[ix + b.len() - rank] } else { 1 };
            match (da, db) {
                (x, y) if x == y => Some(x),
                (1, y) => Some(y),
                (x, 1) => Some(x),
                _ => None,
            }
        })
        .collect()
}

fn binary(op: &str, a: &Value, b: &Value) -> Option<Value> {
    let shape = broadcast_shape(a.shape(), b.shape())?;
    fn zip<T: Copy>(
        a: &ArrayD<T>,
        b: &ArrayD<T>,
        shape: &[usize],
        f: impl Fn(T, T) -> Option<T>,
    ) -> Option<ArrayD<T>> {
        let (a, b) = (a.broadcast(IxDyn(shape))?, b.broadcast(IxDyn(shape))?);
        let values: Vec<T> = a.iter().zip(b.iter()).map(|(&x, &y)| f(x, y)).collect::<Option<_>>()?;
        ArrayD::from_shape_vec(IxDyn(shape), values).ok()
    }
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => {
            let f: fn(f32, f32) -> Option<f32> = match op {
                "Add" => |a: f32, b: f32| Some(a + b),
                "Sub" => |a: f32, b: f32| Some(a - b),
                "Mul" => |a: f32, b: f32| Some(a * b),
                _ => |a: f32, b: f32| Some(a / b),
            };
            zip(x, y, &shape, f).map(Value::F32)
        }
        (Value::I64(x), Value::I64(y)) => {
            let f: fn(i64, i64) -> Option<i64> = match op {
                "Add" => |a: i64, b: i64| a.checked_add(b),
                "Sub" => |a: i64, b: i64| a.checked_sub(b),
                "Mul" => |a: i64, b: i64| a.checked_mul(b),
                // Integer Div truncates toward zero (C semantics, as ONNX Runtime computes it).
                _ => |a: i64, b: i64| a.checked_div(b),
            };
            zip(x, y, &shape, f).map(Value::I64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_helpers() {
        assert_eq!(reshape_dims(&[2, 3, 4], &[0, -1], false), Some(vec![2, 12]));
        assert_eq!(reshape_dims(&[2, 3, 4], &[-1, -1], false), None);
        assert_eq!(reshape_dims(&[2, 3, 4], &[5, -1], false), None);
        assert_eq!(squeeze_dims(&[1, 3, 1], &[]), Some(vec![3]));
        assert_eq!(squeeze_dims(&[1, 3, 1], &[-1]), Some(vec![1, 3]));
        assert_eq!(squeeze_dims(&[1, 3, 1], &[1]), None);
        assert_eq!(unsqueeze_dims(&[3, 4], &[0, -1]), Some(vec![1, 3, 4, 1]));
        assert_eq!(broadcast_shape(&[3, 1], &[4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shape(&[3], &[4]), None);
    }

    #[test]
    fn integer_division_truncates_and_refuses_zero() {
        let a = Value::I64(ArrayD::from_shape_vec(IxDyn(&[2]), vec![-7, 7]).unwrap());
        let two = Value::I64(ArrayD::from_elem(IxDyn(&[]), 2));
        let zero = Value::I64(ArrayD::from_elem(IxDyn(&[]), 0));
        assert_eq!(binary("Div", &a, &two).unwrap().as_i64().unwrap().as_slice().unwrap(), &[-3, 3]);
        assert_eq!(binary("Div", &a, &zero), None);
    }
}
