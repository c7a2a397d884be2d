//! WireGuard message wire format (WireGuard paper §5.4, `messages.go` of wireguard-go), with the
//! two vendor variants seen in the wild: Cloudflare WARP's flagged type byte and handshake
//! messages longer than the standard sizes.
//!
//! # Contract
//! - [`parse_datagram`] reads one whole UDP datagram as one message: `Incomplete` only for an
//!   empty datagram (not seen yet), otherwise `Done` with the header fields ([`Message`]) or
//!   `Invalid` with where and why it is not a WireGuard message: type byte, reserved bytes,
//!   length for the type. Lengths are checked exactly (a datagram is whole), within
//!   [`MAX_EXTENDED_LEN`] for the longer vendor handshakes.
//! - [`probe`] is the cheap first look at a datagram's type byte.
//! - Pure, panic-free, zero-copy; nothing allocates. Decides nothing: which pairs of messages
//!   make a session, counter plausibility, and whether a longer handshake is believed (only
//!   with the index cross-check) are the fingerprint's.
//!
//! # Facts used
//! - Every message starts with a type byte and three reserved zero bytes. Handshake
//!   initiation (1) is exactly 148 bytes (sender index, 32-byte ephemeral, 48-byte sealed
//!   static, 28-byte sealed timestamp, mac1, mac2); response (2) is exactly 92 bytes (sender
//!   index, receiver index = the initiator's sender index, ephemeral, 16-byte sealed empty,
//!   mac1, mac2); cookie reply (3) is exactly 64 bytes (receiver index, 24-byte nonce, 32-byte
//!   sealed cookie); transport data (4) is a 16-byte header (receiver index, 64-bit
//!   little-endian counter) plus the sealed packet, padded to 16 bytes, plus a 16-byte tag: at
//!   least 32 bytes (keepalive) and `(len - 16) % 16 == 0`. Indices are little-endian.
//! - Cloudflare WARP (nDPI capture `cloudflare-warp.pcap`; nDPI's `cloudflare_warp.c`): the
//!   type byte is `0xC1`–`0xC4`; the three reserved bytes carry a 3-byte client id (zero in
//!   the client's first message); handshake messages are longer than WireGuard's (194-byte
//!   initiation, 786-byte reply) and data does not keep the 16-byte padding rule.
//! - TunnelBear (nDPI capture `tunnelbear.pcap`): standard type and reserved bytes, but a
//!   204-byte initiation and a 100-byte response.

use crate::step::{Layer, Reason, Step};

/// Message type: handshake initiation.
pub const TYPE_INITIATION: u8 = 1;
/// Message type: handshake response.
pub const TYPE_RESPONSE: u8 = 2;
/// Message type: cookie reply.
pub const TYPE_COOKIE_REPLY: u8 = 3;
/// Message type: transport data.
pub const TYPE_DATA: u8 = 4;
/// Offset of the three reserved bytes (WARP: the client id).
pub const RESERVED_AT: usize = 1;
/// Offset of the first index (sender of a handshake message; receiver otherwise).
pub const FIRST_INDEX_AT: usize = 4;
/// Offset of the second field: a response's receiver index, a data message's counter.
pub const SECOND_FIELD_AT: usize = 8;
/// Length of a handshake initiation.
pub const INITIATION_LEN: usize = 148;
/// Length of a handshake response.
pub const RESPONSE_LEN: usize = 92;
/// Length of a cookie reply.
pub const COOKIE_REPLY_LEN: usize = 64;
/// Length of the transport-data header (type, reserved, receiver index, counter).
pub const DATA_HEADER_LEN: usize = 16;
/// Length of the AEAD tag, and the padding unit of transport data.
pub const TAG_LEN: usize = 16;
/// Shortest transport-data message: a keepalive (header + tag).
pub const MIN_DATA_LEN: usize = DATA_HEADER_LEN + TAG_LEN;
/// Bit pattern WARP sets on top of the WireGuard type byte (`0xC1`–`0xC4`).
pub const WARP_TYPE_FLAGS: u8 = 0xC0;
/// Longest standard-typed handshake message accepted (a vendor variant that appends bytes,
/// see the module doc on TunnelBear).
pub const MAX_EXTENDED_LEN: usize = 512;

/// WireGuard message kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Handshake initiation.
    Initiation,
    /// Handshake response.
    Response,
    /// Cookie reply (under load).
    CookieReply,
    /// Transport data (or keepalive).
    Data,
}

impl Kind {
    /// Stable name (`handshake_initiation`, …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Initiation => "handshake_initiation",
            Kind::Response => "handshake_response",
            Kind::CookieReply => "cookie_reply",
            Kind::Data => "transport_data",
        }
    }
}

