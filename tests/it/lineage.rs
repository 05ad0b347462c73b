//! Lineage, verification and the privacy report through the binary: every event validates
//! against the OpenLineage schemas, events reach an HTTP endpoint (and an unreachable one only
//! warns), `anonymize verify` notices one changed byte, and the report renders in headless
//! Chromium without errors or requests and without any identifier value of the data.

use super::{anonymize, cells, column_names, main_job_text, root, stderr, stdout, write_job};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample(file: &str) -> String {
    root().join("sample_data").join(file).display().to_string()
}

/// The main job, its outputs, lineage and report redirected into `dir`.
fn main_job(dir: &Path, name: &str) -> PathBuf {
    write_job(dir, &format!("{name}.yaml"), &main_job_text(name, &format!("{name}.parquet")))
}

/// ARX's Adult case (k = 5) with lineage.
fn adult_job(dir: &Path) {
    let text = std::fs::read_to_string(root().join("pipelines/adult_k5.yaml")).unwrap();
    let text = text
        .replace("../sample_data", root().join("sample_data").to_str().unwrap())
        .replace("../out/adult_k5.csv", "adult.csv")
        .replace(
            "overwrite: true",
            "overwrite: true\nlineage: adult.lineage.jsonl\nowner: privacy-office@acme.example",
        );
    write_job(dir, "adult.yaml", &text);
}

/// Noise columns and two aggregate releases charged to a ledger.
fn dp_job(dir: &Path) {
    let job = format!(
        "version: 1\nname: dp_releases\ndescription: Noisy spend and city counts\n\
         input: {{ path: {}, types: {{ zip: string }} }}\nunlisted_columns: drop\n\
         columns:\n  customer_id: {{ action: pseudonymize, domain: customer }}\n\
         \x20 income: {{ action: noise, mechanism: laplace, epsilon: 1.0, bounds: [0, 500000] }}\n\
         \x20 spend_90d: {{ action: noise, mechanism: gaussian, epsilon: 0.5, delta: 1.0e-6, bounds: [0, 20000] }}\n\
         \x20 signup_date: {{ action: noise, epsilon: 0.5, bounds: [\"2015-01-01\", \"2025-12-31\"], unit: days }}\n\
         secrets: {{ pseudonym_key: {{ env: ANONYMIZE_TEST_KEY }} }}\n\
         privacy:\n  budget: {{ ledger: state/budget.json, dataset: customers, epsilon: 10, delta: 1.0e-5 }}\n\
         aggregates:\n\
         \x20 - {{ name: by_city, path: by_city.parquet, privacy_unit: customer_id, group_by: [city], epsilon: 1.0, delta: 1.0e-6,\n\
         \x20     measures: [count, {{ mean: spend_90d, bounds: [0, 20000] }}] }}\n\
         output: {{ path: dp.parquet, overwrite: true }}\nlineage: dp.lineage.jsonl\nreport: dp.report.html\n",
        sample("customers.csv")
    );
    write_job(dir, "dp.yaml", &job);
}

/// The main job, Adult k = 5 and the noise job, written into `d`.
fn three_jobs(d: &Path) {
    main_job(d, "main");
    adult_job(d);
    dp_job(d);
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Runs the offline validator over lineage files; returns (success, its output).
fn validate(files: &[&Path]) -> (bool, String) {
    let output = Command::new("python3")
        .arg(root().join("tests/openlineage/validate.py"))
        .args(files)
        .output()
        .expect("python3 runs (scripts/test.sh makes a venv with jsonschema rfc3987 rfc3339-validator)");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned() + &stderr(&output))
}

