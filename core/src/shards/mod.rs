//! Calibration split across processes or machines: each shard of the calibration data is
//! observed on its own ([`observe_shard`]) into a [`ShardState`] (a `.c8state` file, format in
//! docs/shards.md), the states are merged ([`ShardState::merge`]) and turned into the
//! [`QuantizedModel`](crate::QuantizedModel) that [`quantize_with`](crate::quantize_with) gives
//! ([`ShardState::quantize`]), bit for bit that of a two-pass run (`histogram: two_pass`) over
//! the concatenated data.
//!
//! * `minmax`: one pass per shard, then merge (min and max are exact).
//! * `percentile`, `entropy`, `mse`: the histogram grid must be shared, so a range pass first
//!   ([`ShardPass::Ranges`] on every shard, merged: the global max |x| per tensor that pass 1 of
//!   the two-pass run computes), then the histogram pass on that grid
//!   ([`ShardPass::OnGrid`]); integer counts add exactly.
//! * `ema` depends on batch order and `auto` scores its candidates (EMA among them) on the
//!   first samples by running the model: both are refused ([`check_shardable`]).
//!
//! The merge does not depend on the order of the states. States of another model,
//! configuration, calibr8 version, format version or grid are refused, naming what differs
//! and the two files.

mod finish;
mod format;
mod grid;
mod identity;
mod observe;
mod state;

pub use format::{FORMAT_VERSION, MAGIC};
pub use identity::ModelIdentity;
pub use observe::{check_shardable, observe_shard, ShardPass};
pub use state::{ShardState, Source, TensorState, CALIBR8_VERSION};

#[cfg(test)]
mod tests;
