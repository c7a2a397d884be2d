//! The SQLite store: one sensor's rows in one database file (bundled SQLite).
//!
//! # Contract
//! - Opening sets `journal_mode=WAL`, `synchronous=NORMAL`, `busy_timeout` 5 s and
//!   `foreign_keys=OFF`; it creates the file but never its directory (a missing directory is
//!   an error saying so).
//! - The schema version is `PRAGMA user_version`; missing migrations are applied in one
//!   `BEGIN IMMEDIATE` transaction (a second process opening at the same time waits, then
//!   finds them applied). A version newer than [`LATEST`] is refused.
//! - A file that is not a SQLite database, or a damaged one, is an error naming the file
//!   (on opening, or on the first statement that reads the damage), never a panic.
//! - Everything else is the [`Store`] contract of the parent module.

use super::schema::{self, LATEST};
use super::{Replayed, Store, StoreError, assemble, from_i64, from_opt_i64, to_i64, wanted};
use crate::records::{AlertRecord, EndpointRecord, Records, ReportData, SessionRecord};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, Row, TransactionBehavior, params, params_from_iter};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(fail)?;
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
        let newer = |v: u32| {
            StoreError::new(
                &name,
                format!("schema version {v} is newer than this farhand knows ({LATEST}); upgrade farhand"),
            )
        };
        let current = user_version(&self.conn).map_err(|e| StoreError::new(&name, e))?;
        if current > LATEST {
            return Err(newer(current));
        }
        if current == LATEST {
            return Ok(current);
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
        let current = user_version(&tx).map_err(|e| StoreError::new(&name, e))?;
        if current > LATEST {
            return Err(newer(current));
        }
        for m in schema::pending(current) {
            tx.execute_batch(m.sqlite)
                .map_err(|e| StoreError::new(&name, format!("migration to schema {}: {e}", m.version)))?;
        }
        tx.pragma_update(None, "user_version", LATEST).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(LATEST)
    }

    /// The rows of `read`, unordered.
    fn select(&self, from_us: i64, to_us: i64, asked: Option<&[String]>) -> Result<ReportData, String> {
        // `?3` and up are the sensors asked for; none = all.
        let (filter, sensors): (String, Vec<Value>) = match asked {
            Some(s) => {
                let marks: Vec<String> = (0..s.len()).map(|i| format!("?{}", i + 3)).collect();
                (format!("AND sensor IN ({})", marks.join(",")), s.iter().map(|x| Value::Text(x.clone())).collect())
            }
            None => (String::new(), Vec::new()),
        };
        let args = || {
            [Value::Integer(from_us), Value::Integer(to_us)]
                .into_iter()
                .chain(sensors.iter().cloned())
                .collect::<Vec<_>>()
        };
        let alerts = self.rows(
            &format!("SELECT * FROM alerts WHERE time_us >= ?1 AND time_us < ?2 {filter} ORDER BY time_us"),
            args(),
            alert_row,
        )?;
        let sessions = self.rows(
            &format!(
                "SELECT * FROM sessions WHERE first_seen_us < ?2 AND last_seen_us >= ?1 {filter} ORDER BY first_seen_us"
            ),
            args(),
            session_row,
        )?;
        let endpoints = self.rows(
            &format!("SELECT * FROM endpoints WHERE first_seen_us < ?2 AND last_seen_us >= ?1 {filter}"),
            args(),
            endpoint_row,
        )?;
        Ok(assemble(from_us, to_us, asked.map(<[String]>::to_vec), alerts, sessions, endpoints))
    }

    /// Every row `sql` selects, converted by `convert`.
    fn rows<T>(
        &self,
        sql: &str,
        args: Vec<Value>,
        convert: fn(&Row<'_>) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| e.to_string())?;
        let mut rows = stmt.query(params_from_iter(args)).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            out.push(convert(row)?);
        }
        Ok(out)
    }
}

/// `PRAGMA user_version` as a schema version.
fn user_version(conn: &Connection) -> Result<u32, String> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| e.to_string())?;
    u32::try_from(v).map_err(|_| format!("schema version {v} is not valid"))
}

