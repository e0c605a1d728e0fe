#!/usr/bin/env python3
"""Ablation for the detector's entropy collapse: the same click captchas as det_calib.npy but all
square (344x344), so the 416x416 letterbox holds no 114 padding. usage: det_nopad_check.py OUT.npy"""
import sys

import numpy as np

import make_data



class SquareOnly:
    """The seeded generator, but the picture-size choice (integers(6)) is always the square one."""
    def __init__(self, rng):
        self.rng = rng

    def integers(self, n, *a, **k):
        return 0 if (n == 6 and not a and not k) else self.rng.integers(n, *a, **k)

    def __getattr__(self, name):
        return getattr(self.rng, name)


rng = SquareOnly(np.random.default_rng(1))
np.save(sys.argv[1], np.stack([make_data.click_captcha(rng) for _ in range(32)]))
