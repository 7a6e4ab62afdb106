//! The AWS collector: turns the requested AWS fact keys of one account into
//! facts, dispatching each to its service module and running services,
//! regions and per-resource calls concurrently with bounds. It imports the
//! service modules and what they share (`sdk.rs`: client settings, error
//! reasons, timestamps, bounded fan-out); no service module imports it.
//!
//! Policy, in one place:
//! - one task per fact (`<kind>:<region>` for regional kinds), each making its
//!   own read-only call chain once; at most [`TASK_LIMIT`] tasks run at once
//!   and each fans out to at most [`RESOURCE_LIMIT`](super::sdk::RESOURCE_LIMIT)
//!   per-resource calls (IAM sub-calls of all IAM facts share one such bound,
//!   IAM being rate-limited per account);
//! - the SDK's retry in standard mode with at least
//!   [`MIN_ATTEMPTS`](super::sdk::MIN_ATTEMPTS) attempts (unless the caller
//!   disabled retries), except for answers that are a web server's error page
//!   rather than the service's ([`NotTheService`](super::sdk::NotTheService)),
//!   and timeouts per attempt and per operation where the caller's
//!   configuration sets none. Credentials are the caller's, untouched;
//! - an error becomes an unavailable fact whose reason names the service, the
//!   operation, the region and the error code; "not configured" answers are
//!   data, decided by each service module.

use crate::facts::provider::Provider;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_config::SdkConfig;
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::calls::CallLog;
use super::kinds::Collector;
use super::sdk::{bounded, tuned_config, Ctx};
use super::{ec2, sts, AwsCalls, FACTS};
use crate::facts::descriptor::{self, FactDescriptor, Scope};
use crate::facts::{Fact, FactKey, FactSource};

/// Fact tasks (one per fact) running at once for one account.
pub const TASK_LIMIT: usize = 24;

/// The account to collect from: the SDK configuration (credentials, endpoint
/// override, retry and timeout settings) and what was learnt about the
/// account before collection.
#[derive(Debug, Clone)]
pub struct AwsTarget {
    /// The caller's SDK configuration; its credentials are used as they are.
    pub config: SdkConfig,
    /// The 12-digit account id (STS GetCallerIdentity).
    pub account_id: String,
    /// The ARN of the identity collecting (STS GetCallerIdentity).
    pub caller_arn: String,
    /// The AWS partition (`aws`, `aws-cn`, `aws-us-gov`), see [`partition_of_arn`].
    pub partition: String,
    /// The regions to collect regional facts from.
    pub regions: Vec<String>,
    /// The log of every API call made for this account, from connecting on.
    pub calls: CallLog,
}

