//! SoftEther VPN fingerprint: its PACK messages and NAT-traversal keepalives over UDP, any
//! port (the NAT-T servers listen on 5004).
//!
//! # Facts used
//! - SoftEther's PACK serialisation and the NAT-T keepalive answer are
//!   `farhand_proto::softether`'s.
//! - The NAT-traversal servers (observed in the nDPI capture `softether.pcap`, UDP 5004):
//!   the client sends PACKs (`opcode`/`get_token`, `host_name`/`machine_key` …) answered with
//!   PACKs (`isret`, `my_ip` …), and a one-byte keepalive `A` answered with the text
//!   `IP=<client's public address>,PORT=<client's public port>`.
//!
//! # Contract
//! Match when the initiator's first datagram is a whole PACK answered by a whole PACK, or the
//! `A` keepalive answered by an `IP=…,PORT=…` line; at `finished`, a whole PACK of at least
//! two elements alone. `NoMatch` as soon as a datagram is neither (`Anomaly`, with the
//! parser's offset and reason, when a whole PACK is answered by a datagram that is not one; a
//! one-byte keepalive begins nothing). UDP only (SoftEther's TCP sessions run inside TLS and
//! are recognised by name).

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::SoftEtherEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::softether::{KEEPALIVE, Pack, parse_keepalive_answer, parse_pack};

/// Largest datagram this fingerprint reads.
pub const BYTES_WANTED: usize = 2048;
/// Element names reported in the evidence, per message.
const REPORTED_NAMES: usize = 4;

/// Confidence: a PACK answered by a PACK.
pub const CONFIDENCE_PACKS: u8 = 90;
/// Confidence: the NAT-T keepalive and its answer.
pub const CONFIDENCE_KEEPALIVE: u8 = 85;
/// Confidence: one PACK alone.
pub const CONFIDENCE_PACK: u8 = 65;

/// The element names the evidence reports.
fn names(p: &Pack<'_>) -> Vec<String> {
    p.elements().take(REPORTED_NAMES).map(|e| e.name.to_string()).collect()
}

/// The SoftEther fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct SoftEtherFingerprint;

