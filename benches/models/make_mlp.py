#!/usr/bin/env python3
"""Gemm-bound MLP for `calibr8 bench`: 1024 → 4096 → 4096 → 1000 (Gemm transB=1 + bias, Relu).

usage (from the repository root): python3 benches/models/make_mlp.py [OUT_DIR]   (default target/bench)

Writes OUT_DIR/mlp_4096.onnx (opset 13, input `input` [N, 1024] → `logits` [N, 1000], ~100 MB,
so never committed) and OUT_DIR/mlp_4096_calib.npy (float32 [256, 1024], standard normal).
Seeded numpy (seed 5): byte-identical on rerun. The model passes onnx.checker full_check and its
output is checked against a numpy forward pass in ONNX Runtime.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZES = [1024, 4096, 4096, 1000]


def main() -> int:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "target/bench"
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(5)
    nodes, inits, weights = [], [], []
    x = "input"
    for i, (k, n) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
        # He init keeps activations O(1) through the Relus; [N, K] layout = PyTorch Linear (transB=1).
        w = (rng.standard_normal((n, k)) * np.sqrt(2.0 / k)).astype(np.float32)
        b = (rng.standard_normal(n) * 0.1).astype(np.float32)
        weights.append((w, b))
        inits += [numpy_helper.from_array(w, f"fc{i}.weight"), numpy_helper.from_array(b, f"fc{i}.bias")]
        last = i == len(SIZES) - 1
        y = "logits" if last else f"fc{i}_out"
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [y], name=f"fc{i}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}_out"], name=f"relu{i}"))
            y = f"relu{i}_out"
        x = y
    graph = helper.make_graph(
        nodes,
        "mlp_4096",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", SIZES[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", SIZES[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="calibr8")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(out_dir, "mlp_4096.onnx")
    onnx.save(model, path)

    calib = rng.standard_normal((256, SIZES[0])).astype(np.float32)
    np.save(os.path.join(out_dir, "mlp_4096_calib.npy"), calib)

    # The file computes what the numpy forward pass computes.
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"input": calib[:8]})
    h = calib[:8]
    for i, (w, b) in enumerate(weights):
        h = h @ w.T + b
        if i < len(weights) - 1:
            h = np.maximum(h, 0)
    assert np.allclose(y, h, rtol=1e-4, atol=1e-3), np.abs(y - h).max()
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.0f} MB) and mlp_4096_calib.npy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
