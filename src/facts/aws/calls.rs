//! The log of the AWS API requests sent for one account: how many per
//! service and operation, how many were retries, and which requests were
//! sent again though their answer was already had (a collector bug: each
//! call is meant to be made once per run per resource).
//!
//! Each audited account has its [`CallLog`]; every client the collectors
//! build for it carries the log's [`CallCounter`]. The log is kept with the
//! account's facts as evidence (the report's `targets[].api_calls`),
//! `--timings` prints it, and the end-to-end tests assert that nothing
//! repeats and that every call is one the fact table declares.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_sdk_sts::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sts::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use sha2::{Digest, Sha256};

/// Operations that are sent again on purpose: the credential report is
/// asked for until IAM has generated it.
const POLLED_OPERATIONS: &[&str] = &["GenerateCredentialReport", "GetCredentialReport"];

/// What was sent, for `--timings` and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallSummary {
    /// Calls (first attempts) per `service operation`.
    pub calls: BTreeMap<String, u64>,
    /// Attempts after the first (the SDK's retries).
    pub retries: u64,
    /// `service operation` of calls whose request (identity, method, URL
    /// and body) had been sent before, once per repeat.
    pub repeated: Vec<String>,
}

impl CallSummary {
    /// All calls, first attempts only.
    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }
}

impl fmt::Display for CallSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut per_service: BTreeMap<&str, u64> = BTreeMap::new();
        for (call, count) in &self.calls {
            *per_service.entry(call.split(' ').next().unwrap_or(call)).or_default() += count;
        }
        let services: Vec<String> = per_service.iter().map(|(service, count)| format!("{service} {count}")).collect();
        write!(
            f,
            "{} calls ({}), {} retries, {} repeated requests",
            self.total(),
            services.join(", "),
            self.retries,
            self.repeated.len()
        )?;
        if !self.repeated.is_empty() {
            write!(f, ": {}", self.repeated.join(", "))?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct LogState {
    summary: CallSummary,
    seen: HashSet<[u8; 32]>,
}

/// The requests sent for one account; clones share the log.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<LogState>>);

impl CallLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// What has been sent so far.
    pub fn summary(&self) -> CallSummary {
        self.0.lock().map(|log| log.summary.clone()).unwrap_or_default()
    }

    /// The interceptor that records a client's requests in this log.
    pub fn counter(&self) -> CallCounter {
        CallCounter { log: self.clone() }
    }
}

/// Counts each request just before it is sent (after signing, so the
/// identity is known).
#[derive(Debug, Clone)]
pub struct CallCounter {
    log: CallLog,
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "posture: API call log"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = match cfg.load::<Metadata>() {
            Some(metadata) => (metadata.service().to_string(), metadata.name().to_string()),
            None => ("unknown".to_string(), "unknown".to_string()),
        };
        let call = format!("{} {operation}", service.to_lowercase().replace(' ', ""));
        let attempt = cfg.load::<RequestAttempts>().map_or(1, RequestAttempts::attempts);
        let request = context.request();
        let fingerprint = fingerprint(
            &call,
            request.headers().get("authorization").and_then(credential_scope).unwrap_or_default(),
            request.method(),
            request.uri(),
            request.body().bytes().unwrap_or_default(),
        );
        if let Ok(mut log) = self.log.0.lock() {
            if attempt > 1 {
                log.summary.retries += 1;
                return Ok(());
            }
            *log.summary.calls.entry(call.clone()).or_default() += 1;
            if !log.seen.insert(fingerprint) && !POLLED_OPERATIONS.contains(&operation.as_str()) {
                log.summary.repeated.push(call);
            }
        }
        Ok(())
    }
}

/// Who asked, where: the credential of a SigV4 `Authorization` header
/// (`... Credential=AKID/date/region/service/aws4_request, ...`): the same
/// request to two regions or from two identities is not a repeat, even
/// when an endpoint override gives every region one URL.
fn credential_scope(authorization: &str) -> Option<&str> {
    let credential = authorization.split("Credential=").nth(1)?;
    credential.split([',', ' ']).next()
}

/// The request's identity: the operation (JSON protocols send several with
/// one URL and body), who asked where, and what exactly was asked.
fn fingerprint(call: &str, identity: &str, method: &str, uri: &str, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [call.as_bytes(), identity.as_bytes(), method.as_bytes(), uri.as_bytes(), body] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_scope_from_a_sigv4_header() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/iam/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(credential_scope(header), Some("AKIDEXAMPLE/20261123/us-east-1/iam/aws4_request"));
        assert_eq!(credential_scope("Bearer x"), None);
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let a = fingerprint("x", "AKID", "POST", "https://iam.amazonaws.com/", b"Action=ListUsers");
        assert_eq!(a, fingerprint("x", "AKID", "POST", "https://iam.amazonaws.com/", b"Action=ListUsers"));
        assert_ne!(a, fingerprint("x", "OTHER", "POST", "https://iam.amazonaws.com/", b"Action=ListUsers"));
        assert_ne!(a, fingerprint("x", "AKID", "POST", "https://iam.amazonaws.com/", b"Action=ListUsers&Marker=x"));
        assert_ne!(a, fingerprint("y", "AKID", "POST", "https://iam.amazonaws.com/", b"Action=ListUsers"));
        // Lengths are hashed too, so moving bytes between parts changes it.
        assert_ne!(fingerprint("x", "AK", "IDPOST", "u", b""), fingerprint("x", "AKID", "POST", "u", b""));
    }

    #[test]
    fn summary_reads_per_service() {
        let summary = CallSummary {
            calls: BTreeMap::from([
                ("iam ListUsers".into(), 1),
                ("iam GetUser".into(), 2),
                ("s3 ListBuckets".into(), 1),
            ]),
            retries: 3,
            repeated: vec!["iam GetUser".into()],
        };
        assert_eq!(summary.total(), 4);
        assert_eq!(summary.to_string(), "4 calls (iam 3, s3 1), 3 retries, 1 repeated requests: iam GetUser");
    }
}
