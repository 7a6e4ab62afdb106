//! Reading a file that must be a regular file of bounded size: the one way
//! posture reads host configuration files and content files, so that a FIFO,
//! a device (`/dev/zero`) or a huge file can never block or exhaust a run.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest configuration file read (`/etc/...`, sshd includes, PAM
/// stacks, `host.text`): far above any real one, far below a memory problem.
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a file could not be read as a regular file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing at the path (or a link to nothing).
    #[error("no such file")]
    Missing,
    /// The path (or the end of its links) is not a regular file.
    #[error("is a {0}, not a regular file")]
    NotRegular(&'static str),
    /// The file is larger than the limit.
    #[error("is larger than the {} limit", describe_size(*.0))]
    TooLarge(u64),
    /// Any other failure (permission denied, a link loop, an I/O error).
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The kind of a file system entry, as `lstat` reports it (locally, or
/// over SSH): the one naming of file kinds for fact values and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Socket,
    Fifo,
    BlockDevice,
    CharDevice,
}

impl FileKind {
    /// The kind of a local entry.
    pub fn of(file_type: fs::FileType) -> Self {
        if file_type.is_symlink() {
            FileKind::Symlink
        } else if file_type.is_dir() {
            FileKind::Dir
        } else if file_type.is_block_device() {
            FileKind::BlockDevice
        } else if file_type.is_char_device() {
            FileKind::CharDevice
        } else if file_type.is_fifo() {
            FileKind::Fifo
        } else if file_type.is_socket() {
            FileKind::Socket
        } else {
            // Linux has no other kind of entry.
            FileKind::File
        }
    }

    /// The name used in fact values (`host.file` `type`).
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Dir => "dir",
            FileKind::Symlink => "symlink",
            FileKind::Socket => "socket",
            FileKind::Fifo => "fifo",
            FileKind::BlockDevice => "block",
            FileKind::CharDevice => "char",
        }
    }

    /// The name used in messages, after "a": "FIFO (named pipe)", "character device".
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::File => "regular file",
            FileKind::Dir => "directory",
            FileKind::Symlink => "symbolic link",
            FileKind::Socket => "socket",
            FileKind::Fifo => "FIFO (named pipe)",
            FileKind::BlockDevice => "block device",
            FileKind::CharDevice => "character device",
        }
    }
}

/// `16 MiB`, `64 KiB`, `100 bytes`.
pub fn describe_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// The whole content of `path`, following links, when it ends at a regular
/// file of at most `limit` bytes.
///
/// The type is checked before opening (opening some devices has effects) and
/// again on the open file, which is opened non-blocking, so a file swapped
/// for a FIFO in between is refused rather than waited on; at most
/// `limit + 1` bytes are ever read, so a file growing while read is refused
/// too.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_checked(path, limit, Links::Follow)
}

/// As [`read`], but a link is refused rather than followed (`path` itself
/// must be a regular file): for files inside a folder posture did not write,
/// such as an evidence pack under verification.
pub fn read_without_links(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_checked(path, limit, Links::Refuse)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Links {
    Follow,
    Refuse,
}

/// [`read`] and [`read_without_links`]: the type checked before opening and
/// on the open file, at most `limit + 1` bytes read.
fn read_checked(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, ReadError> {
    let (metadata, flags) = match links {
        Links::Follow => (fs::metadata(path), libc::O_NONBLOCK),
        Links::Refuse => (fs::symlink_metadata(path), libc::O_NONBLOCK | libc::O_NOFOLLOW),
    };
    check_regular(&metadata.map_err(missing_or_io)?, limit)?;
    let file = OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(missing_or_io)?;
    check_regular(&file.metadata()?, limit)?;
    read_bounded(file, limit)
}

fn check_regular(metadata: &fs::Metadata, limit: u64) -> Result<(), ReadError> {
    if !metadata.file_type().is_file() {
        return Err(ReadError::NotRegular(FileKind::of(metadata.file_type()).describe()));
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(())
}

fn read_bounded(file: File, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(bytes)
}

fn missing_or_io(error: io::Error) -> ReadError {
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => ReadError::Missing,
        _ => ReadError::Io(error),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;

    #[test]
    fn regular_files_and_links_to_them_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        fs::write(&path, "x = 1\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(read(&path, 100).unwrap(), b"x = 1\n");
        assert_eq!(read(&link, 100).unwrap(), b"x = 1\n");
        assert!(matches!(read(&dir.path().join("missing"), 100), Err(ReadError::Missing)));
        assert!(matches!(read(&path.join("below"), 100), Err(ReadError::Missing)));
    }

    #[test]
    fn devices_directories_and_big_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(read(&zero, 100).unwrap_err().to_string(), "is a character device, not a regular file");
        assert_eq!(read(dir.path(), 100).unwrap_err().to_string(), "is a directory, not a regular file");
        let big = dir.path().join("big");
        fs::write(&big, vec![b'x'; 2048]).unwrap();
        assert_eq!(read(&big, 1024).unwrap_err().to_string(), "is larger than the 1 KiB limit");
        assert_eq!(read(&big, 2048).unwrap().len(), 2048);
    }

    #[test]
    fn without_links_a_link_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        fs::write(&path, "{}").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(read_without_links(&path, 100).unwrap(), b"{}");
        assert_eq!(read_without_links(&link, 100).unwrap_err().to_string(), "is a symbolic link, not a regular file");
        assert_eq!(read_without_links(&path, 1).unwrap_err().to_string(), "is larger than the 1 bytes limit");
    }

    #[test]
    fn a_link_loop_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::os::unix::fs::symlink(dir.path().join("b"), &a).unwrap();
        std::os::unix::fs::symlink(&a, dir.path().join("b")).unwrap();
        assert!(matches!(read(&a, 100), Err(ReadError::Io(_))));
    }

    #[test]
    fn sizes_are_described_in_their_unit() {
        assert_eq!(describe_size(MAX_CONFIG_FILE_BYTES), "16 MiB");
        assert_eq!(describe_size(65536), "64 KiB");
        assert_eq!(describe_size(1000), "1000 bytes");
    }
}
