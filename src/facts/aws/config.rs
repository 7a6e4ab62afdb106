//! AWS Config facts of one region: configuration recorders with their
//! recording status, and delivery channels.

use std::sync::Arc;

use aws_sdk_config::Client;
use serde_json::{json, Value};

use super::sdk::{call, client, opt_str, sdk_reason, Ctx, Planned};

const SERVICE: &str = "config";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    let client = client!(aws_sdk_config, ctx, region);
    let owned = region.to_string();
    match kind {
        "aws.config.recorders" => Some(Planned::new(
            SERVICE,
            "DescribeConfigurationRecorders+DescribeConfigurationRecorderStatus",
            Some(region),
            async move { recorders(&client, &owned).await },
        )),
        "aws.config.delivery_channels" => {
            Some(Planned::new(SERVICE, "DescribeDeliveryChannels", Some(region), async move {
                delivery_channels(&client, &owned).await
            }))
        }
        _ => None,
    }
}

async fn recorders(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeConfigurationRecorders", Some(region));
    let recorders = client.describe_configuration_recorders().send().await.map_err(|err| sdk_reason(&what, &err))?;
    let what = call(SERVICE, "DescribeConfigurationRecorderStatus", Some(region));
    let statuses =
        client.describe_configuration_recorder_status().send().await.map_err(|err| sdk_reason(&what, &err))?;
    let recorders = recorders
        .configuration_recorders()
        .iter()
        .map(|recorder| {
            let status = statuses
                .configuration_recorders_status()
                .iter()
                .find(|status| status.name().is_some() && status.name() == recorder.name());
            let group = recorder.recording_group();
            json!({
                "name": opt_str(recorder.name()),
                "role_arn": opt_str(recorder.role_arn()),
                "all_supported": group.map(|group| group.all_supported()),
                "include_global_resource_types": group.map(|group| group.include_global_resource_types()),
                "recording": status.map(|status| status.recording()),
                "last_status": opt_str(status.and_then(|status| status.last_status()).map(|last| last.as_str())),
            })
        })
        .collect();
    Ok(Value::Array(recorders))
}

async fn delivery_channels(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeDeliveryChannels", Some(region));
    let output = client.describe_delivery_channels().send().await.map_err(|err| sdk_reason(&what, &err))?;
    let channels = output
        .delivery_channels()
        .iter()
        .map(|channel| {
            json!({
                "name": opt_str(channel.name()),
                "s3_bucket_name": opt_str(channel.s3_bucket_name()),
                "sns_topic_arn": opt_str(channel.sns_topic_arn()),
            })
        })
        .collect();
    Ok(Value::Array(channels))
}
