//! Settings: everything the audit needs, resolved once from the command line,
//! so that bad input fails here, before any fact is collected.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::applicability::OsMismatch;
use crate::catalog::plan::{ControlPattern, Selection};
use crate::catalog::profile::ProfileChoice;
use crate::cli::{AuditArgs, FailOnArg};
use crate::finding::Severity;
use crate::report::format::Format;
use crate::results::FailOn;
use crate::script::Limits;

use crate::facts::target::TargetKind;
pub use crate::facts::target::{AwsSpec, SshSettings, SshSpec, TargetSpec, DEFAULT_HOST_TIMEOUT, DEFAULT_JOBS};

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
    /// The formats to write, each once, in the order given.
    pub formats: Vec<&'static Format>,
    pub fail_on: FailOn,
    pub facts: FactsInput,
    pub save_facts: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    pub limits: Limits,
    /// The longest one report may take to render (`--render-timeout`).
    pub render_timeout: Duration,
    pub progress_bar: bool,
    pub quiet: bool,
    /// Colour in the terminal summary: stdout is a terminal and `NO_COLOR`
    /// is unset or empty.
    pub colour: bool,
    pub timings: bool,
    /// The waivers file (`--waivers` or posture.toml), checked before collection.
    pub waivers: Option<PathBuf>,
    /// The key signing the evidence pack's manifest (`--sign`).
    pub signing_key: Option<PathBuf>,
    /// Where to write the evidence pack as one archive (`--pack`).
    pub pack_archive: Option<PathBuf>,
    /// The audit history to compare with and record into; `None` with `--no-history`.
    pub history: Option<crate::history::Location>,
    /// How SSH targets are reached, and how many targets are collected at once.
    pub ssh: SshSettings,
    /// What becomes of a host whose OS is not its benchmark's
    /// (`--ignore-os-mismatch` or posture.toml's `ignore_os_mismatch`).
    pub os_mismatch: OsMismatch,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--controls/--skip: {0}")]
    Pattern(String),
    #[error("--templates {0}: {1}")]
    Templates(String, String),
    #[error("--facts {0}: {1}")]
    FactsFile(String, String),
    #[error("waivers file {0}: {1}")]
    WaiversFile(String, String),
    #[error("--format: at least one format is needed")]
    NoFormat,
    #[error("--format: unknown format '{0}'")]
    UnknownFormat(String),
    #[error("{flag} {value}: out of range (accepted: {min} to {max}{unit})")]
    OutOfRange { flag: &'static str, value: u64, min: u64, max: u64, unit: &'static str },
    /// The forms a target takes are the fatal error's help (see `fatal.rs`).
    #[error("--target {0}: unknown target")]
    UnknownTarget(String),
    #[error("--target {0}")]
    BadSshTarget(String),
    #[error("--target {0}: no target of posture.toml's [[targets]] has this tag")]
    UnknownTag(String),
    #[error("two different targets are named '{0}': give them distinct names in posture.toml")]
    DuplicateTargetName(String),
    #[error("--{0} {1}: {2}")]
    MissingFile(&'static str, String, String),
    #[error("--regions {0}: not a region name")]
    BadRegion(String),
    #[error("--profile, --role-arn and --regions apply to `--target aws`")]
    AwsOptionsWithoutAws,
    #[error("{0}")]
    Config(crate::config::ConfigError),
    #[error("{0}")]
    History(String),
    /// Two output paths that would overwrite each other or the output folder.
    #[error("{0}")]
    OutputPaths(String),
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
        let project = match crate::config::locate(args.config.as_deref()) {
            Some(path) => crate::config::load(&path).map_err(SettingsError::Config)?,
            None => crate::config::ProjectConfig::default(),
        };
        let mut targets = Vec::new();
        for raw in args.target.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            let selected = select_inventory(raw, &project.targets)?;
            if !selected.is_empty() {
                for target in selected {
                    if !targets.contains(&target) {
                        targets.push(target);
                    }
                }
                continue;
            }
            let target = match TargetKind::of_cli(raw) {
                Some((TargetKind::Local, _)) => TargetSpec::LocalHost,
                Some((TargetKind::Aws, _)) => TargetSpec::Aws(AwsSpec {
                    profile: args.aws.profile.clone(),
                    role_arn: args.aws.role_arn.clone(),
                    external_id: args.aws.external_id.clone(),
                    regions: args.aws.regions.iter().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect(),
                }),
                Some((TargetKind::Ssh, address)) => {
                    TargetSpec::Ssh(SshSpec::parse(address).map_err(SettingsError::BadSshTarget)?)
                }
                None => return Err(SettingsError::UnknownTarget(raw.to_owned())),
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
        if targets.is_empty() && args.facts.is_none() {
            targets = project.targets.clone();
        }
        let ssh = ssh_settings(&args.ssh)?;
        for target in &mut targets {
            if let TargetSpec::Ssh(spec) = target {
                spec.sudo |= ssh.sudo;
                if spec.identity_file.is_none() {
                    spec.identity_file.clone_from(&ssh.identity_file);
                }
            }
        }
        check_unique_names(&targets)?;
        let waivers = args.waivers.clone().or(project.waivers);
        // A pipe is allowed: `--waivers <(...)` gives one.
        if let Some(path) = &waivers {
            if let Some(problem) = crate::paths::file_problem(path, true) {
                return Err(SettingsError::WaiversFile(path.display().to_string(), problem));
            }
        }
        if let Some(path) = &args.sign {
            if let Some(problem) = crate::paths::file_problem(path, false) {
                return Err(SettingsError::MissingFile("sign", path.display().to_string(), problem));
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
            if let Some(problem) = crate::paths::dir_problem(dir) {
                return Err(SettingsError::Templates(dir.display().to_string(), problem));
            }
        }
        let facts = match &args.facts {
            Some(path) => match crate::paths::file_problem(path, false) {
                Some(problem) => return Err(SettingsError::FactsFile(path.display().to_string(), problem)),
                None => FactsInput::Bundle(path.clone()),
            },
            None => FactsInput::Targets(targets),
        };
        let mut formats: Vec<&'static Format> = Vec::new();
        for name in &args.format {
            let format =
                crate::report::format::by_name(name).ok_or_else(|| SettingsError::UnknownFormat(name.clone()))?;
            if !formats.iter().any(|known| known.name == format.name) {
                formats.push(format);
            }
        }
        if formats.is_empty() {
            return Err(SettingsError::NoFormat);
        }
        let mut limits = Limits::default();
        if let Some(ops) = args.max_operations {
            limits.max_operations = in_range("--max-operations", ops, 1, u64::MAX, "")?;
        }
        if let Some(seconds) = args.script_timeout {
            limits.max_duration =
                Duration::from_secs(in_range("--script-timeout", seconds, 1, MAX_TIMEOUT_SECONDS, " seconds")?);
        }
        let render_timeout = render_timeout(args.render_timeout)?;
        let fail_on = match args.fail_on {
            FailOnArg::None => FailOn::Never,
            FailOnArg::Info => FailOn::AtLeast(Severity::Info),
            FailOnArg::Low => FailOn::AtLeast(Severity::Low),
            FailOnArg::Medium => FailOn::AtLeast(Severity::Medium),
            FailOnArg::High => FailOn::AtLeast(Severity::High),
            FailOnArg::Critical => FailOn::AtLeast(Severity::Critical),
        };
        let history_file = match &history {
            Some(crate::history::Location::Sqlite(path)) => Some(path.as_path()),
            _ => None,
        };
        check_output_paths(&args.out, args.save_facts.as_deref(), args.pack.as_deref(), history_file)?;
        Ok(Self {
            content_dirs: args.content.content,
            selection: Selection {
                benchmarks,
                profile: ProfileChoice {
                    level: args.level.map(crate::cli::LevelArg::number).or(project.level),
                    host_role: args.host_role.as_deref().map(|role| role.trim().to_owned()).or(project.host_role),
                },
                controls: patterns(&args.controls)?,
                skip: patterns(&args.skip)?,
            },
            out: args.out,
            formats,
            fail_on,
            facts,
            save_facts: args.save_facts,
            templates: args.templates,
            limits,
            render_timeout,
            progress_bar: stderr_is_terminal && !args.no_progress && !args.quiet,
            quiet: args.quiet,
            colour: std::io::IsTerminal::is_terminal(&std::io::stdout())
                && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()),
            timings: args.timings,
            waivers,
            signing_key: args.sign.clone(),
            pack_archive: args.pack.clone(),
            history,
            ssh,
            os_mismatch: if args.ignore_os_mismatch || project.ignore_os_mismatch {
                OsMismatch::Ignore
            } else {
                OsMismatch::Refuse
            },
        })
    }

    /// The label of `--fail-on`.
    pub fn fail_on_label(&self) -> String {
        match self.fail_on {
            FailOn::Never => "none".to_owned(),
            FailOn::AtLeast(severity) => severity.to_string(),
        }
    }
}

