//! Property tests: determinism, exact merges, naive cross-checks, error paths, scale math.

use calibr8_calibration::{
    fake_quant, quant_params, quantize_value, Error, Granularity, HistogramMode, Method,
    ObserverConfig, QuantDtype, QuantSpec, Scheme, TensorObserver, TensorRange, DEAD_AMAX,
};
use proptest::prelude::*;

/// Deterministic pseudo-random data (xorshift), so proptest only has to pick small seeds.
fn gen(seed: u64, n: usize, scale: f32, relu: bool) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Sum of two uniforms: a triangular bump with tails, plus occasional outliers.
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            let v = ((s >> 16) & 0xFF_FFFF) as f32 / (1u64 << 24) as f32;
            let mut x = (u + v - 1.0) * scale;
            if s % 997 == 0 {
                x *= 8.0;
            }
            if relu {
                x.max(0.0)
            } else {
                x
            }
        })
        .collect()
}

fn all_methods() -> Vec<Method> {
    Method::all_default()
}

fn histogram_methods() -> Vec<Method> {
    vec![Method::MinMax, Method::Percentile { percentile: 99.9 }, Method::Entropy, Method::Mse]
}

fn run(config: &ObserverConfig, batches: &[(Vec<f32>, Vec<usize>)]) -> TensorObserver {
    let mut obs = TensorObserver::new("t", config.clone()).expect("config");
    for (d, s) in batches {
        obs.observe(d, s).expect("observe");
    }
    if obs.needs_second_pass() {
        obs.start_second_pass().expect("pass 2");
        for (d, s) in batches {
            obs.observe(d, s).expect("observe pass 2");
        }
    }
    obs
}

fn finish_all(obs: &TensorObserver, methods: &[Method]) -> Vec<TensorRange> {
    methods.iter().map(|m| obs.finish_as(m).expect("finish")).collect()
}

fn batches_for(
    seed: u64,
    n_batches: usize,
    shape: &[usize],
    relu: bool,
) -> Vec<(Vec<f32>, Vec<usize>)> {
    let n: usize = shape.iter().product();
    (0..n_batches)
        .map(|b| {
            let scale = 1.0 + (b as f32 * 0.37).sin().abs() * 2.0;
            (gen(seed + b as u64, n, scale, relu), shape.to_vec())
        })
        .collect()
}

