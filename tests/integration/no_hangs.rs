//! Nothing hangs and nothing passes for nothing: content and host files that
//! would block (FIFOs, `/dev/zero`, link loops, a link to `/`) are refused
//! with their path and reason; an audit that would judge nothing exits 2
//! with the reason; an out-of-range option is a clear error, not a panic.
//!
//! Every run of the binary has a kill timeout (60 s, far above what any of
//! these needs) and the test asserts it ended by itself.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, control_messages, control_status, read_json, scratch};

/// How long a run may take before it counts as hung.
const HUNG_AFTER: Duration = Duration::from_secs(60);

/// What a bounded run of posture gave.
struct Finished {
    code: Option<i32>,
    stderr: String,
}

/// Runs `program args` in `dir` (output to files, so a full pipe never
/// blocks it), kills it when it has not ended within [`HUNG_AFTER`], and
/// fails the test if it had to be killed.
fn bounded(dir: &Path, program: &str, args: &[&str]) -> Finished {
    let stdout_path = dir.join(".posture-test-stdout");
    let stderr_path = dir.join(".posture-test-stderr");
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("POSTURE_HISTORY")
        .env("POSTURE_NO_HISTORY", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("the program runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > HUNG_AFTER {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let status =
        status.unwrap_or_else(|| panic!("`{program} {}` hung and was killed; stderr:\n{stderr}", args.join(" ")));
    Finished { code: status.code(), stderr }
}

fn posture(dir: &Path, args: &[&str]) -> Finished {
    bounded(dir, env!("CARGO_BIN_EXE_posture"), args)
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// A check reading `fact` and passing whatever it holds: only an
/// unavailable fact can make it anything but pass.
fn check(id: &str, fact: &str) -> String {
    format!(
        "//! id = \"{id}\"\n//! title = \"t\"\n//! severity = \"low\"\n//! resource_type = \"file\"\n//! facts = [\"{fact}\"]\n\
         //! rationale = \"r\"\n//! remediation = \"m\"\n\nfn check(facts) {{\n    let v = facts.get(\"{fact}\");\n    \
         [pass(\"file\", `read ${{v}}`)]\n}}\n"
    )
}

/// A content folder whose one check reads `host.text:<path>`.
fn text_content(path: &str) -> tempfile::TempDir {
    scratch(&[
        ("content/hang-bench.toml", &hang_benchmark(&[("Reads a host file", "linux_hang_text")])),
        ("content/checks/linux/hang/linux_hang_text.rhai", &check("linux_hang_text", &format!("host.text:{path}"))),
        ("facts.json", crate::catalog::BUNDLE),
    ])
}

#[test]
fn content_that_would_block_or_escape_is_refused_with_its_path() {
    type Plant = fn(&Path);
    let cases: [(&str, Plant, &str); 5] = [
        (
            "a link to /",
            |c| std::os::unix::fs::symlink("/", c.join("checks/linux/root")).expect("link"),
            "outside the content directory",
        ),
        (
            "a link loop",
            |c| std::os::unix::fs::symlink("..", c.join("checks/linux/hang/up")).expect("link"),
            "symbolic link loop",
        ),
        (
            "a self loop",
            |c| std::os::unix::fs::symlink("self.rhai", c.join("checks/linux/self.rhai")).expect("link"),
            "symbolic link loop",
        ),
        (
            "a FIFO check",
            |c| mkfifo(&c.join("checks/linux/hang/linux_fifo.rhai")),
            "is a FIFO (named pipe), not a regular file",
        ),
        ("a FIFO benchmark", |c| mkfifo(&c.join("fifo.toml")), "is a FIFO (named pipe), not a regular file"),
    ];
    for (what, plant, reason) in cases {
        let dir = text_content("/etc/hostname");
        let content = dir.path().join("content");
        plant(&content);
        let run = posture(dir.path(), &["audit", "--facts", "facts.json", "--content", "content", "--out", "out"]);
        assert_eq!(run.code, Some(2), "{what}: {}", run.stderr);
        assert!(run.stderr.contains(reason), "{what}: no {reason:?} in {}", run.stderr);
        assert!(run.stderr.contains("content/"), "{what}: the message names the path: {}", run.stderr);
        let validate = posture(dir.path(), &["validate", "--content", "content"]);
        assert_eq!(validate.code, Some(2), "{what} (validate): {}", validate.stderr);
    }
}

#[test]
fn a_link_inside_the_content_folder_is_still_followed() {
    let dir = text_content("/etc/hostname");
    let content = dir.path().join("content");
    std::fs::rename(content.join("hang-bench.toml"), content.join("real.toml.txt")).expect("rename");
    std::os::unix::fs::symlink("real.toml.txt", content.join("hang-bench.toml")).expect("link");
    let run = posture(dir.path(), &["validate", "--content", "content"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn host_text_of_a_fifo_or_dev_zero_is_unavailable_with_the_reason() {
    let holder = tempfile::tempdir().expect("temp dir");
    let fifo = holder.path().join("login.defs");
    mkfifo(&fifo);
    let zero = holder.path().join("limits.conf");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("link");
    for (path, reason) in
        [(&fifo, "is a FIFO (named pipe), not a regular file"), (&zero, "is a character device, not a regular file")]
    {
        let path = path.to_str().expect("utf-8 path");
        let dir = text_content(path);
        let run = posture(
            dir.path(),
            &["audit", "--target", "local", "--content", "content", "--benchmark", "hang-bench", "--out", "out"],
        );
        assert_eq!(run.code, Some(2), "{path}: {}", run.stderr);
        let report = read_json(&dir.path().join("out/report.json"));
        assert_eq!(control_status(&report, "1.1"), "error", "{path}");
        let messages = control_messages(&report, "1.1");
        assert!(messages.contains(&format!("{path} {reason}")), "{path}: {messages}");
    }
}

/// Whether this machine can give a process its own mount namespace.
fn can_unshare() -> bool {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let unshare = Command::new("unshare").args(["--mount", "--propagation", "private", "true"]).output();
    root && unshare.map(|o| o.status.success()).unwrap_or(false)
}

#[test]
fn host_facts_over_fifos_and_dev_zero_are_unavailable_not_hung() {
    if !can_unshare() {
        assert!(std::env::var_os("CI").is_none(), "this test needs root and `unshare --mount` in CI");
        eprintln!("skipping: needs root and `unshare --mount` (a mount namespace)");
        return;
    }
    let benchmark = hang_benchmark(&[
        ("login.defs", "linux_hang_login_defs"),
        ("pam", "linux_hang_pam"),
        ("limits", "linux_hang_limits"),
    ]);
    let dir = scratch(&[
        ("content/hang-bench.toml", &benchmark),
        ("content/checks/linux/hang/linux_hang_login_defs.rhai", &check("linux_hang_login_defs", "host.login_defs")),
        ("content/checks/linux/hang/linux_hang_pam.rhai", &check("linux_hang_pam", "host.pam")),
        ("content/checks/linux/hang/linux_hang_limits.rhai", &check("linux_hang_limits", "host.limits")),
    ]);
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let posture_path = env!("CARGO_BIN_EXE_posture");
    // Inside its own mount namespace, the host's files are replaced for this
    // run only: a FIFO at /etc/login.defs and at a PAM file, /dev/zero at
    // /etc/security/limits.conf.
    let script = format!(
        "set -e; touch /etc/login.defs /etc/pam.d/common-password /etc/security/limits.conf; \
         mount --bind {fifo} /etc/login.defs; mount --bind {fifo} /etc/pam.d/common-password; \
         mount --bind /dev/zero /etc/security/limits.conf; \
         exec {posture_path} audit --target local --content content --benchmark hang-bench --out out",
        fifo = fifo.display()
    );
    let run = bounded(dir.path(), "unshare", &["--mount", "--propagation", "private", "--", "/bin/sh", "-c", &script]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let report = read_json(&dir.path().join("out/report.json"));
    for (control, reason) in [
        ("1.1", "/etc/login.defs is a FIFO (named pipe), not a regular file"),
        ("1.2", "/etc/pam.d/common-password is a FIFO (named pipe), not a regular file"),
        ("1.3", "/etc/security/limits.conf is a character device, not a regular file"),
    ] {
        assert_eq!(control_status(&report, control), "error", "{control}");
        let messages = control_messages(&report, control);
        assert!(messages.contains(reason), "{control}: no {reason:?} in {messages}");
    }
}

#[test]
fn an_audit_that_judges_nothing_exits_2_with_the_reason() {
    let no_controls =
        "id = \"empty-bench\"\ntitle = \"Empty\"\nversion = \"1.0\"\nprovider = \"linux\"\nsections = []\ncontrols = []\n";
    let no_targets =
        r#"{ "bundle_version": 1, "recorded_by": "test", "recorded_at": "2026-01-01T00:00:00Z", "targets": [] }"#;
    let unknown_provider = crate::catalog::BUNDLE.replace("\"provider\": \"linux\"", "\"provider\": \"windows\"");
    let dir = scratch(&[
        ("content/hang-bench.toml", &hang_benchmark(&[("Reads a host file", "linux_hang_text")])),
        ("content/empty-bench.toml", no_controls),
        ("content/checks/linux/hang/linux_hang_text.rhai", &check("linux_hang_text", "host.sysctl")),
        ("facts.json", crate::catalog::BUNDLE),
        ("empty.json", no_targets),
        ("windows.json", &unknown_provider),
    ]);
    let audit = |extra: &[&str]| {
        let mut args = vec!["audit", "--content", "content", "--out", "out"];
        args.extend_from_slice(extra);
        posture(dir.path(), &args)
    };
    let cases: [(&[&str], &str); 5] = [
        (&["--facts", "empty.json"], "holds no target: nothing would be judged"),
        (&["--facts", "windows.json"], "provider 'windows' is not one posture has checks for (known: linux, aws)"),
        (&["--facts", "facts.json", "--benchmark", "hang-bench", "--skip", "*"], "excludes every selected control"),
        (&["--facts", "facts.json", "--benchmark", "empty-bench"], "define no control: nothing would be judged"),
        (
            &["--facts", "facts.json", "--benchmark", "hang-bench", "--controls", "9.*"],
            "--controls 9.* matches no control of hang-bench",
        ),
    ];
    for (args, reason) in cases {
        let run = audit(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(reason), "{args:?}: no {reason:?} in {}", run.stderr);
        assert!(!dir.path().join("out/report.json").exists(), "{args:?}: refused before any report");
    }
    // The same content with a control left to judge is a normal audit.
    let run = audit(&["--facts", "facts.json", "--benchmark", "hang-bench"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn out_of_range_options_are_clear_errors() {
    let dir = scratch(&[("facts.json", crate::catalog::BUNDLE)]);
    let huge = "18446744073709551615";
    let cases: [(&[&str], &str); 10] = [
        (
            &["audit", "--facts", "facts.json", "--script-timeout", huge],
            "--script-timeout 18446744073709551615: out of range (accepted: 1 to 86400 seconds)",
        ),
        (&["audit", "--facts", "facts.json", "--script-timeout", "0"], "--script-timeout 0: out of range"),
        (
            &["audit", "--facts", "facts.json", "--host-timeout", huge],
            "--host-timeout 18446744073709551615: out of range (accepted: 1 to 86400 seconds)",
        ),
        (&["audit", "--facts", "facts.json", "--host-timeout", "0"], "--host-timeout 0: out of range"),
        (&["audit", "--facts", "facts.json", "--jobs", "0"], "--jobs 0: out of range (accepted: 1 to 1024)"),
        (&["audit", "--facts", "facts.json", "--jobs", "100000"], "--jobs 100000: out of range (accepted: 1 to 1024)"),
        (&["audit", "--facts", "facts.json", "--max-operations", "0"], "--max-operations 0: out of range"),
        (&["history", "--limit", "99999999999999999999999"], "--limit"),
        (
            &["audit", "--facts", "facts.json", "--render-timeout", huge],
            "--render-timeout 18446744073709551615: out of range (accepted: 1 to 86400 seconds)",
        ),
        (&["verify", "facts.json", "--render-timeout", "0"], "--render-timeout 0: out of range"),
    ];
    for (args, message) in cases {
        let run = posture(dir.path(), args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: no {message:?} in {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
}

fn hang_benchmark(controls: &[(&str, &str)]) -> String {
    support::linux_benchmark("hang-bench", "Hang benchmark", controls)
}

/// A template whose loops, nested over the report's facts, would run for
/// years while writing nothing (no size cap sees it).
pub const NESTED_LOOPS_TEMPLATE: &str = "{% for a in report.facts %}{% for b in report.facts %}\
{% for c in report.facts %}{% for d in report.facts %}{% for e in report.facts %}{% for f in report.facts %}\
{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}done\n";

#[test]
fn a_template_looping_for_years_is_given_up_after_the_render_timeout() {
    // The sample host's 58 facts: 58^6 iterations.
    let sample = std::fs::read_to_string(support::sample_bundle()).expect("sample bundle");
    let dir = scratch(&[("facts.json", &sample), ("templates/summary.md", NESTED_LOOPS_TEMPLATE)]);
    let started = Instant::now();
    let run = posture(
        dir.path(),
        &["audit", "--facts", "facts.json", "--templates", "templates", "--render-timeout", "2", "--out", "out"],
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("template summary.md: rendering took longer than 2 seconds (--render-timeout)"),
        "{}",
        run.stderr
    );
    // Given up, not waited for: far less than the loops would take.
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(!dir.path().join("out").exists(), "no partial output folder");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("posture") && !name.starts_with(".posture-test-"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}
