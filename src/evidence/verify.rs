//! `posture verify`: checks an evidence pack (folder or `.tar.gz`): that it
//! holds only regular files within size limits, every file against the
//! manifest, the manifest against its signature and the pinned key, then
//! re-derives the whole report from the recorded facts, content, waivers and
//! run parameters, compares it field by field with `report.json`, and
//! re-renders every rendered report with the recorded templates, byte for
//! byte. Each problem names the file, the field or the control.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{
    keys, Manifest, PackError, UnpackLimits, CONTENT_DIR, FACTS, MANIFEST, REPORT, SIGNATURE, TEMPLATES_DIR, WAIVERS,
};
use crate::applicability::OsMismatch;
use crate::catalog::plan::{ControlPattern, Selection};
use crate::catalog::profile::ProfileChoice;
use crate::catalog::Catalog;
use crate::facts::bundle::Bundle;
use crate::finding::Severity;
use crate::judge::{Judge, Verdicts};
use crate::report::format::{Format, FORMATS};
use crate::report::model::Report;
use crate::report::RunInfo;
use crate::results::{ExitPolicy, FailOn};
use crate::waivers::Waivers;

/// The default of `--max-pack-size`: what a pack may unpack to, and the
/// largest file of a pack that is read.
pub const DEFAULT_MAX_PACK_BYTES: u64 = 1 << 30;
/// More entries than any pack posture writes (content files, reports, templates).
const MAX_ENTRIES: u64 = 100_000;
/// How many differing report fields are named before the rest are counted.
const SHOWN_DIFFERENCES: usize = 10;

/// How to pin who made the pack, said wherever origin is not proven.
pub const PINNING: &str = "to prove origin, get the signer's public key (the KEYFILE.pub `posture keygen KEYFILE` \
     wrote) from them by a channel you trust, check that its ed25519:<hex> id is the one they announced, and pass it \
     with --public-key KEYFILE.pub";

/// What to verify a pack against.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The pinned public key (`--public-key`): the manifest must be signed by it.
    pub public_key: Option<PathBuf>,
    /// Accept a pack whose origin is not proven (`--allow-unpinned`): unsigned,
    /// or signed by a key that was not pinned.
    pub allow_unpinned: bool,
    /// What an archive may unpack to, and the largest file read (`--max-pack-size`).
    pub max_bytes: Option<u64>,
    /// The longest one report may take to re-render (`--render-timeout`).
    pub render_timeout: std::time::Duration,
}

/// What verification found: what held, what was taken as recorded, and every problem.
#[derive(Debug, Default)]
pub struct Verification {
    pub confirmed: Vec<String>,
    /// What the verdicts rest on without being re-derived (see [`TAKEN_FROM_THE_REPORT`]).
    pub notes: Vec<String>,
    pub problems: Vec<String>,
}

