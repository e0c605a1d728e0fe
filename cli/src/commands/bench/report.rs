//! The benchmark's results as a table (stdout), `bench.md`, `bench.json` and two charts.

use super::rows::Variant;
use super::timing::Stats;
use calibr8::export::QOperatorModel;
use calibr8_plot::reports::{bench_charts, Latencies};
use calibr8_plot::Rendered;
use serde_json::json;
use std::fmt::Write;

/// What happened to one row at one batch size.
#[derive(Clone, Debug)]
pub enum Outcome {
    Measured(Stats),
    /// The backend is not in this build or its library / device is missing.
    NotInstalled(String),
    /// Preparing or running the engine failed.
    Failed(String),
    /// Not attempted (e.g. int8 without --calib).
    Skipped(String),
}

impl Outcome {
    fn status(&self) -> String {
        match self {
            Outcome::Measured(_) => "ok".into(),
            Outcome::NotInstalled(r) => format!("not installed: {r}"),
            Outcome::Failed(r) => format!("failed: {r}"),
            Outcome::Skipped(r) => format!("skipped: {r}"),
        }
    }

    fn stats(&self) -> Option<&Stats> {
        match self {
            Outcome::Measured(s) => Some(s),
            _ => None,
        }
    }
}

/// One row at one batch size.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub variant: Variant,
    pub batch: usize,
    pub outcome: Outcome,
}

/// What the QOperator lowering did (for the int8 rows).
#[derive(Clone, Debug)]
pub struct Lowering {
    pub lowered: Vec<(String, String, String)>,
    pub kept_float: Vec<(String, String, String)>,
}

impl From<&QOperatorModel> for Lowering {
    fn from(q: &QOperatorModel) -> Lowering {
        Lowering {
            lowered: q
                .lowered
                .iter()
                .map(|l| (l.node.clone(), l.op_type.clone(), l.qop.clone()))
                .collect(),
            kept_float: q
                .kept_float
                .iter()
                .map(|f| (f.node.clone(), f.op_type.clone(), f.reason.clone()))
                .collect(),
        }
    }
}

/// Everything a report needs.
#[derive(Clone, Debug)]
pub struct Bench {
    pub model: String,
    pub inputs: Vec<(String, Vec<Option<usize>>)>,
    pub batches: Vec<usize>,
    pub warmup: usize,
    pub runs: usize,
    pub seed: u64,
    pub calib: Option<String>,
    pub method: Option<String>,
    pub lowering: Option<Lowering>,
    pub measurements: Vec<Measurement>,
    /// Matrix kernels tract chose per row label.
    pub kernels: Vec<(String, Vec<String>)>,
}

impl Bench {
    /// Row labels in order, each once.
    fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = vec![];
        for m in &self.measurements {
            let label = m.variant.label();
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        labels
    }

    fn median(&self, label: &str, batch: usize) -> f64 {
        self.measurements
            .iter()
            .find(|m| m.variant.label() == label && m.batch == batch)
            .and_then(|m| m.outcome.stats())
            .map_or(f64::NAN, |s| s.median_ms)
    }

    /// Labels with at least one measurement: what the charts show.
    fn measured_labels(&self) -> Vec<String> {
        let labels = self.labels();
        labels
            .into_iter()
            .filter(|l| self.batches.iter().any(|&b| self.median(l, b).is_finite()))
            .collect()
    }
}

/// "QOperator lowering: 4 of 4 …" plus one line per node kept float.
pub fn lowering_summary(q: &QOperatorModel) -> String {
    let total = q.lowered.len() + q.kept_float.len();
    let mut s = format!(
        "QOperator lowering: {} of {total} nodes run as int8 QLinearConv/QLinearMatMul, {} stay float\n",
        q.lowered.len(),
        q.kept_float.len()
    );
    for f in &q.kept_float {
        let _ = writeln!(s, "  float: {} ({}): {}", f.node, f.op_type, f.reason);
    }
    s
}

fn shape_text(dims: &[Option<usize>]) -> String {
    let dims: Vec<String> = dims.iter().map(|d| d.map_or("N".into(), |d| d.to_string())).collect();
    format!("[{}]", dims.join(", "))
}

fn header(b: &Bench) -> String {
    let inputs: Vec<String> =
        b.inputs.iter().map(|(n, d)| format!("{n} {}", shape_text(d))).collect();
    format!(
        "model {} (inputs {}); {} warm-up + {} timed runs per row and batch, random inputs (seed {})",
        b.model,
        inputs.join(", "),
        b.warmup,
        b.runs,
        b.seed
    )
}

/// The stdout table.
pub fn table(b: &Bench) -> String {
    let mut s = header(b) + "\n";
    if let Some(note) = crate::cpu::int8_note() {
        let _ = writeln!(s, "note: {note}");
    }
    // As wide as the longest precision (`int8, 0 of 21 nodes int8`), at least 14.
    let pw = b
        .measurements
        .iter()
        .map(|m| m.variant.precision.chars().count())
        .max()
        .unwrap_or(0)
        .max(14);
    let _ = writeln!(
        s,
        "{:<10} {:<pw$} {:>6} {:>11} {:>10} {:>10} {:>12}  status",
        "engine", "precision", "batch", "median ms", "min ms", "max ms", "samples/s"
    );
    for m in &b.measurements {
        let v = &m.variant;
        match m.outcome.stats() {
            Some(st) => {
                let _ = writeln!(
                    s,
                    "{:<10} {:<pw$} {:>6} {:>11.3} {:>10.3} {:>10.3} {:>12.1}  ok",
                    v.engine,
                    v.precision,
                    m.batch,
                    st.median_ms,
                    st.min_ms,
                    st.max_ms,
                    st.throughput
                );
            }
            None => {
                let batch = if matches!(m.outcome, Outcome::NotInstalled(_)) {
                    "-".into()
                } else {
                    m.batch.to_string()
                };
                let _ = writeln!(
                    s,
                    "{:<10} {:<pw$} {:>6} {:>11} {:>10} {:>10} {:>12}  {}",
                    v.engine,
                    v.precision,
                    batch,
                    "-",
                    "-",
                    "-",
                    "-",
                    m.outcome.status()
                );
            }
        }
    }
    for (label, names) in &b.kernels {
        let _ = writeln!(s, "{label} kernels: {}", names.join(", "));
    }
    s
}

