//! Settings: everything the audit needs, resolved once from the command line,
//! so that bad input fails here, before any fact is collected.

use std::path::PathBuf;
use std::time::Duration;

use crate::catalog::plan::{ControlPattern, Selection};
use crate::cli::{AuditArgs, FailOnArg, Format};
use crate::finding::Severity;
use crate::results::FailOn;
use crate::script::Limits;

/// The benchmark audited when none is named, for a target provider.
pub fn default_benchmark(provider: &str) -> Option<&'static str> {
    match provider {
        "linux" => Some("cis-debian-linux-12"),
        "aws" => Some("cis-aws-foundations-v3.0.0"),
        _ => None,
    }
}

/// One thing to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// The machine posture runs on.
    LocalHost,
    /// An AWS account, reached through the standard credential chain.
    Aws(AwsSpec),
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

/// Where the facts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactsInput {
    /// Collect from these targets.
    Targets(Vec<TargetSpec>),
    /// Evaluate a recorded bundle.
    Bundle(PathBuf),
}

#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub content_dirs: Vec<PathBuf>,
    pub selection: Selection,
    pub out: PathBuf,
    pub formats: Vec<Format>,
    pub fail_on: FailOn,
    pub facts: FactsInput,
    pub save_facts: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    pub limits: Limits,
    pub progress_bar: bool,
    pub quiet: bool,
    pub timings: bool,
    /// The waivers file (`--waivers` or posture.toml), checked before collection.
    pub waivers: Option<PathBuf>,
    /// The key signing the evidence pack's manifest (`--sign`).
    pub signing_key: Option<PathBuf>,
    /// Where to write the evidence pack as one archive (`--pack`).
    pub pack_archive: Option<PathBuf>,
    /// The audit history to compare with and record into; `None` with `--no-history`.
    pub history: Option<crate::history::Location>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--controls/--skip: {0}")]
    Pattern(String),
    #[error("--templates {0}: not a directory")]
    Templates(String),
    #[error("--facts {0}: no such file")]
    FactsFile(String),
    #[error("waivers file {0}: no such file")]
    WaiversFile(String),
    #[error("--format: at least one format is needed")]
    NoFormat,
    #[error("{0} must be greater than zero")]
    ZeroLimit(&'static str),
    #[error("--target {0}: unknown target (expected `local` or `aws`)")]
    UnknownTarget(String),
    #[error("--regions {0}: not a region name")]
    BadRegion(String),
    #[error("--profile, --role-arn and --regions apply to `--target aws`")]
    AwsOptionsWithoutAws,
    #[error("{0}")]
    Config(crate::config::ConfigError),
    #[error("{0}")]
    History(String),
}

impl AuditSettings {
    pub fn resolve(args: AuditArgs, stderr_is_terminal: bool) -> Result<Self, SettingsError> {
        let patterns = |raw: &[String]| -> Result<Vec<ControlPattern>, SettingsError> {
            raw.iter()
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
                .map(|p| ControlPattern::parse(p).map_err(SettingsError::Pattern))
                .collect()
        };
        let mut targets = Vec::new();
        for raw in args.target.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            let target = match raw {
                "local" | "localhost" => TargetSpec::LocalHost,
                "aws" => TargetSpec::Aws(AwsSpec {
                    profile: args.aws.profile.clone(),
                    role_arn: args.aws.role_arn.clone(),
                    external_id: args.aws.external_id.clone(),
                    regions: args.aws.regions.iter().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect(),
                }),
                other => return Err(SettingsError::UnknownTarget(other.to_owned())),
            };
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        let has_aws = targets.iter().any(|t| matches!(t, TargetSpec::Aws(_)));
        let aws_options = args.aws.profile.is_some() || args.aws.role_arn.is_some() || !args.aws.regions.is_empty();
        if aws_options && !has_aws && args.facts.is_none() {
            return Err(SettingsError::AwsOptionsWithoutAws);
        }
        let project = match crate::config::locate(args.config.as_deref()) {
            Some(path) => crate::config::load(&path).map_err(SettingsError::Config)?,
            None => crate::config::ProjectConfig::default(),
        };
        if targets.is_empty() && args.facts.is_none() {
            targets = project.targets;
        }
        let waivers = args.waivers.clone().or(project.waivers);
        if let Some(path) = &waivers {
            if !path.is_file() {
                return Err(SettingsError::WaiversFile(path.display().to_string()));
            }
        }
        let history = if args.no_history {
            None
        } else {
            let config_path = crate::config::locate(args.config.as_deref());
            let configured = project.history.as_deref().zip(config_path.as_deref());
            let given = args.history.history.as_deref();
            Some(crate::history::Location::resolve(given, configured).map_err(SettingsError::History)?)
        };
        if targets.is_empty() {
            targets.push(TargetSpec::LocalHost);
        }
        for region in &args.aws.regions {
            let region = region.trim();
            if !crate::facts::aws::is_region_name(region) {
                return Err(SettingsError::BadRegion(region.to_owned()));
            }
        }
        // Empty: the default benchmark of each target's provider, chosen once
        // the targets are known (a fact bundle says which they are).
        let benchmarks = args.benchmark.clone();
        if let Some(dir) = &args.templates {
            if !dir.is_dir() {
                return Err(SettingsError::Templates(dir.display().to_string()));
            }
        }
        let facts = match &args.facts {
            Some(path) if !path.is_file() => return Err(SettingsError::FactsFile(path.display().to_string())),
            Some(path) => FactsInput::Bundle(path.clone()),
            None => FactsInput::Targets(targets),
        };
        let mut formats = args.format.clone();
        formats.dedup();
        if formats.is_empty() {
            return Err(SettingsError::NoFormat);
        }
        let mut limits = Limits::default();
        if let Some(ops) = args.max_operations {
            if ops == 0 {
                return Err(SettingsError::ZeroLimit("--max-operations"));
            }
            limits.max_operations = ops;
        }
        if let Some(seconds) = args.script_timeout {
            if seconds == 0 {
                return Err(SettingsError::ZeroLimit("--script-timeout"));
            }
            limits.max_duration = Duration::from_secs(seconds);
        }
        let fail_on = match args.fail_on {
            FailOnArg::None => FailOn::Never,
            FailOnArg::Info => FailOn::AtLeast(Severity::Info),
            FailOnArg::Low => FailOn::AtLeast(Severity::Low),
            FailOnArg::Medium => FailOn::AtLeast(Severity::Medium),
            FailOnArg::High => FailOn::AtLeast(Severity::High),
            FailOnArg::Critical => FailOn::AtLeast(Severity::Critical),
        };
        Ok(Self {
            content_dirs: args.content.content,
            selection: Selection { benchmarks, controls: patterns(&args.controls)?, skip: patterns(&args.skip)? },
            out: args.out,
            formats,
            fail_on,
            facts,
            save_facts: args.save_facts,
            templates: args.templates,
            limits,
            progress_bar: stderr_is_terminal && !args.no_progress && !args.quiet,
            quiet: args.quiet,
            timings: args.timings,
            waivers,
            signing_key: args.sign.clone(),
            pack_archive: args.pack.clone(),
            history,
        })
    }

    pub fn fail_on_label(&self) -> String {
        match self.fail_on {
            FailOn::Never => "none".to_owned(),
            FailOn::AtLeast(severity) => severity.to_string(),
        }
    }
}
