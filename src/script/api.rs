//! The host API given to checks: read-only access to the target's facts and
//! the finding constructors. Nothing else reaches a script.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Position};

use crate::facts::{FactKey, FactStore, FactValue};
use crate::finding::Status;

/// A target's facts converted once into script values.
#[derive(Debug, Default)]
pub struct ScriptFacts {
    values: BTreeMap<FactKey, Result<Dynamic, String>>,
}

impl ScriptFacts {
    /// Converts the facts of `keys` from the store; a key the store lacks is
    /// unavailable ("not collected").
    pub fn from_store<'k>(store: &FactStore, keys: impl IntoIterator<Item = &'k FactKey>) -> Self {
        let mut wanted: std::collections::BTreeSet<&FactKey> = std::collections::BTreeSet::new();
        for key in keys {
            if crate::facts::provider::Provider::is_regional_kind(key) {
                // A regional kind stands for its fact in every audited region.
                wanted.extend(
                    store.iter().map(|fact| &fact.key).filter(|k| k.kind() == key.as_str() && k.param().is_some()),
                );
            } else {
                wanted.insert(key);
            }
        }
        let values = wanted
            .into_iter()
            .map(|key| {
                let value = match store.get(key).map(|fact| &fact.value) {
                    Some(FactValue::Available { value }) => {
                        super::values::to_script(value).map_err(|err| format!("it cannot be given to a script: {err}"))
                    }
                    Some(FactValue::Unavailable { reason }) => Err(reason.clone()),
                    None => Err("this fact was not collected for this target".to_owned()),
                };
                (key.clone(), value)
            })
            .collect::<BTreeMap<_, _>>();
        Self { values }
    }
}

/// Why reading a fact failed during one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactProblem {
    Unavailable {
        key: FactKey,
        reason: String,
    },
    Undeclared {
        key: FactKey,
    },
    /// One region of a regional fact could not be read: that region gets an
    /// error finding, the check's findings for the other regions stand.
    RegionUnavailable {
        key: FactKey,
        region: String,
        reason: String,
    },
}

#[derive(Debug, Default)]
struct Reads {
    read: Vec<FactKey>,
    problems: Vec<FactProblem>,
}

/// The `facts` argument of `fn check(facts)`.
///
/// Every read is recorded, and so is every failed read: a script that
/// catches the error of an unavailable fact still ends as an `error`,
/// so no script can turn "could not read" into a pass.
#[derive(Debug, Clone)]
pub struct FactsHandle {
    facts: Arc<ScriptFacts>,
    declared: Arc<Vec<FactKey>>,
    reads: Arc<Mutex<Reads>>,
}

impl FactsHandle {
    pub fn new(facts: Arc<ScriptFacts>, declared: Arc<Vec<FactKey>>) -> Self {
        Self { facts, declared, reads: Arc::default() }
    }

    fn get(&mut self, key: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        self.get_at(key, rhai::Array::new())
    }

    /// The value at `path` (map keys and array indices) inside a fact, or
    /// `()` when the path leads nowhere. Only that value is copied, not the
    /// whole fact: `facts.get("host.packages", ["installed", "sudo"])`.
    fn get_at(&mut self, key: &str, path: rhai::Array) -> Result<Dynamic, Box<EvalAltResult>> {
        let key = FactKey::new(key);
        let mut reads = self.reads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.declared.contains(&key) {
            reads.problems.push(FactProblem::Undeclared { key: key.clone() });
            return Err(runtime_error(format!("fact '{key}' is not declared in the check's `facts`")));
        }
        if !reads.read.contains(&key) {
            reads.read.push(key.clone());
        }
        let reason = match self.facts.values.get(&key) {
            Some(Ok(value)) => return Ok(descend(value, &path)),
            Some(Err(reason)) => reason.clone(),
            None => "this fact was not collected for this target".to_owned(),
        };
        reads.problems.push(FactProblem::Unavailable { key: key.clone(), reason: reason.clone() });
        Err(runtime_error(format!("fact '{key}' is unavailable: {reason}")))
    }

