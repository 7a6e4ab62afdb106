//! The commands host facts may run: one table, [`FACT_COMMANDS`], per fact
//! kind. It is the single declaration of what posture executes on a host:
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

use super::{os, packages, probe::command_line, services, sshd, sysctl};
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

/// What one fact kind may run on a host.
#[derive(Debug)]
pub struct FactCommands {
    pub kind: &'static str,
    /// Programs with their exact arguments.
    pub programs: &'static [(&'static str, &'static [&'static str])],
    /// How it reads files and directories.
    pub access: &'static [Access],
    /// Whether it needs root to be complete (with `--sudo`, run through `sudo -n`).
    pub needs_root: bool,
}

use Access::{ListDir, ReadFile, Stat, Walk};

/// Every host fact kind and what it may run. Keep in step with the
/// collectors: a collector asking for anything else gets an internal error,
/// and a test collects every kind to prove the table complete.
pub const FACT_COMMANDS: &[FactCommands] = &[
    FactCommands { kind: "host.os", programs: &[("uname", os::UNAME_ARGS)], access: &[ReadFile], needs_root: false },
    FactCommands { kind: "host.sysctl", programs: &[("sysctl", sysctl::SYSCTL_ARGS)], access: &[], needs_root: true },
    FactCommands { kind: "host.sysctl_persistent", programs: &[], access: &[ListDir, ReadFile], needs_root: false },
    FactCommands { kind: "host.kernel_modules", programs: &[], access: &[ReadFile, Walk, ListDir], needs_root: false },
    FactCommands { kind: "host.mounts", programs: &[], access: &[ReadFile], needs_root: false },
    FactCommands {
        kind: "host.packages",
        programs: &[("dpkg-query", packages::DPKG_ARGS), ("rpm", packages::RPM_ARGS)],
        access: &[],
        needs_root: false,
    },
    FactCommands {
        kind: "host.services",
        programs: &[("systemctl", services::UNIT_FILE_ARGS), ("systemctl", services::UNIT_ARGS)],
        access: &[Stat],
        needs_root: false,
    },
    FactCommands { kind: "host.users", programs: &[], access: &[ReadFile], needs_root: false },
    FactCommands { kind: "host.shadow", programs: &[], access: &[ReadFile], needs_root: true },
    FactCommands { kind: "host.groups", programs: &[], access: &[ReadFile], needs_root: false },
    FactCommands { kind: "host.login_defs", programs: &[], access: &[ReadFile], needs_root: false },
    FactCommands { kind: "host.useradd_defaults", programs: &[], access: &[ReadFile], needs_root: false },
    FactCommands { kind: "host.pam", programs: &[], access: &[ListDir, Stat, ReadFile], needs_root: false },
    FactCommands { kind: "host.pwquality", programs: &[], access: &[ListDir, ReadFile], needs_root: false },
    FactCommands { kind: "host.faillock", programs: &[], access: &[ReadFile], needs_root: false },
    FactCommands { kind: "host.pwhistory", programs: &[], access: &[ReadFile], needs_root: false },
    FactCommands { kind: "host.limits", programs: &[], access: &[ListDir, ReadFile], needs_root: false },
    FactCommands {
        kind: "host.sshd",
        programs: &[(sshd::SSHD_BINARY, sshd::SSHD_T_ARGS)],
        access: &[Stat, ReadFile, ListDir],
        needs_root: true,
    },
    FactCommands { kind: "host.sudoers", programs: &[], access: &[ReadFile, ListDir], needs_root: true },
    FactCommands { kind: "host.journald", programs: &[], access: &[ListDir, ReadFile], needs_root: false },
    FactCommands { kind: "host.rsyslog", programs: &[], access: &[ReadFile, ListDir], needs_root: false },
    FactCommands { kind: "host.auditd", programs: &[], access: &[ReadFile], needs_root: true },
    // Owner and group names come from /etc/passwd and /etc/group.
    FactCommands { kind: "host.file", programs: &[], access: &[Stat, ReadFile], needs_root: false },
    FactCommands { kind: "host.text", programs: &[], access: &[Stat, ReadFile], needs_root: false },
];

/// The declaration of a fact kind (`host.file` for `host.file:/etc/passwd`).
pub fn declared(kind: &str) -> Option<&'static FactCommands> {
    FACT_COMMANDS.iter().find(|entry| entry.kind == kind)
}

/// Whether fact kind `kind` may run `program` with exactly `args`.
pub fn declares_program(kind: &str, program: &str, args: &[&str]) -> bool {
    declared(kind).is_some_and(|entry| entry.programs.iter().any(|(p, a)| *p == program && *a == args))
}

/// Whether fact kind `kind` may read the host this way.
pub fn declares_access(kind: &str, access: Access) -> bool {
    declared(kind).is_some_and(|entry| entry.access.contains(&access))
}

/// Whether any fact kind may run `program` with exactly `args`.
pub fn is_declared_program(program: &str, args: &[&str]) -> bool {
    FACT_COMMANDS.iter().any(|entry| entry.programs.iter().any(|(p, a)| *p == program && *a == args))
}

/// Whether fact kind `kind` needs root (and gets `sudo -n` with `--sudo`).
pub fn needs_root(kind: &str) -> bool {
    declared(kind).is_some_and(|entry| entry.needs_root)
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
        for (program, args) in entry.programs {
            push(&mut programs, format!("{}{root}", command_line(program, args)));
        }
        for access in entry.access {
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
    use crate::facts::host::{HOST_FACT_KEYS, HOST_PATH_FACT_KINDS};

    #[test]
    fn every_host_fact_kind_is_declared_once() {
        for kind in HOST_FACT_KEYS.iter().chain(HOST_PATH_FACT_KINDS) {
            assert_eq!(FACT_COMMANDS.iter().filter(|entry| entry.kind == *kind).count(), 1, "{kind}");
        }
        assert_eq!(FACT_COMMANDS.len(), HOST_FACT_KEYS.len() + HOST_PATH_FACT_KINDS.len());
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
