//! Benchmark files: a framework's sections, profiles and controls, each
//! control mapped to the checks that judge it and naming the declared
//! profiles it belongs to.

use std::collections::BTreeSet;

use serde::Deserialize;
use toml::Spanned;

use super::error::{self, CatalogError};
use super::profile::{self, Profile};

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
    /// The profiles its controls name (`[[profiles]]`), in file order.
    pub profiles: Vec<Profile>,
    /// The host role `--level` selects when no `--host-role` is given, for a
    /// benchmark whose profiles have roles (`default_role = "server"`).
    pub default_role: Option<String>,
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

    /// Whether any of its profiles has a CIS level (`--level` applies).
    pub fn has_levels(&self) -> bool {
        self.profiles.iter().any(|p| p.level.is_some())
    }

    /// The host roles of its profiles, each once, in file order (`--host-role` applies when there are any).
    pub fn roles(&self) -> Vec<&str> {
        profile::roles_of(&self.profiles)
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
    default_role: Option<Spanned<String>>,
    sections: Vec<RawSection>,
    #[serde(default)]
    profiles: Vec<RawProfile>,
    controls: Vec<RawControl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Spanned<String>,
    level: Option<Spanned<i64>>,
    role: Option<Spanned<String>>,
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
    profiles: Vec<Spanned<String>>,
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
    let (profiles, default_role) = parse_profiles(path, raw.profiles, raw.default_role, &at, &mut problems);
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
        for name in &control.profiles {
            if !profiles.iter().any(|p| &p.name == name.get_ref()) {
                problems.push(at(name.span(), undeclared_profile(&id, name.get_ref(), &profiles)));
            }
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
            profiles: control.profiles.into_iter().map(Spanned::into_inner).collect(),
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
        profiles,
        default_role,
        controls,
        path: path.to_owned(),
        sha256: super::sha256_hex(text.as_bytes()),
    };
    Ok((benchmark, problems))
}

/// The declared profiles and the default host role, each problem positioned:
/// a name declared twice, a level that is not a CIS level, a role without a
/// level, roles without a `default_role` naming one of them (or the reverse).
fn parse_profiles(
    path: &str,
    raw: Vec<RawProfile>,
    default_role: Option<Spanned<String>>,
    at: &dyn Fn(std::ops::Range<usize>, String) -> CatalogError,
    problems: &mut Vec<CatalogError>,
) -> (Vec<Profile>, Option<String>) {
    let mut profiles: Vec<Profile> = Vec::new();
    // Where a missing `default_role` is reported: the first role declared.
    let mut first_role = None;
    for declared in raw {
        let name = declared.name.get_ref().trim().to_owned();
        if name.is_empty() {
            problems.push(at(declared.name.span(), "a profile needs a name: the one its controls use".to_owned()));
            continue;
        }
        if profiles.iter().any(|p| p.name == name) {
            problems.push(at(declared.name.span(), format!("profile '{name}' is declared twice")));
            continue;
        }
        let level = match declared.level {
            Some(level) => match u8::try_from(*level.get_ref()).ok().filter(|l| profile::LEVELS.contains(l)) {
                Some(valid) => Some(valid),
                None => {
                    problems.push(at(
                        level.span(),
                        format!(
                            "profile '{name}': level {} is not a CIS level (1 or 2; leave `level` out for a profile \
                             that is no level)",
                            level.get_ref()
                        ),
                    ));
                    continue;
                }
            },
            None => None,
        };
        let role = match declared.role {
            Some(role) if role.get_ref().trim().is_empty() => {
                problems.push(at(role.span(), format!("profile '{name}': an empty role")));
                continue;
            }
            Some(role) if level.is_none() => {
                problems.push(at(
                    role.span(),
                    format!("profile '{name}': a host role needs a level (the role picks one column of the levels)"),
                ));
                continue;
            }
            Some(role) => {
                first_role.get_or_insert(role.span());
                Some(role.into_inner().trim().to_owned())
            }
            None => None,
        };
        profiles.push(Profile { name, level, role });
    }
    let roles = profile::roles_of(&profiles);
    let default_role = match (default_role, roles.is_empty()) {
        (Some(default), false) if roles.contains(&default.get_ref().as_str()) => Some(default.into_inner()),
        (Some(default), false) => {
            problems.push(at(
                default.span(),
                format!(
                    "default_role '{}' is the role of no declared profile (roles: {})",
                    default.get_ref(),
                    roles.join(", ")
                ),
            ));
            None
        }
        (Some(default), true) => {
            problems.push(at(
                default.span(),
                format!("default_role '{}': no declared profile has a role", default.get_ref()),
            ));
            None
        }
        (None, false) => {
            let message = format!(
                "the profiles have host roles ({}): name the one --level selects without --host-role with \
                 `default_role` at the top of the file, e.g. default_role = \"{}\"",
                roles.join(", "),
                roles.first().copied().unwrap_or_default()
            );
            problems.push(match first_role {
                Some(span) => at(span, message),
                None => CatalogError::new(path, message),
            });
            None
        }
        (None, true) => None,
    };
    (profiles, default_role)
}

