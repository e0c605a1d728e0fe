//! Graph pre-processing before calibration, like ONNX Runtime's `quant_pre_process`: the model
//! calibr8 calibrates and exports is the one the deployment runtime will run. Every pass keeps
//! the float model numerically equal (tests/preprocess_ort.py checks it with ONNX Runtime):
//!
//! 1. [`constants`]: `Constant` nodes become initializers, cheap constant subexpressions folded;
//! 2. [`identity`]: `Identity` nodes dropped;
//! 3. [`softmax`]: opset 11/12 Softmax / LogSoftmax / Hardmax with `axis != -1` rewritten to
//!    `Flatten → op → Reshape`, exact in every opset, so per-channel Q/DQ (opset 13) can follow;
//! 4. [`batchnorm`]: BatchNormalization folded into the Conv / ConvTranspose / Gemm before it,
//!    as TensorRT and ONNX Runtime do (`fold_batchnorm`, on by default);
//! 5. nodes nobody reads removed.
//!
//! [`refuse_quantized`] and [`subgraph_nodes`] say what calibr8 will not do.

mod already_quantized;
mod batchnorm;
mod constants;
pub(crate) mod edit;
mod equalize;
mod identity;
mod softmax;
mod subgraphs;
mod values;

pub(crate) use already_quantized::is_quantized_op;
pub use already_quantized::refuse_quantized;
pub use subgraphs::{describe_float_subgraphs, subgraph_nodes, SubgraphNode};

use crate::internal::*;
use serde::Serialize;

/// Which optional passes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreprocessOptions {
    /// Fold BatchNormalization into the preceding Conv / ConvTranspose / Gemm.
    pub fold_batchnorm: bool,
    /// Cross-layer equalization of Conv → [Relu] → Conv pairs (after the folding).
    pub equalize: bool,
}

impl Default for PreprocessOptions {
    fn default() -> Self {
        PreprocessOptions { fold_batchnorm: true, equalize: false }
    }
}

/// What the passes changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PreprocessReport {
    /// Nodes computed once and stored as initializers (`Constant` nodes included).
    pub constants_folded: usize,
    /// `Identity` nodes dropped.
    pub identities_removed: usize,
    /// Softmax-family nodes rewritten to opset-13 form.
    pub softmax_rewritten: usize,
    /// BatchNormalization nodes folded into their producer.
    pub batchnorms_folded: usize,
    /// Nodes removed because nothing read their outputs.
    pub dead_nodes_removed: usize,
    /// Conv pairs rescaled by cross-layer equalization.
    pub pairs_equalized: usize,
}

impl std::fmt::Display for PreprocessReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} constant(s) folded, {} Identity dropped, {} Softmax rewritten, {} \
             BatchNormalization folded, {} dead node(s) removed, {} Conv pair(s) equalized",
            self.constants_folded,
            self.identities_removed,
            self.softmax_rewritten,
            self.batchnorms_folded,
            self.dead_nodes_removed,
            self.pairs_equalized
        )
    }
}

/// Runs the passes on a copy of `model`.
///
/// ```
/// use calibr8_core::preprocess::{preprocess, PreprocessOptions};
/// let model = calibr8_core::OnnxModel::load("../tests/data/resnet_tiny.onnx")?;
/// let (folded, report) = preprocess(&model, &PreprocessOptions::default())?;
/// assert_eq!(report.batchnorms_folded, 5);
/// assert!(folded.graph().node.iter().all(|n| n.op_type != "BatchNormalization"));
/// # Ok::<(), calibr8_core::Error>(())
/// ```
pub fn preprocess(
    model: &OnnxModel,
    options: &PreprocessOptions,
) -> Result<(OnnxModel, PreprocessReport)> {
    let mut proto = model.proto.clone();
    let opset = model.opset();
    let ir_version = proto.ir_version;
    let mut report = PreprocessReport::default();
    if let Some(graph) = proto.graph.as_mut() {
        report.constants_folded = constants::fold_constants(graph, ir_version);
        report.identities_removed = identity::drop_identities(graph);
        report.softmax_rewritten = softmax::rewrite_legacy_softmax(graph, opset);
        if options.fold_batchnorm {
            report.batchnorms_folded = batchnorm::fold_batchnorms(graph);
        }
        if options.equalize {
            report.pairs_equalized = equalize::equalize(graph);
        }
        report.dead_nodes_removed = edit::remove_dead(graph);
    }
    Ok((OnnxModel::from_proto(proto, model.origin.clone())?, report))
}

/// What `quantize` does before it resolves the config: refuse quantized models, warn about
/// subgraph nodes left in float, and pre-process (BatchNorm folding per `config`).
pub fn for_quantization(model: &OnnxModel, config: &QuantConfig) -> Result<OnnxModel> {
    refuse_quantized(model)?;
    if let Some(line) = describe_float_subgraphs(&subgraph_nodes(model), 8) {
        tracing::warn!("{}: {line}", model.origin);
    }
    let options = PreprocessOptions {
        fold_batchnorm: config.fold_batchnorm,
        equalize: config.cross_layer_equalization,
    };
    let (model, report) = preprocess(model, &options)?;
    tracing::info!("{}: pre-processing: {report}", model.origin);
    Ok(model)
}

/// Rewrites legacy Softmax-family nodes in an exported model (the QDQ exporter upgrades to
/// opset 13 and must not change their meaning); returns how many.
pub(crate) fn rewrite_legacy_softmax(proto: &mut crate::pb::ModelProto) -> usize {
    let opset = crate::model::default_opset(proto);
    proto.graph.as_mut().map_or(0, |g| softmax::rewrite_legacy_softmax(g, opset))
}