impl Verification {
    pub fn is_verified(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the pack at `pack` (a folder, or an archive written by `--pack`).
pub fn verify(pack: &Path, options: &VerifyOptions) -> Result<Verification, PackError> {
    let pinned = options.public_key.as_deref().map(keys::read_verifying_key).transpose()?;
    let max_bytes = options.max_bytes.unwrap_or(DEFAULT_MAX_PACK_BYTES);
    let metadata = std::fs::symlink_metadata(pack).map_err(|_| PackError::Format {
        path: pack.display().to_string(),
        message: "no such pack (a folder written by `posture audit`, or its --pack archive)".to_owned(),
    })?;
    let verify_dir =
        |dir: &Path| verify_folder(dir, pinned.as_ref(), options.allow_unpinned, max_bytes, options.render_timeout);
    if metadata.is_file() {
        let unpacked = tempfile::tempdir().map_err(|err| super::io_error(pack, err))?;
        crate::atomic_write::remove_on_signal();
        let _removed_if_interrupted = crate::atomic_write::track_while_alive(unpacked.path());
        super::unpack(pack, unpacked.path(), UnpackLimits { total_bytes: max_bytes, entries: MAX_ENTRIES })?;
        return verify_dir(unpacked.path());
    }
    let dir = if metadata.is_dir() {
        pack.to_path_buf()
    } else if metadata.file_type().is_symlink() && pack.is_dir() {
        // The pack named through a link is the user's choice; links inside it are refused.
        pack.to_path_buf()
    } else {
        return Err(PackError::Format {
            path: pack.display().to_string(),
            message: format!("{}: not a pack folder or archive", kind_of(&metadata)),
        });
    };
    verify_dir(&dir)
}

fn kind_of(metadata: &std::fs::Metadata) -> String {
    format!("a {}", crate::regular_file::FileKind::of(metadata.file_type()).describe())
}

/// The files of a pack folder with their sizes, by `/`-separated relative
/// path. Every entry is looked at with `symlink_metadata` and nothing is
/// opened: a link, FIFO, device or socket is a problem (a pack holds only
/// regular files), as is a file larger than `max_bytes`.
fn pack_files(dir: &Path, max_bytes: u64, problems: &mut Vec<String>) -> Result<Vec<(String, u64)>, PackError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut total = 0u64;
    while let Some(current) = stack.pop() {
        let entries = std::fs::read_dir(&current).map_err(|err| super::io_error(&current, err))?;
        for entry in entries {
            let entry = entry.map_err(|err| super::io_error(&current, err))?;
            let path = entry.path();
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let relative: Vec<String> =
                relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let relative = relative.join("/");
            let metadata = std::fs::symlink_metadata(&path).map_err(|err| super::io_error(&path, err))?;
            if metadata.is_dir() {
                stack.push(path);
            } else if metadata.is_file() {
                total = total.saturating_add(metadata.len());
                if metadata.len() > max_bytes {
                    problems.push(format!(
                        "refused: {relative} is {} bytes, more than the {max_bytes} a pack file may have (raise \
                         --max-pack-size for a pack this large that you trust)",
                        metadata.len()
                    ));
                }
                files.push((relative, metadata.len()));
            } else {
                problems.push(format!(
                    "refused: {relative} is {}: a pack holds regular files only (it was not opened)",
                    kind_of(&metadata)
                ));
            }
            if files.len() as u64 > MAX_ENTRIES {
                problems.push(format!("refused: more than {MAX_ENTRIES} files"));
                return Ok(files);
            }
        }
    }
    if total > max_bytes {
        problems.push(format!(
            "refused: the pack's files add up to {total} bytes, more than --max-pack-size ({max_bytes} bytes)"
        ));
    }
    files.sort();
    Ok(files)
}

/// Reads a regular file of the pack (never through a link), at most `max_bytes` of it.
fn read_capped(dir: &Path, relative: &str, max_bytes: u64) -> Result<Vec<u8>, String> {
    use crate::regular_file::ReadError;
    let path = dir.join(super::safe_relative(relative).map_err(|err| err.to_string())?);
    crate::regular_file::read_without_links(&path, max_bytes).map_err(|err| match err {
        ReadError::NotRegular(kind) => format!("{relative}: a {kind} (a pack holds regular files only)"),
        ReadError::TooLarge(_) => format!("{relative}: larger than --max-pack-size ({max_bytes} bytes): not read"),
        other => format!("{relative}: {other}"),
    })
}

fn verify_folder(
    dir: &Path,
    pinned: Option<&ed25519_dalek::VerifyingKey>,
    allow_unpinned: bool,
    max_bytes: u64,
    render_timeout: std::time::Duration,
) -> Result<Verification, PackError> {
    let mut verification = Verification::default();
    let files = pack_files(dir, max_bytes, &mut verification.problems)?;
    if !verification.problems.is_empty() {
        verification.problems.push("nothing else was checked: the pack is refused as it is".to_owned());
        return Ok(verification);
    }
    if !files.iter().any(|(path, _)| path == MANIFEST) {
        return Err(PackError::Format {
            path: MANIFEST.to_owned(),
            message: "missing: not an evidence pack, or its manifest was removed".to_owned(),
        });
    }
    let manifest_bytes = read_capped(dir, MANIFEST, max_bytes)
        .map_err(|message| PackError::Format { path: MANIFEST.to_owned(), message })?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|err| PackError::Format {
        path: MANIFEST.to_owned(),
        message: format!("not a pack manifest: {err}"),
    })?;
    check_files(dir, &files, &manifest, &mut verification)?;
    check_signature(dir, &manifest, &manifest_bytes, pinned, allow_unpinned, max_bytes, &mut verification);
    rederive(dir, &manifest, max_bytes, render_timeout, &mut verification);
    Ok(verification)
}

