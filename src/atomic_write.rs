//! Files and folders a run is still writing: each is built under a hidden
//! temporary name beside its final path, renamed into place once complete,
//! and removed if the run is interrupted (SIGINT, SIGTERM), so that no
//! interruption leaves a half-written file, or a temporary one in the user's
//! way. Imports nothing of posture's; every writer of an output file
//! (reports, archives, fact bundles, the staging folder) goes through it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The temporary files and folders of this run, removed on an interruption.
/// Held locked while one of them is written into or renamed into place, so
/// that an interruption waits for that step to finish and never races it.
static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The list of paths in progress, locked: while it is held, no interruption
/// removes anything (writes into a staging folder and swaps hold it).
pub fn lock() -> MutexGuard<'static, Vec<PathBuf>> {
    IN_PROGRESS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registers `path` (a file or folder) for removal if the run is interrupted.
pub fn track(path: &Path) {
    lock().push(path.to_path_buf());
}

/// Forgets `path`: it is complete (renamed into place) or already removed.
pub fn untrack(path: &Path) {
    lock().retain(|p| p != path);
}

/// Tracks `path` until the returned guard is dropped (a folder another
/// owner removes at its normal end, such as a `TempDir`).
pub fn track_while_alive(path: &Path) -> Tracking {
    track(path);
    Tracking(path.to_path_buf())
}

/// See [`track_while_alive`].
pub struct Tracking(PathBuf);

impl Drop for Tracking {
    fn drop(&mut self) {
        untrack(&self.0);
    }
}

/// Removes what an interrupted run was building; says so when it removed anything.
fn remove_in_progress(signal: &str) {
    let paths = lock();
    for path in paths.iter() {
        if path.is_dir() {
            let _ = std::fs::remove_dir_all(path);
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
    if !paths.is_empty() {
        eprintln!("posture: {signal}: removed the {} temporary file(s) or folder(s) it was writing", paths.len());
    }
    // The lock is kept: the process exits now, and nothing new may start.
    std::mem::forget(paths);
}

/// From now on, SIGINT, SIGTERM or SIGHUP removes the temporary files and
/// folders of this run (waiting for a step under way to finish), then exits
/// with 130, 143 or 129. Listens on a thread of its own, started once;
/// returns once the listener is installed.
pub fn remove_on_signal() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let (ready, listening) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new().name("posture-signals".to_owned()).spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                let _ = ready.send(());
                return;
            };
            runtime.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let listeners =
                    (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()));
                let _ = ready.send(());
                let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = listeners else { return };
                let (name, code) = tokio::select! {
                    _ = interrupt.recv() => ("interrupted (SIGINT)", 130),
                    _ = terminate.recv() => ("terminated (SIGTERM)", 143),
                    _ = hangup.recv() => ("hung up (SIGHUP)", 129),
                };
                remove_in_progress(name);
                std::process::exit(code);
            });
        });
        // Without a listener, files are still removed on a normal end; only
        // an interrupted run could then leave one behind.
        if spawned.is_ok() {
            let _ = listening.recv();
        }
    });
}

/// The folder `path` is in: `.` for a bare file name.
pub fn parent_of(path: &Path) -> PathBuf {
    path.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Writes the file `path` with `fill`, whole or not at all: into a hidden
/// temporary file beside it (`.NAME.posture-partial-XXXXXX`, with `mode`),
/// synced, then renamed over `path`. On an error, or an interruption, the
/// temporary file is removed and `path` is as it was. `io_error` says which
/// path an I/O error is about.
pub fn write_file<E>(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&File) -> Result<(), E>,
    io_error: impl Fn(&Path, std::io::Error) -> E,
) -> Result<(), E> {
    let parent = parent_of(path);
    std::fs::create_dir_all(&parent).map_err(|err| io_error(&parent, err))?;
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let temporary = tempfile::Builder::new()
        .prefix(&format!(".{name}.posture-partial-"))
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
        .tempfile_in(&parent)
        .map_err(|err| io_error(path, err))?;
    let temporary_path = temporary.path().to_path_buf();
    track(&temporary_path);
    // Set again: the mode given at creation is narrowed by the umask.
    let mode_set = temporary
        .as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
        .map_err(|err| io_error(&temporary_path, err));
    if let Err(err) = mode_set {
        untrack(&temporary_path);
        return Err(err);
    }
    let written = fill(temporary.as_file())
        .and_then(|()| temporary.as_file().sync_all().map_err(|err| io_error(&temporary_path, err)));
    let result = written.and_then(|()| {
        let _renaming = lock();
        temporary.persist(path).map(|_| ()).map_err(|err| io_error(path, err.error))
    });
    // Dropped unpersisted on an error: the temporary file is removed.
    untrack(&temporary_path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(path: &Path, err: std::io::Error) -> String {
        format!("{}: {err}", path.display())
    }

    #[test]
    fn a_file_is_written_whole_with_its_mode_and_nothing_beside_it() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("facts.json");
        std::fs::write(&path, "old").expect("old");
        write_file(&path, 0o600, |mut file| file.write_all(b"new").map_err(|e| e.to_string()), io).expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("list").flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("facts.json")]);
        assert!(!lock().iter().any(|p| p.starts_with(dir.path())));
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("report.html");
        std::fs::write(&path, "old").expect("old");
        let failed = write_file(&path, 0o644, |_| Err(String::from("disk full")), io);
        assert_eq!(failed, Err(String::from("disk full")));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "old");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }
}
