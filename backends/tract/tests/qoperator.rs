//! The QOperator lowering (issue 5): tract runs QLinearConv / QLinearMatMul with integer kernels,
//! and the int8 model computes what the QDQ model computes (tract) and what ONNX Runtime computes
//! on the same QOperator file.
//! See: https://github.com/calibr8/calibr8/issues/5

use calibr8_core::export::{qoperator_model, with_output_ranges};
use calibr8_core::graph::tensor_f32;
use calibr8_core::npy::{npy_bytes_f32, read_npy_f32};
use calibr8_core::{
    quantize_with, Backend, EngineOptions, Graph, Lowering, NpySource, OnnxModel, QuantConfig,
    QuantizedModel,
};
use calibr8_tract::{TractBackend, TractInt8Backend};
use ndarray::ArrayD;
use std::process::Command;

const DIGITS: &str = "../../examples/digits/digits_cnn.onnx";
const DIGITS_CALIB: &str = "../../examples/digits/calib.npy";
const DIGITS_EVAL: &str = "../../examples/digits/eval.npy";
const MLP: &str = "../../tests/data/mlp_gemm.onnx";
const MLP_CALIB: &str = "../../tests/data/mlp_gemm_calib.npy";

fn quantize(model: &str, calib: &str) -> QuantizedModel {
    let model = OnnxModel::load(model).unwrap();
    let data = NpySource::open(calib, 64).unwrap();
    let config = with_output_ranges(&QuantConfig {
        method: "minmax".parse().expect("a known method"),
        ..QuantConfig::default()
    });
    quantize_with(&TractBackend, &model, &data, &config).unwrap()
}

fn run(backend: &dyn Backend, q: &QuantizedModel, x: &ArrayD<f32>) -> ArrayD<f32> {
    let mut engine = backend.prepare(Lowering::Quantized(q), &EngineOptions::default()).unwrap();
    engine.run_f32(vec![x.clone()]).unwrap().remove(0)
}

/// ONNX Runtime's output on `model` (after onnx.checker full_check), via tests/ort_check.py.
fn onnx_runtime(model: &OnnxModel, x: &ArrayD<f32>) -> ArrayD<f32> {
    let dir = tempfile::tempdir().unwrap();
    let (path, input, output) =
        (dir.path().join("model.qop.onnx"), dir.path().join("x.npy"), dir.path().join("y.npy"));
    std::fs::write(&path, model.to_bytes()).unwrap();
    std::fs::write(&input, npy_bytes_f32(x)).unwrap();
    let status = Command::new("python3")
        .args([
            "../../tests/ort_check.py".as_ref(),
            path.as_os_str(),
            input.as_os_str(),
            output.as_os_str(),
        ])
        .status()
        .expect("python3 with onnx and onnxruntime is needed (pip install onnx onnxruntime)");
    assert!(status.success(), "ONNX Runtime / onnx.checker rejected the QOperator model");
    read_npy_f32(&output).unwrap()
}

fn max_abs_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    (a - b).iter().fold(0.0f32, |m, d| m.max(d.abs()))
}

/// Max over output channels of the weight row's L2 norm (dequantized values: |w| + scale/2 at
/// most), i.e. how much independent unit deviations of the inputs move one output, in RMS.
fn max_row_l2(q: &QuantizedModel, w: &str) -> f32 {
    let graph = Graph::new(&q.model);
    let (values, dims) = tensor_f32(graph.constant(w).unwrap()).unwrap();
    let params = &q.tensors[w].params;
    let axis = params.axis.expect("per-channel weights");
    let inner: usize = dims[axis + 1..].iter().product();
    let mut sq = vec![0.0f32; dims[axis]];
    for (ix, v) in values.iter().enumerate() {
        let c = (ix / inner) % dims[axis];
        sq[c] += (v.abs() + 0.5 * params.scale[c]).powi(2);
    }
    sq.into_iter().fold(0.0, f32::max).sqrt()
}

