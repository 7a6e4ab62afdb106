//! EFS facts of one region: file systems and whether they are encrypted.

use std::sync::Arc;

use aws_sdk_efs::Client;
use serde_json::{json, Value};

use super::sdk::{all_items, call, client, Ctx, Planned};

const SERVICE: &str = "efs";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.efs.file_systems" {
        return None;
    }
    let client = client!(aws_sdk_efs, ctx, region);
    let owned = region.to_string();
    let ctx = Arc::clone(ctx);
    Some(Planned::new(SERVICE, "DescribeFileSystems", Some(region), async move {
        file_systems(&client, &ctx, &owned).await
    }))
}

async fn file_systems(client: &Client, ctx: &Ctx, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeFileSystems", Some(region));
    let systems = all_items!(client.describe_file_systems(), what)?;
    let systems = systems
        .iter()
        .map(|system| {
            let id = system.file_system_id();
            let arn = match system.file_system_arn() {
                Some(arn) => arn.to_string(),
                None => {
                    format!("arn:{}:elasticfilesystem:{region}:{}:file-system/{id}", ctx.partition, system.owner_id())
                }
            };
            json!({ "id": id, "arn": arn, "encrypted": system.encrypted() })
        })
        .collect();
    Ok(Value::Array(systems))
}
