/*
 * calibr8_trt_shim.h — a small C ABI over the TensorRT 10 C++ API.
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * Conventions (every function follows them; the Rust bindings in src/lib.rs mirror this file):
 *   - Every function returns an int32_t status: CALIBR8_TRT_OK (0) on success, another
 *     CALIBR8_TRT_ERR_* code on failure. On failure calibr8_trt_last_error() returns a message for
 *     the calling thread. No C++ exception ever crosses this boundary.
 *   - Results come back through out-parameters, which are written only on success.
 *   - Objects come in create/destroy pairs. A destroy function accepts NULL and always returns 0.
 *     Destroy children before parents: context before engine, engine before runtime, network and
 *     builder config before builder, and every TensorRT object before the logger it was given.
 *   - `const char*` results that name tensors or layers are owned by the object they came from and
 *     stay valid while it lives. Owned byte or text results come back as a calibr8_trt_blob.
 *   - Nothing here links against TensorRT: the factory functions createInferBuilder_INTERNAL,
 *     createInferRuntime_INTERNAL and createNvOnnxParser_INTERNAL are resolved at run time by the
 *     caller (dlopen/dlsym) and passed in as function pointers.
 *   - Integer enum arguments carry nvinfer1's own values (DataType, BuilderFlag, MemoryPoolType,
 *     ProfilingVerbosity, TensorIOMode, ILogger::Severity); the constants below are pinned to
 *     them by static_asserts in the .cpp.
 */
#ifndef CALIBR8_TRT_SHIM_H
#define CALIBR8_TRT_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ---------------------------------------------------------------------------- */
#define CALIBR8_TRT_OK 0
#define CALIBR8_TRT_ERR_INVALID_ARGUMENT 1 /* null pointer, index out of range, bad enum value */
#define CALIBR8_TRT_ERR_NOT_FOUND 2        /* no tensor or input of that name */
#define CALIBR8_TRT_ERR_TENSORRT 3         /* a TensorRT call failed (null result or false) */
#define CALIBR8_TRT_ERR_EXCEPTION 4        /* a C++ exception was caught at the boundary */
#define CALIBR8_TRT_ERR_UNAVAILABLE 5      /* Rust stub build only: compiled without headers */

/* ---- nvinfer1::DataType ---------------------------------------------------------------------- */
#define CALIBR8_TRT_DATA_TYPE_FLOAT 0
#define CALIBR8_TRT_DATA_TYPE_HALF 1
#define CALIBR8_TRT_DATA_TYPE_INT8 2
#define CALIBR8_TRT_DATA_TYPE_INT32 3
#define CALIBR8_TRT_DATA_TYPE_BOOL 4
#define CALIBR8_TRT_DATA_TYPE_UINT8 5
#define CALIBR8_TRT_DATA_TYPE_FP8 6
#define CALIBR8_TRT_DATA_TYPE_BF16 7
#define CALIBR8_TRT_DATA_TYPE_INT64 8
#define CALIBR8_TRT_DATA_TYPE_INT4 9

/* ---- nvinfer1::BuilderFlag (the ones calibr8 uses; any valid value is accepted) --------------- */
#define CALIBR8_TRT_BUILDER_FLAG_FP16 0
#define CALIBR8_TRT_BUILDER_FLAG_INT8 1
#define CALIBR8_TRT_BUILDER_FLAG_OBEY_PRECISION_CONSTRAINTS 9
#define CALIBR8_TRT_BUILDER_FLAG_PREFER_PRECISION_CONSTRAINTS 10

/* ---- network creation flags (bits of nvinfer1::NetworkDefinitionCreationFlags) ---------------- */
#define CALIBR8_TRT_NETWORK_STRONGLY_TYPED (1u << 1)

/* ---- nvinfer1::MemoryPoolType ---------------------------------------------------------------- */
#define CALIBR8_TRT_MEMORY_POOL_WORKSPACE 0

