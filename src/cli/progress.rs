//! The progress bar of `anonymize run`: a [`RunObserver`] drawing on stderr (only when stderr
//! is a terminal and `--quiet` is not given).

use anonymize::runner::RunObserver;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;

/// Draws the output pass's progress.
#[derive(Default)]
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
}

impl RunObserver for Bar {
    fn output_started(&self, rows: Option<u64>) {
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

    fn output_finished(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}