#[test]
fn every_event_validates_against_the_openlineage_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    three_jobs(d);
    let parent = "11111111-2222-4333-8444-555555555555";
    let root_run = "66666666-7777-4888-9999-aaaaaaaaaaaa";
    let with_parent = Command::new(env!("CARGO_BIN_EXE_anonymize"))
        .args(["run", "main.yaml", "--quiet", "--seed", "1"])
        .current_dir(d)
        .env("OPENLINEAGE_PARENT_ID", format!("airflow-prod/customers_daily.anonymize/{parent}"))
        .env("OPENLINEAGE_ROOT_PARENT_JOB_NAMESPACE", "airflow-prod")
        .env("OPENLINEAGE_ROOT_PARENT_JOB_NAME", "customers_daily")
        .env("OPENLINEAGE_ROOT_PARENT_RUN_ID", root_run)
        .output()
        .unwrap();
    assert_eq!(with_parent.status.code(), Some(0), "{}", stderr(&with_parent));
    // Mondrian with l-diversity, and generalization to a pinned level without k: the facet's
    // other shapes (levels per class, no k).
    let customers = sample("customers.csv");
    write_job(
        d,
        "mondrian.yaml",
        &format!(
            "version: 1\nname: mondrian\ninput: {{ path: {customers}, types: {{ zip: string }} }}\nunlisted_columns: drop\n\
             columns:\n  zip: {{ action: generalize, hierarchy: {{ type: prefix, keep: [4, 3, 2] }} }}\n  gender: generalize\n\
             \x20 segment: {{ action: keep, sensitive: true }}\n\
             privacy:\n  k_anonymity: {{ k: 5, algorithm: mondrian }}\n  l_diversity: {{ l: 2 }}\n\
             output: {{ path: mondrian.csv }}\nlineage: shapes.lineage.jsonl\n"
        ),
    );
    write_job(
        d,
        "pinned.yaml",
        &format!(
            "version: 1\nname: pinned\ninput: {{ path: {customers}, types: {{ zip: string }} }}\nunlisted_columns: drop\n\
             columns:\n  zip: {{ action: generalize, hierarchy: {{ type: prefix, keep: [4, 3, 2] }}, level: 2 }}\n  income: keep\n\
             output: {{ path: pinned.csv }}\nlineage: shapes.lineage.jsonl\n"
        ),
    );
    for job in ["adult.yaml", "dp.yaml", "mondrian.yaml", "pinned.yaml"] {
        let run = anonymize(d, &["run", job, "--quiet", "--seed", "2"]);
        assert_eq!(run.status.code(), Some(0), "{job}: {}", stderr(&run));
    }
    // A run that fails on a cell of its input, after its START event.
    std::fs::write(d.join("bad.csv"), "id,age\n1,30\n2,Zx9secret\n").unwrap();
    write_job(
        d,
        "fail.yaml",
        "version: 1\nname: failing\ninput: { path: bad.csv, types: { age: int64 } }\n\
         output: { path: fail.csv }\ncolumns: { id: keep, age: keep }\nlineage: fail.lineage.jsonl\n",
    );
    let failing = anonymize(d, &["run", "fail.yaml", "--quiet"]);
    assert_eq!(failing.status.code(), Some(1));
    assert!(!d.join("fail.csv").exists() && !d.join("fail.report.html").exists());
    let files =
        ["main.lineage.jsonl", "adult.lineage.jsonl", "dp.lineage.jsonl", "fail.lineage.jsonl", "shapes.lineage.jsonl"]
            .map(|f| d.join(f));
    let (ok, text) = validate(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    assert!(ok, "{text}");
    assert!(text.contains("12 events checked, 0 problems"), "{text}");
    let shapes = events(&files[4]);
    let mondrian = &shapes[1]["run"]["facets"]["anonymize_privacy"]["kAnonymity"];
    assert_eq!(mondrian["algorithm"], "mondrian");
    assert!(mondrian["quasiIdentifiers"][0]["level"].is_null());
    assert_eq!(mondrian["lDiversity"], "2 (distinct)");
    let pinned = &shapes[3]["run"]["facets"]["anonymize_privacy"]["kAnonymity"];
    assert!(pinned["k"].is_null());
    assert_eq!(pinned["quasiIdentifiers"][0]["pinned"], true);

    let kinds = |events: &[serde_json::Value]| -> Vec<String> {
        events.iter().map(|e| e["eventType"].as_str().unwrap().to_string()).collect()
    };
    let main = events(&files[0]);
    assert_eq!(kinds(&main), ["START", "COMPLETE"]);
    assert_eq!(main[0]["run"]["runId"], main[1]["run"]["runId"]);
    let complete = &main[1];
    let facets = &complete["run"]["facets"];
    assert_eq!(facets["parent"]["run"]["runId"], parent);
    assert_eq!(facets["parent"]["job"]["name"], "customers_daily.anonymize");
    assert_eq!(facets["parent"]["root"]["run"]["runId"], root_run);
    assert_eq!(complete["job"]["facets"]["ownership"]["owners"][0]["name"], "data-platform@acme.example");
    assert_eq!(
        complete["job"]["facets"]["documentation"]["description"],
        "De-identified customer table for BI dashboards"
    );
    assert_eq!(complete["job"]["namespace"], "acme.analytics");
    let privacy = &facets["anonymize_privacy"];
    assert_eq!(privacy["consent"]["rowsWithoutConsent"], 515);
    assert_eq!(privacy["consent"]["rowsOnExclusionLists"], 117);
    assert_eq!(privacy["keyId"], "586859865f43fbb7");
    let recorded = facets["anonymize_checksums"]["files"].as_array().unwrap();
    let roles: Vec<&str> = recorded.iter().map(|f| f["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["job", "input", "consent_list", "output", "release", "decisions", "report"]);
    assert!(recorded[2]["path"].as_str().unwrap().ends_with("sample_data/deletion_requests.csv"));
    assert_eq!(privacy["seeded"], true);
    let output = &complete["outputs"][0];
    assert_eq!(output["outputFacets"]["outputStatistics"]["rowCount"], 4368);
    assert_eq!(complete["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"], 5000);
    assert_eq!(complete["inputs"][0]["inputFacets"]["inputStatistics"]["fileCount"], 1);
    // Column lineage: every output column, masking exactly for the protecting actions, and
    // the description names the action.
    let lineage = output["facets"]["columnLineage"]["fields"].as_object().unwrap();
    let out_columns = column_names(&d.join("main.parquet"));
    assert_eq!(lineage.len(), out_columns.len());
    for column in &out_columns {
        let transformation = &lineage[column]["inputFields"][0]["transformations"][0];
        let description = transformation["description"].as_str().unwrap();
        // The main job protects every column it writes.
        assert_eq!(transformation["masking"], true, "{column}");
        let action = match column.as_str() {
            "customer_id" | "email" | "phone" => "pseudonymize",
            "birth_date" | "zip" | "gender" | "city" | "segment" => "generalize",
            "income" | "spend_90d" => "noise",
            "card_number" => "encrypt",
            other => panic!("the main job writes an unexpected column {other}"),
        };
        assert!(description.starts_with(action), "{column}: {description}");
    }
    let failed = events(&files[3]);
    assert_eq!(kinds(&failed), ["START", "FAIL"]);
    let fail = &failed[1]["run"]["facets"]["errorMessage"];
    let message = fail["message"].as_str().unwrap();
    assert!(message.contains("bad.csv") && message.contains("age"), "{fail}");
    assert!(!message.contains("Zx9secret"), "a cell value is in the FAIL event: {fail}");
    assert_eq!(fail["programmingLanguage"], "Rust");

    // k-anonymity: the guarantee and the risk.
    let adult = events(&files[1]);
    let k = &adult[1]["run"]["facets"]["anonymize_privacy"]["kAnonymity"];
    assert_eq!(k["k"], 5);
    assert_eq!(k["suppressedRows"], 105);
    assert_eq!(k["classes"], 356);
    assert_eq!(k["metric"], "discernibility");
    assert!(k["riskAfter"]["prosecutorHighest"].as_f64().unwrap() <= 0.2);
    assert_eq!(k["riskBefore"]["prosecutorHighest"], 1.0);
    // Differential privacy: spent and left, and the releases as outputs with their lineage.
    let dp = events(&files[2]);
    let spent = &dp[1]["run"]["facets"]["anonymize_privacy"]["differentialPrivacy"];
    assert_eq!(spent["epsilonSpent"], 3.0);
    assert_eq!(spent["epsilonLeft"], 7.0);
    assert_eq!(spent["epsilonTotal"], 10.0);
    assert_eq!(dp[1]["outputs"].as_array().unwrap().len(), 2);
    let release = &dp[1]["outputs"][1];
    assert!(release["name"].as_str().unwrap().ends_with("by_city.parquet"));
    let value = &release["facets"]["columnLineage"]["fields"]["value"]["inputFields"];
    assert!(value.as_array().unwrap().iter().all(|f| f["transformations"][0]["masking"] == true));
    assert_eq!(release["outputFacets"]["outputStatistics"]["rowCount"], cells(&d.join("by_city.parquet")).len());
}

/// The validator is not a rubber stamp: it rejects events with a broken core field, a broken
/// standard facet, a broken custom facet and an unknown facet.
#[test]
fn the_validator_rejects_broken_events() {
    let dir = tempfile::tempdir().unwrap();
    main_job(dir.path(), "main");
    let run = anonymize(dir.path(), &["run", "main.yaml", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let good = events(&dir.path().join("main.lineage.jsonl")).pop().unwrap();
    type Breakage = fn(&mut serde_json::Value);
    let breakages: [(&str, Breakage); 5] = [
        ("runId", |e| e["run"]["runId"] = "not-a-uuid".into()),
        ("eventType", |e| e["eventType"] = "DONE".into()),
        ("masking", |e| {
            e["outputs"][0]["facets"]["columnLineage"]["fields"]["email"]["inputFields"][0]["transformations"][0]["masking"] =
                "yes".into()
        }),
        ("anonymize_privacy", |e| e["run"]["facets"]["anonymize_privacy"]["consent"]["rowsRead"] = (-1).into()),
        ("unknown facet", |e| {
            e["run"]["facets"]["mystery"] = serde_json::json!({"_producer": "https://x", "_schemaURL": "https://x"})
        }),
    ];
    for (what, breakage) in breakages {
        let mut event = good.clone();
        breakage(&mut event);
        let path = dir.path().join("broken.jsonl");
        std::fs::write(&path, serde_json::to_string(&event).unwrap() + "\n").unwrap();
        let (ok, text) = validate(&[&path]);
        assert!(!ok, "{what} was accepted: {text}");
    }
}

/// A minimal HTTP server on loopback that records each request and answers 200.
fn server() -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = stream.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = sender.send((head, String::from_utf8(body).unwrap()));
        }
    });
    (url, receiver)
}

