//! Targets: turning what the user asked to audit into collected facts. The
//! local host goes through the host collectors over a [`LocalTransport`]; a
//! remote host over an [`SshTransport`]; an AWS account through the standard
//! credential chain (environment, profile, SSO, web identity, container and
//! instance roles, optionally a role to assume) and the AWS collectors.
//!
//! [`collect_all`] collects several targets at once (`--jobs`), each SSH host
//! within its own deadline (`--host-timeout`). A host that cannot be reached,
//! refuses the login, rejects its host key, times out or is lost mid-run
//! gets every fact unavailable with that reason, so its checks give `error`
//! findings, while every other target completes.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::evaluate::TargetFacts;
use crate::facts::aws::collect::{self as aws_collect, AwsTarget};
use crate::facts::host::ssh::CommandRecord;
use crate::facts::host::{self, LocalTransport, SshOptions, SshTarget, SshTransport, Transport};
use crate::facts::provider::Provider;
use crate::facts::{Fact, FactKey, FactSource};
use crate::settings::{AwsSpec, SshSettings, SshSpec, TargetSpec};

/// Why a target could not be audited at all (credentials, identity, regions).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("AWS: {0}")]
    Aws(String),
}

/// A target ready to be collected from: for an AWS account, credentials
/// checked and identity known; an SSH host is only connected when it is
/// collected.
pub enum ResolvedTarget {
    LocalHost(LocalTransport),
    AwsAccount(Box<AwsTarget>),
    /// A host over SSH, connected when it is collected: a host that cannot
    /// be reached is an error of that host, not of the run.
    SshHost(Box<SshSpec>),
}

/// How collecting an SSH host went: the evidence of the connection.
#[derive(Debug, Clone)]
pub struct HostConnection {
    /// `user@host:port`, as far as given.
    pub address: String,
    /// Whether the connection was made.
    pub connected: bool,
    /// Why the host could not be (fully) collected.
    pub error: Option<String>,
    /// Batches of commands sent over the connection.
    pub round_trips: usize,
    /// Every command run on the host, with its exit status.
    pub commands: Vec<CommandRecord>,
    /// Wall time of connecting and collecting.
    pub seconds: f64,
}

/// One collected target.
pub struct CollectedTarget {
    pub facts: TargetFacts,
    /// For SSH hosts: how the connection went.
    pub connection: Option<HostConnection>,
}

impl ResolvedTarget {
    pub fn name(&self) -> String {
        match self {
            ResolvedTarget::LocalHost(transport) => host_name(transport),
            ResolvedTarget::AwsAccount(target) => target.account_id.clone(),
            ResolvedTarget::SshHost(spec) => spec.name.clone(),
        }
    }

    pub fn provider(&self) -> Provider {
        match self {
            ResolvedTarget::LocalHost(_) | ResolvedTarget::SshHost(_) => Provider::Linux,
            ResolvedTarget::AwsAccount(_) => Provider::Aws,
        }
    }

    /// Collects every fact of `keys` that applies to this target's provider
    /// (an SSH host within `ssh.host_timeout`, with its connection record).
    pub fn collect(
        &self,
        keys: &BTreeSet<FactKey>,
        runtime: &tokio::runtime::Runtime,
        ssh: &SshSettings,
    ) -> CollectedTarget {
        let facts = match self {
            ResolvedTarget::LocalHost(transport) => host::collect(transport, &Provider::Linux.own_keys(keys)),
            ResolvedTarget::AwsAccount(target) => {
                runtime.block_on(aws_collect::collect(target, &Provider::Aws.own_keys(keys)))
            }
            ResolvedTarget::SshHost(spec) => return collect_ssh(spec, ssh, keys),
        };
        let facts = TargetFacts {
            name: self.name(),
            provider: self.provider().name().to_owned(),
            facts: facts.into_iter().collect(),
        };
        CollectedTarget { facts, connection: None }
    }
}

