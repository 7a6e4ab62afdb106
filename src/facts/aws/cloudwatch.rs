//! CloudWatch facts of one region: metric alarms with their metric and
//! alarm actions.

use std::sync::Arc;

use aws_sdk_cloudwatch::Client;
use serde_json::{json, Value};

use super::sdk::{all_pages, call, client, opt_str, Ctx, Planned};

const SERVICE: &str = "cloudwatch";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.cloudwatch.alarms" {
        return None;
    }
    let client = client!(aws_sdk_cloudwatch, ctx, region);
    let owned = region.to_string();
    Some(Planned::new(SERVICE, "DescribeAlarms", Some(region), async move { alarms(&client, &owned).await }))
}

async fn alarms(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeAlarms", Some(region));
    let pages = all_pages!(client.describe_alarms(), what)?;
    let alarms = pages
        .iter()
        .flat_map(|page| page.metric_alarms())
        .map(|alarm| {
            json!({
                "name": opt_str(alarm.alarm_name()),
                "arn": opt_str(alarm.alarm_arn()),
                "metric_name": opt_str(alarm.metric_name()),
                "namespace": opt_str(alarm.namespace()),
                "actions_enabled": alarm.actions_enabled(),
                "actions": alarm.alarm_actions(),
            })
        })
        .collect();
    Ok(Value::Array(alarms))
}
