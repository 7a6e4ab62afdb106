//! The AWS fact kinds: one table, [`FACTS`], a row per kind (global or
//! regional, the read-only API calls it makes, the service module that
//! collects it). Which AWS keys exist, how a regional kind expands, what
//! `explain` lists and which collector `collect.rs` runs all come from here:
//! adding an AWS fact kind is one row plus its collector in the service's
//! module. May import the service modules' planners and descriptors.

use std::sync::Arc;

use super::sdk::{Ctx, Planned};
use super::{
    accessanalyzer, cloudtrail, cloudwatch, config, ec2, efs, elbv2, iam, kms, logs, rds, s3, securityhub, sns,
};
use crate::facts::descriptor::{self, FactDescriptor, Scope};
use crate::facts::FactKey;

/// What an AWS fact kind calls and the code that collects it.
#[derive(Debug)]
pub struct AwsCalls {
    /// `service Operation` of each read-only call, in the order made.
    pub calls: &'static [&'static str],
    pub(super) collector: Collector,
}

/// The collector of an AWS fact kind: the service module's planner, given
/// the kind (and the region of a regional kind).
#[derive(Debug)]
pub(super) enum Collector {
    /// What was learnt while connecting (identity, regions): no call of its own.
    Account,
    Global(fn(&Arc<Ctx>, &str) -> Option<Planned>),
    Regional(fn(&Arc<Ctx>, &str, &str) -> Option<Planned>),
}

use Collector::{Account, Global, Regional};

