//! Results: waivers applied to failing findings (once, here), findings
//! rolled up to controls, per target and across targets, the summary counts,
//! and the exit code. Reports and the history read [`RunResults`]; nothing
//! downstream re-applies a waiver or recomputes the exit code. On a target
//! a benchmark does not judge (see `applicability`), its controls show its
//! own `error` findings only. May import applicability, catalog, finding and
//! waivers.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::applicability::Applicability;
use crate::catalog::plan::Plan;
use crate::catalog::{Assessment, Control};
use crate::finding::{Finding, Severity, Status};
use crate::waivers::{FindingRef, WaiverState, Waivers};

/// Why a control has the status it has, when the findings alone don't say.
pub const NOT_YET_AUTOMATED: &str = "not yet automated by posture: assess manually";
pub const MANUAL_CONTROL: &str = "manual control: the benchmark expects a person to assess it";

/// One control's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    pub control_id: String,
    pub status: Status,
    /// Why, for manual, not-yet-automated and unevaluable controls.
    pub reason: Option<String>,
    /// The highest severity among the control's checks.
    pub severity: Option<Severity>,
    /// Status per target (targets the control's checks ran on).
    pub targets: BTreeMap<String, Status>,
    /// The findings of the control's checks, each with its status under
    /// this control.
    pub findings: Vec<ShownFinding>,
    /// The waiver (index into [`RunResults::waivers`]) of each finding it
    /// concerns under this control: active ones made a failure `waived`,
    /// expired ones are shown beside the failure they no longer excuse.
    pub waivers: BTreeMap<usize, usize>,
}

/// A finding as a control shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShownFinding {
    /// Index into [`RunResults::findings`].
    pub index: usize,
    /// Its status under this control: the check's, or `waived` when an
    /// active waiver of this control covers the failure.
    pub status: Status,
}

/// A finding's status with its waiver (if any): an active waiver turns a
/// failure into `waived`; nothing else changes.
fn waived_status(finding: &Finding, waiver: Option<usize>, waivers: &Waivers, today: chrono::NaiveDate) -> Status {
    match waiver {
        Some(waiver) if finding.status == Status::Fail && waivers.waivers[waiver].is_active(today) => Status::Waived,
        _ => finding.status,
    }
}

/// What became of one waiver in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaiverOutcome {
    pub state: WaiverState,
    /// Failing findings it waived (active) or would have waived (expired).
    pub matched: usize,
}

/// Counts of controls (or findings) by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub not_applicable: usize,
    pub manual: usize,
    pub waived: usize,
}

impl Counts {
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Error => self.error += 1,
            Status::NotApplicable => self.not_applicable += 1,
            Status::Manual => self.manual += 1,
            Status::Waived => self.waived += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.pass + self.fail + self.error + self.not_applicable + self.manual + self.waived
    }

    /// Passing share of the controls that were judged: pass / (pass + fail + error).
    /// Errors count against: what could not be read is not compliant.
    pub fn pass_rate(&self) -> Option<f64> {
        let judged = self.pass + self.fail + self.error;
        (judged > 0).then(|| self.pass as f64 / judged as f64)
    }
}

#[derive(Debug, Clone)]
pub struct BenchmarkResult {
    pub benchmark_id: String,
    pub controls: Vec<ControlResult>,
    pub counts: Counts,
}

/// Everything the reports are built from.
#[derive(Debug, Clone)]
pub struct RunResults {
    /// Findings as the checks gave them (a waived failure stays `fail` here;
    /// see [`ShownFinding::status`]).
    pub findings: Vec<Finding>,
    /// The waivers in force for this run and the day they were judged on.
    pub waivers: Waivers,
    pub waiver_outcomes: Vec<WaiverOutcome>,
    pub today: chrono::NaiveDate,
    pub benchmarks: Vec<BenchmarkResult>,
    pub control_counts: Counts,
    /// Findings by status; a failure counts as waived when every control
    /// that shows it waives it.
    pub finding_counts: Counts,
    /// Per finding, that status.
    pub finding_statuses: Vec<Status>,
    /// What decides the exit code besides the findings.
    pub exit_policy: ExitPolicy,
    /// Recording the run in the history failed (see [`RunResults::exit_code`]).
    pub history_failed: bool,
    /// How each benchmark that declares its systems compared with each
    /// target's OS, and what was done about a mismatch.
    pub applicability: Applicability,
}

