//! The `auto` method (issue 11, item 4): candidates scored per tensor on the consuming op, then
//! whole-model candidates scored on the model outputs and refined block by block. Checked with
//! an independent evaluation of each single method, and against minmax on the bundled models.

use calibr8::compare::{Evaluation, Labels};
use calibr8::prelude::*;
use calibr8::tract::TractBackend;
use ndarray::{s, ArrayD};

fn quantize(model: &OnnxModel, calib: &str, batch: usize, method: Method) -> QuantizedModel {
    let data = NpySource::open(calib, batch).expect("data");
    let config = QuantConfig { method, ..QuantConfig::default() };
    calibr8::quantize(model, &data, &config).expect("quantizes")
}

/// Top-1 against the labels where there are some, else agreement with the float model.
fn top1(eval: &Evaluation<'_>, q: &QuantizedModel) -> f64 {
    let out = eval.outputs(&TractBackend, Lowering::Quantized(q)).expect("runs");
    let m = &out[0].metrics;
    m.top1_accuracy.or(m.top1_agreement).expect("a classifier output")
}

#[test]
fn auto_never_loses_top1_against_minmax_on_the_bundled_models() {
    let cases = [
        (
            "examples/digits/digits_cnn.onnx",
            "examples/digits/calib.npy",
            32,
            "examples/digits/eval.npy",
            Some("examples/digits/eval_labels.npy"),
        ),
        (
            "tests/data/mlp_gemm.onnx",
            "tests/data/mlp_gemm_calib.npy",
            16,
            "tests/data/mlp_gemm_eval.npy",
            None,
        ),
        (
            "tests/data/resnet_tiny.onnx",
            "tests/data/resnet_tiny_calib.npy",
            4,
            "tests/data/resnet_tiny_calib.npy",
            None,
        ),
    ];
    for (path, calib, batch, eval_path, labels) in cases {
        let model = OnnxModel::load(path).expect("model");
        let eval_data = NpySource::open(eval_path, 64).expect("eval data");
        let labels = labels.map(|l| Labels::load(l).expect("labels"));
        let eval = Evaluation::new(&TractBackend, &model, &eval_data, labels).expect("reference");
        let auto = top1(&eval, &quantize(&model, calib, batch, Method::Auto));
        let minmax = top1(&eval, &quantize(&model, calib, batch, Method::MinMax));
        println!("{path}: top-1 auto {auto:.4}, minmax {minmax:.4}");
        assert!(auto >= minmax, "{path}: auto {auto} < minmax {minmax}");
    }
}

#[test]
fn the_search_ends_at_or_above_its_best_whole_model_candidate_and_says_where_each_range_came_from()
{
    let model = OnnxModel::load("tests/data/resnet_tiny.onnx").expect("model");
    let q = quantize(&model, "tests/data/resnet_tiny_calib.npy", 4, Method::Auto);
    let search = q.auto_search.as_ref().expect("auto records its search");
    let best = search.candidates.iter().map(|c| c.sqnr_db).fold(f64::NEG_INFINITY, f64::max);
    assert!(search.sqnr_db >= best, "{} < {best}", search.sqnr_db);
    assert!(search.candidates.windows(2).all(|w| w[0].sqnr_db >= w[1].sqnr_db), "best first");
    assert!(search.candidates.iter().any(|c| c.name == "per-tensor"));
    let activations = q.activations().count();
    assert_eq!(search.steps.len(), calibr8_core::auto::SEARCH_BLOCKS.min(activations));
    for t in q.activations() {
        let choice = &q.auto[&t.target.tensor];
        assert_eq!(t.range.method, choice.chosen, "{}", t.target.tensor);
        if choice.taken_from == "per-tensor" {
            assert_eq!(choice.chosen, choice.local_best, "{}", t.target.tensor);
        } else {
            assert_eq!(choice.chosen.to_string(), choice.taken_from, "{}", t.target.tensor);
        }
    }
    // ranges.json carries both halves of the decision.
    let json = calibr8::export::ranges_json(&q);
    let first = q.activations().next().expect("an activation");
    let entry = &json[first.target.tensor.as_str()]["auto"];
    assert!(entry["local_best"].is_string() && entry["taken_from"].is_string(), "{entry}");
}

#[test]
fn whole_model_scores_equal_an_independent_evaluation_of_each_method() {
    // digits: 256 calibration samples in batches of 32, so the search scores the first batch
    // (32 samples, one batch in eight).
    let path = "examples/digits/digits_cnn.onnx";
    let calib = "examples/digits/calib.npy";
    let model = OnnxModel::load(path).expect("model");
    let auto = quantize(&model, calib, 32, Method::Auto);
    let search = auto.auto_search.as_ref().expect("search");
    assert_eq!(search.samples, calibr8_core::auto::SEARCH_SAMPLES);
    let all: ArrayD<f32> = calibr8_core::npy::read_npy_f32(calib).expect("npy");
    let first = all.slice(s![0..32, .., .., ..]).to_owned().into_dyn();
    let subset = InMemory::new(first, 32).expect("subset");
    let eval = Evaluation::new(&TractBackend, &model, &subset, None).expect("reference");
    let mut checked = 0;
    for method in [Method::MinMax, Method::Entropy, Method::Mse] {
        let Some(recorded) = search.candidates.iter().find(|c| c.name == method.to_string()) else {
            continue; // identical to an earlier candidate, scored under that name
        };
        let q = quantize(&model, calib, 32, method.clone());
        let out = eval.outputs(&TractBackend, Lowering::Quantized(&q)).expect("runs");
        let sqnr = out[0].metrics.sqnr_db.expect("finite");
        println!("{method}: recorded {:.6} dB, independent {sqnr:.6} dB", recorded.sqnr_db);
        assert!((recorded.sqnr_db - sqnr).abs() < 1e-9, "{method}: {} vs {sqnr}", recorded.sqnr_db);
        checked += 1;
    }
    assert!(checked >= 2, "{checked}");
}
