// calibr8_trt_shim.cpp — the C ABI of calibr8_trt_shim.h over the TensorRT 10 C++ API.
//
// SPDX-License-Identifier: Apache-2.0
//
// Built only with real TensorRT 10 headers (cargo feature `shim` of calibr8-tensorrt-sys). It
// never links against TensorRT: every TensorRT object is born from a factory function pointer
// that the Rust loader resolved with dlsym, and everything else is a virtual call on those objects.

#include "calibr8_trt_shim.h"

#include <cstring>
#include <exception>
#include <new>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>

// Implicit quantization (setDynamicRange, kINT8, per-layer precision) is deprecated from 10.1 on
// and removed in TensorRT 11, yet it is exactly what calibr8 drives. Each deprecated call is
// fenced with these so the rest of the file still builds with deprecation warnings live.
#if defined(_MSC_VER)
#define CALIBR8_ALLOW_DEPRECATED_BEGIN __pragma(warning(push)) __pragma(warning(disable : 4996))
#define CALIBR8_ALLOW_DEPRECATED_END __pragma(warning(pop))
#else
#define CALIBR8_ALLOW_DEPRECATED_BEGIN                                                             \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"")
#define CALIBR8_ALLOW_DEPRECATED_END _Pragma("GCC diagnostic pop")
#endif

// The build passes TensorRT's and CUDA's include folders with -isystem: their headers use their own
// deprecated names and leave parameters unused, which -Wall -Wextra -Werror must not judge.
#include <NvInfer.h>
#include <NvOnnxParser.h>

#if NV_TENSORRT_MAJOR != 10
#error "calibr8_trt_shim needs TensorRT 10 headers (NV_TENSORRT_MAJOR == 10)"
#endif

using namespace nvinfer1;

// ---- the header's constants are nvinfer1's own values --------------------------------------------
static_assert(CALIBR8_TRT_DATA_TYPE_FLOAT == static_cast<int32_t>(DataType::kFLOAT), "DataType");
static_assert(CALIBR8_TRT_DATA_TYPE_HALF == static_cast<int32_t>(DataType::kHALF), "DataType");
static_assert(CALIBR8_TRT_DATA_TYPE_INT8 == static_cast<int32_t>(DataType::kINT8), "DataType");
static_assert(CALIBR8_TRT_DATA_TYPE_INT32 == static_cast<int32_t>(DataType::kINT32), "DataType");
static_assert(CALIBR8_TRT_DATA_TYPE_BOOL == static_cast<int32_t>(DataType::kBOOL), "DataType");
static_assert(CALIBR8_TRT_DATA_TYPE_UINT8 == static_cast<int32_t>(DataType::kUINT8), "DataType");
static_assert(CALIBR8_TRT_DATA_TYPE_FP8 == static_cast<int32_t>(DataType::kFP8), "DataType");
static_assert(CALIBR8_TRT_DATA_TYPE_BF16 == static_cast<int32_t>(DataType::kBF16), "DataType");
static_assert(CALIBR8_TRT_DATA_TYPE_INT64 == static_cast<int32_t>(DataType::kINT64), "DataType");
static_assert(CALIBR8_TRT_DATA_TYPE_INT4 == static_cast<int32_t>(DataType::kINT4), "DataType");
CALIBR8_ALLOW_DEPRECATED_BEGIN
static_assert(CALIBR8_TRT_BUILDER_FLAG_FP16 == static_cast<int32_t>(BuilderFlag::kFP16), "flag");
static_assert(CALIBR8_TRT_BUILDER_FLAG_INT8 == static_cast<int32_t>(BuilderFlag::kINT8), "flag");
static_assert(CALIBR8_TRT_BUILDER_FLAG_OBEY_PRECISION_CONSTRAINTS
        == static_cast<int32_t>(BuilderFlag::kOBEY_PRECISION_CONSTRAINTS),
    "flag");
static_assert(CALIBR8_TRT_BUILDER_FLAG_PREFER_PRECISION_CONSTRAINTS
        == static_cast<int32_t>(BuilderFlag::kPREFER_PRECISION_CONSTRAINTS),
    "flag");
CALIBR8_ALLOW_DEPRECATED_END
static_assert(CALIBR8_TRT_NETWORK_STRONGLY_TYPED
        == (1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED)),
    "network flag");
static_assert(CALIBR8_TRT_MEMORY_POOL_WORKSPACE == static_cast<int32_t>(MemoryPoolType::kWORKSPACE),
    "MemoryPoolType");
static_assert(CALIBR8_TRT_PROFILING_LAYER_NAMES_ONLY
        == static_cast<int32_t>(ProfilingVerbosity::kLAYER_NAMES_ONLY),
    "ProfilingVerbosity");
static_assert(CALIBR8_TRT_PROFILING_NONE == static_cast<int32_t>(ProfilingVerbosity::kNONE),
    "ProfilingVerbosity");
static_assert(CALIBR8_TRT_PROFILING_DETAILED == static_cast<int32_t>(ProfilingVerbosity::kDETAILED),
    "ProfilingVerbosity");
static_assert(CALIBR8_TRT_IO_MODE_NONE == static_cast<int32_t>(TensorIOMode::kNONE), "IOMode");
static_assert(CALIBR8_TRT_IO_MODE_INPUT == static_cast<int32_t>(TensorIOMode::kINPUT), "IOMode");
static_assert(CALIBR8_TRT_IO_MODE_OUTPUT == static_cast<int32_t>(TensorIOMode::kOUTPUT), "IOMode");
static_assert(CALIBR8_TRT_SEVERITY_INTERNAL_ERROR
        == static_cast<int32_t>(ILogger::Severity::kINTERNAL_ERROR),
    "Severity");
