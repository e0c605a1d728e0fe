//! [`ObserverState`]: a [`TensorObserver`]'s statistics as plain data, so that a shard's
//! observations can be stored, moved to another machine and merged there exactly.

use super::{Phase, TensorObserver};
use crate::internal::*;
use crate::observers::histogram::ChannelHist;
use crate::observers::minmax::MinMax;

/// What a mergeable [`TensorObserver`] knows, as plain data: per-channel min/max and counts,
/// plus the histogram on a fixed grid once one was filled.
///
/// Only order-independent statistics have a state: min/max, and two-pass histograms on a grid
/// fixed beforehand. An EMA (it depends on batch order) and a streaming histogram (its first
/// batch sets the bin width) have none; [`TensorObserver::state`] refuses them.
///
/// ```
/// use calibr8_calibration::{HistogramMode, Method, ObserverConfig, TensorObserver};
/// let config =
///     ObserverConfig { histogram: HistogramMode::TwoPass, ..ObserverConfig::new(Method::Mse) };
/// let mut obs = TensorObserver::on_grid("x", config.clone(), &[4.0])?;
/// obs.observe(&[1.0, -4.0, 2.5, 0.0], &[4])?;
/// let state = obs.state()?;
/// assert_eq!((state.min.as_slice(), state.max.as_slice()), (&[-4.0f32][..], &[2.5f32][..]));
/// let back = TensorObserver::from_state("x", config, &state)?;
/// assert_eq!(back.finish()?, obs.finish()?);
/// # Ok::<(), calibr8_calibration::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ObserverState {
    /// Batches observed.
    pub batches: u64,
    /// Values observed.
    pub values: u64,
    /// Per-channel minimum (one entry per tensor; empty before any data).
    pub min: Vec<f32>,
    /// Per-channel maximum, as `min`.
    pub max: Vec<f32>,
    /// The histogram on its fixed grid, once the histogram pass has started.
    pub grid: Option<GridState>,
}

/// A two-pass histogram: channel `c` has `num_bins` bins over `[0, global_max[c]]` (the edges
/// of `np.histogram(|x|, bins=num_bins, range=(0, global_max[c]))`), or no grid where
/// `global_max[c]` is 0 (then every value was 0 and is counted in `zeros[c]`).
#[derive(Clone, Debug, PartialEq)]
pub struct GridState {
    /// Per-channel max |x| fixing the grid.
    pub global_max: Vec<f32>,
    /// Per channel: `num_bins` counts, or none where the channel has no grid.
    pub counts: Vec<Vec<u64>>,
    /// Per channel: values counted while there was no grid (0 where there is one).
    pub zeros: Vec<u64>,
    /// Values filled into the histogram (equals `values` once every batch was seen).
    pub values: u64,
}

impl TensorObserver {
    /// The observer's statistics as plain data (see [`ObserverState`]). An observer that tracks
    /// an EMA or a streaming histogram has no mergeable state: [`Error::Unmergeable`] says what
    /// to use instead.
    pub fn state(&self) -> Result<ObserverState, Error> {
        self.check_mergeable_config()?;
        let grid = match (&self.hist, self.phase) {
            (Some(hists), Phase::Second) => Some(GridState {
                global_max: self.global_max(),
                counts: hists.iter().map(|h| h.counts.clone()).collect(),
                zeros: hists.iter().map(|h| h.zeros).collect(),
                values: self.second_pass_values,
            }),
            _ => None,
        };
        Ok(ObserverState {
            batches: self.batches,
            values: self.values,
            min: self.minmax.min.clone(),
            max: self.minmax.max.clone(),
            grid,
        })
    }

