//! Secrets stay out of everything an audit writes: secrets of every format the rule set knows are planted in
//! the host files the collectors read, and none of them may appear in any output file, the pack, the saved
//! fact bundle, stdout or stderr; templates and content files that are links out of their folder are refused.
//!
//! The host files are planted in a private mount namespace (`unshare`) where an overlay of /etc holds them,
//! so the machine's own /etc is never touched; the audit there is the real binary auditing `local`. Needs
//! root, `unshare` and overlayfs: in CI (`CI` set) a missing requirement fails the test, elsewhere it is
//! skipped with a message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{self, files_under, posture, read_json, scratch, stderr, stdout};

/// One planted secret: the distinctive part that must never appear in any output (letters and digits only,
/// so escaping in HTML, JSON or XML cannot hide a leak from the search).
struct Planted {
    format: &'static str,
    marker: &'static str,
}

const SECRETS: &[Planted] = &[
    Planted { format: "pam_mysql passwd=", marker: "PamMysqlSecret1" },
    Planted { format: "rsyslog legacy :ommysql: password", marker: "LegacyOmmysqlSecret2" },
    Planted { format: "rsyslog action(type=\"ommysql\" pwd=)", marker: "RainerOmmysqlSecret3" },
    Planted { format: "rsyslog action(type=\"ompgsql\" pass=)", marker: "OmpgsqlSecret4" },
    Planted { format: "URL user:password@host", marker: "UrlPasswordSecret5" },
    Planted { format: "PEM block with spaces around the dashes", marker: "PemBodySecret6" },
    Planted { format: "PGP private key block", marker: "PgpBodySecret7" },
    Planted { format: "AWS access key id", marker: "IOSFODNN7SECRET8" },
    Planted { format: "AWS secret access key", marker: "AwsSecretAccessKeySecret9" },
    Planted { format: "AWS session token", marker: "SessionTokenSecret10" },
    Planted { format: "GitHub token", marker: "GitHubTokenSecret11" },
    Planted { format: "GitLab token", marker: "GitLabTokenSecret12" },
    Planted { format: "Slack token", marker: "SlackTokenSecret13" },
    Planted { format: "JWT", marker: "JwtSignatureSecret14" },
    Planted { format: "crypt hash written hash=$6$...;", marker: "CryptHashSecret15" },
    Planted { format: "PuTTY key", marker: "PuttyBodySecret16" },
    Planted { format: "api_key: quoted", marker: "ApiKeySecret17" },
    Planted { format: "bindpw directive", marker: "BindpwSecret18" },
    Planted { format: "yescrypt hash in a copied shadow file", marker: "YescryptSecret19" },
    Planted { format: "grub pbkdf2 hash", marker: "ABCDEF0123456789FEDCBA20" },
    Planted { format: "OpenSSH private key", marker: "OpenSshBodySecret21" },
    Planted { format: "htpasswd {SHA}", marker: "HtpasswdShaSecret22" },
    Planted { format: "token= in a sudoers Defaults line", marker: "SudoersTokenSecret23" },
];

