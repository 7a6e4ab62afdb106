//! Per-path facts: `host.file:<path>` (type, mode and owner of a path) and
//! `host.text:<path>` (the content of a non-secret text file).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::json;

use crate::facts::redact;

use super::probe::{Collected, Probe, Unavailable};
use super::text::normalize_path;
use super::{accounts, text, FileKind, Transport, TransportError};

/// Content beyond this is cut off (`truncated` says so): facts are evidence,
/// not backups.
const MAX_TEXT_BYTES: usize = 64 * 1024;

pub(super) fn collect_file(probe: &mut Probe<'_>, owner_names: &OwnerNames<'_>, path: &str) -> Collected {
    let Some(stat) = probe.stat(path)? else {
        return Ok(json!({ "path": path, "exists": false }));
    };
    Ok(json!({
        "path": path,
        "exists": true,
        "type": stat.kind.as_str(),
        "mode": format_mode(stat.mode),
        "uid": stat.uid,
        "gid": stat.gid,
        "owner": owner_names.user(stat.uid),
        "group": owner_names.group(stat.gid),
        "size": stat.size,
    }))
}

/// `0644`, `4755`: four octal digits including setuid, setgid and sticky.
pub(super) fn format_mode(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

pub(super) fn collect_text(probe: &mut Probe<'_>, _owner_names: &OwnerNames<'_>, path: &str) -> Collected {
    let normalized = normalize_path(path);
    if is_secret_path(&normalized) {
        return Err(Unavailable::new(format!(
            "{path}: host.text refuses to record secret files (password hashes, private keys)"
        )));
    }
    let missing = json!({ "path": path, "exists": false, "content": null, "truncated": false });
    let Some(stat) = probe.stat(path)? else { return Ok(missing) };
    // Reading a device or a FIFO could block or never end.
    if !matches!(stat.kind, FileKind::File | FileKind::Symlink) {
        let kind = stat.kind.describe().to_string();
        return Err(TransportError::NotRegularFile { path: path.to_string(), kind }.into());
    }
    let Some(bytes) = probe.read_bytes(path)? else { return Ok(missing) };
    let truncated = bytes.len() > MAX_TEXT_BYTES;
    let kept = &bytes[..bytes.len().min(MAX_TEXT_BYTES)];
    let content = String::from_utf8_lossy(kept).into_owned();
    // The path rules cannot see through symlinks; the content can. Other secrets in the text (a token, a
    // password setting) are redacted where every host fact is made.
    if let Some(rule) = redact::refusing_rule(&content) {
        return Err(Unavailable::new(format!(
            "{path}: host.text refuses to record content that holds a private key or a password hash (rule {})",
            rule.id
        )));
    }
    Ok(json!({ "path": path, "exists": true, "content": content, "truncated": truncated }))
}

/// Files whose content is secret: password hashes (`/etc/shadow*`,
/// `/etc/gshadow*`, `/etc/security/opasswd*`, GRUB's `grub.cfg`/`user.cfg`),
/// private keys (`/etc/ssh/*_key`, `/etc/ssl/private/`, `/etc/pki/tls/private/`,
/// `/etc/ipsec.d/private/`, `/etc/letsencrypt/keys|archive/`, `/etc/wireguard/`,
/// `/etc/krb5.keytab`), files that are passwords in plain text (`*.secret`,
/// `*.secrets` such as `/etc/ldap.secret`, `/etc/ipsec.secrets`, `/etc/rsyncd.secrets`,
/// PPP's `chap-secrets`/`pap-secrets`, NetworkManager's `system-connections/`)
/// and anything in an `.ssh` directory (including `/root/.ssh`).
pub(super) fn is_secret_path(normalized: &str) -> bool {
    const SECRET_PREFIXES: &[&str] = &["/etc/shadow", "/etc/gshadow", "/etc/security/opasswd"];
    const SECRET_TREES: &[&str] = &[
        "/etc/ssl/private",
        "/etc/pki/tls/private",
        "/etc/ipsec.d/private",
        "/etc/letsencrypt/keys",
        "/etc/letsencrypt/archive",
        "/etc/wireguard",
        "/etc/NetworkManager/system-connections",
        "/root/.ssh",
    ];
    let (parent, name) = normalized.rsplit_once('/').unwrap_or(("", normalized));
    SECRET_PREFIXES.iter().any(|prefix| normalized.starts_with(prefix))
        || SECRET_TREES.iter().any(|tree| normalized == *tree || normalized.starts_with(&format!("{tree}/")))
        || (parent == "/etc/ssh" && name.ends_with("_key"))
        || normalized == "/etc/krb5.keytab"
        || name == "grub.cfg"
        || (name == "user.cfg" && normalized.starts_with("/boot/"))
        || name.ends_with(".secret")
        || name.ends_with(".secrets")
        || name == "chap-secrets"
        || name == "pap-secrets"
        || normalized.split('/').any(|component| component == ".ssh")
}

/// User and group names by id, read from `/etc/passwd` and `/etc/group` at
/// most once per collection of a host, because every `host.file:` fact needs them.
pub(super) struct OwnerNames<'t> {
    transport: &'t dyn Transport,
    users: OnceLock<BTreeMap<u32, String>>,
    groups: OnceLock<BTreeMap<u32, String>>,
}

