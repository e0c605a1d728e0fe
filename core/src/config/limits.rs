//! Size and nesting limits for config files, checked on the raw text before any parser runs:
//! a 100 000-level YAML otherwise takes the YAML parser half a minute (quadratic) before it
//! reports anything. A real calibr8 config is a few hundred bytes, four levels deep.

/// The largest config file calibr8 reads.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The deepest nesting calibr8 reads (its own configs need 4).
pub const MAX_CONFIG_DEPTH: usize = 32;

/// Checks the file size (before reading it).
pub fn check_size(len: u64) -> Result<(), String> {
    if len > MAX_CONFIG_BYTES {
        return Err(format!(
            "is {len} bytes; a calibr8 config is a few hundred bytes and calibr8 reads at most \
             {MAX_CONFIG_BYTES}. Is this the right file?"
        ));
    }
    Ok(())
}

/// Estimates the nesting depth of JSON or YAML text in one linear pass: open brackets (flow
/// style), plus per line the indentation and the chain of `- ` sequence markers (block style).
/// Over [`MAX_CONFIG_DEPTH`] is an error naming the line.
pub fn check_depth(text: &str) -> Result<(), String> {
    let mut flow: usize = 0;
    for (ix, line) in text.lines().enumerate() {
        let trimmed = line.trim_start_matches([' ', '\t']);
        let indent = line.len() - trimmed.len();
        // `- - - x` nests one level per marker.
        let mut rest = trimmed;
        let mut dashes = 0;
        while let Some(r) =
            rest.strip_prefix('-').filter(|r| r.is_empty() || r.starts_with([' ', '\t']))
        {
            dashes += 1;
            rest = r.trim_start_matches([' ', '\t']);
        }
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut prev = ' ';
        for c in rest.chars() {
            match quote {
                Some(q) => {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' && q == '"' {
                        escaped = true;
                    } else if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    '"' | '\'' => quote = Some(c),
                    '#' if prev == ' ' || prev == '\t' => break,
                    '[' | '{' => flow += 1,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
            let depth = flow + dashes + indent / 2;
            if depth > MAX_CONFIG_DEPTH {
                return Err(too_deep(ix));
            }
        }
        if dashes + indent / 2 + flow > MAX_CONFIG_DEPTH {
            return Err(too_deep(ix));
        }
        // A quoted JSON string cannot span lines; a YAML one rarely does in a config.
    }
    Ok(())
}

fn too_deep(line: usize) -> String {
    format!(
        "nests deeper than {MAX_CONFIG_DEPTH} levels (line {}); a calibr8 config needs 4. Is \
         this the right file?",
        line + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_configs_pass() {
        check_depth("method: percentile\nconfig_list:\n  - op_types: [Conv, Gemm]\n    target_names: [_input_, weight]\n").unwrap();
        check_depth(r#"{"config_list": [{"op_types": ["Conv"], "x": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]}"#).unwrap();
    }

    #[test]
    fn deep_nesting_is_refused_in_linear_time() {
        let started = std::time::Instant::now();
        for deep in [
            "[".repeat(100_000),
            "{\"a\":".repeat(100_000),
            format!("{}x\n", "- ".repeat(100_000)),
            (0..40).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect::<String>(),
        ] {
            assert!(check_depth(&deep).unwrap_err().contains("nests deeper"));
        }
        assert!(started.elapsed().as_millis() < 500);
        assert!(check_size(MAX_CONFIG_BYTES + 1).unwrap_err().contains("at most"));
    }
}