fn check_files(
    dir: &Path,
    files: &[(String, u64)],
    manifest: &Manifest,
    verification: &mut Verification,
) -> Result<(), PackError> {
    let mut actual = std::collections::BTreeMap::new();
    for (relative, _) in files.iter().filter(|(path, _)| path != MANIFEST && path != SIGNATURE) {
        let path = dir.join(super::safe_relative(relative)?);
        let mut file = std::fs::File::open(&path).map_err(|err| super::io_error(&path, err))?;
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        std::io::copy(&mut file, &mut hasher).map_err(|err| super::io_error(&path, err))?;
        actual.insert(relative.clone(), hex::encode(sha2::Digest::finalize(hasher)));
    }
    let before = verification.problems.len();
    for (path, expected) in &manifest.files {
        match actual.get(path) {
            None => {
                verification.problems.push(format!("removed: {path} (listed in the manifest, missing from the pack)"))
            }
            Some(found) if found != expected => {
                verification.problems.push(format!("modified: {path} (sha256 {found}, the manifest says {expected})"))
            }
            Some(_) => {}
        }
    }
    for path in actual.keys().filter(|path| !manifest.files.contains_key(*path)) {
        verification.problems.push(format!("added: {path} (in the pack, not in the manifest)"));
    }
    if verification.problems.len() == before {
        verification.confirmed.push(format!("{} files match the manifest's SHA-256", manifest.files.len()));
    }
    Ok(())
}

/// A signature proves who made the pack only against a key the verifier
/// pinned: anyone who rewrites a pack can re-sign it with a key of their own
/// and name that key in the manifest, and anyone can re-hash an unsigned
/// one. So without `--public-key` the pack's origin is not proven, and that
/// is a problem (exit 1) unless `--allow-unpinned` accepts integrity only.
fn check_signature(
    dir: &Path,
    manifest: &Manifest,
    manifest_bytes: &[u8],
    pinned: Option<&ed25519_dalek::VerifyingKey>,
    allow_unpinned: bool,
    max_bytes: u64,
    verification: &mut Verification,
) {
    let signature =
        dir.join(SIGNATURE).is_file().then(|| read_capped(dir, SIGNATURE, max_bytes.min(4096)).unwrap_or_default());
    let claimed = manifest.signed_by.as_deref().and_then(keys::parse_key_id);
    let unproven = |verification: &mut Verification, what: String| {
        if allow_unpinned {
            verification.confirmed.push(format!("{what} (accepted with --allow-unpinned)"));
            verification.notes.push(format!("origin not proven: {PINNING}"));
        } else {
            verification.problems.push(format!(
                "{what}; pass --allow-unpinned to accept that, or {}",
                PINNING.trim_start_matches("to prove origin, ")
            ));
        }
    };
    match (signature, pinned) {
        (None, Some(_)) => {
            verification.problems.push(format!("{SIGNATURE}: missing, but --public-key asks for a signed pack"))
        }
        (None, None) if manifest.signed_by.is_some() => {
            verification.problems.push(format!("removed: {SIGNATURE} (the manifest says the pack was signed)"))
        }
        (None, None) => unproven(
            verification,
            "not signed: the hashes show the files agree with the manifest, but anyone who changes the files can \
             re-hash the manifest, so neither origin nor integrity is proven"
                .to_owned(),
        ),
        (Some(signature), Some(key)) => {
            if keys::is_valid(key, manifest_bytes, &signature) {
                verification.confirmed.push(format!("{MANIFEST} is signed by the pinned key {}", keys::key_id(key)));
            } else {
                verification.problems.push(format!(
                    "{SIGNATURE}: not a signature of {MANIFEST} by the pinned key {} (the manifest or the signature \
                     was changed, or another key signed it{})",
                    keys::key_id(key),
                    manifest.signed_by.as_deref().map(|id| format!(": the manifest names {id}")).unwrap_or_default()
                ));
            }
        }
        (Some(signature), None) => match claimed {
            Some(key) if keys::is_valid(&key, manifest_bytes, &signature) => unproven(
                verification,
                format!("signed by an unpinned key ({}): integrity only, not origin", keys::key_id(&key)),
            ),
            Some(key) => verification.problems.push(format!(
                "{SIGNATURE}: not a signature of {MANIFEST} by {} (the manifest or the signature was changed)",
                keys::key_id(&key)
            )),
            None => {
                verification.problems.push(format!("{SIGNATURE}: present, but the manifest names no valid signing key"))
            }
        },
    }
}

