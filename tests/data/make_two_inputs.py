#!/usr/bin/env python3
"""A small two-input model with integer inputs, for calibr8's multi-input data path
(seeded, byte-identical on rerun). Run from the repository root:
    python3 tests/data/make_two_inputs.py

Writes into tests/data/:
  two_inputs.onnx        opset 13, a bag-of-embeddings text classifier:
                           input_ids int64 [N, 6] --Gather(embedding 16x8)--> [N, 6, 8]
                           attention_mask int64 [N, 6] --Cast/Unsqueeze--> masks the embeddings
                           ReduceSum over tokens --MatMul 8x12 + Add--> Relu --Gemm 12x3--> logits
  two_inputs_calib.npz   64 samples: input_ids, attention_mask (numpy.savez, one array per input)
  two_inputs_eval.npz    32 other samples (other seed)
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB, TOKENS, DIM, HIDDEN, CLASSES = 16, 6, 8, 12, 3


def model() -> onnx.ModelProto:
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(rng.normal(0, 1, (VOCAB, DIM)).astype(np.float32), "embedding"),
        numpy_helper.from_array(rng.normal(0, 0.4, (DIM, HIDDEN)).astype(np.float32), "fc1.weight"),
        numpy_helper.from_array(rng.normal(0, 0.1, (HIDDEN,)).astype(np.float32), "fc1.bias"),
        numpy_helper.from_array(rng.normal(0, 0.4, (CLASSES, HIDDEN)).astype(np.float32), "fc2.weight"),
        numpy_helper.from_array(rng.normal(0, 0.1, (CLASSES,)).astype(np.float32), "fc2.bias"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "token_axis"),
    ]
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"], name="embed"),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], name="mask_cast", to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"], name="mask_unsqueeze"),
        helper.make_node("Mul", ["embedded", "mask_3d"], ["masked"], name="mask_mul"),
        helper.make_node("ReduceSum", ["masked", "token_axis"], ["pooled"], name="pool", keepdims=0),
        helper.make_node("MatMul", ["pooled", "fc1.weight"], ["fc1_mm"], name="fc1"),
        helper.make_node("Add", ["fc1_mm", "fc1.bias"], ["fc1_out"], name="fc1_bias"),
        helper.make_node("Relu", ["fc1_out"], ["relu_out"], name="relu"),
        helper.make_node("Gemm", ["relu_out", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "two_inputs",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", TOKENS]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["N", TOKENS]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="calibr8-tests")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def samples(seed: int, n: int) -> dict:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, VOCAB, (n, TOKENS), dtype=np.int64)
    lengths = rng.integers(2, TOKENS + 1, n)
    mask = (np.arange(TOKENS)[None, :] < lengths[:, None]).astype(np.int64)
    return {"input_ids": ids, "attention_mask": mask}


def main() -> None:
    onnx.save(model(), os.path.join(HERE, "two_inputs.onnx"))
    np.savez(os.path.join(HERE, "two_inputs_calib.npz"), **samples(11, 64))
    np.savez(os.path.join(HERE, "two_inputs_eval.npz"), **samples(12, 32))


if __name__ == "__main__":
    main()