impl Fingerprint for SoftEtherFingerprint {
    fn tool(&self) -> Tool {
        Tool::SoftEther
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
        let keepalive = ex.orig == KEEPALIVE;
        let client = if keepalive { None } else { parse_pack(ex.orig).done() };
        if !keepalive && client.is_none() {
            return Outcome::NoMatch;
        }
        let mut ev =
            SoftEtherEvidence { client_elements: client.map(|p| names(&p)).unwrap_or_default(), ..Default::default() };
        let confidence = if ex.resp.is_empty() {
            match client {
                _ if !ex.finished => return Outcome::NeedMore,
                Some(p) if p.count >= 2 => {
                    ev.note = "a PACK message alone";
                    CONFIDENCE_PACK
                }
                _ => return Outcome::NoMatch,
            }
        } else if keepalive {
            let Step::Done((ip, port)) = parse_keepalive_answer(ex.resp) else {
                return Outcome::NoMatch;
            };
            ev.reported_public_address = Some(std::net::SocketAddr::new(ip, port).to_string());
            ev.note = "NAT-T keepalive answered with the client's public address";
            CONFIDENCE_KEEPALIVE
        } else {
            let server = match parse_pack(ex.resp) {
                Step::Done(p) => p,
                Step::Invalid(a) => return Outcome::Anomaly(a),
                Step::Incomplete => return Outcome::NoMatch,
            };
            ev.server_elements = names(&server);
            ev.note = "PACK messages both ways";
            CONFIDENCE_PACKS
        };
        Outcome::Match(Match {
            tool: Tool::SoftEther,
            confidence,
            method: Method::PayloadStructure,
            evidence: Evidence::Softether(ev),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::softether::pack;
    use farhand_proto::step::{Anomaly, Layer, Reason};

    fn ex<'a>(o: &'a [u8], r: &'a [u8], fin: bool) -> Exchange<'a> {
        Exchange {
            transport: Transport::Udp,
            orig: o,
            resp: r,
            orig_port: 51381,
            resp_port: 5004,
            finished: fin,
            datagrams: &[],
        }
    }

    fn client() -> Vec<u8> {
        pack(&[("opcode", 2, &[b"get_token"]), ("tran_id", 4, &[&[0, 0, 0, 1, 0x55, 0xca, 0x10, 0x20]])])
    }

    fn server() -> Vec<u8> {
        pack(&[("isret", 0, &[&[0, 0, 0, 1]]), ("my_ip", 2, &[b"130.158.6.105"])])
    }

    #[test]
    fn packs_both_ways_match() {
        // An answer that is no PACK: its element count is over the limit.
        let over_limit = Outcome::Anomaly(Anomaly::new(Layer::SoftEther, 0, Reason::OverLimit));
        let out = SoftEtherFingerprint.inspect(&ex(&client(), &server(), false));
        let Outcome::Match(m) = out else { panic!("{out:?}") };
        assert_eq!((m.tool, m.confidence), (Tool::SoftEther, CONFIDENCE_PACKS));
        let Evidence::Softether(e) = m.evidence else { panic!() };
        assert_eq!(e.client_elements, ["opcode", "tran_id"]);
        assert_eq!(e.server_elements, ["isret", "my_ip"]);
        assert_eq!(SoftEtherFingerprint.inspect(&ex(&client(), b"", false)), Outcome::NeedMore);
        assert!(matches!(SoftEtherFingerprint.inspect(&ex(&client(), b"", true)), Outcome::Match(_)));
        assert_eq!(SoftEtherFingerprint.inspect(&ex(&client(), b"HTTP/1.1 200 OK\r\n", false)), over_limit);
    }

    #[test]
    fn keepalive_and_answer_match() {
        let out = SoftEtherFingerprint.inspect(&ex(b"A", b"IP=192.0.2.7,PORT=51381", false));
        let Outcome::Match(m) = out else { panic!("{out:?}") };
        assert_eq!(m.confidence, CONFIDENCE_KEEPALIVE);
        let Evidence::Softether(e) = m.evidence else { panic!() };
        assert_eq!(e.reported_public_address.as_deref(), Some("192.0.2.7:51381"));
        for bad in [&b"IP=192.0.2.7"[..], b"IP=300.0.2.7,PORT=1", b"IP=192.0.2.7,PORT=70000", b"B"] {
            assert_eq!(SoftEtherFingerprint.inspect(&ex(b"A", bad, false)), Outcome::NoMatch, "{bad:?}");
        }
        // A lone one-byte datagram is not evidence.
        assert_eq!(SoftEtherFingerprint.inspect(&ex(b"A", b"", true)), Outcome::NoMatch);
    }

    #[test]
    fn broken_answers() {
        let (c, s) = (client(), server());
        for len in 0..c.len() {
            assert_ne!(SoftEtherFingerprint.inspect(&ex(&c[..len], &s, true)), Outcome::NeedMore);
        }
        // A PACK answered by a cut PACK: the answer broke where the parser says.
        let cut = Outcome::Anomaly(Anomaly::new(Layer::SoftEther, 0, Reason::Truncated));
        assert_eq!(SoftEtherFingerprint.inspect(&ex(&c, &s[..2], false)), cut);
        let mut trailing = s.clone();
        trailing.push(0);
        let tail = Outcome::Anomaly(Anomaly::new(Layer::SoftEther, s.len(), Reason::BadLength));
        assert_eq!(SoftEtherFingerprint.inspect(&ex(&c, &trailing, false)), tail);
        // The one-byte keepalive begins nothing: a wrong answer is plain NoMatch.
        assert_eq!(SoftEtherFingerprint.inspect(&ex(b"A", &s, false)), Outcome::NoMatch);
    }
}
