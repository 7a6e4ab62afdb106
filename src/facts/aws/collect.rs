//! The AWS collector: turns the requested AWS fact keys of one account into
//! facts, running services, regions and per-resource calls concurrently with
//! bounds, and the helpers every service module shares (client settings,
//! error reasons, timestamps, bounded fan-out).
//!
//! Policy, in one place:
//! - one task per fact (`<kind>:<region>` for regional kinds), each making its
//!   own read-only call chain once; at most [`TASK_LIMIT`] tasks run at once
//!   and each fans out to at most [`RESOURCE_LIMIT`] per-resource calls (IAM
//!   sub-calls of all IAM facts share one such bound, IAM being rate-limited
//!   per account);
//! - the SDK's retry in standard mode with at least [`MIN_ATTEMPTS`] attempts
//!   (unless the caller disabled retries), except for answers that are a web
//!   server's error page rather than the service's ([`NotTheService`]), and
//!   timeouts per attempt and per operation where the caller's configuration
//!   sets none. Credentials are the caller's, untouched;
//! - an error becomes an unavailable fact whose reason names the service, the
//!   operation, the region and the error code; "not configured" answers are
//!   data, decided by each service module.

use crate::facts::provider::Provider;
use std::collections::{BTreeMap, BTreeSet};
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::{RetryConfig, RetryMode};
use aws_config::timeout::TimeoutConfig;
use aws_config::{Region, SdkConfig};
use aws_sdk_sts::config::interceptors::InterceptorContext;
use aws_sdk_sts::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::primitives::{DateTime, DateTimeFormat};
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::kinds::Collector;
use super::{ec2, sts, AwsCalls, FACTS};
use crate::facts::descriptor::{self, FactDescriptor, Scope};
use crate::facts::{Fact, FactKey, FactSource};

/// Fact tasks (one per fact) running at once for one account.
pub const TASK_LIMIT: usize = 24;
/// Per-resource calls (per user, per bucket, per trail...) running at once
/// for one fact (for IAM: for all IAM facts together).
pub const RESOURCE_LIMIT: usize = 8;
/// Attempts per API call (first try + retries) unless the caller's
/// configuration asks for more, or disables retries.
pub const MIN_ATTEMPTS: u32 = 5;
/// How long one attempt of one API call may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one API call may take, retries and back-off included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);
/// How long connecting to an endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The account to collect from: the SDK configuration (credentials, endpoint
/// override, retry and timeout settings) and what was learnt about the
/// account before collection.
#[derive(Debug, Clone)]
pub struct AwsTarget {
    /// The caller's SDK configuration; its credentials are used as they are.
    pub config: SdkConfig,
    /// The 12-digit account id (STS GetCallerIdentity).
    pub account_id: String,
    /// The ARN of the identity collecting (STS GetCallerIdentity).
    pub caller_arn: String,
    /// The AWS partition (`aws`, `aws-cn`, `aws-us-gov`), see [`partition_of_arn`].
    pub partition: String,
    /// The regions to collect regional facts from.
    pub regions: Vec<String>,
}

