#!/usr/bin/env python3
"""Synthetic but realistic calibration / evaluation inputs for the ddddocr and silero-vad models
(seeded; numpy + Pillow + DejaVu fonts; onnxruntime for the VAD recurrent states).

  ocr_{calib,eval}.npy   [N, 1, 64, 192] captchas as ddddocr feeds common.onnx: 150x50 RGB captcha
                         (light, often white background, 4-6 rotated coloured alphanumerics, noise
                         lines and dots) resized to height 64, grayscale, / 255. Batch is fixed at 1.
  det_{calib,eval}.npy   [N, 3, 416, 416] click-captcha pictures as ddddocr feeds common_det.onnx
                         (YOLOX): BGR 0..255 float, letterboxed into 416x416 with the value 114
                         (the dominant constant: non-square pictures leave up to half of it padding).
  vad_calib_NAME/*.npz   silero-vad streaming steps for model NAME: input [B, 576] (64 context + 512
                         new samples at 16 kHz), state [2, B, 128] (the fp32 model's own state at
                         that step), sr () = 16000 where the model has it; B = 16 clips streamed
                         together (B = 1, 8 clips, for the fixed-batch openvino model); for the
                         sequence model one file per clip: input [24, 576], h, c [1, 1, 128] zeros.
  vad_eval.npz           audio [B, T*512] clips for streaming evaluation (eval_vad.py), with labels
                         kind (0 silence, 1 noise, 2 speech-like, 3 speech-like in noise).

usage: make_data.py OUT_DIR VAD_MODEL.onnx...   (one vad_calib_NAME folder per model)
"""
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
]
CHARS = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def font(rng, lo, hi):
    return ImageFont.truetype(FONTS[rng.integers(len(FONTS))], int(rng.integers(lo, hi)))


# --- ddddocr OCR: text captchas ------------------------------------------------------------
def captcha(rng, w=150, h=50):
    if rng.random() < 0.5:
        bg = (255, 255, 255)  # plain white: the dominant constant
    else:
        bg = tuple(int(v) for v in rng.integers(200, 256, 3))
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(0, 60))):  # speckle
        x, y = int(rng.integers(w)), int(rng.integers(h))
        draw.point((x, y), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    n = int(rng.integers(4, 7))
    x = int(rng.integers(2, 12))
    step = (w - x - 8) / n
    for _ in range(n):
        f = font(rng, 24, 36)
        ch = CHARS[rng.integers(len(CHARS))]
        glyph = Image.new("RGBA", (44, 48), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((6, 2), ch, font=f,
                                   fill=tuple(int(v) for v in rng.integers(0, 150, 3)) + (255,))
        glyph = glyph.rotate(float(rng.uniform(-30, 30)), resample=Image.BICUBIC)
        img.paste(glyph, (int(x), int(rng.integers(-6, 8))), glyph)
        x += step * rng.uniform(0.85, 1.1)
    for _ in range(int(rng.integers(1, 4))):  # interference lines / arcs
        pts = [(int(rng.integers(w)), int(rng.integers(h))) for _ in range(2)]
        draw.line(pts, fill=tuple(int(v) for v in rng.integers(0, 200, 3)), width=int(rng.integers(1, 3)))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(0.6))
    # ddddocr: resize to height 64 keeping the aspect ratio, grayscale, / 255
    tw = int(img.size[0] * (64 / img.size[1]))
    g = img.resize((tw, 64)).convert("L")
    return (np.asarray(g, dtype=np.float32) / 255.0)[None]


# --- ddddocr detector: click captchas --------------------------------------------------------
def background(rng, w, h):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(40, 230, 3), rng.uniform(40, 230, 3)
    t = (xx / w * rng.uniform(-1, 1) + yy / h * rng.uniform(-1, 1))
    t = (t - t.min()) / (t.max() - t.min() + 1e-6)
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(5, 25))):  # scenery-ish blobs
        x0, y0 = int(rng.integers(-40, w)), int(rng.integers(-40, h))
        s = int(rng.integers(10, 120))
        d.ellipse((x0, y0, x0 + s, y0 + int(s * rng.uniform(0.3, 1.5))),
                  fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    pil = pil.filter(ImageFilter.GaussianBlur(float(rng.uniform(1, 4))))
    arr = np.asarray(pil, dtype=np.float32) + rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def click_captcha(rng):
    w, h = [(344, 344), (344, 212), (300, 150), (320, 160), (400, 200), (260, 160)][rng.integers(6)]
    img = background(rng, w, h)
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 6))):
        f = font(rng, 26, 44)
        ch = CHARS[rng.integers(len(CHARS))]
        x, y = int(rng.integers(5, w - 45)), int(rng.integers(5, h - 50))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        d.text((x, y), ch, font=f, fill=fill, stroke_width=int(rng.integers(0, 3)),
               stroke_fill=tuple(255 - v for v in fill))
    bgr = np.asarray(img)[..., ::-1]
    # ddddocr preproc: letterbox into 416x416 filled with 114, top-left aligned
    r = min(416 / h, 416 / w)
    nw, nh = int(w * r), int(h * r)
    resized = np.asarray(Image.fromarray(np.ascontiguousarray(bgr)).resize((nw, nh), Image.BILINEAR))
    out = np.full((416, 416, 3), 114, np.uint8)
    out[:nh, :nw] = resized
    return out.transpose(2, 0, 1).astype(np.float32)


# --- silero-vad: audio ---------------------------------------------------------------------
SR = 16000


