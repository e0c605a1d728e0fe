//! `TensorProto.raw_data`: the values' little-endian bytes, written into a buffer sized once
//! (collecting a `flat_map` of per-value byte arrays grows the vector a few bytes at a time,
//! which took a third of a second on ResNet18's weights).

/// A value `raw_data` can hold.
pub(crate) trait RawElement: Copy {
    /// Its size in bytes.
    const SIZE: usize;
    /// Appends its little-endian bytes.
    fn append_to(self, out: &mut Vec<u8>);
}

macro_rules! raw_element {
    ($($t:ty),*) => {$(
        impl RawElement for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn append_to(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
raw_element!(f32, f64, i64, i32, i8, u8);

/// The little-endian bytes of `values`, as `TensorProto.raw_data` holds them.
pub(crate) fn raw_data<'a, T: RawElement + 'a>(values: impl IntoIterator<Item = &'a T>) -> Vec<u8> {
    let values = values.into_iter();
    let mut out = Vec::with_capacity(values.size_hint().0 * T::SIZE);
    for &v in values {
        v.append_to(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_little_endian_in_order() {
        assert_eq!(raw_data(&[1.0f32, -2.0]), [0, 0, 128, 63, 0, 0, 0, 192]);
        assert_eq!(raw_data(&[258i64]), [2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(raw_data(&[-1i8, 5]), [255, 5]);
    }
}
