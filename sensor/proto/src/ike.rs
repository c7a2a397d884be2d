//! IKE (ISAKMP) message header over UDP (RFC 2408 §3.1, RFC 7296 §3.1), with the NAT-T
//! non-ESP marker (RFC 3948 §2.2), and the generic payload chain after it (RFC 7296 §3.2,
//! RFC 2408 §3.2).
//!
//! # Contract
//! - [`parse`] reads one whole datagram as one IKE message: an optional four-byte zero
//!   non-ESP marker, then the 28-byte header. `Done` only when the header is consistent and
//!   its length field equals the message's length exactly; `Invalid` otherwise, with the
//!   offset (within the datagram, marker included) of the field that breaks it. A datagram is
//!   whole, so it is never `Incomplete`: a short one is `Truncated`.
//! - [`Header::payloads`] walks the generic payload headers (next payload, length) of a
//!   parsed message; nothing in the fast path decides on them today.
//! - Pure, panic-free, zero-copy; nothing allocates. Decides nothing: whether two messages are
//!   one exchange (the same initiator SPI) is the fingerprint's.
//!
//! # Facts used
//! - Header (28 bytes): initiator SPI (8, never zero), responder SPI (8, zero in the first
//!   message of an exchange), next payload (1), version (major.minor nibbles: 0x10 IKEv1,
//!   0x20 IKEv2, minor 0), exchange type (1), flags (1), message ID (4), length (4, the whole
//!   message, header included).
//! - Exchange types: IKEv1 1–5 (5 informational), 32 (quick mode), 33 (new group); IKEv2
//!   34–37 (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL), 43 (IKE_SESSION_RESUME).
//!   Only informational exchanges may carry no payload (next payload 0).
//! - NAT traversal on port 4500: an IKE message is preceded by four zero bytes, the non-ESP
//!   marker (an ESP packet begins with its non-zero SPI there).
//! - Generic payload header: next payload (1), critical bit and reserved (1), payload length
//!   (2, header included, at least 4).
//! - ESP (RFC 4303 §2, read by [`esp`]): SPI (4 bytes; 1–255 reserved by IANA, 0 for local
//!   use, so an SA's SPI is at least 256), sequence number (4 bytes, 1 for an SA's first
//!   packet, never 0 on the wire), then the encrypted payload: an IV, at least the 2-byte
//!   trailer (pad length, next header) and an ICV — at least [`ESP_MIN_LEN`] bytes in all
//!   with any cipher in use. Over UDP 4500 (RFC 3948) the same bytes follow the UDP header;
//!   a lone `0xFF` is a NAT keep-alive.

use crate::step::{Layer, Reason, Step};

/// ISAKMP header length.
pub const HEADER_LEN: usize = 28;
/// The NAT-T non-ESP marker.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// Length of each SPI.
pub const SPI_LEN: usize = 8;
/// Offset of the next-payload field in the header.
pub const NEXT_PAYLOAD_AT: usize = 16;
/// Offset of the version field in the header.
pub const VERSION_AT: usize = 17;
/// Offset of the exchange type in the header.
pub const EXCHANGE_AT: usize = 18;
/// Offset of the length field in the header.
pub const LENGTH_AT: usize = 24;
/// IKEv1 informational exchange (may carry no payload).
pub const EXCHANGE_V1_INFORMATIONAL: u8 = 5;
/// IKEv2 INFORMATIONAL exchange (may carry no payload).
pub const EXCHANGE_V2_INFORMATIONAL: u8 = 37;
/// Generic payload header length (and the shortest payload).
pub const PAYLOAD_HEADER_LEN: usize = 4;

/// A parsed ISAKMP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Initiator SPI.
    pub ispi: [u8; SPI_LEN],
    /// Responder SPI.
    pub rspi: [u8; SPI_LEN],
    /// Type of the first payload (0: none).
    pub next_payload: u8,
    /// 1 or 2.
    pub major: u8,
    /// Exchange type.
    pub exchange: u8,
    /// A non-ESP marker preceded the message (NAT traversal, port 4500).
    pub nat_t: bool,
    /// The message (header and payloads), without the marker.
    pub message: &'a [u8],
}

/// Whether `exchange` is an exchange type of IKE version `major`.
fn exchange_ok(major: u8, exchange: u8) -> bool {
    match major {
        1 => matches!(exchange, 1..=5 | 32 | 33),
        2 => matches!(exchange, 34..=37 | 43),
        _ => false,
    }
}

