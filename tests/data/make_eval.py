#!/usr/bin/env python3
"""Evaluation inputs for the random-weight test models, distinct from their calibration data
(same distribution, other seed), so `calibr8 compare` measures on samples it did not calibrate on.

  mlp_gemm_eval.npy   float32 [256,256], standard normal, seed 22

Run from the repository root: python3 tests/data/make_eval.py (byte-identical on rerun).
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    x = np.random.default_rng(22).standard_normal((256, 256)).astype(np.float32)
    np.save(os.path.join(HERE, "mlp_gemm_eval.npy"), x)


if __name__ == "__main__":
    main()
