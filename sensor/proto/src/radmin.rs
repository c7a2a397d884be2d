//! Radmin Server 3 handshake messages: marker, length, checksum, payload.
//!
//! # Contract
//! - [`parse_message`] reads one message at the front of a buffer, checking each field as
//!   soon as it is there: `Invalid` on a first byte other than [`MARKER`]
//!   ([`Reason::BadMagic`] at 0), a zero length ([`Reason::BadLength`] at 1) or one over
//!   [`MAX_PAYLOAD_LEN`] ([`Reason::OverLimit`] at 1), a zero message code
//!   ([`Reason::BadType`] at 9), a checksum that does not sum the payload
//!   ([`Reason::Inconsistent`] at 5); `Incomplete` while the message is consistent but short.
//! - [`messages`] lists the valid messages back to back at the front of a buffer, at most
//!   [`MAX_MESSAGES`], stopping silently at the first thing that is not one.
//! - The parser decides nothing: whether the messages are Radmin, and how sure, is the Radmin
//!   fingerprint's business (`farhand-engine`, `fingerprint/radmin.rs`, which also holds the
//!   sources of the layout).
//! - Pure, panic-free, zero-copy; nothing allocates.
//!
//! # Facts used
//! - Layout: `u8 0x01`, `u32` big-endian payload length, `u32` big-endian checksum, payload.
//!   The checksum is the sum, modulo 2³², of the payload read as little-endian 16-bit words
//!   (an odd last byte counts as a low byte). The first payload byte is a message code.
//! - Handshake messages are short (tens of bytes); one fits in [`MAX_MESSAGE_LEN`].

use crate::step::{Layer, Reason, Step};

/// First byte of every Radmin message.
pub const MARKER: u8 = 0x01;
/// Marker, length and checksum.
pub const HEADER_LEN: usize = 9;
/// Offset of the length field.
const LENGTH_AT: usize = 1;
/// Offset of the checksum field.
const CHECKSUM_AT: usize = 5;
/// Largest handshake message accepted, header included.
pub const MAX_MESSAGE_LEN: usize = 512;
/// Largest payload accepted.
pub const MAX_PAYLOAD_LEN: usize = MAX_MESSAGE_LEN - HEADER_LEN;
/// Most messages [`messages`] lists.
pub const MAX_MESSAGES: usize = 8;

/// One Radmin message, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The checksum field (already verified against the payload).
    pub checksum: u32,
    /// The payload; never empty, first byte is the message code.
    pub payload: &'a [u8],
}

impl Message<'_> {
    /// The message code (first payload byte).
    pub fn code(&self) -> u8 {
        self.payload.first().copied().unwrap_or_default()
    }
    /// Bytes on the wire, header included.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload.len())
    }
}

/// Radmin's payload checksum: sum of little-endian 16-bit words, modulo 2³².
pub fn checksum(payload: &[u8]) -> u32 {
    payload.chunks(2).fold(0u32, |sum, w| {
        let word = match *w {
            [lo, hi] => u16::from_le_bytes([lo, hi]),
            [lo] => u16::from(lo),
            _ => 0,
        };
        sum.wrapping_add(u32::from(word))
    })
}

/// Cheap first look at a side: empty, or starts with the marker.
pub fn probe(side: &[u8]) -> bool {
    side.first().is_none_or(|&b| b == MARKER)
}

/// Parse one message at the start of `buf`; on success also returns the bytes after it.
pub fn parse_message(buf: &[u8]) -> Step<(Message<'_>, &[u8])> {
    let Some((&marker, rest)) = buf.split_first() else {
        return Step::Incomplete;
    };
    if marker != MARKER {
        return Step::invalid(Layer::Radmin, 0, Reason::BadMagic);
    }
    let Some((len, rest)) = rest.split_first_chunk::<4>() else {
        return Step::Incomplete;
    };
    let len = usize::try_from(u32::from_be_bytes(*len)).unwrap_or(usize::MAX);
    if len == 0 {
        return Step::invalid(Layer::Radmin, LENGTH_AT, Reason::BadLength);
    }
    if len > MAX_PAYLOAD_LEN {
        return Step::invalid(Layer::Radmin, LENGTH_AT, Reason::OverLimit);
    }
    let Some((sum, rest)) = rest.split_first_chunk::<4>() else {
        return Step::Incomplete;
    };
    // The code byte can be checked before the whole payload is there.
    if rest.first() == Some(&0) {
        return Step::invalid(Layer::Radmin, HEADER_LEN, Reason::BadType);
    }
    let Some((payload, after)) = rest.split_at_checked(len) else {
        return Step::Incomplete;
    };
    let declared = u32::from_be_bytes(*sum);
    if checksum(payload) != declared {
        return Step::invalid(Layer::Radmin, CHECKSUM_AT, Reason::Inconsistent);
    }
    Step::Done((Message { checksum: declared, payload }, after))
}

