//! Progress bars on stderr for compaction, loads and long scans: the
//! engine's [`Progress`] trait over indicatif, and [`scan_bar`] over a
//! session's scan counters. Hidden when stderr is not a terminal, so logs
//! and pipes get no control characters.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use thermocline::table::scan_progress::ScanProgress;
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

const SCAN_TEMPLATE: &str =
    "{msg:>24} [{bar:40.cyan/blue}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})";

/// How long a statement runs before its scan progress is drawn.
const SCAN_BAR_AFTER: Duration = Duration::from_secs(1);

/// Draw the cold-tier reads of a running statement (files and bytes of the
/// planned Parquet files), once it has run a second and has files to read;
/// runs until aborted, clearing its bar then.
pub async fn scan_bar(progress: Arc<ScanProgress>) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    tokio::time::sleep(SCAN_BAR_AFTER).await;
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(SCAN_TEMPLATE) {
        bar.set_style(style.progress_chars("=> "));
    }
    // Cleared when the task is aborted (the statement ended).
    struct Clear(ProgressBar);
    impl Drop for Clear {
        fn drop(&mut self) {
            self.0.finish_and_clear();
        }
    }
    let bar = Clear(bar);
    loop {
        let counts = progress.counts();
        if counts.files_planned > 0 {
            bar.0.set_length(counts.bytes_planned.max(counts.bytes_read));
            bar.0.set_position(counts.bytes_read);
            bar.0.set_message(format!(
                "scan: {}/{} files",
                counts.files_read.min(counts.files_planned),
                counts.files_planned
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
