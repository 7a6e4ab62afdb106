//! One check never takes the audit down: allocation and nesting attacks end
//! as `error` findings naming the limit while the other checks are judged,
//! and the memory budget belongs to each evaluation, not the process.

use std::os::unix::process::ExitStatusExt;

use crate::support::{self, posture, scratch, stderr};

const BUNDLE: &str = r#"{
  "bundle_version": 1,
  "recorded_by": "test",
  "recorded_at": "2026-01-01T00:00:00Z",
  "targets": [
    { "name": "box", "provider": "linux", "facts": [
      { "key": "host.sysctl", "state": "available", "value": { "kernel.x": "1" },
        "source": { "kind": "command", "command": "sysctl -a", "exit_status": 0 }, "collected_at": "2026-01-01T00:00:00Z" }
    ] }
  ]
}"#;

fn check(id: &str, body: &str) -> String {
    format!(
        "//! id = \"{id}\"\n//! title = \"t\"\n//! severity = \"low\"\n//! resource_type = \"sysctl\"\n//! facts = [\"host.sysctl\"]\n//! rationale = \"r\"\n//! remediation = \"m\"\n\nfn check(facts) {{\n{body}\n}}\n"
    )
}

/// A content folder with the ordinary check and `attack` as the second one,
/// and the fact bundle.
fn content(attack: &str) -> tempfile::TempDir {
    let good = check(
        "linux_limits_good",
        "    let s = facts.get(\"host.sysctl\");\n    [pass(\"x\", `value ${s[\"kernel.x\"]}`)]",
    );
    let attack = check("linux_limits_attack", attack);
    scratch(&[
        (
            "limits-bench.toml",
            &support::linux_benchmark(
                "limits-bench",
                "Limits",
                &[("An ordinary check", "linux_limits_good"), ("The attack", "linux_limits_attack")],
            ),
        ),
        ("checks/linux/limits/linux_limits_good.rhai", &good),
        ("checks/linux/limits/linux_limits_attack.rhai", &attack),
        ("facts.json", BUNDLE),
    ])
}

fn audit(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args =
        vec!["audit", "--content", ".", "--benchmark", "limits-bench", "--facts", "facts.json", "--format", "json"];
    args.extend_from_slice(extra);
    posture(dir, &args)
}

