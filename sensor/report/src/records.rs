//! Records: the flat rows the store keeps and reports read, built from alerts.
//!
//! # Contract
//! - [`Records::from_alerts`] turns a batch of alerts into rows, in the batch's order; it
//!   never fails and never panics (every field it reads is already validated model data).
//! - One [`AlertRecord`] per alert as sent (creates and updates alike), carrying the whole
//!   alert as JSON ([`AlertRecord::json`]) beside the columns reports filter and group by.
//! - One [`SessionRecord`] per session alert (`remote_control_session`,
//!   `anonymizing_tunnel`), keyed by the alert id: a later update of the same session replaces
//!   the earlier row (upsert), so a store holds each session once, as last reported.
//! - One [`EndpointRecord`] per inside endpoint an alert names, keyed by (sensor, address):
//!   stores merge them (earliest first seen, latest last seen, identity as last known, counts
//!   added).
//! - Times are microseconds since the Unix epoch (packet time), as `i64` so every store keeps
//!   them as a plain integer.

use crate::sink::json::{self, Observer};
use crate::verdict::{Activity, Alert, AlertKind};
use farhand_model::Direction;
use farhand_model::tool::Category;
use serde::{Deserialize, Serialize};

/// One alert as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The alert id (stable across updates of one session or episode).
    pub id: String,
    /// The sensor that raised it (`[sensor] name`).
    pub sensor: String,
    /// When it was raised (packet time), µs since the epoch.
    pub time_us: i64,
    /// Alert kind (`remote_control_session`, …).
    pub kind: String,
    /// `create` or `update`.
    pub activity: String,
    /// OCSF severity caption (`Informational` … `Critical`).
    pub severity: String,
    /// The tool's stable name.
    pub tool: String,
    /// The inside endpoint's address.
    pub endpoint_ip: String,
    /// The peer's address.
    pub peer_ip: String,
    /// The peer's port.
    pub peer_port: u16,
    /// The peer's country (ISO 3166-1 alpha-2), when enrichment knows it.
    pub peer_country: Option<String>,
    /// The peer's autonomous system number.
    pub peer_asn: Option<u32>,
    /// The organisation holding the peer's AS.
    pub peer_org: Option<String>,
    /// The relay latency gap, ms, when measured.
    pub gap_ms: Option<f64>,
    /// The alert's one-paragraph explanation.
    pub message: String,
    /// The whole alert as the JSON sink writes it (OCSF Detection Finding + ECS), one line.
    pub json: String,
}

/// One session (remote-control or tunnel), as last reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session alert's id.
    pub id: String,
    /// The sensor that saw it.
    pub sensor: String,
    /// The tool's stable name.
    pub tool: String,
    /// `remote_control` for a remote-control session, else the tunnel's category
    /// (`relay`, `vpn`, `tunnel`, `proxy`).
    pub category: String,
    /// `inbound` (the peer opened it) or `outbound`.
    pub direction: String,
    /// `tcp`, `udp` or `icmp`.
    pub transport: String,
    /// The inside endpoint's address.
    pub endpoint_ip: String,
    /// The peer's address.
    pub peer_ip: String,
    /// The peer's port.
    pub peer_port: u16,
    /// The peer's country.
    pub peer_country: Option<String>,
    /// The peer's AS number.
    pub peer_asn: Option<u32>,
    /// The peer's AS organisation.
    pub peer_org: Option<String>,
    /// First packet, µs since the epoch.
    pub first_seen_us: i64,
    /// Last packet, µs since the epoch.
    pub last_seen_us: i64,
    /// Bytes the endpoint received.
    pub bytes_in: u64,
    /// Bytes the endpoint sent.
    pub bytes_out: u64,
    /// The severity of its latest alert.
    pub severity: String,
    /// The relay latency gap, ms.
    pub gap_ms: Option<f64>,
    /// Whether the gap puts the controller beyond a relay.
    pub relayed: bool,
    /// Keystrokes counted (never which keys).
    pub keys: Option<u64>,
    /// Median inter-keystroke interval, ms.
    pub iki_median_ms: Option<f64>,
    /// Typing rhythm (`human`, `automated`, `interactive_obfuscated`, `too_few`).
    pub rhythm: Option<String>,
}

/// One inside endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// The sensor that saw it.
    pub sensor: String,
    /// Its address.
    pub ip: String,
    /// Its MAC, `aa:bb:cc:dd:ee:ff`, when known.
    pub mac: Option<String>,
    /// Its host name, when known.
    pub hostname: Option<String>,
    /// First alert time, µs since the epoch.
    pub first_seen_us: i64,
    /// Last alert time, µs since the epoch.
    pub last_seen_us: i64,
    /// Alerts that named it (creates and updates) in this batch.
    pub alerts: u64,
}

/// The rows of one batch of alerts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Records {
    /// One per alert, in order.
    pub alerts: Vec<AlertRecord>,
    /// One per session alert, in order (a session may appear twice in one batch: its last
    /// row wins).
    pub sessions: Vec<SessionRecord>,
    /// One per endpoint named in the batch, merged within the batch, in first-seen order.
    pub endpoints: Vec<EndpointRecord>,
}

