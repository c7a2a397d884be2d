//! Detect: detectors that turn flows into [`Finding`]s.
//!
//! # Contract
//! - Detector state lives in the flow ([`DetectState`]), a closed enum: no dynamic typing,
//!   nothing shared between threads.
//! - A flow starts [`DetectState::Fresh`]. Its first payload makes it
//!   [`DetectState::Probing`]: the [`Engine`] gathers the first payload bytes of each
//!   direction (in TCP sequence order; the first datagram of each direction for UDP) and
//!   asks every fingerprint that is still possible. It ends `Session` (a fingerprint
//!   matched) or `Unknown` (all said no, or the probe limits ran out). After that the flow
//!   costs the detectors nothing per packet.
//! - A flow that ends while probing gets one last look with `finished` set, so one-sided or
//!   short captures are still recognised when the evidence allows.
//! - Findings are produced when a flow record ends ([`Engine::finding`]); they carry the
//!   flow summary the verdict needs.

pub mod fingerprint;

use crate::capture::Micros;
use crate::decode::PacketView;
use crate::flow::{EndReason, FlowKey, FlowRecord, Side};
use fingerprint::{Exchange, Fingerprint, Match, Outcome, Transport};

/// Most payload packets a flow may take before the probe gives up.
pub const MAX_PROBE_PACKETS: u16 = 32;

/// Per-flow detector state.
#[derive(Debug, Default)]
pub enum DetectState {
    /// No payload seen yet.
    #[default]
    Fresh,
    /// Gathering first bytes for the fingerprints still possible.
    Probing(Box<Probe>),
    /// Recognised as a remote-control session.
    Session(Box<Session>),
    /// Nothing recognised; detectors ignore this flow.
    Unknown,
}

impl DetectState {
    /// Whether the flow is a recognised session.
    pub fn is_session(&self) -> bool {
        matches!(self, DetectState::Session(_))
    }

    /// Whether detectors still want this flow's packets (fresh or probing).
    #[inline]
    pub fn wants_packets(&self) -> bool {
        matches!(self, DetectState::Fresh | DetectState::Probing(_))
    }

    /// A copy of a session's state (for periodic reports); `Unknown` otherwise.
    pub fn clone_session(&self) -> DetectState {
        match self {
            DetectState::Session(s) => DetectState::Session(s.clone()),
            _ => DetectState::Unknown,
        }
    }
}

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
}

/// Bytes gathered while probing.
#[derive(Debug, Default)]
pub struct Probe {
    /// First bytes sent by the initiator \[0\] and the responder \[1\].
    buf: [Vec<u8>; 2],
    /// Next expected TCP sequence number per role.
    next_seq: [Option<u32>; 2],
    /// A sequence gap stopped gathering in this role.
    gap: [bool; 2],
    /// Bit i set: fingerprint i of the registry is still possible.
    alive: u32,
    /// Payload packets seen.
    packets: u16,
}

/// Runs the fingerprints over probing flows.
#[derive(Clone)]
pub struct Engine {
    fingerprints: Vec<&'static dyn Fingerprint>,
    cap: usize,
}

/// Counters of the detectors' work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectStats {
    /// Flows recognised as sessions.
    pub sessions: u64,
    /// Flows probed and left unknown.
    pub unknown: u64,
}

impl Engine {
    /// An engine over the given fingerprints (at most 32).
    pub fn new(fingerprints: Vec<&'static dyn Fingerprint>) -> Engine {
        let fingerprints: Vec<_> = fingerprints.into_iter().take(32).collect();
        let cap = fingerprints.iter().map(|f| f.bytes_wanted()).max().unwrap_or(0);
        Engine { fingerprints, cap }
    }

    /// Feeds one packet of a flow. `initiator` is the flow's initiating side.
    pub fn on_packet(&self, state: &mut DetectState, initiator: Side, v: &PacketView<'_>, stats: &mut DetectStats) {
        if v.payload.is_empty() {
            return;
        }
        let probe = match state {
            DetectState::Probing(p) => p,
            DetectState::Fresh => {
                let mut alive = 0u32;
                for (i, f) in self.fingerprints.iter().enumerate() {
                    if f.wants(v.transport) {
                        alive |= 1 << i;
                    }
                }
                if alive == 0 {
                    *state = DetectState::Unknown;
                    return;
                }
                let mut p = Box::<Probe>::default();
                p.alive = alive;
                *state = DetectState::Probing(p);
                let DetectState::Probing(p) = state else { return };
                p
            }
            DetectState::Session(_) | DetectState::Unknown => return,
        };
        let role = usize::from(v.side != initiator);
        probe.packets = probe.packets.saturating_add(1);
        let grew = match v.tcp {
            Some(t) => append_tcp(probe, role, t.seq, v.payload, self.cap),
            None => append_datagram(probe, role, v.payload, self.cap),
        };
        let full = match v.transport {
            Transport::Tcp => {
                (0..2).all(|r| probe.gap.get(r).copied().unwrap_or(true) || probe.buf.get(r).is_some_and(|b| b.len() >= self.cap))
            }
            Transport::Udp => probe.buf.iter().all(|b| !b.is_empty()) || probe.packets >= 4,
        };
        let finished = full || probe.packets >= MAX_PROBE_PACKETS;
        if grew || finished {
            self.decide(state, v.transport, role_ports(&v.key, initiator), v.ts, finished, stats);
        }
    }

