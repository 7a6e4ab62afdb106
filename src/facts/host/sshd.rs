//! `host.sshd`: the OpenSSH server's effective configuration, from `sshd -T`
//! or, without an sshd binary, from its configuration files.

use serde_json::{json, Map, Value};

use super::probe::{command_line, Collected, Probe, Unavailable};
use super::text::{self, collapse_whitespace};
use super::TransportError;

pub(super) const SSHD_BINARY: &str = "/usr/sbin/sshd";
pub(super) const SSHD_T_ARGS: &[&str] = &["-T"];
const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
/// Relative `Include` paths are relative to this directory (sshd_config(5)).
const SSH_CONFIG_DIR: &str = "/etc/ssh";
/// sshd's own limit on nested `Include`s.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Keywords that sshd accumulates over lines; every other keyword takes its
/// first value.
const ACCUMULATING_KEYWORDS: &[&str] = &[
    "acceptenv",
    "allowgroups",
    "allowusers",
    "denygroups",
    "denyusers",
    "hostcertificate",
    "hostkey",
    "listenaddress",
    "port",
    "subsystem",
];

pub(super) fn collect(probe: &mut Probe<'_>) -> Collected {
    let installed = probe.stat(SSHD_BINARY)?.is_some();
    if installed {
        let output = probe.run(SSHD_BINARY, SSHD_T_ARGS)?;
        if !output.succeeded() {
            return Err(Unavailable::command_failed(&command_line(SSHD_BINARY, SSHD_T_ARGS), &output));
        }
        let config = parse_sshd_t(&text::decode(&output.stdout));
        return Ok(json!({ "installed": true, "method": "sshd -T", "config": config }));
    }
    let mut config = SshdConfig::default();
    read_config_file(probe, SSHD_CONFIG, &mut config, 0)?;
    Ok(json!({ "installed": false, "method": "config files", "config": config.into_value() }))
}

/// `keyword value` lines of `sshd -T` (keywords already lower case); a
/// keyword printed on several lines has its values joined by one space.
pub(super) fn parse_sshd_t(stdout: &str) -> Value {
    let mut config = Map::new();
    for line in stdout.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (keyword, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let keyword = keyword.to_ascii_lowercase();
        let value = collapse_whitespace(value);
        match config.get_mut(&keyword) {
            Some(Value::String(earlier)) => {
                earlier.push(' ');
                earlier.push_str(&value);
            }
            _ => {
                config.insert(keyword, Value::String(value));
            }
        }
    }
    Value::Object(config)
}

/// The settings read so far from sshd_config files.
#[derive(Debug, Default)]
pub(super) struct SshdConfig {
    settings: Map<String, Value>,
}

impl SshdConfig {
    /// Apply one directive the way sshd does: the first value wins, except
    /// for keywords that accumulate.
    fn apply(&mut self, keyword: &str, value: String) {
        match self.settings.get_mut(keyword) {
            Some(Value::String(earlier)) if ACCUMULATING_KEYWORDS.contains(&keyword) => {
                earlier.push(' ');
                earlier.push_str(&value);
            }
            Some(_) => {}
            None => {
                self.settings.insert(keyword.to_string(), Value::String(value));
            }
        }
    }

    fn into_value(self) -> Value {
        Value::Object(self.settings)
    }
}

/// Read `path` and the files it includes, in place, into `config`. Global
/// settings end at the first `Match` of a file (a `Match` block lasts to the
/// end of its file). A missing file contributes nothing.
fn read_config_file(
    probe: &mut Probe<'_>,
    path: &str,
    config: &mut SshdConfig,
    depth: usize,
) -> Result<(), Unavailable> {
    let Some(content) = probe.read_text(path)? else { return Ok(()) };
    for directive in parse_directives(&content) {
        match directive.keyword.as_str() {
            "match" => break,
            "include" => {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(Unavailable::new(format!(
                        "{path}:{}: Include nested deeper than {MAX_INCLUDE_DEPTH} levels",
                        directive.line
                    )));
                }
                for pattern in &directive.args {
                    let pattern = if pattern.starts_with('/') {
                        pattern.clone()
                    } else {
                        text::join_path(SSH_CONFIG_DIR, pattern)
                    };
                    for included in expand_glob(probe, &pattern)? {
                        read_config_file(probe, &included, config, depth + 1)?;
                    }
                }
            }
            keyword => config.apply(keyword, directive.args.join(" ")),
        }
    }
    Ok(())
}

