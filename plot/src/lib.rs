//! In-memory charts for calibr8 reports: grouped bar charts and heat-maps, each rendered to an
//! SVG string and a PNG byte buffer, so callers write them through `OutputSet` (atomically).
//!
//! Text is drawn with the bundled DejaVu Sans (`assets/`, Bitstream Vera license) through
//! plotters' `ab_glyph` feature: rendering never depends on the system's fonts or fontconfig.
//! Values are printed on the bars and cells; a legend appears when a chart has more than one
//! series. Empty or mismatched input is a [`PlotError`], never a panic.
//!
//! ```
//! use calibr8_plot::{bar_chart, BarChart, Series};
//!
//! let chart = BarChart {
//!     title: "digits_cnn latency".into(),
//!     categories: vec!["batch 1".into(), "batch 32".into()],
//!     series: vec![
//!         Series { name: "tract fp32".into(), values: vec![0.21, 3.4] },
//!         Series { name: "tract int8".into(), values: vec![0.15, 1.9] },
//!     ],
//!     value_label: "latency (ms)".into(),
//!     horizontal: false,
//!     value_axis: calibr8_plot::ValueAxis::Zero,
//!     lines: vec![],
//! };
//! let out = bar_chart(&chart)?;
//! assert!(out.svg.contains("digits_cnn latency"));
//! assert!(out.png.starts_with(b"\x89PNG"));
//! # Ok::<(), calibr8_plot::PlotError>(())
//! ```
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

mod axis;
mod bar;
mod canvas;
mod color;
mod error;
mod font;
mod format;
mod heatmap;

pub use bar::{bar_chart, bar_chart_size};
pub use error::PlotError;
pub use format::ValueFormat;
pub use heatmap::{heatmap, heatmap_size};

pub mod reports;

/// One named series of a [`BarChart`]: one value per category (NaN = n/a, drawn as a label only).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry, e.g. `"tract int8"`.
    pub name: String,
    /// One value per category of the chart, in the chart's category order.
    pub values: Vec<f64>,
}

/// A grouped bar chart: one group per category, one bar per series inside each group.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Title drawn above the chart.
    pub title: String,
    /// Group labels, e.g. `["batch 1", "batch 32"]` or layer names.
    pub categories: Vec<String>,
    /// The series; each has exactly `categories.len()` values.
    pub series: Vec<Series>,
    /// Value-axis label with its unit, e.g. `"latency (ms)"`.
    pub value_label: String,
    /// Bars grow to the right and categories are listed top to bottom: for long category names
    /// such as layer names.
    pub horizontal: bool,
    /// How the value axis is scaled.
    pub value_axis: ValueAxis,
    /// Reference and target lines across the bars (e.g. the fp32 accuracy, an SQNR target).
    pub lines: Vec<RefLine>,
}

/// Scale of a bar chart's value axis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ValueAxis {
    /// Linear from 0: bar lengths are proportional to the values (latencies, counts).
    #[default]
    Zero,
    /// Linear over the data's own range: for values whose differences matter and whose
    /// distance from 0 does not (98.06 % vs 98.33 %, 36 vs 37.7 dB). Bars start at the axis
    /// minimum, so lengths show differences, not ratios; the axis labels say where it starts.
    Fit,
    /// Logarithmic: for values spanning decades (batch 1 at 0.06 ms, batch 32 at 3,000 ms).
    /// Values must be positive.
    Log,
}

/// A line across a bar chart at `value`, with a legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    /// Legend entry, e.g. `"fp32 reference (98.06 %)"` or `"target ≥ 40 dB"`.
    pub label: String,
    /// Where the line is, in the chart's value units.
    pub value: f64,
    /// Reference (grey) or target (red).
    pub kind: LineKind,
}

/// What a [`RefLine`] stands for; sets its colour, apart from every series colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A baseline such as the float model's accuracy.
    Reference,
    /// A goal such as an accuracy target.
    Target,
}

/// How heat-map cells are coloured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum ColorScale {
    /// Viridis from the smallest to the largest value (log when they span a factor of 10).
    #[default]
    Sequential,
    /// Ratios: a diverging map on a log scale, white at `center` (1 for speed-ups), one hue
    /// above and another below, symmetric in log space; a colour bar shows the scale.
    Diverging {
        /// The neutral ratio, e.g. 1.0.
        center: f64,
    },
}

/// A heat-map of `rows × columns` values with each value printed in its cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Title drawn above the map.
    pub title: String,
    /// Row labels, top to bottom.
    pub rows: Vec<String>,
    /// Column labels, left to right.
    pub columns: Vec<String>,
    /// `values[row][column]`; NaN = n/a, drawn grey.
    pub values: Vec<Vec<f64>>,
    /// What a cell holds, with its unit, e.g. `"speed-up (row ÷ column)"`; drawn under the map.
    pub value_label: String,
    /// How a cell's value is printed: `"{:.2}×"` = 2 decimals and the suffix `×`; any text before
    /// `{` is a prefix. See [`ValueFormat`].
    pub value_format: String,
    /// How cells are coloured.
    pub colors: ColorScale,
    /// `(row, column)` cells left blank (white, no text): e.g. a speed-up map's diagonal and
    /// the reciprocal half.
    pub empty: Vec<(usize, usize)>,
}

/// A rendered chart: the same picture as SVG text and as PNG bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Standalone SVG document.
    pub svg: String,
    /// PNG file contents (8-bit RGB).
    pub png: Vec<u8>,
}
