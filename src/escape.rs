//! Text from users and facts (target and resource names, messages) made safe
//! for where it is shown: a terminal (control characters written as `\x1b`
//! escapes, so nothing can move the cursor, recolour or retitle it),
//! Markdown (one inline run: no line breaks, headings, table cells, code
//! spans or HTML of its own), and HTML and XML (no character XML 1.0 refuses).

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character (ASCII and C1, newline and tab too)
/// written as `\n`, `\t`, `\r` or `\xNN` / `\u{NNNN}`, and backslash doubled
/// only when something was escaped, so plain text stays as it is.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A command's whole output for a terminal: lines and tabs kept, every other
/// control character written as in [`terminal`] (backslashes as they are).
/// The last guard for text a command did not escape field by field.
pub fn terminal_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&terminal(&c.to_string()));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` as one inline run of Markdown, in a table cell or not: line
/// breaks become spaces, and the characters Markdown or HTML would act on
/// (`\` `` ` `` `*` `_` `~` `[` `]` `#` `|` `<` `>` `&`) are
/// backslash-escaped or written as entities; other control characters are
/// written as in [`terminal`].
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        let alphanumeric_at = |i: Option<usize>| i.and_then(|i| chars.get(i)).is_some_and(|c| c.is_alphanumeric());
        match c {
            '\r' | '\n' => out.push(' '),
            // Inside a word (`sshd_config`) an underscore emphasises nothing.
            '_' if alphanumeric_at(index.checked_sub(1)) && alphanumeric_at(Some(index + 1)) => out.push('_'),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '#' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&terminal(&c.to_string())),
            c => out.push(c),
        }
    }
    out
}

/// `text` as a Markdown code span, in a table cell or not: a backtick
/// fence longer than any run of backticks inside, line breaks as spaces,
/// `|` as `\|` (GitHub tables split cells on it even in code spans), other
/// control characters as in [`terminal`]. HTML is not read in code spans.
pub fn markdown_code(text: &str) -> String {
    let mut inner = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\r' | '\n' => inner.push(' '),
            '|' => inner.push_str("\\|"),
            c if c.is_control() => inner.push_str(&terminal(&c.to_string())),
            c => inner.push(c),
        }
    }
    let mut longest_run = 0;
    let mut run = 0;
    for c in inner.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest_run = longest_run.max(run);
    }
    let fence = "`".repeat(longest_run + 1);
    // A space on each side when the text starts or ends with a backtick
    // (Markdown strips one space on each side again).
    let pad = if inner.starts_with('`') || inner.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{inner}{pad}{fence}")
}

/// `text` for HTML and XML, as report templates escape every value: Tera's
/// own escaping (`&` `<` `>` `"` `'` `/` as entities), and the characters XML
/// 1.0 cannot hold at all, not even as references (control characters other
/// than tab and line breaks; U+FFFE, U+FFFF), written as in [`terminal`], so
/// that a name in a fact bundle cannot make junit.xml unreadable.
pub fn markup(text: &str) -> String {
    let escaped = tera::escape_html(text);
    let unfit = |c: char| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}');
    if !escaped.chars().any(unfit) {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 8);
    for c in escaped.chars() {
        match c {
            '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c if unfit(c) => out.push_str(&terminal(&c.to_string())),
            c => out.push(c),
        }
    }
    out
}

/// The Tera filter `md`: [`markdown`] of a value (strings as they are,
/// anything else as its JSON text).
pub fn markdown_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = match value {
        tera::Value::String(s) => markdown(s),
        tera::Value::Null => String::new(),
        other => markdown(&other.to_string()),
    };
    Ok(tera::Value::String(text))
}

/// The Tera filter `md_code`: [`markdown_code`] of a value.
pub fn markdown_code_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = match value {
        tera::Value::String(s) => markdown_code(s),
        tera::Value::Null => markdown_code(""),
        other => markdown_code(&other.to_string()),
    };
    Ok(tera::Value::String(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_reach_no_terminal() {
        assert_eq!(terminal("web-1"), "web-1");
        assert_eq!(terminal("a\x1b[2Jb\nc\u{9b}d"), "a\\x1b[2Jb\\nc\\x9bd");
        assert_eq!(terminal("a\\b\x07"), "a\\\\b\\x07");
        assert!(!terminal("\u{7f}\u{85}").chars().any(char::is_control));
    }

    #[test]
    fn whole_outputs_keep_their_lines() {
        assert_eq!(terminal_lines("a\tb\nc\\d\n"), "a\tb\nc\\d\n");
        assert_eq!(terminal_lines("x\x1b[31my\r\n"), "x\\x1b[31my\\r\n");
    }

    #[test]
    fn markdown_text_stays_one_inline_run() {
        assert_eq!(markdown("host\n# Injected"), "host \\# Injected");
        assert_eq!(markdown("a|b`c"), "a\\|b\\`c");
        assert_eq!(markdown("<script>x</script>"), "&lt;script&gt;x&lt;/script&gt;");
        assert_eq!(markdown("web-1.example"), "web-1.example");
        assert_eq!(markdown("sshd_config *x* _y_"), "sshd_config \\*x\\* \\_y\\_");
        assert!(!markdown("x\x1by").contains('\x1b'));
    }

    #[test]
    fn markup_holds_no_character_xml_refuses() {
        assert_eq!(markup("a<b>&\"c\""), "a&lt;b&gt;&amp;&quot;c&quot;");
        assert_eq!(markup("line\n\tnext"), "line\n\tnext");
        assert_eq!(markup("evil\x1b[2J\x00\u{fffe}"), "evil\\x1b[2J\\x00\\u{fffe}");
    }

    #[test]
    fn code_spans_hold_any_text() {
        assert_eq!(markdown_code("web-1"), "`web-1`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`x"), "`` `x ``");
        assert_eq!(markdown_code("h\n# x|y"), "`h # x\\|y`");
    }
}
