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
//!
//! # Why ordinary streams do not match
//! Any first byte decodes as some length prefix, so the prefix alone means nothing. A match
//! needs all of: a minimally encoded prefix (RustDesk's encoder always picks the shortest
//! header) whose first frame fits in [`MAX_FIRST_FRAME_LEN`]; a payload that is exactly one
//! length-delimited protobuf field (a oneof) with a field number RustDesk uses, whose length
//! ends exactly at the end of the frame; a body that parses as that message's schema — every
//! field key valid, every known field of the right wire type, strings valid UTF-8, nested
//! messages well-formed, varints canonical, all ending exactly at the end of the body. Random
//! data and the negative captures (TLS, HTTP, DNS, QUIC, SSH, ...) fail at the first or second
//! of these steps.
//!
//! # Facts used
//! - `rustdesk/libs/hbb_common/src/bytes_codec.rs`: each message is prefixed by a 1–4 byte
//!   little-endian header whose low 2 bits are the header length − 1 and whose other bits are
//!   the payload length; the encoder uses 1 byte up to 0x3F, 2 up to 0x3FFF, 3 up to 0x3FFFFF,
//!   4 up to 0x3FFFFFFF. An empty payload is the single byte `00`.
//! - `rustdesk/libs/hbb_common/protos/rendezvous.proto`: `RendezvousMessage` is a oneof of
//!   fields 6–28 (`register_peer` 6, `register_peer_response` 7, `punch_hole_request` 8,
//!   `punch_hole` 9, `punch_hole_sent` 10, `punch_hole_response` 11, `fetch_local_addr` 12,
//!   `local_addr` 13, `configure_update` 14, `register_pk` 15, `register_pk_response` 16,
//!   `software_update` 17, `request_relay` 18, `relay_response` 19, `test_nat_request` 20,
//!   `test_nat_response` 21, `peer_discovery` 22, `online_request` 23, `online_response` 24,
//!   `key_exchange` 25, `hc` 26, `http_proxy_request` 27, `http_proxy_response` 28); the field
//!   numbers and types of each message are in [`RENDEZVOUS`].
//! - `rustdesk/libs/hbb_common/protos/message.proto`: the peer `Message` is a oneof starting at
//!   field 3 (`signed_id` 3, `public_key` 4, `test_delay` 5, `login_request` 7,
//!   `login_response` 8, `hash` 9, `mouse_event` 10, `key_event` 15, ...); the messages a
//!   connection opens with are in [`PEER`]. Fields added by newer versions take higher numbers,
//!   so unknown field numbers inside a message are accepted with any valid wire type.
//! - Protocol Buffers encoding (protobuf.dev, "Encoding"): key = field number << 3 | wire type
//!   (0 varint, 1 i64, 2 length-delimited, 5 i32; 3/4 are deprecated groups), base-128 varints.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::step::{Layer, Reason};

/// Bytes per direction this fingerprint reads.
pub const BYTES_WANTED: usize = 4096;
/// Largest first-frame payload accepted: the opening message must be complete in what is read.
pub const MAX_FIRST_FRAME_LEN: usize = BYTES_WANTED - 2;
/// Largest later frame accepted (the codec allows 1 GiB; real frames are a few MB at most).
pub const MAX_FRAME_LEN: usize = 64 << 20;
/// Most frames walked per direction.
pub const MAX_FRAMES: usize = 64;
/// Largest protobuf field number accepted anywhere.
pub const MAX_FIELD: u32 = 64;
/// Longest RustDesk ID kept in the evidence.
pub const MAX_ID_LEN: usize = 64;

/// Confidence: both TCP directions open with a valid message, or both UDP datagrams are valid.
pub const CONFIDENCE_BOTH: u8 = 90;
/// Confidence: one TCP direction with a valid first message and another complete frame.
pub const CONFIDENCE_CHAIN: u8 = 80;
/// Confidence: one TCP direction with a single valid, non-empty first message.
pub const CONFIDENCE_SINGLE: u8 = 65;
/// Confidence: one UDP datagram with a valid, non-empty rendezvous message.
pub const CONFIDENCE_UDP_ONE: u8 = 65;

