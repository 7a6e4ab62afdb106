//! The history's schema, one definition for SQLite and PostgreSQL, and its
//! versions: `schema_version` holds the version a database is at, and every
//! open brings it to [`CURRENT_VERSION`] by applying the [`MIGRATIONS`] after
//! it, in order, in one transaction. A database at a newer version than this
//! binary knows is refused, never written.
//!
//! Portable on purpose: `TEXT` and `BIGINT` columns only, times as RFC 3339
//! UTC text with microseconds (so that text order is time order), no
//! auto-increment keys.

use super::backend::{DbError, Dialect, Sql, Value};

/// The schema version this binary reads and writes.
pub const CURRENT_VERSION: i64 = 3;

/// One step of the schema: the statements that bring a database from the
/// version before to `version`.
pub struct Migration {
    pub version: i64,
    pub summary: &'static str,
    pub sql: &'static str,
}

/// Every schema step, oldest first. A new database gets all of them, so the
/// first is the schema as it was at version 1.
pub const MIGRATIONS: [Migration; 3] = [
    Migration {
        version: 1,
        summary: "runs, control status per target, findings per resource",
        sql: "
CREATE TABLE schema_version (
    version BIGINT NOT NULL
);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    facts_origin TEXT NOT NULL,
    exit_code BIGINT NOT NULL,
    -- The run's benchmark ids and target names, each sorted and joined by
    -- newlines: runs with equal values audited the same things.
    benchmarks TEXT NOT NULL,
    targets TEXT NOT NULL
);
CREATE INDEX runs_by_scope ON runs (benchmarks, targets, started_at);
CREATE INDEX runs_by_time ON runs (started_at);
-- One row per control and target it was judged on; a control judged on no
-- target (manual) has one row with the target ''.
CREATE TABLE run_controls (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    benchmark TEXT NOT NULL,
    control TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (run_id, benchmark, control, target)
);
CREATE TABLE run_findings (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    benchmark TEXT NOT NULL,
    control TEXT NOT NULL,
    check_id TEXT NOT NULL,
    target TEXT NOT NULL,
    resource TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL
);
",
    },
    Migration {
        version: 2,
        summary: "control counts per run and benchmark (trend reads them instead of every control); findings indexed by run (diff)",
        sql: "
CREATE INDEX run_findings_by_run ON run_findings (run_id);
CREATE TABLE run_benchmarks (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    benchmark TEXT NOT NULL,
    pass BIGINT NOT NULL,
    fail BIGINT NOT NULL,
    error BIGINT NOT NULL,
    not_applicable BIGINT NOT NULL,
    manual BIGINT NOT NULL,
    waived BIGINT NOT NULL,
    PRIMARY KEY (run_id, benchmark)
);
-- Runs recorded at version 1: a control's status is the worst over its
-- targets (fail > error > waived > pass > not_applicable > manual), as the
-- report rolls it up.
INSERT INTO run_benchmarks (run_id, benchmark, pass, fail, error, not_applicable, manual, waived)
SELECT run_id, benchmark,
    SUM(CASE WHEN worst = 2 THEN 1 ELSE 0 END),
    SUM(CASE WHEN worst = 5 THEN 1 ELSE 0 END),
    SUM(CASE WHEN worst = 4 THEN 1 ELSE 0 END),
    SUM(CASE WHEN worst = 1 THEN 1 ELSE 0 END),
    SUM(CASE WHEN worst = 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN worst = 3 THEN 1 ELSE 0 END)
FROM (
    SELECT run_id, benchmark, control,
        MAX(CASE status WHEN 'fail' THEN 5 WHEN 'error' THEN 4 WHEN 'waived' THEN 3
            WHEN 'pass' THEN 2 WHEN 'not_applicable' THEN 1 ELSE 0 END) AS worst
    FROM run_controls
    GROUP BY run_id, benchmark, control
) AS control_statuses
GROUP BY run_id, benchmark;
",
    },
    Migration {
        version: 3,
        summary: "the profile each run's benchmarks were selected by (--level, --host-role), part of what a run audited",
        sql: "
-- `benchmark-id: profile name` per benchmark with a profile, sorted and
-- joined by newlines; '' for a run of whole benchmarks, as every run
-- recorded before this version was.
ALTER TABLE runs ADD COLUMN profiles TEXT NOT NULL DEFAULT '';
",
    },
];

/// Any number will do as long as it is this one: the PostgreSQL advisory
/// lock that makes two posture processes migrate one after the other.
const POSTGRES_MIGRATION_LOCK: i64 = 0x0070_6f73_7475_7265; // "posture" in ASCII

