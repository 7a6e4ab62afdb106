//! CloudWatch Logs facts of one region: metric filters with their patterns
//! and the metrics they feed.

use std::sync::Arc;

use aws_config::Region;
use aws_sdk_cloudwatchlogs::Client;
use serde_json::{json, Value};

use super::collect::{call, opt_str, sdk_reason, Ctx, Planned};

const SERVICE: &str = "logs";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.logs.metric_filters" {
        return None;
    }
    let client = Client::from_conf(
        aws_sdk_cloudwatchlogs::config::Builder::from(&ctx.config).region(Region::new(region.to_string())).build(),
    );
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
    let filters = client
        .describe_metric_filters()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| sdk_reason(&what, &err))?;
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
