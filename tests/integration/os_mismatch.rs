//! Applicability through the real binary. The CIS Debian 12 benchmark does
//! not judge a recorded host of another OS (Rocky Linux 9.3, Ubuntu 24.04,
//! Debian 11): its controls are `error` naming both, exit 2, unless
//! `--ignore-os-mismatch` (or posture.toml's `ignore_os_mismatch`) judges
//! anyway, which the reports record and `verify` re-applies; in a fleet the
//! Debian host is judged and the other is not; a bundle without `host.os`
//! cannot be told; another benchmark of the same audit still judges the
//! host; a live local audit reads the OS whatever the selected checks;
//! `list benchmarks` names the systems and a bad declaration is refused at
//! its line.
//!
//! The bundles are the sample host's recorded facts with `host.os` as the
//! other OS records it (bundles carry no hashes): every other fact stays,
//! so that a judged host gives the sample's verdicts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::support::{self, posture, stderr, stdout};

/// os-release `ID`, `VERSION_ID`, `PRETTY_NAME`, and how posture describes them.
struct Os {
    id: &'static str,
    version_id: &'static str,
    pretty_name: &'static str,
    described: &'static str,
}

const ROCKY: Os = Os {
    id: "rocky",
    version_id: "9.3",
    pretty_name: "Rocky Linux 9.3 (Blue Onyx)",
    described: "Rocky Linux 9.3 (Blue Onyx) (rocky 9.3)",
};
const UBUNTU: Os = Os {
    id: "ubuntu",
    version_id: "24.04",
    pretty_name: "Ubuntu 24.04.1 LTS",
    described: "Ubuntu 24.04.1 LTS (ubuntu 24.04)",
};
const DEBIAN_11: Os = Os {
    id: "debian",
    version_id: "11",
    pretty_name: "Debian GNU/Linux 11 (bullseye)",
    described: "Debian GNU/Linux 11 (bullseye) (debian 11)",
};

/// The sample host as recorded on `os` under the name `name`; `None`: recorded without `host.os`.
fn host_on(name: &str, os: Option<&Os>) -> Value {
    let mut target = support::read_json(&support::sample_bundle())["targets"][0].clone();
    target["name"] = name.into();
    let facts = target["facts"].as_array_mut().expect("facts");
    match os {
        Some(os) => {
            let fact = facts.iter_mut().find(|f| f["key"] == "host.os").expect("the sample records host.os");
            let value = fact["value"].as_object_mut().expect("an object");
            value.insert("id".into(), os.id.into());
            value.insert("version_id".into(), os.version_id.into());
            value.insert("pretty_name".into(), os.pretty_name.into());
            value.insert("hostname".into(), name.into());
        }
        None => facts.retain(|f| f["key"] != "host.os"),
    }
    target
}

/// The sample host as recorded, under its own name.
fn debian_host() -> Value {
    support::read_json(&support::sample_bundle())["targets"][0].clone()
}

/// A bundle of `targets` written to `dir/file`.
fn bundle(dir: &Path, file: &str, targets: Vec<Value>) -> PathBuf {
    let mut bundle = support::read_json(&support::sample_bundle());
    bundle["targets"] = Value::Array(targets);
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(&bundle).expect("json")).expect("write");
    path
}

fn audit(dir: &Path, bundle: &Path, out: &str, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["audit", "--facts", bundle.to_str().expect("utf-8"), "--out", out, "--no-history"];
    args.extend_from_slice(extra);
    let output = posture(dir, &args);
    let report = support::read_json(&dir.join(out).join("report.json"));
    (output, report)
}

/// Every control of the report that runs checks, with its benchmark id.
fn automated(report: &Value) -> Vec<(String, Value)> {
    let mut controls = Vec::new();
    for benchmark in report["benchmarks"].as_array().expect("benchmarks") {
        for section in benchmark["sections"].as_array().expect("sections") {
            for control in section["controls"].as_array().expect("controls") {
                if !control["checks"].as_array().expect("checks").is_empty() {
                    controls.push((benchmark["id"].as_str().expect("id").to_owned(), control.clone()));
                }
            }
        }
    }
    controls
}

fn schema_valid(report: &Value) -> bool {
    let schema: Value = serde_json::from_str(posture::report::JSON_SCHEMA).expect("schema");
    jsonschema::validator_for(&schema).expect("schema compiles").is_valid(report)
}

