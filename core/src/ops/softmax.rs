//! Softmax, LogSoftmax and Hardmax: opset 13 changed them from "flatten at axis" to "along
//! axis", which agree only for the last axis.

use super::*;
use crate::graph::attr_i;

pub(super) fn register(reg: &mut OpRegistry) {
    reg.insert("Softmax", Softmax { burn: true });
    reg.insert("LogSoftmax", Softmax { burn: false });
    reg.insert("Hardmax", Softmax { burn: false });
}

struct Softmax {
    burn: bool,
}

impl OnnxOp for Softmax {
    fn opset13(&self, node: &pb::NodeProto) -> Opset13 {
        if attr_i(node, "axis") == Some(-1) {
            Opset13::Same
        } else {
            // Pre-processing (and the QDQ exporter) rewrite these nodes exactly
            // (Flatten → op → Reshape, crate::preprocess); one still here could not be rewritten.
            Opset13::Incompatible(
                "its meaning changes at opset 13 unless axis=-1, and calibr8 could not rewrite it \
                 (a negative axis before opset 11); re-export the model at opset 13 \
                 (torch.onnx.export(..., opset_version=13))",
            )
        }
    }

    fn burn(&self) -> bool {
        self.burn
    }
}
