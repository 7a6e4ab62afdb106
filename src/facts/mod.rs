//! Facts: what was collected from a target, under which key, how and when.
//!
//! A [`Fact`] is either available (a JSON value) or unavailable with the
//! reason it could not be had. Unavailable is never the same as empty: a
//! check that reads an unavailable fact gives an `error` finding.

pub mod aws;
pub mod bundle;
pub mod descriptor;
pub mod host;
pub mod provider;
pub mod redact;
pub mod target;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The stable name of one fact, e.g. `host.sysctl` or `host.file:/etc/passwd`.
///
/// The part after the first `:` is the fact's parameter (a path for
/// `host.file` and `host.text`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FactKey(String);

impl FactKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key without its parameter: `host.file` for `host.file:/etc/passwd`.
    pub fn kind(&self) -> &str {
        self.0.split_once(':').map_or(self.0.as_str(), |(kind, _)| kind)
    }

    /// The parameter after the first `:`, if any.
    pub fn param(&self) -> Option<&str> {
        self.0.split_once(':').map(|(_, param)| param)
    }
}

impl fmt::Display for FactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a fact was obtained: the evidence trail an auditor follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FactSource {
    /// A command run on the target, with its exit status when it ran.
    Command {
        command: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_status: Option<i32>,
    },
    /// A file read on the target.
    File { path: String },
    /// Several files and commands combined into one fact.
    Composite { parts: Vec<FactSource> },
    /// An API operation (AWS), with its region.
    Api {
        service: String,
        operation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
    },
    /// Given by a recorded fact bundle or a test fixture.
    Recorded { origin: String },
}

/// The value of a fact, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FactValue {
    Available { value: serde_json::Value },
    Unavailable { reason: String },
}

/// One collected fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub key: FactKey,
    #[serde(flatten)]
    pub value: FactValue,
    pub source: FactSource,
    pub collected_at: DateTime<Utc>,
}

impl Fact {
    pub fn available(key: FactKey, value: serde_json::Value, source: FactSource) -> Self {
        Self { key, value: FactValue::Available { value }, source, collected_at: Utc::now() }
    }

    pub fn unavailable(key: FactKey, reason: impl Into<String>, source: FactSource) -> Self {
        Self { key, value: FactValue::Unavailable { reason: reason.into() }, source, collected_at: Utc::now() }
    }

    pub fn unavailable_reason(&self) -> Option<&str> {
        match &self.value {
            FactValue::Available { .. } => None,
            FactValue::Unavailable { reason } => Some(reason),
        }
    }
}

/// Every fact of one target, by key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FactStore {
    facts: BTreeMap<FactKey, Fact>,
}

impl FactStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, fact: Fact) {
        self.facts.insert(fact.key.clone(), fact);
    }

    pub fn get(&self, key: &FactKey) -> Option<&Fact> {
        self.facts.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Fact> {
        self.facts.values()
    }

    pub fn len(&self) -> usize {
        self.facts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }
}

impl FromIterator<Fact> for FactStore {
    fn from_iter<I: IntoIterator<Item = Fact>>(iter: I) -> Self {
        let mut store = Self::new();
        for fact in iter {
            store.insert(fact);
        }
        store
    }
}
