//! The QOperator exporter: Conv → `QLinearConv`, Gemm / MatMul → `QLinearMatMul`, so engines
//! that only run Q/DQ in float (tract) execute real int8 kernels.
//!
//! Each lowered node `n` with input `x`, int8 weight `w` and output `y` becomes
//!
//! ```text
//! x ─ QuantizeLinear(x.scale, x.zero_point) ─ x.quantized ─┐
//!          w.quantized (int8, per channel), w.scale, w.zero_point ─ n.qlinear ─ y.quantized
//!          y.scale, y.zero_point ┘                              ─ DequantizeLinear ─ y
//! ```
//!
//! so every float consumer of `y` is untouched, and a lowered consumer of `y` reads
//! `y.quantized` directly (no float round trip: `Q(DQ(q)) = q` with the same parameters).
//!
//! * Conv: the bias becomes int32 `round(b / (x.scale · w.scale[c]))` (what ONNX's QLinearConv
//!   takes: bias scale `x.scale · w.scale`, zero point 0); the output range is Conv's own.
//! * Gemm: `transB = 1` weights are transposed at export (QLinearMatMul takes `[K, N]`); the bias
//!   `C` is added in float after DequantizeLinear (QLinearMatMul has no bias input). The int8
//!   result is then `x·w` *before* the bias, whose range the calibration did not see: it is bounded
//!   by `|x·w| = |y − C| ≤ amax(y) + max|C|`, so its scale uses that bound (never clips more than
//!   `y` itself would).
//! * MatMul with a constant rank-2 weight: as Gemm without bias.
//!
//! Nodes stay float (and are listed in [`QOperatorModel::kept_float`] with the reason) when the
//! quantized model lacks a range they need — above all the **output** range: calibrate with
//! `_output_` in the rule's `target_names` ([`with_output_ranges`]). Requires opset ≥ 10.

use super::qdq::{node, quantized_weight, scale_tensor, zero_point_tensor};
use crate::config::{Precision, Target};
use crate::graph::tensor_f32;
use crate::internal::*;
use crate::ops::{registry, QLinearOp, WeightShape};
use crate::pb;
use crate::plan::TensorRole;
use crate::quantized::TensorQuant;
use calibr8_calibration::{quant_params, QuantDtype, QuantParams};
use std::collections::{HashMap, HashSet};

const INT32: i32 = 6;

/// A QOperator model and what the lowering did to each Conv / Gemm / MatMul.
#[derive(Clone, Debug)]
pub struct QOperatorModel {
    /// The model with QLinearConv / QLinearMatMul nodes.
    pub model: OnnxModel,
    /// Nodes lowered to int8 operators, in graph order.
    pub lowered: Vec<LoweredNode>,
    /// Conv / Gemm / MatMul nodes left in float, and other nodes the config quantizes (which
    /// have no QLinear operator), with the reason.
    pub kept_float: Vec<FloatNode>,
}

/// A node now running as an int8 operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoweredNode {
    /// The original node name.
    pub node: String,
    /// Its original op type.
    pub op_type: String,
    /// `QLinearConv` or `QLinearMatMul`.
    pub qop: String,
}

/// A node the lowering kept in float.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloatNode {
    /// The node name.
    pub node: String,
    /// Its op type.
    pub op_type: String,
    /// Why it stayed float, ending with the remedy where there is one.
    pub reason: String,
}

/// `config` with `_output_` added to every rule that quantizes inputs or weights, so calibration
/// also observes the outputs the QOperator lowering needs.
///
/// ```
/// use calibr8_core::{export::with_output_ranges, QuantConfig, Target};
/// let config = with_output_ranges(&QuantConfig::default());
/// assert!(config.config_list[0].target_names.contains(&Target::Output));
/// ```
pub fn with_output_ranges(config: &QuantConfig) -> QuantConfig {
    let mut config = config.clone();
    for rule in &mut config.config_list {
        let quantizes =
            rule.target_names.iter().any(|t| matches!(t, Target::Input | Target::Weight));
        if quantizes && !rule.exclude && !rule.target_names.contains(&Target::Output) {
            rule.target_names.push(Target::Output);
        }
    }
    config
}

/// What one node needs to be lowered.
struct Plan<'a> {
    x: &'a TensorQuant,
    w: &'a TensorQuant,
    y: &'a TensorQuant,
    /// The int8 operator.
    op: QLinearOp,
    /// Conv bias or Gemm `C`, as a constant name.
    bias: Option<String>,
    /// Gemm with `transB = 1`.
    trans_b: bool,
}

