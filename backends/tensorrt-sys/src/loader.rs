//! Finds and opens TensorRT 10 at run time, once per process.
//!
//! [`api`] opens `libnvinfer.so.10` (or `CALIBR8_TENSORRT_LIB`), checks `getInferLibVersion()`
//! reports major version [`REQUIRED_MAJOR`], resolves the factory functions the shim needs, and
//! keeps the library loaded for the rest of the process. The ONNX parser
//! (`libnvonnxparser.so.10`, or `CALIBR8_TENSORRT_ONNX_PARSER_LIB`) is opened alongside but is
//! optional: running a serialized engine needs only libnvinfer, so its absence surfaces from
//! [`Api::onnx_parser`]. [`init_from`] picks the library path in code instead of the environment.
//!
//! Only a successful load is cached: after a failure, fixing the environment (or calling
//! [`init_from`]) and asking again works without restarting the process.

use std::ffi::c_int;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::{
    calibr8_trt_create_infer_builder_fn, calibr8_trt_create_infer_runtime_fn,
    calibr8_trt_create_onnx_parser_fn, calibr8_trt_get_infer_lib_version_fn,
};

/// The TensorRT major version calibr8 is written against.
pub const REQUIRED_MAJOR: u32 = 10;

/// File name of TensorRT's core library.
#[cfg(not(windows))]
pub const NVINFER_LIB: &str = "libnvinfer.so.10";
/// File name of TensorRT's core library.
#[cfg(windows)]
pub const NVINFER_LIB: &str = "nvinfer_10.dll";
/// File name of TensorRT's ONNX parser library.
#[cfg(not(windows))]
pub const ONNX_PARSER_LIB: &str = "libnvonnxparser.so.10";
/// File name of TensorRT's ONNX parser library.
#[cfg(windows)]
pub const ONNX_PARSER_LIB: &str = "nvonnxparser_10.dll";

/// File name of TensorRT's plugin library (optional: `initLibNvInferPlugins` registers the
/// plugins ONNX models may name, e.g. for `InstanceNormalization` fallbacks).
#[cfg(not(windows))]
pub const PLUGIN_LIB: &str = "libnvinfer_plugin.so.10";
/// File name of TensorRT's plugin library.
#[cfg(windows)]
pub const PLUGIN_LIB: &str = "nvinfer_plugin_10.dll";
/// Stem of the library libnvinfer opens by bare name before its first builder:
/// `libnvinfer_builder_resource.so.<major>.<minor>.<patch>` of the running version.
pub const BUILDER_RESOURCE_STEM: &str = "libnvinfer_builder_resource";

/// Environment variable: path of `libnvinfer.so.10` (or a folder holding it); the only place
/// looked at when set.
pub const ENV_LIB: &str = "CALIBR8_TENSORRT_LIB";
/// Environment variable: path of `libnvonnxparser.so.10` (or a folder holding it).
pub const ENV_ONNX_PARSER_LIB: &str = "CALIBR8_TENSORRT_ONNX_PARSER_LIB";
/// Environment variable read when neither path is given: `$TENSORRT_ROOT/lib` is searched after
/// the system's library path.
pub const ENV_TENSORRT_ROOT: &str = "TENSORRT_ROOT";

const SYM_VERSION: &str = "getInferLibVersion";
const SYM_BUILDER: &str = "createInferBuilder_INTERNAL";
const SYM_RUNTIME: &str = "createInferRuntime_INTERNAL";
const SYM_PARSER: &str = "createNvOnnxParser_INTERNAL";
const SYM_PLUGINS: &str = "initLibNvInferPlugins";

/// A TensorRT version as `getInferLibVersion()` encodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TensorRtVersion {
    /// Major version (10 for TensorRT 10).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl TensorRtVersion {
    /// Decodes `getInferLibVersion()`: `major * 10000 + minor * 100 + patch` from TensorRT 10 on
    /// (`101600` is 10.16.0), `major * 1000 + minor * 100 + patch` before (`8601` is 8.6.1).
    pub fn from_raw(raw: i32) -> Self {
        let raw = raw.max(0).unsigned_abs();
        let (major, rest) =
            if raw >= 100_000 { (raw / 10_000, raw % 10_000) } else { (raw / 1_000, raw % 1_000) };
        Self { major, minor: rest / 100, patch: rest % 100 }
    }
}

