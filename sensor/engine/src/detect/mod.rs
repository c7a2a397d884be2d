//! Detect: detectors that turn flows into [`Finding`]s.
//!
//! # Contract
//! - Detector state lives in the flow ([`DetectState`], a closed enum behind one pointer):
//!   no dynamic typing, nothing shared between threads.
//! - A flow starts empty. Its first payload starts [`Active::Probing`]: the [`Engine`]
//!   gathers the first payload bytes of each direction (in TCP sequence order; the first
//!   datagram of each direction for UDP, plus the first byte and length of up to
//!   [`fingerprint::MAX_DATAGRAM_HEADS`] datagrams while a fingerprint that reads them is still
//!   possible) and asks every fingerprint still possible. It ends
//!   as [`Active::Session`] (a fingerprint matched) or empty again (all said no, or the probe
//!   limits ran out), with `Flow::settled` set: after that the flow costs the detectors
//!   nothing per packet.
//! - A flow nothing in its own bytes names may be linked to another the engine recognised:
//!   a DNS answer the endpoint received for a tool's name, an indicator address range, a
//!   WebRTC tool named just before, a tinc meta connection between the same hosts.
//! - A flow that ends while probing gets one last look with `finished` set, so one-sided or
//!   short captures are still recognised when the evidence allows.
//! - Findings are produced when a flow record ends ([`Engine::finding`]); they carry the
//!   flow summary the verdict needs.

pub mod correlate;
pub mod fingerprint;
pub mod identity;
pub mod names;
pub mod nested;
pub mod watch;
use crate::behaviour::stream::{Cursor, Fresh};
use crate::decode::PacketView;
use crate::flow::{self, FlowState};
use crate::indicators::Indicators;
use correlate::{Correlator, FlowFacts};
use farhand_model::Micros;
use farhand_model::anomaly::AnomalyCounts;
use farhand_model::net::{FlowKey, Role, Side};
use farhand_model::tool::{Match, Transport};
use farhand_model::{Finding, FindingKind, FlowSummary, HomeNets, Via};
use fingerprint::{Exchange, Fingerprint, Outcome};
use std::sync::Arc;

/// Most payload packets a flow may take before the probe gives up.
pub const MAX_PROBE_PACKETS: u16 = 32;

/// What a flow's detectors hold while they work on it, or after they recognised it.
#[derive(Debug)]
pub enum Active {
    /// Gathering first bytes for the fingerprints still possible.
    Probing(Probe),
    /// Recognised as a remote-control session.
    Session(Session),
}

/// Per-flow detector state: empty for a fresh or unrecognised flow (8 bytes in the flow),
/// boxed while probing and once a session is recognised. Whether the detectors are finished
/// with the flow is [`crate::flow::Flow::settled`].
#[derive(Debug, Default)]
pub struct DetectState {
    active: Option<Box<Active>>,
}

impl DetectState {
    /// Whether the flow is a recognised session.
    pub fn is_session(&self) -> bool {
        matches!(self.active.as_deref(), Some(Active::Session(_)))
    }

    /// The recognised session, if any.
    pub fn session(&self) -> Option<&Session> {
        match self.active.as_deref() {
            Some(Active::Session(s)) => Some(s),
            _ => None,
        }
    }

    /// Whether this is a recognised session whose timing is read.
    #[inline]
    pub fn has_behaviour(&self) -> bool {
        matches!(self.active.as_deref(), Some(Active::Session(s)) if s.behaviour.is_some())
    }

    /// The timing state of a recognised session, if its timing is read.
    pub fn behaviour_mut(&mut self) -> Option<&mut crate::behaviour::Behaviour> {
        match self.active.as_deref_mut() {
            Some(Active::Session(s)) => s.behaviour.as_deref_mut(),
            _ => None,
        }
    }

    /// A copy of a session's state (for periodic reports); empty otherwise.
    pub fn clone_session(&self) -> DetectState {
        match self.active.as_deref() {
            Some(Active::Session(s)) => DetectState { active: Some(Box::new(Active::Session(s.clone()))) },
            _ => DetectState::default(),
        }
    }
}

impl FlowState for DetectState {
    fn is_session(&self) -> bool {
        DetectState::is_session(self)
    }
    #[inline]
    fn follows_packets(&self) -> bool {
        self.has_behaviour()
    }
    fn report_copy(&self) -> Self {
        self.clone_session()
    }
}

