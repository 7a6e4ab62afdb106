//! An in-memory [`Transport`] for unit tests: a host made of files, denied
//! paths and canned command outputs.

use std::collections::{BTreeMap, BTreeSet};

use super::probe::command_line;
use super::{CommandOutput, FileKind, FileStat, Transport, TransportError};

#[derive(Debug, Default)]
pub(crate) struct FakeTransport {
    files: BTreeMap<String, Vec<u8>>,
    modes: BTreeMap<String, (u32, u32, u32)>,
    dirs: BTreeSet<String>,
    denied: BTreeSet<String>,
    commands: BTreeMap<String, CommandOutput>,
}

impl FakeTransport {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn file(mut self, path: &str, content: &str) -> Self {
        self.files.insert(path.to_string(), content.as_bytes().to_vec());
        self
    }

    pub(crate) fn file_with_owner(mut self, path: &str, content: &str, mode: u32, uid: u32, gid: u32) -> Self {
        self.modes.insert(path.to_string(), (mode, uid, gid));
        self.file(path, content)
    }

    /// An empty directory (directories holding files exist implicitly).
    pub(crate) fn dir(mut self, path: &str) -> Self {
        self.dirs.insert(path.to_string());
        self
    }

    pub(crate) fn denied(mut self, path: &str) -> Self {
        self.denied.insert(path.to_string());
        self
    }

    pub(crate) fn command(mut self, program: &str, args: &[&str], status: i32, stdout: &str, stderr: &str) -> Self {
        self.commands.insert(
            command_line(program, args),
            CommandOutput {
                status: Some(status),
                stdout: stdout.as_bytes().to_vec(),
                stderr: stderr.as_bytes().to_vec(),
            },
        );
        self
    }

    fn check_denied(&self, path: &str) -> Result<(), TransportError> {
        if self.denied.contains(path) {
            return Err(TransportError::PermissionDenied { path: path.to_string() });
        }
        Ok(())
    }

    fn is_dir(&self, path: &str) -> bool {
        let prefix = if path == "/" { "/".to_string() } else { format!("{path}/") };
        self.dirs.contains(path) || self.files.keys().chain(self.dirs.iter()).any(|entry| entry.starts_with(&prefix))
    }
}

impl Transport for FakeTransport {
    fn describe(&self) -> String {
        "fake".to_string()
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, TransportError> {
        self.commands
            .get(&command_line(program, args))
            .cloned()
            .ok_or_else(|| TransportError::CommandNotFound { program: program.to_string() })
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        self.check_denied(path)?;
        Ok(self.files.get(path).cloned())
    }

    fn stat(&self, path: &str) -> Result<Option<FileStat>, TransportError> {
        if let Some(content) = self.files.get(path) {
            let (mode, uid, gid) = self.modes.get(path).copied().unwrap_or((0o644, 0, 0));
            return Ok(Some(FileStat { kind: FileKind::File, mode, uid, gid, size: content.len() as u64 }));
        }
        if self.is_dir(path) {
            return Ok(Some(FileStat { kind: FileKind::Dir, mode: 0o755, uid: 0, gid: 0, size: 4096 }));
        }
        Ok(None)
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<String>>, TransportError> {
        self.check_denied(path)?;
        if !self.is_dir(path) {
            return Ok(None);
        }
        let prefix = if path == "/" { "/".to_string() } else { format!("{path}/") };
        let names: BTreeSet<String> = self
            .files
            .keys()
            .chain(self.dirs.iter())
            .filter_map(|entry| entry.strip_prefix(&prefix))
            .filter_map(|rest| rest.split('/').next())
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Some(names.into_iter().collect()))
    }
}
