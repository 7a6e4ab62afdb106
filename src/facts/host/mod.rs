//! Host facts collected over a [`Transport`]: the transport abstraction, the
//! list of host fact keys, and [`collect`], which gathers the requested keys
//! of one host in parallel.
//!
//! Collectors touch a host only through [`Transport`], so a local host and a
//! remote one (SSH) are collected by the same code. Each area of facts lives
//! in its own file with a pure parser (text to JSON, unit-tested without a
//! host) and the function that reads its sources. docs/facts.md is the
//! specification of every key, source and JSON shape.

mod accounts;
mod batch;
pub mod commands;
mod files;
mod kernel_modules;
mod local;
mod logging;
mod mounts;
mod os;
mod packages;
mod pam;
mod probe;
mod services;
pub mod ssh;
mod sshd;
mod sudoers;
mod sysctl;
mod text;

#[cfg(test)]
mod fake;

use std::collections::BTreeSet;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rayon::prelude::*;

use super::{redact, Fact, FactKey};
use crate::facts::descriptor::Scope;
use commands::Collector;
use files::OwnerNames;
use probe::{Collected, Probe, Unavailable};

pub use batch::{DirEntry, Op, OpOutput, Request};
pub use local::LocalTransport;
pub use ssh::{SshOptions, SshTarget, SshTransport};

/// The only way collectors reach a host: run a program, read a file, stat a
/// path, list a directory.
///
/// Object safe and shareable across threads, because facts of one host are
/// collected in parallel over one transport.
pub trait Transport: Send + Sync {
    /// A short name for the target in messages (e.g. "localhost").
    fn describe(&self) -> String;
    /// Run a program with arguments (no shell), capture stdout/stderr/exit status.
    ///
    /// A program that runs and exits non-zero is `Ok` (its status says so); a
    /// program that does not exist is [`TransportError::CommandNotFound`].
    fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, TransportError>;
    /// Read a whole file; Ok(None) when it does not exist. Links are
    /// followed, and only to a regular file of at most
    /// [`crate::regular_file::MAX_CONFIG_FILE_BYTES`]: anything else is
    /// [`TransportError::NotRegularFile`] or [`TransportError::TooLarge`],
    /// never waited on.
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError>;
    /// lstat a path; Ok(None) when it does not exist.
    fn stat(&self, path: &str) -> Result<Option<FileStat>, TransportError>;
    /// Names of the entries of a directory (not recursive); Ok(None) when it does not exist.
    fn list_dir(&self, path: &str) -> Result<Option<Vec<String>>, TransportError>;

    /// Every entry below `dir` down to `max_depth` levels (1: the entries of
    /// `dir` itself), with its `lstat`; symlinks are not followed below
    /// `dir`. Ok(None) when `dir` does not exist or is not a directory.
    fn walk(&self, dir: &str, max_depth: usize) -> Result<Option<Vec<WalkEntry>>, TransportError> {
        let Some(names) = self.list_dir(dir)? else { return Ok(None) };
        let mut entries = Vec::new();
        walk_below(self, dir, "", names, 1, max_depth, &mut entries)?;
        Ok(Some(entries))
    }

    /// Whether every operation costs a round trip to another machine. Such a
    /// transport is collected through [`Transport::batch`]: the collectors
    /// are replayed against what earlier batches answered, and what they
    /// still need is asked in one batch per round (see `batch.rs`).
    fn batches(&self) -> bool {
        false
    }

    /// Perform `requests`, in as few round trips as the transport allows;
    /// one result per request, in order. The default performs them one by
    /// one (a request's `sudo` is for remote transports and ignored here).
    fn batch(&self, requests: &[Request]) -> Vec<Result<OpOutput, TransportError>> {
        requests.iter().map(|request| batch::perform_directly(self, &request.op)).collect()
    }
}

/// One entry found by [`Transport::walk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEntry {
    /// The path relative to the walked directory (`kernel/fs/ext4.ko`).
    pub path: String,
    pub stat: FileStat,
}

