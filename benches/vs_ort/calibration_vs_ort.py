#!/usr/bin/env python3
"""calibr8 quantize vs ONNX Runtime quantize_static: wall time and peak RSS, same model, same data,
same method, one process per run (issue 12's benchmark; its output table is in the README).

    python3 benches/vs_ort/calibration_vs_ort.py --calibr8 target/release/calibr8 \
        [--model resnet18_224.onnx] [--samples 128] [--batch 32] [--jobs 1,16] [--out out/vs_ort]

Model: torchvision's ResNet18 (random weights: timing does not depend on them) exported at
224x224, opset 17, dynamic batch, unless --model is given. Data: --samples standard-normal
float32 images, seed 0. ONNX Runtime: quantize_static, QDQ format, per-channel symmetric int8
weights, symmetric int8 activations, calibrate_method MinMax / Entropy (its defaults otherwise).
calibr8: `calibr8 quantize --method minmax|entropy --batch B --jobs J` (TensorRT preset).
Peak RSS is each child process's ru_maxrss (Linux: kB). Prints a Markdown table and writes
results.json.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    flags = open("/proc/cpuinfo").read()
                    extra = [f for f in ("avx512_vnni", "amx_int8", "avx2") if f in flags]
                    return f"{name} ({os.cpu_count()} cores; {', '.join(extra)})"
    except OSError:
        pass
    return platform.processor()


def export_resnet18(path: str) -> None:
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    torch.onnx.export(
        model, x, path, opset_version=17, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, dynamo=False,
    )


def run_child(cmd, env=None):
    """Runs cmd, returns (seconds, peak RSS in MB of that child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    # A fresh interpreter per measurement, so RUSAGE_CHILDREN's max is that child's own peak.
    wrapper = [sys.executable, "-c",
               "import resource,subprocess,sys;"
               "r=subprocess.run(sys.argv[1:]);"
               "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr);"
               "sys.exit(r.returncode)"] + cmd
    p = subprocess.run(wrapper, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    peak = [l for l in p.stderr.splitlines() if l.startswith("PEAK_KB")]
    _ = before
    return seconds, int(peak[-1].split()[1]) / 1024.0


ORT_SCRIPT = r"""
import sys, numpy as np
from onnxruntime.quantization import quantize_static, CalibrationDataReader, QuantFormat, QuantType, CalibrationMethod
model, data, out, method, batch = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
x = np.load(data, mmap_mode="r")
class Reader(CalibrationDataReader):
    def __init__(self):
        self.i = 0
    def get_next(self):
        if self.i >= len(x):
            return None
        b = {"input": np.ascontiguousarray(x[self.i:self.i + batch])}
        self.i += batch
        return b
quantize_static(model, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
    calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy}[method],
    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibr8", required=True)
    ap.add_argument("--model")
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--jobs", default=f"1,{os.cpu_count()}")
    ap.add_argument("--methods", default="minmax,entropy")
    ap.add_argument("--out", default="out/vs_ort")
    ap.add_argument("--backends", default="tract",
                    help="calibr8 backends capturing the activations, e.g. tract,ort")
    ap.add_argument("--extra", default="",
                    help="more calibr8 quantize flags, e.g. '--no-nni-outputs'")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import numpy as np

    model = args.model or os.path.join(args.out, "resnet18_224.onnx")
    if not os.path.exists(model):
        export_resnet18(model)
    data = os.path.join(args.out, f"calib_{args.samples}.npy")
    if not os.path.exists(data):
        rng = np.random.default_rng(0)
        np.save(data, rng.standard_normal((args.samples, 3, 224, 224), dtype=np.float32))
    ort_script = os.path.join(args.out, "ort_quantize.py")
    with open(ort_script, "w") as f:
        f.write(ORT_SCRIPT)
    rows = []
    for method in args.methods.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            secs, mb = run_child([sys.executable, ort_script, model, data,
                                  os.path.join(tmp, "ort.onnx"), method, str(args.batch)])
        rows.append({"tool": "onnxruntime quantize_static", "method": method, "jobs": None,
                     "seconds": secs, "peak_mb": mb})
        for backend in args.backends.split(","):
            for jobs in [int(j) for j in args.jobs.split(",")]:
                with tempfile.TemporaryDirectory() as tmp:
                    secs, mb = run_child([args.calibr8, "quantize", model, "--calib", data,
                                          "--method", method, "--batch", str(args.batch),
                                          "--jobs", str(jobs), "--out", tmp, "--quiet",
                                          "--backend", backend] + args.extra.split())
                tool = f"calibr8 quantize --backend {backend} {args.extra}".strip()
                rows.append({"tool": tool, "method": method, "jobs": jobs,
                             "seconds": secs, "peak_mb": mb})
    import onnxruntime
    meta = {"cpu": cpu_name(), "onnxruntime": onnxruntime.__version__, "samples": args.samples,
            "batch": args.batch, "model": os.path.basename(model)}
    print(f"{meta['cpu']}; ONNX Runtime {meta['onnxruntime']}; {meta['model']}, "
          f"{args.samples} samples, batch {args.batch}\n")
    print("| tool | method | jobs | time (s) | peak RSS (MB) | time vs ORT | RSS vs ORT |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ort = next(o for o in rows if o["method"] == r["method"] and o["jobs"] is None)
        print(f"| {r['tool']} | {r['method']} | {r['jobs'] or '-'} | {r['seconds']:.1f} | "
              f"{r['peak_mb']:.0f} | {r['seconds'] / ort['seconds']:.2f}x | "
              f"{r['peak_mb'] / ort['peak_mb']:.2f}x |")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
