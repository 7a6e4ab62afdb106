//! The `audit` command: settings -> catalog -> plan -> facts -> evaluation ->
//! results -> reports, in that order, with every per-item problem kept as a
//! finding and only setup problems (bad arguments, unknown benchmark,
//! unreadable bundle) fatal.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

use crate::catalog::{Catalog, CatalogError};
use crate::evaluate::{self, CheckCompilation, TargetFacts};
use crate::facts::bundle::Bundle;
use crate::facts::provider::Provider;
use crate::finding::Severity;
use crate::history::AuditHistory;
use crate::progress::Progress;
use crate::report::{self, model, RunInfo};
use crate::results::{self, RunResults};
use crate::script::ScriptEngine;
use crate::settings::{AuditSettings, FactsInput};
use crate::target;
use crate::waivers::Waivers;
use crate::Fatal;

/// Runs an audit and returns its exit code.
pub fn run(settings: &AuditSettings) -> Result<u8, Fatal> {
    let started_at = Utc::now();
    let mut progress = Progress::new(settings.progress_bar, settings.quiet);
    let mut phase = PhaseTimer::new(settings.timings);
    let template_texts = report::template_texts(settings.templates.as_deref()).map_err(Fatal::Templates)?;
    let tera = report::templates_from(&template_texts).map_err(Fatal::Templates)?;

    let catalog = Catalog::load(&settings.content_dirs)?;
    for problem in &catalog.problems {
        progress.log(&format!("content problem: {problem}"));
    }
    // A bad signing key must stop the run before anything is collected.
    if let Some(key) = &settings.signing_key {
        crate::evidence::keys::read_signing_key(key).map_err(Fatal::SigningKey)?;
    }
    // So must an output folder posture may not write into.
    crate::evidence::output::check(&settings.out).map_err(Fatal::Pack)?;
    let waivers = match &settings.waivers {
        Some(path) => Waivers::load(path, &|scope| catalog.has_scope(scope)).map_err(Fatal::Waivers)?,
        None => Waivers::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Fatal::Runtime)?;
    crate::atomic_write::remove_on_signal();

    // Connect (credentials, identity) or read the bundle before planning: the
    // targets' providers choose the default benchmarks.
    let source = match &settings.facts {
        FactsInput::Bundle(path) => {
            let bundle = Bundle::read(path)?;
            let name =
                path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            Source::Recorded(bundle.into_targets(), format!("bundle:{name}"))
        }
        FactsInput::Targets(specs) => {
            let mut connected = Vec::new();
            for spec in specs {
                // The help of a failed connection names what was asked for (a profile, a role).
                let resolved = target::connect(spec, &runtime)
                    .map_err(|error| Fatal::Target { error, spec: Box::new(spec.clone()) })?;
                connected.push(resolved);
            }
            Source::Live(connected)
        }
    };
    let providers: Vec<String> = match &source {
        Source::Recorded(targets, _) => targets.iter().map(|t| t.provider.clone()).collect(),
        Source::Live(connected) => connected.iter().map(|c| c.provider().name().to_owned()).collect(),
    };
    let mut selection = settings.selection.clone();
    if selection.benchmarks.is_empty() {
        for provider in &providers {
            if let Some(id) = Provider::from_name(provider).map(Provider::default_benchmark) {
                if !selection.benchmarks.iter().any(|b| b == id) {
                    selection.benchmarks.push(id.to_owned());
                }
            }
        }
    }
    let named: Vec<(String, String)> = match &source {
        Source::Recorded(targets, _) => targets.iter().map(|t| (t.name.clone(), t.provider.clone())).collect(),
        Source::Live(connected) => connected.iter().map(|c| (c.name(), c.provider().name().to_owned())).collect(),
    };
    judges_something(&named, &settings.facts)?;
    let plan = catalog.plan(&selection).map_err(|e| {
        // The error points at the content problems "above": with -q they
        // were not logged, so they are printed now, quiet or not.
        if settings.quiet {
            for problem in &catalog.problems {
                eprintln!("posture: content problem: {}", crate::escape::terminal(&problem.to_string()));
            }
        }
        Fatal::Plan(e)
    })?;
    if plan.benchmarks.iter().flat_map(|b| &b.controls).all(|c| !c.is_evaluated()) {
        // Manual controls are reported (for review), so this is a warning, not "nothing judged".
        progress.log("warning: every selected control is manual: the report lists them for review, and no check runs");
    }

    let engine = ScriptEngine::new(&settings.limits, &catalog.preludes);
    let planned = compile_plan(&catalog, &plan, &engine);
    phase.done("load and compile content");

    let (targets, facts_origin, connections) = match source {
        Source::Recorded(targets, origin) => (targets, origin, Vec::new()),
        Source::Live(connected) => {
            let names: Vec<String> = connected.iter().map(target::ResolvedTarget::name).collect();
            let what = match names.as_slice() {
                [one] => one.clone(),
                many => format!("{} targets ({} at a time)", many.len(), settings.ssh.jobs.min(many.len())),
            };
            progress.start(connected.len() as u64, &format!("collecting facts from {what}"));
            let on_done = |collected: &target::CollectedTarget| {
                progress.inc();
                if let Some(error) = collected.connection.as_ref().and_then(|c| c.error.as_ref()) {
                    progress.log(&format!("{error}; its checks are reported as error"));
                }
            };
            let collected = target::collect_all(&connected, &plan.facts, &runtime, &settings.ssh, &on_done);
            progress.finish();
            let mut targets = Vec::new();
            let mut connections = Vec::new();
            for one in collected {
                if let Some(connection) = one.connection {
                    connections.push((one.facts.name.clone(), connection));
                }
                targets.push(one.facts);
            }
            (targets, "collected".to_owned(), connections)
        }
    };
    phase.done("collect or read facts");
    let api_calls = crate::facts::aws::calls::summary();
    if settings.timings && api_calls.total() > 0 {
        eprintln!("posture: timing:   AWS API: {api_calls}");
    }
    // A benchmark needs a target of one of its providers; a benchmark of
    // several providers (PCI DSS: aws and linux) audited with only some of
    // them judges what it can, and its other checks give `error` findings
    // saying which kind of target was missing (see evaluate::not_judged).
    for benchmark in &plan.benchmarks {
        let providers = &benchmark.benchmark.providers;
        let (present, missing): (Vec<&String>, Vec<&String>) =
            providers.iter().partition(|p| targets.iter().any(|t| &t.provider == *p));
        if present.is_empty() {
            return Err(Fatal::MissingProvider {
                benchmark: benchmark.benchmark.id.clone(),
                providers: providers.clone(),
                recorded: matches!(settings.facts, FactsInput::Bundle(_)),
            });
        }
        for provider in missing {
            progress.log(&format!(
                "benchmark '{}': no {provider} target is part of this audit; its controls judged by {provider} \
                 checks are reported as error (not judged)",
                benchmark.benchmark.id
            ));
        }
    }
    if let Some(path) = &settings.save_facts {
        crate::facts::bundle::write(path, &targets, &|_| true)
            .map_err(|e| Fatal::Output(format!("--save-facts {}: {e}", path.display())))?;
        progress.log(&format!("wrote fact bundle {}", path.display()));
    }

    let check_providers = check_providers(&catalog, &plan);
    let pairs: u64 = planned
        .keys()
        .map(|id| targets.iter().filter(|t| check_providers.get(id) == Some(&t.provider)).count() as u64)
        .sum();
    progress.start(pairs, &format!("evaluating {} checks on {} target(s)", planned.len(), targets.len()));
    let durations = std::sync::Mutex::new(Vec::new());
    let on_done = |check: &str, took: std::time::Duration| {
        progress.inc();
        if settings.timings {
            durations.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((took, check.to_owned()));
        }
    };
    let findings = evaluate_plan(&catalog, &planned, &check_providers, &targets, &settings.limits, &on_done);
    progress.finish();
    phase.done("evaluate");
    let mut durations = durations.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    durations.sort_by_key(|d| std::cmp::Reverse(d.0));
    let total: f64 = durations.iter().map(|d| d.0.as_secs_f64()).sum();
    if settings.timings {
        eprintln!("posture: timing:   all checks together: {total:.3} s of evaluation");
    }
    for (took, check) in durations.iter().take(10) {
        eprintln!("posture: timing:   {check}: {:.3} s", took.as_secs_f64());
    }

    // Waivers are judged on the day the run started, so re-evaluating the
    // run's evidence later gives the same verdicts.
    let results = RunResults::build(&plan, findings, &catalog.severities(), waivers, started_at.date_naive());
    let exit_code = results::exit_code(&results, settings.fail_on, catalog.problems.len());
    let info = RunInfo {
        id: uuid::Uuid::new_v4().to_string(),
        started_at,
        finished_at: Utc::now(),
        facts_origin,
        selection: model::Selection {
            controls: settings.selection.controls.iter().map(|p| p.as_str().to_owned()).collect(),
            skip: settings.selection.skip.iter().map(|p| p.as_str().to_owned()).collect(),
        },
        fail_on: settings.fail_on_label(),
        exit_code,
        history_failed: false,
    };
    let mut report = report::build(&catalog, &plan, &results, &targets, info);
    report::attach_connections(&mut report, &connections);
    phase.done("roll up and build the report");
    // The changes since the previous run go into the reports, and the run is
    // recorded before they are written, so that a history problem (printed,
    // exit code 2, never a stopped audit) is in the reports' exit code too.
    let mut history = AuditHistory::before_reports(settings.history.as_ref(), &mut report);
    phase.done("read the history");
    if let Some(line) = history.record(&report) {
        progress.log(&line);
    }
    if history.failed {
        report.run.exit_code = 2;
        report.run.history_failed = true;
    }
    phase.done("record the run in the history");
    let recorded = history.until_outputs_written(&report.run.id);
    // The whole output is built beside --out and swapped in at once.
    let pack_error = |e: crate::evidence::PackError| Fatal::Output(format!("evidence pack: {e}"));
    let mut staging = crate::evidence::output::Staging::create(&settings.out, &report.run.id).map_err(pack_error)?;
    write_reports(settings, &tera, &report, &mut staging)?;
    phase.done("render and write reports");
    let pack = crate::evidence::PackInput {
        catalog: &catalog,
        plan: &plan,
        targets: &targets,
        report: &report,
        waivers_text: results.waivers.text.as_deref(),
        limits: &settings.limits,
        signing_key: settings.signing_key.as_deref(),
        templates: &template_texts,
    };
    crate::evidence::write(&mut staging, &pack).map_err(pack_error)?;
    if let Some(archive) = &settings.pack_archive {
        crate::evidence::archive(&staging, archive).map_err(|e| Fatal::Output(format!("--pack: {e}")))?;
    }
    let written: Vec<String> = staging.files().keys().filter(|f| !f.contains('/')).cloned().collect();
    staging.commit().map_err(pack_error)?;
    for file in written {
        progress.log(&format!("wrote {}", settings.out.join(file).display()));
    }
    progress.log(&format!(
        "wrote the evidence pack {}{}",
        settings.out.join(crate::evidence::MANIFEST).display(),
        if settings.signing_key.is_some() { " (signed)" } else { "" }
    ));
    if let Some(archive) = &settings.pack_archive {
        progress.log(&format!("wrote {}", archive.display()));
    }
    phase.done("write the evidence pack");
    progress.log(&summary_line(&report));
    recorded.done();
    Ok(report.run.exit_code)
}

