//! Recorded fact bundles: every target's facts in one JSON file, written by
//! `--save-facts` and evaluated offline by `--facts`.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::provider::Provider;
use super::target::TargetFacts;
use super::{redact, Fact, FactStore};

pub const BUNDLE_VERSION: u32 = 1;

/// The longest target name a bundle may give, in bytes: a name is repeated
/// in every finding, history row and report line of its target (host names
/// are at most 253 bytes, account ids 12 digits).
pub const MAX_TARGET_NAME_BYTES: usize = 256;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub bundle_version: u32,
    /// The tool and version that recorded it.
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub targets: Vec<BundleTarget>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleTarget {
    pub name: String,
    pub provider: Provider,
    pub facts: Vec<Fact>,
}

/// Why a bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: cannot read the fact bundle: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}:{column}: not a valid fact bundle: {message}")]
    Parse { path: String, line: usize, column: usize, message: String },
    #[error("{path}: bundle_version {found} is not supported (this posture reads version {BUNDLE_VERSION})")]
    Version { path: String, found: u32 },
    #[error("{path}: target '{target}' holds fact '{key}' twice")]
    DuplicateFact { path: String, target: String, key: String },
    #[error("{path}: target #{index}: {problem}")]
    TargetName { path: String, index: usize, problem: String },
    #[error("{path}: target name '{target}' appears twice")]
    DuplicateTarget { path: String, target: String },
}

/// A bundle of borrowed facts, serialized exactly as [`Bundle`]: writing a
/// bundle never copies the facts (a large host's are tens of MiB).
#[derive(Serialize)]
struct BundleView<'a> {
    bundle_version: u32,
    recorded_by: String,
    recorded_at: DateTime<Utc>,
    targets: Vec<BundleTargetView<'a>>,
}

#[derive(Serialize)]
struct BundleTargetView<'a> {
    name: &'a str,
    provider: Provider,
    facts: Vec<&'a Fact>,
}

/// Writes the targets' facts for which `keep` holds as a bundle to `path`
/// (pretty JSON, 0600, written whole or not at all: see [`crate::atomic_write`]).
pub fn write(path: &Path, targets: &[TargetFacts], keep: &dyn Fn(&Fact) -> bool) -> std::io::Result<()> {
    // 0600: the facts describe the audited systems in detail.
    crate::atomic_write::write_file(path, 0o600, |file| write_into(file, targets, keep), |_, err| err)
}

/// Writes the bundle of the targets' facts for which `keep` holds into `file`.
pub fn write_into(file: &std::fs::File, targets: &[TargetFacts], keep: &dyn Fn(&Fact) -> bool) -> std::io::Result<()> {
    let view = BundleView {
        bundle_version: BUNDLE_VERSION,
        recorded_by: format!("posture {}", env!("CARGO_PKG_VERSION")),
        recorded_at: Utc::now(),
        targets: targets
            .iter()
            .map(|t| BundleTargetView {
                name: &t.name,
                provider: t.provider,
                facts: t.facts.iter().filter(|fact| keep(fact)).collect(),
            })
            .collect(),
    };
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, &view)?;
    std::io::Write::write_all(&mut writer, b"\n")?;
    std::io::Write::flush(&mut writer)
}

impl Bundle {
    pub fn read(path: &Path) -> Result<Self, BundleError> {
        let display = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| BundleError::Read { path: display.clone(), source })?;
        Self::parse(&display, &text)
    }

    pub fn parse(display: &str, text: &str) -> Result<Self, BundleError> {
        let bundle: Bundle = serde_json::from_str(text).map_err(|err| BundleError::Parse {
            path: display.to_owned(),
            line: err.line(),
            column: err.column(),
            message: err.to_string().split(" at line ").next().unwrap_or_default().to_owned(),
        })?;
        if bundle.bundle_version != BUNDLE_VERSION {
            return Err(BundleError::Version { path: display.to_owned(), found: bundle.bundle_version });
        }
        let mut names = std::collections::BTreeSet::new();
        for (index, target) in bundle.targets.iter().enumerate() {
            let problem = if target.name.trim().is_empty() {
                Some(String::from("the target name is empty"))
            } else if target.name.len() > MAX_TARGET_NAME_BYTES {
                Some(format!(
                    "the target name is {} bytes long, more than the {MAX_TARGET_NAME_BYTES} a name may have (it \
                     begins '{}')",
                    target.name.len(),
                    crate::escape::terminal(&target.name.chars().take(40).collect::<String>())
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(BundleError::TargetName { path: display.to_owned(), index: index + 1, problem });
            }
            if !names.insert(&target.name) {
                return Err(BundleError::DuplicateTarget { path: display.to_owned(), target: target.name.clone() });
            }
            let mut keys = std::collections::BTreeSet::new();
            for fact in &target.facts {
                if !keys.insert(&fact.key) {
                    return Err(BundleError::DuplicateFact {
                        path: display.to_owned(),
                        target: target.name.clone(),
                        key: fact.key.to_string(),
                    });
                }
            }
        }
        Ok(bundle)
    }

    pub fn into_targets(self) -> Vec<TargetFacts> {
        self.targets
            .into_iter()
            .map(|t| {
                // A bundle recorded by an older posture, or written by hand, may hold secrets that host
                // facts made now never do: they get the same redaction, so none reaches a report.
                let facts = t.facts.into_iter().map(redact::redact_host_fact).collect::<FactStore>();
                TargetFacts::recorded(t.name, t.provider, facts)
            })
            .collect()
    }
}