/// The host files planted over /etc (paths relative to /etc).
fn host_files() -> Vec<(&'static str, String)> {
    let pem = "----- BEGIN RSA PRIVATE KEY -----\n\
               MIIEpAIBAAKCAQEAPemBodySecret6xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\
               PemBodySecret6tail\n\
               -----END RSA PRIVATE KEY-----\n";
    let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGVzPgpBodySecret7\n=PgpBodySecret7\n\
               -----END PGP PRIVATE KEY BLOCK-----\n";
    vec![
        (
            "pam.d/posture-mysql",
            "auth sufficient pam_mysql.so user=pam passwd=PamMysqlSecret1 host=localhost db=auth\n\
             account required pam_unix.so\n"
                .to_string(),
        ),
        (
            "rsyslog.conf",
            "module(load=\"imuxsock\")\n\
             $FileCreateMode 0640\n\
             *.* :ommysql:db.example,Syslog,rsyslog,LegacyOmmysqlSecret2;SQLTemplate\n\
             action(type=\"ommysql\" server=\"db\" db=\"Syslog\" uid=\"rsyslog\" pwd=\"RainerOmmysqlSecret3\")\n"
                .to_string(),
        ),
        (
            "rsyslog.d/60-remote.conf",
            "action(type=\"ompgsql\" server=\"db\" user=\"rsyslog\" pass=\"OmpgsqlSecret4\")\n\
             action(type=\"omhttp\" url=\"https://logger:UrlPasswordSecret5@logs.example:443/in\")\n"
                .to_string(),
        ),
        ("rsyslog.d/70-keys.conf", format!("# keys pasted by mistake\n{pem}{pgp}*.* /var/log/after-keys.log\n")),
        (
            "sudoers",
            "Defaults use_pty\n\
             Defaults:deploy env_keep+=\"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7SECRET8\"\n\
             Defaults:deploy env_keep+=\"AWS_SECRET_ACCESS_KEY=AwsSecretAccessKeySecret9abcdefghijklmno\"\n\
             Defaults:deploy env_keep+=\"GITHUB=ghp_GitHubTokenSecret11abcdefghijklmnopqrstuvw\"\n\
             Defaults:ci token=SudoersTokenSecret23\n\
             root ALL=(ALL:ALL) ALL\n"
                .to_string(),
        ),
        (
            "ssh/sshd_config",
            "PermitRootLogin no\n\
             SetEnv SLACK=xoxb-123456789012-SlackTokenSecret13\n\
             SetEnv GITLAB=glpat-GitLabTokenSecret12abcdefgh\n"
                .to_string(),
        ),
        (
            "posture-secrets/app.conf",
            "[app]\n\
             session=FwoGZXIvYXdzESessionTokenSecret10abcdefghij\n\
             auth=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.JwtSignatureSecret14\n\
             api_key: \"ApiKeySecret17\"\n\
             bindpw BindpwSecret18\n\
             name=posture\n"
                .to_string(),
        ),
        ("posture-secrets/hash.conf", "user=alice\nhash=$6$saltsalt$CryptHashSecret15abcdefgh;\n".to_string()),
        ("posture-secrets/putty.ppk", putty()),
        ("posture-secrets/pgp.asc", pgp.to_string()),
        ("posture-secrets/pem.key", pem.to_string()),
        (
            "posture-secrets/id_ed25519",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAOpenSshBodySecret21\n\
             -----END OPENSSH PRIVATE KEY-----\n"
                .to_string(),
        ),
        (
            "posture-secrets/shadow.bak",
            "root:$y$j9T$Vf8Z5l0qJm1NSxhW4Gm2b/$YescryptSecret19abcdefgh:19800:0:99999:7:::\n".to_string(),
        ),
        (
            "posture-secrets/grub.conf",
            "password_pbkdf2 root grub.pbkdf2.sha512.10000.0011.ABCDEF0123456789FEDCBA20\n".to_string(),
        ),
        ("posture-secrets/htpasswd", "alice:{SHA}HtpasswdShaSecret22abcdefgh=\n".to_string()),
    ]
}

fn putty() -> String {
    "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\nPublic-Lines: 1\n\
     AAAAC3NzaC1lZDI1NTE5AAAAIHx\nPrivate-Lines: 1\nAAAAIPuttyBodySecret16\n\
     Private-MAC: PuttyBodySecret16mac\n"
        .to_string()
}

/// The host.text facts the test benchmark reads, and whether each is refused (a secret as a whole) or kept
/// with its secrets redacted.
const TEXT_FACTS: &[(&str, Option<&str>)] = &[
    ("/etc/posture-secrets/app.conf", None),
    ("/etc/posture-secrets/hash.conf", Some("crypt-hash")),
    ("/etc/posture-secrets/putty.ppk", Some("putty-private-key")),
    ("/etc/posture-secrets/pgp.asc", Some("private-key-block")),
    ("/etc/posture-secrets/pem.key", Some("private-key-block")),
    ("/etc/posture-secrets/id_ed25519", Some("private-key-block")),
    ("/etc/posture-secrets/shadow.bak", Some("crypt-hash")),
    ("/etc/posture-secrets/grub.conf", Some("grub-pbkdf2")),
    ("/etc/posture-secrets/htpasswd", Some("ldap-hash")),
    ("/etc/posture-secrets/link-to-pgp", Some("private-key-block")),
];

