//! `calibr8 quantize`'s result: the per-tensor table (text) or document (JSON), and the
//! clipping warnings.

use calibr8::{OnnxModel, QuantizedModel};
use serde::Serialize;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// More than this fraction of calibration values beyond amax draws a warning.
pub const CLIP_WARN_FRACTION: f64 = 0.01;

fn fmt_list(v: &[f32]) -> String {
    match v {
        [one] => format!("{one:.6}"),
        many => {
            let lo = many.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = many.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            format!("{lo:.4}..{hi:.4} ×{}", many.len())
        }
    }
}

fn min_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::INFINITY, f32::min)
}

fn max_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// The text result: a header line, one row per tensor, the files written.
pub fn text(
    q: &QuantizedModel,
    samples: usize,
    elapsed: std::time::Duration,
    written: &[PathBuf],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "calibrated {} tensors on {samples} samples in {:.2}s ({})",
        q.tensors.len(),
        elapsed.as_secs_f64(),
        q.config.method
    );
    let _ = writeln!(
        s,
        "{:<28} {:<10} {:<9} {:>12} {:>12} {:>24} {:>9}",
        "tensor", "role", "observer", "min", "max", "scale", "clipped"
    );
    for (name, t) in &q.tensors {
        let _ = writeln!(
            s,
            "{:<28} {:<10} {:<9} {:>12.5} {:>12.5} {:>24} {:>8.3}%",
            name,
            format!("{:?}", t.target.role).to_lowercase(),
            t.range.method.to_string(),
            min_of(&t.range.min),
            max_of(&t.range.max),
            fmt_list(&t.params.scale),
            t.range.clipped_fraction * 100.0
        );
    }
    for path in written {
        let _ = writeln!(s, "wrote {}", path.display());
    }
    s
}

/// With `method: auto`, how often each observer was chosen (None when auto did not run).
pub fn auto_line(q: &QuantizedModel) -> Option<String> {
    if q.auto.is_empty() {
        return None;
    }
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for choice in q.auto.values() {
        *counts.entry(choice.chosen.to_string()).or_default() += 1;
    }
    let list: Vec<String> = counts.iter().map(|(m, n)| format!("{m} ×{n}")).collect();
    let mut line = format!("auto chose per tensor: {} (scores in ranges.json)", list.join(", "));
    if let Some(search) = &q.auto_search {
        let db = |v: f64| if v.is_finite() { format!("{v:.1} dB") } else { format!("{v} dB") };
        let whole: Vec<String> =
            search.candidates.iter().map(|c| format!("{} {}", c.name, db(c.sqnr_db))).collect();
        let changed: Vec<String> = search
            .steps
            .iter()
            .filter_map(|s| s.taken.as_ref().map(|t| format!("block {} → {t}", s.block + 1)))
            .collect();
        let _ = write!(
            line,
            "\nauto: model-output SQNR on {} calibration samples: {}; refined in {} blocks{} → {}",
            search.samples,
            whole.join(", "),
            search.steps.len(),
            if changed.is_empty() { String::new() } else { format!(" ({})", changed.join(", ")) },
            db(search.sqnr_db)
        );
    }
    Some(line)
}

/// With `bias_correction`, how many biases moved and by how much at most.
pub fn bias_correction_line(q: &QuantizedModel) -> Option<String> {
    if !q.config.bias_correction {
        return None;
    }
    let largest =
        q.bias_corrections.iter().max_by(|a, b| a.max_abs_shift.total_cmp(&b.max_abs_shift));
    Some(match largest {
        Some(c) => format!(
            "bias correction: {} Conv/Gemm bias(es) corrected for the mean shift of weight \
             rounding (largest: {:.3e} in '{}')",
            q.bias_corrections.len(),
            c.max_abs_shift,
            c.node
        ),
        None => "bias correction: no Conv/Gemm with quantized weights and a stored bias to correct"
            .to_string(),
    })
}

