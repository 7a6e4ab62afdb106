//! `posture.toml`: settings kept with a project (the targets to audit, the
//! waivers file), validated at load with every error pointing at its line.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::error::line_column;
use crate::settings::{AwsSpec, TargetSpec};

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "posture.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    targets: Vec<toml::Spanned<RawTarget>>,
    /// The waivers file, relative to the configuration file.
    waivers: Option<String>,
    /// The audit history: a SQLite file (relative to the configuration file) or a postgres:// URL.
    history: Option<toml::Spanned<String>>,
}

/// What a configuration file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectConfig {
    pub targets: Vec<TargetSpec>,
    /// The waivers file, resolved against the configuration file's folder.
    pub waivers: Option<PathBuf>,
    /// The audit history as written (a file is resolved against the
    /// configuration file's folder by `history::Location::resolve`).
    pub history: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(rename = "type")]
    kind: toml::Spanned<String>,
    /// A label for messages.
    name: Option<String>,
    profile: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
    #[serde(default)]
    regions: Vec<String>,
}

/// A configuration file's problem, at its line.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The configuration file to read: `--config`, or `posture.toml` when it exists.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => Path::new(DEFAULT_FILE).is_file().then(|| PathBuf::from(DEFAULT_FILE)),
    }
}

/// A configuration file's settings.
pub fn load(path: &Path) -> Result<ProjectConfig, ConfigError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
        path: display.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read: {err}"),
    })?;
    let mut config = parse(&display, &text)?;
    let folder = path.parent().unwrap_or(Path::new(""));
    config.waivers = config.waivers.map(|file| folder.join(file));
    Ok(config)
}

fn parse(display: &str, text: &str) -> Result<ProjectConfig, ConfigError> {
    let at = |offset: usize, message: String| {
        let (line, column) = line_column(text, offset);
        ConfigError { path: display.to_owned(), line, column, message }
    };
    let raw: RawConfig = toml::from_str(text).map_err(|err| {
        let message = err.message().trim().lines().map(str::trim).collect::<Vec<_>>().join("; ");
        at(err.span().map_or(0, |s| s.start), message)
    })?;
    let mut targets = Vec::new();
    for target in raw.targets {
        let offset = target.span().start;
        let target = target.into_inner();
        let label = target.name.as_deref().map_or_else(String::new, |n| format!("target '{n}': "));
        let spec = match target.kind.get_ref().as_str() {
            "local" => {
                if target.profile.is_some() || target.role_arn.is_some() || !target.regions.is_empty() {
                    return Err(at(offset, format!("{label}profile, role_arn and regions apply to type = \"aws\"")));
                }
                TargetSpec::LocalHost
            }
            "aws" => {
                if target.external_id.is_some() && target.role_arn.is_none() {
                    return Err(at(offset, format!("{label}external_id needs role_arn")));
                }
                if let Some(bad) = target.regions.iter().find(|r| !crate::facts::aws::is_region_name(r)) {
                    return Err(at(offset, format!("{label}'{bad}' is not a region name")));
                }
                TargetSpec::Aws(AwsSpec {
                    profile: target.profile,
                    role_arn: target.role_arn,
                    external_id: target.external_id,
                    regions: target.regions,
                })
            }
            other => {
                return Err(at(
                    target.kind.span().start,
                    format!("{label}unknown target type '{other}' (expected \"local\" or \"aws\")"),
                ))
            }
        };
        if !targets.contains(&spec) {
            targets.push(spec);
        }
    }
    let history = match raw.history {
        Some(history) if history.get_ref().trim().is_empty() => {
            return Err(at(history.span().start, "history must be a file path or a postgres:// URL".to_owned()))
        }
        Some(history) => Some(history.into_inner()),
        None => None,
    };
    Ok(ProjectConfig { targets, waivers: raw.waivers.map(PathBuf::from), history })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_and_bad_ones_point_at_their_line() {
        let text = "[[targets]]\ntype = \"aws\"\nprofile = \"audit\"\nregions = [\"eu-west-1\"]\n\n[[targets]]\ntype = \"local\"\n";
        let targets = parse("posture.toml", text).expect("valid").targets;
        assert_eq!(targets.len(), 2);
        assert!(
            matches!(&targets[0], TargetSpec::Aws(a) if a.profile.as_deref() == Some("audit") && a.regions == ["eu-west-1"])
        );
        let unknown = parse("posture.toml", "[[targets]]\ntype = \"aws\"\nprofle = \"x\"\n").expect_err("typo");
        assert_eq!((unknown.line, unknown.path.as_str()), (3, "posture.toml"), "{unknown}");
        let kind = parse("posture.toml", "[[targets]]\ntype = \"gcp\"\n").expect_err("unknown type");
        assert!(kind.to_string().contains("posture.toml:"), "{kind}");
        let region = parse("posture.toml", "\n[[targets]]\ntype = \"aws\"\nregions = [\"EU West\"]\n")
            .expect_err("bad region");
        assert!(region.message.contains("EU West"), "{region}");
    }

    #[test]
    fn the_waivers_file_is_relative_to_the_configuration() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("posture.toml");
        std::fs::write(&path, "waivers = \"risk/waivers.toml\"\n").expect("write");
        let config = load(&path).expect("valid");
        assert_eq!(config.waivers, Some(dir.path().join("risk/waivers.toml")));
        assert!(config.targets.is_empty());
    }
}