/// A flow of the engine's flow table: the table's counters plus the detectors' state.
pub type Flow = flow::Flow<DetectState>;
/// A flow record of the engine's flow table.
pub type FlowRecord = flow::FlowRecord<DetectState>;
/// The engine's flow table.
pub type FlowTable = flow::FlowTable<DetectState>;

/// A recognised session's detector state.
#[derive(Debug, Clone)]
pub struct Session {
    /// What was recognised.
    pub found: Match,
    /// The fingerprint that matched (for its name and version).
    pub detector: &'static str,
    /// Version of that fingerprint.
    pub version: &'static str,
    /// When it was recognised.
    pub ts: Micros,
    /// The wrapper the tool was found inside (proxy tunnel, WebSocket), if any.
    pub via: Option<Via>,
    /// Timing state (transport and application RTT, keystrokes), for the tools whose
    /// timing is read.
    pub behaviour: Option<Box<crate::behaviour::Behaviour>>,
}

impl Session {
    /// A session recognised at `ts`, its timing state not yet attached.
    fn new(found: Match, detector: &'static str, version: &'static str, ts: Micros, via: Option<Via>) -> Session {
        Session { found, detector, version, ts, via, behaviour: None }
    }
}

/// Bytes gathered while probing.
#[derive(Debug, Default)]
pub struct Probe {
    /// First bytes sent by the initiator and the responder (per [`Role`]).
    buf: [Vec<u8>; 2],
    /// Where each role's TCP stream stands: the next expected sequence number, segments held
    /// past a hole until it is filled, or lost (a hole never filled, the buffer limit).
    cursor: [Cursor; 2],
    /// Bit i set: fingerprint i of the registry is still possible.
    alive: u32,
    /// Bit i set: fingerprint i answered `NeedMore` at least once (the bytes began as its
    /// protocol), so an anomaly it reports later is counted.
    started: u32,
    /// Payload packets seen.
    packets: u16,
    /// The flow watch started at the flow's first payload packet, if one wanted it: its
    /// index in the engine's watches and its state.
    watch: Option<(usize, Box<dyn watch::Watching>)>,
    /// UDP: the first datagrams' heads, while a multi-datagram fingerprint is possible.
    heads: Vec<fingerprint::DatagramHead>,
}

/// A fingerprint the engine runs: a built-in structural one, or one built at start from
/// runtime data (the name detector over the loaded indicators).
#[derive(Clone)]
enum Fp {
    Static(&'static dyn Fingerprint),
    Names(names::NameFingerprint),
}

impl Fp {
    fn get(&self) -> &dyn Fingerprint {
        match self {
            Fp::Static(f) => *f,
            Fp::Names(n) => n,
        }
    }
}

/// Runs the fingerprints over probing flows, then the correlators. One per worker (cloning
/// gives fresh per-endpoint state).
pub struct Engine {
    fingerprints: Vec<Fp>,
    /// Bit i set: fingerprint i reads datagram heads.
    datagram_fps: u32,
    cap: usize,
    /// The flow watches ([`watch::registry`]).
    watches: Vec<&'static dyn watch::FlowWatch>,
    /// Per-endpoint links between flows, asked in order ([`correlate::correlators`]).
    correlators: Vec<Box<dyn Correlator>>,
    /// Indices of the correlators that watch every frame.
    frame_watches: Vec<usize>,
    /// Recent input of the sessions driving each host (stepping stones).
    onsets: crate::behaviour::stepping_stone::Onsets,
    /// The endpoint identity watch ([`identity::IdentityWatch`]), when on.
    identity: Option<identity::IdentityWatch>,
}

/// Counters of the detectors' work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectStats {
    /// Flows recognised as sessions.
    pub sessions: u64,
    /// Flows probed and left unknown.
    pub unknown: u64,
    /// Parser trouble on flows a parser had recognised: bytes that began as a protocol and
    /// then broke it (a fingerprint's [`Outcome::Anomaly`] after its `NeedMore`), and
    /// followed sessions whose framing was lost.
    pub anomalies: AnomalyCounts,
}

impl DetectStats {
    /// Add another worker's counters.
    pub fn merge(&mut self, o: &DetectStats) {
        self.sessions += o.sessions;
        self.unknown += o.unknown;
        self.anomalies.merge(&o.anomalies);
    }
}

