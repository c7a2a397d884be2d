//! RustDesk's wire format: the `bytes_codec` frame header, the protobuf varints, keys and
//! values its messages are made of, and the tables of the rendezvous and peer messages a
//! connection opens with.
//!
//! # Contract
//! - [`parse_frame_header`] reads a frame header at the front of a buffer: `Invalid`
//!   ([`Reason::BadLength`] at 0) for a header longer than its length needs (RustDesk's
//!   encoder always picks the shortest), `Incomplete` while the header is cut.
//! - [`varint`] and [`key`] read one protobuf varint or field key at the front of a buffer:
//!   `Invalid` for a non-canonical varint ([`Reason::BadValue`]), one longer than
//!   [`MAX_VARINT_LEN`] bytes ([`Reason::OverLimit`]), a field number 0
//!   ([`Reason::BadValue`]) or above [`MAX_FIELD`] ([`Reason::OverLimit`]), a group or
//!   undefined wire type ([`Reason::BadType`]), all at 0; `Incomplete` while cut.
//! - [`classify`] reads a complete opening message (a TCP frame's payload, or a whole UDP
//!   datagram): exactly one length-delimited member of the [`RENDEZVOUS`] or [`PEER`] oneof,
//!   filling the payload, whose body matches the member's schema. Its anomalies: a member no
//!   family given has, or not length-delimited ([`Reason::BadType`] at 0); a member length
//!   that does not end where the payload ends ([`Reason::BadLength`] at the length); in the
//!   body, a known field of the wrong wire type ([`Reason::BadType`] at its key), a string
//!   that is not UTF-8 ([`Reason::BadValue`] at its bytes), a field cut by the end of its
//!   message ([`Reason::Truncated`] at the field or value, [`Reason::BadLength`] at a length
//!   past the end), and the same inside a nested message ([`well_formed`]).
//! - [`parse_side`] reads one TCP direction: the opening frame in full (classified), then
//!   only the headers of the frames after it, up to [`MAX_FRAMES`] in all (they are
//!   encrypted). Its anomalies: an empty opening frame ([`Reason::BadLength`] at 0) or one
//!   over [`MAX_FIRST_FRAME_LEN`] ([`Reason::OverLimit`] at 0), the opening message's (past
//!   the header), and a later header that is not minimal or claims more than
//!   [`MAX_FRAME_LEN`] ([`Reason::OverLimit`]) at that header. `Incomplete` while the opening
//!   frame is cut and consistent so far (its key and member length are checked as soon as
//!   they are there).
//! - [`began`] and [`starts_with_member`] say whether bytes began as RustDesk (a first frame's
//!   header and a known member's key): what lets a fingerprint tell a broken RustDesk stream
//!   from bytes that never were one.
//! - Offsets are from the start of the bytes the function was given. The parser decides
//!   nothing: whether an exchange is RustDesk, and how sure, is the RustDesk fingerprint's
//!   business (`farhand-engine`, `fingerprint/rustdesk.rs`).
//! - Pure, panic-free, zero-copy; nothing allocates, nothing recurses (a nested message is
//!   checked as well-formed protobuf; its own length-delimited fields are not interpreted).
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

use crate::step::{Anomaly, Layer, Reason, Step};
use farhand_model::evidence::Family;

/// Most bytes an opening frame may take, header included.
pub const MAX_OPENING_LEN: usize = 4096;
/// Largest opening-frame payload accepted (a payload this long takes a 2-byte header, so the
/// whole frame fits in [`MAX_OPENING_LEN`]).
pub const MAX_FIRST_FRAME_LEN: usize = MAX_OPENING_LEN - 2;
/// Largest later frame accepted (the codec allows 1 GiB; real frames are a few MB at most).
pub const MAX_FRAME_LEN: usize = 64 << 20;
/// Most frames walked per direction, the opening one included.
pub const MAX_FRAMES: usize = 64;
/// Largest protobuf field number accepted anywhere.
pub const MAX_FIELD: u32 = 64;
/// Longest RustDesk ID kept in an [`Opening`].
pub const MAX_ID_LEN: usize = 64;
/// Longest varint (64 bits in 7-bit groups).
pub const MAX_VARINT_LEN: usize = 10;
/// Longest frame header.
pub const MAX_HEADER_LEN: usize = 4;
/// Longest key of a field number up to [`MAX_FIELD`] (two 7-bit groups).
const MAX_KEY_LEN: usize = 2;
const _: () = assert!(MAX_FIELD < 1 << (7 * MAX_KEY_LEN - 3));
/// Smallest payload length each header length is used for (index: header length − 1).
const SMALLEST: [usize; MAX_HEADER_LEN] = [0, 0x40, 0x4000, 0x40_0000];

