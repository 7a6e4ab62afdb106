//! The two databases a history can live in, SQLite (a file) and PostgreSQL
//! (a server a team shares), behind one small SQL surface ([`Sql`]): values
//! of four types, `$1`-numbered parameters, one transaction at a time. The
//! schema and every query are written once against it.

use std::path::Path;
use std::time::Duration;

/// How long a writer waits for another one holding the SQLite write lock
/// (two audits finishing at once) before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long connecting to PostgreSQL may take when the URL does not say
/// (`connect_timeout=`): an unreachable server must not hang an audit.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A value bound to a query or read from a row, in the types both dialects share.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Real(f64),
    Text(String),
    Null,
}

impl Value {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

/// Which SQL dialect is behind a [`Sql`], for the few statements that differ
/// (catalog look-ups, locks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A failure of the database, before the location is known to name it.
#[derive(Debug)]
pub enum DbError {
    /// Not a database at all, or a damaged one.
    Corrupt(String),
    /// A database, but not a posture history.
    Foreign(String),
    /// A schema version newer than this binary knows.
    NewerSchema(i64),
    /// Could not open or connect.
    Open(String),
    /// Anything else the driver reported.
    Other(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                DbError::Corrupt(err.to_string())
            }
            Some(rusqlite::ErrorCode::CannotOpen) => DbError::Open(err.to_string()),
            _ => DbError::Other(err.to_string()),
        }
    }
}

impl From<postgres::Error> for DbError {
    fn from(err: postgres::Error) -> Self {
        // The server's own message says what went wrong; the driver's
        // Display of it is only "db error".
        match err.as_db_error() {
            Some(db) => {
                let mut message = format!("{}: {}", db.severity(), db.message());
                if let Some(detail) = db.detail() {
                    message.push_str(&format!(" ({detail})"));
                }
                DbError::Other(message)
            }
            None => {
                let mut message = err.to_string();
                let mut source = std::error::Error::source(&err);
                while let Some(inner) = source {
                    let text = inner.to_string();
                    if !message.contains(&text) {
                        message.push_str(&format!(": {text}"));
                    }
                    source = inner.source();
                }
                DbError::Other(message)
            }
        }
    }
}

/// What the schema and the queries need of a database, inside one transaction.
pub trait Sql {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    /// Runs one query; returns its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError>;
    /// Runs several statements without parameters (DDL).
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError>;
}

/// An open connection to a history database.
pub enum Connection {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// Whether a SQLite history may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// An audit appends to it, creating it when missing.
    ReadWrite,
    /// `history`, `diff` and `trend` only read.
    ReadOnly,
}

/// A read-only connection that has read the file. A history in WAL mode
/// needs its `-shm` file, which cannot be made on read-only media: there
/// the file is opened as immutable (no one can be writing to it).
fn open_sqlite_read_only(path: &Path) -> Result<rusqlite::Connection, DbError> {
    use rusqlite::OpenFlags;
    let probe = |conn: &rusqlite::Connection| conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()));
    let conn = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    match probe(&conn) {
        Ok(()) => return Ok(conn),
        Err(err)
            if matches!(
                err.sqlite_error_code(),
                Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
            ) =>
        {
            return Err(err.into())
        }
        Err(_) => {}
    }
    drop(conn);
    let absolute = std::path::absolute(path).map_err(|err| DbError::Open(err.to_string()))?;
    let uri = format!("file:{}?immutable=1", uri_path(&absolute));
    let conn =
        rusqlite::Connection::open_with_flags(uri, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)?;
    probe(&conn)?;
    Ok(conn)
}

