//! Multi-input models with integer inputs, end to end: a bag-of-embeddings classifier taking
//! `input_ids` and `attention_mask` (int64), calibrated from an `.npz` and from a folder of
//! per-input `.npy` files, exported, and run by ONNX Runtime.
//! Fixtures: tests/data/make_two_inputs.py. See: issue 9 item 5 ("data as users have it").

use calibr8::core::data::bind;
use calibr8::core::export::{names, write_artifacts, ArtifactOptions};
use calibr8::core::npy::read_npz;
use calibr8::prelude::*;
use calibr8::tract::TractBackend;
use ndarray::ArrayD;
use std::path::Path;
use std::process::Command;

const MODEL: &str = "tests/data/two_inputs.onnx";
const CALIB: &str = "tests/data/two_inputs_calib.npz";
const EVAL: &str = "tests/data/two_inputs_eval.npz";

fn model() -> OnnxModel {
    OnnxModel::load(MODEL).unwrap()
}

fn eval_batch(model: &OnnxModel) -> TensorMap {
    let arrays: TensorMap = read_npz(EVAL).unwrap().into_iter().collect();
    bind(&model.inputs(), &model.origin, EVAL, arrays).unwrap()
}

fn logits(backend: &dyn Backend, lowering: Lowering<'_>, batch: TensorMap) -> ArrayD<f32> {
    let mut engine = backend.prepare(lowering, &EngineOptions::default()).unwrap();
    engine.run(batch).unwrap().f32("logits").unwrap().clone()
}

fn argmax(a: &ArrayD<f32>) -> Vec<usize> {
    calibr8::compare::argmax_rows(a)
}

#[test]
fn npz_data_calibrates_a_model_with_two_int64_inputs() {
    let model = model();
    let data = NpySource::open(CALIB, 16).unwrap();
    assert_eq!(data.num_batches(), Some(4));
    let q = calibr8::quantize(&model, &data, &QuantConfig::default()).unwrap();
    // The MatMul and Gemm inputs are float activations computed from the integer inputs.
    for tensor in ["pooled", "relu_out", "fc1.weight", "fc2.weight"] {
        assert!(q.tensors.contains_key(tensor), "{tensor} not quantized: {:?}", q.tensors.keys());
    }
    let pooled = &q.tensors["pooled"].range;
    assert!(pooled.amax[0] > 0.5 && pooled.amax[0].is_finite(), "pooled amax {:?}", pooled.amax);
}

#[test]
fn a_folder_of_per_input_files_gives_the_same_ranges_as_the_npz() {
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    let arrays = read_npz(CALIB).unwrap();
    // Two files per input: samples 0..32 and 32..64, named so name order is batch order.
    for (name, value) in &arrays {
        let sub = dir.path().join(name);
        std::fs::create_dir(&sub).unwrap();
        for (k, part) in value.split_samples(32).into_iter().enumerate() {
            let TensorValue::I64(a) = part else { panic!("{name} is not int64") };
            let mut bytes = vec![];
            let shape: Vec<u64> = a.shape().iter().map(|&d| d as u64).collect();
            use npyz::WriterBuilder;
            let mut w = npyz::WriteOptions::<i64>::new()
                .default_dtype()
                .shape(&shape)
                .writer(&mut bytes)
                .begin_nd()
                .unwrap();
            w.extend(a.iter().copied()).unwrap();
            w.finish().unwrap();
            std::fs::write(sub.join(format!("part{k}.npy")), bytes).unwrap();
        }
    }
    let folder = NpySource::open(dir.path(), 16).unwrap();
    let npz = NpySource::open(CALIB, 16).unwrap();
    assert_eq!(folder.num_batches(), Some(4));
    let config = QuantConfig::default();
    let a = calibr8::quantize(&model, &folder, &config).unwrap();
    let b = calibr8::quantize(&model, &npz, &config).unwrap();
    for (name, t) in &a.tensors {
        assert_eq!(t.range.amax, b.tensors[name].range.amax, "{name}");
    }
}

