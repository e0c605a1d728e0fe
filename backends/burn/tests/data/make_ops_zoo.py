"""Makes ops_zoo.onnx: one small opset-13 graph that exercises every burn-backend kernel the
bundled models do not (grouped/dilated/strided Conv with asymmetric pads, MaxPool and
AveragePool with pads, reflect Pad, Transpose, Reshape with 0/-1, batched MatMul, broadcasting
Add/Div, strided Slice, Gather, Unsqueeze/Squeeze, Clip, Concat, Flatten, Shape/Gather/Cast on
shapes, Identity, Tanh, Sigmoid, Softmax), plus ONNX Runtime's value of every tensor on a seeded
input as the independent reference.

Run from the repository root: python3 backends/burn/tests/data/make_ops_zoo.py
Writes backends/burn/tests/data/ops_zoo.onnx, ops_zoo_input.npy and ops_zoo_ref/<tensor>.npy.
Needs numpy, onnx, onnxruntime. Seeded: byte-identical on rerun.
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(4)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


inits = [
    init("w1", rng.standard_normal((8, 2, 3, 3)).astype(np.float32) * 0.4),
    init("b1", rng.standard_normal(8).astype(np.float32) * 0.1),
    init("reshape_to", np.array([0, -1, 8], dtype=np.int64)),
    init("wm", rng.standard_normal((8, 5)).astype(np.float32) * 0.5),
    init("bm", rng.standard_normal(5).astype(np.float32)),
    init("two", np.array(2.0, dtype=np.float32)),
    init("pads", np.array([0, 0, 0, 1, 0, 0, 0, 1], dtype=np.int64)),
    init("starts", np.array([1], dtype=np.int64)),
    init("ends", np.array([16], dtype=np.int64)),
    init("axes1", np.array([1], dtype=np.int64)),
    init("steps", np.array([2], dtype=np.int64)),
    init("gather_ix", np.array([0, 2, 4], dtype=np.int64)),
    init("one", np.array(1, dtype=np.int64)),
    init("clip_lo", np.array(-0.5, dtype=np.float32)),
    init("clip_hi", np.array(0.5, dtype=np.float32)),
]
N = helper.make_node
nodes = [
    N("Conv", ["x", "w1", "b1"], ["conv"], name="conv", group=2, dilations=[2, 1],
      strides=[1, 2], pads=[1, 0, 2, 1]),
    N("Sigmoid", ["conv"], ["sig"], name="sig"),
    N("MaxPool", ["sig"], ["maxpool"], name="maxpool", kernel_shape=[3, 2], strides=[2, 1],
      pads=[1, 0, 1, 1]),
    N("AveragePool", ["conv"], ["avgpool"], name="avgpool", kernel_shape=[2, 2], strides=[2, 2],
      pads=[0, 0, 1, 1], count_include_pad=0),
    N("Pad", ["avgpool", "pads"], ["padded"], name="pad", mode="reflect"),
    N("Mul", ["maxpool", "padded"], ["mul"], name="mul"),
    N("Tanh", ["mul"], ["tanh"], name="tanh"),
    N("Transpose", ["tanh"], ["nhwc"], name="transpose", perm=[0, 2, 3, 1]),
    N("Reshape", ["nhwc", "reshape_to"], ["rows"], name="reshape"),
    N("MatMul", ["rows", "wm"], ["mm"], name="matmul"),
    N("Add", ["mm", "bm"], ["mm_bias"], name="add_bias"),
    N("Div", ["mm_bias", "two"], ["half"], name="div"),
    N("Slice", ["half", "starts", "ends", "axes1", "steps"], ["sliced"], name="slice"),
    N("Gather", ["sliced", "gather_ix"], ["gathered"], name="gather", axis=2),
    N("Unsqueeze", ["gathered", "axes1"], ["unsq"], name="unsqueeze"),
    N("Squeeze", ["unsq", "axes1"], ["sq"], name="squeeze"),
    N("Clip", ["sq", "clip_lo", "clip_hi"], ["clipped"], name="clip"),
    N("Concat", ["sq", "clipped"], ["cat"], name="concat", axis=2),
    N("Flatten", ["cat"], ["flat"], name="flatten", axis=1),
    N("Shape", ["x"], ["x_shape"], name="shape"),
    N("Gather", ["x_shape", "one"], ["channels"], name="gather_shape", axis=0),
    N("Cast", ["channels"], ["channels_f"], name="cast", to=TensorProto.FLOAT),
    N("Div", ["flat", "channels_f"], ["scaled"], name="div_channels"),
    N("Identity", ["scaled"], ["ident"], name="identity"),
    N("Softmax", ["ident"], ["probs"], name="softmax", axis=-1),
]
graph = helper.make_graph(
    nodes,
    "ops_zoo",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 9, 9])],
    [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 48])],
    inits,
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 7
onnx.checker.check_model(model, full_check=True)
onnx.save(model, os.path.join(HERE, "ops_zoo.onnx"))

x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
np.save(os.path.join(HERE, "ops_zoo_input.npy"), x)

# ONNX Runtime's value of every float node output: expose them all as graph outputs.
float_outputs = [o for n in nodes for o in n.output if o not in ("x_shape", "channels")]
probe = onnx.load(os.path.join(HERE, "ops_zoo.onnx"))
del probe.graph.output[:]
probe.graph.output.extend(helper.make_empty_tensor_value_info(o) for o in float_outputs)
opts = ort.SessionOptions()
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
session = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
ref_dir = os.path.join(HERE, "ops_zoo_ref")
os.makedirs(ref_dir, exist_ok=True)
for name, value in zip(float_outputs, session.run(float_outputs, {"x": x})):
    np.save(os.path.join(ref_dir, f"{name}.npy"), value.astype(np.float32))
print("wrote ops_zoo.onnx,", len(float_outputs), "reference tensors; probs", value.shape)
