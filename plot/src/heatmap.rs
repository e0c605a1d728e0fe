//! Heat-maps: a grid of coloured cells with each value printed in its cell.

use crate::axis::Slots;
use crate::canvas::{render, text_width, Scene};
use crate::{color, font::FAMILY, ColorScale, Heatmap, PlotError, Rendered, ValueFormat};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const LABEL_PX: u32 = 14;
const CELL_TEXT_PX: u32 = 14;
const TITLE_PX: u32 = 22;
const CELL_HEIGHT: u32 = 48;

/// Renders `map` as SVG and PNG of [`heatmap_size`].
///
/// With [`ColorScale::Sequential`], colours run along viridis from the smallest finite value
/// (dark) to the largest (bright), on a log scale when all values are positive and span a factor
/// of 10 or more. With [`ColorScale::Diverging`], ratios are coloured on a log scale, white at
/// the centre, and a colour bar is drawn. NaN cells are grey and read `n/a`; cells listed in
/// `empty` stay blank. Errors when there are no rows or columns, when a row does not have one value
/// per column, on an infinite value, or on a bad `value_format`.
pub fn heatmap(map: &Heatmap) -> Result<Rendered, PlotError> {
    let format = validate(map)?;
    render(&HeatmapScene { map, format })
}

/// Pixel size `(width, height)` of the picture [`heatmap`] draws for `map`: it grows with the
/// number of rows and columns and with the longest labels.
pub fn heatmap_size(map: &Heatmap) -> (u32, u32) {
    let cols = map.columns.len().max(1) as u32;
    let rows = map.rows.len().max(1) as u32;
    let width = row_label_width(map) + cols * cell_width(map) + 50;
    let title = text_width(&map.title, TITLE_PX) + 40;
    // The value label is centred under the cells (right of the row labels) and must fit there.
    let label = row_label_width(map) + text_width(&map.value_label, LABEL_PX) + 50;
    let bar = if matches!(map.colors, ColorScale::Diverging { .. }) { COLOR_BAR_PX } else { 0 };
    ((width + bar).max(title).max(label).max(360), (rows * CELL_HEIGHT + 150).max(340))
}

/// Width of the colour bar area (bar, ticks and labels).
const COLOR_BAR_PX: u32 = 110;

fn validate(map: &Heatmap) -> Result<ValueFormat, PlotError> {
    let empty = |what: &str| PlotError::Empty { chart: map.title.clone(), what: what.to_string() };
    if map.rows.is_empty() {
        return Err(empty("rows"));
    }
    if map.columns.is_empty() {
        return Err(empty("columns"));
    }
    if map.values.len() != map.rows.len() {
        return Err(PlotError::Mismatch {
            chart: map.title.clone(),
            what: "values".into(),
            expected: map.rows.len(),
            found: map.values.len(),
            of: "rows".into(),
        });
    }
    for (row, values) in map.rows.iter().zip(&map.values) {
        if values.len() != map.columns.len() {
            return Err(PlotError::Mismatch {
                chart: map.title.clone(),
                what: format!("row {row:?}"),
                expected: map.columns.len(),
                found: values.len(),
                of: "columns".into(),
            });
        }
        for (v, col) in values.iter().zip(&map.columns) {
            if v.is_infinite() {
                return Err(PlotError::NonFinite {
                    chart: map.title.clone(),
                    what: format!("row {row:?}, column {col:?}"),
                    value: *v,
                });
            }
        }
    }
    if let ColorScale::Diverging { center } = map.colors {
        if !(center.is_finite() && center > 0.0) {
            return Err(PlotError::NotPositive {
                chart: map.title.clone(),
                what: "the diverging scale's centre".into(),
                value: center,
            });
        }
        for (r, values) in map.values.iter().enumerate() {
            for (c, v) in values.iter().enumerate() {
                if *v <= 0.0 && !map.empty.contains(&(r, c)) {
                    return Err(PlotError::NotPositive {
                        chart: map.title.clone(),
                        what: format!("row {:?}, column {:?}", map.rows[r], map.columns[c]),
                        value: *v,
                    });
                }
            }
        }
    }
    ValueFormat::parse(&map.value_format)
}

/// The ratio span of a diverging map: the largest factor away from the centre, at least 2.
fn diverging_span(map: &Heatmap, center: f64) -> f64 {
    let cells = map.values.iter().enumerate().flat_map(|(r, row)| {
        row.iter().enumerate().filter(move |(c, _)| !map.empty.contains(&(r, *c))).map(|(_, v)| *v)
    });
    cells
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| (v / center).ln().abs())
        .fold(2f64.ln(), f64::max)
        .exp()
}

/// Colour-bar ticks: 1-2-5 ratios within [1/span, span], the centre included.
fn ticks(span: f64) -> Vec<f64> {
    let mut out = vec![];
    for e in -3..=3 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(e);
            if v >= 1.0 / span * 0.999 && v <= span * 1.001 {
                out.push(v);
            }
        }
    }
    out
}

fn row_label_width(map: &Heatmap) -> u32 {
    let longest = map.rows.iter().map(|r| text_width(r, LABEL_PX)).max();
    (longest.unwrap_or(0) + 20).clamp(60, 420)
}

fn cell_width(map: &Heatmap) -> u32 {
    let column = map.columns.iter().map(|c| text_width(c, LABEL_PX) + 12).max();
    let format = ValueFormat::parse(&map.value_format).ok();
    let value = map
        .values
        .iter()
        .flatten()
        .filter_map(|v| format.as_ref().map(|f| text_width(&f.format(*v), CELL_TEXT_PX) + 16))
        .max();
    column.unwrap_or(0).max(value.unwrap_or(0)).clamp(110, 260)
}

