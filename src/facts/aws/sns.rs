//! SNS facts of one region: subscriptions (who is notified of which topic).

use std::sync::Arc;

use aws_sdk_sns::Client;
use serde_json::{json, Value};

use super::sdk::{all_items, call, client, opt_str, Ctx, Planned};

const SERVICE: &str = "sns";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.sns.subscriptions" {
        return None;
    }
    let client = client!(aws_sdk_sns, ctx, region);
    let owned = region.to_string();
    Some(Planned::new(SERVICE, "ListSubscriptions", Some(region), async move { subscriptions(&client, &owned).await }))
}

async fn subscriptions(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "ListSubscriptions", Some(region));
    let subscriptions = all_items!(client.list_subscriptions(), what)?;
    let subscriptions = subscriptions
        .iter()
        .map(|subscription| {
            json!({
                "arn": opt_str(subscription.subscription_arn()),
                "topic_arn": opt_str(subscription.topic_arn()),
                "protocol": opt_str(subscription.protocol()),
                "endpoint": opt_str(subscription.endpoint()),
            })
        })
        .collect();
    Ok(Value::Array(subscriptions))
}
