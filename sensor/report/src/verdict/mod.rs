//! Verdict: findings in, explained alerts out.
//!
//! # Contract
//! - [`Verdict::judge`] turns each [`Finding`] into zero or more [`Alert`]s: one per
//!   recognised session, of the kind its tool's category calls for
//!   (`remote_control_session`, or `anonymizing_tunnel` for VPNs, tunnels, proxies and
//!   relays), plus `multiple_remote_tools` when an endpoint uses a second (third, ...)
//!   remote-control tool within [`MULTI_TOOL_WINDOW`].
//! - A session keeps one alert id: a flow of the same 5-tuple and tool that resumes within
//!   [`SESSION_GAP`] (after an idle timeout, or reported again at the active timeout) is an
//!   update (`activity_id` 2) of the same id.
//! - The endpoint of an alert is the inside host (`home_networks`); when both or neither
//!   side is inside, it is the controlled side (the server of SSH/RDP/VNC). The peer is the
//!   other side. `bytes_in`/`packets_in` count what the endpoint received.
//! - IP-KVM signs (an `ip_kvm_suspected` finding, or any finding of the IP-KVM tool) are
//!   weighed per device by [`kvm`]: one `ip_kvm_suspected` alert per device, Low for a
//!   Raspberry Pi alone, High when a KVM-specific name, certificate or cloud lookup joins.
//! - Alerts are self-contained: everything a SOC analyst needs to read them (tool,
//!   confidence, method, addresses, ports, times, volumes, fingerprint fields, detector
//!   versions, a one-paragraph message).

pub mod episode;
pub mod kvm;
pub mod peers;
pub mod place;

use crate::enrich::live::Enrichment;
use crate::enrich::lookup::PeerInfo;
use crate::physics::Location;
use crate::policy::Policy;
use crate::relay_latency::TransportBasis;
use base64::Engine as _;
use farhand_model::Direction;
use farhand_model::EndReason;
use farhand_model::Micros;
use farhand_model::evidence::Evidence;
use farhand_model::net::{Addr, FlowKey, Side, proto};
use farhand_model::owner::Owners;
use farhand_model::tool::{Category, Match, Method, Tool, Transport};
use farhand_model::{Finding, FindingKind};
use farhand_model::{Health, HomeNets};
use peers::SeenAddress;
use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Alert kinds (DESIGN.md alert taxonomy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A remote-control tool session to or from an endpoint.
    RemoteControlSession,
    /// A VPN, tunnel, proxy or relay session from an endpoint.
    AnonymizingTunnel,
    /// Several remote-control tools on one endpoint within the window.
    MultipleRemoteTools,
    /// An IP-KVM-class device on the endpoint's segment.
    IpKvmSuspected,
    /// A remote-control session whose far-leg application RTT exceeds the transport RTT to
    /// the visible peer by more than the threshold: the controller is beyond a relay.
    RelayedRemoteControl,
    /// An endpoint's own outbound interactive session typed by the input of a session that
    /// controls the endpoint (a stepping stone).
    InteractiveRelayChain,
    /// A remote-control session whose controller, relay or TURN peer is outside the home
    /// countries, or which the relay gap puts beyond them.
    RemoteControlFromAbroad,
    /// Everything one endpoint showed while it was being driven remotely, scored.
    RemoteControlEpisode,
}

impl AlertKind {
    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::RemoteControlSession => "remote_control_session",
            AlertKind::AnonymizingTunnel => "anonymizing_tunnel",
            AlertKind::MultipleRemoteTools => "multiple_remote_tools",
            AlertKind::IpKvmSuspected => "ip_kvm_suspected",
            AlertKind::RelayedRemoteControl => "relayed_remote_control",
            AlertKind::InteractiveRelayChain => "interactive_relay_chain",
            AlertKind::RemoteControlFromAbroad => "remote_control_from_abroad",
            AlertKind::RemoteControlEpisode => "remote_control_episode",
        }
    }

    /// Every kind, in the taxonomy's order (for outputs that list each one, even at 0).
    pub fn all() -> [AlertKind; 8] {
        let all = [
            AlertKind::RemoteControlSession,
            AlertKind::AnonymizingTunnel,
            AlertKind::MultipleRemoteTools,
            AlertKind::IpKvmSuspected,
            AlertKind::RelayedRemoteControl,
            AlertKind::InteractiveRelayChain,
            AlertKind::RemoteControlFromAbroad,
            AlertKind::RemoteControlEpisode,
        ];
        // Exhaustive on purpose: a new kind fails to compile here until it is listed above.
        all.map(|k| match k {
            AlertKind::RemoteControlSession
            | AlertKind::AnonymizingTunnel
            | AlertKind::MultipleRemoteTools
            | AlertKind::IpKvmSuspected
            | AlertKind::RelayedRemoteControl
            | AlertKind::InteractiveRelayChain
            | AlertKind::RemoteControlFromAbroad
            | AlertKind::RemoteControlEpisode => k,
        })
    }

    /// The alert kind a recognised tool's session raises.
    pub fn of(category: Category) -> AlertKind {
        match category {
            Category::RemoteControl => AlertKind::RemoteControlSession,
            Category::Relay | Category::Vpn | Category::Tunnel | Category::Proxy => AlertKind::AnonymizingTunnel,
        }
    }
}

/// OCSF severity levels used by farhand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// 1.
    Informational = 1,
    /// 2.
    Low = 2,
    /// 3.
    Medium = 3,
    /// 4.
    High = 4,
    /// 5.
    Critical = 5,
}

impl Severity {
    /// OCSF caption.
    pub fn caption(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }
}

/// One side of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Address.
    pub ip: Addr,
    /// Port.
    pub port: u16,
    /// Inside `home_networks`.
    pub inside: bool,
}

/// Whether an alert is new or updates an earlier one (same id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// First report.
    Create,
    /// A later report of the same session.
    Update,
}

/// An alert, ready for the sinks.
#[derive(Debug, Clone)]
pub struct Alert {
    /// Stable id (same for updates of one session).
    pub id: String,
    /// Create or update.
    pub activity: Activity,
    /// Kind.
    pub kind: AlertKind,
    /// Severity.
    pub severity: Severity,
    /// When the alert was raised (packet time).
    pub time: Micros,
    /// Tool recognised.
    pub tool: Tool,
    /// The tool's stable name (for indicator-listed tools, the listed name).
    pub tool_name: String,
    /// The tool's display name.
    pub tool_title: String,
    /// What kind of tool.
    pub category: Category,
    /// For `multiple_remote_tools`: every tool seen on the endpoint in the window.
    pub related_tools: Vec<String>,
    /// Confidence 0–100.
    pub confidence: u8,
    /// How the tool was recognised.
    pub method: Method,
    /// The inside host.
    pub endpoint: Host,
    /// The other side.
    pub peer: Host,
    /// What enrichment says of the peer: class, country, AS number and organisation.
    pub peer_info: PeerInfo,
    /// Addresses the session's own messages named (STUN/TURN), enriched.
    pub seen_addresses: Vec<SeenAddress>,
    /// The peer's owner, round trip and physics check, and the policy's view of the session.
    pub context: place::Context,
    /// Why the session is from abroad, when it is.
    pub abroad: Option<place::Abroad>,
    /// For `remote_control_episode`: the endpoint's episode (score, signs, tools, peers).
    pub episode: Option<episode::EpisodeView>,
    /// Who opened the session.
    pub direction: Direction,
    /// TCP or UDP.
    pub transport: Transport,
    /// VLAN IDs (0 = none).
    pub vlan: u32,
    /// First packet.
    pub first_seen: Micros,
    /// Last packet.
    pub last_seen: Micros,
    /// Bytes the endpoint received.
    pub bytes_in: u64,
    /// Bytes the endpoint sent.
    pub bytes_out: u64,
    /// Packets the endpoint received.
    pub packets_in: u64,
    /// Packets the endpoint sent.
    pub packets_out: u64,
    /// TCP handshake (SYN, SYN/ACK, ACK) times; 0 = not seen.
    pub handshake: [Micros; 3],
    /// Why the session record ended.
    pub end: EndReason,
    /// Protocol fields.
    pub evidence: Evidence,
    /// Detectors that contributed: (name, version).
    pub detectors: Vec<(&'static str, &'static str)>,
    /// Community ID v1 of the flow.
    pub community_id: String,
    /// One-paragraph explanation.
    pub message: String,
    /// The wrapper (proxy tunnel, WebSocket) the tool was found inside.
    pub via: Option<farhand_model::Via>,
    /// Timing figures of the session (transport/application RTT, keystrokes).
    pub behaviour: Option<farhand_model::session::Summary>,
    /// The relay latency gap, when both RTTs were measured.
    pub gap: Option<crate::relay_latency::Gap>,
    /// What names the endpoint beyond its address (MAC, host name), when known
    /// ([`crate::identity::Directory`]).
    pub endpoint_identity: Option<farhand_model::identity::EndpointIdentity>,
}

/// Window in which several remote-control tools on one endpoint raise
/// `multiple_remote_tools`.
pub const MULTI_TOOL_WINDOW: Micros = 3600 * 1_000_000;

/// A flow of the same 5-tuple and tool that resumes within this gap continues its session.
pub const SESSION_GAP: Micros = 3600 * 1_000_000;
/// Open sessions remembered before old ones are forgotten.
pub const MAX_OPEN_SESSIONS: usize = 100_000;

