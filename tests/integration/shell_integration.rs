//! `posture completions` and `posture manpage` through the real binary: each
//! script is one its shell parses (`bash -n`, `zsh -n`), the man page is roff
//! groff renders without a warning, and both know `audit --benchmark`.

use std::path::Path;
use std::process::Command;

use crate::support::{posture, stderr, stdout};

/// Whether `tool` runs here; in CI a missing one fails the test, since
/// scripts/test.sh installs it (zsh, groff-base).
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "this test needs {tool}; scripts/test.sh installs it");
        eprintln!("skipping: {tool} is not installed (scripts/test.sh installs it)");
    }
    found
}

/// What `posture args` prints, after checking that it exits 0 and says nothing on stderr.
fn generated(dir: &Path, args: &[&str]) -> String {
    let out = posture(dir, args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Checks `script` with `shell -n` (parse, run nothing).
fn assert_parses(shell: &str, script: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join(format!("posture.{shell}"));
    std::fs::write(&path, script).expect("write the script");
    let check = Command::new(shell).arg("-n").arg(&path).output().expect("the shell runs");
    assert!(check.status.success(), "{shell} -n refuses the script: {}", String::from_utf8_lossy(&check.stderr));
    assert!(check.stderr.is_empty(), "{shell} -n: {}", String::from_utf8_lossy(&check.stderr));
}

#[test]
fn the_bash_completions_are_bash_and_complete_audit_and_its_benchmark_option() {
    let dir = tempfile::tempdir().expect("tmp");
    let script = generated(dir.path(), &["completions", "bash"]);
    assert!(script.contains("audit") && script.contains("--benchmark"), "{script}");
    assert!(script.contains("complete -F"), "the script registers a completion function: {script}");
    if have("bash") {
        assert_parses("bash", &script);
    }
}

#[test]
fn the_zsh_completions_are_zsh_and_complete_audit_and_its_benchmark_option() {
    let dir = tempfile::tempdir().expect("tmp");
    let script = generated(dir.path(), &["completions", "zsh"]);
    assert!(script.starts_with("#compdef posture"), "{script}");
    assert!(script.contains("audit") && script.contains("--benchmark"), "{script}");
    if have("zsh") {
        assert_parses("zsh", &script);
    }
}

#[test]
fn the_fish_completions_name_audit_and_its_benchmark_option() {
    let dir = tempfile::tempdir().expect("tmp");
    let script = generated(dir.path(), &["completions", "fish"]);
    assert!(script.contains("__fish_seen_subcommand_from audit") && script.contains("-l benchmark"), "{script}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = posture(dir.path(), &["completions", "powershell"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(stderr(&out).contains("possible values: bash, zsh, fish"), "{}", stderr(&out));
}

#[test]
fn the_help_lists_the_two_commands() {
    let dir = tempfile::tempdir().expect("tmp");
    let help = generated(dir.path(), &["--help"]);
    for command in ["completions", "manpage"] {
        assert!(help.lines().any(|line| line.trim_start().starts_with(command)), "{command} missing from\n{help}");
    }
}

#[test]
fn the_man_page_renders_without_warnings_and_documents_audit_benchmark() {
    let dir = tempfile::tempdir().expect("tmp");
    let page = generated(dir.path(), &["manpage"]);
    assert!(page.contains(".TH posture 1"), "{page}");
    if !have("groff") {
        return;
    }
    let path = dir.path().join("posture.1");
    std::fs::write(&path, &page).expect("write the page");
    // -ww: every warning; -P-cbou: plain text, no bold or underline sequences.
    let render =
        Command::new("groff").args(["-man", "-Tutf8", "-ww", "-P-cbou"]).arg(&path).output().expect("groff runs");
    let warnings = String::from_utf8_lossy(&render.stderr);
    assert!(render.status.success() && warnings.is_empty(), "groff: {warnings}");
    let text = String::from_utf8_lossy(&render.stdout);
    let audit = text.find("\n   posture audit\n").unwrap_or_else(|| panic!("no `posture audit` subsection in\n{text}"));
    let next = text[audit + 1..].find("\n   posture ").map_or(text.len(), |at| audit + 1 + at);
    assert!(
        text[audit..next].contains("--benchmark <ID>"),
        "audit's --benchmark is not under it:\n{}",
        &text[audit..next]
    );
    for heading in ["NAME", "SYNOPSIS", "COMMANDS"] {
        assert!(text.lines().any(|line| line == heading), "no {heading} section in\n{text}");
    }
}
