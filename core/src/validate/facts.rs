//! What can be known about every tensor before running: rank, dims, and the values of small
//! integer / float constants (shapes, axes, scales). One pass in topological order checks the
//! attributes of each op against its input ranks and refuses any tensor whose computed size is
//! over the memory budget, before an engine's constant folding would try to allocate it.

use super::{elem_size, node_at, show_bytes, Limits};
use crate::pb;
use std::collections::HashMap;

/// Small constants (shape vectors, axes, scales) are tracked by value up to this length.
const VALUES_MAX: u64 = 4096;

#[derive(Clone, Debug, Default)]
struct Fact {
    /// `None`: rank unknown; inner `None`: that dim unknown.
    dims: Option<Vec<Option<u64>>>,
    /// Values of a small integer tensor.
    ints: Option<Vec<i64>>,
    /// Values of a small float tensor.
    floats: Option<Vec<f64>>,
    /// Bytes per element (0: unknown, counted as 4).
    elem: u64,
    /// Computed from constants only (what constant folding evaluates before any input).
    constant: bool,
}

impl Fact {
    fn rank(&self) -> Option<usize> {
        self.dims.as_ref().map(Vec::len)
    }
    fn known_dims(&self) -> Option<Vec<u64>> {
        self.dims.as_ref()?.iter().copied().collect()
    }
    fn with_dims(dims: Vec<Option<u64>>, elem: u64) -> Fact {
        Fact { dims: Some(dims), elem, ..Fact::default() }
    }
    /// Values as f64, from either storage.
    fn numbers(&self) -> Option<Vec<f64>> {
        self.floats
            .clone()
            .or_else(|| self.ints.as_ref().map(|v| v.iter().map(|&x| x as f64).collect()))
    }
}

type Problem = (String, String);

/// Runs the pass over `graph` in `order`.
pub(super) fn check(
    graph: &pb::GraphProto,
    order: &[usize],
    opset: i64,
    limits: &Limits,
) -> Result<(), Problem> {
    let mut facts: HashMap<&str, Fact> = HashMap::new();
    for t in &graph.initializer {
        let mut f = tensor_fact(t);
        f.constant = true;
        facts.insert(&t.name, f);
    }
    for i in &graph.input {
        facts.entry(&i.name).or_insert_with(|| declared_fact(i));
    }
    for &ix in order {
        let node = &graph.node[ix];
        let ins: Vec<Fact> = node
            .input
            .iter()
            .map(|i| {
                if i.is_empty() {
                    Fact::default()
                } else {
                    facts.get(i.as_str()).cloned().unwrap_or_default()
                }
            })
            .collect();
        let at = |attr: Option<&str>| match attr {
            Some(a) => format!("{}, attribute '{a}'", node_at(node)),
            None => node_at(node),
        };
        check_arity(node, opset).map_err(|p| (at(None), p))?;
        let mut outs = infer(node, &ins, opset).map_err(|(a, p)| (at(a), p))?;
        let all_constant = node.op_type == "Constant"
            || (!ins.is_empty()
                && node.input.iter().zip(&ins).all(|(n, f)| n.is_empty() || f.constant));
        for (name, fact) in node.output.iter().zip(outs.iter_mut()) {
            fact.constant = all_constant;
            if let Some(dims) = fact.known_dims() {
                let elem = if fact.elem == 0 { 4 } else { fact.elem };
                let bytes =
                    dims.iter().try_fold(elem, |acc, &d| acc.checked_mul(d)).unwrap_or(u64::MAX);
                if bytes > limits.max_memory {
                    let how = if all_constant {
                        "computed from constants, so engines build it while loading the model \
                         (constant folding)"
                    } else {
                        "fixed by the declared input dims"
                    };
                    return Err((
                        at(None),
                        format!(
                            "output '{name}' would be {dims:?} = {} ({how}), over the memory \
                             budget of {}. Fix the shape in the model, or raise --max-memory if \
                             it really needs that much",
                            show_bytes(bytes),
                            show_bytes(limits.max_memory)
                        ),
                    ));
                }
            }
        }
        for (name, fact) in node.output.iter().zip(outs) {
            if !name.is_empty() {
                facts.insert(name, fact);
            }
        }
    }
    Ok(())
}

fn declared_fact(v: &pb::ValueInfoProto) -> Fact {
    use pb::tensor_shape_proto::dimension::Value;
    use pb::type_proto::Value as TypeValue;
    match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(TypeValue::TensorType(t)) => Fact {
            dims: t.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(Value::DimValue(v)) if v > 0 => Some(v as u64),
                        _ => None,
                    })
                    .collect()
            }),
            elem: elem_size(t.elem_type).unwrap_or(0),
            ..Fact::default()
        },
        _ => Fact::default(),
    }
}

