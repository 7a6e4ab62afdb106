//! PCI DSS v4.0.1 on the seeded account: a child of the AWS end-to-end test
//! (`super`), sharing its emulator and seeding. It adds what PCI's own checks
//! read: an Application Load Balancer with an old TLS policy and a plain
//! HTTP listener (us-east-1) and one with a current policy and an HTTP
//! listener that only redirects (eu-west-1), an encrypted and an unencrypted
//! EBS volume, and log groups with long and short retention. None of it is
//! read by a CIS AWS Foundations v3.0.0 check, so the CIS expectations stay
//! as they are.
//!
//! Then `--benchmark pci-dss-v4.0.1 --target aws`: the new controls' verdicts
//! and failing ARNs, host-only controls `error` for want of a linux target
//! (never `pass`); and `--target aws,local`: one report covering the account
//! and this machine.
//!
//! Emulator notes: moto gives every instance an unencrypted 8 GiB root
//! volume (named among the failing volumes), does not report
//! `access_logs.s3.enabled` until it is set (the check treats it as the
//! default, off), and has no Access Analyzer (its findings are `error`
//! naming ListAnalyzers, as in the CIS test).

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
};
use serde_json::Value;

use super::{
    bucket, describe, emulator_env, posture_aws, Clients, Seeded, ACCESS_LOG_BUCKET, ACCOUNT, OPEN_BUCKET, TRAIL_BUCKET,
};
use crate::support;

const OLD_POLICY: &str = "ELBSecurityPolicy-2016-08";
const CURRENT_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

async fn subnets(c: &Clients, vpc: &str) -> Vec<String> {
    let found = c
        .ec2
        .describe_subnets()
        .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .expect("DescribeSubnets");
    let ids: Vec<String> = found.subnets().iter().filter_map(|s| s.subnet_id().map(String::from)).take(2).collect();
    assert!(!ids.is_empty(), "moto creates default subnets in {vpc}");
    ids
}

/// An internet-facing Application Load Balancer and a target group for it.
async fn load_balancer(c: &Clients, name: &str, vpc: &str, security_group: &str) -> (String, String) {
    let created = c
        .elbv2
        .create_load_balancer()
        .name(name)
        .set_subnets(Some(subnets(c, vpc).await))
        .security_groups(security_group)
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .r#type(LoadBalancerTypeEnum::Application)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateLoadBalancer {name}: {e:?}"));
    let arn = created.load_balancers().first().and_then(|l| l.load_balancer_arn()).expect("load balancer arn");
    let group = c
        .elbv2
        .create_target_group()
        .name(format!("{name}-web"))
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTargetGroup {name}: {e:?}"));
    let group = group.target_groups().first().and_then(|g| g.target_group_arn()).expect("target group arn");
    (arn.to_owned(), group.to_owned())
}

fn forward(target_group: &str) -> Action {
    Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(target_group).build()
}

fn redirect_to_https() -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build()
}

async fn listener(c: &Clients, lb: &str, port: i32, tls: Option<(&str, &str)>, action: Action) -> String {
    let mut request = c.elbv2.create_listener().load_balancer_arn(lb).port(port).default_actions(action);
    request = match tls {
        Some((policy, certificate)) => request
            .protocol(ProtocolEnum::Https)
            .ssl_policy(policy)
            .certificates(Certificate::builder().certificate_arn(certificate).build()),
        None => request.protocol(ProtocolEnum::Http),
    };
    let created = request.send().await.unwrap_or_else(|e| panic!("CreateListener {lb}:{port}: {e:?}"));
    created.listeners().first().and_then(|l| l.listener_arn()).expect("listener arn").to_owned()
}

/// The ids of the volumes attached to an instance.
async fn instance_volumes(c: &Clients, instance: &str) -> Vec<String> {
    let found = c
        .ec2
        .describe_volumes()
        .filters(aws_sdk_ec2::types::Filter::builder().name("attachment.instance-id").values(instance).build())
        .send()
        .await
        .expect("DescribeVolumes");
    found.volumes().iter().filter_map(|v| v.volume_id().map(String::from)).collect()
}

async fn volume(c: &Clients, zone: &str, encrypted: bool) -> String {
    let created = c
        .ec2
        .create_volume()
        .availability_zone(zone)
        .size(1)
        .encrypted(encrypted)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateVolume in {zone}: {e:?}"));
    created.volume_id().expect("volume id").to_owned()
}

