//! The op kernels: one function per ONNX op type, each mapping the node's input values to its
//! output values with burn tensor ops (float data) or on the host (integer shape values).

mod conv;
mod elementwise;
mod linear;
mod norm;
mod quant;
mod shape;

use super::value::{FloatValue, Value};
use burn::tensor::Device;
use calibr8_core::pb;
use ndarray::ArrayD;

/// What a kernel knows besides its inputs.
pub(crate) struct Cx<'a> {
    /// Where float tensors live.
    pub(crate) device: &'a Device,
    /// The model's default-domain opset (some ops changed signature).
    pub(crate) opset: i64,
    /// The ONNX element type of a constant tensor, by name (zero points decide Q's range).
    pub(crate) elem_type: &'a dyn Fn(&str) -> Option<i32>,
}

/// A node's input values (`None` for an omitted optional input).
pub(crate) struct Inputs<'a> {
    pub(crate) node: &'a pb::NodeProto,
    pub(crate) values: Vec<Option<Value>>,
    pub(crate) device: &'a Device,
}

impl Inputs<'_> {
    /// Input `i`, if given.
    pub(crate) fn opt(&self, i: usize) -> Option<&Value> {
        self.values.get(i).and_then(Option::as_ref)
    }

    /// Input `i`, required.
    pub(crate) fn value(&self, i: usize) -> Result<&Value, String> {
        self.opt(i).ok_or_else(|| format!("input {i} is missing"))
    }

    /// Input `i` as a float tensor (integer values are uploaded).
    pub(crate) fn float(&self, i: usize) -> Result<FloatValue, String> {
        to_float(self.value(i)?, self.device)
    }

    /// Optional input `i` as a float tensor.
    pub(crate) fn opt_float(&self, i: usize) -> Result<Option<FloatValue>, String> {
        self.opt(i).map(|v| to_float(v, self.device)).transpose()
    }

    /// Input `i` as host integers (float values are downloaded and truncated).
    pub(crate) fn int(&self, i: usize) -> Result<ArrayD<i64>, String> {
        to_int(self.value(i)?)
    }

    /// Optional input `i` as host integers.
    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<ArrayD<i64>>, String> {
        self.opt(i).map(to_int).transpose()
    }

    /// Input `i` as a flat list of integers (axes, pads, starts...).
    pub(crate) fn int_list(&self, i: usize) -> Result<Option<Vec<i64>>, String> {
        Ok(self.opt_int(i)?.map(|a| a.iter().copied().collect()))
    }
}

/// A value as a float tensor on `device`.
pub(crate) fn to_float(v: &Value, device: &Device) -> Result<FloatValue, String> {
    match v {
        Value::Float(f) => Ok(f.clone()),
        Value::Int(a) => {
            FloatValue::from_vec(a.iter().map(|&x| x as f32).collect(), a.shape(), device)
        }
    }
}

/// A value as host integers.
pub(crate) fn to_int(v: &Value) -> Result<ArrayD<i64>, String> {
    match v {
        Value::Int(a) => Ok(a.clone()),
        Value::Float(f) => Ok(f.to_array()?.mapv(|x| x as i64)),
    }
}

/// Runs one node. The op types it runs are the ones calibr8-core's op registry marks
/// `burn()` (a test holds the two together).
pub(crate) fn eval(inputs: &Inputs<'_>, cx: &Cx<'_>) -> Result<Vec<Value>, String> {
    let node = inputs.node;
    let one = |v: Value| Ok(vec![v]);
    match node.op_type.as_str() {
        "Add" | "Sub" | "Mul" | "Div" => one(elementwise::binary(inputs)?),
        "Relu" | "Sigmoid" | "Tanh" => one(elementwise::unary(inputs)?),
        "Clip" => one(elementwise::clip(inputs, cx)?),
        "Softmax" => one(elementwise::softmax(inputs, cx)?),
        // Inference: Dropout is the identity (its optional mask output is not produced).
        "Identity" | "Dropout" => one(inputs.value(0)?.clone()),
        "Conv" => one(conv::conv(inputs)?),
        "MaxPool" | "AveragePool" => one(conv::pool(inputs)?),
        "GlobalAveragePool" => one(conv::global_average_pool(inputs)?),
        "BatchNormalization" => one(norm::batch_norm(inputs)?),
        "Gemm" => one(linear::gemm(inputs)?),
        "MatMul" => one(linear::matmul(inputs)?),
        "Constant" => one(super::constant::constant_node(node, cx.device)?),
        "Shape" => one(shape::shape(inputs)?),
        "Reshape" => one(shape::reshape(inputs)?),
        "Flatten" => one(shape::flatten(inputs)?),
        "Transpose" => one(shape::transpose(inputs)?),
        "Concat" => one(shape::concat(inputs)?),
        "Slice" => one(shape::slice(inputs, cx)?),
        "Gather" => one(shape::gather(inputs)?),
        "Unsqueeze" | "Squeeze" => one(shape::squeeze_unsqueeze(inputs, cx)?),
        "Cast" => one(shape::cast(inputs)?),
        "Pad" => one(shape::pad(inputs, cx)?),
        "QuantizeLinear" => one(quant::quantize_linear(inputs, cx)?),
        "DequantizeLinear" => one(quant::dequantize_linear(inputs)?),
        other => Err(format!("op type {other} has no burn kernel")),
    }
}

/// The numpy broadcast of two shapes, or why they do not broadcast.
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i + s.len() < rank {
            1
        } else {
            s[i + s.len() - rank]
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use calibr8_core::ops::{registry, ONNX_OPS};

    /// `eval`'s error for an op it has no arm for.
    fn no_kernel(op_type: &str) -> String {
        format!("op type {op_type} has no burn kernel")
    }

    #[test]
    fn eval_has_a_kernel_for_exactly_the_ops_the_registry_marks_burn() {
        let device = Device::flex();
        let elem_type = |_: &str| -> Option<i32> { None };
        let cx = Cx { device: &device, opset: 13, elem_type: &elem_type };
        for &op_type in ONNX_OPS {
            let node = pb::NodeProto { op_type: op_type.into(), ..Default::default() };
            let inputs = Inputs { node: &node, values: vec![], device: &device };
            // Without inputs a kernel fails (or panics) on its own terms; only a missing arm
            // gives the fallback error.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| eval(&inputs, &cx).err()));
            let has_kernel = !matches!(outcome, Ok(Some(e)) if e == no_kernel(op_type));
            assert_eq!(
                has_kernel,
                registry().get(op_type).burn(),
                "{op_type}: burn's eval and the op registry disagree; mark it in the op's family \
                 file under core/src/ops"
            );
        }
    }
}
