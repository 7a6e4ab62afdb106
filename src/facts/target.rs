//! Targets, behind the provider seam: what the user asked to audit
//! ([`TargetSpec`], named by a [`TargetKind`] in `--target` and
//! `[[targets]] type`), connected ([`ResolvedTarget`]: an AWS account's
//! credentials checked and identity known), and collected
//! ([`collect_all`] -> [`TargetFacts`], each with the evidence of how: an SSH
//! host's connection record, an AWS account's API call log). The local host
//! goes through the host collectors over a [`LocalTransport`]; a remote host
//! over an [`SshTransport`]; an AWS account through the standard credential
//! chain (environment, profile, SSO, web identity, container and instance
//! roles, optionally a role to assume) and the AWS collectors.
//!
//! [`collect_all`] collects several targets at once (`--jobs`), each SSH host
//! within its own deadline (`--host-timeout`). A host that cannot be reached,
//! refuses the login, rejects its host key, times out or is lost mid-run
//! gets every fact unavailable with that reason, so its checks give `error`
//! findings, while every other target completes. May import the provider
//! collectors (`host`, `aws`), fact types and `regular_file`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::aws::calls::{CallLog, CallSummary};
use super::aws::collect::{self as aws_collect, AwsTarget};
use super::aws::credentials;
use super::host::ssh::CommandRecord;
use super::host::{self, LocalTransport, SshOptions, SshTarget, SshTransport, Transport};
use super::provider::Provider;
use super::{Fact, FactKey, FactSource, FactStore, FactValue};
use std::path::PathBuf;

/// Why a target could not be audited at all (credentials, identity, regions).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The credentials are missing or refused (STS GetCallerIdentity, the first call).
    #[error("AWS: {0}")]
    AwsIdentity(String),
    /// The account's regions could not be listed (EC2 DescribeRegions, without `--regions`).
    #[error("AWS: {0}")]
    AwsRegions(String),
    /// `--profile` names a profile no shared file defines.
    #[error("AWS: {0}")]
    AwsProfile(String),
    /// No source of the default credential chain gave credentials: each one
    /// tried, and what it held.
    #[error("AWS: {0}")]
    AwsNoCredentials(String),
}

/// One thing to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// The machine posture runs on.
    LocalHost,
    /// An AWS account, reached through the standard credential chain.
    Aws(AwsSpec),
    /// A host over SSH (`ssh://user@host:port`, or an inventory target).
    Ssh(SshSpec),
}

/// How to reach a host over SSH, and how the inventory names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshSpec {
    /// The target's name in reports: the inventory name, else `host` or `host:port`.
    pub name: String,
    /// What ssh is given: a host name, an address or a `Host` alias of the ssh configuration.
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
    /// Inventory tags (`--target tag:pci`).
    pub tags: Vec<String>,
    /// The inventory group it was listed in (`--target <group>`).
    pub group: Option<String>,
    /// Run the facts that need root through `sudo -n` (inventory `sudo = true`, or `--sudo`).
    pub sudo: bool,
}

impl SshSpec {
    /// `[user@]host[:port]` (IPv6 addresses in brackets), as in
    /// `ssh://[user@]host[:port]` and inventory `hosts` entries.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim().trim_end_matches('/');
        let (user, rest) = match raw.rsplit_once('@') {
            Some((user, rest)) if !user.is_empty() => (Some(user.to_owned()), rest),
            Some(_) => return Err(format!("'{raw}': empty user name")),
            None => (None, raw),
        };
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or_else(|| format!("'{raw}': missing ']'"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(format!("'{raw}': unexpected '{after}' after the address")),
            }
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if host.is_empty() || host.contains(['/', ' ', '@']) || host.starts_with('-') {
            return Err(format!("'{raw}': not a host name or address"));
        }
        let port = match port {
            Some(port) => Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("'{raw}': '{port}' is not a port"))?,
            ),
            None => None,
        };
        let name = match port {
            Some(port) if host.contains(':') => format!("[{host}]:{port}"),
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Ok(Self { name, host: host.to_owned(), user, port, ..Self::default() })
    }
}

/// The kinds of target a user names: in `--target` (`local`, `aws`,
/// `ssh://...`) and as `[[targets]] type` in posture.toml. Each kind's
/// options are resolved by settings and config; which kinds exist, and the
/// provider each is audited as, is said here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Local,
    Aws,
    Ssh,
}

impl TargetKind {
    pub const ALL: [TargetKind; 3] = [TargetKind::Local, TargetKind::Aws, TargetKind::Ssh];