/// Parse one datagram as an IKE message, with or without a non-ESP marker (see the module
/// contract).
pub fn parse(d: &[u8]) -> Step<Header<'_>> {
    let (nat_t, at, m) = match d.split_first_chunk::<4>() {
        Some((marker, rest)) if *marker == NON_ESP_MARKER => (true, NON_ESP_MARKER.len(), rest),
        _ => (false, 0, d),
    };
    let bad = |field: usize, reason: Reason| Step::invalid(Layer::Ipsec, at + field, reason);
    let Some(h) = m.first_chunk::<HEADER_LEN>() else {
        return Step::invalid(Layer::Ipsec, d.len(), Reason::Truncated);
    };
    let [
        i0,
        i1,
        i2,
        i3,
        i4,
        i5,
        i6,
        i7,
        r0,
        r1,
        r2,
        r3,
        r4,
        r5,
        r6,
        r7,
        next_payload,
        version,
        exchange,
        _flags,
        _,
        _,
        _,
        _,
        l0,
        l1,
        l2,
        l3,
    ] = *h;
    let ispi = [i0, i1, i2, i3, i4, i5, i6, i7];
    if ispi == [0; SPI_LEN] {
        return bad(0, Reason::BadValue);
    }
    let major = version >> 4;
    if version & 0x0f != 0 || !matches!(major, 1 | 2) {
        return bad(VERSION_AT, Reason::BadVersion);
    }
    if !exchange_ok(major, exchange) {
        return bad(EXCHANGE_AT, Reason::BadType);
    }
    if next_payload == 0 && exchange != EXCHANGE_V1_INFORMATIONAL && exchange != EXCHANGE_V2_INFORMATIONAL {
        return bad(NEXT_PAYLOAD_AT, Reason::BadValue);
    }
    if usize::try_from(u32::from_be_bytes([l0, l1, l2, l3])).ok() != Some(m.len()) {
        return bad(LENGTH_AT, Reason::BadLength);
    }
    Step::Done(Header {
        ispi,
        rspi: [r0, r1, r2, r3, r4, r5, r6, r7],
        next_payload,
        major,
        exchange,
        nat_t,
        message: m,
    })
}

/// One generic payload of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// This payload's type (from the previous header's next-payload field).
    pub kind: u8,
    /// The payload's body (after its 4-byte generic header).
    pub body: &'a [u8],
}

/// The payload chain of a parsed message; see [`Header::payloads`].
#[derive(Debug, Clone)]
pub struct Payloads<'a> {
    rest: &'a [u8],
    next: u8,
}

impl<'a> Iterator for Payloads<'a> {
    type Item = Payload<'a>;

    /// The next payload, `None` at the chain's end or where a payload length breaks it.
    fn next(&mut self) -> Option<Payload<'a>> {
        if self.next == 0 {
            return None;
        }
        let &[next, _, l0, l1] = self.rest.first_chunk::<PAYLOAD_HEADER_LEN>()?;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let body = self.rest.get(PAYLOAD_HEADER_LEN..len.max(PAYLOAD_HEADER_LEN))?;
        if len < PAYLOAD_HEADER_LEN {
            return None;
        }
        let kind = self.next;
        self.rest = self.rest.get(len..).unwrap_or_default();
        self.next = next;
        Some(Payload { kind, body })
    }
}

impl<'a> Header<'a> {
    /// The payloads after the header, in order, as far as their lengths hold.
    pub fn payloads(&self) -> Payloads<'a> {
        Payloads { rest: self.message.get(HEADER_LEN..).unwrap_or_default(), next: self.next_payload }
    }
}

/// Shortest ESP packet read as one: header (8), the smallest IV (8) and the trailer with an
/// ICV (8).
pub const ESP_MIN_LEN: usize = 24;
/// Lowest SPI an SA can have (1–255 are reserved, RFC 4303 §2.1).
pub const ESP_MIN_SPI: u32 = 256;
/// The NAT keep-alive of ESP over UDP (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: u8 = 0xFF;

/// An ESP header: SPI and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Esp {
    /// Security parameter index.
    pub spi: u32,
    /// Sequence number.
    pub seq: u32,
}

