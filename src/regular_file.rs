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

/// The kind of a non-regular file, for messages: "FIFO", "character device".
pub fn describe_kind(file_type: fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "directory"
    } else if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_char_device() {
        "character device"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_symlink() {
        "symbolic link"
    } else if file_type.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// `16 MiB`, `64 KiB`, `100 bytes`.
pub fn describe_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes % 1024 == 0 {
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
    let metadata = fs::metadata(path).map_err(missing_or_io)?;
    check_regular(&metadata, limit)?;
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(missing_or_io)?;
    check_regular(&file.metadata()?, limit)?;
    read_bounded(file, limit)
}

fn check_regular(metadata: &fs::Metadata, limit: u64) -> Result<(), ReadError> {
    if !metadata.file_type().is_file() {
        return Err(ReadError::NotRegular(describe_kind(metadata.file_type())));
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
