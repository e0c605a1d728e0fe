#!/usr/bin/env python3
"""Generate tests/nni/torch_named.onnx (and torch_named_v112.onnx, the same graph with torch <= 1.12
numbered node names): a small ResNet-style CNN named the way torch >= 1.13's
torch.onnx.export names it (scope node names, `onnx::Conv_N` folded-BN weights, `/x/Op_output_0`
tensors, input `actual_input_1`), plus the PyTorch module tree it was "exported" from
(torch_named_modules.json, the ground truth NNI's stand-in torch model is built from) and
calibration data. Seeded numpy; byte-identical on rerun. Needs numpy and onnx.

    python3 tests/nni/make_torch_named.py

The PyTorch model it stands for:
    conv1 = Conv2d(3, 8, 3, padding=1) (+ BatchNorm folded by the export); relu = ReLU()
    maxpool = MaxPool2d(2); layer1 = Sequential(BasicBlock(8)); avgpool = AdaptiveAvgPool2d(1)
    fc = Linear(8, 10)
    BasicBlock: conv1, relu, conv2; forward: relu(conv2(relu(conv1(x))) + x), `relu` called twice.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(15)

inits = []


def weight(name, shape, fan_in):
    w = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    inits.append(numpy_helper.from_array(w, name))
    return name


def bias(name, n):
    inits.append(numpy_helper.from_array((rng.standard_normal(n) * 0.1).astype(np.float32), name))
    return name


nodes = []
# node name -> (module path, torch module type); the functional ops have no module.
modules = {}


def node(op, scope, inputs, module=None, **attrs):
    """A node named like torch >= 1.13: '/' + scope components + '/' + op type."""
    name = "/" + "/".join(scope + [op]) if scope else "/" + op
    out = name + "_output_0"
    nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
    if module:
        modules[name] = module
    return out


x = "actual_input_1"
h = node("Conv", ["conv1"], [x, weight("onnx::Conv_40", [8, 3, 3, 3], 27), bias("onnx::Conv_41", 8)],
         ("conv1", "Conv2d"), pads=[1, 1, 1, 1], kernel_shape=[3, 3])
h = node("Relu", ["relu"], [h], ("relu", "ReLU"))
stem = node("MaxPool", ["maxpool"], [h], ("maxpool", "MaxPool2d"), kernel_shape=[2, 2], strides=[2, 2])
b = ["layer1", "layer1.0"]
h = node("Conv", b + ["conv1"], [stem, weight("onnx::Conv_43", [8, 8, 3, 3], 72), bias("onnx::Conv_44", 8)],
         ("layer1.0.conv1", "Conv2d"), pads=[1, 1, 1, 1], kernel_shape=[3, 3])
h = node("Relu", b + ["relu"], [h], ("layer1.0.relu", "ReLU"))
h = node("Conv", b + ["conv2"], [h, weight("onnx::Conv_46", [8, 8, 3, 3], 72), bias("onnx::Conv_47", 8)],
         ("layer1.0.conv2", "Conv2d"), pads=[1, 1, 1, 1], kernel_shape=[3, 3])
h = node("Add", b, [h, stem])
# The block's `relu` called a second time: torch names the second call's scope `relu_1`.
h = node("Relu", b + ["relu_1"], [h], ("layer1.0.relu", "ReLU"))
h = node("GlobalAveragePool", ["avgpool"], [h], ("avgpool", "AdaptiveAvgPool2d"))
h = node("Flatten", [], [h], axis=1)
fc_out = node("Gemm", ["fc"], [h, weight("fc.weight", [10, 8], 8), bias("fc.bias", 10)],
              ("fc", "Linear"), alpha=1.0, beta=1.0, transB=1)
# torch names the graph output after output_names; this user chose `logits`.
nodes[-1].output[0] = "logits"

graph = helper.make_graph(
    nodes, "torch_named",
    [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", 3, 16, 16])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="pytorch", producer_version="2.1.0")
model.ir_version = 7
onnx.checker.check_model(model, full_check=True)
onnx.save(model, os.path.join(HERE, "torch_named.onnx"))

# The same model as torch <= 1.12 names it: `<Op>_<n>` nodes, no module path in the names (only
# the unfolded Linear keeps its parameter name `fc.weight`).
old = onnx.ModelProto()
old.CopyFrom(model)
for i, n in enumerate(old.graph.node):
    n.name = f"{n.op_type}_{i}"
onnx.checker.check_model(old, full_check=True)
onnx.save(old, os.path.join(HERE, "torch_named_v112.onnx"))

with open(os.path.join(HERE, "torch_named_modules.json"), "w") as f:
    json.dump({"nodes": modules, "input": x, "output": "logits"}, f, indent=1, sort_keys=True)
    f.write("\n")

calib = rng.standard_normal((32, 3, 16, 16)).astype(np.float32)
np.save(os.path.join(HERE, "torch_named_calib.npy"), calib)
