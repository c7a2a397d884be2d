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
//! same channel number (a relayed session picked up mid-way) and, over TCP, each direction is
//! at least [`MIN_STREAM_CHANNEL_DATA`] whole ChannelData messages back to back, each with
//! data (the first four bytes of many binary protocols read as a channel number and length). `NoMatch` as soon as the first
//! message of the initiator's side contradicts STUN and ChannelData; when that message
//! carried the magic cookie (it began as STUN), the responder's messages decide, and
//! `Anomaly` (where and why) only when they hold no valid one.
//!
//! Classic STUN (RFC 3489 and the dialects that kept its header: Zoom's, Microsoft's MS-TURN;
//! no magic cookie) has only the length field and a 16-byte transaction id to check, so a
//! classic message matches only when the whole structure is exact (a known classic type,
//! length == datagram − 20, attributes that walk exactly to the end, well-formed addresses)
//! **and** the other direction answers it with the same 128-bit transaction id — or it
//! carries MS-TURN's MAGIC-COOKIE attribute (`0x72C64BC6`, [`CONFIDENCE_MS_TURN`]). Any other
//! lone classic message is `NoMatch`.
//!
//! A flow is judged by the weight of its valid messages, not rejected on its first odd one:
//! when the initiator's first message began as STUN (the cookie in place) but breaks a rule
//! (WhatsApp's Allocate with a length that is no multiple of 4, an unknown type), valid
//! messages from the responder still make it STUN/TURN — at [`CONFIDENCE_TRANSACTION`] when
//! one answers the broken message's transaction id.
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
    CHANNEL_HEADER_LEN, Class, Framing, MAX_ADDRESSES, MAX_STREAM_MESSAGE_LEN, Message, Packet, SideParse,
    parse_datagram, parse_stream,
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
/// Confidence: several messages (or messages from both sides) with the magic cookie, one of
/// them with a FINGERPRINT attribute that verifies.
pub const CONFIDENCE_FINGERPRINT: u8 = 90;
/// Confidence: several validated messages with the magic cookie (or messages from both sides).
pub const CONFIDENCE_MESSAGE: u8 = 80;
/// Confidence: one message alone, with the magic cookie and a FINGERPRINT that verifies — one
/// packet of one side is never "high" (docs/CONFIDENCE.md).
pub const CONFIDENCE_LONE_FINGERPRINT: u8 = 75;
/// Confidence: one message alone with the magic cookie.
pub const CONFIDENCE_LONE_MESSAGE: u8 = 65;
/// Confidence: classic RFC 3489 request and response with the same 128-bit transaction id.
pub const CONFIDENCE_CLASSIC: u8 = 75;
/// Confidence: a classic message carrying MS-TURN's MAGIC-COOKIE attribute, unanswered.
pub const CONFIDENCE_MS_TURN: u8 = 70;
/// Confidence: ChannelData both ways on the same channel, nothing else seen.
pub const CONFIDENCE_CHANNEL_DATA: u8 = 60;
/// ChannelData messages, back to back and each carrying data, that each direction of a TCP
/// stream must hold before ChannelData alone counts.
pub const MIN_STREAM_CHANNEL_DATA: usize = 2;

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

/// What ChannelData alone (no STUN message) says of the two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChannelOnly {
    /// Enough ChannelData on one channel both ways.
    Relayed,
    /// Nothing contradicts it yet, but there is not enough (TCP: wait for more).
    Short,
    /// Not a relayed channel.
    No,
}