/// Collects the requested AWS facts of one account.
///
/// - a global key (`aws.iam.users`) gives one fact;
/// - a regional kind without region (`aws.ec2.vpcs`) gives one fact per
///   region of the target (`aws.ec2.vpcs:eu-west-1`, ...); with a region
///   (`aws.ec2.vpcs:eu-west-1`) it gives that one fact;
/// - an `aws.` key that names no AWS fact gives an unavailable fact;
/// - keys outside `aws.` belong to other collectors and are skipped.
///
/// A fact that cannot be had is unavailable with the reason; collection
/// never stops at one failure. Facts are returned in key order.
pub async fn collect(target: &AwsTarget, keys: &BTreeSet<FactKey>) -> Vec<Fact> {
    let ctx = Arc::new(Ctx::new(target));
    let mut wanted: BTreeMap<FactKey, Wanted> = BTreeMap::new();
    for key in keys {
        if Provider::of_fact(key) != Some(Provider::Aws) {
            continue;
        }
        let row = descriptor::find(FACTS, key).filter(|row| row.accepts(key));
        match (row, key.param()) {
            (Some(row), None) if row.scope == Scope::Regional => {
                for region in &target.regions {
                    wanted.insert(FactKey::new(format!("{key}:{region}")), Wanted::Kind(row, Some(region.clone())));
                }
            }
            (Some(row), region) => {
                wanted.insert(key.clone(), Wanted::Kind(row, region.map(str::to_owned)));
            }
            (None, _) => {
                wanted.insert(key.clone(), Wanted::Unknown);
            }
        }
    }

    let mut facts = Vec::with_capacity(wanted.len());
    let mut pending = Vec::new();
    for (key, want) in wanted {
        let planned = match want {
            Wanted::Kind(row, region) => match (&row.how.collector, region) {
                (Collector::Account, _) => {
                    facts.push(Fact::available(key, account_value(target), account_source()));
                    continue;
                }
                (Collector::Global(plan), _) => plan(&ctx, row.kind),
                (Collector::Regional(plan), Some(region)) => plan(&ctx, row.kind, &region),
                (Collector::Regional(_), None) => None,
            },
            Wanted::Unknown => None,
        };
        match planned {
            Some(planned) => pending.push((key, planned)),
            None => {
                let source =
                    FactSource::Api { service: service_of(key.kind()), operation: "none".into(), region: None };
                facts.push(Fact::unavailable(
                    key,
                    "not an AWS fact this version collects (see docs/aws-facts.md)",
                    source,
                ));
            }
        }
    }

    let (meta, futures): (Vec<_>, Vec<_>) =
        pending.into_iter().map(|(key, planned)| ((key, planned.source), planned.future)).unzip();
    let limit = Arc::new(Semaphore::new(TASK_LIMIT));
    // Each fact is stamped with the time its calls finished.
    let results = bounded(&limit, futures, |future| async move {
        let result = future.await;
        (result, Utc::now())
    })
    .await;
    for ((key, source), result) in meta.into_iter().zip(results) {
        let fact = match result {
            Ok((Ok(value), at)) => Fact { collected_at: at, ..Fact::available(key, value, source) },
            Ok((Err(reason), at)) => Fact { collected_at: at, ..Fact::unavailable(key, reason, source) },
            Err(internal) => {
                let reason = format!("internal error while collecting {key}: {internal}");
                Fact::unavailable(key, reason, source)
            }
        };
        facts.push(fact);
    }
    facts.sort_by(|a, b| a.key.cmp(&b.key));
    facts
}

/// The regions EC2 DescribeRegions lists as enabled for the account (opt-in
/// not required, or opted in), sorted.
///
/// Asks the configuration's region, or `us-east-1` when none is configured.
pub async fn enabled_regions(config: &SdkConfig) -> Result<Vec<String>, String> {
    ec2::enabled_regions(&tuned_config(config)).await
}

/// The account id and caller ARN from STS GetCallerIdentity: the first call
/// of an audit, so its error says what to fix (no credentials, expired or
/// rejected credentials, unreachable endpoint).
///
/// Asks the configuration's region, or `us-east-1` when none is configured.
pub async fn caller_identity(config: &SdkConfig) -> Result<(String, String), String> {
    sts::caller_identity(&tuned_config(config)).await
}

/// The partition of an ARN (`arn:aws-cn:iam::...` gives `aws-cn`), `aws`
/// when the text is not an ARN.
pub fn partition_of_arn(arn: &str) -> String {
    let mut parts = arn.split(':');
    match (parts.next(), parts.next()) {
        (Some("arn"), Some(partition)) if !partition.is_empty() => partition.to_string(),
        _ => "aws".to_string(),
    }
}

