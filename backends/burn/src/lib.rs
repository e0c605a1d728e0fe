//! calibr8-burn: int8 calibration for burn modules, and burn as a calibr8 backend.
//!
//! * [`quantize`]: calibrate any `#[derive(Module)]` model from training code. The forward
//!   pass is traced to ONNX by burn-onnx ([`trace`]), nodes and tensors are renamed after
//!   module paths (`conv1`, `conv1/relu/output`, weights `conv1.weight`), and the graph is
//!   calibrated exactly as `calibr8::quantize` calibrates an ONNX file: the result is the same
//!   [`QuantizedModel`](calibr8_core::QuantizedModel), for every exporter and backend.
//! * The reverse direction: [`fake_quant_weights`] ([`FakeQuantWeights`], a burn
//!   `ModuleMapper`) puts the int8 weight scales back into the module, and
//!   [`ActivationFakeQuant`] fake-quantizes activations where a forward pass asks, so int8
//!   accuracy is measured in the user's own burn evaluation loop.
//! * [`backend`]: burn as a calibr8 `Backend` (fp32 and simulated int8 on burn's device).
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use burn::prelude::*;
//!
//! #[derive(Module, Debug)]
//! struct Net { fc: Linear }
//!
//! let device = Device::default();
//! let net = Net { fc: LinearConfig::new(3, 2).init(&device) };
//! let batches = vec![Tensor::<2>::ones([4, 3], &device)];
//! let q = calibr8_burn::quantize(
//!     &net,
//!     |n: &Net, x: Tensor<2>| n.fc.forward(x),
//!     Tensor::zeros([1, 3], &device),
//!     batches,
//!     &calibr8_core::QuantConfig::default(),
//! )?;
//! let int8_net = calibr8_burn::fake_quant_weights(net, &q)?;
//! # let _ = int8_net;
//! # Ok::<(), calibr8_burn::Error>(())
//! ```
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod backend;
mod engine;
mod error;
mod fake_quant;
mod names;
mod quantize;
mod trace;

pub use backend::BurnBackend;
pub use error::{Error, Result};
pub use fake_quant::{
    fake_quant_tensor, fake_quant_weights, ActivationFakeQuant, FakeQuantWeights,
};
pub use quantize::{quantize, quantize_on, to_ndarray, Batches};
pub use trace::{trace, Traced};
