//! The JSON form of an alert: OCSF Detection Finding + ECS names + farhand measurements.
//!
//! Layout (one object per alert):
//! - OCSF 1.3 Detection Finding (`class_uid` 2004): `time`, `severity_id`, `finding_info`,
//!   `src_endpoint`/`dst_endpoint` (source = the side that opened the connection),
//!   `connection_info`, `traffic`, `evidences`, `confidence_*`, `metadata`.
//! - ECS: `@timestamp`, `event.*`, `source.*`/`destination.*`, `network.*` (with
//!   `community_id`), `rule.*`, `threat.*`, `observer.*`, `message`.
//! - `unmapped.farhand`: what neither schema has a field for: the endpoint/peer roles, the
//!   tool, recognition method, fingerprint fields, handshake times, detector versions.
//! - The endpoint's identity, only when known: OCSF `mac`/`hostname` on the endpoint's side
//!   (`src_endpoint` or `dst_endpoint`), ECS `source.mac`/`destination.mac` (upper case,
//!   hyphens, as ECS writes MACs), and `unmapped.farhand.endpoint.{mac, hostname,
//!   hostname_source, names}`.

use crate::enrich::lookup::PeerInfo;
use crate::verdict::{Activity, Alert, AlertKind, Host};
use farhand_model::Category;
use farhand_model::Direction;
use farhand_model::Tool;
use farhand_model::identity::{EndpointIdentity, mac_ecs, mac_text};
use serde_json::{Map, Value, json};
use std::time::{Duration, UNIX_EPOCH};

/// OCSF schema version the alerts follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// Who is reporting: goes into `metadata.product` / `observer`.
#[derive(Debug, Clone, Default)]
pub struct Observer {
    /// Sensor name (host name by default).
    pub name: String,
}

/// `us` (microseconds since the Unix epoch) as RFC 3339 UTC with six fraction digits.
pub(crate) fn rfc3339(us: u64) -> String {
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_micros(us)).to_string()
}

fn ms(us: u64) -> u64 {
    us / 1000
}

/// The session's timing figures, with the transport legs named by role (endpoint, peer).
fn behaviour_json(b: &farhand_model::session::Summary, a: &Alert) -> Value {
    // Leg 0 is the flow's initiator: the peer for sessions into the endpoint.
    let (peer_leg, endpoint_leg) = match a.direction {
        Direction::Inbound => (b.transport_rtt.initiator, b.transport_rtt.responder),
        Direction::Outbound => (b.transport_rtt.responder, b.transport_rtt.initiator),
    };
    let (peer_est, endpoint_est) = match a.direction {
        Direction::Inbound => (b.transport_rtt_estimate.initiator, b.transport_rtt_estimate.responder),
        Direction::Outbound => (b.transport_rtt_estimate.responder, b.transport_rtt_estimate.initiator),
    };
    let mut v = json!({
        "transport_rtt_ms": { "peer_leg": peer_leg, "endpoint_leg": endpoint_leg },
        "transport_rtt_estimate": { "peer_leg": peer_est, "endpoint_leg": endpoint_est },
        "app_rtt_far_ms": b.app_rtt_far,
        "app_rtt_far_estimate": b.app_rtt_far_estimate,
        "app_rtt_near_ms": b.app_rtt_near,
        "gap": a.gap,
        "keystrokes": b.keystrokes,
        "chain": b.chain,
    });
    if let (Some(alt), Some(o)) = (&b.app_rtt_far_alternatives_ms, v.as_object_mut()) {
        o.insert("app_rtt_far_alternatives_ms".into(), json!(alt));
    }
    v
}