/// What the verdict is built from: the inside networks, the relay-gap judgement, the
/// deployment's policy and the sensor's location (for the physics check).
#[derive(Debug, Clone)]
pub struct VerdictConfig {
    /// The organisation's endpoints.
    pub home: HomeNets,
    /// The relay-gap judgement's thresholds.
    pub relay: crate::relay_latency::RelayConfig,
    /// The enrichment databases.
    pub enrich: Enrichment,
    /// The ownership lists (hosting, VPN, Tor exits, vendor relays, residential proxies).
    pub owners: Arc<Owners>,
    /// Home countries, tool stances, helpdesk hosts, tenants, allowlist, business hours.
    pub policy: Arc<Policy>,
    /// Where the sensor is; `None`: no physics check.
    pub location: Option<Location>,
}

impl VerdictConfig {
    /// The verdict, and its health.
    pub fn build(self) -> (Verdict, Health) {
        let health = self.health();
        let mut v = Verdict::new(self.home).with_relay(self.relay).with_policy(self.policy, self.location);
        v.enrich = self.enrich;
        v.owners = self.owners;
        (v, health)
    }

    /// The health of the verdict these settings describe, without building it: degraded
    /// without inside networks (no endpoint can be told from its peer, so no session is
    /// judged inbound).
    pub fn health(&self) -> Health {
        let r = self.relay;
        let detail = format!(
            "{} inside networks; relayed when the far leg exceeds the baseline ({} ms, SSH {} ms) by {} ms over at least {} samples",
            self.home.len(),
            r.baseline_ms,
            r.baseline_ssh_ms,
            r.gap_threshold_ms,
            r.min_samples
        );
        let countries: Vec<&str> = self.policy.home_countries().collect();
        let detail = format!(
            "{detail}; abroad: {}; physics check: {}",
            if countries.is_empty() {
                "not judged (no home countries)".to_string()
            } else {
                format!("outside {}", countries.join(","))
            },
            self.location.as_ref().map_or_else(|| "off (no sensor location)".to_string(), |l| format!("from {l}")),
        );
        if self.home.is_empty() {
            Health::degraded(
                "verdict",
                format!(
                    "{detail}: sensor.home_networks is empty, so no endpoint is inside and no session is judged inbound"
                ),
            )
        } else {
            Health::ready("verdict", detail)
        }
    }
}

/// The verdict stage.
pub struct Verdict {
    home: HomeNets,
    /// Open sessions by (community id, tool): alert id and last packet time. A flow that
    /// resumes within [`SESSION_GAP`] (after an idle timeout or an active-timeout report)
    /// continues the same alert as an update.
    sessions: HashMap<(String, String), (String, Micros)>,
    /// IP-KVM signs per device (workers each see a device once, and a device talking to
    /// several endpoints reaches several workers).
    kvm: kvm::KvmDevices,
    /// Per endpoint: remote-control tools seen (name → last time) and how many distinct
    /// tools the last `multiple_remote_tools` alert reported.
    tools_by_endpoint: HashMap<Addr, (BTreeMap<String, Micros>, usize)>,
    /// Settings of the relay-gap judgement.
    relay: crate::relay_latency::RelayConfig,
    /// Enrichment databases (reloaded when their files change).
    enrich: Enrichment,
    /// The deployment's policy.
    policy: Arc<Policy>,
    /// Where the sensor is (the physics check), if configured.
    location: Option<Location>,
    /// Per-endpoint identities, fed by the fast path's sightings.
    identities: crate::identity::Directory,
    /// The ownership lists.
    owners: Arc<Owners>,
    /// Per-endpoint episodes.
    episodes: episode::Episodes,
}

impl Verdict {
    /// A verdict stage for the given inside networks.
    pub fn new(home: HomeNets) -> Verdict {
        Verdict {
            home,
            sessions: HashMap::new(),
            kvm: Default::default(),
            tools_by_endpoint: HashMap::new(),
            relay: Default::default(),
            enrich: Enrichment::none(),
            policy: Arc::new(Policy::default()),
            location: None,
            identities: Default::default(),
            owners: place::no_owners(),
            episodes: Default::default(),
        }
    }

    /// The same stage with these relay-gap settings.
    pub fn with_relay(mut self, relay: crate::relay_latency::RelayConfig) -> Verdict {
        self.relay = relay;
        self
    }

    /// The same stage with this policy and sensor location.
    pub fn with_policy(mut self, policy: Arc<Policy>, location: Option<Location>) -> Verdict {
        self.policy = policy;
        self.location = location;
        self
    }

    /// The deployment's policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Where the sensor is, if configured.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// The alert id of the session under `key` and whether this report creates or updates
    /// it: a report that starts within [`SESSION_GAP`] of the key's last one continues it
    /// (after an idle timeout or an active-timeout report), else `new_id` starts a new one.
    fn session_alert_id(
        &mut self,
        key: (String, String),
        (first, last_seen): (Micros, Micros),
        new_id: impl FnOnce() -> String,
    ) -> (String, Activity) {
        match self.sessions.get_mut(&key) {
            Some((id, last)) if first.saturating_sub(*last) <= SESSION_GAP => {
                *last = (*last).max(last_seen);
                (id.clone(), Activity::Update)
            }
            _ => {
                let id = new_id();
                self.sessions.insert(key, (id.clone(), last_seen));
                (id, Activity::Create)
            }
        }
    }

    /// Raises (or updates) `interactive_relay_chain` for an endpoint's outbound session whose
    /// typing followed input on a session controlling the endpoint: its typing periods began
    /// right after that input, or its keystrokes each followed it within milliseconds, more
    /// often than chance allows (the figures of the rule that held are in the message).
    fn note_chain(&mut self, a: &Alert, out: &mut Vec<Alert>) {
        let Some(c) = a.behaviour.as_ref().and_then(|b| b.chain.as_ref()).filter(|c| c.chained) else { return };
        let (id, activity) = self.session_alert_id(
            (a.community_id.clone(), format!("chain:{}", a.tool_name)),
            (a.first_seen, a.last_seen),
            || alert_id(&format!("chain-{}", a.community_id), a.first_seen, a.tool),
        );
        // The driven session's client is the controlled host.
        let (host, target) = match a.direction {
            Direction::Outbound => (a.endpoint, a.peer),
            Direction::Inbound => (a.peer, a.endpoint),
        };
        let mut r = a.clone();
        r.kind = AlertKind::InteractiveRelayChain;
        r.severity = Severity::Critical;
        r.id = id;
        r.activity = activity;
        r.message = format!(
            "{tool} session from {host} to {target}:{port} is typed by a remote controller: {why}. The \
             endpoint is a stepping stone: its own work is being done from afar.",
            tool = a.tool_title,
            host = host.ip,
            target = target.ip,
            port = target.port,
            why = chain_reasons(c, &host.ip.to_string()),
        );
        out.push(r);
    }

    /// Raises (or updates) `relayed_remote_control` for a session alert whose gap is beyond
    /// the threshold. Only for remote-control sessions into the endpoint, whose controller is
    /// the initiator (SSH, VNC): the far leg is then the initiator's.
    fn note_gap(&mut self, a: &Alert, out: &mut Vec<Alert>) {
        let Some(g) = a.gap.as_ref().filter(|g| g.relayed) else { return };
        if a.kind != AlertKind::RemoteControlSession || a.direction != Direction::Inbound {
            return;
        }
        let (id, activity) = self.session_alert_id(
            (a.community_id.clone(), format!("relayed:{}", a.tool_name)),
            (a.first_seen, a.last_seen),
            || alert_id(&format!("relayed-{}", a.community_id), a.first_seen, a.tool),
        );
        let b = a.behaviour.as_ref();
        let app = b.and_then(|b| b.app_rtt_far_estimate);
        let tr = b.and_then(|b| b.transport_rtt.initiator);
        let tr_est = b.and_then(|b| b.transport_rtt_estimate.initiator);
        let mut r = a.clone();
        r.kind = AlertKind::RelayedRemoteControl;
        r.severity = Severity::High;
        r.id = id;
        r.activity = activity;
        r.message = format!(
            "{tool} session into {ep} from {peer}: the controller answers {app:.1} ms after the endpoint \
             speaks ({agree} of {n} exchanges agree within {spread:.1} ms) while the transport round trip to {peer} is \
             {tr:.1} ms ({basis}): a gap of {gap:.1} ms, {ex:.1} ms beyond the {base:.0} ms \
             processing baseline, puts the controller at least {lo} km (at most {hi} km) beyond {peer}: \
             the visible peer is a relay or a jump host.",
            tool = a.tool_title,
            ep = a.endpoint.ip,
            peer = a.peer.ip,
            app = app.and_then(|s| s.ms).unwrap_or(0.0),
            agree = app.map_or(0, |s| s.agreeing),
            n = app.map_or(0, |s| s.of),
            spread = app.and_then(|s| s.spread_ms).unwrap_or(0.0),
            tr = g.transport_ms,
            basis = match (g.transport_basis, tr_est) {
                (TransportBasis::Agreement, Some(e)) => format!("where {} of {} samples agree", e.agreeing, e.of),
                _ => format!("smallest of {}", tr.map_or(0, |s| s.n)),
            },
            gap = g.gap_ms,
            ex = g.excess_ms,
            base = g.baseline_ms,
            lo = g.extra_distance_km.0,
            hi = g.extra_distance_km.1,
        );
        r.message.push_str(&place::gap_place_sentence(a, g));
        out.push(r);
    }

