//! Calibration methods: [`Method`] (with its parameter inside) and [`MethodKind`] (the list of
//! methods, defined once; every name, the CLI's choices and `Method::all_default` come from it).
//!
//! Adding a method is one variant here plus one line in the `method_kinds!` list: every `match`
//! on [`Method`] or [`MethodKind`] in the workspace is exhaustive, so the compiler points at each
//! place that must say what the new method does (parsing, validation, observers, histograms).

use crate::internal::*;

/// Default EMA decay (NNI's QAT quantizer).
pub const DEFAULT_EMA_DECAY: f64 = 0.99;
/// Default percentile (ModelOpt / pytorch-quantization).
pub const DEFAULT_PERCENTILE: f64 = 99.99;

/// How a tensor's range is derived from calibration data.
///
/// One spelling per value, used by [`Display`](std::fmt::Display), [`FromStr`] and serde:
/// `minmax`, `ema` (decay 0.99), `ema:0.9`, `percentile` (99.99), `percentile:99.9`, `entropy`,
/// `mse`. Deserialization also accepts a one-key map with the parameter as value
/// (`{percentile: 99.9}`, `{ema: 0.9}`, `{percentile: null}` for the default), and the aliases
/// of [`MethodKind::from_name`]. Serialization always writes the string form.
///
/// ```
/// use calibr8_calibration::Method;
/// let m: Method = "percentile:99.9".parse()?;
/// assert_eq!(m, Method::Percentile { percentile: 99.9 });
/// assert_eq!("ema".parse::<Method>()?, Method::EmaMinMax { decay: 0.99 });
/// assert_eq!(Method::Entropy.to_string(), "entropy");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// amax = max|x| over all batches ([`crate::observers::minmax`]).
    MinMax,
    /// Exponential moving average of per-batch min and max, as NNI's QAT quantizer
    /// ([`crate::observers::ema_minmax`]).
    EmaMinMax {
        /// Weight of the running value (default 0.99), in (0, 1).
        decay: f64,
    },
    /// Left edge of the first histogram bin whose CDF reaches `percentile`/100
    /// ([`crate::observers::percentile`]).
    Percentile {
        /// In (0, 100], default 99.99.
        percentile: f64,
    },
    /// TensorRT EntropyCalibration2: minimise KL divergence ([`crate::observers::entropy`]).
    Entropy,
    /// Minimise the histogram-weighted quantization MSE ([`crate::observers::mse`]).
    Mse,
    /// Per tensor, the candidate (minmax, percentile 99.9 / 99.99 / 99.999, entropy, MSE, EMA)
    /// whose range causes the least error in the output of the nodes reading the tensor. The
    /// choice needs the model, so calibr8-core makes it (`calibr8_core::auto`); an observer
    /// keeps every candidate's statistics and cannot finish as `auto` on its own.
    Auto,
}

/// Declares [`MethodKind`] with its names, so the list of methods, their names and their
/// aliases exist once.
macro_rules! method_kinds {
    ($( $(#[$doc:meta])* $kind:ident = $name:literal $(| $alias:literal)* ;)*) => {
        /// A calibration method without its parameter: the list of methods calibr8 has.
        ///
        /// ```
        /// use calibr8_calibration::{Method, MethodKind};
        /// assert_eq!(MethodKind::NAMES, ["minmax", "ema", "percentile", "entropy", "mse", "auto"]);
        /// assert_eq!(MethodKind::Ema.default_method(), Method::EmaMinMax { decay: 0.99 });
        /// assert_eq!(Method::Percentile { percentile: 99.9 }.kind(), MethodKind::Percentile);
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MethodKind {
            $( $(#[$doc])* $kind, )*
        }

        impl MethodKind {
            /// Every method, in a stable order (the order of [`Method::all_default`], of
            /// `calibr8 compare --method all` and of the CLI's help).
            pub const ALL: &'static [MethodKind] = &[$(MethodKind::$kind),*];
            /// The canonical names, in the order of [`MethodKind::ALL`].
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// The canonical name (`minmax`, `ema`, `percentile`, `entropy`, `mse`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(MethodKind::$kind => $name,)*
                }
            }

            /// Other accepted spellings of the name.
            pub const fn aliases(self) -> &'static [&'static str] {
                match self {
                    $(MethodKind::$kind => &[$($alias),*],)*
                }
            }
        }
    };
}

method_kinds! {
    /// [`Method::MinMax`].
    MinMax = "minmax" | "min_max" | "max";
    /// [`Method::EmaMinMax`].
    Ema = "ema" | "ema_minmax" | "ema_min_max";
    /// [`Method::Percentile`].
    Percentile = "percentile";
    /// [`Method::Entropy`].
    Entropy = "entropy";
    /// [`Method::Mse`].
    Mse = "mse";
    /// [`Method::Auto`].
    Auto = "auto";
}

/// The parameter a method takes: its name (as the error messages and `ObserverConfig` options
/// call it) and default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MethodParameter {
    /// `decay` or `percentile`.
    pub name: &'static str,
    /// The value the bare method name stands for.
    pub default: f64,
}

