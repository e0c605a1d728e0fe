//! [`TensorObserver`]: one tensor's statistics over the calibration batches.

use crate::internal::*;
use crate::observers::ema_minmax::Ema;
use crate::observers::histogram::{mass_at_or_above, ChannelHist};
use crate::observers::minmax::MinMax;
use crate::observers::{entropy, mse, percentile};

mod state;
pub use state::{GridState, ObserverState};

/// Values per parallel task. Fixed, so the split never depends on the thread count (results
/// would not anyway: min/max are exact and histogram counts are integers).
const CHUNK: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    First,
    Second,
}

/// Row-major `[outer, channels, inner]` view of a batch.
#[derive(Clone, Copy, Debug)]
struct Layout {
    outer: usize,
    channels: usize,
    inner: usize,
}

impl Layout {
    fn block<'a>(&self, data: &'a [f32], o: usize, c: usize) -> &'a [f32] {
        let start = (o * self.channels + c) * self.inner;
        &data[start..start + self.inner]
    }

    /// Channels per parallel task: enough for about [`CHUNK`] values, and enough that a task
    /// reads whole cache lines of a row when runs along the channel are short.
    fn group(&self) -> usize {
        let per_channel = (self.outer * self.inner).max(1);
        let by_size = CHUNK.div_ceil(per_channel);
        let by_line = 32usize.div_ceil(self.inner.max(1));
        by_size.max(by_line).clamp(1, self.channels.max(1))
    }
}

/// Collects the statistics of one tensor over calibration batches and turns them into a
/// [`TensorRange`].
///
/// What is kept is fixed-size (independent of the number of batches): per-channel min/max,
/// the EMA when tracked, and the |x| histogram when a method needs it. Work within a batch runs
/// on the current rayon pool; every thread count gives bit-identical results.
///
/// ```
/// use calibr8_calibration::{quant_params, Method, ObserverConfig, QuantSpec, TensorObserver};
/// let mut obs = TensorObserver::new("conv1.out", ObserverConfig::new(Method::Entropy).collect_all())?;
/// for b in 0..4 {
///     let batch: Vec<f32> = (0..4096).map(|i| ((i * 7 + b) % 1000) as f32 / 100.0 - 3.0).collect();
///     obs.observe(&batch, &[4, 1024])?;
/// }
/// let entropy = obs.finish()?;
/// let minmax = obs.finish_as(&Method::MinMax)?;
/// assert!(entropy.amax[0] <= minmax.amax[0]);
/// let params = quant_params(&entropy, &QuantSpec::TENSORRT_ACTIVATION);
/// assert_eq!(params.scale[0], entropy.amax[0] / 127.0);
/// # Ok::<(), calibr8_calibration::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TensorObserver {
    tensor: String,
    config: ObserverConfig,
    channels: Option<usize>,
    batches: u64,
    values: u64,
    minmax: MinMax,
    ema: Option<Ema>,
    ema_lost_in_merge: bool,
    /// Streaming: from the start. Two-pass: from `start_second_pass`.
    hist: Option<Vec<ChannelHist>>,
    phase: Phase,
    global_max: Option<Vec<f32>>,
    second_pass_values: u64,
    /// [`on_grid`](Self::on_grid): the second pass also keeps the first pass's statistics.
    one_pass: bool,
}

impl TensorObserver {
    /// A fresh observer; a bad configuration (percentile outside (0, 100], decay outside (0, 1),
    /// `num_bins` outside [129, 2^22]) is an [`Error::InvalidConfig`] naming the option.
    pub fn new(tensor: impl Into<String>, config: ObserverConfig) -> Result<Self, Error> {
        let tensor = tensor.into();
        config.validate(&tensor)?;
        let ema = config.ema_decay().map(Ema::new);
        let hist = (config.collects_histogram() && config.histogram == HistogramMode::Streaming)
            .then(Vec::new);
        Ok(TensorObserver {
            tensor,
            config,
            channels: None,
            batches: 0,
            values: 0,
            minmax: MinMax::default(),
            ema,
            ema_lost_in_merge: false,
            hist,
            phase: Phase::First,
            global_max: None,
            second_pass_values: 0,
            one_pass: false,
        })
    }

