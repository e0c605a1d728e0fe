#!/usr/bin/env python3
"""Writes typed_io.onnx: one input and one output of every element type calibr8 carries
(float32, float64, int64, int32, int8, uint8, bool), so the engines' typed I/O is tested end to
end. Outputs: `sum` (float32, every input cast to float and added) and one same-typed output per
input (ids + 1, not mask, x * 2, -count, |small|, max(pixels, 7), feat).

usage: python3 make_typed_io.py   (writes typed_io.onnx beside this script; needs `onnx`)
"""
import os

import onnx
from onnx import TensorProto as T, helper as h

N = "N"
kinds = [
    ("ids", T.INT64), ("mask", T.BOOL), ("x", T.DOUBLE), ("count", T.INT32),
    ("small", T.INT8), ("pixels", T.UINT8), ("feat", T.FLOAT),
]
inputs = [h.make_tensor_value_info(name, t, [N, 3]) for name, t in kinds]
nodes, casts = [], []
for name, t in kinds:
    if t == T.FLOAT:
        casts.append(name)
        continue
    nodes.append(h.make_node("Cast", [name], [f"{name}_f"], to=T.FLOAT, name=f"{name}_cast"))
    casts.append(f"{name}_f")
acc = casts[0]
for i, c in enumerate(casts[1:]):
    out = "sum" if i == len(casts) - 2 else f"acc{i}"
    nodes.append(h.make_node("Add", [acc, c], [out], name=f"add{i}"))
    acc = out
inits = [
    h.make_tensor("one_i64", T.INT64, [], [1]),
    h.make_tensor("two_f64", T.DOUBLE, [], [2.0]),
    h.make_tensor("seven_u8", T.UINT8, [], [7]),
]
nodes += [
    h.make_node("Add", ["ids", "one_i64"], ["ids_plus1"], name="ids_plus1"),
    h.make_node("Not", ["mask"], ["not_mask"], name="not_mask"),
    h.make_node("Mul", ["x", "two_f64"], ["x2"], name="x2"),
    h.make_node("Neg", ["count"], ["count_neg"], name="count_neg"),
    h.make_node("Abs", ["small"], ["small_abs"], name="small_abs"),
    h.make_node("Max", ["pixels", "seven_u8"], ["pixels_max"], name="pixels_max"),
    h.make_node("Relu", ["feat"], ["feat_relu"], name="feat_relu"),
]
outputs = [h.make_tensor_value_info("sum", T.FLOAT, [N, 3])] + [
    h.make_tensor_value_info(name, t, [N, 3])
    for name, t in [
        ("ids_plus1", T.INT64), ("not_mask", T.BOOL), ("x2", T.DOUBLE), ("count_neg", T.INT32),
        ("small_abs", T.INT8), ("pixels_max", T.UINT8), ("feat_relu", T.FLOAT),
    ]
]
graph = h.make_graph(nodes, "typed_io", inputs, outputs, inits)
model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)], producer_name="calibr8")
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
onnx.save(model, os.path.join(os.path.dirname(os.path.abspath(__file__)), "typed_io.onnx"))