#[test]
fn events_are_posted_to_the_openlineage_endpoint_and_an_unreachable_one_only_warns() {
    let dir = tempfile::tempdir().unwrap();
    main_job(dir.path(), "main");
    let (url, received) = server();
    let key = "secret-api-key-4242";
    let run = Command::new(env!("CARGO_BIN_EXE_anonymize"))
        .args(["run", "main.yaml", "--quiet"])
        .current_dir(dir.path())
        .env("OPENLINEAGE_URL", &url)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("OPENLINEAGE_API_KEY", key)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(!stderr(&run).contains("warning: the"), "{}", stderr(&run));
    let posted: Vec<(String, String)> = received.try_iter().collect();
    assert_eq!(posted.len(), 2);
    let in_file = events(&dir.path().join("main.lineage.jsonl"));
    for ((head, body), recorded) in posted.iter().zip(&in_file) {
        assert!(head.starts_with("POST /api/v1/lineage HTTP/1.1\r\n"), "{head}");
        // Header names are case-insensitive.
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains(&format!("\r\nauthorization: bearer {key}\r\n")), "{head}");
        assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
        let event: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(&event, recorded, "the endpoint gets the events the file records");
    }

    // Nothing listens on a port just released: the run succeeds and warns, the events stay in
    // the file, and the key is never printed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    std::fs::remove_file(dir.path().join("main.parquet")).unwrap();
    std::fs::remove_file(dir.path().join("main.report.html")).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_anonymize"))
        .args(["run", "main.yaml", "--quiet"])
        .current_dir(dir.path())
        .env("OPENLINEAGE_URL", format!("http://user:pw@{closed}"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("OPENLINEAGE_API_KEY", key)
        .output()
        .unwrap();
    let text = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{text}");
    assert!(text.contains("warning: the START lineage event was not sent"), "{text}");
    assert!(text.contains("warning: the COMPLETE lineage event was not sent"), "{text}");
    assert!(!text.contains(key) && !text.contains("pw@"), "{text}");
    assert_eq!(events(&dir.path().join("main.lineage.jsonl")).len(), 4);
    assert!(dir.path().join("main.parquet").exists());

    // https is spoken too; here nothing answers, so it only warns, naming the URL.
    let run = Command::new(env!("CARGO_BIN_EXE_anonymize"))
        .args(["run", "main.yaml", "--quiet"])
        .current_dir(dir.path())
        .env("OPENLINEAGE_URL", format!("https://{closed}/collector"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    let text = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("https://{closed}/collector/api/v1/lineage")), "{text}");
    assert_eq!(events(&dir.path().join("main.lineage.jsonl")).len(), 6);
}

/// Over https: the certificate is checked against the trust store (here the test CA through
/// SSL_CERT_FILE); an untrusted certificate is a warning, not a run failure.
#[test]
fn events_are_posted_over_https_to_a_trusted_endpoint_only() {
    let dir = tempfile::tempdir().unwrap();
    main_job(dir.path(), "main");
    let tls = root().join("tests/fixtures/tls");
    let log = dir.path().join("received.jsonl");
    let mut server = Command::new("python3")
        .arg(tls.join("serve.py"))
        .arg(&log)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut port = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let url = format!("https://127.0.0.1:{}", port.trim());
    let run = |trust: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_anonymize"));
        command.args(["run", "main.yaml", "--quiet"]).current_dir(dir.path()).env("OPENLINEAGE_URL", &url);
        // A proxy in the environment must not carry loopback requests.
        command.env("NO_PROXY", "127.0.0.1,localhost");
        command.env("OPENLINEAGE_API_KEY", "tls-key");
        match trust {
            Some(ca) => command.env("SSL_CERT_FILE", ca),
            // An empty trust store: nothing is trusted.
            None => command.env("SSL_CERT_FILE", dir.path().join("main.yaml")),
        };
        command.output().unwrap()
    };
    let trusted = run(Some(&tls.join("ca.pem")));
    let untrusted = run(None);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(trusted.status.code(), Some(0), "{}", stderr(&trusted));
    assert!(!stderr(&trusted).contains("warning"), "{}", stderr(&trusted));
    let received: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(received.len(), 2, "{received:?}");
    for (record, kind) in received.iter().zip(["START", "COMPLETE"]) {
        assert_eq!(record["path"], "/api/v1/lineage");
        assert_eq!(record["authorization"], "Bearer tls-key");
        let event: serde_json::Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
        assert_eq!(event["eventType"], kind);
    }
    assert_eq!(untrusted.status.code(), Some(0), "{}", stderr(&untrusted));
    assert!(stderr(&untrusted).contains("warning: the START lineage event was not sent"), "{}", stderr(&untrusted));
    assert!(!stderr(&untrusted).contains("tls-key"));
}

