//! The tool under attack and in careless hands: keys where names belong, headerless CSV files,
//! ledgers reached through links or from another PID namespace, special files, full disks,
//! signals, closed pipes, and inputs built to hang or to blow up. Each test failed before the
//! fix it pins.

use super::{anonymize, cells, root, stderr, stdout, write_job};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_anonymize"));
    command.env_remove("ANONYMIZE_KEY").env("ANONYMIZE_TEST_KEY", "11".repeat(32));
    command
}

/// A job spending epsilon 1 of `total` from `ledger` on `input`, writing `output`.
fn noise_job(dir: &Path, name: &str, input: &str, output: &str, ledger: &str, dataset: &str, total: f64) -> PathBuf {
    write_job(
        dir,
        &format!("{name}.yaml"),
        &format!(
            "version: 1\nname: {name}\ninput: {{ path: {input}{types} }}\nunlisted_columns: drop\n\
             columns:\n  customer_id: keep\n\
             \x20 income: {{ action: noise, epsilon: 0.6, bounds: [0, 500000] }}\n\
             privacy:\n  budget: {{ ledger: {ledger}, dataset: {dataset}, epsilon: {total} }}\n\
             output: {{ path: {output}, overwrite: true }}\nlineage: {name}.lineage.jsonl\n",
            types = if input.ends_with(".csv") { ", types: { zip: string }" } else { "" }
        ),
    )
}

/// A pipe whose reading end is already closed: every write to it fails with a broken pipe.
fn closed_pipe() -> Stdio {
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just opened by pipe() and are owned here.
    unsafe {
        libc::close(fds[0]);
        Stdio::from(std::os::fd::OwnedFd::from_raw_fd(fds[1]))
    }
}

/// Runs `job` (a YAML job reading `in.csv`) on `csv` in a fresh folder.
fn run_on_csv(csv: &str, job: &str) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    write_job(dir.path(), "job.yaml", job);
    let out = anonymize(dir.path(), &["run", "job.yaml"]);
    (dir, out)
}

fn sample_input() -> String {
    root().join("sample_data/customers.csv").display().to_string()
}