/// The SQLite application id of a history (`PRAGMA application_id`, in the
/// file's header: "post" in ASCII). A file with another non-zero id is
/// another application's; histories made before it was set have 0.
pub const SQLITE_APPLICATION_ID: i64 = 0x706f_7374;

/// The schema version of a history, read without writing; a database that
/// is not a history is refused ([`DbError::Foreign`]).
pub fn version(connection: &mut super::backend::Connection) -> Result<i64, DbError> {
    connection.transaction(false, read_version)
}

/// Brings the database to [`CURRENT_VERSION`]; returns the version it was at
/// (0: new). It is first read, and written only when it is a history (or
/// empty) at an older version: another application's file is left as it is.
pub fn migrate(connection: &mut super::backend::Connection) -> Result<i64, DbError> {
    // Most opens find the schema current: look without the write lock first.
    let found = connection.transaction(false, read_version)?;
    if found == CURRENT_VERSION {
        return Ok(found);
    }
    if found > CURRENT_VERSION {
        return Err(DbError::NewerSchema(found));
    }
    connection.transaction(true, |sql| {
        if sql.dialect() == Dialect::Postgres {
            sql.execute(&format!("SELECT pg_advisory_xact_lock({POSTGRES_MIGRATION_LOCK})"), &[])?;
        }
        // Again, under the lock: another process may have migrated meanwhile.
        let found = read_version(sql)?;
        if found > CURRENT_VERSION {
            return Err(DbError::NewerSchema(found));
        }
        if sql.dialect() == Dialect::Sqlite {
            sql.execute(&format!("PRAGMA application_id = {SQLITE_APPLICATION_ID}"), &[])?;
        }
        for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
            sql.execute_batch(migration.sql).map_err(|err| match err {
                DbError::Other(message) => {
                    DbError::Other(format!("migrating to schema version {}: {message}", migration.version))
                }
                other => other,
            })?;
            sql.execute("DELETE FROM schema_version", &[])?;
            sql.execute("INSERT INTO schema_version (version) VALUES ($1)", &[Value::Int(migration.version)])?;
        }
        Ok(found)
    })
}

/// The version of the schema; 0 for an empty database. A database that
/// holds other tables and no `schema_version` is not a history.
fn read_version(sql: &mut dyn Sql) -> Result<i64, DbError> {
    if sql.dialect() == Dialect::Sqlite {
        let rows = sql.query("PRAGMA application_id", &[])?;
        let id = rows.first().and_then(|row| row.first()).and_then(Value::as_int).unwrap_or(0);
        if id != 0 && id != SQLITE_APPLICATION_ID {
            return Err(DbError::Foreign(format!("its SQLite application id is {id:#x}, another application's")));
        }
    }
    let tables = posture_tables(sql)?;
    if !tables.iter().any(|t| t == "schema_version") {
        let others = match sql.dialect() {
            // A SQLite file is the history's alone: any table is foreign.
            Dialect::Sqlite => other_tables(sql)?,
            // A PostgreSQL schema may be shared with other applications:
            // only tables of the history's names without a version are.
            Dialect::Postgres => tables,
        };
        if !others.is_empty() {
            return Err(DbError::Foreign(format!("it has tables ({}) but no schema_version table", others.join(", "))));
        }
        return Ok(0);
    }
    let rows = sql.query("SELECT MAX(version) FROM schema_version", &[])?;
    Ok(rows.first().and_then(|row| row.first()).and_then(Value::as_int).unwrap_or(0))
}

const TABLES: [&str; 5] = ["schema_version", "runs", "run_controls", "run_findings", "run_benchmarks"];

/// Which of the history's tables exist (in PostgreSQL: in the current schema,
/// the first of the search path).
fn posture_tables(sql: &mut dyn Sql) -> Result<Vec<String>, DbError> {
    let query = match sql.dialect() {
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Dialect::Postgres => {
            "SELECT CAST(tablename AS TEXT) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
        }
    };
    let rows = sql.query(query, &[])?;
    Ok(rows
        .iter()
        .filter_map(|row| row.first().and_then(Value::as_text))
        .filter(|name| TABLES.contains(name))
        .map(str::to_owned)
        .collect())
}

fn other_tables(sql: &mut dyn Sql) -> Result<Vec<String>, DbError> {
    let rows = sql
        .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", &[])?;
    Ok(rows.iter().filter_map(|row| row.first().and_then(Value::as_text)).map(str::to_owned).collect())
}
