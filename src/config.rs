//! `posture.toml`: settings kept with a project (the targets to audit, the
//! waivers file, the history, the CIS level and host role), validated at
//! load with every error pointing at its line.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::facts::target::{AwsSpec, SshSpec, TargetKind, TargetSpec};
use crate::located::Located;

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
    /// Judge hosts whose OS is not the benchmark's (`--ignore-os-mismatch`).
    #[serde(default)]
    ignore_os_mismatch: bool,
    /// The CIS level, as `--level`.
    level: Option<toml::Spanned<i64>>,
    /// The host role of the CIS profiles, as `--host-role`.
    host_role: Option<toml::Spanned<String>>,
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
    /// Judge hosts whose OS is not the benchmark's (`--ignore-os-mismatch`).
    pub ignore_os_mismatch: bool,
    /// The CIS level (`level = 1`); `--level` wins over it.
    pub level: Option<u8>,
    /// The host role (`host_role = "workstation"`); `--host-role` wins over it.
    pub host_role: Option<String>,
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
    /// SSH: one host (a name, an address, an ssh config alias; `user@host:port` accepted).
    address: Option<String>,
    /// SSH: a group of hosts (`host`, `host:port`, `user@host:port`) sharing
    /// the other settings; `name` names the group.
    #[serde(default)]
    hosts: Vec<String>,
    user: Option<String>,
    port: Option<u16>,
    /// SSH: the private key (`ssh -i`), relative to the configuration file.
    identity_file: Option<String>,
    /// SSH: labels to select targets by (`--target tag:pci`).
    #[serde(default)]
    tags: Vec<String>,
    /// SSH: run the facts that need root through `sudo -n`.
    sudo: Option<bool>,
}

impl RawTarget {
    fn has_ssh_fields(&self) -> bool {
        self.address.is_some()
            || !self.hosts.is_empty()
            || self.user.is_some()
            || self.port.is_some()
            || self.identity_file.is_some()
            || !self.tags.is_empty()
            || self.sudo.is_some()
    }

    /// The hosts of an SSH target: one (`address`) or a group (`hosts`).
    fn ssh_specs(&self, label: &str) -> Result<Vec<SshSpec>, String> {
        if self.profile.is_some() || self.role_arn.is_some() || self.external_id.is_some() || !self.regions.is_empty() {
            return Err(format!("{label}profile, role_arn, external_id and regions apply to type = \"aws\""));
        }
        let entries: Vec<&String> = match (&self.address, self.hosts.is_empty()) {
            (Some(_), false) => return Err(format!("{label}give address (one host) or hosts (a group), not both")),
            (None, true) => {
                return Err(format!("{label}type = \"ssh\" needs address (one host) or hosts (a group of hosts)"))
            }
            (Some(address), true) => vec![address],
            (None, false) => {
                if self.name.is_none() {
                    return Err(format!("{label}a group of hosts needs a name (selected with --target <name>)"));
                }
                self.hosts.iter().collect()
            }
        };
        let mut specs = Vec::new();
        for entry in entries {
            let mut spec = SshSpec::parse(entry).map_err(|e| format!("{label}{e}"))?;
            // A user or port written in the entry wins over the target's.
            if spec.user.is_none() {
                spec.user.clone_from(&self.user);
            }
            match (spec.port, self.port) {
                (None, Some(0)) => return Err(format!("{label}port 0 is not a port")),
                (None, Some(port)) => {
                    spec.port = Some(port);
                    spec.name = if spec.host.contains(':') {
                        format!("[{}]:{port}", spec.host)
                    } else {
                        format!("{}:{port}", spec.host)
                    };
                }
                _ => {}
            }
            if self.address.is_some() {
                if let Some(name) = &self.name {
                    spec.name.clone_from(name);
                }
            } else {
                spec.group.clone_from(&self.name);
            }
            spec.identity_file = self.identity_file.as_ref().map(PathBuf::from);
            spec.tags.clone_from(&self.tags);
            spec.sudo = self.sudo.unwrap_or(false);
            specs.push(spec);
        }
        Ok(specs)
    }
}

