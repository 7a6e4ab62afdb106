//! Reports: the versioned report model built from a run, and the output
//! formats rendered from it (one module each, listed in [`format::FORMATS`]):
//! by posture's code (JSON, CSV) or by Tera templates (HTML, JUnit,
//! Markdown: embedded, `--templates DIR` overriding them). Files are written
//! atomically. May import applicability, catalog, facts, finding, results
//! and waivers (what a run made); their types become the model's own here, in
//! [`build`] and the `From` conversions beside it, and nowhere else.

pub mod csv;
pub mod format;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod markdown_html;
pub mod model;
pub mod terminal;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::catalog::plan::Plan;
use crate::catalog::Catalog;
use crate::facts::target::TargetFacts;
use crate::facts::FactValue;
use crate::results::{Counts, RunResults};
use crate::{applicability, facts, finding, waivers};
use model::*;

/// The JSON Schema of the report, shipped beside the templates.
pub const JSON_SCHEMA: &str = include_str!("../../templates/report.schema.json");

/// Everything about the run that is not in the results.
pub struct RunInfo {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub facts_origin: String,
    pub selection: Selection,
    pub fail_on: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("template {path} refused: {reason}")]
    TemplateFile { path: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
}

pub fn counts(counts: &Counts) -> StatusCounts {
    StatusCounts {
        total: counts.total(),
        pass: counts.pass,
        fail: counts.fail,
        error: counts.error,
        not_applicable: counts.not_applicable,
        manual: counts.manual,
        waived: counts.waived,
    }
}

