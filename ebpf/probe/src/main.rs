//! farhand's kernel capture: two TC classifiers, `fh_ingress` and `fh_egress`, that count
//! every IP flow and send the packets userspace asks for through a ring buffer.
//!
//! # Contract
//! - **Fail open, always.** Both programs return `TC_ACT_UNSPEC` (-1) on every path: under
//!   TCX that is `TCX_NEXT` (the next program runs, the packet passes), under classic `clsact`
//!   with direct action it is "no verdict" (the packet passes). Nothing here writes to, drops
//!   or redirects a packet; the only packet helper used is `bpf_skb_load_bytes`.
//! - **Bounded reads.** Every header byte is read with `bpf_skb_load_bytes`, which fails
//!   instead of reading past the skb and works on non-linear skbs (GRO/GSO aggregates) where
//!   direct packet access would only see the linear part. A read that fails means the
//!   headers were cut short: the packet is counted as [`Counter::Truncated`] and passed.
//!   Loops (VLAN tags, IPv6 extension headers) have constant bounds.
//! - **Small stack.** Only keys, small header copies and one [`FlowCounters`] live on the
//!   stack; the frame copy goes straight into the ring-buffer reservation.
//!
//! # What it does per packet
//! 1. `FH_COUNTERS[Packets] += 1`.
//! 2. Parses Ethernet (up to two 802.1Q/802.1ad tags), IPv4 (any options; a non-first
//!    fragment has no ports) or IPv6 (hop-by-hop, routing, destination-options, fragment and
//!    AH extension headers skipped, a few at most), then TCP/UDP ports and the TCP flags.
//!    Anything that is not IPv4/IPv6 is counted as [`Counter::NotIp`] and passed.
//! 3. Builds the canonical [`FlowKey`] (lower endpoint first, by the shared [`FlowKey::canonical`]) and
//!    updates `FH_FLOWS`: packets, bytes, last time, TCP flags of this direction.
//! 4. Reads `FH_CONFIG[0]`; if its `abi` is not [`ABI_VERSION`] it counts
//!    [`Counter::Unconfigured`] and sends nothing.
//! 5. Sends at most one event: [`kind::FIRST`] while the flow direction's first-packet budget
//!    lasts (the whole frame, up to [`EVENT_DATA_MAX`]), else [`kind::SESSION`] if the flow
//!    is in `FH_INTEREST` (headers + the session's payload bytes), else [`kind::CONTROL`]
//!    for a TCP SYN/FIN/RST (headers + `control_payload` bytes). A flow that could not get
//!    an entry in `FH_FLOWS` (map full) only gets CONTROL events.
//!
//! # Details userspace should know
//! - The first-packet budget (`sent_packets`, `sent_payload`) is spent only when the event
//!   was submitted, so a full ring buffer does not use it up; every packet sent counts
//!   toward `sent_packets`, pure ACKs included.
//! - [`Counter::Unconfigured`] counts packets seen while the configuration was missing or of
//!   another version (each would have been considered for an event).
//! - VLAN tags the driver or veth moved into skb metadata (hardware VLAN acceleration, the
//!   common case on ingress) are not in the frame bytes and not in the event; tags still in
//!   the frame are skipped by the parser and stay in the event's bytes.
//! - Payload lengths come from the IP length fields: Ethernet padding is not payload, and an
//!   IPv4 BIG TCP aggregate (total length 0) counts as 0 bytes of payload.
//!
//! Per-flow packet and byte counts are added atomically; the first-packet budget and the
//! TCP flags are plain read-modify-writes, so two CPUs handling the same flow at the same
//! instant may send one packet more than the budget or lose a flag bit for a moment.
#![no_std]
#![no_main]
// `atomic_xadd` for the per-flow counts: the BPF target has 64-bit atomic adds but no
// compare-and-swap, so core's `AtomicU64::fetch_add` is not available on it. The build sets
// RUSTC_BOOTSTRAP=1 anyway (for -Z build-std).
#![feature(core_intrinsics)]
#![allow(internal_features)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use core::intrinsics::{AtomicOrdering, atomic_xadd};

use aya_ebpf::{
    bindings::{BPF_NOEXIST, __sk_buff},
    btf_maps::{Array, HashMap, LruHashMap, PerCpuArray, RingBuf},
    helpers::{bpf_ktime_get_ns, bpf_skb_load_bytes},
    macros::{btf_map, classifier},
    programs::TcContext,
};
use farhand_ebpf_common::{
    ABI_VERSION, COUNTERS, Counter, EVENT_DATA_MAX, EVENTS_BYTES, Event, EventHeader,
    FAMILY_IPV4, FAMILY_IPV6, FLOWS_MAX, FlowCounters, FlowKey,
    INTEREST_MAX, ProbeConfig, SessionInterest, hook, kind,
};