async fn log_group(c: &Clients, name: &str, retention: i32, key: Option<String>) {
    c.logs
        .create_log_group()
        .log_group_name(name)
        .set_kms_key_id(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateLogGroup {name}: {e:?}"));
    c.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(retention)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutRetentionPolicy {name}: {e:?}"));
}

/// Seeds what the PCI checks read; runs after the CIS seeding (it uses its
/// VPCs, security groups, certificate, KMS key and instances).
pub(super) async fn seed(us: &Clients, eu: &Clients, seeded: &mut Seeded) {
    let certificate = seeded.get("certificate");
    // 4.2.1, 2.2.5: an old policy and a forwarding HTTP listener in us-east-1.
    let (legacy, legacy_group) =
        load_balancer(us, "pci-legacy", &seeded.get("vpc us"), &seeded.get("sg https-only")).await;
    let https = listener(us, &legacy, 443, Some((OLD_POLICY, &certificate)), forward(&legacy_group)).await;
    let http = listener(us, &legacy, 80, None, forward(&legacy_group)).await;
    seeded.set("lb legacy", legacy);
    seeded.set("listener legacy https", https);
    seeded.set("listener legacy http", http);
    // A current policy, HTTP only redirecting, and access logs in eu-west-1.
    let (modern, modern_group) =
        load_balancer(eu, "pci-modern", &seeded.get("vpc eu"), &seeded.get("sg default eu")).await;
    let https = listener(eu, &modern, 443, Some((CURRENT_POLICY, &certificate)), forward(&modern_group)).await;
    let http = listener(eu, &modern, 80, None, redirect_to_https()).await;
    eu.elbv2
        .modify_load_balancer_attributes()
        .load_balancer_arn(&modern)
        .attributes(LoadBalancerAttribute::builder().key("access_logs.s3.enabled").value("true").build())
        .attributes(LoadBalancerAttribute::builder().key("access_logs.s3.bucket").value(ACCESS_LOG_BUCKET).build())
        .send()
        .await
        .expect("ModifyLoadBalancerAttributes");
    seeded.set("lb modern", modern);
    seeded.set("listener modern https", https);
    seeded.set("listener modern http", http);

    // 3.5.1: an encrypted volume in us-east-1, an unencrypted one in
    // eu-west-1, beside the instances' root volumes (unencrypted in moto).
    seeded.set("volume encrypted", volume(us, "us-east-1a", true).await);
    seeded.set("volume plain", volume(eu, "eu-west-1a", false).await);
    let mut roots = instance_volumes(us, &seeded.get("instance imdsv2")).await;
    roots.extend(instance_volumes(eu, &seeded.get("instance imdsv1")).await);
    assert_eq!(roots.len(), 2, "moto gives each instance one root volume: {roots:?}");
    seeded.set("volume root us", roots[0].clone());
    seeded.set("volume root eu", roots[1].clone());

    // 10.5.1, 3.5.1: a year-long, KMS-encrypted log group in us-east-1 (the
    // trail's group keeps events forever, without KMS); 30 days in eu-west-1.
    log_group(us, "posture-app", 400, Some(seeded.get("key rotated"))).await;
    log_group(eu, "posture-debug", 30, None).await;
}

fn volume_arn(region: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:{ACCOUNT}:volume/{id}")
}

fn log_group_arn(region: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}")
}