/// `rows` generated customers as Parquet in `dir` (large enough for a run to be caught in flight).
fn generated(dir: &Path, rows: u32) -> String {
    let out = anonymize(dir, &["sample", "--rows", &rows.to_string(), "--out", "big.parquet"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir.join("big.parquet").display().to_string()
}

fn ledger_runs(path: &Path, dataset: &str) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let ledger: serde_json::Value = serde_json::from_str(&text).unwrap();
    ledger["datasets"][dataset]["spending"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| (s["run_id"].as_str().unwrap().to_string(), s["state"].as_str().unwrap().to_string()))
        .collect()
}

/// Starts a noise run over 600,000 generated rows (one thread, so it lasts) spending from
/// `dir/budget.json`, and returns it once its reservation is in the ledger.
fn start_long_run(dir: &Path, name: &str, output: &str) -> Child {
    let input = generated(dir, 600_000);
    noise_job(dir, name, &input, output, "budget.json", "customers", 10.0);
    let child = binary()
        .args(["run", &format!("{name}.yaml"), "--threads", "1"])
        .current_dir(dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ledger = dir.join("budget.json");
    assert!(wait_for(60, || !ledger_runs(&ledger, "customers").is_empty()), "no reservation appeared");
    child
}

fn wait_with_deadline(child: &mut Child, seconds: u64) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn wait_for(seconds: u64, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

// --- 1, 2: secrets and raw values never reach a message, event or report -------------------

#[test]
fn a_key_pasted_as_a_name_is_refused_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let key = "0f1e2d3c4b5a6978".repeat(4);
    for (name, secrets) in [
        ("env.yaml", format!("{{ env: {key} }}")),
        ("file.yaml", format!("{{ file: keys/{key} }}")),
        ("dollar.yaml", "{ env: \"${KEY}\" }".to_string()),
    ] {
        write_job(
            dir.path(),
            name,
            &format!(
                "version: 1\nname: k\ninput: {{ path: {} }}\nunlisted_columns: drop\nsecrets: {{ pseudonym_key: {secrets} }}\n\
                 columns:\n  customer_id: pseudonymize\noutput: {{ path: out.csv }}\nlineage: k.lineage.jsonl\n",
                sample_input()
            ),
        );
        for command in ["validate", "run"] {
            let out = anonymize(dir.path(), &[command, name]);
            assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
            assert!(!stderr(&out).contains(&key[..32]), "{name} echoed the key:\n{}", stderr(&out));
            assert!(stderr(&out).contains("not shown"), "{name}: {}", stderr(&out));
        }
    }
    assert!(!dir.path().join("k.lineage.jsonl").exists(), "a refused job starts no run");
    let toml = format!(
        "version = 1\nname = \"k\"\nunlisted_columns = \"drop\"\n[input]\npath = \"{}\"\n[secrets.pseudonym_key]\n\
         env = 123456789012345678901234567890\n[columns]\ncustomer_id = \"pseudonymize\"\n[output]\npath = \"o.csv\"\n",
        sample_input()
    );
    write_job(dir.path(), "big.toml", &toml);
    let out = anonymize(dir.path(), &["validate", "big.toml"]);
    assert_eq!(out.status.code(), Some(1), "a 30-digit variable name once validated");
    assert!(!stderr(&out).contains("1234567890123"), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not fit in 64 bits"), "{}", stderr(&out));
}

#[test]
fn a_csv_without_a_header_never_shows_its_first_row() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("raw.csv"),
        "1,Ann Lee,ann.lee@corp.test,+1 617 555 0101,1984-02-09\n2,Bo Chen,bo@corp.test,+1 415 555 0102,1990-06-01\n",
    )
    .unwrap();
    for unlisted in ["error", "drop"] {
        write_job(
            dir.path(),
            "job.yaml",
            &format!(
                "version: 1\nname: headerless\ninput: {{ path: raw.csv }}\nunlisted_columns: {unlisted}\n\
                 columns:\n  customer_id: drop\n  full_name: drop\n  email: drop\n  phone: drop\n  birth_date: drop\n\
                 output: {{ path: out.csv }}\nlineage: job.lineage.jsonl\n"
            ),
        );
        for command in ["validate", "run"] {
            let out = anonymize(dir.path(), &[command, "job.yaml"]);
            let text = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{unlisted}: {text}");
            for value in ["Ann Lee", "ann.lee@corp.test", "617 555", "1984-02-09"] {
                assert!(!text.contains(value), "{unlisted}/{command} showed `{value}`:\n{text}");
            }
            assert!(text.contains("has_header: false"), "{text}");
            assert!(text.contains("looks like an e-mail address"), "{text}");
        }
        assert!(!dir.path().join("out.csv").exists());
        // The run records START and FAIL; the FAIL message names no value either.
        let lineage = std::fs::read_to_string(dir.path().join("job.lineage.jsonl")).unwrap_or_default();
        assert!(!lineage.contains("Ann Lee") && !lineage.contains("ann.lee"), "{lineage}");
    }
    // `risk` on the same file: its hint once listed the "columns", that is the first row.
    let out = anonymize(dir.path(), &["risk", "raw.csv", "--quasi-identifiers", "zip"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("Ann Lee") && !stderr(&out).contains("ann.lee"), "{}", stderr(&out));
    assert!(stderr(&out).contains("needs a header line"), "{}", stderr(&out));
}

#[test]
fn columns_the_job_does_not_name_are_never_named() {
    let dir = tempfile::tempdir().unwrap();
    // A header cell that is a customer's name, not a column's: not shaped like data, so the
    // run goes ahead with `unlisted_columns: drop`, but the name appears nowhere.
    std::fs::write(dir.path().join("in.csv"), "id,Zoe Quinn\n1,x\n2,y\n").unwrap();
    write_job(
        dir.path(),
        "job.yaml",
        "version: 1\nname: unlisted\ninput: { path: in.csv }\nunlisted_columns: drop\ncolumns:\n  id: keep\n\
         output: { path: out.csv }\nlineage: job.lineage.jsonl\n",
    );
    let out = anonymize(dir.path(), &["run", "job.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for text in [
        stderr(&out),
        stdout(&out),
        std::fs::read_to_string(dir.path().join("job.lineage.jsonl")).unwrap(),
        std::fs::read_to_string(dir.path().join("out.report.html")).unwrap(),
        std::fs::read_to_string(dir.path().join("out.csv")).unwrap(),
    ] {
        assert!(!text.contains("Zoe"), "an unlisted column's name leaked:\n{text}");
    }
    assert!(stdout(&out).contains("field 2"), "{}", stdout(&out));
    // A cell of that column that does not fit its inferred type (numbers for the first 10,000
    // rows, then text) stops the run without naming the column.
    let mut csv = String::from("id,Zoe Quinn\n");
    for i in 0..10_050 {
        csv.push_str(&format!("{i},{}\n", if i < 10_020 { "7".to_string() } else { "seven".to_string() }));
    }
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    for done in ["out.csv", "out.report.html"] {
        std::fs::remove_file(dir.path().join(done)).unwrap();
    }
    let out = anonymize(dir.path(), &["run", "job.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not named in the job") && !stderr(&out).contains("Zoe"), "{}", stderr(&out));
    // With `unlisted_columns: error` the message describes it by position and shape.
    write_job(
        dir.path(),
        "strict.yaml",
        "version: 1\nname: strict\ninput: { path: in.csv }\ncolumns:\n  id: keep\noutput: { path: o.csv }\n",
    );
    let out = anonymize(dir.path(), &["validate", "strict.yaml"]);
    assert!(stderr(&out).contains("field 2 (9 characters with spaces)") && !stderr(&out).contains("Zoe"));
}

// --- 3, 4, 5: the budget ledger is never overspent ------------------------------------------

#[test]
fn sigterm_stops_a_run_cleanly_and_gives_its_budget_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_long_run(dir.path(), "job", "out/out.parquet");
    let ledger = dir.path().join("budget.json");
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_with_deadline(&mut child, 60).expect("the run ends after SIGTERM");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut text).unwrap();
    assert!(child_exited_after_cleanup(status), "killed by the signal instead of stopping: {status:?}\n{text}");
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("interrupted by SIGTERM"), "{text}");
    assert!(ledger_runs(&ledger, "customers").is_empty(), "the reservation was not released");
    assert!(files_in(&dir.path().join("out")).is_empty(), "left behind: {:?}", files_in(&dir.path().join("out")));
    let lineage = std::fs::read_to_string(dir.path().join("job.lineage.jsonl")).unwrap();
    assert!(lineage.lines().last().unwrap().contains("\"FAIL\""), "{lineage}");
}

