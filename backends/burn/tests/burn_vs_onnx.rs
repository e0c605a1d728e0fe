//! Issue 4: the burn path and the ONNX path give identical scales, and the fake-quant
//! `ModuleMapper` equals closed-form per-channel fake-quant of the weights.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use burn_onnx::export::{AxisSpec, InputSpec, OnnxExporter};
use calibr8_burn::ActivationFakeQuant;
use calibr8_core::npy::read_npy_f32;
use calibr8_core::{Backend, EngineOptions, Lowering, NpySource, OnnxModel, QuantConfig};
use std::collections::HashMap;

const CALIB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/digits/calib.npy");

/// The digits example's network shape: Conv-ReLU-MaxPool ×2, Linear.
#[derive(Module, Debug)]
struct Cnn {
    conv1: Conv2d,
    relu: Relu,
    pool: MaxPool2d,
    conv2: Conv2d,
    fc: Linear,
}

impl Cnn {
    fn new(device: &Device) -> Cnn {
        let pad = PaddingConfig2d::Explicit(1, 1, 1, 1);
        let cnn = Cnn {
            conv1: Conv2dConfig::new([1, 8], [3, 3]).with_padding(pad.clone()).init(device),
            relu: Relu::new(),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            conv2: Conv2dConfig::new([8, 16], [3, 3]).with_padding(pad).init(device),
            fc: LinearConfig::new(16 * 2 * 2, 10).init(device),
        };
        // burn's seed is process-global and tests run in parallel: draw the weights from our
        // own generator so every run sees the same model.
        cnn.map(&mut Deterministic(3))
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_with(x, &ActivationFakeQuant::default())
    }

    /// With activation fake-quant at the inputs of conv1, conv2 and fc (a no-op by default).
    fn forward_with(&self, x: Tensor<4>, acts: &ActivationFakeQuant) -> Tensor<2> {
        let x = self.conv1.forward(acts.input_of("conv1", x));
        let x = self.pool.forward(self.relu.forward(x));
        let x = self.conv2.forward(acts.input_of("conv2", x));
        let x = self.pool.forward(self.relu.forward(x));
        let [n, c, h, w] = x.dims();
        self.fc.forward(acts.input_of("fc", x.reshape([n, c * h * w])))
    }
}

/// Replaces every float parameter by uniform(-1, 1) / sqrt(fan_in) values from SplitMix64.
struct Deterministic(u64);

