//! The validation pass: every rule calibr8 and its engines rely on, checked on the protobuf
//! before any engine sees the model, so bad input gets a message naming the node, input or
//! attribute and the fix instead of a panic deep inside tract.
//!
//! It runs when an [`OnnxModel`] is built (so `calibr8 inspect` refuses the same models as
//! `quantize`), in this order:
//! 1. opset of the default domain in [`OPSET_RANGE`];
//! 2. names: unique node names ([`OnnxModel`] renames repeated and empty ones before this pass),
//!    every tensor defined once (graph input, initializer or node
//!    output), every node input and graph output defined, no cycle;
//! 3. op domains ([`SUPPORTED_DOMAINS`]) and op types (the ai.onnx operator set);
//! 4. initializers and `Constant` values: dims ≥ 0, data length matching the dims;
//! 5. declared input dims: no negative or zero dim, a size that fits the memory budget;
//! 6. attributes of the ops calibr8 plans or lowers (Conv / ConvTranspose / pools: strides,
//!    dilations, pads, kernel_shape, group; Gemm flags; axis attributes against the input rank);
//! 7. a static size estimate ([`facts`]): every tensor whose size is known before running
//!    (constants, and tensors computed from them: ConstantOfShape, Expand, Tile, Range, Resize …)
//!    must fit [`Limits::max_memory`], so a 400-byte model cannot make constant folding
//!    allocate 40 GB.

mod facts;

use crate::internal::*;
use crate::pb;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

/// Default-domain opsets calibr8 reads: 11 (Pad / Clip / Resize with inputs, per PyTorch's
/// oldest supported export) to 21 (the newest tract 0.23 runs). The QDQ export raises opsets
/// below 13 to 13 where per-channel scales need it.
pub const OPSET_RANGE: std::ops::RangeInclusive<i64> = 11..=21;

/// Op domains calibr8 runs: the standard ONNX operator set, under either of its names.
pub const SUPPORTED_DOMAINS: &[&str] = &["", "ai.onnx"];

/// The memory budget used when none is given: 4 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 4 << 30;

static MAX_MEMORY: AtomicU64 = AtomicU64::new(DEFAULT_MAX_MEMORY);

/// Limits the validation pass enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest tensor, in bytes, whose size can be computed before running the model.
    pub max_memory: u64,
}

impl Default for Limits {
    /// [`DEFAULT_MAX_MEMORY`], or what [`set_default_max_memory`] set for this process.
    fn default() -> Self {
        Limits { max_memory: MAX_MEMORY.load(Ordering::Relaxed) }
    }
}

/// Sets the budget [`Limits::default`] returns, for every model this process builds (the
/// CLI's `--max-memory`; it also covers the models calibr8 derives, such as the QDQ export).
pub fn set_default_max_memory(bytes: u64) {
    MAX_MEMORY.store(bytes, Ordering::Relaxed);
}

/// Checks `model` (see the [module docs](self)); the first problem found is the error.
///
/// ```
/// use calibr8_core::validate::{validate, Limits};
/// let model = calibr8_core::OnnxModel::load("../examples/digits/digits_cnn.onnx")?;
/// validate(&model, &Limits::default())?;
/// // Its input [N, 1, 8, 8] holds at least 256 bytes.
/// let tiny = Limits { max_memory: 100 };
/// let err = validate(&model, &tiny).unwrap_err().to_string();
/// assert!(err.contains("--max-memory"), "{err}");
/// # Ok::<(), calibr8_core::Error>(())
/// ```
pub fn validate(model: &OnnxModel, limits: &Limits) -> Result<()> {
    validate_proto(&model.proto, &model.origin, limits)
}

