//! What every AWS service module shares, and nothing else: SDK clients with
//! the collector's settings (retry, timeouts, the call log), the per-account
//! context, the planned task of one fact, paging, bounded fan-out, error
//! reasons, timestamps and limits. It imports no service module and not
//! `collect.rs`: service modules import this module, `collect.rs` imports
//! them, so data flows one way.

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
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::calls::CallLog;
use crate::facts::FactSource;

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
    /// The account's API call log, which every client records in.
    pub calls: CallLog,
}

impl Ctx {
    /// The context of the account `account_id` in `partition`, audited in
    /// `regions`, called with `config` tuned by [`tuned_config`].
    pub(super) fn new(
        config: &SdkConfig,
        account_id: &str,
        partition: &str,
        regions: &[String],
        calls: &CallLog,
    ) -> Self {
        let config = tuned_config(config);
        let endpoint_override = config
            .endpoint_url()
            .map(String::from)
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok().filter(|url| !url.is_empty()))
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|url| !url.is_empty()));
        let global_region = global_region(partition, config.region(), regions);
        Self {
            config,
            account_id: account_id.to_string(),
            partition: partition.to_string(),
            endpoint_override,
            global_region,
            iam_limit: Arc::new(Semaphore::new(RESOURCE_LIMIT)),
            calls: calls.clone(),
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
/// settings: `client!(aws_sdk_kms, ctx, region)`, or
/// `client!(aws_sdk_s3, ctx, region, |builder| builder.force_path_style(true))`
/// to adjust the config builder before the client is built.
macro_rules! client {
    ($sdk:ident, $ctx:expr, $region:expr) => {
        client!($sdk, $ctx, $region, |builder| builder)
    };
    ($sdk:ident, $ctx:expr, $region:expr, |$builder:ident| $adjust:expr) => {
        client!($sdk, config = &$ctx.config, calls = &$ctx.calls, $region, |$builder| $adjust)
    };
    ($sdk:ident, config = $config:expr, calls = $calls:expr, $region:expr) => {
        client!($sdk, config = $config, calls = $calls, $region, |builder| builder)
    };
    ($sdk:ident, config = $config:expr, calls = $calls:expr, $region:expr, |$builder:ident| $adjust:expr) => {{
        let $builder = $sdk::config::Builder::from($config)
            .region(::aws_config::Region::new(::std::string::ToString::to_string(&$region)))
            .retry_classifier($crate::facts::aws::sdk::NotTheService)
            .interceptor($crate::facts::aws::calls::CallLog::counter($calls));
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
            .map_err(|err| $crate::facts::aws::sdk::sdk_reason(&$what, &err))
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
            .map_err(|err| $crate::facts::aws::sdk::sdk_reason(&$what, &err))
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
    use serde_json::json;

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
