//! CloudWatch Logs facts of one region: metric filters with their patterns
//! and the metrics they feed, and log groups with their retention and KMS key.

use std::sync::Arc;

use aws_sdk_cloudwatchlogs::Client;
use serde_json::{json, Value};

use super::sdk::{all_items, call, client, opt_str, Ctx, Planned};

const SERVICE: &str = "logs";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    let client = client!(aws_sdk_cloudwatchlogs, ctx, region);
    let owned = region.to_string();
    match kind {
        "aws.logs.metric_filters" => Some(Planned::new(SERVICE, "DescribeMetricFilters", Some(region), async move {
            metric_filters(&client, &owned).await
        })),
        "aws.logs.log_groups" => {
            Some(Planned::new(
                SERVICE,
                "DescribeLogGroups",
                Some(region),
                async move { log_groups(&client, &owned).await },
            ))
        }
        _ => None,
    }
}

async fn metric_filters(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeMetricFilters", Some(region));
    let filters = all_items!(client.describe_metric_filters(), what)?;
    let filters = filters
        .iter()
        .map(|filter| {
            let metrics: Vec<Value> = filter
                .metric_transformations()
                .iter()
                .map(|metric| json!({ "name": metric.metric_name(), "namespace": metric.metric_namespace() }))
                .collect();
            json!({
                "name": opt_str(filter.filter_name()),
                "log_group": opt_str(filter.log_group_name()),
                "pattern": opt_str(filter.filter_pattern()),
                "metrics": metrics,
            })
        })
        .collect();
    Ok(Value::Array(filters))
}

async fn log_groups(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeLogGroups", Some(region));
    let groups = all_items!(client.describe_log_groups(), what)?;
    let groups = groups
        .iter()
        .map(|group| {
            // `arn` ends in `:*`; `log_group_arn` is the group's own ARN.
            let arn = group
                .log_group_arn()
                .map(String::from)
                .or_else(|| group.arn().map(|arn| arn.trim_end_matches(":*").to_string()));
            json!({
                "name": opt_str(group.log_group_name()),
                "arn": arn,
                "retention_in_days": group.retention_in_days(),
                "kms_key_id": opt_str(group.kms_key_id()),
                "stored_bytes": group.stored_bytes(),
            })
        })
        .collect();
    Ok(Value::Array(groups))
}
