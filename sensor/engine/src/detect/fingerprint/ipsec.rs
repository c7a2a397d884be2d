//! IPsec key exchange fingerprint: IKEv1/IKEv2 (ISAKMP) messages over UDP, any port
//! (usually 500, and 4500 with NAT traversal).
//!
//! Facts used: the ISAKMP header (RFC 2408 §3.1, RFC 7296 §3.1) is 28 bytes — initiator SPI
//! (8, never zero), responder SPI (8, zero in the first message of an exchange), next
//! payload, version (major.minor nibbles: 0x10 IKEv1, 0x20 IKEv2), exchange type, flags,
//! message ID, and a length that equals the message's length. With NAT traversal on port
//! 4500 (RFC 3948 §2.2) an IKE message is preceded by a four-byte zero non-ESP marker. The
//! responder answers with the same initiator SPI. Exchange types: IKEv1 1–5, 32 (quick
//! mode), 33 (new group); IKEv2 34–37 (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA,
//! INFORMATIONAL), 43 (IKE_SESSION_RESUME).
//!
//! # Contract
//! - Match when the initiator's first datagram is an exact ISAKMP message and the reply (if
//!   any) carries the same initiator SPI; `NoMatch` on any inconsistency.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::IpsecEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};

/// ISAKMP header length.
pub const HEADER: usize = 28;
/// Confidence: request and response with matching SPIs.
pub const CONFIDENCE_PAIR: u8 = 95;
/// Confidence: one exact message.
pub const CONFIDENCE_ONE: u8 = 75;

/// A parsed ISAKMP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Initiator SPI.
    pub ispi: [u8; 8],
    /// Responder SPI.
    pub rspi: [u8; 8],
    /// 1 or 2.
    pub major: u8,
    /// Exchange type.
    pub exchange: u8,
    /// A non-ESP marker preceded the message (NAT traversal, port 4500).
    pub nat_t: bool,
}

/// Parses one datagram as an ISAKMP message (with or without a non-ESP marker).
pub fn parse(d: &[u8]) -> Option<Header> {
    let (nat_t, m) = match d.get(..4) {
        Some([0, 0, 0, 0]) => (true, d.get(4..)?),
        _ => (false, d),
    };
    let h = m.get(..HEADER)?;
    let ispi: [u8; 8] = h.get(..8)?.try_into().ok()?;
    let rspi: [u8; 8] = h.get(8..16)?.try_into().ok()?;
    let version = *h.get(17)?;
    let exchange = *h.get(18)?;
    let len = u32::from_be_bytes(h.get(24..28)?.try_into().ok()?) as usize;
    let major = version >> 4;
    let exchange_ok = match major {
        1 => matches!(exchange, 1..=5 | 32 | 33),
        2 => matches!(exchange, 34..=37 | 43),
        _ => false,
    };
    let next_ok = *h.get(16)? != 0 || exchange == 5 || exchange == 37;
    (ispi != [0; 8] && exchange_ok && next_ok && version & 0x0f == 0 && len == m.len()).then_some(Header {
        ispi,
        rspi,
        major,
        exchange,
        nat_t,
    })
}

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
        Interest::udp(2048)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Udp {
            return Outcome::NoMatch;
        }
        let Some(req) = parse(ex.orig) else { return Outcome::NoMatch };
        let responded = match (ex.resp.is_empty(), parse(ex.resp)) {
            (true, _) if !ex.finished => return Outcome::NeedMore,
            (true, _) => false,
            (false, Some(r)) if r.ispi == req.ispi && r.major == req.major => true,
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
        assert!(parse(&n).is_some_and(|h| h.nat_t));
        assert_eq!(IpsecFingerprint.inspect(&ex(&req, b"", false)), Outcome::NeedMore);
        assert_eq!(IpsecFingerprint.inspect(&ex(&req, &sa_init([7; 8], [9; 8], false), false)), Outcome::NoMatch);
    }

    #[test]
    fn negatives_truncation_hostile() {
        let req = sa_init([1; 8], [0; 8], false);
        for len in 0..req.len() {
            assert!(parse(&req[..len]).is_none());
        }
        let mut zero_spi = req.clone();
        zero_spi[..8].fill(0);
        assert!(parse(&zero_spi).is_none());
        let mut bad_len = req.clone();
        bad_len[24..28].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse(&bad_len).is_none());
        for d in [&b"\x00\x00\x00\x00"[..], &[0x45; 100], b"GET / HTTP/1.1\r\n\r\nxxxxxxxxxxxxxxxxxxxxxx"] {
            assert_eq!(IpsecFingerprint.inspect(&ex(d, b"", true)), Outcome::NoMatch);
        }
    }
}
