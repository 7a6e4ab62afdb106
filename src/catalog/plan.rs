//! The plan: which benchmarks and controls were selected (by profile, then
//! by `--controls` and `--skip`), the checks they need, and the facts those
//! checks read.

use std::collections::BTreeSet;

use globset::{Glob, GlobMatcher};

use super::profile::{self, BenchmarkProfile, ProfileChoice, ProfileError};
use super::{Benchmark, Catalog, Control};
use crate::facts::FactKey;

/// A pattern selecting controls: a glob (`5.1.*`), or a bare id selecting
/// the control and everything under it (`5.1` selects 5.1.1, 5.1.2, ...).
/// Either may be qualified with a benchmark id (`cis-debian-linux-12:5.1`).
#[derive(Debug, Clone)]
pub struct ControlPattern {
    text: String,
    benchmark: Option<String>,
    glob: GlobMatcher,
    prefix: Option<String>,
}

impl ControlPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (benchmark, pattern) = match text.rsplit_once(':') {
            Some((benchmark, pattern)) => (Some(benchmark.to_owned()), pattern),
            None => (None, text),
        };
        if pattern.is_empty() {
            return Err(format!("empty control pattern '{text}'"));
        }
        let glob = Glob::new(pattern).map_err(|err| format!("bad control pattern '{text}': {err}"))?.compile_matcher();
        let is_glob = pattern.contains(['*', '?', '[', '{']);
        Ok(Self { text: text.to_owned(), benchmark, glob, prefix: (!is_glob).then(|| pattern.to_owned()) })
    }

    pub fn matches(&self, benchmark_id: &str, control_id: &str) -> bool {
        if self.benchmark.as_deref().is_some_and(|b| b != benchmark_id) {
            return false;
        }
        match &self.prefix {
            Some(prefix) => control_id == prefix || control_id.starts_with(&format!("{prefix}.")),
            None => self.glob.is_match(control_id),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The id part as typed, without a benchmark qualifier, for finding the
    /// ids closest to it: a glob's literal start (`5.1.` of `5.1.9*`), since
    /// what follows a wildcard says nothing about the intended id.
    fn id_probe(&self) -> &str {
        let id = self.text.rsplit_once(':').map_or(self.text.as_str(), |(_, id)| id);
        let literal = id.find(['*', '?', '[', '{']).map_or(id, |wildcard| &id[..wildcard]);
        literal.trim_end_matches('.')
    }
}

/// How many of the closest ids a pattern that matches nothing names.
const CLOSEST_SHOWN: usize = 3;

/// A `--controls` or `--skip` pattern that matches no control of the
/// selected benchmarks: a typo would otherwise silently audit more (or less)
/// than asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedPattern {
    /// The option it was given to (`--controls`, `--skip`).
    pub option: &'static str,
    pub pattern: String,
    /// The selected benchmarks it was looked for in.
    pub benchmarks: Vec<String>,
    /// The benchmark its qualifier names, when that benchmark is not selected.
    pub unselected_benchmark: Option<String>,
    /// The selectable ids nearest to it, written as the pattern is (qualified or not).
    pub closest: Vec<String>,
    /// The controls it matches outside the chosen profile, per benchmark:
    /// not a typo, but a control the profile leaves out.
    pub outside_profile: Vec<OutsideProfile>,
}

/// The controls of one benchmark a pattern matches that its chosen profile leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideProfile {
    pub benchmark: String,
    /// The chosen profile's name (`Level 1 - Server`).
    pub profile: String,
    /// The first few of them, each with the profiles it belongs to.
    pub controls: Vec<(String, Vec<String>)>,
    /// How many more there are.
    pub more: usize,
}

/// How many of the controls outside the profile a pattern matches are named.
const OUTSIDE_SHOWN: usize = 3;

impl std::fmt::Display for OutsideProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let controls: Vec<String> =
            self.controls.iter().map(|(id, profiles)| format!("{id} ({})", profiles.join(", "))).collect();
        write!(f, "{} of {}: {}", self.profile, self.benchmark, controls.join("; "))?;
        if self.more > 0 {
            write!(f, "; and {} more", self.more)?;
        }
        Ok(())
    }
}

