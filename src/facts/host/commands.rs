//! The host fact kinds: one table, [`FACTS`], a row per kind (scope, the
//! commands and file access it may use, whether it needs root, its
//! collector). It is the single declaration of which host facts exist and
//! of what posture executes on a host:
//!
//! - every collector runs through a wrapper that refuses a program or a kind
//!   of access its fact kind does not declare here (an internal error
//!   naming the command; nothing is run);
//! - the SSH transport refuses any program that no fact kind declares, and
//!   reads files, stats paths and lists directories only with the fixed
//!   commands of [`Access`];
//! - `posture explain <check>` and the report's check info list the
//!   commands of the check's facts ([`commands_for_facts`]).
//!
//! Over SSH a host runs these commands through `/bin/sh -s`, framed by
//! `printf` markers and `command -v` existence checks (see `ssh.rs`); with
//! `--sudo`, the commands of the kinds that need root are prefixed with
//! `sudo -n`.

use super::files::{self, OwnerNames};
use super::probe::{command_line, Collected, Probe};
use super::{accounts, kernel_modules, logging, mounts, os, packages, pam, services, sshd, sudoers, sysctl};
use crate::facts::descriptor::{FactDescriptor, Scope};
use crate::facts::FactKey;

/// A way a collector reads a host besides running a program, and the one
/// command a remote transport uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read a whole file: `cat PATH`.
    ReadFile,
    /// `lstat` a path: `find PATH -maxdepth 0 -printf ...`.
    Stat,
    /// List a directory with each entry's `lstat`: `find -H PATH -maxdepth 1 -printf ...`.
    ListDir,
    /// Every entry of a tree with its `lstat`: `find -H PATH -maxdepth N -printf ...`.
    Walk,
}

/// `find -printf` format of a stat: type letter, permission bits (octal),
/// uid, gid, size.
pub const STAT_FORMAT: &str = r"%y %m %U %G %s\n";
/// `find -printf` format of a listing: depth, the stat fields, the name; NUL-terminated.
pub const LIST_FORMAT: &str = r"%d %y %m %U %G %s %f\0";
/// `find -printf` format of a walk: depth, the stat fields, the path below the start; NUL-terminated.
pub const WALK_FORMAT: &str = r"%d %y %m %U %G %s %P\0";

impl Access {
    /// The program and arguments that perform this access on `path`
    /// (`max_depth` is used by [`Access::Walk`] only).
    pub fn command(self, path: &str, max_depth: usize) -> (&'static str, Vec<String>) {
        let owned = |args: &[&str]| args.iter().map(|arg| arg.to_string()).collect::<Vec<_>>();
        match self {
            Access::ReadFile => ("cat", owned(&[path])),
            Access::Stat => ("find", owned(&[path, "-maxdepth", "0", "-printf", STAT_FORMAT])),
            Access::ListDir => ("find", owned(&["-H", path, "-maxdepth", "1", "-printf", LIST_FORMAT])),
            Access::Walk => {
                let depth = max_depth.to_string();
                ("find", owned(&["-H", path, "-maxdepth", &depth, "-printf", WALK_FORMAT]))
            }
        }
    }

    /// The command line of this access on `path`, as it is shown and run.
    pub fn command_line(self, path: &str) -> String {
        let (program, args) = self.command(path, WALK_MAX_DEPTH);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        command_line(program, &args)
    }
}

/// The depth of the one walk collectors do (the kernel's module tree).
pub const WALK_MAX_DEPTH: usize = super::kernel_modules::MAX_WALK_DEPTH + 1;

/// What a host fact kind reads and the code that collects it.
#[derive(Debug)]
pub struct HostReads {
    /// Programs with their exact arguments.
    pub programs: &'static [(&'static str, &'static [&'static str])],
    /// How it reads files and directories.
    pub access: &'static [Access],
    pub(super) collector: Collector,
}

