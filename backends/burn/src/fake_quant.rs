//! The reverse direction: a [`QuantizedModel`]'s int8 parameters applied back to the burn module,
//! so int8 accuracy can be measured inside the user's own burn evaluation loop.
//!
//! Weights: [`FakeQuantWeights`] is a [`ModuleMapper`] that replaces every parameter the model
//! quantized (by parameter path, `conv1.weight`) with `dequantize(quantize(w))`, per channel,
//! with the exact arithmetic of ONNX `QuantizeLinear` / `DequantizeLinear` (round half to even,
//! the narrow `[-127, 127]` range for TensorRT weights). Activations: [`ActivationFakeQuant`]
//! does the same to a tensor at a point the user names in their forward pass.

use crate::error::{Error, Result};
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};
use calibr8_calibration::QuantParams;
use calibr8_core::plan::TensorRole;
use calibr8_core::QuantizedModel;
use std::collections::BTreeMap;

/// Applies `quantized`'s weight scales to `module` (see [`FakeQuantWeights`]) and returns the
/// fake-quantized module. Every quantized weight must match a parameter of the module.
///
/// ```no_run
/// # fn demo<M: burn::module::Module>(model: M, q: &calibr8_core::QuantizedModel) -> calibr8_burn::Result<()> {
/// let int8_model = calibr8_burn::fake_quant_weights(model, q)?;
/// // ... run your usual burn evaluation loop on int8_model ...
/// # Ok(()) }
/// ```
pub fn fake_quant_weights<M: Module>(module: M, quantized: &QuantizedModel) -> Result<M> {
    let mut mapper = FakeQuantWeights::new(quantized);
    let module = module.map(&mut mapper);
    mapper.finish()?;
    Ok(module)
}

/// A [`ModuleMapper`] that fake-quantizes the parameters a [`QuantizedModel`] quantized.
///
/// Parameter paths are matched to quantized tensor names: [`crate::quantize`] traces modules
/// so that weights keep their parameter paths (`features.0.conv.weight`), and its weight
/// layout is burn's own (Conv `[out, in, kh, kw]` channel axis 0, Linear `[in, out]` channel
/// axis 1), so scales apply as they are.
#[derive(Debug)]
pub struct FakeQuantWeights<'a> {
    quantized: &'a QuantizedModel,
    path: Vec<String>,
    applied: Vec<String>,
    error: Option<Error>,
}

impl<'a> FakeQuantWeights<'a> {
    /// A mapper for `quantized`'s weights.
    pub fn new(quantized: &'a QuantizedModel) -> Self {
        FakeQuantWeights { quantized, path: Vec::new(), applied: Vec::new(), error: None }
    }

    /// The parameter paths fake-quantized so far.
    pub fn applied(&self) -> &[String] {
        &self.applied
    }

    /// Ends the mapping: the first error met, or an error naming quantized weights that
    /// matched no parameter (a module other than the one calibrated).
    pub fn finish(self) -> Result<Vec<String>> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let missing: Vec<&str> = self
            .quantized
            .weights()
            .map(|t| t.target.tensor.as_str())
            .filter(|name| !self.applied.iter().any(|a| a == name))
            .collect();
        if let Some(first) = missing.first() {
            return Err(Error::Mismatch {
                tensor: (*first).to_string(),
                reason: format!(
                    "{} quantized weight(s) match no parameter of the module ({}); pass the \
                     module that was calibrated, or a QuantizedModel from calibr8_burn::quantize",
                    missing.len(),
                    missing.join(", ")
                ),
            });
        }
        Ok(self.applied)
    }
}

impl ModuleMapper for FakeQuantWeights<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.into());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.join(".");
        let Some(tq) = self.quantized.tensors.get(&name) else {
            return param;
        };
        if tq.target.role != TensorRole::Weight || self.error.is_some() {
            return param;
        }
        let value = param.val();
        match fake_quant_tensor(value, &tq.params, &name) {
            Ok(fq) => {
                self.applied.push(name);
                param.map(|_| fq)
            }
            Err(e) => {
                self.error = Some(e);
                param
            }
        }
    }
}

