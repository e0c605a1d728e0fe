#!/usr/bin/env python3
"""Gives every node a unique name (duplicates get a _N suffix), which calibr8 requires; the onnx
checker and ONNX Runtime accept the duplicates. Float outputs are checked equal with ORT.
usage: uniquify_names.py IN.onnx OUT.onnx"""
import collections
import sys

import numpy as np
import onnx
import onnxruntime as ort

src, dst = sys.argv[1:3]
m = onnx.load(src)
seen = collections.Counter()
for i, n in enumerate(m.graph.node):
    seen[n.name] += 1
    if seen[n.name] > 1:
        n.name = f"{n.name}_{seen[n.name] - 1}"
onnx.save(m, dst)
feeds = {i.name: np.random.default_rng(0).standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32) * 0.1
         for i in m.graph.input}
a = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, feeds)
b = ort.InferenceSession(dst, providers=["CPUExecutionProvider"]).run(None, feeds)
print("renamed", sum(v - 1 for v in seen.values()), "nodes; max abs diff:", max(float(np.abs(p - q).max()) for p, q in zip(a, b)))
