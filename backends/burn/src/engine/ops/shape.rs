//! Shape and layout kernels. Integer values (shapes, axes, pads) are computed on the host, so a
//! `Shape → Slice → Concat → Pad` chain never touches the device; float data moves with burn.

use super::{Cx, Inputs};
use crate::engine::attrs::{axis, Attrs};
use crate::engine::constant::{elem, is_float};
use crate::engine::value::{FloatValue, Value, MAX_RANK};
use burn::tensor::ops::PadMode;
use burn::tensor::{Int, Tensor, TensorData};
use ndarray::{Axis, IxDyn, Slice as NdSlice};

fn int_vec(values: Vec<i64>) -> Value {
    Value::Int(ndarray::Array1::from(values).into_dyn())
}

/// A value under a new shape with the same element count (checked here).
fn reshaped(v: &Value, shape: &[usize]) -> Result<Value, String> {
    let len: usize = shape.iter().product();
    let have: usize = v.shape().iter().product();
    if len != have {
        return Err(format!("cannot reshape {} ({have} values) to {shape:?}", v.describe()));
    }
    match v {
        Value::Float(f) => f.clone().reshape(shape).map(Value::Float),
        Value::Int(a) => a
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(shape))
            .map(Value::Int)
            .map_err(|e| e.to_string()),
    }
}

/// Shape (with the opset-15 `start` / `end` window).
pub(crate) fn shape(inputs: &Inputs<'_>) -> Result<Value, String> {
    let s = inputs.value(0)?.shape();
    let a = Attrs(inputs.node);
    let r = s.len() as i64;
    let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (start, end) = (clampi(a.int("start", 0)), clampi(a.int("end", r)));
    let dims = if start < end { &s[start..end] } else { &[][..] };
    Ok(int_vec(dims.iter().map(|&d| d as i64).collect()))
}

/// Reshape: 0 copies the input dim (unless `allowzero`), -1 is inferred.
pub(crate) fn reshape(inputs: &Inputs<'_>) -> Result<Value, String> {
    let v = inputs.value(0)?;
    let src = v.shape();
    let spec = inputs.int_list(1)?.ok_or("the shape input is missing")?;
    let allow_zero = Attrs(inputs.node).int("allowzero", 0) != 0;
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allow_zero => out.push(
                *src.get(i).ok_or_else(|| format!("shape {spec:?}: no input dim {i} to copy"))?,
            ),
            d if d >= 0 => out.push(d as usize),
            _ => return Err(format!("shape {spec:?} is not a valid Reshape target")),
        }
    }
    if let Some(i) = infer {
        let known: usize = out.iter().product();
        let total: usize = src.iter().product();
        if known == 0 || total % known != 0 {
            return Err(format!("cannot infer the -1 of {spec:?} for input shape {src:?}"));
        }
        out[i] = total / known;
    }
    reshaped(v, &out)
}

/// Flatten to 2-D at `axis` (default 1).
pub(crate) fn flatten(inputs: &Inputs<'_>) -> Result<Value, String> {
    let v = inputs.value(0)?;
    let s = v.shape();
    let a = Attrs(inputs.node).int("axis", 1);
    let ax = if a == s.len() as i64 { s.len() } else { axis(a, s.len())? };
    reshaped(v, &[s[..ax].iter().product(), s[ax..].iter().product()])
}

