#!/usr/bin/env python3
"""ONNX Runtime CPU latency of a float model and its int8 variants, the reference rows for
calibr8's ONNX Runtime backend and CPU preset (issue 13).

usage: ort_cpu_bench.py MODEL.onnx CALIB.npy [--qdq NAME=FILE ...] [--batch 32] [--runs 20]
                        [--threads 1,0] [--out DIR]

Rows, each timed with ONNX Runtime (CPU provider, all graph optimizations) at every --threads
value (0 = ONNX Runtime's default, one per physical core):
- fp32: MODEL as given;
- ort-qdq-u8 / ort-qdq-s8: ONNX Runtime's own `quantize_static` (QDQ format, per-channel int8
  weights, minmax calibration on CALIB) with uint8 / int8 activations — what a user of ONNX
  Runtime's tooling gets;
- every --qdq NAME=FILE: a QDQ model written elsewhere (e.g. calibr8's `model.qdq.onnx`).
Random inputs uniform in [-1, 1), seeded; median of --runs after 3 warm-up runs. Prints a
Markdown table with each row's ratio to fp32 at the same thread count; --out also keeps the
quantize_static models there. Needs numpy, onnx, onnxruntime.
"""
import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_static)


class Reader(CalibrationDataReader):
    def __init__(self, name, data, batch):
        self.batches = iter([{name: data[i:i + batch]} for i in range(0, len(data), batch)])

    def get_next(self):
        return next(self.batches, None)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    wanted = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"]
                    return [f for f in wanted if f in flags]
    except OSError:
        pass
    return []


def time_model(path, feed, threads, runs):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    for _ in range(3):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("calib")
    ap.add_argument("--qdq", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", default="1,0")
    ap.add_argument("--out")
    args = ap.parse_args()

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    calib = np.load(args.calib).astype(np.float32)
    shape = [args.batch] + list(calib.shape[1:])
    feed = {name: np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)}

    out = args.out or tempfile.mkdtemp()
    os.makedirs(out, exist_ok=True)
    rows = [("fp32", args.model)]
    for label, act in [("ort-qdq-u8", QuantType.QUInt8), ("ort-qdq-s8", QuantType.QInt8)]:
        path = os.path.join(out, f"{label}.onnx")
        start = time.perf_counter()
        quantize_static(args.model, path, Reader(name, calib, 32), quant_format=QuantFormat.QDQ,
                        activation_type=act, weight_type=QuantType.QInt8, per_channel=True)
        print(f"quantize_static {label}: {time.perf_counter() - start:.2f} s")
        rows.append((label, path))
    for spec in args.qdq:
        label, path = spec.split("=", 1)
        rows.append((label, path))

    threads = [int(t) for t in args.threads.split(",")]
    print(f"\n{os.path.basename(args.model)}, batch {args.batch}, ONNX Runtime {ort.__version__}, "
          f"{cpu_name()} ({os.cpu_count()} CPUs; {', '.join(cpu_flags()) or 'no AVX2'})\n")
    head = " | ".join(f"{t or 'all'} thr ms | × fp32" for t in threads)
    print(f"| model | {head} |")
    print("|---|" + "---:|---:|" * len(threads))
    base = {}
    for label, path in rows:
        cells = []
        for t in threads:
            ms = time_model(path, feed, t, args.runs)
            base.setdefault(t, ms)
            cells.append(f"{ms:.2f} | {ms / base[t]:.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
