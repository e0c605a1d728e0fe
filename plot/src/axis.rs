//! A categorical axis: `n` equal slots on a continuous `0 … n` scale, ticks at slot centres.
//!
//! plotters' `with_key_points` wrappers drop the f64 label formatting that `configure_mesh`
//! needs, so charts use this small axis and a label formatter mapping a slot centre to its name.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use std::ops::Range;

/// `n` slots; slot `i` spans `[i, i + 1)` and its tick (and label) sits at `i + 0.5`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slots {
    pub n: usize,
}

impl Ranged for Slots {
    // Labels always come from the caller's formatter; the default (Debug) one is never shown.
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = value / self.n.max(1) as f64;
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Light (minor) grid points: none; bold ones: every slot centre.
        if hint.weight().allow_light_points() {
            return Vec::new();
        }
        (0..self.n).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.n as f64
    }
}