impl MethodKind {
    /// The kind called `name` (case-insensitive, canonical name or alias).
    pub fn from_name(name: &str) -> Option<MethodKind> {
        let name = name.trim();
        MethodKind::ALL.iter().copied().find(|k| {
            k.name().eq_ignore_ascii_case(name)
                || k.aliases().iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }

    /// One line saying what the method does (the CLI's help).
    pub const fn summary(self) -> &'static str {
        match self {
            MethodKind::MinMax => "max |x| (min/max for affine)",
            MethodKind::Ema => "NNI's moving-average min/max (ema:<decay>, default 0.99)",
            MethodKind::Percentile => {
                "percentile of the |x| histogram (percentile:<p>, default 99.99)"
            }
            MethodKind::Entropy => "TensorRT's EntropyCalibration2 (KL divergence)",
            MethodKind::Mse => "minimum mean-squared quantization error",
            MethodKind::Auto => {
                "per tensor, the candidate with the least error in the output of its consumers"
            }
        }
    }

    /// The parameter this method takes, if any.
    pub const fn parameter(self) -> Option<MethodParameter> {
        match self {
            MethodKind::MinMax | MethodKind::Entropy | MethodKind::Mse | MethodKind::Auto => None,
            MethodKind::Ema => Some(MethodParameter { name: "decay", default: DEFAULT_EMA_DECAY }),
            MethodKind::Percentile => {
                Some(MethodParameter { name: "percentile", default: DEFAULT_PERCENTILE })
            }
        }
    }

    /// The method with its default parameter.
    pub fn default_method(self) -> Method {
        match self {
            MethodKind::MinMax => Method::MinMax,
            MethodKind::Ema => Method::EmaMinMax { decay: DEFAULT_EMA_DECAY },
            MethodKind::Percentile => Method::Percentile { percentile: DEFAULT_PERCENTILE },
            MethodKind::Entropy => Method::Entropy,
            MethodKind::Mse => Method::Mse,
            MethodKind::Auto => Method::Auto,
        }
    }

    /// The method with `parameter` (its default if `None`), validated. A parameter for a
    /// method that takes none is an error.
    pub fn with_parameter(self, parameter: Option<f64>) -> Result<Method, String> {
        let method = match (self, parameter) {
            (_, None) => return Ok(self.default_method()),
            (MethodKind::Ema, Some(decay)) => Method::EmaMinMax { decay },
            (MethodKind::Percentile, Some(percentile)) => Method::Percentile { percentile },
            (
                MethodKind::MinMax | MethodKind::Entropy | MethodKind::Mse | MethodKind::Auto,
                Some(_),
            ) => {
                let name = self.name();
                return Err(format!("method `{name}` takes no parameter; write `{name}`"));
            }
        };
        method.validate().map_err(|e| e.to_string())?;
        Ok(method)
    }

    /// One line per method for help texts: `name[:<parameter>]`.
    pub fn usage() -> String {
        MethodKind::ALL
            .iter()
            .map(|k| match k.parameter() {
                Some(p) => format!("{0}, {0}:<{1}>", k.name(), p.name),
                None => k.name().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A method parameter outside its accepted range.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("method `{kind}`: {parameter} = {value} is outside {accepted}")]
pub struct InvalidParameter {
    /// The method.
    pub kind: MethodKind,
    /// The parameter (`decay`, `percentile`).
    pub parameter: &'static str,
    /// The rejected value.
    pub value: f64,
    /// The accepted range, and the usual choice.
    pub accepted: &'static str,
}

impl InvalidParameter {
    /// As an [`Error::InvalidConfig`] of the observer of `tensor`.
    pub fn for_tensor(self, tensor: &str) -> Error {
        Error::InvalidConfig {
            tensor: tensor.to_string(),
            option: self.parameter,
            value: self.value.to_string(),
            remedy: format!("method `{}` accepts {}", self.kind, self.accepted),
        }
    }
}

impl Method {
    /// Every observer method with its default parameters, in the order of [`MethodKind::ALL`]:
    /// all but [`Method::Auto`], which chooses among them.
    pub fn all_default() -> Vec<Method> {
        MethodKind::ALL
            .iter()
            .filter(|k| **k != MethodKind::Auto)
            .map(|k| k.default_method())
            .collect()
    }

    /// The method without its parameter.
    pub const fn kind(&self) -> MethodKind {
        match self {
            Method::MinMax => MethodKind::MinMax,
            Method::EmaMinMax { .. } => MethodKind::Ema,
            Method::Percentile { .. } => MethodKind::Percentile,
            Method::Entropy => MethodKind::Entropy,
            Method::Mse => MethodKind::Mse,
            Method::Auto => MethodKind::Auto,
        }
    }

    /// The method's parameter value, if it takes one.
    pub const fn parameter(&self) -> Option<f64> {
        match *self {
            Method::MinMax | Method::Entropy | Method::Mse | Method::Auto => None,
            Method::EmaMinMax { decay } => Some(decay),
            Method::Percentile { percentile } => Some(percentile),
        }
    }

    /// Whether the range is computed from the |x| histogram.
    pub const fn uses_histogram(&self) -> bool {
        match self {
            Method::MinMax | Method::EmaMinMax { .. } => false,
            // Auto's candidates include the histogram methods.
            Method::Percentile { .. } | Method::Entropy | Method::Mse | Method::Auto => true,
        }
    }

    /// Whether the range depends on the order of the batches, so shards cannot be merged.
    pub const fn depends_on_batch_order(&self) -> bool {
        match self {
            // Auto may choose EMA.
            Method::EmaMinMax { .. } | Method::Auto => true,
            // Histogram methods: the streaming grid depends on the first batch, but merging is
            // decided by the grids themselves (see `TensorObserver::merge`).
            Method::MinMax | Method::Percentile { .. } | Method::Entropy | Method::Mse => false,
        }
    }

    /// Checks the method's parameter.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        let invalid = |value: f64, accepted: &'static str| {
            let parameter = self.kind().parameter().map_or("parameter", |p| p.name);
            Err(InvalidParameter { kind: self.kind(), parameter, value, accepted })
        };
        match *self {
            Method::MinMax | Method::Entropy | Method::Mse | Method::Auto => Ok(()),
            Method::EmaMinMax { decay } if !(decay > 0.0 && decay < 1.0) => {
                invalid(decay, "the open interval (0, 1); NNI uses 0.99")
            }
            Method::Percentile { percentile } if !(percentile > 0.0 && percentile <= 100.0) => {
                invalid(percentile, "(0, 100]; 99.99 is the usual choice")
            }
            Method::EmaMinMax { .. } | Method::Percentile { .. } => Ok(()),
        }
    }
}

impl fmt::Display for Method {
    /// The canonical spelling: the bare name when the parameter is the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.kind().name();
        match (self.parameter(), self.kind().parameter()) {
            (Some(value), Some(p)) if value != p.default => write!(f, "{name}:{value}"),
            _ => f.write_str(name),
        }
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s.trim(), None),
        };
        let kind = MethodKind::from_name(name).ok_or_else(|| {
            format!("unknown calibration method `{s}`; expected one of {}", MethodKind::usage())
        })?;
        let parameter = match arg {
            None => None,
            Some(a) => Some(a.parse::<f64>().map_err(|_| {
                let default = kind.parameter().map_or(String::new(), |p| format!(":{}", p.default));
                format!("`{s}`: `{a}` is not a number; write e.g. `{}{default}`", kind.name())
            })?),
        };
        kind.with_parameter(parameter).map_err(|e| format!("`{s}`: {e}"))
    }
}

