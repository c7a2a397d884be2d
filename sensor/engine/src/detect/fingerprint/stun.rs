//! STUN/TURN fingerprint: STUN messages and TURN ChannelData, over UDP or TCP.
//!
//! # Contract
//! Works on any port. Over UDP each side is one datagram: one STUN message whose length field
//! covers the datagram exactly, or one ChannelData message. Over TCP each side is a stream of
//! back-to-back STUN / ChannelData messages (RFC 8489 §6.2.2, RFC 8656 §12.5), optionally each
//! behind a 2-byte RFC 4571 length (as Microsoft Teams/Skype relays send); up to
//! [`MAX_STREAM_MESSAGES`](farhand_proto::stun::MAX_STREAM_MESSAGES) are read.
//!
//! Answers `Match` once a validated STUN message with the magic cookie is seen and either the
//! responder answered (or, over UDP, the responder's datagram is there) or the exchange is
//! finished. Confidence rises when a response echoes a request's transaction id, or when a
//! FINGERPRINT attribute verifies. ChannelData alone matches only when both directions use the
//! same channel number (a relayed session picked up mid-way). `NoMatch` as soon as the first
//! message of the initiator's side contradicts STUN and ChannelData; `Anomaly` (where and
//! why) instead when that message carried the magic cookie (it began as STUN).
//!
//! Classic STUN (RFC 3489, no magic cookie) has only the length field and a 16-byte
//! transaction id to check, so a classic message matches only when the whole structure is
//! exact (known Binding/Shared-Secret type, length == datagram − 20, RFC 3489 attributes that
//! walk to the end, well-formed addresses) **and** the other direction answers it with the same
//! 128-bit transaction id. A lone classic message is `NoMatch`.
//!
//! The wire format (header, attributes and their decoding, FINGERPRINT's CRC, ChannelData,
//! TCP framing, classic STUN) is read by [`farhand_proto::stun`], which the STUN transaction
//! timing uses too; this file decides on the parsed messages: which transactions pair, the
//! confidence and the evidence.
//!
//! # Facts used
//! - Those of [`farhand_proto::stun`] (RFC 8489, RFC 8656, RFC 6062, RFC 4571, RFC 3489).
//! - A wrong FINGERPRINT CRC is reported in the evidence, not rejected (Zoom sends one).

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::StunEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::stun::{
    Class, Framing, MAX_ADDRESSES, MAX_STREAM_MESSAGE_LEN, Message, Packet, SideParse, parse_datagram, parse_stream,
};

/// Most characters of SOFTWARE / REALM kept in the evidence.
pub const MAX_TEXT_CHARS: usize = 128;
/// Most message names kept in the evidence.
pub const MAX_MESSAGE_NAMES: usize = 32;
/// Bytes per direction this fingerprint reads (a whole datagram at any common MTU; over TCP
/// a message longer than this is not waited for: the parser's stream limit).
pub const BYTES_WANTED: usize = MAX_STREAM_MESSAGE_LEN;

/// Confidence: a response echoes a request's transaction id (cookie STUN).
pub const CONFIDENCE_TRANSACTION: u8 = 95;
/// Confidence: a message whose FINGERPRINT attribute verifies.
pub const CONFIDENCE_FINGERPRINT: u8 = 90;
/// Confidence: one validated message with the magic cookie.
pub const CONFIDENCE_MESSAGE: u8 = 80;
/// Confidence: classic RFC 3489 request and response with the same 128-bit transaction id.
pub const CONFIDENCE_CLASSIC: u8 = 75;
/// Confidence: ChannelData both ways on the same channel, nothing else seen.
pub const CONFIDENCE_CHANNEL_DATA: u8 = 60;

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).chars().filter(|c| !c.is_control()).take(MAX_TEXT_CHARS).collect()
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T, cap: usize) {
    if v.len() < cap && !v.contains(&x) {
        v.push(x);
    }
}

/// The STUN messages of a side.
fn messages<'s, 'a>(s: &'s SideParse<'a>) -> impl Iterator<Item = &'s Message<'a>> {
    s.packets.iter().filter_map(|p| match p {
        Packet::Stun(m) => Some(m),
        Packet::ChannelData { .. } => None,
    })
}

