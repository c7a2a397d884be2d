//! SoftEther VPN wire formats seen over UDP: its PACK serialisation (`Mayaqua/Pack.c` of the
//! open-source SoftEther VPN) and the NAT-traversal keepalive and its answer.
//!
//! # Contract
//! - [`parse_pack`] reads one whole datagram as one PACK: `Done` when every element is well
//!   formed within the limits ([`MAX_ELEMENTS`], [`MAX_NAME_LEN`], [`MAX_VALUES`]) and the
//!   PACK ends exactly at the end of the datagram, `Invalid` (with where and why) otherwise.
//!   A datagram is whole, so a PACK is never `Incomplete`: a short one is `Truncated`.
//!   [`Pack::elements`] walks the validated elements again, borrowing their names.
//! - [`parse_keepalive_answer`] reads the NAT-T server's `IP=<address>,PORT=<port>` answer
//!   (at most [`MAX_KEEPALIVE_ANSWER`] bytes).
//! - Pure, panic-free, zero-copy; nothing allocates, and no value length is trusted before it
//!   is checked against the bytes that are there. Decides nothing: which messages make a
//!   session, and how many names the evidence reports, are the fingerprint's.
//!
//! # Facts used
//! - PACK: a big-endian `u32` element count, then per element a name (`u32` = name length +
//!   1, then the name's bytes without terminator), a `u32` value type (0 int, 1 data, 2 ANSI
//!   string, 3 Unicode string, 4 int64), a `u32` value count and the values (int: 4 bytes;
//!   int64: 8 bytes; data and strings: a `u32` length, then the bytes). Names are short
//!   ASCII identifiers (`opcode`, `tran_id`, `my_ip`); SoftEther caps them at 63 characters.
//! - NAT-traversal servers (nDPI capture `softether.pcap`, UDP 5004): the client's one-byte
//!   keepalive `A` is answered with the text `IP=<client's public address>,PORT=<port>`.

use std::net::IpAddr;

use crate::step::{Anomaly, Layer, Reason, Step};

/// Most elements accepted in one PACK (real messages carry a handful to a few dozen).
pub const MAX_ELEMENTS: u32 = 256;
/// Longest element name accepted (SoftEther caps names at 63 characters).
pub const MAX_NAME_LEN: usize = 63;
/// Most values per element accepted.
pub const MAX_VALUES: u32 = 1024;
/// Longest `IP=…,PORT=…` keepalive answer accepted.
pub const MAX_KEEPALIVE_ANSWER: usize = 64;
/// The client's NAT-T keepalive.
pub const KEEPALIVE: &[u8] = b"A";
/// Value type: 32-bit integer.
pub const VALUE_INT: u32 = 0;
/// Value type: 64-bit integer.
pub const VALUE_INT64: u32 = 4;
/// Value types carried as a `u32` length and that many bytes (data, ANSI, Unicode string).
pub const VALUE_SIZED: std::ops::RangeInclusive<u32> = 1..=3;
/// Prefix of the keepalive answer.
const ANSWER_PREFIX: &str = "IP=";
/// Separator of the keepalive answer's port.
const ANSWER_PORT: &str = ",PORT=";

/// One PACK element, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// Element name (ASCII letters, digits, `_`, `.`, `-`).
    pub name: &'a str,
    /// Value type.
    pub kind: u32,
    /// Number of values.
    pub values: u32,
}

/// A validated PACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pack<'a> {
    /// Number of elements.
    pub count: u32,
    /// The datagram.
    bytes: &'a [u8],
}

impl<'a> Pack<'a> {
    /// The elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = Element<'a>> + 'a {
        let bytes = self.bytes;
        let mut at = 4usize;
        (0..self.count).map_while(move |_| {
            let (e, next) = element(bytes, at).ok()?;
            at = next;
            Some(e)
        })
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..)?.first_chunk::<4>().map(|c| u32::from_be_bytes(*c))
}

/// A `u32` at `at`, or a `Truncated` anomaly there.
fn field(b: &[u8], at: usize) -> Result<u32, Anomaly> {
    be32(b, at).ok_or(Anomaly::new(Layer::SoftEther, at, Reason::Truncated))
}

fn name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-'
}

