//! The Markdown summary (`summary.md`), rendered by its Tera template.

use super::format::{Format, Render};

pub const FORMAT: Format = Format {
    name: "md",
    file: "summary.md",
    description: "a Markdown summary for pull requests and chat: counts and what fails",
    on_by_default: true,
    render: Render::Template(include_str!("../../templates/summary.md")),
};
