//! Min/max observer.
//!
//! Reference: TensorRT / ModelOpt `MaxCalibrator` (amax = max|x| over all batches; per channel,
//! every axis but the channel axis is reduced) and ONNX Runtime's `MinMaxCalibrater` (signed
//! min and max, for affine ranges). Exact, order-independent and exactly mergeable; the clipped
//! fraction is 0 by construction.
//!
//! ```
//! use calibr8_calibration::{Method, ObserverConfig, TensorObserver};
//! let mut obs = TensorObserver::new("conv1.weight", ObserverConfig::new(Method::MinMax).per_channel(0))?;
//! obs.observe(&[1.0, -3.0, 0.5, 0.25], &[2, 2])?;
//! let r = obs.finish()?;
//! assert_eq!(r.amax, vec![3.0, 0.5]);
//! assert_eq!((r.min.clone(), r.max.clone()), (vec![-3.0, 0.25], vec![1.0, 0.5]));
//! # Ok::<(), calibr8_calibration::Error>(())
//! ```

/// Running per-channel signed minimum and maximum.
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct MinMax {
    pub(crate) min: Vec<f32>,
    pub(crate) max: Vec<f32>,
}

impl MinMax {
    /// Folds in one batch's per-channel extremes.
    pub(crate) fn update(&mut self, lo: &[f32], hi: &[f32]) {
        if self.min.is_empty() {
            self.min = lo.to_vec();
            self.max = hi.to_vec();
            return;
        }
        for (m, &l) in self.min.iter_mut().zip(lo) {
            *m = m.min(l);
        }
        for (m, &h) in self.max.iter_mut().zip(hi) {
            *m = m.max(h);
        }
    }

    /// Exact merge (min and max are associative and commutative).
    pub(crate) fn merge(&mut self, other: &MinMax) {
        let (lo, hi) = (other.min.clone(), other.max.clone());
        if !lo.is_empty() {
            self.update(&lo, &hi);
        }
    }

    /// `max(|min|, |max|)` per channel.
    pub(crate) fn amax(&self) -> Vec<f32> {
        self.min.iter().zip(&self.max).map(|(l, h)| l.abs().max(h.abs())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_and_merge() {
        let mut a = MinMax::default();
        a.update(&[-1.0, 2.0], &[1.0, 3.0]);
        a.update(&[-0.5, 1.0], &[4.0, 2.5]);
        assert_eq!((a.min.clone(), a.max.clone()), (vec![-1.0, 1.0], vec![4.0, 3.0]));
        let mut b = MinMax::default();
        b.update(&[-7.0, 5.0], &[0.0, 6.0]);
        a.merge(&b);
        assert_eq!(a.amax(), vec![7.0, 6.0]);
    }
}
