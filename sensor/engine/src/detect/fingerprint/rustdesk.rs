//! RustDesk fingerprint: RustDesk's length-prefixed protobuf framing over TCP, and bare
//! rendezvous messages over UDP.
//!
//! # Contract
//! Works on any port (RustDesk's defaults are TCP 21115–21119 and UDP 21116; self-hosted
//! servers often move them, and ports play no part).
//! - TCP: each direction must be a chain of RustDesk frames laid back to back from the first
//!   byte, and the first frame's payload must be a complete, schema-valid `RendezvousMessage`
//!   or peer `Message` (later frames are encrypted after the key exchange; only their length
//!   prefixes are checked). Answers `Match` once both directions hold such a first frame,
//!   `NoMatch` as soon as either direction contradicts the framing or the first message, and
//!   `NeedMore` otherwise. At `finished` (or once [`BYTES_WANTED`] bytes are buffered) one
//!   direction alone matches with lower confidence: two or more complete frames, or one
//!   complete first message with at least one field.
//! - UDP: the first datagram of each direction must be a complete, schema-valid
//!   `RendezvousMessage` (no length prefix). Both directions give a match; one alone only at
//!   `finished`, with lower confidence, and only if its message has at least one field.
//! - A contradiction in a direction that began as RustDesk (TCP: a first frame's header and
//!   the key of a known message, [`farhand_proto::rustdesk::began`]; UDP: the key of a known
//!   rendezvous message) is answered with [`Outcome::Anomaly`], carrying the parser's offset
//!   and reason. A direction that is empty or never looked like RustDesk gives plain
//!   `NoMatch`.
//!
//! # Why ordinary streams do not match
//! Any first byte decodes as some length prefix, so the prefix alone means nothing. A match
//! needs all of: a minimally encoded prefix (RustDesk's encoder always picks the shortest
//! header) whose first frame fits in
//! [`MAX_FIRST_FRAME_LEN`](farhand_proto::rustdesk::MAX_FIRST_FRAME_LEN); a payload that is exactly one
//! length-delimited protobuf field (a oneof) with a field number RustDesk uses, whose length
//! ends exactly at the end of the frame; a body that parses as that message's schema — every
//! field key valid, every known field of the right wire type, strings valid UTF-8, nested
//! messages well-formed, varints canonical, all ending exactly at the end of the body. Random
//! data and the negative captures (TLS, HTTP, DNS, QUIC, SSH, ...) fail at the first or second
//! of these steps.
//!
//! # Facts used
//! - The wire format (the `bytes_codec` frame header, protobuf encoding, the rendezvous and
//!   peer message tables and their sources) is read by [`farhand_proto::rustdesk`]; this file
//!   decides: which openings pair, how sure a match is, what the evidence says.
//! - Field numbers 6–10 and 15 exist in both oneofs: when the two directions disagree on the
//!   family, an ambiguous opening is read in the other direction's family.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{Family, MessageName, RustDeskEvidence};
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::rustdesk::{MAX_OPENING_LEN, Opening, Side, began, classify, parse_side, starts_with_member};

/// Bytes per direction this fingerprint reads: an opening frame always fits.
pub const BYTES_WANTED: usize = MAX_OPENING_LEN;

/// Confidence: both TCP directions open with a valid message, or both UDP datagrams are valid.
pub const CONFIDENCE_BOTH: u8 = 90;
/// Confidence: one TCP direction with a valid first message and another complete frame (one
/// side only).
pub const CONFIDENCE_CHAIN: u8 = 75;
/// Confidence: one TCP direction with a single valid, non-empty first message.
pub const CONFIDENCE_SINGLE: u8 = 65;
/// Confidence: one UDP datagram with a valid, non-empty rendezvous message.
pub const CONFIDENCE_UDP_ONE: u8 = 65;

