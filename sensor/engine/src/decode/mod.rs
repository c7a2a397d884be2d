//! Decode: a [`PacketView`] over the borrowed bytes of a [`RawFrame`].
//!
//! # Contract
//! - [`decode`] never panics and never allocates, whatever the bytes. It uses etherparse's
//!   lax slicing: a frame cut short by the snaplen keeps the layers that parsed.
//! - Link layers: Ethernet II with up to three 802.1Q/802.1ad tags (QinQ), PPPoE sessions
//!   inside it, Linux cooked v1 and v2, raw IPv4/IPv6, BSD/OpenBSD loopback, PPP (with or
//!   without HDLC-like framing), PPPoE without Ethernet, Cisco HDLC, Linux NFLOG, and
//!   unprotected 802.11 data frames (bare or behind radiotap) — the readers of the
//!   less common ones are in `links`. Network: IPv4 and IPv6 with extension
//!   headers. Transport: TCP, UDP, and ICMP/ICMPv6 echo request/reply (keyed by the echo
//!   identifier); the whole IP protocols tunnels ride on — ESP, GRE, and AH in tunnel mode —
//!   without ports (one flow per address pair); other protocols are counted, not viewed.
//! - IP fragments are counted ([`DecodeStats::fragments`]) and never parsed as transport
//!   headers: a non-first fragment's bytes are not a TCP/UDP header.
//! - A frame that yields no view is counted once in [`DecodeStats`] under the reason why.
//! - A `PacketView` borrows the frame and must not outlive the callback that received it.

use crate::capture::{LinkType, RawFrame};
use etherparse::{EtherType, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use farhand_model::Micros;
use farhand_model::Transport;
use farhand_model::net::{Addr, FlowKey, Side, proto};

mod fast;
mod links;

pub use fast::endpoints;

/// TCP header fields the flow table and detectors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// Flag bits as on the wire (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...).
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Advertised window (unscaled).
    pub window: u16,
}

/// TCP flag bits.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// A decoded TCP/UDP packet: flow key, direction and payload, borrowed from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketView<'a> {
    /// Capture time.
    pub ts: Micros,
    /// Canonical flow key.
    pub key: FlowKey,
    /// Which side of `key` sent this packet.
    pub side: Side,
    /// TCP or UDP.
    pub transport: Transport,
    /// TCP header fields (`None` for UDP).
    pub tcp: Option<TcpInfo>,
    /// Transport payload as captured.
    pub payload: &'a [u8],
    /// Frame length on the wire.
    pub wire_len: u32,
    /// The payload was cut short by the snaplen or a lying length field.
    pub truncated: bool,
    /// Ethernet source address (all zero when the link layer has none).
    pub src_mac: [u8; 6],
    /// An ICMP echo reply (type 0, or 129 for ICMPv6): its sender answers, so a flow that
    /// begins with it was initiated by the other side.
    pub echo_reply: bool,
}

/// Counters of frames that produced no [`PacketView`], by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames that produced a view.
    pub viewed: u64,
    /// Frames without IPv4/IPv6 (ARP, LLDP, ...).
    pub non_ip: u64,
    /// IP packets of other protocols (ICMP, ESP, GRE, ...).
    pub other_ip: u64,
    /// IP fragments (first and later).
    pub fragments: u64,
    /// Frames that ended before the TCP/UDP header was complete.
    pub truncated: u64,
    /// Frames too malformed to decode at any layer.
    pub malformed: u64,
}

impl DecodeStats {
    /// Adds another set of counters.
    pub fn add(&mut self, o: &DecodeStats) {
        self.viewed += o.viewed;
        self.non_ip += o.non_ip;
        self.other_ip += o.other_ip;
        self.fragments += o.fragments;
        self.truncated += o.truncated;
        self.malformed += o.malformed;
    }
}

const SLL_LEN: usize = 16;
const SLL2_LEN: usize = 20;
const NULL_LEN: usize = 4;

/// Decodes one frame. Returns `None` (and counts the reason) when the frame carries no
/// TCP/UDP packet farhand can key. The common case is read by hand (`fast.rs`), anything
/// else by etherparse; both give the same view of the same bytes.
#[inline]
pub fn decode<'a>(frame: &RawFrame<'a>, stats: &mut DecodeStats) -> Option<PacketView<'a>> {
    if let Some(v) = fast::view(frame) {
        stats.viewed += 1;
        return Some(v);
    }
    general(frame, stats)
}

