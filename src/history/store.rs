//! The run store: appends a run (one transaction) and reads runs, their
//! statuses and the trend back, with the same SQL on SQLite and PostgreSQL.
//! Statuses are the report's (`report::model::Status`): a run is stored from
//! its report, and its stored text is the report's.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::backend::{insert_rows, Access, Connection, DbError, Sql, Value};
use super::{schema, HistoryError, Location};
use crate::report::model::{Report, Status, StatusCounts};

/// A run as the history holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRun {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub tool_version: String,
    pub content_hash: String,
    pub facts_origin: String,
    pub exit_code: i64,
    pub benchmarks: Vec<String>,
    pub targets: Vec<String>,
    /// The profile each of its benchmarks was selected by, as
    /// `benchmark-id: Level 1 - Server`; empty for whole benchmarks.
    pub profiles: Vec<String>,
    /// Control counts over the run's benchmarks.
    pub controls: StatusCounts,
    /// pass / (pass + fail + error) over controls; null when nothing was judged.
    pub pass_rate: Option<f64>,
}

impl StoredRun {
    pub fn scope(&self) -> Scope {
        Scope::new(self.benchmarks.clone(), self.targets.clone(), self.profiles.clone())
    }

    /// Its benchmarks for a reader, each with its profile when it had one
    /// (`cis-debian-linux-12 (Level 1 - Server)`).
    pub fn benchmarks_with_profiles(&self) -> Vec<String> {
        self.benchmarks.iter().map(|id| with_profile(id, profile_of(&self.profiles, id))).collect()
    }
}

/// What a run audited: its benchmarks, targets and the profiles that
/// selected the benchmarks' controls. Runs of equal scopes are compared
/// with each other: a Level 1 run with the Level 1 run before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    benchmarks: Vec<String>,
    targets: Vec<String>,
    profiles: Vec<String>,
}

impl Scope {
    pub fn new(benchmarks: Vec<String>, targets: Vec<String>, profiles: Vec<String>) -> Self {
        let sorted = |mut names: Vec<String>| {
            names.sort();
            names.dedup();
            names
        };
        Self { benchmarks: sorted(benchmarks), targets: sorted(targets), profiles: sorted(profiles) }
    }

    pub fn of_report(report: &Report) -> Self {
        Self::new(
            report.benchmarks.iter().map(|b| b.id.clone()).collect(),
            report.targets.iter().map(|t| t.name.clone()).collect(),
            report
                .benchmarks
                .iter()
                .filter_map(|b| b.profile.as_ref().map(|profile| format!("{}: {}", b.id, profile.name)))
                .collect(),
        )
    }

    /// Whether the two audited the same benchmarks and targets (whatever their profiles).
    pub fn same_benchmarks_and_targets(&self, other: &Scope) -> bool {
        self.benchmarks == other.benchmarks && self.targets == other.targets
    }

    fn benchmarks_key(&self) -> String {
        join_key(&self.benchmarks)
    }

    fn targets_key(&self) -> String {
        join_key(&self.targets)
    }

    fn profiles_key(&self) -> String {
        join_key(&self.profiles)
    }
}

/// The statuses of one run, as a diff compares them: per (benchmark,
/// control, target) and per (benchmark, control, target, resource).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub controls: BTreeMap<ControlKey, Status>,
    pub resources: BTreeMap<ResourceKey, Status>,
}

/// (benchmark, control, target); the target is "" for a control judged on no target.
pub type ControlKey = (String, String, String);
/// (benchmark, control, target, resource).
pub type ResourceKey = (String, String, String, String);

impl Snapshot {
    /// The statuses of a report. A resource that several of a control's
    /// checks judged gets the worst of their verdicts, as controls do.
    pub fn of_report(report: &Report) -> Self {
        let mut snapshot = Snapshot::default();
        for benchmark in &report.benchmarks {
            for control in benchmark.sections.iter().flat_map(|s| &s.controls) {
                if control.targets.is_empty() {
                    snapshot.controls.insert((benchmark.id.clone(), control.id.clone(), String::new()), control.status);
                }
                for (target, status) in &control.targets {
                    snapshot.controls.insert((benchmark.id.clone(), control.id.clone(), target.clone()), *status);
                }
                for finding in &control.findings {
                    let key =
                        (benchmark.id.clone(), control.id.clone(), finding.target.clone(), finding.resource.clone());
                    snapshot.add_resource(key, finding.status);
                }
            }
        }
        snapshot
    }

