//! The charts of calibr8's reports, drawn from the report data itself so every front end (the
//! CLI, a notebook, a service) gets the same pictures: [`compare_charts`] for a
//! [`CompareReport`], [`bench_charts`] for benchmark latencies.

use crate::{
    bar_chart, heatmap, BarChart, ColorScale, Heatmap, LineKind, PlotError, RefLine, Rendered,
    Series, ValueAxis,
};
use calibr8_core::compare::{AccuracyTarget, CompareReport, Metrics};

/// One chart of a report: file stem (`layers_sqnr`), title, picture.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportChart {
    /// File name without extension.
    pub stem: &'static str,
    /// What it shows.
    pub title: String,
    /// SVG and PNG.
    pub rendered: Rendered,
}

/// An infinite SQNR (identical runs) has no bar length; it is drawn as n/a.
fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::NAN
    }
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// `layers_sqnr` (isolated vs cumulative per int8 node), `methods_sqnr`, `methods_top1` (with
/// the fp32 reference as a line) and, with a target, `mixed_steps` (with the target as a line).
/// Value axes span the data, so differences of a fraction of a point or a dB show.
pub fn compare_charts(report: &CompareReport) -> Result<Vec<ReportChart>, PlotError> {
    let mut charts = vec![];
    let model = file_name(&report.model);
    if !report.layers.is_empty() {
        let title = format!("{model}: SQNR per layer ({}, higher is better)", report.chosen_method);
        let chart = BarChart {
            title: title.clone(),
            categories: report
                .layers
                .iter()
                .map(|l| format!("{} ({})", l.node, l.op_type))
                .collect(),
            series: vec![
                Series {
                    name: "isolated: model output, only this layer int8".into(),
                    values: report
                        .layers
                        .iter()
                        .map(|l| finite(l.isolated.sqnr_or_inf()))
                        .collect(),
                },
                Series {
                    name: "cumulative: this layer's output, all int8".into(),
                    values: report
                        .layers
                        .iter()
                        .map(|l| finite(l.cumulative.sqnr_or_inf()))
                        .collect(),
                },
            ],
            value_label: "SQNR (dB)".into(),
            horizontal: true,
            value_axis: ValueAxis::Fit,
            lines: vec![],
        };
        charts.push(ReportChart { stem: "layers_sqnr", title, rendered: bar_chart(&chart)? });
    }
    let methods: Vec<(String, &Metrics)> = report
        .methods
        .iter()
        .filter_map(|m| m.outputs.first().map(|o| (m.method.to_string(), &o.metrics)))
        .collect();
    if let Some(first) = report.methods.first().and_then(|m| m.outputs.first()) {
        let output = &first.output;
        let categories: Vec<String> = methods.iter().map(|(m, _)| m.to_string()).collect();
        let title = format!("{model}: output SQNR per method, ranked");
        let chart = BarChart {
            title: title.clone(),
            categories: categories.clone(),
            series: vec![Series {
                name: "all int8".into(),
                values: methods.iter().map(|(_, m)| finite(m.sqnr_or_inf())).collect(),
            }],
            value_label: format!("SQNR of '{output}' vs fp32 (dB)"),
            horizontal: false,
            value_axis: ValueAxis::Fit,
            lines: vec![],
        };
        charts.push(ReportChart { stem: "methods_sqnr", title, rendered: bar_chart(&chart)? });

        let labels = report.labels.is_some();
        let label = if labels { "top-1 accuracy (%)" } else { "top-1 agreement with fp32 (%)" };
        let values = methods
            .iter()
            .map(|(_, m)| {
                let v = if labels { m.top1_accuracy } else { m.top1_agreement };
                100.0 * v.unwrap_or(f64::NAN)
            })
            .collect();
        // The float model is a reference, not a method: a line, not an int8-coloured bar.
        let lines = match (labels, report.reference_top1_accuracy) {
            (true, Some(r)) => vec![RefLine {
                label: format!("fp32 reference ({:.2} %)", 100.0 * r),
                value: 100.0 * r,
                kind: LineKind::Reference,
            }],
            _ => vec![],
        };
        let title = format!("{model}: {label} per method, ranked");
        let chart = BarChart {
            title: title.clone(),
            categories,
            series: vec![Series { name: "all int8".into(), values }],
            value_label: format!("{label}, output '{output}'"),
            horizontal: false,
            value_axis: ValueAxis::Fit,
            lines,
        };
        charts.push(ReportChart { stem: "methods_top1", title, rendered: bar_chart(&chart)? });
    }
    if let Some(mp) = &report.mixed_precision {
        let (label, scale) = match mp.target {
            AccuracyTarget::Top1Drop { .. } => {
                ("top-1 drop (percentage points, lower is better)", 1.0)
            }
            AccuracyTarget::Cosine { .. } => ("1 − cosine (×10⁻⁶, lower is better)", 1e6),
            AccuracyTarget::Sqnr { .. } => ("SQNR (dB, higher is better)", 1.0),
        };
        // Cosine sits within 1e-4 of 1: its distance from 1 is what a bar can show.
        let value = |m: &Metrics| match mp.target {
            AccuracyTarget::Cosine { .. } => scale * (1.0 - m.cosine),
            _ => finite(mp.target.value(m).unwrap_or(f64::NAN)),
        };
        let target = match mp.target {
            AccuracyTarget::Top1Drop { max_points } => max_points,
            AccuracyTarget::Cosine { min } => scale * (1.0 - min),
            AccuracyTarget::Sqnr { min_db } => min_db,
        };
        let note =
            mp.precision_note(&report.backend).map(|n| format!(" ({n})")).unwrap_or_default();
        let title = format!("{model}: mixed precision, target {}{note}", mp.target);
        let chart = BarChart {
            title: title.clone(),
            categories: (0..mp.steps.len())
                .map(|ix| format!("{ix}: {}", mp.step_label(ix)))
                .collect(),
            series: vec![Series {
                name: "whole model".into(),
                values: mp.steps.iter().map(|s| value(&s.metrics)).collect(),
            }],
            value_label: label.into(),
            horizontal: true,
            value_axis: ValueAxis::Fit,
            lines: vec![RefLine {
                label: format!("target: {}", mp.target),
                value: target,
                kind: LineKind::Target,
            }],
        };
        charts.push(ReportChart { stem: "mixed_steps", title, rendered: bar_chart(&chart)? });
    }
    Ok(charts)
}