/// A benchmark whose checks echo whole facts into their messages and observed values, so a secret left in
/// a fact would reach every report.
fn echo_content() -> Vec<(String, String)> {
    let mut keys: Vec<String> =
        ["host.pam", "host.rsyslog", "host.sudoers", "host.sshd"].iter().map(|key| key.to_string()).collect();
    keys.extend(TEXT_FACTS.iter().map(|(path, _)| format!("host.text:{path}")));
    let mut benchmark = String::from(
        "id = \"secrets-echo\"\ntitle = \"Echoes facts\"\nversion = \"1\"\nprovider = \"linux\"\n\n\
         [[sections]]\nid = \"1\"\ntitle = \"Echo\"\n",
    );
    let mut files = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let id = format!("linux_secrets_echo_{index}");
        benchmark.push_str(&format!(
            "\n[[controls]]\nid = \"1.{index}\"\ntitle = \"Echo {key}\"\nassessment = \"automated\"\nchecks = [\"{id}\"]\n"
        ));
        let check = format!(
            "//! id = \"{id}\"\n//! title = \"Echo {key}\"\n//! severity = \"low\"\n//! resource_type = \"fact\"\n\
             //! facts = [\"{key}\"]\n//! rationale = \"r\"\n//! remediation = \"m\"\n\n\
             fn check(facts) {{\n    let value = facts.get(\"{key}\");\n    [fail(\"{key}\", `${{value}}`, value)]\n}}\n"
        );
        files.push((format!("checks/linux/echo/{id}.rhai"), check));
    }
    files.push(("secrets-echo.toml".to_string(), benchmark));
    files
}

/// What the namespace test needs, or why it cannot run here.
fn namespace_requirements() -> Result<(), String> {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if uid.ok().as_deref() != Some("0") {
        return Err("root (mount namespaces and overlayfs need it)".to_owned());
    }
    let probe = tempfile::tempdir().expect("temp dir");
    for sub in ["upper", "work", "lower", "merged"] {
        std::fs::create_dir(probe.path().join(sub)).expect("mkdir");
    }
    let script = format!(
        "mount -t overlay overlay -o lowerdir={0}/lower,upperdir={0}/upper,workdir={0}/work {0}/merged",
        probe.path().display()
    );
    let overlay =
        Command::new("unshare").args(["--mount", "--propagation", "private", "/bin/sh", "-c", &script]).output();
    if !overlay.map(|o| o.status.success()).unwrap_or(false) {
        return Err("unshare --mount and overlayfs (util-linux, CAP_SYS_ADMIN: a privileged container)".to_owned());
    }
    Ok(())
}

/// Runs `posture args` in a private mount namespace where `upper` is laid over /etc.
fn posture_over_etc(dir: &Path, upper: &Path, work: &Path, args: &[&str]) -> Output {
    let script = format!(
        "mount -t overlay overlay -o lowerdir=/etc,upperdir={},workdir={} /etc && exec \"$0\" \"$@\"",
        upper.display(),
        work.display()
    );
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c", &script, env!("CARGO_BIN_EXE_posture")])
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("POSTURE_HISTORY")
        .env("POSTURE_NO_HISTORY", "1")
        .output()
        .expect("unshare runs")
}