/// `us` as the `i64` the stores keep (saturating: model times are `u64`).
fn time(us: u64) -> i64 {
    i64::try_from(us).unwrap_or(i64::MAX)
}

/// A MAC as `aa:bb:cc:dd:ee:ff`.
fn mac(m: &farhand_model::identity::Mac) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

impl Records {
    /// The rows of `alerts`, raised by the sensor `observer` names.
    pub fn from_alerts(alerts: &[Alert], observer: &Observer) -> Records {
        let mut r = Records::default();
        for a in alerts {
            r.push(a, observer);
        }
        r
    }

    /// Adds one alert's rows.
    pub fn push(&mut self, a: &Alert, observer: &Observer) {
        let sensor = observer.name.clone();
        let time_us = time(a.time);
        let gap_ms = a.gap.as_ref().map(|g| g.gap_ms);
        self.alerts.push(AlertRecord {
            id: a.id.clone(),
            sensor: sensor.clone(),
            time_us,
            kind: a.kind.name().to_string(),
            activity: match a.activity {
                Activity::Create => "create",
                Activity::Update => "update",
            }
            .to_string(),
            severity: a.severity.caption().to_string(),
            tool: a.tool_name.clone(),
            endpoint_ip: a.endpoint.ip.to_string(),
            peer_ip: a.peer.ip.to_string(),
            peer_port: a.peer.port,
            peer_country: a.peer_info.country.clone(),
            peer_asn: a.peer_info.asn,
            peer_org: a.peer_info.org.clone(),
            gap_ms,
            message: a.message.clone(),
            json: json::alert_json(a, observer).to_string(),
        });
        if matches!(a.kind, AlertKind::RemoteControlSession | AlertKind::AnonymizingTunnel) {
            let keys = a.behaviour.as_ref().and_then(|b| b.keystrokes.as_ref());
            let row = SessionRecord {
                id: a.id.clone(),
                sensor: sensor.clone(),
                tool: a.tool_name.clone(),
                category: match a.category {
                    Category::RemoteControl => "remote_control",
                    Category::Relay => "relay",
                    Category::Vpn => "vpn",
                    Category::Tunnel => "tunnel",
                    Category::Proxy => "proxy",
                }
                .to_string(),
                direction: match a.direction {
                    Direction::Inbound => "inbound",
                    Direction::Outbound => "outbound",
                }
                .to_string(),
                transport: a.transport.name().to_string(),
                endpoint_ip: a.endpoint.ip.to_string(),
                peer_ip: a.peer.ip.to_string(),
                peer_port: a.peer.port,
                peer_country: a.peer_info.country.clone(),
                peer_asn: a.peer_info.asn,
                peer_org: a.peer_info.org.clone(),
                first_seen_us: time(a.first_seen),
                last_seen_us: time(a.last_seen),
                bytes_in: a.bytes_in,
                bytes_out: a.bytes_out,
                severity: a.severity.caption().to_string(),
                gap_ms,
                relayed: a.gap.as_ref().is_some_and(|g| g.relayed),
                keys: keys.map(|k| k.keys),
                iki_median_ms: keys.and_then(|k| k.iki_median_ms),
                rhythm: keys.map(|k| k.rhythm.to_string()),
            };
            self.sessions.push(row);
        }
        let identity = a.endpoint_identity.as_ref();
        let ip = a.endpoint.ip.to_string();
        let known_mac = identity.and_then(|i| i.mac.as_ref()).map(mac);
        let known_name = identity.and_then(|i| i.hostname.as_ref()).map(|(n, _)| n.clone());
        match self.endpoints.iter_mut().find(|e| e.ip == ip) {
            Some(e) => {
                e.first_seen_us = e.first_seen_us.min(time_us);
                e.last_seen_us = e.last_seen_us.max(time_us);
                e.alerts += 1;
                if known_mac.is_some() {
                    e.mac = known_mac;
                }
                if known_name.is_some() {
                    e.hostname = known_name;
                }
            }
            None => self.endpoints.push(EndpointRecord {
                sensor,
                ip,
                mac: known_mac,
                hostname: known_name,
                first_seen_us: time_us,
                last_seen_us: time_us,
                alerts: 1,
            }),
        }
    }
}

/// What a report covers, read back from a store: every alert raised in `[from_us, to_us)`,
/// every session that overlaps it, every endpoint seen in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    /// Start of the period (inclusive), µs since the epoch.
    pub from_us: i64,
    /// End of the period (exclusive), µs since the epoch.
    pub to_us: i64,
    /// The sensors whose rows are included, sorted.
    pub sensors: Vec<String>,
    /// Alerts in time order (then id).
    pub alerts: Vec<AlertRecord>,
    /// Sessions in first-seen order (then id).
    pub sessions: Vec<SessionRecord>,
    /// Endpoints by sensor, then address.
    pub endpoints: Vec<EndpointRecord>,
}
