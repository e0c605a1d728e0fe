#!/usr/bin/env python3
"""Writes fixtures.json: expected amax from NVIDIA ModelOpt's own histogram calibration code.

Reference: the PyPI wheel `nvidia-modelopt` (pure Python), file
`modelopt/torch/quantization/calib/histogram.py`: `_compute_amax_percentile`,
`_compute_amax_entropy`, `_compute_amax_mse`, and `_tensor_quant` from
`modelopt/torch/quantization/tensor_quant.py` (the CPU body of `fake_tensor_quant`).

    pip install --no-deps nvidia-modelopt numpy scipy
    python3 calibration/tests/data/make_fixtures.py

How NVIDIA's code is run without torch (torch is not installed here):
* The four functions are taken from the installed wheel's source files with `ast` (no edits) and
  executed with `numpy`, `Counter`, `scipy.stats.entropy` and a `torch` SHIM in scope. Importing
  the `modelopt` package itself would pull in torch.
* The shim (`TorchShim` / `T` below) implements exactly the torch calls those functions make,
  in float32 with numpy: `from_numpy(..).float()`, `tensor(x)` (float32), `cuda.is_available()`
  (False), elementwise arithmetic, `round_` (half to even, like torch), `clamp`, indexing,
  `.min()`, `.mean()` (float32 `np.add.reduce` -- numpy's pairwise order -- then `/ n` in float32)
  and `.item()`. Real torch may sum in another order; that can only matter for ulp-level near-ties
  of the MSE argmin.
* `fake_tensor_quant(x, amax, num_bits, unsigned)` -> `_tensor_quant(x, amax, num_bits, unsigned,
  narrow_range=True)`, which is what `FakeTensorQuantFunction.forward` runs for CPU tensors.

Histogram collection for the data cases, `collect()`, mirrors the numpy branch of
`HistogramCalibrator.collect` (torch_hist=False) line by line, with two documented changes:
1. the first histogram spans [0, max|x|] (`range=(0, max)`), as the torch branch and
   `calibrate_weights` do (DESIGN.md), instead of [min|x|, max|x|];
2. when `np.arange(edges[-1] + width, max + width, width)` stops short of the batch max (numpy
   then drops the largest values from the histogram), further bins of the same arange sequence
   are appended until the max is covered (`extended` in the fixture says whether it happened).

Seeded; output < 1 MB.
"""
import ast
import importlib.util
import json
import os
import sys
from collections import Counter

import numpy as np
from scipy.stats import entropy as scipy_entropy

F32 = np.float32


# ----------------------------------------------------------------------------------------------
# torch shim (float32 numpy)
class T:
    """A tiny stand-in for a torch.Tensor, float32 arithmetic via numpy."""

    __array_priority__ = 1000

    def __init__(self, a):
        self.a = np.asarray(a)

    device = None

    @property
    def dtype(self):
        return self.a.dtype

    def float(self):
        return T(self.a.astype(np.float32))

    def cpu(self):
        return self

    def numel(self):
        return self.a.size

    def __len__(self):
        return len(self.a)

    def min(self):
        return T(self.a.min())

    def mean(self):
        s = np.add.reduce(self.a.ravel(), dtype=np.float32)
        return T(F32(s / F32(self.a.size)))

    def item(self):
        return self.a.item()

    def round_(self):
        self.a = np.rint(self.a)  # half to even, like torch.round
        return self

    def to(self, *_args, **_kw):
        return self

    def __getitem__(self, k):
        return T(self.a[_u(k)])

    def __setitem__(self, k, v):
        self.a[_u(k)] = _u(v)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.a, dtype=dtype)

    def __float__(self):
        return float(self.a)

    def __bool__(self):
        return bool(self.a)

    def __neg__(self):
        return T(-self.a)


def _u(x):
    return x.a if isinstance(x, T) else x


def _binop(f, reflected=False):
    if reflected:
        return lambda self, o: T(f(_u(o), self.a))
    return lambda self, o: T(f(self.a, _u(o)))


