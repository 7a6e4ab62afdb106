//! The CSV report (`findings.csv`): one row per finding, for spreadsheets
//! and scripts; RFC 4180 (CRLF line ends, fields quoted where needed).

use super::format::{Format, Render};
use super::model::Report;
use super::ReportError;

pub const FORMAT: Format = Format {
    name: "csv",
    file: "findings.csv",
    description: "one row per finding (and per control without findings), RFC 4180, for spreadsheets and scripts",
    on_by_default: false,
    render: Render::Code(to_csv),
};

/// The header row, in column order.
pub const COLUMNS: [&str; 8] = ["benchmark", "control", "target", "resource", "status", "severity", "message", "check"];

/// One row per finding, in report order; a control without findings (manual,
/// not yet automated, nothing evaluated) gets one row with its status and
/// reason, so that every selected control is in the file.
pub fn to_csv(report: &Report) -> Result<String, ReportError> {
    let mut out = String::new();
    push_row(&mut out, COLUMNS);
    for benchmark in &report.benchmarks {
        for control in benchmark.sections.iter().flat_map(|s| &s.controls) {
            for finding in &control.findings {
                push_row(
                    &mut out,
                    [
                        &benchmark.id,
                        &control.id,
                        &finding.target,
                        &finding.resource,
                        finding.status.as_str(),
                        finding.severity.as_str(),
                        &finding.message,
                        &finding.check,
                    ],
                );
            }
            if control.findings.is_empty() {
                let severity = control.severity.map(|s| s.as_str()).unwrap_or_default();
                let reason = control.reason.as_deref().unwrap_or_default();
                let targets: Vec<&str> = control.targets.keys().map(String::as_str).collect();
                for target in if targets.is_empty() { vec![""] } else { targets } {
                    let status = control.targets.get(target).unwrap_or(&control.status).as_str();
                    push_row(&mut out, [&benchmark.id, &control.id, target, "", status, severity, reason, ""]);
                }
            }
        }
    }
    Ok(out)
}

fn push_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (index, field) in fields.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_field(out, field);
    }
    out.push_str("\r\n");
}

/// One field: quoted when it holds a comma, a quote or a line break (quotes
/// doubled), as RFC 4180 says. A field a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return: a resource
/// name is whatever the audited system calls it) is quoted and starts with
/// `'`, so that opening the file runs nothing.
fn push_field(out: &mut String, field: &str) {
    let formula = field.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if !formula && !field.contains([',', '"', '\r', '\n']) {
        out.push_str(field);
        return;
    }
    out.push('"');
    if formula {
        out.push('\'');
    }
    out.push_str(&field.replace('"', "\"\""));
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str) -> String {
        let mut out = String::new();
        push_field(&mut out, text);
        out
    }

    #[test]
    fn fields_are_quoted_only_where_rfc_4180_needs_it() {
        assert_eq!(field("plain text"), "plain text");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rlf"), "\"cr\rlf\"");
    }

    #[test]
    fn a_field_a_spreadsheet_would_run_is_defused() {
        assert_eq!(field("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(field("+1"), "\"'+1\"");
        assert_eq!(field("-x"), "\"'-x\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(field("a=b"), "a=b");
    }

    #[test]
    fn rows_end_with_crlf() {
        let mut out = String::new();
        push_row(&mut out, ["a", "b,c"]);
        assert_eq!(out, "a,\"b,c\"\r\n");
    }
}
