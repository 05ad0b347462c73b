//! The privacy budget ledger: a JSON file that records, per dataset, the total budget and every
//! run's spending, so that no sequence of runs spends more than the total.
//!
//! Spending is *reserved* before a run reads data and *committed* once its outputs are in place,
//! or released when it fails. Every change happens under an exclusive lock on a sidecar file
//! (`LEDGER.lock`) and rewrites the ledger atomically (temporary file, fsync, rename), so two runs
//! started together cannot both take the last of a budget, and a crash never leaves a torn
//! ledger. The ledger's real path is resolved once (symbolic links and `..`), so every name of
//! one ledger locks and rewrites the same file.
//!
//! A reservation proves that its run is alive by holding an exclusive OS lock on its own file,
//! `LEDGER.runs/HOLDER.lock`, for as long as the run lives; the kernel drops that lock when the
//! process ends however it ends. The next run that finds a reservation whose lock it can take
//! releases it (a killed run), so a killed run loses nothing; process ids and host names, which
//! containers share and reuse, decide nothing. Reserved spending counts as spent until then.
//! A run whose reservation is gone when it commits fails loudly instead of recording nothing.

use crate::io::output::AtomicFile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the ledger refused or failed. Amounts only; never data.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot use the budget ledger `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the budget ledger `{path}` is not a ledger this version can read: {problem}")]
    Malformed { path: PathBuf, problem: String },
    #[error(
        "this run's reservation of dataset `{dataset}` is no longer in the budget ledger `{path}` (another \
         process removed it); its spending cannot be recorded, so nothing is released"
    )]
    ReservationLost { path: PathBuf, dataset: String },
    #[error(
        "dataset `{dataset}` has not enough privacy budget left: this run needs epsilon {asked_epsilon} \
         (delta {asked_delta}), {left_epsilon} (delta {left_delta}) is left of {total_epsilon} (delta {total_delta}); \
         nothing was read or written"
    )]
    Exhausted {
        dataset: String,
        asked_epsilon: f64,
        asked_delta: f64,
        left_epsilon: f64,
        left_delta: f64,
        total_epsilon: f64,
        total_delta: f64,
    },
    #[error(
        "dataset `{dataset}` has a total budget of epsilon {ledger_epsilon} (delta {ledger_delta}) in the ledger, \
         but the job declares epsilon {job_epsilon} (delta {job_delta})"
    )]
    TotalMismatch { dataset: String, ledger_epsilon: f64, ledger_delta: f64, job_epsilon: f64, job_delta: f64 },
}

/// The ledger file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerFile {
    pub version: u32,
    pub datasets: BTreeMap<String, DatasetBudget>,
}

/// One dataset's budget and spending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetBudget {
    pub total_epsilon: f64,
    pub total_delta: f64,
    pub spending: Vec<Spending>,
}

/// Whether spending is held for a running job or final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Reserved,
    Committed,
}

/// One run's spending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spending {
    pub run_id: String,
    pub job: String,
    pub epsilon: f64,
    pub delta: f64,
    pub state: State,
    /// RFC 3339, UTC.
    pub at: String,
    pub pid: u32,
    pub host: String,
    /// A `--seed` run: its noise is reproducible, so its output is not differentially private.
    pub seeded: bool,
    /// The reservation's own lock (`LEDGER.runs/HOLDER.lock`), held by its run while it lives.
    /// Absent in ledgers written before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

impl DatasetBudget {
    /// Spent (committed and reserved) epsilon and delta.
    pub fn spent(&self) -> (f64, f64) {
        self.spending.iter().fold((0.0, 0.0), |(e, d), s| (e + s.epsilon, d + s.delta))
    }

    /// Epsilon and delta left, never below zero.
    pub fn left(&self) -> (f64, f64) {
        let (e, d) = self.spent();
        ((self.total_epsilon - e).max(0.0), (self.total_delta - d).max(0.0))
    }
}

/// What a run asks of the ledger.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub dataset: &'a str,
    pub total_epsilon: f64,
    pub total_delta: f64,
    pub epsilon: f64,
    pub delta: f64,
    pub run_id: &'a str,
    pub job: &'a str,
    pub seeded: bool,
}

/// Spending held for a run; commit it once the outputs are ready and before they become
/// visible. Dropped without a commit (a failed run), it is released.
#[derive(Debug)]
pub struct Reservation {
    /// Epsilon and delta left on the dataset once this spending is counted.
    pub left: (f64, f64),
    /// The ledger's real path.
    path: PathBuf,
    dataset: String,
    holder: String,
    /// Held locked while the run lives: the proof that the reservation is not stale.
    holder_lock: Option<(File, PathBuf)>,
    done: bool,
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into())
}

/// Whether a process of this host is still running (Linux: `/proc/PID`), for reservations
/// written before holder locks existed. Elsewhere every process counts as running.
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

/// The folder of holder locks beside the ledger.
fn holders_folder(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".runs");
    PathBuf::from(name)
}

fn holder_lock_path(path: &Path, holder: &str) -> PathBuf {
    holders_folder(path).join(format!("{holder}.lock"))
}

/// Whether the run holding `holder` is gone: its lock file is missing, or its lock can be taken
/// (the kernel released it when the process ended). A lock taken here is let go at once.
fn holder_gone(path: &Path, holder: &str) -> bool {
    let lock_path = holder_lock_path(path, holder);
    match std::fs::OpenOptions::new().write(true).open(&lock_path) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(file) => match file.try_lock() {
            Ok(()) => {
                let _ = std::fs::remove_file(&lock_path);
                true
            }
            Err(_) => false,
        },
    }
}

/// A fresh holder id: 128 random bits, hex.
fn new_holder() -> Result<String, std::io::Error> {
    use rand::TryRng;
    let mut bytes = [0u8; 16];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(crate::keys::hex(&bytes))
}

fn now() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    chrono::DateTime::from_timestamp(i64::try_from(seconds).unwrap_or(0), 0)
        .map_or_else(String::new, |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Holds the ledger's lock while it lives.
struct Locked {
    _lock: File,
}

fn lock(path: &Path) -> Result<Locked, LedgerError> {
    let io = |source| LedgerError::Io { path: path.to_path_buf(), source };
    crate::files::check_replaceable(path).map_err(io)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io)?;
    file.lock().map_err(io)?;
    Ok(Locked { _lock: file })
}

/// Reads a ledger; a missing file is an empty ledger.
///
/// # Errors
/// [`LedgerError::Io`] or [`LedgerError::Malformed`].
pub fn read(path: &Path) -> Result<LedgerFile, LedgerError> {
    match crate::files::read_bounded(path, LEDGER_LIMIT)
        .and_then(|bytes| String::from_utf8(bytes).map_err(|_| std::io::Error::other("it is not UTF-8 text")))
    {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| LedgerError::Malformed { path: path.to_path_buf(), problem: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LedgerFile { version: 1, datasets: BTreeMap::new() }),
        Err(source) => Err(LedgerError::Io { path: path.to_path_buf(), source }),
    }
}

fn write(path: &Path, ledger: &LedgerFile) -> Result<(), LedgerError> {
    let io = |source| LedgerError::Io { path: path.to_path_buf(), source };
    let (atomic, mut file) = AtomicFile::create(path, true)
        .map_err(|e| LedgerError::Io { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) })?;
    let text = serde_json::to_string_pretty(ledger).map_err(|e| io(std::io::Error::other(e)))?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.write_all(b"\n").map_err(io)?;
    atomic.commit(file).map_err(|e| io(std::io::Error::other(e.to_string())))
}

/// The largest ledger read (about a million runs' records).
const LEDGER_LIMIT: u64 = 256 << 20;

/// Releases reservations whose runs are gone (see the module's documentation). Returns how
/// many.
fn release_stale(path: &Path, ledger: &mut LedgerFile) -> usize {
    let here = host();
    let mut released = 0;
    for budget in ledger.datasets.values_mut() {
        let before = budget.spending.len();
        budget.spending.retain(|s| {
            let stale = s.state == State::Reserved
                && match &s.holder {
                    Some(holder) => holder_gone(path, holder),
                    None => s.host == here && !alive(s.pid),
                };
            !stale
        });
        released += before - budget.spending.len();
    }
    released
}

/// Reserves a run's spending, or refuses before any data is read.
///
/// # Errors
/// [`LedgerError::Exhausted`] when the dataset has too little left, [`LedgerError::TotalMismatch`]
/// when the job's total differs from the ledger's, or an unreadable ledger.
pub fn reserve(path: &Path, request: &Request<'_>) -> Result<Reservation, LedgerError> {
    // One real path for every name of the ledger (a symbolic link, `..`): one lock, one file.
    let path = &crate::files::real_path(path);
    let _locked = lock(path)?;
    let mut ledger = read(path)?;
    release_stale(path, &mut ledger);
    let budget = ledger.datasets.entry(request.dataset.to_string()).or_insert_with(|| DatasetBudget {
        total_epsilon: request.total_epsilon,
        total_delta: request.total_delta,
        spending: Vec::new(),
    });
    if budget.total_epsilon != request.total_epsilon || budget.total_delta != request.total_delta {
        return Err(LedgerError::TotalMismatch {
            dataset: request.dataset.to_string(),
            ledger_epsilon: budget.total_epsilon,
            ledger_delta: budget.total_delta,
            job_epsilon: request.total_epsilon,
            job_delta: request.total_delta,
        });
    }
    let (spent_epsilon, spent_delta) = budget.spent();
    if spent_epsilon + request.epsilon > budget.total_epsilon || spent_delta + request.delta > budget.total_delta {
        let (left_epsilon, left_delta) = budget.left();
        return Err(LedgerError::Exhausted {
            dataset: request.dataset.to_string(),
            asked_epsilon: request.epsilon,
            asked_delta: request.delta,
            left_epsilon,
            left_delta,
            total_epsilon: budget.total_epsilon,
            total_delta: budget.total_delta,
        });
    }
    // The holder's lock is taken before the reservation is recorded, so no other run ever sees
    // this reservation without its proof of life.
    let io = |source| LedgerError::Io { path: path.clone(), source };
    let holder = new_holder().map_err(io)?;
    let lock_path = holder_lock_path(path, &holder);
    std::fs::create_dir_all(holders_folder(path)).map_err(io)?;
    let holder_file = std::fs::OpenOptions::new().write(true).create_new(true).open(&lock_path).map_err(io)?;
    holder_file.lock().map_err(io)?;
    budget.spending.push(Spending {
        run_id: request.run_id.to_string(),
        job: request.job.to_string(),
        epsilon: request.epsilon,
        delta: request.delta,
        state: State::Reserved,
        at: now(),
        pid: std::process::id(),
        host: host(),
        seeded: request.seeded,
        holder: Some(holder.clone()),
    });
    let left = budget.left();
    let reservation = Reservation {
        left,
        path: path.clone(),
        dataset: request.dataset.to_string(),
        holder,
        holder_lock: Some((holder_file, lock_path)),
        done: false,
    };
    write(path, &ledger)?;
    Ok(reservation)
}

impl Reservation {
    fn finish(&mut self, commit: bool) -> Result<(), LedgerError> {
        self.done = true;
        let outcome = self.update(commit);
        // The proof of life goes only once the ledger no longer holds the reservation (or the
        // process ends, which drops the lock all the same).
        if let Some((file, lock_path)) = self.holder_lock.take() {
            let _ = std::fs::remove_file(&lock_path);
            drop(file);
        }
        outcome
    }

    fn update(&self, commit: bool) -> Result<(), LedgerError> {
        let _locked = lock(&self.path)?;
        let mut ledger = read(&self.path)?;
        let mine = |s: &Spending| s.state == State::Reserved && s.holder.as_deref() == Some(self.holder.as_str());
        let lost = || LedgerError::ReservationLost { path: self.path.clone(), dataset: self.dataset.clone() };
        let budget = ledger.datasets.get_mut(&self.dataset).ok_or_else(lost)?;
        if !budget.spending.iter().any(mine) {
            return Err(lost());
        }
        if commit {
            for s in budget.spending.iter_mut().filter(|s| mine(s)) {
                s.state = State::Committed;
                s.at = now();
            }
        } else {
            budget.spending.retain(|s| !mine(s));
        }
        write(&self.path, &ledger)
    }

    /// Makes the spending final. Called before any output becomes visible, so that no output
    /// is ever visible while its spending could still be released.
    ///
    /// # Errors
    /// The ledger cannot be rewritten, or the reservation is no longer in it
    /// ([`LedgerError::ReservationLost`]).
    pub fn commit(mut self) -> Result<(), LedgerError> {
        self.finish(true)
    }

    /// Gives the spending back (the run failed before writing anything).
    ///
    /// # Errors
    /// The ledger cannot be rewritten.
    pub fn release(mut self) -> Result<(), LedgerError> {
        self.finish(false)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.finish(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(run_id: &'a str, epsilon: f64) -> Request<'a> {
        Request {
            dataset: "customers",
            total_epsilon: 1.0,
            total_delta: 1e-6,
            epsilon,
            delta: 0.0,
            run_id,
            job: "job",
            seeded: false,
        }
    }

    #[test]
    fn reserve_commit_release_and_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/budget.json");
        reserve(&path, &request("a", 0.5)).unwrap().commit().unwrap();
        let held = reserve(&path, &request("b", 0.25)).unwrap();
        // Reserved spending counts: 0.5 + 0.25 spent, 0.5 more is refused.
        let refused = reserve(&path, &request("c", 0.5)).unwrap_err();
        assert!(matches!(refused, LedgerError::Exhausted { left_epsilon, .. } if (left_epsilon - 0.25).abs() < 1e-12));
        assert!(refused.to_string().contains("needs epsilon 0.5"), "{refused}");
        held.release().unwrap();
        reserve(&path, &request("d", 0.5)).unwrap().commit().unwrap();
        let ledger = read(&path).unwrap();
        let budget = &ledger.datasets["customers"];
        assert_eq!(budget.spending.iter().map(|s| s.run_id.as_str()).collect::<Vec<_>>(), ["a", "d"]);
        assert!(budget.spending.iter().all(|s| s.state == State::Committed));
        assert_eq!(budget.left().0, 0.0);
        // A job may not change the recorded total.
        let mut raised = request("e", 0.1);
        raised.total_epsilon = 5.0;
        assert!(matches!(reserve(&path, &raised), Err(LedgerError::TotalMismatch { .. })));
    }

    #[test]
    fn a_dropped_reservation_is_released_and_a_dead_one_is_reclaimed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("budget.json");
        drop(reserve(&path, &request("failed", 0.9)).unwrap());
        assert!(read(&path).unwrap().datasets["customers"].spending.is_empty());
        // A reservation left by a killed process of this host.
        let mut ledger = read(&path).unwrap();
        ledger.datasets.get_mut("customers").unwrap().spending.push(Spending {
            run_id: "killed".into(),
            job: "job".into(),
            epsilon: 0.9,
            delta: 0.0,
            state: State::Reserved,
            at: now(),
            pid: u32::MAX - 7,
            host: host(),
            seeded: false,
            holder: None,
        });
        write(&path, &ledger).unwrap();
        reserve(&path, &request("next", 0.9)).unwrap().commit().unwrap();
        let runs: Vec<String> =
            read(&path).unwrap().datasets["customers"].spending.iter().map(|s| s.run_id.clone()).collect();
        assert_eq!(runs, ["next"]);
    }

    /// A live run in another PID namespace looks dead by its process id; its held lock says
    /// otherwise, and the reservation stays.
    #[test]
    fn a_live_reservation_is_kept_whatever_its_process_id_says() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("budget.json");
        let live = reserve(&path, &request("live", 0.5)).unwrap();
        let mut ledger = read(&path).unwrap();
        for s in &mut ledger.datasets.get_mut("customers").unwrap().spending {
            s.pid = u32::MAX - 7; // no such process here
        }
        write(&path, &ledger).unwrap();
        assert!(matches!(reserve(&path, &request("other", 0.6)), Err(LedgerError::Exhausted { .. })));
        live.commit().unwrap();
        let budget = &read(&path).unwrap().datasets["customers"];
        assert_eq!(budget.spending.len(), 1);
        assert_eq!(budget.spending[0].state, State::Committed);
        assert!(std::fs::read_dir(holders_folder(&path)).unwrap().next().is_none(), "the holder lock is removed");
    }

    #[test]
    fn a_reservation_whose_lock_is_free_is_released_and_a_lost_one_fails_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("budget.json");
        let mut dead = reserve(&path, &request("dead", 0.9)).unwrap();
        // The process ends: the kernel lets go of its lock (here: the file is closed).
        let (file, _) = dead.holder_lock.take().unwrap();
        drop(file);
        dead.done = true;
        reserve(&path, &request("next", 0.9)).unwrap().commit().unwrap();
        let runs: Vec<String> =
            read(&path).unwrap().datasets["customers"].spending.iter().map(|s| s.run_id.clone()).collect();
        assert_eq!(runs, ["next"]);

        let path = dir.path().join("second.json");
        let victim = reserve(&path, &request("victim", 0.1)).unwrap();
        let mut ledger = read(&path).unwrap();
        ledger.datasets.get_mut("customers").unwrap().spending.clear();
        write(&path, &ledger).unwrap();
        let error = victim.commit().unwrap_err();
        assert!(matches!(error, LedgerError::ReservationLost { .. }), "{error}");
    }

    #[test]
    fn every_name_of_a_ledger_is_one_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("state/budget.json");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        reserve(&link, &request("through-link", 0.6)).unwrap().commit().unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is kept");
        let other_name = dir.path().join("state/../state/budget.json");
        assert!(matches!(reserve(&other_name, &request("real", 0.6)), Err(LedgerError::Exhausted { .. })));
        assert_eq!(read(&real).unwrap().datasets["customers"].spending.len(), 1);
    }

    /// Eight racers, each with its own file handle, ask 0.3 of a total of 1: exactly three win.
    #[test]
    fn racing_reservations_never_overspend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("budget.json");
        let winners: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let path = path.clone();
                    scope.spawn(move || {
                        let id = format!("run{i}");
                        match reserve(&path, &request(&id, 0.3)) {
                            Ok(r) => {
                                std::thread::sleep(std::time::Duration::from_millis(5));
                                r.commit().unwrap();
                                1
                            }
                            Err(LedgerError::Exhausted { .. }) => 0,
                            Err(e) => panic!("{e}"),
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(winners, 3);
        let budget = &read(&path).unwrap().datasets["customers"];
        assert!(budget.spent().0 <= 1.0);
        assert_eq!(budget.spending.len(), 3);
    }

    #[test]
    fn a_malformed_ledger_is_refused_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("budget.json");
        std::fs::write(&path, "{ not json").unwrap();
        assert!(matches!(reserve(&path, &request("a", 0.1)), Err(LedgerError::Malformed { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
    }
}
