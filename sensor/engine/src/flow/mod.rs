//! Flow table: per-conversation state, keyed by a canonical [`FlowKey`].
//!
//! # Contract
//! - One [`FlowTable`] per worker thread; no locks. Packets of one flow always reach the same
//!   table because workers are chosen by endpoint ([`shard`]).
//! - [`FlowTable::packet`] updates counters and TCP state and returns the flow; for a flow
//!   that detectors have finished with, that is one hash lookup and a few counter updates.
//! - The table is bounded ([`FlowConfig::max_flows`]). When it is full, idle flows are
//!   evicted oldest-first; flows carrying a recognised remote-control session are never
//!   evicted (if only such flows remain, the new flow is dropped and counted).
//! - Flows end by TCP close (after a short linger for the last ACKs), idle timeout, eviction
//!   or end of input. A recognised session that outlives the active timeout is reported and
//!   continues with fresh counters. Every ended flow comes out of
//!   [`FlowTable::take_ended`] exactly once as a [`FlowRecord`].
//! - TCP state records who initiated (SYN sender; else a port heuristic), the handshake
//!   timestamps and how the connection ended.
//! - The table knows nothing of detectors: it is generic over the per-flow state `S` its owner
//!   keeps in each flow ([`FlowState`]: whether the flow is a session, whether it still wants
//!   packets once settled, what a periodic report carries).

use crate::decode::{PacketView, tcp_flags};
use farhand_model::EndReason;
use farhand_model::Health;
use farhand_model::Micros;
pub use farhand_model::net::{Addr, FlowKey, Side};
use hashbrown::HashMap;
use hashbrown::hash_map::Entry;
use rustc_hash::FxBuildHasher;

/// Flow-table limits and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// Most flows one table holds.
    pub max_flows: usize,
    /// TCP flows with no packet for this long end.
    pub tcp_idle: Micros,
    /// UDP flows with no packet for this long end.
    pub udp_idle: Micros,
    /// Closed TCP flows (FIN both ways or RST) linger this long for trailing packets.
    pub tcp_closed: Micros,
    /// A recognised session is reported after this long and continues with new counters.
    pub active: Micros,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1_000_000,
            tcp_idle: 300 * 1_000_000,
            udp_idle: 60 * 1_000_000,
            tcp_closed: 5 * 1_000_000,
            active: 3600 * 1_000_000,
        }
    }
}

/// TCP connection facts the sensor keeps per flow (12 bytes: handshake times are offsets
/// from the flow's first packet, which is the SYN when `syn` is set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpTrack {
    /// The flow began with the initiator's SYN (at `Flow::first_ts`).
    pub syn: bool,
    /// Microseconds from the SYN to the responder's SYN/ACK (0 = not seen).
    pub synack_us: u32,
    /// Microseconds from the SYN to the initiator's ACK completing the handshake (0 = not seen).
    pub ack_us: u32,
    /// Bit 0: side A sent FIN; bit 1: side B sent FIN; bit 2: RST seen.
    pub end_bits: u8,
}

impl TcpTrack {
    const RST: u8 = 4;

    /// FIN both ways or RST.
    pub fn closed(&self) -> bool {
        self.end_bits & Self::RST != 0 || self.end_bits & 3 == 3
    }

    /// An RST was seen.
    pub fn reset(&self) -> bool {
        self.end_bits & Self::RST != 0
    }

    /// Absolute handshake times (SYN, SYN/ACK, ACK) given the flow's first packet time;
    /// 0 = not seen.
    pub fn handshake(&self, first_ts: Micros) -> [Micros; 3] {
        if !self.syn {
            return [0; 3];
        }
        let at = |d: u32| if d == 0 { 0 } else { first_ts + u64::from(d) };
        [first_ts, at(self.synack_us), at(self.ack_us)]
    }
}

/// What the flow table needs to know of the per-flow state its owner keeps in each flow
/// (the detectors' state, in farhand's engine).
pub trait FlowState: Default {
    /// A recognised session: spared by eviction, reported at the active timeout.
    fn is_session(&self) -> bool;
    /// Still wants every packet once the flow is settled ([`Flow::settled`]): a session whose
    /// timing is read.
    fn follows_packets(&self) -> bool;
    /// The state a periodic (active-timeout) report of a session carries; the flow goes on
    /// with its own.
    fn report_copy(&self) -> Self;
}

