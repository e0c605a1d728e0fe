//! One RAII type per TensorRT object, over `calibr8-tensorrt-sys`.
//!
//! Each type owns a `NonNull` handle released in `Drop`, and an `Arc` to its parent so parents
//! outlive children (a context keeps its engine alive, an engine its runtime, a network its
//! builder) — the order the shim's safety contract requires. The logger is one per process and
//! never freed ([`Logger::global`]): TensorRT keeps a global logger and logs through it from any
//! object, so it must outlive every one of them. Every shim
//! call goes through [`check`], which turns a status into an [`Error`] carrying the call's name
//! and the shim's message. Creates and drops are traced under `calibr8_tensorrt::lifetime`.

use crate::internal::*;
use calibr8_tensorrt_sys as sys;
use std::ffi::{c_char, CStr, CString};
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

/// Turns a shim status into a result: `call` names the shim function, the message is the shim's
/// (`calibr8_trt_last_error`), which ends with the remedy where there is one.
pub fn check(status: i32, call: &'static str) -> Result<()> {
    if status == sys::CALIBR8_TRT_OK {
        return Ok(());
    }
    let kind = match status {
        sys::CALIBR8_TRT_ERR_INVALID_ARGUMENT => "invalid argument",
        sys::CALIBR8_TRT_ERR_NOT_FOUND => "not found",
        sys::CALIBR8_TRT_ERR_TENSORRT => "TensorRT error",
        sys::CALIBR8_TRT_ERR_EXCEPTION => "C++ exception",
        sys::CALIBR8_TRT_ERR_UNAVAILABLE => "unavailable",
        _ => "unknown status",
    };
    Err(Error::backend(crate::BACKEND, format!("{call}: {kind}: {}", last_error())))
}

/// The calling thread's last shim error message.
fn last_error() -> String {
    // SAFETY: returns a NUL-terminated thread-local string valid until this thread's next shim
    // call; it is copied out at once.
    unsafe {
        let p = sys::calibr8_trt_last_error();
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Copies a borrowed shim string (null → `None`).
///
/// # Safety
/// `p` is null or NUL-terminated and alive for the duration of the call.
unsafe fn borrowed_str(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s)
        .map_err(|_| Error::backend(crate::BACKEND, format!("name {s:?} contains a NUL byte")))
}

fn non_null<T>(p: *mut T, call: &'static str) -> Result<NonNull<T>> {
    NonNull::new(p).ok_or_else(|| Error::backend(crate::BACKEND, format!("{call} returned null")))
}

fn lock(m: &Mutex<()>) -> MutexGuard<'_, ()> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

macro_rules! lifetime {
    ($what:literal, $ptr:expr) => {
        tracing::trace!(target: "calibr8_tensorrt::lifetime", ptr = ?$ptr, $what)
    };
}

/// TensorRT loaded through the sys loader: the first use anywhere goes through here, so a
/// missing library is always the loader's "install TensorRT 10" error, and a stub build says
/// how to rebuild.
pub fn api() -> Result<&'static sys::loader::Api> {
    let api = sys::loader::api().map_err(|e| Error::backend(crate::BACKEND, e))?;
    if !sys::SHIM_AVAILABLE {
        // The stub's message explains how to rebuild with headers.
        return Err(Error::backend(
            crate::BACKEND,
            format!(
                "TensorRT {} found at {}, but {}",
                api.version,
                api.path.display(),
                last_error()
            ),
        ));
    }
    Ok(api)
}

/// Data types calibr8 moves across the engine boundary.
pub fn data_type_name(dt: i32) -> &'static str {
    match dt {
        sys::CALIBR8_TRT_DATA_TYPE_FLOAT => "fp32",
        sys::CALIBR8_TRT_DATA_TYPE_HALF => "fp16",
        sys::CALIBR8_TRT_DATA_TYPE_INT8 => "int8",
        sys::CALIBR8_TRT_DATA_TYPE_INT32 => "int32",
        sys::CALIBR8_TRT_DATA_TYPE_BOOL => "bool",
        sys::CALIBR8_TRT_DATA_TYPE_UINT8 => "uint8",
        sys::CALIBR8_TRT_DATA_TYPE_FP8 => "fp8",
        sys::CALIBR8_TRT_DATA_TYPE_BF16 => "bf16",
        sys::CALIBR8_TRT_DATA_TYPE_INT64 => "int64",
        sys::CALIBR8_TRT_DATA_TYPE_INT4 => "int4",
        _ => "unknown",
    }
}

/// `nvinfer1::DataType` for a calibr8 precision.
pub fn data_type(p: Precision) -> i32 {
    match p {
        Precision::Int8 => sys::CALIBR8_TRT_DATA_TYPE_INT8,
        Precision::Fp16 => sys::CALIBR8_TRT_DATA_TYPE_HALF,
        Precision::Fp32 => sys::CALIBR8_TRT_DATA_TYPE_FLOAT,
    }
}

