//! The end-of-run table and the clipping warnings.

use calibr8::QuantizedModel;
use std::io::Write;

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

pub fn print(
    out: &mut dyn Write,
    q: &QuantizedModel,
    samples: usize,
    elapsed: std::time::Duration,
) -> std::io::Result<()> {
    writeln!(
        out,
        "calibrated {} tensors on {samples} samples in {:.2}s ({})",
        q.tensors.len(),
        elapsed.as_secs_f64(),
        q.config.method
    )?;
    writeln!(
        out,
        "{:<28} {:<10} {:<9} {:>12} {:>12} {:>24} {:>9}",
        "tensor", "role", "observer", "min", "max", "scale", "clipped"
    )?;
    for (name, t) in &q.tensors {
        let min = t.range.min.iter().copied().fold(f32::INFINITY, f32::min);
        let max = t.range.max.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        writeln!(
            out,
            "{:<28} {:<10} {:<9} {:>12.5} {:>12.5} {:>24} {:>8.3}%",
            name,
            format!("{:?}", t.target.role).to_lowercase(),
            t.range.method.to_string(),
            min,
            max,
            fmt_list(&t.params.scale),
            t.range.clipped_fraction * 100.0
        )?;
    }
    Ok(())
}

/// With `method: auto`, how often each observer was chosen.
pub fn print_auto(out: &mut dyn Write, q: &QuantizedModel) -> std::io::Result<()> {
    if q.auto.is_empty() {
        return Ok(());
    }
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for choice in q.auto.values() {
        *counts.entry(choice.chosen.to_string()).or_default() += 1;
    }
    let list: Vec<String> = counts.iter().map(|(m, n)| format!("{m} ×{n}")).collect();
    writeln!(out, "auto chose per tensor: {} (scores in ranges.json)", list.join(", "))
}

pub fn warn_clipping(out: &mut dyn Write, q: &QuantizedModel) -> std::io::Result<()> {
    for (name, t) in &q.tensors {
        if t.range.clipped_fraction > CLIP_WARN_FRACTION {
            let amax = t.range.amax.iter().copied().fold(0.0f32, f32::max);
            writeln!(
                out,
                "warning: {:.1}% of the calibration values of '{name}' lie beyond its amax {amax:.6} \
                 ({}); they will be clipped — compare with \
                 --method minmax or mse",
                t.range.clipped_fraction * 100.0,
                t.range.method
            )?;
        }
    }
    Ok(())
}
