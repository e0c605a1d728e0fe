//! calibr8 from burn training code, end to end, in one command:
//!
//! 1. train a small CNN (Conv-ReLU-MaxPool ×2, Linear) with burn autodiff + Adam on the bundled
//!    8x8 digits (`examples/digits/train.npy`, seconds on a CPU);
//! 2. `calibr8_burn::quantize()` it on `examples/digits/calib.npy`;
//! 3. evaluate fp32 vs int8 top-1 on `examples/digits/eval.npy`, on burn (the module with
//!    fake-quantized weights via a `ModuleMapper`, and activations fake-quantized in the forward
//!    pass) and on tract (the float model, and the QDQ model calibr8 exports);
//! 4. write the QDQ ONNX model, the TensorRT calibration cache, NNI configs and ranges.json.
//!
//! ```sh
//! cargo run --release -p calibr8-burn --example digits_burn            # writes out/digits_burn
//! cargo run --release -p calibr8-burn --example digits_burn -- OUT_DIR
//! ```
//! Run it from the repository root (it reads `examples/digits/`).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use calibr8_burn::ActivationFakeQuant;
use calibr8_core::compare::argmax_rows;
use calibr8_core::export::{write_artifacts, ArtifactOptions};
use calibr8_core::npy::read_npy_f32;
use calibr8_core::{Backend, EngineOptions, Lowering, QuantConfig};
use ndarray::{ArrayD, Axis};
use std::time::Instant;

const DATA: &str = "examples/digits";
const EPOCHS: usize = 8;
const BATCH: usize = 32;
const LR: f64 = 3e-3;

/// The network. Parameter paths (`conv1.weight`, `fc.bias`) become the names calibr8 uses.
#[derive(Module, Debug)]
struct DigitsCnn {
    conv1: Conv2d,
    relu: Relu,
    pool1: MaxPool2d,
    conv2: Conv2d,
    pool2: MaxPool2d,
    fc: Linear,
}

impl DigitsCnn {
    fn new(device: &Device) -> Self {
        let pad = PaddingConfig2d::Explicit(1, 1, 1, 1);
        DigitsCnn {
            conv1: Conv2dConfig::new([1, 16], [3, 3]).with_padding(pad.clone()).init(device),
            relu: Relu::new(),
            pool1: MaxPool2dConfig::new([2, 2]).init(),
            conv2: Conv2dConfig::new([16, 32], [3, 3]).with_padding(pad).init(device),
            pool2: MaxPool2dConfig::new([2, 2]).init(),
            fc: LinearConfig::new(32 * 2 * 2, 10).init(device),
        }
    }

    /// [N,1,8,8] → logits [N,10].
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_with(x, None)
    }

    /// The forward pass with optional activation fake-quant at the inputs calibr8 quantized
    /// (by default the inputs of conv1, conv2 and fc).
    fn forward_with(&self, x: Tensor<4>, acts: Option<&ActivationFakeQuant>) -> Tensor<2> {
        let x = self.conv1.forward(fq(acts, "conv1", x));
        let x = self.pool1.forward(self.relu.forward(x));
        let x = self.conv2.forward(fq(acts, "conv2", x));
        let x = self.pool2.forward(self.relu.forward(x));
        let [n, c, h, w] = x.dims();
        let x = x.reshape([n, c * h * w]);
        self.fc.forward(fq(acts, "fc", x))
    }
}

fn fq<const D: usize>(acts: Option<&ActivationFakeQuant>, module: &str, x: Tensor<D>) -> Tensor<D> {
    match acts {
        Some(acts) => acts.input_of(module, x),
        None => x,
    }
}

fn images(a: &ArrayD<f32>, device: &Device) -> Tensor<4> {
    let s = a.shape();
    let data = TensorData::new(a.iter().copied().collect::<Vec<f32>>(), [s[0], s[1], s[2], s[3]]);
    Tensor::from_data(data, device)
}

fn labels(path: &str) -> anyhow::Result<Vec<i64>> {
    Ok(calibr8_core::compare::Labels::load(path)?.values)
}

fn top1(pred: &[usize], y: &[i64]) -> f64 {
    let ok = pred.iter().zip(y).filter(|(p, y)| **p as i64 == **y).count();
    ok as f64 / y.len() as f64
}

