//! RDP fingerprint: the X.224 connection sequence over TCP, and the RDP-UDP SYN exchange.
//!
//! # Contract
//! Works on any port. Over TCP it validates the client's first TPKT as an X.224 Connection
//! Request carrying RDP's cookie, routing token or negotiation request, and the server's first
//! TPKT as an X.224 Connection Confirm (optionally with a negotiation response or failure).
//! It answers `Match` when both are valid, or at `finished` on a valid request alone (lower
//! confidence); `NoMatch` as soon as a direction contradicts this. Over UDP it validates the
//! first datagram as an RDP-UDP SYN and the first reply as the matching SYN+ACK.
//!
//! # Facts used
//! - RFC 1006 §6: TPKT = version 3, reserved 0, `u16` big-endian length of the whole TPKT.
//! - ITU-T X.224 §13.3/§13.4 (as profiled by MS-RDPBCGR 2.2.1.1/2.2.1.2): length indicator
//!   (= TPKT length − 5), code `0xE0` Connection Request / `0xD0` Connection Confirm (the low
//!   nibble is the credit), DST-REF (2), SRC-REF (2), class option (1).
//! - MS-RDPBCGR 2.2.1.1: the request's variable part is an optional `Cookie: mstshash=<user>\r\n`
//!   or routing token (`Cookie: ...\r\n`), an optional RDP_NEG_REQ (type 1, flags, length 8 LE,
//!   `requestedProtocols` u32 LE; 2.2.1.1.1) and optional RDP_NEG_CORRELATION_INFO (type 6,
//!   length 36; 2.2.1.1.2). ISO-on-TCP users such as S7comm instead put X.224 parameters
//!   (`0xC0` TPDU size, `0xC1`/`0xC2` TSAPs) there: those are rejected.
//! - MS-RDPBCGR 2.2.1.2: the confirm's variable part is empty, an RDP_NEG_RSP (type 2, length 8,
//!   `selectedProtocol`; 2.2.1.2.1) or an RDP_NEG_FAILURE (type 3, length 8, `failureCode`;
//!   2.2.1.2.2).
//! - MS-RDPEUDP 2.2.2.1, 2.2.2.5, 2.2.3.1, 3.1.5.1.1: an RDP-UDP SYN datagram starts with
//!   RDPUDP_FEC_HEADER (`snSourceAck` = 0xFFFFFFFF, `uReceiveWindowSize`, `uFlags` with
//!   RDPUDP_FLAG_SYN), then RDPUDP_SYNDATA_PAYLOAD (`snInitialSequenceNumber`, `uUpStreamMtu`,
//!   `uDownStreamMtu`, each MTU 1132..=1232), and is zero-padded to 1232 bytes. The server's
//!   SYN+ACK acknowledges the client's initial sequence number. All fields are big-endian.
//! - MS-RDPEUDP 2.2.2.1, 2.2.2.7, 2.2.2.4, 3.1.5.1.x (a session picked up mid-way): after the
//!   SYN exchange every datagram starts with RDPUDP_FEC_HEADER with RDPUDP_FLAG_ACK (0x0004)
//!   set, SYN (0x0001) clear and no bit above RDPUDP_FLAG_SYNEX (0x1000); with ACK an
//!   RDPUDP_ACK_VECTOR_HEADER follows (`uAckVectorSize`, that many one-byte elements, zero
//!   padding to a 4-byte boundary), then, with RDPUDP_FLAG_DATA (0x0008) and without
//!   RDPUDP_FLAG_FEC (0x0010), an RDPUDP_SOURCE_PAYLOAD_HEADER (`snCoded`, `snSourceStart`)
//!   and the payload, a TLS record (reliable channel) or DTLS record (lossy channel).
//!   Each side's `snSourceAck` acknowledges the other side's latest source sequence number, so
//!   the first datagram of one direction names (within a window) the sequence numbers of the
//!   other: in the nDPI capture `rdp2.pcap` the server acknowledges exactly the client's
//!   `snSourceStart` and sends the client's `snSourceAck` + 1. A mid-session match needs this
//!   cross-check and a TLS/DTLS record behind a data header.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::RdpEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::step::{Layer, Reason};

/// TPKT version (RFC 1006).
const TPKT_VERSION: u8 = 3;
/// TPKT header length.
const TPKT_HEADER_LEN: usize = 4;
/// TPKT header plus the fixed part of an X.224 CR/CC TPDU (LI, code, refs, class).
const X224_FIXED_END: usize = 11;
/// Largest Connection Request/Confirm TPKT accepted; real ones are well under 300 bytes.
pub const MAX_CONNECTION_TPKT_LEN: usize = 1024;
/// X.224 Connection Request code (high nibble).
const X224_CR: u8 = 0xE0;
/// X.224 Connection Confirm code (high nibble).
const X224_CC: u8 = 0xD0;
/// Cookie prefix of the request's first line (MS-RDPBCGR 2.2.1.1).
const COOKIE_PREFIX: &[u8] = b"Cookie: ";
/// `mstshash` cookie prefix.
const MSTSHASH_PREFIX: &[u8] = b"Cookie: mstshash=";
/// Longest user name kept from a `mstshash` cookie, in bytes.
pub const MAX_COOKIE_USER_LEN: usize = 64;
/// RDP_NEG_REQ / RSP / FAILURE structure length.
const NEG_LEN: usize = 8;
/// RDP_NEG_REQ type.
const TYPE_RDP_NEG_REQ: u8 = 0x01;
/// RDP_NEG_RSP type.
const TYPE_RDP_NEG_RSP: u8 = 0x02;
/// RDP_NEG_FAILURE type.
const TYPE_RDP_NEG_FAILURE: u8 = 0x03;
/// RDP_NEG_CORRELATION_INFO type and length.
const TYPE_RDP_CORRELATION_INFO: u8 = 0x06;
const CORRELATION_INFO_LEN: usize = 36;

