//! AWS facts: the table of kinds (`kinds.rs`, docs/aws-facts.md) and, per
//! service, the collectors that fetch them through the AWS SDK for Rust.

pub use crate::facts::descriptor::is_region_name;
pub use kinds::{AwsCalls, FACTS};

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
pub mod kinds;
pub mod kms;
pub mod logs;
pub mod rds;
pub mod s3;
pub mod sdk;
pub mod securityhub;
pub mod sns;
pub mod sts;
