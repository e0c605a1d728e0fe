#!/usr/bin/env python3
"""Paired bootstrap of the ddddocr detector's box F1 against fp32 for two int8 exports (is the
difference beyond the sampling noise of the evaluation pictures?). Resamples pictures.
usage: bootstrap_det.py FP32 INT8_A INT8_B det_eval.npy   (ORT_OPT as in eval_models.py)"""
import sys

import numpy as np

from eval_models import decode, match_boxes, run_det


def per_picture(a, b):
    """Per picture: matched boxes, fp32 boxes, int8 boxes (eval_models.eval_det's matching)."""
    rows = []
    for oa, ob in zip(a, b):
        ba, _ = decode(oa)
        bb, _ = decode(ob)
        rows.append((len(match_boxes(ba, bb)), len(ba), len(bb)))
    return np.array(rows, dtype=np.float64)


def f1(rows):
    return 2 * rows[:, 0].sum() / max(1.0, rows[:, 1].sum() + rows[:, 2].sum())


def main():
    fp32, int8_a, int8_b, data = sys.argv[1:5]
    x = np.load(data)
    ref = run_det(fp32, x)
    ra, rb = per_picture(ref, run_det(int8_a, x)), per_picture(ref, run_det(int8_b, x))
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(10000):
        i = rng.integers(0, len(x), len(x))
        diffs.append(f1(ra[i]) - f1(rb[i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    print(f"A {f1(ra):.4f}  B {f1(rb):.4f}  A-B {f1(ra) - f1(rb):+.4f}  95% CI [{lo:+.4f}, {hi:+.4f}]")


if __name__ == "__main__":
    main()
