//! Hosts audited over SSH against real `sshd`s started here on 127.0.0.1.
//!
//! Each test host is an `sshd` on a free high port with its own generated
//! host key and configuration, started in its own mount and UTS namespace
//! (`unshare`): there its configuration is bind-mounted over
//! /etc/ssh/sshd_config and it has its own host name, so `sshd -T` run over
//! SSH reports that host's settings. A "weak" host allows root logins with
//! a password, CBC ciphers, weak MACs, forwarding and 10 authentication
//! tries; a "hardened" one does not. Everything else is this machine, so the
//! assertions compare what differs: the SSH controls, and per-host failures.
//!
//! The client side is the real `ssh` with a generated user key, a
//! known_hosts file written here (host key verification is on) and an ssh
//! configuration passed with `--ssh-config`.
//!
//! Needs root (sshd's privilege separation, namespaces), `sshd`, `ssh`,
//! `ssh-keygen` and `unshare`. `scripts/test.sh` installs openssh; in CI
//! (`CI` set) a missing requirement fails the tests, elsewhere they are
//! skipped with a message saying what to install.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{read_json, stderr};

/// What the tests need, or why they cannot run here.
fn requirements() -> Result<(), String> {
    let mut missing = Vec::new();
    if !Path::new("/usr/sbin/sshd").exists() {
        missing.push("sshd (apt-get install openssh-server)".to_owned());
    }
    for tool in ["ssh", "ssh-keygen"] {
        if Command::new(tool).arg("-V").output().is_err() && Command::new(tool).arg("-?").output().is_err() {
            missing.push(format!("{tool} (apt-get install openssh-client)"));
        }
    }
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if uid.ok().as_deref() != Some("0") {
        missing.push("root (sshd's privilege separation and namespaces need it)".to_owned());
    }
    let unshare = Command::new("unshare").args(["--mount", "--uts", "--propagation", "private", "true"]).output();
    if !unshare.map(|o| o.status.success()).unwrap_or(false) {
        missing.push("unshare --mount --uts (util-linux, and CAP_SYS_ADMIN: a privileged container)".to_owned());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join(", "))
    }
}

/// `Some(lab)` when the tests can run; in CI a missing requirement panics.
fn lab() -> Option<Lab> {
    match requirements() {
        Ok(()) => Some(Lab::new()),
        Err(missing) if std::env::var_os("CI").is_some() => {
            panic!("the SSH tests need {missing}; scripts/test.sh installs openssh-server and openssh-client")
        }
        Err(missing) => {
            eprintln!("skipping the SSH tests: missing {missing} (scripts/test.sh installs openssh)");
            None
        }
    }
}

/// How a test host's sshd is configured.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// Hardened as far as a root key login allows.
    Hardened,
    /// Deliberately weak SSH settings.
    Weak,
}

const HARDENED: &str = "\
PermitRootLogin prohibit-password
AllowUsers root
Ciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
DisableForwarding yes
X11Forwarding no
MaxAuthTries 4
MaxSessions 10
MaxStartups 10:30:60
LoginGraceTime 60
ClientAliveInterval 15
ClientAliveCountMax 3
LogLevel VERBOSE
HostbasedAuthentication no
IgnoreRhosts yes
PermitEmptyPasswords no
PermitUserEnvironment no
GSSAPIAuthentication no
Banner /etc/issue.net
";

const WEAK: &str = "\
PermitRootLogin yes
Ciphers aes128-cbc,aes256-ctr
MACs umac-64@openssh.com,hmac-sha2-256-etm@openssh.com
X11Forwarding yes
AllowTcpForwarding yes
MaxAuthTries 10
PermitEmptyPasswords yes
PermitUserEnvironment yes
";

/// One running test sshd: a "host".
struct Sshd {
    alias: String,
    port: u16,
    child: Child,
    /// The mount namespace of the sshd and everything it starts.
    namespace: String,
    public_key: String,
}

