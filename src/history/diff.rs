//! Diff of two runs: which controls (per target) and resources (per control
//! and target) are newly failing, fixed, newly erroring, otherwise changed,
//! added or removed; and its text form for `posture diff`. Compares
//! statuses of reports (`report::model::Status`), never findings'.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::store::{Snapshot, StoredRun};
use crate::escape::terminal;
use crate::report::model::{Change, ChangeCounts, ChangeKind, ChangeKindCounts, Changes, PreviousRun, Status};

/// The kind of change from `before` to `after`; `None` when nothing changed.
pub fn classify(before: Option<Status>, after: Option<Status>) -> Option<ChangeKind> {
    match (before, after) {
        (None, None) => None,
        (None, Some(_)) => Some(ChangeKind::Added),
        (Some(_), None) => Some(ChangeKind::Removed),
        (Some(b), Some(a)) if a == b => None,
        (Some(_), Some(Status::Fail)) => Some(ChangeKind::NewlyFailing),
        (Some(_), Some(Status::Error)) => Some(ChangeKind::NewlyErroring),
        (Some(Status::Fail), Some(Status::Pass | Status::NotApplicable)) => Some(ChangeKind::Fixed),
        (Some(_), Some(_)) => Some(ChangeKind::Changed),
    }
}

/// Walks two sorted maps side by side, calling `each` for every key in
/// either with its status before and after.
fn merge<K: Ord>(
    before: &BTreeMap<K, Status>,
    after: &BTreeMap<K, Status>,
    mut each: impl FnMut(&K, Option<Status>, Option<Status>),
) {
    let mut old = before.iter().peekable();
    let mut new = after.iter().peekable();
    loop {
        match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some((k, s)), None) => {
                each(k, Some(**s), None);
                old.next();
            }
            (None, Some((k, s))) => {
                each(k, None, Some(**s));
                new.next();
            }
            (Some((ko, so)), Some((kn, sn))) => match ko.cmp(kn) {
                std::cmp::Ordering::Less => {
                    each(ko, Some(**so), None);
                    old.next();
                }
                std::cmp::Ordering::Greater => {
                    each(kn, None, Some(**sn));
                    new.next();
                }
                std::cmp::Ordering::Equal => {
                    each(ko, Some(**so), Some(**sn));
                    old.next();
                    new.next();
                }
            },
        }
    }
}

fn non_empty(target: &str) -> Option<String> {
    (!target.is_empty()).then(|| target.to_owned())
}

/// Control and resource changes from `before` to `after`, ordered by kind
/// (newly failing, fixed, newly erroring, changed, added, removed), then by
/// benchmark, control, target and resource.
pub fn compare(before: &Snapshot, after: &Snapshot) -> (Vec<Change>, Vec<Change>) {
    let mut controls = Vec::new();
    merge(&before.controls, &after.controls, |(benchmark, control, target), b, a| {
        if let Some(kind) = classify(b, a) {
            controls.push(Change {
                kind,
                benchmark: benchmark.clone(),
                control: control.clone(),
                target: non_empty(target),
                resource: None,
                before: b,
                after: a,
            });
        }
    });
    let mut resources = Vec::new();
    merge(&before.resources, &after.resources, |(benchmark, control, target, resource), b, a| {
        if let Some(kind) = classify(b, a) {
            resources.push(Change {
                kind,
                benchmark: benchmark.clone(),
                control: control.clone(),
                target: non_empty(target),
                resource: Some(resource.clone()),
                before: b,
                after: a,
            });
        }
    });
    // Stable: the key order of the merge is kept within a kind.
    controls.sort_by_key(|c| c.kind);
    resources.sort_by_key(|c| c.kind);
    (controls, resources)
}

pub fn count_kinds(changes: &[Change]) -> ChangeKindCounts {
    let mut counts = ChangeKindCounts::default();
    for change in changes {
        match change.kind {
            ChangeKind::Added => counts.added += 1,
            ChangeKind::Removed => counts.removed += 1,
            ChangeKind::NewlyFailing => counts.newly_failing += 1,
            ChangeKind::NewlyErroring => counts.newly_erroring += 1,
            ChangeKind::Fixed => counts.fixed += 1,
            ChangeKind::Changed => counts.changed += 1,
        }
    }
    counts
}

/// The report's changes since `previous`.
pub fn changes_since(previous: &StoredRun, before: &Snapshot, after: &Snapshot) -> Changes {
    let (controls, resources) = compare(before, after);
    Changes {
        previous_run: PreviousRun {
            id: previous.id.clone(),
            started_at: previous.started_at,
            tool_version: previous.tool_version.clone(),
            exit_code: previous.exit_code,
            pass_rate: previous.pass_rate,
        },
        counts: ChangeCounts { controls: count_kinds(&controls), resources: count_kinds(&resources) },
        controls,
        resources,
    }
}

/// `posture diff`'s result: two stored runs and what changed between them.
#[derive(Debug, Clone, Serialize)]
pub struct RunDiff {
    pub from: StoredRun,
    pub to: StoredRun,
    pub counts: ChangeCounts,
    pub controls: Vec<Change>,
    pub resources: Vec<Change>,
}

impl RunDiff {
    pub fn new(from: StoredRun, before: &Snapshot, to: StoredRun, after: &Snapshot) -> Self {
        let (controls, resources) = compare(before, after);
        let counts = ChangeCounts { controls: count_kinds(&controls), resources: count_kinds(&resources) };
        Self { from, to, counts, controls, resources }
    }

