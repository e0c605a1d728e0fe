//! Integer formats and the scale / zero-point math.
//!
//! Sources: TensorRT (symmetric int8, scale = amax / 127), ONNX `QuantizeLinear` (round half to
//! even, saturate), ONNX Runtime `quant_utils.compute_scale_zp` (uint8 and affine ranges).

use crate::internal::*;

/// Ranges at or below 2^-24 are dead: they get scale 1 and zero point 0, never 0 or NaN
/// (EfficientNet-Lite0 has a first-conv channel whose weight scale would be 2.7e-8). The
/// threshold is ModelOpt's `epsilon = 1.0 / (1 << 24)`.
pub const DEAD_AMAX: f32 = 5.960_464_5e-8;

/// The integer type of the quantized tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")] // NNI's spelling: "int8", "uint8"
pub enum QuantDtype {
    /// Signed 8 bit.
    Int8,
    /// Unsigned 8 bit.
    Uint8,
}

/// How the real range maps onto the integer range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")] // NNI's spelling: "symmetric", "affine"
pub enum Scheme {
    /// `[-amax, amax]`, zero point in the middle of the integer range (0 for int8).
    Symmetric,
    /// `[min(min, 0), max(max, 0)]` with a zero point (ONNX Runtime's asymmetric scheme).
    Affine,
}

/// Integer type, scheme and whether the most negative code is left out.
///
/// ```
/// use calibr8_calibration::QuantSpec;
/// assert_eq!((QuantSpec::TENSORRT_WEIGHT.qmin(), QuantSpec::TENSORRT_WEIGHT.qmax()), (-127, 127));
/// assert_eq!(QuantSpec::TENSORRT_ACTIVATION.qmin(), -128);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantSpec {
    /// Integer type.
    pub dtype: QuantDtype,
    /// Symmetric or affine.
    pub scheme: Scheme,
    /// Leave out the lowest code: int8 `[-127, 127]`, uint8 `[0, 254]`.
    pub narrow_range: bool,
    /// 7-bit codes, ONNX Runtime's `reduce_range`: int8 `[-64, 64]`, uint8 `[0, 127]`. For
    /// weights run by x86 kernels without VNNI, whose u8·s8 pair sums saturate at 16 bits
    /// (255 · 127 · 2 > 32767; 255 · 64 · 2 fits).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reduce_range: bool,
}

impl QuantSpec {
    /// TensorRT weights: int8, symmetric, narrow range `[-127, 127]`.
    pub const TENSORRT_WEIGHT: Self = QuantSpec {
        dtype: QuantDtype::Int8,
        scheme: Scheme::Symmetric,
        narrow_range: true,
        reduce_range: false,
    };
    /// TensorRT activations / ONNX `QuantizeLinear`: int8, symmetric, full range `[-128, 127]`.
    pub const TENSORRT_ACTIVATION: Self = QuantSpec {
        dtype: QuantDtype::Int8,
        scheme: Scheme::Symmetric,
        narrow_range: false,
        reduce_range: false,
    };

    /// Smallest integer code.
    pub fn qmin(&self) -> i32 {
        match (self.dtype, self.narrow_range, self.reduce_range) {
            (QuantDtype::Int8, _, true) => -64,
            (QuantDtype::Int8, true, false) => -127,
            (QuantDtype::Int8, false, false) => -128,
            (QuantDtype::Uint8, _, _) => 0,
        }
    }

    /// Largest integer code.
    pub fn qmax(&self) -> i32 {
        match (self.dtype, self.narrow_range, self.reduce_range) {
            (QuantDtype::Int8, _, true) => 64,
            (QuantDtype::Int8, _, false) => 127,
            (QuantDtype::Uint8, _, true) => 127,
            (QuantDtype::Uint8, true, false) => 254,
            (QuantDtype::Uint8, false, false) => 255,
        }
    }
}

