//! STUN/TURN wire format (RFC 8489, RFC 8656, RFC 3489): the message header, the attribute
//! walk, TURN ChannelData, and the framing of a TCP direction.
//!
//! # Contract
//! - [`Header::parse`] reads the 20-byte header at the front of a buffer (a datagram, or a
//!   stream position): `Invalid` as soon as the first byte's top two bits are set or, before
//!   20 bytes are there, when the bytes at the cookie's place contradict the magic cookie;
//!   `Incomplete` while a shorter prefix could still begin a magic-cookie header; `Done`
//!   otherwise, with [`Header::classic`] telling a magic-cookie header from a classic
//!   RFC 3489 one. It reads the header only: the length field is reported, and
//!   [`Header::body`] hands out the bytes it covers only when they are all there.
//! - [`parse_message`] reads a whole message: header, a known message type, the length rules
//!   of the transport, and every attribute ([`attributes`]: TLVs padded to 4, at most
//!   [`MAX_ATTRIBUTES`]), decoding the (XOR-)MAPPED/PEER/RELAYED addresses
//!   ([`decode_address`], at most [`MAX_ADDRESSES`] of each kind), SOFTWARE, USERNAME,
//!   REALM, NONCE, MESSAGE-INTEGRITY (present, not verified), CHANNEL-NUMBER and FINGERPRINT
//!   (CRC checked: a wrong one is reported in [`Message::fingerprint_bad`], not refused; it
//!   must be last). A classic message (no cookie) must use an RFC 3489 type and attributes.
//!   [`parse_channel_data`] reads TURN ChannelData; [`parse_packet`] either, by first byte.
//! - [`parse_datagram`] reads one UDP datagram as one packet that covers it exactly;
//!   [`parse_stream`] reads a TCP direction as back-to-back packets, bare or behind RFC 4571
//!   lengths ([`detect_framing`]), up to [`MAX_STREAM_MESSAGES`], each at most
//!   [`MAX_STREAM_MESSAGE_LEN`] (longer ones are refused, not waited for); over TCP only
//!   magic-cookie messages are accepted. A [`SideParse`] says where and why the first packet
//!   broke the format ([`SideParse::invalid`], offsets within the bytes given).
//! - Used by both the STUN/TURN fingerprint (which decides on the parsed messages: pairing,
//!   confidence, evidence) and the STUN transaction timing (which pairs requests and
//!   responses by transaction id from the header).
//! - Pure, panic-free, zero-copy; the only allocations are the bounded address and packet
//!   lists of the summaries.
//!
//! # Facts used
//! - RFC 8489 §5: header = message type (2 bytes, top two bits 0), message length (2 bytes,
//!   the bytes after the header, a multiple of 4), magic cookie `0x2112A442`, 96-bit
//!   transaction id. Type bits: method M11..M0 interleaved with class C1 (0x0100) and C0
//!   (0x0010): request, indication, success response, error response.
//! - RFC 8489 §14: attributes are TLVs (type 2, length 2, value padded to 4 bytes). §14.1
//!   MAPPED-ADDRESS (0x0001): reserved 0, family 1/2, port, address in clear. §14.2
//!   XOR-MAPPED-ADDRESS (0x0020): port XOR the cookie's top 16 bits, IPv4 XOR the cookie,
//!   IPv6 XOR cookie ‖ transaction id. §14.7 FINGERPRINT (0x8028) = CRC-32 (ISO-HDLC) of the
//!   message up to it, XOR `0x5354554E`, always last; its length field is counted in the CRC
//!   input. USERNAME 0x0006, MESSAGE-INTEGRITY 0x0008, REALM 0x0014, NONCE 0x0015,
//!   SOFTWARE 0x8022.
//! - RFC 8656 (TURN): methods Allocate 3, Refresh 4, Send 6 (indication), Data 7
//!   (indication), CreatePermission 8, ChannelBind 9; CHANNEL-NUMBER 0x000C,
//!   XOR-PEER-ADDRESS 0x0012, XOR-RELAYED-ADDRESS 0x0016; ChannelData = channel number
//!   0x4000–0x4FFF (RFC 5766: 0x4000–0x7FFF, accepted here), length, data, padded to 4 over
//!   TCP (§12.5). RFC 7983: the first byte tells STUN (0–3), ChannelData (64–79) and RTP apart.
//! - RFC 6062: Connect 0x000A, ConnectionBind 0x000B, ConnectionAttempt 0x000C.
//! - RFC 8489 §6.2.2: over TCP messages follow each other; RFC 4571: a 2-byte length before
//!   each (as Microsoft Teams/Skype relays send).
//! - RFC 3489 §11.1 (classic STUN): the same first 4 bytes, then a 128-bit transaction id where
//!   the cookie would be; Binding 0x0001/0x0101/0x0111, Shared Secret 0x0002/0x0102/0x0112;
//!   attributes 0x0001–0x000B. Dialects that kept this header add their own attributes, so
//!   any type but XOR-MAPPED-ADDRESS is walked.
//! - [MS-TURN] (Microsoft's TURN, the TURN draft-08 it follows): classic header; Allocate
//!   0x0003/0x0103/0x0113, Send 0x0004, Data indication 0x0115, Set Active Destination
//!   0x0006/0x0106/0x0116; MAGIC-COOKIE attribute 0x000F = `0x72C64BC6`.

use crate::step::{Anomaly, Layer, Reason, Step};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// STUN header length (RFC 8489 §5).
pub const HEADER_LEN: usize = 20;
/// RFC 5389/8489 magic cookie, at header bytes 4..8.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Bytes of a transaction id after the magic cookie (96 bits, RFC 8489 §5).
pub const TRANSACTION_ID_LEN: usize = 12;
/// Bytes of a classic RFC 3489 transaction id (128 bits, where the cookie would be).
pub const CLASSIC_TRANSACTION_ID_LEN: usize = 16;
/// Offset of the magic cookie (or of the classic transaction id) in the header.
const COOKIE_AT: usize = 4;
/// The bits of the first byte that are zero in every STUN message (RFC 8489 §5); they tell it
/// from TURN ChannelData (0x40–0x7F) and RTP/RTCP (0x80–0xBF) on a shared port (RFC 7983).
pub const FIRST_BYTE_ZERO_BITS: u8 = 0xC0;

/// Message class (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Request.
    Request,
    /// Indication.
    Indication,
    /// Success response.
    Success,
    /// Error response.
    Error,
}

/// Split a message type into (method, class): the method's twelve bits are interleaved with
/// the class bits C1 (0x0100) and C0 (0x0010).
pub fn split_type(t: u16) -> (u16, Class) {
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    let class = match (t & 0x0100 != 0, t & 0x0010 != 0) {
        (false, false) => Class::Request,
        (false, true) => Class::Indication,
        (true, false) => Class::Success,
        (true, true) => Class::Error,
    };
    (method, class)
}

