//! The report schema, version 2: a frozen, self-contained view of a run that
//! every format is rendered from. Internal types can change; this must not
//! change without a new `schema_version` (see `templates/report.schema.json`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::FactSource;
use crate::finding::{Severity, Status};

/// 2: waivers (`waivers`, `findings[].waiver`), changes since the previous run.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Always 2 for this schema.
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
    /// Every waiver of the waivers file and what became of it in this run.
    pub waivers: Vec<WaiverReport>,
    /// What changed since the previous run of the same benchmarks and
    /// targets in the history; null when the history is off (`--no-history`),
    /// could not be read, or holds no such run.
    #[serde(default)]
    pub changes: Option<Changes>,
}

/// One waiver and its outcome.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaiverReport {
    pub id: String,
    /// `<file>:<line>` of the waiver.
    pub source: String,
    /// `control <id>`, `control <benchmark>:<id>` or `check <id>`.
    pub scope: String,
    /// Glob on the resource (ARN, host path...).
    pub resource: String,
    /// Glob on the target name (account id, host name).
    pub target: String,
    pub justification: String,
    pub approver: String,
    /// Last day the waiver applies.
    pub expires: chrono::NaiveDate,
    pub state: crate::waivers::WaiverState,
    /// Failing findings it waived (active) or no longer waives (expired).
    pub matched: usize,
}

/// The waiver concerning a failing finding.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingWaiver {
    pub id: String,
    /// `active` (the finding is waived) or `expired` (it fails again).
    pub state: crate::waivers::WaiverState,
    pub justification: String,
    pub approver: String,
    pub expires: chrono::NaiveDate,
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
    /// 0 clean, 1 a failure at or above `fail_on`, 2 something could not be
    /// evaluated (an error finding, a content problem, or the history append failed).
    pub exit_code: u8,
    /// Whether recording this run in the history failed (exit code 2): the
    /// one input of the exit code that is neither a finding nor a content
    /// problem, recorded so that `verify` re-derives the exit code.
    #[serde(default)]
    pub history_failed: bool,
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
    /// Control statuses on this target: each control judged on it counted
    /// once, with its status on this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controls: Option<StatusCounts>,
    /// For a host reached over SSH: how, and every command run on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Connection>,
}

/// How a remote host was reached and what ran on it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// `ssh`.
    pub transport: String,
    /// `user@host:port`, as far as given.
    pub address: String,
    /// Whether the connection was made.
    pub connected: bool,
    /// Why the host could not be (fully) collected: unreachable, login
    /// refused, host key rejected, timed out, connection lost. Every fact of
    /// the host is then unavailable with this reason.
    pub error: Option<String>,
    /// Batches of commands sent over the one connection.
    pub round_trips: usize,
    /// Wall time of connecting and collecting, in seconds.
    pub seconds: f64,
    /// Every command run on the host, in order, with its exit status.
    pub commands: Vec<CommandRun>,
}

/// One command run on a host.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRun {
    /// The round trip that ran it (1 is the first).
    pub round_trip: usize,
    /// The command line as run (`sudo -n -- ...` when run as root).
    pub command: String,
    /// Null when it was not found, not run to the end, or refused.
    pub exit_status: Option<i32>,
    /// Why there is no exit status, or that sudo refused.
    pub note: Option<String>,
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
    /// How many targets have each status, when the control was judged on
    /// more than one target ("fails on 3 of 40 hosts").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_counts: Option<StatusCounts>,
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
    /// The waiver that excuses this failure (status `waived`), or that
    /// expired and no longer does.
    pub waiver: Option<FindingWaiver>,
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
    /// The commands its facts run on a host (see `posture explain <check>`);
    /// absent for checks that read no host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
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

/// The changes between the previous run of the same benchmarks and targets
/// and this one. A control is compared per (benchmark, control, target), a
/// resource per (benchmark, control, target, resource).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    /// The run compared with.
    pub previous_run: PreviousRun,
    /// How many controls and resources changed, by kind.
    pub counts: ChangeCounts,
    /// Controls (per target) that changed status, appeared or disappeared.
    pub controls: Vec<Change>,
    /// Resources (per control and target) that changed status, appeared or disappeared.
    pub resources: Vec<Change>,
}

/// The earlier run a [`Changes`] compares with, as the history holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviousRun {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub tool_version: String,
    pub exit_code: i64,
    /// pass / (pass + fail + error) over its controls; null when nothing was judged.
    pub pass_rate: Option<f64>,
}

/// Changes by kind, for controls and for resources.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeCounts {
    pub controls: ChangeKindCounts,
    pub resources: ChangeKindCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeKindCounts {
    pub newly_failing: usize,
    pub fixed: usize,
    pub newly_erroring: usize,
    pub changed: usize,
    pub added: usize,
    pub removed: usize,
}

/// What kind of change (changes are listed in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Was not `fail`, is `fail`.
    NewlyFailing,
    /// Was `fail`, is `pass` or `not_applicable`.
    Fixed,
    /// Was not `error`, is `error`.
    NewlyErroring,
    /// Any other change of status (`error` to `pass`, `fail` to `waived`...).
    Changed,
    /// Not in the previous run.
    Added,
    /// In the previous run, not in this one.
    Removed,
}

/// One control (per target) or resource whose status changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub kind: ChangeKind,
    pub benchmark: String,
    pub control: String,
    /// Null for a control judged on no target (a manual control).
    pub target: Option<String>,
    /// The resource, for a resource change; null for a control change.
    pub resource: Option<String>,
    /// Null when added.
    pub before: Option<Status>,
    /// Null when removed.
    pub after: Option<Status>,
}
