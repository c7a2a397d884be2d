//! What both backends say alike: each table's columns in one order, a record as the values of
//! its row ([`Param`]), a row read back as a record ([`TableRow`]), and the statements, written
//! once and spelled for each [`Dialect`].
//!
//! The backends differ only where their databases do, and each difference is named here or in
//! the backend: the placeholders (`?1` / `$1`, [`Dialect::param`]), the lesser and greater of
//! two values (`min`/`max` / `least`/`greatest`), the width of `INTEGER` (32-bit in
//! PostgreSQL, [`StoredRow::integer`]), how a read filters by sensor (an `IN` list / an array
//! parameter, built by each backend) and how values are bound (PostgreSQL text cannot hold NUL;
//! its backend replaces it).
//!
//! # Contract
//! - [`alert_values`], [`session_values`] and [`endpoint_values`] give a row's values in the
//!   order of its table's column list ([`Table::columns`]), which is the order of the insert
//!   statement's placeholders; unsigned counts above `i64::MAX` become `i64::MAX`.
//! - The statements are the [`super::Store`] contract's: alerts inserted with
//!   `ON CONFLICT DO NOTHING`; sessions upserted by (sensor, id) unless the stored row was last
//!   seen later; endpoints merged by (sensor, ip) (earliest first seen, latest last seen, MAC
//!   and host name from the later sighting unless it lacks them, counts added); reads select
//!   alerts raised in `[param 1, param 2)` and sessions and endpoints overlapping it; prunes
//!   delete what is older than parameter 1.
//! - [`TableRow::from_row`] reads columns by name; a column that cannot be read is the error
//!   `<table>: column <name>: <why>`, a stored value that does not fit the record's type is
//!   `<table> row <key>: <column> <value> out of range`; never a panic.

use super::{from_i64, from_opt_i64, to_i64};
use crate::records::{AlertRecord, EndpointRecord, SessionRecord};
use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

/// The SQL spelling a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// Positional parameter `n` (from 1).
    pub(crate) fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// The functions giving the lesser and the greater of two values (SQLite's `min`/`max`
    /// take several arguments; PostgreSQL's aggregate only, so it has `least`/`greatest`).
    fn lesser_greater(self) -> (&'static str, &'static str) {
        match self {
            Dialect::Sqlite => ("min", "max"),
            Dialect::Postgres => ("least", "greatest"),
        }
    }

    /// This dialect's statements (built once).
    pub(crate) fn statements(self) -> &'static Statements {
        static SQLITE: LazyLock<Statements> = LazyLock::new(|| Statements::new(Dialect::Sqlite));
        static POSTGRES: LazyLock<Statements> = LazyLock::new(|| Statements::new(Dialect::Postgres));
        match self {
            Dialect::Sqlite => &SQLITE,
            Dialect::Postgres => &POSTGRES,
        }
    }
}

/// The store's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// `alerts`.
    Alerts,
    /// `sessions`.
    Sessions,
    /// `endpoints`.
    Endpoints,
}

impl Table {
    /// Every table, in the order a batch writes them.
    pub(crate) const ALL: [Table; 3] = [Table::Alerts, Table::Sessions, Table::Endpoints];

    /// The table's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Alerts => "alerts",
            Table::Sessions => "sessions",
            Table::Endpoints => "endpoints",
        }
    }

    /// The columns a row is written with, in the order of its values.
    pub(crate) fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Alerts => &[
                "sensor",
                "id",
                "activity",
                "time_us",
                "kind",
                "severity",
                "tool",
                "endpoint_ip",
                "peer_ip",
                "peer_port",
                "peer_country",
                "peer_asn",
                "peer_org",
                "gap_ms",
                "message",
                "json",
            ],
            Table::Sessions => &[
                "sensor",
                "id",
                "tool",
                "category",
                "direction",
                "transport",
                "endpoint_ip",
                "peer_ip",
                "peer_port",
                "peer_country",
                "peer_asn",
                "peer_org",
                "first_seen_us",
                "last_seen_us",
                "bytes_in",
                "bytes_out",
                "severity",
                "gap_ms",
                "relayed",
                "keystrokes",
                "iki_median_ms",
                "rhythm",
            ],
            Table::Endpoints => &["sensor", "ip", "mac", "hostname", "first_seen_us", "last_seen_us", "alerts"],
        }
    }

    /// The condition selecting the rows of the window `[from, to)`: alerts raised in it,
    /// sessions and endpoints overlapping it.
    fn in_window(self, from: &str, to: &str) -> String {
        match self {
            Table::Alerts => format!("time_us >= {from} AND time_us < {to}"),
            Table::Sessions | Table::Endpoints => format!("first_seen_us < {to} AND last_seen_us >= {from}"),
        }
    }

    /// The time a row's age is judged by when pruning.
    fn age_column(self) -> &'static str {
        match self {
            Table::Alerts => "time_us",
            Table::Sessions | Table::Endpoints => "last_seen_us",
        }
    }
}

