//! Issue 9's smaller holes, each through the binary in a temporary folder:
//! capped finding messages, names escaped in Markdown and on the terminal,
//! a foreign SQLite file left untouched, a read-only history listed, the
//! recorded exit code equal to the one posture exits with, path options
//! that say what a path is, `-q` showing the problems a fatal error points
//! at, and out-of-range `--since` / `--limit`.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{self, posture, stderr, stdout};

/// The real binary with the history given (support::posture turns it off).
fn with_history(dir: &Path, history: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(args)
        .arg("--history")
        .arg(history)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("POSTURE_HISTORY")
        .env_remove("POSTURE_NO_HISTORY")
        .output()
        .expect("the posture binary runs")
}

/// The sample bundle with its target renamed to `name`.
fn bundle_named(dir: &Path, name: &str) -> std::path::PathBuf {
    let mut bundle = support::read_json(&support::sample_bundle());
    bundle["targets"][0]["name"] = serde_json::Value::from(name);
    let path = dir.join("facts.json");
    std::fs::write(&path, serde_json::to_vec(&bundle).expect("json")).expect("write bundle");
    path
}

fn audit_bundle(dir: &Path, history: &Path, bundle: &Path, out: &str) -> Output {
    let bundle = bundle.to_str().expect("utf-8 path");
    with_history(dir, history, &["audit", "--facts", bundle, "--out", out])
}

/// Whether mount namespaces can be made here (root, CAP_SYS_ADMIN); in CI
/// their absence fails the test, as the SSH tests do.
fn mount_namespaces() -> bool {
    let works = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works && std::env::var_os("CI").is_some() {
        panic!("this test needs `unshare --mount` (util-linux, root with CAP_SYS_ADMIN)");
    }
    if !works {
        eprintln!("skipping: `unshare --mount` does not work here");
    }
    works
}

/// A SQLite file of another application, in rollback-journal mode.
fn foreign_sqlite(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("create");
    conn.execute_batch(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('mine');",
    )
    .expect("fill");
}

#[test]
fn a_foreign_sqlite_file_is_refused_and_left_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = dir.path().join("other-app.db");
    foreign_sqlite(&history);
    let before = std::fs::read(&history).expect("read");
    let bundle = support::sample_bundle();
    let audit = audit_bundle(dir.path(), &history, &bundle, "out");
    assert_eq!(audit.status.code(), Some(2), "{}", stderr(&audit));
    assert!(stderr(&audit).contains("not a posture history"), "{}", stderr(&audit));
    for args in [&["history"][..], &["diff"], &["trend"]] {
        let read = with_history(dir.path(), &history, args);
        assert_eq!(read.status.code(), Some(2), "{args:?}: {}", stderr(&read));
        assert!(stderr(&read).contains("not a posture history"), "{args:?}: {}", stderr(&read));
    }
    assert_eq!(std::fs::read(&history).expect("read"), before, "the foreign file was changed");
    assert!(!dir.path().join("other-app.db-wal").exists(), "a WAL file was made beside it");
    let conn = rusqlite::Connection::open(&history).expect("open");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).expect("journal mode");
    assert_eq!(mode, "delete", "the foreign file's journal mode was changed");

    // A file with another application's id and no tables is foreign too.
    let tagged = dir.path().join("tagged.db");
    rusqlite::Connection::open(&tagged).expect("create").pragma_update(None, "application_id", 42).expect("id");
    let before = std::fs::read(&tagged).expect("read");
    let audit = audit_bundle(dir.path(), &tagged, &bundle, "out2");
    assert!(stderr(&audit).contains("application id is 0x2a"), "{}", stderr(&audit));
    assert_eq!(std::fs::read(&tagged).expect("read"), before);
}

#[test]
fn a_history_on_read_only_media_is_listed() {
    if !mount_namespaces() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let media = dir.path().join("media");
    std::fs::create_dir(&media).expect("mkdir");
    let history = media.join("history.sqlite");
    let bundle = support::sample_bundle();
    for out in ["a", "b"] {
        let audit = audit_bundle(dir.path(), &history, &bundle, out);
        assert_eq!(audit.status.code(), Some(1), "{}", stderr(&audit));
    }
    let binary = env!("CARGO_BIN_EXE_posture");
    let media = media.to_str().expect("utf-8");
    let history = history.to_str().expect("utf-8");
    // Inside a mount namespace: the folder bound read-only over itself,
    // then every reading command.
    let script = format!(
        "set -e; mount --bind {media} {media}; mount -o remount,bind,ro {media}; \
         touch {media}/probe 2>/dev/null && {{ echo 'still writable'; exit 9; }}; \
         {binary} history --history {history}; {binary} diff --history {history}; \
         {binary} trend --history {history}"
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env_remove("POSTURE_HISTORY")
        .env_remove("POSTURE_NO_HISTORY")
        .output()
        .expect("unshare runs");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("cis-debian-linux-12 on web-legacy-01").count(), 2, "{text}");
    assert!(text.contains("from ") && text.contains("to "), "diff output: {text}");
}