/// An OCSF network endpoint: address and port; the peer's also carries its country and
/// autonomous system when enrichment knows them, the endpoint's its MAC and host name.
fn endpoint_ocsf(h: &Host, info: Option<&PeerInfo>, id: Option<&EndpointIdentity>) -> Value {
    let mut v = json!({ "ip": h.ip.to_string(), "port": h.port });
    if let (Some(id), Some(o)) = (id, v.as_object_mut()) {
        if let Some(m) = &id.mac {
            o.insert("mac".into(), json!(mac_text(m)));
        }
        if let Some((h, _)) = &id.hostname {
            o.insert("hostname".into(), json!(h));
        }
    }
    if let (Some(info), Some(o)) = (info, v.as_object_mut()) {
        if let Some(c) = &info.country {
            o.insert("location".into(), json!({ "country": c }));
        }
        if info.asn.is_some() || info.org.is_some() {
            o.insert("autonomous_system".into(), json!({ "number": info.asn, "name": info.org }));
        }
    }
    v
}

/// An ECS `source`/`destination`; the peer's also carries `geo.country_iso_code` and
/// `as.{number, organization.name}` when enrichment knows them, the endpoint's its `mac`.
fn endpoint_ecs(h: &Host, bytes: u64, packets: u64, info: Option<&PeerInfo>, id: Option<&EndpointIdentity>) -> Value {
    let mut v = json!({ "ip": h.ip.to_string(), "port": h.port, "bytes": bytes, "packets": packets });
    if let (Some(m), Some(o)) = (id.and_then(|i| i.mac.as_ref()), v.as_object_mut()) {
        o.insert("mac".into(), json!(mac_ecs(m)));
    }
    if let (Some(info), Some(o)) = (info, v.as_object_mut()) {
        if let Some(c) = &info.country {
            o.insert("geo".into(), json!({ "country_iso_code": c }));
        }
        if info.asn.is_some() || info.org.is_some() {
            o.insert("as".into(), json!({ "number": info.asn, "organization": { "name": info.org } }));
        }
    }
    v
}

/// What enrichment says of an address, as farhand's own fields.
fn info_json(info: &PeerInfo) -> Value {
    json!({ "class": info.class.name(), "country": info.country, "asn": info.asn, "org": info.org })
}

/// `unmapped.farhand.endpoint`: the role fields, and the identity fields that are known.
fn endpoint_farhand(a: &Alert) -> Value {
    let h = &a.endpoint;
    let mut o = Map::new();
    o.insert("ip".into(), json!(h.ip.to_string()));
    o.insert("port".into(), json!(h.port));
    o.insert("inside".into(), json!(h.inside));
    if let Some(id) = &a.endpoint_identity {
        if let Some(m) = &id.mac {
            o.insert("mac".into(), json!(mac_text(m)));
        }
        if let Some((name, src)) = &id.hostname {
            o.insert("hostname".into(), json!(name));
            o.insert("hostname_source".into(), json!(src.name()));
        }
        if !id.names.is_empty() {
            o.insert("names".into(), json!(id.names));
        }
    }
    Value::Object(o)
}

/// The alert's one-line title (OCSF `finding_info.title`, ECS `rule.name`, CEF Name).
pub(crate) fn title(a: &Alert) -> String {
    match a.kind {
        AlertKind::RemoteControlSession => format!("{} remote-control session", a.tool_title),
        AlertKind::AnonymizingTunnel => format!("{} session", a.tool_title),
        AlertKind::MultipleRemoteTools => format!("{} remote-control tools on one endpoint", a.related_tools.len()),
        AlertKind::IpKvmSuspected => "IP-KVM-class device on the endpoint's segment".to_string(),
        AlertKind::RelayedRemoteControl => format!("{} session controlled from beyond a relay", a.tool_title),
        AlertKind::RemoteControlFromAbroad => format!("{} session controlled from abroad", a.tool_title),
        AlertKind::RemoteControlEpisode => "Endpoint driven remotely: episode".to_string(),
        AlertKind::InteractiveRelayChain => {
            format!("{} session typed through the endpoint by a remote controller", a.tool_title)
        }
    }
}

