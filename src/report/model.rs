//! The report schema, version 1: a frozen, self-contained view of a run that
//! every format is rendered from. Internal types can change; this must not
//! change without a new `schema_version` (see `templates/report.schema.json`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::FactSource;
use crate::finding::{Severity, Status};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Always 1 for this schema.
    pub schema_version: u32,
    pub tool: Tool,
    pub run: Run,
    pub targets: Vec<Target>,
    /// Control counts over every benchmark of the run.
    pub summary: Summary,
    pub benchmarks: Vec<BenchmarkReport>,
    /// Every check that ran, by id: what it judges and its version.
    pub checks: BTreeMap<String, CheckInfo>,
    /// Every fact the selected checks read, per target: how and when it was
    /// obtained (values are in the fact bundle).
    pub facts: Vec<FactRecord>,
    /// Content problems (file:line:column) found while loading the catalog.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// SHA-256 over the content used: `sha256  path` lines, sorted, of the
    /// selected benchmark files, their checks' files and their preludes.
    pub content_hash: String,
    /// Where the facts came from: `collected` or `bundle:<file name>`.
    pub facts_origin: String,
    /// The control selection, as given.
    pub selection: Selection,
    /// The severity at or above which a failure makes the exit code 1 (`none`: never).
    pub fail_on: String,
    pub exit_code: u8,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub controls: Vec<String>,
    pub skip: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub provider: String,
    pub facts_available: usize,
    pub facts_unavailable: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub controls: StatusCounts,
    pub findings: StatusCounts,
    /// pass / (pass + fail + error) over controls; null when nothing was judged.
    pub pass_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusCounts {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub not_applicable: usize,
    pub manual: usize,
    pub waived: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkReport {
    pub id: String,
    pub title: String,
    pub version: String,
    pub provider: String,
    pub source: String,
    /// SHA-256 of the benchmark file.
    pub sha256: String,
    pub summary: Summary,
    pub sections: Vec<SectionReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionReport {
    pub id: String,
    pub title: String,
    pub summary: Summary,
    pub controls: Vec<ControlReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlReport {
    pub id: String,
    /// `<benchmark-id>:<control-id>`.
    pub full_id: String,
    pub title: String,
    /// Title of the most specific section the control is in.
    pub subsection: Option<String>,
    pub profiles: Vec<String>,
    /// `automated` or `manual`, as the benchmark says.
    pub assessment: String,
    pub status: Status,
    /// Why, when the findings don't say it (manual, not yet automated, nothing evaluated).
    pub reason: Option<String>,
    /// What an assessor should look at, for manual controls.
    pub guidance: Option<String>,
    pub severity: Option<Severity>,
    pub checks: Vec<String>,
    /// Status per target.
    pub targets: BTreeMap<String, Status>,
    pub findings: Vec<FindingReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingReport {
    pub check: String,
    pub target: String,
    pub resource: String,
    pub status: Status,
    pub severity: Severity,
    pub message: String,
    /// What the check saw that decided the verdict.
    pub observed: Option<serde_json::Value>,
    /// Keys of the facts the verdict was computed from (see `facts`).
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInfo {
    pub title: String,
    pub severity: Severity,
    pub resource_type: String,
    pub facts: Vec<String>,
    pub rationale: String,
    pub remediation: String,
    pub references: Vec<String>,
    /// Content path of the check file.
    pub path: String,
    /// SHA-256 of the check file: the check's version.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FactRecord {
    pub target: String,
    pub key: String,
    /// `available` or `unavailable`.
    pub state: String,
    pub reason: Option<String>,
    pub source: FactSource,
    pub collected_at: DateTime<Utc>,
}
