//! PCI DSS v4.0.1 offline, and benchmarks of several providers: the
//! recorded host bundle alone (host requirements judged, AWS-only ones not
//! judged for want of an AWS target, never passing), the same bundle with an
//! AWS account added (one report covering both), and the catalog rules of
//! `provider` / `providers`. The live account is in `aws::pci`.

use crate::support::{self, posture, scratch, stderr, stdout};

fn findings(control: &serde_json::Value) -> Vec<serde_json::Value> {
    control["findings"].as_array().cloned().unwrap_or_default()
}

fn all_controls(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["benchmarks"]
        .as_array()
        .expect("benchmarks")
        .iter()
        .flat_map(|b| b["sections"].as_array().expect("sections").iter())
        .flat_map(|s| s["controls"].as_array().expect("controls").iter().cloned())
        .collect()
}

const HOST: &str = "web-legacy-01";

#[test]
fn pci_on_a_host_bundle_judges_the_host_and_not_the_missing_account() {
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = support::sample_bundle();
    let out = posture(
        dir.path(),
        &["audit", "--facts", bundle.to_str().expect("path"), "--benchmark", "pci-dss-v4.0.1", "--out", "r"],
    );
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "AWS controls could not be judged: exit 2\n{log}");
    assert!(log.contains("no aws target is part of this audit"), "{log}");
    let report = support::read_json(&dir.path().join("r/report.json"));
    let schema: serde_json::Value = serde_json::from_str(posture::report::JSON_SCHEMA).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    assert!(validator.is_valid(&report), "report.json matches the schema");
    assert_eq!(report["benchmarks"][0]["id"], "pci-dss-v4.0.1");
    assert_eq!(report["benchmarks"][0]["provider"], "aws,linux");
    let controls = all_controls(&report);
    assert!(controls.len() > 250, "every requirement is in the report: {}", controls.len());

    // Host requirements are judged on the host.
    for (id, status) in [("1.4.3", "fail"), ("2.2.4", "fail"), ("8.3.4", "fail"), ("2.2.7", "fail")] {
        let c = support::control(&report, id);
        assert_eq!(c["status"], status, "{id}: {c}");
        assert!(c["targets"][HOST].is_string(), "{id} is judged on {HOST}: {}", c["targets"]);
    }
    let pwquality = findings(support::control(&report, "8.3.6"));
    assert!(
        pwquality.iter().any(|f| f["check"] == "linux_pwquality_minlen_12" && f["status"] == "fail"),
        "PCI's 12 characters are judged on the host: {pwquality:?}"
    );
    // AWS-only requirements: error, each finding saying that no AWS target was audited.
    for id in ["1.2.5", "3.5.1", "4.2.1", "6.3.3", "10.4.1.1", "A1.1.2"] {
        let c = support::control(&report, id);
        assert_eq!(c["status"], "error", "{id}: {c}");
        let fs = findings(c);
        assert!(!fs.is_empty(), "{id} has findings saying why");
        for f in fs {
            assert_eq!(f["target"], "(no aws target)", "{id}: {f}");
            assert_eq!(f["status"], "error", "{id}: {f}");
            assert!(
                f["message"].as_str().is_some_and(|m| m.contains("no aws target is part of this audit")),
                "{id}: {f}"
            );
        }
    }
    // Mixed requirements never pass on the host's half alone.
    for c in &controls {
        let untargeted = findings(c).iter().any(|f| f["target"] == "(no aws target)");
        assert!(!(untargeted && c["status"] == "pass"), "{} passes with AWS checks not judged: {c}", c["id"]);
    }
    assert_eq!(support::control(&report, "8.3.6")["targets"]["(no aws target)"], "error");
    // Manual requirements keep their guidance.
    let manual = support::control(&report, "12.10.1");
    assert_eq!(manual["status"], "manual");
    assert!(manual["guidance"].as_str().is_some_and(|g| !g.is_empty()));
    let junit = std::fs::read_to_string(dir.path().join("r/junit.xml")).expect("junit");
    assert!(junit.contains("no aws target is part of this audit"), "JUnit gives the reason of each error");
}

