//! The PostgreSQL store: a fleet's rows in one database, each sensor writing over its own
//! connection (the blocking `postgres` client, without TLS).
//!
//! # Contract
//! - Opening connects (10 s connect timeout unless the URL sets one) and applies the
//!   missing migrations in one transaction holding `pg_advisory_xact_lock(`[`MIGRATION_LOCK`]`)`,
//!   so sensors starting together migrate once; each migration applied is one row of the
//!   `schema_version` table. A version newer than [`LATEST`] is refused.
//! - Alerts are inserted with `ON CONFLICT DO NOTHING`, sessions and endpoints with
//!   `INSERT … ON CONFLICT DO UPDATE`, so concurrent writers never fail on each other's rows
//!   and never lose one.
//! - A NUL character in a text value (which PostgreSQL's `TEXT` cannot hold) is written as
//!   U+FFFD rather than failing the batch.
//! - A connection found closed is opened again on the next call (the call that met the
//!   failure returns its error; the batch it carried was not committed).
//! - Every call made inside a tokio runtime is refused with an error (the blocking client
//!   would panic there).
//! - Everything else is the [`Store`] contract of the parent module.

use super::schema::{self, LATEST};
use super::{Replayed, Store, StoreError, assemble, from_i64, from_opt_i64, redact, to_i64, wanted};
use crate::records::{AlertRecord, EndpointRecord, Records, ReportData, SessionRecord};
use postgres::{Client, Config, NoTls, Row, Statement};
use std::borrow::Cow;
use std::time::Duration;

/// The advisory lock key held while migrating (the bytes of `farhand`, then a zero).
pub const MIGRATION_LOCK: i64 = 0x6661_7268_616e_6400;

/// The connect timeout when the URL sets none.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL database.
pub struct PgStore {
    config: Config,
    /// The URL without its password.
    name: String,
    conn: Option<Conn>,
    version: u32,
}

/// An open connection with the write statements prepared on it.
struct Conn {
    client: Client,
    alert: Statement,
    session: Statement,
    endpoint: Statement,
}

impl Conn {
    /// `client` with the write statements prepared (the schema must exist).
    fn prepare(mut client: Client) -> Result<Conn, postgres::Error> {
        let alert = client.prepare(INSERT_ALERT)?;
        let session = client.prepare(UPSERT_SESSION)?;
        let endpoint = client.prepare(MERGE_ENDPOINT)?;
        Ok(Conn { client, alert, session, endpoint })
    }
}

const INSERT_ALERT: &str = "INSERT INTO alerts (sensor, id, activity, time_us, kind, severity, tool, endpoint_ip, \
     peer_ip, peer_port, peer_country, peer_asn, peer_org, gap_ms, message, json) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING";

const UPSERT_SESSION: &str = "INSERT INTO sessions (sensor, id, tool, category, direction, transport, endpoint_ip, \
     peer_ip, peer_port, peer_country, peer_asn, peer_org, first_seen_us, last_seen_us, bytes_in, bytes_out, \
     severity, gap_ms, relayed, keystrokes, iki_median_ms, rhythm) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
     ON CONFLICT (sensor, id) DO UPDATE SET tool = excluded.tool, category = excluded.category, \
     direction = excluded.direction, transport = excluded.transport, endpoint_ip = excluded.endpoint_ip, \
     peer_ip = excluded.peer_ip, peer_port = excluded.peer_port, peer_country = excluded.peer_country, \
     peer_asn = excluded.peer_asn, peer_org = excluded.peer_org, first_seen_us = excluded.first_seen_us, \
     last_seen_us = excluded.last_seen_us, bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, \
     severity = excluded.severity, gap_ms = excluded.gap_ms, relayed = excluded.relayed, \
     keystrokes = excluded.keystrokes, iki_median_ms = excluded.iki_median_ms, rhythm = excluded.rhythm \
     WHERE excluded.last_seen_us >= sessions.last_seen_us";

const MERGE_ENDPOINT: &str = "INSERT INTO endpoints (sensor, ip, mac, hostname, first_seen_us, last_seen_us, alerts) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (sensor, ip) DO UPDATE SET \
     mac = CASE WHEN excluded.last_seen_us >= endpoints.last_seen_us THEN coalesce(excluded.mac, endpoints.mac) \
     ELSE coalesce(endpoints.mac, excluded.mac) END, \
     hostname = CASE WHEN excluded.last_seen_us >= endpoints.last_seen_us \
     THEN coalesce(excluded.hostname, endpoints.hostname) ELSE coalesce(endpoints.hostname, excluded.hostname) END, \
     first_seen_us = least(endpoints.first_seen_us, excluded.first_seen_us), \
     last_seen_us = greatest(endpoints.last_seen_us, excluded.last_seen_us), \
     alerts = endpoints.alerts + excluded.alerts";

/// The version table (PostgreSQL has no `user_version`).
const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (\
     version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at_us BIGINT NOT NULL)";

