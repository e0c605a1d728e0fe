//! Calibration in shards (the library API): the bundled digits data split in three, a range
//! pass and a histogram pass per shard, states through their file bytes, merged in every
//! order, give exactly the `QuantizedModel` and artifacts of one two-pass run over all data.
//! See: https://github.com/calibr8/calibr8/issues/12

use calibr8::calibration::{HistogramMode, Method};
use calibr8::core::shards::{observe_shard, ShardPass, ShardState};
use calibr8::export::{calibration_cache, qdq_model, ranges_json, TrtVersion};
use calibr8::prelude::*;
use calibr8::tract::TractBackend;
use ndarray::{Axis, Slice};

const MODEL: &str = "examples/digits/digits_cnn.onnx";
const CALIB: &str = "examples/digits/calib.npy";
const BATCH: usize = 32;

/// Samples per shard: multiples of the batch, so every shard runs the batches the whole run
/// runs (and ranges.json's batch counts agree).
const SHARDS: [usize; 3] = [96, 96, 64];

fn artifacts(q: &QuantizedModel) -> (Vec<u8>, String, String) {
    (
        qdq_model(q).unwrap().to_bytes(),
        calibration_cache(q, TrtVersion::default()),
        ranges_json(q).to_string(),
    )
}

/// A shard's state, written to bytes and read back as a file would be.
fn through_file(state: ShardState, name: &str) -> ShardState {
    ShardState::from_bytes(&state.to_bytes().unwrap(), name).unwrap()
}

#[test]
fn issue_12_shards_merge_to_the_two_pass_run_bit_for_bit() {
    let model = OnnxModel::load(MODEL).unwrap();
    let all = calibr8::core::npy::read_npy_f32(CALIB).unwrap();
    assert_eq!(all.shape()[0], SHARDS.iter().sum::<usize>());
    let mut start = 0;
    let shards: Vec<InMemory> = SHARDS
        .iter()
        .map(|&n| {
            let part = all.slice_axis(Axis(0), Slice::from(start..start + n)).to_owned();
            start += n;
            InMemory::new(part, BATCH).unwrap()
        })
        .collect();
    let whole_data = InMemory::new(all.clone(), BATCH).unwrap();
    for method in
        [Method::MinMax, Method::Entropy, Method::Percentile { percentile: 99.9 }, Method::Mse]
    {
        let config = QuantConfig::builder()
            .method(method.clone())
            .histogram(HistogramMode::TwoPass)
            .build()
            .unwrap();
        let whole = calibr8::quantize_with(&TractBackend, &model, &whole_data, &config).unwrap();

        let observe = |data: &InMemory, pass: ShardPass<'_>, name: String| {
            let s = observe_shard(&TractBackend, &model, data, &config, pass, 2, &mut |_| {});
            through_file(s.unwrap(), &name)
        };
        let ranges: Vec<ShardState> = shards
            .iter()
            .enumerate()
            .map(|(k, d)| observe(d, ShardPass::Ranges, format!("range-{k}.c8state")))
            .collect();
        let grid = ShardState::merge(&ranges).unwrap();
        let parts: Vec<ShardState> = if method == Method::MinMax {
            ranges.clone()
        } else {
            shards
                .iter()
                .enumerate()
                .map(|(k, d)| observe(d, ShardPass::OnGrid(&grid), format!("part-{k}.c8state")))
                .collect()
        };
        assert_eq!(parts[0].has_histograms(), method != Method::MinMax, "{method}");
        let expected = artifacts(&whole);
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let states: Vec<ShardState> = order.iter().map(|&k| parts[k].clone()).collect();
            let merged = ShardState::merge(&states).unwrap();
            assert_eq!(merged.samples(), 256);
            let q = merged.quantize(&model).unwrap();
            assert_eq!(q.tensors, whole.tensors, "{method}, order {order:?}");
            assert_eq!(q.observed, whole.observed, "{method}, order {order:?}");
            assert_eq!(artifacts(&q), expected, "{method}, order {order:?}");
        }
    }
}

/// A grid from some shards only does not cover the others: the histogram pass says so.
#[test]
fn issue_12_a_grid_that_misses_a_shard_is_an_error_with_the_remedy() {
    let model = OnnxModel::load(MODEL).unwrap();
    let all = calibr8::core::npy::read_npy_f32(CALIB).unwrap();
    let config = QuantConfig::builder()
        .method(Method::Entropy)
        .histogram(HistogramMode::TwoPass)
        .build()
        .unwrap();
    // The grid from the dimmest sample, then the histogram pass over all data.
    let norms: Vec<f32> = all.outer_iter().map(|s| s.iter().map(|x| x.abs()).sum()).collect();
    let dim = (0..norms.len()).min_by(|&a, &b| norms[a].total_cmp(&norms[b])).unwrap();
    let one = all.slice_axis(Axis(0), Slice::from(dim..dim + 1)).to_owned();
    let range = observe_shard(
        &TractBackend,
        &model,
        &InMemory::new(one, 1).unwrap(),
        &config,
        ShardPass::Ranges,
        1,
        &mut |_| {},
    )
    .unwrap();
    let range = through_file(range, "range-0.c8state");
    let e = observe_shard(
        &TractBackend,
        &model,
        &InMemory::new(all, BATCH).unwrap(),
        &config,
        ShardPass::OnGrid(&range),
        1,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("beyond the grid") && e.contains("range-0.c8state"), "{e}");
    assert!(e.contains("--range-only"), "{e}");
}
