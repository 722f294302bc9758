//! Progress bars on stderr for compaction and loads: the engine's
//! [`Progress`] trait over indicatif. Hidden when stderr is not a terminal,
//! so logs and pipes get no control characters.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use thermocline::write::Progress;

const TEMPLATE: &str = "{msg:>24} [{bar:40.cyan/blue}] {human_pos}/{human_len} rows ({per_sec}, {eta})";

/// A new bar of `total` rows labelled `message`.
pub fn bar(message: &str, total: u64) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target).with_message(message.to_string());
    // The template is a constant; a bad one would only lose the styling.
    if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// One bar per unit of work the engine announces with `begin` (one per
/// table for a compaction of several tables).
#[derive(Default)]
pub struct BarProgress {
    current: Mutex<Option<ProgressBar>>,
}

impl BarProgress {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_bar(&self, f: impl FnOnce(&mut Option<ProgressBar>)) {
        // A panic elsewhere while holding the lock only affects the display.
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard);
    }
}

impl Progress for BarProgress {
    fn begin(&self, what: &str, total: u64) {
        self.with_bar(|current| {
            if let Some(old) = current.take() {
                old.finish_and_clear();
            }
            *current = Some(bar(what, total));
        });
    }

    fn advance(&self, done: u64) {
        self.with_bar(|current| {
            if let Some(bar) = current {
                bar.inc(done);
            }
        });
    }

    fn finish(&self) {
        self.with_bar(|current| {
            if let Some(bar) = current.take() {
                bar.finish_and_clear();
            }
        });
    }
}

impl Drop for BarProgress {
    fn drop(&mut self) {
        self.finish();
    }
}
