//! STUN message header (RFC 8489 §5, RFC 3489 §11.1): message type and its method/class
//! split, length, magic cookie and transaction id.
//!
//! # Contract
//! - [`Header::parse`] reads the 20-byte header at the front of a buffer (a datagram, or a
//!   stream position): `Invalid` as soon as the first byte's top two bits are set or, before
//!   20 bytes are there, when the bytes at the cookie's place contradict the magic cookie;
//!   `Incomplete` while a shorter prefix could still begin a magic-cookie header; `Done`
//!   otherwise, with [`Header::classic`] telling a magic-cookie header from a classic
//!   RFC 3489 one. It reads the header only: the length field is reported, and
//!   [`Header::body`] hands out the bytes it covers only when they are all there.
//! - Used by both the STUN/TURN fingerprint (which validates the attributes after the header)
//!   and the STUN transaction timing (which pairs requests and responses by transaction id).
//! - Pure, panic-free, zero-copy; nothing allocates.
//!
//! # Facts used
//! - RFC 8489 §5: header = message type (2 bytes, top two bits 0), message length (2 bytes,
//!   the bytes after the header, a multiple of 4), magic cookie `0x2112A442`, 96-bit
//!   transaction id. Type bits: method M11..M0 interleaved with class C1 (0x0100) and C0
//!   (0x0010): request, indication, success response, error response.
//! - RFC 8489 §14.2: the XOR address attributes are masked with the cookie and transaction id.
//! - RFC 3489 §11.1 (classic STUN): the same first 4 bytes, then a 128-bit transaction id where
//!   the cookie would be.

use crate::step::{Layer, Reason, Step};

/// STUN header length (RFC 8489 §5).
pub const HEADER_LEN: usize = 20;
/// RFC 5389/8489 magic cookie, at header bytes 4..8.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Bytes of a transaction id after the magic cookie (96 bits, RFC 8489 §5).
pub const TRANSACTION_ID_LEN: usize = 12;
/// Bytes of a classic RFC 3489 transaction id (128 bits, where the cookie would be).
pub const CLASSIC_TRANSACTION_ID_LEN: usize = 16;
/// Offset of the magic cookie (or of the classic transaction id) in the header.
const COOKIE_AT: usize = 4;
/// The bits of the first byte that are zero in every STUN message (RFC 8489 §5); they tell it
/// from TURN ChannelData (0x40–0x7F) and RTP/RTCP (0x80–0xBF) on a shared port (RFC 7983).
pub const FIRST_BYTE_ZERO_BITS: u8 = 0xC0;

/// Message class (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Request.
    Request,
    /// Indication.
    Indication,
    /// Success response.
    Success,
    /// Error response.
    Error,
}

/// Split a message type into (method, class): the method's twelve bits are interleaved with
/// the class bits C1 (0x0100) and C0 (0x0010).
pub fn split_type(t: u16) -> (u16, Class) {
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    let class = match (t & 0x0100 != 0, t & 0x0010 != 0) {
        (false, false) => Class::Request,
        (false, true) => Class::Indication,
        (true, false) => Class::Success,
        (true, true) => Class::Error,
    };
    (method, class)
}

/// A STUN header, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Message type (method and class bits).
    pub msg_type: u16,
    /// Message length field: bytes after the header, as the sender claims.
    pub length: u16,
    /// No magic cookie: a classic RFC 3489 header (or not STUN at all).
    pub classic: bool,
    /// Header bytes 4..20: the magic cookie and 96-bit transaction id, or a classic 128-bit
    /// transaction id. With the cookie, the mask of the XOR address attributes.
    pub id_field: &'a [u8; 16],
}

impl<'a> Header<'a> {
    /// Read the header at the front of `buf` (see the module contract).
    pub fn parse(buf: &'a [u8]) -> Step<Header<'a>> {
        // Check what is there of the header before waiting for more.
        if buf.first().is_some_and(|b0| b0 & FIRST_BYTE_ZERO_BITS != 0) {
            return Step::invalid(Layer::Stun, 0, Reason::BadMagic);
        }
        let Some((&[t0, t1, l0, l1], rest)) = buf.split_first_chunk::<COOKIE_AT>() else {
            return Step::Incomplete;
        };
        let Some(id_field) = rest.first_chunk::<CLASSIC_TRANSACTION_ID_LEN>() else {
            let cookie = MAGIC_COOKIE.to_be_bytes();
            let there = rest.get(..cookie.len()).unwrap_or(rest);
            return if cookie.starts_with(there) {
                Step::Incomplete
            } else {
                Step::invalid(Layer::Stun, COOKIE_AT, Reason::BadMagic)
            };
        };
        let cookie = id_field.first_chunk::<4>().map(|c| u32::from_be_bytes(*c));
        Step::Done(Header {
            msg_type: u16::from_be_bytes([t0, t1]),
            length: u16::from_be_bytes([l0, l1]),
            classic: cookie != Some(MAGIC_COOKIE),
            id_field,
        })
    }

    /// (method, class) of the message type.
    pub fn method_class(&self) -> (u16, Class) {
        split_type(self.msg_type)
    }

    /// The transaction id: 12 bytes after the cookie, or the classic 16.
    pub fn transaction_id(&self) -> &'a [u8] {
        let skip = if self.classic { 0 } else { CLASSIC_TRANSACTION_ID_LEN - TRANSACTION_ID_LEN };
        self.id_field.get(skip..).unwrap_or_default()
    }