/// Whether a request of side `a` is answered in side `b` (same method, transaction id and
/// kind of header).
fn answered(a: &SideParse<'_>, b: &SideParse<'_>) -> bool {
    messages(a).any(|q| {
        q.class == Class::Request
            && messages(b).any(|r| {
                matches!(r.class, Class::Success | Class::Error)
                    && r.method == q.method
                    && r.transaction_id == q.transaction_id
                    && r.classic == q.classic
            })
    })
}

/// The first ChannelData channel of a side.
fn channel_of(s: &SideParse<'_>) -> Option<u16> {
    s.packets.iter().find_map(|p| match p {
        Packet::ChannelData { channel, .. } => Some(*channel),
        Packet::Stun(_) => None,
    })
}

/// Confidence of the two parsed directions, or `None` when they are not STUN/TURN enough;
/// with whether a transaction paired.
fn confidence(orig: &SideParse<'_>, resp: &SideParse<'_>) -> (Option<u8>, bool) {
    let matched = answered(orig, resp) || answered(resp, orig);
    let msgs = || messages(orig).chain(messages(resp));
    let cookie = msgs().any(|m| !m.classic);
    let classic = msgs().any(|m| m.classic);
    let fp = msgs().any(|m| m.fingerprint_ok);
    let same_channel = matches!((channel_of(orig), channel_of(resp)), (Some(a), Some(b)) if a == b);
    let c = if matched && cookie {
        CONFIDENCE_TRANSACTION
    } else if cookie && fp {
        CONFIDENCE_FINGERPRINT
    } else if cookie {
        CONFIDENCE_MESSAGE
    } else if matched && classic {
        CONFIDENCE_CLASSIC
    } else if same_channel {
        CONFIDENCE_CHANNEL_DATA
    } else {
        return (None, matched);
    };
    (Some(c), matched)
}

/// The evidence of the two parsed directions.
fn evidence(orig: &SideParse<'_>, resp: &SideParse<'_>, matched: bool) -> StunEvidence {
    let msgs = || messages(orig).chain(messages(resp));
    let cookie = msgs().any(|m| !m.classic);
    let mut ev = StunEvidence {
        transaction_matched: matched,
        fingerprint_verified: msgs().any(|m| m.fingerprint_ok),
        fingerprint_mismatch: msgs().any(|m| m.fingerprint_bad),
        classic: msgs().any(|m| m.classic) && !cookie,
        framing: orig.framing.or(resp.framing).map(|f| match f {
            Framing::Bare => "bare",
            Framing::Rfc4571 => "rfc4571",
        }),
        ..StunEvidence::default()
    };
    for p in orig.packets.iter().chain(resp.packets.iter()) {
        match p {
            Packet::ChannelData { channel, .. } => {
                push_unique(&mut ev.messages, "channel_data", MAX_MESSAGE_NAMES);
                push_unique(&mut ev.channels, *channel, MAX_ADDRESSES);
            }
            Packet::Stun(m) => add_message(&mut ev, m),
        }
    }
    ev
}

/// Add one message's fields to the evidence.
fn add_message(ev: &mut StunEvidence, m: &Message<'_>) {
    push_unique(&mut ev.messages, m.name, MAX_MESSAGE_NAMES);
    if ev.software.is_none() {
        ev.software = m.software.map(text);
    }
    if ev.realm.is_none() {
        ev.realm = m.realm.map(text);
    }
    ev.username_present |= m.username;
    for a in &m.mapped {
        push_unique(&mut ev.mapped_addresses, a.to_string(), MAX_ADDRESSES);
    }
    for a in &m.relayed {
        push_unique(&mut ev.relayed_addresses, a.to_string(), MAX_ADDRESSES);
    }
    for a in &m.peers {
        push_unique(&mut ev.peer_addresses, a.to_string(), MAX_ADDRESSES);
    }
    if let Some(c) = m.channel {
        push_unique(&mut ev.channels, c, MAX_ADDRESSES);
    }
}

