//! Waivers: accepted risks read from a waivers file (`--waivers` or
//! `waivers = "..."` in posture.toml), validated at load with every error at
//! its line, and matched against failing findings on a given day: active
//! ones turn a failure into `waived`, expired ones no longer apply, and
//! every waiver's outcome (active, expired, unmatched) is reported.

use std::path::Path;

use chrono::NaiveDate;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::located::{line_column, Located};

/// A waivers file's problem, at its line (none when the file cannot be read).
pub type WaiverError = Located;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    waivers: Vec<toml::Spanned<RawWaiver>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    id: Option<String>,
    control: Option<toml::Spanned<String>>,
    check: Option<toml::Spanned<String>>,
    resource: toml::Spanned<String>,
    target: Option<toml::Spanned<String>>,
    justification: String,
    approver: String,
    expires: toml::Spanned<toml::value::Datetime>,
}

/// What a waiver covers: the findings of one control (of one benchmark, or
/// of any benchmark with that control id), or of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `control = "2.1.1"` or `control = "cis-aws-foundations-v3.0.0:2.1.1"`.
    Control { benchmark: Option<String>, control: String },
    /// `check = "aws_s3_bucket_secure_transport_required"`.
    Check { check: String },
}

impl Scope {
    fn covers(&self, benchmark: &str, control: &str, check: &str) -> bool {
        match self {
            Scope::Control { benchmark: wanted, control: id } => {
                id == control && wanted.as_deref().is_none_or(|wanted| wanted == benchmark)
            }
            Scope::Check { check: id } => id == check,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Control { benchmark: Some(benchmark), control } => write!(f, "control {benchmark}:{control}"),
            Scope::Control { benchmark: None, control } => write!(f, "control {control}"),
            Scope::Check { check } => write!(f, "check {check}"),
        }
    }
}

/// One accepted risk.
#[derive(Debug, Clone)]
pub struct Waiver {
    /// The `id` given, else `<file>:<line>`.
    pub id: String,
    /// `<file>:<line>` of the waiver's table.
    pub source: String,
    pub scope: Scope,
    pub resource: String,
    pub target: String,
    pub justification: String,
    pub approver: String,
    /// The last day the waiver applies (it lapses at the end of that day, UTC).
    pub expires: NaiveDate,
    resource_matcher: GlobMatcher,
    target_matcher: GlobMatcher,
}

impl Waiver {
    /// Whether the waiver is in force on `today`.
    pub fn is_active(&self, today: NaiveDate) -> bool {
        today <= self.expires
    }

    /// Whether the waiver names this finding (whatever the date).
    pub fn covers(&self, benchmark: &str, control: &str, check: &str, target: &str, resource: &str) -> bool {
        self.scope.covers(benchmark, control, check)
            && self.target_matcher.is_match(target)
            && self.resource_matcher.is_match(resource)
    }
}

/// The waivers of one file (or none).
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    /// The file's text, as read (an evidence pack keeps it).
    pub text: Option<String>,
    pub waivers: Vec<Waiver>,
}