def speech_like(rng, n):
    """Voiced source (f0 90-260 Hz, jitter, glide) through 3 formant resonators, syllabic envelope
    at 3-6 Hz with pauses, fricative bursts."""
    t = np.arange(n) / SR
    f0 = rng.uniform(90, 260) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t)) \
        * (1 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1)))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    src = sum((1.0 / k) * np.sin(k * phase) for k in range(1, 30))
    out = np.zeros(n)
    for fc, bw in [(rng.uniform(300, 900), 90), (rng.uniform(900, 2400), 120), (rng.uniform(2300, 3300), 180)]:
        r = math.exp(-math.pi * bw / SR)
        a1, a2 = -2 * r * math.cos(2 * math.pi * fc / SR), r * r
        y = np.zeros(n)
        y1 = y2 = 0.0
        for i in range(n):  # simple 2-pole resonator
            y0 = src[i] - a1 * y1 - a2 * y2
            y[i] = y0
            y2, y1 = y1, y0
        out += y / (np.abs(y).max() + 1e-9)
    rate = rng.uniform(3, 6)
    env = np.clip(np.sin(2 * np.pi * rate * t + rng.uniform(0, 6)), 0, None) ** 0.7
    fric = rng.standard_normal(n) * (np.sin(2 * np.pi * rate * t + 2.5) > 0.9) * 0.3
    out = out * env + fric
    return out / (np.abs(out).max() + 1e-9) * rng.uniform(0.1, 0.8)


def noise(rng, n):
    w = rng.standard_normal(n)
    kind = rng.integers(3)
    if kind == 1:  # pink-ish
        w = np.cumsum(w)
        w -= np.convolve(w, np.ones(200) / 200, mode="same")
    elif kind == 2:  # hum + hiss
        w = 0.3 * w + np.sin(2 * np.pi * rng.choice([50, 60]) * np.arange(n) / SR) * 3
    return w / (np.abs(w).max() + 1e-9) * rng.uniform(0.005, 0.2)


def clip(rng, kind, n):
    if kind == 0:  # digital silence or -70 dB dither
        return np.zeros(n) if rng.random() < 0.5 else rng.standard_normal(n) * 3e-4
    if kind == 1:
        return noise(rng, n)
    s = speech_like(rng, n)
    # silence before / after the utterance
    a, b = int(rng.integers(0, n // 4)), int(rng.integers(0, n // 4))
    s[:a] = 0
    s[n - b:] = 0
    if kind == 3:
        s = s + noise(rng, n) * 0.5
    return s


def vad_clips(rng, count, steps):
    kinds = np.arange(count) % 4
    audio = np.stack([clip(rng, k, steps * 512) for k in kinds]).astype(np.float32)
    return audio, kinds


def frames(audio):
    """[B, T*512] -> [B, T, 576]: each 512-sample frame prefixed with the previous 64 samples."""
    b, n = audio.shape
    x = audio.reshape(b, n // 512, 512)
    ctx = np.concatenate([np.zeros((b, 1, 64), np.float32), x[:, :-1, -64:]], 1)
    return np.concatenate([ctx, x], 2)


def vad_calib(model, audio, out_dir, per_clip=False):
    """Streams the clips through the fp32 model (its own recurrent state) and stores each step's
    inputs: all clips of a step in one .npz, or (per_clip, for batch-1 models) one .npz per clip
    and step. Models with an `sr` input get sr = 16000; sequence models (h, c inputs) get one
    .npz per clip holding the whole frame sequence and zero h, c."""
    import onnxruntime as ort
    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = {i.name for i in s.get_inputs()}
    os.makedirs(out_dir, exist_ok=True)
    fr = frames(audio)
    b, steps, _ = fr.shape
    if "h" in names:
        for k in range(b):
            np.savez(os.path.join(out_dir, f"{k:03d}.npz"), input=fr[k],
                     h=np.zeros((1, 1, 128), np.float32), c=np.zeros((1, 1, 128), np.float32))
        return
    groups = [slice(k, k + 1) for k in range(b)] if per_clip else [slice(0, b)]
    for g in groups:
        state = np.zeros((2, g.stop - g.start, 128), np.float32)
        for i in range(steps):
            feed = {"input": fr[g, i], "state": state}
            if "sr" in names:
                feed["sr"] = np.array(SR, np.int64)
            tag = f"{i:03d}_{g.start:02d}" if per_clip else f"{i:03d}"
            np.savez(os.path.join(out_dir, f"{tag}.npz"), **feed)
            _, state = s.run(None, feed)


def main():
    out, vad_models = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    for split, seed, n_ocr, n_det in [("calib", 1, 64, 32), ("eval", 2, 128, 64)]:
        rng = np.random.default_rng(seed)
        np.save(f"{out}/ocr_{split}.npy", np.stack([captcha(rng) for _ in range(n_ocr)]))
        np.save(f"{out}/det_{split}.npy", np.stack([click_captcha(rng) for _ in range(n_det)]))
    rng = np.random.default_rng(3)
    audio, _ = vad_clips(rng, 16, 24)  # 16 clips x 24 steps (0.77 s)
    for model in vad_models:
        name = os.path.basename(model)[:-5]
        per_clip = name == "silero_vad_openvino_16k"  # fixed batch 1
        vad_calib(model, audio[:8] if per_clip else audio, f"{out}/vad_calib_{name}", per_clip)
    rng = np.random.default_rng(4)
    audio, kinds = vad_clips(rng, 64, 62)  # 64 clips x ~2 s
    np.savez(f"{out}/vad_eval.npz", audio=audio, kind=kinds)


if __name__ == "__main__":
    main()