/// Protobuf wire types.
const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;
/// Longest varint (64 bits).
const MAX_VARINT_LEN: usize = 10;

/// What a schema field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Integer, bool or enum (wire type 0).
    Varint,
    /// UTF-8 string (wire type 2).
    Str,
    /// Opaque bytes, packed repeated scalars (wire type 2).
    Bytes,
    /// Nested message (wire type 2, checked as well-formed protobuf).
    Msg,
}

/// One oneof member of `RendezvousMessage` or `Message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageType {
    /// Field number in the oneof.
    pub field: u32,
    /// Field name in the `.proto`.
    pub name: &'static str,
    /// Field number of the RustDesk ID string inside it (0 = none).
    pub id_field: u32,
    /// Known fields and their kinds.
    pub fields: &'static [(u32, Kind)],
}

const fn mt(field: u32, name: &'static str, id_field: u32, fields: &'static [(u32, Kind)]) -> MessageType {
    MessageType { field, name, id_field, fields }
}

use Kind::{Bytes as B, Msg as M, Str as S, Varint as V};
use farhand_model::evidence::{Family, MessageName, RustDeskEvidence};

/// `RendezvousMessage` members (rendezvous.proto).
pub const RENDEZVOUS: &[MessageType] = &[
    mt(6, "register_peer", 1, &[(1, S), (2, V)]),
    mt(7, "register_peer_response", 0, &[(2, V)]),
    mt(8, "punch_hole_request", 1, &[(1, S), (2, V), (3, S), (4, V), (5, S), (6, S), (7, V), (8, V), (9, V), (10, B)]),
    mt(9, "punch_hole", 0, &[(1, B), (2, S), (3, V), (4, V), (5, V), (6, V), (7, B), (8, M)]),
    mt(10, "punch_hole_sent", 2, &[(1, B), (2, S), (3, S), (4, V), (5, S), (6, V), (7, B)]),
    mt(
        11,
        "punch_hole_response",
        0,
        &[(1, B), (2, B), (3, V), (4, S), (5, V), (6, V), (7, S), (8, V), (9, V), (10, V), (11, B)],
    ),
    mt(12, "fetch_local_addr", 0, &[(1, B), (2, S), (3, B), (4, M)]),
    mt(13, "local_addr", 4, &[(1, B), (2, B), (3, S), (4, S), (5, S), (6, B)]),
    mt(14, "configure_update", 0, &[(1, V), (2, S)]),
    mt(15, "register_pk", 1, &[(1, S), (2, B), (3, B), (4, S), (5, V)]),
    mt(16, "register_pk_response", 0, &[(1, V), (2, V)]),
    mt(17, "software_update", 0, &[(1, S)]),
    mt(18, "request_relay", 1, &[(1, S), (2, S), (3, B), (4, S), (5, V), (6, S), (7, V), (8, S), (9, M)]),
    mt(19, "relay_response", 4, &[(1, B), (2, S), (3, S), (4, S), (5, B), (6, S), (7, S), (9, V), (10, B), (11, V)]),
    mt(20, "test_nat_request", 0, &[(1, V)]),
    mt(21, "test_nat_response", 0, &[(1, V), (2, M)]),
    mt(22, "peer_discovery", 3, &[(1, S), (2, S), (3, S), (4, S), (5, S), (6, S), (7, S)]),
    mt(23, "online_request", 1, &[(1, S), (2, S)]),
    mt(24, "online_response", 0, &[(1, B)]),
    mt(25, "key_exchange", 0, &[(1, B)]),
    mt(26, "hc", 0, &[(1, S)]),
    mt(27, "http_proxy_request", 0, &[(1, S), (2, S), (3, M), (4, B)]),
    mt(28, "http_proxy_response", 0, &[(1, V), (2, M), (3, B), (4, S)]),
];

