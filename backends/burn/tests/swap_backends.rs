//! The same `QuantizedModel` on tract and on burn: every check runs one helper, `run`, twice,
//! and the two calls differ in one line, the backend.
//!
//! Agreement criteria:
//! - fp32: `max |burn - tract| <= 1e-5 * max |tract|` for the outputs and every intermediate
//!   tensor, relative to the tensor's largest magnitude (element-wise relative error is
//!   meaningless where a value crosses zero; the engines sum in different orders).
//! - int8, quantized activations (`{t}.dequantized` in the QDQ export): two correct engines
//!   whose float sums differ in the last bits may round a value lying at a rounding boundary
//!   to either side, so each element agrees within one quantization step `scale(t)` *given the
//!   same quantized inputs*. End to end, a flipped value feeds the next layer, which can then
//!   differ by more than one step; so the check is made layer by layer: the QDQ model is cut
//!   after every quantized activation (its consumers read a new graph input `{t}.fed`), both
//!   engines are fed tract's end-to-end quantized values, and every `{t}.dequantized` must agree
//!   within one step. The end-to-end run is reported and bounded through the output bound.
//! - int8, model outputs: each model's output is a Gemm `y = A W (+ b)` whose input `A` is a
//!   quantized activation, agreeing within `d` steps of `s_A` element-wise (`d` = 1 in the
//!   layer-by-layer run, where it is asserted; the measured `d` end to end) and whose weight is
//!   the int8 weight `Wq`. Then `|Δy_j| <= d * s_A * sum_k |Wq_kj|`, plus the fp32 tolerance:
//!   the bound is `d * s_A * max_j sum_k |Wq_kj| + 1e-5 * max |y|`, computed from each model's
//!   own weights (`|Wq| <= |W| + s_W / 2` element-wise).

use calibr8_burn::backend::BurnBackend;
use calibr8_core::graph::tensor_f32;
use calibr8_core::npy::read_npy_f32;
use calibr8_core::{
    quantize_with, Backend, EngineOptions, Graph, Lowering, NpySource, OnnxModel, QuantConfig,
    QuantizedModel,
};
use calibr8_tract::TractBackend;
use ndarray::ArrayD;
use std::collections::HashSet;
use tract_onnx::pb;

const DIGITS: (&str, &str) =
    ("../../examples/digits/digits_cnn.onnx", "../../examples/digits/calib.npy");
const RESNET: (&str, &str) =
    ("../../tests/data/resnet_tiny.onnx", "../../tests/data/resnet_tiny_calib.npy");
const MLP: (&str, &str) = ("../../tests/data/mlp_gemm.onnx", "../../tests/data/mlp_gemm_calib.npy");
const ZOO: (&str, &str) = ("tests/data/ops_zoo.onnx", "tests/data/ops_zoo_input.npy");

/// fp32 agreement, relative to the largest magnitude of the reference tensor.
const FP32_RTOL: f32 = 1e-5;

/// Runs `lowering` on `backend` over `inputs`: the model outputs, then the `capture`d tensors.
fn run(
    backend: &dyn Backend,
    lowering: Lowering<'_>,
    capture: &[String],
    inputs: &[ArrayD<f32>],
) -> Vec<ArrayD<f32>> {
    let options = EngineOptions { capture: capture.to_vec(), ..Default::default() };
    let start = std::time::Instant::now();
    let mut engine = backend.prepare(lowering, &options).unwrap();
    let prepared = start.elapsed();
    let names = engine.output_names();
    assert_eq!(&names[names.len() - capture.len()..], capture, "{}", backend.name());
    let out = engine.run_f32(inputs.to_vec()).unwrap();
    let origin = lowering.model().origin.clone();
    let batch = inputs[0].shape()[0];
    println!(
        "timing {} on {origin} (batch {batch}, {} captures): prepare {:.1} ms, run {:.1} ms",
        backend.name(),
        capture.len(),
        prepared.as_secs_f64() * 1e3,
        (start.elapsed() - prepared).as_secs_f64() * 1e3
    );
    out
}

