//! The store's schema: the ordered migrations both backends apply on opening.
//!
//! Version 1 holds three tables:
//!
//! ```text
//! alerts    (sensor, id, activity, time_us) primary key; kind, severity, tool, endpoint_ip,
//!           peer_ip, peer_port, peer_country, peer_asn, peer_org, gap_ms, message, json
//!           indexes: alerts_time (time_us), alerts_sensor_time (sensor, time_us)
//! sessions  (sensor, id) primary key; tool, category, direction, transport, endpoint_ip,
//!           peer_ip, peer_port, peer_country, peer_asn, peer_org, first_seen_us,
//!           last_seen_us, bytes_in, bytes_out, severity, gap_ms, relayed, keystrokes,
//!           iki_median_ms, rhythm
//!           indexes: sessions_first_seen, sessions_last_seen, sessions_sensor_first_seen
//! endpoints (sensor, ip) primary key; mac, hostname, first_seen_us, last_seen_us, alerts
//!           indexes: endpoints_last_seen
//! ```
//!
//! Times are `BIGINT` microseconds since the Unix epoch; the alert's whole JSON is `TEXT`.
//! SQLite records the version in `PRAGMA user_version`; PostgreSQL in a `schema_version`
//! table (one row per migration applied: version, description, applied_at_us).
//!
//! # Contract
//! - [`MIGRATIONS`] is ordered by version, starts at 1 and has no gaps; [`LATEST`] is the
//!   last one's version.
//! - A released migration is never edited: a schema change is a new migration appended here.
//! - Each migration holds one script per dialect; a backend runs the scripts of the versions
//!   above the store's, in order, in one transaction, then records the new version in it.
//! - A store at a version above [`LATEST`] is refused with one message for both backends.

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version the store is at once this step is applied.
    pub version: u32,
    /// What the step does, one line (recorded in PostgreSQL's `schema_version` table).
    pub description: &'static str,
    /// The step as SQLite statements.
    pub sqlite: &'static str,
    /// The step as PostgreSQL statements.
    pub postgres: &'static str,
}

/// Version 1 in the SQL both dialects accept (SQLite maps `BIGINT` to INTEGER, `DOUBLE
/// PRECISION` to REAL and `BOOLEAN` to NUMERIC affinity, stored as 0/1).
const V1: &str = "
CREATE TABLE alerts (
    sensor TEXT NOT NULL,
    id TEXT NOT NULL,
    activity TEXT NOT NULL,
    time_us BIGINT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    tool TEXT NOT NULL,
    endpoint_ip TEXT NOT NULL,
    peer_ip TEXT NOT NULL,
    peer_port INTEGER NOT NULL,
    peer_country TEXT,
    peer_asn BIGINT,
    peer_org TEXT,
    gap_ms DOUBLE PRECISION,
    message TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (sensor, id, activity, time_us)
);
CREATE INDEX alerts_time ON alerts (time_us);
CREATE INDEX alerts_sensor_time ON alerts (sensor, time_us);

CREATE TABLE sessions (
    sensor TEXT NOT NULL,
    id TEXT NOT NULL,
    tool TEXT NOT NULL,
    category TEXT NOT NULL,
    direction TEXT NOT NULL,
    transport TEXT NOT NULL,
    endpoint_ip TEXT NOT NULL,
    peer_ip TEXT NOT NULL,
    peer_port INTEGER NOT NULL,
    peer_country TEXT,
    peer_asn BIGINT,
    peer_org TEXT,
    first_seen_us BIGINT NOT NULL,
    last_seen_us BIGINT NOT NULL,
    bytes_in BIGINT NOT NULL,
    bytes_out BIGINT NOT NULL,
    severity TEXT NOT NULL,
    gap_ms DOUBLE PRECISION,
    relayed BOOLEAN NOT NULL,
    keystrokes BIGINT,
    iki_median_ms DOUBLE PRECISION,
    rhythm TEXT,
    PRIMARY KEY (sensor, id)
);
CREATE INDEX sessions_first_seen ON sessions (first_seen_us);
CREATE INDEX sessions_last_seen ON sessions (last_seen_us);
CREATE INDEX sessions_sensor_first_seen ON sessions (sensor, first_seen_us);

CREATE TABLE endpoints (
    sensor TEXT NOT NULL,
    ip TEXT NOT NULL,
    mac TEXT,
    hostname TEXT,
    first_seen_us BIGINT NOT NULL,
    last_seen_us BIGINT NOT NULL,
    alerts BIGINT NOT NULL,
    PRIMARY KEY (sensor, ip)
);
CREATE INDEX endpoints_last_seen ON endpoints (last_seen_us);
";

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "alerts, sessions and endpoints with indexes on time and sensor",
    sqlite: V1,
    postgres: V1,
}];

/// The newest schema version this build knows.
pub const LATEST: u32 = 1;

/// The migrations a store at `current` still needs, in order.
pub fn pending(current: u32) -> impl Iterator<Item = &'static Migration> {
    MIGRATIONS.iter().filter(move |m| m.version > current)
}

/// Refuses a store at `current` when it is newer than this build knows (the error says to
/// upgrade).
pub(crate) fn refuse_newer(current: u32) -> Result<(), String> {
    if current > LATEST {
        return Err(format!("schema version {current} is newer than this farhand knows ({LATEST}); upgrade farhand"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_ordered_without_gaps_and_end_at_latest() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(LATEST));
        assert_eq!(pending(0).count(), MIGRATIONS.len());
        assert_eq!(pending(LATEST).count(), 0);
    }
}
