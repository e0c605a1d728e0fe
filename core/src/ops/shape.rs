//! Data movement and constants (Reshape, Transpose, Squeeze, Pad, Concat, Gather, Constant...):
//! no arithmetic, so a range carries through most of them, and a CPU placement keeps int8
//! through the ones that move values without selecting new ones.

use super::*;

pub(super) fn register(reg: &mut OpRegistry) {
    use CpuOutput::{Float, InputRange};
    use Opset13::{AttributeToInput, Same};
    use RangeFlow::{BothWays, None};
    let op = |flow, cpu_output, opset13, burn| Shape { flow, cpu_output, opset13, burn };
    reg.insert("Reshape", op(BothWays, InputRange, Same, true));
    reg.insert("Flatten", op(BothWays, Float, Same, true));
    reg.insert("Transpose", op(BothWays, InputRange, Same, true));
    reg.insert("Identity", op(BothWays, Float, Same, true));
    reg.insert("Squeeze", op(BothWays, InputRange, AttributeToInput("axes"), true));
    reg.insert("Unsqueeze", op(BothWays, InputRange, AttributeToInput("axes"), true));
    reg.insert("Split", op(None, Float, AttributeToInput("split"), false));
    reg.insert("Gather", op(None, InputRange, Same, true));
    reg.insert("Concat", op(None, Float, Same, true));
    reg.insert("Slice", op(None, Float, Same, true));
    reg.insert("Shape", op(None, Float, Same, true));
    reg.insert("Cast", op(None, Float, Same, true));
    reg.insert("Constant", op(None, Float, Same, true));
    // Inference: the identity (burn does not produce its optional mask output).
    reg.insert("Dropout", op(None, Float, Same, true));
    reg.insert("Pad", Pad);
}

struct Shape {
    flow: RangeFlow,
    cpu_output: CpuOutput,
    opset13: Opset13,
    burn: bool,
}

impl OnnxOp for Shape {
    fn qdq(&self) -> QdqPlacement {
        QdqPlacement { tensorrt_inputs: false, cpu_output: self.cpu_output }
    }

    fn opset13(&self, _node: &pb::NodeProto) -> Opset13 {
        self.opset13
    }

    fn range_flow(&self, _node: &pb::NodeProto) -> RangeFlow {
        self.flow
    }

    fn burn(&self) -> bool {
        self.burn
    }
}

struct Pad;

impl OnnxOp for Pad {
    /// Zero padding adds zeros only; another mode, or an explicit `constant_value` input or
    /// `value` attribute (which may not be 0), adds values.
    fn range_flow(&self, node: &pb::NodeProto) -> RangeFlow {
        let mode = node.attribute.iter().find(|a| a.name == "mode").map(|a| a.s.as_slice());
        // Before opset 11 the pad value was the `value` attribute.
        let value = node.attribute.iter().find(|a| a.name == "value").map_or(0.0, |a| a.f);
        let zeros = mode.is_none_or(|m| m == b"constant")
            && node.input.get(2).is_none_or(|v| v.is_empty())
            && value == 0.0;
        if zeros {
            RangeFlow::BothWays
        } else {
            RangeFlow::None
        }
    }

    fn burn(&self) -> bool {
        true
    }
}