#[test]
fn a_host_of_another_os_is_not_judged_and_says_which() {
    let dir = tempfile::tempdir().expect("tmp");
    for os in [ROCKY, UBUNTU, DEBIAN_11] {
        let name = format!("{}-01", os.id);
        let path = bundle(dir.path(), &format!("{name}.json"), vec![host_on(&name, Some(&os))]);
        let out_dir = format!("out-{name}");
        let (out, report) = audit(dir.path(), &path, &out_dir, &[]);
        assert_eq!(out.status.code(), Some(2), "an error exits 2: {}", stderr(&out));
        let reason = format!("benchmark is for Debian 12; host is {}", os.described);
        let controls = automated(&report);
        assert_eq!(controls.len(), 194);
        for (_, control) in &controls {
            assert_eq!(control["status"], "error", "{}", control["id"]);
            assert_eq!(control["targets"][&name], "error");
            for finding in control["findings"].as_array().expect("findings") {
                assert_eq!((finding["status"].as_str(), finding["message"].as_str()), (Some("error"), Some(&*reason)));
                assert_eq!(finding["evidence"], json!(["host.os"]), "the fact that tells the OS is the evidence");
            }
        }
        assert_eq!(report["summary"]["controls"]["pass"], 0, "no Debian verdict");
        assert_eq!(report["summary"]["controls"]["fail"], 0, "no Debian verdict");
        assert_eq!(
            report["targets"][0]["os_match"],
            json!([{ "benchmark": "cis-debian-linux-12", "applies_to": ["Debian 12"], "host_os": os.described,
                     "outcome": "mismatch", "judged": false, "reason": reason }])
        );
        assert_eq!(report["run"]["ignore_os_mismatch"], false);
        assert!(schema_valid(&report), "report.json matches the schema");
        let said = stderr(&out);
        assert!(
            said.contains(&format!(
                "target {name}: {reason}; the controls of cis-debian-linux-12 are reported as error on it (pass \
                 --ignore-os-mismatch to judge anyway)"
            )),
            "{said}"
        );
        let table = stdout(&out);
        assert!(
            table.contains(&format!(
                "Controls in error (194), not judged:\n  194 controls: {name}: {reason}: audit it with a benchmark \
                 for its OS, or pass --ignore-os-mismatch to judge anyway (1.1.1.1, "
            )),
            "{table}"
        );
        let html = std::fs::read_to_string(dir.path().join(&out_dir).join("report.html")).expect("html");
        assert!(html.contains("<h2>Operating system</h2>") && html.contains("not judged</span> every control"), "html");
        let markdown = std::fs::read_to_string(dir.path().join(&out_dir).join("summary.md")).expect("md");
        assert!(markdown.contains(&format!("**`{name}`: {reason}**: not judged")), "{markdown}");
    }
}

#[test]
fn ignore_os_mismatch_judges_the_host_records_it_and_verify_re_applies_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = bundle(dir.path(), "rocky.json", vec![host_on("db-rocky-01", Some(&ROCKY))]);
    let (out, report) = audit(dir.path(), &path, "pack", &["--ignore-os-mismatch"]);
    assert_eq!(out.status.code(), Some(1), "judged: the sample's failures: {}", stderr(&out));
    assert_eq!(support::control_status(&report, "5.1.20"), "fail");
    let reason = "benchmark is for Debian 12; host is Rocky Linux 9.3 (Blue Onyx) (rocky 9.3)";
    assert_eq!(report["run"]["ignore_os_mismatch"], true);
    assert_eq!(
        report["targets"][0]["os_match"],
        json!([{ "benchmark": "cis-debian-linux-12", "applies_to": ["Debian 12"], "host_os": ROCKY.described,
                 "outcome": "mismatch", "judged": true, "reason": reason }])
    );
    assert!(schema_valid(&report));
    assert!(
        stderr(&out).contains(&format!("target db-rocky-01: {reason}; judged anyway (--ignore-os-mismatch)")),
        "{}",
        stderr(&out)
    );
    let table = stdout(&out);
    assert!(
        table.contains(&format!(
            "Judged although the OS is not the benchmark's (--ignore-os-mismatch):\n  db-rocky-01: {reason} \
             (cis-debian-linux-12)\nReports:"
        )),
        "{table}"
    );
    let html = std::fs::read_to_string(dir.path().join("pack/report.html")).expect("html");
    assert!(html.contains("<strong>judged anyway (--ignore-os-mismatch)</strong>"), "the HTML says it");

    // The pack verifies: the override is re-applied to the recorded facts.
    let verify = |pack: &str| {
        let out = posture(dir.path(), &["verify", pack, "--allow-unpinned"]);
        (out.status.code(), stdout(&out) + stderr(&out).as_str())
    };
    let (code, said) = verify("pack");
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("--ignore-os-mismatch the run was given (re-applied)"), "{said}");

    // The record of the override forged away (manifest re-hashed): the
    // verdicts no longer follow from the facts, and verify says so.
    let mut forged = report.clone();
    forged["run"]["ignore_os_mismatch"] = false.into();
    support::forge_report(&dir.path().join("pack"), &forged);
    let (code, said) = verify("pack");
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("FAILED: report.json: targets[0].os_match[0].judged: the report says true"), "{said}");
    assert!(said.contains("NOT verified"), "{said}");

    // posture.toml says the same as the flag.
    std::fs::write(dir.path().join("posture.toml"), "ignore_os_mismatch = true\n").expect("config");
    let (out, from_config) = audit(dir.path(), &path, "configured", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(from_config["run"]["ignore_os_mismatch"], true);
    assert_eq!(from_config["targets"][0]["os_match"][0]["judged"], true);
}