impl std::fmt::Display for UnmatchedPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let selected = self.benchmarks.join(", ");
        if !self.outside_profile.is_empty() {
            let outside: Vec<String> = self.outside_profile.iter().map(ToString::to_string).collect();
            return write!(
                f,
                "{} {} matches only controls outside the chosen profile, {}",
                self.option,
                self.pattern,
                outside.join("; ")
            );
        }
        match &self.unselected_benchmark {
            Some(benchmark) => write!(
                f,
                "{} {} names benchmark {benchmark}, which is not selected (selected: {selected})",
                self.option, self.pattern
            )?,
            None => write!(f, "{} {} matches no control of {selected}", self.option, self.pattern)?,
        }
        if !self.closest.is_empty() {
            write!(f, "; closest: {}", self.closest.join(", "))?;
        }
        Ok(())
    }
}

/// The patterns that match nothing, the first one in full and the others named.
fn describe_unmatched(unmatched: &[UnmatchedPattern]) -> String {
    let Some((first, others)) = unmatched.split_first() else {
        return String::new();
    };
    if others.is_empty() {
        return first.to_string();
    }
    let named: Vec<String> = others.iter().map(|u| format!("{} {}", u.option, u.pattern)).collect();
    format!("{first}; matching nothing too: {}", named.join(", "))
}

/// What the user asked to audit.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub benchmarks: Vec<String>,
    /// `--level` and `--host-role`: the profile selecting each benchmark's controls.
    pub profile: ProfileChoice,
    pub controls: Vec<ControlPattern>,
    pub skip: Vec<ControlPattern>,
}

/// The selected controls of one benchmark.
#[derive(Debug, Clone)]
pub struct PlannedBenchmark<'c> {
    pub benchmark: &'c Benchmark,
    /// The profile its controls were selected by, and the options that do not apply to it.
    pub profile: BenchmarkProfile,
    pub controls: Vec<&'c Control>,
}

#[derive(Debug, Clone)]
pub struct Plan<'c> {
    pub benchmarks: Vec<PlannedBenchmark<'c>>,
    /// Ids of the checks to evaluate (only those that loaded).
    pub checks: BTreeSet<String>,
    /// The union of the facts the checks read, and the OS fact of each
    /// provider of a benchmark that declares `applies_to`.
    pub facts: BTreeSet<FactKey>,
    /// SHA-256 over the content this plan uses: the selected benchmark files,
    /// the files of their checks and their providers' preludes (path and hash
    /// of each), so that a verdict is tied to exactly the content that made it.
    pub content_hash: String,
    /// Display paths of the content files used (keys of [`Catalog::sources`]).
    pub content_files: BTreeSet<String>,
}

impl Plan<'_> {
    /// Whether a fact is one the plan asks for (a regional fact counts under its kind).
    pub fn uses_fact(&self, key: &FactKey) -> bool {
        self.facts.contains(key) || (key.param().is_some() && self.facts.contains(&FactKey::new(key.kind())))
    }
}

/// Why a selection could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("unknown benchmark '{id}' (known: {known})")]
    UnknownBenchmark { id: String, known: String },
    #[error("benchmark '{id}' could not be loaded; see the problems above")]
    BrokenBenchmark { id: String },
    /// Patterns that match no control of the selected benchmarks (a typo).
    #[error("{}", describe_unmatched(.0))]
    UnmatchedPatterns(Vec<UnmatchedPattern>),
    /// Every `--controls` pattern matches nothing: only a recorded selection
    /// planned with [`Catalog::plan_as_recorded`] gets this far.
    #[error("the control pattern(s) {patterns} select no control of {benchmarks}")]
    NothingSelected { patterns: String, benchmarks: String },
    /// The selected benchmarks define no control at all: nothing to judge.
    #[error("benchmark(s) {benchmarks} define no control: nothing would be judged")]
    NoControls { benchmarks: String },
    /// `--skip` removed every selected control: nothing to judge.
    #[error("--skip {patterns} excludes every selected control of {benchmarks}: nothing would be judged")]
    EverythingSkipped { patterns: String, benchmarks: String },
    /// `--level` or `--host-role` cannot be applied to the selected benchmarks.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The chosen profiles hold no control of any selected benchmark.
    #[error("the chosen profile holds no control of {profiles}: nothing would be judged")]
    EmptyProfile { profiles: String },
}

