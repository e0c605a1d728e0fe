#!/usr/bin/env python3
"""Generate calibr8's ONNX test fixtures (seeded, deterministic, byte-identical on rerun).

Run from the repository root, after examples/digits/train.py (the opset-11 digits model reuses
its weights):
    python3 tests/data/make_models.py
Optional: a bigger MLP for local benchmarks (not committed; 1024 hidden is ~7.4 MB):
    python3 tests/data/make_models.py --mlp-hidden 1024 --mlp-out /tmp/mlp_gemm_1024.onnx

Writes into tests/data/:
  resnet_tiny.onnx, resnet_tiny_calib.npy   ResNet-style CNN, opset 13, [N,3,32,32] -> [N,10]
  mlp_gemm.onnx, mlp_gemm_calib.npy         Gemm/MatMul MLP, opset 13, [N,256] -> [N,10]
  digits_cnn_opset11.onnx                   examples/digits model re-expressed at opset 11
"""
import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DIGITS = os.path.join(ROOT, "examples", "digits")


def finish(graph, opset=13, doc=""):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="calibr8-tests", producer_version="1")
    m.ir_version = 7 if opset >= 13 else 6
    m.doc_string = doc
    onnx.checker.check_model(m, full_check=True)
    return m


def ort_run(model, feeds):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