impl TensorRtVersion {
    /// `major.minor`, the part of a version that decides API compatibility with headers.
    pub fn minor_release(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// File name of the builder resource library of this version
    /// (`libnvinfer_builder_resource.so.10.16.0`).
    pub fn builder_resource_file(&self) -> String {
        format!("{BUILDER_RESOURCE_STEM}.so.{self}")
    }
}

impl fmt::Display for TensorRtVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// One place a library was looked for, and why opening it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The path (or bare file name, searched on the system's library path) given to the loader.
    pub path: PathBuf,
    /// The loader's error (`dlerror()`), which also names a missing dependency such as CUDA.
    pub error: String,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

/// Why TensorRT could not be loaded. Every message ends with the remedy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// No candidate could be opened.
    #[error("{library} not found (tried: {}). {}", join(tried), remedy(library))]
    NotFound {
        /// The library looked for ([`NVINFER_LIB`] or [`ONNX_PARSER_LIB`]).
        library: &'static str,
        /// Every candidate, in order, with its loader error.
        tried: Vec<Attempt>,
    },
    /// The library opened but lacks a symbol the shim needs.
    #[error(
        "{} does not export `{symbol}`, so it is not TensorRT {REQUIRED_MAJOR}'s {library}. {}",
        path.display(),
        remedy(library)
    )]
    MissingSymbol {
        /// The symbol.
        symbol: &'static str,
        /// The library that lacks it.
        path: PathBuf,
        /// Which library that was ([`NVINFER_LIB`] or [`ONNX_PARSER_LIB`]).
        library: &'static str,
    },
    /// `getInferLibVersion()` reports another major version.
    #[error(
        "{} is TensorRT {found}, calibr8 needs TensorRT {required}.x. {}",
        path.display(),
        remedy(NVINFER_LIB)
    )]
    BadVersion {
        /// The version the library reports.
        found: TensorRtVersion,
        /// The major version required ([`REQUIRED_MAJOR`]).
        required: u32,
        /// The library.
        path: PathBuf,
    },
    /// The library is an older 10.x release than the headers the shim was compiled against:
    /// newer headers may call virtual functions an older library does not have.
    #[error(
        "{} is TensorRT {found}, older than the TensorRT {headers} headers calibr8's shim was \
         compiled against (TensorRT only promises a library works with its own or older headers). \
         Install TensorRT {}.{} or newer, or rebuild calibr8 against this library's headers \
         (TENSORRT_ROOT=/path/to/TensorRT-{found} cargo build --release --features tensorrt)",
        path.display(),
        headers.major,
        headers.minor
    )]
    OlderThanHeaders {
        /// The version the library reports.
        found: TensorRtVersion,
        /// `NV_TENSORRT_VERSION` of the shim's headers.
        headers: TensorRtVersion,
        /// The library.
        path: PathBuf,
    },
    /// [`init_from`] asked for one library after another was loaded.
    #[error(
        "TensorRT is already loaded from {}; cannot switch to {}. Call init_from before anything \
         else uses TensorRT, or set {ENV_LIB} before starting the process",
        loaded.display(),
        requested.display()
    )]
    AlreadyLoaded {
        /// The library in use.
        loaded: PathBuf,
        /// The library [`init_from`] asked for.
        requested: PathBuf,
    },
}

fn join(tried: &[Attempt]) -> String {
    tried.iter().map(Attempt::to_string).collect::<Vec<_>>().join("; ")
}

fn remedy(library: &str) -> String {
    if library == PLUGIN_LIB {
        format!("Install TensorRT {REQUIRED_MAJOR}'s plugin library ({PLUGIN_LIB}) beside {NVINFER_LIB}")
    } else if library == ONNX_PARSER_LIB {
        format!(
            "Install TensorRT {REQUIRED_MAJOR}'s ONNX parser ({ONNX_PARSER_LIB}), or set \
             {ENV_ONNX_PARSER_LIB}=/path/to/{ONNX_PARSER_LIB}"
        )
    } else {
        format!(
            "Install TensorRT {REQUIRED_MAJOR} ({NVINFER_LIB}), or set \
             {ENV_LIB}=/path/to/{NVINFER_LIB}"
        )
    }
}

/// `libnvonnxparser.so.10`, opened, with the factory the shim needs.
pub struct OnnxParserApi {
    /// Where it was opened from (a bare file name when found on the system's library path).
    pub path: PathBuf,
    /// `createNvOnnxParser_INTERNAL`, for [`crate::calibr8_trt_network_create_from_onnx`].
    pub create_onnx_parser: calibr8_trt_create_onnx_parser_fn,
    // Keeps `create_onnx_parser` valid; never unloaded while `self` lives.
    _library: libloading::Library,
}