/// `bench.md`: the same table in Markdown, the lowering, and the two pictures.
pub fn markdown(b: &Bench) -> String {
    let mut s = format!("# calibr8 bench\n\n{}.\n\n", header(b));
    if let Some(cpu) = crate::cpu::name() {
        let _ = writeln!(s, "CPU: {cpu}.\n");
    }
    if let Some(note) = crate::cpu::int8_note() {
        let _ = writeln!(s, "Note: {note}.\n");
    }
    if let (Some(calib), Some(method)) = (&b.calib, &b.method) {
        let _ = writeln!(s, "int8 ranges: from `{calib}` ({method}).\n");
    }
    s.push_str(
        "| engine | precision | batch | median ms | min ms | max ms | samples/s | status |\n",
    );
    s.push_str("|---|---|---:|---:|---:|---:|---:|---|\n");
    for m in &b.measurements {
        let v = &m.variant;
        match m.outcome.stats() {
            Some(st) => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.1} | ok |",
                    v.engine,
                    v.precision,
                    m.batch,
                    st.median_ms,
                    st.min_ms,
                    st.max_ms,
                    st.throughput
                );
            }
            None => {
                let status = m.outcome.status().replace('|', "\\|").replace('\n', " ");
                let batch = if matches!(m.outcome, Outcome::NotInstalled(_)) {
                    "–".into()
                } else {
                    m.batch.to_string()
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {batch} | – | – | – | – | {status} |",
                    v.engine, v.precision
                );
            }
        }
    }
    if let Some(l) = &b.lowering {
        let _ = writeln!(
            s,
            "\nQOperator lowering (tract int8): {} of {} nodes int8.",
            l.lowered.len(),
            l.lowered.len() + l.kept_float.len()
        );
        for (node, op, reason) in &l.kept_float {
            let _ = writeln!(s, "- `{node}` ({op}) stays float: {reason}");
        }
    }
    if !b.kernels.is_empty() {
        s.push_str("\nMatrix kernels tract chose:\n");
        for (label, names) in &b.kernels {
            let _ = writeln!(s, "- {label}: `{}`", names.join("`, `"));
        }
    }
    if !b.measured_labels().is_empty() {
        s.push_str("\n![latency](latency.png)\n\n![speed-up](speedup.png)\n");
    }
    s
}

/// `bench.json`, and stdout with `--format json`.
pub fn json(b: &Bench) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&json_value(b)).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The document of [`json`] (schema in docs/cli-json.md).
pub fn json_value(b: &Bench) -> serde_json::Value {
    let rows: Vec<_> = b
        .measurements
        .iter()
        .map(|m| {
            let st = m.outcome.stats();
            json!({
                "engine": m.variant.engine,
                "precision": m.variant.precision,
                "backend": m.variant.backend,
                "batch": m.batch,
                "median_ms": st.map(|s| s.median_ms),
                "min_ms": st.map(|s| s.min_ms),
                "max_ms": st.map(|s| s.max_ms),
                "samples_per_s": st.map(|s| s.throughput),
                "status": m.outcome.status(),
            })
        })
        .collect();
    let lowering = b.lowering.as_ref().map(|l| {
        json!({
            "lowered": l.lowered.iter().map(|(n, op, q)| json!({"node": n, "op_type": op, "as": q})).collect::<Vec<_>>(),
            "kept_float": l.kept_float.iter().map(|(n, op, r)| json!({"node": n, "op_type": op, "reason": r})).collect::<Vec<_>>(),
        })
    });
    json!({
        "model": b.model,
        "inputs": b.inputs.iter().map(|(n, d)| json!({"name": n, "dims": d})).collect::<Vec<_>>(),
        "batches": b.batches,
        "warmup": b.warmup,
        "runs": b.runs,
        "seed": b.seed,
        "calib": b.calib,
        "method": b.method,
        "machine": {
            "arch": std::env::consts::ARCH,
            "os": std::env::consts::OS,
            "threads_available": std::thread::available_parallelism().map(|n| n.get()).ok(),
            "cpu": crate::cpu::name(),
            "int8_features": crate::cpu::int8_features(),
        },
        "qoperator": lowering,
        "kernels": b.kernels.iter().map(|(l, k)| json!({"row": l, "kernels": k})).collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// The latency bar chart and the speed-up heat-map (`calibr8_plot::reports::bench_charts`) of
/// the measured rows; `None` when no row was measured.
pub fn charts(b: &Bench) -> anyhow::Result<Option<(Rendered, Rendered)>> {
    let labels = b.measured_labels();
    if labels.is_empty() {
        return Ok(None);
    }
    let latencies = Latencies {
        model: b.model.clone(),
        runs: b.runs,
        batches: b.batches.clone(),
        rows: labels
            .iter()
            .map(|l| (l.clone(), b.batches.iter().map(|&bt| b.median(l, bt)).collect()))
            .collect(),
    };
    let (latency, speedup) = bench_charts(&latencies)?;
    Ok(Some((latency.rendered, speedup.rendered)))
}
