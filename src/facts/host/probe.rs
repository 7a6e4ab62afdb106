//! The per-fact view of a [`Transport`]: every file read and command run is
//! recorded as the fact's [`FactSource`], and failures become the reason of
//! an unavailable fact. It builds on the pure helpers of `text.rs`, which
//! never import it.

use crate::facts::{redact, FactSource};

use super::text;
use super::{CommandOutput, FileStat, Transport, TransportError};

/// Why a fact could not be had; becomes the fact's unavailable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unavailable(String);

impl Unavailable {
    pub(super) fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    pub(super) fn into_reason(self) -> String {
        self.0
    }

    /// A command that ran but failed, with what it said on stderr.
    pub(super) fn command_failed(command_line: &str, output: &CommandOutput) -> Self {
        let ended = match output.status {
            Some(code) => format!("exit status {code}"),
            None => "terminated by a signal".to_string(),
        };
        let stderr = text::decode(&output.stderr);
        let message = text::collapse_whitespace(&text::truncate_chars(&stderr, 2000));
        if message.is_empty() {
            Self(format!("`{command_line}` failed ({ended})"))
        } else {
            Self(format!("`{command_line}` failed ({ended}): {message}"))
        }
    }
}

impl From<TransportError> for Unavailable {
    fn from(error: TransportError) -> Self {
        Self(error.to_string())
    }
}

/// The outcome of collecting one fact.
pub(super) type Collected = Result<serde_json::Value, Unavailable>;

/// A transport that remembers what it was asked, so the fact can say where
/// its value came from.
pub(super) struct Probe<'t> {
    transport: &'t dyn Transport,
    parts: Vec<FactSource>,
}

impl<'t> Probe<'t> {
    pub(super) fn new(transport: &'t dyn Transport) -> Self {
        Self { transport, parts: Vec::new() }
    }

    /// The transport itself, for bulk walks whose every step would drown the
    /// fact's source (record the walk once with [`Probe::record_path`]).
    pub(super) fn transport(&self) -> &'t dyn Transport {
        self.transport
    }

    /// Record `path` as a source without touching it.
    pub(super) fn record_path(&mut self, path: &str) {
        self.record(FactSource::File { path: path.to_string() });
    }

    /// Read a file as text (invalid UTF-8 replaced, key blocks redacted); `None` when it does not exist.
    pub(super) fn read_text(&mut self, path: &str) -> Result<Option<String>, TransportError> {
        Ok(self.read_bytes(path)?.map(|bytes| redact::redact_blocks(&text::decode(&bytes)).into_owned()))
    }

    pub(super) fn read_bytes(&mut self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        self.record_path(path);
        self.transport.read_file(path)
    }

    pub(super) fn stat(&mut self, path: &str) -> Result<Option<FileStat>, TransportError> {
        self.record_path(path);
        self.transport.stat(path)
    }

    pub(super) fn list_dir(&mut self, path: &str) -> Result<Option<Vec<String>>, TransportError> {
        self.record_path(path);
        self.transport.list_dir(path)
    }

    /// List `dirs` (missing ones are empty) and order their `suffix` files as
    /// [`text::order_drop_ins`] does.
    pub(super) fn drop_in_files(&mut self, dirs: &[&str], suffix: &str) -> Result<Vec<String>, TransportError> {
        let mut listings = Vec::new();
        for dir in dirs {
            if let Some(names) = self.list_dir(dir)? {
                listings.push((*dir, names));
            }
        }
        Ok(text::order_drop_ins(&listings, suffix))
    }

    /// Run a command; the source records it with its exit status.
    pub(super) fn run(&mut self, program: &str, args: &[&str]) -> Result<CommandOutput, TransportError> {
        let command = command_line(program, args);
        let result = self.transport.run(program, args);
        let exit_status = result.as_ref().ok().and_then(|output| output.status);
        self.record(FactSource::Command { command, exit_status });
        result
    }

    fn record(&mut self, part: FactSource) {
        if !self.parts.contains(&part) {
            self.parts.push(part);
        }
    }

    /// The fact's source: the one thing it came from, or all of them.
    pub(super) fn into_source(mut self) -> FactSource {
        if self.parts.len() == 1 {
            if let Some(only) = self.parts.pop() {
                return only;
            }
        }
        FactSource::Composite { parts: self.parts }
    }
}

/// A command as a user would type it in a POSIX shell, so the evidence can be
/// re-run by hand.
pub(super) fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program).chain(args.iter().copied()).map(shell_quote).collect::<Vec<_>>().join(" ")
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "_./=:,@%+-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    #[test]
    fn command_lines_are_quoted_like_a_shell() {
        assert_eq!(command_line("sysctl", &["-a"]), "sysctl -a");
        assert_eq!(
            command_line("dpkg-query", &["-W", "-f", r"${Package}\t${Version}\n"]),
            r"dpkg-query -W -f '${Package}\t${Version}\n'"
        );
        assert_eq!(command_line("echo", &["it's", ""]), r"echo 'it'\''s' ''");
    }

    #[test]
    fn sources_are_recorded_once_and_combined() {
        let transport = FakeTransport::new().file("/etc/a", "a").command("true", &[], 0, "", "");
        let mut probe = Probe::new(&transport);
        assert!(matches!(probe.read_text("/etc/a"), Ok(Some(_))));
        assert!(matches!(probe.read_text("/etc/a"), Ok(Some(_))));
        assert!(probe.run("true", &[]).is_ok());
        assert_eq!(
            probe.into_source(),
            FactSource::Composite {
                parts: vec![
                    FactSource::File { path: "/etc/a".into() },
                    FactSource::Command { command: "true".into(), exit_status: Some(0) },
                ]
            }
        );
    }

    #[test]
    fn a_failed_command_reason_carries_its_stderr() {
        let output =
            CommandOutput { status: Some(255), stdout: Vec::new(), stderr: b"no host keys\n  available\n".to_vec() };
        let reason = Unavailable::command_failed("/usr/sbin/sshd -T", &output).into_reason();
        assert_eq!(reason, "`/usr/sbin/sshd -T` failed (exit status 255): no host keys available");
    }
}