/// A STUN header, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Message type (method and class bits).
    pub msg_type: u16,
    /// Message length field: bytes after the header, as the sender claims.
    pub length: u16,
    /// No magic cookie: a classic RFC 3489 header (or not STUN at all).
    pub classic: bool,
    /// Header bytes 4..20: the magic cookie and 96-bit transaction id, or a classic 128-bit
    /// transaction id. With the cookie, the mask of the XOR address attributes.
    pub id_field: &'a [u8; 16],
}

impl<'a> Header<'a> {
    /// Read the header at the front of `buf` (see the module contract).
    pub fn parse(buf: &'a [u8]) -> Step<Header<'a>> {
        // Check what is there of the header before waiting for more.
        if buf.first().is_some_and(|b0| b0 & FIRST_BYTE_ZERO_BITS != 0) {
            return Step::invalid(Layer::Stun, 0, Reason::BadMagic);
        }
        let Some((&[t0, t1, l0, l1], rest)) = buf.split_first_chunk::<COOKIE_AT>() else {
            return Step::Incomplete;
        };
        let Some(id_field) = rest.first_chunk::<CLASSIC_TRANSACTION_ID_LEN>() else {
            let cookie = MAGIC_COOKIE.to_be_bytes();
            let there = rest.get(..cookie.len()).unwrap_or(rest);
            return if cookie.starts_with(there) {
                Step::Incomplete
            } else {
                Step::invalid(Layer::Stun, COOKIE_AT, Reason::BadMagic)
            };
        };
        let cookie = id_field.first_chunk::<4>().map(|c| u32::from_be_bytes(*c));
        Step::Done(Header {
            msg_type: u16::from_be_bytes([t0, t1]),
            length: u16::from_be_bytes([l0, l1]),
            classic: cookie != Some(MAGIC_COOKIE),
            id_field,
        })
    }

    /// (method, class) of the message type.
    pub fn method_class(&self) -> (u16, Class) {
        split_type(self.msg_type)
    }

    /// The transaction id: 12 bytes after the cookie, or the classic 16.
    pub fn transaction_id(&self) -> &'a [u8] {
        let skip = if self.classic { 0 } else { CLASSIC_TRANSACTION_ID_LEN - TRANSACTION_ID_LEN };
        self.id_field.get(skip..).unwrap_or_default()
    }

    /// The 96-bit transaction id of a magic-cookie header (`None` for a classic one).
    pub fn cookie_transaction_id(&self) -> Option<&'a [u8; TRANSACTION_ID_LEN]> {
        if self.classic {
            return None;
        }
        self.id_field.last_chunk::<TRANSACTION_ID_LEN>()
    }

    /// Bytes on the wire of the whole message the header claims.
    pub fn message_len(&self) -> usize {
        HEADER_LEN + usize::from(self.length)
    }

    /// The bytes the length field covers after the header in `buf` (the buffer the header was
    /// read from), or `None` when fewer are there.
    pub fn body<'b>(&self, buf: &'b [u8]) -> Option<&'b [u8]> {
        buf.get(HEADER_LEN..)?.get(..usize::from(self.length))
    }
}

/// Value XORed into the FINGERPRINT CRC-32 (RFC 8489 §14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;
/// Bytes of an attribute's type and length fields (RFC 8489 §14).
pub const ATTR_HEADER_LEN: usize = 4;
/// Message lengths, attribute values and TCP ChannelData are padded to multiples of this.
pub const ALIGN: usize = 4;
/// Bytes of a FINGERPRINT value (a CRC-32).
pub const FINGERPRINT_LEN: usize = 4;
/// ChannelData header length (channel number, length).
pub const CHANNEL_HEADER_LEN: usize = 4;
/// Lowest TURN channel number.
pub const CHANNEL_MIN: u16 = 0x4000;
/// Highest channel number accepted (RFC 5766 range; RFC 8656 narrowed it to 0x4FFF).
pub const CHANNEL_MAX: u16 = 0x7FFF;
/// Most attributes accepted in one message (real ones carry fewer than 20).
pub const MAX_ATTRIBUTES: usize = 64;
/// Most messages read from one TCP direction by [`parse_stream`].
pub const MAX_STREAM_MESSAGES: usize = 16;
/// Longest message, ChannelData or RFC 4571 frame read from a TCP stream: a longer one is
/// refused rather than waited for (real ones are a few hundred bytes).
pub const MAX_STREAM_MESSAGE_LEN: usize = 4096;
/// Most addresses of each kind kept in a [`Message`].
pub const MAX_ADDRESSES: usize = 8;
/// Bytes of the RFC 4571 length before each message of a framed TCP stream.
pub const RFC4571_PREFIX_LEN: usize = 2;
/// Bytes of a TCP direction that tell its framing: the cookie after an RFC 4571 length.
const FRAMING_PROBE_LEN: usize = RFC4571_PREFIX_LEN + COOKIE_AT + 4;
/// The value of MS-TURN's MAGIC-COOKIE attribute (TURN draft-08).
pub const MS_TURN_COOKIE: u32 = 0x72C6_4BC6;
/// Offset of the message length field in the header.
const LENGTH_AT: usize = 2;

/// Attribute types read (RFC 8489 §18.3, RFC 8656 §18, RFC 3489 §11.2).
pub mod attr {
    /// MAPPED-ADDRESS.
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// USERNAME.
    pub const USERNAME: u16 = 0x0006;
    /// MESSAGE-INTEGRITY.
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// Highest attribute type RFC 3489 defines (0x0001–0x000B).
    pub const CLASSIC_LAST: u16 = 0x000B;
    /// CHANNEL-NUMBER.
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    /// XOR-PEER-ADDRESS.
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    /// REALM.
    pub const REALM: u16 = 0x0014;
    /// NONCE.
    pub const NONCE: u16 = 0x0015;
    /// XOR-RELAYED-ADDRESS.
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    /// XOR-MAPPED-ADDRESS.
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// MAGIC-COOKIE of the TURN drafts MS-TURN follows ([MS-TURN] §2.2.2.15): value
    /// [`MS_TURN_COOKIE`](super::MS_TURN_COOKIE).
    pub const MS_TURN_MAGIC_COOKIE: u16 = 0x000F;
    /// Pre-RFC 5389 XOR-MAPPED-ADDRESS (draft value, still sent by old stacks).
    pub const XOR_MAPPED_ADDRESS_OLD: u16 = 0x8020;
    /// SOFTWARE (SERVER in RFC 3489).
    pub const SOFTWARE: u16 = 0x8022;
    /// FINGERPRINT.
    pub const FINGERPRINT: u16 = 0x8028;
}

/// Name (`binding_request`, …) of a (method, class), or `None` if the pair is not a known
/// STUN/TURN message.
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

