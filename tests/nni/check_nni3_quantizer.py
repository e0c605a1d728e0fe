#!/usr/bin/env python3
"""Feeds calibr8's nni3_calibration_config.json to NNI 3.0's own quantizer code, with the real
torch, and checks what NNI does with it.

Needs the real torch (the device machine has it; CI does not, so this is not part of
`cargo test`: tests/nni/check_nni.py covers NNI's TensorRT speed-up code there with stand-ins).
NNI is taken unedited from the nni 3.0 wheel (unzipped, not installed); its pure-Python
dependencies may come from --site (appended after the system's site-packages).

Flow, all on one real PyTorch model (the module tree of tests/nni/make_torch_named.py, weights from
tests/nni/torch_named.onnx):
  1. torch.onnx.export (TorchScript exporter, opset 13) writes the ONNX file a user would give
     calibr8; its node names must be torch's scope names.
  2. calibr8 quantize on that export writes nni3_calibration_config.json and ranges.json; every key
     must be a module of the model (the scope -> module-path mapping, checked on real torch names).
  3. NNI 3.0 `Quantizer(model, config_list)` with the targets the JSON names, then
     `update_calibration_config(json with numbers made tensors)`: NNI asserts bits, dtype and scheme
     per target; `get_calibration_config()` must give back the same scale and zero point, and NNI's
     tracked range (scale * qmax) must equal calibr8's amax in ranges.json.
  4. NNI's fake-quantized forward (inputs and weights of Conv/Linear only: the placement of
     calibr8's TensorRT QDQ export) against ONNX Runtime running calibr8's model.qdq.onnx: the
     same int8 model, so the outputs must agree (SQNR >= 40 dB); both against float are reported.
  5. NNI's forward with every target of the JSON (outputs too) runs and stays close to float.

usage: check_nni3_quantizer.py --calibr8 BIN --nni DIR_WITH_nni [--site DIR] --work DIR [--method M]
Exit 0: all checks passed; 1: a check failed (listed).
"""
import argparse
import copy
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL " + msg)


def ok(msg):
    print("ok   " + msg)


def sqnr(ref, x):
    import numpy as np
    ref, x = np.asarray(ref, np.float64), np.asarray(x, np.float64)
    noise = ((ref - x) ** 2).sum()
    return float("inf") if noise == 0 else 10 * np.log10((ref ** 2).sum() / noise)


