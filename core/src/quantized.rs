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
    /// Activations observed for exports but not quantized (NNI's output ranges); no backend
    /// or QDQ export reads them.
    pub observed: BTreeMap<String, TensorQuant>,
    /// The config that produced it.
    pub config: QuantConfig,
    /// With `method: auto`: what was chosen per activation tensor, and each candidate's score.
    pub auto: BTreeMap<String, crate::auto::AutoChoice>,
    /// With `method: auto`: the whole-model candidates and the block refinement.
    pub auto_search: Option<crate::auto::AutoSearch>,
    /// With `bias_correction`: the biases corrected.
    pub bias_corrections: Vec<crate::bias_correction::BiasCorrection>,
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
        // Tensors that take their source's parameters (CPU preset): the same range, renamed.
        for (name, shared) in plan.same_params {
            let source = tensors.get(&shared.source).ok_or_else(|| Error::UnknownTensor {
                tensor: shared.source.clone(),
                path: model.origin.clone(),
            })?;
            let range = TensorRange { tensor: name.clone(), ..source.range.clone() };
            tensors.insert(name, TensorQuant::new(shared.target, range));
        }
        // Observed extras are optional: a caller that observed only `plan.tensors` loses the
        // NNI entries that need them, nothing else.
        let mut observed = BTreeMap::new();
        for (name, target) in plan.observed {
            if let Some(range) = ranges.remove(&name) {
                observed.insert(name, TensorQuant::new(target, range));
            }
        }
        Ok(QuantizedModel {
            model,
            tensors,
            node_precision: plan.node_precision,
            observed,
            config,
            auto: BTreeMap::new(),
            auto_search: None,
            bias_corrections: vec![],
        })
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

impl QuantizedModel {
    /// Quantized (int8) nodes, in graph order.
    pub fn int8_nodes(&self) -> Vec<String> {
        Graph::new(&self.model)
            .nodes
            .into_iter()
            .filter(|n| self.node_precision.get(&n.name) == Some(&Precision::Int8))
            .map(|n| n.name)
            .collect()
    }

    /// Keeps `nodes` out of int8 (automatic mixed precision): each node's precision becomes
    /// `precision`, it stops reading its inputs through Q/DQ (it is removed from their
    /// `consumers`), and tensors no int8 node reads any more are dropped, as are `_output_`
    /// tensors the node produces. So the QDQ exporter puts no Q/DQ there and TensorRT's plan
    /// gives the node a precision constraint.
    ///
    /// ```
    /// use calibr8_core::{OnnxModel, Precision, QuantConfig, QuantPlan, QuantizedModel};
    /// # let model = OnnxModel::load("../examples/digits/digits_cnn.onnx")?;
    /// # let plan = QuantPlan::resolve(&model, &QuantConfig::default())?;
    /// # let ranges = plan.tensors.keys().map(|t| (t.clone(),
    /// #     calibr8_calibration::TensorRange::per_tensor(t.clone(),
    /// #         calibr8_calibration::Method::MinMax, -1.0, 1.0))).collect();
    /// # let mut q = QuantizedModel::new(model, plan, ranges, QuantConfig::default())?;
    /// q.keep_in_float(&["fc2"], Precision::Fp16)?;
    /// assert_eq!(q.node_precision["fc2"], Precision::Fp16);
    /// assert!(!q.tensors.contains_key("fc2.weight"));
    /// assert_eq!(q.int8_nodes(), ["conv1", "conv2", "fc1"]);
    /// # Ok::<(), calibr8_core::Error>(())
    /// ```
    pub fn keep_in_float<S: AsRef<str>>(
        &mut self,
        nodes: &[S],
        precision: Precision,
    ) -> Result<()> {
        if precision == Precision::Int8 {
            return Err(Error::config(
                "float_precision",
                "nodes kept out of int8 need fp16 or fp32, not int8",
            ));
        }
        let graph = Graph::new(&self.model);
        for node in nodes {
            let node = node.as_ref();
            if graph.node(node).is_none() {
                return Err(Error::config(
                    "keep_in_float",
                    format!(
                        "node '{node}' is not in {}. Run `calibr8 inspect {}` to list its nodes",
                        self.model.origin, self.model.origin
                    ),
                ));
            }
            self.node_precision.insert(node.to_string(), precision);
            self.tensors.retain(|_, t| {
                let target = &mut t.target;
                if target.consumers.is_empty() {
                    // An `_output_` target: Q/DQ on every reader; it goes with its producer.
                    return target.producer.as_deref() != Some(node);
                }
                target.consumers.retain(|c| c != node);
                !target.consumers.is_empty()
            });
        }
        Ok(())
    }
}