fn config_strategy() -> impl Strategy<Value = ObserverConfig> {
    (any::<bool>(), any::<bool>(), 129usize..300).prop_map(|(per_channel, two_pass, bins)| {
        let mut c = ObserverConfig::new(Method::Entropy).with_num_bins(bins).collect_all();
        if per_channel {
            c.granularity = Granularity::PerChannel { axis: 1 };
        }
        if two_pass {
            c.histogram = HistogramMode::TwoPass;
        }
        c
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]

    /// Any rayon thread count gives bit-identical ranges (batches large enough to split).
    #[test]
    fn thread_count_invariance(seed in 0u64..1000, config in config_strategy(), relu: bool) {
        // 3 x 150_000 values: above the parallel thresholds, per tensor and per channel.
        let shape = [30, 5, 1000];
        let batches = batches_for(seed, 3, &shape, relu);
        let mut results = Vec::new();
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            let ranges = pool.install(|| finish_all(&run(&config, &batches), &all_methods()));
            results.push(ranges);
        }
        prop_assert_eq!(&results[0], &results[1]);
        prop_assert_eq!(&results[0], &results[2]);
    }

    /// Two-pass shards that agree on the global max merge to exactly the single-observer result.
    #[test]
    fn two_pass_merge_is_exact(
        seed in 0u64..1000,
        n_batches in 2usize..7,
        n_shards in 2usize..4,
        per_channel: bool,
        relu: bool,
    ) {
        let shape = [4, 3, 50];
        let batches = batches_for(seed, n_batches, &shape, relu);
        let mut config = ObserverConfig::new(Method::Entropy).with_num_bins(200).two_pass();
        if per_channel {
            config.granularity = Granularity::PerChannel { axis: 1 };
        }
        let single = run(&config, &batches);

        let shards: Vec<Vec<_>> = (0..n_shards)
            .map(|k| batches.iter().skip(k).step_by(n_shards).cloned().collect())
            .collect();
        let mut obs: Vec<TensorObserver> = shards
            .iter()
            .map(|s| {
                let mut o = TensorObserver::new("t", config.clone()).expect("config");
                for (d, sh) in s {
                    o.observe(d, sh).expect("observe");
                }
                o
            })
            .collect();
        // A shard without batches reports an empty global max.
        let global = obs.iter().map(|o| o.global_max()).fold(Vec::<f32>::new(), |acc, m| {
            if acc.is_empty() {
                m
            } else if m.is_empty() {
                acc
            } else {
                acc.iter().zip(&m).map(|(a, b)| a.max(*b)).collect()
            }
        });
        for (o, s) in obs.iter_mut().zip(&shards) {
            o.set_global_max(&global).expect("global max");
            prop_assert!(o.needs_second_pass());
            o.start_second_pass().expect("pass 2");
            for (d, sh) in s {
                o.observe(d, sh).expect("observe pass 2");
            }
        }
        let mut merged = obs.remove(0);
        for o in &obs {
            merged.merge(o).expect("merge");
        }
        let methods = histogram_methods();
        prop_assert_eq!(finish_all(&merged, &methods), finish_all(&single, &methods));
        prop_assert_eq!(merged.histogram(0), single.histogram(0));
    }

    /// Per-channel min/max and EMA against a naive implementation.
    #[test]
    fn per_channel_minmax_and_ema_match_naive(
        seed in 0u64..1000,
        outer in 1usize..4,
        channels in 1usize..6,
        inner in 1usize..9,
        axis_first: bool,
        n_batches in 1usize..5,
        decay in 0.5f64..0.999,
    ) {
        // Layout [outer, channels, inner] with the channel axis at 1, or [channels, inner] at 0.
        let (shape, axis) = if axis_first {
            (vec![channels, outer * inner], 0)
        } else {
            (vec![outer, channels, inner], 1)
        };
        let batches = batches_for(seed, n_batches, &shape, false);
        let ema = Method::EmaMinMax { decay };
        let config = ObserverConfig::new(ema.clone()).per_channel(axis).with_num_bins(129);
        let obs = run(&config, &batches);

        let (o, c_n, i_n) = if axis_first { (1, channels, outer * inner) } else { (outer, channels, inner) };
        let mut mn = vec![f32::INFINITY; c_n];
        let mut mx = vec![f32::NEG_INFINITY; c_n];
        let mut e_min: Vec<f32> = Vec::new();
        let mut e_max: Vec<f32> = Vec::new();
        let (d32, omd) = (decay as f32, (1.0 - decay) as f32);
        for (data, _) in &batches {
            let mut bmn = vec![f32::INFINITY; c_n];
            let mut bmx = vec![f32::NEG_INFINITY; c_n];
            for oo in 0..o {
                for c in 0..c_n {
                    for ii in 0..i_n {
                        let x = data[(oo * c_n + c) * i_n + ii];
                        bmn[c] = bmn[c].min(x);
                        bmx[c] = bmx[c].max(x);
                    }
                }
            }
            for c in 0..c_n {
                mn[c] = mn[c].min(bmn[c]);
                mx[c] = mx[c].max(bmx[c]);
            }
            if e_min.is_empty() {
                e_min = bmn;
                e_max = bmx;
            } else {
                for c in 0..c_n {
                    e_min[c] = e_min[c] * d32 + omd * bmn[c];
                    e_max[c] = e_max[c] * d32 + omd * bmx[c];
                }
            }
        }
        let r = obs.finish_as(&Method::MinMax).expect("minmax");
        prop_assert_eq!(&r.min, &mn);
        prop_assert_eq!(&r.max, &mx);
        let amax: Vec<f32> = mn.iter().zip(&mx).map(|(a, b)| a.abs().max(b.abs())).collect();
        prop_assert_eq!(&r.amax, &amax);
        prop_assert_eq!(r.clipped_fraction, 0.0);
        let r = obs.finish().expect("ema");
        prop_assert_eq!(&r.min, &e_min);
        prop_assert_eq!(&r.max, &e_max);
        prop_assert_eq!(r.batches, n_batches as u64);
        prop_assert!(r.clipped_fraction >= 0.0 && r.clipped_fraction <= 1.0);
    }

    /// A NaN or infinity anywhere: an error naming the tensor and index, state unchanged.
    #[test]
    fn non_finite_is_an_error_and_changes_nothing(
        seed in 0u64..1000,
        pos in 0usize..200_000,
        kind in 0usize..3,
        per_channel: bool,
    ) {
        let shape = [4, 50_000];
        let mut config = ObserverConfig::new(Method::Percentile { percentile: 99.0 })
            .with_num_bins(129)
            .collect_all();
        if per_channel {
            config.granularity = Granularity::PerChannel { axis: 0 };
        }
        let mut obs = TensorObserver::new("layer3.relu", config).expect("config");
        obs.observe(&gen(seed, 200_000, 1.0, false), &shape).expect("observe");
        let before = format!("{obs:?}");
        let mut bad = gen(seed + 1, 200_000, 3.0, false);
        bad[pos] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][kind];
        if pos + 7 < bad.len() {
            bad[pos + 7] = f32::NAN;
        }
        match obs.observe(&bad, &shape) {
            Err(e @ Error::NonFinite { .. }) => {
                let Error::NonFinite { ref tensor, index, .. } = e else { unreachable!() };
                prop_assert_eq!(tensor.as_str(), "layer3.relu");
                prop_assert_eq!(index, pos);
                prop_assert!(e.to_string().contains("layer3.relu"));
            }
            other => prop_assert!(false, "expected NonFinite, got {:?}", other),
        }
        prop_assert_eq!(format!("{obs:?}"), before);
    }

    /// Scale math: codes in range, fake-quant error within half a step, re-quantization stable.
    #[test]
    fn quant_params_round_trip(
        lo in -100.0f32..0.0,
        hi in 0.0f32..100.0,
        dtype_u8: bool,
        affine: bool,
        narrow: bool,
        reduce: bool,
        t in proptest::collection::vec(0.0f32..=1.0, 1..50),
    ) {
        let spec = QuantSpec {
            dtype: if dtype_u8 { QuantDtype::Uint8 } else { QuantDtype::Int8 },
            scheme: if affine { Scheme::Affine } else { Scheme::Symmetric },
            narrow_range: narrow,
            reduce_range: reduce,
        };
        let range = TensorRange::per_tensor("t", Method::MinMax, lo, hi);
        let p = quant_params(&range, &spec);
        let (s, z) = (p.scale[0], p.zero_point[0]);
        let (qmin, qmax) = (spec.qmin(), spec.qmax());
        prop_assert!(s.is_finite() && s > 0.0);
        prop_assert!((qmin..=qmax).contains(&z));
        let amax = lo.abs().max(hi);
        let span = hi - lo.min(0.0);
        let dead = if affine { span <= DEAD_AMAX } else { amax <= DEAD_AMAX };
        if dead {
            prop_assert_eq!((s, z), (1.0, 0));
            return Ok(());
        }
        // Representable interval of this spec.
        let (rlo, rhi) = if affine || dtype_u8 {
            (lo, hi)
        } else {
            (-amax, amax)
        };
        for &u in &t {
            let x = rlo + (rhi - rlo) * u;
            let q = quantize_value(x, s, z, qmin, qmax);
            prop_assert!((qmin..=qmax).contains(&q));
            let y = fake_quant(x, s, z, qmin, qmax);
            prop_assert!((x - y).abs() <= s * 0.5 * (1.0 + 1e-3) + 1e-6 * x.abs(),
                "x {} y {} scale {}", x, y, s);
            prop_assert_eq!(quantize_value(y, s, z, qmin, qmax), q);
        }
    }
}