/// A control naming a profile the benchmark does not declare.
fn undeclared_profile(control: &str, name: &str, declared: &[Profile]) -> String {
    let known: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
    if known.is_empty() {
        return format!(
            "control '{control}' names profile '{name}', and the benchmark declares no profiles (add a [[profiles]] \
             table for each)"
        );
    }
    format!(
        "control '{control}' names profile '{name}', which the benchmark does not declare (declared: {})",
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "id = \"b\"\ntitle = \"B\"\nversion = \"1\"\nprovider = \"linux\"\n";

    /// The benchmark parsed from `HEAD` + `rest`, and its problems as `line: message`.
    fn parsed(rest: &str) -> (Benchmark, Vec<String>) {
        let text = format!("{HEAD}{rest}\n[[sections]]\nid = \"1\"\ntitle = \"S\"\n");
        let (benchmark, problems) = parse("b.toml", "b", &text).unwrap_or_else(|e| panic!("{e}"));
        let problems = problems.iter().map(|p| format!("{}: {}", p.location(), p.located.message)).collect();
        (benchmark, problems)
    }

    fn control(profiles: &str) -> String {
        format!("\n[[controls]]\nid = \"1.1\"\ntitle = \"C\"\nprofiles = [{profiles}]\nassessment = \"manual\"\n")
    }

    #[test]
    fn declared_profiles_are_read_with_their_levels_and_roles() {
        let profiles = "default_role = \"server\"\n\n[[profiles]]\nname = \"L1 server\"\nlevel = 1\nrole = \"server\"\n\n\
                        [[profiles]]\nname = \"L2 desktop\"\nlevel = 2\nrole = \"desktop\"\n\n[[profiles]]\nname = \"Issuers\"\n";
        let (benchmark, problems) = parsed(&format!("{profiles}{}", control("\"L1 server\", \"Issuers\"")));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            benchmark.profiles[0],
            Profile { name: "L1 server".into(), level: Some(1), role: Some("server".into()) }
        );
        assert_eq!(benchmark.profiles[2], Profile { name: "Issuers".into(), level: None, role: None });
        assert_eq!((benchmark.roles(), benchmark.default_role.as_deref()), (vec!["server", "desktop"], Some("server")));
        assert!(benchmark.has_levels());
    }

    #[test]
    fn a_control_naming_an_undeclared_profile_is_a_problem_at_its_line() {
        let profiles = "[[profiles]]\nname = \"Level 1\"\nlevel = 1\n";
        let (benchmark, problems) = parsed(&format!("{profiles}{}", control("\"Level 1\", \"Level 3\"")));
        assert_eq!(
            problems,
            ["b.toml:12:24: control '1.1' names profile 'Level 3', which the benchmark does not declare (declared: Level 1)"]
        );
        assert_eq!(benchmark.controls.len(), 1, "the control stays, its other results usable");
        let (_, problems) = parsed(&control("\"Level 1\""));
        assert!(problems[0].contains("the benchmark declares no profiles"), "{problems:?}");
    }

    #[test]
    fn bad_profile_declarations_are_problems_at_their_line() {
        let cases = [
            ("[[profiles]]\nname = \"L3\"\nlevel = 3\n", "b.toml:7:9: profile 'L3': level 3 is not a CIS level"),
            ("[[profiles]]\nname = \"A\"\n\n[[profiles]]\nname = \"A\"\n", "b.toml:9:8: profile 'A' is declared twice"),
            ("[[profiles]]\nname = \"S\"\nrole = \"server\"\n", "b.toml:7:8: profile 'S': a host role needs a level"),
            (
                "[[profiles]]\nname = \"S\"\nlevel = 1\nrole = \"server\"\n",
                "b.toml:8:8: the profiles have host roles (server): name the one --level selects",
            ),
            (
                "default_role = \"desktop\"\n[[profiles]]\nname = \"S\"\nlevel = 1\nrole = \"server\"\n",
                "b.toml:5:16: default_role 'desktop' is the role of no declared profile (roles: server)",
            ),
        ];
        for (declarations, expected) in cases {
            let (_, problems) = parsed(&format!("{declarations}{}", control("")));
            assert!(problems.len() == 1 && problems[0].starts_with(expected), "{declarations}: {problems:?}");
        }
    }
}
