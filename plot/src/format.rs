//! Number formatting for cell and bar labels.

use crate::PlotError;

/// A parsed heat-map `value_format`: `prefix{:.N}suffix` (N decimals) or `prefix{}suffix`
/// (three significant digits, as bar values are printed).
///
/// ```
/// use calibr8_plot::ValueFormat;
/// let f = ValueFormat::parse("{:.2}×")?;
/// assert_eq!(f.format(1.5), "1.50×");
/// assert_eq!(f.format(f64::NAN), "n/a");
/// assert_eq!(ValueFormat::parse("~{:.0} ms")?.format(12.4), "~12 ms");
/// # Ok::<(), calibr8_plot::PlotError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueFormat {
    prefix: String,
    decimals: Option<usize>,
    suffix: String,
}

impl ValueFormat {
    /// Parses `prefix{:.N}suffix` or `prefix{}suffix`; exactly one placeholder.
    pub fn parse(format: &str) -> Result<ValueFormat, PlotError> {
        let bad = |reason: &str| PlotError::BadFormat {
            format: format.to_string(),
            reason: reason.to_string(),
        };
        let open = format.find('{').ok_or_else(|| bad("no {} placeholder"))?;
        let close = format[open..].find('}').map(|i| open + i).ok_or_else(|| bad("unclosed {"))?;
        let (prefix, spec, suffix) =
            (&format[..open], &format[open + 1..close], &format[close + 1..]);
        if suffix.contains('{') || suffix.contains('}') || prefix.contains('}') {
            return Err(bad("more than one placeholder or a stray brace"));
        }
        let decimals = match spec {
            "" => None,
            _ => {
                let digits = spec
                    .strip_prefix(":.")
                    .ok_or_else(|| bad("the placeholder must be {} or {:.N}"))?;
                let n: usize =
                    digits.parse().map_err(|_| bad("N in {:.N} must be a whole number"))?;
                if n > 12 {
                    return Err(bad("at most 12 decimals"));
                }
                Some(n)
            }
        };
        Ok(ValueFormat { prefix: prefix.to_string(), decimals, suffix: suffix.to_string() })
    }

    /// Formats one value; NaN prints `n/a`.
    pub fn format(&self, value: f64) -> String {
        if value.is_nan() {
            return "n/a".to_string();
        }
        let number = match self.decimals {
            Some(n) => format!("{value:.n$}"),
            None => short(value),
        };
        format!("{}{number}{}", self.prefix, self.suffix)
    }
}

/// Three significant digits, no exponent for everyday magnitudes: `0.123`, `12.3`, `1234`.
pub(crate) fn short(value: f64) -> String {
    if value.is_nan() {
        return "n/a".to_string();
    }
    let magnitude = value.abs();
    if magnitude == 0.0 {
        return "0".to_string();
    }
    if !(1e-3..1e6).contains(&magnitude) {
        return format!("{value:.2e}");
    }
    let digits_before = magnitude.log10().floor() as i32 + 1;
    let decimals = (3 - digits_before).max(0) as usize;
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keeps_three_significant_digits() {
        assert_eq!(short(0.12345), "0.123");
        assert_eq!(short(1.0), "1.00");
        assert_eq!(short(12.345), "12.3");
        assert_eq!(short(1234.5), "1234");
        assert_eq!(short(-2.5), "-2.50");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(2.5e-5), "2.50e-5");
    }

    #[test]
    fn parse_rejects_malformed_formats() -> Result<(), PlotError> {
        for bad in ["", "no placeholder", "{:.x}", "{:2}", "{", "{}{}", "{:.99}"] {
            assert!(ValueFormat::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(ValueFormat::parse("{}")?.format(0.5), "0.500");
        Ok(())
    }
}
