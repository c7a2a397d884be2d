//! Episodes: everything one endpoint showed while it was being driven remotely, in one alert
//! that is updated as the evidence grows.
//!
//! # Contract
//! - Every alert the verdict raises is offered to [`Episodes::observe`]. Per endpoint it
//!   keeps an episode: the signs seen (each kind of sign once, at its highest weight), the
//!   tools, peers and countries, and the first and last time. An episode ends after
//!   [`EPISODE_GAP`] without an alert; the next alert starts a new one (a new id).
//! - The **score** is the sum of the signs' weights ([`Weight`], documented in README.md),
//!   at most 100. Sessions the policy calls benign (helpdesk host, sanctioned tenant,
//!   allowlisted endpoint) and sanctioned tools add no weight; they are listed as such.
//! - An episode alert (`remote_control_episode`) is raised once the endpoint has been
//!   remote controlled (a remote-control session into it that is not benign, a stepping
//!   stone, or an IP-KVM at Medium or above) and its score reaches [`REPORT_FROM`] (Medium:
//!   a session alone, or with ordinary companions, does not make an episode); it is
//!   raised again (activity Update, same id) whenever a new kind of sign, a new tool or a new
//!   country joins it. Its severity follows the score: below 20 Informational, then Low,
//!   Medium from 40, High from 60, Critical from 80.
//! - Its message is one paragraph for an analyst who has never seen farhand: who, when (UTC
//!   and the deployment's local time), with what, from where, and the score with each
//!   sign's weight and measurement.
//! - Memory is bounded: at most [`MAX_EPISODES`] endpoints (the least recently active are
//!   forgotten first) and [`MAX_ITEMS`] tools, peers or countries per episode.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use farhand_model::owner::OwnerKind;
use farhand_model::tool::Category;
use farhand_model::{Addr, Direction, Micros};

use super::{Activity, Alert, AlertKind, Severity, alert_id};
use crate::policy::{Policy, Stance};

/// Quiet time after which an endpoint's episode ends.
pub const EPISODE_GAP: Micros = 12 * 3600 * 1_000_000;
/// Score from which an episode alert is raised.
pub const REPORT_FROM: u8 = 40;
/// Endpoints with an open episode, at most.
pub const MAX_EPISODES: usize = 50_000;
/// Tools, peers or countries kept per episode, at most.
pub const MAX_ITEMS: usize = 16;

/// The kinds of sign an episode weighs, and their weights (README.md "From abroad, and the
/// episode").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weight {
    /// A controller, relay or TURN peer outside the home countries, or a relay gap that puts
    /// the controller beyond them: 30.
    Abroad,
    /// The endpoint's own outbound session typed by the remote controller: 25.
    SteppingStone,
    /// A relay latency gap beyond the threshold (the controller is beyond a relay): 20.
    Relayed,
    /// An IP-KVM-class device (High: 20, Medium: 10).
    IpKvm,
    /// A forbidden tool: 15.
    ForbiddenTool,
    /// The peer's network is a VPN, Tor exit or residential proxy: 15; hosting: 5.
    AnonymousNetwork,
    /// A remote-control session into the endpoint: 10.
    RemoteControl,
    /// Two or more remote-control tools: 10.
    SeveralTools,
    /// A VPN, tunnel or proxy from the endpoint: 10.
    Tunnel,
    /// A peer whose geolocation the round trip contradicts (its real place is hidden): 10.
    LocationContradicted,
    /// Remote control that began outside business hours on the deployment's clocks: 10.
    OffHours,
    /// Keystrokes with a human rhythm in a session into the endpoint: 5.
    HumanTyping,
}

