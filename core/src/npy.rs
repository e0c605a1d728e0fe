//! NumPy `.npy` and `.npz` files through the `npyz` crate: typed arrays for calibration data,
//! evaluation sets and labels, plus a header-only look (shape and type without reading the
//! data) so a folder of large files is checked up front cheaply.
//!
//! Every read checks that the payload holds exactly what the header declares: a header that
//! claims 10 samples on a 256-sample payload is an error, not a silent calibration on 10.

use crate::internal::*;
use crate::tensor::{ElemType, TensorValue};
use ndarray::ArrayD;
use std::io::{Read, Seek};
use std::path::Path;

/// What a `.npy` header declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyInfo {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Element type, as calibr8 will read it.
    pub elem_type: ElemType,
}

/// The element type calibr8 reads for a NumPy type string, and its width in bytes.
fn elem_type_of(dtype: &npyz::DType) -> std::result::Result<(ElemType, u64), String> {
    let unsupported = || {
        format!(
            "element type '{}' is not supported; use float32, float64, int64, int32, int8, \
             uint8 or bool",
            dtype.descr()
        )
    };
    let npyz::DType::Plain(ts) = dtype else {
        return Err(unsupported());
    };
    use npyz::TypeChar;
    let elem = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => ElemType::F32,
        (TypeChar::Float, 8) => ElemType::F64,
        (TypeChar::Int, 8) => ElemType::I64,
        (TypeChar::Int, 4) => ElemType::I32,
        (TypeChar::Int, 1) => ElemType::I8,
        (TypeChar::Uint, 1) => ElemType::U8,
        (TypeChar::Bool, 1) => ElemType::Bool,
        _ => return Err(unsupported()),
    };
    Ok((elem, ts.size_field()))
}

/// Longest `.npy` header accepted: real ones are under 200 bytes, and npyz parses the header
/// recursively, so a hostile nesting depth must not reach it.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Deepest bracket nesting accepted in a header (a real one nests 2 deep).
const MAX_HEADER_NESTING: usize = 8;

/// Reads the magic, version and header text from `reader` and checks their bounds before npyz
/// parses anything; returns the raw header bytes.
fn read_header_bytes(reader: &mut impl Read) -> std::result::Result<Vec<u8>, String> {
    let not_npy =
        || "is not a .npy array (no \\x93NUMPY magic); save it with numpy.save".to_string();
    let mut prefix = vec![0u8; 8];
    reader.read_exact(&mut prefix).map_err(|_| not_npy())?;
    if &prefix[..6] != b"\x93NUMPY" {
        return Err(not_npy());
    }
    let len_bytes = match prefix[6] {
        1 => 2,
        2 | 3 => 4,
        v => return Err(format!("uses .npy format version {v}; numpy writes versions 1 to 3")),
    };
    let mut len = vec![0u8; len_bytes];
    reader.read_exact(&mut len).map_err(|_| "has a truncated .npy header".to_string())?;
    let header_len = len.iter().rev().fold(0usize, |acc, &b| acc << 8 | b as usize);
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "declares a {header_len}-byte .npy header (numpy writes under 200); save it again \
             with numpy.save"
        ));
    }
    prefix.extend_from_slice(&len);
    let start = prefix.len();
    prefix.resize(start + header_len, 0);
    reader
        .read_exact(&mut prefix[start..])
        .map_err(|_| "has a truncated .npy header".to_string())?;
    let mut depth = 0usize;
    for &b in &prefix[start..] {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_HEADER_NESTING {
            return Err("has a .npy header nested deeper than numpy writes; save it again \
                        with numpy.save"
                .into());
        }
    }
    Ok(prefix)
}

/// Parses the header from `reader`; `payload` is the number of bytes the whole stream holds.
/// Returns the header facts and the reader positioned at the data.
fn open<R: Read>(
    mut reader: R,
    payload: u64,
) -> std::result::Result<(NpyInfo, npyz::NpyFile<R>), String> {
    let header_bytes = read_header_bytes(&mut reader)?;
    let header = npyz::NpyHeader::from_reader(&header_bytes[..])
        .map_err(|e| format!("has an unreadable .npy header ({e}); save it with numpy.save"))?;
    if header.uses_pickled_array() {
        return Err("holds Python objects (pickled); save a numeric array".into());
    }
    let (elem_type, width) = elem_type_of(&header.dtype())?;
    let shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
    let bytes = header
        .shape()
        .iter()
        .try_fold(width, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("declares shape {shape:?}, whose size overflows"))?;
    let header_len = header_bytes.len() as u64;
    if header_len.checked_add(bytes) != Some(payload) {
        return Err(format!(
            "declares shape {shape:?} of {elem_type} ({bytes} bytes of data) but holds {} bytes \
             after its header; the file is truncated or its header was edited — save it again \
             with numpy.save",
            payload.saturating_sub(header_len)
        ));
    }
    Ok((NpyInfo { shape, elem_type }, npyz::NpyFile::with_header(header, reader)))
}

