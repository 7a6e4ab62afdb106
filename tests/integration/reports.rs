//! Reports rendered from the sample bundle: insta snapshots (times, run ids
//! and paths scrubbed), the shipped JSON Schema kept current, and the
//! committed sample reports kept current.

use std::path::Path;

use crate::support::{self, posture, stderr};

/// Replaces what changes from run to run: run id, timestamps, temp paths.
fn scrub(text: &str, dir: &Path) -> String {
    scrub_patterns(&text.replace(&dir.display().to_string(), "[DIR]"))
}

/// Scrubs RFC 3339 timestamps and UUIDs without a regex dependency.
fn scrub_patterns(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = timestamp_at(bytes, i) {
            out.push_str("[TIME]");
            i += len;
        } else if let Some(len) = uuid_at(bytes, i) {
            out.push_str("[RUN-ID]");
            i += len;
        } else {
            let ch = text[i..].chars().next().expect("char");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn digits(bytes: &[u8], at: usize, n: usize) -> bool {
    at + n <= bytes.len() && bytes[at..at + n].iter().all(u8::is_ascii_digit)
}

/// `2026-11-22T23:39:12.123456Z` or `...+00:00`.
fn timestamp_at(b: &[u8], i: usize) -> Option<usize> {
    if !(digits(b, i, 4)
        && b.get(i + 4) == Some(&b'-')
        && digits(b, i + 5, 2)
        && b.get(i + 7) == Some(&b'-')
        && digits(b, i + 8, 2)
        && b.get(i + 10) == Some(&b'T')
        && digits(b, i + 11, 2)
        && b.get(i + 13) == Some(&b':')
        && digits(b, i + 14, 2)
        && b.get(i + 16) == Some(&b':')
        && digits(b, i + 17, 2))
    {
        return None;
    }
    let mut j = i + 19;
    if b.get(j) == Some(&b'.') {
        j += 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
    }
    if b.get(j) == Some(&b'Z') {
        j += 1;
    } else if matches!(b.get(j), Some(b'+') | Some(b'-'))
        && digits(b, j + 1, 2)
        && b.get(j + 3) == Some(&b':')
        && digits(b, j + 4, 2)
    {
        j += 6;
    }
    Some(j - i)
}

fn uuid_at(b: &[u8], i: usize) -> Option<usize> {
    let groups = [8, 4, 4, 4, 12];
    let mut j = i;
    for (n, len) in groups.iter().enumerate() {
        if !(j + len <= b.len() && b[j..j + len].iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())) {
            return None;
        }
        j += len;
        if n < 4 {
            if b.get(j) != Some(&b'-') {
                return None;
            }
            j += 1;
        }
    }
    Some(j - i)
}

fn render_sample(dir: &Path) {
    let bundle = support::sample_bundle();
    let out = posture(dir, &["audit", "--facts", bundle.to_str().expect("path"), "--out", "r", "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn snapshots_of_the_sample_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    render_sample(dir.path());
    for file in ["summary.md", "junit.xml", "report.json", "report.html"] {
        let text = std::fs::read_to_string(dir.path().join("r").join(file)).expect("report file");
        insta::assert_snapshot!(file, scrub(&text, dir.path()));
    }
}

#[test]
fn the_committed_sample_reports_are_current() {
    let dir = tempfile::tempdir().expect("tmp");
    render_sample(dir.path());
    let committed = support::repo_root().join("samples/misconfigured-host/reports");
    let update = std::env::var_os("POSTURE_UPDATE_SAMPLES").is_some();
    let mut stale = Vec::new();
    for file in ["summary.md", "junit.xml", "report.json", "report.html"] {
        let fresh = std::fs::read_to_string(dir.path().join("r").join(file)).expect("fresh");
        if update {
            std::fs::create_dir_all(&committed).expect("mkdir");
            std::fs::write(committed.join(file), &fresh).expect("write");
            continue;
        }
        let old = std::fs::read_to_string(committed.join(file)).unwrap_or_default();
        if scrub(&old, dir.path()) != scrub(&fresh, dir.path()) {
            stale.push(file);
        }
    }
    assert!(stale.is_empty(), "samples/misconfigured-host/reports/{stale:?} are stale: run `POSTURE_UPDATE_SAMPLES=1 cargo test --test integration committed_sample` and commit");
}

#[test]
fn the_shipped_json_schema_is_current() {
    let generated =
        serde_json::to_string_pretty(&schemars::schema_for!(posture::report::model::Report)).expect("schema") + "\n";
    let path = support::repo_root().join("templates/report.schema.json");
    if std::env::var_os("POSTURE_UPDATE_SAMPLES").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let shipped = std::fs::read_to_string(&path).expect("schema file");
    assert_eq!(
        shipped, generated,
        "templates/report.schema.json is stale: run with POSTURE_UPDATE_SAMPLES=1 and commit"
    );
}
