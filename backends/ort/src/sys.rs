//! The only file that uses the `ort` crate. `ort` is pinned (`=2.0.0-rc.15`) and its API moves
//! between release candidates (`Session::builder(&env)` appeared in rc.12, ...): an upgrade
//! touches this file alone.
//!
//! Every call into `ort` runs inside [`contain`], so a panic in `ort` (it `expect`s in places)
//! or a bug surfaced through it becomes an error naming the operation, never an unwinding panic
//! out of calibr8.

use crate::loader::{self, Library, LoadError};
use crate::providers::Provider;
use calibr8_core::{ElemType, TensorValue};
use ort::ep::ArbitrarilyConfigurableExecutionProvider as _;
use ort::ep::ExecutionProvider as _;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::SessionInputValue;
use ort::value::{DynValue, Tensor, TensorElementType};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};

/// Runs `f`, turning a panic into an error that says what was being done.
pub(crate) fn contain<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("{what}: ONNX Runtime binding panicked: {message}"))
        }
    }
}

/// The process's ONNX Runtime: the checked library and the one `ort` environment.
pub struct Runtime {
    /// Where the library was loaded from and its version.
    pub library: Library,
    environment: ort::environment::Environment,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("library", &self.library).finish_non_exhaustive()
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

/// The process-wide ONNX Runtime, loaded on first use from the candidates of
/// [`crate::loader`] (environment, Python package, system). Only a success is kept.
pub fn runtime() -> Result<&'static Runtime, LoadError> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let _loading = LOADING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let library = loader::find(&loader::process_candidates())?;
    start(library)
}

/// Loads the process-wide ONNX Runtime from `path` (a file, or a folder holding
/// `libonnxruntime.so`) instead of searching. Returns the runtime when it is already loaded from
/// that same path, and [`LoadError::AlreadyLoaded`] when loaded from another.
pub fn init_from(path: &Path) -> Result<&'static Runtime, LoadError> {
    let _loading = LOADING.lock().unwrap_or_else(PoisonError::into_inner);
    let library = loader::probe(path)?;
    if let Some(rt) = RUNTIME.get() {
        return if rt.library.path == library.path {
            Ok(rt)
        } else {
            Err(LoadError::AlreadyLoaded {
                loaded: rt.library.path.clone(),
                requested: library.path,
            })
        };
    }
    start(library)
}

/// Hands a checked library to `ort` and creates the environment. Called under `LOADING`.
fn start(library: Library) -> Result<&'static Runtime, LoadError> {
    let init = |reason: String| LoadError::Init { path: library.path.clone(), reason };
    let environment = contain("loading ONNX Runtime", || {
        ort::init_from(&library.path)
            .map_err(|e| e.to_string())?
            .with_name("calibr8")
            .build()
            .map_err(|e| e.to_string())
    })
    .map_err(init)?;
    tracing::info!(
        target: "calibr8_ort::loader",
        path = %library.path.display(),
        version = %library.version,
        "loaded ONNX Runtime"
    );
    Ok(RUNTIME.get_or_init(|| Runtime { library, environment }))
}

/// Whether this ONNX Runtime build includes `provider` (`GetAvailableProviders`); a provider
/// that is included may still fail to load its libraries (CUDA, TensorRT) when a session
/// registers it.
pub fn provider_built_in(provider: &Provider) -> Result<bool, String> {
    contain("listing ONNX Runtime's execution providers", || {
        match provider {
            Provider::Cpu => Ok(true),
            Provider::Cuda { .. } => ort::ep::CUDA::is_available(),
            Provider::TensorRt(_) => ort::ep::TensorRT::is_available(),
        }
        .map_err(|e| e.to_string())
    })
}

/// A session and the names and types of what it takes and returns.
pub struct Session {
    session: ort::session::Session,
    /// Inputs in the session's order, with their element type (`None`: a type calibr8 does not
    /// carry, such as float16).
    pub inputs: Vec<(String, Option<ElemType>)>,
    /// Output names in the session's order.
    pub outputs: Vec<String>,
}

