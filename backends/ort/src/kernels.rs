//! What ONNX Runtime's CPU graph optimizer makes of a model: which ops run as int8 kernels and
//! which compute ops stay float. "Is int8 faster here?" starts with this: ONNX Runtime fuses
//! `DQ → op → Q` into an int8 kernel only when the Q/DQ layout allows it (see
//! [`calibr8_core::Preset::Cpu`]), and otherwise dequantizes op by op.

use crate::sys;
use calibr8_core::{pb, Error, OnnxModel, Result};
use prost::Message as _;
use std::collections::BTreeMap;

/// Op types of ONNX Runtime's int8 CPU kernels.
const INT8_KERNELS: &[&str] = &[
    "QLinearConv",
    "QLinearMatMul",
    "QGemm",
    "QLinearAdd",
    "QLinearMul",
    "QLinearAveragePool",
    "QLinearGlobalAveragePool",
    "QLinearConcat",
    "QLinearSigmoid",
    "QLinearLeakyRelu",
    "QLinearSoftmax",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
    "ConvInteger",
    "MatMulInteger",
];

/// Compute ops that, left in the optimized graph, run in float.
const FLOAT_COMPUTE: &[&str] = &[
    "Conv",
    "FusedConv",
    "NchwcConv",
    "Gemm",
    "FusedGemm",
    "MatMul",
    "FusedMatMul",
    "Add",
    "Mul",
    "AveragePool",
    "GlobalAveragePool",
];

/// The optimized graph's op counts, split the way the question is asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kernels {
    /// Int8 kernels by op type (`QLinearConv: 20`...).
    pub int8: BTreeMap<String, usize>,
    /// Float compute ops left, by op type.
    pub float: BTreeMap<String, usize>,
    /// Every op of the optimized graph by type.
    pub all: BTreeMap<String, usize>,
}

impl Kernels {
    /// Int8 kernel count.
    pub fn int8_count(&self) -> usize {
        self.int8.values().sum()
    }

    /// Float compute op count.
    pub fn float_count(&self) -> usize {
        self.float.values().sum()
    }
}

impl std::fmt::Display for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} int8 / {} float", self.int8_count(), self.float_count())
    }
}

/// Optimizes `model` as an ONNX Runtime CPU session would (all optimizations, `threads`
/// intra-op threads; `None`: one per physical core) and counts what it became.
///
/// ```no_run
/// let qdq = calibr8_core::OnnxModel::load("out/model.qdq.onnx")?;
/// let kernels = calibr8_ort::cpu_kernels(&qdq, Some(1))?;
/// assert_eq!(kernels.float_count(), 0, "every Conv fused: {:?}", kernels.float);
/// # Ok::<(), calibr8_core::Error>(())
/// ```
pub fn cpu_kernels(model: &OnnxModel, threads: Option<usize>) -> Result<Kernels> {
    let rt = crate::runtime().map_err(|e| Error::backend("ort", e))?;
    let bytes = sys::Session::optimized(rt, &model.to_bytes(), threads)
        .map_err(|e| Error::backend("ort", format!("{}: {e}", model.origin)))?;
    // Its ops live in ONNX Runtime's own domains (com.microsoft, com.microsoft.nchwc), which
    // OnnxModel's validation refuses by design: read the protobuf as is.
    let optimized = pb::ModelProto::decode(bytes.as_slice()).map_err(|e| {
        Error::backend("ort", format!("{}: ONNX Runtime's optimized graph: {e}", model.origin))
    })?;
    let mut kernels = Kernels::default();
    for node in optimized.graph.iter().flat_map(|g| &g.node) {
        let op = node.op_type.clone();
        *kernels.all.entry(op.clone()).or_default() += 1;
        if INT8_KERNELS.contains(&op.as_str()) {
            *kernels.int8.entry(op).or_default() += 1;
        } else if FLOAT_COMPUTE.contains(&op.as_str()) {
            *kernels.float.entry(op).or_default() += 1;
        }
    }
    Ok(kernels)
}
