//! Bad content: each kind gives its clear, positioned error and does not stop
//! the other checks.

use crate::support::{self, posture, scratch, stderr, stdout};

const BENCHMARK: &str = r#"id = "test-bench"
title = "Test benchmark"
version = "1.0"
provider = "linux"

[[sections]]
id = "1"
title = "Everything"

[[controls]]
id = "1.1"
title = "Good check"
assessment = "automated"
checks = ["linux_test_good"]

[[controls]]
id = "1.2"
title = "Syntax error"
assessment = "automated"
checks = ["linux_test_syntax"]

[[controls]]
id = "1.3"
title = "Runs forever"
assessment = "automated"
checks = ["linux_test_forever"]

[[controls]]
id = "1.4"
title = "Throws"
assessment = "automated"
checks = ["linux_test_throws"]

[[controls]]
id = "1.5"
title = "Unknown key in the front block"
assessment = "automated"
checks = ["linux_test_unknown_key"]

[[controls]]
id = "1.6"
title = "Missing check"
assessment = "automated"
checks = ["linux_test_missing"]

[[controls]]
id = "1.7"
title = "Reads an unavailable fact"
assessment = "automated"
checks = ["linux_test_unavailable"]

[[controls]]
id = "1.9"
title = "Builds an ever larger string"
assessment = "automated"
checks = ["linux_test_memory"]

[[controls]]
id = "1.10"
title = "Asks for a huge array at once"
assessment = "automated"
checks = ["linux_test_bulk"]

[[controls]]
id = "1.8"
title = "Manual"
assessment = "manual"
guidance = "Look."
"#;

fn front(id: &str, facts: &str) -> String {
    format!(
        "//! id = \"{id}\"\n//! title = \"t\"\n//! severity = \"low\"\n//! resource_type = \"sysctl\"\n//! facts = [{facts}]\n//! rationale = \"r\"\n//! remediation = \"m\"\n"
    )
}

pub fn content() -> tempfile::TempDir {
    let good = front("linux_test_good", "\"host.sysctl\"")
        + "\nfn check(facts) {\n    let s = facts.get(\"host.sysctl\");\n    [pass(\"sysctl kernel.x\", `value ${s[\"kernel.x\"]}`)]\n}\n";
    let syntax = front("linux_test_syntax", "\"host.sysctl\"") + "\nfn check(facts) {\n    let x = ;\n}\n";
    let forever = front("linux_test_forever", "\"host.sysctl\"") + "\nfn check(facts) {\n    loop { }\n}\n";
    let throws = front("linux_test_throws", "\"host.sysctl\"") + "\nfn check(facts) {\n    throw \"boom\";\n}\n";
    let unknown = front("linux_test_unknown_key", "\"host.sysctl\"")
        .replace("//! title", "//! colour = \"red\"\n//! title")
        + "\nfn check(facts) { [pass(\"x\", \"y\")] }\n";
    let unavailable = front("linux_test_unavailable", "\"host.shadow\"")
        + "\nfn check(facts) {\n    try { facts.get(\"host.shadow\"); } catch { }\n    [pass(\"x\", \"it was fine, trust me\")]\n}\n";
    let memory = front("linux_test_memory", "\"host.sysctl\"")
        + "\nfn check(facts) {\n    let s = \"xxxxxxxx\";\n    loop { s += s; }\n}\n";
    let bulk = front("linux_test_bulk", "\"host.sysctl\"")
        + "\nfn check(facts) {\n    let a = [];\n    a.pad(100000000000, 0);\n    [pass(\"x\", \"y\")]\n}\n";
    let broken_benchmark = "id = \"broken\"\ntitle = \"x\"\nversion = = \"1\"\n";
    let dup_a = front("linux_test_dup", "\"host.sysctl\"") + "\nfn check(facts) { [pass(\"x\", \"y\")] }\n";
    scratch(&[
        ("test-bench.toml", BENCHMARK),
        ("broken.toml", broken_benchmark),
        ("checks/linux/test/linux_test_good.rhai", &good),
        ("checks/linux/test/linux_test_syntax.rhai", &syntax),
        ("checks/linux/test/linux_test_forever.rhai", &forever),
        ("checks/linux/test/linux_test_throws.rhai", &throws),
        ("checks/linux/test/linux_test_unknown_key.rhai", &unknown),
        ("checks/linux/test/linux_test_unavailable.rhai", &unavailable),
        ("checks/linux/test/linux_test_memory.rhai", &memory),
        ("checks/linux/test/linux_test_bulk.rhai", &bulk),
        ("checks/linux/a/linux_test_dup.rhai", &dup_a),
        ("checks/linux/b/linux_test_dup.rhai", &dup_a),
    ])
}

