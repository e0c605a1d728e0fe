//! The same models on tract, ONNX Runtime and burn, tensor by tensor; calibration through
//! ONNX Runtime giving tract's ranges. Every check runs one helper, `run`, once per backend:
//! swapping the backend is one argument.
//!
//! Agreement criteria:
//! - fp32: `max |x - tract| <= 1e-5 * max |tract|` for the outputs and every intermediate tensor
//!   (relative to the tensor's largest magnitude: the engines sum in different orders).
//! - int8 (the QDQ export), layer by layer: every quantized activation `{t}.dequantized` is
//!   captured. Captured, a DQ output is a graph output, so ONNX Runtime cannot fold it into an
//!   int8 kernel and computes what tract computes — Q/DQ in float — and two correct float
//!   engines may round a value lying on a rounding boundary to either side: each element agrees
//!   within one quantization step of its tensor, after the same steps upstream can have
//!   propagated. So the bound is asserted on the *fraction* of elements off by more than one
//!   step (≤ 1%) and on the largest difference in steps (measured, printed).
//! - int8 end to end, nothing captured (ONNX Runtime then runs its int8 kernels): top-1 of the
//!   logits agrees with tract's on ≥ 97% of the samples, and the logits agree within 5% of
//!   their largest magnitude. These are the bounds of an int8 kernel against a float
//!   simulation, measured and printed.
//! - calibration (minmax): every range from ONNX Runtime's captures equals tract's within
//!   1e-5 relative — the same tensors, the same observers, only the engine swapped.

mod common;

use calibr8_burn::backend::BurnBackend;
use calibr8_core::npy::read_npy_f32;
use calibr8_core::{
    quantize_with, Backend, EngineOptions, Graph, InMemory, Lowering, OnnxModel, QuantConfig,
    QuantizedModel,
};
use calibr8_tract::TractBackend;
use common::{ort_cpu, DIGITS, DIGITS_OPSET11, MLP, RESNET};
use ndarray::{ArrayD, Axis, Slice};
use std::collections::HashSet;

const FP32_RTOL: f32 = 1e-5;

/// Runs `lowering` on `backend` over `x`: the model outputs, then the `capture`d tensors.
fn run(
    backend: &dyn Backend,
    lowering: Lowering<'_>,
    capture: &[String],
    x: &ArrayD<f32>,
) -> Vec<ArrayD<f32>> {
    let options = EngineOptions { capture: capture.to_vec(), ..Default::default() };
    let start = std::time::Instant::now();
    let mut engine = backend.prepare(lowering, &options).unwrap();
    let names = engine.output_names();
    assert_eq!(&names[names.len() - capture.len()..], capture, "{}", backend.name());
    let out = engine.run_f32(vec![x.clone()]).unwrap();
    println!(
        "timing {} on {} (batch {}, {} captures): {:.1} ms",
        backend.name(),
        lowering.model().origin,
        x.shape()[0],
        capture.len(),
        start.elapsed().as_secs_f64() * 1e3
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

fn load(files: (&str, &str), samples: usize) -> (OnnxModel, ArrayD<f32>) {
    let x = read_npy_f32(files.1).unwrap();
    let n = samples.min(x.shape()[0]);
    (OnnxModel::load(files.0).unwrap(), x.slice_axis(Axis(0), Slice::from(0..n)).to_owned())
}

/// Every float node output of the model that is not a constant or a graph output (integer
/// shape arithmetic excluded: tract cannot return it while the batch is symbolic).
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
    let (model, x) = load(files, 64);
    let capture = float_activations(&model);
    assert!(!capture.is_empty());
    let tract = run(&TractBackend, Lowering::Float(&model), &capture, &x);
    let ort = run(&ort_cpu(), Lowering::Float(&model), &capture, &x);
    let burn = run(&BurnBackend::default(), Lowering::Float(&model), &capture, &x);
    let names: Vec<String> =
        model.outputs().into_iter().map(|o| o.name).chain(capture.iter().cloned()).collect();
    for (ix, name) in names.iter().enumerate() {
        let scale = max_abs(&tract[ix]);
        for (other, label) in [(&ort[ix], "ort"), (&burn[ix], "burn")] {
            let diff = max_diff(&tract[ix], other);
            println!(
                "{}: {name}: max |{label} - tract| = {diff:e} (max |tract| = {scale})",
                files.0
            );
            assert!(diff <= FP32_RTOL * scale, "{name} {label}: {diff} > {FP32_RTOL} * {scale}");
        }
        let diff = max_diff(&ort[ix], &burn[ix]);
        assert!(diff <= 2.0 * FP32_RTOL * scale, "{name} burn vs ort: {diff}");
    }
}

#[test]
fn fp32_digits_tensor_by_tensor() {
    check_fp32(DIGITS);
}

#[test]
fn fp32_digits_opset11_tensor_by_tensor() {
    check_fp32(DIGITS_OPSET11);
}

#[test]
fn fp32_resnet_tiny_tensor_by_tensor() {
    check_fp32(RESNET);
}

#[test]
fn fp32_mlp_gemm_tensor_by_tensor() {
    check_fp32(MLP);
}

fn minmax() -> QuantConfig {
    QuantConfig::builder().method(calibr8_calibration::Method::MinMax).build().unwrap()
}

fn calibrate(backend: &dyn Backend, files: (&str, &str), config: &QuantConfig) -> QuantizedModel {
    let (model, x) = load(files, 256);
    let data = InMemory::new(x, 32).unwrap();
    quantize_with(backend, &model, &data, config).unwrap()
}

/// Layer by layer: every quantized activation of the QDQ model, on tract, ORT and burn.
fn check_int8_layers(files: (&str, &str)) {
    let q = calibrate(&TractBackend, files, &minmax());
    let (_, x) = load(files, 64);
    let activations: Vec<&str> =
        q.activations().map(|t| t.target.tensor.as_str()).collect::<Vec<_>>();
    let capture: Vec<String> = activations.iter().map(|t| format!("{t}.dequantized")).collect();
    let tract = run(&TractBackend, Lowering::Quantized(&q), &capture, &x);
    let ort = run(&ort_cpu(), Lowering::Quantized(&q), &capture, &x);
    let burn = run(&BurnBackend::default(), Lowering::Quantized(&q), &capture, &x);
    let n_out = tract.len() - capture.len();
    for (k, name) in activations.iter().enumerate() {
        let scale = q.tensors[*name].params.scale[0];
        let ix = n_out + k;
        for (other, label) in [(&ort[ix], "ort"), (&burn[ix], "burn")] {
            let steps: Vec<f32> =
                tract[ix].iter().zip(other.iter()).map(|(a, b)| (a - b).abs() / scale).collect();
            let worst = steps.iter().fold(0.0f32, |m, s| m.max(*s));
            let over = steps.iter().filter(|s| **s > 1.01).count() as f64 / steps.len() as f64;
            println!(
                "{}: {name}.dequantized: {label} vs tract: max {worst:.2} steps, {:.4}% > 1 step",
                files.0,
                over * 100.0
            );
            assert!(over <= 0.01, "{name} {label}: {:.3}% beyond one step", over * 100.0);
        }
    }
}

#[test]
fn int8_digits_layer_by_layer() {
    check_int8_layers(DIGITS);
}

#[test]
fn int8_resnet_tiny_layer_by_layer() {
    check_int8_layers(RESNET);
}

#[test]
fn int8_mlp_gemm_layer_by_layer() {
    check_int8_layers(MLP);
}

fn argmax_rows(a: &ArrayD<f32>) -> Vec<usize> {
    a.rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (i, v)| if *v > b.1 { (i, *v) } else { b })
                .0
        })
        .collect()
}