    /// Rebuilds an observer from [`state`](Self::state)'s output under the same `config`.
    /// Inconsistent states (lengths that disagree, a minimum above its maximum, non-finite
    /// values, counts that do not add up, a grid below the data it holds) are
    /// [`Error::InvalidState`] naming the tensor; nothing panics.
    pub fn from_state(
        tensor: impl Into<String>,
        config: ObserverConfig,
        state: &ObserverState,
    ) -> Result<Self, Error> {
        let mut obs = TensorObserver::new(tensor, config)?;
        obs.check_mergeable_config()?;
        let bad = |message: String| Error::InvalidState { tensor: obs.tensor.clone(), message };
        let s = state;
        if s.min.len() != s.max.len() {
            return Err(bad(format!("{} minima for {} maxima", s.min.len(), s.max.len())));
        }
        if (s.values == 0) != s.min.is_empty() || (s.values == 0) != (s.batches == 0) {
            return Err(bad(format!(
                "{} values in {} batches with {} channel(s) of min/max",
                s.values,
                s.batches,
                s.min.len()
            )));
        }
        if obs.config.granularity == Granularity::PerTensor && s.min.len() > 1 {
            return Err(bad(format!("{} channels for a per-tensor observer", s.min.len())));
        }
        for (lo, hi) in s.min.iter().zip(&s.max) {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(bad(format!("channel range [{lo}, {hi}] is not a finite interval")));
            }
        }
        let channels = (!s.min.is_empty()).then_some(s.min.len());
        obs.minmax = MinMax { min: s.min.clone(), max: s.max.clone() };
        obs.channels = channels;
        obs.batches = s.batches;
        obs.values = s.values;
        let Some(g) = &s.grid else {
            return Ok(obs);
        };
        if !obs.wants_second_pass() {
            return Err(bad(
                "the state has a histogram but the configuration keeps none; use the \
                 configuration the state was observed with"
                    .into(),
            ));
        }
        let n = g.global_max.len();
        if g.counts.len() != n || g.zeros.len() != n || channels.is_some_and(|c| c != n) {
            return Err(bad(format!(
                "the grid has {n} channel max(es), {} count list(s) and {} zero count(s) for {} \
                 channel(s)",
                g.counts.len(),
                g.zeros.len(),
                channels.map_or("no".to_string(), |c| c.to_string())
            )));
        }
        let num_bins = obs.config.num_bins;
        let mut hists = Vec::with_capacity(n);
        let mut total = 0u64;
        for (c, ((&m, counts), &zeros)) in
            g.global_max.iter().zip(&g.counts).zip(&g.zeros).enumerate()
        {
            if !(m.is_finite() && m >= 0.0) {
                return Err(bad(format!("channel {c}: grid max {m} is not finite and ≥ 0")));
            }
            let local = s.min.get(c).zip(s.max.get(c)).map_or(0.0, |(l, h)| l.abs().max(h.abs()));
            if local > m {
                return Err(bad(format!(
                    "channel {c}: the data reach |x| = {local}, beyond the grid's max {m}"
                )));
            }
            let mut h = ChannelHist::fixed(num_bins, m);
            let expected = if h.has_grid() { num_bins } else { 0 };
            if counts.len() != expected || (h.has_grid() && zeros != 0) {
                return Err(bad(format!(
                    "channel {c}: {} counts and {zeros} grid-less zeros where the grid has \
                     {expected} bins",
                    counts.len()
                )));
            }
            h.counts.clone_from(counts);
            h.zeros = zeros;
            total = counts.iter().try_fold(total, |t, &x| t.checked_add(x)).unwrap_or(u64::MAX);
            total = total.saturating_add(zeros);
            hists.push(h);
        }
        if total != g.values || g.values > s.values {
            return Err(bad(format!(
                "the histogram holds {total} values, its header says {}, the min/max saw {}",
                g.values, s.values
            )));
        }
        obs.channels = Some(n);
        obs.global_max = Some(g.global_max.clone());
        obs.hist = Some(hists);
        obs.phase = Phase::Second;
        obs.second_pass_values = g.values;
        Ok(obs)
    }

    /// EMA and streaming histograms depend on batch order: no mergeable state.
    fn check_mergeable_config(&self) -> Result<(), Error> {
        let fail = |reason: &str| {
            Err(Error::Unmergeable { tensor: self.tensor.clone(), reason: reason.into() })
        };
        if self.config.ema_decay().is_some() {
            return fail(
                "an EMA depends on batch order, so it has no state that merges; use minmax, or a \
                 histogram method with HistogramMode::TwoPass",
            );
        }
        if self.config.collects_histogram() && self.config.histogram == HistogramMode::Streaming {
            return fail(
                "a streaming histogram's bin width comes from its first batch, so shards do not \
                 share a grid; use HistogramMode::TwoPass",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_pass(method: Method) -> ObserverConfig {
        ObserverConfig { histogram: HistogramMode::TwoPass, ..ObserverConfig::new(method) }
    }

    fn batches(seed: u32) -> Vec<Vec<f32>> {
        (0..3u32)
            .map(|b| {
                (0..600u32)
                    .map(|i| {
                        let h = (i ^ seed.wrapping_mul(7919) ^ b.wrapping_mul(104_729))
                            .wrapping_mul(2_654_435_761);
                        (h % 20_000) as f32 / 4000.0 - 2.0 - seed as f32 * 0.3
                    })
                    .collect()
            })
            .collect()
    }

    /// Shards on a shared grid, merged, equal one observer's two passes over all the data.
    #[test]
    fn on_grid_shards_merge_to_the_two_pass_result() {
        for method in [Method::Entropy, Method::Mse, Method::Percentile { percentile: 99.9 }] {
            let config = two_pass(method).per_channel(1);
            let shards: Vec<Vec<Vec<f32>>> = (0..3).map(batches).collect();
            let shape = [200, 3];
            let mut whole = TensorObserver::new("t", config.clone()).expect("config");
            for pass in 0..2 {
                for b in shards.iter().flatten() {
                    whole.observe(b, &shape).expect("observe");
                }
                if pass == 0 {
                    whole.start_second_pass().expect("second pass");
                }
            }
            let grid = whole.global_max();
            let mut states: Vec<ObserverState> = shards
                .iter()
                .map(|shard| {
                    let mut o = TensorObserver::on_grid("t", config.clone(), &grid).expect("grid");
                    for b in shard {
                        o.observe(b, &shape).expect("observe");
                    }
                    o.state().expect("state")
                })
                .collect();
            for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0]] {
                let mut merged =
                    TensorObserver::from_state("t", config.clone(), &states[order[0]]).expect("s");
                for &k in &order[1..] {
                    let o = TensorObserver::from_state("t", config.clone(), &states[k]).expect("s");
                    merged.merge(&o).expect("merge");
                }
                assert_eq!(merged.state().expect("state"), whole.state().expect("state"));
                assert_eq!(merged.finish().expect("finish"), whole.finish().expect("finish"));
            }
            // A count that no longer adds up is refused, naming the tensor.
            states[0].grid.as_mut().expect("grid").counts[0][5] += 1;
            let e = TensorObserver::from_state("t", config, &states[0]).expect_err("bad counts");
            assert!(e.to_string().contains("tensor `t`") && e.to_string().contains("holds"), "{e}");
        }
    }

    #[test]
    fn order_dependent_observers_have_no_state() {
        let ema = TensorObserver::new("t", ObserverConfig::new(Method::EmaMinMax { decay: 0.9 }))
            .expect("config");
        assert!(ema.state().expect_err("ema").to_string().contains("batch order"));
        let streaming =
            TensorObserver::new("t", ObserverConfig::new(Method::Entropy)).expect("config");
        assert!(streaming.state().expect_err("streaming").to_string().contains("TwoPass"));
    }

    #[test]
    fn values_beyond_the_grid_are_refused() {
        let mut o = TensorObserver::on_grid("t", two_pass(Method::Entropy), &[1.0]).expect("grid");
        assert!(matches!(
            o.observe(&[0.5, 1.5], &[2]),
            Err(Error::SecondPassOutOfRange { channel: 0, .. })
        ));
        let state = ObserverState {
            batches: 1,
            values: 2,
            min: vec![-3.0],
            max: vec![1.0],
            grid: Some(GridState {
                global_max: vec![1.0],
                counts: vec![vec![0; 2048]],
                zeros: vec![0],
                values: 0,
            }),
        };
        let e = TensorObserver::from_state("t", two_pass(Method::Entropy), &state)
            .expect_err("grid below data");
        assert!(e.to_string().contains("beyond the grid"), "{e}");
        let minmax = TensorObserver::from_state("t", ObserverConfig::new(Method::MinMax), &state)
            .expect_err("histogram without a histogram method");
        assert!(minmax.to_string().contains("keeps none"), "{minmax}");
    }
}