/// `dequantize(quantize(x))` elementwise, per channel along `params.axis` (or per tensor),
/// computed on the host with [`QuantParams::fake_quant_all`], then put back on `x`'s device.
pub fn fake_quant_tensor<const D: usize>(
    x: Tensor<D>,
    params: &QuantParams,
    name: &str,
) -> Result<Tensor<D>> {
    let device = x.device();
    let dims = x.dims();
    let values = crate::quantize::to_ndarray(x, name)?;
    let values: Vec<f32> = values.iter().copied().collect();
    let out = params.fake_quant_all(&values, &dims).ok_or_else(|| Error::Mismatch {
        tensor: name.into(),
        reason: format!(
            "{} scale(s) on axis {:?} do not fit a parameter shaped {dims:?}; recalibrate \
                 the module as it is now",
            params.scale.len(),
            params.axis
        ),
    })?;
    Ok(Tensor::from_data(TensorData::new(out, dims), &device))
}

/// Fake-quantization of activations, for a burn forward pass written to take it.
///
/// The quantized model knows which activations were observed (by default the inputs of every
/// Conv / MatMul); this names them by the module that consumes them, so a forward pass can call
/// `acts.input_of("fc1", x)` right before `self.fc1.forward(x)`. Points without a quantized
/// activation pass the tensor through unchanged.
#[derive(Clone, Debug, Default)]
pub struct ActivationFakeQuant {
    /// Quantized activation tensor → (scale, zero point, qmin, qmax).
    by_tensor: BTreeMap<String, (f32, i32, i32, i32)>,
    /// Node (module path) → the quantized activation it reads first.
    by_consumer: BTreeMap<String, String>,
}

impl ActivationFakeQuant {
    /// The activation parameters of `quantized` (per-tensor only; a per-channel activation is an
    /// error naming it).
    pub fn new(quantized: &QuantizedModel) -> Result<Self> {
        let mut by_tensor = BTreeMap::new();
        for t in quantized.activations() {
            let p = &t.params;
            if p.axis.is_some() || p.scale.len() != 1 {
                return Err(Error::Mismatch {
                    tensor: t.target.tensor.clone(),
                    reason: "per-channel activation quantization is not supported in burn \
                             fake-quant; configure activations per tensor"
                        .into(),
                });
            }
            by_tensor.insert(
                t.target.tensor.clone(),
                (p.scale[0], p.zero_point[0], p.spec.qmin(), p.spec.qmax()),
            );
        }
        let mut by_consumer = BTreeMap::new();
        for t in quantized.activations() {
            for node in &t.target.consumers {
                by_consumer.entry(node.clone()).or_insert_with(|| t.target.tensor.clone());
            }
        }
        Ok(ActivationFakeQuant { by_tensor, by_consumer })
    }

    /// Fake-quantizes `x` as the quantized input of the node (module path) `module`, e.g.
    /// `"conv2"` or `"fc"`; unchanged if that module's input is not quantized.
    pub fn input_of<const D: usize>(&self, module: &str, x: Tensor<D>) -> Tensor<D> {
        match self.by_consumer.get(module) {
            Some(tensor) => self.tensor(tensor, x),
            None => x,
        }
    }

    /// Fake-quantizes `x` as the quantized tensor `name` (e.g. `"conv1/relu/max_pool/output"`);
    /// unchanged if `name` is not quantized.
    pub fn tensor<const D: usize>(&self, name: &str, x: Tensor<D>) -> Tensor<D> {
        let Some(&(scale, zp, qmin, qmax)) = self.by_tensor.get(name) else {
            return x;
        };
        // x / scale in f32 then round half to even: QuantizeLinear's arithmetic.
        x.div_scalar(scale)
            .round()
            .add_scalar(zp as f32)
            .clamp(qmin as f32, qmax as f32)
            .sub_scalar(zp as f32)
            .mul_scalar(scale)
    }

    /// The module paths whose input is quantized, with that tensor's name.
    pub fn points(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_consumer.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
