//! The content commands: `list`, `explain` and `validate`.

use std::fmt::Write as _;

use crate::catalog::plan::PlanError;
use crate::catalog::profile;
use crate::catalog::{Assessment, Benchmark, Catalog, Control};
use crate::cli::{ContentArgs, ExplainArgs, ListArgs, ListWhat};
use crate::facts::provider::Provider;
use crate::script::{Limits, ScriptEngine};
use crate::Fatal;

fn load(content: &ContentArgs) -> Result<Catalog, Fatal> {
    Ok(Catalog::load(&content.content)?)
}

pub fn list(args: &ListArgs) -> Result<(String, u8), Fatal> {
    let mut out = String::new();
    if args.what == ListWhat::Formats {
        for format in crate::report::format::FORMATS {
            let default = if format.on_by_default { "default" } else { "" };
            let _ = writeln!(out, "{:<6} {:<14} {default:<8} {}", format.name, format.file, format.description);
        }
        return Ok((out, 0));
    }
    let catalog = load(&args.content)?;
    match args.what {
        ListWhat::Formats => {}
        ListWhat::Benchmarks => {
            for b in catalog.benchmarks.values() {
                let automated = b.controls.iter().filter(|c| c.is_evaluated()).count();
                let systems: Vec<&str> = b.applies_to.iter().map(|s| s.name.as_str()).collect();
                let _ = writeln!(
                    out,
                    "{:<32} {} v{} ({} controls, {automated} automated by posture, {} {}{})",
                    b.id,
                    b.title,
                    b.version,
                    b.controls.len(),
                    if b.providers.len() > 1 { "providers" } else { "provider" },
                    b.providers.join(", "),
                    if systems.is_empty() { String::new() } else { format!(", for {}", systems.join(" or ")) }
                );
                if let Some(profiles) = profiles_line(b) {
                    let _ = writeln!(out, "{:<32} {profiles}", "");
                }
            }
        }
        ListWhat::Controls => {
            let benchmarks: Vec<_> = match &args.benchmark {
                Some(id) => match catalog.benchmarks.get(id) {
                    Some(b) => vec![b],
                    None => {
                        let known = catalog.benchmarks.keys().cloned().collect::<Vec<_>>().join(", ");
                        return Err(PlanError::UnknownBenchmark { id: id.clone(), known }.into());
                    }
                },
                None => catalog.benchmarks.values().collect(),
            };
            for b in benchmarks {
                for c in &b.controls {
                    let kind = match (c.assessment, c.is_evaluated()) {
                        (_, true) => "automated",
                        (Assessment::Automated, false) => "not yet automated",
                        (Assessment::Manual, false) => "manual",
                    };
                    let _ = writeln!(out, "{}:{:<12} {:<18} {}", b.id, c.id, kind, c.title);
                }
            }
        }
        ListWhat::Checks => {
            for c in catalog.checks.values() {
                let _ = writeln!(out, "{:<48} {:<8} {}", c.meta.id, c.meta.severity, c.meta.title);
            }
        }
    }
    Ok((out, 0))
}

