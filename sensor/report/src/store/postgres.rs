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
use super::sql::{Dialect, Param, Stored, StoredRow, Table, TableRow, column_error};
use super::sql::{alert_values, endpoint_values, session_values};
use super::{Replayed, Store, StoreError, assemble, redact, wanted};
use crate::records::{Records, ReportData};
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls, Row, Statement, Transaction};
use std::borrow::Cow;
use std::time::Duration;

/// The advisory lock key held while migrating (the bytes of `farhand`, then a zero).
pub const MIGRATION_LOCK: i64 = 0x6661_7268_616e_6400;

/// The connect timeout when the URL sets none.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The dialect this backend speaks.
const SQL: Dialect = Dialect::Postgres;

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
    fn prepare(mut client: Client, name: &str) -> Result<Conn, StoreError> {
        let sql = SQL.statements();
        let mut prepare = |text: &str| client.prepare(text).map_err(|e| pg_fail(name, &e));
        let (alert, session, endpoint) =
            (prepare(&sql.insert_alert)?, prepare(&sql.upsert_session)?, prepare(&sql.merge_endpoint)?);
        Ok(Conn { client, alert, session, endpoint })
    }
}

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

    /// Refuses a call made inside a tokio runtime (the blocking client would panic there).
    fn outside_runtime(&self) -> Result<(), StoreError> {
        match tokio::runtime::Handle::try_current() {
            Ok(_) => Err(self.err("the PostgreSQL store cannot be used inside a tokio runtime")),
            Err(_) => Ok(()),
        }
    }

    /// A new client of the configured server.
    fn connect(&self) -> Result<Client, StoreError> {
        self.config.connect(NoTls).map_err(|e| pg_fail(&self.name, &e))
    }

    /// The connection, opened (again) when there is none or it closed.
    fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        self.outside_runtime()?;
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(Conn::prepare(self.connect()?, &self.name)?);
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(StoreError::new(&self.name, "not connected")),
        }
    }

    /// Runs `work` on the connection ([`PgStore::conn`]); its client error as this store's.
    fn with_conn<T>(&mut self, work: impl FnOnce(&mut Conn) -> Result<T, postgres::Error>) -> Result<T, StoreError> {
        let out = work(self.conn()?);
        out.map_err(|e| pg_fail(&self.name, &e))
    }

    /// Connects, applies the missing migrations under the migration lock and prepares the
    /// write statements; returns the version reached.
    fn migrate(&mut self) -> Result<u32, StoreError> {
        self.outside_runtime()?;
        let name = self.name.clone();
        let fail = |e: postgres::Error| pg_fail(&name, &e);
        let mut client = self.connect()?;
        let mut tx = client.transaction().map_err(fail)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(fail)?;
        tx.batch_execute(VERSION_TABLE).map_err(fail)?;
        let current = stored_version(&mut tx).map_err(|e| StoreError::new(&name, e))?;
        schema::refuse_newer(current).map_err(|e| StoreError::new(&name, e))?;
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
        self.conn = Some(Conn::prepare(client, &name)?);
        Ok(LATEST)
    }
}

/// The schema version recorded in `schema_version` (0 when none is).
fn stored_version(c: &mut impl GenericClient) -> Result<u32, String> {
    let v: Option<i32> = c
        .query_one("SELECT max(version) FROM schema_version", &[])
        .and_then(|r| r.try_get(0))
        .map_err(|e| pg_error(&e))?;
    u32::try_from(v.unwrap_or(0)).map_err(|_| format!("schema version {v:?} is not valid"))
}