impl Weight {
    /// Stable name (the `sign` field of the alert).
    pub fn name(self) -> &'static str {
        match self {
            Weight::Abroad => "abroad",
            Weight::SteppingStone => "stepping_stone",
            Weight::Relayed => "relayed",
            Weight::IpKvm => "ip_kvm",
            Weight::ForbiddenTool => "forbidden_tool",
            Weight::AnonymousNetwork => "anonymous_network",
            Weight::RemoteControl => "remote_control",
            Weight::SeveralTools => "several_tools",
            Weight::Tunnel => "tunnel",
            Weight::LocationContradicted => "location_contradicted",
            Weight::OffHours => "off_hours",
            Weight::HumanTyping => "human_typing",
        }
    }
}

/// One sign of an episode: its weight and the measurement behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sign {
    /// What kind of sign.
    pub kind: Weight,
    /// Points it adds.
    pub points: u8,
    /// The measurement, in words.
    pub detail: String,
}

/// What an episode alert reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeView {
    /// 0–100.
    pub score: u8,
    /// The signs, highest points first.
    pub signs: Vec<Sign>,
    /// Remote-control and tunnel tools seen.
    pub tools: Vec<String>,
    /// Peers (address and country, when known).
    pub peers: Vec<String>,
    /// Countries of the peers.
    pub countries: Vec<String>,
    /// Alerts that fed the episode.
    pub alerts: u64,
    /// Remote-control and tunnel sessions among them.
    pub sessions: u64,
    /// Sessions the policy called benign (no points).
    pub benign: u64,
}

/// One endpoint's episode.
#[derive(Debug, Clone)]
struct Episode {
    id: String,
    first: Micros,
    last: Micros,
    signs: BTreeMap<Weight, Sign>,
    tools: BTreeSet<String>,
    peers: BTreeSet<String>,
    countries: BTreeSet<String>,
    controlled: bool,
    alerts: u64,
    sessions: u64,
    benign: u64,
    /// What the last episode alert reported: (signs, tools, countries); `None`: none yet.
    reported: Option<(usize, usize, usize)>,
}

/// The per-endpoint episodes (module contract).
#[derive(Debug, Default)]
pub struct Episodes {
    open: HashMap<Addr, Episode>,
}

impl Episodes {
    /// Endpoints with an open episode.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Takes in the alerts `out[start..]` (just raised); appends an episode alert when an
    /// endpoint's episode is due one (module contract).
    /// At most one episode alert per endpoint and call: the state after all of them.
    pub fn observe(&mut self, start: usize, out: &mut Vec<Alert>, policy: &Policy) {
        // The alerts are read where they stand: (endpoint, index of its last alert).
        let mut touched: Vec<(Addr, usize)> = Vec::new();
        for (i, a) in out.iter().enumerate().skip(start) {
            if a.kind != AlertKind::RemoteControlEpisode {
                let key = episode_key(a);
                self.take_in(key, a);
                touched.retain(|(k, _)| *k != key);
                touched.push((key, i));
            }
        }
        let due: Vec<Alert> =
            touched.into_iter().filter_map(|(key, i)| out.get(i).and_then(|a| self.due(key, a, policy))).collect();
        out.extend(due);
    }

    /// The episode alert of `key`'s episode if one is due, the last alert `a` its trigger.
    fn due(&mut self, key: Addr, a: &Alert, policy: &Policy) -> Option<Alert> {
        let ep = self.open.get_mut(&key)?;
        let score = ep.score();
        let shape = (ep.signs.len(), ep.tools.len(), ep.countries.len());
        if !ep.controlled || score < REPORT_FROM || ep.reported == Some(shape) {
            return None;
        }
        let activity = if ep.reported.is_some() { Activity::Update } else { Activity::Create };
        ep.reported = Some(shape);
        Some(episode_alert(key, a, ep, activity, policy))
    }

