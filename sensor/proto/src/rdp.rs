//! RDP wire format: the X.224 connection sequence over TCP (TPKT, Connection Request and
//! Confirm, the negotiation structures, the cookie or routing token), the TLS/CredSSP record
//! framing that follows it, the sizes of the fast-path and slow-path PDUs the timing code
//! recognises under TLS, and the MS-RDPEUDP datagram headers (SYN, SYN+ACK, data).
//!
//! # Contract
//! One module, two readers of the same bytes, sharing the constants:
//! - **Prefix parsing** (the RDP fingerprint's view of a flow's first bytes): [`probe`] looks
//!   at the initiator's first bytes; [`parse_request`] and [`parse_confirm`] read the first
//!   TPKT of each direction as an X.224 Connection Request / Confirm, at most
//!   [`MAX_CONNECTION_TPKT_LEN`] bytes; [`parse_udp_syn`] and [`parse_udp_data`] read one
//!   RDP-UDP datagram of at most [`RDPUDP_MAX_DATAGRAM`] bytes. `Incomplete` while a TCP prefix
//!   is consistent but short; a datagram is always complete, so its parsers answer `Done` or
//!   `Invalid`.
//! - **Stream following** (the timing code's view of a whole session): [`SessionStream`]
//!   follows one direction of a TCP session without buffering: its first TPKT (any X.224
//!   TPDU of at least [`MIN_TPKT_LEN`] bytes), then TLS records of at most
//!   [`MAX_FOLLOWED_RECORD_LEN`] bytes, reporting each record's type and length. It stops
//!   quietly on standard RDP security (a TPKT after the first) and with an anomaly
//!   ([`SessionStream::anomaly`]) where the bytes break the framing.
//!
//! `Invalid` carries an [`Anomaly`] of [`Layer::Rdp`] (TCP) or [`Layer::RdpUdp`] (UDP) at the
//! offset, within the bytes given, of the field that broke the format. Pure, panic-free,
//! zero-copy: results borrow the input, nothing allocates, and no length field is used before
//! it is checked against its limit and against the bytes that are there. Decides nothing about
//! tools: confidence, evidence and the cross-checks between the two directions are the
//! fingerprint's; timing is the timing code's.
//!
//! # Facts used
//! - RFC 1006 §6: TPKT = version 3, reserved 0, `u16` big-endian length of the whole TPKT.
//! - ITU-T X.224 §13.3/§13.4 (as profiled by MS-RDPBCGR 2.2.1.1/2.2.1.2): length indicator
//!   (= TPKT length − 5), code `0xE0` Connection Request / `0xD0` Connection Confirm (the low
//!   nibble is the credit), DST-REF (2), SRC-REF (2), class option (1). The shortest TPDU (a
//!   Data TPDU: LI, code, EOT) makes a 7-byte TPKT.
//! - MS-RDPBCGR 2.2.1.1: the request's variable part is an optional `Cookie: mstshash=<user>\r\n`
//!   or routing token (`Cookie: ...\r\n`), an optional RDP_NEG_REQ (type 1, flags, length 8 LE,
//!   `requestedProtocols` u32 LE; 2.2.1.1.1) and optional RDP_NEG_CORRELATION_INFO (type 6,
//!   length 36; 2.2.1.1.2). ISO-on-TCP users such as S7comm instead put X.224 parameters
//!   (`0xC0` TPDU size, `0xC1`/`0xC2` TSAPs) there: those are rejected.
//! - MS-RDPBCGR 2.2.1.2: the confirm's variable part is empty, an RDP_NEG_RSP (type 2, length 8,
//!   `selectedProtocol`; 2.2.1.2.1) or an RDP_NEG_FAILURE (type 3, length 8, `failureCode`;
//!   2.2.1.2.2).
//! - MS-RDPBCGR 1.3.1.1, 5.4.5: with TLS, CredSSP or RDSTLS security the connection continues
//!   in TLS records right after the Confirm (RFC 5246 §6.2.1: type 20–23, major version 3,
//!   `u16` length of at most 2^14 + 2048 for a protected record, §6.2.3); with standard RDP
//!   security it continues in TPKTs.
//! - MS-RDPBCGR 2.2.8.1.2: a fast-path input PDU is a header byte, a 1- or 2-byte length and
//!   its events; a keyboard event is 2 bytes (scancode) or 3 (Unicode), a mouse event 7.
//!   MS-RDPEGFX 2.2.2.13: RDPGFX_FRAME_ACKNOWLEDGE_PDU is 20 bytes, sent inside a dynamic
//!   virtual channel data PDU, a channel PDU, an MCS Send Data Request, X.224 and TPKT.
//! - MS-RDPEUDP 2.2.2.1, 2.2.2.5, 2.2.3.1, 3.1.5.1.1: an RDP-UDP SYN datagram starts with
//!   RDPUDP_FEC_HEADER (`snSourceAck` = 0xFFFFFFFF, `uReceiveWindowSize`, `uFlags` with
//!   RDPUDP_FLAG_SYN), then RDPUDP_SYNDATA_PAYLOAD (`snInitialSequenceNumber`, `uUpStreamMtu`,
//!   `uDownStreamMtu`, each MTU 1132..=1232), and is zero-padded to 1232 bytes. The server's
//!   SYN+ACK acknowledges the client's initial sequence number. All fields are big-endian.
//! - MS-RDPEUDP 2.2.2.1, 2.2.2.7, 2.2.2.4: after the SYN exchange every datagram starts with
//!   RDPUDP_FEC_HEADER with RDPUDP_FLAG_ACK (0x0004) set, SYN (0x0001) clear and no bit above
//!   RDPUDP_FLAG_SYNEX (0x1000); with ACK an RDPUDP_ACK_VECTOR_HEADER follows
//!   (`uAckVectorSize`, that many one-byte elements, zero padding to a 4-byte boundary), then,
//!   with RDPUDP_FLAG_DATA (0x0008) and without RDPUDP_FLAG_FEC (0x0010), an
//!   RDPUDP_SOURCE_PAYLOAD_HEADER (`snCoded`, `snSourceStart`) and the payload, a TLS record
//!   (reliable channel) or DTLS record (lossy channel).