impl Catalog {
    /// The display paths of the content files a plan uses (see [`Plan::content_files`]).
    fn content_files_of(&self, benchmarks: &[PlannedBenchmark<'_>], checks: &BTreeSet<String>) -> BTreeSet<String> {
        let mut files = BTreeSet::new();
        let mut providers = BTreeSet::new();
        for planned in benchmarks {
            files.insert(planned.benchmark.path.clone());
            providers.extend(planned.benchmark.providers.iter().cloned());
        }
        files.extend(checks.iter().filter_map(|id| self.checks.get(id)).map(|check| check.path.clone()));
        files.extend(providers.iter().filter_map(|p| self.preludes.get(p)).flatten().map(|p| p.path.clone()));
        files
    }

    /// SHA-256 over `sha256  relative-path` lines, sorted, of the files:
    /// relative paths, so that the same content hashes the same wherever it
    /// was loaded from (an evidence pack re-derives it on another machine).
    fn content_hash_of(&self, files: &BTreeSet<String>) -> String {
        let mut lines: Vec<String> = files
            .iter()
            .filter_map(|path| self.sources.get(path))
            .map(|file| format!("{}  {}\n", super::sha256_hex(file.text.as_bytes()), file.relative))
            .collect();
        lines.sort();
        super::sha256_hex(lines.concat().as_bytes())
    }

    /// Plans a selection the user typed: every `--controls` and `--skip`
    /// pattern must match a control of the selected benchmarks.
    pub fn plan(&self, selection: &Selection) -> Result<Plan<'_>, PlanError> {
        let benchmarks = self.selected_benchmarks(selection)?;
        refuse_benchmarks_without_controls(&benchmarks)?;
        let profiled = by_profile(benchmarks, &selection.profile)?;
        let unmatched = unmatched_patterns(&profiled, selection);
        if !unmatched.is_empty() {
            return Err(PlanError::UnmatchedPatterns(unmatched));
        }
        self.plan_of(profiled, selection)
    }

    /// Plans a selection as an evidence pack recorded it, with the patterns
    /// that match nothing returned rather than refused: a pack written before
    /// [`Catalog::plan`] refused them must still verify (the selection is
    /// re-applied as it was, and the caller says what matched nothing).
    pub fn plan_as_recorded(&self, selection: &Selection) -> Result<(Plan<'_>, Vec<UnmatchedPattern>), PlanError> {
        let benchmarks = self.selected_benchmarks(selection)?;
        refuse_benchmarks_without_controls(&benchmarks)?;
        let profiled = by_profile(benchmarks, &selection.profile)?;
        let unmatched = unmatched_patterns(&profiled, selection);
        Ok((self.plan_of(profiled, selection)?, unmatched))
    }

    fn selected_benchmarks(&self, selection: &Selection) -> Result<Vec<&Benchmark>, PlanError> {
        selection
            .benchmarks
            .iter()
            .map(|id| {
                self.benchmarks.get(id).ok_or_else(|| {
                    if self.problems.iter().any(|p| p.located.path.ends_with(&format!("{id}.toml"))) {
                        return PlanError::BrokenBenchmark { id: id.clone() };
                    }
                    let known = self.benchmarks.keys().cloned().collect::<Vec<_>>().join(", ");
                    PlanError::UnknownBenchmark { id: id.clone(), known }
                })
            })
            .collect()
    }

