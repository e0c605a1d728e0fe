//! Pointwise activations (Relu, Clip, LeakyRelu, Sigmoid, Tanh): no weights; TensorRT fuses the
//! first three into the convolution or matrix multiply before them.

use super::*;

pub(super) fn register(reg: &mut OpRegistry) {
    // Relu clips: max|relu(x)| <= max|x|.
    reg.insert("Relu", Activation { fuses: true, flow: RangeFlow::Forward, burn: true });
    // Clip(x, lo, hi) can exceed max|x| when lo > 0: no range flow.
    reg.insert("Clip", Activation { fuses: true, flow: RangeFlow::None, burn: true });
    reg.insert("LeakyRelu", Activation { fuses: true, flow: RangeFlow::None, burn: false });
    reg.insert("Sigmoid", Activation { fuses: false, flow: RangeFlow::None, burn: true });
    reg.insert("Tanh", Activation { fuses: false, flow: RangeFlow::None, burn: true });
}

struct Activation {
    /// TensorRT fuses it into the weighted layer producing its input.
    fuses: bool,
    flow: RangeFlow,
    burn: bool,
}

impl OnnxOp for Activation {
    fn tensorrt(&self) -> TrtRole {
        if self.fuses {
            TrtRole::Epilogue
        } else {
            TrtRole::Other
        }
    }

    fn range_flow(&self, _node: &pb::NodeProto) -> RangeFlow {
        self.flow
    }

    fn burn(&self) -> bool {
        self.burn
    }
}