/// Refuses output paths that would overwrite each other or land in the
/// output folder (posture's alone, replaced whole by each audit):
/// `--save-facts`, `--pack` and the history file must be outside `--out`
/// and distinct.
fn check_output_paths(
    out: &Path,
    save_facts: Option<&Path>,
    pack: Option<&Path>,
    history: Option<&Path>,
) -> Result<(), SettingsError> {
    let out_resolved = resolved(out);
    let named = [("--save-facts", save_facts), ("--pack", pack), ("--history", history)];
    let given: Vec<(&str, &Path, PathBuf)> =
        named.iter().filter_map(|(flag, path)| path.map(|p| (*flag, p, resolved(p)))).collect();
    for (flag, path, resolved) in &given {
        if resolved.starts_with(&out_resolved) {
            return Err(SettingsError::OutputPaths(format!(
                "{flag} {}: inside the output folder --out {} (posture's alone, replaced whole by each audit): \
                 give a path outside it",
                path.display(),
                out.display()
            )));
        }
        if out_resolved.starts_with(resolved) {
            return Err(SettingsError::OutputPaths(format!(
                "{flag} {}: the output folder --out {} is at or below it: give a file path outside --out",
                path.display(),
                out.display()
            )));
        }
    }
    for (index, (flag, path, resolved)) in given.iter().enumerate() {
        if let Some((other, _, _)) = given[index + 1..].iter().find(|(_, _, r)| r == resolved) {
            return Err(SettingsError::OutputPaths(format!(
                "{flag} and {other} both name {}: give each its own file",
                path.display()
            )));
        }
    }
    Ok(())
}