/// One warning per tensor whose observer clipped more than [`CLIP_WARN_FRACTION`]. It names
/// methods other than the one that clipped; where `auto` chose that method, it says so instead
/// (the clipping scored best on the consuming op).
pub fn clipping_warnings(q: &QuantizedModel) -> Vec<String> {
    q.tensors
        .iter()
        .filter(|(_, t)| t.range.clipped_fraction > CLIP_WARN_FRACTION)
        .map(|(name, t)| {
            let method = t.range.method.to_string();
            let advice = if q.auto.contains_key(name) {
                format!(
                    "auto chose {method} for it: it gave the smallest error of the model \
                     outputs (scores in ranges.json)"
                )
            } else {
                let base = method.split(':').next().unwrap_or(&method);
                let others: Vec<&str> =
                    ["minmax", "mse", "auto"].into_iter().filter(|m| *m != base).collect();
                format!("compare with --method {}", others.join(" or "))
            };
            format!(
                "{:.1}% of the calibration values of '{name}' lie beyond its amax {:.6} ({method}); \
                 they will be clipped — {advice}",
                t.range.clipped_fraction * 100.0,
                max_of(&t.range.amax),
            )
        })
        .collect()
}

/// `calibr8 quantize --format json` (schema in docs/cli-json.md).
#[derive(Serialize)]
pub struct QuantizeJson {
    /// The float model.
    pub model: String,
    /// The calibration data path.
    pub calibration_data: String,
    /// Samples calibrated on.
    pub samples: usize,
    /// Wall time of calibration.
    pub seconds: f64,
    /// Activation observer.
    pub method: String,
    /// One entry per quantized tensor, by name.
    pub tensors: Vec<TensorJson>,
    /// Clipping warnings (also on stderr).
    pub warnings: Vec<String>,
    /// Files written.
    pub written: Vec<String>,
    /// With `auto`: every whole-model candidate's output SQNR and the blocks refined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_search: Option<calibr8::core::auto::AutoSearch>,
    /// With `--bias-correction`: each corrected bias and its largest shift.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bias_corrections: Vec<calibr8::core::bias_correction::BiasCorrection>,
}

/// One quantized tensor.
#[derive(Serialize)]
pub struct TensorJson {
    pub tensor: String,
    /// `weight` or `activation`.
    pub role: String,
    pub observer: String,
    /// Per channel (one value) or per tensor (one value).
    pub min: Vec<f32>,
    pub max: Vec<f32>,
    pub amax: Vec<f32>,
    pub scale: Vec<f32>,
    pub zero_point: Vec<i32>,
    /// Channel axis of per-channel parameters.
    pub axis: Option<usize>,
    /// Fraction of calibration values beyond amax.
    pub clipped_fraction: f64,
}

pub fn json(
    q: &QuantizedModel,
    model: &OnnxModel,
    calib: &Path,
    samples: usize,
    elapsed: std::time::Duration,
    written: &[PathBuf],
) -> QuantizeJson {
    QuantizeJson {
        model: model.origin.clone(),
        calibration_data: calib.display().to_string(),
        samples,
        seconds: elapsed.as_secs_f64(),
        method: q.config.method.to_string(),
        tensors: q
            .tensors
            .iter()
            .map(|(name, t)| TensorJson {
                tensor: name.clone(),
                role: format!("{:?}", t.target.role).to_lowercase(),
                observer: t.range.method.to_string(),
                min: t.range.min.clone(),
                max: t.range.max.clone(),
                amax: t.range.amax.clone(),
                scale: t.params.scale.clone(),
                zero_point: t.params.zero_point.clone(),
                axis: t.params.axis,
                clipped_fraction: t.range.clipped_fraction,
            })
            .collect(),
        warnings: clipping_warnings(q),
        written: written.iter().map(|p| p.display().to_string()).collect(),
        auto_search: q.auto_search.clone(),
        bias_corrections: q.bias_corrections.clone(),
    }
}