impl Sshd {
    /// Kills the sshd and every process of its namespace (its connections
    /// and the commands they run): the host is gone. Only while the sshd
    /// runs: a namespace's id is reused once it is gone, and the processes
    /// of another test's host must not be touched.
    fn kill(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let mut pids = Vec::new();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let ns = std::fs::read_link(entry.path().join("ns/mnt")).map(|p| p.display().to_string()).ok();
                if ns.as_deref() == Some(self.namespace.as_str()) {
                    pids.push(name);
                }
            }
        }
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-9").args(&pids).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A scratch directory with a user key, the test hosts, their known_hosts
/// and an ssh configuration naming each host by an alias.
struct Lab {
    dir: tempfile::TempDir,
    hosts: Vec<Sshd>,
    /// Aliases of hosts that are not running (nothing listens on the port).
    closed: Vec<(String, u16)>,
    /// Aliases that log in with a key the hosts do not accept.
    strangers: Vec<String>,
}

impl Lab {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        keygen(&dir.path().join("user_key"));
        keygen(&dir.path().join("stranger_key"));
        let public = std::fs::read_to_string(dir.path().join("user_key.pub")).expect("user key");
        std::fs::write(dir.path().join("authorized_keys"), public).expect("authorized_keys");
        // sshd's privilege separation directory (the openssh-server service creates it at boot).
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        Self { dir, hosts: Vec::new(), closed: Vec::new(), strangers: Vec::new() }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Starts a host. `binds` are extra (file, mount point) bind mounts in
    /// its namespace.
    fn start(&mut self, alias: &str, profile: Profile, binds: &[(PathBuf, &str)]) -> u16 {
        let dir = self.path().to_path_buf();
        let host_key = dir.join(format!("{alias}_host_key"));
        keygen(&host_key);
        let port = free_port();
        let settings = if profile == Profile::Weak { WEAK } else { HARDENED };
        let config = dir.join(format!("{alias}_sshd_config"));
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n{settings}",
                host_key.display(),
                dir.join("authorized_keys").display(),
                dir.join(format!("{alias}.pid")).display(),
            ),
        )
        .expect("sshd_config");
        let mut script = format!(
            "echo {alias} > /proc/sys/kernel/hostname && mount --bind {} /etc/ssh/sshd_config",
            config.display()
        );
        for (file, mount_point) in binds {
            script.push_str(&format!(" && mount --bind {} {mount_point}", file.display()));
        }
        script.push_str(&format!(" && exec /usr/sbin/sshd -D -e -f {}", config.display()));
        let log = std::fs::File::create(dir.join(format!("{alias}_sshd.log"))).expect("sshd log");
        let child = Command::new("unshare")
            .args(["--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("unshare runs");
        let mut child = child;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() || child.try_wait().map_or(true, |s| s.is_some()) {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "sshd {alias} did not start: {}",
                std::fs::read_to_string(dir.join(format!("{alias}_sshd.log"))).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let namespace =
            std::fs::read_link(format!("/proc/{}/ns/mnt", child.id())).expect("namespace").display().to_string();
        let own = std::fs::read_link("/proc/self/ns/mnt").expect("own namespace").display().to_string();
        assert_ne!(namespace, own, "the test sshd must run in its own mount namespace");
        let public_key = std::fs::read_to_string(format!("{}.pub", host_key.display())).expect("host key");
        self.hosts.push(Sshd { alias: alias.to_owned(), port, child, namespace, public_key });
        self.write_client_files();
        port
    }

    /// A host alias whose port nothing listens on.
    fn closed(&mut self, alias: &str) {
        self.closed.push((alias.to_owned(), free_port()));
        self.write_client_files();
    }

    /// A host alias of a running host that logs in with a key it does not accept.
    fn stranger(&mut self, alias: &str, of: &str) {
        let port = self.host(of).port;
        self.closed.push((alias.to_owned(), port));
        self.strangers.push(alias.to_owned());
        self.write_client_files();
    }

    fn host(&self, alias: &str) -> &Sshd {
        self.hosts.iter().find(|h| h.alias == alias).expect("a started host")
    }

    fn host_mut(&mut self, alias: &str) -> &mut Sshd {
        self.hosts.iter_mut().find(|h| h.alias == alias).expect("a started host")
    }

    /// known_hosts with every running host's key, and the ssh configuration.
    fn write_client_files(&self) {
        let dir = self.path();
        let mut known = String::new();
        for host in &self.hosts {
            let key: Vec<&str> = host.public_key.split_whitespace().take(2).collect();
            known.push_str(&format!("[127.0.0.1]:{} {}\n", host.port, key.join(" ")));
        }
        std::fs::write(dir.join("known_hosts"), known).expect("known_hosts");
        let mut config = String::new();
        let aliases = self.hosts.iter().map(|h| (h.alias.clone(), h.port)).chain(self.closed.iter().cloned());
        for (alias, port) in aliases {
            let key = if self.strangers.contains(&alias) { "stranger_key" } else { "user_key" };
            config.push_str(&format!(
                "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {}\n",
                dir.join(key).display()
            ));
        }
        config.push_str(&format!(
            "Host *\n  User root\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
            dir.join("known_hosts").display()
        ));
        std::fs::write(dir.join("ssh_config"), config).expect("ssh_config");
    }

    /// Replaces the known host key of `alias` with another key.
    fn change_known_key(&self, alias: &str) {
        let other = self.path().join("impostor_key");
        if !other.exists() {
            keygen(&other);
        }
        let impostor = std::fs::read_to_string(format!("{}.pub", other.display())).expect("impostor key");
        let impostor: Vec<&str> = impostor.split_whitespace().take(2).collect();
        let port = self.host(alias).port;
        let known = std::fs::read_to_string(self.path().join("known_hosts")).expect("known_hosts");
        let rewritten: String = known
            .lines()
            .map(|line| {
                if line.starts_with(&format!("[127.0.0.1]:{port} ")) {
                    format!("[127.0.0.1]:{port} {}\n", impostor.join(" "))
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        std::fs::write(self.path().join("known_hosts"), rewritten).expect("known_hosts");
    }

    /// Forgets the host key of `alias` (a host never seen before).
    fn forget_key(&self, alias: &str) {
        let port = self.host(alias).port;
        let known = std::fs::read_to_string(self.path().join("known_hosts")).expect("known_hosts");
        let kept: String = known
            .lines()
            .filter(|line| !line.starts_with(&format!("[127.0.0.1]:{port} ")))
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(self.path().join("known_hosts"), kept).expect("known_hosts");
    }

    /// `posture audit` of `targets` (aliases) over SSH into `out`.
    fn audit(&self, targets: &[&str], out: &str, extra: &[&str]) -> (Output, Value) {
        let output = self.audit_command(targets, out, extra).output().expect("posture runs");
        let path = self.path().join(out).join("report.json");
        assert!(path.exists(), "no report: {}", stderr(&output));
        let report = read_json(&path);
        (output, report)
    }

    fn audit_command(&self, targets: &[&str], out: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_posture"));
        command
            .current_dir(self.path())
            .env_remove("CI")
            .env_remove("POSTURE_HISTORY")
            .env("POSTURE_NO_HISTORY", "1")
            .args(["audit", "--ssh-config", "ssh_config", "--out", out, "--fail-on", "none", "--no-progress"]);
        for target in targets {
            command.args(["--target", target]);
        }
        command.args(extra);
        command
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "posture-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen {}", path.display());
}

/// A port free now and never handed out before in this test run (the tests
/// run in parallel and start sshds at the same time).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind(("127.0.0.1", 0)).expect("a free port").local_addr().expect("address").port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Every control of the report by id.
fn controls(report: &Value) -> BTreeMap<String, &Value> {
    let mut all = BTreeMap::new();
    for benchmark in report["benchmarks"].as_array().expect("benchmarks") {
        for section in benchmark["sections"].as_array().expect("sections") {
            for control in section["controls"].as_array().expect("controls") {
                all.insert(control["id"].as_str().expect("id").to_owned(), control);
            }
        }
    }
    all
}

/// A control's status on one target.
fn status_on(report: &Value, control: &str, target: &str) -> String {
    let all = controls(report);
    all[control]["targets"][target].as_str().unwrap_or_else(|| panic!("{control} has no status on {target}")).to_owned()
}

fn target<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["targets"].as_array().expect("targets").iter().find(|t| t["name"] == name).expect("target in report")
}

/// The unavailable reasons of a target's facts.
fn fact_reasons(report: &Value, name: &str) -> Vec<String> {
    report["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .filter(|f| f["target"] == name)
        .filter_map(|f| f["reason"].as_str().map(str::to_owned))
        .collect()
}

/// Every automated control judged on `name` is `error`, with `needle` in
/// each error finding of that host.
fn all_error_on(report: &Value, name: &str, needle: &str) {
    let counts = &target(report, name)["controls"];
    assert!(counts["total"].as_u64().expect("total") > 150, "{counts}");
    assert_eq!(counts["error"], counts["total"], "{name}: {counts}");
    for control in controls(report).values() {
        for finding in control["findings"].as_array().expect("findings") {
            if finding["target"] == name {
                assert_eq!(finding["status"], "error", "{finding}");
                let message = finding["message"].as_str().unwrap_or_default();
                assert!(message.contains(needle), "{name}: `{needle}` not in: {message}");
            }
        }
    }
}

const SSH_PROGRAMS: &[&str] = &["cat", "find", "uname", "sysctl", "dpkg-query", "rpm", "systemctl", "/usr/sbin/sshd"];

#[test]
fn hosts_over_ssh_are_audited_each_with_its_own_sshd_settings() {
    let Some(mut lab) = lab() else { return };
    lab.start("hardened", Profile::Hardened, &[]);
    lab.start("weak", Profile::Weak, &[]);
    std::fs::write(
        lab.path().join("posture.toml"),
        "[[targets]]\ntype = \"ssh\"\nname = \"hardened\"\naddress = \"hardened\"\ntags = [\"pci\"]\n\n\
         [[targets]]\ntype = \"ssh\"\nname = \"weak\"\naddress = \"weak\"\ntags = [\"pci\", \"dmz\"]\n",
    )
    .expect("posture.toml");
    let (output, report) = lab.audit(&["tag:pci"], "out", &["--jobs", "2"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // The SSH controls follow each host's own sshd.
    for control in ["5.1.6", "5.1.8", "5.1.15", "5.1.16", "5.1.19", "5.1.21"] {
        assert_eq!(status_on(&report, control, "hardened"), "pass", "{control} on hardened");
        assert_eq!(status_on(&report, control, "weak"), "fail", "{control} on weak");
        let counts = &controls(&report)[control]["target_counts"];
        assert_eq!((counts["fail"].as_u64(), counts["total"].as_u64()), (Some(1), Some(2)), "{control}");
    }
    assert_eq!(status_on(&report, "5.1.20", "weak"), "fail");
    let messages = crate::support::control_messages(&report, "5.1.20");
    assert!(messages.contains("'yes'"), "{messages}");
    // Everything else is this machine: the same on both hosts.
    for (id, control) in controls(&report) {
        if !id.starts_with("5.1.") && control["targets"].as_object().is_some_and(|t| t.len() == 2) {
            assert_eq!(control["targets"]["hardened"], control["targets"]["weak"], "{id}");
        }
    }
    // Each host name is its own (read over SSH, in the host's namespace).
    let os = |name: &str| {
        let bundle = read_json(&lab.path().join("out").join("facts.json"));
        let host = bundle["targets"].as_array().expect("targets").iter().find(|t| t["name"] == name).cloned();
        let facts = host.expect("target in the pack")["facts"].as_array().expect("facts").clone();
        facts.into_iter().find(|f| f["key"] == "host.os").expect("host.os")["value"]["hostname"].clone()
    };
    assert_eq!(os("weak"), "weak");
    assert_eq!(os("hardened"), "hardened");

    // One connection, a few round trips, every command declared and logged with its exit status.
    for name in ["hardened", "weak"] {
        let connection = &target(&report, name)["connection"];
        assert_eq!(connection["connected"], true, "{connection}");
        assert!(connection["error"].is_null(), "{connection}");
        let round_trips = connection["round_trips"].as_u64().expect("round trips");
        assert!((2..=6).contains(&round_trips), "{name}: {round_trips} round trips");
        let commands = connection["commands"].as_array().expect("commands");
        assert!(commands.len() > 50, "{name}: {} commands", commands.len());
        for command in commands {
            let line = command["command"].as_str().expect("command line");
            assert!(SSH_PROGRAMS.iter().any(|p| line.starts_with(&format!("{p} "))), "undeclared: {line}");
            assert!(command["round_trip"].as_u64().is_some_and(|n| n >= 1 && n <= round_trips), "{command}");
        }
        let uname = commands.iter().find(|c| c["command"] == "uname -r -m").expect("uname ran");
        assert_eq!(uname["exit_status"], 0, "{uname}");
        let sshd = commands.iter().find(|c| c["command"] == "/usr/sbin/sshd -T").expect("sshd -T ran");
        assert_eq!(sshd["exit_status"], 0, "{sshd}");
    }
    // The facts' sources are per host.
    let sources: Vec<&Value> = report["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .filter(|f| f["key"] == "host.sshd")
        .map(|f| &f["target"])
        .collect();
    assert_eq!(sources.len(), 2);

    // JUnit: a testsuite per host; HTML and Markdown say how many hosts fail.
    let junit = std::fs::read_to_string(lab.path().join("out/junit.xml")).expect("junit");
    let doc = roxmltree::Document::parse(&junit).expect("valid XML");
    let suites: Vec<&str> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert!(suites.contains(&"hardened") && suites.contains(&"weak"), "{suites:?}");
    let weak_suite =
        doc.root_element().children().find(|n| n.attribute("name") == Some("weak")).expect("the weak host's suite");
    let failing_case = weak_suite
        .children()
        .find(|n| n.attribute("name").is_some_and(|name| name.starts_with("5.1.16 ")))
        .expect("5.1.16 on weak");
    assert!(failing_case.children().any(|n| n.has_tag_name("failure")), "5.1.16 fails on weak in JUnit");
    let total: usize = doc.root_element().attribute("tests").and_then(|t| t.parse().ok()).expect("tests");
    let cases = doc.descendants().filter(|n| n.has_tag_name("testcase")).count();
    assert_eq!(total, cases, "the testsuites total matches the testcases");
    let html = std::fs::read_to_string(lab.path().join("out/report.html")).expect("html");
    assert!(html.contains("fails on 1 of 2 hosts"), "HTML per-control spread");
    assert!(html.contains("id=\"targets\""), "HTML targets section");
    let markdown = std::fs::read_to_string(lab.path().join("out/summary.md")).expect("markdown");
    assert!(markdown.contains("(fails on 1 of 2 hosts)"), "{markdown}");

    // An inventory name selects one host; `ssh://` addresses work too.
    let (output, report) = lab.audit(&["weak"], "one", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(report["targets"].as_array().map(Vec::len), Some(1));
    let port = lab.host("hardened").port;
    let identity = lab.path().join("user_key");
    let url = format!("ssh://root@127.0.0.1:{port}");
    let (output, report) =
        lab.audit(&[url.as_str()], "url", &["--identity-file", identity.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let name = format!("127.0.0.1:{port}");
    assert_eq!(status_on(&report, "5.1.16", &name), "pass");
}

#[test]
fn unreachable_refused_and_unknown_hosts_are_errors_while_the_others_complete() {
    let Some(mut lab) = lab() else { return };
    lab.start("hardened", Profile::Hardened, &[]);
    lab.start("unknown", Profile::Weak, &[]);
    lab.closed("down");
    lab.stranger("stranger", "hardened");
    lab.forget_key("unknown");
    let (output, report) = lab.audit(&["ssh://hardened", "ssh://down", "ssh://stranger", "ssh://unknown"], "out", &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(target(&report, "hardened")["connection"]["error"].is_null());
    assert_eq!(target(&report, "hardened")["controls"]["error"], 0, "{}", target(&report, "hardened"));
    assert_eq!(status_on(&report, "5.1.16", "hardened"), "pass");
    all_error_on(&report, "down", "Connection refused");
    all_error_on(&report, "stranger", "refused the login");
    all_error_on(&report, "unknown", "host key");
    let unknown = target(&report, "unknown")["connection"]["error"].as_str().expect("error").to_owned();
    assert!(unknown.contains("--accept-new-host-keys"), "{unknown}");
    let log = stderr(&output);
    assert!(log.contains("cannot reach down: ssh: connect to host 127.0.0.1"), "{log}");
    // The controls' roll-up: an unreachable host never passes.
    assert_eq!(status_on(&report, "5.1.16", "down"), "error");
    let junit = std::fs::read_to_string(lab.path().join("out/junit.xml")).expect("junit");
    let doc = roxmltree::Document::parse(&junit).expect("valid XML");
    let down = doc.root_element().children().find(|n| n.attribute("name") == Some("down")).expect("down's suite");
    assert_eq!(down.attribute("errors"), down.attribute("tests"));

    // Opting in records the unknown host's key; a known key is then verified.
    let (output, report) = lab.audit(&["ssh://unknown"], "accepted", &["--accept-new-host-keys"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(status_on(&report, "5.1.16", "unknown"), "fail");
    let known = std::fs::read_to_string(lab.path().join("known_hosts")).expect("known_hosts");
    assert!(known.contains(&format!("[127.0.0.1]:{}", lab.host("unknown").port)), "{known}");
}

#[test]
fn a_changed_host_key_is_refused_even_with_accept_new() {
    let Some(mut lab) = lab() else { return };
    lab.start("hardened", Profile::Hardened, &[]);
    lab.change_known_key("hardened");
    for extra in [&[][..], &["--accept-new-host-keys"][..]] {
        let (output, report) = lab.audit(&["ssh://hardened"], "out", extra);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        all_error_on(&report, "hardened", "host key");
        let error = target(&report, "hardened")["connection"]["error"].as_str().expect("error").to_owned();
        assert!(error.contains("CHANGED"), "{error}");
        for reason in fact_reasons(&report, "hardened") {
            assert!(reason.contains("host key verification failed for hardened"), "{reason}");
        }
    }
}

#[test]
fn a_host_that_dies_mid_run_reports_errors_and_the_other_completes() {
    let Some(mut lab) = lab() else { return };
    // On the dying host, `uname` (run in the first round trip) blocks until
    // the test has killed the host: the kill lands mid-collection.
    let started = lab.path().join("uname-started");
    let real = lab.path().join("real-uname");
    std::fs::copy("/bin/uname", &real).expect("copy uname");
    let slow = lab.path().join("slow-uname");
    std::fs::write(&slow, format!("#!/bin/sh\n: > {}\nsleep 60\nexec {} \"$@\"\n", started.display(), real.display()))
        .expect("slow uname");
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    lab.start("hardened", Profile::Hardened, &[]);
    lab.start("dying", Profile::Hardened, &[(slow, "/usr/bin/uname")]);
    let child = lab
        .audit_command(&["ssh://hardened", "ssh://dying"], "out", &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("posture runs");
    let waiting = Instant::now();
    while !started.exists() {
        assert!(waiting.elapsed() < Duration::from_secs(90), "the dying host's uname never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.host_mut("dying").kill();
    let output = child.wait_with_output().expect("posture ends");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = read_json(&lab.path().join("out/report.json"));
    all_error_on(&report, "dying", "lost the connection to dying");
    let hardened = target(&report, "hardened");
    assert!(hardened["connection"]["error"].is_null(), "{hardened}");
    assert_eq!(hardened["controls"]["error"], 0, "{hardened}");
    assert_eq!(hardened["controls"]["total"], target(&report, "dying")["controls"]["total"]);
    assert!(fact_reasons(&report, "hardened").iter().all(|r| !r.contains("connection")));
    assert_eq!(status_on(&report, "5.1.16", "hardened"), "pass");
    let dying = &target(&report, "dying")["connection"];
    assert_eq!(dying["connected"], true, "{dying}");
    let lost: Vec<&Value> =
        dying["commands"].as_array().expect("commands").iter().filter(|c| c["note"] == "connection lost").collect();
    assert!(!lost.is_empty(), "the commands cut short are logged: {dying}");
}

#[test]
fn a_host_past_its_timeout_is_an_error_and_the_other_completes() {
    let Some(mut lab) = lab() else { return };
    // `uname` never answers in time on the slow host.
    let slow = lab.path().join("slow-uname");
    std::fs::write(&slow, "#!/bin/sh\nsleep 60\n").expect("slow uname");
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    lab.start("hardened", Profile::Hardened, &[]);
    lab.start("slow", Profile::Hardened, &[(slow, "/usr/bin/uname")]);
    let started = Instant::now();
    let (output, report) = lab.audit(&["ssh://hardened", "ssh://slow"], "out", &["--host-timeout", "8"]);
    assert!(started.elapsed() < Duration::from_secs(45), "the timeout was not applied: {:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    all_error_on(&report, "slow", "timed out");
    assert_eq!(target(&report, "hardened")["controls"]["error"], 0);
}

#[test]
fn sudo_runs_the_root_facts_and_a_refusal_is_named() {
    let Some(mut lab) = lab() else { return };
    // Stand-in sudo commands first on the session PATH of each host: one
    // that refuses as `sudo -n` does without NOPASSWD, one that runs the command.
    let refusing = lab.path().join("refusing");
    let granting = lab.path().join("granting");
    for (dir, body) in [
        (&refusing, "#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n".to_owned()),
        (&granting, format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\n[ \"$1\" = -n ] && shift\n[ \"$1\" = -- ] && shift\nexec \"$@\"\n", lab.path().join("sudo.log").display())),
    ] {
        std::fs::create_dir_all(dir).expect("dir");
        let sudo = dir.join("sudo");
        std::fs::write(&sudo, body).expect("fake sudo");
        std::fs::set_permissions(&sudo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    }
    lab.start("refusing", Profile::Hardened, &[(refusing.clone(), "/usr/local/sbin")]);
    lab.start("granting", Profile::Weak, &[(granting.clone(), "/usr/local/sbin")]);
    let (output, report) = lab.audit(&["ssh://refusing", "ssh://granting"], "out", &["--sudo"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    // Refused: the facts that need root are unavailable, saying why; the others are fine.
    assert_eq!(status_on(&report, "5.1.16", "refusing"), "error");
    let messages = crate::support::control_messages(&report, "5.1.16");
    assert!(messages.contains("sudo refused on refusing: sudo: a password is required"), "{messages}");
    assert_eq!(status_on(&report, "5.2.1", "refusing"), status_on(&report, "5.2.1", "granting"));
    // Granted: the root facts ran through `sudo -n --` and were judged.
    assert_eq!(status_on(&report, "5.1.16", "granting"), "fail");
    let sudo_log = std::fs::read_to_string(lab.path().join("sudo.log")).expect("sudo ran");
    assert!(sudo_log.contains("-n -- /usr/sbin/sshd -T"), "{sudo_log}");
    assert!(sudo_log.contains("-n -- cat /etc/shadow"), "{sudo_log}");
    assert!(!sudo_log.contains("cat /etc/passwd"), "only the facts that need root use sudo: {sudo_log}");
    let commands = target(&report, "granting")["connection"]["commands"].as_array().expect("commands").clone();
    assert!(commands.iter().any(|c| c["command"] == "sudo -n -- /usr/sbin/sshd -T" && c["exit_status"] == 0));
}

#[test]
fn explain_lists_the_commands_a_check_runs_on_a_host() {
    let output = crate::support::posture(Path::new("."), &["explain", "linux_sshd_root_login_disabled"]);
    let text = crate::support::stdout(&output);
    assert!(text.contains("commands:      /usr/sbin/sshd -T (needs root)"), "{text}");
    let output = crate::support::posture(Path::new("."), &["explain", "aws_iam_password_policy_min_length_14"]);
    assert!(!crate::support::stdout(&output).contains("commands:"));
}

#[test]
fn the_report_schema_accepts_host_connections() {
    let schema: Value = serde_json::from_str(include_str!("../../templates/report.schema.json")).expect("schema");
    let target = &schema["definitions"]["Target"]["properties"];
    assert!(target.get("connection").is_some() && target.get("controls").is_some(), "{target}");
}
