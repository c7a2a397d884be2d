//! ICMP echo payloads that carry IP packets: the embedded IPv4/IPv6 header checks.
//!
//! # Contract
//! - [`inner_ip`] reads an echo payload (RFC 792, RFC 4443 §4.1; complete, as one datagram)
//!   as an encapsulated IP packet: `Done` with the inner header's version, protocol and
//!   length when the payload is an IPv4 header whose version, header length, total length
//!   (equal to the payload length) and header checksum are all consistent, or an IPv6 header
//!   whose payload length accounts for the rest of the payload; `Invalid` otherwise, with the
//!   offset of the field that contradicts it (an ordinary ping's filler is such a payload).
//!   Never `Incomplete`.
//! - Used by the ICMP tunnel fingerprint, which decides. Pure, panic-free, zero-copy; nothing
//!   allocates.
//!
//! # Facts used
//! - RFC 791 §3.1: IPv4 header = version 4 (high nibble), IHL in 32-bit words (at least 5),
//!   total length at bytes 2–3 (header and data), protocol at byte 9, header checksum at
//!   bytes 10–11: the ones' complement sum of the header's 16-bit words is `0xFFFF`.
//! - RFC 8200 §3: IPv6 header = version 6, payload length at bytes 4–5 (what follows the
//!   40-byte header), next header at byte 6.

use crate::step::{Layer, Reason, Step};

/// Smallest IPv4 header.
pub const IPV4_MIN_HEADER: usize = 20;
/// IPv6 fixed header.
pub const IPV6_HEADER: usize = 40;
/// Offset of the IPv4 total length field.
const IPV4_TOTAL_LENGTH_AT: usize = 2;
/// Offset of the IPv4 protocol field.
const IPV4_PROTOCOL_AT: usize = 9;
/// Offset of the IPv4 header checksum.
const IPV4_CHECKSUM_AT: usize = 10;
/// Offset of the IPv6 payload length field.
const IPV6_PAYLOAD_LENGTH_AT: usize = 4;
/// Offset of the IPv6 next header field.
const IPV6_NEXT_HEADER_AT: usize = 6;

/// The IP header an echo payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerHeader {
    /// 4 or 6.
    pub version: u8,
    /// IPv4 protocol / IPv6 next header.
    pub protocol: u8,
    /// The inner packet's length (the whole payload).
    pub length: usize,
}

