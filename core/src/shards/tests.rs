//! State files without a backend: synthetic shards observed straight into observers.

use super::*;
use crate::internal::*;
use calibr8_calibration::{HistogramMode, Method, TensorObserver};
use sha2::Digest;
use std::collections::BTreeMap;

fn config(method: Method) -> QuantConfig {
    QuantConfig::builder().method(method).histogram(HistogramMode::TwoPass).build().expect("config")
}

fn data(shard: u32, tensor: u32) -> Vec<f32> {
    (0..300u32)
        .map(|i| {
            let h = (i ^ shard.wrapping_mul(7919) ^ tensor.wrapping_mul(31))
                .wrapping_mul(2_654_435_761);
            (h % 10_000) as f32 / 1000.0 - 4.0 - shard as f32
        })
        .collect()
}

/// Tensor `a` per tensor, `b` per channel (axis 1 of [100, 3]); `grid`: the histogram pass.
fn shard(k: u32, cfg: &QuantConfig, grid: Option<&ShardState>) -> ShardState {
    let mut tensors = BTreeMap::new();
    for (ix, (name, axis)) in [("a", None), ("b", Some(1))].into_iter().enumerate() {
        let t = TensorState {
            axis,
            state: calibr8_calibration::ObserverState {
                batches: 0,
                values: 0,
                min: vec![],
                max: vec![],
                grid: None,
            },
        };
        let oc = t.observer_config(cfg);
        let mut obs = match grid {
            Some(g) if oc.collects_histogram() => {
                TensorObserver::on_grid(name, oc, &g.grid_max(name).expect("grid"))
            }
            _ => TensorObserver::new(name, oc),
        }
        .expect("observer");
        obs.observe(&data(k, ix as u32), &[100, 3]).expect("observe");
        tensors.insert(name.to_string(), TensorState { axis, state: obs.state().expect("state") });
    }
    ShardState {
        origin: format!("part-{k}.c8state"),
        calibr8_version: CALIBR8_VERSION.into(),
        model: ModelIdentity { path: "m.onnx".into(), sha256: "ab".repeat(32) },
        config: cfg.clone(),
        sources: vec![Source {
            data: format!("part-{k}.npy"),
            samples: 100,
            batches: 1,
            sha256: format!("{k:064}"),
        }],
        tensors,
    }
}

fn histogram_shards(cfg: &QuantConfig) -> Vec<ShardState> {
    let ranges: Vec<ShardState> = (0..3).map(|k| shard(k, cfg, None)).collect();
    let grid = ShardState::merge(&ranges).expect("merge ranges");
    (0..3).map(|k| shard(k, cfg, Some(&grid))).collect()
}

#[test]
fn bytes_round_trip_exactly_and_deterministically() {
    for cfg in [config(Method::Entropy), config(Method::MinMax)] {
        let parts = histogram_shards(&cfg);
        for s in &parts {
            let bytes = s.to_bytes().expect("encode");
            assert_eq!(&bytes[..8], MAGIC);
            let back = ShardState::from_bytes(&bytes, &s.origin).expect("decode");
            assert_eq!(&back, s);
            assert_eq!(back.to_bytes().expect("encode"), bytes);
        }
    }
}

#[test]
fn merge_order_does_not_matter() {
    let parts = histogram_shards(&config(Method::Percentile { percentile: 99.9 }));
    let reference = ShardState::merge(&parts).expect("merge").to_bytes().expect("encode");
    for order in [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let permuted: Vec<ShardState> = order.iter().map(|&k| parts[k].clone()).collect();
        assert_eq!(ShardState::merge(&permuted).expect("merge").to_bytes().expect("e"), reference);
    }
    // Merging merged states (a tree) gives the same result as merging all at once.
    let left = ShardState::merge(&parts[..2]).expect("merge");
    let tree = ShardState::merge(&[parts[2].clone(), left]).expect("merge");
    assert_eq!(tree.to_bytes().expect("encode"), reference);
    let merged = ShardState::merge(&parts).expect("merge");
    assert_eq!(merged.samples(), 300);
    // A part merged again (on its own, or inside a merged state) would count twice.
    let e = ShardState::merge(&[merged.clone(), parts[1].clone()]).expect_err("twice");
    assert!(e.to_string().contains("merge each shard once"), "{e}");
    assert!(e.to_string().contains("part-1.npy"), "{e}");
    assert_eq!(merged.tensors["b"].state.values, 900);
}

