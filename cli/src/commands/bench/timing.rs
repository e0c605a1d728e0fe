//! Seeded random inputs and the timing loop (warm-up, then median / min / max).

use calibr8::{Engine, OnnxModel};
use ndarray::ArrayD;
use std::time::Instant;

/// Latency statistics of one engine at one batch size, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Samples per second at the median latency.
    pub throughput: f64,
}

/// Per batch size, the shape of every model input with its batch axis set; an input with another
/// dynamic axis, or a fixed batch that differs, is an error naming it.
pub fn input_shapes(model: &OnnxModel, batches: &[usize]) -> anyhow::Result<Vec<Vec<Vec<usize>>>> {
    let inputs = model.inputs();
    if inputs.is_empty() {
        anyhow::bail!("{} has no inputs to feed", model.origin);
    }
    batches
        .iter()
        .map(|&batch| {
            inputs
                .iter()
                .map(|input| {
                    let mut shape = Vec::with_capacity(input.dims.len());
                    for (axis, dim) in input.dims.iter().enumerate() {
                        shape.push(match (axis, dim) {
                            (0, Some(fixed)) if *fixed != batch => anyhow::bail!(
                                "--batch {batch}: input '{}' of {} has a fixed batch of {fixed}",
                                input.name,
                                model.origin
                            ),
                            (0, _) => batch,
                            (_, Some(d)) => *d,
                            (_, None) => anyhow::bail!(
                                "input '{}' of {} has a dynamic axis {axis}; bench needs every \
                                 axis but the batch fixed (re-export with a static shape)",
                                input.name,
                                model.origin
                            ),
                        });
                    }
                    if shape.is_empty() {
                        anyhow::bail!(
                            "input '{}' of {} is a scalar; bench needs a batch axis",
                            input.name,
                            model.origin
                        );
                    }
                    Ok(shape)
                })
                .collect()
        })
        .collect()
}

/// Uniform values in [-1, 1) from SplitMix64, seeded per input: the same seed gives the same
/// inputs on every machine and for every engine.
pub fn random_inputs(shapes: &[Vec<usize>], seed: u64) -> Vec<ArrayD<f32>> {
    shapes
        .iter()
        .enumerate()
        .map(|(ix, shape)| {
            let mut state = seed ^ (ix as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            ArrayD::from_shape_simple_fn(shape.clone(), || {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
        })
        .collect()
}

/// Runs `warmup` untimed then `runs` timed batches; input copies are made outside the clock.
/// `progress(done)` follows warm-up and timed runs together.
pub fn time(
    engine: &mut dyn Engine,
    inputs: &[ArrayD<f32>],
    warmup: usize,
    runs: usize,
    progress: &mut dyn FnMut(usize),
) -> calibr8::Result<Stats> {
    for ix in 0..warmup {
        engine.run_f32(inputs.to_vec())?;
        progress(ix + 1);
    }
    let mut ms = Vec::with_capacity(runs);
    for ix in 0..runs {
        let batch = inputs.to_vec();
        let started = Instant::now();
        let out = engine.run_f32(batch)?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        drop(out);
        progress(warmup + ix + 1);
    }
    let samples = inputs.first().map(|a| a.shape()[0]).unwrap_or(1) as f64;
    Ok(stats(&mut ms, samples))
}

/// Median (mean of the middle two for an even count), min, max and throughput of `ms`.
pub fn stats(ms: &mut [f64], samples: f64) -> Stats {
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let median = if n % 2 == 1 { ms[n / 2] } else { 0.5 * (ms[n / 2 - 1] + ms[n / 2]) };
    Stats {
        median_ms: median,
        min_ms: ms[0],
        max_ms: ms[n - 1],
        throughput: samples / (median / 1e3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_order_statistics() {
        let s = stats(&mut [4.0, 1.0, 3.0, 2.0], 32.0);
        assert_eq!((s.median_ms, s.min_ms, s.max_ms), (2.5, 1.0, 4.0));
        assert!((s.throughput - 32.0 / 0.0025).abs() < 1e-6);
        assert_eq!(stats(&mut [5.0, 1.0, 3.0], 1.0).median_ms, 3.0);
    }

    #[test]
    fn random_inputs_are_seeded_and_in_range() {
        let shapes = vec![vec![2, 3], vec![4]];
        let a = random_inputs(&shapes, 7);
        assert_eq!(a, random_inputs(&shapes, 7));
        assert_ne!(a, random_inputs(&shapes, 8));
        assert_ne!(a[0].as_slice().unwrap()[..3], a[1].as_slice().unwrap()[..3]);
        assert!(a.iter().flatten().all(|v| (-1.0..1.0).contains(v)));
        let mean = random_inputs(&[vec![10_000]], 1)[0].mean().unwrap();
        assert!(mean.abs() < 0.05, "mean {mean}");
    }
}