/// The first message of `buf`.
pub fn first(buf: &[u8]) -> Step<Message<'_>> {
    parse_message(buf).map(|(m, _)| m)
}

/// The valid messages at the start of `buf`, back to back, at most [`MAX_MESSAGES`]. Stops
/// silently at the first thing that is not a complete message.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut rest = Some(buf);
    std::iter::from_fn(move || match parse_message(rest?) {
        Step::Done((m, after)) => {
            rest = Some(after);
            Some(m)
        }
        _ => {
            rest = None;
            None
        }
    })
    .take(MAX_MESSAGES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::radmin::{hello_server, msg};

    fn bad(offset: usize, reason: Reason) -> Step<Message<'static>> {
        Step::invalid(Layer::Radmin, offset, reason)
    }

    #[test]
    fn layout_and_checksum() {
        let c = msg(&[0x08]);
        assert_eq!(&c, &[0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x08]);
        let Step::Done((m, after)) = parse_message(&c) else { panic!() };
        assert_eq!((m.code(), m.checksum, m.wire_len(), after), (0x08, 0x08, 10, &[][..]));
        let s = hello_server();
        assert_eq!((s.len(), s[4], &s[7..11], s[13]), (46, 0x25, &[0x02, 0x12, 0x08, 0x02][..], 0x0A));
        // Odd-length payloads: the last byte is a low byte.
        assert_eq!(checksum(&[0x01, 0x02, 0x03]), 0x0201 + 0x03);
        assert_eq!(checksum(&[0xFF; 8]), 4 * 0xFFFF);
        let two = [msg(&[0x27, 2, 0, 0, 0]), msg(&[0x27, 3, 0, 0, 0]), vec![0x01, 0x00]].concat();
        assert_eq!(messages(&two).map(|m| m.payload[1]).collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn truncation_sweep() {
        let s = hello_server();
        for len in 0..s.len() {
            assert_eq!(first(&s[..len]), Step::Incomplete, "{len}");
            assert_eq!(messages(&s[..len]).count(), 0, "{len}");
        }
        assert!(first(&s).done().is_some());
    }

    #[test]
    fn hostile_lengths() {
        // A length claiming 1 GB (or anything over MAX_PAYLOAD_LEN) is not waited for.
        assert_eq!(first(&[0x01, 0x40, 0x00, 0x00, 0x00]), bad(1, Reason::OverLimit));
        let over = [&[0x01][..], &u32::try_from(MAX_PAYLOAD_LEN + 1).unwrap().to_be_bytes()].concat();
        assert_eq!(first(&over), bad(1, Reason::OverLimit));
        // The largest payload that fits is fine.
        let big = msg(&vec![0x08; MAX_PAYLOAD_LEN]);
        assert_eq!(big.len(), MAX_MESSAGE_LEN);
        assert!(first(&big).done().is_some());
        // 10,000 back-to-back messages: the list stays bounded.
        assert_eq!(messages(&msg(&[0x27, 2, 0, 0, 0]).repeat(10_000)).count(), MAX_MESSAGES);
    }

    #[test]
    fn exact_anomalies() {
        assert_eq!(first(&[0x02, 0, 0, 0, 1]), bad(0, Reason::BadMagic));
        assert_eq!(first(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0]), bad(1, Reason::BadLength));
        assert_eq!(first(&msg(&[0x00, 0x05])[..10]), bad(9, Reason::BadType));
        let mut s = hello_server();
        s[20] ^= 1;
        assert_eq!(first(&s), bad(5, Reason::Inconsistent));
        let prefix_only = [0x01, 0x00, 0x00, 0x00, 0x01, 0xAA, 0xBB, 0xCC, 0xDD, 0x08];
        assert_eq!(first(&prefix_only), bad(5, Reason::Inconsistent));
    }
}