    /// The tensor's name.
    pub fn tensor(&self) -> &str {
        &self.tensor
    }

    /// The configuration.
    pub fn config(&self) -> &ObserverConfig {
        &self.config
    }

    /// Channel count once known (1 per tensor).
    pub fn channels(&self) -> Option<usize> {
        self.channels
    }

    fn layout(&self, data: &[f32], shape: &[usize]) -> Result<Layout, Error> {
        let expected = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if expected != Some(data.len()) {
            return Err(Error::ShapeMismatch {
                tensor: self.tensor.clone(),
                shape: shape.to_vec(),
                len: data.len(),
                expected: expected.unwrap_or(usize::MAX),
            });
        }
        match self.config.granularity {
            Granularity::PerTensor => Ok(Layout { outer: 1, channels: 1, inner: data.len() }),
            Granularity::PerChannel { axis } => {
                if axis >= shape.len() {
                    return Err(Error::BadAxis {
                        tensor: self.tensor.clone(),
                        axis,
                        rank: shape.len(),
                    });
                }
                Ok(Layout {
                    outer: shape[..axis].iter().product(),
                    channels: shape[axis],
                    inner: shape[axis + 1..].iter().product(),
                })
            }
        }
    }

    /// Observes one batch: row-major `data` of `shape`.
    ///
    /// A NaN or infinity gives [`Error::NonFinite`] with the index of the first one, and leaves
    /// the observer unchanged (as does every other error). A channel axis beyond the shape's rank
    /// or a channel count that differs from earlier batches is an error. Empty batches are
    /// ignored. In the second pass of [`HistogramMode::TwoPass`] only the histogram is filled.
    pub fn observe(&mut self, data: &[f32], shape: &[usize]) -> Result<(), Error> {
        let layout = self.layout(data, shape)?;
        if data.is_empty() {
            return Ok(());
        }
        if let Some(expected) = self.channels {
            if expected != layout.channels {
                return Err(Error::ChannelMismatch {
                    tensor: self.tensor.clone(),
                    expected,
                    found: layout.channels,
                });
            }
        }
        let (lo, hi) = batch_min_max(data, layout).map_err(|index| Error::NonFinite {
            tensor: self.tensor.clone(),
            index,
            value: data[index],
        })?;
        let absmax: Vec<f32> = lo.iter().zip(&hi).map(|(l, h)| l.abs().max(h.abs())).collect();

        if self.phase == Phase::Second {
            let hists = self.hist.as_mut().filter(|h| h.len() == layout.channels);
            let Some(hists) = hists else {
                return Err(Error::SecondPassOutOfRange {
                    tensor: self.tensor.clone(),
                    channel: 0,
                    value: absmax.iter().copied().fold(0.0, f32::max),
                    max: 0.0,
                });
            };
            for (c, (h, &m)) in hists.iter().zip(&absmax).enumerate() {
                if f64::from(m) > h.last_edge() {
                    return Err(Error::SecondPassOutOfRange {
                        tensor: self.tensor.clone(),
                        channel: c,
                        value: m,
                        max: h.last_edge() as f32,
                    });
                }
            }
            fill(hists, data, layout);
            self.second_pass_values += data.len() as u64;
            if self.one_pass {
                self.batches += 1;
                self.values += data.len() as u64;
                self.minmax.update(&lo, &hi);
            }
            return Ok(());
        }

        let num_bins = self.config.num_bins;
        if let Some(hists) = &self.hist {
            for (c, &m) in absmax.iter().enumerate() {
                let bins = hists.get(c).map_or(num_bins, |h| h.bins_after(num_bins, m));
                if bins > MAX_HISTOGRAM_BINS {
                    return Err(Error::HistogramTooLarge {
                        tensor: self.tensor.clone(),
                        bins,
                        limit: MAX_HISTOGRAM_BINS,
                    });
                }
            }
        }

        // Validated: from here on nothing fails.
        self.channels = Some(layout.channels);
        self.batches += 1;
        self.values += data.len() as u64;
        self.minmax.update(&lo, &hi);
        if let Some(ema) = &mut self.ema {
            ema.update(&lo, &hi);
        }
        if let Some(hists) = &mut self.hist {
            if hists.is_empty() {
                hists.resize(layout.channels, ChannelHist::empty());
            }
            for (h, &m) in hists.iter_mut().zip(&absmax) {
                h.cover(num_bins, m);
            }
            fill(hists, data, layout);
        }
        Ok(())
    }