/// Median latencies of a benchmark: one row per engine × precision, one value per batch size
/// (NaN where the row was not measured).
#[derive(Debug, Clone, PartialEq)]
pub struct Latencies {
    /// The model (a path; its file name titles the charts).
    pub model: String,
    /// Timed runs per median.
    pub runs: usize,
    /// Batch sizes, in order.
    pub batches: Vec<usize>,
    /// `(row label, median ms per batch size)`.
    pub rows: Vec<(String, Vec<f64>)>,
}

/// `latency`: median latency per batch on a log axis (batch 1 and batch 32 both read), and
/// `speedup`: per batch, engine × engine speed-up (column latency ÷ row latency: above 1× the
/// row is faster) on a diverging scale centred on 1× with a colour bar, each pair once.
pub fn bench_charts(b: &Latencies) -> Result<(ReportChart, ReportChart), PlotError> {
    let model = file_name(&b.model);
    let title = format!("{model}: median latency ({} runs)", b.runs);
    let latency = BarChart {
        title: title.clone(),
        categories: b.batches.iter().map(|bt| format!("batch {bt}")).collect(),
        series: b.rows.iter().map(|(l, v)| Series { name: l.clone(), values: v.clone() }).collect(),
        value_label: "latency per batch (ms, log scale)".into(),
        horizontal: false,
        value_axis: ValueAxis::Log,
        lines: vec![],
    };
    let latency = ReportChart { stem: "latency", title, rendered: bar_chart(&latency)? };

    // Rows 1.., columns ..n-1 of each batch: the lower triangle, so a pair appears once.
    let n = b.rows.len();
    let columns: Vec<String> =
        b.rows.iter().take(n.saturating_sub(1)).map(|r| r.0.clone()).collect();
    let mut rows = vec![];
    let mut values = vec![];
    let mut empty = vec![];
    for (k, &bt) in b.batches.iter().enumerate() {
        for (i, (label, row)) in b.rows.iter().enumerate().skip(1) {
            let r = rows.len();
            rows.push(format!("{label} · batch {bt}"));
            values.push(
                (0..columns.len())
                    .map(|j| {
                        if j >= i {
                            empty.push((r, j));
                            1.0
                        } else {
                            b.rows[j].1[k] / row[k]
                        }
                    })
                    .collect(),
            );
        }
    }
    let title = format!("{model}: speed-up of row over column, per batch");
    let speedup = if rows.is_empty() || columns.is_empty() {
        // One row: nothing to compare; a 1×1 map saying so.
        Heatmap {
            title: title.clone(),
            rows: vec![b.rows.first().map(|r| r.0.clone()).unwrap_or_default()],
            columns: vec!["(one row only)".into()],
            values: vec![vec![1.0]],
            value_label: "column latency ÷ row latency".into(),
            value_format: "{:.2}×".into(),
            colors: ColorScale::Diverging { center: 1.0 },
            empty: vec![(0, 0)],
        }
    } else {
        Heatmap {
            title: title.clone(),
            rows,
            columns,
            values,
            value_label:
                "column latency ÷ row latency (median, same batch): > 1× the row is faster".into(),
            value_format: "{:.2}×".into(),
            colors: ColorScale::Diverging { center: 1.0 },
            empty,
        }
    };
    let speedup = ReportChart { stem: "speedup", title, rendered: heatmap(&speedup)? };
    Ok((latency, speedup))
}
