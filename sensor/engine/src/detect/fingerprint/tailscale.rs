//! Tailscale fingerprint: disco (peer discovery) packets over UDP.
//!
//! # Contract
//! Works on the first UDP datagram of each direction, on any port (Tailscale's default is
//! 41641 but it picks others). Answers `Match` as soon as one datagram is a well-formed disco
//! packet, `NoMatch` when neither direction can be one, and `NeedMore` while only an empty
//! responder side is missing and the exchange is not finished. Tailscale's WireGuard traffic
//! itself is left to the WireGuard fingerprint.
//!
//! The disco packet's framing (magic, sender key, nonce, sealed box) is read by
//! [`farhand_proto::tailscale`]; this file decides. `Anomaly` when a datagram that carries
//! the whole magic is cut short of a disco packet and no disco packet was seen.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::TailscaleEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::step::Reason;
use farhand_proto::tailscale::{DISCO_MAGIC, Disco, parse_datagram, probe};

/// Bytes of the sender key reported in the evidence.
pub const KEY_PREFIX_LEN: usize = 8;
/// Bytes per direction this fingerprint reads: enough for the header.
pub const BYTES_WANTED: usize = 512;

/// Confidence: disco packets in both directions.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: disco packets of one direction only (48 bits of magic plus a length floor): one
/// side alone is never "high" (docs/CONFIDENCE.md).
pub const CONFIDENCE_ONE: u8 = 75;