fn child_exited_after_cleanup(status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal().is_none()
}

/// Killed with SIGKILL at moments spread over a whole run: whenever the output is visible, its
/// run's spending is committed (so no later run can reclaim it); otherwise nothing is visible.
#[test]
fn kill_9_at_any_moment_never_shows_an_output_whose_spending_can_be_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let input = generated(dir.path(), 150_000);
    let ledger = dir.path().join("budget.json");
    noise_job(dir.path(), "timing", &input, "timing.parquet", "budget.json", "customers", 1000.0);
    let started = Instant::now();
    let out = anonymize(dir.path(), &["run", "timing.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let whole = started.elapsed();
    for i in 0..12u32 {
        let output = format!("out{i}.parquet");
        noise_job(dir.path(), &format!("k{i}"), &input, &output, "budget.json", "customers", 1000.0);
        let mut child = binary()
            .args(["run", &format!("k{i}.yaml")])
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole * (i + 2) / 12);
        let _ = child.kill();
        child.wait().unwrap();
        let path = dir.path().join(&output);
        if path.exists() {
            let file = std::fs::File::open(&path).unwrap();
            let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
            use parquet::file::reader::FileReader;
            let run_id = reader
                .metadata()
                .file_metadata()
                .key_value_metadata()
                .unwrap()
                .iter()
                .find(|kv| kv.key == "anonymize.run_id")
                .and_then(|kv| kv.value.clone())
                .unwrap();
            let runs = ledger_runs(&ledger, "customers");
            assert!(
                runs.iter().any(|(id, state)| *id == run_id && state == "committed"),
                "kill {i}: the output is visible but its spending is not committed: {runs:?}"
            );
        }
    }
    // Whatever was left reserved belongs to dead runs: the next run reclaims exactly those.
    let out = anonymize(dir.path(), &["run", "timing.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(ledger_runs(&ledger, "customers").iter().all(|(_, state)| state == "committed"));
}

#[test]
fn a_ledger_reached_through_a_link_is_one_ledger() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("state/budget.json"), dir.path().join("link.json")).unwrap();
    noise_job(dir.path(), "a", &sample_input(), "a.csv", "link.json", "customers", 1.0);
    noise_job(dir.path(), "b", &sample_input(), "b.csv", "state/../state/budget.json", "customers", 1.0);
    let a = anonymize(dir.path(), &["run", "a.yaml"]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    let b = anonymize(dir.path(), &["run", "b.yaml"]);
    assert_eq!(b.status.code(), Some(1), "the same budget was spent twice through two names");
    assert!(stderr(&b).contains("not enough privacy budget left"), "{}", stderr(&b));
    assert!(std::fs::symlink_metadata(dir.path().join("link.json")).unwrap().file_type().is_symlink());
}

/// Two runs in different PID namespaces (containers sharing a host name): the one inside its
/// own namespace sees no process with the other's id, yet must not release its reservation.
#[test]
fn a_live_reservation_survives_a_run_in_another_pid_namespace() {
    let probe = Command::new("unshare").args(["--pid", "--fork", "--mount-proc", "true"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        println!("skipped: this machine does not allow `unshare --pid` ({probe:?})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    noise_job(dir.path(), "other", &sample_input(), "other.csv", "budget.json", "other", 5.0);
    let mut long = start_long_run(dir.path(), "long", "long.parquet");
    let ledger = dir.path().join("budget.json");
    let other = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", env!("CARGO_BIN_EXE_anonymize"), "run", "other.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(0), "{}", stderr(&other));
    assert!(long.try_wait().unwrap().is_none(), "the long run ended before the other reserved: make its input larger");
    let status = wait_with_deadline(&mut long, 120).expect("the long run ends");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut long.stderr.take().unwrap(), &mut text).unwrap();
    assert_eq!(status.code(), Some(0), "{text}");
    let runs = ledger_runs(&ledger, "customers");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].1, "committed", "the long run's spending was released by the other namespace: {runs:?}");
}