fn summary(controls: &Counts, findings: &Counts) -> Summary {
    Summary { controls: counts(controls), findings: counts(findings), pass_rate: controls.pass_rate().map(round4) }
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// Brings the report's outcome (exit code, history failure) in line with
/// `results` after they changed: the history could not record the run.
pub fn settle_outcome(report: &mut Report, results: &RunResults) {
    report.run.exit_code = results.exit_code();
    report.run.history_failed = results.history_failed;
}

/// Builds the report model of a run.
pub fn build(
    catalog: &Catalog,
    plan: &Plan<'_>,
    results: &RunResults,
    targets: &[TargetFacts],
    info: RunInfo,
) -> Report {
    let mut benchmarks = Vec::new();
    let mut used_checks = std::collections::BTreeSet::new();
    for (planned, result) in plan.benchmarks.iter().zip(&results.benchmarks) {
        let benchmark = planned.benchmark;
        let mut sections: Vec<SectionReport> = Vec::new();
        let mut section_counts: BTreeMap<String, (Counts, Counts)> = BTreeMap::new();
        let mut finding_counts = Counts::default();
        for (control, control_result) in planned.controls.iter().zip(&result.controls) {
            let top = benchmark.top_section(&control.id);
            let (section_id, section_title) =
                top.map_or(("?".to_owned(), "Other".to_owned()), |s| (s.id.clone(), s.title.clone()));
            let subsection = benchmark.section_of(&control.id).filter(|s| Some(*s) != top).map(|s| s.title.clone());
            // The internal statuses are counted; the report's are written.
            let (statuses, findings): (Vec<finding::Status>, Vec<FindingReport>) = control_result
                .findings
                .iter()
                .map(|shown| {
                    let index = shown.index;
                    let f = &results.findings[index];
                    let waiver = control_result.waivers.get(&index).map(|&i| {
                        let waiver = &results.waivers.waivers[i];
                        FindingWaiver {
                            id: waiver.id.clone(),
                            state: if waiver.is_active(results.today) {
                                WaiverState::Active
                            } else {
                                WaiverState::Expired
                            },
                            justification: waiver.justification.clone(),
                            approver: waiver.approver.clone(),
                            expires: waiver.expires,
                        }
                    });
                    let status = shown.status;
                    let report = FindingReport {
                        check: f.check_id.clone(),
                        target: f.target.clone(),
                        resource: f.resource.clone(),
                        status: status.into(),
                        waiver,
                        severity: f.severity.into(),
                        message: f.message.clone(),
                        observed: f.observed.clone(),
                        evidence: f.evidence.iter().map(|k| k.to_string()).collect(),
                    };
                    (status, report)
                })
                .unzip();
            used_checks.extend(control.checks.iter().cloned());
            let entry = section_counts.entry(section_id.clone()).or_default();
            entry.0.add(control_result.status);
            for &status in &statuses {
                entry.1.add(status);
                finding_counts.add(status);
            }
            let report = ControlReport {
                id: control.id.clone(),
                full_id: format!("{}:{}", benchmark.id, control.id),
                title: control.title.clone(),
                subsection,
                profiles: control.profiles.clone(),
                assessment: match control.assessment {
                    crate::catalog::Assessment::Automated => "automated".to_owned(),
                    crate::catalog::Assessment::Manual => "manual".to_owned(),
                },
                status: control_result.status.into(),
                reason: control_result.reason.clone(),
                guidance: control.guidance.clone(),
                severity: control_result.severity.map(Severity::from),
                checks: control.checks.clone(),
                targets: control_result
                    .targets
                    .iter()
                    .map(|(target, &status)| (target.clone(), status.into()))
                    .collect(),
                target_counts: (control_result.targets.len() > 1).then(|| {
                    let mut per_target = Counts::default();
                    for status in control_result.targets.values() {
                        per_target.add(*status);
                    }
                    counts(&per_target)
                }),
                findings,
            };
            match sections.iter_mut().find(|s| s.id == section_id) {
                Some(section) => section.controls.push(report),
                None => sections.push(SectionReport {
                    id: section_id,
                    title: section_title,
                    summary: Summary::default(),
                    controls: vec![report],
                }),
            }
        }
        for section in &mut sections {
            if let Some((controls, findings)) = section_counts.get(&section.id) {
                section.summary = summary(controls, findings);
            }
        }
        benchmarks.push(BenchmarkReport {
            id: benchmark.id.clone(),
            title: benchmark.title.clone(),
            version: benchmark.version.clone(),
            provider: benchmark.provider.clone(),
            source: benchmark.source.clone(),
            sha256: benchmark.sha256.clone(),
            profile: planned.profile.chosen.as_ref().map(|chosen| ProfileReport {
                name: chosen.name(),
                level: chosen.level,
                role: chosen.role.clone(),
                role_by_default: chosen.role_by_default,
                profiles: chosen.profiles.clone(),
            }),
            summary: summary(&result.counts, &finding_counts),
            sections,
        });
    }
    let checks = used_checks
        .iter()
        .filter_map(|id| catalog.checks.get(id))
        .map(|c| {
            (
                c.meta.id.clone(),
                CheckInfo {
                    title: c.meta.title.clone(),
                    severity: c.meta.severity.into(),
                    resource_type: c.meta.resource_type.clone(),
                    facts: c.meta.facts.iter().map(|k| k.to_string()).collect(),
                    rationale: c.meta.rationale.clone(),
                    remediation: c.meta.remediation.clone(),
                    references: c.meta.references.clone(),
                    path: c.path.clone(),
                    sha256: c.sha256.clone(),
                    commands: crate::facts::provider::Provider::commands_of_facts(&c.meta.facts),
                },
            )
        })
        .collect();
    // The facts the selected checks read: the evidence of this report. A
    // bundle may hold more; those stay in the bundle.
    let facts = targets
        .iter()
        .flat_map(|t| {
            t.facts.iter().filter(|fact| plan.uses_fact(&fact.key)).map(|fact| FactRecord {
                target: t.name.clone(),
                key: fact.key.to_string(),
                state: match fact.value {
                    FactValue::Available { .. } => "available".to_owned(),
                    FactValue::Unavailable { .. } => "unavailable".to_owned(),
                },
                reason: fact.unavailable_reason().map(str::to_owned),
                source: FactSource::from(&fact.source),
                collected_at: fact.collected_at,
            })
        })
        .collect();
    let report_targets = targets
        .iter()
        .map(|t| {
            let used: Vec<_> = t.facts.iter().filter(|fact| plan.uses_fact(&fact.key)).collect();
            let unavailable = used.iter().filter(|f| f.unavailable_reason().is_some()).count();
            let mut controls = Counts::default();
            for result in &results.benchmarks {
                for control in &result.controls {
                    if let Some(status) = control.targets.get(&t.name) {
                        controls.add(*status);
                    }
                }
            }
            let os_match = results
                .applicability
                .checks
                .iter()
                .filter(|check| check.target == t.name)
                .map(|check| OsMatch {
                    benchmark: check.benchmark.clone(),
                    applies_to: check.applies_to.clone(),
                    host_os: check.host_os.clone(),
                    outcome: match check.outcome {
                        applicability::OsOutcome::Matches => OsOutcome::Match,
                        applicability::OsOutcome::Mismatch { .. } => OsOutcome::Mismatch,
                        applicability::OsOutcome::Unknown { .. } => OsOutcome::Unknown,
                    },
                    judged: check.judged,
                    reason: check.reason().map(str::to_owned),
                })
                .collect();
            Target {
                name: t.name.clone(),
                provider: t.provider.name().to_owned(),
                facts_available: used.len() - unavailable,
                facts_unavailable: unavailable,
                controls: Some(counts(&controls)),
                connection: t.connection.as_ref().map(connection),
                api_calls: t.api_calls.as_ref().map(|calls| ApiCalls {
                    calls: calls.calls.clone(),
                    retries: calls.retries,
                    repeated: calls.repeated.clone(),
                }),
                os_match,
            }
        })
        .collect();
    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool { name: "posture".to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() },
        run: Run {
            id: info.id,
            started_at: info.started_at,
            finished_at: info.finished_at,
            content_hash: plan.content_hash.clone(),
            facts_origin: info.facts_origin,
            selection: info.selection,
            fail_on: info.fail_on,
            exit_code: results.exit_code(),
            history_failed: results.history_failed,
            ignore_os_mismatch: results.applicability.policy == applicability::OsMismatch::Ignore,
        },
        targets: report_targets,
        summary: summary(&results.control_counts, &results.finding_counts),
        benchmarks,
        checks,
        facts,
        // Filled in by the history, which knows the previous run.
        changes: None,
        problems: catalog.problems.iter().map(|p| p.to_string()).collect(),
        waivers: results
            .waivers
            .waivers
            .iter()
            .zip(&results.waiver_outcomes)
            .map(|(waiver, outcome)| WaiverReport {
                id: waiver.id.clone(),
                source: waiver.source.clone(),
                scope: waiver.scope.to_string(),
                resource: waiver.resource.clone(),
                target: waiver.target.clone(),
                justification: waiver.justification.clone(),
                approver: waiver.approver.clone(),
                expires: waiver.expires,
                state: outcome.state.into(),
                matched: outcome.matched,
            })
            .collect(),
    }
}

