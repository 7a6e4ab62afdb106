//! `posture verify`: checks an evidence pack (folder or `.tar.gz`): every
//! file against the manifest, the manifest against its signature, then
//! re-evaluates the recorded facts with the recorded content and waivers
//! and compares every verdict with the report's. Each problem names the
//! file or the control.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{keys, Manifest, PackError, CONTENT_DIR, FACTS, MANIFEST, REPORT, SIGNATURE, WAIVERS};
use crate::catalog::plan::{ControlPattern, Selection};
use crate::catalog::Catalog;
use crate::facts::bundle::Bundle;
use crate::report::model::{ControlReport, Report};
use crate::report::RunInfo;
use crate::results::RunResults;
use crate::script::ScriptEngine;
use crate::waivers::Waivers;

/// What verification found: what held, and every problem.
#[derive(Debug, Default)]
pub struct Verification {
    pub confirmed: Vec<String>,
    pub problems: Vec<String>,
}

impl Verification {
    pub fn is_verified(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the pack at `pack` (a folder, or an archive written by
/// `--pack`); with `public_key`, the manifest must be signed by that key.
pub fn verify(pack: &Path, public_key: Option<&Path>) -> Result<Verification, PackError> {
    let pinned = public_key.map(keys::read_verifying_key).transpose()?;
    if pack.is_file() {
        let unpacked = tempfile::tempdir().map_err(|err| super::io_error(pack, err))?;
        super::unpack(pack, unpacked.path())?;
        return verify_folder(unpacked.path(), pinned.as_ref());
    }
    if !pack.is_dir() {
        return Err(PackError::Format {
            path: pack.display().to_string(),
            message: "no such pack (a folder written by `posture audit`, or its --pack archive)".to_owned(),
        });
    }
    verify_folder(pack, pinned.as_ref())
}

fn verify_folder(dir: &Path, pinned: Option<&ed25519_dalek::VerifyingKey>) -> Result<Verification, PackError> {
    let manifest_path = dir.join(MANIFEST);
    let manifest_bytes = std::fs::read(&manifest_path).map_err(|err| PackError::Format {
        path: MANIFEST.to_owned(),
        message: format!("cannot be read ({err}): not an evidence pack, or its manifest was removed"),
    })?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|err| PackError::Format {
        path: MANIFEST.to_owned(),
        message: format!("not a pack manifest: {err}"),
    })?;
    let mut verification = Verification::default();
    check_files(dir, &manifest, &mut verification)?;
    check_signature(dir, &manifest, &manifest_bytes, pinned, &mut verification);
    rederive(dir, &manifest, &mut verification);
    Ok(verification)
}

fn check_files(dir: &Path, manifest: &Manifest, verification: &mut Verification) -> Result<(), PackError> {
    let mut actual = super::hash_folder(dir)?;
    actual.remove(MANIFEST);
    actual.remove(SIGNATURE);
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

fn check_signature(
    dir: &Path,
    manifest: &Manifest,
    manifest_bytes: &[u8],
    pinned: Option<&ed25519_dalek::VerifyingKey>,
    verification: &mut Verification,
) {
    let signature = std::fs::read(dir.join(SIGNATURE)).ok();
    let claimed = manifest.signed_by.as_deref().and_then(keys::parse_key_id);
    let problems = &mut verification.problems;
    match (signature, pinned) {
        (None, Some(_)) => problems.push(format!("{SIGNATURE}: missing, but --public-key asks for a signed pack")),
        (None, None) if manifest.signed_by.is_some() => {
            problems.push(format!("removed: {SIGNATURE} (the manifest says the pack was signed)"))
        }
        (None, None) => verification.confirmed.push("the pack is not signed (no manifest.sig)".to_owned()),
        (Some(signature), Some(key)) => {
            if !keys::is_valid(key, manifest_bytes, &signature) {
                problems.push(format!(
                    "{SIGNATURE}: not a signature of {MANIFEST} by {} (the manifest or the signature was changed, \
                     or another key signed it)",
                    keys::key_id(key)
                ));
            } else {
                verification.confirmed.push(format!("{MANIFEST} is signed by {}", keys::key_id(key)));
            }
        }
        (Some(signature), None) => match claimed {
            Some(key) if keys::is_valid(&key, manifest_bytes, &signature) => verification.confirmed.push(format!(
                "{MANIFEST} is signed by {} (the key the manifest names: pass --public-key to require your key)",
                keys::key_id(&key)
            )),
            Some(key) => problems.push(format!(
                "{SIGNATURE}: not a signature of {MANIFEST} by {} (the manifest or the signature was changed)",
                keys::key_id(&key)
            )),
            None => problems.push(format!("{SIGNATURE}: present, but the manifest names no valid signing key")),
        },
    }
}

/// Re-evaluates the recorded facts with the recorded content and waivers,
/// on the day the run started, and compares each control's verdict.
fn rederive(dir: &Path, manifest: &Manifest, verification: &mut Verification) {
    match rederived_report(dir, manifest) {
        Err(problem) => verification.problems.push(format!("re-derivation: {problem}")),
        Ok((recorded, derived)) => {
            if derived.run.content_hash != manifest.content_hash || recorded.run.content_hash != manifest.content_hash {
                verification.problems.push(format!(
                    "content: the pack's content hashes to {}, the manifest says {} and the report {}",
                    derived.run.content_hash, manifest.content_hash, recorded.run.content_hash
                ));
            }
            let before = verification.problems.len();
            compare(&recorded, &derived, &mut verification.problems);
            if verification.problems.len() == before {
                let controls: usize =
                    derived.benchmarks.iter().flat_map(|b| &b.sections).map(|s| s.controls.len()).sum();
                let findings: usize = derived
                    .benchmarks
                    .iter()
                    .flat_map(|b| &b.sections)
                    .flat_map(|s| &s.controls)
                    .map(|c| c.findings.len())
                    .sum();
                verification.confirmed.push(format!(
                    "{controls} control verdicts and {findings} findings re-derived from the recorded facts and content"
                ));
                for (check, target) in timed_out_pairs(&recorded).into_keys() {
                    verification.confirmed.push(format!(
                        "taken from the pack: check {check} on {target} was stopped by the audit's time limit; \
                         that outcome is not re-derived (it depends on the auditing machine's speed) and cannot be \
                         proven either way"
                    ));
                }
            }
        }
    }
}

fn rederived_report(dir: &Path, manifest: &Manifest) -> Result<(Report, Report), String> {
    let report_text = std::fs::read_to_string(dir.join(REPORT)).map_err(|err| format!("{REPORT}: {err}"))?;
    let recorded: Report =
        serde_json::from_str(&report_text).map_err(|err| format!("{REPORT}: not a posture report: {err}"))?;
    let content = dir.join(CONTENT_DIR);
    let catalog = Catalog::load_dirs_only(&[content]).map_err(|err| format!("{CONTENT_DIR}/: {err}"))?;
    if let Some(problem) = catalog.problems.first() {
        return Err(format!("{CONTENT_DIR}/: {problem}"));
    }
    let patterns = |raw: &[String]| -> Result<Vec<ControlPattern>, String> {
        raw.iter().map(|p| ControlPattern::parse(p)).collect()
    };
    let selection = Selection {
        benchmarks: manifest.benchmarks.clone(),
        controls: patterns(&recorded.run.selection.controls)?,
        skip: patterns(&recorded.run.selection.skip)?,
    };
    let plan = catalog.plan(&selection).map_err(|err| err.to_string())?;
    let targets = Bundle::read(&dir.join(FACTS)).map_err(|err| relative_message(dir, &err.to_string()))?.into_targets();
    let waivers_path = dir.join(WAIVERS);
    let waivers = if waivers_path.is_file() {
        Waivers::load(&waivers_path, &|scope| catalog.has_scope(scope))
            .map_err(|err| relative_message(dir, &err.to_string()))?
    } else {
        Waivers::default()
    };
    // Only the deterministic limits apply: no wall clock (a verdict must not
    // depend on this machine's speed), and the (check, target) pairs the pack
    // records as stopped by the audit's clock keep that outcome.
    let mut limits = manifest.limits.clone();
    limits.max_duration = std::time::Duration::MAX;
    limits.timed_out_in_pack = timed_out_pairs(&recorded);
    let engine = ScriptEngine::new(&limits, &catalog.preludes);
    let planned = crate::audit::compile_plan(&catalog, &plan, &engine);
    let providers = crate::audit::check_providers(&catalog, &plan);
    let findings = crate::audit::evaluate_plan(&catalog, &planned, &providers, &targets, &limits, &|_, _| {});
    let today = manifest.started_at.date_naive();
    let results = RunResults::build(&plan, findings, &catalog.severities(), waivers, today);
    let info = RunInfo {
        id: recorded.run.id.clone(),
        started_at: recorded.run.started_at,
        finished_at: recorded.run.finished_at,
        facts_origin: recorded.run.facts_origin.clone(),
        selection: recorded.run.selection.clone(),
        fail_on: recorded.run.fail_on.clone(),
        exit_code: recorded.run.exit_code,
    };
    let derived = crate::report::build(&catalog, &plan, &results, &targets, info);
    Ok((recorded, derived))
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

/// One finding's verdict, as compared.
type Verdict = (String, String, String, String, String);

fn verdicts(control: &ControlReport) -> BTreeSet<Verdict> {
    control
        .findings
        .iter()
        .map(|f| (f.check.clone(), f.target.clone(), f.resource.clone(), f.status.to_string(), f.message.clone()))
        .collect()
}

fn controls(report: &Report) -> BTreeMap<String, &ControlReport> {
    report
        .benchmarks
        .iter()
        .flat_map(|b| &b.sections)
        .flat_map(|s| &s.controls)
        .map(|c| (c.full_id.clone(), c))
        .collect()
}

fn compare(recorded: &Report, derived: &Report, problems: &mut Vec<String>) {
    let (recorded, derived) = (controls(recorded), controls(derived));
    for (id, control) in &recorded {
        let Some(again) = derived.get(id) else {
            problems.push(format!("control {id}: in the report, but the recorded content has no such control"));
            continue;
        };
        if control.status != again.status {
            problems.push(format!(
                "control {id}: the report says {}, the recorded facts give {}",
                control.status, again.status
            ));
        }
        for (target, status) in &control.targets {
            match again.targets.get(target) {
                Some(derived) if derived != status => problems.push(format!(
                    "control {id}, target {target}: the report says {status}, the recorded facts give {derived}"
                )),
                None => problems.push(format!("control {id}, target {target}: in the report, not re-derived")),
                Some(_) => {}
            }
        }
        let (said, found) = (verdicts(control), verdicts(again));
        for (check, target, resource, status, message) in said.difference(&found) {
            problems.push(format!(
                "control {id}: finding not re-derived: {check} on {target} {resource}: {status}: {message}"
            ));
        }
        for (check, target, resource, status, message) in found.difference(&said) {
            problems.push(format!(
                "control {id}: finding missing from the report: {check} on {target} {resource}: {status}: {message}"
            ));
        }
    }
    for id in derived.keys().filter(|id| !recorded.contains_key(*id)) {
        problems.push(format!("control {id}: re-derived, but missing from the report"));
    }
}
