//! `host.kernel_modules`: loaded modules, module files of the running kernel,
//! and the modprobe `install`/`blacklist` configuration.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::probe::{Collected, Probe, Unavailable};
use super::text::{collapse_whitespace, logical_lines};
use super::WalkEntry;

/// modprobe.d(5) directories, highest priority first.
const MODPROBE_DIRS: &[&str] =
    &["/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d"];

const MODULE_SUFFIXES: &[&str] = &[".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

/// Module trees are a few levels deep; the bound only guards against a
/// pathological tree.
pub(super) const MAX_WALK_DEPTH: usize = 16;

/// How modprobe is configured for modules: first `install` per module
/// (as kmod uses), every `blacklist`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ModprobeConfig {
    pub install: BTreeMap<String, String>,
    pub blacklist: BTreeSet<String>,
}

pub(super) fn collect(probe: &mut Probe<'_>) -> Collected {
    let release_path = "/proc/sys/kernel/osrelease";
    let kernel = match probe.read_text(release_path)? {
        Some(release) if !release.trim().is_empty() => release.trim().to_string(),
        _ => return Err(Unavailable::new(format!("{release_path}: does not exist"))),
    };
    // No /proc/modules means a kernel without loadable modules: none loaded.
    let loaded = parse_proc_modules(&probe.read_text("/proc/modules")?.unwrap_or_default());

    let modules_dir = format!("/lib/modules/{kernel}");
    probe.record_path(&modules_dir);
    // One walk of the whole tree (one round trip over SSH), not a listing per directory.
    let (modules_dir_present, available) = match probe.transport().walk(&modules_dir, MAX_WALK_DEPTH + 1)? {
        Some(entries) => (true, module_names(&entries)),
        None => (false, BTreeSet::new()),
    };

    let mut config = ModprobeConfig::default();
    for path in probe.drop_in_files(MODPROBE_DIRS, ".conf")? {
        if let Some(content) = probe.read_text(&path)? {
            parse_modprobe_conf(&content, &mut config);
        }
    }
    Ok(json!({
        "kernel": kernel,
        "modules_dir_present": modules_dir_present,
        "loaded": loaded,
        "available": available,
        "install": config.install,
        "blacklist": config.blacklist,
    }))
}

/// The module names of the files of a walk of the module tree (symlinks
/// such as `build` and `source` into kernel headers are not followed); a
/// directory whose name looks like a module is not looked into.
fn module_names(entries: &[WalkEntry]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in entries {
        let mut components = entry.path.split('/').peekable();
        while let Some(component) = components.next() {
            let name = module_name_of_file(component);
            if components.peek().is_none() {
                names.extend(name);
            } else if name.is_some() {
                break;
            }
        }
    }
    names
}

/// `ext4` for `ext4.ko.xz`; `None` for files that are not modules.
pub(super) fn module_name_of_file(file_name: &str) -> Option<String> {
    MODULE_SUFFIXES
        .iter()
        .find_map(|suffix| file_name.strip_suffix(suffix))
        .filter(|stem| !stem.is_empty())
        .map(normalize_module_name)
}

/// Module names are compared with `-` and `_` equivalent, as kmod does.
pub(super) fn normalize_module_name(name: &str) -> String {
    name.replace('-', "_")
}

/// Names in the first column of `/proc/modules`, sorted.
pub(super) fn parse_proc_modules(text: &str) -> BTreeSet<String> {
    text.lines().filter_map(|line| line.split_whitespace().next()).map(normalize_module_name).collect()
}

