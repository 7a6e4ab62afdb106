//! Progress: an indicatif bar on a terminal, plain log lines otherwise (CI).

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    /// Whether to draw bars at all (stderr is a terminal).
    draw: bool,
    /// The bar of the step under way, if any.
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    pub fn new(draw: bool, quiet: bool) -> Self {
        Self { draw, bar: None, quiet }
    }

    /// Starts a step of `total` units; `message` is logged when there is no bar.
    pub fn start(&mut self, total: u64, message: &str) {
        if !self.draw {
            self.log(message);
            return;
        }
        let bar = ProgressBar::new(total).with_message(crate::escape::terminal(message).into_owned());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:<36} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        self.bar = Some(bar);
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// A line for the user on stderr (above the bar when there is one);
    /// nothing with `--quiet`.
    pub fn log(&self, message: &str) {
        if !self.quiet {
            self.warn(message);
        }
    }

    /// A warning, an error or the run's summary line: on stderr even with
    /// `--quiet`, which is there to hide progress, not what went wrong.
    pub fn warn(&self, message: &str) {
        // Messages carry names and text from content and facts: escaped,
        // so that none can drive the terminal.
        let message = crate::escape::terminal(message);
        match &self.bar {
            Some(bar) => bar.println(format!("posture: {message}")),
            None => eprintln!("posture: {message}"),
        }
    }
}