/// How sure one TCP direction alone makes a match: several complete frames, or a non-empty
/// opening message.
pub fn strength(side: &Side<'_>) -> Option<u8> {
    if side.frames >= 2 {
        Some(CONFIDENCE_CHAIN)
    } else if side.opening.fields >= 1 {
        Some(CONFIDENCE_SINGLE)
    } else {
        None
    }
}

/// Both TCP directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The client's frames.
    pub client: Step<Side<'a>>,
    /// The server's frames.
    pub server: Step<Side<'a>>,
    /// The client's bytes began as RustDesk.
    pub client_began: bool,
    /// The server's bytes began as RustDesk.
    pub server_began: bool,
}

/// Parse a TCP exchange. Pure and zero-copy.
pub fn parse<'a>(orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    Parsed { client: parse_side(orig), server: parse_side(resp), client_began: began(orig), server_began: began(resp) }
}

/// When a direction contradicts RustDesk: `Anomaly` for the first that had begun as RustDesk,
/// `NoMatch` if none had. `None` when nothing contradicts.
fn on_contradiction<T>(sides: [(&Step<T>, bool); 2]) -> Option<Outcome> {
    if !sides.iter().any(|(s, _)| s.is_invalid()) {
        return None;
    }
    let began_then_broke = sides.iter().find_map(|&(s, began)| match s {
        Step::Invalid(a) if began => Some(Outcome::Anomaly(*a)),
        _ => None,
    });
    Some(began_then_broke.unwrap_or(Outcome::NoMatch))
}

/// Decide on a parsed TCP exchange.
pub fn fingerprint(parsed: &Parsed<'_>, finished: bool) -> Outcome {
    if let Some(out) = on_contradiction([(&parsed.client, parsed.client_began), (&parsed.server, parsed.server_began)])
    {
        return out;
    }
    let (mut c, mut s) = (parsed.client.done(), parsed.server.done());
    // Field numbers 6-10 and 15 exist in both oneofs: when the two directions disagree, read
    // an ambiguous opening in the other direction's family.
    if let (Some(cs), Some(ss)) = (c.as_mut(), s.as_mut())
        && cs.opening.family != ss.opening.family
    {
        if let Some(o) = classify(ss.payload, &[cs.opening.family]).done() {
            ss.opening = o;
        } else if let Some(o) = classify(cs.payload, &[ss.opening.family]).done() {
            cs.opening = o;
        }
    }
    let confidence = match (c, s) {
        (Some(_), Some(_)) => CONFIDENCE_BOTH,
        _ if !finished => return Outcome::NeedMore,
        _ => match c.as_ref().and_then(strength).max(s.as_ref().and_then(strength)) {
            Some(conf) => conf,
            None => return Outcome::NoMatch,
        },
    };
    let frames = |side: Option<Side<'_>>| side.map_or(0, |s| s.frames);
    rd_match(Transport::Tcp, confidence, c.map(|s| s.opening), s.map(|s| s.opening), frames(c), frames(s))
}

/// Decide on a UDP exchange (first datagram of each direction).
pub fn fingerprint_udp(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
    let (o, r) = (read_datagram(orig), read_datagram(resp));
    let began = |d: &[u8]| starts_with_member(d, &[Family::Rendezvous]);
    if let Some(out) = on_contradiction([(&o, began(orig)), (&r, began(resp))]) {
        return out;
    }
    let (o, r) = (o.done(), r.done());
    let confidence = match (o, r) {
        (Some(_), Some(_)) => CONFIDENCE_BOTH,
        _ if !finished => return Outcome::NeedMore,
        (Some(m), None) | (None, Some(m)) if m.fields >= 1 => CONFIDENCE_UDP_ONE,
        _ => return Outcome::NoMatch,
    };
    rd_match(Transport::Udp, confidence, o, r, usize::from(o.is_some()), usize::from(r.is_some()))
}

/// A UDP direction's first datagram as a rendezvous message; an empty side has sent nothing
/// yet (neither a message nor a contradiction).
fn read_datagram(d: &[u8]) -> Step<Opening<'_>> {
    if d.is_empty() { Step::Incomplete } else { classify(d, &[Family::Rendezvous]) }
}