/// Scales and zero points of one tensor: one entry per channel (one per tensor).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantParams {
    /// `x ≈ (q - zero_point) * scale`; always finite and > 0.
    pub scale: Vec<f32>,
    /// Zero points, within `[spec.qmin(), spec.qmax()]`.
    pub zero_point: Vec<i32>,
    /// The channel axis, `None` per tensor.
    pub axis: Option<usize>,
    /// The format these parameters are for.
    pub spec: QuantSpec,
}

/// Scale and zero point of every channel of `range` in format `spec`.
///
/// * Symmetric int8 (TensorRT): `scale = amax / 127`, zero point 0, for the narrow and the full
///   range alike; the full range merely lets -128 occur (TensorRT's own convention).
/// * Symmetric uint8 (ONNX Runtime `compute_scale_zp` with `symmetric=True`, qmin 0, qmax 255):
///   `scale = 2·amax / (qmax − qmin)` = amax / 127.5, zero point `round((qmin + qmax) / 2)` = 128
///   (half to even); narrow `[0, 254]` gives amax / 127 and 127.
/// * Affine (ONNX Runtime): the range is widened to contain 0, `scale = (max − min) / (qmax −
///   qmin)`, `zero_point = round_half_even(qmin − min / scale)` clamped to `[qmin, qmax]`.
/// * Dead channels (amax, or max − min for affine, ≤ [`DEAD_AMAX`]): scale 1, zero point 0.
///
/// Scales are computed in f64 and rounded once to f32 (for amax / 127 this equals f32 division).
///
/// ```
/// use calibr8_calibration::{quant_params, Method, QuantSpec, TensorRange};
/// let r = TensorRange::per_tensor("x", Method::MinMax, -0.5, 1.0);
/// let p = quant_params(&r, &QuantSpec::TENSORRT_ACTIVATION);
/// assert_eq!(p.scale, vec![1.0 / 127.0]);
/// assert_eq!(p.zero_point, vec![0]);
/// ```
pub fn quant_params(range: &TensorRange, spec: &QuantSpec) -> QuantParams {
    let qmin = spec.qmin();
    let qmax = spec.qmax();
    let n = range.amax.len().max(range.min.len()).max(range.max.len());
    let mut scale = Vec::with_capacity(n);
    let mut zero_point = Vec::with_capacity(n);
    for c in 0..n {
        let lo = range.min.get(c).copied().unwrap_or(0.0);
        let hi = range.max.get(c).copied().unwrap_or(0.0);
        let amax = range.amax.get(c).copied().unwrap_or_else(|| lo.abs().max(hi.abs()));
        let (s, z) = channel_params(lo, hi, amax, spec, qmin, qmax);
        scale.push(s);
        zero_point.push(z);
    }
    QuantParams { scale, zero_point, axis: range.axis, spec: *spec }
}

fn channel_params(
    lo: f32,
    hi: f32,
    amax: f32,
    spec: &QuantSpec,
    qmin: i32,
    qmax: i32,
) -> (f32, i32) {
    match spec.scheme {
        Scheme::Symmetric => {
            // NaN amax is impossible from the observers; treat it as dead rather than emit NaN.
            if amax.is_nan() || amax <= DEAD_AMAX || amax.is_infinite() {
                return (1.0, 0);
            }
            match spec.dtype {
                // amax / 127 (amax / 64 with reduce_range), whether or not -128 may occur.
                QuantDtype::Int8 => ((f64::from(amax) / f64::from(qmax)) as f32, 0),
                QuantDtype::Uint8 => {
                    let s = 2.0 * f64::from(amax) / f64::from(qmax - qmin);
                    let z = (f64::from(qmin + qmax) / 2.0).round_ties_even() as i32;
                    (s as f32, z)
                }
            }
        }
        Scheme::Affine => {
            let lo = f64::from(lo.min(0.0));
            let hi = f64::from(hi.max(0.0));
            let span = hi - lo;
            if span.is_nan() || span <= f64::from(DEAD_AMAX) || span.is_infinite() {
                return (1.0, 0);
            }
            let s = span / f64::from(qmax - qmin);
            let z = (f64::from(qmin) - lo / s).round_ties_even();
            let z = z.clamp(f64::from(qmin), f64::from(qmax)) as i32;
            (s as f32, z)
        }
    }
}