/// What the parts of an alert's JSON share: the connection seen by its roles (source =
/// who opened it, as in OCSF and ECS), the title, the ATT&CK technique, the analytic.
struct Parts<'a> {
    src: &'a Host,
    dst: &'a Host,
    /// Enrichment of the source, when it is the peer.
    src_info: Option<&'a PeerInfo>,
    /// Enrichment of the destination, when it is the peer.
    dst_info: Option<&'a PeerInfo>,
    /// The endpoint's identity, when the source is the endpoint.
    src_id: Option<&'a EndpointIdentity>,
    /// The endpoint's identity, when the destination is the endpoint.
    dst_id: Option<&'a EndpointIdentity>,
    src_bytes: u64,
    dst_bytes: u64,
    src_pkts: u64,
    dst_pkts: u64,
    transport: &'static str,
    direction_ecs: &'static str,
    direction_id: u8,
    title: String,
    tech_id: &'static str,
    tech_name: &'static str,
    /// The ATT&CK sub-technique (id, name), where one applies.
    sub_tech: Option<(&'static str, &'static str)>,
    analytic: (&'static str, &'static str),
    evidence: Value,
    sev: u8,
    version: &'static str,
}

impl Parts<'_> {
    fn of(a: &Alert) -> Parts<'_> {
        // Source/destination are connection roles (who opened it), as in OCSF and ECS.
        let (src, dst) = match a.direction {
            Direction::Inbound => (&a.peer, &a.endpoint),
            Direction::Outbound => (&a.endpoint, &a.peer),
        };
        let (src_info, dst_info) = match a.direction {
            Direction::Inbound => (Some(&a.peer_info), None),
            Direction::Outbound => (None, Some(&a.peer_info)),
        };
        let id = a.endpoint_identity.as_ref();
        let (src_id, dst_id) = match a.direction {
            Direction::Inbound => (None, id),
            Direction::Outbound => (id, None),
        };
        let (src_bytes, dst_bytes, src_pkts, dst_pkts) = match a.direction {
            Direction::Inbound => (a.bytes_in, a.bytes_out, a.packets_in, a.packets_out),
            Direction::Outbound => (a.bytes_out, a.bytes_in, a.packets_out, a.packets_in),
        };
        let transport = a.transport.name();
        let (direction_ecs, direction_id) = match a.direction {
            Direction::Inbound => ("inbound", 1),
            Direction::Outbound => ("outbound", 2),
        };
        let title = title(a);
        // MITRE ATT&CK (v17): remote access tools — hardware (an IP-KVM) or remote desktop
        // software —, protocol tunneling, or proxy.
        let (tech_id, tech_name, sub_tech) = match a.category {
            _ if a.kind == AlertKind::IpKvmSuspected || a.tool == Tool::IpKvm => {
                ("T1219", "Remote Access Tools", Some(("T1219.003", "Remote Access Hardware")))
            }
            Category::RemoteControl => ("T1219", "Remote Access Tools", Some(("T1219.002", "Remote Desktop Software"))),
            Category::Vpn | Category::Tunnel => ("T1572", "Protocol Tunneling", None),
            Category::Relay | Category::Proxy => ("T1090", "Proxy", None),
        };
        let analytic = a.detectors.first().map(|(n, v)| (*n, *v)).unwrap_or(("", ""));
        let evidence = serde_json::to_value(&a.evidence).unwrap_or(Value::Null);
        let version = env!("CARGO_PKG_VERSION");
        let sev = a.severity as u8;
        Parts {
            src,
            dst,
            src_info,
            dst_info,
            src_id,
            dst_id,
            src_bytes,
            dst_bytes,
            src_pkts,
            dst_pkts,
            transport,
            direction_ecs,
            direction_id,
            title,
            tech_id,
            tech_name,
            sub_tech,
            analytic,
            evidence,
            sev,
            version,
        }
    }
}

