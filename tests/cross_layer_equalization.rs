//! Cross-layer equalization (issue 11, item 4), on a depthwise-separable stack whose depthwise
//! channels span 300× (tests/data/issue11/depthwise_separable.onnx, made by
//! tests/data/make_issue11_models.py): the float function stays the same, the two
//! Conv-Relu-Conv pairs get equal per-channel weight ranges, the Conv-Clip-Conv pair is left
//! alone, and per-tensor int8 weights stop destroying the small channels.

use calibr8::compare::Evaluation;
use calibr8::prelude::*;
use calibr8::tract::TractBackend;
use calibr8_core::config::GranularityName;
use calibr8_core::preprocess::{preprocess, PreprocessOptions};

const MODEL: &str = "tests/data/issue11/depthwise_separable.onnx";
const CALIB: &str = "tests/data/issue11/depthwise_separable_calib.npy";

fn weight(model: &OnnxModel, name: &str) -> ndarray::ArrayD<f32> {
    let t = model.graph().initializer.iter().find(|t| t.name == name).expect(name);
    let (values, dims) = calibr8_core::graph::tensor_f32(t).expect("float");
    ndarray::ArrayD::from_shape_vec(dims, values).expect("shape")
}

/// max |w| per index of `axis`.
fn ranges(w: &ndarray::ArrayD<f32>, axis: usize) -> Vec<f32> {
    w.axis_iter(ndarray::Axis(axis)).map(|l| l.iter().fold(0.0f32, |m, v| m.max(v.abs()))).collect()
}

fn run(model: &OnnxModel) -> ndarray::ArrayD<f32> {
    let x = calibr8_core::npy::read_npy_f32(CALIB).expect("npy");
    let mut engine =
        TractBackend.prepare(Lowering::Float(model), &EngineOptions::default()).expect("prepares");
    let mut inputs = TensorMap::new();
    inputs.insert("x".to_string(), TensorValue::F32(x));
    engine.run(inputs).expect("runs").get("y").expect("y").to_f32().into_owned()
}

#[test]
fn equalization_keeps_the_float_function_and_equalizes_only_scale_invariant_pairs() {
    let model = OnnxModel::load(MODEL).expect("model");
    let options = PreprocessOptions { equalize: true, ..PreprocessOptions::default() };
    let (equalized, report) = preprocess(&model, &options).expect("pre-processes");
    assert_eq!(report.pairs_equalized, 2, "pw1→dw and dw→pw2, not pw2→Clip→pw3: {report}");

    let (before, after) = (run(&model), run(&equalized));
    let worst = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    let scale = before.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(worst <= 1e-5 * scale, "float outputs moved by {worst} (outputs up to {scale})");

    // Each pair now shares its per-channel ranges (to 1 %: the chain converges over the rounds).
    let close = |a: &[f32], b: &[f32], what: &str| {
        for (c, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-2 * x.max(*y), "{what} channel {c}: {x} vs {y}");
        }
    };
    let dw = weight(&equalized, "dw.weight");
    close(&ranges(&weight(&equalized, "pw1.weight"), 0), &ranges(&dw, 0), "pw1 → dw");
    close(&ranges(&dw, 0), &ranges(&weight(&equalized, "pw2.weight"), 1), "dw → pw2");
    let spread = |r: Vec<f32>| {
        r.iter().cloned().fold(0.0f32, f32::max) / r.iter().cloned().fold(f32::MAX, f32::min)
    };
    let (spread_before, spread_after) =
        (spread(ranges(&weight(&model, "dw.weight"), 0)), spread(ranges(&dw, 0)));
    assert!(spread_after < spread_before / 5.0, "{spread_before} → {spread_after}");
    // Through Clip (ReLU6) a scale does not commute: pw3 is untouched.
    assert_eq!(weight(&equalized, "pw3.weight"), weight(&model, "pw3.weight"));
}

#[test]
fn per_tensor_int8_weights_keep_the_small_depthwise_channels_once_equalized() {
    let model = OnnxModel::load(MODEL).expect("model");
    let data = NpySource::open(CALIB, 8).expect("data");
    let sqnr = |equalize: bool| {
        let mut config = QuantConfig {
            method: Method::MinMax,
            cross_layer_equalization: equalize,
            ..QuantConfig::default()
        };
        for rule in &mut config.config_list {
            rule.granularity = GranularityName::Default;
        }
        let q = calibr8::quantize(&model, &data, &config).expect("quantizes");
        let eval = Evaluation::new(&TractBackend, &model, &data, None).expect("reference");
        let out = eval.outputs(&TractBackend, Lowering::Quantized(&q)).expect("runs");
        // The artifacts name the float model they describe when it is not the user's.
        let dir = tempfile::tempdir().expect("tempdir");
        let written = write_artifacts(&q, dir.path(), &ArtifactOptions::default()).expect("writes");
        let equalized_file = dir.path().join("model.equalized.onnx");
        assert_eq!(written.contains(&equalized_file), equalize, "{written:?}");
        out[0].metrics.sqnr_db.expect("finite")
    };
    let (plain, equalized) = (sqnr(false), sqnr(true));
    println!("per-tensor weights, output SQNR: {plain:.1} dB plain, {equalized:.1} dB equalized");
    assert!(equalized > plain + 15.0, "{plain} → {equalized}");
}