for _name, _f in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                  ("truediv", np.true_divide), ("pow", np.power)]:
    setattr(T, f"__{_name}__", _binop(_f))
    setattr(T, f"__r{_name}__", _binop(_f, reflected=True))
for _name, _f in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                  ("ge", np.greater_equal)]:
    setattr(T, f"__{_name}__", _binop(_f))


class TorchShim:
    half = np.float16

    class cuda:  # noqa: N801
        @staticmethod
        def is_available():
            return False

    @staticmethod
    def from_numpy(a):
        return T(np.array(a))

    @staticmethod
    def tensor(x, device=None, dtype=None):
        x = _u(x)
        if dtype is None and isinstance(x, (float, int, np.floating)):
            return T(F32(x))
        return T(np.asarray(x))

    @staticmethod
    def clamp(x, lo, hi):
        return T(np.minimum(np.maximum(_u(x), _u(lo)), _u(hi)))


# ----------------------------------------------------------------------------------------------
# NVIDIA's functions, from the installed wheel
def load_reference(numpy=np):
    """NVIDIA's functions, executed with `numpy` as their `np` (a stand-in changes one call)."""
    spec = importlib.util.find_spec("modelopt")
    if spec is None:
        sys.exit("nvidia-modelopt is not installed: pip install --no-deps nvidia-modelopt")
    root = os.path.join(spec.submodule_search_locations[0], "torch", "quantization")
    wanted = {
        os.path.join(root, "calib", "histogram.py"):
            ["_compute_amax_entropy", "_compute_amax_mse", "_compute_amax_percentile"],
        os.path.join(root, "tensor_quant.py"): ["_tensor_quant"],
    }
    ns = {"np": numpy, "torch": TorchShim, "Counter": Counter, "entropy": scipy_entropy,
          "scaled_e4m3": None}
    for path, names in wanted.items():
        tree = ast.parse(open(path).read(), path)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                exec(compile(ast.Module([node], []), path, "exec"), ns)
                names.remove(node.name)
        assert not names, f"not found in {path}: {names}"

    def fake_tensor_quant(inputs, amax, num_bits=8, unsigned=False, narrow_range=True):
        return ns["_tensor_quant"](inputs, amax, num_bits, unsigned, narrow_range)

    ns["fake_tensor_quant"] = fake_tensor_quant
    return ns


REF = load_reference()


class NumpyWith:
    """numpy, with some functions replaced (ModelOpt's code calls them as `np.<name>`)."""

    def __init__(self, **replaced):
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(np, name)


def ref_amax(hist, edges):
    """Expected amax of every method for one (hist, edges)."""
    hist = np.asarray(hist)
    out = {}
    for p in (99.0, 99.9, 99.99, 100.0):
        out[f"percentile:{p}"] = float(REF["_compute_amax_percentile"](hist.copy(), edges, p).item())
    # _compute_amax_entropy writes bins[0] = bins[1] into its argument: pass a copy.
    out["entropy"] = float(REF["_compute_amax_entropy"](hist.copy(), edges, 8, False).item())
    out["mse"] = float(REF["_compute_amax_mse"](hist.copy(), edges, 8, False).item())
    return out


