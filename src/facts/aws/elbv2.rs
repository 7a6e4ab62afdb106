//! ELBv2 facts of one region: Application, Network and Gateway Load
//! Balancers with their attributes (access logs, deletion protection...) and
//! listeners (protocol, port, TLS policy and the TLS versions that policy
//! allows, certificates, default actions, and for plain HTTP listeners their
//! rules, which may forward some requests where the default action redirects).
//!
//! The TLS versions of a policy come from DescribeSSLPolicies (every
//! predefined policy, read once per region and only when a listener
//! terminates TLS), so a check judges what a policy allows, not its name.
//! A load balancer deleted between the listing and its own calls
//! (LoadBalancerNotFound) is left out; any other failure makes the whole
//! fact unavailable: a listener that could not be read must not pass.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{Action, Listener, LoadBalancer, LoadBalancerAttribute, Rule};
use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

use super::sdk::{all_items, all_ok, bounded, call, client, opt_str, sdk_reason, Ctx, Planned, RESOURCE_LIMIT};

const SERVICE: &str = "elbv2";

/// Listener protocols that terminate TLS on the load balancer.
const TLS_PROTOCOLS: &[&str] = &["HTTPS", "TLS"];

/// Pages of DescribeSSLPolicies read at most (AWS has about 50 policies, one page).
const MAX_POLICY_PAGES: usize = 20;

pub(super) fn plan(ctx: &Arc<Ctx>, kind: &str, region: &str) -> Option<Planned> {
    if kind != "aws.elbv2.load_balancers" {
        return None;
    }
    let client = client!(aws_sdk_elasticloadbalancingv2, ctx, region);
    let owned = region.to_string();
    Some(Planned::new(
        SERVICE,
        "DescribeLoadBalancers+DescribeListeners+DescribeRules+DescribeLoadBalancerAttributes+DescribeSSLPolicies",
        Some(region),
        async move { load_balancers(&client, &owned).await },
    ))
}

/// What the per-load-balancer calls found.
struct Detail {
    listeners: Vec<Listener>,
    attributes: Vec<LoadBalancerAttribute>,
    /// Rules of the plain HTTP listeners, by listener ARN.
    rules: BTreeMap<String, Vec<Rule>>,
}

