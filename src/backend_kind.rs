//! [`BackendKind`]: every backend calibr8 knows, whether or not this build includes it.

use crate::{Backend, Error, Result};
use std::fmt;
use std::str::FromStr;

/// A backend by name: what `--backend` / `--backends` take and [`backend_for_name`] parses.
///
/// Each backend is compiled in by a cargo feature of `calibr8`; [`BackendKind::backend`] on one
/// that is not says which feature to enable ([`Error::BackendNotCompiled`]).
///
/// ```
/// use calibr8::BackendKind;
/// let kind: BackendKind = "tract-int8".parse()?;
/// assert_eq!(kind, BackendKind::TractInt8);
/// assert_eq!(kind.to_string(), "tract-int8");
/// assert_eq!(kind.feature(), "tract");
/// assert!("onnxruntime".parse::<BackendKind>().is_err());
/// # Ok::<(), calibr8::Error>(())
/// ```
///
/// [`backend_for_name`]: crate::backend_for_name
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum BackendKind {
    /// tract on the CPU: fp32, and QDQ models executed in float (feature `tract`, the default).
    Tract,
    /// tract's int8 kernels on the QOperator export (QLinearConv / QLinearMatMul).
    TractInt8,
    /// TensorRT 10 on the GPU (feature `tensorrt`; needs TensorRT 10 installed).
    #[cfg_attr(feature = "clap", value(name = "tensorrt"))]
    TensorRt,
    /// burn's ONNX interpreter (feature `burn`).
    Burn,
    /// ONNX Runtime (feature `ort`).
    Ort,
}

impl BackendKind {
    /// Every backend, in a stable order.
    pub const ALL: &'static [BackendKind] = &[
        BackendKind::Tract,
        BackendKind::TractInt8,
        BackendKind::TensorRt,
        BackendKind::Burn,
        BackendKind::Ort,
    ];

    /// The name: `tract`, `tract-int8`, `tensorrt`, `burn`, `ort`.
    pub const fn name(self) -> &'static str {
        match self {
            BackendKind::Tract => "tract",
            BackendKind::TractInt8 => "tract-int8",
            BackendKind::TensorRt => "tensorrt",
            BackendKind::Burn => "burn",
            BackendKind::Ort => "ort",
        }
    }

    /// The `calibr8` cargo feature that compiles this backend in.
    pub const fn feature(self) -> &'static str {
        match self {
            BackendKind::Tract | BackendKind::TractInt8 => "tract",
            BackendKind::TensorRt => "tensorrt",
            BackendKind::Burn => "burn",
            BackendKind::Ort => "ort",
        }
    }

    /// Whether this build includes the backend (its library or device may still be missing:
    /// [`BackendKind::backend`] checks those).
    pub const fn is_compiled(self) -> bool {
        match self {
            BackendKind::Tract | BackendKind::TractInt8 => cfg!(feature = "tract"),
            BackendKind::TensorRt => cfg!(feature = "tensorrt"),
            BackendKind::Burn => cfg!(feature = "burn"),
            BackendKind::Ort => cfg!(feature = "ort"),
        }
    }

    /// What the backend needs besides its feature, for the not-compiled message.
    const fn run_time_note(self) -> &'static str {
        match self {
            BackendKind::TensorRt => "; the tensorrt backend also needs TensorRT 10 installed",
            BackendKind::Tract | BackendKind::TractInt8 | BackendKind::Burn | BackendKind::Ort => {
                ""
            }
        }
    }

    /// [`Error::BackendNotCompiled`] for this backend.
    #[cfg_attr(
        all(feature = "tract", feature = "tensorrt", feature = "burn", feature = "ort"),
        allow(dead_code)
    )]
    fn not_compiled(self) -> Error {
        Error::BackendNotCompiled {
            backend: self.name().into(),
            feature: self.feature().into(),
            note: self.run_time_note().into(),
        }
    }

    /// The backend, checked ([`Backend::check`]) so a missing library is an error here, never a
    /// silent fallback. Not compiled in: [`Error::BackendNotCompiled`] naming the feature.
    pub fn backend(self) -> Result<Box<dyn Backend>> {
        let backend: Box<dyn Backend> = match self {
            #[cfg(feature = "tract")]
            BackendKind::Tract => Box::new(calibr8_tract::TractBackend),
            // Quantized models lowered to QLinearConv / QLinearMatMul: tract's int8 kernels.
            #[cfg(feature = "tract")]
            BackendKind::TractInt8 => Box::new(calibr8_tract::TractInt8Backend),
            #[cfg(feature = "tensorrt")]
            BackendKind::TensorRt => Box::new(calibr8_tensorrt::TensorRtBackend::default()),
            #[cfg(feature = "burn")]
            BackendKind::Burn => Box::new(calibr8_burn::BurnBackend::default()),
            // ONNX Runtime on the CPU, default threads (`calibr8::ort::OrtBackend` for the others).
            #[cfg(feature = "ort")]
            BackendKind::Ort => Box::new(calibr8_ort::OrtBackend::default()),
            #[cfg(not(feature = "tract"))]
            BackendKind::Tract | BackendKind::TractInt8 => return Err(self.not_compiled()),
            #[cfg(not(feature = "tensorrt"))]
            BackendKind::TensorRt => return Err(self.not_compiled()),
            #[cfg(not(feature = "burn"))]
            BackendKind::Burn => return Err(self.not_compiled()),
            #[cfg(not(feature = "ort"))]
            BackendKind::Ort => return Err(self.not_compiled()),
        };
        backend.check()?;
        Ok(backend)
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = Error;

    /// Case-insensitive; surrounding whitespace is ignored.
    fn from_str(s: &str) -> Result<Self> {
        let name = s.trim();
        BackendKind::ALL.iter().copied().find(|k| k.name().eq_ignore_ascii_case(name)).ok_or_else(
            || Error::UnknownBackend {
                name: name.into(),
                known: BackendKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &kind in BackendKind::ALL {
            assert_eq!(kind.name().parse::<BackendKind>().expect("parses"), kind);
            assert_eq!(
                kind.to_string().to_uppercase().parse::<BackendKind>().expect("any case"),
                kind
            );
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = "onnxruntime".parse::<BackendKind>().expect_err("unknown");
        assert!(matches!(e, Error::UnknownBackend { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("'onnxruntime'")
                && text.contains("tract, tract-int8, tensorrt, burn, ort"),
            "{text}"
        );
    }

    #[test]
    fn a_backend_not_compiled_in_names_its_feature() {
        // Which backends are compiled in depends on this build's features.
        for &kind in BackendKind::ALL.iter().filter(|k| !k.is_compiled()) {
            let e = kind.backend().err().expect("not compiled");
            let text = e.to_string();
            assert!(matches!(e, Error::BackendNotCompiled { .. }), "{e:?}");
            assert!(
                text.contains(&format!("rebuild with `--features {}`", kind.feature())),
                "{text}"
            );
            assert!(!text.contains("invalid quantization config"), "{text}");
        }
    }
}
