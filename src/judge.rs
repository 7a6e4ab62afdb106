//! The evaluation core, the one place a plan is judged on targets' facts:
//! compile the checks the selected controls name, place each check on the
//! targets of its provider, evaluate, and roll the findings up into
//! [`RunResults`] with the waivers applied. `audit` judges what it
//! collected; `verify` re-judges what a pack recorded, through this same
//! code, so a pack verifies exactly when its verdicts follow from its
//! content and facts. A benchmark judges only the targets whose OS it is
//! written for (see `applicability`): on the others its controls are
//! `error`. May import applicability, catalog, facts, script, evaluate,
//! results and waivers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::applicability::{self, Applicability, OsMismatch};
use crate::catalog::plan::{Plan, PlannedBenchmark};
use crate::catalog::{Catalog, CatalogError};
use crate::evaluate::{self, CheckCompilation, NotRun};
use crate::facts::target::TargetFacts;
use crate::facts::FactKey;
use crate::finding::{Finding, Severity};
use crate::results::{ExitPolicy, RunResults};
use crate::script::{Limits, ScriptEngine};
use crate::waivers::Waivers;

/// The checks of a plan, compiled and placed on their providers: what is
/// left to judge is the targets.
pub struct Judge<'run> {
    catalog: &'run Catalog,
    plan: &'run Plan<'run>,
    limits: &'run Limits,
    checks: BTreeMap<String, CheckCompilation>,
    providers: BTreeMap<String, String>,
    os_mismatch: OsMismatch,
}

/// How the findings become verdicts: the waivers, the day they are judged
/// on (the day the run started, so that re-judging later gives the same
/// verdicts), and what decides the exit code.
pub struct Verdicts {
    pub waivers: Waivers,
    pub today: chrono::NaiveDate,
    pub exit_policy: ExitPolicy,
}

impl<'run> Judge<'run> {
    /// Compiles every check the selected controls name; a check that is
    /// missing or broken becomes `error` findings for its controls, never a
    /// fatal problem. `os_mismatch` says what becomes of a target whose OS
    /// is not that of a benchmark that declares its systems.
    pub fn compile(
        catalog: &'run Catalog,
        plan: &'run Plan<'run>,
        limits: &'run Limits,
        os_mismatch: OsMismatch,
    ) -> Self {
        let engine = ScriptEngine::new(limits, &catalog.preludes);
        let checks = compile_checks(catalog, plan, &engine);
        let providers = check_providers(catalog, plan);
        Self { catalog, plan, limits, checks, providers, os_mismatch }
    }

    /// How many checks will run.
    pub fn check_count(&self) -> usize {
        self.checks.len()
    }

    /// How many (check, target) evaluations judging `targets` takes.
    pub fn evaluations(&self, targets: &[TargetFacts]) -> u64 {
        let not_run = self.not_run(&applicability::assess(self.plan, targets, self.os_mismatch), targets);
        let placed: usize = self
            .checks
            .keys()
            .map(|id| targets.iter().filter(|t| self.providers.get(id).is_some_and(|p| p == t.provider.name())).count())
            .sum();
        (placed - not_run.len()) as u64
    }

    /// Judges `targets`: every check on the targets of its provider that a
    /// benchmark using it judges, an `error` per check whose provider has no
    /// target, an `error` per check of a benchmark on each target it does
    /// not judge, rolled up to the plan's controls. `on_done` is called once
    /// per evaluation with the check id and how long it took, from any thread.
    pub fn judge(
        &self,
        targets: &[TargetFacts],
        verdicts: Verdicts,
        on_done: &(dyn Fn(&str, Duration) + Sync),
    ) -> RunResults {
        let applicability = applicability::assess(self.plan, targets, self.os_mismatch);
        let not_run = self.not_run(&applicability, targets);
        let mut findings = evaluate::evaluate(
            &self.catalog.preludes,
            &self.checks,
            &self.providers,
            targets,
            &not_run,
            self.limits,
            on_done,
        );
        findings.extend(evaluate::not_judged(&self.checks, &self.providers, targets));
        findings.extend(self.refused(&applicability, targets));
        let Verdicts { waivers, today, exit_policy } = verdicts;
        RunResults::build(self.plan, findings, &self.catalog.severities(), waivers, today, exit_policy, applicability)
    }

    /// The checks of a benchmark's selected controls placed on `target`'s provider.
    fn checks_of<'p>(&'p self, benchmark: &'p PlannedBenchmark<'p>, target: &'p TargetFacts) -> BTreeSet<&'p String> {
        benchmark
            .controls
            .iter()
            .flat_map(|c| &c.checks)
            .filter(|id| self.providers.get(*id).is_some_and(|p| p == target.provider.name()))
            .collect()
    }

    /// The (check, target) pairs no benchmark that uses the check judges:
    /// they are not evaluated.
    fn not_run(&self, applicability: &Applicability, targets: &[TargetFacts]) -> NotRun {
        let mut not_run = NotRun::new();
        if applicability.checks.iter().all(|c| c.judged) {
            return not_run;
        }
        for (index, target) in targets.iter().enumerate() {
            let mut judged: BTreeSet<&String> = BTreeSet::new();
            let mut refused: BTreeSet<&String> = BTreeSet::new();
            for planned in &self.plan.benchmarks {
                let into =
                    if applicability.refuses(&planned.benchmark.id, &target.name) { &mut refused } else { &mut judged };
                into.extend(self.checks_of(planned, target));
            }
            not_run.extend(refused.difference(&judged).map(|id| ((*id).clone(), index)));
        }
        not_run
    }

    /// The `error` findings of each benchmark on each target it does not
    /// judge: one per check of its selected controls, with the reason.
    fn refused(&self, applicability: &Applicability, targets: &[TargetFacts]) -> Vec<Finding> {
        let mut findings = Vec::new();
        for check in applicability.checks.iter().filter(|c| !c.judged) {
            let planned = self.plan.benchmarks.iter().find(|b| b.benchmark.id == check.benchmark);
            let target = targets.iter().find(|t| t.name == check.target);
            let (Some(planned), Some(target), Some(reason)) = (planned, target, check.reason()) else { continue };
            let evidence: Vec<FactKey> =
                target.provider.os_fact().filter(|key| target.facts.get(key).is_some()).into_iter().collect();
            findings.extend(evaluate::refused_by_benchmark(
                &self.checks,
                self.checks_of(planned, target),
                &check.benchmark,
                &target.name,
                reason,
                &evidence,
            ));
        }
        findings
    }
}

/// The provider each selected check is evaluated for: its own (the folder
/// under `checks/`). A check that did not load is placed by the folder of
/// the file that failed, else by its id's prefix (`aws_...`), else it goes
/// with its benchmark's first provider, so that its error is reported on
/// the targets it was meant for.
fn check_providers(catalog: &Catalog, plan: &Plan<'_>) -> BTreeMap<String, String> {
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

fn compile_checks(catalog: &Catalog, plan: &Plan<'_>, engine: &ScriptEngine) -> BTreeMap<String, CheckCompilation> {
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
            let compiled = match catalog.checks.get(id) {
                Some(check) => engine.compile(check).map_err(|problem| (problem, check.meta.severity)),
                None => Err((
                    catalog.check_problem(id).cloned().unwrap_or_else(|| {
                        CatalogError::new(benchmark_path, format!("check '{id}' does not exist")).for_check(id)
                    }),
                    Severity::High,
                )),
            };
            (id.to_owned(), compiled)
        })
        .collect()
}
