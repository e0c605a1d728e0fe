//! Finds `libonnxruntime` at run time and checks it before the `ort` crate touches it.
//!
//! Lookup order ([`candidates`]): `CALIBR8_ORT_LIB`, then `ORT_DYLIB_PATH` (the variable the
//! `ort` crate itself reads) — when one is set it is the only place looked at, so a wrong path
//! is an error, never a silent switch to another ONNX Runtime; otherwise the `onnxruntime`
//! package of the `python3` on `PATH` (`onnxruntime/capi/libonnxruntime.so.1.*`, what
//! `pip install onnxruntime` ships), then the system's library path (`libonnxruntime.so`).
//!
//! Each candidate is opened with `dlopen` and must export ONNX Runtime's C entry point
//! `OrtGetApiBase` and report a version the pinned `ort` crate supports ([`MIN_MINOR`]) before
//! it is handed to `ort` — `ort` panics or keeps a bad library forever otherwise. Only a
//! success is cached (in a `OnceLock`, see `sys::environment`): fixing the environment and asking
//! again works without restarting the process.

use std::ffi::{c_char, CStr};
use std::fmt;
use std::path::{Path, PathBuf};

/// ONNX Runtime's library file name on the system library path.
#[cfg(not(windows))]
pub const ORT_LIB: &str = "libonnxruntime.so";
/// ONNX Runtime's library file name on the system library path.
#[cfg(windows)]
pub const ORT_LIB: &str = "onnxruntime.dll";

/// Environment variable: path of `libonnxruntime.so*` (or a folder holding it).
pub const ENV_LIB: &str = "CALIBR8_ORT_LIB";
/// The `ort` crate's own variable, honoured after [`ENV_LIB`].
pub const ENV_ORT_DYLIB_PATH: &str = "ORT_DYLIB_PATH";

/// The oldest ONNX Runtime 1.x minor version the pinned `ort` (feature `api-22`) can drive.
pub const MIN_MINOR: u32 = 22;

/// One place ONNX Runtime was looked for, and why it was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The path (or bare file name, searched on the system's library path).
    pub path: PathBuf,
    /// Why it was not used (`dlerror()`, or what the library lacked).
    pub error: String,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

/// Why ONNX Runtime could not be loaded. Every message ends with the remedy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// No candidate could be opened.
    #[error("ONNX Runtime ({ORT_LIB}) not found (tried: {}). {REMEDY}", join(tried))]
    NotFound {
        /// Every candidate, in order, with its loader error.
        tried: Vec<Attempt>,
    },
    /// The library opened but does not export `OrtGetApiBase`.
    #[error(
        "{} does not export `OrtGetApiBase`, so it is not ONNX Runtime. {REMEDY}",
        path.display()
    )]
    NotOnnxRuntime {
        /// The library.
        path: PathBuf,
    },
    /// The library reports a version older than [`MIN_MINOR`] or one that is not 1.x.
    #[error(
        "{} is ONNX Runtime {found}; calibr8 needs 1.{MIN_MINOR} or newer. {REMEDY}",
        path.display()
    )]
    BadVersion {
        /// The version string the library reports.
        found: String,
        /// The library.
        path: PathBuf,
    },
    /// The `ort` crate refused the library after the checks passed.
    #[error("ONNX Runtime at {}: {reason}. {REMEDY}", path.display())]
    Init {
        /// The library.
        path: PathBuf,
        /// `ort`'s error.
        reason: String,
    },
    /// [`crate::init_from`] asked for one library after another was loaded.
    #[error(
        "ONNX Runtime is already loaded from {}; cannot switch to {} (a process holds one). \
         Call calibr8_ort::init_from before anything else uses ONNX Runtime, or set {ENV_LIB} \
         before starting the process",
        loaded.display(),
        requested.display()
    )]
    AlreadyLoaded {
        /// The library in use.
        loaded: PathBuf,
        /// The library asked for.
        requested: PathBuf,
    },
}

/// The one remedy every load error ends with.
pub const REMEDY: &str = "Install onnxruntime (pip install onnxruntime) or set \
                          CALIBR8_ORT_LIB=/path/to/libonnxruntime.so";

fn join(tried: &[Attempt]) -> String {
    if tried.is_empty() {
        return "nothing".into();
    }
    tried.iter().map(Attempt::to_string).collect::<Vec<_>>().join("; ")
}

