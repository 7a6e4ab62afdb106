//! Security Hub facts of one region: whether the account is subscribed
//! (DescribeHub), and since when.

use std::sync::Arc;

use aws_sdk_securityhub::error::ProvideErrorMetadata;
use aws_sdk_securityhub::Client;
use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::sdk::{call, client, opt_str, sdk_reason, Ctx, Planned};

const SERVICE: &str = "securityhub";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.securityhub.hub" {
        return None;
    }
    let client = client!(aws_sdk_securityhub, ctx, region);
    let owned = region.to_string();
    Some(Planned::new(SERVICE, "DescribeHub", Some(region), async move { hub(&client, &owned).await }))
}

async fn hub(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeHub", Some(region));
    match client.describe_hub().send().await {
        Ok(output) => Ok(json!({
            "enabled": true,
            "hub_arn": opt_str(output.hub_arn()),
            "subscribed_at": output.subscribed_at().map_or(Value::Null, |at| Value::String(utc(at))),
        })),
        Err(err) if is_not_subscribed(err.code(), err.message()) => Ok(json!({ "enabled": false })),
        Err(err) => Err(sdk_reason(&what, &err)),
    }
}

/// Whether DescribeHub's error says the account is not subscribed.
pub(super) fn is_not_subscribed(code: Option<&str>, message: Option<&str>) -> bool {
    match code {
        Some("InvalidAccessException") => true,
        _ => message.is_some_and(|message| message.to_ascii_lowercase().contains("not subscribed")),
    }
}

/// Security Hub's timestamp text as RFC 3339 UTC (as given when it is not one).
fn utc(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&chrono::Utc).to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_subscribed_answers_are_data() {
        assert!(is_not_subscribed(
            Some("InvalidAccessException"),
            Some("Account 1 is not subscribed to AWS Security Hub")
        ));
        assert!(is_not_subscribed(None, Some("Account is not subscribed")));
        assert!(!is_not_subscribed(Some("AccessDeniedException"), Some("User is not authorized")));
    }

    #[test]
    fn subscribed_at_is_utc() {
        assert_eq!(utc("2024-01-01T01:00:00.000+01:00"), "2024-01-01T00:00:00Z");
        assert_eq!(utc("garbage"), "garbage");
    }
}
