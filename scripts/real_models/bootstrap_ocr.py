#!/usr/bin/env python3
"""Paired bootstrap for the PaddleOCR evaluations of eval_ocr.py: is the difference between two
int8 exports beyond the sampling noise of the evaluation set? Resamples pages (det: text-mask IoU
from per-page intersections and unions), lines (rec: exact strings) or samples (cls: top-1
agreement).
usage: bootstrap_ocr.py FP32 INT8_A INT8_B KIND EVAL.npy   (ORT_OPT as in eval_ocr.py)"""
import sys

import numpy as np

from eval_ocr import ctc, run


def main():
    fp32, int8_a, int8_b, kind, data = sys.argv[1:6]
    x = np.load(data)
    ref, qa, qb = run(fp32, x), run(int8_a, x), run(int8_b, x)
    if kind == "det":
        def parts(q):
            m, mq = ref > 0.3, q > 0.3
            axes = tuple(range(1, m.ndim))
            return np.stack([(m & mq).sum(axes), (m | mq).sum(axes)], 1).astype(np.float64)
        pa, pb = parts(qa), parts(qb)
        score = lambda p: p[:, 0].sum() / max(1.0, p[:, 1].sum())
    else:
        if kind == "rec":
            s = ctc(ref)
            pa = np.array([u == v for u, v in zip(s, ctc(qa))], dtype=np.float64)[:, None]
            pb = np.array([u == v for u, v in zip(s, ctc(qb))], dtype=np.float64)[:, None]
        else:
            top = ref.argmax(-1)
            pa = (qa.argmax(-1) == top).astype(np.float64)[:, None]
            pb = (qb.argmax(-1) == top).astype(np.float64)[:, None]
        score = lambda p: p[:, 0].mean()
    rng = np.random.default_rng(0)
    diffs = [score(pa[i]) - score(pb[i]) for i in (rng.integers(0, len(x), len(x)) for _ in range(10000))]
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    print(f"A {score(pa):.4f}  B {score(pb):.4f}  A-B {score(pa) - score(pb):+.4f}  95% CI [{lo:+.4f}, {hi:+.4f}]")


if __name__ == "__main__":
    main()
