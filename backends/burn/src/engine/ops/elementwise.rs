//! Element-wise kernels: broadcasting arithmetic, activations, Clip, Softmax.

use super::{broadcast_shape, Cx, Inputs};
use crate::engine::attrs::{axis, Attrs};
use crate::engine::value::{FloatValue, Value, MAX_RANK};
use burn::tensor::activation;
use ndarray::{ArrayD, IxDyn, Zip};

/// Add / Sub / Mul / Div with numpy broadcasting; on the host when both sides are integers
/// (shape arithmetic), on the device otherwise.
pub(crate) fn binary(inputs: &Inputs<'_>) -> Result<Value, String> {
    let op = inputs.node.op_type.as_str();
    if let (Value::Int(a), Value::Int(b)) = (inputs.value(0)?, inputs.value(1)?) {
        return int_binary(op, a, b).map(Value::Int);
    }
    let (a, b) = (inputs.float(0)?, inputs.float(1)?);
    let out = broadcast_shape(&a.shape(), &b.shape())?;
    let rank = out.len();
    let t = match op {
        "Add" => a.t.add(b.t),
        "Sub" => a.t.sub(b.t),
        "Mul" => a.t.mul(b.t),
        _ => a.t.div(b.t),
    };
    Ok(Value::Float(FloatValue::new(t, rank)))
}

fn int_binary(op: &str, a: &ArrayD<i64>, b: &ArrayD<i64>) -> Result<ArrayD<i64>, String> {
    let shape = broadcast_shape(a.shape(), b.shape())?;
    let dim = IxDyn(&shape);
    let (a, b) = match (a.broadcast(dim.clone()), b.broadcast(dim)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(format!("shapes {:?} and {:?} do not broadcast", a.shape(), b.shape())),
    };
    if op == "Div" && b.iter().any(|&v| v == 0) {
        return Err("integer division by zero".into());
    }
    Ok(Zip::from(&a).and(&b).map_collect(|&x, &y| match op {
        "Add" => x.wrapping_add(y),
        "Sub" => x.wrapping_sub(y),
        "Mul" => x.wrapping_mul(y),
        // ONNX integer Div truncates toward zero, as Rust's `/` does.
        _ => x.wrapping_div(y),
    }))
}

/// Relu / Sigmoid / Tanh.
pub(crate) fn unary(inputs: &Inputs<'_>) -> Result<Value, String> {
    let x = inputs.float(0)?;
    let t = match inputs.node.op_type.as_str() {
        "Relu" => activation::relu(x.t),
        "Sigmoid" => activation::sigmoid(x.t),
        _ => activation::tanh(x.t),
    };
    Ok(Value::Float(FloatValue::new(t, x.rank)))
}

/// Clip: bounds from inputs 1 and 2 (opset 11+) or the `min` / `max` attributes.
pub(crate) fn clip(inputs: &Inputs<'_>, cx: &Cx<'_>) -> Result<Value, String> {
    let x = inputs.float(0)?;
    let bound = |i: usize, attr: &str| -> Result<Option<f32>, String> {
        if cx.opset < 11 {
            let a = Attrs(inputs.node);
            return Ok(a.has(attr).then(|| a.float(attr, 0.0)));
        }
        match inputs.opt_float(i)? {
            Some(v) if v.len() == 1 => Ok(v.to_array()?.iter().next().copied()),
            Some(v) => Err(format!("{attr} must be a scalar, got shape {:?}", v.shape())),
            None => Ok(None),
        }
    };
    let (lo, hi) = (bound(1, "min")?, bound(2, "max")?);
    let mut t = x.t;
    if let Some(lo) = lo {
        t = t.clamp_min(lo);
    }
    if let Some(hi) = hi {
        t = t.clamp_max(hi);
    }
    Ok(Value::Float(FloatValue::new(t, x.rank)))
}

/// Softmax: along `axis` (opset 13+, default -1), or over the flattened trailing dims from
/// `axis` on (before 13, default 1).
pub(crate) fn softmax(inputs: &Inputs<'_>, cx: &Cx<'_>) -> Result<Value, String> {
    let x = inputs.float(0)?;
    let shape = x.shape();
    let a = Attrs(inputs.node);
    if cx.opset >= 13 {
        let ax = axis(a.int("axis", -1), x.rank)?;
        let t = activation::softmax(x.t, ax + MAX_RANK - x.rank);
        return Ok(Value::Float(FloatValue::new(t, shape.len())));
    }
    let ax = if shape.is_empty() { 0 } else { axis(a.int("axis", 1), x.rank)? };
    let rows: usize = shape[..ax].iter().product();
    let cols: usize = shape[ax..].iter().product();
    let flat = x.reshape(&[rows, cols])?;
    let t = activation::softmax(flat.t, MAX_RANK - 1);
    FloatValue::new(t, 2).reshape(&shape).map(Value::Float)
}