/// Builds the QOperator model of `q`.
///
/// ```no_run
/// # fn demo(q: &calibr8_core::QuantizedModel) -> calibr8_core::Result<()> {
/// let qop = calibr8_core::export::qoperator_model(q)?;
/// for f in &qop.kept_float {
///     eprintln!("{} ({}) stays float: {}", f.node, f.op_type, f.reason);
/// }
/// std::fs::write("model.qop.onnx", qop.model.to_bytes()).unwrap();
/// # Ok(()) }
/// ```
pub fn qoperator_model(q: &QuantizedModel) -> Result<QOperatorModel> {
    let origin = q.model.origin.clone();
    let opset = q.model.opset();
    if opset < 10 {
        return Err(Error::InvalidModel {
            path: origin,
            reason: format!(
                "opset {opset} has no QLinearConv / QLinearMatMul (they need opset 10); \
                 re-export the model at opset 13 (torch.onnx.export(..., opset_version=13))"
            ),
        });
    }
    let mut proto = q.model.proto.clone();
    if proto.ir_version < 7 {
        proto.ir_version = 7;
    }
    let view = Graph::new(&q.model);
    let graph = proto.graph.as_mut().ok_or_else(|| Error::InvalidModel {
        path: origin.clone(),
        reason: "the model has no graph".into(),
    })?;

    let mut out = Emitter::default();
    let mut lowered = vec![];
    let mut kept_float = vec![];
    let mut replaced_constants: HashSet<String> = HashSet::new();
    let ops = registry();
    for n in std::mem::take(&mut graph.node) {
        if ops.get(&n.op_type).qlinear_op().is_none() {
            // A node the config quantizes but ONNX has no QLinear operator for is said, not hidden.
            if q.node_precision.get(&n.name) == Some(&Precision::Int8) {
                kept_float.push(FloatNode {
                    node: n.name.clone(),
                    op_type: n.op_type.clone(),
                    reason: format!(
                        "ONNX has no QLinear operator for {} (only {} are lowered); it runs in \
                         float",
                        n.op_type,
                        ops.qlinear_op_types().join(", ")
                    ),
                });
            }
            out.nodes.push(n);
            continue;
        }
        match plan(q, &view, &n) {
            Err(reason) => {
                kept_float.push(FloatNode {
                    node: n.name.clone(),
                    op_type: n.op_type.clone(),
                    reason,
                });
                out.nodes.push(n);
            }
            Ok(p) => {
                let qop = out.lower(&view, &n, &p, &origin)?;
                replaced_constants.extend(n.input[1..].iter().cloned());
                lowered.push(LoweredNode { node: n.name.clone(), op_type: n.op_type.clone(), qop });
            }
        }
    }
    graph.node = out.nodes;
    graph.initializer.extend(out.inits);

    // Drop float weights and biases nothing reads any more (int8 / int32 copies replace them).
    let used: HashSet<String> = graph.node.iter().flat_map(|n| n.input.iter().cloned()).collect();
    let outputs: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let dead = |name: &str| {
        replaced_constants.contains(name) && !used.contains(name) && !outputs.contains(name)
    };
    graph.initializer.retain(|t| !dead(&t.name));
    graph.input.retain(|i| !dead(&i.name));
    graph.node.retain(|n| !(n.op_type == "Constant" && n.output.len() == 1 && dead(&n.output[0])));

    let model = OnnxModel::from_proto(proto, format!("{origin} (QOperator)"))?;
    Ok(QOperatorModel { model, lowered, kept_float })
}