# ----------------------------------------------------------------------------------------------
# HistogramCalibrator.collect (numpy branch), see the module docstring for the two changes
def collect(batches, num_bins):
    calib_hist = calib_bin_edges = None
    extended = False
    for x in batches:
        x_np = np.abs(np.asarray(x, dtype=np.float32))
        if calib_bin_edges is None and calib_hist is None:
            calib_hist, calib_bin_edges = np.histogram(x_np, bins=num_bins, range=(0, x_np.max()))
        else:
            temp_amax = np.max(x_np)
            if temp_amax > calib_bin_edges[-1]:
                width = calib_bin_edges[1] - calib_bin_edges[0]
                new_bin_edges = np.arange(calib_bin_edges[-1] + width, temp_amax + width, width)
                # change 2: continue the arange sequence until the max is covered
                start = float(calib_bin_edges[-1] + width)
                delta = float(calib_bin_edges[-1] + width + width) - start
                k = len(new_bin_edges)
                top = new_bin_edges[-1] if k else calib_bin_edges[-1]
                extra = []
                while top < temp_amax:
                    top = start + k * delta
                    extra.append(top)
                    k += 1
                if extra:
                    extended = True
                    new_bin_edges = np.concatenate([new_bin_edges, np.array(extra)])
                calib_bin_edges = np.hstack((calib_bin_edges, new_bin_edges))
            hist, calib_bin_edges = np.histogram(x_np, bins=calib_bin_edges)
            hist[: len(calib_hist)] += calib_hist
            calib_hist = hist
    return calib_hist, calib_bin_edges, extended


# ----------------------------------------------------------------------------------------------
def f32list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def digits(rng, n):
    """17 grey levels (k/16) as in 4-bit digit images, mostly background, normalised like MNIST."""
    levels = np.arange(17, dtype=np.float32) / 16
    p = np.r_[0.8, np.full(15, 0.1 / 15), 0.1]
    x = rng.choice(levels, size=n, p=p).astype(np.float32)
    return ((x - F32(0.1307)) / F32(0.3081)).astype(np.float32)


def entropy_nan_case(rng):
    """The one deliberate difference from ModelOpt's `_compute_amax_entropy`.

    Raw 4-bit digit pixels (17 levels k/16 in [0, 1], mostly background 0): in the |x| histogram
    over [0, 1] with 2048 bins, level 1/16 lands in bin 128 and bins 1..127 are empty, so after
    `bins[0] = bins[1]` (= 0) candidate i = 128 has an all-zero Q and KL(P||Q) = NaN
    (0/0 when Q is normalised). `np.argmin` returns a NaN's index, so ModelOpt picks i = 128:
    amax = 1/16 of the range, and every pixel above 1/16 is clipped. calibr8 lets NaN never win.

    Recorded here from ModelOpt's own code: its pick, its divergences' NaN candidates (by
    wrapping the `np.argmin` it calls), and its pick when the same code runs with
    `np.nanargmin` -- calibr8's rule -- in place of `np.argmin`.
    """
    levels = np.arange(17, dtype=np.float32) / 16
    p = np.r_[0.8, np.full(15, 0.1 / 15), 0.1]
    x = rng.choice(levels, size=60_000, p=p).astype(np.float32)
    hist, edges = np.histogram(np.abs(x), bins=2048, range=(0, x.max()))

    seen = []

    def recording_argmin(a, *args, **kw):
        seen.append(np.array(a))
        return np.argmin(a, *args, **kw)

    recording = load_reference(NumpyWith(argmin=recording_argmin))
    nan_safe = load_reference(NumpyWith(argmin=np.nanargmin))
    modelopt = float(recording["_compute_amax_entropy"](hist.copy(), edges, 8, False).item())
    (reversed_divergences,) = seen
    divergences = reversed_divergences[::-1]
    start_bin = 128
    nan_candidates = [start_bin + k for k in np.flatnonzero(np.isnan(divergences)).tolist()]
    assert modelopt == float(REF["_compute_amax_entropy"](hist.copy(), edges, 8, False).item())
    return {
        "name": "digits_raw_17_levels",
        "counts": [int(c) for c in hist],
        "edges": [float(e) for e in edges],
        "nan_candidates": nan_candidates,
        "modelopt_entropy": modelopt,
        "modelopt_entropy_nan_never_wins": float(
            nan_safe["_compute_amax_entropy"](hist.copy(), edges, 8, False).item()),
    }