/// Judge ChannelData alone. Over UDP the datagram's size confirms its one message's length,
/// so one message each way on the same channel is enough. Over TCP the two-byte channel
/// number and length are just the first four bytes of a stream — `ES` and `HS` begin
/// Elasticsearch's and HiSLIP's messages, and a MongoDB message length can too — so each
/// direction must be at least [`MIN_STREAM_CHANNEL_DATA`] messages back to back, each
/// carrying data, all on the same channel, and nothing else: the next message's header must
/// sit exactly where the previous one's length ends, which foreign framing does by chance
/// about once in 16,000 tries per message.
fn channel_only(orig: &SideParse<'_>, resp: &SideParse<'_>, transport: Transport) -> ChannelOnly {
    let (Some(a), Some(b)) = (channel_of(orig), channel_of(resp)) else { return ChannelOnly::No };
    if a != b {
        return ChannelOnly::No;
    }
    if transport != Transport::Tcp {
        return ChannelOnly::Relayed;
    }
    let side = |s: &SideParse<'_>| -> Option<usize> {
        let ok = !s.stopped
            && s.packets.iter().all(
                |p| matches!(p, Packet::ChannelData { channel, len } if *channel == a && *len > CHANNEL_HEADER_LEN),
            );
        ok.then_some(s.packets.len())
    };
    match (side(orig), side(resp)) {
        (Some(x), Some(y)) if x >= MIN_STREAM_CHANNEL_DATA && y >= MIN_STREAM_CHANNEL_DATA => ChannelOnly::Relayed,
        (Some(_), Some(_)) => ChannelOnly::Short,
        _ => ChannelOnly::No,
    }
}

