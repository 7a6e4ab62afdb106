//! The plan: which benchmarks and controls were selected, the checks they
//! need, and the facts those checks read.

use std::collections::BTreeSet;

use globset::{Glob, GlobMatcher};

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
}

/// What the user asked to audit.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub benchmarks: Vec<String>,
    pub controls: Vec<ControlPattern>,
    pub skip: Vec<ControlPattern>,
}

/// The selected controls of one benchmark.
#[derive(Debug, Clone)]
pub struct PlannedBenchmark<'c> {
    pub benchmark: &'c Benchmark,
    pub controls: Vec<&'c Control>,
}

#[derive(Debug, Clone)]
pub struct Plan<'c> {
    pub benchmarks: Vec<PlannedBenchmark<'c>>,
    /// Ids of the checks to evaluate (only those that loaded).
    pub checks: BTreeSet<String>,
    /// The union of the facts the checks read.
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
    #[error("the control pattern(s) {patterns} select no control of {benchmarks}")]
    NothingSelected { patterns: String, benchmarks: String },
    /// The selected benchmarks define no control at all: nothing to judge.
    #[error("benchmark(s) {benchmarks} define no control: nothing would be judged")]
    NoControls { benchmarks: String },
    /// `--skip` removed every selected control: nothing to judge.
    #[error("--skip {patterns} excludes every selected control of {benchmarks}: nothing would be judged")]
    EverythingSkipped { patterns: String, benchmarks: String },
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

    pub fn plan(&self, selection: &Selection) -> Result<Plan<'_>, PlanError> {
        let mut benchmarks = Vec::new();
        for id in &selection.benchmarks {
            let Some(benchmark) = self.benchmarks.get(id) else {
                if self.problems.iter().any(|p| p.located.path.ends_with(&format!("{id}.toml"))) {
                    return Err(PlanError::BrokenBenchmark { id: id.clone() });
                }
                let known = self.benchmarks.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(PlanError::UnknownBenchmark { id: id.clone(), known });
            };
            let controls: Vec<&Control> = benchmark
                .controls
                .iter()
                .filter(|c| {
                    selection.controls.is_empty() || selection.controls.iter().any(|p| p.matches(&benchmark.id, &c.id))
                })
                .filter(|c| !selection.skip.iter().any(|p| p.matches(&benchmark.id, &c.id)))
                .collect();
            benchmarks.push(PlannedBenchmark { benchmark, controls });
        }
        if !selection.controls.is_empty() && benchmarks.iter().all(|b| b.controls.is_empty()) {
            return Err(PlanError::NothingSelected {
                patterns: selection.controls.iter().map(|p| format!("'{}'", p.as_str())).collect::<Vec<_>>().join(", "),
                benchmarks: selection.benchmarks.join(", "),
            });
        }
        if !benchmarks.is_empty() && benchmarks.iter().all(|b| b.controls.is_empty()) {
            let names = benchmarks.iter().map(|b| format!("'{}'", b.benchmark.id)).collect::<Vec<_>>().join(", ");
            if benchmarks.iter().all(|b| b.benchmark.controls.is_empty()) {
                return Err(PlanError::NoControls { benchmarks: names });
            }
            let patterns = selection.skip.iter().map(|p| format!("'{}'", p.as_str())).collect::<Vec<_>>().join(", ");
            return Err(PlanError::EverythingSkipped { patterns, benchmarks: names });
        }
        let checks: BTreeSet<String> = benchmarks
            .iter()
            .flat_map(|b| b.controls.iter().flat_map(|c| c.checks.iter().cloned()))
            .filter(|id| self.checks.contains_key(id))
            .collect();
        let facts =
            checks.iter().filter_map(|id| self.checks.get(id)).flat_map(|c| c.meta.facts.iter().cloned()).collect();
        let content_files = self.content_files_of(&benchmarks, &checks);
        let content_hash = self.content_hash_of(&content_files);
        Ok(Plan { benchmarks, checks, facts, content_hash, content_files })
    }
}
