//! Accuracy metrics between a reference tensor and a candidate of the same shape, streamed batch
//! by batch and computed in f64: cosine similarity, SQNR, max / mean absolute error, and for
//! classifier outputs top-1 agreement and top-1 accuracy against labels.

use crate::internal::*;
use ndarray::{ArrayD, Axis};
use serde::{Deserialize, Serialize};

/// Metrics of one tensor over a whole evaluation set.
///
/// `sqnr_db` = 10·log10(Σref² / Σ(ref−q)²). It is infinite when the two runs agree exactly;
/// JSON has no infinity, so it is then `null` with `identical: true` (and `null` with
/// `identical: false` when the reference is all zeros while the candidate is not).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Elements compared.
    pub elements: u64,
    /// Cosine similarity of the flattened tensors (1 when both are all zeros).
    pub cosine: f64,
    /// Signal-to-quantization-noise ratio in dB; `None` when infinite or undefined.
    pub sqnr_db: Option<f64>,
    /// The candidate equals the reference bit for bit (SQNR = +∞).
    pub identical: bool,
    /// max |ref − q|.
    pub max_abs_error: f64,
    /// mean |ref − q|.
    pub mean_abs_error: f64,
    /// Top-1 over the last axis, for model outputs: fraction of rows where the candidate's
    /// argmax equals the reference's.
    pub top1_agreement: Option<f64>,
    /// Fraction of rows whose reference argmax equals the label (labels given).
    pub reference_top1_accuracy: Option<f64>,
    /// Fraction of rows whose candidate argmax equals the label (labels given).
    pub top1_accuracy: Option<f64>,
}

impl Metrics {
    /// SQNR with the infinities put back (+∞ identical, −∞ zero reference), for ranking.
    pub fn sqnr_or_inf(&self) -> f64 {
        match self.sqnr_db {
            Some(v) => v,
            None if self.identical => f64::INFINITY,
            None => f64::NEG_INFINITY,
        }
    }

    /// Top-1 drop in percentage points: reference accuracy − candidate accuracy against labels,
    /// or, without labels, the share of rows whose top-1 changed (100 · (1 − agreement)).
    pub fn top1_drop_points(&self) -> Option<f64> {
        match (self.reference_top1_accuracy, self.top1_accuracy) {
            (Some(r), Some(q)) => Some(100.0 * (r - q)),
            _ => self.top1_agreement.map(|a| 100.0 * (1.0 - a)),
        }
    }
}

/// Streams batches of (reference, candidate) pairs into [`Metrics`].
///
/// ```
/// use calibr8_core::compare::MetricAccumulator;
/// use ndarray::{arr2, ArrayD};
/// let r: ArrayD<f32> = arr2(&[[1.0, 2.0], [3.0, 0.0]]).into_dyn();
/// let q: ArrayD<f32> = arr2(&[[1.0, 2.5], [3.0, 4.0]]).into_dyn();
/// let mut acc = MetricAccumulator::new(true);
/// acc.add(&r, &q, Some(&[1, 0]))?;
/// let m = acc.finish();
/// assert_eq!(m.max_abs_error, 4.0);
/// assert_eq!(m.top1_agreement, Some(0.5)); // row 1: argmax 0 vs 1
/// assert_eq!(m.reference_top1_accuracy, Some(1.0));
/// assert_eq!(m.top1_accuracy, Some(0.5));
/// assert_eq!(m.top1_drop_points(), Some(50.0));
/// // SQNR = 10 log10(Σref² / Σerr²) = 10 log10(14 / 16.25)
/// assert!((m.sqnr_db.unwrap() - 10.0 * (14.0f64 / 16.25).log10()).abs() < 1e-12);
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct MetricAccumulator {
    top1: bool,
    elements: u64,
    signal: f64,
    noise: f64,
    dot: f64,
    cand_sq: f64,
    max_abs: f64,
    sum_abs: f64,
    rows: u64,
    agree: u64,
    labelled: u64,
    ref_correct: u64,
    cand_correct: u64,
}

impl MetricAccumulator {
    /// `top1`: also compute top-1 agreement (and accuracy when labels come) over the last axis.
    pub fn new(top1: bool) -> MetricAccumulator {
        MetricAccumulator { top1, ..MetricAccumulator::default() }
    }

