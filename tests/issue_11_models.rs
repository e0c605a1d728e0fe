//! Real exported models in: dynamic and symbolic input dims, variable Reshape, stale
//! value_info, opset 11/12 Softmax, BatchNorm folding, already-quantized models, If branches.
//! Each fixture reproduces one failure seen on the PaddleOCR models of the rapidocr wheels
//! (tests/data/make_issue11_models.py); ONNX Runtime checks the exported QDQ models and the
//! pre-processed float models.
//! See: https://github.com/calibr8/calibr8/issues/11

use calibr8::core::export::{names, write_artifacts, ArtifactOptions};
use calibr8::core::preprocess::{
    describe_float_subgraphs, preprocess, subgraph_nodes, PreprocessOptions,
};
use calibr8::core::shapes;
use calibr8::prelude::*;
use calibr8::tract::TractBackend;
use ndarray::ArrayD;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> String {
    format!("tests/data/issue11/{name}")
}

/// The dynamic-shape fixtures: model, calibration data, batch size that leaves a short last
/// batch (so a second input shape reaches the engine).
const DYNAMIC: [(&str, &str, usize); 3] = [
    ("unknown_dims.onnx", "unknown_dims_calib.npy", 3),
    ("symbolic_hw.onnx", "symbolic_hw_calib.npy", 3),
    ("stale_value_info.onnx", "stale_value_info_calib.npy", 4),
];

fn quantize(model: &OnnxModel, calib: &str, batch: usize, config: &QuantConfig) -> QuantizedModel {
    let data = NpySource::open(calib, batch).unwrap();
    calibr8::quantize(model, &data, config)
        .unwrap_or_else(|e| panic!("{}: quantize failed: {e}", model.origin))
}

/// Runs `model` with ONNX Runtime on `input` (tests/ort_check.py) and returns the first output.
fn onnx_runtime(model: &Path, input: &Path, dir: &Path) -> ArrayD<f32> {
    let output = dir.join(format!("{}.out.npy", model.file_name().unwrap().to_string_lossy()));
    let status = Command::new("python3")
        .args([Path::new("tests/ort_check.py"), model, input, &output])
        .status()
        .expect("python3 with onnx and onnxruntime is needed (pip install onnx onnxruntime)");
    assert!(status.success(), "ONNX Runtime rejected {}", model.display());
    calibr8::core::npy::read_npy_f32(&output).unwrap()
}

fn cosine(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn input_dims(model: &OnnxModel) -> Vec<Vec<Option<usize>>> {
    model.inputs().into_iter().map(|i| i.dims).collect()
}

#[test]
fn issue_11_dynamic_input_dims_quantize_and_export_keeps_them() {
    for (model_file, calib_file, batch) in DYNAMIC {
        let model = OnnxModel::load(fixture(model_file)).unwrap();
        assert!(!shapes::inputs_are_concrete(&model), "{model_file} should be dynamic");
        let q = quantize(&model, &fixture(calib_file), batch, &QuantConfig::default());
        assert!(
            q.activations().count() >= 2,
            "{model_file}: {} activations",
            q.activations().count()
        );
        let dir = tempfile::tempdir().unwrap();
        write_artifacts(&q, dir.path(), &ArtifactOptions::default()).unwrap();
        let qdq = OnnxModel::load(dir.path().join(names::QDQ_MODEL)).unwrap();
        assert_eq!(input_dims(&qdq), input_dims(&model), "{model_file}: export changed input dims");

        // ONNX Runtime runs fp32 and the exported int8 model; they must agree closely.
        let calib = PathBuf::from(fixture(calib_file));
        let fp32 = onnx_runtime(Path::new(&fixture(model_file)), &calib, dir.path());
        let int8 = onnx_runtime(&dir.path().join(names::QDQ_MODEL), &calib, dir.path());
        let c = cosine(&fp32, &int8);
        println!("{model_file}: fp32 vs exported int8 (ONNX Runtime) cosine {c:.5}");
        assert!(c > 0.99, "{model_file}: cosine {c}");

        // tract runs the exported model for every batch shape, with the same answer as ORT.
        let mut engine =
            TractBackend.prepare(Lowering::Quantized(&q), &EngineOptions::default()).unwrap();
        let x = calibr8::core::npy::read_npy_f32(&calib).unwrap();
        let tract = engine.run_f32(vec![x.clone()]).unwrap().remove(0);
        // ONNX Runtime runs the QDQ MatMul with its int8 kernels, tract runs Q/DQ in float:
        // on unknown_dims' tiny MatMul (K = 8) they differ by up to 1 % (measured 0.9915 on the
        // AVX2 EPYC); both stay within 1 % of fp32.
        let c = cosine(&tract, &int8);
        assert!(c > 0.99, "{model_file}: tract vs ORT on the QDQ model, cosine {c}");
        let c = cosine(&tract, &fp32);
        assert!(c > 0.99, "{model_file}: tract int8 vs ORT fp32, cosine {c}");
        let one = x.slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..1)).to_owned();
        let single = engine.run_f32(vec![one]).unwrap().remove(0);
        assert_eq!(single.shape()[0], 1);
    }
}

