//! Where a session's far side is and what the deployment's policy says of it: the owner of
//! the peer, the physics check of its geolocation, the policy's view of the session, and the
//! `remote_control_from_abroad` judgement.
//!
//! # Contract
//! - [`Context`] is computed for every session alert from enrichment, the ownership lists,
//!   the sensor's location and the policy. It decides nothing by itself.
//! - The **peer's round trip** is the smallest transport RTT between the sensor and the peer:
//!   the smaller of the timing follower's peer leg (0.1 ms resolution) and the TCP handshake
//!   (the SYN/ACK → ACK interval for a session the peer opened, SYN → SYN/ACK for one the
//!   endpoint opened; microseconds). The sensor sits at the gateway, beside the endpoint.
//! - **Physics**: with a sensor location, a public peer with a country and a round trip,
//!   [`crate::physics::check`] says whether the country is reachable in that time. A
//!   contradicted country is not trusted: it never makes a session "from abroad".
//! - **Benign by policy**: a peer that is a helpdesk host, a session naming a sanctioned
//!   tenant, or an allowlisted endpoint. Such sessions are informational and never "from
//!   abroad"; a sanctioned tool is informational unless the session is from abroad; a
//!   forbidden tool's inbound session is High, outbound Medium.
//! - **From abroad** ([`abroad`]) needs home countries in the policy and a remote-control
//!   session that is not benign. It holds when one of these is outside the home countries:
//!   the visible peer's trusted country (the controller, or the relay it comes through), a
//!   TURN peer or relayed address the session's STUN/TURN messages name; or when the relay
//!   latency gap puts the controller farther from the sensor than any point of the home
//!   countries (with a sensor location: the gap's least extra distance minus the relay's
//!   farthest possible distance exceeds the home countries' farthest point by
//!   [`crate::physics::MARGIN_KM`]).

use std::sync::Arc;

use farhand_model::owner::{OwnerMatch, Owners};
use farhand_model::tool::Category;
use farhand_model::{Direction, Micros};

use super::{Alert, AlertKind, Severity};
use crate::enrich::special::AddrClass;
use crate::physics::{self, Location, PhysicsCheck};
use crate::policy::{HoursCheck, Policy, Stance};

/// What the verdict knows of a session's far side and the policy's view of it.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Who holds the peer's network, from the ownership lists.
    pub owner: Option<OwnerMatch>,
    /// The smallest transport round trip between the sensor and the peer, ms.
    pub peer_rtt_ms: Option<f64>,
    /// The physics check of the peer's country.
    pub physics: Option<PhysicsCheck>,
    /// The policy's stance on the tool.
    pub stance: Option<Stance>,
    /// The peer is a helpdesk host.
    pub helpdesk: bool,
    /// The endpoint is allowlisted.
    pub allowlisted: bool,
    /// The sanctioned tenant a session name matched.
    pub tenant: Option<String>,
    /// The session's start against business hours, on the deployment's clocks.
    pub hours: Option<HoursCheck>,
}

impl Context {
    /// Benign by policy (module contract).
    pub fn benign(&self) -> bool {
        self.helpdesk || self.allowlisted || self.tenant.is_some()
    }

    /// The peer's country, unless physics contradicts it.
    pub fn location_contradicted(&self) -> bool {
        self.physics.is_some_and(|p| p.contradicted)
    }
}

/// What the verdict holds to build a [`Context`].
pub struct Inputs<'a> {
    /// The ownership lists.
    pub owners: &'a Owners,
    /// The policy.
    pub policy: &'a Policy,
    /// Where the sensor is.
    pub location: Option<&'a Location>,
}

/// The smallest transport round trip to the peer (module contract), ms.
pub fn peer_rtt_ms(a: &Alert) -> Option<f64> {
    let leg = a.behaviour.as_ref().and_then(|b| match a.direction {
        Direction::Inbound => b.transport_rtt.initiator,
        Direction::Outbound => b.transport_rtt.responder,
    });
    let leg = leg.filter(|l| l.n > 0).map(|l| l.min_ms);
    let [syn, syn_ack, ack] = a.handshake;
    let us: Option<Micros> = match a.direction {
        Direction::Inbound if syn_ack > 0 && ack >= syn_ack => Some(ack - syn_ack),
        Direction::Outbound if syn > 0 && syn_ack >= syn => Some(syn_ack - syn),
        _ => None,
    };
    // Display figure: microseconds to milliseconds.
    #[allow(clippy::cast_precision_loss)]
    let handshake = us.map(|u| u as f64 / 1000.0);
    match (leg, handshake) {
        // The follower's figures have 0.1 ms resolution: below it, the handshake's
        // microseconds say more.
        (Some(l), Some(h)) if l < 0.1 => Some(h.min(0.1)),
        (Some(l), Some(h)) => Some(l.min(h)),
        (l, h) => l.or(h),
    }
}

