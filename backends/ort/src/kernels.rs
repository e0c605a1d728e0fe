//! What ONNX Runtime's CPU graph optimizer makes of a model: which ops run as int8 kernels and
//! which compute ops stay float. "Is int8 faster here?" starts with this: ONNX Runtime fuses
//! `DQ → op → Q` into an int8 kernel only when the Q/DQ layout allows it (see
//! [`calibr8_core::Preset::Cpu`]), and otherwise dequantizes op by op.

use crate::sys;
use calibr8_core::{pb, Error, OnnxModel, Result};
use prost::Message as _;
use std::collections::BTreeMap;

/// Which op types are ONNX Runtime's int8 CPU kernels and which compute in float: one list,
/// shared with `scripts/ort_cpu_bench.py`.
const OP_KINDS: &str = include_str!("../ort_cpu_kernels.txt");

/// Whether `op` is listed under `kind` (`int8` or `float`) in [`OP_KINDS`].
fn is_kind(op: &str, kind: &str) -> bool {
    OP_KINDS
        .lines()
        .filter_map(|line| line.strip_prefix(kind)?.strip_prefix(' '))
        .flat_map(str::split_whitespace)
        .any(|listed| listed == op)
}

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
        if is_kind(&op, "int8") {
            *kernels.int8.entry(op).or_default() += 1;
        } else if is_kind(&op, "float") {
            *kernels.float.entry(op).or_default() += 1;
        }
    }
    Ok(kernels)
}

#[cfg(test)]
mod op_kind_tests {
    use super::is_kind;

    #[test]
    fn the_shared_list_sorts_int8_kernels_from_float_compute() {
        for op in ["QLinearConv", "QGemm", "QLinearGlobalAveragePool", "MatMulInteger"] {
            assert!(is_kind(op, "int8") && !is_kind(op, "float"), "{op}");
        }
        for op in ["Conv", "NchwcConv", "FusedGemm", "GlobalAveragePool"] {
            assert!(is_kind(op, "float") && !is_kind(op, "int8"), "{op}");
        }
        // Neither: data movement and ops that run on u8 as they are.
        for op in ["MaxPool", "Relu", "QuantizeLinear", "Flatten", "QLinear"] {
            assert!(!is_kind(op, "int8") && !is_kind(op, "float"), "{op}");
        }
    }
}
