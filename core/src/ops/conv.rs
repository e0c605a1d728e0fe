//! Conv and ConvTranspose: input 0 is the activation, input 1 the weight, input 2 the bias
//! (float under TensorRT's preset, which folds it itself; int32 under the CPU preset).

use super::*;

pub(super) fn register(reg: &mut OpRegistry) {
    // Conv weights are [M, C/group, k...]: output channels on axis 0.
    reg.insert("Conv", Conv { transposed: false });
    // ConvTranspose weights are [C, M/group, k...]: output channels on axis 1. ONNX has no
    // QLinearConvTranspose, so the QOperator export keeps it float; burn has no kernel for it.
    reg.insert("ConvTranspose", Conv { transposed: true });
}

struct Conv {
    transposed: bool,
}

impl Conv {
    fn channel_axis(&self) -> usize {
        usize::from(self.transposed)
    }
}

impl OnnxOp for Conv {
    fn input_roles(
        &self,
        node: &pb::NodeProto,
        constant_rank: &dyn Fn(usize) -> Option<usize>,
    ) -> Vec<InputRole> {
        let channel_axis = self.channel_axis();
        (0..node.input.len())
            .map(|ix| match ix {
                0 => activation_or_keep(constant_rank, 0),
                1 if constant_rank(1).is_some() => InputRole::Weight { channel_axis },
                1 => InputRole::Activation,
                _ => InputRole::Keep,
            })
            .collect()
    }

    fn has_weights(&self) -> bool {
        true
    }

    fn qdq(&self) -> QdqPlacement {
        let cpu_output = if !self.transposed { CpuOutput::OwnRange } else { CpuOutput::Float };
        QdqPlacement { tensorrt_inputs: true, cpu_output }
    }

    fn bias_input(&self, node: &pb::NodeProto) -> Option<usize> {
        node.input.get(2).filter(|b| !b.is_empty()).map(|_| 2)
    }

    fn qlinear_op(&self) -> Option<QLinearOp> {
        (!self.transposed).then_some(QLinearOp::Conv)
    }

    fn qlinear_form(
        &self,
        node: &pb::NodeProto,
        w: &WeightShape<'_>,
    ) -> Result<QLinearForm, String> {
        if self.transposed {
            return Err(format!("ONNX has no QLinear operator for {}", node.op_type));
        }
        if w.rank < 3 || w.axis.is_some_and(|a| a != self.channel_axis()) {
            return Err(format!(
                "weight '{}' is not [C_out, C_in, k...] per output channel",
                w.name
            ));
        }
        Ok(QLinearForm { op: QLinearOp::Conv, bias_input: Some(2), transpose_weight: false })
    }

    fn tensorrt(&self) -> TrtRole {
        TrtRole::Weighted
    }

    fn burn(&self) -> bool {
        !self.transposed
    }
}
