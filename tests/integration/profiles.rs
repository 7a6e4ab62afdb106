//! Profiles through the real binary: `--level` and `--host-role` select the
//! controls of the sample Debian host by their CIS profile, the pass rate and
//! every count are over the selection, the reports and the terminal name the
//! profile, `verify` re-applies it (a forged one is caught), the history
//! keeps runs of different profiles apart, and what cannot be applied (no
//! levels at all, a pattern outside the profile, an undeclared profile in a
//! benchmark file) is refused saying so.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use crate::support::{self, posture, scratch, stderr, stdout};

const DEBIAN: &str = "cis-debian-linux-12";

/// `posture audit --facts <the sample host> --out r EXTRA...`, with no history.
fn sample_audit(dir: &Path, extra: &[&str]) -> Output {
    sample_audit_into(dir, "r", extra)
}

fn sample_audit_into(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let bundle = support::sample_bundle();
    let mut args = vec!["audit", "--facts", bundle.to_str().expect("utf-8 path"), "--out", out, "--no-history"];
    args.extend_from_slice(extra);
    posture(dir, &args)
}

/// The ids of the built-in Debian benchmark's controls that name one of `profiles`, read from its file.
fn debian_controls_in(profiles: &[&str]) -> BTreeSet<String> {
    let path = support::content_dir().join(format!("{DEBIAN}.toml"));
    let text = std::fs::read_to_string(&path).expect("the Debian benchmark");
    let file: toml::Value = toml::from_str(&text).expect("TOML");
    file["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .filter(|c| {
            c["profiles"].as_array().expect("profiles").iter().any(|p| profiles.contains(&p.as_str().expect("name")))
        })
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The ids and statuses of a report's controls of one benchmark.
fn statuses(report: &Value, benchmark: &str) -> Vec<(String, String)> {
    report["benchmarks"]
        .as_array()
        .expect("benchmarks")
        .iter()
        .filter(|b| b["id"] == benchmark)
        .flat_map(|b| b["sections"].as_array().expect("sections"))
        .flat_map(|s| s["controls"].as_array().expect("controls"))
        .map(|c| (c["id"].as_str().expect("id").to_owned(), c["status"].as_str().expect("status").to_owned()))
        .collect()
}

fn benchmark<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["benchmarks"].as_array().expect("benchmarks").iter().find(|b| b["id"] == id).expect("the benchmark")
}

/// pass / (pass + fail + error) of statuses, rounded as the report rounds it.
fn pass_rate(statuses: &[&str]) -> f64 {
    let count = |wanted: &str| statuses.iter().filter(|s| **s == wanted).count() as f64;
    let rate = count("pass") / (count("pass") + count("fail") + count("error"));
    (rate * 10_000.0).round() / 10_000.0
}

