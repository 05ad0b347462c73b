//! Interruption by the operating system (SIGINT from a terminal, SIGTERM from a scheduler's
//! timeout): the run stops at the next safe point, removes its temporary files, releases its
//! budget reservation and records FAIL, instead of dying wherever the signal found it.
//!
//! The command line installs the handlers ([`install`]); library code polls [`check`] between
//! batches and search layers and before the point of no return (the budget commit). A second
//! signal ends the process at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The run was interrupted by a signal.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("interrupted by {}; nothing was written", signal_name(*signal))]
pub struct Interrupted {
    pub signal: i32,
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Routes SIGINT, SIGTERM and SIGHUP to [`check`]; a second one ends the process (exit 1).
///
/// # Errors
/// The handlers could not be installed.
pub fn install() -> std::io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let flag = Arc::new(AtomicBool::new(false));
        // Registered before the flag is set: on the second signal, `flag` is already true.
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&flag))?;
        signal_hook::flag::register(signal, Arc::clone(&flag))?;
        // SAFETY: the action only stores to atomics, which is async-signal-safe.
        unsafe {
            signal_hook::low_level::register(signal, move || {
                SIGNAL.store(signal, Ordering::SeqCst);
                REQUESTED.store(true, Ordering::SeqCst);
            })?;
        }
    }
    Ok(())
}

/// Asks every run in this process to stop at its next safe point, as `signal` would: for hosts
/// that receive signals themselves (Python handles SIGINT as `KeyboardInterrupt`).
pub fn request(signal: i32) {
    SIGNAL.store(signal, Ordering::SeqCst);
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forgets a [`request`], once the runs it stopped have ended, so that a host process can run
/// again (the command line never does: it exits).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
    SIGNAL.store(0, Ordering::SeqCst);
}

/// Whether a signal asked the run to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err` once a signal asked the run to stop.
///
/// # Errors
/// [`Interrupted`].
pub fn check() -> Result<(), Interrupted> {
    if requested() { Err(Interrupted { signal: SIGNAL.load(Ordering::SeqCst) }) } else { Ok(()) }
}