/// Protobuf wire type: varint.
pub const WIRE_VARINT: u8 = 0;
/// Protobuf wire type: 64-bit fixed.
pub const WIRE_I64: u8 = 1;
/// Protobuf wire type: length-delimited.
pub const WIRE_LEN: u8 = 2;
/// Protobuf wire type: 32-bit fixed.
pub const WIRE_I32: u8 = 5;

/// Both message families, in the order an opening frame is tried against them.
pub const ALL_FAMILIES: [Family; 2] = [Family::Rendezvous, Family::Peer];

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

/// The member table of a family.
pub fn table(family: Family) -> &'static [MessageType] {
    match family {
        Family::Rendezvous => RENDEZVOUS,
        Family::Peer => PEER,
    }
}

/// `Invalid` of the RustDesk layer.
fn bad(offset: usize, reason: Reason) -> Anomaly {
    Anomaly::new(Layer::RustDesk, offset, reason)
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload bytes after the header.
    pub payload_len: usize,
    /// Header bytes (1–[`MAX_HEADER_LEN`]).
    pub header_len: usize,
}

impl FrameHeader {
    /// Bytes of the whole frame, header included.
    pub fn frame_len(&self) -> usize {
        self.header_len.saturating_add(self.payload_len)
    }
}

/// Read a frame header (see the module contract).
pub fn parse_frame_header(buf: &[u8]) -> Step<FrameHeader> {
    let Some(&first) = buf.first() else {
        return Step::Incomplete;
    };
    let header_len = usize::from(first & 3) + 1;
    let Some(bytes) = buf.get(..header_len) else {
        return Step::Incomplete;
    };
    let raw = bytes.iter().rev().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    let payload_len = raw >> 2;
    if SMALLEST.get(header_len - 1).is_some_and(|&smallest| payload_len < smallest) {
        return Step::Invalid(bad(0, Reason::BadLength));
    }
    Step::Done(FrameHeader { payload_len, header_len })
}

/// Read a canonical base-128 varint: its value and its length in bytes.
pub fn varint(buf: &[u8]) -> Step<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in buf.iter().enumerate().take(MAX_VARINT_LEN) {
        let shift = u32::try_from(i).map_or(u32::MAX, |i| i.saturating_mul(7));
        value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            // A trailing zero byte means a longer encoding than needed.
            if i > 0 && b == 0 {
                return Step::Invalid(bad(0, Reason::BadValue));
            }
            return Step::Done((value, i.saturating_add(1)));
        }
    }
    if buf.len() >= MAX_VARINT_LEN { Step::Invalid(bad(0, Reason::OverLimit)) } else { Step::Incomplete }
}

/// A protobuf field key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// Field number (1..=[`MAX_FIELD`]).
    pub field: u32,
    /// Wire type: [`WIRE_VARINT`], [`WIRE_I64`], [`WIRE_LEN`] or [`WIRE_I32`].
    pub wire: u8,
}