use crate::step::{Anomaly, Layer, Reason, Step};
use farhand_model::tool::Transport;
use std::ops::RangeInclusive;

/// TPKT version (RFC 1006 §6).
pub const TPKT_VERSION: u8 = 3;
/// TPKT header length: version, reserved, `u16` length.
pub const TPKT_HEADER_LEN: usize = 4;
/// Shortest TPKT [`SessionStream`] follows: the header and the shortest X.224 TPDU (a Data
/// TPDU: length indicator, code, EOT).
pub const MIN_TPKT_LEN: u16 = 7;
/// TPKT header plus the fixed part of an X.224 CR/CC TPDU (LI, code, refs, class): where the
/// variable part begins.
pub const X224_FIXED_END: usize = 11;
/// Largest Connection Request/Confirm TPKT [`parse_request`] and [`parse_confirm`] accept;
/// real ones are well under 300 bytes.
pub const MAX_CONNECTION_TPKT_LEN: usize = 1024;
/// X.224 Connection Request code (high nibble).
pub const X224_CR: u8 = 0xE0;
/// X.224 Connection Confirm code (high nibble).
pub const X224_CC: u8 = 0xD0;
/// Cookie prefix of the request's first line (MS-RDPBCGR 2.2.1.1).
pub const COOKIE_PREFIX: &[u8] = b"Cookie: ";
/// `mstshash` cookie prefix.
pub const MSTSHASH_PREFIX: &[u8] = b"Cookie: mstshash=";
/// RDP_NEG_REQ / RSP / FAILURE structure length.
pub const NEG_LEN: usize = 8;
/// RDP_NEG_REQ type.
pub const TYPE_RDP_NEG_REQ: u8 = 0x01;
/// RDP_NEG_RSP type.
pub const TYPE_RDP_NEG_RSP: u8 = 0x02;
/// RDP_NEG_FAILURE type.
pub const TYPE_RDP_NEG_FAILURE: u8 = 0x03;
/// RDP_NEG_CORRELATION_INFO type.
pub const TYPE_RDP_CORRELATION_INFO: u8 = 0x06;
/// RDP_NEG_CORRELATION_INFO length.
pub const CORRELATION_INFO_LEN: usize = 36;

/// TLS record header length: type, version, `u16` length.
pub const RECORD_HEADER_LEN: usize = 5;
/// TLS content type of a handshake record: the first byte after the Confirm under TLS,
/// CredSSP or RDSTLS security.
pub const RECORD_HANDSHAKE: u8 = 22;
/// TLS content type of an application-data record.
pub const RECORD_APPLICATION_DATA: u8 = 23;
/// TLS content types [`SessionStream`] follows (change cipher spec, alert, handshake,
/// application data).
pub const RECORD_TYPES: RangeInclusive<u8> = 20..=23;
/// Largest TLS record [`SessionStream`] follows: 2^14 + 2048, the limit of a protected record
/// (RFC 5246 §6.2.3). Above [`crate::tls::MAX_RECORD_LEN`], the handshake parser's bound: a
/// follower that loses a real session costs more than one that reads a long record.
pub const MAX_FOLLOWED_RECORD_LEN: u16 = (1 << 14) + 2048;

/// Plaintext lengths of a fast-path input PDU with one keyboard event (MS-RDPBCGR 2.2.8.1.2:
/// header, a 1- or 2-byte length, a 2-byte scancode or 3-byte Unicode event).
pub const FASTPATH_KEY_PLAIN: RangeInclusive<u16> = 4..=6;
/// Plaintext lengths of a fast-path input PDU with one mouse event (header, a 1- or 2-byte
/// length, a 7-byte event).
pub const FASTPATH_POINTER_PLAIN: RangeInclusive<u16> = 9..=10;
/// Plaintext lengths of a slow-path RDPGFX_FRAME_ACKNOWLEDGE_PDU (MS-RDPEGFX 2.2.2.13: 20
/// bytes in a dynamic-channel data PDU, channel PDU, MCS Send Data Request, X.224 and TPKT).
pub const GFX_FRAME_ACK_PLAIN: RangeInclusive<u16> = 44..=46;

/// RDP-UDP `snSourceAck` of a SYN (-1).
pub const RDPUDP_SYN_SOURCE_ACK: u32 = 0xFFFF_FFFF;
/// RDPUDP_FLAG_SYN.
pub const RDPUDP_FLAG_SYN: u16 = 0x0001;
/// RDPUDP_FLAG_ACK.
pub const RDPUDP_FLAG_ACK: u16 = 0x0004;
/// RDPUDP_FLAG_DATA.
pub const RDPUDP_FLAG_DATA: u16 = 0x0008;
/// RDPUDP_FLAG_FEC.
pub const RDPUDP_FLAG_FEC: u16 = 0x0010;
/// Every flag bit MS-RDPEUDP defines (SYN .. SYNEX).
pub const RDPUDP_FLAGS_DEFINED: u16 = 0x1FFF;
/// RDPUDP_FEC_HEADER length (`snSourceAck`, `uReceiveWindowSize`, `uFlags`).
pub const RDPUDP_FEC_HEADER_LEN: usize = 8;
/// RDPUDP_FEC_HEADER + RDPUDP_SYNDATA_PAYLOAD length.
pub const RDPUDP_SYN_MIN_LEN: usize = 16;
/// RDPUDP_SOURCE_PAYLOAD_HEADER length (`snCoded`, `snSourceStart`).
pub const RDPUDP_SOURCE_HEADER_LEN: usize = 8;
/// Smallest MTU allowed in RDPUDP_SYNDATA_PAYLOAD.
pub const RDPUDP_MIN_MTU: u16 = 1132;
/// Largest MTU accepted (the spec says 1232; some stacks are seen up to 1600).
pub const RDPUDP_MAX_MTU: u16 = 1600;
/// Largest RDP-UDP datagram accepted.
pub const RDPUDP_MAX_DATAGRAM: usize = 1600;
/// Largest ack vector accepted (MS-RDPEUDP caps it at 2048 elements).
pub const RDPUDP_MAX_ACK_VECTOR: usize = 2048;