/// What a report holds that the pack cannot re-derive, and why a forged
/// value of it changes no verdict, count, rate or exit code. These are the
/// run's recorded inputs and records of its surroundings; `verify` prints
/// them so a reader knows what rests on the report's word.
///
/// - `run.id`, `run.started_at`, `run.finished_at`, `tool`: checked against
///   the manifest (signed, when the pack is); `started_at` also fixes the day
///   waivers are judged on, so forging it is forging an input, visible.
/// - `run.facts_origin`, `targets[].connection` (how SSH hosts were reached),
///   `targets[].api_calls` (the AWS requests sent): descriptions; every fact
///   they produced is in `facts.json` and judged.
/// - `run.selection` (`--controls`, `--skip`, `--level`, `--host-role`),
///   `run.fail_on` and `run.ignore_os_mismatch`: the run's parameters,
///   re-applied: each benchmark's profile, the controls, which hosts each
///   benchmark judges, and the exit code are re-derived under them.
/// - `problems` outside the pack's content (a broken file of a benchmark the
///   run did not select): taken as recorded; each one found in the pack's own
///   content must be listed, and their number is an input of the exit code.
/// - `run.history_failed`: whether the history append failed (an input of the
///   exit code), and `changes` (the comparison with the previous run, which
///   is not in the pack): taken as recorded; each change's new status must
///   be the re-derived one and its counts must add up.
/// - the waivers file's path in `waivers[].source` (the path the run was
///   given, which the pack names `waivers.toml`); the line is re-derived.
pub const TAKEN_FROM_THE_REPORT: &str = "taken as recorded, not re-derived: the run id and times and tool version \
     (checked against the manifest), the facts origin, SSH connection records and AWS call logs, the --controls/--skip/--level/--host-role \
     selection, --fail-on and --ignore-os-mismatch the run was given (re-applied), content problems outside the pack's content, the waivers file's path \
     (not its lines), whether the history append failed, and the previous run the changes compare with";

/// Re-derives the report from the pack, compares it with report.json field
/// by field, and re-renders every rendered report.
fn rederive(
    dir: &Path,
    manifest: &Manifest,
    max_bytes: u64,
    render_timeout: std::time::Duration,
    verification: &mut Verification,
) {
    let (recorded, recorded_value, derived) = match rederived_report(dir, manifest, max_bytes, &mut verification.notes)
    {
        Err(problem) => {
            verification.problems.push(format!("re-derivation: {problem}"));
            return;
        }
        Ok(found) => found,
    };
    verification.notes.push(TAKEN_FROM_THE_REPORT.to_owned());
    check_against_manifest(&recorded, &derived, manifest, &mut verification.problems);
    check_changes(&recorded, &derived, &mut verification.problems);
    let derived_value = match serde_json::to_value(&derived) {
        Ok(value) => value,
        Err(err) => {
            verification.problems.push(format!("re-derivation: cannot serialise the report: {err}"));
            return;
        }
    };
    let mut differences = Vec::new();
    differences_between("", &recorded_value, &derived_value, &mut differences);
    let count = differences.len();
    for difference in differences.into_iter().take(SHOWN_DIFFERENCES) {
        verification.problems.push(format!("{REPORT}: {difference}"));
    }
    if count > SHOWN_DIFFERENCES {
        verification.problems.push(format!("{REPORT}: and {} more differing fields", count - SHOWN_DIFFERENCES));
    }
    if count == 0 {
        let controls: usize = derived.benchmarks.iter().flat_map(|b| &b.sections).map(|s| s.controls.len()).sum();
        let findings: usize = derived
            .benchmarks
            .iter()
            .flat_map(|b| &b.sections)
            .flat_map(|s| &s.controls)
            .map(|c| c.findings.len())
            .sum();
        verification.confirmed.push(format!(
            "{REPORT} re-derived field by field from the recorded facts, content and waivers: {controls} control \
             verdicts, {findings} findings, the summary, counts, pass rates and exit code {}",
            derived.run.exit_code
        ));
    }
    for (check, target) in timed_out_pairs(&recorded).into_keys() {
        verification.confirmed.push(format!(
            "taken from the pack: check {check} on {target} was stopped by the audit's time limit; that outcome is \
             not re-derived (it depends on the auditing machine's speed) and cannot be proven either way"
        ));
    }
    // Each rendered report must be the re-derived report's rendering, whatever
    // report.json says: a reader may read only summary.md.
    rerender(dir, manifest, &derived, max_bytes, render_timeout, verification);
}

