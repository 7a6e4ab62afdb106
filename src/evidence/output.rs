//! The output folder (`--out`) as posture's alone: the check that refuses a
//! folder holding anything posture did not write, the hidden staging folder
//! the whole new pack is built in, and the one-step swap that puts it in
//! place (so an interrupted, failed or concurrent audit leaves the old
//! complete pack or the new complete one, never a mix).
//!
//! Posture recognises its own earlier output by name and by the marker file
//! [`MARKER`] it writes into the folder (tool, run id, the names written),
//! never by reading a manifest. Links are never followed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic_write::parent_of;
use crate::report::format::FORMATS;

use super::{io_error, safe_relative, PackError, CONTENT_DIR, FACTS, MANIFEST, SIGNATURE, TEMPLATES_DIR, WAIVERS};

/// The marker posture writes into every output folder (a file of the pack).
pub const MARKER: &str = ".posture-output";
/// The tool name a marker must carry.
const TOOL: &str = "posture";
/// The top-level names posture writes into an output folder besides the
/// reports (one per output format) and the folders of [`OWN_DIRS`].
const OWN_NAMES: &[&str] = &[FACTS, WAIVERS, MANIFEST, SIGNATURE, MARKER];
/// Entries named in a refusal before "and N more".
const LISTED_ENTRIES: usize = 10;

/// The marker's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    pub tool: String,
    pub run_id: String,
    /// Every file of the folder posture wrote, by `/`-separated relative path.
    pub files: Vec<String>,
}

/// The folders posture writes into an output folder (the content and the templates a run used).
const OWN_DIRS: &[&str] = &[CONTENT_DIR, TEMPLATES_DIR];

/// Whether `relative` is a folder posture writes into an output folder.
fn is_own_dir(relative: &str) -> bool {
    OWN_DIRS.contains(&relative) || (relative.contains('/') && is_own_name(relative))
}

/// Whether `relative` is a name posture writes into an output folder.
fn is_own_name(relative: &str) -> bool {
    if safe_relative(relative).is_err() {
        return false;
    }
    match relative.split_once('/') {
        Some((first, _)) => OWN_DIRS.contains(&first),
        None => OWN_NAMES.contains(&relative) || FORMATS.iter().any(|format| format.file == relative),
    }
}

/// One entry found below a folder, links not followed.
struct Entry {
    relative: String,
    kind: std::fs::FileType,
}

/// Every entry below `dir` (depth first, sorted), without following links.
fn entries(dir: &Path) -> Result<Vec<Entry>, PackError> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((current, prefix)) = stack.pop() {
        let listing = std::fs::read_dir(&current).map_err(|err| io_error(&current, err))?;
        for entry in listing {
            let entry = entry.map_err(|err| io_error(&current, err))?;
            let kind = entry.file_type().map_err(|err| io_error(&entry.path(), err))?;
            let relative = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if kind.is_dir() {
                stack.push((entry.path(), format!("{relative}/")));
            }
            found.push(Entry { relative, kind });
        }
    }
    found.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(found)
}

/// The marker of `dir`, when it holds a valid one (a regular file, not a link).
fn read_marker(dir: &Path) -> Option<Marker> {
    let path = dir.join(MARKER);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.file_type().is_file() || meta.len() > 16 * 1024 * 1024 {
        return None;
    }
    let marker: Marker = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    (marker.tool == TOOL).then_some(marker)
}

/// The entries of `dir` that posture did not write: everything when there is
/// no marker; else links, special files, and files not both of posture's
/// names and listed in the marker.
fn foreign_entries(dir: &Path) -> Result<Vec<String>, PackError> {
    let found = entries(dir)?;
    let Some(marker) = read_marker(dir) else {
        return Ok(found.into_iter().filter(|e| !e.relative.contains('/')).map(|e| e.relative).collect());
    };
    let listed: std::collections::BTreeSet<&str> =
        marker.files.iter().map(String::as_str).filter(|name| is_own_name(name)).collect();
    let mut foreign_dirs: Vec<String> = Vec::new();
    let foreign = found
        .into_iter()
        .filter(|entry| {
            // What is inside a foreign folder is named by that folder.
            if foreign_dirs.iter().any(|dir| entry.relative.starts_with(dir.as_str())) {
                return false;
            }
            let own = if entry.kind.is_dir() {
                is_own_dir(&entry.relative)
            } else {
                entry.kind.is_file() && (listed.contains(entry.relative.as_str()) || entry.relative == MARKER)
            };
            if !own && entry.kind.is_dir() {
                foreign_dirs.push(format!("{}/", entry.relative));
            }
            !own
        })
        .map(|entry| if entry.kind.is_symlink() { format!("{} (a link)", entry.relative) } else { entry.relative })
        .collect();
    Ok(foreign)
}

