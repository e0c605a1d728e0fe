//! [`TrtPlan`]: everything calibr8 decides before TensorRT is involved — which network tensor
//! gets which `[-amax, amax]`, which layers keep which precision, the builder flags and the
//! optimization profile. Pure Rust, unit-tested on CPU; [`crate::lower`] applies it to a network.
//!
//! TensorRT's ONNX parser names layers after ONNX node names and tensors after ONNX tensor
//! names, so the plan speaks ONNX names throughout and never guesses from name prefixes.
//!
//! Compared with NNI's `ModelSpeedupTensorRT` (TensorRT 8), the dynamic-range plan:
//! - sets a range on **every** input and output of every quantized layer, not just the first;
//! - symmetrizes affine ranges (`amax = max(|min|, |max|)`) and lists them in
//!   [`TrtPlan::symmetrized`] instead of silently reinterpreting them; in explicit mode the
//!   Q/DQ model it hands the parser is the symmetric int8 variant, since TensorRT's ONNX parser
//!   accepts only symmetric int8 Q/DQ outside DLA (`NvOnnxParser.h`,
//!   `kENABLE_UINT8_AND_ASYMMETRIC_QUANTIZATION_DLA`);
//! - gives the constant weights of int8 Gemm/MatMul nodes their range `±max|W|` (the TensorRT 10
//!   parser feeds them to the matrix multiply through Constant layers, and implicit int8 needs a
//!   range on every float input of an int8 layer), as NNI's Gemm handler does;
//! - derives ranges through ops that provably keep `max|x|` (Reshape, Flatten, Transpose,
//!   Squeeze, Unsqueeze, Identity, zero Pad in both directions; MaxPool and Relu forwards as an
//!   upper bound), so tensors TensorRT keeps between fused layers are covered;
//! - follows what TensorRT fuses into a Conv/Gemm (BatchNormalization, Relu, Clip, a residual
//!   Add whose other input has a range) and only needs the range at the end of the chain;
//! - lists every tensor it could not cover in [`TrtPlan::unranged`], with the reason.

use crate::internal::*;
use calibr8_core::ops::{self, RangeFlow, TrtRole};
use calibr8_core::plan::TensorRole;
use calibr8_core::{Graph, Lowering};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How a quantized model reaches TensorRT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoweringMode {
    /// Implicit quantization: the float ONNX, `setDynamicRange(-amax, amax)` per tensor, int8 +
    /// fp16 builder flags (NNI's path; deprecated since TensorRT 10.1, removed in 11).
    #[default]
    DynamicRange,
    /// Explicit quantization: the QDQ ONNX in a strongly typed network (TensorRT 10's
    /// recommended path and the only one in TensorRT 11).
    Explicit,
}

/// Batch sizes of the optimization profile for inputs whose first extent is dynamic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BatchProfile {
    /// Smallest batch the engine accepts.
    pub min: usize,
    /// Batch TensorRT tunes kernels for.
    pub opt: usize,
    /// Largest batch the engine accepts.
    pub max: usize,
}

impl BatchProfile {
    /// One fixed batch size.
    pub fn fixed(batch: usize) -> BatchProfile {
        BatchProfile { min: batch, opt: batch, max: batch }
    }
}

impl Default for BatchProfile {
    /// 1 … 32, tuned for 32 (the NNI ResNet18 scenario).
    fn default() -> Self {
        BatchProfile { min: 1, opt: 32, max: 32 }
    }
}

/// What to build.
#[derive(Clone, Debug, Serialize)]
pub struct TrtOptions {
    /// Lowering mode for quantized models.
    pub mode: LoweringMode,
    /// Engine precision: `Int8` (needs a quantized model), `Fp16` or `Fp32`.
    pub precision: Precision,
    /// Optimization profile for dynamic batch.
    pub batch: BatchProfile,
    /// Workspace memory pool limit in bytes (`None`: TensorRT's default).
    pub workspace_bytes: Option<u64>,
    /// Builder optimization level 0..=5 (`None`: TensorRT's default 3).
    pub optimization_level: Option<i32>,
}

impl Default for TrtOptions {
    fn default() -> Self {
        TrtOptions {
            mode: LoweringMode::DynamicRange,
            precision: Precision::Int8,
            batch: BatchProfile::default(),
            workspace_bytes: None,
            optimization_level: None,
        }
    }
}

