//! IAM Access Analyzer facts of one region: the analyzers, their type and
//! status.

use std::sync::Arc;

use aws_sdk_accessanalyzer::Client;
use serde_json::{json, Value};

use super::sdk::{all_items, call, client, Ctx, Planned};

const SERVICE: &str = "accessanalyzer";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.accessanalyzer.analyzers" {
        return None;
    }
    let client = client!(aws_sdk_accessanalyzer, ctx, region);
    let owned = region.to_string();
    Some(Planned::new(SERVICE, "ListAnalyzers", Some(region), async move { analyzers(&client, &owned).await }))
}

async fn analyzers(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "ListAnalyzers", Some(region));
    let analyzers = all_items!(client.list_analyzers(), what)?;
    let analyzers = analyzers
        .iter()
        .map(|analyzer| {
            json!({
                "name": analyzer.name(),
                "arn": analyzer.arn(),
                "type": analyzer.r#type().as_str(),
                "status": analyzer.status().as_str(),
            })
        })
        .collect();
    Ok(Value::Array(analyzers))
}