/// Read a field key: the key and its length in bytes (see the module contract).
pub fn key(buf: &[u8]) -> Step<(Key, usize)> {
    let head = buf.get(..MAX_KEY_LEN).unwrap_or(buf);
    let (k, used) = match varint(head) {
        Step::Done(k) => k,
        Step::Incomplete if head.len() < MAX_KEY_LEN => return Step::Incomplete,
        // MAX_KEY_LEN bytes, all continued: a field number past MAX_FIELD.
        Step::Incomplete => return Step::Invalid(bad(0, Reason::OverLimit)),
        Step::Invalid(a) => return Step::Invalid(a),
    };
    let field = u32::try_from(k >> 3).unwrap_or(u32::MAX);
    let wire = u8::try_from(k & 7).unwrap_or(u8::MAX);
    if field == 0 {
        return Step::Invalid(bad(0, Reason::BadValue));
    }
    if field > MAX_FIELD {
        return Step::Invalid(bad(0, Reason::OverLimit));
    }
    if ![WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32].contains(&wire) {
        return Step::Invalid(bad(0, Reason::BadType));
    }
    Step::Done((Key { field, wire }, used))
}

/// A field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A varint.
    Varint(u64),
    /// A 32- or 64-bit fixed value.
    Fixed,
    /// Length-delimited bytes (string, bytes, nested message, packed scalars).
    Bytes(&'a [u8]),
}

/// One field of a complete message, borrowing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// Offset of the key in the message.
    pub at: usize,
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value<'a>,
    /// Offset of the value (of the length, for length-delimited bytes).
    pub value_at: usize,
    /// Offset of the value's data (the bytes themselves, for length-delimited bytes).
    pub data_at: usize,
    /// Offset just after the field.
    pub end: usize,
}

/// Read the field at `at` of the complete message `msg` (offsets within `msg`).
fn field(msg: &[u8], at: usize) -> Result<Field<'_>, Anomaly> {
    let rest = msg.get(at..).unwrap_or_default();
    let (key, key_len) = match key(rest) {
        Step::Done(k) => k,
        Step::Incomplete => return Err(bad(at, Reason::Truncated)),
        Step::Invalid(a) => return Err(a.shifted(at)),
    };
    let value_at = at.saturating_add(key_len);
    let after_key = msg.get(value_at..).unwrap_or_default();
    let done =
        |value, data_at, len: usize| Field { at, key, value, value_at, data_at, end: data_at.saturating_add(len) };
    let fixed = |len: usize| match after_key.get(..len) {
        Some(_) => Ok(done(Value::Fixed, value_at, len)),
        None => Err(bad(value_at, Reason::Truncated)),
    };
    let (v, v_len) = match key.wire {
        WIRE_I64 => return fixed(8),
        WIRE_I32 => return fixed(4),
        _ => match varint(after_key) {
            Step::Done(v) => v,
            Step::Incomplete => return Err(bad(value_at, Reason::Truncated)),
            Step::Invalid(a) => return Err(a.shifted(value_at)),
        },
    };
    if key.wire == WIRE_VARINT {
        return Ok(done(Value::Varint(v), value_at, v_len));
    }
    let data_at = value_at.saturating_add(v_len);
    let len = usize::try_from(v).unwrap_or(usize::MAX);
    match msg.get(data_at..).and_then(|d| d.get(..len)) {
        Some(bytes) => Ok(done(Value::Bytes(bytes), data_at, len)),
        None => Err(bad(value_at, Reason::BadLength)),
    }
}

/// The fields of the complete message `msg`, in order; the first anomaly ends the walk.
pub fn fields(msg: &[u8]) -> impl Iterator<Item = Result<Field<'_>, Anomaly>> {
    let mut at = Some(0usize);
    std::iter::from_fn(move || {
        let pos = at.filter(|&p| p < msg.len())?;
        let f = field(msg, pos);
        // Every field takes at least one byte, so the walk ends.
        at = f.as_ref().ok().map(|f| f.end);
        Some(f)
    })
}

/// Whether the complete `msg` is well-formed protobuf; `Done` with its field count.
/// Length-delimited fields are not interpreted (they may be strings or bytes).
pub fn well_formed(msg: &[u8]) -> Step<usize> {
    match fields(msg).try_fold(0usize, |n, f| f.map(|_| n.saturating_add(1))) {
        Ok(n) => Step::Done(n),
        Err(a) => Step::Invalid(a),
    }
}