/// One parsed message (header fields only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// Message kind.
    pub kind: Kind,
    /// WARP variant: the three "reserved" bytes (zero on WARP's first message).
    pub warp_client_id: Option<[u8; 3]>,
    /// Sender index (initiation, response).
    pub sender: Option<u32>,
    /// Receiver index (response, cookie reply, data).
    pub receiver: Option<u32>,
    /// Data counter.
    pub counter: Option<u64>,
    /// Datagram length.
    pub len: usize,
    /// A standard-typed handshake message longer than the standard size (a vendor variant).
    pub extended: bool,
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..)?.first_chunk::<4>().map(|c| u32::from_le_bytes(*c))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..)?.first_chunk::<8>().map(|c| u64::from_le_bytes(*c))
}

/// Cheap first look: type byte 1–4 (or WARP's `0xC1`–`0xC4`).
pub fn probe(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(&t) if (TYPE_INITIATION..=TYPE_DATA).contains(&(t & !WARP_TYPE_FLAGS))
        && (t & WARP_TYPE_FLAGS == 0 || t & WARP_TYPE_FLAGS == WARP_TYPE_FLAGS))
}

/// The kind a type byte names (`None`: no WireGuard or WARP type), and whether it is WARP's.
fn kind_of(type_byte: u8) -> Option<(Kind, bool)> {
    let warp = match type_byte & WARP_TYPE_FLAGS {
        0 => false,
        WARP_TYPE_FLAGS => true,
        _ => return None,
    };
    let kind = match type_byte & !WARP_TYPE_FLAGS {
        TYPE_INITIATION => Kind::Initiation,
        TYPE_RESPONSE => Kind::Response,
        TYPE_COOKIE_REPLY => Kind::CookieReply,
        TYPE_DATA => Kind::Data,
        _ => return None,
    };
    Some((kind, warp))
}

/// Check a datagram's length against its kind: `Err((offset, reason))` where it breaks.
fn check_len(kind: Kind, warp: bool, len: usize) -> Result<(), (usize, Reason)> {
    let (min, exact) = match kind {
        Kind::Initiation => (INITIATION_LEN, false),
        Kind::Response => (RESPONSE_LEN, false),
        Kind::CookieReply => (COOKIE_REPLY_LEN, !warp),
        Kind::Data => (MIN_DATA_LEN, false),
    };
    if len < min {
        return Err((len, Reason::Truncated));
    }
    if exact && len != min {
        return Err((min, Reason::BadLength));
    }
    if warp {
        return Ok(());
    }
    match kind {
        Kind::Initiation | Kind::Response if len > MAX_EXTENDED_LEN => Err((MAX_EXTENDED_LEN, Reason::OverLimit)),
        // The sealed packet is padded to the tag's unit.
        Kind::Data if !(len - DATA_HEADER_LEN).is_multiple_of(TAG_LEN) => Err((DATA_HEADER_LEN, Reason::BadLength)),
        _ => Ok(()),
    }
}

