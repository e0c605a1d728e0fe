//! Which model a state belongs to: the SHA-256 of the model calibr8 observes (after its
//! pre-processing, so the identity covers BatchNorm folding and the rest), plus the path for
//! messages.

use crate::internal::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A model's identity in a state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelIdentity {
    /// The model's path (or origin) as the shard saw it; for messages and as `merge`'s default.
    pub path: String,
    /// Lower-case hex SHA-256 of the pre-processed model's ONNX bytes.
    pub sha256: String,
}

impl ModelIdentity {
    /// The identity of `preprocessed` (the output of
    /// [`preprocess::for_quantization`](crate::preprocess::for_quantization)), named `path`.
    pub fn of(preprocessed: &OnnxModel, path: impl Into<String>) -> ModelIdentity {
        ModelIdentity { path: path.into(), sha256: hex(&Sha256::digest(preprocessed.to_bytes())) }
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
