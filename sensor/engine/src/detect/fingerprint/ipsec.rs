//! IPsec fingerprint: the key exchange — IKEv1/IKEv2 (ISAKMP) messages over UDP, any port
//! (usually 500, and 4500 with NAT traversal) — and the protected traffic itself when no key
//! exchange is in the capture: ESP (IP protocol 50), ESP over UDP 4500 (RFC 3948) and AH in
//! tunnel mode (IP protocol 51 around a whole IP packet).
//!
//! Facts used: the ISAKMP header, its exchange types, the NAT-T non-ESP marker and the ESP
//! header are `farhand_proto::ike`'s (RFC 2408 §3.1, RFC 7296 §3.1, RFC 3948 §2.2, RFC 4303
//! §2). The responder answers IKE with the same initiator SPI; each direction of an ESP
//! session has its own SA, so its own SPI.
//!
//! # Contract
//! - IKE: match when the initiator's first datagram is an exact ISAKMP message and the reply
//!   (if any) carries the same initiator SPI and major version; `NoMatch` on any
//!   inconsistency (`Anomaly`, with the parser's offset and reason, when the reply is not an
//!   IKE message).
//! - ESP and AH are IPsec by their protocol number: an ESP packet whose header is one
//!   (`ike::esp`), or AH whose protected packet begins as an IP header. Both directions:
//!   [`CONFIDENCE_PAIR`]; one: [`CONFIDENCE_PROTOCOL_ONE`].
//! - ESP over UDP needs more, for any UDP payload could begin like an ESP header: port 4500
//!   on one side (RFC 3948's), an ESP header in the initiator's first datagram, and — for
//!   [`CONFIDENCE_UDP_PAIR`] — one with another SPI coming back; alone,
//!   [`CONFIDENCE_UDP_ONE`].

use super::{Exchange, Fingerprint, Interest, Outcome, Reply, reply};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::IpsecEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::ike::{Esp, esp, parse};

/// Bytes per direction this fingerprint reads: a whole datagram at a 1500-byte MTU.
pub const BYTES_WANTED: usize = 2048;
/// Confidence: request and response with matching SPIs (IKE), or ESP/AH both ways.
pub const CONFIDENCE_PAIR: u8 = 95;
/// Confidence: one exact IKE message.
pub const CONFIDENCE_ONE: u8 = 75;
/// Confidence: ESP or AH (by protocol number) in one direction only.
pub const CONFIDENCE_PROTOCOL_ONE: u8 = 75;
/// Confidence: ESP over UDP 4500 both ways, two SPIs.
pub const CONFIDENCE_UDP_PAIR: u8 = 85;
/// Confidence: ESP over UDP 4500, one direction.
pub const CONFIDENCE_UDP_ONE: u8 = 60;
/// The NAT traversal port (RFC 3948).
pub const NAT_T_PORT: u16 = 4500;

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// A match on protected traffic (no IKE seen) once the responder's side agrees or nothing
/// more can come: `(pair, one)` are the confidences with and without an answer.
fn protected(
    ex: &Exchange<'_>,
    encapsulation: &'static str,
    spi: Option<u32>,
    agrees: impl Fn(&[u8]) -> bool,
    (pair, one): (u8, u8),
) -> Outcome {
    let responded = match reply(ex, agrees) {
        Reply::Waiting => return Outcome::NeedMore,
        Reply::Contradicts => return Outcome::NoMatch,
        Reply::Unanswered => false,
        Reply::Agrees => true,
    };
    Outcome::Match(Match {
        tool: Tool::Ipsec,
        confidence: if responded { pair } else { one },
        method: Method::PayloadStructure,
        evidence: Evidence::Ipsec(IpsecEvidence {
            encapsulation,
            ike_version: 0,
            exchange_type: 0,
            nat_traversal: encapsulation == "esp_in_udp",
            initiator_spi: spi.map(|s| hex(&s.to_be_bytes())).unwrap_or_default(),
            responded,
        }),
    })
}

/// ESP by protocol number.
fn esp_flow(ex: &Exchange<'_>) -> Outcome {
    let Some(Esp { spi, .. }) = esp(ex.orig) else { return Outcome::NoMatch };
    let other_sa = |r: &[u8]| esp(r).is_some_and(|e| e.spi != spi);
    protected(ex, "esp", Some(spi), other_sa, (CONFIDENCE_PAIR, CONFIDENCE_PROTOCOL_ONE))
}