static_assert(CALIBR8_TRT_SEVERITY_ERROR == static_cast<int32_t>(ILogger::Severity::kERROR), "Sev");
static_assert(CALIBR8_TRT_SEVERITY_WARNING == static_cast<int32_t>(ILogger::Severity::kWARNING), "S");
static_assert(CALIBR8_TRT_SEVERITY_INFO == static_cast<int32_t>(ILogger::Severity::kINFO), "Sev");
static_assert(CALIBR8_TRT_SEVERITY_VERBOSE == static_cast<int32_t>(ILogger::Severity::kVERBOSE), "S");
static_assert(CALIBR8_TRT_MAX_DIMS == Dims::MAX_DIMS, "MAX_DIMS");

// ---- handle definitions --------------------------------------------------------------------------
// Handles without state of their own (builder, config, runtime, ...) are the TensorRT pointer
// itself, reinterpret_cast to the opaque type; these three carry more.

struct calibr8_trt_logger final : public ILogger
{
    calibr8_trt_log_fn callback;
    void* user_data;

    calibr8_trt_logger(calibr8_trt_log_fn cb, void* user) noexcept : callback(cb), user_data(user) {}

    void log(Severity severity, AsciiChar const* msg) noexcept override
    {
        callback(user_data, static_cast<int32_t>(severity), msg != nullptr ? msg : "");
    }
};

struct calibr8_trt_network
{
    INetworkDefinition* network = nullptr;
    // Owns the weights the network points at, so it must live exactly as long as the network.
    nvonnxparser::IParser* parser = nullptr;
    // Tensor name -> tensor, built on first lookup. The network's graph is fixed once parsed.
    std::unordered_map<std::string, ITensor*> tensors;
    bool indexed = false;

    ~calibr8_trt_network()
    {
        delete parser; // before the network it refers to
        delete network;
    }
};

struct calibr8_trt_blob
{
    IHostMemory* memory = nullptr; // a plan or a serialized timing cache, not copied
    std::string text;              // used when memory is null

    ~calibr8_trt_blob() { delete memory; }
};