enum Wanted {
    /// A kind's fact, in a region for a regional kind.
    Kind(&'static FactDescriptor<AwsCalls>, Option<String>),
    Unknown,
}

/// A boxed, sendable future.
pub(super) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What one fact needs: where it comes from and the future computing it.
pub(super) struct Planned {
    pub source: FactSource,
    pub future: BoxFuture<Result<Value, String>>,
}

impl Planned {
    /// A task for `service` `operation`, in `region` (None for global).
    pub(super) fn new(
        service: &str,
        operation: &str,
        region: Option<&str>,
        future: impl Future<Output = Result<Value, String>> + Send + 'static,
    ) -> Self {
        let source =
            FactSource::Api { service: service.into(), operation: operation.into(), region: region.map(String::from) };
        Self { source, future: Box::pin(future) }
    }
}

fn service_of(kind: &str) -> String {
    kind.split('.').nth(1).unwrap_or("aws").to_string()
}

fn account_value(target: &AwsTarget) -> Value {
    let mut regions = target.regions.clone();
    regions.sort();
    regions.dedup();
    json!({
        "account_id": target.account_id,
        "caller_arn": target.caller_arn,
        "partition": target.partition,
        "regions": regions,
    })
}

fn account_source() -> FactSource {
    FactSource::Api { service: "sts".into(), operation: "GetCallerIdentity+DescribeRegions".into(), region: None }
}

/// What every task of one account shares.
pub(super) struct Ctx {
    /// The caller's configuration with this collector's retry and timeouts.
    pub config: SdkConfig,
    pub account_id: String,
    pub partition: String,
    /// Whether an endpoint override is set (an emulator, a proxy): S3 then
    /// uses path-style addressing and S3 Control the URL as given.
    pub endpoint_override: Option<String>,
    /// The region for calls of global services (IAM, S3 ListBuckets, S3 Control).
    pub global_region: String,
    /// Bounds IAM sub-calls across all IAM facts.
    pub iam_limit: Arc<Semaphore>,
}

impl Ctx {
    fn new(target: &AwsTarget) -> Self {
        let config = tuned_config(&target.config);
        let endpoint_override = config
            .endpoint_url()
            .map(String::from)
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok().filter(|url| !url.is_empty()))
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|url| !url.is_empty()));
        let global_region = global_region(&target.partition, config.region(), &target.regions);
        Self {
            config,
            account_id: target.account_id.clone(),
            partition: target.partition.clone(),
            endpoint_override,
            global_region,
            iam_limit: Arc::new(Semaphore::new(RESOURCE_LIMIT)),
        }
    }
}

/// The region global services are called in: `us-east-1` in the commercial
/// partition, else the configured region, else the first audited region.
fn global_region(partition: &str, configured: Option<&Region>, regions: &[String]) -> String {
    if partition == "aws" {
        return "us-east-1".to_string();
    }
    configured
        .map(|region| region.as_ref().to_string())
        .or_else(|| regions.first().cloned())
        .unwrap_or_else(|| "us-east-1".to_string())
}

/// The caller's configuration with retry in standard mode (at least
/// [`MIN_ATTEMPTS`] attempts unless retries are disabled) and the timeouts
/// it does not set. Credentials, region and endpoint are kept.
pub(super) fn tuned_config(config: &SdkConfig) -> SdkConfig {
    let retry = match config.retry_config() {
        Some(retry) if retry.max_attempts() <= 1 => retry.clone(),
        Some(retry) if retry.mode() == RetryMode::Adaptive => {
            retry.clone().with_max_attempts(retry.max_attempts().max(MIN_ATTEMPTS))
        }
        Some(retry) => RetryConfig::standard().with_max_attempts(retry.max_attempts().max(MIN_ATTEMPTS)),
        None => RetryConfig::standard().with_max_attempts(MIN_ATTEMPTS),
    };
    let ours = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    let timeouts = match config.timeout_config() {
        Some(theirs) => {
            let mut merged = theirs.clone();
            merged.take_defaults_from(&ours);
            merged
        }
        None => ours,
    };
    config.to_builder().retry_config(retry).timeout_config(timeouts).build()
}

/// Forbids retrying an HTTP 500 or 501 answer whose body is an HTML page.
///
/// AWS services phrase their errors, internal ones included, as XML or JSON
/// with an error code; an HTML error page comes from whatever answers in
/// their place (an endpoint override that routes nowhere, an emulator
/// without this service) and will not change on retry. Retrying it only
/// adds the back-off (seconds per call) to the audit. Gateway answers (502,
/// 503, 504), throttling, timeouts and connection faults keep the standard
/// retry.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NotTheService;

impl ClassifyRetry for NotTheService {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(response) = ctx.response() else { return RetryAction::NoActionIndicated };
        let is_html = response
            .headers()
            .get("content-type")
            .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("text/html"));
        if is_html && matches!(response.status().as_u16(), 500 | 501) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "posture: an HTML error page is not the service"
    }
}

/// A client of an AWS SDK service crate for one region, with the collector's
/// settings: `client!(aws_sdk_kms, &ctx.config, region)`, or
/// `client!(aws_sdk_s3, &ctx.config, region, |builder| builder.force_path_style(true))`
/// to adjust the config builder before the client is built.
macro_rules! client {
    ($sdk:ident, $config:expr, $region:expr) => {
        client!($sdk, $config, $region, |builder| builder)
    };
    ($sdk:ident, $config:expr, $region:expr, |$builder:ident| $adjust:expr) => {{
        let $builder = $sdk::config::Builder::from($config)
            .region(::aws_config::Region::new(::std::string::ToString::to_string(&$region)))
            .retry_classifier($crate::facts::aws::collect::NotTheService)
            .interceptor($crate::facts::aws::calls::CallCounter);
        $sdk::Client::from_conf(($adjust).build())
    }};
}
pub(super) use client;