/// Check a complete message body against a schema; returns its field count.
fn check_body(body: &[u8], schema: &[(u32, Kind)]) -> Result<usize, Anomaly> {
    let mut count = 0usize;
    for f in fields(body) {
        let f = f?;
        let kind = schema.iter().find(|(n, _)| *n == f.key.field).map(|&(_, k)| k);
        match (kind, f.value) {
            (None, _) | (Some(Kind::Varint), Value::Varint(_)) | (Some(Kind::Bytes), Value::Bytes(_)) => {}
            (Some(Kind::Str), Value::Bytes(s)) => {
                if std::str::from_utf8(s).is_err() {
                    return Err(bad(f.data_at, Reason::BadValue));
                }
            }
            (Some(Kind::Msg), Value::Bytes(m)) => {
                if let Step::Invalid(a) = well_formed(m) {
                    return Err(a.shifted(f.data_at));
                }
            }
            _ => return Err(bad(f.at, Reason::BadType)),
        }
        count = count.saturating_add(1);
    }
    Ok(count)
}

/// The RustDesk ID in field `id_field` of a checked body: printable ASCII, at most
/// [`MAX_ID_LEN`].
fn find_id(body: &[u8], id_field: u32) -> Option<&str> {
    if id_field == 0 {
        return None;
    }
    let f = fields(body).map_while(Result::ok).find(|f| f.key.field == id_field)?;
    let Value::Bytes(s) = f.value else {
        return None;
    };
    std::str::from_utf8(s)
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LEN && s.bytes().all(|b| b.is_ascii_graphic()))
}

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

/// Whether `field` is a member of one of `families`.
fn is_member(field: u32, families: &[Family]) -> bool {
    families.iter().any(|&f| table(f).iter().any(|t| t.field == field))
}

/// Whether `payload` starts with the key of a member of one of `families`, length-delimited.
pub fn starts_with_member(payload: &[u8], families: &[Family]) -> bool {
    matches!(key(payload), Step::Done((k, _)) if k.wire == WIRE_LEN && is_member(k.field, families))
}

/// Whether a TCP direction began as RustDesk: a minimal frame header of an opening frame's
/// length (1..=[`MAX_FIRST_FRAME_LEN`]), and inside the frame the key of a member of
/// [`RENDEZVOUS`] or [`PEER`], length-delimited.
pub fn began(buf: &[u8]) -> bool {
    match parse_frame_header(buf) {
        Step::Done(h) if (1..=MAX_FIRST_FRAME_LEN).contains(&h.payload_len) => {
            let after = buf.get(h.header_len..).unwrap_or_default();
            starts_with_member(after.get(..h.payload_len).unwrap_or(after), &ALL_FAMILIES)
        }
        _ => false,
    }
}

/// Recognise a complete opening message (see the module contract); families are tried in
/// order, and when none fits the first one's anomaly is reported.
pub fn classify<'a>(payload: &'a [u8], families: &[Family]) -> Step<Opening<'a>> {
    match opening(payload, families) {
        Ok(o) => Step::Done(o),
        Err(a) => Step::Invalid(a),
    }
}

fn opening<'a>(payload: &'a [u8], families: &[Family]) -> Result<Opening<'a>, Anomaly> {
    let k = match key(payload) {
        Step::Done((k, _)) => k,
        Step::Incomplete => return Err(bad(0, Reason::Truncated)),
        Step::Invalid(a) => return Err(a),
    };
    if k.wire != WIRE_LEN || !is_member(k.field, families) {
        return Err(bad(0, Reason::BadType));
    }
    let f = field(payload, 0)?;
    let Value::Bytes(body) = f.value else {
        return Err(bad(0, Reason::BadType));
    };
    if f.end != payload.len() {
        return Err(bad(f.value_at, Reason::BadLength));
    }
    let mut first_trouble = None;
    for &family in families {
        let Some(t) = table(family).iter().find(|t| t.field == k.field) else {
            continue;
        };
        match check_body(body, t.fields) {
            Ok(fields) => return Ok(Opening { family, name: t.name, fields, id: find_id(body, t.id_field) }),
            Err(a) => {
                first_trouble.get_or_insert(a.shifted(f.data_at));
            }
        }
    }
    Err(first_trouble.unwrap_or(bad(0, Reason::BadType)))
}

