"""Minimal stand-in for torch: what NNI's quantization_speedup touches (nn.Module trees with
`named_modules` as torch implements it, the five module types NNI checks, `randn`, `device`,
`Tensor`, `onnx.export`). `onnx.export` delegates to the model's `trace_to_onnx`, which the test
defines to write what torch's exporter would write for the (possibly NNI-wrapped) model.
"""
import sys
import types

import numpy as np

__version__ = "1.12.1"


class device:
    def __init__(self, kind):
        self.kind = str(kind)

    def __eq__(self, other):
        return isinstance(other, device) and other.kind == self.kind

    def __hash__(self):
        return hash(self.kind)


class Tensor:
    def __init__(self, array):
        self.array = np.asarray(array, dtype=np.float32)
        self.device = device("cpu")

    def to(self, dev):
        return self

    def numpy(self):
        return self.array

    def size(self):
        return self.array.shape


def randn(*shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Tensor(np.random.default_rng(0).standard_normal(shape))


def as_tensor(a):
    return Tensor(a)


class Module:
    def __init__(self):
        object.__setattr__(self, "_modules", {})

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self.__dict__.pop(name, None)
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        modules = self.__dict__.get("_modules", {})
        if name in modules:
            return modules[name]
        raise AttributeError(name)

    # torch.nn.Module.named_modules, same traversal.
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if self not in memo:
            if remove_duplicate:
                memo.add(self)
            yield prefix, self
            for name, module in self._modules.items():
                if module is None:
                    continue
                submodule_prefix = prefix + ("." if prefix else "") + name
                yield from module.named_modules(memo, submodule_prefix, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def to(self, dev):
        return self

    def eval(self):
        return self


nn = types.ModuleType("torch.nn")
nn.Module = Module
for _name in ["Conv2d", "Linear", "ReLU", "ReLU6", "MaxPool2d", "Sequential", "AdaptiveAvgPool2d", "BatchNorm2d"]:
    setattr(nn, _name, type(_name, (Module,), {}))

onnx = types.ModuleType("torch.onnx")


def _export(model, args, f, verbose=False, input_names=None, output_names=None, export_params=True, **kw):
    model.trace_to_onnx(f, input_names=input_names or [], output_names=output_names or [])


onnx.export = _export

utils = types.ModuleType("torch.utils")
utils.data = types.ModuleType("torch.utils.data")
utils.data.dataloader = types.ModuleType("torch.utils.data.dataloader")
utils.data.dataloader.DataLoader = type("DataLoader", (), {})

for _m in [nn, onnx, utils, utils.data, utils.data.dataloader]:
    sys.modules[_m.__name__] = _m
