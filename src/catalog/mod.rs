//! The catalog: built-in and user content (benchmarks, checks, preludes)
//! loaded, cross-validated and selected into a [`plan::Plan`].
//!
//! Loading never stops at the first problem: every problem is collected with
//! its file and line, the broken piece is left out, and the rest stays usable.
//! A control whose check is broken or missing is reported as an error by the
//! evaluation, so one bad file never hides the other results.

pub mod benchmark;
pub mod check;
pub mod error;
pub mod plan;
pub mod profile;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use sha2::{Digest, Sha256};

pub use benchmark::{Assessment, Benchmark, Control, Section, System};
pub use check::{CheckDef, CheckMeta};
pub use error::CatalogError;
pub use profile::Profile;

use crate::facts::FactKey;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/benchmarks");

/// One content file: where it is shown as coming from (its path below its
/// content root, whichever root), and its text.
#[derive(Debug, Clone)]
struct ContentFile {
    display_path: String,
    text: String,
}

/// A provider's prelude: shared functions merged into each of its checks.
#[derive(Debug, Clone)]
pub struct PreludeFile {
    pub path: String,
    pub source: String,
}

/// Everything loaded, plus every problem found while loading.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub benchmarks: BTreeMap<String, Benchmark>,
    pub checks: BTreeMap<String, CheckDef>,
    pub preludes: BTreeMap<String, Vec<PreludeFile>>,
    pub problems: Vec<CatalogError>,
    /// Every content file that was loaded, by display path: what an
    /// evidence pack copies of the files a run used.
    pub sources: BTreeMap<String, SourceFile>,
}

/// A loaded content file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path below its content root (`checks/aws/iam/x.rhai`,
    /// `cis-debian-linux-12.toml`): the same on every machine.
    pub relative: String,
    pub text: String,
}

impl Catalog {
    /// The severity of every check, by id.
    pub fn severities(&self) -> BTreeMap<String, crate::finding::Severity> {
        self.checks.iter().map(|(id, check)| (id.clone(), check.meta.severity)).collect()
    }

    /// Whether a waiver's control or check exists in this catalog.
    pub fn has_scope(&self, scope: &crate::waivers::Scope) -> bool {
        match scope {
            crate::waivers::Scope::Check { check } => self.checks.contains_key(check),
            crate::waivers::Scope::Control { benchmark, control } => self
                .benchmarks
                .values()
                .filter(|b| benchmark.as_deref().is_none_or(|wanted| wanted == b.id))
                .any(|b| b.controls.iter().any(|c| &c.id == control)),
        }
    }

    /// Loads the built-in content, then each `--content` directory over it
    /// (a file with the same relative path, or a check or benchmark with the
    /// same id, replaces the built-in one).
    pub fn load(content_dirs: &[PathBuf]) -> Result<Catalog, CatalogError> {
        let mut layers = vec![builtin_files()];
        for dir in content_dirs {
            layers.push(dir_files(dir)?);
        }
        Ok(Self::from_layers(layers))
    }

    /// Loads only the given directories, without the built-in content.
    pub fn load_dirs_only(content_dirs: &[PathBuf]) -> Result<Catalog, CatalogError> {
        let layers = content_dirs.iter().map(|dir| dir_files(dir)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_layers(layers))
    }

    fn from_layers(layers: Vec<BTreeMap<String, ContentFile>>) -> Catalog {
        let mut catalog = Catalog::default();
        let mut merged: BTreeMap<String, ContentFile> = BTreeMap::new();
        for layer in layers {
            let mut layer_check_ids: BTreeMap<String, String> = BTreeMap::new();
            let mut layer_files = Vec::new();
            for (relative, file) in layer {
                if let Some(id) = check_stem(&relative) {
                    if let Some(previous) = layer_check_ids.insert(id.to_owned(), file.display_path.clone()) {
                        catalog.problems.push(
                            CatalogError::new(
                                &file.display_path,
                                format!("duplicate check id '{id}': also defined in {previous}"),
                            )
                            .for_check(id),
                        );
                        continue;
                    }
                }
                layer_files.push((relative, file));
            }
            // A check of this layer replaces a lower layer's check with the same id, wherever it lives.
            merged.retain(|relative, _| check_stem(relative).is_none_or(|id| !layer_check_ids.contains_key(id)));
            merged.extend(layer_files);
        }
        catalog.sources = merged
            .iter()
            .map(|(relative, file)| {
                (file.display_path.clone(), SourceFile { relative: relative.clone(), text: file.text.clone() })
            })
            .collect();
        catalog.ingest(merged);
        catalog.cross_validate();
        catalog
    }

