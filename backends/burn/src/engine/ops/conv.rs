//! Conv, MaxPool, AveragePool (1-D and 2-D, on burn's 2-D kernels) and GlobalAveragePool.

use super::Inputs;
use crate::engine::attrs::Attrs;
use crate::engine::value::{FloatValue, Value, MAX_RANK};
use burn::tensor::module;
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use burn::tensor::Tensor;

/// Spatial geometry of a Conv or pool node, normalized to two spatial dims (1-D ops get a
/// leading spatial dim of 1).
struct Window {
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [(usize, usize); 2],
}

/// Reads kernel/strides/dilations/pads/auto_pad for `spatial` input dims `input`.
fn window(a: &Attrs<'_>, kernel: &[usize], input: &[usize]) -> Result<Window, String> {
    let s = input.len();
    let list = |name: &str, default: usize| -> Result<Vec<usize>, String> {
        match a.ints(name) {
            None => Ok(vec![default; s]),
            Some(v) if v.len() == s && v.iter().all(|&x| x > 0) => {
                Ok(v.iter().map(|&x| x as usize).collect())
            }
            Some(v) => Err(format!("{name} {v:?} must hold {s} positive values")),
        }
    };
    let stride = list("strides", 1)?;
    let dilation = list("dilations", 1)?;
    let auto_pad = a.string("auto_pad", "NOTSET");
    let pads: Vec<(usize, usize)> = match auto_pad.as_str() {
        "NOTSET" => match a.ints("pads") {
            None => vec![(0, 0); s],
            Some(p) if p.len() == 2 * s && p.iter().all(|&x| x >= 0) => {
                (0..s).map(|i| (p[i] as usize, p[i + s] as usize)).collect()
            }
            Some(p) => Err(format!("pads {p:?} must hold {} non-negative values", 2 * s))?,
        },
        "VALID" => vec![(0, 0); s],
        "SAME_UPPER" | "SAME_LOWER" => (0..s)
            .map(|i| {
                let out = input[i].div_ceil(stride[i]);
                let span = (kernel[i] - 1) * dilation[i] + 1;
                let total = ((out - 1) * stride[i] + span).saturating_sub(input[i]);
                // SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
                let small = total / 2;
                if auto_pad == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                }
            })
            .collect(),
        other => return Err(format!("auto_pad '{other}' is not an ONNX padding mode")),
    };
    let two = |v: &[usize], fill: usize| if s == 1 { [fill, v[0]] } else { [v[0], v[1]] };
    let pads = if s == 1 { [(0, 0), pads[0]] } else { [pads[0], pads[1]] };
    Ok(Window {
        kernel: two(kernel, 1),
        stride: two(&stride, 1),
        dilation: two(&dilation, 1),
        pads,
    })
}

/// The input as a rank-4 tensor (rank-3 inputs get a spatial dim of 1), or why not.
fn as_4d(x: &FloatValue, op: &str) -> Result<Tensor<4>, String> {
    let shape = x.shape();
    match shape.len() {
        4 => Ok(x.to_rank::<4>()),
        3 => Ok(x.clone().reshape(&[shape[0], shape[1], 1, shape[2]])?.to_rank::<4>()),
        _ => Err(format!(
            "{op} on input of shape {shape:?}: the burn backend runs 1-D and 2-D {op} only"
        )),
    }
}

/// Back to the input's rank after a 2-D kernel.
fn from_4d(y: Tensor<4>, rank: usize) -> Result<Value, String> {
    let y = FloatValue::from_rank(y);
    if rank == 3 {
        let [n, c, _, l] = y.t.dims()[MAX_RANK - 4..] else { unreachable!("rank 4") };
        return y.reshape(&[n, c, l]).map(Value::Float);
    }
    Ok(Value::Float(y))
}