/// An RDP_NEG_REQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegRequest {
    /// Flags byte.
    pub flags: u8,
    /// `requestedProtocols` bit set.
    pub requested_protocols: u32,
}

/// A validated X.224 Connection Request carrying RDP fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRequest<'a> {
    /// The `mstshash` user name, raw.
    pub cookie_user: Option<&'a [u8]>,
    /// Whether a routing token (a non-`mstshash` cookie line) was present.
    pub routing_token: bool,
    /// The negotiation request, if present.
    pub neg: Option<NegRequest>,
    /// Whether correlation info followed the negotiation request.
    pub correlation_info: bool,
}

/// What the server put in its Connection Confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmNeg {
    /// Nothing (standard RDP security, no negotiation).
    None,
    /// RDP_NEG_RSP with `selectedProtocol`.
    Response(u32),
    /// RDP_NEG_FAILURE with `failureCode`.
    Failure(u32),
}

/// An RDP-UDP SYN or SYN+ACK datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpSyn {
    /// `snSourceAck`.
    pub source_ack: u32,
    /// `uFlags`.
    pub flags: u16,
    /// `snInitialSequenceNumber`.
    pub initial_sequence: u32,
    /// `uUpStreamMtu`.
    pub upstream_mtu: u16,
    /// `uDownStreamMtu`.
    pub downstream_mtu: u16,
}

/// A mid-session RDP-UDP datagram (no SYN): its acknowledgement and, for data, its sequence
/// numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpData {
    /// `snSourceAck`: the latest source sequence number received from the other side.
    pub source_ack: u32,
    /// `uFlags`.
    pub flags: u16,
    /// `snSourceStart` of the carried data (`None` for an acknowledgement only).
    pub source_start: Option<u32>,
}

/// Cheap first look at the initiator's bytes: a TPKT (TCP) or a datagram starting with
/// `snSourceAck` = 0xFFFFFFFF (UDP). Reads at most 4 bytes.
pub fn probe(transport: Transport, orig: &[u8]) -> bool {
    let head = orig.get(..TPKT_HEADER_LEN).unwrap_or(orig);
    match transport {
        Transport::Tcp => [TPKT_VERSION, 0].iter().zip(head).all(|(a, b)| a == b),
        Transport::Udp => head.iter().all(|&b| b == 0xFF),
        Transport::Icmp | Transport::Esp | Transport::Ah | Transport::Gre => false,
    }
}

/// Whether a datagram's `uFlags` (bytes 6..8) has RDPUDP_FLAG_ACK: the first look for a
/// session picked up mid-way. Reads one byte.
pub fn udp_has_ack(dgram: &[u8]) -> bool {
    dgram.get(7).is_some_and(|&f| u16::from(f) & RDPUDP_FLAG_ACK != 0)
}

/// Split one X.224 TPDU with the given code (`X224_CR` or `X224_CC`) out of a TPKT at the
/// start of `buf`: the variable part (after the class byte). `Invalid` as soon as a present
/// byte of the fixed header contradicts the format, or the TPKT length is outside
/// [`X224_FIXED_END`]`..=`[`MAX_CONNECTION_TPKT_LEN`].
pub fn x224_tpdu(buf: &[u8], code: u8) -> Step<&[u8]> {
    let head = buf.get(..X224_FIXED_END).unwrap_or(buf);
    // Check whatever part of the fixed header is present.
    if head.first().is_some_and(|&v| v != TPKT_VERSION) {
        return Step::invalid(Layer::Rdp, 0, Reason::BadVersion);
    }
    if head.get(1).is_some_and(|&r| r != 0) {
        return Step::invalid(Layer::Rdp, 1, Reason::BadMagic);
    }
    let Some(&[_, _, hi, lo]) = buf.first_chunk::<TPKT_HEADER_LEN>() else {
        return Step::Incomplete;
    };
    let tpkt_len = usize::from(u16::from_be_bytes([hi, lo]));
    if tpkt_len < X224_FIXED_END {
        return Step::invalid(Layer::Rdp, 2, Reason::BadLength);
    }
    if tpkt_len > MAX_CONNECTION_TPKT_LEN {
        return Step::invalid(Layer::Rdp, 2, Reason::OverLimit);
    }
    if head.get(4).is_some_and(|&li| usize::from(li) != tpkt_len.saturating_sub(TPKT_HEADER_LEN + 1)) {
        return Step::invalid(Layer::Rdp, 4, Reason::BadLength);
    }
    if head.get(5).is_some_and(|&c| c & 0xF0 != code) {
        return Step::invalid(Layer::Rdp, 5, Reason::BadType);
    }
    match buf.get(X224_FIXED_END..tpkt_len) {
        Some(var) => Step::Done(var),
        None => Step::Incomplete,
    }
}

/// Parse the client's X.224 Connection Request at the start of `buf` (bytes after the TPKT
/// are not looked at).
pub fn parse_request(buf: &[u8]) -> Step<ConnectionRequest<'_>> {
    match x224_tpdu(buf, X224_CR) {
        Step::Done(var) => {
            request_variable(var).map_err(|a| a.shifted(X224_FIXED_END)).map_or_else(Step::Invalid, Step::Done)
        }
        Step::Incomplete => Step::Incomplete,
        Step::Invalid(a) => Step::Invalid(a),
    }
}

