//! What an audit prints in the terminal once its reports are written: the
//! profile each benchmark's controls were selected by, the failing controls, most severe first (id, title, severity, how many
//! resources fail, the first one), the controls in error grouped by what to
//! do about them, the hosts judged although their OS is not the
//! benchmark's, and the report files. Read from the report model only;
//! colour only when asked (a terminal without `NO_COLOR`). May import the
//! report model and `escape`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{ControlReport, OsMatch, OsOutcome, Report, Severity, Status, Target};
use crate::escape;

/// Failing controls listed before "and N more".
const MAX_FAILING: usize = 25;
/// Characters of a title or resource shown in the table.
const MAX_TITLE: usize = 60;
const MAX_RESOURCE: usize = 50;

/// The text printed after an audit; `files` are the report paths written.
pub fn render(report: &Report, files: &[String], colour: bool) -> String {
    let paint = Paint { colour };
    let mut out = String::new();
    for benchmark in &report.benchmarks {
        let Some(profile) = &benchmark.profile else { continue };
        let total = benchmark.summary.controls.total;
        let default_role = match (&profile.role, profile.role_by_default) {
            (Some(role), true) => format!("; {} is the default host role: --host-role chooses another", clean(role)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{} {} of {} ({total} {}{default_role})",
            paint.bold("Profile:"),
            clean(&profile.name),
            clean(&benchmark.id),
            plural(total, "control", "controls")
        );
    }
    let mut failing: Vec<&ControlReport> = Vec::new();
    let mut in_error: Vec<&ControlReport> = Vec::new();
    for control in report.benchmarks.iter().flat_map(|b| &b.sections).flat_map(|s| &s.controls) {
        match control.status {
            Status::Fail => failing.push(control),
            Status::Error => in_error.push(control),
            _ => {}
        }
    }
    failing.sort_by_key(|control| std::cmp::Reverse(severity_rank(control.severity)));
    // One benchmark: its control ids alone; several: `benchmark:id`.
    let id_of =
        |control: &ControlReport| clean(if report.benchmarks.len() == 1 { &control.id } else { &control.full_id });
    if !failing.is_empty() {
        let shown: Vec<&ControlReport> = failing.iter().take(MAX_FAILING).copied().collect();
        let id_width = shown.iter().map(|c| id_of(c).chars().count()).max().unwrap_or(0).clamp(7, 48);
        let _ = writeln!(out, "{}", paint.bold(&format!("Failing controls ({}), most severe first:", failing.len())));
        let _ = writeln!(
            out,
            "  {:<9} {:<id_width$} {:>7}  {:<MAX_TITLE$}  FIRST FAILING RESOURCE",
            "SEVERITY", "CONTROL", "FAILING", "TITLE"
        );
        for control in shown {
            let failures: Vec<_> = control.findings.iter().filter(|f| f.status == Status::Fail).collect();
            let severity = control.severity.map_or("-", Severity::as_str);
            let first = failures.first().map_or(String::new(), |f| shorten(&clean(&f.resource), MAX_RESOURCE));
            let _ = writeln!(
                out,
                "  {} {:<id_width$} {:>7}  {:<MAX_TITLE$}  {}",
                paint.severity(control.severity, &format!("{severity:<9}")),
                shorten(&id_of(control), id_width),
                failures.len(),
                shorten(&clean(&control.title), MAX_TITLE),
                first
            );
        }
        if failing.len() > MAX_FAILING {
            let _ = writeln!(out, "  ... and {} more (see the reports)", failing.len() - MAX_FAILING);
        }
    }
    if !in_error.is_empty() {
        let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for control in &in_error {
            by_reason.entry(clean(&what_to_do(control, report))).or_default().push(id_of(control));
        }
        let mut groups: Vec<(String, Vec<String>)> = by_reason.into_iter().collect();
        groups.sort_by_key(|(_, controls)| std::cmp::Reverse(controls.len()));
        let _ = writeln!(out, "{}", paint.bold(&format!("Controls in error ({}), not judged:", in_error.len())));
        for (reason, controls) in groups {
            let shown: Vec<&str> = controls.iter().take(4).map(String::as_str).collect();
            let more = if controls.len() > shown.len() { ", ..." } else { "" };
            let _ = writeln!(
                out,
                "  {} {}: {reason} ({}{more})",
                controls.len(),
                plural(controls.len(), "control", "controls"),
                shown.join(", ")
            );
        }
    }
    let overridden: Vec<(&str, &OsMatch)> = report
        .targets
        .iter()
        .flat_map(|t| t.os_match.iter().map(move |m| (t.name.as_str(), m)))
        .filter(|(_, m)| m.judged && m.outcome != OsOutcome::Match)
        .collect();
    if !overridden.is_empty() {
        let _ =
            writeln!(out, "{}", paint.bold("Judged although the OS is not the benchmark's (--ignore-os-mismatch):"));
        for (target, os) in overridden {
            let reason = os.reason.as_deref().unwrap_or("the OS did not match");
            let _ = writeln!(out, "  {}: {} ({})", clean(target), clean(reason), clean(&os.benchmark));
        }
    }
    if !files.is_empty() {
        let _ = writeln!(out, "{}", paint.bold("Reports:"));
        for file in files {
            let _ = writeln!(out, "  {}", clean(file));
        }
    }
    out
}

/// Text from content, targets or facts, made safe to print (see `escape`).
fn clean(text: &str) -> String {
    escape::terminal(text).into_owned()
}

/// What a user can do about a control in error, from the reason of its
/// first error finding: the reasons that share a remedy read as one group.
fn what_to_do(control: &ControlReport, report: &Report) -> String {
    let reason = control
        .findings
        .iter()
        .find(|f| f.status == Status::Error)
        .map(|f| f.message.as_str())
        .or(control.reason.as_deref())
        .unwrap_or("no reason recorded");
    // A benchmark that does not judge a host: the report says which hosts, and why.
    let refused: Vec<&Target> = report
        .targets
        .iter()
        .filter(|t| t.os_match.iter().any(|m| !m.judged && m.reason.as_deref() == Some(reason)))
        .collect();
    if let Some(first) = refused.first() {
        let hosts: Vec<&str> = refused.iter().map(|t| t.name.as_str()).collect();
        let hosts = hosts.join(", ");
        let unknown = first.os_match.iter().any(|m| m.outcome == OsOutcome::Unknown);
        if unknown && first.connection.as_ref().is_some_and(|c| c.error.is_some()) {
            // Unreachable: its reason is the connection's, and judging anyway would judge nothing.
            return format!("{hosts}: {reason}");
        }
        let remedy = if unknown {
            "record its OS (fact host.os, which a live audit reads)"
        } else {
            "audit it with a benchmark for its OS"
        };
        return format!("{hosts}: {reason}: {remedy}, or pass --ignore-os-mismatch to judge anyway");
    }
    if reason.contains("permission denied") {
        return "need root: run as root, or with --sudo over SSH".to_owned();
    }
    if let Some(rest) = reason.strip_prefix("not judged: this check judges ") {
        let provider = rest.split(' ').next().unwrap_or("other");
        return format!("need a `{provider}` target in the same audit");
    }
    if reason.contains("AccessDenied") || reason.contains("access denied") || reason.contains("UnauthorizedOperation") {
        return "the credentials were denied a read call: grant it (see docs/aws-facts.md)".to_owned();
    }
    shorten(reason, 120)
}

fn severity_rank(severity: Option<Severity>) -> usize {
    severity.and_then(|s| Severity::ALL.iter().position(|known| *known == s)).map_or(0, |index| index + 1)
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 {
        one
    } else {
        many
    }
}

/// `text` cut to `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// ANSI colour, or none.
struct Paint {
    colour: bool,
}

impl Paint {
    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }

    fn severity(&self, severity: Option<Severity>, text: &str) -> String {
        let code = match severity {
            Some(Severity::Critical) => "1;31",
            Some(Severity::High) => "31",
            Some(Severity::Medium) => "33",
            Some(Severity::Low) => "36",
            Some(Severity::Info) | None => "2",
        };
        self.wrap(code, text)
    }

    fn wrap(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_shortened_and_counts_read_right() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
        assert_eq!(plural(1, "control", "controls"), "control");
        assert_eq!(plural(2, "control", "controls"), "controls");
        assert!(severity_rank(Some(Severity::Critical)) > severity_rank(Some(Severity::High)));
        assert_eq!(severity_rank(None), 0);
    }
}
