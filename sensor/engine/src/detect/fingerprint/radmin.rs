//! Radmin fingerprint: the checksummed handshake messages of Radmin Server 3 over TCP.
//!
//! # Contract
//! Works on the in-order TCP prefix of each direction, on any port (Radmin's default is 4899,
//! which plays no part). Answers `Match` once the first message of both directions is a
//! complete, checksum-valid Radmin message, `NoMatch` as soon as either direction contradicts
//! the framing (wrong marker, oversized length, bad checksum; an [`Outcome::Anomaly`] when
//! that direction began with the marker), and `NeedMore` otherwise. At
//! `finished` one valid direction alone matches with lower confidence. A connection that
//! carries no payload (a SYN scan, a refused connection) never matches.
//!
//! # Facts used
//! - nDPI (`protocols/radmin.c`) recognises Radmin 3 by a 10-byte client message starting
//!   `01 00 00 00 01` and ending `08 08`, a 46-byte server reply with byte 4 = `0x25`, bytes
//!   7..11 = `02 12 08 02` and byte 13 = `0x0A`, and 14-byte messages with byte 4 = 5 and bytes
//!   8..10 = `27 27`.
//! - Those fixed bytes are one message layout, worked out on the four handshake messages of
//!   nDPI's `radmin3.pcapng` and consistent with every byte nDPI checks:
//!   `u8 0x01`, `u32` big-endian payload length, `u32` big-endian checksum, payload. The
//!   checksum is the sum, modulo 2³², of the payload read as little-endian 16-bit words (an odd
//!   last byte counts as a low byte). The first payload byte is a message code (`0x08` in the
//!   10/46-byte exchange, `0x27` in the 14-byte one). The 32-bit checksum is what makes a
//!   match specific: a 5-byte prefix alone is not used.
//! - Handshake messages are short (tens of bytes); the first message of a direction must fit
//!   in [`BYTES_WANTED`].
//! - The message layout is read by [`farhand_proto::radmin`]; this file decides. A direction
//!   that begins with the marker and then breaks the layout is answered with
//!   [`Outcome::Anomaly`] (the parser's offset and reason).

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{RadminEvidence, RadminMessage};
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::radmin::{MAX_MESSAGE_LEN, Message, first, messages, probe};

/// Bytes per direction this fingerprint reads: a first message always fits.
pub const BYTES_WANTED: usize = MAX_MESSAGE_LEN;

/// Confidence: a valid first message in both directions.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: a valid first message in one direction only (the other sent nothing).
pub const CONFIDENCE_ONE: u8 = 75;

/// Both directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The client's first message.
    pub client: Step<Message<'a>>,
    /// The server's first message.
    pub server: Step<Message<'a>>,
}

/// Parse an exchange. Pure and zero-copy.
pub fn parse<'a>(orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    Parsed { client: first(orig), server: first(resp) }
}

/// Decide on a parsed exchange; `orig`/`resp` are the bytes it was parsed from (for the
/// evidence).
pub fn fingerprint(parsed: &Parsed<'_>, orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
    let confidence = match (parsed.client, parsed.server) {
        (Step::Invalid(a), _) | (_, Step::Invalid(a)) => return Outcome::Anomaly(a),
        (Step::Done(_), Step::Done(_)) => CONFIDENCE_BOTH,
        _ if !finished => return Outcome::NeedMore,
        (Step::Done(_), _) | (_, Step::Done(_)) => CONFIDENCE_ONE,
        _ => return Outcome::NoMatch,
    };
    let list = |buf: &[u8]| messages(buf).map(summary).collect::<Vec<_>>();
    Outcome::Match(Match {
        tool: Tool::Radmin,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Radmin(RadminEvidence { client_messages: list(orig), server_messages: list(resp) }),
    })
}

/// A message as the evidence reports it.
fn summary(m: Message<'_>) -> RadminMessage {
    RadminMessage { size: m.wire_len(), code: m.code(), checksum: m.checksum }
}

/// The Radmin fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct RadminFingerprint;