/// Resource -> status of one check's findings in one control.
fn check_findings(report: &Value, control_id: &str, check: &str) -> BTreeMap<String, String> {
    support::control(report, control_id)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["check"] == check)
        .map(|f| {
            (f["resource"].as_str().unwrap_or_default().to_owned(), f["status"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// (control, check, [(resource, status)]): every finding the check must give
/// on the seeded resources (resources not listed may appear too).
type CheckExpectation = (&'static str, &'static str, Vec<(String, &'static str)>);

fn check_expectations(s: &Seeded) -> Vec<CheckExpectation> {
    let account = format!("account {ACCOUNT}");
    vec![
        (
            "4.2.1",
            "aws_elbv2_listener_tls_enforced",
            vec![
                (s.get("listener legacy https"), "pass"),
                (s.get("listener legacy http"), "fail"),
                (s.get("listener modern https"), "pass"),
                (s.get("listener modern http"), "pass"),
            ],
        ),
        (
            "4.2.1",
            "aws_elbv2_listener_tls_policy_current",
            vec![(s.get("listener legacy https"), "fail"), (s.get("listener modern https"), "pass")],
        ),
        (
            "10.2.1",
            "aws_elbv2_load_balancer_access_logging_enabled",
            vec![(s.get("lb legacy"), "fail"), (s.get("lb modern"), "pass")],
        ),
        (
            "3.5.1",
            "aws_ec2_ebs_volume_encrypted",
            vec![
                (volume_arn("us-east-1", &s.get("volume encrypted")), "pass"),
                (volume_arn("eu-west-1", &s.get("volume plain")), "fail"),
                (volume_arn("us-east-1", &s.get("volume root us")), "fail"),
                (volume_arn("eu-west-1", &s.get("volume root eu")), "fail"),
            ],
        ),
        (
            "3.5.1",
            "aws_s3_bucket_default_encryption_enabled",
            vec![(bucket(TRAIL_BUCKET), "pass"), (bucket(ACCESS_LOG_BUCKET), "pass"), (bucket(OPEN_BUCKET), "fail")],
        ),
        (
            "3.5.1",
            "aws_rds_instance_storage_encrypted",
            vec![(s.get("db private"), "pass"), (s.get("db public"), "fail")],
        ),
        (
            "10.5.1",
            "aws_logs_log_group_retention_one_year",
            vec![
                (log_group_arn("us-east-1", "posture-trail"), "pass"),
                (log_group_arn("us-east-1", "posture-app"), "pass"),
                (log_group_arn("eu-west-1", "posture-debug"), "fail"),
            ],
        ),
        (
            "3.5.1",
            "aws_logs_log_group_kms_encrypted",
            vec![
                (log_group_arn("us-east-1", "posture-app"), "pass"),
                (log_group_arn("us-east-1", "posture-trail"), "fail"),
                (log_group_arn("eu-west-1", "posture-debug"), "fail"),
            ],
        ),
        // The seeded policy: 8 characters, symbols and digits, no reuse prevention, no expiry.
        ("8.3.6", "aws_iam_password_policy_min_length_12_alphanumeric", vec![(account.clone(), "fail")]),
        ("8.3.7", "aws_iam_password_policy_reuse_prevention_4", vec![(account.clone(), "fail")]),
        ("8.3.9", "aws_iam_password_policy_max_age_90_days", vec![(account.clone(), "fail")]),
        // moto has no Access Analyzer.
        (
            "1.4.4",
            "aws_accessanalyzer_analyzer_active",
            vec![("region us-east-1".to_owned(), "error"), ("region eu-west-1".to_owned(), "error")],
        ),
    ]
}

/// Controls judged only by host checks: with no linux target, `error`.
const HOST_ONLY: [&str; 5] = ["1.4.3", "2.2.4", "2.2.7", "8.3.4", "10.6.1"];

/// A PCI DSS audit of `targets` against the emulator: the run and its report.json.
fn pci_audit(endpoint: &str, regions: &str, targets: &str) -> (tempfile::TempDir, std::process::Output, Value) {
    let dir = tempfile::tempdir().expect("tmp");
    let home = tempfile::tempdir().expect("home");
    let args = [
        "audit",
        "--target",
        targets,
        "--regions",
        regions,
        "--benchmark",
        "pci-dss-v4.0.1",
        "--out",
        "pci",
        "--format",
        "json",
    ];
    let out = posture_aws(dir.path(), home.path(), &emulator_env(endpoint), &args);
    let report_path = dir.path().join("pci/report.json");
    assert!(report_path.is_file(), "no PCI report.json; stderr:\n{}", support::stderr(&out));
    let report = support::read_json(&report_path);
    (dir, out, report)
}

pub(super) fn audit_of_the_seeded_account(endpoint: &str, regions: &str, s: &Seeded) {
    let (_dir, out, report) = pci_audit(endpoint, regions, "aws");
    let stderr = support::stderr(&out);
    assert!(
        stderr.contains("no linux target is part of this audit"),
        "the run says which provider is missing:\n{stderr}"
    );
    let benchmark = &report["benchmarks"][0];
    assert_eq!(benchmark["id"], "pci-dss-v4.0.1");
    assert_eq!(benchmark["provider"], "aws,linux");

    let mut problems = Vec::new();
    for (control_id, check, expected) in check_expectations(s) {
        let got = check_findings(&report, control_id, check);
        for (resource, status) in expected {
            if got.get(&resource).map(String::as_str) != Some(status) {
                problems.push(format!(
                    "{control_id} / {check}: expected {status} for {resource}, got {:?}\n{}",
                    got.get(&resource),
                    describe(support::control(&report, control_id))
                ));
            }
        }
    }
    let messages = support::control_messages(&report, "4.2.1");
    for text in [OLD_POLICY, "TLSv1.1", "serves plain HTTP"] {
        if !messages.contains(text) {
            problems.push(format!("4.2.1 must say '{text}': {}", describe(support::control(&report, "4.2.1"))));
        }
    }
    if !support::control_messages(&report, "1.4.4").contains("ListAnalyzers") {
        problems.push(format!(
            "1.4.4's Access Analyzer error names ListAnalyzers: {}",
            describe(support::control(&report, "1.4.4"))
        ));
    }
    for (id, status) in
        [("4.2.1", "fail"), ("3.5.1", "fail"), ("10.5.1", "fail"), ("8.3.6", "fail"), ("10.2.1", "fail")]
    {
        if support::control(&report, id)["status"] != status {
            problems.push(format!("expected {status}: {}", describe(support::control(&report, id))));
        }
    }
    // Host-only controls are not judged, and say why; host checks beside
    // AWS checks never let a control pass.
    for id in HOST_ONLY {
        let c = support::control(&report, id);
        let findings = c["findings"].as_array().cloned().unwrap_or_default();
        let clear = !findings.is_empty()
            && findings.iter().all(|f| {
                f["status"] == "error"
                    && f["target"] == "(no linux target)"
                    && f["message"].as_str().unwrap_or_default().contains("no linux target is part of this audit")
            });
        if c["status"] != "error" || !clear {
            problems.push(format!("expected error for want of a linux target: {}", describe(c)));
        }
    }
    let mixed = support::control(&report, "10.5.1");
    if mixed["targets"]["(no linux target)"] != "error" || mixed["targets"][ACCOUNT] != "fail" {
        problems.push(format!("10.5.1 is judged on the account and not judged for hosts: {}", mixed["targets"]));
    }
    for id in ["12.1.1", "3.3.1", "11.3.2"] {
        if support::control(&report, id)["status"] != "manual"
            || support::control(&report, id)["guidance"].as_str().is_none()
        {
            problems.push(format!("expected manual with guidance: {}", describe(support::control(&report, id))));
        }
    }
    let passing: Vec<&str> = benchmark["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|section| section["controls"].as_array().into_iter().flatten())
        .filter(|c| c["status"] == "pass")
        .filter(|c| c["findings"].as_array().into_iter().flatten().any(|f| f["target"] == "(no linux target)"))
        .filter_map(|c| c["id"].as_str())
        .collect();
    if !passing.is_empty() {
        problems.push(format!("controls with unjudged host checks must not pass: {passing:?}"));
    }
    assert!(problems.is_empty(), "{} PCI problem(s):\n{}", problems.len(), problems.join("\n"));
    assert_eq!(out.status.code(), Some(2), "not everything could be judged:\n{stderr}");

    the_account_and_this_machine_in_one_report(endpoint, regions, s);
}

/// `--target aws,local`: one PCI report covering the account and the host.
fn the_account_and_this_machine_in_one_report(endpoint: &str, regions: &str, s: &Seeded) {
    let (_dir, _out, report) = pci_audit(endpoint, regions, "aws,local");
    let targets = report["targets"].as_array().expect("targets");
    let host = targets
        .iter()
        .find(|t| t["provider"] == "linux")
        .and_then(|t| t["name"].as_str())
        .unwrap_or_else(|| panic!("no linux target in {targets:?}"))
        .to_owned();
    assert!(targets.iter().any(|t| t["name"] == ACCOUNT && t["provider"] == "aws"), "{targets:?}");
    assert_eq!(report["benchmarks"].as_array().map(Vec::len), Some(1), "one PCI report");
    let untargeted: Vec<String> = report["benchmarks"][0]["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|section| section["controls"].as_array().into_iter().flatten())
        .flat_map(|c| c["findings"].as_array().into_iter().flatten())
        .filter(|f| f["target"].as_str().is_some_and(|t| t.starts_with("(no ")))
        .map(|f| format!("{} {}", f["check"], f["target"]))
        .collect();
    assert!(untargeted.is_empty(), "every check has a target: {untargeted:?}");
    // A control with checks of both providers is judged on both targets.
    for id in ["8.3.6", "10.5.1", "2.2.2"] {
        let c = support::control(&report, id);
        assert!(
            c["targets"][ACCOUNT].is_string() && c["targets"][host.as_str()].is_string(),
            "{id} covers the account and {host}: {}",
            c["targets"]
        );
    }
    // Host-only controls now have the host's verdicts; AWS ones the account's.
    for id in HOST_ONLY {
        let c = support::control(&report, id);
        assert!(c["targets"][host.as_str()].is_string(), "{id} is judged on {host}: {}", describe(c));
        assert!(c["targets"].get(ACCOUNT).is_none(), "{id} has no AWS check: {}", describe(c));
    }
    assert_eq!(
        check_findings(&report, "4.2.1", "aws_elbv2_listener_tls_policy_current").get(&s.get("listener legacy https")),
        Some(&"fail".to_owned())
    );
}