/// Every item of a paginated request (`all_items!(client.list_users(),
/// what)`), or the reason it failed, naming `what` (see [`call`]).
macro_rules! all_items {
    ($request:expr, $what:expr) => {
        $request
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| $crate::facts::aws::collect::sdk_reason(&$what, &err))
    };
}
pub(super) use all_items;

/// Every page of a paginated request whose items are spread over several
/// lists per page, or the reason it failed, naming `what` (see [`call`]).
macro_rules! all_pages {
    ($request:expr, $what:expr) => {
        $request
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|err| $crate::facts::aws::collect::sdk_reason(&$what, &err))
    };
}
pub(super) use all_pages;

/// The region to use for account-level calls that need one: the
/// configured region, `us-east-1` when none is set.
pub(super) fn region_or_default(config: &SdkConfig) -> Region {
    config.region().cloned().unwrap_or_else(|| Region::new("us-east-1"))
}

/// "ec2 DescribeSecurityGroups in eu-west-1", "iam ListUsers": what a reason
/// starts with.
pub(super) fn call(service: &str, operation: &str, region: Option<&str>) -> String {
    match region {
        Some(region) => format!("{service} {operation} in {region}"),
        None => format!("{service} {operation}"),
    }
}

/// The reason an SDK call failed, for an unavailable fact or entry: `what`
/// (see [`call`]), then the error code and message, or what prevented the
/// call (no credentials, timeout, unreachable endpoint).
pub(super) fn sdk_reason<E>(what: &str, err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let failure = match err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => Failure::Service {
            code: err.code().map(String::from),
            message: err.message().map(String::from),
            status: err.raw_response().map(|response| response.status().as_u16()),
            detail: error_chain(err),
        },
        SdkError::TimeoutError(_) => Failure::Timeout,
        _ => {
            let chain = error_chain(err);
            if is_missing_credentials(&chain) {
                Failure::NoCredentials
            } else {
                Failure::Other(chain)
            }
        }
    };
    describe_failure(what, &failure)
}

/// Why a call failed, reduced to what a reason needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// The service answered with an error.
    Service { code: Option<String>, message: Option<String>, status: Option<u16>, detail: String },
    /// The credential chain found no credentials.
    NoCredentials,
    /// The call (all its attempts) took too long.
    Timeout,
    /// Anything else (endpoint unreachable, unparseable response), with the
    /// error chain.
    Other(String),
}

/// The message for no credentials at all.
pub(super) const NO_CREDENTIALS: &str =
    "no AWS credentials found: tried environment, profile, SSO, web identity, container and instance roles";

/// Codes AWS gives for a denied permission.
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
    "UnauthorizedAccess",
    "Forbidden",
];

/// Codes AWS gives for throttled calls (retried by the SDK first).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Codes for credentials the service does not accept.
const REJECTED_CREDENTIALS_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AuthFailure",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
];

const EXPIRED_CREDENTIALS_CODES: &[&str] =
    &["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"];

/// `what: label: message` for a failure.
pub(super) fn describe_failure(what: &str, failure: &Failure) -> String {
    match failure {
        Failure::Service { code: Some(code), message, .. } => {
            let code = code.as_str();
            let label = if ACCESS_DENIED_CODES.contains(&code) {
                format!("access denied ({code})")
            } else if THROTTLING_CODES.contains(&code) {
                format!("throttled ({code}), still after retries")
            } else if REJECTED_CREDENTIALS_CODES.contains(&code) {
                format!("credentials rejected ({code})")
            } else if EXPIRED_CREDENTIALS_CODES.contains(&code) {
                format!("credentials expired ({code})")
            } else if code == "OptInRequired" {
                format!("the account is not subscribed to this service or region ({code})")
            } else {
                code.to_string()
            };
            match message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
                Some(message) => format!("{what}: {label}: {message}"),
                None => format!("{what}: {label}"),
            }
        }
        Failure::Service { code: None, message, status, detail } => {
            // An error body without a readable code: the HTTP status still
            // tells denied and throttled calls apart.
            let label = match status {
                Some(403) => "access denied (HTTP 403; the error response has no readable code)".to_string(),
                Some(429) => "throttled (HTTP 429), still after retries".to_string(),
                Some(status) => format!("unexpected response (HTTP {status})"),
                None => "unexpected response".to_string(),
            };
            match message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
                Some(message) => format!("{what}: {label}: {message}"),
                None => format!("{what}: {label}: {detail}"),
            }
        }
        Failure::NoCredentials => format!("{what}: {NO_CREDENTIALS}"),
        Failure::Timeout => format!(
            "{what}: timed out (each attempt may take {}s, the call with retries {}s)",
            ATTEMPT_TIMEOUT.as_secs(),
            OPERATION_TIMEOUT.as_secs()
        ),
        Failure::Other(chain) => format!("{what}: {chain}"),
    }
}