/// The recorded report (as parsed and as JSON) and the one re-derived from
/// the pack, with the fields it cannot re-derive taken from the recorded one.
/// Patterns of the recorded selection that match nothing are re-applied and
/// said in `notes`.
fn rederived_report(
    dir: &Path,
    manifest: &Manifest,
    max_bytes: u64,
    notes: &mut Vec<String>,
) -> Result<(Report, Value, Report), String> {
    let report_bytes = read_capped(dir, REPORT, max_bytes)?;
    let recorded_value: Value =
        serde_json::from_slice(&report_bytes).map_err(|err| format!("{REPORT}: not JSON: {err}"))?;
    let recorded: Report = serde_json::from_value(recorded_value.clone())
        .map_err(|err| format!("{REPORT}: not a posture report: {err}"))?;
    let catalog = Catalog::load_dirs_only(&[dir.join(CONTENT_DIR)]).map_err(|err| format!("{CONTENT_DIR}/: {err}"))?;
    let patterns = |raw: &[String]| -> Result<Vec<ControlPattern>, String> {
        raw.iter().map(|p| ControlPattern::parse(p)).collect()
    };
    let selection = Selection {
        benchmarks: manifest.benchmarks.clone(),
        // Re-applied as recorded: each benchmark's `profile` is re-derived from it.
        profile: ProfileChoice {
            level: recorded.run.selection.level,
            host_role: recorded.run.selection.host_role.clone(),
        },
        controls: patterns(&recorded.run.selection.controls)?,
        skip: patterns(&recorded.run.selection.skip)?,
    };
    // As recorded: an audit refuses a pattern that matches nothing, but a
    // pack written before it did must still verify; what matched nothing is
    // said, not hidden.
    let (plan, unmatched) = catalog.plan_as_recorded(&selection).map_err(|err| err.to_string())?;
    for pattern in unmatched {
        notes.push(format!(
            "the recorded selection's {pattern} (re-applied as recorded; an audit now refuses a pattern that \
             matches nothing)"
        ));
    }
    // The pack holds the content the selected controls use; a problem of a
    // file outside it (a check of an unselected control, absent from the
    // pack) is not the pack's. Each problem of what the plan uses must be one
    // the report lists.
    let used_checks: BTreeSet<&str> =
        plan.benchmarks.iter().flat_map(|b| &b.controls).flat_map(|c| &c.checks).map(String::as_str).collect();
    let recorded_problems: BTreeSet<&str> = recorded.problems.iter().map(String::as_str).collect();
    for problem in &catalog.problems {
        let relevant = match problem.check.as_deref() {
            Some(check) => used_checks.contains(check),
            None => plan.content_files.contains(&problem.located.path),
        };
        if relevant && !recorded_problems.contains(problem.to_string().as_str()) {
            return Err(format!(
                "{CONTENT_DIR}/: {problem} (a content problem the report does not list, so its exit code and \
                 verdicts cannot be the recorded content's)"
            ));
        }
    }
    let facts_bytes = read_capped(dir, FACTS, max_bytes)?;
    let facts_text = String::from_utf8(facts_bytes).map_err(|_| format!("{FACTS}: not UTF-8 text"))?;
    let targets = Bundle::parse(FACTS, &facts_text).map_err(|err| err.to_string())?.into_targets();
    let waivers = if dir.join(WAIVERS).exists() {
        read_capped(dir, WAIVERS, max_bytes)?;
        Waivers::load(&dir.join(WAIVERS), &|scope| catalog.has_scope(scope))
            .map_err(|err| relative_message(dir, &err.to_string()))?
    } else {
        Waivers::default()
    };
    let fail_on = match recorded.run.fail_on.as_str() {
        "none" => FailOn::Never,
        label => FailOn::AtLeast(label.parse::<Severity>().map_err(|_| {
            format!(
                "{REPORT}: run.fail_on: '{label}' is not a severity or 'none', so the exit code cannot be re-derived"
            )
        })?),
    };
    // Only the deterministic limits apply: no wall clock (a verdict must not
    // depend on this machine's speed), and the (check, target) pairs the pack
    // records as stopped by the audit's clock keep that outcome.
    let mut limits = manifest.limits.clone();
    limits.max_duration = std::time::Duration::MAX;
    limits.timed_out_in_pack = timed_out_pairs(&recorded);
    let exit_policy = ExitPolicy { fail_on, content_problems: recorded.problems.len() };
    let verdicts = Verdicts { waivers, today: recorded.run.started_at.date_naive(), exit_policy };
    // As the run was told: judge hosts whose OS is not the benchmark's, or not.
    let os_mismatch = if recorded.run.ignore_os_mismatch { OsMismatch::Ignore } else { OsMismatch::Refuse };
    let mut results = Judge::compile(&catalog, &plan, &limits, os_mismatch).judge(&targets, verdicts, &|_, _| {});
    if recorded.run.history_failed {
        results.mark_history_failed();
    }
    let info = RunInfo {
        id: recorded.run.id.clone(),
        started_at: recorded.run.started_at,
        finished_at: recorded.run.finished_at,
        facts_origin: recorded.run.facts_origin.clone(),
        selection: recorded.run.selection.clone(),
        fail_on: recorded.run.fail_on.clone(),
    };
    let mut derived = crate::report::build(&catalog, &plan, &results, &targets, info);
    // See TAKEN_FROM_THE_REPORT.
    derived.tool = recorded.tool.clone();
    derived.problems = recorded.problems.clone();
    derived.changes = recorded.changes.clone();
    // A waiver's source is `<the path the run was given>:<line>`: the path is
    // the user's, the line is the pack's.
    for (waiver, said) in derived.waivers.iter_mut().zip(&recorded.waivers) {
        if let (Some((_, line)), Some((file, _))) = (waiver.source.rsplit_once(':'), said.source.rsplit_once(':')) {
            waiver.source = format!("{file}:{line}");
        }
    }
    for target in &mut derived.targets {
        let said = recorded.targets.iter().find(|t| t.name == target.name);
        target.connection = said.and_then(|t| t.connection.clone());
        target.api_calls = said.and_then(|t| t.api_calls.clone());
    }
    Ok((recorded, recorded_value, derived))
}

