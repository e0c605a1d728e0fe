//! Progress bars on stderr with an ETA, for every stage that can take more than a second.
//! Hidden with `--quiet` and when stderr is not a terminal (indicatif's own check), so logs and
//! pipes stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

const BAR: &str = "{prefix} [{bar:30}] {pos}/{len} {msg} {elapsed_precise} ETA {eta}";
const SPINNER: &str = "{prefix} {spinner} {msg} {elapsed_precise}";

/// One stage's bar: a bar with ETA when the step count is known, else a spinner.
pub struct Stage {
    bar: ProgressBar,
}

impl Stage {
    /// A stage of `total` steps (a spinner when `None`) titled `title`.
    pub fn new(quiet: bool, title: &str, total: Option<usize>) -> Stage {
        // No bar is drawn off a terminal: a line per stage keeps CI logs readable.
        if !quiet && !std::io::stderr().is_terminal() {
            eprintln!("{title}");
        }
        let target =
            if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n as u64), target).with_style(
                ProgressStyle::with_template(BAR)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            ),
            None => ProgressBar::with_draw_target(None, target).with_style(
                ProgressStyle::with_template(SPINNER)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(title.to_string());
        if total.is_none() {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Stage { bar }
    }

    /// `done` steps complete; `item` is shown beside the bar.
    pub fn step(&self, done: usize, item: &str) {
        self.bar.set_position(done as u64);
        self.bar.set_message(item.to_string());
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Follows a sequence of stages: each new stage replaces the previous bar.
pub struct Stages {
    quiet: bool,
    current: Option<Stage>,
}

impl Stages {
    /// No stage yet.
    pub fn new(quiet: bool) -> Stages {
        Stages { quiet, current: None }
    }

    /// Ends the current stage and starts `title`.
    pub fn start(&mut self, title: &str, total: Option<usize>) {
        if let Some(s) = self.current.take() {
            s.finish();
        }

        self.current = Some(Stage::new(self.quiet, title, total));
    }

    /// A step of the current stage.
    pub fn step(&self, done: usize, item: &str) {
        if let Some(s) = &self.current {
            s.step(done, item);
        }
    }

    /// Ends the current stage.
    pub fn finish(&mut self) {
        if let Some(s) = self.current.take() {
            s.finish();
        }
    }
}
