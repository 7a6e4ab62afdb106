//! The CLI end to end, on the local host and on the sample bundle: exit
//! codes, the four report files, the JSON against the shipped schema, the
//! JUnit against the JSON, every control id in the HTML.

use std::path::Path;

use crate::support::{self, posture, stderr, stdout};

fn all_control_ids(report: &serde_json::Value) -> Vec<String> {
    report["benchmarks"]
        .as_array()
        .expect("benchmarks")
        .iter()
        .flat_map(|b| b["sections"].as_array().expect("sections").iter())
        .flat_map(|s| s["controls"].as_array().expect("controls").iter())
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Checks the four files of a report directory against each other and the schema.
fn assert_consistent_reports(out: &Path) {
    for file in ["report.html", "report.json", "junit.xml", "summary.md"] {
        assert!(out.join(file).is_file(), "{file} was not written");
    }
    let report = support::read_json(&out.join("report.json"));
    let schema: serde_json::Value = serde_json::from_str(posture::report::JSON_SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "report.json does not match the schema:\n{}", errors.join("\n"));

    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
    let doc = roxmltree::Document::parse(&junit).expect("junit.xml is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let controls = &report["summary"]["controls"];
    let attr = |name: &str| root.attribute(name).and_then(|v| v.parse::<u64>().ok()).expect(name);
    assert_eq!(attr("tests"), controls["total"].as_u64().expect("total"));
    assert_eq!(attr("failures"), controls["fail"].as_u64().expect("fail"));
    assert_eq!(attr("errors"), controls["error"].as_u64().expect("error"));
    let skipped = ["manual", "not_applicable", "waived"].iter().map(|k| controls[*k].as_u64().expect(k)).sum::<u64>();
    assert_eq!(attr("skipped"), skipped);
    let count = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count() as u64;
    assert_eq!(count("testcase"), controls["total"].as_u64().expect("total"));
    assert_eq!(count("failure"), controls["fail"].as_u64().expect("fail"));
    assert_eq!(count("error"), controls["error"].as_u64().expect("error"));
    assert_eq!(count("skipped"), skipped);

    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    for id in all_control_ids(&report) {
        assert!(html.contains(&format!(">{id}</span>")), "control {id} missing from report.html");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://") || !html.contains("<link"),
        "HTML must not load external assets"
    );
    let markdown = std::fs::read_to_string(out.join("summary.md")).expect("md");
    assert!(markdown.contains("| section | pass | fail |"), "{markdown}");
}

#[test]
fn audit_of_the_local_host_writes_all_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = posture(dir.path(), &["audit", "--save-facts", "host-facts.json"]);
    let code = out.status.code().expect("exit code");
    assert!((0..=2).contains(&code), "{}", stderr(&out));
    assert!(stderr(&out).contains("controls:"), "{}", stderr(&out));
    let report_dir = dir.path().join("posture-report");
    assert_consistent_reports(&report_dir);
    let report = support::read_json(&report_dir.join("report.json"));
    assert_eq!(all_control_ids(&report).len(), 310, "the whole benchmark is in the report");
    assert_eq!(report["run"]["exit_code"].as_u64(), Some(code as u64));
    assert_eq!(report["targets"][0]["provider"], "linux");
    // No password hash of /etc/shadow reaches the bundle.
    let bundle = std::fs::read_to_string(dir.path().join("host-facts.json")).expect("bundle");
    for scheme in ["$y$", "$6$", "$5$", "$1$", "$2b$", "$2y$", "$gy$"] {
        assert!(!bundle.contains(scheme), "the fact bundle holds a {scheme} hash");
    }
    // The saved bundle re-evaluates to the same verdicts.
    let again = posture(dir.path(), &["audit", "--facts", "host-facts.json", "--out", "again", "--format", "json"]);
    assert_eq!(again.status.code(), Some(code), "{}", stderr(&again));
    let second = support::read_json(&dir.path().join("again/report.json"));
    assert_eq!(report["summary"], second["summary"]);
}

#[test]
fn audit_of_the_sample_bundle_fails_with_exit_1() {
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = support::sample_bundle();
    let out = posture(dir.path(), &["audit", "--facts", bundle.to_str().expect("path"), "--out", "r"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_consistent_reports(&dir.path().join("r"));
    let report = support::read_json(&dir.path().join("r/report.json"));
    assert_eq!(report["summary"]["controls"]["error"], 0, "the sample bundle is complete");
    assert_eq!(support::control_status(&report, "5.1.20"), "fail");
    assert_eq!(support::control_status(&report, "1.2.1.1"), "manual");

    let none = posture(
        dir.path(),
        &["audit", "--facts", bundle.to_str().expect("path"), "--out", "n", "--fail-on", "none", "--format", "json"],
    );
    assert_eq!(none.status.code(), Some(0), "{}", stderr(&none));
}

#[test]
fn control_selection_and_formats() {
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = support::sample_bundle();
    let out = posture(
        dir.path(),
        &[
            "audit",
            "--facts",
            bundle.to_str().expect("path"),
            "--controls",
            "5.1.*",
            "--skip",
            "5.1.20",
            "--format",
            "json,md",
            "--out",
            "sel",
        ],
    );
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    assert!(dir.path().join("sel/report.json").is_file() && dir.path().join("sel/summary.md").is_file());
    assert!(!dir.path().join("sel/report.html").exists());
    let report = support::read_json(&dir.path().join("sel/report.json"));
    let ids = all_control_ids(&report);
    assert!(!ids.is_empty() && ids.iter().all(|id| id.starts_with("5.1.")), "{ids:?}");
    assert!(!ids.contains(&"5.1.20".to_owned()));
}

/// A pattern that matches no control is a typo, refused (exit 2) naming it
/// and the closest ids, before any report is written; the correct one audits.
#[test]
fn a_control_pattern_matching_nothing_is_refused_with_the_closest_ids() {
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = support::sample_bundle();
    let audit = |selection: &[&str]| {
        let mut args = vec!["audit", "--facts", bundle.to_str().expect("path"), "--format", "json", "--out", "sel"];
        args.extend_from_slice(selection);
        posture(dir.path(), &args)
    };
    let cases: [(&[&str], &str, &[&str]); 5] = [
        (&["--skip", "9.9"], "--skip 9.9 matches no control of cis-debian-linux-12; closest: ", &["1.1"]),
        (
            &["--controls", "5.1.20,5.1.999"],
            "--controls 5.1.999 matches no control of cis-debian-linux-12; closest: ",
            &["5.1.9", "5.1.19"],
        ),
        (&["--controls", "5.1.9*,9.9.*"], "--controls 9.9.* matches no control of cis-debian-linux-12", &["1.1"]),
        (
            &["--skip", "cis-aws-foundations-v3.0.0:5.1.20"],
            "--skip cis-aws-foundations-v3.0.0:5.1.20 names benchmark cis-aws-foundations-v3.0.0, which is not \
             selected (selected: cis-debian-linux-12); closest: ",
            &["cis-debian-linux-12:5.1.20"],
        ),
        (
            &["--controls", "cis-debian-linux-12:5.1.999"],
            "--controls cis-debian-linux-12:5.1.999 matches no control of cis-debian-linux-12; closest: ",
            &["cis-debian-linux-12:5.1.9", "cis-debian-linux-12:5.1.19"],
        ),
    ];
    for (selection, message, closest) in cases {
        let out = audit(selection);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{selection:?}: {err}");
        assert!(err.contains(&format!("posture: error: {message}")), "{selection:?}: {err}");
        let closest_line = err.lines().find(|line| line.contains("closest: ")).expect("a closest clause");
        let named = closest_line.rsplit_once("closest: ").expect("closest").1;
        for id in closest {
            assert!(named.split(", ").any(|n| n == *id), "{selection:?}: {id} not among the closest: {err}");
        }
        assert!(err.contains("help: `posture list controls --benchmark ID`"), "{selection:?}: {err}");
        assert!(!dir.path().join("sel/report.json").exists(), "{selection:?}: refused before any report");
    }
    let wrong_benchmark = stderr(&audit(&["--skip", "cis-aws-foundations-v3.0.0:5.1.20"]));
    assert!(
        wrong_benchmark.contains("help: a pattern BENCHMARK:ID applies to that benchmark only"),
        "{wrong_benchmark}"
    );

    // The same patterns, spelled right (a qualified one of its benchmark), audit.
    let out = audit(&["--controls", "5.1.20,5.1.9*", "--skip", "cis-debian-linux-12:5.1.9"]);
    assert!(out.status.code().is_some_and(|c| c < 2), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("sel/report.json"));
    assert_eq!(all_control_ids(&report), ["5.1.20"], "5.1.9* selects 5.1.9, which is skipped");
}

#[test]
fn bad_arguments_are_fatal_with_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = posture(dir.path(), &["audit", "--facts", "nope.json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("nope.json"), "{}", stderr(&missing));
    std::fs::write(dir.path().join("bad.json"), "{\n  \"bundle_version\": 1,\n  oops\n}").expect("write");
    let bad = posture(dir.path(), &["audit", "--facts", "bad.json"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("bad.json:3:"), "{}", stderr(&bad));
    let unknown = posture(dir.path(), &["audit", "--benchmark", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("unknown benchmark 'nope'"), "{}", stderr(&unknown));
}

#[test]
fn fatal_errors_say_what_to_do_in_help_lines() {
    let dir = support::scratch(&[
        ("posture.toml", "[[targets]]\ntype = \"aws\"\nprofle = \"audit\"\n"),
        ("empty.toml", ""),
        (
            "w.toml",
            "[[waivers]]\ncontrol = \"5.1.20\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = \"soon\"\n",
        ),
    ]);
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("utf-8");
    // Each: the arguments, the error line, a help line (None: the position is the help).
    let cases: [(&[&str], &str, Option<&str>); 6] = [
        (
            &["audit", "--benchmark", "nope", "--config", "none.toml", "--target", "local"],
            "posture: error: none.toml: no such file",
            Some("posture: help: --config names the configuration file"),
        ),
        (
            &["audit", "--benchmark", "nope", "--target", "local", "--config", "empty.toml"],
            "posture: error: unknown benchmark 'nope' (known: ",
            Some("posture: help: `posture list benchmarks` lists the benchmarks"),
        ),
        (
            &["audit", "--target", "gcp", "--config", "empty.toml"],
            "posture: error: --target gcp: unknown target\n",
            Some("`ssh://[user@]host[:port]` (a host over SSH), `tag:TAG`"),
        ),
        (
            &["audit", "--facts", bundle, "--config", "empty.toml", "--waivers", "missing.toml"],
            "posture: error: waivers file missing.toml: no such file",
            Some("posture: help: the waivers file is named by --waivers, or by `waivers = \"...\"` in posture.toml"),
        ),
        (&["audit", "--facts", bundle], "posture: error: posture.toml:3:1: unknown field `profle`", None),
        (
            &["audit", "--facts", bundle, "--config", "empty.toml", "--waivers", "w.toml"],
            "posture: error: w.toml:6:11: invalid type: string \"soon\", expected a TOML datetime\n",
            None,
        ),
    ];
    for (args, error, help) in cases {
        let out = posture(dir.path(), args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(error), "{args:?}: expected {error:?} in\n{text}");
        match help {
            Some(help) => {
                let help_line = text.lines().position(|l| l.contains(help));
                let error_line = text.lines().position(|l| l.starts_with("posture: error: "));
                assert!(help_line > error_line, "{args:?}: expected {help:?} after the error in\n{text}");
            }
            None => assert!(!text.contains("help:"), "{args:?}: {text}"),
        }
    }
}

#[test]
fn list_and_explain() {
    let root = support::repo_root();
    let benchmarks = posture(&root, &["list", "benchmarks"]);
    assert!(stdout(&benchmarks).contains("cis-debian-linux-12"), "{}", stdout(&benchmarks));
    let controls = posture(&root, &["list", "controls", "--benchmark", "cis-debian-linux-12"]);
    assert_eq!(stdout(&controls).lines().count(), 310);
    let checks = posture(&root, &["list", "checks"]);
    assert!(stdout(&checks).contains("linux_sshd_root_login_disabled"));
    let check = posture(&root, &["explain", "linux_sshd_root_login_disabled"]);
    assert!(
        stdout(&check).contains("Remediation") && stdout(&check).contains("cis-debian-linux-12:5.1.20"),
        "{}",
        stdout(&check)
    );
    let control = posture(&root, &["explain", "5.1.20"]);
    assert!(stdout(&control).contains("PermitRootLogin"), "{}", stdout(&control));
    let unknown = posture(&root, &["explain", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn templates_can_be_overridden_and_a_broken_one_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = support::sample_bundle();
    std::fs::create_dir_all(dir.path().join("tpl")).expect("mkdir");
    std::fs::write(dir.path().join("tpl/summary.md"), "controls: {{ report.summary.controls.total }}\n")
        .expect("write");
    let out = posture(
        dir.path(),
        &[
            "audit",
            "--facts",
            bundle.to_str().expect("path"),
            "--templates",
            "tpl",
            "--format",
            "md,junit",
            "--out",
            "o",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.path().join("o/summary.md")).expect("md"), "controls: 310\n");
    assert!(std::fs::read_to_string(dir.path().join("o/junit.xml")).expect("junit").contains("<testsuites"));

    std::fs::write(dir.path().join("tpl/summary.md"), "{% for x in %}\n").expect("write");
    let broken =
        posture(dir.path(), &["audit", "--facts", bundle.to_str().expect("path"), "--templates", "tpl", "--out", "b"]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(stderr(&broken).contains("template summary.md"), "{}", stderr(&broken));
}
