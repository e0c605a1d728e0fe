//! The kinds of fact an [`OnnxOp`](super::OnnxOp) states, one type per question a lowering asks.

/// The role an input of a node plays for quantization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputRole {
    /// A runtime tensor: quantized per tensor with an observed range.
    Activation,
    /// A constant weight; per-channel quantization uses `channel_axis`.
    Weight {
        /// The output-channel axis of the weight tensor.
        channel_axis: usize,
    },
    /// Never quantized (bias, shapes, indices).
    Keep,
}

/// Where Q/DQ pairs go around an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QdqPlacement {
    /// TensorRT's preset quantizes the op: Q/DQ on its activation inputs and its weights, none
    /// on its output (TensorRT fuses what follows into the layer and picks the output type).
    pub tensorrt_inputs: bool,
    /// What a CPU placement (ONNX Runtime's QDQ node units) does with the op's output.
    pub cpu_output: CpuOutput,
}

impl QdqPlacement {
    /// No Q/DQ: the op runs in float.
    pub const NONE: QdqPlacement =
        QdqPlacement { tensorrt_inputs: false, cpu_output: CpuOutput::Float };
}

/// What a CPU placement does with an op's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuOutput {
    /// Left float: the op has no int8 kernel on CPU.
    Float,
    /// Wrapped in Q/DQ with its own calibrated range: an int8 kernel computes a new range
    /// (QLinearConv, QLinearMatMul, QLinearAveragePool...), so `_output_` must be calibrated.
    OwnRange,
    /// Wrapped in Q/DQ with its input's parameters: the op moves or selects int8 values
    /// without computing new ones (MaxPool, Reshape, Transpose).
    InputRange,
}

/// The ONNX operator with int8 kernels an op lowers to in the QOperator export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QLinearOp {
    /// `QLinearConv`, with the bias as int32 at scale `x.scale · w.scale`.
    Conv,
    /// `QLinearMatMul` (no bias input: a float `Add` follows).
    MatMul,
}

impl QLinearOp {
    /// The ONNX op type.
    pub fn op_type(self) -> &'static str {
        match self {
            QLinearOp::Conv => "QLinearConv",
            QLinearOp::MatMul => "QLinearMatMul",
        }
    }
}

/// The quantized weight of a node about to be lowered.
#[derive(Clone, Copy, Debug)]
pub struct WeightShape<'a> {
    /// The weight's tensor name.
    pub name: &'a str,
    /// Its rank (0 when it is not a constant).
    pub rank: usize,
    /// Its per-channel axis, `None` for per tensor.
    pub axis: Option<usize>,
}

/// How one node lowers to its [`QLinearOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QLinearForm {
    /// The int8 operator.
    pub op: QLinearOp,
    /// The input holding the bias, if the op has one.
    pub bias_input: Option<usize>,
    /// The weight is `[N, K]` and is transposed at export (Gemm `transB = 1`).
    pub transpose_weight: bool,
}

/// What opset 13 changed in an op's signature (the QDQ export raises opset 11/12 models to 13
/// when per-channel Q/DQ needs it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opset13 {
    /// Nothing that matters for this node.
    Same,
    /// The attribute became the input after the data input (`axes`, `split`).
    AttributeToInput(&'static str),
    /// The meaning changed and this node cannot be rewritten; the reason ends with the remedy.
    Incompatible(&'static str),
}

/// How `max|x|` carries between input 0 and output 0 of an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeFlow {
    /// It does not (the op computes new values).
    None,
    /// The output's `max|x|` is at most the input's (MaxPool selects, Relu clips, an average
    /// never exceeds its largest term): the input's range bounds the output.
    Forward,
    /// The same values, moved (Reshape, Transpose): either range serves the other.
    BothWays,
}

/// The part an op plays in a TensorRT int8 network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrtRole {
    /// A layer with weights and int8 kernels (convolution, deconvolution, fully connected,
    /// matrix multiply): Q/DQ goes on its inputs, and it absorbs what follows.
    Weighted,
    /// Fused into the weighted layer that produces its input 0 (BatchNormalization, Relu,
    /// Clip, LeakyRelu), so only the end of the chain needs a range.
    Epilogue,
    /// A residual sum: fused into one weighted producer when its other inputs have ranges.
    Residual,
    /// Pooling, which TensorRT runs in int8 when its input is int8.
    Pooling,
    /// Anything else: a layer of its own, in whatever precision TensorRT picks.
    Other,
}
