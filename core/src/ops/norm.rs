//! BatchNormalization: TensorRT folds it into the convolution before it.

use super::*;

pub(super) fn register(reg: &mut OpRegistry) {
    reg.insert("BatchNormalization", BatchNorm);
}

struct BatchNorm;

impl OnnxOp for BatchNorm {
    fn tensorrt(&self) -> TrtRole {
        TrtRole::Epilogue
    }

    fn burn(&self) -> bool {
        true
    }
}