/// The default [`Transport::walk`]: list, `lstat` each entry, descend into
/// directories (not into symlinks).
fn walk_below<T: Transport + ?Sized>(
    transport: &T,
    dir: &str,
    prefix: &str,
    names: Vec<String>,
    depth: usize,
    max_depth: usize,
    out: &mut Vec<WalkEntry>,
) -> Result<(), TransportError> {
    for name in names {
        let path = text::join_path(dir, &name);
        let relative = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let Some(stat) = transport.stat(&path)? else { continue };
        out.push(WalkEntry { path: relative.clone(), stat });
        if stat.kind == FileKind::Dir && depth < max_depth {
            if let Some(children) = transport.list_dir(&path)? {
                walk_below(transport, &path, &relative, children, depth + 1, max_depth, out)?;
            }
        }
    }
    Ok(())
}

/// What a program printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandOutput {
    /// The exit status; `None` when the program was ended by a signal.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    /// Whether the program exited with status 0.
    pub fn succeeded(&self) -> bool {
        self.status == Some(0)
    }
}

pub use crate::regular_file::FileKind;

/// The `lstat` of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub kind: FileKind,
    /// Permission bits including setuid, setgid and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
}

/// Why a transport operation could not be done. A command that runs and
/// exits non-zero is not an error: [`CommandOutput::status`] carries that.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The path exists but may not be read by the collecting user.
    #[error("{path}: permission denied")]
    PermissionDenied { path: String },
    /// The program is not installed (not found on the target).
    #[error("{program}: command not found")]
    CommandNotFound { program: String },
    /// The target could not be reached at all (e.g. an SSH connection failed).
    #[error("cannot reach {target}: {message}")]
    Unreachable { target: String, message: String },
    /// The connection was made and lost (the host went down, the SSH master
    /// connection ended, the per-host timeout expired).
    #[error("lost the connection to {target}: {message}")]
    ConnectionLost { target: String, message: String },
    /// The host refused the login (e.g. SSH "Permission denied (publickey)").
    #[error("{target} refused the login: {message}")]
    LoginRefused { target: String, message: String },
    /// The host's key is unknown or has changed: SSH host key verification failed.
    #[error("host key verification failed for {target}: {message}")]
    HostKeyRejected { target: String, message: String },
    /// `sudo -n` refused to run a command as root.
    #[error("sudo refused on {target}: {message}")]
    SudoRefused { target: String, message: String },
    /// A collector asked for a command that is not declared for its fact
    /// (see `commands.rs`): a bug in posture, never run.
    #[error(
        "internal error: `{command}` is not a declared command of {kind} (src/facts/host/commands.rs); it was not run"
    )]
    NotDeclared { kind: String, command: String },
    /// The path is not a regular file (a FIFO, a device, a directory, a
    /// link to one): never opened for reading, because reading it could
    /// block or never end.
    #[error("{path} is a {kind}, not a regular file")]
    NotRegularFile { path: String, kind: String },
    /// The file is larger than a configuration file may be
    /// ([`crate::regular_file::MAX_CONFIG_FILE_BYTES`]).
    #[error("{path} is larger than the {} limit of a file read for a fact", crate::regular_file::describe_size(*.limit))]
    TooLarge { path: String, limit: u64 },
    /// Any other I/O failure, with what was being done.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

impl TransportError {
    /// A copy, for answers shared by several facts (`io::Error` is not `Clone`).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::PermissionDenied { path } => Self::PermissionDenied { path: path.clone() },
            Self::CommandNotFound { program } => Self::CommandNotFound { program: program.clone() },
            Self::Unreachable { target, message } => {
                Self::Unreachable { target: target.clone(), message: message.clone() }
            }
            Self::ConnectionLost { target, message } => {
                Self::ConnectionLost { target: target.clone(), message: message.clone() }
            }
            Self::LoginRefused { target, message } => {
                Self::LoginRefused { target: target.clone(), message: message.clone() }
            }
            Self::HostKeyRejected { target, message } => {
                Self::HostKeyRejected { target: target.clone(), message: message.clone() }
            }
            Self::SudoRefused { target, message } => {
                Self::SudoRefused { target: target.clone(), message: message.clone() }
            }
            Self::NotDeclared { kind, command } => Self::NotDeclared { kind: kind.clone(), command: command.clone() },
            Self::NotRegularFile { path, kind } => Self::NotRegularFile { path: path.clone(), kind: kind.clone() },
            Self::TooLarge { path, limit } => Self::TooLarge { path: path.clone(), limit: *limit },
            Self::Io { what, source } => {
                Self::Io { what: what.clone(), source: io::Error::new(source.kind(), source.to_string()) }
            }
        }
    }

    /// Whether the error concerns the whole host rather than one operation:
    /// no fact of the host can be had after it.
    pub fn is_host_level(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::ConnectionLost { .. }
                | Self::LoginRefused { .. }
                | Self::HostKeyRejected { .. }
        )
    }
}

