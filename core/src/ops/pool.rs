//! Pooling (MaxPool, AveragePool, GlobalAveragePool): no weights; TensorRT and ONNX Runtime run
//! them in int8 when their input is int8.

use super::*;

pub(super) fn register(reg: &mut OpRegistry) {
    // MaxPool selects input values: max|y| <= max|x|, and on CPU its output reuses the input's
    // range.
    reg.insert("MaxPool", Pool { cpu_output: CpuOutput::InputRange, flow: RangeFlow::Forward });
    // An average computes new values (QLinearAveragePool / QLinearGlobalAveragePool take an
    // output scale), but never exceeds its largest term (padding adds zeros): max|y| <= max|x|.
    reg.insert("AveragePool", Pool { cpu_output: CpuOutput::OwnRange, flow: RangeFlow::Forward });
    reg.insert(
        "GlobalAveragePool",
        Pool { cpu_output: CpuOutput::OwnRange, flow: RangeFlow::Forward },
    );
}

struct Pool {
    cpu_output: CpuOutput,
    flow: RangeFlow,
}

impl OnnxOp for Pool {
    fn qdq(&self) -> QdqPlacement {
        QdqPlacement { tensorrt_inputs: false, cpu_output: self.cpu_output }
    }

    fn tensorrt(&self) -> TrtRole {
        TrtRole::Pooling
    }

    fn range_flow(&self, _node: &pb::NodeProto) -> RangeFlow {
        self.flow
    }

    fn burn(&self) -> bool {
        true
    }
}