/// Shape conversions.
pub fn dims(shape: &[i64]) -> Result<sys::calibr8_trt_dims> {
    if shape.len() > sys::CALIBR8_TRT_MAX_DIMS {
        return Err(Error::backend(
            crate::BACKEND,
            format!("shape {shape:?} has more than 8 dimensions"),
        ));
    }
    let mut d = sys::calibr8_trt_dims { nb_dims: shape.len() as i32, ..Default::default() };
    d.d[..shape.len()].copy_from_slice(shape);
    Ok(d)
}

/// The extents of `d`; `nbDims == -1` is TensorRT's "invalid shape" (an unknown name, or an
/// input shape not set yet) and is an error naming `tensor`, never a scalar.
pub fn shape_of(d: &sys::calibr8_trt_dims, tensor: &str) -> Result<Vec<i64>> {
    match usize::try_from(d.nb_dims) {
        Ok(rank) if rank <= sys::CALIBR8_TRT_MAX_DIMS => Ok(d.d[..rank].to_vec()),
        _ => Err(Error::backend(
            crate::BACKEND,
            format!(
                "TensorRT reports an invalid shape (nbDims {}) for tensor '{tensor}': it is not \
                 an I/O tensor of the engine, or an input shape it depends on is not set",
                d.nb_dims
            ),
        )),
    }
}

// ---- logger ------------------------------------------------------------------------------------

/// An `ILogger` routing TensorRT's messages to `tracing`: one per process ([`Logger::global`]),
/// never freed.
#[derive(Debug)]
pub struct Logger {
    raw: NonNull<sys::calibr8_trt_logger>,
}

// SAFETY: the shim's logger only forwards to `calibr8_trt_tracing_log`, which is thread-safe
// (tracing) and keeps no state; TensorRT itself calls it from any thread.
unsafe impl Send for Logger {}
// SAFETY: as above; the logger has no mutable state reachable from Rust.
unsafe impl Sync for Logger {}

static GLOBAL_LOGGER: OnceLock<Logger> = OnceLock::new();
static GLOBAL_LOGGER_INIT: Mutex<()> = Mutex::new(());

impl Logger {
    /// The process-wide logger forwarding to `tracing` (target `calibr8_tensorrt::trt`),
    /// created on first use and never freed. TensorRT keeps one global logger: the first
    /// builder or runtime installs it and every later object logs through it, so a logger per
    /// object would leave TensorRT logging through freed memory once the first one is dropped
    /// (`NvInferRuntime.h`: "The logger must be valid until all objects created are released").
    /// NVIDIA's samples and NNI keep one global logger the same way. A failure (stub build) is
    /// not cached.
    pub fn global() -> Result<&'static Logger> {
        if let Some(logger) = GLOBAL_LOGGER.get() {
            return Ok(logger);
        }
        let _g = lock(&GLOBAL_LOGGER_INIT);
        if let Some(logger) = GLOBAL_LOGGER.get() {
            return Ok(logger);
        }
        let logger = Logger::create()?;
        Ok(GLOBAL_LOGGER.get_or_init(|| logger))
    }

    /// The raw handle, for the shim.
    pub fn as_ptr(&self) -> *mut sys::calibr8_trt_logger {
        self.raw.as_ptr()
    }

    fn create() -> Result<Logger> {
        let mut raw = ptr::null_mut();
        // SAFETY: the callback is a plain function that ignores user_data (null); out is valid.
        check(
            unsafe {
                sys::calibr8_trt_logger_create(
                    Some(sys::calibr8_trt_tracing_log),
                    ptr::null_mut(),
                    &mut raw,
                )
            },
            "calibr8_trt_logger_create",
        )?;
        let raw = non_null(raw, "calibr8_trt_logger_create")?;
        lifetime!("create Logger (process-wide, never freed)", raw);
        Ok(Logger { raw })
    }
}

/// Registers TensorRT's plugins once per process when `libnvinfer_plugin.so.10` is present
/// (models whose ONNX nodes TensorRT implements as plugins need it); absent, nothing to do.
fn init_plugins(api: &'static sys::loader::Api, logger: &'static Logger) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| match api.plugins() {
        Ok(plugins) => {
            // SAFETY: `init` comes from the process-wide Api; the logger is never freed.
            let status =
                unsafe { sys::calibr8_trt_init_plugins(Some(plugins.init), logger.as_ptr()) };
            match check(status, "calibr8_trt_init_plugins") {
                Ok(()) => tracing::info!(
                    target: "calibr8_tensorrt::loader",
                    path = %plugins.path.display(),
                    "registered TensorRT plugins"
                ),
                Err(e) => tracing::warn!(target: "calibr8_tensorrt::loader", "{e}"),
            }
        }
        Err(e) => tracing::debug!(
            target: "calibr8_tensorrt::loader",
            "no TensorRT plugin library, plugins not registered: {e}"
        ),
    });
}

// ---- builder -----------------------------------------------------------------------------------

