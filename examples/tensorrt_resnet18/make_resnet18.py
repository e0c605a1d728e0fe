#!/usr/bin/env python3
"""Writes the ResNet18 of NNI's TensorRT speed-up example (CIFAR-10 style) as ONNX, with seeded
random weights, plus calibration inputs. Needs numpy and onnx only.

    python3 examples/tensorrt_resnet18/make_resnet18.py [--out target/examples]

Writes (git-ignored; 44 MB of weights must never be committed):
    <out>/resnet18.onnx        opset 13, input `input` float32 [N,3,32,32], output `logits` [N,10]
    <out>/resnet18_calib.npy   float32 [256,3,32,32] calibration inputs

Topology (torchvision's BasicBlock ResNet18 adapted to 32x32 inputs, as in NNI's example):
conv1 3x3/1 64 + bn1 + relu (no max pool), then 4 stages x 2 BasicBlocks with 64/128/256/512
channels and strides 1/2/2/2; a block is conv3x3-bn-relu-conv3x3-bn, plus the identity (or a
1x1/2 conv + bn downsample when the shape changes), Add, relu; then GlobalAveragePool, Flatten,
Gemm 512->10. Node names follow PyTorch's module names (`layer2.0.downsample.0`), weights are
`<node>.weight` / `<node>.bias`, BatchNormalization nodes are kept (TensorRT fuses them).

Weights: He (kaiming normal, fan_out) for convolutions, PyTorch's uniform default for the Gemm.
BatchNorm statistics are not trained; they are set so that activations keep unit scale, with the
second BN of each block scaled down (gamma 0.2..0.5) so the residual sum does not blow up over
eight blocks, much like a trained network. Everything is seeded: the files are identical on
every run.
"""

import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20240518
NUM_CLASSES = 10
CALIB_SAMPLES = 256


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.inits = []

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def conv(self, name, x, cin, cout, k, stride):
        fan_out = cout * k * k
        w = self.rng.normal(0.0, np.sqrt(2.0 / fan_out), (cout, cin, k, k)).astype(np.float32)
        self.const(f"{name}.weight", w)
        out = f"{name}_out"
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{name}.weight"],
                [out],
                name=name,
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=[k // 2] * 4,
            )
        )
        return out

    def bn(self, name, x, c, gamma_range=(0.8, 1.2)):
        gamma = self.rng.uniform(*gamma_range, c).astype(np.float32)
        beta = self.rng.normal(0.0, 0.1, c).astype(np.float32)
        mean = self.rng.normal(0.0, 0.1, c).astype(np.float32)
        # He-initialised convolutions on unit-scale inputs give outputs of about unit variance.
        var = self.rng.uniform(0.8, 1.2, c).astype(np.float32)
        names = [
            self.const(f"{name}.weight", gamma),
            self.const(f"{name}.bias", beta),
            self.const(f"{name}.running_mean", mean),
            self.const(f"{name}.running_var", var),
        ]
        out = f"{name}_out"
        self.nodes.append(
            helper.make_node("BatchNormalization", [x] + names, [out], name=name, epsilon=1e-5)
        )
        return out

    def relu(self, name, x):
        out = f"{name}_out"
        self.nodes.append(helper.make_node("Relu", [x], [out], name=name))
        return out

    def add(self, name, a, b):
        out = f"{name}_out"
        self.nodes.append(helper.make_node("Add", [a, b], [out], name=name))
        return out

    def basic_block(self, prefix, x, cin, cout, stride):
        y = self.conv(f"{prefix}.conv1", x, cin, cout, 3, stride)
        y = self.bn(f"{prefix}.bn1", y, cout)
        y = self.relu(f"{prefix}.relu1", y)
        y = self.conv(f"{prefix}.conv2", y, cout, cout, 3, 1)
        y = self.bn(f"{prefix}.bn2", y, cout, gamma_range=(0.2, 0.5))
        if stride != 1 or cin != cout:
            s = self.conv(f"{prefix}.downsample.0", x, cin, cout, 1, stride)
            s = self.bn(f"{prefix}.downsample.1", s, cout)
        else:
            s = x
        y = self.add(f"{prefix}.add", y, s)
        return self.relu(f"{prefix}.relu2", y)


def resnet18(rng):
    b = Builder(rng)
    x = b.conv("conv1", "input", 3, 64, 3, 1)
    x = b.bn("bn1", x, 64)
    x = b.relu("relu", x)
    cin = 64
    for stage, (cout, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
        for block in range(2):
            x = b.basic_block(f"layer{stage}.{block}", x, cin, cout, stride if block == 0 else 1)
            cin = cout
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["avgpool_out"], name="avgpool"))
    b.nodes.append(
        helper.make_node("Flatten", ["avgpool_out"], ["flatten_out"], name="flatten", axis=1)
    )
    bound = 1.0 / np.sqrt(512)
    b.const("fc.weight", rng.uniform(-bound, bound, (NUM_CLASSES, 512)).astype(np.float32))
    b.const("fc.bias", rng.uniform(-bound, bound, NUM_CLASSES).astype(np.float32))
    b.nodes.append(
        helper.make_node(
            "Gemm", ["flatten_out", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1
        )
    )
    graph = helper.make_graph(
        b.nodes,
        "resnet18_cifar10",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NUM_CLASSES])],
        b.inits,
    )
    model = helper.make_model(
        graph, producer_name="calibr8 make_resnet18.py", opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    return model


def calibration_images(rng, n):
    """Smooth random images, normalised per channel like CIFAR-10 inputs (mean 0, std ~1):
    8x8 colour blobs upsampled to 32x32 plus a little pixel noise."""
    coarse = rng.normal(0.0, 1.0, (n, 3, 8, 8)).astype(np.float32)
    images = np.kron(coarse, np.ones((1, 1, 4, 4), dtype=np.float32))
    images += rng.normal(0.0, 0.25, images.shape).astype(np.float32)
    images -= images.mean(axis=(0, 2, 3), keepdims=True)
    images /= images.std(axis=(0, 2, 3), keepdims=True)
    return images.astype(np.float32)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "target", "examples")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    rng = np.random.default_rng(SEED)
    model = resnet18(rng)
    model_path = os.path.join(args.out, "resnet18.onnx")
    onnx.save(model, model_path)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)

    calib = calibration_images(np.random.default_rng(SEED + 1), CALIB_SAMPLES)
    calib_path = os.path.join(args.out, "resnet18_calib.npy")
    np.save(calib_path, calib)

    kinds = {}
    for n in model.graph.node:
        kinds[n.op_type] = kinds.get(n.op_type, 0) + 1
    print(
        f"wrote {os.path.relpath(model_path)}: {len(model.graph.node)} nodes "
        f"({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}), "
        f"{params / 1e6:.2f} M parameters, {os.path.getsize(model_path) / 1e6:.1f} MB"
    )
    print(f"wrote {os.path.relpath(calib_path)}: float32 {list(calib.shape)}")


if __name__ == "__main__":
    main()
