//! Calibration methods and the observer configuration.

use crate::internal::*;

/// Default EMA decay (NNI's QAT quantizer).
pub const DEFAULT_EMA_DECAY: f64 = 0.99;
/// Default percentile (ModelOpt / pytorch-quantization).
pub const DEFAULT_PERCENTILE: f64 = 99.99;
/// Default number of histogram bins (ModelOpt `HistogramCalibrator`).
pub const DEFAULT_NUM_BINS: usize = 2048;
/// Smallest accepted number of histogram bins: entropy and MSE start their search at bin 128
/// and MSE needs at least one candidate after it.
pub const MIN_NUM_BINS: usize = 129;
/// Largest number of bins a histogram may hold (initially or after streaming growth), so memory
/// stays bounded (32 MiB of counts per channel).
pub const MAX_HISTOGRAM_BINS: usize = 1 << 22;

fn default_decay() -> f64 {
    DEFAULT_EMA_DECAY
}
fn default_percentile() -> f64 {
    DEFAULT_PERCENTILE
}

/// How a tensor's range is derived from calibration data.
///
/// Strings: `minmax`, `ema` (decay 0.99), `ema:0.9`, `percentile` (99.99), `percentile:99.9`,
/// `entropy`, `mse`; [`Display`](std::fmt::Display) writes the same forms back.
///
/// ```
/// use calibr8_calibration::Method;
/// let m: Method = "percentile:99.9".parse()?;
/// assert_eq!(m, Method::Percentile { percentile: 99.9 });
/// assert_eq!("ema".parse::<Method>()?, Method::EmaMinMax { decay: 0.99 });
/// assert_eq!(Method::Entropy.to_string(), "entropy");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// amax = max|x| over all batches ([`crate::observers::minmax`]).
    MinMax,
    /// Exponential moving average of per-batch min and max, as NNI's QAT quantizer
    /// ([`crate::observers::ema_minmax`]).
    EmaMinMax {
        /// Weight of the running value (default 0.99), in (0, 1).
        #[serde(default = "default_decay")]
        decay: f64,
    },
    /// Left edge of the first histogram bin whose CDF reaches `percentile`/100
    /// ([`crate::observers::percentile`]).
    Percentile {
        /// In (0, 100], default 99.99.
        #[serde(default = "default_percentile")]
        percentile: f64,
    },
    /// TensorRT EntropyCalibration2: minimise KL divergence ([`crate::observers::entropy`]).
    Entropy,
    /// Minimise the histogram-weighted quantization MSE ([`crate::observers::mse`]).
    Mse,
}

impl Method {
    /// Every method with its default parameters, in a stable order.
    pub fn all_default() -> Vec<Method> {
        vec![
            Method::MinMax,
            Method::EmaMinMax { decay: DEFAULT_EMA_DECAY },
            Method::Percentile { percentile: DEFAULT_PERCENTILE },
            Method::Entropy,
            Method::Mse,
        ]
    }

    /// Whether this method is computed from the |x| histogram.
    pub fn uses_histogram(&self) -> bool {
        matches!(self, Method::Percentile { .. } | Method::Entropy | Method::Mse)
    }