/// Bound on |QOperator − QDQ| at the output of a chain of lowered nodes separated by 1-Lipschitz
/// float ops (Relu, Flatten), derived layer by layer from the rounding model both exporters share
/// (every rounding error uniform in ±step/2, independent: variance step²/12). A worst-case (L1)
/// propagation is vacuous here (hundreds of units on outputs of magnitude ~10), so this tracks the
/// RMS deviation σ and bounds the maximum by 6σ over the few thousand outputs compared.
/// With σ_in the RMS deviation of a lowered node's float input (0 for the model input):
/// * re-rounding to the input grid `s_x` adds variance ≤ s_x·σ_in (a flip of one step happens
///   with probability ≤ |d|/s_x), so var_x = σ_in² + s_x·σ_in;
/// * the product moves by max‖w_row‖₂ · √var_x (RMS);
/// * Conv / bias-free MatMul round to the same grid `s_y` (re-rounding: + s_y·σ) and their int32
///   bias is off by ≤ s_x·s_w/2;
/// * Gemm with bias rounds `x·w` to its own grid `s'` in QOperator and `x·w + C` to `s_y` in
///   QDQ: two independent roundings, (s'² + s_y²)/12.
fn drift_bound(q: &QuantizedModel, qop: &OnnxModel) -> f32 {
    let graph = Graph::new(&q.model);
    let init = |name: &str| {
        let t = qop.graph().initializer.iter().find(|t| t.name == name);
        t.map(|t| f32::from_le_bytes(t.raw_data[..4].try_into().unwrap()))
    };
    let mut sigma = 0.0f32;
    for n in graph.nodes.iter().filter(|n| ["Conv", "Gemm", "MatMul"].contains(&n.op_type.as_str()))
    {
        let (x, w, y) =
            (&q.tensors[&n.inputs[0]], &q.tensors[&n.inputs[1]], &q.tensors[&n.outputs[0]]);
        let (s_x, s_y) = (x.params.scale[0], y.params.scale[0]);
        let var_x = sigma * sigma + s_x * sigma;
        let product = max_row_l2(q, &n.inputs[1]) * var_x.sqrt();
        let s_w = w.params.scale.iter().copied().fold(0.0, f32::max);
        let var = match init(&format!("{}.matmul.scale", n.name)) {
            Some(s_pre) => product * product + (s_pre * s_pre + s_y * s_y) / 12.0,
            None => {
                let p = product + 0.5 * s_x * s_w;
                p * p + s_y * p
            }
        };
        sigma = var.sqrt();
    }
    6.0 * sigma
}

/// How far tract and ONNX Runtime may drift on the *same* QOperator model: both accumulate in
/// int32 exactly and requantize to the same grids; they may differ only where a requantized value
/// lands on a rounding boundary (fixed-point vs float multiplier). On the last lowered node that
/// is one step of its output grid, plus up to four flipped input elements each moving the output
/// by `s_x · max|w|` (the bound the QDQ pipeline test uses for ONNX Runtime vs tract).
fn engine_bound(q: &QuantizedModel, qop: &OnnxModel) -> f32 {
    let graph = Graph::new(&q.model);
    let last = graph
        .nodes
        .iter()
        .rev()
        .find(|n| ["Conv", "Gemm", "MatMul"].contains(&n.op_type.as_str()))
        .unwrap();
    let init = |name: &str| {
        let t = qop.graph().initializer.iter().find(|t| t.name == name);
        t.map(|t| f32::from_le_bytes(t.raw_data[..4].try_into().unwrap()))
    };
    let (x, w, y) =
        (&q.tensors[&last.inputs[0]], &q.tensors[&last.inputs[1]], &q.tensors[&last.outputs[0]]);
    let out_step = init(&format!("{}.matmul.scale", last.name)).unwrap_or(y.params.scale[0]);
    let w_max = w.range.amax.iter().copied().fold(0.0, f32::max);
    out_step + 4.0 * x.params.scale[0] * w_max
}

fn check_model(model: &str, calib: &str, x: &ArrayD<f32>, expect_lowered: usize) {
    let q = quantize(model, calib);
    let qop = qoperator_model(&q).unwrap();
    assert!(qop.kept_float.is_empty(), "{model}: {:?}", qop.kept_float);
    assert_eq!(qop.lowered.len(), expect_lowered, "{model}: {:?}", qop.lowered);
    assert!(qop.model.opset() >= 10, "QLinear ops need opset 10");
    let ops: Vec<&str> = qop.model.graph().node.iter().map(|n| n.op_type.as_str()).collect();
    assert!(!ops.iter().any(|o| ["Conv", "Gemm", "MatMul"].contains(o)), "{model}: {ops:?}");
    // No float weight is left behind.
    let dead = q
        .weights()
        .filter(|w| qop.model.graph().initializer.iter().any(|t| t.name == w.target.tensor));
    assert_eq!(dead.count(), 0, "{model}: float weights kept");

    let int8 = run(&TractInt8Backend, &q, x);
    let qdq = run(&TractBackend, &q, x);
    let ort = onnx_runtime(&qop.model, x);
    let (bound, ort_bound) = (drift_bound(&q, &qop.model), engine_bound(&q, &qop.model));
    let (vs_qdq, vs_ort) = (max_abs_diff(&int8, &qdq), max_abs_diff(&int8, &ort));
    println!(
        "{model}: max |QOperator − QDQ| (tract) {vs_qdq:.5} (bound {bound:.5}), \
         max |tract − ONNX Runtime| (QOperator) {vs_ort:.5} (bound {ort_bound:.5})"
    );
    assert!(vs_qdq <= bound, "{model}: QOperator and QDQ differ by {vs_qdq} > {bound}");
    assert!(
        vs_ort <= ort_bound,
        "{model}: tract and ONNX Runtime differ by {vs_ort} > {ort_bound}"
    );
    // The bound is not vacuous: below the outputs' own magnitude.
    let spread = qdq.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(bound < spread, "{model}: bound {bound} vs |y| up to {spread}");
}

#[test]
fn issue_5_qoperator_agrees_with_qdq_and_onnx_runtime_on_digits() {
    let x = read_npy_f32(DIGITS_EVAL).unwrap();
    check_model(DIGITS, DIGITS_CALIB, &x, 4);
}