fn max_abs(a: &ArrayD<f32>) -> f32 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn max_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn load(files: (&str, &str)) -> (OnnxModel, ArrayD<f32>) {
    (OnnxModel::load(files.0).unwrap(), read_npy_f32(files.1).unwrap())
}

/// Every float node output of the model (not constants, outputs, or integer shape values,
/// which tract cannot return while the batch size is symbolic).
fn float_activations(model: &OnnxModel) -> Vec<String> {
    let g = Graph::new(model);
    let mut ints: HashSet<String> = HashSet::new();
    for n in &g.nodes {
        let shape_math = n.op_type == "Shape"
            || (n.op_type != "Cast"
                && n.inputs.iter().any(|i| ints.contains(i))
                && n.inputs.iter().all(|i| ints.contains(i) || g.is_constant(i)));
        if shape_math {
            ints.extend(n.outputs.iter().cloned());
        }
    }
    g.nodes
        .iter()
        .flat_map(|n| n.outputs.clone())
        .filter(|t| !g.is_constant(t) && !g.outputs.contains(t) && !ints.contains(t))
        .collect()
}

fn check_fp32(files: (&str, &str)) {
    let (model, x) = load(files);
    compare_fp32(files.0, &model, &x);
}

fn compare_fp32(label: &str, model: &OnnxModel, x: &ArrayD<f32>) {
    let capture = float_activations(model);
    let x = std::slice::from_ref(x);
    let tract = run(&TractBackend, Lowering::Float(model), &capture, x);
    let burn = run(&BurnBackend::default(), Lowering::Float(model), &capture, x);
    let names = std::iter::once("output".to_string()).chain(capture);
    for ((name, t), b) in names.zip(&tract).zip(&burn) {
        let (diff, scale) = (max_diff(t, b), max_abs(t));
        println!("{label}: {name}: max |burn - tract| = {diff:e} (max |tract| = {scale})");
        assert!(diff <= FP32_RTOL * scale, "{name}: {diff} > {FP32_RTOL} * {scale}");
    }
}

fn quantize(model: &OnnxModel, calib: &str, config: &QuantConfig) -> QuantizedModel {
    let data = NpySource::open(calib, 16).unwrap();
    quantize_with(&TractBackend, model, &data, config).unwrap()
}

/// The quantized activation whose element-wise step bound reaches `tensor`: itself, or the
/// nearest quantized tensor upstream through 1-Lipschitz element-wise ops and reshapes (an
/// excluded node reads e.g. `relu(t.dequantized)`).
fn quantized_source<'a>(q: &'a QuantizedModel, g: &'a Graph, tensor: &'a str) -> &'a str {
    let mut t = tensor;
    while !q.tensors.contains_key(t) {
        let p = g.producer(t).unwrap_or_else(|| panic!("{tensor}: no quantized source"));
        assert!(
            ["Relu", "Flatten", "Reshape", "Identity"].contains(&p.op_type.as_str()),
            "{tensor}: reached through {}",
            p.op_type
        );
        t = &p.inputs[0];
    }
    t
}

/// The Gemm or MatMul computing `output`, directly or through a bias `Add` (burn-onnx
/// exports `Linear` as MatMul + Add).
fn output_matmul<'g>(g: &'g Graph, output: &str) -> &'g calibr8_core::graph::Node {
    let node = g.producer(output).unwrap();
    if node.op_type == "Add" {
        if let Some(m) =
            node.inputs.iter().filter_map(|i| g.producer(i)).find(|n| n.op_type == "MatMul")
        {
            return m;
        }
    }
    assert!(
        node.op_type == "Gemm" || node.op_type == "MatMul",
        "{output} comes from {}",
        node.op_type
    );
    node
}