/// What the start of an opening payload, cut before its end, says so far: its key and member
/// length are checked against the frame's `declared` payload length as soon as they are there.
fn opening_prefix(prefix: &[u8], declared: usize) -> Step<()> {
    let (k, key_len) = match key(prefix) {
        Step::Done(k) => k,
        other => return other.map(|_| ()),
    };
    if k.wire != WIRE_LEN || !is_member(k.field, &ALL_FAMILIES) {
        return Step::Invalid(bad(0, Reason::BadType));
    }
    let (len, len_len) = match varint(prefix.get(key_len..).unwrap_or_default()) {
        Step::Done(v) => v,
        Step::Incomplete => return Step::Incomplete,
        Step::Invalid(a) => return Step::Invalid(a.shifted(key_len)),
    };
    if usize::try_from(len).ok() != declared.checked_sub(key_len.saturating_add(len_len)) {
        return Step::Invalid(bad(key_len, Reason::BadLength));
    }
    Step::Done(())
}

/// One TCP direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side<'a> {
    /// The opening message (the first frame's payload).
    pub opening: Opening<'a>,
    /// Complete frames, the first included (at most [`MAX_FRAMES`]).
    pub frames: usize,
    /// The opening frame's payload.
    pub payload: &'a [u8],
}

/// Parse one TCP direction: the opening frame in full, then the framing of what follows.
pub fn parse_side(buf: &[u8]) -> Step<Side<'_>> {
    let h = match parse_frame_header(buf) {
        Step::Done(h) => h,
        Step::Incomplete => return Step::Incomplete,
        Step::Invalid(a) => return Step::Invalid(a),
    };
    if h.payload_len == 0 {
        return Step::Invalid(bad(0, Reason::BadLength));
    }
    if h.payload_len > MAX_FIRST_FRAME_LEN {
        return Step::Invalid(bad(0, Reason::OverLimit));
    }
    let after_header = buf.get(h.header_len..).unwrap_or_default();
    let Some((payload, rest)) = after_header.split_at_checked(h.payload_len) else {
        return match opening_prefix(after_header, h.payload_len) {
            Step::Invalid(a) => Step::Invalid(a.shifted(h.header_len)),
            Step::Incomplete | Step::Done(()) => Step::Incomplete,
        };
    };
    let opening = match classify(payload, &ALL_FAMILIES) {
        Step::Done(o) => o,
        Step::Incomplete => return Step::Incomplete,
        Step::Invalid(a) => return Step::Invalid(a.shifted(h.header_len)),
    };
    match later_frames(rest, h.frame_len()) {
        Ok(later) => Step::Done(Side { opening, frames: later.saturating_add(1), payload }),
        Err(a) => Step::Invalid(a),
    }
}