/// Refuses an audit that would judge nothing, before any fact is used: no
/// target at all (an empty fact bundle), or a target of a provider posture
/// has no checks for (its facts would be silently ignored).
fn judges_something(targets: &[(String, String)], facts: &FactsInput) -> Result<(), Fatal> {
    if targets.is_empty() {
        let what = match facts {
            FactsInput::Bundle(path) => format!("the fact bundle {} holds no target", path.display()),
            FactsInput::Targets(_) => "no target was given".to_owned(),
        };
        return Err(Fatal::NothingToJudge(format!("{what}: nothing would be judged")));
    }
    for (name, provider) in targets {
        if Provider::from_name(provider).is_none() {
            let known: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
            return Err(Fatal::NothingToJudge(format!(
                "target '{name}' is of provider '{provider}', which posture has no checks for (known: {}): it would \
                 not be judged",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// The findings of the planned checks on the targets: each check on the
/// targets of its provider, and an `error` per check whose provider has no
/// target. The one evaluation `audit` runs and `verify` re-runs.
pub(crate) fn evaluate_plan(
    catalog: &Catalog,
    planned: &BTreeMap<String, CheckCompilation>,
    check_providers: &BTreeMap<String, String>,
    targets: &[TargetFacts],
    limits: &crate::script::Limits,
    on_done: &(dyn Fn(&str, std::time::Duration) + Sync),
) -> Vec<crate::finding::Finding> {
    let mut findings = evaluate::evaluate(&catalog.preludes, planned, check_providers, targets, limits, on_done);
    findings.extend(evaluate::not_judged(planned, check_providers, targets));
    findings
}

/// The provider each selected check is evaluated for: its own (the folder
/// under `checks/`). A check that did not load is placed by the folder of
/// the file that failed, else by its id's prefix (`aws_...`), else it goes
/// with its benchmark's first provider, so that its error is reported on
/// the targets it was meant for.
pub(crate) fn check_providers(catalog: &Catalog, plan: &crate::catalog::plan::Plan<'_>) -> BTreeMap<String, String> {
    let mut providers = BTreeMap::new();
    for planned in &plan.benchmarks {
        let benchmark = planned.benchmark;
        for id in planned.controls.iter().flat_map(|c| c.checks.iter()) {
            let provider = match catalog.checks.get(id) {
                Some(check) => check.provider.clone(),
                None => {
                    let from_path = catalog.check_problem(id).and_then(|problem| {
                        benchmark.providers.iter().find(|p| problem.located.path.contains(&format!("checks/{p}/")))
                    });
                    let from_id = || benchmark.providers.iter().find(|p| id.starts_with(&format!("{p}_")));
                    from_path.or_else(from_id).or(benchmark.providers.first()).cloned().unwrap_or_default()
                }
            };
            providers.entry(id.clone()).or_insert(provider);
        }
    }
    providers
}

/// Compiles every check the selected controls name; a check that is missing
/// or broken becomes an error for its controls, not a fatal problem.
pub(crate) fn compile_plan(
    catalog: &Catalog,
    plan: &crate::catalog::plan::Plan<'_>,
    engine: &ScriptEngine,
) -> BTreeMap<String, CheckCompilation> {
    let referenced: BTreeSet<(&str, &str)> = plan
        .benchmarks
        .iter()
        .flat_map(|b| {
            b.controls.iter().flat_map(move |c| c.checks.iter().map(move |id| (id.as_str(), b.benchmark.path.as_str())))
        })
        .collect();
    referenced
        .into_iter()
        .map(|(id, benchmark_path)| {
            let planned = match catalog.checks.get(id) {
                Some(check) => engine.compile(check).map_err(|problem| (problem, check.meta.severity)),
                None => Err((
                    catalog.check_problem(id).cloned().unwrap_or_else(|| {
                        CatalogError::new(benchmark_path, format!("check '{id}' does not exist")).for_check(id)
                    }),
                    Severity::High,
                )),
            };
            (id.to_owned(), planned)
        })
        .collect()
}

fn write_reports(
    settings: &AuditSettings,
    tera: &tera::Tera,
    report: &model::Report,
    staging: &mut crate::evidence::output::Staging,
) -> Result<(), Fatal> {
    // report.json is written whatever the formats: the evidence pack is
    // verified against it.
    let mut formats = settings.formats.clone();
    if !formats.iter().any(|format| format.name == report::format::ALWAYS.name) {
        formats.push(report::format::ALWAYS);
    }
    for format in formats {
        let contents =
            format.render(tera, report, settings.render_timeout).map_err(|e| Fatal::Output(e.to_string()))?;
        staging.write(format.file, contents.as_bytes()).map_err(|e| Fatal::Output(e.to_string()))?;
    }
    Ok(())
}

fn summary_line(report: &model::Report) -> String {
    let c = &report.summary.controls;
    let rate = report.summary.pass_rate.map_or_else(|| "n/a".to_owned(), |r| format!("{:.1}%", r * 100.0));
    format!(
        "{} controls: {} pass, {} fail, {} error, {} not applicable, {} manual; pass rate {rate}; exit code {}",
        c.total, c.pass, c.fail, c.error, c.not_applicable, c.manual, report.run.exit_code
    )
}

/// Where the facts come from: targets to collect from, or a recorded bundle.
enum Source {
    Live(Vec<target::ResolvedTarget>),
    Recorded(Vec<TargetFacts>, String),
}

/// Logs the duration of each phase when `--timings` is given.
struct PhaseTimer {
    enabled: bool,
    last: std::time::Instant,
}

impl PhaseTimer {
    fn new(enabled: bool) -> Self {
        Self { enabled, last: std::time::Instant::now() }
    }

    fn done(&mut self, phase: &str) {
        if self.enabled {
            eprintln!("posture: timing: {phase}: {:.3} s", self.last.elapsed().as_secs_f64());
        }
        self.last = std::time::Instant::now();
    }
}