#[test]
fn the_export_runs_on_onnx_runtime_and_agrees_with_tract() {
    let model = model();
    let data = NpySource::open(CALIB, 16).unwrap();
    let q = calibr8::quantize(&model, &data, &QuantConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_artifacts(&q, dir.path(), &ArtifactOptions::default()).unwrap();

    let fp32 = logits(&TractBackend, Lowering::Float(&model), eval_batch(&model));
    let simulated = logits(&TractBackend, Lowering::Quantized(&q), eval_batch(&model));
    let ort = onnx_runtime(&dir.path().join(names::QDQ_MODEL), Path::new(EVAL), dir.path());
    assert_eq!(ort.shape(), simulated.shape());
    let max_diff = ort.iter().zip(simulated.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(max_diff < 1e-3, "ONNX Runtime and tract differ by {max_diff} on the QDQ model");
    let agree = argmax(&fp32).iter().zip(argmax(&simulated)).filter(|(a, b)| **a == *b).count();
    assert!(agree >= 30, "int8 agrees with fp32 on {agree}/32 samples");
}

/// ONNX Runtime's first output for the `.npz` inputs on `qdq` (onnx.checker full_check first),
/// every Q/DQ run as written: the comparison with tract's simulation is exact to 1e-3 only
/// without ONNX Runtime's fused int8 kernels, which round, and without VNNI saturate, their own
/// way (0.016 apart on the 2-core AVX2 machine once `auto` chose other ranges).
fn onnx_runtime(qdq: &Path, inputs: &Path, dir: &Path) -> ArrayD<f32> {
    let output = dir.join("ort_output.npy");
    let status = Command::new("python3")
        .env("ORT_OPT", "disable")
        .arg("tests/ort_check.py")
        .arg(qdq)
        .arg(inputs)
        .arg(&output)
        .status()
        .expect(
            "python3 is needed to check exports with ONNX Runtime (pip install onnx onnxruntime)",
        );
    assert!(status.success(), "ONNX Runtime / onnx.checker rejected the QDQ model (see stderr)");
    calibr8::core::npy::read_npy_f32(&output).unwrap()
}

fn quantize_err(data: &dyn CalibrationData) -> String {
    calibr8::quantize(&model(), data, &QuantConfig::default()).unwrap_err().to_string()
}

#[test]
fn data_that_does_not_fit_the_inputs_is_refused_by_name() {
    let arrays = read_npz(CALIB).unwrap();
    let ids = arrays.iter().find(|(n, _)| n == "input_ids").unwrap().1.clone();
    // One input missing.
    let only_ids = InMemory::batches(vec![TensorMap::single("input_ids", ids.clone())]).unwrap();
    let err = quantize_err(&only_ids);
    assert!(err.contains("gives no data for input(s) attention_mask"), "{err}");
    // An unnamed array for a two-input model.
    let unnamed = InMemory::new(ArrayD::<f32>::zeros(vec![4, 6]), 4).unwrap();
    let err = quantize_err(&unnamed);
    assert!(err.contains("one unnamed array") && err.contains(".npz"), "{err}");
    // Float token ids for an int64 input.
    let mut float_ids: TensorMap = arrays.iter().cloned().collect();
    float_ids.insert("input_ids", ids.to_f32().into_owned());
    let err = quantize_err(&InMemory::batches(vec![float_ids]).unwrap());
    assert!(err.contains("gives float32 for input 'input_ids'") && err.contains("int64"), "{err}");
    // A name the model does not have.
    let mut extra: TensorMap = arrays.iter().cloned().collect();
    extra.insert("token_type_ids", ids);
    let err = quantize_err(&InMemory::batches(vec![extra]).unwrap());
    assert!(err.contains("token_type_ids") && err.contains("no input for"), "{err}");
}