    /// A regional fact in every region whose value could be read, as a map of
    /// region to value; each region that could not be read is recorded.
    fn regional(&mut self, kind: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        let kind_key = FactKey::new(kind);
        let mut reads = self.reads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.declared.contains(&kind_key) || !crate::facts::provider::Provider::is_regional_kind(&kind_key) {
            reads.problems.push(FactProblem::Undeclared { key: kind_key.clone() });
            return Err(runtime_error(format!("'{kind}' is not a regional fact declared in the check's `facts`")));
        }
        let mut by_region = rhai::Map::new();
        let mut regions = self.facts.values.iter().filter(|(k, _)| k.kind() == kind && k.param().is_some()).peekable();
        if regions.peek().is_none() {
            // No region at all is not "nothing in any region": it was never collected.
            let reason = "this fact was not collected for any region".to_owned();
            reads.problems.push(FactProblem::Unavailable { key: kind_key.clone(), reason: reason.clone() });
            return Err(runtime_error(format!("fact '{kind}' is unavailable: {reason}")));
        }
        for (key, value) in regions {
            let region = key.param().unwrap_or_default().to_owned();
            if !reads.read.contains(key) {
                reads.read.push(key.clone());
            }
            match value {
                Ok(value) => {
                    by_region.insert(region.as_str().into(), value.clone());
                }
                Err(reason) => reads.problems.push(FactProblem::RegionUnavailable {
                    key: key.clone(),
                    region,
                    reason: reason.clone(),
                }),
            }
        }
        Ok(Dynamic::from_map(by_region))
    }

    /// The facts read, in first-read order, and the failed reads.
    pub fn take_reads(&self) -> (Vec<FactKey>, Vec<FactProblem>) {
        let mut reads = self.reads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (std::mem::take(&mut reads.read), std::mem::take(&mut reads.problems))
    }
}

/// A finding as a script builds it; the evaluator turns it into a [`crate::finding::Finding`].
#[derive(Debug, Clone)]
pub struct ScriptFinding {
    pub status: Status,
    pub resource: String,
    pub message: String,
    /// Converted when the finding is built, inside the script's budget and
    /// within the nesting and size limits of [`super::values::to_json`].
    pub observed: Option<serde_json::Value>,
}

fn descend(value: &Dynamic, path: &[Dynamic]) -> Dynamic {
    let Some((step, rest)) = path.split_first() else {
        return value.clone();
    };
    if let Some(map) = value.read_lock::<rhai::Map>() {
        let Ok(name) = step.clone().into_immutable_string() else { return Dynamic::UNIT };
        return map.get(name.as_str()).map_or(Dynamic::UNIT, |inner| descend(inner, rest));
    }
    if let Some(array) = value.read_lock::<rhai::Array>() {
        let Ok(index) = step.as_int() else { return Dynamic::UNIT };
        return usize::try_from(index)
            .ok()
            .and_then(|i| array.get(i))
            .map_or(Dynamic::UNIT, |inner| descend(inner, rest));
    }
    Dynamic::UNIT
}

pub(super) fn runtime_error(message: String) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(message.into(), Position::NONE))
}

fn octal(mode: &str) -> Result<rhai::INT, Box<EvalAltResult>> {
    rhai::INT::from_str_radix(mode.trim(), 8).map_err(|_| runtime_error(format!("'{mode}' is not an octal mode")))
}