/// The sample host plus an AWS account recorded with a password policy and
/// one load balancer; every other AWS fact is absent (unavailable).
fn host_and_account_bundle() -> String {
    let mut bundle = support::read_json(&support::sample_bundle());
    let at = "2026-11-20T09:00:00Z";
    let api = |service: &str, operation: &str, region: Option<&str>| serde_json::json!({ "kind": "api", "service": service, "operation": operation, "region": region });
    let listener =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522881";
    let account = serde_json::json!({
        "name": "123456789012", "provider": "aws",
        "facts": [
            { "key": "aws.account", "state": "available", "collected_at": at,
              "source": api("sts", "GetCallerIdentity+DescribeRegions", None),
              "value": { "account_id": "123456789012", "caller_arn": "arn:aws:iam::123456789012:user/auditor",
                         "partition": "aws", "regions": ["us-east-1"] } },
            { "key": "aws.iam.password_policy", "state": "available", "collected_at": at,
              "source": api("iam", "GetAccountPasswordPolicy", None),
              "value": { "configured": true, "minimum_password_length": 14, "password_reuse_prevention": 24,
                         "require_symbols": true, "require_numbers": true, "require_uppercase_characters": true,
                         "require_lowercase_characters": true, "allow_users_to_change_password": true,
                         "max_password_age": 90, "hard_expiry": false, "expire_passwords": true } },
            { "key": "aws.elbv2.load_balancers:us-east-1", "state": "available", "collected_at": at,
              "source": api("elbv2", "DescribeLoadBalancers+DescribeListeners", Some("us-east-1")),
              "value": [ { "name": "web", "arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
                           "type": "application", "scheme": "internet-facing", "vpc_id": "vpc-1", "dns_name": "web-1.elb.amazonaws.com",
                           "state": "active", "attributes": { "access_logs.s3.enabled": "false" },
                           "listeners": [ { "arn": listener, "port": 443, "protocol": "HTTPS",
                                            "ssl_policy": "ELBSecurityPolicy-2016-08", "ssl_protocols": ["TLSv1", "TLSv1.1", "TLSv1.2"],
                                            "certificates": [], "default_actions": [], "rules": null } ] } ] }
        ]
    });
    bundle["targets"].as_array_mut().expect("targets").push(account);
    serde_json::to_string_pretty(&bundle).expect("json")
}