#[test]
fn level_1_selects_the_level_1_server_controls_and_rates_over_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let whole = sample_audit_into(dir.path(), "whole", &[]);
    assert_eq!(whole.status.code(), Some(1), "{}", stderr(&whole));
    let whole = support::read_json(&dir.path().join("whole/report.json"));

    let out = sample_audit(dir.path(), &["--level", "1", "--format", "html,json,junit,md,csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("r/report.json"));
    let expected = debian_controls_in(&["L1 server"]);
    assert_eq!(expected.len(), 249, "the benchmark's Level 1 - Server profile");
    let selected = statuses(&report, DEBIAN);
    assert_eq!(selected.iter().map(|(id, _)| id.clone()).collect::<BTreeSet<_>>(), expected);
    assert_eq!(report["run"]["selection"], json!({"controls": [], "skip": [], "level": 1}));
    assert_eq!(
        benchmark(&report, DEBIAN)["profile"],
        json!({"name": "Level 1 - Server", "level": 1, "role": "server", "role_by_default": true,
               "profiles": ["L1 server"]})
    );
    // Each selected control has the status it has in the whole run; the pass
    // rate and the counts are those of the selection alone.
    let in_whole: Vec<(String, String)> =
        statuses(&whole, DEBIAN).into_iter().filter(|(id, _)| expected.contains(id)).collect();
    assert_eq!(selected, in_whole);
    let selected_statuses: Vec<&str> = selected.iter().map(|(_, s)| s.as_str()).collect();
    let rate = pass_rate(&selected_statuses);
    assert_eq!(report["summary"]["pass_rate"].as_f64(), Some(rate));
    assert_ne!(whole["summary"]["pass_rate"].as_f64(), Some(rate), "a rate of its own");
    let fail = selected_statuses.iter().filter(|s| **s == "fail").count();
    assert_eq!(report["summary"]["controls"]["total"], 249);
    assert_eq!(report["summary"]["controls"]["fail"], fail);
    assert_eq!(benchmark(&report, DEBIAN)["summary"]["controls"]["total"], 249);
    let junit = std::fs::read_to_string(dir.path().join("r/junit.xml")).expect("junit");
    assert!(junit.contains(&format!("tests=\"249\" failures=\"{fail}\"")), "{}", &junit[..300]);
    let csv = std::fs::read_to_string(dir.path().join("r/findings.csv")).expect("csv");
    assert!(!csv.contains(",1.1.1.6,"), "a Level 2 control has no rows");

    // Every reader is told the profile, and that the host role was the default.
    let terminal = stdout(&out);
    assert_eq!(
        terminal.lines().next(),
        Some(
            "Profile: Level 1 - Server of cis-debian-linux-12 (249 controls; server is the default host role: \
             --host-role chooses another)"
        ),
        "{terminal}"
    );
    assert!(stderr(&out).contains(&format!("249 controls (Level 1 - Server): {} pass, {fail} fail", {
        selected_statuses.iter().filter(|s| **s == "pass").count()
    })));
    let summary = std::fs::read_to_string(dir.path().join("r/summary.md")).expect("summary.md");
    assert!(
        summary.starts_with("# posture audit: CIS Debian Linux 12 Benchmark v1.1.0 (Level 1 - Server)"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "Profile **Level 1 - Server** (L1 server; server is the benchmark's default host role): 249 controls"
        ),
        "{summary}"
    );
    let html = std::fs::read_to_string(dir.path().join("r/report.html")).expect("report.html");
    assert!(html.contains("<h1>CIS Debian Linux 12 Benchmark v1.1.0 — Level 1 - Server</h1>"), "the heading");
    assert!(html.contains("Profile <strong>Level 1 - Server</strong> (L1 server)"), "the benchmark's section");
}

#[test]
fn level_2_for_a_workstation_takes_in_its_level_1_and_a_role_alone_takes_both_levels() {
    let dir = tempfile::tempdir().expect("tmp");
    let expected = debian_controls_in(&["L1 workstation", "L2 workstation"]);
    assert_eq!(expected.len(), 307);
    for (args, name) in [
        (&["--level", "2", "--host-role", "workstation"][..], "Level 2 - Workstation"),
        (&["--host-role", "workstation"][..], "All levels - Workstation"),
    ] {
        let out = sample_audit(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let report = support::read_json(&dir.path().join("r/report.json"));
        let ids: BTreeSet<String> = statuses(&report, DEBIAN).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, expected, "{args:?}");
        let profile = &benchmark(&report, DEBIAN)["profile"];
        assert_eq!((profile["name"].as_str(), &profile["role_by_default"]), (Some(name), &json!(false)), "{profile}");
        assert_eq!(profile["profiles"], json!(["L1 workstation", "L2 workstation"]));
        assert_eq!(report["run"]["selection"]["host_role"], "workstation");
        assert_eq!(
            stdout(&out).lines().next(),
            Some(&*format!("Profile: {name} of cis-debian-linux-12 (307 controls)"))
        );
    }
    // A control that is Level 1 for servers but Level 2 for workstations.
    let out = sample_audit(dir.path(), &["--level", "1", "--host-role", "workstation"]);
    let report = support::read_json(&dir.path().join("r/report.json"));
    let ids: BTreeSet<String> = statuses(&report, DEBIAN).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, debian_controls_in(&["L1 workstation"]), "{}", stderr(&out));
}

