//! CloudWatch Logs facts of one region: metric filters with their patterns
//! and the metrics they feed.

use std::sync::Arc;

use aws_sdk_cloudwatchlogs::Client;
use serde_json::{json, Value};

use super::collect::{all_items, call, client, opt_str, Ctx, Planned};

const SERVICE: &str = "logs";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.logs.metric_filters" {
        return None;
    }
    let client = client!(aws_sdk_cloudwatchlogs, &ctx.config, region);
    let owned = region.to_string();
    Some(Planned::new(
        SERVICE,
        "DescribeMetricFilters",
        Some(region),
        async move { metric_filters(&client, &owned).await },
    ))
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
