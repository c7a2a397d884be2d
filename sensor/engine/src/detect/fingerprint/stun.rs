//! STUN/TURN fingerprint: STUN messages and TURN ChannelData, over UDP or TCP.
//!
//! # Contract
//! Works on any port. Over UDP each side is one datagram: one STUN message whose length field
//! covers the datagram exactly, or one ChannelData message. Over TCP each side is a stream of
//! back-to-back STUN / ChannelData messages (RFC 8489 §6.2.2, RFC 8656 §12.5), optionally each
//! behind a 2-byte RFC 4571 length (as Microsoft Teams/Skype relays send); up to
//! [`MAX_STREAM_MESSAGES`] are read.
//!
//! Answers `Match` once a validated STUN message with the magic cookie is seen and either the
//! responder answered (or, over UDP, the responder's datagram is there) or the exchange is
//! finished. Confidence rises when a response echoes a request's transaction id, or when a
//! FINGERPRINT attribute verifies. ChannelData alone matches only when both directions use the
//! same channel number (a relayed session picked up mid-way). `NoMatch` as soon as the first
//! message of a side contradicts STUN and ChannelData.
//!
//! Classic STUN (RFC 3489, no magic cookie) has only the length field and a 16-byte
//! transaction id to check, so a classic message matches only when the whole structure is
//! exact (known Binding/Shared-Secret type, length == datagram − 20, RFC 3489 attributes that
//! walk to the end, well-formed addresses) **and** the other direction answers it with the same
//! 128-bit transaction id. A lone classic message is `NoMatch`.
//!
//! The header (type and its method/class split, length, magic cookie, transaction id) is read
//! by [`farhand_proto::stun`], which the STUN transaction timing uses too; this file validates
//! the rest of the message and decides.
//!
//! # Facts used
//! - RFC 8489 §5 (as [`farhand_proto::stun`] reads it): header = type (2, top two bits 0),
//!   length (2, multiple of 4, excluding the header), magic cookie `0x2112A442`, 96-bit
//!   transaction id.
//! - RFC 8489 §14: attributes are TLVs (type 2, length 2, value padded to 4 bytes). §14.2
//!   XOR-MAPPED-ADDRESS (0x0020): family 1/2, port XOR the cookie's top 16 bits, IPv4 XOR the
//!   cookie, IPv6 XOR cookie ‖ transaction id; MAPPED-ADDRESS (0x0001) in clear. §14.7
//!   FINGERPRINT (0x8028) = CRC-32 (ISO-HDLC) of the message up to it, XOR `0x5354554E`, always
//!   last; its length field is counted in the CRC input. A wrong CRC is reported in the
//!   evidence, not rejected (Zoom sends one). REALM 0x0014, SOFTWARE 0x8022,
//!   USERNAME 0x0006.
//! - RFC 8656 (TURN): methods Allocate 3, Refresh 4, Send 6 (indication), Data 7
//!   (indication), CreatePermission 8, ChannelBind 9; XOR-PEER-ADDRESS 0x0012,
//!   XOR-RELAYED-ADDRESS 0x0016; ChannelData = channel number 0x4000–0x4FFF (RFC 5766:
//!   0x4000–0x7FFF, accepted here), length, data, padded to 4 over TCP.
//! - RFC 6062: Connect 0x000A, ConnectionBind 0x000B, ConnectionAttempt 0x000C.
//! - RFC 3489: classic header has a 128-bit transaction id; Binding 0x0001/0x0101/0x0111,
//!   Shared Secret 0x0002/0x0102/0x0112; attributes 0x0001–0x000B.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::StunEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::step::{Layer, Reason};
use farhand_proto::stun::{Class, HEADER_LEN, Header, MAGIC_COOKIE, split_type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Value XORed into the FINGERPRINT CRC-32.
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;
/// ChannelData header length (channel number, length).
pub const CHANNEL_HEADER_LEN: usize = 4;
/// Lowest TURN channel number.
pub const CHANNEL_MIN: u16 = 0x4000;
/// Highest channel number accepted (RFC 5766 range; RFC 8656 narrowed it to 0x4FFF).
pub const CHANNEL_MAX: u16 = 0x7FFF;
/// Most attributes accepted in one message (real ones carry fewer than 20).
pub const MAX_ATTRIBUTES: usize = 64;
/// Most messages read from one TCP direction.
pub const MAX_STREAM_MESSAGES: usize = 16;
/// Most addresses of each kind kept in the evidence.
pub const MAX_ADDRESSES: usize = 8;
/// Most characters of SOFTWARE / REALM kept in the evidence.
pub const MAX_TEXT_CHARS: usize = 128;
/// Bytes per direction this fingerprint reads (a whole datagram at any common MTU; over TCP
/// a message longer than this is not waited for).
pub const BYTES_WANTED: usize = 4096;

/// Confidence: a response echoes a request's transaction id (cookie STUN).
pub const CONFIDENCE_TRANSACTION: u8 = 95;
/// Confidence: a message whose FINGERPRINT attribute verifies.
pub const CONFIDENCE_FINGERPRINT: u8 = 90;
/// Confidence: one validated message with the magic cookie.
pub const CONFIDENCE_MESSAGE: u8 = 80;
/// Confidence: classic RFC 3489 request and response with the same 128-bit transaction id.
pub const CONFIDENCE_CLASSIC: u8 = 75;
/// Confidence: ChannelData both ways on the same channel, nothing else seen.
pub const CONFIDENCE_CHANNEL_DATA: u8 = 60;

/// Attribute types used.
pub mod attr {
    /// MAPPED-ADDRESS.
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// USERNAME.
    pub const USERNAME: u16 = 0x0006;
    /// CHANNEL-NUMBER.
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    /// XOR-PEER-ADDRESS.
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    /// REALM.
    pub const REALM: u16 = 0x0014;
    /// XOR-RELAYED-ADDRESS.
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    /// XOR-MAPPED-ADDRESS.
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// Pre-RFC 5389 XOR-MAPPED-ADDRESS (draft value, still sent by old stacks).
    pub const XOR_MAPPED_ADDRESS_OLD: u16 = 0x8020;
    /// SOFTWARE (SERVER in RFC 3489).
    pub const SOFTWARE: u16 = 0x8022;
    /// FINGERPRINT.
    pub const FINGERPRINT: u16 = 0x8028;
}

/// Evidence name of a (method, class), or `None` if the pair is not a known STUN/TURN message.
pub fn message_name(method: u16, class: Class) -> Option<&'static str> {
    use Class::*;
    Some(match (method, class) {
        (0x001, Request) => "binding_request",
        (0x001, Indication) => "binding_indication",
        (0x001, Success) => "binding_success",
        (0x001, Error) => "binding_error",
        (0x003, Request) => "allocate_request",
        (0x003, Success) => "allocate_success",
        (0x003, Error) => "allocate_error",
        (0x004, Request) => "refresh_request",
        (0x004, Success) => "refresh_success",
        (0x004, Error) => "refresh_error",
        (0x006, Indication) => "send_indication",
        (0x007, Indication) => "data_indication",
        (0x008, Request) => "create_permission_request",
        (0x008, Success) => "create_permission_success",
        (0x008, Error) => "create_permission_error",
        (0x009, Request) => "channel_bind_request",
        (0x009, Success) => "channel_bind_success",
        (0x009, Error) => "channel_bind_error",
        (0x00A, Request) => "connect_request",
        (0x00A, Success) => "connect_success",
        (0x00A, Error) => "connect_error",
        (0x00B, Request) => "connection_bind_request",
        (0x00B, Success) => "connection_bind_success",
        (0x00B, Error) => "connection_bind_error",
        (0x00C, Indication) => "connection_attempt_indication",
        _ => return None,
    })
}

