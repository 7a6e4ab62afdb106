//! Local accounts: `host.users` (/etc/passwd), `host.shadow` (/etc/shadow,
//! without hashes), `host.groups`, `host.login_defs` and `host.useradd_defaults`.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::probe::{Collected, Probe, Unavailable};

const PASSWD: &str = "/etc/passwd";
const SHADOW: &str = "/etc/shadow";
const GROUP: &str = "/etc/group";
const LOGIN_DEFS: &str = "/etc/login.defs";
const USERADD_DEFAULTS: &str = "/etc/default/useradd";

/// The content of a file every system has; missing is an error, not "empty".
fn read_required(probe: &mut Probe<'_>, path: &str) -> Result<String, Unavailable> {
    probe.read_text(path)?.ok_or_else(|| Unavailable::new(format!("{path}: does not exist")))
}

pub(super) fn collect_users(probe: &mut Probe<'_>) -> Collected {
    Ok(parse_passwd(&read_required(probe, PASSWD)?))
}

pub(super) fn collect_shadow(probe: &mut Probe<'_>) -> Collected {
    let today = Utc::now().timestamp().div_euclid(86_400);
    Ok(parse_shadow(&read_required(probe, SHADOW)?, today))
}

pub(super) fn collect_groups(probe: &mut Probe<'_>) -> Collected {
    Ok(parse_group(&read_required(probe, GROUP)?))
}

/// Without the file, the built-in defaults apply: an empty map.
pub(super) fn collect_login_defs(probe: &mut Probe<'_>) -> Collected {
    Ok(parse_login_defs(&probe.read_text(LOGIN_DEFS)?.unwrap_or_default()))
}

/// Without the file, useradd's built-in defaults apply: an empty map.
pub(super) fn collect_useradd_defaults(probe: &mut Probe<'_>) -> Collected {
    Ok(parse_useradd_defaults(&probe.read_text(USERADD_DEFAULTS)?.unwrap_or_default()))
}

/// Non-empty, non-comment lines split on `:`, with their 1-based line number.
fn colon_records(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(index, line)| {
        let trimmed = line.trim();
        (!trimmed.is_empty() && !trimmed.starts_with('#')).then(|| (index + 1, line.split(':').collect()))
    })
}

/// Users of `/etc/passwd`. The password field is reduced to what it says;
/// lines without seven fields or with non-numeric ids (e.g. NIS `+` lines)
/// are skipped.
pub(super) fn parse_passwd(text: &str) -> Value {
    let users: Vec<Value> = colon_records(text)
        .filter_map(|(line, fields)| {
            let [name, password, uid, gid, gecos, home, shell] = fields.as_slice() else { return None };
            let (uid, gid) = (uid.parse::<u32>().ok()?, gid.parse::<u32>().ok()?);
            if name.is_empty() {
                return None;
            }
            Some(json!({
                "name": name, "uid": uid, "gid": gid, "gecos": gecos, "home": home, "shell": shell,
                "password": passwd_password_state(password), "line": line,
            }))
        })
        .collect();
    Value::Array(users)
}

fn passwd_password_state(field: &str) -> &'static str {
    match field {
        "x" => "shadowed",
        "" => "empty",
        locked if locked.starts_with('*') || locked.starts_with('!') => "locked",
        _ => "hash",
    }
}

/// Names by id from `/etc/passwd` or `/etc/group` (name and id are the first
/// and third field of both); the first name of an id wins, as getpwuid does.
pub(super) fn names_by_id(text: &str) -> BTreeMap<u32, String> {
    let mut names = BTreeMap::new();
    for (_, fields) in colon_records(text) {
        if let (Some(name), Some(id)) = (fields.first(), fields.get(2).and_then(|id| id.parse::<u32>().ok())) {
            if !name.is_empty() {
                names.entry(id).or_insert_with(|| (*name).to_string());
            }
        }
    }
    names
}

/// Entries of `/etc/shadow` without their hashes. Lines that glibc would
/// reject (not nine fields, non-numeric day fields) are skipped.
pub(super) fn parse_shadow(text: &str, today: i64) -> Value {
    let entries: Vec<Value> = colon_records(text)
        .filter_map(|(line, fields)| {
            let [name, password, last_change, min_days, max_days, warn_days, inactive, expire, _reserved] =
                fields.as_slice()
            else {
                return None;
            };
            if name.is_empty() {
                return None;
            }
            let (state, scheme) = shadow_password_state(password);
            Some(json!({
                "name": name,
                "password": state,
                "scheme": scheme,
                "last_change": day_field(last_change)?,
                "min_days": day_field(min_days)?,
                "max_days": day_field(max_days)?,
                "warn_days": day_field(warn_days)?,
                "inactive": day_field(inactive)?,
                "expire": day_field(expire)?,
                "line": line,
            }))
        })
        .collect();
    json!({ "today": today, "entries": entries })
}

/// `Some(None)` for an empty field, `Some(Some(n))` for a number, `None`
/// (reject the line) for anything else.
fn day_field(field: &str) -> Option<Option<i64>> {
    if field.is_empty() {
        return Some(None);
    }
    field.parse::<i64>().ok().map(Some)
}

