//! Calibration cost report (issue 2): for each model × method, plain fp32 inference time over the
//! calibration batches (tract), `calibr8::quantize` time over the same batches, their ratio,
//! observer throughput, and the peak RSS of calibrating on N and 10×N samples (each in its own
//! child process, so the peaks are separate).
//!
//! ```text
//! cargo run --release --example calibration_report            # full report
//! cargo run --release --example calibration_report -- --scale 10   # ratio table on 10×N samples
//! cargo run --release --example calibration_report -- --model M.onnx --calib C.npy --batch 32
//! ```
//!
//! Larger calibration sets are the bundled arrays repeated and perturbed batch by batch, made
//! on the fly (nothing is downloaded, nothing large is held), so peak memory measures the
//! calibration itself rather than the data set.

use calibr8::calibration::{Method, ObserverConfig, TensorObserver};
use calibr8::core::data::bind;
use calibr8::core::npy::read_npy_f32;
use calibr8::core::Batch;
use calibr8::prelude::*;
use calibr8::tract::TractBackend;
use calibr8::QuantPlan;
use ndarray::{ArrayD, Axis};
use rayon::prelude::*;
use std::time::{Duration, Instant};

const METHODS: [&str; 5] = ["minmax", "ema", "percentile", "entropy", "mse"];

/// (name, model, calibration array, batch size)
const MODELS: [(&str, &str, &str, usize); 3] = [
    ("digits", "examples/digits/digits_cnn.onnx", "examples/digits/calib.npy", 64),
    ("mlp_gemm", "tests/data/mlp_gemm.onnx", "tests/data/mlp_gemm_calib.npy", 64),
    ("resnet_tiny", "tests/data/resnet_tiny.onnx", "tests/data/resnet_tiny_calib.npy", 16),
];

/// The bundled samples repeated `scale` times; every repetition after the first is perturbed
/// (a per-repetition gain and a small per-element jitter), so histograms keep moving. Batches
/// are made when asked for: memory holds the base array and one batch.
struct Repeated {
    base: ArrayD<f32>,
    batch: usize,
    scale: usize,
}

impl Repeated {
    fn new(path: &str, batch: usize, scale: usize) -> anyhow::Result<Self> {
        Ok(Repeated { base: read_npy_f32(path)?, batch, scale })
    }
    fn samples(&self) -> usize {
        self.base.shape()[0] * self.scale
    }
}

fn jitter(rep: usize, i: usize) -> f32 {
    // splitmix-style hash → [-1, 1)
    let mut z = (rep as u64) << 32 ^ i as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

impl CalibrationData for Repeated {
    fn name(&self) -> String {
        format!("<bundled ×{}>", self.scale)
    }
    fn num_batches(&self) -> Option<usize> {
        Some(self.base.shape()[0].div_ceil(self.batch) * self.scale)
    }
    fn batches(&self) -> Box<dyn Iterator<Item = calibr8::Result<Batch>> + '_> {
        Box::new((0..self.scale).flat_map(move |rep| {
            self.base.axis_chunks_iter(Axis(0), self.batch).map(move |chunk| {
                let mut b = chunk.to_owned();
                if rep > 0 {
                    let gain = 1.0 + 0.1 * (rep as f32 * 0.7).sin();
                    for (i, x) in b.iter_mut().enumerate() {
                        *x *= gain * (1.0 + 0.05 * jitter(rep, i));
                    }
                }
                Ok(calibr8::TensorMap::single(calibr8::core::data::UNNAMED, b))
            })
        }))
    }
}

fn config(method: &str) -> QuantConfig {
    QuantConfig { method: method.into(), ..QuantConfig::default() }
}

/// Minimum over `reps` runs (after one warm-up) of `f`.
fn best_of(reps: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    f()?;
    let mut best = Duration::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed());
    }
    Ok(best)
}