/// (method, class, name) of a classic (cookie-less) message type: RFC 3489's Binding and
/// Shared Secret, and the TURN-draft methods Microsoft's MS-TURN keeps (Allocate 3, Send 4,
/// Data indication 0x0115, Set Active Destination 6).
pub fn classic_type(t: u16) -> Option<(u16, Class, &'static str)> {
    Some(match t {
        0x0001 => (1, Class::Request, "binding_request"),
        0x0101 => (1, Class::Success, "binding_success"),
        0x0111 => (1, Class::Error, "binding_error"),
        0x0002 => (2, Class::Request, "shared_secret_request"),
        0x0102 => (2, Class::Success, "shared_secret_success"),
        0x0112 => (2, Class::Error, "shared_secret_error"),
        0x0003 => (3, Class::Request, "allocate_request"),
        0x0103 => (3, Class::Success, "allocate_success"),
        0x0113 => (3, Class::Error, "allocate_error"),
        0x0004 => (4, Class::Request, "send_request"),
        0x0115 => (5, Class::Indication, "data_indication"),
        0x0006 => (6, Class::Request, "set_active_destination_request"),
        0x0106 => (6, Class::Success, "set_active_destination_success"),
        0x0116 => (6, Class::Error, "set_active_destination_error"),
        _ => return None,
    })
}

/// Whether a classic (cookie-less) message may carry this attribute type. Dialects bring
/// their own (MS-TURN's 0x000F–0x0015 and 0x8008/0x8050, Zoom's), so any type is accepted
/// as long as the attributes walk exactly to the end — except XOR-MAPPED-ADDRESS (0x0020),
/// which is defined by the magic cookie a classic message lacks.
pub fn classic_attribute(t: u16) -> bool {
    t != attr::XOR_MAPPED_ADDRESS
}

/// Whether a first byte begins TURN ChannelData (a channel number's high byte).
pub fn is_channel_first_byte(b: u8) -> bool {
    (CHANNEL_MIN..=CHANNEL_MAX).contains(&u16::from_be_bytes([b, 0]))
}

/// A validated STUN message, borrowing the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// Method (e.g. 0x001 Binding).
    pub method: u16,
    /// Class.
    pub class: Class,
    /// Name of the message type (`binding_request`, …).
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
    /// NONCE value.
    pub nonce: Option<&'a [u8]>,
    /// USERNAME present.
    pub username: bool,
    /// MESSAGE-INTEGRITY present (not verified: the key is the peers').
    pub message_integrity: bool,
    /// Decoded (XOR-)MAPPED-ADDRESS values (at most [`MAX_ADDRESSES`], no repeats).
    pub mapped: Vec<SocketAddr>,
    /// Decoded XOR-PEER-ADDRESS values (at most [`MAX_ADDRESSES`], no repeats).
    pub peers: Vec<SocketAddr>,
    /// Decoded XOR-RELAYED-ADDRESS values (at most [`MAX_ADDRESSES`], no repeats).
    pub relayed: Vec<SocketAddr>,
    /// Channel number from CHANNEL-NUMBER.
    pub channel: Option<u16>,
    /// A classic message carrying MS-TURN's MAGIC-COOKIE attribute with its value.
    pub ms_turn: bool,
    /// Total length on the wire (header + attributes).
    pub len: usize,
}

impl<'a> Message<'a> {
    /// A message with no attributes read yet.
    fn empty(header: &Header<'a>, (method, class, name): (u16, Class, &'static str)) -> Message<'a> {
        Message {
            method,
            class,
            name,
            transaction_id: header.transaction_id(),
            classic: header.classic,
            fingerprint_ok: false,
            fingerprint_bad: false,
            software: None,
            realm: None,
            nonce: None,
            username: false,
            message_integrity: false,
            mapped: Vec::new(),
            peers: Vec::new(),
            relayed: Vec::new(),
            channel: None,
            ms_turn: false,
            len: header.message_len(),
        }
    }
}

/// One attribute of a message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Attribute type.
    pub kind: u16,
    /// Value, without its padding.
    pub value: &'a [u8],
    /// Offset of the attribute (its type field) in the body.
    pub at: usize,
}

/// The attributes of a message body (RFC 8489 §14: type, length, value padded to 4 bytes), in
/// order. Yields one `Err` (offsets within the body) and stops when an attribute's length runs
/// past the body, or after [`MAX_ATTRIBUTES`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    body: &'a [u8],
    at: usize,
    count: usize,
    stopped: bool,
}

/// Walk the attributes of `body` (the bytes after the header that its length covers).
pub fn attributes(body: &[u8]) -> Attributes<'_> {
    Attributes { body, at: 0, count: 0, stopped: false }
}

impl<'a> Attributes<'a> {
    /// The attribute at `self.at`, or where and why it breaks the body.
    fn read(&self) -> Result<(Attribute<'a>, usize), Anomaly> {
        let at = self.at;
        if self.count >= MAX_ATTRIBUTES {
            return Err(Anomaly::new(Layer::Stun, at, Reason::OverLimit));
        }
        let rest = self.body.get(at..).unwrap_or_default();
        let Some((&[t0, t1, l0, l1], after)) = rest.split_first_chunk::<ATTR_HEADER_LEN>() else {
            return Err(Anomaly::new(Layer::Stun, at, Reason::BadLength));
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let padded = len.div_ceil(ALIGN) * ALIGN;
        let (Some(value), true) = (after.get(..len), after.len() >= padded) else {
            return Err(Anomaly::new(Layer::Stun, at + 2, Reason::BadLength));
        };
        Ok((Attribute { kind: u16::from_be_bytes([t0, t1]), value, at }, at + ATTR_HEADER_LEN + padded))
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Result<Attribute<'a>, Anomaly>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped || self.at >= self.body.len() {
            return None;
        }
        match self.read() {
            Ok((a, next)) => {
                self.count += 1;
                self.at = next;
                Some(Ok(a))
            }
            Err(e) => {
                self.stopped = true;
                Some(Err(e))
            }
        }
    }
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

/// Decode an address attribute value (RFC 8489 §14.1, §14.2: reserved byte, family, port,
/// address); `xor` is `Some(cookie ‖ transaction id)` (the header's id field) for the XOR
/// forms. Offsets of the anomaly are within the value: the reserved byte (0, not zero), the
/// family (1, neither IPv4 nor IPv6), the address (4, not the family's length; 0 when the
/// value is shorter than its fixed part).
pub fn decode_address(v: &[u8], xor: Option<&[u8; 16]>) -> Result<SocketAddr, Anomaly> {
    let Some((&[zero, family, p0, p1], addr)) = v.split_first_chunk::<4>() else {
        return Err(Anomaly::new(Layer::Stun, 0, Reason::BadLength));
    };
    if zero != 0 {
        return Err(Anomaly::new(Layer::Stun, 0, Reason::BadMagic));
    }
    let mask = xor.copied().unwrap_or([0; 16]);
    let [m0, m1, ..] = mask;
    let port = u16::from_be_bytes([p0, p1]) ^ u16::from_be_bytes([m0, m1]);
    let unmask = |i: usize| addr.get(i).copied().unwrap_or(0) ^ mask.get(i).copied().unwrap_or(0);
    let ip = match (family, addr.len()) {
        (1, 4) => IpAddr::V4(Ipv4Addr::from(std::array::from_fn::<u8, 4, _>(unmask))),
        (2, 16) => IpAddr::V6(Ipv6Addr::from(std::array::from_fn::<u8, 16, _>(unmask))),
        (1 | 2, _) => return Err(Anomaly::new(Layer::Stun, 4, Reason::BadLength)),
        _ => return Err(Anomaly::new(Layer::Stun, 1, Reason::BadValue)),
    };
    Ok(SocketAddr::new(ip, port))
}

fn push_capped(v: &mut Vec<SocketAddr>, a: SocketAddr) {
    if v.len() < MAX_ADDRESSES && !v.contains(&a) {
        v.push(a);
    }
}

/// Parse one STUN message from the front of `buf`. With `datagram`, the message must cover
/// `buf` exactly (UDP, or one RFC 4571 frame) and a short buffer is invalid; otherwise (a TCP
/// stream) a short buffer is `Incomplete`, bytes after the message are left for the caller,
/// and classic messages and messages over [`MAX_STREAM_MESSAGE_LEN`] are refused. Anomaly
/// offsets are within `buf`.
pub fn parse_message(buf: &[u8], datagram: bool) -> Step<Message<'_>> {
    let header = match Header::parse(buf) {
        Step::Done(h) => h,
        Step::Incomplete if datagram => return Step::invalid(Layer::Stun, buf.len(), Reason::Truncated),
        Step::Incomplete => return Step::Incomplete,
        Step::Invalid(a) => return Step::Invalid(a),
    };
    if let Err(a) = check_length(&header, buf, datagram) {
        return Step::Invalid(a);
    }
    let Some(body) = header.body(buf) else {
        return if datagram { Step::invalid(Layer::Stun, buf.len(), Reason::Truncated) } else { Step::Incomplete };
    };
    let kind = if header.classic { classic_type(header.msg_type) } else { known_type(header.msg_type) };
    let Some(kind) = kind else {
        return Step::invalid(Layer::Stun, 0, Reason::BadType);
    };
    let mut m = Message::empty(&header, kind);
    match read_attributes(&mut m, buf, body, header.id_field) {
        Ok(()) => Step::Done(m),
        Err(a) => Step::Invalid(a),
    }
}