    fn ingest(&mut self, files: BTreeMap<String, ContentFile>) {
        for (relative, file) in files {
            let parts: Vec<&str> = relative.split('/').collect();
            match parts.as_slice() {
                [name] if name.ends_with(".toml") => {
                    let stem = name.trim_end_matches(".toml");
                    match benchmark::parse(&file.display_path, stem, &file.text) {
                        Ok((benchmark, problems)) => {
                            self.problems.extend(problems);
                            self.benchmarks.insert(benchmark.id.clone(), benchmark);
                        }
                        Err(problem) => self.problems.push(problem),
                    }
                }
                ["checks", provider, "prelude", name] if name.ends_with(".rhai") => {
                    self.preludes
                        .entry((*provider).to_owned())
                        .or_default()
                        .push(PreludeFile { path: file.display_path, source: file.text });
                }
                ["checks", provider, .., name] if name.ends_with(".rhai") => {
                    let stem = name.trim_end_matches(".rhai");
                    match check::parse(&file.display_path, provider, stem, &file.text, &known_fact) {
                        Ok(check) => {
                            self.checks.insert(check.meta.id.clone(), check);
                        }
                        Err(problems) => self.problems.extend(problems),
                    }
                }
                _ => {}
            }
        }
    }

    fn cross_validate(&mut self) {
        for benchmark in self.benchmarks.values() {
            for control in &benchmark.controls {
                for check_id in &control.checks {
                    let problem = match self.checks.get(check_id) {
                        None if self.problems.iter().any(|p| p.check.as_deref() == Some(check_id.as_str())) => None,
                        None => {
                            Some(format!("control '{}' maps to check '{check_id}', which does not exist", control.id))
                        }
                        Some(check) if !benchmark.providers.contains(&check.provider) => Some(format!(
                            "control '{}' maps to check '{check_id}' of provider '{}', but the benchmark is for '{}'",
                            control.id,
                            check.provider,
                            benchmark.providers.join("', '")
                        )),
                        Some(_) => None,
                    };
                    if let Some(message) = problem {
                        self.problems
                            .push(CatalogError::new(&benchmark.path, message).at(control.line, 1).for_check(check_id));
                    }
                }
            }
        }
    }

    /// The load problem of a check, when it failed to load.
    pub fn check_problem(&self, check_id: &str) -> Option<&CatalogError> {
        self.problems.iter().find(|p| p.check.as_deref() == Some(check_id))
    }
}

fn known_fact(key: &FactKey) -> bool {
    crate::facts::provider::Provider::is_known_fact(key)
}

/// The check id of a relative path `checks/<provider>/.../<id>.rhai`, not a prelude.
fn check_stem(relative: &str) -> Option<&str> {
    let parts: Vec<&str> = relative.split('/').collect();
    match parts.as_slice() {
        ["checks", _, "prelude", _] => None,
        ["checks", _, .., name] if name.ends_with(".rhai") => Some(name.trim_end_matches(".rhai")),
        _ => None,
    }
}

fn builtin_files() -> BTreeMap<String, ContentFile> {
    let mut files = BTreeMap::new();
    collect_builtin(&BUILTIN, &mut files);
    files
}

fn collect_builtin(dir: &Dir<'static>, files: &mut BTreeMap<String, ContentFile>) {
    for file in dir.files() {
        let relative = file.path().to_string_lossy().replace('\\', "/");
        let text = String::from_utf8_lossy(file.contents()).into_owned();
        files.insert(relative.clone(), ContentFile { display_path: relative.clone(), text });
    }
    for sub in dir.dirs() {
        collect_builtin(sub, files);
    }
}