/// Refuses an output folder posture may not write into: a link, not a
/// folder, or a folder holding anything but posture's own earlier output.
/// Also removes the stale staging folders of audits that are no longer
/// running. Called before any fact is collected, and again before the swap.
pub fn check(out: &Path) -> Result<(), PackError> {
    remove_stale_staging(out);
    let meta = match std::fs::symlink_metadata(out) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io_error(out, err)),
    };
    let refuse = |message: String| PackError::Output { path: out.display().to_string(), message };
    if meta.file_type().is_symlink() {
        return Err(refuse(
            "is a symbolic link; posture writes only into a real folder: give the folder itself or a new one".into(),
        ));
    }
    if !meta.is_dir() {
        return Err(refuse("exists and is not a folder".into()));
    }
    let foreign = foreign_entries(out)?;
    if foreign.is_empty() {
        return Ok(());
    }
    let mut names = foreign.iter().take(LISTED_ENTRIES).cloned().collect::<Vec<_>>().join(", ");
    if foreign.len() > LISTED_ENTRIES {
        names.push_str(&format!(" and {} more", foreign.len() - LISTED_ENTRIES));
    }
    Err(refuse(format!(
        "holds {} entr{} posture did not write: {names}. The output folder is posture's alone (it replaces its own \
         earlier output, marked by {MARKER}, and nothing else): move these away, or give --out a new or empty folder",
        foreign.len(),
        if foreign.len() == 1 { "y" } else { "ies" }
    )))
}

/// Removes the files posture wrote into `dir` (by name and, unless `any_own`,
/// listed in its marker; links never followed), the emptied folders, and
/// `dir` when nothing else is left. Returns whether `dir` is gone.
fn remove_own(dir: &Path, any_own: bool) -> bool {
    if any_own {
        return remove_own_files(dir, &is_own_name);
    }
    let Some(marker) = read_marker(dir) else { return false };
    remove_own_files(dir, &|relative| is_own_name(relative) && marker.files.iter().any(|f| f == relative))
}

fn remove_own_files(dir: &Path, removable: &dyn Fn(&str) -> bool) -> bool {
    let Ok(found) = entries(dir) else { return false };
    for entry in found.iter().filter(|e| e.kind.is_file() && removable(&e.relative) && e.relative != MARKER) {
        let _ = std::fs::remove_file(dir.join(&entry.relative));
    }
    // Deepest first, so a folder is empty when its turn comes.
    for entry in found.iter().rev().filter(|e| e.kind.is_dir() && is_own_dir(&e.relative)) {
        let _ = std::fs::remove_dir(dir.join(&entry.relative));
    }
    let _ = std::fs::remove_file(dir.join(MARKER));
    std::fs::remove_dir(dir).is_ok()
}

/// `.<out name>.posture-staging-`: the prefix of the staging folders of `out`.
fn staging_prefix(out: &Path) -> String {
    let name = out.file_name().map_or_else(|| "posture-report".into(), |n| n.to_string_lossy().into_owned());
    format!(".{name}.posture-staging-")
}

/// Removes the staging folders beside `out` left by audits no longer running
/// (killed with SIGKILL, a crash): recognised by name, the process id in it,
/// and the marker inside.
fn remove_stale_staging(out: &Path) {
    let prefix = staging_prefix(out);
    let Ok(listing) = std::fs::read_dir(parent_of(out)) else { return };
    for entry in listing.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|pid| pid.parse::<u32>().ok()) else { continue };
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        let running = Path::new("/proc").join(pid.to_string()).exists();
        if is_dir && !running && read_marker(&entry.path()).is_some() {
            remove_own(&entry.path(), true);
        }
    }
}

/// The hidden folder beside `--out` a run's complete output is built in,
/// and the files written into it (the one list the manifest and the
/// archive are made from). Removed when dropped before [`Staging::commit`].
pub struct Staging {
    out: PathBuf,
    dir: PathBuf,
    run_id: String,
    written: BTreeMap<String, String>,
    /// Set once the swap was attempted: the folder is then no longer this run's alone.
    swapped: bool,
}

