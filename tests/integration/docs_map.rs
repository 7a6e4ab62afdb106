//! docs/development.md stays true: its module table lists every top-level
//! module of `src/`, and names no module that is gone.

use std::collections::BTreeSet;

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
