//! `BurnBackend`: runs a model (fp32, or simulated int8) on burn tensors.
//!
//! The engine interprets the ONNX graph with burn ops on a burn [`Device`] (the pure-Rust Flex
//! CPU device by default; any device burn was built with, e.g. `Device::cuda(0)` with this
//! crate's `cuda` feature). A [`Lowering::Quantized`] model runs as its QDQ export
//! ([`calibr8_core::export::qdq_model`]), the artifact tract and ONNX Runtime run too: int8
//! weights behind DequantizeLinear, a QuantizeLinear/DequantizeLinear pair after every quantized
//! activation, read by exactly the consumers the plan chose (nodes excluded by `node_precision`
//! read the float tensor). Q/DQ follow the ONNX definition (`x / scale`, round half to even,
//! saturate, per-axis scales), so burn and tract differ only by float summation order and, at
//! exact rounding ties of that order, by one quantization step. Float runs in fp32 (nodes that
//! `node_precision` keeps in fp16 too, as on tract); asking for fp16 float lowering is an error.
//!
//! ```
//! use calibr8_burn::backend::BurnBackend;
//! use calibr8_core::{Backend, EngineOptions, Lowering, OnnxModel, TensorMap};
//! let model = OnnxModel::load("../../examples/digits/digits_cnn.onnx")?;
//! let options = EngineOptions { capture: vec!["relu1_out".into()], ..Default::default() };
//! let mut engine = BurnBackend::default().prepare(Lowering::Float(&model), &options)?;
//! let out = engine.run(TensorMap::single("input", ndarray::ArrayD::<f32>::zeros(vec![2, 1, 8, 8])))?;
//! assert_eq!(out.f32("logits")?.shape(), &[2, 10]);
//! assert_eq!(out.f32("relu1_out")?.shape(), &[2, 16, 8, 8]);
//! # Ok::<(), calibr8_core::Error>(())
//! ```

use crate::engine::Interpreter;
use burn::tensor::Device;
use calibr8_core::{Backend, Engine, EngineOptions, Error, Lowering, Precision, Result, TensorMap};

/// The burn backend: an ONNX interpreter over burn tensors on `device`.
#[derive(Clone, Debug)]
pub struct BurnBackend {
    device: Device,
}

impl BurnBackend {
    /// A backend on `device` (e.g. `Device::flex()`, or `Device::cuda(0)` with the `cuda`
    /// feature).
    pub fn new(device: Device) -> BurnBackend {
        BurnBackend { device }
    }

    /// The device engines run on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl Default for BurnBackend {
    /// The Flex CPU device: pure Rust, always built.
    fn default() -> Self {
        BurnBackend::new(Device::flex())
    }
}

/// A prepared model on a burn device.
pub struct BurnEngine {
    interpreter: Interpreter,
}

impl Backend for BurnBackend {
    fn name(&self) -> &str {
        "burn"
    }

    fn prepare(&self, lowering: Lowering<'_>, options: &EngineOptions) -> Result<Box<dyn Engine>> {
        // Fail loud rather than hand back an fp32 number labelled fp16.
        if let Some(p @ (Precision::Fp16 | Precision::Int8)) = options.float_precision {
            return Err(Error::Unsupported {
                backend: self.name().into(),
                what: format!(
                    "float lowering in {p}: it runs float in fp32 only; leave \
                     EngineOptions::float_precision unset or Fp32 (the TensorRT backend runs fp16)"
                ),
            });
        }
        let quantized;
        let model = match lowering {
            Lowering::Float(m) => m,
            Lowering::Quantized(q) => {
                quantized = calibr8_core::export::qdq_model(q)?;
                &quantized
            }
        };
        let interpreter = Interpreter::new(model, &options.capture, self.device.clone())?;
        Ok(Box::new(BurnEngine { interpreter }))
    }
}

impl Engine for BurnEngine {
    fn input_names(&self) -> &[String] {
        self.interpreter.input_names()
    }

    fn output_names(&self) -> &[String] {
        self.interpreter.output_names()
    }

    fn run(&mut self, inputs: TensorMap) -> Result<TensorMap> {
        self.interpreter.run(inputs)
    }
}
