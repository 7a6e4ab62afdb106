//! Evidence packs: the folder an audit writes its reports to, completed with
//! the facts it evaluated, the content and waivers that judged them and a
//! `manifest.json` holding the SHA-256 of every file, optionally signed with
//! ed25519 (`manifest.sig`), and optionally archived as one `.tar.gz`.
//! [`verify`] checks all of it and re-derives every verdict.
//!
//! Layout (every path relative, so a pack verifies on any machine):
//! `report.json` (+ the other report formats), `facts.json` (a fact bundle),
//! `content/<path below the content root>` (benchmarks, checks, preludes),
//! `waivers.toml` (when waivers were used), `templates/<name>` (the templates
//! the reports were rendered with), `manifest.json`, `manifest.sig`.

pub mod commands;
pub mod keys;
pub mod output;
pub mod verify;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::plan::Plan;
use crate::catalog::Catalog;
use crate::facts::target::TargetFacts;
use crate::report::model::Report;
use crate::script::Limits;

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
pub const FACTS: &str = "facts.json";
pub const REPORT: &str = crate::report::json::FORMAT.file;
pub const WAIVERS: &str = "waivers.toml";
pub const CONTENT_DIR: &str = "content";
pub const TEMPLATES_DIR: &str = "templates";
pub const MANIFEST_VERSION: u32 = 1;

/// What a pack holds and how to re-derive it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub manifest_version: u32,
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub tool: String,
    pub tool_version: String,
    /// The run's content hash (see the report's `run.content_hash`).
    pub content_hash: String,
    pub benchmarks: Vec<String>,
    pub targets: Vec<PackTarget>,
    /// The script limits the verdicts were computed under.
    pub limits: Limits,
    /// `ed25519:<hex public key>` of the key that signed `manifest.sig`, when signed.
    pub signed_by: Option<String>,
    /// SHA-256 (hex) of every other file of the pack, by relative path.
    pub files: BTreeMap<String, String>,
}

/// One audited target, as an auditor would name it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PackTarget {
    pub name: String,
    pub provider: String,
    /// The AWS account id (AWS targets).
    pub account_id: Option<String>,
    /// The regions audited (AWS targets).
    pub regions: Vec<String>,
    /// The host name (host targets).
    pub host: Option<String>,
}

/// Why a pack could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Key(String),
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    /// The output folder (`--out`) is not posture's to write into.
    #[error("--out {path}: {message}")]
    Output { path: String, message: String },
}

fn io_error(path: &Path, err: impl std::fmt::Display) -> PackError {
    PackError::Io { path: path.display().to_string(), message: err.to_string() }
}

/// What [`write`] needs beyond the reports already in the staging folder.
pub struct PackInput<'a> {
    pub catalog: &'a Catalog,
    pub plan: &'a Plan<'a>,
    pub targets: &'a [TargetFacts],
    pub report: &'a Report,
    /// The waivers file's text, when waivers were used.
    pub waivers_text: Option<&'a str>,
    pub limits: &'a Limits,
    /// The signing key file (`--sign`).
    pub signing_key: Option<&'a Path>,
    /// The templates the reports were rendered with, by name (see `report::template_texts`).
    pub templates: &'a [(String, String)],
}

/// Completes the reports in the staging folder into a pack: facts, content,
/// waivers, marker, manifest and (with a key) signature. The manifest lists
/// exactly the files written through `staging` in this run.
pub fn write(staging: &mut output::Staging, input: &PackInput<'_>) -> Result<Manifest, PackError> {
    let signing_key = input.signing_key.map(keys::read_signing_key).transpose()?;

    staging.write_with(FACTS, |file| {
        crate::facts::bundle::write_into(file, input.targets, &|fact| input.plan.uses_fact(&fact.key))
    })?;
    for display in &input.plan.content_files {
        let Some(source) = input.catalog.sources.get(display) else { continue };
        let relative = format!("{CONTENT_DIR}/{}", relative_text(&safe_relative(&source.relative)?));
        staging.write(&relative, source.text.as_bytes())?;
    }
    if let Some(text) = input.waivers_text {
        staging.write(WAIVERS, text.as_bytes())?;
    }
    write_templates(staging, input.templates)?;
    let last: &[&str] = if signing_key.is_some() { &[MANIFEST, SIGNATURE] } else { &[MANIFEST] };
    staging.write_marker(last)?;
    staging.adopt_marker()?;

    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        run_id: input.report.run.id.clone(),
        started_at: input.report.run.started_at,
        finished_at: input.report.run.finished_at,
        tool: input.report.tool.name.clone(),
        tool_version: input.report.tool.version.clone(),
        content_hash: input.report.run.content_hash.clone(),
        benchmarks: input.report.benchmarks.iter().map(|b| b.id.clone()).collect(),
        targets: input.targets.iter().map(pack_target).collect(),
        limits: input.limits.clone(),
        signed_by: signing_key.as_ref().map(|key| keys::key_id(&key.verifying_key())),
        files: staging.files().clone(),
    };
    let manifest_path = staging.path().join(MANIFEST);
    let text = serde_json::to_string_pretty(&manifest).map_err(|err| io_error(&manifest_path, err))? + "\n";
    staging.write(MANIFEST, text.as_bytes())?;
    if let Some(key) = &signing_key {
        staging.write(SIGNATURE, &keys::sign(key, text.as_bytes()))?;
    }
    Ok(manifest)
}

