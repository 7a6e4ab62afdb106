//! Evaluation: every selected check against every target of its provider, in
//! parallel. A check that cannot be evaluated (broken script, exceeded limit,
//! unavailable fact) gives `error` findings; nothing here aborts the run.

use crate::facts::provider::Provider;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use crate::catalog::{CatalogError, PreludeFile};
use crate::facts::target::TargetFacts;
use crate::finding::{Finding, Severity};
use crate::script::{CompiledCheck, FactProblem, Limits, Outcome, ScriptEngine, ScriptFacts};

/// What compiling a check gave: the compiled check, or why it could not be
/// compiled (and the severity its `error` findings carry).
pub type CheckCompilation = Result<CompiledCheck, (CatalogError, Severity)>;

/// The (check id, target index) pairs that are not evaluated: no benchmark
/// that uses the check judges the target (see `applicability`).
pub type NotRun = std::collections::BTreeSet<(String, usize)>;

/// Evaluates `checks` against every target whose provider matches, but the
/// pairs of `not_run`; `on_done` is called once per (check, target) pair
/// evaluated with the check id and how long it took, from any thread.
pub fn evaluate(
    preludes: &BTreeMap<String, Vec<PreludeFile>>,
    checks: &BTreeMap<String, CheckCompilation>,
    check_providers: &BTreeMap<String, String>,
    targets: &[TargetFacts],
    not_run: &NotRun,
    limits: &Limits,
    on_done: &(dyn Fn(&str, std::time::Duration) + Sync),
) -> Vec<Finding> {
    let keys: std::collections::BTreeSet<&crate::facts::FactKey> =
        checks.values().filter_map(|c| c.as_ref().ok()).flat_map(|c| c.check.meta.facts.iter()).collect();
    // Each worker thread gets its own engine, compiled checks and script copy
    // of the facts, made on first use: scripts copy and drop fact values and
    // script constants all the time, and sharing one copy across threads makes
    // the threads fight over its reference counts (two threads were no faster
    // than one). The checks were compiled once already, so any compile problem
    // has been reported; this is the same source compiled again.
    let threads = rayon::current_num_threads() + 1;
    let workers: Vec<OnceLock<Worker>> = (0..threads).map(|_| OnceLock::new()).collect();
    let worker = || -> &Worker {
        let thread = rayon::current_thread_index().map_or(threads - 1, |t| t.min(threads - 1));
        workers[thread].get_or_init(|| Worker {
            engine: ScriptEngine::new(limits, preludes),
            checks: checks.keys().map(|id| (id.clone(), OnceLock::new())).collect(),
            facts: targets.iter().map(|_| OnceLock::new()).collect(),
        })
    };
    let pairs: Vec<(&String, &CheckCompilation, usize)> = checks
        .iter()
        .flat_map(|(id, check)| {
            let provider = check_providers.get(id);
            targets
                .iter()
                .enumerate()
                .filter(move |(_, target)| provider.is_some_and(|p| p == target.provider.name()))
                .filter(move |(index, _)| not_run.is_empty() || !not_run.contains(&(id.clone(), *index)))
                .map(move |(index, _)| (id, check, index))
        })
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .stack_size(evaluation_stack_size(limits.max_memory))
        .build();
    let evaluate_all = || -> Vec<Finding> {
        pairs
            .par_iter()
            .flat_map_iter(|(id, check, index)| {
                let target = &targets[*index];
                let started = std::time::Instant::now();
                let findings = match check {
                    // Recorded in the pack as stopped by the wall clock: that outcome stands.
                    Ok(compiled) if limits.timed_out_in_pack.contains_key(&((*id).clone(), target.name.clone())) => {
                        let meta = &compiled.check.meta;
                        let message = limits.timed_out_in_pack.get(&((*id).clone(), target.name.clone()));
                        vec![error_finding(
                            &meta.id,
                            meta.severity,
                            &target.name,
                            &target.name,
                            message.cloned().unwrap_or_default(),
                            Vec::new(),
                        )]
                    }
                    Ok(compiled) => {
                        let worker = worker();
                        let own = worker
                            .checks
                            .get(*id)
                            .and_then(|slot| slot.get_or_init(|| worker.engine.compile(&compiled.check).ok()).as_ref());
                        let facts = worker.facts[*index]
                            .get_or_init(|| Arc::new(ScriptFacts::from_store(&target.facts, keys.iter().copied())))
                            .clone();
                        let outcome = worker.engine.run(own.unwrap_or(compiled), facts, limits.max_duration);
                        findings_of_outcome(compiled, &target.name, outcome)
                    }
                    Err((problem, severity)) => {
                        vec![error_finding(
                            id,
                            *severity,
                            &target.name,
                            &target.name,
                            format!("check could not be loaded: {problem}"),
                            Vec::new(),
                        )]
                    }
                };
                on_done(id, started.elapsed());
                findings
            })
            .collect()
    };
    // Without the larger stacks (the pool could not be made), evaluate on the
    // current threads rather than not at all.
    let mut findings = match pool {
        Ok(pool) => pool.install(evaluate_all),
        Err(_) => evaluate_all(),
    };
    findings.sort_by(|a, b| (&a.check_id, &a.target, &a.resource).cmp(&(&b.check_id, &b.target, &b.resource)));
    findings
}

/// The stack of an evaluation thread: Rhai clones and drops values
/// recursively, so a script that nests an array in itself (`a = [a]` in a
/// loop) needs stack in proportion to the depth it reaches, and the memory
/// budget bounds that depth (each level costs at least two heap blocks, 48
/// bytes; one level of cloning or dropping takes well under that much stack).
/// The stack is reserved, not committed: only what a script uses is memory.
fn evaluation_stack_size(max_memory: usize) -> usize {
    const MIN_STACK: usize = 16 * 1024 * 1024;
    max_memory.saturating_add(MIN_STACK)
}

