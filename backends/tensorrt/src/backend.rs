//! [`TensorRtBackend`]: the [`Backend`] implementation, and [`TrtEngine`], which runs a built
//! engine on one CUDA stream with cudarc buffers.

use crate::device::{Device, IoBuffer, Timing};
use crate::engine_file::{self, EngineHeader};
use crate::inspect::LayerDump;
use crate::internal::*;
use crate::lower::{self, LoweringReport};
use crate::plan::{BatchProfile, TrtOptions, TrtPlan};
use crate::trt::{self, ExecutionContext, Logger, Runtime};
use calibr8_core::{Backend, Engine, EngineOptions, Lowering, TensorMap, TensorValue};
use calibr8_tensorrt_sys as sys;
use ndarray::ArrayD;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// TensorRT 10 as a calibr8 backend.
///
/// `check()` loads `libnvinfer.so.10` through the sys loader and opens the GPU; `prepare()`
/// plans ([`TrtPlan`]), lowers, builds and deserializes an engine. There is no fallback: when
/// TensorRT or the GPU is missing, both fail with what to install.
#[derive(Clone, Debug, Default)]
pub struct TensorRtBackend {
    /// Build options (mode, precision, batch profile, workspace).
    pub options: TrtOptions,
    /// CUDA device ordinal.
    pub device: usize,
}

impl TensorRtBackend {
    /// A backend with `options` on GPU 0.
    pub fn new(options: TrtOptions) -> TensorRtBackend {
        TensorRtBackend { options, device: 0 }
    }

    /// Plans `model` with this backend's options (and `options.batch`, when given, as the
    /// optimization profile's opt/max).
    pub fn plan(&self, model: Lowering<'_>, options: &EngineOptions) -> Result<TrtPlan> {
        let mut o = self.options.clone();
        if let Lowering::Float(_) = model {
            o.precision = options.float_precision.unwrap_or(match o.precision {
                Precision::Int8 => Precision::Fp32,
                p => p,
            });
        }
        if let Some(b) = options.batch {
            if b > o.batch.max || b < o.batch.min {
                o.batch = BatchProfile { min: 1.min(b), opt: b, max: b };
            }
        }
        TrtPlan::new(model, &o)
    }

    /// Builds the engine for `plan`: the serialized engine, its lowering report and the
    /// TensorRT version that built it.
    pub fn build(&self, plan: &TrtPlan) -> Result<(Vec<u8>, LoweringReport, u32)> {
        let api = trt::api()?;
        let logger = Logger::new()?;
        let built = lower::build(plan, &logger)?;
        Ok((built.plan, built.report, api.raw_version.max(0) as u32))
    }

    /// Builds and writes an engine file (with its TensorRT version) for `model`.
    pub fn save_engine(
        &self,
        model: Lowering<'_>,
        path: impl AsRef<Path>,
    ) -> Result<LoweringReport> {
        self.check()?;
        let plan = self.plan(model, &EngineOptions::default())?;
        let (bytes, report, version) = self.build(&plan)?;
        let desc = format!(
            "{} {:?} batch {:?}",
            plan.options.precision, plan.options.mode, plan.options.batch
        );
        engine_file::save_engine(path, &EngineHeader::new(version, desc), &bytes)?;
        Ok(report)
    }

    /// Loads an engine file written by [`TensorRtBackend::save_engine`], refusing one from
    /// another TensorRT version.
    pub fn load_engine(&self, path: impl AsRef<Path>) -> Result<TrtEngine> {
        self.check()?;
        let api = trt::api()?;
        let (_, bytes) = engine_file::load_engine(path, api.raw_version.max(0) as u32)?;
        TrtEngine::from_plan(&bytes, self.device, LoweringReport::default())
    }
}

impl Backend for TensorRtBackend {
    fn name(&self) -> &str {
        crate::BACKEND
    }

    fn check(&self) -> Result<()> {
        let api = trt::api()?;
        tracing::info!(target: "calibr8_tensorrt", version = %api.version, path = %api.path.display(), "TensorRT");
        crate::device::cuda_available().map_err(|why| Error::backend(crate::BACKEND, why))
    }

