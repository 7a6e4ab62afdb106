//! The secret rule set: the one table of the key, token, hash and credential formats that never enter facts,
//! and the redaction that applies it to fact values.
//!
//! Each [`Rule`] has an id (`<redacted:id>` names it in place of the secret, so a fact keeps its shape and a
//! check still sees that a setting exists), what it matches and why. Rules whose `refuses_text` is set mark
//! content that is a secret as a whole (private keys, password hashes): a `host.text` fact of a file holding
//! one is refused rather than redacted. docs/facts.md lists the table for users.
//!
//! Redaction fails closed: a value no rule can be applied to (a pattern that did not compile) is replaced
//! whole.

use super::provider::Provider;
use std::borrow::Cow;
use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde_json::Value;

use super::{Fact, FactValue};

/// One format of secret.
#[derive(Debug)]
pub struct Rule {
    /// Stable name, shown as `<redacted:id>`.
    pub id: &'static str,
    /// What the rule matches, for people.
    pub matches: &'static str,
    /// Why it is a secret.
    pub why: &'static str,
    /// The pattern; a capture group named `value` narrows what is replaced (the whole match otherwise).
    pattern: &'static str,
    /// Whether content holding this is a secret as a whole (refused in `host.text`, not redacted).
    pub refuses_text: bool,
    /// Whether a match spans lines (a key block): it is replaced as the file is read, before a parser splits
    /// it into lines, and keeps its line breaks so the lines after it keep their numbers.
    pub spans_lines: bool,
    /// Whether a matched `value` is really a secret (false keeps the text as it is).
    accept: fn(&str) -> bool,
}

/// Credential words of `name=value` settings, matched as a whole word or as the last part of a name joined by
/// `_`, `.` or `-` (`db_password`, `mail.smtp.password`), so `passwd_timeout` or `NOPASSWD` are not settings
/// holding a secret.
const CREDENTIAL_WORDS: &str = "password|passwd|passphrase|passwort|pass|pwd|pw|secret|client_secret|token|\
    auth_token|access_token|refresh_token|api_key|apikey|api-key|access_key|accesskey|secret_key|secretkey|\
    private_key|privatekey|auth_key|authkey|authtok|key|psk|credentials?|bindpw|rootpw|requirepass|masterauth|\
    masterpass|secret_access_key|session_token";

