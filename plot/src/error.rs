use thiserror::Error;

/// Why a chart could not be rendered. Every variant names the chart part at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlotError {
    /// A chart needs at least one of something (categories, series, rows, columns).
    #[error("chart {chart:?}: no {what} to draw; give at least one")]
    Empty {
        /// Chart title.
        chart: String,
        /// What is missing, e.g. `"categories"`.
        what: String,
    },
    /// A list has the wrong length for the chart's shape.
    #[error("chart {chart:?}: {what} has {found} values but the chart has {expected} {of}")]
    Mismatch {
        /// Chart title.
        chart: String,
        /// The list at fault, e.g. `series "tract int8"` or `row "fp32"`.
        what: String,
        /// Length the shape requires.
        expected: usize,
        /// Length given.
        found: usize,
        /// What the expected length counts, e.g. `"categories"`.
        of: String,
    },
    /// An infinite value (NaN is allowed and means n/a).
    #[error("chart {chart:?}: {what} is {value}; values must be finite (use NaN for n/a)")]
    NonFinite {
        /// Chart title.
        chart: String,
        /// Where the value sits, e.g. `series "fp32", category "batch 1"`.
        what: String,
        /// The value.
        value: f64,
    },
    /// A value ≤ 0 on a logarithmic axis.
    #[error("chart {chart:?}: {what} is {value}, which a logarithmic axis cannot show; use ValueAxis::Zero or Fit")]
    NotPositive {
        /// Chart title.
        chart: String,
        /// Where the value sits.
        what: String,
        /// The value.
        value: f64,
    },
    /// A `value_format` that is not `prefix{:.N}suffix` / `prefix{}suffix`.
    #[error("value format {format:?}: {reason}; use e.g. \"{{:.2}}×\"")]
    BadFormat {
        /// The format string given.
        format: String,
        /// What is wrong with it.
        reason: String,
    },
    /// plotters failed while drawing.
    #[error("drawing chart {chart:?} failed: {message}")]
    Draw {
        /// Chart title.
        chart: String,
        /// plotters' message.
        message: String,
    },
    /// PNG encoding failed.
    #[error("encoding chart {chart:?} as PNG failed: {message}")]
    Encode {
        /// Chart title.
        chart: String,
        /// The encoder's message.
        message: String,
    },
}
