//! What a config file may hold: [`QuantConfig`]'s keys, plus the removed `percentile` and
//! `ema_decay` keys, which are refused with the spelling that replaces them. They used to
//! overwrite the parameter the method named (`method: percentile:90` ran 99.99), so accepting
//! them again in any form would bring back the question which one wins.

use super::{ConfigRule, QuantConfig};
use calibr8_calibration::{HistogramMode, Method};
use serde::Deserialize;

/// The deserialized form of [`QuantConfig`].
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct QuantConfigFile {
    preset: super::Preset,
    method: Method,
    weight_method: Method,
    histogram: HistogramMode,
    num_bins: usize,
    /// Absent: the preset's rules.
    config_list: Option<Vec<ConfigRule>>,
    fold_batchnorm: bool,
    bias_correction: bool,
    cross_layer_equalization: bool,
    input_shapes: std::collections::BTreeMap<String, Vec<usize>>,
    nni: super::NniOptions,
    /// Removed: the percentile is part of `method`.
    percentile: Option<f64>,
    /// Removed: the decay is part of `method`.
    ema_decay: Option<f64>,
}

impl Default for QuantConfigFile {
    fn default() -> Self {
        let QuantConfig {
            preset,
            method,
            weight_method,
            histogram,
            num_bins,
            config_list: _,
            fold_batchnorm,
            bias_correction,
            cross_layer_equalization,
            input_shapes,
            nni,
        } = QuantConfig::default();
        QuantConfigFile {
            preset,
            method,
            weight_method,
            histogram,
            num_bins,
            config_list: None,
            fold_batchnorm,
            bias_correction,
            cross_layer_equalization,
            input_shapes,
            nni,
            percentile: None,
            ema_decay: None,
        }
    }
}

impl TryFrom<QuantConfigFile> for QuantConfig {
    type Error = String;

    fn try_from(file: QuantConfigFile) -> Result<Self, String> {
        let removed = |key: &str, value: f64, method: &str| {
            Err(format!(
                "`{key}: {value}` is no longer a key of its own (it overwrote the parameter the \
                 method named); the parameter belongs to the method: write `method: \
                 {method}:{value}` or `method: {{{method}: {value}}}` and remove `{key}`"
            ))
        };
        if let Some(p) = file.percentile {
            return removed("percentile", p, "percentile");
        }
        if let Some(d) = file.ema_decay {
            return removed("ema_decay", d, "ema");
        }
        Ok(QuantConfig {
            preset: file.preset,
            config_list: file.config_list.unwrap_or_else(|| file.preset.rules()),
            method: file.method,
            weight_method: file.weight_method,
            histogram: file.histogram,
            num_bins: file.num_bins,
            fold_batchnorm: file.fold_batchnorm,
            bias_correction: file.bias_correction,
            cross_layer_equalization: file.cross_layer_equalization,
            input_shapes: file.input_shapes,
            nni: file.nni,
        })
    }
}