    /// Checks the method's parameter; `tensor` names the observer in the error.
    pub(crate) fn validate(&self, tensor: &str) -> Result<(), Error> {
        match *self {
            Method::EmaMinMax { decay } if !(decay > 0.0 && decay < 1.0) => {
                Err(Error::InvalidConfig {
                    tensor: tensor.to_string(),
                    option: "decay",
                    value: decay.to_string(),
                    remedy: "the EMA decay must lie in the open interval (0, 1); NNI uses 0.99"
                        .into(),
                })
            }
            Method::Percentile { percentile } if !(percentile > 0.0 && percentile <= 100.0) => {
                Err(Error::InvalidConfig {
                    tensor: tensor.to_string(),
                    option: "percentile",
                    value: percentile.to_string(),
                    remedy: "the percentile must lie in (0, 100], e.g. 99.99".into(),
                })
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::MinMax => f.write_str("minmax"),
            Method::EmaMinMax { decay } if *decay == DEFAULT_EMA_DECAY => f.write_str("ema"),
            Method::EmaMinMax { decay } => write!(f, "ema:{decay}"),
            Method::Percentile { percentile } if *percentile == DEFAULT_PERCENTILE => {
                f.write_str("percentile")
            }
            Method::Percentile { percentile } => write!(f, "percentile:{percentile}"),
            Method::Entropy => f.write_str("entropy"),
            Method::Mse => f.write_str("mse"),
        }
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, arg) = match lower.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (lower.as_str(), None),
        };
        let parse_arg = |what: &str, default: f64| -> Result<f64, String> {
            match arg {
                None => Ok(default),
                Some(a) => a.parse::<f64>().map_err(|_| {
                    format!("`{s}`: `{a}` is not a number; write e.g. `{name}:{default}`")
                }),
            }
            .and_then(|v| {
                let m = if what == "decay" {
                    Method::EmaMinMax { decay: v }
                } else {
                    Method::Percentile { percentile: v }
                };
                m.validate("-").map(|_| v).map_err(|e| match e {
                    Error::InvalidConfig { remedy, .. } => format!("`{s}`: {remedy}"),
                    other => other.to_string(),
                })
            })
        };
        let no_arg = |m: Method| -> Result<Method, String> {
            match arg {
                None => Ok(m),
                Some(_) => {
                    Err(format!("`{s}`: method `{name}` takes no parameter; write `{name}`"))
                }
            }
        };
        match name {
            "minmax" | "min_max" | "max" => no_arg(Method::MinMax),
            "ema" | "ema_minmax" | "ema_min_max" => {
                Ok(Method::EmaMinMax { decay: parse_arg("decay", DEFAULT_EMA_DECAY)? })
            }
            "percentile" => {
                Ok(Method::Percentile { percentile: parse_arg("percentile", DEFAULT_PERCENTILE)? })
            }
            "entropy" => no_arg(Method::Entropy),
            "mse" => no_arg(Method::Mse),
            _ => Err(format!(
                "unknown calibration method `{s}`; expected one of minmax, ema, ema:<decay>, \
                 percentile, percentile:<p>, entropy, mse"
            )),
        }
    }
}

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
        self.method.validate(tensor)?;
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
            || self.method.uses_histogram()
            || matches!(self.method, Method::EmaMinMax { .. })
    }

    /// The EMA decay tracked, if any: the method's own, or 0.99 under `collect_all`.
    pub fn ema_decay(&self) -> Option<f64> {
        match self.method {
            Method::EmaMinMax { decay } => Some(decay),
            _ if self.collect_all => Some(DEFAULT_EMA_DECAY),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for m in Method::all_default()
            .into_iter()
            .chain([Method::EmaMinMax { decay: 0.9 }, Method::Percentile { percentile: 99.9 }])
        {
            assert_eq!(m.to_string().parse::<Method>(), Ok(m));
        }
        assert!("percentile:101".parse::<Method>().is_err());
        assert!("ema:1".parse::<Method>().is_err());
        assert!("entropy:3".parse::<Method>().is_err());
        assert!("kl".parse::<Method>().is_err());
    }

    #[test]
    fn serde_defaults() {
        let m: Method = serde_json::from_str(r#"{"method":"percentile"}"#).expect("json");
        assert_eq!(m, Method::Percentile { percentile: 99.99 });
        let m: Method = serde_json::from_str(r#"{"method":"ema_min_max"}"#).expect("json");
        assert_eq!(m, Method::EmaMinMax { decay: 0.99 });
        let s = serde_json::to_string(&Method::Entropy).expect("json");
        assert_eq!(s, r#"{"method":"entropy"}"#);
    }

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