# ----------------------------------------------------------------------------- resnet_tiny
def build_resnet_tiny(rng, explicit_pad=True):
    """explicit_pad=False gives the same network with Conv pads instead of the runtime Pad chain
    (used only to verify the Pad chain)."""
    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(arr, name=name))
        return name

    def he(shape):
        fan_in = int(np.prod(shape[1:]))
        return f32(rng.standard_normal(shape) * np.sqrt(2.0 / fan_in))

    def conv(name, x, w_name, cin, cout, k, stride, pad, out, bias=False):
        w = init(w_name, he((cout, cin, k, k)))
        ins = [x, w]
        if bias:
            ins.append(init(w_name.replace(".weight", ".bias"), f32(rng.normal(0, 0.05, cout))))
        nodes.append(helper.make_node("Conv", ins, [out], name=name, kernel_shape=[k, k],
                                      pads=[pad] * 4, strides=[stride, stride]))
        return out

    def bn(name, prefix, x, c, out):
        ins = [x,
               init(prefix + ".weight", f32(rng.uniform(0.5, 1.5, c))),
               init(prefix + ".bias", f32(rng.normal(0, 0.1, c))),
               init(prefix + ".running_mean", f32(rng.normal(0, 0.1, c))),
               init(prefix + ".running_var", f32(rng.uniform(0.5, 1.5, c)))]
        nodes.append(helper.make_node("BatchNormalization", ins, [out], name=name, epsilon=1e-5,
                                      momentum=0.9))
        return out

    def relu(name, x, out):
        nodes.append(helper.make_node("Relu", [x], [out], name=name))
        return out

    # stem: Conv + BN + Relu, 3 -> 16, 32x32
    x = conv("stem_conv", "input", "stem.conv.weight", 3, 16, 3, 1, 1, "stem_conv_out")
    x = bn("stem_bn", "stem.bn", x, 16, "stem_bn_out")
    stem = relu("stem_relu", x, "stem_out")

    # block1 (16 -> 16, identity skip). Its first conv's padding is an explicit Pad node whose
    # `pads` tensor is computed at runtime: Shape -> Slice -> Sub/Div -> Concat.
    if explicit_pad:
        init("block1.pad_slice.starts", np.array([2], np.int64))
        init("block1.pad_slice.ends", np.array([4], np.int64))
        init("block1.pad_slice.axes", np.array([0], np.int64))
        nodes += [
            helper.make_node("Shape", [stem], ["block1_pad_shape"], name="block1_pad_shape"),
            helper.make_node("Slice", ["block1_pad_shape", "block1.pad_slice.starts",
                                       "block1.pad_slice.ends", "block1.pad_slice.axes"],
                             ["block1_pad_hw"], name="block1_pad_slice"),
            helper.make_node("Sub", ["block1_pad_hw", "block1_pad_hw"], ["block1_pad_zeros"],
                             name="block1_pad_zeros"),
            helper.make_node("Div", ["block1_pad_hw", "block1_pad_hw"], ["block1_pad_ones"],
                             name="block1_pad_ones"),
            # pads = [0,0,1,1, 0,0,1,1]  (begin N,C,H,W then end N,C,H,W)
            helper.make_node("Concat", ["block1_pad_zeros", "block1_pad_ones",
                                        "block1_pad_zeros", "block1_pad_ones"],
                             ["block1_pads"], name="block1_pads_concat", axis=0),
            helper.make_node("Pad", [stem, "block1_pads"], ["block1_padded"], name="block1_pad",
                             mode="constant"),
        ]
        x = conv("block1_conv1", "block1_padded", "block1.conv1.weight", 16, 16, 3, 1, 0,
                 "block1_conv1_out")
    else:
        x = conv("block1_conv1", stem, "block1.conv1.weight", 16, 16, 3, 1, 1, "block1_conv1_out")
    x = bn("block1_bn1", "block1.bn1", x, 16, "block1_bn1_out")
    x = relu("block1_relu1", x, "block1_relu1_out")
    x = conv("block1_conv2", x, "block1.conv2.weight", 16, 16, 3, 1, 1, "block1_conv2_out")
    x = bn("block1_bn2", "block1.bn2", x, 16, "block1_bn2_out")
    nodes.append(helper.make_node("Add", [x, stem], ["block1_add_out"], name="block1_add"))
    b1 = relu("block1_relu2", "block1_add_out", "block1_out")

    # block2 (16 -> 32, stride 2), skip = 1x1 Conv stride 2 whose weight comes from a Constant node.
    x = conv("block2_conv1", b1, "block2.conv1.weight", 16, 32, 3, 2, 1, "block2_conv1_out")
    x = bn("block2_bn1", "block2.bn1", x, 32, "block2_bn1_out")
    x = relu("block2_relu1", x, "block2_relu1_out")
    x = conv("block2_conv2", x, "block2.conv2.weight", 32, 32, 3, 1, 1, "block2_conv2_out")
    x = bn("block2_bn2", "block2.bn2", x, 32, "block2_bn2_out")
    ds_w = he((32, 16, 1, 1))
    nodes.append(helper.make_node("Constant", [], ["block2.downsample.weight"],
                                  name="block2_downsample_weight",
                                  value=numpy_helper.from_array(ds_w, name="block2.downsample.weight")))
    ds_b = init("block2.downsample.bias", f32(rng.normal(0, 0.05, 32)))
    nodes.append(helper.make_node("Conv", [b1, "block2.downsample.weight", ds_b],
                                  ["block2_downsample_out"], name="block2_downsample",
                                  kernel_shape=[1, 1], pads=[0, 0, 0, 0], strides=[2, 2]))
    nodes.append(helper.make_node("Add", [x, "block2_downsample_out"], ["block2_add_out"],
                                  name="block2_add"))
    relu("block2_relu2", "block2_add_out", "block2_out")

    # head
    fc_w = init("fc.weight", f32(rng.standard_normal((10, 32)) * np.sqrt(1.0 / 32)))
    fc_b = init("fc.bias", f32(np.zeros(10)))
    nodes += [
        helper.make_node("GlobalAveragePool", ["block2_out"], ["gap_out"], name="gap"),
        helper.make_node("Flatten", ["gap_out"], ["flatten_out"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flatten_out", fc_w, fc_b], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "resnet_tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=inits)
    return finish(graph, doc="ResNet-style test CNN, random He-init weights (seed 1). "
                             "Made by tests/data/make_models.py.")


# ----------------------------------------------------------------------------- mlp_gemm
def build_mlp(rng, hidden):
    h, h2 = hidden, hidden // 2

    def he(shape, fan_in):
        return f32(rng.standard_normal(shape) * np.sqrt(2.0 / fan_in))

    p = {
        "fc1.weight": he((h, 256), 256), "fc1.bias": f32(rng.normal(0, 0.05, h)),
        "fc2.weight": he((h, h), h), "fc2.bias": f32(rng.normal(0, 0.05, h)),
        "fc3.weight": he((h, h2), h),  # MatMul layout [in, out]
        "fc3.bias": f32(rng.normal(0, 0.05, h2)),
        "fc4.weight": f32(rng.standard_normal((10, h2)) * np.sqrt(1.0 / h2)),
        "fc4.bias": f32(np.zeros(10)),
    }
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["fc1_out"], name="fc1", transB=1),
        helper.make_node("Relu", ["fc1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("Gemm", ["relu1_out", "fc2.weight", "fc2.bias"], ["fc2_out"], name="fc2", transB=1),
        helper.make_node("Relu", ["fc2_out"], ["relu2_out"], name="relu2"),
        helper.make_node("MatMul", ["relu2_out", "fc3.weight"], ["fc3_matmul_out"], name="fc3_matmul"),
        helper.make_node("Add", ["fc3_matmul_out", "fc3.bias"], ["fc3_out"], name="fc3_add"),
        helper.make_node("Relu", ["fc3_out"], ["relu3_out"], name="relu3"),
        helper.make_node("Gemm", ["relu3_out", "fc4.weight", "fc4.bias"], ["logits"], name="fc4", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "mlp_gemm",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 256])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=[numpy_helper.from_array(v, name=k) for k, v in p.items()])
    model = finish(graph, doc=f"Gemm-heavy MLP 256->{h}->{h}->{h2}->10, random weights (seed 2). "
                              "Made by tests/data/make_models.py.")
    return model, p


def mlp_ref(p, x):
    r = lambda a: np.maximum(a, 0)  # noqa: E731
    y = r(x @ p["fc1.weight"].T + p["fc1.bias"])
    y = r(y @ p["fc2.weight"].T + p["fc2.bias"])
    y = r(y @ p["fc3.weight"] + p["fc3.bias"])
    return y @ p["fc4.weight"].T + p["fc4.bias"]


# ----------------------------------------------------------------------------- digits @ opset 11
def build_digits_opset11():
    src = onnx.load(os.path.join(DIGITS, "digits_cnn.onnx"))
    nodes = []
    for n in src.graph.node:
        n = onnx.NodeProto.FromString(n.SerializeToString())
        if n.name == "fc1":
            n.input[0] = "squeeze_out"
        nodes.append(n)
        if n.name == "flatten":
            # A no-op pair whose signature changed in opset 13 (axes: attribute -> input).
            nodes.append(helper.make_node("Unsqueeze", ["flatten_out"], ["unsqueeze_out"],
                                          name="unsqueeze", axes=[1]))
            nodes.append(helper.make_node("Squeeze", ["unsqueeze_out"], ["squeeze_out"],
                                          name="squeeze", axes=[1]))
    graph = helper.make_graph(nodes, "digits_cnn_opset11", list(src.graph.input),
                              list(src.graph.output), initializer=list(src.graph.initializer))
    return finish(graph, opset=11, doc="examples/digits/digits_cnn.onnx re-expressed at opset 11 "
                                       "(+ no-op Unsqueeze/Squeeze with axes attributes). "
                                       "Made by tests/data/make_models.py."), src


# ----------------------------------------------------------------------------- report
def shape_str(vi):
    return "[" + ",".join(d.dim_param or str(d.dim_value) for d in vi.type.tensor_type.shape.dim) + "]"


def describe(name, model):
    g = model.graph
    print(f"== {name}: opset {model.opset_import[0].version}, ir {model.ir_version}, "
          f"{len(g.node)} nodes, {len(g.initializer)} initializers")
    for vi in g.input:
        print(f"   input  {vi.name} {shape_str(vi)}")
    for vi in g.output:
        print(f"   output {vi.name} {shape_str(vi)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlp-hidden", type=int, default=512)
    ap.add_argument("--mlp-out", default=None, help="write only the MLP, to this path")
    args = ap.parse_args()

    if args.mlp_out:
        m, _ = build_mlp(np.random.default_rng(2), args.mlp_hidden)
        onnx.save(m, args.mlp_out)
        describe(args.mlp_out, m)
        print(f"   {os.path.getsize(args.mlp_out)} bytes")
        return

    # resnet_tiny
    rn = build_resnet_tiny(np.random.default_rng(1))
    rn_ref = build_resnet_tiny(np.random.default_rng(1), explicit_pad=False)
    rn_calib = f32(np.random.default_rng(11).standard_normal((16, 3, 32, 32)))
    out = ort_run(rn, {"input": rn_calib})[0]
    out_ref = ort_run(rn_ref, {"input": rn_calib})[0]
    assert out.shape == (16, 10) and np.isfinite(out).all()
    d = float(np.abs(out - out_ref).max())
    print(f"resnet_tiny: Pad-chain vs Conv-pads max abs diff {d:.3g}; logits std {out.std():.3f}")
    assert d < 1e-4, d
    onnx.save(rn, os.path.join(HERE, "resnet_tiny.onnx"))
    np.save(os.path.join(HERE, "resnet_tiny_calib.npy"), rn_calib)
    describe("resnet_tiny.onnx", rn)

    # mlp_gemm
    mlp, p = build_mlp(np.random.default_rng(2), args.mlp_hidden)
    mlp_calib = f32(np.random.default_rng(12).standard_normal((64, 256)))
    out = ort_run(mlp, {"input": mlp_calib})[0]
    d = float(np.abs(out - mlp_ref(p, mlp_calib)).max())
    print(f"mlp_gemm: ORT vs numpy max abs diff {d:.3g}; logits std {out.std():.3f}")
    assert d < 1e-3, d
    onnx.save(mlp, os.path.join(HERE, "mlp_gemm.onnx"))
    np.save(os.path.join(HERE, "mlp_gemm_calib.npy"), mlp_calib)
    describe("mlp_gemm.onnx", mlp)

    # digits @ opset 11
    d11, d13 = build_digits_opset11()
    xev = np.load(os.path.join(DIGITS, "eval.npy"))
    yev = np.load(os.path.join(DIGITS, "eval_labels.npy"))
    o11 = ort_run(d11, {"input": xev})[0]
    o13 = ort_run(d13, {"input": xev})[0]
    d = float(np.abs(o11 - o13).max())
    print(f"digits_cnn_opset11: vs opset-13 model max abs diff {d:.3g}; "
          f"eval top-1 {(o11.argmax(1) == yev).mean():.4f}")
    assert d < 1e-5, d
    onnx.save(d11, os.path.join(HERE, "digits_cnn_opset11.onnx"))
    describe("digits_cnn_opset11.onnx", d11)

    total = 0
    for f in sorted(os.listdir(HERE)):
        if f.endswith((".onnx", ".npy")):
            s = os.path.getsize(os.path.join(HERE, f))
            total += s
            print(f"  {f:28s} {s:9d} bytes")
    print(f"  total {total} bytes")


if __name__ == "__main__":
    main()