/// (method, class, name) of a magic-cookie message type, if known.
fn known_type(t: u16) -> Option<(u16, Class, &'static str)> {
    let (method, class) = split_type(t);
    message_name(method, class).map(|name| (method, class, name))
}

/// The header's length and cookie against the rules of the transport.
fn check_length(header: &Header<'_>, buf: &[u8], datagram: bool) -> Result<(), Anomaly> {
    let bad = |at, reason| Err(Anomaly::new(Layer::Stun, at, reason));
    if usize::from(header.length) % ALIGN != 0 {
        return bad(LENGTH_AT, Reason::BadLength);
    }
    if header.classic && !datagram {
        // Classic STUN has no TCP framing: over TCP the cookie is required.
        return bad(COOKIE_AT, Reason::BadMagic);
    }
    if datagram && buf.len() != header.message_len() {
        return bad(LENGTH_AT, Reason::BadLength);
    }
    if !datagram && header.message_len() > MAX_STREAM_MESSAGE_LEN {
        return bad(LENGTH_AT, Reason::OverLimit);
    }
    Ok(())
}

/// Walk the body's attributes into `m` (offsets of an anomaly within `buf`, the message).
fn read_attributes<'a>(m: &mut Message<'a>, buf: &'a [u8], body: &'a [u8], mask: &[u8; 16]) -> Result<(), Anomaly> {
    for a in attributes(body) {
        let a = a.map_err(|e| e.shifted(HEADER_LEN))?;
        let at = HEADER_LEN + a.at;
        if m.fingerprint_ok || m.fingerprint_bad {
            // FINGERPRINT must be the last attribute.
            return Err(Anomaly::new(Layer::Stun, at, Reason::Inconsistent));
        }
        if m.classic && !classic_attribute(a.kind) {
            return Err(Anomaly::new(Layer::Stun, at, Reason::BadType));
        }
        read_attribute(m, buf, a, mask).map_err(|e| e.shifted(at))?;
    }
    Ok(())
}

/// Read one attribute into `m` (offsets of an anomaly from the attribute's start).
fn read_attribute<'a>(m: &mut Message<'a>, buf: &'a [u8], a: Attribute<'a>, mask: &[u8; 16]) -> Result<(), Anomaly> {
    let in_value = |e: Anomaly| e.shifted(ATTR_HEADER_LEN);
    match a.kind {
        attr::MAPPED_ADDRESS => push_capped(&mut m.mapped, decode_address(a.value, None).map_err(in_value)?),
        attr::XOR_MAPPED_ADDRESS | attr::XOR_PEER_ADDRESS | attr::XOR_RELAYED_ADDRESS if !m.classic => {
            let addr = decode_address(a.value, Some(mask)).map_err(in_value)?;
            let list = match a.kind {
                attr::XOR_MAPPED_ADDRESS => &mut m.mapped,
                attr::XOR_PEER_ADDRESS => &mut m.peers,
                _ => &mut m.relayed,
            };
            push_capped(list, addr);
        }
        attr::USERNAME => m.username = true,
        attr::MESSAGE_INTEGRITY => m.message_integrity = true,
        attr::REALM => m.realm = Some(a.value),
        attr::NONCE => m.nonce = Some(a.value),
        attr::SOFTWARE => m.software = Some(a.value),
        attr::CHANNEL_NUMBER => m.channel = be16(a.value, 0),
        attr::MS_TURN_MAGIC_COOKIE if m.classic => m.ms_turn = a.value == MS_TURN_COOKIE.to_be_bytes(),
        attr::FINGERPRINT if !m.classic => {
            let (Some(got), Some(covered), FINGERPRINT_LEN) =
                (be32(a.value, 0), buf.get(..HEADER_LEN + a.at), a.value.len())
            else {
                return Err(Anomaly::new(Layer::Stun, 2, Reason::BadLength));
            };
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
    Ok(())
}

/// Parse one ChannelData message from the front of `buf` (`datagram`: UDP, where it must end
/// the datagram, padded or not; otherwise TCP, where it is padded to 4 bytes and at most
/// [`MAX_STREAM_MESSAGE_LEN`]): (channel number, bytes consumed).
pub fn parse_channel_data(buf: &[u8], datagram: bool) -> Step<(u16, usize)> {
    let short = if datagram { Step::invalid(Layer::Stun, buf.len(), Reason::Truncated) } else { Step::Incomplete };
    let Some(&b0) = buf.first() else {
        return short;
    };
    if !is_channel_first_byte(b0) {
        return Step::invalid(Layer::Stun, 0, Reason::BadValue);
    }
    let (Some(channel), Some(len)) = (be16(buf, 0), be16(buf, LENGTH_AT)) else {
        return short;
    };
    let len = usize::from(len);
    let bare = CHANNEL_HEADER_LEN + len;
    let padded = CHANNEL_HEADER_LEN + len.div_ceil(ALIGN) * ALIGN;
    if datagram {
        return if buf.len() == bare || buf.len() == padded {
            Step::Done((channel, buf.len()))
        } else {
            Step::invalid(Layer::Stun, LENGTH_AT, Reason::BadLength)
        };
    }
    if padded > MAX_STREAM_MESSAGE_LEN {
        return Step::invalid(Layer::Stun, LENGTH_AT, Reason::OverLimit);
    }
    if buf.len() < padded { Step::Incomplete } else { Step::Done((channel, padded)) }
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

impl Packet<'_> {
    /// Bytes the packet takes on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            Packet::Stun(m) => m.len,
            Packet::ChannelData { len, .. } => *len,
        }
    }
}