/// Bytes per direction this fingerprint reads (TCP: one TPKT; UDP: one datagram).
pub const BYTES_WANTED: usize = 1600;

/// RDP-UDP `snSourceAck` of a SYN (-1).
const RDPUDP_SYN_SOURCE_ACK: u32 = 0xFFFF_FFFF;
/// RDPUDP_FLAG_SYN.
const RDPUDP_FLAG_SYN: u16 = 0x0001;
/// RDPUDP_FLAG_ACK.
const RDPUDP_FLAG_ACK: u16 = 0x0004;
/// RDPUDP_FEC_HEADER + RDPUDP_SYNDATA_PAYLOAD length.
const RDPUDP_SYN_MIN_LEN: usize = 16;
/// Smallest MTU allowed in RDPUDP_SYNDATA_PAYLOAD.
pub const RDPUDP_MIN_MTU: u16 = 1132;
/// Largest MTU accepted (the spec says 1232; some stacks are seen up to 1600).
pub const RDPUDP_MAX_MTU: u16 = 1600;
/// Largest RDP-UDP SYN datagram accepted.
pub const RDPUDP_MAX_DATAGRAM: usize = 1600;

/// Confidence: Connection Request and Confirm with negotiation (or RDP-UDP SYN + SYN+ACK).
pub const CONFIDENCE_NEGOTIATED: u8 = 95;
/// Confidence: Connection Request and Confirm without negotiation (cookie-only, old RDP).
pub const CONFIDENCE_CONFIRMED: u8 = 90;
/// Confidence: a request with a negotiation request, no confirm seen.
pub const CONFIDENCE_REQUEST_NEG: u8 = 75;
/// Confidence: a request with a cookie or routing token only, no confirm seen.
pub const CONFIDENCE_REQUEST_COOKIE: u8 = 70;
/// Confidence: mid-session RDP-UDP data whose acknowledgements name the other direction's
/// sequence numbers.
pub const CONFIDENCE_UDP_DATA: u8 = 85;
/// RDPUDP_FLAG_DATA.
const RDPUDP_FLAG_DATA: u16 = 0x0008;
/// RDPUDP_FLAG_FEC.
const RDPUDP_FLAG_FEC: u16 = 0x0010;
/// Every flag bit MS-RDPEUDP defines (SYN .. SYNEX).
const RDPUDP_FLAGS_DEFINED: u16 = 0x1FFF;
/// Largest ack vector accepted (MS-RDPEUDP caps it at 2048 elements).
const RDPUDP_MAX_ACK_VECTOR: usize = 2048;
/// How far one side's acknowledgement may lag or lead the other side's sequence numbers for
/// the two first datagrams to be taken as one session.
pub const RDPUDP_SEQ_WINDOW: u32 = 256;
/// Confidence: an RDP-UDP SYN alone.
pub const CONFIDENCE_UDP_SYN: u8 = 70;

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

/// Cheap first look at the initiator's bytes: a TPKT (TCP) or a datagram starting with
/// `snSourceAck` = 0xFFFFFFFF (UDP). Reads at most 4 bytes.
pub fn probe(transport: Transport, orig: &[u8]) -> bool {
    let head = orig.get(..4).unwrap_or(orig);
    match transport {
        Transport::Tcp => [TPKT_VERSION, 0].iter().zip(head).all(|(a, b)| a == b),
        Transport::Udp => head.iter().all(|&b| b == 0xFF),
        Transport::Icmp => false,
    }
}

/// Split one X.224 TPDU with the given code out of a TPKT at the start of `buf`: returns the
/// variable part (after the class byte).
fn x224_tpdu(buf: &[u8], code: u8) -> Step<&[u8]> {
    let head = buf.get(..X224_FIXED_END).unwrap_or(buf);
    // Check whatever part of the fixed header is present.
    if head.first().is_some_and(|&v| v != TPKT_VERSION) || head.get(1).is_some_and(|&r| r != 0) {
        return Step::invalid(Layer::Rdp, 0, Reason::BadValue);
    }
    let Some(&[_, _, hi, lo]) = buf.first_chunk::<TPKT_HEADER_LEN>() else {
        return Step::Incomplete;
    };
    let tpkt_len = usize::from(u16::from_be_bytes([hi, lo]));
    if !(X224_FIXED_END..=MAX_CONNECTION_TPKT_LEN).contains(&tpkt_len) {
        return Step::invalid(Layer::Rdp, 0, Reason::BadValue);
    }
    if head.get(4).is_some_and(|&li| usize::from(li) != tpkt_len.saturating_sub(TPKT_HEADER_LEN + 1)) {
        return Step::invalid(Layer::Rdp, 0, Reason::BadValue);
    }
    if head.get(5).is_some_and(|&c| c & 0xF0 != code) {
        return Step::invalid(Layer::Rdp, 0, Reason::BadValue);
    }
    match buf.get(X224_FIXED_END..tpkt_len) {
        Some(var) => Step::Done(var),
        None => Step::Incomplete,
    }
}