/// Lower-case hex of the first [`KEY_PREFIX_LEN`] bytes of a key.
pub fn key_prefix_hex(key: &[u8]) -> String {
    use std::fmt::Write as _;
    key.iter().take(KEY_PREFIX_LEN).fold(String::with_capacity(2 * KEY_PREFIX_LEN), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Decide on the two parsed directions.
pub fn fingerprint(orig: Step<Disco<'_>>, resp: Step<Disco<'_>>, finished: bool) -> Outcome {
    let (o, r) = match (orig, resp) {
        (Step::Done(o), Step::Done(r)) => (Some(o), Some(r)),
        (Step::Done(o), _) => (Some(o), None),
        (_, Step::Done(r)) => (None, Some(r)),
        (Step::Incomplete, Step::Incomplete) if !finished => return Outcome::NeedMore,
        // A side that began with the magic and broke the framing says where and why.
        _ => {
            let broken = [orig, resp].into_iter().find_map(|side| match side {
                // Cut after the whole magic: the anomaly's offset is the datagram's length.
                Step::Invalid(a) if a.reason != Reason::BadMagic && a.offset as usize >= DISCO_MAGIC.len() => Some(a),
                _ => None,
            });
            return broken.map_or(Outcome::NoMatch, Outcome::Anomaly);
        }
    };
    // One disco packet is decisive; a missing reply is only waited for to raise confidence.
    if r.is_none() && resp == Step::Incomplete && !finished {
        return Outcome::NeedMore;
    }
    let both = o.is_some() && r.is_some();
    Outcome::Match(Match {
        tool: Tool::Tailscale,
        confidence: if both { CONFIDENCE_BOTH } else { CONFIDENCE_ONE },
        method: Method::PayloadStructure,
        evidence: Evidence::Tailscale(TailscaleEvidence {
            orig_disco_key: o.map(|d| key_prefix_hex(d.sender_key)),
            resp_disco_key: r.map(|d| key_prefix_hex(d.sender_key)),
            disco_packets: u8::from(o.is_some()) + u8::from(r.is_some()),
        }),
    })
}

/// The Tailscale fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct TailscaleFingerprint;

impl Fingerprint for TailscaleFingerprint {
    fn tool(&self) -> Tool {
        Tool::Tailscale
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Udp || !probe(ex.orig) && !probe(ex.resp) {
            return Outcome::NoMatch;
        }
        fingerprint(parse_datagram(ex.orig), parse_datagram(ex.resp), ex.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::tailscale::disco;
    use farhand_model::anomaly::{Anomaly, Layer};
    use farhand_proto::tailscale::{BOX_OVERHEAD, MIN_PACKET_LEN};

    // No Tailscale software is available in the lab, so these packets are built from the
    // documented format (tailscale `disco/disco.go`): magic, a 32-byte key, a 24-byte nonce and
    // a sealed box of 16-byte tag + 30-byte ping body (type 1, version 0, 12-byte tx id,
    // 16-byte node key). Key, nonce and box bytes are arbitrary: nothing checks them.
    const PING_BOX_LEN: usize = BOX_OVERHEAD + 30;

    fn inspect(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        TailscaleFingerprint.inspect(&Exchange {
            transport: Transport::Udp,
            orig,
            resp,
            orig_port: 41641,
            resp_port: 41641,
            finished,
            datagrams: &[],
        })
    }

    fn evidence(out: &Outcome) -> (u8, &TailscaleEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                tool: Tool::Tailscale,
                method: Method::PayloadStructure,
                evidence: Evidence::Tailscale(e),
            }) => (*confidence, e),
            other => panic!("expected a Tailscale match, got {other:?}"),
        }
    }

    #[test]
    fn ping_and_pong_match_with_keys() {
        let (ping, pong) = (disco(0x10, PING_BOX_LEN), disco(0x80, PING_BOX_LEN));
        let out = inspect(&ping, &pong, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(e.orig_disco_key.as_deref(), Some("1011121314151617"));
        assert_eq!(e.resp_disco_key.as_deref(), Some("8081828384858687"));
        assert_eq!(e.disco_packets, 2);
        // Ports play no part.
        let other_ports = TailscaleFingerprint.inspect(&Exchange {
            transport: Transport::Udp,
            orig: &ping,
            resp: &pong,
            orig_port: 53,
            resp_port: 443,
            finished: false,
            datagrams: &[],
        });
        assert_eq!(other_ports, out);
    }

    #[test]
    fn one_disco_packet_waits_then_matches() {
        let ping = disco(0x10, PING_BOX_LEN);
        assert_eq!(inspect(&ping, b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&inspect(&ping, b"", true)).0, CONFIDENCE_ONE);
        // A WireGuard reply (Tailscale's data path) does not lower the disco verdict.
        let mut wg = vec![4, 0, 0, 0];
        wg.extend_from_slice(&[0x11; 28]);
        assert_eq!(evidence(&inspect(&ping, &wg, false)).0, CONFIDENCE_ONE);
        // The responder's disco packet alone also counts (capture started mid-exchange).
        let out = inspect(&wg, &ping, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_ONE);
        assert!(e.orig_disco_key.is_none() && e.resp_disco_key.is_some());
    }

    #[test]
    fn truncation_sweep() {
        let ping = disco(0x10, PING_BOX_LEN);
        for len in 0..ping.len() {
            let out = inspect(&ping[..len], b"", true);
            if len >= MIN_PACKET_LEN {
                assert_eq!(evidence(&out).0, CONFIDENCE_ONE, "{len}");
            } else if len < DISCO_MAGIC.len() {
                assert_eq!(out, Outcome::NoMatch, "{len}");
            } else {
                assert_eq!(out, Outcome::Anomaly(Anomaly::new(Layer::Tailscale, len, Reason::Truncated)), "{len}");
            }
            assert_ne!(inspect(&ping[..len], b"", true), Outcome::NeedMore);
        }
    }

    #[test]
    fn near_misses_and_other_protocols_do_not_match() {
        let mut bad = disco(0x10, PING_BOX_LEN);
        bad[5] = 0xAD;
        assert_eq!(inspect(&bad, b"", true), Outcome::NoMatch);
        assert_eq!(
            inspect(&bad, &disco(1, 3), true),
            Outcome::Anomaly(Anomaly::new(Layer::Tailscale, 65, Reason::Truncated))
        );
        let stun = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        assert_eq!(inspect(&stun, b"", true), Outcome::NoMatch);
        assert_eq!(inspect(b"TS", b"", false), Outcome::NoMatch);
        assert_eq!(inspect(b"", b"", false), Outcome::NeedMore);
        assert_eq!(inspect(b"", b"", true), Outcome::NoMatch);
        // Pseudo-random datagrams (xorshift) never carry the magic.
        let mut x: u32 = 0x1234_5678;
        for len in [1usize, 6, 40, 78, 200, 1200] {
            let d: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            assert_eq!(inspect(&d, &d, true), Outcome::NoMatch);
        }
        assert!(!TailscaleFingerprint.wants(Transport::Tcp));
        let tcp = TailscaleFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig: &disco(1, PING_BOX_LEN),
            resp: b"",
            orig_port: 1,
            resp_port: 2,
            finished: true,
            datagrams: &[],
        });
        assert_eq!(tcp, Outcome::NoMatch);
    }
}
