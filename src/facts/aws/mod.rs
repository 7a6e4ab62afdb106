//! AWS facts: the keys (docs/aws-facts.md) and, per service, the collectors
//! that fetch them through the AWS SDK for Rust.

use crate::facts::FactKey;

/// Facts fetched once per account.
pub const GLOBAL_FACT_KEYS: &[&str] = &[
    "aws.account",
    "aws.iam.credential_report",
    "aws.iam.password_policy",
    "aws.iam.account_summary",
    "aws.iam.virtual_mfa_devices",
    "aws.iam.users",
    "aws.iam.groups",
    "aws.iam.roles",
    "aws.iam.policies",
    "aws.iam.support_role",
    "aws.iam.server_certificates",
    "aws.s3.buckets",
    "aws.s3control.public_access_block",
];

/// Facts fetched once per account and region, stored as `<kind>:<region>`.
pub const REGIONAL_FACT_KINDS: &[&str] = &[
    "aws.cloudtrail.trails",
    "aws.config.recorders",
    "aws.config.delivery_channels",
    "aws.kms.keys",
    "aws.ec2.security_groups",
    "aws.ec2.network_acls",
    "aws.ec2.vpcs",
    "aws.ec2.vpc_endpoints",
    "aws.ec2.flow_logs",
    "aws.ec2.ebs_encryption_by_default",
    "aws.ec2.instances",
    "aws.ec2.volumes",
    "aws.logs.metric_filters",
    "aws.logs.log_groups",
    "aws.cloudwatch.alarms",
    "aws.sns.subscriptions",
    "aws.rds.instances",
    "aws.efs.file_systems",
    "aws.accessanalyzer.analyzers",
    "aws.securityhub.hub",
    "aws.elbv2.load_balancers",
];

/// Whether `key` names an AWS fact: a global key, a regional kind (as checks
/// declare it), or a regional kind with a region.
pub fn is_known_fact(key: &FactKey) -> bool {
    match key.param() {
        None => GLOBAL_FACT_KEYS.contains(&key.as_str()) || REGIONAL_FACT_KINDS.contains(&key.as_str()),
        Some(region) => REGIONAL_FACT_KINDS.contains(&key.kind()) && is_region_name(region),
    }
}

/// Whether a declared key is a regional kind, read region by region.
pub fn is_regional_kind(key: &FactKey) -> bool {
    key.param().is_none() && REGIONAL_FACT_KINDS.contains(&key.as_str())
}

pub fn is_region_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub mod accessanalyzer;
pub mod calls;
pub mod cloudtrail;
pub mod cloudwatch;
pub mod collect;
pub mod config;
pub mod ec2;
pub mod efs;
pub mod elbv2;
pub mod iam;
pub mod kms;
pub mod logs;
pub mod rds;
pub mod s3;
pub mod sdk;
pub mod securityhub;
pub mod sns;
pub mod sts;
