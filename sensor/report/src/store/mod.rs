//! The store: alerts, sessions and endpoints ([`crate::records`]) kept in SQLite (one
//! sensor, embedded) or PostgreSQL (a fleet), read back by period for auditors' reports.
//!
//! ```text
//! Records (one batch) ─► Store::write ─► alerts / sessions / endpoints ─► Store::read ─► ReportData
//! ```
//!
//! [`StoreTarget::parse`] picks the backend from the configured text, [`open`] opens it
//! (applying the [`schema`] migrations it lacks) and hands back a [`Store`]. The store is used
//! from one plain thread: the PostgreSQL client blocks, and must not run inside a tokio
//! runtime (it is refused there with an error rather than a panic).
//!
//! # Contract
//! - [`Store::write`] writes one batch in one transaction, all or nothing:
//!   - alerts are appended, keyed by (sensor, id, activity, time): writing the same alert
//!     again adds nothing, so re-writing a batch after a crash is harmless;
//!   - sessions are upserted by (sensor, id): the row holds the values last written, unless
//!     the stored row was last seen later (a replayed older batch never rolls a session back);
//!   - endpoints are merged by (sensor, ip): earliest first seen, latest last seen, MAC and
//!     host name as last known (a value not known in the batch keeps the stored one), alert
//!     counts added — less the batch's alerts that were already stored, so a replayed batch
//!     adds nothing.
//! - [`Store::read`] returns everything in `[from_us, to_us)` for the sensors asked (none =
//!   all): alerts raised in it in (time, id, sensor, activity) order, sessions overlapping it
//!   (first seen before `to_us`, last seen at or after `from_us`) in (first seen, id, sensor)
//!   order, endpoints seen in it (same overlap rule) by sensor then address (numeric order
//!   for addresses that parse). [`ReportData::sensors`] is the sensors asked for (sorted,
//!   without repeats), or, when none were, the sensors of the rows returned.
//! - [`Store::prune`] deletes, in one transaction, alerts raised before `before_us`,
//!   sessions last seen before it and endpoints not seen since, and returns the rows deleted.
//! - Opening applies the missing migrations in one transaction (PostgreSQL: under an
//!   advisory lock, so sensors starting together migrate once); a store at a newer version
//!   than this build knows is refused.
//! - Every [`StoreError`] is one line that starts with the store's name (the SQLite path, or
//!   the PostgreSQL URL with its password replaced by `***`); a password never appears.
//! - Unsigned counts above `i64::MAX` are stored as `i64::MAX`; a stored value that does not
//!   fit the record's type (a negative byte count, a port above 65535) is an error on read,
//!   never a panic.

pub mod postgres;
pub mod schema;
mod sql;
pub mod sqlite;

use crate::records::{AlertRecord, EndpointRecord, Records, ReportData, SessionRecord};
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the store lives, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreTarget {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:password@host:port/db?…`).
    Postgres(String),
}

impl StoreTarget {
    /// `postgres://…` or `postgresql://…` (scheme in any case, kept in lower case) is
    /// PostgreSQL; anything else is
    /// a SQLite file path. An empty text, or a URL the PostgreSQL client cannot parse, is an
    /// error (naming the URL without its password).
    pub fn parse(s: &str) -> Result<StoreTarget, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("store: empty target (a SQLite file path or a postgres:// URL)".to_string());
        }
        if is_postgres_url(s) {
            // The client reads the scheme in lower case only.
            let url = match s.split_once("://") {
                Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
                None => s.to_string(),
            };
            url.parse::<::postgres::Config>().map_err(|e| format!("{}: {e}", redact(&url)))?;
            Ok(StoreTarget::Postgres(url))
        } else {
            Ok(StoreTarget::Sqlite(PathBuf::from(s)))
        }
    }

    /// The target's name for messages: the path, or the URL with its password replaced.
    pub fn name(&self) -> String {
        match self {
            StoreTarget::Sqlite(p) => p.display().to_string(),
            StoreTarget::Postgres(url) => redact(url),
        }
    }
}