/// What decides the exit code besides the findings: the threshold and the
/// content problems of the catalog the run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitPolicy {
    pub fail_on: FailOn,
    pub content_problems: usize,
}

/// What decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Never,
    AtLeast(Severity),
}

impl RunResults {
    /// The run's exit code:
    /// 0: nothing fails at or above the threshold and everything was evaluated;
    /// 1: something fails at or above the threshold;
    /// 2: something could not be evaluated (an error finding or a content
    /// problem) or the run could not be recorded in the history; this wins
    /// over 1 because a partial audit cannot be trusted.
    pub fn exit_code(&self) -> u8 {
        if self.finding_counts.error > 0 || self.exit_policy.content_problems > 0 || self.history_failed {
            return 2;
        }
        let failing = self.findings.iter().zip(&self.finding_statuses).any(|(f, status)| {
            *status == Status::Fail
                && matches!(self.exit_policy.fail_on, FailOn::AtLeast(threshold) if f.severity >= threshold)
        });
        u8::from(failing)
    }

    /// The history could not record the run: the exit code becomes 2.
    pub fn mark_history_failed(&mut self) {
        self.history_failed = true;
    }

    /// Rolls `findings` up to the controls of `plan`, applying `waivers` as
    /// of `today`.
    pub fn build(
        plan: &Plan<'_>,
        findings: Vec<Finding>,
        check_severity: &BTreeMap<String, Severity>,
        waivers: Waivers,
        today: chrono::NaiveDate,
        exit_policy: ExitPolicy,
        applicability: Applicability,
    ) -> Self {
        let mut by_check: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, finding) in findings.iter().enumerate() {
            by_check.entry(finding.check_id.as_str()).or_default().push(index);
        }
        let mut control_counts = Counts::default();
        // Per finding: how many controls show it, and how many waive it.
        let mut shown = vec![(0usize, 0usize); findings.len()];
        let mut outcomes: Vec<WaiverOutcome> = waivers
            .waivers
            .iter()
            .map(|w| WaiverOutcome {
                state: if w.is_active(today) { WaiverState::Unmatched } else { WaiverState::Expired },
                matched: 0,
            })
            .collect();
        let benchmarks = plan
            .benchmarks
            .iter()
            .map(|planned| {
                let mut counts = Counts::default();
                let controls = planned
                    .controls
                    .iter()
                    .map(|control| {
                        let context = WaiverContext { waivers: &waivers, today, benchmark: &planned.benchmark.id };
                        let shown_here = |finding: &Finding| {
                            let benchmark = &planned.benchmark.id;
                            finding.is_shown_by(benchmark, applicability.refuses(benchmark, &finding.target))
                        };
                        let result = roll_up(control, &findings, &by_check, check_severity, &context, &shown_here);
                        for finding in &result.findings {
                            shown[finding.index].0 += 1;
                            if finding.status == Status::Waived {
                                shown[finding.index].1 += 1;
                            }
                        }
                        for &waiver in result.waivers.values() {
                            let outcome = &mut outcomes[waiver];
                            outcome.matched += 1;
                            if outcome.state == WaiverState::Unmatched {
                                outcome.state = WaiverState::Active;
                            }
                        }
                        counts.add(result.status);
                        control_counts.add(result.status);
                        result
                    })
                    .collect();
                BenchmarkResult { benchmark_id: planned.benchmark.id.clone(), controls, counts }
            })
            .collect();
        let finding_statuses: Vec<Status> = findings
            .iter()
            .zip(&shown)
            .map(
                |(finding, &(shown, waived))| {
                    if shown > 0 && waived == shown {
                        Status::Waived
                    } else {
                        finding.status
                    }
                },
            )
            .collect();
        let mut finding_counts = Counts::default();
        for status in &finding_statuses {
            finding_counts.add(*status);
        }
        Self {
            findings,
            waivers,
            waiver_outcomes: outcomes,
            today,
            benchmarks,
            control_counts,
            finding_counts,
            finding_statuses,
            exit_policy,
            history_failed: false,
            applicability,
        }
    }
}