/// Read an ESP packet's header when the bytes can be one (see the module's facts): SPI at
/// least [`ESP_MIN_SPI`], sequence number non-zero, at least [`ESP_MIN_LEN`] bytes. `None`
/// otherwise. Pure; reads eight bytes.
pub fn esp(b: &[u8]) -> Option<Esp> {
    if b.len() < ESP_MIN_LEN {
        return None;
    }
    let word = |at: usize| match b.get(at..at + 4) {
        Some(&[v0, v1, v2, v3]) => Some(u32::from_be_bytes([v0, v1, v2, v3])),
        _ => None,
    };
    let (spi, seq) = (word(0)?, word(4)?);
    (spi >= ESP_MIN_SPI && seq != 0).then_some(Esp { spi, seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IKEv2 IKE_SA_INIT message (header + one 4-byte SA payload stub).
    fn sa_init(ispi: [u8; 8], rspi: [u8; 8], nat_t: bool) -> Vec<u8> {
        let mut m = Vec::new();
        if nat_t {
            m.extend_from_slice(&NON_ESP_MARKER);
        }
        m.extend_from_slice(&ispi);
        m.extend_from_slice(&rspi);
        m.extend_from_slice(&[33, 0x20, 34, 0x08, 0, 0, 0, 0]);
        m.extend_from_slice(&32u32.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 4]);
        m
    }

    fn inv(offset: usize, reason: Reason) -> Step<Header<'static>> {
        Step::invalid(Layer::Ipsec, offset, reason)
    }

    #[test]
    fn header_marker_and_payloads() {
        let m = sa_init([1; 8], [0; 8], false);
        let Step::Done(h) = parse(&m) else { panic!() };
        assert_eq!((h.ispi, h.rspi, h.major, h.exchange, h.nat_t, h.next_payload), ([1; 8], [0; 8], 2, 34, false, 33));
        assert_eq!(h.payloads().collect::<Vec<_>>(), [Payload { kind: 33, body: &[] }]);
        let n = sa_init([1; 8], [9; 8], true);
        let Step::Done(h) = parse(&n) else { panic!() };
        assert!(h.nat_t && h.message.len() == 32);
        // A payload length past the message ends the walk.
        let mut cut = m.clone();
        cut[31] = 40;
        let Step::Done(h) = parse(&cut) else { panic!() };
        assert_eq!(h.payloads().count(), 0);
    }

    #[test]
    fn truncation_sweep() {
        for nat_t in [false, true] {
            let m = sa_init([1; 8], [0; 8], nat_t);
            let start = if nat_t { 4 } else { 0 };
            for len in 0..m.len() {
                let want = if len < start + HEADER_LEN {
                    inv(len, Reason::Truncated)
                } else {
                    inv(start + LENGTH_AT, Reason::BadLength)
                };
                assert_eq!(parse(&m[..len]), want, "{nat_t} {len}");
            }
        }
    }

    #[test]
    fn hostile_lengths() {
        let mut m = sa_init([1; 8], [0; 8], false);
        for len in [u32::MAX, 0, 31, 33] {
            m[24..28].copy_from_slice(&len.to_be_bytes());
            assert_eq!(parse(&m), inv(LENGTH_AT, Reason::BadLength), "{len}");
        }
        // A payload claiming 64 KiB is not followed.
        let mut m = sa_init([1; 8], [0; 8], false);
        m[30..32].copy_from_slice(&0xFFFFu16.to_be_bytes());
        let Step::Done(h) = parse(&m) else { panic!() };
        assert_eq!(h.payloads().next(), None);
    }

    #[test]
    fn exact_anomalies() {
        let m = sa_init([1; 8], [0; 8], true);
        let mut zero_spi = m.clone();
        zero_spi[4..12].fill(0);
        // Eight zero bytes after the marker: the SPI (at 4) is zero.
        assert_eq!(parse(&zero_spi), inv(4, Reason::BadValue));
        let mut v = m.clone();
        v[4 + VERSION_AT] = 0x21;
        assert_eq!(parse(&v), inv(4 + VERSION_AT, Reason::BadVersion));
        v[4 + VERSION_AT] = 0x30;
        assert_eq!(parse(&v), inv(4 + VERSION_AT, Reason::BadVersion));
        let mut x = m.clone();
        x[4 + EXCHANGE_AT] = 32; // an IKEv1 exchange in an IKEv2 header
        assert_eq!(parse(&x), inv(4 + EXCHANGE_AT, Reason::BadType));
        let mut e = m.clone();
        e[4 + NEXT_PAYLOAD_AT] = 0;
        assert_eq!(parse(&e), inv(4 + NEXT_PAYLOAD_AT, Reason::BadValue));
        e[4 + EXCHANGE_AT] = EXCHANGE_V2_INFORMATIONAL;
        assert!(matches!(parse(&e), Step::Done(_)));
        assert_eq!(parse(&[0x45; 100]), inv(VERSION_AT, Reason::BadVersion));
    }
}

#[cfg(test)]
mod esp_tests {
    use super::*;

    #[test]
    fn esp_headers() {
        let mut p = vec![0xc1, 0x5e, 0x00, 0x07, 0, 0, 0, 1];
        p.extend_from_slice(&[0x5a; 16]);
        assert_eq!(esp(&p), Some(Esp { spi: 0xc15e_0007, seq: 1 }));
        // Too short, a reserved SPI, sequence 0, the non-ESP marker (IKE), a keep-alive.
        assert_eq!(esp(&p[..ESP_MIN_LEN - 1]), None);
        let mut reserved = p.clone();
        reserved[..4].copy_from_slice(&[0, 0, 0, 0xFF]);
        assert_eq!(esp(&reserved), None);
        let mut zero_seq = p.clone();
        zero_seq[7] = 0;
        assert_eq!(esp(&zero_seq), None);
        assert_eq!(esp(&[NAT_KEEPALIVE]), None);
        for len in 0..p.len() {
            let _ = esp(&p[..len]);
        }
    }
}
