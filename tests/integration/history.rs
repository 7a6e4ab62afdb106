//! The audit history against a real SQLite file and a real PostgreSQL server
//! (started on 127.0.0.1 by scripts/test.sh, `POSTURE_TEST_POSTGRES_URL`;
//! each test gets a database of its own): append, diff, trend, migration
//! from the previous schema version, two concurrent writers; and a corrupt
//! or newer-schema history, which must not stop an audit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::Utc;
use posture::history::{schema, Location, Store};
use posture::report::model::Report;
use serde_json::Value;

use crate::support::{self, stderr, stdout};

/// The real binary with the history given; no history from the caller's environment.
fn posture_with_history(dir: &Path, history: &str, args: &[&str]) -> Output {
    history_command(dir, history, args).output().expect("the posture binary runs")
}

fn history_command(dir: &Path, history: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_posture"));
    command
        .args(args)
        .arg("--history")
        .arg(history)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("POSTURE_HISTORY")
        .env_remove("POSTURE_NO_HISTORY");
    command
}

/// The sample host with sshd's root login turned off: control 5.1.20 and
/// its resource pass here and fail in the sample.
fn fixed_sample(dir: &Path) -> PathBuf {
    fn fix(value: &mut Value) -> usize {
        match value {
            Value::Object(map) => {
                let mut fixed = 0;
                for (key, inner) in map.iter_mut() {
                    if key == "permitrootlogin" && inner == "yes" {
                        *inner = Value::from("no");
                        fixed += 1;
                    } else {
                        fixed += fix(inner);
                    }
                }
                fixed
            }
            Value::Array(items) => items.iter_mut().map(fix).sum(),
            _ => 0,
        }
    }
    let mut bundle = support::read_json(&support::sample_bundle());
    assert_eq!(fix(&mut bundle), 1, "the sample permits root logins once");
    let path = dir.join("fixed-facts.json");
    std::fs::write(&path, serde_json::to_vec(&bundle).expect("json")).expect("write bundle");
    path
}

fn audit(dir: &Path, history: &str, bundle: &Path, out: &str) -> Value {
    let output =
        posture_with_history(dir, history, &["audit", "--facts", bundle.to_str().expect("path"), "--out", out]);
    assert_eq!(output.status.code(), Some(1), "the sample fails some controls: {}", stderr(&output));
    assert!(stderr(&output).contains("recorded run"), "{}", stderr(&output));
    support::read_json(&dir.join(out).join("report.json"))
}

fn run_json(dir: &Path, history: &str, args: &[&str]) -> Value {
    let output = posture_with_history(dir, history, args);
    assert_eq!(output.status.code(), Some(0), "posture {args:?}: {}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)))
}

fn changes_of(list: &Value, kind: &str) -> Vec<String> {
    list.as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["kind"] == kind)
        .map(|c| {
            format!(
                "{}{}",
                c["control"].as_str().unwrap_or_default(),
                c["resource"].as_str().map(|r| format!(" {r}")).unwrap_or_default()
            )
        })
        .collect()
}

