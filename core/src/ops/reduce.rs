//! Reductions: ReduceSum took `axes` as an input from opset 13 on (the other reductions only
//! at opset 18).

use super::*;

pub(super) fn register(reg: &mut OpRegistry) {
    reg.insert("ReduceSum", ReduceSum);
}

struct ReduceSum;

impl OnnxOp for ReduceSum {
    fn opset13(&self, _node: &pb::NodeProto) -> Opset13 {
        Opset13::AttributeToInput("axes")
    }
}