/// `s_A * max_j sum_k |Wq_kj|` for the Gemm / MatMul producing `output` (see module docs).
fn output_step_gain(q: &QuantizedModel, output: &str) -> f32 {
    let g = Graph::new(&q.model);
    let node = output_matmul(&g, output);
    let raw = q.model.graph().node.iter().find(|n| n.name == node.name).unwrap();
    let s_a = q.tensors[quantized_source(q, &g, &node.inputs[0])].params.scale[0];
    // An excluded node keeps its float weight: no weight step (s_W = 0).
    let s_w_of = |j: usize| {
        q.tensors
            .get(&node.inputs[1])
            .map_or(0.0, |wq| wq.params.scale[if wq.params.scale.len() > 1 { j } else { 0 }])
    };
    let (w, dims) = tensor_f32(g.constant(&node.inputs[1]).unwrap()).unwrap();
    let trans_b = raw.attribute.iter().any(|a| a.name == "transB" && a.i != 0);
    // Column j of B' (B, or Bᵀ with transB): the weights multiplying A's row for output j.
    let (k, n) = if trans_b { (dims[1], dims[0]) } else { (dims[0], dims[1]) };
    let mut worst = 0f32;
    for j in 0..n {
        let s_w = s_w_of(j);
        let sum: f32 = (0..k)
            .map(|kk| w[if trans_b { j * k + kk } else { kk * n + j }].abs() + s_w / 2.0)
            .sum();
        worst = worst.max(sum);
    }
    s_a * worst
}