pub fn explain(args: &ExplainArgs) -> Result<(String, u8), Fatal> {
    let catalog = load(&args.content)?;
    let mut out = String::new();
    if let Some(check) = catalog.checks.get(&args.id) {
        let m = &check.meta;
        let _ = writeln!(out, "{} — {}\n", m.id, m.title);
        let _ = writeln!(out, "severity:      {}", m.severity);
        let _ = writeln!(out, "resource type: {}", m.resource_type);
        let _ =
            writeln!(out, "facts:         {}", m.facts.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "));
        let commands = Provider::commands_of_facts(&m.facts);
        if !commands.is_empty() {
            let _ = writeln!(out, "commands:      {}", commands.join("\n               "));
        }
        let api_calls = Provider::api_calls_of_facts(&m.facts);
        if !api_calls.is_empty() {
            let _ = writeln!(out, "AWS API calls: {}", api_calls.join(", "));
        }
        let _ = writeln!(out, "file:          {} (sha256 {})", check.path, &check.sha256[..16]);
        let controls: Vec<String> = catalog
            .benchmarks
            .values()
            .flat_map(|b| {
                b.controls.iter().filter(|c| c.checks.contains(&m.id)).map(move |c| format!("{}:{}", b.id, c.id))
            })
            .collect();
        let _ = writeln!(
            out,
            "controls:      {}",
            if controls.is_empty() { "(none)".to_owned() } else { controls.join(", ") }
        );
        let _ = writeln!(out, "\nRationale\n{}\n\nRemediation\n{}", m.rationale, m.remediation);
        if !m.references.is_empty() {
            let _ = writeln!(out, "\nReferences");
            for r in &m.references {
                let _ = writeln!(out, "- {r}");
            }
        }
        return Ok((out, 0));
    }
    let (benchmark_filter, control_id) = match args.id.rsplit_once(':') {
        Some((b, c)) => (Some(b), c),
        None => (None, args.id.as_str()),
    };
    let mut found = false;
    for b in catalog.benchmarks.values().filter(|b| benchmark_filter.is_none_or(|f| f == b.id)) {
        let Some(c) = b.controls.iter().find(|c| c.id == control_id) else { continue };
        found = true;
        let _ = writeln!(out, "{}:{} — {}\n", b.id, c.id, c.title);
        let _ = writeln!(out, "benchmark:  {} v{}", b.title, b.version);
        if let Some(section) = b.section_of(&c.id) {
            let _ = writeln!(out, "section:    {} {}", section.id, section.title);
        }
        let _ = writeln!(out, "profiles:   {}", control_profiles(b, c));
        let assessment = match (c.assessment, c.is_evaluated()) {
            (_, true) => "automated",
            (Assessment::Automated, false) => "automated by the benchmark, not yet by posture (reported as manual)",
            (Assessment::Manual, false) => "manual",
        };
        let _ = writeln!(out, "assessment: {assessment}");
        if let Some(guidance) = &c.guidance {
            let _ = writeln!(out, "guidance:   {guidance}");
        }
        for id in &c.checks {
            match catalog.checks.get(id) {
                Some(check) => {
                    let _ = writeln!(
                        out,
                        "\ncheck {id} ({}) — {}\n{}",
                        check.meta.severity, check.meta.title, check.meta.remediation
                    );
                }
                None => {
                    let _ = writeln!(out, "\ncheck {id}: MISSING");
                }
            }
        }
        out.push('\n');
    }
    if !found {
        return Err(Fatal::UnknownId(args.id.clone()));
    }
    Ok((out, 0))
}

/// What a benchmark's profiles offer `--level` and `--host-role`, and their
/// names; `None` for a benchmark without profiles.
fn profiles_line(benchmark: &Benchmark) -> Option<String> {
    if benchmark.profiles.is_empty() {
        return None;
    }
    let mut levels: Vec<u8> = benchmark.profiles.iter().filter_map(|p| p.level).collect();
    levels.sort_unstable();
    levels.dedup();
    let mut parts = Vec::new();
    if levels.is_empty() {
        parts.push("no CIS levels (--level takes it whole)".to_owned());
    } else {
        let levels: Vec<String> = levels.iter().map(u8::to_string).collect();
        parts.push(format!("--level {}", levels.join(", ")));
    }
    let roles: Vec<String> = benchmark
        .roles()
        .into_iter()
        .map(|role| match benchmark.default_role.as_deref() == Some(role) {
            true => format!("{role} (default)"),
            false => role.to_owned(),
        })
        .collect();
    if !roles.is_empty() {
        parts.push(format!("--host-role {}", roles.join(", ")));
    }
    let names: Vec<&str> = benchmark.profiles.iter().map(|p| p.name.as_str()).collect();
    parts.push(format!("profiles: {}", names.join(", ")));
    Some(parts.join(" · "))
}

/// A control's profiles, each with its CIS name when that says more
/// (`L1 server (Level 1 - Server)`).
fn control_profiles(benchmark: &Benchmark, control: &Control) -> String {
    let shown: Vec<String> = control
        .profiles
        .iter()
        .map(|name| {
            let declared = benchmark.profiles.iter().find(|p| &p.name == name);
            match declared.and_then(|p| p.level.map(|level| profile::name_of(Some(level), p.role.as_deref()))) {
                Some(cis_name) if &cis_name != name => format!("{name} ({cis_name})"),
                _ => name.clone(),
            }
        })
        .collect();
    shown.join(", ")
}

/// Loads and compiles everything; prints each problem. Exit 2 when there is any.
pub fn validate(content: &ContentArgs) -> Result<(String, u8), Fatal> {
    let catalog = load(content)?;
    let engine = ScriptEngine::new(&Limits::default(), &catalog.preludes);
    let mut problems: Vec<String> = catalog.problems.iter().map(|p| p.to_string()).collect();
    for check in catalog.checks.values() {
        if let Err(problem) = engine.compile(check) {
            let text = problem.to_string();
            if !problems.contains(&text) {
                problems.push(text);
            }
        }
    }
    let mut out = String::new();
    for problem in &problems {
        let _ = writeln!(out, "{problem}");
    }
    let controls: usize = catalog.benchmarks.values().map(|b| b.controls.len()).sum();
    let _ = writeln!(
        out,
        "{} benchmark(s), {controls} controls, {} checks: {}",
        catalog.benchmarks.len(),
        catalog.checks.len(),
        if problems.is_empty() { "no problems".to_owned() } else { format!("{} problem(s)", problems.len()) }
    );
    Ok((out, if problems.is_empty() { 0 } else { 2 }))
}
