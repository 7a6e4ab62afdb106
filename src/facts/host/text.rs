//! Text helpers shared by the host fact parsers: decoding, whitespace,
//! continuation lines, and the drop-in file order of systemd and kmod. Pure
//! functions of text: it imports no other host module (`probe.rs`, which
//! reads the files, builds on it).

use std::collections::BTreeMap;

/// Bytes from the host as text. Configuration files are expected to be UTF-8;
/// a stray invalid byte must not cost the whole fact, so it is replaced.
pub(super) fn decode(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs of whitespace collapsed to one space, ends trimmed.
pub(super) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters of `text`.
pub(super) fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// One line after joining backslash continuations, numbered by its first
/// physical line (1-based) so evidence points where an editor would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LogicalLine {
    pub number: usize,
    pub text: String,
}

/// The lines of `text` with `\`-newline continuations joined by a space.
pub(super) fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut lines = Vec::new();
    let mut pending: Option<LogicalLine> = None;
    for (index, physical) in text.lines().enumerate() {
        let trimmed = physical.trim_end();
        let (piece, continues) = match trimmed.strip_suffix('\\') {
            Some(head) => (head.trim_end(), true),
            None => (trimmed, false),
        };
        let line = match pending.take() {
            Some(mut open) => {
                open.text.push(' ');
                open.text.push_str(piece.trim_start());
                open
            }
            None => LogicalLine { number: index + 1, text: piece.to_string() },
        };
        if continues {
            pending = Some(line);
        } else {
            lines.push(line);
        }
    }
    lines.extend(pending);
    lines
}

/// The files of a drop-in directory set in the order systemd and kmod apply
/// them: every name ending in `suffix` across `listings`, sorted by name; a
/// name in an earlier directory masks the same name in later ones. Hidden
/// files are ignored, as both do.
pub(super) fn order_drop_ins(listings: &[(&str, Vec<String>)], suffix: &str) -> Vec<String> {
    let mut by_name: BTreeMap<&str, String> = BTreeMap::new();
    for (dir, names) in listings {
        for name in names {
            if name.starts_with('.') || !name.ends_with(suffix) || name.len() == suffix.len() {
                continue;
            }
            by_name.entry(name.as_str()).or_insert_with(|| join_path(dir, name));
        }
    }
    by_name.into_values().collect()
}

/// `dir/name` without a doubled slash.
pub(super) fn join_path(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// `path` with `.`, `..` and repeated slashes resolved lexically, so
/// `/etc/ssh/../shadow` is recognised as `/etc/shadow`.
pub(super) fn normalize_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The directory part of an absolute path (`/etc` for `/etc/sudoers`).
pub(super) fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(index) => &path[..index],
    }
}

/// Split a `name value` or `name = value` setting as libpwquality, faillock
/// and auditd read it: the name ends at whitespace or `=`, one optional `=`
/// follows, the rest (trimmed) is the value. `None` for a line with no name.
pub(super) fn split_setting(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    let name_end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let (name, rest) = line.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start();
    let value = rest.strip_prefix('=').unwrap_or(rest).trim();
    Some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_join_and_keep_the_first_line_number() {
        let lines = logical_lines("a\nb \\\n   c\\\nd\n\ne \\");
        let got: Vec<(usize, &str)> = lines.iter().map(|line| (line.number, line.text.as_str())).collect();
        assert_eq!(got, [(1, "a"), (2, "b c d"), (5, ""), (6, "e")]);
    }

    #[test]
    fn drop_ins_sort_by_name_and_earlier_directories_mask_later_ones() {
        let listings = [
            ("/etc/sysctl.d", vec!["60-net.conf".to_string(), "README".to_string(), ".hidden.conf".to_string()]),
            ("/usr/lib/sysctl.d", vec!["60-net.conf".to_string(), "10-base.conf".to_string(), ".conf".to_string()]),
        ];
        assert_eq!(order_drop_ins(&listings, ".conf"), ["/usr/lib/sysctl.d/10-base.conf", "/etc/sysctl.d/60-net.conf"]);
    }

    #[test]
    fn settings_split_on_space_or_equals() {
        assert_eq!(split_setting("minlen = 14"), Some(("minlen", "14")));
        assert_eq!(split_setting("minlen=14"), Some(("minlen", "14")));
        assert_eq!(split_setting("minlen 14"), Some(("minlen", "14")));
        assert_eq!(split_setting("  enforce_for_root  "), Some(("enforce_for_root", "")));
        assert_eq!(split_setting("= 3"), None);
        assert_eq!(split_setting(""), None);
    }

    #[test]
    fn paths_join_and_split() {
        assert_eq!(join_path("/etc", "a"), "/etc/a");
        assert_eq!(join_path("/", "etc"), "/etc");
        assert_eq!(parent_dir("/etc/sudoers"), "/etc");
        assert_eq!(parent_dir("/sudoers"), "/");
        assert_eq!(normalize_path("/etc/sudoers.d/../sudoers.local"), "/etc/sudoers.local");
        assert_eq!(normalize_path("//etc/./ssh//"), "/etc/ssh");
        assert_eq!(normalize_path("/../.."), "/");
    }
}