#[test]
fn a_fleet_judges_its_debian_host_and_not_the_other() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = bundle(dir.path(), "fleet.json", vec![debian_host(), host_on("db-rocky-01", Some(&ROCKY))]);
    let (out, report) = audit(dir.path(), &path, "out", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let reason = "benchmark is for Debian 12; host is Rocky Linux 9.3 (Blue Onyx) (rocky 9.3)";
    for (_, control) in automated(&report) {
        assert_eq!(control["targets"]["db-rocky-01"], "error", "{}", control["id"]);
        assert_ne!(control["targets"]["web-legacy-01"], "error", "the Debian host is judged: {}", control["id"]);
        for finding in control["findings"].as_array().expect("findings") {
            let on_rocky = finding["target"] == "db-rocky-01";
            assert_eq!(on_rocky, finding["message"] == reason, "{finding}");
        }
    }
    let permit_root = support::control(&report, "5.1.20");
    assert_eq!(permit_root["targets"], json!({ "db-rocky-01": "error", "web-legacy-01": "fail" }));
    let counts = |index: usize| report["targets"][index]["controls"].clone();
    assert_eq!(counts(0)["fail"], 85, "the Debian host's verdicts are the sample's: {}", counts(0));
    assert_eq!(counts(0)["error"], 0);
    assert_eq!((counts(1)["error"].as_u64(), counts(1)["pass"].as_u64()), (Some(194), Some(0)));
    assert_eq!(report["targets"][0]["os_match"][0]["outcome"], "match");
    assert_eq!(report["targets"][1]["os_match"][0]["outcome"], "mismatch");
}