/// The variable part of a Connection Request: cookie/token line, then RDP_NEG_REQ, then
/// correlation info. Anything else (notably X.224 parameters) is rejected; anomaly offsets
/// are within `var`.
fn request_variable(var: &[u8]) -> Result<ConnectionRequest<'_>, Anomaly> {
    let bad = |at: usize, reason: Reason| Anomaly::new(Layer::Rdp, at, reason);
    let mut req = ConnectionRequest { cookie_user: None, routing_token: false, neg: None, correlation_info: false };
    let mut rest = var;
    if rest.starts_with(COOKIE_PREFIX) {
        let Some(crlf) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Err(bad(var.len(), Reason::Truncated));
        };
        let (line, after) = rest.split_at(crlf);
        if let Some(ctl) = line.iter().position(|&b| b < 0x20) {
            return Err(bad(ctl, Reason::BadValue));
        }
        match line.strip_prefix(MSTSHASH_PREFIX) {
            Some(user) => req.cookie_user = Some(user),
            None => req.routing_token = true,
        }
        rest = after.get(2..).unwrap_or_default();
    }
    if let Some((neg, after)) = rest.split_first_chunk::<NEG_LEN>() {
        let at = var.len() - rest.len();
        let [kind, flags, l0, l1, p0, p1, p2, p3] = *neg;
        if kind != TYPE_RDP_NEG_REQ {
            return Err(bad(at, Reason::BadType));
        }
        if usize::from(u16::from_le_bytes([l0, l1])) != NEG_LEN {
            return Err(bad(at + 2, Reason::BadLength));
        }
        req.neg = Some(NegRequest { flags, requested_protocols: u32::from_le_bytes([p0, p1, p2, p3]) });
        rest = after;
        if let Some((&kind, _)) = rest.split_first() {
            correlation_info(kind, rest).map_err(|a| a.shifted(var.len() - rest.len()))?;
            req.correlation_info = true;
            rest = &[];
        }
    }
    if !rest.is_empty() {
        return Err(bad(var.len() - rest.len(), Reason::BadType));
    }
    let has_rdp_field = req.cookie_user.is_some() || req.routing_token || req.neg.is_some();
    if has_rdp_field { Ok(req) } else { Err(bad(0, Reason::BadValue)) }
}

/// Check an RDP_NEG_CORRELATION_INFO (type `kind`) that is all of `rest`.
fn correlation_info(kind: u8, rest: &[u8]) -> Result<(), Anomaly> {
    if kind != TYPE_RDP_CORRELATION_INFO {
        return Err(Anomaly::new(Layer::Rdp, 0, Reason::BadType));
    }
    let len = rest.get(2..4).and_then(|l| <[u8; 2]>::try_from(l).ok()).map(|l| usize::from(u16::from_le_bytes(l)));
    if len != Some(CORRELATION_INFO_LEN) || rest.len() != CORRELATION_INFO_LEN {
        return Err(Anomaly::new(Layer::Rdp, 2, Reason::BadLength));
    }
    Ok(())
}

/// Parse the server's X.224 Connection Confirm at the start of `buf`.
pub fn parse_confirm(buf: &[u8]) -> Step<ConfirmNeg> {
    let var = match x224_tpdu(buf, X224_CC) {
        Step::Done(v) => v,
        Step::Incomplete => return Step::Incomplete,
        Step::Invalid(a) => return Step::Invalid(a),
    };
    if var.is_empty() {
        return Step::Done(ConfirmNeg::None);
    }
    let Some(&[kind, _flags, l0, l1, v0, v1, v2, v3]) = var.first_chunk::<NEG_LEN>() else {
        return Step::invalid(Layer::Rdp, X224_FIXED_END, Reason::BadLength);
    };
    if var.len() != NEG_LEN || usize::from(u16::from_le_bytes([l0, l1])) != NEG_LEN {
        return Step::invalid(Layer::Rdp, X224_FIXED_END + 2, Reason::BadLength);
    }
    let value = u32::from_le_bytes([v0, v1, v2, v3]);
    match kind {
        TYPE_RDP_NEG_RSP => Step::Done(ConfirmNeg::Response(value)),
        TYPE_RDP_NEG_FAILURE => Step::Done(ConfirmNeg::Failure(value)),
        _ => Step::invalid(Layer::Rdp, X224_FIXED_END, Reason::BadType),
    }
}

/// Parse a whole RDP-UDP SYN (`expect_ack` = None) or SYN+ACK (`expect_ack` = the client's
/// initial sequence number) datagram: `Done` or `Invalid`, never `Incomplete`.
pub fn parse_udp_syn(dgram: &[u8], expect_ack: Option<u32>) -> Step<UdpSyn> {
    let bad = |at: usize, reason: Reason| Step::invalid(Layer::RdpUdp, at, reason);
    if dgram.len() > RDPUDP_MAX_DATAGRAM {
        return bad(RDPUDP_MAX_DATAGRAM, Reason::OverLimit);
    }
    let Some((head, _)) = dgram.split_first_chunk::<RDPUDP_SYN_MIN_LEN>() else {
        return bad(dgram.len(), Reason::Truncated);
    };
    let [a0, a1, a2, a3, _w0, _w1, f0, f1, s0, s1, s2, s3, u0, u1, d0, d1] = *head;
    let syn = UdpSyn {
        source_ack: u32::from_be_bytes([a0, a1, a2, a3]),
        flags: u16::from_be_bytes([f0, f1]),
        initial_sequence: u32::from_be_bytes([s0, s1, s2, s3]),
        upstream_mtu: u16::from_be_bytes([u0, u1]),
        downstream_mtu: u16::from_be_bytes([d0, d1]),
    };
    let mtu_ok = |m: u16| (RDPUDP_MIN_MTU..=RDPUDP_MAX_MTU).contains(&m);
    let (want_ack, want_flags) = match expect_ack {
        None => (RDPUDP_SYN_SOURCE_ACK, RDPUDP_FLAG_SYN),
        Some(ack) => (ack, RDPUDP_FLAG_SYN | RDPUDP_FLAG_ACK),
    };
    if syn.source_ack != want_ack {
        return bad(0, if expect_ack.is_some() { Reason::Inconsistent } else { Reason::BadMagic });
    }
    if syn.flags & (RDPUDP_FLAG_SYN | RDPUDP_FLAG_ACK) != want_flags {
        return bad(6, Reason::BadValue);
    }
    if !mtu_ok(syn.upstream_mtu) {
        return bad(12, Reason::BadValue);
    }
    if !mtu_ok(syn.downstream_mtu) {
        return bad(14, Reason::BadValue);
    }
    Step::Done(syn)
}