/// Read one modprobe.d file into `config`. Other commands (`options`,
/// `alias`, `softdep`, ...) are not part of the fact; malformed lines are
/// skipped.
pub(super) fn parse_modprobe_conf(content: &str, config: &mut ModprobeConfig) {
    for line in logical_lines(content) {
        let line = line.text.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("install"), Some(module)) => {
                let command = collapse_whitespace(&words.collect::<Vec<_>>().join(" "));
                if !command.is_empty() {
                    config.install.entry(normalize_module_name(module)).or_insert(command);
                }
            }
            (Some("blacklist"), Some(module)) => {
                config.blacklist.insert(normalize_module_name(module));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;

    #[test]
    fn proc_modules_first_column() {
        let text = "overlay 151552 0 - Live 0x0000000000000000\n\
                    ext4 1011712 1 - Live 0x0000000000000000\n\
                    nf-conntrack 172032 1 - Live 0x0\n\n";
        let loaded = parse_proc_modules(text);
        assert_eq!(loaded.into_iter().collect::<Vec<_>>(), ["ext4", "nf_conntrack", "overlay"]);
    }

    #[test]
    fn module_files_are_recognised() {
        assert_eq!(module_name_of_file("usb-storage.ko.xz").as_deref(), Some("usb_storage"));
        assert_eq!(module_name_of_file("cramfs.ko").as_deref(), Some("cramfs"));
        assert_eq!(module_name_of_file("ext4.ko.zst").as_deref(), Some("ext4"));
        assert_eq!(module_name_of_file("modules.dep"), None);
        assert_eq!(module_name_of_file(".ko"), None);
        assert_eq!(module_name_of_file("fs"), None);
    }

    #[test]
    fn modprobe_install_first_wins_and_blacklist_accumulates() {
        let mut config = ModprobeConfig::default();
        parse_modprobe_conf(
            "# CIS\ninstall cramfs /bin/false\nblacklist cramfs\ninstall usb-storage /bin/true \\\n   --quiet\n\
             options snd slots=1\ninstall\nblacklist\n",
            &mut config,
        );
        parse_modprobe_conf("install cramfs /bin/true\nblacklist usb_storage\n", &mut config);
        assert_eq!(config.install["cramfs"], "/bin/false");
        assert_eq!(config.install["usb_storage"], "/bin/true --quiet");
        assert_eq!(config.blacklist.into_iter().collect::<Vec<_>>(), ["cramfs", "usb_storage"]);
    }

    #[test]
    fn collection_walks_the_module_tree() {
        let transport = FakeTransport::new()
            .file("/proc/sys/kernel/osrelease", "6.1.0-18-amd64\n")
            .file("/proc/modules", "overlay 151552 0 - Live 0x0\n")
            .file("/lib/modules/6.1.0-18-amd64/kernel/fs/cramfs/cramfs.ko.xz", "")
            .file("/lib/modules/6.1.0-18-amd64/kernel/fs/overlayfs/overlay.ko.xz", "")
            .file("/lib/modules/6.1.0-18-amd64/updates/dkms/vbox-guest.ko", "")
            .file("/lib/modules/6.1.0-18-amd64/modules.dep", "")
            .file("/etc/modprobe.d/cramfs.conf", "install cramfs /bin/false\nblacklist cramfs\n");
        let mut probe = Probe::new(&transport);
        let value = collect(&mut probe).unwrap();
        assert_eq!(
            value,
            json!({ "kernel": "6.1.0-18-amd64", "modules_dir_present": true, "loaded": ["overlay"],
                    "available": ["cramfs", "overlay", "vbox_guest"],
                    "install": { "cramfs": "/bin/false" }, "blacklist": ["cramfs"] })
        );
    }

    #[test]
    fn missing_module_tree_is_reported_not_an_error() {
        let transport = FakeTransport::new().file("/proc/sys/kernel/osrelease", "6.18.0\n");
        let value = collect(&mut Probe::new(&transport)).unwrap();
        assert_eq!(value["modules_dir_present"], false);
        assert_eq!(value["available"], json!([]));
        assert_eq!(value["loaded"], json!([]));
    }

    #[test]
    fn unknown_kernel_release_is_unavailable() {
        let transport = FakeTransport::new();
        let reason = collect(&mut Probe::new(&transport)).unwrap_err().into_reason();
        assert_eq!(reason, "/proc/sys/kernel/osrelease: does not exist");
    }
}
