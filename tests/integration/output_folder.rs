//! The output folder is posture's alone, through the real binary: files
//! posture did not write in `--out` (a user's key, links) are never packed
//! nor deleted and the audit is refused naming them; a crafted manifest
//! deletes nothing; repeated audits replace only posture's own output;
//! output paths inside `--out` are refused; SIGTERM and concurrent audits
//! leave a complete pack that verifies and nothing partial beside it, and
//! so does a full disk; a fact bundle is written whole, 0600, clobbering nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support;

const FAKE_KEY: &str = "FAKE-PRIVATE-KEY-0123456789";
const FAKE_SHADOW: &str = "root:FAKE-SHADOW-HASH-9876543210";

fn audit(dir: &Path, extra: &[&str]) -> std::process::Output {
    let bundle = support::sample_bundle();
    let content = support::content_dir();
    let mut args = vec!["audit", "--facts", bundle.to_str().expect("utf-8"), "--content"];
    args.push(content.to_str().expect("utf-8"));
    args.extend_from_slice(&["--no-history", "-q"]);
    args.extend_from_slice(extra);
    support::posture(dir, &args)
}

fn audit_ok(dir: &Path, extra: &[&str]) {
    let out = audit(dir, extra);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{extra:?}: {}", support::stderr(&out));
}

fn verifies(dir: &Path, pack: &str) {
    let out = support::posture(dir, &["verify", pack, "--allow-unpinned"]);
    assert_eq!(out.status.code(), Some(0), "{pack}: {}{}", support::stdout(&out), support::stderr(&out));
}

/// Entries of `dir` a run left in the user's way (staging folders, partial archives).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("posture-staging") || name.contains("partial"))
        .collect()
}

fn all_text_below(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).expect("read") {
        let path = entry.expect("entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("meta");
        if meta.is_dir() {
            text.push_str(&all_text_below(&path));
        } else if meta.is_file() {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).expect("read")));
        }
    }
    text
}

#[test]
fn user_files_in_out_are_neither_packed_nor_deleted_and_the_audit_is_refused() {
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path();
    audit_ok(dir, &["--out", "out", "--pack", "pack.tar.gz"]);
    std::fs::create_dir_all(dir.join("out/.ssh")).expect("mkdir");
    std::fs::write(dir.join("out/.ssh/id_ed25519"), FAKE_KEY).expect("key");
    std::fs::write(dir.join("shadow"), FAKE_SHADOW).expect("shadow");
    std::os::unix::fs::symlink(dir.join("shadow"), dir.join("out/shadow-link")).expect("link");
    let before = std::fs::read(dir.join("pack.tar.gz")).expect("pack");

    let out = audit(dir, &["--out", "out", "--pack", "pack.tar.gz"]);
    let stderr = support::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(".ssh") && stderr.contains("shadow-link (a link)"), "names the entries: {stderr}");
    assert!(stderr.contains("move these away"), "says what to do: {stderr}");
    assert!(!stderr.contains("id_ed25519"), "a foreign folder is named, not its contents: {stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("out/.ssh/id_ed25519")).expect("kept"), FAKE_KEY);
    assert_eq!(std::fs::read_to_string(dir.join("shadow")).expect("kept"), FAKE_SHADOW);
    assert!(std::fs::symlink_metadata(dir.join("out/shadow-link")).is_ok(), "the link is kept");
    assert_eq!(std::fs::read(dir.join("pack.tar.gz")).expect("pack"), before, "the archive is untouched");
    assert!(dir.join("out/report.json").is_file(), "the previous reports are kept");
    assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));

    // A folder without posture's marker is refused too, whatever it holds.
    std::fs::create_dir_all(dir.join("mine")).expect("mkdir");
    std::fs::write(dir.join("mine/report.json"), "my own notes").expect("write");
    let out = audit(dir, &["--out", "mine"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("report.json"), "{}", support::stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("mine/report.json")).expect("kept"), "my own notes");

    // Nothing foreign ever entered a pack.
    let unpacked = dir.join("unpacked");
    std::fs::create_dir_all(&unpacked).expect("mkdir");
    let status = Command::new("tar").arg("-xzf").arg(dir.join("pack.tar.gz")).arg("-C").arg(&unpacked).status();
    assert!(status.expect("tar").success());
    let packed = all_text_below(&unpacked);
    assert!(!packed.contains(FAKE_KEY) && !packed.contains(FAKE_SHADOW));
}