/// The context of a session alert (module contract).
pub fn context(a: &Alert, names: &[&str], inp: &Inputs<'_>) -> Context {
    let owner = inp.owners.lookup(a.peer.ip.ip(), a.peer_info.asn);
    let peer_rtt_ms = peer_rtt_ms(a);
    let physics = match (inp.location, a.peer_info.class, &a.peer_info.country, peer_rtt_ms) {
        (Some(loc), AddrClass::Public, Some(cc), Some(rtt)) => physics::check(loc, cc, rtt),
        _ => None,
    };
    let p = inp.policy;
    Context {
        owner,
        peer_rtt_ms,
        physics,
        stance: Some(p.stance(&a.tool_name)),
        helpdesk: p.is_helpdesk(a.peer.ip),
        allowlisted: p.is_allowlisted(a.endpoint.ip),
        tenant: p.sanctioned_tenant(names.iter().copied()).map(str::to_string),
        hours: p.in_business_hours(a.first_seen),
    }
}

/// The severity of a session alert after the policy (module contract); `abroad` is whether
/// the session is from abroad.
pub fn policy_severity(a: &Alert, ctx: &Context, abroad: bool) -> Severity {
    let session = matches!(a.kind, AlertKind::RemoteControlSession | AlertKind::AnonymizingTunnel);
    if !session {
        return a.severity;
    }
    if ctx.benign() {
        return Severity::Informational;
    }
    match ctx.stance {
        Some(Stance::Sanctioned) if !abroad => Severity::Informational,
        Some(Stance::Forbidden) if a.category == Category::RemoteControl => match a.direction {
            Direction::Inbound => Severity::High,
            Direction::Outbound => a.severity.max(Severity::Medium),
        },
        _ => a.severity,
    }
}

/// Why a session is from abroad.
#[derive(Debug, Clone, PartialEq)]
pub struct Abroad {
    /// Who is abroad: `controller` (the visible peer of a session into the endpoint),
    /// `relay` (the visible peer of a session the endpoint opened to a relay), `turn_peer`,
    /// `turn_relay`, or `controller_beyond_relay` (by the relay gap's distance).
    pub who: &'static str,
    /// Its address (the visible peer's for the relay-gap reason).
    pub ip: std::net::IpAddr,
    /// Its country (none for the relay-gap reason when the relay's is unknown).
    pub country: Option<String>,
    /// Its AS number.
    pub asn: Option<u32>,
    /// Its organisation.
    pub org: Option<String>,
    /// `country` or `relay_gap_distance`.
    pub by: &'static str,
    /// For the relay-gap reason: the least distance (km) of the controller from the sensor,
    /// and the farthest point of the home countries.
    pub distance_km: Option<(f64, f64)>,
}

/// Whether a session is from abroad, and why (module contract). `has_rc` says whether the
/// endpoint had a remote-control session in the window (a STUN/TURN relay counts only then).
pub fn abroad(a: &Alert, ctx: &Context, policy: &Policy, location: Option<&Location>, has_rc: bool) -> Option<Abroad> {
    if !policy.judges_countries() || ctx.benign() {
        return None;
    }
    let rc = a.category == Category::RemoteControl && a.kind == AlertKind::RemoteControlSession;
    let turn = a.category == Category::Relay && has_rc;
    if !rc && !turn {
        return None;
    }
    let foreign = |cc: &Option<String>| cc.as_deref().is_some_and(|c| !policy.is_home_country(c));
    if rc && a.peer_info.class == AddrClass::Public && foreign(&a.peer_info.country) && !ctx.location_contradicted() {
        return Some(Abroad {
            who: if a.direction == Direction::Inbound { "controller" } else { "relay" },
            ip: a.peer.ip.ip(),
            country: a.peer_info.country.clone(),
            asn: a.peer_info.asn,
            org: a.peer_info.org.clone(),
            by: "country",
            distance_km: None,
        });
    }
    for s in &a.seen_addresses {
        let who = match s.role {
            "xor_peer" => "turn_peer",
            "xor_relayed" => "turn_relay",
            _ => continue,
        };
        if s.info.class == AddrClass::Public && foreign(&s.info.country) {
            return Some(Abroad {
                who,
                ip: s.ip,
                country: s.info.country.clone(),
                asn: s.info.asn,
                org: s.info.org.clone(),
                by: "country",
                distance_km: None,
            });
        }
    }
    beyond_home_by_gap(a, ctx, policy, location?)
}