    /// Bytes on the wire of the whole message the header claims.
    pub fn message_len(&self) -> usize {
        HEADER_LEN + usize::from(self.length)
    }

    /// The bytes the length field covers after the header in `buf` (the buffer the header was
    /// read from), or `None` when fewer are there.
    pub fn body<'b>(&self, buf: &'b [u8]) -> Option<&'b [u8]> {
        buf.get(HEADER_LEN..)?.get(..usize::from(self.length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Binding request with a SOFTWARE attribute ("abc" padded to 4).
    fn binding() -> Vec<u8> {
        let mut v = vec![0x00, 0x01, 0x00, 0x08];
        v.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        v.extend((1..=12).collect::<Vec<u8>>());
        v.extend_from_slice(&[0x80, 0x22, 0x00, 0x03, b'a', b'b', b'c', 0]);
        v
    }

    #[test]
    fn header_fields() {
        let m = binding();
        let Step::Done(h) = Header::parse(&m) else { panic!() };
        assert_eq!((h.msg_type, h.length, h.classic), (0x0001, 8, false));
        assert_eq!(h.method_class(), (0x001, Class::Request));
        assert_eq!(h.transaction_id(), (1..=12).collect::<Vec<u8>>());
        assert_eq!(&h.id_field[..4], &MAGIC_COOKIE.to_be_bytes());
        assert_eq!((h.message_len(), h.body(&m)), (m.len(), Some(&m[HEADER_LEN..])));
        // Classic (RFC 3489): 128-bit transaction id where the cookie would be.
        let mut c = m.clone();
        c[4] = 0;
        let Step::Done(h) = Header::parse(&c) else { panic!() };
        assert!(h.classic);
        assert_eq!(h.transaction_id(), &c[4..20]);
        assert_eq!(split_type(0x0113), (0x003, Class::Error));
        assert_eq!(split_type(0x0017), (0x007, Class::Indication));
        assert_eq!(split_type(0x0101), (0x001, Class::Success));
    }

    #[test]
    fn truncation_sweep() {
        let m = binding();
        for len in 0..HEADER_LEN {
            assert_eq!(Header::parse(&m[..len]), Step::Incomplete, "{len}");
        }
        for len in HEADER_LEN..=m.len() {
            let Step::Done(h) = Header::parse(&m[..len]) else { panic!("{len}") };
            assert_eq!(h.body(&m[..len]).is_some(), len == m.len(), "{len}");
        }
        // A short prefix that contradicts the cookie, or the first byte's zero bits.
        let mut c = m.clone();
        c[6] ^= 1;
        for len in 0..HEADER_LEN {
            assert_eq!(
                Header::parse(&c[..len]),
                if len > 6 { Step::invalid(Layer::Stun, COOKIE_AT, Reason::BadMagic) } else { Step::Incomplete },
                "{len}"
            );
        }
        assert!(Header::parse(&[0x40]).is_invalid());
        assert!(Header::parse(&[0x80, 0x01, 0, 0]).is_invalid());
    }

    #[test]
    fn hostile_lengths_are_reported_not_trusted() {
        // A length field claiming 64 KiB over a 20-byte input: the header reads, the body is
        // not there.
        let mut m = binding();
        m.truncate(HEADER_LEN);
        m[2..4].copy_from_slice(&0xFFFCu16.to_be_bytes());
        let Step::Done(h) = Header::parse(&m) else { panic!() };
        assert_eq!((h.length, h.message_len()), (0xFFFC, HEADER_LEN + 0xFFFC));
        assert_eq!(h.body(&m), None);
        // One byte more than there is.
        let mut m = binding();
        m[3] = 9;
        let Step::Done(h) = Header::parse(&m) else { panic!() };
        assert_eq!(h.body(&m), None);
        // A body shorter than the buffer is cut at the claimed length.
        m[3] = 4;
        let Step::Done(h) = Header::parse(&m) else { panic!() };
        assert_eq!(h.body(&m), Some(&m[HEADER_LEN..HEADER_LEN + 4]));
    }
}
