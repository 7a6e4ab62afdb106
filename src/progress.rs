//! Progress: an indicatif bar on a terminal, plain log lines otherwise (CI).

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    pub fn new(bar: bool, quiet: bool) -> Self {
        Self { bar: bar.then(ProgressBar::hidden), quiet }
    }

    /// Starts a step of `total` units; `message` is logged when there is no bar.
    pub fn start(&mut self, total: u64, message: &str) {
        match &mut self.bar {
            Some(_) => {
                let bar = ProgressBar::new(total).with_message(message.to_owned());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                self.bar = Some(bar);
            }
            None => self.log(message),
        }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// A line for the user on stderr (above the bar when there is one).
    pub fn log(&self, message: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(format!("posture: {message}")),
            None => eprintln!("posture: {message}"),
        }
    }
}
