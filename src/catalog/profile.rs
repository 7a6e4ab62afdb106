//! Profiles: what a benchmark declares of them (`[[profiles]]`: the name its
//! controls use, a CIS level, a host role), and the choice of `--level` and
//! `--host-role` that selects a benchmark's controls by them. CIS semantics:
//! Level 2 extends Level 1, so `--level 2` takes in the level-1 profiles
//! too; a host role (`server`, `workstation`) picks one column of the levels,
//! the benchmark's `default_role` when none is given. A benchmark with no
//! levels (PCI DSS's applicability profiles) or no roles is taken as if the
//! option were not given, and the caller says so.

use super::{Benchmark, Control};

/// The CIS levels a profile may have.
pub const LEVELS: [u8; 2] = [1, 2];

/// One profile a benchmark declares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Profile {
    /// As the benchmark's controls name it (`L1 server`, `Level 1`, `All entities`).
    pub name: String,
    /// Its CIS level; `None` for a profile that is no level (PCI DSS's "Service providers").
    pub level: Option<u8>,
    /// The host role it is for (`server`, `workstation`); only with a level.
    pub role: Option<String>,
}

/// The host roles of `profiles`, each once, in their order.
pub fn roles_of(profiles: &[Profile]) -> Vec<&str> {
    let mut roles: Vec<&str> = Vec::new();
    for role in profiles.iter().filter_map(|p| p.role.as_deref()) {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles
}

/// What the user asked for: `--level` and `--host-role` (or posture.toml's
/// `level` and `host_role`). Empty: every control.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChoice {
    pub level: Option<u8>,
    pub host_role: Option<String>,
}

impl ProfileChoice {
    pub fn is_empty(&self) -> bool {
        self.level.is_none() && self.host_role.is_none()
    }
}

/// The profile a benchmark's controls were selected by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenProfile {
    /// The highest level taken in; `None`: every level (`--host-role` alone).
    pub level: Option<u8>,
    /// The host role, for a benchmark whose profiles have roles.
    pub role: Option<String>,
    /// Whether the role is the benchmark's `default_role`, not one asked for.
    pub role_by_default: bool,
    /// The declared profiles it takes in, in file order.
    pub profiles: Vec<String>,
}

impl ChosenProfile {
    /// As CIS names it: `Level 1 - Server`, `Level 2`, `All levels - Workstation`.
    pub fn name(&self) -> String {
        name_of(self.level, self.role.as_deref())
    }

    /// Whether a control belongs to one of the profiles taken in.
    pub fn includes(&self, control: &Control) -> bool {
        control.profiles.iter().any(|name| self.profiles.contains(name))
    }
}

/// A level (`None`: every level) and a role as CIS names them: `Level 1 - Server`.
pub fn name_of(level: Option<u8>, role: Option<&str>) -> String {
    let level = level.map_or_else(|| "All levels".to_owned(), |level| format!("Level {level}"));
    match role {
        Some(role) => format!("{level} - {}", capitalised(role)),
        None => level,
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// What a choice makes of one benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchmarkProfile {
    /// `None`: every control of the benchmark.
    pub chosen: Option<ChosenProfile>,
    /// The options the benchmark has nothing for (`--level` on a benchmark
    /// without levels), which the caller warns about.
    pub not_applied: Vec<&'static str>,
}

impl BenchmarkProfile {
    /// Whether a control is in the profile (every control is without one).
    pub fn includes(&self, control: &Control) -> bool {
        self.chosen.as_ref().is_none_or(|chosen| chosen.includes(control))
    }

    /// The warning for the options that do not apply to `benchmark`, when some do not.
    pub fn warning(&self, benchmark: &Benchmark) -> Option<String> {
        if self.not_applied.is_empty() {
            return None;
        }
        let lacking = match (self.not_applied.contains(&"--level"), self.not_applied.contains(&"--host-role")) {
            (true, true) => "CIS levels or host roles",
            (true, false) => "CIS levels",
            _ => "host roles",
        };
        let verb = if self.not_applied.len() == 1 { "does" } else { "do" };
        let selected = match &self.chosen {
            Some(chosen) => format!("its controls are selected by {}", chosen.name()),
            None => "all its controls are selected".to_owned(),
        };
        Some(format!(
            "warning: benchmark '{}' declares no {lacking}{}: {} {verb} not apply to it, and {selected}",
            benchmark.id,
            profile_list(benchmark),
            self.not_applied.join(" and ")
        ))
    }
}

/// ` (its profiles: a, b)`, or nothing for a benchmark without profiles.
fn profile_list(benchmark: &Benchmark) -> String {
    if benchmark.profiles.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = benchmark.profiles.iter().map(|p| p.name.as_str()).collect();
    format!(" (its profiles: {})", names.join(", "))
}

/// Why a choice of profile cannot be applied to the selected benchmarks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// Only a recorded selection (an evidence pack's) can hold one.
    #[error("level {0} is not a CIS level (1 or 2)")]
    NotALevel(u8),
    /// `--level` on a run none of whose benchmarks has levels.
    #[error("--level {level}: no selected benchmark declares CIS levels ({})", .benchmarks.join("; "))]
    NoLevels { level: u8, benchmarks: Vec<String> },
    /// `--host-role` on a run none of whose benchmarks has host roles.
    #[error("--host-role {role}: no selected benchmark declares host roles ({})", .benchmarks.join("; "))]
    NoRoles { role: String, benchmarks: Vec<String> },
    /// `--host-role` naming a role a benchmark with roles does not have.
    #[error("--host-role {role}: benchmark '{benchmark}' declares the host roles {}", .roles.join(", "))]
    UnknownRole { role: String, benchmark: String, roles: Vec<String> },
}

