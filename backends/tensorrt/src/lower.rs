//! Applies a [`TrtPlan`] to a parsed network and builds a serialized engine.
//!
//! The plan speaks ONNX names; the parser keeps them for tensors and for the layer that produces
//! a node's outputs. Layers the parser adds on its own (reshapes around a Gemm, say) get no ONNX
//! name, so the lowering carries ranges through TensorRT's own SHUFFLE / IDENTITY layers and
//! reports every float tensor at a layer that still lacks a range.

use crate::internal::*;
use crate::plan::TrtPlan;
use crate::trt::{Builder, BuilderConfig, LayerInfo, Logger, Network};
use calibr8_tensorrt_sys as sys;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the lowering did, beyond the plan: what TensorRT's network turned out to hold.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoweringReport {
    /// Ranges set on network tensors.
    pub ranges_set: usize,
    /// Planned ranges whose tensor is not in the network (folded or renamed by the parser).
    pub ranges_not_in_network: Vec<String>,
    /// Ranges carried through layers TensorRT created: tensor → the tensor it came from.
    pub ranges_carried: BTreeMap<String, String>,
    /// Float tensors of the network still without a range (TensorRT keeps their layers out of
    /// int8 or warns "missing scale").
    pub network_unranged: Vec<String>,
    /// Layer constraints applied: ONNX node → TensorRT layers constrained.
    pub constrained: BTreeMap<String, Vec<String>>,
    /// Constraints that matched no layer.
    pub constraints_unmatched: Vec<String>,
}

/// A built engine plan and the report of its lowering.
#[derive(Clone, Debug)]
pub struct BuiltEngine {
    /// The serialized engine (`buildSerializedNetwork`).
    pub plan: Vec<u8>,
    /// What happened.
    pub report: LoweringReport,
}

/// Applies `plan` to `network` (ranges and layer constraints) and returns the report.
pub fn apply(plan: &TrtPlan, network: &mut Network) -> Result<LoweringReport> {
    let mut report = LoweringReport::default();
    let layers = network.layers()?;
    if plan.flags.int8 && !plan.flags.strongly_typed {
        let mut ranges: BTreeMap<String, f32> = BTreeMap::new();
        for r in plan.ranges.values() {
            if network.set_dynamic_range(&r.tensor, r.amax)? {
                ranges.insert(r.tensor.clone(), r.amax);
            } else {
                report.ranges_not_in_network.push(r.tensor.clone());
            }
        }
        // Ranges through TensorRT's own reshapes/identities, in network (topological) order.
        for layer in &layers {
            if !matches!(layer.kind.as_str(), "SHUFFLE" | "IDENTITY") {
                continue;
            }
            let Some(Some(input)) = layer.inputs.first() else {
                continue;
            };
            let Some(&amax) = ranges.get(input) else {
                continue;
            };
            for out in &layer.outputs {
                if !ranges.contains_key(out) && network.set_dynamic_range(out, amax)? {
                    ranges.insert(out.clone(), amax);
                    report.ranges_carried.insert(out.clone(), input.clone());
                }
            }
        }
        report.ranges_set = ranges.len();
        let mut unranged = std::collections::BTreeSet::new();
        for layer in &layers {
            let tensors = layer.inputs.iter().flatten().chain(&layer.outputs);
            for t in tensors {
                if ranges.contains_key(t) || unranged.contains(t) {
                    continue;
                }
                let dt = network.tensor_data_type(t)?;
                if dt == sys::CALIBR8_TRT_DATA_TYPE_FLOAT || dt == sys::CALIBR8_TRT_DATA_TYPE_HALF {
                    unranged.insert(t.clone());
                }
            }
        }
        report.network_unranged = unranged.into_iter().collect();
        for t in &report.network_unranged {
            tracing::warn!(target: "calibr8_tensorrt::lower", tensor = %t, "no dynamic range: its layers cannot run in int8");
        }
    }
    if !plan.flags.strongly_typed {
        for c in &plan.layers {
            let matched: Vec<&LayerInfo> = layers
                .iter()
                .filter(|l| l.name == c.layer || l.outputs.iter().any(|o| c.outputs.contains(o)))
                .collect();
            if matched.is_empty() {
                report.constraints_unmatched.push(c.layer.clone());
                tracing::warn!(target: "calibr8_tensorrt::lower", node = %c.layer, "precision constraint matched no TensorRT layer");
            }
            for l in &matched {
                network.constrain_layer(l.index, l.outputs.len(), c.precision)?;
            }
            report
                .constrained
                .insert(c.layer.clone(), matched.iter().map(|l| l.name.clone()).collect());
        }
    }
    Ok(report)
}

/// Configures a builder config from the plan's flags, profile and limits.
pub fn configure(plan: &TrtPlan, builder: &Builder, config: &mut BuilderConfig) -> Result<()> {
    let f = plan.flags;
    if !f.strongly_typed {
        config.set_flag(sys::CALIBR8_TRT_BUILDER_FLAG_INT8, f.int8)?;
        config.set_flag(sys::CALIBR8_TRT_BUILDER_FLAG_FP16, f.fp16)?;
        config.set_flag(
            sys::CALIBR8_TRT_BUILDER_FLAG_PREFER_PRECISION_CONSTRAINTS,
            f.prefer_precision_constraints,
        )?;
    }
    // Per-layer inspector JSON answers "why is int8 not faster".
    config.set_detailed_profiling()?;
    if let Some(bytes) = plan.options.workspace_bytes {
        config.set_workspace(bytes)?;
    }
    if let Some(level) = plan.options.optimization_level {
        config.set_optimization_level(level)?;
    }
    if !plan.profile.is_empty() {
        let shapes: Vec<_> = plan
            .profile
            .iter()
            .map(|p| (p.input.clone(), p.min.clone(), p.opt.clone(), p.max.clone()))
            .collect();
        builder.add_profile(config, &shapes)?;
    }
    Ok(())
}

/// Parses the plan's ONNX, applies the plan and builds the serialized engine.
pub fn build(plan: &TrtPlan, logger: &Arc<Logger>) -> Result<BuiltEngine> {
    let builder = Builder::new(logger)?;
    let mut network = builder.network_from_onnx(&plan.onnx, plan.flags.strongly_typed)?;
    let report = apply(plan, &mut network)?;
    let mut config = builder.config()?;
    configure(plan, &builder, &mut config)?;
    let bytes = builder.build(&mut network, &config)?;
    Ok(BuiltEngine { plan: bytes, report })
}
