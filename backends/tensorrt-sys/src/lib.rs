//! Raw bindings to calibr8's C++ shim over TensorRT 10, and the loader that finds TensorRT.
//!
//! This crate is raw on purpose: `#[repr(C)]` opaque handles, the shim's `extern "C"` functions
//! (all `unsafe`, each returning an `i32` status), and [`loader`], which opens
//! `libnvinfer.so.10` / `libnvonnxparser.so.10` once per process and hands out the factory
//! functions the shim needs. Safe RAII types live in `calibr8-tensorrt`.
//!
//! # Features and build configuration
//!
//! - **`shim`** (cargo feature, off by default): compile `shim/calibr8_trt_shim.cpp` against
//!   TensorRT 10 and CUDA headers. The build script looks in `TENSORRT_INCLUDE_DIR`, else
//!   `TENSORRT_ROOT/include` (else the system include folders), and in `CUDA_PATH/include` (else
//!   `/usr/local/cuda/include`). Set `CALIBR8_TENSORRT_REQUIRE_SHIM=1` to make missing headers a
//!   build error instead of a fallback.
//! - **`cfg(calibr8_trt_stub)`**: set by the build script when the shim was not compiled (feature
//!   off, or headers not found). Every shim function then returns
//!   [`CALIBR8_TRT_ERR_UNAVAILABLE`] and [`calibr8_trt_last_error`] explains how to rebuild;
//!   [`SHIM_AVAILABLE`] tells which build this is. The loader works in both builds.
//!
//! Nothing links against TensorRT in either build. At run time, [`loader::api`] opens the
//! libraries (`CALIBR8_TENSORRT_LIB` and `CALIBR8_TENSORRT_ONNX_PARSER_LIB` override where) and
//! checks `getInferLibVersion()` reports major version 10.
//!
//! # Safety
//!
//! The contract every function of this crate shares, as in `shim/calibr8_trt_shim.h`:
//!
//! - Handle arguments are live handles from the matching `*_create` function (or NULL where the
//!   function documents it); out-pointers point to writable memory. Results are written only when
//!   the status is [`CALIBR8_TRT_OK`].
//! - Strings passed in are NUL-terminated. Borrowed `*const c_char` results (tensor and layer
//!   names) live as long as the object they came from.
//! - Destroy children before parents: context → engine → runtime; network and builder config →
//!   builder; every TensorRT object before its logger; a timing cache after the last build that
//!   uses it.
//! - Factory function pointers come from a [`loader::Api`] that is still alive (the global one
//!   from [`loader::api`] lives for the whole process).
//! - The error text of [`calibr8_trt_last_error`] belongs to the calling thread and is valid until
//!   that thread's next shim call.
//! - TensorRT objects are not synchronized: a builder, network or execution context must not be
//!   used from two threads at once. Engines and runtimes may be shared for reading.
//!
//! # Example
//!
//! ```
//! use calibr8_tensorrt_sys as sys;
//!
//! // Without TensorRT installed the loader says what to install, and never panics.
//! match sys::loader::api() {
//!     Ok(api) => println!("TensorRT {} from {}", api.version, api.path.display()),
//!     Err(err) => assert!(err.to_string().contains("CALIBR8_TENSORRT")),
//! }
//! ```
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

#[macro_use]
mod macros;
pub mod loader;
mod log;

pub use log::calibr8_trt_tracing_log;

use std::ffi::{c_char, c_int, c_void};
use std::marker::{PhantomData, PhantomPinned};

/// `true` when the C++ shim was compiled in; `false` in the stub build (`cfg(calibr8_trt_stub)`).
pub const SHIM_AVAILABLE: bool = cfg!(not(calibr8_trt_stub));

// ---- status codes ------------------------------------------------------------------------------

/// Success.
pub const CALIBR8_TRT_OK: i32 = 0;
/// A null pointer, an index out of range or an invalid enum value.
pub const CALIBR8_TRT_ERR_INVALID_ARGUMENT: i32 = 1;
/// No tensor or input of that name.
pub const CALIBR8_TRT_ERR_NOT_FOUND: i32 = 2;
/// A TensorRT call failed (returned null or false); the TensorRT log usually says why.
pub const CALIBR8_TRT_ERR_TENSORRT: i32 = 3;
/// A C++ exception was caught at the shim boundary.
pub const CALIBR8_TRT_ERR_EXCEPTION: i32 = 4;
/// Stub build: the shim was compiled without TensorRT headers.
pub const CALIBR8_TRT_ERR_UNAVAILABLE: i32 = 5;

