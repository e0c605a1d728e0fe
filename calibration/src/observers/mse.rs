//! MSE observer.
//!
//! Reference: ModelOpt `modelopt/torch/quantization/calib/histogram.py`, `_compute_amax_mse(
//! calib_hist, calib_bin_edges, num_bits=8, unsigned=False, stride=1, start_bin=128)` with its
//! CPU `fake_tensor_quant` (`tensor_quant._tensor_quant`, narrow range), reproduced in float32
//! operation for operation so the argmin agrees:
//!
//! * counts and edges as f32, centres `c_j = (e_{j+1} + e_j) / 2`;
//! * for `i = 128 .. N-1`: `amax = c_i`, `scale = 127 / amax` (amax ≤ 2^-24: everything
//!   quantizes to 0), `q_j = clamp(round_half_even(c_j · scale), -127, 127) / scale`,
//!   `E_i = mean_j (q_j − c_j)² · h_j` (the f32 sum in numpy's pairwise order, then `/ N`);
//! * amax = `c_i*` for the FIRST argmin.
//!
//! ```
//! use calibr8_calibration::{Method, ObserverConfig, TensorObserver};
//! let mut obs = TensorObserver::new("x", ObserverConfig::new(Method::Mse))?;
//! let data: Vec<f32> = (1..20_000).map(|i| -(i as f32 / 20_000.0).ln()).collect();
//! obs.observe(&data, &[data.len()])?;
//! let r = obs.finish()?;
//! assert!(r.amax[0] > 0.0 && r.amax[0] < 9.9);
//! # Ok::<(), calibr8_calibration::Error>(())
//! ```

use super::histogram::np_sum_f32;
use rayon::prelude::*;

const START_BIN: usize = 128;
/// ModelOpt's `epsilon = 1.0 / (1 << 24)`.
const EPSILON: f32 = 5.960_464_5e-8;

/// amax minimising the histogram-weighted fake-quant MSE over the bin centres `128 .. N-1`;
/// `edges.len() == counts.len() + 1`. Histograms with at most 128 bins give 0.
pub fn amax(counts: &[u64], edges: &[f64]) -> f32 {
    let n = counts.len();
    if n <= START_BIN || edges.len() != n + 1 {
        return 0.0;
    }
    let e: Vec<f32> = edges.iter().map(|&x| x as f32).collect();
    let h: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
    let centers: Vec<f32> = e.windows(2).map(|w| (w[1] + w[0]) / 2.0).collect();
    // Every candidate's error on its own (in parallel), then the argmin in order: the values,
    // and so the pick, are those of a sequential loop whatever the thread count.
    let candidates: Vec<usize> = (START_BIN..n).collect();
    let errors: Vec<f32> = candidates
        .par_chunks(64)
        .flat_map_iter(|chunk| {
            let mut err = vec![0f32; n];
            chunk.iter().map(|&i| error(&centers, &h, centers[i], n, &mut err)).collect::<Vec<_>>()
        })
        .collect();
    let mut best = f32::INFINITY;
    let mut best_i = START_BIN;
    for (&i, &mse) in candidates.iter().zip(&errors) {
        // np.argmin: the first minimum; a NaN is the minimum from where it first occurs.
        if i == START_BIN || (!best.is_nan() && (mse.is_nan() || mse < best)) {
            best = mse;
            best_i = i;
        }
    }
    centers[best_i]
}

/// `E_i` for amax `a`: `err` is scratch of `centers.len()` values.
fn error(centers: &[f32], h: &[f32], a: f32, n: usize, err: &mut [f32]) -> f32 {
    // `_tensor_quant`: scale 0 (all codes 0), then divide by 1.
    let (scale, unscale) = if a <= EPSILON { (0.0, 1.0) } else { (127.0 / a, 127.0 / a) };
    for ((out, &c), &w) in err.iter_mut().zip(centers).zip(h) {
        let q = round_ties_even(c * scale).clamp(-127.0, 127.0) / unscale;
        let d = q - c;
        *out = d * d * w;
    }
    np_sum_f32(err) / n as f32
}