/// Conv (groups, pads, strides, dilations, auto_pad, bias).
pub(crate) fn conv(inputs: &Inputs<'_>) -> Result<Value, String> {
    let (x, w) = (inputs.float(0)?, inputs.float(1)?);
    let (xs, ws) = (x.shape(), w.shape());
    if ws.len() != xs.len() || xs.len() < 3 {
        return Err(format!("input {xs:?} and weight {ws:?} must have the same rank, 3 or 4"));
    }
    let a = Attrs(inputs.node);
    let group = a.int("group", 1);
    if group < 1 {
        return Err(format!("group {group} must be positive"));
    }
    let group = group as usize;
    if xs[1] != ws[1] * group || ws[0] % group != 0 {
        return Err(format!(
            "input {xs:?} and weight {ws:?} do not fit group={group} (need C = weight[1] * \
             group and M divisible by group)"
        ));
    }
    if let Some(k) = a.ints("kernel_shape") {
        if k.iter().map(|&v| v as usize).ne(ws[2..].iter().copied()) {
            return Err(format!("kernel_shape {k:?} differs from the weight's {:?}", &ws[2..]));
        }
    }
    let win = window(&a, &ws[2..], &xs[2..])?;
    let bias = match inputs.opt_float(2)? {
        Some(b) if b.shape() == [ws[0]] => Some(b.to_rank::<1>()),
        Some(b) => return Err(format!("bias of shape {:?} must be [{}]", b.shape(), ws[0])),
        None => None,
    };
    let options = ConvOptions {
        stride: win.stride,
        padding: win.pads,
        dilation: win.dilation,
        groups: group,
    };
    let y = module::conv2d(as_4d(&x, "Conv")?, as_4d(&w, "Conv")?, bias, options);
    from_4d(y, xs.len())
}

/// MaxPool / AveragePool.
pub(crate) fn pool(inputs: &Inputs<'_>) -> Result<Value, String> {
    let node = inputs.node;
    if node.output.len() > 1 && !node.output[1].is_empty() {
        return Err("MaxPool's Indices output is not supported".into());
    }
    let x = inputs.float(0)?;
    let xs = x.shape();
    let a = Attrs(node);
    let kernel: Vec<usize> = match a.ints("kernel_shape") {
        Some(k) if k.len() + 2 == xs.len() && k.iter().all(|&v| v > 0) => {
            k.iter().map(|&v| v as usize).collect()
        }
        other => {
            return Err(format!("kernel_shape {other:?} does not fit an input of shape {xs:?}"))
        }
    };
    let ceil = a.int("ceil_mode", 0) != 0;
    let win = window(&a, &kernel, &xs[2..])?;
    let x4 = as_4d(&x, &node.op_type)?;
    let y = if node.op_type == "MaxPool" {
        let options = MaxPoolOptions {
            kernel_size: win.kernel,
            stride: win.stride,
            padding: win.pads,
            dilation: win.dilation,
            ceil_mode: ceil,
        };
        module::max_pool2d(x4, options)
    } else {
        if win.dilation != [1, 1] {
            return Err("AveragePool with dilations is not supported".into());
        }
        let options = AvgPoolOptions {
            kernel_size: win.kernel,
            stride: win.stride,
            padding: win.pads,
            count_include_pad: a.int("count_include_pad", 0) != 0,
            ceil_mode: ceil,
        };
        module::avg_pool2d(x4, options)
    };
    from_4d(y, xs.len())
}

/// GlobalAveragePool: the mean over every spatial dim, kept as size-1 dims.
pub(crate) fn global_average_pool(inputs: &Inputs<'_>) -> Result<Value, String> {
    let x = inputs.float(0)?;
    if x.rank < 3 {
        return Err(format!("input of shape {:?} has no spatial dims", x.shape()));
    }
    let first = MAX_RANK - x.rank + 2;
    let dims: Vec<usize> = (first..MAX_RANK).collect();
    Ok(Value::Float(FloatValue::new(x.t.mean_dims(&dims), x.rank)))
}