#[test]
fn history_and_trend_options_out_of_range_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = dir.path().join("h.sqlite");
    let audit = audit_bundle(dir.path(), &history, &support::sample_bundle(), "out");
    assert_eq!(audit.status.code(), Some(1), "{}", stderr(&audit));
    let since = with_history(dir.path(), &history, &["trend", "--since", "99999999999999d"]);
    assert_eq!(since.status.code(), Some(2));
    assert!(stderr(&since).contains("out of range: at most 36500d"), "{}", stderr(&since));
    let bad_unit = with_history(dir.path(), &history, &["trend", "--since", "3y"]);
    assert!(stderr(&bad_unit).contains("expected a number and a unit"), "{}", stderr(&bad_unit));
    let zero = with_history(dir.path(), &history, &["history", "--limit", "0"]);
    assert_eq!(zero.status.code(), Some(2), "{}", stdout(&zero));
    assert!(stderr(&zero).contains("--limit 0: show at least one run"), "{}", stderr(&zero));
    assert!(!stdout(&zero).contains("(no runs"), "{}", stdout(&zero));
    let one = with_history(dir.path(), &history, &["history", "--limit", "1"]);
    assert_eq!(one.status.code(), Some(0));
    assert!(stdout(&one).contains("web-legacy-01"), "{}", stdout(&one));
}