/// `f32::round_ties_even` without a libm call where it is exact by construction: for
/// `0 < x < 2^23`, `x + 2^23` has unit spacing, so the (round-to-nearest-even) addition rounds
/// `x` to an integer, ties to even (`2^23 + k` is even exactly when `k` is); the subtraction is
/// exact. Zeros (keeping their sign), negatives, larger values and NaN take the library path.
#[inline(always)]
fn round_ties_even(x: f32) -> f32 {
    const TWO_23: f32 = 8_388_608.0;
    if x > 0.0 && x < TWO_23 {
        (x + TWO_23) - TWO_23
    } else {
        x.round_ties_even()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observers::test_histograms::{edges, random};

    /// The straightforward sequential loop `amax` was derived from; they must agree exactly.
    fn amax_sequential(counts: &[u64], edges: &[f64]) -> f32 {
        let n = counts.len();
        if n <= START_BIN || edges.len() != n + 1 {
            return 0.0;
        }
        let e: Vec<f32> = edges.iter().map(|&x| x as f32).collect();
        let h: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
        let centers: Vec<f32> = e.windows(2).map(|w| (w[1] + w[0]) / 2.0).collect();
        let mut err = vec![0f32; n];
        let mut best = f32::INFINITY;
        let mut best_i = START_BIN;
        for i in START_BIN..n {
            let a = centers[i];
            // `_tensor_quant`: scale 0 (all codes 0), then divide by 1.
            let (scale, unscale) = if a <= EPSILON { (0.0, 1.0) } else { (127.0 / a, 127.0 / a) };
            for ((out, &c), &w) in err.iter_mut().zip(&centers).zip(&h) {
                let q = (c * scale).round_ties_even().clamp(-127.0, 127.0) / unscale;
                let d = q - c;
                *out = d * d * w;
            }
            let mse = np_sum_f32(&err) / n as f32;
            // np.argmin: the first minimum; a NaN is the minimum from where it first occurs.
            if i == START_BIN || (!best.is_nan() && (mse.is_nan() || mse < best)) {
                best = mse;
                best_i = i;
            }
        }
        centers[best_i]
    }

    #[test]
    fn parallel_matches_sequential_loop() {
        for (case, counts) in random(0x9e37_79b9_7f4a_7c15u64, [129, 200, 517, 2048, 3001, 4096]) {
            let n = counts.len();
            let top = [1.0, 1e-3, 37.5, 1e-7, 3.0e4, 0.1][case % 6];
            let e: Vec<f64> = edges(n).iter().map(|x| x * top).collect();
            assert_eq!(
                amax(&counts, &e).to_bits(),
                amax_sequential(&counts, &e).to_bits(),
                "{case}"
            );
        }
    }

    #[test]
    fn rounding_matches_library() {
        let mut x = 0.0f32;
        while x < 300.0 {
            for v in [x, x + 0.5, x - 0.5, -x, x * 1e5] {
                assert_eq!(round_ties_even(v).to_bits(), v.round_ties_even().to_bits(), "{v}");
            }
            x += 0.0625;
        }
        for v in [8_388_607.5f32, 8_388_608.0, 1e30, f32::NAN, f32::INFINITY, -0.0, 0.49999997] {
            assert_eq!(round_ties_even(v).to_bits(), v.round_ties_even().to_bits(), "{v}");
        }
    }

    #[test]
    fn mass_in_first_bins_picks_first_candidate() {
        let mut counts = vec![0u64; 512];
        counts[3] = 1000;
        // Every candidate quantizes centre 3 with the same order of error; the first wins ties.
        let a = amax(&counts, &edges(512));
        assert!((128.0 / 512.0..1.0).contains(&a));
    }

    #[test]
    fn flat_histogram_keeps_nearly_everything() {
        let counts = vec![10u64; 1024];
        let a = amax(&counts, &edges(1024));
        assert!(a > 0.9, "{a}");
    }

    #[test]
    fn too_few_bins() {
        assert_eq!(amax(&[1; 128], &edges(128)), 0.0);
    }
}
