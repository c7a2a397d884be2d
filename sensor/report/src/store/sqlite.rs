//! The SQLite store: one sensor's rows in one database file (bundled SQLite).
//!
//! # Contract
//! - Opening sets `journal_mode=WAL` (retried while another connection holds the file, up
//!   to the busy timeout), `synchronous=NORMAL`, `busy_timeout` 5 s and `foreign_keys=OFF`; it creates the file but never its directory (a missing directory is
//!   an error saying so).
//! - The schema version is `PRAGMA user_version`; missing migrations are applied in one
//!   `BEGIN IMMEDIATE` transaction (a second process opening at the same time waits, then
//!   finds them applied). A version newer than [`LATEST`] is refused.
//! - A file that is not a SQLite database, or a damaged one, is an error naming the file
//!   (on opening, or on the first statement that reads the damage), never a panic.
//! - Everything else is the [`Store`] contract of the parent module.

use super::schema::{self, LATEST};
use super::sql::{Dialect, Param, Stored, StoredRow, Table, TableRow, column_error};
use super::sql::{alert_values, endpoint_values, session_values};
use super::{Replayed, Store, StoreError, assemble, wanted};
use crate::records::{Records, ReportData};
use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, OpenFlags, Row, ToSql, Transaction, TransactionBehavior, params_from_iter};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `e` is SQLite's "busy" or "locked" (another connection holds the lock).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked))
}

/// A SQLite database file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    version: u32,
}

impl SqliteStore {
    /// Opens (creating) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let name = path.display().to_string();
        let fail = |e: rusqlite::Error| StoreError::new(&name, e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(StoreError::new(&name, format!("directory {} does not exist", dir.display())));
        }
        if path.is_dir() {
            return Err(StoreError::new(&name, "is a directory, not a database file"));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // Switching a new file to WAL while another connection opens it can answer "locked"
        // at once, without the busy handler: try again until the busy timeout.
        let started = std::time::Instant::now();
        let mode: String = loop {
            match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
                Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other.map_err(fail)?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::new(&name, format!("journal_mode is {mode}, WAL could not be set")));
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(fail)?;
        conn.pragma_update(None, "foreign_keys", "OFF").map_err(fail)?;
        let mut store = SqliteStore { conn, path: path.to_path_buf(), version: 0 };
        store.version = store.migrate()?;
        Ok(store)
    }

    /// The store's name in messages: its path.
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// An error of this store.
    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::new(&self.name(), e)
    }

    /// Applies the missing migrations; returns the version reached.
    fn migrate(&mut self) -> Result<u32, StoreError> {
        let name = self.name();
        let fail = |e: rusqlite::Error| StoreError::new(&name, e);
        // Read once without a lock (the usual case: nothing to do), then again under it.
        let current = known_version(&self.conn).map_err(|e| StoreError::new(&name, e))?;
        if current == LATEST {
            return Ok(current);
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
        let current = known_version(&tx).map_err(|e| StoreError::new(&name, e))?;
        for m in schema::pending(current) {
            tx.execute_batch(m.sqlite)
                .map_err(|e| StoreError::new(&name, format!("migration to schema {}: {e}", m.version)))?;
        }
        tx.pragma_update(None, "user_version", LATEST).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(LATEST)
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction, committed when it succeeds.
    fn immediate<T>(
        &mut self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let name = self.name();
        let fail = |e: rusqlite::Error| StoreError::new(&name, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
        let out = work(&tx).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(out)
    }

    /// The rows of `read`, unordered.
    fn select(&self, from_us: i64, to_us: i64, asked: Option<&[String]>) -> Result<ReportData, String> {
        // `?3` and up are the sensors asked for; none = all.
        let (filter, sensors): (String, Vec<Value>) = match asked {
            Some(s) => {
                let marks: Vec<String> = (0..s.len()).map(|i| SQL.param(i + 3)).collect();
                (format!("AND sensor IN ({})", marks.join(",")), s.iter().map(|x| Value::Text(x.clone())).collect())
            }
            None => (String::new(), Vec::new()),
        };
        let args: Vec<Value> = [Value::Integer(from_us), Value::Integer(to_us)].into_iter().chain(sensors).collect();
        Ok(assemble(
            from_us,
            to_us,
            asked.map(<[String]>::to_vec),
            self.rows(&filter, &args)?,
            self.rows(&filter, &args)?,
            self.rows(&filter, &args)?,
        ))
    }

    /// Every row of `T`'s table in the window `args` (from, to, then the sensors `filter` names).
    fn rows<T: TableRow>(&self, filter: &str, args: &[Value]) -> Result<Vec<T>, String> {
        let mut stmt =
            self.conn.prepare_cached(&SQL.statements().select(T::TABLE, filter)).map_err(|e| e.to_string())?;
        let mut rows = stmt.query(params_from_iter(args)).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            out.push(T::from_row(row)?);
        }
        Ok(out)
    }
}

/// The dialect this backend speaks.
const SQL: Dialect = Dialect::Sqlite;

/// `PRAGMA user_version` as a schema version.
fn user_version(conn: &Connection) -> Result<u32, String> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| e.to_string())?;
    u32::try_from(v).map_err(|_| format!("schema version {v} is not valid"))
}