/// The collector of a host fact kind.
#[derive(Debug)]
pub(super) enum Collector {
    /// A fact of the whole host.
    Whole(fn(&mut Probe<'_>) -> Collected),
    /// A fact of one absolute path (owner names for file facts).
    Path(fn(&mut Probe<'_>, &OwnerNames<'_>, &str) -> Collected),
}

use Access::{ListDir, ReadFile, Stat, Walk};
use Collector::{Path, Whole};
use Scope::{Global, PerPath};

/// Every host fact kind: its scope, what it may run and read, whether it
/// needs root (with `--sudo`, run through `sudo -n`), and its collector.
/// A collector asking for anything its row does not declare gets an
/// internal error, and a test collects every kind to prove the rows
/// complete. Adding a host fact kind is one row here plus its collector.
pub const FACTS: &[FactDescriptor<HostReads>] = &[
    FactDescriptor {
        kind: "host.os",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[("uname", os::UNAME_ARGS)], access: &[ReadFile], collector: Whole(os::collect) },
    },
    FactDescriptor {
        kind: "host.sysctl",
        scope: Global,
        needs_root: true,
        how: HostReads {
            programs: &[("sysctl", sysctl::SYSCTL_ARGS)],
            access: &[],
            collector: Whole(sysctl::collect_runtime),
        },
    },
    FactDescriptor {
        kind: "host.sysctl_persistent",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ListDir, ReadFile], collector: Whole(sysctl::collect_persistent) },
    },
    FactDescriptor {
        kind: "host.kernel_modules",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ReadFile, Walk, ListDir], collector: Whole(kernel_modules::collect) },
    },
    FactDescriptor {
        kind: "host.mounts",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ReadFile], collector: Whole(mounts::collect) },
    },
    FactDescriptor {
        kind: "host.packages",
        scope: Global,
        needs_root: false,
        how: HostReads {
            programs: &[("dpkg-query", packages::DPKG_ARGS), ("rpm", packages::RPM_ARGS)],
            access: &[],
            collector: Whole(packages::collect),
        },
    },
    FactDescriptor {
        kind: "host.services",
        scope: Global,
        needs_root: false,
        how: HostReads {
            programs: &[("systemctl", services::UNIT_FILE_ARGS), ("systemctl", services::UNIT_ARGS)],
            access: &[Stat],
            collector: Whole(services::collect),
        },
    },
    FactDescriptor {
        kind: "host.users",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ReadFile], collector: Whole(accounts::collect_users) },
    },
    FactDescriptor {
        kind: "host.shadow",
        scope: Global,
        needs_root: true,
        how: HostReads { programs: &[], access: &[ReadFile], collector: Whole(accounts::collect_shadow) },
    },
    FactDescriptor {
        kind: "host.groups",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ReadFile], collector: Whole(accounts::collect_groups) },
    },
    FactDescriptor {
        kind: "host.login_defs",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ReadFile], collector: Whole(accounts::collect_login_defs) },
    },
    FactDescriptor {
        kind: "host.useradd_defaults",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ReadFile], collector: Whole(accounts::collect_useradd_defaults) },
    },
    FactDescriptor {
        kind: "host.pam",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ListDir, Stat, ReadFile], collector: Whole(pam::collect_pam) },
    },
    FactDescriptor {
        kind: "host.pwquality",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ListDir, ReadFile], collector: Whole(pam::collect_pwquality) },
    },
    FactDescriptor {
        kind: "host.faillock",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ReadFile], collector: Whole(pam::collect_faillock) },
    },
    FactDescriptor {
        kind: "host.pwhistory",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ReadFile], collector: Whole(pam::collect_pwhistory) },
    },
    FactDescriptor {
        kind: "host.limits",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ListDir, ReadFile], collector: Whole(pam::collect_limits) },
    },
    FactDescriptor {
        kind: "host.sshd",
        scope: Global,
        needs_root: true,
        how: HostReads {
            programs: &[(sshd::SSHD_BINARY, sshd::SSHD_T_ARGS)],
            access: &[Stat, ReadFile, ListDir],
            collector: Whole(sshd::collect),
        },
    },
    FactDescriptor {
        kind: "host.sudoers",
        scope: Global,
        needs_root: true,
        how: HostReads { programs: &[], access: &[ReadFile, ListDir], collector: Whole(sudoers::collect) },
    },
    FactDescriptor {
        kind: "host.journald",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ListDir, ReadFile], collector: Whole(logging::collect_journald) },
    },
    FactDescriptor {
        kind: "host.rsyslog",
        scope: Global,
        needs_root: false,
        how: HostReads { programs: &[], access: &[ReadFile, ListDir], collector: Whole(logging::collect_rsyslog) },
    },
    FactDescriptor {
        kind: "host.auditd",
        scope: Global,
        needs_root: true,
        how: HostReads { programs: &[], access: &[ReadFile], collector: Whole(logging::collect_auditd) },
    },
    // Owner and group names come from /etc/passwd and /etc/group.
    FactDescriptor {
        kind: "host.file",
        scope: PerPath,
        needs_root: false,
        how: HostReads { programs: &[], access: &[Stat, ReadFile], collector: Path(files::collect_file) },
    },
    FactDescriptor {
        kind: "host.text",
        scope: PerPath,
        needs_root: false,
        how: HostReads { programs: &[], access: &[Stat, ReadFile], collector: Path(files::collect_text) },
    },
];

/// The row of a fact kind (`host.file` for `host.file:/etc/passwd`).
pub fn declared(kind: &str) -> Option<&'static FactDescriptor<HostReads>> {
    FACTS.iter().find(|row| row.kind == kind)
}

/// Whether fact kind `kind` may run `program` with exactly `args`.
pub fn declares_program(kind: &str, program: &str, args: &[&str]) -> bool {
    declared(kind).is_some_and(|row| row.how.programs.iter().any(|(p, a)| *p == program && *a == args))
}

