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

/// One operating system a benchmark is written for (`[[applies_to]]`), by
/// the os-release(5) fields that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// What readers call it: `Debian 12`.
    pub name: String,
    /// os-release `ID`: `debian`.
    pub id: String,
    /// os-release `VERSION_ID`: `12`; none: every version of `id`.
    pub version_id: Option<String>,
}

impl System {
    /// Whether a host whose os-release says `id` and `version_id` runs this
    /// system: the same `ID` (never a relative named by `ID_LIKE`: Ubuntu is
    /// not Debian), and the same `VERSION_ID` or one below it (`9` matches
    /// `9.3`, not `10` nor `19`). A host without `VERSION_ID` (Debian testing)
    /// matches only a system that names no version.
    pub fn matches(&self, id: &str, version_id: Option<&str>) -> bool {
        if id != self.id {
            return false;
        }
        let Some(wanted) = &self.version_id else { return true };
        version_id.is_some_and(|found| {
            found == wanted || found.strip_prefix(wanted.as_str()).is_some_and(|rest| rest.starts_with('.'))
        })
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
    /// The operating systems it is written for (`[[applies_to]]`); empty:
    /// any target of its providers.
    pub applies_to: Vec<System>,
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
    applies_to: Option<Spanned<Vec<Spanned<RawSystem>>>>,
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
struct RawSystem {
    name: String,
    id: String,
    version_id: Option<String>,
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
    let applies_to = match raw.applies_to {
        Some(systems) => parse_systems(systems, &providers, &at, &mut problems)?,
        None => Vec::new(),
    };
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
        applies_to,
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

/// The `[[applies_to]]` systems, each checked: a name, an os-release `ID`
/// and `VERSION_ID` written as os-release(5) writes them (lower case,
/// digits, `.`, `_`, `-`), and a provider whose targets have an OS to
/// compare. A mistake here makes the benchmark unusable: judging it with a
/// broken declaration would either judge hosts it was not written for or
/// refuse the hosts it was.
fn parse_systems(
    systems: Spanned<Vec<Spanned<RawSystem>>>,
    providers: &[String],
    at: &dyn Fn(std::ops::Range<usize>, String) -> CatalogError,
    problems: &mut Vec<CatalogError>,
) -> Result<Vec<System>, CatalogError> {
    if systems.get_ref().is_empty() {
        return Err(at(
            systems.span(),
            "`applies_to` is empty: name the systems the benchmark is written for, or remove it to apply to \
             every target of its providers"
                .into(),
        ));
    }
    let has_os = |name: &String| {
        crate::facts::provider::Provider::from_name(name).and_then(crate::facts::provider::Provider::os_fact).is_some()
    };
    if !providers.iter().any(has_os) {
        return Err(at(
            systems.span(),
            format!(
                "`applies_to` names operating systems, and the targets of provider '{}' have none to compare \
                 (only linux hosts do)",
                providers.join("', '")
            ),
        ));
    }
    let os_release_word =
        |text: &str| !text.is_empty() && text.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'));
    let mut parsed: Vec<System> = Vec::new();
    for entry in systems.into_inner() {
        let span = entry.span();
        let RawSystem { name, id, version_id } = entry.into_inner();
        if name.trim().is_empty() {
            return Err(at(
                span,
                "`applies_to`: `name` is empty: say what the system is called (\"Debian 12\")".into(),
            ));
        }
        if !os_release_word(&id) {
            return Err(at(
                span,
                format!(
                    "`applies_to` {name}: id '{id}' is not an os-release ID (lower-case letters, digits, '.', '_', \
                     '-', as in ID=debian)"
                ),
            ));
        }
        if let Some(version) = version_id.as_deref().filter(|v| !os_release_word(v)) {
            return Err(at(
                span,
                format!(
                    "`applies_to` {name}: version_id '{version}' is not an os-release VERSION_ID (lower-case \
                     letters, digits, '.', '_', '-', as in VERSION_ID=12)"
                ),
            ));
        }
        let system = System { name: name.trim().to_owned(), id, version_id };
        if parsed.iter().any(|known| known.id == system.id && known.version_id == system.version_id) {
            problems.push(at(span, format!("`applies_to` lists {} twice", system.name)));
            continue;
        }
        parsed.push(system);
    }
    Ok(parsed)
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

    fn debian_12() -> System {
        System { name: "Debian 12".into(), id: "debian".into(), version_id: Some("12".into()) }
    }

    #[test]
    fn a_system_matches_its_id_and_version_only() {
        let debian = debian_12();
        assert!(debian.matches("debian", Some("12")));
        assert!(!debian.matches("debian", Some("11")), "Debian 11");
        assert!(!debian.matches("ubuntu", Some("24.04")), "Ubuntu (ID_LIKE=debian) is not Debian");
        assert!(!debian.matches("debian", None), "Debian testing has no VERSION_ID");
        assert!(!debian.matches("Debian", Some("12")), "os-release IDs are compared as written");
        assert!(!debian.matches("debian", Some("120")));
        let rhel = System { name: "RHEL 9".into(), id: "rhel".into(), version_id: Some("9".into()) };
        assert!(rhel.matches("rhel", Some("9.3")), "a major version covers its minor ones");
        assert!(!rhel.matches("rhel", Some("10.0")));
        assert!(!rhel.matches("rhel", Some("90")));
        assert!(!rhel.matches("rocky", Some("9.3")));
        let any_debian = System { version_id: None, ..debian };
        assert!(any_debian.matches("debian", None));
        assert!(any_debian.matches("debian", Some("11")));
    }

    fn benchmark_with(header: &str) -> Result<(Benchmark, Vec<CatalogError>), CatalogError> {
        let text = format!(
            "id = \"b\"\ntitle = \"B\"\nversion = \"1\"\n{header}\n[[sections]]\nid = \"1\"\ntitle = \"S\"\n\n\
             [[controls]]\nid = \"1.1\"\ntitle = \"C\"\nassessment = \"manual\"\n"
        );
        parse("b.toml", "b", &text)
    }

    #[test]
    fn applies_to_is_read_in_either_toml_form() {
        let (inline, problems) = benchmark_with(
            "provider = \"linux\"\napplies_to = [{ name = \"Debian 12\", id = \"debian\", version_id = \"12\" }]",
        )
        .expect("loads");
        assert!(problems.is_empty());
        assert_eq!(inline.applies_to, vec![debian_12()]);
        let (tables, _) = benchmark_with(
            "provider = \"linux\"\n[[applies_to]]\nname = \"Debian 12\"\nid = \"debian\"\nversion_id = \"12\"\n\
             [[applies_to]]\nname = \"Debian 13\"\nid = \"debian\"\nversion_id = \"13\"\n",
        )
        .expect("loads");
        assert_eq!(tables.applies_to.len(), 2);
        let (none, _) = benchmark_with("provider = \"aws\"").expect("loads");
        assert!(none.applies_to.is_empty(), "no declaration: any target of its providers");
    }

    #[test]
    fn a_bad_applies_to_is_refused_at_its_line() {
        let refused = |header: &str| benchmark_with(header).err().map(|e| e.to_string()).unwrap_or_default();
        let message = refused("provider = \"linux\"\n\n[[applies_to]]\nname = \"Debian 12\"\nid = \"Debian\"\n");
        assert!(
            message.starts_with("b.toml:6:1: `applies_to` Debian 12: id 'Debian' is not an os-release ID"),
            "{message}"
        );
        let message =
            refused("provider = \"linux\"\napplies_to = [{ name = \"Debian 12\", id = \"debian\", version = \"12\" }]");
        assert!(message.contains("b.toml:5:") && message.contains("unknown field `version`"), "{message}");
        let message = refused("provider = \"linux\"\napplies_to = []");
        assert!(message.contains("b.toml:5:") && message.contains("`applies_to` is empty"), "{message}");
        let message = refused("provider = \"aws\"\napplies_to = [{ name = \"Debian 12\", id = \"debian\" }]");
        assert!(message.contains("provider 'aws' have none to compare"), "{message}");
        let message = refused("provider = \"linux\"\napplies_to = [{ name = \" \", id = \"debian\" }]");
        assert!(message.contains("`name` is empty"), "{message}");
        let message =
            refused("provider = \"linux\"\napplies_to = [{ name = \"D\", id = \"debian\", version_id = \"12 LTS\" }]");
        assert!(message.contains("version_id '12 LTS' is not an os-release VERSION_ID"), "{message}");
        let (_, problems) = benchmark_with(
            "provider = \"linux\"\napplies_to = [{ name = \"Debian 12\", id = \"debian\", version_id = \"12\" }, \
             { name = \"Bookworm\", id = \"debian\", version_id = \"12\" }]",
        )
        .expect("a repeated system is a problem, not a refusal");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("lists Bookworm twice"), "{}", problems[0]);
    }

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
