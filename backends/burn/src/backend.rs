//! `BurnBackend`: runs a model (fp32, or simulated int8) on burn tensors.