// The run's types as the report's: each `match` names every internal
// variant, so that a new one does not compile until it is given its place in
// the report schema (a new variant there is a new `schema_version`).

impl From<finding::Status> for Status {
    fn from(status: finding::Status) -> Self {
        match status {
            finding::Status::Pass => Status::Pass,
            finding::Status::Fail => Status::Fail,
            finding::Status::Error => Status::Error,
            finding::Status::NotApplicable => Status::NotApplicable,
            finding::Status::Manual => Status::Manual,
            finding::Status::Waived => Status::Waived,
        }
    }
}

impl From<finding::Severity> for Severity {
    fn from(severity: finding::Severity) -> Self {
        match severity {
            finding::Severity::Info => Severity::Info,
            finding::Severity::Low => Severity::Low,
            finding::Severity::Medium => Severity::Medium,
            finding::Severity::High => Severity::High,
            finding::Severity::Critical => Severity::Critical,
        }
    }
}

impl From<waivers::WaiverState> for WaiverState {
    fn from(state: waivers::WaiverState) -> Self {
        match state {
            waivers::WaiverState::Active => WaiverState::Active,
            waivers::WaiverState::Expired => WaiverState::Expired,
            waivers::WaiverState::Unmatched => WaiverState::Unmatched,
        }
    }
}

