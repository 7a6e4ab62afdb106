//! The error that stops a command (exit code 2): its typed cause, kept to the
//! end, and the `help:` lines that say what the user can do where there is
//! something to do. May import the error types of every module whose problem
//! stops a command; the commands return it and `main.rs` prints it.

use std::path::PathBuf;

use crate::catalog::plan::PlanError;
use crate::catalog::CatalogError;
use crate::config::ConfigError;
use crate::evidence::PackError;
use crate::facts::bundle::BundleError;
use crate::facts::provider::Provider;
use crate::facts::target::{TargetError, TargetKind};
use crate::history::HistoryError;
use crate::report::ReportError;
use crate::settings::{AwsSpec, SettingsError, TargetSpec};
use crate::waivers::WaiverError;

/// A problem that stops the run before or after evaluation (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    /// The audit's options and posture.toml do not make an audit.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// posture.toml (or `--config`), read by a command for its history.
    #[error(transparent)]
    Config(ConfigError),
    /// The content could not be loaded.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The waivers file is refused.
    #[error(transparent)]
    Waivers(WaiverError),
    /// The selection could not be planned: an unknown benchmark, no control selected.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A target could not be connected before collection (AWS credentials,
    /// identity, regions); `spec` is what was asked for, for the help.
    #[error("{error}")]
    Target { error: TargetError, spec: Box<TargetSpec> },
    /// A selected benchmark audits providers of which no target is part of
    /// the audit (`recorded`: the targets are a fact bundle's).
    #[error(
        "benchmark '{benchmark}' audits {} targets, and no {} target is part of this audit",
        providers.join(" and "),
        providers.join(" or ")
    )]
    MissingProvider { benchmark: String, providers: Vec<String>, recorded: bool },
    /// The audit would judge nothing: no target, or a target of a provider
    /// posture has no checks for.
    #[error("{0}")]
    NothingToJudge(String),
    /// The report templates (`--templates`) could not be loaded.
    #[error(transparent)]
    Templates(ReportError),
    /// The fact bundle (`--facts`) could not be read.
    #[error(transparent)]
    FactBundle(#[from] BundleError),
    /// The signing key (`--sign`) could not be read.
    #[error("--sign: {0}")]
    SigningKey(PackError),
    /// An evidence pack or its keys could not be read or written, or the
    /// output folder is not posture's to write into.
    #[error(transparent)]
    Pack(PackError),
    /// The history could not be read.
    #[error("history: {0}")]
    History(#[from] HistoryError),
    /// The history file a reading command was pointed at does not exist.
    #[error("history: {}: no history there yet (every `posture audit` records into it)", .0.display())]
    NoHistory(PathBuf),
    /// `explain` of an id that is neither a check's nor a control's.
    #[error("'{0}' is neither a check id nor a control id of any benchmark")]
    UnknownId(String),
    /// A command-line value its command refuses, with the reason
    /// (`--limit 0`, a `--since` that is no duration).
    #[error("{0}")]
    Argument(String),
    /// The async runtime (for the AWS SDK) could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The reports could not be written.
    #[error("{0}")]
    Output(String),
}

/// Where the control ids a pattern can name are listed.
const LIST_CONTROLS_HELP: &str = "`posture list controls --benchmark ID` lists the control ids of a benchmark";

/// Where the waivers file comes from, for a waivers file that cannot be read.
const WAIVERS_FILE_HELP: &str =
    "the waivers file is named by --waivers, or by `waivers = \"...\"` in posture.toml (relative to that file)";

impl Fatal {
    /// What the user can do about the problem, one line each (printed as
    /// `help:` lines); empty where the message already says it all.
    pub fn help(&self) -> Vec<String> {
        match self {
            Fatal::Settings(error) => settings_help(error),
            Fatal::Config(problem) => config_help(problem),
            Fatal::Waivers(problem) if problem.line.is_none() => vec![WAIVERS_FILE_HELP.to_owned()],
            Fatal::Plan(PlanError::UnknownBenchmark { .. }) => {
                vec!["`posture list benchmarks` lists the benchmarks; --content DIR adds benchmarks of your own"
                    .to_owned()]
            }
            Fatal::Plan(PlanError::BrokenBenchmark { .. }) => {
                vec!["`posture validate` lists every content problem with its file and line".to_owned()]
            }
            Fatal::Plan(PlanError::NothingSelected { .. }) => vec![LIST_CONTROLS_HELP.to_owned()],
            Fatal::Plan(PlanError::Profile(_) | PlanError::EmptyProfile { .. }) => {
                vec!["`posture list benchmarks` shows each benchmark's profiles, levels and host roles; --benchmark \
                 chooses the benchmarks"
                    .to_owned()]
            }
            Fatal::Plan(PlanError::UnmatchedPatterns(unmatched)) => {
                let mut help = vec![LIST_CONTROLS_HELP.to_owned()];
                if unmatched.iter().any(|u| !u.outside_profile.is_empty()) {
                    help.push(
                        "--level and --host-role choose the profile (--level 2 takes in Level 1); `posture explain \
                         ID` shows a control's profiles"
                            .to_owned(),
                    );
                }
                if unmatched.iter().any(|u| u.unselected_benchmark.is_some()) {
                    help.push(
                        "a pattern BENCHMARK:ID applies to that benchmark only: select it with --benchmark, or \
                         leave the qualifier out"
                            .to_owned(),
                    );
                }
                help
            }
            Fatal::Target { error, spec } => target_help(error, spec),
            Fatal::MissingProvider { providers, recorded: false, .. } => {
                let targets: Vec<String> = providers
                    .iter()
                    .map(|name| match Provider::from_name(name) {
                        Some(Provider::Linux) => {
                            "`--target local` (this machine) or `--target ssh://[user@]host[:port]`".to_owned()
                        }
                        Some(Provider::Aws) => "`--target aws` (an AWS account)".to_owned(),
                        None => format!("a {name} target"),
                    })
                    .collect();
                vec![format!(
                    "add {} to the audit, or choose another benchmark with --benchmark",
                    targets.join(", or ")
                )]
            }
            Fatal::MissingProvider { recorded: true, .. } => vec![
                "choose a benchmark of the bundle's targets with --benchmark (`posture list benchmarks` shows each \
                 one's providers)"
                    .to_owned(),
            ],
            Fatal::NoHistory(_) => {
                vec!["choose another with --history, POSTURE_HISTORY or `history = \"...\"` in posture.toml".to_owned()]
            }
            Fatal::UnknownId(_) => {
                vec!["`posture list checks` lists the check ids, `posture list controls` the control ids".to_owned()]
            }
            _ => Vec::new(),
        }
    }
}

fn settings_help(error: &SettingsError) -> Vec<String> {
    let help = match error {
        SettingsError::UnknownTarget(_) => target_forms(),
        SettingsError::BadSshTarget(_) => {
            "an SSH target is `ssh://[user@]host[:port]`, an IPv6 address in brackets (`ssh://[::1]:22`)".to_owned()
        }
        SettingsError::UnknownTag(_) => {
            "a tag is one of the `tags = [...]` of the ssh targets of posture.toml's [[targets]]".to_owned()
        }
        SettingsError::UnknownFormat(_) | SettingsError::NoFormat => format!(
            "the formats are {} (`posture list formats` says what each one writes)",
            crate::report::format::FORMATS.iter().map(|format| format.name).collect::<Vec<_>>().join(", ")
        ),
        SettingsError::AwsOptionsWithoutAws => "add `--target aws`, or leave these options out".to_owned(),
        SettingsError::BadRegion(_) => "a region name is like `us-east-1` or `eu-west-1`".to_owned(),
        SettingsError::WaiversFile(..) => WAIVERS_FILE_HELP.to_owned(),
        SettingsError::Config(problem) => return config_help(problem),
        _ => return Vec::new(),
    };
    vec![help]
}

/// Every form `--target` takes (see `AuditSettings::resolve`).
fn target_forms() -> String {
    let kinds: Vec<String> =
        TargetKind::ALL.iter().map(|kind| format!("`{}` ({})", kind.cli_form(), kind.description())).collect();
    format!(
        "a target is {}, `tag:TAG` (posture.toml's targets with that tag), or the name of a target or group of \
         posture.toml's [[targets]]",
        kinds.join(", ")
    )
}

/// A configuration file that cannot be read is one the user named, or
/// posture.toml; a problem at a line says where it is already.
fn config_help(problem: &ConfigError) -> Vec<String> {
    match problem.line {
        Some(_) => Vec::new(),
        None => vec![format!(
            "--config names the configuration file; without it, {} of the working directory is read when there is one",
            crate::config::DEFAULT_FILE
        )],
    }
}

fn target_help(error: &TargetError, spec: &TargetSpec) -> Vec<String> {
    match (error, spec) {
        (TargetError::AwsRegions(_), _) => vec![
            "without --regions, posture lists the account's regions with ec2:DescribeRegions: allow it, or name the \
             regions with --regions (or `regions = [...]` in posture.toml)"
                .to_owned(),
        ],
        (TargetError::AwsProfile(_), _) => vec![
            "`aws configure list-profiles` lists the profiles; `aws configure --profile NAME` or `aws configure sso` \
             creates one, or pass another --profile"
                .to_owned(),
        ],
        (TargetError::AwsIdentity(_) | TargetError::AwsNoCredentials(_), TargetSpec::Aws(aws)) => credentials_help(aws),
        (TargetError::AwsIdentity(_) | TargetError::AwsNoCredentials(_), _) => Vec::new(),
    }
}

/// Where the credentials of an AWS target come from, for a target whose
/// identity could not be had (STS GetCallerIdentity, the first call).
fn credentials_help(aws: &AwsSpec) -> Vec<String> {
    let mut help = vec![match &aws.profile {
        Some(profile) => format!(
            "the credentials are those of the profile '{profile}': check it in ~/.aws/config and ~/.aws/credentials \
             (for an SSO profile, run `aws sso login --profile {profile}` first), or pass another --profile"
        ),
        None => "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass --profile (for an SSO profile, \
                 run `aws sso login` first)"
            .to_owned(),
    }];
    if let Some(role) = &aws.role_arn {
        help.push(format!(
            "the role {role} is assumed with those credentials: they need sts:AssumeRole on it, and its trust policy \
             must accept them{}",
            if aws.external_id.is_some() { " with this --external-id" } else { "" }
        ));
    }
    help
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::located::Located;

    fn aws_failure(error: TargetError, aws: AwsSpec) -> Fatal {
        Fatal::Target { error, spec: Box::new(TargetSpec::Aws(aws)) }
    }

    #[test]
    fn a_missing_or_rejected_aws_credential_says_where_credentials_come_from() {
        let missing = aws_failure(
            TargetError::AwsIdentity(
                "sts GetCallerIdentity in us-east-1: no AWS credentials found: tried environment, profile, SSO".into(),
            ),
            AwsSpec::default(),
        );
        assert!(missing.to_string().starts_with("AWS: sts GetCallerIdentity"), "{missing}");
        assert_eq!(
            missing.help(),
            ["set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass --profile (for an SSO profile, run \
              `aws sso login` first)"]
        );
        let rejected = aws_failure(
            TargetError::AwsIdentity(
                "sts GetCallerIdentity in us-east-1: credentials rejected (InvalidClientTokenId)".into(),
            ),
            AwsSpec {
                profile: Some("audit".into()),
                role_arn: Some("arn:aws:iam::123456789012:role/Auditor".into()),
                external_id: Some("X".into()),
                regions: vec!["eu-west-1".into()],
            },
        );
        let help = rejected.help();
        assert_eq!(help.len(), 2, "{help:?}");
        assert!(help[0].contains("profile 'audit'") && help[0].contains("aws sso login --profile audit"), "{help:?}");
        assert!(help[1].contains("role/Auditor") && help[1].contains("--external-id"), "{help:?}");
    }

    #[test]
    fn regions_that_cannot_be_listed_point_at_regions() {
        let denied = aws_failure(
            TargetError::AwsRegions("ec2 DescribeRegions in us-east-1: access denied (UnauthorizedOperation)".into()),
            AwsSpec::default(),
        );
        let help = denied.help();
        assert!(help.len() == 1 && help[0].contains("--regions"), "{help:?}");
    }

    #[test]
    fn an_unknown_benchmark_names_the_listing() {
        let unknown = Fatal::from(PlanError::UnknownBenchmark { id: "nope".into(), known: "a, b".into() });
        assert_eq!(unknown.to_string(), "unknown benchmark 'nope' (known: a, b)");
        assert_eq!(unknown.help().len(), 1);
        assert!(
            unknown.help()[0].starts_with("`posture list benchmarks` lists the benchmarks"),
            "{:?}",
            unknown.help()
        );
    }

    #[test]
    fn bad_targets_and_formats_list_what_exists() {
        let target = Fatal::from(SettingsError::UnknownTarget("gcp".into()));
        assert_eq!(target.to_string(), "--target gcp: unknown target");
        let help = target.help().join("\n");
        for form in ["`local`", "`aws`", "`ssh://[user@]host[:port]`", "`tag:TAG`", "[[targets]]"] {
            assert!(help.contains(form), "{form} is missing from {help}");
        }
        let format = Fatal::from(SettingsError::UnknownFormat("pdf".into()));
        assert_eq!(format.to_string(), "--format: unknown format 'pdf'");
        let help = format.help().join("\n");
        for known in crate::report::format::FORMATS {
            assert!(help.contains(known.name), "{} is missing from {help}", known.name);
        }
        assert!(help.contains("`posture list formats`"), "{help}");
    }

    #[test]
    fn files_that_cannot_be_read_say_how_they_are_named_and_positioned_ones_need_no_help() {
        let waivers = Fatal::from(SettingsError::WaiversFile("w.toml".into(), "no such file".into()));
        assert_eq!(waivers.help(), [WAIVERS_FILE_HELP]);
        let unreadable = Fatal::Waivers(Located::new("w.toml", "cannot read the waivers file: denied"));
        assert_eq!(unreadable.help(), [WAIVERS_FILE_HELP]);
        let at_line = Fatal::Waivers(Located::new("w.toml", "expires must be a date").at(6, 11));
        assert_eq!(at_line.to_string(), "w.toml:6:11: expires must be a date");
        assert!(at_line.help().is_empty());
        let config = Fatal::from(SettingsError::Config(Located::new("fifo", "is a FIFO (named pipe), not a file")));
        assert_eq!(config.to_string(), "fifo: is a FIFO (named pipe), not a file");
        assert!(config.help()[0].starts_with("--config names the configuration file"), "{:?}", config.help());
        assert!(Fatal::Config(Located::new("posture.toml", "unknown field").at(3, 1)).help().is_empty());
    }

    #[test]
    fn a_benchmark_without_its_targets_says_which_to_add() {
        let live = Fatal::MissingProvider {
            benchmark: "cis-aws-foundations-v3.0.0".into(),
            providers: vec!["aws".into()],
            recorded: false,
        };
        assert_eq!(
            live.to_string(),
            "benchmark 'cis-aws-foundations-v3.0.0' audits aws targets, and no aws target is part of this audit"
        );
        assert!(live.help()[0].starts_with("add `--target aws`"), "{:?}", live.help());
        let recorded = Fatal::MissingProvider {
            benchmark: "pci-dss-v4.0.1".into(),
            providers: vec!["aws".into()],
            recorded: true,
        };
        assert!(recorded.help()[0].contains("--benchmark"), "{:?}", recorded.help());
    }
}
