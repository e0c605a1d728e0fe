//! Grouped bar charts: one group per category, one bar per series.

use crate::axis::Slots;
use crate::canvas::{render, text_width, Scene};
use crate::format::short;
use crate::{color, font::FAMILY, BarChart, LineKind, PlotError, Rendered, ValueAxis};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const LABEL_PX: u32 = 14;
const VALUE_PX: u32 = 12;
const TITLE_PX: u32 = 22;
/// Bar thickness in pixels (the chart grows with the number of bars).
const BAR_PX: u32 = 30;
/// Gap between category groups in pixels.
const GAP_PX: u32 = 28;

/// Renders `chart` as SVG and PNG of [`bar_chart_size`].
///
/// NaN values mean n/a: no bar, the label `n/a` instead. Errors when there are no categories or
/// series, when a series does not have one value per category, or on an infinite value.
pub fn bar_chart(chart: &BarChart) -> Result<Rendered, PlotError> {
    validate(chart)?;
    render(&BarScene { chart })
}

/// Pixel size `(width, height)` of the picture [`bar_chart`] draws for `chart`: it grows with the
/// number of bars (and, for horizontal charts, with the longest category name).
pub fn bar_chart_size(chart: &BarChart) -> (u32, u32) {
    let bars_per_group = chart.series.len().max(1) as u32;
    let groups = chart.categories.len().max(1) as u32;
    let along = groups * (bars_per_group * BAR_PX + GAP_PX);
    let legend = legend_width(chart);
    // The title is centred over the plot (left of the legend) and must fit there.
    let title = text_width(&chart.title, TITLE_PX) + 60 + legend;
    if chart.horizontal {
        let labels = category_label_width(chart);
        ((labels + 640 + legend).max(title), (along + 130).max(320))
    } else {
        ((along + 110 + legend).max(560).max(title), 460)
    }
}

fn validate(chart: &BarChart) -> Result<(), PlotError> {
    let empty =
        |what: &str| PlotError::Empty { chart: chart.title.clone(), what: what.to_string() };
    if chart.categories.is_empty() {
        return Err(empty("categories"));
    }
    if chart.series.is_empty() {
        return Err(empty("series"));
    }
    for s in &chart.series {
        if s.values.len() != chart.categories.len() {
            return Err(PlotError::Mismatch {
                chart: chart.title.clone(),
                what: format!("series {:?}", s.name),
                expected: chart.categories.len(),
                found: s.values.len(),
                of: "categories".into(),
            });
        }
        for (v, c) in s.values.iter().zip(&chart.categories) {
            let what = || format!("series {:?}, category {c:?}", s.name);
            if v.is_infinite() {
                return Err(PlotError::NonFinite {
                    chart: chart.title.clone(),
                    what: what(),
                    value: *v,
                });
            }
            if chart.value_axis == ValueAxis::Log && *v <= 0.0 {
                return Err(PlotError::NotPositive {
                    chart: chart.title.clone(),
                    what: what(),
                    value: *v,
                });
            }
        }
    }
    for l in &chart.lines {
        let what = || format!("line {:?}", l.label);
        if !l.value.is_finite() {
            return Err(PlotError::NonFinite {
                chart: chart.title.clone(),
                what: what(),
                value: l.value,
            });
        }
        if chart.value_axis == ValueAxis::Log && l.value <= 0.0 {
            return Err(PlotError::NotPositive {
                chart: chart.title.clone(),
                what: what(),
                value: l.value,
            });
        }
    }
    Ok(())
}

/// Legend rows: every series (when more than one), then every line, in drawing order.
fn legend_entries(chart: &BarChart) -> usize {
    let series = if chart.series.len() > 1 { chart.series.len() } else { 0 };
    series + chart.lines.len()
}

fn legend_width(chart: &BarChart) -> u32 {
    if legend_entries(chart) == 0 {
        return 0;
    }
    let names = chart.series.iter().map(|s| s.name.as_str());
    let lines = chart.lines.iter().map(|l| l.label.as_str());
    let longest = names.chain(lines).map(|n| text_width(n, LABEL_PX)).max();
    longest.unwrap_or(0) + 50
}

fn category_label_width(chart: &BarChart) -> u32 {
    let longest = chart.categories.iter().map(|c| text_width(c, LABEL_PX)).max();
    (longest.unwrap_or(0) + 20).clamp(60, 420)
}