    /// The plan of the benchmarks' controls in their profiles, narrowed by the patterns.
    fn plan_of<'c>(
        &'c self,
        profiled: Vec<PlannedBenchmark<'c>>,
        selection: &Selection,
    ) -> Result<Plan<'c>, PlanError> {
        let benchmarks: Vec<PlannedBenchmark<'c>> = profiled
            .into_iter()
            .map(|mut planned| {
                let id = &planned.benchmark.id;
                planned.controls.retain(|c| {
                    (selection.controls.is_empty() || selection.controls.iter().any(|p| p.matches(id, &c.id)))
                        && !selection.skip.iter().any(|p| p.matches(id, &c.id))
                });
                planned
            })
            .collect();
        if !selection.controls.is_empty() && benchmarks.iter().all(|b| b.controls.is_empty()) {
            return Err(PlanError::NothingSelected {
                patterns: selection.controls.iter().map(|p| format!("'{}'", p.as_str())).collect::<Vec<_>>().join(", "),
                benchmarks: selection.benchmarks.join(", "),
            });
        }
        if !benchmarks.is_empty() && benchmarks.iter().all(|b| b.controls.is_empty()) {
            let names = benchmarks.iter().map(|b| format!("'{}'", b.benchmark.id)).collect::<Vec<_>>().join(", ");
            let patterns = selection.skip.iter().map(|p| format!("'{}'", p.as_str())).collect::<Vec<_>>().join(", ");
            return Err(PlanError::EverythingSkipped { patterns, benchmarks: names });
        }
        let checks: BTreeSet<String> = benchmarks
            .iter()
            .flat_map(|b| b.controls.iter().flat_map(|c| c.checks.iter().cloned()))
            .filter(|id| self.checks.contains_key(id))
            .collect();
        let mut facts: BTreeSet<FactKey> =
            checks.iter().filter_map(|id| self.checks.get(id)).flat_map(|c| c.meta.facts.iter().cloned()).collect();
        // A benchmark that names the systems it is written for is judged on a
        // target only once its OS is known: that fact is read whatever the checks.
        facts.extend(
            benchmarks
                .iter()
                .filter(|b| !b.benchmark.applies_to.is_empty())
                .flat_map(|b| &b.benchmark.providers)
                .filter_map(|p| crate::facts::provider::Provider::from_name(p)?.os_fact()),
        );
        let content_files = self.content_files_of(&benchmarks, &checks);
        let content_hash = self.content_hash_of(&content_files);
        Ok(Plan { benchmarks, checks, facts, content_hash, content_files })
    }
}

/// Benchmarks that define no control at all leave nothing to judge, whatever
/// the patterns (checked before the patterns, which could match nothing there).
fn refuse_benchmarks_without_controls(benchmarks: &[&Benchmark]) -> Result<(), PlanError> {
    if !benchmarks.is_empty() && benchmarks.iter().all(|b| b.controls.is_empty()) {
        let names = benchmarks.iter().map(|b| format!("'{}'", b.id)).collect::<Vec<_>>().join(", ");
        return Err(PlanError::NoControls { benchmarks: names });
    }
    Ok(())
}

/// Each benchmark with the controls of its profile (all of them without one).
fn by_profile<'c>(
    benchmarks: Vec<&'c Benchmark>,
    choice: &ProfileChoice,
) -> Result<Vec<PlannedBenchmark<'c>>, PlanError> {
    let profiles = profile::resolve(&benchmarks, choice)?;
    let profiled: Vec<PlannedBenchmark<'c>> = benchmarks
        .into_iter()
        .zip(profiles)
        .map(|(benchmark, profile)| {
            let controls = benchmark.controls.iter().filter(|c| profile.includes(c)).collect();
            PlannedBenchmark { benchmark, profile, controls }
        })
        .collect();
    if profiled.iter().all(|p| p.controls.is_empty()) {
        let profiles: Vec<String> = profiled
            .iter()
            .filter_map(|p| p.profile.chosen.as_ref().map(|chosen| format!("{} ({})", p.benchmark.id, chosen.name())))
            .collect();
        return Err(PlanError::EmptyProfile { profiles: profiles.join(", ") });
    }
    Ok(profiled)
}

/// The `--controls` and `--skip` patterns that match no control of the
/// selected benchmarks' profiles, each with the ids closest to it, or with
/// the controls it matches outside the profile.
fn unmatched_patterns(profiled: &[PlannedBenchmark<'_>], selection: &Selection) -> Vec<UnmatchedPattern> {
    let selected: Vec<String> = profiled.iter().map(|p| p.benchmark.id.clone()).collect();
    let options = [("--controls", &selection.controls), ("--skip", &selection.skip)];
    let mut unmatched = Vec::new();
    for (option, patterns) in options {
        for pattern in patterns.iter() {
            let matches_one =
                profiled.iter().any(|p| p.controls.iter().any(|c| pattern.matches(&p.benchmark.id, &c.id)));
            if matches_one {
                continue;
            }
            let outside_profile: Vec<OutsideProfile> =
                profiled.iter().filter_map(|planned| outside_profile(pattern, planned)).collect();
            let unselected_benchmark = pattern.benchmark.clone().filter(|qualifier| !selected.contains(qualifier));
            // A qualified pattern searches its own benchmark when selected,
            // every selected one otherwise (the qualifier may be the typo).
            let searched: Vec<&PlannedBenchmark<'_>> = match &pattern.benchmark {
                Some(qualifier) if unselected_benchmark.is_none() => {
                    profiled.iter().filter(|p| &p.benchmark.id == qualifier).collect()
                }
                _ => profiled.iter().collect(),
            };
            let closest = if outside_profile.is_empty() { closest_ids(pattern, &searched) } else { Vec::new() };
            unmatched.push(UnmatchedPattern {
                option,
                pattern: pattern.as_str().to_owned(),
                benchmarks: selected.clone(),
                unselected_benchmark,
                closest,
                outside_profile,
            });
        }
    }
    unmatched
}