/// Where a tensor's range came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RangeOrigin {
    /// Calibrated by calibr8 (symmetric, or symmetrized from an affine range).
    Calibrated,
    /// Carried over from `from` through `node` (`op_type`), which keeps (or bounds) `max|x|`.
    Derived {
        /// The tensor the range was taken from.
        from: String,
        /// The ONNX node between the two.
        node: String,
        /// Its op type.
        op_type: String,
    },
}

/// `setDynamicRange(-amax, amax)` for one network tensor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DynamicRange {
    /// The ONNX (= TensorRT) tensor name.
    pub tensor: String,
    /// The symmetric bound, > 0.
    pub amax: f32,
    /// How calibr8 knows it.
    pub origin: RangeOrigin,
}

/// A tensor calibrated under the affine scheme (or as uint8), lowered as its symmetric int8 hull
/// (TensorRT int8 is symmetric). Symmetric-scheme tensors whose observed min is not −max are
/// not listed: their amax already is the symmetric bound.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Symmetrized {
    /// The tensor.
    pub tensor: String,
    /// Calibrated lower bound.
    pub min: f32,
    /// Calibrated upper bound.
    pub max: f32,
    /// What TensorRT gets: `[-amax, amax]`.
    pub amax: f32,
}

/// Why a tensor next to an int8 layer has no range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnrangedReason {
    /// A model output: TensorRT returns it in float, no range needed.
    GraphOutput,
    /// Nothing calibrated covers it: TensorRT will run its producer/consumers in float (or
    /// refuse int8 for them). Quantize the tensor (`target_names: [output]` on its producer, or
    /// `input` on its consumers) to give it a range.
    NotCalibrated,
}

/// A tensor at an int8 layer that gets no range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unranged {
    /// The tensor.
    pub tensor: String,
    /// The int8 layers (ONNX node names) that read or write it.
    pub layers: Vec<String>,
    /// Why.
    pub reason: UnrangedReason,
}

/// `±amax` for the constant weight of an int8 Gemm/MatMul node. TensorRT 10's parser turns it
/// into a Constant layer whose output (named by TensorRT, not ONNX) feeds the matrix multiply;
/// the lowering finds that tensor in the network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConstantRange {
    /// The ONNX node (Gemm or MatMul).
    pub node: String,
    /// The ONNX initializer.
    pub weight: String,
    /// `max|W|`, > 0.
    pub amax: f32,
}

/// A precision constraint on one layer (a node kept out of int8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerConstraint {
    /// ONNX node name (= TensorRT layer name).
    pub layer: String,
    /// `setPrecision` and `setOutputType` for every output.
    pub precision: Precision,
    /// The node's outputs: layers TensorRT creates for this node are found through them too.
    pub outputs: Vec<String>,
}

/// Builder flags and network creation flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BuilderFlags {
    /// `BuilderFlag::kINT8`.
    pub int8: bool,
    /// `BuilderFlag::kFP16`.
    pub fp16: bool,
    /// `BuilderFlag::kPREFER_PRECISION_CONSTRAINTS`.
    pub prefer_precision_constraints: bool,
    /// `NetworkDefinitionCreationFlag::kSTRONGLY_TYPED`.
    pub strongly_typed: bool,
}

/// Optimization-profile shapes of one network input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputProfile {
    /// The input.
    pub input: String,
    /// kMIN shape.
    pub min: Vec<i64>,
    /// kOPT shape.
    pub opt: Vec<i64>,
    /// kMAX shape.
    pub max: Vec<i64>,
}

/// Which model the ONNX parser reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkSource {
    /// The float model as calibrated.
    Float,
    /// The QDQ model from `calibr8_core::export::qdq_model`.
    Qdq,
}