/// Parse the client's X.224 Connection Request.
pub fn parse_request(buf: &[u8]) -> Step<ConnectionRequest<'_>> {
    let var = match x224_tpdu(buf, X224_CR) {
        Step::Done(v) => v,
        Step::Incomplete => return Step::Incomplete,
        Step::Invalid(_) => return Step::invalid(Layer::Rdp, 0, Reason::BadValue),
    };
    match parse_request_variable(var) {
        Some(req) => Step::Done(req),
        None => Step::invalid(Layer::Rdp, 0, Reason::BadValue),
    }
}

/// The variable part of a Connection Request: cookie/token line, then RDP_NEG_REQ, then
/// correlation info. Anything else (notably X.224 parameters) is rejected.
fn parse_request_variable(var: &[u8]) -> Option<ConnectionRequest<'_>> {
    let mut req = ConnectionRequest { cookie_user: None, routing_token: false, neg: None, correlation_info: false };
    let mut rest = var;
    if rest.starts_with(COOKIE_PREFIX) {
        let crlf = rest.windows(2).position(|w| w == b"\r\n")?;
        let (line, after) = rest.split_at_checked(crlf)?;
        if line.iter().any(|&b| b < 0x20) {
            return None;
        }
        match line.strip_prefix(MSTSHASH_PREFIX) {
            Some(user) => req.cookie_user = Some(user),
            None => req.routing_token = true,
        }
        rest = after.get(2..).unwrap_or_default();
    }
    if let Some((neg, after)) = rest.split_first_chunk::<NEG_LEN>() {
        let [kind, flags, l0, l1, p0, p1, p2, p3] = *neg;
        if kind != TYPE_RDP_NEG_REQ || usize::from(u16::from_le_bytes([l0, l1])) != NEG_LEN {
            return None;
        }
        req.neg = Some(NegRequest { flags, requested_protocols: u32::from_le_bytes([p0, p1, p2, p3]) });
        rest = after;
        if let Some((&kind, _)) = rest.split_first() {
            let len =
                rest.get(2..4).and_then(|l| <[u8; 2]>::try_from(l).ok()).map(|l| usize::from(u16::from_le_bytes(l)));
            if kind != TYPE_RDP_CORRELATION_INFO
                || len != Some(CORRELATION_INFO_LEN)
                || rest.len() != CORRELATION_INFO_LEN
            {
                return None;
            }
            req.correlation_info = true;
            rest = &[];
        }
    }
    let has_rdp_field = req.cookie_user.is_some() || req.routing_token || req.neg.is_some();
    (rest.is_empty() && has_rdp_field).then_some(req)
}

/// Parse the server's X.224 Connection Confirm.
pub fn parse_confirm(buf: &[u8]) -> Step<ConfirmNeg> {
    let var = match x224_tpdu(buf, X224_CC) {
        Step::Done(v) => v,
        Step::Incomplete => return Step::Incomplete,
        Step::Invalid(_) => return Step::invalid(Layer::Rdp, 0, Reason::BadValue),
    };
    if var.is_empty() {
        return Step::Done(ConfirmNeg::None);
    }
    let Some(&[kind, _flags, l0, l1, v0, v1, v2, v3]) = var.first_chunk::<NEG_LEN>() else {
        return Step::invalid(Layer::Rdp, 0, Reason::BadValue);
    };
    if var.len() != NEG_LEN || usize::from(u16::from_le_bytes([l0, l1])) != NEG_LEN {
        return Step::invalid(Layer::Rdp, 0, Reason::BadValue);
    }
    let value = u32::from_le_bytes([v0, v1, v2, v3]);
    match kind {
        TYPE_RDP_NEG_RSP => Step::Done(ConfirmNeg::Response(value)),
        TYPE_RDP_NEG_FAILURE => Step::Done(ConfirmNeg::Failure(value)),
        _ => Step::invalid(Layer::Rdp, 0, Reason::BadValue),
    }
}