/// The write statements of one dialect (reads and prunes are built by [`Statements::select`]
/// and [`Statements::prune`]).
pub(crate) struct Statements {
    dialect: Dialect,
    /// Appends an alert; one already stored changes nothing (0 rows).
    pub(crate) insert_alert: String,
    /// Upserts a session by (sensor, id), unless the stored one was last seen later.
    pub(crate) upsert_session: String,
    /// Merges an endpoint into the stored one of the same (sensor, ip).
    pub(crate) merge_endpoint: String,
}

impl Statements {
    /// The statements spelled in `d`.
    fn new(d: Dialect) -> Statements {
        let sessions_set: Vec<String> = Table::Sessions
            .columns()
            .iter()
            .filter(|c| !["sensor", "id"].contains(*c))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let (lesser, greater) = d.lesser_greater();
        // The later sighting's identity, unless it lacks one; an older one only fills gaps.
        let identity = |c: &str| {
            format!(
                "{c} = CASE WHEN excluded.last_seen_us >= endpoints.last_seen_us \
                 THEN coalesce(excluded.{c}, endpoints.{c}) ELSE coalesce(endpoints.{c}, excluded.{c}) END"
            )
        };
        Statements {
            dialect: d,
            insert_alert: format!("{} ON CONFLICT DO NOTHING", insert(d, Table::Alerts)),
            upsert_session: format!(
                "{} ON CONFLICT (sensor, id) DO UPDATE SET {} WHERE excluded.last_seen_us >= sessions.last_seen_us",
                insert(d, Table::Sessions),
                sessions_set.join(", ")
            ),
            merge_endpoint: format!(
                "{} ON CONFLICT (sensor, ip) DO UPDATE SET {}, {}, \
                 first_seen_us = {lesser}(endpoints.first_seen_us, excluded.first_seen_us), \
                 last_seen_us = {greater}(endpoints.last_seen_us, excluded.last_seen_us), \
                 alerts = endpoints.alerts + excluded.alerts",
                insert(d, Table::Endpoints),
                identity("mac"),
                identity("hostname")
            ),
        }
    }

    /// The rows of `table` in the window `[param 1, param 2)`, further restricted by `filter`
    /// (the backend's sensor condition, using parameters from 3 on; empty for all sensors).
    pub(crate) fn select(&self, table: Table, filter: &str) -> String {
        let window = table.in_window(&self.dialect.param(1), &self.dialect.param(2));
        format!("SELECT * FROM {} WHERE {window} {filter}", table.name())
    }

    /// Deletes the rows of `table` older than parameter 1.
    pub(crate) fn prune(&self, table: Table) -> String {
        format!("DELETE FROM {} WHERE {} < {}", table.name(), table.age_column(), self.dialect.param(1))
    }
}

/// `INSERT INTO <table> (<columns>) VALUES (<one parameter per column>)`.
fn insert(d: Dialect, table: Table) -> String {
    let columns = table.columns();
    let params: Vec<String> = (1..=columns.len()).map(|n| d.param(n)).collect();
    format!("INSERT INTO {} ({}) VALUES ({})", table.name(), columns.join(", "), params.join(", "))
}

/// One value written to a column, as the schema's type holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param<'a> {
    /// `TEXT NOT NULL`.
    Text(Cow<'a, str>),
    /// `TEXT`.
    OptText(Option<Cow<'a, str>>),
    /// `INTEGER NOT NULL` (a port).
    Integer(i32),
    /// `BIGINT NOT NULL`.
    BigInt(i64),
    /// `BIGINT`.
    OptBigInt(Option<i64>),
    /// `DOUBLE PRECISION`.
    OptDouble(Option<f64>),
    /// `BOOLEAN NOT NULL`.
    Bool(bool),
}

/// [`Param::Text`] of `s`.
fn text(s: &str) -> Param<'_> {
    Param::Text(Cow::Borrowed(s))
}

/// [`Param::OptText`] of `s`.
fn opt_text(s: &Option<String>) -> Param<'_> {
    Param::OptText(s.as_deref().map(Cow::Borrowed))
}

/// A port as `INTEGER`.
fn port(p: u16) -> Param<'static> {
    Param::Integer(i32::from(p))
}

