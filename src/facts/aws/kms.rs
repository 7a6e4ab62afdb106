//! KMS facts of one region: customer-managed symmetric keys with their state
//! and whether automatic rotation is enabled.

use std::sync::Arc;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{KeyManagerType, KeySpec, KeyState, OriginType};
use aws_sdk_kms::Client;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::sdk::{all_items, bounded, call, client, opt_str, sdk_reason, Ctx, Planned, RESOURCE_LIMIT};

const SERVICE: &str = "kms";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.kms.keys" {
        return None;
    }
    let client = client!(aws_sdk_kms, ctx, region);
    let owned = region.to_string();
    Some(Planned::new(SERVICE, "ListKeys+DescribeKey+GetKeyRotationStatus", Some(region), async move {
        keys(&client, &owned).await
    }))
}

async fn keys(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "ListKeys", Some(region));
    let keys = all_items!(client.list_keys(), what)?;
    let ids: Vec<String> = keys.iter().filter_map(|key| key.key_arn().or(key.key_id()).map(String::from)).collect();
    let limit = Arc::new(Semaphore::new(RESOURCE_LIMIT));
    let owned = region.to_string();
    let details = bounded(&limit, ids, |id| {
        let client = client.clone();
        let region = owned.clone();
        async move { key_detail(&client, &region, &id).await }
    })
    .await;
    let mut values = Vec::new();
    for detail in details {
        if let Some(value) = detail.map_err(|internal| format!("{what}: {internal}"))?? {
            values.push(value);
        }
    }
    Ok(Value::Array(values))
}

/// A customer-managed symmetric key (`None` for other keys). Any failure
/// fails the fact: a key whose rotation cannot be read must not pass.
async fn key_detail(client: &Client, region: &str, id: &str) -> Result<Option<Value>, String> {
    let what = |operation: &str| format!("{} for key {id}", call(SERVICE, operation, Some(region)));
    let described =
        client.describe_key().key_id(id).send().await.map_err(|err| sdk_reason(&what("DescribeKey"), &err))?;
    let Some(key) = described.key_metadata() else {
        return Err(format!("{}: the answer has no key metadata", what("DescribeKey")));
    };
    if key.key_manager() != Some(&KeyManagerType::Customer) {
        return Ok(None);
    }
    let symmetric = match key.key_spec() {
        Some(spec) => spec == &KeySpec::SymmetricDefault,
        None => true,
    };
    if !symmetric {
        return Ok(None);
    }
    let rotation_applies = matches!(key.key_state(), Some(KeyState::Enabled) | Some(KeyState::Disabled))
        && matches!(key.origin(), None | Some(OriginType::AwsKms))
        && key.custom_key_store_id().is_none();
    let rotation_enabled = if rotation_applies {
        match client.get_key_rotation_status().key_id(key.key_id()).send().await {
            Ok(output) => Value::Bool(output.key_rotation_enabled()),
            Err(err)
                if matches!(err.code(), Some("UnsupportedOperationException") | Some("KMSInvalidStateException")) =>
            {
                Value::Null
            }
            Err(err) => return Err(sdk_reason(&what("GetKeyRotationStatus"), &err)),
        }
    } else {
        Value::Null
    };
    Ok(Some(json!({
        "id": key.key_id(),
        "arn": opt_str(key.arn()),
        "manager": opt_str(key.key_manager().map(|manager| manager.as_str())),
        "state": opt_str(key.key_state().map(|state| state.as_str())),
        "spec": opt_str(key.key_spec().map(|spec| spec.as_str())),
        "usage": opt_str(key.key_usage().map(|usage| usage.as_str())),
        "rotation_enabled": rotation_enabled,
    })))
}