/// Renders an alert as the JSON object written by the JSON-lines sink: the OCSF Detection
/// Finding fields, the ECS fields and farhand's own (`unmapped.farhand`), in one object.
pub fn alert_json(a: &Alert, obs: &Observer) -> Value {
    let p = Parts::of(a);
    let mut v = ocsf(a, &p);
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), ecs(a, &p, obs)) {
        o.extend(e);
        o.insert("unmapped".into(), json!({ "farhand": farhand(a, &p) }));
    }
    v
}

/// ATT&CK version the technique names follow (v17 split T1219 into sub-techniques).
pub const ATTACK_VERSION: &str = "17";

/// The OCSF attack object: tactic, technique and, where one applies, sub-technique.
fn attack_ocsf(p: &Parts<'_>) -> Value {
    let mut v = json!({
        "technique": { "uid": p.tech_id, "name": p.tech_name },
        "tactic": { "uid": "TA0011", "name": "Command and Control" },
        "version": ATTACK_VERSION,
    });
    if let (Some((id, name)), Some(o)) = (p.sub_tech, v.as_object_mut()) {
        o.insert("sub_technique".into(), json!({ "uid": id, "name": name }));
    }
    v
}

/// ECS `threat.technique`, with `subtechnique` where one applies.
fn technique_ecs(p: &Parts<'_>) -> Value {
    let mut v = json!({ "id": [p.tech_id], "name": [p.tech_name] });
    if let (Some((id, name)), Some(o)) = (p.sub_tech, v.as_object_mut()) {
        o.insert("subtechnique".into(), json!({ "id": [id], "name": [name] }));
    }
    v
}

/// The OCSF Detection Finding fields.
fn ocsf(a: &Alert, p: &Parts<'_>) -> Value {
    let activity_id = match a.activity {
        Activity::Create => 1,
        Activity::Update => 2,
    };
    let confidence_id = match a.confidence {
        0 => 0,
        1..=49 => 1,
        50..=79 => 2,
        _ => 3,
    };
    let product = json!({ "name": "farhand", "vendor_name": "farhand", "version": p.version });
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "type_uid": 2004 * 100 + activity_id,
        "time": ms(a.time),
        "severity_id": p.sev,
        "severity": a.severity.caption(),
        "status_id": 1,
        "is_alert": true,
        "confidence_id": confidence_id,
        "confidence_score": a.confidence,
        "risk_score": u32::from(p.sev) * 20,
        "message": a.message,
        "metadata": {
            "product": product,
            "version": OCSF_VERSION,
            "uid": a.id,
        },
        "finding_info": {
            "uid": a.id,
            "title": p.title,
            "desc": a.message,
            "types": [a.kind.name()],
            "first_seen_time": ms(a.first_seen),
            "last_seen_time": ms(a.last_seen),
            "analytic": {
                "uid": format!("farhand.fingerprint.{}", p.analytic.0),
                "name": p.analytic.0,
                "type_id": 1,
                "type": "Rule",
                "version": p.analytic.1,
            },
            "attacks": [attack_ocsf(p)],
        },
        "src_endpoint": endpoint_ocsf(p.src, p.src_info, p.src_id),
        "dst_endpoint": endpoint_ocsf(p.dst, p.dst_info, p.dst_id),
        "connection_info": {
            "protocol_name": p.transport,
            "direction_id": p.direction_id,
            "direction": p.direction_ecs,
            "community_uid": a.community_id,
        },
        "traffic": {
            "bytes_out": p.src_bytes,
            "bytes_in": p.dst_bytes,
            "packets_out": p.src_pkts,
            "packets_in": p.dst_pkts,
            "bytes": p.src_bytes + p.dst_bytes,
            "packets": p.src_pkts + p.dst_pkts,
        },
        "evidences": [{
            "src_endpoint": endpoint_ocsf(p.src, p.src_info, p.src_id),
            "dst_endpoint": endpoint_ocsf(p.dst, p.dst_info, p.dst_id),
            "connection_info": { "protocol_name": p.transport, "direction_id": p.direction_id },
            "data": p.evidence,
        }],
    })
}

