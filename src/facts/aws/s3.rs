//! S3 facts of the account: every bucket with its region, policy, public
//! access block, default encryption, versioning and logging (each bucket's
//! calls made in the bucket's own region), and the account-level public
//! access block (S3 Control).
//!
//! With an endpoint override (an emulator, a proxy) S3 is addressed
//! path-style and S3 Control at the override URL as given: virtual-hosted
//! names (`bucket.host`, `account-id.host`) do not resolve there.

use std::sync::Arc;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::Bucket;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::sdk::{
    all_pages, bounded, call, client, opt_str, sdk_reason, timestamp, Ctx, Planned, Unread, RESOURCE_LIMIT,
};

pub(super) fn plan(ctx: &Arc<Ctx>, key: &str) -> Option<Planned> {
    let ctx = Arc::clone(ctx);
    let planned = match key {
        "aws.s3.buckets" => Planned::new(
            "s3",
            "ListBuckets+GetBucketLocation+GetBucketPolicy+GetPublicAccessBlock+GetBucketEncryption+GetBucketVersioning+GetBucketLogging",
            None,
            async move { buckets(ctx).await },
        ),
        "aws.s3control.public_access_block" => {
            Planned::new("s3control", "GetPublicAccessBlock", None, async move { account_public_access_block(&ctx).await })
        }
        _ => return None,
    };
    Some(planned)
}

fn s3_client(ctx: &Ctx, region: &str) -> aws_sdk_s3::Client {
    let path_style = ctx.endpoint_override.is_some();
    client!(aws_sdk_s3, ctx, region, |builder| builder.force_path_style(path_style))
}

/// The region of a bucket from its GetBucketLocation constraint: none or
/// empty is `us-east-1`, the legacy `EU` is `eu-west-1`.
pub(super) fn bucket_region(constraint: Option<&str>) -> String {
    match constraint.map(str::trim) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(region) => region.to_string(),
    }
}

async fn buckets(ctx: Arc<Ctx>) -> Result<Value, String> {
    let global = s3_client(&ctx, &ctx.global_region);
    let what = call("s3", "ListBuckets", None);
    let buckets = all_pages!(global.list_buckets(), what)?
        .into_iter()
        .flat_map(|page| page.buckets.unwrap_or_default())
        .collect::<Vec<Bucket>>();
    let limit = Arc::new(Semaphore::new(RESOURCE_LIMIT));
    let details = bounded(&limit, buckets, |bucket| {
        let ctx = Arc::clone(&ctx);
        let global = global.clone();
        async move { bucket_detail(&ctx, &global, &bucket).await }
    })
    .await;
    let mut values = Vec::with_capacity(details.len());
    for detail in details {
        values.push(detail.map_err(|internal| format!("{what}: {internal}"))?);
    }
    Ok(Value::Array(values))
}