/// The rules, most specific first: a value already redacted by an earlier rule is left alone by later ones.
pub static RULES: &[Rule] = &[
    Rule {
        id: "private-key-block",
        matches: "a PEM, OpenSSH, PGP or other `-----BEGIN ... PRIVATE KEY-----` block (any spacing or case), \
                  to its END line",
        why: "private key material",
        pattern: r"(?is)-{3,}\s*BEGIN\s+(?:[A-Z0-9]+\s+)*PRIVATE\s+KEY(?:\s+BLOCK)?\s*-{3,}.*?(?:-{3,}\s*END\s+(?:[A-Z0-9]+\s+)*PRIVATE\s+KEY(?:\s+BLOCK)?\s*-{3,}|\z)",
        refuses_text: true,
        spans_lines: true,
        accept: always,
    },
    Rule {
        id: "putty-private-key",
        matches: "a PuTTY key file from `PuTTY-User-Key-File-N:` to its `Private-MAC:` line (or the end)",
        why: "private key material",
        pattern: r"(?is)PuTTY-User-Key-File-\d+\s*:.*?(?:Private-(?:MAC|Hash)\s*:[^\n]*|\z)",
        refuses_text: true,
        spans_lines: true,
        accept: always,
    },
    Rule {
        id: "key-material-line",
        matches: "a line that is only a run of 60 or more base64 characters (the body of a key block)",
        why: "private key material whose header is on another line",
        pattern: r"(?m)^\s*[A-Za-z0-9+/]{60,}={0,2}\s*$",
        refuses_text: false,
        spans_lines: false,
        accept: is_not_hex_digest,
    },
    Rule {
        id: "crypt-hash",
        matches: "a crypt(3) password hash anywhere in a line: `$1$ $2a$ $2b$ $2y$ $5$ $6$ $7$ $y$ $gy$ $md5$ \
                  $sha1$ $apr1$ $argon2i$ $argon2d$ $argon2id$` and other `$id$salt$hash` forms",
        why: "a password hash can be cracked offline",
        pattern: r"\$(?:[0-9]|2[abxy]|y|gy|md5|sha1|apr1|argon2(?:id|i|d)|[a-z0-9-]{1,12})\$[A-Za-z0-9./+=,-]*\$[A-Za-z0-9./+=,$-]{8,}",
        refuses_text: true,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "grub-pbkdf2",
        matches: "a GRUB password hash `grub.pbkdf2.sha512.<rounds>.<salt>.<hash>`",
        why: "a password hash can be cracked offline",
        pattern: r"grub\.pbkdf2\.[A-Za-z0-9]+\.[0-9]+\.[A-Fa-f0-9.]+",
        refuses_text: true,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "ldap-hash",
        matches: "an htpasswd or LDAP `{SHA}`, `{SSHA}`, `{SSHA512}`, `{MD5}`, `{CRYPT}`, `{PBKDF2...}` hash",
        why: "a password hash can be cracked offline",
        pattern: r"(?i)\{(?:S?SHA(?:256|384|512)?|S?MD5|CRYPT|PBKDF2[-A-Z0-9]*|ARGON2)\}[A-Za-z0-9+/=.$]{8,}",
        refuses_text: true,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "aws-access-key-id",
        matches: "an AWS access key id (`AKIA`, `ASIA`, `ABIA`, `ACCA`, `A3T` + 16 characters)",
        why: "half of an AWS credential pair, and names the key to attack",
        pattern: r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b",
        refuses_text: false,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "aws-secret-access-key",
        matches: "a 40-character AWS secret access key after `aws_secret_access_key`, `SecretAccessKey` or \
                  `secret_key` with `=`, `:` or a space",
        why: "an AWS credential",
        pattern: r#"(?i)(?:aws_?secret_?access_?key|secret_?access_?key|aws_?secret_?key)["']?\s*[=:\s]\s*["']?(?P<value>[A-Za-z0-9/+=]{40})"#,
        refuses_text: false,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "aws-session-token",
        matches: "an AWS session token (`FwoGZXIvYXdz...`, `IQoJb3JpZ2lu...`, or the value of \
                  `aws_session_token` / `x-amz-security-token`)",
        why: "a temporary AWS credential",
        pattern: r#"\b(?:FwoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=]{20,}|(?i)(?:aws_?session_?token|x-amz-security-token)["']?\s*[=:\s]\s*["']?(?P<value>[A-Za-z0-9/+=]{20,})"#,
        refuses_text: false,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "github-token",
        matches: "a GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`)",
        why: "an API credential",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
        refuses_text: false,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "gitlab-token",
        matches: "a GitLab token (`glpat-`, `gldt-`, `glrt-`, `glptt-`, `glsoat-`, `glft-`)",
        why: "an API credential",
        pattern: r"\bgl(?:pat|dt|rt|ptt|soat|ft)-[A-Za-z0-9_-]{20,}",
        refuses_text: false,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "slack-token",
        matches: "a Slack token (`xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxs-`, `xoxr-`, `xapp-`) or webhook URL",
        why: "an API credential",
        pattern: r"\bxox[abposr]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+",
        refuses_text: false,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "jwt",
        matches: "a JSON Web Token (`eyJ...`.`eyJ...`.signature)",
        why: "a bearer credential",
        pattern: r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        refuses_text: false,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "url-credentials",
        matches: "the password of a `scheme://user:password@host` URL",
        why: "a password",
        pattern: r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]+:(?P<value>[^\s/@]+)@",
        refuses_text: false,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "rsyslog-db-action",
        matches: "the password of a legacy rsyslog database action `:ommysql:host,db,user,password` \
                  (`ommysql`, `ompgsql`, `omlibdbi`, `omoracle`)",
        why: "a database password",
        pattern: r"(?i):om(?:mysql|pgsql|libdbi|oracle):[^,\s]*,[^,\s]*,[^,\s]*,(?P<value>[^;\s]+)",
        refuses_text: false,
        spans_lines: false,
        accept: always,
    },
    Rule {
        id: "credential-assignment",
        matches: "the value of a credential setting `password=`, `passwd=`, `pwd=`, `secret=`, `token=`, \
                  `api_key=`, `key=`, `bindpw=` ... (also `db_password`, `smtp.password`) with `=` or `:`, \
                  quoted or not, as in PAM module arguments or rsyslog `action(... pwd=\"...\")`",
        why: "a password, key or token written into configuration",
        pattern: r#"(?i)(?:^|[^A-Za-z0-9_.-])(?:[A-Za-z0-9]+[_.-])*(?:password|passwd|passphrase|passwort|pass|pwd|pw|secret|token|apikey|api-key|accesskey|secretkey|privatekey|authkey|authtok|key|psk|credentials?|bindpw|rootpw|requirepass|masterauth|masterpass)["']?\s*[=:]\s*(?P<value>"[^"]*"|'[^']*'|[^\s,;)"']+)"#,
        refuses_text: false,
        spans_lines: false,
        accept: is_credential_value,
    },
    Rule {
        id: "credential-directive",
        matches: "the argument of a `password`, `passwd`, `secret`, `bindpw`, `rootpw`, `requirepass`, \
                  `masterauth` directive written `keyword value` at the start of a line (not PAM's \
                  `password` rule type)",
        why: "a password written into configuration",
        pattern: r#"(?im)^\s*(?:password|passwd|secret|bindpw|rootpw|requirepass|masterauth)\s+(?P<value>"[^"]*"|'[^']*'|[^\s"']+)"#,
        refuses_text: false,
        spans_lines: false,
        accept: is_directive_value,
    },
];