    fn take_in(&mut self, key: Addr, a: &Alert) {
        let now = a.last_seen.max(a.time);
        if self.open.get(&key).is_some_and(|e| a.first_seen.saturating_sub(e.last) > EPISODE_GAP) {
            self.open.remove(&key);
        }
        if self.open.len() >= MAX_EPISODES && !self.open.contains_key(&key) {
            self.forget_oldest();
        }
        let ep = self.open.entry(key).or_insert_with(|| Episode {
            id: alert_id(&format!("episode-{key}"), a.first_seen, a.tool),
            first: a.first_seen,
            last: now,
            signs: BTreeMap::new(),
            tools: BTreeSet::new(),
            peers: BTreeSet::new(),
            countries: BTreeSet::new(),
            controlled: false,
            alerts: 0,
            sessions: 0,
            benign: 0,
            reported: None,
        });
        ep.first = ep.first.min(a.first_seen);
        ep.last = ep.last.max(now);
        ep.alerts += 1;
        if matches!(a.kind, AlertKind::RemoteControlSession | AlertKind::AnonymizingTunnel) {
            ep.sessions += 1;
        }
        weigh(ep, a);
    }

    fn forget_oldest(&mut self) {
        let tenth = (self.open.len() / 10).max(1);
        let mut by_age: Vec<(Micros, Addr)> = self.open.iter().map(|(k, e)| (e.last, *k)).collect();
        by_age.sort_unstable();
        for (_, k) in by_age.into_iter().take(tenth) {
            self.open.remove(&k);
        }
    }
}

impl Episode {
    fn score(&self) -> u8 {
        let sum: u32 = self.signs.values().map(|s| u32::from(s.points)).sum();
        u8::try_from(sum.min(100)).unwrap_or(100)
    }

    fn view(&self) -> EpisodeView {
        let mut signs: Vec<Sign> = self.signs.values().cloned().collect();
        signs.sort_by(|a, b| b.points.cmp(&a.points).then(a.kind.cmp(&b.kind)));
        EpisodeView {
            score: self.score(),
            signs,
            tools: self.tools.iter().cloned().collect(),
            peers: self.peers.iter().cloned().collect(),
            countries: self.countries.iter().cloned().collect(),
            alerts: self.alerts,
            sessions: self.sessions,
            benign: self.benign,
        }
    }

    /// Adds a sign, keeping the higher weight of a kind already seen; at equal weight the
    /// newer measurement replaces the older.
    fn sign(&mut self, kind: Weight, points: u8, detail: String) {
        match self.signs.get(&kind) {
            Some(s) if s.points > points => {}
            _ => {
                self.signs.insert(kind, Sign { kind, points, detail });
            }
        }
    }
}

fn bounded_insert(set: &mut BTreeSet<String>, v: String) {
    if set.len() < MAX_ITEMS || set.contains(&v) {
        set.insert(v);
    }
}

/// Whose episode an alert belongs to: its endpoint; for a stepping stone, the host whose
/// own session was typed from afar (the driven session's client).
fn episode_key(a: &Alert) -> Addr {
    match (a.kind, a.direction) {
        (AlertKind::InteractiveRelayChain, Direction::Inbound) => a.peer.ip,
        _ => a.endpoint.ip,
    }
}