/// The ECS fields.
fn ecs(a: &Alert, p: &Parts<'_>, obs: &Observer) -> Value {
    json!({
        "@timestamp": rfc3339(a.time),
        "event": {
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "type": ["connection", "info"],
            "severity": p.sev,
            "risk_score": u32::from(p.sev) * 20,
            "id": a.id,
            "dataset": "farhand.alert",
            "action": a.kind.name(),
            "start": rfc3339(a.first_seen),
            "end": rfc3339(a.last_seen),
        },
        "source": endpoint_ecs(p.src, p.src_bytes, p.src_pkts, p.src_info, p.src_id),
        "destination": endpoint_ecs(p.dst, p.dst_bytes, p.dst_pkts, p.dst_info, p.dst_id),
        "network": {
            "transport": p.transport,
            "protocol": a.tool_name,
            "direction": p.direction_ecs,
            "community_id": a.community_id,
            "bytes": p.src_bytes + p.dst_bytes,
            "packets": p.src_pkts + p.dst_pkts,
            "vlan": if a.vlan == 0 { Value::Null } else { json!({ "id": (a.vlan & 0xfff).to_string() }) },
        },
        "rule": {
            "id": format!("farhand.{}.{}", a.kind.name(), a.tool_name),
            "name": p.title,
            "category": a.kind.name(),
            "version": p.analytic.1,
            "ruleset": "farhand",
        },
        "threat": {
            "framework": "MITRE ATT&CK",
            "technique": technique_ecs(p),
            "tactic": { "id": ["TA0011"], "name": ["Command and Control"] },
        },
        "observer": {
            "hostname": obs.name,
            "product": "farhand",
            "vendor": "farhand",
            "version": p.version,
            "type": "sensor",
        },
    })
}