/// The verdict every path returns: `TC_ACT_UNSPEC`, which TCX reads as `TCX_NEXT`.
const TC_NEXT: i32 = -1;

/// `EEXIST`, negated by the map helpers when `BPF_NOEXIST` finds the key already there.
const EEXIST: i32 = 17;

/// IPv4 EtherType.
const ETH_P_IPV4: u16 = 0x0800;
/// IPv6 EtherType.
const ETH_P_IPV6: u16 = 0x86DD;
/// 802.1Q VLAN tag.
const ETH_P_8021Q: u16 = 0x8100;
/// 802.1ad (QinQ) service tag.
const ETH_P_8021AD: u16 = 0x88A8;
/// Length of an Ethernet header without tags.
const ETH_HLEN: u32 = 14;
/// Length of one VLAN tag.
const VLAN_HLEN: u32 = 4;
/// VLAN tags skipped at most.
const VLAN_MAX: usize = 2;

/// TCP protocol number.
const IPPROTO_TCP: u8 = 6;
/// UDP protocol number.
const IPPROTO_UDP: u8 = 17;
/// IPv6 hop-by-hop options header.
const IPPROTO_HOPOPTS: u8 = 0;
/// IPv6 routing header.
const IPPROTO_ROUTING: u8 = 43;
/// IPv6 fragment header.
const IPPROTO_FRAGMENT: u8 = 44;
/// IPsec authentication header (skippable; ESP is not).
const IPPROTO_AH: u8 = 51;
/// IPv6 destination options header.
const IPPROTO_DSTOPTS: u8 = 60;
/// IPv6 extension headers skipped at most before giving up and keying on the last one.
const IPV6_EXT_MAX: usize = 4;
/// Length of the fixed IPv6 header.
const IPV6_HLEN: u32 = 40;
/// Length of an IPv4 header without options.
const IPV4_HLEN: u32 = 20;
/// Length of a UDP header.
const UDP_HLEN: u32 = 8;
/// Length of a TCP header without options.
const TCP_HLEN: u32 = 20;

/// TCP flags that make a packet a CONTROL event.
const TCP_FIN: u8 = 0x01;
/// SYN.
const TCP_SYN: u8 = 0x02;
/// RST.
const TCP_RST: u8 = 0x04;

/// Per-flow counters, every packet (userspace may resize it before loading).
#[btf_map]
static FH_FLOWS: LruHashMap<FlowKey, FlowCounters, { FLOWS_MAX as usize }> = LruHashMap::new();

/// Sessions userspace wants every packet of, with how much payload.
#[btf_map]
static FH_INTEREST: HashMap<FlowKey, SessionInterest, { INTEREST_MAX as usize }> =
    HashMap::new();

/// Events to userspace: [`EventHeader`] and the leading frame bytes. The record type is
/// given at reservation (`reserve_untyped::<Event>`), not in the map's BTF: libbpf wants a
/// ring buffer's value size to be 0 and rejects a typed definition ("conflicting value size").
#[btf_map]
static FH_EVENTS: RingBuf<(), { EVENTS_BYTES as usize }> = RingBuf::new();

/// The probe's settings, index 0, written by userspace.
#[btf_map]
static FH_CONFIG: Array<ProbeConfig, 1> = Array::new();

/// Per-CPU counters indexed by [`Counter`].
#[btf_map]
static FH_COUNTERS: PerCpuArray<u64, { COUNTERS as usize }> = PerCpuArray::new();

/// TC ingress entry point.
#[classifier]
fn fh_ingress(ctx: TcContext) -> i32 {
    handle::<{ hook::INGRESS }>(&ctx)
}

/// TC egress entry point.
#[classifier]
fn fh_egress(ctx: TcContext) -> i32 {
    handle::<{ hook::EGRESS }>(&ctx)
}

/// What [`parse`] learns from a packet's headers.
struct Parsed {
    /// The canonical flow key, fully initialised (padding included).
    key: FlowKey,
    /// `FROM_LO` if the packet's source is the key's lower endpoint, else `FROM_HI`.
    dir: usize,
    /// The TCP flags byte (0 for other protocols and non-first fragments).
    tcp_flags: u8,
    /// Whether the packet is TCP with its header present.
    is_tcp: bool,
    /// Bytes from the start of the frame through the transport header.
    hdr_len: u32,
    /// Transport payload bytes, from the IP length fields (so Ethernet padding is not payload).
    payload: u32,
}

