//! Catalog problems, each positioned at the file (and line) to fix.

use std::fmt;

/// One problem found while loading or validating content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CatalogError {
    /// The content file, as a display path below its content root (`checks/linux/...`, `cis-debian-linux-12.toml`).
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The check the problem belongs to, when it belongs to one.
    pub check: Option<String>,
    pub message: String,
}

impl CatalogError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), line: None, column: None, check: None, message: message.into() }
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    pub fn at_offset(self, source: &str, offset: usize) -> Self {
        let (line, column) = line_column(source, offset);
        self.at(line, column)
    }

    pub fn for_check(mut self, check: impl Into<String>) -> Self {
        self.check = Some(check.into());
        self
    }

    /// Where the problem is: `path:line:column`.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", self.path),
            (Some(line), None) => format!("{}:{line}", self.path),
            _ => self.path.clone(),
        }
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location())?;
        if let Some(check) = self.check.as_ref().filter(|check| !self.message.contains(&format!("'{check}'"))) {
            write!(f, "check {check}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for CatalogError {}

/// 1-based line and column of a byte offset.
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

/// A TOML parse error as a positioned catalog error. `line_shift` and
/// `column_shift` map a position in `toml_text` back into the file it came from.
pub fn from_toml(
    path: &str,
    toml_text: &str,
    err: &toml::de::Error,
    line_shift: usize,
    column_shift: usize,
) -> CatalogError {
    let message = err.message().trim().lines().map(str::trim).collect::<Vec<_>>().join("; ");
    match err.span() {
        Some(span) => {
            let (line, column) = line_column(toml_text, span.start);
            CatalogError::new(path, message).at(line + line_shift, column + column_shift)
        }
        None => CatalogError::new(path, message),
    }
}