fn rd_match(
    transport: Transport,
    confidence: u8,
    client: Option<Opening<'_>>,
    server: Option<Opening<'_>>,
    client_frames: usize,
    server_frames: usize,
) -> Outcome {
    let name = |o: Opening<'_>| MessageName { family: o.family, name: o.name };
    Outcome::Match(Match {
        tool: Tool::RustDesk,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Rustdesk(RustDeskEvidence {
            transport,
            client_message: client.map(name),
            server_message: server.map(name),
            client_frames,
            server_frames,
            peer_id: client.and_then(|o| o.id).or_else(|| server.and_then(|o| o.id)).map(str::to_owned),
        }),
    })
}

/// The RustDesk fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustDeskFingerprint;

impl Fingerprint for RustDeskFingerprint {
    fn tool(&self) -> Tool {
        Tool::RustDesk
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp_udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        match ex.transport {
            Transport::Icmp | Transport::Esp | Transport::Ah | Transport::Gre => Outcome::NoMatch,
            Transport::Udp => fingerprint_udp(ex.orig, ex.resp, ex.finished),
            Transport::Tcp => {
                let orig = ex.orig.get(..BYTES_WANTED).unwrap_or(ex.orig);
                let resp = ex.resp.get(..BYTES_WANTED).unwrap_or(ex.resp);
                // Past BYTES_WANTED nothing more is read: decide as if finished.
                let full = ex.orig.len() >= BYTES_WANTED || ex.resp.len() >= BYTES_WANTED;
                fingerprint(&parse(orig, resp), ex.finished || full)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::rustdesk::*;
    use farhand_model::anomaly::{Anomaly, Layer, Reason};
    use farhand_proto::rustdesk::{MAX_FRAME_LEN, MAX_FRAMES};

    fn inspect(transport: Transport, orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        RustDeskFingerprint.inspect(&Exchange {
            transport,
            orig,
            resp,
            orig_port: 50123,
            resp_port: 443,
            finished,
            datagrams: &[],
        })
    }

    fn tcp(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        inspect(Transport::Tcp, orig, resp, finished)
    }

    fn anomaly(offset: usize, reason: Reason) -> Outcome {
        Outcome::Anomaly(Anomaly::new(Layer::RustDesk, offset, reason))
    }

    fn evidence(out: &Outcome) -> (u8, &RustDeskEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                method: Method::PayloadStructure,
                tool: Tool::RustDesk,
                evidence: Evidence::Rustdesk(e),
            }) => (*confidence, e),
            other => panic!("expected a RustDesk match, got {other:?}"),
        }
    }

    fn names(e: &RustDeskEvidence) -> (Option<&str>, Option<&str>) {
        (e.client_message.map(|m| m.name), e.server_message.map(|m| m.name))
    }