/// The run's identity in the report must be the manifest's.
fn check_against_manifest(recorded: &Report, derived: &Report, manifest: &Manifest, problems: &mut Vec<String>) {
    let pairs = [
        ("run.id", recorded.run.id.clone(), manifest.run_id.clone()),
        ("run.started_at", recorded.run.started_at.to_rfc3339(), manifest.started_at.to_rfc3339()),
        ("run.finished_at", recorded.run.finished_at.to_rfc3339(), manifest.finished_at.to_rfc3339()),
        ("tool.version", recorded.tool.version.clone(), manifest.tool_version.clone()),
        ("run.content_hash", recorded.run.content_hash.clone(), manifest.content_hash.clone()),
    ];
    for (field, report, manifest) in pairs {
        if report != manifest {
            problems.push(format!("{REPORT}: {field}: the report says {report}, the manifest {manifest}"));
        }
    }
    if derived.run.content_hash != manifest.content_hash {
        problems.push(format!(
            "{CONTENT_DIR}/: the pack's content hashes to {}, the manifest says {}",
            derived.run.content_hash, manifest.content_hash
        ));
    }
    let benchmarks: Vec<String> = recorded.benchmarks.iter().map(|b| b.id.clone()).collect();
    if benchmarks != manifest.benchmarks {
        problems.push(format!(
            "{REPORT}: benchmarks: the report has {}, the manifest {}",
            benchmarks.join(", "),
            manifest.benchmarks.join(", ")
        ));
    }
}

