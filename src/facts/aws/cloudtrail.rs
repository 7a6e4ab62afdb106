//! CloudTrail facts of one region: the trails it lists (shadow trails
//! included) with, for trails whose home region it is, their logging status
//! and event selectors.

use std::sync::Arc;

use aws_sdk_cloudtrail::types::Trail;
use aws_sdk_cloudtrail::Client;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::sdk::{all_ok, bounded, call, client, opt_str, sdk_reason, Ctx, Planned, RESOURCE_LIMIT};

const SERVICE: &str = "cloudtrail";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.cloudtrail.trails" {
        return None;
    }
    let client = client!(aws_sdk_cloudtrail, ctx, region);
    let owned_region = region.to_string();
    Some(Planned::new(SERVICE, "DescribeTrails+GetTrailStatus+GetEventSelectors", Some(region), async move {
        trails(&client, &owned_region).await
    }))
}

async fn trails(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeTrails", Some(region));
    let output =
        client.describe_trails().include_shadow_trails(true).send().await.map_err(|err| sdk_reason(&what, &err))?;
    let trails = output.trail_list().to_vec();
    let limit = Arc::new(Semaphore::new(RESOURCE_LIMIT));
    let region_owned = region.to_string();
    let details = bounded(&limit, trails, |trail| {
        let client = client.clone();
        let region = region_owned.clone();
        async move { trail_detail(&client, &region, &trail).await }
    })
    .await;
    all_ok(details).map(Value::Array)
}

/// A trail; status and selectors only for trails homed in `region` (`null`
/// for shadow trails). A failed status or selector call fails the fact: a
/// trail whose logging state is unknown must not look like a shadow trail.
async fn trail_detail(client: &Client, region: &str, trail: &Trail) -> Result<Value, String> {
    let name = trail.name().unwrap_or_default();
    let id = trail.trail_arn().unwrap_or(name);
    let home = trail.home_region() == Some(region);
    let (status, event_selectors, advanced_event_selectors) = if home {
        let what = |operation: &str| format!("{} for trail {name}", call(SERVICE, operation, Some(region)));
        let status =
            client.get_trail_status().name(id).send().await.map_err(|err| sdk_reason(&what("GetTrailStatus"), &err))?;
        let selectors = client
            .get_event_selectors()
            .trail_name(id)
            .send()
            .await
            .map_err(|err| sdk_reason(&what("GetEventSelectors"), &err))?;
        let event_selectors: Vec<Value> = selectors
            .event_selectors()
            .iter()
            .map(|selector| {
                let data_resources: Vec<Value> = selector
                    .data_resources()
                    .iter()
                    .map(|resource| json!({ "type": opt_str(resource.r#type()), "values": resource.values() }))
                    .collect();
                json!({
                    "read_write_type": opt_str(selector.read_write_type().map(|kind| kind.as_str())),
                    "include_management_events": selector.include_management_events(),
                    "data_resources": data_resources,
                })
            })
            .collect();
        let advanced: Vec<Value> = selectors
            .advanced_event_selectors()
            .iter()
            .map(|selector| {
                let fields: Vec<Value> = selector
                    .field_selectors()
                    .iter()
                    .map(|field| {
                        json!({
                            "field": field.field(),
                            "equals": field.equals(),
                            "starts_with": field.starts_with(),
                            "ends_with": field.ends_with(),
                            "not_equals": field.not_equals(),
                            "not_starts_with": field.not_starts_with(),
                            "not_ends_with": field.not_ends_with(),
                        })
                    })
                    .collect();
                json!({ "name": opt_str(selector.name()), "field_selectors": fields })
            })
            .collect();
        (json!({ "is_logging": status.is_logging() }), Value::Array(event_selectors), Value::Array(advanced))
    } else {
        (Value::Null, Value::Null, Value::Null)
    };
    Ok(json!({
        "name": name,
        "arn": opt_str(trail.trail_arn()),
        "home_region": opt_str(trail.home_region()),
        "is_multi_region": trail.is_multi_region_trail(),
        "is_organization_trail": trail.is_organization_trail(),
        "s3_bucket_name": opt_str(trail.s3_bucket_name()),
        "kms_key_id": opt_str(trail.kms_key_id()),
        "log_file_validation_enabled": trail.log_file_validation_enabled(),
        "cloudwatch_logs_log_group_arn": opt_str(trail.cloud_watch_logs_log_group_arn()),
        "include_global_service_events": trail.include_global_service_events(),
        "status": status,
        "event_selectors": event_selectors,
        "advanced_event_selectors": advanced_event_selectors,
    }))
}