/// An autonomous system number as `BIGINT`.
fn asn(a: Option<u32>) -> Param<'static> {
    Param::OptBigInt(a.map(i64::from))
}

/// An alert's values, in the order of [`Table::Alerts`]' columns.
pub(crate) fn alert_values(a: &AlertRecord) -> [Param<'_>; 16] {
    [
        text(&a.sensor),
        text(&a.id),
        text(&a.activity),
        Param::BigInt(a.time_us),
        text(&a.kind),
        text(&a.severity),
        text(&a.tool),
        text(&a.endpoint_ip),
        text(&a.peer_ip),
        port(a.peer_port),
        opt_text(&a.peer_country),
        asn(a.peer_asn),
        opt_text(&a.peer_org),
        Param::OptDouble(a.gap_ms),
        text(&a.message),
        text(&a.json),
    ]
}

/// A session's values, in the order of [`Table::Sessions`]' columns.
pub(crate) fn session_values(s: &SessionRecord) -> [Param<'_>; 22] {
    [
        text(&s.sensor),
        text(&s.id),
        text(&s.tool),
        text(&s.category),
        text(&s.direction),
        text(&s.transport),
        text(&s.endpoint_ip),
        text(&s.peer_ip),
        port(s.peer_port),
        opt_text(&s.peer_country),
        asn(s.peer_asn),
        opt_text(&s.peer_org),
        Param::BigInt(s.first_seen_us),
        Param::BigInt(s.last_seen_us),
        Param::BigInt(to_i64(s.bytes_in)),
        Param::BigInt(to_i64(s.bytes_out)),
        text(&s.severity),
        Param::OptDouble(s.gap_ms),
        Param::Bool(s.relayed),
        Param::OptBigInt(s.keys.map(to_i64)),
        Param::OptDouble(s.iki_median_ms),
        opt_text(&s.rhythm),
    ]
}

/// An endpoint's values, in the order of [`Table::Endpoints`]' columns, with `alerts` as its
/// alert count (what the batch adds, not what it holds).
pub(crate) fn endpoint_values(e: &EndpointRecord, alerts: u64) -> [Param<'_>; 7] {
    [
        text(&e.sensor),
        text(&e.ip),
        opt_text(&e.mac),
        opt_text(&e.hostname),
        Param::BigInt(e.first_seen_us),
        Param::BigInt(e.last_seen_us),
        Param::BigInt(to_i64(alerts)),
    ]
}

/// A Rust type both clients read a column as.
pub(crate) trait Stored: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a> {}

impl<T: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>> Stored for T {}

/// A row as a backend's client hands it over.
pub(crate) trait StoredRow {
    /// Column `c` of `table`'s row as `T`, or [`column_error`].
    fn column<T: Stored>(&self, table: &str, c: &str) -> Result<T, String>;
    /// An `INTEGER` column, which PostgreSQL keeps in 32 bits and SQLite in up to 64.
    fn integer(&self, table: &str, c: &str) -> Result<i64, String>;
}

/// The error of column `c` of `table` that could not be read.
pub(crate) fn column_error(table: &str, c: &str, why: impl fmt::Display) -> String {
    format!("{table}: column {c}: {why}")
}

/// A record kept as one row of a table.
pub(crate) trait TableRow: Sized {
    /// The table.
    const TABLE: Table;
    /// The record `r` holds.
    fn from_row<R: StoredRow>(r: &R) -> Result<Self, String>;
}

impl TableRow for AlertRecord {
    const TABLE: Table = Table::Alerts;

    fn from_row<R: StoredRow>(r: &R) -> Result<AlertRecord, String> {
        let t = Self::TABLE.name();
        let id: String = r.column(t, "id")?;
        Ok(AlertRecord {
            sensor: r.column(t, "sensor")?,
            time_us: r.column(t, "time_us")?,
            kind: r.column(t, "kind")?,
            activity: r.column(t, "activity")?,
            severity: r.column(t, "severity")?,
            tool: r.column(t, "tool")?,
            endpoint_ip: r.column(t, "endpoint_ip")?,
            peer_ip: r.column(t, "peer_ip")?,
            peer_port: from_i64(r.integer(t, "peer_port")?, t, &id, "peer_port")?,
            peer_country: r.column(t, "peer_country")?,
            peer_asn: from_opt_i64(r.column(t, "peer_asn")?, t, &id, "peer_asn")?,
            peer_org: r.column(t, "peer_org")?,
            gap_ms: r.column(t, "gap_ms")?,
            message: r.column(t, "message")?,
            json: r.column(t, "json")?,
            id,
        })
    }
}