/// A float graph input or output named `name` with `dims`.
fn value_info(name: &str, dims: &[usize]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value as Dim, Dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(Dim::DimValue(d as i64)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The QDQ model cut after each quantized activation in `cut`: readers of `{t}.dequantized`
/// read the new graph input `{t}.fed` instead (shaped like its value). The model input gets
/// `x`'s concrete shape, so that tract relates the new inputs' batch to it.
fn cut_model(q: &QuantizedModel, x: &ArrayD<f32>, cut: &[(String, ArrayD<f32>)]) -> OnnxModel {
    let mut proto = calibr8_core::export::qdq_model(q).unwrap().proto;
    let graph = proto.graph.as_mut().unwrap();
    let input = &q.model.inputs()[0].name;
    for i in graph.input.iter_mut().filter(|i| &i.name == input) {
        *i = value_info(input, x.shape());
    }
    for (t, value) in cut {
        let (from, to) = (format!("{t}.dequantized"), format!("{t}.fed"));
        for n in graph.node.iter_mut() {
            for i in n.input.iter_mut().filter(|i| **i == from) {
                *i = to.clone();
            }
        }
        graph.input.push(value_info(&to, value.shape()));
    }
    OnnxModel::from_proto(proto, format!("{} (cut at every quantized activation)", q.model.origin))
        .unwrap()
}

/// Compares every quantized activation and the output of two runs; returns the largest
/// activation difference in steps.
fn compare_int8(
    label: &str,
    acts: &[(String, f32)],
    tract: &[ArrayD<f32>],
    burn: &[ArrayD<f32>],
) -> f32 {
    let mut worst = 0f32;
    for (((name, scale), t), b) in acts.iter().zip(&tract[1..]).zip(&burn[1..]) {
        let steps = max_diff(t, b) / scale;
        let differing = t.iter().zip(b).filter(|(x, y)| x != y).count();
        println!("{label}: {name}: max {steps:.3} steps, {differing}/{} elements differ", t.len());
        worst = worst.max(steps);
    }
    worst
}

fn check_int8(files: (&str, &str)) {
    let (model, x) = load(files);
    compare_int8_runs(files.0, &model, &x, files.1, &QuantConfig::default());
}

fn compare_int8_runs(
    label: &str,
    model: &OnnxModel,
    x: &ArrayD<f32>,
    calib: &str,
    config: &QuantConfig,
) {
    let q = quantize(model, calib, config);
    let acts: Vec<(String, f32)> =
        q.activations().map(|t| (t.target.tensor.clone(), t.params.scale[0])).collect();
    assert!(!acts.is_empty());
    let capture: Vec<String> = acts.iter().map(|(t, _)| format!("{t}.dequantized")).collect();
    let output = q.model.outputs()[0].name.clone();
    let gain = output_step_gain(&q, &output);

    // End to end.
    let xs = std::slice::from_ref(x);
    let tract = run(&TractBackend, Lowering::Quantized(&q), &capture, xs);
    let burn = run(&BurnBackend::default(), Lowering::Quantized(&q), &capture, xs);
    let model_label = label;
    let label = format!("{model_label} end to end");
    compare_int8(&label, &acts, &tract, &burn);
    let g = Graph::new(&q.model);
    let a = quantized_source(&q, &g, &output_matmul(&g, &output).inputs[0]);
    let ix = acts.iter().position(|(t, _)| t == a).unwrap();
    let d = (max_diff(&tract[ix + 1], &burn[ix + 1]) / acts[ix].1).round();
    let (diff, bound) = (max_diff(&tract[0], &burn[0]), d * gain + FP32_RTOL * max_abs(&tract[0]));
    println!(
        "{label}: {output}: max |burn - tract| = {diff:e}, bound ({d} steps of {a}) {bound:e}"
    );
    assert!(diff <= bound, "{output}: {diff} > {bound}");

    // Layer by layer: both engines read tract's quantized values at every cut.
    let graph_inputs: HashSet<String> = q.model.inputs().into_iter().map(|i| i.name).collect();
    let cut: Vec<(String, ArrayD<f32>)> = acts
        .iter()
        .zip(&tract[1..])
        .filter(|((t, _), _)| !graph_inputs.contains(t))
        .map(|((t, _), v)| (t.clone(), v.clone()))
        .collect();
    let layered = cut_model(&q, x, &cut);
    let mut inputs = vec![x.clone()];
    inputs.extend(cut.iter().map(|(_, v)| v.clone()));
    let tract = run(&TractBackend, Lowering::Float(&layered), &capture, &inputs);
    let burn = run(&BurnBackend::default(), Lowering::Float(&layered), &capture, &inputs);
    let label = format!("{model_label} layer by layer");
    let steps = compare_int8(&label, &acts, &tract, &burn);
    // One step, with room for the f32 rounding of `(q - zp) * scale` itself.
    assert!(steps <= 1.0 + 1e-5, "{label}: activations differ by {steps} steps");
    let (diff, bound) = (max_diff(&tract[0], &burn[0]), gain + FP32_RTOL * max_abs(&tract[0]));
    println!("{label}: {output}: max |burn - tract| = {diff:e}, bound (1 step) {bound:e}");
    assert!(diff <= bound, "{output}: {diff} > {bound}");
}

#[test]
fn fp32_digits_cnn_agrees_with_tract() {
    check_fp32(DIGITS);
}

#[test]
fn fp32_resnet_tiny_agrees_with_tract() {
    check_fp32(RESNET);
}

#[test]
fn fp32_mlp_gemm_agrees_with_tract() {
    check_fp32(MLP);
}

#[test]
fn int8_digits_cnn_agrees_with_tract_within_one_step() {
    check_int8(DIGITS);
}

#[test]
fn int8_resnet_tiny_agrees_with_tract_within_one_step() {
    check_int8(RESNET);
}

#[test]
fn int8_mlp_gemm_agrees_with_tract_within_one_step() {
    check_int8(MLP);
}

/// NNI-style config: uint8 affine activations and outputs, per-tensor weights, `fc2` excluded
/// (it reads float tensors and keeps its float weight).
#[test]
fn int8_nni_config_uint8_affine_with_an_excluded_node_agrees_with_tract() {
    use calibr8_calibration::{QuantDtype, Scheme};
    use calibr8_core::config::{ConfigRule, GranularityName};
    use calibr8_core::{Precision, Target};
    let config = QuantConfig {
        method: "mse".into(),
        config_list: vec![
            ConfigRule {
                op_types: vec!["Conv2d".into(), "Linear".into()],
                target_names: vec![Target::Input, Target::Weight, Target::Output],
                quant_dtype: QuantDtype::Uint8,
                quant_scheme: Scheme::Affine,
                granularity: GranularityName::Default,
                ..ConfigRule::default()
            },
            ConfigRule {
                exclude_op_names: vec!["fc2".into()],
                precision: Precision::Fp16,
                ..ConfigRule::default()
            },
        ],
        ..QuantConfig::default()
    };
    let (model, x) = load(DIGITS);
    compare_int8_runs("digits_cnn.onnx (nni config)", &model, &x, DIGITS.1, &config);
}

/// `tests/data/ops_zoo.onnx` (see make_ops_zoo.py): every kernel the bundled models leave out,
/// checked tensor by tensor against ONNX Runtime's values, then against tract.
#[test]
fn fp32_ops_zoo_matches_onnx_runtime_and_tract() {
    let (model, x) = load(ZOO);
    let capture = float_activations(&model);
    let burn = run(&BurnBackend::default(), Lowering::Float(&model), &capture, &[x]);
    let names = std::iter::once("probs".to_string()).chain(capture.iter().cloned());
    for (name, b) in names.zip(&burn) {
        let reference = read_npy_f32(format!("tests/data/ops_zoo_ref/{name}.npy")).unwrap();
        let (diff, scale) = (max_diff(&reference, b), max_abs(&reference));
        println!("ops_zoo: {name}: max |burn - onnxruntime| = {diff:e} (max {scale})");
        assert!(diff <= FP32_RTOL * scale, "{name}: {diff} > {FP32_RTOL} * {scale}");
    }
    check_fp32(ZOO);
}

/// A one-node model `x -> Erf -> y` (Erf: a valid ONNX op the burn backend has no kernel for).
fn erf_model() -> OnnxModel {
    let proto = pb::ModelProto {
        ir_version: 7,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(pb::GraphProto {
            name: "erf".into(),
            node: vec![pb::NodeProto {
                name: "erf_node".into(),
                op_type: "Erf".into(),
                input: vec!["x".into()],
                output: vec!["y".into()],
                ..Default::default()
            }],
            input: vec![value_info("x", &[4])],
            output: vec![value_info("y", &[4])],
            ..Default::default()
        }),
        ..Default::default()
    };
    OnnxModel::from_proto(proto, "erf.onnx").unwrap()
}

#[test]
fn unsupported_op_is_an_error_naming_the_op_and_node() {
    let model = erf_model();
    let options = EngineOptions::default();
    // tract runs it (so the model is valid) ...
    let mut tract = TractBackend.prepare(Lowering::Float(&model), &options).unwrap();
    let y = tract.run_f32(vec![ArrayD::zeros(vec![4])]).unwrap();
    assert_eq!(y[0].shape(), &[4]);
    // ... burn refuses it at preparation, saying which node and op.
    let err = BurnBackend::default().prepare(Lowering::Float(&model), &options).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, calibr8_core::Error::UnsupportedNode { .. }), "{msg}");
    assert!(msg.contains("'erf_node'") && msg.contains("Erf") && msg.contains("erf.onnx"), "{msg}");
}

