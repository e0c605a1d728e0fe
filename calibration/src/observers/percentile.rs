//! Percentile observer.
//!
//! Reference: ModelOpt `modelopt/torch/quantization/calib/histogram.py`,
//! `_compute_amax_percentile`: `cdf = np.cumsum(hist / total)`, `idx = np.searchsorted(cdf,
//! p / 100)`, `amax = edges[idx]`: the left edge of the first bin whose CDF reaches p/100. The
//! CDF is accumulated left to right in f64 as `np.cumsum` does, so the chosen bin is the
//! reference's. The histogram is the shared |x| histogram ([`super::histogram`]).
//!
//! ```
//! use calibr8_calibration::{Method, ObserverConfig, TensorObserver};
//! let mut obs = TensorObserver::new("x", ObserverConfig::new(Method::Percentile { percentile: 99.0 }))?;
//! let data: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
//! obs.observe(&data, &[1000])?;
//! let r = obs.finish()?;
//! assert!((r.amax[0] - 0.99).abs() < 2e-3);
//! # Ok::<(), calibr8_calibration::Error>(())
//! ```

/// amax for `percentile` (in (0, 100]) of a histogram; `edges.len() == counts.len() + 1`.
/// An empty histogram gives 0.
pub fn amax(counts: &[u64], edges: &[f64], percentile: f64) -> f32 {
    let total: u64 = counts.iter().sum();
    if total == 0 || edges.len() != counts.len() + 1 {
        return 0.0;
    }
    let total = total as f64;
    let target = percentile / 100.0;
    let mut cdf = 0.0f64;
    for (i, &c) in counts.iter().enumerate() {
        cdf += c as f64 / total;
        if cdf >= target {
            return edges[i] as f32;
        }
    }
    // np.searchsorted returns len(cdf) when rounding keeps the CDF below p/100.
    edges[counts.len()] as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_edge_of_first_bin_reaching_p() {
        let edges: Vec<f64> = (0..=4).map(f64::from).collect();
        assert_eq!(amax(&[1, 1, 1, 1], &edges, 50.0), 1.0);
        assert_eq!(amax(&[1, 1, 1, 1], &edges, 50.1), 2.0);
        assert_eq!(amax(&[1, 1, 1, 1], &edges, 100.0), 3.0);
        assert_eq!(amax(&[0, 0, 0, 0], &edges, 100.0), 0.0);
    }

    #[test]
    fn cdf_rounding_short_of_one_gives_last_edge() {
        // Ten bins of 1/10: the f64 cumulative sum ends at 0.9999999999999999.
        let edges: Vec<f64> = (0..=10).map(f64::from).collect();
        let r = amax(&[1; 10], &edges, 100.0);
        let mut cdf = 0.0f64;
        for _ in 0..10 {
            cdf += 0.1;
        }
        assert_eq!(r, if cdf >= 1.0 { 9.0 } else { 10.0 });
    }
}
