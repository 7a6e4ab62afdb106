//! The JUnit XML report (`junit.xml`) for CI systems, rendered by its Tera template.

use super::format::{Format, Render};

pub const FORMAT: Format = Format {
    name: "junit",
    file: "junit.xml",
    description: "JUnit XML for CI: a testsuite per section (per target with several), a testcase per control",
    on_by_default: true,
    render: Render::Template(include_str!("../../templates/junit.xml")),
};
