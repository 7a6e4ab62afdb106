//! EC2 facts of one region (security groups, network ACLs, VPCs, VPC
//! endpoints, flow logs, EBS default encryption, instances, EBS volumes) and
//! the account's enabled regions.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, IpPermission};
use aws_sdk_ec2::Client;
use serde_json::{json, Value};

use super::calls::CallLog;
use super::sdk::{all_items, call, client, opt_str, region_or_default, sdk_reason, Ctx, Planned};

const SERVICE: &str = "ec2";

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    let client = client(&ctx.config, &ctx.calls, region);
    let ctx = Arc::clone(ctx);
    let region = region.to_string();
    let planned = match kind {
        "aws.ec2.security_groups" => Planned::new(SERVICE, "DescribeSecurityGroups", Some(&region), {
            let region = region.clone();
            async move { security_groups(&client, &ctx, &region).await }
        }),
        "aws.ec2.network_acls" => Planned::new(SERVICE, "DescribeNetworkAcls", Some(&region), {
            let region = region.clone();
            async move { network_acls(&client, &ctx, &region).await }
        }),
        "aws.ec2.vpcs" => Planned::new(SERVICE, "DescribeVpcs", Some(&region), {
            let region = region.clone();
            async move { vpcs(&client, &ctx, &region).await }
        }),
        "aws.ec2.vpc_endpoints" => Planned::new(SERVICE, "DescribeVpcEndpoints", Some(&region), {
            let region = region.clone();
            async move { vpc_endpoints(&client, &ctx, &region).await }
        }),
        "aws.ec2.flow_logs" => Planned::new(SERVICE, "DescribeFlowLogs", Some(&region), {
            let region = region.clone();
            async move { flow_logs(&client, &region).await }
        }),
        "aws.ec2.ebs_encryption_by_default" => Planned::new(SERVICE, "GetEbsEncryptionByDefault", Some(&region), {
            let region = region.clone();
            async move { ebs_encryption_by_default(&client, &region).await }
        }),
        "aws.ec2.instances" => Planned::new(SERVICE, "DescribeInstances", Some(&region), {
            let region = region.clone();
            async move { instances(&client, &ctx, &region).await }
        }),
        "aws.ec2.volumes" => Planned::new(SERVICE, "DescribeVolumes", Some(&region), {
            let region = region.clone();
            async move { volumes(&client, &ctx, &region).await }
        }),
        _ => return None,
    };
    Some(planned)
}

fn client(config: &SdkConfig, calls: &CallLog, region: &str) -> Client {
    client!(aws_sdk_ec2, config = config, calls = calls, region)
}

/// The regions enabled for the account, sorted.
pub(super) async fn enabled_regions(config: &SdkConfig, calls: &CallLog) -> Result<Vec<String>, String> {
    let region = region_or_default(config);
    let what = call(SERVICE, "DescribeRegions", Some(region.as_ref()));
    let client = client(config, calls, region.as_ref());
    let output = client.describe_regions().all_regions(false).send().await.map_err(|err| sdk_reason(&what, &err))?;
    let mut regions: Vec<String> = output
        .regions()
        .iter()
        .filter(|region| matches!(region.opt_in_status(), None | Some("opt-in-not-required") | Some("opted-in")))
        .filter_map(|region| region.region_name().map(String::from))
        .collect();
    regions.sort();
    regions.dedup();
    if regions.is_empty() {
        return Err(format!("{what}: the answer lists no enabled region"));
    }
    Ok(regions)
}

fn arn(ctx: &Ctx, region: &str, owner: Option<&str>, resource: &str, id: &str) -> String {
    let owner = owner.filter(|owner| !owner.is_empty()).unwrap_or(&ctx.account_id);
    format!("arn:{}:ec2:{region}:{owner}:{resource}/{id}", ctx.partition)
}

