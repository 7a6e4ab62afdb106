//! Applicability: whether a benchmark may judge a target. A benchmark that
//! names the operating systems it is written for (`applies_to`: os-release
//! `ID` and `VERSION_ID`) judges a target of a provider whose targets have
//! an OS only when the target's OS fact names one of them; otherwise, and
//! when the OS cannot be told, its controls are `error` on that target with
//! the reason, unless the run says `--ignore-os-mismatch`, which judges
//! anyway and is recorded. The one rule: the judge applies it for `audit`
//! and `verify` alike. May import catalog and facts.

use serde::Deserialize;

use crate::catalog::plan::Plan;
use crate::catalog::System;
use crate::facts::target::TargetFacts;
use crate::facts::{FactKey, FactValue};

/// Characters of the host's `PRETTY_NAME` quoted in messages.
const MAX_PRETTY_NAME: usize = 100;

/// What becomes of a target whose OS is not the benchmark's, or cannot be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OsMismatch {
    /// Its controls are `error`, with the reason.
    #[default]
    Refuse,
    /// It is judged anyway, and the report says so (`--ignore-os-mismatch`).
    Ignore,
}

/// Every comparison of a run: each benchmark that declares `applies_to`,
/// on each target of its providers that have an OS fact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applicability {
    pub policy: OsMismatch,
    pub checks: Vec<OsCheck>,
}

/// How one benchmark stands with one target's OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsCheck {
    pub benchmark: String,
    pub target: String,
    /// What the benchmark's systems are called (`Debian 12`).
    pub applies_to: Vec<String>,
    /// The target's OS as its fact says (`Rocky Linux 9.3 (Blue Onyx) (rocky 9.3)`),
    /// when the fact says anything.
    pub host_os: Option<String>,
    pub outcome: OsOutcome,
    /// Whether the benchmark's checks judge the target: on a match, or
    /// anything else with [`OsMismatch::Ignore`].
    pub judged: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OsOutcome {
    /// The OS is one of the benchmark's systems.
    Matches,
    /// It is none of them; the reason reads `benchmark is for Debian 12; host is ...`.
    Mismatch { reason: String },
    /// The fact is missing, unavailable or names no OS; the reason reads
    /// `cannot tell the host's OS: ...`.
    Unknown { reason: String },
}

impl OsCheck {
    /// Why the OS is not one the benchmark is written for: none on a match.
    pub fn reason(&self) -> Option<&str> {
        match &self.outcome {
            OsOutcome::Matches => None,
            OsOutcome::Mismatch { reason } | OsOutcome::Unknown { reason } => Some(reason),
        }
    }

    /// Why the benchmark's controls are not judged on the target, when they are not.
    pub fn refusal(&self) -> Option<&str> {
        self.reason().filter(|_| !self.judged)
    }
}

impl Applicability {
    /// The comparison of `benchmark` with `target`, when the benchmark declares its systems.
    pub fn of(&self, benchmark: &str, target: &str) -> Option<&OsCheck> {
        self.checks.iter().find(|c| c.benchmark == benchmark && c.target == target)
    }

    /// Whether `benchmark`'s checks do not judge `target`.
    pub fn refuses(&self, benchmark: &str, target: &str) -> bool {
        self.of(benchmark, target).is_some_and(|c| !c.judged)
    }
}

/// Compares every benchmark of `plan` that declares `applies_to` with each
/// target of its providers that have an OS fact, in plan then target order.
pub fn assess(plan: &Plan<'_>, targets: &[TargetFacts], policy: OsMismatch) -> Applicability {
    let mut checks = Vec::new();
    for planned in plan.benchmarks.iter().filter(|b| !b.benchmark.applies_to.is_empty()) {
        let benchmark = planned.benchmark;
        for target in targets.iter().filter(|t| benchmark.providers.iter().any(|p| p == t.provider.name())) {
            let Some(os_fact) = target.provider.os_fact() else { continue };
            let (host_os, outcome) = compare(&benchmark.applies_to, target, &os_fact);
            let judged = outcome == OsOutcome::Matches || policy == OsMismatch::Ignore;
            checks.push(OsCheck {
                benchmark: benchmark.id.clone(),
                target: target.name.clone(),
                applies_to: benchmark.applies_to.iter().map(|s| s.name.clone()).collect(),
                host_os,
                outcome,
                judged,
            });
        }
    }
    Applicability { policy, checks }
}

/// The os-release fields of an OS fact that name the system.
#[derive(Debug, Default, Deserialize)]
struct OsRelease {
    id: Option<String>,
    version_id: Option<String>,
    pretty_name: Option<String>,
}

impl OsRelease {
    /// `PRETTY_NAME (ID VERSION_ID)`, as far as the fields are there.
    fn describe(&self) -> Option<String> {
        let pretty = self.pretty_name.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(|pretty| {
            if pretty.chars().count() > MAX_PRETTY_NAME {
                format!("{}…", pretty.chars().take(MAX_PRETTY_NAME - 1).collect::<String>())
            } else {
                pretty.to_owned()
            }
        });
        let id = self.id.as_deref().filter(|id| !id.is_empty());
        let names = match (id, self.version_id.as_deref().filter(|v| !v.is_empty())) {
            (Some(id), Some(version)) => Some(format!("{id} {version}")),
            (Some(id), None) => Some(format!("{id}, no VERSION_ID")),
            (None, _) => None,
        };
        match (pretty, names) {
            (Some(pretty), Some(names)) => Some(format!("{pretty} ({names})")),
            (Some(pretty), None) => Some(pretty),
            (None, names) => names,
        }
    }
}