#[test]
fn one_pci_report_covers_an_account_and_a_host() {
    let dir = scratch(&[("both.json", &host_and_account_bundle())]);
    let out = posture(
        dir.path(),
        &["audit", "--facts", "both.json", "--benchmark", "pci-dss-v4.0.1", "--out", "r", "--format", "json"],
    );
    let log = stderr(&out);
    assert!(!log.contains("target is part of this audit"), "both providers are present:\n{log}");
    let report = support::read_json(&dir.path().join("r/report.json"));
    assert_eq!(report["benchmarks"].as_array().map(Vec::len), Some(1), "one report, one benchmark");
    let targets: Vec<(String, String)> = report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            (t["name"].as_str().unwrap_or_default().to_owned(), t["provider"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    assert!(targets.contains(&("123456789012".to_owned(), "aws".to_owned())), "{targets:?}");
    assert!(targets.contains(&(HOST.to_owned(), "linux".to_owned())), "{targets:?}");
    for c in all_controls(&report) {
        for f in findings(&c) {
            assert!(!f["target"].as_str().unwrap_or_default().starts_with("(no "), "{}: {f}", c["id"]);
        }
    }
    // 8.3.6 on both: the account's policy passes, the host's pwquality fails.
    let c = support::control(&report, "8.3.6");
    assert_eq!(c["targets"]["123456789012"], "pass", "{}", c["targets"]);
    assert_eq!(c["targets"][HOST], "fail", "{}", c["targets"]);
    assert_eq!(c["status"], "fail");
    // 4.2.1 judges the recorded listener's TLS 1.0/1.1 policy.
    let tls: Vec<serde_json::Value> = findings(support::control(&report, "4.2.1"))
        .into_iter()
        .filter(|f| f["check"] == "aws_elbv2_listener_tls_policy_current")
        .collect();
    assert_eq!(tls.len(), 1, "{tls:?}");
    assert_eq!(tls[0]["status"], "fail");
    assert!(tls[0]["message"].as_str().is_some_and(|m| m.contains("TLSv1, TLSv1.1")), "{tls:?}");
    // An AWS fact the bundle lacks is an error, not a pass.
    assert_eq!(support::control(&report, "3.5.1")["status"], "error");
}

const TWO_PROVIDERS: &str = r#"id = "both"
title = "Two providers"
version = "1"
providers = ["aws", "linux"]

[[sections]]
id = "1"
title = "All"

[[controls]]
id = "1.1"
title = "Host"
assessment = "automated"
checks = ["linux_test_host"]

[[controls]]
id = "1.2"
title = "Account"
assessment = "automated"
checks = ["aws_test_account"]

[[controls]]
id = "1.3"
title = "Both"
assessment = "automated"
checks = ["linux_test_host", "aws_test_account"]
"#;

fn check(id: &str, fact: &str) -> String {
    format!(
        "//! id = \"{id}\"\n//! title = \"t\"\n//! severity = \"low\"\n//! resource_type = \"r\"\n//! facts = [\"{fact}\"]\n//! rationale = \"r\"\n//! remediation = \"m\"\n\nfn check(facts) {{\n    facts.get(\"{fact}\");\n    [pass(\"x\", \"fine\")]\n}}\n"
    )
}

fn two_provider_content(benchmark: &str) -> tempfile::TempDir {
    scratch(&[
        ("both.toml", benchmark),
        ("checks/linux/test/linux_test_host.rhai", &check("linux_test_host", "host.sysctl")),
        ("checks/aws/test/aws_test_account.rhai", &check("aws_test_account", "aws.account")),
        ("facts.json", crate::catalog::BUNDLE),
    ])
}

#[test]
fn a_benchmark_of_two_providers_evaluates_each_check_on_its_own_targets() {
    let dir = two_provider_content(TWO_PROVIDERS);
    let valid = posture(dir.path(), &["validate", "--content", "."]);
    assert_eq!(valid.status.code(), Some(0), "{}", stdout(&valid));
    let listed = posture(dir.path(), &["list", "benchmarks", "--content", "."]);
    assert!(stdout(&listed).contains("providers aws, linux"), "{}", stdout(&listed));

    // The bundle holds a linux host only: its checks run there, the AWS
    // check is not judged, and nothing it decides passes.
    let out = posture(
        dir.path(),
        &["audit", "--content", ".", "--benchmark", "both", "--facts", "facts.json", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = support::read_json(&dir.path().join("posture-report/report.json"));
    assert_eq!(support::control(&report, "1.1")["status"], "pass");
    assert_eq!(support::control(&report, "1.1")["targets"]["box"], "pass");
    for id in ["1.2", "1.3"] {
        let c = support::control(&report, id);
        assert_eq!(c["status"], "error", "{id}: {c}");
        assert_eq!(c["targets"]["(no aws target)"], "error", "{id}: {c}");
    }
    assert_eq!(support::control(&report, "1.3")["targets"]["box"], "pass", "the host half is still judged");
    assert_eq!(report["summary"]["controls"]["error"], 2);
}

#[test]
fn a_benchmark_needs_a_target_of_one_of_its_providers() {
    let only_aws = TWO_PROVIDERS.replace(r#"providers = ["aws", "linux"]"#, r#"providers = ["aws"]"#);
    let dir = two_provider_content(&only_aws);
    let out = posture(dir.path(), &["audit", "--content", ".", "--benchmark", "both", "--facts", "facts.json"]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("benchmark 'both' audits aws targets, and no aws target is part of this audit"),
        "{message}"
    );
    // ... and a linux check under an aws-only benchmark is a content problem.
    let valid = posture(dir.path(), &["validate", "--content", "."]);
    assert!(
        stdout(&valid).contains("maps to check 'linux_test_host' of provider 'linux', but the benchmark is for 'aws'"),
        "{}",
        stdout(&valid)
    );
}

#[test]
fn provider_and_providers_are_checked() {
    for (benchmark, expected) in [
        (
            TWO_PROVIDERS.replace(r#"providers = ["aws", "linux"]"#, "provider = \"linux\"\nproviders = [\"aws\"]"),
            "give `provider` (one) or `providers` (several), not both",
        ),
        (TWO_PROVIDERS.replace(r#"providers = ["aws", "linux"]"#, "providers = []"), "`providers` is empty"),
        (TWO_PROVIDERS.replace(r#"providers = ["aws", "linux"]"#, ""), "missing `provider`"),
        (
            TWO_PROVIDERS.replace(r#"providers = ["aws", "linux"]"#, r#"providers = ["aws", "linux", "aws"]"#),
            "provider 'aws' is listed twice",
        ),
    ] {
        let dir = two_provider_content(&benchmark);
        let out = posture(dir.path(), &["validate", "--content", "."]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(text.contains("both.toml") && text.contains(expected), "expected {expected:?} in:\n{text}");
    }
}
