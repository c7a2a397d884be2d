//! The types farhand's kernel program (`ebpf/probe`) and its userspace reader
//! (`farhand-engine`'s `capture::ebpf`) share.
//!
//! # Contract
//! - Every type is `#[repr(C)]`, holds integers (and arrays of them) only, and spells out its
//!   padding, so both sides agree on every byte; `tests` pins sizes and offsets.
//! - [`ABI_VERSION`] changes whenever a layout or a meaning here changes. The kernel program
//!   writes it into every event and the loader refuses a program whose version differs.
//! - `no_std`, no dependencies; with the `user` feature the types implement `aya::Pod`.
//!
//! # What flows where
//! ```text
//! TC ingress/egress ─► FH_FLOWS (LRU hash FlowKey → FlowCounters, every packet)
//!                   ─► FH_EVENTS (ring buffer: EventHeader + leading frame bytes)
//!                         · the first packets of each flow, each direction, until
//!                           ProbeConfig::first_payload bytes or first_packets packets
//!                         · TCP packets with SYN, FIN or RST (headers)
//!                         · every packet of a flow in FH_INTEREST (headers + its
//!                           SessionInterest::payload leading payload bytes)
//!                   ─► FH_COUNTERS (per-CPU u64 per Counter)
//! userspace         ─► FH_CONFIG (ProbeConfig), FH_INTEREST (sessions detectors claimed)
//! ```
#![cfg_attr(not(test), no_std)]

/// The version of the layouts and meanings in this crate.
pub const ABI_VERSION: u16 = 1;

/// Name of the LRU hash of per-flow counters ([`FlowKey`] → [`FlowCounters`]).
pub const MAP_FLOWS: &str = "FH_FLOWS";
/// Name of the hash of sessions of interest ([`FlowKey`] → [`SessionInterest`]).
pub const MAP_INTEREST: &str = "FH_INTEREST";
/// Name of the ring buffer of events ([`EventHeader`] + frame bytes).
pub const MAP_EVENTS: &str = "FH_EVENTS";
/// Name of the one-entry array holding the [`ProbeConfig`].
pub const MAP_CONFIG: &str = "FH_CONFIG";
/// Name of the per-CPU array of [`Counter`] values (u64 each).
pub const MAP_COUNTERS: &str = "FH_COUNTERS";
/// Name of the TC program for ingress.
pub const PROG_INGRESS: &str = "fh_ingress";
/// Name of the TC program for egress.
pub const PROG_EGRESS: &str = "fh_egress";

/// Default capacity of [`MAP_FLOWS`] (entries); the loader may set another.
pub const FLOWS_MAX: u32 = 262_144;
/// Capacity of [`MAP_INTEREST`] (entries).
pub const INTEREST_MAX: u32 = 16_384;
/// Default size of [`MAP_EVENTS`] in bytes (a power of two, a multiple of the page size).
pub const EVENTS_BYTES: u32 = 16 << 20;
/// The most frame bytes one event carries (from the start of the link-layer header).
pub const EVENT_DATA_MAX: u32 = 1536;

/// Address family of a [`FlowKey`].
pub const FAMILY_IPV4: u8 = 4;
/// Address family of a [`FlowKey`].
pub const FAMILY_IPV6: u8 = 6;

/// A flow as the kernel keys it: the two endpoints in canonical order (the lower
/// address/port pair first, compared as the `lo`/`hi` words are stored), so both directions
/// of a conversation share one entry. IPv4 addresses sit in word 0, words 1–3 zero.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    /// The lower endpoint's address, network byte order words.
    pub lo_addr: [u32; 4],
    /// The higher endpoint's address.
    pub hi_addr: [u32; 4],
    /// The lower endpoint's port (host order; 0 for protocols without ports).
    pub lo_port: u16,
    /// The higher endpoint's port.
    pub hi_port: u16,
    /// IP protocol number (6 TCP, 17 UDP, …).
    pub proto: u8,
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
    /// Explicit padding, always zero.
    pub _pad: [u8; 2],
}

impl FlowKey {
    /// The key of a packet from `src` to `dst` (address words as read from the packet,
    /// port), and the direction index of the packet ([`FROM_LO`] or [`FROM_HI`]). The lower
    /// endpoint compares smaller as (word 0, word 1, word 2, word 3, port); both the kernel
    /// and userspace key flows through this function.
    #[inline(always)]
    pub fn canonical(src: ([u32; 4], u16), dst: ([u32; 4], u16), proto: u8, family: u8) -> (FlowKey, usize) {
        let mut src_lower = src.1 < dst.1;
        let mut decided = false;
        for (a, b) in src.0.iter().zip(dst.0.iter()) {
            if !decided && a != b {
                src_lower = a < b;
                decided = true;
            }
        }
        let (lo, hi, dir) = if src_lower || src == dst { (src, dst, FROM_LO) } else { (dst, src, FROM_HI) };
        let key = FlowKey { lo_addr: lo.0, hi_addr: hi.0, lo_port: lo.1, hi_port: hi.1, proto, family, _pad: [0; 2] };
        (key, dir)
    }
}