/* ---- nvinfer1::ProfilingVerbosity ------------------------------------------------------------ */
#define CALIBR8_TRT_PROFILING_LAYER_NAMES_ONLY 0
#define CALIBR8_TRT_PROFILING_NONE 1
#define CALIBR8_TRT_PROFILING_DETAILED 2

/* ---- nvinfer1::TensorIOMode ------------------------------------------------------------------ */
#define CALIBR8_TRT_IO_MODE_NONE 0
#define CALIBR8_TRT_IO_MODE_INPUT 1
#define CALIBR8_TRT_IO_MODE_OUTPUT 2

/* ---- nvinfer1::ILogger::Severity ------------------------------------------------------------- */
#define CALIBR8_TRT_SEVERITY_INTERNAL_ERROR 0
#define CALIBR8_TRT_SEVERITY_ERROR 1
#define CALIBR8_TRT_SEVERITY_WARNING 2
#define CALIBR8_TRT_SEVERITY_INFO 3
#define CALIBR8_TRT_SEVERITY_VERBOSE 4

/* ---- value types ----------------------------------------------------------------------------- */
#define CALIBR8_TRT_MAX_DIMS 8

/* A tensor shape (nvinfer1::Dims64). -1 marks a dynamic extent. */
typedef struct calibr8_trt_dims {
    int32_t nb_dims;
    int64_t d[CALIBR8_TRT_MAX_DIMS];
} calibr8_trt_dims;

/* ---- opaque handles -------------------------------------------------------------------------- */
typedef struct calibr8_trt_logger calibr8_trt_logger;             /* an nvinfer1::ILogger */
typedef struct calibr8_trt_builder calibr8_trt_builder;           /* nvinfer1::IBuilder */
typedef struct calibr8_trt_network calibr8_trt_network;           /* INetworkDefinition + IParser */
typedef struct calibr8_trt_builder_config calibr8_trt_builder_config; /* IBuilderConfig */
typedef struct calibr8_trt_optimization_profile
    calibr8_trt_optimization_profile;                             /* borrowed from the builder */
typedef struct calibr8_trt_timing_cache calibr8_trt_timing_cache; /* ITimingCache */
typedef struct calibr8_trt_blob calibr8_trt_blob;                 /* owned bytes */
typedef struct calibr8_trt_runtime calibr8_trt_runtime;           /* nvinfer1::IRuntime */
typedef struct calibr8_trt_engine calibr8_trt_engine;             /* nvinfer1::ICudaEngine */
typedef struct calibr8_trt_context calibr8_trt_context;           /* IExecutionContext */

/* ---- function pointer types ------------------------------------------------------------------ */
/* Receives every TensorRT log line. Called from any thread TensorRT logs on; must not unwind. */
typedef void (*calibr8_trt_log_fn)(void* user_data, int32_t severity, const char* message);
/* createInferBuilder_INTERNAL / createInferRuntime_INTERNAL, resolved from libnvinfer.so.10. */
typedef void* (*calibr8_trt_create_infer_builder_fn)(void* logger, int32_t version);
typedef void* (*calibr8_trt_create_infer_runtime_fn)(void* logger, int32_t version);
/* createNvOnnxParser_INTERNAL, resolved from libnvonnxparser.so.10. */
typedef void* (*calibr8_trt_create_onnx_parser_fn)(void* network, void* logger, int32_t version);
/* initLibNvInferPlugins(void* logger, const char* libNamespace), from libnvinfer_plugin.so.10. */
typedef bool (*calibr8_trt_init_plugins_fn)(void* logger, const char* lib_namespace);

/* ---- errors and versions --------------------------------------------------------------------- */
/* The calling thread's last error message ("" if none). Valid until its next shim call. */
const char* calibr8_trt_last_error(void);
/* NV_TENSORRT_VERSION of the headers the shim was compiled against: major * 10000 + minor * 100
 * + patch (101600 for the 10.16.0 headers of the NVIDIA/TensorRT tag v10.16). */
int32_t calibr8_trt_header_version(void);
/* NV_ONNX_PARSER_VERSION of the headers the shim was compiled against (100 in every 10.x). */
int32_t calibr8_trt_onnx_parser_header_version(void);