#[test]
fn level_on_a_run_without_levels_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = sample_audit(dir.path(), &["--benchmark", "pci-dss-v4.0.1", "--level", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains(
            "posture: error: --level 1: no selected benchmark declares CIS levels (pci-dss-v4.0.1: profiles All \
             entities, Service providers,"
        ),
        "{text}"
    );
    assert!(text.contains("posture: help: `posture list benchmarks` shows each benchmark's profiles"), "{text}");
    assert!(!dir.path().join("r").exists(), "nothing was written");

    let role = sample_audit(dir.path(), &["--benchmark", "pci-dss-v4.0.1", "--host-role", "server"]);
    assert_eq!(role.status.code(), Some(2));
    assert!(
        stderr(&role).contains("--host-role server: no selected benchmark declares host roles"),
        "{}",
        stderr(&role)
    );
    let unknown = sample_audit(dir.path(), &["--level", "1", "--host-role", "desktop"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains(
            "posture: error: --host-role desktop: benchmark 'cis-debian-linux-12' declares the host roles server, \
             workstation"
        ),
        "{}",
        stderr(&unknown)
    );
    for bad in [&["--level", "3"][..], &["--level", "one"][..], &["--host-role", ""][..]] {
        let out = sample_audit(dir.path(), bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(stderr(&out).starts_with("error: "), "a usage error of clap's: {}", stderr(&out));
    }
    assert!(stderr(&sample_audit(dir.path(), &["--level", "3"])).contains("[possible values: 1, 2]"));
}

#[test]
fn a_mixed_run_takes_the_benchmark_without_levels_whole_and_warns() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = sample_audit(dir.path(), &["--benchmark", DEBIAN, "--benchmark", "pci-dss-v4.0.1", "--level", "1"]);
    // PCI's AWS checks have no target here: exit 2, as without --level.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains(
            "posture: warning: benchmark 'pci-dss-v4.0.1' declares no CIS levels (its profiles: All entities, \
             Service providers,"
        ) && text.contains("): --level does not apply to it, and all its controls are selected"),
        "{text}"
    );
    assert!(text.contains("controls (cis-debian-linux-12: Level 1 - Server): "), "{text}");
    let report = support::read_json(&dir.path().join("r/report.json"));
    assert_eq!(benchmark(&report, "pci-dss-v4.0.1").get("profile"), None, "taken whole");
    assert_eq!(benchmark(&report, "pci-dss-v4.0.1")["summary"]["controls"]["total"], 279);
    assert_eq!(benchmark(&report, DEBIAN)["summary"]["controls"]["total"], 249);
}

