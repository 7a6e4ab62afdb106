//! `host.os`: the distribution (os-release), hostname, kernel release and architecture.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::probe::{command_line, Collected, Probe, Unavailable};

/// os-release(5): `/etc/os-release`, falling back to `/usr/lib/os-release`.
const OS_RELEASE_PATHS: &[&str] = &["/etc/os-release", "/usr/lib/os-release"];

pub(super) const UNAME_ARGS: &[&str] = &["-r", "-m"];

pub(super) fn collect(probe: &mut Probe<'_>) -> Collected {
    let mut os_release = None;
    for path in OS_RELEASE_PATHS {
        if let Some(text) = probe.read_text(path)? {
            os_release = Some(text);
            break;
        }
    }
    let os_release = os_release.unwrap_or_default();
    let hostname = probe.read_text("/proc/sys/kernel/hostname")?.unwrap_or_default();
    let uname = probe.run("uname", UNAME_ARGS)?;
    if !uname.succeeded() {
        return Err(Unavailable::command_failed(&command_line("uname", UNAME_ARGS), &uname));
    }
    Ok(os_value(&os_release, &hostname, &String::from_utf8_lossy(&uname.stdout)))
}

/// The fact from os-release text, the hostname file and `uname -r -m` output.
/// Missing fields are null.
pub(super) fn os_value(os_release: &str, hostname: &str, uname_output: &str) -> Value {
    let fields = parse_os_release(os_release);
    let mut uname_words = uname_output.split_whitespace();
    let kernel = uname_words.next();
    let arch = uname_words.next();
    let hostname = hostname.trim();
    json!({
        "id": fields.get("ID"),
        "version_id": fields.get("VERSION_ID"),
        "pretty_name": fields.get("PRETTY_NAME"),
        "hostname": if hostname.is_empty() { None } else { Some(hostname) },
        "kernel": kernel,
        "arch": arch,
    })
}

/// `KEY=value` assignments of os-release, shell quoting removed. Lines that
/// are not assignments are skipped.
pub(super) fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw_value)) = line.split_once('=') else { continue };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        fields.insert(key.to_string(), unquote_shell_value(raw_value.trim()));
    }
    fields
}

/// Remove the single or double quotes os-release allows, honouring the
/// backslash escapes of double quotes.
fn unquote_shell_value(raw: &str) -> String {
    let mut value = String::new();
    let mut chars = raw.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), c) if c == open => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(escaped) = chars.next() {
                    value.push(escaped);
                }
            }
            (_, c) => value.push(c),
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
HOME_URL="https://www.debian.org/"
this line is malformed
=novalue
"#;

    #[test]
    fn os_fact_combines_its_sources() {
        let value = os_value(DEBIAN, "web-1\n", "6.1.0-18-amd64 x86_64\n");
        assert_eq!(
            value,
            json!({ "id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)",
                    "hostname": "web-1", "kernel": "6.1.0-18-amd64", "arch": "x86_64" })
        );
    }

    #[test]
    fn missing_parts_are_null() {
        let value = os_value("", "", "");
        assert_eq!(value["id"], Value::Null);
        assert_eq!(value["hostname"], Value::Null);
        assert_eq!(value["kernel"], Value::Null);
    }

    #[test]
    fn quoting_is_removed() {
        let fields = parse_os_release("A='single quoted'\nB=\"with \\\"escape\\\"\"\nC=plain\n");
        assert_eq!(fields["A"], "single quoted");
        assert_eq!(fields["B"], "with \"escape\"");
        assert_eq!(fields["C"], "plain");
        assert_eq!(fields.len(), 3);
    }
}
