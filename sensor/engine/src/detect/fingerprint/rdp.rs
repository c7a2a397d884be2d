//! RDP fingerprint: the X.224 connection sequence over TCP, and the RDP-UDP SYN exchange.
//! The wire format (TPKT, X.224, the negotiation structures, MS-RDPEUDP headers) is parsed by
//! [`farhand_proto::rdp`]; this file decides: confidence, evidence, and the cross-checks
//! between the two directions.
//!
//! # Contract
//! Works on any port. Over TCP it validates the client's first TPKT as an X.224 Connection
//! Request carrying RDP's cookie, routing token or negotiation request, and the server's first
//! TPKT as an X.224 Connection Confirm (optionally with a negotiation response or failure).
//! It answers `Match` when both are valid, or at `finished` on a valid request alone (lower
//! confidence); `NoMatch` as soon as a direction contradicts this (`Anomaly` when the bytes
//! had begun as RDP: a request whose variable part starts with RDP's cookie or negotiation
//! request, a confirm answering a valid request, or an RDP-UDP datagram). Over UDP it
//! validates the first datagram as an RDP-UDP SYN and the first reply as the matching SYN+ACK.
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
use farhand_proto::rdp::{
    COOKIE_PREFIX, ConfirmNeg, ConnectionRequest, TYPE_RDP_NEG_REQ, UdpData, UdpSyn, X224_FIXED_END, parse_confirm,
    parse_request, parse_udp_data, parse_udp_syn, probe, udp_has_ack,
};

/// Longest user name kept from a `mstshash` cookie, in bytes.
pub const MAX_COOKIE_USER_LEN: usize = 64;

/// Bytes per direction this fingerprint reads (TCP: one TPKT; UDP: one datagram).
pub const BYTES_WANTED: usize = 1600;

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
/// How far one side's acknowledgement may lag or lead the other side's sequence numbers for
/// the two first datagrams to be taken as one session.
pub const RDPUDP_SEQ_WINDOW: u32 = 256;
/// Confidence: an RDP-UDP SYN alone.
pub const CONFIDENCE_UDP_SYN: u8 = 70;

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
        /// Whether the request's variable part begins as RDP's (a cookie or an RDP_NEG_REQ):
        /// its anomalies are RDP's, not another ISO-on-TCP protocol's.
        request_began_as_rdp: bool,
        /// Server's confirm.
        confirm: Step<ConfirmNeg>,
    },
    /// UDP: the SYN and SYN+ACK.
    Udp {
        /// Client's SYN.
        syn: Step<UdpSyn>,
        /// Server's SYN+ACK; `Step::Incomplete` when no reply was seen (or the SYN is invalid:
        /// then it is not parsed).
        syn_ack: Step<UdpSyn>,
    },
    /// UDP picked up mid-session: the first datagram of each direction.
    UdpData {
        /// Initiator's first datagram.
        orig: UdpData,
        /// Responder's first datagram; `Step::Incomplete` when none was seen.
        resp: Step<UdpData>,
    },
    /// Nothing RDP can be (ICMP).
    None,
}

/// Parse an exchange. Pure and zero-copy.
pub fn parse<'a>(transport: Transport, orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    match transport {
        Transport::Tcp => Parsed::Tcp {
            request: parse_request(orig),
            request_began_as_rdp: orig
                .get(X224_FIXED_END..)
                .is_some_and(|v| v.starts_with(COOKIE_PREFIX) || v.first() == Some(&TYPE_RDP_NEG_REQ)),
            confirm: parse_confirm(resp),
        },
        Transport::Udp if !probe(Transport::Udp, orig) => match parse_udp_data(orig) {
            Step::Done(o) => {
                Parsed::UdpData { orig: o, resp: if resp.is_empty() { Step::Incomplete } else { parse_udp_data(resp) } }
            }
            Step::Incomplete => Parsed::Udp { syn: Step::Incomplete, syn_ack: Step::Incomplete },
            Step::Invalid(a) => Parsed::Udp { syn: Step::Invalid(a), syn_ack: Step::Incomplete },
        },
        Transport::Udp => {
            let syn = parse_udp_syn(orig, None);
            let syn_ack = match syn {
                Step::Done(s) if !resp.is_empty() => parse_udp_syn(resp, Some(s.initial_sequence)),
                Step::Done(_) | Step::Incomplete | Step::Invalid(_) => Step::Incomplete,
            };
            Parsed::Udp { syn, syn_ack }
        }
        Transport::Icmp | Transport::Esp | Transport::Ah | Transport::Gre => Parsed::None,
    }
}