/// Parse an RDP-UDP SYN (`expect_ack` = None) or SYN+ACK (`expect_ack` = the client's
/// initial sequence number) datagram.
pub fn parse_udp_syn(dgram: &[u8], expect_ack: Option<u32>) -> Option<UdpSyn> {
    if !(RDPUDP_SYN_MIN_LEN..=RDPUDP_MAX_DATAGRAM).contains(&dgram.len()) {
        return None;
    }
    let (head, _) = dgram.split_first_chunk::<RDPUDP_SYN_MIN_LEN>()?;
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
    let ok = syn.source_ack == want_ack
        && syn.flags & (RDPUDP_FLAG_SYN | RDPUDP_FLAG_ACK) == want_flags
        && mtu_ok(syn.upstream_mtu)
        && mtu_ok(syn.downstream_mtu);
    ok.then_some(syn)
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

/// Parse a mid-session RDP-UDP datagram: FEC header with ACK and without SYN, ack vector, and
/// for non-FEC data the source payload header followed by a TLS or DTLS record.
pub fn parse_udp_data(dgram: &[u8]) -> Option<UdpData> {
    if dgram.len() > RDPUDP_MAX_DATAGRAM {
        return None;
    }
    let (&[a0, a1, a2, a3, _w0, _w1, f0, f1], rest) = dgram.split_first_chunk::<8>()?;
    let flags = u16::from_be_bytes([f0, f1]);
    if flags & RDPUDP_FLAG_ACK == 0 || flags & RDPUDP_FLAG_SYN != 0 || flags & !RDPUDP_FLAGS_DEFINED != 0 {
        return None;
    }
    let (&[v0, v1], _) = rest.split_first_chunk::<2>()?;
    let size = usize::from(u16::from_be_bytes([v0, v1]));
    if size > RDPUDP_MAX_ACK_VECTOR {
        return None;
    }
    // Header and elements padded to a multiple of four bytes; the padding is zero.
    let vec_len = (2 + size).next_multiple_of(4);
    let pad = rest.get(2 + size..vec_len)?;
    if pad.iter().any(|&b| b != 0) {
        return None;
    }
    let after = rest.get(vec_len..)?;
    let source_start = if flags & RDPUDP_FLAG_DATA != 0 && flags & RDPUDP_FLAG_FEC == 0 {
        // Other optional headers (ack of acks, correlation id, SYNEX) only precede data in
        // datagrams this pickup does not need; require the plain layout.
        let (&[_c0, _c1, _c2, _c3, s0, s1, s2, s3], payload) = after.split_first_chunk::<8>()?;
        let record = matches!(payload, [0x14..=0x17, 0x03, 0x01..=0x04, ..] | [0x14..=0x17, 0xFE, 0xFD | 0xFF, ..]);
        if !record {
            return None;
        }
        Some(u32::from_be_bytes([s0, s1, s2, s3]))
    } else if flags & RDPUDP_FLAG_DATA == 0 && after.is_empty() {
        None
    } else {
        return None;
    };
    Some(UdpData { source_ack: u32::from_be_bytes([a0, a1, a2, a3]), flags, source_start })
}

/// Whether `ack` acknowledges sequence number `seq` within [`RDPUDP_SEQ_WINDOW`] either way.
fn acks_near(ack: u32, seq: u32) -> bool {
    let d = ack.wrapping_sub(seq);
    d <= RDPUDP_SEQ_WINDOW || d >= RDPUDP_SEQ_WINDOW.wrapping_neg()
}

/// Whether two mid-session datagrams, one per direction, belong to one RDP-UDP session: at
/// least one carries data, and each data datagram's sequence number is acknowledged (within the
/// window) by the other.
pub fn udp_data_pair(a: &UdpData, b: &UdpData) -> bool {
    let ab = a.source_start.is_none_or(|s| acks_near(b.source_ack, s));
    let ba = b.source_start.is_none_or(|s| acks_near(a.source_ack, s));
    (a.source_start.is_some() || b.source_start.is_some()) && ab && ba
}

/// Both directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// TCP: the Connection Request and Confirm.
    Tcp {
        /// Client's request.
        request: Step<ConnectionRequest<'a>>,
        /// Server's confirm.
        confirm: Step<ConfirmNeg>,
    },
    /// UDP: the SYN and SYN+ACK (`None` when absent or invalid).
    Udp {
        /// Client's SYN.
        syn: Option<UdpSyn>,
        /// Server's SYN+ACK; `Step::Incomplete` when no reply was seen.
        syn_ack: Step<UdpSyn>,
    },
    /// UDP picked up mid-session: the first datagram of each direction (`None` when absent).
    UdpData {
        /// Initiator's first datagram.
        orig: UdpData,
        /// Responder's first datagram, if seen and valid.
        resp: Step<UdpData>,
    },
}

/// Parse an exchange. Pure and zero-copy.
pub fn parse<'a>(transport: Transport, orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    match transport {
        Transport::Tcp => Parsed::Tcp { request: parse_request(orig), confirm: parse_confirm(resp) },
        Transport::Udp if !probe(Transport::Udp, orig) => match parse_udp_data(orig) {
            Some(o) => Parsed::UdpData {
                orig: o,
                resp: match parse_udp_data(resp) {
                    _ if resp.is_empty() => Step::Incomplete,
                    Some(r) => Step::Done(r),
                    None => Step::invalid(Layer::Rdp, 0, Reason::BadValue),
                },
            },
            None => Parsed::Udp { syn: None, syn_ack: Step::invalid(Layer::Rdp, 0, Reason::BadValue) },
        },
        Transport::Udp => {
            let syn = parse_udp_syn(orig, None);
            let syn_ack = match syn {
                _ if resp.is_empty() => Step::Incomplete,
                Some(s) => parse_udp_syn(resp, Some(s.initial_sequence))
                    .map_or(Step::invalid(Layer::Rdp, 0, Reason::BadValue), Step::Done),
                None => Step::invalid(Layer::Rdp, 0, Reason::BadValue),
            };
            Parsed::Udp { syn, syn_ack }
        }
        // RDP has no ICMP form: an ICMP exchange parses as a missing UDP SYN (no match).
        Transport::Icmp => Parsed::Udp { syn: None, syn_ack: Step::invalid(Layer::Rdp, 0, Reason::BadValue) },
    }
}