/// A configuration file's problem, at its line (none when the file itself
/// cannot be read).
pub type ConfigError = Located;

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
    if let Some(problem) = crate::paths::file_problem(path, false) {
        return Err(Located::new(display, problem));
    }
    let text =
        std::fs::read_to_string(path).map_err(|err| Located::new(display.clone(), format!("cannot read: {err}")))?;
    let mut config = parse(&display, &text)?;
    let folder = path.parent().unwrap_or(Path::new(""));
    config.waivers = config.waivers.map(|file| folder.join(file));
    for target in &mut config.targets {
        if let TargetSpec::Ssh(spec) = target {
            // ssh itself expands `~`; other relative paths are the file's.
            if let Some(identity) = spec.identity_file.as_mut() {
                if identity.is_relative() && !identity.starts_with("~") {
                    *identity = folder.join(&*identity);
                }
            }
        }
    }
    Ok(config)
}

fn parse(display: &str, text: &str) -> Result<ProjectConfig, ConfigError> {
    let at = |offset: usize, message: String| Located::new(display, message).at_offset(text, offset);
    let raw: RawConfig = toml::from_str(text).map_err(|err| Located::from_toml(display, text, &err))?;
    let mut targets = Vec::new();
    for target in raw.targets {
        let offset = target.span().start;
        let target = target.into_inner();
        let label = target.name.as_deref().map_or_else(String::new, |n| format!("target '{n}': "));
        let kind = TargetKind::from_name(target.kind.get_ref());
        if kind != Some(TargetKind::Ssh) && target.has_ssh_fields() {
            return Err(at(
                offset,
                format!("{label}address, hosts, user, port, identity_file, tags and sudo apply to type = \"ssh\""),
            ));
        }
        let spec = match kind {
            Some(TargetKind::Ssh) => {
                for spec in target.ssh_specs(&label).map_err(|message| at(offset, message))? {
                    let spec = TargetSpec::Ssh(spec);
                    if !targets.contains(&spec) {
                        targets.push(spec);
                    }
                }
                continue;
            }
            Some(TargetKind::Local) => {
                if target.profile.is_some() || target.role_arn.is_some() || !target.regions.is_empty() {
                    return Err(at(offset, format!("{label}profile, role_arn and regions apply to type = \"aws\"")));
                }
                TargetSpec::LocalHost
            }
            Some(TargetKind::Aws) => {
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
            None => {
                let known: Vec<String> = TargetKind::ALL.iter().map(|kind| format!("\"{}\"", kind.name())).collect();
                let expected = match known.split_last() {
                    Some((last, [])) => last.clone(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                };
                return Err(at(
                    target.kind.span().start,
                    format!("{label}unknown target type '{}' (expected {expected})", target.kind.get_ref()),
                ));
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
    let level = match raw.level {
        Some(level) => {
            match u8::try_from(*level.get_ref()).ok().filter(|l| crate::catalog::profile::LEVELS.contains(l)) {
                Some(valid) => Some(valid),
                None => {
                    return Err(at(
                        level.span().start,
                        format!("level {} is not a CIS level (1 or 2)", level.get_ref()),
                    ))
                }
            }
        }
        None => None,
    };
    let host_role = match raw.host_role {
        Some(role) if role.get_ref().trim().is_empty() => {
            return Err(at(
                role.span().start,
                "host_role must name a role, e.g. \"server\" or \"workstation\"".to_owned(),
            ))
        }
        Some(role) => Some(role.into_inner().trim().to_owned()),
        None => None,
    };
    Ok(ProjectConfig {
        targets,
        waivers: raw.waivers.map(PathBuf::from),
        history,
        ignore_os_mismatch: raw.ignore_os_mismatch,
        level,
        host_role,
    })
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
        assert_eq!((unknown.line, unknown.path.as_str()), (Some(3), "posture.toml"), "{unknown}");
        let kind = parse("posture.toml", "[[targets]]\ntype = \"gcp\"\n").expect_err("unknown type");
        assert!(kind.to_string().contains("posture.toml:"), "{kind}");
        let region =
            parse("posture.toml", "\n[[targets]]\ntype = \"aws\"\nregions = [\"EU West\"]\n").expect_err("bad region");
        assert!(region.message.contains("EU West"), "{region}");
    }

    #[test]
    fn ssh_inventory_with_hosts_groups_and_tags() {
        let text = "[[targets]]\ntype = \"ssh\"\nname = \"db-1\"\naddress = \"10.0.0.9\"\nuser = \"audit\"\nport = 2222\n\
                    identity_file = \"keys/audit\"\ntags = [\"pci\"]\nsudo = true\n\n\
                    [[targets]]\ntype = \"ssh\"\nname = \"web\"\nhosts = [\"web-1\", \"root@web-2:2200\"]\nuser = \"audit\"\n";
        let targets = parse("posture.toml", text).expect("valid").targets;
        let specs: Vec<&SshSpec> = targets
            .iter()
            .map(|t| match t {
                TargetSpec::Ssh(spec) => spec,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(specs.len(), 3);
        assert_eq!(
            (specs[0].name.as_str(), specs[0].host.as_str(), specs[0].user.as_deref(), specs[0].port, specs[0].sudo),
            ("db-1", "10.0.0.9", Some("audit"), Some(2222), true)
        );
        assert_eq!(specs[0].tags, ["pci"]);
        assert_eq!(
            (specs[1].name.as_str(), specs[1].group.as_deref(), specs[1].user.as_deref()),
            ("web-1", Some("web"), Some("audit"))
        );
        assert_eq!(
            (specs[2].name.as_str(), specs[2].user.as_deref(), specs[2].port),
            ("web-2:2200", Some("root"), Some(2200))
        );
        let both =
            parse("posture.toml", "[[targets]]\ntype = \"ssh\"\naddress = \"a\"\nhosts = [\"b\"]\n").expect_err("both");
        assert!(both.message.contains("not both"), "{both}");
        let group = parse("posture.toml", "[[targets]]\ntype = \"ssh\"\nhosts = [\"b\"]\n").expect_err("unnamed group");
        assert!(group.message.contains("needs a name"), "{group}");
        let misplaced =
            parse("posture.toml", "\n[[targets]]\ntype = \"local\"\ntags = [\"x\"]\n").expect_err("tags on local");
        assert_eq!(misplaced.line, Some(2), "{misplaced}");
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

    #[test]
    fn a_file_that_cannot_be_read_has_no_position() {
        let dir = tempfile::tempdir().expect("tmp");
        let missing = load(&dir.path().join("posture.toml")).expect_err("missing");
        assert_eq!((missing.line, missing.column), (None, None), "{missing}");
        assert!(missing.to_string().ends_with("posture.toml: no such file"), "{missing}");
    }

    #[test]
    fn the_level_and_host_role_are_read_and_a_bad_level_points_at_its_line() {
        let config = parse("posture.toml", "level = 2\nhost_role = \"workstation\"\n").expect("valid");
        assert_eq!((config.level, config.host_role.as_deref()), (Some(2), Some("workstation")));
        let three = parse("posture.toml", "\nlevel = 3\n").expect_err("no level 3");
        assert_eq!((three.line, three.message.as_str()), (Some(2), "level 3 is not a CIS level (1 or 2)"), "{three}");
        let empty = parse("posture.toml", "host_role = \"\"\n").expect_err("empty role");
        assert_eq!(empty.line, Some(1), "{empty}");
    }

    #[test]
    fn the_history_is_kept_as_written_and_an_empty_one_points_at_its_line() {
        let config = parse("posture.toml", "history = \"postgres://audit@db/posture\"\n").expect("valid");
        assert_eq!(config.history.as_deref(), Some("postgres://audit@db/posture"));
        let empty = parse("posture.toml", "\nhistory = \" \"\n").expect_err("empty");
        assert_eq!((empty.line, empty.message.contains("history")), (Some(2), true), "{empty}");
    }
}