/// The general path: every link type and layer farhand reads, through etherparse.
fn general<'a>(frame: &RawFrame<'a>, stats: &mut DecodeStats) -> Option<PacketView<'a>> {
    let data = frame.data;
    let sliced = match frame.link {
        LinkType::Ethernet => match LaxSlicedPacket::from_ethernet(data) {
            Ok(p) => p,
            Err(_) => return count(&mut stats.malformed),
        },
        LinkType::LinuxSll => {
            let (Some(hdr), Some(rest)) = (data.get(..SLL_LEN), data.get(SLL_LEN..)) else {
                return count(&mut stats.malformed);
            };
            let et = u16::from_be_bytes([*hdr.get(14)?, *hdr.get(15)?]);
            LaxSlicedPacket::from_ether_type(EtherType(et), rest)
        }
        LinkType::LinuxSll2 => {
            let (Some(hdr), Some(rest)) = (data.get(..SLL2_LEN), data.get(SLL2_LEN..)) else {
                return count(&mut stats.malformed);
            };
            let et = u16::from_be_bytes([*hdr.first()?, *hdr.get(1)?]);
            LaxSlicedPacket::from_ether_type(EtherType(et), rest)
        }
        LinkType::RawIp => match LaxSlicedPacket::from_ip(data) {
            Ok(p) => p,
            Err(_) => return count(&mut stats.malformed),
        },
        LinkType::Null | LinkType::Loop => {
            let (Some(hdr), Some(rest)) = (data.get(..NULL_LEN), data.get(NULL_LEN..)) else {
                return count(&mut stats.malformed);
            };
            let raw = [*hdr.first()?, *hdr.get(1)?, *hdr.get(2)?, *hdr.get(3)?];
            // The family is in the writer's byte order for NULL; accept either order.
            let fam = if frame.link == LinkType::Loop {
                u32::from_be_bytes(raw)
            } else {
                let le = u32::from_le_bytes(raw);
                if le <= 0xffff { le } else { u32::from_be_bytes(raw) }
            };
            match fam {
                // AF_INET everywhere; AF_INET6 on BSDs (24, 28, 30) and Linux (10).
                2 | 10 | 24 | 28 | 30 => match LaxSlicedPacket::from_ip(rest) {
                    Ok(p) => p,
                    Err(_) => return count(&mut stats.malformed),
                },
                _ => return count(&mut stats.non_ip),
            }
        }
        LinkType::Ppp => return ip_in(links::ppp_or_hdlc(data), frame, stats),
        LinkType::PppEther => return ip_in(links::pppoe(data), frame, stats),
        LinkType::CiscoHdlc => return ip_in(links::cisco_hdlc(data), frame, stats),
        LinkType::Nflog => return ip_in(links::nflog(data), frame, stats),
        LinkType::Ieee80211 { radiotap } => return ip_in(links::ieee80211(data, radiotap), frame, stats),
    };
    // etherparse stops at an Ethernet type it does not know; a PPPoE session's is read here
    // (only then: an IP frame never takes this branch).
    if sliced.net.is_none()
        && let Some(e) = sliced.ether_payload()
        && e.ether_type.0 == links::ETHERTYPE_PPPOE_SESSION
    {
        return ip_in(links::pppoe(e.payload), frame, stats);
    }
    view(frame, &sliced, stats)
}

/// Decode the IP packet a link layer's reader found (`Ok(None)`: not IP; `Err`: malformed).
fn ip_in<'a>(
    found: Result<Option<&'a [u8]>, ()>,
    frame: &RawFrame<'a>,
    stats: &mut DecodeStats,
) -> Option<PacketView<'a>> {
    match found {
        Ok(Some(ip)) => match LaxSlicedPacket::from_ip(ip) {
            Ok(p) => view(frame, &p, stats),
            Err(_) => count(&mut stats.malformed),
        },
        Ok(None) => count(&mut stats.non_ip),
        Err(()) => count(&mut stats.malformed),
    }
}

fn count<T>(c: &mut u64) -> Option<T> {
    *c += 1;
    None
}