impl fmt::Debug for OnnxParserApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxParserApi").field("path", &self.path).finish_non_exhaustive()
    }
}

/// `libnvinfer_plugin.so.10`, opened, with its one entry point.
pub struct PluginApi {
    /// Where it was opened from.
    pub path: PathBuf,
    /// `bool initLibNvInferPlugins(void* logger, char const* libNamespace)`.
    pub init: crate::calibr8_trt_init_plugins_fn,
    // Keeps `init` valid; never unloaded while `self` lives.
    _library: libloading::Library,
}

impl fmt::Debug for PluginApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginApi").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Where libnvinfer's builder resource library (`libnvinfer_builder_resource.so.10.x.y`) comes
/// from. libnvinfer opens it by bare name before its first builder: found on the system's
/// library path when libnvinfer was, but not when libnvinfer was opened by absolute path
/// (`CALIBR8_TENSORRT_LIB`, `$TENSORRT_ROOT/lib`) without `LD_LIBRARY_PATH` — TensorRT then
/// fails with "Error Code 6: Unable to load library" (NVIDIA/TensorRT#2218). So calibr8 loads
/// it from libnvinfer's folder first; glibc hands that copy out by soname afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuilderResource {
    /// Loaded from libnvinfer's folder.
    Preloaded(PathBuf),
    /// libnvinfer was found on the system's library path; so will this be.
    SystemSearch,
    /// Not in libnvinfer's folder (or it did not load): the first builder will fail.
    Missing {
        /// The file looked for.
        file: String,
        /// The folder looked in.
        folder: PathBuf,
        /// Why it could not be loaded.
        error: String,
    },
}

impl BuilderResource {
    /// `Some(message ending with the remedy)` when the first builder will fail for want of it.
    pub fn problem(&self) -> Option<String> {
        match self {
            BuilderResource::Missing { file, folder, error } => Some(format!(
                "TensorRT's builder needs {file}, which is not loadable from {} ({error}). Put \
                 TensorRT's whole lib/ folder there, or add the folder holding {file} to \
                 LD_LIBRARY_PATH",
                folder.display()
            )),
            _ => None,
        }
    }
}

/// `libnvinfer.so.10`, opened and version-checked, with the factories the shim needs.
pub struct Api {
    /// Where libnvinfer was opened from (a bare file name when found on the library path).
    pub path: PathBuf,
    /// What `getInferLibVersion()` reported.
    pub version: TensorRtVersion,
    /// `getInferLibVersion()` as returned (e.g. `101600`).
    pub raw_version: i32,
    /// `getInferLibVersion`.
    pub get_infer_lib_version: calibr8_trt_get_infer_lib_version_fn,
    /// `createInferBuilder_INTERNAL`, for [`crate::calibr8_trt_builder_create`].
    pub create_infer_builder: calibr8_trt_create_infer_builder_fn,
    /// `createInferRuntime_INTERNAL`, for [`crate::calibr8_trt_runtime_create`].
    pub create_infer_runtime: calibr8_trt_create_infer_runtime_fn,
    onnx_parser: Result<OnnxParserApi, LoadError>,
    plugins: Result<PluginApi, LoadError>,
    // Loaded once, before the first builder.
    builder_resource: OnceLock<(BuilderResource, Option<libloading::Library>)>,
    // Keeps the function pointers above valid; never unloaded while `self` lives.
    _library: libloading::Library,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("onnx_parser", &self.onnx_parser)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// Opens TensorRT without touching the process-wide instance (no caching, no environment
    /// variables except `TENSORRT_ROOT` for the default search).
    ///
    /// `nvinfer`: a file, or a folder holding [`NVINFER_LIB`]; `None` searches the system's
    /// library path, then `$TENSORRT_ROOT/lib`. `onnx_parser`: likewise for [`ONNX_PARSER_LIB`];
    /// `None` looks beside libnvinfer first. A parser that fails to load is kept as the error of
    /// [`Api::onnx_parser`], not returned here; so is the optional [`PLUGIN_LIB`].
    ///
    /// A library older (by minor release) than the headers the shim was compiled against is
    /// refused ([`LoadError::OlderThanHeaders`]); the stub build has no headers and checks
    /// the major version only.
    pub fn load_from(nvinfer: Option<&Path>, onnx_parser: Option<&Path>) -> Result<Api, LoadError> {
        Api::load_requiring(nvinfer, onnx_parser, headers_version())
    }