/// Whether fact kind `kind` may read the host this way.
pub fn declares_access(kind: &str, access: Access) -> bool {
    declared(kind).is_some_and(|row| row.how.access.contains(&access))
}

/// Whether any fact kind may run `program` with exactly `args`.
pub fn is_declared_program(program: &str, args: &[&str]) -> bool {
    FACTS.iter().any(|row| row.how.programs.iter().any(|(p, a)| *p == program && *a == args))
}

/// Whether fact kind `kind` needs root (and gets `sudo -n` with `--sudo`).
pub fn needs_root(kind: &str) -> bool {
    declared(kind).is_some_and(|row| row.needs_root)
}

/// The commands facts `keys` may run on a host, as shown to a reader: the
/// programs' command lines, then the file reads, stats, listings and walks
/// (with the path for `host.file:`/`host.text:` keys, `FILE`, `PATH` or
/// `DIR` otherwise). Facts that are not host facts run nothing.
pub fn commands_for_facts<'k>(keys: impl IntoIterator<Item = &'k FactKey>) -> Vec<String> {
    let mut programs = Vec::new();
    let mut reads = Vec::new();
    let push = |list: &mut Vec<String>, line: String| {
        if !list.contains(&line) {
            list.push(line);
        }
    };
    for key in keys {
        let Some(entry) = declared(key.kind()) else { continue };
        let root = if entry.needs_root { " (needs root)" } else { "" };
        for (program, args) in entry.how.programs {
            push(&mut programs, format!("{}{root}", command_line(program, args)));
        }
        for access in entry.how.access {
            match (key.param(), access) {
                (Some(_), ReadFile) if key.kind() == "host.file" => {
                    push(&mut reads, ReadFile.command_line("/etc/passwd"));
                    push(&mut reads, ReadFile.command_line("/etc/group"));
                }
                (Some(path), access) => push(&mut reads, format!("{}{root}", access.command_line(path))),
                (None, access) => {
                    let placeholder = match access {
                        ReadFile => "FILE",
                        Stat => "PATH",
                        ListDir | Walk => "DIR",
                    };
                    push(&mut reads, format!("{}{root}", access.command_line(placeholder)));
                }
            }
        }
    }
    programs.extend(reads);
    programs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `key` names a fact of the host table (the Linux provider's).
    fn is_host_fact(key: &FactKey) -> bool {
        (super::super::PROVIDER.scope_of)(key).is_some()
    }

    #[test]
    fn every_host_fact_kind_is_declared_once_and_keys_follow_the_scope() {
        for row in FACTS {
            assert_eq!(FACTS.iter().filter(|other| other.kind == row.kind).count(), 1, "{}", row.kind);
            assert!(row.kind.starts_with("host."), "{}", row.kind);
            let per_path = matches!(row.how.collector, Collector::Path(_));
            assert_eq!(per_path, row.scope == Scope::PerPath, "{}", row.kind);
        }
        assert!(is_host_fact(&FactKey::new("host.sshd")));
        assert!(is_host_fact(&FactKey::new("host.file:/etc/passwd")));
        assert!(!is_host_fact(&FactKey::new("host.file")));
        assert!(!is_host_fact(&FactKey::new("host.sshd:/etc/ssh")));
        assert!(!is_host_fact(&FactKey::new("aws.s3.buckets")));
    }

    #[test]
    fn programs_are_declared_per_kind_with_exact_arguments() {
        assert!(declares_program("host.os", "uname", &["-r", "-m"]));
        assert!(!declares_program("host.os", "uname", &["-a"]));
        assert!(!declares_program("host.users", "uname", &["-r", "-m"]));
        assert!(is_declared_program("/usr/sbin/sshd", &["-T"]));
        assert!(!is_declared_program("sh", &["-c", "id"]));
        assert!(declares_access("host.kernel_modules", Access::Walk));
        assert!(!declares_access("host.users", Access::ListDir));
    }

    #[test]
    fn commands_of_facts_are_listed_for_readers() {
        let keys = [FactKey::new("host.sshd"), FactKey::new("host.file:/etc/ssh/sshd_config")];
        let commands = commands_for_facts(&keys);
        assert_eq!(commands[0], "/usr/sbin/sshd -T (needs root)");
        assert!(commands.contains(&"cat FILE (needs root)".to_string()), "{commands:?}");
        assert!(
            commands.contains(&r"find /etc/ssh/sshd_config -maxdepth 0 -printf '%y %m %U %G %s\n'".to_string()),
            "{commands:?}"
        );
        assert!(commands.contains(&"cat /etc/passwd".to_string()), "{commands:?}");
        assert!(commands_for_facts(&[FactKey::new("aws.s3.buckets")]).is_empty());
    }
}
