//! calibr8-ort: ONNX Runtime as a calibr8 backend — the engine most users who do not deploy
//! TensorRT deploy. It runs a model in fp32 or its QDQ export (what calibr8 ships, so what is
//! compared is what is deployed), returns any intermediate tensor by its ONNX name (so
//! calibration, `calibr8 compare` and `calibr8 bench` run on it), on the CPU, CUDA or TensorRT
//! execution provider.
//!
//! ONNX Runtime is loaded at run time (see [`loader`] for the lookup order: `CALIBR8_ORT_LIB`,
//! `ORT_DYLIB_PATH`, the `onnxruntime` Python package, the system), so this crate builds
//! anywhere; without the library every call fails with "… Install onnxruntime
//! (pip install onnxruntime) or set CALIBR8_ORT_LIB=/path/to/libonnxruntime.so".
//!
//! ```no_run
//! use calibr8_core::{Backend, EngineOptions, Lowering, OnnxModel, TensorMap};
//! let model = OnnxModel::load("examples/digits/digits_cnn.onnx")?;
//! let backend = calibr8_ort::OrtBackend { threads: Some(1), ..Default::default() };
//! let options = EngineOptions { capture: vec!["relu1_out".into()], ..Default::default() };
//! let mut engine = backend.prepare(Lowering::Float(&model), &options)?;
//! let out = engine.run(TensorMap::single("input", ndarray::ArrayD::<f32>::zeros(vec![2, 1, 8, 8])))?;
//! assert_eq!(out.f32("relu1_out")?.shape(), &[2, 16, 8, 8]);
//! # Ok::<(), calibr8_core::Error>(())
//! ```
//!
//! ## TensorRT through ONNX Runtime with calibr8's calibration cache
//! [`Provider::TensorRt`] with [`TrtInt8::CalibrationTable`] runs the *float* model on
//! ONNX Runtime's TensorRT execution provider with int8 ranges from calibr8's
//! `calibration.cache`, read as a native TensorRT calibration table
//! (`trt_int8_enable=1`, `trt_int8_use_native_calibration_table=1`,
//! `trt_int8_calibration_table_name=<absolute path>`). The same three options work from Python:
//! `providers=[("TensorrtExecutionProvider", {"trt_int8_enable": True,
//! "trt_int8_use_native_calibration_table": True, "trt_int8_calibration_table_name":
//! "/abs/out/calibration.cache"})]`. [`TrtInt8::Qdq`] runs the QDQ export instead (explicit
//! quantization, the only way from TensorRT 11 on).
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod capture;
mod kernels;
pub mod loader;
pub mod providers;
mod sys;

pub use kernels::{cpu_kernels, Kernels};
pub use loader::LoadError;
pub use providers::{Provider, TensorRtOptions, TrtInt8};
pub use sys::Runtime;

use calibr8_core::export::{calibration_cache, qdq_model, TrtVersion};
use calibr8_core::{
    Backend, ElemType, Engine, EngineOptions, Error, Lowering, OnnxModel, Precision, Result,
    TensorMap,
};
use std::path::Path;

/// The name of this backend in errors and reports.
const NAME: &str = "ort";

/// The process-wide ONNX Runtime, loaded on first use (see [`loader`]). Only a success is kept.
pub fn runtime() -> std::result::Result<&'static Runtime, LoadError> {
    sys::runtime()
}

/// Loads ONNX Runtime from `path` (a file, or a folder holding `libonnxruntime.so`) instead of
/// searching; call it before anything else uses ONNX Runtime.
pub fn init_from(path: impl AsRef<Path>) -> std::result::Result<&'static Runtime, LoadError> {
    sys::init_from(path.as_ref())
}

/// ONNX Runtime as a calibr8 [`Backend`].
#[derive(Clone, Debug, Default)]
pub struct OrtBackend {
    /// Where sessions run.
    pub provider: Provider,
    /// Intra-op threads (`None`: ONNX Runtime's default, one per physical core). Set 1 for
    /// single-thread latency numbers.
    pub threads: Option<usize>,
}

impl OrtBackend {
    /// The CPU backend with `threads` intra-op threads.
    pub fn cpu(threads: Option<usize>) -> OrtBackend {
        OrtBackend { provider: Provider::Cpu, threads }
    }

    fn error(&self, reason: impl std::fmt::Display) -> Error {
        Error::backend(self.name(), reason)
    }

    fn runtime(&self) -> Result<&'static Runtime> {
        runtime().map_err(|e| self.error(e))
    }
}

impl Backend for OrtBackend {
    fn name(&self) -> &str {
        match self.provider {
            Provider::Cpu => NAME,
            Provider::Cuda { .. } => "ort-cuda",
            Provider::TensorRt(_) => "ort-tensorrt",
        }
    }