/// An `IBuilder`.
#[derive(Debug)]
pub struct Builder {
    raw: NonNull<sys::calibr8_trt_builder>,
    logger: &'static Logger,
    api: &'static sys::loader::Api,
    // IBuilder is not synchronized: every call through it holds this lock.
    lock: Mutex<()>,
}

// SAFETY: an IBuilder may be used from any thread, one at a time.
unsafe impl Send for Builder {}
// SAFETY: every use of the handle (network/config/profile creation, build) holds `lock`, so
// shared references never make concurrent TensorRT calls.
unsafe impl Sync for Builder {}

impl Builder {
    /// A builder from the loaded TensorRT, logging through [`Logger::global`]. Loads the
    /// builder resource library from libnvinfer's folder first
    /// ([`sys::loader::Api::preload_builder_resource`]) and names it when creation fails.
    pub fn new() -> Result<Arc<Builder>> {
        let api = api()?;
        let logger = Logger::global()?;
        init_plugins(api, logger);
        let resource = api.preload_builder_resource();
        let mut raw = ptr::null_mut();
        // SAFETY: the factory comes from the process-wide Api (alive forever); the logger is
        // never freed.
        let status = unsafe {
            sys::calibr8_trt_builder_create(
                Some(api.create_infer_builder),
                logger.as_ptr(),
                &mut raw,
            )
        };
        check(status, "calibr8_trt_builder_create").map_err(|e| with_resource(e, resource))?;
        let raw = non_null(raw, "calibr8_trt_builder_create")?;
        lifetime!("create Builder", raw);
        Ok(Arc::new(Builder { raw, logger, api, lock: Mutex::new(()) }))
    }

    /// Parses ONNX bytes into a new network; parser errors come back as text.
    pub fn network_from_onnx(
        self: &Arc<Self>,
        onnx: &[u8],
        strongly_typed: bool,
    ) -> Result<Network> {
        let parser = self.api.onnx_parser().map_err(|e| Error::backend(crate::BACKEND, e))?;
        let flags = if strongly_typed { sys::CALIBR8_TRT_NETWORK_STRONGLY_TYPED } else { 0 };
        let (mut raw, mut errors) = (ptr::null_mut(), ptr::null_mut());
        let status = {
            let _g = lock(&self.lock);
            // SAFETY: builder, logger and factory are live; the bytes outlive the call.
            unsafe {
                sys::calibr8_trt_network_create_from_onnx(
                    self.raw.as_ptr(),
                    Some(parser.create_onnx_parser),
                    self.logger.as_ptr(),
                    flags,
                    onnx.as_ptr().cast(),
                    onnx.len(),
                    ptr::null(),
                    &mut raw,
                    &mut errors,
                )
            }
        };
        if status != sys::CALIBR8_TRT_OK {
            let text = NonNull::new(errors).map(|b| Blob { raw: b }.text()).unwrap_or_default();
            let err = check(status, "calibr8_trt_network_create_from_onnx").err();
            return Err(match (text.is_empty(), err) {
                (false, _) => Error::backend(
                    crate::BACKEND,
                    format!("TensorRT's ONNX parser rejected the model:\n{text}"),
                ),
                (true, Some(e)) => e,
                (true, None) => {
                    Error::backend(crate::BACKEND, "the ONNX parser failed without a message")
                }
            });
        }
        let raw = non_null(raw, "calibr8_trt_network_create_from_onnx")?;
        lifetime!("create Network", raw);
        Ok(Network { raw, builder: self.clone() })
    }

    /// A new builder config.
    pub fn config(self: &Arc<Self>) -> Result<BuilderConfig> {
        let mut raw = ptr::null_mut();
        let _g = lock(&self.lock);
        // SAFETY: the builder is live; out is valid.
        check(
            unsafe { sys::calibr8_trt_builder_config_create(self.raw.as_ptr(), &mut raw) },
            "calibr8_trt_builder_config_create",
        )?;
        let raw = non_null(raw, "calibr8_trt_builder_config_create")?;
        lifetime!("create BuilderConfig", raw);
        Ok(BuilderConfig { raw, builder: self.clone() })
    }

    /// Adds an optimization profile with kMIN/kOPT/kMAX shapes per input to `config`.
    pub fn add_profile(&self, config: &mut BuilderConfig, shapes: &[ProfileShapes]) -> Result<()> {
        let _g = lock(&self.lock);
        let mut profile = ptr::null_mut();
        // SAFETY: the builder is live; the profile it returns is owned by it (no destroy).
        check(
            unsafe {
                sys::calibr8_trt_optimization_profile_create(self.raw.as_ptr(), &mut profile)
            },
            "calibr8_trt_optimization_profile_create",
        )?;
        for (input, min, opt, max) in shapes {
            let name = cstring(input)?;
            let (min, opt, max) = (dims(min)?, dims(opt)?, dims(max)?);
            // SAFETY: profile is live (owned by the builder); pointers are valid for the call.
            check(
                unsafe {
                    sys::calibr8_trt_optimization_profile_set_dimensions(
                        profile,
                        name.as_ptr(),
                        &min,
                        &opt,
                        &max,
                    )
                },
                "calibr8_trt_optimization_profile_set_dimensions",
            )?;
        }
        // SAFETY: config and profile are live.
        check(
            unsafe {
                sys::calibr8_trt_builder_config_add_optimization_profile(
                    config.raw.as_ptr(),
                    profile,
                    ptr::null_mut(),
                )
            },
            "calibr8_trt_builder_config_add_optimization_profile",
        )
    }