fn tensor_fact(t: &pb::TensorProto) -> Fact {
    let dims: Vec<Option<u64>> = t.dims.iter().map(|&d| Some(d.max(0) as u64)).collect();
    let count: u64 = t.dims.iter().fold(1u64, |acc, &d| acc.saturating_mul(d.max(0) as u64));
    let mut fact = Fact::with_dims(dims, elem_size(t.data_type).unwrap_or(0));
    if count <= VALUES_MAX {
        let raw = &t.raw_data;
        match t.data_type {
            7 if raw.is_empty() => fact.ints = Some(t.int64_data.clone()),
            7 => {
                fact.ints = Some(
                    raw.chunks_exact(8)
                        .map(|c| {
                            i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect(),
                )
            }
            6 if raw.is_empty() => {
                fact.ints = Some(t.int32_data.iter().map(|&v| v as i64).collect())
            }
            6 => {
                fact.ints = Some(
                    raw.chunks_exact(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                        .collect(),
                )
            }
            1 if raw.is_empty() => {
                fact.floats = Some(t.float_data.iter().map(|&v| v as f64).collect())
            }
            1 => {
                fact.floats = Some(
                    raw.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                        .collect(),
                )
            }
            11 if raw.is_empty() => fact.floats = Some(t.double_data.clone()),
            11 => {
                fact.floats = Some(
                    raw.chunks_exact(8)
                        .map(|c| {
                            f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect(),
                )
            }
            _ => {}
        }
        // A length that does not match the dims was refused earlier; be safe anyway.
        if fact.ints.as_ref().is_some_and(|v| v.len() as u64 != count) {
            fact.ints = None;
        }
        if fact.floats.as_ref().is_some_and(|v| v.len() as u64 != count) {
            fact.floats = None;
        }
    }
    fact
}

fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}
fn attr_i(node: &pb::NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(|a| a.i)
}
fn attr_ints(node: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

/// The `axes` of Squeeze / Unsqueeze: an attribute before opset 13, the second input since, and
/// then it must be a constant: tract needs the output rank while loading the model, and axes
/// computed at run time (from a Shape, say) make it index out of bounds.
fn squeeze_axes(
    node: &pb::NodeProto,
    ins: &[Fact],
    opset: i64,
) -> Result<Option<Vec<i64>>, (Option<&'static str>, String)> {
    if opset < 13 {
        return Ok(attr_ints(node, "axes"));
    }
    if node.input.get(1).is_some_and(|n| !n.is_empty()) && !ins.get(1).is_some_and(|f| f.constant) {
        return Err((
            None,
            "takes its axes from a tensor computed at run time; calibr8's engines need them \
             constant (an initializer or Constant node). Re-export with fixed axes"
                .into(),
        ));
    }
    Ok(ins.get(1).and_then(|f| f.ints.clone()))
}

/// Minimum inputs of the ops whose engines index inputs directly.
fn check_arity(node: &pb::NodeProto, opset: i64) -> Result<(), String> {
    let min = match node.op_type.as_str() {
        "Conv" | "ConvTranspose" | "Gemm" | "MatMul" | "Add" | "Sub" | "Mul" | "Div" | "Pow"
        | "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or"
        | "Xor" | "Mod" | "PRelu" | "Gather" | "GatherElements" | "Reshape" | "Expand" | "Tile"
        | "QuantizeLinear" | "DequantizeLinear" | "MatMulInteger" => 2,
        "Where" | "Range" => 3,
        "QLinearMatMul" => 8,
        "Slice" => 3,
        "BatchNormalization" => 5,
        "Unsqueeze" if opset >= 13 => 2,
        "Pad" => 2,
        "QLinearConv" => 8,
        "Concat" | "Sum" | "Max" | "Min" | "Mean" => 1,
        // Generators take no input; Loop's trip count and condition are both optional.
        "Constant" | "RandomNormal" | "RandomUniform" | "Loop" => 0,
        _ => 1,
    };
    let present = node.input.iter().take(min).filter(|i| !i.is_empty()).count();
    if present < min {
        return Err(format!(
            "needs {min} inputs (the first {min} required), has {}; re-export the model",
            present
        ));
    }
    Ok(())
}

/// Checks `axis` in `[-rank, rank - 1]` (or `[-rank, rank]` when `inclusive`).
fn axis_in(axis: i64, rank: usize, inclusive: bool) -> Result<usize, String> {
    let r = rank as i64;
    let hi = if inclusive { r } else { r - 1 };
    if axis < -r || axis > hi {
        return Err(format!(
            "{axis} is out of range for an input of rank {rank}: it must lie in [{}, {hi}]. Fix the \
             axis in the export",
            -r
        ));
    }
    Ok(if axis < 0 { (axis + r) as usize } else { axis as usize })
}

type Step = Result<Vec<Fact>, (Option<&'static str>, String)>;

fn same(f: &Fact) -> Vec<Fact> {
    vec![Fact { dims: f.dims.clone(), elem: f.elem, ..Fact::default() }]
}

fn broadcast(facts: &[&Fact]) -> Option<Vec<Option<u64>>> {
    let rank = facts.iter().map(|f| f.rank()).collect::<Option<Vec<_>>>()?.into_iter().max()?;
    let mut out = vec![Some(1u64); rank];
    for f in facts {
        let dims = f.dims.as_ref()?;
        for (k, d) in dims.iter().enumerate() {
            let slot = &mut out[rank - dims.len() + k];
            *slot = match (*slot, *d) {
                (Some(1), x) | (x, Some(1)) => x,
                (Some(a), Some(b)) if a == b => Some(a),
                (Some(_), Some(_)) => return None, // engines say it; not ours to judge
                _ => None,
            };
        }
    }
    Some(out)
}

fn int_binary(op: &str, a: &[i64], b: &[i64]) -> Option<Vec<i64>> {
    let n = a.len().max(b.len());
    if !(a.len() == n || a.len() == 1) || !(b.len() == n || b.len() == 1) {
        return None;
    }
    (0..n)
        .map(|k| {
            let (x, y) = (a[if a.len() == 1 { 0 } else { k }], b[if b.len() == 1 { 0 } else { k }]);
            match op {
                "Add" => x.checked_add(y),
                "Sub" => x.checked_sub(y),
                "Mul" => x.checked_mul(y),
                "Div" => x.checked_div(y),
                _ => None,
            }
        })
        .collect()
}

fn infer(node: &pb::NodeProto, ins: &[Fact], opset: i64) -> Step {
    let x = ins.first().cloned().unwrap_or_default();
    let op = node.op_type.as_str();
    Ok(match op {
        "Constant" => vec![constant_fact(node)],
        "Identity" => {
            vec![Fact { ints: x.ints.clone(), floats: x.floats.clone(), ..same(&x).remove(0) }]
        }
        "Cast" => {
            let to = attr_i(node, "to").unwrap_or(1) as i32;
            let mut f = same(&x).remove(0);
            f.elem = elem_size(to).unwrap_or(0);
            if matches!(to, 6 | 7) {
                f.ints = x
                    .ints
                    .clone()
                    .or_else(|| x.floats.as_ref().map(|v| v.iter().map(|&y| y as i64).collect()));
            } else if matches!(to, 1 | 11) {
                f.floats = x.numbers();
            }
            vec![f]
        }
        "Relu"
        | "Sigmoid"
        | "Tanh"
        | "Abs"
        | "Neg"
        | "Exp"
        | "Log"
        | "Sqrt"
        | "Reciprocal"
        | "Floor"
        | "Ceil"
        | "Round"
        | "Erf"
        | "Sin"
        | "Cos"
        | "Softplus"
        | "Softsign"
        | "LeakyRelu"
        | "Elu"
        | "Selu"
        | "Celu"
        | "HardSigmoid"
        | "HardSwish"
        | "Gelu"
        | "Mish"
        | "Clip"
        | "Not"
        | "Sign"
        | "IsNaN"
        | "IsInf"
        | "LRN"
        | "PRelu"
        | "InstanceNormalization"
        | "QuantizeLinear"
        | "DequantizeLinear"
        | "Dropout"
        | "BatchNormalization"
        | "LpNormalization" => {
            let mut out = same(&x);
            if op == "Dropout" || op == "BatchNormalization" {
                out.extend(std::iter::repeat_n(
                    Fact::default(),
                    node.output.len().saturating_sub(1),
                ));
            }
            out
        }
        "Softmax" | "LogSoftmax" | "Hardmax" => {
            let axis = attr_i(node, "axis").unwrap_or(if opset >= 13 { -1 } else { 1 });
            if let Some(r) = x.rank() {
                axis_in(axis, r, false).map_err(|p| (Some("axis"), p))?;
            }
            same(&x)
        }
        "LayerNormalization" => {
            let axis = attr_i(node, "axis").unwrap_or(-1);
            if let Some(r) = x.rank() {
                axis_in(axis, r, false).map_err(|p| (Some("axis"), p))?;
            }
            let mut out = same(&x);
            out.extend(std::iter::repeat_n(Fact::default(), node.output.len().saturating_sub(1)));
            out
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Mod" | "Sum" | "Mean"
        | "Where" | "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And"
        | "Or" | "Xor" => {
            let refs: Vec<&Fact> = ins.iter().collect();
            let mut f = Fact { dims: broadcast(&refs), ..Fact::default() };
            f.elem = if matches!(
                op,
                "Equal"
                    | "Less"
                    | "Greater"
                    | "LessOrEqual"
                    | "GreaterOrEqual"
                    | "And"
                    | "Or"
                    | "Xor"
            ) {
                1
            } else if op == "Where" {
                ins.get(1).map(|f| f.elem).unwrap_or(0)
            } else {
                x.elem
            };
            if let (Some(a), Some(b)) = (&x.ints, ins.get(1).and_then(|f| f.ints.as_ref())) {
                f.ints = int_binary(op, a, b);
            }
            vec![f]
        }
        "Flatten" => {
            let axis = attr_i(node, "axis").unwrap_or(1);
            match &x.dims {
                Some(dims) => {
                    let a = axis_in(axis, dims.len(), true).map_err(|p| (Some("axis"), p))?;
                    let prod = |d: &[Option<u64>]| {
                        d.iter().try_fold(1u64, |acc, v| v.and_then(|v| acc.checked_mul(v)))
                    };
                    vec![Fact::with_dims(vec![prod(&dims[..a]), prod(&dims[a..])], x.elem)]
                }
                None => vec![Fact::with_dims(vec![None, None], x.elem)],
            }
        }
        "Concat" => {
            let axis = attr(node, "axis").map(|a| a.i).ok_or((
                Some("axis"),
                "is missing; Concat needs the axis to join along".to_string(),
            ))?;
            let rank = ins.iter().find_map(Fact::rank);
            let mut f = Fact { elem: x.elem, ..Fact::default() };
            if let Some(r) = rank {
                let a = axis_in(axis, r, false).map_err(|p| (Some("axis"), p))?;
                if ins.iter().all(|f| f.rank() == Some(r)) {
                    let mut dims = ins[0].dims.clone().unwrap_or_default();
                    dims[a] = ins.iter().try_fold(0u64, |acc, f| {
                        f.dims.as_ref().and_then(|d| d[a]).and_then(|v| acc.checked_add(v))
                    });
                    f.dims = Some(dims);
                }
                if r == 1 {
                    f.ints = ins
                        .iter()
                        .map(|f| f.ints.clone())
                        .collect::<Option<Vec<_>>>()
                        .map(|v| v.concat());
                }
            }
            vec![f]
        }
        "Shape" => {
            let mut f = Fact::with_dims(vec![x.rank().map(|r| r as u64)], 8);
            if let Some(dims) = &x.dims {
                let r = dims.len() as i64;
                let clamp = |v: i64| if v < 0 { (v + r).max(0) } else { v.min(r) } as usize;
                let start = clamp(attr_i(node, "start").unwrap_or(0));
                let end = clamp(attr_i(node, "end").unwrap_or(r));
                let window = if start < end { &dims[start..end] } else { &[][..] };
                f.dims = Some(vec![Some(window.len() as u64)]);
                f.ints = window.iter().map(|d| d.map(|v| v as i64)).collect();
            }
            vec![f]
        }
        "Size" => {
            let mut f = Fact::with_dims(vec![], 8);
            f.ints = x
                .known_dims()
                .and_then(|d| d.iter().try_fold(1i64, |acc, &v| acc.checked_mul(v as i64)))
                .map(|n| vec![n]);
            vec![f]
        }
        "Gather" => {
            let axis = attr_i(node, "axis").unwrap_or(0);
            let idx = ins.get(1).cloned().unwrap_or_default();
            let mut f = Fact { elem: x.elem, ..Fact::default() };
            if let Some(dims) = &x.dims {
                let a = axis_in(axis, dims.len(), false).map_err(|p| (Some("axis"), p))?;
                if let (Some(n), Some(values)) = (dims[a], &idx.ints) {
                    if let Some(bad) =
                        values.iter().find(|&&v| v < (n as i64).saturating_neg() || v >= n as i64)
                    {
                        return Err((
                            None,
                            format!(
                                "constant index {bad} is out of range for axis {a} of size {n}; \
                                 fix the indices in the export"
                            ),
                        ));
                    }
                }
                if let Some(id) = &idx.dims {
                    let mut out = dims[..a].to_vec();
                    out.extend(id.iter().copied());
                    out.extend(dims[a + 1..].iter().copied());
                    f.dims = Some(out);
                }
                if let (1, Some(data), Some(values)) = (dims.len(), &x.ints, &idx.ints) {
                    let n = data.len() as i64;
                    f.ints = values
                        .iter()
                        .map(|&v| data.get((if v < 0 { v + n } else { v }) as usize).copied())
                        .collect();
                }
            }
            vec![f]
        }
        "Unsqueeze" => {
            let axes = squeeze_axes(node, ins, opset)?;
            let mut f = Fact { elem: x.elem, ints: x.ints.clone(), ..Fact::default() };
            if let (Some(axes), Some(dims)) = (axes, &x.dims) {
                let out_rank = dims.len() + axes.len();
                let mut norm = vec![];
                for &a in &axes {
                    norm.push(axis_in(a, out_rank, false).map_err(|p| (Some("axes"), p))?);
                }
                norm.sort_unstable();
                if norm.windows(2).any(|w| w[0] == w[1]) {
                    return Err((
                        Some("axes"),
                        format!("{axes:?} repeats an axis; list each once"),
                    ));
                }
                let mut rest = dims.iter();
                f.dims = Some(
                    (0..out_rank)
                        .map(|k| {
                            if norm.contains(&k) {
                                Some(1)
                            } else {
                                rest.next().copied().flatten()
                            }
                        })
                        .collect(),
                );
            }
            vec![f]
        }
        "Squeeze" => {
            let axes = squeeze_axes(node, ins, opset)?;
            let mut f = Fact { elem: x.elem, ints: x.ints.clone(), ..Fact::default() };
            if let (Some(axes), Some(dims)) = (axes, &x.dims) {
                let mut norm = vec![];
                for &a in &axes {
                    norm.push(axis_in(a, dims.len(), false).map_err(|p| (Some("axes"), p))?);
                }
                f.dims = Some(
                    dims.iter()
                        .enumerate()
                        .filter(|(k, _)| !norm.contains(k))
                        .map(|(_, d)| *d)
                        .collect(),
                );
            }
            vec![f]
        }
        "Reshape" => {
            let shape = ins.get(1).and_then(|f| f.ints.clone());
            let mut f = Fact { elem: x.elem, ints: x.ints.clone(), ..Fact::default() };
            if let Some(shape) = shape {
                if shape.iter().filter(|&&v| v == -1).count() > 1 || shape.iter().any(|&v| v < -1) {
                    return Err((
                        None,
                        format!(
                            "shape {shape:?} may hold at most one -1 and no other negative value"
                        ),
                    ));
                }
                let allow_zero = attr_i(node, "allowzero").unwrap_or(0) == 1;
                let mut dims: Vec<Option<u64>> = shape
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| match v {
                        0 if !allow_zero => {
                            x.dims.as_ref().and_then(|d| d.get(k).copied().flatten())
                        }
                        -1 => None,
                        v => Some(v as u64),
                    })
                    .collect();
                if let (Some(total), Some(pos)) = (
                    x.known_dims()
                        .and_then(|d| d.iter().try_fold(1u64, |acc, &v| acc.checked_mul(v))),
                    shape.iter().position(|&v| v == -1),
                ) {
                    let rest: Option<u64> = dims
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| *k != pos)
                        .try_fold(1u64, |acc, (_, d)| d.and_then(|d| acc.checked_mul(d)));
                    if let Some(rest) = rest.filter(|&r| r > 0) {
                        dims[pos] = Some(total / rest);
                    }
                }
                f.dims = Some(dims);
            }
            vec![f]
        }
        "Transpose" => {
            let mut f = Fact { elem: x.elem, ..Fact::default() };
            if let Some(dims) = &x.dims {
                let perm = attr_ints(node, "perm")
                    .unwrap_or_else(|| (0..dims.len() as i64).rev().collect());
                let mut seen = perm.clone();
                seen.sort_unstable();
                if seen != (0..dims.len() as i64).collect::<Vec<_>>() {
                    return Err((
                        Some("perm"),
                        format!(
                            "{perm:?} is not a permutation of 0..{} (the input's rank); fix it in \
                             the export",
                            dims.len()
                        ),
                    ));
                }
                f.dims = Some(perm.iter().map(|&p| dims[p as usize]).collect());
            }
            vec![f]
        }
        "ConstantOfShape" => {
            let value = attr(node, "value").and_then(|a| a.t.as_ref());
            let elem = value.and_then(|t| elem_size(t.data_type)).unwrap_or(4);
            let mut f = Fact { elem, ..Fact::default() };
            if let Some(shape) = &x.ints {
                if let Some(bad) = shape.iter().find(|&&v| v < 0) {
                    return Err((None, format!("shape {shape:?} has a negative dim ({bad})")));
                }
                f.dims = Some(shape.iter().map(|&v| Some(v as u64)).collect());
            }
            vec![f]
        }
        "Expand" => {
            let shape = ins.get(1).and_then(|f| f.ints.clone());
            let mut f = Fact { elem: x.elem, ..Fact::default() };
            if let Some(shape) = shape {
                if let Some(bad) = shape.iter().find(|&&v| v < 0) {
                    return Err((None, format!("shape {shape:?} has a negative dim ({bad})")));
                }
                let target = Fact::with_dims(shape.iter().map(|&v| Some(v as u64)).collect(), 0);
                f.dims = match x.dims {
                    Some(_) => broadcast(&[&x, &target]),
                    // Unknown input: at least the shape's dims above 1.
                    None => Some(
                        shape.iter().map(|&v| if v > 1 { Some(v as u64) } else { None }).collect(),
                    ),
                };
            }
            vec![f]
        }
        "Tile" => {
            let repeats = ins.get(1).and_then(|f| f.ints.clone());
            let mut f = Fact { elem: x.elem, ..Fact::default() };
            if let (Some(rep), Some(dims)) = (repeats, &x.dims) {
                if rep.len() != dims.len() || rep.iter().any(|&v| v < 0) {
                    return Err((
                        None,
                        format!(
                            "repeats {rep:?} must hold one value ≥ 0 per input dim ({} dims)",
                            dims.len()
                        ),
                    ));
                }
                f.dims = Some(
                    dims.iter()
                        .zip(&rep)
                        .map(|(d, &r)| d.and_then(|d| d.checked_mul(r as u64)))
                        .collect(),
                );
            }
            vec![f]
        }
        "Range" => {
            let scalar = |k: usize| {
                ins.get(k).and_then(Fact::numbers).filter(|v| v.len() == 1).map(|v| v[0])
            };
            let mut f = Fact { elem: x.elem, dims: Some(vec![None]), ..Fact::default() };
            if let (Some(start), Some(limit), Some(delta)) = (scalar(0), scalar(1), scalar(2)) {
                if delta == 0.0 || !delta.is_finite() || !start.is_finite() || !limit.is_finite() {
                    return Err((
                        None,
                        format!("constant delta {delta} (start {start}, limit {limit}) gives no finite range; delta must be a finite non-zero number"),
                    ));
                }
                let n = ((limit - start) / delta).ceil().max(0.0);
                f.dims = Some(vec![Some(if n >= u64::MAX as f64 { u64::MAX } else { n as u64 })]);
                if n <= VALUES_MAX as f64 {
                    if let (Some(s), Some(d)) = (x.ints.as_ref(), ins[2].ints.as_ref()) {
                        f.ints = Some(
                            (0..n as i64)
                                .map(|k| s[0].saturating_add(k.saturating_mul(d[0])))
                                .collect(),
                        );
                    }
                }
            }
            vec![f]
        }
        "Resize" | "Upsample" => {
            let (scales_at, sizes_at) = if op == "Upsample" { (1, usize::MAX) } else { (2, 3) };
            let sizes = ins.get(sizes_at).and_then(|f| f.ints.clone()).filter(|v| !v.is_empty());
            let scales =
                ins.get(scales_at).and_then(|f| f.floats.clone()).filter(|v| !v.is_empty());
            let axes = attr_ints(node, "axes");
            let mut f = Fact {
                elem: x.elem,
                dims: x.dims.as_ref().map(|d| vec![None; d.len()]),
                ..Fact::default()
            };
            if let Some(dims) = &x.dims {
                let r = dims.len();
                let axes: Vec<usize> = match axes {
                    Some(a) => a
                        .iter()
                        .map(|&v| axis_in(v, r, false))
                        .collect::<Result<_, _>>()
                        .map_err(|p| (Some("axes"), p))?,
                    None => (0..r).collect(),
                };
                let mut out = dims.clone();
                if let Some(sizes) = sizes {
                    if sizes.len() != axes.len() || sizes.iter().any(|&v| v < 0) {
                        return Err((None, format!("sizes {sizes:?} must hold one value ≥ 0 for each of the {} resized axes", axes.len())));
                    }
                    for (&a, &s) in axes.iter().zip(&sizes) {
                        out[a] = Some(s as u64);
                    }
                    f.dims = Some(out);
                } else if let Some(scales) = scales {
                    if scales.len() != axes.len()
                        || scales.iter().any(|s| !(s.is_finite() && *s > 0.0))
                    {
                        return Err((None, format!("scales {scales:?} must hold one finite value > 0 for each of the {} resized axes", axes.len())));
                    }
                    for (&a, &s) in axes.iter().zip(&scales) {
                        out[a] = dims[a].map(|d| {
                            let v = (d as f64 * s).floor();
                            if v >= u64::MAX as f64 {
                                u64::MAX
                            } else {
                                v as u64
                            }
                        });
                    }
                    f.dims = Some(out);
                }
            }
            vec![f]
        }
        "Conv" | "ConvTranspose" | "MaxPool" | "AveragePool" | "LpPool" => window_op(node, ins)?,
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => {
            let dims = x.dims.as_ref().map(|d| {
                d.iter().enumerate().map(|(k, v)| if k < 2 { *v } else { Some(1) }).collect()
            });
            vec![Fact { dims, elem: x.elem, ..Fact::default() }]
        }
        "Gemm" => {
            let b = ins.get(1).cloned().unwrap_or_default();
            let flag = |name: &'static str| -> Result<bool, (Option<&'static str>, String)> {
                match attr_i(node, name).unwrap_or(0) {
                    0 => Ok(false),
                    1 => Ok(true),
                    v => Err((Some(name), format!("is {v}; it must be 0 or 1"))),
                }
            };
            let (ta, tb) = (flag("transA")?, flag("transB")?);
            for (name, f) in [("A", &x), ("B", &b)] {
                if let Some(r) = f.rank().filter(|&r| r != 2) {
                    return Err((None, format!("input {name} has rank {r}; Gemm multiplies 2-D matrices (use MatMul, or Flatten first)")));
                }
            }
            let (a, bd) = (
                x.dims.clone().unwrap_or(vec![None, None]),
                b.dims.clone().unwrap_or(vec![None, None]),
            );
            let (m, ka) = if ta { (a[1], a[0]) } else { (a[0], a[1]) };
            let (kb, n) = if tb { (bd[1], bd[0]) } else { (bd[0], bd[1]) };
            if let (Some(ka), Some(kb)) = (ka, kb) {
                if ka != kb {
                    return Err((None, format!("A has {ka} columns but B has {kb} rows (after transA/transB); the inner dims must match. Check the declared input dims and the weight")));
                }
            }
            vec![Fact::with_dims(vec![m, n], x.elem)]
        }
        "MatMul" => {
            let b = ins.get(1).cloned().unwrap_or_default();
            let mut f = Fact { elem: x.elem, ..Fact::default() };
            if let (Some(ad), Some(bd)) = (&x.dims, &b.dims) {
                if ad.is_empty() || bd.is_empty() {
                    return Err((
                        None,
                        "an input is a scalar; MatMul needs rank ≥ 1 on both sides".into(),
                    ));
                }
                let ka = ad[ad.len() - 1];
                let kb = if bd.len() == 1 { bd[0] } else { bd[bd.len() - 2] };
                if let (Some(ka), Some(kb)) = (ka, kb) {
                    if ka != kb {
                        return Err((None, format!("inner dims differ: A ends in {ka}, B's rows are {kb}. Check the declared input dims and the weight")));
                    }
                }
                if ad.len() >= 2 && bd.len() >= 2 {
                    let batch_a = Fact::with_dims(ad[..ad.len() - 2].to_vec(), 0);
                    let batch_b = Fact::with_dims(bd[..bd.len() - 2].to_vec(), 0);
                    if let Some(mut dims) = broadcast(&[&batch_a, &batch_b]) {
                        dims.push(ad[ad.len() - 2]);
                        dims.push(bd[bd.len() - 1]);
                        f.dims = Some(dims);
                    }
                }
            }
            vec![f]
        }
        "Split" => {
            let axis = attr_i(node, "axis").unwrap_or(0);
            if let Some(r) = x.rank() {
                axis_in(axis, r, false).map_err(|p| (Some("axis"), p))?;
            }
            vec![Fact::default(); node.output.len()]
        }
        "ArgMax" | "ArgMin" | "CumSum" => {
            if let (Some(axis), Some(r)) = (attr_i(node, "axis"), x.rank()) {
                axis_in(axis, r, false).map_err(|p| (Some("axis"), p))?;
            }
            vec![Fact::default()]
        }
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1"
        | "ReduceL2" | "ReduceLogSumExp" | "ReduceSumSquare" => {
            if let (Some(axes), Some(r)) = (attr_ints(node, "axes"), x.rank()) {
                for a in axes {
                    axis_in(a, r, false).map_err(|p| (Some("axes"), p))?;
                }
            }
            vec![Fact::default()]
        }
        "Slice" => {
            let mut f =
                Fact { elem: x.elem, dims: x.rank().map(|r| vec![None; r]), ..Fact::default() };
            let get = |k: usize| ins.get(k).and_then(|f| f.ints.clone());
            if let (Some(data), Some(starts), Some(ends)) = (&x.ints, get(1), get(2)) {
                let axes_ok = get(3).is_none_or(|a| a.iter().all(|&v| v == 0 || v == -1));
                let step = get(4).and_then(|s| s.first().copied()).unwrap_or(1);
                if x.rank() == Some(1)
                    && axes_ok
                    && step == 1
                    && starts.len() == 1
                    && ends.len() == 1
                {
                    let n = data.len() as i64;
                    let clamp = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) } as usize;
                    let (s, e) = (clamp(starts[0]), clamp(ends[0]));
                    let v = if s < e { data[s..e].to_vec() } else { vec![] };
                    f.dims = Some(vec![Some(v.len() as u64)]);
                    f.ints = Some(v);
                }
            }
            vec![f]
        }
        "Pad" => {
            let mut f = same(&x).remove(0);
            if let (Some(pads), Some(dims)) = (ins.get(1).and_then(|f| f.ints.clone()), &x.dims) {
                if pads.len() == 2 * dims.len()
                    && attr(node, "axes").is_none()
                    && ins.get(3).is_none_or(|_| node.input.get(3).is_none_or(|n| n.is_empty()))
                {
                    let r = dims.len();
                    f.dims = Some(
                        dims.iter()
                            .enumerate()
                            .map(|(k, d)| {
                                d.and_then(|d| {
                                    (d as i64).checked_add(pads[k])?.checked_add(pads[k + r])
                                })
                                .and_then(|v| u64::try_from(v).ok())
                            })
                            .collect(),
                    );
                }
            }
            vec![f]
        }
        _ => vec![Fact::default(); node.output.len()],
    })
}

fn constant_fact(node: &pb::NodeProto) -> Fact {
    let Some(a) = node.attribute.first() else { return Fact::default() };
    match a.name.as_str() {
        "value" => a.t.as_ref().map(tensor_fact).unwrap_or_default(),
        "value_int" => Fact { ints: Some(vec![a.i]), ..Fact::with_dims(vec![], 8) },
        "value_ints" => Fact {
            ints: Some(a.ints.clone()),
            ..Fact::with_dims(vec![Some(a.ints.len() as u64)], 8)
        },
        "value_float" => Fact { floats: Some(vec![a.f as f64]), ..Fact::with_dims(vec![], 4) },
        "value_floats" => Fact {
            floats: Some(a.floats.iter().map(|&v| v as f64).collect()),
            ..Fact::with_dims(vec![Some(a.floats.len() as u64)], 4)
        },
        _ => Fact::default(),
    }
}

/// Conv, ConvTranspose and the pools: strides, dilations, pads, kernel_shape, group.
fn window_op(node: &pb::NodeProto, ins: &[Fact]) -> Step {
    let op = node.op_type.as_str();
    let x = ins.first().cloned().unwrap_or_default();
    let is_conv = op == "Conv" || op == "ConvTranspose";
    let w = if is_conv { ins.get(1).cloned().unwrap_or_default() } else { Fact::default() };
    if let Some(r) = w.rank().filter(|&r| r < 3) {
        return Err((
            None,
            format!(
                "weight '{}' has rank {r}; a {op} weight is [out_channels, in_channels / group, \
                 kernel…] (rank ≥ 3). Re-export the model",
                node.input.get(1).map(String::as_str).unwrap_or("")
            ),
        ));
    }
    if let Some(r) = x.rank().filter(|&r| r < 3) {
        return Err((
            None,
            format!(
                "input '{}' has rank {r}; {op} takes [batch, channels, spatial…] (rank ≥ 3)",
                node.input.first().map(String::as_str).unwrap_or("")
            ),
        ));
    }
    if let (Some(rx), Some(rw)) = (x.rank(), w.rank()) {
        if rx != rw {
            return Err((
                None,
                format!("input rank {rx} and weight rank {rw} differ; they must be equal"),
            ));
        }
    }
    let kernel = attr_ints(node, "kernel_shape");
    let spatial = x.rank().or(w.rank()).map(|r| r - 2).or(kernel.as_ref().map(Vec::len));
    if !is_conv && kernel.is_none() {
        return Err((Some("kernel_shape"), format!("is missing; {op} requires it")));
    }
    let check = |name: &'static str,
                 len: Option<usize>,
                 min: i64|
     -> Result<(), (Option<&'static str>, String)> {
        let Some(values) = attr_ints(node, name) else { return Ok(()) };
        if let (Some(len), Some(s)) = (len, spatial) {
            if values.len() != len {
                let what = if len == 2 * s {
                    format!("2 × {s} spatial dims = {len}")
                } else {
                    format!("{len} (one per spatial dim)")
                };
                return Err((
                    Some(name),
                    format!(
                        "has {} values {values:?}; it needs {what}. Fix it in the export",
                        values.len()
                    ),
                ));
            }
        }
        if let Some(bad) = values.iter().find(|&&v| v < min) {
            return Err((
                Some(name),
                format!(
                    "holds {bad} in {values:?}; every value must be ≥ {min}. Fix it in the export"
                ),
            ));
        }
        Ok(())
    };
    let s = spatial;
    check("strides", s, 1)?;
    check("dilations", s, 1)?;
    check("kernel_shape", s, 1)?;
    check("pads", s.map(|s| 2 * s), 0)?;
    check("output_padding", s, 0)?;
    if let Some(a) = attr(node, "auto_pad") {
        let v = String::from_utf8_lossy(&a.s);
        if !matches!(v.as_ref(), "NOTSET" | "SAME_UPPER" | "SAME_LOWER" | "VALID" | "") {
            return Err((
                Some("auto_pad"),
                format!("is '{v}'; use NOTSET, SAME_UPPER, SAME_LOWER or VALID"),
            ));
        }
    }
    if let (Some(k), Some(wd)) = (&kernel, &w.dims) {
        let from_w: Vec<Option<u64>> = wd[2..].to_vec();
        if k.iter().zip(&from_w).any(|(&k, w)| w.is_some_and(|w| w != k as u64)) {
            return Err((
                Some("kernel_shape"),
                format!("{k:?} disagrees with the weight's spatial dims {from_w:?}"),
            ));
        }
    }
    let mut out_dims = x.dims.as_ref().map(|d| vec![None; d.len()]);
    if is_conv {
        let group = attr_i(node, "group").unwrap_or(1);
        if group < 1 {
            return Err((Some("group"), format!("is {group}; it must be ≥ 1")));
        }
        let group = group as u64;
        if let (Some(wd), Some(xd)) = (&w.dims, &x.dims) {
            let (m, per_group) = (wd[0], wd[1]);
            let c = xd.get(1).copied().flatten();
            let channel_ok = match op {
                "Conv" => match (c, per_group) {
                    (Some(c), Some(pg)) => {
                        pg.checked_mul(group) == Some(c) && m.is_none_or(|m| m % group == 0)
                    }
                    _ => true,
                },
                _ => match (c, m) {
                    (Some(c), Some(m)) => c == m,
                    _ => true,
                },
            };
            if !channel_ok {
                return Err((
                    Some("group"),
                    format!(
                        "input channels {c:?}, weight dims {wd:?} and group {group} do not fit \
                         together ({op} needs channels = weight dim {} × group); fix the export",
                        if op == "Conv" { 1 } else { 0 }
                    ),
                ));
            }
            if let Some(dims) = out_dims.as_mut() {
                dims[0] = xd[0];
                dims[1] =
                    if op == "Conv" { m } else { per_group.and_then(|pg| pg.checked_mul(group)) };
            }
        }
    } else if let (Some(dims), Some(xd)) = (out_dims.as_mut(), &x.dims) {
        dims[0] = xd[0];
        dims[1] = xd[1];
    }
    if op != "ConvTranspose" {
        if let (Some(dims), Some(xd), Some(s)) = (out_dims.as_mut(), &x.dims, spatial) {
            let kernel: Option<Vec<u64>> = match &kernel {
                Some(k) => Some(k.iter().map(|&v| v.max(1) as u64).collect()),
                None => w.dims.as_ref().and_then(|d| d[2..].iter().copied().collect()),
            };
            if let Some(kernel) = kernel.filter(|k| k.len() == s) {
                for k in 0..s {
                    let size = spatial_out(node, k, s, xd[2 + k], kernel[k]);
                    if let (Some(n), Some(v)) = (xd[2 + k], size.filter(|&v| v < 1)) {
                        return Err((
                            None,
                            format!(
                                "spatial dim {k} of the input is {n}, too small for kernel {} with \
                                 these pads, strides and dilations (output size {v}); fix the \
                                 declared input dims or the attributes",
                                kernel[k]
                            ),
                        ));
                    }
                    dims[2 + k] = size.map(|v| v as u64);
                }
            }
        }
    }
    let mut out = vec![Fact { dims: out_dims, elem: x.elem, ..Fact::default() }];
    out.extend(std::iter::repeat_n(Fact::default(), node.output.len().saturating_sub(1)));
    Ok(out)
}

/// Output size of spatial dim `k` of a Conv or pool (the ONNX formulas), when computable.
fn spatial_out(
    node: &pb::NodeProto,
    k: usize,
    s: usize,
    input: Option<u64>,
    kernel: u64,
) -> Option<i64> {
    let input = input? as i64;
    let get = |name: &str, ix: usize, default: i64| {
        attr_ints(node, name).and_then(|v| v.get(ix).copied()).unwrap_or(default)
    };
    let (stride, dilation) = (get("strides", k, 1).max(1), get("dilations", k, 1).max(1));
    let kernel = i64::try_from(kernel).unwrap_or(i64::MAX);
    let effective = dilation.saturating_mul(kernel.saturating_sub(1)).saturating_add(1);
    let auto_pad = attr(node, "auto_pad").map(|a| String::from_utf8_lossy(&a.s).into_owned());
    let out = match auto_pad.as_deref() {
        Some("SAME_UPPER") | Some("SAME_LOWER") => input.saturating_add(stride - 1) / stride,
        Some("VALID") => input.saturating_sub(effective).div_euclid(stride).saturating_add(1),
        _ => {
            let padded = input
                .saturating_add(get("pads", k, 0))
                .saturating_add(get("pads", k + s, 0))
                .saturating_sub(effective);
            let padded = if attr_i(node, "ceil_mode") == Some(1) {
                padded.saturating_add(stride - 1)
            } else {
                padded
            };
            padded.div_euclid(stride).saturating_add(1)
        }
    };
    Some(out)
}