/// Direction index into [`FlowCounters`]' arrays: from the lower endpoint of the key.
pub const FROM_LO: usize = 0;
/// Direction index: from the higher endpoint.
pub const FROM_HI: usize = 1;

/// What the kernel counts per flow, every packet (the first-packet budget included).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowCounters {
    /// Packets per direction ([`FROM_LO`], [`FROM_HI`]).
    pub packets: [u64; 2],
    /// Bytes on the wire (the skb's length) per direction.
    pub bytes: [u64; 2],
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) of the first packet.
    pub first_ns: u64,
    /// `bpf_ktime_get_ns` of the last packet.
    pub last_ns: u64,
    /// Payload bytes already sent to userspace as first packets, per direction.
    pub sent_payload: [u32; 2],
    /// Packets already sent to userspace as first packets, per direction.
    pub sent_packets: [u16; 2],
    /// TCP flags seen, OR-ed, per direction.
    pub tcp_flags: [u8; 2],
    /// Explicit padding, always zero.
    pub _pad: [u8; 2],
}

/// A session userspace marked as interesting: every one of its packets is sent up.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionInterest {
    /// Leading payload bytes sent with each packet (beyond the headers), at most
    /// [`EVENT_DATA_MAX`] minus the headers.
    pub payload: u16,
    /// Reserved, zero.
    pub flags: u16,
    /// Explicit padding, always zero.
    pub _pad: u32,
}

/// The probe's settings, written by userspace into [`MAP_CONFIG`] index 0 before attaching.
/// All zero (never written) means "send nothing": the counters still run.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProbeConfig {
    /// [`ABI_VERSION`] of the loader; the probe sends nothing if it differs from its own.
    pub abi: u16,
    /// Explicit padding, always zero.
    pub _pad: u16,
    /// First packets sent per flow and direction, at most.
    pub first_packets: u32,
    /// Payload bytes sent as first packets per flow and direction, at most (the detectors'
    /// largest `interest()`); a packet that starts below it is sent whole (up to
    /// [`EVENT_DATA_MAX`]).
    pub first_payload: u32,
    /// Frame bytes beyond the headers sent with a SYN/FIN/RST packet past the first ones.
    pub control_payload: u32,
}

/// Why an event was sent.
pub mod kind {
    /// One of the first packets of a flow direction.
    pub const FIRST: u8 = 1;
    /// A TCP packet with SYN, FIN or RST past the first packets.
    pub const CONTROL: u8 = 2;
    /// A packet of a session of interest.
    pub const SESSION: u8 = 3;
}

/// Where the packet was seen.
pub mod hook {
    /// TC ingress.
    pub const INGRESS: u8 = 0;
    /// TC egress.
    pub const EGRESS: u8 = 1;
}

/// The fixed start of every ring-buffer record; `cap_len` frame bytes follow it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventHeader {
    /// [`ABI_VERSION`] of the probe that wrote it.
    pub abi: u16,
    /// One of [`kind`].
    pub kind: u8,
    /// One of [`hook`].
    pub hook: u8,
    /// The interface's index.
    pub ifindex: u32,
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) when the probe saw the packet.
    pub ts_ns: u64,
    /// The packet's length (the skb's, link-layer header included).
    pub wire_len: u32,
    /// Frame bytes that follow (≤ [`EVENT_DATA_MAX`], ≤ `wire_len`).
    pub cap_len: u32,
}

/// The size of [`EventHeader`] in bytes.
pub const EVENT_HEADER_LEN: usize = core::mem::size_of::<EventHeader>();

/// The size of one ring-buffer record the probe writes: the header and the largest frame.
pub const EVENT_LEN: usize = EVENT_HEADER_LEN + EVENT_DATA_MAX as usize;

/// A ring-buffer record as the probe reserves it: a header and room for the frame bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// What the frame bytes are.
    pub header: EventHeader,
    /// `header.cap_len` frame bytes, the rest unspecified.
    pub data: [u8; EVENT_DATA_MAX as usize],
}

/// Indices into [`MAP_COUNTERS`].
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Packets the probe saw.
    Packets = 0,
    /// Events written to the ring buffer.
    Events = 1,
    /// Events lost because the ring buffer was full.
    RingFull = 2,
    /// New flows that could not be inserted into [`MAP_FLOWS`].
    MapFull = 3,
    /// Packets that are not IPv4/IPv6 over Ethernet (passed, not counted per flow).
    NotIp = 4,
    /// Packets whose headers were cut short (passed, not counted per flow).
    Truncated = 5,
    /// Frame bytes sent to userspace.
    EventBytes = 6,
    /// Events dropped because the probe's configuration was missing or of another version.
    Unconfigured = 7,
}

/// Entries of [`MAP_COUNTERS`].
pub const COUNTERS: u32 = 8;

impl Counter {
    /// Every counter, in index order.
    pub const ALL: [Counter; COUNTERS as usize] = [
        Counter::Packets,
        Counter::Events,
        Counter::RingFull,
        Counter::MapFull,
        Counter::NotIp,
        Counter::Truncated,
        Counter::EventBytes,
        Counter::Unconfigured,
    ];

