//! Inference benchmarks (issue 5): tract fp32, tract int8 through QLinearConv / QLinearMatMul
//! (`tract-int8`) and the QDQ model tract runs in float, on the digits CNN and the Gemm MLP
//! fixture, batch 32. `cargo bench --bench inference`. `calibr8 bench` reports the same rows
//! with median/min/max and plots; this is the criterion view of it.

use calibr8::core::export::with_output_ranges;
use calibr8::prelude::*;
use calibr8::tract::{TractBackend, TractInt8Backend};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::ArrayD;
use std::time::Duration;

const MODELS: [(&str, &str, &str); 2] = [
    ("digits_cnn", "examples/digits/digits_cnn.onnx", "examples/digits/calib.npy"),
    ("mlp_gemm", "tests/data/mlp_gemm.onnx", "tests/data/mlp_gemm_calib.npy"),
];
const BATCH: usize = 32;

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("inference");
    group.measurement_time(Duration::from_secs(5)).sample_size(20);
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, model, calib) in MODELS {
        let model = OnnxModel::load(model).expect("model");
        let data = NpySource::open(calib, 32).expect("calibration data");
        let config = with_output_ranges(&QuantConfig {
            method: "minmax".parse().expect("a known method"),
            ..QuantConfig::default()
        });
        let q = calibr8::quantize(&model, &data, &config).expect("calibrates");
        let mut shape: Vec<usize> = model.inputs()[0].dims.iter().map(|d| d.unwrap_or(1)).collect();
        shape[0] = BATCH;
        let n: usize = shape.iter().product();
        let x = ArrayD::from_shape_vec(shape, (0..n).map(|i| (i % 17) as f32 / 17.0).collect())
            .expect("shape");
        let engines: [(&str, &dyn Backend, Lowering); 3] = [
            ("fp32", &TractBackend, Lowering::Float(&model)),
            ("int8", &TractInt8Backend, Lowering::Quantized(&q)),
            ("int8-qdq", &TractBackend, Lowering::Quantized(&q)),
        ];
        for (precision, backend, lowering) in engines {
            let mut engine =
                backend.prepare(lowering, &EngineOptions::default()).expect("prepares");
            group.bench_with_input(BenchmarkId::new(name, precision), &x, |b, x| {
                b.iter(|| engine.run_f32(vec![x.clone()]).expect("runs"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