/// Confidence of the two parsed directions, or `None` when they are not STUN/TURN enough;
/// with whether a transaction paired.
fn confidence(orig: &SideParse<'_>, resp: &SideParse<'_>, channels: ChannelOnly) -> (Option<u8>, bool) {
    let matched = answered(orig, resp) || answered(resp, orig);
    let msgs = || messages(orig).chain(messages(resp));
    let cookie = msgs().any(|m| !m.classic);
    let classic = msgs().any(|m| m.classic);
    let fp = msgs().any(|m| m.fingerprint_ok);
    let same_channel = channels == ChannelOnly::Relayed;
    let ms_turn = msgs().any(|m| m.ms_turn);
    let several = msgs().nth(1).is_some();
    let c = if matched && cookie {
        CONFIDENCE_TRANSACTION
    } else if cookie && fp {
        if several { CONFIDENCE_FINGERPRINT } else { CONFIDENCE_LONE_FINGERPRINT }
    } else if cookie {
        if several { CONFIDENCE_MESSAGE } else { CONFIDENCE_LONE_MESSAGE }
    } else if matched && classic {
        CONFIDENCE_CLASSIC
    } else if ms_turn {
        CONFIDENCE_MS_TURN
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
        if !orig.cookie {
            return Outcome::NoMatch;
        }
        // It began as STUN and broke a rule — a dialect's odd length or unknown type. The
        // flow is judged by the weight of its valid messages: the responder's.
        if messages(resp).any(|m| !m.classic) {
            let paired = orig.broken_id.is_some_and(|id| {
                messages(resp).any(|m| matches!(m.class, Class::Success | Class::Error) && m.transaction_id == id)
            });
            return Outcome::Match(Match {
                tool: Tool::StunTurn,
                confidence: if paired { CONFIDENCE_TRANSACTION } else { CONFIDENCE_MESSAGE },
                method: Method::PayloadStructure,
                evidence: Evidence::Stun(evidence(orig, resp, paired)),
            });
        }
        // A datagram's answer is one datagram away; a TCP stream that broke is not waited on.
        let waiting = transport == Transport::Udp && resp.pending && !finished;
        return if waiting { Outcome::NeedMore } else { Outcome::Anomaly(a) };
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
    let channels = channel_only(orig, resp, transport);
    let (Some(confidence), matched) = confidence(orig, resp, channels) else {
        // ChannelData alone over TCP (nothing but ChannelData either way): more messages may
        // still confirm the framing.
        return if channels == ChannelOnly::Short && !finished { Outcome::NeedMore } else { Outcome::NoMatch };
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
            Transport::Icmp | Transport::Esp | Transport::Ah | Transport::Gre => return Outcome::NoMatch,
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
            assert_eq!(conf, CONFIDENCE_LONE_FINGERPRINT);
            assert_eq!(e.peer_addresses, ["127.0.0.1:3481"]);
            // The same message twice (two datagrams' worth, or from both sides): more weight.
            let twice = [d.clone(), d.clone()].concat();
            assert_eq!(evidence(&inspect(Transport::Tcp, &twice, b"", true)).0, CONFIDENCE_FINGERPRINT);
        }
        // Without FINGERPRINT (strip it, fix the length): the plain message confidence.
        let mut d = unhex(SEND_INDICATION);
        d.truncate(d.len() - 8);
        let len = (d.len() - HEADER_LEN) as u16;
        d[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(evidence(&inspect(Transport::Udp, &d, b"", true)).0, CONFIDENCE_LONE_MESSAGE);
        assert_eq!(evidence(&inspect(Transport::Udp, &d, &d, true)).0, CONFIDENCE_MESSAGE);
        // A corrupted FINGERPRINT is reported, not trusted.
        let mut bad = unhex(SEND_INDICATION);
        let n = bad.len();
        bad[n - 1] ^= 1;
        let out = inspect(Transport::Udp, &bad, b"", true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_LONE_MESSAGE);
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
    fn dialects_are_judged_by_their_valid_messages() {
        // WhatsApp's Allocate: the length is no multiple of 4 (here: one byte of value more,
        // the length and the datagram agreeing). The server's 401 answers its transaction id.
        let mut odd = unhex(ALLOCATE_REQUEST);
        odd.push(0x00);
        let len = (odd.len() - HEADER_LEN) as u16;
        odd[2..4].copy_from_slice(&len.to_be_bytes());
        let answer = unhex(ALLOCATE_401);
        let out = inspect(Transport::Udp, &odd, &answer, false);
        let (conf, e) = evidence(&out);
        assert_eq!((conf, e.transaction_matched), (CONFIDENCE_TRANSACTION, true));
        assert_eq!(e.realm.as_deref(), Some("example.test"));
        // Unanswered yet: wait; never answered: the anomaly, as before.
        assert_eq!(inspect(Transport::Udp, &odd, b"", false), Outcome::NeedMore);
        assert!(matches!(inspect(Transport::Udp, &odd, b"", true), Outcome::Anomaly(_)));
        // A zero-length message of an unknown type first, then a valid answer to something
        // else: the answer's weight, without the pairing.
        let mut unknown = unhex(BINDING_REQUEST);
        unknown[1] = 0x0F;
        let out = inspect(Transport::Udp, &unknown, &unhex(ALLOCATE_401), false);
        let (conf, e) = evidence(&out);
        assert_eq!((conf, e.transaction_matched), (CONFIDENCE_MESSAGE, false));
        // An answer that is no STUN does not rescue it.
        assert!(refused(&inspect(Transport::Udp, &odd, b"\x16\x03\x01\x00\x05hello", false)));
        // Bytes that never began as STUN stay NoMatch whatever answers.
        assert_eq!(inspect(Transport::Udp, b"GET / HTTP/1.1\r\n\r\n", &answer, false), Outcome::NoMatch);
    }

    #[test]
    fn ms_turn_and_classic_dialects() {
        // MS-TURN Allocate (classic header, MAGIC-COOKIE attribute, MS-VERSION 0x8008).
        let mut req = vec![0x00, 0x03, 0x00, 0x10];
        req.extend(1..=16u8);
        req.extend_from_slice(&[0x00, 0x0F, 0x00, 0x04, 0x72, 0xC6, 0x4B, 0xC6]);
        req.extend_from_slice(&[0x80, 0x08, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06]);
        let out = inspect(Transport::Udp, &req, b"", true);
        let (conf, e) = evidence(&out);
        assert_eq!((conf, e.messages.as_slice()), (CONFIDENCE_MS_TURN, &["allocate_request"][..]));
        // Answered with the same 128-bit id (an MS-TURN Allocate error with its own attributes).
        let mut resp = vec![0x01, 0x13, 0x00, 0x08];
        resp.extend(1..=16u8);
        resp.extend_from_slice(&[0x80, 0x50, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01]);
        let out = inspect(Transport::Udp, &req, &resp, false);
        let (conf, e) = evidence(&out);
        assert_eq!((conf, e.transaction_matched), (CONFIDENCE_CLASSIC, true));
        // Without the cookie attribute a lone classic message is still nothing; the pairing
        // makes it classic STUN.
        let mut plain = req.clone();
        plain[20..28].copy_from_slice(&[0x80, 0x55, 0x00, 0x04, 0, 0, 0, 1]);
        assert_eq!(inspect(Transport::Udp, &plain, b"", true), Outcome::NoMatch);
        assert!(matches!(inspect(Transport::Udp, &plain, &resp, false), Outcome::Match(_)));
        let mut other_id = resp.clone();
        other_id[19] ^= 1;
        assert_eq!(inspect(Transport::Udp, &plain, &other_id, true), Outcome::NoMatch);
    }

    #[test]
    fn channel_data_over_tcp_needs_its_framing_confirmed() {
        // Two ChannelData messages each way on channel 0x4001, 5 bytes of data padded to 8.
        let cd = |n: usize| -> Vec<u8> {
            (0..n).flat_map(|i| [0x40, 0x01, 0x00, 0x05, b'a', b'b', b'c', b'd', i as u8, 0, 0, 0]).collect()
        };
        let (c, s) = (cd(2), cd(2));
        let out = inspect(Transport::Tcp, &c, &s, false);
        let (conf, e) = evidence(&out);
        assert_eq!((conf, e.channels.as_slice()), (CONFIDENCE_CHANNEL_DATA, &[0x4001][..]));
        // One message each way: wait while the stream goes on, nothing once it ended.
        assert_eq!(inspect(Transport::Tcp, &cd(1), &cd(1), false), Outcome::NeedMore);
        assert_eq!(inspect(Transport::Tcp, &cd(1), &cd(2), true), Outcome::NoMatch);
        // Elasticsearch's transport messages: `ES`, then a 4-byte length whose high half is
        // zero — a ChannelData header with no data, followed by bytes that are not a message.
        let es_req = unhex("4553000000410000000000000001080800d13b0000000000");
        let es_resp = unhex("4553000000190000000000000001090800d13b0000000000");
        assert_eq!(inspect(Transport::Tcp, &es_req, &es_resp, false), Outcome::NoMatch);
        assert_eq!(inspect(Transport::Tcp, &es_req, &es_resp, true), Outcome::NoMatch);
        // HiSLIP: `HS`, message type and control code, then a 4-byte parameter and 8-byte length.
        let hs = unhex("48530001000000010000000000000008");
        assert_eq!(inspect(Transport::Tcp, &hs, &hs, true), Outcome::NoMatch);
        // Empty ChannelData, a second channel, or something else after the first: no.
        let empty: Vec<u8> = [0x40, 0x01, 0, 0].repeat(3);
        assert_eq!(inspect(Transport::Tcp, &empty, &empty, true), Outcome::NoMatch);
        let mut two = cd(2);
        two[13] = 0x02;
        assert_eq!(inspect(Transport::Tcp, &two, &s, true), Outcome::NoMatch);
        let mut then = cd(1);
        then.extend_from_slice(b"\x00\x01\x00\x08garbage-garbage-garbage!");
        assert_eq!(inspect(Transport::Tcp, &then, &s, false), Outcome::NoMatch);
        // Over UDP one datagram each way still is enough (the datagram confirms the length).
        assert!(matches!(inspect(Transport::Udp, &cd(1), &cd(1), false), Outcome::Match(_)));
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
                // Once the cookie is there the datagram began as STUN: the cut is an anomaly,
                // unless a valid answer weighs for the flow.
                let began = len >= 8 && k != CHANNEL_DATA_CLIENT;
                let alone = inspect(Transport::Udp, &d[..len], b"", true);
                assert!(refused(&alone) && matches!(alone, Outcome::Anomaly(_)) == began, "{len}");
                let answered = inspect(Transport::Udp, &d[..len], &unhex(BINDING_SUCCESS), false);
                assert_eq!(matches!(answered, Outcome::Match(_)), began, "{len}");
                assert!(began || refused(&answered), "{len}");
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