/// Whether an IPv4 header's ones' complement sum is `0xFFFF` (its checksum verifies).
pub fn checksum_ok(h: &[u8]) -> bool {
    let mut sum: u32 = 0;
    for pair in h.chunks(2) {
        let hi = pair.first().copied().unwrap_or(0);
        let lo = pair.get(1).copied().unwrap_or(0);
        sum += u32::from(u16::from_be_bytes([hi, lo]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

fn be16(p: &[u8], at: usize) -> Option<usize> {
    p.get(at..)?.first_chunk::<2>().map(|b| usize::from(u16::from_be_bytes(*b)))
}

/// The IP packet an echo payload carries (see the module contract).
pub fn inner_ip(p: &[u8]) -> Step<InnerHeader> {
    let Some(&first) = p.first() else {
        return Step::invalid(Layer::Icmp, 0, Reason::Truncated);
    };
    match first >> 4 {
        4 => ipv4(p, usize::from(first & 0x0f) * 4),
        6 => ipv6(p),
        _ => Step::invalid(Layer::Icmp, 0, Reason::BadVersion),
    }
}

fn ipv4(p: &[u8], ihl: usize) -> Step<InnerHeader> {
    if ihl < IPV4_MIN_HEADER {
        return Step::invalid(Layer::Icmp, 0, Reason::BadLength);
    }
    let (Some(header), Some(total), Some(&protocol)) =
        (p.get(..ihl), be16(p, IPV4_TOTAL_LENGTH_AT), p.get(IPV4_PROTOCOL_AT))
    else {
        return Step::invalid(Layer::Icmp, p.len(), Reason::Truncated);
    };
    if total != p.len() {
        return Step::invalid(Layer::Icmp, IPV4_TOTAL_LENGTH_AT, Reason::BadLength);
    }
    if !checksum_ok(header) {
        return Step::invalid(Layer::Icmp, IPV4_CHECKSUM_AT, Reason::BadValue);
    }
    Step::Done(InnerHeader { version: 4, protocol, length: total })
}

fn ipv6(p: &[u8]) -> Step<InnerHeader> {
    let (Some(plen), Some(&protocol), true) =
        (be16(p, IPV6_PAYLOAD_LENGTH_AT), p.get(IPV6_NEXT_HEADER_AT), p.len() >= IPV6_HEADER)
    else {
        return Step::invalid(Layer::Icmp, p.len(), Reason::Truncated);
    };
    if plen + IPV6_HEADER != p.len() {
        return Step::invalid(Layer::Icmp, IPV6_PAYLOAD_LENGTH_AT, Reason::BadLength);
    }
    Step::Done(InnerHeader { version: 6, protocol, length: p.len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::icmp::ipv4_packet;

    fn bad(at: usize, reason: Reason) -> Step<InnerHeader> {
        Step::invalid(Layer::Icmp, at, reason)
    }

    #[test]
    fn ipv4_and_ipv6_inner_headers() {
        assert_eq!(inner_ip(&ipv4_packet()), Step::Done(InnerHeader { version: 4, protocol: 6, length: 40 }));
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        v6.extend_from_slice(&[0u8; 40]);
        assert_eq!(inner_ip(&v6), Step::Done(InnerHeader { version: 6, protocol: 17, length: 48 }));
    }

    #[test]
    fn truncation_sweep() {
        let p = ipv4_packet();
        for len in 0..p.len() {
            let want = match len {
                0 => bad(0, Reason::Truncated),
                1..IPV4_MIN_HEADER => bad(len, Reason::Truncated),
                _ => bad(IPV4_TOTAL_LENGTH_AT, Reason::BadLength),
            };
            assert_eq!(inner_ip(&p[..len]), want, "{len}");
        }
        let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
        v6.extend_from_slice(&[0u8; 32]);
        for len in 1..IPV6_HEADER {
            assert_eq!(inner_ip(&v6[..len]), bad(len, Reason::Truncated), "{len}");
        }
        assert!(matches!(inner_ip(&v6), Step::Done(_)));
    }

    #[test]
    fn hostile_lengths() {
        // IHL 15 over 20 bytes; IHL 1; IPv6 payload length 0xffff over a 40-byte payload.
        let mut h = ipv4_packet();
        h[0] = 0x4f;
        assert_eq!(inner_ip(&h[..20]), bad(20, Reason::Truncated));
        h[0] = 0x41;
        assert_eq!(inner_ip(&h), bad(0, Reason::BadLength));
        let mut v6 = vec![0x60, 0, 0, 0, 0xff, 0xff, 17, 64];
        v6.extend_from_slice(&[0u8; 32]);
        assert_eq!(inner_ip(&v6), bad(IPV6_PAYLOAD_LENGTH_AT, Reason::BadLength));
    }

    #[test]
    fn exact_anomalies() {
        // Linux ping filler (timestamp first), Windows' alphabet.
        let mut linux: Vec<u8> = vec![0x2d, 0x6e, 0x13, 0x51, 0, 0, 0, 0];
        linux.extend(0x08u8..0x38);
        assert_eq!(inner_ip(&linux), bad(0, Reason::BadVersion));
        // 'a' is 0x61: version 6, but shorter than an IPv6 header.
        assert_eq!(inner_ip(b"abcdefghijklmnopqrstuvwabcdefghi"), bad(32, Reason::Truncated));
        assert_eq!(inner_ip(&[b'a'; 64]), bad(IPV6_PAYLOAD_LENGTH_AT, Reason::BadLength));
        let mut p = ipv4_packet();
        p[11] ^= 1;
        assert_eq!(inner_ip(&p), bad(IPV4_CHECKSUM_AT, Reason::BadValue));
        assert!(checksum_ok(&ipv4_packet()[..20]) && !checksum_ok(&p[..20]));
    }
}