impl fmt::Display for StoreTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Whether `s` starts with a PostgreSQL URL scheme.
fn is_postgres_url(s: &str) -> bool {
    ["postgres://", "postgresql://"].iter().any(|p| s.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p)))
}

/// `url` with the password replaced by `***`: the user info's password (everything from its
/// first `:` to the last `@`, erring towards hiding more) and any `password=` query parameter.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let (scheme, rest) = url.split_at(scheme_end);
    let rest = match rest.rfind('@').map(|at| rest.split_at(at)) {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***{host}"),
            None => rest.to_string(),
        },
        None => rest.to_string(),
    };
    let rest = match rest.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => rest,
    };
    format!("{scheme}{rest}")
}

/// A store failure: one line naming the store (`farhand.db: database is locked`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(String);

impl StoreError {
    /// An error of the store named `store` (a path, or a URL already redacted).
    pub fn new(store: &str, what: impl fmt::Display) -> StoreError {
        StoreError(format!("{store}: {what}"))
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// Where the reporting plane keeps its rows. Used from one plain thread (not inside a tokio
/// runtime); see the module's contract for the semantics.
pub trait Store: Send {
    /// Writes one batch in one transaction: alerts appended (idempotently), sessions upserted
    /// by (sensor, id), endpoints merged by (sensor, ip).
    fn write(&mut self, batch: &Records) -> Result<(), StoreError>;
    /// Everything in `[from_us, to_us)` for `sensors` (empty = all), in time order.
    fn read(&mut self, from_us: i64, to_us: i64, sensors: &[String]) -> Result<ReportData, StoreError>;
    /// Deletes alerts and sessions older than `before_us` and endpoints not seen since;
    /// returns the rows deleted.
    fn prune(&mut self, before_us: i64) -> Result<u64, StoreError>;
    /// The schema version the store is at.
    fn schema_version(&mut self) -> Result<u32, StoreError>;
    /// A one-line description for health lines (`SQLite /var/lib/farhand/farhand.db (schema 1)`).
    fn describe(&self) -> String;
}

/// Opens (creating a SQLite file, not its directory) the store `target` names and brings its
/// schema up to [`schema::LATEST`].
pub fn open(target: &StoreTarget) -> Result<Box<dyn Store>, StoreError> {
    Ok(match target {
        StoreTarget::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path)?),
        StoreTarget::Postgres(url) => Box::new(postgres::PgStore::open(url)?),
    })
}

/// The time before which rows are pruned when keeping `keep` up to `now_us` (µs since the
/// epoch; saturating).
pub fn retention_cutoff(now_us: i64, keep: Duration) -> i64 {
    let keep_us = i64::try_from(keep.as_micros()).unwrap_or(i64::MAX);
    now_us.saturating_sub(keep_us)
}

/// An unsigned count as the `i64` stores keep (saturating).
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored integer as the record's unsigned type, or an error naming the table, row and
/// column.
pub(crate) fn from_i64<T: TryFrom<i64>>(v: i64, table: &str, key: &str, column: &str) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("{table} row {key}: {column} {v} out of range"))
}

/// [`from_i64`] for a nullable column.
pub(crate) fn from_opt_i64<T: TryFrom<i64>>(
    v: Option<i64>,
    table: &str,
    key: &str,
    column: &str,
) -> Result<Option<T>, String> {
    v.map(|v| from_i64(v, table, key, column)).transpose()
}

/// The sensors asked for, sorted and without repeats (None when all are).
pub(crate) fn wanted(sensors: &[String]) -> Option<Vec<String>> {
    if sensors.is_empty() {
        return None;
    }
    let mut s = sensors.to_vec();
    s.sort();
    s.dedup();
    Some(s)
}

/// The endpoints alerts already stored account for, per (sensor, endpoint address): what an
/// endpoint's count must not add again.
#[derive(Default)]
pub(crate) struct Replayed(Vec<(String, String, u64)>);