/// The changes since the previous run compare with a run that is not in the
/// pack, but their new side is this run: each change's `after` must be the
/// re-derived status, and the counts must be those of the lists.
fn check_changes(recorded: &Report, derived: &Report, problems: &mut Vec<String>) {
    let Some(changes) = &recorded.changes else { return };
    let mut counts = crate::report::model::ChangeCounts::default();
    for (list, kind_counts) in [(&changes.controls, &mut counts.controls), (&changes.resources, &mut counts.resources)]
    {
        for change in list {
            use crate::report::model::ChangeKind::*;
            let slot = match change.kind {
                NewlyFailing => &mut kind_counts.newly_failing,
                Fixed => &mut kind_counts.fixed,
                NewlyErroring => &mut kind_counts.newly_erroring,
                Changed => &mut kind_counts.changed,
                Added => &mut kind_counts.added,
                Removed => &mut kind_counts.removed,
            };
            *slot += 1;
        }
    }
    if counts != changes.counts {
        problems.push(format!("{REPORT}: changes.counts: not the counts of the listed changes ({counts:?})"));
    }
    let full_id = |benchmark: &str, control: &str| format!("{benchmark}:{control}");
    for change in &changes.controls {
        let control = derived
            .benchmarks
            .iter()
            .flat_map(|b| &b.sections)
            .flat_map(|s| &s.controls)
            .find(|c| c.full_id == full_id(&change.benchmark, &change.control));
        let now = control.and_then(|c| match &change.target {
            Some(target) => c.targets.get(target).copied(),
            None => Some(c.status),
        });
        if change.after.is_some() && now != change.after {
            problems.push(format!(
                "{REPORT}: changes: control {} on {}: the report says it is now {}, the recorded facts give {}",
                full_id(&change.benchmark, &change.control),
                change.target.as_deref().unwrap_or("no target"),
                change.after.map_or("absent".to_owned(), |s| s.to_string()),
                now.map_or("absent".to_owned(), |s| s.to_string())
            ));
        }
    }
}

/// Re-renders every report of the pack, in every format of
/// [`FORMATS`](crate::report::format::FORMATS) it holds, from the re-derived
/// report (with the pack's templates for the formats a template renders),
/// and compares the bytes.
fn rerender(
    dir: &Path,
    manifest: &Manifest,
    derived: &Report,
    max_bytes: u64,
    render_timeout: std::time::Duration,
    verification: &mut Verification,
) {
    let before = verification.problems.len();
    let present: Vec<&Format> = FORMATS
        .iter()
        .filter(|format| format.name == crate::report::format::ALWAYS.name || manifest.files.contains_key(format.file))
        .collect();
    let tera = pack_templates(dir, manifest, &present, max_bytes, verification);
    let mut rendered = Vec::new();
    for format in present {
        let how = if format.is_template() {
            if !tera.get_template_names().any(|name| name == format.file) {
                // Its template is missing or broken: already a problem.
                continue;
            }
            format!("re-rendered with {TEMPLATES_DIR}/{}", format.file)
        } else {
            String::from("as posture writes it")
        };
        match format.render(&tera, derived, render_timeout) {
            Ok(text) => {
                compare_rendering(dir, format.file, &text, max_bytes, &how, verification);
                rendered.push(format.file);
            }
            Err(err) => verification.problems.push(format!("{}: cannot be re-rendered: {err}", format.file)),
        }
    }
    if verification.problems.len() == before {
        verification
            .confirmed
            .push(format!("{} re-rendered from the re-derived report: identical, byte for byte", rendered.join(", ")));
    }
}

/// The templates the run used, as the pack holds them, for the formats of
/// `present` a template renders; none when no such format is present (or
/// they do not load, which is a problem).
fn pack_templates(
    dir: &Path,
    manifest: &Manifest,
    present: &[&Format],
    max_bytes: u64,
    verification: &mut Verification,
) -> tera::Tera {
    if !present.iter().any(|format| format.is_template()) {
        return tera::Tera::default();
    }
    let mut texts = Vec::new();
    for (name, _) in crate::report::format::templates() {
        let relative = format!("{TEMPLATES_DIR}/{name}");
        if !manifest.files.contains_key(&relative) {
            if present.iter().any(|format| format.file == name) {
                verification.problems.push(format!(
                    "{name}: cannot be re-rendered: the pack holds no {relative} (the template the run used)"
                ));
            }
            continue;
        }
        match read_capped(dir, &relative, max_bytes).map(String::from_utf8) {
            Ok(Ok(text)) => texts.push((name.to_owned(), text)),
            Ok(Err(_)) => verification.problems.push(format!("{relative}: not UTF-8 text")),
            Err(problem) => verification.problems.push(problem),
        }
    }
    crate::report::templates_from(&texts).unwrap_or_else(|err| {
        verification.problems.push(format!("{TEMPLATES_DIR}/: {err}"));
        tera::Tera::default()
    })
}