/// The relay-gap reason of [`abroad`] (module contract).
fn beyond_home_by_gap(a: &Alert, ctx: &Context, policy: &Policy, location: &Location) -> Option<Abroad> {
    let g = a.gap.as_ref().filter(|g| g.relayed)?;
    if a.direction != Direction::Inbound {
        return None;
    }
    // The relay is at most rtt × 100 km from the sensor; the controller at least the gap's
    // least extra distance beyond the relay.
    let relay_km = ctx.peer_rtt_ms.unwrap_or(0.0) * physics::KM_PER_MS_RTT;
    #[allow(clippy::cast_precision_loss)]
    let least_km = g.extra_distance_km.0 as f64 - relay_km;
    let farthest_home = policy
        .home_countries()
        .map(|cc| physics::farthest_distance_km(location, cc))
        .collect::<Option<Vec<f64>>>()?
        .into_iter()
        .fold(0.0_f64, f64::max);
    (least_km > farthest_home + physics::MARGIN_KM).then(|| Abroad {
        who: "controller_beyond_relay",
        ip: a.peer.ip.ip(),
        country: a.peer_info.country.clone(),
        asn: a.peer_info.asn,
        org: a.peer_info.org.clone(),
        by: "relay_gap_distance",
        distance_km: Some((least_km, farthest_home)),
    })
}

/// The ownership lists shared by the verdict (empty when none are given).
pub fn no_owners() -> Arc<Owners> {
    Arc::new(Owners::default())
}

/// One sentence on the peer's place and owner for an alert's message ("" when nothing is
/// known): country, AS and organisation, owner, and a physics contradiction.
pub fn peer_sentence(a: &Alert, ctx: &Context) -> String {
    let i = &a.peer_info;
    if i.class != AddrClass::Public {
        return format!(" Peer {} is a {} address.", a.peer.ip, i.class.name().replace('_', "-"));
    }
    let mut parts = Vec::new();
    if let Some(c) = &i.country {
        parts.push(format!("in {c}"));
    }
    match (i.asn, &i.org) {
        (Some(n), Some(o)) => parts.push(format!("AS{n} {o}")),
        (Some(n), None) => parts.push(format!("AS{n}")),
        _ => {}
    }
    if let Some(o) = &ctx.owner {
        parts.push(format!("listed as {} ({})", o.kind.name().replace('_', " "), o.name));
    }
    let mut s = if parts.is_empty() { String::new() } else { format!(" Peer {}: {}.", a.peer.ip, parts.join(", ")) };
    if let Some(p) = ctx.physics.filter(|p| p.contradicted) {
        s.push_str(&format!(
            " Location contradicted: the {:.3} ms round trip to {} allows at most {:.0} km, but {} is at least \
             {:.0} km from the sensor — a VPN exit, an anycast relay or a wrong database entry; its country is not \
             trusted.",
            p.rtt_ms,
            a.peer.ip,
            p.bound_km,
            i.country.as_deref().unwrap_or("its country"),
            p.least_distance_km
        ));
    }
    s
}

/// One sentence on the policy's view ("" when it changes nothing worth saying).
pub fn policy_sentence(ctx: &Context) -> String {
    let mut parts = Vec::new();
    if ctx.helpdesk {
        parts.push("the peer is a helpdesk host".to_string());
    }
    if ctx.allowlisted {
        parts.push("the endpoint is allowlisted".to_string());
    }
    if let Some(t) = &ctx.tenant {
        parts.push(format!("the session names the sanctioned tenant {t}"));
    }
    match ctx.stance {
        Some(Stance::Sanctioned) => parts.push("the tool is sanctioned".to_string()),
        Some(Stance::Forbidden) => parts.push("the tool is forbidden".to_string()),
        _ => {}
    }
    if let Some(h) = ctx.hours.as_ref().filter(|h| !h.within) {
        parts.push(format!("it began at {}, outside business hours", h.local));
    }
    if parts.is_empty() { String::new() } else { format!(" Policy: {}.", parts.join("; ")) }
}

