//! The audit history: every audit appended to a run store (an embedded
//! SQLite file by default, PostgreSQL for a team's shared history), the
//! changes since the previous run put into the report, and the `history`,
//! `diff` and `trend` commands that read it back.
//!
//! A history problem never stops an audit: the reports are written, the
//! problem is printed as `posture: history: ...` and the exit code is 2.

mod backend;
pub mod commands;
pub mod diff;
pub mod schema;
pub mod store;
pub mod trend;

use std::fmt;
use std::path::{Path, PathBuf};

pub use backend::DbError;
pub use store::{Scope, Snapshot, Store, StoredRun, TrendPoint};

use crate::report::model::{Changes, Report};

/// Where a history lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL (`postgres://user@host:port/database`).
    Postgres(String),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL, or else a file path.
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Location::Postgres(raw.to_owned())
        } else {
            Location::Sqlite(PathBuf::from(raw))
        }
    }

    /// `history.sqlite` in posture's folder of the user's data directory
    /// (`~/.local/share/posture/` on Linux).
    pub fn default_path() -> Option<PathBuf> {
        dirs::data_dir().map(|dir| dir.join("posture").join("history.sqlite"))
    }

    /// Resolves the history to use: `--history` (or `POSTURE_HISTORY`), else
    /// `history` of posture.toml (a path relative to that file's folder),
    /// else the default file.
    pub fn resolve(given: Option<&str>, configured: Option<(&str, &Path)>) -> Result<Self, String> {
        if let Some(raw) = given.map(str::trim).filter(|s| !s.is_empty()) {
            return Ok(Self::parse(raw));
        }
        if let Some((raw, config_file)) = configured {
            return Ok(match Self::parse(raw) {
                Location::Sqlite(path) if path.is_relative() => {
                    Location::Sqlite(config_file.parent().unwrap_or(Path::new("")).join(path))
                }
                other => other,
            });
        }
        Self::default_path().map(Location::Sqlite).ok_or_else(|| {
            "history: the user's data directory is unknown (HOME is not set): give --history PATH or --no-history"
                .to_owned()
        })
    }
}

impl fmt::Display for Location {
    /// The path, or the URL with its password hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else { return url.to_owned() };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else { return url.to_owned() };
    format!("{}{}:***{}", &url[..scheme_end], &userinfo[..colon], &rest[at..])
}

/// A problem with the history, naming the file or server.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "{location}: not a posture history database, or a damaged one ({detail}); move it aside to start a new history"
    )]
    Corrupt { location: String, detail: String },
    #[error("{location}: not a posture history: {detail}")]
    Foreign { location: String, detail: String },
    #[error("{location}: the history's schema is version {found}, newer than version {supported} that posture {tool_version} knows; use a newer posture")]
    NewerSchema { location: String, found: i64, supported: i64, tool_version: &'static str },
    #[error("{location}: cannot open the history: {detail}")]
    Open { location: String, detail: String },
    #[error("{location}: {detail}")]
    Database { location: String, detail: String },
    #[error("{location}: no run '{id}' (see `posture history`)")]
    UnknownRun { location: String, id: String },
    #[error("{location}: '{prefix}' is the start of several runs ({matches}); give more of the id")]
    AmbiguousRun { location: String, prefix: String, matches: String },
    #[error("{location}: {message}")]
    NothingToCompare { location: String, message: String },
}

impl HistoryError {
    pub fn from_db(location: &Location, err: DbError) -> Self {
        let location = location.to_string();
        match err {
            DbError::Corrupt(detail) => HistoryError::Corrupt { location, detail },
            DbError::Foreign(detail) => HistoryError::Foreign { location, detail },
            DbError::NewerSchema(found) => HistoryError::NewerSchema {
                location,
                found,
                supported: schema::CURRENT_VERSION,
                tool_version: env!("CARGO_PKG_VERSION"),
            },
            DbError::Open(detail) => HistoryError::Open { location, detail },
            DbError::Other(detail) => HistoryError::Database { location, detail },
        }
    }
}

impl Store {
    /// The changes of `report` since the previous run of the same
    /// benchmarks, targets and profiles; `None` when the history holds no such run.
    pub fn changes_since_previous(&mut self, report: &Report) -> Result<Option<Changes>, HistoryError> {
        let scope = Scope::of_report(report);
        let Some(previous) = self.previous_run(&scope, &report.run.started_at, &report.run.id)? else {
            return Ok(None);
        };
        let before = self.snapshot(&previous.id)?;
        Ok(Some(diff::changes_since(&previous, &before, &Snapshot::of_report(report))))
    }
}

