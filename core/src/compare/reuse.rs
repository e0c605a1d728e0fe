//! Work shared between the runs of the isolated per-layer analysis and of the mixed-precision
//! search.
//!
//! A run that changes the quantization of one node (quantizes only it, or moves it to float)
//! changes that node and what lies downstream of it — its *cone* — and nothing else. Every
//! tensor the cone reads from outside (its *frontier*) keeps the value of a run made before:
//! for the isolated analysis, the all-float run; for a greedy step, the previous step.
//! [`ConeCache`] keeps such tensors, for every evaluation batch, and runs only the cone: the
//! QDQ model cut at the frontier, the frontier as its inputs.
//!
//! The cut is taken only on a backend that runs the QDQ model as written
//! ([`Backend::runs_qdq_as_written`]: tract), where a sub-graph fed the boundary values of the
//! whole computes what the whole would, so the metrics are those of whole-model runs, bit for
//! bit. Elsewhere, or where a frontier is not cached, a run is of the whole model.
//!
//! Memory: a cached tensor holds every evaluation sample (ResNet18 at 32×32, 256 samples: 16 to
//! 64 MiB each). The cache holds at most [`cache_budget`] bytes, nearest use first
//! (`CALIBR8_COMPARE_CACHE_MIB`, default 1024; 0 turns the reuse off); during a run the
//! frontier it reads may come on top of that. A frontier that does not fit is run from the
//! model inputs instead: slower, same result.

use super::evaluate::{Evaluation, OutputMetrics};
use crate::backend::{Backend, Lowering};
use crate::internal::*;
use crate::pb;
use crate::tensor::{TensorMap, TensorValue};
use std::collections::{HashMap, HashSet};

/// Default bytes [`ConeCache`] may hold.
const DEFAULT_BUDGET_MIB: usize = 1024;

