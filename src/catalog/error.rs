//! Catalog problems, each positioned at the file (and line) to fix: a
//! [`Located`] problem, and the check it belongs to.

use std::fmt;

pub use crate::located::line_column;
use crate::located::Located;

/// One problem found while loading or validating content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CatalogError {
    /// Where: the content file, as a display path below its content root
    /// (`checks/linux/...`, `cis-debian-linux-12.toml`), and what.
    #[serde(flatten)]
    pub located: Located,
    /// The check the problem belongs to, when it belongs to one.
    pub check: Option<String>,
}

impl CatalogError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Located::new(path, message).into()
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.located = self.located.at(line, column);
        self
    }

    pub fn at_offset(mut self, source: &str, offset: usize) -> Self {
        self.located = self.located.at_offset(source, offset);
        self
    }

    pub fn for_check(mut self, check: impl Into<String>) -> Self {
        self.check = Some(check.into());
        self
    }

    /// Where the problem is: `path:line:column`.
    pub fn location(&self) -> String {
        self.located.location()
    }
}

impl From<Located> for CatalogError {
    fn from(located: Located) -> Self {
        Self { located, check: None }
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Located { message, .. } = &self.located;
        match self.check.as_ref().filter(|check| !message.contains(&format!("'{check}'"))) {
            Some(check) => write!(f, "{}: check {check}: {message}", self.location()),
            None => self.located.fmt(f),
        }
    }
}

impl std::error::Error for CatalogError {}

/// A TOML parse error as a positioned catalog error. `line_shift` and
/// `column_shift` map a position in `toml_text` back into the file it came from.
pub fn from_toml(
    path: &str,
    toml_text: &str,
    err: &toml::de::Error,
    line_shift: usize,
    column_shift: usize,
) -> CatalogError {
    Located::from_toml(path, toml_text, err).shifted(line_shift, column_shift).into()
}
