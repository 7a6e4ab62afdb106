//! [`SshTransport`]: a remote host through the system `ssh` client, so that
//! `~/.ssh/config` (or `--ssh-config`), agents, jump hosts and known_hosts
//! work as they do for the user.
//!
//! - **One connection per host.** [`SshTransport::connect`] starts a
//!   ControlMaster (`-o ControlMaster=yes -o ControlPersist=60 -N`) with its
//!   socket in a private temporary directory; every batch runs over it
//!   (`-o ControlMaster=no`), and [`SshTransport::close`] (or drop) ends it
//!   with `ssh -O exit`. A batch never opens a second connection: when the
//!   master's socket is gone, the host is lost.
//! - **Host keys are verified.** `StrictHostKeyChecking=yes` unless the user
//!   asked for `accept-new` (`--accept-new-host-keys`: a host seen for the
//!   first time is recorded; a *changed* key is refused either way).
//!   `BatchMode=yes`: ssh never prompts. Agent and X11 forwarding and port
//!   forwardings are off whatever the configuration says.
//! - **One round trip per batch.** [`Transport::batch`] sends one script to
//!   `/bin/sh -s` on the host: for each request, a `printf` marker on stdout
//!   and stderr, a `command -v` check, the declared command of the request
//!   (`commands.rs`: the program, or `cat`/`find` for reads), and its exit
//!   status. A program that no fact kind declares is refused here, before
//!   anything is sent. With `sudo`, a request runs as `sudo -n -- ...`.
//! - **Failures are named.** Connection refused or timed out: unreachable;
//!   "Permission denied": login refused; "Host key verification failed":
//!   the host key is unknown or changed (with what to do); sudo's "a
//!   password is required": sudo refused; a batch cut short or the per-host
//!   deadline passed: connection lost. The first three and the last make
//!   every fact of the host unavailable with that reason.
//! - **Evidence.** Every command run is logged with its round trip and exit
//!   status ([`SshTransport::command_log`]).

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::batch::{DirEntry, Op, OpOutput, Request};
use super::commands::{self, Access};
use super::probe::command_line;
use super::{CommandOutput, FileKind, FileStat, Transport, TransportError, WalkEntry};
use crate::regular_file::MAX_CONFIG_FILE_BYTES;

/// How long the master stays up without clients if posture dies without
/// closing it.
const CONTROL_PERSIST_SECONDS: u64 = 60;

/// One host to reach over SSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The target's name in reports.
    pub name: String,
    /// What ssh is given: a host name, an address or a `Host` alias of the ssh configuration.
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
}

impl SshTarget {
    /// `user@host:port` with what is set, for messages.
    pub fn address(&self) -> String {
        let mut address = String::new();
        if let Some(user) = &self.user {
            address.push_str(user);
            address.push('@');
        }
        address.push_str(&self.host);
        if let Some(port) = self.port {
            address.push_str(&format!(":{port}"));
        }
        address
    }
}

/// How to run ssh, the same for every host of a run.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// The ssh client (`ssh` on the PATH).
    pub program: PathBuf,
    /// An ssh configuration file to use instead of `~/.ssh/config` (`-F`).
    pub config_file: Option<PathBuf>,
    /// Record the key of a host seen for the first time (`StrictHostKeyChecking=accept-new`).
    pub accept_new_host_keys: bool,
    /// How long to wait for the TCP connection and the SSH handshake.
    pub connect_timeout: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            program: PathBuf::from("ssh"),
            config_file: None,
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(15),
        }
    }
}

/// One command run on a host, for the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    /// Which round trip ran it (1 is the first batch after connecting).
    pub round_trip: usize,
    /// The command line as run (with `sudo -n --` when it ran as root).
    pub command: String,
    /// Its exit status; `None` when it did not run to the end or was not found.
    pub exit_status: Option<i32>,
    /// What happened when it has no exit status or was refused (`not found`,
    /// `sudo refused`, `connection lost`).
    pub note: Option<String>,
}

/// A remote host over one multiplexed SSH connection.
pub struct SshTransport {
    target: SshTarget,
    options: SshOptions,
    /// Holds the master's socket; removed with the transport.
    control_dir: tempfile::TempDir,
    control_path: PathBuf,
    deadline: Instant,
    marker: String,
    /// Why the host can no longer be used, once it cannot.
    lost: Mutex<Option<TransportError>>,
    round_trips: AtomicUsize,
    log: Mutex<Vec<CommandRecord>>,
    closed: Mutex<bool>,
}

impl std::fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTransport").field("target", &self.target).finish_non_exhaustive()
    }
}

