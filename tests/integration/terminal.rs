//! What an audit prints in the terminal, through the real binary: the table
//! of failing controls, the controls in error grouped by what to do, the
//! report paths; colour on a terminal only, none with NO_COLOR or piped;
//! `--quiet` leaves the warnings and the summary line on stderr.

use std::process::Command;

use crate::support::{self, posture, stderr, stdout};

fn sample_audit(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let bundle = support::sample_bundle();
    let mut args = vec!["audit", "--facts", bundle.to_str().expect("utf-8 path"), "--out", "r", "--no-history"];
    args.extend_from_slice(extra);
    posture(dir, &args)
}

#[test]
fn piped_output_is_a_plain_table_of_failing_controls_then_the_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = sample_audit(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}'), "no colour when piped:\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Failing controls (85), most severe first:", "{text}");
    assert!(lines[1]
        .split_whitespace()
        .eq(["SEVERITY", "CONTROL", "FAILING", "TITLE", "FIRST", "FAILING", "RESOURCE"]));
    // Most severe first: every high before the first medium.
    let severities: Vec<&str> = lines[2..]
        .iter()
        .take_while(|l| l.starts_with("  ") && !l.starts_with("  ..."))
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    let first_medium = severities.iter().position(|s| *s == "medium").expect("a medium control");
    assert!(severities[..first_medium].iter().all(|s| *s == "high" || *s == "critical"), "{severities:?}");
    assert!(severities[first_medium..].iter().all(|s| *s != "high" && *s != "critical"), "{severities:?}");
    let permit_root = lines.iter().find(|l| l.contains(" 5.1.20 ")).expect("5.1.20 fails");
    assert!(
        permit_root.contains("Ensure sshd PermitRootLogin is disabled") && permit_root.contains("sshd PermitRootLogin"),
        "{permit_root}"
    );
    assert!(text.contains("  ... and 60 more (see the reports)"), "{text}");
    let reports = text.split("Reports:\n").nth(1).expect("the report paths");
    assert_eq!(
        reports,
        "  r/junit.xml\n  r/report.html\n  r/report.json\n  r/summary.md\n  r/manifest.json (the evidence pack)\n"
    );
    // The summary line stays on stderr.
    assert!(stderr(&out).contains("310 controls: 94 pass, 85 fail"), "{}", stderr(&out));
    insta::assert_snapshot!("terminal_summary_of_the_sample_host", text);
}

#[test]
fn controls_in_error_are_grouped_by_what_to_do_and_quiet_keeps_why() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = sample_audit(dir.path(), &["--benchmark", "pci-dss-v4.0.1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    let errors = text.split("Controls in error (").nth(1).expect("controls in error");
    assert!(
        errors.starts_with("36), not judged:\n  36 controls: need a `aws` target in the same audit (1.2.5, "),
        "{text}"
    );

    let quiet = sample_audit(dir.path(), &["--benchmark", "pci-dss-v4.0.1", "--quiet"]);
    assert_eq!(quiet.status.code(), Some(2));
    assert_eq!(stdout(&quiet), "", "--quiet prints no table");
    let said = stderr(&quiet);
    assert!(said.contains("benchmark 'pci-dss-v4.0.1': no aws target is part of this audit"), "the warning:\n{said}");
    assert!(said.contains(" error, ") && said.ends_with("exit code 2\n"), "the summary line says why:\n{said}");
    assert!(!said.contains("evaluating"), "no progress with --quiet:\n{said}");
}

/// Runs the sample audit under a pseudo-terminal (`script`), stdout and
/// stderr both the terminal.
fn on_a_terminal(dir: &std::path::Path, no_color: bool) -> String {
    let bundle = support::sample_bundle();
    let command = format!(
        "{} audit --facts {} --out r --no-history --no-progress",
        env!("CARGO_BIN_EXE_posture"),
        bundle.display()
    );
    let mut script = Command::new("script");
    script.args(["-qec", &command, "/dev/null"]).current_dir(dir).env("POSTURE_NO_HISTORY", "1").env_remove("CI");
    if no_color {
        script.env("NO_COLOR", "1");
    } else {
        script.env_remove("NO_COLOR");
    }
    let out = script.output().expect("script (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colour_on_a_terminal_and_none_with_no_color() {
    let dir = tempfile::tempdir().expect("tmp");
    let coloured = on_a_terminal(dir.path(), false);
    assert!(coloured.contains("\u{1b}[1mFailing controls (85), most severe first:\u{1b}[0m"), "{coloured:?}");
    assert!(coloured.contains("\u{1b}[31mhigh     \u{1b}[0m"), "severities are coloured: {coloured:?}");
    let plain = on_a_terminal(dir.path(), true);
    assert!(plain.contains("Failing controls (85), most severe first:"), "{plain:?}");
    assert!(!plain.contains("\u{1b}["), "NO_COLOR: no escape sequence: {plain:?}");
}