impl Session {
    /// Builds a session for the serialized model `bytes`: `threads` intra-op threads (`None`:
    /// ONNX Runtime's default, one per physical core), all graph optimizations, on `provider`.
    /// A GPU provider that fails to register is an error (no fallback to the CPU).
    ///
    /// `lean` (a session capturing activations for calibration) runs the CPU provider without
    /// its arena and memory patterns: the arena grows in powers of two and keeps its peak, which
    /// with every captured activation of a batch as an output is hundreds of MB over what the
    /// run needs; the large, few allocations of a capture run lose nothing to plain malloc.
    pub fn new(
        runtime: &Runtime,
        bytes: &[u8],
        threads: Option<usize>,
        provider: &Provider,
        lean: bool,
    ) -> Result<Session, String> {
        contain("creating an ONNX Runtime session", || {
            let err = |e: ort::Error<_>| e.to_string();
            let mut builder = ort::session::Session::builder(&runtime.environment)
                .map_err(|e| e.to_string())?
                .with_optimization_level(GraphOptimizationLevel::All)
                .map_err(err)?;
            if let Some(n) = threads {
                builder = builder
                    .with_intra_threads(n)
                    .map_err(err)?
                    .with_inter_threads(1)
                    .map_err(err)?;
            }
            builder = match provider {
                Provider::Cpu if lean => builder
                    .with_memory_pattern(false)
                    .map_err(err)?
                    .with_execution_providers([ort::ep::CPU::default()
                        .with_arena_allocator(false)
                        .build()
                        .error_on_failure()])
                    .map_err(err)?,
                Provider::Cpu => builder,
                Provider::Cuda { .. } => {
                    let cuda = provider
                        .options()
                        .into_iter()
                        .fold(ort::ep::CUDA::default(), |ep, (k, v)| {
                            ep.with_arbitrary_config(k, v)
                        });
                    builder
                        .with_execution_providers([cuda.build().error_on_failure()])
                        .map_err(err)?
                }
                Provider::TensorRt(t) => {
                    let trt = provider
                        .options()
                        .into_iter()
                        .fold(ort::ep::TensorRT::default(), |ep, (k, v)| {
                            ep.with_arbitrary_config(k, v)
                        });
                    // Nodes TensorRT does not take run on CUDA, as in ONNX Runtime's examples.
                    let cuda = ort::ep::CUDA::default()
                        .with_arbitrary_config("device_id", t.device_id.to_string());
                    builder
                        .with_execution_providers([
                            trt.build().error_on_failure(),
                            cuda.build().error_on_failure(),
                        ])
                        .map_err(err)?
                }
            };
            let session = builder.commit_from_memory(bytes).map_err(|e| e.to_string())?;
            let inputs = session
                .inputs()
                .iter()
                .map(|o| (o.name().to_string(), o.dtype().tensor_type().and_then(elem_type)))
                .collect();
            let outputs = session.outputs().iter().map(|o| o.name().to_string()).collect();
            Ok(Session { session, inputs, outputs })
        })
    }