/// The one-paragraph explanation of a `remote_control_from_abroad` alert: who is abroad,
/// where, by which measurement, and what else the session showed.
pub fn abroad_message(a: &Alert, ab: &Abroad, policy: &Policy) -> String {
    let home: Vec<&str> = policy.home_countries().collect();
    let owner = |asn: Option<u32>, org: &Option<String>| match (asn, org) {
        (Some(n), Some(o)) => format!(" (AS{n} {o})"),
        (Some(n), None) => format!(" (AS{n})"),
        _ => String::new(),
    };
    let who = match ab.who {
        "controller" => "the controller",
        "relay" => "the relay it connects through",
        "turn_peer" => "the TURN peer (the far end the relay talks to)",
        "turn_relay" => "the TURN relay",
        _ => "the controller",
    };
    let dir = match a.direction {
        Direction::Inbound => format!("into {}", a.endpoint.ip),
        Direction::Outbound => format!("from {}", a.endpoint.ip),
    };
    let mut m = match (ab.by, ab.distance_km) {
        ("relay_gap_distance", Some((least, farthest))) => format!(
            "{tool} session {dir} is controlled from abroad: the relay latency gap puts {who} at least {least:.0} km \
             from the sensor, beyond every point of the home countries ({home}, at most {farthest:.0} km away); \
             {peer}{own} is only the relay.",
            tool = a.tool_title,
            home = home.join(", "),
            peer = ab.ip,
            own = owner(ab.asn, &ab.org),
        ),
        _ => format!(
            "{tool} session {dir} is controlled from abroad: {who}, {ip}{own}, is in {cc}, outside the home \
             countries ({home}).",
            tool = a.tool_title,
            ip = ab.ip,
            own = owner(ab.asn, &ab.org),
            cc = ab.country.as_deref().unwrap_or("?"),
            home = home.join(", "),
        ),
    };
    if let Some(o) = &a.context.owner {
        m.push_str(&format!(" The network is listed as {} ({}).", o.kind.name().replace('_', " "), o.name));
    }
    if let Some(p) = a.context.physics.filter(|p| !p.contradicted) {
        m.push_str(&format!(
            " The {:.1} ms round trip to it is consistent with that country (at most {:.0} km; the country is at \
             least {:.0} km away).",
            p.rtt_ms, p.bound_km, p.least_distance_km
        ));
    }
    if let Some(g) = a.gap.as_ref().filter(|g| g.relayed) {
        m.push_str(&format!(
            " The relay latency gap of {:.1} ms puts the hand on the keyboard {}-{} km beyond {}.",
            g.gap_ms, g.extra_distance_km.0, g.extra_distance_km.1, a.peer.ip
        ));
    }
    if let Some(k) = a.behaviour.as_ref().and_then(|b| b.keystrokes.as_ref()).filter(|k| k.keys > 0) {
        m.push_str(&format!(" {} keystrokes were typed ({} rhythm).", k.keys, k.rhythm.replace('_', " ")));
    }
    if let Some(h) = a.context.hours.as_ref() {
        let when = if h.within { "inside" } else { "outside" };
        m.push_str(&format!(" It began at {}, {when} business hours.", h.local));
    }
    m
}

/// For a relayed session: where the visible peer (the relay) is by the databases, and how the
/// gap's distance band compares with it ("" when its country is unknown).
pub fn gap_place_sentence(a: &Alert, g: &crate::relay_latency::Gap) -> String {
    let Some(cc) = a.peer_info.country.as_deref().filter(|_| a.peer_info.class == AddrClass::Public) else {
        return String::new();
    };
    let (lo, hi) = g.extra_distance_km;
    let mut s = format!(" The relay {} is geolocated in {cc}", a.peer.ip);
    match a.context.physics {
        Some(p) if p.contradicted => s.push_str(&format!(
            ", which its {:.1} ms round trip contradicts (at least {:.0} km away, at most {:.0} km reachable)",
            p.rtt_ms, p.least_distance_km, p.bound_km
        )),
        Some(p) => s.push_str(&format!(" (at least {:.0} km from the sensor)", p.least_distance_km)),
        None => {}
    }
    s.push_str(&format!("; the hand on the keyboard is {lo}-{hi} km beyond it."));
    s
}