/// Decide on a parsed exchange.
pub fn fingerprint(parsed: &Parsed<'_>, finished: bool) -> Outcome {
    match *parsed {
        Parsed::Tcp { request, confirm } => {
            let req = match request {
                Step::Done(r) => r,
                Step::Invalid(_) => return Outcome::NoMatch,
                Step::Incomplete if finished => return Outcome::NoMatch,
                Step::Incomplete => return Outcome::NeedMore,
            };
            let (confidence, conf) = match confirm {
                Step::Invalid(_) => return Outcome::NoMatch,
                Step::Incomplete if !finished => return Outcome::NeedMore,
                Step::Incomplete if req.neg.is_some() => (CONFIDENCE_REQUEST_NEG, None),
                Step::Incomplete => (CONFIDENCE_REQUEST_COOKIE, None),
                Step::Done(ConfirmNeg::None) => (CONFIDENCE_CONFIRMED, Some(ConfirmNeg::None)),
                Step::Done(c) => (CONFIDENCE_NEGOTIATED, Some(c)),
            };
            Outcome::Match(rdp_match(confidence, tcp_evidence(&req, conf)))
        }
        Parsed::Udp { syn, syn_ack } => {
            let Some(syn) = syn else {
                return Outcome::NoMatch;
            };
            let (confidence, ack) = match syn_ack {
                Step::Invalid(_) => return Outcome::NoMatch,
                Step::Incomplete if !finished => return Outcome::NeedMore,
                Step::Incomplete => (CONFIDENCE_UDP_SYN, None),
                Step::Done(a) => (CONFIDENCE_NEGOTIATED, Some(a)),
            };
            let mut ev = empty_evidence(Transport::Udp);
            ev.udp_initial_sequence = Some(syn.initial_sequence);
            ev.udp_upstream_mtu = Some(syn.upstream_mtu);
            ev.udp_downstream_mtu = Some(syn.downstream_mtu);
            ev.udp_syn_ack = ack.is_some();
            Outcome::Match(rdp_match(confidence, ev))
        }
        Parsed::UdpData { orig, resp } => match resp {
            Step::Incomplete if !finished => Outcome::NeedMore,
            Step::Done(r) if udp_data_pair(&orig, &r) => {
                let mut ev = empty_evidence(Transport::Udp);
                ev.udp_mid_session = true;
                Outcome::Match(rdp_match(CONFIDENCE_UDP_DATA, ev))
            }
            _ => Outcome::NoMatch,
        },
    }
}

fn rdp_match(confidence: u8, ev: RdpEvidence) -> Match {
    Match { tool: Tool::Rdp, confidence, method: Method::PayloadStructure, evidence: Evidence::Rdp(ev) }
}

fn tcp_evidence(req: &ConnectionRequest<'_>, confirm: Option<ConfirmNeg>) -> RdpEvidence {
    let mut ev = empty_evidence(Transport::Tcp);
    ev.cookie_user = req.cookie_user.map(|u| {
        let u = u.get(..MAX_COOKIE_USER_LEN).unwrap_or(u);
        String::from_utf8_lossy(u).into_owned()
    });
    ev.routing_token = req.routing_token;
    ev.requested_protocols = req.neg.map(|n| protocol_names(n.requested_protocols));
    ev.selected_protocol = match confirm {
        Some(ConfirmNeg::Response(p)) => Some(protocol_name(p)),
        _ => None,
    };
    ev.negotiation_failure = match confirm {
        Some(ConfirmNeg::Failure(code)) => Some(code),
        _ => None,
    };
    ev.confirmed = confirm.is_some();
    ev
}

/// Known `requestedProtocols` / `selectedProtocol` values (MS-RDPBCGR 2.2.1.1.1).
const PROTOCOLS: [(u32, &str); 5] =
    [(0x01, "tls"), (0x02, "hybrid"), (0x04, "rdstls"), (0x08, "hybrid_ex"), (0x10, "rdsaad")];

/// Name of one protocol value; 0 is standard RDP security.
pub fn protocol_name(p: u32) -> &'static str {
    if p == 0 {
        return "rdp";
    }
    PROTOCOLS.iter().find(|(bit, _)| *bit == p).map_or("unknown", |(_, n)| n)
}

/// Names of the bits of a `requestedProtocols` set; 0 is `["rdp"]`.
pub fn protocol_names(set: u32) -> Vec<&'static str> {
    if set == 0 {
        return vec!["rdp"];
    }
    let mut names: Vec<&'static str> = PROTOCOLS.iter().filter(|(bit, _)| set & bit != 0).map(|(_, n)| *n).collect();
    if PROTOCOLS.iter().fold(set, |s, (bit, _)| s & !bit) != 0 {
        names.push("unknown");
    }
    names
}

/// Evidence with nothing read yet.
fn empty_evidence(transport: Transport) -> RdpEvidence {
    RdpEvidence {
        transport,
        cookie_user: None,
        routing_token: false,
        requested_protocols: None,
        selected_protocol: None,
        negotiation_failure: None,
        confirmed: false,
        udp_initial_sequence: None,
        udp_upstream_mtu: None,
        udp_downstream_mtu: None,
        udp_syn_ack: false,
        udp_mid_session: false,
    }
}

/// The RDP fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct RdpFingerprint;