/// Collects the requested AWS facts of one account.
///
/// - a global key (`aws.iam.users`) gives one fact;
/// - a regional kind without region (`aws.ec2.vpcs`) gives one fact per
///   region of the target (`aws.ec2.vpcs:eu-west-1`, ...); with a region
///   (`aws.ec2.vpcs:eu-west-1`) it gives that one fact;
/// - an `aws.` key that names no AWS fact gives an unavailable fact;
/// - keys outside `aws.` belong to other collectors and are skipped.
///
/// A fact that cannot be had is unavailable with the reason; collection
/// never stops at one failure. Facts are returned in key order.
pub async fn collect(target: &AwsTarget, keys: &BTreeSet<FactKey>) -> Vec<Fact> {
    let ctx = Arc::new(Ctx::new(&target.config, &target.account_id, &target.partition, &target.regions, &target.calls));
    let mut wanted: BTreeMap<FactKey, Wanted> = BTreeMap::new();
    for key in keys {
        if Provider::of_fact(key) != Some(Provider::Aws) {
            continue;
        }
        let row = descriptor::find(FACTS, key).filter(|row| row.accepts(key));
        match (row, key.param()) {
            (Some(row), None) if row.scope == Scope::Regional => {
                for region in &target.regions {
                    wanted.insert(FactKey::new(format!("{key}:{region}")), Wanted::Kind(row, Some(region.clone())));
                }
            }
            (Some(row), region) => {
                wanted.insert(key.clone(), Wanted::Kind(row, region.map(str::to_owned)));
            }
            (None, _) => {
                wanted.insert(key.clone(), Wanted::Unknown);
            }
        }
    }

    let mut facts = Vec::with_capacity(wanted.len());
    let mut pending = Vec::new();
    for (key, want) in wanted {
        let planned = match want {
            Wanted::Kind(row, region) => match (&row.how.collector, region) {
                (Collector::Account, _) => {
                    facts.push(Fact::available(key, account_value(target), account_source()));
                    continue;
                }
                (Collector::Global(plan), _) => plan(&ctx, row.kind),
                (Collector::Regional(plan), Some(region)) => plan(&ctx, row.kind, &region),
                (Collector::Regional(_), None) => None,
            },
            Wanted::Unknown => None,
        };
        match planned {
            Some(planned) => pending.push((key, planned)),
            None => {
                let source =
                    FactSource::Api { service: service_of(key.kind()), operation: "none".into(), region: None };
                facts.push(Fact::unavailable(
                    key,
                    "not an AWS fact this version collects (see docs/aws-facts.md)",
                    source,
                ));
            }
        }
    }

    let (meta, futures): (Vec<_>, Vec<_>) =
        pending.into_iter().map(|(key, planned)| ((key, planned.source), planned.future)).unzip();
    let limit = Arc::new(Semaphore::new(TASK_LIMIT));
    // Each fact is stamped with the time its calls finished.
    let results = bounded(&limit, futures, |future| async move {
        let result = future.await;
        (result, Utc::now())
    })
    .await;
    for ((key, source), result) in meta.into_iter().zip(results) {
        let fact = match result {
            Ok((Ok(value), at)) => Fact { collected_at: at, ..Fact::available(key, value, source) },
            Ok((Err(reason), at)) => Fact { collected_at: at, ..Fact::unavailable(key, reason, source) },
            Err(internal) => {
                let reason = format!("internal error while collecting {key}: {internal}");
                Fact::unavailable(key, reason, source)
            }
        };
        facts.push(fact);
    }
    facts.sort_by(|a, b| a.key.cmp(&b.key));
    facts
}

/// The regions EC2 DescribeRegions lists as enabled for the account (opt-in
/// not required, or opted in), sorted.
///
/// Asks the configuration's region, or `us-east-1` when none is configured.
pub async fn enabled_regions(config: &SdkConfig, calls: &CallLog) -> Result<Vec<String>, String> {
    ec2::enabled_regions(&tuned_config(config), calls).await
}

/// The account id and caller ARN from STS GetCallerIdentity: the first call
/// of an audit, so its error says what to fix (no credentials, expired or
/// rejected credentials, unreachable endpoint).
///
/// Asks the configuration's region, or `us-east-1` when none is configured.
pub async fn caller_identity(config: &SdkConfig, calls: &CallLog) -> Result<(String, String), String> {
    sts::caller_identity(&tuned_config(config), calls).await
}

/// The partition of an ARN (`arn:aws-cn:iam::...` gives `aws-cn`), `aws`
/// when the text is not an ARN.
pub fn partition_of_arn(arn: &str) -> String {
    let mut parts = arn.split(':');
    match (parts.next(), parts.next()) {
        (Some("arn"), Some(partition)) if !partition.is_empty() => partition.to_string(),
        _ => "aws".to_string(),
    }
}

enum Wanted {
    /// A kind's fact, in a region for a regional kind.
    Kind(&'static FactDescriptor<AwsCalls>, Option<String>),
    Unknown,
}

fn service_of(kind: &str) -> String {
    kind.split('.').nth(1).unwrap_or("aws").to_string()
}

fn account_value(target: &AwsTarget) -> Value {
    let mut regions = target.regions.clone();
    regions.sort();
    regions.dedup();
    json!({
        "account_id": target.account_id,
        "caller_arn": target.caller_arn,
        "partition": target.partition,
        "regions": regions,
    })
}

fn account_source() -> FactSource {
    FactSource::Api { service: "sts".into(), operation: "GetCallerIdentity+DescribeRegions".into(), region: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_from_arns() {
        assert_eq!(partition_of_arn("arn:aws:iam::123456789012:user/a"), "aws");
        assert_eq!(partition_of_arn("arn:aws-cn:sts::123456789012:assumed-role/r/s"), "aws-cn");
        assert_eq!(partition_of_arn("not an arn"), "aws");
    }
}
