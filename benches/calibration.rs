//! Calibration benchmarks (issue 2): observer throughput per method, the cost of `finish()` for
//! the search methods, and end-to-end `calibr8::quantize` against plain fp32 inference over the
//! same batches. `cargo bench --bench calibration`; each group is tuned to stay under a minute.
//! The ratio table and peak memory: `cargo run --release --example calibration_report`.

use calibr8::calibration::{Method, ObserverConfig, TensorObserver};
use calibr8::prelude::*;
use calibr8::tract::TractBackend;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

const METHODS: [&str; 5] = ["minmax", "ema", "percentile", "entropy", "mse"];

fn method(name: &str) -> Method {
    QuantConfig { method: name.parse().expect("a known method"), ..QuantConfig::default() }
        .activation_method()
        .unwrap_or(Method::MinMax)
}

/// A post-ReLU activation [32, 64, 28, 28]: half zeros, a Gaussian-ish positive tail.
fn activation() -> (Vec<f32>, Vec<usize>) {
    let shape = vec![32, 64, 28, 28];
    let len = shape.iter().product();
    let mut state = 0x853c_49e6_748f_ea9bu64;
    let data = (0..len)
        .map(|_| {
            let mut s = 0.0f32;
            for _ in 0..4 {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                s += (state >> 40) as f32 / (1u64 << 24) as f32;
            }
            (s - 2.0).max(0.0) * 1.7
        })
        .collect();
    (data, shape)
}

fn observers(c: &mut Criterion) {
    let (data, shape) = activation();
    let mut group = c.benchmark_group("observe [32,64,28,28] post-ReLU");
    group.sample_size(20).measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Bytes(data.len() as u64 * 4));
    for name in METHODS {
        let mut obs = TensorObserver::new("act", ObserverConfig::new(method(name)))
            .expect("valid observer config");
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| obs.observe(black_box(&data), &shape).expect("finite data"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("finish (2048 bins)");
    group.sample_size(10).measurement_time(Duration::from_secs(4));
    for name in ["percentile", "entropy", "mse"] {
        let mut obs = TensorObserver::new("act", ObserverConfig::new(method(name)))
            .expect("valid observer config");
        obs.observe(&data, &shape).expect("finite data");
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(obs.finish().expect("observed")))
        });
    }
    group.finish();
}

/// (name, model, calibration data, batch size)
const MODELS: [(&str, &str, &str, usize); 3] = [
    ("digits", "examples/digits/digits_cnn.onnx", "examples/digits/calib.npy", 64),
    ("mlp_gemm", "tests/data/mlp_gemm.onnx", "tests/data/mlp_gemm_calib.npy", 64),
    ("resnet_tiny", "tests/data/resnet_tiny.onnx", "tests/data/resnet_tiny_calib.npy", 16),
];

fn end_to_end(c: &mut Criterion) {
    for (name, path, calib, batch) in MODELS {
        let model = OnnxModel::load(path).expect("bundled model");
        let data = NpySource::open(calib, batch).expect("bundled data");
        let mut group = c.benchmark_group(format!("end-to-end {name}"));
        group.sample_size(10).measurement_time(Duration::from_secs(3));
        // Plain fp32 inference over the calibration batches, prepare included (as in quantize).
        group.bench_function("fp32 inference", |b| {
            b.iter(|| {
                let mut engine = TractBackend
                    .prepare(Lowering::Float(&model), &EngineOptions::default())
                    .expect("tract prepares the model");
                for batch in data.batches() {
                    let batch = calibr8::core::data::bind(
                        &model.inputs(),
                        &model.origin,
                        calib,
                        batch.expect("batch"),
                    )
                    .expect("bundled data fits the model");
                    black_box(engine.run(batch).expect("runs"));
                }
            })
        });
        for m in METHODS {
            let config = QuantConfig {
                method: m.parse().expect("a known method"),
                ..QuantConfig::default()
            };
            group.bench_function(BenchmarkId::new("quantize", m), |b| {
                b.iter(|| black_box(calibr8::quantize(&model, &data, &config).expect("calibrates")))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, observers, end_to_end);
criterion_main!(benches);
