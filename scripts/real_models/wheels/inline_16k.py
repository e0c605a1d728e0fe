#!/usr/bin/env python3
"""silero_vad_op18_ifless.onnx with its one If (sr == 16000) replaced by the then-branch: the 16 kHz
model without control flow and without the `sr` input, as calibr8's warning suggests ("export the
model with the branch taken"). The float outputs are checked equal to the original's with ORT.

usage: inline_16k.py IN.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

src, dst = sys.argv[1:3]
m = onnx.load(src)
g = m.graph
(if_node,) = [n for n in g.node if n.op_type == "If"]
then = [a.g for a in if_node.attribute if a.name == "then_branch"][0]
nodes = list(then.node)
for branch_out, out in zip(then.output, if_node.output):
    nodes.append(helper.make_node("Identity", [branch_out.name], [out], name=f"inline_{out}"))
g.initializer.extend(then.initializer)
del g.node[:]
g.node.extend(nodes)
keep = [i for i in g.input if i.name != "sr"]
del g.input[:]
g.input.extend(keep)
m = onnx.shape_inference.infer_shapes(m)
onnx.checker.check_model(m)
onnx.save(m, dst)

rng = np.random.default_rng(0)
x = rng.standard_normal((4, 576)).astype(np.float32) * 0.1
st = rng.standard_normal((2, 4, 128)).astype(np.float32) * 0.1
a = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, {"input": x, "state": st, "sr": np.array(16000, np.int64)})
b = ort.InferenceSession(dst, providers=["CPUExecutionProvider"]).run(None, {"input": x, "state": st})
print("max abs diff vs original:", max(float(np.abs(p - q).max()) for p, q in zip(a, b)))