/// Every file of `dir` with its text (invalid UTF-8 replaced), for searching.
fn texts_under(dir: &Path) -> Vec<(PathBuf, String)> {
    files_under(dir)
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

fn unpack(pack: &Path, into: &Path) {
    std::fs::create_dir_all(into).expect("mkdir");
    let status = Command::new("tar").arg("-xzf").arg(pack).arg("-C").arg(into).status().expect("tar runs");
    assert!(status.success(), "tar -xzf {}", pack.display());
}

fn assert_no_secret_in(outputs: &[(PathBuf, String)]) {
    assert!(!outputs.is_empty());
    for (path, text) in outputs {
        for secret in SECRETS {
            assert!(
                !text.contains(secret.marker),
                "the {} ({}) leaked into {}",
                secret.format,
                secret.marker,
                path.display()
            );
        }
    }
}

#[test]
fn every_secret_format_planted_in_host_files_is_absent_from_every_output() {
    if let Err(missing) = namespace_requirements() {
        if std::env::var_os("CI").is_some() {
            panic!("the secrets test needs {missing}");
        }
        eprintln!("skipping the planted-secrets audit: missing {missing}");
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let (upper, overlay_work) = (work.path().join("etc-upper"), work.path().join("etc-work"));
    std::fs::create_dir(&overlay_work).expect("mkdir");
    for (relative, text) in host_files() {
        let path = upper.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("plant");
    }
    // A link to a key file is judged by what it leads to.
    std::os::unix::fs::symlink("pgp.asc", upper.join("posture-secrets/link-to-pgp")).expect("symlink");
    let content = work.path().join("content");
    for (relative, text) in echo_content() {
        let path = content.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write content");
    }
    let output = posture_over_etc(
        work.path(),
        &upper,
        &overlay_work,
        &[
            "audit",
            "--content",
            "content",
            "--benchmark",
            "secrets-echo",
            "--benchmark",
            "cis-debian-linux-12",
            "--out",
            "out",
            "--save-facts",
            "facts-bundle.json",
            "--pack",
            "pack.tar.gz",
            "--fail-on",
            "none",
            "--no-progress",
        ],
    );
    let (out_text, err_text) = (stdout(&output), stderr(&output));
    assert!(matches!(output.status.code(), Some(0 | 2)), "{err_text}");
    let out = work.path().join("out");
    for name in ["report.json", "report.html", "junit.xml", "summary.md", "facts.json", "manifest.json"] {
        assert!(out.join(name).is_file(), "{name} was not written: {err_text}");
    }
    unpack(&work.path().join("pack.tar.gz"), &work.path().join("unpacked"));

    let mut outputs = texts_under(&out);
    outputs.extend(texts_under(&work.path().join("unpacked")));
    let bundle_path = work.path().join("facts-bundle.json");
    let bundle = std::fs::read_to_string(&bundle_path).expect("the saved fact bundle");
    outputs.push((bundle_path, bundle.clone()));
    outputs.push((PathBuf::from("stdout"), out_text));
    outputs.push((PathBuf::from("stderr"), err_text));
    assert_no_secret_in(&outputs);

    // The files were read and their settings kept: the secrets are redacted in place, not lost with the fact.
    for expected in [
        "passwd=<redacted:credential-assignment>",
        ":ommysql:db.example,Syslog,rsyslog,<redacted:rsyslog-db-action>;SQLTemplate",
        "pwd=\\\"<redacted:credential-assignment>\\\"",
        "https://logger:<redacted:url-credentials>@logs.example",
        "<redacted:private-key-block>",
        "<redacted:aws-access-key-id>",
        "<redacted:aws-secret-access-key>",
        "<redacted:github-token>",
        "token=<redacted:credential-assignment>",
        "<redacted:aws-session-token>",
        "<redacted:jwt>",
        "bindpw <redacted:credential-directive>",
        "*.* /var/log/after-keys.log",
    ] {
        assert!(bundle.contains(expected), "{expected} is not in the saved facts");
    }
    let facts = read_json(&out.join("facts.json"));
    let fact = |key: &str| -> serde_json::Value {
        facts["targets"][0]["facts"]
            .as_array()
            .and_then(|all| all.iter().find(|fact| fact["key"] == key).cloned())
            .unwrap_or_else(|| panic!("{key} not in facts.json"))
    };
    // Lines after a key block keep their numbers.
    let rsyslog = fact("host.rsyslog");
    let after = rsyslog["value"]["lines"]
        .as_array()
        .expect("rsyslog lines")
        .iter()
        .find(|line| line["text"] == "*.* /var/log/after-keys.log")
        .cloned()
        .expect("the line after the keys");
    assert_eq!(after["line"], 11, "{after}");
    for (path, refused_by) in TEXT_FACTS {
        let text = fact(&format!("host.text:{path}"));
        match refused_by {
            Some(rule) => {
                let reason = text["reason"].as_str().unwrap_or_else(|| panic!("{path} was not refused: {text}"));
                assert!(reason.contains(&format!("(rule {rule})")), "{path}: {reason}");
            }
            None => assert!(text["value"]["content"].as_str().is_some_and(|c| c.contains("name=posture")), "{text}"),
        }
    }
    // The checks judged the redacted facts: the echo checks ran and the host's own controls were judged.
    let report = read_json(&out.join("report.json"));
    assert_eq!(support::control_status(&report, "1.0"), "fail");
}

#[test]
fn a_template_that_links_out_of_its_folder_is_refused() {
    let outside = scratch(&[("shadow-copy", "root:TemplateShadowSecret:19800:0:99999:7:::\n")]);
    let work = scratch(&[("templates/own/summary.tmpl", "# own summary {{ report.summary.pass_rate }}\n")]);
    let templates = work.path().join("templates");
    std::os::unix::fs::symlink(outside.path().join("shadow-copy"), templates.join("summary.md")).expect("symlink");
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("path");
    let output = posture(
        work.path(),
        &["audit", "--facts", bundle, "--templates", "templates", "--out", "out", "--pack", "pack.tar.gz", "-q"],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("summary.md") && err.contains("outside the templates folder"), "{err}");
    assert!(!err.contains("TemplateShadowSecret"), "{err}");
    if work.path().join("out").is_dir() {
        for (path, text) in texts_under(&work.path().join("out")) {
            assert!(!text.contains("TemplateShadowSecret"), "{}", path.display());
        }
    }
    assert!(!work.path().join("pack.tar.gz").exists(), "no pack from a refused template");

    // The real /etc/shadow, and a dangling link, are refused the same way.
    std::fs::remove_file(templates.join("summary.md")).expect("rm");
    for target in [Path::new("/etc/shadow"), Path::new("/nonexistent/posture-template")] {
        std::os::unix::fs::symlink(target, templates.join("summary.md")).expect("symlink");
        let output = posture(work.path(), &["audit", "--facts", bundle, "--templates", "templates", "--out", "out2"]);
        assert_eq!(output.status.code(), Some(2), "{}: {}", target.display(), stderr(&output));
        assert!(stderr(&output).contains("template"), "{}", stderr(&output));
        std::fs::remove_file(templates.join("summary.md")).expect("rm");
    }

    // A link that stays inside the folder is a template like any other.
    std::os::unix::fs::symlink("own/summary.tmpl", templates.join("summary.md")).expect("symlink");
    let output = posture(work.path(), &["audit", "--facts", bundle, "--templates", "templates", "--out", "out3"]);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", stderr(&output));
    let summary = std::fs::read_to_string(work.path().join("out3/summary.md")).expect("summary.md");
    assert!(summary.starts_with("# own summary"), "{summary}");
}

/// A content file linked from outside `--content` (a check of someone else's, or /etc/shadow) is refused
/// by the catalog loader, naming the link; loading stops at the first such link, so each is tried alone.
#[test]
fn a_content_file_that_links_out_of_its_folder_is_refused() {
    let outside = scratch(&[(
        "outside.rhai",
        "//! id = \"linux_site_outside\"\n//! title = \"ContentLinkSecret\"\n//! severity = \"low\"\n\
         //! resource_type = \"x\"\n//! facts = [\"host.os\"]\n//! rationale = \"r\"\n//! remediation = \"m\"\n\n\
         fn check(facts) { [pass(\"x\", \"ContentLinkSecret\")] }\n",
    )]);
    let work = scratch(&[(
        "content/site.toml",
        "id = \"site\"\ntitle = \"Site\"\nversion = \"1\"\nprovider = \"linux\"\n\n[[sections]]\nid = \"1\"\n\
         title = \"S\"\n\n[[controls]]\nid = \"1.1\"\ntitle = \"Outside\"\nassessment = \"automated\"\n\
         checks = [\"linux_site_outside\"]\n",
    )]);
    let checks = work.path().join("content/checks/linux/site");
    std::fs::create_dir_all(&checks).expect("mkdir");
    std::os::unix::fs::symlink(outside.path().join("outside.rhai"), checks.join("linux_site_outside.rhai"))
        .expect("symlink");
    std::os::unix::fs::symlink("/etc/shadow", checks.join("linux_site_shadow.rhai")).expect("symlink");
    let bundle = support::sample_bundle();
    let output = posture(
        work.path(),
        &[
            "audit",
            "--content",
            "content",
            "--benchmark",
            "site",
            "--facts",
            bundle.to_str().expect("path"),
            "--out",
            "out",
        ],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("linux_site_shadow.rhai") && err.contains("outside the content directory"), "{err}");
    assert!(!err.contains("ContentLinkSecret"), "{err}");
    std::fs::remove_file(checks.join("linux_site_shadow.rhai")).expect("remove the shadow link");
    let again = posture(
        work.path(),
        &["audit", "--content", "content", "--benchmark", "site", "--facts", bundle.to_str().expect("path")],
    );
    let err = stderr(&again);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert!(err.contains("linux_site_outside.rhai") && err.contains("outside the content directory"), "{err}");
    assert!(!err.contains("ContentLinkSecret"), "{err}");
    if work.path().join("out").is_dir() {
        for (path, text) in texts_under(&work.path().join("out")) {
            assert!(!text.contains("ContentLinkSecret"), "{}", path.display());
        }
    }
}

/// A bundle recorded by an older posture, or written by hand, gets the redaction collected host facts get.
#[test]
fn secrets_in_a_replayed_fact_bundle_are_redacted_too() {
    let mut bundle = read_json(&support::sample_bundle());
    let facts = bundle["targets"][0]["facts"].as_array_mut().expect("facts");
    let pam = facts.iter_mut().find(|fact| fact["key"] == "host.pam").expect("host.pam in the sample");
    pam["value"]["posture-mysql"] = serde_json::json!([{
        "type": "auth", "control": "sufficient", "module": "pam_mysql.so",
        "args": ["user=pam", "passwd=BundlePamSecret24", "host=db"], "line": 1
    }]);
    let work = scratch(&[("old-bundle.json", &bundle.to_string())]);
    let output =
        posture(work.path(), &["audit", "--facts", "old-bundle.json", "--out", "out", "--pack", "pack.tar.gz"]);
    assert!(matches!(output.status.code(), Some(0..=2)), "{}", stderr(&output));
    let mut outputs = texts_under(&work.path().join("out"));
    unpack(&work.path().join("pack.tar.gz"), &work.path().join("unpacked"));
    outputs.extend(texts_under(&work.path().join("unpacked")));
    for (path, text) in &outputs {
        assert!(!text.contains("BundlePamSecret24"), "the bundle's password reached {}", path.display());
    }
    let written = std::fs::read_to_string(work.path().join("out/facts.json")).expect("facts.json");
    assert!(written.contains("passwd=<redacted:credential-assignment>"), "the setting is kept, its value redacted");
    let verified = posture(work.path(), &["verify", "pack.tar.gz", "--allow-unpinned"]);
    let verified_plain = posture(work.path(), &["verify", "pack.tar.gz"]);
    assert!(
        verified.status.code() == Some(0) || verified_plain.status.code() == Some(0),
        "the pack of a redacted bundle verifies: {} {}",
        stderr(&verified),
        stderr(&verified_plain)
    );
}
