//! IPsec key exchange fingerprint: IKEv1/IKEv2 (ISAKMP) messages over UDP, any port
//! (usually 500, and 4500 with NAT traversal).
//!
//! Facts used: the ISAKMP header, its exchange types and the NAT-T non-ESP marker are
//! `farhand_proto::ike`'s (RFC 2408 §3.1, RFC 7296 §3.1, RFC 3948 §2.2). The responder
//! answers with the same initiator SPI.
//!
//! # Contract
//! - Match when the initiator's first datagram is an exact ISAKMP message and the reply (if
//!   any) carries the same initiator SPI and major version; `NoMatch` on any inconsistency
//!   (`Anomaly`, with the parser's offset and reason, when the reply is not an IKE message).

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::IpsecEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::ike::parse;

/// Bytes per direction this fingerprint reads: a whole datagram at a 1500-byte MTU.
pub const BYTES_WANTED: usize = 2048;
/// Confidence: request and response with matching SPIs.
pub const CONFIDENCE_PAIR: u8 = 95;
/// Confidence: one exact message.
pub const CONFIDENCE_ONE: u8 = 75;

/// The IKE fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct IpsecFingerprint;

impl Fingerprint for IpsecFingerprint {
    fn tool(&self) -> Tool {
        Tool::Ipsec
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Udp {
            return Outcome::NoMatch;
        }
        // The initiator's datagram is whole at the first look: its trouble never ends a
        // match that had begun, so it is a plain NoMatch.
        let Step::Done(req) = parse(ex.orig) else { return Outcome::NoMatch };
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
                ike_version: req.major,
                exchange_type: req.exchange,
                nat_traversal: req.nat_t,
                initiator_spi: req.ispi.iter().map(|b| format!("{b:02x}")).collect(),
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
}