impl Waivers {
    /// Reads and validates a waivers file; the first problem is returned with
    /// its line. `known` tells whether a control or check id exists in the
    /// catalog: a waiver for nothing that exists is a mistake to fix now.
    pub fn load(path: &Path, known: &dyn Fn(&Scope) -> bool) -> Result<Self, WaiverError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|err| Located::new(display.clone(), format!("cannot read the waivers file: {err}")))?;
        Self::parse(&display, &text, known)
    }

    /// Parses waivers from `text`, `display` naming it in errors.
    pub fn parse(display: &str, text: &str, known: &dyn Fn(&Scope) -> bool) -> Result<Self, WaiverError> {
        let at = |offset: usize, message: String| Located::new(display, message).at_offset(text, offset);
        let raw: RawFile = toml::from_str(text).map_err(|err| Located::from_toml(display, text, &err))?;
        let mut waivers = Vec::with_capacity(raw.waivers.len());
        for spanned in raw.waivers {
            let offset = spanned.span().start;
            let (line, _) = line_column(text, offset);
            let raw = spanned.into_inner();
            let scope = match (&raw.control, &raw.check) {
                (Some(control), None) => {
                    let value = control.get_ref().trim();
                    let scope = match value.rsplit_once(':') {
                        Some((benchmark, control)) => {
                            Scope::Control { benchmark: Some(benchmark.to_owned()), control: control.to_owned() }
                        }
                        None => Scope::Control { benchmark: None, control: value.to_owned() },
                    };
                    if value.is_empty() || !known(&scope) {
                        return Err(at(control.span().start, format!("no benchmark has the control '{value}'")));
                    }
                    scope
                }
                (None, Some(check)) => {
                    let scope = Scope::Check { check: check.get_ref().trim().to_owned() };
                    if !known(&scope) {
                        return Err(at(check.span().start, format!("no check has the id '{}'", check.get_ref())));
                    }
                    scope
                }
                (Some(_), Some(_)) => {
                    return Err(at(offset, "a waiver names either a control or a check, not both".to_owned()))
                }
                (None, None) => return Err(at(offset, "a waiver needs a control or a check".to_owned())),
            };
            let glob = |spanned: &toml::Spanned<String>, what: &str| {
                let pattern = spanned.get_ref().trim();
                if pattern.is_empty() {
                    return Err(at(spanned.span().start, format!("the {what} pattern is empty (use \"*\" for any)")));
                }
                Glob::new(pattern)
                    .map(|glob| glob.compile_matcher())
                    .map_err(|err| at(spanned.span().start, format!("bad {what} pattern '{pattern}': {err}")))
            };
            let resource_matcher = glob(&raw.resource, "resource")?;
            let target = raw.target.unwrap_or_else(|| toml::Spanned::new(0..0, "*".to_owned()));
            let target_matcher = glob(&target, "target")?;
            for (value, field) in [(&raw.justification, "justification"), (&raw.approver, "approver")] {
                if value.trim().is_empty() {
                    return Err(at(offset, format!("the {field} is empty: every waiver says why and who approved it")));
                }
            }
            let expires = date_of(raw.expires.get_ref())
                .ok_or_else(|| at(raw.expires.span().start, "expires must be a date like 2027-03-31".to_owned()))?;
            let source = format!("{display}:{line}");
            let id = raw.id.filter(|id| !id.trim().is_empty()).unwrap_or_else(|| source.clone());
            if let Some(previous) = waivers.iter().find(|w: &&Waiver| w.id == id) {
                return Err(at(offset, format!("the waiver id '{id}' is used twice (first at {})", previous.source)));
            }
            waivers.push(Waiver {
                id,
                source,
                scope,
                resource: raw.resource.into_inner().trim().to_owned(),
                target: target.into_inner().trim().to_owned(),
                justification: raw.justification.trim().to_owned(),
                approver: raw.approver.trim().to_owned(),
                expires,
                resource_matcher,
                target_matcher,
            });
        }
        Ok(Self { text: Some(text.to_owned()), waivers })
    }

    /// The waiver concerning this failing finding on `today`, as an index
    /// into [`Waivers::waivers`]: the first active one that covers it (it is
    /// waived), else the first expired one (shown beside the failure it no
    /// longer excuses), in file order.
    pub fn waiver_for(&self, today: NaiveDate, finding: &FindingRef<'_>) -> Option<usize> {
        let covering =
            |w: &Waiver| w.covers(finding.benchmark, finding.control, finding.check, finding.target, finding.resource);
        self.waivers
            .iter()
            .position(|w| w.is_active(today) && covering(w))
            .or_else(|| self.waivers.iter().position(covering))
    }
}

/// A finding as waivers see it: where it was judged and on what.
#[derive(Debug, Clone, Copy)]
pub struct FindingRef<'a> {
    pub benchmark: &'a str,
    pub control: &'a str,
    pub check: &'a str,
    pub target: &'a str,
    pub resource: &'a str,
}

/// A TOML date (or the date of a date-time).
fn date_of(value: &toml::value::Datetime) -> Option<NaiveDate> {
    let date = value.date?;
    NaiveDate::from_ymd_opt(i32::from(date.year), u32::from(date.month), u32::from(date.day))
}

/// What became of one waiver in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaiverState {
    /// In force and applied to at least one failing finding.
    Active,
    /// Past its expiry date: it no longer applies (whether or not it covers
    /// a failing finding).
    Expired,
    /// In force but no failing finding of this run matches it.
    Unmatched,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(scope: &Scope) -> bool {
        match scope {
            Scope::Control { benchmark, control } => {
                control == "2.1.1" && benchmark.as_deref().is_none_or(|b| b == "cis-aws-foundations-v3.0.0")
            }
            Scope::Check { check } => check == "aws_s3_bucket_secure_transport_required",
        }
    }

    const FILE: &str = r#"