/// What `choice` makes of each benchmark, in their order.
pub fn resolve(benchmarks: &[&Benchmark], choice: &ProfileChoice) -> Result<Vec<BenchmarkProfile>, ProfileError> {
    if let Some(level) = choice.level.filter(|level| !LEVELS.contains(level)) {
        return Err(ProfileError::NotALevel(level));
    }
    // Each benchmark as `id (profiles: ...)`, for an option none of them has.
    let described = || {
        benchmarks
            .iter()
            .map(|b| {
                let names: Vec<&str> = b.profiles.iter().map(|p| p.name.as_str()).collect();
                match names.as_slice() {
                    [] => format!("{}: no profiles", b.id),
                    _ => format!("{}: profiles {}", b.id, names.join(", ")),
                }
            })
            .collect::<Vec<_>>()
    };
    if let Some(level) = choice.level {
        if !benchmarks.iter().any(|b| b.has_levels()) {
            return Err(ProfileError::NoLevels { level, benchmarks: described() });
        }
    }
    if let Some(role) = &choice.host_role {
        if benchmarks.iter().all(|b| b.roles().is_empty()) {
            return Err(ProfileError::NoRoles { role: role.clone(), benchmarks: described() });
        }
    }
    benchmarks.iter().map(|benchmark| resolve_one(benchmark, choice)).collect()
}