/// Why [`parse`] gave up on a packet; both pass the packet untouched.
enum Skip {
    /// Not IPv4 or IPv6 over Ethernet.
    NotIp,
    /// A header ran past the packet or was malformed.
    Truncated,
}

/// Shared body of both programs; `HOOK` is [`hook::INGRESS`] or [`hook::EGRESS`]. Always
/// returns [`TC_NEXT`].
#[inline(always)]
fn handle<const HOOK: u8>(ctx: &TcContext) -> i32 {
    bump(Counter::Packets, 1);
    let parsed = match parse(ctx) {
        Ok(p) => p,
        Err(Skip::NotIp) => {
            bump(Counter::NotIp, 1);
            return TC_NEXT;
        }
        Err(Skip::Truncated) => {
            bump(Counter::Truncated, 1);
            return TC_NEXT;
        }
    };
    // SAFETY: a helper without arguments, available to every program type.
    let now = unsafe { bpf_ktime_get_ns() };
    let wire_len = ctx.len();
    let flow = account(&parsed, wire_len, now);

    let cfg = match FH_CONFIG.get(0) {
        Some(cfg) if cfg.abi == ABI_VERSION => cfg,
        _ => {
            bump(Counter::Unconfigured, 1);
            return TC_NEXT;
        }
    };

    if let Some(flow) = flow {
        // SAFETY: `flow` points into an FH_FLOWS value the kernel keeps alive for this run.
        let (sent_packets, sent_payload) = unsafe {
            ((*flow).sent_packets[parsed.dir & 1], (*flow).sent_payload[parsed.dir & 1])
        };
        if u32::from(sent_packets) < cfg.first_packets && sent_payload < cfg.first_payload {
            if send::<HOOK>(ctx, kind::FIRST, wire_len, EVENT_DATA_MAX, now) {
                // SAFETY: as above; plain read-modify-write (see the module doc).
                unsafe {
                    let c = &mut *flow;
                    let d = parsed.dir & 1;
                    c.sent_packets[d] = c.sent_packets[d].saturating_add(1);
                    c.sent_payload[d] = c.sent_payload[d].saturating_add(parsed.payload);
                }
            }
            return TC_NEXT;
        }
        if let Some(interest) = FH_INTEREST.get_ptr(&parsed.key) {
            // SAFETY: a pointer into an FH_INTEREST value, valid for this run.
            let extra = u32::from(unsafe { (*interest).payload });
            let cap = parsed.hdr_len.saturating_add(extra);
            send::<HOOK>(ctx, kind::SESSION, wire_len, cap, now);
            return TC_NEXT;
        }
    }
    if parsed.is_tcp && parsed.tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST) != 0 {
        let cap = parsed.hdr_len.saturating_add(cfg.control_payload);
        send::<HOOK>(ctx, kind::CONTROL, wire_len, cap, now);
    }
    TC_NEXT
}

/// Adds `n` to this CPU's slot of counter `c` in `FH_COUNTERS`.
#[inline(always)]
fn bump(c: Counter, n: u64) {
    if let Some(slot) = FH_COUNTERS.get_ptr_mut(c as u32) {
        // SAFETY: a per-CPU slot, only this program on this CPU writes it right now.
        unsafe { *slot += n };
    }
}

/// Reads a `T` (plain bytes) at `offset` of the packet, or [`Skip::Truncated`] if the
/// packet is shorter.
#[inline(always)]
fn read<T>(ctx: &TcContext, offset: u32) -> Result<T, Skip> {
    ctx.load::<T>(offset as usize).map_err(|_| Skip::Truncated)
}

/// Reads a big-endian `u16` at `offset`.
#[inline(always)]
fn read_be16(ctx: &TcContext, offset: u32) -> Result<u16, Skip> {
    read::<[u8; 2]>(ctx, offset).map(u16::from_be_bytes)
}