/// ONNX `QuantizeLinear` on one value: `clamp(round_half_even(x / scale) + zero_point, qmin,
/// qmax)`, with `x / scale` in f32. Never panics: NaN maps to the zero point (clamped),
/// infinities saturate.
///
/// ```
/// use calibr8_calibration::quantize_value;
/// assert_eq!(quantize_value(2.5, 1.0, 0, -128, 127), 2); // half to even
/// assert_eq!(quantize_value(1e9, 1.0, 0, -128, 127), 127);
/// ```
pub fn quantize_value(x: f32, scale: f32, zero_point: i32, qmin: i32, qmax: i32) -> i32 {
    let r = (x / scale).round_ties_even();
    // `as i64` saturates and maps NaN to 0, so nothing here can panic or wrap.
    let q = (r as i64).saturating_add(i64::from(zero_point));
    q.clamp(i64::from(qmin), i64::from(qmax.max(qmin))) as i32
}

/// Quantize then dequantize: `(quantize_value(x, ..) - zero_point) * scale`.
///
/// ```
/// use calibr8_calibration::fake_quant;
/// assert_eq!(fake_quant(0.26, 0.1, 0, -128, 127), 3.0 * 0.1);
/// ```
pub fn fake_quant(x: f32, scale: f32, zero_point: i32, qmin: i32, qmax: i32) -> f32 {
    let q = quantize_value(x, scale, zero_point, qmin, qmax);
    (q - zero_point) as f32 * scale
}

impl QuantParams {
    /// `QuantizeLinear` on every value of a row-major tensor shaped `dims`, with its channel's
    /// scale and zero point along `axis` (or the tensor's). `None` when these parameters do not
    /// fit `dims`: an axis past its rank, or a channel count other than `dims[axis]`.
    ///
    /// ```
    /// use calibr8_calibration::{QuantDtype, QuantParams, QuantSpec, Scheme};
    /// let spec = QuantSpec { narrow_range: true, ..QuantSpec::TENSORRT_ACTIVATION };
    /// let p = QuantParams { scale: vec![1.0, 0.5], zero_point: vec![0, 0], axis: Some(0), spec };
    /// assert_eq!(p.quantize_all(&[1.0, 2.0, 1.0, 2.0], &[2, 2]), Some(vec![1, 2, 2, 4]));
    /// assert_eq!(p.quantize_all(&[1.0; 6], &[3, 2]), None); // 3 channels, 2 scales
    /// ```
    pub fn quantize_all(&self, values: &[f32], dims: &[usize]) -> Option<Vec<i32>> {
        let (qmin, qmax) = (self.spec.qmin(), self.spec.qmax());
        let at = self.element_params(dims)?;
        Some(
            values
                .iter()
                .enumerate()
                .map(|(ix, &v)| {
                    let (scale, zero_point) = at(ix);
                    quantize_value(v, scale, zero_point, qmin, qmax)
                })
                .collect(),
        )
    }

    /// [`fake_quant`] on every value, per channel as [`QuantParams::quantize_all`]: what
    /// `DequantizeLinear` gives back.
    pub fn fake_quant_all(&self, values: &[f32], dims: &[usize]) -> Option<Vec<f32>> {
        let (qmin, qmax) = (self.spec.qmin(), self.spec.qmax());
        let at = self.element_params(dims)?;
        Some(
            values
                .iter()
                .enumerate()
                .map(|(ix, &v)| {
                    let (scale, zero_point) = at(ix);
                    fake_quant(v, scale, zero_point, qmin, qmax)
                })
                .collect(),
        )
    }