/// The templates under `templates/`, so `verify` re-renders each report as the run did.
fn write_templates(staging: &mut output::Staging, templates: &[(String, String)]) -> Result<(), PackError> {
    for (name, text) in templates {
        staging.write(&format!("{TEMPLATES_DIR}/{}", relative_text(&safe_relative(name)?)), text.as_bytes())?;
    }
    Ok(())
}

fn pack_target(target: &TargetFacts) -> PackTarget {
    let identity = target.identity();
    PackTarget {
        name: target.name.clone(),
        provider: target.provider.name().to_owned(),
        account_id: identity.account_id,
        regions: identity.regions,
        host: identity.host,
    }
}

/// A relative path as `/`-separated text.
fn relative_text(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// A relative path of a pack as a path with normal components only.
pub(crate) fn safe_relative(relative: &str) -> Result<PathBuf, PackError> {
    let path = Path::new(relative);
    if relative.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(PackError::Format {
            path: relative.to_owned(),
            message: "not a relative path inside the pack".to_owned(),
        });
    }
    Ok(path.to_path_buf())
}

/// Writes the files of a pack being written (`staging`) as one
/// gzip-compressed tar archive (relative paths, sorted, so the same pack
/// gives the same archive listing), replacing `archive_path` in one step.
pub fn archive(staging: &output::Staging, archive_path: &Path) -> Result<(), PackError> {
    output::archive(staging.path(), staging.files(), archive_path)
}

/// How much an archive may unpack to: a pack read from an untrusted source
/// must not fill the disk or the memory of the machine verifying it.
#[derive(Debug, Clone, Copy)]
pub struct UnpackLimits {
    /// Bytes of all files together (and of any one file).
    pub total_bytes: u64,
    /// Number of entries.
    pub entries: u64,
}

/// Unpacks an archive written by [`archive`] into `into`, refusing entries
/// that are not plain files at relative paths and stopping as soon as the
/// archive would unpack to more than `limits` (whatever its headers claim:
/// the bytes written are counted).
pub fn unpack(archive_path: &Path, into: &Path, limits: UnpackLimits) -> Result<(), PackError> {
    let refuse = |message: String| PackError::Format { path: archive_path.display().to_string(), message };
    let file = std::fs::File::open(archive_path).map_err(|err| io_error(archive_path, err))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive.entries().map_err(|err| io_error(archive_path, err))?;
    let (mut written, mut count) = (0u64, 0u64);
    for entry in entries {
        let mut entry = entry.map_err(|err| io_error(archive_path, err))?;
        count += 1;
        if count > limits.entries {
            return Err(refuse(format!("more than {} entries: refused (not unpacked further)", limits.entries)));
        }
        let name = entry.path().map_err(|err| io_error(archive_path, err))?.to_string_lossy().into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(refuse(format!("entry '{name}' is not a regular file")));
        }
        let relative = safe_relative(&name)
            .map_err(|_| refuse(format!("entry '{name}' is not a relative path inside the pack")))?;
        let remaining = limits.total_bytes.saturating_sub(written);
        let claimed = entry.header().size().unwrap_or(u64::MAX);
        if claimed > remaining {
            return Err(too_big(archive_path, &name, limits));
        }
        let target = into.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|err| io_error(parent, err))?;
        }
        let mut out = std::fs::File::create_new(&target).map_err(|err| io_error(&target, err))?;
        // Never more than what is left of the budget, plus one byte to tell.
        let copied = std::io::copy(&mut (&mut entry).take(remaining.saturating_add(1)), &mut out)
            .map_err(|err| io_error(&target, err))?;
        if copied > remaining {
            return Err(too_big(archive_path, &name, limits));
        }
        written += copied;
    }
    Ok(())
}

fn too_big(archive_path: &Path, name: &str, limits: UnpackLimits) -> PackError {
    PackError::Format {
        path: archive_path.display().to_string(),
        message: format!(
            "unpacks to more than {} bytes (at entry '{name}'): refused, nothing kept (raise --max-pack-size for a \
             pack this large that you trust)",
            limits.total_bytes
        ),
    }
}