/// What [`roll_up`] needs to apply waivers.
struct WaiverContext<'a> {
    waivers: &'a Waivers,
    today: chrono::NaiveDate,
    benchmark: &'a str,
}

fn roll_up(
    control: &Control,
    findings: &[Finding],
    by_check: &BTreeMap<&str, Vec<usize>>,
    check_severity: &BTreeMap<String, Severity>,
    waiving: &WaiverContext<'_>,
    shown_here: &dyn Fn(&Finding) -> bool,
) -> ControlResult {
    let severity = control.checks.iter().filter_map(|id| check_severity.get(id)).max().copied();
    if !control.is_evaluated() {
        let reason = match control.assessment {
            Assessment::Manual => MANUAL_CONTROL,
            Assessment::Automated => NOT_YET_AUTOMATED,
        };
        return ControlResult {
            control_id: control.id.clone(),
            status: Status::Manual,
            reason: Some(reason.to_owned()),
            severity,
            targets: BTreeMap::new(),
            findings: Vec::new(),
            waivers: BTreeMap::new(),
        };
    }
    let indices: Vec<usize> = control
        .checks
        .iter()
        .flat_map(|id| by_check.get(id.as_str()).into_iter().flatten().copied())
        .filter(|&index| shown_here(&findings[index]))
        .collect();
    let mut waivers = BTreeMap::new();
    for &index in &indices {
        let finding = &findings[index];
        if finding.status != Status::Fail {
            continue;
        }
        let seen = FindingRef {
            benchmark: waiving.benchmark,
            control: &control.id,
            check: &finding.check_id,
            target: &finding.target,
            resource: &finding.resource,
        };
        if let Some(waiver) = waiving.waivers.waiver_for(waiving.today, &seen) {
            waivers.insert(index, waiver);
        }
    }
    let shown: Vec<ShownFinding> = indices
        .iter()
        .map(|&index| ShownFinding {
            index,
            status: waived_status(&findings[index], waivers.get(&index).copied(), waiving.waivers, waiving.today),
        })
        .collect();
    let mut targets: BTreeMap<String, Status> = BTreeMap::new();
    for &ShownFinding { index, status: effective } in &shown {
        let finding = &findings[index];
        targets
            .entry(finding.target.clone())
            .and_modify(|status| {
                if effective.rollup_rank() > status.rollup_rank() {
                    *status = effective;
                }
            })
            .or_insert(effective);
    }
    let status = targets.values().copied().max_by_key(|s| s.rollup_rank());
    let (status, reason) = match status {
        Some(status) => (status, None),
        None => {
            (Status::Error, Some("no target of this benchmark's kind was audited, so nothing was evaluated".to_owned()))
        }
    };
    ControlResult { control_id: control.id.clone(), status, reason, severity, targets, findings: shown, waivers }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(check: &str, target: &str, status: Status, severity: Severity) -> Finding {
        Finding::builder(check, severity, target)
            .resource("r")
            .status(status)
            .message("m")
            .build()
            .expect("valid finding")
    }

    fn results(findings: Vec<Finding>, fail_on: FailOn, content_problems: usize) -> RunResults {
        let mut finding_counts = Counts::default();
        for f in &findings {
            finding_counts.add(f.status);
        }
        let finding_statuses = findings.iter().map(|f| f.status).collect();
        RunResults {
            findings,
            waivers: Waivers::default(),
            waiver_outcomes: Vec::new(),
            today: chrono::NaiveDate::MIN,
            benchmarks: Vec::new(),
            control_counts: Counts::default(),
            finding_counts,
            finding_statuses,
            exit_policy: ExitPolicy { fail_on, content_problems },
            history_failed: false,
            applicability: Applicability::default(),
        }
    }

    #[test]
    fn exit_code_follows_the_threshold_and_errors_win() {
        let low_fail =
            |fail_on, problems| results(vec![finding("a", "h", Status::Fail, Severity::Low)], fail_on, problems);
        assert_eq!(low_fail(FailOn::AtLeast(Severity::Low), 0).exit_code(), 1);
        assert_eq!(low_fail(FailOn::AtLeast(Severity::High), 0).exit_code(), 0);
        assert_eq!(low_fail(FailOn::Never, 0).exit_code(), 0);
        assert_eq!(low_fail(FailOn::Never, 1).exit_code(), 2, "a content problem makes the run incomplete");
        let mut unrecorded = low_fail(FailOn::Never, 0);
        unrecorded.mark_history_failed();
        assert_eq!(unrecorded.exit_code(), 2, "a run the history could not record exits 2");
        let with_error = results(
            vec![finding("a", "h", Status::Fail, Severity::Critical), finding("b", "h", Status::Error, Severity::Low)],
            FailOn::AtLeast(Severity::Low),
            0,
        );
        assert_eq!(with_error.exit_code(), 2);
        let clean = results(vec![finding("a", "h", Status::Pass, Severity::High)], FailOn::AtLeast(Severity::Info), 0);
        assert_eq!(clean.exit_code(), 0);
    }

    #[test]
    fn roll_up_prefers_fail_then_error_then_pass() {
        let control = Control {
            id: "1.1".to_owned(),
            title: "t".to_owned(),
            profiles: Vec::new(),
            assessment: Assessment::Automated,
            checks: vec!["a".to_owned(), "b".to_owned()],
            guidance: None,
            line: 1,
        };
        let findings = vec![
            finding("a", "h1", Status::Pass, Severity::Low),
            finding("b", "h1", Status::Error, Severity::High),
            finding("a", "h2", Status::Fail, Severity::Low),
            finding("b", "h2", Status::NotApplicable, Severity::High),
        ];
        let mut by_check: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, f) in findings.iter().enumerate() {
            by_check.entry(f.check_id.as_str()).or_default().push(i);
        }
        let severities = BTreeMap::from([("a".to_owned(), Severity::Low), ("b".to_owned(), Severity::High)]);
        let none = Waivers::default();
        let context = WaiverContext { waivers: &none, today: chrono::NaiveDate::MIN, benchmark: "b" };
        let result = roll_up(&control, &findings, &by_check, &severities, &context, &|_| true);
        assert_eq!(result.status, Status::Fail);
        assert_eq!(result.targets["h1"], Status::Error);
        assert_eq!(result.targets["h2"], Status::Fail);
        assert_eq!(result.severity, Some(Severity::High));
        assert_eq!(result.findings.len(), 4);

        let manual = Control { checks: Vec::new(), ..control };
        let result = roll_up(&manual, &findings, &by_check, &severities, &context, &|_| true);
        assert_eq!((result.status, result.reason.as_deref()), (Status::Manual, Some(NOT_YET_AUTOMATED)));
    }

    #[test]
    fn a_finding_for_one_benchmark_stands_in_for_the_checks_findings_there_only() {
        // "cis" does not judge the target, "pci" does.
        let shown = |benchmark: &str, finding: &Finding| finding.is_shown_by(benchmark, benchmark == "cis");
        let judged = finding("a", "rocky", Status::Fail, Severity::Low);
        let refusal = Finding::evaluation_error("a", Severity::Low, "rocky", "rocky", "not for it".into(), Vec::new())
            .only_for("cis");
        assert!(!shown("cis", &judged), "the benchmark that refuses the target hides the check's verdicts");
        assert!(shown("cis", &refusal), "and shows its own error");
        assert!(shown("pci", &judged), "another benchmark shows the verdicts");
        assert!(!shown("pci", &refusal), "and not the other benchmark's error");
    }

    #[test]
    fn pass_rate_counts_errors_against() {
        let mut counts = Counts::default();
        for status in [Status::Pass, Status::Pass, Status::Fail, Status::Error, Status::Manual, Status::NotApplicable] {
            counts.add(status);
        }
        assert_eq!(counts.pass_rate(), Some(0.5));
        assert_eq!(Counts::default().pass_rate(), None);
    }
}