// ---- nvinfer1::DataType ------------------------------------------------------------------------

/// `DataType::kFLOAT` (fp32).
pub const CALIBR8_TRT_DATA_TYPE_FLOAT: i32 = 0;
/// `DataType::kHALF` (fp16).
pub const CALIBR8_TRT_DATA_TYPE_HALF: i32 = 1;
/// `DataType::kINT8`.
pub const CALIBR8_TRT_DATA_TYPE_INT8: i32 = 2;
/// `DataType::kINT32`.
pub const CALIBR8_TRT_DATA_TYPE_INT32: i32 = 3;
/// `DataType::kBOOL`.
pub const CALIBR8_TRT_DATA_TYPE_BOOL: i32 = 4;
/// `DataType::kUINT8`.
pub const CALIBR8_TRT_DATA_TYPE_UINT8: i32 = 5;
/// `DataType::kFP8`.
pub const CALIBR8_TRT_DATA_TYPE_FP8: i32 = 6;
/// `DataType::kBF16`.
pub const CALIBR8_TRT_DATA_TYPE_BF16: i32 = 7;
/// `DataType::kINT64`.
pub const CALIBR8_TRT_DATA_TYPE_INT64: i32 = 8;
/// `DataType::kINT4`.
pub const CALIBR8_TRT_DATA_TYPE_INT4: i32 = 9;

// ---- nvinfer1::BuilderFlag (any valid value is accepted; these are the ones calibr8 uses) -------

/// `BuilderFlag::kFP16` (deprecated in 10.12 with weak typing; still works in every 10.x).
pub const CALIBR8_TRT_BUILDER_FLAG_FP16: i32 = 0;
/// `BuilderFlag::kINT8` (deprecated in 10.12 with weak typing; still works in every 10.x).
pub const CALIBR8_TRT_BUILDER_FLAG_INT8: i32 = 1;
/// `BuilderFlag::kOBEY_PRECISION_CONSTRAINTS`: per-layer precisions are requirements.
pub const CALIBR8_TRT_BUILDER_FLAG_OBEY_PRECISION_CONSTRAINTS: i32 = 9;
/// `BuilderFlag::kPREFER_PRECISION_CONSTRAINTS`: per-layer precisions are preferences.
pub const CALIBR8_TRT_BUILDER_FLAG_PREFER_PRECISION_CONSTRAINTS: i32 = 10;

// ---- network creation flags --------------------------------------------------------------------

/// Bit of `NetworkDefinitionCreationFlag::kSTRONGLY_TYPED`: types come from the network (Q/DQ),
/// not from builder flags. Such networks refuse `setDynamicRange` and per-layer precisions.
pub const CALIBR8_TRT_NETWORK_STRONGLY_TYPED: u32 = 1 << 1;

// ---- other nvinfer1 enums ----------------------------------------------------------------------

/// `MemoryPoolType::kWORKSPACE`.
pub const CALIBR8_TRT_MEMORY_POOL_WORKSPACE: i32 = 0;
/// `ProfilingVerbosity::kLAYER_NAMES_ONLY` (TensorRT's default).
pub const CALIBR8_TRT_PROFILING_LAYER_NAMES_ONLY: i32 = 0;
/// `ProfilingVerbosity::kNONE`.
pub const CALIBR8_TRT_PROFILING_NONE: i32 = 1;
/// `ProfilingVerbosity::kDETAILED`: needed for per-layer engine-inspector JSON.
pub const CALIBR8_TRT_PROFILING_DETAILED: i32 = 2;
/// `TensorIOMode::kNONE`: not an I/O tensor.
pub const CALIBR8_TRT_IO_MODE_NONE: i32 = 0;
/// `TensorIOMode::kINPUT`.
pub const CALIBR8_TRT_IO_MODE_INPUT: i32 = 1;
/// `TensorIOMode::kOUTPUT`.
pub const CALIBR8_TRT_IO_MODE_OUTPUT: i32 = 2;
/// `ILogger::Severity::kINTERNAL_ERROR`.
pub const CALIBR8_TRT_SEVERITY_INTERNAL_ERROR: i32 = 0;
/// `ILogger::Severity::kERROR`.
pub const CALIBR8_TRT_SEVERITY_ERROR: i32 = 1;
/// `ILogger::Severity::kWARNING`.
pub const CALIBR8_TRT_SEVERITY_WARNING: i32 = 2;
/// `ILogger::Severity::kINFO`.
pub const CALIBR8_TRT_SEVERITY_INFO: i32 = 3;
/// `ILogger::Severity::kVERBOSE`.
pub const CALIBR8_TRT_SEVERITY_VERBOSE: i32 = 4;