    fn add_resource(&mut self, key: ResourceKey, status: Status) {
        self.resources
            .entry(key)
            .and_modify(|worst| {
                if status.rollup_rank() > worst.rollup_rank() {
                    *worst = status;
                }
            })
            .or_insert(status);
    }
}

/// One point of the trend: a run's control counts in one benchmark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub benchmark: String,
    /// The profile that selected the benchmark's controls (`Level 1 - Server`); null for the whole benchmark.
    pub profile: Option<String>,
    pub targets: Vec<String>,
    pub controls: StatusCounts,
    pub pass_rate: Option<f64>,
}

impl TrendPoint {
    /// Its benchmark for a reader, with its profile when it had one
    /// (`cis-debian-linux-12 (Level 1 - Server)`): runs of different
    /// profiles are different lines of the trend.
    pub fn benchmark_with_profile(&self) -> String {
        with_profile(&self.benchmark, self.profile.as_deref())
    }
}

/// An open history.
pub struct Store {
    connection: Connection,
    location: Location,
}

/// Times are stored as text that sorts as time does: UTC, fixed width.
pub fn timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

const RUN_COLUMNS: &str = "r.id, r.started_at, r.finished_at, r.tool_version, r.content_hash, r.facts_origin, \
     r.exit_code, r.benchmarks, r.targets, r.profiles";

const COUNT_COLUMNS: [&str; 6] = ["pass", "fail", "error", "not_applicable", "manual", "waived"];

/// The runs matching `condition` (on `r`, the runs table), with their control
/// counts summed over benchmarks, newest first.
fn run_query(condition: &str, limit_parameter: Option<usize>) -> String {
    let sums: Vec<String> = COUNT_COLUMNS.iter().map(|c| format!("CAST(COALESCE(SUM(b.{c}), 0) AS BIGINT)")).collect();
    let limit = limit_parameter.map_or_else(String::new, |n| format!(" LIMIT ${n}"));
    format!(
        "SELECT {RUN_COLUMNS}, {} FROM runs r LEFT JOIN run_benchmarks b ON b.run_id = r.id \
         WHERE {condition} GROUP BY {RUN_COLUMNS} ORDER BY r.started_at DESC, r.id DESC{limit}",
        sums.join(", ")
    )
}

impl Store {
    /// Opens the history at `location` for an audit, creating it or
    /// bringing its schema up to date when needed. Nothing is written to a
    /// file that is not a history (see [`schema::migrate`]).
    pub fn open(location: &Location) -> Result<Self, HistoryError> {
        let connection = match location {
            Location::Sqlite(path) => Connection::open_sqlite(path, Access::ReadWrite),
            Location::Postgres(url) => Connection::open_postgres(url),
        }
        .map_err(|err| HistoryError::from_db(location, err))?;
        let mut store = Self { connection, location: location.clone() };
        schema::migrate(&mut store.connection).map_err(|err| HistoryError::from_db(location, err))?;
        store.connection.use_write_ahead_log().map_err(|err| HistoryError::from_db(location, err))?;
        Ok(store)
    }

