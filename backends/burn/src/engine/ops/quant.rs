//! QuantizeLinear / DequantizeLinear exactly as ONNX defines them: `y = saturate(round(x /
//! scale) + zero_point)` with round half to even, and `y = (x - zero_point) * scale`, per
//! tensor or per axis. Quantized values stay f32 (integers, exact), which is how the int8
//! simulation runs on any burn device.

use super::{Cx, Inputs};
use crate::engine::attrs::{axis, Attrs};
use crate::engine::constant::elem;
use crate::engine::value::{FloatValue, Value};

/// A scale or zero point shaped to broadcast against an input of shape `shape`: scalars as
/// they are, 1-D parameters along `axis`.
fn param(p: FloatValue, shape: &[usize], a: &Attrs<'_>, name: &str) -> Result<FloatValue, String> {
    if a.int("block_size", 0) != 0 {
        return Err("blocked quantization (block_size) is not supported".into());
    }
    match p.shape().as_slice() {
        [] => Ok(p),
        [1] => p.reshape(&[]),
        [n] => {
            let ax = axis(a.int("axis", 1), shape.len())?;
            if shape[ax] != *n {
                return Err(format!(
                    "{name} has {n} values but axis {ax} of the input {shape:?} has {}",
                    shape[ax]
                ));
            }
            let mut s = vec![1; shape.len()];
            s[ax] = *n;
            p.reshape(&s)
        }
        other => Err(format!("{name} of shape {other:?} must be a scalar or 1-D")),
    }
}

/// The saturation range of the output type, which is the zero point's type (uint8 without
/// one, or `output_dtype` from opset 21).
fn range(inputs: &Inputs<'_>, cx: &Cx<'_>) -> Result<(f32, f32), String> {
    let node = inputs.node;
    let dtype = match node.input.get(2).filter(|n| !n.is_empty()) {
        Some(zp) => (cx.elem_type)(zp).ok_or_else(|| {
            format!("zero point '{zp}' must be a constant (its type sets the output type)")
        })?,
        None => match Attrs(node).int("output_dtype", 0) {
            0 => elem::UINT8,
            t => t as i32,
        },
    };
    match dtype {
        elem::INT8 => Ok((-128.0, 127.0)),
        elem::UINT8 => Ok((0.0, 255.0)),
        elem::INT16 => Ok((-32768.0, 32767.0)),
        elem::UINT16 => Ok((0.0, 65535.0)),
        other => Err(format!("output element type {other} is not an 8- or 16-bit integer")),
    }
}

/// QuantizeLinear.
pub(crate) fn quantize_linear(inputs: &Inputs<'_>, cx: &Cx<'_>) -> Result<Value, String> {
    let a = Attrs(inputs.node);
    let x = inputs.float(0)?;
    let shape = x.shape();
    let scale = param(inputs.float(1)?, &shape, &a, "scale")?;
    let (lo, hi) = range(inputs, cx)?;
    let mut q = x.t.div(scale.t).round();
    if let Some(zp) = inputs.opt_float(2)? {
        q = q.add(param(zp, &shape, &a, "zero point")?.t);
    }
    Ok(Value::Float(FloatValue::new(q.clamp(lo, hi), shape.len())))
}

/// DequantizeLinear.
pub(crate) fn dequantize_linear(inputs: &Inputs<'_>) -> Result<Value, String> {
    let a = Attrs(inputs.node);
    let x = inputs.float(0)?;
    let shape = x.shape();
    let scale = param(inputs.float(1)?, &shape, &a, "scale")?;
    let mut t = x.t;
    if let Some(zp) = inputs.opt_float(2)? {
        t = t.sub(param(zp, &shape, &a, "zero point")?.t);
    }
    Ok(Value::Float(FloatValue::new(t.mul(scale.t), shape.len())))
}
