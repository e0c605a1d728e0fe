//! Where things go: results on stdout (a table, or one JSON document with `--format json`),
//! logs, warnings and progress on stderr (silenced by `--quiet`, errors aside). So `| tee`,
//! `> report.txt` and scripts see the result and nothing else.

use clap::ValueEnum;
use serde::Serialize;
use std::io::Write;

/// How results are printed on stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for people.
    #[default]
    Text,
    /// One JSON document (schemas in docs/cli-json.md).
    Json,
}

/// The output settings every subcommand gets.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    /// stdout format.
    pub format: Format,
    /// No logs, warnings or progress on stderr.
    pub quiet: bool,
}

impl Output {
    /// A log line on stderr, unless `--quiet`.
    pub fn log(&self, line: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// Several lines on stderr, unless `--quiet`.
    pub fn log_block(&self, text: &str) {
        if !self.quiet {
            eprint!("{text}");
        }
    }

    /// The result: `text()` as is, or `json` as one pretty JSON document, on stdout.
    pub fn result<T: Serialize>(
        &self,
        text: impl FnOnce() -> String,
        json: &T,
    ) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        match self.format {
            Format::Text => out.write_all(text().as_bytes())?,
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, json)?;
                out.write_all(b"\n")?;
            }
        }
        out.flush()?;
        Ok(())
    }
}