/// Transpose by `perm` (default: reversed dims).
pub(crate) fn transpose(inputs: &Inputs<'_>) -> Result<Value, String> {
    let v = inputs.value(0)?;
    let rank = v.shape().len();
    let perm: Vec<usize> = match Attrs(inputs.node).ints("perm") {
        Some(p) => p.iter().map(|&x| axis(x, rank)).collect::<Result<_, _>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = perm.clone();
    seen.sort_unstable();
    if seen != (0..rank).collect::<Vec<_>>() {
        return Err(format!("perm {perm:?} is not a permutation of {rank} axes"));
    }
    match v {
        Value::Int(a) => Ok(Value::Int(a.clone().permuted_axes(IxDyn(&perm)))),
        Value::Float(f) => {
            let off = MAX_RANK - rank;
            let mut full: [usize; MAX_RANK] = std::array::from_fn(|i| i);
            for (i, &p) in perm.iter().enumerate() {
                full[off + i] = off + p;
            }
            Ok(Value::Float(FloatValue::new(f.t.clone().permute(full), rank)))
        }
    }
}

/// Concat along `axis`: on the host when every input is an integer value.
pub(crate) fn concat(inputs: &Inputs<'_>) -> Result<Value, String> {
    let values: Vec<&Value> = inputs.values.iter().flatten().collect();
    let first = values.first().ok_or("Concat has no inputs")?;
    let rank = first.shape().len();
    let ax = axis(Attrs(inputs.node).int("axis", 0), rank)?;
    for v in &values {
        let s = v.shape();
        let fits = s.len() == rank
            && s.iter().zip(first.shape()).enumerate().all(|(i, (a, b))| i == ax || *a == b);
        if !fits {
            return Err(format!(
                "inputs {} and {} differ outside axis {ax}",
                first.describe(),
                v.describe()
            ));
        }
    }
    if values.iter().all(|v| matches!(v, Value::Int(_))) {
        let views: Vec<_> = values
            .iter()
            .filter_map(|v| if let Value::Int(a) = v { Some(a.view()) } else { None })
            .collect();
        return ndarray::concatenate(Axis(ax), &views).map(Value::Int).map_err(|e| e.to_string());
    }
    let floats: Vec<Tensor<MAX_RANK>> = values
        .iter()
        .map(|v| super::to_float(v, inputs.device).map(|f| f.t))
        .collect::<Result<_, _>>()?;
    Ok(Value::Float(FloatValue::new(Tensor::cat(floats, ax + MAX_RANK - rank), rank)))
}

/// The normalized `[start, end)` window of one Slice axis of size `dim` (positive steps).
fn window(start: i64, end: i64, step: i64, dim: usize) -> Result<(usize, usize), String> {
    if step <= 0 {
        return Err(format!("step {step}: the burn backend slices with positive steps only"));
    }
    let d = dim as i64;
    let norm = |v: i64| (if v < 0 { v + d } else { v }).clamp(0, d) as usize;
    let (s, e) = (norm(start), norm(end));
    Ok((s, e.max(s)))
}

/// Slice: starts/ends/axes/steps from inputs (opset 10+) or attributes (before 10).
pub(crate) fn slice(inputs: &Inputs<'_>, cx: &Cx<'_>) -> Result<Value, String> {
    let v = inputs.value(0)?;
    let shape = v.shape();
    let rank = shape.len();
    let a = Attrs(inputs.node);
    let (starts, ends, axes, steps) = if cx.opset < 10 {
        let list = |n: &str| a.ints(n).map(<[i64]>::to_vec);
        (list("starts").unwrap_or_default(), list("ends").unwrap_or_default(), list("axes"), None)
    } else {
        let need = |i: usize, n: &str| inputs.int_list(i)?.ok_or(format!("{n} input is missing"));
        (need(1, "starts")?, need(2, "ends")?, inputs.int_list(3)?, inputs.int_list(4)?)
    };
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("starts, ends, axes and steps must have the same length".into());
    }
    // Per axis: (start, end, step); untouched axes keep everything.
    let mut ranges: Vec<(usize, usize, usize)> = shape.iter().map(|&d| (0, d, 1)).collect();
    for i in 0..starts.len() {
        let ax = axis(axes[i], rank)?;
        let (s, e) = window(starts[i], ends[i], steps[i], shape[ax])?;
        ranges[ax] = (s, e, steps[i] as usize);
    }
    match v {
        Value::Int(arr) => {
            let mut out = arr.view();
            for (ax, &(s, e, step)) in ranges.iter().enumerate() {
                out.slice_axis_inplace(
                    Axis(ax),
                    NdSlice::new(s as isize, Some(e as isize), step as isize),
                );
            }
            Ok(Value::Int(out.to_owned()))
        }
        Value::Float(f) => {
            let mut t = f.t.clone();
            let off = MAX_RANK - rank;
            for (ax, &(s, e, step)) in ranges.iter().enumerate() {
                if (s, e, step) == (0, shape[ax], 1) {
                    continue;
                }
                if step == 1 {
                    t = t.slice_dim(off + ax, s..e);
                } else {
                    let idx: Vec<i64> = (s..e).step_by(step).map(|i| i as i64).collect();
                    let ix = Tensor::<1, Int>::from_data(
                        TensorData::new(idx.clone(), [idx.len()]),
                        inputs.device,
                    );
                    t = t.select(off + ax, ix);
                }
            }
            Ok(Value::Float(FloatValue::new(t, rank)))
        }
    }
}

/// Gather along `axis` with integer indices of any rank (negative ones count from the end):
/// the flattened indices select, then the result takes the ONNX output shape.
pub(crate) fn gather(inputs: &Inputs<'_>) -> Result<Value, String> {
    let v = inputs.value(0)?;
    let shape = v.shape();
    let ax = axis(Attrs(inputs.node).int("axis", 0), shape.len())?;
    let idx = inputs.int(1)?;
    let dim = shape[ax] as i64;
    let flat: Vec<usize> = idx
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim } else { i };
            if (0..dim).contains(&j) {
                Ok(j as usize)
            } else {
                Err(format!("index {i} is out of range for axis {ax} of size {dim}"))
            }
        })
        .collect::<Result<_, _>>()?;
    // Output shape: data[..axis] ++ indices.shape ++ data[axis+1..].
    let mut out: Vec<usize> = shape[..ax].to_vec();
    out.extend_from_slice(idx.shape());
    out.extend_from_slice(&shape[ax + 1..]);
    let picked = match v {
        Value::Int(a) => Value::Int(a.select(Axis(ax), &flat)),
        Value::Float(f) => {
            let ix: Vec<i64> = flat.iter().map(|&i| i as i64).collect();
            let ix = Tensor::<1, Int>::from_data(TensorData::new(ix, [flat.len()]), inputs.device);
            Value::Float(FloatValue::new(
                f.t.clone().select(MAX_RANK - shape.len() + ax, ix),
                shape.len(),
            ))
        }
    };
    reshaped(&picked, &out)
}

