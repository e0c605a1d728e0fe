//! [`ShardState`]: the activation observations of one data shard (or of several, merged), with
//! everything needed to check that states belong together.

use super::identity::ModelIdentity;
use crate::internal::*;
use calibr8_calibration::{Granularity, ObserverConfig, ObserverState, TensorObserver};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The calibr8 version that writes states; states of other versions do not merge (a fix in the
/// observers would make their numbers disagree).
pub const CALIBR8_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One data shard the state has seen.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Source {
    /// The calibration data as the shard named it (a path).
    pub data: String,
    /// Samples in it.
    pub samples: u64,
    /// Batches run.
    pub batches: u64,
    /// SHA-256 of the batches as fed (names, types, shapes, values): the same data merged
    /// twice is refused whatever its path.
    pub sha256: String,
}

/// One activation's observations.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorState {
    /// The channel axis of a per-channel observer (`None`: per tensor).
    pub axis: Option<usize>,
    /// The observer's statistics.
    pub state: ObserverState,
}

/// The activation observations of one or more shards of calibration data: what `calibr8
/// calibrate --state` writes and `calibr8 merge` reads. Weights are not in it: they are
/// constants, read from the model when the states are turned into a [`QuantizedModel`]
/// ([`ShardState::quantize`]).
///
/// Two kinds: a *range* state holds per-tensor min/max (the range pass, and everything
/// `minmax` needs); a *histogram* state also holds each tensor's histogram on the grid fixed
/// by merged range states. The file format is [`ShardState::to_bytes`]'s (docs/shards.md).
#[derive(Clone, Debug, PartialEq)]
pub struct ShardState {
    /// Where this state was read from (a file, or `<memory>`), for messages; not stored.
    pub origin: String,
    /// calibr8 version that observed it ([`CALIBR8_VERSION`]).
    pub calibr8_version: String,
    /// The model.
    pub model: ModelIdentity,
    /// The resolved configuration (method, histogram mode and bins, rules, shapes...).
    pub config: QuantConfig,
    /// The shards it holds, sorted.
    pub sources: Vec<Source>,
    /// Observations per activation, by ONNX name.
    pub tensors: BTreeMap<String, TensorState>,
}

impl TensorState {
    /// The observer configuration this tensor was observed with under `config`.
    pub fn observer_config(&self, config: &QuantConfig) -> ObserverConfig {
        ObserverConfig {
            method: config.method.clone(),
            granularity: match self.axis {
                Some(axis) => Granularity::PerChannel { axis },
                None => Granularity::PerTensor,
            },
            histogram: config.histogram,
            num_bins: config.num_bins,
            collect_all: false,
        }
    }
}

impl ShardState {
    /// True for a histogram state (every tensor's histogram filled on the shared grid).
    pub fn has_histograms(&self) -> bool {
        self.tensors.values().any(|t| t.state.grid.is_some())
    }