/// Complete frames in `rest` (the bytes after the opening frame, which start at offset `at`),
/// at most [`MAX_FRAMES`] − 1; stops silently where a frame is cut.
fn later_frames(rest: &[u8], at: usize) -> Result<usize, Anomaly> {
    let (mut count, mut pos) = (0usize, 0usize);
    while count < MAX_FRAMES - 1 {
        let Some(tail) = rest.get(pos..).filter(|t| !t.is_empty()) else {
            break;
        };
        match parse_frame_header(tail) {
            Step::Invalid(a) => return Err(a.shifted(at.saturating_add(pos))),
            Step::Incomplete => break,
            Step::Done(h) if h.payload_len > MAX_FRAME_LEN => {
                return Err(bad(at.saturating_add(pos), Reason::OverLimit));
            }
            Step::Done(h) => {
                let end = pos.saturating_add(h.frame_len());
                if end > rest.len() {
                    break;
                }
                count = count.saturating_add(1);
                pos = end;
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::rustdesk::*;
    use crate::testutil::unhex;

    fn invalid<T>(offset: usize, reason: Reason) -> Step<T> {
        Step::invalid(Layer::RustDesk, offset, reason)
    }

    fn opening_name(payload: &[u8], families: &[Family]) -> Option<&'static str> {
        classify(payload, families).done().map(|o| o.name)
    }

    #[test]
    fn hand_encoding_matches_protoc() {
        assert_eq!(register_peer(), unhex(PROTOC_REGISTER_PEER));
        assert_eq!(punch_hole_request(), unhex(PROTOC_PUNCH_HOLE_REQUEST));
        assert_eq!(request_relay(), unhex(PROTOC_REQUEST_RELAY));
    }

    #[test]
    fn frame_headers() {
        let fh = |payload_len, header_len| Step::Done(FrameHeader { payload_len, header_len });
        assert_eq!(frame(&[]), vec![0x00]);
        assert_eq!(parse_frame_header(&[0x00]), fh(0, 1));
        assert_eq!(parse_frame_header(&[0xfc]), fh(0x3f, 1));
        assert_eq!(parse_frame_header(&frame(&[0; 0x40])), fh(0x40, 2));
        assert_eq!(parse_frame_header(&frame(&[0; 0x4000])), fh(0x4000, 3));
        assert_eq!(parse_frame_header(&[0x01]), Step::Incomplete);
        // Non-minimal headers are never produced by RustDesk's encoder.
        assert_eq!(parse_frame_header(&[0x05, 0x00]), invalid(0, Reason::BadLength));
        assert_eq!(parse_frame_header(&[0x02, 0x01, 0x00]), invalid(0, Reason::BadLength));
        assert_eq!(parse_frame_header(&[0x03, 0x00, 0x01, 0x00]), invalid(0, Reason::BadLength));
    }

    #[test]
    fn varints_and_keys() {
        assert_eq!(varint(&[0x01]), Step::Done((1, 1)));
        assert_eq!(varint(&[0xfc, 0xa4, 0x01, 0xff]), Step::Done((21116, 3)));
        assert_eq!(varint(&[0x80]), Step::Incomplete);
        // Non-canonical, over-long.
        assert_eq!(varint(&[0x80, 0x00]), invalid(0, Reason::BadValue));
        assert_eq!(varint(&[0xff; MAX_VARINT_LEN]), invalid(0, Reason::OverLimit));
        assert_eq!(key(&[0x32]), Step::Done((Key { field: 6, wire: WIRE_LEN }, 1)));
        assert_eq!(key(&[0x92, 0x01]), Step::Done((Key { field: 18, wire: WIRE_LEN }, 2)));
        assert_eq!(key(&[0x92]), Step::Incomplete);
        assert_eq!(key(&[0x02]), invalid(0, Reason::BadValue));
        assert_eq!(key(&[0x33]), invalid(0, Reason::BadType));
        assert_eq!(key(&[0x8a, 0x04]), invalid(0, Reason::OverLimit));
        assert_eq!(key(&[0x80, 0x80, 0x01]), invalid(0, Reason::OverLimit));
    }

    #[test]
    fn known_openings() {
        let rv = [Family::Rendezvous];
        let m = punch_hole_request();
        let o = classify(&m, &rv).done().unwrap();
        assert_eq!(
            (o.family, o.name, o.fields, o.id),
            (Family::Rendezvous, "punch_hole_request", 5, Some("123456789"))
        );
        assert_eq!(opening_name(&request_relay(), &rv), Some("request_relay"));
        assert_eq!(opening_name(&register_peer_response(), &rv), Some("register_peer_response"));
        assert_eq!(classify(&public_key(), &ALL_FAMILIES).done().map(|o| o.family), Some(Family::Peer));
        assert_eq!(opening_name(&signed_id(), &ALL_FAMILIES), Some("signed_id"));
        // A member in both oneofs is read in the first family that fits.
        assert_eq!(opening_name(&hash(), &ALL_FAMILIES), Some("punch_hole"));
        assert_eq!(opening_name(&hash(), &[Family::Peer]), Some("hash"));
        // Unknown (newer) fields inside a known message are tolerated.
        let newer = ld(8, &[ld(1, b"123456789"), vi(11, 1), ld(12, b"x")].concat());
        assert_eq!(classify(&newer, &rv).done().map(|o| o.fields), Some(3));
    }

    #[test]
    fn exact_anomalies() {
        let rv = [Family::Rendezvous];
        // Wrong wire type for a known field (id as a varint): at its key, after 2 bytes.
        assert_eq!(classify(&ld(6, &[vi(1, 5), vi(2, 1)].concat()), &rv), invalid(2, Reason::BadType));
        // A string that is not UTF-8: at its bytes.
        assert_eq!(classify(&ld(6, &ld(1, &[0xff, 0xfe])), &rv), invalid(4, Reason::BadValue));
        // Trailing bytes after the member, a member length past the payload: at the length.
        let mut p = register_peer();
        p.push(0);
        assert_eq!(classify(&p, &rv), invalid(1, Reason::BadLength));
        let mut p = register_peer();
        p[1] += 1;
        assert_eq!(classify(&p, &rv), invalid(1, Reason::BadLength));
        // A member RustDesk does not have, group wire types, a varint member.
        assert_eq!(classify(&ld(40, &vi(1, 1)), &ALL_FAMILIES), invalid(0, Reason::BadType));
        assert_eq!(classify(&[0x33, 0x00], &rv), invalid(0, Reason::BadType));
        assert_eq!(classify(&vi(6, 1), &rv), invalid(0, Reason::BadType));
        // A nested message that is not protobuf: inside it (punch_hole.8 holds 0x07 = field 0).
        let nested = ld(9, &[vi(3, 1), ld(8, &[0x07])].concat());
        assert_eq!(classify(&nested, &rv), invalid(6, Reason::BadValue));
        // A varint cut by the end of the body; an i32 cut.
        assert_eq!(classify(&ld(7, &[0x10, 0x80]), &rv), invalid(3, Reason::Truncated));
        assert_eq!(classify(&ld(7, &[0x1d, 0, 0]), &rv), invalid(3, Reason::Truncated));
        // Non-canonical varint inside the body.
        assert_eq!(classify(&ld(7, &[0x10, 0x81, 0x00]), &rv), invalid(3, Reason::BadValue));
        // Framed: past the header.
        let mut f = frame(&register_peer());
        f[6] = 0xff;
        assert_eq!(parse_side(&f), invalid(5, Reason::BadValue));
        let (empty, huge) = (frame(&[]), ((0x3FFF_FFFFu32 << 2) | 3).to_le_bytes());
        assert_eq!(parse_side(&empty), invalid(0, Reason::BadLength));
        assert_eq!(parse_side(&huge), invalid(0, Reason::OverLimit));
        // A later frame header that is not minimal: at that header.
        let first = frame(&public_key());
        let c = [first.clone(), sealed(10), vec![0x05, 0x00]].concat();
        assert_eq!(parse_side(&c), invalid(first.len() + 11, Reason::BadLength));
        // The opening frame's key and length are checked before the frame is complete.
        let f = frame(&punch_hole_request());
        assert_eq!(parse_side(&f[..2]), Step::Incomplete);
        let mut bad_len = f.clone();
        bad_len[2] -= 1;
        assert_eq!(parse_side(&bad_len[..4]), invalid(2, Reason::BadLength));
        let mut bad_key = f;
        bad_key[1] = 0x0a;
        assert_eq!(parse_side(&bad_key[..4]), invalid(1, Reason::BadType));
    }

    #[test]
    fn what_began_as_rustdesk() {
        assert!(began(&frame(&public_key())[..3]));
        assert!(began(&frame(&ld(7, &[0xff]))));
        assert!(!began(b""));
        assert!(!began(&frame(b"hello")));
        assert!(!began(&frame(&[])));
        assert!(!began(b"SSH-2.0-OpenSSH_9.2p1\r\n"));
        assert!(!began(b"\x16\x03\x01\x00\x2e\x01\x00"));
        assert!(starts_with_member(&register_peer(), &[Family::Rendezvous]));
        assert!(!starts_with_member(&public_key(), &[Family::Rendezvous]));
        assert!(!starts_with_member(&vi(6, 1), &ALL_FAMILIES));
    }

    #[test]
    fn truncation_sweep() {
        // A cut opening frame is Incomplete, never Invalid; the whole one is Done.
        for whole in [frame(&punch_hole_request()), frame(&request_relay()), peer_client(), peer_server()] {
            let first = parse_frame_header(&whole).done().unwrap().frame_len();
            for len in 0..first {
                assert_eq!(parse_side(&whole[..len]), Step::Incomplete, "{len}");
            }
            for len in first..=whole.len() {
                assert!(matches!(parse_side(&whole[..len]), Step::Done(_)), "{len}");
            }
        }
        // A cut opening message, known complete (a datagram): an anomaly, never a match.
        let d = register_peer();
        for len in 0..d.len() {
            assert!(classify(&d[..len], &[Family::Rendezvous]).is_invalid(), "{len}");
        }
        // Later frames are counted only when complete.
        let c = peer_client();
        let first = frame(&public_key()).len();
        let counts: Vec<usize> = (first..=c.len()).map(|l| parse_side(&c[..l]).done().unwrap().frames).collect();
        assert_eq!(counts.first(), Some(&1));
        assert_eq!(counts.last(), Some(&3));
    }

    #[test]
    fn hostile_lengths() {
        // A header claiming 1 GiB as the opening frame.
        let huge = ((0x3FFF_FFFFu32 << 2) | 3).to_le_bytes();
        assert_eq!(parse_side(&huge), invalid(0, Reason::OverLimit));
        // ... and as a later frame, past MAX_FRAME_LEN.
        let first = frame(&public_key());
        let c = [first.clone(), huge.to_vec()].concat();
        assert_eq!(parse_side(&c), invalid(first.len(), Reason::OverLimit));
        // A later frame just within limits is counted only when all there.
        let big = ((u32::try_from(MAX_FRAME_LEN).unwrap() << 2) | 3).to_le_bytes();
        let c = [first, big.to_vec(), vec![0; 100]].concat();
        assert_eq!(parse_side(&c).done().map(|s| s.frames), Some(1));
        // An inner length claiming far more than the frame or the datagram.
        let mut p = vec![0x32];
        pb_varint(1 << 30, &mut p);
        assert_eq!(parse_side(&frame(&p)), invalid(2, Reason::BadLength));
        assert_eq!(classify(&p, &[Family::Rendezvous]), invalid(1, Reason::BadLength));
        let mut body = vec![0x0a];
        pb_varint(u64::MAX, &mut body);
        assert_eq!(classify(&ld(9, &body), &[Family::Rendezvous]), invalid(3, Reason::BadLength));
        // 10,000 empty frames after a valid opening: a bounded walk.
        let c = [frame(&public_key()), vec![0u8; 10_000]].concat();
        assert_eq!(parse_side(&c).done().map(|s| s.frames), Some(MAX_FRAMES));
        // Deeply nested messages are not recursed into.
        let mut nested = vi(1, 1);
        for _ in 0..500 {
            nested = ld(1, &nested);
        }
        let _ = classify(&ld(9, &nested), &[Family::Rendezvous]);
        // A varint of all continuation bytes.
        assert_eq!(well_formed(&[[0x08].as_slice(), &[0xff; 20]].concat()), invalid(1, Reason::OverLimit));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::testutil::XorShift64(0xA076_1D64_78BD_642F);
        for round in 0..2000 {
            let mut buf = rng.bytes(round % 300);
            if round % 2 == 0 && buf.len() > 2 {
                buf[0] = ((buf.len().min(0x40) - 1) << 2) as u8;
                buf[1] = 0x22;
            }
            let _ = parse_side(&buf);
            let _ = classify(&buf, &ALL_FAMILIES);
            let _ = well_formed(&buf);
            let _ = began(&buf);
        }
    }
}