/// Decide on a parsed exchange.
pub fn fingerprint(parsed: &Parsed<'_>, finished: bool) -> Outcome {
    match *parsed {
        Parsed::Tcp { request, request_began_as_rdp, confirm } => tcp(request, request_began_as_rdp, confirm, finished),
        Parsed::Udp { syn, syn_ack } => {
            let syn = match syn {
                Step::Done(s) => s,
                Step::Invalid(a) => return Outcome::Anomaly(a),
                Step::Incomplete => return Outcome::NoMatch,
            };
            let (confidence, ack) = match syn_ack {
                Step::Invalid(a) => return Outcome::Anomaly(a),
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
            Step::Invalid(a) => Outcome::Anomaly(a),
            Step::Done(_) | Step::Incomplete => Outcome::NoMatch,
        },
        Parsed::None => Outcome::NoMatch,
    }
}

/// Decide on a TCP exchange: the request must be valid; the confirm raises the confidence.
fn tcp(request: Step<ConnectionRequest<'_>>, began_as_rdp: bool, confirm: Step<ConfirmNeg>, finished: bool) -> Outcome {
    let req = match request {
        Step::Done(r) => r,
        Step::Invalid(a) if began_as_rdp => return Outcome::Anomaly(a),
        Step::Invalid(_) => return Outcome::NoMatch,
        Step::Incomplete if finished => return Outcome::NoMatch,
        Step::Incomplete => return Outcome::NeedMore,
    };
    let (confidence, conf) = match confirm {
        Step::Invalid(a) => return Outcome::Anomaly(a),
        Step::Incomplete if !finished => return Outcome::NeedMore,
        Step::Incomplete if req.neg.is_some() => (CONFIDENCE_REQUEST_NEG, None),
        Step::Incomplete => (CONFIDENCE_REQUEST_COOKIE, None),
        Step::Done(ConfirmNeg::None) => (CONFIDENCE_CONFIRMED, Some(ConfirmNeg::None)),
        Step::Done(c) => (CONFIDENCE_NEGOTIATED, Some(c)),
    };
    Outcome::Match(rdp_match(confidence, tcp_evidence(&req, conf)))
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
        let mid_session = ex.transport == Transport::Udp && udp_has_ack(ex.orig);
        if !probe(ex.transport, ex.orig) && !mid_session {
            return Outcome::NoMatch;
        }
        fingerprint(&parse(ex.transport, ex.orig, ex.resp), ex.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::rdp::{RDP_TLS_CC, RDP_TLS_CR, udp_data, udp_syn};
    use crate::testutil::unhex;
    use farhand_proto::rdp::RDPUDP_MAX_DATAGRAM;
    use farhand_proto::step::{Anomaly, Layer, Reason};

    // Recorded on loopback: FreeRDP 2 `xfreerdp` (Debian 12 package freerdp2-x11) against
    // xrdp 0.9.21.1 (Debian 12 package xrdp) running `xrdp --nodaemon --port 3390`, captured
    // with `tcpdump -i lo port 3390`, payload extracted with `tshark -T fields -e tcp.payload`.
    // RDP_TLS_*: `xfreerdp /v:127.0.0.1:3390 /u:test /p:x /cert:ignore` (cookie + RDP_NEG_REQ
    // for TLS|HYBRID, server selects TLS). RDP_STD_*: the same with `/sec:rdp` (cookie only,
    // standard RDP security, empty Connection Confirm).
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
        // Nor is an RDP cookie answered by a CC carrying parameters: the session began as RDP,
        // the server broke it (its variable part is no RDP_NEG_RSP of 8 bytes).
        let broken = Anomaly::new(Layer::Rdp, 13, Reason::BadLength);
        assert_eq!(tcp(&unhex(RDP_STD_CR), &cc, true), Outcome::Anomaly(broken));
    }

    #[test]
    fn hostile_lengths_are_rejected_without_waiting() {
        let mut cr = unhex(RDP_TLS_CR);
        // TPKT claiming 65535 bytes.
        cr[2] = 0xFF;
        cr[3] = 0xFF;
        assert_eq!(tcp(&cr, b"", false), Outcome::Anomaly(Anomaly::new(Layer::Rdp, 2, Reason::OverLimit)));
        // Length indicator disagreeing with the TPKT length.
        let mut cr = unhex(RDP_TLS_CR);
        cr[4] = 0x7F;
        assert_eq!(tcp(&cr, b"", false), Outcome::Anomaly(Anomaly::new(Layer::Rdp, 4, Reason::BadLength)));
        // TPKT shorter than an X.224 CR.
        assert_eq!(tcp(&[3, 0, 0, 7, 2, 0xE0, 0], b"", false), Outcome::NoMatch);
        // RDP_NEG_REQ with a bogus length field.
        let mut cr = unhex(RDP_TLS_CR);
        let n = cr.len();
        cr[n - 6] = 0xFF;
        cr[n - 5] = 0xFF;
        assert_eq!(tcp(&cr, b"", true), Outcome::Anomaly(Anomaly::new(Layer::Rdp, n - 6, Reason::BadLength)));
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
        let unanswered = Anomaly::new(Layer::RdpUdp, 0, Reason::Inconsistent);
        assert_eq!(inspect(Transport::Udp, &syn, &udp_syn_ack(7), false), Outcome::Anomaly(unanswered));
        // MTU outside 1132..=1600.
        let mut bad = syn.clone();
        bad[12] = 0xFF;
        let mtu = Anomaly::new(Layer::RdpUdp, 12, Reason::BadValue);
        assert_eq!(inspect(Transport::Udp, &bad, b"", true), Outcome::Anomaly(mtu));
        // Oversized datagram.
        let mut big = syn.clone();
        big.resize(RDPUDP_MAX_DATAGRAM + 1, 0);
        let over = Anomaly::new(Layer::RdpUdp, RDPUDP_MAX_DATAGRAM, Reason::OverLimit);
        assert_eq!(inspect(Transport::Udp, &big, b"", true), Outcome::Anomaly(over));
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
        assert!(parse_udp_data(&bad).is_invalid());
        for (at, v) in [(7usize, 0x0du8), (6, 0x20), (11, 0x01)] {
            let mut bad = c.clone();
            bad[at] = v;
            assert!(parse_udp_data(&bad).is_invalid(), "{at}");
        }
        // Truncation sweep and a hostile ack-vector length.
        for len in 0..c.len() {
            assert_ne!(inspect(Transport::Udp, &c[..len], &s[..len.min(s.len())], true), Outcome::NeedMore);
        }
        let mut hostile = c.clone();
        hostile[8] = 0xff;
        hostile[9] = 0xff;
        assert!(parse_udp_data(&hostile).is_invalid());
    }
}
