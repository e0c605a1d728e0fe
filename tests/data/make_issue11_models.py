#!/usr/bin/env python3
"""Small models that reproduce, one failure each, what real exported models (PaddleOCR in the
rapidocr wheels) do to a calibrator: dynamic and symbolic input dims, variable Reshape, stale
value_info, opset 11/12 Softmax on a non-last axis, BatchNormalization after Conv / ConvTranspose /
Gemm, already-quantized graphs and ops inside If branches. Seeded, byte-identical on rerun.
Run from the repository root:
    python3 tests/data/make_issue11_models.py

Writes into tests/data/issue11/:
  unknown_dims.onnx       opset 11, input x [-1, 3, ?, ?] (batch dim_value -1, H/W without value or
                          name, as paddle2onnx writes the PP-OCR classifier): Conv+BN+Relu, Conv+BN,
                          GlobalAveragePool, Reshape whose shape comes from Shape->Slice->Cast->Concat
                          at run time (a "variable" shape until the batch is known), MatMul, Softmax
                          axis=1. Output y [-1, 4].
  symbolic_hw.onnx        opset 12, input x [p2o.DynamicDimension.0, 3, p2o.DynamicDimension.1,
                          p2o.DynamicDimension.2] like the PP-OCRv4 detector: stride-2 Conv, AveragePool,
                          Resize x2 (scales) back up, Concat with the stride-2 branch, grouped ConvTranspose
                          x2 + BN, Sigmoid. Output declared with fresh symbols.
  stale_value_info.onnx   opset 11, IR 10, input x [DynamicDimension.0, 3, 8, 12] like PP-OCRv6 rec:
                          Identity nodes, value_info on every intermediate tensor naming the batch
                          'N' (stale: the input calls it DynamicDimension.0), Conv+BN, Reshape to
                          [N, 4, 2, 24] and Softmax axis=2 (flatten-at-axis semantics at opset 11),
                          Gemm+BN (2-D BatchNormalization) on a flattened branch.
  conv_integer.onnx       opset 13, already quantized: DynamicQuantizeLinear -> ConvInteger -> Cast
                          -> Mul (what onnxruntime.quantization.quantize_dynamic writes).
  if_branches.onnx        opset 13, input x [N, 3, 8, 8]: a Conv in the main graph, then If(mean > 0)
                          whose branches each hold a Conv (left in float: calibr8 says so);
                          GlobalAveragePool.
  if_only.onnx            opset 13, input x [N, 3, 8, 8]: If(mean(x) > 0) whose branches each hold a
                          Conv of x: nothing in the main graph to quantize (the error names the If).
  contrib_quantized.onnx  opset 13 + com.microsoft 1, input x [N, 8]: ONNX Runtime's contrib
                          DynamicQuantizeMatMul (what quantize_dynamic writes for MatMul with
                          its contrib ops): refused as already quantized, not for its domain.
  depthwise_separable.onnx  opset 13, input x [N, 4, 8, 8]: pointwise Conv 4->8 + Relu, depthwise
                          Conv 3x3 whose 8 channels' weights span 300x (the next pointwise Conv
                          reads them with the inverse scale, as trained depthwise stacks end up),
                          Relu, pointwise Conv 8->6, Clip(0, 6), pointwise Conv 6->4, global average
                          pool: two Conv-Relu-Conv pairs cross-layer equalization may rescale, one
                          Conv-Clip-Conv pair it must not.
  *_calib.npy             float32 calibration batches for x (named like the model; NCHW).
Every model passes onnx.checker.check_model(full_check=True) and runs in ONNX Runtime.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "issue11")


def f32(rng, shape, scale=0.3):
    return rng.normal(0, scale, shape).astype(np.float32)


def bn_params(rng, prefix, channels):
    """Inference-mode BatchNormalization parameters with non-trivial statistics."""
    return [
        numpy_helper.from_array(rng.uniform(0.5, 1.5, channels).astype(np.float32), f"{prefix}.gamma"),
        numpy_helper.from_array(rng.normal(0, 0.2, channels).astype(np.float32), f"{prefix}.beta"),
        numpy_helper.from_array(rng.normal(0, 0.3, channels).astype(np.float32), f"{prefix}.mean"),
        numpy_helper.from_array(rng.uniform(0.2, 2.0, channels).astype(np.float32), f"{prefix}.var"),
    ]


def bn_node(prefix, x, y):
    return helper.make_node(
        "BatchNormalization",
        [x, f"{prefix}.gamma", f"{prefix}.beta", f"{prefix}.mean", f"{prefix}.var"],
        [y],
        name=prefix,
        epsilon=1e-5,
    )


def dim(d):
    """A shape entry: int -> dim_value, str -> dim_param, None -> neither (unknown)."""
    out = onnx.TensorShapeProto.Dimension()
    if isinstance(d, int):
        out.dim_value = d
    elif isinstance(d, str):
        out.dim_param = d
    return out


def value_info(name, elem, dims):
    v = helper.make_tensor_value_info(name, elem, None)
    shape = v.type.tensor_type.shape
    shape.dim.extend([dim(d) for d in dims])
    return v


def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(OUT, name))


def unknown_dims(rng):
    inits = [
        numpy_helper.from_array(f32(rng, (8, 3, 3, 3)), "conv1.weight"),
        numpy_helper.from_array(f32(rng, (8, 8, 3, 3), 0.2), "conv2.weight"),
        numpy_helper.from_array(f32(rng, (8,), 0.1), "conv2.bias"),
        numpy_helper.from_array(f32(rng, (8, 4), 0.5), "fc.weight"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus_one"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        *bn_params(rng, "bn1", 8),
        *bn_params(rng, "bn2", 8),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv1.weight"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        bn_node("bn1", "c1", "b1"),
        helper.make_node("Relu", ["b1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "conv2.weight", "conv2.bias"], ["c2"], name="conv2",
                         pads=[1, 1, 1, 1], strides=[2, 2]),
        bn_node("bn2", "c2", "b2"),
        helper.make_node("GlobalAveragePool", ["b2"], ["pooled"], name="gap"),
        # Paddle's flatten: the batch from Shape at run time, through a float Cast and back.
        helper.make_node("Shape", ["pooled"], ["pooled_shape"], name="shape"),
        helper.make_node("Slice", ["pooled_shape", "zero", "one"], ["batch"], name="batch_slice"),
        helper.make_node("Cast", ["batch"], ["batch_f"], name="batch_to_float", to=TensorProto.FLOAT),
        helper.make_node("Cast", ["batch_f"], ["batch_i"], name="batch_to_int", to=TensorProto.INT64),
        helper.make_node("Concat", ["batch_i", "minus_one"], ["flat_shape"], name="flat_shape", axis=0),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "fc.weight"], ["logits"], name="fc"),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1),
    ]
    x = value_info("x", TensorProto.FLOAT, [-1, 3, None, None])
    x.type.tensor_type.shape.dim[0].dim_value = -1  # paddle2onnx writes -1 for the batch
    graph = helper.make_graph(nodes, "unknown_dims", [x], [value_info("y", TensorProto.FLOAT, [-1, 4])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="calibr8-tests")
    m.ir_version = 7
    # dim_value -1 is what the real file holds; the checker accepts it only as a shape entry.
    save(m, "unknown_dims.onnx")
    np.save(os.path.join(OUT, "unknown_dims_calib.npy"), rng.normal(0, 1, (8, 3, 16, 20)).astype(np.float32))


def symbolic_hw(rng):
    inits = [
        numpy_helper.from_array(f32(rng, (8, 3, 3, 3)), "stem.weight"),
        numpy_helper.from_array(f32(rng, (8,), 0.1), "stem.bias"),
        numpy_helper.from_array(f32(rng, (8, 8, 3, 3), 0.2), "down.weight"),
        numpy_helper.from_array(f32(rng, (16, 4, 2, 2), 0.2), "up.weight"),
        numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "up_scales"),
        numpy_helper.from_array(np.array([], dtype=np.float32), "no_roi"),
        numpy_helper.from_array(f32(rng, (1, 8, 1, 1), 0.5), "head.weight"),
        *bn_params(rng, "up_bn", 8),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "stem.weight", "stem.bias"], ["s"], name="stem", pads=[1, 1, 1, 1],
                         strides=[2, 2]),
        helper.make_node("Relu", ["s"], ["s_relu"], name="stem_relu"),
        helper.make_node("AveragePool", ["s_relu"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p", "down.weight"], ["d"], name="down", pads=[1, 1, 1, 1]),
        helper.make_node("Resize", ["d", "no_roi", "up_scales"], ["d_up"], name="resize", mode="nearest"),
        helper.make_node("Concat", ["s_relu", "d_up"], ["cat"], name="concat", axis=1),
        helper.make_node("ConvTranspose", ["cat", "up.weight"], ["u"], name="up", strides=[2, 2], group=2),
        bn_node("up_bn", "u", "u_bn"),
        helper.make_node("Relu", ["u_bn"], ["u_relu"], name="up_relu"),
        helper.make_node("Conv", ["u_relu", "head.weight"], ["h"], name="head"),
        helper.make_node("Sigmoid", ["h"], ["y"], name="sigmoid"),
    ]
    x = value_info("x", TensorProto.FLOAT,
                   ["p2o.DynamicDimension.0", 3, "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"])
    y = value_info("y", TensorProto.FLOAT,
                   ["p2o.DynamicDimension.3", 1, "p2o.DynamicDimension.4", "p2o.DynamicDimension.5"])
    graph = helper.make_graph(nodes, "symbolic_hw", [x], [y], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], producer_name="calibr8-tests")
    m.ir_version = 8
    save(m, "symbolic_hw.onnx")
    np.save(os.path.join(OUT, "symbolic_hw_calib.npy"), rng.normal(0, 1, (4, 3, 32, 48)).astype(np.float32))


def stale_value_info(rng):
    inits = [
        numpy_helper.from_array(f32(rng, (8, 3, 3, 3)), "conv.weight"),
        numpy_helper.from_array(np.array([0, 4, 2, 24], dtype=np.int64), "heads_shape"),
        numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(f32(rng, (6, 192), 0.05), "fc.weight"),
        numpy_helper.from_array(f32(rng, (6,), 0.1), "fc.bias"),
        *bn_params(rng, "bn", 8),
        *bn_params(rng, "fc_bn", 6),
    ]
    nodes = [
        helper.make_node("Identity", ["x"], ["x_id"], name="x_identity"),
        helper.make_node("Conv", ["x_id", "conv.weight"], ["c"], name="conv", pads=[1, 1, 1, 1],
                         strides=[2, 2]),
        bn_node("bn", "c", "b"),
        helper.make_node("Identity", ["b"], ["b_id"], name="b_identity"),
        helper.make_node("Reshape", ["b_id", "heads_shape"], ["heads"], name="to_heads"),
        helper.make_node("Softmax", ["heads"], ["attn"], name="softmax", axis=2),
        helper.make_node("Reshape", ["b_id", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["fc"], name="fc", transB=1),
        bn_node("fc_bn", "fc", "y2"),
        helper.make_node("Identity", ["attn"], ["y1"], name="y1_identity"),
    ]
    x = value_info("x", TensorProto.FLOAT, ["DynamicDimension.0", 3, 8, 12])
    outputs = [
        value_info("y1", TensorProto.FLOAT, ["Identity_o0__d0", 4, 2, 24]),
        value_info("y2", TensorProto.FLOAT, ["Gemm_o0__d0", 6]),
    ]
    stale = [
        value_info("x_id", TensorProto.FLOAT, ["N", 3, 8, 12]),
        value_info("c", TensorProto.FLOAT, ["N", 8, 4, 6]),
        value_info("b", TensorProto.FLOAT, ["N", 8, 4, 6]),
        value_info("b_id", TensorProto.FLOAT, ["N", 8, 4, 6]),
        value_info("heads", TensorProto.FLOAT, ["N", 4, 2, 24]),
        value_info("attn", TensorProto.FLOAT, ["N", 4, 2, 24]),
        value_info("flat", TensorProto.FLOAT, ["N", 192]),
        value_info("fc", TensorProto.FLOAT, ["N", 6]),
    ]
    graph = helper.make_graph(nodes, "stale_value_info", [x], outputs, inits, value_info=stale)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="calibr8-tests")
    m.ir_version = 10
    # The checker's shape inference would merge 'N' with DynamicDimension.0 and accept the file;
    # tract unifies symbols by name and refuses it, which is the failure reproduced here.
    save(m, "stale_value_info.onnx")
    np.save(os.path.join(OUT, "stale_value_info_calib.npy"), rng.normal(0, 1, (6, 3, 8, 12)).astype(np.float32))


def conv_integer(rng):
    w = rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8)
    inits = [
        numpy_helper.from_array(w.astype(np.uint8), "w_q"),
        numpy_helper.from_array(np.array(0.01, dtype=np.float32), "w_scale"),
    ]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["x_q", "x_scale", "x_zp"], name="x_quant"),
        helper.make_node("ConvInteger", ["x_q", "w_q", "x_zp"], ["acc"], name="conv_int"),
        helper.make_node("Cast", ["acc"], ["acc_f"], name="to_float", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x_scale", "w_scale"], ["scale"], name="scale"),
        helper.make_node("Mul", ["acc_f", "scale"], ["y"], name="dequant"),
    ]
    graph = helper.make_graph(
        nodes, "conv_integer", [value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [value_info("y", TensorProto.FLOAT, ["N", 4, 6, 6])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="calibr8-tests")
    m.ir_version = 8
    save(m, "conv_integer.onnx")
    np.save(os.path.join(OUT, "conv_integer_calib.npy"), rng.normal(0, 1, (4, 3, 8, 8)).astype(np.float32))


def if_branches(rng):
    inits = [
        numpy_helper.from_array(f32(rng, (4, 3, 3, 3)), "conv.weight"),
        numpy_helper.from_array(f32(rng, (4, 4, 1, 1)), "a.weight"),
        numpy_helper.from_array(f32(rng, (4, 4, 1, 1)), "b.weight"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
    ]

    def branch(tag):
        return helper.make_graph(
            [helper.make_node("Conv", ["c", f"{tag}.weight"], [f"{tag}_out"], name=f"{tag}_conv")],
            f"branch_{tag}", [], [value_info(f"{tag}_out", TensorProto.FLOAT, ["N", 4, 8, 8])])

    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("ReduceMean", ["c"], ["mean"], name="mean", keepdims=0),
        helper.make_node("Greater", ["mean", "zero"], ["use_a"], name="positive"),
        helper.make_node("If", ["use_a"], ["branched"], name="choose",
                         then_branch=branch("a"), else_branch=branch("b")),
        helper.make_node("GlobalAveragePool", ["branched"], ["y"], name="gap"),
    ]
    graph = helper.make_graph(
        nodes, "if_branches", [value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [value_info("y", TensorProto.FLOAT, ["N", 4, 1, 1])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="calibr8-tests")
    m.ir_version = 8
    save(m, "if_branches.onnx")
    np.save(os.path.join(OUT, "if_branches_calib.npy"), rng.normal(0, 1, (4, 3, 8, 8)).astype(np.float32))


def if_only(rng):
    inits = [
        numpy_helper.from_array(f32(rng, (4, 3, 3, 3)), "a.weight"),
        numpy_helper.from_array(f32(rng, (4, 3, 3, 3)), "b.weight"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
    ]

    def branch(tag):
        return helper.make_graph(
            [helper.make_node("Conv", ["x", f"{tag}.weight"], [f"{tag}_out"], name=f"{tag}_conv",
                              pads=[1, 1, 1, 1])],
            f"branch_{tag}", [], [value_info(f"{tag}_out", TensorProto.FLOAT, ["N", 4, 8, 8])])

    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], name="mean", keepdims=0),
        helper.make_node("Greater", ["mean", "zero"], ["use_a"], name="positive"),
        helper.make_node("If", ["use_a"], ["y"], name="choose",
                         then_branch=branch("a"), else_branch=branch("b")),
    ]
    graph = helper.make_graph(
        nodes, "if_only", [value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="calibr8-tests")
    m.ir_version = 8
    save(m, "if_only.onnx")
    np.save(os.path.join(OUT, "if_only_calib.npy"), rng.normal(0, 1, (4, 3, 8, 8)).astype(np.float32))


def contrib_quantized(rng):
    inits = [
        numpy_helper.from_array(rng.integers(-100, 100, (8, 4)).astype(np.int8), "w_q"),
        numpy_helper.from_array(np.array(0.01, dtype=np.float32), "w_scale"),
    ]
    nodes = [helper.make_node("DynamicQuantizeMatMul", ["x", "w_q", "w_scale"], ["y"],
                              name="matmul_q", domain="com.microsoft")]
    graph = helper.make_graph(
        nodes, "contrib_quantized", [value_info("x", TensorProto.FLOAT, ["N", 8])],
        [value_info("y", TensorProto.FLOAT, ["N", 4])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid("com.microsoft", 1)],
                          producer_name="calibr8-tests")
    m.ir_version = 8
    save(m, "contrib_quantized.onnx")
    np.save(os.path.join(OUT, "contrib_quantized_calib.npy"), rng.normal(0, 1, (4, 8)).astype(np.float32))


def depthwise_separable(rng):
    spread = np.geomspace(0.01, 3.0, 8).astype(np.float32)  # per depthwise channel
    dw = f32(rng, (8, 1, 3, 3)) * spread.reshape(8, 1, 1, 1)
    pw2 = f32(rng, (6, 8, 1, 1)) / spread.reshape(1, 8, 1, 1)
    inits = [
        numpy_helper.from_array(f32(rng, (8, 4, 1, 1)), "pw1.weight"),
        numpy_helper.from_array(f32(rng, (8,), 0.1), "pw1.bias"),
        numpy_helper.from_array(dw.astype(np.float32), "dw.weight"),
        numpy_helper.from_array((f32(rng, (8,), 0.1) * spread).astype(np.float32), "dw.bias"),
        numpy_helper.from_array(pw2.astype(np.float32), "pw2.weight"),
        numpy_helper.from_array(f32(rng, (4, 6, 1, 1)), "pw3.weight"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "lo"),
        numpy_helper.from_array(np.array(6.0, dtype=np.float32), "hi"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "pw1.weight", "pw1.bias"], ["a"], name="pw1"),
        helper.make_node("Relu", ["a"], ["a_relu"], name="pw1_relu"),
        helper.make_node("Conv", ["a_relu", "dw.weight", "dw.bias"], ["d"], name="dw", group=8,
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["d"], ["d_relu"], name="dw_relu"),
        helper.make_node("Conv", ["d_relu", "pw2.weight"], ["p"], name="pw2"),
        helper.make_node("Clip", ["p", "lo", "hi"], ["p_clip"], name="pw2_relu6"),
        helper.make_node("Conv", ["p_clip", "pw3.weight"], ["q"], name="pw3"),
        helper.make_node("GlobalAveragePool", ["q"], ["y"], name="gap"),
    ]
    graph = helper.make_graph(
        nodes, "depthwise_separable", [value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [value_info("y", TensorProto.FLOAT, ["N", 4, 1, 1])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="calibr8-tests")
    m.ir_version = 8
    save(m, "depthwise_separable.onnx")
    np.save(os.path.join(OUT, "depthwise_separable_calib.npy"),
            np.abs(rng.normal(0, 1, (16, 4, 8, 8))).astype(np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    unknown_dims(np.random.default_rng(111))
    symbolic_hw(np.random.default_rng(112))
    stale_value_info(np.random.default_rng(113))
    conv_integer(np.random.default_rng(114))
    if_branches(np.random.default_rng(115))
    if_only(np.random.default_rng(116))
    contrib_quantized(np.random.default_rng(117))
    depthwise_separable(np.random.default_rng(118))


if __name__ == "__main__":
    main()