    /// Opens an existing history to read it (`history`, `diff`, `trend`): a
    /// SQLite file read-only, so that one on read-only media can be read.
    /// A history of an older schema is brought up to date as [`Store::open`]
    /// does (which needs it writable).
    pub fn open_to_read(location: &Location) -> Result<Self, HistoryError> {
        let Location::Sqlite(path) = location else { return Self::open(location) };
        let connection =
            Connection::open_sqlite(path, Access::ReadOnly).map_err(|err| HistoryError::from_db(location, err))?;
        let mut store = Self { connection, location: location.clone() };
        match schema::version(&mut store.connection).map_err(|err| HistoryError::from_db(location, err))? {
            schema::CURRENT_VERSION => Ok(store),
            _older_or_newer => {
                drop(store);
                Self::open(location)
            }
        }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    fn read<T>(&mut self, work: impl FnOnce(&mut dyn Sql) -> Result<T, DbError>) -> Result<T, HistoryError> {
        self.connection.transaction(false, work).map_err(|err| HistoryError::from_db(&self.location, err))
    }

    /// Sets the exit code of a recorded run: the one posture exited with
    /// when writing the outputs failed after the run was recorded.
    pub fn set_exit_code(&mut self, run_id: &str, exit_code: u8) -> Result<(), HistoryError> {
        let params = [Value::Int(exit_code.into()), Value::from(run_id)];
        self.connection
            .transaction(true, |sql| sql.execute("UPDATE runs SET exit_code = $1 WHERE id = $2", &params))
            .map_err(|err| HistoryError::from_db(&self.location, err))?;
        Ok(())
    }

    /// Appends a run: its metadata, its counts per benchmark, every
    /// control's status per target and every finding, in one transaction.
    pub fn append(&mut self, report: &Report) -> Result<(), HistoryError> {
        let run_id = report.run.id.clone();
        let scope = Scope::of_report(report);
        let mut benchmark_rows = Vec::new();
        let mut control_rows = Vec::new();
        let mut finding_rows = Vec::new();
        for benchmark in &report.benchmarks {
            let c = &benchmark.summary.controls;
            benchmark_rows.push(vec![
                Value::from(run_id.clone()),
                Value::from(benchmark.id.clone()),
                count(c.pass),
                count(c.fail),
                count(c.error),
                count(c.not_applicable),
                count(c.manual),
                count(c.waived),
            ]);
            for control in benchmark.sections.iter().flat_map(|s| &s.controls) {
                let row = |target: &str, status: Status| {
                    vec![
                        Value::from(run_id.clone()),
                        Value::from(benchmark.id.clone()),
                        Value::from(control.id.clone()),
                        Value::from(target),
                        Value::from(status.as_str()),
                    ]
                };
                if control.targets.is_empty() {
                    control_rows.push(row("", control.status));
                }
                for (target, status) in &control.targets {
                    control_rows.push(row(target, *status));
                }
                for finding in &control.findings {
                    finding_rows.push(vec![
                        Value::from(run_id.clone()),
                        Value::from(benchmark.id.clone()),
                        Value::from(control.id.clone()),
                        Value::from(finding.check.clone()),
                        Value::from(finding.target.clone()),
                        Value::from(finding.resource.clone()),
                        Value::from(finding.status.as_str()),
                        Value::from(finding.message.clone()),
                    ]);
                }
            }
        }
        let run_row = vec![
            Value::from(run_id.clone()),
            Value::from(timestamp(&report.run.started_at)),
            Value::from(timestamp(&report.run.finished_at)),
            Value::from(report.tool.version.clone()),
            Value::from(report.run.content_hash.clone()),
            Value::from(report.run.facts_origin.clone()),
            Value::Int(report.run.exit_code.into()),
            Value::from(scope.benchmarks_key()),
            Value::from(scope.targets_key()),
            Value::from(scope.profiles_key()),
        ];
        self.connection
            .transaction(true, |sql| {
                insert_rows(
                    sql,
                    "runs",
                    &[
                        "id",
                        "started_at",
                        "finished_at",
                        "tool_version",
                        "content_hash",
                        "facts_origin",
                        "exit_code",
                        "benchmarks",
                        "targets",
                        "profiles",
                    ],
                    &[run_row],
                )?;
                let mut columns = vec!["run_id", "benchmark"];
                columns.extend(COUNT_COLUMNS);
                insert_rows(sql, "run_benchmarks", &columns, &benchmark_rows)?;
                insert_rows(
                    sql,
                    "run_controls",
                    &["run_id", "benchmark", "control", "target", "status"],
                    &control_rows,
                )?;
                insert_rows(
                    sql,
                    "run_findings",
                    &["run_id", "benchmark", "control", "check_id", "target", "resource", "status", "message"],
                    &finding_rows,
                )
            })
            .map_err(|err| HistoryError::from_db(&self.location, err))
    }

    /// The newest runs, newest first.
    pub fn runs(&mut self, limit: usize) -> Result<Vec<StoredRun>, HistoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.read(|sql| sql.query(&run_query("1 = 1", Some(1)), &[Value::Int(limit)]))?;
        self.parse_runs(rows)
    }