    /// `"histograms"` or `"ranges"`.
    pub fn kind(&self) -> &'static str {
        if self.has_histograms() {
            "histograms"
        } else {
            "ranges"
        }
    }

    /// Samples over every source.
    pub fn samples(&self) -> u64 {
        self.sources.iter().map(|s| s.samples).sum()
    }

    /// An observer rebuilt from `tensor`'s state.
    pub fn observer(&self, tensor: &str) -> Result<TensorObserver> {
        let t = self.tensors.get(tensor).ok_or_else(|| {
            self.invalid(format!(
                "has no observations of tensor '{tensor}'; it was observed for another plan: use \
             states written for this model and configuration"
            ))
        })?;
        TensorObserver::from_state(tensor, t.observer_config(&self.config), &t.state)
            .map_err(|e| self.invalid(e.to_string()))
    }

    pub(crate) fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::StateFile { path: self.origin.clone(), reason: reason.into() }
    }

    /// Checks that `other` was observed with the same calibr8, model, configuration and tensors
    /// (and, for histogram states, the same grid), naming the first field that differs.
    pub fn check_compatible(&self, other: &ShardState) -> Result<()> {
        self.check_same_observation(other)?;
        if self.has_histograms() != other.has_histograms() {
            return Err(Error::StateMismatch {
                field: "kind",
                first: self.origin.clone(),
                other: other.origin.clone(),
                detail: format!(
                    "{} vs {} (range states merge with range states, histogram states with \
                     histogram states)",
                    self.kind(),
                    other.kind()
                ),
            });
        }
        if let Some((tensor, a, b)) = self.grid_difference(other) {
            return Err(Error::StateMismatch {
                field: "grid",
                first: self.origin.clone(),
                other: other.origin.clone(),
                detail: format!(
                    "tensor '{tensor}': max |x| {a} vs {b}; give every shard the same --range \
                     states"
                ),
            });
        }
        Ok(())
    }

    /// The calibr8 version, model, configuration, tensors and their channel axes agree (what
    /// the observations are of, whatever their kind).
    pub(crate) fn check_same_observation(&self, other: &ShardState) -> Result<()> {
        let mismatch = |field: &'static str, detail: String| Error::StateMismatch {
            field,
            first: self.origin.clone(),
            other: other.origin.clone(),
            detail,
        };
        if self.calibr8_version != other.calibr8_version {
            return Err(mismatch(
                "calibr8 version",
                format!("{} vs {}", self.calibr8_version, other.calibr8_version),
            ));
        }
        if self.model.sha256 != other.model.sha256 {
            return Err(mismatch(
                "model",
                format!(
                    "{} (sha256 {}) vs {} (sha256 {})",
                    self.model.path,
                    short(&self.model.sha256),
                    other.model.path,
                    short(&other.model.sha256)
                ),
            ));
        }
        if self.config != other.config {
            return Err(mismatch("configuration", config_difference(&self.config, &other.config)));
        }
        let names = |s: &ShardState| s.tensors.keys().cloned().collect::<Vec<_>>();
        if names(self) != names(other) {
            let only = |a: &ShardState, b: &ShardState| {
                a.tensors.keys().find(|k| !b.tensors.contains_key(*k)).cloned()
            };
            let detail = match (only(self, other), only(other, self)) {
                (Some(t), _) => format!("tensor '{t}' only in the first"),
                (_, Some(t)) => format!("tensor '{t}' only in the second"),
                _ => "different tensor lists".into(),
            };
            return Err(mismatch("tensors", detail));
        }
        for (name, t) in &self.tensors {
            let o = &other.tensors[name];
            if t.axis != o.axis {
                return Err(mismatch(
                    "tensors",
                    format!("tensor '{name}' has channel axis {:?} vs {:?}", t.axis, o.axis),
                ));
            }
        }
        Ok(())
    }

    /// Merges states of disjoint shards (all of one model, configuration, calibr8 version,
    /// kind and grid; [`check_compatible`](Self::check_compatible) says what differs). The
    /// result does not depend on the order of `states`: min/max and integer counts are exact,
    /// and sources are sorted.
    pub fn merge(states: &[ShardState]) -> Result<ShardState> {
        let Some(first) = states.first() else {
            return Err(Error::config("states", "no state to merge; pass at least one .c8state"));
        };
        for other in &states[1..] {
            first.check_compatible(other)?;
        }
        let mut tensors = BTreeMap::new();
        for (name, t) in &first.tensors {
            let mut merged = first.observer(name)?;
            for other in &states[1..] {
                let o = other.observer(name)?;
                merged.merge(&o).map_err(|e| Error::StateMismatch {
                    field: "observations",
                    first: first.origin.clone(),
                    other: other.origin.clone(),
                    detail: e.to_string(),
                })?;
            }
            tensors.insert(name.clone(), TensorState { axis: t.axis, state: merged.state()? });
        }
        // The same data twice would count twice: a merged state already holds its parts.
        let mut seen: BTreeMap<&str, (&Source, &str)> = BTreeMap::new();
        for state in states {
            for source in &state.sources {
                if let Some((first, origin)) = seen.insert(&source.sha256, (source, &state.origin))
                {
                    return Err(state.invalid(format!(
                        "holds shard data {} ({} samples), which {origin} holds too (as {}): \
                         merge each shard once (a merged state already contains its parts)",
                        source.data, source.samples, first.data
                    )));
                }
            }
        }
        let mut sources: Vec<Source> = states.iter().flat_map(|s| s.sources.clone()).collect();
        sources.sort();
        Ok(ShardState {
            origin: if states.len() == 1 {
                first.origin.clone()
            } else {
                format!("merge of {} states", states.len())
            },
            calibr8_version: first.calibr8_version.clone(),
            model: first.model.clone(),
            config: first.config.clone(),
            sources,
            tensors,
        })
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The first top-level key where two configurations differ, with both values.
fn config_difference(a: &QuantConfig, b: &QuantConfig) -> String {
    let (Ok(serde_json::Value::Object(x)), Ok(serde_json::Value::Object(y))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return "the configurations differ".into();
    };
    let keys = x.keys().chain(y.keys());
    for key in keys {
        let (u, v) = (x.get(key), y.get(key));
        if u != v {
            let show = |v: Option<&serde_json::Value>| v.map_or("absent".into(), |v| v.to_string());
            return format!("`{key}` is {} vs {}", show(u), show(v));
        }
    }
    "the configurations differ".into()
}