impl<'t> OwnerNames<'t> {
    pub(super) fn new(transport: &'t dyn Transport) -> Self {
        Self { transport, users: OnceLock::new(), groups: OnceLock::new() }
    }

    /// The user name of `uid`, or the number as a string when unknown.
    pub(super) fn user(&self, uid: u32) -> String {
        let users = self.users.get_or_init(|| self.names_by_id("/etc/passwd"));
        users.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }

    /// The group name of `gid`, or the number as a string when unknown.
    pub(super) fn group(&self, gid: u32) -> String {
        let groups = self.groups.get_or_init(|| self.names_by_id("/etc/group"));
        groups.get(&gid).cloned().unwrap_or_else(|| gid.to_string())
    }

    /// An unreadable file gives an empty map: owners then show as numbers,
    /// which the fact documents, rather than failing every file fact.
    fn names_by_id(&self, path: &str) -> BTreeMap<u32, String> {
        match self.transport.read_file(path) {
            Ok(Some(bytes)) => accounts::names_by_id(&text::decode(&bytes)),
            Ok(None) | Err(_) => BTreeMap::new(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    #[test]
    fn modes_have_four_digits() {
        assert_eq!(format_mode(0o644), "0644");
        assert_eq!(format_mode(0o4755), "4755");
        assert_eq!(format_mode(0o1777), "1777");
        assert_eq!(format_mode(0o100_600), "0600");
    }

    #[test]
    fn secret_paths_are_recognised_after_normalisation() {
        for secret in [
            "/etc/shadow",
            "/etc/shadow-",
            "/etc/gshadow",
            "/etc/ssh/ssh_host_ed25519_key",
            "/etc/ssh/../shadow",
            "//etc//shadow",
            "/boot/grub/grub.cfg",
            "/boot/grub2/user.cfg",
            "/root/.ssh/id_ed25519",
            "/root/.ssh",
            "/home/alice/.ssh/id_rsa",
            "/etc/ssl/private/site.key",
            "/etc/security/opasswd",
            "/etc/krb5.keytab",
            "/etc/ldap.secret",
            "/etc/ipsec.secrets",
            "/etc/rsyncd.secrets",
            "/etc/ppp/chap-secrets",
            "/etc/ppp/pap-secrets",
            "/etc/pki/tls/private/site.key",
            "/etc/letsencrypt/keys/0000_key-certbot.pem",
            "/etc/wireguard/wg0.conf",
            "/etc/NetworkManager/system-connections/wifi.nmconnection",
        ] {
            assert!(is_secret_path(&normalize_path(secret)), "{secret} should be refused");
        }
        for public in [
            "/etc/passwd",
            "/etc/ssh/sshd_config",
            "/etc/ssh/ssh_host_ed25519_key.pub",
            "/etc/issue.net",
            "/etc/motd",
            "/etc/secrets-policy.txt",
            "/etc/letsencrypt/live/site/cert.pem",
        ] {
            assert!(!is_secret_path(&normalize_path(public)), "{public} should be allowed");
        }
    }

    #[test]
    fn secret_content_is_recognised() {
        let refused = |content: &str| redact::refusing_rule(content).map(|rule| rule.id);
        assert_eq!(refused("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n"), Some("private-key-block"));
        assert_eq!(refused("----- BEGIN RSA PRIVATE KEY -----\nMIIE\n"), Some("private-key-block"));
        assert_eq!(refused("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n"), Some("private-key-block"));
        assert_eq!(refused("PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\n"), Some("putty-private-key"));
        assert_eq!(
            refused("root:$y$j9T$Vf8Z5l0qJm1NSxhW4Gm2b/$Zq8u0dU3dFJ1nNQYvI6mA7:19800:0:99999:7:::\n"),
            Some("crypt-hash")
        );
        assert_eq!(refused("bob:!$6$rounds=5000$saltsalt$abcdefghijklmnop:19000::::::\n"), Some("crypt-hash"));
        assert_eq!(refused("hash=$6$x4Fz1a$Q0m9kGfW6v3Qb1cZtE2yL8pR5sN7dA0;\n"), Some("crypt-hash"));
        assert_eq!(refused("password_pbkdf2 root grub.pbkdf2.sha512.10000.ABCDEF\n"), Some("grub-pbkdf2"));
        assert_eq!(refused("Authorized uses only. All activity may be monitored and reported.\n"), None);
        assert_eq!(refused("PATH=$PATH:$HOME/bin:$HOME/.local/bin\n"), None);
    }

    #[test]
    fn other_secrets_in_text_are_redacted_not_refused() {
        let transport = FakeTransport::new().file("/etc/app.conf", "user=app\npassword=Hunter2\n");
        let mut fact =
            collect_text(&mut Probe::new(&transport), &OwnerNames::new(&transport), "/etc/app.conf").unwrap();
        redact::redact_value(&mut fact);
        assert_eq!(fact["content"], "user=app\npassword=<redacted:credential-assignment>\n");
    }

    #[test]
    fn text_is_refused_for_secrets_even_through_a_link() {
        let transport = FakeTransport::new()
            .file("/etc/shadow", "root:$y$j9T$Vf8Z5l0qJm1NSxhW4Gm2b/$Zq8u0dU3dFJ1nNQYvI6mA7:19800:0:99999:7:::\n")
            .file("/tmp/innocent", "root:$y$j9T$Vf8Z5l0qJm1NSxhW4Gm2b/$Zq8u0dU3dFJ1nNQYvI6mA7:19800:0:99999:7:::\n");
        for path in ["/etc/shadow", "/tmp/innocent"] {
            let reason = collect_text(&mut Probe::new(&transport), &OwnerNames::new(&transport), path)
                .unwrap_err()
                .into_reason();
            assert!(reason.contains("refuses"), "{reason}");
            assert!(!reason.contains("Vf8Z5l0q"), "{reason}");
        }
    }

    #[test]
    fn text_content_truncation_and_absence() {
        let long = "x".repeat(MAX_TEXT_BYTES + 10);
        let transport = FakeTransport::new().file("/etc/issue.net", "Authorized uses only.\n").file("/etc/long", &long);
        assert_eq!(
            collect_text(&mut Probe::new(&transport), &OwnerNames::new(&transport), "/etc/issue.net").unwrap(),
            json!({ "path": "/etc/issue.net", "exists": true, "content": "Authorized uses only.\n", "truncated": false })
        );
        let value = collect_text(&mut Probe::new(&transport), &OwnerNames::new(&transport), "/etc/long").unwrap();
        assert_eq!(value["truncated"], true);
        assert_eq!(value["content"].as_str().map(str::len), Some(MAX_TEXT_BYTES));
        assert_eq!(
            collect_text(&mut Probe::new(&transport), &OwnerNames::new(&transport), "/etc/motd").unwrap(),
            json!({ "path": "/etc/motd", "exists": false, "content": null, "truncated": false })
        );
        let reason =
            collect_text(&mut Probe::new(&transport), &OwnerNames::new(&transport), "/etc").unwrap_err().into_reason();
        assert_eq!(reason, "/etc is a directory, not a regular file");
    }

    #[test]
    fn file_stat_with_owner_names() {
        let transport = FakeTransport::new()
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
            .file("/etc/group", "root:x:0:\nshadow:x:42:\n")
            .file_with_owner("/etc/shadow", "secret", 0o640, 0, 42)
            .file_with_owner("/usr/bin/odd", "", 0o4755, 1234, 0);
        let names = OwnerNames::new(&transport);
        assert_eq!(
            collect_file(&mut Probe::new(&transport), &names, "/etc/shadow").unwrap(),
            json!({ "path": "/etc/shadow", "exists": true, "type": "file", "mode": "0640", "uid": 0, "gid": 42,
                    "owner": "root", "group": "shadow", "size": 6 })
        );
        let odd = collect_file(&mut Probe::new(&transport), &names, "/usr/bin/odd").unwrap();
        assert_eq!((odd["mode"].as_str(), odd["owner"].as_str()), (Some("4755"), Some("1234")));
        assert_eq!(
            collect_file(&mut Probe::new(&transport), &names, "/nope").unwrap(),
            json!({ "path": "/nope", "exists": false })
        );
    }

    #[test]
    fn unreadable_text_is_unavailable_with_the_path() {
        let transport = FakeTransport::new().file("/etc/issue", "x").denied("/etc/issue");
        let reason = collect_text(&mut Probe::new(&transport), &OwnerNames::new(&transport), "/etc/issue")
            .unwrap_err()
            .into_reason();
        assert_eq!(reason, "/etc/issue: permission denied");
    }
}