async fn security_groups(client: &Client, ctx: &Ctx, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeSecurityGroups", Some(region));
    let groups = all_items!(client.describe_security_groups(), what)?;
    let groups = groups
        .iter()
        .map(|group| {
            let id = group.group_id().unwrap_or_default();
            let arn = match group.security_group_arn() {
                Some(arn) if !arn.is_empty() => arn.to_string(),
                _ => arn(ctx, region, group.owner_id(), "security-group", id),
            };
            json!({
                "id": id,
                "name": opt_str(group.group_name()),
                "vpc_id": opt_str(group.vpc_id()),
                "arn": arn,
                "ingress": group.ip_permissions().iter().map(permission).collect::<Vec<_>>(),
                "egress": group.ip_permissions_egress().iter().map(permission).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Value::Array(groups))
}

fn permission(rule: &IpPermission) -> Value {
    json!({
        "protocol": opt_str(rule.ip_protocol()),
        "from_port": rule.from_port(),
        "to_port": rule.to_port(),
        "ipv4_ranges": rule.ip_ranges().iter().filter_map(|range| range.cidr_ip()).collect::<Vec<_>>(),
        "ipv6_ranges": rule.ipv6_ranges().iter().filter_map(|range| range.cidr_ipv6()).collect::<Vec<_>>(),
        "groups": rule.user_id_group_pairs().iter().filter_map(|pair| pair.group_id()).collect::<Vec<_>>(),
        "prefix_lists": rule.prefix_list_ids().iter().filter_map(|list| list.prefix_list_id()).collect::<Vec<_>>(),
    })
}

async fn network_acls(client: &Client, ctx: &Ctx, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeNetworkAcls", Some(region));
    let acls = all_items!(client.describe_network_acls(), what)?;
    let acls = acls
        .iter()
        .map(|acl| {
            let id = acl.network_acl_id().unwrap_or_default();
            let entries: Vec<Value> = acl
                .entries()
                .iter()
                .map(|entry| {
                    json!({
                        "rule_number": entry.rule_number(),
                        "protocol": opt_str(entry.protocol()),
                        "action": opt_str(entry.rule_action().map(|action| action.as_str())),
                        "egress": entry.egress(),
                        "cidr": opt_str(entry.cidr_block()),
                        "ipv6_cidr": opt_str(entry.ipv6_cidr_block()),
                        "from_port": entry.port_range().and_then(|range| range.from()),
                        "to_port": entry.port_range().and_then(|range| range.to()),
                    })
                })
                .collect();
            json!({
                "id": id,
                "arn": arn(ctx, region, acl.owner_id(), "network-acl", id),
                "vpc_id": opt_str(acl.vpc_id()),
                "is_default": acl.is_default(),
                "entries": entries,
            })
        })
        .collect();
    Ok(Value::Array(acls))
}

async fn vpcs(client: &Client, ctx: &Ctx, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeVpcs", Some(region));
    let vpcs = all_items!(client.describe_vpcs(), what)?;
    let vpcs = vpcs
        .iter()
        .map(|vpc| {
            let id = vpc.vpc_id().unwrap_or_default();
            json!({
                "id": id,
                "arn": arn(ctx, region, vpc.owner_id(), "vpc", id),
                "is_default": vpc.is_default(),
                "cidr": opt_str(vpc.cidr_block()),
            })
        })
        .collect();
    Ok(Value::Array(vpcs))
}

async fn vpc_endpoints(client: &Client, ctx: &Ctx, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeVpcEndpoints", Some(region));
    let endpoints = all_items!(client.describe_vpc_endpoints(), what)?;
    let endpoints = endpoints
        .iter()
        .map(|endpoint| {
            let id = endpoint.vpc_endpoint_id().unwrap_or_default();
            json!({
                "id": id,
                "arn": arn(ctx, region, endpoint.owner_id(), "vpc-endpoint", id),
                "vpc_id": opt_str(endpoint.vpc_id()),
                "service_name": opt_str(endpoint.service_name()),
                "type": opt_str(endpoint.vpc_endpoint_type().map(|kind| kind.as_str())),
                "state": opt_str(endpoint.state().map(|state| state.as_str())),
                "policy": endpoint.policy_document().map_or(Value::Null, endpoint_policy),
                "private_dns_enabled": endpoint.private_dns_enabled(),
                "subnet_ids": endpoint.subnet_ids(),
                "route_table_ids": endpoint.route_table_ids(),
                "security_group_ids": endpoint.groups().iter().filter_map(|group| group.group_id()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Value::Array(endpoints))
}

/// An endpoint's policy document as JSON, as S3 bucket policies are read
/// (EC2 gives it as plain JSON text, not URL-encoded as IAM does); `null`
/// when the text is not JSON, so a check never reads a half-parsed policy.
fn endpoint_policy(document: &str) -> Value {
    serde_json::from_str(document).unwrap_or(Value::Null)
}

async fn flow_logs(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeFlowLogs", Some(region));
    let logs = all_items!(client.describe_flow_logs(), what)?;
    let logs = logs
        .iter()
        .map(|log| {
            json!({
                "id": opt_str(log.flow_log_id()),
                "resource_id": opt_str(log.resource_id()),
                "traffic_type": opt_str(log.traffic_type().map(|traffic| traffic.as_str())),
                "status": opt_str(log.flow_log_status()),
                "destination": opt_str(log.log_destination().or(log.log_group_name())),
            })
        })
        .collect();
    Ok(Value::Array(logs))
}

async fn ebs_encryption_by_default(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "GetEbsEncryptionByDefault", Some(region));
    let output = client.get_ebs_encryption_by_default().send().await.map_err(|err| sdk_reason(&what, &err))?;
    match output.ebs_encryption_by_default() {
        Some(enabled) => Ok(json!({ "enabled": enabled })),
        None => Err(format!("{what}: the answer does not say whether encryption by default is enabled")),
    }
}

/// Instance states other than terminated.
const LIVE_STATES: &[&str] = &["pending", "running", "shutting-down", "stopping", "stopped"];

async fn instances(client: &Client, ctx: &Ctx, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeInstances", Some(region));
    let filter = Filter::builder()
        .name("instance-state-name")
        .set_values(Some(LIVE_STATES.iter().map(|state| state.to_string()).collect()))
        .build();
    let reservations = all_items!(client.describe_instances().filters(filter), what)?;
    let mut instances = Vec::new();
    for reservation in &reservations {
        for instance in reservation.instances() {
            let id = instance.instance_id().unwrap_or_default();
            let metadata = instance.metadata_options().map_or(Value::Null, |options| {
                json!({
                    "http_tokens": opt_str(options.http_tokens().map(|tokens| tokens.as_str())),
                    "http_endpoint": opt_str(options.http_endpoint().map(|endpoint| endpoint.as_str())),
                })
            });
            instances.push(json!({
                "id": id,
                "arn": arn(ctx, region, reservation.owner_id(), "instance", id),
                "state": opt_str(instance.state().and_then(|state| state.name()).map(|name| name.as_str())),
                "metadata_options": metadata,
                "iam_instance_profile": opt_str(instance.iam_instance_profile().and_then(|profile| profile.arn())),
            }));
        }
    }
    Ok(Value::Array(instances))
}

async fn volumes(client: &Client, ctx: &Ctx, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeVolumes", Some(region));
    let volumes = all_items!(client.describe_volumes(), what)?;
    let volumes = volumes
        .iter()
        .map(|volume| {
            let id = volume.volume_id().unwrap_or_default();
            json!({
                "id": id,
                "arn": arn(ctx, region, None, "volume", id),
                "encrypted": volume.encrypted(),
                "kms_key_id": opt_str(volume.kms_key_id()),
                "state": opt_str(volume.state().map(|state| state.as_str())),
                "size": volume.size(),
                "availability_zone": opt_str(volume.availability_zone()),
                "attached_to": volume.attachments().iter().filter_map(|a| a.instance_id()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Value::Array(volumes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_policies_are_json_or_null() {
        let policy = endpoint_policy(r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*"}]}"#);
        assert_eq!(policy["Statement"][0]["Principal"], "*");
        assert_eq!(endpoint_policy("not a policy"), Value::Null);
        assert_eq!(endpoint_policy(""), Value::Null);
    }
}