/// Two audits (fixed, then the sample) and everything read back: the second
/// report's changes, `history`, `diff` (default runs, prefixes, JSON and
/// text) and `trend` (text, JSON, HTML).
fn append_diff_and_trend(history: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let fixed = fixed_sample(dir.path());
    let first = audit(dir.path(), history, &fixed, "first");
    assert!(first["changes"].is_null(), "nothing to compare the first run with");
    let second = audit(dir.path(), history, &support::sample_bundle(), "second");
    let (first_id, second_id) = (first["run"]["id"].as_str().expect("id"), second["run"]["id"].as_str().expect("id"));

    // The report says what changed since the first run.
    let changes = &second["changes"];
    assert_eq!(changes["previous_run"]["id"], first_id);
    assert_eq!(changes_of(&changes["controls"], "newly_failing"), ["5.1.20"]);
    assert_eq!(changes["counts"]["controls"]["newly_failing"], 1);
    assert_eq!(changes["counts"]["controls"]["added"], 0);
    assert_eq!(changes_of(&changes["resources"], "newly_failing"), ["5.1.20 sshd PermitRootLogin"]);
    let html = std::fs::read_to_string(dir.path().join("second/report.html")).expect("html");
    assert!(html.contains("Changes since the previous run") && html.contains(first_id), "changes in the HTML");
    let markdown = std::fs::read_to_string(dir.path().join("second/summary.md")).expect("md");
    assert!(markdown.contains("1 control newly failing") && markdown.contains("`5.1.20`"), "{markdown}");

    // `posture history`: newest first, with counts.
    let runs = run_json(dir.path(), history, &["history", "--format", "json"]);
    let ids: Vec<&str> = runs.as_array().expect("runs").iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(ids, [second_id, first_id]);
    assert_eq!(runs[0]["controls"]["fail"], second["summary"]["controls"]["fail"]);
    assert_eq!(runs[0]["pass_rate"], second["summary"]["pass_rate"]);
    assert_eq!(runs[1]["controls"]["pass"], first["summary"]["controls"]["pass"]);
    let text = posture_with_history(dir.path(), history, &["history", "--limit", "1"]);
    assert!(stdout(&text).contains(second_id) && !stdout(&text).contains(first_id), "{}", stdout(&text));

    // `posture diff`: the last two runs by default, either way round by id prefix.
    let diff = run_json(dir.path(), history, &["diff", "--format", "json"]);
    assert_eq!((diff["from"]["id"].as_str(), diff["to"]["id"].as_str()), (Some(first_id), Some(second_id)));
    assert_eq!(changes_of(&diff["controls"], "newly_failing"), ["5.1.20"]);
    let back = run_json(dir.path(), history, &["diff", &second_id[..8], &first_id[..10], "--format", "json"]);
    assert_eq!(changes_of(&back["controls"], "fixed"), ["5.1.20"]);
    assert_eq!(changes_of(&back["resources"], "fixed"), ["5.1.20 sshd PermitRootLogin"]);
    let from_first = run_json(dir.path(), history, &["diff", first_id, "--format", "json"]);
    assert_eq!(from_first["to"]["id"], second_id, "RUN_A alone: compared with the newest run");
    let text = posture_with_history(dir.path(), history, &["diff"]);
    assert!(stdout(&text).contains("newly failing") && stdout(&text).contains("cis-debian-linux-12:5.1.20"));
    let unknown = posture_with_history(dir.path(), history, &["diff", "ffffffff"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no run 'ffffffff'"), "{}", stderr(&unknown));

    // `posture trend`: oldest first; the HTML page has the chart inline.
    let trend = run_json(dir.path(), history, &["trend", "--since", "1d", "--format", "json", "--html", "trend.html"]);
    let rates: Vec<&Value> = trend.as_array().expect("points").iter().map(|p| &p["pass_rate"]).collect();
    assert_eq!(rates, [&first["summary"]["pass_rate"], &second["summary"]["pass_rate"]]);
    let page = std::fs::read_to_string(dir.path().join("trend.html")).expect("trend page");
    assert!(page.contains("<svg") && page.contains("<polyline") && page.contains(second_id), "the chart");
    assert!(!page.contains("<script") && !page.contains("<link"), "self-contained");
    let table = posture_with_history(dir.path(), history, &["trend", "--benchmark", "cis-debian-linux-12"]);
    assert_eq!(stdout(&table).lines().count(), 3, "{}", stdout(&table));
    let other = run_json(dir.path(), history, &["trend", "--benchmark", "pci-dss-v4.0.1", "--format", "json"]);
    assert_eq!(other, Value::Array(Vec::new()));
}

/// A history at schema version 1 holding one run, written with the v1
/// statements; opening it migrates it to the current version, the run
/// survives (counts backfilled for trend) and an audit compares with it.
fn migration_from_version_1(history: &str, execute_batch: &dyn Fn(&str)) {
    assert_eq!(schema::MIGRATIONS[0].version, 1);
    // Version 3 added `runs.profiles`: a run recorded before it audited whole benchmarks.
    assert_eq!(schema::CURRENT_VERSION, 3, "add a migration test for the new version");
    execute_batch(schema::MIGRATIONS[0].sql);
    // The sample's 5.1.20 passing, a control that no longer exists, one resource.
    execute_batch(
        "INSERT INTO schema_version (version) VALUES (1);
         INSERT INTO runs (id, started_at, finished_at, tool_version, content_hash, facts_origin, exit_code, benchmarks, targets)
         VALUES ('00000000-0000-4000-8000-000000000001', '2026-01-05T10:00:00.000000Z', '2026-01-05T10:00:02.000000Z',
                 '0.0.9', 'abc', 'collected', 1, 'cis-debian-linux-12', 'web-legacy-01');
         INSERT INTO run_controls (run_id, benchmark, control, target, status) VALUES
           ('00000000-0000-4000-8000-000000000001', 'cis-debian-linux-12', '5.1.20', 'web-legacy-01', 'pass'),
           ('00000000-0000-4000-8000-000000000001', 'cis-debian-linux-12', '9.9.9', 'web-legacy-01', 'fail'),
           ('00000000-0000-4000-8000-000000000001', 'cis-debian-linux-12', '9.9.9', 'other-host', 'error'),
           ('00000000-0000-4000-8000-000000000001', 'cis-debian-linux-12', '9.9.10', '', 'manual');
         INSERT INTO run_findings (run_id, benchmark, control, check_id, target, resource, status, message) VALUES
           ('00000000-0000-4000-8000-000000000001', 'cis-debian-linux-12', '5.1.20', 'linux_sshd_root_login_disabled',
            'web-legacy-01', 'sshd PermitRootLogin', 'pass', 'PermitRootLogin is ''no''');",
    );
    let dir = tempfile::tempdir().expect("tmp");
    // Reading migrates: the v1 run has its counts (9.9.9 is `fail`, the worst of its targets).
    let trend = run_json(dir.path(), history, &["trend", "--format", "json"]);
    assert_eq!(trend.as_array().expect("points").len(), 1, "{trend}");
    assert_eq!(trend[0]["run_id"], "00000000-0000-4000-8000-000000000001");
    let counts = &trend[0]["controls"];
    assert_eq!(
        (counts["pass"].as_u64(), counts["fail"].as_u64(), counts["manual"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(trend[0]["pass_rate"], 0.5);
    // An audit of the same benchmark and target is compared with the v1 run.
    let report = audit(dir.path(), history, &support::sample_bundle(), "r");
    let changes = &report["changes"];
    assert_eq!(changes["previous_run"]["id"], "00000000-0000-4000-8000-000000000001");
    assert_eq!(changes_of(&changes["controls"], "newly_failing"), ["5.1.20"]);
    assert_eq!(changes_of(&changes["controls"], "removed"), ["9.9.10", "9.9.9", "9.9.9"]);
    assert_eq!(changes_of(&changes["resources"], "newly_failing"), ["5.1.20 sshd PermitRootLogin"]);
    let runs = run_json(dir.path(), history, &["history", "--format", "json"]);
    assert_eq!(runs.as_array().expect("runs").len(), 2);
    assert_eq!(runs[1]["profiles"], serde_json::json!([]), "the v1 run is of the whole benchmark: {runs}");
}

/// A report to append from threads, each a new run of the same scope.
fn sample_report(dir: &Path) -> Report {
    let output = support::posture(
        dir,
        &["audit", "--facts", support::sample_bundle().to_str().expect("path"), "--format", "json", "--out", "base"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = std::fs::read_to_string(dir.join("base/report.json")).expect("report");
    serde_json::from_str(&text).expect("report.json is a Report")
}

/// Two audit processes at once, then several threads opening (the first
/// ones migrating a new history at the same time) and appending at once:
/// every run lands, each whole.
fn concurrent_writers(history: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("path");
    let mut children: Vec<_> = ["a", "b"]
        .iter()
        .map(|out| {
            history_command(dir.path(), history, &["audit", "--facts", bundle, "--out", out, "--quiet"])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn posture")
        })
        .collect();
    let outputs: Vec<Output> = children.drain(..).map(|c| c.wait_with_output().expect("wait")).collect();
    for output in &outputs {
        assert_eq!(output.status.code(), Some(1), "both audits succeed: {}", stderr(output));
    }
    let runs = run_json(dir.path(), history, &["history", "--format", "json"]);
    assert_eq!(runs.as_array().expect("runs").len(), 2, "both runs landed: {runs}");

    let base = sample_report(dir.path());
    let location = Location::parse(history);
    const THREADS: usize = 4;
    const RUNS_EACH: usize = 3;
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            let (base, location) = (&base, &location);
            scope.spawn(move || {
                let mut store = Store::open(location).expect("open while others write");
                for _ in 0..RUNS_EACH {
                    let mut report = base.clone();
                    report.run.id = uuid::Uuid::new_v4().to_string();
                    report.run.started_at = Utc::now();
                    store.append(&report).expect("append while others append");
                }
            });
        }
    });
    let mut store = Store::open(&location).expect("open");
    let runs = store.runs(100).expect("runs");
    assert_eq!(runs.len(), 2 + THREADS * RUNS_EACH);
    let expected = posture::history::Snapshot::of_report(&base);
    for run in &runs {
        assert_eq!(run.controls.fail, base.summary.controls.fail, "run {} is whole", run.id);
        assert_eq!(store.snapshot(&run.id).expect("snapshot"), expected, "run {} is whole", run.id);
    }
    let latest = &runs[0];
    let previous = store.previous_run(&latest.scope(), &latest.started_at, &latest.id).expect("query").expect("one");
    assert_eq!(previous.id, runs[1].id);
}

// ---------------------------------------------------------------- SQLite

fn sqlite_history(dir: &Path) -> String {
    dir.join("nested").join("history.sqlite").to_str().expect("path").to_owned()
}

#[test]
fn sqlite_append_diff_and_trend() {
    let dir = tempfile::tempdir().expect("tmp");
    append_diff_and_trend(&sqlite_history(dir.path()));
}

#[test]
fn sqlite_migration_from_version_1() {
    let dir = tempfile::tempdir().expect("tmp");
    let history = sqlite_history(dir.path());
    std::fs::create_dir_all(Path::new(&history).parent().expect("parent")).expect("mkdir");
    let connection = rusqlite::Connection::open(&history).expect("create a v1 file");
    migration_from_version_1(&history, &|sql| connection.execute_batch(sql).expect("v1 SQL"));
    drop(connection);
    let version: i64 = rusqlite::Connection::open(&history)
        .expect("open")
        .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
        .expect("version");
    assert_eq!(version, schema::CURRENT_VERSION);
}

#[test]
fn sqlite_two_concurrent_writers() {
    let dir = tempfile::tempdir().expect("tmp");
    concurrent_writers(&sqlite_history(dir.path()));
}

#[test]
fn sqlite_corrupt_history_does_not_stop_the_audit() {
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("path");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.path().join("garbage.sqlite"), &garbage).expect("write");
    // A real history cut in half: its pages point past the end of the file.
    let whole = dir.path().join("whole.sqlite");
    audit(dir.path(), whole.to_str().expect("path"), Path::new(bundle), "whole");
    let bytes = std::fs::read(&whole).expect("read");
    std::fs::write(dir.path().join("truncated.sqlite"), &bytes[..bytes.len() / 2]).expect("write");
    for name in ["garbage.sqlite", "truncated.sqlite"] {
        let path = dir.path().join(name);
        let out = format!("out-{name}");
        let output = posture_with_history(
            dir.path(),
            path.to_str().expect("path"),
            &["audit", "--facts", bundle, "--out", &out],
        );
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "a history problem makes the exit code 2: {err}");
        assert!(
            err.contains(&format!("posture: history: {}: not a posture history database", path.display())),
            "{err}"
        );
        for file in ["report.html", "report.json", "junit.xml", "summary.md"] {
            assert!(dir.path().join(&out).join(file).is_file(), "{file} is written all the same");
        }
        let report = support::read_json(&dir.path().join(&out).join("report.json"));
        assert_eq!(report["run"]["exit_code"], 2);
        assert!(report["changes"].is_null());
        let listing = posture_with_history(dir.path(), path.to_str().expect("path"), &["history"]);
        assert_eq!(listing.status.code(), Some(2));
        assert!(stderr(&listing).contains(&path.display().to_string()), "{}", stderr(&listing));
        assert!(!std::fs::read(&path).expect("still there").is_empty(), "the file is left as it was");
    }
}

#[test]
fn sqlite_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("future.sqlite");
    let future = schema::CURRENT_VERSION + 1;
    let connection = rusqlite::Connection::open(&path).expect("create");
    connection
        .execute_batch(&format!("CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES ({future}); CREATE TABLE runs_v3 (x TEXT);"))
        .expect("future schema");
    drop(connection);
    let bundle = support::sample_bundle();
    let output = posture_with_history(
        dir.path(),
        path.to_str().expect("path"),
        &["audit", "--facts", bundle.to_str().expect("path")],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&path.display().to_string())
            && err.contains(&format!("schema is version {future}"))
            && err.contains(&format!("version {}", schema::CURRENT_VERSION)),
        "names the file and both versions: {err}"
    );
    assert!(dir.path().join("posture-report/report.html").is_file());
    let version: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
        .expect("version");
    assert_eq!(version, future, "not touched");
}