/// [`validate`] on a decoded protobuf; `origin` names the model in errors.
pub fn validate_proto(proto: &pb::ModelProto, origin: &str, limits: &Limits) -> Result<()> {
    let fail =
        |at: String, problem: String| Error::InvalidGraph { path: origin.to_string(), at, problem };
    check_opset(proto).map_err(|p| fail("opset_import".into(), p))?;
    let graph = proto.graph.as_ref().ok_or_else(|| {
        fail("graph".into(), "the model has no graph; export the full model".into())
    })?;
    let order = check_names(graph).map_err(|(at, p)| fail(at, p))?;
    for node in &graph.node {
        check_op(node).map_err(|p| fail(node_at(node), p))?;
    }
    for t in &graph.initializer {
        check_tensor(t).map_err(|p| fail(format!("initializer '{}'", t.name), p))?;
    }
    for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
        for a in &node.attribute {
            if let Some(t) = &a.t {
                check_tensor(t)
                    .map_err(|p| fail(node_at(node), format!("attribute 'value' {p}")))?;
            }
        }
    }
    let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    for input in graph.input.iter().filter(|i| !inits.contains(i.name.as_str())) {
        check_declared_input(input, limits)
            .map_err(|p| fail(format!("input '{}'", input.name), p))?;
    }
    let opset = default_opset(proto);
    facts::check(graph, &order, opset, limits).map_err(|(at, p)| fail(at, p))
}

/// `node 'conv1' (Conv)`.
fn node_at(node: &pb::NodeProto) -> String {
    format!("node '{}' ({})", node.name, node.op_type)
}

fn default_opset(proto: &pb::ModelProto) -> i64 {
    proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0)
}

fn check_opset(proto: &pb::ModelProto) -> Result<(), String> {
    let (lo, hi) = (OPSET_RANGE.start(), OPSET_RANGE.end());
    match default_opset(proto) {
        0 => Err(format!(
            "the model declares no opset for the default ONNX domain; re-export it with an opset \
             in {lo}..={hi} (torch.onnx.export(..., opset_version=17))"
        )),
        v if !OPSET_RANGE.contains(&v) => Err(format!(
            "default-domain opset {v} is outside the supported range {lo}..={hi}; convert it \
             (onnx.version_converter.convert_version(model, 17)) or re-export with \
             opset_version=17"
        )),
        _ => Ok(()),
    }
}

/// Names and wiring; returns the node indices in a topological order.
fn check_names(graph: &pb::GraphProto) -> Result<Vec<usize>, (String, String)> {
    let mut node_names: HashMap<&str, usize> = HashMap::new();
    for (ix, node) in graph.node.iter().enumerate() {
        if let Some(first) = node_names.insert(node.name.as_str(), ix) {
            return Err((
                node_at(node),
                format!(
                    "the node name is also used by node #{first} ({}); ONNX requires unique node \
                     names (ONNX Runtime rejects the export). Rename one of them",
                    graph.node[first].op_type
                ),
            ));
        }
    }
    // Where each tensor is defined: None for graph inputs and initializers, Some(node) else.
    let mut defined: HashMap<&str, Option<usize>> = HashMap::new();
    let dup = |name: &str, what: &str| {
        (
            format!("tensor '{name}'"),
            format!(
                "is defined twice ({what}); every tensor needs exactly one producer. Rename one"
            ),
        )
    };
    for t in &graph.initializer {
        if t.name.is_empty() {
            return Err(("initializer".into(), "has no name; give every initializer one".into()));
        }
        if defined.insert(&t.name, None).is_some() {
            return Err(dup(&t.name, "two initializers"));
        }
    }
    let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut input_names = HashSet::new();
    for i in &graph.input {
        if i.name.is_empty() {
            return Err(("graph input".into(), "has no name; give every input one".into()));
        }
        if !input_names.insert(i.name.as_str()) {
            return Err(dup(&i.name, "two graph inputs"));
        }
        // Old exporters list initializers as inputs too: that is one tensor, not two.
        defined.entry(&i.name).or_insert(None);
    }
    for (ix, node) in graph.node.iter().enumerate() {
        if node.output.iter().all(|o| o.is_empty()) {
            return Err((
                node_at(node),
                "has no outputs; every node must produce at least one tensor".into(),
            ));
        }
        for o in node.output.iter().filter(|o| !o.is_empty()) {
            match defined.insert(o, Some(ix)) {
                None => {}
                Some(Some(other)) => {
                    return Err(dup(
                        o,
                        &format!(
                            "output of node '{}' and of node '{}'",
                            graph.node[other].name, node.name
                        ),
                    ))
                }
                Some(None) => {
                    let what =
                        if inits.contains(o.as_str()) { "initializer" } else { "graph input" };
                    return Err(dup(o, &format!("{what} and output of node '{}'", node.name)));
                }
            }
        }
    }
    for node in &graph.node {
        for (k, i) in node.input.iter().enumerate().filter(|(_, i)| !i.is_empty()) {
            if !defined.contains_key(i.as_str()) {
                return Err((
                    format!("{}, input {k}", node_at(node)),
                    format!(
                        "reads tensor '{i}', which no node, initializer or graph input produces; \
                         the export is incomplete or was edited. Re-export the model"
                    ),
                ));
            }
        }
    }
    let mut outputs = HashSet::new();
    for o in &graph.output {
        if !outputs.insert(o.name.as_str()) {
            return Err((
                format!("graph output '{}'", o.name),
                "is listed twice; list each output once".into(),
            ));
        }
        if !defined.contains_key(o.name.as_str()) {
            return Err((
                format!("graph output '{}'", o.name),
                "is not produced by any node, initializer or input; remove it from graph.output \
                 or re-export the model"
                    .into(),
            ));
        }
    }
    topological_order(graph, &defined)
}