/// Peer `Message` members a connection opens with (message.proto).
pub const PEER: &[MessageType] = &[
    mt(3, "signed_id", 0, &[(1, B)]),
    mt(4, "public_key", 0, &[(1, B), (2, B)]),
    mt(5, "test_delay", 0, &[(1, V), (2, V), (3, V), (4, V)]),
    mt(7, "login_request", 0, &[(1, S), (2, B), (4, S), (5, S), (6, M), (7, M), (8, M), (9, V), (10, V)]),
    mt(8, "login_response", 0, &[(1, S), (2, M)]),
    mt(9, "hash", 0, &[(1, S), (2, S)]),
    mt(10, "mouse_event", 0, &[(1, V), (2, V), (3, V), (4, B)]),
    mt(15, "key_event", 0, &[(1, V), (2, V), (3, V), (4, V), (5, V), (6, S), (8, B)]),
];

/// A recognised opening message, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening<'a> {
    /// Rendezvous or peer.
    pub family: Family,
    /// Oneof member name.
    pub name: &'static str,
    /// Number of fields in the member's body.
    pub fields: usize,
    /// The RustDesk ID it carries, if any (printable ASCII, at most [`MAX_ID_LEN`]).
    pub id: Option<&'a str>,
}

/// Read a canonical base-128 varint.
pub fn varint(buf: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &b) in buf.iter().enumerate().take(MAX_VARINT_LEN) {
        value |= u64::from(b & 0x7f).checked_shl(7 * u32::try_from(i).ok()?)?;
        if b & 0x80 == 0 {
            // A trailing zero byte means a longer encoding than needed.
            if i > 0 && b == 0 {
                return None;
            }
            return Some((value, buf.get(i.checked_add(1)?..)?));
        }
    }
    None
}

/// Read a field key: field number (1..=[`MAX_FIELD`]) and a non-group wire type.
pub fn key(buf: &[u8]) -> Option<(u32, u8, &[u8])> {
    let (k, rest) = varint(buf)?;
    let field = u32::try_from(k >> 3).ok()?;
    let wire = u8::try_from(k & 7).ok()?;
    if !(1..=MAX_FIELD).contains(&field) || ![WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32].contains(&wire) {
        return None;
    }
    Some((field, wire, rest))
}

/// A field value: varint, fixed-size, or length-delimited bytes.
enum Value<'a> {
    Varint,
    Fixed,
    Len(&'a [u8]),
}

fn value(wire: u8, buf: &[u8]) -> Option<(Value<'_>, &[u8])> {
    match wire {
        WIRE_VARINT => varint(buf).map(|(_, rest)| (Value::Varint, rest)),
        WIRE_I64 => buf.split_at_checked(8).map(|(_, rest)| (Value::Fixed, rest)),
        WIRE_I32 => buf.split_at_checked(4).map(|(_, rest)| (Value::Fixed, rest)),
        WIRE_LEN => {
            let (len, rest) = varint(buf)?;
            let (v, rest) = rest.split_at_checked(usize::try_from(len).ok()?)?;
            Some((Value::Len(v), rest))
        }
        _ => None,
    }
}

/// Whether `buf` is a well-formed protobuf message (nested length-delimited fields are not
/// interpreted: they may be strings or bytes).
pub fn well_formed(buf: &[u8]) -> bool {
    let mut rest = buf;
    while !rest.is_empty() {
        match key(rest).and_then(|(_, wire, after)| value(wire, after)) {
            Some((_, after)) => rest = after,
            None => return false,
        }
    }
    true
}

/// Check a message body against a schema; returns its field count.
fn check_body(body: &[u8], schema: &[(u32, Kind)]) -> Option<usize> {
    let mut rest = body;
    let mut count = 0usize;
    while !rest.is_empty() {
        let (field, wire, after) = key(rest)?;
        let (v, after) = value(wire, after)?;
        match (schema.iter().find(|(f, _)| *f == field).map(|(_, k)| *k), v) {
            (None, _) | (Some(Kind::Varint), Value::Varint) | (Some(Kind::Bytes), Value::Len(_)) => {}
            (Some(Kind::Str), Value::Len(s)) if std::str::from_utf8(s).is_ok() => {}
            (Some(Kind::Msg), Value::Len(m)) if well_formed(m) => {}
            _ => return None,
        }
        count = count.saturating_add(1);
        rest = after;
    }
    Some(count)
}

