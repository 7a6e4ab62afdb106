//! Check files: a Rhai script whose leading `//!` lines hold its metadata as TOML.

use serde::Deserialize;
use toml::Spanned;

use super::error::{self, CatalogError};
use crate::facts::FactKey;
use crate::finding::Severity;

/// A check's metadata, from its front block.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckMeta {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub resource_type: String,
    pub facts: Vec<FactKey>,
    pub rationale: String,
    pub remediation: String,
    pub references: Vec<String>,
}

/// One loaded check: metadata, where it came from and its script.
#[derive(Debug, Clone)]
pub struct CheckDef {
    pub meta: CheckMeta,
    /// The provider, from the folder under `checks/` (`linux`, `aws`).
    pub provider: String,
    /// Display path of the file.
    pub path: String,
    pub source: String,
    /// SHA-256 of the file: the check's version in every report.
    pub sha256: String,
    /// Line (1-based) where the script body starts, after the front block.
    pub body_line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckMeta {
    id: Spanned<String>,
    title: String,
    severity: Severity,
    resource_type: String,
    facts: Vec<Spanned<String>>,
    rationale: String,
    remediation: String,
    #[serde(default)]
    references: Vec<String>,
}

const FRONT_PREFIX: &str = "//!";

/// Parses a check file. `expected_id` is the file stem, which must equal the id.
pub fn parse(
    path: &str,
    provider: &str,
    expected_id: &str,
    source: &str,
    known_fact: &dyn Fn(&FactKey) -> bool,
) -> Result<CheckDef, Vec<CatalogError>> {
    let mut toml_text = String::new();
    let mut first_line = None;
    let mut body_line = 1;
    for (index, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(FRONT_PREFIX) {
            first_line.get_or_insert(index);
            toml_text.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            toml_text.push('\n');
            body_line = index + 2;
        } else if first_line.is_none() && trimmed.is_empty() {
            continue;
        } else {
            break;
        }
    }
    let Some(first_line) = first_line else {
        return Err(vec![CatalogError::new(
            path,
            "missing front block: a check starts with `//!` lines holding its metadata as TOML",
        )
        .at(1, 1)
        .for_check(expected_id)]);
    };
    let raw: RawCheckMeta = toml::from_str(&toml_text).map_err(|err| {
        vec![error::from_toml(path, &toml_text, &err, first_line, FRONT_PREFIX.len() + 1).for_check(expected_id)]
    })?;

    let mut problems = Vec::new();
    let position = |span: std::ops::Range<usize>| {
        let (line, column) = error::line_column(&toml_text, span.start);
        (line + first_line, column + FRONT_PREFIX.len() + 1)
    };
    if raw.id.get_ref() != expected_id {
        let (line, column) = position(raw.id.span());
        problems.push(
            CatalogError::new(
                path,
                format!("id '{}' differs from the file name '{expected_id}.rhai'", raw.id.get_ref()),
            )
            .at(line, column)
            .for_check(expected_id),
        );
    }
    if !is_check_id(expected_id) {
        problems.push(
            CatalogError::new(path, "a check id is lower-case letters, digits and '_', starting with a letter")
                .for_check(expected_id),
        );
    }
    let mut facts = Vec::new();
    for fact in &raw.facts {
        let key = FactKey::new(fact.get_ref().clone());
        if !known_fact(&key) {
            let (line, column) = position(fact.span());
            problems.push(
                CatalogError::new(path, format!("unknown fact key '{key}' (see docs/facts.md)"))
                    .at(line, column)
                    .for_check(expected_id),
            );
        } else if facts.contains(&key) {
            let (line, column) = position(fact.span());
            problems.push(
                CatalogError::new(path, format!("fact '{key}' is listed twice"))
                    .at(line, column)
                    .for_check(expected_id),
            );
        } else {
            facts.push(key);
        }
    }
    if facts.is_empty() && problems.is_empty() {
        problems
            .push(CatalogError::new(path, "`facts` is empty: a check judges collected facts").for_check(expected_id));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(CheckDef {
        meta: CheckMeta {
            id: raw.id.into_inner(),
            title: raw.title,
            severity: raw.severity,
            resource_type: raw.resource_type,
            facts,
            rationale: raw.rationale.trim().to_owned(),
            remediation: raw.remediation.trim().to_owned(),
            references: raw.references,
        },
        provider: provider.to_owned(),
        path: path.to_owned(),
        source: source.to_owned(),
        sha256: super::sha256_hex(source.as_bytes()),
        body_line,
    })
}

fn is_check_id(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