/// Parses the link, network and transport headers into a [`Parsed`].
#[inline(always)]
fn parse(ctx: &TcContext) -> Result<Parsed, Skip> {
    // Ethernet, then up to VLAN_MAX tags. A frame too short for an Ethernet header is not IP.
    let mut ethertype = read_be16(ctx, 12).map_err(|_| Skip::NotIp)?;
    let mut l3 = ETH_HLEN;
    for _ in 0..VLAN_MAX {
        if ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD {
            break;
        }
        ethertype = read_be16(ctx, l3 + 2)?;
        l3 += VLAN_HLEN;
    }

    // Network layer: addresses as raw network-order words, where the transport header
    // starts, where the IP packet ends, and whether there is a transport header at all.
    let mut src = [0u32; 4];
    let mut dst = [0u32; 4];
    let (family, proto, l4, ip_end, has_l4) = match ethertype {
        ETH_P_IPV4 => {
            let h = read::<[u8; IPV4_HLEN as usize]>(ctx, l3)?;
            if h[0] >> 4 != 4 {
                return Err(Skip::Truncated);
            }
            let ihl = u32::from(h[0] & 0x0f) * 4;
            if ihl < IPV4_HLEN {
                return Err(Skip::Truncated);
            }
            let total = u32::from(u16::from_be_bytes([h[2], h[3]]));
            let frag_off = u16::from_be_bytes([h[6], h[7]]) & 0x1fff;
            src[0] = u32::from_ne_bytes([h[12], h[13], h[14], h[15]]);
            dst[0] = u32::from_ne_bytes([h[16], h[17], h[18], h[19]]);
            (FAMILY_IPV4, h[9], l3 + ihl, l3 + total, frag_off == 0)
        }
        ETH_P_IPV6 => {
            let h = read::<[u8; IPV6_HLEN as usize]>(ctx, l3)?;
            if h[0] >> 4 != 6 {
                return Err(Skip::Truncated);
            }
            let plen = u32::from(u16::from_be_bytes([h[4], h[5]]));
            for i in 0..4 {
                let s = 8 + 4 * i;
                let d = 24 + 4 * i;
                src[i] = u32::from_ne_bytes([h[s], h[s + 1], h[s + 2], h[s + 3]]);
                dst[i] = u32::from_ne_bytes([h[d], h[d + 1], h[d + 2], h[d + 3]]);
            }
            let (next, l4, has_l4) = skip_ipv6_ext(ctx, h[6], l3 + IPV6_HLEN)?;
            (FAMILY_IPV6, next, l4, l3 + IPV6_HLEN + plen, has_l4)
        }
        _ => return Err(Skip::NotIp),
    };

    // Transport layer: ports and TCP flags, and where the payload starts.
    let mut src_port = 0u16;
    let mut dst_port = 0u16;
    let mut tcp_flags = 0u8;
    let mut is_tcp = false;
    let mut hdr_len = l4;
    if has_l4 {
        match proto {
            IPPROTO_TCP => {
                let h = read::<[u8; 14]>(ctx, l4)?;
                let doff = u32::from(h[12] >> 4) * 4;
                if doff < TCP_HLEN {
                    return Err(Skip::Truncated);
                }
                src_port = u16::from_be_bytes([h[0], h[1]]);
                dst_port = u16::from_be_bytes([h[2], h[3]]);
                tcp_flags = h[13];
                is_tcp = true;
                hdr_len = l4 + doff;
                if hdr_len > ctx.len() {
                    return Err(Skip::Truncated);
                }
            }
            IPPROTO_UDP => {
                let h = read::<[u8; 4]>(ctx, l4)?;
                src_port = u16::from_be_bytes([h[0], h[1]]);
                dst_port = u16::from_be_bytes([h[2], h[3]]);
                hdr_len = l4 + UDP_HLEN;
            }
            _ => {}
        }
    }
    let (key, dir) = FlowKey::canonical((src, src_port), (dst, dst_port), proto, family);
    Ok(Parsed { key, dir, tcp_flags, is_tcp, hdr_len, payload: ip_end.saturating_sub(hdr_len) })
}

/// Skips up to [`IPV6_EXT_MAX`] IPv6 extension headers starting at `off` with next header
/// `next`. Returns the protocol that follows, where its header starts, and whether a
/// transport header is there (false for a non-first fragment).
#[inline(always)]
fn skip_ipv6_ext(ctx: &TcContext, mut next: u8, mut off: u32) -> Result<(u8, u32, bool), Skip> {
    for _ in 0..IPV6_EXT_MAX {
        match next {
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => {
                let h = read::<[u8; 2]>(ctx, off)?;
                next = h[0];
                off += (u32::from(h[1]) + 1) * 8;
            }
            IPPROTO_AH => {
                let h = read::<[u8; 2]>(ctx, off)?;
                next = h[0];
                off += (u32::from(h[1]) + 2) * 4;
            }
            IPPROTO_FRAGMENT => {
                let h = read::<[u8; 4]>(ctx, off)?;
                next = h[0];
                off += 8;
                if u16::from_be_bytes([h[2], h[3]]) >> 3 != 0 {
                    return Ok((next, off, false));
                }
            }
            _ => return Ok((next, off, true)),
        }
    }
    // Still inside extension headers: key on the last one, without ports.
    Ok((next, off, false))
}