/// Collects every target, `ssh.jobs` at a time, in the order given;
/// `on_done` is called as each target finishes.
pub fn collect_all(
    targets: &[ResolvedTarget],
    keys: &BTreeSet<FactKey>,
    runtime: &tokio::runtime::Runtime,
    ssh: &SshSettings,
    on_done: &(dyn Fn(&CollectedTarget) + Sync),
) -> Vec<CollectedTarget> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<CollectedTarget>>> = targets.iter().map(|_| Mutex::new(None)).collect();
    let workers = ssh.jobs.clamp(1, targets.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(target) = targets.get(index) else { break };
                let collected = target.collect(keys, runtime, ssh);
                on_done(&collected);
                *results[index].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(collected);
            });
        }
    });
    results
        .into_iter()
        .zip(targets)
        .map(|(slot, target)| {
            slot.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).unwrap_or_else(|| CollectedTarget {
                // A worker that panicked: the target's facts are unavailable, not missing.
                facts: TargetFacts {
                    name: target.name(),
                    provider: target.provider().name().to_owned(),
                    facts: Provider::Linux
                        .own_keys(keys)
                        .into_iter()
                        .map(|key| Fact::unavailable(key, "internal error while collecting", no_source()))
                        .collect(),
                },
                connection: None,
            })
        })
        .collect()
}

fn no_source() -> FactSource {
    FactSource::Composite { parts: Vec::new() }
}

/// Connects to one SSH host and collects its host facts within the host's
/// deadline; a failure makes every fact unavailable with its reason.
fn collect_ssh(spec: &SshSpec, settings: &SshSettings, keys: &BTreeSet<FactKey>) -> CollectedTarget {
    let started = Instant::now();
    let deadline = started + settings.host_timeout;
    let target = SshTarget {
        name: spec.name.clone(),
        host: spec.host.clone(),
        user: spec.user.clone(),
        port: spec.port,
        identity_file: spec.identity_file.clone(),
    };
    let address = target.address();
    let options = SshOptions {
        config_file: settings.config_file.clone(),
        accept_new_host_keys: settings.accept_new_host_keys,
        connect_timeout: settings.host_timeout.min(Duration::from_secs(15)),
        ..SshOptions::default()
    };
    let keys = Provider::Linux.own_keys(keys);
    let (facts, connection) = match SshTransport::connect(target, options, deadline) {
        Ok(transport) => {
            let facts = host::collect_with(&transport, &keys, spec.sudo);
            transport.close();
            let connection = HostConnection {
                address,
                connected: true,
                error: transport.lost_reason(),
                round_trips: transport.round_trips(),
                commands: transport.command_log(),
                seconds: started.elapsed().as_secs_f64(),
            };
            (facts, connection)
        }
        Err(error) => {
            let reason = error.to_string();
            let facts = keys.into_iter().map(|key| Fact::unavailable(key, reason.clone(), no_source())).collect();
            let connection = HostConnection {
                address,
                connected: false,
                error: Some(reason),
                round_trips: 0,
                commands: Vec::new(),
                seconds: started.elapsed().as_secs_f64(),
            };
            (facts, connection)
        }
    };
    CollectedTarget {
        facts: TargetFacts {
            name: spec.name.clone(),
            provider: Provider::Linux.name().to_owned(),
            facts: facts.into_iter().collect(),
        },
        connection: Some(connection),
    }
}

/// Connects to a target: for AWS, resolves credentials, asks STS who they
/// belong to and lists the regions, so that bad credentials stop the run
/// before anything is collected.
pub fn connect(spec: &TargetSpec, runtime: &tokio::runtime::Runtime) -> Result<ResolvedTarget, TargetError> {
    match spec {
        TargetSpec::LocalHost => Ok(ResolvedTarget::LocalHost(LocalTransport::new())),
        TargetSpec::Aws(aws) => runtime.block_on(connect_aws(aws)).map(|t| ResolvedTarget::AwsAccount(Box::new(t))),
        TargetSpec::Ssh(spec) => Ok(ResolvedTarget::SshHost(Box::new(spec.clone()))),
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
    let partition = aws_collect::partition_of_arn(&caller_arn);
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