    /// [`Api::load_from`] with the oldest acceptable release given: `Some(v)` refuses a library
    /// whose `major.minor` is below `v`'s, `None` checks the major version only.
    pub fn load_requiring(
        nvinfer: Option<&Path>,
        onnx_parser: Option<&Path>,
        minimum: Option<TensorRtVersion>,
    ) -> Result<Api, LoadError> {
        let candidates = match nvinfer {
            Some(path) => vec![file_in(path, NVINFER_LIB)],
            None => default_candidates(),
        };
        let (library, path) = open_first(NVINFER_LIB, &candidates)?;

        // SAFETY: the symbol is TensorRT's `int32_t getInferLibVersion() noexcept`.
        let get_version: calibr8_trt_get_infer_lib_version_fn =
            unsafe { symbol(&library, SYM_VERSION, &path, NVINFER_LIB)? };
        // SAFETY: takes no arguments and only returns a constant.
        let raw_version = unsafe { get_version() };
        let version = TensorRtVersion::from_raw(raw_version);
        if version.major != REQUIRED_MAJOR {
            return Err(LoadError::BadVersion { found: version, required: REQUIRED_MAJOR, path });
        }
        if let Some(headers) = minimum.filter(|h| version.minor_release() < h.minor_release()) {
            return Err(LoadError::OlderThanHeaders { found: version, headers, path });
        }
        // SAFETY: both are `void* (void* logger, int32_t version) noexcept` in TensorRT 10.
        let create_infer_builder: calibr8_trt_create_infer_builder_fn =
            unsafe { symbol(&library, SYM_BUILDER, &path, NVINFER_LIB)? };
        // SAFETY: as above.
        let create_infer_runtime: calibr8_trt_create_infer_runtime_fn =
            unsafe { symbol(&library, SYM_RUNTIME, &path, NVINFER_LIB)? };

        let parser_candidates = match onnx_parser {
            Some(path) => vec![file_in(path, ONNX_PARSER_LIB)],
            None => beside_then_default(&path, ONNX_PARSER_LIB),
        };
        let onnx_parser = load_parser(&parser_candidates);
        let plugins = load_plugins(&beside_then_default(&path, PLUGIN_LIB));
        match &onnx_parser {
            Ok(parser) => tracing::info!(
                target: "calibr8_tensorrt::loader",
                path = %path.display(),
                version = %version,
                onnx_parser = %parser.path.display(),
                "loaded TensorRT"
            ),
            Err(err) => tracing::info!(
                target: "calibr8_tensorrt::loader",
                path = %path.display(),
                version = %version,
                onnx_parser_error = %err,
                "loaded TensorRT without its ONNX parser"
            ),
        }
        Ok(Api {
            path,
            version,
            raw_version,
            get_infer_lib_version: get_version,
            create_infer_builder,
            create_infer_runtime,
            onnx_parser,
            plugins,
            builder_resource: OnceLock::new(),
            _library: library,
        })
    }

    /// The plugin library, or why it could not be loaded (it is optional).
    pub fn plugins(&self) -> Result<&PluginApi, LoadError> {
        self.plugins.as_ref().map_err(Clone::clone)
    }

    /// Makes sure libnvinfer will find its builder resource library: loads it from
    /// libnvinfer's own folder (once; later calls return the first answer). Call before the
    /// first builder; runtimes (running a saved engine) do not need it.
    pub fn preload_builder_resource(&self) -> &BuilderResource {
        let (status, _) = self
            .builder_resource
            .get_or_init(|| preload_builder_resource(&self.path, self.version));
        status
    }

    /// The ONNX parser, or why it could not be loaded.
    pub fn onnx_parser(&self) -> Result<&OnnxParserApi, LoadError> {
        self.onnx_parser.as_ref().map_err(Clone::clone)
    }
}

fn load_parser(candidates: &[PathBuf]) -> Result<OnnxParserApi, LoadError> {
    let (library, path) = open_first(ONNX_PARSER_LIB, candidates)?;
    // SAFETY: `void* createNvOnnxParser_INTERNAL(void* network, void* logger, int version)`.
    let create_onnx_parser: calibr8_trt_create_onnx_parser_fn =
        unsafe { symbol(&library, SYM_PARSER, &path, ONNX_PARSER_LIB)? };
    Ok(OnnxParserApi { path, create_onnx_parser, _library: library })
}

