//! Entropy (KL-divergence) observer, TensorRT's EntropyCalibration2.
//!
//! Reference: ModelOpt `modelopt/torch/quantization/calib/histogram.py`,
//! `_compute_amax_entropy(calib_hist, calib_bin_edges, num_bits=8, unsigned=False, stride=1,
//! start_bin=128)`, reproduced operation for operation so the argmin agrees:
//!
//! * `bins[0] := bins[1]` (the spike of exact zeros is ignored);
//! * for `i = 128 ..= N`: P is `bins[..i]` with all outlier mass `sum(bins[i..])` added to bin
//!   `i - 1`; Q merges `bins[..i]` into 128 groups (bin `j` → group `⌊128·j / i⌋`, which is
//!   exactly `np.digitize(range(i), np.linspace(0, i, 129)) - 1`), spreading each group's sum
//!   evenly over its non-empty bins;
//! * `D_i = scipy.stats.entropy(P, Q)`: both normalised by their `np.sum`, then
//!   `Σ rel_entr(p, q)` with `rel_entr = p·ln(p/q)`, 0 for `p = 0`, ∞ for `p > 0, q = 0`; sums use
//!   numpy's pairwise summation;
//! * amax = `edges[i*]` for the LAST `i*` attaining the minimum.
//!
//! # The one deliberate difference: NaN never wins
//!
//! When every bin below candidate `i` is empty (after `bins[0] := bins[1]`), Q is all zeros,
//! normalising it divides 0 by 0, and ModelOpt's `D_i` is NaN. `np.argmin` returns the index of
//! a NaN, so ModelOpt picks that candidate. Inputs with few discrete levels hit this: raw 4-bit
//! digit pixels (17 levels `k/16`) put level 1/16 in bin 128 of 2048 and leave bins 1..=127
//! empty, so ModelOpt picks `i = 128` and clips the tensor to 1/16 of its range. Here a NaN
//! divergence never wins (the comparison `d <= best` is false for NaN): the same histogram keeps
//! its full range. On every histogram without NaN divergences the pick is ModelOpt's, bin for
//! bin. `tests/data/make_fixtures.py` records ModelOpt's NaN pick (`entropy_nan` in the
//! fixtures) and `tests/reference.rs` checks both behaviours.
//!
//! ```
//! use calibr8_calibration::{Method, ObserverConfig, TensorObserver};
//! let mut obs = TensorObserver::new("x", ObserverConfig::new(Method::Entropy))?;
//! // A Laplace-like batch: entropy clips the long tail.
//! let data: Vec<f32> = (1..20_000).map(|i| -(i as f32 / 20_000.0).ln()).collect();
//! obs.observe(&data, &[data.len()])?;
//! let r = obs.finish()?;
//! let max = data.iter().cloned().fold(0.0f32, f32::max);
//! assert!(r.amax[0] > 0.0 && r.amax[0] < max);
//! # Ok::<(), calibr8_calibration::Error>(())
//! ```

use super::histogram::np_sum_f64;
use rayon::prelude::*;

/// Number of quantized magnitude levels for int8 (`1 << (num_bits - 1)`).
const NBINS_Q: usize = 128;
/// First candidate bin (`start_bin`).
const START_BIN: usize = 128;

