//! Evidence packs end to end with the real binary: a signed pack of the
//! sample host verifies (as a folder moved elsewhere and as its archive);
//! every kind of tampering is named by `verify`; a live local audit's pack
//! re-derives; no secret enters a pack. (The AWS emulator run's pack is
//! verified in aws.rs.)

use std::path::Path;

use crate::support;

fn posture_ok(dir: &Path, args: &[&str]) -> String {
    let out = support::posture(dir, args);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{args:?}: {}", support::stderr(&out));
    support::stdout(&out)
}

fn verify(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let out = support::posture(dir, &all);
    (out.status.code().unwrap_or(-1), support::stdout(&out) + support::stderr(&out).as_str())
}

/// A signed pack of the sample bundle, with a waivers file, in `dir/pack`.
fn signed_sample_pack(dir: &Path) {
    std::fs::write(
        dir.join("waivers.toml"),
        "[[waivers]]\nid = \"W-1\"\ncontrol = \"2.1.12\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = 2999-12-31\n",
    )
    .expect("waivers");
    posture_ok(dir, &["keygen", "key.pem"]);
    let bundle = support::sample_bundle();
    let bundle = bundle.to_str().expect("utf-8");
    posture_ok(
        dir,
        &[
            "audit",
            "--facts",
            bundle,
            "--out",
            "pack",
            "--sign",
            "key.pem",
            "--pack",
            "pack.tar.gz",
            "--waivers",
            "waivers.toml",
            "--no-history",
        ],
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn a_signed_pack_verifies_anywhere_and_as_an_archive() {
    let work = tempfile::tempdir().expect("tmp");
    signed_sample_pack(work.path());
    let pack = work.path().join("pack");
    for name in ["manifest.json", "manifest.sig", "facts.json", "report.json", "waivers.toml", "content"] {
        assert!(pack.join(name).exists(), "the pack has {name}");
    }
    let manifest = support::read_json(&pack.join("manifest.json"));
    assert_eq!(manifest["targets"][0]["name"], "web-legacy-01");
    assert!(manifest["files"]["content/cis-debian-linux-12.toml"].is_string(), "the benchmark is in the pack");
    let manifest_text = std::fs::read_to_string(pack.join("manifest.json")).expect("manifest");
    assert!(!manifest_text.contains(&*work.path().to_string_lossy()), "no absolute path in the manifest");

    // Elsewhere: a copy under another folder, with the public key pinned.
    let elsewhere = tempfile::tempdir().expect("tmp");
    let moved = elsewhere.path().join("evidence-2026");
    std::fs::create_dir_all(&moved).expect("mkdir");
    copy_dir(&pack, &moved);
    std::fs::copy(work.path().join("key.pem.pub"), elsewhere.path().join("auditor.pub")).expect("key");
    let (code, out) = verify(elsewhere.path(), &["evidence-2026", "--public-key", "auditor.pub"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("control verdicts, ") && out.contains("re-derived field by field"), "{out}");
    assert!(out.contains("is signed by the pinned key ed25519:"), "{out}");
    assert!(out.contains("byte for byte"), "the rendered reports re-render: {out}");

    let (code, out) = verify(work.path(), &["pack.tar.gz", "--public-key", "key.pem.pub"]);
    assert_eq!(code, 0, "the archive verifies: {out}");
}

#[test]
fn verify_names_every_kind_of_tampering() {
    let work = tempfile::tempdir().expect("tmp");
    signed_sample_pack(work.path());
    let pristine = work.path().join("pack");
    let fresh = |name: &str| {
        let copy = work.path().join(name);
        std::fs::create_dir_all(&copy).expect("mkdir");
        copy_dir(&pristine, &copy);
        copy
    };
    let flip_byte = |path: &Path| {
        let mut bytes = std::fs::read(path).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] = if bytes[middle] == b'x' { b'y' } else { b'x' };
        std::fs::write(path, bytes).expect("write");
    };

    // One byte changed in each kind of file.
    let kinds = [
        "report.json",
        "report.html",
        "junit.xml",
        "summary.md",
        "facts.json",
        "waivers.toml",
        "content/cis-debian-linux-12.toml",
        "content/checks/linux/services/linux_svc_rpcbind_not_in_use.rhai",
    ];
    for (n, relative) in kinds.iter().enumerate() {
        let copy = fresh(&format!("byte-{n}"));
        assert!(copy.join(relative).is_file(), "the pack has {relative}");
        flip_byte(&copy.join(relative));
        let (code, out) = verify(work.path(), &[copy.to_str().expect("utf-8"), "--public-key", "key.pem.pub"]);
        assert_eq!(code, 1, "{relative}: {out}");
        assert!(out.contains(&format!("FAILED: modified: {relative} ")), "{relative} is named:\n{out}");
    }

    // The manifest itself: the signature no longer matches it.
    let copy = fresh("manifest");
    let text = std::fs::read_to_string(copy.join("manifest.json")).expect("manifest");
    std::fs::write(copy.join("manifest.json"), text.replacen("web-legacy-01", "web-legacy-02", 1)).expect("write");
    let (code, out) = verify(work.path(), &[copy.to_str().expect("utf-8"), "--public-key", "key.pem.pub"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED: manifest.sig: not a signature of manifest.json"), "{out}");

    // A file removed, a file added.
    let copy = fresh("removed");
    std::fs::remove_file(copy.join("facts.json")).expect("rm");
    let (code, out) = verify(work.path(), &[copy.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(out.contains("FAILED: removed: facts.json"), "{out}");
    let copy = fresh("added");
    std::fs::write(copy.join("content/checks/linux/extra.rhai"), "fn check(facts) { [] }").expect("add");
    let (code, out) = verify(work.path(), &[copy.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(out.contains("FAILED: added: content/checks/linux/extra.rhai"), "{out}");

    // The signature swapped for another key's: the pinned key rejects it.
    let copy = fresh("swapped");
    posture_ok(work.path(), &["keygen", "other.pem"]);
    let bundle = support::sample_bundle();
    posture_ok(
        work.path(),
        &["audit", "--facts", bundle.to_str().expect("utf-8"), "--out", "other", "--sign", "other.pem", "--no-history"],
    );
    std::fs::copy(work.path().join("other/manifest.sig"), copy.join("manifest.sig")).expect("swap");
    let (code, out) = verify(work.path(), &[copy.to_str().expect("utf-8"), "--public-key", "key.pem.pub"]);
    assert_eq!(code, 1);
    assert!(out.contains("FAILED: manifest.sig"), "{out}");
    let (code, out) = verify(work.path(), &["other", "--public-key", "key.pem.pub"]);
    assert_eq!(code, 1, "a pack signed by another key is refused: {out}");

    // A verdict edited, with the manifest re-hashed and no signature (what a
    // forger without the key could do): the re-derivation names the control.
    let copy = fresh("verdict");
    std::fs::remove_file(copy.join("manifest.sig")).expect("unsign");
    let mut report = support::read_json(&copy.join("report.json"));
    let controls = report["benchmarks"][0]["sections"][1]["controls"].as_array_mut().expect("controls");
    let control = controls.iter_mut().find(|c| c["status"] == "fail").expect("a failing control");
    let id = control["full_id"].as_str().expect("id").to_owned();
    control["status"] = "pass".into();
    std::fs::write(copy.join("report.json"), serde_json::to_string_pretty(&report).expect("json")).expect("write");
    let mut manifest = support::read_json(&copy.join("manifest.json"));
    let bytes = std::fs::read(copy.join("report.json")).expect("read");
    manifest["files"]["report.json"] = posture::catalog::sha256_hex(&bytes).into();
    manifest["signed_by"] = serde_json::Value::Null;
    std::fs::write(copy.join("manifest.json"), serde_json::to_string_pretty(&manifest).expect("json")).expect("write");
    let (code, out) = verify(work.path(), &[copy.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("controls[{id}].status: the report says \"pass\", the recorded facts give \"fail\"")),
        "{out}"
    );
    assert!(out.contains("files match the manifest"), "the hashes themselves match: {out}");
    let (code, out) = verify(work.path(), &[copy.to_str().expect("utf-8"), "--public-key", "key.pem.pub"]);
    assert_eq!(code, 1);
    assert!(out.contains("manifest.sig: missing"), "{out}");

    // Not a pack at all: exit 2 with the reason.
    let (code, out) = verify(work.path(), &["waivers.toml"]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn a_live_local_audit_pack_reverifies_and_holds_no_secret() {
    let work = tempfile::tempdir().expect("tmp");
    posture_ok(work.path(), &["keygen", "key.pem"]);
    let out = support::posture(work.path(), &["audit", "--out", "pack", "--sign", "key.pem", "--no-history"]);
    assert!(work.path().join("pack/manifest.json").is_file(), "{}", support::stderr(&out));
    let (code, text) = verify(work.path(), &["pack", "--public-key", "key.pem.pub"]);
    assert_eq!(code, 0, "{text}");

    let private_key = std::fs::read_to_string(work.path().join("key.pem")).expect("key");
    let key_body: String = private_key.lines().filter(|l| !l.starts_with("-----")).collect();
    for path in support::files_under(&work.path().join("pack")) {
        let bytes = std::fs::read(&path).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&key_body), "{} holds the signing key", path.display());
        assert!(!text.contains("PRIVATE KEY-----"), "{} holds a private key", path.display());
        for hash_prefix in ["$6$", "$y$", "$5$", "$2b$", "$1$"] {
            for line in text.lines().filter(|l| l.contains(hash_prefix)) {
                // A hash prefix alone may appear in prose (a check's remediation); a hash has a salt and digest after it.
                let after = line.split(hash_prefix).nth(1).unwrap_or_default();
                let looks_like_hash = after.split('$').nth(1).is_some_and(|digest| digest.len() >= 20);
                assert!(!looks_like_hash, "{} holds a password hash: {line}", path.display());
            }
        }
    }
}
