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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::constant::elem;
    use burn::tensor::Device;
    use calibr8_calibration::quantize_value;
    use calibr8_core::pb;

    fn node(op: &str, axis: Option<i64>) -> pb::NodeProto {
        pb::NodeProto {
            name: format!("{op}_test"),
            op_type: op.into(),
            input: vec!["x".into(), "scale".into(), "zp".into()],
            output: vec!["y".into()],
            attribute: axis
                .map(|a| pb::AttributeProto { name: "axis".into(), i: a, ..Default::default() })
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    fn float(values: &[f32], shape: &[usize], device: &Device) -> Option<Value> {
        Some(Value::Float(FloatValue::from_vec(values.to_vec(), shape, device).unwrap()))
    }

    /// Runs QuantizeLinear on `x` (shape `shape`) with 1-D or scalar parameters.
    fn quantize(x: &[f32], shape: &[usize], scale: &[f32], zp: &[f32], dtype: i32) -> Vec<f32> {
        let device = Device::flex();
        let pshape: &[usize] = if scale.len() > 1 { &[scale.len()] } else { &[] };
        let n = node("QuantizeLinear", (scale.len() > 1).then_some(1));
        let inputs = Inputs {
            node: &n,
            values: vec![
                float(x, shape, &device),
                float(scale, pshape, &device),
                float(zp, pshape, &device),
            ],
            device: &device,
        };
        let elem_type = move |_: &str| Some(dtype);
        let cx = Cx { device: &device, opset: 13, elem_type: &elem_type };
        match quantize_linear(&inputs, &cx).unwrap() {
            Value::Float(f) => f.to_array().unwrap().iter().copied().collect(),
            Value::Int(_) => unreachable!("QuantizeLinear yields float-held integers"),
        }
    }

    #[test]
    fn quantize_rounds_half_to_even_and_saturates_like_the_closed_form() {
        // x / 0.5 = 0.5, 1.5, -0.5, -1.5, 2.5, 200, -200, 0.2, -2.5: ties, saturation, plain.
        let x = [0.25, 0.75, -0.25, -0.75, 1.25, 100.0, -100.0, 0.1, -1.25];
        let got = quantize(&x, &[9], &[0.5], &[0.0], elem::INT8);
        let want: Vec<f32> =
            x.iter().map(|&v| quantize_value(v, 0.5, 0, -128, 127) as f32).collect();
        assert_eq!(got, want);
        assert_eq!(got, [0.0, 2.0, 0.0, -2.0, 2.0, 127.0, -128.0, 0.0, -2.0]);
        // uint8 with a zero point: saturates at 0 and 255.
        let got = quantize(&x, &[9], &[0.5], &[128.0], elem::UINT8);
        let want: Vec<f32> =
            x.iter().map(|&v| quantize_value(v, 0.5, 128, 0, 255) as f32).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn per_axis_quantize_and_dequantize_use_each_channels_parameters() {
        let device = Device::flex();
        let x = [0.35, -0.35, 1.0, 0.05, 0.3, -0.6];
        let (scale, zp) = ([0.1, 0.2, 0.4], [0.0, 1.0, -1.0]);
        let got = quantize(&x, &[2, 3], &scale, &zp, elem::INT8);
        let want: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| quantize_value(v, scale[i % 3], zp[i % 3] as i32, -128, 127) as f32)
            .collect();
        assert_eq!(got, want);

        let n = node("DequantizeLinear", Some(1));
        let inputs = Inputs {
            node: &n,
            values: vec![
                float(&got, &[2, 3], &device),
                float(&scale, &[3], &device),
                float(&zp, &[3], &device),
            ],
            device: &device,
        };
        let Value::Float(y) = dequantize_linear(&inputs).unwrap() else { unreachable!() };
        let want: Vec<f32> =
            got.iter().enumerate().map(|(i, &q)| (q - zp[i % 3]) * scale[i % 3]).collect();
        assert_eq!(y.to_array().unwrap().iter().copied().collect::<Vec<_>>(), want);
    }
}