/// Column `c` of `row`, as an error string naming the table when it cannot be read.
fn col<T: rusqlite::types::FromSql>(row: &Row<'_>, table: &str, c: &str) -> Result<T, String> {
    row.get(c).map_err(|e| format!("{table}: column {c}: {e}"))
}

fn alert_row(r: &Row<'_>) -> Result<AlertRecord, String> {
    let t = "alerts";
    let id: String = col(r, t, "id")?;
    Ok(AlertRecord {
        sensor: col(r, t, "sensor")?,
        time_us: col(r, t, "time_us")?,
        kind: col(r, t, "kind")?,
        activity: col(r, t, "activity")?,
        severity: col(r, t, "severity")?,
        tool: col(r, t, "tool")?,
        endpoint_ip: col(r, t, "endpoint_ip")?,
        peer_ip: col(r, t, "peer_ip")?,
        peer_port: from_i64(col(r, t, "peer_port")?, t, &id, "peer_port")?,
        peer_country: col(r, t, "peer_country")?,
        peer_asn: from_opt_i64(col(r, t, "peer_asn")?, t, &id, "peer_asn")?,
        peer_org: col(r, t, "peer_org")?,
        gap_ms: col(r, t, "gap_ms")?,
        message: col(r, t, "message")?,
        json: col(r, t, "json")?,
        id,
    })
}

fn session_row(r: &Row<'_>) -> Result<SessionRecord, String> {
    let t = "sessions";
    let id: String = col(r, t, "id")?;
    Ok(SessionRecord {
        sensor: col(r, t, "sensor")?,
        tool: col(r, t, "tool")?,
        category: col(r, t, "category")?,
        direction: col(r, t, "direction")?,
        transport: col(r, t, "transport")?,
        endpoint_ip: col(r, t, "endpoint_ip")?,
        peer_ip: col(r, t, "peer_ip")?,
        peer_port: from_i64(col(r, t, "peer_port")?, t, &id, "peer_port")?,
        peer_country: col(r, t, "peer_country")?,
        peer_asn: from_opt_i64(col(r, t, "peer_asn")?, t, &id, "peer_asn")?,
        peer_org: col(r, t, "peer_org")?,
        first_seen_us: col(r, t, "first_seen_us")?,
        last_seen_us: col(r, t, "last_seen_us")?,
        bytes_in: from_i64(col(r, t, "bytes_in")?, t, &id, "bytes_in")?,
        bytes_out: from_i64(col(r, t, "bytes_out")?, t, &id, "bytes_out")?,
        severity: col(r, t, "severity")?,
        gap_ms: col(r, t, "gap_ms")?,
        relayed: col(r, t, "relayed")?,
        keys: from_opt_i64(col(r, t, "keystrokes")?, t, &id, "keystrokes")?,
        iki_median_ms: col(r, t, "iki_median_ms")?,
        rhythm: col(r, t, "rhythm")?,
        id,
    })
}

fn endpoint_row(r: &Row<'_>) -> Result<EndpointRecord, String> {
    let t = "endpoints";
    let ip: String = col(r, t, "ip")?;
    Ok(EndpointRecord {
        sensor: col(r, t, "sensor")?,
        mac: col(r, t, "mac")?,
        hostname: col(r, t, "hostname")?,
        first_seen_us: col(r, t, "first_seen_us")?,
        last_seen_us: col(r, t, "last_seen_us")?,
        alerts: from_i64(col(r, t, "alerts")?, t, &ip, "alerts")?,
        ip,
    })
}

const INSERT_ALERT: &str = "INSERT INTO alerts (sensor, id, activity, time_us, kind, severity, tool, endpoint_ip, \
     peer_ip, peer_port, peer_country, peer_asn, peer_org, gap_ms, message, json) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) ON CONFLICT DO NOTHING";