    /// The name in `[[targets]] type = "..."`.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Local => "local",
            TargetKind::Aws => "aws",
            TargetKind::Ssh => "ssh",
        }
    }

    pub fn from_name(name: &str) -> Option<TargetKind> {
        TargetKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The provider its targets are audited as.
    pub fn provider(self) -> Provider {
        match self {
            TargetKind::Local | TargetKind::Ssh => Provider::Linux,
            TargetKind::Aws => Provider::Aws,
        }
    }

    /// How `--target` names it, for messages.
    pub fn cli_form(self) -> &'static str {
        match self {
            TargetKind::Local => "local",
            TargetKind::Aws => "aws",
            TargetKind::Ssh => "ssh://[user@]host[:port]",
        }
    }

    /// What a target of this kind is, for messages.
    pub fn description(self) -> &'static str {
        match self {
            TargetKind::Local => "this machine",
            TargetKind::Aws => "the AWS account of your credentials",
            TargetKind::Ssh => "a host over SSH",
        }
    }

    /// The kind a `--target` value names, with what follows the kind (the
    /// `[USER@]HOST[:PORT]` of `ssh://...`, empty otherwise).
    pub fn of_cli(raw: &str) -> Option<(TargetKind, &str)> {
        match raw {
            "local" | "localhost" => Some((TargetKind::Local, "")),
            "aws" => Some((TargetKind::Aws, "")),
            _ => raw.strip_prefix("ssh://").map(|address| (TargetKind::Ssh, address)),
        }
    }
}

/// How SSH targets are reached and collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSettings {
    /// `--ssh-config`: an ssh configuration file instead of ~/.ssh/config.
    pub config_file: Option<PathBuf>,
    /// `--identity-file`: the key of targets that name none.
    pub identity_file: Option<PathBuf>,
    pub accept_new_host_keys: bool,
    /// `--sudo`: every SSH target runs the facts that need root through `sudo -n`.
    pub sudo: bool,
    /// Targets collected at once.
    pub jobs: usize,
    /// A host's connecting and collecting together.
    pub host_timeout: Duration,
}

/// Targets collected at once when `--jobs` is not given.
pub const DEFAULT_JOBS: usize = 16;
/// `--host-timeout` when not given.
pub const DEFAULT_HOST_TIMEOUT: Duration = Duration::from_secs(300);

impl Default for SshSettings {
    fn default() -> Self {
        Self {
            config_file: None,
            identity_file: None,
            accept_new_host_keys: false,
            sudo: false,
            jobs: DEFAULT_JOBS,
            host_timeout: DEFAULT_HOST_TIMEOUT,
        }
    }
}

/// How to reach an AWS account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSpec {
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// Empty: every region enabled for the account.
    pub regions: Vec<String>,
}

/// One audited target: its collected (or recorded) facts, and the
/// evidence of how they were collected.
#[derive(Debug, Clone)]
pub struct TargetFacts {
    pub name: String,
    /// Which checks apply.
    pub provider: Provider,
    pub facts: FactStore,
    /// For an SSH host: how the connection went.
    pub connection: Option<HostConnection>,
    /// For an AWS account: the API calls its collection made.
    pub api_calls: Option<CallSummary>,
}

impl TargetFacts {
    /// A target read from a bundle or a pack: facts only.
    pub fn recorded(name: String, provider: Provider, facts: FactStore) -> Self {
        Self { name, provider, facts, connection: None, api_calls: None }
    }

    /// What identifies the target beside its name, as far as its facts say.
    pub fn identity(&self) -> TargetIdentity {
        let value = |key: &str| match self.facts.get(&FactKey::new(key)).map(|fact| &fact.value) {
            Some(FactValue::Available { value }) => Some(value.clone()),
            _ => None,
        };
        match self.provider {
            Provider::Aws => {
                let account = value("aws.account");
                TargetIdentity {
                    account_id: account.as_ref().and_then(|a| a["account_id"].as_str()).map(str::to_owned),
                    regions: account
                        .as_ref()
                        .and_then(|a| a["regions"].as_array())
                        .map(|regions| regions.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default(),
                    host: None,
                }
            }
            Provider::Linux => {
                let host_name = value("host.os").and_then(|os| os.get("hostname")?.as_str().map(str::to_owned));
                TargetIdentity { account_id: None, regions: Vec::new(), host: host_name.or(Some(self.name.clone())) }
            }
        }
    }
}

/// What identifies a target beside its name (see [`TargetFacts::identity`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetIdentity {
    /// An AWS account's id.
    pub account_id: Option<String>,
    /// An AWS account's audited regions.
    pub regions: Vec<String>,
    /// A host's name (from `host.os`, else the target's name).
    pub host: Option<String>,
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

impl ResolvedTarget {
    pub fn name(&self) -> String {
        match self {
            ResolvedTarget::LocalHost(transport) => host_name(transport),
            ResolvedTarget::AwsAccount(target) => target.account_id.clone(),
            ResolvedTarget::SshHost(spec) => spec.name.clone(),
        }
    }