#[test]
fn damaged_files_are_errors_naming_the_file() {
    let s = &histogram_shards(&config(Method::Mse))[0];
    let bytes = s.to_bytes().expect("encode");
    for cut in (0..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
        let e = ShardState::from_bytes(&bytes[..cut], "cut.c8state").expect_err("truncated");
        assert!(e.to_string().starts_with("state file cut.c8state: "), "{e}");
    }
    for at in (0..bytes.len()).step_by(13) {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        let e = ShardState::from_bytes(&flipped, "flip.c8state").expect_err("corrupt");
        assert!(e.to_string().contains("flip.c8state"), "{e}");
    }
    let mut future = bytes.clone();
    future[8] = 2;
    let e = ShardState::from_bytes(&future, "v2.c8state").expect_err("version");
    assert!(e.to_string().contains("format version 2"), "{e}");
    let e = ShardState::from_bytes(b"{\"json\": true}", "x.json").expect_err("magic");
    assert!(e.to_string().contains("not a calibr8 state file"), "{e}");
}

/// A file whose checksum is right but whose counts contradict its header (a broken writer) is
/// still refused, by the observer's consistency checks.
#[test]
fn inconsistent_content_with_a_valid_checksum_is_refused() {
    let mut s = histogram_shards(&config(Method::Entropy))[1].clone();
    s.tensors.get_mut("a").and_then(|t| t.state.grid.as_mut()).expect("grid").values += 1;
    let mut bytes = s.to_bytes().expect("encode");
    let n = bytes.len() - 32;
    let digest = sha2::Sha256::digest(&bytes[..n]);
    bytes[n..].copy_from_slice(&digest);
    let e = ShardState::from_bytes(&bytes, "odd.c8state").expect_err("inconsistent");
    assert!(e.to_string().contains("odd.c8state") && e.to_string().contains("tensor `a`"), "{e}");
}

#[test]
fn states_that_do_not_belong_together_say_what_differs() {
    let cfg = config(Method::Entropy);
    let parts = histogram_shards(&cfg);
    let check = |other: ShardState, field: &str| {
        let e = ShardState::merge(&[parts[0].clone(), other]).expect_err(field).to_string();
        assert!(e.contains(&format!("have different {field}")), "{field}: {e}");
        assert!(e.contains("part-0.c8state") && e.contains("part-1.c8state"), "{e}");
    };
    let mut other = parts[1].clone();
    other.config = config(Method::Mse);
    check(other, "configuration");
    let mut other = parts[1].clone();
    other.model.sha256 = "cd".repeat(32);
    check(other, "model");
    let mut other = parts[1].clone();
    other.calibr8_version = "0.0.1".into();
    check(other, "calibr8 version");
    // Another grid: histograms filled on ranges of shard 1 alone.
    let own_grid = shard(1, &cfg, None);
    let mut other = shard(1, &cfg, Some(&own_grid));
    other.origin = "part-1.c8state".into();
    check(other, "grid");
    let mut other = shard(1, &cfg, None);
    other.origin = "part-1.c8state".into();
    check(other, "kind");
}

#[test]
fn order_dependent_methods_are_refused_with_the_alternative() {
    let ema = QuantConfig::builder().method(Method::EmaMinMax { decay: 0.99 }).build().expect("c");
    assert!(check_shardable(&ema).expect_err("ema").to_string().contains("batch order"));
    let auto = QuantConfig::default();
    let e = check_shardable(&auto).expect_err("auto").to_string();
    assert!(e.contains("--method minmax"), "{e}");
    let streaming = QuantConfig::builder().method(Method::Entropy).build().expect("c");
    assert!(check_shardable(&streaming).expect_err("streaming").to_string().contains("two_pass"));
    check_shardable(&config(Method::MinMax)).expect("minmax shards");
}

#[test]
fn writes_are_atomic_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("part-0.c8state");
    let s = &histogram_shards(&config(Method::Entropy))[0];
    s.write(&path).expect("write");
    let back = ShardState::read(&path).expect("read");
    assert_eq!(back.tensors, s.tensors);
    assert_eq!(back.origin, path.display().to_string());
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1, "no temporary left");
}