const UPSERT_SESSION: &str = "INSERT INTO sessions (sensor, id, tool, category, direction, transport, endpoint_ip, \
     peer_ip, peer_port, peer_country, peer_asn, peer_org, first_seen_us, last_seen_us, bytes_in, bytes_out, \
     severity, gap_ms, relayed, keystrokes, iki_median_ms, rhythm) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) \
     ON CONFLICT (sensor, id) DO UPDATE SET tool = excluded.tool, category = excluded.category, \
     direction = excluded.direction, transport = excluded.transport, endpoint_ip = excluded.endpoint_ip, \
     peer_ip = excluded.peer_ip, peer_port = excluded.peer_port, peer_country = excluded.peer_country, \
     peer_asn = excluded.peer_asn, peer_org = excluded.peer_org, first_seen_us = excluded.first_seen_us, \
     last_seen_us = excluded.last_seen_us, bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, \
     severity = excluded.severity, gap_ms = excluded.gap_ms, relayed = excluded.relayed, \
     keystrokes = excluded.keystrokes, iki_median_ms = excluded.iki_median_ms, rhythm = excluded.rhythm \
     WHERE excluded.last_seen_us >= sessions.last_seen_us";

const MERGE_ENDPOINT: &str = "INSERT INTO endpoints (sensor, ip, mac, hostname, first_seen_us, last_seen_us, alerts) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
     ON CONFLICT (sensor, ip) DO UPDATE SET \
     mac = CASE WHEN excluded.last_seen_us >= endpoints.last_seen_us THEN coalesce(excluded.mac, endpoints.mac) \
     ELSE coalesce(endpoints.mac, excluded.mac) END, \
     hostname = CASE WHEN excluded.last_seen_us >= endpoints.last_seen_us \
     THEN coalesce(excluded.hostname, endpoints.hostname) ELSE coalesce(endpoints.hostname, excluded.hostname) END, \
     first_seen_us = min(endpoints.first_seen_us, excluded.first_seen_us), \
     last_seen_us = max(endpoints.last_seen_us, excluded.last_seen_us), \
     alerts = endpoints.alerts + excluded.alerts";

impl Store for SqliteStore {
    fn write(&mut self, batch: &Records) -> Result<(), StoreError> {
        let name = self.name();
        let fail = |e: rusqlite::Error| StoreError::new(&name, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
        let mut replayed = Replayed::default();
        {
            let mut alert = tx.prepare_cached(INSERT_ALERT).map_err(fail)?;
            for a in &batch.alerts {
                let n = alert
                    .execute(params![
                        a.sensor,
                        a.id,
                        a.activity,
                        a.time_us,
                        a.kind,
                        a.severity,
                        a.tool,
                        a.endpoint_ip,
                        a.peer_ip,
                        a.peer_port,
                        a.peer_country,
                        a.peer_asn,
                        a.peer_org,
                        a.gap_ms,
                        a.message,
                        a.json,
                    ])
                    .map_err(fail)?;
                if n == 0 {
                    replayed.note(a);
                }
            }
            let mut session = tx.prepare_cached(UPSERT_SESSION).map_err(fail)?;
            for s in &batch.sessions {
                session
                    .execute(params![
                        s.sensor,
                        s.id,
                        s.tool,
                        s.category,
                        s.direction,
                        s.transport,
                        s.endpoint_ip,
                        s.peer_ip,
                        s.peer_port,
                        s.peer_country,
                        s.peer_asn,
                        s.peer_org,
                        s.first_seen_us,
                        s.last_seen_us,
                        to_i64(s.bytes_in),
                        to_i64(s.bytes_out),
                        s.severity,
                        s.gap_ms,
                        s.relayed,
                        s.keys.map(to_i64),
                        s.iki_median_ms,
                        s.rhythm,
                    ])
                    .map_err(fail)?;
            }
            let mut endpoint = tx.prepare_cached(MERGE_ENDPOINT).map_err(fail)?;
            for e in &batch.endpoints {
                endpoint
                    .execute(params![
                        e.sensor,
                        e.ip,
                        e.mac,
                        e.hostname,
                        e.first_seen_us,
                        e.last_seen_us,
                        to_i64(replayed.new_alerts(e)),
                    ])
                    .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
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
        let name = self.name();
        let fail = |e: rusqlite::Error| StoreError::new(&name, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
        let mut n = 0usize;
        for sql in [
            "DELETE FROM alerts WHERE time_us < ?1",
            "DELETE FROM sessions WHERE last_seen_us < ?1",
            "DELETE FROM endpoints WHERE last_seen_us < ?1",
        ] {
            n = n.saturating_add(tx.execute(sql, [before_us]).map_err(fail)?);
        }
        tx.commit().map_err(fail)?;
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