/// End to end with nothing captured: ONNX Runtime's int8 kernels against tract's float
/// simulation of the same QDQ model.
fn check_int8_end_to_end(files: (&str, &str)) {
    let q = calibrate(&TractBackend, files, &minmax());
    let (_, x) = load(files, 256);
    let tract = run(&TractBackend, Lowering::Quantized(&q), &[], &x).remove(0);
    let ort = run(&ort_cpu(), Lowering::Quantized(&q), &[], &x).remove(0);
    let (a, b) = (argmax_rows(&tract), argmax_rows(&ort));
    let agree = a.iter().zip(&b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64;
    let (diff, scale) = (max_diff(&tract, &ort), max_abs(&tract));
    println!(
        "{}: int8 end to end, ort vs tract: top-1 agreement {:.2}%, max |diff| {diff} \
         ({:.2}% of max |tract| {scale})",
        files.0,
        agree * 100.0,
        diff / scale * 100.0
    );
    assert!(agree >= 0.97, "top-1 agreement {agree}");
    assert!(diff <= 0.05 * scale, "{diff} > 5% of {scale}");
}

#[test]
fn int8_digits_end_to_end() {
    check_int8_end_to_end(DIGITS);
}

#[test]
fn int8_resnet_tiny_end_to_end() {
    check_int8_end_to_end(RESNET);
}

#[test]
fn int8_mlp_gemm_end_to_end() {
    check_int8_end_to_end(MLP);
}

/// Calibration through ONNX Runtime: the same tensors, the same ranges as through tract.
fn check_calibration(files: (&str, &str)) {
    let tract = calibrate(&TractBackend, files, &minmax());
    let ort = calibrate(&ort_cpu(), files, &minmax());
    assert_eq!(
        tract.tensors.keys().collect::<Vec<_>>(),
        ort.tensors.keys().collect::<Vec<_>>(),
        "the same tensors are quantized"
    );
    for (name, t) in &tract.tensors {
        let o = &ort.tensors[name];
        for (field, a, b) in [
            ("min", &t.range.min, &o.range.min),
            ("max", &t.range.max, &o.range.max),
            ("amax", &t.range.amax, &o.range.amax),
        ] {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                let tol = 1e-5 * x.abs().max(y.abs()).max(1e-6);
                assert!((x - y).abs() <= tol, "{} {name} {field}: tract {x} vs ort {y}", files.0);
            }
        }
    }
    println!("{}: {} ranges equal through tract and ort", files.0, tract.tensors.len());
}

#[test]
fn calibration_through_ort_gives_tracts_ranges_digits() {
    check_calibration(DIGITS);
}

#[test]
fn calibration_through_ort_gives_tracts_ranges_resnet_tiny() {
    check_calibration(RESNET);
}

#[test]
fn calibration_through_ort_gives_tracts_ranges_mlp_gemm() {
    check_calibration(MLP);
}