/// Everything decided before TensorRT: see the [module docs](self).
#[derive(Clone, Debug, Serialize)]
pub struct TrtPlan {
    /// The options the plan was made for.
    pub options: TrtOptions,
    /// Which model the parser reads.
    pub source: NetworkSource,
    /// The ONNX bytes the parser reads.
    #[serde(skip)]
    pub onnx: Vec<u8>,
    /// `[-amax, amax]` per network tensor (dynamic-range int8 only), by name.
    pub ranges: BTreeMap<String, DynamicRange>,
    /// Affine ranges that were symmetrized, by name.
    pub symmetrized: Vec<Symmetrized>,
    /// Tensors TensorRT fuses into a Conv/Gemm layer → the tensor whose range serves instead.
    pub fused: BTreeMap<String, String>,
    /// Tensors at int8 layers without a range, with the reason (warnings).
    pub unranged: Vec<Unranged>,
    /// Weights calibr8 calibrated that TensorRT re-derives itself in dynamic-range mode (the
    /// parser folds them into the layers, per channel); they are used as-is in explicit mode.
    pub weights_by_tensorrt: Vec<String>,
    /// Ranges for the Constant-layer weights of int8 Gemm/MatMul nodes (dynamic-range int8).
    pub constant_ranges: Vec<ConstantRange>,
    /// Every ONNX node name, so the lowering can tell a node's extra TensorRT layers
    /// (`<node>_<n>`) from another node named that way.
    #[serde(skip)]
    pub onnx_nodes: BTreeSet<String>,
    /// Precision constraints for nodes kept out of int8.
    pub layers: Vec<LayerConstraint>,
    /// Builder flags.
    pub flags: BuilderFlags,
    /// Optimization profile (empty when every input is static).
    pub profile: Vec<InputProfile>,
    /// Other decisions worth telling the user.
    pub notes: Vec<String>,
    /// Intermediate tensors to make engine outputs, after the model outputs (capture, for
    /// layer-by-layer comparison; TensorRT does not fuse across them).
    pub extra_outputs: Vec<String>,
}

impl TrtPlan {
    /// Plans `lowering` under `options`.
    pub fn new(lowering: Lowering<'_>, options: &TrtOptions) -> Result<TrtPlan> {
        let model = lowering.model();
        let mut plan = TrtPlan {
            options: options.clone(),
            source: NetworkSource::Float,
            onnx: Vec::new(),
            ranges: BTreeMap::new(),
            symmetrized: Vec::new(),
            fused: BTreeMap::new(),
            unranged: Vec::new(),
            weights_by_tensorrt: Vec::new(),
            constant_ranges: Vec::new(),
            onnx_nodes: Graph::new(model).nodes.iter().map(|n| n.name.clone()).collect(),
            layers: Vec::new(),
            flags: BuilderFlags::default(),
            profile: profile(model, options.batch)?,
            notes: Vec::new(),
            extra_outputs: Vec::new(),
        };
        match (options.precision, lowering) {
            (Precision::Int8, Lowering::Float(_)) => {
                return Err(Error::config(
                    "precision",
                    "int8 needs a quantized model (ranges); run calibr8 quantize first, or ask \
                     for fp16/fp32",
                ))
            }
            (Precision::Int8, Lowering::Quantized(q)) => match options.mode {
                LoweringMode::DynamicRange => plan.plan_dynamic_range(q),
                LoweringMode::Explicit => plan.plan_explicit(q)?,
            },
            (float, lowering) => {
                plan.onnx = model.to_bytes();
                plan.flags.fp16 = float == Precision::Fp16;
                if let Lowering::Quantized(q) = lowering {
                    plan.notes.push(format!(
                        "{float} engine: the {} calibrated ranges are not used",
                        q.tensors.len()
                    ));
                    // fp32-excluded nodes stay fp32 in an fp16 engine.
                    if float == Precision::Fp16 {
                        plan.layer_constraints(q, |p| p == Precision::Fp32);
                    }
                }
            }
        }
        plan.flags.prefer_precision_constraints = !plan.layers.is_empty();
        Ok(plan)
    }

