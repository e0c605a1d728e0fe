"""Recording stand-in for TensorRT's Python API: what NNI's quantization_speedup calls, no more.

The OnnxParser builds the network the way onnx-tensorrt names it: one layer per ONNX node named
after the node, tensors named after the ONNX tensors. Gemm becomes the layers NNI's own code
expects: before 8.5, Shuffle -> FullyConnected (named after the node) -> Shuffle (what 2.10.1's
`handle_gemm` indexes as layer-1/layer/layer+1); from 8.5, Constant(weight) -> MatrixMultiply
(named after the node) and Constant(bias) -> Shuffle -> ElementWise (the graph 3.0's
`_handle_gemm` docstring draws). Internal tensors carry `stands_for`, the ONNX tensor whose
values they hold. Every dynamic range, precision, output type and builder flag is recorded in
RECORD. With an int8 calibrator, `build_engine` reads `read_calibration_cache()` as TensorRT
does (header version and algorithm must match, else it calibrates with `get_batch`).
"""
import os
import struct

import onnx

__version__ = os.environ.get("STANDIN_TRT_VERSION", "8.6.1")


def _version_tuple():
    return tuple(int(p) for p in __version__.split(".")[:3])


def header_number():
    major, minor, patch = _version_tuple()
    return major * 10000 + minor * 100 + patch if major >= 10 else major * 1000 + minor * 100 + patch


class DataType:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "DataType." + self.name


int8, float16, float32, int32 = DataType("INT8"), DataType("HALF"), DataType("FLOAT"), DataType("INT32")
bool = DataType("BOOL")  # noqa: A001 (TensorRT's own name)


class LayerType:
    CONSTANT = "CONSTANT"
    CONVOLUTION = "CONVOLUTION"
    ACTIVATION = "ACTIVATION"
    POOLING = "POOLING"
    ELEMENTWISE = "ELEMENTWISE"
    SHUFFLE = "SHUFFLE"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    MATRIX_MULTIPLY = "MATRIX_MULTIPLY"
    REDUCE = "REDUCE"
    OTHER = "OTHER"


class CalibrationAlgoType:
    LEGACY_CALIBRATION = "LegacyCalibration"
    ENTROPY_CALIBRATION = "EntropyCalibration"
    ENTROPY_CALIBRATION_2 = "EntropyCalibration2"
    MINMAX_CALIBRATION = "MinMaxCalibration"


class NetworkDefinitionCreationFlag:
    EXPLICIT_BATCH = 0


class BuilderFlag:
    INT8 = "INT8"
    FP16 = "FP16"
    STRICT_TYPES = "STRICT_TYPES"
    PREFER_PRECISION_CONSTRAINTS = "PREFER_PRECISION_CONSTRAINTS"


class Logger:
    ERROR, WARNING, INFO, VERBOSE = 1, 2, 3, 4

    def __init__(self, *args):
        pass

    def log(self, severity, msg):
        pass


class IInt8Calibrator:
    def __init__(self):
        pass


RECORD = {}


def reset():
    RECORD.clear()
    RECORD.update(ranges=[], precision={}, output_type={}, flags=[], calibration=None)


reset()


class ITensor:
    def __init__(self, name, stands_for=None, note=None):
        self.name = name
        self.stands_for = stands_for or name
        self.note = note
        self._range = None

    @property
    def dynamic_range(self):
        return self._range

    @dynamic_range.setter
    def dynamic_range(self, value):
        lo, hi = value
        self._range = (lo, hi)
        RECORD["ranges"].append(dict(tensor=self.name, stands_for=self.stands_for, note=self.note,
                                     lo=float(lo), hi=float(hi), by="nni"))


class ILayer:
    def __init__(self, name, type_, inputs, outputs):
        self.name, self.type = name, type_
        self._inputs, self._outputs = inputs, outputs
        self._precision = float32
        self._output_types = {}

    num_inputs = property(lambda self: len(self._inputs))
    num_outputs = property(lambda self: len(self._outputs))

    def get_input(self, i):
        return self._inputs[i] if i < len(self._inputs) else None

    def get_output(self, i):
        return self._outputs[i] if i < len(self._outputs) else None

    @property
    def precision(self):
        return self._precision

    @precision.setter
    def precision(self, dt):
        self._precision = dt
        RECORD["precision"][self.name] = dt

    def set_output_type(self, i, dt):
        self._output_types[i] = dt
        RECORD["output_type"][(self.name, i)] = dt

    def get_output_type(self, i):
        return self._output_types.get(i, float32)


class INetworkDefinition:
    def __init__(self):
        self.layers, self.inputs, self.outputs = [], [], []

    num_layers = property(lambda self: len(self.layers))
    num_inputs = property(lambda self: len(self.inputs))
    num_outputs = property(lambda self: len(self.outputs))

    def get_layer(self, i):
        return self.layers[i]

    def get_input(self, i):
        return self.inputs[i]

    def get_output(self, i):
        return self.outputs[i]

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


