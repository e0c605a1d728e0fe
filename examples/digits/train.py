#!/usr/bin/env python3
"""Train the calibr8 example model: a tiny CNN on scikit-learn's 8x8 digits.

Pure numpy (hand-written forward/backward), seeded, a few seconds on one CPU core.
Run from the repository root:  python3 examples/digits/train.py

Writes (next to this script):
  digits_cnn.onnx            opset 13, input `input` [N,1,8,8] float32, output `logits` [N,10]
  calib.npy                  float32 [256,1,8,8]  (drawn from the training portion)
  calib_batches/part_00X.npy the same 256 samples split into 4 files of 64
  eval.npy                   float32 [360,1,8,8]  (held back, never trained on)
  eval_labels.npy            int64 [360]
  train.npy                  float32 [1437,1,8,8] (the training portion, for the burn example)
  train_labels.npy           int64 [1437]

`--data-only` writes the arrays without retraining (the model file stays as it is).
"""
import os
import sys

# Keep it light and deterministic: one BLAS thread.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
N_EVAL = 360
N_CALIB = 256
N_CALIB_PARTS = 4
EPOCHS = 20
BATCH = 32
LR = 2e-3


# ----------------------------------------------------------------------------- data
def load_data():
    d = load_digits()
    # Pixels are integers 0..16; /16 keeps the 17 discrete levels on purpose.
    x = (d.images.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(len(x))
    ev, tr = perm[:N_EVAL], perm[N_EVAL:]
    calib_idx = np.sort(rng.choice(tr, size=N_CALIB, replace=False))
    return (x[tr], y[tr]), (x[ev], y[ev]), x[calib_idx]


# ----------------------------------------------------------------------------- layers
def im2col(x, stride, pad):
    """x [N,C,H,W] -> cols [N, C*9, Ho*Wo] (C-major, then kh, kw), 3x3 kernel."""
    n, c, h, w = x.shape
    ho = (h + 2 * pad - 3) // stride + 1
    wo = (w + 2 * pad - 3) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((n, c, 3, 3, ho, wo), dtype=x.dtype)
    for kh in range(3):
        for kw in range(3):
            cols[:, :, kh, kw] = xp[:, :, kh:kh + stride * ho:stride, kw:kw + stride * wo:stride]
    return cols.reshape(n, c * 9, ho * wo), (ho, wo)


def col2im(dcols, xshape, stride, pad, hw_out):
    n, c, h, w = xshape
    ho, wo = hw_out
    dcols = dcols.reshape(n, c, 3, 3, ho, wo)
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype)
    for kh in range(3):
        for kw in range(3):
            dxp[:, :, kh:kh + stride * ho:stride, kw:kw + stride * wo:stride] += dcols[:, :, kh, kw]
    return dxp[:, :, pad:pad + h, pad:pad + w]


def conv_fwd(x, w, b, stride):
    cols, (ho, wo) = im2col(x, stride, 1)
    out = np.matmul(w.reshape(w.shape[0], -1), cols) + b[None, :, None]
    return out.reshape(x.shape[0], w.shape[0], ho, wo), (cols, x.shape, (ho, wo))


def conv_bwd(dout, w, cache, stride):
    cols, xshape, hw = cache
    n, o = dout.shape[:2]
    d = dout.reshape(n, o, -1)
    w2 = w.reshape(o, -1)
    dw = np.einsum("nop,nkp->ok", d, cols).reshape(w.shape)
    db = d.sum(axis=(0, 2))
    dx = col2im(np.matmul(w2.T, d), xshape, stride, 1, hw)
    return dx, dw, db


def forward(p, x, keep=False):
    """Numpy reference forward. Gemm weights are [out, in] (ONNX Gemm transB=1)."""
    c1, k1 = conv_fwd(x, p["conv1.weight"], p["conv1.bias"], 1)
    r1 = np.maximum(c1, 0)
    c2, k2 = conv_fwd(r1, p["conv2.weight"], p["conv2.bias"], 2)
    r2 = np.maximum(c2, 0)
    f = r2.reshape(r2.shape[0], -1)
    h = f @ p["fc1.weight"].T + p["fc1.bias"]
    r3 = np.maximum(h, 0)
    logits = r3 @ p["fc2.weight"].T + p["fc2.bias"]
    if keep:
        return logits, (k1, c1, r1, k2, c2, r2, f, h, r3)
    return logits


def loss_and_grads(p, x, y):
    logits, (k1, c1, r1, k2, c2, r2, f, h, r3) = forward(p, x, keep=True)
    n = x.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    prob = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(prob[np.arange(n), y] + 1e-12).mean()
    dl = prob
    dl[np.arange(n), y] -= 1
    dl /= n
    g = {}
    g["fc2.weight"] = dl.T @ r3
    g["fc2.bias"] = dl.sum(0)
    dr3 = dl @ p["fc2.weight"]
    dh = dr3 * (h > 0)
    g["fc1.weight"] = dh.T @ f
    g["fc1.bias"] = dh.sum(0)
    df = dh @ p["fc1.weight"]
    dr2 = df.reshape(r2.shape)
    dc2 = dr2 * (c2 > 0)
    dr1, g["conv2.weight"], g["conv2.bias"] = conv_bwd(dc2, p["conv2.weight"], k2, 2)
    dc1 = dr1 * (c1 > 0)
    _, g["conv1.weight"], g["conv1.bias"] = conv_bwd(dc1, p["conv1.weight"], k1, 1)
    return loss, g


