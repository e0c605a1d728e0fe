#!/usr/bin/env python3
"""Synthetic document images for the PaddleOCR models of the rapidocr wheels, preprocessed the
way RapidOCR feeds them (seeded; needs numpy and Pillow, and the DejaVu fonts):

  det_{calib,eval}.npy  [N, 3, H, W] pages (white background, dark text lines of random words,
                        sizes and positions), ImageNet mean/std normalisation, H = W = 320
  rec_{calib,eval}.npy  [N, 3, 48, 320] text lines, (x / 255 - 0.5) / 0.5, right-padded with 0
                        (RapidOCR's padding) after the resized line
  cls_{calib,eval}.npy  [N, 3, 48, 192] the same lines, half of them rotated by 180 degrees
  cls_*_labels.npy      0 upright, 1 rotated

usage: make_ocr_data.py OUT_DIR [--calib N] [--eval N]
The white page is the "dominant constant value" that collapses TensorRT's entropy method.
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
]
WORDS = ("invoice total amount date number customer order quantity price tax 2024 12.50 "
         "calibration int8 tensor model page report summary address phone email account "
         "reference 00731 delivery payment due balance description unit net gross").split()


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def ink(rng):
    return tuple(int(v) for v in rng.integers(0, 90, 3))


def paper(rng):
    return tuple(int(v) for v in rng.integers(235, 256, 3))


def page(rng, size=320):
    img = Image.new("RGB", (size, size), paper(rng))
    draw = ImageDraw.Draw(img)
    y = int(rng.integers(5, 30))
    while y < size - 20:
        font = ImageFont.truetype(FONTS[rng.integers(len(FONTS))], int(rng.integers(12, 26)))
        x = int(rng.integers(5, 60))
        draw.text((x, y), text(rng, int(rng.integers(2, 6))), fill=ink(rng), font=font)
        y += int(font.size * rng.uniform(1.4, 2.6))
    return np.asarray(img, dtype=np.float32) / 255.0


def line(rng):
    font = ImageFont.truetype(FONTS[rng.integers(len(FONTS))], int(rng.integers(22, 34)))
    s = text(rng, int(rng.integers(1, 4)))
    w = int(font.getlength(s)) + 16
    img = Image.new("RGB", (w, 48), paper(rng))
    ImageDraw.Draw(img).text((8, int(rng.integers(2, 10))), s, fill=ink(rng), font=font)
    return img


def resize_pad(img, width):
    h, w = 48, img.width
    new_w = min(width, int(np.ceil(48 * w / img.height)))
    arr = np.asarray(img.resize((new_w, h)), dtype=np.float32) / 255.0
    arr = (arr - 0.5) / 0.5
    out = np.zeros((3, 48, width), dtype=np.float32)
    out[:, :, :new_w] = arr.transpose(2, 0, 1)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    for split, n, seed in [("calib", args.calib, 1), ("eval", args.eval, 2)]:
        rng = np.random.default_rng(seed)
        det = np.stack([((page(rng) - mean) / std).transpose(2, 0, 1) for _ in range(n)])
        np.save(os.path.join(args.out, f"det_{split}.npy"), det.astype(np.float32))
        lines = [line(rng) for _ in range(4 * n)]
        rec = np.stack([resize_pad(l, 320) for l in lines])
        np.save(os.path.join(args.out, f"rec_{split}.npy"), rec)
        labels = rng.integers(0, 2, len(lines))
        cls = np.stack([resize_pad(l.rotate(180) if r else l, 192) for l, r in zip(lines, labels)])
        np.save(os.path.join(args.out, f"cls_{split}.npy"), cls)
        np.save(os.path.join(args.out, f"cls_{split}_labels.npy"), labels.astype(np.int64))


if __name__ == "__main__":
    main()