/// Bytes the cache of tensors may hold by default (see [`Evaluation::with_cache_budget`]):
/// `CALIBR8_COMPARE_CACHE_MIB` MiB, else 1024 MiB.
pub fn cache_budget() -> usize {
    std::env::var("CALIBR8_COMPARE_CACHE_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_BUDGET_MIB)
        .saturating_mul(1 << 20)
}

/// What the first batch showed of a tensor.
struct Fact {
    /// The ONNX element type.
    elem_type: i32,
    /// Its dims in the first batch.
    dims: Vec<usize>,
    /// Bytes per evaluation sample.
    bytes_per_row: f64,
}

/// Tensors of the evaluation batches kept between runs, and runs of a node's cone from them.
pub(crate) struct ConeCache<'e, 'a> {
    eval: &'e Evaluation<'a>,
    candidate: &'e dyn Backend,
    /// The quantized model's graph (node names and tensors as in every variant).
    graph: Graph,
    enabled: bool,
    budget: usize,
    facts: HashMap<String, Fact>,
    /// Per tensor, its value in every evaluation batch, in the current base model.
    cache: HashMap<String, Vec<TensorValue>>,
    /// The symbol of the batch dim where the model's inputs declare one.
    batch_symbol: Option<String>,
    /// Node index by name.
    index: HashMap<String, usize>,
    /// Frontiers of the nodes given at construction.
    frontiers: HashMap<String, Vec<String>>,
    /// Frontier tensors to probe the sizes of, at the first run; `None` once probed.
    to_probe: Option<Vec<String>>,
    /// Runs made of a cone only, and of the whole model (for logs and tests).
    pub(crate) cone_runs: usize,
    pub(crate) whole_runs: usize,
}

impl<'e, 'a> ConeCache<'e, 'a> {
    /// A cache for runs of `q`'s variants that change one of `nodes` at a time. The first run
    /// probes the first evaluation batch for the size of every frontier tensor of those nodes.
    pub(crate) fn new(
        eval: &'e Evaluation<'a>,
        candidate: &'e dyn Backend,
        q: &QuantizedModel,
        nodes: &[String],
    ) -> Result<ConeCache<'e, 'a>> {
        let graph = Graph::new(&q.model);
        let has_subgraphs = q
            .model
            .graph()
            .node
            .iter()
            .any(|n| n.attribute.iter().any(|a| a.g.is_some() || !a.graphs.is_empty()));
        let batch_symbol = batch_symbol(&q.model);
        let index = graph.nodes.iter().enumerate().map(|(ix, n)| (n.name.clone(), ix)).collect();
        let budget = eval.cache_budget();
        let mut cache = ConeCache {
            eval,
            candidate,
            graph,
            enabled: candidate.runs_qdq_as_written() && budget > 0 && !has_subgraphs,
            budget,
            facts: HashMap::new(),
            cache: HashMap::new(),
            batch_symbol,
            index,
            frontiers: HashMap::new(),
            to_probe: None,
            cone_runs: 0,
            whole_runs: 0,
        };
        if cache.enabled {
            let mut wanted: Vec<String> = vec![];
            for node in nodes {
                let frontier = cache.frontier(node);
                for t in &frontier {
                    if !wanted.contains(t) {
                        wanted.push(t.clone());
                    }
                }
                cache.frontiers.insert(node.clone(), frontier);
            }
            cache.to_probe = Some(wanted);
        }
        Ok(cache)
    }

    /// Sizes, types and dims of the frontier tensors, from the first batch of `q` (any variant:
    /// they share shapes), once.
    fn probe(&mut self, q: &QuantizedModel) -> Result<()> {
        let Some(wanted) = self.to_probe.take() else { return Ok(()) };
        let Some(first) = self.eval.data_batches().next().transpose()? else { return Ok(()) };
        let rows = first.samples().max(1);
        let names: Vec<String> = first.names().map(String::from).collect();
        let (_, kept) = self.eval.outputs_keeping(
            self.candidate,
            Lowering::Quantized(q),
            Some((&names, Box::new(std::iter::once(Ok(first))))),
            &wanted,
        )?;
        for (name, value) in kept.into_iter().flat_map(|m| {
            let names: Vec<String> = m.names().map(String::from).collect();
            names.into_iter().zip(m.into_values()).collect::<Vec<_>>()
        }) {
            let fact = Fact {
                elem_type: value.elem_type().onnx_code(),
                dims: value.shape().to_vec(),
                bytes_per_row: (value.len() * elem_bytes(&value)) as f64 / rows as f64,
            };
            self.facts.insert(name, fact);
        }
        Ok(())
    }

    /// Indices of `node` and every node downstream of it.
    fn cone(&self, node: &str) -> HashSet<usize> {
        let mut cone = HashSet::new();
        let Some(&start) = self.index.get(node) else {
            return cone;
        };
        let mut todo = vec![start];
        while let Some(ix) = todo.pop() {
            if !cone.insert(ix) {
                continue;
            }
            for out in self.graph.nodes[ix].outputs.iter().filter(|o| !o.is_empty()) {
                for consumer in self.graph.consumers(out) {
                    if let Some(&c) = self.index.get(&consumer.name) {
                        todo.push(c);
                    }
                }
            }
        }
        cone
    }

    /// Tensors `node`'s cone reads from outside it (constants aside), in graph order.
    pub(crate) fn frontier(&self, node: &str) -> Vec<String> {
        if let Some(known) = self.frontiers.get(node) {
            return known.clone();
        }
        let cone = self.cone(node);
        let produced: HashSet<&str> = cone
            .iter()
            .flat_map(|&ix| self.graph.nodes[ix].outputs.iter().map(String::as_str))
            .collect();
        let mut ixs: Vec<usize> = cone.iter().copied().collect();
        ixs.sort_unstable();
        let mut frontier: Vec<String> = vec![];
        for ix in ixs {
            for input in &self.graph.nodes[ix].inputs {
                if !input.is_empty()
                    && !self.graph.is_constant(input)
                    && !produced.contains(input.as_str())
                    && !frontier.contains(input)
                {
                    frontier.push(input.clone());
                }
            }
        }
        frontier
    }

    /// Bytes `tensor` takes in the cache (unknown tensors never fit).
    fn bytes(&self, tensor: &str) -> usize {
        let samples = self.eval.samples() as f64;
        self.facts.get(tensor).map_or(usize::MAX, |f| (f.bytes_per_row * samples).ceil() as usize)
    }

    fn cached(&self, frontier: &[String]) -> bool {
        self.enabled && frontier.iter().all(|t| self.cache.contains_key(t))
    }

    /// The isolated run of `variant`, where only `node` differs from `base` (every other node
    /// in float): `node`'s cone from the base's tensors, refilling the cache with a run of
    /// `base` when `node`'s frontier is not in it (`upcoming`: the nodes still to run, this
    /// one first, whose frontiers the refill keeps while the budget lasts).
    pub(crate) fn isolated(
        &mut self,
        variant: &QuantizedModel,
        node: &str,
        base: &QuantizedModel,
        upcoming: &[String],
    ) -> Result<Vec<OutputMetrics>> {
        self.probe(base)?;
        let frontier = self.frontier(node);
        if self.enabled && !self.cached(&frontier) {
            let mut wanted: Vec<String> = vec![];
            for n in upcoming {
                for t in self.frontier(n) {
                    if !wanted.contains(&t) {
                        wanted.push(t);
                    }
                }
            }
            let keep = self.within_budget(&wanted, &|_| true);
            if !frontier.iter().all(|t| keep.contains(t)) {
                // Its own frontier does not fit: a refill would not help this node.
                return self.run(variant, node, &frontier, &[]).map(|(outputs, _)| outputs);
            }
            self.cache.clear();
            let (_, kept) = self.eval.outputs_keeping(
                self.candidate,
                Lowering::Quantized(base),
                None,
                &keep,
            )?;
            self.whole_runs += 1;
            self.store(kept);
        }
        self.run(variant, node, &frontier, &[]).map(|(outputs, _)| outputs)
    }

    /// A greedy step: `variant` differs from the model of the previous step (or of the first
    /// call) in `node` only, and becomes the base of the next step. `wanted`: frontiers of the
    /// steps to come, nearest first; those the budget allows are kept.
    pub(crate) fn step(
        &mut self,
        variant: &QuantizedModel,
        node: &str,
        wanted: &[String],
    ) -> Result<Vec<OutputMetrics>> {
        self.probe(variant)?;
        let cone = self.cone(node);
        let frontier = self.frontier(node);
        let by_cone = self.cached(&frontier);
        let produced_in_cone: HashSet<String> =
            cone.iter().flat_map(|&ix| self.graph.nodes[ix].outputs.clone()).collect();
        // What the cone computes changes now: drop the stale values.
        self.cache.retain(|t, _| !produced_in_cone.contains(t));
        let capturable = |t: &str| -> bool {
            if by_cone {
                produced_in_cone.contains(t)
            } else {
                !self.graph.is_constant(t)
            }
        };
        let keep_or_capture =
            if self.enabled { self.within_budget(wanted, &capturable) } else { vec![] };
        let retained: HashSet<&String> = keep_or_capture.iter().collect();
        let capture: Vec<String> =
            keep_or_capture.iter().filter(|t| !self.cache.contains_key(*t)).cloned().collect();
        // Unwanted entries go now, the frontier once this run has read it.
        let frontier_set: HashSet<&String> = frontier.iter().collect();
        self.cache.retain(|t, _| retained.contains(t) || frontier_set.contains(t));
        let (outputs, kept) = self.run(variant, node, &frontier, &capture)?;
        self.cache.retain(|t, _| retained.contains(t));
        self.store(kept);
        Ok(outputs)
    }

    /// Tensors of `wanted`, in order, that are cached or `capturable`, while their total stays
    /// within the budget.
    fn within_budget(&self, wanted: &[String], capturable: &dyn Fn(&str) -> bool) -> Vec<String> {
        let mut total = 0usize;
        let mut out: Vec<String> = vec![];
        for t in wanted {
            if out.contains(t) || !(self.cache.contains_key(t) || capturable(t)) {
                continue;
            }
            let size = self.bytes(t);
            if size == usize::MAX || total.saturating_add(size) > self.budget {
                continue;
            }
            total += size;
            out.push(t.clone());
        }
        out
    }

    fn store(&mut self, kept: Vec<TensorMap>) {
        for map in kept {
            let names: Vec<String> = map.names().map(String::from).collect();
            for (name, value) in names.into_iter().zip(map.into_values()) {
                self.cache.entry(name).or_default().push(value);
            }
        }
    }

    /// Runs `variant`: `node`'s cone from the cached `frontier` where it is cached (falling back
    /// on the whole model if the cut cannot be run), else the whole model.
    fn run(
        &mut self,
        variant: &QuantizedModel,
        node: &str,
        frontier: &[String],
        capture: &[String],
    ) -> Result<(Vec<OutputMetrics>, Vec<TensorMap>)> {
        if self.cached(frontier) {
            match self.run_cone(variant, frontier, capture) {
                Ok(result) => {
                    self.cone_runs += 1;
                    self.eval.count_cone_run();
                    return Ok(result);
                }
                Err(e) => tracing::debug!(
                    "{}: running only the part downstream of '{node}' failed ({e}); running \
                     the whole model",
                    variant.model.origin
                ),
            }
        }
        self.whole_runs += 1;
        self.eval.outputs_keeping(self.candidate, Lowering::Quantized(variant), None, capture)
    }

    fn run_cone(
        &self,
        variant: &QuantizedModel,
        frontier: &[String],
        capture: &[String],
    ) -> Result<(Vec<OutputMetrics>, Vec<TensorMap>)> {
        let whole = crate::export::qdq_model(variant)?;
        let cut = self.cut(&whole, frontier, capture)?;
        let batches = self.eval.batch_rows().len();
        let inputs = (0..batches).map(|b| -> Result<TensorMap> {
            frontier
                .iter()
                .map(|t| {
                    let value = self.cache.get(t).and_then(|v| v.get(b)).ok_or_else(|| {
                        Error::backend("compare", format!("tensor '{t}' is not cached"))
                    })?;
                    Ok((t.clone(), value.clone()))
                })
                .collect()
        });
        self.eval.outputs_keeping(
            self.candidate,
            Lowering::Float(&cut),
            Some((frontier, Box::new(inputs))),
            capture,
        )
    }

    /// `model` cut at `frontier`: those tensors become its inputs, and only the nodes the
    /// outputs and `capture` need from there on stay.
    fn cut(&self, model: &OnnxModel, frontier: &[String], capture: &[String]) -> Result<OnnxModel> {
        let invalid = |reason: String| Error::InvalidModel { path: model.origin.clone(), reason };
        let g = model.graph();
        let frontier_set: HashSet<&str> = frontier.iter().map(String::as_str).collect();
        let mut needed: HashSet<String> =
            g.output.iter().map(|o| o.name.clone()).chain(capture.iter().cloned()).collect();
        let mut include = vec![false; g.node.len()];
        // ONNX nodes are in topological order: walking back visits consumers first.
        for (ix, node) in g.node.iter().enumerate().rev() {
            if node.output.iter().any(|o| needed.contains(o)) {
                if node.output.iter().any(|o| frontier_set.contains(o.as_str())) {
                    return Err(invalid(format!(
                        "node '{}' computes both a frontier tensor and one downstream of it",
                        node.name
                    )));
                }
                include[ix] = true;
                for input in node.input.iter().filter(|i| !i.is_empty()) {
                    if !frontier_set.contains(input.as_str()) {
                        needed.insert(input.clone());
                    }
                }
            }
        }
        let mut graph = g.clone();
        graph.node =
            g.node.iter().zip(&include).filter(|(_, &keep)| keep).map(|(n, _)| n.clone()).collect();
        graph.initializer.retain(|t| needed.contains(&t.name));
        graph.value_info.retain(|v| needed.contains(&v.name));
        graph.input = frontier
            .iter()
            .map(|t| {
                let fact = self
                    .facts
                    .get(t)
                    .ok_or_else(|| invalid(format!("no shape known for tensor '{t}'")))?;
                Ok(self.input_info(t, fact))
            })
            .collect::<Result<_>>()?;
        let mut proto = model.proto.clone();
        proto.graph = Some(graph);
        Ok(OnnxModel { proto, origin: model.origin.clone() })
    }

    /// The input declaration of a frontier tensor: its type and first-batch dims, the batch dim
    /// symbolic where the model's inputs declare it so.
    fn input_info(&self, name: &str, fact: &Fact) -> pb::ValueInfoProto {
        use pb::tensor_shape_proto::{dimension::Value, Dimension};
        use pb::type_proto::Value as TypeValue;
        let first_rows = self.eval.batch_rows().first().copied();
        let dim = |ix: usize, d: usize| -> Dimension {
            let value = match (&self.batch_symbol, ix) {
                (Some(symbol), 0) if Some(d) == first_rows => Value::DimParam(symbol.clone()),
                _ => Value::DimValue(d as i64),
            };
            Dimension { value: Some(value), ..Default::default() }
        };
        pb::ValueInfoProto {
            name: name.to_string(),
            r#type: Some(pb::TypeProto {
                value: Some(TypeValue::TensorType(pb::type_proto::Tensor {
                    elem_type: fact.elem_type,
                    shape: Some(pb::TensorShapeProto {
                        dim: fact.dims.iter().enumerate().map(|(ix, &d)| dim(ix, d)).collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// The symbol of the first input's batch dim, when the inputs' dims are not all fixed.
fn batch_symbol(model: &OnnxModel) -> Option<String> {
    use pb::tensor_shape_proto::dimension::Value;
    use pb::type_proto::Value as TypeValue;
    if crate::shapes::inputs_are_concrete(model) {
        return None;
    }
    let first = model.inputs().first().map(|i| i.name.clone())?;
    let declared = model.graph().input.iter().find(|i| i.name == first).and_then(|i| {
        match i.r#type.as_ref()?.value.as_ref()? {
            TypeValue::TensorType(t) => match t.shape.as_ref()?.dim.first()?.value.as_ref()? {
                Value::DimParam(p) if !p.is_empty() => Some(p.clone()),
                _ => None,
            },
            _ => None,
        }
    });
    Some(declared.unwrap_or_else(|| "N".into()))
}

fn elem_bytes(value: &TensorValue) -> usize {
    match value {
        TensorValue::F64(_) | TensorValue::I64(_) => 8,
        TensorValue::F32(_) | TensorValue::I32(_) => 4,
        TensorValue::I8(_) | TensorValue::U8(_) | TensorValue::Bool(_) => 1,
    }
}