/// One bucket; a failed call (other than a "not configured" answer) is
/// named in `unavailable` and its field is `null`.
async fn bucket_detail(ctx: &Ctx, global: &aws_sdk_s3::Client, bucket: &Bucket) -> Value {
    let name = bucket.name().unwrap_or_default();
    let mut unavailable = Unread::default();

    let location = global.get_bucket_location().bucket(name).send().await;
    let region = match location {
        Ok(output) => Some(bucket_region(output.location_constraint().map(|constraint| constraint.as_str()))),
        Err(err) => match bucket.bucket_region().filter(|region| !region.is_empty()) {
            Some(listed) => Some(listed.to_string()),
            None => {
                let what = format!("{} for bucket {name}", call("s3", "GetBucketLocation", None));
                unavailable.note("GetBucketLocation", sdk_reason(&what, &err));
                None
            }
        },
    };
    let call_region = region.clone().unwrap_or_else(|| ctx.global_region.clone());
    let client = if call_region == ctx.global_region { global.clone() } else { s3_client(ctx, &call_region) };
    let what = |operation: &str| format!("{} for bucket {name}", call("s3", operation, Some(&call_region)));

    let policy = match client.get_bucket_policy().bucket(name).send().await {
        Ok(output) => match output.policy().map(serde_json::from_str::<Value>) {
            Some(Ok(policy)) => policy,
            Some(Err(err)) => unavailable
                .note("GetBucketPolicy", format!("{}: the policy is not JSON: {err}", what("GetBucketPolicy"))),
            None => Value::Null,
        },
        Err(err) if err.code() == Some("NoSuchBucketPolicy") => Value::Null,
        Err(err) => unavailable.note("GetBucketPolicy", sdk_reason(&what("GetBucketPolicy"), &err)),
    };

    let public_access_block = match client.get_public_access_block().bucket(name).send().await {
        Ok(output) => match output.public_access_block_configuration() {
            Some(block) => json!({
                "configured": true,
                "block_public_acls": block.block_public_acls(),
                "ignore_public_acls": block.ignore_public_acls(),
                "block_public_policy": block.block_public_policy(),
                "restrict_public_buckets": block.restrict_public_buckets(),
            }),
            None => not_configured_block(),
        },
        Err(err) if err.code() == Some("NoSuchPublicAccessBlockConfiguration") => not_configured_block(),
        Err(err) => unavailable.note("GetPublicAccessBlock", sdk_reason(&what("GetPublicAccessBlock"), &err)),
    };

    let encryption = match client.get_bucket_encryption().bucket(name).send().await {
        Ok(output) => {
            let algorithms: Vec<&str> = output
                .server_side_encryption_configuration()
                .map(|configuration| configuration.rules())
                .unwrap_or_default()
                .iter()
                .filter_map(|rule| rule.apply_server_side_encryption_by_default())
                .map(|default| default.sse_algorithm().as_str())
                .collect();
            json!({ "configured": !algorithms.is_empty(), "algorithms": algorithms })
        }
        Err(err) if err.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => {
            json!({ "configured": false, "algorithms": [] })
        }
        Err(err) => unavailable.note("GetBucketEncryption", sdk_reason(&what("GetBucketEncryption"), &err)),
    };

    let versioning = match client.get_bucket_versioning().bucket(name).send().await {
        Ok(output) => json!({
            "status": opt_str(output.status().map(|status| status.as_str())),
            "mfa_delete": opt_str(output.mfa_delete().map(|mfa| mfa.as_str())),
        }),
        Err(err) => unavailable.note("GetBucketVersioning", sdk_reason(&what("GetBucketVersioning"), &err)),
    };

    let logging = match client.get_bucket_logging().bucket(name).send().await {
        Ok(output) => match output.logging_enabled() {
            Some(enabled) => json!({
                "enabled": true,
                "target_bucket": enabled.target_bucket(),
                "target_prefix": enabled.target_prefix(),
            }),
            None => json!({ "enabled": false, "target_bucket": null, "target_prefix": null }),
        },
        Err(err) => unavailable.note("GetBucketLogging", sdk_reason(&what("GetBucketLogging"), &err)),
    };

    json!({
        "name": name,
        "arn": format!("arn:{}:s3:::{name}", ctx.partition),
        "region": opt_str(region.as_deref()),
        "creation_date": timestamp(bucket.creation_date()),
        "policy": policy,
        "public_access_block": public_access_block,
        "encryption": encryption,
        "versioning": versioning,
        "logging": logging,
        "unavailable": unavailable.into_value(),
    })
}

fn not_configured_block() -> Value {
    json!({
        "configured": false,
        "block_public_acls": false,
        "ignore_public_acls": false,
        "block_public_policy": false,
        "restrict_public_buckets": false,
    })
}

/// Sends S3 Control calls to the endpoint override as it is (the SDK's
/// rules would prefix the host with the account id).
#[derive(Debug)]
struct FixedEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_sdk_s3control::config::endpoint::Endpoint::builder().url(self.0.clone()).build(),
        ))
    }
}

async fn account_public_access_block(ctx: &Ctx) -> Result<Value, String> {
    let client = client!(aws_sdk_s3control, ctx, ctx.global_region, |builder| match &ctx.endpoint_override {
        Some(url) => builder.endpoint_resolver(FixedEndpoint(url.clone())),
        None => builder,
    });
    let what = format!("{} for account {}", call("s3control", "GetPublicAccessBlock", None), ctx.account_id);
    match client.get_public_access_block().account_id(&ctx.account_id).send().await {
        Ok(output) => Ok(match output.public_access_block_configuration() {
            Some(block) => json!({
                "configured": true,
                "block_public_acls": block.block_public_acls(),
                "ignore_public_acls": block.ignore_public_acls(),
                "block_public_policy": block.block_public_policy(),
                "restrict_public_buckets": block.restrict_public_buckets(),
            }),
            None => not_configured_block(),
        }),
        Err(err) if err.code() == Some("NoSuchPublicAccessBlockConfiguration") => Ok(not_configured_block()),
        Err(err) => Err(sdk_reason(&what, &err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_regions_are_normalised() {
        assert_eq!(bucket_region(None), "us-east-1");
        assert_eq!(bucket_region(Some("")), "us-east-1");
        assert_eq!(bucket_region(Some("EU")), "eu-west-1");
        assert_eq!(bucket_region(Some("eu-central-1")), "eu-central-1");
        assert_eq!(bucket_region(Some("us-west-2")), "us-west-2");
    }
}