/// Plain fp32 inference as calibration does it: prepare the tract plan, run every batch.
fn plain_inference(model: &OnnxModel, data: &dyn CalibrationData) -> anyhow::Result<()> {
    let mut engine = TractBackend.prepare(Lowering::Float(model), &EngineOptions::default())?;
    for batch in data.batches() {
        let batch = bind(&model.inputs(), &model.origin, &data.name(), batch?)?;
        std::hint::black_box(engine.run(batch)?);
    }
    Ok(())
}

/// The activations `quantize` observes, captured once for every batch.
fn capture(
    model: &OnnxModel,
    data: &dyn CalibrationData,
) -> anyhow::Result<Vec<(String, Vec<ArrayD<f32>>)>> {
    let plan = QuantPlan::resolve(model, &QuantConfig::default())?;
    let inputs: Vec<String> = model.inputs().into_iter().map(|i| i.name).collect();
    let names: Vec<String> = plan.activations().map(|t| t.tensor.clone()).collect();
    let captured: Vec<String> = names.iter().filter(|n| !inputs.contains(n)).cloned().collect();
    let options = EngineOptions { capture: captured.clone(), ..EngineOptions::default() };
    let mut engine = TractBackend.prepare(Lowering::Float(model), &options)?;
    let mut out: Vec<(String, Vec<ArrayD<f32>>)> =
        names.iter().map(|n| (n.clone(), Vec::new())).collect();
    for batch in data.batches() {
        let batch = bind(&model.inputs(), &model.origin, &data.name(), batch?)?;
        let outputs = engine.run(batch.clone())?;
        for (name, arrays) in out.iter_mut() {
            let a = batch.f32(name).or_else(|_| outputs.f32(name))?;
            arrays.push(a.as_standard_layout().into_owned());
        }
    }
    Ok(out)
}