/// A validated STUN message, borrowing the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// Method (e.g. 0x001 Binding).
    pub method: u16,
    /// Class.
    pub class: Class,
    /// Evidence name (`binding_request`, …).
    pub name: &'static str,
    /// Transaction id: 12 bytes with the cookie, 16 bytes for classic STUN.
    pub transaction_id: &'a [u8],
    /// Classic RFC 3489 (no magic cookie).
    pub classic: bool,
    /// A FINGERPRINT attribute was present and verified.
    pub fingerprint_ok: bool,
    /// A FINGERPRINT attribute was present and did not verify.
    pub fingerprint_bad: bool,
    /// SOFTWARE value.
    pub software: Option<&'a [u8]>,
    /// REALM value.
    pub realm: Option<&'a [u8]>,
    /// USERNAME present.
    pub username: bool,
    /// Decoded (XOR-)MAPPED-ADDRESS values.
    pub mapped: Vec<SocketAddr>,
    /// Decoded XOR-PEER-ADDRESS values.
    pub peers: Vec<SocketAddr>,
    /// Decoded XOR-RELAYED-ADDRESS values.
    pub relayed: Vec<SocketAddr>,
    /// Channel number from CHANNEL-NUMBER.
    pub channel: Option<u16>,
    /// Total length on the wire (header + attributes).
    pub len: usize,
}

/// One unit of a STUN/TURN stream or datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A STUN message.
    Stun(Message<'a>),
    /// TURN ChannelData: channel number and total bytes consumed.
    ChannelData {
        /// Channel number.
        channel: u16,
        /// Bytes consumed (header, data, padding if any).
        len: usize,
    },
}

/// CRC-32 (ISO-HDLC / zlib polynomial, reflected), as FINGERPRINT uses.
pub fn crc32(data: &[u8]) -> u32 {
    // Bitwise: STUN messages are short, and no table is needed.
    !data.iter().fold(!0u32, |mut c, &b| {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        c
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..)?.first_chunk::<2>().map(|c| u16::from_be_bytes(*c))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..)?.first_chunk::<4>().map(|c| u32::from_be_bytes(*c))
}

