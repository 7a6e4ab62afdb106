//! A problem at a place in a file, `path:line:column: message`: the one shape
//! and the one wording of a problem in a file posture reads (content,
//! posture.toml, waivers files, check scripts). Imports no other posture
//! module, so that every reader of files may use it.

use std::fmt;

/// A problem of a file, positioned where it is to be fixed when that is known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
pub struct Located {
    /// The file, as the user knows it (`posture.toml`, `checks/linux/...`).
    pub path: String,
    /// 1-based; `None` for a problem of the whole file (missing, unreadable).
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub message: String,
}

impl Located {
    /// A problem of the whole file; [`Located::at`] positions it.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), line: None, column: None, message: message.into() }
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Positioned at a byte offset of the file's text.
    pub fn at_offset(self, source: &str, offset: usize) -> Self {
        let (line, column) = line_column(source, offset);
        self.at(line, column)
    }

    /// A TOML parse error of `toml_text`, at its span when the parser gives
    /// one; its message on one line.
    pub fn from_toml(path: impl Into<String>, toml_text: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().lines().map(str::trim).collect::<Vec<_>>().join("; ");
        let problem = Self::new(path, message);
        match err.span() {
            Some(span) => problem.at_offset(toml_text, span.start),
            None => problem,
        }
    }

    /// The position moved by `lines` and `columns`: a position in a text
    /// embedded in the file (a check's front block) made one of the file.
    pub fn shifted(mut self, lines: usize, columns: usize) -> Self {
        self.line = self.line.map(|line| line + lines);
        self.column = self.column.map(|column| column + columns);
        self
    }

    /// Where the problem is: `path:line:column`, `path:line` or `path`.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", self.path),
            (Some(line), None) => format!("{}:{line}", self.path),
            _ => self.path.clone(),
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)
    }
}

/// 1-based line and column (in characters) of a byte offset of `source`.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn floor_char_boundary(s: &str, mut index: usize) -> usize {
    while index > 0 && !s.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_says_as_much_as_is_known() {
        let whole = Located::new("posture.toml", "is a directory, not a file");
        assert_eq!(whole.to_string(), "posture.toml: is a directory, not a file");
        assert_eq!(whole.clone().at(3, 7).to_string(), "posture.toml:3:7: is a directory, not a file");
        let line_only = Located { line: Some(4), ..whole };
        assert_eq!(line_only.location(), "posture.toml:4");
    }

    #[test]
    fn offsets_become_lines_and_columns_in_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // After the two-byte 'é': the third character of the line.
        assert_eq!(line_column(text, 9), (2, 3));
        // Inside a character, or past the end: the nearest position before it.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 1000), (3, 1));
        assert_eq!(Located::new("w.toml", "m").at_offset(text, 6).location(), "w.toml:2:1");
    }

    #[test]
    fn toml_errors_point_at_their_span_and_shift_into_the_file() {
        let text = "[[targets]]\ntype = = 1\n";
        let err = toml::from_str::<toml::Value>(text).expect_err("invalid");
        let problem = Located::from_toml("posture.toml", text, &err);
        assert_eq!(problem.line, Some(2), "{problem}");
        assert!(!problem.message.contains('\n'), "{problem}");
        let shifted = problem.clone().shifted(10, 4);
        assert_eq!((shifted.line, shifted.column), (Some(12), problem.column.map(|c| c + 4)));
        assert_eq!(Located::new("f", "m").shifted(1, 1).location(), "f", "nothing to shift");
    }
}
