//! [`QuantConfigBuilder`]: a [`QuantConfig`] in code, validated when built.

use super::{ConfigRule, QuantConfig};
use crate::error::Result;
use calibr8_calibration::{HistogramMode, Method};

/// Builds a [`QuantConfig`] from [`QuantConfig::default`] (TensorRT's preset: entropy for
/// activations, per-channel max|w| for the weights of Conv / ConvTranspose / Gemm / MatMul).
/// Made by [`QuantConfig::builder`].
#[derive(Clone, Debug)]
#[must_use = "call .build() to get the QuantConfig"]
pub struct QuantConfigBuilder {
    config: QuantConfig,
}

impl QuantConfigBuilder {
    pub(super) fn new() -> Self {
        QuantConfigBuilder { config: QuantConfig::default() }
    }

    /// Lays the config out for `preset` ([`QuantConfig::with_preset`]): call it before
    /// [`rule`](Self::rule), which appends to the preset's rules.
    pub fn preset(mut self, preset: super::Preset) -> Self {
        self.config = self.config.with_preset(preset);
        self
    }

    /// The activation observer, with its parameter.
    pub fn method(mut self, method: Method) -> Self {
        self.config.method = method;
        self
    }

    /// The weight observer.
    pub fn weight_method(mut self, method: Method) -> Self {
        self.config.weight_method = method;
        self
    }

    /// Streaming or two-pass histogram collection.
    pub fn histogram(mut self, mode: HistogramMode) -> Self {
        self.config.histogram = mode;
        self
    }

    /// Histogram bins for percentile / entropy / MSE (at least 129).
    pub fn num_bins(mut self, num_bins: usize) -> Self {
        self.config.num_bins = num_bins;
        self
    }

    /// Appends a rule after the rules so far (the preset's, unless [`rules`](Self::rules)
    /// replaced them); a later rule overrides an earlier one for the same node.
    pub fn rule(mut self, rule: ConfigRule) -> Self {
        self.config.config_list.push(rule);
        self
    }

    /// Replaces every rule, the preset's included.
    pub fn rules(mut self, rules: impl IntoIterator<Item = ConfigRule>) -> Self {
        self.config.config_list = rules.into_iter().collect();
        self
    }

    /// The config, validated ([`QuantConfig::validate`]).
    pub fn build(self) -> Result<QuantConfig> {
        self.config.validate()?;
        Ok(self.config)
    }
}