/// Decode an address attribute value; `xor` is `Some(cookie ‖ transaction id)` for the XOR
/// forms. `None` if malformed.
fn decode_address(v: &[u8], xor: Option<&[u8; 16]>) -> Option<SocketAddr> {
    let (&zero, rest) = v.split_first()?;
    let (&family, rest) = rest.split_first()?;
    let (port, addr) = rest.split_first_chunk::<2>()?;
    if zero != 0 {
        return None;
    }
    let mask = xor.copied().unwrap_or([0; 16]);
    let port = u16::from_be_bytes(*port) ^ u16::from_be_bytes([mask[0], mask[1]]);
    let ip = match (family, addr.len()) {
        (1, 4) => {
            let a: [u8; 4] =
                std::array::from_fn(|i| addr.get(i).copied().unwrap_or(0) ^ mask.get(i).copied().unwrap_or(0));
            IpAddr::V4(Ipv4Addr::from(a))
        }
        (2, 16) => {
            let a: [u8; 16] =
                std::array::from_fn(|i| addr.get(i).copied().unwrap_or(0) ^ mask.get(i).copied().unwrap_or(0));
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn push_capped(v: &mut Vec<SocketAddr>, a: SocketAddr) {
    if v.len() < MAX_ADDRESSES && !v.contains(&a) {
        v.push(a);
    }
}

/// Whether a classic (RFC 3489) message type is known.
fn classic_type_ok(t: u16) -> Option<(u16, Class, &'static str)> {
    Some(match t {
        0x0001 => (1, Class::Request, "binding_request"),
        0x0101 => (1, Class::Success, "binding_success"),
        0x0111 => (1, Class::Error, "binding_error"),
        0x0002 => (2, Class::Request, "shared_secret_request"),
        0x0102 => (2, Class::Success, "shared_secret_success"),
        0x0112 => (2, Class::Error, "shared_secret_error"),
        _ => return None,
    })
}

/// Parse one STUN message from the front of `buf`. With `datagram`, the message must cover
/// `buf` exactly (UDP) and a short buffer is invalid; otherwise (TCP) a short buffer is
/// `Incomplete` and bytes after the message are left for the caller.
pub fn parse_message(buf: &[u8], datagram: bool) -> Step<Message<'_>> {
    let short = if datagram { Step::invalid(Layer::Stun, 0, Reason::BadValue) } else { Step::Incomplete };
    let header = match Header::parse(buf) {
        Step::Done(h) => h,
        Step::Incomplete => return short,
        Step::Invalid(_) => return Step::invalid(Layer::Stun, 0, Reason::BadValue),
    };
    let (msg_type, length, classic) = (header.msg_type, usize::from(header.length), header.classic);
    if length % 4 != 0 || (classic && !datagram) {
        return Step::invalid(Layer::Stun, 0, Reason::BadValue);
    }
    if datagram && buf.len() != header.message_len() {
        return Step::invalid(Layer::Stun, 0, Reason::BadValue);
    }
    if header.message_len() > BYTES_WANTED && !datagram {
        return Step::invalid(Layer::Stun, 0, Reason::BadValue);
    }
    let Some(attrs) = header.body(buf) else {
        return short;
    };
    let (method, class, name) = if classic {
        match classic_type_ok(msg_type) {
            Some(x) => x,
            None => return Step::invalid(Layer::Stun, 0, Reason::BadValue),
        }
    } else {
        let (method, class) = split_type(msg_type);
        match message_name(method, class) {
            Some(n) => (method, class, n),
            None => return Step::invalid(Layer::Stun, 0, Reason::BadValue),
        }
    };
    let transaction_id = header.transaction_id();
    let mask: [u8; 16] = *header.id_field;
    let mut m = Message {
        method,
        class,
        name,
        transaction_id,
        classic,
        fingerprint_ok: false,
        fingerprint_bad: false,
        software: None,
        realm: None,
        username: false,
        mapped: Vec::new(),
        peers: Vec::new(),
        relayed: Vec::new(),
        channel: None,
        len: HEADER_LEN + length,
    };
    let mut off = 0usize;
    let mut count = 0usize;
    while off < attrs.len() {
        count += 1;
        if count > MAX_ATTRIBUTES || m.fingerprint_ok || m.fingerprint_bad {
            // Too many attributes, or something after FINGERPRINT (which must be last).
            return Step::invalid(Layer::Stun, 0, Reason::BadValue);
        }
        let (Some(at), Some(alen)) = (be16(attrs, off), be16(attrs, off + 2)) else {
            return Step::invalid(Layer::Stun, 0, Reason::BadValue);
        };
        let alen = usize::from(alen);
        let vstart = off + 4;
        let Some(value) = attrs.get(vstart..vstart + alen) else {
            return Step::invalid(Layer::Stun, 0, Reason::BadValue);
        };
        let padded = alen.div_ceil(4) * 4;
        if attrs.len() < vstart + padded {
            return Step::invalid(Layer::Stun, 0, Reason::BadValue);
        }
        if classic && !matches!(at, 0x0001..=0x000B | attr::XOR_MAPPED_ADDRESS_OLD | attr::SOFTWARE) {
            return Step::invalid(Layer::Stun, 0, Reason::BadValue);
        }
        match at {
            attr::MAPPED_ADDRESS => match decode_address(value, None) {
                Some(a) => push_capped(&mut m.mapped, a),
                None => return Step::invalid(Layer::Stun, 0, Reason::BadValue),
            },
            attr::XOR_MAPPED_ADDRESS | attr::XOR_PEER_ADDRESS | attr::XOR_RELAYED_ADDRESS if !classic => {
                let Some(a) = decode_address(value, Some(&mask)) else {
                    return Step::invalid(Layer::Stun, 0, Reason::BadValue);
                };
                let list = match at {
                    attr::XOR_MAPPED_ADDRESS => &mut m.mapped,
                    attr::XOR_PEER_ADDRESS => &mut m.peers,
                    _ => &mut m.relayed,
                };
                push_capped(list, a);
            }
            attr::USERNAME => m.username = true,
            attr::REALM => m.realm = Some(value),
            attr::SOFTWARE => m.software = Some(value),
            attr::CHANNEL_NUMBER => m.channel = be16(value, 0),
            attr::FINGERPRINT if !classic => {
                let (Some(got), Some(covered)) = (be32(value, 0), buf.get(..HEADER_LEN + off)) else {
                    return Step::invalid(Layer::Stun, 0, Reason::BadValue);
                };
                if alen != 4 {
                    return Step::invalid(Layer::Stun, 0, Reason::BadValue);
                }
                // A wrong CRC is reported, not rejected: Zoom's clients send one (nDPI capture
                // `stun.pcap`, Binding requests to port 8801).
                if crc32(covered) ^ FINGERPRINT_XOR == got {
                    m.fingerprint_ok = true;
                } else {
                    m.fingerprint_bad = true;
                }
            }
            _ => {}
        }
        off = vstart + padded;
    }
    Step::Done(m)
}

/// Parse one ChannelData message from the front of `buf` (`datagram`: UDP, where it must end
/// the datagram, padded or not; otherwise TCP, where it is padded to 4 bytes).
pub fn parse_channel_data(buf: &[u8], datagram: bool) -> Step<(u16, usize)> {
    let Some(&b0) = buf.first() else {
        return if datagram { Step::invalid(Layer::Stun, 0, Reason::BadValue) } else { Step::Incomplete };
    };
    if !(0x40..=0x7F).contains(&b0) {
        return Step::invalid(Layer::Stun, 0, Reason::BadValue);
    }
    let (Some(channel), Some(len)) = (be16(buf, 0), be16(buf, 2)) else {
        return if datagram { Step::invalid(Layer::Stun, 0, Reason::BadValue) } else { Step::Incomplete };
    };
    let len = usize::from(len);
    let bare = CHANNEL_HEADER_LEN + len;
    let padded = CHANNEL_HEADER_LEN + len.div_ceil(4) * 4;
    if datagram {
        return if buf.len() == bare || buf.len() == padded {
            Step::Done((channel, buf.len()))
        } else {
            Step::invalid(Layer::Stun, 0, Reason::BadValue)
        };
    }
    if padded > BYTES_WANTED {
        return Step::invalid(Layer::Stun, 0, Reason::BadValue);
    }
    if buf.len() < padded { Step::Incomplete } else { Step::Done((channel, padded)) }
}

/// Framing of a TCP direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Messages back to back (RFC 8489 §6.2.2).
    Bare,
    /// Each message behind a 2-byte length (RFC 4571).
    Rfc4571,
}

/// Guess the framing of a TCP direction from its first bytes: RFC 4571 when the cookie sits
/// at offset 6 (after a 2-byte length) rather than 4.
pub fn detect_framing(buf: &[u8]) -> Option<Framing> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    if buf.get(4..8) == Some(&cookie[..]) || buf.first().is_some_and(|b| (0x40..=0x7F).contains(b)) {
        Some(Framing::Bare)
    } else if buf.get(6..10) == Some(&cookie[..]) {
        Some(Framing::Rfc4571)
    } else {
        None
    }
}

/// One direction, parsed as far as it goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SideParse<'a> {
    /// Packets parsed, in order.
    pub packets: Vec<Packet<'a>>,
    /// The first packet contradicted STUN and ChannelData.
    pub invalid: bool,
    /// The bytes ended inside a packet (or the side is empty).
    pub pending: bool,
    /// TCP framing used.
    pub framing: Option<Framing>,
}