/// Loads `libnvinfer_builder_resource.so.<version>` from the folder of `nvinfer` (nothing to do
/// for a bare name: the system's search finds both).
fn preload_builder_resource(
    nvinfer: &Path,
    version: TensorRtVersion,
) -> (BuilderResource, Option<libloading::Library>) {
    let Some(folder) = nvinfer.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return (BuilderResource::SystemSearch, None);
    };
    let file = version.builder_resource_file();
    let path = folder.join(&file);
    // SAFETY: TensorRT's own resource library; libnvinfer would load it anyway.
    match unsafe { libloading::Library::new(&path) } {
        Ok(lib) => {
            tracing::info!(
                target: "calibr8_tensorrt::loader",
                path = %path.display(),
                "preloaded TensorRT's builder resource"
            );
            (BuilderResource::Preloaded(path), Some(lib))
        }
        Err(err) => {
            let status = BuilderResource::Missing {
                file,
                folder: folder.to_path_buf(),
                error: dl_error(&err),
            };
            if let Some(problem) = status.problem() {
                tracing::warn!(target: "calibr8_tensorrt::loader", "{problem}");
            }
            (status, None)
        }
    }
}

fn load_plugins(candidates: &[PathBuf]) -> Result<PluginApi, LoadError> {
    let (library, path) = open_first(PLUGIN_LIB, candidates)?;
    // SAFETY: `bool initLibNvInferPlugins(void* logger, char const* libNamespace)`.
    let init: crate::calibr8_trt_init_plugins_fn =
        unsafe { symbol(&library, SYM_PLUGINS, &path, PLUGIN_LIB)? };
    Ok(PluginApi { path, init, _library: library })
}

/// `name` in the folder libnvinfer came from (when it came from one), then the default search.
fn beside_then_default(nvinfer: &Path, name: &str) -> Vec<PathBuf> {
    let mut list = Vec::new();
    if let Some(dir) = nvinfer.parent().filter(|d| !d.as_os_str().is_empty()) {
        list.push(dir.join(name));
    }
    list.extend(default_candidates_for(name));
    list.dedup();
    list
}

/// `NV_TENSORRT_VERSION` of the headers the shim was compiled against; `None` in the stub build.
pub fn headers_version() -> Option<TensorRtVersion> {
    // SAFETY: returns a constant (0 in the stub build).
    let raw = unsafe { crate::calibr8_trt_header_version() };
    (raw > 0).then(|| TensorRtVersion::from_raw(raw))
}

/// `path` itself, or `path/name` when `path` is a folder.
fn file_in(path: &Path, name: &str) -> PathBuf {
    if path.is_dir() {
        path.join(name)
    } else {
        path.to_path_buf()
    }
}

fn default_candidates() -> Vec<PathBuf> {
    default_candidates_for(NVINFER_LIB)
}

fn default_candidates_for(name: &str) -> Vec<PathBuf> {
    let mut list = vec![PathBuf::from(name)];
    if let Some(root) = std::env::var_os(ENV_TENSORRT_ROOT).filter(|r| !r.is_empty()) {
        list.push(Path::new(&root).join("lib").join(name));
    }
    list
}

fn open_first(
    library: &'static str,
    candidates: &[PathBuf],
) -> Result<(libloading::Library, PathBuf), LoadError> {
    let mut tried = Vec::with_capacity(candidates.len());
    for path in candidates {
        // SAFETY: opening a shared library runs its initializers; TensorRT's are sound to run,
        // and that is the point of loading it.
        match unsafe { libloading::Library::new(path) } {
            Ok(lib) => return Ok((lib, path.clone())),
            Err(err) => {
                tracing::debug!(
                    target: "calibr8_tensorrt::loader",
                    path = %path.display(),
                    error = %err,
                    "could not open {library}"
                );
                tried.push(Attempt { path: path.clone(), error: dl_error(&err) });
            }
        }
    }
    Err(LoadError::NotFound { library, tried })
}

/// The dlerror text without libloading's own wrapping.
fn dl_error(err: &libloading::Error) -> String {
    use std::error::Error as _;
    err.source().map_or_else(|| err.to_string(), ToString::to_string)
}

