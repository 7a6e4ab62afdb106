//! `host.sudoers`: the logical lines of /etc/sudoers and the files it includes.

use serde_json::{json, Value};

use super::probe::{Collected, Probe, Unavailable};
use super::text::{self, logical_lines};

const SUDOERS: &str = "/etc/sudoers";
/// Deep enough for any real configuration; stops include cycles.
const MAX_INCLUDE_DEPTH: usize = 16;

/// A directive that pulls in more sudoers files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Include {
    File(String),
    Dir(String),
}

/// One non-comment logical line of a sudoers file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SudoersLine {
    pub line: usize,
    pub text: String,
    pub include: Option<Include>,
}

pub(super) fn collect(probe: &mut Probe<'_>) -> Collected {
    let Some(content) = probe.read_text(SUDOERS)? else {
        return Ok(json!({ "installed": false, "lines": [] }));
    };
    let mut lines = Vec::new();
    read_lines(probe, SUDOERS, &content, &mut lines, 0)?;
    Ok(json!({ "installed": true, "lines": lines }))
}

/// Append the lines of `path` (already read as `content`) to `out`, each
/// included file's lines right after the directive that includes it, as sudo
/// reads them.
fn read_lines(
    probe: &mut Probe<'_>,
    path: &str,
    content: &str,
    out: &mut Vec<Value>,
    depth: usize,
) -> Result<(), Unavailable> {
    for entry in parse_sudoers(content) {
        out.push(json!({ "file": path, "line": entry.line, "text": entry.text }));
        let Some(include) = entry.include else { continue };
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(Unavailable::new(format!(
                "{path}:{}: includes nested deeper than {MAX_INCLUDE_DEPTH} levels",
                entry.line
            )));
        }
        let included_files = match include {
            Include::File(target) => vec![resolve(path, &target)],
            Include::Dir(target) => {
                let dir = resolve(path, &target);
                let names = probe.list_dir(&dir)?.unwrap_or_default();
                names
                    .iter()
                    .filter(|name| is_included_dir_entry(name))
                    .map(|name| text::join_path(&dir, name))
                    .collect()
            }
        };
        for included in included_files {
            if let Some(included_content) = probe.read_text(&included)? {
                read_lines(probe, &included, &included_content, out, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// sudo skips files in an included directory whose names end in `~` or
/// contain a `.` (editor backups, package manager leftovers).
fn is_included_dir_entry(name: &str) -> bool {
    !name.is_empty() && !name.ends_with('~') && !name.contains('.')
}

/// A relative include path is relative to the including file's directory;
/// `..` is resolved so the evidence names the file plainly.
fn resolve(including_file: &str, target: &str) -> String {
    if target.starts_with('/') {
        text::normalize_path(target)
    } else {
        text::normalize_path(&text::join_path(text::parent_dir(including_file), target))
    }
}

/// The non-comment logical lines of one sudoers file. `#` starts a comment
/// unless it begins `#include`/`#includedir` or a numeric user id (`#1000`).
pub(super) fn parse_sudoers(content: &str) -> Vec<SudoersLine> {
    logical_lines(content)
        .into_iter()
        .filter_map(|logical| {
            let text = logical.text.trim();
            if text.is_empty() || is_comment(text) {
                return None;
            }
            Some(SudoersLine { line: logical.number, text: text.to_string(), include: include_directive(text) })
        })
        .collect()
}

fn is_comment(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('#') else { return false };
    let is_uid = rest.strip_prefix('-').unwrap_or(rest).starts_with(|c: char| c.is_ascii_digit());
    !(is_uid || include_directive(line).is_some())
}

fn include_directive(line: &str) -> Option<Include> {
    let mut words = line.splitn(2, char::is_whitespace);
    let directive = words.next()?;
    let target = words.next()?.trim();
    let target = target.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(target);
    if target.is_empty() {
        return None;
    }
    match directive {
        "@include" | "#include" => Some(Include::File(target.to_string())),
        "@includedir" | "#includedir" => Some(Include::Dir(target.to_string())),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    const SUDOERS_TEXT: &str = "#\n\
# This file MUST be edited with the 'visudo' command as root.\n\
Defaults\tenv_reset\n\
Defaults\tuse_pty\n\
\n\
Cmnd_Alias SHUTDOWN = /sbin/halt, \\\n\
                      /sbin/reboot\n\
root\tALL=(ALL:ALL) ALL\n\
#1000 ALL=(ALL) ALL\n\
%sudo\tALL=(ALL:ALL) ALL\n\
@includedir /etc/sudoers.d\n";

    #[test]
    fn comments_dropped_continuations_joined_directives_kept() {
        let lines = parse_sudoers(SUDOERS_TEXT);
        let got: Vec<(usize, &str)> = lines.iter().map(|l| (l.line, l.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (3, "Defaults\tenv_reset"),
                (4, "Defaults\tuse_pty"),
                (6, "Cmnd_Alias SHUTDOWN = /sbin/halt, /sbin/reboot"),
                (8, "root\tALL=(ALL:ALL) ALL"),
                (9, "#1000 ALL=(ALL) ALL"),
                (10, "%sudo\tALL=(ALL:ALL) ALL"),
                (11, "@includedir /etc/sudoers.d"),
            ]
        );
        assert_eq!(lines[6].include, Some(Include::Dir("/etc/sudoers.d".into())));
    }

    #[test]
    fn include_directives_in_both_spellings() {
        assert_eq!(include_directive("#includedir /etc/sudoers.d"), Some(Include::Dir("/etc/sudoers.d".into())));
        assert_eq!(include_directive("@include \"extra file\""), Some(Include::File("extra file".into())));
        assert_eq!(include_directive("#include"), None);
        assert_eq!(include_directive("# include /etc/x"), None);
        assert!(is_comment("# include /etc/x"));
        assert!(!is_comment("#includedir /etc/sudoers.d"));
    }

    #[test]
    fn included_files_follow_their_directive() {
        let transport = FakeTransport::new()
            .file(SUDOERS, "Defaults use_pty\n#includedir /etc/sudoers.d\nDefaults logfile=/var/log/sudo.log\n")
            .file("/etc/sudoers.d/admins", "%admin ALL=(ALL) NOPASSWD: ALL\n@include ../sudoers.local\n")
            .file("/etc/sudoers.d/README", "# comment only\n")
            .file("/etc/sudoers.d/old~", "ALL ALL=(ALL) NOPASSWD: ALL\n")
            .file("/etc/sudoers.d/pkg.dpkg-old", "ALL ALL=(ALL) NOPASSWD: ALL\n")
            .file("/etc/sudoers.local", "alice ALL=(ALL) ALL\n");
        let value = collect(&mut Probe::new(&transport)).unwrap();
        assert_eq!(
            value,
            json!({ "installed": true, "lines": [
                { "file": "/etc/sudoers", "line": 1, "text": "Defaults use_pty" },
                { "file": "/etc/sudoers", "line": 2, "text": "#includedir /etc/sudoers.d" },
                { "file": "/etc/sudoers.d/admins", "line": 1, "text": "%admin ALL=(ALL) NOPASSWD: ALL" },
                { "file": "/etc/sudoers.d/admins", "line": 2, "text": "@include ../sudoers.local" },
                { "file": "/etc/sudoers.local", "line": 1, "text": "alice ALL=(ALL) ALL" },
                { "file": "/etc/sudoers", "line": 3, "text": "Defaults logfile=/var/log/sudo.log" }
            ] })
        );
    }

    #[test]
    fn missing_sudoers_is_not_installed_and_unreadable_is_unavailable() {
        let absent = FakeTransport::new();
        assert_eq!(collect(&mut Probe::new(&absent)).unwrap(), json!({ "installed": false, "lines": [] }));
        let denied = FakeTransport::new().denied(SUDOERS);
        assert_eq!(collect(&mut Probe::new(&denied)).unwrap_err().into_reason(), "/etc/sudoers: permission denied");
        let denied_include =
            FakeTransport::new().file(SUDOERS, "@includedir /etc/sudoers.d\n").denied("/etc/sudoers.d");
        assert_eq!(
            collect(&mut Probe::new(&denied_include)).unwrap_err().into_reason(),
            "/etc/sudoers.d: permission denied"
        );
    }

    #[test]
    fn include_cycles_stop() {
        let transport = FakeTransport::new().file(SUDOERS, "@include /etc/sudoers\n");
        let reason = collect(&mut Probe::new(&transport)).unwrap_err().into_reason();
        assert!(reason.contains("nested deeper"), "{reason}");
    }
}
