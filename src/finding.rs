//! Findings: one verdict of one check on one resource, built only through
//! [`FindingBuilder`] so that no finding lacks its check, target, resource
//! or message.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::facts::FactKey;

/// The verdict of a finding or the roll-up of a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The check could not be evaluated: unavailable fact, script fault, limit.
    Error,
    NotApplicable,
    Manual,
    /// A failing finding covered by an active waiver.
    Waived,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Pass, Status::Fail, Status::Error, Status::NotApplicable, Status::Manual, Status::Waived];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::NotApplicable => "not_applicable",
            Status::Manual => "manual",
            Status::Waived => "waived",
        }
    }

    /// Precedence when rolling findings up to a control: the higher wins.
    /// fail > error > waived > pass > not_applicable > manual.
    pub fn rollup_rank(self) -> u8 {
        match self {
            Status::Fail => 5,
            Status::Error => 4,
            Status::Waived => 3,
            Status::Pass => 2,
            Status::NotApplicable => 1,
            Status::Manual => 0,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL.into_iter().find(|status| status.as_str() == s).ok_or_else(|| {
            format!("unknown status '{s}' (expected one of pass, fail, error, not_applicable, manual, waived)")
        })
    }
}

/// How much a failing check matters; ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == s)
            .ok_or_else(|| format!("unknown severity '{s}' (expected one of info, low, medium, high, critical)"))
    }
}

/// The most of a finding's message kept, in bytes: a check's message is a
/// sentence or two; a script building a huge one (64 MiB) must not make
/// every report, the history and the pack that large.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// The most of a finding's resource name kept, in bytes.
pub const MAX_RESOURCE_BYTES: usize = 1024;
/// The most of a finding's observed value kept, in bytes of JSON; a larger
/// one is replaced by the start of its JSON text, as a string.
pub const MAX_OBSERVED_BYTES: usize = 16 * 1024;

/// `text` cut to at most `max` bytes (on a character boundary) with
/// "… [truncated: N bytes]" appended, N its full size; as it is when it fits.
pub fn capped(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [truncated: {} bytes]", &text[..cut], text.len())
}

/// An observed value capped at [`MAX_OBSERVED_BYTES`] of JSON.
fn capped_observed(observed: Option<serde_json::Value>) -> Option<serde_json::Value> {
    let value = observed?;
    let json = serde_json::to_string(&value).unwrap_or_default();
    if json.len() <= MAX_OBSERVED_BYTES {
        return Some(value);
    }
    Some(serde_json::Value::String(capped(json, MAX_OBSERVED_BYTES)))
}

/// One verdict of one check on one resource of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check_id: String,
    pub target: String,
    pub resource: String,
    pub status: Status,
    pub severity: Severity,
    pub message: String,
    /// What the check saw that decided the verdict, as the script gave it.
    pub observed: Option<serde_json::Value>,
    /// The facts the check read: the evidence behind the verdict.
    pub evidence: Vec<FactKey>,
    /// Set on the `error` finding of a benchmark that does not judge the
    /// target (its OS is not the benchmark's): only that benchmark's
    /// controls show it, in place of the check's other findings on the
    /// target, which other benchmarks show (see `applicability`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_for_benchmark: Option<String>,
}

impl Finding {
    /// An `error` finding for a check that could not be evaluated. The
    /// resource falls back to the target so the finding is always complete.
    pub fn evaluation_error(
        check_id: &str,
        severity: Severity,
        target: &str,
        resource: &str,
        message: String,
        evidence: Vec<FactKey>,
    ) -> Finding {
        let resource = if resource.trim().is_empty() { target } else { resource };
        Finding {
            check_id: check_id.to_owned(),
            target: target.to_owned(),
            resource: if resource.trim().is_empty() {
                "unknown".to_owned()
            } else {
                capped(resource.to_owned(), MAX_RESOURCE_BYTES)
            },
            status: Status::Error,
            severity,
            message: if message.trim().is_empty() {
                "could not evaluate".to_owned()
            } else {
                capped(message, MAX_MESSAGE_BYTES)
            },
            observed: None,
            evidence,
            only_for_benchmark: None,
        }
    }

    /// The finding, shown by the controls of `benchmark` only.
    pub fn only_for(mut self, benchmark: &str) -> Finding {
        self.only_for_benchmark = Some(benchmark.to_owned());
        self
    }

    /// Whether a control of `benchmark` shows this finding, when `refused`
    /// says the benchmark does not judge the finding's target.
    pub fn is_shown_by(&self, benchmark: &str, refused: bool) -> bool {
        match &self.only_for_benchmark {
            Some(only) => only == benchmark,
            None => !refused,
        }
    }