pub const BUNDLE: &str = r#"{
  "bundle_version": 1,
  "recorded_by": "test",
  "recorded_at": "2026-01-01T00:00:00Z",
  "targets": [
    { "name": "box", "provider": "linux", "facts": [
      { "key": "host.sysctl", "state": "available", "value": { "kernel.x": "1" },
        "source": { "kind": "command", "command": "sysctl -a", "exit_status": 0 }, "collected_at": "2026-01-01T00:00:00Z" },
      { "key": "host.shadow", "state": "unavailable", "reason": "/etc/shadow: permission denied",
        "source": { "kind": "file", "path": "/etc/shadow" }, "collected_at": "2026-01-01T00:00:00Z" }
    ] }
  ]
}"#;

#[test]
fn validate_names_every_problem_with_its_position() {
    let dir = content();
    let out = posture(dir.path(), &["validate", "--content", "."]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}\n{}", stderr(&out));
    let expect = [
        "broken.toml:3:11",
        "linux_test_syntax.rhai:10:13: check linux_test_syntax: syntax error",
        "linux_test_unknown_key.rhai:2:5: check linux_test_unknown_key: unknown field `colour`",
        "duplicate check id 'linux_test_dup'",
        "test-bench.toml:41:1: control '1.6' maps to check 'linux_test_missing', which does not exist",
    ];
    for needle in expect {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn broken_checks_become_errors_and_the_rest_is_evaluated() {
    let dir = content();
    std::fs::write(dir.path().join("facts.json"), BUNDLE).expect("bundle");
    let out = posture(
        dir.path(),
        &[
            "audit",
            "--content",
            ".",
            "--benchmark",
            "test-bench",
            "--facts",
            "facts.json",
            "--max-operations",
            "100000",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("posture-report/report.json"));
    assert_eq!(support::control_status(&report, "1.1"), "pass");
    assert_eq!(support::control_status(&report, "1.8"), "manual");
    for control in ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.9", "1.10"] {
        assert_eq!(support::control_status(&report, control), "error", "control {control}");
    }
    let messages = |c| support::control_messages(&report, c);
    assert!(messages("1.2").contains("syntax error"), "{}", messages("1.2"));
    assert!(messages("1.3").contains("operation limit"), "{}", messages("1.3"));
    assert!(
        messages("1.4").contains("linux_test_throws.rhai:10:5") && messages("1.4").contains("boom"),
        "{}",
        messages("1.4")
    );
    assert!(messages("1.5").contains("unknown field `colour`"), "{}", messages("1.5"));
    assert!(messages("1.6").contains("does not exist"), "{}", messages("1.6"));
    assert!(messages("1.7").contains("/etc/shadow: permission denied"), "{}", messages("1.7"));
    assert!(messages("1.9").contains("memory limit"), "{}", messages("1.9"));
    assert!(messages("1.10").contains("memory limit"), "{}", messages("1.10"));
}

#[test]
fn a_runaway_script_is_stopped_by_the_time_limit_too() {
    let dir = content();
    std::fs::write(dir.path().join("facts.json"), BUNDLE).expect("bundle");
    let out = posture(
        dir.path(),
        &[
            "audit",
            "--content",
            ".",
            "--benchmark",
            "test-bench",
            "--controls",
            "1.3",
            "--facts",
            "facts.json",
            "--max-operations",
            "100000000000",
            "--script-timeout",
            "1",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("posture-report/report.json"));
    assert!(support::control_messages(&report, "1.3").contains("time limit"));
}

#[test]
fn the_builtin_content_has_no_problems() {
    let out = posture(&support::repo_root(), &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_content_dir_check_overrides_the_builtin_one_with_the_same_id() {
    let check = "//! id = \"linux_sshd_root_login_disabled\"\n//! title = \"site rule\"\n//! severity = \"critical\"\n//! resource_type = \"sshd_config\"\n//! facts = [\"host.sshd\"]\n//! rationale = \"r\"\n//! remediation = \"m\"\n\nfn check(facts) {\n    [pass(\"sshd PermitRootLogin\", \"judged by the site's own rule\")]\n}\n";
    let dir = scratch(&[("checks/linux/site/linux_sshd_root_login_disabled.rhai", check)]);
    let bundle = support::sample_bundle();
    let out = posture(
        dir.path(),
        &[
            "audit",
            "--content",
            ".",
            "--facts",
            bundle.to_str().expect("path"),
            "--controls",
            "5.1.20",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("posture-report/report.json"));
    assert_eq!(support::control_status(&report, "5.1.20"), "pass");
    assert!(support::control_messages(&report, "5.1.20").contains("site's own rule"));
    assert_eq!(report["checks"]["linux_sshd_root_login_disabled"]["severity"], "critical");
}