impl burn::module::ModuleMapper for Deterministic {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        param.map(|t| {
            let dims = t.dims();
            let n: usize = dims.iter().product();
            let fan_in = if D > 1 { n / dims[0] } else { n };
            let bound = 1.0 / (fan_in as f32).sqrt();
            let values: Vec<f32> = (0..n)
                .map(|_| {
                    self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = self.0;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^= z >> 31;
                    ((z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * bound
                })
                .collect();
            Tensor::from_data(TensorData::new(values, dims), &t.device())
        })
    }
}

fn calib_batches(device: &Device) -> anyhow::Result<Vec<Tensor<4>>> {
    let x = read_npy_f32(CALIB)?;
    let per = 64;
    Ok((0..x.shape()[0] / per)
        .map(|b| {
            let v: Vec<f32> =
                x.as_slice().expect("C order")[b * per * 64..(b + 1) * per * 64].to_vec();
            Tensor::from_data(TensorData::new(v, [per, 1, 8, 8]), device)
        })
        .collect())
}

#[test]
fn issue_4_burn_path_and_onnx_path_give_bit_identical_scales() -> anyhow::Result<()> {
    let device = Device::default();
    let cnn = Cnn::new(&device);
    let batches = calib_batches(&device)?;
    let example = batches[0].clone();

    // The ONNX path: burn-onnx's own export written to a file, calibrated from the .npy file.
    let dir = tempfile::tempdir()?;
    let onnx_path = dir.path().join("cnn.onnx");
    let spec = InputSpec::new([
        AxisSpec::dynamic("batch"),
        AxisSpec::Static,
        AxisSpec::Static,
        AxisSpec::Static,
    ]);
    let validation = Tensor::cat(vec![example.clone(), example.clone()], 0);
    OnnxExporter::new()
        .export_dynamic(&cnn, example.clone(), validation, &[spec], Cnn::forward)?
        .save(&onnx_path)?;
    let onnx_model = OnnxModel::load(&onnx_path)?;
    let npy = NpySource::open(CALIB, 64)?;

    for method in ["minmax", "percentile", "entropy", "mse"] {
        let config = QuantConfig {
            method: method.parse().expect("a known method"),
            ..QuantConfig::default()
        };
        let from_file =
            calibr8_core::quantize_with(&calibr8_tract::TractBackend, &onnx_model, &npy, &config)?;
        let from_burn =
            calibr8_burn::quantize(&cnn, Cnn::forward, example.clone(), batches.clone(), &config)?;

        // Same graph, node for node; map burn-onnx's names to the module-path names.
        // Both as calibrated, after the same pre-processing (BatchNorm folding, ...).
        let (raw, named) = (from_file.model.graph(), from_burn.model.graph());
        assert_eq!(raw.node.len(), named.node.len());
        let mut to_named: HashMap<&str, &str> = HashMap::new();
        for (a, b) in raw.node.iter().zip(&named.node) {
            assert_eq!(a.op_type, b.op_type);
            for (x, y) in a.input.iter().zip(&b.input).chain(a.output.iter().zip(&b.output)) {
                to_named.insert(x, y);
            }
        }

        assert_eq!(from_file.tensors.len(), from_burn.tensors.len(), "{method}");
        assert!(from_file.tensors.len() >= 6, "weights and activations quantized");
        for (name, tq) in &from_file.tensors {
            let other = &from_burn.tensors[to_named[name.as_str()]];
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&tq.params.scale), bits(&other.params.scale), "{method} {name}");
            assert_eq!(tq.params.zero_point, other.params.zero_point, "{method} {name}");
            assert_eq!(bits(&tq.range.amax), bits(&other.range.amax), "{method} {name}");
            assert_eq!(tq.params.axis, other.params.axis, "{method} {name}");
        }
    }
    Ok(())
}

/// ONNX QuantizeLinear/DequantizeLinear written out: q = clamp(round_half_even(w / s), -127, 127).
fn closed_form(w: &[f32], dims: &[usize], axis: usize, scales: &[f32]) -> Vec<f32> {
    let inner: usize = dims[axis + 1..].iter().product();
    w.iter()
        .enumerate()
        .map(|(i, &x)| {
            let s = scales[(i / inner) % dims[axis]];
            (x / s).round_ties_even().clamp(-127.0, 127.0) * s
        })
        .collect()
}

fn values<const D: usize>(t: Tensor<D>) -> (Vec<f32>, Vec<usize>) {
    let dims = t.dims().to_vec();
    (t.into_data().try_to_vec::<f32>().expect("f32"), dims)
}

#[test]
fn issue_4_fake_quant_mapper_equals_closed_form_per_channel() -> anyhow::Result<()> {
    let device = Device::default();
    let cnn = Cnn::new(&device);
    let batches = calib_batches(&device)?;
    let q = calibr8_burn::quantize(
        &cnn,
        Cnn::forward,
        batches[0].clone(),
        batches,
        &QuantConfig::default(),
    )?;
    let fq = calibr8_burn::fake_quant_weights(cnn.clone(), &q)?;

    // Conv weights [out, in, kh, kw]: channel axis 0. Linear weights [in, out]: axis 1.
    let cases = [
        ("conv1.weight", cnn.conv1.weight.val(), fq.conv1.weight.val(), 0),
        ("conv2.weight", cnn.conv2.weight.val(), fq.conv2.weight.val(), 0),
    ];
    for (name, before, after, axis) in cases {
        check(name, before, after, axis, &q)?;
    }
    check("fc.weight", cnn.fc.weight.val(), fq.fc.weight.val(), 1, &q)?;

    // Biases are not quantized, and stay bit for bit.
    let (b0, _) = values(cnn.conv1.bias.as_ref().expect("bias").val());
    let (b1, _) = values(fq.conv1.bias.as_ref().expect("bias").val());
    assert_eq!(b0, b1);
    Ok(())
}