#[test]
fn dead_channels_get_scale_one() {
    // Channel 1 is all zeros, channel 2 tiny (below 2^-24), channel 0 normal.
    let mut data = vec![0f32; 3 * 64];
    for i in 0..64 {
        data[i] = (i as f32 - 32.0) / 10.0;
        data[128 + i] = (i as f32 - 32.0) * 1e-10;
    }
    for method in all_methods() {
        let config = ObserverConfig::new(method.clone()).per_channel(0).with_num_bins(129);
        let mut obs = TensorObserver::new("dw.weight", config).expect("config");
        obs.observe(&data, &[3, 64]).expect("observe");
        let r = obs.finish().expect("finish");
        assert_eq!(r.amax[1], 0.0, "{method}");
        for spec in [QuantSpec::TENSORRT_WEIGHT, QuantSpec::TENSORRT_ACTIVATION] {
            let p = quant_params(&r, &spec);
            assert_eq!((p.scale[1], p.zero_point[1]), (1.0, 0), "{method}");
            assert_eq!((p.scale[2], p.zero_point[2]), (1.0, 0), "{method}");
            assert!(p.scale[0] > 0.0 && p.scale[0] < 1.0, "{method}");
            assert!(p.scale.iter().all(|s| s.is_finite() && *s > 0.0));
        }
    }
}

