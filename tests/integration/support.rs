//! Helpers shared by the integration tests: paths, running the real binary,
//! and scratch content directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn content_dir() -> PathBuf {
    repo_root().join("benchmarks")
}

pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

pub fn sample_bundle() -> PathBuf {
    repo_root().join("samples").join("misconfigured-host").join("facts.json")
}

/// The real `posture` binary, run in `dir` with a clean environment and no
/// audit history (never the user's; history tests choose theirs).
pub fn posture(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("POSTURE_HISTORY")
        .env("POSTURE_NO_HISTORY", "1")
        .output()
        .expect("the posture binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `files` (relative path, content) under a new temporary directory.
pub fn scratch(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (relative, content) in files {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
    }
    dir
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A control of a report.json, by control id.
pub fn control<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["benchmarks"]
        .as_array()
        .expect("benchmarks")
        .iter()
        .flat_map(|b| b["sections"].as_array().expect("sections"))
        .flat_map(|s| s["controls"].as_array().expect("controls"))
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("control {id} not in the report"))
}

/// Status of a control in a report.json, by control id.
pub fn control_status(report: &serde_json::Value, id: &str) -> String {
    control(report, id)["status"].as_str().expect("status").to_owned()
}

/// Messages of a control's findings, joined.
pub fn control_messages(report: &serde_json::Value, id: &str) -> String {
    control(report, id)["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file below `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A linux benchmark of one section whose controls `1.1`, `1.2`, ... each
/// run one check: `(control title, check id)`.
pub fn linux_benchmark(id: &str, title: &str, controls: &[(&str, &str)]) -> String {
    let mut text = format!(
        "id = \"{id}\"\ntitle = \"{title}\"\nversion = \"1.0\"\nprovider = \"linux\"\n\n\
         [[sections]]\nid = \"1\"\ntitle = \"Everything\"\n"
    );
    for (index, (control_title, check)) in controls.iter().enumerate() {
        text.push_str(&format!(
            "\n[[controls]]\nid = \"1.{}\"\ntitle = \"{control_title}\"\nassessment = \"automated\"\n\
             checks = [\"{check}\"]\n",
            index + 1
        ));
    }
    text
}

/// Writes `report` as the pack's report.json and re-hashes the pack: a
/// forged report, as a forger without the signing key leaves it.
pub fn forge_report(pack: &Path, report: &serde_json::Value) {
    std::fs::write(pack.join("report.json"), serde_json::to_string_pretty(report).expect("json")).expect("write");
    rehash(pack);
}

/// Re-hashes every file of the pack into its manifest and drops the
/// signature: what a forger without the key does after editing files.
pub fn rehash(pack: &Path) {
    let _ = std::fs::remove_file(pack.join("manifest.sig"));
    let mut manifest = read_json(&pack.join("manifest.json"));
    let mut files = serde_json::Map::new();
    for path in files_under(pack) {
        let relative = path.strip_prefix(pack).expect("inside").to_string_lossy().into_owned();
        if relative == "manifest.json" || relative == "manifest.sig" {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        files.insert(relative, posture::catalog::sha256_hex(&bytes).into());
    }
    manifest["files"] = files.into();
    manifest["signed_by"] = serde_json::Value::Null;
    std::fs::write(pack.join("manifest.json"), serde_json::to_string_pretty(&manifest).expect("json")).expect("write");
}

/// Whether this machine can give a process its own mount namespace (root,
/// CAP_SYS_ADMIN); in CI its absence fails the test.
pub fn can_unshare() -> bool {
    let works = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(works || std::env::var_os("CI").is_none(), "this test needs `unshare --mount` (root, CAP_SYS_ADMIN)");
    works
}