/// amax minimising KL(P‖Q) over `i = 128 ..= N`; `edges.len() == counts.len() + 1`.
/// Histograms with fewer than 128 bins, or no counts, give 0.
pub fn amax(counts: &[u64], edges: &[f64]) -> f32 {
    let n = counts.len();
    if n < START_BIN || edges.len() != n + 1 {
        return 0.0;
    }
    let mut bins = counts.to_vec();
    bins[0] = bins[1];
    // A histogram without counts gives NaN divergences for every i; then the loop below keeps
    // i = N, which is also what np.argmin picks over all-NaN values.
    let total: u64 = bins.iter().sum();
    // Suffix sums give the outlier mass of every i in O(1).
    let mut outliers = vec![0u64; n + 1];
    for j in (0..n).rev() {
        outliers[j] = outliers[j + 1] + bins[j];
    }

    // Every candidate's divergence on its own (in parallel), then the argmin in order: the
    // values, and so the pick, are those of the sequential loop whatever the thread count.
    // P of bin j < i - 1 is bins[j] / total for every i: computed once.
    let p_sum = total as f64;
    let p_base: Vec<f64> = bins.iter().map(|&b| b as f64 / p_sum).collect();
    let candidates: Vec<usize> = (START_BIN..=n).collect();
    let divergences: Vec<f64> = candidates
        .par_chunks(64)
        .flat_map_iter(|chunk| {
            let mut scratch = Scratch::new(n);
            chunk
                .iter()
                .map(|&i| scratch.divergence(&bins, &p_base, outliers[i], p_sum, i))
                .collect::<Vec<f64>>()
        })
        .collect();
    let mut best = f64::INFINITY;
    let mut best_i = n; // all-∞ divergences pick the last candidate, as the reference does
    for (&i, &d) in candidates.iter().zip(&divergences) {
        // LAST argmin: ties go to the later i (`<=`). NaN never wins, unlike np.argmin (see the
        // module doc).
        if d <= best {
            best = d;
            best_i = i;
        }
    }
    edges[best_i] as f32
}

/// Per-task buffers for [`Scratch::divergence`].
struct Scratch {
    q: Vec<f64>,
    vec: Vec<f64>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch { q: vec![0.0; n], vec: vec![0.0; n] }
    }

    /// `D_i`, operation for operation as the reference computes it; only values that are the
    /// same for many bins (P of bin j < i - 1, a group's mean and its normalised value, the
    /// term of a bin whose count equals its neighbour's in the same group) are computed once
    /// and reused, which gives the identical f64s.
    fn divergence(
        &mut self,
        bins: &[u64],
        p_base: &[f64],
        outliers_i: u64,
        p_sum: f64,
        i: usize,
    ) -> f64 {
        let (q, vec) = (&mut self.q[..i], &mut self.vec[..i]);
        // Bin j is in group ⌊128·j / i⌋: group g is bins [⌈g·i/128⌉, ⌈(g+1)·i/128⌉).
        let bounds = |g: usize| (g * i).div_ceil(NBINS_Q)..((g + 1) * i).div_ceil(NBINS_Q);
        // Q of a non-empty bin is its group's mean.
        let mut mean = [0f64; NBINS_Q];
        for (g, m) in mean.iter_mut().enumerate() {
            let range = bounds(g);
            let (mut sum, mut nnz) = (0u64, 0u64);
            for &b in &bins[range.clone()] {
                sum += b;
                nnz += u64::from(b != 0);
            }
            if nnz != 0 {
                *m = sum as f64 / nnz as f64;
            }
            for (qj, &b) in q[range.clone()].iter_mut().zip(&bins[range]) {
                *qj = if b != 0 { *m } else { 0.0 };
            }
        }
        let q_sum = np_sum_f64(q);
        let q_zero = 0.0 / q_sum;
        for (g, &m) in mean.iter().enumerate() {
            let range = bounds(g);
            let q_norm = m / q_sum;
            // (count, term) of the previous non-empty bin of the group.
            let mut prev = (0u64, 0f64);
            for j in range {
                let b = bins[j];
                vec[j] = if b == 0 {
                    rel_entr(p_base[j], q_zero)
                } else if b == prev.0 {
                    prev.1
                } else {
                    let term = rel_entr(p_base[j], q_norm);
                    prev = (b, term);
                    term
                };
            }
        }
        // The last bin also holds the outlier mass.
        let last = i - 1;
        let p = (bins[last] + outliers_i) as f64 / p_sum;
        vec[last] = rel_entr(p, q[last] / q_sum);
        np_sum_f64(vec)
    }
}