/// Deterministic shuffling without a rand dependency (SplitMix64 + Fisher-Yates).
fn shuffle(order: &mut [usize], state: &mut u64) {
    for i in (1..order.len()).rev() {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        order.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

fn train(xtr: &ArrayD<f32>, ytr: &[i64]) -> anyhow::Result<DigitsCnn> {
    let device = Device::default().autodiff();
    device.seed(0);
    let mut model = DigitsCnn::new(&device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut order: Vec<usize> = (0..ytr.len()).collect();
    let mut rng = 0u64;
    for epoch in 0..EPOCHS {
        shuffle(&mut order, &mut rng);
        let (mut total, mut seen) = (0.0, 0);
        for chunk in order.chunks(BATCH) {
            let x = xtr.select(Axis(0), chunk);
            let y: Vec<i64> = chunk.iter().map(|&i| ytr[i]).collect();
            let x = images(&x, &device);
            let y = Tensor::<1, Int>::from_data(TensorData::new(y, [chunk.len()]), &device);
            let loss = loss_fn.forward(model.forward(x), y);
            total += f64::from(loss.clone().into_scalar::<f32>()) * chunk.len() as f64;
            seen += chunk.len();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            // Cosine decay per epoch, as examples/digits/train.py does.
            let lr = LR * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / EPOCHS as f64).cos());
            model = optim.step(lr, model, grads);
        }
        println!("  epoch {:2}  train loss {:.4}", epoch + 1, total / seen as f64);
    }
    Ok(model.valid())
}

fn burn_logits(
    model: &DigitsCnn,
    x: &ArrayD<f32>,
    acts: Option<&ActivationFakeQuant>,
) -> anyhow::Result<ArrayD<f32>> {
    let device = Device::default();
    let logits = model.forward_with(images(x, &device), acts);
    Ok(calibr8_burn::to_ndarray(logits, "logits")?)
}

fn tract_logits(lowering: Lowering<'_>, x: &ArrayD<f32>) -> anyhow::Result<ArrayD<f32>> {
    let mut engine = calibr8_tract::TractBackend.prepare(lowering, &EngineOptions::default())?;
    let mut out = engine.run_f32(vec![x.clone()])?;
    Ok(out.remove(0))
}

fn max_abs_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn main() -> anyhow::Result<()> {
    let out_dir = std::env::args().nth(1).unwrap_or_else(|| "out/digits_burn".into());
    let xtr = read_npy_f32(format!("{DATA}/train.npy"))?;
    let ytr = labels(&format!("{DATA}/train_labels.npy"))?;
    let xcal = read_npy_f32(format!("{DATA}/calib.npy"))?;
    let xev = read_npy_f32(format!("{DATA}/eval.npy"))?;
    let yev = labels(&format!("{DATA}/eval_labels.npy"))?;

    println!("training DigitsCnn with burn (Adam, {EPOCHS} epochs, {} samples)", ytr.len());
    let t = Instant::now();
    let model = train(&xtr, &ytr)?;
    let train_s = t.elapsed().as_secs_f64();

    // calibr8: trace the forward pass, calibrate on 4 batches of 64 (the bundled calib.npy).
    let t = Instant::now();
    let device = Device::default();
    let batches: Vec<Tensor<4>> =
        xcal.axis_chunks_iter(Axis(0), 64).map(|b| images(&b.to_owned(), &device)).collect();
    let example = batches[0].clone();
    let config = QuantConfig::default();
    let q = calibr8_burn::quantize(&model, DigitsCnn::forward, example, batches, &config)?;
    let quantize_s = t.elapsed().as_secs_f64();
    println!("\nquantized ({} method), tensors named after module paths:", config.method);
    for t in q.tensors.values() {
        let p = &t.params;
        let scale = if p.scale.len() == 1 {
            format!("scale {:.6}", p.scale[0])
        } else {
            format!("{} channel scales", p.scale.len())
        };
        println!("  {:<28} {:<10?} {scale}", t.target.tensor, t.target.role);
    }

    // The reverse direction: int8 parameters back into the burn module.
    let int8_model = calibr8_burn::fake_quant_weights(model.clone(), &q)?;
    let acts = ActivationFakeQuant::new(&q)?;

    let burn_fp32 = burn_logits(&model, &xev, None)?;
    let burn_w8 = burn_logits(&int8_model, &xev, None)?;
    let burn_int8 = burn_logits(&int8_model, &xev, Some(&acts))?;
    let tract_fp32 = tract_logits(Lowering::Float(&q.model), &xev)?;
    let tract_int8 = tract_logits(Lowering::Quantized(&q), &xev)?;

    let rows = [
        ("burn fp32", &burn_fp32),
        ("burn int8 weights only (ModuleMapper)", &burn_w8),
        ("burn int8 weights + activations", &burn_int8),
        ("tract fp32 (traced ONNX)", &tract_fp32),
        ("tract int8 (QDQ ONNX)", &tract_int8),
    ];
    println!("\ntop-1 on {DATA}/eval.npy ({} held-back samples):", yev.len());
    for (name, logits) in rows {
        let acc = top1(&argmax_rows(logits), &yev);
        let correct = (acc * yev.len() as f64).round();
        println!("  {name:<40} {:6.2} % ({correct}/{})", 100.0 * acc, yev.len());
    }
    let agree = |a: &ArrayD<f32>, b: &ArrayD<f32>| {
        let (pa, pb) = (argmax_rows(a), argmax_rows(b));
        pa.iter().zip(&pb).filter(|(x, y)| x == y).count()
    };
    println!(
        "  burn fp32 vs tract fp32: max |logit diff| {:.2e}, top-1 agreement {}/{}",
        max_abs_diff(&burn_fp32, &tract_fp32),
        agree(&burn_fp32, &tract_fp32),
        yev.len()
    );
    println!(
        "  burn int8 vs tract int8: max |logit diff| {:.2e}, top-1 agreement {}/{}",
        max_abs_diff(&burn_int8, &tract_int8),
        agree(&burn_int8, &tract_int8),
        yev.len()
    );

    let files = write_artifacts(&q, &out_dir, &ArtifactOptions::default())?;
    println!("\nwrote:");
    for f in files {
        println!("  {}", f.display());
    }
    println!("\ntimes: training {train_s:.1} s, trace + calibration {quantize_s:.2} s");
    Ok(())
}