    fn wants_second_pass(&self) -> bool {
        self.config.histogram == HistogramMode::TwoPass && self.config.collects_histogram()
    }

    /// Two-pass mode: true during the first pass whenever the configured statistics need the
    /// histogram pass. The caller observes every batch, then (if this is true) calls
    /// [`start_second_pass`](Self::start_second_pass) and observes every batch again.
    pub fn needs_second_pass(&self) -> bool {
        self.wants_second_pass() && self.phase == Phase::First
    }

    /// Ends the first pass: fixes each channel's grid to `num_bins` bins over `[0, max|x|]`
    /// (the max from [`set_global_max`](Self::set_global_max) if given). A no-op when no second
    /// pass is needed; an error if the second pass has already started.
    pub fn start_second_pass(&mut self) -> Result<(), Error> {
        if !self.wants_second_pass() {
            return Ok(());
        }
        if self.phase == Phase::Second {
            return Err(Error::InvalidState {
                tensor: self.tensor.clone(),
                message: "start_second_pass() called twice; call it once, between the two \
                          passes"
                    .into(),
            });
        }
        self.phase = Phase::Second;
        self.build_fixed_grids();
        Ok(())
    }

    /// Two-pass statistics in one pass over the data, on a grid fixed beforehand: the grid of
    /// channel `c` is `num_bins` bins over `[0, global_max[c]]`, and every batch fills min/max
    /// and the histogram at once. After the same batches, [`state`](Self::state) equals that of
    /// an observer that ran both passes with
    /// [`set_global_max`](Self::set_global_max)`(global_max)`, so shards observed this way merge
    /// exactly. A value above its channel's grid is
    /// [`Error::SecondPassOutOfRange`]: `global_max` must cover every shard.
    ///
    /// ```
    /// use calibr8_calibration::{HistogramMode, Method, ObserverConfig, TensorObserver};
    /// let config = ObserverConfig {
    ///     histogram: HistogramMode::TwoPass,
    ///     ..ObserverConfig::new(Method::Entropy)
    /// };
    /// let shards = [vec![0.5f32, -1.0, 0.25], vec![2.0, 0.0, -0.75]];
    /// // The grid: the max |x| over every shard (a range pass computes it).
    /// let mut merged: Option<TensorObserver> = None;
    /// for shard in &shards {
    ///     let mut obs = TensorObserver::on_grid("x", config.clone(), &[2.0])?;
    ///     obs.observe(shard, &[3])?;
    ///     match &mut merged {
    ///         Some(m) => m.merge(&obs)?,
    ///         None => merged = Some(obs),
    ///     }
    /// }
    /// let mut whole = TensorObserver::new("x", config)?;
    /// for pass in 0..2 {
    ///     for shard in &shards {
    ///         whole.observe(shard, &[3])?;
    ///     }
    ///     if pass == 0 {
    ///         whole.start_second_pass()?;
    ///     }
    /// }
    /// assert_eq!(merged.map(|m| m.finish()).transpose()?, Some(whole.finish()?));
    /// # Ok::<(), calibr8_calibration::Error>(())
    /// ```
    pub fn on_grid(
        tensor: impl Into<String>,
        config: ObserverConfig,
        global_max: &[f32],
    ) -> Result<Self, Error> {
        let mut observer = TensorObserver::new(tensor, config)?;
        if !observer.wants_second_pass() {
            return Err(Error::InvalidState {
                tensor: observer.tensor,
                message: "on_grid() needs a histogram method with HistogramMode::TwoPass; \
                          min/max needs no grid"
                    .into(),
            });
        }
        observer.set_global_max(global_max)?;
        observer.start_second_pass()?;
        observer.one_pass = true;
        Ok(observer)
    }