    /// The graph ONNX Runtime's CPU optimizer makes of the serialized model `bytes` (all
    /// optimizations, `threads` intra-op threads), serialized: where its int8 kernels
    /// (QLinearConv, QGemm, QLinearAdd...) replaced `DQ → op → Q` units, and what stayed float.
    pub fn optimized(
        runtime: &Runtime,
        bytes: &[u8],
        threads: Option<usize>,
    ) -> Result<Vec<u8>, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("creating a temporary folder: {e}"))?;
        let path = dir.path().join("optimized.onnx");
        contain("optimizing the model with ONNX Runtime", || {
            let err = |e: ort::Error<_>| e.to_string();
            let mut builder = ort::session::Session::builder(&runtime.environment)
                .map_err(|e| e.to_string())?
                .with_optimization_level(GraphOptimizationLevel::All)
                .map_err(err)?
                .with_optimized_model_path(&path)
                .map_err(err)?;
            if let Some(n) = threads {
                builder = builder.with_intra_threads(n).map_err(err)?;
            }
            builder.commit_from_memory(bytes).map_err(|e| e.to_string())?;
            Ok(())
        })?;
        std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))
    }

    /// Runs one batch: `inputs` by name (any subset the model needs, in any order). Returns
    /// every session output, in [`Session::outputs`] order.
    pub fn run(&mut self, inputs: Vec<(String, TensorValue)>) -> Result<Vec<TensorValue>, String> {
        contain("running the ONNX Runtime session", || {
            let values = inputs
                .into_iter()
                .map(|(name, value)| Ok((name, to_ort(value)?)))
                .collect::<Result<Vec<(String, DynValue)>, String>>()?;
            // Passed by reference and kept alive until the outputs are copied out: an output
            // that is a graph input (captured) is the input's own buffer.
            let feed: Vec<(&str, SessionInputValue<'_>)> =
                values.iter().map(|(name, value)| (name.as_str(), value.into())).collect();
            let mut outputs = self.session.run(feed).map_err(|e| e.to_string())?;
            // Each output is copied out and its ONNX Runtime buffer freed before the next, so
            // a calibration run holds the captured tensors once, not twice.
            let mut copied: Vec<TensorValue> = Vec::with_capacity(self.outputs.len());
            for (ix, name) in self.outputs.iter().enumerate() {
                let value = match outputs.remove(name.as_str()) {
                    Some(value) => from_ort(&value).map_err(|e| format!("output '{name}': {e}"))?,
                    // Asked for twice: the first copy serves.
                    None => match self.outputs[..ix].iter().position(|n| n == name) {
                        Some(first) => copied[first].clone(),
                        None => return Err(format!("ONNX Runtime returned no tensor '{name}'")),
                    },
                };
                copied.push(value);
            }
            Ok(copied)
        })
    }
}

fn elem_type(t: TensorElementType) -> Option<ElemType> {
    Some(match t {
        TensorElementType::Float32 => ElemType::F32,
        TensorElementType::Float64 => ElemType::F64,
        TensorElementType::Int64 => ElemType::I64,
        TensorElementType::Int32 => ElemType::I32,
        TensorElementType::Int8 => ElemType::I8,
        TensorElementType::Uint8 => ElemType::U8,
        TensorElementType::Bool => ElemType::Bool,
        _ => return None,
    })
}

/// A calibr8 tensor as an ONNX Runtime value (moved, not copied, when in standard layout).
fn to_ort(value: TensorValue) -> Result<DynValue, String> {
    let e = |e: ort::Error| e.to_string();
    Ok(match value {
        TensorValue::F32(a) => Tensor::from_array(a).map_err(e)?.into_dyn(),
        TensorValue::F64(a) => Tensor::from_array(a).map_err(e)?.into_dyn(),
        TensorValue::I64(a) => Tensor::from_array(a).map_err(e)?.into_dyn(),
        TensorValue::I32(a) => Tensor::from_array(a).map_err(e)?.into_dyn(),
        TensorValue::I8(a) => Tensor::from_array(a).map_err(e)?.into_dyn(),
        TensorValue::U8(a) => Tensor::from_array(a).map_err(e)?.into_dyn(),
        TensorValue::Bool(a) => Tensor::from_array(a).map_err(e)?.into_dyn(),
        other => return Err(format!("calibr8 cannot pass {} tensors", other.elem_type())),
    })
}

/// An ONNX Runtime output as a calibr8 tensor of the same type (copied out of ORT's buffer).
fn from_ort(value: &DynValue) -> Result<TensorValue, String> {
    let ty = value.dtype().tensor_type().ok_or("is not a tensor (a sequence or map)")?;
    macro_rules! take {
        ($t:ty, $variant:ident) => {
            TensorValue::$variant(
                value.try_extract_array::<$t>().map_err(|e| e.to_string())?.to_owned(),
            )
        };
    }
    Ok(match elem_type(ty) {
        Some(ElemType::F32) => take!(f32, F32),
        Some(ElemType::F64) => take!(f64, F64),
        Some(ElemType::I64) => take!(i64, I64),
        Some(ElemType::I32) => take!(i32, I32),
        Some(ElemType::I8) => take!(i8, I8),
        Some(ElemType::U8) => take!(u8, U8),
        Some(ElemType::Bool) => take!(bool, Bool),
        _ => {
            return Err(format!("is {ty:?}, a type calibr8 does not carry (cast it in the model)"))
        }
    })
}
