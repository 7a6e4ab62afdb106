//! Reports rendered from the sample bundle: insta snapshots (times, run ids
//! and paths scrubbed), the shipped JSON Schema kept current, and the
//! committed sample reports kept current.

use std::path::Path;

use posture::report::format::FORMATS;

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

/// Every output format's file, from the format registry: a new format is
/// snapshot and sampled without a change here.
fn report_files() -> Vec<&'static str> {
    FORMATS.iter().map(|format| format.file).collect()
}

/// Audits the sample bundle into `dir/r`, in every format.
fn render_sample(dir: &Path) {
    let bundle = support::sample_bundle();
    let formats: Vec<&str> = FORMATS.iter().map(|format| format.name).collect();
    let out = posture(
        dir,
        &["audit", "--facts", bundle.to_str().expect("path"), "--out", "r", "--quiet", "--format", &formats.join(",")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn snapshots_of_the_sample_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    render_sample(dir.path());
    for file in report_files() {
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
    for file in report_files() {
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

/// The rows of a CSV file as Python's csv module reads them (strict: a
/// malformed field is an error).
fn python_csv_rows(path: &Path) -> Vec<Vec<String>> {
    let program = "import csv, json, sys\n\
        with open(sys.argv[1], newline='') as f:\n\
        \x20   json.dump(list(csv.reader(f, strict=True)), sys.stdout)\n";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(program)
        .arg(path)
        .output()
        .expect("python3 runs (the test setup installs it for the AWS emulator)");
    assert!(
        out.status.success(),
        "python's csv module refused {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rows as JSON")
}

/// Python's csv module, a real consumer of CSV, reads findings.csv back: the
/// header, then one row per finding of report.json with the same fields in
/// the same order (quoting survives commas, quotes and line breaks in
/// messages), then nothing else but one row per control without findings.
#[test]
fn pythons_csv_module_reads_every_finding_of_the_csv_report() {
    let dir = tempfile::tempdir().expect("tmp");
    render_sample(dir.path());
    let report = support::read_json(&dir.path().join("r/report.json"));
    let mut expected = Vec::new();
    for benchmark in report["benchmarks"].as_array().expect("benchmarks") {
        for section in benchmark["sections"].as_array().expect("sections") {
            for control in section["controls"].as_array().expect("controls") {
                let findings = control["findings"].as_array().expect("findings");
                for finding in findings {
                    let field = |name: &str| finding[name].as_str().expect("text").to_owned();
                    expected.push(vec![
                        benchmark["id"].as_str().expect("id").to_owned(),
                        control["id"].as_str().expect("id").to_owned(),
                        field("target"),
                        field("resource"),
                        field("status"),
                        field("severity"),
                        field("message"),
                        field("check"),
                    ]);
                }
                if findings.is_empty() {
                    let targets = control["targets"].as_object().expect("targets");
                    let rows = targets.len().max(1);
                    for index in 0..rows {
                        let (target, status) = targets
                            .iter()
                            .nth(index)
                            .map_or(("", control["status"].as_str().expect("status")), |(t, s)| {
                                (t.as_str(), s.as_str().expect("status"))
                            });
                        expected.push(vec![
                            benchmark["id"].as_str().expect("id").to_owned(),
                            control["id"].as_str().expect("id").to_owned(),
                            target.to_owned(),
                            String::new(),
                            status.to_owned(),
                            control["severity"].as_str().unwrap_or_default().to_owned(),
                            control["reason"].as_str().unwrap_or_default().to_owned(),
                            String::new(),
                        ]);
                    }
                }
            }
        }
    }
    assert!(expected.iter().any(|row| row[6].contains(',')), "the sample has messages with commas to quote");
    let rows = python_csv_rows(&dir.path().join("r/findings.csv"));
    assert_eq!(rows[0], ["benchmark", "control", "target", "resource", "status", "severity", "message", "check"]);
    // A field a spreadsheet would run as a formula is written with a leading quote.
    let defused = |text: &str| {
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{text}")
        } else {
            text.to_owned()
        }
    };
    let expected: Vec<Vec<String>> =
        expected.into_iter().map(|row| row.iter().map(|field| defused(field)).collect()).collect();
    assert_eq!(rows.len() - 1, expected.len(), "one row per finding and per control without findings");
    for (index, (row, wanted)) in rows[1..].iter().zip(&expected).enumerate() {
        assert_eq!(row, wanted, "row {}", index + 2);
    }
}

/// A target named like a spreadsheet formula, with commas, quotes and line
/// breaks: Python's csv module reads it back whole, with the leading quote
/// that keeps a spreadsheet from running it.
#[test]
fn a_hostile_target_name_stays_one_defused_csv_field() {
    let dir = tempfile::tempdir().expect("tmp");
    let name = "=HYPERLINK(\"http://127.0.0.1/x\",\"open\"),\r\nnext line";
    let mut bundle = support::read_json(&support::sample_bundle());
    bundle["targets"][0]["name"] = serde_json::Value::from(name);
    std::fs::write(dir.path().join("facts.json"), serde_json::to_vec(&bundle).expect("json")).expect("write");
    let out = posture(dir.path(), &["audit", "--facts", "facts.json", "--out", "r", "--format", "csv", "--no-history"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = python_csv_rows(&dir.path().join("r/findings.csv"));
    let report = support::read_json(&dir.path().join("r/report.json"));
    let findings = report["summary"]["findings"]["total"].as_u64().expect("count");
    assert!(rows.len() as u64 > findings, "a row per finding and the header");
    let mut judged = 0;
    for row in &rows[1..] {
        assert_eq!(row.len(), 8, "{row:?}");
        // Manual controls judge no target: their rows name none.
        if !row[2].is_empty() {
            assert_eq!(row[2], format!("'{name}"), "the target's name, whole and defused");
            judged += 1;
        }
    }
    assert!(judged as u64 >= findings, "every finding's row names the target");
}

/// The sample host twice: `web-legacy-01` as recorded and `web-legacy-02`
/// without its sshd facts, so the SSH controls error on the second host only.
fn two_host_bundle() -> serde_json::Value {
    let mut bundle = support::read_json(&support::sample_bundle());
    let mut second = bundle["targets"][0].clone();
    second["name"] = serde_json::Value::from("web-legacy-02");
    second["facts"].as_array_mut().expect("facts").retain(|fact| fact["key"] != "host.sshd");
    bundle["targets"].as_array_mut().expect("targets").push(second);
    bundle
}

/// JUnit's (tests, failures, errors, skipped) as README's rule derives them
/// from report.json: one target: a testcase per control, with its status;
/// several: a testcase per entry of each control's `targets` (the status on
/// that target, "(no aws target)" and the like included), and one per
/// control judged on no target, with the control's status.
fn junit_counts_from_json(report: &serde_json::Value) -> [u64; 4] {
    let several_targets = report["targets"].as_array().expect("targets").len() > 1;
    let mut counts = [0; 4];
    for benchmark in report["benchmarks"].as_array().expect("benchmarks") {
        for section in benchmark["sections"].as_array().expect("sections") {
            for control in section["controls"].as_array().expect("controls") {
                let on_targets = control["targets"].as_object().expect("targets");
                let statuses: Vec<&str> = if several_targets && !on_targets.is_empty() {
                    on_targets.values().map(|status| status.as_str().expect("status")).collect()
                } else {
                    vec![control["status"].as_str().expect("status")]
                };
                for status in statuses {
                    counts[0] += 1;
                    match status {
                        "fail" => counts[1] += 1,
                        "error" => counts[2] += 1,
                        "manual" | "not_applicable" | "waived" => counts[3] += 1,
                        _ => {}
                    }
                }
            }
        }
    }
    counts
}

fn junit_counts_of(element: roxmltree::Node) -> [u64; 4] {
    ["tests", "failures", "errors", "skipped"].map(|attribute| {
        element
            .attribute(attribute)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("<{}> has a numeric {attribute}", element.tag_name().name()))
    })
}

/// In an audit of two hosts, by the CIS benchmark and by PCI DSS (whose AWS
/// requirements are judged on no audited target): the JUnit counts of
/// `<testsuites>` follow from report.json by the rule in README, they are
/// the sums of the testsuites' counts and of the testcases' elements, and a
/// failure's message names its first failing resources.
#[test]
fn junit_counts_of_a_two_host_audit_follow_from_the_json_report() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("facts.json"), serde_json::to_vec(&two_host_bundle()).expect("json"))
        .expect("write");
    // The benchmark, and where some of its controls error: on the host without sshd facts, or on no AWS account.
    for (benchmark, erroring_on) in [("cis-debian-linux-12", "web-legacy-02"), ("pci-dss-v4.0.1", "(no aws target)")] {
        let out = posture(
            dir.path(),
            &["audit", "--facts", "facts.json", "--benchmark", benchmark, "--out", benchmark, "--format", "json,junit"],
        );
        assert_eq!(out.status.code(), Some(2), "{benchmark}: {}", stderr(&out));
        let report = support::read_json(&dir.path().join(benchmark).join("report.json"));
        assert_eq!(report["targets"].as_array().map(Vec::len), Some(2));
        let junit = std::fs::read_to_string(dir.path().join(benchmark).join("junit.xml")).expect("junit.xml");
        let doc = roxmltree::Document::parse(&junit).unwrap_or_else(|err| panic!("{benchmark}: junit.xml: {err}"));
        let root = doc.root_element();
        let expected = junit_counts_from_json(&report);
        assert_eq!(junit_counts_of(root), expected, "{benchmark}: <testsuites> against report.json");
        assert!(expected[1] > 0 && expected[2] > 0 && expected[3] > 0, "{benchmark}: {expected:?}");

        let suites: Vec<_> = root.children().filter(|node| node.has_tag_name("testsuite")).collect();
        let mut summed = [0; 4];
        for suite in &suites {
            for (sum, count) in summed.iter_mut().zip(junit_counts_of(*suite)) {
                *sum += count;
            }
        }
        assert_eq!(summed, expected, "{benchmark}: the testsuites add up");
        let cases: Vec<_> = doc.descendants().filter(|node| node.has_tag_name("testcase")).collect();
        let with = |tag: &str| cases.iter().filter(|case| case.children().any(|n| n.has_tag_name(tag))).count() as u64;
        assert_eq!(
            [cases.len() as u64, with("failure"), with("error"), with("skipped")],
            expected,
            "{benchmark}: the testcases' elements"
        );
        if benchmark == "pci-dss-v4.0.1" {
            assert!(suites.iter().any(|suite| suite.attribute("id") == Some("not-judged")), "AWS requirements");
        }

        // A failure's message: the count, the target, then the first three resources and their messages.
        let failures: Vec<_> = doc.descendants().filter(|node| node.has_tag_name("failure")).collect();
        let message = |node: &roxmltree::Node| node.attribute("message").expect("message").to_owned();
        for failure in &failures {
            let text = message(failure);
            let first = failure.text().unwrap_or_default().lines().find(|line| line.starts_with("FAIL "));
            let first = first.expect("the body lists the failing resources");
            let resource_and_message = first.trim_start_matches("FAIL ").rsplit_once(" [").expect("[check").0;
            assert!(
                text.replace('\n', " ").contains(&resource_and_message.replace('\n', " ")),
                "{benchmark}: '{text}' names '{resource_and_message}'"
            );
            assert!(text.contains("failing resource") && text.contains(" on web-legacy-0"), "{text}");
        }
        assert!(failures.iter().map(message).any(|text| text.starts_with("1 failing resource on ")));
        assert!(failures.iter().map(message).any(|text| text.contains(" failing resources on ")));
        let errors: Vec<_> = doc.descendants().filter(|node| node.has_tag_name("error")).collect();
        assert!(errors.iter().all(|error| message(error).starts_with("could not be evaluated")));
        let on_erroring = format!("could not be evaluated on {erroring_on}: ");
        assert!(errors.iter().map(message).any(|text| text.starts_with(&on_erroring)), "{benchmark}: {on_erroring}");
    }
}

/// summary.md's failing-resources cell: the first five resources and how many
/// more, the target named only when the audit has several.
#[test]
fn summary_md_lists_the_first_five_failing_resources() {
    let mut bundle = support::read_json(&support::sample_bundle());
    let users = bundle["targets"][0]["facts"]
        .as_array_mut()
        .expect("facts")
        .iter_mut()
        .find(|fact| fact["key"] == "host.users")
        .expect("host.users");
    let root = users["value"][0].clone();
    for n in 1..=6 {
        let mut extra = root.clone();
        extra["name"] = serde_json::Value::from(format!("root{n}"));
        users["value"].as_array_mut().expect("users").push(extra);
    }
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("facts.json"), serde_json::to_vec(&bundle).expect("json")).expect("write");
    posture(dir.path(), &["audit", "--facts", "facts.json", "--format", "md", "--controls", "5.4.2.1"]);
    let markdown = std::fs::read_to_string(dir.path().join("posture-report/summary.md")).expect("summary.md");
    let row = markdown.lines().find(|line| line.starts_with("| `5.4.2.1` |")).expect("5.4.2.1 row");
    // toor (in the sample) and root1..root6: seven failing accounts.
    assert_eq!(row.matches("user ").count(), 5, "{row}");
    assert!(row.ends_with(" · and 2 more |"), "{row}");
    assert!(!row.contains("web-legacy-01"), "one target: not named: {row}");

    std::fs::write(dir.path().join("two.json"), serde_json::to_vec(&two_host_bundle()).expect("json")).expect("write");
    posture(dir.path(), &["audit", "--facts", "two.json", "--format", "md", "--controls", "5.4.2.1", "--out", "two"]);
    let markdown = std::fs::read_to_string(dir.path().join("two/summary.md")).expect("summary.md");
    let row = markdown.lines().find(|line| line.starts_with("| `5.4.2.1` |")).expect("5.4.2.1 row");
    assert!(row.contains("`web-legacy-01` user toor") && row.contains("`web-legacy-02` user toor"), "{row}");
}