/// A checked ONNX Runtime library: where it is and what version it says it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Library {
    /// The file that was opened (as given to `dlopen`).
    pub path: PathBuf,
    /// `OrtGetApiBase()->GetVersionString()`, e.g. `1.32.0`.
    pub version: String,
}

/// `OrtApiBase` of ONNX Runtime's C API (`onnxruntime_c_api.h`), stable since 1.0.
#[repr(C)]
struct OrtApiBase {
    get_api: unsafe extern "C" fn(u32) -> *const std::ffi::c_void,
    get_version_string: unsafe extern "C" fn() -> *const c_char,
}

/// Opens `path` (a file, or a folder holding [`ORT_LIB`]) and checks that it is an ONNX Runtime
/// the pinned `ort` crate can drive. Touches no process-wide state; the library is closed again.
pub fn probe(path: &Path) -> Result<Library, LoadError> {
    let path = file_in(path);
    // SAFETY: opening a shared library runs its initializers; ONNX Runtime's are sound to run,
    // and a library put where ONNX Runtime is expected is trusted as much as ONNX Runtime.
    let library = unsafe { libloading::Library::new(&path) }.map_err(|e| LoadError::NotFound {
        tried: vec![Attempt { path: path.clone(), error: dl_error(&e) }],
    })?;
    // SAFETY: `OrtGetApiBase` is `const OrtApiBase* ORT_API_CALL OrtGetApiBase(void) NO_EXCEPTION`.
    let get_base =
        unsafe { library.get::<unsafe extern "C" fn() -> *const OrtApiBase>(b"OrtGetApiBase\0") }
            .map_err(|_| LoadError::NotOnnxRuntime { path: path.clone() })?;
    // SAFETY: takes nothing; returns a pointer to a static struct (checked for null below).
    let base = unsafe { get_base() };
    if base.is_null() {
        return Err(LoadError::NotOnnxRuntime { path });
    }
    // SAFETY: `base` is non-null and points to the library's static `OrtApiBase`; its
    // `GetVersionString` returns a static NUL-terminated string.
    let version = unsafe {
        let text = ((*base).get_version_string)();
        if text.is_null() {
            return Err(LoadError::BadVersion { found: "(no version)".into(), path });
        }
        CStr::from_ptr(text).to_string_lossy().into_owned()
    };
    match parse_version(&version) {
        Some((1, minor)) if minor >= MIN_MINOR => Ok(Library { path, version }),
        _ => Err(LoadError::BadVersion { found: version, path }),
    }
}

/// `(major, minor)` of a version string like `1.32.0`.
fn parse_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Where to look, in order. `env` reads an environment variable; `python` finds the library of
/// the `onnxruntime` Python package (see [`python_package_lib`]).
pub fn candidates(
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
    python: impl FnOnce() -> Option<PathBuf>,
) -> Vec<PathBuf> {
    for var in [ENV_LIB, ENV_ORT_DYLIB_PATH] {
        if let Some(path) = env(var).filter(|v| !v.is_empty()) {
            return vec![file_in(Path::new(&path))];
        }
    }
    let mut list: Vec<PathBuf> = python().into_iter().collect();
    list.push(PathBuf::from(ORT_LIB));
    list
}

/// Tries `candidates` in order; the first ONNX Runtime that passes [`probe`] wins. A library
/// that opens but is not a usable ONNX Runtime is reported as such (not as "not found") when it
/// is the only candidate, and listed with its reason otherwise.
pub fn find(candidates: &[PathBuf]) -> Result<Library, LoadError> {
    let mut tried = Vec::with_capacity(candidates.len());
    let mut last = None;
    for path in candidates {
        match probe(path) {
            Ok(library) => return Ok(library),
            Err(LoadError::NotFound { tried: mut t }) => tried.append(&mut t),
            Err(other) => {
                tried.push(Attempt { path: path.clone(), error: other.to_string() });
                last = Some(other);
            }
        }
    }
    match last {
        Some(err) if candidates.len() == 1 => Err(err),
        _ => Err(LoadError::NotFound { tried }),
    }
}

