//! [`LocalTransport`]: the machine posture runs on, through the standard library.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::regular_file::{self, ReadError};

use super::{CommandOutput, FileKind, FileStat, Transport, TransportError};

/// The local host: commands run with `std::process`, files read with `std::fs`.
#[derive(Debug, Clone, Default)]
pub struct LocalTransport;

impl LocalTransport {
    pub fn new() -> Self {
        Self
    }
}

impl Transport for LocalTransport {
    fn describe(&self) -> String {
        "localhost".to_string()
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, TransportError> {
        let output = Command::new(program)
            .args(args)
            // Parsers read the C locale's wording and number formats.
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|error| match error.kind() {
                io::ErrorKind::NotFound => TransportError::CommandNotFound { program: program.to_string() },
                io::ErrorKind::PermissionDenied => TransportError::PermissionDenied { path: program.to_string() },
                _ => TransportError::Io { what: format!("running {program}"), source: error },
            })?;
        Ok(CommandOutput { status: output.status.code(), stdout: output.stdout, stderr: output.stderr })
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        match regular_file::read(Path::new(path), regular_file::MAX_CONFIG_FILE_BYTES) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(ReadError::Missing) => Ok(None),
            Err(ReadError::NotRegular(kind)) => {
                Err(TransportError::NotRegularFile { path: path.to_string(), kind: kind.to_string() })
            }
            Err(ReadError::TooLarge(limit)) => Err(TransportError::TooLarge { path: path.to_string(), limit }),
            Err(ReadError::Io(error)) => Err(io_error(path, error)),
        }
    }

    fn stat(&self, path: &str) -> Result<Option<FileStat>, TransportError> {
        let metadata = match fs::symlink_metadata(path) {
            Ok(metadata) => metadata,
            Err(error) => return absent_or_error(path, error),
        };
        let kind = FileKind::of(metadata.file_type());
        Ok(Some(FileStat {
            kind,
            mode: metadata.mode() & 0o7777,
            uid: metadata.uid(),
            gid: metadata.gid(),
            size: metadata.size(),
        }))
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<String>>, TransportError> {
        let entries = match fs::read_dir(path) {
            Ok(entries) => entries,
            Err(error) => return absent_or_error(path, error),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| io_error(path, error))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(Some(names))
    }
}

/// "Does not exist" is an answer, not an error: a missing path (or a path
/// through something that is not a directory) is `Ok(None)`.
fn absent_or_error<T>(path: &str, error: io::Error) -> Result<Option<T>, TransportError> {
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Ok(None),
        _ => Err(io_error(path, error)),
    }
}

fn io_error(path: &str, error: io::Error) -> TransportError {
    match error.kind() {
        io::ErrorKind::PermissionDenied => TransportError::PermissionDenied { path: path.to_string() },
        _ => TransportError::Io { what: path.to_string(), source: error },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;

    #[test]
    fn files_are_read_and_missing_files_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        fs::write(&path, "x = 1\n").unwrap();
        let transport = LocalTransport::new();
        let path = path.to_str().unwrap();
        assert_eq!(transport.read_file(path).unwrap(), Some(b"x = 1\n".to_vec()));
        let missing = dir.path().join("missing");
        assert_eq!(transport.read_file(missing.to_str().unwrap()).unwrap(), None);
        assert_eq!(transport.read_file(&format!("{path}/below-a-file")).unwrap(), None);
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("login.defs");
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let fifo = fifo.to_str().unwrap();
        let error = LocalTransport::new().read_file(fifo).unwrap_err();
        assert_eq!(error.to_string(), format!("{fifo} is a FIFO (named pipe), not a regular file"));
        let zero = dir.path().join("limits.conf");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let zero = zero.to_str().unwrap();
        let error = LocalTransport::new().read_file(zero).unwrap_err();
        assert_eq!(error.to_string(), format!("{zero} is a character device, not a regular file"));
    }

    #[test]
    fn stat_does_not_follow_symlinks_and_keeps_special_bits() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "12345").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o4750)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let transport = LocalTransport::new();
        let stat = transport.stat(target.to_str().unwrap()).unwrap().unwrap();
        assert_eq!((stat.kind, stat.mode, stat.size), (FileKind::File, 0o4750, 5));
        let stat = transport.stat(link.to_str().unwrap()).unwrap().unwrap();
        assert_eq!(stat.kind, FileKind::Symlink);
        assert_eq!(transport.stat(dir.path().to_str().unwrap()).unwrap().unwrap().kind, FileKind::Dir);
        assert_eq!(transport.stat("/does/not/exist").unwrap(), None);
    }

    #[test]
    fn list_dir_gives_sorted_names() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b"), "").unwrap();
        fs::write(dir.path().join("a"), "").unwrap();
        let transport = LocalTransport::new();
        assert_eq!(transport.list_dir(dir.path().to_str().unwrap()).unwrap(), Some(vec!["a".into(), "b".into()]));
        assert_eq!(transport.list_dir("/does/not/exist").unwrap(), None);
    }

    #[test]
    fn commands_report_status_and_missing_programs() {
        let transport = LocalTransport::new();
        let output = transport.run("sh", &["-c", "echo $LC_ALL; echo oops >&2; exit 3"]).unwrap();
        assert_eq!(output.status, Some(3));
        assert_eq!(output.stdout, b"C\n");
        assert_eq!(output.stderr, b"oops\n");
        let missing = transport.run("/nonexistent/program", &[]);
        assert!(matches!(missing, Err(TransportError::CommandNotFound { .. })), "{missing:?}");
    }

    #[test]
    fn permission_denied_names_the_path() {
        // Root reads everything, so only a non-root run can see the denial.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        fs::write(&path, "x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
        let path = path.to_str().unwrap();
        match LocalTransport::new().read_file(path) {
            Ok(_) => {} // running as root
            Err(error) => assert_eq!(error.to_string(), format!("{path}: permission denied")),
        }
    }
}