impl Clone for Engine {
    fn clone(&self) -> Engine {
        Engine {
            fingerprints: self.fingerprints.clone(),
            datagram_fps: self.datagram_fps,
            cap: self.cap,
            watches: self.watches.clone(),
            correlators: self.correlators.iter().map(|c| c.fresh()).collect(),
            frame_watches: self.frame_watches.clone(),
            onsets: Default::default(),
            identity: self.identity.as_ref().map(identity::IdentityWatch::fresh),
        }
    }
}

impl Engine {
    /// The most payload bytes per direction any of its fingerprints wants
    /// ([`Fingerprint::interest`]): what a capture that chooses packets in the kernel must
    /// send of the start of every flow.
    pub fn bytes_wanted(&self) -> usize {
        self.cap
    }

    /// An engine over the given structural fingerprints (at most 31), when given
    /// indicators the name detector over them, and the given flow watches
    /// ([`watch::registry`]).
    pub fn new(
        fingerprints: Vec<&'static dyn Fingerprint>,
        indicators: Option<Arc<Indicators>>,
        watches: Vec<&'static dyn watch::FlowWatch>,
    ) -> Engine {
        let mut fps: Vec<Fp> = fingerprints.into_iter().take(31).map(Fp::Static).collect();
        if let Some(ind) = &indicators {
            fps.push(Fp::Names(names::NameFingerprint::new(ind.clone())));
        }
        let cap = fps.iter().map(|f| f.get().interest().bytes).max().unwrap_or(0);
        let datagram_fps = fps
            .iter()
            .enumerate()
            .filter(|(_, f)| f.get().interest().datagram_heads)
            .fold(0u32, |m, (i, _)| m | 1 << i);
        Engine {
            fingerprints: fps,
            datagram_fps,
            cap,
            watches,
            correlators: correlate::correlators(indicators.as_ref()),
            frame_watches: Vec::new(),
            onsets: Default::default(),
            identity: None,
        }
    }

    /// The same engine watching every frame for IP-KVM-class devices on the segment
    /// (`home`: the inside networks).
    pub fn watching_ip_kvm(mut self, home: HomeNets) -> Engine {
        self.correlators.push(Box::new(fingerprint::ip_kvm::IpKvmDevices::new(home)));
        self.frame_watches =
            self.correlators.iter().enumerate().filter(|(_, c)| c.watches_frames()).map(|(i, _)| i).collect();
        self
    }

    /// The same engine sending endpoint identity sightings (DHCP, mDNS, DNS, the MAC of new
    /// flows from `home`, the inside networks).
    pub fn identifying(mut self, home: HomeNets) -> Engine {
        self.identity = Some(identity::IdentityWatch::new(home));
        self
    }

    /// The first frame of a new flow (its flow record just created): identity sightings go
    /// to `findings`.
    #[inline]
    pub fn on_new_flow(&mut self, v: &PacketView<'_>, findings: &mut Vec<Finding>) {
        if let Some(w) = &mut self.identity {
            w.on_new_flow(v, findings);
        }
    }

    /// Shows every frame to the correlators that watch frames and to the identity watch
    /// (before the flow table): what they find goes to `findings`.
    #[inline]
    pub fn on_frame(&mut self, v: &PacketView<'_>, findings: &mut Vec<Finding>) {
        if let Some(w) = &mut self.identity {
            w.on_frame(v, findings);
        }
        for &i in &self.frame_watches {
            if let Some(f) = self.correlators.get_mut(i).and_then(|c| c.on_frame(v)) {
                findings.push(f);
            }
        }
    }