fn find_id(body: &[u8], id_field: u32) -> Option<&str> {
    let mut rest = body;
    while !rest.is_empty() {
        let (field, wire, after) = key(rest)?;
        let (v, after) = value(wire, after)?;
        if let (true, Value::Len(s)) = (field == id_field, v) {
            return std::str::from_utf8(s)
                .ok()
                .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LEN && s.bytes().all(|b| b.is_ascii_graphic()));
        }
        rest = after;
    }
    None
}

/// What a (possibly partial) opening message looks like so far.
fn opening_prefix(payload: &[u8], declared: usize) -> Step<()> {
    let Some((field, wire, after)) = key(payload) else {
        // Keys are at most 2 bytes for the field numbers used.
        return if payload.len() < 2 && payload.last().is_none_or(|b| b & 0x80 != 0) {
            Step::Incomplete
        } else {
            Step::invalid(Layer::RustDesk, 0, Reason::BadValue)
        };
    };
    let known = RENDEZVOUS.iter().chain(PEER).any(|t| t.field == field);
    if wire != WIRE_LEN || !known {
        return Step::invalid(Layer::RustDesk, 0, Reason::BadValue);
    }
    let Some((len, rest)) = varint(after) else {
        return if after.len() < MAX_VARINT_LEN && after.iter().all(|b| b & 0x80 != 0) {
            Step::Incomplete
        } else {
            Step::invalid(Layer::RustDesk, 0, Reason::BadValue)
        };
    };
    let used = payload.len().saturating_sub(rest.len());
    if usize::try_from(len).ok() != declared.checked_sub(used) {
        return Step::invalid(Layer::RustDesk, 0, Reason::BadValue);
    }
    Step::Done(())
}

/// Recognise a complete opening message: exactly one length-delimited oneof member of one of
/// `families`, filling the payload, whose body matches the member's schema.
pub fn classify<'a>(payload: &'a [u8], families: &[Family]) -> Option<Opening<'a>> {
    let (field, wire, after) = key(payload)?;
    let (Value::Len(body), rest) = value(wire, after)? else {
        return None;
    };
    if !rest.is_empty() {
        return None;
    }
    families.iter().find_map(|&family| {
        let table = match family {
            Family::Rendezvous => RENDEZVOUS,
            Family::Peer => PEER,
        };
        let t = table.iter().find(|t| t.field == field)?;
        let fields = check_body(body, t.fields)?;
        let id = if t.id_field == 0 { None } else { find_id(body, t.id_field) };
        Some(Opening { family, name: t.name, fields, id })
    })
}

/// Decode a frame header: payload length and header length. `Invalid` for a non-minimal
/// header.
pub fn parse_frame_header(buf: &[u8]) -> Step<(usize, usize)> {
    let Some(&first) = buf.first() else {
        return Step::Incomplete;
    };
    let header_len = usize::from(first & 3) + 1;
    let Some(bytes) = buf.get(..header_len) else {
        return Step::Incomplete;
    };
    let raw = bytes.iter().rev().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    let len = raw >> 2;
    let smallest = match header_len {
        1 => 0,
        2 => 0x40,
        3 => 0x4000,
        _ => 0x40_0000,
    };
    if len < smallest {
        return Step::invalid(Layer::RustDesk, 0, Reason::BadValue);
    }
    Step::Done((len, header_len))
}

/// One direction of a TCP exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side<'a> {
    /// The opening message (the first frame's payload).
    pub opening: Opening<'a>,
    /// Complete frames, the first included.
    pub frames: usize,
    /// The opening frame's payload.
    pub payload: &'a [u8],
}

