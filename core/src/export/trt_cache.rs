//! TensorRT's calibration cache text format, as written by `IInt8EntropyCalibrator2` and read by
//! `trtexec --int8 --calib=FILE`: a header `TRT-<version>-EntropyCalibration2`, then one
//! `tensor: <hex>` line per tensor, the hex being the big-endian IEEE-754 bits of amax / 127.

use crate::internal::*;
use std::collections::BTreeMap;

/// A TensorRT version as `major.minor.patch`, encoded in headers as `major*10000 + minor*100 + patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrtVersion {
    /// Major (10).
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl TrtVersion {
    /// The `NV_TENSORRT_VERSION` integer TensorRT puts in cache headers: 10.9.0 → 100900, and
    /// before 10 `major*1000 + minor*100 + patch` (8.6.1 → 8601, the header NNI's TensorRT 8
    /// flow reads).
    pub fn header_number(&self) -> u32 {
        // Saturating: a version built by hand outside the parsed ranges must not wrap.
        let major_unit = if self.major < 10 { 1000 } else { 10000 };
        self.major
            .saturating_mul(major_unit)
            .saturating_add(self.minor.saturating_mul(100))
            .saturating_add(self.patch)
    }

    /// Decodes a header integer (or `getInferLibVersion()`'s value).
    pub fn from_number(n: u32) -> TrtVersion {
        if n < 100000 {
            TrtVersion { major: n / 1000, minor: (n / 100) % 10, patch: n % 100 }
        } else {
            TrtVersion { major: n / 10000, minor: (n / 100) % 100, patch: n % 100 }
        }
    }
}

impl Default for TrtVersion {
    fn default() -> Self {
        TrtVersion { major: 10, minor: 9, patch: 0 }
    }
}

impl std::str::FromStr for TrtVersion {
    type Err = Error;
    /// Parses `MAJOR.MINOR[.PATCH]`: MAJOR in 7..=99, MINOR and PATCH in 0..=99 (MINOR 0..=9 before
    /// 10), the ranges the header encodings can hold: `MAJOR·10000 + MINOR·100 + PATCH` since
    /// TensorRT 10, `MAJOR·1000 + MINOR·100 + PATCH` before (NNI 2.x asserts TensorRT 7 or 8).
    ///
    /// ```
    /// use calibr8_core::export::TrtVersion;
    /// assert_eq!("10.16.1".parse::<TrtVersion>()?.header_number(), 101601);
    /// for bad in ["999999.0.0", "10.100.0", "8.10.1", "6.0.1", "10", "10.x", "-10.9.0", "10.9.0.1"] {
    ///     assert!(bad.parse::<TrtVersion>().is_err(), "{bad}");
    /// }
    /// # Ok::<(), calibr8_core::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<TrtVersion> {
        let bad = |why: &str| {
            Error::config(
                "trt-version",
                format!("'{s}' {why}; give the installed TensorRT version, e.g. 10.9.0"),
            )
        };
        let parts: Vec<u32> = s
            .trim()
            .split('.')
            .map(|p| p.parse::<u32>().map_err(|_| bad("is not a version MAJOR.MINOR.PATCH")))
            .collect::<Result<_>>()?;
        let v = match parts.as_slice() {
            [major, minor] => TrtVersion { major: *major, minor: *minor, patch: 0 },
            [major, minor, patch] => TrtVersion { major: *major, minor: *minor, patch: *patch },
            _ => return Err(bad("is not a version MAJOR.MINOR.PATCH")),
        };
        if !(7..=99).contains(&v.major) {
            return Err(bad(
                "has a major version outside 7..=99; calibration caches are read by TensorRT 7 \
                 and later (header MAJOR·1000+MINOR·100+PATCH before 10, MAJOR·10000+MINOR·100+PATCH since)",
            ));
        }
        if v.minor > 99 || v.patch > 99 || (v.major < 10 && v.minor > 9) {
            return Err(bad(
                "has a minor or patch version the header cannot encode (minor above 9 before \
                 TensorRT 10, minor or patch above 99)",
            ));
        }
        Ok(v)
    }
}

impl std::fmt::Display for TrtVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A parsed calibration cache.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationCache {
    /// The header version.
    pub version: TrtVersion,
    /// The calibrator named in the header (`EntropyCalibration2`).
    pub algorithm: String,
    /// Tensor name → scale (amax / 127).
    pub scales: BTreeMap<String, f32>,
}

/// The cache text for every quantized activation of `q` (symmetric amax, as TensorRT needs).
///
/// ```
/// use calibr8_core::export::{parse_calibration_cache, write_calibration_cache_entries, TrtVersion};
/// let text = write_calibration_cache_entries(TrtVersion::default(), [("x", 1.0f32)]);
/// assert_eq!(text, "TRT-100900-EntropyCalibration2\nx: 3c010204\n");
/// assert_eq!(parse_calibration_cache(&text)?.scales["x"], 1.0 / 127.0);
/// // TensorRT 8 numbers its headers major*1000 + minor*100 + patch.
/// let v8: TrtVersion = "8.6.1".parse()?;
/// assert!(write_calibration_cache_entries(v8, []).starts_with("TRT-8601-"));
/// assert_eq!(TrtVersion::from_number(8601), v8);
/// # Ok::<(), calibr8_core::Error>(())
/// ```
pub fn calibration_cache(q: &QuantizedModel, version: TrtVersion) -> String {
    write_calibration_cache_entries(
        version,
        q.activations().map(|t| {
            let amax = t.symmetric_amax().into_iter().fold(0.0f32, f32::max);
            (t.target.tensor.as_str(), amax)
        }),
    )
}