/// AH in tunnel mode: the decoder hands over the protected packet, which must begin as an IP
/// header (version 4 with IHL ≥ 5, or 6).
fn ah_flow(ex: &Exchange<'_>) -> Outcome {
    let ip = |b: &[u8]| b.first().is_some_and(|&v| matches!(v, 0x45..=0x4f | 0x60..=0x6f));
    if !ip(ex.orig) {
        return Outcome::NoMatch;
    }
    protected(ex, "ah", None, ip, (CONFIDENCE_PAIR, CONFIDENCE_PROTOCOL_ONE))
}

/// ESP over UDP on the NAT traversal port, no IKE message first.
fn esp_in_udp(ex: &Exchange<'_>) -> Outcome {
    if ex.orig_port != NAT_T_PORT && ex.resp_port != NAT_T_PORT {
        return Outcome::NoMatch;
    }
    let Some(Esp { spi, .. }) = esp(ex.orig) else { return Outcome::NoMatch };
    let other_sa = |r: &[u8]| esp(r).is_some_and(|e| e.spi != spi);
    protected(ex, "esp_in_udp", Some(spi), other_sa, (CONFIDENCE_UDP_PAIR, CONFIDENCE_UDP_ONE))
}

/// The IPsec fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct IpsecFingerprint;