/* ---- logger ---------------------------------------------------------------------------------- */
int32_t calibr8_trt_logger_create(
    calibr8_trt_log_fn callback, void* user_data, calibr8_trt_logger** out);
int32_t calibr8_trt_logger_destroy(calibr8_trt_logger* logger);

/* ---- plugins --------------------------------------------------------------------------------- */
/* Registers TensorRT's plugins (initLibNvInferPlugins) with `logger`, which must outlive every
 * TensorRT object: call once per process, before the first network is parsed. */
int32_t calibr8_trt_init_plugins(calibr8_trt_init_plugins_fn init, calibr8_trt_logger* logger);

/* ---- builder --------------------------------------------------------------------------------- */
int32_t calibr8_trt_builder_create(calibr8_trt_create_infer_builder_fn factory,
    calibr8_trt_logger* logger, calibr8_trt_builder** out);
int32_t calibr8_trt_builder_destroy(calibr8_trt_builder* builder);

/* ---- network (parsed from ONNX) -------------------------------------------------------------- */
/* Creates a network with `flags` (CALIBR8_TRT_NETWORK_*) and parses the ONNX model into it. The
 * parser lives as long as the network (it owns the weights the network points at). `model_path`
 * (nullable) resolves external-data files. On a parse failure returns CALIBR8_TRT_ERR_TENSORRT and,
 * if `out_errors` is not NULL, writes every parser error as text (one per line) to *out_errors. */
int32_t calibr8_trt_network_create_from_onnx(calibr8_trt_builder* builder,
    calibr8_trt_create_onnx_parser_fn parser_factory, calibr8_trt_logger* logger, uint32_t flags,
    const void* onnx, size_t onnx_len, const char* model_path, calibr8_trt_network** out,
    calibr8_trt_blob** out_errors);
int32_t calibr8_trt_network_destroy(calibr8_trt_network* network);

int32_t calibr8_trt_network_num_inputs(const calibr8_trt_network* network, int32_t* out);
int32_t calibr8_trt_network_input_name(
    const calibr8_trt_network* network, int32_t index, const char** out);
int32_t calibr8_trt_network_num_outputs(const calibr8_trt_network* network, int32_t* out);
int32_t calibr8_trt_network_output_name(
    const calibr8_trt_network* network, int32_t index, const char** out);
/* Shape and type of any network tensor (input, output or intermediate), by name. */
int32_t calibr8_trt_network_tensor_dims(
    calibr8_trt_network* network, const char* tensor, calibr8_trt_dims* out);
int32_t calibr8_trt_network_tensor_data_type(
    calibr8_trt_network* network, const char* tensor, int32_t* out);
/* ITensor::setDynamicRange(min, max) (deprecated since 10.1, removed in TensorRT 11). */
int32_t calibr8_trt_network_set_dynamic_range(
    calibr8_trt_network* network, const char* tensor, float min, float max);

/* INetworkDefinition::markOutput on the tensor of that name (no-op when it already is an output):
 * an intermediate tensor becomes an engine output, for layer-by-layer comparison. Marking keeps
 * TensorRT from fusing across it. CALIBR8_TRT_ERR_NOT_FOUND for an unknown name. */
int32_t calibr8_trt_network_mark_output(calibr8_trt_network* network, const char* tensor);
int32_t calibr8_trt_network_num_layers(const calibr8_trt_network* network, int32_t* out);
int32_t calibr8_trt_network_layer_name(
    const calibr8_trt_network* network, int32_t layer, const char** out);
/* nvinfer1::LayerType as its value and as text ("CONVOLUTION", ...); either out may be NULL. */
int32_t calibr8_trt_network_layer_type(
    const calibr8_trt_network* network, int32_t layer, int32_t* out_type, const char** out_name);
int32_t calibr8_trt_network_layer_num_inputs(
    const calibr8_trt_network* network, int32_t layer, int32_t* out);
/* Writes NULL for an optional input that is absent. */
int32_t calibr8_trt_network_layer_input_name(
    const calibr8_trt_network* network, int32_t layer, int32_t index, const char** out);
