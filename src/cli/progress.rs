//! What `anonymize run` shows while it runs: a [`RunObserver`] printing warnings on stderr and
//! drawing a progress bar there (only when stderr is a terminal and `--quiet` is not given).

use anonymize::runner::RunObserver;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;

/// Prints warnings and draws the output pass's progress.
pub struct Observer {
    draw: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Observer {
    /// `draw`: whether to draw a progress bar (warnings are always printed).
    pub fn new(draw: bool) -> Self {
        Self { draw, bar: Mutex::new(None) }
    }
}

impl RunObserver for Observer {
    fn warning(&self, message: &str) {
        // Above the bar, which redraws itself.
        match self.bar.lock().ok().as_deref().and_then(Option::as_ref) {
            Some(bar) => bar.suspend(|| eprintln!("warning: {message}")),
            None => eprintln!("warning: {message}"),
        }
    }

    fn output_started(&self, rows: Option<u64>) {
        if !self.draw {
            return;
        }
        let bar = match rows {
            Some(rows) => ProgressBar::new(rows).with_style(
                ProgressStyle::with_template("{spinner} {human_pos}/{human_len} rows {wide_bar} {percent}% eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {human_pos} rows read in {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn rows_done(&self, rows: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(rows);
        }
    }

    fn evaluation_started(&self) {
        if self.draw {
            eprintln!("evaluating utility: anonymizing a train part, training and scoring the models…");
        }
    }

    fn output_finished(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}