fn view<'a>(frame: &RawFrame<'a>, p: &LaxSlicedPacket<'a>, stats: &mut DecodeStats) -> Option<PacketView<'a>> {
    let mut vlan: u32 = 0;
    for ext in &p.link_exts {
        if let LaxLinkExtSlice::Vlan(v) = ext {
            vlan = (vlan << 12) | u32::from(v.vlan_identifier().value());
        }
    }
    let (src, dst, ip_payload) = match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (Addr::v4(h.source()), Addr::v4(h.destination()), v4.payload())
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (Addr::v6(h.source()), Addr::v6(h.destination()), v6.payload())
        }
        Some(LaxNetSlice::Arp(_)) => return count(&mut stats.non_ip),
        None if p.stop_err.is_some() => return count(&mut stats.truncated),
        None => return count(&mut stats.non_ip),
    };
    if ip_payload.fragmented {
        return count(&mut stats.fragments);
    }
    let ipn = ip_payload.ip_number.0;
    // Whole IP protocols a tunnel rides on: ESP, GRE, and AH protecting a whole IP packet
    // (tunnel mode; AH around TCP or UDP is read as that TCP or UDP). No ports: one flow per
    // address pair, the payload from the protocol's own header on.
    let portless = match ipn {
        proto::TCP | proto::UDP | proto::ICMP | proto::ICMPV6 => None,
        proto::ESP => Some(Transport::Esp),
        proto::GRE => Some(Transport::Gre),
        _ if authenticated(p) => Some(Transport::Ah),
        _ => None,
    };
    let (sport, dport, transport, tcp, payload, echo_reply) = match portless {
        Some(t) => (0, 0, t, None, ip_payload.payload, false),
        None => l4(p, ipn, stats)?,
    };
    let proto_num = match transport {
        Transport::Tcp => proto::TCP,
        Transport::Udp => proto::UDP,
        Transport::Icmp if ipn == proto::ICMPV6 => proto::ICMPV6,
        Transport::Icmp => proto::ICMP,
        Transport::Esp => proto::ESP,
        Transport::Ah => proto::AH,
        Transport::Gre => proto::GRE,
    };
    let (key, side) = FlowKey::new(src, sport, dst, dport, proto_num, vlan);
    stats.viewed += 1;
    Some(PacketView {
        ts: frame.ts,
        key,
        side,
        transport,
        tcp,
        payload,
        wire_len: frame.wire_len,
        truncated: ip_payload.incomplete || p.stop_err.is_some(),
        src_mac: match &p.link {
            Some(etherparse::LinkSlice::Ethernet2(e)) => e.source(),
            _ => [0; 6],
        },
        echo_reply,
    })
}

/// ICMP echo reply type (RFC 792).
const ICMP_ECHO_REPLY: u8 = 0;
/// ICMPv6 echo reply type (RFC 4443 §4.2).
const ICMPV6_ECHO_REPLY: u8 = 129;

/// Ports (ICMP echo: the identifier on both sides), transport, TCP fields and payload of an
/// IP packet's transport layer; `None` (counted) for what farhand does not follow.
#[inline]
fn l4<'a>(p: &LaxSlicedPacket<'a>, ipn: u8, stats: &mut DecodeStats) -> Option<L4<'a>> {
    Some(match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            (t.source_port(), t.destination_port(), Transport::Tcp, Some(tcp_info(t)), t.payload(), false)
        }
        Some(TransportSlice::Udp(u)) => {
            (u.source_port(), u.destination_port(), Transport::Udp, None, u.payload(), false)
        }
        // Echo request/reply: keyed by the echo identifier on both sides, so both
        // directions of one "ping session" (or ICMP tunnel) are one flow.
        Some(TransportSlice::Icmpv4(i)) if matches!(i.type_u8(), 0 | 8) => {
            let [a, b, _, _] = i.bytes5to8();
            let id = u16::from_be_bytes([a, b]);
            (id, id, Transport::Icmp, None, i.payload(), i.type_u8() == ICMP_ECHO_REPLY)
        }
        Some(TransportSlice::Icmpv6(i)) if matches!(i.type_u8(), 128 | 129) => {
            let [a, b, _, _] = i.bytes5to8();
            let id = u16::from_be_bytes([a, b]);
            (id, id, Transport::Icmp, None, i.payload(), i.type_u8() == ICMPV6_ECHO_REPLY)
        }
        Some(_) => return count(&mut stats.other_ip),
        None => {
            return if ipn == proto::TCP || ipn == proto::UDP {
                count(&mut stats.truncated)
            } else {
                count(&mut stats.other_ip)
            };
        }
    })
}

/// What [`l4`] returns: source port, destination port, transport, TCP fields, payload.
/// Ports, transport, TCP fields, payload, and whether it is an ICMP echo reply.
type L4<'a> = (u16, u16, Transport, Option<TcpInfo>, &'a [u8], bool);