def main():
    rng = np.random.default_rng(20240607)
    g = lambda n, s=1.0: (rng.standard_normal(n) * s).astype(np.float32)  # noqa: E731
    lap = lambda n, s=1.0: rng.laplace(0, s, n).astype(np.float32)  # noqa: E731
    relu = lambda n, s=1.0: np.maximum(g(n, s), 0).astype(np.float32)  # noqa: E731
    uni = lambda n, s=1.0: rng.uniform(-s, s, n).astype(np.float32)  # noqa: E731

    # Fixed histograms: np.histogram of |x| over [0, max], as calibrate_weights builds them.
    histograms = []
    for name, x, bins in [
        ("gaussian", g(200_000), 2048),
        ("laplace", lap(200_000), 2048),
        ("post_relu", relu(200_000), 2048),
        ("uniform", uni(100_000), 2048),
        ("digits_17_levels", digits(rng, 60_000), 2048),
        ("gaussian_1000_bins", g(50_000), 1000),
        ("sparse_outliers", np.r_[g(20_000, 0.05), np.float32([3.0, -7.5, 12.0])], 2048),
    ]:
        a = np.abs(x)
        hist, edges = np.histogram(a, bins=bins, range=(0, a.max()))
        histograms.append({"name": name, "counts": [int(c) for c in hist],
                           "edges": [float(e) for e in edges], "expected": ref_amax(hist, edges)})

    # Data cases: batches run through collect() then the reference functions.
    cases = []

    def case(name, batches, shape, bins):
        hist, edges, extended = collect(batches, bins)
        cases.append({
            "name": name, "num_bins": bins, "shape": list(shape),
            "batches": [f32list(b) for b in batches],
            "counts": [int(c) for c in hist], "extended": extended,
            # Every 64th edge and the last one (the full list would double the file's size).
            "n_edges": len(edges),
            "edge_samples": [[i, float(edges[i])] for i in
                             sorted(set(range(0, len(edges), 64)) | {len(edges) - 1})],
            "expected": dict(ref_amax(hist, edges),
                             minmax=float(max(np.abs(b).max() for b in batches))),
        })

    case("gaussian_one_batch", [g(4096)], [64, 64], 2048)
    case("relu_growing_4_batches", [relu(1024, s) for s in (1.0, 1.6, 3.0, 2.0)], [1024], 2048)
    case("laplace_growing_3_batches", [lap(2048, s) for s in (0.5, 1.0, 2.0)], [2, 1024], 1024)
    case("digits_one_batch", [digits(rng, 2048)], [2048], 2048)
    case("uniform_2_batches", [uni(2048, 1.0), uni(2048, 1.01)], [2048], 512)

    # Per channel (calibrate_weights: one np.histogram over [0, max] per output channel).
    w = np.stack([g(256, s) for s in (0.02, 0.1, 0.5, 1.0)]).astype(np.float32)
    per_channel = []
    for c in range(w.shape[0]):
        a = np.abs(w[c])
        hist, edges = np.histogram(a, bins=2048, range=(0, a.max()))
        per_channel.append(ref_amax(hist, edges))
    weights = {"name": "conv_weight_4x256_axis0", "shape": list(w.shape), "axis": 0,
               "num_bins": 2048, "data": f32list(w), "expected": per_channel}

    entropy_nan = entropy_nan_case(rng)

    out = {"generator": "calibration/tests/data/make_fixtures.py",
           "reference": "nvidia-modelopt calib/histogram.py + tensor_quant._tensor_quant, "
                        "numpy float32 torch shim",
           "histograms": histograms, "cases": cases, "per_channel": weights,
           "entropy_nan": entropy_nan}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {path}: {os.path.getsize(path)} bytes")
    for h in histograms + cases:
        print(h["name"], h.get("extended", ""), h["expected"])
    print(entropy_nan["name"], "NaN candidates", entropy_nan["nan_candidates"],
          "ModelOpt", entropy_nan["modelopt_entropy"],
          "NaN never wins", entropy_nan["modelopt_entropy_nan_never_wins"])


if __name__ == "__main__":
    main()
