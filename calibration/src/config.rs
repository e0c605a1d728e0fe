//! [`ObserverConfig`]: what one [`crate::TensorObserver`] collects, and how.

use crate::internal::*;

/// Default number of histogram bins (ModelOpt `HistogramCalibrator`).
pub const DEFAULT_NUM_BINS: usize = 2048;
/// Smallest accepted number of histogram bins: entropy and MSE start their search at bin 128
/// and MSE needs at least one candidate after it.
pub const MIN_NUM_BINS: usize = 129;
/// Largest number of bins a histogram may hold (initially or after streaming growth), so memory
/// stays bounded (32 MiB of counts per channel).
pub const MAX_HISTOGRAM_BINS: usize = 1 << 22;

/// Whether one range is kept for the whole tensor or one per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Granularity {
    /// One range for the whole tensor.
    #[default]
    PerTensor,
    /// One range per index along `axis`; every other axis is reduced.
    PerChannel {
        /// The channel axis (0 for conv weights `[O, I, kh, kw]`).
        axis: usize,
    },
}

/// How the |x| histogram is collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HistogramMode {
    /// One pass, as ModelOpt's `HistogramCalibrator.collect`: the first batch's max|x| fixes the
    /// bin width; later batches that exceed the last edge append whole bins of that width. The
    /// result depends on batch order (not on thread count).
    #[default]
    Streaming,
    /// Two passes: the first finds max|x| (which shards can agree on with
    /// [`crate::TensorObserver::set_global_max`]), the second fills a fixed grid of `num_bins` bins over
    /// `[0, max]`. Order-independent, and partial histograms merge exactly. Written
    /// `two_pass` (configs and CLI alike); `two-pass` is accepted too.
    #[serde(alias = "two-pass")]
    TwoPass,
}

/// Configuration of one [`crate::TensorObserver`].
///
/// ```
/// use calibr8_calibration::{Granularity, HistogramMode, Method, ObserverConfig};
/// let c = ObserverConfig::new(Method::Entropy).two_pass();
/// assert_eq!(c.histogram, HistogramMode::TwoPass);
/// assert_eq!(c.num_bins, 2048);
/// assert_eq!(ObserverConfig::new(Method::MinMax).per_channel(0).granularity,
///            Granularity::PerChannel { axis: 0 });
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObserverConfig {
    /// The method [`crate::TensorObserver::finish`] uses.
    pub method: Method,
    /// Per tensor or per channel.
    pub granularity: Granularity,
    /// Streaming or two-pass histogram collection.
    pub histogram: HistogramMode,
    /// Histogram bins over `[0, max|x|]` (default 2048, at least 129).
    pub num_bins: usize,
    /// Keep min/max, EMA and the histogram, so [`crate::TensorObserver::finish_as`] can answer every
    /// method from one pass over the data.
    pub collect_all: bool,
}

impl Default for ObserverConfig {
    fn default() -> Self {
        ObserverConfig::new(Method::MinMax)
    }
}

impl ObserverConfig {
    /// Per tensor, streaming histogram, 2048 bins, only `method`'s statistics.
    pub fn new(method: Method) -> Self {
        ObserverConfig {
            method,
            granularity: Granularity::PerTensor,
            histogram: HistogramMode::Streaming,
            num_bins: DEFAULT_NUM_BINS,
            collect_all: false,
        }
    }

    /// The same configuration, per channel along `axis`.
    pub fn per_channel(mut self, axis: usize) -> Self {
        self.granularity = Granularity::PerChannel { axis };
        self
    }

    /// The same configuration, with a two-pass histogram.
    pub fn two_pass(mut self) -> Self {
        self.histogram = HistogramMode::TwoPass;
        self
    }

    /// The same configuration, collecting the statistics of every method.
    pub fn collect_all(mut self) -> Self {
        self.collect_all = true;
        self
    }

    /// The same configuration with `num_bins` bins.
    pub fn with_num_bins(mut self, num_bins: usize) -> Self {
        self.num_bins = num_bins;
        self
    }

    /// Checks every option; `tensor` names the observer in the error.
    pub fn validate(&self, tensor: &str) -> Result<(), Error> {
        self.method.validate().map_err(|e| e.for_tensor(tensor))?;
        if !(MIN_NUM_BINS..=MAX_HISTOGRAM_BINS).contains(&self.num_bins) {
            return Err(Error::InvalidConfig {
                tensor: tensor.to_string(),
                option: "num_bins",
                value: self.num_bins.to_string(),
                remedy: format!(
                    "use between {MIN_NUM_BINS} and {MAX_HISTOGRAM_BINS} bins (default \
                     {DEFAULT_NUM_BINS}); entropy and MSE search from bin 128"
                ),
            });
        }
        Ok(())
    }

    /// Whether the |x| histogram is collected (histogram methods, EMA's clipped fraction,
    /// `collect_all`).
    pub fn collects_histogram(&self) -> bool {
        self.collect_all
            || match self.method {
                Method::MinMax => false,
                // The histogram gives EMA's clipped fraction.
                Method::EmaMinMax { .. } => true,
                // Auto needs every candidate's statistics.
                Method::Percentile { .. } | Method::Entropy | Method::Mse | Method::Auto => true,
            }
    }

    /// The EMA decay tracked, if any: the method's own, or 0.99 under `collect_all`.
    pub fn ema_decay(&self) -> Option<f64> {
        match self.method {
            Method::EmaMinMax { decay } => Some(decay),
            Method::Auto => Some(DEFAULT_EMA_DECAY),
            Method::MinMax | Method::Percentile { .. } | Method::Entropy | Method::Mse => {
                self.collect_all.then_some(DEFAULT_EMA_DECAY)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_names_option() {
        let bad = ObserverConfig::new(Method::MinMax).with_num_bins(64);
        match bad.validate("t") {
            Err(Error::InvalidConfig { option, .. }) => assert_eq!(option, "num_bins"),
            other => panic!("{other:?}"),
        }
        let bad = ObserverConfig::new(Method::Percentile { percentile: 0.0 });
        assert!(matches!(
            bad.validate("t"),
            Err(Error::InvalidConfig { option: "percentile", .. })
        ));
        let bad = ObserverConfig::new(Method::EmaMinMax { decay: f64::NAN });
        assert!(matches!(bad.validate("t"), Err(Error::InvalidConfig { option: "decay", .. })));
    }
}