#[test]
fn issue_5_qoperator_agrees_with_qdq_and_onnx_runtime_on_gemm_mlp() {
    // Gemm with transB = 1 and bias, and a bias-free MatMul (the exact path).
    let x = read_npy_f32(MLP_CALIB).unwrap();
    check_model(MLP, MLP_CALIB, &x, 4);
}

#[test]
fn issue_5_tract_runs_lowered_nodes_with_integer_kernels() {
    for (model, calib) in [(DIGITS, DIGITS_CALIB), (MLP, MLP_CALIB)] {
        let q = quantize(model, calib);
        let qop = qoperator_model(&q).unwrap();
        let options = EngineOptions::default();
        let engine = TractInt8Backend.prepare_engine(Lowering::Quantized(&q), &options).unwrap();
        let nodes = engine.nodes();
        for lowered in &qop.lowered {
            // tract's matrix product for this node: integer operands, an i32 kernel.
            let prefix = format!("{}.qlinear", lowered.node);
            let mm = nodes
                .iter()
                .find(|n| n.name.starts_with(&prefix) && n.op == "OptMatMul")
                .unwrap_or_else(|| {
                    panic!("{model}: no OptMatMul for {}: {nodes:#?}", lowered.node)
                });
            assert!(mm.input_types.iter().any(|t| t == "I8"), "{model}: {mm:?}");
            assert!(!mm.input_types.iter().any(|t| t == "F32"), "{model}: float operand in {mm:?}");
            assert!(mm.info.contains("mmm_i32") && mm.info.contains("PackedI8"), "{model}: {mm:?}");
        }
        // The float model, by contrast, multiplies in f32.
        let float = TractInt8Backend.prepare_engine(Lowering::Float(&q.model), &options).unwrap();
        let f32_mm = float.nodes().into_iter().filter(|n| n.op == "OptMatMul").collect::<Vec<_>>();
        assert!(
            !f32_mm.is_empty() && f32_mm.iter().all(|n| !n.info.contains("PackedI8")),
            "{f32_mm:?}"
        );
    }
}

#[test]
fn issue_5_nodes_without_output_ranges_stay_float_with_the_reason() {
    let model = OnnxModel::load(DIGITS).unwrap();
    let data = NpySource::open(DIGITS_CALIB, 64).unwrap();
    // The default config has no `_output_`: nothing can be lowered, and each node says why.
    let q = quantize_with(
        &TractBackend,
        &model,
        &data,
        &QuantConfig { method: "minmax".parse().expect("a known method"), ..Default::default() },
    )
    .unwrap();
    let qop = qoperator_model(&q).unwrap();
    assert!(qop.lowered.is_empty());
    let names: Vec<&str> = qop.kept_float.iter().map(|f| f.node.as_str()).collect();
    assert_eq!(names, ["conv1", "conv2", "fc1", "fc2"]);
    assert!(
        qop.kept_float[0].reason.contains("output 'conv1_out' has no calibrated range"),
        "{:?}",
        qop.kept_float[0]
    );
    // And the model still runs, in float, identical to the float model.
    let x = read_npy_f32(DIGITS_EVAL).unwrap();
    let mut a =
        TractInt8Backend.prepare(Lowering::Quantized(&q), &EngineOptions::default()).unwrap();
    let mut b = TractBackend.prepare(Lowering::Float(&model), &EngineOptions::default()).unwrap();
    assert_eq!(a.run_f32(vec![x.clone()]).unwrap(), b.run_f32(vec![x]).unwrap());
}

#[test]
fn issue_5_quantized_nodes_without_a_qlinear_op_are_listed_as_float() {
    // A config that also quantizes Relu: Conv/Gemm still lower, each Relu is reported as float.
    let model = OnnxModel::load(DIGITS).unwrap();
    let data = NpySource::open(DIGITS_CALIB, 64).unwrap();
    let mut config =
        QuantConfig { method: "minmax".parse().expect("a known method"), ..QuantConfig::default() };
    config.config_list[0].op_types.push("Relu".into());
    let q = quantize_with(&TractBackend, &model, &data, &with_output_ranges(&config)).unwrap();
    let qop = qoperator_model(&q).unwrap();
    assert_eq!(qop.lowered.len(), 4);
    let float: Vec<&str> = qop.kept_float.iter().map(|f| f.node.as_str()).collect();
    assert_eq!(float, ["relu1", "relu2", "relu3"]);
    assert!(qop.kept_float.iter().all(|f| f.reason.contains("no QLinear operator for Relu")));
}

#[test]
fn issue_5_opset_below_10_is_an_error_naming_the_fix() {
    // QLinearConv / QLinearMatMul exist from opset 10 on.
    let mut q = quantize(DIGITS, DIGITS_CALIB);
    for o in q.model.proto.opset_import.iter_mut() {
        o.version = 9;
    }
    let err = qoperator_model(&q).unwrap_err().to_string();
    assert!(err.contains("opset 9") && err.contains("opset_version=13"), "{err}");
}