/// Registers the fact accessor, the finding constructors and the pure helpers.
pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<FactsHandle>("Facts")
        .register_fn("get", FactsHandle::get)
        .register_fn("get", FactsHandle::get_at)
        .register_fn("regional", FactsHandle::regional);
    engine.register_type_with_name::<ScriptFinding>("Finding");
    engine.register_fn("to_string", |f: &mut ScriptFinding| format!("{}: {} ({})", f.status, f.resource, f.message));

    fn constructors(engine: &mut Engine, name: &str, status: Status) {
        engine.register_fn(name, move |resource: ImmutableString, message: ImmutableString| ScriptFinding {
            status,
            resource: resource.to_string(),
            message: message.to_string(),
            observed: None,
        });
        engine.register_fn(name, move |resource: ImmutableString, message: ImmutableString, observed: Dynamic| {
            let observed = super::values::to_json(&observed)
                .map_err(|err| runtime_error(format!("the observed value of a finding is refused: {err}")))?;
            Ok::<_, Box<EvalAltResult>>(ScriptFinding {
                status,
                resource: resource.to_string(),
                message: message.to_string(),
                observed: Some(observed),
            })
        });
    }
    constructors(engine, "pass", Status::Pass);
    constructors(engine, "fail", Status::Fail);
    constructors(engine, "error", Status::Error);
    constructors(engine, "not_applicable", Status::NotApplicable);

    engine.register_fn("octal", |mode: ImmutableString| octal(&mode));
    engine.register_fn("mode_exceeds", |mode: ImmutableString, max: ImmutableString| {
        Ok::<_, Box<EvalAltResult>>(octal(&mode)? & !octal(&max)? != 0)
    });
}

/// Replaces the built-in functions that allocate in proportion to an
/// argument in one operation, which the per-operation memory check would
/// only see after the allocation (or never: an allocation too large for the
/// machine aborts the process), with versions that refuse first.
///
/// Audited against Rhai 1.27's packages: the functions that size their result
/// by an integer argument (`pad` of arrays, strings and BLOBs, `blob(len)`)
/// are refused up front when the bytes they ask for exceed what is left of
/// this evaluation's budget; the functions whose result is many small values
/// made from one existing value (`split` (all its forms, whitespace
/// included), `split_rev`, `to_chars`, BLOB `to_array`: each element takes far
/// more memory than the byte it came from) are rebuilt here and stop as soon
/// as this thread's count passes the budget. Everything else allocates at
/// most about the size of values the script already holds (`+`, `+=`,
/// `append`, `extend`, `splice`, `sub_string`, `replace`, `keys`, `values`,
/// `sort`, `to_string` of a big array), so the per-operation check bounds it
/// within twice the budget. Rhai's iterators (`range`, `chars`) are lazy.
pub fn guard_bulk_allocations(engine: &mut Engine, max_memory: usize) {
    // A lower bound on the bytes one array element takes (a `Dynamic`).
    const ELEMENT_BYTES: usize = 16;
    let refuse = move |len: rhai::INT, unit: usize, what: &str| -> Result<usize, Box<EvalAltResult>> {
        let len = usize::try_from(len).unwrap_or(0);
        if len.saturating_mul(unit) > super::heap_room() {
            return Err(runtime_error(format!(
                "{}: {what} of {len} elements asked for more than is left",
                super::memory_limit_message(max_memory)
            )));
        }
        Ok(len)
    };
    engine.register_fn("pad", move |array: &mut rhai::Array, len: rhai::INT, item: Dynamic| {
        let len = refuse(len, ELEMENT_BYTES, "pad")?;
        if array.len() < len {
            array.resize(len, item);
        }
        Ok::<_, Box<EvalAltResult>>(())
    });
    engine.register_fn("pad", move |blob: &mut rhai::Blob, len: rhai::INT, value: rhai::INT| {
        let len = refuse(len, 1, "pad")?;
        if blob.len() < len {
            blob.resize(len, (value & 0xff) as u8);
        }
        Ok::<_, Box<EvalAltResult>>(())
    });
    engine.register_fn("pad", move |text: &mut ImmutableString, len: rhai::INT, character: char| {
        let len = refuse(len, character.len_utf8(), "pad")?;
        let count = text.chars().count();
        if count < len {
            let mut padded = text.to_string();
            padded.extend(std::iter::repeat_n(character, len - count));
            *text = padded.into();
        }
        Ok::<_, Box<EvalAltResult>>(())
    });
    engine.register_fn("pad", move |text: &mut ImmutableString, len: rhai::INT, filler: ImmutableString| {
        let len = refuse(len, 4, "pad")?;
        let mut padded = text.to_string();
        let mut count = padded.chars().count();
        while count < len && !filler.is_empty() {
            for c in filler.chars().take(len - count) {
                padded.push(c);
                count += 1;
            }
        }
        *text = padded.into();
        Ok::<_, Box<EvalAltResult>>(())
    });
    engine.register_fn("blob", move |len: rhai::INT| {
        let len = refuse(len, 1, "blob")?;
        Ok::<_, Box<EvalAltResult>>(vec![0_u8; len])
    });
    engine.register_fn("blob", move |len: rhai::INT, value: rhai::INT| {
        let len = refuse(len, 1, "blob")?;
        Ok::<_, Box<EvalAltResult>>(vec![(value & 0xff) as u8; len])
    });

    let strings =
        move |text: &ImmutableString, pieces: &mut dyn Iterator<Item = &str>| string_pieces(text, pieces, max_memory);
    engine.register_fn("split", move |text: &mut ImmutableString, delimiter: &str| {
        strings(text, &mut text.split(delimiter))
    });
    engine.register_fn("split", move |text: &mut ImmutableString, delimiter: char| {
        strings(text, &mut text.split(delimiter))
    });
    engine.register_fn("split_rev", move |text: &mut ImmutableString, delimiter: &str| {
        strings(text, &mut text.rsplit(delimiter))
    });
    engine.register_fn("split_rev", move |text: &mut ImmutableString, delimiter: char| {
        strings(text, &mut text.rsplit(delimiter))
    });
    engine.register_fn("split", move |text: &mut ImmutableString, delimiter: &str, segments: rhai::INT| {
        strings(text, &mut text.splitn(segment_count(segments), delimiter))
    });
    engine.register_fn("split", move |text: &mut ImmutableString, delimiter: char, segments: rhai::INT| {
        strings(text, &mut text.splitn(segment_count(segments), delimiter))
    });
    engine.register_fn("split_rev", move |text: &mut ImmutableString, delimiter: &str, segments: rhai::INT| {
        strings(text, &mut text.rsplitn(segment_count(segments), delimiter))
    });
    engine.register_fn("split_rev", move |text: &mut ImmutableString, delimiter: char, segments: rhai::INT| {
        strings(text, &mut text.rsplitn(segment_count(segments), delimiter))
    });
    engine.register_fn("split", move |text: &mut ImmutableString| strings(text, &mut text.split_whitespace()));
    engine.register_fn("to_chars", move |text: &str| bounded_array(text.chars().map(Dynamic::from_char), max_memory));
    engine.register_fn("to_array", move |blob: &mut rhai::Blob| {
        bounded_array(blob.iter().map(|byte| Dynamic::from_int(rhai::INT::from(*byte))), max_memory)
    });
}