/// What a shadow password field allows, and the hash scheme of a set or
/// locked password. Only these two words leave this function: never the hash.
fn shadow_password_state(field: &str) -> (&'static str, Option<&'static str>) {
    if field.is_empty() {
        return ("empty", None);
    }
    let hash = field.trim_start_matches('!');
    if hash.is_empty() || hash.starts_with('*') {
        return ("disabled", None);
    }
    let state = if hash.len() < field.len() { "locked" } else { "set" };
    (state, Some(hash_scheme(hash)))
}

/// The crypt(5) scheme named by a hash's prefix.
fn hash_scheme(hash: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("$y$", "yescrypt"),
        ("$gy$", "gost-yescrypt"),
        ("$7$", "scrypt"),
        ("$6$", "sha512"),
        ("$5$", "sha256"),
        ("$2b$", "bcrypt"),
        ("$2y$", "bcrypt"),
        ("$2a$", "bcrypt"),
        ("$sha1$", "sha1"),
        ("$md5", "sunmd5"),
        ("$1$", "md5"),
    ];
    match PREFIXES.iter().find(|(prefix, _)| hash.starts_with(prefix)) {
        Some((_, scheme)) => scheme,
        None if hash.starts_with('$') => "unknown",
        None if hash.starts_with('_') => "bsdicrypt",
        None => "des",
    }
}

/// Groups of `/etc/group`; the group password field is not recorded. Lines
/// without four fields or with a non-numeric gid are skipped.
pub(super) fn parse_group(text: &str) -> Value {
    let groups: Vec<Value> = colon_records(text)
        .filter_map(|(line, fields)| {
            let [name, _password, gid, members] = fields.as_slice() else { return None };
            let gid = gid.parse::<u32>().ok()?;
            if name.is_empty() {
                return None;
            }
            let members: Vec<&str> = members.split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
            Some(json!({ "name": name, "gid": gid, "members": members, "line": line }))
        })
        .collect();
    Value::Array(groups)
}

/// `KEY value` lines of login.defs as shadow-utils reads them: full-line `#`
/// comments only, the value is the rest of the line with surrounding double
/// quotes removed, and a later line for the same key wins.
pub(super) fn parse_login_defs(text: &str) -> Value {
    let mut settings = Map::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(char::is_whitespace) {
            Some((key, value)) => (key, value.trim()),
            None => (line, ""),
        };
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        settings.insert(key.to_string(), Value::String(value.to_string()));
    }
    Value::Object(settings)
}

