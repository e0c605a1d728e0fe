#!/usr/bin/env python3
"""Feeds calibr8's NNI outputs to NNI's real TensorRT speed-up code and checks every range NNI
hands TensorRT against calibr8's ranges.json.

NNI's code is taken unedited from the nni 2.10.1 and 3.0 wheels (unzipped here, not installed).
`tensorrt`, `torch` and `pycuda` are stand-ins (tests/nni/standins): TensorRT records every
dynamic range / precision / output type; torch's `onnx.export` writes what torch <= 1.12 writes
for the model NNI has wrapped (a Constant + Mul marker before each wrapped module's node, nodes
named `<Op>_<n>`), from the committed torch-named model and its module tree. Tensor names of that
export are kept as in the committed model, so ranges map back to ranges.json by name.

Flows checked:
  A  2.10.1 ModelSpeedupTensorRT(model, shape, config=v2).compress()           (TensorRT 8.4)
  B  2.10.1 the same with calib_data_loader: entries without weight_bits raise KeyError, the
     weighted entries alone build                                               (TensorRT 8.4)
  C  3.0    ModelSpeedupTensorRT(model, shape, config=v2).compress()            (TensorRT 8.6)
  D  3.0    compress_with_calibrator(Calibrator(data, "calibration.cache"))     (TensorRT 8.6)
            with calibr8's cache written by --trt-cache-names nni --trt-version 8.6.1
  E  both   NNI's torch_to_onnx maps no key when torch >= 1.13 names the nodes (scope names)

usage: check_nni.py --wheels DIR --out CALIBR8_OUT_DIR [--model M --modules J]
Exit 0: all checks passed; 1: a check failed (listed); 2: the wheels are missing.
"""
import argparse
import copy
import glob
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import types
import zipfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "standins"))
import tensorrt  # noqa: E402  (the stand-in)
import torch  # noqa: E402  (the stand-in)

WHEELS = {
    "2.10.1": ("nni-2.10.1-*.whl", ["nni/compression/pytorch/quantization_speedup/"],
               "nni.compression.pytorch.quantization_speedup"),
    "3.0": ("nni-3.0-*.whl", ["nni/compression/quantization_speedup/", "nni/compression/utils/attr.py"],
            "nni.compression.quantization_speedup"),
}
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL " + msg)


def extract(wheels_dir, version, dest):
    pattern, prefixes, _ = WHEELS[version]
    found = sorted(glob.glob(os.path.join(wheels_dir, pattern)))
    if not found:
        print(f"nni {version} wheel not found in {wheels_dir}: run "
              f"`pip download --no-deps nni=={version} -d {wheels_dir}`")
        sys.exit(2)
    root = os.path.join(dest, version)
    with zipfile.ZipFile(found[0]) as z:
        for name in z.namelist():
            if any(name.startswith(p) for p in prefixes):
                z.extract(name, root)
    return root


def load_nni(root, version, trt_version):
    """Imports NNI's speed-up package from `root` without running nni/__init__.py (which needs
    the real torch), against a fresh TensorRT stand-in of `trt_version`."""
    for name in [m for m in sys.modules if m == "nni" or m.startswith("nni.") or m == "tensorrt"]:
        del sys.modules[name]
    os.environ["STANDIN_TRT_VERSION"] = trt_version
    global tensorrt
    tensorrt = importlib.import_module("tensorrt")
    pkg = WHEELS[version][2]
    parts = pkg.split(".")
    for i in range(1, len(parts)):
        name = ".".join(parts[:i])
        m = types.ModuleType(name)
        m.__path__ = [os.path.join(root, *parts[:i])]
        sys.modules[name] = m
    if version == "3.0":
        # frontend_to_onnx does `from ..utils import set_nested_attr`; load NNI's own attr.py.
        spec = importlib.util.spec_from_file_location(
            "nni.compression.utils.attr", os.path.join(root, "nni/compression/utils/attr.py"))
        attr = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(attr)
        utils = types.ModuleType("nni.compression.utils")
        utils.set_nested_attr, utils.get_nested_attr = attr.set_nested_attr, attr.get_nested_attr
        sys.modules["nni.compression.utils"] = utils
    it = importlib.import_module(pkg + ".integrated_tensorrt")
    cal = importlib.import_module(pkg + ".calibrator")
    return it, cal