impl From<&facts::FactSource> for FactSource {
    fn from(source: &facts::FactSource) -> Self {
        match source {
            facts::FactSource::Command { command, exit_status } => {
                FactSource::Command { command: command.clone(), exit_status: *exit_status }
            }
            facts::FactSource::File { path } => FactSource::File { path: path.clone() },
            facts::FactSource::Composite { parts } => {
                FactSource::Composite { parts: parts.iter().map(FactSource::from).collect() }
            }
            facts::FactSource::Api { service, operation, region } => {
                FactSource::Api { service: service.clone(), operation: operation.clone(), region: region.clone() }
            }
            facts::FactSource::Recorded { origin } => FactSource::Recorded { origin: origin.clone() },
        }
    }
}

/// How an SSH host was reached, as the report records it.
fn connection(connection: &crate::facts::target::HostConnection) -> Connection {
    Connection {
        transport: "ssh".to_owned(),
        address: connection.address.clone(),
        connected: connection.connected,
        error: connection.error.clone(),
        round_trips: connection.round_trips,
        seconds: round4(connection.seconds),
        commands: connection
            .commands
            .iter()
            .map(|c| CommandRun {
                round_trip: c.round_trip,
                command: c.command.clone(),
                exit_status: c.exit_status,
                note: c.note.clone(),
            })
            .collect(),
    }
}

/// The Tera templates: built-in, each replaced by a file of the same name in `dir`.
pub fn templates(dir: Option<&Path>) -> Result<tera::Tera, ReportError> {
    templates_from(&template_texts(dir)?)
}

/// The text of each template a run renders with, by template name: built-in,
/// or the file of the same name in `dir`. An evidence pack keeps these, so
/// `verify` re-renders every report with the templates the run used.
pub fn template_texts(dir: Option<&Path>) -> Result<Vec<(String, String)>, ReportError> {
    let mut texts = Vec::new();
    for (name, builtin) in format::templates() {
        let text = match dir {
            // lstat, so a dangling link is refused rather than silently replaced by the built-in template.
            Some(dir) if dir.join(name).symlink_metadata().is_ok() => read_template(dir, &dir.join(name))?,
            _ => builtin.to_owned(),
        };
        texts.push((name.to_owned(), text));
    }
    Ok(texts)
}

/// The Tera templates of the given texts (see [`template_texts`]).
pub fn templates_from(texts: &[(String, String)]) -> Result<tera::Tera, ReportError> {
    let mut tera = tera::Tera::default();
    for (name, text) in texts {
        tera.add_raw_template(name, text).map_err(|err| template_error(name, &err))?;
    }
    tera.register_filter("without_fences", without_fences);
    tera.register_filter("md", crate::escape::markdown_filter);
    tera.register_filter("md_code", crate::escape::markdown_code_filter);
    tera.register_filter("markdown_html", markdown_html::filter);
    tera.register_function("range", bounded_range);
    tera.set_escape_fn(crate::escape::markup);
    refuse_recursive_macros(&tera)?;
    Ok(tera)
}