/// Parse one packet (STUN or ChannelData).
fn parse_packet(buf: &[u8], datagram: bool) -> Step<Packet<'_>> {
    match buf.first() {
        Some(b) if (0x40..=0x7F).contains(b) => match parse_channel_data(buf, datagram) {
            Step::Done((channel, len)) => Step::Done(Packet::ChannelData { channel, len }),
            Step::Incomplete => Step::Incomplete,
            Step::Invalid(_) => Step::invalid(Layer::Stun, 0, Reason::BadValue),
        },
        _ => match parse_message(buf, datagram) {
            Step::Done(m) => Step::Done(Packet::Stun(m)),
            Step::Incomplete => Step::Incomplete,
            Step::Invalid(_) => Step::invalid(Layer::Stun, 0, Reason::BadValue),
        },
    }
}

/// Parse a UDP datagram (one packet).
pub fn parse_datagram(d: &[u8]) -> SideParse<'_> {
    if d.is_empty() {
        return SideParse { pending: true, ..SideParse::default() };
    }
    match parse_packet(d, true) {
        Step::Done(p) => SideParse { packets: vec![p], ..SideParse::default() },
        _ => SideParse { invalid: true, ..SideParse::default() },
    }
}

/// Parse a TCP direction: up to [`MAX_STREAM_MESSAGES`] packets.
pub fn parse_stream(buf: &[u8]) -> SideParse<'_> {
    let mut out = SideParse::default();
    if buf.is_empty() {
        out.pending = true;
        return out;
    }
    let framing = match detect_framing(buf) {
        Some(f) => f,
        // Too short to tell: wait if what is there could still begin a message.
        None if buf.len() < 10 && prefix_possible(buf) => {
            out.pending = true;
            return out;
        }
        None => {
            out.invalid = true;
            return out;
        }
    };
    out.framing = Some(framing);
    let mut rest = buf;
    while out.packets.len() < MAX_STREAM_MESSAGES && !rest.is_empty() {
        let (frame, after) = match framing {
            Framing::Bare => (rest, None),
            Framing::Rfc4571 => {
                let Some((len, body)) = rest.split_first_chunk::<2>() else {
                    out.pending = true;
                    break;
                };
                let len = usize::from(u16::from_be_bytes(*len));
                match body.get(..len) {
                    Some(f) => (f, body.get(len..)),
                    None if len > BYTES_WANTED => {
                        out.invalid = out.packets.is_empty();
                        break;
                    }
                    None => {
                        out.pending = true;
                        break;
                    }
                }
            }
        };
        let datagram = framing == Framing::Rfc4571;
        match parse_packet(frame, datagram) {
            Step::Done(p) => {
                let used = match &p {
                    Packet::Stun(m) => m.len,
                    Packet::ChannelData { len, .. } => *len,
                };
                out.packets.push(p);
                rest = match after {
                    Some(a) => a,
                    None => frame.get(used..).unwrap_or_default(),
                };
            }
            Step::Incomplete => {
                out.pending = true;
                break;
            }
            Step::Invalid(_) => {
                out.invalid = out.packets.is_empty();
                break;
            }
        }
    }
    out
}

/// Could these few bytes still begin a STUN message or ChannelData (bare or RFC 4571)?
fn prefix_possible(buf: &[u8]) -> bool {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let bare = buf.first().is_some_and(|b| b & 0xC0 == 0 || (0x40..=0x7F).contains(b))
        && cookie.starts_with(buf.get(4..).map(|c| c.get(..4).unwrap_or(c)).unwrap_or_default());
    let framed = buf.get(2).is_none_or(|b| b & 0xC0 == 0)
        && cookie.starts_with(buf.get(6..).map(|c| c.get(..4).unwrap_or(c)).unwrap_or_default());
    bare || framed
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).chars().filter(|c| !c.is_control()).take(MAX_TEXT_CHARS).collect()
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T, cap: usize) {
    if v.len() < cap && !v.contains(&x) {
        v.push(x);
    }
}

/// Decide on the two parsed directions.
pub fn fingerprint(orig: &SideParse<'_>, resp: &SideParse<'_>, transport: Transport, finished: bool) -> Outcome {
    // The initiator speaks first: its first packet decides whether this can be STUN at all.
    if orig.invalid || orig.packets.is_empty() && finished {
        return Outcome::NoMatch;
    }
    if orig.packets.is_empty() {
        return Outcome::NeedMore;
    }
    let all = || orig.packets.iter().chain(resp.packets.iter());
    let msgs = || {
        all().filter_map(|p| match p {
            Packet::Stun(m) => Some(m),
            Packet::ChannelData { .. } => None,
        })
    };
    // A request in one direction answered in the other with the same transaction id.
    let answered = |a: &SideParse<'_>, b: &SideParse<'_>| {
        a.packets.iter().any(|p| {
            matches!(p, Packet::Stun(q) if q.class == Class::Request && b.packets.iter().any(|p| matches!(p,
                Packet::Stun(r) if matches!(r.class, Class::Success | Class::Error)
                    && r.method == q.method && r.transaction_id == q.transaction_id && r.classic == q.classic)))
        })
    };
    let matched = answered(orig, resp) || answered(resp, orig);
    let cookie = msgs().any(|m| !m.classic);
    let classic = msgs().any(|m| m.classic);
    let fp = msgs().any(|m| m.fingerprint_ok);
    let channel_of = |s: &SideParse<'_>| {
        s.packets.iter().find_map(|p| match p {
            Packet::ChannelData { channel, .. } => Some(*channel),
            Packet::Stun(_) => None,
        })
    };
    let same_channel = matches!((channel_of(orig), channel_of(resp)), (Some(a), Some(b)) if a == b);
    // Decide once the responder has answered (its first datagram, or a first whole message or
    // a contradiction over TCP), or nothing more can come. A non-STUN answer adds nothing.
    let complete = finished
        || match transport {
            Transport::Udp => !resp.pending,
            _ => resp.invalid || !resp.packets.is_empty(),
        };
    if !complete {
        return Outcome::NeedMore;
    }
    let confidence = if matched && cookie {
        CONFIDENCE_TRANSACTION
    } else if cookie && fp {
        CONFIDENCE_FINGERPRINT
    } else if cookie {
        CONFIDENCE_MESSAGE
    } else if matched && classic {
        CONFIDENCE_CLASSIC
    } else if same_channel {
        CONFIDENCE_CHANNEL_DATA
    } else {
        return Outcome::NoMatch;
    };
    let mut ev = StunEvidence {
        transaction_matched: matched,
        fingerprint_verified: fp,
        fingerprint_mismatch: msgs().any(|m| m.fingerprint_bad),
        classic: classic && !cookie,
        framing: orig.framing.or(resp.framing).map(|f| match f {
            Framing::Bare => "bare",
            Framing::Rfc4571 => "rfc4571",
        }),
        ..StunEvidence::default()
    };
    for p in all() {
        match p {
            Packet::ChannelData { channel, .. } => {
                push_unique(&mut ev.messages, "channel_data", 32);
                push_unique(&mut ev.channels, *channel, MAX_ADDRESSES);
            }
            Packet::Stun(m) => {
                push_unique(&mut ev.messages, m.name, 32);
                if ev.software.is_none() {
                    ev.software = m.software.map(text);
                }
                if ev.realm.is_none() {
                    ev.realm = m.realm.map(text);
                }
                ev.username_present |= m.username;
                for a in &m.mapped {
                    push_unique(&mut ev.mapped_addresses, a.to_string(), MAX_ADDRESSES);
                }
                for a in &m.relayed {
                    push_unique(&mut ev.relayed_addresses, a.to_string(), MAX_ADDRESSES);
                }
                for a in &m.peers {
                    push_unique(&mut ev.peer_addresses, a.to_string(), MAX_ADDRESSES);
                }
                if let Some(c) = m.channel {
                    push_unique(&mut ev.channels, c, MAX_ADDRESSES);
                }
            }
        }
    }
    Outcome::Match(Match {
        tool: Tool::StunTurn,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Stun(ev),
    })
}