/// Kahn's algorithm over tensor dependencies; a cycle is an error naming a node on it.
fn topological_order(
    graph: &pb::GraphProto,
    defined: &HashMap<&str, Option<usize>>,
) -> Result<Vec<usize>, (String, String)> {
    let n = graph.node.len();
    let mut pending = vec![0usize; n];
    let mut readers: Vec<Vec<usize>> = vec![vec![]; n];
    for (ix, node) in graph.node.iter().enumerate() {
        let mut deps: Vec<usize> =
            node.input.iter().filter_map(|i| defined.get(i.as_str()).copied().flatten()).collect();
        deps.sort_unstable();
        deps.dedup();
        pending[ix] = deps.len();
        for d in deps {
            readers[d].push(ix);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).rev().collect();
    let mut order = Vec::with_capacity(n);
    while let Some(ix) = ready.pop() {
        order.push(ix);
        for &r in readers[ix].iter().rev() {
            pending[r] -= 1;
            if pending[r] == 0 {
                ready.push(r);
            }
        }
    }
    if order.len() < n {
        let stuck = (0..n).find(|&i| pending[i] > 0).unwrap_or(0);
        return Err((
            node_at(&graph.node[stuck]),
            "is on a cycle (its inputs depend on its own outputs); an ONNX graph must be acyclic. \
             Re-export the model"
                .into(),
        ));
    }
    Ok(order)
}

fn check_op(node: &pb::NodeProto) -> Result<(), String> {
    if !SUPPORTED_DOMAINS.contains(&node.domain.as_str()) {
        if crate::preprocess::is_quantized_op(node) {
            // Said before the domain: "com.microsoft is not run" hides the actual problem.
            return Err(format!(
                "is ONNX Runtime's quantized op {}:{}: the model is already quantized, and \
                 calibr8 calibrates float models. Give it the float model this one was made from",
                node.domain, node.op_type
            ));
        }
        return Err(format!(
            "is in op domain '{}', which calibr8 does not run (supported: the standard ONNX \
             domain, written '' or 'ai.onnx'). A custom op would be calibrated as something it \
             is not: replace it with standard ONNX ops at export",
            node.domain
        ));
    }
    if !crate::ops::is_onnx_op(&node.op_type) {
        return Err(format!(
            "'{}' is not an ONNX operator (the ai.onnx set, opsets 1..=21); re-export the model \
             with standard ops",
            node.op_type
        ));
    }
    Ok(())
}

/// Bytes per element of an ONNX element type, `None` for strings and sub-byte types.
pub(crate) fn elem_size(data_type: i32) -> Option<u64> {
    Some(match data_type {
        2 | 3 | 9 | 17..=20 => 1,
        4 | 5 | 10 | 16 => 2,
        1 | 6 | 12 => 4,
        7 | 11 | 13 | 14 => 8,
        15 => 16,
        _ => return None,
    })
}

fn check_tensor(t: &pb::TensorProto) -> Result<(), String> {
    if let Some(d) = t.dims.iter().find(|&&d| d < 0) {
        return Err(format!("has a negative dim ({d}) in {:?}; dims must be ≥ 0", t.dims));
    }
    let count = t.dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let Some(count) = count else {
        return Err(format!("dims {:?} overflow 64 bits; the file is corrupt", t.dims));
    };
    if t.data_location == 1 || !t.external_data.is_empty() {
        return Err("is stored as external data, which calibr8 does not read; re-save with the \
                    data embedded (onnx.save(model, path, save_as_external_data=False))"
            .into());
    }
    if t.data_type == 0 {
        return Err("has no element type (data_type 0); the file is corrupt".into());
    }
    // Raw bytes of these types (complex, bfloat16, float8, strings) are not read by tract.
    if !t.raw_data.is_empty() && matches!(t.data_type, 8 | 14 | 15 | 16 | 17..=20 | 21..) {
        return Err(format!(
            "stores element type {} as raw data, which calibr8's engines do not read; export \
             it as float32, float16 or an integer type",
            t.data_type
        ));
    }
    let Some(width) = elem_size(t.data_type) else {
        return Ok(()); // strings and 4-bit types: engines check these themselves
    };
    let (held, unit) = if !t.raw_data.is_empty() {
        (t.raw_data.len() as u64, "bytes")
    } else {
        let typed = match t.data_type {
            1 => t.float_data.len(),
            14 => t.float_data.len() / 2,
            7 => t.int64_data.len(),
            11 => t.double_data.len(),
            15 => t.double_data.len() / 2,
            12 | 13 => t.uint64_data.len(),
            _ => t.int32_data.len(),
        };
        (typed as u64, "values")
    };
    let need = if unit == "bytes" { count.saturating_mul(width) } else { count };
    if held != need {
        return Err(format!(
            "holds {held} {unit} of data but its dims {:?} (element type {}) need {need}; the \
             file is truncated or was edited. Re-export the model",
            t.dims, t.data_type
        ));
    }
    Ok(())
}

fn check_declared_input(input: &pb::ValueInfoProto, limits: &Limits) -> Result<(), String> {
    use pb::tensor_shape_proto::dimension::Value;
    use pb::type_proto::Value as TypeValue;
    let Some(TypeValue::TensorType(t)) = input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err("declares no tensor type; calibr8 needs the element type and rank of every \
                    input. Re-export with the input's shape (torch.onnx.export declares it)"
            .into());
    };
    let Some(shape) = &t.shape else {
        return Err("declares no shape; calibr8 needs at least the rank. Re-export with the \
                    input's shape (symbolic dims such as the batch are fine)"
            .into());
    };
    let mut bytes: u64 = elem_size(t.elem_type).unwrap_or(4);
    for (ix, d) in shape.dim.iter().enumerate() {
        if let Some(Value::DimValue(v)) = d.value {
            // -1 is how several exporters (tf2onnx, older Paddle2ONNX) write a dynamic dim:
            // unknown, like a symbolic one. 0 and other negatives are not dims.
            if v == -1 {
                continue;
            }
            if v <= 0 {
                return Err(format!(
                    "dim {ix} is {v}; a declared dim must be ≥ 1, or -1 / symbolic (e.g. \
                     'batch') if it varies"
                ));
            }
            bytes = bytes.saturating_mul(v as u64);
        }
    }
    if bytes > limits.max_memory {
        return Err(format!(
            "its declared dims {} make one input at least {} (budget {}); fix the dims, or \
             raise --max-memory if the model really takes such inputs",
            show_dims(shape),
            show_bytes(bytes),
            show_bytes(limits.max_memory)
        ));
    }
    Ok(())
}

fn show_dims(shape: &pb::TensorShapeProto) -> String {
    use pb::tensor_shape_proto::dimension::Value;
    let parts: Vec<String> = shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(Value::DimValue(v)) => v.to_string(),
            Some(Value::DimParam(p)) if !p.is_empty() => p.clone(),
            _ => "?".into(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// `17179869184` → `16.0 GiB`.
pub fn show_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Parses a memory size for `--max-memory`: `4GiB`, `512MiB`, `2G`, `1000000` (bytes).
///
/// ```
/// use calibr8_core::validate::parse_bytes;
/// assert_eq!(parse_bytes("4GiB"), Ok(4 << 30));
/// assert_eq!(parse_bytes("512 MB"), Ok(512 << 20));
/// assert!(parse_bytes("-1G").is_err());
/// ```
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| {
        format!("'{text}' is not a size; write e.g. 4GiB, 512MiB or a number of bytes")
    })?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!("unknown unit '{other}' in '{text}'; use B, KiB, MiB, GiB or TiB"))
        }
    };
    let bytes = number * scale as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("'{text}' is not a usable size; give at least 1 byte, e.g. 4GiB"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests;