/// The observer loop of `quantize` (tensors in parallel, batches in order), timed directly:
/// (observe time, finish time, bytes observed).
fn observer_loop(
    acts: &[(String, Vec<ArrayD<f32>>)],
    method: &str,
) -> anyhow::Result<(Duration, Duration, u64)> {
    let mut best = (Duration::MAX, Duration::MAX);
    let method: Method = config(method).activation_method()?;
    let bytes: u64 = acts.iter().flat_map(|(_, v)| v).map(|a| a.len() as u64 * 4).sum();
    for _ in 0..3 {
        let mut obs: Vec<TensorObserver> = acts
            .iter()
            .map(|(n, _)| TensorObserver::new(n.clone(), ObserverConfig::new(method.clone())))
            .collect::<Result<_, _>>()?;
        let batches = acts.first().map_or(0, |(_, v)| v.len());
        let t = Instant::now();
        for b in 0..batches {
            obs.par_iter_mut().zip(acts).try_for_each(|(o, (_, arrays))| {
                let a = &arrays[b];
                o.observe(a.as_slice().unwrap_or_default(), a.shape())
            })?;
        }
        let observe = t.elapsed();
        let t = Instant::now();
        for o in &obs {
            std::hint::black_box(o.finish()?);
        }
        let finish = t.elapsed();
        best = (best.0.min(observe), best.1.min(finish));
    }
    Ok((best.0, best.1, bytes))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Child mode: calibrate `model` with `method` on `scale`×N samples, print VmHWM in KiB.
fn child(model_name: &str, method: &str, scale: usize) -> anyhow::Result<()> {
    let (_, path, calib, batch) = MODELS
        .iter()
        .find(|m| m.0 == model_name)
        .ok_or_else(|| anyhow::anyhow!("unknown model {model_name}"))?;
    let model = OnnxModel::load(path)?;
    let data = Repeated::new(calib, *batch, scale)?;
    let before = vm_hwm_kib();
    std::hint::black_box(calibr8::quantize(&model, &data, &config(method))?);
    println!("{before} {}", vm_hwm_kib());
    Ok(())
}

fn peak_of(model: &str, method: &str, scale: usize) -> anyhow::Result<(u64, u64)> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["--child", model, method, &scale.to_string()])
        .output()?;
    anyhow::ensure!(out.status.success(), "child: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout)?;
    let mut it = text.split_whitespace().map(|v| v.parse::<u64>().unwrap_or(0));
    Ok((it.next().unwrap_or(0), it.next().unwrap_or(0)))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let scale = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
        return child(&args[1], &args[2], scale);
    }
    let scale: usize = match args.iter().position(|a| a == "--scale") {
        Some(i) => args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(1),
        None => 1,
    };
    let reps = 3;
    println!(
        "calibr8 calibration report: {} threads (rayon), calibration set = bundled × {scale}, \
         best of {reps} after a warm-up",
        rayon::current_num_threads()
    );
    println!(
        "{:<12} {:>7} {:<10} {:>9} {:>9} {:>6} {:>10} {:>9} {:>8} {:>10}",
        "model",
        "samples",
        "method",
        "infer ms",
        "calib ms",
        "ratio",
        "observe ms",
        "obs GB/s",
        "finish",
        "(c-i) GB/s"
    );
    // `--model M.onnx --calib C.npy [--batch N]`: report on that model instead of the bundled ones.
    let arg = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let models: Vec<(&str, &str, &str, usize)> = match (arg("--model"), arg("--calib")) {
        (Some(m), Some(c)) => {
            let batch = arg("--batch").and_then(|b| b.parse().ok()).unwrap_or(32);
            let name = std::path::Path::new(m).file_stem().and_then(|s| s.to_str()).unwrap_or(m);
            vec![(name, m.as_str(), c.as_str(), batch)]
        }
        _ => MODELS.to_vec(),
    };
    for (name, path, calib, batch) in models {
        let model = OnnxModel::load(path)?;
        let data = Repeated::new(calib, batch, scale)?;
        let infer = best_of(reps, || plain_inference(&model, &data))?;
        let acts = capture(&model, &data)?;
        for method in METHODS {
            let cfg = config(method);
            let calib = best_of(reps, || {
                std::hint::black_box(calibr8::quantize(&model, &data, &cfg)?);
                Ok(())
            })?;
            let (observe, finish, bytes) = observer_loop(&acts, method)?;
            let extra = calib.saturating_sub(infer).as_secs_f64();
            println!(
                "{:<12} {:>7} {:<10} {:>9.2} {:>9.2} {:>5.2}× {:>10.2} {:>9.2} {:>8.2} {:>10.2}",
                name,
                data.samples(),
                method,
                ms(infer),
                ms(calib),
                calib.as_secs_f64() / infer.as_secs_f64(),
                ms(observe),
                bytes as f64 / observe.as_secs_f64() / 1e9,
                ms(finish),
                if extra > 0.0 { bytes as f64 / extra / 1e9 } else { f64::INFINITY },
            );
        }
    }
    if args.iter().any(|a| a == "--no-peak") || arg("--model").is_some() {
        return Ok(());
    }
    println!();
    println!("peak RSS (VmHWM, child process per run; KiB): N vs 10×N samples");
    println!(
        "{:<12} {:<10} {:>8} {:>10} {:>8} {:>10} {:>8}",
        "model", "method", "N", "peak N", "10×N", "peak 10×N", "Δ"
    );
    for (name, _, calib, batch) in MODELS {
        let n = Repeated::new(calib, batch, 1)?.samples();
        for method in ["entropy", "minmax"] {
            let (_, p1) = peak_of(name, method, scale)?;
            let (_, p10) = peak_of(name, method, 10 * scale)?;
            println!(
                "{:<12} {:<10} {:>8} {:>10} {:>8} {:>10} {:>+8}",
                name,
                method,
                n * scale,
                p1,
                n * scale * 10,
                p10,
                p10 as i64 - p1 as i64
            );
        }
    }
    Ok(())
}