/// Checks that `n` can be lowered; the error is the reason it stays float.
fn plan<'a>(q: &'a QuantizedModel, view: &Graph, n: &pb::NodeProto) -> Result<Plan<'a>, String> {
    match q.node_precision.get(&n.name) {
        Some(Precision::Int8) => {}
        Some(p) => return Err(format!("the config keeps it in {p}")),
        None => return Err("no quantize rule matches it".into()),
    }
    let input = |ix: usize| n.input.get(ix).filter(|s| !s.is_empty());
    let (Some(x_name), Some(w_name), Some(y_name)) = (input(0), input(1), n.output.first()) else {
        return Err("it lacks an input, weight or output".into());
    };
    let activation = |name: &str, what: &str, target: &str| -> Result<&'a TensorQuant, String> {
        match q.tensors.get(name) {
            Some(t) if t.target.role == TensorRole::Activation && t.params.axis.is_none() => Ok(t),
            Some(_) => Err(format!("{what} '{name}' is not a per-tensor activation")),
            None => Err(format!(
                "{what} '{name}' has no calibrated range; add {target} to the rule's target_names"
            )),
        }
    };
    let x = activation(x_name, "input", "_input_")?;
    let y = activation(y_name, "output", "_output_ (calibr8 bench does)")?;
    let w = match q.tensors.get(w_name.as_str()) {
        Some(t)
            if t.target.role == TensorRole::Weight && t.params.spec.dtype == QuantDtype::Int8 =>
        {
            t
        }
        Some(_) => return Err(format!("weight '{w_name}' is not an int8 weight")),
        None => {
            return Err(format!("weight '{w_name}' is not quantized; add weight to target_names"))
        }
    };
    let rank = view.constant(w_name).map(|t| t.dims.len()).unwrap_or(0);
    let weight = WeightShape { name: w_name, rank, axis: w.params.axis };
    let form = registry().get(&n.op_type).qlinear_form(n, &weight)?;
    let bias = match form.bias_input.and_then(input) {
        None => None,
        Some(b) if view.is_constant(b) => Some(b.clone()),
        Some(b) => return Err(format!("bias '{b}' is computed at run time, not a constant")),
    };
    // QLinearMatMul has no bias input: a float Add after it takes a row [N] or [1, N].
    if let (QLinearOp::MatMul, Some(b)) = (form.op, &bias) {
        let dims = view.constant(b).map(|t| t.dims.clone()).unwrap_or_default();
        if dims.len() > 2 || (dims.len() == 2 && dims[0] != 1) {
            return Err(format!("bias '{b}' of shape {dims:?} is not a row [N] or [1, N]"));
        }
    }
    Ok(Plan { x, w, y, op: form.op, bias, trans_b: form.transpose_weight })
}

/// Nodes and initializers of the new graph.
#[derive(Default)]
struct Emitter {
    nodes: Vec<pb::NodeProto>,
    inits: Vec<pb::TensorProto>,
    /// Parameter initializers already added (`t.scale` / `t.zero_point` / `w.quantized`).
    emitted: HashSet<String>,
    /// Float tensor → the int8 tensor holding it quantized with its own parameters.
    quantized: HashMap<String, String>,
}

impl Emitter {
    fn params(&mut self, prefix: &str, params: &QuantParams) -> (String, String) {
        let (s, z) = (format!("{prefix}.scale"), format!("{prefix}.zero_point"));
        if self.emitted.insert(s.clone()) {
            self.inits.push(scale_tensor(&s, params));
            self.inits.push(zero_point_tensor(&z, params));
        }
        (s, z)
    }

    /// `x` as int8: reused when a lowered producer already made it, else a QuantizeLinear.
    fn quantize_input(&mut self, x: &TensorQuant) -> [String; 3] {
        let name = &x.target.tensor;
        let (s, z) = self.params(name, &x.params);
        let q = self.quantized.entry(name.clone()).or_insert_with(|| {
            let q = format!("{name}.quantized");
            let quant = node(
                &format!("{name}.quant"),
                "QuantizeLinear",
                vec![name.clone(), s.clone(), z.clone()],
                vec![q.clone()],
                None,
            );
            self.nodes.push(quant);
            q
        });
        [q.clone(), s, z]
    }

    /// The int8 weight (transposed to `[K, N]` for Gemm with `transB = 1`) and its parameters.
    fn weight(
        &mut self,
        view: &Graph,
        w: &TensorQuant,
        trans_b: bool,
        origin: &str,
    ) -> Result<[String; 3]> {
        let name = &w.target.tensor;
        let (s, z) = self.params(name, &w.params);
        let qname =
            if trans_b { format!("{name}.quantized_t") } else { format!("{name}.quantized") };
        if self.emitted.insert(qname.clone()) {
            let proto = view.constant(name).ok_or_else(|| Error::UnknownTensor {
                tensor: name.clone(),
                path: origin.to_string(),
            })?;
            let (values, dims) = tensor_f32(proto).map_err(|reason| Error::InvalidModel {
                path: origin.to_string(),
                reason: format!("weight '{name}' {reason}"),
            })?;
            let mut t = quantized_weight(&qname, &values, &dims, &w.params, origin)?;
            if trans_b {
                let (rows, cols) = (dims[0], dims[1]);
                let src = std::mem::take(&mut t.raw_data);
                t.raw_data = (0..rows * cols).map(|i| src[(i % rows) * cols + i / rows]).collect();
                t.dims = vec![cols as i64, rows as i64];
            }
            self.inits.push(t);
        }
        Ok([qname, s, z])
    }