    pub fn provider(&self) -> Provider {
        let kind = match self {
            ResolvedTarget::LocalHost(_) => TargetKind::Local,
            ResolvedTarget::AwsAccount(_) => TargetKind::Aws,
            ResolvedTarget::SshHost(_) => TargetKind::Ssh,
        };
        kind.provider()
    }

    /// Collects every fact of `keys` that applies to this target's provider
    /// (an SSH host within `ssh.host_timeout`, with its connection record;
    /// an AWS account with the log of its API calls).
    pub fn collect(
        &self,
        keys: &BTreeSet<FactKey>,
        runtime: &tokio::runtime::Runtime,
        ssh: &SshSettings,
    ) -> TargetFacts {
        let own = self.provider().own_keys(keys);
        match self {
            ResolvedTarget::LocalHost(transport) => TargetFacts::recorded(
                self.name(),
                self.provider(),
                host::collect(transport, &own).into_iter().collect(),
            ),
            ResolvedTarget::AwsAccount(target) => {
                let facts = runtime.block_on(aws_collect::collect(target, &own));
                TargetFacts {
                    api_calls: Some(target.calls.summary()),
                    ..TargetFacts::recorded(self.name(), self.provider(), facts.into_iter().collect())
                }
            }
            ResolvedTarget::SshHost(spec) => collect_ssh(spec, ssh, &own),
        }
    }
}

/// Collects every target, `ssh.jobs` at a time, in the order given;
/// `on_done` is called as each target finishes.
pub fn collect_all(
    targets: &[ResolvedTarget],
    keys: &BTreeSet<FactKey>,
    runtime: &tokio::runtime::Runtime,
    ssh: &SshSettings,
    on_done: &(dyn Fn(&TargetFacts) + Sync),
) -> Vec<TargetFacts> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<TargetFacts>>> = targets.iter().map(|_| Mutex::new(None)).collect();
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
            slot.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).unwrap_or_else(|| {
                // A worker that panicked: the target's facts are unavailable, not missing.
                let facts = target
                    .provider()
                    .own_keys(keys)
                    .into_iter()
                    .map(|key| Fact::unavailable(key, "internal error while collecting", no_source()))
                    .collect();
                TargetFacts::recorded(target.name(), target.provider(), facts)
            })
        })
        .collect()
}

fn no_source() -> FactSource {
    FactSource::Composite { parts: Vec::new() }
}

/// Connects to one SSH host and collects its host facts within the host's
/// deadline; a failure makes every fact unavailable with its reason.
fn collect_ssh(spec: &SshSpec, settings: &SshSettings, keys: &BTreeSet<FactKey>) -> TargetFacts {
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
    let (facts, connection) = match SshTransport::connect(target, options, deadline) {
        Ok(transport) => {
            let facts = host::collect_with(&transport, keys, spec.sudo);
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
            let facts = keys.iter().map(|key| Fact::unavailable(key.clone(), reason.clone(), no_source())).collect();
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
    TargetFacts {
        connection: Some(connection),
        ..TargetFacts::recorded(spec.name.clone(), Provider::Linux, facts.into_iter().collect())
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
        if let Some(problem) = credentials::undefined_profile(profile) {
            return Err(TargetError::AwsProfile(problem));
        }
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
    let calls = CallLog::new();
    let (account_id, caller_arn) = aws_collect::caller_identity(&config, &calls).await.map_err(|reason| {
        // The SDK words a chain that found nothing after its last source (often
        // the instance metadata service): when nothing is configured, say
        // instead what each source held. A configured source keeps the SDK's
        // reason (an expired SSO session, a rejected key).
        let unconfigured = (spec.role_arn.is_none() && credentials::is_credentials_failure(&reason))
            .then(|| credentials::nothing_configured(spec.profile.as_deref()))
            .flatten();
        match unconfigured {
            Some(tried) => TargetError::AwsNoCredentials(tried),
            None => TargetError::AwsIdentity(reason),
        }
    })?;
    let partition = aws_collect::partition_of_arn(&caller_arn);
    let regions = if spec.regions.is_empty() {
        aws_collect::enabled_regions(&config, &calls).await.map_err(TargetError::AwsRegions)?
    } else {
        spec.regions.clone()
    };
    Ok(AwsTarget { config, account_id, caller_arn, partition, regions, calls })
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