/// `path` made absolute, its existing part with links resolved and the
/// rest normalised, so that two spellings of one place compare equal.
fn resolved(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute =
        if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let mut existing = absolute.clone();
    let mut missing = Vec::new();
    let base = loop {
        if let Ok(found) = existing.canonicalize() {
            break found;
        }
        match (existing.file_name().map(std::ffi::OsStr::to_os_string), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                existing = parent.to_path_buf();
            }
            _ => break existing,
        }
    };
    let mut result = base;
    for name in missing.iter().rev() {
        match Path::new(name).components().next() {
            Some(Component::ParentDir) => {
                result.pop();
            }
            Some(Component::CurDir) | None => {}
            Some(_) => result.push(name),
        }
    }
    result
}

/// The inventory targets `raw` names: a target name, a group name, or
/// `tag:TAG`. Empty when `raw` is none of these (`local`, `aws`, an URL).
fn select_inventory(raw: &str, inventory: &[TargetSpec]) -> Result<Vec<TargetSpec>, SettingsError> {
    let ssh = inventory.iter().filter_map(|t| match t {
        TargetSpec::Ssh(spec) => Some((t, spec)),
        _ => None,
    });
    if let Some(tag) = raw.strip_prefix("tag:") {
        let tagged: Vec<TargetSpec> =
            ssh.filter(|(_, spec)| spec.tags.iter().any(|t| t == tag)).map(|(t, _)| t.clone()).collect();
        if tagged.is_empty() {
            return Err(SettingsError::UnknownTag(raw.to_owned()));
        }
        return Ok(tagged);
    }
    Ok(ssh.filter(|(_, spec)| spec.name == raw || spec.group.as_deref() == Some(raw)).map(|(t, _)| t.clone()).collect())
}

