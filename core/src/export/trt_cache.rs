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
    /// The `NV_TENSORRT_VERSION` integer TensorRT puts in cache headers (10.9.0 → 100900).
    pub fn header_number(&self) -> u32 {
        // Saturating: a version built by hand outside the parsed ranges must not wrap.
        self.major
            .saturating_mul(10000)
            .saturating_add(self.minor.saturating_mul(100))
            .saturating_add(self.patch)
    }

    /// Decodes a header integer (or `getInferLibVersion()`'s value).
    pub fn from_number(n: u32) -> TrtVersion {
        TrtVersion { major: n / 10000, minor: (n / 100) % 100, patch: n % 100 }
    }
}

impl Default for TrtVersion {
    fn default() -> Self {
        TrtVersion { major: 10, minor: 9, patch: 0 }
    }
}

impl std::str::FromStr for TrtVersion {
    type Err = Error;
    /// Parses `MAJOR.MINOR[.PATCH]` for TensorRT 10 or later: MAJOR in 10..=99 and MINOR, PATCH
    /// in 0..=99, the ranges the header's `MAJOR·10000 + MINOR·100 + PATCH` encoding can hold
    /// (TensorRT 8 and 9 used `MAJOR·1000 + MINOR·100 + PATCH`, which calibr8 does not write).
    ///
    /// ```
    /// use calibr8_core::export::TrtVersion;
    /// assert_eq!("10.16.1".parse::<TrtVersion>()?.header_number(), 101601);
    /// for bad in ["999999.0.0", "10.100.0", "8.6.1", "10", "10.x", "-10.9.0", "10.9.0.1"] {
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
        if !(10..=99).contains(&v.major) {
            return Err(bad(
                "has a major version outside 10..=99; calibration caches in this format \
                 (header MAJOR·10000+MINOR·100+PATCH) are read by TensorRT 10 and later",
            ));
        }
        if v.minor > 99 || v.patch > 99 {
            return Err(bad(
                "has a minor or patch version above 99, which the header cannot encode",
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