impl Fingerprint for RadminFingerprint {
    fn tool(&self) -> Tool {
        Tool::Radmin
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Tcp || !probe(ex.orig) || !probe(ex.resp) {
            return Outcome::NoMatch;
        }
        let orig = ex.orig.get(..BYTES_WANTED).unwrap_or(ex.orig);
        let resp = ex.resp.get(..BYTES_WANTED).unwrap_or(ex.resp);
        // A first message always fits in BYTES_WANTED, so a full buffer is decided.
        let full = ex.orig.len() >= BYTES_WANTED || ex.resp.len() >= BYTES_WANTED;
        fingerprint(&parse(orig, resp), orig, resp, ex.finished || full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::radmin::{hello_server, msg};
    use farhand_model::anomaly::{Anomaly, Layer, Reason};
    use farhand_proto::radmin::{MARKER, MAX_MESSAGES, MAX_PAYLOAD_LEN};

    // No Radmin build is installable here (not packaged for Debian), so the test messages are
    // built from the layout above with `msg`: marker, u32 BE length, u32 BE checksum, payload.
    // HELLO_*: the classic exchange nDPI keys on — a 10-byte client message (payload = code
    // 0x08) and a 46-byte server reply (37-byte payload: code 0x08, then 02 00 00 0A, zeros).
    // SHORT_*: the 14-byte exchange (code 0x27, 5-byte payload).

    fn hello_client() -> Vec<u8> {
        msg(&[0x08])
    }

    fn short(second: u8) -> Vec<u8> {
        msg(&[0x27, second, 0, 0, 0])
    }

    fn inspect(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        RadminFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig,
            resp,
            orig_port: 49736,
            resp_port: 8080,
            finished,
            datagrams: &[],
        })
    }