/// Parse a whole mid-session RDP-UDP datagram: FEC header with ACK and without SYN, ack
/// vector, and for non-FEC data the source payload header followed by a TLS or DTLS record.
/// `Done` or `Invalid`, never `Incomplete`.
pub fn parse_udp_data(dgram: &[u8]) -> Step<UdpData> {
    let bad = |at: usize, reason: Reason| Step::invalid(Layer::RdpUdp, at, reason);
    if dgram.len() > RDPUDP_MAX_DATAGRAM {
        return bad(RDPUDP_MAX_DATAGRAM, Reason::OverLimit);
    }
    let Some((&[a0, a1, a2, a3, _w0, _w1, f0, f1], rest)) = dgram.split_first_chunk::<RDPUDP_FEC_HEADER_LEN>() else {
        return bad(dgram.len(), Reason::Truncated);
    };
    let flags = u16::from_be_bytes([f0, f1]);
    if flags & RDPUDP_FLAG_ACK == 0 || flags & RDPUDP_FLAG_SYN != 0 || flags & !RDPUDP_FLAGS_DEFINED != 0 {
        return bad(6, Reason::BadValue);
    }
    let after = match ack_vector(rest) {
        Ok(after) => after,
        Err(a) => return Step::Invalid(a.shifted(RDPUDP_FEC_HEADER_LEN)),
    };
    let at = dgram.len() - after.len();
    let source_start = if flags & RDPUDP_FLAG_DATA != 0 && flags & RDPUDP_FLAG_FEC == 0 {
        // Other optional headers (ack of acks, correlation id, SYNEX) only precede data in
        // datagrams this pickup does not need; require the plain layout.
        let Some((&[_c0, _c1, _c2, _c3, s0, s1, s2, s3], payload)) =
            after.split_first_chunk::<RDPUDP_SOURCE_HEADER_LEN>()
        else {
            return bad(dgram.len(), Reason::Truncated);
        };
        let record = matches!(payload, [0x14..=0x17, 0x03, 0x01..=0x04, ..] | [0x14..=0x17, 0xFE, 0xFD | 0xFF, ..]);
        if !record {
            return bad(at + RDPUDP_SOURCE_HEADER_LEN, Reason::BadType);
        }
        Some(u32::from_be_bytes([s0, s1, s2, s3]))
    } else if flags & RDPUDP_FLAG_DATA == 0 {
        if !after.is_empty() {
            return bad(at, Reason::BadLength);
        }
        None
    } else {
        // FEC-coded data: a layout this pickup does not read.
        return bad(6, Reason::BadValue);
    };
    Step::Done(UdpData { source_ack: u32::from_be_bytes([a0, a1, a2, a3]), flags, source_start })
}

/// Skip an RDPUDP_ACK_VECTOR_HEADER at the front of `buf`: the bytes after it (anomaly
/// offsets within `buf`).
fn ack_vector(buf: &[u8]) -> Result<&[u8], Anomaly> {
    let Some((&[v0, v1], _)) = buf.split_first_chunk::<2>() else {
        return Err(Anomaly::new(Layer::RdpUdp, buf.len(), Reason::Truncated));
    };
    let size = usize::from(u16::from_be_bytes([v0, v1]));
    if size > RDPUDP_MAX_ACK_VECTOR {
        return Err(Anomaly::new(Layer::RdpUdp, 0, Reason::OverLimit));
    }
    // Header and elements padded to a multiple of four bytes; the padding is zero.
    let vec_len = (2 + size).next_multiple_of(4);
    let Some(pad) = buf.get(2 + size..vec_len) else {
        return Err(Anomaly::new(Layer::RdpUdp, buf.len(), Reason::Truncated));
    };
    if let Some(p) = pad.iter().position(|&b| b != 0) {
        return Err(Anomaly::new(Layer::RdpUdp, 2 + size + p, Reason::BadValue));
    }
    Ok(buf.get(vec_len..).unwrap_or_default())
}

/// A complete TLS record [`SessionStream`] saw: its content type and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsRecord {
    /// Content type (20–23).
    pub kind: u8,
    /// Record length (ciphertext, header not counted).
    pub len: u16,
}

/// Where a [`SessionStream`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamPhase {
    /// Reading the first TPKT (the Connection Request or Confirm).
    Tpkt,
    /// The TPKT is over; the next byte says TLS or not.
    AfterTpkt,
    /// Between TLS records (a header next).
    RecordHeader,
    /// Inside a TLS record's body.
    RecordBody,
    /// Stopped: standard RDP security, broken framing, or told to ([`SessionStream::stop`]).
    Done,
}

/// Follows one direction of an RDP session over TCP incrementally, in stream order, without
/// buffering: the first TPKT (skipped), then TLS records (bodies skipped), reporting each
/// complete record. A TPKT after the first (standard RDP security) stops it quietly; a
/// framing error stops it with an [`Anomaly`] at its offset in the direction's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStream {
    state: Framing,
    /// Bytes consumed so far (saturating), the offset of an anomaly.
    at: u32,
    /// Why following stopped, when the bytes broke the framing.
    broken: Option<Anomaly>,
}

/// A [`SessionStream`]'s state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// The X.224 TPKT: header bytes gathered.
    Tpkt { head: [u8; TPKT_HEADER_LEN], have: u8 },
    /// The rest of that TPKT.
    SkipTpkt { left: u16 },
    /// The first byte after it decides: TLS (22) or not.
    First,
    /// A TLS record header: bytes gathered.
    Header { head: [u8; RECORD_HEADER_LEN], have: u8 },
    /// A TLS record body: bytes left, its type and length.
    Body { left: u16, kind: u8, len: u16 },
    /// Parse stopped.
    Done,
}

impl Default for SessionStream {
    fn default() -> Self {
        SessionStream::new()
    }
}

impl SessionStream {
    /// A follower at the start of a direction.
    pub fn new() -> SessionStream {
        SessionStream { state: Framing::Tpkt { head: [0; TPKT_HEADER_LEN], have: 0 }, at: 0, broken: None }
    }

    /// Where it stands.
    pub fn phase(&self) -> StreamPhase {
        match self.state {
            Framing::Tpkt { .. } | Framing::SkipTpkt { .. } => StreamPhase::Tpkt,
            Framing::First => StreamPhase::AfterTpkt,
            Framing::Header { .. } => StreamPhase::RecordHeader,
            Framing::Body { .. } => StreamPhase::RecordBody,
            Framing::Done => StreamPhase::Done,
        }
    }

