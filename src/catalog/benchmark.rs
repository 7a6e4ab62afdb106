//! Benchmark files: a framework's sections and controls, each control mapped
//! to the checks that judge it.

use std::collections::BTreeSet;

use serde::Deserialize;
use toml::Spanned;

use super::error::{self, CatalogError};

/// Whether the framework expects a control to be judged by tooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    Automated,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Section {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Control {
    pub id: String,
    pub title: String,
    pub profiles: Vec<String>,
    pub assessment: Assessment,
    pub checks: Vec<String>,
    pub guidance: Option<String>,
    /// Line of the control's id in the benchmark file.
    pub line: usize,
}

impl Control {
    /// Automated by the framework and by posture: has checks to evaluate.
    pub fn is_evaluated(&self) -> bool {
        !self.checks.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Benchmark {
    pub id: String,
    pub title: String,
    pub version: String,
    /// The providers whose checks it maps and whose targets it audits
    /// (`provider = "aws"` or `providers = ["aws", "linux"]`), in file order.
    pub providers: Vec<String>,
    /// The providers as one label, comma-separated (`aws` or `aws,linux`):
    /// what reports and listings show.
    pub provider: String,
    pub description: String,
    pub source: String,
    pub sections: Vec<Section>,
    pub controls: Vec<Control>,
    pub path: String,
    pub sha256: String,
}

impl Benchmark {
    /// The top-level section a control belongs to.
    pub fn top_section(&self, control_id: &str) -> Option<&Section> {
        let head = control_id.split('.').next()?;
        self.sections.iter().find(|s| s.id == head)
    }

    /// The most specific listed section containing a control.
    pub fn section_of(&self, control_id: &str) -> Option<&Section> {
        self.sections
            .iter()
            .filter(|s| control_id.starts_with(&format!("{}.", s.id)) || control_id == s.id)
            .max_by_key(|s| s.id.len())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBenchmark {
    id: Spanned<String>,
    title: String,
    version: String,
    provider: Option<Spanned<String>>,
    providers: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    source: String,
    sections: Vec<RawSection>,
    controls: Vec<RawControl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    id: Spanned<String>,
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControl {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    profiles: Vec<String>,
    assessment: Assessment,
    #[serde(default)]
    checks: Vec<Spanned<String>>,
    guidance: Option<String>,
}

/// Parses a benchmark file; `check_exists` tells whether a check id is known.
/// Problems that concern one control leave the rest of the benchmark usable:
/// the control keeps the reference, and evaluation reports it as an error.
pub fn parse(path: &str, expected_id: &str, text: &str) -> Result<(Benchmark, Vec<CatalogError>), CatalogError> {
    let raw: RawBenchmark = toml::from_str(text).map_err(|err| error::from_toml(path, text, &err, 0, 0))?;
    let at =
        |span: std::ops::Range<usize>, message: String| CatalogError::new(path, message).at_offset(text, span.start);
    let mut problems = Vec::new();
    if raw.id.get_ref() != expected_id {
        problems.push(at(
            raw.id.span(),
            format!("id '{}' differs from the file name '{expected_id}.toml'", raw.id.get_ref()),
        ));
    }
    let providers =
        match (raw.provider, raw.providers) {
            (Some(one), None) => vec![one.into_inner()],
            (None, Some(many)) if !many.get_ref().is_empty() => {
                let mut providers: Vec<String> = Vec::new();
                for provider in many.get_ref() {
                    if providers.contains(provider) {
                        problems.push(at(many.span(), format!("provider '{provider}' is listed twice")));
                    } else {
                        providers.push(provider.clone());
                    }
                }
                providers
            }
            (None, Some(many)) => {
                return Err(at(
                    many.span(),
                    "`providers` is empty: name the providers whose checks the benchmark maps".into(),
                ))
            }
            (Some(one), Some(_)) => {
                return Err(at(one.span(), "give `provider` (one) or `providers` (several), not both".into()));
            }
            (None, None) => return Err(CatalogError::new(
                path,
                "missing `provider` (e.g. provider = \"linux\") or `providers` (e.g. providers = [\"aws\", \"linux\"])",
            )),
        };
    if let Some(empty) = providers.iter().find(|p| p.trim().is_empty()) {
        return Err(CatalogError::new(path, format!("provider '{empty}' is not a provider name")));
    }
    let mut section_ids = BTreeSet::new();
    let mut sections = Vec::new();
    for section in raw.sections {
        if !section_ids.insert(section.id.get_ref().clone()) {
            problems.push(at(section.id.span(), format!("duplicate section id '{}'", section.id.get_ref())));
            continue;
        }
        sections.push(Section { id: section.id.into_inner(), title: section.title });
    }
    let mut control_ids = BTreeSet::new();
    let mut controls = Vec::new();
    for control in raw.controls {
        let id = control.id.get_ref().clone();
        let line = error::line_column(text, control.id.span().start).0;
        if !control_ids.insert(id.clone()) {
            problems.push(at(control.id.span(), format!("duplicate control id '{id}'")));
            continue;
        }
        let head = id.split('.').next().unwrap_or_default();
        if !section_ids.contains(head) {
            problems
                .push(at(control.id.span(), format!("control '{id}' is under no listed top-level section ('{head}')")));
        }
        if control.assessment == Assessment::Manual && !control.checks.is_empty() {
            problems.push(at(control.id.span(), format!("control '{id}' is manual but lists checks")));
        }
        let mut checks: Vec<String> = Vec::new();
        for check in control.checks {
            if checks.contains(check.get_ref()) {
                problems.push(at(check.span(), format!("control '{id}' lists check '{}' twice", check.get_ref())));
            } else {
                checks.push(check.into_inner());
            }
        }
        controls.push(Control {
            id,
            title: control.title,
            profiles: control.profiles,
            assessment: control.assessment,
            checks,
            guidance: control.guidance.map(|g| g.trim().to_owned()),
            line,
        });
    }
    let benchmark = Benchmark {
        id: raw.id.into_inner(),
        title: raw.title,
        version: raw.version,
        provider: providers.join(","),
        providers,
        description: raw.description.trim().to_owned(),
        source: raw.source,
        sections,
        controls,
        path: path.to_owned(),
        sha256: super::sha256_hex(text.as_bytes()),
    };
    Ok((benchmark, problems))
}