/// How tensors are named in a calibration cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheNaming {
    /// The model's own ONNX tensor names (`trtexec --calib`, calibr8's TensorRT backend).
    #[default]
    Onnx,
    /// The names NNI 3.0's `ModelSpeedupTensorRT.compress_with_calibrator` gives TensorRT: it
    /// re-exports the PyTorch model with `input_names=["actual_input_1"]` and
    /// `output_names=["output1"]`, so the first graph input and output are renamed; every other
    /// tensor keeps torch's name, which matches when the model was exported by the same torch
    /// version with default settings. Also lists the tensors observed for NNI (Conv outputs), since
    /// TensorRT's implicit int8 wants a range for every tensor.
    Nni,
}

impl std::str::FromStr for CacheNaming {
    type Err = Error;
    fn from_str(s: &str) -> Result<CacheNaming> {
        match s {
            "onnx" => Ok(CacheNaming::Onnx),
            "nni" => Ok(CacheNaming::Nni),
            _ => Err(Error::config("trt-cache-names", format!("'{s}' is not onnx or nni"))),
        }
    }
}

/// NNI 3.0's name for the graph input.
pub const NNI_INPUT_NAME: &str = "actual_input_1";
/// NNI 3.0's name for the graph output.
pub const NNI_OUTPUT_NAME: &str = "output1";

/// [`calibration_cache`] with tensors named per `naming`.
pub fn calibration_cache_named(
    q: &QuantizedModel,
    version: TrtVersion,
    naming: CacheNaming,
) -> String {
    if naming == CacheNaming::Onnx {
        return calibration_cache(q, version);
    }
    let inputs = q.model.inputs();
    let outputs = q.model.outputs();
    let rename = |name: &str| -> String {
        if inputs.first().is_some_and(|i| i.name == name) {
            NNI_INPUT_NAME.to_string()
        } else if outputs.first().is_some_and(|o| o.name == name) {
            NNI_OUTPUT_NAME.to_string()
        } else {
            name.to_string()
        }
    };
    let entries: Vec<(String, f32)> = q
        .activations()
        .chain(q.observed.values())
        .map(|t| {
            let amax = t.symmetric_amax().into_iter().fold(0.0f32, f32::max);
            (rename(&t.target.tensor), amax)
        })
        .collect();
    write_calibration_cache_entries(version, entries.iter().map(|(n, a)| (n.as_str(), *a)))
}

/// The cache text for `(tensor, amax)` pairs.
pub fn write_calibration_cache_entries<'a>(
    version: TrtVersion,
    entries: impl IntoIterator<Item = (&'a str, f32)>,
) -> String {
    let mut out = format!("TRT-{}-EntropyCalibration2\n", version.header_number());
    for (name, amax) in entries {
        // Dead tensors get scale 1, like every other artifact (never 0, which TensorRT rejects).
        let scale = if amax <= calibr8_calibration::DEAD_AMAX { 1.0 } else { amax / 127.0 };
        out.push_str(&format!("{name}: {:08x}\n", scale.to_bits()));
    }
    out
}

/// Parses cache text as TensorRT does; errors name the line.
pub fn parse_calibration_cache(text: &str) -> Result<CalibrationCache> {
    let bad =
        |line: usize, why: String| Error::data("calibration cache", format!("line {line}: {why}"));
    let mut lines = text.lines();
    let header = lines.next().ok_or_else(|| bad(1, "empty file".into()))?;
    let rest = header
        .strip_prefix("TRT-")
        .ok_or_else(|| bad(1, format!("header '{header}' does not start with TRT-")))?;
    let (number, algorithm) = rest
        .split_once('-')
        .ok_or_else(|| bad(1, format!("header '{header}' lacks the calibrator name")))?;
    let number: u32 =
        number.parse().map_err(|_| bad(1, format!("version '{number}' is not a number")))?;
    let mut scales = BTreeMap::new();
    for (ix, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (name, hex) = line
            .rsplit_once(": ")
            .ok_or_else(|| bad(ix + 2, format!("'{line}' is not 'tensor: hex'")))?;
        let bits = u32::from_str_radix(hex.trim(), 16)
            .map_err(|_| bad(ix + 2, format!("'{hex}' is not 8 hex digits")))?;
        scales.insert(name.to_string(), f32::from_bits(bits));
    }
    Ok(CalibrationCache {
        version: TrtVersion::from_number(number),
        algorithm: algorithm.to_string(),
        scales,
    })
}
