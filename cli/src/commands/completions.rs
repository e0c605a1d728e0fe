//! `calibr8 completions SHELL`: the completion script clap_complete generates from the same
//! clap definitions as `--help`, so it never falls behind the flags.

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::process::ExitCode;

/// `calibr8 completions`.
#[derive(Debug, Args)]
#[command(after_help = "Install, e.g.:\n  \
    bash: calibr8 completions bash > ~/.local/share/bash-completion/completions/calibr8\n  \
    zsh:  calibr8 completions zsh > \"${fpath[1]}/_calibr8\"\n  \
    fish: calibr8 completions fish > ~/.config/fish/completions/calibr8.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = crate::args::Cli::command();
    clap_complete::generate(args.shell, &mut command, "calibr8", &mut std::io::stdout().lock());
    Ok(ExitCode::SUCCESS)
}