/// The error and its sources, `: `-joined, without repeats.
pub(super) fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(error) = current {
        let text = error.to_string();
        if !text.is_empty() && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

/// The per-resource calls of one resource that failed (operation -> reason),
/// reported as the resource's `unavailable` field; a failed call's own field
/// is `null`, so a check tells "not read" from "empty".
#[derive(Debug, Default)]
pub(super) struct Unread(serde_json::Map<String, Value>);

impl Unread {
    /// Records why `operation` failed; gives the `null` for its field.
    pub(super) fn note(&mut self, operation: &str, reason: String) -> Value {
        self.0.insert(operation.to_owned(), Value::String(reason));
        Value::Null
    }

    pub(super) fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// Whether an error chain says that the credential chain found nothing.
pub(super) fn is_missing_credentials(chain: &str) -> bool {
    chain.contains("no providers in chain provided credentials")
        || chain.contains("the credential provider was not enabled")
        || chain.contains("no credentials provider")
}

/// An SDK timestamp as RFC 3339 UTC, `null` when absent or unrepresentable.
pub(super) fn timestamp(value: Option<&DateTime>) -> Value {
    value.and_then(|time| time.fmt(DateTimeFormat::DateTime).ok()).map_or(Value::Null, Value::String)
}

/// An optional string as JSON (`null` when absent).
pub(super) fn opt_str(value: Option<&str>) -> Value {
    value.map_or(Value::Null, |text| Value::String(text.to_string()))
}

/// Runs `f(item)` for every item, at most as many at once as `limit` has
/// permits, and returns the outputs in item order; `Err` for an item whose
/// task panicked.
///
/// Each item runs as a tokio task, so one bad resource cannot take the
/// others down; dropping the returned future cancels the tasks.
pub(super) async fn bounded<T, F, Fut, O>(limit: &Arc<Semaphore>, items: Vec<T>, f: F) -> Vec<Result<O, String>>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = O> + Send + 'static,
    O: Send + 'static,
{
    let mut tasks = Tasks(Vec::with_capacity(items.len()));
    for item in items {
        let permits = Arc::clone(limit);
        let future = f(item);
        tasks.0.push(tokio::spawn(async move {
            // The semaphore is never closed: a permit always comes.
            let _permit = permits.acquire_owned().await.ok();
            future.await
        }));
    }
    let mut outputs = Vec::with_capacity(tasks.0.len());
    for handle in tasks.0.iter_mut() {
        outputs.push(handle.await.map_err(|err| {
            if err.is_panic() {
                "the collector panicked (a bug: please report it)".to_string()
            } else {
                "the collector was cancelled".to_string()
            }
        }));
    }
    outputs
}

/// Spawned tasks, aborted when dropped unfinished.
struct Tasks<O>(Vec<JoinHandle<O>>);

impl<O> Drop for Tasks<O> {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

/// Waits for every result of a fan-out; the first failure wins (a panicked
/// task included), else the values in order.
pub(super) fn all_ok<V>(results: Vec<Result<Result<V, String>, String>>) -> Result<Vec<V>, String> {
    let mut values = Vec::with_capacity(results.len());
    for result in results {
        values.push(result??);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str, message: &str) -> Failure {
        Failure::Service {
            code: Some(code.into()),
            message: Some(message.into()),
            status: Some(400),
            detail: String::new(),
        }
    }

    #[test]
    fn access_denied_is_named() {
        let what = call("ec2", "DescribeSecurityGroups", Some("eu-west-1"));
        assert_eq!(
            describe_failure(&what, &service("UnauthorizedOperation", "You are not authorized")),
            "ec2 DescribeSecurityGroups in eu-west-1: access denied (UnauthorizedOperation): You are not authorized"
        );
        assert_eq!(
            describe_failure("iam ListUsers", &service("AccessDenied", "User x is not authorized")),
            "iam ListUsers: access denied (AccessDenied): User x is not authorized"
        );
    }

    #[test]
    fn throttling_is_named() {
        let reason = describe_failure("kms ListKeys in us-east-1", &service("ThrottlingException", "Rate exceeded"));
        assert_eq!(
            reason,
            "kms ListKeys in us-east-1: throttled (ThrottlingException), still after retries: Rate exceeded"
        );
    }

    #[test]
    fn other_codes_keep_code_and_message() {
        let reason = describe_failure("rds DescribeDBInstances in ap-east-1", &service("InvalidParameterValue", "bad"));
        assert_eq!(reason, "rds DescribeDBInstances in ap-east-1: InvalidParameterValue: bad");
        let failure =
            Failure::Service { code: Some("Boom".into()), message: None, status: Some(400), detail: String::new() };
        assert_eq!(describe_failure("sns ListSubscriptions", &failure), "sns ListSubscriptions: Boom");
        let failure = Failure::Service { code: None, message: None, status: Some(404), detail: "not CBOR".into() };
        assert_eq!(
            describe_failure("cloudwatch DescribeAlarms", &failure),
            "cloudwatch DescribeAlarms: unexpected response (HTTP 404): not CBOR"
        );
        let failure = Failure::Service { code: None, message: None, status: Some(403), detail: "<html>".into() };
        assert!(describe_failure("kms ListKeys in eu-west-1", &failure)
            .starts_with("kms ListKeys in eu-west-1: access denied (HTTP 403"));
    }

    #[test]
    fn credential_and_transport_failures() {
        assert_eq!(
            describe_failure("sts GetCallerIdentity", &Failure::NoCredentials),
            format!("sts GetCallerIdentity: {NO_CREDENTIALS}")
        );
        assert!(describe_failure("sts GetCallerIdentity", &Failure::Timeout).contains("timed out"));
        assert_eq!(
            describe_failure("x Y", &Failure::Other("dispatch failure: connection refused".into())),
            "x Y: dispatch failure: connection refused"
        );
        assert!(describe_failure("x Y", &service("InvalidClientTokenId", "bad token")).contains("credentials rejected"));
        assert!(describe_failure("x Y", &service("ExpiredToken", "expired")).contains("credentials expired"));
    }

    #[test]
    fn missing_credentials_are_recognised() {
        assert!(is_missing_credentials(
            "failed to construct request: the credential provider was not enabled: no providers in chain provided credentials"
        ));
        assert!(!is_missing_credentials("dispatch failure: io error: connection refused"));
    }

    #[test]
    fn partitions_from_arns() {
        assert_eq!(partition_of_arn("arn:aws:iam::123456789012:user/a"), "aws");
        assert_eq!(partition_of_arn("arn:aws-cn:sts::123456789012:assumed-role/r/s"), "aws-cn");
        assert_eq!(partition_of_arn("not an arn"), "aws");
    }

    #[test]
    fn global_region_by_partition() {
        assert_eq!(global_region("aws", Some(&Region::new("eu-west-1")), &[]), "us-east-1");
        assert_eq!(global_region("aws-cn", Some(&Region::new("cn-north-1")), &[]), "cn-north-1");
        assert_eq!(global_region("aws-us-gov", None, &["us-gov-west-1".to_string()]), "us-gov-west-1");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let time = DateTime::from_secs(1_577_836_800);
        assert_eq!(timestamp(Some(&time)), json!("2020-01-01T00:00:00Z"));
        assert_eq!(timestamp(None), Value::Null);
    }

    #[tokio::test]
    async fn bounded_keeps_order_and_survives_panics() {
        let limit = Arc::new(Semaphore::new(2));
        let results = bounded(&limit, vec![3u64, 0, 1, 2], |n| async move {
            tokio::time::sleep(Duration::from_millis(n * 5)).await;
            if n == 1 {
                panic!("boom");
            }
            n * 10
        })
        .await;
        assert_eq!(results[0], Ok(30));
        assert_eq!(results[1], Ok(0));
        assert!(results[2].is_err());
        assert_eq!(results[3], Ok(20));
    }
}
