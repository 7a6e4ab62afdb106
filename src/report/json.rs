//! The JSON report (`report.json`): the report model as serde writes it,
//! the one format every audit writes and a pack is verified against.

use super::format::{Format, Render};
use super::model::Report;
use super::ReportError;

pub const FORMAT: Format = Format {
    name: "json",
    file: "report.json",
    description: "the whole report, as templates/report.schema.json describes it (always written)",
    on_by_default: true,
    render: Render::Code(to_json),
};

pub fn to_json(report: &Report) -> Result<String, ReportError> {
    Ok(serde_json::to_string_pretty(report)? + "\n")
}