    #[test]
    fn rendezvous_tcp_known_answer() {
        // Client asks the ID server to punch a hole; the server answers with a key exchange
        // (RendezvousMessage 25) in newer versions.
        let c = frame(&punch_hole_request());
        let s = frame(&ld(25, &ld(1, &[0x33; 32])));
        let out = tcp(&c, &s, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(e.transport, Transport::Tcp);
        assert_eq!(names(e), (Some("punch_hole_request"), Some("key_exchange")));
        assert_eq!(e.client_message.unwrap().family, Family::Rendezvous);
        assert_eq!(e.peer_id.as_deref(), Some("123456789"));
        // Relay server: request_relay, with a two-byte key.
        let out = tcp(&frame(&request_relay()), &frame(&signed_id()), false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(names(e), (Some("request_relay"), Some("signed_id")));
        let json = serde_json::to_string(e).unwrap();
        assert!(json.contains(r#""client_message":{"family":"rendezvous","name":"request_relay"}"#), "{json}");
    }

    #[test]
    fn peer_tcp_known_answer() {
        let out = tcp(&peer_client(), &peer_server(), false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(names(e), (Some("public_key"), Some("signed_id")));
        assert_eq!(e.server_message.unwrap().family, Family::Peer);
        assert_eq!((e.client_frames, e.server_frames), (3, 3));
        assert_eq!(e.peer_id, None);
        // The hash challenge (newer versions send it before login).
        let out = tcp(&frame(&public_key()), &frame(&hash()), false);
        assert_eq!(names(evidence(&out).1), (Some("public_key"), Some("hash")));
        // Ports play no part.
        let other = RustDeskFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig: &peer_client(),
            resp: &peer_server(),
            orig_port: 21118,
            resp_port: 21116,
            finished: false,
            datagrams: &[],
        });
        assert_eq!(evidence(&other).0, CONFIDENCE_BOTH);
    }

    #[test]
    fn one_direction() {
        // Opening frame only, more may come: wait.
        assert_eq!(tcp(&frame(&public_key()), b"", false), Outcome::NeedMore);
        // Finished: a single non-empty opening message, or a chain of frames.
        assert_eq!(evidence(&tcp(&frame(&public_key()), b"", true)).0, CONFIDENCE_SINGLE);
        assert_eq!(evidence(&tcp(&peer_client(), b"", true)).0, CONFIDENCE_CHAIN);
        assert_eq!(evidence(&tcp(b"", &peer_server(), true)).0, CONFIDENCE_CHAIN);
        // An empty opening message alone is not enough.
        assert_eq!(tcp(&frame(&ld(7, &[])), b"", true), Outcome::NoMatch);
        // Nothing at all.
        assert_eq!(tcp(b"", b"", true), Outcome::NoMatch);
    }

    #[test]
    fn udp_known_answer() {
        let out = inspect(Transport::Udp, &register_peer(), &register_peer_response(), false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(e.transport, Transport::Udp);
        assert_eq!(names(e), (Some("register_peer"), Some("register_peer_response")));
        assert_eq!(e.peer_id.as_deref(), Some("123456789"));
        // request_pk = false encodes as an empty body: still a valid reply.
        let out = inspect(Transport::Udp, &register_peer(), &ld(7, &[]), false);
        assert_eq!(evidence(&out).0, CONFIDENCE_BOTH);
        // One direction: wait, then match lower.
        assert_eq!(inspect(Transport::Udp, &punch_hole_request(), b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&inspect(Transport::Udp, &punch_hole_request(), b"", true)).0, CONFIDENCE_UDP_ONE);
        // Peer messages and framed messages are not UDP rendezvous datagrams.
        assert_eq!(inspect(Transport::Udp, &public_key(), b"", true), Outcome::NoMatch);
        assert_eq!(inspect(Transport::Udp, &frame(&register_peer()), b"", true), Outcome::NoMatch);
        // Answered by something else.
        assert_eq!(inspect(Transport::Udp, &register_peer(), b"\x12\x34\x81\x80", false), Outcome::NoMatch);
    }

    #[test]
    fn schema_is_enforced() {
        // An opening frame whose payload is not a RustDesk message, after framing is fine.
        assert_eq!(tcp(&frame(b"hello world"), b"", true), Outcome::NoMatch);
        // Encrypted opening frame (random bytes) is rejected.
        assert_eq!(tcp(&sealed(48), &sealed(48), false), Outcome::NoMatch);
        // A known member whose body breaks its schema: an anomaly where it breaks (the id is
        // not UTF-8, at the string's bytes after header, key, length, id key and length).
        let mut bad = register_peer();
        bad[5] = 0xff;
        assert_eq!(tcp(&frame(&bad), b"", true), anomaly(5, Reason::BadValue));
        assert_eq!(inspect(Transport::Udp, &bad, b"", true), anomaly(4, Reason::BadValue));
        // Wrong wire type for a known field.
        let varint_id = ld(6, &[vi(1, 5), vi(2, 1)].concat());
        assert_eq!(tcp(&frame(&varint_id), b"", false), anomaly(3, Reason::BadType));
    }

    #[test]
    fn anomalies_only_after_rustdesk_began() {
        let (c, s) = (frame(&punch_hole_request()), frame(&ld(25, &ld(1, &[0x33; 32]))));
        // The server answers with a known member whose length overruns its frame.
        let mut broken = s.clone();
        broken[3] += 1;
        assert_eq!(tcp(&c, &broken, false), anomaly(3, Reason::BadLength));
        // A later frame header that is not minimal, after a valid opening.
        let chained = [c.clone(), vec![0x05, 0x00]].concat();
        assert_eq!(tcp(&chained, &s, false), anomaly(c.len(), Reason::BadLength));
        // The client opened as RustDesk, the server answers something else: not RustDesk,
        // and not a RustDesk anomaly.
        assert_eq!(tcp(&c, b"SSH-2.0-OpenSSH_9.2p1\r\n", false), Outcome::NoMatch);
        assert_eq!(tcp(&c, b"HTTP/1.1 200 OK\r\n\r\n", false), Outcome::NoMatch);
        // A server-first protocol: the empty client side is waiting, never an anomaly.
        assert_eq!(tcp(b"", b"SSH-2.0-OpenSSH_9.2p1\r\n", false), Outcome::NoMatch);
        assert_eq!(tcp(b"", b"220 mail.example.com ESMTP\r\n", false), Outcome::NoMatch);
        assert_eq!(tcp(b"", &[0x04, 0x68], false), Outcome::NoMatch);
        // UDP: a datagram that began as a rendezvous message and broke; one that never did.
        let mut d = register_peer();
        d.push(0);
        assert_eq!(inspect(Transport::Udp, &register_peer(), &d[1..], false), Outcome::NoMatch);
        assert_eq!(inspect(Transport::Udp, &d, b"", false), anomaly(1, Reason::BadLength));
        assert_eq!(inspect(Transport::Udp, b"", &d, false), anomaly(1, Reason::BadLength));
    }

    #[test]
    fn truncation_sweep_never_panics_or_contradicts() {
        let pairs = [
            (peer_client(), peer_server()),
            (frame(&punch_hole_request()), frame(&ld(25, &ld(1, &[0x33; 32])))),
            (frame(&request_relay()), frame(&signed_id())),
        ];
        let settled = |o: &Outcome| matches!(o, Outcome::NoMatch | Outcome::Anomaly(_));
        for (c, s) in pairs {
            for i in 0..=c.len() {
                for j in (0..=s.len()).step_by(5).chain([s.len()]) {
                    let (o, r) = (&c[..i], &s[..j]);
                    assert!(!settled(&tcp(o, r, false)), "{i} {j}");
                    assert_ne!(tcp(o, r, true), Outcome::NeedMore, "{i} {j}");
                    assert!(!matches!(tcp(o, r, true), Outcome::Anomaly(_)), "{i} {j}");
                }
            }
            for j in 0..=s.len() {
                assert!(!settled(&tcp(&c, &s[..j], false)), "{j}");
                assert!(!settled(&tcp(b"", &s[..j], false)), "{j}");
            }
        }
    }

    #[test]
    fn hostile_lengths() {
        // A header claiming 1 GB as the opening frame: never began as RustDesk.
        let huge = ((0x3FFF_FFFFu32 << 2) | 3).to_le_bytes();
        assert_eq!(tcp(&huge, b"", false), Outcome::NoMatch);
        // ... and as a later frame, past MAX_FRAME_LEN: the stream had begun.
        let first = frame(&public_key());
        let c = [first.clone(), huge.to_vec()].concat();
        assert_eq!(tcp(&c, &peer_server(), false), anomaly(first.len(), Reason::OverLimit));
        // A later frame just within limits is waited for, then settled.
        let big = ((u32::try_from(MAX_FRAME_LEN).unwrap() << 2) | 3).to_le_bytes();
        let c = [first, big.to_vec(), vec![0; 100]].concat();
        assert_eq!(tcp(&c, b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&tcp(&c, b"", true)).0, CONFIDENCE_SINGLE);
        // An inner length claiming far more than the frame.
        let mut p = vec![0x32];
        pb_varint(1 << 30, &mut p);
        assert_eq!(tcp(&frame(&p), b"", false), anomaly(2, Reason::BadLength));
        // 10,000 empty frames after a valid opening: bounded walk, buffer cut and decided.
        let c = [frame(&public_key()), vec![0u8; 10_000]].concat();
        let out = tcp(&c, b"", false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_CHAIN);
        assert_eq!(e.client_frames, MAX_FRAMES);
        // 10,000 empty frames as the whole stream: an empty opening frame is not RustDesk.
        assert_eq!(tcp(&[0u8; 10_000], b"", false), Outcome::NoMatch);
    }

    #[test]
    fn other_protocols_do_not_match() {
        // ICMP exchanges and other protocols in general: fingerprint::tests (every fingerprint).
        let http_req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let http_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(tcp(http_req, http_resp, false), Outcome::NoMatch);
        assert_eq!(tcp(b"", http_resp, false), Outcome::NoMatch);
        let tls = [0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03];
        assert_eq!(tcp(&tls, b"", false), Outcome::NoMatch);
        assert_eq!(tcp(b"SSH-2.0-OpenSSH_9.2p1\r\n", b"", false), Outcome::NoMatch);
        // DNS over TCP: a 2-byte big-endian length first.
        let dns = [0x00, 0x1d, 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w'];
        assert_eq!(tcp(&dns, b"", true), Outcome::NoMatch);
        let dns_udp = &dns[2..];
        assert_eq!(inspect(Transport::Udp, dns_udp, b"", true), Outcome::NoMatch);
        let quic = [0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0x44, 0xd0];
        assert_eq!(inspect(Transport::Udp, &quic, b"", true), Outcome::NoMatch);
        assert_eq!(inspect(Transport::Udp, b"", b"", true), Outcome::NoMatch);
    }

    #[test]
    fn random_bytes_do_not_match() {
        let mut state = 0xA076_1D64_78BD_642Fu64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        };
        let mut matches = 0;
        for round in 0..4000 {
            let len = round % 400;
            let mut buf: Vec<u8> = (0..len).map(|_| next()).collect();
            // Some buffers get a plausible header and key so the parser goes deeper.
            if round % 3 == 0 && buf.len() > 2 {
                buf[0] = ((buf.len().min(0x3f + 1) - 1) << 2) as u8;
                buf[1] = 0x22;
            }
            if round % 3 == 1 && !buf.is_empty() {
                buf[0] = 0x32;
            }
            let (a, b) = buf.split_at(buf.len() / 2);
            for out in [
                tcp(&buf, b"", true),
                tcp(a, b, true),
                inspect(Transport::Udp, &buf, b"", true),
                inspect(Transport::Udp, a, b, false),
            ] {
                if matches!(out, Outcome::Match(_)) {
                    matches += 1;
                }
            }
        }
        assert_eq!(matches, 0);
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        let (c, s) = (peer_client(), frame(&request_relay()));
        for pos in 0..c.len().max(s.len()) {
            for v in [0x00, 0xFF, 0x80, 0x02] {
                let (mut c2, mut s2) = (c.clone(), s.clone());
                if let Some(b) = c2.get_mut(pos) {
                    *b ^= v;
                }
                if let Some(b) = s2.get_mut(pos) {
                    *b = v;
                }
                let _ = tcp(&c2, &s2, false);
                assert_ne!(tcp(&c2, &s2, true), Outcome::NeedMore);
                let _ = inspect(Transport::Udp, &c2, &s2, true);
            }
        }
    }
}
