//! The `.c8state` file format, version [`FORMAT_VERSION`] (specified in docs/shards.md):
//!
//! ```text
//! magic        8 bytes  "C8STATE\0"
//! version      u32 LE   FORMAT_VERSION
//! header_len   u64 LE
//! header       header_len bytes of UTF-8 JSON: calibr8 version, kind, model, config, grid
//!              digest, sources, and per tensor its name, axis, channels and counts
//! body         per tensor, in header order: min and max (f32 LE bits, one per channel); for a
//!              histogram state the grid maxima (f32 LE), the grid-less zero counts (LEB128) and,
//!              for every channel with a grid, its num_bins counts (LEB128)
//! checksum     32 bytes: SHA-256 of everything before it
//! ```
//!
//! Floats are stored as bits, so they come back exactly; the encoding of a state is unique
//! (sorted tensors and sources, fixed key order), so equal states give equal bytes.

use super::identity::ModelIdentity;
use super::state::{ShardState, Source, TensorState};
use crate::internal::*;
use calibr8_calibration::{GridState, ObserverState};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The first bytes of every state file.
pub const MAGIC: &[u8; 8] = b"C8STATE\0";
/// The format version this calibr8 writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Largest header accepted (a header lists tensors and the config: far below this).
const MAX_HEADER: u64 = 256 << 20;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    calibr8_version: String,
    kind: String,
    model: ModelIdentity,
    config: QuantConfig,
    grid_sha256: Option<String>,
    sources: Vec<Source>,
    tensors: Vec<TensorHeader>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorHeader {
    name: String,
    axis: Option<usize>,
    channels: usize,
    batches: u64,
    values: u64,
    /// Histogram states: the grid's channel count and the values it holds.
    grid_channels: Option<usize>,
    histogram_values: Option<u64>,
}