#[test]
fn unknown_capture_name_is_an_error_on_both_backends() {
    let (model, _) = load(DIGITS);
    let options = EngineOptions { capture: vec!["no_such_tensor".into()], ..Default::default() };
    for backend in [&TractBackend as &dyn Backend, &BurnBackend::default()] {
        let err = backend.prepare(Lowering::Float(&model), &options).err().unwrap();
        assert!(
            matches!(&err, calibr8_core::Error::UnknownTensor { tensor, .. } if tensor == "no_such_tensor"),
            "{}: {err}",
            backend.name()
        );
    }
    assert_eq!(BurnBackend::default().name(), "burn");
    // fp16 float lowering is refused, not silently run in fp32.
    let fp16 = EngineOptions {
        float_precision: Some(calibr8_core::Precision::Fp16),
        ..Default::default()
    };
    let err = BurnBackend::default().prepare(Lowering::Float(&model), &fp16).err().unwrap();
    assert!(matches!(err, calibr8_core::Error::Unsupported { .. }), "{err}");
}

/// The digits example's network in burn (Conv-ReLU-MaxPool ×2, Linear), as burn-onnx's
/// tracer exports it (MaxPool, MatMul + Add for Linear, dynamic-batch Reshape).
#[derive(burn::module::Module, Debug)]
struct Cnn {
    conv1: burn::nn::conv::Conv2d,
    relu: burn::nn::Relu,
    pool: burn::nn::pool::MaxPool2d,
    conv2: burn::nn::conv::Conv2d,
    fc: burn::nn::Linear,
}