/// A value where the axis puts it: log10 on a log axis.
fn on_axis(chart: &BarChart, v: f64) -> f64 {
    match chart.value_axis {
        ValueAxis::Log => v.log10(),
        ValueAxis::Zero | ValueAxis::Fit => v,
    }
}

/// Value-axis range (in axis units) and where bars start. `Zero`: from 0 (or below, for
/// negative values); `Fit`: the data's span with a margin below; `Log`: whole decades around
/// the data. Headroom above for the value labels.
fn value_range(chart: &BarChart) -> (f64, f64, f64) {
    let values = chart.series.iter().flat_map(|s| &s.values).copied();
    let lines = chart.lines.iter().map(|l| l.value);
    let finite: Vec<f64> =
        values.chain(lines).filter(|v| v.is_finite()).map(|v| on_axis(chart, v)).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if finite.is_empty() {
        return (0.0, 1.0, 0.0);
    }
    match chart.value_axis {
        ValueAxis::Zero => {
            let (lo, hi) = (lo.min(0.0), hi.max(0.0));
            let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
            let lo = if lo < 0.0 { lo - 0.15 * span } else { 0.0 };
            (lo, hi + 0.15 * span, 0.0)
        }
        ValueAxis::Fit => {
            // A flat data set still gets a visible span: 1 % of its magnitude, or 1.
            let span = if hi > lo { hi - lo } else { (0.01 * hi.abs()).max(1e-9) };
            let bottom = lo - 0.6 * span;
            (bottom, hi + 0.25 * span, bottom)
        }
        ValueAxis::Log => {
            let (bottom, top) = (lo.floor() - 0.15, hi.ceil().max(lo.floor() + 1.0) + 0.1);
            (bottom, top, bottom)
        }
    }
}

struct BarScene<'a> {
    chart: &'a BarChart,
}