impl Replayed {
    /// Notes that `a` was already stored.
    pub(crate) fn note(&mut self, a: &AlertRecord) {
        match self.0.iter_mut().find(|(s, ip, _)| *s == a.sensor && *ip == a.endpoint_ip) {
            Some((_, _, n)) => *n += 1,
            None => self.0.push((a.sensor.clone(), a.endpoint_ip.clone(), 1)),
        }
    }

    /// The alerts `e` adds to its stored count.
    pub(crate) fn new_alerts(&self, e: &EndpointRecord) -> u64 {
        let seen = self.0.iter().find(|(s, ip, _)| *s == e.sensor && *ip == e.ip).map_or(0, |(_, _, n)| *n);
        e.alerts.saturating_sub(seen)
    }
}

/// Orders what a read returns as the contract says, and names its sensors.
pub(crate) fn assemble(
    from_us: i64,
    to_us: i64,
    asked: Option<Vec<String>>,
    mut alerts: Vec<AlertRecord>,
    mut sessions: Vec<SessionRecord>,
    mut endpoints: Vec<EndpointRecord>,
) -> ReportData {
    alerts.sort_by(|a, b| (a.time_us, &a.id, &a.sensor, &a.activity).cmp(&(b.time_us, &b.id, &b.sensor, &b.activity)));
    sessions.sort_by(|a, b| (a.first_seen_us, &a.id, &a.sensor).cmp(&(b.first_seen_us, &b.id, &b.sensor)));
    endpoints.sort_by(|a, b| {
        let ka = (&a.sensor, a.ip.parse::<IpAddr>().ok(), &a.ip);
        let kb = (&b.sensor, b.ip.parse::<IpAddr>().ok(), &b.ip);
        ka.cmp(&kb)
    });
    let sensors = asked.unwrap_or_else(|| {
        let mut s: Vec<String> = alerts
            .iter()
            .map(|a| a.sensor.clone())
            .chain(sessions.iter().map(|s| s.sensor.clone()))
            .chain(endpoints.iter().map(|e| e.sensor.clone()))
            .collect();
        s.sort();
        s.dedup();
        s
    });
    ReportData { from_us, to_us, sensors, alerts, sessions, endpoints }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_by_scheme() {
        assert_eq!(
            StoreTarget::parse("postgres://farhand@db.example/farhand").unwrap(),
            StoreTarget::Postgres("postgres://farhand@db.example/farhand".into())
        );
        assert_eq!(
            StoreTarget::parse(" PostgreSQL://h/db ").unwrap(),
            StoreTarget::Postgres("postgresql://h/db".into())
        );
        assert_eq!(
            StoreTarget::parse("/var/lib/farhand/farhand.db").unwrap(),
            StoreTarget::Sqlite("/var/lib/farhand/farhand.db".into())
        );
        assert_eq!(StoreTarget::parse("farhand.db").unwrap(), StoreTarget::Sqlite("farhand.db".into()));
        assert!(StoreTarget::parse("  ").unwrap_err().contains("empty"));
        let bad = StoreTarget::parse("postgres://u:hunter2@h:notaport/db").unwrap_err();
        assert!(bad.starts_with("postgres://u:***@h:notaport/db: "), "{bad}");
        assert!(!bad.contains("hunter2"), "{bad}");
    }

    #[test]
    fn redaction_hides_passwords_only() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u:pa/ss?@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db?password=x@y"), "postgres://h/db?password=***");
        assert_eq!(
            redact("postgres://u@h/db?password=secret&sslmode=disable"),
            "postgres://u@h/db?password=***&sslmode=disable"
        );
        assert_eq!(redact("postgresql://h"), "postgresql://h");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(StoreTarget::Postgres("postgres://a:b@c/d".into()).to_string(), "postgres://a:***@c/d");
    }

    #[test]
    fn retention_cutoff_subtracts_and_saturates() {
        assert_eq!(retention_cutoff(10_000_000, Duration::from_secs(3)), 7_000_000);
        assert_eq!(retention_cutoff(i64::MIN + 1, Duration::from_secs(1)), i64::MIN);
        assert_eq!(retention_cutoff(0, Duration::MAX), -i64::MAX);
    }
}