fn always(_: &str) -> bool {
    true
}

/// A SHA-256 or longer hex digest on its own line is a checksum, not key material.
fn is_not_hex_digest(line: &str) -> bool {
    !line.trim().chars().all(|c| c.is_ascii_hexdigit())
}

/// Values of `name=value` that are settings, not secrets: empty, already redacted, or a path to a file
/// holding the secret (`key=/etc/pki/x.key`), which is evidence an auditor needs.
fn is_credential_value(value: &str) -> bool {
    let inner = unquote(value);
    !(inner.is_empty() || inner.starts_with("<redacted:") || inner.starts_with('/'))
}

/// A `password` line of a PAM file is a rule type followed by its control, not a password.
fn is_directive_value(value: &str) -> bool {
    const PAM_CONTROLS: &[&str] = &["required", "requisite", "sufficient", "optional", "include", "substack", "[", "-"];
    let lower = unquote(value).to_ascii_lowercase();
    is_credential_value(value) && !PAM_CONTROLS.iter().any(|control| lower.starts_with(control))
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote).and_then(|rest| rest.strip_suffix(quote)) {
            return inner;
        }
    }
    value
}

/// The compiled patterns, one per rule in [`RULES`] order; `None` for a pattern that did not compile.
fn compiled() -> &'static [Option<Regex>] {
    static COMPILED: OnceLock<Vec<Option<Regex>>> = OnceLock::new();
    COMPILED.get_or_init(|| RULES.iter().map(|rule| Regex::new(rule.pattern).ok()).collect())
}

/// The placeholder that stands in for a secret found by `rule`.
pub fn placeholder(rule: &Rule) -> String {
    format!("<redacted:{}>", rule.id)
}

/// `text` with every secret the rules find replaced by `<redacted:rule-id>`.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    redact_with(text, |_| true)
}

/// `text` as read from a file with the secrets that span lines (key blocks) replaced, line breaks kept: what
/// collectors parse, so no line of a key block reaches a fact that records lines one by one. Secrets within
/// a line are left to [`redact_value`], because parsers read some of them for what they are (a password
/// hash's scheme) without recording them.
pub fn redact_blocks(text: &str) -> Cow<'_, str> {
    redact_with(text, |rule| rule.spans_lines)
}

