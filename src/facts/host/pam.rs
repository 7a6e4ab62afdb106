//! PAM and its modules' configuration: `host.pam` (/etc/pam.d), `host.pwquality`,
//! `host.faillock`, `host.pwhistory` and `host.limits`.

use serde_json::{json, Map, Value};

use super::probe::{Collected, Probe};
use super::text::{self, split_setting};
use super::FileKind;
use crate::facts::redact::redact_setting;

const PAM_DIR: &str = "/etc/pam.d";
const PWQUALITY_CONF: &str = "/etc/security/pwquality.conf";
const PWQUALITY_DIR: &str = "/etc/security/pwquality.conf.d";
const FAILLOCK_CONF: &str = "/etc/security/faillock.conf";
const PWHISTORY_CONF: &str = "/etc/security/pwhistory.conf";
const LIMITS_CONF: &str = "/etc/security/limits.conf";
const LIMITS_DIR: &str = "/etc/security/limits.d";

/// Every service file of /etc/pam.d by name; no directory gives an empty map.
pub(super) fn collect_pam(probe: &mut Probe<'_>) -> Collected {
    let mut services = Map::new();
    for name in probe.list_dir(PAM_DIR)?.unwrap_or_default() {
        if name.starts_with('.') {
            continue;
        }
        let path = text::join_path(PAM_DIR, &name);
        // Subdirectories are not services; symlinks are read through.
        if matches!(probe.stat(&path)?, Some(stat) if stat.kind == FileKind::Dir) {
            continue;
        }
        if let Some(content) = probe.read_text(&path)? {
            services.insert(name, parse_pam_file(&content));
        }
    }
    Ok(Value::Object(services))
}

/// The rules of one PAM service file in order. As libpam reads it, `#`
/// starts a comment anywhere on a line, a trailing `\` continues the line,
/// and `[...]` groups words (controls and arguments) that contain spaces.
/// Lines with fewer than three words are skipped.
pub(super) fn parse_pam_file(content: &str) -> Value {
    let mut rules = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, physical) in content.lines().enumerate() {
        let without_comment = physical.split('#').next().unwrap_or_default().trim_end();
        let (piece, continues) = match without_comment.strip_suffix('\\') {
            Some(head) => (head, true),
            None => (without_comment, false),
        };
        let (number, mut line) = pending.take().unwrap_or((index + 1, String::new()));
        line.push(' ');
        line.push_str(piece);
        if continues {
            pending = Some((number, line));
        } else if let Some(rule) = pam_rule(&line, number) {
            rules.push(rule);
        }
    }
    if let Some((number, line)) = pending {
        rules.extend(pam_rule(&line, number));
    }
    Value::Array(rules)
}

fn pam_rule(line: &str, number: usize) -> Option<Value> {
    let words = pam_words(line);
    match words.as_slice() {
        [] => None,
        [include, module, ..] if include == "@include" => {
            Some(json!({ "type": "@include", "module": module, "line": number }))
        }
        [kind, control, module, args @ ..] => Some(json!({
            "type": kind, "control": control, "module": module, "args": args, "line": number,
        })),
        _ => None,
    }
}

