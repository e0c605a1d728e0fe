//! Elementwise arithmetic (Add, Sum, Sub, Mul, Div): a residual Add or Sum is fused by TensorRT
//! into one convolution producing it.

use super::*;

pub(super) fn register(reg: &mut OpRegistry) {
    reg.insert("Add", Arithmetic { residual: true, cpu_int8: true, burn: true });
    reg.insert("Sum", Arithmetic { residual: true, cpu_int8: false, burn: false });
    reg.insert("Sub", Arithmetic { residual: false, cpu_int8: false, burn: true });
    reg.insert("Mul", Arithmetic { residual: false, cpu_int8: true, burn: true });
    reg.insert("Div", Arithmetic { residual: false, cpu_int8: false, burn: true });
}

struct Arithmetic {
    /// TensorRT fuses it as a residual sum.
    residual: bool,
    /// ONNX Runtime runs it in int8 (QLinearAdd / QLinearMul) inside Q/DQ.
    cpu_int8: bool,
    burn: bool,
}

impl OnnxOp for Arithmetic {
    fn qdq(&self) -> QdqPlacement {
        let cpu_output = if self.cpu_int8 { CpuOutput::OwnRange } else { CpuOutput::Float };
        QdqPlacement { tensorrt_inputs: false, cpu_output }
    }

    fn tensorrt(&self) -> TrtRole {
        if self.residual {
            TrtRole::Residual
        } else {
            TrtRole::Other
        }
    }

    fn burn(&self) -> bool {
        self.burn
    }
}