class TracedModel(torch.nn.Module):
    """The PyTorch model behind the committed ONNX file, as a stand-in module tree; its export
    writes what torch would for the current (possibly NNI-wrapped) tree."""

    def __init__(self, onnx_path, spec, scoped_names=False):
        super().__init__()
        object.__setattr__(self, "onnx_path", onnx_path)
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "scoped_names", scoped_names)
        object.__setattr__(self, "node_of", {})  # exported node name -> committed node name
        for path, type_name in spec["nodes"].values():
            parent = self
            atoms = path.split(".")
            for atom in atoms[:-1]:
                if atom not in parent._modules:
                    setattr(parent, atom, torch.nn.Module())
                parent = parent._modules[atom]
            if atoms[-1] not in parent._modules:
                setattr(parent, atoms[-1], getattr(torch.nn, type_name)())

    def module_at(self, path):
        m = self
        for atom in path.split("."):
            m = m._modules[atom]
        return m

    def trace_to_onnx(self, f, input_names, output_names):
        model = onnx.load(self.onnx_path)
        g = model.graph
        rename = {}
        if input_names:
            rename[g.input[0].name] = input_names[0]
        if output_names:
            rename[g.output[0].name] = output_names[0]
        out_nodes, counter = [], 0
        self.node_of.clear()
        for n in g.node:
            n = copy.deepcopy(n)
            n.input[:] = [rename.get(i, i) for i in n.input]
            n.output[:] = [rename.get(o, o) for o in n.output]
            path = self.spec["nodes"].get(n.name, (None, None))[0]
            wrapper = self.module_at(path) if path else None
            marked = wrapper is not None and hasattr(wrapper, "module_bits")
            scope = n.name.rsplit("/", 1)[0] if self.scoped_names else None
            if marked:
                # `inputs * self.module_bits` in LayernameModuleWrapper.forward.
                c, m = f"marker_{counter}", f"marked_{counter}"
                value = numpy_helper.from_array(np.array(float(wrapper.module_bits), dtype=np.float32))
                names = ((f"{scope}/Constant", f"{scope}/Mul") if self.scoped_names
                         else (f"Constant_{counter}", f"Mul_{counter + 1}"))
                out_nodes.append(helper.make_node("Constant", [], [c], name=names[0], value=value))
                out_nodes.append(helper.make_node("Mul", [n.input[0], c], [m], name=names[1]))
                counter += 2
                n.input[0] = m
            original = n.name
            if self.scoped_names:
                # torch >= 1.13: the wrapped module's op sits in scope `<scope>/module`.
                n.name = f"{scope}/module/{n.op_type}" if marked else n.name
            else:
                n.name = f"{n.op_type}_{counter}"
            self.node_of[n.name] = original
            counter += 1
            out_nodes.append(n)
        del g.node[:]
        g.node.extend(out_nodes)
        for vi in list(g.input) + list(g.output):
            vi.name = rename.get(vi.name, vi.name)
        onnx.save(model, f)


def ref_amax(ranges, name):
    r = ranges[name]
    return max(max(r["amax"]), max(abs(v) for v in r["min"]), max(abs(v) for v in r["max"]))


def reused_widest(spec, nodes, ranges):
    """A module called several times has one NNI entry, which calibr8 gives the widest range of
    its calls: tensor -> that widest amax, for the inputs and outputs of such calls."""
    calls = {}
    for name, (path, _) in spec["nodes"].items():
        calls.setdefault(path, []).append(nodes[name])
    widest = {}
    for path, ns in calls.items():
        if len(ns) < 2:
            continue
        for group in ([n.input[0] for n in ns], [n.output[0] for n in ns]):
            w = max(ref_amax(ranges, t) for t in group)
            for t in group:
                widest[t] = (w, path)
    return widest


def check_ranges(label, spec, ranges, known=(), widest=None):
    """Every range recorded in TensorRT equals calibr8's amax for the tensor it stands for (for a
    module called several times: the widest of its calls, as calibr8 writes one entry)."""
    widest = widest or {}
    n_ok = 0
    for rec in tensorrt.RECORD["ranges"]:
        name = rec["stands_for"]
        name = spec["output"] if name == "output1" else name
        got = max(abs(rec["lo"]), abs(rec["hi"]))
        if name not in ranges:
            fail(f"{label}: range {got} set on '{rec['tensor']}', which calibr8 did not calibrate")
            continue
        want = ref_amax(ranges, name)
        if abs(got - want) <= 1e-5 * max(want, 1e-6):
            n_ok += 1
            continue
        if name in widest and abs(got - widest[name][0]) <= 1e-5 * widest[name][0]:
            print(f"  note {label}: '{rec['tensor']}' gets {got:.6g}, the widest call of module "
                  f"'{widest[name][1]}' (its own range is {want:.6g}): NNI applies one entry to every call")
            n_ok += 1
            continue
        defect = [k for k in known if k[0] == rec["note"]]
        if defect and abs(got - ref_amax(ranges, defect[0][1])) <= 1e-5 * ref_amax(ranges, defect[0][1]):
            print(f"  note {label}: NNI sets '{rec['tensor']}' ({rec['note']}) to the range of "
                  f"'{defect[0][1]}' ({got:.6g}), not its own ({want:.6g}): {defect[0][2]}")
            continue
        fail(f"{label}: '{rec['tensor']}' (for '{name}') got amax {got:.6g}, ranges.json says {want:.6g}")
    return n_ok