    /// Records a remote-control session on an endpoint; raises `multiple_remote_tools` when
    /// the endpoint has used two or more distinct tools within [`MULTI_TOOL_WINDOW`] (and
    /// again whenever a further tool joins them). Outbound SSH (an endpoint's own shell
    /// sessions, everyday for developers) does not count, nor do sessions the policy expects
    /// (benign, or a sanctioned tool not from abroad).
    fn note_tool(&mut self, a: &Alert, out: &mut Vec<Alert>) {
        if a.category != Category::RemoteControl || (a.tool == Tool::Ssh && a.direction == Direction::Outbound) {
            return;
        }
        // Expected sessions (benign by policy, or a sanctioned tool from home) are not tools
        // an operator needs to hear about.
        if a.context.benign() || (a.context.stance == Some(crate::policy::Stance::Sanctioned) && a.abroad.is_none()) {
            return;
        }
        let (tools, reported) = self.tools_by_endpoint.entry(a.endpoint.ip).or_default();
        tools.insert(a.tool_name.clone(), a.last_seen);
        tools.retain(|_, t| a.last_seen.saturating_sub(*t) <= MULTI_TOOL_WINDOW);
        if tools.len() < 2 || tools.len() <= *reported {
            if tools.len() < 2 {
                *reported = 0;
            }
            return;
        }
        *reported = tools.len();
        let names: Vec<String> = tools.keys().cloned().collect();
        let mut m = a.clone();
        m.kind = AlertKind::MultipleRemoteTools;
        m.severity = Severity::Medium;
        m.activity = Activity::Create;
        m.related_tools = names.clone();
        m.id = alert_id(&format!("{}-{}", a.endpoint.ip, names.join(",")), a.last_seen, a.tool);
        m.message = format!(
            "Endpoint {} used {} remote-control tools within {} minutes: {}. The latest: {}",
            a.endpoint.ip,
            names.len(),
            MULTI_TOOL_WINDOW / 60_000_000,
            names.join(", "),
            a.message
        );
        out.push(m);
    }

    /// Alerts for one finding, appended to `out`: the finding's own, then its endpoint's
    /// episode when that is due one (`episode.rs`).
    pub fn judge(&mut self, f: &Finding, out: &mut Vec<Alert>) {
        let start = out.len();
        self.judge_finding(f, out);
        self.episodes.observe(start, out, &self.policy);
    }

    /// The finding's own alerts.
    fn judge_finding(&mut self, f: &Finding, out: &mut Vec<Alert>) {
        if let Some(Err(e)) = self.enrich.maybe_reload(std::time::Instant::now()) {
            tracing::warn!("enrich: reloading failed, the databases in use are kept: {e}");
        }
        // IP-KVM signs (a Raspberry Pi or KVM maker's MAC, a PiKVM/TinyPilot/JetKVM/GLKVM host
        // name, certificate or cloud name) are weighed per device: kvm.rs.
        let m = match &f.kind {
            FindingKind::RemoteControlSession(m) if !kvm::is_sign(f) => m,
            FindingKind::RemoteControlSession(_) | FindingKind::IpKvmSuspected(_) => {
                let start = out.len();
                self.kvm.judge(f, &self.home, out);
                for a in out.iter_mut().skip(start) {
                    a.peer_info = self.enrich.lookup(a.peer.ip.ip());
                    a.endpoint_identity = self.identities.identity(&a.endpoint.ip);
                }
                return;
            }
            FindingKind::Sighting(s) => return self.identities.learn(s),
        };
        let s = &f.flow;
        let ep_side = self.endpoint_side(f, m);
        let mut alert = flow_alert(f, m, ep_side, &self.home);
        alert.severity = severity(alert.kind, alert.direction, alert.category);
        let key = (alert.community_id.clone(), alert.tool_name.clone());
        let cid = alert.community_id.clone();
        (alert.id, alert.activity) =
            self.session_alert_id(key, (s.first_ts, s.last_ts), || alert_id(&cid, s.first_ts_of_session(), m.tool));
        if self.sessions.len() > MAX_OPEN_SESSIONS {
            let now = s.last_ts;
            self.sessions.retain(|_, (_, last)| now.saturating_sub(*last) <= SESSION_GAP);
        }
        let ep_ip = alert.endpoint.ip;
        alert.endpoint_identity = self.identities.identity(&ep_ip);
        alert.message = message(f, m, (ep_side, alert.direction), &alert.tool_title)
            + &crate::identity::note(ep_ip, alert.endpoint_identity.as_ref());
        alert.peer_info = self.enrich.lookup(alert.peer.ip.ip());
        alert.seen_addresses = peers::seen_addresses(&m.evidence, &self.enrich);
        alert.gap = f.behaviour.as_ref().and_then(|b| crate::relay_latency::judge(b, &self.relay));
        let alert = self.place(alert);
        let first = alert.activity == Activity::Create;
        out.push(alert);
        if first && let Some(a) = out.last().cloned() {
            self.note_tool(&a, out);
        }
        if let Some(a) = out.iter().rev().find(|a| a.kind != AlertKind::MultipleRemoteTools).cloned() {
            self.note_gap(&a, out);
            self.note_chain(&a, out);
            self.note_abroad(&a, out);
        }
    }