impl Side<'_> {
    /// One direction on its own is RustDesk: several complete frames, or a non-empty opening
    /// message.
    pub fn strength(&self) -> Option<u8> {
        if self.frames >= 2 {
            Some(CONFIDENCE_CHAIN)
        } else if self.opening.fields >= 1 {
            Some(CONFIDENCE_SINGLE)
        } else {
            None
        }
    }
}

/// Parse one TCP direction: the opening frame in full, then the framing of what follows.
pub fn parse_side(buf: &[u8]) -> Step<Side<'_>> {
    let (len, header_len) = match parse_frame_header(buf) {
        Step::Done(h) => h,
        Step::Incomplete => return Step::Incomplete,
        Step::Invalid(_) => return Step::invalid(Layer::RustDesk, 0, Reason::BadValue),
    };
    if len == 0 || len > MAX_FIRST_FRAME_LEN {
        return Step::invalid(Layer::RustDesk, 0, Reason::BadValue);
    }
    let after_header = buf.get(header_len..).unwrap_or_default();
    let available = after_header.get(..len).unwrap_or(after_header);
    match opening_prefix(available, len) {
        Step::Invalid(_) => return Step::invalid(Layer::RustDesk, 0, Reason::BadValue),
        // A complete payload cannot end inside its key or length.
        Step::Incomplete if available.len() == len => return Step::invalid(Layer::RustDesk, 0, Reason::BadValue),
        Step::Incomplete => return Step::Incomplete,
        Step::Done(()) => {}
    }
    let Some((payload, mut rest)) = after_header.split_at_checked(len) else {
        return Step::Incomplete;
    };
    let Some(opening) = classify(payload, &[Family::Rendezvous, Family::Peer]) else {
        return Step::invalid(Layer::RustDesk, 0, Reason::BadValue);
    };
    let mut frames = 1usize;
    while frames < MAX_FRAMES && !rest.is_empty() {
        match parse_frame_header(rest) {
            Step::Invalid(_) => return Step::invalid(Layer::RustDesk, 0, Reason::BadValue),
            Step::Incomplete => break,
            Step::Done((len, _)) if len > MAX_FRAME_LEN => return Step::invalid(Layer::RustDesk, 0, Reason::BadValue),
            Step::Done((len, header_len)) => match rest.get(header_len.saturating_add(len)..) {
                Some(after) => {
                    frames = frames.saturating_add(1);
                    rest = after;
                }
                None => break,
            },
        }
    }
    Step::Done(Side { opening, frames, payload })
}

/// Both TCP directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The client's frames.
    pub client: Step<Side<'a>>,
    /// The server's frames.
    pub server: Step<Side<'a>>,
}

/// Parse a TCP exchange. Pure and zero-copy.
pub fn parse<'a>(orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    Parsed { client: parse_side(orig), server: parse_side(resp) }
}

/// Decide on a parsed TCP exchange.
pub fn fingerprint(parsed: &Parsed<'_>, finished: bool) -> Outcome {
    if parsed.client.is_invalid() || parsed.server.is_invalid() {
        return Outcome::NoMatch;
    }
    let (mut c, mut s) = (parsed.client.done(), parsed.server.done());
    // Field numbers 6-10 and 15 exist in both oneofs: when the two directions disagree, read
    // an ambiguous opening in the other direction's family.
    if let (Some(cs), Some(ss)) = (c.as_mut(), s.as_mut())
        && cs.opening.family != ss.opening.family
    {
        if let Some(o) = classify(ss.payload, &[cs.opening.family]) {
            ss.opening = o;
        } else if let Some(o) = classify(cs.payload, &[ss.opening.family]) {
            cs.opening = o;
        }
    }
    let confidence = match (c, s) {
        (Some(_), Some(_)) => CONFIDENCE_BOTH,
        _ if !finished => return Outcome::NeedMore,
        _ => match c.and_then(|c| c.strength()).max(s.and_then(|s| s.strength())) {
            Some(conf) => conf,
            None => return Outcome::NoMatch,
        },
    };
    let frames = |side: Option<Side<'_>>| side.map_or(0, |s| s.frames);
    rd_match(Transport::Tcp, confidence, c.map(|s| s.opening), s.map(|s| s.opening), frames(c), frames(s))
}