[[waivers]]
id = "W-1"
control = "cis-aws-foundations-v3.0.0:2.1.1"
resource = "arn:aws:s3:::legacy-*"
target = "123456789012"
justification = "legacy uploads, migrating in Q1"
approver = "ciso@example.com"
expires = 2027-03-31

[[waivers]]
check = "aws_s3_bucket_secure_transport_required"
resource = "*"
justification = "old"
approver = "someone"
expires = 2020-01-01
"#;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn parses_and_matches_on_an_injected_day() {
        let waivers = Waivers::parse("waivers.toml", FILE, &known).expect("valid");
        assert_eq!(waivers.waivers.len(), 2);
        assert_eq!(waivers.waivers[1].id, "waivers.toml:11");
        let today = day("2026-11-23");
        let at = |control: &'static str, target: &'static str, resource: &'static str| FindingRef {
            benchmark: "cis-aws-foundations-v3.0.0",
            control,
            check: "aws_s3_bucket_secure_transport_required",
            target,
            resource,
        };
        let legacy = "arn:aws:s3:::legacy-uploads";
        let waived = at("2.1.1", "123456789012", legacy);
        assert_eq!(waivers.waiver_for(today, &waived), Some(0));
        assert!(waivers.waivers[0].is_active(today));
        // Another target or resource: only the expired check-wide waiver covers it.
        assert_eq!(waivers.waiver_for(today, &at("2.1.1", "999999999999", legacy)), Some(1));
        assert_eq!(waivers.waiver_for(today, &at("2.1.1", "123456789012", "arn:aws:s3:::prod")), Some(1));
        assert!(!waivers.waivers[1].is_active(today));
        let other_benchmark = FindingRef { benchmark: "pci-dss-v4.0.1", ..waived };
        assert_eq!(waivers.waiver_for(today, &other_benchmark), Some(1));
        // The last day still counts; the next does not.
        assert!(waivers.waivers[0].is_active(day("2027-03-31")));
        assert!(!waivers.waivers[0].is_active(day("2027-04-01")));
        assert_eq!(waivers.waiver_for(day("2027-04-01"), &waived), Some(0), "expired, still shown beside it");
        let unrelated = FindingRef { check: "other", control: "9.9", ..waived };
        assert_eq!(waivers.waiver_for(today, &unrelated), None);
    }

    #[test]
    fn malformed_files_point_at_the_line() {
        let cases = [
            ("[[waivers]]\ncontrol = \"2.1.1\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\n", 1, "expires"),
            (
                "[[waivers]]\ncontrol = \"2.1.1\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = \"soon\"\n",
                6,
                "date",
            ),
            (
                "\n[[waivers]]\ncontrol = \"9.9\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = 2027-01-01\n",
                3,
                "no benchmark has the control '9.9'",
            ),
            (
                "[[waivers]]\ncheck = \"nope\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = 2027-01-01\n",
                2,
                "no check has the id 'nope'",
            ),
            (
                "[[waivers]]\ncontrol = \"2.1.1\"\nresource = \"[\"\njustification = \"j\"\napprover = \"a\"\nexpires = 2027-01-01\n",
                3,
                "bad resource pattern",
            ),
            (
                "[[waivers]]\ncontrol = \"2.1.1\"\nresource = \"*\"\njustification = \" \"\napprover = \"a\"\nexpires = 2027-01-01\n",
                1,
                "justification is empty",
            ),
            (
                "[[waivers]]\ncontrol = \"2.1.1\"\nresourse = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = 2027-01-01\n",
                3,
                "unknown field",
            ),
        ];
        for (text, line, words) in cases {
            let err = Waivers::parse("w.toml", text, &known).expect_err(text);
            assert_eq!(err.line, Some(line), "{err}");
            assert!(err.to_string().contains(words), "{err}");
            assert!(err.to_string().starts_with(&format!("w.toml:{line}:")), "{err}");
        }
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let text = "[[waivers]]\nid = \"a\"\ncheck = \"aws_s3_bucket_secure_transport_required\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = 2027-01-01\n\n[[waivers]]\nid = \"a\"\ncheck = \"aws_s3_bucket_secure_transport_required\"\nresource = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = 2027-01-01\n";
        let err = Waivers::parse("w.toml", text, &known).expect_err("duplicate");
        assert_eq!(err.line, Some(9), "{err}");
        assert!(err.message.contains("used twice (first at w.toml:1)"), "{err}");
    }
}