/// Rhai's splitting, element for element (an empty string is one empty segment).
fn string_pieces(
    text: &ImmutableString,
    pieces: &mut dyn Iterator<Item = &str>,
    max_memory: usize,
) -> Result<rhai::Array, Box<EvalAltResult>> {
    if text.is_empty() {
        return Ok(vec![Dynamic::from(text.clone())]);
    }
    bounded_array(pieces.map(|piece| Dynamic::from(ImmutableString::from(piece))), max_memory)
}

/// Rhai's `splitn` segment count: at least one segment.
fn segment_count(segments: rhai::INT) -> usize {
    usize::try_from(segments.max(1)).unwrap_or(usize::MAX)
}

/// Collects the elements into an array, stopping with the memory-limit error
/// as soon as this thread's allocations pass the evaluation's budget.
fn bounded_array(items: impl Iterator<Item = Dynamic>, max_memory: usize) -> Result<rhai::Array, Box<EvalAltResult>> {
    const CHECK_INTERVAL: usize = 1024;
    let mut array = rhai::Array::new();
    for (index, item) in items.enumerate() {
        if index % CHECK_INTERVAL == 0 && super::over_memory_budget() {
            return Err(runtime_error(super::memory_limit_message(max_memory)));
        }
        array.push(item);
    }
    Ok(array)
}
