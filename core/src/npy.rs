//! A small reader and writer for NumPy `.npy` files (format versions 1–3, little-endian,
//! C order), enough for calibration data, evaluation sets and labels.

use crate::internal::*;
use ndarray::ArrayD;
use std::path::Path;

/// An array read from a `.npy` file.
#[derive(Clone, Debug, PartialEq)]
pub enum NpyArray {
    /// float32 (float64 files are converted).
    F32(ArrayD<f32>),
    /// int64 (int32 / uint8 files are converted).
    I64(ArrayD<i64>),
}

/// Reads a `.npy` file.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    parse_npy(&bytes).map_err(|reason| Error::data(path.display().to_string(), reason))
}

/// Reads a float `.npy` file (float32 or float64).
pub fn read_npy_f32(path: impl AsRef<Path>) -> Result<ArrayD<f32>> {
    let path = path.as_ref();
    match read_npy(path)? {
        NpyArray::F32(a) => Ok(a),
        NpyArray::I64(_) => Err(Error::data(
            path.display().to_string(),
            "holds integers; calibration and evaluation data must be float32 (x.astype('float32'))",
        )),
    }
}

/// Parses `.npy` bytes; the error says what is wrong.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(
            "not a .npy file (missing the \\x93NUMPY magic); save it with numpy.save".into()
        );
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => {
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let header = bytes.get(start..start + header_len).ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the .npy header is not text")?;
    let field = |key: &str| -> Result<&str, String> {
        let at =
            header.find(&format!("'{key}'")).ok_or(format!("the .npy header lacks '{key}'"))?;
        let rest = &header[at + key.len() + 2..];
        Ok(rest.trim_start_matches([' ', ':']).trim_start())
    };
    let descr = field("descr")?;
    let descr = descr.trim_start_matches('\'');
    let descr = &descr[..descr.find('\'').ok_or("bad descr in the .npy header")?];
    if field("fortran_order")?.starts_with("True") {
        return Err("is in Fortran order; save a C-ordered array (np.ascontiguousarray)".into());
    }
    let shape_text = field("shape")?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.find(')').map(|end| &s[..end]))
        .ok_or("bad shape in the .npy header")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad dimension '{s}' in the .npy header")))
        .collect::<Result<_, _>>()?;
    let data = &bytes[start + header_len..];
    let need = |width: usize| -> Result<&[u8], String> {
        check_payload(&shape, width, data.len())?;
        Ok(data)
    };
    let shaped = |v| ArrayD::from_shape_vec(shape.clone(), v).map_err(|e| e.to_string());
    Ok(match descr {
        "<f4" => NpyArray::F32(shaped(
            need(4)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )?),
        "<f8" => NpyArray::F32(shaped(
            need(8)?
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()) as f32)
                .collect(),
        )?),
        "<i8" => NpyArray::I64(
            ArrayD::from_shape_vec(
                shape.clone(),
                need(8)?
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect(),
            )
            .map_err(|e| e.to_string())?,
        ),
        "<i4" => NpyArray::I64(
            ArrayD::from_shape_vec(
                shape.clone(),
                need(4)?
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                    .collect(),
            )
            .map_err(|e| e.to_string())?,
        ),
        "|u1" => NpyArray::I64(
            ArrayD::from_shape_vec(shape.clone(), need(1)?.iter().map(|&b| b as i64).collect())
                .map_err(|e| e.to_string())?,
        ),
        other => {
            return Err(format!(
                "element type '{other}' is not supported; use float32 ('<f4') data or int64 labels"
            ))
        }
    })
}

/// Checks that a payload of `data_len` bytes holds exactly the `shape` the header declares, in
/// elements of `width` bytes: a header claiming 10 samples over 256 samples of data (or the
/// reverse) is an error, never a silent truncation. Kept apart from the parser so any reader
/// (this one, npyz) can call it.
///
/// ```
/// use calibr8_core::npy::check_payload;
/// assert!(check_payload(&[2, 3], 4, 24).is_ok());
/// assert!(check_payload(&[10, 3], 4, 256 * 12).unwrap_err().contains("10 samples"));
/// assert!(check_payload(&[usize::MAX, 2], 4, 8).unwrap_err().contains("overflow"));
/// ```
pub fn check_payload(shape: &[usize], width: usize, data_len: usize) -> Result<(), String> {
    let need = shape
        .iter()
        .try_fold(width, |acc, &d| acc.checked_mul(d))
        .ok_or(format!("the header's shape {shape:?} overflows; the file is corrupt"))?;
    if need == data_len {
        return Ok(());
    }
    let samples = shape.first().map(|n| format!(" ({n} samples)")).unwrap_or_default();
    let held = match shape.iter().skip(1).try_fold(width, |acc, &d| acc.checked_mul(d)) {
        Some(row) if row > 0 && data_len % row == 0 && !shape.is_empty() => {
            format!(", i.e. {} samples of that shape", data_len / row)
        }
        _ => String::new(),
    };
    let what = if data_len < need { "truncated" } else { "longer than its header says" };
    Err(format!(
        "{what}: the header declares shape {shape:?}{samples} = {need} bytes of data, the file \
         holds {data_len}{held}. Re-save it with numpy.save"
    ))
}

/// Encodes a float32 array as `.npy` (version 1) bytes.
pub fn npy_bytes_f32(array: &ArrayD<f32>) -> Vec<u8> {
    let shape = match array.shape() {
        [n] => format!("({n},)"),
        dims => format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in array.iter() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_f32() {
        let a =
            ArrayD::from_shape_vec(vec![2, 3], vec![1.0f32, -2.0, 3.5, 0.0, 1e-8, 7.0]).unwrap();
        let parsed = parse_npy(&npy_bytes_f32(&a)).unwrap();
        assert_eq!(parsed, NpyArray::F32(a));
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(parse_npy(b"hello world, not numpy").unwrap_err().contains("magic"));
        let a = ArrayD::from_shape_vec(vec![4], vec![1.0f32; 4]).unwrap();
        let bytes = npy_bytes_f32(&a);
        assert!(parse_npy(&bytes[..bytes.len() - 3]).unwrap_err().contains("truncated"));
    }

    /// A version-1 `.npy` with a hand-written shape over `payload`.
    fn with_shape(shape: &str, payload: &[u8]) -> Vec<u8> {
        let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}\n");
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// See: https://github.com/calibr8/calibr8/issues/10
    #[test]
    fn issue_10_header_and_payload_must_agree() {
        let payload = vec![0u8; 256 * 2 * 4];
        assert!(parse_npy(&with_shape("(256, 2)", &payload)).is_ok());
        let e = parse_npy(&with_shape("(10, 2)", &payload)).unwrap_err();
        assert!(e.contains("longer than its header says") && e.contains("256 samples"), "{e}");
        let e = parse_npy(&with_shape("(300, 2)", &payload)).unwrap_err();
        assert!(e.contains("truncated") && e.contains("300 samples"), "{e}");
        let e = parse_npy(&with_shape("(99999999999999, 99999999999)", &payload)).unwrap_err();
        assert!(e.contains("overflows"), "{e}");
    }
}
