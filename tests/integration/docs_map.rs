//! docs/development.md stays true: its module table lists every top-level
//! module of `src/`, and names no module that is gone; and the one-way
//! imports it describes inside `src/facts/` hold (no AWS service module
//! imports the collector, the host text helpers do not import the probe).

use std::collections::{BTreeMap, BTreeSet};

use crate::support;

/// The modules named in the first column of the table under "Data flow and
/// modules" (`name.rs` or `name/`), as written there.
fn listed_modules(page: &str) -> BTreeSet<String> {
    let table = page.split("## Data flow and modules").nth(1).expect("the section is there");
    let table = table.split("\n## ").next().unwrap_or(table);
    table
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| line.split('|').nth(1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

#[test]
fn the_development_page_lists_every_top_level_module_and_only_those() {
    let root = support::repo_root();
    let page = std::fs::read_to_string(root.join("docs/development.md")).expect("docs/development.md");
    let listed = listed_modules(&page);
    let mut present = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("src")).expect("src") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            present.insert(format!("{name}/"));
        } else if name.ends_with(".rs") && name != "lib.rs" && name != "main.rs" {
            present.insert(name);
        }
    }
    let unlisted: Vec<_> = present.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&present).collect();
    assert!(unlisted.is_empty(), "docs/development.md does not list these modules of src/: {unlisted:?}");
    assert!(gone.is_empty(), "docs/development.md lists modules src/ does not have: {gone:?}");
}

/// The sibling modules a module's source names through `super::` or
/// `crate::facts::<area>::` paths (`use super::sdk::{call, Ctx}`,
/// `use super::{ec2, sts}`, `$crate::facts::aws::sdk::NotTheService`),
/// comments left out.
fn sibling_modules(source: &str, area: &str) -> BTreeSet<String> {
    let code: String =
        source.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let crate_prefix = format!("crate::facts::{area}::");
    let mut names = BTreeSet::new();
    for prefix in ["super::", crate_prefix.as_str()] {
        for (at, _) in code.match_indices(prefix) {
            let rest = &code[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                names.extend(group.split(',').filter_map(|item| leading_name(item.trim())));
            } else {
                names.extend(leading_name(rest));
            }
        }
    }
    names
}

/// The identifier `text` starts with (`sdk` of `sdk::call`), if any.
fn leading_name(text: &str) -> Option<String> {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    (end > 0).then(|| text[..end].to_owned())
}

fn sources_of(dir: &std::path::Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .expect("source folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            let name = path.file_stem().expect("stem").to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).expect("source"))
        })
        .collect()
}

#[test]
fn aws_service_modules_never_import_the_collector() {
    let sources = sources_of(&support::repo_root().join("src/facts/aws"));
    let shared = ["mod", "collect", "kinds", "sdk", "calls", "credentials"];
    let services: BTreeSet<&str> = sources.keys().map(String::as_str).filter(|name| !shared.contains(name)).collect();
    assert!(services.contains("ec2") && services.contains("iam"), "service modules found: {services:?}");
    // The fact table names each kind's service planner and the collector
    // runs the table: this is the direction that must stay.
    let table = sibling_modules(&sources["kinds"], "aws");
    assert!(table.contains("sdk") && table.contains("ec2") && table.contains("iam"), "kinds.rs names {table:?}");
    let collector = sibling_modules(&sources["collect"], "aws");
    assert!(collector.contains("sdk") && collector.contains("kinds"), "collect.rs names {collector:?}");
    for service in &services {
        let named = sibling_modules(&sources[*service], "aws");
        assert!(named.contains("sdk"), "{service}.rs takes its helpers from sdk.rs: it names {named:?}");
        for dispatcher in ["collect", "kinds"] {
            assert!(
                !named.contains(dispatcher),
                "{service}.rs imports {dispatcher}.rs, which dispatches to it: a cycle ({named:?})"
            );
        }
    }
    let shared_names = sibling_modules(&sources["sdk"], "aws");
    let reached: Vec<_> = shared_names
        .iter()
        .filter(|name| services.contains(name.as_str()) || ["collect", "kinds"].contains(&name.as_str()))
        .collect();
    assert!(reached.is_empty(), "sdk.rs, which every service imports, imports {reached:?}");
}

#[test]
fn host_text_helpers_never_import_the_probe() {
    let sources = sources_of(&support::repo_root().join("src/facts/host"));
    assert!(sibling_modules(&sources["probe"], "host").contains("text"), "probe.rs builds on text.rs");
    let named = sibling_modules(&sources["text"], "host");
    assert!(named.is_empty(), "text.rs imports {named:?}: it must stay pure text (probe.rs imports it)");
}

#[test]
fn posture_toml_parsing_never_imports_the_settings() {
    // settings.rs resolves the options and reads posture.toml through
    // config.rs: config.rs naming settings would make the two a cycle.
    let config = std::fs::read_to_string(support::repo_root().join("src/config.rs")).expect("src/config.rs");
    let code: Vec<&str> = config.lines().filter(|line| !line.trim_start().starts_with("//")).collect();
    let named: Vec<&&str> = code.iter().filter(|line| line.contains("crate::settings")).collect();
    assert!(named.is_empty(), "src/config.rs imports the settings, which import it: {named:?}");
    let settings = std::fs::read_to_string(support::repo_root().join("src/settings.rs")).expect("src/settings.rs");
    assert!(settings.contains("crate::config::"), "settings.rs reads posture.toml through config.rs");
}