    /// Adds one batch. `labels` (one per row, i.e. per element of all axes but the last) are
    /// used only with `top1`.
    pub fn add(
        &mut self,
        reference: &ArrayD<f32>,
        candidate: &ArrayD<f32>,
        labels: Option<&[i64]>,
    ) -> Result<()> {
        if reference.shape() != candidate.shape() {
            return Err(Error::data(
                "<comparison>",
                format!(
                    "reference shaped {:?} but candidate shaped {:?}; both runs must return the \
                     same tensors",
                    reference.shape(),
                    candidate.shape()
                ),
            ));
        }
        for (&r, &q) in reference.iter().zip(candidate.iter()) {
            let (r, q) = (r as f64, q as f64);
            let e = r - q;
            self.signal += r * r;
            self.noise += e * e;
            self.dot += r * q;
            self.cand_sq += q * q;
            self.max_abs = self.max_abs.max(e.abs());
            self.sum_abs += e.abs();
        }
        self.elements += reference.len() as u64;
        if self.top1 && reference.ndim() > 0 {
            let ref_top = argmax_rows(reference);
            let cand_top = argmax_rows(candidate);
            self.rows += ref_top.len() as u64;
            self.agree += ref_top.iter().zip(&cand_top).filter(|(a, b)| a == b).count() as u64;
            if let Some(labels) = labels {
                if labels.len() != ref_top.len() {
                    return Err(Error::data(
                        "<labels>",
                        format!(
                            "{} labels for a batch of {} rows; give one label per sample",
                            labels.len(),
                            ref_top.len()
                        ),
                    ));
                }
                self.labelled += labels.len() as u64;
                for ((&l, &r), &c) in labels.iter().zip(&ref_top).zip(&cand_top) {
                    self.ref_correct += u64::from(l >= 0 && l as usize == r);
                    self.cand_correct += u64::from(l >= 0 && l as usize == c);
                }
            }
        }
        Ok(())
    }

    /// The metrics of everything added.
    pub fn finish(&self) -> Metrics {
        let identical = self.noise == 0.0;
        let sqnr_db = if identical || self.signal == 0.0 {
            None
        } else {
            Some(10.0 * (self.signal / self.noise).log10())
        };
        let norms = (self.signal * self.cand_sq).sqrt();
        let cosine = match (self.signal == 0.0, self.cand_sq == 0.0) {
            (true, true) => 1.0,
            _ if norms == 0.0 => 0.0,
            _ => self.dot / norms,
        };
        let frac = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        Metrics {
            elements: self.elements,
            cosine,
            sqnr_db,
            identical,
            max_abs_error: self.max_abs,
            mean_abs_error: if self.elements > 0 {
                self.sum_abs / self.elements as f64
            } else {
                0.0
            },
            top1_agreement: if self.top1 { frac(self.agree, self.rows) } else { None },
            reference_top1_accuracy: frac(self.ref_correct, self.labelled),
            top1_accuracy: frac(self.cand_correct, self.labelled),
        }
    }
}

