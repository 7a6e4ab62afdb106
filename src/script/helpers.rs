//! The small text and value helpers every check and prelude shares,
//! registered once on the engine (`join`, `as_list`, `as_int`) instead of a
//! copy per prelude. May import the script module's budget checks only.

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString};

/// The most digits `as_int` reads: twelve keep every value far inside `INT`.
const MAX_INT_DIGITS: usize = 12;

pub fn register(engine: &mut Engine, max_memory: usize) {
    // `join(items, sep)` / `items.join(sep)`: each item as `${item}` writes
    // it, separated by `sep`.
    engine.register_fn("join", move |items: &mut rhai::Array, separator: &str| join(items, separator, max_memory));
    // `as_list(value)`: an array as it is, `()` as `[]`, anything else as a
    // one-element array (AWS gives a policy's Action, Resource or Principal
    // as a string or an array of strings).
    engine.register_fn("as_list", |value: Dynamic| -> rhai::Array {
        if value.is_array() {
            value.into_array().unwrap_or_default()
        } else if value.is_unit() {
            rhai::Array::new()
        } else {
            vec![value]
        }
    });
    // `as_int(value)`: the decimal integer a configuration value spells
    // (surrounding blanks and one leading `-` allowed), or `()` when it is
    // not one: unlike `parse_int`, bad input is an answer, not an error.
    engine.register_fn("as_int", |value: Dynamic| as_int(&value.to_string()).map_or(Dynamic::UNIT, Dynamic::from_int));
}

fn join(items: &rhai::Array, separator: &str, max_memory: usize) -> Result<ImmutableString, Box<EvalAltResult>> {
    const CHECK_INTERVAL: usize = 1024;
    let mut text = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            text.push_str(separator);
        }
        if index % CHECK_INTERVAL == 0 && super::over_memory_budget() {
            return Err(super::api::runtime_error(super::memory_limit_message(max_memory)));
        }
        text.push_str(&item.to_string());
    }
    Ok(text.into())
}

fn as_int(text: &str) -> Option<rhai::INT> {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || digits.len() > MAX_INT_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(script: &str) -> Dynamic {
        let mut engine = Engine::new();
        register(&mut engine, 1 << 30);
        engine.eval::<Dynamic>(script).expect("evaluates")
    }

    #[test]
    fn join_writes_each_item_as_interpolation_would() {
        assert_eq!(eval(r#"join(["a", 1, (), true], ", ")"#).to_string(), "a, 1, , true");
        assert_eq!(eval(r#"["x"].join("-")"#).to_string(), "x");
        assert_eq!(eval(r#"join([], ", ")"#).to_string(), "");
    }

    #[test]
    fn as_list_wraps_what_is_not_an_array() {
        assert_eq!(eval(r#"as_list("a").len()"#).as_int().expect("int"), 1);
        assert_eq!(eval(r#"as_list(["a", "b"]).len()"#).as_int().expect("int"), 2);
        assert_eq!(eval("as_list(()).len()").as_int().expect("int"), 0);
    }

    #[test]
    fn as_int_answers_unit_for_what_is_not_a_decimal_integer() {
        assert_eq!(as_int(" 42 "), Some(42));
        assert_eq!(as_int("-7"), Some(-7));
        for bad in ["", "-", "4x", "1e3", "0x10", "+5", "1234567890123", "--1"] {
            assert_eq!(as_int(bad), None, "{bad}");
        }
        assert!(eval(r#"as_int("no")"#).is_unit());
        assert_eq!(eval("as_int(12)").as_int().expect("int"), 12);
    }
}