    /// Gives a flow still probing its last look (the flow ended).
    pub fn finish(&self, state: &mut DetectState, key: &FlowKey, initiator: Side, ts: Micros, stats: &mut DetectStats) {
        if let DetectState::Probing(_) = state {
            let transport = if key.proto == crate::flow::key::proto::TCP { Transport::Tcp } else { Transport::Udp };
            self.decide(state, transport, role_ports(key, initiator), ts, true, stats);
        }
    }

    fn decide(&self, state: &mut DetectState, transport: Transport, ports: (u16, u16), ts: Micros, finished: bool, stats: &mut DetectStats) {
        let DetectState::Probing(p) = state else { return };
        let ex = Exchange {
            transport,
            orig: p.buf.first().map(Vec::as_slice).unwrap_or_default(),
            resp: p.buf.get(1).map(Vec::as_slice).unwrap_or_default(),
            orig_port: ports.0,
            resp_port: ports.1,
            finished,
        };
        let mut alive = p.alive;
        let mut found = None;
        for (i, f) in self.fingerprints.iter().enumerate() {
            if alive & (1 << i) == 0 {
                continue;
            }
            match f.inspect(&ex) {
                Outcome::NeedMore if !finished => {}
                Outcome::NeedMore | Outcome::NoMatch => alive &= !(1 << i),
                Outcome::Match(m) => {
                    found = Some(Session { found: m, detector: f.tool().name(), version: f.version(), ts });
                    break;
                }
            }
        }
        p.alive = alive;
        if let Some(s) = found {
            stats.sessions += 1;
            *state = DetectState::Session(Box::new(s));
        } else if alive == 0 || finished {
            stats.unknown += 1;
            *state = DetectState::Unknown;
        }
    }

    /// The finding a flow record yields, if any.
    pub fn finding(&self, rec: &FlowRecord) -> Option<Finding> {
        let DetectState::Session(s) = &rec.flow.detect else { return None };
        Some(Finding {
            detector: s.detector,
            detector_version: s.version,
            ts: s.ts,
            flow: FlowSummary::of(rec),
            kind: FindingKind::RemoteControlSession(s.found.clone()),
        })
    }
}

/// (initiator port, responder port).
fn role_ports(key: &FlowKey, initiator: Side) -> (u16, u16) {
    (key.side(initiator).1, key.side(initiator.other()).1)
}

fn append_datagram(p: &mut Probe, role: usize, payload: &[u8], cap: usize) -> bool {
    match p.buf.get_mut(role) {
        Some(b) if b.is_empty() => {
            b.extend_from_slice(payload.get(..cap.min(payload.len())).unwrap_or_default());
            true
        }
        _ => false,
    }
}

fn append_tcp(p: &mut Probe, role: usize, seq: u32, payload: &[u8], cap: usize) -> bool {
    let (Some(buf), Some(next), Some(gap)) = (p.buf.get_mut(role), p.next_seq.get_mut(role), p.gap.get_mut(role)) else {
        return false;
    };
    if *gap || buf.len() >= cap {
        return false;
    }
    let skip = match *next {
        None => 0,
        Some(n) => {
            let off = seq.wrapping_sub(n) as i32;
            if off > 0 {
                // A hole: the bytes after it cannot be placed; stop gathering this role.
                *gap = true;
                return false;
            }
            off.unsigned_abs() as usize
        }
    };
    let Some(new) = payload.get(skip..) else { return false };
    if new.is_empty() {
        return false;
    }
    let take = new.len().min(cap - buf.len());
    buf.extend_from_slice(new.get(..take).unwrap_or_default());
    *next = Some(seq.wrapping_add(payload.len() as u32));
    true
}

/// A flow as the verdict sees it: who, when, how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSummary {
    /// Canonical key.
    pub key: FlowKey,
    /// The side that opened the conversation.
    pub initiator: Side,
    /// First packet time (of this report period).
    pub first_ts: Micros,
    /// Last packet time.
    pub last_ts: Micros,
    /// Bytes sent by side A, side B.
    pub bytes: [u64; 2],
    /// Packets sent by side A, side B.
    pub pkts: [u32; 2],
    /// Why the record was produced.
    pub reason: EndReason,
    /// TCP handshake timestamps (SYN, SYN/ACK, ACK); 0 = not seen.
    pub handshake: [Micros; 3],
}

impl FlowSummary {
    /// Summarises a flow record.
    pub fn of(rec: &FlowRecord) -> FlowSummary {
        let f = &rec.flow;
        FlowSummary {
            key: rec.key,
            initiator: f.initiator,
            first_ts: f.first_ts,
            last_ts: f.last_ts,
            bytes: f.bytes,
            pkts: f.pkts,
            reason: rec.reason,
            handshake: [f.tcp.syn_ts, f.tcp.synack_ts, f.tcp.ack_ts],
        }
    }
}

/// What a detector found.
#[derive(Debug, Clone, PartialEq)]
pub enum FindingKind {
    /// A remote-control protocol session.
    RemoteControlSession(Match),
}

/// A detector's observation about one flow, handed to the verdict stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Detector name (e.g. `ssh`).
    pub detector: &'static str,
    /// Detector version.
    pub detector_version: &'static str,
    /// When the detector concluded.
    pub ts: Micros,
    /// The flow it concerns.
    pub flow: FlowSummary,
    /// What was found.
    pub kind: FindingKind,
}