/// The largest content file read (a benchmark or a check): far above any
/// real one.
const MAX_CONTENT_FILE_BYTES: u64 = crate::regular_file::MAX_CONFIG_FILE_BYTES;

/// Whether a file name is one the catalog reads.
fn is_content_name(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "toml" || ext == "rhai")
}

/// The content files below `root`, by path relative to it.
///
/// Only what lies inside `root` is read: a link whose target is outside it
/// (a link to `/`, to `/etc/...`) is refused, links are followed only to
/// directories and regular files inside it, each directory is walked once
/// (a link back up is a loop, refused with its path), and a content file
/// must be a regular file of at most [`MAX_CONTENT_FILE_BYTES`]: a FIFO
/// named `x.rhai` is refused without being opened, so loading never blocks.
fn dir_files(root: &Path) -> Result<BTreeMap<String, ContentFile>, CatalogError> {
    let display_root = root.display().to_string();
    if !root.is_dir() {
        return Err(CatalogError::new(display_root, "content directory does not exist or is not a directory"));
    }
    let canonical_root = std::fs::canonicalize(root)
        .map_err(|err| CatalogError::new(&display_root, format!("cannot read directory: {err}")))?;
    let mut files = BTreeMap::new();
    let mut walked = std::collections::BTreeSet::from([canonical_root.clone()]);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|err| CatalogError::new(dir.display().to_string(), format!("cannot read directory: {err}")))?;
        for entry in entries {
            let entry = entry
                .map_err(|err| CatalogError::new(dir.display().to_string(), format!("cannot read directory: {err}")))?;
            let path = entry.path();
            let problem = |message: String| CatalogError::new(path.display().to_string(), message);
            let own_type = entry.file_type().map_err(|err| problem(format!("cannot read: {err}")))?;
            let target_type = if own_type.is_symlink() {
                let resolved = match std::fs::canonicalize(&path) {
                    Ok(resolved) => resolved,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound && !is_content_name(&path) => continue,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        return Err(problem("is a link to nothing (a dangling symbolic link)".to_owned()));
                    }
                    Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
                        return Err(problem("is a symbolic link loop".to_owned()));
                    }
                    Err(err) => return Err(problem(format!("cannot follow the link: {err}"))),
                };
                let target_type = std::fs::metadata(&resolved)
                    .map_err(|err| problem(format!("cannot follow the link: {err}")))?
                    .file_type();
                let matters = target_type.is_dir() || is_content_name(&path);
                if matters && !resolved.starts_with(&canonical_root) {
                    return Err(problem(format!(
                        "is a link to {}, outside the content directory {display_root}: content is read only from \
                         inside its directory",
                        resolved.display()
                    )));
                }
                if target_type.is_dir() && !walked.insert(resolved.clone()) {
                    return Err(problem(format!(
                        "is a symbolic link loop: it leads back to {}, which is already part of the content",
                        resolved.display()
                    )));
                }
                target_type
            } else {
                if own_type.is_dir() {
                    // Recorded so that a link to it later is seen as the loop it is.
                    if let Ok(canonical) = std::fs::canonicalize(&path) {
                        walked.insert(canonical);
                    }
                }
                own_type
            };
            if target_type.is_dir() {
                stack.push(path);
                continue;
            }
            if !is_content_name(&path) {
                continue;
            }
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            let bytes = crate::regular_file::read(&path, MAX_CONTENT_FILE_BYTES)
                .map_err(|err| problem(format!("cannot read file: {err}")))?;
            let text = String::from_utf8(bytes).map_err(|_| problem("cannot read file: not UTF-8 text".to_owned()))?;
            // Shown by its path below the content root, as for the built-in
            // content: a message or report names the same file on every
            // machine, so a pack's findings re-derive byte for byte.
            files.insert(relative.clone(), ContentFile { display_path: relative, text });
        }
    }
    Ok(files)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