fn redact_with(text: &str, applies: impl Fn(&Rule) -> bool) -> Cow<'_, str> {
    let mut current = Cow::Borrowed(text);
    for (rule, regex) in RULES.iter().zip(compiled()).filter(|(rule, _)| applies(rule)) {
        let Some(regex) = regex else {
            // Fail closed: without its pattern the rule cannot say where the secret is.
            return Cow::Owned(placeholder(rule));
        };
        if !regex.is_match(&current) {
            continue;
        }
        let replaced = regex.replace_all(&current, |caps: &Captures<'_>| replace_match(rule, caps)).into_owned();
        current = Cow::Owned(replaced);
    }
    current
}

/// The text of one match with its secret part replaced (or kept, when the rule does not accept it).
fn replace_match(rule: &Rule, caps: &Captures<'_>) -> String {
    let Some(whole) = caps.get(0) else { return String::new() };
    let Some(value) = caps.name("value") else {
        if !(rule.accept)(whole.as_str()) {
            return whole.as_str().to_string();
        }
        let line_breaks = if rule.spans_lines { whole.as_str().matches('\n').count() } else { 0 };
        return placeholder(rule) + "\n".repeat(line_breaks).as_str();
    };
    let (text, start) = (whole.as_str(), whole.start());
    if !(rule.accept)(value.as_str()) {
        return text.to_string();
    }
    let secret = value.as_str();
    let quote = secret.chars().next().filter(|c| matches!(c, '"' | '\'') && secret.len() >= 2 && secret.ends_with(*c));
    let replacement = match quote {
        Some(quote) => format!("{quote}{}{quote}", placeholder(rule)),
        None => placeholder(rule),
    };
    format!("{}{}{}", &text[..value.start() - start], replacement, &text[value.end() - start..])
}

/// Whether a setting named `name` holds a credential (`password`, `db_password`, `ApiKey`...).
pub fn is_credential_name(name: &str) -> bool {
    static NAME: OnceLock<Option<Regex>> = OnceLock::new();
    let pattern = format!("(?i)^(?:[A-Za-z0-9]+[_.-])*(?:{CREDENTIAL_WORDS})$");
    match NAME.get_or_init(|| Regex::new(&pattern).ok()) {
        Some(regex) => regex.is_match(name),
        None => true,
    }
}

/// `value` with every string in it redacted ([`redact_text`]); objects and arrays keep their shape. Member
/// names are left alone: facts name their own fields (`"password": "locked"` is a state, not a secret), and
/// parsers of `name value` settings redact by name with [`redact_setting`].
pub fn redact_value(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(redacted) = redact_text(text) {
                *text = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::Object(members) => members.values_mut().for_each(redact_value),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The value of a configuration setting `name` as a fact may record it: the placeholder when the name is a
/// credential's ([`is_credential_name`]) and the value is not empty or a file path, else the value redacted
/// as text.
pub fn redact_setting<'v>(name: &str, value: &'v str) -> Cow<'v, str> {
    if is_credential_name(name) && is_credential_value(value) {
        Cow::Owned(String::from("<redacted:credential-assignment>"))
    } else {
        redact_text(value)
    }
}

/// `fact` with the redaction every host fact gets where it is made ([`redact_value`] of its value,
/// [`redact_text`] of an unavailable reason); facts of other providers are returned as they are.
pub fn redact_host_fact(mut fact: Fact) -> Fact {
    if Provider::of_fact(&fact.key) != Some(Provider::Linux) {
        return fact;
    }
    match &mut fact.value {
        FactValue::Available { value } => redact_value(value),
        FactValue::Unavailable { reason } => {
            if let Cow::Owned(redacted) = redact_text(reason) {
                *reason = redacted;
            }
        }
    }
    fact
}