def init_params(rng):
    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    return {
        "conv1.weight": he((16, 1, 3, 3), 9),
        "conv1.bias": np.zeros(16, np.float32),
        "conv2.weight": he((32, 16, 3, 3), 144),
        "conv2.bias": np.zeros(32, np.float32),
        "fc1.weight": he((64, 512), 512),
        "fc1.bias": np.zeros(64, np.float32),
        "fc2.weight": he((10, 64), 64),
        "fc2.bias": np.zeros(10, np.float32),
    }


def train(xtr, ytr, rng):
    p = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    for ep in range(EPOCHS):
        perm = rng.permutation(len(xtr))
        tot = 0.0
        for i in range(0, len(xtr), BATCH):
            idx = perm[i:i + BATCH]
            loss, g = loss_and_grads(p, xtr[idx], ytr[idx])
            tot += loss * len(idx)
            t += 1
            lr = LR * (0.5 * (1 + np.cos(np.pi * ep / EPOCHS)))  # cosine decay per epoch
            for k in p:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                mh = m[k] / (1 - b1 ** t)
                vh = v[k] / (1 - b2 ** t)
                p[k] = (p[k] - lr * mh / (np.sqrt(vh) + eps)).astype(np.float32)
        if ep % 5 == 4 or ep == EPOCHS - 1:
            print(f"epoch {ep + 1:2d}  train loss {tot / len(xtr):.4f}")
    return p


# ----------------------------------------------------------------------------- export
def build_onnx(p, opset=13):
    """Digits CNN as ONNX. Also used (with opset=11) by tests/data/make_models.py."""
    inits = [numpy_helper.from_array(p[k].astype(np.float32), name=k) for k in (
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")]
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1_out"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1], group=1),
        helper.make_node("Relu", ["conv1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("Conv", ["relu1_out", "conv2.weight", "conv2.bias"], ["conv2_out"], name="conv2",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], dilations=[1, 1], group=1),
        helper.make_node("Relu", ["conv2_out"], ["relu2_out"], name="relu2"),
        helper.make_node("Flatten", ["relu2_out"], ["flatten_out"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flatten_out", "fc1.weight", "fc1.bias"], ["fc1_out"], name="fc1",
                         alpha=1.0, beta=1.0, transA=0, transB=1),
        helper.make_node("Relu", ["fc1_out"], ["relu3_out"], name="relu3"),
        helper.make_node("Gemm", ["relu3_out", "fc2.weight", "fc2.bias"], ["logits"], name="fc2",
                         alpha=1.0, beta=1.0, transA=0, transB=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="calibr8-examples", producer_version="1")
    model.ir_version = 7 if opset >= 13 else 6
    model.doc_string = "Tiny CNN on scikit-learn digits (8x8, pixels/16). Made by examples/digits/train.py."
    return model


def params_from_onnx(path):
    m = onnx.load(path)
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def save_arrays(xtr, ytr, xev, yev, xcal):
    np.save(os.path.join(HERE, "calib.npy"), np.ascontiguousarray(xcal, np.float32))
    np.save(os.path.join(HERE, "eval.npy"), np.ascontiguousarray(xev, np.float32))
    np.save(os.path.join(HERE, "eval_labels.npy"), yev.astype(np.int64))
    # The training portion, for examples that train their own model (backends/burn's digits_burn).
    np.save(os.path.join(HERE, "train.npy"), np.ascontiguousarray(xtr, np.float32))
    np.save(os.path.join(HERE, "train_labels.npy"), ytr.astype(np.int64))
    bdir = os.path.join(HERE, "calib_batches")
    os.makedirs(bdir, exist_ok=True)
    for i, part in enumerate(np.split(xcal, N_CALIB_PARTS)):
        np.save(os.path.join(bdir, f"part_{i:03d}.npy"), np.ascontiguousarray(part, np.float32))


def main():
    rng = np.random.default_rng(SEED)
    (xtr, ytr), (xev, yev), xcal = load_data()
    print(f"train {xtr.shape}  eval {xev.shape}  calib {xcal.shape}")
    if "--data-only" in sys.argv[1:]:
        save_arrays(xtr, ytr, xev, yev, xcal)
        return
    p = train(xtr, ytr, rng)

    acc_np = float((forward(p, xev).argmax(1) == yev).mean())
    acc_tr = float((forward(p, xtr).argmax(1) == ytr).mean())
    print(f"numpy fp32: train top-1 {acc_tr:.4f}  eval top-1 {acc_np:.4f}")

    model = build_onnx(p)
    onnx.checker.check_model(model, full_check=True)
    onnx_path = os.path.join(HERE, "digits_cnn.onnx")
    onnx.save(model, onnx_path)

    save_arrays(xtr, ytr, xev, yev, xcal)

    # Verify against ONNX Runtime.
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    out = sess.run(["logits"], {"input": xev})[0]
    ref = forward(p, xev)
    diff = float(np.abs(out - ref).max())
    acc_ort = float((out.argmax(1) == yev).mean())
    print(f"ORT vs numpy max abs diff: {diff:.3g}")
    print(f"ONNX Runtime fp32 eval top-1: {acc_ort:.4f} ({int(round(acc_ort * len(yev)))}/{len(yev)})")
    assert diff < 1e-4, diff
    assert acc_ort >= 0.96, acc_ort

    for root, _, files in sorted(os.walk(HERE)):
        for f in sorted(files):
            if f.endswith((".onnx", ".npy")):
                fp = os.path.join(root, f)
                print(f"  {os.path.relpath(fp, HERE):28s} {os.path.getsize(fp):8d} bytes")


if __name__ == "__main__":
    main()