    /// Feeds one packet of a flow to the fingerprints still possible for it.
    pub fn on_packet(&mut self, flow: &mut Flow, v: &PacketView<'_>, stats: &mut DetectStats) {
        if flow.settled {
            self.follow_session(flow, v);
            return;
        }
        if v.payload.is_empty() {
            return;
        }
        if flow.state.active.is_none() {
            let mut alive = 0u32;
            for (i, f) in self.fingerprints.iter().enumerate() {
                if f.get().wants(v.transport) {
                    alive |= 1 << i;
                }
            }
            if alive == 0 {
                flow.settled = true;
                return;
            }
            flow.state.active = Some(Box::new(Active::Probing(Probe { alive, ..Probe::default() })));
        }
        let Some(Active::Probing(probe)) = flow.state.active.as_deref_mut() else {
            flow.settled = true;
            return;
        };
        let role = Role::of(v.side, flow.initiator);
        probe.packets = probe.packets.saturating_add(1);
        // Flow watches: started (or not) at the first payload packet, then fed every one.
        match probe.watch.as_mut() {
            Some((_, w)) => w.on_packet(v, role),
            None if probe.packets == 1 => {
                probe.watch = self
                    .watches
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| w.interest().transports.contains(&v.transport))
                    .find_map(|(i, w)| w.start(v, role).map(|s| (i, s)));
            }
            None => {}
        }
        let mut grew = match v.tcp {
            Some(t) => append_tcp(probe, role, t.seq, v.ts, v.payload, self.cap),
            None => append_datagram(probe, role, v.payload, self.cap),
        };
        // Multi-datagram fingerprints still possible: keep the datagram's head.
        let heads_wanted =
            matches!(v.transport, Transport::Udp | Transport::Icmp) && probe.alive & self.datagram_fps != 0;
        if heads_wanted && probe.heads.len() < fingerprint::MAX_DATAGRAM_HEADS {
            probe.heads.push(fingerprint::DatagramHead {
                from_initiator: role == Role::Initiator,
                first: v.payload.first().copied().unwrap_or_default(),
                len: u16::try_from(v.payload.len()).unwrap_or(u16::MAX),
            });
            grew = true;
        }
        let full = match v.transport {
            Transport::Tcp => (0..2).all(|r| {
                probe.cursor.get(r).is_none_or(|c| c.lost) || probe.buf.get(r).is_some_and(|b| b.len() >= self.cap)
            }),
            Transport::Udp | Transport::Icmp | Transport::Esp | Transport::Ah | Transport::Gre => match &probe.watch {
                Some((_, w)) => w.full(),
                None if heads_wanted => probe.heads.len() >= fingerprint::MAX_DATAGRAM_HEADS,
                None => probe.buf.iter().all(|b| !b.is_empty()) || probe.packets >= 4,
            },
        };
        let finished = full || probe.packets >= MAX_PROBE_PACKETS;
        if grew || finished {
            let facts = FlowFacts {
                transport: v.transport,
                addrs: role_addrs(&v.key, flow.initiator),
                ports: role_ports(&v.key, flow.initiator),
                ts: v.ts,
            };
            self.decide(flow, facts, finished, stats);
        }
    }

    /// A packet of a recognised session whose timing is read (every packet, ACKs included):
    /// its timing state, and the stepping-stone links between the sessions of one host.
    fn follow_session(&mut self, flow: &mut Flow, v: &PacketView<'_>) {
        let initiator = flow.initiator;
        if let Some(b) = flow.state.behaviour_mut() {
            let on = b.on_packet(v, Role::of(v.side, initiator));
            // Typing on this session: it may be driven by a session controlling its initiator
            // (a stepping stone), period by period and key by key.
            if on.keys.is_some() || on.key.is_some() {
                let (client, _) = role_addrs(&v.key, initiator);
                if let Some(t) = on.keys {
                    b.chain.period(self.onsets.driving(client, t), self.onsets.period_chance(client, t));
                }
                if let Some(t) = on.key {
                    let m = self.onsets.key(client, t, b.initiator_rtt_floor());
                    b.chain.key(m);
                }
            }
            // Input on this session: it drives its responder.
            if let Some(t) = on.input {
                let (driver, server) = role_addrs(&v.key, initiator);
                self.onsets.note(server, driver, t);
            }
        }
    }

    /// Gives a flow still probing its last look (the flow ended).
    pub fn finish(&mut self, rec: &mut FlowRecord, stats: &mut DetectStats) {
        let flow = &mut rec.flow;
        if !flow.settled && flow.state.active.is_some() {
            let facts = FlowFacts {
                transport: Transport::of_proto(rec.key.proto()),
                addrs: role_addrs(&rec.key, flow.initiator),
                ports: role_ports(&rec.key, flow.initiator),
                ts: flow.last_ts,
            };
            self.decide(flow, facts, true, stats);
        }
        if let Some(b) = flow.state.behaviour_mut() {
            for a in b.anomalies() {
                stats.anomalies.add(a);
            }
        }
    }

    /// Asks the fingerprints (nested first), the DNS-tunnel watch and the correlators about
    /// a probing flow; a recognised session replaces the probe, a flow nobody claims is
    /// settled, and a flow still possible keeps probing.
    fn decide(&mut self, flow: &mut Flow, facts: FlowFacts, finished: bool, stats: &mut DetectStats) {
        let Some(Active::Probing(p)) = flow.state.active.as_deref_mut() else { return };
        let ex = Exchange {
            transport: facts.transport,
            orig: p.buf.first().map(Vec::as_slice).unwrap_or_default(),
            resp: p.buf.get(1).map(Vec::as_slice).unwrap_or_default(),
            orig_port: facts.ports.0,
            resp_port: facts.ports.1,
            finished,
            datagrams: &p.heads,
        };
        let mut found = match self.inspect_nested(&ex, facts.ts) {
            Nested::Wait => return,
            Nested::Found(s) => Some(*s),
            Nested::None => None,
        };
        if found.is_none() {
            found = self.inspect_fingerprints(&ex, (&mut p.alive, &mut p.started), facts.ts, &mut stats.anomalies);
        }
        let alive = p.alive;
        if found.is_none()
            && let Some((i, w)) = &p.watch
        {
            // A flow watch decides once it has seen enough or the flow ends; until then the
            // flow stays open even if every fingerprint has said no.
            if finished || w.full() {
                let name = self.watches.get(*i).map_or(("", ""), |w| (w.name(), w.version()));
                found = w.verdict().map(|m| Session::new(m, name.0, name.1, facts.ts, None));
            } else if alive == 0 {
                return;
            }
        }
        if found.is_none() && (alive == 0 || finished) {
            // Nothing in the flow's own bytes names a tool: links to what the engine knows.
            found = self
                .correlators
                .iter()
                .find_map(|c| c.attribute(&facts).map(|m| Session::new(m, c.name(), "1", facts.ts, None)));
        }
        if let Some(mut s) = found {
            for c in &mut self.correlators {
                c.on_session(&facts, &mut s);
            }
            s.behaviour = timing_of(&s, p, (flow.tcp.handshake(flow.first_ts), flow.first_ts), facts);
            stats.sessions += 1;
            flow.state.active = Some(Box::new(Active::Session(s)));
            flow.settled = true;
        } else if alive == 0 || finished {
            stats.unknown += 1;
            flow.state.active = None;
            flow.settled = true;
        }
    }

    /// A handshake nested in a proxy tunnel or WebSocket, reported as the inner tool.
    fn inspect_nested(&self, ex: &Exchange<'_>, ts: Micros) -> Nested {
        let Some(inner) = nested::unwrap(ex) else {
            return if !ex.finished && nested::may_wrap(ex) { Nested::Wait } else { Nested::None };
        };
        let iex = Exchange { orig: &inner.orig, resp: &inner.resp, ..*ex };
        let mut waiting = false;
        for f in self.fingerprints.iter().filter_map(|f| match f {
            Fp::Static(s) => Some(*s),
            Fp::Names(_) => None,
        }) {
            match f.inspect(&iex) {
                Outcome::Match(m) => {
                    let via = Some(Via { wrapper: inner.wrapper, target: inner.target.clone() });
                    return Nested::Found(Box::new(Session::new(m, f.name(), f.version(), ts, via)));
                }
                Outcome::NeedMore if !ex.finished && f.wants(Transport::Tcp) => waiting = true,
                _ => {}
            }
        }
        if waiting { Nested::Wait } else { Nested::None }
    }

    /// The fingerprints still possible (`alive`, updated: a fingerprint that says no, or
    /// still wants more of a finished exchange, is dropped), in registry order. An anomaly
    /// from a fingerprint that had begun to match (its bit in `started`) is counted in
    /// `anomalies`.
    fn inspect_fingerprints(
        &self,
        ex: &Exchange<'_>,
        (alive, started): (&mut u32, &mut u32),
        ts: Micros,
        anomalies: &mut AnomalyCounts,
    ) -> Option<Session> {
        for (i, f) in self.fingerprints.iter().enumerate() {
            let bit = 1u32 << i;
            if *alive & bit == 0 {
                continue;
            }
            let f = f.get();
            match f.inspect(ex) {
                Outcome::NeedMore if !ex.finished => *started |= bit,
                Outcome::NeedMore | Outcome::NoMatch => *alive &= !bit,
                Outcome::Anomaly(a) => {
                    if *started & bit != 0 {
                        anomalies.add(a);
                    }
                    *alive &= !bit;
                }
                Outcome::Match(m) => return Some(Session::new(m, f.name(), f.version(), ts, None)),
            }
        }
        None
    }

    /// The finding a flow record yields, if any.
    pub fn finding(&self, rec: &FlowRecord) -> Option<Finding> {
        let s = rec.flow.state.session()?;
        Some(Finding {
            detector: s.detector,
            detector_version: s.version,
            ts: s.ts,
            flow: flow_summary(rec),
            kind: FindingKind::RemoteControlSession(s.found.clone()),
            via: s.via.clone(),
            behaviour: s.behaviour.as_ref().map(|b| b.summary()),
        })
    }
}