impl TableRow for SessionRecord {
    const TABLE: Table = Table::Sessions;

    fn from_row<R: StoredRow>(r: &R) -> Result<SessionRecord, String> {
        let t = Self::TABLE.name();
        let id: String = r.column(t, "id")?;
        Ok(SessionRecord {
            sensor: r.column(t, "sensor")?,
            tool: r.column(t, "tool")?,
            category: r.column(t, "category")?,
            direction: r.column(t, "direction")?,
            transport: r.column(t, "transport")?,
            endpoint_ip: r.column(t, "endpoint_ip")?,
            peer_ip: r.column(t, "peer_ip")?,
            peer_port: from_i64(r.integer(t, "peer_port")?, t, &id, "peer_port")?,
            peer_country: r.column(t, "peer_country")?,
            peer_asn: from_opt_i64(r.column(t, "peer_asn")?, t, &id, "peer_asn")?,
            peer_org: r.column(t, "peer_org")?,
            first_seen_us: r.column(t, "first_seen_us")?,
            last_seen_us: r.column(t, "last_seen_us")?,
            bytes_in: from_i64(r.column(t, "bytes_in")?, t, &id, "bytes_in")?,
            bytes_out: from_i64(r.column(t, "bytes_out")?, t, &id, "bytes_out")?,
            severity: r.column(t, "severity")?,
            gap_ms: r.column(t, "gap_ms")?,
            relayed: r.column(t, "relayed")?,
            keys: from_opt_i64(r.column(t, "keystrokes")?, t, &id, "keystrokes")?,
            iki_median_ms: r.column(t, "iki_median_ms")?,
            rhythm: r.column(t, "rhythm")?,
            id,
        })
    }
}

impl TableRow for EndpointRecord {
    const TABLE: Table = Table::Endpoints;

    fn from_row<R: StoredRow>(r: &R) -> Result<EndpointRecord, String> {
        let t = Self::TABLE.name();
        let ip: String = r.column(t, "ip")?;
        Ok(EndpointRecord {
            sensor: r.column(t, "sensor")?,
            mac: r.column(t, "mac")?,
            hostname: r.column(t, "hostname")?,
            first_seen_us: r.column(t, "first_seen_us")?,
            last_seen_us: r.column(t, "last_seen_us")?,
            alerts: from_i64(r.column(t, "alerts")?, t, &ip, "alerts")?,
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::MIGRATIONS;

    /// A SQLite database at the latest schema, in memory.
    fn latest() -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        for m in MIGRATIONS {
            c.execute_batch(m.sqlite).unwrap();
        }
        c
    }

    #[test]
    fn column_lists_are_the_tables_columns_in_order() {
        let c = latest();
        for t in Table::ALL {
            let names: Vec<String> = c
                .prepare(&format!("SELECT name FROM pragma_table_info('{}') ORDER BY cid", t.name()))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(names, t.columns(), "{}", t.name());
        }
    }

    #[test]
    fn every_sqlite_statement_prepares_against_the_schema() {
        let c = latest();
        let s = Dialect::Sqlite.statements();
        for sql in [&s.insert_alert, &s.upsert_session, &s.merge_endpoint] {
            c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        for t in Table::ALL {
            c.prepare(&s.select(t, "")).unwrap();
            c.prepare(&s.prune(t)).unwrap();
        }
    }

    #[test]
    fn dialects_differ_only_in_placeholders_and_min_max() {
        let (lite, pg) = (Dialect::Sqlite.statements(), Dialect::Postgres.statements());
        let respell = |sql: &str| {
            let mut out = sql.replace("least(", "min(").replace("greatest(", "max(");
            for n in (1..=22).rev() {
                out = out.replace(&format!("${n}"), &format!("?{n}"));
            }
            out
        };
        assert_eq!(respell(&pg.insert_alert), lite.insert_alert);
        assert_eq!(respell(&pg.upsert_session), lite.upsert_session);
        assert_eq!(respell(&pg.merge_endpoint), lite.merge_endpoint);
        assert!(pg.merge_endpoint.contains("least(") && pg.merge_endpoint.contains("greatest("));
        assert!(pg.upsert_session.contains("$22)") && !pg.upsert_session.contains('?'));
        assert_eq!(pg.prune(Table::Sessions), "DELETE FROM sessions WHERE last_seen_us < $1");
        assert_eq!(
            lite.select(Table::Alerts, "AND sensor IN (?3)"),
            "SELECT * FROM alerts WHERE time_us >= ?1 AND time_us < ?2 AND sensor IN (?3)"
        );
    }
}
