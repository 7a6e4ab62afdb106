//! The report schema, version 2: a frozen, self-contained view of a run that
//! every format is rendered from. Internal types can change; this must not
//! change without a new `schema_version` (see `templates/report.schema.json`).
//! So the model has its own types for every value in it (statuses,
//! severities, fact sources, waiver states) and imports nothing of the
//! crate: renaming an internal enum or its serde form cannot change the JSON.
//! `report::build` converts the run's types into these.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// What changed since the previous run of the same benchmarks, targets
    /// and profiles in the history; null when the history is off (`--no-history`),
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
    pub state: WaiverState,
    /// Failing findings it waived (active) or no longer waives (expired).
    pub matched: usize,
}

/// The waiver concerning a failing finding.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingWaiver {
    pub id: String,
    /// `active` (the finding is waived) or `expired` (it fails again).
    pub state: WaiverState,
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
    /// `--ignore-os-mismatch`: a target whose OS is not that of a benchmark
    /// that declares its systems was judged anyway (see `targets[].os_match`);
    /// re-applied by `verify`.
    #[serde(default)]
    pub ignore_os_mismatch: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub controls: Vec<String>,
    pub skip: Vec<String>,
    /// `--level` (1 or 2), as given; absent when not given. Each benchmark's
    /// `profile` says what it made of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// `--host-role` (`server`, `workstation`), as given; absent when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_role: Option<String>,
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
    /// For an AWS account: every API request sent to collect its facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_calls: Option<ApiCalls>,
    /// For each benchmark that names the operating systems it is written
    /// for, how the target's OS compared and whether it was judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os_match: Vec<OsMatch>,
}

/// How a target's OS compared with the systems a benchmark is written for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OsMatch {
    pub benchmark: String,
    /// The systems the benchmark names (`Debian 12`).
    pub applies_to: Vec<String>,
    /// The target's OS as its os-release says: `PRETTY_NAME (ID VERSION_ID)`;
    /// null when its OS fact says nothing.
    pub host_os: Option<String>,
    pub outcome: OsOutcome,
    /// Whether the benchmark's controls were judged on the target: on a
    /// match, or else only with `--ignore-os-mismatch` (overridden). When
    /// not, each of them is `error` on the target with `reason`.
    pub judged: bool,
    /// Why it is not a match (`benchmark is for Debian 12; host is ...`,
    /// `cannot tell the host's OS: ...`); null on a match.
    pub reason: Option<String>,
}

/// The outcome of comparing a target's OS with a benchmark's systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OsOutcome {
    /// One of the benchmark's systems.
    Match,
    /// None of them.
    Mismatch,
    /// The OS could not be told (the fact is missing, unavailable, or names no os-release ID).
    Unknown,
}

/// The API requests sent for one AWS account, from connecting on: all
/// read-only calls that the fact table declares.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiCalls {
    /// First attempts per `service Operation`.
    pub calls: BTreeMap<String, u64>,
    /// Attempts after the first (the SDK's retries on throttling or
    /// transient errors).
    pub retries: u64,
    /// `service Operation` of each request sent again though its answer was
    /// already had (expected to be empty).
    pub repeated: Vec<String>,
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
    /// The profile that selected its controls (`--level`, `--host-role`);
    /// absent when no profile did: every control was within reach of
    /// `--controls` and `--skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileReport>,
    pub summary: Summary,
    pub sections: Vec<SectionReport>,
}

/// The profile a benchmark's controls were selected by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileReport {
    /// As CIS names it: `Level 1 - Server`, `Level 2`, `All levels - Workstation`.
    pub name: String,
    /// The highest CIS level taken in (Level 2 takes in Level 1); null: every level.
    pub level: Option<u8>,
    /// The host role (`server`, `workstation`); null for a benchmark without host roles.
    pub role: Option<String>,
    /// Whether the role is the benchmark's default (no `--host-role` was given).
    pub role_by_default: bool,
    /// The benchmark's profiles taken in, as its controls name them (`L1 server`).
    pub profiles: Vec<String>,
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

/// The changes between the previous run of the same benchmarks, targets and
/// profiles and this one. A control is compared per (benchmark, control, target), a
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

