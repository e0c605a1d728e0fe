//! [`CompareReport`]: what `calibr8 compare` writes as `report.json` (serde, stable field names)
//! and `report.md` (tables).

use super::evaluate::{OutputMetrics, TensorMetrics};
use super::layers::LayerResult;
use super::methods::{MethodResult, RankBy};
use super::metrics::Metrics;
use super::mixed::MixedPrecision;
use super::table::{Align, Table};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// A plot written beside the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlotRef {
    /// File name, relative to the report.
    pub file: String,
    /// What it shows.
    pub title: String,
}

/// Everything `calibr8 compare` measured. Fractions are in [0, 1]; SQNR in dB (`null` with
/// `identical: true` when infinite).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    /// calibr8's version.
    pub calibr8_version: String,
    /// The float model.
    pub model: String,
    /// Backend of the float (reference) run.
    pub reference_backend: String,
    /// Backend of the quantized runs.
    pub backend: String,
    /// Calibration data.
    pub calibration_data: String,
    /// Evaluation data.
    pub eval_data: String,
    /// Evaluation samples.
    pub eval_samples: usize,
    /// Label file, if given.
    pub labels: Option<String>,
    /// The reference run's top-1 accuracy against the labels.
    pub reference_top1_accuracy: Option<f64>,
    /// Metric ranking the methods.
    pub rank_by: RankBy,
    /// Methods, best first.
    pub methods: Vec<MethodResult>,
    /// The method analysed per layer (the best ranked).
    pub chosen_method: String,
    /// Per int8 node of the chosen method's model, graph order.
    pub layers: Vec<LayerResult>,
    /// Per tensor, cumulative mode, graph order.
    pub tensors: Vec<TensorMetrics>,
    /// Every quantized weight against its dequantized int8 values.
    pub weights: Vec<TensorMetrics>,
    /// The chosen method's all-int8 model, per output.
    pub all_int8: Vec<OutputMetrics>,
    /// Mixed-precision search, when a target was given.
    pub mixed_precision: Option<MixedPrecision>,
    /// With two different backends: the chosen int8 model on both, tensor by tensor.
    pub backend_vs_backend: Option<BackendComparison>,
    /// Plots written beside the report.
    pub plots: Vec<PlotRef>,
}

/// The same int8 model on two backends: the reference backend's run is the reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendComparison {
    /// Backend of the reference run.
    pub reference: String,
    /// Backend of the candidate run.
    pub candidate: String,
    /// Per model output.
    pub outputs: Vec<OutputMetrics>,
    /// Per captured tensor, graph order.
    pub tensors: Vec<TensorMetrics>,
}

/// `98.06 %` from a fraction.
pub(crate) fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2} %", 100.0 * v)).unwrap_or_else(|| "–".into())
}

/// SQNR in dB, `∞` when identical.
pub(crate) fn sqnr(m: &Metrics) -> String {
    match m.sqnr_db {
        Some(v) => format!("{v:.2}"),
        None if m.identical => "∞".into(),
        None => "−∞".into(),
    }
}

fn cosine(m: &Metrics) -> String {
    format!("{:.6}", m.cosine)
}

/// Absolute errors: plain decimals where readable, scientific notation for tiny or huge values.
fn sci(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// Where a table goes: the console summary shows the essential columns, `report.md` all.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Console and Markdown.
    Both,
    /// Markdown only.
    Full,
}

/// A column: header, alignment, and whether the console shows it.
type Column<'a> = (&'a str, Align, Detail);

/// Builds a [`Table`] keeping only the columns `full` asks for; `cells` yields all columns.
struct Builder<'a> {
    columns: Vec<Column<'a>>,
    full: bool,
    table: Table,
}

impl<'a> Builder<'a> {
    fn new(columns: Vec<Column<'a>>, full: bool) -> Self {
        let kept: Vec<(&str, Align)> = columns
            .iter()
            .filter(|(_, _, d)| full || *d == Detail::Both)
            .map(|(h, a, _)| (*h, *a))
            .collect();
        let table = Table::new(&kept);
        Builder { columns, full, table }
    }