    fn build_fixed_grids(&mut self) {
        let maxes = self.global_max();
        let n = self.config.num_bins;
        self.hist = Some(maxes.iter().map(|&m| ChannelHist::fixed(n, m)).collect());
    }

    /// Per-channel max|x| of the first pass (the value set by
    /// [`set_global_max`](Self::set_global_max) if any). Empty before any data.
    pub fn global_max(&self) -> Vec<f32> {
        match &self.global_max {
            Some(m) => m.clone(),
            None => self.minmax.amax(),
        }
    }

    /// Two-pass sharding: sets the per-channel max|x| that fixes the histogram grid, normally the
    /// elementwise max of every shard's [`global_max`](Self::global_max), so all shards fill the
    /// same grid and [`merge`](Self::merge) is exact. Call it after the first pass, before (or
    /// right after) [`start_second_pass`](Self::start_second_pass) and before second-pass data.
    pub fn set_global_max(&mut self, m: &[f32]) -> Result<(), Error> {
        let state = |message: &str| {
            Err(Error::InvalidState { tensor: self.tensor.clone(), message: message.into() })
        };
        if self.config.histogram != HistogramMode::TwoPass {
            return state(
                "set_global_max() needs HistogramMode::TwoPass; a streaming histogram's grid is \
                 fixed by its first batch",
            );
        }
        if self.phase == Phase::Second && self.second_pass_values > 0 {
            return state(
                "set_global_max() after second-pass data; agree on the global max between the \
                 two passes",
            );
        }
        if let Some(bad) = m.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
            return Err(Error::InvalidConfig {
                tensor: self.tensor.clone(),
                option: "global_max",
                value: bad.to_string(),
                remedy: "every channel's max|x| must be finite and ≥ 0; pass the elementwise max \
                         of the shards' global_max()"
                    .into(),
            });
        }
        let expected = match (self.config.granularity, self.channels) {
            (_, Some(c)) => Some(c),
            (Granularity::PerTensor, None) => Some(1),
            (Granularity::PerChannel { .. }, None) => None,
        };
        if let Some(expected) = expected {
            if expected != m.len() {
                return Err(Error::ChannelMismatch {
                    tensor: self.tensor.clone(),
                    expected,
                    found: m.len(),
                });
            }
        }
        let local = self.minmax.amax();
        if local.iter().zip(m).any(|(l, g)| l > g) {
            return state(
                "the global max is below this shard's own max|x|; pass the elementwise max of \
                 every shard's global_max()",
            );
        }
        self.channels = Some(m.len());
        self.global_max = Some(m.to_vec());
        if self.phase == Phase::Second {
            self.build_fixed_grids();
        }
        Ok(())
    }

    /// Merges an observer of the same tensor and configuration that saw other batches (a shard).
    ///
    /// Exact for min/max and for two-pass histograms on a common grid (see
    /// [`set_global_max`](Self::set_global_max)); streaming histograms merge only if their grids
    /// are identical. An EMA observer cannot be merged (the EMA depends on batch order); under
    /// `collect_all` the merge succeeds and drops the EMA, so `finish_as(EmaMinMax)` then errors.
    /// On error `self` is unchanged.
    pub fn merge(&mut self, other: &TensorObserver) -> Result<(), Error> {
        let fail = |reason: String| Err(Error::Unmergeable { tensor: self.tensor.clone(), reason });
        if other.tensor != self.tensor {
            return fail(format!(
                "the other observer is for tensor `{}`; merge only shards of the same tensor",
                other.tensor
            ));
        }
        if other.config != self.config {
            return fail(
                "the observers have different configurations; create every shard's observer from \
                 the same ObserverConfig"
                    .into(),
            );
        }
        if other.phase != self.phase {
            return fail(
                "one observer is in the second pass and the other is not; merge after both \
                 finished the same pass"
                    .into(),
            );
        }
        if let (Some(a), Some(b)) = (self.channels, other.channels) {
            if a != b {
                return fail(format!(
                    "{a} channels here, {b} in the other; per-channel shards must see the same \
                     channel count"
                ));
            }
        }
        let both_have_data = self.values > 0 && other.values > 0;
        if both_have_data && self.config.method.depends_on_batch_order() {
            return fail(
                "EMA min/max depends on batch order, so shards cannot be merged; observe all \
                 batches in one observer, or use minmax (exactly mergeable)"
                    .into(),
            );
        }
        if let (Some(a), Some(b)) = (&self.hist, &other.hist) {
            let compatible = a.is_empty()
                || b.is_empty()
                || (a.len() == b.len() && a.iter().zip(b).all(|(x, y)| mergeable(x, y)));
            if !compatible {
                return fail(if self.phase == Phase::Second {
                    "the two-pass grids differ; before start_second_pass() give every shard the \
                     same set_global_max(), the elementwise max of their global_max()"
                        .into()
                } else {
                    "the streaming histograms have different grids (each shard's first batch \
                     fixed its own bin width); use HistogramMode::TwoPass with \
                     set_global_max() for exact sharded calibration"
                        .into()
                });
            }
        }

        // Validated: from here on nothing fails.
        if let (Some(a), Some(b)) = (&mut self.hist, &other.hist) {
            if a.is_empty() {
                a.clone_from(b);
            } else if !b.is_empty() {
                for (x, y) in a.iter_mut().zip(b) {
                    x.add(y);
                }
            }
        }
        if both_have_data {
            if self.ema.is_some() {
                self.ema = None;
                self.ema_lost_in_merge = true;
            }
        } else if other.values > 0 {
            self.ema.clone_from(&other.ema);
        }
        self.ema_lost_in_merge |= other.ema_lost_in_merge;
        self.minmax.merge(&other.minmax);
        self.global_max = match (self.global_max.take(), &other.global_max) {
            (Some(a), Some(b)) => Some(a.iter().zip(b).map(|(x, y)| x.max(*y)).collect()),
            (a, b) => a.or_else(|| b.clone()),
        };
        self.channels = self.channels.or(other.channels);
        self.batches += other.batches;
        self.values += other.values;
        self.second_pass_values += other.second_pass_values;
        Ok(())
    }

    /// The range for the configured method.
    pub fn finish(&self) -> Result<TensorRange, Error> {
        self.finish_as(&self.config.method)
    }

    /// The range for any method whose statistics were collected: MinMax always; the configured
    /// EMA decay (0.99 under `collect_all`); every histogram method when the histogram was kept.
    ///
    /// `clipped_fraction`: 0 for MinMax; otherwise the histogram mass of the bins whose left
    /// edge is at or above the channel's amax, over all values (bin resolution: exact for
    /// percentile and entropy, whose amax is an edge, up to values lying exactly on it).
    pub fn finish_as(&self, method: &Method) -> Result<TensorRange, Error> {
        method.validate().map_err(|e| e.for_tensor(&self.tensor))?;
        if self.values == 0 {
            return Err(Error::NoData { tensor: self.tensor.clone() });
        }
        let not_collected = |reason: &str| Error::NotCollected {
            tensor: self.tensor.clone(),
            method: method.clone(),
            reason: reason.into(),
        };
        let hists = || -> Result<&[ChannelHist], Error> {
            if !self.config.collects_histogram() {
                return Err(not_collected("no histogram was kept"));
            }
            if self.phase == Phase::First && self.config.histogram == HistogramMode::TwoPass {
                return Err(Error::SecondPassPending { tensor: self.tensor.clone() });
            }
            if self.phase == Phase::Second && self.second_pass_values != self.values {
                return Err(Error::InvalidState {
                    tensor: self.tensor.clone(),
                    message: format!(
                        "the second pass saw {} values, the first {}; replay exactly the batches \
                         of the first pass",
                        self.second_pass_values, self.values
                    ),
                });
            }
            Ok(self.hist.as_deref().unwrap_or(&[]))
        };
        let axis = match self.config.granularity {
            Granularity::PerTensor => None,
            Granularity::PerChannel { axis } => Some(axis),
        };
        let range = |min: Vec<f32>, max: Vec<f32>, amax: Vec<f32>, clipped: f64| TensorRange {
            tensor: self.tensor.clone(),
            method: method.clone(),
            axis,
            min,
            max,
            amax,
            clipped_fraction: clipped,
            batches: self.batches,
            values: self.values,
        };
        // A histogram method's range: amax per channel from `amax_of(counts, edges)`, min/max
        // clipped to it.
        let from_histogram = |amax_of: &(dyn Fn(&[u64], &[f64]) -> f32 + Sync)| {
            let hists = hists()?;
            let amax: Vec<f32> = hists
                .par_iter()
                .map(|h| h.view().map_or(0.0, |(counts, edges)| amax_of(counts, edges)))
                .collect();
            let clipped = clipped_fraction(hists, &amax);
            let min = self.minmax.min.iter().zip(&amax).map(|(m, a)| m.max(-a)).collect();
            let max = self.minmax.max.iter().zip(&amax).map(|(m, a)| m.min(*a)).collect();
            Ok(range(min, max, amax, clipped))
        };
        match method {
            Method::MinMax => {
                Ok(range(self.minmax.min.clone(), self.minmax.max.clone(), self.minmax.amax(), 0.0))
            }
            Method::EmaMinMax { decay } => {
                let ema = match &self.ema {
                    Some(e) if e.decay == *decay => e,
                    Some(e) => {
                        let reason = format!("the EMA was tracked with decay {}", e.decay);
                        return Err(not_collected(&reason));
                    }
                    None if self.ema_lost_in_merge => {
                        return Err(not_collected("the EMA was dropped when shards were merged"))
                    }
                    None => return Err(not_collected("no EMA was tracked")),
                };
                let hists = hists()?;
                let amax = ema.amax();
                let clipped = clipped_fraction(hists, &amax);
                Ok(range(ema.min.clone(), ema.max.clone(), amax, clipped))
            }
            Method::Percentile { percentile } => {
                from_histogram(&|counts, edges| percentile::amax(counts, edges, *percentile))
            }
            Method::Entropy => from_histogram(&entropy::amax),
            Method::Mse => from_histogram(&mse::amax),
            Method::Auto => Err(not_collected(
                "auto chooses among the other methods by running the model (calibr8-core's \
                 quantize with method auto); finish as one of them here",
            )),
        }
    }

    /// The histogram of `channel` (0 per tensor), if one was kept and has a grid.
    pub fn histogram(&self, channel: usize) -> Option<Histogram> {
        let h = self.hist.as_ref()?.get(channel)?;
        let (counts, edges) = h.view()?;
        Some(Histogram::from_parts_unchecked(counts.to_vec(), edges.to_vec()))
    }
}