def covered(label, spec, want):
    got = {rec["stands_for"] for rec in tensorrt.RECORD["ranges"]}
    got = {spec["output"] if n == "output1" else n for n in got}
    missing = sorted(set(want) - got)
    if missing:
        fail(f"{label}: calibr8 ranges that never reached TensorRT: {missing}")
    return len(set(want) & got)


def capture_onnx_config(it):
    captured = {}
    real = it.fonnx.torch_to_onnx

    def spy(*a, **kw):
        model_onnx, onnx_config = real(*a, **kw)
        captured["config"] = onnx_config
        return model_onnx, onnx_config

    it.fonnx.torch_to_onnx = spy
    return captured


def committed_nodes(model_path):
    return {n.name: n for n in onnx.load(model_path).graph.node}


def wanted_tensors(model, onnx_config, nodes, version):
    """The calibr8 tensors NNI's config path should give TensorRT, per mapped node."""
    want = []
    for exported, entry in onnx_config.items():
        n = nodes[model.node_of[exported]]
        if version == "3.0" or "weight_bits" in entry:
            want.append(n.input[0])
        want.append(n.output[0])
        if version == "3.0" and n.op_type == "Gemm":
            want.append(n.input[1])
    return want


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheels", required=True)
    ap.add_argument("--out", required=True, help="calibr8 quantize --out folder")
    ap.add_argument("--model", default=os.path.join(HERE, "torch_named.onnx"))
    ap.add_argument("--modules", default=os.path.join(HERE, "torch_named_modules.json"))
    args = ap.parse_args()
    spec = json.load(open(args.modules))
    ranges = json.load(open(os.path.join(args.out, "ranges.json")))
    config = json.load(open(os.path.join(args.out, "nni_calibration_config.json")))
    cache_path = os.path.join(args.out, "calibration.cache")
    nodes = committed_nodes(args.model)
    shape = (1, 3, 16, 16)
    expected_modules = {p for p, t in spec["nodes"].values() if t in ("Conv2d", "Linear", "ReLU", "MaxPool2d")}
    if set(config) != expected_modules:
        fail(f"config keys {sorted(config)} != the model's NNI-type modules {sorted(expected_modules)}")
    tmp = tempfile.mkdtemp(prefix="calibr8-nni-")
    roots = {v: extract(args.wheels, v, tmp) for v in WHEELS}

    # A: 2.10.1 compress() on TensorRT 8.4.
    it, _ = load_nni(roots["2.10.1"], "2.10.1", "8.4.3")
    model = TracedModel(args.model, spec)
    cap = capture_onnx_config(it)
    it.ModelSpeedupTensorRT(model, shape, config=copy.deepcopy(config),
                            onnx_path=os.path.join(tmp, "a.onnx")).compress()
    if len(cap["config"]) != sum(1 for p, _ in spec["nodes"].values() if p in config):
        fail(f"A: NNI mapped {len(cap['config'])} nodes: {sorted(cap['config'])}")
    widest = reused_widest(spec, nodes, ranges)
    ok = check_ranges("A 2.10.1 compress", spec, ranges, widest=widest, known=[(
        "FullyConnected output (Gemm output before the reshape)", nodes["/fc/Gemm"].input[0],
        "integrated_tensorrt.handle_gemm sets next_layer.get_input(0) to tracked_*_input (NNI 2.10.1)")])
    cov = covered("A", spec, wanted_tensors(model, cap["config"], nodes, "2.10.1"))
    print(f"A 2.10.1 compress(): {len(cap['config'])} nodes mapped, {ok} ranges equal ranges.json, "
          f"{cov} calibr8 tensors reached TensorRT")

    # B: 2.10.1 with calib_data_loader.
    calib_data = torch.Tensor(np.load(os.path.join(os.path.dirname(args.model), "torch_named_calib.npy")))
    it, _ = load_nni(roots["2.10.1"], "2.10.1", "8.4.3")
    try:
        it.ModelSpeedupTensorRT(TracedModel(args.model, spec), shape, config=copy.deepcopy(config),
                                onnx_path=os.path.join(tmp, "b.onnx"), calib_data_loader=calib_data,
                                calibration_cache=os.path.join(tmp, "none.cache")).compress()
        fail("B: NNI 2.10.1 with calib_data_loader accepted entries without weight_bits (expected KeyError)")
    except KeyError as e:
        if e.args != ("weight_bits",):
            fail(f"B: unexpected KeyError {e}")
    weighted = {k: v for k, v in config.items() if "weight_bits" in v}
    it, _ = load_nni(roots["2.10.1"], "2.10.1", "8.4.3")
    model = TracedModel(args.model, spec)
    cap = capture_onnx_config(it)
    it.ModelSpeedupTensorRT(model, shape, config=copy.deepcopy(weighted),
                            onnx_path=os.path.join(tmp, "b.onnx"), calib_data_loader=calib_data,
                            calibration_cache=os.path.join(tmp, "none.cache")).compress()
    prec = tensorrt.RECORD["precision"]
    bad = [n for n in cap["config"] if prec.get(n) is not tensorrt.int8
           or tensorrt.RECORD["output_type"].get((n, 0)) is not tensorrt.int8]
    if bad or len(cap["config"]) != len(weighted):
        fail(f"B: weighted layers not int8 in and out: {bad}; mapped {sorted(cap['config'])}")
    print(f"B 2.10.1 compress() with calib_data_loader: KeyError 'weight_bits' on activation entries; "
          f"the {len(weighted)} weighted entries set int8 precision and output type")

    # C: 3.0 compress() on TensorRT 8.6.
    it, _ = load_nni(roots["3.0"], "3.0", "8.6.1")
    model = TracedModel(args.model, spec)
    cap = capture_onnx_config(it)
    it.ModelSpeedupTensorRT(model, shape, config=copy.deepcopy(config),
                            onnx_path=os.path.join(tmp, "c.onnx")).compress()
    if len(cap["config"]) != sum(1 for p, _ in spec["nodes"].values() if p in config):
        fail(f"C: NNI mapped {len(cap['config'])} nodes: {sorted(cap['config'])}")
    # 3.0's _handle_gemm puts the Gemm output range on the MatrixMultiply output (before the
    # bias, its own TODO); that tensor stands for the Gemm output, so it is checked as such.
    ok = check_ranges("C 3.0 compress", spec, ranges, widest=widest)
    cov = covered("C", spec, wanted_tensors(model, cap["config"], nodes, "3.0"))
    print(f"C 3.0 compress(): {len(cap['config'])} nodes mapped, {ok} ranges equal ranges.json, "
          f"{cov} calibr8 tensors reached TensorRT")

    # D: 3.0 compress_with_calibrator with calibr8's cache.
    it, cal = load_nni(roots["3.0"], "3.0", "8.6.1")
    model = TracedModel(args.model, spec, scoped_names=True)
    data = calib_data.numpy()
    calib = cal.Calibrator(data, cache_path, 1, tensorrt.CalibrationAlgoType.ENTROPY_CALIBRATION_2)
    it.ModelSpeedupTensorRT(model, shape, onnx_path=os.path.join(tmp, "d.onnx")).compress_with_calibrator(calib)
    c = tensorrt.RECORD["calibration"]
    if c is None or c["source"] != "cache":
        fail(f"D: TensorRT did not take calibration.cache ({tensorrt.RECORD.get('calibration_rejected_header')}"
             f" vs TRT-{tensorrt.header_number()}-EntropyCalibration2): it would calibrate itself")
    else:
        if c["unknown"]:
            fail(f"D: cache names TensorRT's network lacks: {c['unknown']}")
        ok = check_ranges("D 3.0 compress_with_calibrator", spec, ranges)
        acts = [n for n, r in ranges.items() if r["role"] == "activation"]
        cov = covered("D", spec, acts)
        print(f"D 3.0 compress_with_calibrator(): {c['entries']} cache entries, {ok} ranges equal "
              f"ranges.json, {cov}/{len(acts)} calibr8 activations reached TensorRT")

    # E: NNI's name matching needs torch <= 1.12 node names.
    for version in WHEELS:
        it, _ = load_nni(roots[version], version, "8.6.1")
        model = TracedModel(args.model, spec, scoped_names=True)
        _, onnx_config = it.fonnx.torch_to_onnx(model, copy.deepcopy(config), shape,
                                                os.path.join(tmp, "e.onnx"), ["actual_input_1"], ["output1"])
        if onnx_config:
            fail(f"E {version}: expected no key mapped under torch >= 1.13 names, got {sorted(onnx_config)}")
    print("E torch >= 1.13 scope names: NNI 2.10.1 and 3.0 torch_to_onnx map 0 keys (their "
          "unwrapper matches node names by op-type prefix)")

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        sys.exit(1)
    print("all NNI checks passed")


if __name__ == "__main__":
    main()
