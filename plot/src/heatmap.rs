//! Heat-maps: a grid of coloured cells with each value printed in its cell.

use crate::axis::Slots;
use crate::canvas::{render, text_width, Scene};
use crate::{color, font::FAMILY, Heatmap, PlotError, Rendered, ValueFormat};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const LABEL_PX: u32 = 14;
const CELL_TEXT_PX: u32 = 14;
const TITLE_PX: u32 = 22;
const CELL_HEIGHT: u32 = 48;

/// Renders `map` as SVG and PNG of [`heatmap_size`].
///
/// Colours run along viridis from the smallest finite value (dark) to the largest (bright), on a
/// log scale when all values are positive and span a factor of 10 or more; NaN cells are grey
/// and read `n/a`. Errors when there are no rows or columns, when a row does not have one value
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
    (width.max(title).max(label).max(360), rows * CELL_HEIGHT + 150)
}

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
    ValueFormat::parse(&map.value_format)
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
        let mut ctx = ChartBuilder::on(root)
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
        for (r, values) in map.values.iter().enumerate() {
            let (y0, y1) = ((rows - r - 1) as f64, (rows - r) as f64);
            for (c, &v) in values.iter().enumerate() {
                let fill = if v.is_nan() {
                    color::MISSING
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
        Ok(())
    }
}