namespace
{

// ---- errors --------------------------------------------------------------------------------------
thread_local std::string tl_last_error;
thread_local char const* tl_function = "calibr8_trt";

int32_t fail(int32_t status, std::string const& message)
{
    tl_last_error = std::string(tl_function) + ": " + message;
    return status;
}

int32_t fail_null(char const* what)
{
    return fail(CALIBR8_TRT_ERR_INVALID_ARGUMENT, std::string("`") + what + "` is NULL");
}

// Runs `body` with the error slot cleared, turning every escaping C++ exception into a status.
template <typename F>
int32_t guard(char const* function, F&& body) noexcept
{
    try
    {
        tl_function = function;
        tl_last_error.clear();
        return body();
    }
    catch (std::bad_alloc const&)
    {
        return fail(CALIBR8_TRT_ERR_EXCEPTION, "out of host memory (std::bad_alloc)");
    }
    catch (std::exception const& e)
    {
        return fail(CALIBR8_TRT_ERR_EXCEPTION, std::string("C++ exception: ") + e.what());
    }
    catch (...)
    {
        return fail(CALIBR8_TRT_ERR_EXCEPTION, "unknown C++ exception");
    }
}

#define SHIM_FN(...) return guard(__func__, [&]() -> int32_t __VA_ARGS__)
#define REQUIRE(ptr)                                                                               \
    do                                                                                             \
    {                                                                                              \
        if ((ptr) == nullptr)                                                                      \
            return fail_null(#ptr);                                                                \
    } while (0)

// ---- casts ---------------------------------------------------------------------------------------
IBuilder* as_trt(calibr8_trt_builder* p) { return reinterpret_cast<IBuilder*>(p); }
IBuilderConfig* as_trt(calibr8_trt_builder_config* p) { return reinterpret_cast<IBuilderConfig*>(p); }
IBuilderConfig const* as_trt(calibr8_trt_builder_config const* p)
{
    return reinterpret_cast<IBuilderConfig const*>(p);
}
IOptimizationProfile* as_trt(calibr8_trt_optimization_profile* p)
{
    return reinterpret_cast<IOptimizationProfile*>(p);
}
ITimingCache* as_trt(calibr8_trt_timing_cache* p) { return reinterpret_cast<ITimingCache*>(p); }
ITimingCache const* as_trt(calibr8_trt_timing_cache const* p)
{
    return reinterpret_cast<ITimingCache const*>(p);
}
IRuntime* as_trt(calibr8_trt_runtime* p) { return reinterpret_cast<IRuntime*>(p); }
ICudaEngine* as_trt(calibr8_trt_engine* p) { return reinterpret_cast<ICudaEngine*>(p); }
ICudaEngine const* as_trt(calibr8_trt_engine const* p)
{
    return reinterpret_cast<ICudaEngine const*>(p);
}
IExecutionContext* as_trt(calibr8_trt_context* p) { return reinterpret_cast<IExecutionContext*>(p); }
IExecutionContext const* as_trt(calibr8_trt_context const* p)
{
    return reinterpret_cast<IExecutionContext const*>(p);
}

// ---- helpers -------------------------------------------------------------------------------------
int32_t check_index(char const* what, int32_t index, int32_t count)
{
    if (index < 0 || index >= count)
    {
        return fail(CALIBR8_TRT_ERR_INVALID_ARGUMENT,
            std::string(what) + " index " + std::to_string(index) + " out of range (0.."
                + std::to_string(count) + ")");
    }
    return CALIBR8_TRT_OK;
}

template <typename E>
int32_t check_enum(char const* what, int32_t value)
{
    if (value < 0 || value >= EnumMax<E>())
    {
        return fail(CALIBR8_TRT_ERR_INVALID_ARGUMENT,
            std::string("invalid ") + what + " value " + std::to_string(value) + " (these headers know 0.."
                + std::to_string(EnumMax<E>() - 1) + ")");
    }
    return CALIBR8_TRT_OK;
}

int32_t get_layer(calibr8_trt_network const* net, int32_t index, ILayer** out)
{
    int32_t const status = check_index("layer", index, net->network->getNbLayers());
    if (status != CALIBR8_TRT_OK)
        return status;
    *out = net->network->getLayer(index);
    if (*out == nullptr)
        return fail(CALIBR8_TRT_ERR_TENSORRT, "INetworkDefinition::getLayer returned null");
    return CALIBR8_TRT_OK;
}

int32_t find_tensor(calibr8_trt_network* net, char const* name, ITensor** out)
{
    if (!net->indexed)
    {
        INetworkDefinition& n = *net->network;
        for (int32_t i = 0; i < n.getNbInputs(); ++i)
        {
            ITensor* t = n.getInput(i);
            if (t != nullptr)
                net->tensors.emplace(t->getName(), t);
        }
        for (int32_t l = 0; l < n.getNbLayers(); ++l)
        {
            ILayer* layer = n.getLayer(l);
            for (int32_t o = 0; layer != nullptr && o < layer->getNbOutputs(); ++o)
            {
                ITensor* t = layer->getOutput(o);
                if (t != nullptr)
                    net->tensors.emplace(t->getName(), t);
            }
        }
        net->indexed = true;
    }
    auto const it = net->tensors.find(name);
    if (it == net->tensors.end())
    {
        return fail(CALIBR8_TRT_ERR_NOT_FOUND,
            std::string("no tensor named '") + name + "' in the network (names are the ONNX tensor names)");
    }
    *out = it->second;
    return CALIBR8_TRT_OK;
}

void write_dims(Dims const& dims, calibr8_trt_dims* out)
{
    std::memset(out, 0, sizeof(*out));
    out->nb_dims = dims.nbDims;
    for (int32_t i = 0; i < dims.nbDims && i < Dims::MAX_DIMS; ++i)
        out->d[i] = dims.d[i];
}

int32_t read_dims(char const* what, calibr8_trt_dims const* in, Dims* out)
{
    if (in == nullptr)
        return fail_null(what);
    if (in->nb_dims < 0 || in->nb_dims > Dims::MAX_DIMS)
    {
        return fail(CALIBR8_TRT_ERR_INVALID_ARGUMENT,
            std::string(what) + ": rank " + std::to_string(in->nb_dims) + " is outside 0.."
                + std::to_string(Dims::MAX_DIMS));
    }
    *out = Dims{};
    out->nbDims = in->nb_dims;
    for (int32_t i = 0; i < in->nb_dims; ++i)
        out->d[i] = in->d[i];
    return CALIBR8_TRT_OK;
}

int32_t put_blob(calibr8_trt_blob* blob, calibr8_trt_blob** out)
{
    *out = blob;
    return CALIBR8_TRT_OK;
}

int32_t host_memory_blob(IHostMemory* memory, char const* what, calibr8_trt_blob** out)
{
    if (memory == nullptr)
        return fail(CALIBR8_TRT_ERR_TENSORRT, std::string(what) + " returned null; the TensorRT log says why");
    auto* blob = new (std::nothrow) calibr8_trt_blob;
    if (blob == nullptr)
    {
        delete memory;
        return fail(CALIBR8_TRT_ERR_EXCEPTION, "out of host memory");
    }
    blob->memory = memory;
    return put_blob(blob, out);
}

// nvinfer1::LayerType names, indexed by value (values are append-only across 10.x).
char const* const kLayerTypeNames[] = {"CONVOLUTION", "CAST", "ACTIVATION", "POOLING", "LRN", "SCALE",
    "SOFTMAX", "DECONVOLUTION", "CONCATENATION", "ELEMENTWISE", "PLUGIN", "UNARY", "PADDING", "SHUFFLE",
    "REDUCE", "TOPK", "GATHER", "MATRIX_MULTIPLY", "RAGGED_SOFTMAX", "CONSTANT", "IDENTITY", "PLUGIN_V2",
    "SLICE", "SHAPE", "PARAMETRIC_RELU", "RESIZE", "TRIP_LIMIT", "RECURRENCE", "ITERATOR", "LOOP_OUTPUT",
    "SELECT", "FILL", "QUANTIZE", "DEQUANTIZE", "CONDITION", "CONDITIONAL_INPUT", "CONDITIONAL_OUTPUT",
    "SCATTER", "EINSUM", "ASSERTION", "ONE_HOT", "NON_ZERO", "GRID_SAMPLE", "NMS", "REVERSE_SEQUENCE",
    "NORMALIZATION", "PLUGIN_V3", "SQUEEZE", "UNSQUEEZE", "CUMULATIVE", "DYNAMIC_QUANTIZE",
    "ATTENTION_INPUT", "ATTENTION_OUTPUT", "ROTARY_EMBEDDING", "KVCACHE_UPDATE", "MOE", "DIST_COLLECTIVE"};

char const* layer_type_name(int32_t type)
{
    constexpr int32_t known = static_cast<int32_t>(sizeof(kLayerTypeNames) / sizeof(kLayerTypeNames[0]));
    return (type >= 0 && type < known) ? kLayerTypeNames[type] : "UNKNOWN";
}

std::string parser_errors(nvonnxparser::IParser const& parser)
{
    std::ostringstream text;
    for (int32_t i = 0; i < parser.getNbErrors(); ++i)
    {
        nvonnxparser::IParserError const* e = parser.getError(i);
        if (e == nullptr)
            continue;
        // Only members every 10.x parser has: a library older than these headers has no vtable
        // slot for later ones (nodeName(), nodeOperator()); desc() names the node anyway.
        text << "ONNX node " << e->node();
        text << ": " << (e->desc() != nullptr ? e->desc() : "") << " [error code "
             << static_cast<int32_t>(e->code()) << "]\n";
    }
    return text.str();
}

} // namespace

extern "C" {

// ---- errors and versions -------------------------------------------------------------------------
const char* calibr8_trt_last_error(void) { return tl_last_error.c_str(); }

int32_t calibr8_trt_header_version(void) { return NV_TENSORRT_VERSION; }

int32_t calibr8_trt_onnx_parser_header_version(void) { return NV_ONNX_PARSER_VERSION; }

// ---- logger --------------------------------------------------------------------------------------
int32_t calibr8_trt_logger_create(calibr8_trt_log_fn callback, void* user_data, calibr8_trt_logger** out)
{
    SHIM_FN({
        REQUIRE(callback);
        REQUIRE(out);
        *out = new calibr8_trt_logger(callback, user_data);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_logger_destroy(calibr8_trt_logger* logger)
{
    SHIM_FN({
        delete logger;
        return CALIBR8_TRT_OK;
    });
}

// ---- plugins -------------------------------------------------------------------------------------
int32_t calibr8_trt_init_plugins(calibr8_trt_init_plugins_fn init, calibr8_trt_logger* logger)
{
    SHIM_FN({
        REQUIRE(init);
        REQUIRE(logger);
        // The empty namespace is the one TensorRT's ONNX parser looks plugins up in.
        if (!init(static_cast<ILogger*>(logger), ""))
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "initLibNvInferPlugins returned false (a plugin library of another TensorRT version?); "
                "the TensorRT log says why");
        }
        return CALIBR8_TRT_OK;
    });
}

// ---- builder -------------------------------------------------------------------------------------
int32_t calibr8_trt_builder_create(
    calibr8_trt_create_infer_builder_fn factory, calibr8_trt_logger* logger, calibr8_trt_builder** out)
{
    SHIM_FN({
        REQUIRE(factory);
        REQUIRE(logger);
        REQUIRE(out);
        void* builder = factory(static_cast<ILogger*>(logger), NV_TENSORRT_VERSION);
        if (builder == nullptr)
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "createInferBuilder_INTERNAL returned null: TensorRT could not load its builder "
                "resource library (libnvinfer_builder_resource.so.<version>, \"Error Code 6\" in the "
                "log), found no usable CUDA device or driver, or the library is older than these "
                "headers; the TensorRT log says which");
        }
        *out = reinterpret_cast<calibr8_trt_builder*>(static_cast<IBuilder*>(builder));
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_destroy(calibr8_trt_builder* builder)
{
    SHIM_FN({
        delete as_trt(builder);
        return CALIBR8_TRT_OK;
    });
}

// ---- network -------------------------------------------------------------------------------------
int32_t calibr8_trt_network_create_from_onnx(calibr8_trt_builder* builder,
    calibr8_trt_create_onnx_parser_fn parser_factory, calibr8_trt_logger* logger, uint32_t flags,
    const void* onnx, size_t onnx_len, const char* model_path, calibr8_trt_network** out,
    calibr8_trt_blob** out_errors)
{
    SHIM_FN({
        REQUIRE(builder);
        REQUIRE(parser_factory);
        REQUIRE(logger);
        REQUIRE(onnx);
        REQUIRE(out);
        if (out_errors != nullptr)
            *out_errors = nullptr;
        auto* net = new calibr8_trt_network;
        net->network = as_trt(builder)->createNetworkV2(flags);
        if (net->network == nullptr)
        {
            delete net;
            return fail(CALIBR8_TRT_ERR_TENSORRT, "IBuilder::createNetworkV2 returned null");
        }
        net->parser = static_cast<nvonnxparser::IParser*>(
            parser_factory(net->network, static_cast<ILogger*>(logger), NV_ONNX_PARSER_VERSION));
        if (net->parser == nullptr)
        {
            delete net;
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "createNvOnnxParser_INTERNAL returned null (parser/library version mismatch?)");
        }
        if (!net->parser->parse(onnx, onnx_len, model_path))
        {
            std::string errors = parser_errors(*net->parser);
            delete net;
            int32_t const status = fail(CALIBR8_TRT_ERR_TENSORRT, "the ONNX parser rejected the model:\n" + errors);
            if (out_errors != nullptr)
            {
                auto* blob = new calibr8_trt_blob;
                blob->text = std::move(errors);
                *out_errors = blob;
            }
            return status;
        }
        *out = net;
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_destroy(calibr8_trt_network* network)
{
    SHIM_FN({
        delete network;
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_num_inputs(const calibr8_trt_network* network, int32_t* out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        *out = network->network->getNbInputs();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_input_name(const calibr8_trt_network* network, int32_t index, const char** out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        int32_t const status = check_index("network input", index, network->network->getNbInputs());
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = network->network->getInput(index)->getName();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_num_outputs(const calibr8_trt_network* network, int32_t* out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        *out = network->network->getNbOutputs();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_output_name(const calibr8_trt_network* network, int32_t index, const char** out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        int32_t const status = check_index("network output", index, network->network->getNbOutputs());
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = network->network->getOutput(index)->getName();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_tensor_dims(calibr8_trt_network* network, const char* tensor, calibr8_trt_dims* out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(tensor);
        REQUIRE(out);
        ITensor* t = nullptr;
        int32_t const status = find_tensor(network, tensor, &t);
        if (status != CALIBR8_TRT_OK)
            return status;
        write_dims(t->getDimensions(), out);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_tensor_data_type(calibr8_trt_network* network, const char* tensor, int32_t* out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(tensor);
        REQUIRE(out);
        ITensor* t = nullptr;
        int32_t const status = find_tensor(network, tensor, &t);
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = static_cast<int32_t>(t->getType());
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_set_dynamic_range(
    calibr8_trt_network* network, const char* tensor, float min, float max)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(tensor);
        ITensor* t = nullptr;
        int32_t const status = find_tensor(network, tensor, &t);
        if (status != CALIBR8_TRT_OK)
            return status;
        CALIBR8_ALLOW_DEPRECATED_BEGIN
        bool const ok = t->setDynamicRange(min, max);
        CALIBR8_ALLOW_DEPRECATED_END
        if (!ok)
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                std::string("ITensor::setDynamicRange(") + std::to_string(min) + ", " + std::to_string(max)
                    + ") refused for tensor '" + tensor + "' (needs min <= max, and a weakly typed network)");
        }
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_mark_output(calibr8_trt_network* network, const char* tensor)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(tensor);
        ITensor* t = nullptr;
        int32_t const status = find_tensor(network, tensor, &t);
        if (status != CALIBR8_TRT_OK)
            return status;
        if (!t->isNetworkOutput())
            network->network->markOutput(*t);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_num_layers(const calibr8_trt_network* network, int32_t* out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        *out = network->network->getNbLayers();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_name(const calibr8_trt_network* network, int32_t layer, const char** out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        ILayer* l = nullptr;
        int32_t const status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = l->getName();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_type(
    const calibr8_trt_network* network, int32_t layer, int32_t* out_type, const char** out_name)
{
    SHIM_FN({
        REQUIRE(network);
        ILayer* l = nullptr;
        int32_t const status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        int32_t const type = static_cast<int32_t>(l->getType());
        if (out_type != nullptr)
            *out_type = type;
        if (out_name != nullptr)
            *out_name = layer_type_name(type);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_num_inputs(const calibr8_trt_network* network, int32_t layer, int32_t* out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        ILayer* l = nullptr;
        int32_t const status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = l->getNbInputs();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_input_name(
    const calibr8_trt_network* network, int32_t layer, int32_t index, const char** out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        ILayer* l = nullptr;
        int32_t status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        status = check_index("layer input", index, l->getNbInputs());
        if (status != CALIBR8_TRT_OK)
            return status;
        ITensor* t = l->getInput(index);
        *out = t != nullptr ? t->getName() : nullptr;
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_num_outputs(const calibr8_trt_network* network, int32_t layer, int32_t* out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        ILayer* l = nullptr;
        int32_t const status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = l->getNbOutputs();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_output_name(
    const calibr8_trt_network* network, int32_t layer, int32_t index, const char** out)
{
    SHIM_FN({
        REQUIRE(network);
        REQUIRE(out);
        ILayer* l = nullptr;
        int32_t status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        status = check_index("layer output", index, l->getNbOutputs());
        if (status != CALIBR8_TRT_OK)
            return status;
        ITensor* t = l->getOutput(index);
        *out = t != nullptr ? t->getName() : nullptr;
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_precision(
    const calibr8_trt_network* network, int32_t layer, int32_t* out_data_type, int32_t* out_is_set)
{
    SHIM_FN({
        REQUIRE(network);
        ILayer* l = nullptr;
        int32_t const status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        if (out_data_type != nullptr)
            *out_data_type = static_cast<int32_t>(l->getPrecision());
        CALIBR8_ALLOW_DEPRECATED_BEGIN
        if (out_is_set != nullptr)
            *out_is_set = l->precisionIsSet() ? 1 : 0;
        CALIBR8_ALLOW_DEPRECATED_END
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_set_precision(calibr8_trt_network* network, int32_t layer, int32_t data_type)
{
    SHIM_FN({
        REQUIRE(network);
        ILayer* l = nullptr;
        int32_t status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        status = check_enum<DataType>("DataType", data_type);
        if (status != CALIBR8_TRT_OK)
            return status;
        CALIBR8_ALLOW_DEPRECATED_BEGIN
        l->setPrecision(static_cast<DataType>(data_type));
        CALIBR8_ALLOW_DEPRECATED_END
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_reset_precision(calibr8_trt_network* network, int32_t layer)
{
    SHIM_FN({
        REQUIRE(network);
        ILayer* l = nullptr;
        int32_t const status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        CALIBR8_ALLOW_DEPRECATED_BEGIN
        l->resetPrecision();
        CALIBR8_ALLOW_DEPRECATED_END
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_output_type(const calibr8_trt_network* network, int32_t layer, int32_t index,
    int32_t* out_data_type, int32_t* out_is_set)
{
    SHIM_FN({
        REQUIRE(network);
        ILayer* l = nullptr;
        int32_t status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        status = check_index("layer output", index, l->getNbOutputs());
        if (status != CALIBR8_TRT_OK)
            return status;
        if (out_data_type != nullptr)
            *out_data_type = static_cast<int32_t>(l->getOutputType(index));
        CALIBR8_ALLOW_DEPRECATED_BEGIN
        if (out_is_set != nullptr)
            *out_is_set = l->outputTypeIsSet(index) ? 1 : 0;
        CALIBR8_ALLOW_DEPRECATED_END
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_set_output_type(
    calibr8_trt_network* network, int32_t layer, int32_t index, int32_t data_type)
{
    SHIM_FN({
        REQUIRE(network);
        ILayer* l = nullptr;
        int32_t status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        status = check_index("layer output", index, l->getNbOutputs());
        if (status != CALIBR8_TRT_OK)
            return status;
        status = check_enum<DataType>("DataType", data_type);
        if (status != CALIBR8_TRT_OK)
            return status;
        CALIBR8_ALLOW_DEPRECATED_BEGIN
        l->setOutputType(index, static_cast<DataType>(data_type));
        CALIBR8_ALLOW_DEPRECATED_END
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_network_layer_reset_output_type(calibr8_trt_network* network, int32_t layer, int32_t index)
{
    SHIM_FN({
        REQUIRE(network);
        ILayer* l = nullptr;
        int32_t status = get_layer(network, layer, &l);
        if (status != CALIBR8_TRT_OK)
            return status;
        status = check_index("layer output", index, l->getNbOutputs());
        if (status != CALIBR8_TRT_OK)
            return status;
        CALIBR8_ALLOW_DEPRECATED_BEGIN
        l->resetOutputType(index);
        CALIBR8_ALLOW_DEPRECATED_END
        return CALIBR8_TRT_OK;
    });
}

// ---- builder config ------------------------------------------------------------------------------
int32_t calibr8_trt_builder_config_create(calibr8_trt_builder* builder, calibr8_trt_builder_config** out)
{
    SHIM_FN({
        REQUIRE(builder);
        REQUIRE(out);
        IBuilderConfig* config = as_trt(builder)->createBuilderConfig();
        if (config == nullptr)
            return fail(CALIBR8_TRT_ERR_TENSORRT, "IBuilder::createBuilderConfig returned null");
        *out = reinterpret_cast<calibr8_trt_builder_config*>(config);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_config_destroy(calibr8_trt_builder_config* config)
{
    SHIM_FN({
        delete as_trt(config);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_config_set_flag(calibr8_trt_builder_config* config, int32_t flag, int32_t enabled)
{
    SHIM_FN({
        REQUIRE(config);
        int32_t const status = check_enum<BuilderFlag>("BuilderFlag", flag);
        if (status != CALIBR8_TRT_OK)
            return status;
        if (enabled != 0)
            as_trt(config)->setFlag(static_cast<BuilderFlag>(flag));
        else
            as_trt(config)->clearFlag(static_cast<BuilderFlag>(flag));
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_config_get_flag(const calibr8_trt_builder_config* config, int32_t flag, int32_t* out)
{
    SHIM_FN({
        REQUIRE(config);
        REQUIRE(out);
        int32_t const status = check_enum<BuilderFlag>("BuilderFlag", flag);
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = as_trt(config)->getFlag(static_cast<BuilderFlag>(flag)) ? 1 : 0;
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_config_set_memory_pool_limit(
    calibr8_trt_builder_config* config, int32_t pool, uint64_t bytes)
{
    SHIM_FN({
        REQUIRE(config);
        int32_t const status = check_enum<MemoryPoolType>("MemoryPoolType", pool);
        if (status != CALIBR8_TRT_OK)
            return status;
        as_trt(config)->setMemoryPoolLimit(static_cast<MemoryPoolType>(pool), bytes);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_config_set_profiling_verbosity(calibr8_trt_builder_config* config, int32_t verbosity)
{
    SHIM_FN({
        REQUIRE(config);
        int32_t const status = check_enum<ProfilingVerbosity>("ProfilingVerbosity", verbosity);
        if (status != CALIBR8_TRT_OK)
            return status;
        as_trt(config)->setProfilingVerbosity(static_cast<ProfilingVerbosity>(verbosity));
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_config_set_optimization_level(calibr8_trt_builder_config* config, int32_t level)
{
    SHIM_FN({
        REQUIRE(config);
        if (level < 0 || level > 5)
        {
            return fail(CALIBR8_TRT_ERR_INVALID_ARGUMENT,
                "builder optimization level " + std::to_string(level) + " is outside 0..5");
        }
        as_trt(config)->setBuilderOptimizationLevel(level);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_config_add_optimization_profile(
    calibr8_trt_builder_config* config, calibr8_trt_optimization_profile* profile, int32_t* out_index)
{
    SHIM_FN({
        REQUIRE(config);
        REQUIRE(profile);
        int32_t const index = as_trt(config)->addOptimizationProfile(as_trt(profile));
        if (index < 0)
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "IBuilderConfig::addOptimizationProfile rejected the profile (every dynamic input needs "
                "min <= opt <= max dimensions)");
        }
        if (out_index != nullptr)
            *out_index = index;
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_config_create_timing_cache(
    calibr8_trt_builder_config* config, const void* data, size_t len, calibr8_trt_timing_cache** out)
{
    SHIM_FN({
        REQUIRE(config);
        REQUIRE(out);
        if (len != 0 && data == nullptr)
            return fail_null("data");
        ITimingCache* cache = as_trt(config)->createTimingCache(len != 0 ? data : nullptr, len);
        if (cache == nullptr)
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "IBuilderConfig::createTimingCache returned null (a corrupt cache, or one from another "
                "TensorRT version; delete it to start afresh)");
        }
        *out = reinterpret_cast<calibr8_trt_timing_cache*>(cache);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_builder_config_set_timing_cache(
    calibr8_trt_builder_config* config, const calibr8_trt_timing_cache* cache, int32_t ignore_mismatch)
{
    SHIM_FN({
        REQUIRE(config);
        REQUIRE(cache);
        if (!as_trt(config)->setTimingCache(*as_trt(cache), ignore_mismatch != 0))
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "IBuilderConfig::setTimingCache refused the cache (made on another device?); pass "
                "ignore_mismatch = 1 to use it anyway");
        }
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_timing_cache_serialize(const calibr8_trt_timing_cache* cache, calibr8_trt_blob** out)
{
    SHIM_FN({
        REQUIRE(cache);
        REQUIRE(out);
        return host_memory_blob(as_trt(cache)->serialize(), "ITimingCache::serialize", out);
    });
}

int32_t calibr8_trt_timing_cache_destroy(calibr8_trt_timing_cache* cache)
{
    SHIM_FN({
        delete as_trt(cache);
        return CALIBR8_TRT_OK;
    });
}

// ---- optimization profiles -----------------------------------------------------------------------
int32_t calibr8_trt_optimization_profile_create(calibr8_trt_builder* builder, calibr8_trt_optimization_profile** out)
{
    SHIM_FN({
        REQUIRE(builder);
        REQUIRE(out);
        IOptimizationProfile* profile = as_trt(builder)->createOptimizationProfile();
        if (profile == nullptr)
            return fail(CALIBR8_TRT_ERR_TENSORRT, "IBuilder::createOptimizationProfile returned null");
        *out = reinterpret_cast<calibr8_trt_optimization_profile*>(profile);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_optimization_profile_set_dimensions(calibr8_trt_optimization_profile* profile, const char* input,
    const calibr8_trt_dims* min, const calibr8_trt_dims* opt, const calibr8_trt_dims* max)
{
    SHIM_FN({
        REQUIRE(profile);
        REQUIRE(input);
        Dims dims[3];
        calibr8_trt_dims const* given[3] = {min, opt, max};
        char const* const names[3] = {"min", "opt", "max"};
        OptProfileSelector const selectors[3]
            = {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX};
        for (int32_t i = 0; i < 3; ++i)
        {
            int32_t const status = read_dims(names[i], given[i], &dims[i]);
            if (status != CALIBR8_TRT_OK)
                return status;
        }
        for (int32_t i = 0; i < 3; ++i)
        {
            if (!as_trt(profile)->setDimensions(input, selectors[i], dims[i]))
            {
                return fail(CALIBR8_TRT_ERR_TENSORRT,
                    std::string("IOptimizationProfile::setDimensions refused the ") + names[i]
                        + " shape of input '" + input + "' (ranks must agree and min <= opt <= max)");
            }
        }
        return CALIBR8_TRT_OK;
    });
}

// ---- build ---------------------------------------------------------------------------------------
int32_t calibr8_trt_builder_build_serialized_network(calibr8_trt_builder* builder, calibr8_trt_network* network,
    calibr8_trt_builder_config* config, calibr8_trt_blob** out)
{
    SHIM_FN({
        REQUIRE(builder);
        REQUIRE(network);
        REQUIRE(config);
        REQUIRE(out);
        IHostMemory* plan = as_trt(builder)->buildSerializedNetwork(*network->network, *as_trt(config));
        return host_memory_blob(plan, "IBuilder::buildSerializedNetwork", out);
    });
}

// ---- blobs ---------------------------------------------------------------------------------------
int32_t calibr8_trt_blob_data(const calibr8_trt_blob* blob, const void** data, size_t* len)
{
    SHIM_FN({
        REQUIRE(blob);
        REQUIRE(data);
        REQUIRE(len);
        if (blob->memory != nullptr)
        {
            *data = blob->memory->data();
            *len = blob->memory->size();
        }
        else
        {
            *data = blob->text.c_str();
            *len = blob->text.size();
        }
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_blob_destroy(calibr8_trt_blob* blob)
{
    SHIM_FN({
        delete blob;
        return CALIBR8_TRT_OK;
    });
}

// ---- runtime and engine --------------------------------------------------------------------------
int32_t calibr8_trt_runtime_create(
    calibr8_trt_create_infer_runtime_fn factory, calibr8_trt_logger* logger, calibr8_trt_runtime** out)
{
    SHIM_FN({
        REQUIRE(factory);
        REQUIRE(logger);
        REQUIRE(out);
        void* runtime = factory(static_cast<ILogger*>(logger), NV_TENSORRT_VERSION);
        if (runtime == nullptr)
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "createInferRuntime_INTERNAL returned null (no usable CUDA device or driver, or a "
                "library/header version mismatch; the TensorRT log says which)");
        }
        *out = reinterpret_cast<calibr8_trt_runtime*>(static_cast<IRuntime*>(runtime));
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_runtime_destroy(calibr8_trt_runtime* runtime)
{
    SHIM_FN({
        delete as_trt(runtime);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_runtime_deserialize_engine(
    calibr8_trt_runtime* runtime, const void* plan, size_t len, calibr8_trt_engine** out)
{
    SHIM_FN({
        REQUIRE(runtime);
        REQUIRE(plan);
        REQUIRE(out);
        ICudaEngine* engine = as_trt(runtime)->deserializeCudaEngine(plan, len);
        if (engine == nullptr)
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "IRuntime::deserializeCudaEngine returned null (a plan from another TensorRT version or "
                "GPU, or a corrupt file; rebuild the engine)");
        }
        *out = reinterpret_cast<calibr8_trt_engine*>(engine);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_engine_destroy(calibr8_trt_engine* engine)
{
    SHIM_FN({
        delete as_trt(engine);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_engine_num_layers(const calibr8_trt_engine* engine, int32_t* out)
{
    SHIM_FN({
        REQUIRE(engine);
        REQUIRE(out);
        *out = as_trt(engine)->getNbLayers();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_engine_num_io_tensors(const calibr8_trt_engine* engine, int32_t* out)
{
    SHIM_FN({
        REQUIRE(engine);
        REQUIRE(out);
        *out = as_trt(engine)->getNbIOTensors();
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_engine_io_tensor_name(const calibr8_trt_engine* engine, int32_t index, const char** out)
{
    SHIM_FN({
        REQUIRE(engine);
        REQUIRE(out);
        int32_t const status = check_index("I/O tensor", index, as_trt(engine)->getNbIOTensors());
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = as_trt(engine)->getIOTensorName(index);
        return CALIBR8_TRT_OK;
    });
}

namespace
{
int32_t require_io_tensor(ICudaEngine const* engine, char const* tensor)
{
    if (engine->getTensorIOMode(tensor) == TensorIOMode::kNONE)
    {
        return fail(CALIBR8_TRT_ERR_NOT_FOUND,
            std::string("the engine has no input or output named '") + tensor + "'");
    }
    return CALIBR8_TRT_OK;
}
} // namespace

int32_t calibr8_trt_engine_tensor_shape(const calibr8_trt_engine* engine, const char* tensor, calibr8_trt_dims* out)
{
    SHIM_FN({
        REQUIRE(engine);
        REQUIRE(tensor);
        REQUIRE(out);
        int32_t const status = require_io_tensor(as_trt(engine), tensor);
        if (status != CALIBR8_TRT_OK)
            return status;
        write_dims(as_trt(engine)->getTensorShape(tensor), out);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_engine_tensor_data_type(const calibr8_trt_engine* engine, const char* tensor, int32_t* out)
{
    SHIM_FN({
        REQUIRE(engine);
        REQUIRE(tensor);
        REQUIRE(out);
        int32_t const status = require_io_tensor(as_trt(engine), tensor);
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = static_cast<int32_t>(as_trt(engine)->getTensorDataType(tensor));
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_engine_tensor_io_mode(const calibr8_trt_engine* engine, const char* tensor, int32_t* out)
{
    SHIM_FN({
        REQUIRE(engine);
        REQUIRE(tensor);
        REQUIRE(out);
        int32_t const status = require_io_tensor(as_trt(engine), tensor);
        if (status != CALIBR8_TRT_OK)
            return status;
        *out = static_cast<int32_t>(as_trt(engine)->getTensorIOMode(tensor));
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_engine_inspector_json(
    const calibr8_trt_engine* engine, const calibr8_trt_context* context, calibr8_trt_blob** out)
{
    SHIM_FN({
        REQUIRE(engine);
        REQUIRE(out);
        IEngineInspector* inspector = as_trt(engine)->createEngineInspector();
        if (inspector == nullptr)
            return fail(CALIBR8_TRT_ERR_TENSORRT, "ICudaEngine::createEngineInspector returned null");
        if (context != nullptr && !inspector->setExecutionContext(as_trt(context)))
        {
            delete inspector;
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "IEngineInspector::setExecutionContext refused the context (it belongs to another engine?)");
        }
        char const* json = inspector->getEngineInformation(LayerInformationFormat::kJSON);
        if (json == nullptr)
        {
            delete inspector;
            return fail(CALIBR8_TRT_ERR_TENSORRT, "IEngineInspector::getEngineInformation returned null");
        }
        calibr8_trt_blob* blob = nullptr;
        try
        {
            blob = new calibr8_trt_blob;
            blob->text = json; // copied: the inspector owns `json`
        }
        catch (...)
        {
            delete blob;
            delete inspector;
            throw;
        }
        delete inspector;
        return put_blob(blob, out);
    });
}

// ---- execution context ---------------------------------------------------------------------------
int32_t calibr8_trt_context_create(calibr8_trt_engine* engine, calibr8_trt_context** out)
{
    SHIM_FN({
        REQUIRE(engine);
        REQUIRE(out);
        IExecutionContext* context = as_trt(engine)->createExecutionContext();
        if (context == nullptr)
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "ICudaEngine::createExecutionContext returned null (out of device memory?)");
        }
        *out = reinterpret_cast<calibr8_trt_context*>(context);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_context_destroy(calibr8_trt_context* context)
{
    SHIM_FN({
        delete as_trt(context);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_context_set_input_shape(calibr8_trt_context* context, const char* tensor, const calibr8_trt_dims* dims)
{
    SHIM_FN({
        REQUIRE(context);
        REQUIRE(tensor);
        Dims d{};
        int32_t const status = read_dims("dims", dims, &d);
        if (status != CALIBR8_TRT_OK)
            return status;
        if (!as_trt(context)->setInputShape(tensor, d))
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                std::string("IExecutionContext::setInputShape refused the shape of '") + tensor
                    + "' (not an input, or outside the optimization profile's min..max)");
        }
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_context_tensor_shape(const calibr8_trt_context* context, const char* tensor, calibr8_trt_dims* out)
{
    SHIM_FN({
        REQUIRE(context);
        REQUIRE(tensor);
        REQUIRE(out);
        int32_t const status = require_io_tensor(&as_trt(context)->getEngine(), tensor);
        if (status != CALIBR8_TRT_OK)
            return status;
        write_dims(as_trt(context)->getTensorShape(tensor), out);
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_context_set_tensor_address(calibr8_trt_context* context, const char* tensor, void* address)
{
    SHIM_FN({
        REQUIRE(context);
        REQUIRE(tensor);
        if (!as_trt(context)->setTensorAddress(tensor, address))
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                std::string("IExecutionContext::setTensorAddress refused the address for '") + tensor
                    + "' (not an I/O tensor, or misaligned)");
        }
        return CALIBR8_TRT_OK;
    });
}

int32_t calibr8_trt_context_enqueue_v3(calibr8_trt_context* context, void* stream)
{
    SHIM_FN({
        REQUIRE(context);
        if (!as_trt(context)->enqueueV3(static_cast<cudaStream_t>(stream)))
        {
            return fail(CALIBR8_TRT_ERR_TENSORRT,
                "IExecutionContext::enqueueV3 failed (an input shape or tensor address not set?); the "
                "TensorRT log says why");
        }
        return CALIBR8_TRT_OK;
    });
}

} // extern "C"
