//! AWS facts: the table of kinds (`kinds.rs`, docs/aws-facts.md) and, per
//! service, the collectors that fetch them through the AWS SDK for Rust.

pub use crate::facts::descriptor::is_region_name;
pub use kinds::{AwsCalls, FACTS};

/// The AWS provider: accounts, through the AWS SDK.
pub const PROVIDER: crate::facts::descriptor::ProviderDescriptor = crate::facts::descriptor::ProviderDescriptor {
    name: "aws",
    fact_prefix: "aws.",
    default_benchmark: "cis-aws-foundations-v3.0.0",
    example_target: "aws",
    os_fact: None,
    scope_of: |key| crate::facts::descriptor::scope_in(FACTS, key),
};

pub mod accessanalyzer;
pub mod calls;
pub mod cloudtrail;
pub mod cloudwatch;
pub mod collect;
pub mod config;
pub mod credentials;
pub mod ec2;
pub mod efs;
pub mod elbv2;
pub mod iam;
pub mod kinds;
pub mod kms;
pub mod logs;
pub mod rds;
pub mod s3;
pub mod sdk;
pub mod securityhub;
pub mod sns;
pub mod sts;