#[test]
fn a_crafted_manifest_or_marker_through_a_link_deletes_nothing() {
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path();
    std::fs::create_dir_all(dir.join("victim")).expect("mkdir");
    std::fs::write(dir.join("victim/keep.txt"), "precious").expect("write");
    audit_ok(dir, &["--out", "out"]);
    std::os::unix::fs::symlink(dir.join("victim"), dir.join("out/content/escape")).expect("link");
    // A manifest and a marker that claim the file behind the link.
    for name in ["manifest.json", ".posture-output"] {
        let path = dir.join("out").join(name);
        let mut json = support::read_json(&path);
        match name {
            "manifest.json" => {
                json["files"]["content/escape/keep.txt"] = serde_json::json!("00");
            }
            _ => json["files"].as_array_mut().expect("files").push("content/escape/keep.txt".into()),
        }
        std::fs::write(&path, serde_json::to_string(&json).expect("json")).expect("write");
    }
    let out = audit(dir, &["--out", "out"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("content/escape (a link)"), "{}", support::stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("victim/keep.txt")).expect("kept"), "precious");
}

#[test]
fn out_as_a_link_is_refused() {
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path();
    std::fs::create_dir_all(dir.join("real")).expect("mkdir");
    std::os::unix::fs::symlink(dir.join("real"), dir.join("out")).expect("link");
    let out = audit(dir, &["--out", "out"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("symbolic link"), "{}", support::stderr(&out));
    assert_eq!(std::fs::read_dir(dir.join("real")).expect("read").count(), 0, "nothing written behind the link");
}

#[test]
fn repeated_audits_replace_only_posture_files_and_set_modes() {
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path();
    // A stale staging folder of a run that is gone (killed with SIGKILL).
    let stale = dir.join(".out.posture-staging-4194999-dead");
    std::fs::create_dir_all(&stale).expect("mkdir");
    std::fs::write(stale.join(".posture-output"), r#"{"tool":"posture","run_id":"x","files":[]}"#).expect("marker");
    std::fs::write(stale.join("report.json"), "{}").expect("report");

    audit_ok(dir, &["--out", "out", "--format", "json,md,html,junit", "--pack", "pack.tar.gz"]);
    assert!(dir.join("out/summary.md").is_file());
    assert!(!stale.exists(), "the stale staging folder is removed");
    audit_ok(dir, &["--out", "out", "--format", "json", "--pack", "pack.tar.gz"]);
    assert!(!dir.join("out/summary.md").exists(), "the previous run's summary is replaced with the folder");
    verifies(dir, "out");
    verifies(dir, "pack.tar.gz");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["out", "pack.tar.gz"], "nothing else beside the output");

    let manifest = support::read_json(&dir.join("out/manifest.json"));
    let files: Vec<&String> = manifest["files"].as_object().expect("files").keys().collect();
    assert!(files.iter().any(|f| *f == ".posture-output"), "the marker is a file of the pack");
    let marker = support::read_json(&dir.join("out/.posture-output"));
    assert_eq!(marker["tool"], "posture");
    assert_eq!(marker["run_id"], manifest["run_id"]);
    let listed = marker["files"].as_array().expect("files");
    for file in &files {
        assert!(listed.iter().any(|l| l == *file), "{file} is in the marker");
    }
    let mode = |path: &str| std::fs::metadata(dir.join(path)).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode("out/report.json"), 0o644);
    assert_eq!(mode("out/facts.json"), 0o600);
    assert_eq!(mode("pack.tar.gz"), 0o600);
}