    fn plan_explicit(&mut self, q: &QuantizedModel) -> Result<()> {
        self.source = NetworkSource::Qdq;
        // TensorRT's parser refuses uint8 and non-zero zero points outside DLA: hand it the
        // symmetric int8 variant, and say which tensors changed.
        let (symmetric, changed) = symmetric_int8(q);
        if !changed.is_empty() {
            self.notes.push(format!(
                "explicit mode: TensorRT's ONNX parser accepts only symmetric int8 Q/DQ outside \
                 DLA, so {} affine/uint8 tensor(s) are exported to TensorRT as symmetric int8 \
                 [-amax, amax] with zero point 0 ({}); model.qdq.onnx for other runtimes keeps \
                 them as calibrated",
                changed.len(),
                changed.iter().map(|s| s.tensor.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        self.symmetrized = changed;
        self.onnx = calibr8_core::export::qdq_model(&symmetric)?.to_bytes();
        self.flags.strongly_typed = true;
        let fp16: Vec<&String> = q
            .node_precision
            .iter()
            .filter(|(_, p)| **p == Precision::Fp16)
            .map(|(n, _)| n)
            .collect();
        if !fp16.is_empty() {
            self.notes.push(format!(
                "explicit mode builds a strongly typed network, which takes types from the model: \
                 {} node(s) excluded as fp16 ({}) run in fp32. Use dynamic-range mode to run them \
                 in fp16",
                fp16.len(),
                fp16.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(())
    }

    fn plan_dynamic_range(&mut self, q: &QuantizedModel) {
        self.onnx = q.model.to_bytes();
        self.flags.int8 = true;
        // fp16 lets TensorRT fall back to half (not fp32) where int8 is impossible or slower.
        self.flags.fp16 = true;
        let graph = Graph::new(&q.model);

        for t in q.tensors.values() {
            match t.target.role {
                TensorRole::Weight => self.weights_by_tensorrt.push(t.target.tensor.clone()),
                TensorRole::Activation => {
                    let amax = t.symmetric_amax().into_iter().fold(0.0f32, f32::max);
                    let (min, max) = (
                        t.range.min.iter().copied().fold(f32::INFINITY, f32::min),
                        t.range.max.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                    );
                    // Only affine (or uint8) calibrations change meaning here; a symmetric one
                    // with min != -max already has its amax.
                    if !is_symmetric_int8(&t.target.spec) {
                        self.symmetrized.push(Symmetrized {
                            tensor: t.target.tensor.clone(),
                            min,
                            max,
                            amax,
                        });
                    }
                    self.ranges.insert(
                        t.target.tensor.clone(),
                        DynamicRange {
                            tensor: t.target.tensor.clone(),
                            amax: positive(amax),
                            origin: RangeOrigin::Calibrated,
                        },
                    );
                }
            }
        }

        self.derive_ranges(&q.model, &graph);
        self.constant_ranges = matmul_constant_ranges(q, &graph);

        // Int8 layers: every input activation and every output needs a range, or is fused.
        let int8: Vec<&calibr8_core::graph::Node> = graph
            .nodes
            .iter()
            .filter(|n| q.node_precision.get(&n.name) == Some(&Precision::Int8))
            .collect();
        let mut unranged: BTreeMap<String, (BTreeSet<String>, UnrangedReason)> = BTreeMap::new();
        let mut note = |tensor: &str, layer: &str, reason: UnrangedReason| {
            let e = unranged.entry(tensor.to_string()).or_insert_with(|| (BTreeSet::new(), reason));
            e.0.insert(layer.to_string());
        };
        for node in &int8 {
            for input in node.inputs.iter().filter(|i| !i.is_empty() && !graph.is_constant(i)) {
                if !self.ranges.contains_key(input) {
                    note(input, &node.name, UnrangedReason::NotCalibrated);
                }
            }
            for output in node.outputs.iter().filter(|o| !o.is_empty()) {
                let tail = self.fusion_tail(&graph, output);
                if tail != *output {
                    self.fused.insert(output.clone(), tail.clone());
                    let mut t = output.clone();
                    // Every tensor inside the chain is fused away too.
                    while t != tail {
                        self.fused.insert(t.clone(), tail.clone());
                        t = match graph.consumers(&t).next().and_then(|c| c.outputs.first()) {
                            Some(next) => next.clone(),
                            None => break,
                        };
                    }
                }
                if !self.ranges.contains_key(&tail) {
                    let reason = if graph.outputs.contains(&tail) {
                        UnrangedReason::GraphOutput
                    } else {
                        UnrangedReason::NotCalibrated
                    };
                    note(&tail, &node.name, reason);
                }
            }
        }
        self.unranged = unranged
            .into_iter()
            .map(|(tensor, (layers, reason))| Unranged {
                tensor,
                layers: layers.into_iter().collect(),
                reason,
            })
            .collect();

        self.layer_constraints(q, |p| p != Precision::Int8);
    }

    fn layer_constraints(&mut self, q: &QuantizedModel, keep: impl Fn(Precision) -> bool) {
        let graph = Graph::new(&q.model);
        for (node, &precision) in &q.node_precision {
            if !keep(precision) {
                continue;
            }
            let outputs = graph.node(node).map(|n| n.outputs.clone()).unwrap_or_default();
            self.layers.push(LayerConstraint { layer: node.clone(), precision, outputs });
        }
    }

    /// Fills gaps by carrying ranges through ops that keep `max|x|`, to a fixed point.
    fn derive_ranges(&mut self, model: &OnnxModel, graph: &Graph) {
        loop {
            let mut added = false;
            // Graph::new keeps the model's node order, so the two walk in step.
            for (node, proto) in graph.nodes.iter().zip(&model.graph().node) {
                let (Some(input), Some(output)) = (node.inputs.first(), node.outputs.first())
                else {
                    continue;
                };
                let flow = ops::registry().get(&node.op_type).range_flow(proto);
                let both_ways = flow == RangeFlow::BothWays;
                // Forward: the input's amax bounds the output's from above.
                let forward = flow != RangeFlow::None;
                if forward && !self.ranges.contains_key(output) {
                    if let Some(r) = self.ranges.get(input).cloned() {
                        self.ranges.insert(output.clone(), derived(output, r.amax, input, node));
                        added = true;
                    }
                }
                if both_ways && !self.ranges.contains_key(input) && !graph.is_constant(input) {
                    if let Some(r) = self.ranges.get(output).cloned() {
                        self.ranges.insert(input.clone(), derived(input, r.amax, output, node));
                        added = true;
                    }
                }
            }
            if !added {
                break;
            }
        }
    }

    /// Follows `tensor` through what TensorRT fuses into the producing Conv/Gemm layer (a single
    /// consumer that is BatchNormalization, Relu, Clip, or an Add whose other input has a
    /// range) and returns the last tensor of the chain, the one TensorRT materializes.
    fn fusion_tail(&self, graph: &Graph, tensor: &str) -> String {
        let mut t = tensor.to_string();
        while !self.ranges.contains_key(&t) && !graph.outputs.contains(&t) {
            let consumers: Vec<_> = graph.consumers(&t).collect();
            let [next] = consumers.as_slice() else { break };
            let fusable = match ops::registry().get(&next.op_type).tensorrt() {
                TrtRole::Epilogue => next.inputs[0] == t,
                // A residual Add fuses one conv in; the other input must be a ranged tensor.
                TrtRole::Residual => next
                    .inputs
                    .iter()
                    .filter(|i| **i != t)
                    .all(|i| self.ranges.contains_key(i) || graph.is_constant(i)),
                _ => false,
            };
            if !fusable || next.outputs.len() != 1 {
                break;
            }
            t = next.outputs[0].clone();
        }
        t
    }

    /// The unranged tensors that deserve a warning (everything but model outputs).
    pub fn warnings(&self) -> impl Iterator<Item = &Unranged> {
        self.unranged.iter().filter(|u| u.reason == UnrangedReason::NotCalibrated)
    }

    /// A human-readable summary, one decision per line.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "TensorRT plan: {} {:?}, parser reads the {:?} model; flags int8={} fp16={} \
             prefer_precision_constraints={} strongly_typed={}\n",
            self.options.precision,
            self.options.mode,
            self.source,
            self.flags.int8,
            self.flags.fp16,
            self.flags.prefer_precision_constraints,
            self.flags.strongly_typed
        );
        s +=
            &format!("  {} dynamic ranges ({} derived)\n", self.ranges.len(), self.derived_count());
        for c in &self.constant_ranges {
            s +=
                &format!("  weight {} of {}: Constant-layer range ±{}\n", c.weight, c.node, c.amax);
        }
        for sym in &self.symmetrized {
            s += &format!(
                "  affine range of {} symmetrized for TensorRT: [{}, {}] -> [-{amax}, {amax}]\n",
                sym.tensor,
                sym.min,
                sym.max,
                amax = sym.amax
            );
        }
        for l in &self.layers {
            s += &format!("  layer {} kept in {}\n", l.layer, l.precision);
        }
        for u in &self.unranged {
            s += &format!(
                "  no range for {} (layers {}): {:?}\n",
                u.tensor,
                u.layers.join(", "),
                u.reason
            );
        }
        for p in &self.profile {
            s += &format!(
                "  profile {}: min {:?} opt {:?} max {:?}\n",
                p.input, p.min, p.opt, p.max
            );
        }
        for n in &self.notes {
            s += &format!("  note: {n}\n");
        }
        s
    }

    fn derived_count(&self) -> usize {
        self.ranges.values().filter(|r| r.origin != RangeOrigin::Calibrated).count()
    }
}

/// True for the one scheme TensorRT's int8 knows: int8, symmetric (zero point 0).
fn is_symmetric_int8(spec: &calibr8_calibration::QuantSpec) -> bool {
    spec.scheme == calibr8_calibration::Scheme::Symmetric
        && spec.dtype == calibr8_calibration::QuantDtype::Int8
}

/// `q` with every affine or uint8 tensor turned into symmetric int8 over its symmetric hull
/// (`amax = max(|min|, |max|)` per channel, narrow range kept), and the list of those tensors.
pub fn symmetric_int8(q: &QuantizedModel) -> (QuantizedModel, Vec<Symmetrized>) {
    let mut out = q.clone();
    let mut changed = Vec::new();
    for (name, t) in out.tensors.iter_mut() {
        if is_symmetric_int8(&t.target.spec) {
            continue;
        }
        let amax = t.symmetric_amax();
        changed.push(Symmetrized {
            tensor: name.clone(),
            min: t.range.min.iter().copied().fold(f32::INFINITY, f32::min),
            max: t.range.max.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            amax: amax.iter().copied().fold(0.0f32, f32::max),
        });
        let mut target = t.target.clone();
        target.spec = calibr8_calibration::QuantSpec {
            dtype: calibr8_calibration::QuantDtype::Int8,
            scheme: calibr8_calibration::Scheme::Symmetric,
            narrow_range: t.target.spec.narrow_range,
            reduce_range: false,
        };
        let mut range = t.range.clone();
        range.amax = amax;
        *t = calibr8_core::TensorQuant::new(target, range);
    }
    (out, changed)
}

/// `±max|W|` for every constant input of an int8 Gemm/MatMul node (the TensorRT 10 parser
/// makes them Constant layers feeding a matrix multiply). Per tensor: a dynamic range has one
/// scale, so per-channel weight ranges collapse to their maximum.
fn matmul_constant_ranges(q: &QuantizedModel, graph: &Graph) -> Vec<ConstantRange> {
    let mut out = Vec::new();
    for node in &graph.nodes {
        if q.node_precision.get(&node.name) != Some(&Precision::Int8)
            || !matches!(node.op_type.as_str(), "Gemm" | "MatMul")
        {
            continue;
        }
        // Gemm's C (bias) is added by an elementwise layer, not multiplied: A and B only.
        for weight in node.inputs.iter().take(2) {
            let Some((values, _)) =
                graph.constant(weight).and_then(|t| calibr8_core::graph::tensor_f32(t).ok())
            else {
                continue;
            };
            let amax = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            out.push(ConstantRange {
                node: node.name.clone(),
                weight: weight.clone(),
                amax: positive(amax),
            });
        }
    }
    out
}

fn derived(tensor: &str, amax: f32, from: &str, node: &calibr8_core::graph::Node) -> DynamicRange {
    DynamicRange {
        tensor: tensor.to_string(),
        amax,
        origin: RangeOrigin::Derived {
            from: from.to_string(),
            node: node.name.clone(),
            op_type: node.op_type.clone(),
        },
    }
}

/// Dead tensors (amax ≈ 0) get amax 127 → scale 1, like every other artifact; TensorRT rejects
/// an empty range.
fn positive(amax: f32) -> f32 {
    if amax <= calibr8_calibration::DEAD_AMAX || !amax.is_finite() {
        127.0
    } else {
        amax
    }
}

/// Optimization-profile shapes: a dynamic first extent takes the batch profile; any other
/// dynamic extent is an error (calibr8 cannot guess it).
fn profile(model: &OnnxModel, batch: BatchProfile) -> Result<Vec<InputProfile>> {
    if !(1 <= batch.min && batch.min <= batch.opt && batch.opt <= batch.max) {
        return Err(Error::config(
            "batch",
            format!(
                "batch profile min {} opt {} max {} must satisfy 1 <= min <= opt <= max",
                batch.min, batch.opt, batch.max
            ),
        ));
    }
    let mut out = Vec::new();
    for input in model.inputs() {
        if input.dims.iter().all(|d| d.is_some()) {
            continue;
        }
        let shape = |b: usize| -> Result<Vec<i64>> {
            input
                .dims
                .iter()
                .enumerate()
                .map(|(axis, d)| match (axis, d) {
                    (_, Some(d)) => Ok(*d as i64),
                    (0, None) => Ok(b as i64),
                    (axis, None) => Err(Error::config(
                        "batch",
                        format!(
                            "input '{}' has a dynamic extent on axis {axis}; TensorRT needs its \
                             range. Export the model with a fixed size there",
                            input.name
                        ),
                    )),
                })
                .collect()
        };
        out.push(InputProfile {
            input: input.name.clone(),
            min: shape(batch.min)?,
            opt: shape(batch.opt)?,
            max: shape(batch.max)?,
        });
    }
    Ok(out)
}