#[test]
fn all_zero_first_batch_waits_for_the_grid() {
    let config = ObserverConfig::new(Method::Entropy).with_num_bins(129).collect_all();
    let mut obs = TensorObserver::new("t", config).expect("config");
    obs.observe(&[0.0; 100], &[100]).expect("zeros");
    assert_eq!(obs.finish().expect("finish").amax, vec![0.0]);
    obs.observe(&gen(1, 1000, 1.0, false), &[1000]).expect("data");
    let h = obs.histogram(0).expect("grid");
    assert_eq!(h.total(), 1100);
    assert!(h.counts()[0] >= 100);
    assert!(obs.finish().expect("finish").amax[0] > 0.0);
}

#[test]
fn streaming_grids_and_ema_refuse_to_merge() {
    let config = ObserverConfig::new(Method::Percentile { percentile: 99.0 }).with_num_bins(129);
    let mut a = TensorObserver::new("t", config.clone()).expect("config");
    let mut b = TensorObserver::new("t", config).expect("config");
    a.observe(&gen(1, 500, 1.0, false), &[500]).expect("a");
    b.observe(&gen(2, 500, 2.0, false), &[500]).expect("b");
    let err = a.merge(&b).expect_err("different grids");
    assert!(matches!(err, Error::Unmergeable { ref tensor, .. } if tensor == "t"));
    assert!(err.to_string().contains("TwoPass"), "{err}");

    let ema = ObserverConfig::new(Method::EmaMinMax { decay: 0.9 });
    let mut a = TensorObserver::new("t", ema.clone()).expect("config");
    let mut b = TensorObserver::new("t", ema).expect("config");
    a.observe(&[1.0], &[1]).expect("a");
    b.observe(&[2.0], &[1]).expect("b");
    assert!(matches!(a.merge(&b), Err(Error::Unmergeable { .. })));

    // collect_all: the merge succeeds and the EMA is gone.
    let all = ObserverConfig::new(Method::MinMax).collect_all().two_pass().with_num_bins(129);
    let mut a = TensorObserver::new("t", all.clone()).expect("config");
    let mut b = TensorObserver::new("t", all).expect("config");
    a.observe(&[1.0, -3.0], &[2]).expect("a");
    b.observe(&[2.0], &[1]).expect("b");
    a.merge(&b).expect("merge pass 1");
    assert_eq!(a.finish().expect("minmax").amax, vec![3.0]);
    assert!(matches!(
        a.finish_as(&Method::EmaMinMax { decay: 0.99 }),
        Err(Error::NotCollected { .. })
    ));
    assert!(matches!(a.finish_as(&Method::Entropy), Err(Error::SecondPassPending { .. })));
}

#[test]
fn shape_axis_and_config_errors() {
    let mut obs =
        TensorObserver::new("x", ObserverConfig::new(Method::MinMax).per_channel(2)).expect("c");
    assert!(matches!(
        obs.observe(&[1.0; 6], &[2, 3]),
        Err(Error::BadAxis { axis: 2, rank: 2, .. })
    ));
    assert!(matches!(obs.observe(&[1.0; 5], &[2, 3]), Err(Error::ShapeMismatch { .. })));
    obs.observe(&[1.0; 8], &[1, 2, 4]).expect("ok");
    assert!(matches!(
        obs.observe(&[1.0; 6], &[1, 2, 3]),
        Err(Error::ChannelMismatch { expected: 4, found: 3, .. })
    ));
    assert!(matches!(obs.finish_as(&Method::Entropy), Err(Error::NotCollected { .. })));
    let bad = ObserverConfig::new(Method::Percentile { percentile: 100.5 });
    let err = TensorObserver::new("x", bad).expect_err("percentile");
    assert!(matches!(err, Error::InvalidConfig { option: "percentile", .. }));
    assert!(err.to_string().contains('x'));
    let empty = TensorObserver::new("x", ObserverConfig::default()).expect("c");
    assert!(matches!(empty.finish(), Err(Error::NoData { .. })));
}

#[test]
fn ranges_serialize() {
    let r = TensorRange::per_tensor("t", Method::Percentile { percentile: 99.9 }, -1.0, 2.0);
    let json = serde_json::to_string(&r).expect("json");
    let back: TensorRange = serde_json::from_str(&json).expect("back");
    assert_eq!(back, r);
    let p = quant_params(&r, &QuantSpec::TENSORRT_WEIGHT);
    let back: calibr8_calibration::QuantParams =
        serde_json::from_str(&serde_json::to_string(&p).expect("json")).expect("back");
    assert_eq!(back, p);
}