/// One conversation's state, with its owner's per-flow state `S`.
#[derive(Debug)]
pub struct Flow<S> {
    /// First packet time (of the current reporting period).
    pub first_ts: Micros,
    /// Last packet time.
    pub last_ts: Micros,
    /// Bytes on the wire sent by side A and side B.
    pub bytes: [u64; 2],
    /// Packets sent by side A and side B.
    pub pkts: [u32; 2],
    /// The side that opened the conversation.
    pub initiator: Side,
    /// Transport is TCP.
    pub is_tcp: bool,
    /// TCP handshake and close state.
    pub tcp: TcpTrack,
    /// The owner's per-flow state (the engine's detector state: 8 bytes, boxed while probing
    /// or once a session is recognised).
    pub state: S,
    /// The owner is finished with this flow (recognised or given up): it then wants packets
    /// only if [`FlowState::follows_packets`].
    pub settled: bool,
}

impl<S: FlowState> Flow<S> {
    fn new(v: &PacketView<'_>) -> Flow<S> {
        let initiator = match v.tcp {
            Some(t) if t.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN => v.side,
            Some(t) if t.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK => v.side.other(),
            // An ICMP echo reply first: the requester is the initiator.
            _ if v.echo_reply => v.side.other(),
            // Mid-stream (or UDP): the sender of the first packet, unless it sends from a
            // well-known port to an ephemeral one (then it is the server answering).
            _ => {
                let (_, sport) = v.key.side(v.side);
                let (_, dport) = v.key.side(v.side.other());
                if v.tcp.is_some() && sport < 1024 && dport >= 1024 { v.side.other() } else { v.side }
            }
        };
        Flow {
            first_ts: v.ts,
            last_ts: v.ts,
            bytes: [0; 2],
            pkts: [0; 2],
            initiator,
            is_tcp: v.tcp.is_some(),
            tcp: TcpTrack {
                syn: v.tcp.is_some_and(|t| t.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN),
                ..TcpTrack::default()
            },
            state: S::default(),
            settled: false,
        }
    }

    /// Whether eviction must spare this flow.
    pub fn protected(&self) -> bool {
        self.state.is_session()
    }

    /// A copy of this session flow for a periodic report; this flow continues from `now`
    /// with fresh counters.
    fn report_and_reset(&mut self, now: Micros) -> Flow<S> {
        let snapshot = Flow {
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            bytes: self.bytes,
            pkts: self.pkts,
            initiator: self.initiator,
            is_tcp: self.is_tcp,
            tcp: self.tcp,
            state: self.state.report_copy(),
            settled: true,
        };
        self.first_ts = now;
        self.bytes = [0; 2];
        self.pkts = [0; 2];
        snapshot
    }

    /// Whether the owner still wants this flow's packets: until it is settled, and after
    /// that while its state follows packets (a recognised session whose timing is read).
    #[inline]
    pub fn wants_packets(&self) -> bool {
        !self.settled || self.state.follows_packets()
    }

    fn expired(&self, now: Micros, cfg: &FlowConfig) -> bool {
        let idle = now.saturating_sub(self.last_ts);
        if self.is_tcp {
            if self.tcp.closed() { idle >= cfg.tcp_closed } else { idle >= cfg.tcp_idle }
        } else {
            idle >= cfg.udp_idle
        }
    }
}

/// A finished (or periodically reported) flow.
#[derive(Debug)]
pub struct FlowRecord<S> {
    /// The flow's key.
    pub key: FlowKey,
    /// The flow's state at the end.
    pub flow: Flow<S>,
    /// Why it ended.
    pub reason: EndReason,
}

/// Counters of the table's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Flows created.
    pub created: u64,
    /// Flows evicted to make room.
    pub evicted: u64,
    /// Packets dropped because the table was full of protected sessions.
    pub dropped_full: u64,
    /// Highest number of flows held at once.
    pub peak: u64,
}