/// Whitespace-separated words where a word starting with `[` runs to the
/// matching `]` (spaces included). Brackets inside an argument, as in
/// `[default=die]`, need no escaping; `\]` stands for a literal `]`.
fn pam_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else { break };
        let mut word = String::from(first);
        if first == '[' {
            let mut depth = 1;
            while let Some(c) = chars.next() {
                match c {
                    '\\' if chars.peek() == Some(&']') => {
                        word.push('\\');
                        word.extend(chars.next());
                        continue;
                    }
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ => {}
                }
                word.push(c);
                if depth == 0 {
                    break;
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
    words
}

/// libpwquality reads the drop-ins first and the main file last, so a setting
/// in pwquality.conf wins over the same setting in pwquality.conf.d.
pub(super) fn collect_pwquality(probe: &mut Probe<'_>) -> Collected {
    let mut paths = probe.drop_in_files(&[PWQUALITY_DIR], ".conf")?;
    paths.push(PWQUALITY_CONF.to_string());
    collect_settings_files(probe, &paths)
}

pub(super) fn collect_faillock(probe: &mut Probe<'_>) -> Collected {
    collect_settings_files(probe, &[FAILLOCK_CONF.to_string()])
}

pub(super) fn collect_pwhistory(probe: &mut Probe<'_>) -> Collected {
    collect_settings_files(probe, &[PWHISTORY_CONF.to_string()])
}

/// The settings of `paths` read in order (a later setting overrides); files
/// that do not exist contribute nothing, so none gives an empty map.
fn collect_settings_files(probe: &mut Probe<'_>, paths: &[String]) -> Collected {
    let mut settings = Map::new();
    for path in paths {
        if let Some(content) = probe.read_text(path)? {
            if let Value::Object(file_settings) = parse_settings(&content) {
                settings.extend(file_settings);
            }
        }
    }
    Ok(Value::Object(settings))
}

/// `name = value` or bare `flag` lines (pwquality.conf(5), faillock.conf(5),
/// pwhistory.conf(5)); `#` starts a comment anywhere. A flag has value `""`.
pub(super) fn parse_settings(content: &str) -> Value {
    let mut settings = Map::new();
    for line in content.lines() {
        let line = line.split('#').next().unwrap_or_default();
        if let Some((name, value)) = split_setting(line) {
            settings.insert(name.to_string(), Value::String(redact_setting(name, value).into_owned()));
        }
    }
    Value::Object(settings)
}

/// Every limit of limits.conf then limits.d/*.conf (sorted).
pub(super) fn collect_limits(probe: &mut Probe<'_>) -> Collected {
    let mut paths = vec![LIMITS_CONF.to_string()];
    paths.extend(probe.drop_in_files(&[LIMITS_DIR], ".conf")?);
    let mut limits = Vec::new();
    for path in paths {
        if let Some(content) = probe.read_text(&path)? {
            limits.extend(parse_limits(&content, &path));
        }
    }
    Ok(Value::Array(limits))
}

/// `domain type item value` lines of limits.conf(5); `#` starts a comment;
/// lines without four words are skipped.
pub(super) fn parse_limits(content: &str, path: &str) -> Vec<Value> {
    content
        .lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let line = line.split('#').next().unwrap_or_default();
            let words: Vec<&str> = line.split_whitespace().collect();
            let [domain, kind, item, value] = words.as_slice() else { return None };
            Some(json!({
                "domain": domain, "type": kind, "item": item, "value": value, "file": path, "line": index + 1,
            }))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    const COMMON_PASSWORD: &str = "#\n\
# /etc/pam.d/common-password\n\
password\trequisite\t\t\tpam_pwquality.so retry=3\n\
password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt # trailing\n\
password\trequisite\t\t\tpam_deny.so\n\
-session optional pam_systemd.so\n\
auth [success=done new_authtok_reqd=done default=die] pam_exec.so \\\n\
     quiet /usr/bin/check [arg with space]\n\
@include common-auth\n\
garbage only\n\
\n";

    #[test]
    fn pam_rules_keep_controls_as_written() {
        let rules = parse_pam_file(COMMON_PASSWORD);
        assert_eq!(
            rules,
            json!([
                { "type": "password", "control": "requisite", "module": "pam_pwquality.so", "args": ["retry=3"], "line": 3 },
                { "type": "password", "control": "[success=1 default=ignore]", "module": "pam_unix.so",
                  "args": ["obscure", "use_authtok", "try_first_pass", "yescrypt"], "line": 4 },
                { "type": "password", "control": "requisite", "module": "pam_deny.so", "args": [], "line": 5 },
                { "type": "-session", "control": "optional", "module": "pam_systemd.so", "args": [], "line": 6 },
                { "type": "auth", "control": "[success=done new_authtok_reqd=done default=die]", "module": "pam_exec.so",
                  "args": ["quiet", "/usr/bin/check", "[arg with space]"], "line": 7 },
                { "type": "@include", "module": "common-auth", "line": 9 }
            ])
        );
    }

    #[test]
    fn unbalanced_brackets_do_not_panic() {
        let rules = parse_pam_file("auth [success=1 pam_unix.so\n[\n]]]\n");
        assert_eq!(rules, json!([]));
    }

    #[test]
    fn settings_files_with_flags_and_comments() {
        let value =
            parse_settings("# comment\nminlen = 14\ndcredit=-1\n  enforce_for_root  \nucredit -1 # inline\n= 3\n");
        assert_eq!(value, json!({ "minlen": "14", "dcredit": "-1", "enforce_for_root": "", "ucredit": "-1" }));
    }

    #[test]
    fn pwquality_main_file_overrides_the_drop_ins() {
        let transport = FakeTransport::new()
            .file(PWQUALITY_CONF, "minlen = 8\nminclass = 3\n")
            .file("/etc/security/pwquality.conf.d/50-cis.conf", "minlen = 14\n")
            .file("/etc/security/pwquality.conf.d/10-early.conf", "minlen = 10\nretry = 3\n");
        let value = collect_pwquality(&mut Probe::new(&transport)).unwrap();
        assert_eq!(value, json!({ "minlen": "8", "retry": "3", "minclass": "3" }));
        let absent = FakeTransport::new();
        assert_eq!(collect_faillock(&mut Probe::new(&absent)).unwrap(), json!({}));
    }

    #[test]
    fn limits_with_file_and_line() {
        let limits = parse_limits(
            "# comment\n*               hard    core            0\n@staff - maxlogins 4 # x\nbad line\n",
            "/etc/security/limits.conf",
        );
        assert_eq!(
            Value::Array(limits),
            json!([
                { "domain": "*", "type": "hard", "item": "core", "value": "0", "file": "/etc/security/limits.conf", "line": 2 },
                { "domain": "@staff", "type": "-", "item": "maxlogins", "value": "4", "file": "/etc/security/limits.conf", "line": 3 }
            ])
        );
    }

    #[test]
    fn pam_directory_is_read_file_by_file() {
        let transport = FakeTransport::new()
            .file("/etc/pam.d/su", "auth required pam_wheel.so use_uid group=sugroup\n")
            .file("/etc/pam.d/sub/ignored", "auth required pam_deny.so\n")
            .denied("/etc/pam.d/locked");
        let value = collect_pam(&mut Probe::new(&transport)).unwrap();
        assert_eq!(value["su"][0]["module"], "pam_wheel.so");
        assert!(value.get("sub").is_none());
        let unreadable = FakeTransport::new().file("/etc/pam.d/su", "").denied("/etc/pam.d");
        let reason = collect_pam(&mut Probe::new(&unreadable)).unwrap_err().into_reason();
        assert_eq!(reason, "/etc/pam.d: permission denied");
    }
}