/// Index of the largest value along the last axis, for every row (first index on ties, NaN
/// never wins).
pub fn argmax_rows(a: &ArrayD<f32>) -> Vec<usize> {
    let last = Axis(a.ndim() - 1);
    let rows = a.len() / a.len_of(last).max(1);
    let a = a.as_standard_layout();
    let width = a.len_of(last);
    if width == 0 {
        return vec![0; rows];
    }
    a.as_slice()
        .unwrap_or_default()
        .chunks(width)
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] || (row[best].is_nan() && !v.is_nan()) {
                    best = i;
                }
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::ArrayD;

    fn arr(shape: &[usize], v: &[f32]) -> ArrayD<f32> {
        ArrayD::from_shape_vec(shape.to_vec(), v.to_vec()).expect("shape")
    }

    #[test]
    fn closed_forms_over_two_batches() {
        // ref = [3, 4], q = [3, 5] then ref = [0, -2], q = [1, -2]: computed by hand.
        let mut acc = MetricAccumulator::new(false);
        acc.add(&arr(&[2], &[3.0, 4.0]), &arr(&[2], &[3.0, 5.0]), None).expect("add");
        acc.add(&arr(&[2], &[0.0, -2.0]), &arr(&[2], &[1.0, -2.0]), None).expect("add");
        let m = acc.finish();
        // Σref² = 29, Σerr² = 2, ref·q = 9 + 20 + 0 + 4 = 33, Σq² = 9 + 25 + 1 + 4 = 39.
        assert_eq!(m.elements, 4);
        assert_abs_diff_eq!(m.sqnr_db.expect("finite"), 10.0 * 14.5f64.log10(), epsilon = 1e-12);
        assert_abs_diff_eq!(m.cosine, 33.0 / (29.0f64 * 39.0).sqrt(), epsilon = 1e-12);
        assert_eq!(m.max_abs_error, 1.0);
        assert_eq!(m.mean_abs_error, 0.5);
        assert_eq!(m.top1_agreement, None);
        assert!(!m.identical);
    }

    #[test]
    fn numpy_reference_values() {
        // numpy: r = np.sin(np.arange(12)).astype(np.float32); q = np.round(r * 8) / 8
        //   10*np.log10((r.astype(np.float64)**2).sum() / ((r - q).astype(np.float64)**2).sum())
        let r: Vec<f32> = (0..12).map(|i| (i as f64).sin() as f32).collect();
        let q: Vec<f32> = r.iter().map(|v| (v * 8.0).round() / 8.0).collect();
        let (r64, q64): (Vec<f64>, Vec<f64>) =
            (r.iter().map(|&v| v as f64).collect(), q.iter().map(|&v| v as f64).collect());
        let signal: f64 = r64.iter().map(|v| v * v).sum();
        let noise: f64 = r64.iter().zip(&q64).map(|(a, b)| (a - b) * (a - b)).sum();
        let mut acc = MetricAccumulator::new(false);
        acc.add(&arr(&[3, 4], &r), &arr(&[3, 4], &q), None).expect("add");
        let m = acc.finish();
        assert_abs_diff_eq!(
            m.sqnr_db.expect("finite"),
            10.0 * (signal / noise).log10(),
            epsilon = 1e-9
        );
        // The value numpy 2.x prints for the expression above.
        assert_abs_diff_eq!(m.sqnr_db.expect("finite"), 27.954778552997773, epsilon = 1e-9);
    }

    #[test]
    fn identical_runs_have_infinite_sqnr_and_unit_cosine() {
        let a = arr(&[2, 3], &[1.0, -2.0, 0.5, 0.0, 7.0, -1.0]);
        let mut acc = MetricAccumulator::new(true);
        acc.add(&a, &a, Some(&[0, 1])).expect("add");
        let m = acc.finish();
        assert!(m.identical);
        assert_eq!(m.sqnr_db, None);
        assert_eq!(m.sqnr_or_inf(), f64::INFINITY);
        assert_abs_diff_eq!(m.cosine, 1.0, epsilon = 1e-15);
        assert_eq!(m.top1_agreement, Some(1.0));
        assert_eq!(m.reference_top1_accuracy, Some(1.0));
        assert_eq!(m.top1_drop_points(), Some(0.0));
        let json = serde_json::to_value(&m).expect("json");
        assert!(json["sqnr_db"].is_null() && json["identical"] == true);
    }

    #[test]
    fn zero_reference_and_orthogonal_vectors() {
        let mut acc = MetricAccumulator::new(false);
        acc.add(&arr(&[2], &[0.0, 0.0]), &arr(&[2], &[0.0, 1.0]), None).expect("add");
        let m = acc.finish();
        assert_eq!((m.sqnr_db, m.identical, m.cosine), (None, false, 0.0));
        assert_eq!(m.sqnr_or_inf(), f64::NEG_INFINITY);
        let mut acc = MetricAccumulator::new(false);
        acc.add(&arr(&[2], &[1.0, 0.0]), &arr(&[2], &[0.0, 1.0]), None).expect("add");
        let m = acc.finish();
        assert_eq!(m.cosine, 0.0);
        // Σref² = 1, Σerr² = 2.
        assert_abs_diff_eq!(m.sqnr_db.expect("finite"), 10.0 * 0.5f64.log10(), epsilon = 1e-12);
    }

    #[test]
    fn top1_over_last_axis_with_labels() {
        // 2x2 rows of 3 classes.
        let r = arr(&[2, 2, 3], &[0., 1., 2., 5., 1., 0., 1., 1., 0., 0., 0., 9.]);
        let q = arr(&[2, 2, 3], &[0., 3., 2., 5., 1., 0., 0., 1., 0., 0., 0., 9.]);
        assert_eq!(argmax_rows(&r), [2, 0, 0, 2]);
        assert_eq!(argmax_rows(&q), [1, 0, 1, 2]);
        let mut acc = MetricAccumulator::new(true);
        acc.add(&r, &q, Some(&[2, 0, 1, 1])).expect("add");
        let m = acc.finish();
        assert_eq!(m.top1_agreement, Some(0.5));
        assert_eq!(m.reference_top1_accuracy, Some(0.5));
        assert_eq!(m.top1_accuracy, Some(0.5));
        assert_eq!(m.top1_drop_points(), Some(0.0));
        let mut acc = MetricAccumulator::new(true);
        let err = acc.add(&r, &q, Some(&[1, 2])).expect_err("two labels for four rows");
        assert!(err.to_string().contains("2 labels for a batch of 4 rows"), "{err}");
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let mut acc = MetricAccumulator::new(false);
        assert!(acc.add(&arr(&[2], &[0.0, 0.0]), &arr(&[1, 2], &[0.0, 1.0]), None).is_err());
    }
}