fn ssh_settings(args: &crate::cli::SshArgs) -> Result<SshSettings, SettingsError> {
    let mut settings = SshSettings {
        config_file: args.ssh_config.clone(),
        identity_file: args.identity_file.clone(),
        accept_new_host_keys: args.accept_new_host_keys,
        sudo: args.sudo,
        ..SshSettings::default()
    };
    if let Some(path) = &settings.config_file {
        if let Some(problem) = crate::paths::file_problem(path, false) {
            return Err(SettingsError::MissingFile("ssh-config", path.display().to_string(), problem));
        }
    }
    if let Some(jobs) = args.jobs {
        let jobs = u64::try_from(jobs).unwrap_or(u64::MAX);
        let jobs = in_range("--jobs", jobs, 1, MAX_JOBS as u64, "")?;
        settings.jobs = usize::try_from(jobs).unwrap_or(MAX_JOBS);
    }
    if let Some(seconds) = args.host_timeout {
        settings.host_timeout =
            Duration::from_secs(in_range("--host-timeout", seconds, 1, MAX_TIMEOUT_SECONDS, " seconds")?);
    }
    Ok(settings)
}

/// The longest `--script-timeout` and `--host-timeout`: a day. Longer is a
/// mistake, and a deadline that far is where time arithmetic overflows.
pub const MAX_TIMEOUT_SECONDS: u64 = 24 * 60 * 60;
/// The most `--jobs`: each is an ssh process with its pipes.
pub const MAX_JOBS: usize = 1024;

/// `--render-timeout` (audit and verify): 1 second to a day, 300 s when not given.
pub fn render_timeout(seconds: Option<u64>) -> Result<Duration, SettingsError> {
    match seconds {
        Some(seconds) => {
            Ok(Duration::from_secs(in_range("--render-timeout", seconds, 1, MAX_TIMEOUT_SECONDS, " seconds")?))
        }
        None => Ok(crate::report::DEFAULT_RENDER_TIMEOUT),
    }
}

/// `value` when it is within `min..=max`, else an error naming the accepted range.
pub fn in_range(flag: &'static str, value: u64, min: u64, max: u64, unit: &'static str) -> Result<u64, SettingsError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(SettingsError::OutOfRange { flag, value, min, max, unit })
    }
}

/// Reports name targets; two different SSH targets must not share a name.
fn check_unique_names(targets: &[TargetSpec]) -> Result<(), SettingsError> {
    let mut seen: std::collections::BTreeMap<&str, &SshSpec> = std::collections::BTreeMap::new();
    for target in targets {
        if let TargetSpec::Ssh(spec) = target {
            if let Some(earlier) = seen.insert(spec.name.as_str(), spec) {
                if earlier != spec {
                    return Err(SettingsError::DuplicateTargetName(spec.name.clone()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_addresses_parse() {
        let spec = SshSpec::parse("audit@web-1.example.com:2222").expect("valid");
        assert_eq!(
            (spec.user.as_deref(), spec.host.as_str(), spec.port, spec.name.as_str()),
            (Some("audit"), "web-1.example.com", Some(2222), "web-1.example.com:2222")
        );
        let spec = SshSpec::parse("web-1").expect("valid");
        assert_eq!((spec.user, spec.port, spec.name.as_str()), (None, None, "web-1"));
        let spec = SshSpec::parse("root@[::1]:22").expect("valid");
        assert_eq!((spec.host.as_str(), spec.name.as_str()), ("::1", "[::1]:22"));
        for bad in ["", "@host", "host:0", "host:99999", "host:x", "-oProxyCommand=x", "a/b"] {
            assert!(SshSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inventory_selection_by_name_group_and_tag() {
        let host = |name: &str, group: Option<&str>, tags: &[&str]| {
            TargetSpec::Ssh(SshSpec {
                name: name.into(),
                host: name.into(),
                group: group.map(str::to_owned),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                ..SshSpec::default()
            })
        };
        let inventory =
            vec![host("web-1", Some("web"), &["pci"]), host("web-2", Some("web"), &[]), host("db", None, &["pci"])];
        assert_eq!(select_inventory("web", &inventory).expect("group").len(), 2);
        assert_eq!(select_inventory("db", &inventory).expect("name").len(), 1);
        let pci = select_inventory("tag:pci", &inventory).expect("tag");
        assert_eq!(pci, vec![inventory[0].clone(), inventory[2].clone()]);
        assert!(matches!(select_inventory("tag:nope", &inventory), Err(SettingsError::UnknownTag(_))));
        assert!(select_inventory("local", &inventory).expect("not inventory").is_empty());
    }
}