impl Staging {
    /// Creates the staging folder beside `out` (same parent, same file system).
    pub fn create(out: &Path, run_id: &str) -> Result<Self, PackError> {
        let parent = parent_of(out);
        std::fs::create_dir_all(&parent).map_err(|err| io_error(&parent, err))?;
        let short: String = run_id.chars().filter(char::is_ascii_alphanumeric).take(12).collect();
        let dir = parent.join(format!("{}{}-{short}", staging_prefix(out), std::process::id()));
        std::fs::create_dir(&dir).map_err(|err| io_error(&dir, err))?;
        crate::atomic_write::track(&dir);
        let staging =
            Self { out: out.to_path_buf(), dir, run_id: run_id.to_owned(), written: BTreeMap::new(), swapped: false };
        // A first marker, so a staging folder left by a crash is known as posture's.
        staging.write_marker(&[])?;
        Ok(staging)
    }

    /// The staging folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The files written so far, with their SHA-256.
    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.written
    }

    /// Writes one file of the output (a new file; 0644, or 0600 for the facts).
    pub fn write(&mut self, relative: &str, bytes: &[u8]) -> Result<(), PackError> {
        use std::io::Write;
        self.write_with(relative, |mut file| file.write_all(bytes))
    }

    /// Writes one file of the output with `fill` (given the new file, 0644 or
    /// 0600 for the facts), synced, and records it.
    pub fn write_with<E: std::fmt::Display>(
        &mut self,
        relative: &str,
        fill: impl FnOnce(&std::fs::File) -> Result<(), E>,
    ) -> Result<(), PackError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join(safe_relative(relative)?);
        {
            // Under the lock an interruption takes to remove the staging
            // folder: a write either ends before the removal or never starts,
            // so it cannot bring back a folder the handler removed. (`fill`
            // must not take it again: it is not reentrant.)
            let _writing = crate::atomic_write::lock();
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|err| io_error(parent, err))?;
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(file_mode(relative))
                .open(&path)
                .map_err(|err| io_error(&path, err))?;
            fill(&file).map_err(|err| io_error(&path, err))?;
            file.sync_all().map_err(|err| io_error(&path, err))?;
        }
        self.adopt(relative)
    }

    /// Records a file another module wrote at [`Staging::path`]`/relative`
    /// (a regular file, not a link), reading it back for its SHA-256.
    pub fn adopt(&mut self, relative: &str) -> Result<(), PackError> {
        let path = self.dir.join(safe_relative(relative)?);
        let meta = std::fs::symlink_metadata(&path).map_err(|err| io_error(&path, err))?;
        if !meta.file_type().is_file() {
            return Err(io_error(&path, "not a regular file"));
        }
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(file_mode(relative)))
            .map_err(|err| io_error(&path, err))?;
        let bytes = std::fs::read(&path).map_err(|err| io_error(&path, err))?;
        self.written.insert(relative.to_owned(), crate::catalog::sha256_hex(&bytes));
        Ok(())
    }

    /// Writes the marker, listing the files written so far and `also` (the
    /// manifest and signature, written after it).
    pub fn write_marker(&self, also: &[&str]) -> Result<(), PackError> {
        let mut files: Vec<String> = self.written.keys().cloned().collect();
        files.extend(also.iter().map(|name| (*name).to_owned()));
        files.push(MARKER.to_owned());
        files.sort();
        files.dedup();
        let marker = Marker { tool: TOOL.to_owned(), run_id: self.run_id.clone(), files };
        let path = self.dir.join(MARKER);
        let text = serde_json::to_string_pretty(&marker).map_err(|err| io_error(&path, err))? + "\n";
        std::fs::write(&path, text).map_err(|err| io_error(&path, err))
    }

    /// Records the marker (once final) as a file of the pack.
    pub fn adopt_marker(&mut self) -> Result<(), PackError> {
        self.adopt(MARKER)
    }

    /// Puts the staging folder in place of `--out` in one step: a rename
    /// when `--out` does not exist, else an atomic exchange followed by the
    /// removal of the old output (posture's own files only, as checked).
    pub fn commit(mut self) -> Result<(), PackError> {
        check(&self.out)?;
        // Held until the replaced copy is removed too: an interruption waits
        // for the swap and the removal, so it never leaves the old copy behind
        // at the hidden staging name.
        let mut pending = crate::atomic_write::lock();
        self.swapped = true;
        let result = swap(&self.dir, &self.out);
        pending.retain(|p| p != &self.dir);
        match result {
            Ok(true) => {
                let removed = remove_own(&self.dir, false);
                drop(pending);
                if !removed {
                    return Err(PackError::Output {
                        path: self.dir.display().to_string(),
                        message: format!(
                            "the previous output of {} was replaced and moved here, and holds files posture did not \
                             write, left in place",
                            self.out.display()
                        ),
                    });
                }
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(err) => {
                // Not swapped: still this run's own folder.
                let _ = std::fs::remove_dir_all(&self.dir);
                Err(err)
            }
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Only this run writes into its staging folder: all of it is posture's.
        if !self.swapped {
            let _ = std::fs::remove_dir_all(&self.dir);
            crate::atomic_write::untrack(&self.dir);
        }
    }
}

/// The mode of a written file: reports and content are shared (0644); the
/// collected facts describe the audited systems in detail (0600).
fn file_mode(relative: &str) -> u32 {
    if relative == FACTS {
        0o600
    } else {
        0o644
    }
}

/// Moves `staging` to `out`; true when an old `out` was exchanged and now
/// sits at `staging`. Retries when a concurrent run creates or replaces
/// `out` in between.
fn swap(staging: &Path, out: &Path) -> Result<bool, PackError> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    for _ in 0..16 {
        match renameat_with(CWD, staging, CWD, out, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(false),
            Err(Errno::EXIST | Errno::NOTEMPTY) => {}
            Err(Errno::INVAL | Errno::NOSYS) => return swap_without_exchange(staging, out),
            Err(err) => return Err(io_error(out, err)),
        }
        match renameat_with(CWD, staging, CWD, out, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(true),
            Err(Errno::NOENT) => continue,
            Err(Errno::INVAL | Errno::NOSYS) => return swap_without_exchange(staging, out),
            Err(err) => return Err(io_error(out, err)),
        }
    }
    Err(io_error(out, "replaced by other audits again and again; try again"))
}