/// Decide on the two parsed directions.
pub fn fingerprint(orig: &SideParse<'_>, resp: &SideParse<'_>, transport: Transport, finished: bool) -> Outcome {
    // The initiator speaks first: its first packet decides whether this can be STUN at all.
    // It broke STUN (an anomaly) only if it began as STUN: a cookie where the header has it.
    // Bytes that merely were not excluded yet (an empty side, a ChannelData-range first
    // byte, which every ASCII letter is) are simply not STUN.
    if let Some(a) = orig.invalid {
        return if orig.cookie { Outcome::Anomaly(a) } else { Outcome::NoMatch };
    }
    if orig.packets.is_empty() {
        return if finished { Outcome::NoMatch } else { Outcome::NeedMore };
    }
    // Decide once the responder has answered (its first datagram, or a first whole message or
    // a contradiction over TCP), or nothing more can come. A non-STUN answer adds nothing.
    let complete = finished
        || match transport {
            Transport::Udp => !resp.pending,
            _ => resp.invalid.is_some() || !resp.packets.is_empty(),
        };
    if !complete {
        return Outcome::NeedMore;
    }
    let (Some(confidence), matched) = confidence(orig, resp) else {
        return Outcome::NoMatch;
    };
    Outcome::Match(Match {
        tool: Tool::StunTurn,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Stun(evidence(orig, resp, matched)),
    })
}

/// The STUN/TURN fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct StunFingerprint;

