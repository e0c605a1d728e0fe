//! The |x| histogram shared by the percentile, entropy and MSE observers (and EMA's clipped
//! fraction).
//!
//! Reference: ModelOpt `HistogramCalibrator.collect` (numpy branch), with the range `[0, max|x|]`
//! of its torch branch and of `calibrate_weights`:
//!
//! * The first batch with a non-zero max|x| = `m` fixes the grid exactly as
//!   `np.histogram(|x|, bins=N, range=(0, m))` does for float32 data: edge `k` is the f32 product
//!   `(k as f32) * (m / N as f32)`, and the last edge is `m` itself.
//! * A later batch whose max exceeds the last edge appends whole bins of width `w = edge[1]`,
//!   with the exact arithmetic of ModelOpt's `np.arange(edges[-1] + w, max + w, w)` (float32
//!   operands while the grid is the original one, float64 after it has grown once). Where that
//!   `arange` stops short of the batch max (it does in a few percent of cases, and ModelOpt then
//!   silently drops the largest values) we append further bins of the same sequence until the
//!   max is covered: the one deliberate deviation.
//! * A value `v` lands in the bin `k` with `edge[k] <= v < edge[k + 1]` (the last bin also holds
//!   `v == edge[N]`), the semantics of `np.histogram`; a reciprocal gives the guess and a
//!   comparison with the stored edges corrects it, so assignment never disagrees with the edges.
//! * Zeros seen before any non-zero value (an all-zero first batch, where ModelOpt would divide
//!   by a zero bin width) are counted aside and put into bin 0 when the grid appears. A channel
//!   that only ever saw zeros has no grid and amax 0 for every histogram method (then the dead
//!   rule of [`quant_params`] applies).

use crate::internal::*;

/// A fixed |x| histogram: `counts.len()` bins and `counts.len() + 1` ascending edges starting at
/// 0. The input of the percentile / entropy / MSE computations, exposed so that histograms from
/// elsewhere (a report, a test fixture) can be evaluated.
///
/// ```
/// use calibr8_calibration::Histogram;
/// let edges: Vec<f64> = (0..=256).map(|k| k as f64 / 256.0).collect();
/// let counts = vec![10u64; 256];
/// let h = Histogram::new(counts, edges)?;
/// // The CDF reaches 50% at the end of bin 127; amax is that bin's left edge.
/// assert_eq!(h.amax_percentile(50.0), 127.0 / 256.0);
/// assert!(h.amax_entropy() > 0.0 && h.amax_mse() > 0.0);
/// # Ok::<(), calibr8_calibration::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    counts: Vec<u64>,
    edges: Vec<f64>,
}

impl Histogram {
    /// Checks that there are at least [`MIN_NUM_BINS`] bins, one more edge than bins, and that the
    /// edges are finite, non-negative and non-decreasing.
    pub fn new(counts: Vec<u64>, edges: Vec<f64>) -> Result<Self, Error> {
        let bad = |message: String| Err(Error::InvalidHistogram { message });
        if counts.len() < MIN_NUM_BINS {
            return bad(format!(
                "{} bins; entropy and MSE need at least {MIN_NUM_BINS}: collect with more bins",
                counts.len()
            ));
        }
        if edges.len() != counts.len() + 1 {
            return bad(format!(
                "{} edges for {} bins; pass one edge more than bins (np.histogram's layout)",
                edges.len(),
                counts.len()
            ));
        }
        if edges.iter().any(|e| !e.is_finite() || *e < 0.0) || edges.windows(2).any(|w| w[1] < w[0])
        {
            return bad("edges must be finite, non-negative and ascending; pass the edges of an \
                        |x| histogram"
                .into());
        }
        Ok(Histogram { counts, edges })
    }

    pub(crate) fn from_parts_unchecked(counts: Vec<u64>, edges: Vec<f64>) -> Self {
        Histogram { counts, edges }
    }

    /// Bin counts.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Bin edges (`counts().len() + 1` of them).
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// Total count.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// [`percentile::amax`](crate::observers::percentile::amax) of this histogram.
    pub fn amax_percentile(&self, percentile: f64) -> f32 {
        crate::observers::percentile::amax(&self.counts, &self.edges, percentile)
    }