#[test]
fn history_off_and_missing_history_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("h.sqlite");
    let bundle = support::sample_bundle();
    let output = history_command(
        dir.path(),
        path.to_str().expect("path"),
        &["audit", "--facts", bundle.to_str().expect("path"), "--no-history"],
    )
    .output()
    .expect("runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(!path.exists(), "--no-history writes no history");
    let listing = posture_with_history(dir.path(), path.to_str().expect("path"), &["history"]);
    assert_eq!(listing.status.code(), Some(2));
    assert!(stderr(&listing).contains("no history there yet"), "{}", stderr(&listing));
    assert!(!path.exists(), "reading commands create nothing");
    // posture.toml's `history`, relative to the file.
    std::fs::write(dir.path().join("posture.toml"), "history = \"team/h.sqlite\"\n").expect("config");
    let output = Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["audit", "--facts", bundle.to_str().expect("path"), "--quiet"])
        .current_dir(dir.path())
        .env_remove("POSTURE_HISTORY")
        .env_remove("POSTURE_NO_HISTORY")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(dir.path().join("team/h.sqlite").is_file(), "the configured history is used");
}

// ------------------------------------------------------------ PostgreSQL

/// A database of its own on the test server, dropped at the end.
struct PostgresDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    /// `None` (with how to start a server) when none is configured outside
    /// CI; in CI a missing server fails the test.
    fn create() -> Option<Self> {
        let Ok(server_url) = std::env::var("POSTURE_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "POSTURE_TEST_POSTGRES_URL is not set: in CI the PostgreSQL server must run (scripts/test.sh starts it)"
            );
            eprintln!(
                "skipped: no PostgreSQL server. Start one with `export POSTURE_TEST_POSTGRES_URL=$(scripts/postgres.sh)` or run scripts/test.sh"
            );
            return None;
        };
        let name = format!("posture_test_{}", uuid::Uuid::new_v4().simple());
        let mut client = postgres::Client::connect(&server_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("the PostgreSQL server of POSTURE_TEST_POSTGRES_URL ({server_url}): {e}"));
        client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a database for the test");
        let url = with_database(&server_url, &name);
        Some(Self { server_url, name, url })
    }

    fn execute_batch(&self, sql: &str) {
        let mut client = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
        client.batch_execute(sql).expect("SQL");
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.server_url, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// The URL with its database replaced.
fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").expect("a URL") + 3;
    let path_start = url[authority_start..].find(['/', '?']).map_or(url.len(), |i| authority_start + i);
    let query = url[path_start..].find('?').map_or("", |i| &url[path_start + i..]);
    format!("{}/{database}{query}", &url[..path_start])
}