/// The element name at `at`: the name and the offset after it.
fn name(d: &[u8], at: usize) -> Result<(&str, usize), Anomaly> {
    let bad = |reason| Anomaly::new(Layer::SoftEther, at, reason);
    let name_len = usize::try_from(field(d, at)?).map_err(|_| bad(Reason::OverLimit))?;
    let name_len = name_len.checked_sub(1).ok_or(bad(Reason::BadLength))?;
    if name_len == 0 {
        return Err(bad(Reason::BadLength));
    }
    if name_len > MAX_NAME_LEN {
        return Err(bad(Reason::OverLimit));
    }
    let start = at + 4;
    let bytes = d.get(start..start + name_len).ok_or(Anomaly::new(Layer::SoftEther, start, Reason::Truncated))?;
    if let Some(i) = bytes.iter().position(|&c| !name_char(c)) {
        return Err(Anomaly::new(Layer::SoftEther, start + i, Reason::BadValue));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Anomaly::new(Layer::SoftEther, start, Reason::BadValue))?;
    Ok((text, start + name_len))
}

/// The element at `at`: the element and the offset after it.
fn element(d: &[u8], at: usize) -> Result<(Element<'_>, usize), Anomaly> {
    let (name, at) = name(d, at)?;
    let kind = field(d, at)?;
    let values = field(d, at + 4)?;
    if values == 0 {
        return Err(Anomaly::new(Layer::SoftEther, at + 4, Reason::BadValue));
    }
    if values > MAX_VALUES {
        return Err(Anomaly::new(Layer::SoftEther, at + 4, Reason::OverLimit));
    }
    let mut at = at + 8;
    for _ in 0..values {
        let size = match kind {
            VALUE_INT => 4,
            VALUE_INT64 => 8,
            k if VALUE_SIZED.contains(&k) => usize::try_from(field(d, at)?).unwrap_or(usize::MAX).saturating_add(4),
            _ => return Err(Anomaly::new(Layer::SoftEther, at - 8, Reason::BadType)),
        };
        let next = at.saturating_add(size);
        if next > d.len() {
            return Err(Anomaly::new(Layer::SoftEther, at, Reason::Truncated));
        }
        at = next;
    }
    Ok((Element { name, kind, values }, at))
}

/// Parse a whole datagram as one PACK (see the module contract).
pub fn parse_pack(d: &[u8]) -> Step<Pack<'_>> {
    let count = match field(d, 0) {
        Ok(c) => c,
        Err(a) => return Step::Invalid(a),
    };
    if count == 0 {
        return Step::invalid(Layer::SoftEther, 0, Reason::BadValue);
    }
    if count > MAX_ELEMENTS {
        return Step::invalid(Layer::SoftEther, 0, Reason::OverLimit);
    }
    let mut at = 4usize;
    for _ in 0..count {
        match element(d, at) {
            Ok((_, next)) => at = next,
            Err(a) => return Step::Invalid(a),
        }
    }
    if at != d.len() {
        return Step::invalid(Layer::SoftEther, at, Reason::BadLength);
    }
    Step::Done(Pack { count, bytes: d })
}

