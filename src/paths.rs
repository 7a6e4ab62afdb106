//! What a path given as an input is, in words, for the errors about it: a
//! directory given for a file (or a file for a directory) is said to be one,
//! not reported as missing, and a FIFO or device is refused before a read
//! that could block for ever.

use std::path::Path;

/// What is wrong with `path` as an input file, if anything: `None` for a
/// regular file (after links), and for a pipe when `pipe_ok` (`<(...)`).
pub fn file_problem(path: &Path, pipe_ok: bool) -> Option<String> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Some("no such file".to_owned()),
        Err(err) => return Some(format!("cannot be read: {err}")),
    };
    let kind = metadata.file_type();
    if kind.is_file() || (pipe_ok && std::os::unix::fs::FileTypeExt::is_fifo(&kind)) {
        return None;
    }
    Some(format!("is {}, not a file", kind_name(kind)))
}

/// What is wrong with `path` as an input directory, if anything.
pub fn dir_problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => None,
        Ok(metadata) => Some(format!("is {}, not a directory", kind_name(metadata.file_type()))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Some("no such directory".to_owned()),
        Err(err) => Some(format!("cannot be read: {err}")),
    }
}

fn kind_name(kind: std::fs::FileType) -> String {
    format!("a {}", crate::regular_file::FileKind::of(kind).describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_described_by_what_they_are() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").expect("write");
        assert_eq!(file_problem(&file, false), None);
        assert_eq!(file_problem(dir.path(), false).as_deref(), Some("is a directory, not a file"));
        assert_eq!(file_problem(&dir.path().join("missing"), false).as_deref(), Some("no such file"));
        assert_eq!(file_problem(Path::new("/dev/null"), false).as_deref(), Some("is a character device, not a file"));
        assert_eq!(dir_problem(dir.path()), None);
        assert_eq!(dir_problem(&file).as_deref(), Some("is a regular file, not a directory"));
        assert_eq!(dir_problem(&dir.path().join("missing")).as_deref(), Some("no such directory"));
    }
}