/// A path for a `file:` URI: every byte but unreserved ones and `/` percent-encoded.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Connection {
    /// Opens a SQLite history file without writing to it: a file that may
    /// be another application's is only read until [`super::schema`] has
    /// found it to be a history (see [`Connection::use_write_ahead_log`]).
    /// `ReadWrite` creates the file and its folder when missing; `ReadOnly`
    /// never writes, and opens a file on read-only media as immutable.
    pub fn open_sqlite(path: &Path, access: Access) -> Result<Self, DbError> {
        // Not a FIFO or a folder: SQLite would block on the one and give a
        // bare "unable to open" on the other.
        if let Some(problem) =
            std::fs::symlink_metadata(path).ok().and_then(|_| crate::paths::file_problem(path, false))
        {
            return Err(DbError::Open(problem));
        }
        let conn = match access {
            Access::ReadWrite => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|err| {
                        DbError::Open(format!("cannot create the folder {}: {err}", parent.display()))
                    })?;
                }
                rusqlite::Connection::open(path)?
            }
            Access::ReadOnly => open_sqlite_read_only(path)?,
        };
        conn.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Self::Sqlite(conn))
    }

    /// Switches a SQLite history to write-ahead logging (a write to the
    /// file's header, so only once the file is known to be a history):
    /// readers do not block the writer nor it them; writers still take
    /// turns, each waiting up to the busy timeout. Nothing for PostgreSQL.
    pub fn use_write_ahead_log(&mut self) -> Result<(), DbError> {
        let Connection::Sqlite(conn) = self else { return Ok(()) };
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::Open(format!("cannot switch to write-ahead logging (journal mode stays {mode})")));
        }
        Ok(())
    }

    /// Connects to a PostgreSQL server (`postgres://user[:password]@host[:port]/database`).
    pub fn open_postgres(url: &str) -> Result<Self, DbError> {
        let mut config: postgres::Config =
            url.parse().map_err(|err: postgres::Error| DbError::Open(format!("not a valid PostgreSQL URL: {err}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(POSTGRES_CONNECT_TIMEOUT);
        }
        let client = config.connect(postgres::NoTls).map_err(|err| match DbError::from(err) {
            DbError::Other(message) => DbError::Open(message),
            other => other,
        })?;
        Ok(Self::Postgres(Box::new(client)))
    }

    /// Runs `work` in one transaction, committed when it returns `Ok` and
    /// rolled back otherwise. `write`: the transaction will write, so SQLite
    /// takes the write lock at its start (`BEGIN IMMEDIATE`): a second writer
    /// then waits its turn instead of failing when it upgrades a read lock.
    pub fn transaction<T>(
        &mut self,
        write: bool,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        match self {
            Connection::Sqlite(conn) => {
                let behavior = if write {
                    rusqlite::TransactionBehavior::Immediate
                } else {
                    rusqlite::TransactionBehavior::Deferred
                };
                let mut tx = SqliteTx(conn.transaction_with_behavior(behavior)?);
                let value = work(&mut tx)?;
                tx.0.commit()?;
                Ok(value)
            }
            Connection::Postgres(client) => {
                let mut tx = PostgresTx(client.transaction()?);
                let value = work(&mut tx)?;
                tx.0.commit()?;
                Ok(value)
            }
        }
    }
}

struct SqliteTx<'a>(rusqlite::Transaction<'a>);

fn to_sqlite(value: &Value) -> rusqlite::types::Value {
    match value {
        Value::Int(n) => rusqlite::types::Value::Integer(*n),
        Value::Real(x) => rusqlite::types::Value::Real(*x),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Null => rusqlite::types::Value::Null,
    }
}

impl Sql for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut statement = self.0.prepare_cached(sql)?;
        let changed = statement.execute(rusqlite::params_from_iter(params.iter().map(to_sqlite)))?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let mut statement = self.0.prepare_cached(sql)?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter().map(to_sqlite)))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(match row.get_ref(index)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(n) => Value::Int(n),
                    rusqlite::types::ValueRef::Real(x) => Value::Real(x),
                    rusqlite::types::ValueRef::Text(bytes) | rusqlite::types::ValueRef::Blob(bytes) => {
                        Value::Text(String::from_utf8_lossy(bytes).into_owned())
                    }
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(self.0.execute_batch(sql)?)
    }
}

struct PostgresTx<'a>(postgres::Transaction<'a>);

type PostgresParam = Box<dyn postgres::types::ToSql + Sync>;

fn to_postgres(value: &Value) -> PostgresParam {
    match value {
        Value::Int(n) => Box::new(*n),
        Value::Real(x) => Box::new(*x),
        Value::Text(s) => Box::new(s.clone()),
        Value::Null => Box::new(Option::<String>::None),
    }
}

fn from_postgres(row: &postgres::Row, index: usize) -> Result<Value, DbError> {
    use postgres::types::Type;
    let column = &row.columns()[index];
    let value = match *column.type_() {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map(|n| Value::Int(n.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map(|n| Value::Int(n.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(|b| Value::Int(b.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map(Value::Real),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(index)?.map(|x| Value::Real(x.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(index)?.map(Value::Text)
        }
        ref other => {
            return Err(DbError::Other(format!(
                "column {} has the type {other}, which the history does not read",
                column.name()
            )))
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

impl Sql for PostgresTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let boxed: Vec<PostgresParam> = params.iter().map(to_postgres).collect();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        Ok(self.0.execute(sql, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let boxed: Vec<PostgresParam> = params.iter().map(to_postgres).collect();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.0.query(sql, &refs)?;
        rows.iter().map(|row| (0..row.len()).map(|index| from_postgres(row, index)).collect()).collect()
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(self.0.batch_execute(sql)?)
    }
}

/// Inserts `rows` into `table`, many rows per statement (one round trip per
/// hundred rows instead of per row: findings run into the thousands).
pub fn insert_rows(sql: &mut dyn Sql, table: &str, columns: &[&str], rows: &[Vec<Value>]) -> Result<(), DbError> {
    const ROWS_PER_STATEMENT: usize = 100;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut text = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut number = 0;
        for (row_index, row) in chunk.iter().enumerate() {
            debug_assert_eq!(row.len(), columns.len());
            text.push_str(if row_index == 0 { "(" } else { ", (" });
            for column in 0..columns.len() {
                number += 1;
                if column > 0 {
                    text.push_str(", ");
                }
                text.push_str(&format!("${number}"));
            }
            text.push(')');
        }
        let params: Vec<Value> = chunk.iter().flatten().cloned().collect();
        sql.execute(&text, &params)?;
    }
    Ok(())
}
