//! Fact values as script values, and script values back to JSON.
//!
//! Every JSON object that is an element of an array (an account, a group, a
//! mount, a PAM rule...) becomes a [`Record`]: read like a map (`u.name`,
//! `u["uid"]`, `"x" in u`, `u.keys()`), typed `"map"`, but shared and copied
//! on write, so handing a 10,000-account fact to a check copies pointers, not
//! 10,000 maps, while a script that changes a record changes only its own
//! copy (the fact is never touched). Objects elsewhere stay ordinary maps.
//!
//! Nesting is bounded ([`MAX_DEPTH`], serde_json's own parse limit): every
//! walk posture makes over a value (conversion to and from JSON, formatting,
//! comparison) is recursive with a depth counter and fails past the limit, so
//! no value a script builds (`a = [a]` in a loop) can overflow the stack
//! there. Dropping and cloning such a value happen inside Rhai; the
//! evaluation threads' stacks are sized for the deepest value the memory
//! budget allows (see `evaluate`).

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Map, NativeCallContext, Position};

/// How deeply arrays and maps may nest where posture converts, formats or
/// compares a value (serde_json refuses deeper JSON on reading, too).
pub const MAX_DEPTH: usize = 128;

/// How many values one finding's `observed` may hold (it is converted to
/// JSON outside the script's memory budget).
pub const MAX_OBSERVED_VALUES: usize = 100_000;

/// Why a value could not be walked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("the value is nested deeper than {MAX_DEPTH} levels (the nesting limit)")]
    TooDeep,
    #[error("the value holds more than {0} values (the size limit of an observed value)")]
    TooLarge(usize),
    #[error("{}", super::memory_limit_message(*.0))]
    OverMemory(usize),
}

/// How many values a walk may still visit.
struct Walk {
    left: usize,
}

impl Walk {
    fn visit(&mut self, depth: usize, limit: usize) -> Result<(), ShapeError> {
        if depth > MAX_DEPTH {
            return Err(ShapeError::TooDeep);
        }
        self.left = self.left.checked_sub(1).ok_or(ShapeError::TooLarge(limit))?;
        Ok(())
    }
}

/// A JSON object inside a fact, shared until a script writes to it.
#[derive(Debug, Clone)]
pub struct Record(Arc<Map>);

impl Record {
    fn get(&mut self, key: &str) -> Dynamic {
        self.0.get(key).cloned().unwrap_or(Dynamic::UNIT)
    }
}

/// Converts a fact's JSON value into a script value; a value nested deeper
/// than [`MAX_DEPTH`] is refused.
pub fn to_script(value: &serde_json::Value) -> Result<Dynamic, ShapeError> {
    convert(value, false, 0)
}

fn convert(value: &serde_json::Value, in_array: bool, depth: usize) -> Result<Dynamic, ShapeError> {
    if depth > MAX_DEPTH {
        return Err(ShapeError::TooDeep);
    }
    Ok(match value {
        serde_json::Value::Null => Dynamic::UNIT,
        serde_json::Value::Bool(b) => Dynamic::from_bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        serde_json::Value::Array(items) => {
            Dynamic::from_array(items.iter().map(|item| convert(item, true, depth + 1)).collect::<Result<_, _>>()?)
        }
        serde_json::Value::Object(fields) => {
            let map: Map = fields
                .iter()
                .map(|(k, v)| Ok((k.as_str().into(), convert(v, false, depth + 1)?)))
                .collect::<Result<_, ShapeError>>()?;
            if in_array {
                Dynamic::from(Record(Arc::new(map)))
            } else {
                Dynamic::from_map(map)
            }
        }
    })
}

/// Converts a script value (what a check gives as `observed`) to JSON.
/// Values with no JSON form (functions, custom types) become their text.
/// Refused past [`MAX_DEPTH`] levels or [`MAX_OBSERVED_VALUES`] values.
pub fn to_json(value: &Dynamic) -> Result<serde_json::Value, ShapeError> {
    json_of(value, 0, &mut Walk { left: MAX_OBSERVED_VALUES }, MAX_OBSERVED_VALUES)
}