/// What the nested-handshake look found.
enum Nested {
    /// A wrapper (proxy tunnel, WebSocket) whose inner handshake is not complete yet.
    Wait,
    /// The inner tool.
    Found(Box<Session>),
    /// No wrapper, or nothing recognised inside it.
    None,
}

/// The timing state of a session just recognised, for the tools whose timing is read.
/// Timing starts where the probe's bytes end (a nested session keeps none: the wrapper's
/// framing is in the way; WebRTC media is the flow's own).
/// `started`: the flow's TCP handshake times and first packet time.
fn timing_of(
    s: &Session,
    p: &Probe,
    started: ([Micros; 3], Micros),
    facts: FlowFacts,
) -> Option<Box<crate::behaviour::Behaviour>> {
    if s.via.as_ref().is_some_and(|v| v.wrapper != "webrtc") {
        return None;
    }
    let [orig, resp] = &p.buf;
    let seed = crate::behaviour::Seed {
        transport: facts.transport,
        bufs: [orig.as_slice(), resp.as_slice()],
        handshake: started.0,
        cursors: [&p.cursor[0], &p.cursor[1]],
        first_ts: started.1,
        ts: facts.ts,
    };
    crate::behaviour::Behaviour::new(s.found.tool, &seed)
}

/// (initiator address, responder address).
fn role_addrs(key: &FlowKey, initiator: Side) -> (farhand_model::Addr, farhand_model::Addr) {
    (key.side(initiator).0, key.side(initiator.other()).0)
}