    /// `buildSerializedNetwork`: the engine plan bytes.
    pub fn build(&self, network: &mut Network, config: &BuilderConfig) -> Result<Vec<u8>> {
        let _g = lock(&self.lock);
        let mut blob = ptr::null_mut();
        // SAFETY: all three objects are live and were created from this builder.
        let status = unsafe {
            sys::calibr8_trt_builder_build_serialized_network(
                self.raw.as_ptr(),
                network.raw.as_ptr(),
                config.raw.as_ptr(),
                &mut blob,
            )
        };
        check(status, "calibr8_trt_builder_build_serialized_network")
            .map_err(|e| with_resource(e, self.api.preload_builder_resource()))?;
        Ok(Blob { raw: non_null(blob, "calibr8_trt_builder_build_serialized_network")? }.bytes())
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        lifetime!("drop Builder", self.raw);
        // SAFETY: networks and configs hold an Arc to the builder, so none is left.
        unsafe { sys::calibr8_trt_builder_destroy(self.raw.as_ptr()) };
    }
}

/// Adds the builder-resource problem, when there is one, to a builder error: TensorRT's own
/// message for it ("Error Code 6 … Unable to load library") is only in its log.
fn with_resource(err: Error, resource: &sys::loader::BuilderResource) -> Error {
    match resource.problem() {
        Some(problem) => Error::backend(crate::BACKEND, format!("{err}. {problem}")),
        None => err,
    }
}

// ---- blob --------------------------------------------------------------------------------------

/// Bytes owned by the shim (a plan, parser errors, inspector JSON).
struct Blob {
    raw: NonNull<sys::calibr8_trt_blob>,
}

impl Blob {
    fn bytes(&self) -> Vec<u8> {
        let (mut data, mut len) = (ptr::null(), 0usize);
        // SAFETY: the blob is live; the borrowed bytes are copied before it is dropped.
        let ok = unsafe { sys::calibr8_trt_blob_data(self.raw.as_ptr(), &mut data, &mut len) }
            == sys::CALIBR8_TRT_OK;
        if !ok || data.is_null() {
            return Vec::new();
        }
        // SAFETY: the shim guarantees `len` readable bytes at `data` while the blob lives.
        unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

impl Drop for Blob {
    fn drop(&mut self) {
        // SAFETY: owned, destroyed once.
        unsafe { sys::calibr8_trt_blob_destroy(self.raw.as_ptr()) };
    }
}

// ---- network -----------------------------------------------------------------------------------

/// An `INetworkDefinition` (with the ONNX parser that filled it).
#[derive(Debug)]
pub struct Network {
    raw: NonNull<sys::calibr8_trt_network>,
    builder: Arc<Builder>,
}

// SAFETY: a network may move between threads; it is only used through `&mut self` or `&self`
// for reads that do not mutate, never concurrently (it is not Sync).
unsafe impl Send for Network {}

/// One layer of a network, as the parser created it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// Index in the network.
    pub index: i32,
    /// Name (the ONNX node name for the layer that produces the node's outputs).
    pub name: String,
    /// `LayerType` as text (`CONVOLUTION`, `SHUFFLE`, ...).
    pub kind: String,
    /// Input tensor names (`None` for an absent optional input).
    pub inputs: Vec<Option<String>>,
    /// Output tensor names.
    pub outputs: Vec<String>,
}

impl Network {
    fn count(
        &self,
        f: unsafe extern "C" fn(*const sys::calibr8_trt_network, *mut i32) -> i32,
        call: &'static str,
    ) -> Result<i32> {
        let mut n = 0;
        // SAFETY: the network is live; out is valid.
        check(unsafe { f(self.raw.as_ptr(), &mut n) }, call)?;
        Ok(n)
    }

    /// Network input names.
    pub fn inputs(&self) -> Result<Vec<String>> {
        (0..self.count(sys::calibr8_trt_network_num_inputs, "calibr8_trt_network_num_inputs")?)
            .map(|i| {
                let mut p = ptr::null();
                // SAFETY: index in range; the name lives with the network and is copied.
                check(
                    unsafe { sys::calibr8_trt_network_input_name(self.raw.as_ptr(), i, &mut p) },
                    "calibr8_trt_network_input_name",
                )?;
                Ok(unsafe { borrowed_str(p) }.unwrap_or_default())
            })
            .collect()
    }

