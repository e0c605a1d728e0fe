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
    if library == ONNX_PARSER_LIB {
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
    /// [`Api::onnx_parser`], not returned here.
    pub fn load_from(nvinfer: Option<&Path>, onnx_parser: Option<&Path>) -> Result<Api, LoadError> {
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
        // SAFETY: both are `void* (void* logger, int32_t version) noexcept` in TensorRT 10.
        let create_infer_builder: calibr8_trt_create_infer_builder_fn =
            unsafe { symbol(&library, SYM_BUILDER, &path, NVINFER_LIB)? };
        // SAFETY: as above.
        let create_infer_runtime: calibr8_trt_create_infer_runtime_fn =
            unsafe { symbol(&library, SYM_RUNTIME, &path, NVINFER_LIB)? };

        let parser_candidates = match onnx_parser {
            Some(path) => vec![file_in(path, ONNX_PARSER_LIB)],
            None => {
                let mut list = Vec::new();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    list.push(dir.join(ONNX_PARSER_LIB));
                }
                list.extend(default_candidates_for(ONNX_PARSER_LIB));
                list.dedup();
                list
            }
        };
        let onnx_parser = load_parser(&parser_candidates);
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
            _library: library,
        })
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
    fn a_folder_stands_for_the_library_inside_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Api::load_from(Some(dir.path()), None).expect_err("empty folder");
        let LoadError::NotFound { tried, .. } = err else {
            panic!("expected NotFound, got {err:?}");
        };
        assert_eq!(tried[0].path, dir.path().join(NVINFER_LIB));
    }
}
