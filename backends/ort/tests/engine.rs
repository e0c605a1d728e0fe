//! The ONNX Runtime engine itself, on the real library: typed inputs and outputs, capture by
//! ONNX name, errors that name the tensor, the thread option, and the GPU providers' answer on a
//! CPU-only ONNX Runtime.

mod common;

use calibr8_core::{
    Backend, ElemType, EngineOptions, Error, Lowering, OnnxModel, Precision, TensorMap, TensorValue,
};
use calibr8_ort::{OrtBackend, Provider, TensorRtOptions};
use common::{ort_cpu, DIGITS};
use ndarray::{arr2, ArrayD};

const TYPED: &str = "tests/data/typed_io.onnx";

fn typed_batch() -> TensorMap {
    let mut batch = TensorMap::new();
    // Given out of model order: engines bind by name.
    batch.insert("feat", arr2(&[[-1.0f32, 0.5, 1.0], [2.0, -3.0, 0.0]]).into_dyn());
    batch.insert("ids", arr2(&[[1i64, 2, 3], [40_000_000_000, -5, 0]]).into_dyn());
    batch.insert("mask", arr2(&[[true, false, true], [false, false, true]]).into_dyn());
    batch.insert("x", arr2(&[[0.5f64, 1.0, 2.0], [1e-3, -2.5, 4.0]]).into_dyn());
    batch.insert("count", arr2(&[[1i32, 2, 3], [-7, 0, 9]]).into_dyn());
    batch.insert("small", arr2(&[[-1i8, 2, -3], [-127, 0, 5]]).into_dyn());
    batch.insert("pixels", arr2(&[[1u8, 200, 3], [255, 7, 8]]).into_dyn());
    batch
}

#[test]
fn every_element_type_goes_in_and_comes_out_typed() {
    let model = OnnxModel::load(TYPED).unwrap();
    let mut engine = ort_cpu().prepare(Lowering::Float(&model), &EngineOptions::default()).unwrap();
    assert_eq!(engine.input_names(), ["ids", "mask", "x", "count", "small", "pixels", "feat"]);
    let out = engine.run(typed_batch()).unwrap();
    assert_eq!(
        out.names().collect::<Vec<_>>(),
        ["sum", "ids_plus1", "not_mask", "x2", "count_neg", "small_abs", "pixels_max", "feat_relu"]
    );
    let types: Vec<ElemType> = out.values().map(TensorValue::elem_type).collect();
    use ElemType::*;
    assert_eq!(types, [F32, I64, Bool, F64, I32, I8, U8, F32]);
    assert_eq!(
        out.get("ids_plus1"),
        Some(&TensorValue::from(arr2(&[[2i64, 3, 4], [40_000_000_001, -4, 1]]).into_dyn()))
    );
    assert_eq!(
        out.get("not_mask"),
        Some(&TensorValue::from(arr2(&[[false, true, false], [true, true, false]]).into_dyn()))
    );
    assert_eq!(
        out.get("x2"),
        Some(&TensorValue::from(arr2(&[[1.0f64, 2.0, 4.0], [2e-3, -5.0, 8.0]]).into_dyn()))
    );
    assert_eq!(
        out.get("count_neg"),
        Some(&TensorValue::from(arr2(&[[-1i32, -2, -3], [7, 0, -9]]).into_dyn()))
    );
    assert_eq!(
        out.get("small_abs"),
        Some(&TensorValue::from(arr2(&[[1i8, 2, 3], [127, 0, 5]]).into_dyn()))
    );
    assert_eq!(
        out.get("pixels_max"),
        Some(&TensorValue::from(arr2(&[[7u8, 200, 7], [255, 7, 8]]).into_dyn()))
    );
    // ids 4e10 is not exact in float32; the rest of the sum is.
    let sum = out.f32("sum").unwrap();
    assert_eq!([sum[[0, 0]], sum[[0, 1]], sum[[0, 2]]], [2.5, 207.5, 10.0]);
    assert_eq!(sum[[1, 1]], -5.0 - 2.5 - 3.0 + 7.0);
}

#[test]
fn the_same_typed_batch_gives_the_same_answers_on_tract() {
    let model = OnnxModel::load(TYPED).unwrap();
    let options = EngineOptions::default();
    let ort = ort_cpu().prepare(Lowering::Float(&model), &options).unwrap().run(typed_batch());
    let tract = calibr8_tract::TractBackend
        .prepare(Lowering::Float(&model), &options)
        .unwrap()
        .run(typed_batch());
    assert_eq!(ort.unwrap(), tract.unwrap());
}