fn compare_rendering(
    dir: &Path,
    name: &str,
    expected: &str,
    max_bytes: u64,
    how: &str,
    verification: &mut Verification,
) {
    let found = match read_capped(dir, name, max_bytes) {
        Ok(found) => found,
        Err(problem) => {
            verification.problems.push(problem);
            return;
        }
    };
    if found == expected.as_bytes() {
        return;
    }
    let found = String::from_utf8_lossy(&found);
    let (line, said, derived) = found
        .lines()
        .zip(expected.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map(|(index, (a, b))| (index + 1, a.to_owned(), b.to_owned()))
        .unwrap_or_else(|| {
            let line = found.lines().count().min(expected.lines().count()) + 1;
            (line, "(its end)".to_owned(), "(its end)".to_owned())
        });
    verification.problems.push(format!(
        "{name}: differs from the report re-derived from the recorded facts, {how}: first at line {line}: the file \
         has {}, the re-derivation gives {}",
        shown(&Value::String(said)),
        shown(&Value::String(derived))
    ));
}

/// Every field where `recorded` and `derived` differ, as `path: the report
/// says X, the recorded facts give Y`. Array elements are named by their
/// `full_id` or `id` where they have one.
fn differences_between(path: &str, recorded: &Value, derived: &Value, out: &mut Vec<String>) {
    match (recorded, derived) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let inner = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match b.get(key) {
                    Some(other) => differences_between(&inner, value, other, out),
                    None => out.push(format!("{inner}: in the report ({}), not re-derived", shown(value))),
                }
            }
            for (key, value) in b.iter().filter(|(key, _)| !a.contains_key(*key)) {
                let inner = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                out.push(format!("{inner}: missing from the report, the recorded facts give {}", shown(value)));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let name = |index: usize, value: &Value| {
                let id = value.get("full_id").or_else(|| value.get("id")).and_then(Value::as_str);
                match id {
                    Some(id) => format!("{path}[{id}]"),
                    None => format!("{path}[{index}]"),
                }
            };
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                differences_between(&name(index, x), x, y, out);
            }
            if a.len() != b.len() {
                out.push(format!("{path}: the report has {} entries, the recorded facts give {}", a.len(), b.len()));
            }
        }
        (a, b) if a != b => {
            out.push(format!("{path}: the report says {}, the recorded facts give {}", shown(a), shown(b)));
        }
        _ => {}
    }
}

/// A value as shown in a message: compact JSON, long values cut.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        format!("{}...", text.chars().take(117).collect::<String>())
    } else {
        text
    }
}

/// The (check, target) pairs whose recorded finding says the check was
/// stopped by the time limit: the one non-deterministic limit, whose outcome
/// verify takes from the pack rather than from its own clock.
fn timed_out_pairs(report: &Report) -> BTreeMap<(String, String), String> {
    report
        .benchmarks
        .iter()
        .flat_map(|b| &b.sections)
        .flat_map(|s| &s.controls)
        .flat_map(|c| &c.findings)
        .filter(|f| crate::script::is_time_limit_message(&f.message))
        .map(|f| ((f.check.clone(), f.target.clone()), f.message.clone()))
        .collect()
}

/// Paths of the temporary unpack folder say nothing to the reader.
fn relative_message(dir: &Path, message: &str) -> String {
    let prefix = format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR);
    message.replace(&prefix, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_path_and_both_values() {
        let recorded = serde_json::json!({"summary": {"pass_rate": 1.0, "controls": {"fail": 0}},
            "benchmarks": [{"id": "cis", "summary": {"pass_rate": 1.0}}]});
        let derived = serde_json::json!({"summary": {"pass_rate": 0.62, "controls": {"fail": 3}},
            "benchmarks": [{"id": "cis", "summary": {"pass_rate": 0.5}}]});
        let mut out = Vec::new();
        differences_between("", &recorded, &derived, &mut out);
        assert_eq!(
            out,
            vec![
                "summary.pass_rate: the report says 1.0, the recorded facts give 0.62",
                "summary.controls.fail: the report says 0, the recorded facts give 3",
                "benchmarks[cis].summary.pass_rate: the report says 1.0, the recorded facts give 0.5",
            ]
        );
    }

    #[test]
    fn equal_values_have_no_differences() {
        let value = serde_json::json!({"a": [1, {"id": "x", "b": null}]});
        let mut out = Vec::new();
        differences_between("", &value, &value.clone(), &mut out);
        assert!(out.is_empty());
    }
}