/// farhand's own fields (`unmapped.farhand`).
fn farhand(a: &Alert, p: &Parts<'_>) -> Value {
    json!({
        "kind": a.kind.name(),
        "tool": a.tool_name,
        "category": a.category,
        "related_tools": a.related_tools,
        "confidence": a.confidence,
        "method": a.method,
        "endpoint": endpoint_farhand(a),
        "peer": {
            "ip": a.peer.ip.to_string(),
            "port": a.peer.port,
            "inside": a.peer.inside,
            "class": a.peer_info.class.name(),
            "country": a.peer_info.country,
            "asn": a.peer_info.asn,
            "org": a.peer_info.org,
            "owner": a.context.owner.as_ref().map(|o| json!({ "name": &*o.name, "kind": o.kind.name(), "by": o.by.as_str() })),
            "rtt_ms": a.context.peer_rtt_ms,
            "location_contradicted": a.context.physics.map(|p| p.contradicted),
        },
        "physics": a.context.physics.map(|p| json!({
            "rtt_ms": p.rtt_ms,
            "bound_km": p.bound_km,
            "least_distance_km": p.least_distance_km,
            "margin_km": p.margin_km,
            "contradicted": p.contradicted,
        })),
        "policy": {
            "stance": a.context.stance.map(|s| s.name()),
            "helpdesk_host": a.context.helpdesk,
            "allowlisted_endpoint": a.context.allowlisted,
            "sanctioned_tenant": a.context.tenant.as_deref(),
            "local_time": a.context.hours.as_ref().map(|h| h.local.to_string()),
            "business_hours": a.context.hours.as_ref().map(|h| h.within),
        },
        "episode": a.episode.as_ref().map(|e| json!({
            "score": e.score,
            "signs": e.signs.iter().map(|s| json!({ "sign": s.kind.name(), "points": s.points, "detail": s.detail })).collect::<Vec<_>>(),
            "tools": e.tools,
            "peers": e.peers,
            "countries": e.countries,
            "alerts": e.alerts,
            "sessions": e.sessions,
            "benign_sessions": e.benign,
        })),
        "abroad": a.abroad.as_ref().map(|ab| json!({
            "who": ab.who,
            "ip": ab.ip.to_string(),
            "country": ab.country,
            "asn": ab.asn,
            "org": ab.org,
            "by": ab.by,
            "least_distance_km": ab.distance_km.map(|d| d.0),
            "home_farthest_km": ab.distance_km.map(|d| d.1),
        })),
        "seen_addresses": a.seen_addresses.iter().map(|s| {
            let mut v = info_json(&s.info);
            if let Some(o) = v.as_object_mut() {
                o.insert("role".into(), json!(s.role));
                o.insert("ip".into(), json!(s.ip.to_string()));
                o.insert("port".into(), json!(s.port));
            }
            v
        }).collect::<Vec<_>>(),
        "direction": p.direction_ecs,
        "first_seen": rfc3339(a.first_seen),
        "last_seen": rfc3339(a.last_seen),
        "duration_ms": (a.last_seen.saturating_sub(a.first_seen)) / 1000,
        "bytes_in": a.bytes_in,
        "bytes_out": a.bytes_out,
        "packets_in": a.packets_in,
        "packets_out": a.packets_out,
        "handshake_us": {
            "syn": a.handshake[0],
            "syn_ack": a.handshake[1],
            "ack": a.handshake[2],
        },
        "end": a.end,
        "fingerprint": p.evidence,
        "via": a.via,
        "behaviour": a.behaviour.as_ref().map(|b| behaviour_json(b, a)),
        "detectors": a.detectors.iter().map(|(n, v)| json!({ "name": n, "version": v })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;
    use farhand_model::evidence::{Evidence, VncEvidence};
    use farhand_model::identity::{MacSource, NameSource, Sighting};
    use farhand_model::tool::Tool;
    use farhand_model::{Addr, Finding, FindingKind, HomeNets};

    const LAPTOP: [u8; 4] = [10, 41, 0, 120];
    const MAC: [u8; 6] = [0x02, 0x00, 0x0a, 0x29, 0x00, 0x42];

    /// A finding whose flow goes from `client` to `server`.
    fn finding(kind: FindingKind, client: ([u8; 4], u16), server: ([u8; 4], u16)) -> Finding {
        crate::testutil::finding_of(kind, client, server, 1_000_000)
    }

    fn vnc() -> FindingKind {
        FindingKind::RemoteControlSession(crate::testutil::matched(Tool::Vnc, Evidence::Vnc(VncEvidence::default())))
    }

    fn sighting(addr: Option<[u8; 4]>, names: &[(NameSource, &str)]) -> Finding {
        let s = Sighting {
            ts: 500_000,
            addr: addr.map(Addr::v4),
            mac: Some(MAC),
            mac_source: MacSource::Dhcp,
            names: names.iter().map(|(s, n)| (*s, n.to_string())).collect(),
        };
        finding(FindingKind::Sighting(s), ([0; 4], 68), ([255; 4], 67))
    }

    fn alerts(findings: &[Finding]) -> Vec<Value> {
        let mut v = Verdict::new(HomeNets::new(vec!["10.0.0.0/8".parse().unwrap()]));
        let mut out = Vec::new();
        for f in findings {
            v.judge(f, &mut out);
        }
        out.iter().map(|a| alert_json(a, &Observer::default())).collect()
    }

    #[test]
    fn the_endpoints_side_carries_its_mac_and_host_name() {
        let names = [(NameSource::DhcpHostname, "laptop-ab12"), (NameSource::DhcpFqdn, "laptop-ab12.corp.example")];
        let into = finding(vnc(), ([203, 0, 113, 9], 40000), (LAPTOP, 5900));
        let a = alerts(&[sighting(None, &names), sighting(Some(LAPTOP), &[]), into]);
        assert_eq!(a.len(), 1, "sightings raise no alert");
        let a = &a[0];
        // Inbound: the endpoint is the destination.
        assert_eq!(a["dst_endpoint"]["mac"], "02:00:0a:29:00:42");
        assert_eq!(a["dst_endpoint"]["hostname"], "laptop-ab12");
        assert_eq!(a["evidences"][0]["dst_endpoint"]["hostname"], "laptop-ab12");
        assert_eq!(a["destination"]["mac"], "02-00-0A-29-00-42");
        assert!(a["src_endpoint"].get("mac").is_none() && a["source"].get("mac").is_none());
        let e = &a["unmapped"]["farhand"]["endpoint"];
        assert_eq!(e["mac"], "02:00:0a:29:00:42");
        assert_eq!(e["hostname"], "laptop-ab12");
        assert_eq!(e["hostname_source"], "dhcp_hostname");
        assert_eq!(e["names"], json!(["laptop-ab12.corp.example"]));
        assert!(
            a["message"]
                .as_str()
                .unwrap()
                .contains("Endpoint 10.41.0.120 is laptop-ab12 (02:00:0a:29:00:42; host name from dhcp_hostname).")
        );
        // Outbound: the endpoint is the source.
        let out = finding(vnc(), (LAPTOP, 40000), ([203, 0, 113, 9], 5900));
        let a = alerts(&[sighting(Some(LAPTOP), &[]), out]);
        assert_eq!(a[0]["source"]["mac"], "02-00-0A-29-00-42");
        assert!(a[0]["src_endpoint"].get("hostname").is_none());
        assert!(a[0]["unmapped"]["farhand"]["endpoint"].get("hostname_source").is_none());
    }

    #[test]
    fn nothing_known_nothing_added() {
        let a = alerts(&[finding(vnc(), ([203, 0, 113, 9], 40000), (LAPTOP, 5900))]);
        for path in [&a[0]["dst_endpoint"], &a[0]["destination"], &a[0]["unmapped"]["farhand"]["endpoint"]] {
            for k in ["mac", "hostname", "hostname_source", "names"] {
                assert!(path.get(k).is_none(), "{k} in {path}");
            }
        }
        assert!(!a[0]["message"].as_str().unwrap().contains("Endpoint 10.41.0.120 is"));
    }

    #[test]
    fn transport_figures_are_named_by_leg() {
        use farhand_model::session::{FarEstimate, LatStats, LegEstimates, LegStats, Summary};
        let lat = |ms: f64| LatStats { n: 9, min_ms: ms, p10_ms: ms, p50_ms: ms, p90_ms: ms };
        let est = |ms: f64| FarEstimate { ms: Some(ms), agreeing: 8, of: 9, spread_ms: Some(1.0), status: "ok" };
        let summary = Summary {
            tool: Tool::Vnc,
            transport_rtt: LegStats { initiator: Some(lat(80.0)), responder: Some(lat(0.5)) },
            app_rtt_far: None,
            app_rtt_far_estimate: None,
            transport_rtt_estimate: LegEstimates { initiator: Some(est(81.0)), responder: Some(est(0.6)) },
            app_rtt_far_alternatives_ms: None,
            app_rtt_near: None,
            keystrokes: None,
            chain: None,
        };
        // Inbound: the initiator is the peer; outbound: the responder is.
        let inbound = (([203, 0, 113, 9], 40000), (LAPTOP, 5900), 81.0, 0.6, 80.0);
        let outbound = ((LAPTOP, 40000), ([203, 0, 113, 9], 5900), 0.6, 81.0, 0.5);
        for (client, server, peer_ms, endpoint_ms, peer_min_ms) in [inbound, outbound] {
            let mut f = finding(vnc(), client, server);
            f.behaviour = Some(summary.clone());
            let a = alerts(&[f]);
            let b = &a[0]["unmapped"]["farhand"]["behaviour"];
            assert_eq!(b["transport_rtt_estimate"]["peer_leg"]["ms"], json!(peer_ms), "{b}");
            assert_eq!(b["transport_rtt_estimate"]["endpoint_leg"]["ms"], json!(endpoint_ms), "{b}");
            assert_eq!(b["transport_rtt_ms"]["peer_leg"]["min_ms"], json!(peer_min_ms), "{b}");
        }
    }
}