/// [`user_version`], refused when newer than this build knows.
fn known_version(conn: &Connection) -> Result<u32, String> {
    let v = user_version(conn)?;
    schema::refuse_newer(v)?;
    Ok(v)
}

impl StoredRow for Row<'_> {
    fn column<T: Stored>(&self, table: &str, c: &str) -> Result<T, String> {
        self.get(c).map_err(|e| column_error(table, c, e))
    }

    fn integer(&self, table: &str, c: &str) -> Result<i64, String> {
        self.column(table, c)
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Text(v) => v.to_sql(),
            Param::OptText(v) => v.to_sql(),
            Param::Integer(v) => v.to_sql(),
            Param::BigInt(v) => v.to_sql(),
            Param::OptBigInt(v) => v.to_sql(),
            Param::OptDouble(v) => v.to_sql(),
            Param::Bool(v) => v.to_sql(),
        }
    }
}

impl Store for SqliteStore {
    fn write(&mut self, batch: &Records) -> Result<(), StoreError> {
        let sql = SQL.statements();
        self.immediate(|tx| {
            let mut replayed = Replayed::default();
            let mut alert = tx.prepare_cached(&sql.insert_alert)?;
            for a in &batch.alerts {
                if alert.execute(params_from_iter(alert_values(a)))? == 0 {
                    replayed.note(a);
                }
            }
            let mut session = tx.prepare_cached(&sql.upsert_session)?;
            for s in &batch.sessions {
                session.execute(params_from_iter(session_values(s)))?;
            }
            let mut endpoint = tx.prepare_cached(&sql.merge_endpoint)?;
            for e in &batch.endpoints {
                endpoint.execute(params_from_iter(endpoint_values(e, replayed.new_alerts(e))))?;
            }
            Ok(())
        })
    }

    fn read(&mut self, from_us: i64, to_us: i64, sensors: &[String]) -> Result<ReportData, StoreError> {
        let asked = wanted(sensors);
        // One read transaction: the three tables as of one moment (WAL keeps writers going).
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let data = self.select(from_us, to_us, asked.as_deref()).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(data)
    }

    fn prune(&mut self, before_us: i64) -> Result<u64, StoreError> {
        let n = self.immediate(|tx| {
            let mut n = 0usize;
            for table in Table::ALL {
                n = n.saturating_add(tx.execute(&SQL.statements().prune(table), [before_us])?);
            }
            Ok(n)
        })?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn schema_version(&mut self) -> Result<u32, StoreError> {
        let v = user_version(&self.conn).map_err(|e| self.err(e))?;
        self.version = v;
        Ok(v)
    }

    fn describe(&self) -> String {
        format!("SQLite {} (schema {})", self.path.display(), self.version)
    }
}