impl SshTransport {
    /// Connects (starts the ControlMaster) and gives up at `deadline` (the
    /// host's timeout). An error says why in the words of [`TransportError`].
    pub fn connect(target: SshTarget, options: SshOptions, deadline: Instant) -> Result<Self, TransportError> {
        let control_dir = private_dir().map_err(|source| TransportError::Io {
            what: "creating a private directory for the SSH control socket".into(),
            source,
        })?;
        let control_path = control_dir.path().join("m");
        let marker = format!("posture-{}", uuid::Uuid::new_v4().simple());
        let transport = Self {
            target,
            options,
            control_path,
            control_dir,
            deadline,
            marker,
            lost: Mutex::new(None),
            round_trips: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            closed: Mutex::new(false),
        };
        transport.start_master()?;
        Ok(transport)
    }

    /// The target this transport reaches.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// Round trips made: batches sent over the connection (the connection
    /// itself not counted).
    pub fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::SeqCst)
    }

    /// Every command run on the host so far, in order.
    pub fn command_log(&self) -> Vec<CommandRecord> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Why the host can no longer be used, if it cannot.
    pub fn lost_reason(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(ToString::to_string)
    }

    /// Ends the master connection (`ssh -O exit`). Idempotent.
    pub fn close(&self) {
        let mut closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        if *closed {
            return;
        }
        *closed = true;
        if !self.control_path.exists() {
            return;
        }
        let mut command = self.ssh_command();
        command.args(["-O", "exit", "--", &self.target.host]);
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if let Ok(mut child) = command.spawn() {
            let _ = wait_until(&mut child, Instant::now() + Duration::from_secs(5));
        }
    }

    /// `ssh` with the options every invocation shares.
    fn ssh_command(&self) -> Command {
        let mut command = Command::new(&self.options.program);
        if let Some(config) = &self.options.config_file {
            command.arg("-F").arg(config);
        }
        let strict = if self.options.accept_new_host_keys { "accept-new" } else { "yes" };
        let connect_timeout = self.options.connect_timeout.as_secs().max(1);
        command.arg("-o").arg(format!("ControlPath={}", self.control_path.display()));
        for option in [
            "BatchMode=yes".to_string(),
            format!("StrictHostKeyChecking={strict}"),
            format!("ConnectTimeout={connect_timeout}"),
            "ServerAliveInterval=15".to_string(),
            "ServerAliveCountMax=2".to_string(),
            "ForwardAgent=no".to_string(),
            "ForwardX11=no".to_string(),
            "ClearAllForwardings=yes".to_string(),
            "PermitLocalCommand=no".to_string(),
        ] {
            command.arg("-o").arg(option);
        }
        if let Some(port) = self.target.port {
            command.arg("-p").arg(port.to_string());
        }
        if let Some(user) = &self.target.user {
            command.arg("-l").arg(user);
        }
        if let Some(identity) = &self.target.identity_file {
            command.arg("-i").arg(identity);
        }
        command.env("LC_ALL", "C");
        command
    }

    fn start_master(&self) -> Result<(), TransportError> {
        let log_path = self.control_dir.path().join("master.log");
        let log = File::create(&log_path)
            .map_err(|source| TransportError::Io { what: format!("creating {}", log_path.display()), source })?;
        let mut command = self.ssh_command();
        command
            .args(["-o", "ControlMaster=yes", "-o", &format!("ControlPersist={CONTROL_PERSIST_SECONDS}"), "-N", "-T"])
            .args(["--", &self.target.host])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // A file, not a pipe: the master lives on in the background.
            .stderr(Stdio::from(log));
        let mut child = command.spawn().map_err(|error| self.spawn_error(error))?;
        let status = wait_until(&mut child, self.deadline);
        let output = std::fs::read_to_string(&log_path).unwrap_or_default();
        match status {
            Some(status) if status.success() && self.control_path.exists() => Ok(()),
            Some(status) => Err(classify(&self.target, &output, status.code(), true)),
            None => Err(TransportError::Unreachable {
                target: self.target.name.clone(),
                message: "timed out connecting (the per-host timeout, --host-timeout, passed)".into(),
            }),
        }
    }

    fn spawn_error(&self, error: std::io::Error) -> TransportError {
        if error.kind() == std::io::ErrorKind::NotFound {
            TransportError::Unreachable {
                target: self.target.name.clone(),
                message: format!(
                    "the ssh client ({}) is not installed (apt-get install openssh-client)",
                    self.options.program.display()
                ),
            }
        } else {
            TransportError::Io { what: format!("running {}", self.options.program.display()), source: error }
        }
    }

    fn lose(&self, error: TransportError) -> TransportError {
        let mut lost = self.lost.lock().unwrap_or_else(PoisonError::into_inner);
        lost.get_or_insert(error).duplicate()
    }

    fn record(&self, records: Vec<CommandRecord>) {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).extend(records);
    }

    /// The remote command of a request, as run: (program, args, shown command line).
    fn remote_command(request: &Request) -> (String, Vec<String>) {
        let (program, args) = match &request.op {
            Op::Run { program, args } => (program.clone(), args.clone()),
            Op::ReadFile { path } => owned(Access::ReadFile.command(path, 0)),
            Op::Stat { path } => owned(Access::Stat.command(path, 0)),
            Op::ListDir { path } => owned(Access::ListDir.command(path, 0)),
            Op::Walk { path, max_depth } => owned(Access::Walk.command(path, *max_depth)),
        };
        (program, args)
    }

    /// Runs `requests` in one round trip; `None` entries were refused before.
    fn run_batch(&self, requests: &[Request]) -> Vec<Result<OpOutput, TransportError>> {
        let lost = self.lost.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(TransportError::duplicate);
        if let Some(lost) = lost {
            return requests.iter().map(|_| Err(lost.duplicate())).collect();
        }
        if Instant::now() >= self.deadline {
            let error = self.lose(timed_out(&self.target));
            return requests.iter().map(|_| Err(error.duplicate())).collect();
        }
        if !self.control_path.exists() {
            let error = self.lose(TransportError::ConnectionLost {
                target: self.target.name.clone(),
                message: "the SSH master connection has ended".into(),
            });
            return requests.iter().map(|_| Err(error.duplicate())).collect();
        }
        let round_trip = self.round_trips.fetch_add(1, Ordering::SeqCst) + 1;
        let mut script = format!("LC_ALL=C; export LC_ALL; M={}\n", self.marker);
        let mut refused: Vec<Option<TransportError>> = Vec::with_capacity(requests.len());
        let mut shown = Vec::with_capacity(requests.len());
        for (index, request) in requests.iter().enumerate() {
            let (program, args) = Self::remote_command(request);
            let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let line = command_line(&program, &arg_refs);
            let declared = match &request.op {
                Op::Run { .. } => commands::is_declared_program(&program, &arg_refs),
                _ => true,
            };
            if !declared {
                refused.push(Some(TransportError::NotDeclared { kind: "any host fact".into(), command: line.clone() }));
                shown.push(line);
                continue;
            }
            refused.push(None);
            let read_path = match &request.op {
                Op::ReadFile { path } => Some(path.as_str()),
                _ => None,
            };
            script.push_str(&op_script(index, &program, &line, request.sudo, read_path));
            shown.push(if request.sudo { format!("sudo -n -- {line}") } else { line });
        }
        script.push_str("exit 0\n");

        let mut command = self.ssh_command();
        command
            .args(["-o", "ControlMaster=no", "-T", "--", &self.target.host, "exec /bin/sh -s"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let outcome = run_with_deadline(command, script.as_bytes(), self.deadline);
        let (status, stdout, stderr) = match outcome {
            Ok(RunOutcome::Finished { status, stdout, stderr }) => (status, stdout, stderr),
            Ok(RunOutcome::TimedOut) => {
                let error = self.lose(timed_out(&self.target));
                self.record(not_run(round_trip, &shown, &refused, "timed out"));
                return requests.iter().map(|_| Err(error.duplicate())).collect();
            }
            Err(error) => {
                let error = self.spawn_error(error);
                return requests.iter().map(|_| Err(error.duplicate())).collect();
            }
        };
        let stdout_sections = sections(&stdout, &self.marker);
        let stderr_sections = sections(&stderr, &self.marker);
        let mut results = Vec::with_capacity(requests.len());
        let mut records = Vec::with_capacity(requests.len());
        let mut connection_error: Option<TransportError> = None;
        for (index, request) in requests.iter().enumerate() {
            if let Some(error) = refused[index].take() {
                records.push(CommandRecord {
                    round_trip,
                    command: shown[index].clone(),
                    exit_status: None,
                    note: Some("refused: not declared".into()),
                });
                results.push(Err(error));
                continue;
            }
            let Some((out, exit)) = stdout_sections.get(&index) else {
                let error = connection_error.get_or_insert_with(|| {
                    let ssh_said = outside_sections(&stderr, &self.marker);
                    let classified = classify(&self.target, &ssh_said, status, false);
                    self.lose(match classified {
                        TransportError::Unreachable { target, message } => {
                            TransportError::ConnectionLost { target, message }
                        }
                        other => other,
                    })
                });
                records.push(CommandRecord {
                    round_trip,
                    command: shown[index].clone(),
                    exit_status: None,
                    note: Some("connection lost".into()),
                });
                results.push(Err(error.duplicate()));
                continue;
            };
            let err = stderr_sections.get(&index).map(|(text, _)| text.as_slice()).unwrap_or_default();
            let (result, exit_status, note) = self.interpret(request, out, exit, err);
            records.push(CommandRecord { round_trip, command: shown[index].clone(), exit_status, note });
            results.push(result);
        }
        self.record(records);
        results
    }

    /// The answer to one request from its stdout, exit word and stderr.
    fn interpret(
        &self,
        request: &Request,
        stdout: &[u8],
        exit: &str,
        stderr: &[u8],
    ) -> (Result<OpOutput, TransportError>, Option<i32>, Option<String>) {
        let target = self.target.name.clone();
        let (program, _) = Self::remote_command(request);
        let status = match exit {
            "nf" => {
                return (Err(TransportError::CommandNotFound { program }), None, Some("not found".into()));
            }
            "nosudo" => {
                let message = "sudo is not installed (--sudo needs it)".to_string();
                return (Err(TransportError::SudoRefused { target, message }), None, Some("sudo not installed".into()));
            }
            "big" => {
                let error = TransportError::TooLarge { path: program_path(request), limit: MAX_CONFIG_FILE_BYTES };
                return (Err(error), None, Some("refused: too large".into()));
            }
            word if word.starts_with("notreg-") => {
                let kind = remote_kind(&word["notreg-".len()..]).map_or("special file", FileKind::describe).to_string();
                let error = TransportError::NotRegularFile { path: program_path(request), kind };
                return (Err(error), None, Some("refused: not a regular file".into()));
            }
            code => code.parse::<i32>().ok(),
        };
        let stderr_text = String::from_utf8_lossy(stderr).trim().to_string();
        if request.sudo && status == Some(1) && stderr_text.starts_with("sudo:") {
            let message = format!(
                "{} (`sudo -n` cannot ask for a password: allow the audit user to run the declared commands \
                 without one, or audit without --sudo)",
                first_line(&stderr_text)
            );
            return (Err(TransportError::SudoRefused { target, message }), status, Some("sudo refused".into()));
        }
        let result = match &request.op {
            Op::Run { .. } => {
                Ok(OpOutput::Run(CommandOutput { status, stdout: stdout.to_vec(), stderr: stderr.to_vec() }))
            }
            Op::ReadFile { path } => match status {
                // The file grew after the size check, or it could not be
                // checked as the login user (read with sudo).
                Some(0) if stdout.len() as u64 > MAX_CONFIG_FILE_BYTES => {
                    Err(TransportError::TooLarge { path: path.clone(), limit: MAX_CONFIG_FILE_BYTES })
                }
                Some(0) => Ok(OpOutput::File(Some(stdout.to_vec()))),
                _ => file_error(path, &stderr_text).map(|()| OpOutput::File(None)),
            },
            Op::Stat { path } => match status {
                Some(0) => parse_stat_line(String::from_utf8_lossy(stdout).trim())
                    .map(|stat| OpOutput::Stat(Some(stat)))
                    .ok_or_else(|| unexpected(path, stdout)),
                _ => file_error(path, &stderr_text).map(|()| OpOutput::Stat(None)),
            },
            Op::ListDir { path } => parse_listing(path, status, stdout, &stderr_text).map(|entries| {
                OpOutput::List(entries.map(|entries| {
                    entries.into_iter().map(|(name, stat)| DirEntry { name, stat: Some(stat) }).collect()
                }))
            }),
            Op::Walk { path, .. } => parse_listing(path, status, stdout, &stderr_text).map(|entries| {
                OpOutput::Walk(
                    entries.map(|entries| entries.into_iter().map(|(path, stat)| WalkEntry { path, stat }).collect()),
                )
            }),
        };
        (result, status, None)
    }
}

impl Drop for SshTransport {
    fn drop(&mut self) {
        self.close();
    }
}

impl Transport for SshTransport {
    fn describe(&self) -> String {
        self.target.name.clone()
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, TransportError> {
        let op = Op::Run { program: program.to_string(), args: args.iter().map(|arg| arg.to_string()).collect() };
        match self.one(op)? {
            OpOutput::Run(output) => Ok(output),
            _ => Err(mismatch(program)),
        }
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        match self.one(Op::ReadFile { path: path.to_string() })? {
            OpOutput::File(content) => Ok(content),
            _ => Err(mismatch(path)),
        }
    }

    fn stat(&self, path: &str) -> Result<Option<FileStat>, TransportError> {
        match self.one(Op::Stat { path: path.to_string() })? {
            OpOutput::Stat(stat) => Ok(stat),
            _ => Err(mismatch(path)),
        }
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<String>>, TransportError> {
        match self.one(Op::ListDir { path: path.to_string() })? {
            OpOutput::List(entries) => Ok(entries.map(|entries| entries.into_iter().map(|e| e.name).collect())),
            _ => Err(mismatch(path)),
        }
    }

    fn walk(&self, dir: &str, max_depth: usize) -> Result<Option<Vec<WalkEntry>>, TransportError> {
        match self.one(Op::Walk { path: dir.to_string(), max_depth })? {
            OpOutput::Walk(entries) => Ok(entries),
            _ => Err(mismatch(dir)),
        }
    }

    fn batches(&self) -> bool {
        true
    }

    fn batch(&self, requests: &[Request]) -> Vec<Result<OpOutput, TransportError>> {
        if requests.is_empty() {
            return Vec::new();
        }
        self.run_batch(requests)
    }
}

impl SshTransport {
    fn one(&self, op: Op) -> Result<OpOutput, TransportError> {
        let request = Request { op, sudo: false };
        self.run_batch(std::slice::from_ref(&request)).pop().unwrap_or_else(|| Err(mismatch("batch")))
    }
}

fn owned((program, args): (&'static str, Vec<String>)) -> (String, Vec<String>) {
    (program.to_string(), args)
}

fn mismatch(what: &str) -> TransportError {
    TransportError::Io {
        what: what.to_string(),
        source: std::io::Error::other("internal error: the answer does not match the request"),
    }
}

fn unexpected(path: &str, stdout: &[u8]) -> TransportError {
    TransportError::Io {
        what: path.to_string(),
        source: std::io::Error::other(format!(
            "unexpected output of find: {:?}",
            String::from_utf8_lossy(&stdout[..stdout.len().min(200)])
        )),
    }
}

fn timed_out(target: &SshTarget) -> TransportError {
    TransportError::ConnectionLost {
        target: target.name.clone(),
        message: "timed out (the per-host timeout, --host-timeout, passed before the host answered)".into(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

/// The path a request reads, for messages.
fn program_path(request: &Request) -> String {
    match &request.op {
        Op::ReadFile { path } | Op::Stat { path } | Op::ListDir { path } | Op::Walk { path, .. } => path.clone(),
        Op::Run { program, .. } => program.clone(),
    }
}

/// What a `find -printf %y` type letter is, for messages.
/// The kind of a remote entry from its `find -printf %y` / `stat` type
/// letter; `None` for the letters of no kind (`L` a link loop, `?` an error).
fn remote_kind(letter: &str) -> Option<FileKind> {
    match letter {
        "f" => Some(FileKind::File),
        "d" => Some(FileKind::Dir),
        "l" => Some(FileKind::Symlink),
        "s" => Some(FileKind::Socket),
        "p" => Some(FileKind::Fifo),
        "b" => Some(FileKind::BlockDevice),
        "c" => Some(FileKind::CharDevice),
        _ => None,
    }
}

/// The shell lines of one request: markers on both streams, the existence
/// check, the command, its status.
///
/// A read (`read_path`) is guarded on the host first: `find -L` (the login
/// user's view, metadata only) must see a regular file of at most
/// [`MAX_CONFIG_FILE_BYTES`], else the exit word is `notreg-<type letter>`
/// or `big` and nothing is opened, so a FIFO or `/dev/zero` never blocks
/// the batch. A path the login user cannot see (or a dangling link) is
/// left to the command, which says why (with sudo, it may read it).
fn op_script(index: usize, program: &str, line: &str, sudo: bool, read_path: Option<&str>) -> String {
    let quoted_program = command_line(program, &[]);
    let run = if sudo {
        format!(
            "if ! command -v sudo >/dev/null 2>&1; then s=nosudo; \
             elif command -v {quoted_program} >/dev/null 2>&1; then sudo -n -- {line} </dev/null; s=$?; else s=nf; fi"
        )
    } else {
        format!("if command -v {quoted_program} >/dev/null 2>&1; then {line} </dev/null; s=$?; else s=nf; fi")
    };
    let run = match read_path {
        Some(path) => {
            let quoted_path = command_line(path, &[]);
            format!(
                "g=$(find -L {quoted_path} -maxdepth 0 -printf '%y %s' </dev/null 2>/dev/null)\n\
                 case \"$g\" in\n\
                 'f '*) if [ \"${{g#f }}\" -gt {MAX_CONFIG_FILE_BYTES} ]; then s=big; else {run}; fi;;\n\
                 ''|'l '*) {run};;\n\
                 *) s=\"notreg-${{g%% *}}\";;\n\
                 esac"
            )
        }
        None => run,
    };
    format!(
        "printf '\\n%s B {index}\\n' \"$M\"; printf '\\n%s B {index}\\n' \"$M\" >&2\n{run}\n\
         printf '\\n%s E {index} %s\\n' \"$M\" \"$s\"; printf '\\n%s E {index} -\\n' \"$M\" >&2\n"
    )
}

/// The sections of a stream by request index: (content, exit word). A
/// section counts only when its end marker arrived.
fn sections(stream: &[u8], marker: &str) -> std::collections::BTreeMap<usize, (Vec<u8>, String)> {
    let mut found = std::collections::BTreeMap::new();
    let begin_prefix = format!("\n{marker} B ");
    let mut position = 0;
    while let Some(start) = find(stream, begin_prefix.as_bytes(), position) {
        let after_prefix = start + begin_prefix.len();
        let Some(line_end) = find(stream, b"\n", after_prefix) else { break };
        let Ok(index) = std::str::from_utf8(&stream[after_prefix..line_end]).unwrap_or_default().parse::<usize>()
        else {
            position = line_end;
            continue;
        };
        let content_start = line_end + 1;
        let end_marker = format!("\n{marker} E {index} ");
        let Some(end) = find(stream, end_marker.as_bytes(), content_start) else { break };
        let word_start = end + end_marker.len();
        let Some(word_end) = find(stream, b"\n", word_start) else { break };
        let word = String::from_utf8_lossy(&stream[word_start..word_end]).into_owned();
        found.insert(index, (stream[content_start..end].to_vec(), word));
        position = word_end;
    }
    found
}

/// What ssh itself printed on stderr: the text outside every section.
fn outside_sections(stream: &[u8], marker: &str) -> String {
    let text = String::from_utf8_lossy(stream);
    let mut kept = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with(&format!("{marker} B ")) {
            inside = true;
        } else if line.starts_with(&format!("{marker} E ")) {
            inside = false;
        } else if !inside && !line.trim().is_empty() {
            kept.push(line.trim_end_matches('\r'));
        }
    }
    kept.join("\n")
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() || needle.is_empty() {
        return None;
    }
    haystack[from..].windows(needle.len()).position(|window| window == needle).map(|offset| from + offset)
}

/// A failed `cat` or `find` of `path`: missing is `Ok(())` (the caller's
/// `None`), denied and other failures are errors.
fn file_error(path: &str, stderr: &str) -> Result<(), TransportError> {
    if stderr.contains("No such file or directory") || stderr.contains("Not a directory") {
        Ok(())
    } else if stderr.contains("Permission denied") {
        Err(TransportError::PermissionDenied { path: path.to_string() })
    } else {
        let message =
            if stderr.is_empty() { "failed without a message".to_string() } else { first_line(stderr).to_string() };
        Err(TransportError::Io { what: path.to_string(), source: std::io::Error::other(message) })
    }
}

/// `f 644 0 0 1520`: type letter, octal permission bits, uid, gid, size.
fn parse_stat_line(line: &str) -> Option<FileStat> {
    let mut fields = line.split(' ');
    let kind = remote_kind(fields.next()?).unwrap_or(FileKind::File);
    let mode = u32::from_str_radix(fields.next()?, 8).ok()?;
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    let size = fields.next()?.parse().ok()?;
    Some(FileStat { kind, mode, uid, gid, size })
}

/// The NUL-terminated records of a listing or a walk (`depth stat... name`):
/// the entries below the start, sorted by name. `None` when the start does
/// not exist or is not a directory.
fn parse_listing(
    path: &str,
    status: Option<i32>,
    stdout: &[u8],
    stderr: &str,
) -> Result<Option<Vec<(String, FileStat)>>, TransportError> {
    let mut start_is_dir = None;
    let mut entries = Vec::new();
    for record in stdout.split(|byte| *byte == 0).filter(|record| !record.is_empty()) {
        let text = String::from_utf8_lossy(record);
        let mut parts = text.splitn(7, ' ');
        let depth: usize = parts.next().and_then(|d| d.parse().ok()).ok_or_else(|| unexpected(path, record))?;
        let stat_fields: Vec<&str> = parts.by_ref().take(5).collect();
        let name = parts.next().unwrap_or_default().to_string();
        let stat = parse_stat_line(&stat_fields.join(" ")).ok_or_else(|| unexpected(path, record))?;
        if depth == 0 {
            start_is_dir = Some(stat.kind == FileKind::Dir);
        } else {
            entries.push((name, stat));
        }
    }
    if status != Some(0) {
        if stderr.contains("Permission denied") {
            return Err(TransportError::PermissionDenied { path: path.to_string() });
        }
        if start_is_dir.is_none() {
            return file_error(path, stderr).map(|()| None);
        }
        if !stderr.is_empty() {
            return Err(TransportError::Io {
                what: path.to_string(),
                source: std::io::Error::other(first_line(stderr).to_string()),
            });
        }
    }
    match start_is_dir {
        Some(true) => {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Some(entries))
        }
        _ => Ok(None),
    }
}

/// The reason ssh failed, from what it printed. `connecting`: the failure
/// happened before any command ran.
fn classify(target: &SshTarget, ssh_said: &str, status: Option<i32>, connecting: bool) -> TransportError {
    let said: String = ssh_said
        .lines()
        .map(|line| line.trim_end_matches('\r').trim())
        .filter(|line| !line.is_empty() && !line.chars().all(|c| c == '@'))
        .collect::<Vec<_>>()
        .join(" ");
    let said = said.chars().take(600).collect::<String>();
    let name = target.name.clone();
    let address = target.address();
    if said.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || said.contains("has changed and you have requested strict checking")
    {
        return TransportError::HostKeyRejected {
            target: name,
            message: format!(
                "the host key of {address} has CHANGED since it was recorded in known_hosts (possibly a \
                 man-in-the-middle attack); if the change is expected, remove the old key (`ssh-keygen -R <host>`) \
                 and verify the new one. posture never replaces a known key, not even with --accept-new-host-keys"
            ),
        };
    }
    if said.contains("Host key verification failed") || said.contains("host key is known for") {
        return TransportError::HostKeyRejected {
            target: name,
            message: format!(
                "no host key of {address} is known (not in known_hosts); verify the host's key and add it to \
                 known_hosts, or pass --accept-new-host-keys to record the key of a host seen for the first time"
            ),
        };
    }
    if said.contains("Permission denied") || said.contains("Too many authentication failures") {
        return TransportError::LoginRefused { target: name, message: said };
    }
    let unreachable = [
        "Connection refused",
        "timed out",
        "No route to host",
        "Could not resolve hostname",
        "Name or service not known",
        "Network is unreachable",
        "Temporary failure in name resolution",
    ];
    if unreachable.iter().any(|needle| said.contains(needle)) {
        return TransportError::Unreachable { target: name, message: said };
    }
    let message = if said.is_empty() {
        format!("ssh to {address} exited with status {}", status.map_or("(signal)".to_string(), |s| s.to_string()))
    } else {
        said
    };
    if connecting {
        TransportError::Unreachable { target: name, message }
    } else {
        TransportError::ConnectionLost { target: name, message }
    }
}

/// Commands of a batch that did not run, for the log.
fn not_run(round_trip: usize, shown: &[String], refused: &[Option<TransportError>], why: &str) -> Vec<CommandRecord> {
    shown
        .iter()
        .zip(refused)
        .map(|(command, refused)| CommandRecord {
            round_trip,
            command: command.clone(),
            exit_status: None,
            note: Some(if refused.is_some() { "refused: not declared".to_string() } else { why.to_string() }),
        })
        .collect()
}

/// A private (0700) directory for control sockets, short enough for a Unix
/// socket path (the temporary directory, else /tmp).
fn private_dir() -> std::io::Result<tempfile::TempDir> {
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() > 60 { PathBuf::from("/tmp") } else { base };
    let dir = tempfile::Builder::new().prefix("posture-ssh-").tempdir_in(base)?;
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(dir)
}

enum RunOutcome {
    Finished { status: Option<i32>, stdout: Vec<u8>, stderr: Vec<u8> },
    TimedOut,
}

/// Runs `command` with `input` on stdin, collecting stdout and stderr, and
/// kills it at `deadline`.
fn run_with_deadline(mut command: Command, input: &[u8], deadline: Instant) -> std::io::Result<RunOutcome> {
    let mut child = command.spawn()?;
    let (sender, receiver) = mpsc::channel::<(bool, Vec<u8>)>();
    let mut readers = 0;
    if let Some(mut stdout) = child.stdout.take() {
        let sender = sender.clone();
        readers += 1;
        std::thread::spawn(move || {
            let mut buffer = Vec::new();
            let _ = stdout.read_to_end(&mut buffer);
            let _ = sender.send((true, buffer));
        });
    }
    if let Some(mut stderr) = child.stderr.take() {
        let sender = sender.clone();
        readers += 1;
        std::thread::spawn(move || {
            let mut buffer = Vec::new();
            let _ = stderr.read_to_end(&mut buffer);
            let _ = sender.send((false, buffer));
        });
    }
    drop(sender);
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        // A writer thread: a large script must not block while the host's
        // output fills the pipes.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    for _ in 0..readers {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((true, bytes)) => stdout = bytes,
            Ok((false, bytes)) => stderr = bytes,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(RunOutcome::TimedOut);
            }
        }
    }
    let status = match wait_until(&mut child, deadline.max(Instant::now() + Duration::from_secs(5))) {
        Some(status) => status.code(),
        None => return Ok(RunOutcome::TimedOut),
    };
    Ok(RunOutcome::Finished { status, stdout, stderr })
}

/// Waits for `child` until `deadline`; kills it then and gives `None`.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;

    fn target() -> SshTarget {
        SshTarget {
            name: "web-1".into(),
            host: "10.0.0.5".into(),
            user: Some("audit".into()),
            port: Some(2222),
            identity_file: None,
        }
    }

    #[test]
    fn sections_are_cut_at_their_markers() {
        let marker = "posture-x";
        let stream = b"\nposture-x B 0\nhello\nposture-x\n\nposture-x E 0 0\n\nposture-x B 1\n\nposture-x E 1 nf\n\nposture-x B 2\npartial";
        let found = sections(stream, marker);
        assert_eq!(found[&0], (b"hello\nposture-x\n".to_vec(), "0".to_string()));
        assert_eq!(found[&1], (Vec::new(), "nf".to_string()));
        assert!(!found.contains_key(&2));
    }

    #[test]
    fn the_script_frames_each_command_and_quotes_it() {
        let script = op_script(3, "/usr/sbin/sshd", "/usr/sbin/sshd -T", true, None);
        assert!(script.contains("command -v sudo"), "{script}");
        assert!(script.contains("sudo -n -- /usr/sbin/sshd -T </dev/null"), "{script}");
        assert!(script.contains("%s E 3 %s"), "{script}");
        let script = op_script(0, "cat", "cat '/etc/it'\\''s'", false, Some("/etc/it's"));
        assert!(script.contains("then cat '/etc/it'\\''s' </dev/null; s=$?; else s=nf; fi"), "{script}");
        assert!(script.contains("find -L '/etc/it'\\''s' -maxdepth 0"), "{script}");
    }

    #[test]
    fn a_read_guard_refuses_fifos_devices_and_big_files_on_the_host() {
        // The guard is plain sh: run it here as the host would.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("login.defs");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let zero = dir.path().join("limits.conf");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let big = dir.path().join("big.conf");
        File::create(&big).unwrap().set_len(MAX_CONFIG_FILE_BYTES + 1).unwrap();
        let plain = dir.path().join("plain.conf");
        std::fs::write(&plain, "x\n").unwrap();
        let word = |path: &std::path::Path| {
            let path = path.to_str().unwrap();
            let line = command_line("cat", &[path]);
            let script = format!("M=m\n{}", op_script(0, "cat", &line, false, Some(path)));
            let output = Command::new("sh").arg("-c").arg(&script).output().unwrap();
            let found = sections(&output.stdout, "m");
            let (content, word) = found[&0].clone();
            (String::from_utf8_lossy(&content).into_owned(), word)
        };
        assert_eq!(word(&fifo).1, "notreg-p");
        assert_eq!(word(&zero).1, "notreg-c");
        assert_eq!(word(dir.path()).1, "notreg-d");
        assert_eq!(word(&big).1, "big");
        assert_eq!(word(&plain), ("x\n".to_string(), "0".to_string()));
        assert_eq!(word(&dir.path().join("missing")).1, "1");
    }

    #[test]
    fn listings_parse_with_their_stats_and_absence() {
        let stdout = b"0 d 755 0 0 4096 pam.d\x001 f 644 0 0 10 common-auth\x001 l 777 0 0 12 other\x00";
        let entries = parse_listing("/etc/pam.d", Some(0), stdout, "").unwrap().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].0, "common-auth");
        assert_eq!(entries[1].1.kind, FileKind::Symlink);
        let file = b"0 f 644 0 0 10 passwd\x00";
        assert_eq!(parse_listing("/etc/passwd", Some(0), file, "").unwrap(), None);
        let missing = "find: '/nope': No such file or directory";
        assert_eq!(parse_listing("/nope", Some(1), b"", missing).unwrap(), None);
        let denied = "find: '/etc/sudoers.d': Permission denied";
        let error = parse_listing("/etc/sudoers.d", Some(1), b"0 d 750 0 0 4096 sudoers.d\x00", denied).unwrap_err();
        assert!(matches!(error, TransportError::PermissionDenied { .. }), "{error}");
        assert_eq!(parse_stat_line("f 4755 0 0 12").unwrap().mode, 0o4755);
    }

    #[test]
    fn ssh_failures_are_named() {
        let t = target();
        let unknown = classify(&t, "No ED25519 host key is known for [10.0.0.5]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n", Some(255), true);
        assert!(
            matches!(&unknown, TransportError::HostKeyRejected { message, .. } if message.contains("--accept-new-host-keys")),
            "{unknown}"
        );
        let changed = classify(&t, "@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@\nHost key verification failed.\n", Some(255), true);
        assert!(
            matches!(&changed, TransportError::HostKeyRejected { message, .. } if message.contains("CHANGED")),
            "{changed}"
        );
        assert!(changed.to_string().contains("host key"), "{changed}");
        let refused = classify(&t, "audit@10.0.0.5: Permission denied (publickey).\n", Some(255), true);
        assert!(matches!(refused, TransportError::LoginRefused { .. }), "{refused}");
        let down = classify(&t, "ssh: connect to host 10.0.0.5 port 2222: Connection refused\n", Some(255), true);
        assert!(
            matches!(&down, TransportError::Unreachable { message, .. } if message.contains("Connection refused")),
            "{down}"
        );
        let cut = classify(&t, "", Some(255), false);
        assert!(matches!(cut, TransportError::ConnectionLost { .. }), "{cut}");
    }

    #[test]
    fn file_errors_distinguish_missing_from_denied() {
        assert!(file_error("/x", "cat: /x: No such file or directory").is_ok());
        assert!(matches!(
            file_error("/etc/shadow", "cat: /etc/shadow: Permission denied"),
            Err(TransportError::PermissionDenied { .. })
        ));
        assert!(matches!(file_error("/etc", "cat: /etc: Is a directory"), Err(TransportError::Io { .. })));
    }
}