impl FlowStats {
    /// Adds another table's counters (peaks add: tables are held at once).
    pub fn add(&mut self, o: &FlowStats) {
        self.created += o.created;
        self.evicted += o.evicted;
        self.dropped_full += o.dropped_full;
        self.peak += o.peak;
    }
}

/// Packet-time interval between timeout sweeps (timeouts are accurate to this).
const SWEEP_EVERY: Micros = 5_000_000;

/// A bounded table of flows with timeouts.
pub struct FlowTable<S> {
    map: HashMap<FlowKey, Flow<S>, FxBuildHasher>,
    cfg: FlowConfig,
    ended: Vec<FlowRecord<S>>,
    next_sweep: Micros,
    stats: FlowStats,
}

impl FlowConfig {
    /// The flow table these settings describe, and its health.
    pub fn build<S: FlowState>(self) -> (FlowTable<S>, Health) {
        (FlowTable::new(self), self.health())
    }

    /// The health of the table these settings describe (always ready: the limits were
    /// validated), without building it.
    pub fn health(&self) -> Health {
        let secs = |us: Micros| us / 1_000_000;
        Health::ready(
            "flow",
            format!(
                "up to {} flows; idle TCP {} s, UDP {} s; closed TCP kept {} s; sessions reported every {} s",
                self.max_flows,
                secs(self.tcp_idle),
                secs(self.udp_idle),
                secs(self.tcp_closed),
                secs(self.active)
            ),
        )
    }
}

impl<S: FlowState> FlowTable<S> {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> FlowTable<S> {
        FlowTable {
            map: HashMap::with_capacity_and_hasher(cfg.max_flows.min(1 << 16), FxBuildHasher),
            cfg,
            ended: Vec::new(),
            next_sweep: 0,
            stats: FlowStats::default(),
        }
    }

    /// Flows held now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The table's counters.
    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// Accounts one packet and returns its flow (`None` when the table is full of
    /// protected sessions and the packet was dropped).
    pub fn packet(&mut self, v: &PacketView<'_>) -> Option<&mut Flow<S>> {
        if v.ts >= self.next_sweep {
            if self.next_sweep != 0 {
                self.expire(v.ts);
            }
            self.next_sweep = v.ts.saturating_add(SWEEP_EVERY);
        }
        if self.map.len() >= self.cfg.max_flows && !self.map.contains_key(&v.key) {
            self.make_room();
            if self.map.len() >= self.cfg.max_flows {
                self.stats.dropped_full += 1;
                return None;
            }
        }
        let len = self.map.len() as u64;
        let (ended, stats) = (&mut self.ended, &mut self.stats);
        let flow = match self.map.entry(v.key) {
            Entry::Occupied(o) => {
                let flow = o.into_mut();
                // A new SYN on a closed connection's 5-tuple starts a new flow (port reuse).
                if flow.tcp.closed()
                    && v.tcp.is_some_and(|t| t.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN)
                {
                    let old = std::mem::replace(flow, Flow::new(v));
                    let reason = if old.tcp.reset() { EndReason::Reset } else { EndReason::Closed };
                    ended.push(FlowRecord { key: v.key, flow: old, reason });
                    stats.created += 1;
                }
                flow
            }
            Entry::Vacant(e) => {
                stats.created += 1;
                stats.peak = stats.peak.max(len + 1);
                e.insert(Flow::new(v))
            }
        };
        let s = v.side.idx();
        if let Some(b) = flow.bytes.get_mut(s) {
            *b += u64::from(v.wire_len);
        }
        if let Some(p) = flow.pkts.get_mut(s) {
            *p = p.saturating_add(1);
        }
        flow.last_ts = v.ts;
        if let Some(t) = v.tcp {
            track_tcp(flow, v.side, v.ts, t.flags);
        }
        Some(flow)
    }