    /// Every layer with its input and output tensor names.
    pub fn layers(&self) -> Result<Vec<LayerInfo>> {
        let n =
            self.count(sys::calibr8_trt_network_num_layers, "calibr8_trt_network_num_layers")?;
        let raw = self.raw.as_ptr();
        (0..n)
            .map(|index| {
                let (mut name, mut kind, mut n_in, mut n_out) = (ptr::null(), ptr::null(), 0, 0);
                // SAFETY: index in range; borrowed strings are copied at once.
                unsafe {
                    check(
                        sys::calibr8_trt_network_layer_name(raw, index, &mut name),
                        "calibr8_trt_network_layer_name",
                    )?;
                    check(
                        sys::calibr8_trt_network_layer_type(raw, index, ptr::null_mut(), &mut kind),
                        "calibr8_trt_network_layer_type",
                    )?;
                    check(
                        sys::calibr8_trt_network_layer_num_inputs(raw, index, &mut n_in),
                        "calibr8_trt_network_layer_num_inputs",
                    )?;
                    check(
                        sys::calibr8_trt_network_layer_num_outputs(raw, index, &mut n_out),
                        "calibr8_trt_network_layer_num_outputs",
                    )?;
                }
                let mut inputs = Vec::new();
                for i in 0..n_in {
                    let mut p = ptr::null();
                    // SAFETY: as above.
                    check(
                        unsafe { sys::calibr8_trt_network_layer_input_name(raw, index, i, &mut p) },
                        "calibr8_trt_network_layer_input_name",
                    )?;
                    inputs.push(unsafe { borrowed_str(p) });
                }
                let mut outputs = Vec::new();
                for i in 0..n_out {
                    let mut p = ptr::null();
                    // SAFETY: as above.
                    check(
                        unsafe {
                            sys::calibr8_trt_network_layer_output_name(raw, index, i, &mut p)
                        },
                        "calibr8_trt_network_layer_output_name",
                    )?;
                    outputs.push(unsafe { borrowed_str(p) }.unwrap_or_default());
                }
                Ok(LayerInfo {
                    index,
                    name: unsafe { borrowed_str(name) }.unwrap_or_default(),
                    kind: unsafe { borrowed_str(kind) }.unwrap_or_default(),
                    inputs,
                    outputs,
                })
            })
            .collect()
    }

    /// `DataType` of a tensor by name.
    pub fn tensor_data_type(&mut self, tensor: &str) -> Result<i32> {
        let name = cstring(tensor)?;
        let mut dt = 0;
        // SAFETY: the network is live; name is NUL-terminated.
        check(
            unsafe {
                sys::calibr8_trt_network_tensor_data_type(self.raw.as_ptr(), name.as_ptr(), &mut dt)
            },
            "calibr8_trt_network_tensor_data_type",
        )?;
        Ok(dt)
    }

    /// `setDynamicRange(-amax, amax)`; `Ok(false)` when the network has no tensor of that name
    /// (the parser folded or renamed it).
    pub fn set_dynamic_range(&mut self, tensor: &str, amax: f32) -> Result<bool> {
        let name = cstring(tensor)?;
        // SAFETY: the network is live; name is NUL-terminated.
        let status = unsafe {
            sys::calibr8_trt_network_set_dynamic_range(
                self.raw.as_ptr(),
                name.as_ptr(),
                -amax,
                amax,
            )
        };
        if status == sys::CALIBR8_TRT_ERR_NOT_FOUND {
            return Ok(false);
        }
        check(status, "calibr8_trt_network_set_dynamic_range")?;
        Ok(true)
    }

    /// Makes the tensor of that name an engine output (capture for layer-by-layer comparison).
    /// An unknown name is an error naming it.
    pub fn mark_output(&mut self, tensor: &str) -> Result<()> {
        let name = cstring(tensor)?;
        // SAFETY: the network is live; name is NUL-terminated.
        let status =
            unsafe { sys::calibr8_trt_network_mark_output(self.raw.as_ptr(), name.as_ptr()) };
        if status == sys::CALIBR8_TRT_ERR_NOT_FOUND {
            return Err(Error::backend(
                crate::BACKEND,
                format!(
                    "cannot capture '{tensor}': TensorRT's network has no tensor of that name \
                     (the ONNX parser folded or renamed it). Capture another tensor"
                ),
            ));
        }
        check(status, "calibr8_trt_network_mark_output")
    }

    /// `setPrecision` on layer `index`, and `setOutputType` on its outputs `outputs` (only
    /// float ones: TensorRT ignores, with an error, an output type on TopK indices or on shape
    /// outputs, `NvInfer.h` `ILayer::setOutputType`).
    pub fn constrain_layer(
        &mut self,
        index: i32,
        outputs: &[i32],
        precision: Precision,
    ) -> Result<()> {
        let dt = data_type(precision);
        // SAFETY: the network is live and `index` came from `layers()`.
        check(
            unsafe { sys::calibr8_trt_network_layer_set_precision(self.raw.as_ptr(), index, dt) },
            "calibr8_trt_network_layer_set_precision",
        )?;
        for &o in outputs {
            // SAFETY: as above; `o` is below the layer's output count.
            check(
                unsafe {
                    sys::calibr8_trt_network_layer_set_output_type(self.raw.as_ptr(), index, o, dt)
                },
                "calibr8_trt_network_layer_set_output_type",
            )?;
        }
        Ok(())
    }