impl ShardState {
    /// The state as `.c8state` bytes, format version [`FORMAT_VERSION`] (docs/shards.md):
    ///
    /// ```text
    /// magic        8 bytes  "C8STATE\0"
    /// version      u32 LE   1
    /// header_len   u64 LE
    /// header       JSON: calibr8_version, kind ("ranges" | "histograms"), model {path, sha256},
    ///              config (the resolved QuantConfig), grid_sha256, sources [{data,
    ///              samples, batches, sha256}], tensors [{name, axis, channels, batches,
    ///              values, grid_channels, histogram_values}]
    /// body         per tensor in header order: channels × f32 min, channels × f32 max; for
    ///              histograms grid_channels × f32 grid max, grid_channels × LEB128 grid-less
    ///              zeros, then num_bins × LEB128 counts per channel whose grid max is > 0
    /// checksum     SHA-256 of all bytes before it
    /// ```
    ///
    /// Deterministic: equal states give equal bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = Header {
            calibr8_version: self.calibr8_version.clone(),
            kind: self.kind().into(),
            model: self.model.clone(),
            config: self.config.clone(),
            grid_sha256: self.grid_digest(),
            sources: self.sources.clone(),
            tensors: self
                .tensors
                .iter()
                .map(|(name, t)| TensorHeader {
                    name: name.clone(),
                    axis: t.axis,
                    channels: t.state.min.len(),
                    batches: t.state.batches,
                    values: t.state.values,
                    grid_channels: t.state.grid.as_ref().map(|g| g.global_max.len()),
                    histogram_values: t.state.grid.as_ref().map(|g| g.values),
                })
                .collect(),
        };
        let json = serde_json::to_vec(&header)
            .map_err(|e| self.invalid(format!("cannot encode the header: {e}")))?;
        let mut out = Vec::with_capacity(64 + json.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        for t in self.tensors.values() {
            let s = &t.state;
            if s.min.len() != s.max.len() {
                return Err(self.invalid("min and max lengths differ"));
            }
            put_f32s(&mut out, &s.min);
            put_f32s(&mut out, &s.max);
            if let Some(g) = &s.grid {
                put_f32s(&mut out, &g.global_max);
                for &z in &g.zeros {
                    put_varint(&mut out, z);
                }
                for counts in &g.counts {
                    for &c in counts {
                        put_varint(&mut out, c);
                    }
                }
            }
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        Ok(out)
    }

    /// Reads `.c8state` bytes; `origin` names them in errors. Anything but an intact state of
    /// this format version is an [`Error::StateFile`] saying what is wrong; nothing panics.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<ShardState> {
        let bad = |reason: String| Error::StateFile { path: origin.into(), reason };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("not a calibr8 state file (no C8STATE magic); pass the files \
                            `calibr8 calibrate --state` wrote"
                .into()));
        }
        if bytes.len() < MAGIC.len() + 4 + 8 + 32 {
            return Err(bad(format!(
                "truncated ({} bytes); the write did not finish: re-run the shard",
                bytes.len()
            )));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {version}; this calibr8 ({}) reads version {FORMAT_VERSION}: use \
                 the calibr8 that wrote it, or re-run the shard",
                super::CALIBR8_VERSION
            )));
        }
        let (content, checksum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(content).as_slice() != checksum {
            return Err(bad("checksum mismatch: the file is truncated or corrupt; re-run the \
                            shard that wrote it"
                .into()));
        }
        let mut r = Reader { bytes: content, at: 12, origin };
        let header_len = r.u64()?;
        if header_len > MAX_HEADER {
            return Err(bad(format!("header of {header_len} bytes; the file is corrupt")));
        }
        let header: Header = serde_json::from_slice(r.take(header_len as usize)?)
            .map_err(|e| bad(format!("unreadable header ({e}); re-run the shard")))?;
        let num_bins = header.config.num_bins;
        let mut tensors = BTreeMap::new();
        for t in &header.tensors {
            let min = r.f32s(t.channels)?;
            let max = r.f32s(t.channels)?;
            let grid = match (t.grid_channels, t.histogram_values) {
                (None, None) => None,
                (Some(n), Some(values)) => {
                    let global_max = r.f32s(n)?;
                    let zeros = (0..n).map(|_| r.varint()).collect::<Result<Vec<_>>>()?;
                    let mut counts = Vec::with_capacity(n.min(r.remaining()));
                    for &m in &global_max {
                        let bins = if m > 0.0 { num_bins } else { 0 };
                        if bins > r.remaining() {
                            return Err(r.truncated());
                        }
                        counts.push((0..bins).map(|_| r.varint()).collect::<Result<Vec<_>>>()?);
                    }
                    Some(GridState { global_max, counts, zeros, values })
                }
                _ => return Err(bad(format!("tensor '{}': half a histogram header", t.name))),
            };
            let state = ObserverState { batches: t.batches, values: t.values, min, max, grid };
            if tensors.insert(t.name.clone(), TensorState { axis: t.axis, state }).is_some() {
                return Err(bad(format!("tensor '{}' listed twice", t.name)));
            }
        }
        if r.remaining() != 0 {
            return Err(bad(format!("{} bytes after the last tensor; corrupt", r.remaining())));
        }
        let mut sources = header.sources;
        sources.sort();
        let state = ShardState {
            origin: origin.into(),
            calibr8_version: header.calibr8_version,
            model: header.model,
            config: header.config,
            sources,
            tensors,
        };
        if state.kind() != header.kind || state.grid_digest() != header.grid_sha256 {
            return Err(bad(
                "the header's kind or grid digest does not match the data; corrupt".into()
            ));
        }
        if state.tensors.values().any(|t| t.state.grid.is_some() != state.has_histograms()) {
            return Err(bad("some tensors have histograms and others not; corrupt".into()));
        }
        // Every tensor's statistics must rebuild an observer (lengths, counts, ranges).
        for name in state.tensors.keys() {
            state.observer(name)?;
        }
        Ok(state)
    }

    /// Reads a `.c8state` file.
    pub fn read(path: impl AsRef<Path>) -> Result<ShardState> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        ShardState::from_bytes(&bytes, &path.display().to_string())
    }

    /// Writes the state to `path` atomically (a temporary file in the same folder, then a
    /// rename): readers see the old file or the complete new one.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::export::write_atomic(path, &self.to_bytes()?)
    }
}

fn put_f32s(out: &mut Vec<u8>, v: &[f32]) {
    for x in v {
        out.extend_from_slice(&x.to_bits().to_le_bytes());
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    origin: &'a str,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn truncated(&self) -> Error {
        Error::StateFile {
            path: self.origin.into(),
            reason: "the data ends early though the checksum matched: written by a broken \
                     calibr8? Re-run the shard"
                .into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated());
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or_default()))
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        let bytes = self.take(n.checked_mul(4).ok_or_else(|| self.truncated())?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_bits(u32::from_le_bytes(c.try_into().unwrap_or_default())))
            .collect())
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift == 63 && b > 1 {
                    break;
                }
                return Ok(v);
            }
        }
        Err(Error::StateFile {
            path: self.origin.into(),
            reason: "a count is not a valid LEB128 integer; corrupt".into(),
        })
    }
}