int32_t calibr8_trt_network_layer_num_outputs(
    const calibr8_trt_network* network, int32_t layer, int32_t* out);
int32_t calibr8_trt_network_layer_output_name(
    const calibr8_trt_network* network, int32_t layer, int32_t index, const char** out);
/* ILayer::getPrecision / precisionIsSet (is_set: 0 or 1); either out may be NULL. */
int32_t calibr8_trt_network_layer_precision(const calibr8_trt_network* network, int32_t layer,
    int32_t* out_data_type, int32_t* out_is_set);
int32_t calibr8_trt_network_layer_set_precision(
    calibr8_trt_network* network, int32_t layer, int32_t data_type);
int32_t calibr8_trt_network_layer_reset_precision(calibr8_trt_network* network, int32_t layer);
/* ILayer::getOutputType / outputTypeIsSet of output `index`; either out may be NULL. */
int32_t calibr8_trt_network_layer_output_type(const calibr8_trt_network* network, int32_t layer,
    int32_t index, int32_t* out_data_type, int32_t* out_is_set);
int32_t calibr8_trt_network_layer_set_output_type(
    calibr8_trt_network* network, int32_t layer, int32_t index, int32_t data_type);
int32_t calibr8_trt_network_layer_reset_output_type(
    calibr8_trt_network* network, int32_t layer, int32_t index);

/* ---- builder config -------------------------------------------------------------------------- */
int32_t calibr8_trt_builder_config_create(
    calibr8_trt_builder* builder, calibr8_trt_builder_config** out);
int32_t calibr8_trt_builder_config_destroy(calibr8_trt_builder_config* config);
/* `flag` is an nvinfer1::BuilderFlag value; `enabled` is 0 or 1. */
int32_t calibr8_trt_builder_config_set_flag(
    calibr8_trt_builder_config* config, int32_t flag, int32_t enabled);
int32_t calibr8_trt_builder_config_get_flag(
    const calibr8_trt_builder_config* config, int32_t flag, int32_t* out);
/* `pool` is an nvinfer1::MemoryPoolType value (CALIBR8_TRT_MEMORY_POOL_WORKSPACE). */
int32_t calibr8_trt_builder_config_set_memory_pool_limit(
    calibr8_trt_builder_config* config, int32_t pool, uint64_t bytes);
/* CALIBR8_TRT_PROFILING_DETAILED is needed for calibr8_trt_engine_inspector_json to show layers. */
int32_t calibr8_trt_builder_config_set_profiling_verbosity(
    calibr8_trt_builder_config* config, int32_t verbosity);
/* 0..5 (TensorRT's default is 3); lower builds faster. */
int32_t calibr8_trt_builder_config_set_optimization_level(
    calibr8_trt_builder_config* config, int32_t level);
int32_t calibr8_trt_builder_config_add_optimization_profile(calibr8_trt_builder_config* config,
    calibr8_trt_optimization_profile* profile, int32_t* out_index);
/* An empty cache when `len` is 0, else one deserialized from a previous serialize. */
int32_t calibr8_trt_builder_config_create_timing_cache(calibr8_trt_builder_config* config,
    const void* data, size_t len, calibr8_trt_timing_cache** out);
/* The cache must outlive every build that uses this config. */
int32_t calibr8_trt_builder_config_set_timing_cache(calibr8_trt_builder_config* config,
    const calibr8_trt_timing_cache* cache, int32_t ignore_mismatch);
int32_t calibr8_trt_timing_cache_serialize(
    const calibr8_trt_timing_cache* cache, calibr8_trt_blob** out);
int32_t calibr8_trt_timing_cache_destroy(calibr8_trt_timing_cache* cache);

/* ---- optimization profiles (owned by the builder: no destroy) -------------------------------- */
int32_t calibr8_trt_optimization_profile_create(
    calibr8_trt_builder* builder, calibr8_trt_optimization_profile** out);
