//! Logging and audit configuration: `host.journald`, `host.rsyslog` and `host.auditd`.

use serde_json::{json, Map, Value};

use super::probe::{Collected, Probe};
use super::text::{self, split_setting};
use crate::facts::redact::redact_setting;

const JOURNALD_CONF: &str = "/etc/systemd/journald.conf";
/// journald.conf(5) drop-in directories, highest priority first.
const JOURNALD_DROP_IN_DIRS: &[&str] = &[
    "/etc/systemd/journald.conf.d",
    "/run/systemd/journald.conf.d",
    "/usr/local/lib/systemd/journald.conf.d",
    "/usr/lib/systemd/journald.conf.d",
];
const RSYSLOG_CONF: &str = "/etc/rsyslog.conf";
const RSYSLOG_DIR: &str = "/etc/rsyslog.d";
const AUDITD_CONF: &str = "/etc/audit/auditd.conf";

/// The `[Journal]` settings of journald.conf then its drop-ins (sorted by
/// name across directories), a later assignment overriding an earlier one.
pub(super) fn collect_journald(probe: &mut Probe<'_>) -> Collected {
    let mut paths = vec![JOURNALD_CONF.to_string()];
    paths.extend(probe.drop_in_files(JOURNALD_DROP_IN_DIRS, ".conf")?);
    let mut contents = Vec::new();
    for path in paths {
        contents.extend(probe.read_text(&path)?);
    }
    Ok(journald_value(&contents))
}

/// The `[Journal]` settings left after applying `contents` in order.
pub(super) fn journald_value(contents: &[String]) -> Value {
    let mut settings = Map::new();
    for content in contents {
        apply_unit_file_section(content, "Journal", &mut settings);
    }
    Value::Object(settings)
}

/// Apply the `Key=value` lines of `[section]` to `settings`. An empty
/// assignment (`Storage=`) resets the key to its default, so it is removed.
fn apply_unit_file_section(content: &str, section: &str, settings: &mut Map<String, Value>) {
    let mut in_section = false;
    for line in text::logical_lines(content) {
        let line = line.text.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            in_section = name == section;
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || key.contains(char::is_whitespace) {
            continue;
        }
        if value.is_empty() {
            settings.remove(key);
        } else {
            settings.insert(key.to_string(), Value::String(redact_setting(key, value).into_owned()));
        }
    }
}

/// rsyslog.conf and rsyslog.d/*.conf (sorted) line by line; no rsyslog.conf
/// means rsyslog is not installed and nothing reads rsyslog.d.
pub(super) fn collect_rsyslog(probe: &mut Probe<'_>) -> Collected {
    let Some(main) = probe.read_text(RSYSLOG_CONF)? else {
        return Ok(json!({ "installed": false, "lines": [] }));
    };
    let mut lines = config_lines(&main, RSYSLOG_CONF);
    for path in probe.drop_in_files(&[RSYSLOG_DIR], ".conf")? {
        if let Some(content) = probe.read_text(&path)? {
            lines.extend(config_lines(&content, &path));
        }
    }
    Ok(json!({ "installed": true, "lines": lines }))
}

/// Non-empty lines not starting with `#`, trimmed, with file and line.
pub(super) fn config_lines(content: &str, path: &str) -> Vec<Value> {
    content
        .lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let text = line.trim();
            (!text.is_empty() && !text.starts_with('#'))
                .then(|| json!({ "file": path, "line": index + 1, "text": text }))
        })
        .collect()
}

pub(super) fn collect_auditd(probe: &mut Probe<'_>) -> Collected {
    Ok(match probe.read_text(AUDITD_CONF)? {
        Some(content) => json!({ "installed": true, "config": parse_auditd_conf(&content) }),
        None => json!({ "installed": false, "config": {} }),
    })
}

/// `key = value` lines of auditd.conf(5). auditd matches keywords without
/// regard to case, so keys are lower-cased; values are kept as written.
pub(super) fn parse_auditd_conf(content: &str) -> Value {
    let mut settings = Map::new();
    for line in content.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = split_setting(line) {
            settings.insert(key.to_ascii_lowercase(), Value::String(redact_setting(key, value).into_owned()));
        }
    }
    Value::Object(settings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    #[test]
    fn journald_reads_only_the_journal_section() {
        let value = journald_value(&["#  This file is part of systemd.\n\
             [Journal]\n\
             #Storage=auto\n\
             Storage=persistent\n\
             Compress = yes\n\
             SystemMaxUse=\n\
             garbage\n\
             [Other]\n\
             Storage=volatile\n"
            .to_string()]);
        assert_eq!(value, json!({ "Storage": "persistent", "Compress": "yes" }));
    }

    #[test]
    fn journald_drop_ins_override_and_empty_resets() {
        let transport = FakeTransport::new()
            .file(JOURNALD_CONF, "[Journal]\nStorage=volatile\nCompress=no\nForwardToSyslog=yes\n")
            .file("/usr/lib/systemd/journald.conf.d/10-vendor.conf", "[Journal]\nCompress=yes\n")
            .file("/etc/systemd/journald.conf.d/60-cis.conf", "[Journal]\nStorage=persistent\nForwardToSyslog=\n");
        let value = collect_journald(&mut Probe::new(&transport)).unwrap();
        assert_eq!(value, json!({ "Storage": "persistent", "Compress": "yes" }));
    }

    #[test]
    fn rsyslog_lines_and_absence() {
        let transport = FakeTransport::new()
            .file(RSYSLOG_CONF, "# rsyslog.conf\nmodule(load=\"imuxsock\")\n\n$FileCreateMode 0640\n")
            .file("/etc/rsyslog.d/50-remote.conf", "*.* @@loghost.example.com:514\n");
        let value = collect_rsyslog(&mut Probe::new(&transport)).unwrap();
        assert_eq!(
            value,
            json!({ "installed": true, "lines": [
                { "file": "/etc/rsyslog.conf", "line": 2, "text": "module(load=\"imuxsock\")" },
                { "file": "/etc/rsyslog.conf", "line": 4, "text": "$FileCreateMode 0640" },
                { "file": "/etc/rsyslog.d/50-remote.conf", "line": 1, "text": "*.* @@loghost.example.com:514" }
            ] })
        );
        let absent = FakeTransport::new().file("/etc/rsyslog.d/50-remote.conf", "*.* @loghost\n");
        assert_eq!(collect_rsyslog(&mut Probe::new(&absent)).unwrap(), json!({ "installed": false, "lines": [] }));
    }

    #[test]
    fn auditd_keys_are_lower_case() {
        let value = parse_auditd_conf(
            "#\n# This file controls the configuration of the audit daemon\n\
             local_events = yes\n\
             MAX_LOG_FILE = 8\n\
             max_log_file_action = keep_logs\n\
             space_left_action=email\n\
             = broken\n",
        );
        assert_eq!(
            value,
            json!({ "local_events": "yes", "max_log_file": "8", "max_log_file_action": "keep_logs", "space_left_action": "email" })
        );
        let absent = FakeTransport::new();
        assert_eq!(collect_auditd(&mut Probe::new(&absent)).unwrap(), json!({ "installed": false, "config": {} }));
    }
}
