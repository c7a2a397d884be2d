//! ICMP tunnel fingerprint: IP packets carried inside ICMP echo payloads.
//!
//! An ordinary echo request (RFC 792, RFC 4443 §4.1) carries filler the sender chose — a
//! timestamp and a byte counter (Linux `ping`), the alphabet (Windows) — and the reply
//! returns it unchanged. Tunnel tools of the icmptunnel family instead put whole IP packets
//! into the echo payloads, in both directions. farhand recognises that structure: the payload
//! parses as an IPv4 header whose version, header length, total length (equal to the payload
//! length) and header checksum are all consistent, or as an IPv6 header whose payload length
//! accounts for the rest of the payload. A checksum that verifies by chance in filler is a
//! 1-in-65,536 event on top of the length equality, so such a payload was put there on purpose.
//!
//! One payload is still not a tunnel: a crafted ping (`nping --data`, `hping3 -E`) can carry
//! any bytes once, and a plain echo responder returns them unchanged. A tunnel moves *many*
//! packets, and its far end answers with packets of its own. So farhand needs two pieces of
//! evidence from different echo messages before it says "tunnel":
//!
//! - the request and the reply each carry an IP packet and they differ (the far end is a
//!   tunnel endpoint, not an echo responder): [`CONFIDENCE_BOTH`];
//! - or the first payload is an IP packet and at least [`MIN_MORE_IP_LED`] more echo
//!   payloads of the flow begin like IP headers (version 4 with a header length of at least
//!   5 words, or version 6 with a zero traffic-class nibble): [`CONFIDENCE_SEVERAL`] when their sizes vary (tunnelled traffic
//!   does), [`CONFIDENCE_REPEATED`] when every one is the same size (one probe repeated).
//!
//! A lone IP-shaped payload, answered by an exact echo or not at all, raises nothing.
//!
//! The embedded header checks are [`farhand_proto::icmp`]'s; this file decides.
//!
//! # Contract
//! - Works on [`Transport::Icmp`] flows (echo request/reply, keyed by identifier): `orig` is
//!   the first request's payload, `resp` the first reply's, [`Exchange::datagrams`] the
//!   first messages' heads (first byte and size) in both directions.
//! - `NoMatch` as soon as the first payload present is not an encapsulated IP packet
//!   (ordinary ping: filler is not a broken tunnel, so no anomaly). While it is one, waits
//!   (`NeedMore`) for a differing reply or more messages, and decides when the evidence is
//!   there, the heads are full or the flow ended.

