#!/usr/bin/env python3
"""Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization", section 4.1) applied to
an ONNX model, to evaluate whether calibr8 should do it (issue 11, item 4).

For each pair Conv A -> [Relu] -> Conv B where A's output feeds only B, output channel c of A is
divided by s_c and input channel c of B multiplied by s_c, with s_c = sqrt(r1_c / r2_c) (r1_c: the
range of A's weights for output channel c, r2_c: the range of B's weights reading channel c), so
both ranges become sqrt(r1_c * r2_c). ReLU commutes with a positive scale, so the float model is
unchanged (checked with ONNX Runtime). BatchNormalization is folded into the Conv before it first,
as calibr8 does. Pairs through Clip (ReLU6), HardSwish or a squeeze-excite gate are not equalized:
those are not positively homogeneous.

usage: cle_eval.py MODEL.onnx OUT.onnx [--iterations 4] [--check DATA.npy]
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--iterations", type=int, default=4)
    p.add_argument("--check", help="input .npy: compare float outputs before/after in ONNX Runtime")
    a = p.parse_args()
    model = onnx.load(a.model)
    g = model.graph
    # Constant nodes (Paddle2ONNX writes weights that way) become initializers.
    for c in [n for n in g.node if n.op_type == "Constant" and attr(n, "value") is not None]:
        t = attr(c, "value")
        t.name = c.output[0]
        g.initializer.append(t)
        g.node.remove(c)
    inits = {t.name: t for t in g.initializer}

    def arr(name):
        return numpy_helper.to_array(inits[name]).astype(np.float32)

    def put(name, value):
        inits[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))

    def consumers(tensor):
        return [n for n in g.node if tensor in n.input]

    # Fold BatchNormalization into the Conv before it (the Conv's output read only by the BN).
    folded = 0
    for bn in [n for n in g.node if n.op_type == "BatchNormalization"]:
        x = bn.input[0]
        conv = next((n for n in g.node if x in n.output and n.op_type == "Conv"), None)
        if conv is None or len(consumers(x)) != 1 or any(i not in inits for i in bn.input[1:]):
            continue
        gamma, beta, mean, var = (arr(i) for i in bn.input[1:5])
        scale = gamma / np.sqrt(var + attr(bn, "epsilon", 1e-5))
        w = arr(conv.input[1])
        put(conv.input[1], w * scale.reshape(-1, *([1] * (w.ndim - 1))))
        b = arr(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else np.zeros_like(scale)
        bias_name = conv.input[2] if len(conv.input) > 2 and conv.input[2] else conv.name + ".bias"
        if bias_name not in inits:
            g.initializer.append(numpy_helper.from_array(b, bias_name))
            inits[bias_name] = g.initializer[-1]
            if len(conv.input) < 3:
                conv.input.append(bias_name)
            else:
                conv.input[2] = bias_name
        put(bias_name, (b - mean) * scale + beta)
        conv.output[0] = bn.output[0]
        g.node.remove(bn)
        folded += 1

    # The pairs: A -> (Relu) -> B, every tensor in between read by one node only.
    pairs = []
    for b_node in [n for n in g.node if n.op_type == "Conv"]:
        x = b_node.input[0]
        prod = next((n for n in g.node if x in n.output), None)
        between = None
        if prod is not None and prod.op_type == "Relu" and len(consumers(x)) == 1:
            between, x = prod, prod.input[0]
            prod = next((n for n in g.node if x in n.output), None)
        if prod is None or prod.op_type != "Conv" or len(consumers(x)) != 1:
            continue
        if prod.input[1] not in inits or b_node.input[1] not in inits:
            continue
        if attr(prod, "group", 1) not in (1, arr(prod.input[1]).shape[0]):
            continue  # grouped (not depthwise) convs: channel bookkeeping not needed here
        pairs.append((prod, b_node))

    def ranges_out(w):  # per output channel of A
        return np.abs(w).reshape(w.shape[0], -1).max(axis=1)

    def ranges_in(node, w):  # per input channel of B
        if attr(node, "group", 1) == w.shape[0] and w.shape[1] == 1:  # depthwise
            return np.abs(w).reshape(w.shape[0], -1).max(axis=1)
        return np.abs(w).transpose(1, 0, *range(2, w.ndim)).reshape(w.shape[1], -1).max(axis=1)

    for _ in range(a.iterations):
        for a_node, b_node in pairs:
            wa, wb = arr(a_node.input[1]), arr(b_node.input[1])
            r1, r2 = ranges_out(wa), ranges_in(b_node, wb)
            if r1.shape != r2.shape:
                continue
            s = np.where((r1 > 0) & (r2 > 0), np.sqrt(r1 / np.maximum(r2, 1e-12)), 1.0)
            put(a_node.input[1], wa / s.reshape(-1, *([1] * (wa.ndim - 1))))
            if len(a_node.input) > 2 and a_node.input[2]:
                put(a_node.input[2], arr(a_node.input[2]) / s)
            if attr(b_node, "group", 1) == wb.shape[0] and wb.shape[1] == 1:
                put(b_node.input[1], wb * s.reshape(-1, *([1] * (wb.ndim - 1))))
            else:
                put(b_node.input[1], wb * s.reshape(1, -1, *([1] * (wb.ndim - 2))))
    used = {i for n in g.node for i in n.input}
    for t in [t for t in g.initializer if t.name not in used]:
        g.initializer.remove(t)  # the folded BatchNormalization parameters
    onnx.save(model, a.out)
    print(f"{a.model}: {folded} BatchNormalization folded, {len(pairs)} Conv pairs equalized "
          f"({sum(attr(b, 'group', 1) > 1 for _, b in pairs)} into a depthwise Conv, "
          f"{sum(attr(x, 'group', 1) > 1 for x, _ in pairs)} out of one)", file=sys.stderr)
    if a.check:
        import onnxruntime as ort
        x = np.load(a.check)[:8].astype(np.float32)
        outs = []
        for path in (a.model, a.out):
            so = ort.SessionOptions()
            so.log_severity_level = 3
            s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            outs.append(s.run(None, {s.get_inputs()[0].name: x})[0])
        diff = float(np.abs(outs[0] - outs[1]).max())
        print(f"float outputs before/after: max |diff| {diff:.3e}", file=sys.stderr)


if __name__ == "__main__":
    main()
