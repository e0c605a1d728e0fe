//! Resolving a [`QuantConfig`] against a model: the exact tensors to observe, with their role,
//! spec and granularity, and the precision of every node the config decides.

use crate::config::{expand_op_type, GranularityName, Precision, Target};
use crate::internal::*;
use crate::ops::{register_all_ops, InputRole};
use calibr8_calibration::{Granularity, QuantSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod cpu;

/// Whether a quantized tensor is computed at run time or a constant weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorRole {
    /// A run-time tensor, observed over the calibration data.
    Activation,
    /// A constant weight, observed once from the model file.
    Weight,
}

/// One tensor the config quantizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorTarget {
    /// The ONNX tensor name.
    pub tensor: String,
    /// Activation or weight.
    pub role: TensorRole,
    /// Quantized type, scheme and range.
    pub spec: QuantSpec,
    /// Per tensor, or per channel along an axis (weights only).
    pub granularity: Granularity,
    /// The quantized nodes that read it through Q/DQ.
    pub consumers: Vec<String>,
    /// The node that produces it (for `_output_` targets and reports), if any.
    pub producer: Option<String>,
}

impl TensorTarget {
    /// True when `node` reads this tensor through its Q/DQ pair: every reader does when
    /// `consumers` is empty (an `_output_` target, the CPU preset's outputs).
    pub fn is_read_quantized_by(&self, node: &str) -> bool {
        self.consumers.is_empty() || self.consumers.iter().any(|c| c == node)
    }
}

/// What a config means for one model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QuantPlan {
    /// Tensors to quantize, by name.
    pub tensors: BTreeMap<String, TensorTarget>,
    /// Precision of every node the config decided (quantized, or excluded and kept in float).
    pub node_precision: BTreeMap<String, Precision>,
    /// Activations observed for exports but not quantized (NNI's output ranges; see
    /// [`crate::config::NniOptions::calibrate_outputs`]). Never in `tensors`.
    #[serde(default)]
    pub observed: BTreeMap<String, TensorTarget>,
    /// Quantized tensors that take another tensor's parameters instead of being observed (the
    /// CPU preset's MaxPool / Reshape outputs: ONNX Runtime removes their Q/DQ only when the
    /// parameters match the input's). Never in `tensors`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub same_params: BTreeMap<String, SameParams>,
}

/// A quantized tensor whose parameters are those of `source`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SameParams {
    /// The tensor, its readers and producer.
    pub target: TensorTarget,
    /// The observed tensor (in [`QuantPlan::tensors`]) whose range it takes.
    pub source: String,
}