#[test]
fn path_options_say_what_the_path_is() {
    let dir = support::scratch(&[("file.txt", "x\n"), ("folder/keep", "")]);
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("utf-8");
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let cases: [(&[&str], &str); 8] = [
        (&["audit", "--facts", bundle, "--waivers", "folder"], "waivers file folder: is a directory, not a file"),
        (&["audit", "--facts", bundle, "--waivers", "missing.toml"], "waivers file missing.toml: no such file"),
        (&["audit", "--facts", "folder"], "--facts folder: is a directory, not a file"),
        (&["audit", "--facts", "fifo"], "--facts fifo: is a FIFO (named pipe), not a file"),
        (
            &["audit", "--facts", bundle, "--templates", "file.txt"],
            "--templates file.txt: is a regular file, not a directory",
        ),
        (&["audit", "--facts", bundle, "--sign", "folder"], "--sign folder: is a directory, not a file"),
        (&["audit", "--facts", bundle, "--config", "fifo"], "posture: error: fifo: is a FIFO (named pipe), not a file"),
        (&["verify", "folder", "--public-key", "fifo"], "--public-key fifo: is a FIFO (named pipe), not a file"),
    ];
    for (args, expected) in cases {
        let out = posture(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: expected {expected:?} in {}", stderr(&out));
    }
    let history = dir.path().join("folder");
    let listed = with_history(dir.path(), &history, &["history"]);
    assert!(stderr(&listed).contains("is a directory, not a file"), "{}", stderr(&listed));
}

#[test]
fn quiet_fatal_errors_still_show_the_problems_they_point_at() {
    let dir = support::scratch(&[("broken.toml", "[benchmark]\nid = \"broken\"\ntitle = = 1\n")]);
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("utf-8");
    let args = ["audit", "--content", ".", "--benchmark", "broken", "--facts", bundle];
    for quiet in [false, true] {
        let mut args = args.to_vec();
        if quiet {
            args.push("-q");
        }
        let out = posture(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("could not be loaded; see the problems above"), "{text}");
        let problem = text.find("content problem: ").unwrap_or_else(|| panic!("quiet={quiet}: no problem in {text}"));
        assert!(text[problem..].contains("broken.toml:3"), "quiet={quiet}: {text}");
        assert!(problem < text.find("see the problems above").expect("fatal line"), "{text}");
    }
}

#[test]
fn names_with_newlines_and_escapes_are_escaped_in_history_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = dir.path().join("h.sqlite");
    let name = "evil\n# Injected heading\x1b[2J\x1b]0;title\x07";
    let bundle = bundle_named(dir.path(), name);
    for out in ["a", "b"] {
        let audit = audit_bundle(dir.path(), &history, &bundle, out);
        assert_eq!(audit.status.code(), Some(1), "{}", stderr(&audit));
        assert!(!stderr(&audit).contains('\x1b'), "{}", stderr(&audit));
    }
    let markdown = std::fs::read_to_string(dir.path().join("b/summary.md")).expect("summary.md");
    assert!(!markdown.lines().any(|l| l.starts_with("# Injected")), "{markdown}");
    assert!(!markdown.contains('\x1b') && !markdown.contains('\x07'), "{markdown:?}");
    assert!(markdown.contains("`evil # Injected heading\\x1b[2J\\x1b]0;title\\x07`"), "{markdown}");
    // XML 1.0 cannot hold ESC or BEL even as references: junit.xml and
    // report.html write them as text, and junit.xml stays readable.
    let junit = std::fs::read_to_string(dir.path().join("b/junit.xml")).expect("junit.xml");
    let parsed = roxmltree::Document::parse(&junit).unwrap_or_else(|err| panic!("junit.xml: {err}\n{junit}"));
    let shown = |text: &str| text.contains("Injected heading\\x1b[2J\\x1b]0;title\\x07");
    let named =
        parsed.descendants().any(|node| node.attributes().any(|a| shown(a.value())) || node.text().is_some_and(shown));
    assert!(named, "the target's name, escaped, is in junit.xml:\n{junit}");
    let html = std::fs::read_to_string(dir.path().join("b/report.html")).expect("report.html");
    assert!(!html.contains('\x1b') && !html.contains('\x07') && html.contains("\\x1b[2J"), "report.html");
    for args in [&["history"][..], &["diff"], &["trend"]] {
        let out = with_history(dir.path(), &history, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{args:?}: {text:?}");
        assert!(!text.lines().any(|l| l.starts_with("# Injected")), "{args:?}: {text}");
        assert!(text.contains("\\x1b[2J"), "{args:?}: {text}");
    }
}

#[test]
fn the_recorded_exit_code_is_the_one_posture_exits_with_when_an_output_fails() {
    let dir = support::scratch(&[("file.txt", "x\n")]);
    let history = dir.path().join("h.sqlite");
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("utf-8");
    // The archive's folder is a file: the last output fails.
    let out =
        with_history(dir.path(), &history, &["audit", "--facts", bundle, "--out", "o", "--pack", "file.txt/p.tar.gz"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--pack"), "{}", stderr(&out));
    let listed = with_history(dir.path(), &history, &["history", "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_str(&stdout(&listed)).expect("json");
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 1, "the run must be recorded: {runs:?}");
    assert_eq!(runs[0]["exit_code"], 2, "{runs:?}");
    // A clean run keeps its own exit code (1: findings fail).
    let ok = with_history(dir.path(), &history, &["audit", "--facts", bundle, "--out", "o2"]);
    assert_eq!(ok.status.code(), Some(1), "{}", stderr(&ok));
    let listed = with_history(dir.path(), &history, &["history", "--format", "json", "--limit", "1"]);
    let runs: serde_json::Value = serde_json::from_str(&stdout(&listed)).expect("json");
    assert_eq!(runs[0]["exit_code"], 1, "{runs:?}");
}

const HUGE_CHECK: &str = "//! id = \"linux_test_huge\"\n//! title = \"t\"\n//! severity = \"low\"\n\
//! resource_type = \"sysctl\"\n//! facts = [\"host.sysctl\"]\n//! rationale = \"r\"\n//! remediation = \"m\"\n\
\nfn check(facts) {\n    let s = \"x\";\n    for i in 0..26 { s += s; }\n    [fail(s, s)]\n}\n";

#[test]
fn a_64_mib_finding_message_is_capped_in_every_report() {
    let dir = support::scratch(&[
        (
            "huge-bench.toml",
            &support::linux_benchmark("huge-bench", "Huge messages", &[("A 64 MiB message", "linux_test_huge")]),
        ),
        ("checks/linux/test/linux_test_huge.rhai", HUGE_CHECK),
    ]);
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("utf-8");
    let out = posture(
        dir.path(),
        &[
            "audit",
            "--content",
            ".",
            "--benchmark",
            "huge-bench",
            "--facts",
            bundle,
            "--out",
            "o",
            "--pack",
            "p.tar.gz",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("o/report.json"));
    let finding = &support::control(&report, "1.1")["findings"][0];
    let message = finding["message"].as_str().expect("message");
    assert!(message.ends_with("… [truncated: 67108864 bytes]"), "{}", &message[message.len().saturating_sub(80)..]);
    assert!(message.len() <= 4 * 1024 + 40, "{}", message.len());
    assert!(finding["resource"].as_str().expect("resource").ends_with("… [truncated: 67108864 bytes]"));
    let mut total = 0;
    for entry in std::fs::read_dir(dir.path().join("o")).expect("out") {
        total += entry.expect("entry").metadata().expect("metadata").len();
    }
    total += std::fs::metadata(dir.path().join("p.tar.gz")).expect("pack").len();
    assert!(total < 8 * 1024 * 1024, "the outputs take {total} bytes");
}