fn json_of(value: &Dynamic, depth: usize, walk: &mut Walk, limit: usize) -> Result<serde_json::Value, ShapeError> {
    walk.visit(depth, limit)?;
    if value.is_unit() {
        return Ok(serde_json::Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(serde_json::Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(serde_json::Value::from(i));
    }
    if let Ok(f) = value.as_float() {
        return Ok(serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number));
    }
    if let Some(s) = value.read_lock::<ImmutableString>() {
        return Ok(serde_json::Value::String(s.to_string()));
    }
    if let Some(array) = value.read_lock::<rhai::Array>() {
        return Ok(serde_json::Value::Array(
            array.iter().map(|item| json_of(item, depth + 1, walk, limit)).collect::<Result<_, _>>()?,
        ));
    }
    if let Some(map) = value.read_lock::<Map>() {
        return map_json_of(&map, depth, walk, limit);
    }
    if let Some(record) = value.read_lock::<Record>() {
        return map_json_of(&record.0, depth, walk, limit);
    }
    if let Some(finding) = value.read_lock::<super::ScriptFinding>() {
        // A finding's text names its observed value only by type, so its
        // nesting cannot reach the formatter below.
        return Ok(serde_json::Value::String(format!(
            "{}: {} ({})",
            finding.status, finding.resource, finding.message
        )));
    }
    Ok(serde_json::Value::String(value.to_string()))
}

fn map_json_of(map: &Map, depth: usize, walk: &mut Walk, limit: usize) -> Result<serde_json::Value, ShapeError> {
    Ok(serde_json::Value::Object(
        map.iter()
            .map(|(k, v)| Ok((k.to_string(), json_of(v, depth + 1, walk, limit)?)))
            .collect::<Result<_, ShapeError>>()?,
    ))
}

/// A record's text: its JSON, within the limits of [`to_json`].
fn record_text(record: &Record) -> Result<String, Box<EvalAltResult>> {
    map_json_of(&record.0, 0, &mut Walk { left: usize::MAX }, usize::MAX)
        .map(|json| json.to_string())
        .map_err(|err| script_error(&err))
}

fn script_error(err: &ShapeError) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(err.to_string().into(), Position::NONE))
}

/// How often (in values) a long walk looks at the memory budget: one native
/// call is one operation to Rhai, so the per-operation check cannot see it.
const BUDGET_CHECK_INTERVAL: usize = 1024;

/// Rhai's debug text of a value (what `to_string` of an array shows for its
/// elements), with the nesting and the memory budget bounded.
fn debug_text(
    ctx: &NativeCallContext,
    value: &Dynamic,
    depth: usize,
    seen: &mut usize,
) -> Result<String, Box<EvalAltResult>> {
    if depth > MAX_DEPTH {
        return Err(script_error(&ShapeError::TooDeep));
    }
    *seen += 1;
    if seen.is_multiple_of(BUDGET_CHECK_INTERVAL) && super::over_memory_budget() {
        return Err(script_error(&ShapeError::OverMemory(super::current_max_memory())));
    }
    if let Some(array) = value.read_lock::<rhai::Array>() {
        let items = array.iter().map(|item| debug_text(ctx, item, depth + 1, seen)).collect::<Result<Vec<_>, _>>()?;
        return Ok(format!("[{}]", items.join(", ")));
    }
    if let Some(map) = value.read_lock::<Map>() {
        return map_debug_text(ctx, &map, depth, seen);
    }
    if let Some(record) = value.read_lock::<Record>() {
        return record_text(&record);
    }
    // A leaf: its own `to_debug` (a registered type's, or Rhai's), as Rhai's
    // array formatting does.
    match ctx.call_native_fn::<ImmutableString>("to_debug", (value.clone(),)) {
        Ok(text) => Ok(text.to_string()),
        Err(_) => Ok(ctx.engine().map_type_name(&format!("{value:?}")).to_owned()),
    }
}

fn map_debug_text(
    ctx: &NativeCallContext,
    map: &Map,
    depth: usize,
    seen: &mut usize,
) -> Result<String, Box<EvalAltResult>> {
    let fields = map
        .iter()
        .map(|(k, v)| Ok(format!("{k:?}: {}", debug_text(ctx, v, depth + 1, seen)?)))
        .collect::<Result<Vec<_>, Box<EvalAltResult>>>()?;
    Ok(format!("#{{{}}}", fields.join(", ")))
}

/// Rhai's equality of two values, with the nesting bounded: arrays and maps
/// compare element by element, anything else by its own `==`.
fn equal(ctx: &NativeCallContext, a: &Dynamic, b: &Dynamic, depth: usize) -> Result<bool, Box<EvalAltResult>> {
    if depth > MAX_DEPTH {
        return Err(script_error(&ShapeError::TooDeep));
    }
    if let (Some(x), Some(y)) = (a.read_lock::<rhai::Array>(), b.read_lock::<rhai::Array>()) {
        return arrays_equal(ctx, &x, &y, depth);
    }
    if let (Some(x), Some(y)) = (a.read_lock::<Map>(), b.read_lock::<Map>()) {
        return maps_equal(ctx, &x, &y, depth);
    }
    if a.is_array() || b.is_array() || a.is_map() || b.is_map() {
        return Ok(false);
    }
    Ok(ctx.call_native_fn::<bool>("==", (a.clone(), b.clone())).unwrap_or(false))
}