/// The signs one alert brings to its endpoint's episode (module contract, README weights).
fn weigh(ep: &mut Episode, a: &Alert) {
    let ctx = &a.context;
    let rc_in = a.category == Category::RemoteControl && a.direction == Direction::Inbound;
    if ctx.benign() || ctx.stance == Some(Stance::Sanctioned) && a.abroad.is_none() {
        if a.kind == AlertKind::RemoteControlSession {
            ep.benign += 1;
        }
        return;
    }
    if matches!(a.kind, AlertKind::RemoteControlSession | AlertKind::AnonymizingTunnel) {
        bounded_insert(&mut ep.tools, a.tool_name.clone());
        // A country the round trip contradicts is not the peer's: named as such, not counted.
        let peer = match (&a.peer_info.country, ctx.location_contradicted()) {
            (Some(c), false) => format!("{} ({c})", a.peer.ip),
            (Some(c), true) => format!("{} (not in {c}: location contradicted)", a.peer.ip),
            (None, _) => a.peer.ip.to_string(),
        };
        bounded_insert(&mut ep.peers, peer);
        if let Some(c) = a.peer_info.country.as_ref().filter(|_| !ctx.location_contradicted()) {
            bounded_insert(&mut ep.countries, c.clone());
        }
    }
    match a.kind {
        AlertKind::RemoteControlSession if rc_in && a.tool != farhand_model::Tool::IpKvm => {
            ep.controlled = true;
            ep.sign(Weight::RemoteControl, 10, format!("{} session from {}", a.tool_title, a.peer.ip));
        }
        AlertKind::AnonymizingTunnel if a.category != Category::Relay => {
            ep.sign(Weight::Tunnel, 10, format!("{} to {}", a.tool_title, a.peer.ip));
        }
        AlertKind::RemoteControlFromAbroad => {
            ep.controlled = true;
            if let Some(ab) = &a.abroad {
                let place = match (&ab.country, ab.distance_km) {
                    (_, Some((least, _))) => format!("at least {least:.0} km away by the relay gap"),
                    (Some(c), None) => format!("in {c}"),
                    (None, None) => "abroad".to_string(),
                };
                let asn = ab.asn.map(|n| format!(", AS{n}")).unwrap_or_default();
                ep.sign(Weight::Abroad, 30, format!("{} {}{asn} {place}", ab.who.replace('_', " "), ab.ip));
                if let Some(c) = &ab.country {
                    bounded_insert(&mut ep.countries, c.clone());
                }
            }
        }
        AlertKind::RelayedRemoteControl => {
            ep.controlled = true;
            if let Some(g) = &a.gap {
                let (lo, hi) = g.extra_distance_km;
                ep.sign(
                    Weight::Relayed,
                    20,
                    format!("relay gap {:.1} ms: {lo}-{hi} km beyond {}", g.gap_ms, a.peer.ip),
                );
            }
        }
        AlertKind::InteractiveRelayChain => {
            ep.controlled = true;
            // The driven session's server: the chain alert's endpoint when it reads inbound.
            let target = if a.direction == Direction::Inbound { a.endpoint.ip } else { a.peer.ip };
            ep.sign(
                Weight::SteppingStone,
                25,
                format!("its own {} session to {target} typed by the controller", a.tool_title),
            );
        }
        AlertKind::MultipleRemoteTools => {
            ep.sign(
                Weight::SeveralTools,
                10,
                format!("{} tools: {}", a.related_tools.len(), a.related_tools.join(", ")),
            );
        }
        AlertKind::IpKvmSuspected if a.severity >= Severity::Medium => {
            ep.controlled = true;
            let points = if a.severity >= Severity::High { 20 } else { 10 };
            ep.sign(Weight::IpKvm, points, format!("IP-KVM-class device ({})", a.severity.caption()));
        }
        _ => {}
    }
    if rc_in && a.kind == AlertKind::RemoteControlSession {
        weigh_session(ep, a);
    }
}

/// The signs of a remote-control session into the endpoint beyond its kind.
fn weigh_session(ep: &mut Episode, a: &Alert) {
    let ctx = &a.context;
    if ctx.stance == Some(Stance::Forbidden) {
        ep.sign(Weight::ForbiddenTool, 15, format!("{} is forbidden by policy", a.tool_title));
    }
    match ctx.owner.as_ref().map(|o| (o.kind, o.name.clone())) {
        Some((k @ (OwnerKind::Vpn | OwnerKind::TorExit | OwnerKind::ResidentialProxy), n)) => {
            ep.sign(
                Weight::AnonymousNetwork,
                15,
                format!("{} is a {} address ({n})", a.peer.ip, k.name().replace('_', " ")),
            );
        }
        Some((OwnerKind::Hosting, n)) => {
            ep.sign(Weight::AnonymousNetwork, 5, format!("{} is a hosting address ({n})", a.peer.ip));
        }
        _ => {}
    }
    if ctx.location_contradicted() {
        let p = ctx.physics.map(|p| (p.rtt_ms, p.least_distance_km)).unwrap_or_default();
        ep.sign(
            Weight::LocationContradicted,
            10,
            format!("{} answers in {:.3} ms but its country is at least {:.0} km away", a.peer.ip, p.0, p.1),
        );
    }
    if let Some(h) = ctx.hours.as_ref().filter(|h| !h.within) {
        ep.sign(Weight::OffHours, 10, format!("began at {}", h.local));
    }
    if let Some(k) = a.behaviour.as_ref().and_then(|b| b.keystrokes.as_ref()).filter(|k| k.rhythm == "human") {
        let iki = k.iki_median_ms.map(|m| format!(", median interval {m:.0} ms")).unwrap_or_default();
        ep.sign(Weight::HumanTyping, 5, format!("{} keystrokes typed by a person{iki}", k.keys));
    }
}