    fn make_room(&mut self) {
        let target = self.cfg.max_flows - self.cfg.max_flows / 10;
        let need = self.map.len().saturating_sub(target).max(1);
        let mut ages: Vec<Micros> = self.map.values().filter(|f| !f.protected()).map(|f| f.last_ts).collect();
        if ages.is_empty() {
            return;
        }
        let k = need.min(ages.len()) - 1;
        let (_, cutoff, _) = ages.select_nth_unstable(k);
        let cutoff = *cutoff;
        let mut left = need;
        for (key, flow) in self.map.extract_if(|_, f| {
            let take = left > 0 && !f.protected() && f.last_ts <= cutoff;
            if take {
                left -= 1;
            }
            take
        }) {
            self.stats.evicted += 1;
            self.ended.push(FlowRecord { key, flow, reason: EndReason::Evicted });
        }
    }

    /// Ends every flow idle past its timeout at packet time `now`, and reports sessions
    /// running longer than the active timeout. One pass over the table.
    pub fn expire(&mut self, now: Micros) {
        let cfg = self.cfg;
        let mut reports = Vec::new();
        for (key, flow) in self.map.extract_if(|key, f| {
            if f.expired(now, &cfg) {
                return true;
            }
            if f.state.is_session() && now.saturating_sub(f.first_ts) >= cfg.active {
                reports.push(FlowRecord { key: *key, flow: f.report_and_reset(now), reason: EndReason::ActiveTimeout });
            }
            false
        }) {
            let reason = if !flow.is_tcp || !flow.tcp.closed() {
                EndReason::Idle
            } else if flow.tcp.reset() {
                EndReason::Reset
            } else {
                EndReason::Closed
            };
            self.ended.push(FlowRecord { key, flow, reason });
        }
        self.ended.append(&mut reports);
    }

    /// Ends every flow (end of input).
    pub fn drain(&mut self) {
        for (key, flow) in self.map.drain() {
            self.ended.push(FlowRecord { key, flow, reason: EndReason::EndOfInput });
        }
    }

    /// Flow records produced since the last call. Cheap when there are none.
    pub fn take_ended(&mut self) -> std::vec::Drain<'_, FlowRecord<S>> {
        self.ended.drain(..)
    }

    /// Whether records are waiting in [`FlowTable::take_ended`].
    pub fn has_ended(&self) -> bool {
        !self.ended.is_empty()
    }
}

fn track_tcp<S>(flow: &mut Flow<S>, side: Side, ts: Micros, flags: u8) {
    let syn_ack = flags & (tcp_flags::SYN | tcp_flags::ACK);
    let since = |first: Micros| u32::try_from(ts.saturating_sub(first)).unwrap_or(u32::MAX).max(1);
    let t = &mut flow.tcp;
    if syn_ack == tcp_flags::SYN | tcp_flags::ACK {
        if t.syn && t.synack_us == 0 && side != flow.initiator {
            t.synack_us = since(flow.first_ts);
        }
    } else if syn_ack == tcp_flags::ACK && t.syn && t.ack_us == 0 && t.synack_us != 0 && side == flow.initiator {
        t.ack_us = since(flow.first_ts);
    }
    if flags & tcp_flags::FIN != 0 {
        t.end_bits |= 1 << side.idx();
    }
    if flags & tcp_flags::RST != 0 {
        t.end_bits |= TcpTrack::RST;
    }
}

/// The worker a packet belongs to: a hash of the flow's endpoint, so that every flow of one
/// endpoint lands on one worker. `is_home` tells whether an address is inside; when both or
/// neither side is, the lower address is the endpoint.
pub fn shard(key: &FlowKey, workers: usize, is_home: impl Fn(&Addr) -> bool) -> usize {
    shard_addrs(&key.a, &key.b, workers, is_home)
}