// --- 7, 8, 9, 11: writes stay safe ----------------------------------------------------------

/// A lineage file that cannot take the COMPLETE event (the file-size limit stands in for a
/// full disk): no torn line is left, and the outputs that were already in place are taken back.
#[test]
fn a_full_disk_tears_no_lineage_line_and_leaves_nothing_new_visible() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let job = super::main_job_text("main", "main.parquet");
    write_job(dir.path(), "main.yaml", &job);
    let first = anonymize(dir.path(), &["run", "main.yaml", "--seed", "1"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let events = std::fs::read_to_string(dir.path().join("main.lineage.jsonl")).unwrap();
    let start_line = events.lines().next().unwrap().len() as u64 + 1;
    for f in ["main.parquet", "main.report.html"] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    // Room for one more START event (with 3,000 bytes to spare, as its length varies a little
    // from run to run), not for the COMPLETE event, which is several times longer.
    let complete_line = events.lines().nth(1).unwrap().len() as u64 + 1;
    assert!(complete_line > start_line + 6_000, "the COMPLETE event would fit: {complete_line} bytes");
    let limit: u64 = 4 << 20;
    let room = start_line + 3_000;
    let mut filler = events.clone();
    while (filler.len() as u64) + start_line + 200 < limit - room {
        filler.push_str(events.lines().next().unwrap());
        filler.push('\n');
    }
    // One padding line brings the file to exactly `limit - room` bytes.
    let pad = (limit - room) as usize - filler.len() - "{\"pad\":\"\"}\n".len();
    filler.push_str(&format!("{{\"pad\":\"{}\"}}\n", "x".repeat(pad)));
    assert_eq!(filler.len() as u64, limit - room);
    std::fs::write(dir.path().join("main.lineage.jsonl"), &filler).unwrap();
    let mut command = binary();
    command.args(["run", "main.yaml"]).current_dir(dir.path());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing new is visible"), "{}", stderr(&out));
    assert!(!dir.path().join("main.parquet").exists(), "the output stayed visible after a failed run");
    assert!(!dir.path().join("main.report.html").exists(), "the report stayed visible after a failed run");
    let after = std::fs::read_to_string(dir.path().join("main.lineage.jsonl")).unwrap();
    assert!(after.ends_with('\n'), "a torn line was left");
    for (i, line) in after.lines().enumerate() {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "line {} is torn", i + 1);
    }
    assert!(files_in(dir.path()).iter().all(|f| !f.ends_with(".tmp")), "{:?}", files_in(dir.path()));
}