/// (initiator port, responder port).
fn role_ports(key: &FlowKey, initiator: Side) -> (u16, u16) {
    (key.side(initiator).1, key.side(initiator.other()).1)
}

fn append_datagram(p: &mut Probe, role: Role, payload: &[u8], cap: usize) -> bool {
    match p.buf.get_mut(role.idx()) {
        Some(b) if b.is_empty() => {
            b.extend_from_slice(payload.get(..cap.min(payload.len())).unwrap_or_default());
            true
        }
        _ => false,
    }
}

fn append_tcp(p: &mut Probe, role: Role, seq: u32, ts: Micros, payload: &[u8], cap: usize) -> bool {
    let r = role.idx();
    let (Some(buf), Some(cursor)) = (p.buf.get_mut(r), p.cursor.get_mut(r)) else {
        return false;
    };
    if buf.len() >= cap {
        return false;
    }
    // Bytes in stream order: the segment's new bytes, then any it released from past a hole.
    let mut grew = false;
    let mut take = |buf: &mut Vec<u8>, cursor: &mut Cursor, new: &[u8]| {
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(new.get(..room.min(new.len())).unwrap_or_default());
        grew |= !new.is_empty();
        if new.len() > room {
            // The buffer limit cut the stream: its position past here is unknown.
            cursor.lose();
        }
    };
    match cursor.advance(seq, ts, payload) {
        Fresh::New(new) => take(buf, cursor, new),
        // What is held past a hole stays within the probe's own limit.
        Fresh::Held if buf.len().saturating_add(cursor.held_bytes()) > cap => cursor.lose(),
        Fresh::Held | Fresh::Old | Fresh::Lost => {}
    }
    while !cursor.lost
        && let Some((_, held)) = cursor.release()
    {
        take(buf, cursor, &held);
    }
    grew
}

/// Summarises a flow record for the verdict.
pub fn flow_summary(rec: &FlowRecord) -> FlowSummary {
    let f = &rec.flow;
    FlowSummary {
        key: rec.key,
        initiator: f.initiator,
        first_ts: f.first_ts,
        last_ts: f.last_ts,
        bytes: f.bytes,
        pkts: f.pkts,
        reason: rec.reason,
        handshake: f.tcp.handshake(f.first_ts),
    }
}

