#!/usr/bin/env python3
"""ONNX Runtime evaluation of an exported int8 (QDQ) model against its float original on the
evaluation set of make_data.py. Prints one JSON line.

usage: eval_models.py FP32.onnx INT8.onnx KIND EVAL
KIND: ocr -> ddddocr common.onnx: exact agreement of the CTC-greedy index strings with fp32,
             character agreement (1 - edit distance / max length), SQNR of the logits
      det -> ddddocr common_det.onnx (YOLOX): boxes after ddddocr's own post-processing (grid decode,
             obj*cls > 0.1, NMS 0.45); box F1 at IoU >= 0.5 against the fp32 boxes, mean IoU of
             matched boxes, score-map IoU (anchors with obj*cls > 0.1), SQNR of the raw output
      vad -> silero-vad: every clip streamed chunk by chunk (512 samples + 64 context, state carried;
             the sequence model gets each clip's frames in one call) through each model on its own; agreement of speech decisions (p > 0.5) per chunk,
             mean |p_int8 - p_fp32|, SQNR of the probabilities
CPU, all graph optimizations, 2 threads.
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

from make_data import frames


def session(path):
    o = ort.SessionOptions()
    o.graph_optimization_level = OPT_LEVEL
    o.intra_op_num_threads = 2
    o.log_severity_level = 3
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def sqnr(ref, test):
    ref, test = ref.astype(np.float64).ravel(), test.astype(np.float64).ravel()
    noise = ((ref - test) ** 2).sum()
    return round(float(10 * np.log10((ref ** 2).sum() / max(noise, 1e-30))), 2)


# ---- OCR ----
def run_ocr(path, x):
    s = session(path)
    name = s.get_inputs()[0].name
    return [s.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))]  # fixed batch 1: [T, 1, C]


def ctc(logits):
    out, prev = [], -1
    for c in logits[:, 0].argmax(-1):
        if c != prev and c != 0:
            out.append(int(c))
        prev = c
    return tuple(out)


def edit(a, b):
    d = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        p, d[0] = d[0], i
        for j, cb in enumerate(b, 1):
            p, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, p + (ca != cb))
    return d[-1]


def eval_ocr(a, b):
    sa, sb = [ctc(x) for x in a], [ctc(x) for x in b]
    return {
        "exact_strings": round(float(np.mean([p == q for p, q in zip(sa, sb)])), 4),
        "char_agreement": round(float(np.mean([1 - edit(p, q) / max(1, len(p), len(q)) for p, q in zip(sa, sb)])), 4),
        "mean_len_fp32": round(float(np.mean([len(p) for p in sa])), 2),
        "sqnr_db": sqnr(np.concatenate([x.ravel() for x in a]), np.concatenate([x.ravel() for x in b])),
    }


# ---- detector ----
def run_det(path, x):
    s = session(path)
    name = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])  # [N, 3549, 6]


def decode(out, size=416):
    grids, strides = [], []
    for st in (8, 16, 32):
        h = w = size // st
        xv, yv = np.meshgrid(np.arange(w), np.arange(h))
        grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
        strides.append(np.full((h * w, 1), st))
    g, st = np.concatenate(grids), np.concatenate(strides)
    p = out.astype(np.float64).copy()
    p[:, :2] = (p[:, :2] + g) * st
    p[:, 2:4] = np.exp(p[:, 2:4]) * st
    scores = (p[:, 4:5] * p[:, 5:]).max(1)
    b = np.stack([p[:, 0] - p[:, 2] / 2, p[:, 1] - p[:, 3] / 2, p[:, 0] + p[:, 2] / 2, p[:, 1] + p[:, 3] / 2], 1)
    keep = scores > 0.1
    b, sc = b[keep], scores[keep]
    order, kept = sc.argsort()[::-1], []
    while order.size:
        i = order[0]
        kept.append(i)
        ov = iou(b[i], b[order[1:]])
        order = order[1:][ov <= 0.45]
    return b[kept], scores > 0.1


def iou(a, bs):
    x1, y1 = np.maximum(a[0], bs[:, 0]), np.maximum(a[1], bs[:, 1])
    x2, y2 = np.minimum(a[2], bs[:, 2]), np.minimum(a[3], bs[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[..., 2] - z[..., 0]) * (z[..., 3] - z[..., 1])
    return inter / (area(a) + area(bs) - inter + 1e-9)


def match_boxes(ba, bb):
    """Greedy matching of fp32 boxes `ba` to int8 boxes `bb` at IoU >= 0.5; the matched IoUs."""
    matched, used = [], set()
    for box in ba:
        if len(bb) == 0:
            break
        ov = iou(box, bb)
        for j in used:
            ov[j] = -1
        j = int(ov.argmax())
        if ov[j] >= 0.5:
            used.add(j)
            matched.append(ov[j])
    return matched


def eval_det(a, b):
    tp = n_a = n_b = 0
    ious, inter, union = [], 0, 0
    for oa, ob in zip(a, b):
        ba, ma = decode(oa)
        bb, mb = decode(ob)
        inter += (ma & mb).sum()
        union += (ma | mb).sum()
        n_a, n_b = n_a + len(ba), n_b + len(bb)
        matched = match_boxes(ba, bb)
        tp += len(matched)
        ious.extend(matched)
    return {
        "box_f1": round(2 * tp / max(1, n_a + n_b), 4),
        "matched_iou": round(float(np.mean(ious)) if ious else 0.0, 4),
        "boxes_fp32": n_a, "boxes_int8": n_b,
        "score_map_iou": round(float(inter / max(1, union)), 4),
        "sqnr_db": sqnr(a, b),
    }


# ---- VAD ----
def run_vad(path, audio):
    s = session(path)
    inputs = {i.name: i for i in s.get_inputs()}
    fr = frames(audio)  # [B, T, 576]
    b, steps, _ = fr.shape
    if "h" in inputs:  # sequence model: one call per clip over all its frames
        z = np.zeros((1, 1, 128), np.float32)
        return np.stack([s.run(None, {"input": fr[k], "h": z, "c": z})[0] for k in range(b)])
    fixed = inputs["input"].shape[0] == 1  # openvino export: batch 1
    groups = [slice(k, k + 1) for k in range(b)] if fixed else [slice(0, b)]
    out = []
    for g in groups:
        n = g.stop - g.start
        state = np.zeros((2, n, 128), np.float32)
        probs = []
        for i in range(steps):
            feed = {"input": fr[g, i], "state": state}
            if "sr" in inputs:
                feed["sr"] = np.array(16000, np.int64)
            p, state = s.run(None, feed)
            probs.append(p[:, 0])
        out.append(np.stack(probs, 1))
    return np.concatenate(out)  # [B, steps]


def eval_vad(a, b):
    da, db = a > 0.5, b > 0.5
    return {
        "decision_agreement": round(float((da == db).mean()), 4),
        "mean_abs_prob_diff": round(float(np.abs(a - b).mean()), 4),
        "speech_fraction_fp32": round(float(da.mean()), 4),
        "sqnr_db": sqnr(a, b),
    }


def main():
    fp32, int8, kind, data = sys.argv[1:5]
    if kind == "vad":
        x = np.load(data)["audio"]
        a, b = run_vad(fp32, x), run_vad(int8, x)
        res = eval_vad(a, b)
    elif kind == "ocr":
        x = np.load(data)
        res = eval_ocr(run_ocr(fp32, x), run_ocr(int8, x))
    else:
        x = np.load(data)
        res = eval_det(run_det(fp32, x), run_det(int8, x))
    print(json.dumps({"kind": kind, "samples": int(len(x)), **res}))


if __name__ == "__main__":
    main()
