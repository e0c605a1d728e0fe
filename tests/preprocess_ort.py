#!/usr/bin/env python3
"""Checks that pre-processing kept a float model numerically equal, with ONNX Runtime.

usage: preprocess_ort.py ORIGINAL.onnx PREPROCESSED.onnx INPUT.npy|INPUTS.npz [RTOL]

Runs both models (CPU, graph optimizations off, so ONNX Runtime does not fold anything itself)
on the same inputs and compares every output by name: max |a - b| <= RTOL * max(1, max |a|)
(default 1e-4: folding BatchNorm reorders float operations). The pre-processed model must also
pass onnx.checker.check_model(full_check=True). Prints one line per output; exit 0 when all agree.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort


def run(path, feeds):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


def main() -> int:
    original, preprocessed, input_path = sys.argv[1:4]
    rtol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
    onnx.checker.check_model(onnx.load(preprocessed), full_check=True)
    if input_path.endswith(".npz"):
        feeds = dict(np.load(input_path))
    else:
        first = ort.InferenceSession(original, providers=["CPUExecutionProvider"]).get_inputs()[0]
        feeds = {first.name: np.load(input_path)}
    a, b = run(original, feeds), run(preprocessed, feeds)
    if set(a) != set(b):
        print(f"outputs differ: {sorted(a)} vs {sorted(b)}")
        return 1
    ok = True
    for name in a:
        x, y = a[name].astype(np.float64), b[name].astype(np.float64)
        if x.shape != y.shape:
            print(f"{name}: shape {x.shape} vs {y.shape}")
            ok = False
            continue
        err = float(np.max(np.abs(x - y))) if x.size else 0.0
        bound = rtol * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
        print(f"{name}: max abs diff {err:.3g} (bound {bound:.3g})")
        ok &= err <= bound
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