impl Fingerprint for StunFingerprint {
    fn tool(&self) -> Tool {
        Tool::StunTurn
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp_udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        let (orig, resp) = match ex.transport {
            Transport::Udp => (parse_datagram(ex.orig), parse_datagram(ex.resp)),
            Transport::Tcp => {
                let cut = |b: &'_ [u8]| -> usize { b.len().min(BYTES_WANTED) };
                (
                    parse_stream(ex.orig.get(..cut(ex.orig)).unwrap_or_default()),
                    parse_stream(ex.resp.get(..cut(ex.resp)).unwrap_or_default()),
                )
            }
            Transport::Icmp => return Outcome::NoMatch,
        };
        fingerprint(&orig, &resp, ex.transport, ex.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::stun::*;
    use crate::testutil::unhex;
    use farhand_model::anomaly::{Anomaly, Layer, Reason};
    use farhand_proto::Step;
    use farhand_proto::stun::{HEADER_LEN, parse_message};

    /// NoMatch, or the anomaly that ended the match.
    fn refused(out: &Outcome) -> bool {
        matches!(out, Outcome::NoMatch | Outcome::Anomaly(_))
    }

    fn stun(at: usize, reason: Reason) -> Outcome {
        Outcome::Anomaly(Anomaly::new(Layer::Stun, at, reason))
    }

    fn inspect(transport: Transport, orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        StunFingerprint.inspect(&Exchange {
            transport,
            orig,
            resp,
            orig_port: 40000,
            resp_port: 3478,
            finished,
            datagrams: &[],
        })
    }

    fn udp(orig: &str, resp: &str) -> Outcome {
        inspect(Transport::Udp, &unhex(orig), &unhex(resp), false)
    }

    fn evidence(out: &Outcome) -> (u8, &StunEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                tool: Tool::StunTurn,
                method: Method::PayloadStructure,
                evidence: Evidence::Stun(e),
            }) => (*confidence, e),
            other => panic!("expected a STUN match, got {other:?}"),
        }
    }

    #[test]
    fn binding_known_answer() {
        let out = udp(BINDING_REQUEST, BINDING_SUCCESS);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_TRANSACTION);
        assert_eq!(e.messages, ["binding_request", "binding_success"]);
        assert!(e.transaction_matched && e.fingerprint_verified && !e.fingerprint_mismatch && !e.classic);
        assert_eq!(e.mapped_addresses, ["127.0.0.1:41331"]);
        assert_eq!(e.software.as_deref(), Some("Coturn-4.6.1 'Gorst'"));
        assert_eq!(e.framing, None);
        // Ports play no part.
        let other = StunFingerprint.inspect(&Exchange {
            transport: Transport::Udp,
            orig: &unhex(BINDING_REQUEST),
            resp: &unhex(BINDING_SUCCESS),
            orig_port: 53,
            resp_port: 443,
            finished: false,
            datagrams: &[],
        });
        assert_eq!(other, out);
    }

    #[test]
    fn turn_allocation_reveals_realm_relay_and_peer() {
        let out = udp(ALLOCATE_REQUEST, ALLOCATE_401);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_TRANSACTION);
        assert_eq!(e.messages, ["allocate_request", "allocate_error"]);
        assert_eq!(e.realm.as_deref(), Some("example.test"));
        let out = udp(ALLOCATE_AUTH_REQUEST, ALLOCATE_SUCCESS);
        let e = evidence(&out).1;
        assert!(e.username_present);
        assert_eq!(e.relayed_addresses, ["127.0.0.1:49168"]);
        assert_eq!(e.mapped_addresses, ["127.0.0.1:37876"]);
        let out = udp(CHANNEL_BIND_REQUEST, CHANNEL_BIND_SUCCESS);
        let e = evidence(&out).1;
        assert_eq!(e.messages, ["channel_bind_request", "channel_bind_success"]);
        assert_eq!(e.peer_addresses, ["127.0.0.1:49161"]);
        assert_eq!(e.channels, [0x42F8]);
        let out = udp(CREATE_PERMISSION_REQUEST, CREATE_PERMISSION_SUCCESS);
        assert_eq!(evidence(&out).1.peer_addresses, ["127.0.0.1:3480"]);
        // Response to another transaction: still STUN, not a matched transaction.
        let out = udp(ALLOCATE_AUTH_REQUEST, ALLOCATE_401);
        assert_eq!(evidence(&out).0, CONFIDENCE_FINGERPRINT);
    }

    #[test]
    fn indications_alone_wait_then_match_on_fingerprint() {
        for ind in [SEND_INDICATION, DATA_INDICATION] {
            let d = unhex(ind);
            assert_eq!(inspect(Transport::Udp, &d, b"", false), Outcome::NeedMore);
            let out = inspect(Transport::Udp, &d, b"", true);
            let (conf, e) = evidence(&out);
            assert_eq!(conf, CONFIDENCE_FINGERPRINT);
            assert_eq!(e.peer_addresses, ["127.0.0.1:3481"]);
        }
        // Without FINGERPRINT (strip it, fix the length): the plain message confidence.
        let mut d = unhex(SEND_INDICATION);
        d.truncate(d.len() - 8);
        let len = (d.len() - HEADER_LEN) as u16;
        d[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(evidence(&inspect(Transport::Udp, &d, b"", true)).0, CONFIDENCE_MESSAGE);
        // A corrupted FINGERPRINT is reported, not trusted.
        let mut bad = unhex(SEND_INDICATION);
        let n = bad.len();
        bad[n - 1] ^= 1;
        let out = inspect(Transport::Udp, &bad, b"", true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_MESSAGE);
        assert!(e.fingerprint_mismatch && !e.fingerprint_verified);
    }

    #[test]
    fn channel_data_both_ways_on_one_channel() {
        let (c, s) = (unhex(CHANNEL_DATA_CLIENT), unhex(CHANNEL_DATA_SERVER));
        let out = inspect(Transport::Udp, &c, &s, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_CHANNEL_DATA);
        assert_eq!(e.messages, ["channel_data"]);
        assert_eq!(e.channels, [0x6A36]);
        // One direction, or two channels, is not enough.
        assert_eq!(inspect(Transport::Udp, &c, b"", true), Outcome::NoMatch);
        let mut other = s.clone();
        other[1] ^= 1;
        assert_eq!(inspect(Transport::Udp, &c, &other, true), Outcome::NoMatch);
        // The length must cover the datagram (padded or not).
        assert_eq!(inspect(Transport::Udp, &c[..c.len() - 1], &s, true), Outcome::NoMatch);
    }

    #[test]
    fn tcp_stream_of_messages() {
        let (c, s) = (unhex(TCP_CLIENT_STREAM), unhex(TCP_SERVER_STREAM));
        let out = inspect(Transport::Tcp, &c, &s, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_TRANSACTION);
        assert_eq!(e.framing, Some("bare"));
        assert_eq!(
            e.messages,
            ["allocate_request", "refresh_request", "allocate_error", "allocate_success", "refresh_success"]
        );
        assert_eq!(e.relayed_addresses, ["127.0.0.1:49162"]);
        // The same stream behind RFC 4571 lengths (as Teams relays send).
        let frame = |b: &[u8]| {
            let mut out = Vec::new();
            let mut rest = b;
            while let Step::Done(m) = parse_message(rest, false) {
                out.extend_from_slice(&(m.len as u16).to_be_bytes());
                out.extend_from_slice(&rest[..m.len]);
                rest = &rest[m.len..];
            }
            out
        };
        let out = inspect(Transport::Tcp, &frame(&c), &frame(&s), false);
        let (conf, e) = evidence(&out);
        assert_eq!((conf, e.framing), (CONFIDENCE_TRANSACTION, Some("rfc4571")));
        // TCP never accepts classic (cookie-less) messages.
        let mut classic = c.clone();
        classic[4] ^= 0xFF;
        assert_eq!(inspect(Transport::Tcp, &classic, &s, true), Outcome::NoMatch);
    }

    #[test]
    fn truncation_sweeps() {
        // UDP: a cut datagram is never STUN, and never makes us wait once finished.
        for k in [BINDING_REQUEST, ALLOCATE_SUCCESS, SEND_INDICATION, CHANNEL_DATA_CLIENT] {
            let d = unhex(k);
            for len in 1..d.len() {
                let out = inspect(Transport::Udp, &d[..len], &unhex(BINDING_SUCCESS), false);
                // Once the cookie is there the datagram began as STUN: the cut is an anomaly.
                let began = len >= 8 && k != CHANNEL_DATA_CLIENT;
                assert!(refused(&out) && matches!(out, Outcome::Anomaly(_)) == began, "{len}");
            }
        }
        // TCP: every prefix is consistent (never NoMatch while open) and decided when finished.
        let (c, s) = (unhex(TCP_CLIENT_STREAM), unhex(TCP_SERVER_STREAM));
        let first = parse_message(&c, false);
        let Step::Done(m) = first else { panic!("{first:?}") };
        for len in 0..c.len() {
            let open = inspect(Transport::Tcp, &c[..len], &s, false);
            assert!(!refused(&open), "{len}");
            let done = inspect(Transport::Tcp, &c[..len], &s, true);
            assert_ne!(done, Outcome::NeedMore, "{len}");
            assert_eq!(matches!(done, Outcome::Match(_)), len >= m.len, "{len}");
        }
        for len in 0..s.len() {
            assert!(!refused(&inspect(Transport::Tcp, &c, &s[..len], false)), "{len}");
            assert!(matches!(inspect(Transport::Tcp, &c, &s[..len], true), Outcome::Match(_)), "{len}");
        }
    }

    #[test]
    fn hostile_lengths_end_the_match() {
        // (The parser's own hostile-length cases are proto::stun's tests.)
        let base = unhex(BINDING_REQUEST);
        // An attribute whose length runs past the message.
        let mut lie = base[..HEADER_LEN].to_vec();
        lie[2..4].copy_from_slice(&8u16.to_be_bytes());
        lie.extend_from_slice(&[0x80, 0x22, 0xFF, 0xF0, b'a', b'b', b'c', b'd']);
        assert_eq!(inspect(Transport::Udp, &lie, b"", true), stun(22, Reason::BadLength));
        // 10,000 zero-length attributes: refused after MAX_ATTRIBUTES.
        let mut many = base[..HEADER_LEN].to_vec();
        many[2..4].copy_from_slice(&40_000u16.to_be_bytes());
        for _ in 0..10_000 {
            many.extend_from_slice(&[0x80, 0x2A, 0x00, 0x00]);
        }
        assert_eq!(inspect(Transport::Udp, &many, b"", true), stun(20 + 4 * 64, Reason::OverLimit));
        // Over TCP a message longer than BYTES_WANTED is not waited for.
        assert_eq!(inspect(Transport::Tcp, &many[..HEADER_LEN], b"", false), stun(2, Reason::OverLimit));
        // RFC 4571 frame claiming 64 KiB.
        let mut framed = vec![0xFF, 0xFF];
        framed.extend_from_slice(&base);
        assert_eq!(inspect(Transport::Tcp, &framed, b"", false), stun(0, Reason::OverLimit));
        // A TCP direction that began as STUN (NeedMore) and broke it ends on the anomaly.
        assert_eq!(inspect(Transport::Tcp, &base[..6], b"", false), Outcome::NeedMore);
        let mut broken = base.clone();
        broken[3] = 2;
        assert_eq!(inspect(Transport::Tcp, &broken, b"", false), stun(2, Reason::BadLength));
    }

    #[test]
    fn classic_stun_needs_an_exact_answer() {
        // RFC 3489 Binding request with CHANGE-REQUEST, and a response with MAPPED-ADDRESS,
        // sharing a 128-bit transaction id (built from the RFC layout; coturn speaks only
        // RFC 5389).
        let tid: Vec<u8> = (1..=16).collect();
        let mut req = vec![0x00, 0x01, 0x00, 0x08];
        req.extend_from_slice(&tid);
        req.extend_from_slice(&[0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0]);
        let mut resp = vec![0x01, 0x01, 0x00, 0x0C];
        resp.extend_from_slice(&tid);
        resp.extend_from_slice(&[0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x1F, 0x90, 10, 0, 0, 1]);
        let out = inspect(Transport::Udp, &req, &resp, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_CLASSIC);
        assert!(e.classic);
        assert_eq!(e.mapped_addresses, ["10.0.0.1:8080"]);
        // Alone, or with another transaction id: no.
        assert_eq!(inspect(Transport::Udp, &req, b"", true), Outcome::NoMatch);
        let mut other = resp.clone();
        other[19] ^= 1;
        assert_eq!(inspect(Transport::Udp, &req, &other, true), Outcome::NoMatch);
        // Unknown classic attribute types are not accepted.
        let mut odd = req.clone();
        odd[20..22].copy_from_slice(&[0x00, 0x20]);
        assert_eq!(inspect(Transport::Udp, &odd, &resp, true), Outcome::NoMatch);
    }

    #[test]
    fn other_protocols_and_random_bytes_do_not_match() {
        let mut rng = crate::testutil::XorShift64(0xDEAD_BEEF_CAFE_F00D);
        let mut rnd = |len: usize| rng.bytes(len);
        for len in [1usize, 4, 20, 28, 32, 100, 1200] {
            for _ in 0..200 {
                let (mut a, b) = (rnd(len), rnd(len));
                assert!(refused(&inspect(Transport::Udp, &a, &b, true)));
                // Even with a plausible first byte and length.
                a[0] &= 0x3F;
                if len >= 4 {
                    let l = (len.saturating_sub(HEADER_LEN)) as u16;
                    a[2..4].copy_from_slice(&l.to_be_bytes());
                }
                assert!(refused(&inspect(Transport::Udp, &a, &b, true)));
                assert!(refused(&inspect(Transport::Tcp, &a, &b, true)));
            }
        }
        let dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        assert!(refused(&inspect(Transport::Udp, dns, b"", true)));
        let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(refused(&inspect(Transport::Tcp, http, b"", false)));
        // Unknown method with the cookie.
        let mut m = unhex(BINDING_REQUEST);
        m[1] = 0x0F;
        assert_eq!(inspect(Transport::Udp, &m, b"", true), stun(0, Reason::BadType));
        assert!(!StunFingerprint.wants(Transport::Icmp));
        assert_eq!(inspect(Transport::Udp, b"", b"", true), Outcome::NoMatch);
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        let (c, s) = (unhex(TCP_CLIENT_STREAM), unhex(TCP_SERVER_STREAM));
        let u = unhex(ALLOCATE_SUCCESS);
        for pos in 0..c.len().max(u.len()) {
            for v in [0x00, 0xFF, 0x01, 0x80] {
                let (mut c2, mut u2) = (c.clone(), u.clone());
                if let Some(b) = c2.get_mut(pos) {
                    *b = v;
                }
                if let Some(b) = u2.get_mut(pos) {
                    *b ^= v;
                }
                let _ = inspect(Transport::Tcp, &c2, &s, false);
                assert_ne!(inspect(Transport::Tcp, &c2, &s, true), Outcome::NeedMore);
                assert_ne!(inspect(Transport::Udp, &unhex(ALLOCATE_AUTH_REQUEST), &u2, true), Outcome::NeedMore);
                assert_ne!(inspect(Transport::Udp, &u2, b"", true), Outcome::NeedMore);
            }
        }
    }
}
