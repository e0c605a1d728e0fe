//! Agreement with NVIDIA ModelOpt's histogram calibration (`calib/histogram.py`), on fixtures
//! written by `tests/data/make_fixtures.py` (see that script for how the reference was run).

use calibr8_calibration::{Histogram, Method, ObserverConfig, TensorObserver};
use serde_json::Value;

const FIXTURES: &str = include_str!("data/fixtures.json");
const REL: f64 = 1e-6;

fn fixtures() -> Value {
    serde_json::from_str(FIXTURES).expect("fixtures.json parses")
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("u64")).collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("f64")).collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    f64s(v).into_iter().map(|x| x as f32).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    u64s(v).into_iter().map(|x| x as usize).collect()
}

fn method_of(key: &str) -> Method {
    key.parse().expect("method key")
}

fn assert_close(what: &str, got: f32, want: f64) {
    assert!(
        approx::relative_eq!(f64::from(got), want, epsilon = 0.0, max_relative = REL),
        "{what}: got {got}, want {want}"
    );
}

fn expected(v: &Value) -> Vec<(String, f64)> {
    v.as_object()
        .expect("expected")
        .iter()
        .map(|(k, x)| (k.clone(), x.as_f64().expect("amax")))
        .collect()
}

#[test]
fn fixed_histograms_match_modelopt() {
    let f = fixtures();
    let hs = f["histograms"].as_array().expect("histograms");
    assert!(hs.len() >= 6);
    for h in hs {
        let name = h["name"].as_str().expect("name");
        let hist = Histogram::new(u64s(&h["counts"]), f64s(&h["edges"])).expect("valid histogram");
        for (key, want) in expected(&h["expected"]) {
            let got = match method_of(&key) {
                Method::Percentile { percentile } => hist.amax_percentile(percentile),
                Method::Entropy => hist.amax_entropy(),
                Method::Mse => hist.amax_mse(),
                other => panic!("unexpected method {other}"),
            };
            assert_close(&format!("{name} {key}"), got, want);
        }
    }
}

fn observe_case(c: &Value, config: ObserverConfig) -> TensorObserver {
    let shape = usizes(&c["shape"]);
    let mut obs = TensorObserver::new(c["name"].as_str().expect("name"), config).expect("config");
    for pass in 0..2 {
        for b in c["batches"].as_array().expect("batches") {
            obs.observe(&f32s(b), &shape).expect("observe");
        }
        if pass == 0 && obs.needs_second_pass() {
            obs.start_second_pass().expect("second pass");
        } else {
            break;
        }
    }
    obs
}

#[test]
fn collected_histograms_match_modelopt_collect() {
    let f = fixtures();
    let cases = f["cases"].as_array().expect("cases");
    assert!(cases.len() >= 4);
    for c in cases {
        let name = c["name"].as_str().expect("name");
        let bins = c["num_bins"].as_u64().expect("bins") as usize;
        let config = ObserverConfig::new(Method::Entropy).with_num_bins(bins).collect_all();
        let obs = observe_case(c, config);

        // The collection itself: identical counts and edges.
        let h = obs.histogram(0).expect("histogram");
        assert_eq!(h.counts(), u64s(&c["counts"]).as_slice(), "{name}: counts");
        assert_eq!(h.edges().len(), c["n_edges"].as_u64().expect("n") as usize, "{name}");
        for s in c["edge_samples"].as_array().expect("samples") {
            let i = s[0].as_u64().expect("i") as usize;
            assert_eq!(h.edges()[i], s[1].as_f64().expect("edge"), "{name}: edge {i}");
        }

        for (key, want) in expected(&c["expected"]) {
            let r = obs.finish_as(&method_of(&key)).expect("finish");
            assert_close(&format!("{name} {key}"), r.amax[0], want);
        }
    }
}

