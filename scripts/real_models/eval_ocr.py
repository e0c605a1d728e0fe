#!/usr/bin/env python3
"""ONNX Runtime evaluation of an exported int8 (QDQ) model against its float original, for the
PaddleOCR detector / recogniser / classifier (and any classifier):

usage: eval_ocr.py FP32.onnx INT8.onnx KIND EVAL.npy [LABELS.npy]
KIND: det  -> IoU of the text masks (probability map > 0.3), cosine of the maps
      rec  -> exact agreement of the CTC greedy strings, cosine of the probabilities
      cls  -> top-1 agreement (and accuracy with LABELS), cosine of the outputs
Prints one JSON line. CPU; graph optimizations per ORT_OPT (see OPT_LEVEL).
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort

# ORT_OPT=disable runs every Q/DQ as written: the exact int8 semantics (what TensorRT computes and
# calibr8 simulates). The default, all, lets ONNX Runtime fuse Q/DQ into its int8 kernels, whose
# u8*s8 products saturate on CPUs without VNNI (AVX2): there the score measures that kernel.
OPT_LEVEL = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}[os.environ.get("ORT_OPT", "all")]


def run(path, x, batch=8):
    options = ort.SessionOptions()
    options.graph_optimization_level = OPT_LEVEL
    options.intra_op_num_threads = 2
    s = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {name: x[i:i + batch]})[0] for i in range(0, len(x), batch)])


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def ctc(probs):
    out = []
    for seq in probs.argmax(-1):
        chars, prev = [], -1
        for c in seq:
            if c != prev and c != 0:
                chars.append(int(c))
            prev = c
        out.append(tuple(chars))
    return out


def main():
    fp32_path, int8_path, kind, x_path = sys.argv[1:5]
    x = np.load(x_path)
    a, b = run(fp32_path, x), run(int8_path, x)
    result = {"kind": kind, "samples": len(x), "cosine": round(cosine(a, b), 5)}
    if kind == "det":
        ma, mb = a > 0.3, b > 0.3
        result["mask_iou"] = round(float((ma & mb).sum() / max(1, (ma | mb).sum())), 4)
        result["text_fraction_fp32"] = round(float(ma.mean()), 4)
    elif kind == "rec":
        sa, sb = ctc(a), ctc(b)
        result["exact_strings"] = round(float(np.mean([p == q for p, q in zip(sa, sb)])), 4)
        result["mean_len_fp32"] = round(float(np.mean([len(p) for p in sa])), 2)
    else:
        result["top1_agreement"] = round(float((a.argmax(-1) == b.argmax(-1)).mean()), 4)
        if len(sys.argv) > 5:
            labels = np.load(sys.argv[5])
            result["top1_fp32"] = round(float((a.argmax(-1) == labels).mean()), 4)
            result["top1_int8"] = round(float((b.argmax(-1) == labels).mean()), 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