/// The verdict of a finding or the roll-up of a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The check could not be evaluated: unavailable fact, script fault, limit.
    Error,
    NotApplicable,
    Manual,
    /// A failing finding covered by an active waiver.
    Waived,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Pass, Status::Fail, Status::Error, Status::NotApplicable, Status::Manual, Status::Waived];

    /// The status as the JSON writes it (and the history stores it).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::NotApplicable => "not_applicable",
            Status::Manual => "manual",
            Status::Waived => "waived",
        }
    }

    /// The precedence a control's status is rolled up from its findings'
    /// with, the higher winning (fail, error, waived, pass, not_applicable,
    /// manual), for readers of reports that combine statuses as the run did
    /// (the history keeps the worst verdict of a resource). A test in
    /// `report` keeps it equal to the evaluation's.
    pub fn rollup_rank(self) -> u8 {
        match self {
            Status::Fail => 5,
            Status::Error => 4,
            Status::Waived => 3,
            Status::Pass => 2,
            Status::NotApplicable => 1,
            Status::Manual => 0,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL.into_iter().find(|status| status.as_str() == s).ok_or_else(|| {
            format!("unknown status '{s}' (expected one of pass, fail, error, not_applicable, manual, waived)")
        })
    }
}

/// How much a failing check matters; ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The severity as the JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a fact was obtained: the evidence trail an auditor follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// What became of one waiver in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaiverState {
    /// In force and applied to at least one failing finding.
    Active,
    /// Past its expiry date: it no longer applies (whether or not it covers
    /// a failing finding).
    Expired,
    /// In force but no failing finding of this run matches it.
    Unmatched,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The JSON of a value of the model, and the value read back from it.
    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> (serde_json::Value, T) {
        let json = serde_json::to_value(value).expect("serialises");
        let back = serde_json::from_value(json.clone()).expect("deserialises");
        (json, back)
    }

    #[test]
    fn every_status_is_written_as_schema_version_2_says() {
        let written = [
            (Status::Pass, "pass"),
            (Status::Fail, "fail"),
            (Status::Error, "error"),
            (Status::NotApplicable, "not_applicable"),
            (Status::Manual, "manual"),
            (Status::Waived, "waived"),
        ];
        assert_eq!(written.map(|(status, _)| status), Status::ALL);
        for (status, text) in written {
            assert_eq!(round_trip(&status), (json!(text), status));
            assert_eq!((status.as_str(), status.to_string()), (text, text.to_owned()));
            assert_eq!(text.parse::<Status>(), Ok(status));
        }
        assert!("passed".parse::<Status>().is_err());
    }

    #[test]
    fn every_severity_is_written_as_schema_version_2_says() {
        let written = [
            (Severity::Info, "info"),
            (Severity::Low, "low"),
            (Severity::Medium, "medium"),
            (Severity::High, "high"),
            (Severity::Critical, "critical"),
        ];
        assert_eq!(written.map(|(severity, _)| severity), Severity::ALL);
        for (severity, text) in written {
            assert_eq!(round_trip(&severity), (json!(text), severity));
            assert_eq!((severity.as_str(), severity.to_string()), (text, text.to_owned()));
        }
    }

    #[test]
    fn every_waiver_state_is_written_as_schema_version_2_says() {
        for (state, text) in
            [(WaiverState::Active, "active"), (WaiverState::Expired, "expired"), (WaiverState::Unmatched, "unmatched")]
        {
            assert_eq!(round_trip(&state), (json!(text), state));
        }
    }

    #[test]
    fn every_fact_source_is_written_as_schema_version_2_says() {
        let command = FactSource::Command { command: "sshd -T".into(), exit_status: Some(0) };
        let written = [
            (command.clone(), json!({"kind": "command", "command": "sshd -T", "exit_status": 0})),
            (
                FactSource::Command { command: "missing".into(), exit_status: None },
                json!({"kind": "command", "command": "missing"}),
            ),
            (FactSource::File { path: "/etc/passwd".into() }, json!({"kind": "file", "path": "/etc/passwd"})),
            (
                FactSource::Composite { parts: vec![FactSource::File { path: "/etc/group".into() }, command] },
                json!({"kind": "composite", "parts": [
                    {"kind": "file", "path": "/etc/group"},
                    {"kind": "command", "command": "sshd -T", "exit_status": 0},
                ]}),
            ),
            (
                FactSource::Api { service: "s3".into(), operation: "ListBuckets".into(), region: None },
                json!({"kind": "api", "service": "s3", "operation": "ListBuckets"}),
            ),
            (
                FactSource::Api {
                    service: "ec2".into(),
                    operation: "DescribeVpcs".into(),
                    region: Some("eu-west-1".into()),
                },
                json!({"kind": "api", "service": "ec2", "operation": "DescribeVpcs", "region": "eu-west-1"}),
            ),
            (FactSource::Recorded { origin: "bundle".into() }, json!({"kind": "recorded", "origin": "bundle"})),
        ];
        for (source, json) in written {
            assert_eq!(round_trip(&source), (json, source));
        }
    }
}