impl PgStore {
    /// Connects to `url` and brings the schema up to date.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let name = redact(url);
        let mut config: Config = url.parse().map_err(|e| StoreError::new(&name, e))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let mut store = PgStore { config, name, conn: None, version: 0 };
        store.version = store.migrate()?;
        Ok(store)
    }

    /// An error of this store.
    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::new(&self.name, e)
    }

    /// The connection, opened (again) when there is none or it closed.
    fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(self.err("the PostgreSQL store cannot be used inside a tokio runtime"));
        }
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let name = self.name.clone();
            let fail = |e: postgres::Error| StoreError::new(&name, pg_error(&e));
            let client = self.config.connect(NoTls).map_err(fail)?;
            self.conn = Some(Conn::prepare(client).map_err(fail)?);
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(StoreError::new(&self.name, "not connected")),
        }
    }

    /// Connects, applies the missing migrations under the migration lock and prepares the
    /// write statements; returns the version reached.
    fn migrate(&mut self) -> Result<u32, StoreError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(self.err("the PostgreSQL store cannot be used inside a tokio runtime"));
        }
        let name = self.name.clone();
        let fail = |e: postgres::Error| StoreError::new(&name, pg_error(&e));
        let mut client = self.config.connect(NoTls).map_err(fail)?;
        let mut tx = client.transaction().map_err(fail)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(fail)?;
        tx.batch_execute(VERSION_TABLE).map_err(fail)?;
        let current: Option<i32> =
            tx.query_one("SELECT max(version) FROM schema_version", &[]).and_then(|r| r.try_get(0)).map_err(fail)?;
        let current = u32::try_from(current.unwrap_or(0))
            .map_err(|_| StoreError::new(&name, format!("schema version {current:?} is not valid")))?;
        if current > LATEST {
            return Err(StoreError::new(
                &name,
                format!("schema version {current} is newer than this farhand knows ({LATEST}); upgrade farhand"),
            ));
        }
        let now_us = jiff::Timestamp::now().as_microsecond();
        for m in schema::pending(current) {
            tx.batch_execute(m.postgres)
                .map_err(|e| StoreError::new(&name, format!("migration to schema {}: {}", m.version, pg_error(&e))))?;
            let version = i32::try_from(m.version).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO schema_version (version, description, applied_at_us) VALUES ($1, $2, $3)",
                &[&version, &m.description, &now_us],
            )
            .map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        self.conn = Some(Conn::prepare(client).map_err(fail)?);
        Ok(LATEST)
    }
}

/// A client error as one line: the server's message (with its detail and SQLSTATE) when it
/// sent one, else the client's message and its causes.
fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({}; {d})", db.message(), db.code().code()),
            None => format!("{} ({})", db.message(), db.code().code()),
        },
        None => {
            // The client's message names the step ("error connecting to server"); its
            // sources say why ("Connection refused (os error 111)").
            let mut line = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !line.contains(&cause_text) {
                    line.push_str(": ");
                    line.push_str(&cause_text);
                }
                source = cause.source();
            }
            line.replace('\n', " ")
        }
    }
}

/// `s` without NUL characters (PostgreSQL text cannot hold them).
fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{fffd}")) } else { Cow::Borrowed(s) }
}

/// [`text`] for a nullable value.
fn opt_text(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(text)
}

/// A port as PostgreSQL's `INTEGER`.
fn port(p: u16) -> i32 {
    i32::from(p)
}

/// Column `c` of `row`, as an error string naming the table when it cannot be read.
fn col<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, table: &str, c: &str) -> Result<T, String> {
    row.try_get(c).map_err(|e| format!("{table}: column {c}: {e}"))
}

fn alert_row(r: &Row) -> Result<AlertRecord, String> {
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
        peer_port: from_i64(i64::from(col::<i32>(r, t, "peer_port")?), t, &id, "peer_port")?,
        peer_country: col(r, t, "peer_country")?,
        peer_asn: from_opt_i64(col(r, t, "peer_asn")?, t, &id, "peer_asn")?,
        peer_org: col(r, t, "peer_org")?,
        gap_ms: col(r, t, "gap_ms")?,
        message: col(r, t, "message")?,
        json: col(r, t, "json")?,
        id,
    })
}