#[test]
fn output_paths_inside_out_or_over_each_other_are_refused() {
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path();
    let cases: [(&[&str], &str); 4] = [
        (&["--out", "out", "--save-facts", "out/facts.json"], "--save-facts out/facts.json: inside the output folder"),
        (
            &["--out", "out", "--pack", "./out/../out/p.tar.gz"],
            "--pack ./out/../out/p.tar.gz: inside the output folder",
        ),
        (&["--out", "out/sub", "--pack", "out"], "--pack out: the output folder --out out/sub is at or below it"),
        (&["--out", "out", "--save-facts", "x.tar.gz", "--pack", "./x.tar.gz"], "--save-facts and --pack both name"),
    ];
    for (args, message) in cases {
        let out = audit(dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", support::stderr(&out));
        assert!(support::stderr(&out).contains(message), "{args:?}: {}", support::stderr(&out));
    }
    assert_eq!(std::fs::read_dir(dir).expect("read").count(), 0, "refused before anything was written");
}

#[test]
fn sigterm_during_an_audit_leaves_the_old_or_the_new_complete_pack() {
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path();
    audit_ok(dir, &["--out", "out", "--pack", "pack.tar.gz"]);
    for round in 0..8u64 {
        let mut child = spawn_audit(dir, &["--pack", "pack.tar.gz", "--save-facts", "facts.json"], Stdio::null());
        // Different moments of the run: reading, evaluating, writing.
        std::thread::sleep(std::time::Duration::from_millis(round * 400));
        let pid = rustix::process::Pid::from_child(&child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let status = child.wait().expect("wait");
        assert!(matches!(status.code(), Some(0..=1 | 143) | None), "round {round}: {status:?}");
        verifies(dir, "out");
        verifies(dir, "pack.tar.gz");
        if dir.join("facts.json").exists() {
            let bundle = support::read_json(&dir.join("facts.json"));
            assert_eq!(bundle["targets"].as_array().map(Vec::len), Some(1), "round {round}: a complete bundle");
        }
        assert!(leftovers(dir).is_empty(), "round {round}: {:?}", leftovers(dir));
    }
}

#[test]
fn a_fact_bundle_is_written_whole_private_and_beside_nothing_of_the_users() {
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path();
    // The names a bundle written "through a .partial file" used to clobber.
    std::fs::write(dir.join("facts.partial"), "the user's own file").expect("user file");
    audit_ok(dir, &["--out", "out", "--save-facts", "facts.json"]);
    audit_ok(dir, &["--out", "out", "--save-facts", "facts.json"]);
    assert_eq!(std::fs::read_to_string(dir.join("facts.partial")).expect("kept"), "the user's own file");
    let mode = std::fs::metadata(dir.join("facts.json")).expect("bundle").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the facts describe the audited systems: private");
    let mut names: Vec<String> =
        std::fs::read_dir(dir).expect("read").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["facts.json", "facts.partial", "out"]);
}

/// The space `dir`'s files take on a tmpfs (whole 4 KiB pages).
fn space_taken(path: &Path) -> u64 {
    let meta = std::fs::symlink_metadata(path).expect("meta");
    if meta.is_dir() {
        std::fs::read_dir(path).expect("read").flatten().map(|e| space_taken(&e.path())).sum::<u64>() + 4096
    } else {
        meta.len().div_ceil(4096) * 4096
    }
}

#[test]
fn a_full_disk_leaves_the_old_complete_pack_and_nothing_partial() {
    if !support::can_unshare() {
        eprintln!("skipping: `unshare --mount` does not work here");
        return;
    }
    let work = tempfile::tempdir().expect("tmp");
    audit_ok(work.path(), &["--out", "probe", "--pack", "probe.tar.gz"]);
    let one_output = space_taken(&work.path().join("probe")) + space_taken(&work.path().join("probe.tar.gz"));
    // Room for one output and a half: the first audit fits; the second runs
    // out of space while its staging folder sits beside the first output.
    let disk = work.path().join("disk");
    std::fs::create_dir(&disk).expect("mount point");
    let audit = format!(
        "'{posture}' audit --no-history -q --facts '{bundle}' --content '{content}' --out out --pack pack.tar.gz",
        posture = env!("CARGO_BIN_EXE_posture"),
        bundle = support::sample_bundle().display(),
        content = support::content_dir().display(),
    );
    let verify = format!("'{}' verify --allow-unpinned", env!("CARGO_BIN_EXE_posture"));
    let script = format!(
        "set -u; mount -t tmpfs -o size={size}k posture-test '{disk}' && cd '{disk}' || exit 99
        {audit}; echo first=$?
        {audit} 2>second.err; echo second=$?; cat second.err >&2; rm second.err
        {verify} out >/dev/null; echo verify_folder=$?
        {verify} pack.tar.gz >/dev/null; echo verify_archive=$?
        echo entries=$(ls -A | tr '\\n' ' ')",
        size = (one_output * 3 / 2).div_ceil(1024),
        disk = disk.display(),
    );
    let run = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("POSTURE_NO_HISTORY", "1")
        .env("TMPDIR", work.path())
        .output()
        .expect("unshare runs");
    let said = support::stdout(&run);
    let errors = support::stderr(&run);
    assert!(said.contains("first=0") || said.contains("first=1"), "the first audit fits:\n{said}\n{errors}");
    for expected in ["second=2", "verify_folder=0", "verify_archive=0", "entries=out pack.tar.gz\n"] {
        assert!(said.contains(expected), "no {expected:?} in:\n{said}\nstderr:\n{errors}");
    }
    assert!(errors.contains("No space left on device"), "the second audit says why it failed:\n{errors}");
}

#[test]
fn concurrent_audits_on_one_out_always_leave_a_pack_that_verifies() {
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path();
    for round in 0..12 {
        let children: Vec<_> = (0..2).map(|_| spawn_audit(dir, &[], Stdio::piped())).collect();
        for child in children {
            let output = child.wait_with_output().expect("wait");
            assert!(output.status.code().is_some_and(|c| c <= 1), "round {round}: {}", support::stderr(&output));
        }
        verifies(dir, "out");
        assert!(leftovers(dir).is_empty(), "round {round}: {:?}", leftovers(dir));
    }
}

/// Starts an audit of the sample bundle into `dir/out` (plus `extra` arguments), without waiting.
fn spawn_audit(dir: &Path, extra: &[&str], stderr: Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["audit", "--no-history", "-q", "--out", "out", "--facts"])
        .arg(support::sample_bundle())
        .arg("--content")
        .arg(support::content_dir())
        .args(extra)
        .current_dir(dir)
        .env("POSTURE_NO_HISTORY", "1")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn")
}