/// One `Keyword arguments...` line of an sshd_config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Directive {
    /// Lower case: sshd keywords are case-insensitive.
    pub keyword: String,
    pub args: Vec<String>,
    pub line: usize,
}

/// The directives of one sshd_config file. The keyword ends at whitespace or
/// `=`; arguments are split as sshd splits them (quotes group, a word
/// starting with `#` starts a comment). A keyword without arguments is
/// skipped (sshd refuses such a file).
pub(super) fn parse_directives(content: &str) -> Vec<Directive> {
    let mut directives = Vec::new();
    for (index, line) in content.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let keyword_end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
        let (keyword, rest) = line.split_at(keyword_end);
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('=').unwrap_or(rest);
        let args = split_arguments(rest);
        if keyword.is_empty() || args.is_empty() {
            continue;
        }
        directives.push(Directive { keyword: keyword.to_ascii_lowercase(), args, line: index + 1 });
    }
    directives
}

/// Words of an argument list: whitespace separates, double or single quotes
/// group (and are removed), a backslash escapes a quote, backslash or space.
fn split_arguments(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (_, '\\') if matches!(chars.peek(), Some('"' | '\'' | '\\' | ' ')) => word.extend(chars.next()),
                (None, '"' | '\'') => quote = Some(c),
                (Some(open), c) if c == open => quote = None,
                (None, c) if c.is_whitespace() => break,
                (_, c) => word.push(c),
            }
        }
        words.push(word);
    }
    words
}

/// The existing paths matching an absolute glob pattern, sorted as glob(3)
/// sorts them. Hidden names match only a pattern that starts with `.`.
fn expand_glob(probe: &mut Probe<'_>, pattern: &str) -> Result<Vec<String>, TransportError> {
    let mut candidates = vec![String::new()];
    for component in pattern.split('/').filter(|component| !component.is_empty()) {
        let mut next = Vec::new();
        if !has_glob_characters(component) {
            next.extend(candidates.iter().map(|base| format!("{base}/{component}")));
        } else if let Some(matcher) = glob_matcher(component) {
            for base in &candidates {
                let dir = if base.is_empty() { "/" } else { base.as_str() };
                for name in probe.list_dir(dir)?.unwrap_or_default() {
                    let hidden_allowed = component.starts_with('.');
                    if (hidden_allowed || !name.starts_with('.')) && matcher.is_match(&name) {
                        next.push(format!("{base}/{name}"));
                    }
                }
            }
        }
        candidates = next;
    }
    candidates.sort();
    Ok(candidates)
}

