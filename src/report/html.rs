//! The HTML report (`report.html`), rendered by its Tera template.

use super::format::{Format, Render};

pub const FORMAT: Format = Format {
    name: "html",
    file: "report.html",
    description: "a self-contained page for people: summary, controls, findings, evidence",
    on_by_default: true,
    render: Render::Template(include_str!("../../templates/report.html")),
};
