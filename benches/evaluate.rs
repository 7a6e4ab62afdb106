//! Benchmark: the whole Linux benchmark evaluated on a synthetic fact bundle
//! of 10,000 users (passwd and shadow), groups, services, packages and file
//! facts, by the release binary (`posture audit --facts`), timed with
//! `/usr/bin/time` for wall time and peak memory.
//!
//! Then the evidence pack of that audit: the time to write it and to verify
//! it (hashes, and every verdict re-derived).
//!
//! Run with `cargo bench --bench evaluate` (the numbers go in the README).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

const SCALE: usize = 10_000;
const RUNS: usize = 5;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = root.join("target").join("bench");
    std::fs::create_dir_all(&work).expect("bench dir");
    let bundle_path = work.join("synthetic-10k.json");
    let bundle = synthetic_bundle(&root.join("samples/misconfigured-host/facts.json"));
    std::fs::write(&bundle_path, serde_json::to_vec(&bundle).expect("json")).expect("write bundle");
    let size = std::fs::metadata(&bundle_path).map(|m| m.len()).unwrap_or(0);
    println!("synthetic bundle: {} ({:.1} MiB)", bundle_path.display(), size as f64 / 1048576.0);

    let mut samples = Vec::new();
    for run in 0..RUNS {
        let (seconds, peak_kib) = timed_audit(&bundle_path, &work.join("out"));
        println!("run {}: {seconds:.3} s, peak {:.1} MiB", run + 1, peak_kib as f64 / 1024.0);
        samples.push((seconds, peak_kib));
    }
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, _) = samples[RUNS / 2];
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    println!("median wall time {median:.3} s; peak memory {:.1} MiB ({RUNS} runs)", peak as f64 / 1024.0);

    // The evidence pack of that audit: writing it (the audit's pack phase)
    // and verifying it (hashes plus re-evaluating every verdict).
    let out = work.join("out");
    let mut writes = Vec::new();
    let mut verifies = Vec::new();
    for _ in 0..RUNS {
        writes.push(pack_write_seconds(&bundle_path, &out));
        verifies.push(timed(&[OsStr::new("verify"), out.as_os_str()]));
    }
    writes.sort_by(f64::total_cmp);
    verifies.sort_by(|a, b| a.0.total_cmp(&b.0));
    let files = std::fs::read_to_string(out.join("manifest.json")).map(|m| m.matches("\": \"").count()).unwrap_or(0);
    println!("evidence pack ({files} manifest entries): write median {:.3} s", writes[RUNS / 2]);
    println!(
        "evidence pack: verify (hashes + re-derivation) median {:.3} s, peak {:.1} MiB",
        verifies[RUNS / 2].0,
        verifies.iter().map(|v| v.1).max().unwrap_or(0) as f64 / 1024.0
    );
}

/// The audit's "write the evidence pack" phase, from `--timings`.
fn pack_write_seconds(bundle: &Path, out: &Path) -> f64 {
    let output = Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["audit", "--timings", "--quiet", "--no-history", "--fail-on", "none", "--facts"])
        .arg(bundle)
        .arg("--out")
        .arg(out)
        .output()
        .expect("posture runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("posture: timing: write the evidence pack: "))
        .and_then(|rest| rest.trim_end_matches(" s").parse().ok())
        .unwrap_or_else(|| panic!("no pack timing in:\n{stderr}"))
}

/// Wall time and peak memory of `posture <args>`.
fn timed(args: &[&OsStr]) -> (f64, u64) {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", env!("CARGO_BIN_EXE_posture")])
        .args(args)
        .output()
        .expect("/usr/bin/time is installed (apt-get install time)");
    parse_time(&String::from_utf8_lossy(&output.stderr))
}

fn parse_time(stderr: &str) -> (f64, u64) {
    let last = stderr.lines().last().unwrap_or_default();
    let mut parts = last.split_whitespace();
    let seconds = parts.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("unexpected output: {stderr}"));
    let peak_kib = parts.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("unexpected output: {stderr}"));
    (seconds, peak_kib)
}

fn timed_audit(bundle: &Path, out: &Path) -> (f64, u64) {
    let args = ["audit", "--quiet", "--no-history", "--fail-on", "none", "--facts"].map(OsStr::new);
    timed(&[&args[..], &[bundle.as_os_str(), OsStr::new("--out"), out.as_os_str()]].concat())
}

/// The sample host, inflated: every list that grows with a host's size gets
/// SCALE entries, and SCALE extra file facts are added.
fn synthetic_bundle(sample: &Path) -> Value {
    let text = std::fs::read_to_string(sample).expect("sample bundle");
    let mut bundle: Value = serde_json::from_str(&text).expect("sample bundle is JSON");
    let target = &mut bundle["targets"][0];
    target["name"] = json!("synthetic-10k");
    let facts = target["facts"].as_array_mut().expect("facts");
    let stamp = json!("2026-01-01T00:00:00Z");
    for fact in facts.iter_mut() {
        let key = fact["key"].as_str().unwrap_or_default().to_owned();
        let value = &mut fact["value"];
        match key.as_str() {
            "host.users" => {
                let users = value.as_array_mut().expect("users");
                for i in 0..SCALE {
                    users.push(json!({"name": format!("user{i}"), "uid": 10_000 + i, "gid": 10_000 + i, "gecos": "",
                        "home": format!("/home/user{i}"), "shell": "/bin/bash", "password": "shadowed", "line": 100 + i}));
                }
            }
            "host.shadow" => {
                let entries = value["entries"].as_array_mut().expect("shadow entries");
                for i in 0..SCALE {
                    entries.push(json!({"name": format!("user{i}"), "password": "set", "scheme": "yescrypt", "last_change": 19_000,
                        "min_days": 1, "max_days": 365, "warn_days": 7, "inactive": 30, "expire": null, "line": 100 + i}));
                }
            }
            "host.groups" => {
                let groups = value.as_array_mut().expect("groups");
                for i in 0..SCALE {
                    groups.push(json!({"name": format!("user{i}"), "gid": 10_000 + i, "members": [], "line": 100 + i}));
                }
            }
            "host.services" => {
                let units = value["units"].as_object_mut().expect("units");
                for i in 0..SCALE {
                    units.insert(format!("app{i}.service"), json!({"enabled": "enabled", "active": "active"}));
                }
            }
            "host.packages" => {
                let installed = value["installed"].as_object_mut().expect("installed");
                for i in 0..SCALE {
                    installed.insert(format!("lib-synthetic{i}"), json!("1.0-1"));
                }
            }
            _ => {}
        }
    }
    for i in 0..SCALE {
        facts.push(json!({"key": format!("host.file:/srv/data/file{i}"), "state": "available",
            "value": {"path": format!("/srv/data/file{i}"), "exists": true, "type": "file", "mode": "0640", "uid": 0, "gid": 0,
                      "owner": "root", "group": "root", "size": 4096},
            "source": {"kind": "file", "path": format!("/srv/data/file{i}")}, "collected_at": stamp}));
    }
    bundle
}
