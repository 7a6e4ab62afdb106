//! Waivers end to end on the sample host bundle: an active waiver turns
//! failures into `waived` in every report format, an expired one no longer
//! applies, one that matches nothing is reported, and a malformed file stops
//! the audit before anything is collected, naming its line. (Matching on an
//! injected day is unit-tested in src/waivers.rs.)

use crate::support;

const WAIVERS: &str = r#"# Accepted risks of the sample host.
[[waivers]]
id = "W-rpcbind"
control = "cis-debian-linux-12:2.1.12"
resource = "service rpcbind.*"
justification = "NFS clients need rpcbind until the storage move"
approver = "platform-lead@example.com"
expires = 2999-12-31

[[waivers]]
id = "W-redirects-all"
control = "3.3.2"
resource = "sysctl net.ipv4.conf.all.*"
target = "*"
justification = "router role, default interface only"
approver = "netops@example.com"
expires = 2999-12-31

[[waivers]]
id = "W-telnet"
check = "linux_pkg_telnet_client_removed"
resource = "package telnet"
justification = "legacy switch console"
approver = "netops@example.com"
expires = 2000-01-01

[[waivers]]
id = "W-nothing"
check = "linux_sysctl_martians_logged"
resource = "sysctl net.nothing.*"
justification = "matches no finding"
approver = "nobody@example.com"
expires = 2999-12-31
"#;

fn finding<'a>(report: &'a serde_json::Value, control: &str, resource: &str) -> &'a serde_json::Value {
    support::control(report, control)["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["resource"] == resource)
        .unwrap_or_else(|| panic!("no finding for {resource} under {control}"))
}

#[test]
fn active_expired_and_unmatched_waivers_in_every_format() {
    let dir = support::scratch(&[("waivers.toml", WAIVERS)]);
    let bundle = support::sample_bundle();
    let out = support::posture(
        dir.path(),
        &["audit", "--facts", bundle.to_str().expect("utf-8"), "--waivers", "waivers.toml", "--out", "report"],
    );
    let report_path = dir.path().join("report/report.json");
    assert!(report_path.is_file(), "{}", support::stderr(&out));
    let report = support::read_json(&report_path);

    // Active, covering every failing finding of the control: the control is waived.
    assert_eq!(support::control_status(&report, "2.1.12"), "waived");
    for resource in ["service rpcbind.service", "service rpcbind.socket"] {
        let waived = finding(&report, "2.1.12", resource);
        assert_eq!(waived["status"], "waived");
        assert_eq!(waived["waiver"]["id"], "W-rpcbind");
        assert_eq!(waived["waiver"]["state"], "active");
        assert_eq!(waived["waiver"]["expires"], "2999-12-31");
        assert_eq!(waived["waiver"]["justification"], "NFS clients need rpcbind until the storage move");
    }
    // Active on one of two failing resources: the control still fails.
    assert_eq!(support::control_status(&report, "3.3.2"), "fail");
    assert_eq!(finding(&report, "3.3.2", "sysctl net.ipv4.conf.all.send_redirects")["status"], "waived");
    assert_eq!(finding(&report, "3.3.2", "sysctl net.ipv4.conf.default.send_redirects")["status"], "fail");
    // Expired: the failure stands, with the lapsed waiver beside it.
    assert_eq!(support::control_status(&report, "2.2.4"), "fail");
    let lapsed = finding(&report, "2.2.4", "package telnet");
    assert_eq!((lapsed["status"].as_str(), lapsed["waiver"]["state"].as_str()), (Some("fail"), Some("expired")));

    let states: Vec<(String, String, u64)> = report["waivers"]
        .as_array()
        .expect("waivers")
        .iter()
        .map(|w| {
            (
                w["id"].as_str().unwrap_or_default().to_owned(),
                w["state"].as_str().unwrap_or_default().to_owned(),
                w["matched"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    let expected = [
        ("W-rpcbind", "active", 2),
        ("W-redirects-all", "active", 1),
        ("W-telnet", "expired", 1),
        ("W-nothing", "unmatched", 0),
    ];
    let expected: Vec<(String, String, u64)> =
        expected.iter().map(|(id, state, n)| (id.to_string(), state.to_string(), *n)).collect();
    assert_eq!(states, expected);
    assert!(report["waivers"][0]["source"].as_str().unwrap_or_default().ends_with("waivers.toml:2"));
    assert!(report["summary"]["controls"]["waived"].as_u64() >= Some(1));
    assert!(report["summary"]["findings"]["waived"].as_u64() >= Some(3));

    let junit = std::fs::read_to_string(dir.path().join("report/junit.xml")).expect("junit");
    roxmltree::Document::parse(&junit).expect("junit.xml is well-formed");
    assert!(junit.contains("waived: ") && junit.contains("W-rpcbind until 2999-12-31"), "junit names the waiver");
    assert!(junit.contains("WAIVED ") && junit.contains("W-redirects-all"), "a partly waived control lists it");
    let markdown = std::fs::read_to_string(dir.path().join("report/summary.md")).expect("md");
    for text in ["## Waivers", "| unmatched | `W-nothing`", "| expired | `W-telnet`", "| active | `W-rpcbind`"] {
        assert!(markdown.contains(text), "summary.md lacks {text}:\n{markdown}");
    }
    let html = std::fs::read_to_string(dir.path().join("report/report.html")).expect("html");
    for text in ["Waived by W-rpcbind until 2999-12-31", "Waiver W-telnet expired on 2000-01-01", "id=\"waivers\""] {
        assert!(html.contains(text), "report.html lacks {text}");
    }
}

#[test]
fn waivers_change_the_exit_code_only_through_what_they_waive() {
    // Waive every failure of a single control and audit only that control:
    // nothing fails any more, so the exit code is 0.
    let waivers = "[[waivers]]\ncontrol = \"2.1.12\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = 2999-12-31\n";
    let dir = support::scratch(&[("w.toml", waivers)]);
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("utf-8");
    let run = |extra: &[&str]| {
        let mut args = vec!["audit", "--facts", bundle, "--controls", "2.1.12", "--out", "r", "--format", "json"];
        args.extend_from_slice(extra);
        support::posture(dir.path(), &args)
    };
    assert_eq!(run(&[]).status.code(), Some(1), "the control fails without the waiver");
    let waived = run(&["--waivers", "w.toml"]);
    assert_eq!(waived.status.code(), Some(0), "{}", support::stderr(&waived));
}

#[test]
fn a_malformed_waivers_file_stops_the_audit_before_collection() {
    let cases = [
        ("no-expiry.toml", "[[waivers]]\ncontrol = \"2.1.12\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\n", ":1:", "expires"),
        (
            "unknown-control.toml",
            "\n\n[[waivers]]\ncontrol = \"99.99\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = 2999-01-01\n",
            ":4:",
            "99.99",
        ),
    ];
    for (name, text, line, words) in cases {
        let dir = support::scratch(&[(name, text)]);
        // A live local audit: the waivers must be refused before any fact is read.
        let out = support::posture(dir.path(), &["audit", "--target", "local", "--waivers", name, "--out", "report"]);
        let stderr = support::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("{name}{line}")) && stderr.contains(words), "{stderr}");
        assert!(!stderr.contains("collecting facts"), "no collection may start:\n{stderr}");
        assert!(!dir.path().join("report").exists(), "no report without valid waivers");
    }
}