/// Refuses a template set in which a macro calls itself, directly or through
/// other macros. Tera has no bound on macro depth, so a recursive macro ends
/// the process with a stack overflow instead of an error; the report
/// templates need no recursion, so it is refused when the templates load.
fn refuse_recursive_macros(tera: &tera::Tera) -> Result<(), ReportError> {
    // Tera's AST has no visitor; its Debug text names every macro call as
    // `MacroCall { namespace: "..", name: ".." ..`, wherever it is nested.
    let call = regex::Regex::new(r#"MacroCall \{ namespace: "([^"]*)", name: "([^"]*)""#)
        .map_err(|err| ReportError::Template { name: "macros".to_owned(), message: err.to_string() })?;
    let mut calls: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for (template_name, template) in &tera.templates {
        for (macro_name, definition) in &template.macros {
            let body = format!("{:?}", definition.body);
            let callees = call
                .captures_iter(&body)
                .map(|found| {
                    let namespace = &found[1];
                    let file = if namespace == "self" {
                        template_name.clone()
                    } else {
                        template
                            .imported_macro_files
                            .iter()
                            .find(|(_, alias)| alias == namespace)
                            .map_or_else(|| namespace.to_owned(), |(file, _)| file.clone())
                    };
                    (file, found[2].to_owned())
                })
                .collect();
            calls.insert((template_name.clone(), macro_name.clone()), callees);
        }
    }
    for start in calls.keys() {
        // Depth-first from each macro, with the path kept to name the cycle.
        let mut stack = vec![(start.clone(), vec![start.1.clone()])];
        let mut seen = std::collections::BTreeSet::new();
        while let Some((current, path)) = stack.pop() {
            for callee in calls.get(&current).into_iter().flatten() {
                let mut next_path = path.clone();
                next_path.push(callee.1.clone());
                if callee == start {
                    return Err(ReportError::Template {
                        name: start.0.clone(),
                        message: format!(
                            "macro '{}' calls itself ({}): recursive macros are refused in report templates, as their \
                             depth cannot be bounded",
                            start.1,
                            next_path.join(" -> ")
                        ),
                    });
                }
                if seen.insert(callee.clone()) {
                    stack.push((callee.clone(), next_path));
                }
            }
        }
    }
    Ok(())
}

/// The most bytes one rendered report may have: far above the largest real
/// report (the 10,000-resource benchmark's HTML is tens of MiB), and low
/// enough that a template looping over huge ranges stops with an error
/// instead of filling the memory.
pub const MAX_RENDERED_BYTES: usize = 512 * 1024 * 1024;

/// The most numbers all `range` calls of one rendering may give together:
/// nested loops over ranges are bounded by their product, and produce no
/// output a size cap could see when their body is empty.
const MAX_RANGE_NUMBERS_PER_RENDER: u64 = 1_000_000;

thread_local! {
    /// What is left of [`MAX_RANGE_NUMBERS_PER_RENDER`] for the rendering running on this thread.
    static RANGE_NUMBERS_LEFT: std::cell::Cell<u64> = const { std::cell::Cell::new(MAX_RANGE_NUMBERS_PER_RENDER) };
}

/// A writer that fails once more than [`MAX_RENDERED_BYTES`] were written.
struct CappedWriter(Vec<u8>);

impl Write for CappedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.len().saturating_add(bytes.len()) > MAX_RENDERED_BYTES {
            return Err(std::io::Error::other(format!(
                "the rendered report would be larger than {} MiB",
                MAX_RENDERED_BYTES / (1024 * 1024)
            )));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A template file of `dir`, refused when it is not a regular file or is a link that leads out of `dir` (a
/// template linked to /etc/shadow would copy it into the reports and the pack).
fn read_template(dir: &Path, path: &Path) -> Result<String, ReportError> {
    let shown = path.display().to_string();
    let refuse = |reason: String| ReportError::TemplateFile { path: shown.clone(), reason };
    let io_error = |err: std::io::Error| refuse(err.to_string());
    let target = std::fs::canonicalize(path).map_err(io_error)?;
    let folder = std::fs::canonicalize(dir).map_err(io_error)?;
    if !target.starts_with(&folder) {
        return Err(refuse(format!(
            "a link to {}, outside the templates folder {}; templates must be files in that folder",
            target.display(),
            folder.display()
        )));
    }
    if !std::fs::metadata(&target).map_err(io_error)?.is_file() {
        return Err(refuse(String::from("not a regular file")));
    }
    // The one bounded reader of files posture takes as input: no FIFO can
    // block it, no huge file fill the memory.
    let bytes = crate::regular_file::read(&target, crate::regular_file::MAX_CONFIG_FILE_BYTES)
        .map_err(|err| refuse(err.to_string()))?;
    String::from_utf8(bytes).map_err(|_| refuse(String::from("not UTF-8 text")))
}

/// The most numbers a template's `range` may give.
const MAX_RANGE: u64 = 100_000;

/// Tera's `range(start=0, end, step_by=1)`, refusing more than [`MAX_RANGE`]
/// numbers (the built-in one builds any size it is asked for, and
/// `range(end=100000000000)` ended the process).
fn bounded_range(args: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let number = |name: &str, default: Option<u64>| -> tera::Result<u64> {
        match args.get(name) {
            Some(value) => value.as_u64().ok_or_else(|| {
                tera::Error::msg(format!("Function `range` received {name}={value} but `{name}` can only be a number"))
            }),
            None => default.ok_or_else(|| tera::Error::msg("Function `range` was called without an `end` argument")),
        }
    };
    let (start, end, step) = (number("start", Some(0))?, number("end", None)?, number("step_by", Some(1))?);
    if step == 0 {
        return Err(tera::Error::msg("Function `range` received step_by=0"));
    }
    let count = end.saturating_sub(start).div_ceil(step);
    if count > MAX_RANGE {
        return Err(tera::Error::msg(format!(
            "Function `range` would give {count} numbers, more than the limit of {MAX_RANGE}"
        )));
    }
    let left = RANGE_NUMBERS_LEFT.with(std::cell::Cell::get);
    if count > left {
        return Err(tera::Error::msg(format!(
            "the `range` calls of this template would give more than {MAX_RANGE_NUMBERS_PER_RENDER} numbers in all \
             (nested loops over ranges)"
        )));
    }
    RANGE_NUMBERS_LEFT.with(|cell| cell.set(left - count));
    Ok(tera::Value::Array(
        (start..end).step_by(usize::try_from(step).unwrap_or(usize::MAX)).map(tera::Value::from).collect(),
    ))
}

/// Drops Markdown code-fence lines (```sh) from text shown preformatted.
fn without_fences(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = tera::try_get_value!("without_fences", "value", String, value);
    let kept: Vec<&str> = text.lines().filter(|line| !line.trim_start().starts_with("```")).collect();
    Ok(tera::Value::String(kept.join("\n")))
}

fn template_error(name: &str, err: &tera::Error) -> ReportError {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    // The parser quotes the offending line; a template of one huge line
    // would otherwise be quoted whole.
    const SHOWN_LINE_CHARS: usize = 200;
    let shortened: Vec<String> = message
        .lines()
        .map(|line| match line.char_indices().nth(SHOWN_LINE_CHARS) {
            Some((cut, _)) => format!("{}… [line cut: {} bytes]", &line[..cut], line.len()),
            None => line.to_owned(),
        })
        .collect();
    ReportError::Template { name: name.to_owned(), message: shortened.join("\n") }
}

/// How long one rendering may take unless told otherwise (`--render-timeout`).
pub const DEFAULT_RENDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The stack of the thread a template renders on: Tera walks a template
/// recursively, and a pack's templates are whatever the pack says.
const RENDER_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Renders one template with the report as its context (`report`), on a
/// thread of its own given at most `time_limit`: Tera cannot be interrupted,
/// and loops nested over the report's arrays (facts x facts x facts) produce
/// no output a size cap could see, so a rendering past its time is given up
/// (its thread is left to end with the process) and reported as a template error.
pub fn render(
    tera: &tera::Tera,
    name: &str,
    report: &Report,
    time_limit: std::time::Duration,
) -> Result<String, ReportError> {
    let mut context = tera::Context::new();
    context.insert("report", report);
    let mut fact_index: BTreeMap<String, BTreeMap<String, &FactRecord>> = BTreeMap::new();
    for fact in &report.facts {
        fact_index.entry(fact.target.clone()).or_default().insert(fact.key.clone(), fact);
    }
    context.insert("fact_index", &fact_index);
    let (sender, receiver) = std::sync::mpsc::channel();
    let (tera, template) = (tera.clone(), name.to_owned());
    let spawned =
        std::thread::Builder::new().name(format!("render {name}")).stack_size(RENDER_STACK_BYTES).spawn(move || {
            RANGE_NUMBERS_LEFT.with(|cell| cell.set(MAX_RANGE_NUMBERS_PER_RENDER));
            let mut out = CappedWriter(Vec::new());
            let rendered = tera.render_to(&template, &context, &mut out).map(|()| out.0);
            let _ = sender.send(rendered);
        });
    let failed = |message: String| ReportError::Template { name: name.to_owned(), message };
    if let Err(err) = spawned {
        return Err(failed(format!("cannot start the rendering thread: {err}")));
    }
    let bytes = match receiver.recv_timeout(time_limit) {
        Ok(rendered) => rendered.map_err(|err| template_error(name, &err))?,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            return Err(failed(format!(
                "rendering took longer than {} seconds (--render-timeout) and was given up: loops nested over the \
                 report's arrays?",
                time_limit.as_secs_f64()
            )))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            return Err(failed(String::from("the template engine stopped without a result")))
        }
    };
    String::from_utf8(bytes).map_err(|_| failed(String::from("the rendered report is not UTF-8 text")))
}

/// Writes a report file whole or not at all (see [`crate::atomic_write`]).
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), ReportError> {
    // Reports are meant to be shared: 0644, not the 0600 of a temporary file.
    crate::atomic_write::write_file(path, 0o644, |mut file| file.write_all(contents.as_bytes()), |_, err| err)
        .map_err(|source| ReportError::Write { path: path.display().to_string(), source })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The JSON the report holds for a value of the run.
    fn written<T: serde::Serialize>(value: T) -> serde_json::Value {
        serde_json::to_value(value).expect("serialises")
    }

    #[test]
    fn every_internal_status_and_severity_is_written_as_schema_version_2_says() {
        let statuses = finding::Status::ALL.map(|status| written(Status::from(status)));
        assert_eq!(statuses, ["pass", "fail", "error", "not_applicable", "manual", "waived"].map(|s| json!(s)));
        let severities = finding::Severity::ALL.map(|severity| written(Severity::from(severity)));
        assert_eq!(severities, ["info", "low", "medium", "high", "critical"].map(|s| json!(s)));
        let states = [waivers::WaiverState::Active, waivers::WaiverState::Expired, waivers::WaiverState::Unmatched]
            .map(|state| written(WaiverState::from(state)));
        assert_eq!(states, ["active", "expired", "unmatched"].map(|s| json!(s)));
    }

    #[test]
    fn readers_of_reports_roll_statuses_up_as_the_run_did() {
        for status in finding::Status::ALL {
            assert_eq!(Status::from(status).rollup_rank(), status.rollup_rank(), "{status}");
        }
    }

    #[test]
    fn every_internal_fact_source_is_written_as_schema_version_2_says() {
        let command = facts::FactSource::Command { command: "sshd -T".into(), exit_status: Some(255) };
        let sources = [
            (command.clone(), json!({"kind": "command", "command": "sshd -T", "exit_status": 255})),
            (
                facts::FactSource::Command { command: "missing".into(), exit_status: None },
                json!({"kind": "command", "command": "missing"}),
            ),
            (facts::FactSource::File { path: "/etc/shadow".into() }, json!({"kind": "file", "path": "/etc/shadow"})),
            (
                facts::FactSource::Composite {
                    parts: vec![
                        facts::FactSource::Composite { parts: vec![command] },
                        facts::FactSource::File { path: "/etc/group".into() },
                    ],
                },
                json!({"kind": "composite", "parts": [
                    {"kind": "composite", "parts": [{"kind": "command", "command": "sshd -T", "exit_status": 255}]},
                    {"kind": "file", "path": "/etc/group"},
                ]}),
            ),
            (
                facts::FactSource::Api { service: "iam".into(), operation: "GetAccountSummary".into(), region: None },
                json!({"kind": "api", "service": "iam", "operation": "GetAccountSummary"}),
            ),
            (
                facts::FactSource::Api {
                    service: "ec2".into(),
                    operation: "DescribeFlowLogs".into(),
                    region: Some("us-east-1".into()),
                },
                json!({"kind": "api", "service": "ec2", "operation": "DescribeFlowLogs", "region": "us-east-1"}),
            ),
            (
                facts::FactSource::Recorded { origin: "facts.json".into() },
                json!({"kind": "recorded", "origin": "facts.json"}),
            ),
        ];
        for (source, json) in sources {
            assert_eq!(written(FactSource::from(&source)), json, "{source:?}");
        }
    }
}