    /// Whether the next bytes belong to the TLS part (after the first TPKT, not stopped).
    pub fn in_tls(&self) -> bool {
        matches!(self.state, Framing::First | Framing::Header { .. } | Framing::Body { .. })
    }

    /// Whether it stopped.
    pub fn is_done(&self) -> bool {
        self.state == Framing::Done
    }

    /// Why following stopped early, if the bytes broke the framing: the anomaly, its offset in
    /// the direction's stream.
    pub fn anomaly(&self) -> Option<Anomaly> {
        self.broken
    }

    /// Stop following (the stream lost bytes, so its framing is lost too): no anomaly.
    pub fn stop(&mut self) {
        self.state = Framing::Done;
    }

    /// One step on `b`: how many bytes of its front were consumed (all of them once stopped;
    /// 0 only when the first byte after the TPKT was looked at and a record header begins)
    /// and the TLS record those bytes completed, if any.
    pub fn step(&mut self, b: &[u8]) -> (usize, Option<TlsRecord>) {
        let Some(&c) = b.first() else { return (0, None) };
        let (next, used, record) = match self.state {
            Framing::Done => (Framing::Done, b.len(), None),
            Framing::Tpkt { head, have } => self.tpkt_byte(head, have, c, b.len()),
            Framing::SkipTpkt { left } => {
                let n = b.len().min(usize::from(left));
                let left = left - n as u16;
                (if left == 0 { Framing::First } else { Framing::SkipTpkt { left } }, n, None)
            }
            Framing::First if c == RECORD_HANDSHAKE => {
                (Framing::Header { head: [0; RECORD_HEADER_LEN], have: 0 }, 0, None)
            }
            Framing::First => {
                if c != TPKT_VERSION {
                    self.break_back(0, Reason::BadType);
                }
                (Framing::Done, b.len(), None)
            }
            Framing::Header { head, have } => self.header_byte(head, have, c, b.len()),
            Framing::Body { left, kind, len } => {
                let n = b.len().min(usize::from(left));
                let left = left - n as u16;
                if left == 0 {
                    (Framing::Header { head: [0; RECORD_HEADER_LEN], have: 0 }, n, Some(TlsRecord { kind, len }))
                } else {
                    (Framing::Body { left, kind, len }, n, None)
                }
            }
        };
        if next != Framing::Done {
            self.at = self.at.saturating_add(u32::try_from(used).unwrap_or(u32::MAX));
        }
        self.state = next;
        (used, record)
    }

    /// Byte `c` of the first TPKT's header, of which `have` bytes were gathered; `avail` bytes
    /// are there from `c` on.
    fn tpkt_byte(
        &mut self,
        mut head: [u8; TPKT_HEADER_LEN],
        have: u8,
        c: u8,
        avail: usize,
    ) -> (Framing, usize, Option<TlsRecord>) {
        if let Some(h) = head.get_mut(usize::from(have)) {
            *h = c;
        }
        if usize::from(have) + 1 < TPKT_HEADER_LEN {
            return (Framing::Tpkt { head, have: have + 1 }, 1, None);
        }
        let [v, _, hi, lo] = head;
        let len = u16::from_be_bytes([hi, lo]);
        // `self.at` is the offset of the header's last byte.
        if v != TPKT_VERSION {
            self.break_back(3, Reason::BadVersion);
            return (Framing::Done, avail, None);
        }
        if len < MIN_TPKT_LEN {
            self.break_back(1, Reason::BadLength);
            return (Framing::Done, avail, None);
        }
        (Framing::SkipTpkt { left: len - TPKT_HEADER_LEN as u16 }, 1, None)
    }

    /// Byte `c` of a TLS record header, of which `have` bytes were gathered.
    fn header_byte(
        &mut self,
        mut head: [u8; RECORD_HEADER_LEN],
        have: u8,
        c: u8,
        avail: usize,
    ) -> (Framing, usize, Option<TlsRecord>) {
        if let Some(h) = head.get_mut(usize::from(have)) {
            *h = c;
        }
        if usize::from(have) + 1 < RECORD_HEADER_LEN {
            return (Framing::Header { head, have: have + 1 }, 1, None);
        }
        let [kind, major, _, hi, lo] = head;
        let len = u16::from_be_bytes([hi, lo]);
        // `self.at` is the offset of the header's last byte.
        let broken = if !RECORD_TYPES.contains(&kind) {
            Some((4, Reason::BadType))
        } else if major != 3 {
            Some((3, Reason::BadVersion))
        } else if len > MAX_FOLLOWED_RECORD_LEN {
            Some((1, Reason::OverLimit))
        } else {
            None
        };
        if let Some((back, reason)) = broken {
            self.break_back(back, reason);
            return (Framing::Done, avail, None);
        }
        if len == 0 {
            return (Framing::Header { head: [0; RECORD_HEADER_LEN], have: 0 }, 1, Some(TlsRecord { kind, len }));
        }
        (Framing::Body { left: len, kind, len }, 1, None)
    }