    /// Emits the int8 version of `n`; returns the QLinear op type used.
    fn lower(&mut self, view: &Graph, n: &pb::NodeProto, p: &Plan, origin: &str) -> Result<String> {
        let y_name = p.y.target.tensor.clone();
        let [xq, xs, xz] = self.quantize_input(p.x);
        let [wq, ws, wz] = self.weight(view, p.w, p.trans_b, origin)?;
        let dequant = |input: Vec<String>, output: &str, name: String| {
            node(&name, "DequantizeLinear", input, vec![output.to_string()], None)
        };
        if p.op == QLinearOp::Conv {
            let (ys, yz) = self.params(&y_name, &p.y.params);
            let mut inputs = vec![xq, xs, xz, wq, ws, wz, ys.clone(), yz.clone()];
            if let Some(b) = &p.bias {
                inputs.push(self.conv_bias(view, &n.name, b, p, origin)?);
            }
            let yq = format!("{y_name}.quantized");
            let mut conv = node(
                &format!("{}.qlinear", n.name),
                p.op.op_type(),
                inputs,
                vec![yq.clone()],
                None,
            );
            conv.attribute = n.attribute.clone();
            self.nodes.push(conv);
            self.nodes.push(dequant(
                vec![yq.clone(), ys, yz],
                &y_name,
                format!("{y_name}.dequant"),
            ));
            self.quantized.insert(y_name, yq);
            return Ok(p.op.op_type().into());
        }
        // Gemm / MatMul → QLinearMatMul (+ float bias).
        match &p.bias {
            None => {
                let (ys, yz) = self.params(&y_name, &p.y.params);
                let yq = format!("{y_name}.quantized");
                let inputs = vec![xq, xs, xz, wq, ws, wz, ys.clone(), yz.clone()];
                self.nodes.push(node(
                    &format!("{}.qlinear", n.name),
                    p.op.op_type(),
                    inputs,
                    vec![yq.clone()],
                    None,
                ));
                self.nodes.push(dequant(
                    vec![yq.clone(), ys, yz],
                    &y_name,
                    format!("{y_name}.dequant"),
                ));
                self.quantized.insert(y_name, yq);
            }
            Some(b) => {
                let b_max =
                    constant_values(view, b, origin)?.iter().fold(0f32, |m, v| m.max(v.abs()));
                let params = widened(p.y, b_max);
                let prefix = format!("{}.matmul", n.name);
                let (ms, mz) = self.params(&prefix, &params);
                let (mq, mf) = (format!("{prefix}.quantized"), format!("{prefix}.out"));
                let inputs = vec![xq, xs, xz, wq, ws, wz, ms.clone(), mz.clone()];
                self.nodes.push(node(
                    &format!("{}.qlinear", n.name),
                    p.op.op_type(),
                    inputs,
                    vec![mq.clone()],
                    None,
                ));
                self.nodes.push(dequant(vec![mq, ms, mz], &mf, format!("{prefix}.dequant")));
                self.nodes.push(node(
                    &format!("{}.bias", n.name),
                    "Add",
                    vec![mf, b.clone()],
                    vec![y_name],
                    None,
                ));
            }
        }
        Ok(p.op.op_type().into())
    }

    /// Conv bias as int32 at scale `x.scale · w.scale[c]`, zero point 0 (ONNX QLinearConv).
    fn conv_bias(
        &mut self,
        view: &Graph,
        node_name: &str,
        b: &str,
        p: &Plan,
        origin: &str,
    ) -> Result<String> {
        let values = constant_values(view, b, origin)?;
        let xs = p.x.params.scale[0];
        let ws = &p.w.params.scale;
        // The bias scale in f64, as QLinearConv derives it from x.scale and w.scale.
        let scales: Vec<f64> = ws.iter().map(|&w| f64::from(xs) * f64::from(w)).collect();
        let data = pb::raw_data(&super::qdq_bias::int32_codes(&values, &scales));
        let name = format!("{node_name}.bias_quantized");
        self.inits.push(pb::TensorProto {
            name: name.clone(),
            dims: vec![values.len() as i64],
            data_type: INT32,
            raw_data: data,
            ..Default::default()
        });
        Ok(name)
    }
}

/// Values of a constant float tensor.
fn constant_values(view: &Graph, name: &str, origin: &str) -> Result<Vec<f32>> {
    let proto = view.constant(name).ok_or_else(|| Error::UnknownTensor {
        tensor: name.to_string(),
        path: origin.to_string(),
    })?;
    tensor_f32(proto).map(|(v, _)| v).map_err(|reason| Error::InvalidModel {
        path: origin.to_string(),
        reason: format!("constant '{name}' {reason}"),
    })
}

/// Parameters for `x·w = y − C`: `y`'s range widened by `max|C|` on both sides.
fn widened(y: &TensorQuant, b_max: f32) -> QuantParams {
    let mut range = y.range.clone();
    range.min.iter_mut().for_each(|v| *v -= b_max);
    range.max.iter_mut().for_each(|v| *v += b_max);
    range.amax.iter_mut().for_each(|v| *v += b_max);
    quant_params(&range, &y.params.spec)
}