/// The history's part in an audit, in two steps around writing the reports.
pub struct AuditHistory {
    store: Option<Store>,
    /// A problem was printed: the audit's exit code becomes 2.
    pub failed: bool,
}

impl AuditHistory {
    /// Before the reports: opens the history (when on) and puts the changes
    /// since the previous run into `report`. A problem is printed and marks
    /// the history failed (the run's exit code becomes 2: see
    /// `RunResults::mark_history_failed`), and the audit goes on.
    pub fn before_reports(location: Option<&Location>, report: &mut Report) -> Self {
        let Some(location) = location else { return Self { store: None, failed: false } };
        let opened = Store::open(location).and_then(|mut store| {
            let changes = store.changes_since_previous(report)?;
            Ok((store, changes))
        });
        match opened {
            Ok((store, changes)) => {
                report.changes = changes;
                Self { store: Some(store), failed: false }
            }
            Err(err) => {
                eprintln!("posture: history: {}", crate::escape::terminal(&err.to_string()));
                eprintln!("posture: history: this run is not recorded; the reports are written all the same");
                Self { store: None, failed: true }
            }
        }
    }

    /// Before the reports are written: appends the run. Returns a line to log, or prints
    /// the problem and marks the history failed.
    pub fn record(&mut self, report: &Report) -> Option<String> {
        let store = self.store.as_mut()?;
        match store.append(report) {
            Ok(()) => Some(format!("recorded run {} in the history {}", report.run.id, store.location())),
            Err(err) => {
                eprintln!("posture: history: {}", crate::escape::terminal(&err.to_string()));
                eprintln!("posture: history: this run is not recorded (its reports are written)");
                self.failed = true;
                None
            }
        }
    }
}

impl AuditHistory {
    /// After [`AuditHistory::record`]: a guard that, unless
    /// [`OutputsWritten::done`] is called once every output is written,
    /// sets the recorded run's exit code to 2 when it is dropped, the code
    /// posture exits with when an output fails. The run is recorded before
    /// the outputs (a failed write never loses it) and its exit code is
    /// always the one posture exits with.
    pub fn until_outputs_written(self, run_id: &str) -> OutputsWritten {
        OutputsWritten { history: self, run_id: run_id.to_owned(), done: false }
    }
}

/// See [`AuditHistory::until_outputs_written`].
pub struct OutputsWritten {
    history: AuditHistory,
    run_id: String,
    done: bool,
}

impl OutputsWritten {
    /// Every output is written: the recorded exit code stands.
    pub fn done(mut self) {
        self.done = true;
    }
}

impl Drop for OutputsWritten {
    fn drop(&mut self) {
        let Some(store) = self.history.store.as_mut().filter(|_| !self.done && !self.history.failed) else { return };
        match store.set_exit_code(&self.run_id, 2) {
            Ok(()) => {
                eprintln!("posture: history: run {} is recorded with exit code 2 (an output failed)", self.run_id)
            }
            Err(err) => eprintln!(
                "posture: history: run {} is recorded with the exit code it had before an output failed: {}",
                self.run_id,
                crate::escape::terminal(&err.to_string())
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_locations_are_files_or_postgres_urls() {
        assert_eq!(Location::parse("h.sqlite"), Location::Sqlite(PathBuf::from("h.sqlite")));
        assert!(matches!(Location::parse("postgresql://a@b/c"), Location::Postgres(_)));
        let secret = Location::parse("postgres://auditor:s3cret@db.example:5432/posture?sslmode=disable");
        assert_eq!(secret.to_string(), "postgres://auditor:***@db.example:5432/posture?sslmode=disable");
        assert_eq!(Location::parse("postgres://auditor@db/posture").to_string(), "postgres://auditor@db/posture");
        let configured = Location::resolve(None, Some(("hist/h.sqlite", Path::new("/etc/posture/posture.toml"))));
        assert_eq!(configured, Ok(Location::Sqlite(PathBuf::from("/etc/posture/hist/h.sqlite"))));
        assert_eq!(
            Location::resolve(Some("x.sqlite"), Some(("y.sqlite", Path::new("posture.toml")))),
            Ok(Location::Sqlite(PathBuf::from("x.sqlite")))
        );
    }
}
