//! ICMP tunnel fingerprint: IP packets carried inside ICMP echo payloads.
//!
//! An ordinary echo request (RFC 792, RFC 4443 §4.1) carries filler the sender chose — a
//! timestamp and a byte counter (Linux `ping`), the alphabet (Windows) — and the reply
//! returns it unchanged. Tunnel tools of the icmptunnel family instead put whole IP packets
//! into the echo payloads, in both directions. farhand recognises that structure: the payload
//! parses as an IPv4 header whose version, header length, total length (equal to the payload
//! length) and header checksum are all consistent, or as an IPv6 header whose payload length
//! accounts for the rest of the payload. A checksum that verifies by chance in filler is a
//! 1-in-65,536 event on top of the length equality, so one such payload is strong evidence.
//!
//! The embedded header checks are [`farhand_proto::icmp`]'s; this file decides.
//!
//! # Contract
//! - Works on [`Transport::Icmp`] flows (echo request/reply, keyed by identifier): `orig` is
//!   the first request's payload, `resp` the first reply's.
//! - Match when either payload is an encapsulated IP packet; `NoMatch` as soon as a present
//!   payload is not one (ordinary ping: filler is not a broken tunnel, so no anomaly);
//!   `NeedMore` only while both are empty.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{IcmpTunnelEvidence, InnerIp};
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::icmp::InnerHeader;

/// Confidence: both the request and the reply carry IP packets.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: one direction carries an IP packet.
pub const CONFIDENCE_ONE: u8 = 85;
/// Largest echo payload read per direction (a whole one at Ethernet MTU).
pub const BYTES_WANTED: usize = 1500;

/// The IP packet an echo payload carries, if it is one.
pub fn inner_ip(p: &[u8]) -> Option<InnerIp> {
    farhand_proto::icmp::inner_ip(p).done().map(|InnerHeader { version, protocol, length }| InnerIp {
        version,
        protocol,
        length,
    })
}

/// The ICMP tunnel fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct IcmpTunnelFingerprint;

impl Fingerprint for IcmpTunnelFingerprint {
    fn tool(&self) -> Tool {
        Tool::IcmpTunnel
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        // Whole echo payloads are kept (one per direction); larger ones are cut here.
        Interest::icmp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Icmp {
            return Outcome::NoMatch;
        }
        let (req, rep) = (inner_ip(ex.orig), inner_ip(ex.resp));
        let confidence = match (req, rep) {
            (Some(_), Some(_)) => CONFIDENCE_BOTH,
            (Some(_), None) | (None, Some(_)) => CONFIDENCE_ONE,
            (None, None) if ex.orig.is_empty() && ex.resp.is_empty() && !ex.finished => return Outcome::NeedMore,
            (None, None) => return Outcome::NoMatch,
        };
        Outcome::Match(Match {
            tool: Tool::IcmpTunnel,
            confidence,
            method: Method::PayloadStructure,
            evidence: Evidence::IcmpTunnel(IcmpTunnelEvidence {
                request_inner: req,
                reply_inner: rep,
                payload_sizes: [ex.orig.len(), ex.resp.len()],
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::icmp::ipv4_packet;

    fn ex<'a>(orig: &'a [u8], resp: &'a [u8], finished: bool) -> Exchange<'a> {
        Exchange { transport: Transport::Icmp, orig, resp, orig_port: 7, resp_port: 7, finished, datagrams: &[] }
    }

    #[test]
    fn ip_in_icmp_matches() {
        let p = ipv4_packet();
        let Outcome::Match(m) = IcmpTunnelFingerprint.inspect(&ex(&p, &p, false)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::IcmpTunnel, CONFIDENCE_BOTH));
        let Evidence::IcmpTunnel(e) = m.evidence else { panic!() };
        assert_eq!(e.request_inner, Some(InnerIp { version: 4, protocol: 6, length: 40 }));
        assert!(matches!(IcmpTunnelFingerprint.inspect(&ex(&p, b"", true)), Outcome::Match(_)));
    }

    #[test]
    fn ordinary_pings_do_not_match() {
        // Linux ping: 8-byte timestamp then 0x08..0x37; Windows: the alphabet.
        let mut linux: Vec<u8> = vec![0x2d, 0x6e, 0x13, 0x51, 0, 0, 0, 0];
        linux.extend(0x08u8..0x38);
        let windows = b"abcdefghijklmnopqrstuvwabcdefghi";
        for p in [&linux[..], &windows[..], b""] {
            let o = IcmpTunnelFingerprint.inspect(&ex(p, p, true));
            assert_eq!(o, Outcome::NoMatch);
        }
        assert_eq!(IcmpTunnelFingerprint.inspect(&ex(b"", b"", false)), Outcome::NeedMore);
        // A payload starting 0x45 with a wrong length or checksum is filler, not IP.
        let mut p = ipv4_packet();
        p[11] ^= 1;
        assert_eq!(IcmpTunnelFingerprint.inspect(&ex(&p, &p, true)), Outcome::NoMatch);
        let p = ipv4_packet();
        assert_eq!(IcmpTunnelFingerprint.inspect(&ex(&p[..39], &p[..39], true)), Outcome::NoMatch);
    }

    #[test]
    fn truncation_sweep_and_inner_ipv6() {
        let p = ipv4_packet();
        for len in 0..=p.len() {
            let _ = IcmpTunnelFingerprint.inspect(&ex(&p[..len], &p[..len], true));
            assert_ne!(IcmpTunnelFingerprint.inspect(&ex(&p[..len], b"", true)), Outcome::NeedMore);
        }
        // (The parser's own hostile-length cases are proto::icmp's tests.) An IPv6 inner
        // header maps to the evidence's InnerIp.
        let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
        v6.extend_from_slice(&[0u8; 32]);
        assert_eq!(inner_ip(&v6), Some(InnerIp { version: 6, protocol: 17, length: 40 }));
        v6[5] = 1;
        assert_eq!(IcmpTunnelFingerprint.inspect(&ex(&v6, &v6, true)), Outcome::NoMatch);
    }
}
