//! QuantizeLinear and DequantizeLinear, the ops of a QDQ model: the burn backend runs them in
//! float (fake quantization), as tract does.

use super::*;

pub(super) fn register(reg: &mut OpRegistry) {
    reg.insert("QuantizeLinear", QuantOp);
    reg.insert("DequantizeLinear", QuantOp);
}

struct QuantOp;

impl OnnxOp for QuantOp {
    fn burn(&self) -> bool {
        true
    }
}