    fn row(&mut self, cells: Vec<String>) {
        let kept = cells
            .into_iter()
            .zip(&self.columns)
            .filter(|(_, (_, _, d))| self.full || *d == Detail::Both)
            .map(|(c, _)| c)
            .collect();
        self.table.row(kept);
    }

    fn render(&self) -> String {
        if self.full {
            self.table.to_markdown()
        } else {
            self.table.to_text()
        }
    }
}

use Align::{Left as L, Right as R};
use Detail::{Both as B, Full as F};

impl CompareReport {
    /// The report as Markdown: method ranking, per-layer table (isolated + cumulative),
    /// per-tensor table, mixed-precision steps, plots.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = self.write(&mut s, true);
        s
    }

    /// The console summary: the same sections and numbers as [`CompareReport::to_markdown`]
    /// with the essential columns, as aligned text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = self.write(&mut s, false);
        s
    }

    fn top1_header(&self) -> &'static str {
        if self.labels.is_some() {
            "top-1 accuracy"
        } else {
            "top-1 agreement"
        }
    }

    fn top1(&self, m: &Metrics) -> String {
        pct(if self.labels.is_some() { m.top1_accuracy } else { m.top1_agreement })
    }

    /// How the methods were ranked, in words.
    pub fn ranking_rule(&self) -> String {
        let output =
            self.methods.first().and_then(|m| m.outputs.first()).map(|o| o.output.as_str());
        let by = match self.rank_by {
            RankBy::Top1 => self.top1_header(),
            RankBy::Cosine => "cosine similarity",
            RankBy::Sqnr => "SQNR",
        };
        let ties = match self.rank_by {
            RankBy::Top1 => {
                "; differences within sampling noise (one sample, or the 95 % interval of the \
                 samples the two methods can disagree on) are ties, broken by top-1 agreement \
                 with the float model, then SQNR"
            }
            RankBy::Cosine => ", ties broken by SQNR",
            RankBy::Sqnr => "",
        };
        format!("ranked by {by} on output `{}`{ties}", output.unwrap_or_default())
    }

    fn heading(s: &mut String, full: bool, level: usize, title: &str) -> std::fmt::Result {
        if full {
            writeln!(s, "\n{} {title}\n", "#".repeat(level))
        } else {
            writeln!(s, "\n{title}:")
        }
    }

    fn write(&self, s: &mut String, full: bool) -> std::fmt::Result {
        let labels = match &self.labels {
            Some(l) => format!(", labels `{l}`"),
            None => String::new(),
        };
        if full {
            writeln!(s, "# calibr8 compare: {}\n", self.model)?;
        }
        writeln!(
            s,
            "Reference: float model on `{}`. Candidate: quantized model on `{}`. Calibration: \
             `{}`. Evaluation: `{}` ({} samples){labels}.",
            self.reference_backend,
            self.backend,
            self.calibration_data,
            self.eval_data,
            self.eval_samples,
        )?;
        if let Some(acc) = self.reference_top1_accuracy {
            writeln!(
                s,
                "{}Reference top-1 accuracy: {}.",
                if full { "\n" } else { "" },
                pct(Some(acc))
            )?;
        }
        let top1_header = self.top1_header();

        Self::heading(s, full, 2, "Method ranking")?;
        if full {
            writeln!(
                s,
                "All methods calibrated from one pass over the calibration data (shared \
                 histograms), {}.\n",
                self.ranking_rule()
            )?;
        }
        let mut t = Builder::new(
            vec![
                ("rank", R, B),
                ("method", L, B),
                (top1_header, R, B),
                ("top-1 agreement", R, if self.labels.is_some() { B } else { F }),
                ("cosine", R, B),
                ("SQNR (dB)", R, B),
                ("max abs error", R, F),
                ("mean abs error", R, F),
                ("tensors clipping > 1 %", R, F),
            ],
            full,
        );
        for m in &self.methods {
            let Some(o) = m.outputs.first() else { continue };
            let x = &o.metrics;
            t.row(vec![
                m.rank.to_string(),
                m.method.to_string(),
                self.top1(x),
                pct(x.top1_agreement),
                cosine(x),
                sqnr(x),
                sci(x.max_abs_error),
                sci(x.mean_abs_error),
                m.tensors_clipping_over_1pct.to_string(),
            ]);
        }
        s.push_str(&t.render());
        if full {
            writeln!(s, "\nRecommended: **{}**.", self.chosen_method)?;
        } else {
            writeln!(s, "  ({})", self.ranking_rule())?;
            writeln!(s, "recommended: {}", self.chosen_method)?;
        }

        Self::heading(s, full, 2, &format!("Per layer ({})", self.chosen_method))?;
        if full {
            writeln!(
                s,
                "*Isolated*: only this node in int8, metrics on the model output. *Cumulative*: \
                 every node in int8, metrics on this node's output tensor against the float run.\n"
            )?;
        }
        let isolated_top1 = format!("isolated {top1_header}");
        let mut t = Builder::new(
            vec![
                ("node", L, B),
                ("op", L, B),
                ("isolated SQNR (dB)", R, B),
                ("isolated cosine", R, F),
                (isolated_top1.as_str(), R, F),
                ("cumulative tensor", L, F),
                ("cumulative SQNR (dB)", R, B),
                ("cumulative cosine", R, F),
                ("cumulative max abs error", R, F),
            ],
            full,
        );
        for l in &self.layers {
            t.row(vec![
                l.node.clone(),
                l.op_type.clone(),
                sqnr(&l.isolated),
                cosine(&l.isolated),
                self.top1(&l.isolated),
                l.output_tensor.clone(),
                sqnr(&l.cumulative),
                cosine(&l.cumulative),
                sci(l.cumulative.max_abs_error),
            ]);
        }
        s.push_str(&t.render());
        if full {
            self.write_tensors(s)?;
        }

        if let Some(mp) = &self.mixed_precision {
            Self::heading(s, full, 2, &format!("Mixed precision: {}", mp.target))?;
            if full {
                writeln!(
                    s,
                    "Nodes in sensitivity order (isolated mode): {}. Each step keeps one more \
                     node out of int8 and re-measures the whole model.\n",
                    mp.sensitivity_order.join(", "),
                )?;
            }
            if let Some(note) = mp.precision_note(&self.backend) {
                writeln!(
                    s,
                    "{}{note}: the steps were measured in {}; `model.qdq.onnx` leaves these nodes \
                     without Q/DQ and the TensorRT plan gives them {}.{}",
                    if full { "" } else { "  " },
                    mp.measured_precision,
                    mp.float_precision,
                    if full { "\n" } else { "" }
                )?;
            }
            let mut t = Builder::new(
                vec![
                    ("step", R, B),
                    ("kept out of int8", L, B),
                    (top1_header, R, B),
                    ("top-1 drop (points)", R, F),
                    ("cosine", R, B),
                    ("SQNR (dB)", R, B),
                    ("target", L, B),
                ],
                full,
            );
            for (ix, step) in mp.steps.iter().enumerate() {
                t.row(vec![
                    ix.to_string(),
                    mp.step_label(ix),
                    self.top1(&step.metrics),
                    step.metrics
                        .top1_drop_points()
                        .map(|v| format!("{v:.2}"))
                        .unwrap_or_else(|| "–".into()),
                    cosine(&step.metrics),
                    sqnr(&step.metrics),
                    if step.met { "met" } else { "not met" }.into(),
                ]);
            }
            s.push_str(&t.render());
            let nodes = |v: &[String]| if v.is_empty() { "none".into() } else { v.join(", ") };
            if mp.met {
                writeln!(
                    s,
                    "{}Target met with {} node(s) in {} ({}); int8: {}.",
                    if full { "\n" } else { "" },
                    mp.float_nodes.len(),
                    // What the steps measured; the requested precision is noted above.
                    mp.measured_precision,
                    nodes(&mp.float_nodes),
                    nodes(&mp.int8_nodes)
                )?;
            } else {
                writeln!(
                    s,
                    "{}Target NOT met after keeping {} node(s) out of int8 ({}).",
                    if full { "\n" } else { "" },
                    mp.float_nodes.len(),
                    nodes(&mp.float_nodes)
                )?;
            }
        }
        if let Some(b) = &self.backend_vs_backend {
            Self::heading(
                s,
                full,
                2,
                &format!(
                    "{} vs {} on the same int8 model ({})",
                    b.candidate, b.reference, self.chosen_method
                ),
            )?;
            if full {
                writeln!(
                    s,
                    "What the engine changes on the same scales. Where a tensor carries its own \
                     Q/DQ (`_output_` targets), the QDQ model's tensor is the value before \
                     rounding and an int8 engine's the value after, so part of the difference \
                     there is that rounding.\n"
                )?;
            }
            let mut t = Builder::new(
                vec![
                    ("tensor", L, B),
                    ("SQNR (dB)", R, B),
                    ("cosine", R, F),
                    ("max abs error", R, F),
                    ("top-1 agreement", R, B),
                ],
                full,
            );
            for x in &b.tensors {
                t.row(vec![
                    x.tensor.clone(),
                    sqnr(&x.metrics),
                    cosine(&x.metrics),
                    sci(x.metrics.max_abs_error),
                    "–".into(),
                ]);
            }
            for o in &b.outputs {
                t.row(vec![
                    format!("{} (output)", o.output),
                    sqnr(&o.metrics),
                    cosine(&o.metrics),
                    sci(o.metrics.max_abs_error),
                    pct(o.metrics.top1_agreement),
                ]);
            }
            s.push_str(&t.render());
        }
        if full && !self.plots.is_empty() {
            writeln!(s, "\n## Plots\n")?;
            for p in &self.plots {
                writeln!(s, "![{}]({})\n", p.title, p.file)?;
            }
        }
        Ok(())
    }

    /// Markdown only: every tensor, every weight, every output.
    fn write_tensors(&self, s: &mut String) -> std::fmt::Result {
        writeln!(s, "\n### Every tensor (cumulative, graph order)\n")?;
        let mut t = Table::new(&[
            ("tensor", L),
            ("produced by", L),
            ("Q/DQ on it", L),
            ("SQNR (dB)", R),
            ("cosine", R),
            ("max abs error", R),
            ("mean abs error", R),
        ]);
        for x in &self.tensors {
            t.row(vec![
                x.tensor.clone(),
                x.producer.clone().unwrap_or_else(|| "–".into()),
                if x.quantized { "yes" } else { "no (node output)" }.into(),
                sqnr(&x.metrics),
                cosine(&x.metrics),
                sci(x.metrics.max_abs_error),
                sci(x.metrics.mean_abs_error),
            ]);
        }
        s.push_str(&t.to_markdown());
        if !self.weights.is_empty() {
            writeln!(s, "\n### Weights (float vs dequantized int8, no run needed)\n")?;
            let mut t = Table::new(&[
                ("weight", L),
                ("SQNR (dB)", R),
                ("cosine", R),
                ("max abs error", R),
                ("mean abs error", R),
            ]);
            for x in &self.weights {
                t.row(vec![
                    x.tensor.clone(),
                    sqnr(&x.metrics),
                    cosine(&x.metrics),
                    sci(x.metrics.max_abs_error),
                    sci(x.metrics.mean_abs_error),
                ]);
            }
            s.push_str(&t.to_markdown());
        }
        for o in &self.all_int8 {
            writeln!(
                s,
                "\nAll-int8 output `{}`: {} {}, cosine {}, SQNR {} dB.",
                o.output,
                self.top1_header(),
                self.top1(&o.metrics),
                cosine(&o.metrics),
                sqnr(&o.metrics)
            )?;
        }
        Ok(())
    }
}
