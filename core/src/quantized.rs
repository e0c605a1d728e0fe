//! The result of calibration: the model, the plan, and int8 parameters for every quantized tensor.

use crate::internal::*;
use crate::plan::{QuantPlan, TensorRole, TensorTarget};
use calibr8_calibration::{quant_params, QuantParams, TensorRange};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Observed range and derived quantization parameters of one tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorQuant {
    /// What the config asked for.
    pub target: TensorTarget,
    /// What the observer saw (min, max, amax per channel, clipped fraction, samples).
    pub range: TensorRange,
    /// Scale and zero point per the target's spec.
    pub params: QuantParams,
}

impl TensorQuant {
    /// Derives the parameters of `range` under `target`'s spec.
    pub fn new(target: TensorTarget, range: TensorRange) -> TensorQuant {
        let params = quant_params(&range, &target.spec);
        TensorQuant { target, range, params }
    }

    /// The symmetric amax TensorRT needs (affine ranges symmetrized: max(|min|, |max|)).
    pub fn symmetric_amax(&self) -> Vec<f32> {
        self.range
            .min
            .iter()
            .zip(&self.range.max)
            .zip(&self.range.amax)
            .map(|((lo, hi), amax)| amax.max(lo.abs()).max(hi.abs()))
            .collect()
    }
}

/// A model annotated with int8 parameters: what `quantize()` returns and every backend and
/// exporter takes.
#[derive(Clone, Debug)]
pub struct QuantizedModel {
    /// The float model, unchanged.
    pub model: OnnxModel,
    /// Quantized tensors, by ONNX name.
    pub tensors: BTreeMap<String, TensorQuant>,
    /// Precision of every node the config decided; nodes absent are the backend's choice.
    pub node_precision: BTreeMap<String, Precision>,
    /// The config that produced it.
    pub config: QuantConfig,
}

impl QuantizedModel {
    /// Assembles a quantized model from a plan and the observers' ranges.
    pub fn new(
        model: OnnxModel,
        plan: QuantPlan,
        mut ranges: BTreeMap<String, TensorRange>,
        config: QuantConfig,
    ) -> Result<QuantizedModel> {
        let mut tensors = BTreeMap::new();
        for (name, target) in plan.tensors {
            let range = ranges.remove(&name).ok_or_else(|| Error::UnknownTensor {
                tensor: name.clone(),
                path: model.origin.clone(),
            })?;
            tensors.insert(name, TensorQuant::new(target, range));
        }
        Ok(QuantizedModel { model, tensors, node_precision: plan.node_precision, config })
    }

    /// Quantized activations, sorted by name.
    pub fn activations(&self) -> impl Iterator<Item = &TensorQuant> {
        self.tensors.values().filter(|t| t.target.role == TensorRole::Activation)
    }

    /// Quantized weights, sorted by name.
    pub fn weights(&self) -> impl Iterator<Item = &TensorQuant> {
        self.tensors.values().filter(|t| t.target.role == TensorRole::Weight)
    }
}