/// Whether an IP packet carries an Authentication Header (asked only of protocols farhand
/// does not otherwise follow: AH around a whole IP packet, tunnel mode).
fn authenticated(p: &LaxSlicedPacket<'_>) -> bool {
    match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => v4.extensions().auth.is_some(),
        Some(LaxNetSlice::Ipv6(v6)) => links::ipv6_has_ah(v6.header().next_header().0, v6.extensions().slice()),
        _ => false,
    }
}

/// The TCP fields farhand keeps.
#[inline]
fn tcp_info(t: &etherparse::TcpSlice<'_>) -> TcpInfo {
    let mut flags = 0u8;
    for (on, bit) in [
        (t.fin(), tcp_flags::FIN),
        (t.syn(), tcp_flags::SYN),
        (t.rst(), tcp_flags::RST),
        (t.psh(), tcp_flags::PSH),
        (t.ack(), tcp_flags::ACK),
    ] {
        if on {
            flags |= bit;
        }
    }
    TcpInfo { flags, seq: t.sequence_number(), ack: t.acknowledgment_number(), window: t.window_size() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn frame(link: LinkType, data: &[u8]) -> RawFrame<'_> {
        RawFrame { ts: 1, link, wire_len: data.len() as u32, data, shared: None }
    }

    fn eth_tcp(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
            .ipv4([10, 0, 0, 1], [203, 0, 113, 9], 64)
            .tcp(50000, 22, 1000, 64000)
            .syn();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn pppoe_sessions_in_tagged_ethernet() {
        // The same TCP SYN as a PPPoE session packet behind an 802.1Q tag.
        let plain = eth_tcp(b"");
        let ip = &plain[14..];
        let mut f = plain[..12].to_vec();
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x88, 0x64, 0x11, 0x00, 0x12, 0x34]);
        f.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
        f.extend_from_slice(&[0x00, 0x21]);
        f.extend_from_slice(ip);
        let mut st = DecodeStats::default();
        let v = decode(&frame(LinkType::Ethernet, &f), &mut st).expect("viewed");
        assert_eq!((v.transport, v.key.proto()), (Transport::Tcp, proto::TCP));
        // Discovery (PADI) is no IP: counted, not viewed.
        f[18] = 0x09;
        assert!(decode(&frame(LinkType::Ethernet, &f), &mut st).is_none());
        assert_eq!((st.viewed, st.malformed), (1, 1));
    }

    #[test]
    fn ethernet_tcp_view() {
        let f = eth_tcp(b"SSH-2.0-x\r\n");
        let mut st = DecodeStats::default();
        let v = decode(&frame(LinkType::Ethernet, &f), &mut st).unwrap();
        assert_eq!(v.payload, b"SSH-2.0-x\r\n");
        assert_eq!(v.transport, Transport::Tcp);
        assert_eq!(v.tcp.unwrap().flags & tcp_flags::SYN, tcp_flags::SYN);
        assert_eq!(v.tcp.unwrap().seq, 1000);
        assert_eq!(v.key.a, Addr::v4([10, 0, 0, 1]));
        assert_eq!(v.side, Side::A);
        assert!(!v.truncated);
        assert_eq!(st.viewed, 1);
    }

    #[test]
    fn vlan_qinq_and_ipv6_udp() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .double_vlan(etherparse::VlanId::try_new(100).unwrap(), etherparse::VlanId::try_new(7).unwrap())
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
            .udp(3389, 40000);
        let mut f = Vec::new();
        b.write(&mut f, &[0xff; 20]).unwrap();
        let mut st = DecodeStats::default();
        let v = decode(&frame(LinkType::Ethernet, &f), &mut st).unwrap();
        assert_eq!(v.key.vlan(), (100 << 12) | 7);
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.payload.len(), 20);
        assert!(!v.key.a.is_v4());
    }

    #[test]
    fn sll_sll2_raw_null_loop() {
        let eth = eth_tcp(b"hello");
        let ip = &eth[14..];
        let mut sll = vec![0u8; 16];
        sll[14] = 0x08;
        sll.extend_from_slice(ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(ip);
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        let mut lp = 2u32.to_be_bytes().to_vec();
        lp.extend_from_slice(ip);
        for (link, data) in [
            (LinkType::LinuxSll, &sll[..]),
            (LinkType::LinuxSll2, &sll2[..]),
            (LinkType::RawIp, ip),
            (LinkType::Null, &null[..]),
            (LinkType::Loop, &lp[..]),
        ] {
            let mut st = DecodeStats::default();
            let v = decode(&frame(link, data), &mut st).unwrap_or_else(|| panic!("{link:?}: {st:?}"));
            assert_eq!(v.payload, b"hello", "{link:?}");
        }
    }

    #[test]
    fn ipv6_extension_headers_are_walked() {
        // IPv6 -> Hop-by-Hop options (8 bytes, PadN) -> Destination options (8 bytes) -> TCP.
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
        let payload = b"RFB 003.008\n";
        let tcp_len = 20 + payload.len();
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&((16 + tcp_len) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 64]); // next header: hop-by-hop
        f.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]);
        f.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20]);
        f.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]); // HBH -> dest opts
        f.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // dest opts -> TCP
        f.extend_from_slice(&5900u16.to_be_bytes());
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        let mut st = DecodeStats::default();
        let v = decode(&frame(LinkType::Ethernet, &f), &mut st).unwrap_or_else(|| panic!("{st:?}"));
        assert_eq!(v.payload, payload);
        assert_eq!((v.key.a_port, v.key.b_port), (5900, 40000));
        assert!(!v.truncated);
        // A truncated extension header keeps the IP layer and yields no transport view.
        let cut = &f[..14 + 40 + 12];
        let mut st = DecodeStats::default();
        assert!(decode(&frame(LinkType::Ethernet, cut), &mut st).is_none());
        assert_eq!(st.viewed, 0);
    }

    #[test]
    fn fragments_are_counted_not_parsed() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(1, 2);
        let mut f = Vec::new();
        b.write(&mut f, &[0u8; 40]).unwrap();
        // Set "more fragments" on the first fragment, then make a later fragment (offset 8).
        let mut first = f.clone();
        first[14 + 6] |= 0x20;
        let mut later = f.clone();
        later[14 + 7] = 1; // fragment offset 1 (×8 bytes)
        for data in [&first, &later] {
            let mut st = DecodeStats::default();
            assert!(decode(&frame(LinkType::Ethernet, data), &mut st).is_none());
            assert_eq!(st.fragments, 1, "{st:?}");
        }
    }

    #[test]
    fn truncation_sweep_never_panics_and_keeps_layers() {
        let f = eth_tcp(b"SSH-2.0-OpenSSH_9.2\r\n");
        for len in 0..=f.len() {
            let mut st = DecodeStats::default();
            let r = decode(&frame(LinkType::Ethernet, &f[..len]), &mut st);
            if len >= 14 + 20 + 20 {
                let v = r.unwrap();
                assert_eq!(v.payload, &f[54..len]);
            } else {
                assert!(r.is_none());
                assert_eq!(st.viewed, 0);
            }
        }
        for link in [LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp, LinkType::Null, LinkType::Loop] {
            for len in 0..=f.len() {
                let mut st = DecodeStats::default();
                let _ = decode(&frame(link, &f[..len]), &mut st);
            }
        }
    }

    #[test]
    fn hostile_lengths() {
        // IPv4 total length and IHL claiming far more than present; TCP data offset 15.
        let mut f = eth_tcp(b"abc");
        f[14 + 2] = 0xff;
        f[14 + 3] = 0xff;
        f[14 + 20 + 12] = 0xf0;
        let mut st = DecodeStats::default();
        let _ = decode(&frame(LinkType::Ethernet, &f), &mut st);
        let mut g = eth_tcp(b"abc");
        g[14] = 0x4f; // IHL 15 words = 60 bytes of options that are not there
        let _ = decode(&frame(LinkType::Ethernet, &g), &mut st);
        // IPv6 payload length lie.
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv6([1; 16], [2; 16], 64).tcp(1, 2, 3, 4);
        let mut h = Vec::new();
        b.write(&mut h, b"xyz").unwrap();
        h[14 + 4] = 0xff;
        h[14 + 5] = 0xff;
        let v = decode(&frame(LinkType::Ethernet, &h), &mut st).unwrap();
        assert!(v.truncated);
        // Random bytes at every link type.
        let mut rng = crate::testutil::XorShift64(0x1234_5678);
        for _ in 0..2000 {
            let mut buf = [0u8; 80];
            buf.fill_with(|| rng.byte());
            for link in [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp, LinkType::Null] {
                let _ = decode(&frame(link, &buf), &mut st);
            }
        }
    }
}