/// The Linux provider: hosts, local or over SSH.
pub const PROVIDER: crate::facts::descriptor::ProviderDescriptor = crate::facts::descriptor::ProviderDescriptor {
    name: "linux",
    fact_prefix: "host.",
    default_benchmark: "cis-debian-linux-12",
    example_target: "local",
    os_fact: Some("host.os"),
    scope_of: |key| crate::facts::descriptor::scope_in(commands::FACTS, key),
};

/// The host fact kinds without a parameter (every kind but `host.file` and
/// `host.text`), for tests that collect everything.
#[cfg(test)]
pub(crate) fn whole_host_kinds() -> Vec<&'static str> {
    commands::FACTS.iter().filter(|row| row.scope == Scope::Global).map(|row| row.kind).collect()
}

/// Collect `keys` from the host behind `transport`: exactly one [`Fact`] per
/// key, in key order. Keys are collected in parallel; a key that cannot be
/// collected (unknown, unreadable, command missing) is an unavailable fact
/// with the reason.
///
/// A transport whose operations are round trips ([`Transport::batches`]) is
/// collected in rounds of one batch each (see `batch.rs`); `sudo` then runs
/// what the facts that need root read through `sudo -n`.
pub fn collect(transport: &dyn Transport, keys: &BTreeSet<FactKey>) -> Vec<Fact> {
    collect_with(transport, keys, false)
}

/// [`collect`], with `sudo -n` for the facts that need root (on a transport
/// that batches; a local audit runs as the user posture runs as).
pub fn collect_with(transport: &dyn Transport, keys: &BTreeSet<FactKey>, sudo: bool) -> Vec<Fact> {
    if transport.batches() {
        return batch::collect_in_rounds(transport, keys, sudo);
    }
    let owner_reader = Declared::new(transport, "host.file");
    let owner_names = OwnerNames::new(&owner_reader);
    keys.par_iter()
        .map(|key| {
            let declared = Declared::new(transport, key.kind());
            collect_one(&declared, &owner_names, key)
        })
        .collect()
}

/// The transport as one fact's collector sees it: only the programs and
/// kinds of access `commands.rs` declares for the fact kind get through.
pub(super) struct Declared<'t> {
    inner: &'t dyn Transport,
    kind: String,
}

impl<'t> Declared<'t> {
    pub(super) fn new(inner: &'t dyn Transport, kind: &str) -> Self {
        Self { inner, kind: kind.to_string() }
    }

    fn allow(&self, access: commands::Access, what: impl FnOnce() -> String) -> Result<(), TransportError> {
        if commands::declares_access(&self.kind, access) {
            Ok(())
        } else {
            Err(TransportError::NotDeclared { kind: self.kind.clone(), command: what() })
        }
    }
}

impl Transport for Declared<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, TransportError> {
        if !commands::declares_program(&self.kind, program, args) {
            return Err(TransportError::NotDeclared {
                kind: self.kind.clone(),
                command: probe::command_line(program, args),
            });
        }
        self.inner.run(program, args)
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        self.allow(commands::Access::ReadFile, || commands::Access::ReadFile.command_line(path))?;
        self.inner.read_file(path)
    }

    fn stat(&self, path: &str) -> Result<Option<FileStat>, TransportError> {
        self.allow(commands::Access::Stat, || commands::Access::Stat.command_line(path))?;
        self.inner.stat(path)
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<String>>, TransportError> {
        self.allow(commands::Access::ListDir, || commands::Access::ListDir.command_line(path))?;
        self.inner.list_dir(path)
    }

    fn walk(&self, dir: &str, max_depth: usize) -> Result<Option<Vec<WalkEntry>>, TransportError> {
        self.allow(commands::Access::Walk, || commands::Access::Walk.command_line(dir))?;
        self.inner.walk(dir, max_depth)
    }
}

