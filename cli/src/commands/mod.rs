//! One module per subcommand.

pub mod bench;
pub mod calibrate;
pub mod compare;
pub mod completions;
mod inspect;
pub mod merge;
pub(crate) mod quantize;

use crate::args::{Cli, Command};
use std::process::ExitCode;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let out = crate::output::Output { format: cli.format, quiet: cli.quiet };
    match cli.command {
        Command::Quantize(args) => quantize::run(args, out),
        Command::Inspect(args) => inspect::run(args, out),
        Command::Calibrate(args) => calibrate::run(args, out),
        Command::Merge(args) => merge::run(args, out),
        Command::Compare(args) => compare::run(args, out),
        Command::Bench(args) => bench::run(args, out),
        Command::Completions(args) => completions::run(args),
    }
}