/// The first rule that marks `text` as a secret as a whole (private key, password hash), if any.
pub fn refusing_rule(text: &str) -> Option<&'static Rule> {
    RULES.iter().zip(compiled()).find_map(|(rule, regex)| match regex {
        Some(regex) if rule.refuses_text && regex.is_match(text) => Some(rule),
        Some(_) => None,
        None => rule.refuses_text.then_some(rule),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use serde_json::json;

    /// `text` redacted, asserting `secret` is gone and `<redacted:id>` took its place.
    fn assert_redacted(id: &str, text: &str, secret: &str) {
        let redacted = redact_text(text);
        assert!(!redacted.contains(secret), "{id}: {secret} left in {redacted}");
        assert!(redacted.contains(&format!("<redacted:{id}>")), "{id}: no placeholder in {redacted}");
    }

    fn assert_kept(text: &str) {
        assert_eq!(redact_text(text), text, "{text} should be kept as it is");
    }

    #[test]
    fn every_rule_compiles_and_ids_are_unique() {
        for (rule, regex) in RULES.iter().zip(compiled()) {
            assert!(regex.is_some(), "{} does not compile", rule.id);
            assert_eq!(RULES.iter().filter(|other| other.id == rule.id).count(), 1, "{}", rule.id);
            assert!(!rule.matches.is_empty() && !rule.why.is_empty(), "{}", rule.id);
        }
        assert!(Regex::new(&format!("^(?:{CREDENTIAL_WORDS})$")).is_ok());
    }

    /// The rows of the rule table in docs/facts.md, one per rule.
    fn documented_table() -> String {
        RULES
            .iter()
            .map(|rule| {
                let yes = |flag: bool| if flag { "yes" } else { "" };
                let matches = rule.matches.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|");
                format!(
                    "| `{}` | {} | {} | {} | {} |\n",
                    rule.id,
                    matches,
                    rule.why,
                    yes(rule.refuses_text),
                    yes(rule.spans_lines)
                )
            })
            .collect()
    }

    #[test]
    fn docs_list_every_rule() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/facts.md");
        let docs = std::fs::read_to_string(path).unwrap();
        let header = "| Rule | Matches | Why | Refuses text | Spans lines |\n|---|---|---|---|---|\n";
        let start = docs.find(header).unwrap() + header.len();
        let end = start + docs[start..].find("<!-- end rules -->").unwrap();
        if std::env::var_os("POSTURE_UPDATE_DOCS").is_some() {
            std::fs::write(path, format!("{}{}{}", &docs[..start], documented_table(), &docs[end..])).unwrap();
            return;
        }
        assert_eq!(
            docs[start..end],
            documented_table(),
            "docs/facts.md's rule table is out of date: run POSTURE_UPDATE_DOCS=1 cargo test --lib docs_list_every_rule"
        );
    }

    #[test]
    fn private_key_blocks_in_every_spelling() {
        for header in [
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----",
            "----- BEGIN RSA PRIVATE KEY -----",
            "-----begin  openssh private key-----",
        ] {
            let text = format!("before\n{header}\nb3BlbnNzaC1rZXktdjEAAAA\n-----END RSA PRIVATE KEY-----\nafter\n");
            assert_redacted("private-key-block", &text, "b3BlbnNzaC1rZXktdjEAAAA");
            assert!(redact_text(&text).contains("before") && redact_text(&text).contains("after"));
            assert_eq!(refusing_rule(&text).map(|rule| rule.id), Some("private-key-block"), "{header}");
        }
        // A header with no END takes everything after it.
        assert_redacted("private-key-block", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN", "MIIEvQIBADAN");
        assert_kept("-----BEGIN PUBLIC KEY-----");
        assert_kept("-----BEGIN CERTIFICATE-----");
        assert!(refusing_rule("-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQINBF\n").is_none());
    }

    #[test]
    fn putty_keys_and_key_material_lines() {
        let putty = "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\nPublic-Lines: 2\n\
                     AAAAC3NzaC1lZDI1NTE5AAAAIHx\nPrivate-Lines: 1\n\
                     AAAAIGb5H7gqnXN6b8tTQ2\n\
                     Private-MAC: 6ab1c3d4e5f60718293a4b5c6d7e8f90\nafter\n";
        assert_eq!(refusing_rule(putty).map(|rule| rule.id), Some("putty-private-key"));
        for secret in ["6ab1c3d4e5f60718293a4b5c6d7e8f90", "AAAAIGb5H7gqnXN6b8tTQ2"] {
            assert_redacted("putty-private-key", putty, secret);
        }
        assert_eq!(redact_blocks(putty), "<redacted:putty-private-key>\n\n\n\n\n\n\n\nafter\n");
        let body = "x\n  AAAAIGb5H7gqnXN6b8tTQ2dfUyXqf3XWl6X2uI9yXkk0Y3l1AAAAIGb5H7gqnXN6b8tTQ2\ny\n";
        assert_redacted("key-material-line", body, "AAAAIGb5H7gqnXN6b8tTQ2dfUyXqf3XWl6X2uI9yXkk0Y3l1");
        assert!(redact_text(body).starts_with("x\n") && redact_text(body).ends_with("\ny\n"));
        assert_kept("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855e3b0c442");
        assert_kept("Public-Lines: 2");
        assert_kept("short base64 line dGVzdA==");
    }

    #[test]
    fn key_blocks_are_replaced_before_lines_are_split_and_keep_the_line_count() {
        let conf =
            "a=1\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGVz\n=AbCd\n-----END PGP PRIVATE KEY BLOCK-----\nb=2\n";
        let redacted = redact_blocks(conf);
        assert_eq!(redacted, "a=1\n<redacted:private-key-block>\n\n\n\n\nb=2\n");
        assert_eq!(redacted.lines().count(), conf.lines().count());
        // Secrets within a line are left for the facts made from the lines.
        assert_eq!(redact_blocks("root:$6$salt$hashhashhash:1::"), "root:$6$salt$hashhashhash:1::");
    }

    #[test]
    fn crypt_hashes_anywhere_in_a_line() {
        for (text, secret) in [
            ("root:$y$j9T$Vf8Z5l0qJm1NSxhW4Gm2b/$Zq8u0dU3dFJ1nNQYvI6mA7:19800:0:99999:7:::", "Zq8u0dU3dFJ1nNQYvI6mA7"),
            ("bob:!$6$rounds=5000$saltsalt$abcdefghijklmnop:19000::::::", "abcdefghijklmnop"),
            ("hash=$6$x4Fz1a$Q0m9kGfW6v3Qb1cZtE2yL8pR5sN7dA0;", "Q0m9kGfW6v3Qb1cZtE2yL8pR5sN7dA0"),
            ("$1$saltsalt$qjIMUCmWdWfW1wC0Bh1sv.", "qjIMUCmWdWfW1wC0Bh1sv."),
            ("$5$saltsalt$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF", "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY"),
            ("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "R9h/cIPz0gi.URNNX3kh2OPST9"),
            ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", "RdescudvJCsgt3ub"),
            ("alice:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/", "HqJZimcKQFAMYayBlzkrA"),
        ] {
            assert_redacted("crypt-hash", text, secret);
            assert_eq!(refusing_rule(text).map(|rule| rule.id), Some("crypt-hash"), "{text}");
        }
        assert_kept("PATH=$PATH:$HOME/bin:$HOME/.local/bin");
        assert_kept("echo $1 costs $5");
        assert_kept("$FileCreateMode 0640");
    }

    #[test]
    fn grub_and_ldap_hashes() {
        let grub = "password_pbkdf2 root grub.pbkdf2.sha512.10000.ABCDEF0123.FEDCBA9876";
        assert_redacted("grub-pbkdf2", grub, "ABCDEF0123");
        assert_eq!(refusing_rule(grub).map(|rule| rule.id), Some("grub-pbkdf2"));
        assert_redacted("ldap-hash", "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "W6ph5Mm5Pz8GgiULbPgzG37mj9g=");
        assert_redacted("ldap-hash", "userPassword: {SSHA}DkMTwBl+a/3DQTxCYEApdUtNXGgdUac3", "DkMTwBl+a/3DQ");
        assert_kept("{SHA} is a scheme name");
    }

    #[test]
    fn aws_credentials() {
        assert_redacted("aws-access-key-id", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE");
        assert_redacted("aws-access-key-id", "ASIAY34FZKBOKMUTVV7A in a line", "ASIAY34FZKBOKMUTVV7A");
        for text in [
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "\"SecretAccessKey\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
            "secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ] {
            assert_redacted("aws-secret-access-key", text, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        }
        let token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDzq";
        assert_redacted("aws-session-token", &format!("x {token} y"), "IQoJb3JpZ2luX2VjEJr");
        assert_redacted(
            "aws-session-token",
            "aws_session_token=AQoDYXdzEJr1K2x3c4v5b6n7m8",
            "AQoDYXdzEJr1K2x3c4v5b6n7m8",
        );
        assert_kept("AKIA is a prefix");
        assert_kept("arn:aws:iam::123456789012:user/alice");
    }

    #[test]
    fn service_tokens() {
        assert_redacted("github-token", "token ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c");
        assert_redacted("github-token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11");
        assert_redacted("gitlab-token", "glpat-xxxxxxxxxxxxxxxxxxxx12", "glpat-xxxxxxxxxxxxxxxxxxxx12");
        assert_redacted("slack-token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKl", "xoxb-123456789012");
        assert_redacted("slack-token", "https://hooks.slack.com/services/T000/B000/XXXXXXXX", "T000/B000/XXXXXXXX");
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_redacted("jwt", &format!("Authorization: Bearer {jwt}"), "dozjgNryP4J3jVmNHl0w5N");
        assert_kept("ghp_short");
        assert_kept("eyJ alone");
    }

    #[test]
    fn url_credentials_keep_the_user_and_host() {
        let redacted = redact_text("*.* action(type=\"omhttp\" url=\"https://logger:Sup3rS3cret@logs.example:443/x\")");
        assert!(!redacted.contains("Sup3rS3cret"), "{redacted}");
        assert!(redacted.contains("https://logger:<redacted:url-credentials>@logs.example:443/x"), "{redacted}");
        assert_kept("*.* @@loghost.example.com:514");
        assert_kept("https://example.com/a:b@c");
    }

    #[test]
    fn rsyslog_database_actions() {
        let legacy = ":msg, contains, \"x\" :ommysql:db.example,Syslog,rsyslog,Legacy-Pw1;SQLTemplate";
        assert_redacted("rsyslog-db-action", legacy, "Legacy-Pw1");
        assert!(redact_text(legacy).contains(":ommysql:db.example,Syslog,rsyslog,<redacted:rsyslog-db-action>;"));
        assert_redacted("rsyslog-db-action", "*.* :ompgsql:localhost,Syslog,syslog,PgPass2", "PgPass2");
        let rainer = "action(type=\"ommysql\" server=\"db\" db=\"Syslog\" uid=\"rsyslog\" pwd=\"Rainer-Pw3\")";
        let redacted = redact_text(rainer);
        assert!(redacted.contains("pwd=\"<redacted:credential-assignment>\""), "{redacted}");
        assert!(redacted.contains("uid=\"rsyslog\""), "{redacted}");
    }

    #[test]
    fn credential_assignments_in_configuration_lines() {
        for (text, secret) in [
            ("auth sufficient pam_mysql.so user=pam passwd=PamPw4 host=localhost", "PamPw4"),
            ("password=hunter2", "hunter2"),
            ("db_password = 'quoted pw'", "quoted pw"),
            ("smtp.password: Colon5", "Colon5"),
            ("api_key=abc123def", "abc123def"),
            ("ApiKey=\"xyz789\"", "xyz789"),
            ("client_secret=Sec6", "Sec6"),
            ("token=Tok7", "Tok7"),
            ("key=Radius8", "Radius8"),
            ("bindpw=Ldap9", "Ldap9"),
            ("PWD=Upper10", "Upper10"),
            ("ldap_default_authtok = Sssd11", "Sssd11"),
            ("PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", "yAnz5TF+lXXJte14tji3zlMNq"),
            ("psk=WifiPsk12", "WifiPsk12"),
        ] {
            assert_redacted("credential-assignment", text, secret);
        }
        for kept in [
            "Defaults passwd_timeout=1",
            "alice ALL=(ALL) NOPASSWD: /usr/bin/systemctl",
            "password requisite pam_pwquality.so retry=3",
            "PasswordAuthentication no",
            "PermitEmptyPasswords no",
            "auth required pam_unix.so nullok try_first_pass",
            "password [success=1 default=ignore] pam_unix.so obscure yescrypt",
            "krb5_key_file = /etc/audit/audit.key",
            "key=/etc/pki/tls/private/server.key",
            "password=",
            "keyboard=us",
            "ldap_default_authtok_type = password",
        ] {
            assert_kept(kept);
        }
    }

    #[test]
    fn credential_directives_but_not_pam_rule_types() {
        assert_redacted("credential-directive", "bindpw LdapDirective1", "LdapDirective1");
        assert_redacted("credential-directive", "  requirepass \"redis pw\"", "redis pw");
        assert_redacted("credential-directive", "password Plain2", "Plain2");
        for kept in [
            "password required pam_unix.so",
            "password\trequisite\tpam_pwquality.so",
            "password [success=1 default=ignore] pam_unix.so",
            "password include common-password",
            "password substack system-auth",
            "-password optional pam_gnome_keyring.so",
        ] {
            assert_kept(kept);
        }
    }

    #[test]
    fn credential_names() {
        for name in ["password", "db_password", "mail.smtp.password", "ApiKey", "api-key", "secret", "pwd", "bindpw"] {
            assert!(is_credential_name(name), "{name}");
        }
        for name in ["passwd_timeout", "permitemptypasswords", "passwordauthentication", "minlen", "keyboard"] {
            assert!(!is_credential_name(name), "{name}");
        }
    }

    #[test]
    fn values_keep_their_shape() {
        let mut value = json!({
            "lines": [{ "file": "/etc/rsyslog.conf", "line": 3, "text": "pwd=\"abc\"" }],
            "users": [{ "name": "root", "password": "locked" }],
            "args": ["retry=3", "passwd=PamPw4"],
        });
        redact_value(&mut value);
        assert_eq!(
            value,
            json!({
                "lines": [{ "file": "/etc/rsyslog.conf", "line": 3, "text": "pwd=\"<redacted:credential-assignment>\"" }],
                "users": [{ "name": "root", "password": "locked" }],
                "args": ["retry=3", "passwd=<redacted:credential-assignment>"],
            })
        );
        let again = value.clone();
        redact_value(&mut value);
        assert_eq!(value, again, "redaction is idempotent");
    }

    #[test]
    fn host_facts_of_a_bundle_are_redacted_and_others_kept() {
        let source = crate::facts::FactSource::File { path: "/etc/pam.d/x".into() };
        let pam =
            Fact::available(crate::facts::FactKey::new("host.pam"), json!({ "x": ["passwd=Pw1"] }), source.clone());
        let redacted = redact_host_fact(pam);
        assert_eq!(
            redacted.value,
            FactValue::Available { value: json!({ "x": ["passwd=<redacted:credential-assignment>"] }) }
        );
        let reason =
            Fact::unavailable(crate::facts::FactKey::new("host.sshd"), "sshd: bad line token=Tok2", source.clone());
        assert_eq!(
            redact_host_fact(reason).unavailable_reason(),
            Some("sshd: bad line token=<redacted:credential-assignment>")
        );
        let aws = Fact::available(crate::facts::FactKey::new("aws.iam.users"), json!(["password=kept"]), source);
        assert_eq!(redact_host_fact(aws.clone()), aws);
    }

    #[test]
    fn settings_are_redacted_by_name() {
        assert_eq!(redact_setting("password", "TopSecret"), "<redacted:credential-assignment>");
        assert_eq!(redact_setting("db_password", "x"), "<redacted:credential-assignment>");
        assert_eq!(redact_setting("password", ""), "");
        assert_eq!(redact_setting("minlen", "14"), "14");
        assert_eq!(redact_setting("krb5_key_file", "/etc/audit/audit.key"), "/etc/audit/audit.key");
        assert_eq!(redact_setting("note", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"), "<redacted:github-token>");
    }
}