/// Reads the data of an opened array into a typed tensor.
fn read_data<R: Read>(
    info: &NpyInfo,
    file: npyz::NpyFile<R>,
) -> std::result::Result<TensorValue, String> {
    let fortran = file.order() == npyz::Order::Fortran;
    // Fortran order stores the transposed array in C order.
    let stored: Vec<usize> =
        if fortran { info.shape.iter().rev().copied().collect() } else { info.shape.clone() };
    macro_rules! read {
        ($t:ty) => {{
            let values: Vec<$t> = file.into_vec().map_err(|e| format!("cannot be read: {e}"))?;
            let a = ArrayD::from_shape_vec(stored, values).map_err(|e| e.to_string())?;
            TensorValue::from(if fortran { a.reversed_axes() } else { a })
        }};
    }
    Ok(match info.elem_type {
        ElemType::F32 => read!(f32),
        ElemType::F64 => read!(f64),
        ElemType::I64 => read!(i64),
        ElemType::I32 => read!(i32),
        ElemType::I8 => read!(i8),
        ElemType::U8 => read!(u8),
        ElemType::Bool => read!(bool),
    })
}

/// The header of a `.npy` file, without reading its data.
pub fn npy_info(path: impl AsRef<Path>) -> Result<NpyInfo> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io("reading", path, e))?;
    let size = file.metadata().map_err(|e| Error::io("reading", path, e))?.len();
    let (info, _) = open(std::io::BufReader::new(file), size)
        .map_err(|reason| Error::data(path.display().to_string(), reason))?;
    Ok(info)
}

/// Reads a `.npy` file as the type it holds.
pub fn read_npy(path: impl AsRef<Path>) -> Result<TensorValue> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    parse_npy(&bytes).map_err(|reason| Error::data(path.display().to_string(), reason))
}

/// Reads a float `.npy` file (float32, or float64 converted to float32).
pub fn read_npy_f32(path: impl AsRef<Path>) -> Result<ArrayD<f32>> {
    let path = path.as_ref();
    match read_npy(path)?.cast_losslessly(ElemType::F32) {
        Some(TensorValue::F32(a)) => Ok(a),
        _ => Err(Error::data(
            path.display().to_string(),
            "holds integers or booleans; this needs float32 data (x.astype('float32'))",
        )),
    }
}

/// Parses `.npy` bytes; the error says what is wrong.
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<TensorValue, String> {
    let (info, file) = open(bytes, bytes.len() as u64)?;
    read_data(&info, file)
}

/// Reads every array of a `.npz` archive (`numpy.savez` / `savez_compressed`), in the
/// archive's order, keyed by array name.
pub fn read_npz(path: impl AsRef<Path>) -> Result<Vec<(String, TensorValue)>> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io("reading", path, e))?;
    read_npz_from(std::io::BufReader::new(file)).map_err(|reason| Error::data(name, reason))
}

fn read_npz_from(
    reader: impl Read + Seek,
) -> std::result::Result<Vec<(String, TensorValue)>, String> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| format!("is not a readable .npz archive ({e}); save it with numpy.savez"))?;
    let mut arrays = Vec::with_capacity(zip.len());
    for ix in 0..zip.len() {
        let entry = zip.by_index(ix).map_err(|e| format!("entry {ix} cannot be read: {e}"))?;
        let entry_name = entry.name().to_string();
        let Some(array_name) = entry_name.strip_suffix(".npy") else {
            return Err(format!("holds '{entry_name}', which is not a .npy array"));
        };
        let size = entry.size();
        let (info, file) = open(entry, size).map_err(|e| format!("array '{array_name}' {e}"))?;
        let value = read_data(&info, file).map_err(|e| format!("array '{array_name}' {e}"))?;
        arrays.push((array_name.to_string(), value));
    }
    if arrays.is_empty() {
        return Err("holds no arrays; save one array per model input name with numpy.savez".into());
    }
    Ok(arrays)
}

/// Encodes a float32 array as `.npy` (version 1) bytes.
pub fn npy_bytes_f32(array: &ArrayD<f32>) -> Vec<u8> {
    let mut out = vec![];
    let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
    use npyz::WriterBuilder;
    let writer = npyz::WriteOptions::<f32>::new().default_dtype().shape(&shape).writer(&mut out);
    // Writing into a Vec cannot fail.
    if let Ok(mut writer) = writer.begin_nd() {
        let _ = writer.extend(array.iter().copied());
        let _ = writer.finish();
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
        assert_eq!(parse_npy(&npy_bytes_f32(&a)).unwrap(), TensorValue::F32(a));
    }

    #[test]
    fn rejects_garbage_truncation_and_extra_payload() {
        assert!(parse_npy(b"hello world, not numpy").unwrap_err().contains("numpy.save"));
        let a = ArrayD::from_shape_vec(vec![4], vec![1.0f32; 4]).unwrap();
        let bytes = npy_bytes_f32(&a);
        assert!(parse_npy(&bytes[..bytes.len() - 3]).unwrap_err().contains("truncated"));
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 8]);
        let err = parse_npy(&longer).unwrap_err();
        assert!(err.contains("declares shape [4]") && err.contains("24 bytes"), "{err}");
    }
}