    /// The builder this network belongs to.
    pub fn builder(&self) -> &Arc<Builder> {
        &self.builder
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        lifetime!("drop Network", self.raw);
        // SAFETY: owned; the builder outlives it through the Arc.
        unsafe { sys::calibr8_trt_network_destroy(self.raw.as_ptr()) };
    }
}

// ---- builder config ----------------------------------------------------------------------------

/// One input's optimization-profile shapes: `(name, min, opt, max)`.
pub type ProfileShapes = (String, Vec<i64>, Vec<i64>, Vec<i64>);

/// An `IBuilderConfig`.
#[derive(Debug)]
pub struct BuilderConfig {
    raw: NonNull<sys::calibr8_trt_builder_config>,
    #[allow(dead_code)] // keeps the builder alive
    builder: Arc<Builder>,
}

// SAFETY: a config may move between threads; it is mutated only through `&mut self` (not Sync).
unsafe impl Send for BuilderConfig {}

impl BuilderConfig {
    /// Sets or clears a `BuilderFlag`.
    pub fn set_flag(&mut self, flag: i32, enabled: bool) -> Result<()> {
        // SAFETY: the config is live.
        check(
            unsafe {
                sys::calibr8_trt_builder_config_set_flag(self.raw.as_ptr(), flag, enabled as i32)
            },
            "calibr8_trt_builder_config_set_flag",
        )
    }

    /// `setMemoryPoolLimit(kWORKSPACE, bytes)`.
    pub fn set_workspace(&mut self, bytes: u64) -> Result<()> {
        // SAFETY: the config is live.
        check(
            unsafe {
                sys::calibr8_trt_builder_config_set_memory_pool_limit(
                    self.raw.as_ptr(),
                    sys::CALIBR8_TRT_MEMORY_POOL_WORKSPACE,
                    bytes,
                )
            },
            "calibr8_trt_builder_config_set_memory_pool_limit",
        )
    }

    /// `setProfilingVerbosity(kDETAILED)`, so the engine inspector reports every layer.
    pub fn set_detailed_profiling(&mut self) -> Result<()> {
        // SAFETY: the config is live.
        check(
            unsafe {
                sys::calibr8_trt_builder_config_set_profiling_verbosity(
                    self.raw.as_ptr(),
                    sys::CALIBR8_TRT_PROFILING_DETAILED,
                )
            },
            "calibr8_trt_builder_config_set_profiling_verbosity",
        )
    }

    /// `setBuilderOptimizationLevel`.
    pub fn set_optimization_level(&mut self, level: i32) -> Result<()> {
        // SAFETY: the config is live.
        check(
            unsafe {
                sys::calibr8_trt_builder_config_set_optimization_level(self.raw.as_ptr(), level)
            },
            "calibr8_trt_builder_config_set_optimization_level",
        )
    }
}

impl Drop for BuilderConfig {
    fn drop(&mut self) {
        lifetime!("drop BuilderConfig", self.raw);
        // SAFETY: owned; the builder outlives it through the Arc.
        unsafe { sys::calibr8_trt_builder_config_destroy(self.raw.as_ptr()) };
    }
}

// ---- runtime, engine, context ------------------------------------------------------------------

/// An `IRuntime`.
#[derive(Debug)]
pub struct Runtime {
    raw: NonNull<sys::calibr8_trt_runtime>,
    lock: Mutex<()>,
}

// SAFETY: an IRuntime may be used from any thread, one at a time.
unsafe impl Send for Runtime {}
// SAFETY: the only call made through `&self` (deserialize) holds `lock`.
unsafe impl Sync for Runtime {}

impl Runtime {
    /// A runtime from the loaded TensorRT, logging through [`Logger::global`].
    pub fn new() -> Result<Arc<Runtime>> {
        let api = api()?;
        let logger = Logger::global()?;
        init_plugins(api, logger);
        let mut raw = ptr::null_mut();
        // SAFETY: the factory comes from the process-wide Api; the logger is never freed.
        check(
            unsafe {
                sys::calibr8_trt_runtime_create(
                    Some(api.create_infer_runtime),
                    logger.as_ptr(),
                    &mut raw,
                )
            },
            "calibr8_trt_runtime_create",
        )?;
        let raw = non_null(raw, "calibr8_trt_runtime_create")?;
        lifetime!("create Runtime", raw);
        Ok(Arc::new(Runtime { raw, lock: Mutex::new(()) }))
    }