impl Scene for BarScene<'_> {
    fn title(&self) -> &str {
        &self.chart.title
    }

    fn size(&self) -> (u32, u32) {
        bar_chart_size(self.chart)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let chart = self.chart;
        let (width, _) = self.size();
        let (plot_area, legend_area) = root.split_horizontally(width - legend_width(chart));
        let n = chart.categories.len();
        let m = chart.series.len();
        let (lo, hi, base) = value_range(chart);
        let axis_label = |v: &f64| match chart.value_axis {
            // Whole decades exactly (10^2.0 by powf is 99.999…, which would print "100.0").
            ValueAxis::Log if (v - v.round()).abs() < 1e-9 => short(10f64.powi(v.round() as i32)),
            ValueAxis::Log => short(10f64.powf(*v)),
            ValueAxis::Zero | ValueAxis::Fit => short(*v),
        };
        let label = |v: &f64| -> String {
            let i = v.floor().max(0.0) as usize;
            chart.categories.get(i).cloned().unwrap_or_default()
        };
        let label_style = (FAMILY, LABEL_PX).into_font();
        let value_style = TextStyle::from((FAMILY, VALUE_PX).into_font());
        // Bars fill 80% of a group; bar j of group i spans [i + 0.1 + j·w, i + 0.1 + (j+1)·w].
        let w = 0.8 / m as f64;
        let bar = |i: usize, j: usize| {
            (i as f64 + 0.1 + j as f64 * w, i as f64 + 0.1 + (j + 1) as f64 * w)
        };

        let mut builder = ChartBuilder::on(&plot_area);
        builder.caption(&chart.title, (FAMILY, TITLE_PX)).margin(14);
        if chart.horizontal {
            // Category i at the top: y = n - i - 1 … n - i.
            let flip = |v: &f64| label(&(n as f64 - v));
            let mut ctx = builder
                .x_label_area_size(50)
                .y_label_area_size(category_label_width(chart))
                .build_cartesian_2d(lo..hi, Slots { n })
                .map_err(|e| e.to_string())?;
            ctx.configure_mesh()
                .disable_y_mesh()
                .y_labels(n)
                .y_label_formatter(&flip)
                .x_label_formatter(&axis_label)
                .x_desc(&chart.value_label)
                .label_style(label_style.clone())
                .axis_desc_style(label_style)
                .draw()
                .map_err(|e| e.to_string())?;
            for (j, s) in chart.series.iter().enumerate() {
                let fill = color::series(j).filled();
                for (i, &v) in s.values.iter().enumerate() {
                    // Series 0 on top of its group, as the legend lists it first.
                    let (a, b) = bar(i, j);
                    let (y0, y1) = (n as f64 - b, n as f64 - a);
                    let mid = (y0 + y1) / 2.0;
                    let x = on_axis(chart, v);
                    if v.is_finite() {
                        ctx.draw_series(std::iter::once(Rectangle::new(
                            [(base, y0), (x, y1)],
                            fill,
                        )))
                        .map_err(|e| e.to_string())?;
                    }
                    let h = if x < base { HPos::Right } else { HPos::Left };
                    let style = value_style.clone().pos(Pos::new(h, VPos::Center));
                    let at = if v.is_finite() { x } else { base };
                    let text = format!(" {} ", short(v));
                    ctx.draw_series(std::iter::once(Text::new(text, (at, mid), style)))
                        .map_err(|e| e.to_string())?;
                }
            }
            for line in &chart.lines {
                let x = on_axis(chart, line.value);
                ctx.draw_series(std::iter::once(PathElement::new(
                    vec![(x, 0.0), (x, n as f64)],
                    line_style(line.kind),
                )))
                .map_err(|e| e.to_string())?;
            }
        } else {
            let mut ctx = builder
                .x_label_area_size(44)
                .y_label_area_size(70)
                .build_cartesian_2d(Slots { n }, lo..hi)
                .map_err(|e| e.to_string())?;
            ctx.configure_mesh()
                .disable_x_mesh()
                .x_labels(n)
                .x_label_formatter(&label)
                .y_label_formatter(&axis_label)
                .y_desc(&chart.value_label)
                .label_style(label_style.clone())
                .axis_desc_style(label_style)
                .draw()
                .map_err(|e| e.to_string())?;
            for (j, s) in chart.series.iter().enumerate() {
                let fill = color::series(j).filled();
                for (i, &v) in s.values.iter().enumerate() {
                    let (x0, x1) = bar(i, j);
                    let y = on_axis(chart, v);
                    if v.is_finite() {
                        ctx.draw_series(std::iter::once(Rectangle::new(
                            [(x0, base), (x1, y)],
                            fill,
                        )))
                        .map_err(|e| e.to_string())?;
                    }
                    let vpos = if y < base { VPos::Top } else { VPos::Bottom };
                    let style = value_style.clone().pos(Pos::new(HPos::Center, vpos));
                    let at = if v.is_finite() { y } else { base };
                    ctx.draw_series(std::iter::once(Text::new(
                        short(v),
                        ((x0 + x1) / 2.0, at),
                        style,
                    )))
                    .map_err(|e| e.to_string())?;
                }
            }
            for line in &chart.lines {
                let y = on_axis(chart, line.value);
                ctx.draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, y), (n as f64, y)],
                    line_style(line.kind),
                )))
                .map_err(|e| e.to_string())?;
            }
        }
        if legend_entries(chart) > 0 {
            draw_legend(&legend_area, chart)?;
        }
        Ok(())
    }
}

/// Reference lines grey, target lines red, both 2 px: apart from every series colour.
fn line_style(kind: LineKind) -> ShapeStyle {
    match kind {
        LineKind::Reference => color::REFERENCE.stroke_width(2),
        LineKind::Target => color::TARGET.stroke_width(2),
    }
}

/// Legend to the right of the plot: a swatch and the series name per row (series in drawing
/// order, when there are several), then a line sample per reference or target line.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &BarChart,
) -> Result<(), String> {
    let style =
        TextStyle::from((FAMILY, LABEL_PX).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut row = 0;
    if chart.series.len() > 1 {
        for (j, s) in chart.series.iter().enumerate() {
            let y = 60 + 24 * row;
            area.draw(&Rectangle::new([(4, y - 7), (18, y + 7)], color::series(j).filled()))
                .map_err(|e| e.to_string())?;
            area.draw(&Text::new(s.name.clone(), (24, y), style.clone()))
                .map_err(|e| e.to_string())?;
            row += 1;
        }
    }
    for line in &chart.lines {
        let y = 60 + 24 * row;
        area.draw(&PathElement::new(vec![(2, y), (20, y)], line_style(line.kind)))
            .map_err(|e| e.to_string())?;
        area.draw(&Text::new(line.label.clone(), (24, y), style.clone()))
            .map_err(|e| e.to_string())?;
        row += 1;
    }
    Ok(())
}
