//! STS: who is collecting (GetCallerIdentity), the first call of an AWS audit.

use aws_config::SdkConfig;

use super::calls::CallLog;
use super::sdk::{call, client, region_or_default, sdk_reason};

/// The account id and ARN of the caller; an error says what to fix.
pub(super) async fn caller_identity(config: &SdkConfig, calls: &CallLog) -> Result<(String, String), String> {
    let region = region_or_default(config);
    let what = call("sts", "GetCallerIdentity", Some(region.as_ref()));
    let client = client!(aws_sdk_sts, config = config, calls = calls, region);
    let output = client.get_caller_identity().send().await.map_err(|err| sdk_reason(&what, &err))?;
    match (output.account(), output.arn()) {
        (Some(account), Some(arn)) => Ok((account.to_string(), arn.to_string())),
        _ => Err(format!("{what}: the answer has no account id or ARN")),
    }
}
