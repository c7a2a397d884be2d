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
//! # Contract
//! - Works on [`Transport::Icmp`] flows (echo request/reply, keyed by identifier): `orig` is
//!   the first request's payload, `resp` the first reply's.
//! - Match when either payload is an encapsulated IP packet; `NoMatch` as soon as a present
//!   payload is not one (ordinary ping); `NeedMore` only while both are empty.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{IcmpTunnelEvidence, InnerIp};
use farhand_model::tool::{Match, Method, Tool, Transport};

/// Smallest IPv4 header.
pub const IPV4_MIN_HEADER: usize = 20;
/// IPv6 fixed header.
pub const IPV6_HEADER: usize = 40;
/// Confidence: both the request and the reply carry IP packets.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: one direction carries an IP packet.
pub const CONFIDENCE_ONE: u8 = 85;

fn checksum_ok(h: &[u8]) -> bool {
    let mut sum: u32 = 0;
    for pair in h.chunks(2) {
        let hi = pair.first().copied().unwrap_or(0);
        let lo = pair.get(1).copied().unwrap_or(0);
        sum += u32::from(u16::from_be_bytes([hi, lo]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// The IP packet an echo payload carries, if it is one.
pub fn inner_ip(p: &[u8]) -> Option<InnerIp> {
    let first = *p.first()?;
    match first >> 4 {
        4 => {
            let ihl = usize::from(first & 0x0f) * 4;
            if ihl < IPV4_MIN_HEADER {
                return None;
            }
            let header = p.get(..ihl)?;
            let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
            (total == p.len() && checksum_ok(header)).then_some(InnerIp {
                version: 4,
                protocol: *p.get(9)?,
                length: total,
            })
        }
        6 => {
            let plen = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
            (p.len() >= IPV6_HEADER && plen + IPV6_HEADER == p.len()).then_some(InnerIp {
                version: 6,
                protocol: *p.get(6)?,
                length: p.len(),
            })
        }
        _ => None,
    }
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
        Interest::icmp(1500)
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

    /// An IPv4/TCP header (20 + 20 bytes, valid checksum) as an icmptunnel-style payload.
    fn ipv4_packet() -> Vec<u8> {
        let mut p =
            vec![0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 10, 0, 0, 1, 10, 0, 0, 2];
        let mut sum: u32 = p.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let c = !(sum as u16);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&[0u8; 20]);
        p
    }

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
    fn truncation_sweep_and_hostile_lengths() {
        let p = ipv4_packet();
        for len in 0..=p.len() {
            let _ = IcmpTunnelFingerprint.inspect(&ex(&p[..len], &p[..len], true));
            assert_ne!(IcmpTunnelFingerprint.inspect(&ex(&p[..len], b"", true)), Outcome::NeedMore);
        }
        // IHL 15 with 20 bytes; IPv6 payload length 0xffff.
        let mut h = ipv4_packet();
        h[0] = 0x4f;
        assert!(inner_ip(&h[..20]).is_none());
        let mut v6 = vec![0x60, 0, 0, 0, 0xff, 0xff, 17, 64];
        v6.extend_from_slice(&[0u8; 32]);
        assert!(inner_ip(&v6).is_none());
        v6[4] = 0;
        v6[5] = 0;
        assert_eq!(inner_ip(&v6), Some(InnerIp { version: 6, protocol: 17, length: 40 }));
    }
}
