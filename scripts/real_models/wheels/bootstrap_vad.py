#!/usr/bin/env python3
"""Clip-level bootstrap of the VAD decision-agreement difference between two int8 exports of one
model (is auto vs the best method beyond noise?). usage: bootstrap_vad.py FP32 INT8_A INT8_B EVAL.npz"""
import sys

import numpy as np

from eval_models import run_vad

fp32, a, b, data = sys.argv[1:5]
x = np.load(data)["audio"]
p, pa, pb = run_vad(fp32, x), run_vad(a, x), run_vad(b, x)
agree_a = ((p > 0.5) == (pa > 0.5)).mean(1)  # per clip
agree_b = ((p > 0.5) == (pb > 0.5)).mean(1)
rng = np.random.default_rng(0)
idx = rng.integers(0, len(x), (10000, len(x)))
diff = agree_a[idx].mean(1) - agree_b[idx].mean(1)
print(f"A {agree_a.mean():.4f}  B {agree_b.mean():.4f}  A-B {agree_a.mean() - agree_b.mean():+.4f}  "
      f"95% CI [{np.percentile(diff, 2.5):+.4f}, {np.percentile(diff, 97.5):+.4f}]")
