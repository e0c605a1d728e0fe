#!/usr/bin/env python3
"""Independent check of an exported QDQ model, called by tests/pipeline.rs.

usage: ort_check.py MODEL.onnx INPUT.npy|INPUTS.npz OUTPUT.npy

1. onnx.checker.check_model(full_check=True) — the model is valid ONNX with consistent types.
2. ONNX Runtime (CPU, all graph optimizations, i.e. real int8 kernels where it fuses Q/DQ) runs
   INPUT.npy (the model's first input) or INPUTS.npz (one array per input name) and writes the
   first output to OUTPUT.npy. With ORT_OPT=disable it runs every Q/DQ as written instead: the
   exact int8 arithmetic calibr8 simulates (the fused u8*s8 kernels round and, without VNNI,
   saturate differently).
Exit code 0 on success; any failure prints the reason and exits non-zero.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main() -> int:
    model_path, input_path, output_path = sys.argv[1:4]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[os.environ.get("ORT_OPT", "all")]
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    if input_path.endswith(".npz"):
        feeds = dict(np.load(input_path))
    else:
        feeds = {session.get_inputs()[0].name: np.load(input_path)}
    (y, *_) = session.run(None, feeds)
    np.save(output_path, y.astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