#[test]
fn a_wrongly_typed_missing_or_extra_input_is_an_error_naming_it() {
    let model = OnnxModel::load(TYPED).unwrap();
    let mut engine = ort_cpu().prepare(Lowering::Float(&model), &EngineOptions::default()).unwrap();

    let mut batch = typed_batch();
    batch.insert("ids", arr2(&[[1i32, 2, 3], [4, 5, 6]]).into_dyn());
    let message = engine.run(batch).unwrap_err().to_string();
    assert!(message.contains("ids: is int32, where the model takes int64"), "{message}");

    let mut batch = typed_batch();
    batch.remove("mask");
    let message = engine.run(batch).unwrap_err().to_string();
    assert!(message.contains("mask: is a model input the batch gives no tensor for"), "{message}");

    let mut batch = typed_batch();
    batch.insert("extra", ArrayD::<f32>::zeros(vec![2, 3]));
    let message = engine.run(batch).unwrap_err().to_string();
    assert!(message.contains("extra: is not an input of the model"), "{message}");

    // ONNX Runtime's own refusal (a wrong shape) is an error too, not a panic.
    let mut batch = typed_batch();
    batch.insert("feat", ArrayD::<f32>::zeros(vec![2, 4]));
    let err = engine.run(batch).unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err}");
    assert!(err.to_string().starts_with("backend ort: "), "{err}");
}

#[test]
fn captured_tensors_come_after_the_outputs_in_the_order_asked() {
    let model = OnnxModel::load(DIGITS.0).unwrap();
    let capture: Vec<String> =
        ["relu2_out", "input", "conv1_out", "logits"].map(String::from).into();
    let options = EngineOptions { capture: capture.clone(), ..Default::default() };
    let mut engine = ort_cpu().prepare(Lowering::Float(&model), &options).unwrap();
    // A model output asked for again is returned once, in its place.
    assert_eq!(engine.output_names(), ["logits", "relu2_out", "input", "conv1_out"]);
    let x = calibr8_core::npy::read_npy_f32(DIGITS.1).unwrap();
    let batch = x.slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..4)).to_owned();
    let out = engine.run(TensorMap::single("input", batch.clone())).unwrap();
    assert_eq!(out.f32("input").unwrap(), &batch, "a graph input comes back unchanged");
    assert_eq!(out.f32("conv1_out").unwrap().shape(), &[4, 16, 8, 8]);
    assert!(out.f32("relu2_out").unwrap().iter().all(|v| *v >= 0.0));

    let err = ort_cpu()
        .prepare(
            Lowering::Float(&model),
            &EngineOptions { capture: vec!["conv9_out".into()], ..Default::default() },
        )
        .err()
        .expect("no such tensor");
    assert!(matches!(&err, Error::UnknownTensor { tensor, .. } if tensor == "conv9_out"), "{err}");
}

#[test]
fn thread_counts_change_nothing_but_speed() {
    let model = OnnxModel::load(DIGITS.0).unwrap();
    let x = calibr8_core::npy::read_npy_f32(DIGITS.1).unwrap();
    let run = |threads| {
        let backend = OrtBackend::cpu(threads);
        let mut engine =
            backend.prepare(Lowering::Float(&model), &EngineOptions::default()).unwrap();
        engine.run_f32(vec![x.clone()]).unwrap().remove(0)
    };
    let one = run(Some(1));
    assert_eq!(one.shape(), &[x.shape()[0], 10]);
    for other in [run(Some(2)), run(None)] {
        let diff = one.iter().zip(&other).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff <= 1e-5, "{diff}");
    }
}

#[test]
fn fp16_on_the_cpu_is_refused_not_silently_fp32() {
    let model = OnnxModel::load(DIGITS.0).unwrap();
    let options = EngineOptions { float_precision: Some(Precision::Fp16), ..Default::default() };
    let err = ort_cpu().prepare(Lowering::Float(&model), &options).err().expect("refused");
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
}

/// CI's ONNX Runtime is the CPU wheel: a GPU provider must say it is not available and why,
/// and never fall back to the CPU. (With a GPU build, it must either work or name the provider.)
#[test]
fn gpu_providers_are_available_or_say_why_not() {
    ort_cpu();
    let model = OnnxModel::load(DIGITS.0).unwrap();
    for backend in [
        OrtBackend { provider: Provider::Cuda { device_id: 0 }, threads: None },
        OrtBackend { provider: Provider::TensorRt(TensorRtOptions::default()), threads: None },
    ] {
        match backend.check() {
            Err(e) => {
                let message = e.to_string();
                let ort_name = backend.provider.ort_name();
                assert!(message.contains(&format!("not available: {ort_name}")), "{message}");
                assert!(message.contains("pip install onnxruntime-gpu"), "{message}");
                // prepare does not quietly run on the CPU instead.
                assert!(backend.prepare(Lowering::Float(&model), &Default::default()).is_err());
            }
            Ok(()) => {
                // Built in: its libraries may still be missing; then the error names it.
                if let Err(e) = backend.prepare(Lowering::Float(&model), &Default::default()) {
                    let message = e.to_string();
                    assert!(message.contains(backend.provider.ort_name()), "{message}");
                }
            }
        }
    }
}

#[test]
fn the_runtime_reports_where_it_came_from() {
    ort_cpu();
    let rt = calibr8_ort::runtime().unwrap();
    assert!(rt.library.version.starts_with("1."), "{}", rt.library.version);
    assert!(rt.library.path.to_string_lossy().contains("onnxruntime"), "{:?}", rt.library.path);
    // Asking for the same library again is fine; another one is refused with both paths.
    assert!(calibr8_ort::init_from(&rt.library.path).is_ok());
}
