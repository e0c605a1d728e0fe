//! One module per method, plus the shared |x| histogram. [`crate::TensorObserver`] drives them.

pub mod ema_minmax;
pub mod entropy;
pub mod histogram;
pub mod minmax;
pub mod mse;
pub mod percentile;

/// Histograms shared by the observers' unit tests.
#[cfg(test)]
pub(crate) mod test_histograms {
    /// Edges of `n` bins over [0, 1].
    pub fn edges(n: usize) -> Vec<f64> {
        (0..=n).map(|k| k as f64 / n as f64).collect()
    }

    /// 24 seeded histograms cycling through `sizes`: exponential tails, sparse noise, a dense
    /// head with rare outliers, and near-empty ones.
    pub fn random(seed: u64, sizes: [usize; 6]) -> impl Iterator<Item = (usize, Vec<u64>)> {
        let mut seed = seed;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..24).map(move |case| {
            let n = sizes[case % 6];
            let counts = (0..n)
                .map(|j| {
                    let r = next();
                    match case % 4 {
                        0 => (1e5 * (-(j as f64) / 60.0).exp()) as u64 + r % 3,
                        1 => {
                            if r % 5 == 0 {
                                0
                            } else {
                                r % 50
                            }
                        }
                        2 => {
                            if j < 300 {
                                r % 1000
                            } else {
                                u64::from(r % 97 == 0)
                            }
                        }
                        _ => r % 2,
                    }
                })
                .collect();
            (case, counts)
        })
    }
}
