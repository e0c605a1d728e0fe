//! Which engine × precision rows each backend name stands for.

use calibr8::Precision;

/// One row of the benchmark: a backend asked for one precision.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Engine shown in the table (`tract`, `tensorrt`, `burn`, `ort`).
    pub engine: String,
    /// Precision shown in the table (`fp32`, `fp16`, `int8`, `int8-qdq`).
    pub precision: String,
    /// Name passed to `calibr8::backend_for_name`.
    pub backend: String,
    /// Runs the quantized model (else the float one).
    pub int8: bool,
    /// `EngineOptions::float_precision`.
    pub float_precision: Option<Precision>,
    /// Runs the model calibrated with this preset instead of the config's (the ONNX Runtime
    /// row of the CPU preset beside the TensorRT-preset one).
    pub preset: Option<calibr8::Preset>,
}

impl Variant {
    fn new(engine: &str, precision: &str, backend: &str, int8: bool) -> Variant {
        Variant {
            engine: engine.into(),
            precision: precision.into(),
            backend: backend.into(),
            int8,
            float_precision: None,
            preset: None,
        }
    }

    /// One row standing for all of `rows` (same engine): precisions joined, e.g. `fp32/fp16/int8`.
    pub fn merged(rows: &[Variant]) -> Variant {
        let precisions: Vec<&str> = rows.iter().map(|r| r.precision.as_str()).collect();
        Variant { precision: precisions.join("/"), ..rows[0].clone() }
    }

    /// `tract int8`.
    pub fn label(&self) -> String {
        format!("{} {}", self.engine, self.precision)
    }
}

/// The rows for `--backends`, in the order given; unknown names are an error naming them.
pub fn variants(names: &[String]) -> anyhow::Result<Vec<Variant>> {
    let mut out = vec![];
    for name in names {
        let rows = match name.trim() {
            // int8 through QLinearConv / QLinearMatMul (tract's int8 kernels), and the QDQ model
            // tract runs in float: the second answers "why is int8 not faster?".
            "tract" => vec![
                Variant::new("tract", "fp32", "tract", false),
                Variant::new("tract", "int8", "tract-int8", true),
                Variant::new("tract", "int8-qdq", "tract", true),
            ],
            "tract-int8" => vec![Variant::new("tract", "int8", "tract-int8", true)],
            "tensorrt" => vec![
                Variant::new("tensorrt", "fp32", "tensorrt", false),
                Variant {
                    float_precision: Some(Precision::Fp16),
                    ..Variant::new("tensorrt", "fp16", "tensorrt", false)
                },
                Variant::new("tensorrt", "int8", "tensorrt", true),
            ],
            // burn has no integer kernels: its int8 row is the QDQ model simulated in float,
            // the counterpart of `tract int8-qdq`.
            "burn" => vec![
                Variant::new("burn", "fp32", "burn", false),
                Variant::new("burn", "int8-qdq", "burn", true),
            ],
            // ONNX Runtime on the CPU: fp32, the QDQ export of the config (TensorRT's layout by
            // default), which ONNX Runtime runs with int8 kernels only where Q/DQ surround an op
            // it can fuse, and the CPU preset's export, laid out for those kernels.
            "ort" => vec![
                Variant::new("ort", "fp32", "ort", false),
                Variant::new("ort", "int8-qdq", "ort", true),
                Variant {
                    preset: Some(calibr8::Preset::Cpu),
                    ..Variant::new("ort", "int8-cpu-preset", "ort", true)
                },
            ],
            other => anyhow::bail!(
                "--backends: unknown backend '{other}'; use some of {}",
                calibr8::BackendKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
            ),
        };
        for row in rows {
            if !out.contains(&row) {
                out.push(row);
            }
        }
    }
    Ok(out)
}

/// Says in the label of the `tract int8` row (backend `tract-int8`) when the QOperator lowering
/// left nodes in float: `int8, 0 of 21 nodes int8`. Such a row is not an int8 number, and the
/// table, bench.json and both plots must not present it as one.
pub fn label_lowering(variants: &mut [Variant], lowered: usize, total: usize) {
    if lowered == total {
        return;
    }
    for v in variants.iter_mut().filter(|v| v.backend == "tract-int8") {
        v.precision = format!("int8, {lowered} of {total} nodes int8");
    }
}

/// `variants` grouped by engine, in first-seen order.
pub fn by_engine(variants: &[Variant]) -> Vec<Vec<Variant>> {
    let mut groups: Vec<Vec<Variant>> = vec![];
    for v in variants {
        match groups.iter_mut().find(|g| g[0].engine == v.engine) {
            Some(g) => g.push(v.clone()),
            None => groups.push(vec![v.clone()]),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tract_expands_to_three_rows_and_duplicates_collapse() {
        let rows = variants(&["tract".into(), "tract-int8".into()]).unwrap();
        let labels: Vec<String> = rows.iter().map(Variant::label).collect();
        assert_eq!(labels, ["tract fp32", "tract int8", "tract int8-qdq"]);
        assert_eq!(rows[1].backend, "tract-int8");
        assert!(variants(&["onnxruntime".into()]).unwrap_err().to_string().contains("onnxruntime"));
    }

    // See: issue 14 — a `tract int8` row whose 21 nodes all stayed float was labelled `int8`.
    #[test]
    fn issue_14_rows_whose_nodes_stayed_float_say_so() {
        let mut rows = variants(&["tract".into()]).unwrap();
        label_lowering(&mut rows, 4, 4);
        assert_eq!(rows[1].label(), "tract int8");
        label_lowering(&mut rows, 0, 21);
        let labels: Vec<String> = rows.iter().map(Variant::label).collect();
        assert_eq!(labels, ["tract fp32", "tract int8, 0 of 21 nodes int8", "tract int8-qdq"]);
    }
}