#[test]
fn postgres_append_diff_and_trend() {
    let Some(database) = PostgresDatabase::create() else { return };
    append_diff_and_trend(&database.url);
}

#[test]
fn postgres_migration_from_version_1() {
    let Some(database) = PostgresDatabase::create() else { return };
    migration_from_version_1(&database.url, &|sql| database.execute_batch(sql));
    let mut client = postgres::Client::connect(&database.url, postgres::NoTls).expect("connect");
    let version: i64 = client.query_one("SELECT version FROM schema_version", &[]).expect("version").get(0);
    assert_eq!(version, schema::CURRENT_VERSION);
}

#[test]
fn postgres_two_concurrent_writers() {
    let Some(database) = PostgresDatabase::create() else { return };
    concurrent_writers(&database.url);
}

#[test]
fn postgres_newer_schema_and_unreachable_server_do_not_stop_the_audit() {
    let Some(database) = PostgresDatabase::create() else { return };
    let future = schema::CURRENT_VERSION + 1;
    database.execute_batch(&format!(
        "CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES ({future});"
    ));
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = support::sample_bundle();
    let output = posture_with_history(dir.path(), &database.url, &["audit", "--facts", bundle.to_str().expect("path")]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains(&database.name) && err.contains(&format!("schema is version {future}")), "{err}");
    assert!(dir.path().join("posture-report/report.json").is_file());

    // Nothing listens on port 9 of loopback; the password is not printed.
    let unreachable = "postgres://posture:hunter2@127.0.0.1:9/posture";
    let output = posture_with_history(
        dir.path(),
        unreachable,
        &["audit", "--facts", bundle.to_str().expect("path"), "--out", "u"],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("posture: history: postgres://posture:***@127.0.0.1:9/posture: cannot open"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(dir.path().join("u/report.html").is_file());
}

#[test]
fn postgres_urls_get_their_database_replaced() {
    assert_eq!(with_database("postgres://u@127.0.0.1:5057/posture", "t"), "postgres://u@127.0.0.1:5057/t");
    assert_eq!(with_database("postgres://u@h:1/db?sslmode=disable", "t"), "postgres://u@h:1/t?sslmode=disable");
    assert_eq!(with_database("postgres://u@h", "t"), "postgres://u@h/t");
}

#[test]
fn history_rejects_a_foreign_sqlite_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("app.sqlite");
    rusqlite::Connection::open(&path).expect("create").execute_batch("CREATE TABLE users (name TEXT);").expect("sql");
    let listing = posture_with_history(dir.path(), path.to_str().expect("path"), &["history"]);
    assert_eq!(listing.status.code(), Some(2));
    assert!(stderr(&listing).contains("not a posture history: it has tables (users)"), "{}", stderr(&listing));
}
