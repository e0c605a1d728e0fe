//! [`CompareReport`]: what `calibr8 compare` writes as `report.json` (serde, stable field names)
//! and `report.md` (tables).

use super::evaluate::{OutputMetrics, TensorMetrics};
use super::layers::LayerResult;
use super::methods::{MethodResult, RankBy};
use super::metrics::Metrics;
use super::mixed::MixedPrecision;
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

impl CompareReport {
    /// The report as Markdown: method ranking, per-layer table (isolated + cumulative),
    /// per-tensor table, mixed-precision steps, plots.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = self.write_markdown(&mut s);
        s
    }

    fn write_markdown(&self, s: &mut String) -> std::fmt::Result {
        writeln!(s, "# calibr8 compare: {}\n", self.model)?;
        writeln!(
            s,
            "Reference: float model on `{}`. Candidate: quantized model on `{}`. Calibration: \
             `{}`. Evaluation: `{}` ({} samples){}.\n",
            self.reference_backend,
            self.backend,
            self.calibration_data,
            self.eval_data,
            self.eval_samples,
            match &self.labels {
                Some(l) => format!(", labels `{l}`"),
                None => String::new(),
            }
        )?;
        if let Some(acc) = self.reference_top1_accuracy {
            writeln!(s, "Reference top-1 accuracy: **{}**.\n", pct(Some(acc)))?;
        }
        let top1_header = if self.labels.is_some() { "top-1 accuracy" } else { "top-1 agreement" };
        let top1 = |m: &Metrics| {
            if self.labels.is_some() {
                pct(m.top1_accuracy)
            } else {
                pct(m.top1_agreement)
            }
        };
        let output = self.methods.first().and_then(|m| m.outputs.first()).map(|o| o.output.clone());
        writeln!(
            s,
            "## Method ranking\n\nAll methods calibrated from one pass over the calibration data \
             (shared histograms), ranked by {} on output `{}`{}.\n",
            match self.rank_by {
                RankBy::Top1 => top1_header,
                RankBy::Cosine => "cosine similarity",
                RankBy::Sqnr => "SQNR",
            },
            output.unwrap_or_default(),
            if self.rank_by == RankBy::Sqnr { "" } else { ", ties broken by SQNR" }
        )?;
        writeln!(
            s,
            "| rank | method | {top1_header} | top-1 agreement | cosine | SQNR (dB) | max abs error | mean abs error | tensors clipping > 1 % |"
        )?;
        writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---:|---:|")?;
        for m in &self.methods {
            let Some(o) = m.outputs.first() else { continue };
            let x = &o.metrics;
            writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                m.rank,
                m.method,
                top1(x),
                pct(x.top1_agreement),
                cosine(x),
                sqnr(x),
                sci(x.max_abs_error),
                sci(x.mean_abs_error),
                m.tensors_clipping_over_1pct
            )?;
        }
        writeln!(s, "\nRecommended: **{}**.\n", self.chosen_method)?;

        writeln!(
            s,
            "## Per layer ({})\n\n*Isolated*: only this node in int8, metrics on the model \
             output. *Cumulative*: every node in int8, metrics on this node's output tensor \
             against the float run.\n",
            self.chosen_method
        )?;
        writeln!(
            s,
            "| node | op | isolated SQNR (dB) | isolated cosine | isolated {top1_header} | cumulative tensor | cumulative SQNR (dB) | cumulative cosine | cumulative max abs error |"
        )?;
        writeln!(s, "|---|---|---:|---:|---:|---|---:|---:|---:|")?;
        for l in &self.layers {
            writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                l.node,
                l.op_type,
                sqnr(&l.isolated),
                cosine(&l.isolated),
                top1(&l.isolated),
                l.output_tensor,
                sqnr(&l.cumulative),
                cosine(&l.cumulative),
                sci(l.cumulative.max_abs_error)
            )?;
        }
        writeln!(s, "\n### Every tensor (cumulative, graph order)\n")?;
        writeln!(s, "| tensor | produced by | Q/DQ on it | SQNR (dB) | cosine | max abs error | mean abs error |")?;
        writeln!(s, "|---|---|---|---:|---:|---:|---:|")?;
        for t in &self.tensors {
            writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                t.tensor,
                t.producer.as_deref().unwrap_or("–"),
                if t.quantized { "yes" } else { "no (node output)" },
                sqnr(&t.metrics),
                cosine(&t.metrics),
                sci(t.metrics.max_abs_error),
                sci(t.metrics.mean_abs_error)
            )?;
        }
        if !self.weights.is_empty() {
            writeln!(s, "\n### Weights (float vs dequantized int8, no run needed)\n")?;
            writeln!(s, "| weight | SQNR (dB) | cosine | max abs error | mean abs error |")?;
            writeln!(s, "|---|---:|---:|---:|---:|")?;
            for t in &self.weights {
                writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    t.tensor,
                    sqnr(&t.metrics),
                    cosine(&t.metrics),
                    sci(t.metrics.max_abs_error),
                    sci(t.metrics.mean_abs_error)
                )?;
            }
        }
        for o in &self.all_int8 {
            writeln!(
                s,
                "\nAll-int8 output `{}`: {} {}, cosine {}, SQNR {} dB.",
                o.output,
                top1_header,
                top1(&o.metrics),
                cosine(&o.metrics),
                sqnr(&o.metrics)
            )?;
        }

        if let Some(mp) = &self.mixed_precision {
            writeln!(
                s,
                "\n## Mixed precision: {}\n\nNodes in sensitivity order (isolated mode): {}. \
                 Each step keeps one more node in {} and re-measures the whole model.\n",
                mp.target,
                mp.sensitivity_order.join(", "),
                mp.float_precision
            )?;
            writeln!(s, "| step | kept in float | {top1_header} | top-1 drop (points) | cosine | SQNR (dB) | target met |")?;
            writeln!(s, "|---:|---|---:|---:|---:|---:|---|")?;
            for (ix, step) in mp.steps.iter().enumerate() {
                writeln!(
                    s,
                    "| {ix} | {} | {} | {} | {} | {} | {} |",
                    step.kept_in_float.as_deref().unwrap_or("(all int8)"),
                    top1(&step.metrics),
                    step.metrics
                        .top1_drop_points()
                        .map(|v| format!("{v:.2}"))
                        .unwrap_or_else(|| "–".into()),
                    cosine(&step.metrics),
                    sqnr(&step.metrics),
                    if step.met { "yes" } else { "no" }
                )?;
            }
            if mp.met {
                writeln!(
                    s,
                    "\nResult: target met with {} node(s) in {} ({}); int8: {}.",
                    mp.float_nodes.len(),
                    mp.float_precision,
                    if mp.float_nodes.is_empty() {
                        "none".into()
                    } else {
                        mp.float_nodes.join(", ")
                    },
                    mp.int8_nodes.join(", ")
                )?;
            } else {
                writeln!(
                    s,
                    "\nResult: **target not met** after keeping {} node(s) in {}.",
                    mp.float_nodes.len(),
                    mp.float_precision
                )?;
            }
        }
        if let Some(b) = &self.backend_vs_backend {
            writeln!(
                s,
                "\n## Backend vs backend: `{}` against `{}`, same int8 model ({})\n\nWhat the \
                 engine changes on the same scales. Where a tensor carries its own Q/DQ \
                 (`_output_` targets), the QDQ model's tensor is the value before rounding and an \
                 int8 engine's the value after, so part of the difference there is that rounding.\n",
                b.candidate, b.reference, self.chosen_method
            )?;
            writeln!(s, "| tensor | SQNR (dB) | cosine | max abs error | top-1 agreement |")?;
            writeln!(s, "|---|---:|---:|---:|---:|")?;
            for t in &b.tensors {
                writeln!(
                    s,
                    "| {} | {} | {} | {} | – |",
                    t.tensor,
                    sqnr(&t.metrics),
                    cosine(&t.metrics),
                    sci(t.metrics.max_abs_error)
                )?;
            }
            for o in &b.outputs {
                writeln!(
                    s,
                    "| {} (output) | {} | {} | {} | {} |",
                    o.output,
                    sqnr(&o.metrics),
                    cosine(&o.metrics),
                    sci(o.metrics.max_abs_error),
                    pct(o.metrics.top1_agreement)
                )?;
            }
        }
        if !self.plots.is_empty() {
            writeln!(s, "\n## Plots\n")?;
            for p in &self.plots {
                writeln!(s, "![{}]({})\n", p.title, p.file)?;
            }
        }
        Ok(())
    }
}