fn arrays_equal(
    ctx: &NativeCallContext,
    a: &rhai::Array,
    b: &rhai::Array,
    depth: usize,
) -> Result<bool, Box<EvalAltResult>> {
    if a.len() != b.len() {
        return Ok(false);
    }
    for (x, y) in a.iter().zip(b) {
        if !equal(ctx, x, y, depth + 1)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn maps_equal(ctx: &NativeCallContext, a: &Map, b: &Map, depth: usize) -> Result<bool, Box<EvalAltResult>> {
    if a.len() != b.len() {
        return Ok(false);
    }
    for (key, x) in a {
        match b.get(key) {
            Some(y) if equal(ctx, x, y, depth + 1)? => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// Replaces Rhai's formatting and equality of arrays and maps, which recurse
/// without a bound, with the bounded versions above (same text, same result).
fn register_bounded_walks(engine: &mut Engine) {
    for name in ["to_string", "to_debug", "print", "debug"] {
        engine.register_fn(name, |ctx: NativeCallContext, array: &mut rhai::Array| {
            let items = array.iter().map(|item| debug_text(&ctx, item, 1, &mut 0)).collect::<Result<Vec<_>, _>>()?;
            Ok::<_, Box<EvalAltResult>>(ImmutableString::from(format!("[{}]", items.join(", "))))
        });
        engine.register_fn(name, |ctx: NativeCallContext, map: &mut Map| {
            Ok::<_, Box<EvalAltResult>>(ImmutableString::from(map_debug_text(&ctx, map, 0, &mut 0)?))
        });
    }
    engine
        .register_fn("==", |ctx: NativeCallContext, a: &mut rhai::Array, b: rhai::Array| arrays_equal(&ctx, a, &b, 0));
    engine.register_fn("!=", |ctx: NativeCallContext, a: &mut rhai::Array, b: rhai::Array| {
        arrays_equal(&ctx, a, &b, 0).map(|same| !same)
    });
    engine.register_fn("==", |ctx: NativeCallContext, a: &mut Map, b: Map| maps_equal(&ctx, a, &b, 0));
    engine
        .register_fn("!=", |ctx: NativeCallContext, a: &mut Map, b: Map| maps_equal(&ctx, a, &b, 0).map(|same| !same));
}

fn map_to_json(map: &Map) -> Result<serde_json::Value, Box<EvalAltResult>> {
    map_json_of(map, 0, &mut Walk { left: usize::MAX }, usize::MAX).map_err(|err| script_error(&err))
}

/// Registers [`Record`] with the map-like API checks use.
pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Record>("map")
        .register_indexer_get(|r: &mut Record, key: &str| r.get(key))
        .register_indexer_set(|r: &mut Record, key: &str, value: Dynamic| {
            Arc::make_mut(&mut r.0).insert(key.into(), value);
        })
        .register_fn("remove", |r: &mut Record, key: &str| Arc::make_mut(&mut r.0).remove(key).unwrap_or(Dynamic::UNIT))
        .register_fn("len", |r: &mut Record| r.0.len() as rhai::INT)
        .register_fn("is_empty", |r: &mut Record| r.0.is_empty())
        .register_fn("keys", |r: &mut Record| {
            r.0.keys().map(|k| Dynamic::from(ImmutableString::from(k.as_str()))).collect::<rhai::Array>()
        })
        .register_fn("values", |r: &mut Record| r.0.values().cloned().collect::<rhai::Array>())
        .register_fn("contains", |r: &mut Record, key: &str| r.0.contains_key(key))
        .register_fn("to_map", |r: &mut Record| (*r.0).clone())
        .register_fn("==", |a: &mut Record, b: Record| {
            Ok::<_, Box<EvalAltResult>>(Arc::ptr_eq(&a.0, &b.0) || map_to_json(&a.0)? == map_to_json(&b.0)?)
        })
        .register_fn("!=", |a: &mut Record, b: Record| {
            Ok::<_, Box<EvalAltResult>>(!(Arc::ptr_eq(&a.0, &b.0) || map_to_json(&a.0)? == map_to_json(&b.0)?))
        })
        .register_fn("to_string", |r: &mut Record| record_text(r))
        .register_fn("to_debug", |r: &mut Record| record_text(r));
    register_bounded_walks(engine);
}