/// Parse one packet (STUN or ChannelData, told apart by the first byte: RFC 7983).
pub fn parse_packet(buf: &[u8], datagram: bool) -> Step<Packet<'_>> {
    match buf.first() {
        Some(&b) if is_channel_first_byte(b) => {
            parse_channel_data(buf, datagram).map(|(channel, len)| Packet::ChannelData { channel, len })
        }
        _ => parse_message(buf, datagram).map(Packet::Stun),
    }
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
    if cookie_at(buf, COOKIE_AT) || buf.first().is_some_and(|&b| is_channel_first_byte(b)) {
        Some(Framing::Bare)
    } else if cookie_at(buf, RFC4571_PREFIX_LEN + COOKIE_AT) {
        Some(Framing::Rfc4571)
    } else {
        None
    }
}

/// Could these few bytes still begin a STUN message or ChannelData (bare or RFC 4571)?
fn prefix_possible(buf: &[u8]) -> bool {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let cookie_possible =
        |at: usize| cookie.starts_with(buf.get(at..).map(|c| c.get(..4).unwrap_or(c)).unwrap_or_default());
    let bare = buf.first().is_some_and(|&b| b & FIRST_BYTE_ZERO_BITS == 0 || is_channel_first_byte(b))
        && cookie_possible(COOKIE_AT);
    let framed = buf.get(RFC4571_PREFIX_LEN).is_none_or(|b| b & FIRST_BYTE_ZERO_BITS == 0)
        && cookie_possible(RFC4571_PREFIX_LEN + COOKIE_AT);
    bare || framed
}

/// One direction, parsed as far as it goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SideParse<'a> {
    /// Packets parsed, in order (at most [`MAX_STREAM_MESSAGES`]).
    pub packets: Vec<Packet<'a>>,
    /// The first packet contradicted STUN and ChannelData: where (in the direction's bytes)
    /// and why. A later packet that does only ends the parse.
    pub invalid: Option<Anomaly>,
    /// The bytes ended inside a packet (or the side is empty).
    pub pending: bool,
    /// The magic cookie sits where the first message's header has it (after an RFC 4571
    /// length or not): the side began as STUN, not merely as bytes STUN does not exclude.
    pub cookie: bool,
    /// TCP framing used.
    pub framing: Option<Framing>,
    /// A packet after the first contradicted STUN and ChannelData: the parse stopped there
    /// (the bytes go on as something else).
    pub stopped: bool,
    /// The transaction id of a first message that began as STUN (the cookie in place) but
    /// broke a rule (a dialect's odd length or unknown type), so that an answer can still
    /// pair with it.
    pub broken_id: Option<&'a [u8]>,
}

/// Parse a UDP datagram (one packet).
pub fn parse_datagram(d: &[u8]) -> SideParse<'_> {
    if d.is_empty() {
        return SideParse { pending: true, ..SideParse::default() };
    }
    let cookie = cookie_at(d, COOKIE_AT);
    match parse_packet(d, true) {
        Step::Done(p) => SideParse { packets: vec![p], cookie, ..SideParse::default() },
        Step::Invalid(a) => {
            SideParse { invalid: Some(a), cookie, broken_id: broken_id(d, cookie), ..SideParse::default() }
        }
        // A datagram is complete: the parser reports a short one as truncated.
        Step::Incomplete => SideParse {
            invalid: Some(Anomaly::new(Layer::Stun, d.len(), Reason::Truncated)),
            cookie,
            ..SideParse::default()
        },
    }
}

/// The transaction id of a message that began with the cookie, however it ends.
fn broken_id(buf: &[u8], cookie: bool) -> Option<&[u8]> {
    if cookie { buf.get(COOKIE_AT + 4..HEADER_LEN) } else { None }
}

/// Whether the magic cookie is at `at` in `buf`.
fn cookie_at(buf: &[u8], at: usize) -> bool {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    buf.get(at..at + cookie.len()) == Some(&cookie[..])
}

/// The next frame of a TCP direction at `rest`: the bytes to parse a packet from, and with
/// RFC 4571 framing the bytes after the frame (offsets of an anomaly within `rest`).
fn next_frame(rest: &[u8], framing: Framing) -> Step<(&[u8], Option<&[u8]>)> {
    match framing {
        Framing::Bare => Step::Done((rest, None)),
        Framing::Rfc4571 => {
            let Some((len, body)) = rest.split_first_chunk::<RFC4571_PREFIX_LEN>() else {
                return Step::Incomplete;
            };
            let len = usize::from(u16::from_be_bytes(*len));
            match body.get(..len) {
                Some(f) => Step::Done((f, body.get(len..))),
                None if len > MAX_STREAM_MESSAGE_LEN => Step::invalid(Layer::Stun, 0, Reason::OverLimit),
                None => Step::Incomplete,
            }
        }
    }
}