/// Counts the packet in `FH_FLOWS`, creating the flow's entry if needed. Returns a pointer
/// to the flow's counters, or `None` (after counting [`Counter::MapFull`]) if the flow has
/// no entry and could not get one.
#[inline(always)]
fn account(p: &Parsed, wire_len: u32, now: u64) -> Option<*mut FlowCounters> {
    let flow = match FH_FLOWS.get_ptr_mut(&p.key) {
        Some(flow) => flow,
        None => {
            let fresh = FlowCounters { first_ns: now, last_ns: now, ..FlowCounters::default() };
            match FH_FLOWS.insert(&p.key, &fresh, u64::from(BPF_NOEXIST)) {
                Ok(()) => {}
                // Another CPU created it in between: use theirs.
                Err(e) if e == -EEXIST => {}
                Err(_) => {
                    bump(Counter::MapFull, 1);
                    return None;
                }
            }
            match FH_FLOWS.get_ptr_mut(&p.key) {
                Some(flow) => flow,
                None => {
                    bump(Counter::MapFull, 1);
                    return None;
                }
            }
        }
    };
    let d = p.dir & 1;
    // SAFETY: `flow` points into an FH_FLOWS value, valid for this run; the u64 fields are
    // 8-byte aligned (FlowCounters is align 8, the map stores values 8-aligned), so they can
    // take atomic adds (BPF_ATOMIC | BPF_ADD, result unused) for the counts other CPUs may
    // add to at the same time.
    unsafe {
        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(&raw mut (*flow).packets[d], 1);
        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(
            &raw mut (*flow).bytes[d],
            u64::from(wire_len),
        );
        (*flow).last_ns = now;
        (*flow).tcp_flags[d] |= p.tcp_flags;
    }
    Some(flow)
}

/// Sends one event of kind `kind`: reserves an [`Event`] in `FH_EVENTS`, fills its header
/// and copies `min(wire_len, want, EVENT_DATA_MAX)` leading frame bytes into it. Counts
/// [`Counter::RingFull`] when the reservation fails, [`Counter::Events`] and
/// [`Counter::EventBytes`] when the event is submitted. Returns whether it was submitted.
#[inline(always)]
fn send<const HOOK: u8>(ctx: &TcContext, kind: u8, wire_len: u32, want: u32, now: u64) -> bool {
    // The verifier must see 1 <= len <= EVENT_DATA_MAX on the very register handed to
    // bpf_skb_load_bytes. Working in u64 keeps the compiler from checking a zero-extended
    // copy of a u32 while passing the original (which the verifier then sees as [0, max]).
    let mut cap = u64::from(if want < wire_len { want } else { wire_len });
    if cap > u64::from(EVENT_DATA_MAX) {
        cap = u64::from(EVENT_DATA_MAX);
    }
    if cap == 0 {
        return false;
    }
    let Some(mut entry) = FH_EVENTS.reserve_untyped::<Event>(0) else {
        bump(Counter::RingFull, 1);
        return false;
    };
    let ev: *mut Event = entry.as_mut_ptr();
    let skb: *mut __sk_buff = ctx.skb.skb;
    // SAFETY: `ev` is a live ring-buffer reservation of size_of::<Event>() bytes; `skb` is the
    // program's context.
    let loaded = unsafe {
        (*ev).header = EventHeader {
            abi: ABI_VERSION,
            kind,
            hook: HOOK,
            ifindex: (*skb).ifindex,
            ts_ns: now,
            wire_len,
            cap_len: cap as u32,
        };
        bpf_skb_load_bytes(skb.cast(), 0, (&raw mut (*ev).data).cast(), cap as u32)
    };
    if loaded != 0 {
        entry.discard(0);
        return false;
    }
    entry.submit(0);
    bump(Counter::Events, 1);
    bump(Counter::EventBytes, cap);
    true
}

/// BPF programs cannot unwind; nothing here panics, but `no_std` needs a handler.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