    /// `deserializeCudaEngine`.
    pub fn deserialize(self: &Arc<Self>, plan: &[u8]) -> Result<Arc<Engine>> {
        let mut raw = ptr::null_mut();
        let _g = lock(&self.lock);
        // SAFETY: the runtime is live; the plan bytes outlive the call.
        check(
            unsafe {
                sys::calibr8_trt_runtime_deserialize_engine(
                    self.raw.as_ptr(),
                    plan.as_ptr().cast(),
                    plan.len(),
                    &mut raw,
                )
            },
            "calibr8_trt_runtime_deserialize_engine",
        )?;
        let raw = non_null(raw, "calibr8_trt_runtime_deserialize_engine")?;
        lifetime!("create Engine", raw);
        Ok(Arc::new(Engine { raw, runtime: self.clone() }))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        lifetime!("drop Runtime", self.raw);
        // SAFETY: engines hold an Arc to the runtime, so none is left.
        unsafe { sys::calibr8_trt_runtime_destroy(self.raw.as_ptr()) };
    }
}

/// An input or output of an engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoTensor {
    /// Name.
    pub name: String,
    /// True for inputs.
    pub is_input: bool,
    /// `DataType`.
    pub data_type: i32,
    /// Shape (`-1` for dynamic extents).
    pub shape: Vec<i64>,
}

/// An `ICudaEngine`.
#[derive(Debug)]
pub struct Engine {
    raw: NonNull<sys::calibr8_trt_engine>,
    #[allow(dead_code)] // keeps the runtime alive
    runtime: Arc<Runtime>,
}

// SAFETY: ICudaEngine is immutable once deserialized; TensorRT documents creating execution
// contexts and querying it from several threads as safe.
unsafe impl Send for Engine {}
// SAFETY: as above: every method takes `&self` and only reads or creates contexts.
unsafe impl Sync for Engine {}

impl Engine {
    /// Inputs and outputs in engine order.
    pub fn io_tensors(&self) -> Result<Vec<IoTensor>> {
        let raw = self.raw.as_ptr();
        let mut n = 0;
        // SAFETY: the engine is live.
        check(
            unsafe { sys::calibr8_trt_engine_num_io_tensors(raw, &mut n) },
            "calibr8_trt_engine_num_io_tensors",
        )?;
        (0..n)
            .map(|i| {
                let mut p = ptr::null();
                // SAFETY: index in range; the name is copied at once.
                check(
                    unsafe { sys::calibr8_trt_engine_io_tensor_name(raw, i, &mut p) },
                    "calibr8_trt_engine_io_tensor_name",
                )?;
                let name = unsafe { borrowed_str(p) }.unwrap_or_default();
                let c = cstring(&name)?;
                let (mut mode, mut dt, mut d) = (0, 0, sys::calibr8_trt_dims::default());
                // SAFETY: the engine is live; `c` names one of its I/O tensors.
                unsafe {
                    check(
                        sys::calibr8_trt_engine_tensor_io_mode(raw, c.as_ptr(), &mut mode),
                        "calibr8_trt_engine_tensor_io_mode",
                    )?;
                    check(
                        sys::calibr8_trt_engine_tensor_data_type(raw, c.as_ptr(), &mut dt),
                        "calibr8_trt_engine_tensor_data_type",
                    )?;
                    check(
                        sys::calibr8_trt_engine_tensor_shape(raw, c.as_ptr(), &mut d),
                        "calibr8_trt_engine_tensor_shape",
                    )?;
                }
                let shape = shape_of(&d, &name)?;
                Ok(IoTensor {
                    name,
                    is_input: mode == sys::CALIBR8_TRT_IO_MODE_INPUT,
                    data_type: dt,
                    shape,
                })
            })
            .collect()
    }

    /// Number of layers after fusion.
    pub fn num_layers(&self) -> Result<i32> {
        let mut n = 0;
        // SAFETY: the engine is live.
        check(
            unsafe { sys::calibr8_trt_engine_num_layers(self.raw.as_ptr(), &mut n) },
            "calibr8_trt_engine_num_layers",
        )?;
        Ok(n)
    }

    /// The engine inspector's JSON (per-layer detail when built with detailed profiling).
    pub fn inspector_json(&self, context: Option<&ExecutionContext>) -> Result<String> {
        let mut blob = ptr::null_mut();
        let ctx = context.map_or(ptr::null(), |c| c.raw.as_ptr().cast_const());
        // SAFETY: the engine (and context, if any) are live.
        check(
            unsafe { sys::calibr8_trt_engine_inspector_json(self.raw.as_ptr(), ctx, &mut blob) },
            "calibr8_trt_engine_inspector_json",
        )?;
        Ok(Blob { raw: non_null(blob, "calibr8_trt_engine_inspector_json")? }.text())
    }

    /// A new execution context that keeps this engine alive.
    pub fn context(self: &Arc<Self>) -> Result<ExecutionContext> {
        let mut raw = ptr::null_mut();
        // SAFETY: the engine is live.
        check(
            unsafe { sys::calibr8_trt_context_create(self.raw.as_ptr(), &mut raw) },
            "calibr8_trt_context_create",
        )?;
        let raw = non_null(raw, "calibr8_trt_context_create")?;
        lifetime!("create ExecutionContext", raw);
        Ok(ExecutionContext { raw, engine: self.clone() })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        lifetime!("drop Engine", self.raw);
        // SAFETY: contexts hold an Arc to the engine, so none is left.
        unsafe { sys::calibr8_trt_engine_destroy(self.raw.as_ptr()) };
    }
}

