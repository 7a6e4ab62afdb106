//! Every check on its fixture: each case's findings must match exactly, every
//! fixture has a passing and a failing case, and a check whose facts are all
//! unavailable gives only `error` findings.

use std::collections::BTreeMap;
use std::sync::Arc;

use posture::catalog::Catalog;
use posture::facts::{Fact, FactKey, FactSource, FactStore};
use posture::finding::Status;
use posture::script::{Limits, ScriptEngine, ScriptFacts};
use serde::Deserialize;

use crate::support;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    check: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    facts: serde_json::Map<String, serde_json::Value>,
    expect: Vec<Expected>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct Expected {
    resource: String,
    status: String,
}

fn store_of(case: &Case, declared: &[FactKey]) -> FactStore {
    let source = FactSource::Recorded { origin: "fixture".to_owned() };
    // A regional kind is given per region in a fixture: `aws.ec2.vpcs:eu-west-1`.
    let mut keys: Vec<FactKey> = Vec::new();
    for key in declared {
        if posture::facts::provider::Provider::is_regional_kind(key) {
            keys.extend(
                case.facts
                    .keys()
                    .map(|k| FactKey::new(k.as_str()))
                    .filter(|k| k.kind() == key.as_str() && k.param().is_some()),
            );
        } else {
            keys.push(key.clone());
        }
    }
    keys.iter()
        .map(|key| match case.facts.get(key.as_str()) {
            Some(serde_json::Value::Object(map)) if map.len() == 1 && map.contains_key("$unavailable") => {
                let reason = map["$unavailable"].as_str().unwrap_or("unavailable").to_owned();
                Fact::unavailable(key.clone(), reason, source.clone())
            }
            Some(value) => Fact::available(key.clone(), value.clone(), source.clone()),
            None => Fact::unavailable(key.clone(), "not given by the fixture", source.clone()),
        })
        .collect()
}

fn load() -> (Catalog, ScriptEngine) {
    let catalog = Catalog::load_dirs_only(&[support::content_dir()]).expect("content dir loads");
    let engine = ScriptEngine::new(&Limits::default(), &catalog.preludes);
    (catalog, engine)
}

fn run_case(
    engine: &ScriptEngine,
    compiled: &posture::script::CompiledCheck,
    store: &FactStore,
) -> Vec<(String, Status, String)> {
    let facts = Arc::new(ScriptFacts::from_store(store, compiled.check.meta.facts.iter()));
    let outcome = engine.run(compiled, facts, Limits::default().max_duration);
    if let Some(failure) = outcome.failure {
        return vec![("<script failure>".to_owned(), Status::Error, failure.to_string())];
    }
    use posture::script::FactProblem;
    let (regions, others): (Vec<_>, Vec<_>) =
        outcome.fact_problems.iter().partition(|p| matches!(p, FactProblem::RegionUnavailable { .. }));
    if !others.is_empty() {
        return others.iter().map(|p| ("<fact problem>".to_owned(), Status::Error, format!("{p:?}"))).collect();
    }
    // As the evaluator does: an unreadable region is an error beside the other regions' findings.
    let mut findings: Vec<_> = outcome.findings.into_iter().map(|f| (f.resource, f.status, f.message)).collect();
    for problem in regions {
        if let FactProblem::RegionUnavailable { region, reason, .. } = problem {
            findings.push((format!("region {region}"), Status::Error, reason.clone()));
        }
    }
    findings
}

