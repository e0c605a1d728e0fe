//! From merged states to the [`QuantizedModel`] `quantize_with` returns: weights from the
//! model file, activations from the states, so the usual exporters write the artifacts.

use super::identity::ModelIdentity;
use super::state::ShardState;
use crate::internal::*;
use crate::plan::QuantPlan;
use std::collections::BTreeMap;

impl ShardState {
    /// Finishes the observations into the [`QuantizedModel`] that
    /// [`quantize_with`](crate::quantize_with) returns for a two-pass run (`histogram:
    /// two_pass`) over the concatenation of the merged shards. `model` must be the model the
    /// shards observed (checked by its identity after pre-processing).
    pub fn quantize(&self, model: &OnnxModel) -> Result<QuantizedModel> {
        let config = &self.config;
        let needs_histograms =
            calibr8_calibration::ObserverConfig::new(config.method.clone()).collects_histogram();
        if needs_histograms && !self.has_histograms() {
            return Err(self.invalid(format!(
                "holds ranges only (calibrate --range-only), and {} needs histograms: run \
                 `calibr8 calibrate MODEL --calib PART --range RANGE-STATES --state PART.c8state` \
                 on every shard and merge those",
                config.method
            )));
        }
        let pre = crate::preprocess::for_quantization(model, config)?;
        let identity = ModelIdentity::of(&pre, model.origin.clone());
        if identity.sha256 != self.model.sha256 {
            return Err(Error::StateMismatch {
                field: "model",
                first: self.origin.clone(),
                other: model.origin.clone(),
                detail: format!(
                    "the states were observed on {} (sha256 {}), this model's sha256 is {}",
                    self.model.path, self.model.sha256, identity.sha256
                ),
            });
        }
        let run_model = crate::shapes::with_input_shapes(&pre, &config.input_shapes)?;
        let plan = QuantPlan::resolve(&pre, config)?;
        let mut ranges = crate::quantize::observe_weights(&run_model, &plan, config)?;
        let activations: BTreeMap<&str, ()> =
            plan.activations().map(|t| (t.tensor.as_str(), ())).collect();
        if let Some(extra) = self.tensors.keys().find(|k| !activations.contains_key(k.as_str())) {
            return Err(self.invalid(format!(
                "observes tensor '{extra}', which this model's plan does not; use states \
                 written for this model and configuration"
            )));
        }
        for name in activations.keys() {
            let range = self.observer(name)?.finish().map_err(|e| self.invalid(e.to_string()))?;
            ranges.insert(name.to_string(), range);
        }
        QuantizedModel::new(pre, plan, ranges, config.clone())
    }
}