/// For file systems without `RENAME_EXCHANGE`: the old output moves aside,
/// the new one takes its place (`out` is briefly absent, never mixed).
fn swap_without_exchange(staging: &Path, out: &Path) -> Result<bool, PackError> {
    let aside = staging.with_extension("previous");
    std::fs::rename(out, &aside).map_err(|err| io_error(out, err))?;
    if let Err(err) = std::fs::rename(staging, out) {
        let _ = std::fs::rename(&aside, out);
        return Err(io_error(out, err));
    }
    std::fs::rename(&aside, staging).map_err(|err| io_error(staging, err))?;
    Ok(true)
}

/// Writes the archive `archive_path` of the files `files` of `dir`: to a
/// hidden temporary file beside it, renamed over it once complete (0600:
/// it holds the facts).
pub fn archive(dir: &Path, files: &BTreeMap<String, String>, archive_path: &Path) -> Result<(), PackError> {
    crate::atomic_write::write_file(archive_path, 0o600, |file| write_archive(dir, files, file), io_error)
}

fn write_archive(dir: &Path, files: &BTreeMap<String, String>, file: &std::fs::File) -> Result<(), PackError> {
    let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    for relative in files.keys() {
        let path = dir.join(safe_relative(relative)?);
        let mut source = std::fs::File::open(&path).map_err(|err| io_error(&path, err))?;
        builder.append_file(relative, &mut source).map_err(|err| io_error(&path, err))?;
    }
    let encoder = builder.into_inner().map_err(|err| io_error(dir, err))?;
    encoder.finish().map_err(|err| io_error(dir, err))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_names_are_posture_outputs_and_content_only() {
        for own in ["report.json", "manifest.sig", MARKER, "content/checks/linux/a.rhai"] {
            assert!(is_own_name(own), "{own}");
        }
        for foreign in [".ssh/id_ed25519", "notes.txt", "content/../x", "/etc/shadow", "content"] {
            assert!(!is_own_name(foreign), "{foreign}");
        }
        assert!(is_own_dir("content") && is_own_dir("content/checks") && !is_own_dir(".ssh"));
    }

    #[test]
    fn a_folder_without_marker_is_all_foreign_and_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("report.json"), "mine").expect("write");
        assert_eq!(foreign_entries(dir.path()).expect("list"), ["report.json"]);
        assert!(!remove_own(dir.path(), false), "nothing removed without a marker");
        assert!(dir.path().join("report.json").is_file());
    }

    #[test]
    fn a_staging_folder_dropped_before_commit_is_removed() {
        let parent = tempfile::tempdir().expect("tmp");
        let out = parent.path().join("out");
        let mut staging = Staging::create(&out, "run-1").expect("staging");
        staging.write("report.json", b"{}").expect("write");
        let path = staging.path().to_path_buf();
        assert!(path.join(MARKER).is_file());
        drop(staging);
        assert!(!path.exists() && !out.exists());
    }
}