int32_t calibr8_trt_optimization_profile_set_dimensions(calibr8_trt_optimization_profile* profile,
    const char* input, const calibr8_trt_dims* min, const calibr8_trt_dims* opt,
    const calibr8_trt_dims* max);

/* ---- build ----------------------------------------------------------------------------------- */
/* IBuilder::buildSerializedNetwork: the plan (serialized engine) as a blob. */
int32_t calibr8_trt_builder_build_serialized_network(calibr8_trt_builder* builder,
    calibr8_trt_network* network, calibr8_trt_builder_config* config, calibr8_trt_blob** out);

/* ---- blobs ----------------------------------------------------------------------------------- */
/* Borrow the bytes (valid until the blob is destroyed). Text blobs are NUL-terminated; `len`
 * excludes the terminator. */
int32_t calibr8_trt_blob_data(const calibr8_trt_blob* blob, const void** data, size_t* len);
int32_t calibr8_trt_blob_destroy(calibr8_trt_blob* blob);

/* ---- runtime and engine ---------------------------------------------------------------------- */
int32_t calibr8_trt_runtime_create(calibr8_trt_create_infer_runtime_fn factory,
    calibr8_trt_logger* logger, calibr8_trt_runtime** out);
int32_t calibr8_trt_runtime_destroy(calibr8_trt_runtime* runtime);
int32_t calibr8_trt_runtime_deserialize_engine(
    calibr8_trt_runtime* runtime, const void* plan, size_t len, calibr8_trt_engine** out);
int32_t calibr8_trt_engine_destroy(calibr8_trt_engine* engine);

int32_t calibr8_trt_engine_num_layers(const calibr8_trt_engine* engine, int32_t* out);
int32_t calibr8_trt_engine_num_io_tensors(const calibr8_trt_engine* engine, int32_t* out);
int32_t calibr8_trt_engine_io_tensor_name(
    const calibr8_trt_engine* engine, int32_t index, const char** out);
int32_t calibr8_trt_engine_tensor_shape(
    const calibr8_trt_engine* engine, const char* tensor, calibr8_trt_dims* out);
int32_t calibr8_trt_engine_tensor_data_type(
    const calibr8_trt_engine* engine, const char* tensor, int32_t* out);
/* CALIBR8_TRT_IO_MODE_INPUT or _OUTPUT; CALIBR8_TRT_ERR_NOT_FOUND if the name is no I/O tensor. */
int32_t calibr8_trt_engine_tensor_io_mode(
    const calibr8_trt_engine* engine, const char* tensor, int32_t* out);
/* IEngineInspector::getEngineInformation(kJSON) as a text blob. `context` (nullable) adds the
 * shapes it has set. Per-layer detail needs CALIBR8_TRT_PROFILING_DETAILED at build time. */
int32_t calibr8_trt_engine_inspector_json(const calibr8_trt_engine* engine,
    const calibr8_trt_context* context, calibr8_trt_blob** out);

/* ---- execution context ----------------------------------------------------------------------- */
int32_t calibr8_trt_context_create(calibr8_trt_engine* engine, calibr8_trt_context** out);
int32_t calibr8_trt_context_destroy(calibr8_trt_context* context);
int32_t calibr8_trt_context_set_input_shape(
    calibr8_trt_context* context, const char* tensor, const calibr8_trt_dims* dims);
/* The shape resolved for the shapes set so far (outputs too). */
int32_t calibr8_trt_context_tensor_shape(
    const calibr8_trt_context* context, const char* tensor, calibr8_trt_dims* out);
/* `address`: device memory for that tensor (a CUdeviceptr cast to a pointer). */
int32_t calibr8_trt_context_set_tensor_address(
    calibr8_trt_context* context, const char* tensor, void* address);
/* IExecutionContext::enqueueV3 on `stream` (a cudaStream_t / CUstream; NULL: the legacy default
 * stream). Asynchronous: synchronize the stream before reading outputs. */
int32_t calibr8_trt_context_enqueue_v3(calibr8_trt_context* context, void* stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CALIBR8_TRT_SHIM_H */