/// Every AWS fact kind this version collects (docs/aws-facts.md describes
/// each one's shape).
pub const FACTS: &[FactDescriptor<AwsCalls>] = &[
    FactDescriptor {
        kind: "aws.account",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls { calls: &["sts GetCallerIdentity", "ec2 DescribeRegions"], collector: Account },
    },
    FactDescriptor {
        kind: "aws.iam.credential_report",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls {
            calls: &["iam GenerateCredentialReport", "iam GetCredentialReport"],
            collector: Global(iam::plan),
        },
    },
    FactDescriptor {
        kind: "aws.iam.password_policy",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls { calls: &["iam GetAccountPasswordPolicy"], collector: Global(iam::plan) },
    },
    FactDescriptor {
        kind: "aws.iam.account_summary",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls { calls: &["iam GetAccountSummary"], collector: Global(iam::plan) },
    },
    FactDescriptor {
        kind: "aws.iam.virtual_mfa_devices",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls { calls: &["iam ListVirtualMFADevices"], collector: Global(iam::plan) },
    },
    FactDescriptor {
        kind: "aws.iam.users",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls {
            calls: &[
                "iam ListUsers",
                "iam ListMFADevices",
                "iam ListAccessKeys",
                "iam GetAccessKeyLastUsed",
                "iam ListAttachedUserPolicies",
                "iam ListUserPolicies",
                "iam ListGroupsForUser",
                "iam GetLoginProfile",
            ],
            collector: Global(iam::plan),
        },
    },
    FactDescriptor {
        kind: "aws.iam.groups",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls {
            calls: &["iam ListGroups", "iam ListAttachedGroupPolicies", "iam ListGroupPolicies"],
            collector: Global(iam::plan),
        },
    },
    FactDescriptor {
        kind: "aws.iam.roles",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls { calls: &["iam ListRoles", "iam ListAttachedRolePolicies"], collector: Global(iam::plan) },
    },
    FactDescriptor {
        kind: "aws.iam.policies",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls { calls: &["iam ListPolicies", "iam GetPolicyVersion"], collector: Global(iam::plan) },
    },
    FactDescriptor {
        kind: "aws.iam.support_role",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls { calls: &["iam ListEntitiesForPolicy"], collector: Global(iam::plan) },
    },
    FactDescriptor {
        kind: "aws.iam.server_certificates",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls { calls: &["iam ListServerCertificates"], collector: Global(iam::plan) },
    },
    FactDescriptor {
        kind: "aws.s3.buckets",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls {
            calls: &[
                "s3 ListBuckets",
                "s3 GetBucketLocation",
                "s3 GetBucketPolicy",
                "s3 GetPublicAccessBlock",
                "s3 GetBucketEncryption",
                "s3 GetBucketVersioning",
                "s3 GetBucketLogging",
            ],
            collector: Global(s3::plan),
        },
    },
    FactDescriptor {
        kind: "aws.s3control.public_access_block",
        scope: Scope::Global,
        needs_root: false,
        how: AwsCalls { calls: &["s3control GetPublicAccessBlock"], collector: Global(s3::plan) },
    },
    FactDescriptor {
        kind: "aws.cloudtrail.trails",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls {
            calls: &["cloudtrail DescribeTrails", "cloudtrail GetTrailStatus", "cloudtrail GetEventSelectors"],
            collector: Regional(cloudtrail::plan),
        },
    },
    FactDescriptor {
        kind: "aws.config.recorders",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls {
            calls: &[
                "configservice DescribeConfigurationRecorders",
                "configservice DescribeConfigurationRecorderStatus",
            ],
            collector: Regional(config::plan),
        },
    },
    FactDescriptor {
        kind: "aws.config.delivery_channels",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["configservice DescribeDeliveryChannels"], collector: Regional(config::plan) },
    },
    FactDescriptor {
        kind: "aws.kms.keys",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls {
            calls: &["kms ListKeys", "kms DescribeKey", "kms GetKeyRotationStatus"],
            collector: Regional(kms::plan),
        },
    },
    FactDescriptor {
        kind: "aws.ec2.security_groups",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["ec2 DescribeSecurityGroups"], collector: Regional(ec2::plan) },
    },
    FactDescriptor {
        kind: "aws.ec2.network_acls",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["ec2 DescribeNetworkAcls"], collector: Regional(ec2::plan) },
    },
    FactDescriptor {
        kind: "aws.ec2.vpcs",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["ec2 DescribeVpcs"], collector: Regional(ec2::plan) },
    },
    FactDescriptor {
        kind: "aws.ec2.vpc_endpoints",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["ec2 DescribeVpcEndpoints"], collector: Regional(ec2::plan) },
    },
    FactDescriptor {
        kind: "aws.ec2.flow_logs",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["ec2 DescribeFlowLogs"], collector: Regional(ec2::plan) },
    },
    FactDescriptor {
        kind: "aws.ec2.ebs_encryption_by_default",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["ec2 GetEbsEncryptionByDefault"], collector: Regional(ec2::plan) },
    },
    FactDescriptor {
        kind: "aws.ec2.instances",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["ec2 DescribeInstances"], collector: Regional(ec2::plan) },
    },
    FactDescriptor {
        kind: "aws.ec2.volumes",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["ec2 DescribeVolumes"], collector: Regional(ec2::plan) },
    },
    FactDescriptor {
        kind: "aws.logs.metric_filters",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["cloudwatchlogs DescribeMetricFilters"], collector: Regional(logs::plan) },
    },
    FactDescriptor {
        kind: "aws.logs.log_groups",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["cloudwatchlogs DescribeLogGroups"], collector: Regional(logs::plan) },
    },
    FactDescriptor {
        kind: "aws.cloudwatch.alarms",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["cloudwatch DescribeAlarms"], collector: Regional(cloudwatch::plan) },
    },
    FactDescriptor {
        kind: "aws.sns.subscriptions",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["sns ListSubscriptions"], collector: Regional(sns::plan) },
    },
    FactDescriptor {
        kind: "aws.rds.instances",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["rds DescribeDBInstances"], collector: Regional(rds::plan) },
    },
    FactDescriptor {
        kind: "aws.efs.file_systems",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["efs DescribeFileSystems"], collector: Regional(efs::plan) },
    },
    FactDescriptor {
        kind: "aws.accessanalyzer.analyzers",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["accessanalyzer ListAnalyzers"], collector: Regional(accessanalyzer::plan) },
    },
    FactDescriptor {
        kind: "aws.securityhub.hub",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls { calls: &["securityhub DescribeHub"], collector: Regional(securityhub::plan) },
    },
    FactDescriptor {
        kind: "aws.elbv2.load_balancers",
        scope: Scope::Regional,
        needs_root: false,
        how: AwsCalls {
            calls: &[
                "elasticloadbalancingv2 DescribeLoadBalancers",
                "elasticloadbalancingv2 DescribeListeners",
                "elasticloadbalancingv2 DescribeLoadBalancerAttributes",
                "elasticloadbalancingv2 DescribeRules",
            ],
            collector: Regional(elbv2::plan),
        },
    },
];

/// The API calls collecting `keys` makes, each once, in table order per
/// key; keys that are not AWS facts make none.
pub fn calls_for_facts<'k>(keys: impl IntoIterator<Item = &'k FactKey>) -> Vec<String> {
    let mut calls: Vec<String> = Vec::new();
    for key in keys {
        let Some(row) = descriptor::find(FACTS, key) else { continue };
        for call in row.how.calls {
            if !calls.iter().any(|known| known == call) {
                calls.push((*call).to_owned());
            }
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aws_fact_kind_is_declared_once_with_its_calls() {
        for row in FACTS {
            assert_eq!(FACTS.iter().filter(|other| other.kind == row.kind).count(), 1, "{}", row.kind);
            assert!(row.kind.starts_with("aws."), "{}", row.kind);
            assert!(!row.how.calls.is_empty(), "{}", row.kind);
            let regional = matches!(row.how.collector, Collector::Regional(_));
            assert_eq!(regional, row.scope == Scope::Regional, "{}", row.kind);
            assert_ne!(row.scope, Scope::PerPath, "{}", row.kind);
        }
    }

    #[test]
    fn every_aws_fact_kind_is_documented() {
        let docs = include_str!("../../../docs/aws-facts.md");
        for row in FACTS {
            assert!(docs.contains(&format!("### `{}`", row.kind)), "docs/aws-facts.md lacks {}", row.kind);
        }
    }
}