impl Fingerprint for RdpFingerprint {
    fn tool(&self) -> Tool {
        Tool::Rdp
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp_udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        let mid_session = ex.transport == Transport::Udp && ex.orig.get(7).is_some_and(|&f| f & 0x04 != 0);
        if !probe(ex.transport, ex.orig) && !mid_session {
            return Outcome::NoMatch;
        }
        fingerprint(&parse(ex.transport, ex.orig, ex.resp), ex.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unhex;

    // Recorded on loopback: FreeRDP 2 `xfreerdp` (Debian 12 package freerdp2-x11) against
    // xrdp 0.9.21.1 (Debian 12 package xrdp) running `xrdp --nodaemon --port 3390`, captured
    // with `tcpdump -i lo port 3390`, payload extracted with `tshark -T fields -e tcp.payload`.
    // RDP_TLS_*: `xfreerdp /v:127.0.0.1:3390 /u:test /p:x /cert:ignore` (cookie + RDP_NEG_REQ
    // for TLS|HYBRID, server selects TLS). RDP_STD_*: the same with `/sec:rdp` (cookie only,
    // standard RDP security, empty Connection Confirm).
    const RDP_TLS_CR: &str = "0300002a25e00000000000436f6f6b69653a206d737473686173683d746573740d0a0100080003000000";
    const RDP_TLS_CC: &str = "030000130ed000001234000201080001000000";
    const RDP_STD_CR: &str = "030000221de00000000000436f6f6b69653a206d737473686173683d746573740d0a";
    const RDP_STD_CC: &str = "0300000b06d00000123400";

    fn inspect(transport: Transport, orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        RdpFingerprint.inspect(&Exchange {
            transport,
            orig,
            resp,
            orig_port: 50000,
            resp_port: 443,
            finished,
            datagrams: &[],
        })
    }

    fn tcp(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        inspect(Transport::Tcp, orig, resp, finished)
    }

    fn evidence(out: &Outcome) -> (u8, &RdpEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                method: Method::PayloadStructure,
                tool: Tool::Rdp,
                evidence: Evidence::Rdp(e),
            }) => (*confidence, e),
            other => panic!("expected an RDP match, got {other:?}"),
        }
    }

    /// A TPKT + X.224 CR/CC around `var` (for synthetic variants of the recorded TPDUs).
    fn tpdu(code: u8, var: &[u8]) -> Vec<u8> {
        let len = 11 + var.len();
        let mut v = vec![3, 0, (len >> 8) as u8, len as u8, (len - 5) as u8, code, 0, 0, 0, 0, 0];
        v.extend_from_slice(var);
        v
    }

    #[test]
    fn freerdp_xrdp_tls_known_answer() {
        let (cr, cc) = (unhex(RDP_TLS_CR), unhex(RDP_TLS_CC));
        let out = tcp(&cr, &cc, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_NEGOTIATED);
        assert_eq!(e.transport, Transport::Tcp);
        assert_eq!(e.cookie_user.as_deref(), Some("test"));
        assert!(!e.routing_token);
        assert_eq!(e.requested_protocols.as_deref(), Some(["tls", "hybrid"].as_slice()));
        assert_eq!(e.selected_protocol, Some("tls"));
        assert_eq!(e.negotiation_failure, None);
        assert!(e.confirmed);
        // Bytes after the first TPKT (here the TLS ClientHello) are not looked at.
        let more = [cr.as_slice(), &[0x16, 3, 1, 0, 5]].concat();
        assert_eq!(tcp(&more, &cc, false), out);
    }

    #[test]
    fn standard_rdp_security_cookie_only_known_answer() {
        let (cr, cc) = (unhex(RDP_STD_CR), unhex(RDP_STD_CC));
        let out = tcp(&cr, &cc, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_CONFIRMED);
        assert_eq!(e.cookie_user.as_deref(), Some("test"));
        assert_eq!(e.requested_protocols, None);
        assert_eq!(e.selected_protocol, None);
        assert!(e.confirmed);
    }

    #[test]
    fn request_alone_waits_then_matches_lower() {
        let cr = unhex(RDP_TLS_CR);
        assert_eq!(tcp(&cr, b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&tcp(&cr, b"", true)).0, CONFIDENCE_REQUEST_NEG);
        let cr = unhex(RDP_STD_CR);
        let out = tcp(&cr, b"", true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_REQUEST_COOKIE);
        assert!(!e.confirmed);
    }

    #[test]
    fn truncation_sweep_never_panics_or_contradicts() {
        for (cr, cc) in [(RDP_TLS_CR, RDP_TLS_CC), (RDP_STD_CR, RDP_STD_CC)] {
            let (cr, cc) = (unhex(cr), unhex(cc));
            for i in 0..=cr.len() {
                for j in 0..=cc.len() {
                    let (o, r) = (&cr[..i], &cc[..j]);
                    assert_ne!(tcp(o, r, false), Outcome::NoMatch, "{i} {j}");
                    assert_ne!(tcp(o, r, true), Outcome::NeedMore, "{i} {j}");
                }
            }
        }
        let (syn, ack) = (udp_syn(), udp_syn_ack(0x0b12_7f15));
        for i in 0..=syn.len() {
            for r in [&ack[..], &ack[..i.min(ack.len())], b""] {
                assert_ne!(inspect(Transport::Udp, &syn[..i], r, true), Outcome::NeedMore);
            }
        }
    }

    #[test]
    fn iso_on_tcp_s7comm_connection_request_is_not_rdp() {
        // X.224 CR as used by S7comm: parameters src-TSAP (0xC1), dst-TSAP (0xC2), TPDU size
        // (0xC0) in the variable part (ISO 8073 §13.3.4), and the matching CC.
        let cr = tpdu(0xE0, &[0xC1, 2, 1, 0, 0xC2, 2, 1, 2, 0xC0, 1, 0x0A]);
        let cc = tpdu(0xD0, &[0xC0, 1, 0x0A, 0xC1, 2, 1, 0, 0xC2, 2, 1, 2]);
        assert!(parse_request(&cr).is_invalid());
        assert_eq!(tcp(&cr, &cc, false), Outcome::NoMatch);
        assert_eq!(tcp(&cr, b"", true), Outcome::NoMatch);
        // A bare CR with nothing RDP-specific is not enough either.
        assert_eq!(tcp(&tpdu(0xE0, &[]), &tpdu(0xD0, &[]), true), Outcome::NoMatch);
        // Nor is an RDP cookie answered by a CC carrying parameters.
        assert_eq!(tcp(&unhex(RDP_STD_CR), &cc, true), Outcome::NoMatch);
    }

    #[test]
    fn hostile_lengths_are_rejected_without_waiting() {
        let mut cr = unhex(RDP_TLS_CR);
        // TPKT claiming 65535 bytes.
        cr[2] = 0xFF;
        cr[3] = 0xFF;
        assert_eq!(tcp(&cr, b"", false), Outcome::NoMatch);
        // Length indicator disagreeing with the TPKT length.
        let mut cr = unhex(RDP_TLS_CR);
        cr[4] = 0x7F;
        assert_eq!(tcp(&cr, b"", false), Outcome::NoMatch);
        // TPKT shorter than an X.224 CR.
        assert_eq!(tcp(&[3, 0, 0, 7, 2, 0xE0, 0], b"", false), Outcome::NoMatch);
        // RDP_NEG_REQ with a bogus length field.
        let mut cr = unhex(RDP_TLS_CR);
        let n = cr.len();
        cr[n - 6] = 0xFF;
        cr[n - 5] = 0xFF;
        assert_eq!(tcp(&cr, b"", true), Outcome::NoMatch);
        // Cookie without CR LF.
        assert!(parse_request(&tpdu(0xE0, b"Cookie: mstshash=abc")).is_invalid());
        // A long cookie user name is cut to MAX_COOKIE_USER_LEN.
        let long = [b"Cookie: mstshash=".as_slice(), &[b'u'; 200], b"\r\n"].concat();
        let out = tcp(&tpdu(0xE0, &long), b"", true);
        assert_eq!(evidence(&out).1.cookie_user.as_ref().unwrap().len(), MAX_COOKIE_USER_LEN);
    }

    #[test]
    fn routing_token_correlation_info_and_failure() {
        let mut var = b"Cookie: msts=3640205228.15629.0000\r\n".to_vec();
        var.extend_from_slice(&[1, 0x08, 8, 0, 0x0B, 0, 0, 0]);
        var.extend_from_slice(&[6, 0, 36, 0]);
        var.extend_from_slice(&[0x42; 32]);
        let failure = tpdu(0xD0, &[3, 0, 8, 0, 5, 0, 0, 0]);
        let out = tcp(&tpdu(0xE0, &var), &failure, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_NEGOTIATED);
        assert!(e.routing_token);
        assert_eq!(e.cookie_user, None);
        assert_eq!(e.requested_protocols.as_deref(), Some(["tls", "hybrid", "hybrid_ex"].as_slice()));
        assert_eq!(e.negotiation_failure, Some(5));
        assert_eq!(protocol_names(0x40), vec!["unknown"]);
        assert_eq!(protocol_name(0x08), "hybrid_ex");
    }

    /// RDP-UDP SYN built from the MS-RDPEUDP 2.2.2.1/2.2.2.5 layout (no RDP-UDP-capable
    /// software is available to record one here): snSourceAck -1, window 64, flags
    /// SYN|CORRELATION_ID|SYNEX, initial sequence 0x0b127f15, MTUs 1232, zero-padded to 1232.
    fn udp_syn() -> Vec<u8> {
        let mut d = vec![0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x40, 0x18, 0x01];
        d.extend_from_slice(&[0x0b, 0x12, 0x7f, 0x15, 0x04, 0xd0, 0x04, 0xd0]);
        d.resize(1232, 0);
        d
    }

    /// The server's SYN+ACK for `ack`, same layout (flags SYN|ACK|SYNEX).
    fn udp_syn_ack(ack: u32) -> Vec<u8> {
        let mut d = ack.to_be_bytes().to_vec();
        d.extend_from_slice(&[0x00, 0x40, 0x10, 0x05, 0x0f, 0x94, 0xea, 0x0b, 0x04, 0xd0, 0x04, 0xd0]);
        d.resize(1232, 0);
        d
    }

    #[test]
    fn rdp_udp_syn_exchange() {
        let syn = udp_syn();
        let out = inspect(Transport::Udp, &syn, &udp_syn_ack(0x0b12_7f15), false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_NEGOTIATED);
        assert_eq!(e.transport, Transport::Udp);
        assert_eq!(e.udp_initial_sequence, Some(0x0b12_7f15));
        assert_eq!((e.udp_upstream_mtu, e.udp_downstream_mtu), (Some(1232), Some(1232)));
        assert!(e.udp_syn_ack);
        assert_eq!(inspect(Transport::Udp, &syn, b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&inspect(Transport::Udp, &syn, b"", true)).0, CONFIDENCE_UDP_SYN);
        // A reply that does not acknowledge the client's sequence number.
        assert_eq!(inspect(Transport::Udp, &syn, &udp_syn_ack(7), false), Outcome::NoMatch);
        // MTU outside 1132..=1600.
        let mut bad = syn.clone();
        bad[12] = 0xFF;
        assert_eq!(inspect(Transport::Udp, &bad, b"", true), Outcome::NoMatch);
        // Oversized datagram.
        let mut big = syn.clone();
        big.resize(RDPUDP_MAX_DATAGRAM + 1, 0);
        assert_eq!(inspect(Transport::Udp, &big, b"", true), Outcome::NoMatch);
        // UDP bytes on TCP are not RDP.
        assert_eq!(tcp(&syn, b"", true), Outcome::NoMatch);
    }

    #[test]
    fn other_protocols_do_not_match() {
        let http = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        assert_eq!(tcp(http, b"", false), Outcome::NoMatch);
        let tls = [0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03];
        assert_eq!(tcp(&tls, b"", false), Outcome::NoMatch);
        assert_eq!(tcp(b"SSH-2.0-OpenSSH_9.2p1\r\n", b"", false), Outcome::NoMatch);
        assert_eq!(tcp(b"", b"", true), Outcome::NoMatch);
        // A DNS query over UDP.
        let dns = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1];
        assert_eq!(inspect(Transport::Udp, &dns, b"", true), Outcome::NoMatch);
        assert!(RdpFingerprint.wants(Transport::Udp) && RdpFingerprint.wants(Transport::Tcp));
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        let (cr, cc) = (unhex(RDP_TLS_CR), unhex(RDP_TLS_CC));
        for (t, o, r) in [(Transport::Tcp, cr, cc), (Transport::Udp, udp_syn(), udp_syn_ack(0x0b12_7f15))] {
            for pos in 0..o.len().max(r.len()) {
                for v in [0x00, 0xFF, 0x01, 0x80] {
                    let (mut o2, mut r2) = (o.clone(), r.clone());
                    if let Some(b) = o2.get_mut(pos) {
                        *b = v;
                    }
                    if let Some(b) = r2.get_mut(pos) {
                        *b ^= v;
                    }
                    let _ = inspect(t, &o2, &r2, false);
                    assert_ne!(inspect(t, &o2, &r2, true), Outcome::NeedMore);
                }
            }
        }
    }

    /// A mid-session RDP-UDP data datagram built from MS-RDPEUDP: FEC header (ack, window,
    /// ACK|DATA), a one-element ack vector padded to four bytes, source payload header, and
    /// the start of a TLS application-data record.
    fn udp_data(ack: u32, seq: u32) -> Vec<u8> {
        let mut d = ack.to_be_bytes().to_vec();
        d.extend_from_slice(&[0x04, 0x00, 0x00, 0x0c, 0x00, 0x01, 0x05, 0x00]);
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x20]);
        d.resize(d.len() + 32, 0x5a);
        d
    }

    #[test]
    fn udp_mid_session_data_cross_checked() {
        // Client sends seq 0x1000 and acknowledges the server's 0x9000; the server answers
        // acknowledging 0x1000 with its 0x9001.
        let (c, s) = (udp_data(0x9000, 0x1000), udp_data(0x1000, 0x9001));
        let out = inspect(Transport::Udp, &c, &s, false);
        let Outcome::Match(m) = out else { panic!("{out:?}") };
        assert_eq!(m.confidence, CONFIDENCE_UDP_DATA);
        let Evidence::Rdp(e) = m.evidence else { panic!() };
        assert!(e.udp_mid_session);
        // One side alone waits, then is not enough.
        assert_eq!(inspect(Transport::Udp, &c, b"", false), Outcome::NeedMore);
        assert_eq!(inspect(Transport::Udp, &c, b"", true), Outcome::NoMatch);
        // Acknowledgements far from the other side's sequence numbers: two unrelated flows.
        assert_eq!(inspect(Transport::Udp, &c, &udp_data(0x5000_0000, 0x9001), false), Outcome::NoMatch);
        // An acknowledgement-only reply (ACK, empty ack vector) naming the client's seq.
        let ack_only = [0x00, 0x00, 0x10, 0x00, 0x00, 0x40, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00];
        assert!(matches!(inspect(Transport::Udp, &c, &ack_only, false), Outcome::Match(_)));
        // No TLS/DTLS record behind the data header, SYN set, unknown flag, non-zero padding.
        let mut bad = c.clone();
        bad[20] = 0x42;
        assert_eq!(parse_udp_data(&bad), None);
        for (at, v) in [(7usize, 0x0du8), (6, 0x20), (11, 0x01)] {
            let mut bad = c.clone();
            bad[at] = v;
            assert_eq!(parse_udp_data(&bad), None, "{at}");
        }
        // Truncation sweep and a hostile ack-vector length.
        for len in 0..c.len() {
            assert_ne!(inspect(Transport::Udp, &c[..len], &s[..len.min(s.len())], true), Outcome::NeedMore);
        }
        let mut hostile = c.clone();
        hostile[8] = 0xff;
        hostile[9] = 0xff;
        assert_eq!(parse_udp_data(&hostile), None);
    }
}