#[test]
fn every_check_matches_its_fixture() {
    let (catalog, engine) = load();
    let only = std::env::var("POSTURE_CHECK").ok();
    let mut problems = Vec::new();
    let mut evaluated = 0;
    for (id, check) in &catalog.checks {
        if only.as_ref().is_some_and(|o| o != id) {
            continue;
        }
        let compiled = match engine.compile(check) {
            Ok(compiled) => compiled,
            Err(err) => {
                problems.push(format!("{id}: does not compile: {err}"));
                continue;
            }
        };
        let path = support::fixtures_dir().join("checks").join(format!("{id}.json"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(_) => {
                problems.push(format!("{id}: no fixture at {}", path.display()));
                continue;
            }
        };
        let fixture: Fixture = match serde_json::from_str(&text) {
            Ok(fixture) => fixture,
            Err(err) => {
                problems.push(format!("{id}: bad fixture {}: {err}", path.display()));
                continue;
            }
        };
        if fixture.check != *id {
            problems.push(format!("{id}: fixture names check '{}'", fixture.check));
        }
        let mut statuses_seen = Vec::new();
        for case in &fixture.cases {
            for key in case.facts.keys() {
                let kind = FactKey::new(key.as_str());
                if !check.meta.facts.iter().any(|k| k.as_str() == key || k.as_str() == kind.kind()) {
                    problems.push(format!(
                        "{id} / {}: fixture gives fact '{key}', which the check does not declare",
                        case.name
                    ));
                }
            }
            let store = store_of(case, &check.meta.facts);
            let actual = run_case(&engine, &compiled, &store);
            evaluated += 1;
            let mut got: Vec<Expected> =
                actual.iter().map(|(r, s, _)| Expected { resource: r.clone(), status: s.to_string() }).collect();
            got.sort();
            let mut want = case.expect.clone();
            want.sort();
            if got != want {
                let detail: Vec<String> = actual.iter().map(|(r, s, m)| format!("    {s} {r}: {m}")).collect();
                problems.push(format!(
                    "{id} / {}: expected {:?}\n  got:\n{}",
                    case.name,
                    want.iter().map(|e| format!("{} {}", e.status, e.resource)).collect::<Vec<_>>(),
                    detail.join("\n")
                ));
            }
            statuses_seen.extend(want.iter().map(|e| e.status.clone()));
        }
        for needed in ["pass", "fail"] {
            if !statuses_seen.iter().any(|s| s == needed) {
                problems.push(format!("{id}: the fixture has no case expecting '{needed}'"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) in {evaluated} evaluated cases:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(only.is_some() || evaluated > 0, "no check was evaluated");
}

#[test]
fn a_check_with_unavailable_facts_gives_only_errors() {
    let (catalog, engine) = load();
    let mut problems = Vec::new();
    for (id, check) in &catalog.checks {
        let Ok(compiled) = engine.compile(check) else { continue };
        let store: FactStore = check
            .meta
            .facts
            .iter()
            .map(|key| {
                Fact::unavailable(key.clone(), "permission denied", FactSource::Recorded { origin: "test".to_owned() })
            })
            .collect();
        let facts = Arc::new(ScriptFacts::from_store(&store, check.meta.facts.iter()));
        let outcome = engine.run(&compiled, facts, Limits::default().max_duration);
        // A region that could not be read must show as a problem, whatever else the script said.
        let region_reported =
            outcome.fact_problems.iter().any(|p| matches!(p, posture::script::FactProblem::RegionUnavailable { .. }));
        let only_regional = check.meta.facts.iter().all(posture::facts::provider::Provider::is_regional_kind);
        if only_regional && !region_reported && outcome.failure.is_none() {
            problems.push(format!("{id}: a region whose facts are unavailable was not reported"));
        }
        let trusted: BTreeMap<_, _> = outcome
            .findings
            .iter()
            .filter(|f| f.status != Status::Error)
            .map(|f| (f.resource.clone(), f.status))
            .collect();
        if outcome.fact_problems.is_empty() && outcome.failure.is_none() && !trusted.is_empty() {
            problems.push(format!("{id}: gave {trusted:?} with every fact unavailable"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_script_that_changes_a_fact_value_changes_only_its_own_copy() {
    let front = |id: &str| {
        format!("//! id = \"{id}\"\n//! title = \"t\"\n//! severity = \"low\"\n//! resource_type = \"user\"\n//! facts = [\"host.users\"]\n//! rationale = \"r\"\n//! remediation = \"m\"\n")
    };
    let writer = front("linux_test_writer")
        + "\nfn check(facts) {\n    let users = facts.get(\"host.users\");\n    users[0].name = \"mallory\";\n    users[0][\"uid\"] = 0;\n    users.push(#{ name: \"extra\" });\n    [pass(\"x\", users[0].name)]\n}\n";
    let reader = front("linux_test_reader")
        + "\nfn check(facts) {\n    let users = facts.get(\"host.users\");\n    let u = users[0];\n    let keyed = [];\n    for k in u.keys() { keyed.push(`${k}=${u[k]}`); }\n    [pass(\"x\", `${users[0].name} ${users[0].uid} ${users.len()} ${keyed}`)]\n}\n";
    let dir = crate::support::scratch(&[
        ("checks/linux/test/linux_test_writer.rhai", &writer),
        ("checks/linux/test/linux_test_reader.rhai", &reader),
    ]);
    let catalog = Catalog::load_dirs_only(&[dir.path().to_path_buf()]).expect("loads");
    let engine = ScriptEngine::new(&Limits::default(), &catalog.preludes);
    let users = serde_json::json!([{ "name": "alice", "uid": 1000 }]);
    let store: FactStore =
        [Fact::available(FactKey::new("host.users"), users, FactSource::Recorded { origin: "test".to_owned() })]
            .into_iter()
            .collect();
    let facts = Arc::new(ScriptFacts::from_store(&store, [FactKey::new("host.users")].iter()));
    let run = |id: &str| {
        let compiled = engine.compile(&catalog.checks[id]).expect("compiles");
        let outcome = engine.run(&compiled, facts.clone(), Limits::default().max_duration);
        assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
        outcome.findings[0].message.clone()
    };
    assert_eq!(run("linux_test_writer"), "mallory");
    assert_eq!(
        run("linux_test_reader"),
        "alice 1000 1 [\"name=alice\", \"uid=1000\"]",
        "the writer's changes leaked into the fact"
    );
}