use super::{Exchange, Fingerprint, Interest, MAX_DATAGRAM_HEADS, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{IcmpTunnelEvidence, InnerIp};
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::icmp::InnerHeader;

/// Confidence: the request and the reply carry different IP packets.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: the first payload is an IP packet and several more, of varying sizes, begin
/// like one.
pub const CONFIDENCE_SEVERAL: u8 = 85;
/// Confidence: as [`CONFIDENCE_SEVERAL`], every payload the same size.
pub const CONFIDENCE_REPEATED: u8 = 60;
/// Echo payloads besides the first that must begin like IP headers.
pub const MIN_MORE_IP_LED: usize = 3;
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

/// Whether a payload's first byte can begin an IP header: version 4 with IHL ≥ 5, or
/// version 6 with the traffic class's high nibble 0 (as tunnelled IPv6 has it; 0x61–0x6F are
/// also ASCII `a`–`o`, the alphabet filler of Windows pings).
fn ip_led(first: u8) -> bool {
    matches!(first, 0x45..=0x4f | 0x60)
}

/// The ICMP tunnel fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct IcmpTunnelFingerprint;

impl Fingerprint for IcmpTunnelFingerprint {
    fn tool(&self) -> Tool {
        Tool::IcmpTunnel
    }
    fn version(&self) -> &'static str {
        "2"
    }
    fn interest(&self) -> Interest {
        // Whole echo payloads are kept (one per direction); larger ones are cut here. The
        // heads of the first messages count the IP-shaped ones.
        Interest::icmp(BYTES_WANTED).with_datagram_heads()
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Icmp {
            return Outcome::NoMatch;
        }
        let (req, rep) = (inner_ip(ex.orig), inner_ip(ex.resp));
        // The first payload there decides whether this can be a tunnel at all.
        let first_ip = match (ex.orig.is_empty(), ex.resp.is_empty()) {
            (true, true) => return if ex.finished { Outcome::NoMatch } else { Outcome::NeedMore },
            (false, _) => req.is_some(),
            (true, false) => rep.is_some(),
        };
        if !first_ip {
            return Outcome::NoMatch;
        }
        let mut led = ex.datagrams.iter().filter(|d| ip_led(d.first)).map(|d| d.len);
        let first_len = led.next();
        let (more, varied) = led.fold((0usize, false), |(n, v), l| (n + 1, v || Some(l) != first_len));
        let confidence = if req.is_some() && rep.is_some() && ex.orig != ex.resp {
            CONFIDENCE_BOTH
        } else if more >= MIN_MORE_IP_LED && varied {
            CONFIDENCE_SEVERAL
        } else if !ex.finished && ex.datagrams.len() < MAX_DATAGRAM_HEADS {
            return Outcome::NeedMore;
        } else if more >= MIN_MORE_IP_LED {
            CONFIDENCE_REPEATED
        } else {
            return Outcome::NoMatch;
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
    use crate::detect::fingerprint::DatagramHead;
    use crate::testutil::icmp::ipv4_packet;

    fn ex<'a>(orig: &'a [u8], resp: &'a [u8], finished: bool) -> Exchange<'a> {
        Exchange { transport: Transport::Icmp, orig, resp, orig_port: 7, resp_port: 7, finished, datagrams: &[] }
    }

    fn head(from_initiator: bool, p: &[u8]) -> DatagramHead {
        DatagramHead { from_initiator, first: p.first().copied().unwrap_or_default(), len: p.len() as u16 }
    }

    fn confidence(o: &Outcome) -> Option<u8> {
        match o {
            Outcome::Match(m) => Some(m.confidence),
            _ => None,
        }
    }

    #[test]
    fn ip_in_icmp_both_ways_matches() {
        let p = ipv4_packet();
        // The far end answers with a packet of its own (here: the same packet, addresses
        // swapped and the checksum fixed by the helper's layout being symmetric).
        let mut q = p.clone();
        q.swap(12, 16);
        q.swap(13, 17);
        q.swap(14, 18);
        q.swap(15, 19);
        assert!(inner_ip(&q).is_some(), "swapping the addresses keeps the checksum");
        let Outcome::Match(m) = IcmpTunnelFingerprint.inspect(&ex(&p, &q, false)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::IcmpTunnel, CONFIDENCE_BOTH));
        let Evidence::IcmpTunnel(e) = m.evidence else { panic!() };
        assert_eq!(e.request_inner, Some(InnerIp { version: 4, protocol: 6, length: 40 }));
    }

    #[test]
    fn one_ip_shaped_payload_is_not_a_tunnel() {
        let p = ipv4_packet();
        let one = [head(true, &p)];
        // Unanswered, the flow over: nothing. Still going: wait for more.
        let lone = Exchange { datagrams: &one, ..ex(&p, b"", true) };
        assert_eq!(IcmpTunnelFingerprint.inspect(&lone), Outcome::NoMatch);
        let going = Exchange { datagrams: &one, ..ex(&p, b"", false) };
        assert_eq!(IcmpTunnelFingerprint.inspect(&going), Outcome::NeedMore);
        // Answered by an exact echo (a plain echo responder): still one payload.
        let echoed = [head(true, &p), head(false, &p)];
        let echo = Exchange { datagrams: &echoed, ..ex(&p, &p, true) };
        assert_eq!(IcmpTunnelFingerprint.inspect(&echo), Outcome::NoMatch);
        assert_eq!(IcmpTunnelFingerprint.inspect(&Exchange { finished: false, ..echo }), Outcome::NeedMore);
    }

    #[test]
    fn several_ip_led_payloads_match_by_their_sizes() {
        let p = ipv4_packet();
        let mut big = vec![0x45u8];
        big.resize(84, 0);
        // Four IP-led requests, unanswered: the same size is one probe repeated, varied sizes
        // are traffic.
        let same = [head(true, &p); 4];
        let o = IcmpTunnelFingerprint.inspect(&Exchange { datagrams: &same, ..ex(&p, b"", true) });
        assert_eq!(confidence(&o), Some(CONFIDENCE_REPEATED));
        let o = IcmpTunnelFingerprint.inspect(&Exchange { datagrams: &same, ..ex(&p, b"", false) });
        assert_eq!(o, Outcome::NeedMore, "same sizes wait for the heads to fill");
        let varied = [head(true, &p), head(true, &big), head(true, &p), head(true, &p)];
        let o = IcmpTunnelFingerprint.inspect(&Exchange { datagrams: &varied, ..ex(&p, b"", false) });
        assert_eq!(confidence(&o), Some(CONFIDENCE_SEVERAL));
        // Three are not enough, nor are four whose others are filler.
        let filler = b"abcdefghijklmnopqrstuvwabcdefghi";
        let three = [head(true, &p), head(true, &big), head(true, &p)];
        let o = IcmpTunnelFingerprint.inspect(&Exchange { datagrams: &three, ..ex(&p, b"", true) });
        assert_eq!(o, Outcome::NoMatch);
        let mixed = [head(true, &p), head(true, &big), head(true, filler), head(true, &p)];
        let o = IcmpTunnelFingerprint.inspect(&Exchange { datagrams: &mixed, ..ex(&p, b"", true) });
        assert_eq!(o, Outcome::NoMatch);
        // Full heads decide without the flow's end.
        let full = [head(true, &p); MAX_DATAGRAM_HEADS];
        let o = IcmpTunnelFingerprint.inspect(&Exchange { datagrams: &full, ..ex(&p, b"", false) });
        assert_eq!(confidence(&o), Some(CONFIDENCE_REPEATED));
    }

    #[test]
    fn ip_led_first_bytes() {
        for (b, want) in [
            (0x44, false),
            (0x45, true),
            (0x4f, true),
            (0x50, false),
            (0x5f, false),
            (0x60, true),
            (0x61, false),
            (0x6f, false),
            (0x70, false),
            (0x08, false),
        ] {
            assert_eq!(ip_led(b), want, "{b:#04x}");
        }
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
            assert_eq!(
                IcmpTunnelFingerprint.inspect(&ex(p, b"", false)),
                if p.is_empty() { Outcome::NeedMore } else { Outcome::NoMatch }
            );
        }
        assert_eq!(IcmpTunnelFingerprint.inspect(&ex(b"", b"", false)), Outcome::NeedMore);
        // A payload starting 0x45 with a wrong length or checksum is filler, not IP.
        let mut p = ipv4_packet();
        p[11] ^= 1;
        assert_eq!(IcmpTunnelFingerprint.inspect(&ex(&p, &p, false)), Outcome::NoMatch);
        let p = ipv4_packet();
        assert_eq!(IcmpTunnelFingerprint.inspect(&ex(&p[..39], &p[..39], false)), Outcome::NoMatch);
        // The reply alone (the request not captured) decides the same way.
        assert_eq!(IcmpTunnelFingerprint.inspect(&ex(b"", &linux, false)), Outcome::NoMatch);
        assert_eq!(IcmpTunnelFingerprint.inspect(&ex(b"", &p, false)), Outcome::NeedMore);
    }

    #[test]
    fn truncation_sweep_and_inner_ipv6() {
        let p = ipv4_packet();
        let heads = [head(true, &p); MAX_DATAGRAM_HEADS];
        for len in 0..=p.len() {
            let _ = IcmpTunnelFingerprint.inspect(&ex(&p[..len], &p[..len], true));
            let o = IcmpTunnelFingerprint.inspect(&Exchange { datagrams: &heads, ..ex(&p[..len], b"", true) });
            assert_ne!(o, Outcome::NeedMore);
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
