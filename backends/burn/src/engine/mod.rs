//! An ONNX graph interpreter over burn tensors.