/// Runs the attack; asserts the process ended normally with exit 2, the
/// ordinary check passed, and returns the attack's messages.
fn attack_messages(attack: &str) -> String {
    let dir = content(attack);
    let out = audit(dir.path(), &[]);
    assert_eq!(out.status.signal(), None, "killed by a signal: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("posture-report/report.json"));
    assert_eq!(support::control_status(&report, "1.1"), "pass", "the other check was not judged");
    assert_eq!(support::control_status(&report, "1.2"), "error");
    support::control_messages(&report, "1.2")
}

#[test]
fn a_huge_blob_pad_is_an_error_not_an_abort() {
    let messages = attack_messages("    blob(1).pad(100000000000, 1);\n    [pass(\"x\", \"y\")]");
    assert!(messages.contains("memory limit") && messages.contains("pad of 100000000000"), "{messages}");
}

#[test]
fn huge_blobs_strings_and_arrays_asked_for_at_once_are_errors() {
    for attack in [
        "    let b = blob(100000000000);\n    [pass(\"x\", \"y\")]",
        "    let s = \"x\";\n    s.pad(100000000000, 'y');\n    [pass(\"x\", \"y\")]",
        "    let s = \"x\";\n    s.pad(100000000000, \"yz\");\n    [pass(\"x\", \"y\")]",
        "    let a = [];\n    a.pad(100000000000, ());\n    [pass(\"x\", \"y\")]",
    ] {
        let messages = attack_messages(attack);
        assert!(messages.contains("memory limit"), "{attack}: {messages}");
    }
}

#[test]
fn splitting_a_large_string_into_many_values_stays_in_the_budget() {
    // 64 MiB of text, each byte a separate string value when split: far more
    // than the budget, refused while it is being built.
    for split in ["s.split(\",\")", "s.split(',')", "s.split_rev(\",\")", "s.to_chars()", "s.to_blob().to_array()"] {
        let attack = format!(
            "    let s = \",\";\n    s.pad(67108864, \",\");\n    let parts = {split};\n    [pass(\"x\", `${{parts.len()}}`)]"
        );
        let messages = attack_messages(&attack);
        assert!(messages.contains("memory limit"), "{split}: {messages}");
    }
}

#[test]
fn a_deeply_nested_value_is_refused_where_it_is_walked() {
    let build = "    let a = [];\n    for i in 0..2000 { a = [a]; }\n";
    for (use_of_it, what) in [
        ("    [pass(\"x\", \"y\", a)]", "observed"),
        ("    let t = a.to_string();\n    [pass(\"x\", t)]", "to_string"),
        ("    let t = a.to_debug();\n    [pass(\"x\", t)]", "to_debug"),
        ("    let b = [a];\n    [pass(\"x\", `${a == b[0]}`)]", "=="),
        ("    let m = #{ deep: a };\n    [pass(\"x\", \"y\", m)]", "observed map"),
    ] {
        let messages = attack_messages(&format!("{build}{use_of_it}"));
        assert!(messages.contains("nested deeper than 128 levels"), "{what}: {messages}");
    }
}

#[test]
fn a_shallow_value_is_still_formatted_and_compared_as_before() {
    let dir = content(
        "    let a = [1, \"two\", [3.5, ()], #{ k: true }];\n    let same = a == [1, \"two\", [3.5, ()], #{ k: true }];\n    [pass(\"x\", `${a} ${same} ${a != [1]}`, a)]",
    );
    let out = audit(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("posture-report/report.json"));
    let messages = support::control_messages(&report, "1.2");
    assert_eq!(messages, "[1, \"two\", [3.5, ()], #{\"k\": true}] true true");
}

#[test]
fn a_deeply_nested_fact_bundle_is_refused_with_its_position() {
    let deep = format!("{}1{}", "[".repeat(200_000), "]".repeat(200_000));
    let bundle = BUNDLE.replace("{ \"kernel.x\": \"1\" }", &format!("{{ \"kernel.x\": {deep} }}"));
    let dir = content("    [pass(\"x\", \"y\")]");
    std::fs::write(dir.path().join("facts.json"), bundle).expect("bundle");
    let out = audit(dir.path(), &[]);
    assert_eq!(out.status.signal(), None, "killed by a signal: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("facts.json") && text.contains("recursion limit"), "{text}");
}

#[test]
fn the_memory_budget_is_per_check_not_per_process() {
    // The hungry check doubles a string past the budget; the busy one only
    // computes, for long enough to run beside it, and must pass.
    let dir = content("    let s = \"xxxxxxxx\";\n    loop { s += s; }");
    let busy = check(
        "linux_limits_good",
        "    let n = 0;\n    for i in 0..3000000 { n += i % 7; }\n    [pass(\"x\", `busy ${n > 0}`)]",
    );
    std::fs::write(dir.path().join("checks/linux/limits/linux_limits_good.rhai"), busy).expect("check");
    let out = audit(dir.path(), &["--script-timeout", "600"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("posture-report/report.json"));
    assert_eq!(support::control_status(&report, "1.1"), "pass", "{}", support::control_messages(&report, "1.1"));
    assert!(support::control_messages(&report, "1.2").contains("memory limit"));
}

#[test]
fn a_check_stopped_by_the_clock_is_taken_from_the_pack_and_the_pack_verifies() {
    // Each round copies the whole value, so the operation limit is far away
    // when the one-second clock stops the check.
    let dir = content("    let a = [];\n    loop { a = [a]; }");
    let out = audit(dir.path(), &["--script-timeout", "1", "--out", "pack", "--no-history"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("pack/report.json"));
    assert!(support::control_messages(&report, "1.2").contains("time limit"));
    let verified = posture(dir.path(), &["verify", "pack", "--allow-unpinned"]);
    let text = support::stdout(&verified) + stderr(&verified).as_str();
    assert!(
        text.contains("taken from the pack: check linux_limits_attack on box was stopped by the audit's time limit"),
        "{text}"
    );
    assert_eq!(verified.status.code(), Some(0), "{text}");
    assert!(!text.contains("FAILED") && !text.contains("missing from the report"), "{text}");
}

#[test]
fn a_huge_template_range_is_a_template_error() {
    let dir = content("    [pass(\"x\", \"y\")]");
    std::fs::create_dir_all(dir.path().join("tpl")).expect("mkdir");
    std::fs::write(dir.path().join("tpl/summary.md"), "{% for i in range(end=100000000000) %}{{ i }}{% endfor %}\n")
        .expect("template");
    let out = audit(dir.path(), &["--templates", "tpl", "--format", "md"]);
    assert_eq!(out.status.signal(), None, "killed by a signal: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("summary.md") && text.contains("more than the limit of 100000"), "{text}");
}

/// Template attacks that no single `range` reveals: nested loops whose body
/// prints nothing, a loop printing without end, and recursive macros (Tera
/// has no bound on macro depth), each a template error, never an abort.
#[test]
fn nested_loops_huge_output_and_recursive_macros_are_template_errors() {
    let cases: [(&str, &str); 4] = [
        (
            "{% for i in range(end=100000) %}{% for j in range(end=100000) %}{% endfor %}{% endfor %}\n",
            "more than 1000000 numbers in all",
        ),
        (
            "{% set big = report | json_encode %}{% for i in range(end=100000) %}{% for j in range(end=9) %}{{ big }}{% endfor %}{% endfor %}\n",
            "larger than 512 MiB",
        ),
        (
            "{% macro f(n) %}{{ self::f(n=n+1) }}{% endmacro f %}{{ self::f(n=1) }}\n",
            "macro 'f' calls itself (f -> f)",
        ),
        (
            "{% macro a(n) %}{{ self::b(n=n) }}{% endmacro a %}{% macro b(n) %}{% if n > 0 %}{{ self::a(n=n) }}{% endif %}{% endmacro b %}{{ self::a(n=1) }}\n",
            "macro 'a' calls itself (a -> b -> a)",
        ),
    ];
    for (template, expected) in cases {
        let dir = content("    [pass(\"x\", \"y\")]");
        std::fs::create_dir_all(dir.path().join("tpl")).expect("mkdir");
        std::fs::write(dir.path().join("tpl/summary.md"), template).expect("template");
        let out = audit(dir.path(), &["--templates", "tpl", "--format", "md"]);
        assert_eq!(out.status.signal(), None, "killed by a signal: {}", stderr(&out));
        assert_eq!(out.status.code(), Some(2), "{template}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("summary.md") && text.contains(expected), "{template}: {text}");
    }
}