/// The ONNX Runtime library of the `onnxruntime` package that `python` (an interpreter) would
/// import: `onnxruntime/capi/libonnxruntime.so.1.*` (the newest if several). `None` when the
/// interpreter is missing, has no such package, or the package lacks the library. The package is
/// located without being imported (`importlib.util.find_spec`), so no ONNX Runtime is loaded
/// into the Python process.
pub fn python_package_lib(python: &Path) -> Option<PathBuf> {
    const FIND: &str = "import importlib.util as u, os\n\
                        s = u.find_spec('onnxruntime')\n\
                        print(os.path.dirname(s.origin) if s and s.origin else '')";
    let out = std::process::Command::new(python)
        .args(["-c", FIND])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let capi = Path::new(dir.trim()).join("capi");
    if dir.trim().is_empty() {
        return None;
    }
    let mut libs: Vec<PathBuf> = std::fs::read_dir(&capi)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("libonnxruntime.so.1") || n == "onnxruntime.dll" || n == ORT_LIB
            })
        })
        .collect();
    // Newest version first: compare the numeric parts, not the text (1.9 < 1.10).
    libs.sort_by_key(|p| std::cmp::Reverse(version_key(p)));
    libs.into_iter().next()
}

fn version_key(path: &Path) -> Vec<u64> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.split('.').filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// `path` itself, or `path/libonnxruntime.so` when `path` is a folder.
fn file_in(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(ORT_LIB)
    } else {
        path.to_path_buf()
    }
}

/// The dlerror text without libloading's own wrapping.
fn dl_error(err: &libloading::Error) -> String {
    use std::error::Error as _;
    err.source().map_or_else(|| err.to_string(), ToString::to_string)
}

/// The candidates of this process: its environment and the `python3` on its `PATH`.
pub(crate) fn process_candidates() -> Vec<PathBuf> {
    candidates(
        |var| std::env::var_os(var),
        || python_package_lib(Path::new(if cfg!(windows) { "python" } else { "python3" })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn an_explicit_path_is_the_only_candidate() {
        let env =
            |var: &str| (var == ENV_LIB).then(|| OsString::from("/opt/ort/libonnxruntime.so"));
        let list = candidates(env, || panic!("python must not be asked"));
        assert_eq!(list, [PathBuf::from("/opt/ort/libonnxruntime.so")]);

        let env = |var: &str| (var == ENV_ORT_DYLIB_PATH).then(|| OsString::from("/x/lib.so"));
        assert_eq!(candidates(env, || None), [PathBuf::from("/x/lib.so")]);
    }

    #[test]
    fn calibr8_variable_wins_over_ort_variable() {
        let env = |var: &str| Some(OsString::from(format!("/{var}.so")));
        assert_eq!(candidates(env, || None), [PathBuf::from("/CALIBR8_ORT_LIB.so")]);
    }

    #[test]
    fn without_variables_python_then_the_system() {
        let list = candidates(|_| Some(OsString::new()), || Some(PathBuf::from("/py/capi/lib")));
        assert_eq!(list, [PathBuf::from("/py/capi/lib"), PathBuf::from(ORT_LIB)]);
        assert_eq!(candidates(|_| None, || None), [PathBuf::from(ORT_LIB)]);
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("1.32.0"), Some((1, 32)));
        assert_eq!(parse_version("1.9"), Some((1, 9)));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn not_found_lists_every_candidate_and_ends_with_the_remedy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a").join("libonnxruntime.so.1.32.0");
        let b = dir.path().join("libonnxruntime.so");
        let err = find(&[a.clone(), b.clone()]).expect_err("nothing there");
        let LoadError::NotFound { tried } = &err else { panic!("expected NotFound: {err:?}") };
        assert_eq!(tried.iter().map(|t| t.path.clone()).collect::<Vec<_>>(), [a, b]);
        let message = err.to_string();
        assert!(message.starts_with("ONNX Runtime (libonnxruntime.so) not found (tried: "));
        assert!(
            message.ends_with(
                "Install onnxruntime (pip install onnxruntime) or set \
                 CALIBR8_ORT_LIB=/path/to/libonnxruntime.so"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_folder_stands_for_the_library_inside_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = probe(dir.path()).expect_err("empty folder");
        let LoadError::NotFound { tried } = err else { panic!("expected NotFound") };
        assert_eq!(tried[0].path, dir.path().join(ORT_LIB));
    }
}