/// Decide on a UDP exchange (first datagram of each direction).
pub fn fingerprint_udp(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
    let rendezvous = [Family::Rendezvous];
    let (o, r) = (classify(orig, &rendezvous), classify(resp, &rendezvous));
    let confidence = match (o, r) {
        (Some(_), Some(_)) => CONFIDENCE_BOTH,
        _ if !orig.is_empty() && o.is_none() || !resp.is_empty() && r.is_none() => return Outcome::NoMatch,
        _ if !finished => return Outcome::NeedMore,
        (Some(m), None) | (None, Some(m)) if m.fields >= 1 => CONFIDENCE_UDP_ONE,
        _ => return Outcome::NoMatch,
    };
    rd_match(Transport::Udp, confidence, o, r, usize::from(o.is_some()), usize::from(r.is_some()))
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
            Transport::Icmp => Outcome::NoMatch,
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
    use crate::testutil::unhex;

    // There is no public RustDesk capture and RustDesk is not packaged for Debian, so test
    // messages are hand-encoded from rendezvous.proto / message.proto with the small protobuf
    // writer below and framed with the bytes_codec header rule. Three of them are checked
    // against the encoding of protoc 3.21.12 (Debian 12 package protobuf-compiler), run as
    // `protoc --encode=hbb.RendezvousMessage rd.proto` / `--encode=hbb.Message` on a .proto
    // restating the field numbers and types used here (PROTOC_* below).
    const PROTOC_REGISTER_PEER: &str = "320d0a093132333435363738391001";
    const PROTOC_PUNCH_HOLE_REQUEST: &str =
        "422a0a0931323334353637383910011a1063325679646d56794c57746c65513d3d3205312e332e3738fca401";
    const PROTOC_REQUEST_RELAY: &str = "9201480a09313233343536373839122430653662336338612d356637642d346432652d396136312d336332663862376531643430221372656c61792e6578616d706c653a32313131372801";

    fn pb_varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A length-delimited field.
    fn ld(field: u32, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        pb_varint(u64::from(field) << 3 | 2, &mut out);
        pb_varint(bytes.len() as u64, &mut out);
        out.extend_from_slice(bytes);
        out
    }

    /// A varint field.
    fn vi(field: u32, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        pb_varint(u64::from(field) << 3, &mut out);
        pb_varint(v, &mut out);
        out
    }

    /// bytes_codec framing.
    fn frame(payload: &[u8]) -> Vec<u8> {
        let n = payload.len();
        let mut out = if n <= 0x3f {
            vec![(n << 2) as u8]
        } else if n <= 0x3fff {
            ((n << 2) as u16 | 1).to_le_bytes().to_vec()
        } else {
            ((n << 2) as u32 | 2).to_le_bytes()[..3].to_vec()
        };
        out.extend_from_slice(payload);
        out
    }

    // RendezvousMessage{ register_peer: { id: "123456789", serial: 1 } }
    fn register_peer() -> Vec<u8> {
        ld(6, &[ld(1, b"123456789"), vi(2, 1)].concat())
    }

    // RendezvousMessage{ register_peer_response: { request_pk: true } }
    fn register_peer_response() -> Vec<u8> {
        ld(7, &vi(2, 1))
    }

    // RendezvousMessage{ punch_hole_request: { id, nat_type: ASYMMETRIC, licence_key, version,
    // udp_port: 21116 } }
    fn punch_hole_request() -> Vec<u8> {
        ld(8, &[ld(1, b"123456789"), vi(2, 1), ld(3, b"c2VydmVyLWtleQ=="), ld(6, b"1.3.7"), vi(7, 21116)].concat())
    }

    // RendezvousMessage{ request_relay: { id, uuid, relay_server, secure: true } } (field 18:
    // a two-byte key).
    fn request_relay() -> Vec<u8> {
        ld(
            18,
            &[
                ld(1, b"123456789"),
                ld(2, b"0e6b3c8a-5f7d-4d2e-9a61-3c2f8b7e1d40"),
                ld(4, b"relay.example:21117"),
                vi(5, 1),
            ]
            .concat(),
        )
    }

    // Message{ signed_id: { id: <96 bytes: signature + id + key> } } (a 2-byte frame header).
    fn signed_id() -> Vec<u8> {
        ld(3, &ld(1, &[0xA5; 96]))
    }

    // Message{ public_key: { asymmetric_value: <32 bytes>, symmetric_value: <48 bytes> } }
    fn public_key() -> Vec<u8> {
        ld(4, &[ld(1, &[0x11; 32]), ld(2, &[0x22; 48])].concat())
    }

    // Message{ hash: { salt, challenge } }
    fn hash() -> Vec<u8> {
        ld(9, &[ld(1, b"c2FsdHNhbHQ="), ld(2, b"Y2hhbGxlbmdl")].concat())
    }

    /// An encrypted frame after the key exchange: opaque bytes, only the prefix is clear.
    fn sealed(len: usize) -> Vec<u8> {
        frame(&(0..len).map(|i| (i * 31 + 7) as u8).collect::<Vec<_>>())
    }

    /// Peer session as seen on the wire: the controlled side sends signed_id, then encrypted
    /// frames; the controlling side answers public_key, then encrypted frames.
    fn peer_client() -> Vec<u8> {
        [frame(&public_key()), sealed(40), sealed(200)].concat()
    }

    fn peer_server() -> Vec<u8> {
        [frame(&signed_id()), sealed(60), sealed(1000)].concat()
    }

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
    fn hand_encoding_matches_protoc() {
        assert_eq!(register_peer(), unhex(PROTOC_REGISTER_PEER));
        assert_eq!(punch_hole_request(), unhex(PROTOC_PUNCH_HOLE_REQUEST));
        assert_eq!(request_relay(), unhex(PROTOC_REQUEST_RELAY));
    }

    #[test]
    fn frame_headers() {
        assert_eq!(frame(&[]), vec![0x00]);
        assert_eq!(parse_frame_header(&[0x00]), Step::Done((0, 1)));
        assert_eq!(parse_frame_header(&[0xfc]), Step::Done((0x3f, 1)));
        assert_eq!(parse_frame_header(&frame(&[0; 0x40])), Step::Done((0x40, 2)));
        assert_eq!(parse_frame_header(&frame(&[0; 0x4000])), Step::Done((0x4000, 3)));
        assert_eq!(parse_frame_header(&[0x01]), Step::Incomplete);
        // Non-minimal headers are never produced by RustDesk's encoder.
        assert!(parse_frame_header(&[0x05, 0x00]).is_invalid());
        assert!(parse_frame_header(&[0x02, 0x01, 0x00]).is_invalid());
        assert!(parse_frame_header(&[0x03, 0x00, 0x01, 0x00]).is_invalid());
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
        // Wrong wire type for a known field (id as a varint).
        assert_eq!(classify(&ld(6, &[vi(1, 5), vi(2, 1)].concat()), &[Family::Rendezvous]), None);
        // A string that is not UTF-8.
        assert_eq!(classify(&ld(6, &ld(1, &[0xff, 0xfe])), &[Family::Rendezvous]), None);
        // Body length not matching the payload, trailing bytes after the oneof field.
        let mut p = register_peer();
        p.push(0);
        assert_eq!(classify(&p, &[Family::Rendezvous]), None);
        let mut p = register_peer();
        p[1] += 1;
        assert_eq!(classify(&p, &[Family::Rendezvous]), None);
        // Field numbers RustDesk does not use at the top level, group wire types.
        assert_eq!(classify(&ld(40, &vi(1, 1)), &[Family::Rendezvous, Family::Peer]), None);
        assert_eq!(classify(&[0x33, 0x00], &[Family::Rendezvous]), None);
        // Non-canonical varints.
        assert_eq!(varint(&[0x80, 0x00]), None);
        assert_eq!(varint(&[0x01]), Some((1, &[][..])));
        // Unknown (newer) fields inside a known message are tolerated.
        let newer = ld(8, &[ld(1, b"123456789"), vi(11, 1), ld(12, b"x")].concat());
        assert_eq!(classify(&newer, &[Family::Rendezvous]).map(|o| o.fields), Some(3));
        // An opening frame whose payload is not a RustDesk message, after framing is fine.
        assert_eq!(tcp(&frame(b"hello world"), b"", true), Outcome::NoMatch);
        // Encrypted opening frame (random bytes) is rejected.
        assert_eq!(tcp(&sealed(48), &sealed(48), false), Outcome::NoMatch);
    }

    #[test]
    fn truncation_sweep_never_panics_or_contradicts() {
        let pairs = [
            (peer_client(), peer_server()),
            (frame(&punch_hole_request()), frame(&ld(25, &ld(1, &[0x33; 32])))),
            (frame(&request_relay()), frame(&signed_id())),
        ];
        for (c, s) in pairs {
            for i in 0..=c.len() {
                for j in (0..=s.len()).step_by(5).chain([s.len()]) {
                    let (o, r) = (&c[..i], &s[..j]);
                    assert_ne!(tcp(o, r, false), Outcome::NoMatch, "{i} {j}");
                    assert_ne!(tcp(o, r, true), Outcome::NeedMore, "{i} {j}");
                }
            }
            for j in 0..=s.len() {
                assert_ne!(tcp(&c, &s[..j], false), Outcome::NoMatch, "{j}");
                assert_ne!(tcp(b"", &s[..j], false), Outcome::NoMatch, "{j}");
            }
        }
        let d = register_peer();
        for i in 1..d.len() {
            assert_eq!(classify(&d[..i], &[Family::Rendezvous]), None, "{i}");
        }
    }

    #[test]
    fn hostile_lengths() {
        // A header claiming 1 GB as the opening frame.
        let huge = ((0x3FFF_FFFFu32 << 2) | 3).to_le_bytes();
        assert_eq!(tcp(&huge, b"", false), Outcome::NoMatch);
        // ... and as a later frame, past MAX_FRAME_LEN.
        let c = [frame(&public_key()), huge.to_vec()].concat();
        assert_eq!(tcp(&c, &peer_server(), false), Outcome::NoMatch);
        // A later frame just within limits is waited for, then settled.
        let big = ((u32::try_from(MAX_FRAME_LEN).unwrap() << 2) | 3).to_le_bytes();
        let c = [frame(&public_key()), big.to_vec(), vec![0; 100]].concat();
        assert_eq!(tcp(&c, b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&tcp(&c, b"", true)).0, CONFIDENCE_SINGLE);
        // An inner length claiming far more than the frame.
        let mut p = vec![0x32];
        pb_varint(1 << 30, &mut p);
        assert_eq!(tcp(&frame(&p), b"", false), Outcome::NoMatch);
        assert_eq!(classify(&p, &[Family::Rendezvous]), None);
        // 10,000 empty frames after a valid opening: bounded walk, buffer cut and decided.
        let c = [frame(&public_key()), vec![0u8; 10_000]].concat();
        let out = tcp(&c, b"", false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_CHAIN);
        assert_eq!(e.client_frames, MAX_FRAMES);
        // 10,000 empty frames as the whole stream: an empty opening frame is not RustDesk.
        assert_eq!(tcp(&[0u8; 10_000], b"", false), Outcome::NoMatch);
        // Deeply nested messages do not recurse without bound.
        let mut nested = vi(1, 1);
        for _ in 0..500 {
            nested = ld(1, &nested);
        }
        let _ = classify(&ld(9, &nested), &[Family::Rendezvous]);
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