/// An `IExecutionContext`.
#[derive(Debug)]
pub struct ExecutionContext {
    raw: NonNull<sys::calibr8_trt_context>,
    engine: Arc<Engine>,
}

// SAFETY: a context may move to another thread; it is used through `&mut self` only (not Sync),
// as TensorRT requires (one thread at a time per context).
unsafe impl Send for ExecutionContext {}

impl ExecutionContext {
    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// `setInputShape`.
    pub fn set_input_shape(&mut self, tensor: &str, shape: &[i64]) -> Result<()> {
        let (c, d) = (cstring(tensor)?, dims(shape)?);
        // SAFETY: the context is live; pointers are valid for the call.
        check(
            unsafe { sys::calibr8_trt_context_set_input_shape(self.raw.as_ptr(), c.as_ptr(), &d) },
            "calibr8_trt_context_set_input_shape",
        )
    }

    /// The shape resolved for the input shapes set so far.
    pub fn tensor_shape(&self, tensor: &str) -> Result<Vec<i64>> {
        let c = cstring(tensor)?;
        let mut d = sys::calibr8_trt_dims::default();
        // SAFETY: the context is live.
        check(
            unsafe { sys::calibr8_trt_context_tensor_shape(self.raw.as_ptr(), c.as_ptr(), &mut d) },
            "calibr8_trt_context_tensor_shape",
        )?;
        shape_of(&d, tensor)
    }

    /// `setTensorAddress`.
    ///
    /// # Safety
    /// `address` is device memory large enough for the tensor's current shape, alive until the
    /// last enqueue using it has completed.
    pub unsafe fn set_tensor_address(
        &mut self,
        tensor: &str,
        address: *mut std::ffi::c_void,
    ) -> Result<()> {
        let c = cstring(tensor)?;
        check(
            sys::calibr8_trt_context_set_tensor_address(self.raw.as_ptr(), c.as_ptr(), address),
            "calibr8_trt_context_set_tensor_address",
        )
    }

    /// `enqueueV3` on `stream` (a `CUstream`).
    ///
    /// # Safety
    /// Every I/O tensor has a valid address set, and `stream` belongs to the current CUDA
    /// context and outlives the queued work.
    pub unsafe fn enqueue(&mut self, stream: *mut std::ffi::c_void) -> Result<()> {
        check(
            sys::calibr8_trt_context_enqueue_v3(self.raw.as_ptr(), stream),
            "calibr8_trt_context_enqueue_v3",
        )
    }
}

impl Drop for ExecutionContext {
    fn drop(&mut self) {
        lifetime!("drop ExecutionContext", self.raw);
        // SAFETY: owned; the engine outlives it through the Arc.
        unsafe { sys::calibr8_trt_context_destroy(self.raw.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // See: https://github.com/calibr8/calibr8/issues/16 (point 9)
    #[test]
    fn issue_16_nb_dims_minus_one_is_an_error_not_a_scalar() {
        let mut d = sys::calibr8_trt_dims { nb_dims: -1, ..Default::default() };
        let err = shape_of(&d, "logits").expect_err("invalid shape").to_string();
        assert!(err.contains("invalid shape (nbDims -1) for tensor 'logits'"), "{err}");
        d.nb_dims = 0;
        assert_eq!(shape_of(&d, "s").expect("scalar"), Vec::<i64>::new());
        d.nb_dims = 2;
        d.d[..2].copy_from_slice(&[32, 10]);
        assert_eq!(shape_of(&d, "y").expect("2-D"), [32, 10]);
        d.nb_dims = 9;
        assert!(shape_of(&d, "z").is_err());
    }

    /// One logger per process, never freed: every builder and runtime logs through the same
    /// one (the shim build; the stub build has none and says why).
    // See: https://github.com/calibr8/calibr8/issues/16 (point 4)
    #[test]
    // SHIM_AVAILABLE is a build constant: these asserts tie the run-time outcome to the build.
    #[allow(clippy::assertions_on_constants)]
    fn issue_16_one_process_wide_logger() {
        match Logger::global() {
            Ok(first) => {
                assert!(sys::SHIM_AVAILABLE);
                let again = Logger::global().expect("cached");
                assert!(std::ptr::eq(first, again));
                assert_eq!(first.as_ptr(), again.as_ptr());
                let from_threads: Vec<usize> = (0..4)
                    .map(|_| std::thread::spawn(|| Logger::global().map(|l| l.as_ptr() as usize)))
                    .map(|h| h.join().expect("thread").expect("logger"))
                    .collect();
                assert!(from_threads.iter().all(|p| *p == first.as_ptr() as usize));
            }
            Err(e) => {
                assert!(!sys::SHIM_AVAILABLE);
                assert!(e.to_string().contains("built without TensorRT headers"), "{e}");
            }
        }
    }
}
