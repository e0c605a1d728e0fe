//! The one error type of calibr8-core: every variant names the file, tensor, node, op type or
//! option at fault, and its message ends with what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong between an ONNX file and the artifacts calibr8 writes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written. The operating system's reason is the
    /// [`source`](std::error::Error::source), not part of this message: error reporters print
    /// the chain (`calibr8` prints one `Cause:` line each), so it would appear twice.
    #[error("{action} {path}")]
    Io {
        /// What calibr8 was doing ("reading", "writing", "creating directory").
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a readable ONNX model.
    #[error(
        "{path}: not a valid ONNX model ({reason}). Check that the file is a complete .onnx export"
    )]
    InvalidModel {
        /// Where the model came from (a path, or `<memory>`).
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A QDQ model whose quantization cannot be read back onto its float model.
    #[error(
        "{path}: cannot read its quantization back ({reason}). Pass the QDQ export of this \
         model, as `calibr8 quantize` writes it"
    )]
    QdqImport {
        /// The QDQ model.
        path: String,
        /// What does not fit.
        reason: String,
    },
    /// The model is valid ONNX but uses something calibr8 cannot handle.
    #[error("{path}: node '{node}' ({op_type}): {reason}")]
    UnsupportedNode {
        /// Where the model came from.
        path: String,
        /// The node's name.
        node: String,
        /// Its ONNX op type.
        op_type: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The quantization configuration is inconsistent or names things the model does not have.
    #[error("invalid quantization config: option '{option}': {reason}")]
    Config {
        /// The option (key) at fault.
        option: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Calibration data does not fit the model.
    #[error("calibration data {source_name}: {reason}")]
    Data {
        /// The data file, folder, or `<memory>`.
        source_name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An observer refused the data (NaN/Inf, wrong channel axis, unmergeable shards...).
    #[error(transparent)]
    Calibration(#[from] calibr8_calibration::Error),
    /// An engine failed while running the model.
    #[error("backend {backend}: {reason}")]
    Backend {
        /// The backend's name (`tract`, `tensorrt`, ...).
        backend: String,
        /// What failed.
        reason: String,
    },
    /// An engine failed; the engine's own error is kept as the source (not flattened into a
    /// string), so reporters show its whole chain.
    #[error("backend {backend}: {context}")]
    BackendFailed {
        /// The backend's name (`tract`, `tensorrt`, ...).
        backend: String,
        /// What calibr8 asked the engine to do.
        context: String,
        /// The engine's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The backend exists but is not compiled into this build.
    #[error(
        "backend {backend} is not compiled into this build of calibr8: rebuild with          `--features {feature}`{note}"
    )]
    BackendNotCompiled {
        /// The backend's name.
        backend: String,
        /// The cargo feature that compiles it in.
        feature: String,
        /// What else it needs at run time (empty, or starting with "; ").
        note: String,
    },
    /// No backend has this name.
    #[error("unknown backend '{name}'; use one of {known}")]
    UnknownBackend {
        /// The name asked for.
        name: String,
        /// The names calibr8 knows, comma-separated.
        known: String,
    },
    /// A backend does not offer this capability.
    #[error("backend {backend} does not support {what}")]
    Unsupported {
        /// The backend's name.
        backend: String,
        /// The capability.
        what: String,
    },
    /// The graph is well-formed protobuf but breaks a rule calibr8 (or ONNX) relies on: a name
    /// used twice, an input nothing produces, an attribute out of range, a tensor too large.
    #[error("{path}: {at}: {problem}")]
    InvalidGraph {
        /// Where the model came from.
        path: String,
        /// The node, input, initializer or attribute at fault (`node 'conv1' (Conv), attribute
        /// 'strides'`).
        at: String,
        /// What is wrong, ending with the fix.
        problem: String,
    },
    /// An engine panicked; the panic was contained and turned into this error.
    #[error(
        "backend {backend} crashed while {stage}{}: {message}. calibr8 stopped it; the model \
         likely uses something the engine cannot handle (run `calibr8 inspect` on it), otherwise \
         please report this with the model",
        node.as_ref().map(|n| format!(" (node '{n}')")).unwrap_or_default()
    )]
    BackendPanic {
        /// The backend's name.
        backend: String,
        /// What it was doing (`loading the model`, `optimizing`, `running a batch`).
        stage: String,
        /// The node being processed, when known.
        node: Option<String>,
        /// The panic message and where it was raised.
        message: String,
    },
    /// The output folder cannot be replaced as a whole.
    #[error("output folder {path}: {reason}")]
    OutputFolder {
        /// The folder.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },
    /// The run was interrupted (SIGINT / SIGTERM); what it had created was removed.
    #[error("interrupted; the files this run had started were removed and {path} is unchanged")]
    Interrupted {
        /// The output folder left as it was.
        path: PathBuf,
    },
    /// A tensor named in a request does not exist in the model.
    #[error(
        "tensor '{tensor}' not found in {path}. Run `calibr8 inspect` to list the model's tensors"
    )]
    UnknownTensor {
        /// The missing tensor.
        tensor: String,
        /// The model.
        path: String,
    },
    /// A calibr8 state file (`.c8state`, [`crate::shards`]) cannot be used: not one, corrupt,
    /// truncated, of another format version, or not what the command needs.
    #[error("state file {path}: {reason}")]
    StateFile {
        /// The file (or `<memory>`).
        path: String,
        /// What is wrong, ending with the remedy.
        reason: String,
    },
    /// Shard states that do not belong together ([`crate::shards`]).
    #[error(
        "{first} and {other} have different {field}: {detail}. Merge only states observed with \
         the same model, configuration, calibr8 version and grid; re-run the shards that differ"
    )]
    StateMismatch {
        /// What differs: `model`, `configuration`, `calibr8 version`, `grid`, `kind`, `tensors`.
        field: &'static str,
        /// The first state's file.
        first: String,
        /// The file that differs from it.
        other: String,
        /// The two values (or where they differ).
        detail: String,
    },
}

/// `Result` with calibr8-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }

    /// An [`Error::Config`] for `option`.
    pub fn config(option: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config { option: option.into(), reason: reason.into() }
    }

    /// An [`Error::Data`] for the data source `source_name`.
    pub fn data(source_name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Data { source_name: source_name.into(), reason: reason.into() }
    }

    /// An [`Error::Backend`] for `backend`.
    pub fn backend(backend: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Backend { backend: backend.into(), reason: reason.to_string() }
    }

    /// An [`Error::BackendFailed`]: `backend` failed while doing `context`, because of `source`.
    pub fn backend_failed(
        backend: impl Into<String>,
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::BackendFailed {
            backend: backend.into(),
            context: context.into(),
            source: source.into(),
        }
    }
}
