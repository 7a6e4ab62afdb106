//! `verify` proves what it says, with the real binary: a forged report
//! (summary, rendered reports, re-hashed manifest) is rejected naming what
//! differs; a pack signed by an unpinned key proves integrity only and is
//! refused unless asked for; narrowed and script-error packs verify
//! anywhere, and so does an old pack whose `--skip` matches nothing; hostile packs (a gzip bomb, a FIFO, a link to a device, deep
//! JSON, templates that loop for years) are refused cleanly, without hanging
//! or leaving files behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;

fn audit(dir: &Path, extra: &[&str]) {
    let bundle = support::sample_bundle();
    let mut args = vec!["audit", "--facts", bundle.to_str().expect("utf-8"), "--no-history"];
    args.extend_from_slice(extra);
    let out = support::posture(dir, &args);
    assert!(out.status.code().is_some_and(|c| c <= 2), "{extra:?}: {}", support::stderr(&out));
    assert!(dir.join(extra[1]).join("manifest.json").is_file(), "{extra:?}: {}", support::stderr(&out));
}

/// Runs `posture verify ARGS` with a kill timeout (a verify that hangs is
/// killed and fails the test) and `TMPDIR` set to `tmp`.
fn verify_in(dir: &Path, tmp: &Path, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_posture"))
        .arg("verify")
        .args(args)
        .current_dir(dir)
        .env("TMPDIR", tmp)
        .env("POSTURE_NO_HISTORY", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("posture runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("verify {args:?} did not end within 60 s (killed)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (out.status.code().unwrap_or(-1), support::stdout(&out) + support::stderr(&out).as_str())
}

fn verify(dir: &Path, args: &[&str]) -> (i32, String) {
    verify_in(dir, &std::env::temp_dir(), args)
}

#[test]
fn a_forged_summary_is_rejected_naming_each_differing_field_and_file() {
    let work = tempfile::tempdir().expect("tmp");
    audit(work.path(), &["--out", "pack"]);
    let pack = work.path().join("pack");
    let (code, out) = verify(work.path(), &["pack", "--allow-unpinned"]);
    assert_eq!(code, 0, "the genuine pack verifies: {out}");
    assert!(out.contains("report.html, junit.xml, summary.md") || out.contains("byte for byte"), "{out}");
    let genuine = support::read_json(&pack.join("report.json"));
    let rate = genuine["summary"]["pass_rate"].as_f64().expect("a pass rate");
    assert!(rate < 1.0 && genuine["run"]["exit_code"] != 0, "the sample host fails controls");

    // The forgery: a clean summary everywhere a reader looks, manifest re-hashed.
    let mut forged = genuine.clone();
    forged["summary"]["pass_rate"] = 1.0.into();
    forged["summary"]["controls"]["fail"] = 0.into();
    forged["run"]["exit_code"] = 0.into();
    std::fs::write(pack.join("report.json"), serde_json::to_string_pretty(&forged).expect("json") + "\n").expect("w");
    for name in ["summary.md", "report.html"] {
        let text = std::fs::read_to_string(pack.join(name)).expect("read");
        let edited = text.replacen("fail", "pass", 1);
        assert_ne!(text, edited, "{name} says fail somewhere");
        std::fs::write(pack.join(name), edited).expect("write");
    }
    support::rehash(&pack);
    let (code, out) = verify(work.path(), &["pack", "--allow-unpinned"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("files match the manifest"), "the hashes themselves match: {out}");
    assert!(
        out.contains(&format!(
            "FAILED: report.json: summary.pass_rate: the report says 1.0, the recorded facts give {rate}"
        )),
        "{out}"
    );
    assert!(out.contains("FAILED: report.json: summary.controls.fail: the report says 0"), "{out}");
    assert!(out.contains("FAILED: report.json: run.exit_code: the report says 0, the recorded facts give"), "{out}");
    assert!(out.contains("FAILED: summary.md: differs from the report re-derived"), "{out}");
    assert!(out.contains("FAILED: report.html: differs from the report re-derived"), "{out}");
    assert!(!out.contains("FAILED: junit.xml"), "junit.xml was not edited: {out}");
    assert!(out.contains("NOT verified"), "{out}");

    // Only a rendered report edited, report.json genuine: the file is named.
    let work = tempfile::tempdir().expect("tmp");
    audit(work.path(), &["--out", "pack"]);
    let pack = work.path().join("pack");
    let text = std::fs::read_to_string(pack.join("junit.xml")).expect("read");
    std::fs::write(pack.join("junit.xml"), text.replacen("<testcase", "<testcase forged=\"1\"", 1)).expect("w");
    support::rehash(&pack);
    let (code, out) = verify(work.path(), &["pack", "--allow-unpinned"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED: junit.xml: differs from the report re-derived"), "{out}");
    assert!(!out.contains("FAILED: report.json"), "{out}");
}

/// A format rendered by posture's own code (CSV) is re-derived too: the
/// genuine file verifies, a verdict flipped in it (manifest re-hashed) is named.
#[test]
fn a_forged_csv_report_is_rejected_and_a_genuine_one_verifies() {
    let work = tempfile::tempdir().expect("tmp");
    audit(work.path(), &["--out", "pack", "--format", "csv,md"]);
    let pack = work.path().join("pack");
    assert!(pack.join("findings.csv").is_file() && !pack.join("report.html").exists());
    let (code, out) = verify(work.path(), &["pack", "--allow-unpinned"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("report.json, summary.md, findings.csv re-rendered"), "{out}");
    let text = std::fs::read_to_string(pack.join("findings.csv")).expect("read");
    let edited = text.replacen(",fail,", ",pass,", 1);
    assert_ne!(text, edited, "the CSV has a failing row");
    std::fs::write(pack.join("findings.csv"), edited).expect("write");
    support::rehash(&pack);
    let (code, out) = verify(work.path(), &["pack", "--allow-unpinned"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED: findings.csv: differs from the report re-derived"), "{out}");
}

#[test]
fn a_pack_signed_by_an_unpinned_key_proves_integrity_only() {
    let work = tempfile::tempdir().expect("tmp");
    let keygen = support::posture(work.path(), &["keygen", "key.pem"]);
    assert_eq!(keygen.status.code(), Some(0), "{}", support::stderr(&keygen));
    audit(work.path(), &["--out", "signed", "--sign", "key.pem"]);

    let (code, out) = verify(work.path(), &["signed"]);
    assert_eq!(code, 1, "an unpinned signature is not enough: {out}");
    assert!(out.contains("signed by an unpinned key (ed25519:"), "{out}");
    assert!(out.contains("integrity only, not origin"), "{out}");
    assert!(out.contains("--public-key"), "says how to pin: {out}");

    let (code, out) = verify(work.path(), &["signed", "--allow-unpinned"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: signed by an unpinned key"), "{out}");
    assert!(out.contains("note: origin not proven"), "{out}");

    let (code, out) = verify(work.path(), &["signed", "--public-key", "key.pem.pub"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signed by the pinned key"), "{out}");

    // A forger's own key, named in the manifest, signs a forged pack: without
    // pinning that is still only "unpinned"; pinned, it is refused.
    let forger = support::posture(work.path(), &["keygen", "forger.pem"]);
    assert_eq!(forger.status.code(), Some(0));
    audit(work.path(), &["--out", "forged", "--sign", "forger.pem"]);
    let (code, _) = verify(work.path(), &["forged"]);
    assert_eq!(code, 1);
    let (code, out) = verify(work.path(), &["forged", "--public-key", "key.pem.pub"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a signature of manifest.json by the pinned key"), "{out}");

    // Unsigned: nothing about origin, said plainly, refused without the flag.
    audit(work.path(), &["--out", "unsigned"]);
    let (code, out) = verify(work.path(), &["unsigned"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED: not signed"), "{out}");
    let (code, out) = verify(work.path(), &["unsigned", "--allow-unpinned"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn narrowed_packs_verify() {
    let work = tempfile::tempdir().expect("tmp");
    audit(work.path(), &["--out", "only", "--controls", "5.1.*"]);
    audit(work.path(), &["--out", "skipped", "--skip", "5.1.*,1.*"]);
    for pack in ["only", "skipped"] {
        let (code, out) = verify(work.path(), &[pack, "--allow-unpinned"]);
        assert_eq!(code, 0, "{pack}: {out}");
        assert!(out.contains("re-derived field by field"), "{pack}: {out}");
    }
}

/// A pack recorded before audits refused patterns that match nothing (here:
/// its recorded `--skip` given one more, manifest re-hashed) still verifies,
/// and the pattern is named in a note with the closest ids.
#[test]
fn a_pack_recorded_with_a_skip_matching_nothing_verifies_with_a_note() {
    let work = tempfile::tempdir().expect("tmp");
    // JSON only: report.html would show the selection, and the old pack's
    // would have shown the typo too.
    audit(work.path(), &["--out", "old", "--skip", "5.1.20", "--format", "json"]);
    let pack = work.path().join("old");
    let mut report = support::read_json(&pack.join("report.json"));
    report["run"]["selection"]["skip"] = serde_json::json!(["5.1.20", "9.9"]);
    std::fs::write(pack.join("report.json"), serde_json::to_string_pretty(&report).expect("json") + "\n").expect("w");
    support::rehash(&pack);
    let (code, out) = verify(work.path(), &["old", "--allow-unpinned"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("re-derived field by field"), "{out}");
    assert!(
        out.contains("note: the recorded selection's --skip 9.9 matches no control of cis-debian-linux-12; closest: "),
        "{out}"
    );
}

#[test]
fn a_script_error_pack_from_a_content_folder_verifies_elsewhere() {
    let content = crate::catalog::content();
    let work = tempfile::tempdir().expect("tmp");
    std::fs::write(work.path().join("facts.json"), crate::catalog::BUNDLE).expect("bundle");
    let content_path = content.path().to_str().expect("utf-8").to_owned();
    let out = support::posture(
        work.path(),
        &[
            "audit",
            "--content",
            &content_path,
            "--benchmark",
            "test-bench",
            "--controls",
            "1.1,1.4",
            "--facts",
            "facts.json",
            "--out",
            "pack",
            "--no-history",
        ],
    );
    assert!(work.path().join("pack/manifest.json").is_file(), "{}", support::stderr(&out));
    let report = std::fs::read_to_string(work.path().join("pack/report.json")).expect("report");
    assert!(report.contains("boom"), "the throwing check's error is reported");
    assert!(!report.contains(&content_path), "no absolute content path in the report");

    // Moved elsewhere, the content folder gone: the same verdicts, the same messages.
    let elsewhere = tempfile::tempdir().expect("tmp");
    let moved = elsewhere.path().join("moved-pack");
    std::fs::rename(work.path().join("pack"), &moved).expect("move");
    drop(content);
    let (code, out) = verify(elsewhere.path(), &["moved-pack", "--allow-unpinned"]);
    assert_eq!(code, 0, "{out}");
}

/// A gzip-compressed tar archive of one entry of `size` zero bytes.
fn zero_archive(path: &Path, name: &str, size: u64) {
    let file = std::fs::File::create(path).expect("create");
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, std::io::Read::take(std::io::repeat(0), size)).expect("append");
    builder.into_inner().expect("tar").finish().expect("gzip");
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).expect("read").map(|e| e.expect("entry").path()).collect()
}

#[test]
fn a_gzip_bomb_is_refused_with_its_size_and_nothing_left_behind() {
    let work = tempfile::tempdir().expect("tmp");
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).expect("mkdir");
    zero_archive(&work.path().join("bomb.tar.gz"), "facts.json", 64 << 20);
    assert!(std::fs::metadata(work.path().join("bomb.tar.gz")).expect("meta").len() < 1 << 20, "a real bomb");

    let (code, out) = verify_in(work.path(), &tmp, &["bomb.tar.gz", "--max-pack-size", "4MiB"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unpacks to more than 4194304 bytes (at entry 'facts.json')"), "{out}");
    assert!(entries(&tmp).is_empty(), "nothing left in TMPDIR: {:?}", entries(&tmp));

    // A header claiming more than the default limit is refused before any byte is written.
    let file = std::fs::File::create(work.path().join("liar.tar.gz")).expect("create");
    let mut gzip = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut header = tar::Header::new_gnu();
    header.set_path("facts.json").expect("path");
    header.set_size(8 << 30);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    std::io::Write::write_all(&mut gzip, header.as_bytes()).expect("write");
    std::io::Write::write_all(&mut gzip, &[0u8; 4096]).expect("write");
    gzip.finish().expect("gzip");
    let (code, out) = verify_in(work.path(), &tmp, &["liar.tar.gz"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unpacks to more than 1073741824 bytes"), "{out}");
    assert!(entries(&tmp).is_empty(), "nothing left in TMPDIR: {:?}", entries(&tmp));
}

#[test]
fn fifos_and_links_in_a_folder_pack_are_refused_without_hanging() {
    let work = tempfile::tempdir().expect("tmp");
    audit(work.path(), &["--out", "pack"]);
    let pack = work.path().join("pack");
    let fifo = pack.join("content/checks/linux/waits.rhai");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let (code, out) = verify(work.path(), &["pack", "--allow-unpinned"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "refused: content/checks/linux/waits.rhai is a FIFO (named pipe): a pack holds regular files only"
        ),
        "{out}"
    );
    std::fs::remove_file(&fifo).expect("rm fifo");

    // facts.json replaced by a link to an endless device.
    std::fs::remove_file(pack.join("facts.json")).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", pack.join("facts.json")).expect("symlink");
    let (code, out) = verify(work.path(), &["pack", "--allow-unpinned"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused: facts.json is a symbolic link"), "{out}");
}

#[test]
fn deeply_nested_json_in_a_pack_is_a_clean_problem() {
    let work = tempfile::tempdir().expect("tmp");
    audit(work.path(), &["--out", "pack"]);
    let pack = work.path().join("pack");
    let deep = "[".repeat(200_000) + "]".repeat(200_000).as_str();
    std::fs::write(pack.join("report.json"), &deep).expect("write");
    support::rehash(&pack);
    let (code, out) = verify(work.path(), &["pack", "--allow-unpinned"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED: re-derivation: report.json: not JSON: recursion limit exceeded"), "{out}");
}

#[test]
fn a_pack_template_looping_for_years_is_given_up_not_waited_for() {
    let work = tempfile::tempdir().expect("tmp");
    audit(work.path(), &["--out", "pack"]);
    let pack = work.path().join("pack");
    std::fs::write(pack.join("templates/summary.md"), crate::no_hangs::NESTED_LOOPS_TEMPLATE).expect("template");
    support::rehash(&pack);
    let started = Instant::now();
    let (code, out) = verify(work.path(), &["pack", "--allow-unpinned", "--render-timeout", "2"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("summary.md: cannot be re-rendered: template summary.md: rendering took longer than 2 seconds"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}