    pub fn builder(check_id: &str, severity: Severity, target: &str) -> FindingBuilder {
        FindingBuilder {
            check_id: check_id.to_owned(),
            severity,
            target: target.to_owned(),
            resource: None,
            status: None,
            message: None,
            observed: None,
            evidence: Vec::new(),
        }
    }
}

/// Why a [`FindingBuilder`] refused to build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindingError {
    #[error("a finding needs a non-empty resource")]
    MissingResource,
    #[error("a finding needs a status")]
    MissingStatus,
    #[error("a finding needs a non-empty message")]
    MissingMessage,
    #[error("a check cannot give the status '{0}': it is set by the control roll-up or by waivers")]
    ReservedStatus(Status),
}

/// The only way to make a [`Finding`].
#[derive(Debug, Clone)]
pub struct FindingBuilder {
    check_id: String,
    severity: Severity,
    target: String,
    resource: Option<String>,
    status: Option<Status>,
    message: Option<String>,
    observed: Option<serde_json::Value>,
    evidence: Vec<FactKey>,
}

impl FindingBuilder {
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn observed(mut self, observed: Option<serde_json::Value>) -> Self {
        self.observed = observed;
        self
    }

    pub fn evidence(mut self, evidence: Vec<FactKey>) -> Self {
        self.evidence = evidence;
        self
    }

    pub fn build(self) -> Result<Finding, FindingError> {
        let resource = self.resource.filter(|r| !r.trim().is_empty()).ok_or(FindingError::MissingResource)?;
        let status = self.status.ok_or(FindingError::MissingStatus)?;
        if matches!(status, Status::Manual | Status::Waived) {
            return Err(FindingError::ReservedStatus(status));
        }
        let message = self.message.filter(|m| !m.trim().is_empty()).ok_or(FindingError::MissingMessage)?;
        Ok(Finding {
            check_id: self.check_id,
            target: self.target,
            resource: capped(resource, MAX_RESOURCE_BYTES),
            status,
            severity: self.severity,
            message: capped(message, MAX_MESSAGE_BYTES),
            observed: capped_observed(self.observed),
            evidence: self.evidence,
            only_for_benchmark: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_refuses_incomplete_findings() {
        let base = || Finding::builder("c", Severity::Low, "host");
        assert_eq!(base().status(Status::Pass).message("m").build(), Err(FindingError::MissingResource));
        assert_eq!(base().resource(" ").status(Status::Pass).message("m").build(), Err(FindingError::MissingResource));
        assert_eq!(base().resource("r").message("m").build(), Err(FindingError::MissingStatus));
        assert_eq!(base().resource("r").status(Status::Fail).build(), Err(FindingError::MissingMessage));
        assert_eq!(
            base().resource("r").status(Status::Waived).message("m").build(),
            Err(FindingError::ReservedStatus(Status::Waived))
        );
        let ok = base().resource("r").status(Status::Fail).message("m").build().expect("complete");
        assert_eq!((ok.check_id.as_str(), ok.target.as_str(), ok.status), ("c", "host", Status::Fail));
    }

    #[test]
    fn huge_messages_resources_and_observed_values_are_capped() {
        let huge = "é".repeat(MAX_MESSAGE_BYTES);
        let finding = Finding::builder("c", Severity::Low, "host")
            .resource("r".repeat(5000))
            .status(Status::Fail)
            .message(huge.clone())
            .observed(Some(serde_json::Value::from(vec![1; 20_000])))
            .build()
            .expect("complete");
        assert!(finding.message.ends_with(&format!("… [truncated: {} bytes]", huge.len())), "{}", finding.message);
        assert!(finding.message.len() < MAX_MESSAGE_BYTES + 40);
        assert!(finding.resource.ends_with("… [truncated: 5000 bytes]"));
        let observed = finding.observed.expect("observed").as_str().expect("a string").to_owned();
        assert!(observed.starts_with("[1,1,") && observed.ends_with("… [truncated: 40001 bytes]"), "{observed}");
        let error = Finding::evaluation_error("c", Severity::Low, "host", "", "x".repeat(10_000), Vec::new());
        assert!(error.message.ends_with("… [truncated: 10000 bytes]"));
        assert_eq!(capped("short".to_owned(), 10), "short");
    }

    #[test]
    fn statuses_and_severities_parse_and_order() {
        assert_eq!("not_applicable".parse::<Status>(), Ok(Status::NotApplicable));
        assert!("bogus".parse::<Status>().is_err());
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert!(Status::Fail.rollup_rank() > Status::Error.rollup_rank());
        assert!(Status::Error.rollup_rank() > Status::Pass.rollup_rank());
        assert!(Status::Pass.rollup_rank() > Status::NotApplicable.rollup_rank());
    }
}