// ---- value types -------------------------------------------------------------------------------

/// Most dimensions a TensorRT tensor has (`Dims64::MAX_DIMS`).
pub const CALIBR8_TRT_MAX_DIMS: usize = 8;

/// A tensor shape, laid out as `nvinfer1::Dims64`. `-1` marks a dynamic extent.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct calibr8_trt_dims {
    /// The rank; only `d[..nb_dims]` is meaningful.
    pub nb_dims: i32,
    /// The extents.
    pub d: [i64; CALIBR8_TRT_MAX_DIMS],
}

const _: () = assert!(std::mem::size_of::<calibr8_trt_dims>() == 72);

// ---- opaque handles ----------------------------------------------------------------------------

macro_rules! opaque_handles {
    ($($(#[$meta:meta])* $name:ident;)*) => {$(
        $(#[$meta])*
        #[repr(C)]
        #[allow(non_camel_case_types)]
        pub struct $name {
            _data: [u8; 0],
            // Neither Send, Sync nor Unpin: what may cross threads is for the wrapper to decide.
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque_handles! {
    /// An `nvinfer1::ILogger` that forwards to a [`calibr8_trt_log_fn`].
    calibr8_trt_logger;
    /// An `nvinfer1::IBuilder`.
    calibr8_trt_builder;
    /// An `nvinfer1::INetworkDefinition` together with the ONNX parser that filled it.
    calibr8_trt_network;
    /// An `nvinfer1::IBuilderConfig`.
    calibr8_trt_builder_config;
    /// An `nvinfer1::IOptimizationProfile`, owned by its builder (there is no destroy).
    calibr8_trt_optimization_profile;
    /// An `nvinfer1::ITimingCache`.
    calibr8_trt_timing_cache;
    /// Owned bytes: a plan, a serialized timing cache, or text (parser errors, inspector JSON).
    calibr8_trt_blob;
    /// An `nvinfer1::IRuntime`.
    calibr8_trt_runtime;
    /// An `nvinfer1::ICudaEngine`.
    calibr8_trt_engine;
    /// An `nvinfer1::IExecutionContext`.
    calibr8_trt_context;
}

// ---- function pointer types --------------------------------------------------------------------

/// Receives every TensorRT log line: `(user_data, severity, message)`. TensorRT may call it from
/// any thread; it must not unwind. [`calibr8_trt_tracing_log`] is a ready-made one.
#[allow(non_camel_case_types)]
pub type calibr8_trt_log_fn =
    unsafe extern "C" fn(user_data: *mut c_void, severity: i32, message: *const c_char);
/// `createInferBuilder_INTERNAL(void* logger, int32_t version)` from libnvinfer.
#[allow(non_camel_case_types)]
pub type calibr8_trt_create_infer_builder_fn =
    unsafe extern "C" fn(logger: *mut c_void, version: i32) -> *mut c_void;
/// `createInferRuntime_INTERNAL(void* logger, int32_t version)` from libnvinfer.
#[allow(non_camel_case_types)]
pub type calibr8_trt_create_infer_runtime_fn =
    unsafe extern "C" fn(logger: *mut c_void, version: i32) -> *mut c_void;
/// `createNvOnnxParser_INTERNAL(void* network, void* logger, int version)` from libnvonnxparser.
#[allow(non_camel_case_types)]
pub type calibr8_trt_create_onnx_parser_fn =
    unsafe extern "C" fn(network: *mut c_void, logger: *mut c_void, version: c_int) -> *mut c_void;
/// `initLibNvInferPlugins(void* logger, const char* libNamespace)` from libnvinfer_plugin.
#[allow(non_camel_case_types)]
pub type calibr8_trt_init_plugins_fn =
    unsafe extern "C" fn(logger: *mut c_void, lib_namespace: *const c_char) -> bool;
/// `getInferLibVersion()` from libnvinfer: `major * 10000 + minor * 100 + patch` in 10.x.
#[allow(non_camel_case_types)]
pub type calibr8_trt_get_infer_lib_version_fn = unsafe extern "C" fn() -> i32;

// ---- errors and versions -----------------------------------------------------------------------

#[cfg(not(calibr8_trt_stub))]
unsafe extern "C" {
    /// The calling thread's last error message (`""` if none), NUL-terminated.
    ///
    /// # Safety
    /// The pointer is valid until this thread's next shim call; copy the text out first.
    pub fn calibr8_trt_last_error() -> *const c_char;
    /// `NV_TENSORRT_VERSION` of the headers the shim was compiled against: `major * 10000 +
    /// minor * 100 + patch` (`101600` for the 10.16.0 headers of the tag v10.16).
    ///
    /// # Safety
    /// Always safe to call; `unsafe` only because it is foreign.
    pub fn calibr8_trt_header_version() -> i32;
    /// `NV_ONNX_PARSER_VERSION` of the headers the shim was compiled against (`100` in 10.x).
    ///
    /// # Safety
    /// Always safe to call; `unsafe` only because it is foreign.
    pub fn calibr8_trt_onnx_parser_header_version() -> i32;
}

/// What every call of the stub build fails with, NUL-terminated.
#[cfg(calibr8_trt_stub)]
const STUB_MESSAGE: &str = concat!(
    "built without TensorRT headers (",
    env!("CALIBR8_TRT_STUB_REASON"),
    "): set TENSORRT_INCLUDE_DIR (or TENSORRT_ROOT) and CUDA_PATH, then rebuild with --features ",
    "tensorrt (calibr8-tensorrt-sys/shim)\0"
);

/// Stub build: always the "built without TensorRT headers" message, NUL-terminated.
///
/// # Safety
/// Always safe to call; `unsafe` to match the real declaration.
#[cfg(calibr8_trt_stub)]
pub unsafe extern "C" fn calibr8_trt_last_error() -> *const c_char {
    STUB_MESSAGE.as_ptr().cast()
}

/// Stub build: `0` (no headers were compiled in).
///
/// # Safety
/// Always safe to call; `unsafe` to match the real declaration.
#[cfg(calibr8_trt_stub)]
pub unsafe extern "C" fn calibr8_trt_header_version() -> i32 {
    0
}

/// Stub build: `0` (no headers were compiled in).
///
/// # Safety
/// Always safe to call; `unsafe` to match the real declaration.
#[cfg(calibr8_trt_stub)]
pub unsafe extern "C" fn calibr8_trt_onnx_parser_header_version() -> i32 {
    0
}

shim_functions! {
    // ---- logger ----
    /// Creates a logger that forwards every TensorRT message to `callback(user_data, ..)`.
    /// `user_data` must stay valid until [`calibr8_trt_logger_destroy`].
    pub fn calibr8_trt_logger_create(
        callback: Option<calibr8_trt_log_fn>,
        user_data: *mut c_void,
        out: *mut *mut calibr8_trt_logger,
    ) -> i32;
    /// Destroys a logger (NULL is fine). Every object created with it must be gone first.
    pub fn calibr8_trt_logger_destroy(logger: *mut calibr8_trt_logger) -> i32;

    // ---- plugins ----
    /// `initLibNvInferPlugins(logger, "")` through `init` ([`loader::PluginApi::init`]). The
    /// logger must outlive every TensorRT object (use the process-wide one).
    pub fn calibr8_trt_init_plugins(
        init: Option<calibr8_trt_init_plugins_fn>,
        logger: *mut calibr8_trt_logger,
    ) -> i32;

    // ---- builder ----
    /// Creates an `IBuilder` through `factory` (`createInferBuilder_INTERNAL` from
    /// [`loader::Api::create_infer_builder`]).
    pub fn calibr8_trt_builder_create(
        factory: Option<calibr8_trt_create_infer_builder_fn>,
        logger: *mut calibr8_trt_logger,
        out: *mut *mut calibr8_trt_builder,
    ) -> i32;
    /// Destroys a builder (NULL is fine), after its networks and configs.
    pub fn calibr8_trt_builder_destroy(builder: *mut calibr8_trt_builder) -> i32;

    // ---- network ----
    /// Creates a network with `flags` ([`CALIBR8_TRT_NETWORK_STRONGLY_TYPED`] or 0) and parses
    /// `onnx[..onnx_len]` into it with a parser from `parser_factory`
    /// ([`loader::OnnxParserApi::create_onnx_parser`]). `model_path` (nullable) resolves ONNX
    /// external data. On a parse failure returns [`CALIBR8_TRT_ERR_TENSORRT`] and, when
    /// `out_errors` is not null, writes every parser error as text (one per line) to it; the last
    /// error holds the same text.
    pub fn calibr8_trt_network_create_from_onnx(
        builder: *mut calibr8_trt_builder,
        parser_factory: Option<calibr8_trt_create_onnx_parser_fn>,
        logger: *mut calibr8_trt_logger,
        flags: u32,
        onnx: *const c_void,
        onnx_len: usize,
        model_path: *const c_char,
        out: *mut *mut calibr8_trt_network,
        out_errors: *mut *mut calibr8_trt_blob,
    ) -> i32;
    /// Destroys a network and its parser (NULL is fine).
    pub fn calibr8_trt_network_destroy(network: *mut calibr8_trt_network) -> i32;
    /// Number of network inputs.
    pub fn calibr8_trt_network_num_inputs(
        network: *const calibr8_trt_network,
        out: *mut i32,
    ) -> i32;
    /// Name of network input `index`.
    pub fn calibr8_trt_network_input_name(
        network: *const calibr8_trt_network,
        index: i32,
        out: *mut *const c_char,
    ) -> i32;
    /// Number of network outputs.
    pub fn calibr8_trt_network_num_outputs(
        network: *const calibr8_trt_network,
        out: *mut i32,
    ) -> i32;
    /// Name of network output `index`.
    pub fn calibr8_trt_network_output_name(
        network: *const calibr8_trt_network,
        index: i32,
        out: *mut *const c_char,
    ) -> i32;
    /// Shape of any network tensor (input, output or intermediate), by its ONNX name.
    pub fn calibr8_trt_network_tensor_dims(
        network: *mut calibr8_trt_network,
        tensor: *const c_char,
        out: *mut calibr8_trt_dims,
    ) -> i32;
    /// `DataType` of any network tensor, by its ONNX name.
    pub fn calibr8_trt_network_tensor_data_type(
        network: *mut calibr8_trt_network,
        tensor: *const c_char,
        out: *mut i32,
    ) -> i32;
    /// `ITensor::setDynamicRange(min, max)` on the tensor of that name (implicit quantization;
    /// deprecated since 10.1, removed in TensorRT 11). [`CALIBR8_TRT_ERR_NOT_FOUND`] for an
    /// unknown name.
    pub fn calibr8_trt_network_set_dynamic_range(
        network: *mut calibr8_trt_network,
        tensor: *const c_char,
        min: f32,
        max: f32,
    ) -> i32;
    /// `INetworkDefinition::markOutput` on the tensor of that name (no-op when it already is
    /// one): an intermediate tensor becomes an engine output. Keeps TensorRT from fusing across
    /// it. [`CALIBR8_TRT_ERR_NOT_FOUND`] for an unknown name.
    pub fn calibr8_trt_network_mark_output(
        network: *mut calibr8_trt_network,
        tensor: *const c_char,
    ) -> i32;
    /// Number of layers.
    pub fn calibr8_trt_network_num_layers(
        network: *const calibr8_trt_network,
        out: *mut i32,
    ) -> i32;
    /// Name of layer `layer`.
    pub fn calibr8_trt_network_layer_name(
        network: *const calibr8_trt_network,
        layer: i32,
        out: *mut *const c_char,
    ) -> i32;
    /// `LayerType` of layer `layer`, as its value and as static text (`"CONVOLUTION"`, ...,
    /// `"UNKNOWN"` past what the shim knows); either out may be null.
    pub fn calibr8_trt_network_layer_type(
        network: *const calibr8_trt_network,
        layer: i32,
        out_type: *mut i32,
        out_name: *mut *const c_char,
    ) -> i32;
    /// Number of inputs of layer `layer`.
    pub fn calibr8_trt_network_layer_num_inputs(
        network: *const calibr8_trt_network,
        layer: i32,
        out: *mut i32,
    ) -> i32;
    /// Tensor name of input `index` of layer `layer`; null for an absent optional input.
    pub fn calibr8_trt_network_layer_input_name(
        network: *const calibr8_trt_network,
        layer: i32,
        index: i32,
        out: *mut *const c_char,
    ) -> i32;
    /// Number of outputs of layer `layer`.
    pub fn calibr8_trt_network_layer_num_outputs(
        network: *const calibr8_trt_network,
        layer: i32,
        out: *mut i32,
    ) -> i32;
    /// Tensor name of output `index` of layer `layer`.
    pub fn calibr8_trt_network_layer_output_name(
        network: *const calibr8_trt_network,
        layer: i32,
        index: i32,
        out: *mut *const c_char,
    ) -> i32;
    /// `ILayer::getPrecision` and `precisionIsSet` (0/1); either out may be null.
    pub fn calibr8_trt_network_layer_precision(
        network: *const calibr8_trt_network,
        layer: i32,
        out_data_type: *mut i32,
        out_is_set: *mut i32,
    ) -> i32;
    /// `ILayer::setPrecision(data_type)`.
    pub fn calibr8_trt_network_layer_set_precision(
        network: *mut calibr8_trt_network,
        layer: i32,
        data_type: i32,
    ) -> i32;
    /// `ILayer::resetPrecision()`.
    pub fn calibr8_trt_network_layer_reset_precision(
        network: *mut calibr8_trt_network,
        layer: i32,
    ) -> i32;
    /// `ILayer::getOutputType(index)` and `outputTypeIsSet(index)` (0/1); either out may be null.
    pub fn calibr8_trt_network_layer_output_type(
        network: *const calibr8_trt_network,
        layer: i32,
        index: i32,
        out_data_type: *mut i32,
        out_is_set: *mut i32,
    ) -> i32;
    /// `ILayer::setOutputType(index, data_type)`.
    pub fn calibr8_trt_network_layer_set_output_type(
        network: *mut calibr8_trt_network,
        layer: i32,
        index: i32,
        data_type: i32,
    ) -> i32;
    /// `ILayer::resetOutputType(index)`.
    pub fn calibr8_trt_network_layer_reset_output_type(
        network: *mut calibr8_trt_network,
        layer: i32,
        index: i32,
    ) -> i32;

    // ---- builder config ----
    /// Creates an `IBuilderConfig`.
    pub fn calibr8_trt_builder_config_create(
        builder: *mut calibr8_trt_builder,
        out: *mut *mut calibr8_trt_builder_config,
    ) -> i32;
    /// Destroys a builder config (NULL is fine).
    pub fn calibr8_trt_builder_config_destroy(config: *mut calibr8_trt_builder_config) -> i32;
    /// Sets (`enabled` = 1) or clears (0) a `BuilderFlag` (`CALIBR8_TRT_BUILDER_FLAG_*` or any
    /// valid value).
    pub fn calibr8_trt_builder_config_set_flag(
        config: *mut calibr8_trt_builder_config,
        flag: i32,
        enabled: i32,
    ) -> i32;
    /// Reads a `BuilderFlag` (0/1).
    pub fn calibr8_trt_builder_config_get_flag(
        config: *const calibr8_trt_builder_config,
        flag: i32,
        out: *mut i32,
    ) -> i32;
    /// `setMemoryPoolLimit(pool, bytes)`, e.g. [`CALIBR8_TRT_MEMORY_POOL_WORKSPACE`].
    pub fn calibr8_trt_builder_config_set_memory_pool_limit(
        config: *mut calibr8_trt_builder_config,
        pool: i32,
        bytes: u64,
    ) -> i32;
    /// `setProfilingVerbosity`; [`CALIBR8_TRT_PROFILING_DETAILED`] for per-layer inspector JSON.
    pub fn calibr8_trt_builder_config_set_profiling_verbosity(
        config: *mut calibr8_trt_builder_config,
        verbosity: i32,
    ) -> i32;
    /// `setBuilderOptimizationLevel` (0..=5, default 3; lower builds faster).
    pub fn calibr8_trt_builder_config_set_optimization_level(
        config: *mut calibr8_trt_builder_config,
        level: i32,
    ) -> i32;
    /// `addOptimizationProfile`; writes the profile's index when `out_index` is not null.
    pub fn calibr8_trt_builder_config_add_optimization_profile(
        config: *mut calibr8_trt_builder_config,
        profile: *mut calibr8_trt_optimization_profile,
        out_index: *mut i32,
    ) -> i32;
    /// `createTimingCache`: empty when `len` is 0, else from a previous
    /// [`calibr8_trt_timing_cache_serialize`].
    pub fn calibr8_trt_builder_config_create_timing_cache(
        config: *mut calibr8_trt_builder_config,
        data: *const c_void,
        len: usize,
        out: *mut *mut calibr8_trt_timing_cache,
    ) -> i32;
    /// `setTimingCache(cache, ignore_mismatch != 0)`. The cache must outlive every build using
    /// this config.
    pub fn calibr8_trt_builder_config_set_timing_cache(
        config: *mut calibr8_trt_builder_config,
        cache: *const calibr8_trt_timing_cache,
        ignore_mismatch: i32,
    ) -> i32;
    /// `ITimingCache::serialize` into a blob.
    pub fn calibr8_trt_timing_cache_serialize(
        cache: *const calibr8_trt_timing_cache,
        out: *mut *mut calibr8_trt_blob,
    ) -> i32;
    /// Destroys a timing cache (NULL is fine).
    pub fn calibr8_trt_timing_cache_destroy(cache: *mut calibr8_trt_timing_cache) -> i32;

    // ---- optimization profiles ----
    /// `IBuilder::createOptimizationProfile`. The profile belongs to the builder: no destroy.
    pub fn calibr8_trt_optimization_profile_create(
        builder: *mut calibr8_trt_builder,
        out: *mut *mut calibr8_trt_optimization_profile,
    ) -> i32;
    /// `setDimensions` for kMIN, kOPT and kMAX of network input `input`.
    pub fn calibr8_trt_optimization_profile_set_dimensions(
        profile: *mut calibr8_trt_optimization_profile,
        input: *const c_char,
        min: *const calibr8_trt_dims,
        opt: *const calibr8_trt_dims,
        max: *const calibr8_trt_dims,
    ) -> i32;

    // ---- build ----
    /// `IBuilder::buildSerializedNetwork`: the plan (serialized engine) as a blob.
    pub fn calibr8_trt_builder_build_serialized_network(
        builder: *mut calibr8_trt_builder,
        network: *mut calibr8_trt_network,
        config: *mut calibr8_trt_builder_config,
        out: *mut *mut calibr8_trt_blob,
    ) -> i32;

    // ---- blobs ----
    /// Borrows a blob's bytes (valid until it is destroyed). Text blobs are NUL-terminated and
    /// `len` excludes the terminator.
    pub fn calibr8_trt_blob_data(
        blob: *const calibr8_trt_blob,
        data: *mut *const c_void,
        len: *mut usize,
    ) -> i32;
    /// Destroys a blob (NULL is fine).
    pub fn calibr8_trt_blob_destroy(blob: *mut calibr8_trt_blob) -> i32;

    // ---- runtime and engine ----
    /// Creates an `IRuntime` through `factory` (`createInferRuntime_INTERNAL` from
    /// [`loader::Api::create_infer_runtime`]).
    pub fn calibr8_trt_runtime_create(
        factory: Option<calibr8_trt_create_infer_runtime_fn>,
        logger: *mut calibr8_trt_logger,
        out: *mut *mut calibr8_trt_runtime,
    ) -> i32;
    /// Destroys a runtime (NULL is fine), after its engines.
    pub fn calibr8_trt_runtime_destroy(runtime: *mut calibr8_trt_runtime) -> i32;
    /// `IRuntime::deserializeCudaEngine(plan, len)`.
    pub fn calibr8_trt_runtime_deserialize_engine(
        runtime: *mut calibr8_trt_runtime,
        plan: *const c_void,
        len: usize,
        out: *mut *mut calibr8_trt_engine,
    ) -> i32;
    /// Destroys an engine (NULL is fine), after its execution contexts.
    pub fn calibr8_trt_engine_destroy(engine: *mut calibr8_trt_engine) -> i32;
    /// `ICudaEngine::getNbLayers` (after fusion).
    pub fn calibr8_trt_engine_num_layers(engine: *const calibr8_trt_engine, out: *mut i32) -> i32;
    /// `ICudaEngine::getNbIOTensors`.
    pub fn calibr8_trt_engine_num_io_tensors(
        engine: *const calibr8_trt_engine,
        out: *mut i32,
    ) -> i32;
    /// `ICudaEngine::getIOTensorName(index)`.
    pub fn calibr8_trt_engine_io_tensor_name(
        engine: *const calibr8_trt_engine,
        index: i32,
        out: *mut *const c_char,
    ) -> i32;
    /// `ICudaEngine::getTensorShape(tensor)` (`-1` for dynamic extents).
    pub fn calibr8_trt_engine_tensor_shape(
        engine: *const calibr8_trt_engine,
        tensor: *const c_char,
        out: *mut calibr8_trt_dims,
    ) -> i32;
    /// `ICudaEngine::getTensorDataType(tensor)`.
    pub fn calibr8_trt_engine_tensor_data_type(
        engine: *const calibr8_trt_engine,
        tensor: *const c_char,
        out: *mut i32,
    ) -> i32;
    /// `ICudaEngine::getTensorIOMode(tensor)`: [`CALIBR8_TRT_IO_MODE_INPUT`] or
    /// [`CALIBR8_TRT_IO_MODE_OUTPUT`]; [`CALIBR8_TRT_ERR_NOT_FOUND`] for any other name.
    pub fn calibr8_trt_engine_tensor_io_mode(
        engine: *const calibr8_trt_engine,
        tensor: *const c_char,
        out: *mut i32,
    ) -> i32;
    /// `IEngineInspector::getEngineInformation(kJSON)` as a text blob; `context` (nullable) adds
    /// the shapes it has set. Per-layer detail needs [`CALIBR8_TRT_PROFILING_DETAILED`] at build.
    pub fn calibr8_trt_engine_inspector_json(
        engine: *const calibr8_trt_engine,
        context: *const calibr8_trt_context,
        out: *mut *mut calibr8_trt_blob,
    ) -> i32;

    // ---- execution context ----
    /// `ICudaEngine::createExecutionContext`.
    pub fn calibr8_trt_context_create(
        engine: *mut calibr8_trt_engine,
        out: *mut *mut calibr8_trt_context,
    ) -> i32;
    /// Destroys an execution context (NULL is fine).
    pub fn calibr8_trt_context_destroy(context: *mut calibr8_trt_context) -> i32;
    /// `IExecutionContext::setInputShape(tensor, dims)`.
    pub fn calibr8_trt_context_set_input_shape(
        context: *mut calibr8_trt_context,
        tensor: *const c_char,
        dims: *const calibr8_trt_dims,
    ) -> i32;
    /// `IExecutionContext::getTensorShape(tensor)`: resolved for the input shapes set so far.
    pub fn calibr8_trt_context_tensor_shape(
        context: *const calibr8_trt_context,
        tensor: *const c_char,
        out: *mut calibr8_trt_dims,
    ) -> i32;
    /// `IExecutionContext::setTensorAddress(tensor, address)`; `address` is device memory.
    pub fn calibr8_trt_context_set_tensor_address(
        context: *mut calibr8_trt_context,
        tensor: *const c_char,
        address: *mut c_void,
    ) -> i32;
    /// `IExecutionContext::enqueueV3(stream)` (a `cudaStream_t`/`CUstream`; null: the legacy
    /// default stream). Asynchronous: synchronize the stream before reading outputs.
    pub fn calibr8_trt_context_enqueue_v3(
        context: *mut calibr8_trt_context,
        stream: *mut c_void,
    ) -> i32;
}

#[cfg(test)]
mod tests {
    /// `(name, parameter names)` of every status-returning function in the C header.
    fn header_functions() -> Vec<(String, Vec<String>)> {
        let header = include_str!("../shim/calibr8_trt_shim.h");
        let mut found = Vec::new();
        let mut rest = header;
        while let Some(start) = rest.find("int32_t calibr8_trt_") {
            let decl = &rest[start + "int32_t ".len()..];
            let open = decl.find('(').expect("a parameter list");
            let close = decl.find(");").expect("a declaration end");
            let name = decl[..open].trim().to_owned();
            let params = &decl[open + 1..close];
            rest = &decl[close..];
            if params.trim() == "void" {
                continue;
            }
            let names = params
                .split(',')
                .map(|p| {
                    let p = p.trim();
                    p.rsplit(|c: char| c == '*' || c.is_whitespace()).next().unwrap_or(p).to_owned()
                })
                .collect();
            found.push((name, names));
        }
        found
    }

    #[test]
    fn the_rust_declarations_match_the_c_header() {
        let header = header_functions();
        let rust: Vec<(String, Vec<String>)> = super::shim_function_table()
            .into_iter()
            .map(|(name, params, _)| {
                (name.to_owned(), params.into_iter().map(str::to_owned).collect())
            })
            .collect();
        assert!(header.len() > 50, "header parse found only {}", header.len());
        assert_eq!(rust, header);
    }

    #[test]
    fn every_function_resolves() {
        for (name, _, address) in super::shim_function_table() {
            assert_ne!(address, 0, "{name}");
        }
    }
}
