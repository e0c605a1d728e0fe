//! Engine files and calibration caches tied to the TensorRT version that runs them.
//!
//! A TensorRT engine only deserializes in the TensorRT version that built it (and TensorRT's own
//! failure is an opaque log line). calibr8 engine files therefore start with a one-line header
//! and a JSON line recording the version, and [`load_engine`] refuses a mismatch with a message
//! that names both versions and says to rebuild.
//!
//! Layout: `CALIBR8-TRT-ENGINE\n`, one line of JSON ([`EngineHeader`]), then the plan bytes.

use crate::internal::*;
use crate::lower::LoweringReport;
use crate::plan::TrtPlan;
use calibr8_core::export::{write_atomic, write_calibration_cache_entries, TrtVersion};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8] = b"CALIBR8-TRT-ENGINE\n";

/// What an engine file records about its build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineHeader {
    /// File format version (1).
    pub format: u32,
    /// `getInferLibVersion()` of the TensorRT that built the engine (e.g. `101601`).
    pub tensorrt: u32,
    /// The same as text (`10.16.1`), for people reading the file.
    pub tensorrt_text: String,
    /// calibr8 version that wrote it.
    pub calibr8: String,
    /// Free-form description of the build (mode, precision, batch profile).
    pub build: String,
}

impl EngineHeader {
    /// A header for an engine built by TensorRT `raw_version` (`getInferLibVersion()`).
    pub fn new(raw_version: u32, build: impl Into<String>) -> EngineHeader {
        EngineHeader {
            format: 1,
            tensorrt: raw_version,
            tensorrt_text: TrtVersion::from_number(raw_version).to_string(),
            calibr8: env!("CARGO_PKG_VERSION").to_string(),
            build: build.into(),
        }
    }
}

/// The bytes of an engine file.
pub fn encode(header: &EngineHeader, plan: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(serde_json::to_vec(header).unwrap_or_default());
    out.push(b'\n');
    out.extend_from_slice(plan);
    out
}

/// Splits an engine file into its header and plan; `origin` names it in errors.
pub fn decode<'a>(bytes: &'a [u8], origin: &str) -> Result<(EngineHeader, &'a [u8])> {
    let bad = |why: &str| {
        Error::backend(
            crate::BACKEND,
            format!("{origin}: {why}. Engine files are written by calibr8 (TensorRtBackend::save_engine); rebuild it"),
        )
    };
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("not a calibr8 TensorRT engine file (no header)"))?;
    let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("truncated header"))?;
    let header: EngineHeader = serde_json::from_slice(&rest[..end])
        .map_err(|e| bad(&format!("unreadable header ({e})")))?;
    if header.format != 1 {
        return Err(bad(&format!("unknown format {}", header.format)));
    }
    Ok((header, &rest[end + 1..]))
}

/// Refuses an engine built by another TensorRT than the running one (`running`, the value of
/// `getInferLibVersion()`).
pub fn check_version(header: &EngineHeader, running: u32, origin: &str) -> Result<()> {
    if header.tensorrt == running {
        return Ok(());
    }
    Err(Error::backend(
        crate::BACKEND,
        format!(
            "{origin} was built with TensorRT {}, but this process runs TensorRT {}; TensorRT \
             engines only load in the version that built them. Rebuild the engine with this \
             TensorRT (or run it where TensorRT {} is installed)",
            header.tensorrt_text,
            TrtVersion::from_number(running),
            header.tensorrt_text
        ),
    ))
}

/// Writes an engine file atomically.
pub fn save_engine(path: impl AsRef<Path>, header: &EngineHeader, plan: &[u8]) -> Result<()> {
    write_atomic(path, &encode(header, plan))
}

/// Reads an engine file and checks it against the running TensorRT version.
pub fn load_engine(path: impl AsRef<Path>, running: u32) -> Result<(EngineHeader, Vec<u8>)> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    let origin = path.display().to_string();
    let (header, plan) = decode(&bytes, &origin)?;
    check_version(&header, running, &origin)?;
    Ok((header, plan.to_vec()))
}

/// The calibration cache for `trtexec --int8 --calib` with every range the dynamic-range plan
/// sets — calibrated activations *and* the ranges it derives through Reshape/Pad/MaxPool/…
/// and the Gemm/MatMul weight constants' `±max|W|` under their ONNX names — with the header of
/// TensorRT `raw_version`. (calibr8-core's `calibration_cache`, which `calibr8 quantize` writes,
/// holds the calibrated activations only.) Ranges the lowering carries through layers TensorRT
/// creates itself have TensorRT's names: [`calibration_cache_for_report`] has those too.
pub fn calibration_cache_for(plan: &TrtPlan, raw_version: u32) -> String {
    write_calibration_cache_entries(
        TrtVersion::from_number(raw_version),
        plan.ranges.values().map(|r| (r.tensor.as_str(), r.amax)).chain(
            plan.constant_ranges
                .iter()
                .filter(|c| !plan.ranges.contains_key(&c.weight))
                .map(|c| (c.weight.as_str(), c.amax)),
        ),
    )
}

/// The calibration cache holding exactly the `setDynamicRange` calls a build made (by
/// TensorRT tensor name), so `trtexec --calib` builds the engine calibr8 built.
pub fn calibration_cache_for_report(report: &LoweringReport, raw_version: u32) -> String {
    write_calibration_cache_entries(
        TrtVersion::from_number(raw_version),
        report.ranges.iter().map(|(t, amax)| (t.as_str(), *amax)),
    )
}

/// Writes the plan's calibration cache ([`calibration_cache_for`]) with the running library's
/// version (`getInferLibVersion()`), which TensorRT insists on. Fails, writing nothing, when
/// TensorRT cannot be loaded.
pub fn write_calibration_cache(plan: &TrtPlan, path: impl AsRef<Path>) -> Result<u32> {
    let api = calibr8_tensorrt_sys::loader::api().map_err(|e| Error::backend(crate::BACKEND, e))?;
    let raw = api.raw_version.max(0) as u32;
    write_atomic(path, calibration_cache_for(plan, raw).as_bytes())?;
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_file_round_trip_and_version_refusal() {
        let header = EngineHeader::new(101601, "int8 dynamic_range batch 1..32");
        let bytes = encode(&header, b"\x00plan\nbytes");
        let (back, plan) = decode(&bytes, "m.engine").expect("decodes");
        assert_eq!(back, header);
        assert_eq!(back.tensorrt_text, "10.16.1");
        assert_eq!(plan, b"\x00plan\nbytes");
        check_version(&back, 101601, "m.engine").expect("same version loads");
        let err =
            check_version(&back, 100900, "m.engine").expect_err("mismatch refused").to_string();
        assert!(
            err.contains("built with TensorRT 10.16.1") && err.contains("runs TensorRT 10.9.0"),
            "{err}"
        );
        assert!(err.contains("Rebuild the engine"), "{err}");
        let err = decode(b"ftrtplan", "raw.plan").expect_err("foreign file").to_string();
        assert!(err.contains("not a calibr8 TensorRT engine file"), "{err}");
    }

    #[test]
    fn engine_file_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.engine");
        save_engine(&path, &EngineHeader::new(100900, "fp16"), b"plan").expect("save");
        let (h, plan) = load_engine(&path, 100900).expect("load");
        assert_eq!((h.tensorrt, plan.as_slice()), (100900, &b"plan"[..]));
        assert!(load_engine(&path, 101000).is_err());
    }
}