fn has_glob_characters(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// A pattern glob(3) cannot parse matches nothing.
fn glob_matcher(component: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(component)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()
        .map(|glob| glob.compile_matcher())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    #[test]
    fn sshd_t_output_with_repeated_keywords() {
        let stdout = "port 22\n\
                      permitrootlogin without-password\n\
                      hostkey /etc/ssh/ssh_host_rsa_key\n\
                      hostkey /etc/ssh/ssh_host_ed25519_key\n\
                      ciphers chacha20-poly1305@openssh.com,aes128-ctr\n\
                      subsystem sftp    /usr/lib/openssh/sftp-server\n\
                      authorizedkeyscommand\n\
                      \n";
        let config = parse_sshd_t(stdout);
        assert_eq!(
            config,
            json!({ "port": "22", "permitrootlogin": "without-password",
                    "hostkey": "/etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_ed25519_key",
                    "ciphers": "chacha20-poly1305@openssh.com,aes128-ctr",
                    "subsystem": "sftp /usr/lib/openssh/sftp-server", "authorizedkeyscommand": "" })
        );
    }

    #[test]
    fn directives_are_split_like_sshd() {
        let directives = parse_directives(
            "# comment\n\
             PermitRootLogin no\n\
             MaxAuthTries=4\n\
             Banner = \"/etc/issue net\" # trailing comment\n\
             \tAllowUsers alice bob\n\
             LonelyKeyword\n\
             =novalue\n",
        );
        let got: Vec<(&str, Vec<&str>, usize)> = directives
            .iter()
            .map(|d| (d.keyword.as_str(), d.args.iter().map(String::as_str).collect(), d.line))
            .collect();
        assert_eq!(
            got,
            [
                ("permitrootlogin", vec!["no"], 2),
                ("maxauthtries", vec!["4"], 3),
                ("banner", vec!["/etc/issue net"], 4),
                ("allowusers", vec!["alice", "bob"], 5),
            ]
        );
    }

    #[test]
    fn config_files_first_value_wins_includes_in_place_and_match_ends_globals() {
        let transport = FakeTransport::new()
            .file(
                SSHD_CONFIG,
                "Include /etc/ssh/sshd_config.d/*.conf\n\
                 PermitRootLogin yes\n\
                 MaxAuthTries 6\n\
                 HostKey /etc/ssh/ssh_host_rsa_key\n\
                 AllowUsers alice\n\
                 Include extra.conf\n\
                 Match User bob\n\
                 \tPermitRootLogin yes\n\
                 \tX11Forwarding yes\n",
            )
            .file("/etc/ssh/sshd_config.d/50-cis.conf", "PermitRootLogin no\nHostKey /etc/ssh/ssh_host_ed25519_key\n")
            .file("/etc/ssh/sshd_config.d/10-first.conf", "MaxAuthTries 4\nMatch Address 10.0.0.0/8\nBanner none\n")
            .file("/etc/ssh/sshd_config.d/.hidden.conf", "LoginGraceTime 1\n")
            .file("/etc/ssh/sshd_config.d/notes.txt", "LoginGraceTime 2\n")
            .file("/etc/ssh/extra.conf", "AllowUsers bob\nClientAliveInterval 300\n");
        let value = collect(&mut Probe::new(&transport)).unwrap();
        assert_eq!(
            value,
            json!({ "installed": false, "method": "config files", "config": {
                "maxauthtries": "4",
                "permitrootlogin": "no",
                "hostkey": "/etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_rsa_key",
                "allowusers": "alice bob",
                "clientaliveinterval": "300"
            } })
        );
    }

    #[test]
    fn no_binary_and_no_config_is_an_empty_config() {
        let transport = FakeTransport::new();
        let value = collect(&mut Probe::new(&transport)).unwrap();
        assert_eq!(value, json!({ "installed": false, "method": "config files", "config": {} }));
    }

    #[test]
    fn sshd_t_is_used_when_the_binary_exists() {
        let transport =
            FakeTransport::new().file(SSHD_BINARY, "").command(SSHD_BINARY, &["-T"], 0, "permitrootlogin no\n", "");
        let value = collect(&mut Probe::new(&transport)).unwrap();
        assert_eq!(value, json!({ "installed": true, "method": "sshd -T", "config": { "permitrootlogin": "no" } }));
    }

    #[test]
    fn failing_sshd_t_is_unavailable_with_its_message() {
        let transport = FakeTransport::new().file(SSHD_BINARY, "").command(
            SSHD_BINARY,
            &["-T"],
            1,
            "",
            "sshd: no hostkeys available -- exiting.\n",
        );
        let reason = collect(&mut Probe::new(&transport)).unwrap_err().into_reason();
        assert_eq!(reason, "`/usr/sbin/sshd -T` failed (exit status 1): sshd: no hostkeys available -- exiting.");
    }

    #[test]
    fn unreadable_config_is_unavailable() {
        let transport = FakeTransport::new().denied(SSHD_CONFIG);
        let reason = collect(&mut Probe::new(&transport)).unwrap_err().into_reason();
        assert_eq!(reason, "/etc/ssh/sshd_config: permission denied");
    }

    #[test]
    fn include_loops_stop_at_the_depth_limit() {
        let transport = FakeTransport::new().file(SSHD_CONFIG, "Include /etc/ssh/sshd_config\n");
        let reason = collect(&mut Probe::new(&transport)).unwrap_err().into_reason();
        assert!(reason.contains("nested deeper"), "{reason}");
    }
}