    /// The human-readable form.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let run_line = |label: &str, run: &StoredRun| {
            format!(
                "{label} {}  {}  pass rate {}  exit {}\n",
                run.id,
                run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                percent(run.pass_rate),
                run.exit_code
            )
        };
        out.push_str(&run_line("from", &self.from));
        out.push_str(&run_line("to  ", &self.to));
        let _ = writeln!(
            out,
            "benchmarks: {} · targets: {}",
            shown(&self.to.benchmarks_with_profiles()),
            shown(&self.to.targets)
        );
        if !self.from.scope().same_benchmarks_and_targets(&self.to.scope()) {
            let _ = writeln!(
                out,
                "note: the runs audited different things (from: {} on {})",
                shown(&self.from.benchmarks_with_profiles()),
                shown(&self.from.targets)
            );
        } else if self.from.profiles != self.to.profiles {
            let profiles = |run: &StoredRun| match run.profiles.as_slice() {
                [] => "whole benchmarks".to_owned(),
                profiles => shown(profiles),
            };
            let _ = writeln!(
                out,
                "note: the runs used different profiles (from: {}; to: {}): a control in only one of them is listed \
                 as added or removed, not because the target changed",
                profiles(&self.from),
                profiles(&self.to)
            );
        }
        for (title, changes, counts) in [
            ("Controls", &self.controls, &self.counts.controls),
            ("Resources", &self.resources, &self.counts.resources),
        ] {
            let _ = writeln!(out, "\n{title}: {}", counts_line(counts));
            for change in changes {
                let _ = writeln!(out, "  {}", change_line(change));
            }
        }
        out
    }
}

pub fn counts_line(counts: &ChangeKindCounts) -> String {
    format!(
        "{} newly failing, {} fixed, {} newly erroring, {} other changes, {} added, {} removed",
        counts.newly_failing, counts.fixed, counts.newly_erroring, counts.changed, counts.added, counts.removed
    )
}

pub fn kind_label(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::NewlyFailing => "newly failing",
        ChangeKind::NewlyErroring => "newly erroring",
        ChangeKind::Fixed => "fixed",
        ChangeKind::Changed => "changed",
    }
}

fn change_line(change: &Change) -> String {
    let status = |s: Option<Status>| s.map_or("-", Status::as_str);
    let mut line =
        format!("{:<15} {}:{}", kind_label(change.kind), terminal(&change.benchmark), terminal(&change.control));
    if let Some(target) = &change.target {
        let _ = write!(line, "  [{}]", terminal(target));
    }
    if let Some(resource) = &change.resource {
        let _ = write!(line, "  {}", terminal(resource));
    }
    let _ = write!(line, "  {} -> {}", status(change.before), status(change.after));
    line
}

/// Names (benchmarks, targets) for a terminal: joined by commas, control
/// characters escaped (a target name is whatever a fact bundle said).
pub fn shown(names: &[String]) -> String {
    terminal(&names.join(", ")).into_owned()
}

pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "n/a".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(control: &str, target: &str) -> (String, String, String) {
        ("bench".to_owned(), control.to_owned(), target.to_owned())
    }

    #[test]
    fn every_kind_of_change_is_named() {
        use Status::*;
        assert_eq!(classify(Some(Pass), Some(Fail)), Some(ChangeKind::NewlyFailing));
        assert_eq!(classify(Some(Error), Some(Fail)), Some(ChangeKind::NewlyFailing));
        assert_eq!(classify(Some(Fail), Some(Pass)), Some(ChangeKind::Fixed));
        assert_eq!(classify(Some(Fail), Some(NotApplicable)), Some(ChangeKind::Fixed));
        assert_eq!(classify(Some(Pass), Some(Error)), Some(ChangeKind::NewlyErroring));
        assert_eq!(classify(Some(Error), Some(Pass)), Some(ChangeKind::Changed));
        assert_eq!(classify(Some(Fail), Some(Waived)), Some(ChangeKind::Changed));
        assert_eq!(classify(None, Some(Pass)), Some(ChangeKind::Added));
        assert_eq!(classify(Some(Fail), None), Some(ChangeKind::Removed));
        assert_eq!(classify(Some(Fail), Some(Fail)), None);
    }

    #[test]
    fn history_compare_walks_both_runs() {
        let mut before = Snapshot::default();
        let mut after = Snapshot::default();
        before.controls.insert(key("1.1", "host"), Status::Pass);
        after.controls.insert(key("1.1", "host"), Status::Fail);
        before.controls.insert(key("1.2", "host"), Status::Fail);
        after.controls.insert(key("1.2", "host"), Status::Pass);
        before.controls.insert(key("1.3", "host"), Status::Pass);
        after.controls.insert(key("1.4", ""), Status::Manual);
        after.controls.insert(key("1.5", "host"), Status::Pass);
        before.controls.insert(key("1.5", "host"), Status::Pass);
        let (controls, resources) = compare(&before, &after);
        assert!(resources.is_empty());
        let kinds: Vec<(ChangeKind, &str, Option<&str>)> =
            controls.iter().map(|c| (c.kind, c.control.as_str(), c.target.as_deref())).collect();
        assert_eq!(
            kinds,
            [
                (ChangeKind::NewlyFailing, "1.1", Some("host")),
                (ChangeKind::Fixed, "1.2", Some("host")),
                (ChangeKind::Added, "1.4", None),
                (ChangeKind::Removed, "1.3", Some("host")),
            ]
        );
        let counts = count_kinds(&controls);
        assert_eq!((counts.added, counts.removed, counts.newly_failing, counts.fixed), (1, 1, 1, 1));
    }
}