    /// Loads ONNX Runtime, and for a GPU provider checks that this ONNX Runtime build has it.
    /// Whether its libraries (CUDA, cuDNN, TensorRT) load is known when a session registers it.
    fn check(&self) -> Result<()> {
        let rt = self.runtime()?;
        match sys::provider_built_in(&self.provider) {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.error(format!(
                "not available: {} is not part of ONNX Runtime {} at {}. Install a GPU build \
                 (pip install onnxruntime-gpu) and set CALIBR8_ORT_LIB to its \
                 onnxruntime/capi/libonnxruntime.so.1.*",
                self.provider.ort_name(),
                rt.library.version,
                rt.library.path.display()
            ))),
            Err(e) => Err(self.error(e)),
        }
    }

    fn prepare(&self, lowering: Lowering<'_>, options: &EngineOptions) -> Result<Box<dyn Engine>> {
        let rt = self.runtime()?;
        let mut provider = self.provider.clone();
        match (options.float_precision, &mut provider) {
            (None | Some(Precision::Fp32), _) => {}
            (Some(Precision::Fp16), Provider::TensorRt(t)) => t.fp16 = true,
            (Some(p), _) => {
                return Err(Error::Unsupported {
                    backend: self.name().into(),
                    what: format!(
                        "{p} float lowering (only the TensorRT execution provider builds fp16; \
                         convert the model to fp16 first for the others)"
                    ),
                })
            }
        }
        // The TensorRT provider with a calibration table takes the float model plus the table;
        // everything else runs what calibr8 exports (QDQ).
        let mut table_dir = None;
        let model = match (lowering, &mut provider) {
            (Lowering::Float(m), _) => m.clone(),
            (Lowering::Quantized(q), Provider::TensorRt(t)) => match &mut t.int8 {
                TrtInt8::CalibrationTable(table) => {
                    if table.is_none() {
                        let dir = tempfile::tempdir()
                            .map_err(|e| Error::io("creating a temporary folder", "/tmp", e))?;
                        let path = dir.path().join("calibration.cache");
                        let text = calibration_cache(q, TrtVersion::default());
                        std::fs::write(&path, text).map_err(|e| Error::io("writing", &path, e))?;
                        *table = Some(path);
                        table_dir = Some(dir);
                    }
                    q.model.clone()
                }
                int8 => {
                    *int8 = TrtInt8::Qdq;
                    qdq_model(q)?
                }
            },
            (Lowering::Quantized(q), _) => qdq_model(q)?,
        };
        let engine = OrtEngine::new(rt, &model, options, self.threads, &provider, self.name())?;
        Ok(Box::new(OrtEngine { _table_dir: table_dir, ..engine }))
    }
}

/// An ONNX Runtime session plus the names of what it takes and returns.
pub struct OrtEngine {
    session: sys::Session,
    backend: String,
    inputs: Vec<String>,
    input_types: Vec<Option<ElemType>>,
    outputs: Vec<String>,
    /// Index in the session's outputs of each of `outputs`.
    output_index: Vec<usize>,
    // Keeps a calibration table written at prepare time while TensorRT may (re)read it.
    _table_dir: Option<tempfile::TempDir>,
}

impl OrtEngine {
    /// Creates a session for `model` with `options.capture` tensors as extra outputs.
    pub fn new(
        runtime: &Runtime,
        model: &OnnxModel,
        options: &EngineOptions,
        threads: Option<usize>,
        provider: &Provider,
        backend: &str,
    ) -> Result<OrtEngine> {
        let extended = capture::with_outputs(model, &options.capture)?;
        let session = sys::Session::new(
            runtime,
            &extended.to_bytes(),
            threads,
            provider,
            !options.capture.is_empty(),
        )
        .map_err(|e| Error::InvalidModel {
            path: model.origin.clone(),
            reason: format!("ONNX Runtime ({}): {e}", provider.ort_name()),
        })?;
        let mut outputs: Vec<String> = model.outputs().into_iter().map(|o| o.name).collect();
        for name in &options.capture {
            if !outputs.contains(name) {
                outputs.push(name.clone());
            }
        }
        let output_index = outputs
            .iter()
            .map(|name| {
                session.outputs.iter().position(|o| o == name).ok_or_else(|| {
                    Error::backend(backend, format!("the session has no output '{name}'"))
                })
            })
            .collect::<Result<_>>()?;
        let (inputs, input_types) = session.inputs.iter().cloned().unzip();
        Ok(OrtEngine {
            session,
            backend: backend.into(),
            inputs,
            input_types,
            outputs,
            output_index,
            _table_dir: None,
        })
    }
}

impl Engine for OrtEngine {
    fn input_names(&self) -> &[String] {
        &self.inputs
    }

    fn output_names(&self) -> &[String] {
        &self.outputs
    }

    fn run(&mut self, mut inputs: TensorMap) -> Result<TensorMap> {
        let mut feed = Vec::with_capacity(self.inputs.len());
        for (name, want) in self.inputs.iter().zip(&self.input_types) {
            let value = inputs.remove(name).ok_or_else(|| {
                Error::data(name.as_str(), "is a model input the batch gives no tensor for")
            })?;
            if let Some(want) = want.filter(|w| *w != value.elem_type()) {
                return Err(Error::data(
                    name.as_str(),
                    format!("is {}, where the model takes {want}", value.elem_type()),
                ));
            }
            feed.push((name.clone(), value));
        }
        if let Some(extra) = inputs.names().next() {
            return Err(Error::data(extra, "is not an input of the model"));
        }
        let mut values: Vec<Option<calibr8_core::TensorValue>> = self
            .session
            .run(feed)
            .map_err(|e| Error::backend(&self.backend, e))?
            .into_iter()
            .map(Some)
            .collect();
        self.outputs
            .iter()
            .zip(&self.output_index)
            .map(|(name, &ix)| {
                let value = values[ix].take().ok_or_else(|| {
                    Error::backend(&self.backend, format!("output '{name}' asked for twice"))
                })?;
                Ok((name.clone(), value))
            })
            .collect()
    }
}
