//! EMA min/max observer.
//!
//! Reference: NNI's QAT quantizer (`update_ema`, decay 0.99): the first batch initialises the
//! tracked values, then `tracked = tracked · decay + (1 − decay) · batch` for the batch's min and
//! max. As in NNI (float32 torch buffers, Python-float decay) the update is done in f32:
//! `t · f32(decay) + f32(1 − decay) · v`. Per channel, each channel tracks its own min and max.
//!
//! The EMA depends on batch order, so it is never merged. Its clipped fraction (values with
//! |x| > amax) comes from the |x| histogram kept alongside, at bin resolution.
//!
//! ```
//! use calibr8_calibration::{Method, ObserverConfig, TensorObserver};
//! let mut obs = TensorObserver::new("relu1", ObserverConfig::new(Method::EmaMinMax { decay: 0.5 }))?;
//! obs.observe(&[0.0, 2.0], &[2])?;
//! obs.observe(&[0.0, 4.0], &[2])?;
//! let r = obs.finish()?;
//! assert_eq!((r.min[0], r.max[0], r.amax[0]), (0.0, 3.0, 3.0));
//! assert_eq!(r.clipped_fraction, 0.25); // the 4.0 lies above amax
//! # Ok::<(), calibr8_calibration::Error>(())
//! ```

/// Per-channel exponential moving averages of the batch min and max.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ema {
    pub(crate) decay: f64,
    pub(crate) min: Vec<f32>,
    pub(crate) max: Vec<f32>,
}

impl Ema {
    pub(crate) fn new(decay: f64) -> Self {
        Ema { decay, min: Vec::new(), max: Vec::new() }
    }

    /// Folds in one batch's per-channel extremes.
    pub(crate) fn update(&mut self, lo: &[f32], hi: &[f32]) {
        if self.min.is_empty() {
            self.min = lo.to_vec();
            self.max = hi.to_vec();
            return;
        }
        let d = self.decay as f32;
        let omd = (1.0 - self.decay) as f32;
        for (t, &v) in self.min.iter_mut().zip(lo) {
            *t = *t * d + omd * v;
        }
        for (t, &v) in self.max.iter_mut().zip(hi) {
            *t = *t * d + omd * v;
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
    fn first_batch_initialises_then_decays() {
        let mut e = Ema::new(0.99);
        e.update(&[-1.0], &[1.0]);
        assert_eq!((e.min[0], e.max[0]), (-1.0, 1.0));
        e.update(&[-2.0], &[3.0]);
        let d = 0.99f32;
        let omd = (1.0f64 - 0.99) as f32;
        assert_eq!(e.max[0], 1.0 * d + omd * 3.0);
        assert_eq!(e.min[0], -d + omd * -2.0);
        assert_eq!(e.amax(), vec![e.min[0].abs().max(e.max[0])]);
    }
}