fn resolve_one(benchmark: &Benchmark, choice: &ProfileChoice) -> Result<BenchmarkProfile, ProfileError> {
    let roles = benchmark.roles();
    let mut not_applied = Vec::new();
    if choice.level.is_some() && !benchmark.has_levels() {
        not_applied.push("--level");
    }
    if choice.host_role.is_some() && roles.is_empty() {
        not_applied.push("--host-role");
    }
    let asked_role = choice.host_role.as_deref().filter(|_| !roles.is_empty());
    let level = choice.level.filter(|_| benchmark.has_levels());
    if level.is_none() && asked_role.is_none() {
        return Ok(BenchmarkProfile { chosen: None, not_applied });
    }
    if let Some(role) = asked_role.filter(|role| !roles.contains(role)) {
        return Err(ProfileError::UnknownRole {
            role: role.to_owned(),
            benchmark: benchmark.id.clone(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        });
    }
    let role = asked_role.or(benchmark.default_role.as_deref()).filter(|_| !roles.is_empty());
    let profiles = benchmark
        .profiles
        .iter()
        .filter(|p| p.level.is_some_and(|l| level.is_none_or(|highest| l <= highest)))
        // A levelled profile without a role is every role's.
        .filter(|p| p.role.is_none() || p.role.as_deref() == role)
        .map(|p| p.name.clone())
        .collect();
    let chosen = ChosenProfile {
        level,
        role: role.map(str::to_owned),
        role_by_default: role.is_some() && asked_role.is_none(),
        profiles,
    };
    Ok(BenchmarkProfile { chosen: Some(chosen), not_applied })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Assessment;

    fn profile(name: &str, level: Option<u8>, role: Option<&str>) -> Profile {
        Profile { name: name.to_owned(), level, role: role.map(str::to_owned) }
    }

    fn control(id: &str, profiles: &[&str]) -> Control {
        Control {
            id: id.to_owned(),
            title: id.to_owned(),
            profiles: profiles.iter().map(|p| (*p).to_owned()).collect(),
            assessment: Assessment::Automated,
            checks: Vec::new(),
            guidance: None,
            line: 1,
        }
    }

    fn benchmark(id: &str, profiles: Vec<Profile>, default_role: Option<&str>, controls: Vec<Control>) -> Benchmark {
        Benchmark {
            id: id.to_owned(),
            title: id.to_owned(),
            version: "1".to_owned(),
            providers: vec!["linux".to_owned()],
            provider: "linux".to_owned(),
            description: String::new(),
            source: String::new(),
            sections: Vec::new(),
            applies_to: Vec::new(),
            profiles,
            default_role: default_role.map(str::to_owned),
            controls,
            path: format!("{id}.toml"),
            sha256: String::new(),
        }
    }

    /// The CIS Linux shape: a control may be Level 1 on servers and Level 2 on workstations.
    fn linux() -> Benchmark {
        benchmark(
            "linux",
            vec![
                profile("L1 server", Some(1), Some("server")),
                profile("L1 workstation", Some(1), Some("workstation")),
                profile("L2 server", Some(2), Some("server")),
                profile("L2 workstation", Some(2), Some("workstation")),
            ],
            Some("server"),
            vec![
                control("1", &["L1 server", "L1 workstation"]),
                control("2", &["L1 server", "L2 workstation"]),
                control("3", &["L2 server", "L2 workstation"]),
                control("4", &["L1 workstation", "L2 server"]),
            ],
        )
    }

    fn aws() -> Benchmark {
        benchmark(
            "aws",
            vec![profile("Level 1", Some(1), None), profile("Level 2", Some(2), None)],
            None,
            vec![control("1", &["Level 1"]), control("2", &["Level 2"])],
        )
    }

    fn pci() -> Benchmark {
        benchmark(
            "pci",
            vec![profile("All entities", None, None), profile("Service providers", None, None)],
            None,
            vec![control("1", &["All entities"]), control("2", &["Service providers"])],
        )
    }

    fn choice(level: Option<u8>, role: Option<&str>) -> ProfileChoice {
        ProfileChoice { level, host_role: role.map(str::to_owned) }
    }

    /// The ids of `benchmark`'s controls the choice selects, and its profile's name.
    fn selected(benchmark: &Benchmark, asked: &ProfileChoice) -> (Vec<String>, Option<String>) {
        let resolved = resolve(&[benchmark], asked).expect("resolves").remove(0);
        let ids = benchmark.controls.iter().filter(|c| resolved.includes(c)).map(|c| c.id.clone()).collect();
        (ids, resolved.chosen.map(|c| c.name()))
    }

    #[test]
    fn level_two_extends_level_one_within_the_host_role() {
        let linux = linux();
        let name = |n: &str| Some(n.to_owned());
        assert_eq!(selected(&linux, &choice(Some(1), None)), (vec!["1".into(), "2".into()], name("Level 1 - Server")));
        assert_eq!(
            selected(&linux, &choice(Some(2), None)),
            (vec!["1".into(), "2".into(), "3".into(), "4".into()], name("Level 2 - Server"))
        );
        assert_eq!(
            selected(&linux, &choice(Some(1), Some("workstation"))),
            (vec!["1".into(), "4".into()], name("Level 1 - Workstation"))
        );
        assert_eq!(
            selected(&linux, &choice(None, Some("workstation"))),
            (vec!["1".into(), "2".into(), "3".into(), "4".into()], name("All levels - Workstation"))
        );
        assert_eq!(selected(&linux, &ProfileChoice::default()).1, None, "no choice: the whole benchmark");
    }

    #[test]
    fn the_default_role_is_said_to_be_one() {
        let linux = linux();
        let by_default = resolve(&[&linux], &choice(Some(1), None)).expect("resolves").remove(0);
        assert_eq!(by_default.chosen.map(|c| (c.role_by_default, c.profiles)), Some((true, vec!["L1 server".into()])));
        let asked = resolve(&[&linux], &choice(Some(1), Some("server"))).expect("resolves").remove(0);
        assert_eq!(asked.chosen.map(|c| c.role_by_default), Some(false));
    }

    #[test]
    fn benchmarks_without_levels_or_roles_are_taken_whole_and_said() {
        let (linux, aws, pci) = (linux(), aws(), pci());
        let resolved = resolve(&[&linux, &aws, &pci], &choice(Some(1), Some("workstation"))).expect("resolves");
        assert_eq!(resolved[0].not_applied, Vec::<&str>::new());
        assert_eq!(resolved[1].not_applied, ["--host-role"]);
        assert_eq!(resolved[1].chosen.as_ref().map(ChosenProfile::name), Some("Level 1".to_owned()));
        assert_eq!(resolved[2].not_applied, ["--level", "--host-role"]);
        assert!(resolved[2].chosen.is_none() && pci.controls.iter().all(|c| resolved[2].includes(c)));
        let warning = resolved[2].warning(&pci).expect("a warning");
        assert_eq!(
            warning,
            "warning: benchmark 'pci' declares no CIS levels or host roles (its profiles: All entities, Service \
             providers): --level and --host-role do not apply to it, and all its controls are selected"
        );
        assert!(resolved[1].warning(&aws).expect("a warning").ends_with("its controls are selected by Level 1"));
        assert_eq!(resolved[0].warning(&linux), None);
    }

    #[test]
    fn an_option_no_benchmark_has_is_refused_naming_their_profiles() {
        let (aws, pci) = (aws(), pci());
        let level = resolve(&[&pci], &choice(Some(1), None)).expect_err("no levels");
        assert_eq!(
            level.to_string(),
            "--level 1: no selected benchmark declares CIS levels (pci: profiles All entities, Service providers)"
        );
        let role = resolve(&[&aws, &pci], &choice(None, Some("server"))).expect_err("no roles");
        assert!(role.to_string().starts_with("--host-role server: no selected benchmark declares host roles (aws: "));
        let unknown = resolve(&[&linux()], &choice(None, Some("desktop"))).expect_err("unknown role");
        assert_eq!(
            unknown.to_string(),
            "--host-role desktop: benchmark 'linux' declares the host roles server, workstation"
        );
        assert_eq!(resolve(&[&aws], &choice(Some(3), None)), Err(ProfileError::NotALevel(3)));
    }
}