impl Cnn {
    fn new(device: &burn::tensor::Device) -> Cnn {
        use burn::nn::{conv::Conv2dConfig, pool::MaxPool2dConfig, LinearConfig, PaddingConfig2d};
        device.seed(3);
        let pad = PaddingConfig2d::Explicit(1, 1, 1, 1);
        Cnn {
            conv1: Conv2dConfig::new([1, 8], [3, 3]).with_padding(pad.clone()).init(device),
            relu: burn::nn::Relu::new(),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            conv2: Conv2dConfig::new([8, 16], [3, 3]).with_padding(pad).init(device),
            fc: LinearConfig::new(16 * 2 * 2, 10).init(device),
        }
    }

    fn forward(&self, x: burn::tensor::Tensor<4>) -> burn::tensor::Tensor<2> {
        let x = self.pool.forward(self.relu.forward(self.conv1.forward(x)));
        let x = self.pool.forward(self.relu.forward(self.conv2.forward(x)));
        let [n, c, h, w] = x.dims();
        self.fc.forward(x.reshape([n, c * h * w]))
    }
}

#[test]
fn burn_onnx_traced_cnn_agrees_with_tract_in_fp32_and_int8() {
    use burn::tensor::{Tensor, TensorData};
    use burn_onnx::export::{AxisSpec, InputSpec, OnnxExporter};
    let device = burn::tensor::Device::flex();
    let cnn = Cnn::new(&device);
    let (_, x) = load(DIGITS);
    let example: Tensor<4> = Tensor::from_data(
        TensorData::new(x.iter().take(4 * 64).copied().collect::<Vec<f32>>(), [4, 1, 8, 8]),
        &device,
    );
    let validation = Tensor::cat(vec![example.clone(), example.clone()], 0);
    let batch = AxisSpec::dynamic("batch");
    let spec = InputSpec::new([batch, AxisSpec::Static, AxisSpec::Static, AxisSpec::Static]);
    let bytes = OnnxExporter::new()
        .export_dynamic(&cnn, example, validation, &[spec], Cnn::forward)
        .unwrap();
    let model = OnnxModel::from_bytes(bytes.as_bytes(), "traced_cnn.onnx").unwrap();
    let ops: HashSet<&str> = model.graph().node.iter().map(|n| n.op_type.as_str()).collect();
    println!("burn-onnx traced CNN ops: {ops:?}");
    assert!(ops.contains("MaxPool") && ops.contains("MatMul") && ops.contains("Conv"));
    compare_fp32("traced_cnn.onnx", &model, &x);
    compare_int8_runs("traced_cnn.onnx", &model, &x, DIGITS.1, &QuantConfig::default());
}

#[test]
fn bad_shapes_at_run_time_are_errors_naming_the_input_or_node() {
    // A batch of the wrong shape: the input is named, nothing panics.
    let (model, _) = load(DIGITS);
    let options = EngineOptions::default();
    let mut engine = BurnBackend::default().prepare(Lowering::Float(&model), &options).unwrap();
    let err = engine.run_f32(vec![ArrayD::zeros(vec![2, 1, 9, 9])]).err().unwrap().to_string();
    assert!(err.contains("input 'input'") && err.contains("[2, 1, 9, 9]"), "{err}");
    let err = engine.run_f32(vec![]).err().unwrap().to_string();
    assert!(err.contains("gives 0 array(s) for 1 input(s)"), "{err}");

    // `x [4] + c [3]`: valid protobuf, shapes that do not broadcast. burn only sees it when the
    // node runs, and says which node.
    let mut proto = erf_model().proto;
    let graph = proto.graph.as_mut().unwrap();
    graph.node[0] = pb::NodeProto {
        name: "bad_add".into(),
        op_type: "Add".into(),
        input: vec!["x".into(), "c".into()],
        output: vec!["y".into()],
        ..Default::default()
    };
    graph.initializer.push(pb::TensorProto {
        name: "c".into(),
        dims: vec![3],
        data_type: 1,
        float_data: vec![1.0, 2.0, 3.0],
        ..Default::default()
    });
    let model = OnnxModel::from_proto(proto, "bad_add.onnx").unwrap();
    let mut engine = BurnBackend::default().prepare(Lowering::Float(&model), &options).unwrap();
    let err = engine.run_f32(vec![ArrayD::zeros(vec![4])]).err().unwrap().to_string();
    assert!(err.contains("'bad_add' (Add)") && err.contains("do not broadcast"), "{err}");
}