/// `scipy.special.rel_entr`.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observers::test_histograms::{edges, random};

    #[test]
    fn uniform_histogram_keeps_full_range() {
        // Flat data: every i < N clips mass into one bin; i = N is lossless.
        let counts = vec![100u64; 512];
        assert_eq!(amax(&counts, &edges(512)), 1.0);
    }

    #[test]
    fn few_levels_prefer_last_zero_divergence() {
        // 128 bins with mass only in the first 128 and nothing after: D = 0 for every i ≥ 128,
        // the LAST argmin is i = N.
        let mut counts = vec![0u64; 300];
        for c in counts.iter_mut().take(128) {
            *c = 7;
        }
        assert_eq!(amax(&counts, &edges(300)), 1.0);
    }

    #[test]
    fn long_tail_is_clipped() {
        let n = 2048;
        let counts: Vec<u64> =
            (0..n).map(|j| (1e6 * (-(j as f64) / 40.0).exp()).round() as u64 + 1).collect();
        let a = amax(&counts, &edges(n));
        assert!(a > 0.0 && a < 1.0, "{a}");
    }

    /// The straightforward sequential loop `amax` was derived from; they must agree exactly.
    fn amax_sequential(counts: &[u64], edges: &[f64]) -> f32 {
        let n = counts.len();
        if n < START_BIN || edges.len() != n + 1 {
            return 0.0;
        }
        let mut bins = counts.to_vec();
        bins[0] = bins[1];
        // A histogram without counts gives NaN divergences; like np.argmin over them the loop
        // below then keeps i = N.
        let total: u64 = bins.iter().sum();
        // Suffix sums give the outlier mass of every i in O(1).
        let mut outliers = vec![0u64; n + 1];
        for j in (0..n).rev() {
            outliers[j] = outliers[j + 1] + bins[j];
        }

        let mut group_sum = [0u64; NBINS_Q];
        let mut group_nnz = [0u64; NBINS_Q];
        let mut group = vec![0u8; n];
        let mut q = vec![0f64; n];
        let mut vec = vec![0f64; n];
        let mut best = f64::INFINITY;
        let mut best_i = n; // all-∞ divergences pick the last candidate, as the reference does
        for i in START_BIN..=n {
            group_sum.fill(0);
            group_nnz.fill(0);
            // group[j] = ⌊128·j / i⌋, stepped without division.
            let mut g = 0usize;
            for (j, &b) in bins[..i].iter().enumerate() {
                while (g + 1) * i <= j * NBINS_Q {
                    g += 1;
                }
                group[j] = g as u8;
                if b != 0 {
                    group_sum[g] += b;
                    group_nnz[g] += 1;
                }
            }
            for j in 0..i {
                q[j] = if bins[j] != 0 {
                    let g = usize::from(group[j]);
                    group_sum[g] as f64 / group_nnz[g] as f64
                } else {
                    0.0
                };
            }
            let q_sum = np_sum_f64(&q[..i]);
            // P's sum is the total count (integers below 2^53: np.sum is exact).
            let p_sum = total as f64;
            for j in 0..i {
                let p_count = if j == i - 1 { bins[j] + outliers[i] } else { bins[j] };
                let p = p_count as f64 / p_sum;
                let qq = q[j] / q_sum;
                vec[j] = rel_entr(p, qq);
            }
            let d = np_sum_f64(&vec[..i]);
            // LAST argmin: ties go to the later i (`<=`); NaN never wins.
            if d <= best {
                best = d;
                best_i = i;
            }
        }
        edges[best_i] as f32
    }

    #[test]
    fn parallel_matches_sequential_loop() {
        for (case, counts) in random(0x2545_f491_4f6c_dd1du64, [128, 129, 200, 517, 2048, 3001]) {
            let n = counts.len();
            let e = edges(n);
            assert_eq!(
                amax(&counts, &e).to_bits(),
                amax_sequential(&counts, &e).to_bits(),
                "{case}"
            );
        }
        assert_eq!(amax(&[0; 300], &edges(300)), amax_sequential(&[0; 300], &edges(300)));
    }

    #[test]
    fn empty_and_short() {
        assert_eq!(amax(&[0; 200], &edges(200)), 1.0);
        assert_eq!(amax(&[1; 100], &edges(100)), 0.0);
    }
}