/// The error for a config that quantizes nothing, naming the rule responsible: calibrating
/// zero tensors and writing a "QDQ" model without a Q/DQ node is a wrong success.
fn nothing_quantized(
    model: &OnnxModel,
    config: &QuantConfig,
    graph: &Graph,
    any_selected: bool,
    excluder: Option<usize>,
) -> Error {
    let mut types: Vec<&str> = graph.nodes.iter().map(|n| n.op_type.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    let has = format!("{} has op types {}", model.origin, types.join(", "));
    if config.config_list.is_empty() {
        return Error::config(
            "config_list",
            "is empty, so nothing would be quantized; add a rule such as \
             `- op_types: [Conv, Gemm, MatMul]` (or leave the config out for TensorRT's preset)",
        );
    }
    if let Some(ix) = excluder {
        return Error::config(
            format!("config_list[{ix}]"),
            format!(
                "excludes every node the rules before it select, so nothing would be quantized; \
                 narrow its exclude_op_names / exclude_op_types ({has})"
            ),
        );
    }
    if !any_selected {
        // Nodes inside If / Loop / Scan bodies are not the main graph's: when they are all the
        // model has, the rule is not at fault and the subgraph is what to name.
        let inside = crate::preprocess::subgraph_nodes(model);
        if let (Some(first), Some(line)) =
            (inside.first(), crate::preprocess::describe_float_subgraphs(&inside, 8))
        {
            return Error::UnsupportedNode {
                path: model.origin.clone(),
                node: first.parent.clone(),
                op_type: first.parent_op.clone(),
                reason: format!(
                    "nothing in the main graph would be quantized ({has}), so calibr8 has                      nothing to do: {line}"
                ),
            };
        }
        return Error::config(
            "config_list",
            format!(
                "no rule selects a node of this model (op_types / op_names match nothing), so \
                 nothing would be quantized; {has}. Run `calibr8 inspect {}`",
                model.origin
            ),
        );
    }
    Error::config(
        "config_list",
        format!(
            "the selected nodes have none of the requested target_names (weights exist on {} \
             only), so nothing would be quantized; add _input_ or _output_ to target_names",
            register_all_ops().weighted_op_types().join(", ")
        ),
    )
}

/// What the last rule matching a node decided.
enum Decision<'a> {
    Quantize(&'a crate::config::ConfigRule),
    Exclude(Precision),
}

impl QuantPlan {
    /// Resolves `config` against `model`. Names in `op_names` / `exclude_op_names` that the model
    /// does not have are errors, as are targets the model cannot honour.
    pub fn resolve(model: &OnnxModel, config: &QuantConfig) -> Result<QuantPlan> {
        config.validate()?;
        let graph = Graph::new(model);
        let registry = register_all_ops();
        let proto_nodes = &model.graph().node;

        // Check every node name the config mentions.
        for (ix, rule) in config.config_list.iter().enumerate() {
            for (key, names) in
                [("op_names", &rule.op_names), ("exclude_op_names", &rule.exclude_op_names)]
            {
                for name in names {
                    if graph.node(name).is_none() {
                        return Err(Error::config(
                            format!("config_list[{ix}].{key}"),
                            format!(
                                "node '{name}' is not in {}. Run `calibr8 inspect {}` to list its nodes",
                                model.origin, model.origin
                            ),
                        ));
                    }
                }
            }
        }

        // Later rules override earlier ones, as in NNI.
        let mut decided: BTreeMap<usize, Decision> = BTreeMap::new();
        // For the error when nothing is left: did any rule select a node, which rule undid it.
        let (mut any_selected, mut excluder) = (false, None);
        for (rule_ix, rule) in config.config_list.iter().enumerate() {
            let expand = |list: &Vec<String>| -> Vec<String> {
                list.iter().flat_map(|o| expand_op_type(o).unwrap_or_default()).collect()
            };
            let op_types = expand(&rule.op_types);
            let exclude_types = expand(&rule.exclude_op_types);
            for (ix, node) in graph.nodes.iter().enumerate() {
                let named = rule.op_names.contains(&node.name) || op_types.contains(&node.op_type);
                let excluded = rule.exclude_op_names.contains(&node.name)
                    || exclude_types.contains(&node.op_type)
                    || (rule.exclude && named);
                if excluded {
                    if matches!(decided.get(&ix), Some(Decision::Quantize(_))) {
                        excluder = Some(rule_ix);
                    }
                    decided.insert(ix, Decision::Exclude(rule.precision));
                } else if named {
                    any_selected = true;
                    decided.insert(ix, Decision::Quantize(rule));
                }
            }
        }

        let mut plan = QuantPlan::default();
        let mut int8_specs: BTreeMap<String, QuantSpec> = BTreeMap::new();
        for (&ix, decision) in &decided {
            let node = &graph.nodes[ix];
            let rule = match decision {
                Decision::Quantize(rule) => *rule,
                Decision::Exclude(precision) => {
                    plan.node_precision.insert(node.name.clone(), *precision);
                    continue;
                }
            };
            let roles = registry.input_roles(&proto_nodes[ix], &graph);
            let spec = QuantSpec {
                dtype: rule.quant_dtype,
                scheme: rule.quant_scheme,
                narrow_range: false,
                reduce_range: false,
            };
            let mut quantized_any = false;
            for (input, role) in node.inputs.iter().zip(&roles) {
                match role {
                    InputRole::Activation if rule.target_names.contains(&Target::Input) => {
                        plan.add(
                            &graph,
                            input,
                            TensorRole::Activation,
                            spec,
                            Granularity::PerTensor,
                            node,
                        )?;
                        quantized_any = true;
                    }
                    InputRole::Weight { channel_axis }
                        if rule.target_names.contains(&Target::Weight) =>
                    {
                        let granularity = match rule.granularity {
                            GranularityName::PerChannel => {
                                Granularity::PerChannel { axis: *channel_axis }
                            }
                            GranularityName::Default => Granularity::PerTensor,
                        };
                        // Weights use the narrow range [-127, 127] (TensorRT, ONNX Runtime).
                        let wspec = QuantSpec {
                            dtype: rule.weight_quant_dtype.unwrap_or(rule.quant_dtype),
                            scheme: rule.weight_quant_scheme.unwrap_or(rule.quant_scheme),
                            narrow_range: true,
                            reduce_range: rule.reduce_range,
                        };
                        plan.add(&graph, input, TensorRole::Weight, wspec, granularity, node)?;
                        quantized_any = true;
                    }
                    _ => {}
                }
            }
            if rule.target_names.contains(&Target::Weight)
                && !rule.target_names.contains(&Target::Input)
                && !registry.has_weights(&node.op_type)
                && rule.op_names.contains(&node.name)
            {
                return Err(Error::config(
                    "target_names",
                    format!(
                        "node '{}' ({}) has no weight; weights are quantized on {}",
                        node.name,
                        node.op_type,
                        registry.weighted_op_types().join(", ")
                    ),
                ));
            }
            if rule.target_names.contains(&Target::Output) {
                for output in node.outputs.iter().filter(|o| !o.is_empty()) {
                    plan.add_output(output, spec, node);
                    quantized_any = true;
                }
            }
            if quantized_any {
                plan.node_precision.insert(node.name.clone(), Precision::Int8);
                int8_specs.insert(node.name.clone(), spec);
            }
        }
        if config.preset.quantizes_cpu_outputs() {
            cpu::place_outputs(&mut plan, &graph, &int8_specs);
        }
        if plan.tensors.is_empty() {
            return Err(nothing_quantized(model, config, &graph, any_selected, excluder));
        }
        if config.nni.calibrate_outputs {
            plan.observe_for_nni(&graph, &int8_specs);
        }
        Ok(plan)
    }

    /// What NNI's entries need beyond the quantized tensors: the output of every int8 Conv/Gemm
    /// and the input and output of every Relu/Clip/MaxPool the config did not keep in float.
    fn observe_for_nni(&mut self, graph: &Graph, int8_specs: &BTreeMap<String, QuantSpec>) {
        let default_spec = QuantSpec {
            dtype: calibr8_calibration::QuantDtype::Int8,
            scheme: calibr8_calibration::Scheme::Symmetric,
            narrow_range: false,
            reduce_range: false,
        };
        for node in &graph.nodes {
            let mut wanted: Vec<&str> = vec![];
            match node.op_type.as_str() {
                "Conv" | "Gemm" if int8_specs.contains_key(&node.name) => {
                    wanted.extend(node.outputs.first().map(String::as_str));
                }
                "Relu" | "Clip" | "MaxPool" if !self.node_precision.contains_key(&node.name) => {
                    wanted.extend(node.inputs.first().map(String::as_str));
                    wanted.extend(node.outputs.first().map(String::as_str));
                }
                _ => {}
            }
            for tensor in wanted {
                if tensor.is_empty()
                    || graph.is_constant(tensor)
                    || self.tensors.contains_key(tensor)
                    || self.observed.contains_key(tensor)
                {
                    continue;
                }
                let producer = graph.producer(tensor).map(|n| n.name.clone());
                let spec = producer
                    .as_ref()
                    .and_then(|p| int8_specs.get(p))
                    .copied()
                    .unwrap_or(default_spec);
                self.observed.insert(
                    tensor.to_string(),
                    TensorTarget {
                        tensor: tensor.to_string(),
                        role: TensorRole::Activation,
                        spec,
                        granularity: Granularity::PerTensor,
                        consumers: vec![],
                        producer,
                    },
                );
            }
        }
    }

    fn add(
        &mut self,
        graph: &Graph,
        tensor: &str,
        role: TensorRole,
        spec: QuantSpec,
        granularity: Granularity,
        consumer: &crate::graph::Node,
    ) -> Result<()> {
        let producer = graph.producer(tensor).map(|n| n.name.clone());
        let entry = self.tensors.entry(tensor.to_string()).or_insert_with(|| TensorTarget {
            tensor: tensor.to_string(),
            role,
            spec,
            granularity,
            consumers: vec![],
            producer,
        });
        if entry.spec != spec || entry.granularity != granularity || entry.role != role {
            return Err(Error::config(
                "config_list",
                format!(
                    "tensor '{tensor}' is read by nodes {:?} and '{}' with different quantization \
                     ({:?}/{:?} vs {:?}/{:?}); give them one rule",
                    entry.consumers,
                    consumer.name,
                    entry.spec,
                    entry.granularity,
                    spec,
                    granularity
                ),
            ));
        }
        if !entry.consumers.contains(&consumer.name) {
            entry.consumers.push(consumer.name.clone());
        }
        Ok(())
    }

    /// Quantizes `tensor` for every reader (the CPU preset's outputs: ONNX Runtime removes a
    /// Relu, or fuses a `DQ → op → Q` unit, only when the Q is the output's sole reader).
    fn add_output_for_all_readers(
        &mut self,
        tensor: &str,
        spec: QuantSpec,
        producer: &crate::graph::Node,
    ) {
        self.add_output(tensor, spec, producer);
        if let Some(target) = self.tensors.get_mut(tensor) {
            target.consumers.clear();
        }
    }

    fn add_output(&mut self, tensor: &str, spec: QuantSpec, producer: &crate::graph::Node) {
        self.tensors.entry(tensor.to_string()).or_insert_with(|| TensorTarget {
            tensor: tensor.to_string(),
            role: TensorRole::Activation,
            spec,
            granularity: Granularity::PerTensor,
            consumers: vec![],
            producer: Some(producer.name.clone()),
        });
    }

    /// The observed tensor whose parameters `tensor` uses: itself when it is a quantized
    /// activation, its source when it has [`same_params`](QuantPlan::same_params).
    fn params_source(&self, tensor: &str) -> Option<String> {
        if let Some(shared) = self.same_params.get(tensor) {
            return Some(shared.source.clone());
        }
        self.tensors
            .get(tensor)
            .filter(|t| t.role == TensorRole::Activation)
            .map(|t| t.tensor.clone())
    }

    /// Activation tensors to observe, sorted by name: the quantized ones, then the
    /// [`observed`](QuantPlan::observed) ones.
    pub fn activations(&self) -> impl Iterator<Item = &TensorTarget> {
        self.tensors
            .values()
            .filter(|t| t.role == TensorRole::Activation)
            .chain(self.observed.values())
    }

    /// Weight tensors, sorted by name.
    pub fn weights(&self) -> impl Iterator<Item = &TensorTarget> {
        self.tensors.values().filter(|t| t.role == TensorRole::Weight)
    }
}
