//! `host.sysctl` (runtime kernel parameters from `sysctl -a`) and
//! `host.sysctl_persistent` (what the sysctl configuration files set at boot).

use serde_json::{json, Map, Value};

use super::probe::{command_line, Collected, Probe, Unavailable};
use super::text::{self, collapse_whitespace};

/// Directories of sysctl.d(5), highest priority first.
const SYSCTL_DIRS: &[&str] =
    &["/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"];

/// Applied after the drop-in directories, as `sysctl --system` does.
const SYSCTL_CONF: &str = "/etc/sysctl.conf";

pub(super) const SYSCTL_ARGS: &[&str] = &["-a"];

pub(super) fn collect_runtime(probe: &mut Probe<'_>) -> Collected {
    let output = probe.run("sysctl", SYSCTL_ARGS)?;
    if !output.succeeded() {
        return Err(Unavailable::command_failed(&command_line("sysctl", SYSCTL_ARGS), &output));
    }
    // sysctl skips keys it may not read and still exits 0; an absent key
    // would then look like one the kernel does not have.
    let denied = denied_keys(&text::decode(&output.stderr));
    if !denied.is_empty() {
        return Err(Unavailable::new(format!(
            "`sysctl -a`: permission denied on {} key(s) ({}); run as root",
            denied.len(),
            denied.join(", ")
        )));
    }
    Ok(parse_sysctl_output(&text::decode(&output.stdout)))
}

/// Keys whose values are secrets (TCP Fast Open key, IPv6 stable-privacy
/// secrets): never recorded.
fn is_secret_key(key: &str) -> bool {
    key == "net.ipv4.tcp_fastopen_key" || key.ends_with(".stable_secret")
}

/// `key = value` lines of `sysctl -a`, values with whitespace collapsed. A key
/// printed on several lines (multi-line values) has them joined by a space.
pub(super) fn parse_sysctl_output(stdout: &str) -> Value {
    let mut values = Map::new();
    for line in stdout.lines() {
        let (key, value) = match line.split_once(" = ") {
            Some(pair) => pair,
            None => match line.trim_end().strip_suffix(" =") {
                Some(key) => (key, ""),
                None => continue,
            },
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) || is_secret_key(key) {
            continue;
        }
        let value = collapse_whitespace(value);
        match values.get_mut(key) {
            Some(Value::String(earlier)) => {
                *earlier = collapse_whitespace(&format!("{earlier} {value}"));
            }
            _ => {
                values.insert(key.to_string(), Value::String(value));
            }
        }
    }
    Value::Object(values)
}

/// Keys `sysctl` reported as unreadable on stderr, secrets excepted (they
/// are never recorded, so not reading them loses nothing).
pub(super) fn denied_keys(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| line.split_once("permission denied on key '"))
        .filter_map(|(_, rest)| rest.split_once('\''))
        .map(|(key, _)| key.to_string())
        .filter(|key| !is_secret_key(key))
        .collect()
}

pub(super) fn collect_persistent(probe: &mut Probe<'_>) -> Collected {
    let mut paths = probe.drop_in_files(SYSCTL_DIRS, ".conf")?;
    paths.push(SYSCTL_CONF.to_string());
    let mut files = Vec::new();
    for path in paths {
        if let Some(content) = probe.read_text(&path)? {
            files.push((path, content));
        }
    }
    Ok(persistent_value(&files))
}

/// The effective setting of every key over `files` (path, content) applied
/// in order: a later assignment overrides an earlier one.
pub(super) fn persistent_value(files: &[(String, String)]) -> Value {
    let mut effective = Map::new();
    for (path, content) in files {
        for (key, value, line) in parse_sysctl_conf(content) {
            effective.insert(key, json!({ "value": value, "file": path, "line": line }));
        }
    }
    sort_keys(effective)
}

fn sort_keys(map: Map<String, Value>) -> Value {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(entries.into_iter().collect())
}

/// `key = value` assignments of one sysctl.d file: (key, value, line).
/// `#`/`;` comments, lines without `=` and secret keys are skipped; a leading
/// `-` (ignore failure) is dropped; `/` separators are normalised to `.`.
pub(super) fn parse_sysctl_conf(content: &str) -> Vec<(String, String, usize)> {
    let mut settings = Vec::new();
    for (index, line) in content.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = normalize_key(key.trim().trim_start_matches('-').trim());
        if key.is_empty() || key.contains(char::is_whitespace) || is_secret_key(&key) {
            continue;
        }
        settings.push((key, collapse_whitespace(value), index + 1));
    }
    settings
}