#[test]
fn issue_11_input_shape_override_is_checked_against_model_and_data() {
    let model = OnnxModel::load(fixture("unknown_dims.onnx")).unwrap();
    let config = QuantConfig {
        input_shapes: BTreeMap::from([("x".to_string(), vec![2, 3, 16, 20])]),
        ..QuantConfig::default()
    };
    let q = quantize(&model, &fixture("unknown_dims_calib.npy"), 2, &config);
    // The exported model keeps the declared dims, not the override.
    assert_eq!(q.model.inputs()[0].dims, vec![None, Some(3), None, None]);

    let data = NpySource::open(fixture("unknown_dims_calib.npy"), 4).unwrap();
    let e = calibr8::quantize(&model, &data, &config).unwrap_err().to_string();
    assert!(e.contains("'x'") && e.contains("[2, 3, 16, 20]"), "{e}");

    let wrong = QuantConfig {
        input_shapes: BTreeMap::from([("x".to_string(), vec![2, 4, 16, 20])]),
        ..QuantConfig::default()
    };
    let e = calibr8::quantize(&model, &data, &wrong).unwrap_err().to_string();
    assert!(e.contains("dimension 1") && e.contains("fixes it to 3"), "{e}");
}

/// Pre-processed float models equal the originals under ONNX Runtime.
#[test]
fn issue_11_preprocessing_keeps_float_models_equal_in_onnx_runtime() {
    let cases = [
        ("tests/data/issue11/unknown_dims.onnx", "tests/data/issue11/unknown_dims_calib.npy"),
        ("tests/data/issue11/symbolic_hw.onnx", "tests/data/issue11/symbolic_hw_calib.npy"),
        (
            "tests/data/issue11/stale_value_info.onnx",
            "tests/data/issue11/stale_value_info_calib.npy",
        ),
        ("tests/data/resnet_tiny.onnx", "tests/data/resnet_tiny_calib.npy"),
        ("tests/data/digits_cnn_opset11.onnx", "examples/digits/calib.npy"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (model_path, input) in cases {
        let model = OnnxModel::load(model_path).unwrap();
        let (folded, report) = preprocess(&model, &PreprocessOptions::default()).unwrap();
        println!("{model_path}: {report}");
        let out = dir.path().join(Path::new(model_path).file_name().unwrap());
        std::fs::write(&out, folded.to_bytes()).unwrap();
        let status = Command::new("python3")
            .args([
                Path::new("tests/preprocess_ort.py"),
                Path::new(model_path),
                &out,
                Path::new(input),
            ])
            .status()
            .expect("python3 with onnx and onnxruntime is needed");
        assert!(status.success(), "{model_path}: pre-processed model differs (see stdout)");
        let bn_left =
            folded.graph().node.iter().filter(|n| n.op_type == "BatchNormalization").count();
        assert_eq!(bn_left, 0, "{model_path}: {bn_left} BatchNormalization left");
    }
}

#[test]
fn issue_11_preprocessing_counts_on_the_fixtures() {
    let load = |f: &str| OnnxModel::load(fixture(f)).unwrap();
    let (_, r) = preprocess(&load("unknown_dims.onnx"), &PreprocessOptions::default()).unwrap();
    assert_eq!((r.batchnorms_folded, r.softmax_rewritten), (2, 1), "{r:?}");
    let (_, r) = preprocess(&load("symbolic_hw.onnx"), &PreprocessOptions::default()).unwrap();
    assert_eq!(r.batchnorms_folded, 1, "grouped ConvTranspose + BN: {r:?}");
    let (m, r) = preprocess(&load("stale_value_info.onnx"), &PreprocessOptions::default()).unwrap();
    // Conv+BN and Gemm+BN (2-D); three Identity nodes, one of them before a graph output.
    assert_eq!(
        (r.batchnorms_folded, r.identities_removed, r.softmax_rewritten),
        (2, 3, 1),
        "{r:?}"
    );
    assert!(m.graph().node.iter().all(|n| n.op_type != "Identity"));
    let (m, r) = preprocess(
        &load("stale_value_info.onnx"),
        &PreprocessOptions { fold_batchnorm: false, ..Default::default() },
    )
    .unwrap();
    assert_eq!(r.batchnorms_folded, 0);
    assert_eq!(m.graph().node.iter().filter(|n| n.op_type == "BatchNormalization").count(), 2);
}

/// Opset 11 Softmax on a non-last axis: per-channel export works (no advice to give up
/// per-channel weights) and ONNX Runtime's int8 output follows fp32.
#[test]
fn issue_11_legacy_softmax_exports_per_channel_at_opset_13() {
    let path = fixture("stale_value_info.onnx");
    let model = OnnxModel::load(&path).unwrap();
    for fold in [true, false] {
        let config = QuantConfig { fold_batchnorm: fold, ..QuantConfig::default() };
        let q = quantize(&model, &fixture("stale_value_info_calib.npy"), 6, &config);
        assert!(q.weights().all(|w| w.params.axis.is_some()), "per-channel weights");
        let qdq = calibr8::core::export::qdq_model(&q).unwrap();
        assert_eq!(qdq.opset(), 13);
        assert!(qdq.graph().node.iter().any(|n| n.op_type == "Flatten"));
        let bn = qdq.graph().node.iter().filter(|n| n.op_type == "BatchNormalization").count();
        assert_eq!(bn, if fold { 0 } else { 2 });
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("qdq.onnx");
        std::fs::write(&file, qdq.to_bytes()).unwrap();
        let calib = PathBuf::from(fixture("stale_value_info_calib.npy"));
        let fp32 = onnx_runtime(Path::new(&path), &calib, dir.path());
        let int8 = onnx_runtime(&file, &calib, dir.path());
        let c = cosine(&fp32, &int8);
        println!("softmax axis=2 at opset 11, fold_batchnorm={fold}: cosine {c:.5}");
        assert!(c > 0.995, "cosine {c}");
    }
}

#[test]
fn issue_11_already_quantized_models_are_refused() {
    let model = OnnxModel::load(fixture("conv_integer.onnx")).unwrap();
    let data = NpySource::open(fixture("conv_integer_calib.npy"), 4).unwrap();
    let e = calibr8::quantize(&model, &data, &QuantConfig::default()).unwrap_err().to_string();
    assert!(e.contains("already quantized"), "{e}");
    assert!(e.contains("ConvInteger") && e.contains("DynamicQuantizeLinear"), "{e}");
    assert!(e.contains("float model"), "{e}");
}

#[test]
fn issue_11_contrib_quantized_models_are_refused_as_quantized_not_for_their_domain() {
    let e = OnnxModel::load(fixture("contrib_quantized.onnx")).unwrap_err().to_string();
    assert!(e.contains("already quantized"), "{e}");
    assert!(e.contains("com.microsoft:DynamicQuantizeMatMul") && e.contains("matmul_q"), "{e}");
    assert!(!e.contains("does not run"), "{e}");
}

/// Every quantizable node inside an If: the error names the If and its nodes, not the config.
#[test]
fn issue_11_a_model_quantizable_only_inside_if_names_the_if() {
    let model = OnnxModel::load(fixture("if_only.onnx")).unwrap();
    let data = NpySource::open(fixture("if_only_calib.npy"), 4).unwrap();
    let e = calibr8::quantize(&model, &data, &QuantConfig::default()).unwrap_err().to_string();
    assert!(e.contains("node 'choose' (If)"), "{e}");
    assert!(e.contains("a_conv (Conv)") && e.contains("b_conv (Conv)"), "{e}");
    assert!(e.contains("main graph only"), "{e}");
    assert!(!e.contains("config_list"), "{e}");
}

#[test]
fn issue_11_subgraph_nodes_are_listed_as_left_in_float() {
    let model = OnnxModel::load(fixture("if_branches.onnx")).unwrap();
    let nodes = subgraph_nodes(&model);
    // In the file's attribute order (onnx.helper sorts them: else_branch, then then_branch).
    let mut names: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a_conv", "b_conv"]);
    assert!(nodes.iter().all(|n| n.parent == "choose" && n.parent_op == "If"));
    let line = describe_float_subgraphs(&nodes, 8).unwrap();
    assert!(
        line.contains("If 'choose'")
            && line.contains("a_conv (Conv)")
            && line.contains("stay float"),
        "{line}"
    );
    // The main graph's Conv is still calibrated.
    let q = quantize(&model, &fixture("if_branches_calib.npy"), 4, &QuantConfig::default());
    assert!(q.tensors.contains_key("x") && q.tensors.contains_key("conv.weight"));
    assert!(!q.tensors.contains_key("a.weight"));
}
