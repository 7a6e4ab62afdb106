//! The output formats: one module each (`json.rs`, `html.rs`, ...), one row
//! each in [`FORMATS`]. `--format`, the files an audit writes, the files a
//! pack's `verify` re-renders, the output folder's own file names and
//! `posture list formats` all come from this table. May import the report
//! model and its format modules only.

use super::model::Report;
use super::{csv, html, json, junit, markdown, ReportError};

/// One output format.
#[derive(Debug)]
pub struct Format {
    /// Its `--format` value.
    pub name: &'static str,
    /// The file it is written to in `--out`.
    pub file: &'static str,
    /// What it is, for `posture list formats` and `--help`.
    pub description: &'static str,
    /// Whether an audit writes it when `--format` is not given.
    pub on_by_default: bool,
    pub render: Render,
}

/// How a format is made from the report model.
#[derive(Debug)]
pub enum Render {
    /// By posture's own code: not changed by `--templates`.
    Code(fn(&Report) -> Result<String, ReportError>),
    /// By the Tera template named like the file: this built-in text, or
    /// the file of that name in `--templates DIR`.
    Template(&'static str),
}

/// Every output format, in the order `list formats` shows them.
pub const FORMATS: &[Format] = &[json::FORMAT, html::FORMAT, junit::FORMAT, markdown::FORMAT, csv::FORMAT];

/// The report every audit writes whatever `--format` says: the evidence
/// pack is verified against it.
pub const ALWAYS: &Format = &FORMATS[0];

pub fn by_name(name: &str) -> Option<&'static Format> {
    FORMATS.iter().find(|format| format.name == name)
}

/// The formats written when `--format` is not given, as `--format` takes them.
pub fn default_names() -> String {
    FORMATS.iter().filter(|f| f.on_by_default).map(|f| f.name).collect::<Vec<_>>().join(",")
}

/// The formats rendered by a template: (template name, built-in text).
pub fn templates() -> impl Iterator<Item = (&'static str, &'static str)> {
    FORMATS.iter().filter_map(|format| match format.render {
        Render::Template(text) => Some((format.file, text)),
        Render::Code(_) => None,
    })
}

impl Format {
    /// The file's contents for `report`; `tera` holds the templates of the
    /// run (see [`super::templates`]), each rendering given at most `time_limit`.
    pub fn render(
        &self,
        tera: &tera::Tera,
        report: &Report,
        time_limit: std::time::Duration,
    ) -> Result<String, ReportError> {
        match self.render {
            Render::Code(render) => render(report),
            Render::Template(_) => super::render(tera, self.file, report, time_limit),
        }
    }

    pub fn is_template(&self) -> bool {
        matches!(self.render, Render::Template(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_files_are_unique_and_json_comes_first() {
        let names: std::collections::BTreeSet<_> = FORMATS.iter().map(|f| f.name).collect();
        let files: std::collections::BTreeSet<_> = FORMATS.iter().map(|f| f.file).collect();
        assert_eq!(names.len(), FORMATS.len());
        assert_eq!(files.len(), FORMATS.len());
        assert_eq!(ALWAYS.name, "json");
        assert!(!ALWAYS.is_template());
    }

    #[test]
    fn the_defaults_are_the_formats_marked_so() {
        assert_eq!(default_names(), "json,html,junit,md");
        assert!(default_names().split(',').all(|name| by_name(name).is_some()));
    }
}