fn check<const D: usize>(
    name: &str,
    before: Tensor<D>,
    after: Tensor<D>,
    axis: usize,
    q: &calibr8_core::QuantizedModel,
) -> anyhow::Result<()> {
    let (w, dims) = values(before);
    let (got, _) = values(after);
    let tq = &q.tensors[name];
    assert_eq!(tq.params.axis, Some(axis), "{name}");
    // The scales themselves, closed form: max |w| over each output channel / 127.
    let inner: usize = dims[axis + 1..].iter().product();
    let mut amax = vec![0f32; dims[axis]];
    for (i, x) in w.iter().enumerate() {
        let c = (i / inner) % dims[axis];
        amax[c] = amax[c].max(x.abs());
    }
    let scales: Vec<f32> = amax.iter().map(|a| a / 127.0).collect();
    assert_eq!(tq.params.scale, scales, "{name} scales");
    let expected = closed_form(&w, &dims, axis, &scales);
    assert_eq!(got, expected, "{name}");
    assert_ne!(got, w, "{name}: fake-quant changed nothing");
    // At most half a step away from the float weights.
    for (i, (g, x)) in got.iter().zip(&w).enumerate() {
        let s = scales[(i / inner) % dims[axis]];
        assert!((g - x).abs() <= 0.5 * s * (1.0 + 1e-6), "{name}[{i}]");
    }
    Ok(())
}

#[test]
fn issue_4_burn_fake_quant_module_matches_tract_running_the_qdq_export() -> anyhow::Result<()> {
    let device = Device::default();
    let cnn = Cnn::new(&device);
    let batches = calib_batches(&device)?;
    let q = calibr8_burn::quantize(
        &cnn,
        Cnn::forward,
        batches[0].clone(),
        batches.clone(),
        &QuantConfig::default(),
    )?;
    let acts = ActivationFakeQuant::new(&q)?;
    let points: Vec<_> = acts.points().map(|(node, _)| node.to_string()).collect();
    assert_eq!(points, ["conv1", "conv2", "fc"]);
    let int8 = calibr8_burn::fake_quant_weights(cnn.clone(), &q)?;

    // The reference: tract running the QDQ model calibr8 exports (Q/DQ executed in float).
    let x = read_npy_f32(CALIB)?;
    let mut engine =
        calibr8_tract::TractBackend.prepare(Lowering::Quantized(&q), &EngineOptions::default())?;
    let reference = engine.run_f32(vec![x.clone()])?.remove(0);
    let burn = calibr8_burn::to_ndarray(
        int8.forward_with(Tensor::cat(batches.clone(), 0), &acts),
        "logits",
    )?;
    let float = calibr8_burn::to_ndarray(cnn.forward(Tensor::cat(batches, 0)), "logits")?;
    let diff = |a: &ndarray::ArrayD<f32>, b: &ndarray::ArrayD<f32>| {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max)
    };
    let top1 = |a: &ndarray::ArrayD<f32>| -> Vec<usize> {
        a.outer_iter()
            .map(|r| (0..r.len()).fold(0, |b, i| if r[i] > r[b] { i } else { b }))
            .collect()
    };
    let scale = reference.iter().fold(0f32, |m, x| m.max(x.abs()));
    let (d_int8, d_fp32) = (diff(&burn, &reference), diff(&float, &reference));
    eprintln!("max|logit| {scale}, burn int8 vs tract QDQ {d_int8}, fp32 vs QDQ {d_fp32}");
    // Same int8 grid on both sides; what differs is float summation order and tract's
    // x * (1/scale) in places, which can move a value sitting on a rounding edge by one code
    // (observed here: 0, bit-identical logits).
    assert!(d_int8 < 1e-2 * scale, "burn int8 vs tract QDQ: {d_int8} (max |logit| {scale})");
    let agree = top1(&burn).iter().zip(top1(&reference)).filter(|(a, b)| **a == *b).count();
    assert!(agree >= 255, "top-1 agreement {agree}/256");
    // And the quantization is real: the fp32 logits are much further away.
    assert!(d_fp32 > 5.0 * d_int8, "fp32 {d_fp32} vs int8 {d_int8}");
    Ok(())
}
