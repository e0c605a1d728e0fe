//! The `_output_` ranges a QOperator lowering needs (QLinearConv / QLinearMatMul take their
//! output's scale) and a QDQ export may lack: which are missing, and filling them in from a
//! calibration.

use crate::internal::*;

/// An int8 node whose output has no range, so it cannot become a QLinear op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingOutput {
    /// The node.
    pub node: String,
    /// Its op type (Conv, Gemm, MatMul).
    pub op_type: String,
    /// Its output tensor.
    pub tensor: String,
}

/// The int8 nodes of `q` that have a QLinear form (Conv, Gemm, MatMul) whose output tensor has no range, graph order.
pub fn missing_output_ranges(q: &QuantizedModel) -> Vec<MissingOutput> {
    let ops = crate::ops::registry();
    q.model
        .graph()
        .node
        .iter()
        .filter(|n| ops.get(&n.op_type).qlinear_op().is_some())
        .filter(|n| q.node_precision.get(&n.name) == Some(&Precision::Int8))
        .filter_map(|n| {
            let tensor = n.output.first().filter(|t| !t.is_empty())?;
            (!q.tensors.contains_key(tensor)).then(|| MissingOutput {
                node: n.name.clone(),
                op_type: n.op_type.clone(),
                tensor: tensor.clone(),
            })
        })
        .collect()
}

/// Copies the range of every `missing` output from `calibrated` (a calibration of the same
/// model with `_output_` targets) into `q`; the ranges `q` already has are kept as they are.
pub fn fill_output_ranges(
    q: &mut QuantizedModel,
    calibrated: &QuantizedModel,
    missing: &[MissingOutput],
) -> Result<()> {
    for m in missing {
        let t = calibrated.tensors.get(&m.tensor).ok_or_else(|| {
            Error::config(
                "target_names",
                format!(
                    "the calibration has no range for '{}', the output of {} ({}); add \
                     `_output_` to the target_names of the rule that quantizes it",
                    m.tensor, m.node, m.op_type
                ),
            )
        })?;
        q.tensors.insert(m.tensor.clone(), t.clone());
    }
    Ok(())
}