impl Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MethodVisitor)
    }
}

/// Accepts `"percentile"`, `"percentile:99.9"` and `{percentile: 99.9}`.
struct MethodVisitor;

impl<'de> serde::de::Visitor<'de> for MethodVisitor {
    type Value = Method;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a calibration method: a name or `name:<parameter>` ({}), or a one-key map such as \
             {{percentile: 99.9}}",
            MethodKind::usage()
        )
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Method, E> {
        s.parse().map_err(E::custom)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Method, A::Error> {
        use serde::de::Error as _;
        let Some(name) = map.next_key::<String>()? else {
            return Err(A::Error::custom(format!(
                "empty method map; write e.g. `percentile` or {{percentile: 99.9}} (methods: {})",
                MethodKind::usage()
            )));
        };
        let kind = MethodKind::from_name(&name).ok_or_else(|| {
            A::Error::custom(format!(
                "unknown calibration method `{name}`; expected one of {}",
                MethodKind::usage()
            ))
        })?;
        let parameter: Option<f64> = map.next_value()?;
        if let Some(other) = map.next_key::<String>()? {
            return Err(A::Error::custom(format!(
                "method map has a second key `{other}` after `{name}`; give exactly one method, \
                 e.g. {{percentile: 99.9}}"
            )));
        }
        kind.with_parameter(parameter).map_err(A::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for m in Method::all_default()
            .into_iter()
            .chain([Method::EmaMinMax { decay: 0.9 }, Method::Percentile { percentile: 99.9 }])
            .chain([Method::Auto])
        {
            assert_eq!(m.to_string().parse::<Method>(), Ok(m));
        }
        assert!("percentile:101".parse::<Method>().is_err());
        assert!("ema:1".parse::<Method>().is_err());
        assert!("entropy:3".parse::<Method>().is_err());
        assert!("kl".parse::<Method>().is_err());
    }

    #[test]
    fn every_kind_is_listed_once_with_a_unique_name() {
        assert_eq!(MethodKind::ALL.len(), MethodKind::NAMES.len());
        for (k, name) in MethodKind::ALL.iter().zip(MethodKind::NAMES) {
            assert_eq!(k.name(), *name);
            assert_eq!(MethodKind::from_name(name), Some(*k));
            assert_eq!(k.default_method().kind(), *k);
            assert_eq!(k.default_method().to_string(), *name);
            for alias in k.aliases() {
                assert_eq!(MethodKind::from_name(alias), Some(*k));
            }
        }
        let mut all: Vec<&str> = MethodKind::ALL
            .iter()
            .flat_map(|k| std::iter::once(k.name()).chain(k.aliases().iter().copied()))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a name or alias is used twice");
    }

    #[test]
    fn parse_errors_name_the_spelling_and_the_remedy() {
        let e = "percentile:abc".parse::<Method>().unwrap_err();
        assert!(e.contains("`abc` is not a number") && e.contains("percentile:99.99"), "{e}");
        let e = "mse:3".parse::<Method>().unwrap_err();
        assert!(e.contains("takes no parameter; write `mse`"), "{e}");
        let e = "percentile:150".parse::<Method>().unwrap_err();
        assert!(e.contains("150") && e.contains("(0, 100]"), "{e}");
        let e = "kl".parse::<Method>().unwrap_err();
        assert!(e.contains("percentile:<percentile>") && e.contains("ema:<decay>"), "{e}");
    }
}
