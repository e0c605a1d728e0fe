//! Value parsers for numeric options, so that a bad value gets a message saying what the option
//! is and what to give (`--batch 0`, `--batch -1`, `--trt-version 999999.0.0`), and negative
//! numbers reach them instead of being taken for flags.

use calibr8::export::TrtVersion;

/// A batch size: a whole number ≥ 1.
pub fn batch(s: &str) -> Result<usize, String> {
    match s.trim().parse::<i128>() {
        Ok(n) if n >= 1 => usize::try_from(n).map_err(|_| format!("{n} is too large a batch")),
        Ok(n) => Err(format!("a batch holds at least 1 sample, not {n}; e.g. --batch 32")),
        Err(_) => Err(format!("'{s}' is not a batch size; give a whole number ≥ 1, e.g. 32")),
    }
}

/// A count that may be 0 (warm-up runs, layers kept in float).
pub fn count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<i128>() {
        Ok(n) if n >= 0 => usize::try_from(n).map_err(|_| format!("{n} is too large")),
        Ok(n) => Err(format!("{n} is negative; give a whole number ≥ 0")),
        Err(_) => Err(format!("'{s}' is not a whole number ≥ 0")),
    }
}

/// A count ≥ 1 (timed runs).
pub fn positive(s: &str) -> Result<usize, String> {
    match count(s)? {
        0 => Err("0 is not allowed; give a whole number ≥ 1".into()),
        n => Ok(n),
    }
}

/// A TensorRT version for the cache header (see [`TrtVersion`]'s `FromStr`).
pub fn trt_version(s: &str) -> Result<TrtVersion, String> {
    s.parse::<TrtVersion>().map_err(|e| match e {
        calibr8::Error::Config { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// A memory size (`4GiB`, `512MiB`, bytes).
pub fn memory(s: &str) -> Result<u64, String> {
    calibr8::core::validate::parse_bytes(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_the_option_wants() {
        assert_eq!(batch("32"), Ok(32));
        assert!(batch("0").unwrap_err().contains("at least 1 sample"));
        assert!(batch("-1").unwrap_err().contains("at least 1 sample"));
        assert!(batch("x").unwrap_err().contains("not a batch size"));
        assert!(batch("99999999999999999999999999").is_err());
        assert_eq!(count("0"), Ok(0));
        assert!(positive("0").is_err());
        assert!(trt_version("999999.0.0").unwrap_err().contains("7..=99"));
        assert_eq!(memory("1KiB"), Ok(1024));
    }
}