fn mergeable(a: &ChannelHist, b: &ChannelHist) -> bool {
    !a.has_grid() || !b.has_grid() || a.edges == b.edges
}

fn clipped_fraction(hists: &[ChannelHist], amax: &[f32]) -> f64 {
    let mut total = 0u64;
    let mut clipped = 0u64;
    for (h, &a) in hists.iter().zip(amax) {
        total += h.total();
        if let Some((counts, edges)) = h.view() {
            clipped += mass_at_or_above(counts, edges, a);
        }
    }
    if total == 0 {
        0.0
    } else {
        clipped as f64 / total as f64
    }
}

/// Per-channel min and max of a batch, or the index of the first non-finite value.
fn batch_min_max(data: &[f32], l: Layout) -> Result<(Vec<f32>, Vec<f32>), usize> {
    let (lo, hi, bad) = if l.channels == 1 {
        let (lo, hi, bad) = if data.len() <= CHUNK {
            scan(data)
        } else {
            data.par_chunks(CHUNK).map(scan).reduce(
                || (f32::INFINITY, f32::NEG_INFINITY, false),
                |a, b| (a.0.min(b.0), a.1.max(b.1), a.2 | b.2),
            )
        };
        (vec![lo], vec![hi], bad)
    } else {
        let g = l.group();
        let parts: Vec<(Vec<f32>, Vec<f32>, bool)> = (0..l.channels.div_ceil(g))
            .into_par_iter()
            .map(|gi| {
                let cs = gi * g..((gi + 1) * g).min(l.channels);
                let mut lo = vec![f32::INFINITY; cs.len()];
                let mut hi = vec![f32::NEG_INFINITY; cs.len()];
                let mut bad = false;
                for o in 0..l.outer {
                    for (k, c) in cs.clone().enumerate() {
                        let block = l.block(data, o, c);
                        if block.len() < 16 {
                            for &x in block {
                                lo[k] = if x < lo[k] { x } else { lo[k] };
                                hi[k] = if x > hi[k] { x } else { hi[k] };
                                bad |= x.is_nan();
                            }
                        } else {
                            let (a, b, n) = scan(block);
                            lo[k] = lo[k].min(a);
                            hi[k] = hi[k].max(b);
                            bad |= n;
                        }
                    }
                }
                (lo, hi, bad)
            })
            .collect();
        let mut lo = Vec::with_capacity(l.channels);
        let mut hi = Vec::with_capacity(l.channels);
        let mut bad = false;
        for (a, b, n) in parts {
            lo.extend(a);
            hi.extend(b);
            bad |= n;
        }
        (lo, hi, bad)
    };
    // An infinity shows up as an infinite extreme; a NaN only through the flag. An empty channel
    // (inner or outer 0) cannot occur: empty batches return early.
    if bad || lo.iter().chain(&hi).any(|x| x.is_infinite()) {
        return Err(data.iter().position(|x| !x.is_finite()).unwrap_or(0));
    }
    Ok((lo, hi))
}