#[cfg(test)]
mod tests {
    use super::correlate::WEBRTC_WINDOW;
    use super::*;
    use farhand_model::Tool;
    use farhand_model::evidence::Evidence;

    #[test]
    fn table_entry_is_104_bytes() {
        // Key + value as stored in the engine's flow table; the hash table adds one control
        // byte per bucket plus load-factor slack (tests/flow_memory.rs measures the whole).
        assert_eq!(std::mem::size_of::<FlowKey>() + std::mem::size_of::<Flow>(), 104);
        assert_eq!(std::mem::size_of::<(FlowKey, Flow)>(), 104);
    }
    #[test]
    fn the_probe_reads_past_a_reordered_segment_and_stops_at_its_limit() {
        // The second segment arrives before the first: held, then both in order.
        let mut p = Probe::default();
        let r = Role::Initiator;
        assert!(append_tcp(&mut p, r, 100, 1, b"SSH-", 64));
        assert!(!append_tcp(&mut p, r, 108, 2, b"OpenSSH", 64), "held past the hole");
        assert_eq!(p.buf[0], b"SSH-");
        assert!(append_tcp(&mut p, r, 104, 3, b"2.0-", 64));
        assert_eq!(p.buf[0], b"SSH-2.0-OpenSSH");
        assert!(!p.cursor[0].lost);
        assert!(!append_tcp(&mut p, r, 100, 4, b"SSH-2.0-", 64), "a retransmission adds nothing");
        // The buffer limit cuts a segment: the stream position past it is lost.
        let mut p = Probe::default();
        assert!(append_tcp(&mut p, r, 0, 1, b"abcdef", 4));
        assert_eq!(p.buf[0], b"abcd");
        assert!(p.cursor[0].lost);
        assert!(!append_tcp(&mut p, r, 6, 2, b"gh", 4));
        // ... also when the cut falls in bytes released from past a hole.
        let mut p = Probe::default();
        assert!(append_tcp(&mut p, r, 0, 1, b"ab", 6));
        assert!(!append_tcp(&mut p, r, 3, 2, b"defg", 6));
        assert!(append_tcp(&mut p, r, 2, 3, b"c", 6));
        assert_eq!((p.buf[0].as_slice(), p.cursor[0].lost), (&b"abcdef"[..], true));
        // Bytes held past a hole count against the limit: past it the position is lost.
        let mut p = Probe::default();
        assert!(append_tcp(&mut p, r, 0, 1, b"ab", 8));
        assert!(!append_tcp(&mut p, r, 4, 2, b"efgh", 8));
        assert!(!p.cursor[0].lost, "2 + 4 bytes fit in 8");
        assert!(!append_tcp(&mut p, r, 8, 3, b"ijk", 8));
        assert!(p.cursor[0].lost, "2 + 7 bytes do not");
        assert_eq!(p.cursor[0].held_bytes(), 0);
        assert!(!append_tcp(&mut p, r, 2, 4, b"cd", 8));
        assert_eq!(p.buf[0], b"ab");
    }

    use crate::decode::PacketView;
    use crate::flow::{FlowConfig, FlowTable};
    use farhand_model::net::Addr;
    use farhand_model::net::proto;