#[test]
fn verify_passes_on_untouched_files_and_names_a_changed_byte() {
    let dir = tempfile::tempdir().unwrap();
    dp_job(dir.path());
    let run = anonymize(dir.path(), &["run", "dp.yaml", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let ok = anonymize(dir.path(), &["verify", "dp.lineage.jsonl", "--json"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let verification: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    let roles: Vec<&str> =
        verification["files"].as_array().unwrap().iter().map(|f| f["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["job", "input", "output", "release", "report"]);

    for file in ["dp.parquet", "by_city.parquet", "dp.report.html", "dp.yaml"] {
        let path = dir.path().join(file);
        let original = std::fs::read(&path).unwrap();
        let mut changed = original.clone();
        let middle = changed.len() / 2;
        changed[middle] ^= 0x01;
        std::fs::write(&path, &changed).unwrap();
        let bad = anonymize(dir.path(), &["verify", "dp.lineage.jsonl"]);
        assert_eq!(bad.status.code(), Some(1), "{file}: {}", stderr(&bad));
        assert!(stderr(&bad).contains(&format!("CHANGED   {:<12}", roles_of(file))), "{file}: {}", stderr(&bad));
        assert!(stderr(&bad).contains("1 of 5 files differ"), "{}", stderr(&bad));
        std::fs::write(&path, &original).unwrap();
    }
    std::fs::remove_file(dir.path().join("by_city.parquet")).unwrap();
    let missing = anonymize(dir.path(), &["verify", "dp.lineage.jsonl"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("MISSING"), "{}", stderr(&missing));
    // A run id that is not in the file, and a file that is not lineage.
    let other = anonymize(dir.path(), &["verify", "dp.lineage.jsonl", "--run", "00000000-0000-4000-8000-000000000000"]);
    assert_eq!(other.status.code(), Some(1));
    assert!(stderr(&other).contains("holds no COMPLETE event with checksums for run"), "{}", stderr(&other));
    let not_lineage = anonymize(dir.path(), &["verify", "dp.yaml"]);
    assert_eq!(not_lineage.status.code(), Some(1));
    assert!(
        stderr(&not_lineage).contains("line 1 of `dp.yaml` is not an OpenLineage event"),
        "{}",
        stderr(&not_lineage)
    );
}

fn roles_of(file: &str) -> &'static str {
    match file {
        "dp.parquet" => "output",
        "by_city.parquet" => "release",
        "dp.report.html" => "report",
        _ => "job",
    }
}

/// Parquet outputs, releases included, say which run and job made them.
#[test]
fn parquet_outputs_and_releases_carry_the_run() {
    let dir = tempfile::tempdir().unwrap();
    dp_job(dir.path());
    let run = anonymize(dir.path(), &["run", "dp.yaml", "--quiet", "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    for file in ["dp.parquet", "by_city.parquet"] {
        let reader =
            parquet::file::reader::SerializedFileReader::new(std::fs::File::open(dir.path().join(file)).unwrap())
                .unwrap();
        use parquet::file::reader::FileReader;
        let metadata = reader.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        let get = |k: &str| metadata.iter().find(|m| m.key == k).and_then(|m| m.value.clone());
        assert_eq!(get("anonymize.run_id").as_deref(), summary["run_id"].as_str(), "{file}");
        assert_eq!(get("anonymize.job").as_deref(), Some("dp_releases"), "{file}");
        assert_eq!(get("anonymize.job_blake3").as_deref(), summary["job_blake3"].as_str(), "{file}");
    }
}

/// Every identifier value of the sample: names, e-mails, phones, birth dates, card numbers (as
/// substrings), customer ids and zips (as whole words of digits, since short digit runs occur
/// inside checksums by chance).
fn identifier_leaks(text: &str) -> Vec<String> {
    let raw = cells(&root().join("sample_data/customers.csv"));
    let names = column_names(&root().join("sample_data/customers.csv"));
    let index = |n: &str| names.iter().position(|c| c == n).unwrap();
    let mut found = Vec::new();
    for row in &raw {
        for column in ["full_name", "email", "phone", "birth_date", "card_number"] {
            if let Some(v) = row[index(column)].as_deref()
                && text.contains(v)
            {
                found.push(format!("{column} value"));
            }
        }
    }
    // Whole words of digits only: checksums and temporary folder names mix digits with
    // letters and cannot match by chance, and figures with a decimal point (a noise scale of
    // 10000.0000) are no identifier.
    let tokens: std::collections::HashSet<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '.')
        .map(|t| t.trim_matches('.'))
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()))
        .collect();
    for row in &raw {
        for column in ["customer_id", "zip"] {
            if let Some(v) = row[index(column)].as_deref()
                && tokens.contains(v)
            {
                found.push(format!("{column} value"));
            }
        }
    }
    found
}

#[test]
fn reports_hold_no_identifier_value_in_either_format() {
    let dir = tempfile::tempdir().unwrap();
    main_job(dir.path(), "main");
    let run = anonymize(dir.path(), &["run", "main.yaml", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let html = std::fs::read_to_string(dir.path().join("main.report.html")).unwrap();
    // Markdown, chosen by flag; the default path then ends in .md.
    let text = std::fs::read_to_string(dir.path().join("main.yaml")).unwrap();
    write_job(
        dir.path(),
        "md.yaml",
        &text.replace("report: main.report.html\n", "").replace("main.parquet", "md.parquet"),
    );
    let run = anonymize(dir.path(), &["run", "md.yaml", "--quiet", "--report-format", "markdown"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let markdown = std::fs::read_to_string(dir.path().join("md.report.md")).unwrap();
    assert!(markdown.starts_with("# Privacy report: customers_daily\n"), "{markdown}");
    assert!(markdown.contains("| Column | What was done | Why | Type |"));
    assert!(!markdown.contains("<svg"));
    for (what, text) in [("html", &html), ("markdown", &markdown)] {
        assert_eq!(identifier_leaks(text), Vec::<String>::new(), "{what}");
        for expected in [
            "consent_analytics",
            "must be true and subjects on 1 opt-out or deletion list are excluded",
            "515 without consent",
            "117 whose subject",
            "card_number",
            "encrypt",
            "586859865f43fbb7",
        ] {
            assert!(text.contains(expected), "{what} lacks {expected}");
        }
    }
    // The check finds a planted value.
    let raw = cells(&root().join("sample_data/customers.csv"));
    assert_eq!(identifier_leaks(&format!("x{}y", raw[3][2].as_deref().unwrap())).len(), 1);
    assert_eq!(identifier_leaks(&format!("id {}.", raw[3][0].as_deref().unwrap())).len(), 1);
}

/// Headless Chromium with a fresh profile, every background request off; `extra` flags added.
fn chromium(profile: &Path, extra: &[String], page: &Path) -> std::process::Output {
    let binary = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("Chromium is installed (scripts/test.sh installs Debian's chromium)");
    Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

/// Console messages Chromium logged for the page, and the URLs it requested (from its
/// net log) other than the page itself.
fn browse(dir: &Path, page: &Path, name: &str) -> (Vec<String>, Vec<String>, PathBuf) {
    let net_log = dir.join(format!("{name}.netlog.json"));
    let shot = dir.join(format!("{name}.png"));
    let output = chromium(
        &dir.join(format!("{name}-profile")),
        &[
            format!("--log-net-log={}", net_log.display()),
            "--net-log-capture-mode=Everything".into(),
            format!("--screenshot={}", shot.display()),
            "--window-size=1100,1800".into(),
            "--virtual-time-budget=3000".into(),
        ],
        page,
    );
    let log = stderr(&output);
    let console: Vec<String> =
        log.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).map(str::to_string).collect();
    (console, page_requests(&net_log), shot_checked(shot, &log))
}

/// URLs the page asked for, from Chromium's net log: requests that have an initiator (the
/// page's own origin). Chromium's own background requests have none ("not an origin").
fn page_requests(net_log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(net_log).expect("Chromium wrote its net log");
    // A log cut short lacks its closing brackets.
    let log: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .unwrap();
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64().unwrap();
    let mut requests = Vec::new();
    for event in log["events"].as_array().unwrap() {
        let params = &event["params"];
        let url = params["url"].as_str().unwrap_or_default();
        if event["type"].as_u64() == Some(start_job)
            && !url.is_empty()
            && params["initiator"] != "not an origin"
            && !url.starts_with("file://")
            && !url.starts_with("data:")
        {
            requests.push(url.to_string());
        }
    }
    requests
}

fn shot_checked(shot: PathBuf, log: &str) -> PathBuf {
    assert!(shot.exists(), "no screenshot: {log}");
    shot
}

/// Pixels of a PNG that are not (nearly) the background, and the distinct colours.
fn ink(png_path: &Path) -> (usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buffer[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0;
    for p in pixels.chunks(channels) {
        colours.insert(p[..3.min(channels)].to_vec());
        if p.iter().take(3).any(|&c| c < 200) {
            inked += 1;
        }
    }
    (inked, colours.len())
}

/// `scripts/test.sh` sets `ANONYMIZE_SKIP_BROWSER` (with the reason) only where Chromium is
/// missing and cannot be installed; never in CI, where it is installed.
fn browser_skipped() -> bool {
    match std::env::var("ANONYMIZE_SKIP_BROWSER") {
        Ok(reason) if std::env::var_os("CI").is_none() => {
            println!("skipped: {reason}");
            true
        }
        _ => false,
    }
}

#[test]
fn the_report_renders_in_headless_chromium_without_errors_or_requests() {
    if browser_skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    three_jobs(d);
    for job in ["main.yaml", "adult.yaml", "dp.yaml"] {
        let run = anonymize(d, &["run", job, "--quiet", "--seed", "5"]);
        assert_eq!(run.status.code(), Some(0), "{job}: {}", stderr(&run));
    }
    for report in ["main.report.html", "adult.report.html", "dp.report.html"] {
        let page = d.join(report);
        let html = std::fs::read_to_string(&page).unwrap();
        // Nothing in the page could fetch anything.
        for reference in ["src=", "href=", "url(", "@import", "<script", "<link"] {
            assert!(!html.contains(reference), "{report} holds {reference}");
        }
        let (console, requests, shot) = browse(d, &page, report);
        assert_eq!(console, Vec::<String>::new(), "{report}: console messages");
        assert_eq!(requests, Vec::<String>::new(), "{report}: network requests");
        let (inked, colours) = ink(&shot);
        assert!(
            inked > 20_000 && colours > 20,
            "{report}: the screenshot looks blank ({inked} inked pixels, {colours} colours)"
        );
        assert_eq!(identifier_leaks(&html), Vec::<String>::new(), "{report}");
    }
    // Printed: Chromium's print to PDF gives pages with the report's text.
    let pdf = d.join("adult.pdf");
    let printed = chromium(
        &d.join("print-profile"),
        &[format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer".into()],
        &d.join("adult.report.html"),
    );
    let bytes = std::fs::read(&pdf).unwrap_or_else(|_| panic!("no PDF: {}", stderr(&printed)));
    // Page objects: `/Type /Page` not followed by `s` (that is the page tree).
    let pages = bytes
        .windows(12)
        .filter(|w| (w.starts_with(b"/Type /Page") && w[11] != b's') || (w.starts_with(b"/Type/Page") && w[10] != b's'))
        .count();
    assert!(bytes.starts_with(b"%PDF") && bytes.len() > 20_000 && pages >= 2, "{} bytes, {pages} pages", bytes.len());
    let adult = std::fs::read_to_string(d.join("adult.report.html")).unwrap();
    for chart in [
        "Class sizes in the output",
        "Re-identification risk before and after",
        "Information loss of generalized columns",
    ] {
        assert!(adult.contains(&format!("-title\">{chart}</title>")), "adult report lacks the chart {chart}");
    }
    assert!(adult.contains("declares no consent column and no opt-out or deletion list"));
    let dp = std::fs::read_to_string(d.join("dp.report.html")).unwrap();
    // Per-value noise on income (epsilon 1 over bounds 500,000 wide) swamps the values: said so.
    assert!(dp.contains("In income, spend_90d, signup_date the noise is wider than the bounds themselves"), "{dp}");
    for part in ["Epsilon spent and left", "Noise relative to each column", "NOT differentially private", "by_city"] {
        assert!(dp.contains(part), "dp report lacks {part}");
    }
}

/// The browser checks can fail: a page with a script error, a request and nothing drawn is
/// caught on each count.
#[test]
fn the_browser_checks_catch_errors_requests_and_blank_pages() {
    if browser_skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: the request is made and refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        format!(
            "<!DOCTYPE html><html><body style=\"background:#fff\"><img src=\"http://{}/pixel.png\">\
             <script>console.error('broken'); undefinedFunction();</script></body></html>",
            closed
        ),
    )
    .unwrap();
    let (console, requests, shot) = browse(dir.path(), &page, "bad");
    assert!(console.iter().any(|l| l.contains("broken")), "{console:?}");
    assert!(requests.iter().any(|u| u.contains("pixel.png")), "{requests:?}");
    let (inked, _) = ink(&shot);
    assert!(inked < 20_000, "{inked}");
}

/// Runs sharing one lineage file never interleave their lines.
#[test]
fn concurrent_runs_append_whole_events_to_a_shared_lineage_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut children = Vec::new();
    for i in 0..4 {
        let text = main_job_text(&format!("run{i}"), &format!("run{i}.parquet"))
            .replace(&format!("run{i}.lineage.jsonl"), "shared.lineage.jsonl");
        write_job(dir.path(), &format!("run{i}.yaml"), &text);
        children.push(
            Command::new(env!("CARGO_BIN_EXE_anonymize"))
                .args(["run", &format!("run{i}.yaml"), "--quiet"])
                .current_dir(dir.path())
                .env("ANONYMIZE_TEST_KEY", "11".repeat(32))
                .spawn()
                .unwrap(),
        );
    }
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let all = events(&dir.path().join("shared.lineage.jsonl"));
    assert_eq!(all.len(), 8);
    let mut runs: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for e in &all {
        runs.entry(e["run"]["runId"].as_str().unwrap().to_string())
            .or_default()
            .push(e["eventType"].as_str().unwrap().to_string());
    }
    assert_eq!(runs.len(), 4);
    assert!(runs.values().all(|kinds| kinds == &["START", "COMPLETE"]), "{runs:?}");
    let (ok, text) = validate(&[&dir.path().join("shared.lineage.jsonl")]);
    assert!(ok, "{text}");
}

/// A lineage file that cannot be written stops the run before it reads anything: the run
/// would otherwise leave no record.
#[test]
fn an_unwritable_lineage_file_stops_the_run_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let text = main_job_text("main", "main.parquet").replace("main.lineage.jsonl", "main.yaml/events.jsonl");
    write_job(dir.path(), "main.yaml", &text);
    let run = anonymize(dir.path(), &["run", "main.yaml", "--quiet"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("cannot append to the lineage file `main.yaml/events.jsonl`"), "{}", stderr(&run));
    assert!(!dir.path().join("main.parquet").exists() && !dir.path().join("main.report.html").exists());
}

/// The schemas the suite validates with are the shared OpenLineage spec, byte for byte, wherever
/// that spec sits beside the checkout (`../shared/openlineage-spec/`); a clean clone elsewhere
/// validates with the vendored copy alone, and says so; in CI (`CI` set), where `.ci/run` lays
/// `shared/` beside the clone, a missing spec is a failure rather than a silent pass.
#[test]
fn the_vendored_schemas_are_the_shared_spec() {
    let shared = root().join("../shared/openlineage-spec/spec");
    if !shared.join("OpenLineage.json").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs with ../shared beside the clone, but {} is missing",
            shared.display()
        );
        println!(
            "skipped: {} is not beside this checkout; the vendored schemas are used as they are",
            shared.display()
        );
        return;
    }
    let vendored = root().join("tests/openlineage");
    let mut compared = 0;
    for entry in std::fs::read_dir(shared.join("facets")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(vendored.join("facets").join(name)).unwrap(),
            "{name:?}"
        );
        compared += 1;
    }
    assert_eq!(
        std::fs::read(shared.join("OpenLineage.json")).unwrap(),
        std::fs::read(vendored.join("OpenLineage.json")).unwrap()
    );
    assert_eq!(compared, std::fs::read_dir(vendored.join("facets")).unwrap().count());
}

/// A driver that is not the command line (a notebook, a scheduler's Python task) gets the same
/// record through the library: START, the report, COMPLETE, and FAIL when the run fails, with
/// its observer told of each event.
#[test]
fn a_library_run_records_its_lineage_report_and_failure() {
    use anonymize::runner::recorded::{self, ReportTarget};
    use anonymize::runner::{RunObserver, RunOptions};
    use std::sync::{Arc, Mutex};
    #[derive(Default)]
    struct Told(Mutex<Vec<String>>);
    impl RunObserver for Told {
        fn lineage_event(&self, kind: &str) {
            self.0.lock().unwrap().push(kind.to_string());
        }
        fn warning(&self, message: &str) {
            self.0.lock().unwrap().push(format!("warning: {message}"));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_job(dir.path(), "lib.yaml", &main_job_text("lib", "lib.parquet"));
    let job = anonymize::job::load(&path).unwrap();
    let told = Arc::new(Told::default());
    let options = RunOptions { observer: Some(told.clone()), seed: Some(1), ..RunOptions::default() };
    let report = ReportTarget::of(&job, None);
    let summary = recorded::run(&job, &options, &report, &anonymize::lineage::Environment::default()).unwrap();
    assert_eq!(*told.0.lock().unwrap(), ["START", "COMPLETE"]);
    assert!(dir.path().join("lib.report.html").is_file());
    assert_eq!(summary.report.as_deref(), Some(report.path.to_str().unwrap()));
    let kinds: Vec<String> = events(&dir.path().join("lib.lineage.jsonl"))
        .iter()
        .map(|e| e["eventType"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["START", "COMPLETE"]);
    // The typed events read back whole: every field the file has, the types have.
    for line in events(&dir.path().join("lib.lineage.jsonl")) {
        let typed: anonymize::lineage::openlineage::RunEvent = serde_json::from_value(line.clone()).unwrap();
        assert_eq!(typed.to_json(), line);
    }

    // A report path taken by a folder: the run fails before reading, and says so in a FAIL event.
    std::fs::remove_file(dir.path().join("lib.report.html")).unwrap();
    std::fs::create_dir(dir.path().join("lib.report.html")).unwrap();
    told.0.lock().unwrap().clear();
    let error = recorded::run(&job, &options, &report, &anonymize::lineage::Environment::default()).unwrap_err();
    assert_eq!(*told.0.lock().unwrap(), ["START", "FAIL"], "{error}");
    let last = events(&dir.path().join("lib.lineage.jsonl")).pop().unwrap();
    assert_eq!(last["eventType"], "FAIL");
    let message = last["run"]["facets"]["errorMessage"]["message"].as_str().unwrap();
    assert_eq!(message, recorded::chain(&error));
}

/// A job with k-anonymity and an aggregate release reads its input twice (one census pass for
/// both, one output pass), a row-local job once.
#[test]
fn a_run_makes_one_census_pass_at_most() {
    use anonymize::runner::{RunObserver, RunOptions};
    use std::sync::{Arc, Mutex};
    #[derive(Default)]
    struct Passes(Mutex<Vec<&'static str>>);
    impl RunObserver for Passes {
        fn census_started(&self) {
            self.0.lock().unwrap().push("census");
        }
        fn output_started(&self, _: Option<u64>) {
            self.0.lock().unwrap().push("output");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let with_k = format!(
        "version: 1\nname: passes\ninput: {{ path: {} }}\nunlisted_columns: drop\n\
         columns:\n  customer_id: keep\n  gender: generalize\n  city: generalize\n\
         privacy:\n  k_anonymity: {{ k: 2, suppression_limit: 0.5 }}\n\
         \x20 budget: {{ ledger: budget.json, dataset: customers, epsilon: 10, delta: 1.0e-5 }}\n\
         aggregates:\n\
         \x20 - {{ name: by_city, path: by_city.csv, privacy_unit: customer_id, group_by: [city], epsilon: 1.0,\n\
         \x20     delta: 1.0e-6, measures: [count] }}\n\
         output: {{ path: passes.csv, overwrite: true }}\n",
        sample("customers.csv")
    );
    let main = main_job_text("main", "main.parquet");
    let plain = super::plain_job_text("plain", "plain.parquet");
    for (name, text, expected) in [
        ("with_k.yaml", with_k, &["census", "output"][..]),
        ("main.yaml", main, &["census", "output"][..]),
        ("plain.yaml", plain, &["output"][..]),
    ] {
        let path = write_job(dir.path(), name, &text);
        let job = anonymize::job::load(&path).unwrap();
        let passes = Arc::new(Passes::default());
        let options = RunOptions { observer: Some(passes.clone()), seed: Some(1), ..RunOptions::default() };
        drop(anonymize::runner::run(&job, &options).unwrap());
        assert_eq!(*passes.0.lock().unwrap(), expected, "{name}");
    }
}