#[test]
fn a_bundle_without_host_os_cannot_be_told_and_is_never_taken_for_debian() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = bundle(dir.path(), "no-os.json", vec![host_on("web-1", None)]);
    let (out, report) = audit(dir.path(), &path, "out", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let reason = "cannot tell the host's OS: fact host.os was not recorded";
    for (_, control) in automated(&report) {
        assert_eq!(control["status"], "error", "{}", control["id"]);
        let messages = support::control_messages(&report, control["id"].as_str().expect("id"));
        assert!(messages.lines().all(|line| line == reason), "{messages}");
    }
    assert_eq!(report["targets"][0]["os_match"][0]["outcome"], "unknown");
    assert_eq!(report["targets"][0]["os_match"][0]["host_os"], Value::Null);
    let table = stdout(&out);
    assert!(
        table.contains(&format!(
            "194 controls: web-1: {reason}: record its OS (fact host.os, which a live audit reads), or pass \
             --ignore-os-mismatch to judge anyway"
        )),
        "{table}"
    );
    // Judged anyway on request: the checks that read host.os say it is missing.
    let (out, report) = audit(dir.path(), &path, "anyway", &["--ignore-os-mismatch"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(support::control_status(&report, "5.1.20"), "fail");
    assert_eq!(report["targets"][0]["os_match"][0]["judged"], true);
}

#[test]
fn another_benchmark_of_the_same_audit_still_judges_the_host() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = bundle(dir.path(), "rocky.json", vec![host_on("db-rocky-01", Some(&ROCKY))]);
    let (out, report) =
        audit(dir.path(), &path, "out", &["--benchmark", "cis-debian-linux-12", "--benchmark", "pci-dss-v4.0.1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let reason = "benchmark is for Debian 12; host is Rocky Linux 9.3 (Blue Onyx) (rocky 9.3)";
    let mut pci_judged = 0;
    for (benchmark, control) in automated(&report) {
        let findings = control["findings"].as_array().expect("findings");
        let refused = findings.iter().filter(|f| f["message"] == reason).count();
        if benchmark == "cis-debian-linux-12" {
            assert_eq!(refused, findings.len(), "{}: only its own errors", control["id"]);
        } else {
            // PCI DSS names no OS: it judges the host with the same checks.
            assert_eq!(refused, 0, "pci {}: {findings:?}", control["id"]);
            pci_judged += findings.iter().filter(|f| f["status"] == "pass" || f["status"] == "fail").count();
        }
    }
    assert!(pci_judged > 300, "PCI DSS's host requirements are judged: {pci_judged} verdicts");
    let pci = report["benchmarks"].as_array().expect("benchmarks").iter().find(|b| b["id"] == "pci-dss-v4.0.1");
    let minlen = pci
        .and_then(|b| b["sections"].as_array())
        .into_iter()
        .flatten()
        .flat_map(|s| s["controls"].as_array().cloned().unwrap_or_default())
        .find(|c| c["id"] == "8.3.6")
        .expect("PCI 8.3.6");
    assert_eq!(minlen["status"], "fail", "{minlen}");
    assert_eq!(report["targets"][0]["os_match"].as_array().map(Vec::len), Some(1), "only CIS names an OS");
}

/// `ID`, `VERSION_ID` and `PRETTY_NAME` of this machine's os-release.
fn this_machine() -> (String, String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .map(|value| value.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    (field("ID"), field("VERSION_ID"), field("PRETTY_NAME"))
}

/// The OS a live local audit of one control (which reads no host.os) finds.
fn live_os_match(out: &Output, report: &Value) -> Value {
    assert!(
        report["facts"].as_array().expect("facts").iter().any(|f| f["key"] == "host.os"),
        "host.os is collected though no selected check reads it: {}",
        stderr(out)
    );
    report["targets"][0]["os_match"][0].clone()
}

#[test]
fn a_live_local_audit_reads_the_os_and_judges_this_debian_12_machine() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = posture(dir.path(), &["audit", "--target", "local", "--controls", "1.1.1.1", "--out", "out"]);
    let report = support::read_json(&dir.path().join("out/report.json"));
    let os = live_os_match(&out, &report);
    let (id, version_id, pretty_name) = this_machine();
    let debian_12 = id == "debian" && version_id == "12";
    assert_eq!(os["outcome"], if debian_12 { "match" } else { "mismatch" }, "{os} on {pretty_name}");
    assert_eq!(os["host_os"], format!("{pretty_name} ({id} {version_id})"));
    if debian_12 {
        assert_ne!(support::control_messages(&report, "1.1.1.1"), "", "judged");
        assert!(!support::control_messages(&report, "1.1.1.1").contains("benchmark is for"));
    }
}

#[test]
fn a_live_local_audit_of_a_rocky_host_is_not_judged() {
    if !support::can_unshare() {
        eprintln!("skipping: needs `unshare --mount` (a mount namespace)");
        return;
    }
    let dir = support::scratch(&[(
        "os-release",
        "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n\
         VERSION_ID=\"9.3\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n",
    )]);
    // In its own mount namespace, this machine's os-release says Rocky Linux for this run only.
    let script = format!(
        "set -e; mount --bind '{release}' /etc/os-release; \
         exec '{posture}' audit --target local --controls 1.1.1.1 --out out --no-history",
        release = dir.path().join("os-release").display(),
        posture = env!("CARGO_BIN_EXE_posture"),
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c", &script])
        .current_dir(dir.path())
        .env("POSTURE_NO_HISTORY", "1")
        .env_remove("CI")
        .output()
        .expect("unshare runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("out/report.json"));
    let os = live_os_match(&out, &report);
    assert_eq!((os["outcome"].as_str(), os["judged"].as_bool()), (Some("mismatch"), Some(false)), "{os}");
    assert_eq!(
        support::control_messages(&report, "1.1.1.1"),
        "benchmark is for Debian 12; host is Rocky Linux 9.3 (Blue Onyx) (rocky 9.3)"
    );
}

#[test]
fn the_declaration_is_listed_and_a_bad_one_refused_at_its_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let listed = stdout(&posture(dir.path(), &["list", "benchmarks"]));
    let debian = listed.lines().find(|l| l.starts_with("cis-debian-linux-12 ")).expect("listed");
    assert!(debian.ends_with("provider linux, for Debian 12)"), "{debian}");
    let aws = listed.lines().find(|l| l.starts_with("cis-aws-foundations")).expect("listed");
    assert!(!aws.contains(" for "), "the AWS benchmark names no OS: {aws}");

    let header = "provider = \"linux\"\n\n[[applies_to]]\nname = \"Rocky Linux 9\"\nid = \"Rocky\"\n";
    let mut benchmark = support::linux_benchmark("rocky-9", "Rocky", &[("sshd", "linux_sshd_root_login_disabled")]);
    benchmark = benchmark.replace("provider = \"linux\"\n", header);
    let content = support::scratch(&[("rocky-9.toml", &benchmark)]);
    let out = posture(content.path(), &["validate", "--content", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out) + stderr(&out).as_str();
    assert!(
        text.contains("rocky-9.toml:6:1: `applies_to` Rocky Linux 9: id 'Rocky' is not an os-release ID"),
        "{text}"
    );
}