struct HeatmapScene<'a> {
    map: &'a Heatmap,
    format: ValueFormat,
}

impl Scene for HeatmapScene<'_> {
    fn title(&self) -> &str {
        &self.map.title
    }

    fn size(&self) -> (u32, u32) {
        heatmap_size(self.map)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let map = self.map;
        let (rows, cols) = (map.rows.len(), map.columns.len());
        let col_label =
            |v: &f64| map.columns.get(v.floor().max(0.0) as usize).cloned().unwrap_or_default();
        // Row 0 at the top: row r spans y = rows - r - 1 … rows - r.
        let row_label = |v: &f64| {
            let r = rows as f64 - v.ceil();
            map.rows.get(r.max(0.0) as usize).cloned().unwrap_or_default()
        };
        let label_style = (FAMILY, LABEL_PX).into_font();
        let (width, _) = self.size();
        let (cells_area, bar_area) = match map.colors {
            ColorScale::Diverging { .. } => root.split_horizontally(width - COLOR_BAR_PX),
            ColorScale::Sequential => root.split_horizontally(width),
        };
        let mut ctx = ChartBuilder::on(&cells_area)
            .caption(&map.title, (FAMILY, TITLE_PX))
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(row_label_width(map))
            .build_cartesian_2d(Slots { n: cols }, Slots { n: rows })
            .map_err(|e| e.to_string())?;
        ctx.configure_mesh()
            .disable_mesh()
            .x_labels(cols)
            .y_labels(rows)
            .x_label_formatter(&col_label)
            .y_label_formatter(&row_label)
            .x_desc(&map.value_label)
            .label_style(label_style.clone())
            .axis_desc_style(label_style)
            .draw()
            .map_err(|e| e.to_string())?;

        let finite = map.values.iter().flatten().filter(|v| v.is_finite());
        let (lo, hi) =
            finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        // Ratios spanning decades (speed-ups from 0.02× to 50×) get a log colour scale, so the
        // cells near 1× do not all share one colour.
        let log = lo > 0.0 && hi / lo >= 10.0;
        let position = |v: f64| {
            if log {
                (v.ln() - lo.ln()) / (hi.ln() - lo.ln())
            } else {
                (v - lo) / (hi - lo)
            }
        };
        let text_style = TextStyle::from((FAMILY, CELL_TEXT_PX).into_font())
            .pos(Pos::new(HPos::Center, VPos::Center));
        let diverging = match map.colors {
            ColorScale::Diverging { center } => Some((center, diverging_span(map, center))),
            ColorScale::Sequential => None,
        };
        for (r, values) in map.values.iter().enumerate() {
            let (y0, y1) = ((rows - r - 1) as f64, (rows - r) as f64);
            for (c, &v) in values.iter().enumerate() {
                if map.empty.contains(&(r, c)) {
                    continue;
                }
                let fill = if v.is_nan() {
                    color::MISSING
                } else if let Some((center, span)) = diverging {
                    color::diverging((v / center).ln() / span.ln())
                } else if hi > lo {
                    color::sequential(position(v))
                } else {
                    color::sequential(0.5)
                };
                let (x0, x1) = (c as f64, c as f64 + 1.0);
                ctx.draw_series([
                    Rectangle::new([(x0, y0), (x1, y1)], fill.filled()),
                    Rectangle::new([(x0, y0), (x1, y1)], WHITE.stroke_width(2)),
                ])
                .map_err(|e| e.to_string())?;
                let ink = color::text_on(fill);
                let style = text_style.clone().color(&ink);
                let text =
                    Text::new(self.format.format(v), ((x0 + x1) / 2.0, (y0 + y1) / 2.0), style);
                ctx.draw_series(std::iter::once(text)).map_err(|e| e.to_string())?;
            }
        }
        if let Some((center, span)) = diverging {
            draw_color_bar(&bar_area, center, span, &self.format)?;
        }
        Ok(())
    }
}

/// A vertical colour bar: the diverging map from `center / span` (bottom) to `center · span`
/// (top) on a log scale, with 1-2-5 ticks.
fn draw_color_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    center: f64,
    span: f64,
    format: &ValueFormat,
) -> Result<(), String> {
    let (top, height, x0, x1) = (70i32, 220i32, 10i32, 32i32);
    let steps = 110;
    for k in 0..steps {
        // t from +1 at the top to -1 at the bottom.
        let t = 1.0 - 2.0 * (k as f64 + 0.5) / steps as f64;
        let y0 = top + (k * height) / steps;
        let y1 = top + ((k + 1) * height) / steps;
        area.draw(&Rectangle::new([(x0, y0), (x1, y1)], color::diverging(t).filled()))
            .map_err(|e| e.to_string())?;
    }
    area.draw(&Rectangle::new([(x0, top), (x1, top + height)], BLACK.stroke_width(1)))
        .map_err(|e| e.to_string())?;
    let style =
        TextStyle::from((FAMILY, LABEL_PX).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for v in ticks(span) {
        let t = v.ln() / span.ln();
        let y = top + ((1.0 - t) / 2.0 * height as f64).round() as i32;
        area.draw(&PathElement::new(vec![(x1, y), (x1 + 5, y)], BLACK.stroke_width(1)))
            .map_err(|e| e.to_string())?;
        area.draw(&Text::new(format.format(v * center), (x1 + 8, y), style.clone()))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