fn session_row(r: &Row) -> Result<SessionRecord, String> {
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
        peer_port: from_i64(i64::from(col::<i32>(r, t, "peer_port")?), t, &id, "peer_port")?,
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

fn endpoint_row(r: &Row) -> Result<EndpointRecord, String> {
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

/// Every row of `rows` converted by `convert`.
fn convert<T>(rows: Vec<Row>, row: fn(&Row) -> Result<T, String>) -> Result<Vec<T>, String> {
    rows.iter().map(row).collect()
}

impl Store for PgStore {
    fn write(&mut self, batch: &Records) -> Result<(), StoreError> {
        let name = self.name.clone();
        let fail = |e: postgres::Error| StoreError::new(&name, pg_error(&e));
        let c = self.conn()?;
        let mut tx = c.client.transaction().map_err(fail)?;
        let mut replayed = Replayed::default();
        for a in &batch.alerts {
            let n = tx
                .execute(
                    &c.alert,
                    &[
                        &text(&a.sensor),
                        &text(&a.id),
                        &text(&a.activity),
                        &a.time_us,
                        &text(&a.kind),
                        &text(&a.severity),
                        &text(&a.tool),
                        &text(&a.endpoint_ip),
                        &text(&a.peer_ip),
                        &port(a.peer_port),
                        &opt_text(&a.peer_country),
                        &a.peer_asn.map(i64::from),
                        &opt_text(&a.peer_org),
                        &a.gap_ms,
                        &text(&a.message),
                        &text(&a.json),
                    ],
                )
                .map_err(fail)?;
            if n == 0 {
                replayed.note(a);
            }
        }
        for s in &batch.sessions {
            tx.execute(
                &c.session,
                &[
                    &text(&s.sensor),
                    &text(&s.id),
                    &text(&s.tool),
                    &text(&s.category),
                    &text(&s.direction),
                    &text(&s.transport),
                    &text(&s.endpoint_ip),
                    &text(&s.peer_ip),
                    &port(s.peer_port),
                    &opt_text(&s.peer_country),
                    &s.peer_asn.map(i64::from),
                    &opt_text(&s.peer_org),
                    &s.first_seen_us,
                    &s.last_seen_us,
                    &to_i64(s.bytes_in),
                    &to_i64(s.bytes_out),
                    &text(&s.severity),
                    &s.gap_ms,
                    &s.relayed,
                    &s.keys.map(to_i64),
                    &s.iki_median_ms,
                    &opt_text(&s.rhythm),
                ],
            )
            .map_err(fail)?;
        }
        for e in &batch.endpoints {
            tx.execute(
                &c.endpoint,
                &[
                    &text(&e.sensor),
                    &text(&e.ip),
                    &opt_text(&e.mac),
                    &opt_text(&e.hostname),
                    &e.first_seen_us,
                    &e.last_seen_us,
                    &to_i64(replayed.new_alerts(e)),
                ],
            )
            .map_err(fail)?;
        }
        tx.commit().map_err(fail)
    }

    fn read(&mut self, from_us: i64, to_us: i64, sensors: &[String]) -> Result<ReportData, StoreError> {
        let name = self.name.clone();
        let fail = |e: postgres::Error| StoreError::new(&name, pg_error(&e));
        let asked = wanted(sensors);
        let all = asked.is_none();
        let list: Vec<String> = asked.clone().unwrap_or_default();
        let c = self.conn()?;
        // One snapshot for the three tables.
        let mut tx = c
            .client
            .build_transaction()
            .read_only(true)
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()
            .map_err(fail)?;
        let filter = "AND ($3 OR sensor = ANY($4))";
        let alerts = tx
            .query(
                &format!("SELECT * FROM alerts WHERE time_us >= $1 AND time_us < $2 {filter} ORDER BY time_us"),
                &[&from_us, &to_us, &all, &list],
            )
            .map_err(fail)?;
        let sessions = tx
            .query(
                &format!(
                    "SELECT * FROM sessions WHERE first_seen_us < $2 AND last_seen_us >= $1 {filter} \
                     ORDER BY first_seen_us"
                ),
                &[&from_us, &to_us, &all, &list],
            )
            .map_err(fail)?;
        let endpoints = tx
            .query(
                &format!("SELECT * FROM endpoints WHERE first_seen_us < $2 AND last_seen_us >= $1 {filter}"),
                &[&from_us, &to_us, &all, &list],
            )
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        let alerts = convert(alerts, alert_row).map_err(|e| StoreError::new(&name, e))?;
        let sessions = convert(sessions, session_row).map_err(|e| StoreError::new(&name, e))?;
        let endpoints = convert(endpoints, endpoint_row).map_err(|e| StoreError::new(&name, e))?;
        Ok(assemble(from_us, to_us, asked, alerts, sessions, endpoints))
    }

    fn prune(&mut self, before_us: i64) -> Result<u64, StoreError> {
        let name = self.name.clone();
        let fail = |e: postgres::Error| StoreError::new(&name, pg_error(&e));
        let c = self.conn()?;
        let mut tx = c.client.transaction().map_err(fail)?;
        let mut n = 0u64;
        for sql in [
            "DELETE FROM alerts WHERE time_us < $1",
            "DELETE FROM sessions WHERE last_seen_us < $1",
            "DELETE FROM endpoints WHERE last_seen_us < $1",
        ] {
            n = n.saturating_add(tx.execute(sql, &[&before_us]).map_err(fail)?);
        }
        tx.commit().map_err(fail)?;
        Ok(n)
    }

    fn schema_version(&mut self) -> Result<u32, StoreError> {
        let name = self.name.clone();
        let fail = |e: postgres::Error| StoreError::new(&name, pg_error(&e));
        let c = self.conn()?;
        let v: Option<i32> = c
            .client
            .query_one("SELECT max(version) FROM schema_version", &[])
            .and_then(|r| r.try_get(0))
            .map_err(fail)?;
        let v = u32::try_from(v.unwrap_or(0))
            .map_err(|_| StoreError::new(&name, format!("schema version {v:?} is not valid")))?;
        self.version = v;
        Ok(v)
    }

    fn describe(&self) -> String {
        format!("PostgreSQL {} (schema {})", self.name, self.version)
    }
}