    /// [`entropy::amax`](crate::observers::entropy::amax) of this histogram.
    pub fn amax_entropy(&self) -> f32 {
        crate::observers::entropy::amax(&self.counts, &self.edges)
    }

    /// [`mse::amax`](crate::observers::mse::amax) of this histogram.
    pub fn amax_mse(&self) -> f32 {
        crate::observers::mse::amax(&self.counts, &self.edges)
    }

    /// Count of the bins whose left edge is at or above `amax`: the values a range of `amax`
    /// clips, at bin resolution.
    pub fn mass_at_or_above(&self, amax: f32) -> u64 {
        mass_at_or_above(&self.counts, &self.edges, amax)
    }
}

pub(crate) fn mass_at_or_above(counts: &[u64], edges: &[f64], amax: f32) -> u64 {
    let a = f64::from(amax);
    let first = edges[..counts.len()].partition_point(|e| *e < a);
    counts[first..].iter().sum()
}

/// Edges of a fresh grid over `[0, m]`, exactly as `np.histogram(x_f32, bins=n, range=(0, m))`.
pub(crate) fn uniform_edges(num_bins: usize, m: f32) -> Vec<f64> {
    let step = m / num_bins as f32;
    let mut edges: Vec<f64> = (0..num_bins).map(|k| f64::from(k as f32 * step)).collect();
    edges.push(f64::from(m));
    edges
}

/// The histogram of one channel.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChannelHist {
    /// Empty while no non-zero value has been seen.
    pub(crate) edges: Vec<f64>,
    pub(crate) counts: Vec<u64>,
    /// Zeros observed while there was no grid.
    pub(crate) zeros: u64,
    /// `edges` with the last one replaced by +∞: the bin search needs no bounds tests.
    search: Vec<f64>,
    /// Whether streaming growth has switched the edges to float64 arithmetic.
    grown: bool,
    inv_width: f64,
}

impl ChannelHist {
    pub(crate) fn empty() -> Self {
        ChannelHist {
            edges: Vec::new(),
            counts: Vec::new(),
            zeros: 0,
            search: Vec::new(),
            grown: false,
            inv_width: 0.0,
        }
    }

    /// A fixed grid over `[0, m]` (two-pass mode); no grid if `m == 0`.
    pub(crate) fn fixed(num_bins: usize, m: f32) -> Self {
        let mut h = ChannelHist::empty();
        if m > 0.0 {
            h.set_grid(uniform_edges(num_bins, m));
        }
        h
    }

    fn set_grid(&mut self, edges: Vec<f64>) {
        self.counts = vec![0; edges.len() - 1];
        self.counts[0] = std::mem::take(&mut self.zeros);
        self.inv_width = 1.0 / edges[1];
        self.edges = edges;
        self.update_search();
    }

    fn update_search(&mut self) {
        self.search.clone_from(&self.edges);
        if let Some(last) = self.search.last_mut() {
            *last = f64::INFINITY;
        }
    }

    pub(crate) fn has_grid(&self) -> bool {
        !self.edges.is_empty()
    }

    pub(crate) fn last_edge(&self) -> f64 {
        self.edges.last().copied().unwrap_or(0.0)
    }

    pub(crate) fn total(&self) -> u64 {
        self.zeros + self.counts.iter().sum::<u64>()
    }

    /// Bins the grid will have after a streaming batch whose max is `m` (an upper bound).
    pub(crate) fn bins_after(&self, num_bins: usize, m: f32) -> usize {
        if !self.has_grid() {
            return if m > 0.0 { num_bins } else { 0 };
        }
        let last = self.last_edge();
        if f64::from(m) <= last {
            return self.counts.len();
        }
        let extra = ((f64::from(m) - last) * self.inv_width).ceil();
        // Saturating float → int conversion; the +4 covers the rounding of the arange length.
        self.counts.len().saturating_add((extra as usize).saturating_add(4))
    }

    /// Streaming: make sure the grid covers `m` (create or grow it).
    pub(crate) fn cover(&mut self, num_bins: usize, m: f32) {
        if !self.has_grid() {
            if m > 0.0 {
                self.set_grid(uniform_edges(num_bins, m));
            }
            return;
        }
        if f64::from(m) > self.last_edge() {
            self.grow(m);
        }
    }