impl Fingerprint for IpsecFingerprint {
    fn tool(&self) -> Tool {
        Tool::Ipsec
    }
    fn version(&self) -> &'static str {
        "2"
    }
    fn interest(&self) -> Interest {
        Interest::on(&[Transport::Udp, Transport::Esp, Transport::Ah], BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        match ex.transport {
            Transport::Udp => {}
            Transport::Esp => return esp_flow(ex),
            Transport::Ah => return ah_flow(ex),
            _ => return Outcome::NoMatch,
        }
        // The initiator's datagram is whole at the first look: its trouble never ends a
        // match that had begun, so it is a plain NoMatch.
        let req = match parse(ex.orig) {
            Step::Done(r) => r,
            _ => return esp_in_udp(ex),
        };
        let responded = match (ex.resp.is_empty(), parse(ex.resp)) {
            (true, _) if !ex.finished => return Outcome::NeedMore,
            (true, _) => false,
            (false, Step::Done(r)) if r.ispi == req.ispi && r.major == req.major => true,
            (false, Step::Invalid(a)) => return Outcome::Anomaly(a),
            (false, _) => return Outcome::NoMatch,
        };
        Outcome::Match(Match {
            tool: Tool::Ipsec,
            confidence: if responded { CONFIDENCE_PAIR } else { CONFIDENCE_ONE },
            method: Method::PayloadStructure,
            evidence: Evidence::Ipsec(IpsecEvidence {
                encapsulation: "ike",
                ike_version: req.major,
                exchange_type: req.exchange,
                nat_traversal: req.nat_t,
                initiator_spi: hex(&req.ispi),
                responded,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IKEv2 IKE_SA_INIT request (RFC 7296 §3.1 header + a 4-byte payload stub).
    fn sa_init(ispi: [u8; 8], rspi: [u8; 8], nat_t: bool) -> Vec<u8> {
        let mut m = Vec::new();
        if nat_t {
            m.extend_from_slice(&[0, 0, 0, 0]);
        }
        m.extend_from_slice(&ispi);
        m.extend_from_slice(&rspi);
        m.extend_from_slice(&[33, 0x20, 34, 0x08, 0, 0, 0, 0]);
        m.extend_from_slice(&32u32.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 4]);
        m
    }

    fn ex<'a>(o: &'a [u8], r: &'a [u8], fin: bool) -> Exchange<'a> {
        Exchange {
            transport: Transport::Udp,
            orig: o,
            resp: r,
            orig_port: 500,
            resp_port: 500,
            finished: fin,
            datagrams: &[],
        }
    }

    #[test]
    fn ikev2_pair_and_nat_t() {
        let i = [1, 2, 3, 4, 5, 6, 7, 8];
        let req = sa_init(i, [0; 8], false);
        let resp = sa_init(i, [9; 8], false);
        let Outcome::Match(m) = IpsecFingerprint.inspect(&ex(&req, &resp, false)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::Ipsec, CONFIDENCE_PAIR));
        let n = sa_init(i, [9; 8], true);
        let Outcome::Match(m) = IpsecFingerprint.inspect(&ex(&n, b"", true)) else { panic!() };
        assert!(matches!(m.evidence, Evidence::Ipsec(IpsecEvidence { nat_traversal: true, .. })));
        assert_eq!(IpsecFingerprint.inspect(&ex(&req, b"", false)), Outcome::NeedMore);
        assert_eq!(IpsecFingerprint.inspect(&ex(&req, &sa_init([7; 8], [9; 8], false), false)), Outcome::NoMatch);
    }

    #[test]
    fn negatives_and_broken_replies() {
        let req = sa_init([1; 8], [0; 8], false);
        for len in 0..req.len() {
            assert_eq!(IpsecFingerprint.inspect(&ex(&req[..len], b"", true)), Outcome::NoMatch);
        }
        // A reply that is not IKE: the parser's offset and reason.
        let mut cut = sa_init([1; 8], [9; 8], false);
        cut.truncate(20);
        let a = farhand_proto::step::Anomaly::new(
            farhand_proto::step::Layer::Ipsec,
            20,
            farhand_proto::step::Reason::Truncated,
        );
        assert_eq!(IpsecFingerprint.inspect(&ex(&req, &cut, false)), Outcome::Anomaly(a));
        for d in [&b"\x00\x00\x00\x00"[..], &[0x45; 100], b"GET / HTTP/1.1\r\n\r\nxxxxxxxxxxxxxxxxxxxxxx"] {
            assert_eq!(IpsecFingerprint.inspect(&ex(d, b"", true)), Outcome::NoMatch);
        }
    }

    /// An ESP packet: SPI, sequence number, 24 bytes of "ciphertext".
    fn esp_packet(spi: u32, seq: u32) -> Vec<u8> {
        let mut p = spi.to_be_bytes().to_vec();
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0xA5; 24]);
        p
    }

    fn on(t: Transport, o: &[u8], r: &[u8], fin: bool, port: u16) -> Outcome {
        IpsecFingerprint.inspect(&Exchange { transport: t, resp_port: port, ..ex(o, r, fin) })
    }

    fn conf(o: Outcome) -> Option<(u8, &'static str, bool)> {
        match o {
            Outcome::Match(Match { confidence, evidence: Evidence::Ipsec(e), .. }) => {
                Some((confidence, e.encapsulation, e.responded))
            }
            _ => None,
        }
    }

    #[test]
    fn esp_and_ah_without_ike() {
        let (a, b) = (esp_packet(0xc15e_0007, 1), esp_packet(0xc7f2_11a0, 1));
        assert_eq!(conf(on(Transport::Esp, &a, &b, false, 0)), Some((CONFIDENCE_PAIR, "esp", true)));
        assert_eq!(on(Transport::Esp, &a, b"", false, 0), Outcome::NeedMore);
        assert_eq!(conf(on(Transport::Esp, &a, b"", true, 0)), Some((CONFIDENCE_PROTOCOL_ONE, "esp", false)));
        // The same SPI both ways is no pair of SAs; a reserved SPI is no ESP header.
        assert_eq!(on(Transport::Esp, &a, &a, true, 0), Outcome::NoMatch);
        assert_eq!(on(Transport::Esp, &esp_packet(7, 1), &b, true, 0), Outcome::NoMatch);
        // AH in tunnel mode: the protected packets are IP.
        let inner = [0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        assert_eq!(conf(on(Transport::Ah, &inner, &inner, false, 0)), Some((CONFIDENCE_PAIR, "ah", true)));
        assert_eq!(on(Transport::Ah, b"\x00\x01", &inner, true, 0), Outcome::NoMatch);
    }

    #[test]
    fn esp_over_udp_needs_its_port_and_two_sas() {
        let (a, b) = (esp_packet(0xc15e_0007, 1), esp_packet(0xc7f2_11a0, 1));
        assert_eq!(
            conf(on(Transport::Udp, &a, &b, false, NAT_T_PORT)),
            Some((CONFIDENCE_UDP_PAIR, "esp_in_udp", true))
        );
        assert_eq!(
            conf(on(Transport::Udp, &a, b"", true, NAT_T_PORT)),
            Some((CONFIDENCE_UDP_ONE, "esp_in_udp", false))
        );
        assert_eq!(on(Transport::Udp, &a, &b, true, 5000), Outcome::NoMatch, "not on 4500");
        assert_eq!(on(Transport::Udp, &a, &a, true, NAT_T_PORT), Outcome::NoMatch);
        assert_eq!(on(Transport::Udp, &a, b"\xff", true, NAT_T_PORT), Outcome::NoMatch);
        // IKE behind the non-ESP marker on 4500 stays IKE.
        let i = [1, 2, 3, 4, 5, 6, 7, 8];
        let Some((_, proto, _)) = conf(on(Transport::Udp, &sa_init(i, [0; 8], true), b"", true, NAT_T_PORT)) else {
            panic!()
        };
        assert_eq!(proto, "ike");
        for len in 0..a.len() {
            let _ = on(Transport::Udp, &a[..len], &b[..len], true, NAT_T_PORT);
            let _ = on(Transport::Esp, &a[..len], &b[..len], true, 0);
        }
    }
}
