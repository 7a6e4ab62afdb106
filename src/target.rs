//! Targets: turning what the user asked to audit into collected facts. The
//! local host goes through the host collectors over a [`LocalTransport`]; an
//! AWS account through the standard credential chain (environment, profile,
//! SSO, web identity, container and instance roles, optionally a role to
//! assume) and the AWS collectors.

use std::collections::BTreeSet;

use crate::evaluate::TargetFacts;
use crate::facts::aws::collect::{self as aws_collect, AwsTarget};
use crate::facts::host::{self, LocalTransport, Transport};
use crate::facts::FactKey;
use crate::settings::{AwsSpec, TargetSpec};

/// Why a target could not be audited at all (credentials, identity, regions).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("AWS: {0}")]
    Aws(String),
}

impl TargetSpec {
    /// The provider whose checks apply to this target.
    pub fn provider(&self) -> &'static str {
        match self {
            TargetSpec::LocalHost => "linux",
            TargetSpec::Aws(_) => "aws",
        }
    }
}

/// A target ready to be collected from: credentials checked, identity known.
pub enum Connected {
    Local(LocalTransport),
    Aws(Box<AwsTarget>),
}

impl Connected {
    pub fn name(&self) -> String {
        match self {
            Connected::Local(transport) => host_name(transport),
            Connected::Aws(target) => target.account_id.clone(),
        }
    }

    pub fn provider(&self) -> &'static str {
        match self {
            Connected::Local(_) => "linux",
            Connected::Aws(_) => "aws",
        }
    }

    /// Collects every fact of `keys` that applies to this target's provider.
    pub fn collect(&self, keys: &BTreeSet<FactKey>, runtime: &tokio::runtime::Runtime) -> TargetFacts {
        let facts = match self {
            Connected::Local(transport) => {
                let keys: BTreeSet<FactKey> =
                    keys.iter().filter(|k| k.as_str().starts_with("host.")).cloned().collect();
                host::collect(transport, &keys)
            }
            Connected::Aws(target) => {
                let keys: BTreeSet<FactKey> = keys.iter().filter(|k| k.as_str().starts_with("aws.")).cloned().collect();
                runtime.block_on(aws_collect::collect(target, &keys))
            }
        };
        TargetFacts { name: self.name(), provider: self.provider().to_owned(), facts: facts.into_iter().collect() }
    }
}

/// Connects to a target: for AWS, resolves credentials, asks STS who they
/// belong to and lists the regions, so that bad credentials stop the run
/// before anything is collected.
pub fn connect(spec: &TargetSpec, runtime: &tokio::runtime::Runtime) -> Result<Connected, TargetError> {
    match spec {
        TargetSpec::LocalHost => Ok(Connected::Local(LocalTransport::new())),
        TargetSpec::Aws(aws) => runtime.block_on(connect_aws(aws)).map(|t| Connected::Aws(Box::new(t))),
    }
}

async fn connect_aws(spec: &AwsSpec) -> Result<AwsTarget, TargetError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(std::time::Duration::from_secs(20))
                .operation_timeout(std::time::Duration::from_secs(60))
                .build(),
        );
    if let Some(profile) = &spec.profile {
        loader = loader.profile_name(profile);
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        // Global calls (STS, IAM, S3 listing) need a region to sign with.
        config = config.into_builder().region(aws_config::Region::new("us-east-1")).build();
    }
    if let Some(role_arn) = &spec.role_arn {
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(role_arn).session_name("posture-audit");
        if let Some(external_id) = &spec.external_id {
            provider = provider.external_id(external_id);
        }
        let provider = provider.configure(&config).build().await;
        config = config
            .into_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
            .build();
    }
    let (account_id, caller_arn) = aws_collect::caller_identity(&config).await.map_err(TargetError::Aws)?;
    let partition = caller_arn.split(':').nth(1).unwrap_or("aws").to_owned();
    let regions = if spec.regions.is_empty() {
        aws_collect::enabled_regions(&config).await.map_err(TargetError::Aws)?
    } else {
        spec.regions.clone()
    };
    Ok(AwsTarget { config, account_id, caller_arn, partition, regions })
}

/// The target's name: its host name, or `localhost` when it cannot be read.
fn host_name(transport: &dyn Transport) -> String {
    transport
        .read_file("/proc/sys/kernel/hostname")
        .ok()
        .flatten()
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