#[test]
fn patterns_narrow_the_profile_and_one_outside_it_is_refused_saying_so() {
    let dir = tempfile::tempdir().expect("tmp");
    // 1.1.1.6 is Level 2 only (L2 server, L2 workstation).
    assert!(!debian_controls_in(&["L1 server", "L1 workstation"]).contains("1.1.1.6"));
    let out = sample_audit(dir.path(), &["--level", "1", "--controls", "1.1.1.6"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "posture: error: --controls 1.1.1.6 matches only controls outside the chosen profile, Level 1 - Server of \
             cis-debian-linux-12: 1.1.1.6 (L2 server, L2 workstation)"
        ),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("posture: help: --level and --host-role choose the profile"), "{}", stderr(&out));
    let skip = sample_audit(dir.path(), &["--level", "1", "--skip", "1.1.1.6"]);
    assert_eq!(skip.status.code(), Some(2));
    assert!(stderr(&skip).contains("--skip 1.1.1.6 matches only controls outside the chosen profile"));
    // A typo is still a typo: its closest ids are within the profile.
    let typo = sample_audit(dir.path(), &["--level", "1", "--controls", "5.1.999"]);
    assert!(stderr(&typo).contains("--controls 5.1.999 matches no control of cis-debian-linux-12; closest:"));

    // The selection is the profile's controls that the patterns select.
    let out = sample_audit(dir.path(), &["--level", "1", "--controls", "1.1.1.*", "--skip", "1.1.1.1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("r/report.json"));
    let ids: BTreeSet<String> = statuses(&report, DEBIAN).into_iter().map(|(id, _)| id).collect();
    let expected: BTreeSet<String> = debian_controls_in(&["L1 server"])
        .into_iter()
        .filter(|id| id.starts_with("1.1.1.") && id != "1.1.1.1")
        .collect();
    assert!(!expected.is_empty() && !expected.contains("1.1.1.6"));
    assert_eq!(ids, expected);
}

#[test]
fn verify_reapplies_the_recorded_profile_and_catches_a_forged_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = sample_audit_into(dir.path(), "pack", &["--level", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let pack = dir.path().join("pack");
    let verified = posture(dir.path(), &["verify", "pack", "--allow-unpinned"]);
    assert_eq!(verified.status.code(), Some(0), "{}{}", stdout(&verified), stderr(&verified));
    assert!(stdout(&verified).contains("249 control verdicts"), "{}", stdout(&verified));
    let genuine = std::fs::read_to_string(pack.join("report.json")).expect("report.json");

    // The profile's name forged: the re-derived one differs.
    let mut forged: Value = serde_json::from_str(&genuine).expect("json");
    forged["benchmarks"][0]["profile"]["name"] = json!("Level 2 - Server");
    forged["benchmarks"][0]["profile"]["level"] = json!(2);
    support::forge_report(&pack, &forged);
    let caught = posture(dir.path(), &["verify", "pack", "--allow-unpinned"]);
    let text = stdout(&caught) + stderr(&caught).as_str();
    assert_eq!(caught.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "report.json: benchmarks[cis-debian-linux-12].profile.name: the report says \"Level 2 - Server\", the \
             recorded facts give \"Level 1 - Server\""
        ),
        "{text}"
    );

    // The recorded level forged: re-applied, it selects controls whose
    // checks the pack does not hold (it holds the content the run used).
    let mut forged: Value = serde_json::from_str(&genuine).expect("json");
    forged["run"]["selection"]["level"] = json!(2);
    support::forge_report(&pack, &forged);
    let caught = posture(dir.path(), &["verify", "pack", "--allow-unpinned"]);
    let text = stdout(&caught) + stderr(&caught).as_str();
    assert_eq!(caught.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAILED: re-derivation: content/: cis-debian-linux-12.toml:")
            && text.contains("which does not exist (a content problem the report does not list"),
        "{text}"
    );
    assert!(text.contains("NOT verified"), "{text}");

    // A Level 2 pack (all the content) whose level is forged to 1: re-applied,
    // Level 1 selects fewer controls than the report holds (and less content).
    let out = sample_audit_into(dir.path(), "pack2", &["--level", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let pack = dir.path().join("pack2");
    let mut forged = support::read_json(&pack.join("report.json"));
    forged["run"]["selection"]["level"] = json!(1);
    support::forge_report(&pack, &forged);
    let caught = posture(dir.path(), &["verify", "pack2", "--allow-unpinned"]);
    let text = stdout(&caught) + stderr(&caught).as_str();
    assert_eq!(caught.status.code(), Some(1), "{text}");
    assert!(text.contains("summary.controls.total: the report says 310, the recorded facts give 249"), "{text}");
}

#[test]
fn the_level_and_host_role_can_be_set_in_posture_toml() {
    let dir = scratch(&[("posture.toml", "level = 2\nhost_role = \"workstation\"\n")]);
    let out = sample_audit(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("r/report.json"));
    assert_eq!(benchmark(&report, DEBIAN)["profile"]["name"], "Level 2 - Workstation");
    assert_eq!(report["run"]["selection"], json!({"controls": [], "skip": [], "level": 2, "host_role": "workstation"}));
    // The command line wins over the file.
    let out = sample_audit(dir.path(), &["--level", "1", "--host-role", "server"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("r/report.json"));
    assert_eq!(benchmark(&report, DEBIAN)["profile"]["name"], "Level 1 - Server");
    let bad = scratch(&[("posture.toml", "\nlevel = 3\n")]);
    let out = sample_audit(bad.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("posture.toml:2:9: level 3 is not a CIS level (1 or 2)"), "{}", stderr(&out));
}

#[test]
fn an_undeclared_profile_in_a_benchmark_file_is_an_error_at_its_line() {
    let benchmark = "id = \"levels\"\ntitle = \"Levels\"\nversion = \"1\"\nprovider = \"linux\"\n\n\
                     [[profiles]]\nname = \"Level 1\"\nlevel = 1\n\n[[sections]]\nid = \"1\"\ntitle = \"S\"\n\n\
                     [[controls]]\nid = \"1.1\"\ntitle = \"C\"\nprofiles = [\"Level 1\", \"Levle 2\"]\nassessment = \"manual\"\n";
    let dir = scratch(&[("levels.toml", benchmark)]);
    let out = posture(dir.path(), &["validate", "--content", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(
            "levels.toml:17:24: control '1.1' names profile 'Levle 2', which the benchmark does not declare \
             (declared: Level 1)"
        ),
        "{}",
        stdout(&out)
    );
    // An audit reports it as a content problem, and exits 2.
    let out = sample_audit(dir.path(), &["--content", ".", "--benchmark", "levels", "--level", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("posture: content problem: levels.toml:17:24: control '1.1' names profile 'Levle 2'"));
}

#[test]
fn listings_show_what_each_benchmark_offers_and_a_control_its_profiles() {
    let root = support::repo_root();
    let listed = stdout(&posture(&root, &["list", "benchmarks"]));
    assert!(
        listed.contains(
            "--level 1, 2 · --host-role server (default), workstation · profiles: L1 server, L1 workstation, L2 \
             server, L2 workstation"
        ),
        "{listed}"
    );
    assert!(listed.contains("--level 1, 2 · profiles: Level 1, Level 2"), "{listed}");
    assert!(listed.contains("no CIS levels (--level takes it whole) · profiles: All entities"), "{listed}");
    let explained = stdout(&posture(&root, &["explain", "cis-debian-linux-12:1.1.1.6"]));
    assert!(
        explained.contains("profiles:   L2 server (Level 2 - Server), L2 workstation (Level 2 - Workstation)"),
        "{explained}"
    );
}

#[test]
fn the_history_compares_runs_of_one_profile_and_diff_says_when_profiles_differ() {
    let dir = tempfile::tempdir().expect("tmp");
    let history = dir.path().join("history.sqlite");
    let history = history.to_str().expect("path");
    let audit = |out: &str, extra: &[&str]| -> Value {
        let bundle = support::sample_bundle();
        let mut args = vec!["audit", "--facts", bundle.to_str().expect("path"), "--out", out, "--history", history];
        args.extend_from_slice(extra);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_posture"))
            .args(&args)
            .current_dir(dir.path())
            .env_remove("POSTURE_NO_HISTORY")
            .env_remove("POSTURE_HISTORY")
            .output()
            .expect("posture runs");
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        support::read_json(&dir.path().join(out).join("report.json"))
    };
    let level_1 = audit("one", &["--level", "1"]);
    let level_2 = audit("two", &["--level", "2"]);
    assert_eq!(level_2["changes"], Value::Null, "no earlier run of Level 2 - Server: nothing to compare with");
    let again = audit("again", &["--level", "1"]);
    assert_eq!(again["changes"]["previous_run"]["id"], level_1["run"]["id"], "compared with the Level 1 run");
    assert_eq!(again["changes"]["counts"]["controls"]["removed"], 0);

    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--history", history]);
        stdout(&posture(dir.path(), &all))
    };
    let listed = run(&["history"]);
    assert!(listed.contains("cis-debian-linux-12 (Level 2 - Server) on web-legacy-01"), "{listed}");
    let one = level_1["run"]["id"].as_str().expect("id");
    let two = level_2["run"]["id"].as_str().expect("id");
    let diff = run(&["diff", one, two]);
    assert!(
        diff.contains(
            "note: the runs used different profiles (from: cis-debian-linux-12: Level 1 - Server; to: \
             cis-debian-linux-12: Level 2 - Server): a control in only one of them is listed as added or removed"
        ),
        "{diff}"
    );
    assert!(diff.contains("61 added"), "the 61 Level 2 controls: {diff}");
    let trend = run(&["trend"]);
    assert!(trend.contains("cis-debian-linux-12 (Level 1 - Server)"), "{trend}");
}