fn collect_one(transport: &dyn Transport, owner_names: &OwnerNames<'_>, key: &FactKey) -> Fact {
    let mut probe = Probe::new(transport);
    // A parser bug must cost one fact, not the whole run: collect() promises
    // one fact per key.
    let outcome = catch_unwind(AssertUnwindSafe(|| collect_value(&mut probe, owner_names, key))).unwrap_or_else(|_| {
        Err(Unavailable::new(format!("internal error while collecting {key} from {}", transport.describe())))
    });
    let source = probe.into_source();
    // Redacted here, where every host fact is made, so facts, reports, packs and logs all inherit it.
    redact::redact_host_fact(match outcome {
        Ok(value) => Fact::available(key.clone(), value, source),
        Err(unavailable) => Fact::unavailable(key.clone(), unavailable.into_reason(), source),
    })
}

fn collect_value(probe: &mut Probe<'_>, owner_names: &OwnerNames<'_>, key: &FactKey) -> Collected {
    let row = commands::declared(key.kind()).filter(|row| row.accepts(key));
    match (row.map(|row| &row.how.collector), key.param()) {
        (Some(Collector::Whole(collect)), _) => collect(probe),
        (Some(Collector::Path(collect)), Some(path)) => collect(probe, owner_names, path),
        _ => Err(Unavailable::new(match commands::declared(key.kind()) {
            Some(row) if row.scope == Scope::PerPath => {
                format!("unknown fact key `{key}`: {0} needs an absolute path, e.g. `{0}:/etc/passwd`", row.kind)
            }
            _ => format!("unknown fact key `{key}`"),
        })),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;

    /// Whether `key` names a fact of the host table (the Linux provider's).
    fn is_host_fact(key: &FactKey) -> bool {
        (PROVIDER.scope_of)(key).is_some()
    }
    use crate::facts::{FactSource, FactValue};

    fn keys(names: &[&str]) -> BTreeSet<FactKey> {
        names.iter().map(|name| FactKey::new(*name)).collect()
    }

    #[test]
    fn known_facts_need_the_right_parameter() {
        assert!(is_host_fact(&FactKey::new("host.sshd")));
        assert!(is_host_fact(&FactKey::new("host.file:/etc/passwd")));
        assert!(is_host_fact(&FactKey::new("host.text:/etc/issue.net")));
        assert!(!is_host_fact(&FactKey::new("host.file")));
        assert!(!is_host_fact(&FactKey::new("host.file:etc/passwd")));
        assert!(!is_host_fact(&FactKey::new("host.file:")));
        assert!(!is_host_fact(&FactKey::new("host.sshd:/etc/ssh")));
        assert!(!is_host_fact(&FactKey::new("host.nonsense")));
        assert!(!is_host_fact(&FactKey::new("aws.s3.buckets")));
    }

    #[test]
    fn unknown_keys_give_unavailable_facts_not_fewer_facts() {
        let transport = fake::FakeTransport::new();
        let requested = keys(&["host.nonsense", "host.file:relative/path", "host.os:x"]);
        let facts = collect(&transport, &requested);
        assert_eq!(facts.len(), 3);
        for fact in &facts {
            let reason = fact.unavailable_reason().unwrap_or_default();
            assert!(reason.starts_with("unknown fact key"), "{reason}");
        }
    }

    #[test]
    fn facts_come_back_in_key_order_with_their_sources() {
        let transport = fake::FakeTransport::new()
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
            .file("/etc/group", "root:x:0:\n");
        let requested = keys(&["host.users", "host.groups", "host.file:/etc/passwd"]);
        let facts = collect(&transport, &requested);
        let got: Vec<&str> = facts.iter().map(|fact| fact.key.as_str()).collect();
        assert_eq!(got, ["host.file:/etc/passwd", "host.groups", "host.users"]);
        assert_eq!(facts[1].source, FactSource::File { path: "/etc/group".into() });
        match &facts[0].value {
            FactValue::Available { value } => {
                assert_eq!(value["owner"], "root");
                assert_eq!(value["group"], "root");
            }
            FactValue::Unavailable { reason } => panic!("{reason}"),
        }
    }

    #[test]
    fn a_collector_cannot_run_what_its_fact_kind_does_not_declare() {
        let transport = fake::FakeTransport::new().command("uname", &["-r", "-m"], 0, "6.1.0 x86_64\n", "");
        let declared = Declared::new(&transport, "host.users");
        let refused = declared.run("uname", &["-r", "-m"]).unwrap_err().to_string();
        assert!(refused.contains("`uname -r -m` is not a declared command of host.users"), "{refused}");
        let refused = declared.list_dir("/etc").unwrap_err().to_string();
        assert!(refused.contains("find -H /etc -maxdepth 1"), "{refused}");
        assert!(Declared::new(&transport, "host.os").run("uname", &["-r", "-m"]).is_ok());
    }

    #[test]
    fn collected_facts_are_redacted_where_they_are_made() {
        let transport = fake::FakeTransport::new()
            .file("/etc/pam.d/mysql-auth", "auth sufficient pam_mysql.so user=pam passwd=PamSecret1 host=db\n")
            .file("/etc/rsyslog.conf", "*.* :ommysql:db,Syslog,rsyslog,LegacySecret2\n")
            .file("/etc/rsyslog.d/60-db.conf", "action(type=\"ompgsql\" server=\"db\" pwd=\"RainerSecret3\")\n")
            .file("/etc/sudoers", "Defaults mailerpath=https://mail:SudoSecret4@relay.example\n");
        let facts = collect(&transport, &keys(&["host.pam", "host.rsyslog", "host.sudoers"]));
        let serialized = serde_json::to_string(&facts).unwrap();
        for secret in ["PamSecret1", "LegacySecret2", "RainerSecret3", "SudoSecret4"] {
            assert!(!serialized.contains(secret), "{secret} leaked into {serialized}");
        }
        assert!(serialized.contains("passwd=<redacted:credential-assignment>"), "{serialized}");
        assert!(serialized.contains(":ommysql:db,Syslog,rsyslog,<redacted:rsyslog-db-action>"), "{serialized}");
    }

    /// Runs on the machine the tests run on: whatever it has or lacks, every
    /// requested key gives exactly one fact, and nothing panics.
    #[test]
    fn local_collect_returns_one_fact_per_key() {
        let mut names: Vec<&str> = whole_host_kinds();
        names.extend([
            "host.file:/etc/passwd",
            "host.file:/etc/does-not-exist",
            "host.file:/tmp",
            "host.text:/etc/os-release",
            "host.text:/etc/shadow",
            "host.text:/etc/does-not-exist",
            "host.unknown",
        ]);
        let requested = keys(&names);
        let facts = collect(&LocalTransport::new(), &requested);
        assert_eq!(facts.len(), requested.len());
        let got: BTreeSet<FactKey> = facts.iter().map(|fact| fact.key.clone()).collect();
        assert_eq!(got, requested);
        for fact in &facts {
            if let Some(reason) = fact.unavailable_reason() {
                assert!(!reason.is_empty(), "{} has an empty reason", fact.key);
                // commands.rs declares everything the collectors do.
                assert!(!reason.contains("not a declared command"), "{}: {reason}", fact.key);
            }
        }
        let by_key: std::collections::BTreeMap<&str, &Fact> =
            facts.iter().map(|fact| (fact.key.as_str(), fact)).collect();
        let refused = by_key["host.text:/etc/shadow"].unavailable_reason().unwrap_or_default();
        assert!(refused.contains("secret"), "{refused}");
        assert!(by_key["host.unknown"].unavailable_reason().is_some());
        match &by_key["host.file:/etc/does-not-exist"].value {
            FactValue::Available { value } => assert_eq!(value["exists"], false),
            FactValue::Unavailable { reason } => panic!("{reason}"),
        }
        match &by_key["host.os"].value {
            FactValue::Available { value } => assert!(value["kernel"].is_string(), "{value}"),
            FactValue::Unavailable { reason } => panic!("{reason}"),
        }
    }
}