    /// Record an anomaly at the field `back` bytes before the current byte.
    fn break_back(&mut self, back: usize, reason: Reason) {
        self.broken = Some(Anomaly::new(Layer::Rdp, (self.at as usize).saturating_sub(back), reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::rdp::{RDP_TLS_CC, RDP_TLS_CR, udp_data, udp_syn};
    use crate::testutil::unhex;

    // Recorded on loopback: FreeRDP 2 `xfreerdp` (Debian 12 package freerdp2-x11) against
    // xrdp 0.9.21.1 (Debian 12 package xrdp), as in the fingerprint's tests: the Connection
    // Request (cookie + RDP_NEG_REQ for TLS|HYBRID) and the Confirm (TLS selected).

    /// A TPKT + X.224 CR/CC around `var`.
    fn tpdu(code: u8, var: &[u8]) -> Vec<u8> {
        let len = 11 + var.len();
        let mut v = vec![3, 0, (len >> 8) as u8, len as u8, (len - 5) as u8, code, 0, 0, 0, 0, 0];
        v.extend_from_slice(var);
        v
    }

    /// Everything a follower reports for `chunks`, fed in order.
    fn follow(chunks: &[&[u8]]) -> (Vec<TlsRecord>, SessionStream) {
        let mut s = SessionStream::new();
        let mut out = Vec::new();
        for chunk in chunks {
            let mut b = *chunk;
            while !b.is_empty() {
                let (used, rec) = s.step(b);
                out.extend(rec);
                b = &b[used..];
            }
        }
        (out, s)
    }

    #[test]
    fn freerdp_xrdp_known_answer() {
        let cr = unhex(RDP_TLS_CR);
        let req = parse_request(&cr).done().unwrap();
        assert_eq!(req.cookie_user, Some(b"test".as_slice()));
        assert_eq!(req.neg, Some(NegRequest { flags: 0, requested_protocols: 3 }));
        assert!(!req.routing_token && !req.correlation_info);
        assert_eq!(parse_confirm(&unhex(RDP_TLS_CC)), Step::Done(ConfirmNeg::Response(1)));
        assert_eq!(parse_confirm(&tpdu(0xD0, &[])), Step::Done(ConfirmNeg::None));
        assert_eq!(parse_confirm(&tpdu(0xD0, &[3, 0, 8, 0, 5, 0, 0, 0])), Step::Done(ConfirmNeg::Failure(5)));
        let syn = parse_udp_syn(&udp_syn(), None).done().unwrap();
        assert_eq!((syn.initial_sequence, syn.upstream_mtu, syn.downstream_mtu), (0x0b12_7f15, 1232, 1232));
        let d = parse_udp_data(&udp_data(0x9000, 0x1000)).done().unwrap();
        assert_eq!((d.source_ack, d.source_start), (0x9000, Some(0x1000)));
    }

    #[test]
    fn truncation_sweep() {
        for (hex, confirm) in [(RDP_TLS_CR, false), (RDP_TLS_CC, true)] {
            let b = unhex(hex);
            for i in 0..b.len() {
                let step =
                    if confirm { parse_confirm(&b[..i]).map(|_| ()) } else { parse_request(&b[..i]).map(|_| ()) };
                assert_eq!(step, Step::Incomplete, "{hex} {i}");
            }
        }
        // A datagram is complete: a cut one is truncated, never waited for.
        let syn = udp_syn();
        for i in 0..RDPUDP_SYN_MIN_LEN {
            assert_eq!(parse_udp_syn(&syn[..i], None), Step::invalid(Layer::RdpUdp, i, Reason::Truncated), "{i}");
        }
        // A data datagram cut before the first three bytes of its record.
        let d = udp_data(1, 2);
        for i in 0..d.len() {
            assert_eq!(parse_udp_data(&d[..i]).is_invalid(), i < 23, "{i}");
        }
        // The follower, cut anywhere and fed in two pieces, reports the same records.
        let mut full = unhex(RDP_TLS_CR);
        full.extend([22, 3, 1, 0, 4, 1, 0, 0, 0, 23, 3, 3, 0, 0, 23, 3, 3, 0, 2, 9, 9]);
        let (whole, s) = follow(&[&full]);
        assert_eq!(whole.len(), 3);
        assert_eq!(s.anomaly(), None);
        for cut in 0..=full.len() {
            assert_eq!(follow(&[&full[..cut], &full[cut..]]).0, whole, "{cut}");
        }
    }

    #[test]
    fn hostile_lengths() {
        let mut cr = unhex(RDP_TLS_CR);
        cr[2] = 0xFF;
        cr[3] = 0xFF;
        assert_eq!(parse_request(&cr), Step::invalid(Layer::Rdp, 2, Reason::OverLimit));
        assert_eq!(parse_request(&[3, 0, 0, 7, 2, 0xE0, 0]), Step::invalid(Layer::Rdp, 2, Reason::BadLength));
        let mut cr = unhex(RDP_TLS_CR);
        cr[4] = 0x7F;
        assert_eq!(parse_request(&cr), Step::invalid(Layer::Rdp, 4, Reason::BadLength));
        // RDP_NEG_REQ with a bogus length field.
        let mut cr = unhex(RDP_TLS_CR);
        let n = cr.len();
        cr[n - 6] = 0xFF;
        cr[n - 5] = 0xFF;
        assert_eq!(parse_request(&cr), Step::invalid(Layer::Rdp, n - 6, Reason::BadLength));
        // Correlation info claiming more than there is.
        let var = [[1, 0, 8, 0, 3, 0, 0, 0].as_slice(), &[6, 0, 0xFF, 0xFF], &[0; 32]].concat();
        assert_eq!(parse_request(&tpdu(0xE0, &var)), Step::invalid(Layer::Rdp, 11 + 8 + 2, Reason::BadLength));
        // An ack vector of 65535 elements, and one longer than the datagram.
        let mut d = udp_data(1, 2);
        d[8] = 0xFF;
        d[9] = 0xFF;
        assert_eq!(parse_udp_data(&d), Step::invalid(Layer::RdpUdp, 8, Reason::OverLimit));
        let mut d = udp_data(1, 2);
        d[8] = 0x08;
        d[9] = 0x00;
        assert_eq!(parse_udp_data(&d), Step::invalid(Layer::RdpUdp, d.len(), Reason::Truncated));
        let mut big = udp_syn();
        big.resize(RDPUDP_MAX_DATAGRAM + 1, 0);
        assert_eq!(parse_udp_syn(&big, None), Step::invalid(Layer::RdpUdp, RDPUDP_MAX_DATAGRAM, Reason::OverLimit));
        // Records of the followed limit are followed; one byte more stops the follower.
        let head = unhex(RDP_TLS_CC);
        let ok = [head.as_slice(), &[22, 3, 3], &MAX_FOLLOWED_RECORD_LEN.to_be_bytes()].concat();
        assert_eq!(follow(&[&ok]).1.phase(), StreamPhase::RecordBody);
        let over = [head.as_slice(), &[22, 3, 3], &(MAX_FOLLOWED_RECORD_LEN + 1).to_be_bytes()].concat();
        let (_, s) = follow(&[&over]);
        assert_eq!(
            (s.phase(), s.anomaly()),
            (StreamPhase::Done, Some(Anomaly::new(Layer::Rdp, head.len() + 3, Reason::OverLimit)))
        );
    }

    #[test]
    fn exact_anomalies() {
        assert_eq!(parse_request(&[4]), Step::invalid(Layer::Rdp, 0, Reason::BadVersion));
        assert_eq!(parse_request(&[3, 1]), Step::invalid(Layer::Rdp, 1, Reason::BadMagic));
        assert_eq!(parse_confirm(&unhex(RDP_TLS_CR)), Step::invalid(Layer::Rdp, 5, Reason::BadType));
        // ISO-on-TCP parameters where RDP puts its fields; a bare CR; a cookie without CR LF.
        let s7 = tpdu(0xE0, &[0xC1, 2, 1, 0, 0xC2, 2, 1, 2, 0xC0, 1, 0x0A]);
        assert_eq!(parse_request(&s7), Step::invalid(Layer::Rdp, 11, Reason::BadType));
        assert_eq!(parse_request(&tpdu(0xE0, &[])), Step::invalid(Layer::Rdp, 11, Reason::BadValue));
        let cookie = tpdu(0xE0, b"Cookie: mstshash=abc");
        assert_eq!(parse_request(&cookie), Step::invalid(Layer::Rdp, cookie.len(), Reason::Truncated));
        assert_eq!(parse_request(&tpdu(0xE0, b"Cookie: a\x01\r\n")), Step::invalid(Layer::Rdp, 20, Reason::BadValue));
        assert_eq!(
            parse_confirm(&tpdu(0xD0, &[9, 0, 8, 0, 0, 0, 0, 0])),
            Step::invalid(Layer::Rdp, 11, Reason::BadType)
        );
        assert_eq!(parse_confirm(&tpdu(0xD0, &[2, 0, 8])), Step::invalid(Layer::Rdp, 11, Reason::BadLength));
        // RDP-UDP: a SYN+ACK for another sequence number, a bad MTU, a SYN mid-session,
        // no record behind the data header, non-zero padding.
        let mut ack = udp_syn();
        ack[..4].copy_from_slice(&7u32.to_be_bytes());
        ack[7] = 0x05;
        assert_eq!(parse_udp_syn(&ack, Some(7)).done().map(|s| s.source_ack), Some(7));
        assert_eq!(parse_udp_syn(&ack, Some(8)), Step::invalid(Layer::RdpUdp, 0, Reason::Inconsistent));
        let mut mtu = udp_syn();
        mtu[14] = 0xFF;
        assert_eq!(parse_udp_syn(&mtu, None), Step::invalid(Layer::RdpUdp, 14, Reason::BadValue));
        let c = udp_data(0x9000, 0x1000);
        for (at, v, want) in [
            (7usize, 0x0du8, (6, Reason::BadValue)),
            (20, 0x42, (20, Reason::BadType)),
            (11, 0x01, (11, Reason::BadValue)),
        ] {
            let mut bad = c.clone();
            bad[at] = v;
            assert_eq!(parse_udp_data(&bad), Step::invalid(Layer::RdpUdp, want.0, want.1), "{at}");
        }
        // An acknowledgement-only datagram with bytes after its ack vector.
        assert_eq!(
            parse_udp_data(&[0, 0, 0, 1, 0, 0x40, 0, 4, 0, 0, 0, 0, 9]),
            Step::invalid(Layer::RdpUdp, 12, Reason::BadLength)
        );
        // The follower: a bad TPKT version, a short TPKT, a bad record type after the Confirm.
        assert_eq!(follow(&[&[0xff; 8]]).1.anomaly(), Some(Anomaly::new(Layer::Rdp, 0, Reason::BadVersion)));
        assert_eq!(follow(&[&[3, 0, 0, 6, 1, 2]]).1.anomaly(), Some(Anomaly::new(Layer::Rdp, 2, Reason::BadLength)));
        let cc = unhex(RDP_TLS_CC);
        let n = cc.len();
        let cases: [(&[u8], usize, Reason); 4] = [
            (&[22, 3, 3, 0, 0, 99, 3, 3, 0, 1], n + 5, Reason::BadType),
            (&[22, 2, 3, 0, 1], n + 1, Reason::BadVersion),
            (&[0x80, 1], n, Reason::BadType),
            (&[22, 3, 3, 0, 1, 0, 24, 3, 3, 0, 0], n + 6, Reason::BadType),
        ];
        for (tail, at, reason) in cases {
            let (_, s) = follow(&[&cc, tail]);
            assert_eq!(s.anomaly(), Some(Anomaly::new(Layer::Rdp, at, reason)), "{tail:?}");
        }
        // Standard RDP security (a TPKT after the Confirm) and a stop are no anomaly.
        let (_, s) = follow(&[&cc, &unhex("0300000c02f0800401000100")]);
        assert_eq!((s.phase(), s.anomaly()), (StreamPhase::Done, None));
        let mut s = SessionStream::default();
        s.stop();
        assert_eq!((s.is_done(), s.anomaly(), s.step(b"xyz")), (true, None, (3, None)));
    }

    #[test]
    fn follower_phases() {
        // The shortest TPKT (7 bytes) is followed; the first byte after it is only looked at.
        let (_, mut s) = follow(&[&[3, 0, 0, 7, 2, 0xf0, 0x80]]);
        assert_eq!(s.phase(), StreamPhase::AfterTpkt);
        assert!(s.in_tls());
        assert_eq!(s.step(&[22]), (0, None));
        assert_eq!(s.phase(), StreamPhase::RecordHeader);
        assert_eq!(s.step(&[22, 3, 3, 0, 0]), (1, None));
        assert_eq!(follow(&[&[3, 0, 0, 7, 2, 0xf0, 0x80, 22, 3, 3, 0, 0]]).0, vec![TlsRecord { kind: 22, len: 0 }]);
        let mut fresh = SessionStream::new();
        assert!(!fresh.in_tls() && !fresh.is_done());
        assert_eq!(fresh.step(&[]), (0, None));
        assert!(probe(Transport::Tcp, &[3, 0]) && !probe(Transport::Tcp, &[3, 1]) && !probe(Transport::Icmp, &[]));
        assert!(
            probe(Transport::Udp, &[0xFF, 0xFF]) && udp_has_ack(&[0, 0, 0, 0, 0, 0, 0, 4]) && !udp_has_ack(&[0; 7])
        );
    }
}