/// Unsqueeze / Squeeze: `axes` from the attribute (before opset 13) or input 1.
pub(crate) fn squeeze_unsqueeze(inputs: &Inputs<'_>, cx: &Cx<'_>) -> Result<Value, String> {
    let v = inputs.value(0)?;
    let shape = v.shape();
    let axes: Option<Vec<i64>> = if cx.opset < 13 {
        Attrs(inputs.node).ints("axes").map(<[i64]>::to_vec)
    } else {
        inputs.int_list(1)?
    };
    let out = if inputs.node.op_type == "Unsqueeze" {
        let axes = axes.ok_or("Unsqueeze needs axes")?;
        let rank = shape.len() + axes.len();
        let mut axes: Vec<usize> = axes.iter().map(|&a| axis(a, rank)).collect::<Result<_, _>>()?;
        axes.sort_unstable();
        let mut out = shape.clone();
        for a in axes {
            out.insert(a, 1);
        }
        out
    } else {
        let axes: Vec<usize> = match axes {
            Some(a) => a.iter().map(|&x| axis(x, shape.len())).collect::<Result<_, _>>()?,
            None => (0..shape.len()).filter(|&i| shape[i] == 1).collect(),
        };
        if let Some(&bad) = axes.iter().find(|&&a| shape[a] != 1) {
            return Err(format!("cannot squeeze axis {bad} of size {}", shape[bad]));
        }
        shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
    };
    reshaped(v, &out)
}

/// Cast between float (device) and integer (host) values.
pub(crate) fn cast(inputs: &Inputs<'_>) -> Result<Value, String> {
    let to = Attrs(inputs.node).int("to", 0) as i32;
    let v = inputs.value(0)?;
    if is_float(to) {
        return super::to_float(v, inputs.device).map(Value::Float);
    }
    match to {
        elem::INT64
        | elem::INT32
        | elem::INT16
        | elem::INT8
        | elem::UINT8
        | elem::UINT16
        | elem::UINT32
        | elem::UINT64
        | elem::BOOL => {
            let a = super::to_int(v)?;
            Ok(Value::Int(if to == elem::BOOL { a.mapv(|x| i64::from(x != 0)) } else { a }))
        }
        other => Err(format!("cast to element type {other} is not supported")),
    }
}

/// Pad (constant / reflect / edge), pads from input 1 (opset 11+) or the attribute.
pub(crate) fn pad(inputs: &Inputs<'_>, cx: &Cx<'_>) -> Result<Value, String> {
    let a = Attrs(inputs.node);
    let x = inputs.float(0)?;
    let rank = x.rank;
    let (pads, value, axes) = if cx.opset < 11 {
        let p = a.ints("pads").ok_or("the pads attribute is missing")?.to_vec();
        (p, a.float("value", 0.0), None)
    } else {
        let p = inputs.int_list(1)?.ok_or("the pads input is missing")?;
        let value = match inputs.opt_float(2)? {
            Some(v) => v.to_array()?.iter().next().copied().unwrap_or(0.0),
            None => 0.0,
        };
        (p, value, inputs.int_list(3)?)
    };
    let axes: Vec<usize> = match axes {
        Some(ax) => ax.iter().map(|&v| axis(v, rank)).collect::<Result<_, _>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(format!("pads {pads:?} must hold 2 values per padded axis ({})", axes.len()));
    }
    if pads.iter().any(|&p| p < 0) {
        return Err(format!("pads {pads:?}: negative pads (cropping) are not supported"));
    }
    let mut pairs = vec![(0usize, 0usize); MAX_RANK];
    let n = axes.len();
    for (i, &ax) in axes.iter().enumerate() {
        pairs[MAX_RANK - rank + ax] = (pads[i] as usize, pads[i + n] as usize);
    }
    let mode = match a.string("mode", "constant").as_str() {
        "constant" => PadMode::Constant(value),
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        other => return Err(format!("pad mode '{other}' is not supported")),
    };
    let shape = x.shape();
    if let PadMode::Reflect = mode {
        for (i, &ax) in axes.iter().enumerate() {
            let p = pads[i].max(pads[i + n]) as usize;
            if p >= shape[ax] {
                return Err(format!(
                    "reflect pad {p} must be smaller than dim {ax} ({})",
                    shape[ax]
                ));
            }
        }
    }
    Ok(Value::Float(FloatValue::new(x.t.pad(pairs, mode), rank)))
}