#[test]
fn verify_reports_a_torn_line_and_keeps_the_events_around_it() {
    let dir = tempfile::tempdir().unwrap();
    write_job(dir.path(), "main.yaml", &super::main_job_text("main", "main.parquet"));
    let out = anonymize(dir.path(), &["run", "main.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let path = dir.path().join("main.lineage.jsonl");
    let events = std::fs::read_to_string(&path).unwrap();
    let (start, complete) = events.split_once('\n').unwrap();
    std::fs::write(&path, format!("{start}\n{{\"eventType\":\"COMPLETE\",\"run\":{{\"ru\n{complete}")).unwrap();
    let out = anonymize(dir.path(), &["verify", "main.lineage.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2 of the lineage file is not a whole event"), "{}", stderr(&out));
    std::fs::write(&path, "not json at all\n").unwrap();
    assert!(stderr(&anonymize(dir.path(), &["verify", "main.lineage.jsonl"])).contains("not an OpenLineage event"));
}

#[test]
fn a_report_that_cannot_be_written_leaves_no_output_and_spends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blocker"), "a file where the report's folder should be").unwrap();
    let job = noise_job(dir.path(), "job", &sample_input(), "out.csv", "budget.json", "customers", 5.0);
    let text = std::fs::read_to_string(&job).unwrap() + "report: blocker/report.html\n";
    std::fs::write(&job, text).unwrap();
    let out = anonymize(dir.path(), &["run", "job.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!dir.path().join("out.csv").exists(), "the output is visible after a failed run");
    assert!(ledger_runs(&dir.path().join("budget.json"), "customers").is_empty(), "a failed run spent budget");
}

#[test]
fn temporary_files_of_dead_runs_are_removed_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    write_job(dir.path(), "main.yaml", &super::main_job_text("main", "main.parquet"));
    let dead = dir.path().join(".main.parquet.anonymize-4000000-0000000000000001.tmp");
    let live = dir.path().join(".main.parquet.anonymize-4000001-0000000000000002.tmp");
    std::fs::write(&dead, vec![0u8; 1 << 20]).unwrap();
    std::fs::write(&live, b"being written").unwrap();
    let held = std::fs::File::options().write(true).open(&live).unwrap();
    held.lock().unwrap();
    let out = anonymize(dir.path(), &["run", "main.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!dead.exists(), "a dead run's temporary file stayed");
    assert!(live.exists(), "a live writer's temporary file was removed");
    // Temporary files are the owner's only while written; the output gets the mode any new
    // file gets here.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    std::fs::write(dir.path().join("plain"), b"").unwrap();
    assert_eq!(mode(&dir.path().join("main.parquet")), mode(&dir.path().join("plain")));
}

// --- 10: closed pipes and full devices --------------------------------------------------------

#[test]
fn a_closed_stdout_is_not_an_internal_error() {
    let dir = tempfile::tempdir().unwrap();
    write_job(dir.path(), "main.yaml", &super::main_job_text("main", "main.parquet"));
    let out =
        binary().args(["run", "main.yaml", "--json"]).current_dir(dir.path()).stdout(closed_pipe()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot write the JSON summary"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("internal error") && !stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(dir.path().join("main.parquet").exists());

    for args in [&["verify", "main.lineage.jsonl", "--json"][..], &["keygen"][..]] {
        let out = binary().args(args).current_dir(dir.path()).stdout(closed_pipe()).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot write"), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    if Path::new("/dev/full").exists() {
        let full = std::fs::File::options().write(true).open("/dev/full").unwrap();
        let out = binary().arg("keygen").stdout(full).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "a key written to a full device was reported as made");
        assert!(stderr(&out).contains("cannot write the key"), "{}", stderr(&out));
    }
}

// --- 12, 13: bounded resources --------------------------------------------------------------

#[test]
fn special_files_where_files_are_expected_are_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let key = "secrets: { pseudonym_key: { env: ANONYMIZE_TEST_KEY } }\n";
    let cases = [
        ("key_fifo", "secrets: { pseudonym_key: { file: pipe } }\n", "input: { path: IN }\n", "FIFO"),
        ("key_zero", "secrets: { pseudonym_key: { file: /dev/zero } }\n", "input: { path: IN }\n", "character device"),
        ("lineage_fifo", &format!("{key}lineage: pipe\n"), "input: { path: IN }\n", "FIFO"),
        ("input_fifo", key, "input: { path: pipe, format: csv }\n", "FIFO"),
    ];
    for (name, extra, input, expected) in cases {
        let input = input.replace("IN", &sample_input());
        write_job(
            dir.path(),
            &format!("{name}.yaml"),
            &format!(
                "version: 1\nname: {name}\n{input}unlisted_columns: drop\n{extra}columns:\n  customer_id: pseudonymize\n\
                 output: {{ path: {name}.csv }}\n"
            ),
        );
        let mut child = binary()
            .args(["run", &format!("{name}.yaml")])
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_with_deadline(&mut child, 30);
        assert!(status.is_some(), "{name}: the run hung");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut text).unwrap();
        assert_eq!(status.unwrap().code(), Some(1), "{name}: {text}");
        assert!(text.contains(expected), "{name}: {text}");
    }
}

#[test]
fn an_enormous_cell_is_refused_by_encrypt_with_its_row_not_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let digits: String = (0..200_000).map(|i| char::from(b'0' + (i * 7 % 10) as u8)).collect();
    std::fs::write(dir.path().join("in.csv"), format!("card\n4111111111111111\n{digits}\n")).unwrap();
    write_job(
        dir.path(),
        "job.yaml",
        "version: 1\nname: big\ninput: { path: in.csv, types: { card: string } }\n\
         secrets: { pseudonym_key: { env: ANONYMIZE_TEST_KEY } }\ncolumns:\n  card: { action: encrypt }\n\
         output: { path: out.csv }\n",
    );
    let mut child = binary().args(["run", "job.yaml"]).current_dir(dir.path()).stderr(Stdio::piped()).spawn().unwrap();
    let status = wait_with_deadline(&mut child, 30).expect("refused at once, not after a minute of FF1");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut text).unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("more than the 1024") && text.contains("row 2"), "{text}");
    assert!(!text.contains(&digits[..40]), "{text}");
}