/// The controls of a benchmark `pattern` matches that its chosen profile
/// leaves out; `None` when it has no chosen profile or the pattern matches none.
fn outside_profile(pattern: &ControlPattern, planned: &PlannedBenchmark<'_>) -> Option<OutsideProfile> {
    let chosen = planned.profile.chosen.as_ref()?;
    let benchmark = planned.benchmark;
    let matched: Vec<&Control> = benchmark.controls.iter().filter(|c| pattern.matches(&benchmark.id, &c.id)).collect();
    if matched.is_empty() {
        return None;
    }
    Some(OutsideProfile {
        benchmark: benchmark.id.clone(),
        profile: chosen.name(),
        controls: matched.iter().take(OUTSIDE_SHOWN).map(|c| (c.id.clone(), c.profiles.clone())).collect(),
        more: matched.len().saturating_sub(OUTSIDE_SHOWN),
    })
}

/// The selectable ids (control ids and the sections above them, since `5.1`
/// selects what is under it) nearest to the pattern, among the controls of
/// the benchmarks' profiles: fewest edits, then the longest shared start;
/// shown in id order, qualified when the pattern is.
fn closest_ids(pattern: &ControlPattern, searched: &[&PlannedBenchmark<'_>]) -> Vec<String> {
    let probe = pattern.id_probe();
    let mut candidates: BTreeSet<(usize, std::cmp::Reverse<usize>, IdOrder, String)> = BTreeSet::new();
    for planned in searched {
        let benchmark = planned.benchmark;
        for control in &planned.controls {
            let mut selectable = control.id.as_str();
            loop {
                let shown = match pattern.benchmark {
                    Some(_) => format!("{}:{selectable}", benchmark.id),
                    None => selectable.to_owned(),
                };
                let shared = probe.chars().zip(selectable.chars()).take_while(|(a, b)| a == b).count();
                candidates.insert((
                    edit_distance(probe, selectable),
                    std::cmp::Reverse(shared),
                    IdOrder::of(selectable),
                    shown,
                ));
                match selectable.rsplit_once('.') {
                    Some((parent, _)) => selectable = parent,
                    None => break,
                }
            }
        }
    }
    let mut nearest: Vec<(IdOrder, String)> = Vec::new();
    for (_, _, order, shown) in candidates {
        if nearest.iter().any(|(_, s)| s == &shown) {
            continue;
        }
        nearest.push((order, shown));
        if nearest.len() == CLOSEST_SHOWN {
            break;
        }
    }
    nearest.sort();
    nearest.into_iter().map(|(_, shown)| shown).collect()
}

/// Ids in reading order: `5.1.9` before `5.1.19` (numeric parts compared as numbers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct IdOrder(Vec<(u64, String)>);

impl IdOrder {
    fn of(id: &str) -> Self {
        Self(id.split('.').map(|part| (part.parse().unwrap_or(u64::MAX), part.to_owned())).collect())
    }
}

/// Levenshtein distance over characters: insertions, deletions, substitutions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("5.1.20", "5.1.20"), 0);
        assert_eq!(edit_distance("5.1.999", "5.1.9"), 2);
        assert_eq!(edit_distance("5.1.999", "5.1.19"), 2);
        assert_eq!(edit_distance("", "1.1"), 3);
        assert_eq!(edit_distance("9.9", "1.9"), 1);
    }

    #[test]
    fn ids_are_ordered_as_read() {
        let mut ids = vec!["5.1.19", "5.1.9", "5.10", "5.2", "10"];
        ids.sort_by_key(|id| IdOrder::of(id));
        assert_eq!(ids, ["5.1.9", "5.1.19", "5.2", "5.10", "10"]);
    }

    /// A catalog of one benchmark `b`: controls 1.1 (Level 1), 1.2 and 1.3 (Level 2 only).
    fn levelled() -> Catalog {
        let mut text = String::from(
            "id = \"b\"\ntitle = \"B\"\nversion = \"1\"\nprovider = \"linux\"\n\n[[profiles]]\nname = \"Level 1\"\n\
             level = 1\n\n[[profiles]]\nname = \"Level 2\"\nlevel = 2\n\n[[sections]]\nid = \"1\"\ntitle = \"S\"\n",
        );
        for (id, profile) in [("1.1", "Level 1"), ("1.2", "Level 2"), ("1.3", "Level 2")] {
            text.push_str(&format!(
                "\n[[controls]]\nid = \"{id}\"\ntitle = \"C\"\nprofiles = [\"{profile}\"]\nassessment = \"manual\"\n"
            ));
        }
        let (benchmark, problems) = super::super::benchmark::parse("b.toml", "b", &text).expect("parses");
        assert!(problems.is_empty(), "{problems:?}");
        let mut catalog = Catalog::default();
        catalog.benchmarks.insert("b".to_owned(), benchmark);
        catalog
    }

    fn selection(level: Option<u8>, controls: &[&str], skip: &[&str]) -> Selection {
        let patterns = |raw: &[&str]| raw.iter().map(|p| ControlPattern::parse(p).expect("pattern")).collect();
        Selection {
            benchmarks: vec!["b".to_owned()],
            profile: ProfileChoice { level, host_role: None },
            controls: patterns(controls),
            skip: patterns(skip),
        }
    }

    fn planned_ids(catalog: &Catalog, selection: &Selection) -> Vec<String> {
        let plan = catalog.plan(selection).expect("plans");
        plan.benchmarks[0].controls.iter().map(|c| c.id.clone()).collect()
    }

    #[test]
    fn the_profile_and_the_patterns_select_together() {
        let catalog = levelled();
        assert_eq!(planned_ids(&catalog, &selection(Some(1), &[], &[])), ["1.1"]);
        assert_eq!(planned_ids(&catalog, &selection(Some(2), &[], &["1.2"])), ["1.1", "1.3"]);
        assert_eq!(planned_ids(&catalog, &selection(Some(2), &["1.*"], &["1.1"])), ["1.2", "1.3"]);
        assert_eq!(planned_ids(&catalog, &selection(None, &["1.3"], &[])), ["1.3"]);
    }

    #[test]
    fn a_pattern_matching_only_outside_the_profile_says_so() {
        let catalog = levelled();
        let Err(PlanError::UnmatchedPatterns(unmatched)) = catalog.plan(&selection(Some(1), &["1.2"], &["1.3"])) else {
            panic!("refused")
        };
        let messages: Vec<String> = unmatched.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "--controls 1.2 matches only controls outside the chosen profile, Level 1 of b: 1.2 (Level 2)",
                "--skip 1.3 matches only controls outside the chosen profile, Level 1 of b: 1.3 (Level 2)",
            ]
        );
        // A typo is still a typo, its closest ids from within the profile.
        let Err(PlanError::UnmatchedPatterns(typo)) = catalog.plan(&selection(Some(1), &["1.9"], &[])) else {
            panic!("refused")
        };
        assert_eq!(
            (typo[0].closest.clone(), typo[0].outside_profile.is_empty()),
            (vec!["1".to_owned(), "1.1".to_owned()], true)
        );
        // Recorded (a pack): returned, not refused.
        let (plan, unmatched) = catalog.plan_as_recorded(&selection(Some(1), &["1.1", "1.2"], &[])).expect("plans");
        assert_eq!((plan.benchmarks[0].controls.len(), unmatched.len()), (1, 1));
    }

    #[test]
    fn a_probe_is_the_id_part_up_to_a_wildcard() {
        let probe = |text: &str| ControlPattern::parse(text).map(|p| p.id_probe().to_owned());
        assert_eq!(probe("5.1.999"), Ok("5.1.999".to_owned()));
        assert_eq!(probe("cis-debian-linux-12:5.1.*"), Ok("5.1".to_owned()));
        assert_eq!(probe("9.9.?"), Ok("9.9".to_owned()));
    }
}