/// sysctl.d(5): when the first separator is `/`, `/` and `.` are swapped, so
/// `net/ipv4/conf/eth0.1/rp_filter` is `net.ipv4.conf.eth0/1.rp_filter`.
fn normalize_key(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(index) if key[index..].starts_with('/') => key
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                other => other,
            })
            .collect(),
        _ => key.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;

    #[test]
    fn runtime_values_are_parsed_and_secrets_dropped() {
        let stdout = "abi.vsyscall32 = 1\n\
                      net.ipv4.ip_forward = 0\n\
                      net.ipv4.ip_local_port_range = 32768\t60999\n\
                      kernel.domainname = (none)\n\
                      net.ipv4.tcp_fastopen_key = 00000000-00000000-00000000-00000000\n\
                      net.ipv6.conf.all.stable_secret = 1111:2222::\n\
                      dev.cdrom.info = CD-ROM information\n\
                      dev.cdrom.info = \n\
                      dev.cdrom.info = drive name:\n\
                      kernel.empty =\n\
                      garbage without separator\n\
                       = no key\n";
        let value = parse_sysctl_output(stdout);
        assert_eq!(value["net.ipv4.ip_forward"], "0");
        assert_eq!(value["net.ipv4.ip_local_port_range"], "32768 60999");
        assert_eq!(value["kernel.domainname"], "(none)");
        assert_eq!(value["dev.cdrom.info"], "CD-ROM information drive name:");
        assert_eq!(value["kernel.empty"], "");
        assert!(value.get("net.ipv4.tcp_fastopen_key").is_none());
        assert!(value.get("net.ipv6.conf.all.stable_secret").is_none());
        assert_eq!(value.as_object().map(Map::len), Some(6));
        assert!(!value.to_string().contains("00000000-00000000"));
    }

    #[test]
    fn denied_keys_are_found_on_stderr() {
        let stderr = "sysctl: permission denied on key 'kernel.cad_pid'\n\
                      sysctl: permission denied on key 'net.ipv4.tcp_fastopen_key', ignoring\n\
                      sysctl: permission denied on key 'net.core.bpf_jit_harden', ignoring\n\
                      sysctl: reading key \"net.ipv6.conf.all.stable_secret\"\n";
        assert_eq!(denied_keys(stderr), ["kernel.cad_pid", "net.core.bpf_jit_harden"]);
    }

    #[test]
    fn persistent_settings_take_the_last_assignment() {
        let files = vec![
            (
                "/usr/lib/sysctl.d/50-default.conf".to_string(),
                "# comment\n; also comment\nnet.ipv4.ip_forward = 1\n-kernel.yama.ptrace_scope = 1\nnot an assignment\n".to_string(),
            ),
            (
                "/etc/sysctl.d/60-net.conf".to_string(),
                "\n\nnet/ipv4/ip_forward=0\nnet.ipv4.ip_local_port_range =  1024   65000 \n".to_string(),
            ),
        ];
        let value = persistent_value(&files);
        assert_eq!(
            value,
            json!({
                "kernel.yama.ptrace_scope": { "value": "1", "file": "/usr/lib/sysctl.d/50-default.conf", "line": 4 },
                "net.ipv4.ip_forward": { "value": "0", "file": "/etc/sysctl.d/60-net.conf", "line": 3 },
                "net.ipv4.ip_local_port_range": { "value": "1024 65000", "file": "/etc/sysctl.d/60-net.conf", "line": 4 }
            })
        );
    }

    #[test]
    fn slash_keys_swap_separators() {
        assert_eq!(normalize_key("net/ipv4/conf/eth0.1/rp_filter"), "net.ipv4.conf.eth0/1.rp_filter");
        assert_eq!(normalize_key("net.ipv4.conf.eth0/1.rp_filter"), "net.ipv4.conf.eth0/1.rp_filter");
    }

    #[test]
    fn persistent_collection_follows_drop_in_order() {
        use crate::facts::host::fake::FakeTransport;
        let transport = FakeTransport::new()
            .file("/usr/lib/sysctl.d/60-net.conf", "net.ipv4.ip_forward = 1\n")
            .file("/etc/sysctl.d/60-net.conf", "net.ipv4.ip_forward = 0\n")
            .file("/usr/lib/sysctl.d/99-late.conf", "kernel.randomize_va_space = 1\n")
            .file("/etc/sysctl.conf", "kernel.randomize_va_space = 2\n");
        let mut probe = Probe::new(&transport);
        let value = collect_persistent(&mut probe).unwrap();
        assert_eq!(value["net.ipv4.ip_forward"]["file"], "/etc/sysctl.d/60-net.conf");
        assert_eq!(value["kernel.randomize_va_space"]["value"], "2");
        assert_eq!(value["kernel.randomize_va_space"]["file"], "/etc/sysctl.conf");
    }
}