class OnnxParser:
    def __init__(self, network, logger):
        self.network = network
        self.num_errors = 0

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def get_error(self, i):
        return None

    def parse(self, data):
        model = onnx.load_from_string(data)
        g = model.graph
        inits = {t.name for t in g.initializer}
        net = self.network
        tensors = {}

        def tensor(name):
            if name not in tensors:
                tensors[name] = ITensor(name)
            return tensors[name]

        for vi in g.input:
            if vi.name not in inits:
                net.inputs.append(tensor(vi.name))
        unnamed = [0]

        def layer(name, type_, inputs, outputs):
            if not name:
                name = "(Unnamed Layer* %d) [%s]" % (len(net.layers), type_.title())
            net.layers.append(ILayer(name, type_, inputs, outputs))
            return net.layers[-1]

        fc_mode = _version_tuple() < (8, 5, 0)
        for n in g.node:
            acts = [tensor(i) for i in n.input if i and i not in inits]
            if n.op_type == "Gemm":
                a, y = n.input[0], n.output[0]
                if fc_mode:
                    t1 = ITensor(y + "__reshape_in", stands_for=a, note="Gemm input reshaped to 4-D")
                    t2 = ITensor(y + "__fc", stands_for=y, note="FullyConnected output (Gemm output before the reshape)")
                    layer("", LayerType.SHUFFLE, [tensor(a)], [t1])
                    layer(n.name, LayerType.FULLY_CONNECTED, [t1], [t2])
                    layer("", LayerType.SHUFFLE, [t2], [tensor(y)])
                else:
                    w = ITensor(n.input[1])
                    mm = ITensor(y + "__matmul", stands_for=y, note="MatrixMultiply output (Gemm output before the bias)")
                    layer(n.input[1], LayerType.CONSTANT, [], [w])
                    layer(n.name, LayerType.MATRIX_MULTIPLY, [tensor(a), w], [mm])
                    b = ITensor(n.input[2] + "__const")
                    layer(n.input[2], LayerType.CONSTANT, [], [b])
                    bs = ITensor(n.input[2] + "__shuffled")
                    layer("", LayerType.SHUFFLE, [b], [bs])
                    layer(n.name + "_1", LayerType.ELEMENTWISE, [mm, bs], [tensor(y)])
                continue
            type_ = {"Conv": LayerType.CONVOLUTION, "Relu": LayerType.ACTIVATION, "Clip": LayerType.ACTIVATION,
                     "MaxPool": LayerType.POOLING, "Add": LayerType.ELEMENTWISE, "Mul": LayerType.ELEMENTWISE,
                     "GlobalAveragePool": LayerType.REDUCE, "Flatten": LayerType.SHUFFLE}.get(n.op_type, LayerType.OTHER)
            if n.op_type == "Constant":
                continue  # folded into the layers that read it
            layer(n.name, type_, acts, [tensor(o) for o in n.output])
        for vi in g.output:
            net.outputs.append(tensor(vi.name))
        return True


class IBuilderConfig:
    def __init__(self):
        self.int8_calibrator = None
        self.max_workspace_size = 0
        self.profiles = []

    def set_flag(self, flag):
        RECORD["flags"].append(flag)

    def add_optimization_profile(self, p):
        self.profiles.append(p)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


class IOptimizationProfile:
    def set_shape(self, name, min, opt, max):  # noqa: A002 (TensorRT's names)
        self.shape = (name, min, opt, max)


class ICudaEngine:
    def __init__(self, network):
        self.network = network

    def create_execution_context(self):
        return object()

    def serialize(self):
        return b"standin-engine"


class Builder:
    def __init__(self, logger):
        self.max_batch_size = 1
        self.int8_calibrator = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def create_network(self, flags=0):
        return INetworkDefinition()

    def create_builder_config(self):
        return IBuilderConfig()

    def create_optimization_profile(self):
        return IOptimizationProfile()

    def build_engine(self, network, config):
        calib = config.int8_calibrator
        if calib is not None:
            _calibrate(network, calib)
        return ICudaEngine(network)


def _calibrate(network, calib):
    """TensorRT's use of an IInt8Calibrator: take the cache if its header matches, else run
    get_batch until it returns None."""
    algo = calib.get_algorithm()
    cache = calib.read_calibration_cache()
    if cache:
        lines = cache.decode().splitlines()
        header = "TRT-%d-%s" % (header_number(), algo)
        if lines[0] == header:
            scales = {}
            for line in lines[1:]:
                if line.strip():
                    name, hexbits = line.rsplit(": ", 1)
                    scales[name] = struct.unpack(">f", bytes.fromhex(hexbits))[0]
            by_name = {}
            for layer in network.layers:
                for t in layer._inputs + layer._outputs:
                    by_name[t.name] = t
            for t in network.inputs:
                by_name[t.name] = t
            unknown = sorted(set(scales) - set(by_name))
            for name, scale in scales.items():
                if name in by_name:
                    t = by_name[name]
                    amax = scale * 127.0
                    t._range = (-amax, amax)
                    RECORD["ranges"].append(dict(tensor=name, stands_for=t.stands_for, note=None,
                                                 lo=-amax, hi=amax, by="cache"))
            RECORD["calibration"] = dict(source="cache", entries=len(scales), unknown=unknown)
            return
        RECORD["calibration_rejected_header"] = lines[0]
    batches = 0
    while calib.get_batch(["input"]):
        batches += 1
    RECORD["calibration"] = dict(source="get_batch", batches=batches)
