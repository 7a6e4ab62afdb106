//! Fact values as script values, and script values back to JSON.
//!
//! Every JSON object that is an element of an array (an account, a group, a
//! mount, a PAM rule...) becomes a [`Record`]: read like a map (`u.name`,
//! `u["uid"]`, `"x" in u`, `u.keys()`), typed `"map"`, but shared and copied
//! on write, so handing a 10,000-account fact to a check copies pointers, not
//! 10,000 maps, while a script that changes a record changes only its own
//! copy (the fact is never touched). Objects elsewhere stay ordinary maps.

use std::sync::Arc;

use rhai::{Dynamic, Engine, ImmutableString, Map};

/// A JSON object inside a fact, shared until a script writes to it.
#[derive(Debug, Clone)]
pub struct Record(Arc<Map>);

impl Record {
    fn get(&mut self, key: &str) -> Dynamic {
        self.0.get(key).cloned().unwrap_or(Dynamic::UNIT)
    }
}

/// Converts a fact's JSON value into a script value.
pub fn to_script(value: &serde_json::Value) -> Dynamic {
    convert(value, false)
}

fn convert(value: &serde_json::Value, in_array: bool) -> Dynamic {
    match value {
        serde_json::Value::Null => Dynamic::UNIT,
        serde_json::Value::Bool(b) => Dynamic::from_bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        serde_json::Value::Array(items) => Dynamic::from_array(items.iter().map(|item| convert(item, true)).collect()),
        serde_json::Value::Object(fields) => {
            let map: Map = fields.iter().map(|(k, v)| (k.as_str().into(), convert(v, false))).collect();
            if in_array {
                Dynamic::from(Record(Arc::new(map)))
            } else {
                Dynamic::from_map(map)
            }
        }
    }
}

/// Converts a script value (what a check gives as `observed`) to JSON.
/// Values with no JSON form (functions, custom types) become their text.
pub fn to_json(value: &Dynamic) -> serde_json::Value {
    if value.is_unit() {
        return serde_json::Value::Null;
    }
    if let Ok(b) = value.as_bool() {
        return serde_json::Value::Bool(b);
    }
    if let Ok(i) = value.as_int() {
        return serde_json::Value::from(i);
    }
    if let Ok(f) = value.as_float() {
        return serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number);
    }
    if let Some(s) = value.read_lock::<ImmutableString>() {
        return serde_json::Value::String(s.to_string());
    }
    if let Some(array) = value.read_lock::<rhai::Array>() {
        return serde_json::Value::Array(array.iter().map(to_json).collect());
    }
    if let Some(map) = value.read_lock::<Map>() {
        return map_to_json(&map);
    }
    if let Some(record) = value.read_lock::<Record>() {
        return map_to_json(&record.0);
    }
    serde_json::Value::String(value.to_string())
}

fn map_to_json(map: &Map) -> serde_json::Value {
    serde_json::Value::Object(map.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
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
            Arc::ptr_eq(&a.0, &b.0) || map_to_json(&a.0) == map_to_json(&b.0)
        })
        .register_fn("!=", |a: &mut Record, b: Record| {
            !(Arc::ptr_eq(&a.0, &b.0) || map_to_json(&a.0) == map_to_json(&b.0))
        })
        .register_fn("to_string", |r: &mut Record| map_to_json(&r.0).to_string())
        .register_fn("to_debug", |r: &mut Record| map_to_json(&r.0).to_string());
}