/// The target name of the findings of a check whose provider has no target
/// in the audit: `(no aws target)`.
pub fn missing_target_name(provider: &str) -> String {
    format!("(no {provider} target)")
}

/// One `error` finding per check whose provider has no target in this audit
/// (a benchmark of several providers audited with only some of them): the
/// controls it judges are not judged, and never pass.
pub fn not_judged(
    checks: &BTreeMap<String, CheckCompilation>,
    check_providers: &BTreeMap<String, String>,
    targets: &[TargetFacts],
) -> Vec<Finding> {
    checks
        .iter()
        .filter_map(|(id, check)| {
            let provider = check_providers.get(id)?;
            if targets.iter().any(|t| t.provider.name() == provider) {
                return None;
            }
            let severity = match check {
                Ok(compiled) => compiled.check.meta.severity,
                Err((_, severity)) => *severity,
            };
            Some(error_finding(
                id,
                severity,
                &missing_target_name(provider),
                &format!("{provider} targets"),
                format!(
                    "not judged: this check judges {provider} targets, and no {provider} target is part of this audit \
                     (add one: `--target {}`, or a fact bundle holding one)",
                    Provider::from_name(provider).map_or_else(|| provider.clone(), |p| p.example_target().to_owned())
                ),
                Vec::new(),
            ))
        })
        .collect()
}

/// One `error` finding per check of `check_ids` on a target that `benchmark`
/// does not judge, with the reason (`benchmark is for Debian 12; host is
/// ...`) and the facts that tell it: shown by that benchmark's controls only.
pub fn refused_by_benchmark<'c>(
    checks: &BTreeMap<String, CheckCompilation>,
    check_ids: impl IntoIterator<Item = &'c String>,
    benchmark: &str,
    target: &str,
    reason: &str,
    evidence: &[crate::facts::FactKey],
) -> Vec<Finding> {
    check_ids
        .into_iter()
        .filter_map(|id| {
            let severity = match checks.get(id)? {
                Ok(compiled) => compiled.check.meta.severity,
                Err((_, severity)) => *severity,
            };
            Some(error_finding(id, severity, target, target, reason.to_owned(), evidence.to_vec()).only_for(benchmark))
        })
        .collect()
}

/// The `error` finding for a fact a check could not read.
fn problem_finding(compiled: &CompiledCheck, target: &str, problem: FactProblem) -> Finding {
    let meta = &compiled.check.meta;
    match problem {
        FactProblem::Unavailable { key, reason } => error_finding(
            &meta.id,
            meta.severity,
            target,
            &format!("fact {key}"),
            format!("could not evaluate: fact {key} is unavailable: {reason}"),
            vec![key],
        ),
        FactProblem::Undeclared { key } => error_finding(
            &meta.id,
            meta.severity,
            target,
            &format!("fact {key}"),
            format!("check bug: it reads fact {key}, which its front block does not declare ({})", compiled.check.path),
            Vec::new(),
        ),
        FactProblem::RegionUnavailable { key, region, reason } => error_finding(
            &meta.id,
            meta.severity,
            target,
            &format!("region {region}"),
            format!("could not evaluate region {region}: fact {key} is unavailable: {reason}"),
            vec![key],
        ),
    }
}

/// What one worker thread evaluates with.
struct Worker {
    engine: ScriptEngine,
    checks: BTreeMap<String, OnceLock<Option<CompiledCheck>>>,
    facts: Vec<OnceLock<Arc<ScriptFacts>>>,
}

fn findings_of_outcome(compiled: &CompiledCheck, target: &str, outcome: Outcome) -> Vec<Finding> {
    let Outcome { findings, facts_read, fact_problems, failure } = outcome;
    let (region_problems, fact_problems): (Vec<FactProblem>, Vec<FactProblem>) =
        fact_problems.into_iter().partition(|p| matches!(p, FactProblem::RegionUnavailable { .. }));
    let mut findings = findings_of_script(compiled, target, findings, facts_read, fact_problems, failure);
    // An unreadable region stands beside the other regions' verdicts.
    findings.extend(region_problems.into_iter().map(|problem| problem_finding(compiled, target, problem)));
    findings
}

fn findings_of_script(
    compiled: &CompiledCheck,
    target: &str,
    findings: Vec<crate::script::ScriptFinding>,
    facts_read: Vec<crate::facts::FactKey>,
    fact_problems: Vec<FactProblem>,
    failure: Option<crate::script::ScriptFailure>,
) -> Vec<Finding> {
    let meta = &compiled.check.meta;
    if !fact_problems.is_empty() {
        return fact_problems.into_iter().map(|problem| problem_finding(compiled, target, problem)).collect();
    }
    if let Some(failure) = failure {
        return vec![error_finding(
            &meta.id,
            meta.severity,
            target,
            target,
            format!("check failed: {failure}"),
            facts_read,
        )];
    }
    findings
        .into_iter()
        .map(|finding| {
            let observed = finding.observed;
            Finding::builder(&meta.id, meta.severity, target)
                .resource(finding.resource)
                .status(finding.status)
                .message(finding.message)
                .observed(observed)
                .evidence(facts_read.clone())
                .build()
                .unwrap_or_else(|err| {
                    error_finding(
                        &meta.id,
                        meta.severity,
                        target,
                        target,
                        format!("check bug: {err} ({})", compiled.check.path),
                        facts_read.clone(),
                    )
                })
        })
        .collect()
}

fn error_finding(
    check_id: &str,
    severity: Severity,
    target: &str,
    resource: &str,
    message: String,
    evidence: Vec<crate::facts::FactKey>,
) -> Finding {
    Finding::evaluation_error(check_id, severity, target, resource, message, evidence)
}
