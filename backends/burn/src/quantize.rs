//! `quantize()` for burn modules: trace, then calibrate exactly as the ONNX path does.

use crate::error::{Error, Result};
use crate::trace::trace;
use burn::module::Module;
use burn::tensor::Tensor;
use burn_onnx::export::ExportOutput;
use calibr8_core::data::Batch;
use calibr8_core::{Backend, CalibrationData, QuantConfig, QuantizedModel};
use ndarray::ArrayD;

/// Calibrates a burn module and returns the same [`QuantizedModel`] the ONNX path returns, so
/// every exporter (`calibr8_core::export::write_artifacts`) and backend takes it unchanged.
///
/// `forward` is the model's inference function (`Model::forward`, or a closure); it is traced
/// once on `example_input` (see [`crate::trace`]: names are module paths, the batch axis is
/// dynamic). The traced graph is then calibrated on `calibration_batches`, in order, with the
/// tract backend, so the result is bit-identical to calibrating the model's ONNX export with
/// `calibr8::quantize` on the same batches. [`quantize_on`] takes another backend.
///
/// ```
/// use burn::nn::{Linear, LinearConfig, Relu};
/// use burn::prelude::*;
/// use burn::tensor::Distribution;
/// use calibr8_core::QuantConfig;
///
/// #[derive(Module, Debug)]
/// struct Mlp { fc1: Linear, relu: Relu, fc2: Linear }
/// impl Mlp {
///     fn forward(&self, x: Tensor<2>) -> Tensor<2> {
///         self.fc2.forward(self.relu.forward(self.fc1.forward(x)))
///     }
/// }
///
/// let device = Device::default();
/// let mlp = Mlp {
///     fc1: LinearConfig::new(4, 8).init(&device),
///     relu: Relu::new(),
///     fc2: LinearConfig::new(8, 2).init(&device),
/// };
/// let batches = (0..4).map(|_| Tensor::<2>::random([16, 4], Distribution::Default, &device));
/// let example = Tensor::zeros([1, 4], &device);
/// let q = calibr8_burn::quantize(&mlp, Mlp::forward, example, batches, &QuantConfig::default())?;
/// assert_eq!(q.tensors["fc1.weight"].params.scale.len(), 8); // per output channel
/// assert!(q.tensors.contains_key("fc1/relu/output")); // fc2's input
/// # Ok::<(), calibr8_burn::Error>(())
/// ```
pub fn quantize<M, const D: usize, O, F>(
    model: &M,
    forward: F,
    example_input: Tensor<D>,
    calibration_batches: impl IntoIterator<Item = Tensor<D>>,
    config: &QuantConfig,
) -> Result<QuantizedModel>
where
    M: Module,
    O: ExportOutput,
    F: Fn(&M, Tensor<D>) -> O,
{
    quantize_on(
        &calibr8_tract::TractBackend,
        model,
        forward,
        example_input,
        calibration_batches,
        config,
    )
}

/// [`quantize`] with the backend that runs the traced graph to capture activations.
pub fn quantize_on<M, const D: usize, O, F>(
    backend: &dyn Backend,
    model: &M,
    forward: F,
    example_input: Tensor<D>,
    calibration_batches: impl IntoIterator<Item = Tensor<D>>,
    config: &QuantConfig,
) -> Result<QuantizedModel>
where
    M: Module,
    O: ExportOutput,
    F: Fn(&M, Tensor<D>) -> O,
{
    let traced = trace(model, forward, example_input)?;
    let data = Batches::from_tensors(calibration_batches)?;
    // The ranges go back into the burn module by parameter path, where BatchNorm stays a
    // separate layer: weights must keep their names and values (no folding, no equalization;
    // a corrected bias would not reach the module either).
    let config = QuantConfig {
        fold_batchnorm: false,
        cross_layer_equalization: false,
        bias_correction: false,
        ..config.clone()
    };
    Ok(calibr8_core::quantize_with(backend, &traced.model, &data, &config)?)
}

/// Calibration batches held in memory exactly as given (no re-batching: the first batch sets
/// the histograms' bin width, so batch boundaries matter).
#[derive(Clone, Debug)]
pub struct Batches(Vec<Batch>);

impl Batches {
    /// Reads burn tensors (any device) into host arrays.
    pub fn from_tensors<const D: usize>(
        batches: impl IntoIterator<Item = Tensor<D>>,
    ) -> Result<Batches> {
        let batches = batches
            .into_iter()
            .enumerate()
            .map(|(ix, t)| {
                let array = to_ndarray(t, &format!("calibration batch {ix}"))?;
                Ok(calibr8_core::TensorMap::single(calibr8_core::data::UNNAMED, array))
            })
            .collect::<Result<Vec<_>>>()?;
        if batches.is_empty() {
            return Err(Error::Tensor {
                tensor: "calibration_batches".into(),
                reason: "is empty; pass at least one batch of representative inputs".into(),
            });
        }
        Ok(Batches(batches))
    }
}

impl CalibrationData for Batches {
    fn name(&self) -> String {
        "<burn tensors>".into()
    }
    fn num_batches(&self) -> Option<usize> {
        Some(self.0.len())
    }
    fn batches(&self) -> Box<dyn Iterator<Item = calibr8_core::Result<Batch>> + '_> {
        Box::new(self.0.iter().cloned().map(Ok))
    }
}

/// A float burn tensor as an f32 ndarray of the same shape.
pub fn to_ndarray<const D: usize>(tensor: Tensor<D>, what: &str) -> Result<ArrayD<f32>> {
    let dims = tensor.dims().to_vec();
    let values = tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Tensor { tensor: what.into(), reason: format!("{e:?}") })?;
    ArrayD::from_shape_vec(dims, values)
        .map_err(|e| Error::Tensor { tensor: what.into(), reason: e.to_string() })
}