/// Parse one datagram as a WireGuard (or WARP) message (see the module contract).
pub fn parse_datagram(d: &[u8]) -> Step<Message> {
    let Some((&type_byte, rest)) = d.split_first() else {
        return Step::Incomplete;
    };
    let Some((kind, warp)) = kind_of(type_byte) else {
        return Step::invalid(Layer::WireGuard, 0, Reason::BadType);
    };
    let Some(reserved) = rest.first_chunk::<3>() else {
        return Step::invalid(Layer::WireGuard, d.len(), Reason::Truncated);
    };
    if !warp && *reserved != [0; 3] {
        return Step::invalid(Layer::WireGuard, RESERVED_AT, Reason::BadMagic);
    }
    let len = d.len();
    if let Err((at, reason)) = check_len(kind, warp, len) {
        return Step::invalid(Layer::WireGuard, at, reason);
    }
    let (sender, receiver, counter) = match kind {
        Kind::Initiation => (le32(d, FIRST_INDEX_AT), None, None),
        Kind::Response => (le32(d, FIRST_INDEX_AT), le32(d, SECOND_FIELD_AT), None),
        Kind::CookieReply => (None, le32(d, FIRST_INDEX_AT), None),
        Kind::Data => (None, le32(d, FIRST_INDEX_AT), le64(d, SECOND_FIELD_AT)),
    };
    let extended = !warp
        && match kind {
            Kind::Initiation => len != INITIATION_LEN,
            Kind::Response => len != RESPONSE_LEN,
            Kind::CookieReply | Kind::Data => false,
        };
    Step::Done(Message { kind, warp_client_id: warp.then_some(*reserved), sender, receiver, counter, len, extended })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message of `len` bytes: type, reserved, then the two little-endian fields.
    fn msg(type_byte: u8, reserved: [u8; 3], first: u32, second: u64, len: usize) -> Vec<u8> {
        let mut m = vec![type_byte];
        m.extend_from_slice(&reserved);
        m.extend_from_slice(&first.to_le_bytes());
        m.extend_from_slice(&second.to_le_bytes());
        m.resize(len, 0x5A);
        m
    }

    fn inv(offset: usize, reason: Reason) -> Step<Message> {
        Step::invalid(Layer::WireGuard, offset, reason)
    }

    #[test]
    fn header_fields() {
        let Step::Done(i) = parse_datagram(&msg(TYPE_INITIATION, [0; 3], 0x47b4_feef, 0, INITIATION_LEN)) else {
            panic!()
        };
        assert_eq!(
            (i.kind, i.sender, i.receiver, i.counter, i.extended),
            (Kind::Initiation, Some(0x47b4_feef), None, None, false)
        );
        let r = msg(TYPE_RESPONSE, [0; 3], 0x418f_6661, 0x47b4_feef, RESPONSE_LEN);
        let Step::Done(r) = parse_datagram(&r) else { panic!() };
        assert_eq!((r.kind, r.sender, r.receiver), (Kind::Response, Some(0x418f_6661), Some(0x47b4_feef)));
        let Step::Done(d) = parse_datagram(&msg(TYPE_DATA, [0; 3], 7, 9, 128)) else { panic!() };
        assert_eq!((d.kind, d.receiver, d.counter, d.len), (Kind::Data, Some(7), Some(9), 128));
        let Step::Done(c) = parse_datagram(&msg(TYPE_COOKIE_REPLY, [0; 3], 7, 0, COOKIE_REPLY_LEN)) else { panic!() };
        assert_eq!((c.kind, c.receiver), (Kind::CookieReply, Some(7)));
        // WARP: flagged type, client id in the reserved bytes, its own lengths.
        let Step::Done(w) = parse_datagram(&msg(0xC4, [2, 0x78, 0], 1, 1, 92)) else { panic!() };
        assert_eq!((w.kind, w.warp_client_id, w.extended), (Kind::Data, Some([2, 0x78, 0]), false));
        // Longer standard handshakes are a vendor variant.
        let Step::Done(t) = parse_datagram(&msg(TYPE_INITIATION, [0; 3], 1, 0, 204)) else { panic!() };
        assert!(t.extended);
        assert_eq!(Kind::CookieReply.name(), "cookie_reply");
        assert!(probe(&[0xC2]) && probe(&[3]) && !probe(&[0x42]) && !probe(&[5]) && !probe(&[]));
    }

    #[test]
    fn truncation_sweep() {
        // A datagram is whole: every cut of a fixed-size message is Truncated at its end,
        // except data, which is fine whenever the padding rule holds.
        for (t, len) in
            [(TYPE_INITIATION, INITIATION_LEN), (TYPE_RESPONSE, RESPONSE_LEN), (TYPE_COOKIE_REPLY, COOKIE_REPLY_LEN)]
        {
            let m = msg(t, [0; 3], 1, 2, len);
            assert_eq!(parse_datagram(&m[..0]), Step::Incomplete);
            for cut in 1..len {
                assert_eq!(parse_datagram(&m[..cut]), inv(cut, Reason::Truncated), "{t} {cut}");
            }
        }
        let d = msg(TYPE_DATA, [0; 3], 1, 2, 128);
        for cut in 1..d.len() {
            let ok = cut >= MIN_DATA_LEN && (cut - DATA_HEADER_LEN).is_multiple_of(TAG_LEN);
            assert_eq!(matches!(parse_datagram(&d[..cut]), Step::Done(_)), ok, "{cut}");
        }
    }

    #[test]
    fn hostile_lengths() {
        // Longer than any vendor handshake, a cookie reply with a tail, unpadded data.
        assert_eq!(
            parse_datagram(&msg(TYPE_INITIATION, [0; 3], 1, 0, MAX_EXTENDED_LEN + 1)),
            inv(MAX_EXTENDED_LEN, Reason::OverLimit)
        );
        assert_eq!(parse_datagram(&msg(TYPE_RESPONSE, [0; 3], 1, 0, 65_507)), inv(MAX_EXTENDED_LEN, Reason::OverLimit));
        assert_eq!(
            parse_datagram(&msg(TYPE_COOKIE_REPLY, [0; 3], 1, 0, COOKIE_REPLY_LEN + 1)),
            inv(COOKIE_REPLY_LEN, Reason::BadLength)
        );
        assert_eq!(
            parse_datagram(&msg(TYPE_DATA, [0; 3], 1, 0, MIN_DATA_LEN + 1)),
            inv(DATA_HEADER_LEN, Reason::BadLength)
        );
        // WARP has no upper bound of its own (the datagram is the bound).
        assert!(matches!(parse_datagram(&msg(0xC2, [1, 2, 3], 1, 0, 1400)), Step::Done(_)));
    }

    #[test]
    fn exact_anomalies() {
        for t in [0u8, 5, 0x41, 0x81, 0xC5] {
            assert_eq!(parse_datagram(&msg(t, [0; 3], 1, 0, INITIATION_LEN)), inv(0, Reason::BadType), "{t:#x}");
        }
        for pos in 0..3 {
            let mut r = [0; 3];
            r[pos] = 1;
            assert_eq!(
                parse_datagram(&msg(TYPE_INITIATION, r, 1, 0, INITIATION_LEN)),
                inv(RESERVED_AT, Reason::BadMagic)
            );
        }
        assert_eq!(parse_datagram(&[TYPE_DATA, 0]), inv(2, Reason::Truncated));
    }
}