/// Min, max and "saw a NaN" of a slice; eight lanes so the loop vectorises.
#[inline]
fn scan(block: &[f32]) -> (f32, f32, bool) {
    let mut lo = [f32::INFINITY; 8];
    let mut hi = [f32::NEG_INFINITY; 8];
    let mut nan = [false; 8];
    let chunks = block.chunks_exact(8);
    let rest = chunks.remainder();
    for ch in chunks {
        for j in 0..8 {
            let x = ch[j];
            lo[j] = if x < lo[j] { x } else { lo[j] };
            hi[j] = if x > hi[j] { x } else { hi[j] };
            nan[j] |= x.is_nan();
        }
    }
    let mut l = lo.iter().copied().fold(f32::INFINITY, f32::min);
    let mut h = hi.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut n = nan.iter().any(|b| *b);
    for &x in rest {
        l = if x < l { x } else { l };
        h = if x > h { x } else { h };
        n |= x.is_nan();
    }
    (l, h, n)
}

/// Fills each channel's histogram with the batch (every grid already covers the batch).
fn fill(hists: &mut [ChannelHist], data: &[f32], l: Layout) {
    if l.channels == 1 {
        let h = &mut hists[0];
        if !h.has_grid() || data.len() <= 2 * CHUNK {
            h.fill(data);
            return;
        }
        let nb = h.counts.len();
        let shared: &ChannelHist = h;
        let partial: Vec<Vec<u64>> = data
            .par_chunks(CHUNK)
            .fold(
                || vec![0u64; nb],
                |mut acc, chunk| {
                    shared.fill_into(&mut acc, chunk);
                    acc
                },
            )
            .collect();
        // Integer sums: the order (and the thread count) cannot change the result.
        for p in partial {
            for (a, b) in h.counts.iter_mut().zip(p) {
                *a += b;
            }
        }
        return;
    }
    let g = l.group();
    hists.par_chunks_mut(g).enumerate().for_each(|(gi, hs)| {
        if l.inner < 16 {
            // Short runs: tile rows so a tile of the group's columns stays in cache while each
            // channel's histogram is filled in turn (its counts then stay in L1).
            const ROWS: usize = 256;
            for o0 in (0..l.outer).step_by(ROWS) {
                let rows = o0..(o0 + ROWS).min(l.outer);
                for (k, h) in hs.iter_mut().enumerate() {
                    let c = gi * g + k;
                    h.fill_iter(rows.clone().flat_map(|o| l.block(data, o, c).iter().copied()));
                }
            }
            return;
        }
        for o in 0..l.outer {
            for (k, h) in hs.iter_mut().enumerate() {
                h.fill(l.block(data, o, gi * g + k));
            }
        }
    });
}
