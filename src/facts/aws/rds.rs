//! RDS facts of one region: DB instances with their encryption, exposure and
//! minor-version upgrade settings.

use std::sync::Arc;

use aws_sdk_rds::Client;
use serde_json::{json, Value};

use super::sdk::{all_items, call, client, opt_str, Ctx, Planned};

const SERVICE: &str = "rds";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.rds.instances" {
        return None;
    }
    let client = client!(aws_sdk_rds, ctx, region);
    let owned = region.to_string();
    Some(Planned::new(SERVICE, "DescribeDBInstances", Some(region), async move { instances(&client, &owned).await }))
}

async fn instances(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeDBInstances", Some(region));
    let instances = all_items!(client.describe_db_instances(), what)?;
    let instances = instances
        .iter()
        .map(|instance| {
            json!({
                "id": opt_str(instance.db_instance_identifier()),
                "arn": opt_str(instance.db_instance_arn()),
                "engine": opt_str(instance.engine()),
                "storage_encrypted": instance.storage_encrypted(),
                "publicly_accessible": instance.publicly_accessible(),
                "auto_minor_version_upgrade": instance.auto_minor_version_upgrade(),
            })
        })
        .collect();
    Ok(Value::Array(instances))
}