/// When the first batch holds the global max, the two-pass grid is the streaming grid.
#[test]
fn two_pass_matches_when_first_batch_has_the_max() {
    let f = fixtures();
    for c in f["cases"].as_array().expect("cases") {
        if c["batches"].as_array().expect("batches").len() != 1 {
            continue;
        }
        let bins = c["num_bins"].as_u64().expect("bins") as usize;
        let config = ObserverConfig::new(Method::Mse).with_num_bins(bins).collect_all().two_pass();
        let obs = observe_case(c, config);
        for (key, want) in expected(&c["expected"]) {
            let r = obs.finish_as(&method_of(&key)).expect("finish");
            assert_close(&format!("two-pass {key}"), r.amax[0], want);
        }
    }
}

#[test]
fn per_channel_weights_match_calibrate_weights() {
    let f = fixtures();
    let w = &f["per_channel"];
    let shape = usizes(&w["shape"]);
    let axis = w["axis"].as_u64().expect("axis") as usize;
    let data = f32s(&w["data"]);
    let config = ObserverConfig::new(Method::Mse).per_channel(axis).collect_all();
    let mut obs = TensorObserver::new("w", config).expect("config");
    obs.observe(&data, &shape).expect("observe");
    let per_channel = w["expected"].as_array().expect("expected");
    assert_eq!(per_channel.len(), shape[axis]);
    for (key, _) in expected(&per_channel[0]) {
        let r = obs.finish_as(&method_of(&key)).expect("finish");
        assert_eq!(r.axis, Some(axis));
        for (ch, e) in per_channel.iter().enumerate() {
            let want = e[&key].as_f64().expect("amax");
            assert_close(&format!("channel {ch} {key}"), r.amax[ch], want);
        }
    }
}

/// The one deliberate difference from ModelOpt (module doc of `observers::entropy`): where a
/// candidate's KL divergence is NaN, ModelOpt's `np.argmin` picks it; calibr8 never does.
/// See: https://github.com/calibr8/calibr8/issues/9
#[test]
fn entropy_differs_from_modelopt_only_where_modelopt_picks_a_nan() {
    let f = fixtures();
    let c = &f["entropy_nan"];
    let counts = u64s(&c["counts"]);
    let edges = f64s(&c["edges"]);
    let nan_candidates = usizes(&c["nan_candidates"]);
    let modelopt = c["modelopt_entropy"].as_f64().expect("modelopt pick");
    let nan_never_wins = c["modelopt_entropy_nan_never_wins"].as_f64().expect("nan-safe pick");

    // ModelOpt's pick is a candidate whose divergence is NaN: bin 128 of 2048, 1/16 of the range.
    assert_eq!(nan_candidates, [128]);
    assert_eq!(modelopt, edges[128]);
    assert_eq!(modelopt, edges[edges.len() - 1] / 16.0);

    let ours = Histogram::new(counts.clone(), edges.clone()).expect("valid").amax_entropy();
    assert_ne!(f64::from(ours), modelopt, "calibr8 must not pick the NaN candidate");
    // ModelOpt's own code with np.nanargmin in place of np.argmin agrees with calibr8.
    assert_close("entropy, NaN never wins", ours, nan_never_wins);

    // Through an observer, on pixels with exactly this histogram: level k/16 lies on the left
    // edge of bin 128·k, except 1.0, the top edge, which the last bin holds.
    let last = counts.len() - 1;
    let mut data = vec![];
    for (j, &n) in counts.iter().enumerate() {
        let value = if j == last { edges[last + 1] } else { edges[j] };
        data.extend(std::iter::repeat_n(value as f32, n as usize));
    }
    let len = data.len();
    let mut obs = TensorObserver::new("pixels", ObserverConfig::new(Method::Entropy)).expect("ok");
    obs.observe(&data, &[len]).expect("observe");
    let r = obs.finish().expect("finish");
    assert_eq!(obs.histogram(0).expect("histogram").counts(), counts.as_slice());
    assert_eq!(r.amax[0], ours);
}