    /// Scale and zero point of element `ix` of a row-major tensor shaped `dims`.
    fn element_params(&self, dims: &[usize]) -> Option<impl Fn(usize) -> (f32, i32) + '_> {
        let n = self.scale.len();
        let (channels, inner) = match self.axis {
            Some(axis) if axis < dims.len() => (dims[axis], dims[axis + 1..].iter().product()),
            Some(_) => return None,
            None => (1, 1),
        };
        let fits = n == channels && self.zero_point.len() == n;
        // `inner` is 0 only for an empty tensor, whose elements are never asked for.
        fits.then_some(move |ix: usize| {
            let c = (ix / inner.max(1)) % channels;
            (self.scale[c], self.zero_point[c])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dtype: QuantDtype, scheme: Scheme, narrow_range: bool) -> QuantSpec {
        QuantSpec { dtype, scheme, narrow_range, reduce_range: false }
    }

    #[test]
    fn tensorrt_cache_scale_bits() {
        // DESIGN.md: amax 1.0 -> cache entry 3c010204.
        let r = TensorRange::per_tensor("t", Method::MinMax, -1.0, 0.5);
        let p = quant_params(&r, &QuantSpec::TENSORRT_ACTIVATION);
        assert_eq!(p.scale[0].to_bits(), 0x3c01_0204);
        let p = quant_params(&r, &QuantSpec::TENSORRT_WEIGHT);
        assert_eq!(p.scale[0].to_bits(), 0x3c01_0204);
    }

    #[test]
    fn uint8_symmetric_matches_onnxruntime() {
        let r = TensorRange::per_tensor("t", Method::MinMax, -2.0, 1.0);
        let p = quant_params(&r, &spec(QuantDtype::Uint8, Scheme::Symmetric, false));
        assert_eq!(p.scale[0], (4.0f64 / 255.0) as f32);
        assert_eq!(p.zero_point[0], 128);
    }

    #[test]
    fn affine_zero_point() {
        let r = TensorRange::per_tensor("t", Method::MinMax, 0.5, 2.0);
        let p = quant_params(&r, &spec(QuantDtype::Uint8, Scheme::Affine, false));
        assert_eq!(p.scale[0], (2.0f64 / 255.0) as f32);
        assert_eq!(p.zero_point[0], 0);
        let r = TensorRange::per_tensor("t", Method::MinMax, -1.0, 3.0);
        let p = quant_params(&r, &spec(QuantDtype::Int8, Scheme::Affine, false));
        let s = 4.0f64 / 255.0;
        assert_eq!(p.zero_point[0], (-128.0 + 1.0 / s).round_ties_even() as i32);
    }

    #[test]
    fn dead_rule() {
        for sp in [
            QuantSpec::TENSORRT_WEIGHT,
            spec(QuantDtype::Uint8, Scheme::Symmetric, false),
            spec(QuantDtype::Uint8, Scheme::Affine, false),
            spec(QuantDtype::Int8, Scheme::Affine, true),
        ] {
            for a in [0.0, 1e-9, DEAD_AMAX] {
                let r = TensorRange::per_tensor("t", Method::MinMax, 0.0, a);
                let p = quant_params(&r, &sp);
                assert_eq!((p.scale[0], p.zero_point[0]), (1.0, 0), "{sp:?} {a}");
            }
        }
    }

    #[test]
    fn quantize_edges() {
        assert_eq!(quantize_value(-3.5, 1.0, 0, -128, 127), -4);
        assert_eq!(quantize_value(f32::NAN, 1.0, 3, 0, 255), 3);
        assert_eq!(quantize_value(f32::NEG_INFINITY, 1.0, 0, -127, 127), -127);
        assert_eq!(fake_quant(0.26, 0.1, 0, -128, 127), 3.0 * 0.1);
    }
}