    /// The run of this id, or of the one id that starts with it.
    pub fn find_run(&mut self, id_or_prefix: &str) -> Result<StoredRun, HistoryError> {
        let wanted = id_or_prefix.trim().to_ascii_lowercase();
        // Run ids are UUIDs: anything else cannot match, and must not reach LIKE as a pattern.
        if wanted.is_empty() || !wanted.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(HistoryError::UnknownRun { location: self.location.to_string(), id: id_or_prefix.to_owned() });
        }
        let pattern = format!("{wanted}%");
        let rows =
            self.read(|sql| sql.query(&run_query("r.id LIKE $1", Some(2)), &[Value::from(pattern), Value::Int(6)]))?;
        let mut runs = self.parse_runs(rows)?;
        if let Some(exact) = runs.iter().position(|r| r.id == wanted) {
            return Ok(runs.swap_remove(exact));
        }
        match runs.len() {
            0 => Err(HistoryError::UnknownRun { location: self.location.to_string(), id: id_or_prefix.to_owned() }),
            1 => Ok(runs.swap_remove(0)),
            _ => Err(HistoryError::AmbiguousRun {
                location: self.location.to_string(),
                prefix: id_or_prefix.to_owned(),
                matches: runs.iter().take(5).map(|r| r.id.clone()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// The newest run of `scope`.
    pub fn latest_of_scope(&mut self, scope: &Scope) -> Result<Option<StoredRun>, HistoryError> {
        let params = [
            Value::from(scope.benchmarks_key()),
            Value::from(scope.targets_key()),
            Value::from(scope.profiles_key()),
            Value::Int(1),
        ];
        let condition = "r.benchmarks = $1 AND r.targets = $2 AND r.profiles = $3";
        let rows = self.read(|sql| sql.query(&run_query(condition, Some(4)), &params))?;
        Ok(self.parse_runs(rows)?.into_iter().next())
    }

    /// The newest run of `scope` that started before `started_at` (or at
    /// the same time with a smaller id), other than `run_id`.
    pub fn previous_run(
        &mut self,
        scope: &Scope,
        started_at: &DateTime<Utc>,
        run_id: &str,
    ) -> Result<Option<StoredRun>, HistoryError> {
        let condition = "r.benchmarks = $1 AND r.targets = $2 AND r.profiles = $3 \
             AND (r.started_at < $4 OR (r.started_at = $4 AND r.id < $5))";
        let params = [
            Value::from(scope.benchmarks_key()),
            Value::from(scope.targets_key()),
            Value::from(scope.profiles_key()),
            Value::from(timestamp(started_at)),
            Value::from(run_id),
            Value::Int(1),
        ];
        let rows = self.read(|sql| sql.query(&run_query(condition, Some(6)), &params))?;
        Ok(self.parse_runs(rows)?.into_iter().next())
    }

    /// Every status of a stored run.
    pub fn snapshot(&mut self, run_id: &str) -> Result<Snapshot, HistoryError> {
        let (controls, findings) = self.read(|sql| {
            let controls = sql.query(
                "SELECT benchmark, control, target, status FROM run_controls WHERE run_id = $1",
                &[Value::from(run_id)],
            )?;
            let findings = sql.query(
                "SELECT benchmark, control, target, resource, status FROM run_findings WHERE run_id = $1",
                &[Value::from(run_id)],
            )?;
            Ok((controls, findings))
        })?;
        let mut snapshot = Snapshot::default();
        for row in controls {
            let [benchmark, control, target, status] = texts::<4>(&row).map_err(|e| self.corrupt_row(e))?;
            let status = parse_status(&status).map_err(|e| self.corrupt_row(e))?;
            snapshot.controls.insert((benchmark, control, target), status);
        }
        for row in findings {
            let [benchmark, control, target, resource, status] = texts::<5>(&row).map_err(|e| self.corrupt_row(e))?;
            let status = parse_status(&status).map_err(|e| self.corrupt_row(e))?;
            snapshot.add_resource((benchmark, control, target, resource), status);
        }
        Ok(snapshot)
    }

    /// Control counts per run and benchmark, oldest first: runs started at
    /// or after `since`, of `benchmark` when given.
    pub fn trend(
        &mut self,
        since: Option<&DateTime<Utc>>,
        benchmark: Option<&str>,
    ) -> Result<Vec<TrendPoint>, HistoryError> {
        let counts: Vec<String> = COUNT_COLUMNS.iter().map(|c| format!("b.{c}")).collect();
        let query = format!(
            "SELECT r.id, r.started_at, b.benchmark, r.targets, r.profiles, {} FROM runs r \
             JOIN run_benchmarks b ON b.run_id = r.id \
             WHERE r.started_at >= $1 AND ($2 = '' OR b.benchmark = $2) \
             ORDER BY r.started_at, r.id, b.benchmark",
            counts.join(", ")
        );
        let params =
            [Value::from(since.map(timestamp).unwrap_or_default()), Value::from(benchmark.unwrap_or_default())];
        let rows = self.read(|sql| sql.query(&query, &params))?;
        rows.iter()
            .map(|row| {
                let [run_id, started_at, benchmark, targets, profiles] = texts::<5>(row)?;
                let controls = counts_at(row, 5)?;
                let profile = profile_of(&split_key(&profiles), &benchmark).map(str::to_owned);
                Ok(TrendPoint {
                    run_id,
                    started_at: parse_time(&started_at)?,
                    benchmark,
                    profile,
                    targets: split_key(&targets),
                    pass_rate: pass_rate(&controls),
                    controls,
                })
            })
            .collect::<Result<_, String>>()
            .map_err(|e| self.corrupt_row(e))
    }

    fn parse_runs(&self, rows: Vec<Vec<Value>>) -> Result<Vec<StoredRun>, HistoryError> {
        rows.iter()
            .map(|row| {
                let [id, started_at, finished_at, tool_version, content_hash, facts_origin] = texts::<6>(row)?;
                let exit_code = row.get(6).and_then(Value::as_int).ok_or("exit_code is not a number")?;
                let benchmarks = row.get(7).and_then(Value::as_text).ok_or("benchmarks is not text")?;
                let targets = row.get(8).and_then(Value::as_text).ok_or("targets is not text")?;
                let profiles = row.get(9).and_then(Value::as_text).ok_or("profiles is not text")?;
                let controls = counts_at(row, 10)?;
                Ok(StoredRun {
                    started_at: parse_time(&started_at)?,
                    finished_at: parse_time(&finished_at)?,
                    id,
                    tool_version,
                    content_hash,
                    facts_origin,
                    exit_code,
                    benchmarks: split_key(benchmarks),
                    targets: split_key(targets),
                    profiles: split_key(profiles),
                    pass_rate: pass_rate(&controls),
                    controls,
                })
            })
            .collect::<Result<_, String>>()
            .map_err(|e| self.corrupt_row(e))
    }

    fn corrupt_row(&self, detail: impl Into<String>) -> HistoryError {
        HistoryError::Corrupt { location: self.location.to_string(), detail: detail.into() }
    }
}

/// The profile of `benchmark` among a run's `benchmark-id: profile` entries.
fn profile_of<'a>(profiles: &'a [String], benchmark: &str) -> Option<&'a str> {
    profiles.iter().find_map(|entry| entry.strip_prefix(benchmark)?.strip_prefix(": "))
}

/// `benchmark (profile)`, or the benchmark alone.
fn with_profile(benchmark: &str, profile: Option<&str>) -> String {
    match profile {
        Some(profile) => format!("{benchmark} ({profile})"),
        None => benchmark.to_owned(),
    }
}

fn count(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn texts<const N: usize>(row: &[Value]) -> Result<[String; N], String> {
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (index, slot) in out.iter_mut().enumerate() {
        *slot = row
            .get(index)
            .and_then(Value::as_text)
            .ok_or_else(|| format!("column {} is not text", index + 1))?
            .to_owned();
    }
    Ok(out)
}

fn counts_at(row: &[Value], first: usize) -> Result<StatusCounts, String> {
    let n = |offset: usize| -> Result<usize, String> {
        row.get(first + offset)
            .and_then(Value::as_int)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("count {} is not a number", COUNT_COLUMNS[offset]))
    };
    let mut counts = StatusCounts {
        total: 0,
        pass: n(0)?,
        fail: n(1)?,
        error: n(2)?,
        not_applicable: n(3)?,
        manual: n(4)?,
        waived: n(5)?,
    };
    counts.total = counts.pass + counts.fail + counts.error + counts.not_applicable + counts.manual + counts.waived;
    Ok(counts)
}

/// pass / (pass + fail + error), rounded as the report rounds it.
pub fn pass_rate(counts: &StatusCounts) -> Option<f64> {
    let judged = counts.pass + counts.fail + counts.error;
    (judged > 0).then(|| (counts.pass as f64 / judged as f64 * 10_000.0).round() / 10_000.0)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|e| format!("time '{text}': {e}"))
}

fn parse_status(text: &str) -> Result<Status, String> {
    text.parse::<Status>()
}

/// Names joined by newlines, a newline inside a name written `\n` and a
/// backslash `\\` (a target name is whatever a fact bundle says), so that
/// [`split_key`] gives the names back.
fn join_key(names: &[String]) -> String {
    let escaped: Vec<String> = names.iter().map(|name| name.replace('\\', "\\\\").replace('\n', "\\n")).collect();
    escaped.join("\n")
}

fn split_key(key: &str) -> Vec<String> {
    key.split('\n').filter(|s| !s.is_empty()).map(unescape_name).collect()
}

/// The inverse of the escaping in [`join_key`]; any other backslash is kept.
fn unescape_name(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_keys_give_back_names_with_newlines_and_backslashes() {
        let names = vec!["a\nb".to_owned(), "c\\n".to_owned(), "plain".to_owned()];
        assert_eq!(split_key(&join_key(&names)), names);
        assert_eq!(join_key(&["x".to_owned(), "y".to_owned()]), "x\ny");
    }
}