    /// The counter's name in metrics and the summary line.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::Packets => "packets",
            Counter::Events => "events",
            Counter::RingFull => "ring_full",
            Counter::MapFull => "map_full",
            Counter::NotIp => "not_ip",
            Counter::Truncated => "truncated",
            Counter::EventBytes => "event_bytes",
            Counter::Unconfigured => "unconfigured",
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: each type is #[repr(C)], made of integers and arrays of integers with explicit
    // padding fields, so every bit pattern is valid and there are no implicit holes.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::FlowKey {}
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::FlowCounters {}
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::SessionInterest {}
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::ProbeConfig {}
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::EventHeader {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn layouts_are_pinned() {
        assert_eq!((size_of::<FlowKey>(), align_of::<FlowKey>()), (40, 4));
        assert_eq!(
            [offset_of!(FlowKey, hi_addr), offset_of!(FlowKey, lo_port), offset_of!(FlowKey, hi_port)],
            [16, 32, 34]
        );
        assert_eq!([offset_of!(FlowKey, proto), offset_of!(FlowKey, family), offset_of!(FlowKey, _pad)], [36, 37, 38]);

        assert_eq!((size_of::<FlowCounters>(), align_of::<FlowCounters>()), (64, 8));
        assert_eq!(
            [
                offset_of!(FlowCounters, bytes),
                offset_of!(FlowCounters, first_ns),
                offset_of!(FlowCounters, last_ns),
                offset_of!(FlowCounters, sent_payload),
                offset_of!(FlowCounters, sent_packets),
                offset_of!(FlowCounters, tcp_flags),
                offset_of!(FlowCounters, _pad),
            ],
            [16, 32, 40, 48, 56, 60, 62]
        );

        assert_eq!(size_of::<SessionInterest>(), 8);
        assert_eq!([offset_of!(SessionInterest, flags), offset_of!(SessionInterest, _pad)], [2, 4]);

        assert_eq!(size_of::<ProbeConfig>(), 16);
        assert_eq!(
            [
                offset_of!(ProbeConfig, first_packets),
                offset_of!(ProbeConfig, first_payload),
                offset_of!(ProbeConfig, control_payload)
            ],
            [4, 8, 12]
        );

        assert_eq!((size_of::<EventHeader>(), align_of::<EventHeader>()), (24, 8));
        assert_eq!(
            [
                offset_of!(EventHeader, kind),
                offset_of!(EventHeader, hook),
                offset_of!(EventHeader, ifindex),
                offset_of!(EventHeader, ts_ns),
                offset_of!(EventHeader, wire_len),
                offset_of!(EventHeader, cap_len)
            ],
            [2, 3, 4, 8, 16, 20]
        );
        assert_eq!((size_of::<Event>(), offset_of!(Event, data)), (EVENT_LEN, 24));
        assert_eq!(EVENT_LEN % 8, 0);
    }

    #[test]
    fn both_directions_share_a_key() {
        let a = ([0x0100_000a, 0, 0, 0], 40000);
        let b = ([0x0200_000a, 0, 0, 0], 22);
        let (k1, d1) = FlowKey::canonical(a, b, 6, FAMILY_IPV4);
        let (k2, d2) = FlowKey::canonical(b, a, 6, FAMILY_IPV4);
        assert_eq!(k1, k2);
        assert_eq!((d1, d2), (FROM_LO, FROM_HI));
        assert_eq!((k1.lo_addr, k1.lo_port), a);
        // Same addresses: the port decides; the same endpoint both ways is FROM_LO.
        let (k3, d3) = FlowKey::canonical((a.0, 5), (a.0, 4), 17, FAMILY_IPV4);
        assert_eq!((k3.lo_port, d3), (4, FROM_HI));
        assert_eq!(FlowKey::canonical(a, a, 17, FAMILY_IPV4).1, FROM_LO);
        // A later word decides only when the earlier ones are equal.
        let x = ([1, 9, 0, 0], 1);
        let y = ([1, 2, 0, 0], 2);
        assert_eq!(FlowKey::canonical(x, y, 6, FAMILY_IPV6).1, FROM_HI);
        assert_eq!(FlowKey::canonical(([0, 9, 0, 0], 9), y, 6, FAMILY_IPV6).1, FROM_LO);
    }

    #[test]
    fn names_fit_the_kernel() {
        // BPF object names hold 15 characters.
        for n in [MAP_FLOWS, MAP_INTEREST, MAP_EVENTS, MAP_CONFIG, MAP_COUNTERS, PROG_INGRESS, PROG_EGRESS] {
            assert!(n.len() <= 15, "{n}");
        }
        assert!(EVENTS_BYTES.is_power_of_two() && EVENTS_BYTES.is_multiple_of(4096));
    }

    #[test]
    fn counters_are_indexed_in_order() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        let names: std::collections::BTreeSet<_> = Counter::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), COUNTERS as usize);
    }
}