/// Parse the NAT-T server's answer to the keepalive: `IP=<address>,PORT=<port>`.
pub fn parse_keepalive_answer(d: &[u8]) -> Step<(IpAddr, u16)> {
    let bad = |at: usize, reason| Step::invalid(Layer::SoftEther, at, reason);
    if d.len() > MAX_KEEPALIVE_ANSWER {
        return bad(MAX_KEEPALIVE_ANSWER, Reason::OverLimit);
    }
    let text = match std::str::from_utf8(d) {
        Ok(t) => t,
        Err(e) => return bad(e.valid_up_to(), Reason::BadValue),
    };
    let Some(rest) = text.strip_prefix(ANSWER_PREFIX) else {
        return bad(0, Reason::BadMagic);
    };
    let ip_at = ANSWER_PREFIX.len();
    let Some((ip, port)) = rest.split_once(ANSWER_PORT) else {
        return bad(ip_at, Reason::BadValue);
    };
    let Ok(ip) = ip.parse() else {
        return bad(ip_at, Reason::BadValue);
    };
    let port_at = ip_at + rest.len() - port.len();
    match port.parse() {
        Ok(port) => Step::Done((ip, port)),
        Err(_) => bad(port_at, Reason::BadValue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::softether::pack;

    fn client() -> Vec<u8> {
        pack(&[("opcode", 2, &[b"get_token"]), ("tran_id", 4, &[&[0, 0, 0, 1, 0x55, 0xca, 0x10, 0x20]])])
    }

    fn inv<T>(offset: usize, reason: Reason) -> Step<T> {
        Step::invalid(Layer::SoftEther, offset, reason)
    }

    #[test]
    fn elements_and_answer() {
        let c = client();
        let Step::Done(p) = parse_pack(&c) else { panic!() };
        assert_eq!(p.count, 2);
        let e: Vec<_> = p.elements().collect();
        assert_eq!(
            e,
            [Element { name: "opcode", kind: 2, values: 1 }, Element { name: "tran_id", kind: 4, values: 1 }]
        );
        let answer = parse_keepalive_answer(b"IP=192.0.2.7,PORT=51381");
        assert_eq!(answer, Step::Done(("192.0.2.7".parse().unwrap(), 51381)));
        assert!(matches!(parse_keepalive_answer(b"IP=2001:db8::1,PORT=1"), Step::Done(_)));
    }

    #[test]
    fn truncation_sweep() {
        let c = client();
        for len in 0..c.len() {
            let Step::Invalid(a) = parse_pack(&c[..len]) else { panic!("{len}") };
            assert_eq!(a.reason, Reason::Truncated, "{len}");
        }
        // Exactly where: the count, the name, a string value's bytes.
        assert_eq!(parse_pack(&c[..2]), inv(0, Reason::Truncated));
        assert_eq!(parse_pack(&c[..9]), inv(8, Reason::Truncated));
        assert_eq!(parse_pack(&c[..30]), inv(22, Reason::Truncated));
        let answer = b"IP=192.0.2.7,PORT=51381";
        for len in 0..answer.len() {
            assert_eq!(parse_keepalive_answer(&answer[..len]).is_invalid(), len < 19, "{len}");
        }
    }

    #[test]
    fn hostile_lengths() {
        let c = client();
        // Element count, name length and value length at their extremes.
        for (at, v, want) in [
            (0usize, u32::MAX, inv(0, Reason::OverLimit)),
            (0, 0, inv(0, Reason::BadValue)),
            (4, 0, inv(4, Reason::BadLength)),
            (4, 1, inv(4, Reason::BadLength)),
            (4, u32::MAX, inv(4, Reason::OverLimit)),
            (22, u32::MAX, inv(22, Reason::Truncated)),
            (18, u32::MAX, inv(18, Reason::OverLimit)),
        ] {
            let mut bad = c.clone();
            bad[at..at + 4].copy_from_slice(&v.to_be_bytes());
            assert_eq!(parse_pack(&bad), want, "{at} {v:#x}");
        }
        let long = [b"IP=192.0.2.7,PORT=1".as_slice(), &[b' '; 64]].concat();
        assert_eq!(parse_keepalive_answer(&long), inv(MAX_KEEPALIVE_ANSWER, Reason::OverLimit));
    }

    #[test]
    fn exact_anomalies() {
        let mut trailing = client();
        trailing.push(0);
        assert_eq!(parse_pack(&trailing), inv(trailing.len() - 1, Reason::BadLength));
        assert_eq!(parse_pack(&pack(&[("bad name", 0, &[&[0, 0, 0, 1]])])), inv(11, Reason::BadValue));
        assert_eq!(parse_pack(&pack(&[("x", 9, &[&[0, 0, 0, 1]])])), inv(9, Reason::BadType));
        assert_eq!(parse_keepalive_answer(b"B"), inv(0, Reason::BadMagic));
        assert_eq!(parse_keepalive_answer(b"IP=192.0.2.7"), inv(3, Reason::BadValue));
        assert_eq!(parse_keepalive_answer(b"IP=300.0.2.7,PORT=1"), inv(3, Reason::BadValue));
        assert_eq!(parse_keepalive_answer(b"IP=192.0.2.7,PORT=70000"), inv(18, Reason::BadValue));
        assert_eq!(parse_keepalive_answer(b"IP=\xff"), inv(3, Reason::BadValue));
    }
}