/// The severity of an episode of `score`.
pub fn severity(score: u8) -> Severity {
    match score {
        0..=19 => Severity::Informational,
        20..=39 => Severity::Low,
        40..=59 => Severity::Medium,
        60..=79 => Severity::High,
        _ => Severity::Critical,
    }
}

fn episode_alert(key: Addr, a: &Alert, ep: &Episode, activity: Activity, policy: &Policy) -> Alert {
    let view = ep.view();
    let mut e = a.clone();
    if key != e.endpoint.ip {
        // The stepping stone's episode, triggered by its own outbound session: seen from it.
        std::mem::swap(&mut e.endpoint, &mut e.peer);
        e.direction = match e.direction {
            Direction::Inbound => Direction::Outbound,
            Direction::Outbound => Direction::Inbound,
        };
        std::mem::swap(&mut e.bytes_in, &mut e.bytes_out);
        std::mem::swap(&mut e.packets_in, &mut e.packets_out);
        e.endpoint_identity = None;
    }
    e.kind = AlertKind::RemoteControlEpisode;
    e.id = ep.id.clone();
    e.activity = activity;
    e.severity = severity(view.score);
    e.confidence = view.score;
    e.first_seen = ep.first;
    e.last_seen = ep.last;
    e.related_tools = view.tools.clone();
    e.message = explain(&e, ep, &view, policy);
    e.episode = Some(view);
    e
}

fn utc(us: Micros) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(us);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.replace('T', " ").replace('Z', " UTC")
}

/// The episode's one paragraph (module contract).
fn explain(a: &Alert, ep: &Episode, v: &EpisodeView, policy: &Policy) -> String {
    let who = match &a.endpoint_identity {
        Some(id) => match (&id.hostname, &id.mac) {
            (Some((h, _)), _) => format!("Endpoint {} ({h})", a.endpoint.ip),
            (None, Some(m)) => format!("Endpoint {} ({})", a.endpoint.ip, farhand_model::identity::mac_text(m)),
            _ => format!("Endpoint {}", a.endpoint.ip),
        },
        None => format!("Endpoint {}", a.endpoint.ip),
    };
    let local = policy.local_time(ep.first).map(|l| format!(" ({l})")).unwrap_or_default();
    let mut m = format!(
        "{who} was driven remotely from {} to {}{local}: {} session(s), tools {}, peers {}.",
        utc(ep.first),
        utc(ep.last),
        v.sessions,
        if v.tools.is_empty() { "none named".to_string() } else { v.tools.join(", ") },
        if v.peers.is_empty() { "none".to_string() } else { v.peers.join(", ") },
    );
    let home: Vec<&str> = policy.home_countries().collect();
    if !v.countries.is_empty() && !home.is_empty() {
        m.push_str(&format!(" Peer countries: {} (home: {}).", v.countries.join(", "), home.join(", ")));
    }
    let parts: Vec<String> =
        v.signs.iter().map(|s| format!("{} +{} ({})", s.kind.name().replace('_', " "), s.points, s.detail)).collect();
    m.push_str(&format!(" Score {} of 100 ({}): {}.", v.score, severity(v.score).caption(), parts.join("; ")));
    if v.benign > 0 {
        m.push_str(&format!(" {} session(s) were benign by policy and add nothing.", v.benign));
    }
    m
}