    /// ModelOpt: `np.arange(edges[-1] + width, temp_amax + width, width)`, hstacked.
    fn grow(&mut self, m: f32) {
        let width = self.edges[1] - self.edges[0];
        let last = self.last_edge();
        let (start, len, delta);
        if !self.grown {
            // numpy scalars are float32 here: start, stop and the length are f32 arithmetic;
            // arange then fills in float64 from its first two (f32-computed) values.
            let (w, l) = (width as f32, last as f32);
            let start32 = l + w;
            let stop32 = m + w;
            let q = (stop32 - start32) / w;
            len = if q > 0.0 { f64::from(q).ceil() as usize } else { 0 };
            start = f64::from(start32);
            delta = f64::from(start32 + w) - start;
        } else {
            start = last + width;
            let stop = f64::from(m) + width;
            let q = (stop - start) / width;
            len = if q > 0.0 { q.ceil() as usize } else { 0 };
            delta = (start + width) - start;
        }
        if delta.is_nan() || delta <= 0.0 {
            // Degenerate grid (max below ~3e-42, zero bin width): `bins_after` refuses to grow
            // it, so this is unreachable from `observe`; never loop forever regardless.
            return;
        }
        let mut k = 0usize;
        while k < len || self.last_edge() < f64::from(m) {
            self.edges.push(start + k as f64 * delta);
            k += 1;
        }
        self.grown = true;
        self.counts.resize(self.edges.len() - 1, 0);
        self.update_search();
    }

    /// Adds |v| for every value of `block`; every |v| must be ≤ the last edge (or 0 without grid).
    #[inline]
    pub(crate) fn fill(&mut self, block: &[f32]) {
        if self.has_grid() {
            fill_counts(&mut self.counts, &self.search, self.inv_width, block);
        } else {
            self.zeros += block.len() as u64;
        }
    }

    /// [`fill`](Self::fill) for values that are not contiguous (per-channel layouts with
    /// short runs along the channel).
    #[inline]
    pub(crate) fn fill_iter(&mut self, values: impl Iterator<Item = f32>) {
        if self.has_grid() {
            let last = self.counts.len() - 1;
            let search = &self.search[..last + 2];
            let counts = &mut self.counts[..last + 1];
            for x in values {
                counts[bin(search, self.inv_width, last, x)] += 1;
            }
        } else {
            self.zeros += values.count() as u64;
        }
    }

    /// Fills separate `counts` (a parallel task's partial histogram) on this grid.
    pub(crate) fn fill_into(&self, counts: &mut [u64], block: &[f32]) {
        fill_counts(counts, &self.search, self.inv_width, block);
    }

