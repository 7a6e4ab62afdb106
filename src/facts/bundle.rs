//! Recorded fact bundles: every target's facts in one JSON file, written by
//! `--save-facts` and evaluated offline by `--facts`.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Fact, FactStore};
use crate::evaluate::TargetFacts;

pub const BUNDLE_VERSION: u32 = 1;

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
    pub provider: String,
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
    #[error("{path}: target name '{target}' appears twice")]
    DuplicateTarget { path: String, target: String },
}

impl Bundle {
    pub fn new(targets: &[TargetFacts]) -> Self {
        Self {
            bundle_version: BUNDLE_VERSION,
            recorded_by: format!("posture {}", env!("CARGO_PKG_VERSION")),
            recorded_at: Utc::now(),
            targets: targets
                .iter()
                .map(|t| BundleTarget {
                    name: t.name.clone(),
                    provider: t.provider.clone(),
                    facts: t.facts.iter().cloned().collect(),
                })
                .collect(),
        }
    }

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
        for target in &bundle.targets {
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
            .map(|t| TargetFacts {
                name: t.name,
                provider: t.provider,
                facts: t.facts.into_iter().collect::<FactStore>(),
            })
            .collect()
    }

    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }
}
