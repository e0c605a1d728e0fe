//! The histogram grid shards share: per tensor and channel, the max |x| over every shard's
//! data (what pass 1 of a two-pass run computes over the concatenated data). Each channel's
//! grid is then `num_bins` bins over `[0, max]`, so every shard bins alike and the counts add.

use super::identity::hex;
use super::state::ShardState;
use sha2::{Digest, Sha256};

impl ShardState {
    /// The grid maxima of `tensor`: the filled grid of a histogram state, else the per-channel
    /// `max(|min|, |max|)` of a range state. `None` for a tensor the state does not have.
    pub fn grid_max(&self, tensor: &str) -> Option<Vec<f32>> {
        let t = self.tensors.get(tensor)?;
        Some(match &t.state.grid {
            Some(g) => g.global_max.clone(),
            None => {
                t.state.min.iter().zip(&t.state.max).map(|(l, h)| l.abs().max(h.abs())).collect()
            }
        })
    }

    /// A digest of every tensor's grid (bins and maxima bit for bit), `None` for a range
    /// state: equal digests, equal grids.
    pub fn grid_digest(&self) -> Option<String> {
        if !self.has_histograms() {
            return None;
        }
        let mut h = Sha256::new();
        h.update((self.config.num_bins as u64).to_le_bytes());
        for (name, t) in &self.tensors {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            let maxes = t.state.grid.as_ref().map(|g| g.global_max.as_slice()).unwrap_or(&[]);
            h.update((maxes.len() as u64).to_le_bytes());
            for m in maxes {
                h.update(m.to_bits().to_le_bytes());
            }
        }
        Some(hex(&h.finalize()))
    }

    /// Where two histogram states' grids differ first: `(tensor, this max, other max)`.
    pub(crate) fn grid_difference(&self, other: &ShardState) -> Option<(String, String, String)> {
        for (name, t) in &self.tensors {
            let a = self.grid_max(name);
            let b = other.grid_max(name);
            if t.state.grid.is_some() && a != b {
                let show = |v: Option<Vec<f32>>| v.map_or("none".into(), |v| format!("{v:?}"));
                return Some((name.clone(), show(a), show(b)));
            }
        }
        None
    }
}