    /// A session alert with its context (owner, physics, policy), from-abroad judgement,
    /// the severity the policy gives it and the sentences that say so.
    fn place(&self, mut a: Alert) -> Alert {
        let evidence = serde_json::to_value(&a.evidence).unwrap_or_default();
        let mut names: Vec<String> = Vec::new();
        collect_strings(&evidence, &mut names);
        if let Some(v) = &a.via {
            names.push(v.target.clone());
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let inputs = place::Inputs { owners: &self.owners, policy: &self.policy, location: self.location.as_ref() };
        let ctx = place::context(&a, &names, &inputs);
        let has_rc = self
            .tools_by_endpoint
            .get(&a.endpoint.ip)
            .is_some_and(|(t, _)| t.values().any(|last| a.first_seen.saturating_sub(*last) <= MULTI_TOOL_WINDOW));
        a.abroad = place::abroad(&a, &ctx, &self.policy, self.location.as_ref(), has_rc);
        a.severity = place::policy_severity(&a, &ctx, a.abroad.is_some());
        a.message.push_str(&place::peer_sentence(&a, &ctx));
        a.message.push_str(&place::policy_sentence(&ctx));
        a.context = ctx;
        a
    }

    /// Raises (or updates) `remote_control_from_abroad` for a session alert judged from
    /// abroad (see [`place::abroad`]).
    fn note_abroad(&mut self, a: &Alert, out: &mut Vec<Alert>) {
        let Some(ab) = a
            .abroad
            .as_ref()
            .filter(|_| matches!(a.kind, AlertKind::RemoteControlSession | AlertKind::AnonymizingTunnel))
        else {
            return;
        };
        let (id, activity) = self.session_alert_id(
            (a.community_id.clone(), format!("abroad:{}", a.tool_name)),
            (a.first_seen, a.last_seen),
            || alert_id(&format!("abroad-{}", a.community_id), a.first_seen, a.tool),
        );
        let mut r = a.clone();
        r.kind = AlertKind::RemoteControlFromAbroad;
        r.severity = Severity::High;
        r.id = id;
        r.activity = activity;
        r.message = place::abroad_message(a, ab, &self.policy);
        out.push(r);
    }

    /// Which side of the flow is the endpoint: the inside side; else, for remote control,
    /// the controlled side (the server), and for tunnels the client that opened it. (IP-KVM
    /// devices: [`kvm`].)
    fn endpoint_side(&self, f: &Finding, m: &Match) -> Side {
        let s = &f.flow;
        let resp_side = s.initiator.other();
        let init_in = self.home.contains(&s.key.side(s.initiator).0);
        let resp_in = self.home.contains(&s.key.side(resp_side).0);
        match (init_in, resp_in) {
            (true, false) => s.initiator,
            (false, true) => resp_side,
            _ if m.category() == Category::RemoteControl => resp_side,
            _ => s.initiator,
        }
    }
}

/// An alert of `f`'s flow seen from `ep_side`: endpoint and peer, direction, volumes, times,
/// evidence, wrapper and timing; the kind, tool and confidence of `m`. What the verdict
/// decides — id, activity, severity, message, enrichment, context — is left at neutral
/// values for the caller to set.
fn flow_alert(f: &Finding, m: &Match, ep_side: Side, home: &HomeNets) -> Alert {
    let s = &f.flow;
    let peer_side = ep_side.other();
    let (ep_ip, ep_port) = s.key.side(ep_side);
    let (peer_ip, peer_port) = s.key.side(peer_side);
    let get = |a: &[u64; 2], side: Side| a.get(side.idx()).copied().unwrap_or(0);
    let pk = [u64::from(s.pkts[0]), u64::from(s.pkts[1])];
    Alert {
        id: String::new(),
        activity: Activity::Create,
        kind: AlertKind::of(m.category()),
        severity: Severity::Informational,
        time: s.last_ts,
        tool: m.tool,
        tool_name: m.tool_name().to_string(),
        tool_title: m.tool_title().to_string(),
        category: m.category(),
        related_tools: Vec::new(),
        confidence: m.confidence,
        method: m.method,
        endpoint: Host { ip: ep_ip, port: ep_port, inside: home.contains(&ep_ip) },
        peer: Host { ip: peer_ip, port: peer_port, inside: home.contains(&peer_ip) },
        peer_info: PeerInfo::classified(peer_ip.ip()),
        seen_addresses: Vec::new(),
        endpoint_identity: None,
        context: place::Context::default(),
        abroad: None,
        episode: None,
        direction: if ep_side == s.initiator { Direction::Outbound } else { Direction::Inbound },
        transport: Transport::of_proto(s.key.proto()),
        vlan: s.key.vlan(),
        first_seen: s.first_ts,
        last_seen: s.last_ts,
        bytes_in: get(&s.bytes, peer_side),
        bytes_out: get(&s.bytes, ep_side),
        packets_in: get(&pk, peer_side),
        packets_out: get(&pk, ep_side),
        handshake: s.handshake,
        end: s.reason,
        evidence: m.evidence.clone(),
        detectors: vec![(f.detector, f.detector_version)],
        community_id: community_id(&s.key, s.initiator),
        message: String::new(),
        via: f.via.clone(),
        behaviour: f.behaviour.clone(),
        gap: None,
    }
}

/// Every string value in a JSON value (the names a session's evidence carries), bounded.
fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if out.len() < 64 => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        serde_json::Value::Object(o) => o.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// An alert's severity by its kind, direction and the tool's category.
fn severity(kind: AlertKind, direction: Direction, category: Category) -> Severity {
    match (kind, direction) {
        // The device's signs decide (kvm::severity); one sign alone is Low.
        (AlertKind::IpKvmSuspected, _) => Severity::Low,
        (AlertKind::RemoteControlSession, Direction::Inbound) => Severity::Low,
        (AlertKind::RemoteControlSession, Direction::Outbound) => Severity::Informational,
        (AlertKind::RemoteControlFromAbroad, _) => Severity::High,
        (_, _) if category == Category::Relay => Severity::Informational,
        _ => Severity::Medium,
    }
}

/// The alert's one-paragraph message: the session with its figures, evidence and wrapper.
fn message(f: &Finding, m: &Match, (ep_side, direction): (Side, Direction), tool_title: &str) -> String {
    let s = &f.flow;
    let peer_side = ep_side.other();
    let (ep_ip, ep_port) = s.key.side(ep_side);
    let (peer_ip, peer_port) = s.key.side(peer_side);
    let transport = Transport::of_proto(s.key.proto());
    let get = |a: &[u64; 2], side: Side| a.get(side.idx()).copied().unwrap_or(0);
    let pk = [u64::from(s.pkts[0]), u64::from(s.pkts[1])];
    format!(
        "{tool} session {dir} {ep}:{ep_port} {arrow} {peer}:{peer_port} ({transport}), recognised by {method} \
     (confidence {conf}); {pin} packets / {bin} bytes to the endpoint, {pout} packets / {bout} bytes from it; \
     {secs:.1} s.{extra}",
        tool = tool_title,
        dir = match direction {
            Direction::Inbound => "into endpoint",
            Direction::Outbound => "from endpoint",
        },
        ep = ep_ip,
        arrow = match direction {
            Direction::Inbound => "<-",
            Direction::Outbound => "->",
        },
        peer = peer_ip,
        transport = transport.name(),
        method = match m.method {
            Method::PayloadStructure => "its payload structure",
            Method::Certificate => "its certificate",
            Method::Association => "its link to a recognised session",
            Method::Name => "a name",
            Method::Port => "its port only",
        },
        conf = m.confidence,
        pin = get(&pk, peer_side),
        bin = get(&s.bytes, peer_side),
        pout = get(&pk, ep_side),
        bout = get(&s.bytes, ep_side),
        secs = s.last_ts.saturating_sub(s.first_ts) as f64 / 1e6,
        extra = evidence_note(&m.evidence),
    ) + &f.via.as_ref().map(|v| format!(" Found inside a {} tunnel to {}.", v.wrapper, v.target)).unwrap_or_default()
}

/// The evidence as short `key=value` pairs for the alert message: strings and numbers,
/// one level of nesting flattened, long algorithm lists left to the structured fields.
fn evidence_note(e: &Evidence) -> String {
    fn push(parts: &mut Vec<String>, k: &str, v: &serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s.len() <= 64 => parts.push(format!("{k}={s}")),
            serde_json::Value::Number(n) => parts.push(format!("{k}={n}")),
            serde_json::Value::Array(items) if !items.is_empty() && items.iter().all(|i| i.is_string()) => {
                let names: Vec<&str> = items.iter().filter_map(|i| i.as_str()).collect();
                parts.push(format!("{k}={}", names.join("+")));
            }
            _ => {}
        }
    }
    let j = serde_json::to_value(e).unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(o) = j.as_object() {
        for (k, v) in o {
            if k == "protocol" || k.ends_with("_algorithms") {
                continue;
            }
            match v.as_object() {
                Some(inner) => {
                    for (ik, iv) in inner {
                        push(&mut parts, &format!("{k}.{ik}"), iv);
                    }
                }
                None => push(&mut parts, k, v),
            }
        }
    }
    if parts.is_empty() { String::new() } else { format!(" Evidence: {}.", parts.join(", ")) }
}

fn alert_id(community_id: &str, first: Micros, tool: Tool) -> String {
    let mut h = Sha1::new();
    h.update(community_id.as_bytes());
    h.update(first.to_be_bytes());
    h.update(tool.name().as_bytes());
    let d = h.finalize();
    d.iter().take(10).map(|b| format!("{b:02x}")).collect()
}

/// Community ID v1 (seed 0) of a flow, oriented from its initiator.
///
/// TCP, UDP and the rest hash their ports. ICMP and ICMPv6 have none: as the specification
/// says, the message type stands for the source port and the counterpart type of a
/// request/response pair for the destination port (echo request 8 ↔ reply 0, 128 ↔ 129 for
/// ICMPv6). farhand's ICMP flows are echo exchanges whose initiator is the requester, so the
/// initiator's "port" is the request type; its key's ports (the echo identifier) are not
/// hashed. ESP, AH and GRE have no ports: the addresses alone are hashed. Zeek and
/// Suricata compute the same value for the same flow.
pub fn community_id(key: &FlowKey, initiator: Side) -> String {
    let (si, sp) = key.side(initiator);
    let (di, dp) = key.side(initiator.other());
    let ports = match key.proto() {
        proto::ICMP => Some((ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY)),
        proto::ICMPV6 => Some((ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY)),
        // Protocols without ports (ESP, AH, GRE): the addresses alone.
        proto::ESP | proto::AH | proto::GRE => None,
        _ => Some((sp, dp)),
    };
    community_id_of(&si, &di, ports, key.proto())
}

/// ICMP echo request type (RFC 792).
const ICMP_ECHO_REQUEST: u16 = 8;
/// ICMP echo reply type.
const ICMP_ECHO_REPLY: u16 = 0;
/// ICMPv6 echo request type (RFC 4443).
const ICMPV6_ECHO_REQUEST: u16 = 128;
/// ICMPv6 echo reply type.
const ICMPV6_ECHO_REPLY: u16 = 129;

/// Community ID v1 (seed 0) of a two-way tuple: the lower (address, port) end first; the
/// ports left out for a protocol without them.
fn community_id_of(s: &Addr, d: &Addr, ports: Option<(u16, u16)>, proto: u8) -> String {
    let addr_bytes =
        |a: &Addr| -> Vec<u8> { if a.is_v4() { a.0.get(12..).unwrap_or_default().to_vec() } else { a.0.to_vec() } };
    let (s, d) = (addr_bytes(s), addr_bytes(d));
    let (sp, dp) = ports.unwrap_or_default();
    let ((s, sp), (d, dp)) =
        if (s.as_slice(), sp) <= (d.as_slice(), dp) { ((s, sp), (d, dp)) } else { ((d, dp), (s, sp)) };
    let mut h = Sha1::new();
    h.update(0u16.to_be_bytes());
    h.update(&s);
    h.update(&d);
    h.update([proto, 0]);
    if ports.is_some() {
        h.update(sp.to_be_bytes());
        h.update(dp.to_be_bytes());
    }
    format!("1:{}", base64::engine::general_purpose::STANDARD.encode(h.finalize()))
}

/// Why a session is chained, in words: the figures of the rule (or rules) that held
/// (`ChainStats::rule`). `host` is the controlled endpoint.
fn chain_reasons(c: &farhand_model::session::ChainStats, host: &str) -> String {
    let driver = c.driver.as_deref().unwrap_or("?");
    let periods = format!(
        "{m} of its {n} typing periods began within 80 ms after typing began on a session controlling {host} \
         (from {driver}; median lag {lag:.1} ms)",
        m = c.matched,
        n = c.on_periods,
        lag = c.median_lag_ms.unwrap_or(0.0),
    );
    let keys = format!(
        "{m} of its {n} keystrokes followed input on a session controlling {host} (from {driver}) by at most \
         the endpoint's round trip plus 30 ms (lag median {p50:.1} ms, p90 {p90:.1} ms); {m} or more such keys \
         by coincidence (a chance of {chance} % per key at the driving input's rate) had a probability of \
         {p:.1e}",
        m = c.matched_keys,
        n = c.keys,
        p50 = c.key_lag_median_ms.unwrap_or(0.0),
        p90 = c.key_lag_p90_ms.unwrap_or(0.0),
        chance = percent(c.key_chance),
        p = c.coincidence_p,
    );
    match c.rule {
        Some("keys") => keys,
        Some("periods_and_keys") => format!("{periods}; and {keys}"),
        _ => periods,
    }
}