    fn prepare(&self, model: Lowering<'_>, options: &EngineOptions) -> Result<Box<dyn Engine>> {
        self.check()?;
        if !options.capture.is_empty() {
            return Err(Error::Unsupported {
                backend: crate::BACKEND.into(),
                what: "capturing intermediate tensors (use the tract backend for calibration)"
                    .into(),
            });
        }
        let plan = self.plan(model, options)?;
        for w in plan.warnings() {
            tracing::warn!(target: "calibr8_tensorrt", tensor = %w.tensor, layers = ?w.layers, "no calibrated range");
        }
        let (bytes, report, _) = self.build(&plan)?;
        Ok(Box::new(TrtEngine::from_plan(&bytes, self.device, report)?))
    }
}

/// Event timings of one engine: the enqueue alone, and with host↔device copies.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Benchmark {
    /// `enqueueV3` only (inputs already on the device).
    pub compute: Timing,
    /// Upload inputs, enqueue, download outputs.
    pub end_to_end: Timing,
}

/// A deserialized engine with its execution context, device buffers and stream.
pub struct TrtEngine {
    context: ExecutionContext,
    device: Arc<Device>,
    inputs: Vec<String>,
    outputs: Vec<String>,
    buffers: BTreeMap<String, IoBuffer>,
    shapes: BTreeMap<String, Vec<usize>>,
    /// What the lowering did (empty for engines loaded from a file).
    pub report: LoweringReport,
}

impl std::fmt::Debug for TrtEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrtEngine")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

impl TrtEngine {
    /// Deserializes `plan` on GPU `ordinal`.
    pub fn from_plan(plan: &[u8], ordinal: usize, report: LoweringReport) -> Result<TrtEngine> {
        // The CUDA context must exist (and be current) before TensorRT touches the GPU.
        let device = Arc::new(Device::new(ordinal)?);
        let logger = Logger::new()?;
        let runtime = Runtime::new(&logger)?;
        let engine = runtime.deserialize(plan)?;
        let io = engine.io_tensors()?;
        for t in &io {
            if t.data_type != sys::CALIBR8_TRT_DATA_TYPE_FLOAT {
                return Err(Error::Unsupported {
                    backend: crate::BACKEND.into(),
                    what: format!(
                        "I/O tensor '{}' of type {} (calibr8 engines take fp32 I/O)",
                        t.name,
                        trt::data_type_name(t.data_type)
                    ),
                });
            }
        }
        let context = engine.context()?;
        Ok(TrtEngine {
            context,
            device,
            inputs: io.iter().filter(|t| t.is_input).map(|t| t.name.clone()).collect(),
            outputs: io.iter().filter(|t| !t.is_input).map(|t| t.name.clone()).collect(),
            buffers: BTreeMap::new(),
            shapes: BTreeMap::new(),
            report,
        })
    }

    /// The per-layer precision dump of this engine.
    pub fn layers(&self) -> Result<LayerDump> {
        LayerDump::parse(&self.context.engine().inspector_json(Some(&self.context))?)
    }