/// Parse a TCP direction: up to [`MAX_STREAM_MESSAGES`] packets.
pub fn parse_stream(buf: &[u8]) -> SideParse<'_> {
    let mut out = SideParse { pending: buf.is_empty(), ..SideParse::default() };
    if buf.is_empty() {
        return out;
    }
    let Some(framing) = detect_framing(buf) else {
        // Too short to tell: wait if what is there could still begin a message.
        if buf.len() < FRAMING_PROBE_LEN && prefix_possible(buf) {
            out.pending = true;
        } else {
            let first_ok = buf.first().is_some_and(|b| b & FIRST_BYTE_ZERO_BITS == 0);
            out.invalid = Some(Anomaly::new(Layer::Stun, if first_ok { COOKIE_AT } else { 0 }, Reason::BadMagic));
        }
        return out;
    };
    out.framing = Some(framing);
    let prefix = if framing == Framing::Rfc4571 { RFC4571_PREFIX_LEN } else { 0 };
    out.cookie = cookie_at(buf, prefix + COOKIE_AT);
    let mut at = 0usize;
    while out.packets.len() < MAX_STREAM_MESSAGES && at < buf.len() {
        let rest = buf.get(at..).unwrap_or_default();
        let step = match next_frame(rest, framing) {
            Step::Done((frame, after)) => match parse_packet(frame, after.is_some()) {
                Step::Invalid(a) => Step::Invalid(a.shifted(prefix)),
                other => other.map(|p| (p, after)),
            },
            Step::Incomplete => Step::Incomplete,
            Step::Invalid(a) => Step::Invalid(a),
        };
        match step {
            Step::Done((p, after)) => {
                at = match after {
                    Some(a) => buf.len().saturating_sub(a.len()),
                    None => at + p.wire_len(),
                };
                out.packets.push(p);
            }
            Step::Incomplete => {
                out.pending = true;
                break;
            }
            Step::Invalid(a) => {
                if out.packets.is_empty() {
                    out.invalid = Some(a.shifted(at));
                    out.broken_id = broken_id(buf.get(prefix..).unwrap_or_default(), out.cookie);
                } else {
                    out.stopped = true;
                }
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::stun::*;
    use crate::testutil::unhex;

    fn message(hex: &str) -> Message<'static> {
        let d: &'static [u8] = Box::leak(unhex(hex).into_boxed_slice());
        match parse_message(d, true) {
            Step::Done(m) => m,
            other => panic!("{other:?}"),
        }
    }

    fn stun(at: usize, reason: Reason) -> Anomaly {
        Anomaly::new(Layer::Stun, at, reason)
    }

    /// A cookie message of `msg_type` with the given attribute bytes (length fixed up).
    fn with_attrs(msg_type: u16, attrs: &[u8]) -> Vec<u8> {
        let mut m = msg_type.to_be_bytes().to_vec();
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend((1..=12).collect::<Vec<u8>>());
        m.extend_from_slice(attrs);
        m
    }

    #[test]
    fn coturn_messages_known_answers() {
        let b = message(BINDING_SUCCESS);
        assert_eq!((b.method, b.class, b.name, b.classic), (1, Class::Success, "binding_success", false));
        assert!(b.fingerprint_ok && !b.fingerprint_bad);
        assert_eq!(b.mapped, ["127.0.0.1:41331".parse().unwrap()]);
        assert_eq!(b.software, Some(&b"Coturn-4.6.1 'Gorst'"[..]));
        assert_eq!(b.transaction_id, &unhex(BINDING_REQUEST)[8..20]);
        let e = message(ALLOCATE_401);
        assert_eq!((e.name, e.realm), ("allocate_error", Some(&b"example.test"[..])));
        assert_eq!(e.nonce, Some(&b"ec48592d950504b1"[..]));
        let a = message(ALLOCATE_AUTH_REQUEST);
        assert!(a.username && a.message_integrity && a.fingerprint_ok);
        let s = message(ALLOCATE_SUCCESS);
        assert_eq!(s.relayed, ["127.0.0.1:49168".parse().unwrap()]);
        assert_eq!(s.mapped, ["127.0.0.1:37876".parse().unwrap()]);
        let c = message(CHANNEL_BIND_REQUEST);
        assert_eq!((c.channel, c.peers.clone()), (Some(0x42F8), vec!["127.0.0.1:49161".parse().unwrap()]));
        for (hex, name) in [(SEND_INDICATION, "send_indication"), (DATA_INDICATION, "data_indication")] {
            let m = message(hex);
            assert_eq!((m.name, m.peers.clone()), (name, vec!["127.0.0.1:3481".parse().unwrap()]));
        }
        // ChannelData: the length must cover the datagram (padded or not).
        let d = unhex(CHANNEL_DATA_CLIENT);
        assert_eq!(parse_channel_data(&d, true), Step::Done((0x6A36, d.len())));
        assert_eq!(parse_packet(&d, true), Step::Done(Packet::ChannelData { channel: 0x6A36, len: d.len() }));
        assert_eq!(parse_channel_data(&d[..d.len() - 1], true), Step::Invalid(stun(2, Reason::BadLength)));
    }

    #[test]
    fn tcp_streams_bare_and_rfc4571() {
        let (c, s) = (unhex(TCP_CLIENT_STREAM), unhex(TCP_SERVER_STREAM));
        let names = |p: &SideParse<'_>| {
            p.packets.iter().map(|p| if let Packet::Stun(m) = p { m.name } else { "channel_data" }).collect::<Vec<_>>()
        };
        let (pc, ps) = (parse_stream(&c), parse_stream(&s));
        assert_eq!(names(&pc), ["allocate_request", "allocate_request", "refresh_request"]);
        assert_eq!(names(&ps), ["allocate_error", "allocate_success", "refresh_success"]);
        assert_eq!((pc.framing, pc.pending, pc.invalid, pc.cookie), (Some(Framing::Bare), false, None, true));
        // The same stream behind RFC 4571 lengths.
        let mut framed = Vec::new();
        let mut rest = &c[..];
        while let Step::Done(m) = parse_message(rest, false) {
            framed.extend_from_slice(&(m.len as u16).to_be_bytes());
            framed.extend_from_slice(&rest[..m.len]);
            rest = &rest[m.len..];
        }
        let pf = parse_stream(&framed);
        assert_eq!((pf.framing, pf.cookie, names(&pf)), (Some(Framing::Rfc4571), true, names(&pc)));
        // Classic (cookie-less) messages are refused over TCP.
        let mut classic = c.clone();
        classic[4] ^= 0xFF;
        assert_eq!(parse_message(&classic, false), Step::Invalid(stun(4, Reason::BadMagic)));
        // ChannelData over TCP is padded to 4.
        let mut cd = unhex(CHANNEL_DATA_CLIENT);
        cd[3] = 0x61;
        assert_eq!(parse_channel_data(&cd, false), Step::Done((0x6A36, cd.len())));
        assert_eq!(parse_channel_data(&cd[..cd.len() - 1], false), Step::Incomplete);
    }

    #[test]
    fn message_truncation_sweep() {
        for hex in [BINDING_REQUEST, ALLOCATE_SUCCESS, SEND_INDICATION] {
            let d = unhex(hex);
            for len in 0..d.len() {
                // A cut datagram: the header's end, or the length field against the datagram.
                let want = if len < HEADER_LEN { stun(len, Reason::Truncated) } else { stun(2, Reason::BadLength) };
                assert_eq!(parse_message(&d[..len], true), Step::Invalid(want), "{len}");
                assert_eq!(parse_datagram(&d[..len]).invalid, (len > 0).then_some(want), "{len}");
                // A stream prefix: wait.
                assert_eq!(parse_message(&d[..len], false), Step::Incomplete, "{len}");
            }
            assert!(matches!(parse_message(&d, false), Step::Done(m) if m.len == d.len()));
        }
        let d = unhex(CHANNEL_DATA_CLIENT);
        for len in 0..d.len() {
            assert!(parse_channel_data(&d[..len], true).is_invalid(), "{len}");
            assert_eq!(parse_channel_data(&d[..len], false), Step::Incomplete, "{len}");
        }
        // Streams: every prefix parses the whole messages in it and waits for the rest.
        let c = unhex(TCP_CLIENT_STREAM);
        let ends: Vec<usize> = {
            let p = parse_stream(&c);
            p.packets
                .iter()
                .scan(0, |at, p| {
                    *at += p.wire_len();
                    Some(*at)
                })
                .collect()
        };
        for len in 0..c.len() {
            let p = parse_stream(&c[..len]);
            assert_eq!(p.packets.len(), ends.iter().filter(|&&e| e <= len).count(), "{len}");
            assert_eq!((p.invalid, p.pending), (None, !ends.contains(&len)), "{len}");
        }
    }

    #[test]
    fn hostile_lengths_are_refused_not_trusted() {
        // An attribute whose length runs past the message.
        let lie = with_attrs(0x0001, &[0x80, 0x22, 0xFF, 0xF0, b'a', b'b', b'c', b'd']);
        assert_eq!(parse_message(&lie, true), Step::Invalid(stun(22, Reason::BadLength)));
        // Padding missing after an odd-length attribute.
        let pad = with_attrs(0x0001, &[0x80, 0x22, 0x00, 0x05, b'a', b'b', b'c', b'd']);
        assert_eq!(parse_message(&pad, true), Step::Invalid(stun(22, Reason::BadLength)));
        // 10,000 zero-length attributes: refused after MAX_ATTRIBUTES, no allocation per item.
        let many = with_attrs(0x0001, &[0x80, 0x2A, 0x00, 0x00].repeat(10_000));
        assert_eq!(parse_message(&many, true), Step::Invalid(stun(HEADER_LEN + 4 * MAX_ATTRIBUTES, Reason::OverLimit)));
        assert_eq!(attributes(&many[HEADER_LEN..]).count(), MAX_ATTRIBUTES + 1);
        // Over TCP a message longer than MAX_STREAM_MESSAGE_LEN is refused, not waited for.
        assert_eq!(parse_message(&many[..HEADER_LEN], false), Step::Invalid(stun(2, Reason::OverLimit)));
        assert_eq!(parse_stream(&many[..HEADER_LEN]).invalid, Some(stun(2, Reason::OverLimit)));
        let mut cd = vec![0x40, 0x00, 0xFF, 0xFF];
        assert_eq!(parse_channel_data(&cd, false), Step::Invalid(stun(2, Reason::OverLimit)));
        cd.resize(0x1_0003, 0);
        assert_eq!(parse_channel_data(&cd, true), Step::Done((0x4000, cd.len())));
        // An RFC 4571 frame claiming 64 KiB.
        let mut framed = vec![0xFF, 0xFF];
        framed.extend_from_slice(&unhex(BINDING_REQUEST));
        assert_eq!(parse_stream(&framed).invalid, Some(stun(0, Reason::OverLimit)));
        // A length field of 64 KiB over a 20-byte datagram.
        let mut m = unhex(BINDING_REQUEST);
        m[2..4].copy_from_slice(&0xFFFCu16.to_be_bytes());
        assert_eq!(parse_message(&m, true), Step::Invalid(stun(2, Reason::BadLength)));
    }

    #[test]
    fn ms_turn_classic_messages() {
        // An MS-TURN Allocate request: classic header (16-byte transaction id), MAGIC-COOKIE
        // (0x000F = 72 C6 4B C6) and MS-VERSION (0x8008 = 6), as [MS-TURN] describes.
        let mut m = vec![0x00, 0x03, 0x00, 0x10];
        m.extend(1..=16u8);
        m.extend_from_slice(&[0x00, 0x0F, 0x00, 0x04, 0x72, 0xC6, 0x4B, 0xC6]);
        m.extend_from_slice(&[0x80, 0x08, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06]);
        let Step::Done(msg) = parse_message(&m, true) else { panic!("{:?}", parse_message(&m, true)) };
        assert_eq!((msg.name, msg.classic, msg.ms_turn, msg.class), ("allocate_request", true, true, Class::Request));
        // Another value is no MS-TURN cookie, but the message still walks.
        m[24] = 0x73;
        assert!(matches!(parse_message(&m, true), Step::Done(Message { ms_turn: false, .. })));
        // A cookie message never reads attribute 0x000F as MS-TURN's.
        let mut c = unhex(BINDING_REQUEST);
        c.extend_from_slice(&[0x00, 0x0F, 0x00, 0x04, 0x72, 0xC6, 0x4B, 0xC6]);
        let len = (c.len() - HEADER_LEN) as u16;
        c[2..4].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(parse_message(&c, true), Step::Done(Message { ms_turn: false, classic: false, .. })));
    }

    #[test]
    fn a_broken_first_message_keeps_its_transaction_id() {
        let mut odd = unhex(BINDING_REQUEST);
        odd[3] = 1;
        let side = parse_datagram(&odd);
        assert!(side.invalid.is_some() && side.cookie);
        assert_eq!(side.broken_id, odd.get(8..20));
        // Not begun as STUN: no id.
        let http = parse_datagram(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(http.broken_id, None);
        // Over TCP too (behind an RFC 4571 length as well).
        assert_eq!(parse_stream(&odd).broken_id, odd.get(8..20));
    }

    #[test]
    fn exact_anomalies() {
        let base = unhex(BINDING_REQUEST);
        let mut odd = base.clone();
        odd[3] = 1;
        let mut longer = base.clone();
        longer.extend_from_slice(&[0; 4]);
        let mut unknown = base.clone();
        unknown[1] = 0x0F;
        let mut after = unhex(SEND_INDICATION);
        let fp_at = after.len() - 8;
        after.extend_from_slice(&[0x80, 0x22, 0x00, 0x00]);
        let len = (after.len() - HEADER_LEN) as u16;
        after[2..4].copy_from_slice(&len.to_be_bytes());
        let mut classic_attr = vec![0x00, 0x01, 0x00, 0x08];
        classic_attr.extend((1..=16).collect::<Vec<u8>>());
        classic_attr.extend_from_slice(&[0x00, 0x20, 0x00, 0x04, 0, 0, 0, 0]);
        let cases: [(&str, Vec<u8>, Anomaly); 11] = [
            ("length not a multiple of 4", odd, stun(2, Reason::BadLength)),
            ("length short of the datagram", longer, stun(2, Reason::BadLength)),
            ("unknown method", unknown, stun(0, Reason::BadType)),
            ("attribute after FINGERPRINT", after, stun(fp_at + 8, Reason::Inconsistent)),
            ("XOR address in a classic message", classic_attr, stun(20, Reason::BadType)),
            (
                "address family 3",
                with_attrs(1, &[0, 0x20, 0, 8, 0, 3, 0x12, 0x34, 1, 2, 3, 4]),
                stun(25, Reason::BadValue),
            ),
            (
                "reserved byte set",
                with_attrs(1, &[0, 0x01, 0, 8, 9, 1, 0x12, 0x34, 1, 2, 3, 4]),
                stun(24, Reason::BadMagic),
            ),
            (
                "IPv6 family, IPv4 length",
                with_attrs(1, &[0, 0x16, 0, 8, 0, 2, 0x12, 0x34, 1, 2, 3, 4]),
                stun(28, Reason::BadLength),
            ),
            ("address too short", with_attrs(1, &[0, 0x12, 0, 2, 0, 1, 0, 0]), stun(24, Reason::BadLength)),
            (
                "FINGERPRINT of 8 bytes",
                with_attrs(1, &[0x80, 0x28, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]),
                stun(22, Reason::BadLength),
            ),
            (
                "first byte of RTP",
                {
                    let mut r = base.clone();
                    r[0] = 0x80;
                    r
                },
                stun(0, Reason::BadMagic),
            ),
        ];
        for (what, bytes, want) in cases {
            assert_eq!(parse_message(&bytes, true), Step::Invalid(want), "{what}");
            assert_eq!(parse_datagram(&bytes).invalid, Some(want), "{what}");
        }
        // Stream anomalies are placed in the direction's bytes: a bad first frame is shifted
        // past its RFC 4571 length; a bad packet after a good one only ends the parse.
        let mut framed = vec![0x00, 0x1C];
        framed.extend_from_slice(&with_attrs(1, &[0, 0x20, 0, 4, 0, 3, 0, 0]));
        assert_eq!(parse_stream(&framed).invalid, Some(stun(2 + 25, Reason::BadValue)));
        let mut two = unhex(BINDING_REQUEST);
        two.extend_from_slice(&framed[2..]);
        let p = parse_stream(&two);
        assert_eq!((p.packets.len(), p.invalid, p.pending), (1, None, false));
        // Text whose first byte STUN does not exclude (ChannelData's range): no cookie.
        let http = parse_stream(b"GET / HTTP/1.1\r\n");
        assert_eq!((http.invalid, http.cookie), (Some(stun(2, Reason::OverLimit)), false));
        assert_eq!(
            parse_stream(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").invalid,
            Some(stun(COOKIE_AT, Reason::BadMagic))
        );
        assert_eq!(
            parse_stream(b"\xc0\x01\xc0"),
            SideParse { invalid: Some(stun(0, Reason::BadMagic)), ..SideParse::default() }
        );
        assert_eq!(parse_stream(b"\x00\x01\x00"), SideParse { pending: true, ..SideParse::default() });
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
        // A corrupted FINGERPRINT is reported, not refused.
        let mut bad = unhex(SEND_INDICATION);
        let n = bad.len();
        bad[n - 1] ^= 1;
        let Step::Done(m) = parse_message(&bad, true) else { panic!() };
        assert!(m.fingerprint_bad && !m.fingerprint_ok);
    }

    #[test]
    fn classic_messages_keep_to_rfc3489() {
        let tid: Vec<u8> = (1..=16).collect();
        let mut resp = vec![0x01, 0x01, 0x00, 0x0C];
        resp.extend_from_slice(&tid);
        resp.extend_from_slice(&[0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x1F, 0x90, 10, 0, 0, 1]);
        let Step::Done(m) = parse_message(&resp, true) else { panic!() };
        assert_eq!((m.classic, m.name, m.transaction_id), (true, "binding_success", &tid[..]));
        assert_eq!(m.mapped, ["10.0.0.1:8080".parse().unwrap()]);
        let Step::Done(h) = Header::parse(&resp) else { panic!() };
        assert_eq!(h.cookie_transaction_id(), None);
        // A type neither RFC 3489 nor a classic dialect (MS-TURN) defines.
        resp[1] = 0x09;
        assert_eq!(parse_message(&resp, true), Step::Invalid(stun(0, Reason::BadType)));
    }

    /// A Binding request with a SOFTWARE attribute ("abc" padded to 4).
    fn binding() -> Vec<u8> {
        let mut v = vec![0x00, 0x01, 0x00, 0x08];
        v.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        v.extend((1..=12).collect::<Vec<u8>>());
        v.extend_from_slice(&[0x80, 0x22, 0x00, 0x03, b'a', b'b', b'c', 0]);
        v
    }

    #[test]
    fn header_fields() {
        let m = binding();
        let Step::Done(h) = Header::parse(&m) else { panic!() };
        assert_eq!((h.msg_type, h.length, h.classic), (0x0001, 8, false));
        assert_eq!(h.method_class(), (0x001, Class::Request));
        assert_eq!(h.transaction_id(), (1..=12).collect::<Vec<u8>>());
        assert_eq!(&h.id_field[..4], &MAGIC_COOKIE.to_be_bytes());
        assert_eq!((h.message_len(), h.body(&m)), (m.len(), Some(&m[HEADER_LEN..])));
        // Classic (RFC 3489): 128-bit transaction id where the cookie would be.
        let mut c = m.clone();
        c[4] = 0;
        let Step::Done(h) = Header::parse(&c) else { panic!() };
        assert!(h.classic);
        assert_eq!(h.transaction_id(), &c[4..20]);
        assert_eq!(split_type(0x0113), (0x003, Class::Error));
        assert_eq!(split_type(0x0017), (0x007, Class::Indication));
        assert_eq!(split_type(0x0101), (0x001, Class::Success));
    }

    #[test]
    fn truncation_sweep() {
        let m = binding();
        for len in 0..HEADER_LEN {
            assert_eq!(Header::parse(&m[..len]), Step::Incomplete, "{len}");
        }
        for len in HEADER_LEN..=m.len() {
            let Step::Done(h) = Header::parse(&m[..len]) else { panic!("{len}") };
            assert_eq!(h.body(&m[..len]).is_some(), len == m.len(), "{len}");
        }
        // A short prefix that contradicts the cookie, or the first byte's zero bits.
        let mut c = m.clone();
        c[6] ^= 1;
        for len in 0..HEADER_LEN {
            assert_eq!(
                Header::parse(&c[..len]),
                if len > 6 { Step::invalid(Layer::Stun, COOKIE_AT, Reason::BadMagic) } else { Step::Incomplete },
                "{len}"
            );
        }
        assert!(Header::parse(&[0x40]).is_invalid());
        assert!(Header::parse(&[0x80, 0x01, 0, 0]).is_invalid());
    }

    #[test]
    fn hostile_lengths_are_reported_not_trusted() {
        // A length field claiming 64 KiB over a 20-byte input: the header reads, the body is
        // not there.
        let mut m = binding();
        m.truncate(HEADER_LEN);
        m[2..4].copy_from_slice(&0xFFFCu16.to_be_bytes());
        let Step::Done(h) = Header::parse(&m) else { panic!() };
        assert_eq!((h.length, h.message_len()), (0xFFFC, HEADER_LEN + 0xFFFC));
        assert_eq!(h.body(&m), None);
        // One byte more than there is.
        let mut m = binding();
        m[3] = 9;
        let Step::Done(h) = Header::parse(&m) else { panic!() };
        assert_eq!(h.body(&m), None);
        // A body shorter than the buffer is cut at the claimed length.
        m[3] = 4;
        let Step::Done(h) = Header::parse(&m) else { panic!() };
        assert_eq!(h.body(&m), Some(&m[HEADER_LEN..HEADER_LEN + 4]));
    }
}