    fn udp(src: ([u8; 4], u16), dst: ([u8; 4], u16), ts: Micros, payload: &[u8]) -> PacketView<'_> {
        let (key, side) = FlowKey::new(Addr::v4(src.0), src.1, Addr::v4(dst.0), dst.1, proto::UDP, 0);
        PacketView {
            ts,
            key,
            side,
            transport: Transport::Udp,
            tcp: None,
            payload,
            wire_len: 60 + payload.len() as u32,
            truncated: false,
            src_mac: [0; 6],
            echo_reply: false,
        }
    }

    /// A DNS query for `name` (type A) and its answer `ip` (RFC 1035 §4.1).
    fn dns(name: &str, ip: [u8; 4]) -> (Vec<u8>, Vec<u8>) {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend_from_slice(&ip);
        (q, r)
    }

    /// A STUN Binding request and its success response with XOR-MAPPED-ADDRESS
    /// (RFC 8489 §5, §14.2).
    fn stun_binding() -> (Vec<u8>, Vec<u8>) {
        let txid = [7u8; 12];
        let mut req = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        req.extend_from_slice(&txid);
        let mut resp = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
        resp.extend_from_slice(&txid);
        resp.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01]);
        resp.extend_from_slice(&(50000u16 ^ 0x2112).to_be_bytes());
        resp.extend_from_slice(&[198 ^ 0x21, 51 ^ 0x12, 100 ^ 0xa4, 9 ^ 0x42]);
        (req, resp)
    }

    fn run(packets: &[PacketView<'_>]) -> Vec<Finding> {
        let mut table = FlowTable::new(FlowConfig::default());
        let mut engine = Engine::new(fingerprint::registry(), Some(Arc::new(Indicators::builtin())), Vec::new());
        let mut stats = DetectStats::default();
        for v in packets {
            if let Some(flow) = table.packet(v) {
                engine.on_packet(flow, v, &mut stats);
            }
        }
        table.drain();
        let mut out = Vec::new();
        for mut rec in table.take_ended() {
            engine.finish(&mut rec, &mut stats);
            out.extend(engine.finding(&rec));
        }
        out.sort_by_key(|f| f.flow.first_ts);
        out
    }

    const LAPTOP: [u8; 4] = [10, 0, 0, 5];

    #[test]
    fn stun_after_a_chrome_remote_desktop_lookup_is_its_media_path() {
        let (q, r) = dns("remotedesktop-pa.googleapis.com", [203, 0, 113, 7]);
        let (sq, sr) = stun_binding();
        let google = [74, 125, 1, 1];
        let packets = [
            udp((LAPTOP, 40000), ([198, 51, 100, 53], 53), 1_000_000, &q),
            udp(([198, 51, 100, 53], 53), (LAPTOP, 40000), 1_010_000, &r),
            udp((LAPTOP, 50000), (google, 19302), 3_000_000, &sq),
            udp((google, 19302), (LAPTOP, 50000), 3_040_000, &sr),
        ];
        let f = run(&packets);
        let tools: Vec<Tool> = f
            .iter()
            .map(|f| {
                let FindingKind::RemoteControlSession(m) = &f.kind else { panic!() };
                m.tool
            })
            .collect();
        assert_eq!(tools, [Tool::ChromeRemoteDesktop, Tool::ChromeRemoteDesktop]);
        assert_eq!(f[1].via.as_ref().map(|v| v.wrapper), Some("webrtc"));
        // Without the lookup (or long after it), the same STUN flow is just STUN.
        let late = [
            udp((LAPTOP, 40000), ([198, 51, 100, 53], 53), 1_000_000, &q),
            udp(([198, 51, 100, 53], 53), (LAPTOP, 40000), 1_010_000, &r),
            udp((LAPTOP, 50000), (google, 19302), 1_000_000 + WEBRTC_WINDOW + 5_000_000, &sq),
            udp((google, 19302), (LAPTOP, 50000), 1_000_000 + WEBRTC_WINDOW + 5_040_000, &sr),
        ];
        let f = run(&late);
        let FindingKind::RemoteControlSession(m) = &f[1].kind else { panic!() };
        assert_eq!((m.tool, f[1].via.is_none()), (Tool::StunTurn, true));
    }

    #[test]
    fn a_flow_to_an_answered_address_is_attributed() {
        let (q, r) = dns("rs-ny.rustdesk.com", [203, 0, 113, 21]);
        let opaque = [0x5a; 64];
        let packets = [
            udp((LAPTOP, 40001), ([198, 51, 100, 53], 53), 1_000_000, &q),
            udp(([198, 51, 100, 53], 53), (LAPTOP, 40001), 1_010_000, &r),
            udp((LAPTOP, 50001), ([203, 0, 113, 21], 9999), 2_000_000, &opaque),
            udp(([203, 0, 113, 21], 9999), (LAPTOP, 50001), 2_050_000, &opaque),
            // Another endpoint talking to the same address is not attributed.
            udp(([10, 0, 0, 6], 50002), ([203, 0, 113, 21], 9999), 2_100_000, &opaque),
            udp(([203, 0, 113, 21], 9999), ([10, 0, 0, 6], 50002), 2_150_000, &opaque),
        ];
        let f = run(&packets);
        assert_eq!(f.len(), 2, "{f:#?}");
        let FindingKind::RemoteControlSession(m) = &f[1].kind else { panic!() };
        let Evidence::Name(e) = &m.evidence else { panic!() };
        assert_eq!((m.tool, e.field), (Tool::RustDesk, "dns_answer"));
    }
}