#[test]
fn a_job_with_tens_of_thousands_of_keys_is_checked_in_linear_time() {
    // Quadratic duplicate checks or position look-ups took minutes on this; linear takes well
    // under a second. The bound is loose on purpose: it catches a hang, not a slowdown.
    let dir = tempfile::tempdir().unwrap();
    let mut text =
        format!("version: 1\nname: wide\ninput: {{ path: {} }}\noutput: {{ path: o.csv }}\ncolumns:\n", sample_input());
    for i in 0..80_000 {
        text.push_str(&format!("  c{i}: keep\n"));
    }
    write_job(dir.path(), "wide.yaml", &text);
    let mut child =
        binary().args(["validate", "wide.yaml"]).current_dir(dir.path()).stderr(Stdio::piped()).spawn().unwrap();
    let status = wait_with_deadline(&mut child, 60).expect("validation of 80,000 keys finishes");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(out.contains("… and") && out.contains("more"), "{}", &out[out.len().saturating_sub(300)..]);
}

// --- 14: no silent wrong data ----------------------------------------------------------------

#[test]
fn float_noise_never_writes_nan_or_infinity() {
    let (dir, out) = run_on_csv(
        "id,x\n1,1e300\n2,-1e300\n3,0.5\n4,1.7e308\n",
        "version: 1\nname: wide\ninput: { path: in.csv }\ncolumns:\n  id: keep\n\
         \x20 x: { action: noise, epsilon: 0.001, bounds: [-8.0e307, 8.0e307] }\n\
         privacy:\n  budget: { ledger: budget.json, dataset: d, epsilon: 1.0 }\noutput: { path: out.csv }\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for row in cells(&dir.path().join("out.csv")) {
        let x: f64 = row[1].as_deref().unwrap().parse().unwrap();
        assert!(x.is_finite(), "noisy value {x}");
    }
}

#[test]
fn a_quote_left_open_stops_the_run_instead_of_merging_rows() {
    let (dir, out) = run_on_csv(
        "id,note\n1,fine\n2,\"open\n3,lost\n4,lost too\n",
        "version: 1\nname: q\ninput: { path: in.csv }\ncolumns:\n  id: keep\n  note: keep\noutput: { path: out.csv }\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 3") && stderr(&out).contains("never closed"), "{}", stderr(&out));
    assert!(!dir.path().join("out.csv").exists());
}

