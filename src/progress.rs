//! Progress bars on stderr (indicatif), only for people at a terminal.
//!
//! Shown when stderr is a terminal, `--quiet` is off and `CI` is unset; never on stdout.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A download progress bar, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
}

/// Whether progress bars may be drawn.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::env::var_os("CI").is_none() && std::io::stderr().is_terminal()
}

impl Progress {
    /// A bar for a download of `len` bytes (unknown: a spinner), labelled with `label`.
    pub fn new(enabled: bool, len: Option<u64>, label: &str) -> Progress {
        if !enabled {
            return Progress { bar: None };
        }
        let bar = match len {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = if len.is_some() {
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
        } else {
            "{msg} {spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(crate::term::sanitize(label));
        Progress { bar: Some(bar) }
    }

    /// Set the byte count.
    pub fn set(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
