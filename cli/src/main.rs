//! The `calibr8` command line: parse (clap), validate into a `QuantConfig`, run, report.
//! Exit codes: 0 ok, 1 accuracy gate not met, 2 error (bad arguments included), 130 interrupted.

mod args;
mod batch;
mod commands;
mod cpu;
mod nni_summary;
mod output;
mod parse;
mod progress;
mod rules;
mod summary;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    init_tracing(cli.verbose);
    calibr8::core::validate::set_default_max_memory(cli.max_memory);
    // SIGINT / SIGTERM / SIGHUP: remove what this run created (a half-written output set), so
    // `--out` keeps its old complete set, then exit.
    let _ = ctrlc::set_handler(|| {
        calibr8::export::interrupt();
        eprintln!("calibr8 interrupted; the output folder was left as it was");
        std::process::exit(130);
    });
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`calibr8 inspect m.onnx | head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("calibr8 failed");
            let mut previous = String::new();
            for cause in e.chain() {
                let text = cause.to_string();
                // An error that embeds its source ("reading x: No such file") is followed in
                // the chain by that source: print it once.
                if !previous.ends_with(&text) {
                    eprintln!("  Cause: {text}");
                }
                previous = text;
            }
            let interrupted = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<calibr8::Error>(),
                    Some(calibr8::Error::Interrupted { .. })
                )
            });
            ExitCode::from(if interrupted { 130 } else { 2 })
        }
    }
}

/// clap's own errors in calibr8's shape (`calibr8 failed` + `Cause:`), exit 2; help and
/// version still print normally.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let text = text.trim_start_matches("error: ");
    eprintln!("calibr8 failed");
    let mut lines = text.lines();
    if let Some(first) = lines.next() {
        eprintln!("  Cause: {first}");
    }
    for line in lines {
        eprintln!("  {line}");
    }
    ExitCode::from(2)
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