/// [`shard`] from a packet's two addresses, in either order (a frame not decoded yet): the
/// same worker as its flow key's, since a key's side `a` is its lower address.
pub fn shard_addrs(x: &Addr, y: &Addr, workers: usize, is_home: impl Fn(&Addr) -> bool) -> usize {
    if workers <= 1 {
        return 0;
    }
    let (a, b) = if x <= y { (x, y) } else { (y, x) };
    let ep = if is_home(b) && !is_home(a) { b } else { a };
    (FlowKey::addr_hash(ep) % workers as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpInfo;
    use farhand_model::Transport;
    use farhand_model::net::proto;

    /// A stand-in for the engine's state: a session or not.
    #[derive(Debug, Default, Clone)]
    struct TestState {
        session: bool,
    }

    impl FlowState for TestState {
        fn is_session(&self) -> bool {
            self.session
        }
        fn follows_packets(&self) -> bool {
            false
        }
        fn report_copy(&self) -> Self {
            self.clone()
        }
    }

    type Table = FlowTable<TestState>;

    fn pkt(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, ts: Micros, flags: u8) -> PacketView<'static> {
        let (key, side) = FlowKey::new(Addr::v4(src), sport, Addr::v4(dst), dport, proto::TCP, 0);
        PacketView {
            ts,
            key,
            side,
            transport: Transport::Tcp,
            tcp: Some(TcpInfo { flags, seq: 0, ack: 0, window: 0 }),
            payload: &[],
            wire_len: 60,
            truncated: false,
            src_mac: [0; 6],
            echo_reply: false,
        }
    }

    const C: [u8; 4] = [10, 0, 0, 1];
    const S: [u8; 4] = [203, 0, 113, 1];

    #[test]
    fn handshake_and_close() {
        // A table that picks the connection up mid-stream, server's packet first.
        let mut t = Table::new(FlowConfig::default());
        t.packet(&pkt(S, 22, C, 40000, 50, tcp_flags::ACK));
        let mut t2 = Table::new(FlowConfig::default());
        t2.packet(&pkt(C, 40000, S, 22, 100, tcp_flags::SYN));
        t2.packet(&pkt(S, 22, C, 40000, 130, tcp_flags::SYN | tcp_flags::ACK));
        let f = t2.packet(&pkt(C, 40000, S, 22, 135, tcp_flags::ACK)).unwrap();
        assert_eq!(f.tcp.handshake(f.first_ts), [100, 130, 135]);
        let (_, init_side) = FlowKey::new(Addr::v4(C), 40000, Addr::v4(S), 22, proto::TCP, 0);
        assert_eq!(f.initiator, init_side);
        assert_eq!(f.pkts.iter().sum::<u32>(), 3);
        t2.packet(&pkt(C, 40000, S, 22, 200, tcp_flags::FIN | tcp_flags::ACK));
        t2.packet(&pkt(S, 22, C, 40000, 210, tcp_flags::FIN | tcp_flags::ACK));
        t2.expire(210 + 5_000_000);
        let ended: Vec<_> = t2.take_ended().collect();
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].reason, EndReason::Closed);
        // Mid-stream pickup: the server's packet came first but the client is the initiator.
        let f = t.packet(&pkt(C, 40000, S, 22, 60, tcp_flags::ACK)).unwrap();
        assert_eq!(f.initiator, init_side);
    }

    #[test]
    fn an_echo_reply_first_makes_the_requester_the_initiator() {
        let echo = |src: [u8; 4], dst: [u8; 4], echo_reply: bool| {
            let (key, side) = FlowKey::new(Addr::v4(src), 7, Addr::v4(dst), 7, proto::ICMP, 0);
            PacketView { transport: Transport::Icmp, tcp: None, key, side, echo_reply, ..pkt(src, 7, dst, 7, 1, 0) }
        };
        let (_, requester) = FlowKey::new(Addr::v4(C), 7, Addr::v4(S), 7, proto::ICMP, 0);
        let mut t = Table::new(FlowConfig::default());
        assert_eq!(t.packet(&echo(S, C, true)).unwrap().initiator, requester);
        let mut t = Table::new(FlowConfig::default());
        assert_eq!(t.packet(&echo(C, S, false)).unwrap().initiator, requester);
    }

    #[test]
    fn idle_timeouts_by_transport() {
        let cfg = FlowConfig::default();
        let mut t = Table::new(cfg);
        t.packet(&pkt(C, 40000, S, 22, 1, tcp_flags::SYN));
        t.expire(1 + cfg.tcp_idle - 1);
        assert_eq!(t.len(), 1);
        t.expire(1 + cfg.tcp_idle);
        assert_eq!(t.len(), 0);
        assert_eq!(t.take_ended().next().unwrap().reason, EndReason::Idle);
    }

    #[test]
    fn full_table_evicts_oldest_idle_first() {
        let cfg = FlowConfig { max_flows: 100, ..FlowConfig::default() };
        let mut t = Table::new(cfg);
        for i in 0..100u16 {
            t.packet(&pkt(C, 1000 + i, S, 80, 10 + u64::from(i), tcp_flags::SYN));
        }
        // Refresh the oldest flow: it must survive the eviction.
        t.packet(&pkt(C, 1000, S, 80, 500, tcp_flags::ACK));
        t.packet(&pkt(C, 5000, S, 80, 501, tcp_flags::SYN));
        assert!(t.len() <= 100);
        let evicted: Vec<u16> = t.take_ended().map(|r| r.key.a_port.max(r.key.b_port)).collect();
        // Full at 100: room is made down to 90% (10 evicted), the 10 idle the longest.
        assert_eq!(evicted.len(), 10, "{evicted:?}");
        assert!(!evicted.contains(&1000));
        assert!(evicted.iter().all(|p| (1001..=1010).contains(p)), "{evicted:?}");
        assert_eq!(t.stats().evicted, 10);
    }

    #[test]
    fn sessions_survive_eviction_and_report_at_active_timeout() {
        let cfg = FlowConfig { max_flows: 10, active: 100 * 1_000_000, ..FlowConfig::default() };
        let mut t = Table::new(cfg);
        // Ten sessions fill the table; they are the oldest flows, yet a flood of new flows
        // must not evict them: the new flows are dropped and counted instead.
        for i in 0..10u16 {
            let f = t.packet(&pkt(C, 2000 + i, S, 5900, 1, tcp_flags::SYN)).unwrap();
            f.state = TestState { session: true };
            f.settled = true;
        }
        for i in 0..50u16 {
            assert!(t.packet(&pkt(C, 3000 + i, S, 80, 10 + u64::from(i), tcp_flags::SYN)).is_none());
        }
        assert_eq!(t.stats().dropped_full, 50);
        assert_eq!(t.stats().evicted, 0);
        assert_eq!(t.len(), 10);
        // Keep one session alive past the active timeout: it is reported and continues.
        t.packet(&pkt(C, 2000, S, 5900, 60 * 1_000_000, tcp_flags::ACK));
        t.expire(101 * 1_000_000);
        let ended: Vec<_> = t.take_ended().collect();
        assert!(ended.iter().any(|r| r.reason == EndReason::ActiveTimeout && r.flow.state.is_session()));
        let f = t.packet(&pkt(C, 2000, S, 5900, 102 * 1_000_000, tcp_flags::ACK)).unwrap();
        assert!(f.state.is_session());
        assert_eq!(f.first_ts, 101 * 1_000_000);
        assert_eq!(f.pkts.iter().sum::<u32>(), 1);
    }

    #[test]
    fn port_reuse_after_close_starts_new_flow() {
        let mut t = Table::new(FlowConfig::default());
        t.packet(&pkt(C, 40000, S, 22, 1, tcp_flags::SYN));
        t.packet(&pkt(S, 22, C, 40000, 2, tcp_flags::RST));
        t.packet(&pkt(C, 40000, S, 22, 3, tcp_flags::SYN));
        let ended: Vec<_> = t.take_ended().collect();
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].reason, EndReason::Reset);
        assert_eq!(t.stats().created, 2);
    }

    #[test]
    fn shard_is_symmetric_and_by_endpoint() {
        let home = |a: &Addr| a.0[12] == 10;
        let (k1, _) = FlowKey::new(Addr::v4(C), 1, Addr::v4(S), 2, proto::TCP, 0);
        let (k2, _) = FlowKey::new(Addr::v4(S), 2, Addr::v4(C), 1, proto::TCP, 0);
        let (k3, _) = FlowKey::new(Addr::v4(C), 9, Addr::v4([198, 51, 100, 1]), 53, proto::UDP, 0);
        assert_eq!(shard(&k1, 7, home), shard(&k2, 7, home));
        assert_eq!(shard(&k1, 7, home), shard(&k3, 7, home));
    }
}