    fn evidence(out: &Outcome) -> (u8, &RadminEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                method: Method::PayloadStructure,
                tool: Tool::Radmin,
                evidence: Evidence::Radmin(e),
            }) => (*confidence, e),
            other => panic!("expected a Radmin match, got {other:?}"),
        }
    }

    #[test]
    fn hello_exchange_known_answer() {
        let out = inspect(&hello_client(), &hello_server(), false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(e.client_messages, vec![RadminMessage { size: 10, code: 0x08, checksum: 0x08 }]);
        assert_eq!(e.server_messages, vec![RadminMessage { size: 46, code: 0x08, checksum: 0x0212 }]);
        // The 14-byte exchange.
        let out2 = inspect(&short(2), &short(0), false);
        let (conf, e) = evidence(&out2);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(e.client_messages[0].checksum, 0x0227);
        assert_eq!(e.server_messages[0].checksum, 0x0027);
        // Ports play no part.
        let other = RadminFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig: &hello_client(),
            resp: &hello_server(),
            orig_port: 4899,
            resp_port: 53,
            finished: true,
            datagrams: &[],
        });
        assert_eq!(other, out);
    }

    #[test]
    fn one_side_waits_then_matches_lower() {
        let c = hello_client();
        assert_eq!(inspect(&c, b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&inspect(&c, b"", true)).0, CONFIDENCE_ONE);
        assert_eq!(evidence(&inspect(b"", &hello_server(), true)).0, CONFIDENCE_ONE);
        // Several messages back to back are all reported.
        let two = [short(2), short(3)].concat();
        let out = inspect(&two, &hello_server(), false);
        assert_eq!(evidence(&out).1.client_messages.len(), 2);
    }

    #[test]
    fn truncation_sweep_never_panics_or_contradicts() {
        for (c, s) in [(hello_client(), hello_server()), (short(2), short(0))] {
            for i in 0..=c.len() {
                for j in 0..=s.len() {
                    let (o, r) = (&c[..i], &s[..j]);
                    assert_ne!(inspect(o, r, false), Outcome::NoMatch, "{i} {j}");
                    let done = inspect(o, r, true);
                    assert_ne!(done, Outcome::NeedMore, "{i} {j}");
                    // Finished with neither message complete: no match.
                    if i < c.len() && j < s.len() {
                        assert_eq!(done, Outcome::NoMatch, "{i} {j}");
                    }
                }
            }
        }
    }

    #[test]
    fn checksum_and_structure_are_enforced() {
        let mut bad = hello_server();
        bad[20] ^= 1;
        let checksum_wrong = Outcome::Anomaly(Anomaly::new(Layer::Radmin, 5, Reason::Inconsistent));
        assert_eq!(inspect(&hello_client(), &bad, false), checksum_wrong);
        assert_eq!(inspect(&bad, b"", true), checksum_wrong);
        // The 5-byte prefix alone is not enough.
        let prefix_only = [0x01, 0x00, 0x00, 0x00, 0x01, 0xAA, 0xBB, 0xCC, 0xDD, 0x08];
        assert_eq!(inspect(&prefix_only, b"", true), checksum_wrong);
        // Zero message code (each field's anomaly: proto::radmin's tests); wrong marker.
        let zero_code = Outcome::Anomaly(Anomaly::new(Layer::Radmin, 9, Reason::BadType));
        assert_eq!(inspect(&msg(&[0x00, 0x05]), b"", false), zero_code);
        assert_eq!(inspect(&[0x02, 0, 0, 0, 1, 0, 0, 0, 8, 8], b"", false), Outcome::NoMatch);
    }

    #[test]
    fn hostile_lengths_are_rejected_at_once() {
        // A length claiming 1 GB (or anything over MAX_PAYLOAD_LEN) is not waited for.
        let huge = [0x01, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x08];
        assert_eq!(inspect(&huge, b"", false), Outcome::Anomaly(Anomaly::new(Layer::Radmin, 1, Reason::OverLimit)));
        // The largest payload that fits is fine.
        let big = msg(&vec![0x08; MAX_PAYLOAD_LEN]);
        assert_eq!(big.len(), BYTES_WANTED);
        assert_eq!(evidence(&inspect(&big, &hello_server(), false)).0, CONFIDENCE_BOTH);
        // 10,000 back-to-back messages: evidence stays bounded.
        let many = short(2).repeat(10_000);
        let out = inspect(&many, &short(0), false);
        assert_eq!(evidence(&out).1.client_messages.len(), MAX_MESSAGES);
    }

    #[test]
    fn other_protocols_and_scans_do_not_match() {
        // ICMP exchanges and other protocols in general: fingerprint::tests (every fingerprint).
        let http_req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        assert_eq!(inspect(http_req, b"", false), Outcome::NoMatch);
        let tls = [0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03];
        assert_eq!(inspect(&tls, b"", false), Outcome::NoMatch);
        assert_eq!(inspect(b"", b"SSH-2.0-OpenSSH_9.2p1\r\n", false), Outcome::NoMatch);
        // A SYN scan or refused connection: no payload at all.
        assert_eq!(inspect(b"", b"", false), Outcome::NeedMore);
        assert_eq!(inspect(b"", b"", true), Outcome::NoMatch);
        // A valid client hello answered with something else.
        assert_eq!(inspect(&hello_client(), b"HTTP/1.1 400 Bad Request\r\n", false), Outcome::NoMatch);
        assert!(!RadminFingerprint.wants(Transport::Udp));
        let udp = RadminFingerprint.inspect(&Exchange {
            transport: Transport::Udp,
            orig: &hello_client(),
            resp: &hello_server(),
            orig_port: 1,
            resp_port: 2,
            finished: true,
            datagrams: &[],
        });
        assert_eq!(udp, Outcome::NoMatch);
    }

    #[test]
    fn random_bytes_do_not_match() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut matches = 0;
        for round in 0..4000 {
            let len = round % 300;
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            // Half of the buffers get Radmin's marker so the parser goes deeper.
            let mut buf = buf;
            if round % 2 == 0 && !buf.is_empty() {
                buf[0] = MARKER;
            }
            let (a, b) = buf.split_at(len / 2);
            for out in [inspect(&buf, b"", true), inspect(a, b, true), inspect(b, a, false)] {
                if matches!(out, Outcome::Match(_)) {
                    matches += 1;
                }
            }
        }
        assert_eq!(matches, 0);
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        let (c, s) = (hello_client(), hello_server());
        for pos in 0..s.len() {
            for v in [0x00, 0xFF, 0x01, 0x80] {
                let (mut c2, mut s2) = (c.clone(), s.clone());
                if let Some(b) = c2.get_mut(pos) {
                    *b ^= v;
                }
                s2[pos] ^= v;
                let _ = inspect(&c2, &s2, false);
                assert_ne!(inspect(&c2, &s2, true), Outcome::NeedMore);
            }
        }
    }
}