def build_model(torch, weights):
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(c, c, 3, padding=1)

        def forward(self, x):
            return self.relu(self.conv2(self.relu(self.conv1(x))) + x)

    class TorchNamed(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(2)
            self.layer1 = nn.Sequential(BasicBlock(8))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            x = self.maxpool(self.relu(self.conv1(x)))
            x = self.avgpool(self.layer1(x))
            return self.fc(torch.flatten(x, 1))

    model = TorchNamed().eval()
    source = {  # module -> (weight, bias) initializer names in tests/nni/torch_named.onnx
        "conv1": ("onnx::Conv_40", "onnx::Conv_41"),
        "layer1.0.conv1": ("onnx::Conv_43", "onnx::Conv_44"),
        "layer1.0.conv2": ("onnx::Conv_46", "onnx::Conv_47"),
        "fc": ("fc.weight", "fc.bias"),
    }
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, (w, b) in source.items():
            modules[name].weight.copy_(torch.from_numpy(weights[w]))
            modules[name].bias.copy_(torch.from_numpy(weights[b]))
    return model


def as_tensor(torch, value, shape):
    t = torch.tensor(value, dtype=torch.float32)
    # Per-channel weight lists take the shape NNI's out_channel scaler keeps: (C, 1, 1, ...).
    return t.reshape([-1] + [1] * (len(shape) - 1)) if t.dim() == 1 else t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibr8", required=True)
    ap.add_argument("--nni", required=True, help="folder holding NNI 3.0's unzipped nni/ package")
    ap.add_argument("--site", help="folder with NNI's pure-Python dependencies")
    ap.add_argument("--work", required=True)
    ap.add_argument("--method", default="minmax", help="calibr8's --method")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)

    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import numpy_helper

    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, python {sys.version.split()[0]}")
    weights = {i.name: numpy_helper.to_array(i)
               for i in onnx.load(os.path.join(HERE, "torch_named.onnx")).graph.initializer}
    calib = np.load(os.path.join(HERE, "torch_named_calib.npy"))
    model = build_model(torch, weights)
    modules = dict(model.named_modules())

    # 1. The export a user makes.
    exported = os.path.join(args.work, "torch_export.onnx")
    export_kwargs = dict(input_names=["actual_input_1"], output_names=["logits"], opset_version=13,
                         dynamic_axes={"actual_input_1": {0: "batch"}})
    try:
        torch.onnx.export(model, torch.from_numpy(calib[:1]), exported, dynamo=False, **export_kwargs)
    except TypeError:  # torch < 2.5 has no `dynamo` argument
        torch.onnx.export(model, torch.from_numpy(calib[:1]), exported, **export_kwargs)
    names = [n.name for n in onnx.load(exported).graph.node]
    print("torch export node names:", names)
    if "/layer1/layer1.0/conv1/Conv" in names:
        ok("torch names nodes with scope names (/layer1/layer1.0/conv1/Conv)")
    else:
        fail(f"torch's export has no scope name /layer1/layer1.0/conv1/Conv: {names}")

    # 2. calibr8 on the export.
    out = os.path.join(args.work, "calibr8")
    calib_path = os.path.join(HERE, "torch_named_calib.npy")
    run = subprocess.run([args.calibr8, "quantize", exported, "--calib", calib_path, "--method", args.method,
                          "--out", out], capture_output=True, text=True)
    print(run.stdout + run.stderr)
    if run.returncode != 0:
        fail(f"calibr8 quantize exited {run.returncode}")
        return
    with open(os.path.join(out, "nni3_calibration_config.json")) as f:
        nni3 = json.load(f)
    with open(os.path.join(out, "ranges.json")) as f:
        ranges = json.load(f)
    unknown = sorted(k for k in nni3 if k not in modules)
    if unknown:
        fail(f"nni3 keys that are no module of the model: {unknown}")
    else:
        ok(f"all {len(nni3)} nni3 keys are module paths of the model: {sorted(nni3)}")
    weighted = sorted(n for n, m in modules.items() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    missing = [n for n in weighted if n not in nni3]
    if missing:
        fail(f"weighted modules without an nni3 entry: {missing}")
    else:
        ok(f"every Conv2d/Linear has an entry: {weighted}")

    # 3. NNI 3.0's Quantizer takes the file.
    if args.site:
        sys.path.append(args.site)
    sys.path.insert(0, args.nni)
    from nni.compression.base.compressor import Quantizer

    def quantizer_for(targets):
        config_list = []
        for module, per_target in targets.items():
            for target, entry in per_target.items():
                config_list.append({
                    "op_names": [module], "target_names": [target],
                    "quant_dtype": entry["quant_dtype"], "quant_scheme": entry["quant_scheme"],
                    "granularity": "out_channel" if isinstance(entry["scale"], list) else "default"})
        wrapped = copy.deepcopy(model)
        q = Quantizer(wrapped, config_list)
        shapes = {n: dict(m.named_parameters()) for n, m in model.named_modules()}
        tensors = {}
        for module, per_target in targets.items():
            tensors[module] = {}
            for target, entry in per_target.items():
                shape = tuple(shapes[module][target].shape) if target in shapes[module] else ()
                converted = dict(entry)
                converted["scale"] = as_tensor(torch, entry["scale"], shape)
                converted["zero_point"] = as_tensor(torch, entry["zero_point"], shape)
                tensors[module][target] = converted
        q.update_calibration_config(tensors)
        return q, wrapped

    try:
        q, _ = quantizer_for(nni3)
        ok(f"Quantizer.update_calibration_config accepted {sum(len(t) for t in nni3.values())} targets "
           "(bits, dtype and scheme asserted by NNI)")
    except Exception as e:  # noqa: BLE001 (any NNI error is the finding)
        fail(f"NNI 3.0 refused the file: {type(e).__name__}: {e}")
        return
    back = q.get_calibration_config()
    activation_amax = [v["amax"][0] for v in ranges.values() if len(v.get("amax", [])) == 1]
    before, checked = len(FAILURES), 0
    for module, per_target in nni3.items():
        for target, entry in per_target.items():
            got = back[module][target]
            s = np.asarray(got["scale"], np.float32).reshape(-1)
            want = np.asarray(entry["scale"], np.float32).reshape(-1)
            if not np.array_equal(s, want):
                fail(f"{module}.{target}: NNI holds scale {s} for {want}")
            zp = np.asarray(got["zero_point"], np.float32).reshape(-1)
            if not np.array_equal(zp, np.asarray(entry["zero_point"], np.float32).reshape(-1)):
                fail(f"{module}.{target}: NNI holds zero point {zp}")
            # The file's tracked_min / tracked_max are the observed range, as NNI's own
            # PtqQuantizer records them; update_calibration_config takes only scale and zero
            # point, and NNI then reports scale * qmax, which must be the range's abs max (the
            # symmetric amax NNI's PtqQuantizer would compute from the same range).
            tracked = np.asarray(got["tracked_max"], np.float64).reshape(-1)
            lo = np.minimum(np.asarray(entry["tracked_min"], np.float64).reshape(-1), 0)
            hi = np.maximum(np.asarray(entry["tracked_max"], np.float64).reshape(-1), 0)
            amax = np.maximum(-lo, hi)
            if entry["quant_scheme"] == "symmetric" and not np.allclose(tracked, amax, rtol=1e-6):
                fail(f"{module}.{target}: NNI's scale * 127 = {tracked} != the file's abs max {amax}")
            if target != "weight" and not any(abs(tracked[0] - a) <= 1e-6 * a for a in activation_amax):
                fail(f"{module}.{target}: NNI's tracked_max {tracked[0]} is no amax of ranges.json")
            checked += 1
    if len(FAILURES) == before:
        ok(f"get_calibration_config gives back {checked} scales and zero points bit for bit; "
           "NNI's scale * 127 is the abs max of the file's tracked range and calibr8's amax "
           "in ranges.json")

    # 4. The same int8 model as calibr8's QDQ export: inputs and weights of the weighted modules.
    placement = {m: {t: e for t, e in nni3[m].items() if t in ("_input_0", "weight")} for m in weighted}
    _, nni_model = quantizer_for(placement)
    x = torch.from_numpy(calib)
    with torch.no_grad():
        ref = model(x).numpy()
        nni_out = nni_model(x).numpy()
    sess = ort.InferenceSession(os.path.join(out, "model.qdq.onnx"), providers=["CPUExecutionProvider"])
    ort_out = sess.run(None, {"actual_input_1": calib})[0]
    s_nni, s_ort, s_both = sqnr(ref, nni_out), sqnr(ref, ort_out), sqnr(ort_out, nni_out)
    print(f"SQNR vs float: NNI fake-quant {s_nni:.1f} dB, ORT on model.qdq.onnx {s_ort:.1f} dB; "
          f"NNI vs ORT {s_both:.1f} dB; top-1 agreement NNI/ORT "
          f"{(nni_out.argmax(1) == ort_out.argmax(1)).mean():.3f}")
    if s_both >= 40:
        ok("NNI's fake-quant model with calibr8's parameters matches ONNX Runtime on model.qdq.onnx")
    else:
        fail(f"NNI's model and calibr8's QDQ export differ: {s_both:.1f} dB < 40 dB")

    # 5. Every target of the file, outputs included.
    _, full = quantizer_for(nni3)
    with torch.no_grad():
        full_out = full(x).numpy()
    s_full = sqnr(ref, full_out)
    print(f"all targets: SQNR vs float {s_full:.1f} dB")
    if s_full >= 20:
        ok("NNI runs the model with every target of the file")
    else:
        fail(f"NNI's model with every target is far from float: {s_full:.1f} dB")


if __name__ == "__main__":
    main()
    print(f"{len(FAILURES)} failure(s)")
    sys.exit(1 if FAILURES else 0)
