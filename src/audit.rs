//! The `audit` command: settings -> catalog -> plan -> facts -> evaluation ->
//! results -> reports, in that order, with every per-item problem kept as a
//! finding and only setup problems (bad arguments, unknown benchmark,
//! unreadable bundle) fatal.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

use crate::catalog::{Catalog, CatalogError};
use crate::cli::Format;
use crate::evaluate::{self, PlannedCheck, TargetFacts};
use crate::facts::bundle::Bundle;
use crate::finding::Severity;
use crate::progress::Progress;
use crate::report::{self, model, RunInfo};
use crate::results::{self, RunResults};
use crate::script::ScriptEngine;
use crate::settings::{AuditSettings, FactsInput};
use crate::target;
use crate::Fatal;

/// Runs an audit and returns its exit code.
pub fn run(settings: &AuditSettings) -> Result<u8, Fatal> {
    let started_at = Utc::now();
    let mut progress = Progress::new(settings.progress_bar, settings.quiet);
    let mut phase = PhaseTimer::new(settings.timings);
    let tera = report::templates(settings.templates.as_deref()).map_err(|e| Fatal::Setup(e.to_string()))?;

    let catalog = Catalog::load(&settings.content_dirs).map_err(|e| Fatal::Setup(e.to_string()))?;
    for problem in &catalog.problems {
        progress.log(&format!("content problem: {problem}"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal::Setup(format!("cannot start the async runtime: {e}")))?;

    // Connect (credentials, identity) or read the bundle before planning: the
    // targets' providers choose the default benchmarks.
    let source = match &settings.facts {
        FactsInput::Bundle(path) => {
            let bundle = Bundle::read(path).map_err(|e| Fatal::Setup(e.to_string()))?;
            let name =
                path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            Source::Recorded(bundle.into_targets(), format!("bundle:{name}"))
        }
        FactsInput::Targets(specs) => {
            let mut connected = Vec::new();
            for spec in specs {
                connected.push(target::connect(spec, &runtime).map_err(|e| Fatal::Setup(e.to_string()))?);
            }
            Source::Live(connected)
        }
    };
    let providers: Vec<String> = match &source {
        Source::Recorded(targets, _) => targets.iter().map(|t| t.provider.clone()).collect(),
        Source::Live(connected) => connected.iter().map(|c| c.provider().to_owned()).collect(),
    };
    let mut selection = settings.selection.clone();
    if selection.benchmarks.is_empty() {
        for provider in &providers {
            if let Some(id) = crate::settings::default_benchmark(provider) {
                if !selection.benchmarks.iter().any(|b| b == id) {
                    selection.benchmarks.push(id.to_owned());
                }
            }
        }
    }
    let plan = catalog.plan(&selection).map_err(|e| Fatal::Setup(e.to_string()))?;

    let engine = ScriptEngine::new(&settings.limits, &catalog.preludes);
    let planned = compile_plan(&catalog, &plan, &engine);
    phase.done("load and compile content");

    let (targets, facts_origin) = match source {
        Source::Recorded(targets, origin) => (targets, origin),
        Source::Live(connected) => {
            let mut targets = Vec::new();
            for target in &connected {
                progress.start(1, &format!("collecting facts from {}", target.name()));
                targets.push(target.collect(&plan.facts, &runtime));
                progress.inc();
                progress.finish();
            }
            (targets, "collected".to_owned())
        }
    };
    phase.done("collect or read facts");
    let api_calls = crate::facts::aws::calls::summary();
    if settings.timings && api_calls.total() > 0 {
        eprintln!("posture: timing:   AWS API: {api_calls}");
    }
    for benchmark in &plan.benchmarks {
        if !targets.iter().any(|t| t.provider == benchmark.benchmark.provider) {
            return Err(Fatal::Setup(format!(
                "benchmark '{}' audits {} targets, and no {} target is part of this audit",
                benchmark.benchmark.id, benchmark.benchmark.provider, benchmark.benchmark.provider
            )));
        }
    }
    if let Some(path) = &settings.save_facts {
        let json = Bundle::new(&targets).to_json().map_err(|e| Fatal::Setup(e.to_string()))?;
        report::write_atomic(path, &json).map_err(|e| Fatal::Output(e.to_string()))?;
        progress.log(&format!("wrote fact bundle {}", path.display()));
    }

    let check_providers: BTreeMap<String, String> = plan
        .benchmarks
        .iter()
        .flat_map(|b| {
            b.controls
                .iter()
                .flat_map(move |c| c.checks.iter().map(move |id| (id.clone(), b.benchmark.provider.clone())))
        })
        .collect();
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
    let findings =
        evaluate::evaluate(&catalog.preludes, &planned, &check_providers, &targets, &settings.limits, &on_done);
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

    let severities: BTreeMap<String, Severity> =
        catalog.checks.iter().map(|(id, check)| (id.clone(), check.meta.severity)).collect();
    let results = RunResults::build(&plan, findings, &severities);
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
    };
    let report = report::build(&catalog, &plan, &results, &targets, info);
    phase.done("roll up and build the report");
    write_reports(settings, &tera, &report, &progress)?;
    phase.done("render and write reports");
    progress.log(&summary_line(&report));
    Ok(exit_code)
}

/// Compiles every check the selected controls name; a check that is missing
/// or broken becomes an error for its controls, not a fatal problem.
fn compile_plan(
    catalog: &Catalog,
    plan: &crate::catalog::plan::Plan<'_>,
    engine: &ScriptEngine,
) -> BTreeMap<String, PlannedCheck> {
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
    progress: &Progress,
) -> Result<(), Fatal> {
    for format in &settings.formats {
        let (file, contents) = match format {
            Format::Json => ("report.json", report::to_json(report)),
            Format::Html => ("report.html", report::render(tera, report::HTML_TEMPLATE, report)),
            Format::Junit => ("junit.xml", report::render(tera, report::JUNIT_TEMPLATE, report)),
            Format::Md => ("summary.md", report::render(tera, report::MARKDOWN_TEMPLATE, report)),
        };
        let contents = contents.map_err(|e| Fatal::Output(e.to_string()))?;
        let path = settings.out.join(file);
        report::write_atomic(&path, &contents).map_err(|e| Fatal::Output(e.to_string()))?;
        progress.log(&format!("wrote {}", path.display()));
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
    Live(Vec<target::Connected>),
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
