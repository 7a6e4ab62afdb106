//! The `audit` command: settings -> catalog -> plan -> facts -> evaluation ->
//! results -> reports, in that order, with every per-item problem kept as a
//! finding and only setup problems (bad arguments, unknown benchmark,
//! unreadable bundle) fatal.

use chrono::Utc;

use crate::catalog::Catalog;
use crate::facts::bundle::Bundle;
use crate::facts::provider::Provider;
use crate::facts::target::{self, TargetFacts};
use crate::history::AuditHistory;
use crate::judge::{Judge, Verdicts};
use crate::progress::Progress;
use crate::report::{self, model, RunInfo};
use crate::results::ExitPolicy;
use crate::settings::{AuditSettings, FactsInput};
use crate::waivers::Waivers;
use crate::Fatal;

/// Runs an audit, prints its terminal summary on stdout, and returns the
/// exit code (and nothing more to print).
pub fn run(settings: &AuditSettings) -> Result<(String, u8), Fatal> {
    let started_at = Utc::now();
    let mut progress = Progress::new(settings.progress_bar, settings.quiet);
    let mut phase = PhaseTimer::new(settings.timings);
    let template_texts = report::template_texts(settings.templates.as_deref()).map_err(Fatal::Templates)?;
    let tera = report::templates_from(&template_texts).map_err(Fatal::Templates)?;

    let catalog = Catalog::load(&settings.content_dirs)?;
    for problem in &catalog.problems {
        progress.warn(&format!("content problem: {problem}"));
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
    let providers: Vec<Provider> = match &source {
        Source::Recorded(targets, _) => targets.iter().map(|t| t.provider).collect(),
        Source::Live(connected) => connected.iter().map(target::ResolvedTarget::provider).collect(),
    };
    judges_something(&providers, &settings.facts)?;
    let mut selection = settings.selection.clone();
    if selection.benchmarks.is_empty() {
        for provider in &providers {
            let id = provider.default_benchmark();
            if !selection.benchmarks.iter().any(|b| b == id) {
                selection.benchmarks.push(id.to_owned());
            }
        }
    }
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
    for planned in &plan.benchmarks {
        if let Some(warning) = planned.profile.warning(planned.benchmark) {
            progress.warn(&warning);
        }
    }
    if plan.benchmarks.iter().flat_map(|b| &b.controls).all(|c| !c.is_evaluated()) {
        // Manual controls are reported (for review), so this is a warning, not "nothing judged".
        progress.warn("warning: every selected control is manual: the report lists them for review, and no check runs");
    }

    let judge = Judge::compile(&catalog, &plan, &settings.limits, settings.os_mismatch);
    phase.done("load and compile content");

    let (targets, facts_origin) = match source {
        Source::Recorded(targets, origin) => (targets, origin),
        Source::Live(connected) => {
            let names: Vec<String> = connected.iter().map(target::ResolvedTarget::name).collect();
            let what = match names.as_slice() {
                [one] => one.clone(),
                many => format!("{} targets ({} at a time)", many.len(), settings.ssh.jobs.min(many.len())),
            };
            progress.start(connected.len() as u64, &format!("collecting facts from {what}"));
            let on_done = |collected: &TargetFacts| {
                progress.inc();
                if let Some(error) = collected.connection.as_ref().and_then(|c| c.error.as_ref()) {
                    progress.warn(&format!("{error}; its checks are reported as error"));
                }
            };
            let targets = target::collect_all(&connected, &plan.facts, &runtime, &settings.ssh, &on_done);
            progress.finish();
            (targets, "collected".to_owned())
        }
    };
    phase.done("collect or read facts");
    if settings.timings {
        for target in &targets {
            if let Some(calls) = target.api_calls.as_ref().filter(|calls| calls.total() > 0) {
                eprintln!("posture: timing:   {} AWS API: {calls}", target.name);
            }
        }
    }
    // A benchmark needs a target of one of its providers; a benchmark of
    // several providers (PCI DSS: aws and linux) audited with only some of
    // them judges what it can, and its other checks give `error` findings
    // saying which kind of target was missing (see evaluate::not_judged).
    for benchmark in &plan.benchmarks {
        let providers = &benchmark.benchmark.providers;
        let (present, missing): (Vec<&String>, Vec<&String>) =
            providers.iter().partition(|p| targets.iter().any(|t| t.provider.name() == p.as_str()));
        if present.is_empty() {
            return Err(Fatal::MissingProvider {
                benchmark: benchmark.benchmark.id.clone(),
                providers: providers.clone(),
                recorded: matches!(settings.facts, FactsInput::Bundle(_)),
            });
        }
        for provider in missing {
            progress.warn(&format!(
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

    progress.start(
        judge.evaluations(&targets),
        &format!("evaluating {} checks on {} target(s)", judge.check_count(), targets.len()),
    );
    let durations = std::sync::Mutex::new(Vec::new());
    let on_done = |check: &str, took: std::time::Duration| {
        progress.inc();
        if settings.timings {
            durations.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((took, check.to_owned()));
        }
    };
    // Waivers are judged on the day the run started, so re-judging the run's
    // evidence later gives the same verdicts.
    let verdicts = Verdicts {
        waivers,
        today: started_at.date_naive(),
        exit_policy: ExitPolicy { fail_on: settings.fail_on, content_problems: catalog.problems.len() },
    };
    let mut results = judge.judge(&targets, verdicts, &on_done);
    progress.finish();
    for os in &results.applicability.checks {
        let Some(reason) = os.reason() else { continue };
        progress.warn(&if os.judged {
            format!("target {}: {reason}; judged anyway (--ignore-os-mismatch)", os.target)
        } else {
            format!(
                "target {}: {reason}; the controls of {} are reported as error on it (pass --ignore-os-mismatch to \
                 judge anyway)",
                os.target, os.benchmark
            )
        });
    }
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

    let info = RunInfo {
        id: uuid::Uuid::new_v4().to_string(),
        started_at,
        finished_at: Utc::now(),
        facts_origin,
        selection: model::Selection {
            controls: settings.selection.controls.iter().map(|p| p.as_str().to_owned()).collect(),
            skip: settings.selection.skip.iter().map(|p| p.as_str().to_owned()).collect(),
            level: settings.selection.profile.level,
            host_role: settings.selection.profile.host_role.clone(),
        },
        fail_on: settings.fail_on_label(),
    };
    let mut report = report::build(&catalog, &plan, &results, &targets, info);
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
        results.mark_history_failed();
        report::settle_outcome(&mut report, &results);
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
    let reports: Vec<String> = settings
        .formats
        .iter()
        .chain(std::iter::once(&report::format::ALWAYS))
        .filter(|format| staging.files().contains_key(format.file))
        .map(|format| settings.out.join(format.file).display().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    staging.commit().map_err(pack_error)?;
    let mut files = reports;
    files.push(format!(
        "{} (the evidence pack{})",
        settings.out.join(crate::evidence::MANIFEST).display(),
        if settings.signing_key.is_some() { ", signed" } else { "" }
    ));
    if let Some(archive) = &settings.pack_archive {
        files.push(format!("{} (the pack as one archive)", archive.display()));
    }
    phase.done("write the evidence pack");
    recorded.done();
    if !settings.quiet {
        // Written here, not returned: its text is escaped field by field,
        // and its colour must reach the terminal. A closed pipe is no error.
        let table = report::terminal::render(&report, &files, settings.colour);
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), table.as_bytes());
    }
    // The summary line goes to stderr even with --quiet: it says why the
    // exit code is what it is.
    progress.warn(&summary_line(&report));
    Ok((String::new(), report.run.exit_code))
}

/// Refuses an audit that would judge nothing, before any fact is used: no
/// target at all (an empty fact bundle). A target of a provider posture has
/// no checks for cannot be read at all (see `Provider`'s deserialisation).
fn judges_something(targets: &[Provider], facts: &FactsInput) -> Result<(), Fatal> {
    if targets.is_empty() {
        let what = match facts {
            FactsInput::Bundle(path) => format!("the fact bundle {} holds no target", path.display()),
            FactsInput::Targets(_) => "no target was given".to_owned(),
        };
        return Err(Fatal::NothingToJudge(format!("{what}: nothing would be judged")));
    }
    Ok(())
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
    // The profiles, each named with its benchmark when the run has several.
    let several = report.benchmarks.len() > 1;
    let profiles: Vec<String> = report
        .benchmarks
        .iter()
        .filter_map(|b| {
            b.profile.as_ref().map(|p| if several { format!("{}: {}", b.id, p.name) } else { p.name.clone() })
        })
        .collect();
    let profiles = if profiles.is_empty() { String::new() } else { format!(" ({})", profiles.join(", ")) };
    format!(
        "{} controls{profiles}: {} pass, {} fail, {} error, {} not applicable, {} manual; pass rate {rate}; exit code {}",
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
