//! What the report crate's integration tests share: the CI rule for a missing server
//! ([`skip`]), one builder per record (their values include the extremes, quotes and
//! non-ASCII text a store must keep as they are) and the columns of a read the tests compare.

#![allow(dead_code, reason = "each test crate uses the part it needs")]

/// A server or tool the test needs is missing: under CI (`CI` set, not "false"/"0") every
/// test must run, so that fails the test; elsewhere it is one visible `skipped:` line and the
/// caller returns.
pub fn skip(why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.trim().is_empty() && v.trim() != "false" && v.trim() != "0");
    assert!(!ci, "{why}: CI is set, so this test must run (scripts/test.sh installs what it needs)");
    eprintln!("skipped: {why}");
}

use farhand_report::records::{AlertRecord, EndpointRecord, ReportData, SessionRecord};

/// An alert of `sensor` about session `id` raised at `time_us` for the inside `endpoint`:
/// the largest port and AS number, an organisation with SQL quoting in it, non-ASCII JSON.
pub fn alert(sensor: &str, id: &str, activity: &str, time_us: i64, endpoint: &str) -> AlertRecord {
    AlertRecord {
        id: id.into(),
        sensor: sensor.into(),
        time_us,
        kind: "remote_control_session".into(),
        activity: activity.into(),
        severity: "High".into(),
        tool: "anydesk".into(),
        endpoint_ip: endpoint.into(),
        peer_ip: "203.0.113.9".into(),
        peer_port: 65_535,
        peer_country: Some("NL".into()),
        peer_asn: Some(u32::MAX),
        peer_org: Some("Ex'ample; DROP TABLE alerts".into()),
        gap_ms: Some(41.5),
        message: format!("{sensor} {id} {activity} at {time_us}"),
        json: format!(r#"{{"finding_info":{{"uid":"{id}"}},"time":{time_us},"note":"ünïcode ✓"}}"#),
    }
}

/// A session of `sensor` seen from `first` to `last` with `bytes` in: the largest AS number
/// and stored byte count, a quoted organisation, a country and a gap unknown.
pub fn session(sensor: &str, id: &str, first: i64, last: i64, bytes: u64) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        sensor: sensor.into(),
        tool: "anydesk".into(),
        category: "remote_control".into(),
        direction: "inbound".into(),
        transport: "tcp".into(),
        endpoint_ip: "10.0.0.5".into(),
        peer_ip: "203.0.113.9".into(),
        peer_port: 7070,
        peer_country: None,
        peer_asn: Some(u32::MAX),
        peer_org: Some("Example \"Org\"".into()),
        first_seen_us: first,
        last_seen_us: last,
        bytes_in: bytes,
        bytes_out: i64::MAX as u64,
        severity: "High".into(),
        gap_ms: None,
        relayed: true,
        keys: Some(42),
        iki_median_ms: Some(130.25),
        rhythm: Some("human".into()),
    }
}

/// The endpoint `ip` of `sensor`, seen from `first` to `last`, with `alerts` alerts and no
/// MAC or host name.
pub fn endpoint(sensor: &str, ip: &str, first: i64, last: i64, alerts: u64) -> EndpointRecord {
    EndpointRecord {
        sensor: sensor.into(),
        ip: ip.into(),
        mac: None,
        hostname: None,
        first_seen_us: first,
        last_seen_us: last,
        alerts,
    }
}

/// The times of a read's alerts, in the order read.
pub fn alert_times(r: &ReportData) -> Vec<i64> {
    r.alerts.iter().map(|a| a.time_us).collect()
}

/// The ids of a read's sessions, in the order read.
pub fn session_ids(r: &ReportData) -> Vec<&str> {
    r.sessions.iter().map(|s| s.id.as_str()).collect()
}