    /// Adds another channel histogram of the same grid (or of no grid).
    pub(crate) fn add(&mut self, other: &ChannelHist) -> bool {
        if !other.has_grid() {
            if self.has_grid() {
                self.counts[0] += other.zeros;
            } else {
                self.zeros += other.zeros;
            }
            return true;
        }
        if !self.has_grid() {
            let zeros = self.zeros;
            *self = other.clone();
            self.counts[0] += zeros;
            return true;
        }
        if self.edges != other.edges {
            return false;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        true
    }

    /// The histogram view, `None` without grid.
    pub(crate) fn view(&self) -> Option<(&[u64], &[f64])> {
        self.has_grid().then_some((self.counts.as_slice(), self.edges.as_slice()))
    }
}

/// The bin of |x|: a guess from the reciprocal of the bin width, corrected against the edges so
/// assignment always agrees with them. `search` is the edges with the last one replaced by +∞,
/// and `search[0] = 0 <= |x|`, so both loops stop without index tests; they run zero times for
/// almost every value, which keeps the branches predictable (and the same for zeros and
/// non-zeros, which matters on post-ReLU data).
#[inline(always)]
fn bin(search: &[f64], inv_width: f64, last: usize, x: f32) -> usize {
    let v = f64::from(x.abs());
    // `as u32` (bins ≤ 2^22) converts much faster than `as usize`; both saturate.
    let mut k = ((v * inv_width) as u32 as usize).min(last);
    while v < search[k] {
        k -= 1;
    }
    while v >= search[k + 1] {
        k += 1;
    }
    k
}

/// The hot loop: [`bin`] for every value of `block` (all |x| ≤ the last edge, none NaN).
#[inline]
pub(crate) fn fill_counts(counts: &mut [u64], search: &[f64], inv_width: f64, block: &[f32]) {
    let last = counts.len() - 1;
    let search = &search[..last + 2];
    for &x in block {
        counts[bin(search, inv_width, last, x)] += 1;
    }
}

macro_rules! numpy_pairwise {
    ($name:ident, $t:ty) => {
        /// `np.sum` of a contiguous array: numpy's pairwise summation (8 accumulators, blocks of
        /// 128), reproduced so that near-ties break as in the reference.
        pub(crate) fn $name(a: &[$t]) -> $t {
            let n = a.len();
            if n < 8 {
                let mut res: $t = -0.0;
                for &x in a {
                    res += x;
                }
                res
            } else if n <= 128 {
                let mut r = [0.0 as $t; 8];
                r.copy_from_slice(&a[..8]);
                let full = n - n % 8;
                let mut i = 8;
                while i < full {
                    for j in 0..8 {
                        r[j] += a[i + j];
                    }
                    i += 8;
                }
                let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
                for &x in &a[full..] {
                    res += x;
                }
                res
            } else {
                let mut n2 = n / 2;
                n2 -= n2 % 8;
                $name(&a[..n2]) + $name(&a[n2..])
            }
        }
    };
}
numpy_pairwise!(np_sum_f64, f64);
numpy_pairwise!(np_sum_f32, f32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_edges_end_at_max() {
        let e = uniform_edges(2048, 3.7);
        assert_eq!(e.len(), 2049);
        assert_eq!(e[0], 0.0);
        assert_eq!(e[2048], f64::from(3.7f32));
        assert!(e.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn assignment_agrees_with_edges() {
        let mut h = ChannelHist::fixed(129, 1.0);
        let e = h.edges.clone();
        // Every edge value itself, and its neighbours.
        let vals: Vec<f32> = e
            .iter()
            .flat_map(|&x| {
                let x = x as f32;
                [x, f32::from_bits(x.to_bits().saturating_sub(1)), f32::from_bits(x.to_bits() + 1)]
            })
            .filter(|v| *v >= 0.0 && f64::from(*v) <= e[129])
            .collect();
        h.fill(&vals);
        let mut expect = vec![0u64; 129];
        for v in &vals {
            let v = f64::from(*v);
            let k = (e.partition_point(|x| *x <= v) - 1).min(128);
            expect[k] += 1;
        }
        assert_eq!(h.counts, expect);
    }

    #[test]
    fn growth_covers_max_with_same_width() {
        let mut h = ChannelHist::empty();
        h.cover(256, 1.0);
        h.cover(256, 2.5);
        assert!(h.last_edge() >= 2.5);
        let w = h.edges[1];
        let n = h.edges.len();
        assert!((h.edges[n - 1] - h.edges[n - 2] - w).abs() < 1e-6);
        assert!(h.edges.windows(2).all(|p| p[0] < p[1]));
        assert_eq!(h.counts.len(), n - 1);
        h.cover(256, 7.0);
        assert!(h.last_edge() >= 7.0);
    }

    #[test]
    fn zeros_wait_for_grid() {
        let mut h = ChannelHist::empty();
        h.cover(256, 0.0);
        h.fill(&[0.0; 5]);
        assert_eq!((h.zeros, h.has_grid()), (5, false));
        h.cover(256, 1.0);
        h.fill(&[1.0, 0.0]);
        assert_eq!(h.counts[0], 6);
        assert_eq!(h.counts[255], 1);
        assert_eq!(h.total(), 7);
    }

    #[test]
    fn pairwise_small_sums() {
        let a: Vec<f64> = (0..1000).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let s = np_sum_f64(&a);
        assert!((s - a.iter().sum::<f64>()).abs() < 1e-12);
        assert_eq!(np_sum_f32(&[]), 0.0);
    }
}