    /// Sets input shapes, sizes buffers and binds addresses for `inputs`' shapes.
    fn bind(&mut self, inputs: &[ArrayD<f32>]) -> Result<()> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::backend(
                crate::BACKEND,
                format!(
                    "expected {} inputs ({:?}), got {}",
                    self.inputs.len(),
                    self.inputs,
                    inputs.len()
                ),
            ));
        }
        for (name, x) in self.inputs.clone().iter().zip(inputs) {
            let shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
            self.context.set_input_shape(name, &shape)?;
            self.ensure(name, x.shape().to_vec())?;
        }
        for name in self.outputs.clone() {
            let shape = self.context.tensor_shape(&name)?;
            if shape.iter().any(|&d| d < 0) {
                return Err(Error::backend(
                    crate::BACKEND,
                    format!("output '{name}' has unresolved shape {shape:?}"),
                ));
            }
            self.ensure(&name, shape.iter().map(|&d| d as usize).collect())?;
        }
        Ok(())
    }

    fn ensure(&mut self, name: &str, shape: Vec<usize>) -> Result<()> {
        let len: usize = shape.iter().product();
        let fits = self.buffers.get(name).is_some_and(|b| b.len >= len);
        if !fits {
            self.buffers.insert(name.to_string(), IoBuffer::new(&self.device, name, len)?);
        }
        let buf = self
            .buffers
            .get_mut(name)
            .ok_or_else(|| Error::backend(crate::BACKEND, "buffer vanished"))?;
        buf.len = buf.len.max(len);
        let address = self.device.device_address(&mut buf.device);
        // SAFETY: the buffer holds at least `len` f32 for this shape and lives in `self.buffers`
        // until replaced, which only happens here before the next enqueue.
        unsafe { self.context.set_tensor_address(name, address)? };
        self.shapes.insert(name.to_string(), shape);
        Ok(())
    }

    fn upload(&mut self, inputs: &[ArrayD<f32>]) -> Result<()> {
        for (name, x) in self.inputs.iter().zip(inputs) {
            let buf = self
                .buffers
                .get_mut(name)
                .ok_or_else(|| Error::backend(crate::BACKEND, "unbound input"))?;
            let x = x.as_standard_layout();
            buf.stage(x.as_slice().unwrap_or_default())?;
            self.device.upload(&buf.host, &mut buf.device)?;
        }
        Ok(())
    }

    fn enqueue(&mut self) -> Result<()> {
        // SAFETY: every I/O tensor is bound (bind) to a live buffer; the stream is the device's.
        unsafe { self.context.enqueue(self.device.raw_stream()) }
    }

    fn download(&mut self) -> Result<()> {
        for name in &self.outputs {
            let buf = self
                .buffers
                .get_mut(name)
                .ok_or_else(|| Error::backend(crate::BACKEND, "unbound output"))?;
            self.device.download(&buf.device, &mut buf.host)?;
        }
        Ok(())
    }

    /// Times the engine on `inputs`: `warmup` runs, then `runs` runs timed with CUDA events,
    /// once for the enqueue alone (inputs already on the device) and once with the copies.
    pub fn benchmark(
        &mut self,
        inputs: &[ArrayD<f32>],
        warmup: usize,
        runs: usize,
    ) -> Result<Benchmark> {
        self.bind(inputs)?;
        self.upload(inputs)?;
        self.device.synchronize()?;
        let device = self.device.clone();
        let compute = device.time(warmup, runs, |_| self.enqueue())?;
        let end_to_end = device.time(warmup, runs, |_| {
            self.upload(inputs)?;
            self.enqueue()?;
            self.download()
        })?;
        Ok(Benchmark { compute, end_to_end })
    }
}

impl Engine for TrtEngine {
    fn input_names(&self) -> &[String] {
        &self.inputs
    }

    fn output_names(&self) -> &[String] {
        &self.outputs
    }

    fn run(&mut self, mut named: TensorMap) -> Result<TensorMap> {
        // The engine's buffers are float32: other input types are refused by name, not cast.
        let inputs = self
            .inputs
            .iter()
            .map(|name| match named.remove(name) {
                Some(TensorValue::F32(a)) => Ok(a),
                Some(other) => Err(Error::Unsupported {
                    backend: crate::BACKEND.into(),
                    what: format!(
                        "input '{name}' of type {}: this backend binds float32 inputs only",
                        other.elem_type()
                    ),
                }),
                None => Err(Error::data(
                    name.as_str(),
                    "is a model input the batch gives no tensor for",
                )),
            })
            .collect::<Result<Vec<ArrayD<f32>>>>()?;
        self.bind(&inputs)?;
        self.upload(&inputs)?;
        self.enqueue()?;
        self.download()?;
        self.device.synchronize()?;
        self.outputs
            .iter()
            .map(|name| {
                let shape = self.shapes[name].clone();
                let len: usize = shape.iter().product();
                let buf = &self.buffers[name];
                let values = buf.host.as_slice().map_err(|e| {
                    Error::backend(crate::BACKEND, format!("CUDA pinned access failed: {e}"))
                })?[..len]
                    .to_vec();
                let array = ArrayD::from_shape_vec(shape, values)
                    .map_err(|e| Error::backend(crate::BACKEND, e))?;
                Ok((name.clone(), TensorValue::F32(array)))
            })
            .collect()
    }
}

// SAFETY note: TrtEngine is Send because each field is (ExecutionContext: Send by its own
// justification; Device, IoBuffer: cudarc types that are Send). No unsafe impl is needed.
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<TrtEngine>();
};