/// Resolves `name` as a `T` (a function pointer type).
///
/// # Safety
/// `T` must be the symbol's true type.
unsafe fn symbol<T: Copy>(
    library: &libloading::Library,
    name: &'static str,
    path: &Path,
    library_name: &'static str,
) -> Result<T, LoadError> {
    // SAFETY: forwarded to the caller.
    unsafe { library.get::<T>(name.as_bytes()) }.map(|sym| *sym).map_err(|_| {
        LoadError::MissingSymbol { symbol: name, path: path.to_path_buf(), library: library_name }
    })
}

static API: OnceLock<Api> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

/// The process-wide TensorRT, loaded on first use from `CALIBR8_TENSORRT_LIB` /
/// `CALIBR8_TENSORRT_ONNX_PARSER_LIB` when set, else from the default search
/// (see [`Api::load_from`]). A success is kept for the life of the process; a failure is not.
pub fn api() -> Result<&'static Api, LoadError> {
    if let Some(api) = API.get() {
        return Ok(api);
    }
    let _loading = LOADING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(api) = API.get() {
        return Ok(api);
    }
    let nvinfer = env_path(ENV_LIB);
    let parser = env_path(ENV_ONNX_PARSER_LIB);
    let api = Api::load_from(nvinfer.as_deref(), parser.as_deref())?;
    Ok(API.get_or_init(|| api))
}

/// Loads the process-wide TensorRT from `path` (a file, or a folder holding
/// [`NVINFER_LIB`]) instead of the environment; the parser still honours
/// `CALIBR8_TENSORRT_ONNX_PARSER_LIB`, else is looked for beside it. Returns the loaded API when
/// it is already loaded from that same path, and [`LoadError::AlreadyLoaded`] when loaded from
/// another.
pub fn init_from(path: impl AsRef<Path>) -> Result<&'static Api, LoadError> {
    let requested = file_in(path.as_ref(), NVINFER_LIB);
    let _loading = LOADING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(api) = API.get() {
        return if api.path == requested {
            Ok(api)
        } else {
            Err(LoadError::AlreadyLoaded { loaded: api.path.clone(), requested })
        };
    }
    let parser = env_path(ENV_ONNX_PARSER_LIB);
    let api = Api::load_from(Some(&requested), parser.as_deref())?;
    Ok(API.get_or_init(|| api))
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

// The cast makes sure the C `int` of createNvOnnxParser_INTERNAL is the shim's int32_t.
const _: () = assert!(std::mem::size_of::<c_int>() == 4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_decode_both_encodings() {
        let v10 = TensorRtVersion::from_raw(101_600);
        assert_eq!((v10.major, v10.minor, v10.patch), (10, 16, 0));
        assert_eq!(TensorRtVersion::from_raw(100_900).to_string(), "10.9.0");
        assert_eq!(TensorRtVersion::from_raw(8601).to_string(), "8.6.1");
        assert_eq!(TensorRtVersion::from_raw(110_100).to_string(), "11.1.0");
    }

    #[test]
    fn not_found_lists_every_candidate_and_ends_with_the_remedy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("libnvinfer.so.10");
        let err = Api::load_from(Some(&missing), None).expect_err("nothing to load");
        match &err {
            LoadError::NotFound { library, tried } => {
                assert_eq!(*library, NVINFER_LIB);
                assert_eq!(tried.len(), 1);
                assert_eq!(tried[0].path, missing);
                assert!(!tried[0].error.is_empty());
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.starts_with("libnvinfer.so.10 not found (tried: "), "{message}");
        assert!(message.contains(&missing.display().to_string()), "{message}");
        assert!(
            message.ends_with(
                "Install TensorRT 10 (libnvinfer.so.10), or set \
                 CALIBR8_TENSORRT_LIB=/path/to/libnvinfer.so.10"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_libnvinfer_from_the_library_path_needs_no_preload() {
        let v = TensorRtVersion { major: 10, minor: 16, patch: 0 };
        let (status, lib) = preload_builder_resource(Path::new(NVINFER_LIB), v);
        assert_eq!(status, BuilderResource::SystemSearch);
        assert!(lib.is_none() && status.problem().is_none());
    }

    #[test]
    fn a_folder_stands_for_the_library_inside_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Api::load_from(Some(dir.path()), None).expect_err("empty folder");
        let LoadError::NotFound { tried, .. } = err else {
            panic!("expected NotFound, got {err:?}");
        };
        assert_eq!(tried[0].path, dir.path().join(NVINFER_LIB));
    }
}