async fn load_balancers(client: &Client, region: &str) -> Result<Value, String> {
    let what = call(SERVICE, "DescribeLoadBalancers", Some(region));
    let balancers: Vec<LoadBalancer> = all_items!(client.describe_load_balancers(), what)?;
    let arns: Vec<String> = balancers.iter().filter_map(|b| b.load_balancer_arn().map(String::from)).collect();
    let limit = Arc::new(Semaphore::new(RESOURCE_LIMIT));
    let owned = region.to_string();
    let details = bounded(&limit, arns.clone(), |arn| {
        let client = client.clone();
        let region = owned.clone();
        async move { detail(&client, &region, &arn).await }
    })
    .await;
    let details: BTreeMap<String, Option<Detail>> = arns.into_iter().zip(all_ok(details)?).collect();

    let policies: BTreeSet<String> = details
        .values()
        .flatten()
        .flat_map(|d| d.listeners.iter())
        .filter(|l| is_tls(l))
        .filter_map(|l| l.ssl_policy().map(String::from))
        .collect();
    let protocols = if policies.is_empty() { BTreeMap::new() } else { ssl_protocols(client, region).await? };

    let mut values = Vec::new();
    for balancer in &balancers {
        let Some(arn) = balancer.load_balancer_arn() else { continue };
        let Some(Some(detail)) = details.get(arn) else { continue };
        let attributes: Map<String, Value> =
            detail.attributes.iter().filter_map(|a| Some((a.key()?.to_string(), opt_str(a.value())))).collect();
        let listeners: Vec<Value> = detail.listeners.iter().map(|l| listener(l, &protocols, &detail.rules)).collect();
        values.push(json!({
            "name": opt_str(balancer.load_balancer_name()),
            "arn": arn,
            "type": opt_str(balancer.r#type().map(|t| t.as_str())),
            "scheme": opt_str(balancer.scheme().map(|s| s.as_str())),
            "vpc_id": opt_str(balancer.vpc_id()),
            "dns_name": opt_str(balancer.dns_name()),
            "state": opt_str(balancer.state().and_then(|s| s.code()).map(|c| c.as_str())),
            "attributes": attributes,
            "listeners": listeners,
        }));
    }
    Ok(Value::Array(values))
}

fn is_tls(listener: &Listener) -> bool {
    listener.protocol().is_some_and(|p| TLS_PROTOCOLS.contains(&p.as_str()))
}

fn listener(
    listener: &Listener,
    protocols: &BTreeMap<String, Vec<String>>,
    rules: &BTreeMap<String, Vec<Rule>>,
) -> Value {
    let ssl_protocols = match listener.ssl_policy() {
        Some(policy) if is_tls(listener) => protocols.get(policy).map_or(Value::Null, |p| json!(p)),
        _ => Value::Null,
    };
    let rules = listener.listener_arn().and_then(|arn| rules.get(arn)).map_or(Value::Null, |rules| {
        rules
            .iter()
            .map(|rule| {
                json!({
                    "priority": opt_str(rule.priority()),
                    "is_default": rule.is_default(),
                    "actions": rule.actions().iter().map(action).collect::<Vec<_>>(),
                })
            })
            .collect()
    });
    json!({
        "arn": opt_str(listener.listener_arn()),
        "port": listener.port(),
        "protocol": opt_str(listener.protocol().map(|p| p.as_str())),
        "ssl_policy": opt_str(listener.ssl_policy()),
        "ssl_protocols": ssl_protocols,
        "certificates": listener.certificates().iter().filter_map(|c| c.certificate_arn()).collect::<Vec<_>>(),
        "default_actions": listener.default_actions().iter().map(action).collect::<Vec<_>>(),
        "rules": rules,
    })
}

fn action(action: &Action) -> Value {
    json!({
        "type": opt_str(action.r#type().map(|t| t.as_str())),
        "redirect_protocol": opt_str(action.redirect_config().and_then(|r| r.protocol())),
        "target_group_arn": opt_str(action.target_group_arn()),
    })
}

/// Listeners and attributes of one load balancer; `None` when it no longer exists.
async fn detail(client: &Client, region: &str, arn: &str) -> Result<Option<Detail>, String> {
    let what = |operation: &str| format!("{} for {arn}", call(SERVICE, operation, Some(region)));
    let listeners =
        client.describe_listeners().load_balancer_arn(arn).into_paginator().items().send().try_collect().await;
    let listeners = match listeners {
        Ok(listeners) => listeners,
        Err(err) if err.code() == Some("LoadBalancerNotFound") => return Ok(None),
        Err(err) => return Err(sdk_reason(&what("DescribeListeners"), &err)),
    };
    let attributes = match client.describe_load_balancer_attributes().load_balancer_arn(arn).send().await {
        Ok(output) => output.attributes().to_vec(),
        Err(err) if err.code() == Some("LoadBalancerNotFound") => return Ok(None),
        Err(err) => return Err(sdk_reason(&what("DescribeLoadBalancerAttributes"), &err)),
    };
    let mut rules = BTreeMap::new();
    for listener in listeners.iter().filter(|l| l.protocol().is_some_and(|p| p.as_str() == "HTTP")) {
        let Some(listener_arn) = listener.listener_arn() else { continue };
        let found =
            client.describe_rules().listener_arn(listener_arn).into_paginator().items().send().try_collect().await;
        match found {
            Ok(found) => {
                rules.insert(listener_arn.to_string(), found);
            }
            Err(err) if err.code() == Some("LoadBalancerNotFound") => return Ok(None),
            // Deleted meanwhile: its `rules` stay null, which checks cannot pass.
            Err(err) if err.code() == Some("ListenerNotFound") => {}
            Err(err) => {
                return Err(sdk_reason(
                    &format!("{} for {listener_arn}", call(SERVICE, "DescribeRules", Some(region))),
                    &err,
                ))
            }
        }
    }
    Ok(Some(Detail { listeners, attributes, rules }))
}

/// The TLS versions each predefined security policy allows, by policy name.
async fn ssl_protocols(client: &Client, region: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let what = call(SERVICE, "DescribeSSLPolicies", Some(region));
    let mut protocols = BTreeMap::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_POLICY_PAGES {
        let output = client
            .describe_ssl_policies()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|err| sdk_reason(&what, &err))?;
        for policy in output.ssl_policies() {
            if let Some(name) = policy.name() {
                protocols.insert(name.to_string(), policy.ssl_protocols().to_vec());
            }
        }
        match output.next_marker().filter(|m| !m.is_empty()) {
            Some(next) => marker = Some(next.to_string()),
            None => return Ok(protocols),
        }
    }
    Err(format!("{what}: more than {MAX_POLICY_PAGES} pages of policies; giving up"))
}