#[test]
fn csv_outputs_write_timestamps_of_any_century_as_timestamps() {
    let (dir, out) = run_on_csv(
        "id,at\n1,1600-01-01T00:00:00\n2,2300-05-06T07:08:09.5\n",
        "version: 1\nname: t\ninput: { path: in.csv, types: { at: timestamp } }\ncolumns:\n  id: keep\n  at: keep\n\
         output: { path: out.csv }\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert!(text.contains("1,1600-01-01T00:00:00\n") && text.contains("2,2300-05-06T07:08:09.500"), "{text}");
}

// --- 15: exit codes and messages ------------------------------------------------------------

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["run", "x.yaml", "--threads", "0"][..], &["frobnicate"][..], &["run"][..]] {
        let out = anonymize(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(anonymize(dir.path(), &["--help"]).status.code(), Some(0));
    assert_eq!(anonymize(dir.path(), &["--version"]).status.code(), Some(0));
}

#[test]
fn hierarchy_files_and_headers_with_a_byte_order_mark_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), "\u{feff}id,job\n1,nurse\n2,nurse\n3,cook\n4,cook\n").unwrap();
    std::fs::write(dir.path().join("jobs.csv"), "\u{feff}nurse;care\ncook;food\n").unwrap();
    write_job(
        dir.path(),
        "job.yaml",
        "version: 1\nname: bom\ninput: { path: in.csv }\nprivacy:\n  k_anonymity: { k: 2 }\ncolumns:\n  id: drop\n\
         \x20 job: { action: generalize, hierarchy: { type: file, path: jobs.csv } }\noutput: { path: out.csv }\n",
    );
    let out = anonymize(dir.path(), &["run", "job.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.path().join("out.csv")).unwrap(), "job\nnurse\nnurse\ncook\ncook\n");
}

#[test]
fn noise_on_a_decimal_column_is_refused_by_validate() {
    use arrow::array::{Decimal128Array, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("amount", DataType::Decimal128(10, 2), true),
    ]));
    let amounts = Decimal128Array::from(vec![Some(12_345), Some(99)]).with_precision_and_scale(10, 2).unwrap();
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2])), Arc::new(amounts)]).unwrap();
    let file = std::fs::File::create(dir.path().join("in.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    write_job(
        dir.path(),
        "job.yaml",
        "version: 1\nname: dec\ninput: { path: in.parquet }\ncolumns:\n  id: keep\n\
         \x20 amount: { action: noise, epsilon: 1.0, bounds: [0, 1000] }\n\
         privacy:\n  budget: { ledger: budget.json, dataset: d, epsilon: 1.0 }\noutput: { path: out.csv }\n",
    );
    let out = anonymize(dir.path(), &["validate", "job.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("Decimal128(10, 2)"), "{}", stderr(&out));
}

#[test]
fn mondrian_keeps_all_null_intervals_null_and_states_the_k_it_can_reach() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,age,score\n");
    for i in 0..12 {
        csv.push_str(&format!("{i},{},\n", 20 + i));
    }
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    let job = |k: u32| {
        format!(
            "version: 1\nname: m\ninput: {{ path: in.csv, types: {{ score: float64 }} }}\n\
             privacy:\n  k_anonymity: {{ k: {k}, algorithm: mondrian }}\ncolumns:\n  id: drop\n\
             \x20 age: {{ action: generalize, hierarchy: {{ type: interval, widths: [10, 20] }} }}\n\
             \x20 score: {{ action: generalize, hierarchy: {{ type: interval, widths: [10, 20] }} }}\n\
             output: {{ path: out.csv, overwrite: true }}\n"
        )
    };
    write_job(dir.path(), "ok.yaml", &job(3));
    let out = anonymize(dir.path(), &["run", "ok.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for row in cells(&dir.path().join("out.csv")) {
        assert_eq!(row[1], None, "an all-null interval was written as {:?}", row[1]);
    }
    write_job(dir.path(), "too_big.yaml", &job(20));
    let out = anonymize(dir.path(), &["run", "too_big.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("the best k reachable within the limit is 12"), "{}", stderr(&out));
}