/// The target's OS as its fact describes it, and how it compares with `systems`.
fn compare(systems: &[System], target: &TargetFacts, os_fact: &FactKey) -> (Option<String>, OsOutcome) {
    let unknown = |why: String| OsOutcome::Unknown { reason: format!("cannot tell the host's OS: {why}") };
    let value = match target.facts.get(os_fact).map(|fact| &fact.value) {
        None => return (None, unknown(format!("fact {os_fact} was not recorded"))),
        Some(FactValue::Unavailable { reason }) => {
            return (None, unknown(format!("fact {os_fact} is unavailable: {reason}")))
        }
        Some(FactValue::Available { value }) => value,
    };
    let os = OsRelease::deserialize(value).unwrap_or_default();
    let host_os = os.describe();
    let Some(id) = os.id.as_deref().filter(|id| !id.is_empty()) else {
        return (host_os, unknown(format!("fact {os_fact} gives no os-release ID")));
    };
    if systems.iter().any(|system| system.matches(id, os.version_id.as_deref())) {
        return (host_os, OsOutcome::Matches);
    }
    let names: Vec<&str> = systems.iter().map(|s| s.name.as_str()).collect();
    let wanted = match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    let reason = format!("benchmark is for {wanted}; host is {}", host_os.as_deref().unwrap_or(id));
    (host_os, OsOutcome::Mismatch { reason })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::facts::provider::Provider;
    use crate::facts::{Fact, FactSource};

    fn debian_12() -> Vec<System> {
        vec![System { name: "Debian 12".into(), id: "debian".into(), version_id: Some("12".into()) }]
    }

    fn host(os: Option<Fact>) -> TargetFacts {
        TargetFacts::recorded("web-1".into(), Provider::Linux, os.into_iter().collect())
    }

    fn os_fact(value: serde_json::Value) -> Option<Fact> {
        let source = FactSource::Recorded { origin: "test".into() };
        Some(Fact::available(FactKey::new("host.os"), value, source))
    }

    fn outcome(target: &TargetFacts) -> (Option<String>, OsOutcome) {
        compare(&debian_12(), target, &FactKey::new("host.os"))
    }

    #[test]
    fn debian_12_matches_and_other_systems_do_not() {
        let debian = host(os_fact(
            json!({ "id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)" }),
        ));
        assert_eq!(outcome(&debian), (Some("Debian GNU/Linux 12 (bookworm) (debian 12)".into()), OsOutcome::Matches));
        let mismatch = |value: serde_json::Value| match outcome(&host(os_fact(value))).1 {
            OsOutcome::Mismatch { reason } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            mismatch(json!({ "id": "rocky", "version_id": "9.3", "pretty_name": "Rocky Linux 9.3 (Blue Onyx)" })),
            "benchmark is for Debian 12; host is Rocky Linux 9.3 (Blue Onyx) (rocky 9.3)"
        );
        assert_eq!(
            mismatch(json!({ "id": "debian", "version_id": "11", "pretty_name": "Debian GNU/Linux 11 (bullseye)" })),
            "benchmark is for Debian 12; host is Debian GNU/Linux 11 (bullseye) (debian 11)"
        );
        assert_eq!(
            mismatch(json!({ "id": "ubuntu", "version_id": "24.04", "pretty_name": "Ubuntu 24.04.1 LTS" })),
            "benchmark is for Debian 12; host is Ubuntu 24.04.1 LTS (ubuntu 24.04)"
        );
        assert_eq!(
            mismatch(json!({ "id": "debian", "version_id": null, "pretty_name": "Debian GNU/Linux trixie/sid" })),
            "benchmark is for Debian 12; host is Debian GNU/Linux trixie/sid (debian, no VERSION_ID)"
        );
        assert_eq!(mismatch(json!({ "id": "alpine" })), "benchmark is for Debian 12; host is alpine, no VERSION_ID");
    }

    #[test]
    fn an_os_that_cannot_be_told_is_never_a_match() {
        let unknown = |target: TargetFacts| match outcome(&target).1 {
            OsOutcome::Unknown { reason } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(unknown(host(None)), "cannot tell the host's OS: fact host.os was not recorded");
        let source = FactSource::Recorded { origin: "test".into() };
        let unavailable = Fact::unavailable(FactKey::new("host.os"), "permission denied", source);
        assert_eq!(
            unknown(host(Some(unavailable))),
            "cannot tell the host's OS: fact host.os is unavailable: permission denied"
        );
        assert_eq!(
            unknown(host(os_fact(json!({ "id": null, "pretty_name": null })))),
            "cannot tell the host's OS: fact host.os gives no os-release ID"
        );
        assert_eq!(
            unknown(host(os_fact(json!("not an object")))),
            "cannot tell the host's OS: fact host.os gives no os-release ID"
        );
    }

    #[test]
    fn several_systems_are_named_in_the_reason_and_a_long_name_is_cut() {
        let systems = vec![
            System { name: "Debian 12".into(), id: "debian".into(), version_id: Some("12".into()) },
            System { name: "Debian 13".into(), id: "debian".into(), version_id: Some("13".into()) },
            System { name: "Ubuntu 24.04".into(), id: "ubuntu".into(), version_id: Some("24.04".into()) },
        ];
        let long = "x".repeat(500);
        let target = host(os_fact(json!({ "id": "rhel", "version_id": "9.4", "pretty_name": long })));
        let (host_os, outcome) = compare(&systems, &target, &FactKey::new("host.os"));
        let shown = host_os.expect("described");
        assert!(shown.chars().count() < 120 && shown.ends_with("… (rhel 9.4)"), "{shown}");
        match outcome {
            OsOutcome::Mismatch { reason } => {
                assert!(
                    reason.starts_with("benchmark is for Debian 12, Debian 13 or Ubuntu 24.04; host is x"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