/// The STUN/TURN fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct StunFingerprint;

impl Fingerprint for StunFingerprint {
    fn tool(&self) -> Tool {
        Tool::StunTurn
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp_udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        let (orig, resp) = match ex.transport {
            Transport::Udp => (parse_datagram(ex.orig), parse_datagram(ex.resp)),
            Transport::Tcp => {
                let cut = |b: &'_ [u8]| -> usize { b.len().min(BYTES_WANTED) };
                (
                    parse_stream(ex.orig.get(..cut(ex.orig)).unwrap_or_default()),
                    parse_stream(ex.resp.get(..cut(ex.resp)).unwrap_or_default()),
                )
            }
            Transport::Icmp => return Outcome::NoMatch,
        };
        fingerprint(&orig, &resp, ex.transport, ex.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unhex;

    // Recorded on loopback with coturn 4.6.1 (Debian 12 package 4.6.1-1): `turnserver -n
    // --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --lt-cred-mech --user=u:p
    // --realm=example.test --no-tls --no-dtls --no-cli --allow-loopback-peers --fingerprint`,
    // `turnutils_peer -L 127.0.0.1 -p 3480`, and its clients: `turnutils_stunclient 127.0.0.1`
    // (Binding), `turnutils_uclient -u u -w p -e 127.0.0.1 -r 3480 [-y|-s|-t] 127.0.0.1`
    // (Allocate with the 401 challenge, Refresh, CreatePermission, ChannelBind, ChannelData;
    // `-s` for Send/Data indications; `-t` for TCP). Captured with `tcpdump -i lo`; payloads
    // from `tshark -T fields -e udp.payload` / `-e tcp.payload`. The TCP constants are the
    // first three segments of each direction of one `-t` session concatenated (Allocate,
    // 401, authenticated Allocate, success, Refresh, success).
    const BINDING_REQUEST: &str = "000100002112a44203c1d4250efa4eeb1b79ac48";
    const BINDING_SUCCESS: &str = "010100442112a44203c1d4250efa4eeb1b79ac4800200008000180615e12a443000100080001a1737f000001802b\
        000800010d967f00000180220014436f7475726e2d342e362e312027476f727374278028000411db8d3d";
    const ALLOCATE_REQUEST: &str = "000300202112a442b177c81c01a5117f0909f1f30019000411000000000d00040000030900180001800000008028\
        0004baf8a307";
    const ALLOCATE_401: &str = "011300582112a442b177c81c01a5117f0909f1f30009001000000401556e617574686f72697a6564001500106563\
        34383539326439353035303462310014000c6578616d706c652e7465737480220014436f7475726e2d342e362e31\
        2027476f72737427802800041fcac931";
    const ALLOCATE_AUTH_REQUEST: &str = "000300642112a442b7e07aeb4690cc7d2dc2efe90019000411000000000d00040000030900180001800000000006\
        00017500000000150010656334383539326439353035303462310014000c6578616d706c652e7465737400080014\
        4172c4a50b9a794fc3f52e1edf93c0460534a6a780280004ab077e2b";
    const ALLOCATE_SUCCESS: &str = "010300642112a442b7e07aeb4690cc7d2dc2efe9001600080001e1025e12a443002000080001b2e65e12a4430022\
        00080b292082c031c008000d00040000030980220014436f7475726e2d342e362e312027476f7273742700080014\
        c55148fb5484fa61d059c24e71f08017008ba84e80280004e1a35212";
    const CHANNEL_BIND_REQUEST: &str = "000900602112a442c2e6f9db6a90dfa7af8d49eb000c000442f80000001200080001e11b5e12a443000600017500\
        000000150010396664336161353763663733323230370014000c6578616d706c652e7465737400080014515ccfea\
        f80ad5e8fc3c40c0369babe29bc637a28028000497e75dbd";
    const CHANNEL_BIND_SUCCESS: &str = "010900382112a442c2e6f9db6a90dfa7af8d49eb80220014436f7475726e2d342e362e312027476f727374270008\
        00142e7565f16f85f96b804d6622e2f5bef3794e634380280004e528d868";
    const CREATE_PERMISSION_REQUEST: &str = "000800582112a4425ce98b66add09aa1e9749c0a0012000800012c8a5e12a4430006000175000000001500103638\
        39333865653539373830643666650014000c6578616d706c652e74657374000800146c82ee920638ee289ac5cace\
        89c758cc32b4413c80280004dde8aab7";
    const CREATE_PERMISSION_SUCCESS: &str = "010800382112a4425ce98b66add09aa1e9749c0a80220014436f7475726e2d342e362e312027476f727374270008\
        001494d32f19444dfad92ed48d86f5bc4dcb9615023680280004c0a8c14a";
    const SEND_INDICATION: &str = "0016007c2112a442c455d4c6f114eaec3434a2540013006400000000070707079c0c000000000000070707070707\
        07070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707\
        07070707070707070707070707070707070707070707070707070707070707070012000800012c8b5e12a4438028\
        00042a5e50e6";
    const DATA_INDICATION: &str = "001700942112a4429e0e9840713cd6b17ed75ecf0013006400000000070707079c0c000000000000070707070707\
        07070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707\
        07070707070707070707070707070707070707070707070707070707070707070012000800012c8b5e12a4438022\
        0014436f7475726e2d342e362e312027476f72737427802800049505b530";
    const CHANNEL_DATA_CLIENT: &str = "6a3600640000000007070707890a0000000000000707070707070707070707070707070707070707070707070707\
        07070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707\
        070707070707070707070707";
    const CHANNEL_DATA_SERVER: &str = "6a360064000000000707070765110000000000000707070707070707070707070707070707070707070707070707\
        07070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707\
        070707070707070707070707";
    const TCP_CLIENT_STREAM: &str = "000300282112a442b6582c331eb255205d83e6270019000411000000000d00040000030900180001800000000017\
        000401000000802800043c86fbf00003006c2112a442668e999f5342aca10181bfe30019000411000000000d0004\
        00000309001800018000000000170004010000000006000175000000001500106532613631386666376430303333\
        39360014000c6578616d706c652e74657374000800145a7871d45af08c53b5fa5e3b23e5f501c3dec83e80280004\
        d9f28681000400542112a4429a5762f6eb05441e29ea2170000d0004000003090006000175000000001500106532\
        61363138666637643030333339360014000c6578616d706c652e74657374000800148eb1569a575c6a4a2d7c4682\
        f2bf62bdd594175080280004dd4d91a0";
    const TCP_SERVER_STREAM: &str = "011300582112a442b6582c331eb255205d83e6270009001000000401556e617574686f72697a6564001500106532\
        61363138666637643030333339360014000c6578616d706c652e7465737480220014436f7475726e2d342e362e31\
        2027476f727374278028000405edd102010300642112a442668e999f5342aca10181bfe3001600080001e1185e12\
        a443002000080001e6485e12a443002200087455ef70c032c00e000d00040000030980220014436f7475726e2d34\
        2e362e312027476f7273742700080014853df75f9ca2a10546a55a71a8cf31b4bab47f72802800041006ab600104\
        00402112a4429a5762f6eb05441e29ea2170000d00040000030980220014436f7475726e2d342e362e312027476f\
        7273742700080014d1d00076db262c60ff727327a0aae12ba422fd6980280004b793f63b";

    fn inspect(transport: Transport, orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        StunFingerprint.inspect(&Exchange {
            transport,
            orig,
            resp,
            orig_port: 40000,
            resp_port: 3478,
            finished,
            datagrams: &[],
        })
    }

    fn udp(orig: &str, resp: &str) -> Outcome {
        inspect(Transport::Udp, &unhex(orig), &unhex(resp), false)
    }

    fn evidence(out: &Outcome) -> (u8, &StunEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                tool: Tool::StunTurn,
                method: Method::PayloadStructure,
                evidence: Evidence::Stun(e),
            }) => (*confidence, e),
            other => panic!("expected a STUN match, got {other:?}"),
        }
    }

    #[test]
    fn binding_known_answer() {
        let out = udp(BINDING_REQUEST, BINDING_SUCCESS);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_TRANSACTION);
        assert_eq!(e.messages, ["binding_request", "binding_success"]);
        assert!(e.transaction_matched && e.fingerprint_verified && !e.fingerprint_mismatch && !e.classic);
        assert_eq!(e.mapped_addresses, ["127.0.0.1:41331"]);
        assert_eq!(e.software.as_deref(), Some("Coturn-4.6.1 'Gorst'"));
        assert_eq!(e.framing, None);
        // Ports play no part.
        let other = StunFingerprint.inspect(&Exchange {
            transport: Transport::Udp,
            orig: &unhex(BINDING_REQUEST),
            resp: &unhex(BINDING_SUCCESS),
            orig_port: 53,
            resp_port: 443,
            finished: false,
            datagrams: &[],
        });
        assert_eq!(other, out);
    }

    #[test]
    fn turn_allocation_reveals_realm_relay_and_peer() {
        let out = udp(ALLOCATE_REQUEST, ALLOCATE_401);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_TRANSACTION);
        assert_eq!(e.messages, ["allocate_request", "allocate_error"]);
        assert_eq!(e.realm.as_deref(), Some("example.test"));
        let out = udp(ALLOCATE_AUTH_REQUEST, ALLOCATE_SUCCESS);
        let e = evidence(&out).1;
        assert!(e.username_present);
        assert_eq!(e.relayed_addresses, ["127.0.0.1:49168"]);
        assert_eq!(e.mapped_addresses, ["127.0.0.1:37876"]);
        let out = udp(CHANNEL_BIND_REQUEST, CHANNEL_BIND_SUCCESS);
        let e = evidence(&out).1;
        assert_eq!(e.messages, ["channel_bind_request", "channel_bind_success"]);
        assert_eq!(e.peer_addresses, ["127.0.0.1:49161"]);
        assert_eq!(e.channels, [0x42F8]);
        let out = udp(CREATE_PERMISSION_REQUEST, CREATE_PERMISSION_SUCCESS);
        assert_eq!(evidence(&out).1.peer_addresses, ["127.0.0.1:3480"]);
        // Response to another transaction: still STUN, not a matched transaction.
        let out = udp(ALLOCATE_AUTH_REQUEST, ALLOCATE_401);
        assert_eq!(evidence(&out).0, CONFIDENCE_FINGERPRINT);
    }

    #[test]
    fn indications_alone_wait_then_match_on_fingerprint() {
        for ind in [SEND_INDICATION, DATA_INDICATION] {
            let d = unhex(ind);
            assert_eq!(inspect(Transport::Udp, &d, b"", false), Outcome::NeedMore);
            let out = inspect(Transport::Udp, &d, b"", true);
            let (conf, e) = evidence(&out);
            assert_eq!(conf, CONFIDENCE_FINGERPRINT);
            assert_eq!(e.peer_addresses, ["127.0.0.1:3481"]);
        }
        // Without FINGERPRINT (strip it, fix the length): the plain message confidence.
        let mut d = unhex(SEND_INDICATION);
        d.truncate(d.len() - 8);
        let len = (d.len() - HEADER_LEN) as u16;
        d[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(evidence(&inspect(Transport::Udp, &d, b"", true)).0, CONFIDENCE_MESSAGE);
        // A corrupted FINGERPRINT is reported, not trusted.
        let mut bad = unhex(SEND_INDICATION);
        let n = bad.len();
        bad[n - 1] ^= 1;
        let out = inspect(Transport::Udp, &bad, b"", true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_MESSAGE);
        assert!(e.fingerprint_mismatch && !e.fingerprint_verified);
    }

    #[test]
    fn channel_data_both_ways_on_one_channel() {
        let (c, s) = (unhex(CHANNEL_DATA_CLIENT), unhex(CHANNEL_DATA_SERVER));
        let out = inspect(Transport::Udp, &c, &s, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_CHANNEL_DATA);
        assert_eq!(e.messages, ["channel_data"]);
        assert_eq!(e.channels, [0x6A36]);
        // One direction, or two channels, is not enough.
        assert_eq!(inspect(Transport::Udp, &c, b"", true), Outcome::NoMatch);
        let mut other = s.clone();
        other[1] ^= 1;
        assert_eq!(inspect(Transport::Udp, &c, &other, true), Outcome::NoMatch);
        // The length must cover the datagram (padded or not).
        assert!(parse_channel_data(&c[..c.len() - 1], true).is_invalid());
        assert!(matches!(parse_channel_data(&c, true), Step::Done((0x6A36, _))));
    }

    #[test]
    fn tcp_stream_of_messages() {
        let (c, s) = (unhex(TCP_CLIENT_STREAM), unhex(TCP_SERVER_STREAM));
        let out = inspect(Transport::Tcp, &c, &s, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_TRANSACTION);
        assert_eq!(e.framing, Some("bare"));
        assert_eq!(
            e.messages,
            ["allocate_request", "refresh_request", "allocate_error", "allocate_success", "refresh_success"]
        );
        assert_eq!(e.relayed_addresses, ["127.0.0.1:49162"]);
        assert_eq!(parse_stream(&c).packets.len(), 3);
        // The same stream behind RFC 4571 lengths (as Teams relays send).
        let frame = |b: &[u8]| {
            let mut out = Vec::new();
            let mut rest = b;
            while let Step::Done(m) = parse_message(rest, false) {
                out.extend_from_slice(&(m.len as u16).to_be_bytes());
                out.extend_from_slice(&rest[..m.len]);
                rest = &rest[m.len..];
            }
            out
        };
        let out = inspect(Transport::Tcp, &frame(&c), &frame(&s), false);
        let (conf, e) = evidence(&out);
        assert_eq!((conf, e.framing), (CONFIDENCE_TRANSACTION, Some("rfc4571")));
        // TCP never accepts classic (cookie-less) messages.
        let mut classic = c.clone();
        classic[4] ^= 0xFF;
        assert_eq!(inspect(Transport::Tcp, &classic, &s, true), Outcome::NoMatch);
    }

    #[test]
    fn truncation_sweeps() {
        // UDP: a cut datagram is never STUN, and never makes us wait once finished.
        for k in [BINDING_REQUEST, ALLOCATE_SUCCESS, SEND_INDICATION, CHANNEL_DATA_CLIENT] {
            let d = unhex(k);
            for len in 1..d.len() {
                let out = inspect(Transport::Udp, &d[..len], &unhex(BINDING_SUCCESS), false);
                assert_eq!(out, Outcome::NoMatch, "{len}");
            }
        }
        // TCP: every prefix is consistent (never NoMatch while open) and decided when finished.
        let (c, s) = (unhex(TCP_CLIENT_STREAM), unhex(TCP_SERVER_STREAM));
        let first = parse_message(&c, false);
        let Step::Done(m) = first else { panic!("{first:?}") };
        for len in 0..c.len() {
            let open = inspect(Transport::Tcp, &c[..len], &s, false);
            assert_ne!(open, Outcome::NoMatch, "{len}");
            let done = inspect(Transport::Tcp, &c[..len], &s, true);
            assert_ne!(done, Outcome::NeedMore, "{len}");
            assert_eq!(matches!(done, Outcome::Match(_)), len >= m.len, "{len}");
        }
        for len in 0..s.len() {
            assert_ne!(inspect(Transport::Tcp, &c, &s[..len], false), Outcome::NoMatch, "{len}");
            assert!(matches!(inspect(Transport::Tcp, &c, &s[..len], true), Outcome::Match(_)), "{len}");
        }
    }

    #[test]
    fn hostile_attribute_lengths() {
        let base = unhex(BINDING_REQUEST);
        // An attribute whose length runs past the message.
        let mut lie = base[..HEADER_LEN].to_vec();
        lie[2..4].copy_from_slice(&8u16.to_be_bytes());
        lie.extend_from_slice(&[0x80, 0x22, 0xFF, 0xF0, b'a', b'b', b'c', b'd']);
        assert!(parse_message(&lie, true).is_invalid());
        assert_eq!(inspect(Transport::Udp, &lie, b"", true), Outcome::NoMatch);
        // Padding missing after an odd-length attribute.
        let mut pad = base[..HEADER_LEN].to_vec();
        pad[2..4].copy_from_slice(&8u16.to_be_bytes());
        pad.extend_from_slice(&[0x80, 0x22, 0x00, 0x05, b'a', b'b', b'c', b'd']);
        assert!(parse_message(&pad, true).is_invalid());
        // 10,000 zero-length attributes: refused after MAX_ATTRIBUTES, no allocation per item.
        let mut many = base[..HEADER_LEN].to_vec();
        many[2..4].copy_from_slice(&40_000u16.to_be_bytes());
        for _ in 0..10_000 {
            many.extend_from_slice(&[0x80, 0x2A, 0x00, 0x00]);
        }
        assert!(parse_message(&many, true).is_invalid());
        assert_eq!(inspect(Transport::Udp, &many, b"", true), Outcome::NoMatch);
        // Over TCP a message longer than BYTES_WANTED is not waited for.
        assert_eq!(inspect(Transport::Tcp, &many[..HEADER_LEN], b"", false), Outcome::NoMatch);
        // Length not a multiple of 4, or not matching the datagram.
        let mut odd = base.clone();
        odd[3] = 1;
        assert!(parse_message(&odd, true).is_invalid());
        let mut longer = base.clone();
        longer.extend_from_slice(&[0; 4]);
        assert!(parse_message(&longer, true).is_invalid());
        // A malformed address (family 3) and FINGERPRINT not last.
        let mut fam = base[..HEADER_LEN].to_vec();
        fam[2..4].copy_from_slice(&12u16.to_be_bytes());
        fam.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x03, 0x12, 0x34, 1, 2, 3, 4]);
        assert!(parse_message(&fam, true).is_invalid());
        let mut after = unhex(SEND_INDICATION);
        after.extend_from_slice(&[0x80, 0x22, 0x00, 0x00]);
        let len = (after.len() - HEADER_LEN) as u16;
        after[2..4].copy_from_slice(&len.to_be_bytes());
        assert!(parse_message(&after, true).is_invalid());
        // RFC 4571 frame claiming 64 KiB.
        let mut framed = vec![0xFF, 0xFF];
        framed.extend_from_slice(&base);
        assert_eq!(inspect(Transport::Tcp, &framed, b"", false), Outcome::NoMatch);
    }

    #[test]
    fn xor_address_decoding_ipv6_and_crc() {
        // RFC 5769 §2.2 test vector (Binding success, IPv4 XOR-MAPPED-ADDRESS 192.0.2.1:32853)
        // and §2.3 (IPv6 2001:db8:1234:5678:11:2233:4455:6677 port 32853): header, cookie and
        // transaction id from the RFC, attributes reduced to the address.
        let txid = [0xB7, 0xE7, 0xA7, 0x01, 0xBC, 0x34, 0xD6, 0x86, 0xFA, 0x87, 0xDF, 0xAE];
        let mask: [u8; 16] = std::array::from_fn(|i| if i < 4 { MAGIC_COOKIE.to_be_bytes()[i] } else { txid[i - 4] });
        let v4 = [0x00, 0x01, 0xA1, 0x47, 0xE1, 0x12, 0xA6, 0x43];
        assert_eq!(decode_address(&v4, Some(&mask)).unwrap().to_string(), "192.0.2.1:32853");
        let v6 = [
            0x00, 0x02, 0xA1, 0x47, 0x01, 0x13, 0xA9, 0xFA, 0xA5, 0xD3, 0xF1, 0x79, 0xBC, 0x25, 0xF4, 0xB5, 0xBE, 0xD2,
            0xB9, 0xD9,
        ];
        assert_eq!(
            decode_address(&v6, Some(&mask)).unwrap().to_string(),
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
        );
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn classic_stun_needs_an_exact_answer() {
        // RFC 3489 Binding request with CHANGE-REQUEST, and a response with MAPPED-ADDRESS,
        // sharing a 128-bit transaction id (built from the RFC layout; coturn speaks only
        // RFC 5389).
        let tid: Vec<u8> = (1..=16).collect();
        let mut req = vec![0x00, 0x01, 0x00, 0x08];
        req.extend_from_slice(&tid);
        req.extend_from_slice(&[0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0]);
        let mut resp = vec![0x01, 0x01, 0x00, 0x0C];
        resp.extend_from_slice(&tid);
        resp.extend_from_slice(&[0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x1F, 0x90, 10, 0, 0, 1]);
        let out = inspect(Transport::Udp, &req, &resp, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_CLASSIC);
        assert!(e.classic);
        assert_eq!(e.mapped_addresses, ["10.0.0.1:8080"]);
        // Alone, or with another transaction id: no.
        assert_eq!(inspect(Transport::Udp, &req, b"", true), Outcome::NoMatch);
        let mut other = resp.clone();
        other[19] ^= 1;
        assert_eq!(inspect(Transport::Udp, &req, &other, true), Outcome::NoMatch);
        // Unknown classic attribute types are not accepted.
        let mut odd = req.clone();
        odd[20..22].copy_from_slice(&[0x00, 0x20]);
        assert!(parse_message(&odd, true).is_invalid());
    }

    #[test]
    fn other_protocols_and_random_bytes_do_not_match() {
        let mut rng = crate::testutil::XorShift64(0xDEAD_BEEF_CAFE_F00D);
        let mut rnd = |len: usize| rng.bytes(len);
        for len in [1usize, 4, 20, 28, 32, 100, 1200] {
            for _ in 0..200 {
                let (mut a, b) = (rnd(len), rnd(len));
                assert_eq!(inspect(Transport::Udp, &a, &b, true), Outcome::NoMatch);
                // Even with a plausible first byte and length.
                a[0] &= 0x3F;
                if len >= 4 {
                    let l = (len.saturating_sub(HEADER_LEN)) as u16;
                    a[2..4].copy_from_slice(&l.to_be_bytes());
                }
                assert_eq!(inspect(Transport::Udp, &a, &b, true), Outcome::NoMatch);
                assert_eq!(inspect(Transport::Tcp, &a, &b, true), Outcome::NoMatch);
            }
        }
        let dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        assert_eq!(inspect(Transport::Udp, dns, b"", true), Outcome::NoMatch);
        let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(inspect(Transport::Tcp, http, b"", false), Outcome::NoMatch);
        // Unknown method with the cookie.
        let mut m = unhex(BINDING_REQUEST);
        m[1] = 0x0F;
        assert!(parse_message(&m, true).is_invalid());
        assert!(!StunFingerprint.wants(Transport::Icmp));
        assert_eq!(inspect(Transport::Udp, b"", b"", true), Outcome::NoMatch);
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        let (c, s) = (unhex(TCP_CLIENT_STREAM), unhex(TCP_SERVER_STREAM));
        let u = unhex(ALLOCATE_SUCCESS);
        for pos in 0..c.len().max(u.len()) {
            for v in [0x00, 0xFF, 0x01, 0x80] {
                let (mut c2, mut u2) = (c.clone(), u.clone());
                if let Some(b) = c2.get_mut(pos) {
                    *b = v;
                }
                if let Some(b) = u2.get_mut(pos) {
                    *b ^= v;
                }
                let _ = inspect(Transport::Tcp, &c2, &s, false);
                assert_ne!(inspect(Transport::Tcp, &c2, &s, true), Outcome::NeedMore);
                assert_ne!(inspect(Transport::Udp, &unhex(ALLOCATE_AUTH_REQUEST), &u2, true), Outcome::NeedMore);
                assert_ne!(inspect(Transport::Udp, &u2, b"", true), Outcome::NeedMore);
            }
        }
    }
}