/// `KEY=value` lines of `/etc/default/useradd`; other lines are skipped.
pub(super) fn parse_useradd_defaults(text: &str) -> Value {
    let mut settings = Map::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            continue;
        }
        settings.insert(key.to_string(), Value::String(value.trim().to_string()));
    }
    Value::Object(settings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    const YESCRYPT_HASH: &str = "$y$j9T$Vf8Z5l0qJm1NSxhW4Gm2b/$Zq8u0dU3dFJ1nNQYvI6mA7b7w8xX9yZ0aBcDeFgHiJ1";
    const SHA512_HASH: &str = "$6$rounds=5000$saltsalt$G7v1cXGd0V8W1y0mJ2lC3yN8m5K9aQwErTyUiOpAsDfGhJkLzXcVbNm1234567890abcdefghijklmnopqrstuvwxyzABCD";

    fn shadow_text() -> String {
        format!(
            "root:{YESCRYPT_HASH}:19800:0:99999:7:::\n\
             daemon:*:19800:0:99999:7:::\n\
             alice:!{SHA512_HASH}:19750:1:90:7:30:20100:\n\
             bob::19000::::::\n\
             carol:!!:19000:0:99999:7:::\n\
             dave:$1$abcdefgh$0123456789abcdefghijkl:19000:0:99999:7:::\n\
             eve:abCDefGHijKLm:19000:0:99999:7:::\n\
             broken:line\n\
             mallory:$6$x$y:notanumber:0:99999:7:::\n"
        )
    }

    #[test]
    fn shadow_never_contains_a_hash() {
        let value = parse_shadow(&shadow_text(), 20049);
        let serialized = value.to_string();
        for secret in
            [YESCRYPT_HASH, SHA512_HASH, "Vf8Z5l0qJm1", "saltsalt", "abCDefGHijKLm", "$1$abcdefgh", "$y$", "$6$"]
        {
            assert!(!serialized.contains(secret), "{secret} leaked into {serialized}");
        }
    }

    #[test]
    fn shadow_entries_say_what_the_password_allows() {
        let value = parse_shadow(&shadow_text(), 20049);
        assert_eq!(value["today"], 20049);
        let entries = value["entries"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.len(), 7, "malformed lines are skipped");
        assert_eq!(
            entries[0],
            json!({ "name": "root", "password": "set", "scheme": "yescrypt", "last_change": 19800,
                    "min_days": 0, "max_days": 99999, "warn_days": 7, "inactive": null, "expire": null, "line": 1 })
        );
        assert_eq!((entries[1]["password"].as_str(), entries[1]["scheme"].as_str()), (Some("disabled"), None));
        assert_eq!(entries[2]["password"], "locked");
        assert_eq!(entries[2]["scheme"], "sha512");
        assert_eq!(entries[2]["inactive"], 30);
        assert_eq!(entries[2]["expire"], 20100);
        assert_eq!(entries[3]["password"], "empty");
        assert_eq!(entries[3]["min_days"], Value::Null);
        assert_eq!(entries[4]["password"], "disabled");
        assert_eq!(entries[5]["scheme"], "md5");
        assert_eq!(entries[6]["scheme"], "des");
    }

    #[test]
    fn hash_schemes_are_named() {
        assert_eq!(hash_scheme("$2b$12$abc"), "bcrypt");
        assert_eq!(hash_scheme("$gy$j9T$abc"), "gost-yescrypt");
        assert_eq!(hash_scheme("$5$abc$def"), "sha256");
        assert_eq!(hash_scheme("$99$abc"), "unknown");
        assert_eq!(shadow_password_state("!*"), ("disabled", None));
        assert_eq!(shadow_password_state("!"), ("disabled", None));
    }

    #[test]
    fn shadow_collection_never_leaks_a_hash_even_through_the_fact() {
        let transport = FakeTransport::new().file(SHADOW, &shadow_text());
        let facts =
            crate::facts::host::collect(&transport, &[crate::facts::FactKey::new("host.shadow")].into_iter().collect());
        let serialized = serde_json::to_string(&facts).unwrap_or_default();
        assert!(serialized.contains("yescrypt"));
        assert!(!serialized.contains(YESCRYPT_HASH));
        assert!(!serialized.contains(SHA512_HASH));
    }

    #[test]
    fn unreadable_shadow_is_unavailable_with_the_path() {
        let transport = FakeTransport::new().denied(SHADOW);
        let reason = collect_shadow(&mut Probe::new(&transport)).unwrap_err().into_reason();
        assert_eq!(reason, "/etc/shadow: permission denied");
    }

    #[test]
    fn passwd_users_with_password_states() {
        let text = "root:x:0:0:root:/root:/bin/bash\n\
                    # a comment\n\
                    nobody:*:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
                    old:$1$salt$hashhashhash:1001:1001::/home/old:/bin/sh\n\
                    open::1002:1002:Open,,,:/home/open:/bin/bash\n\
                    +::::::\n\
                    short:x:1003\n";
        let value = parse_passwd(text);
        let users = value.as_array().cloned().unwrap_or_default();
        assert_eq!(users.len(), 4);
        assert_eq!(
            users[0],
            json!({ "name": "root", "uid": 0, "gid": 0, "gecos": "root", "home": "/root", "shell": "/bin/bash",
                    "password": "shadowed", "line": 1 })
        );
        assert_eq!(users[1]["password"], "locked");
        assert_eq!(users[1]["line"], 3);
        assert_eq!(users[2]["password"], "hash");
        assert_eq!(users[3]["password"], "empty");
        assert!(!value.to_string().contains("hashhashhash"));
    }

    #[test]
    fn groups_with_members() {
        let value = parse_group("root:x:0:\nsudo:x:27:alice,bob\nbad:x:notanumber:\nshort:x\n");
        assert_eq!(
            value,
            json!([
                { "name": "root", "gid": 0, "members": [], "line": 1 },
                { "name": "sudo", "gid": 27, "members": ["alice", "bob"], "line": 2 }
            ])
        );
    }

    #[test]
    fn names_by_id_prefers_the_first_name() {
        let names = names_by_id("root:x:0:0::/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\nbin:x:2:2::/bin:/x\nbad\n");
        assert_eq!(names.get(&0).map(String::as_str), Some("root"));
        assert_eq!(names.get(&2).map(String::as_str), Some("bin"));
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn login_defs_settings() {
        let text = "# comment\n\
                    MAIL_DIR        /var/mail\n\
                    PASS_MAX_DAYS\t99999\n\
                    ENCRYPT_METHOD \"SHA512\"\n\
                    PASS_MAX_DAYS 365\n\
                    LONELY_KEY\n\
                    \n";
        let value = parse_login_defs(text);
        assert_eq!(
            value,
            json!({ "MAIL_DIR": "/var/mail", "PASS_MAX_DAYS": "365", "ENCRYPT_METHOD": "SHA512", "LONELY_KEY": "" })
        );
    }

    #[test]
    fn useradd_defaults_and_missing_file() {
        let value = parse_useradd_defaults("# useradd defaults\nSHELL=/bin/sh\nINACTIVE=30\nnot a setting\n=x\n");
        assert_eq!(value, json!({ "SHELL": "/bin/sh", "INACTIVE": "30" }));
        let transport = FakeTransport::new();
        assert_eq!(collect_useradd_defaults(&mut Probe::new(&transport)).unwrap(), json!({}));
    }
}