/// A client error of the store named `name`.
fn pg_fail(name: &str, e: &postgres::Error) -> StoreError {
    StoreError::new(name, pg_error(e))
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
fn without_nul(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{fffd}")) } else { s }
}

/// Runs `stmt` with `values` (their text without NULs); returns the rows it changed.
fn execute<const N: usize>(
    tx: &mut Transaction<'_>,
    stmt: &Statement,
    values: [Param<'_>; N],
) -> Result<u64, postgres::Error> {
    let values = values.map(|p| match p {
        Param::Text(s) => Param::Text(without_nul(s)),
        Param::OptText(s) => Param::OptText(s.map(without_nul)),
        other => other,
    });
    let bound: [&(dyn ToSql + Sync); N] = values.each_ref().map(|p| -> &(dyn ToSql + Sync) {
        match p {
            Param::Text(v) => v,
            Param::OptText(v) => v,
            Param::Integer(v) => v,
            Param::BigInt(v) => v,
            Param::OptBigInt(v) => v,
            Param::OptDouble(v) => v,
            Param::Bool(v) => v,
        }
    });
    tx.execute(stmt, &bound)
}

impl StoredRow for Row {
    fn column<T: Stored>(&self, table: &str, c: &str) -> Result<T, String> {
        self.try_get(c).map_err(|e| column_error(table, c, e))
    }

    fn integer(&self, table: &str, c: &str) -> Result<i64, String> {
        self.column::<i32>(table, c).map(i64::from)
    }
}

/// Every row of `rows` as a `T`.
fn convert<T: TableRow>(rows: &[Row]) -> Result<Vec<T>, String> {
    rows.iter().map(T::from_row).collect()
}

impl Store for PgStore {
    fn write(&mut self, batch: &Records) -> Result<(), StoreError> {
        self.with_conn(|c| {
            let mut tx = c.client.transaction()?;
            let mut replayed = Replayed::default();
            for a in &batch.alerts {
                if execute(&mut tx, &c.alert, alert_values(a))? == 0 {
                    replayed.note(a);
                }
            }
            for s in &batch.sessions {
                execute(&mut tx, &c.session, session_values(s))?;
            }
            for e in &batch.endpoints {
                execute(&mut tx, &c.endpoint, endpoint_values(e, replayed.new_alerts(e)))?;
            }
            tx.commit()
        })
    }

    fn read(&mut self, from_us: i64, to_us: i64, sensors: &[String]) -> Result<ReportData, StoreError> {
        let asked = wanted(sensors);
        let all = asked.is_none();
        let list: Vec<String> = asked.clone().unwrap_or_default();
        let (alerts, sessions, endpoints) = self.with_conn(|c| {
            // One snapshot for the three tables.
            let mut tx = c
                .client
                .build_transaction()
                .read_only(true)
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .start()?;
            // `$3`: all sensors; else the ones `$4` lists.
            let filter = "AND ($3 OR sensor = ANY($4))";
            let mut query =
                |table: Table| tx.query(&SQL.statements().select(table, filter), &[&from_us, &to_us, &all, &list]);
            let rows = (query(Table::Alerts)?, query(Table::Sessions)?, query(Table::Endpoints)?);
            tx.commit()?;
            Ok(rows)
        })?;
        let records = || -> Result<ReportData, String> {
            Ok(assemble(from_us, to_us, asked, convert(&alerts)?, convert(&sessions)?, convert(&endpoints)?))
        };
        records().map_err(|e| self.err(e))
    }

    fn prune(&mut self, before_us: i64) -> Result<u64, StoreError> {
        self.with_conn(|c| {
            let mut tx = c.client.transaction()?;
            let mut n = 0u64;
            for table in Table::ALL {
                n = n.saturating_add(tx.execute(&SQL.statements().prune(table), &[&before_us])?);
            }
            tx.commit()?;
            Ok(n)
        })
    }

    fn schema_version(&mut self) -> Result<u32, StoreError> {
        let c = self.conn()?;
        let v = stored_version(&mut c.client).map_err(|e| self.err(e))?;
        self.version = v;
        Ok(v)
    }

    fn describe(&self) -> String {
        format!("PostgreSQL {} (schema {})", self.name, self.version)
    }
}
