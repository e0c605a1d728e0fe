#!/usr/bin/env python3
"""ONNX Runtime CPU latency of a float model and its int8 variants, the reference rows for
calibr8's ONNX Runtime backend and CPU preset (issue 13).

usage: ort_cpu_bench.py MODEL.onnx CALIB.npy [--qdq NAME=FILE ...] [--batch 32] [--runs 20]
                        [--threads 1,0] [--out DIR]

Rows, each timed with ONNX Runtime (CPU provider, all graph optimizations) at every --threads
value (0 = ONNX Runtime's default, one per physical core):
- fp32: MODEL as given;
- ort-qdq-u8 / ort-qdq-s8: ONNX Runtime's own `quantize_static` (QDQ format, per-channel int8
  weights, minmax calibration on CALIB) with uint8 / int8 activations, run on the model after
  ONNX Runtime's `quant_pre_process` (shape inference and graph optimisation, the step its
  documentation asks for; without it torch exports' Constant-node biases stay float and no Conv
  fuses) — what a user of ONNX Runtime's tooling gets;
- every --qdq NAME=FILE: a QDQ model written elsewhere (e.g. calibr8's `model.qdq.onnx`).
Random inputs uniform in [-1, 1), seeded; median of --runs after 3 warm-up runs. Prints a
Markdown table with each row's ratio to fp32 at the same thread count and what ONNX Runtime's
optimizer made of the model: the int8 kernels it fused (QLinearConv, QGemm, QLinearAdd...)
and the float compute ops left; and the SQNR of each row's first output against fp32 on the first
--batch samples of CALIB (int8 kernels without VNNI saturate: it shows); --out also keeps the quantize_static models there. Needs numpy,
onnx, onnxruntime.
"""
import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort
import collections

import onnx
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

def op_kinds():
    """{"int8": {...}, "float": {...}} from backends/ort/ort_cpu_kernels.txt, the list
    calibr8_ort::cpu_kernels reads too."""
    kinds = collections.defaultdict(set)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "backends", "ort",
                        "ort_cpu_kernels.txt")
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                kind, *ops = line.split()
                kinds[kind].update(ops)
    return kinds


OP_KINDS = op_kinds()


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


def first_output(path, feed):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0].astype(np.float64)


def kernels(path, out):
    """Int8 kernels and float compute ops in ONNX Runtime's optimized graph of `path`."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = os.path.join(out, "optimized.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    ops = collections.Counter(n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node)
    int8 = sum(c for op, c in ops.items() if op in OP_KINDS["int8"])
    flt = sum(c for op, c in ops.items() if op in OP_KINDS["float"])
    return f"{int8} int8 / {flt} float"


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
    pre = os.path.join(out, "preprocessed.onnx")
    quant_pre_process(args.model, pre)
    for label, act in [("ort-qdq-u8", QuantType.QUInt8), ("ort-qdq-s8", QuantType.QInt8)]:
        path = os.path.join(out, f"{label}.onnx")
        start = time.perf_counter()
        quantize_static(pre, path, Reader(name, calib, 32), quant_format=QuantFormat.QDQ,
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
    print(f"| model | {head} | ORT kernels | SQNR vs fp32 (dB) |")
    print("|---|" + "---:|---:|" * len(threads) + "---|---:|")
    base = {}
    real = {name: calib[:args.batch]}
    reference = first_output(args.model, real)
    for label, path in rows:
        cells = []
        for t in threads:
            ms = time_model(path, feed, t, args.runs)
            base.setdefault(t, ms)
            cells.append(f"{ms:.2f} | {ms / base[t]:.2f}")
        noise = ((first_output(path, real) - reference) ** 2).sum()
        sqnr = "inf" if noise == 0 else f"{10 * np.log10((reference ** 2).sum() / noise):.1f}"
        print(f"| {label} | " + " | ".join(cells) + f" | {kernels(path, out)} | {sqnr} |")


if __name__ == "__main__":
    main()