/// A share (0 to 1) in percent: whole percents from 10 %, one decimal below.
fn percent(share: f64) -> String {
    let pct = share * 100.0;
    if pct >= 10.0 { format!("{pct:.0}") } else { format!("{pct:.1}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use farhand_model::net::proto;

    #[test]
    fn community_id_known_answers() {
        // Test vectors published with the Community ID specification (seed 0).
        let (k, s) =
            FlowKey::new(Addr::v4([128, 232, 110, 120]), 34855, Addr::v4([66, 35, 250, 204]), 80, proto::TCP, 0);
        assert_eq!(community_id(&k, s), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        let (k2, s2) =
            FlowKey::new(Addr::v4([66, 35, 250, 204]), 80, Addr::v4([128, 232, 110, 120]), 34855, proto::TCP, 0);
        assert_eq!(community_id(&k2, s2), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        // ICMP echo: the specification's vectors, the key's identifier ignored and the
        // value the same whichever side the key lists first.
        for id in [0, 65279] {
            let (k, s) = FlowKey::new(Addr::v4([192, 168, 0, 89]), id, Addr::v4([192, 168, 0, 1]), id, proto::ICMP, 0);
            assert_eq!(community_id(&k, s), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
        }
        let req: Addr = "3ffe:507:0:1:200:86ff:fe05:80da".parse::<std::net::IpAddr>().unwrap().into();
        let rep: Addr = "3ffe:501:0:1001::2".parse::<std::net::IpAddr>().unwrap().into();
        let (k, s) = FlowKey::new(req, 7, rep, 7, proto::ICMPV6, 0);
        assert_eq!(community_id(&k, s), "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=");
        // The requester on the higher address: the tuple is turned, the value still the spec's.
        let (k, s) = FlowKey::new(Addr::v4([192, 168, 0, 89]), 1, Addr::v4([192, 168, 0, 1]), 1, proto::ICMP, 0);
        assert_eq!(k.side(s).0, Addr::v4([192, 168, 0, 89]));
        assert_ne!(community_id(&k, s.other()), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
        // A protocol without ports: the addresses alone (the spec's vector is RSVP, 46; ESP
        // is hashed the same way), in either order.
        assert_eq!(
            community_id_of(&Addr::v4([10, 1, 12, 1]), &Addr::v4([10, 1, 12, 2]), None, 46),
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="
        );
        assert_eq!(
            community_id_of(&Addr::v4([10, 1, 12, 2]), &Addr::v4([10, 1, 12, 1]), None, 46),
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="
        );
        let (k, s) = FlowKey::new(Addr::v4([10, 1, 12, 1]), 0, Addr::v4([10, 1, 12, 2]), 0, proto::ESP, 0);
        assert_eq!(
            community_id(&k, s),
            community_id_of(&Addr::v4([10, 1, 12, 1]), &Addr::v4([10, 1, 12, 2]), None, proto::ESP)
        );
    }
    // Tests below were added from mutation testing (MUTATION.md): alert kinds, severities,
    // endpoints, ids and the relayed / chain / multiple-tool alerts, each pinned where a
    // mutant changed them without any other test noticing.

    use farhand_model::evidence::VncEvidence;
    use farhand_model::session::ChainStats;
    use farhand_model::session::KeystrokeStats;
    use farhand_model::session::{LatStats, LegStats, Summary};
    use farhand_model::{Finding, FindingKind};

    const OUT: [u8; 4] = [203, 0, 113, 9];
    const EP: [u8; 4] = [10, 0, 0, 5];

    fn verdict() -> Verdict {
        Verdict::new(HomeNets::new(vec!["10.0.0.0/8".parse().unwrap()]))
    }

    use crate::testutil::{finding, matched, session};

    fn judge(v: &mut Verdict, f: &Finding) -> Vec<Alert> {
        let mut out = Vec::new();
        v.judge(f, &mut out);
        out
    }

    fn kinds(alerts: &[Alert]) -> Vec<(AlertKind, Severity)> {
        alerts.iter().map(|a| (a.kind, a.severity)).collect()
    }

    /// Timing with a far-leg 10th percentile of `app_ms` over a 1 ms transport RTT, 20 keys,
    /// and the stepping-stone figures `chain`.
    fn timing(app_ms: f64, chain: Option<ChainStats>) -> Summary {
        let lat = |ms: f64| LatStats { n: 20, min_ms: ms, p10_ms: ms, p50_ms: ms, p90_ms: ms };
        Summary {
            tool: Tool::Ssh,
            transport_rtt: LegStats { initiator: Some(lat(1.0)), responder: Some(lat(0.2)) },
            app_rtt_far: Some(lat(app_ms)),
            app_rtt_far_estimate: Some(farhand_model::session::FarEstimate {
                ms: Some(app_ms),
                agreeing: 20,
                of: 20,
                spread_ms: Some(0.0),
                status: "ok",
            }),
            transport_rtt_estimate: farhand_model::session::LegEstimates { initiator: None, responder: None },
            app_rtt_far_alternatives_ms: None,
            app_rtt_near: None,
            keystrokes: Some(KeystrokeStats {
                keys: 20,
                bursts: 2,
                intervals: 18,
                iki_p10_ms: None,
                iki_median_ms: None,
                iki_p90_ms: None,
                iki_cv: None,
                rhythm: "human",
            }),
            chain,
        }
    }

    #[test]
    fn severity_by_kind_and_direction() {
        let mut v = verdict();
        let inbound = judge(&mut v, &session(Tool::Vnc, (OUT, 50_000), (EP, 5900), 1_000_000));
        assert_eq!(kinds(&inbound), vec![(AlertKind::RemoteControlSession, Severity::Low)]);
        assert_eq!((inbound[0].direction, inbound[0].endpoint.ip), (Direction::Inbound, Addr::v4(EP)));
        let mut v = verdict();
        let outbound = judge(&mut v, &session(Tool::Vnc, (EP, 50_000), (OUT, 5900), 1_000_000));
        assert_eq!(kinds(&outbound), vec![(AlertKind::RemoteControlSession, Severity::Informational)]);
        assert_eq!(outbound[0].direction, Direction::Outbound);
        // A relay (STUN/TURN) is informational; a VPN is medium.
        let relay = judge(&mut v, &session(Tool::StunTurn, (EP, 50_001), (OUT, 3478), 1_000_000));
        assert_eq!(kinds(&relay), vec![(AlertKind::AnonymizingTunnel, Severity::Informational)]);
        let vpn = judge(&mut v, &session(Tool::WireGuard, (EP, 50_002), (OUT, 51_820), 1_000_000));
        assert_eq!(kinds(&vpn), vec![(AlertKind::AnonymizingTunnel, Severity::Medium)]);
    }

    #[test]
    fn relayed_message_names_the_transport_figure() {
        let mut v = verdict();
        let mut f = session(Tool::Ssh, (OUT, 50_000), (EP, 22), 1_000_000);
        f.behaviour = Some(timing(121.0, None));
        let a = judge(&mut v, &f);
        assert!(a[1].message.contains("is 1.0 ms (smallest of 20): a gap of 120.0 ms"), "{}", a[1].message);
        // The transport samples agree at 250 ms and the answers come at 295, inside that
        // agreement's ±50 ms window: the gap (45 ms) is against the agreement, and says so.
        let mut t = timing(295.0, None);
        t.transport_rtt.initiator =
            Some(LatStats { n: 20, min_ms: 200.0, p10_ms: 210.0, p50_ms: 250.0, p90_ms: 280.0 });
        t.transport_rtt_estimate.initiator = Some(farhand_model::session::FarEstimate {
            ms: Some(250.0),
            agreeing: 18,
            of: 20,
            spread_ms: Some(30.0),
            status: "ok",
        });
        let mut f = session(Tool::Ssh, (OUT, 50_001), (EP, 22), 2_000_000);
        f.behaviour = Some(t);
        let a = judge(&mut v, &f);
        let r = a.iter().find(|a| a.kind == AlertKind::RelayedRemoteControl).expect("relayed");
        assert!(r.message.contains("is 250.0 ms (where 18 of 20 samples agree): a gap of 45.0 ms"), "{}", r.message);
        assert_eq!(r.gap.as_ref().map(|g| g.transport_basis), Some(TransportBasis::Agreement));
    }

    #[test]
    fn relayed_alert_only_for_inbound_remote_control() {
        let mut v = verdict();
        let mut f = session(Tool::Ssh, (OUT, 50_000), (EP, 22), 1_000_000);
        f.behaviour = Some(timing(121.0, None));
        let a = judge(&mut v, &f);
        assert_eq!(
            kinds(&a),
            vec![(AlertKind::RemoteControlSession, Severity::Low), (AlertKind::RelayedRemoteControl, Severity::High)]
        );
        assert_ne!(a[0].id, a[1].id);
        assert!(a[1].gap.as_ref().is_some_and(|g| g.relayed && g.gap_ms == 120.0), "{:?}", a[1].gap);
        // The same gap on the endpoint's own outbound session: no relayed alert.
        let mut f = session(Tool::Ssh, (EP, 50_000), (OUT, 22), 1_000_000);
        f.behaviour = Some(timing(121.0, None));
        assert_eq!(kinds(&judge(&mut v, &f)), vec![(AlertKind::RemoteControlSession, Severity::Informational)]);
        // A gap under the threshold: none either.
        let mut f = session(Tool::Ssh, (OUT, 50_001), (EP, 22), 1_000_000);
        f.behaviour = Some(timing(30.0, None));
        assert_eq!(kinds(&judge(&mut v, &f)), vec![(AlertKind::RemoteControlSession, Severity::Low)]);
    }

    #[test]
    fn chain_alert_when_chained() {
        let chain = |chained: bool| ChainStats {
            on_periods: 8,
            matched: 6,
            share: 0.75,
            median_lag_ms: Some(3.0),
            driver: Some("203.0.113.9".into()),
            chained,
            keys: 30,
            matched_keys: 7,
            key_share: 0.23,
            key_lag_median_ms: Some(3.0),
            key_lag_p90_ms: Some(4.0),
            key_chance: 0.2,
            coincidence_p: 0.39,
            rule: chained.then_some("periods"),
        };
        let mut v = verdict();
        let mut f = session(Tool::Ssh, (EP, 50_000), ([198, 51, 100, 7], 22), 1_000_000);
        f.behaviour = Some(timing(5.0, Some(chain(true))));
        let a = judge(&mut v, &f);
        assert_eq!(
            kinds(&a),
            vec![
                (AlertKind::RemoteControlSession, Severity::Informational),
                (AlertKind::InteractiveRelayChain, Severity::Critical)
            ]
        );
        assert_ne!(a[0].id, a[1].id);
        assert!(a[1].message.contains("6 of its 8 typing periods"), "{}", a[1].message);
        assert!(!a[1].message.contains("keystrokes"), "{}", a[1].message);
        let mut f = session(Tool::Ssh, (EP, 50_001), ([198, 51, 100, 7], 22), 1_000_000);
        f.behaviour = Some(timing(5.0, Some(chain(false))));
        assert_eq!(judge(&mut v, &f).len(), 1);
        // Chained by its keystrokes: the message gives their figures, not the periods'.
        let keys = ChainStats {
            on_periods: 3,
            matched: 3,
            share: 1.0,
            matched_keys: 118,
            keys: 120,
            key_share: 0.98,
            key_lag_median_ms: Some(3.4),
            key_lag_p90_ms: Some(4.6),
            key_chance: 0.21,
            coincidence_p: 2.7e-78,
            rule: Some("keys"),
            ..chain(true)
        };
        let mut f = session(Tool::Ssh, (EP, 50_002), ([198, 51, 100, 7], 22), 1_000_000);
        f.behaviour = Some(timing(5.0, Some(keys.clone())));
        let a = judge(&mut v, &f);
        assert_eq!(a[1].kind, AlertKind::InteractiveRelayChain);
        let m = &a[1].message;
        for want in [
            "118 of its 120 keystrokes followed input on a session controlling 10.0.0.5 (from 203.0.113.9)",
            "lag median 3.4 ms, p90 4.6 ms",
            "118 or more such keys by coincidence (a chance of 21 % per key at the driving input's rate) had a \
             probability of 2.7e-78",
        ] {
            assert!(m.contains(want), "{want:?} in {m}");
        }
        assert!(!m.contains("typing periods"), "{m}");
        // Both rules: both sets of figures; a small per-key chance keeps a decimal.
        let both = ChainStats { rule: Some("periods_and_keys"), key_chance: 0.052, ..keys };
        let mut f = session(Tool::Ssh, (EP, 50_003), ([198, 51, 100, 7], 22), 1_000_000);
        f.behaviour = Some(timing(5.0, Some(both)));
        let m = &judge(&mut v, &f)[1].message;
        assert!(m.contains("3 of its 3 typing periods") && m.contains("; and 118 of its 120 keystrokes"), "{m}");
        assert!(m.contains("(a chance of 5.2 % per key"), "{m}");
    }

    #[test]
    fn multiple_tools_once_per_new_tool_and_again_after_expiry() {
        let mut v = verdict();
        let hour = MULTI_TOOL_WINDOW;
        let mut port = 50_000;
        let mut multi = |v: &mut Verdict, tool: Tool, at: Micros| {
            port += 1;
            let a = judge(v, &session(tool, (OUT, port), (EP, 5900), at));
            a.iter().filter(|a| a.kind == AlertKind::MultipleRemoteTools).count()
        };
        assert_eq!(multi(&mut v, Tool::Vnc, 1_000_000), 0);
        assert_eq!(multi(&mut v, Tool::Rdp, 2_000_000), 1);
        // The same two tools again: nothing new.
        assert_eq!(multi(&mut v, Tool::Rdp, 3_000_000), 0);
        assert_eq!(multi(&mut v, Tool::Vnc, 4_000_000), 0);
        // A third tool joins: raised again.
        assert_eq!(multi(&mut v, Tool::TeamViewer, 5_000_000), 1);
        // Two hours later only one tool is recent; a second one then raises it anew.
        assert_eq!(multi(&mut v, Tool::Vnc, 2 * hour), 0);
        assert_eq!(multi(&mut v, Tool::Rdp, 2 * hour + 1_000_000), 1);
        // Outbound SSH does not count as a tool on the endpoint.
        let mut v = verdict();
        assert_eq!(multi(&mut v, Tool::Vnc, 1_000_000), 0);
        let ssh = judge(&mut v, &session(Tool::Ssh, (EP, 40_000), (OUT, 22), 2_000_000));
        assert_eq!(kinds(&ssh), vec![(AlertKind::RemoteControlSession, Severity::Informational)]);
    }

    #[test]
    fn ip_kvm_findings_do_not_count_as_tools() {
        use farhand_model::evidence::IpKvmEvidence;
        let mut v = verdict();
        let e = IpKvmEvidence {
            mac: "dc:a6:32:00:00:01".into(),
            vendor: "Raspberry Pi",
            hardware: farhand_model::evidence::HARDWARE_SBC,
            routed: false,
        };
        let mut kvm = session(Tool::IpKvm, (EP, 68), ([10, 0, 0, 1], 67), 1_000_000);
        kvm.kind = FindingKind::IpKvmSuspected(matched(Tool::IpKvm, Evidence::IpKvm(e)));
        // A Raspberry Pi alone: Low (verdict::kvm weighs the device's signs).
        assert_eq!(kinds(&judge(&mut v, &kvm)), vec![(AlertKind::IpKvmSuspected, Severity::Low)]);
        let a = judge(&mut v, &session(Tool::Vnc, (OUT, 50_000), (EP, 5900), 2_000_000));
        assert_eq!(kinds(&a), vec![(AlertKind::RemoteControlSession, Severity::Low)]);
    }

    #[test]
    fn a_device_naming_itself_in_dhcp_is_the_endpoint() {
        use farhand_model::evidence::NameEvidence;
        let name = |field: &'static str| {
            let e = NameEvidence {
                tool_name: "pikvm".into(),
                tool_title: "PiKVM".into(),
                category: Category::RemoteControl,
                field,
                value: "pikvm".into(),
                pattern: "pikvm".into(),
                source: "test".into(),
                tls: None,
                answers: Vec::new(),
            };
            matched(Tool::IpKvm, Evidence::Name(Box::new(e)))
        };
        let (device, server) = ([10, 0, 0, 7], [10, 0, 0, 1]);
        let mut v = verdict();
        let a = judge(&mut v, &finding(name("dhcp_hostname"), (device, 68), (server, 67), 1_000_000));
        assert_eq!(a[0].kind, AlertKind::IpKvmSuspected);
        assert_eq!(a[0].endpoint.ip, Addr::v4(device));
        // Named elsewhere (an outside host reaching the device by name): the usual rule, the
        // inside side.
        let a = judge(&mut v, &finding(name("http_host"), (OUT, 50_000), (device, 443), 1_000_000));
        assert_eq!(a[0].endpoint.ip, Addr::v4(device));
        // The same hostname field on another tool's name evidence: the usual rule (both inside,
        // remote control: the server).
        let mut m = name("dhcp_hostname");
        m.tool = Tool::Vnc;
        let a = judge(&mut v, &finding(m, (device, 68), (server, 67), 1_000_000));
        assert_eq!(a[0].endpoint.ip, Addr::v4(server));
    }

    #[test]
    fn alert_ids_start_at_the_handshake_and_differ_per_session() {
        let mut v = verdict();
        let mut f = session(Tool::Vnc, (OUT, 50_000), (EP, 5900), 2_000_000);
        f.flow.handshake = [1_000_000, 1_000_100, 1_000_200];
        let a = judge(&mut v, &f);
        let cid = community_id(&f.flow.key, f.flow.initiator);
        assert_eq!(a[0].id, alert_id(&cid, 1_000_000, Tool::Vnc));
        assert!(a[0].id.len() == 20 && a[0].id.bytes().all(|b| b.is_ascii_hexdigit()), "{}", a[0].id);
        // Without a handshake: the first packet; a later session of the same 5-tuple (beyond
        // SESSION_GAP) is a new alert with a new id.
        let f1 = session(Tool::Vnc, (OUT, 50_001), (EP, 5900), 1_000_000);
        let f2 = session(Tool::Vnc, (OUT, 50_001), (EP, 5900), 1_000_000 + 2 * SESSION_GAP);
        let (a1, a2) = (judge(&mut v, &f1), judge(&mut v, &f2));
        assert_eq!(a1[0].id, alert_id(&community_id(&f1.flow.key, f1.flow.initiator), 1_000_000, Tool::Vnc));
        assert_ne!(a1[0].id, a2[0].id);
        assert_eq!((a1[0].activity, a2[0].activity), (Activity::Create, Activity::Create));
        // Resumed within the gap: an update of the same id.
        let f3 = session(Tool::Vnc, (OUT, 50_001), (EP, 5900), 2_000_000 + 2 * SESSION_GAP);
        let a3 = judge(&mut v, &f3);
        assert_eq!((a3[0].id.as_str(), a3[0].activity), (a2[0].id.as_str(), Activity::Update));
    }

    #[test]
    fn evidence_note_lists_short_fields() {
        use farhand_model::evidence::{Magic, TeamViewerEvidence};
        let e = Evidence::Teamviewer(TeamViewerEvidence {
            transport: Transport::Tcp,
            magics: vec![Magic::V1, Magic::V2],
            client_commands: Vec::new(),
            server_commands: Vec::new(),
            client_frames: 3,
            server_frames: 0,
        });
        let note = evidence_note(&e);
        assert!(note.starts_with(" Evidence: "), "{note}");
        assert!(note.contains("magics=1724+1130"), "{note}");
        assert!(note.contains("client_frames=3"), "{note}");
        assert!(!note.contains("client_commands"), "empty lists are left out: {note}");
        let long = "x".repeat(65);
        let e = Evidence::Vnc(VncEvidence {
            server_version: Some("x".repeat(64)),
            client_version: Some(long.clone()),
            ..VncEvidence::default()
        });
        let note = evidence_note(&e);
        assert!(note.contains(&format!("server_version={}", "x".repeat(64))), "{note}");
        assert!(!note.contains(&long), "strings over 64 bytes are left out: {note}");
        assert_eq!(evidence_note(&Evidence::Vnc(VncEvidence::default())), "");
        // The protocol tag and the algorithm lists are left to the structured fields.
        let e = Evidence::Ssh(farhand_model::evidence::SshEvidence {
            client_banner: None,
            server_banner: None,
            hassh: Some("abc".into()),
            hassh_algorithms: Some("curve25519-sha256".into()),
            hassh_server: None,
            hassh_server_algorithms: None,
        });
        assert_eq!(evidence_note(&e), " Evidence: hassh=abc.");
    }
    #[test]
    fn open_sessions_are_forgotten_past_the_limit_oldest_first() {
        let fill = |v: &mut Verdict, n: usize| {
            for i in 0..n {
                v.sessions.insert((format!("old-{i}"), "vnc".into()), (format!("id-{i}"), 0));
            }
        };
        let late = 2 * SESSION_GAP;
        // At the limit nothing is forgotten.
        let mut v = verdict();
        fill(&mut v, MAX_OPEN_SESSIONS - 1);
        judge(&mut v, &session(Tool::Vnc, (OUT, 50_000), (EP, 5900), late));
        assert_eq!(v.sessions.len(), MAX_OPEN_SESSIONS);
        // One more: the sessions idle beyond SESSION_GAP go, the recent one stays and resumes.
        let mut v = verdict();
        fill(&mut v, MAX_OPEN_SESSIONS);
        let first = judge(&mut v, &session(Tool::Vnc, (OUT, 50_000), (EP, 5900), late));
        assert_eq!(v.sessions.len(), 1);
        let again = judge(&mut v, &session(Tool::Vnc, (OUT, 50_000), (EP, 5900), late + 2_000_000));
        assert_eq!((again[0].id.as_str(), again[0].activity), (first[0].id.as_str(), Activity::Update));
    }

    // From abroad: the verdict with enrichment, ownership lists, a policy and a location.
    mod abroad {
        use super::*;
        use crate::enrich::live::EnrichConfig;
        use crate::enrich::mmdb_write::{IpVersion, MmdbWriter, Record, Value as Val};
        use crate::physics::Location;
        use crate::policy::{Policy, Stance};
        use farhand_model::evidence::StunEvidence;
        use farhand_model::owner::{Owner, OwnerKind, OwnersBuilder};

        /// A Hetzner-like foreign controller and a domestic one.
        const DE_CTRL: [u8; 4] = [157, 90, 0, 66];
        const US_CTRL: [u8; 4] = [8, 8, 8, 8];

        /// The verdict with a country DB (157.90/16 DE, 8.8.8/24 US), an ASN CSV, the
        /// ownership list (AS24940 hosting), `policy` and `location`.
        fn verdict_with(policy: Policy, location: Option<Location>) -> (Verdict, tempfile::TempDir) {
            let dir = tempfile::tempdir().unwrap();
            let mut w = MmdbWriter::new("Test-Country", IpVersion::V6);
            for (net, cc) in [("157.90.0.0/16", "DE"), ("8.8.8.0/24", "US")] {
                w.insert(net.parse().unwrap(), Record::new().with("country_code", Val::Str(cc.into()))).unwrap();
            }
            let mut bytes = Vec::new();
            w.write(&mut bytes).unwrap();
            std::fs::write(dir.path().join("c.mmdb"), bytes).unwrap();
            std::fs::write(
                dir.path().join("asn.csv"),
                "157.90.0.0,157.90.255.255,24940,Hetzner Online GmbH\n8.8.8.0,8.8.8.255,15169,Google LLC\n",
            )
            .unwrap();
            let enrich = EnrichConfig {
                country_db: vec![dir.path().join("c.mmdb")],
                asn_db: vec![dir.path().join("asn.csv")],
                reload_every: None,
            }
            .open()
            .unwrap();
            let mut owners = OwnersBuilder::new();
            let owner = Owner { name: "Hetzner".into(), kind: OwnerKind::Hosting, note: None, source: None };
            owners.add(owner, &[24940], &[]);
            let (v, _) = VerdictConfig {
                home: HomeNets::new(vec!["10.0.0.0/8".parse().unwrap()]),
                relay: Default::default(),
                enrich,
                owners: Arc::new(owners.build()),
                policy: Arc::new(policy),
                location,
            }
            .build();
            (v, dir)
        }

        fn home(cc: &[&str]) -> Policy {
            Policy::default().with_home_countries(cc.iter().map(|c| c.to_string()))
        }

        fn with_rtt(mut f: Finding, rtt_us: u64) -> Finding {
            let t = f.flow.first_ts;
            f.flow.handshake = [t, t + 100, t + 100 + rtt_us];
            f
        }

        fn abroad_of(alerts: &[Alert]) -> Vec<&Alert> {
            alerts.iter().filter(|a| a.kind == AlertKind::RemoteControlFromAbroad).collect()
        }

        #[test]
        fn a_controller_outside_the_home_countries_is_from_abroad() {
            let (mut v, _d) = verdict_with(home(&["US"]), None);
            let out = judge(&mut v, &session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000));
            assert_eq!(
                kinds(&out),
                vec![
                    (AlertKind::RemoteControlSession, Severity::Low),
                    (AlertKind::RemoteControlFromAbroad, Severity::High),
                    // The endpoint's episode: abroad 30 + remote control 10 + hosting 5.
                    (AlertKind::RemoteControlEpisode, Severity::Medium)
                ]
            );
            let a = abroad_of(&out)[0];
            let ab = a.abroad.as_ref().unwrap();
            assert_eq!(
                (ab.who, ab.country.as_deref(), ab.asn, ab.by),
                ("controller", Some("DE"), Some(24940), "country")
            );
            assert!(
                a.message
                    .contains("157.90.0.66 (AS24940 Hetzner Online GmbH), is in DE, outside the home countries (US)"),
                "{}",
                a.message
            );
            assert!(a.message.contains("listed as hosting (Hetzner)"), "{}", a.message);
            assert_eq!(out[0].context.owner.as_ref().map(|o| o.kind), Some(OwnerKind::Hosting));
            // The same session from a domestic controller, or with no home countries: nothing.
            let out = judge(&mut v, &session(Tool::Vnc, (US_CTRL, 50_000), (EP, 5900), 1_000_000));
            assert!(abroad_of(&out).is_empty() && out[0].peer_info.country.as_deref() == Some("US"));
            let (mut v, _d) = verdict_with(Policy::default(), None);
            assert!(
                abroad_of(&judge(&mut v, &session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000))).is_empty()
            );
            let (mut v, _d) = verdict_with(home(&["DE", "US"]), None);
            assert!(
                abroad_of(&judge(&mut v, &session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000))).is_empty()
            );
        }

        #[test]
        fn benign_by_policy_stays_informational_and_forbidden_tools_are_high() {
            let helpdesk = home(&["US"])
                .with_helpdesk_hosts(["157.90.0.0/24".parse().unwrap()])
                .with_tool("vnc", Stance::Sanctioned);
            let (mut v, _d) = verdict_with(helpdesk, None);
            let out = judge(&mut v, &session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000));
            assert_eq!(kinds(&out), vec![(AlertKind::RemoteControlSession, Severity::Informational)]);
            assert!(
                out[0].message.contains("the peer is a helpdesk host; the tool is sanctioned"),
                "{}",
                out[0].message
            );
            let allow = home(&["US"]).with_allowlist(["10.0.0.5/32".parse().unwrap()]);
            let (mut v, _d) = verdict_with(allow, None);
            let out = judge(&mut v, &session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000));
            assert_eq!(kinds(&out), vec![(AlertKind::RemoteControlSession, Severity::Informational)]);
            // Sanctioned but from abroad: the session keeps its severity and abroad is raised.
            let (mut v, _d) = verdict_with(home(&["US"]).with_tool("vnc", Stance::Sanctioned), None);
            let out = judge(&mut v, &session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000));
            assert_eq!(out[0].severity, Severity::Low);
            assert_eq!(abroad_of(&out).len(), 1);
            let (mut v, _d) = verdict_with(home(&["US"]).with_tool("vnc", Stance::Forbidden), None);
            let out = judge(&mut v, &session(Tool::Vnc, (US_CTRL, 50_000), (EP, 5900), 1_000_000));
            assert_eq!(kinds(&out), vec![(AlertKind::RemoteControlSession, Severity::High)]);
            let out = judge(&mut v, &session(Tool::Vnc, (EP, 50_001), (US_CTRL, 5900), 1_000_000));
            assert_eq!(kinds(&out), vec![(AlertKind::RemoteControlSession, Severity::Medium)]);
        }

        #[test]
        fn physics_contradiction_is_reported_and_the_country_not_trusted() {
            let new_york = Location::Point { lat: 40.7, lon: -74.0 };
            let (mut v, _d) = verdict_with(home(&["US"]), Some(new_york.clone()));
            // 1 ms from New York to a German address: impossible.
            let f = with_rtt(session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000), 1_000);
            let out = judge(&mut v, &f);
            assert!(abroad_of(&out).is_empty(), "{:?}", kinds(&out));
            let p = out[0].context.physics.unwrap();
            assert!(p.contradicted && (p.rtt_ms - 1.0).abs() < 1e-9 && p.bound_km == 100.0, "{p:?}");
            assert!(out[0].message.contains("Location contradicted: the 1.000 ms round trip"), "{}", out[0].message);
            // 90 ms: Germany is reachable; abroad, and the message says the physics agrees.
            let (mut v, _d) = verdict_with(home(&["US"]), Some(new_york));
            let f = with_rtt(session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000), 90_000);
            let out = judge(&mut v, &f);
            let a = abroad_of(&out)[0];
            assert!(!a.context.physics.unwrap().contradicted);
            assert!(
                a.message.contains("The 90.0 ms round trip to it is consistent with that country"),
                "{}",
                a.message
            );
        }

        #[test]
        fn a_turn_peer_abroad_counts_once_the_endpoint_is_remote_controlled() {
            let (mut v, _d) = verdict_with(home(&["US"]), None);
            let stun = |first| {
                let e = StunEvidence { peer_addresses: vec!["157.90.1.1:3478".into()], ..Default::default() };
                finding(matched(Tool::StunTurn, Evidence::Stun(e)), (EP, 40_000), (US_CTRL, 3478), first)
            };
            // Alone: a relay session, nothing more.
            assert!(abroad_of(&judge(&mut v, &stun(1_000_000))).is_empty());
            // After a remote-control session on the endpoint: the TURN peer is the controller.
            judge(&mut v, &session(Tool::Vnc, (US_CTRL, 50_000), (EP, 5900), 2_000_000));
            let out = judge(&mut v, &stun(3_000_000));
            let ab = abroad_of(&out)[0].abroad.clone().unwrap();
            assert_eq!(
                (ab.who, ab.ip.to_string(), ab.country.as_deref()),
                ("turn_peer", "157.90.1.1".into(), Some("DE"))
            );
        }

        #[test]
        fn a_relay_gap_beyond_the_home_countries_is_from_abroad() {
            let berlin = Location::Point { lat: 52.52, lon: 13.40 };
            let (mut v, _d) = verdict_with(home(&["DE"]), Some(berlin));
            // The visible peer is a documentation address (no country); the gap (149 ms)
            // puts the controller ~6,900 km beyond it: farther than any point of Germany.
            let mut f = session(Tool::Vnc, (OUT, 50_000), (EP, 5900), 1_000_000);
            f.behaviour = Some(timing(150.0, None));
            let out = judge(&mut v, &f);
            let a = abroad_of(&out)[0];
            let ab = a.abroad.as_ref().unwrap();
            assert_eq!((ab.who, ab.by), ("controller_beyond_relay", "relay_gap_distance"));
            let (least, farthest) = ab.distance_km.unwrap();
            assert!(least > 6_000.0 && farthest < 1_200.0, "{least} {farthest}");
            assert!(a.message.contains("beyond every point of the home countries (DE"), "{}", a.message);
            // The same gap seen from New York with the US at home: ~6,900 km stays within
            // the US (Hawaii, Alaska), so the gap alone does not say abroad.
            let new_york = Location::Point { lat: 40.7, lon: -74.0 };
            let (mut v, _d) = verdict_with(home(&["US"]), Some(new_york));
            let mut f = session(Tool::Vnc, (OUT, 50_001), (EP, 5900), 1_000_000);
            f.behaviour = Some(timing(150.0, None));
            let out = judge(&mut v, &f);
            assert!(out.iter().any(|a| a.kind == AlertKind::RelayedRemoteControl));
            assert!(abroad_of(&out).is_empty());
        }

        #[test]
        fn a_relayed_alert_places_its_relay_and_the_band_beyond_it() {
            let berlin = Location::Point { lat: 52.52, lon: 13.40 };
            let (mut v, _d) = verdict_with(home(&["DE"]), Some(berlin));
            let mut f = with_rtt(session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000), 10_000);
            f.behaviour = Some(timing(150.0, None));
            let out = judge(&mut v, &f);
            let r = out.iter().find(|a| a.kind == AlertKind::RelayedRemoteControl).unwrap();
            assert!(
                r.message.contains("The relay 157.90.0.66 is geolocated in DE (at least 0 km from the sensor); the hand on the keyboard is 7350-14700 km beyond it."),
                "{}",
                r.message
            );
        }

        fn episodes(alerts: &[Alert]) -> Vec<&Alert> {
            alerts.iter().filter(|a| a.kind == AlertKind::RemoteControlEpisode).collect()
        }

        #[test]
        fn an_episode_grows_under_one_id_and_explains_its_score() {
            let policy = home(&["US"]).with_tool("rdp", Stance::Forbidden);
            let (mut v, _d) = verdict_with(policy, None);
            // VNC from Germany: abroad 30 + remote control 10 + hosting 5 = 45 (Medium).
            let first = judge(&mut v, &session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000));
            let e1 = episodes(&first)[0].clone();
            let view = e1.episode.clone().unwrap();
            assert_eq!((view.score, e1.severity, e1.activity), (45, Severity::Medium, Activity::Create));
            let signs: Vec<(&str, u8)> = view.signs.iter().map(|s| (s.kind.name(), s.points)).collect();
            assert_eq!(signs, [("abroad", 30), ("remote_control", 10), ("anonymous_network", 5)]);
            assert!(
                e1.message.contains("Score 45 of 100 (Medium): abroad +30 (controller 157.90.0.66, AS24940 in DE)"),
                "{}",
                e1.message
            );
            // The same session reported again (same signs, tools, countries): no new episode alert.
            let again = judge(&mut v, &session(Tool::Vnc, (DE_CTRL, 50_000), (EP, 5900), 1_000_000));
            assert!(episodes(&again).is_empty());
            // A forbidden second tool: + forbidden 15 + several tools 10 = 70 (High), same id, update.
            let second = judge(&mut v, &session(Tool::Rdp, (DE_CTRL, 50_001), (EP, 3389), 2_000_000));
            let e2 = episodes(&second)[0];
            assert_eq!((e2.id.as_str(), e2.activity), (e1.id.as_str(), Activity::Update));
            assert_eq!((e2.episode.as_ref().unwrap().score, e2.severity), (70, Severity::High));
            assert_eq!(e2.related_tools, ["rdp", "vnc"]);
            // Thirteen hours later the episode is over: a new one, a new id.
            let later = 2_000_000 + episode::EPISODE_GAP + 3_600_000_000;
            let third = judge(&mut v, &session(Tool::Vnc, (DE_CTRL, 50_002), (EP, 5900), later));
            assert_ne!(episodes(&third)[0].id, e1.id);
        }

        #[test]
        fn benign_sessions_and_domestic_ones_make_no_episode() {
            // A helpdesk host abroad: nothing adds up.
            let policy = home(&["US"]).with_helpdesk_hosts(["157.90.0.0/16".parse().unwrap()]);
            let (mut v, _d) = verdict_with(policy, None);
            for (i, tool) in [Tool::Vnc, Tool::Rdp, Tool::Ssh].into_iter().enumerate() {
                let port = 50_000 + u16::try_from(i).unwrap();
                assert!(episodes(&judge(&mut v, &session(tool, (DE_CTRL, port), (EP, 22), 1_000_000))).is_empty());
            }
            // Ordinary remote control from home: remote control 10 + several tools 10 = 20 < 40.
            let (mut v, _d) = verdict_with(home(&["US"]), None);
            judge(&mut v, &session(Tool::Vnc, (US_CTRL, 50_000), (EP, 5900), 1_000_000));
            assert!(episodes(&judge(&mut v, &session(Tool::Rdp, (US_CTRL, 50_001), (EP, 3389), 1_000_000))).is_empty());
            assert_eq!(episode::severity(19), Severity::Informational);
            assert_eq!(episode::severity(40), Severity::Medium);
            assert_eq!(episode::severity(100), Severity::Critical);
        }
    }
}
