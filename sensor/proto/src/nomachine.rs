//! NoMachine (NX): the `NXSH-`/`NXD-` version lines that open a TCP connection, and the
//! header of NX's UDP datagrams.
//!
//! # Contract
//! - [`parse_line`] reads a version line with a given prefix at the front of a buffer:
//!   `Invalid` when the bytes contradict the prefix ([`Reason::BadMagic`] at 0), the version
//!   is not a dotted number of at least two parts ([`Reason::BadVersion`] at the version, as
//!   soon as what is there cannot begin one), or no line end comes within [`MAX_LINE_LEN`]
//!   bytes ([`Reason::OverLimit`] at [`MAX_LINE_LEN`]); `Incomplete` while the line is
//!   consistent but unterminated; `Done` with the version and the bytes after the line.
//! - [`parse_udp`] reads the NX header of a whole UDP datagram: the datagram is complete, so
//!   one shorter than [`UDP_MIN_LEN`] is [`Reason::Truncated`]; then the mark at 2
//!   ([`Reason::BadMagic`]), the length at 4 against the datagram ([`Reason::BadLength`]),
//!   the zero bytes at 8 ([`Reason::BadValue`]).
//! - The parser decides nothing: what a line or a datagram says about NoMachine, and how
//!   sure, is the NoMachine fingerprint's business (`farhand-engine`,
//!   `fingerprint/nomachine.rs`, which also holds the sources of these facts).
//! - Pure, panic-free, zero-copy; nothing allocates.
//!
//! # Facts used
//! - Client line `NXSH-<version>\n`, server line `NXD-<version>\n` (LF, or CR LF), version
//!   `major.minor[.patch...]`, 11–14 bytes in practice; the client's TLS handshake follows.
//! - NX UDP datagram: `u16` little-endian message type at 0, `u16` little-endian 1 at 2, the
//!   datagram length as `u16` little-endian at 4, sequence number at 6, zero in bytes 8–9.

use crate::step::{Layer, Reason, Step};

/// Client line prefix.
pub const CLIENT_PREFIX: &[u8] = b"NXSH-";
/// Server line prefix.
pub const SERVER_PREFIX: &[u8] = b"NXD-";
/// Longest version line accepted, line end included (real ones are 11–14 bytes).
pub const MAX_LINE_LEN: usize = 32;
/// Longest numeric part of a version.
pub const MAX_VERSION_PART_LEN: usize = 5;
/// Smallest NX UDP datagram (the keep-alive).
pub const UDP_MIN_LEN: usize = 10;
/// The constant `u16` at offset 2 of an NX UDP datagram.
pub const UDP_MARK: u16 = 1;
/// Offset of the mark in a datagram.
const UDP_MARK_AT: usize = 2;
/// Offset of the length in a datagram.
const UDP_LENGTH_AT: usize = 4;
/// Offset of the sequence number in a datagram.
const UDP_SEQUENCE_AT: usize = 6;
/// Offset of the zero bytes in a datagram.
const UDP_ZERO_AT: usize = 8;
/// TLS handshake record type and major version.
const TLS_HANDSHAKE: [u8; 2] = [0x16, 0x03];

/// A parsed version line, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The version, e.g. `8.10.1`.
    pub version: &'a str,
    /// Bytes after the line (the TLS handshake in practice).
    pub rest: &'a [u8],
}

impl Line<'_> {
    /// Whether a TLS handshake record follows the line (`None` while nothing follows).
    pub fn tls_follows(&self) -> Option<bool> {
        let head = self.rest.get(..TLS_HANDSHAKE.len()).unwrap_or(self.rest);
        if head.is_empty() { None } else { Some(TLS_HANDSHAKE.starts_with(head)) }
    }
}

/// Cheap first look at a side: empty, or could begin the line with this prefix.
pub fn probe(side: &[u8], prefix: &[u8]) -> bool {
    let head = side.get(..prefix.len()).unwrap_or(side);
    prefix.starts_with(head)
}

fn version_ok(v: &[u8], complete: bool) -> bool {
    let mut parts = v.split(|&b| b == b'.');
    let shape = parts.all(|p| p.iter().all(u8::is_ascii_digit) && p.len() <= MAX_VERSION_PART_LEN)
        && !v.windows(2).any(|w| w == b"..")
        && v.first() != Some(&b'.');
    // Complete: `major.minor[.patch...]`, every part non-empty.
    shape && (!complete || v.split(|&b| b == b'.').count() >= 2 && v.last().is_some_and(u8::is_ascii_digit))
}

/// Parse a version line with `prefix` at the start of `buf`.
pub fn parse_line<'a>(buf: &'a [u8], prefix: &[u8]) -> Step<Line<'a>> {
    let bad_version = Step::invalid(Layer::NoMachine, prefix.len(), Reason::BadVersion);
    if !probe(buf, prefix) {
        return Step::invalid(Layer::NoMachine, 0, Reason::BadMagic);
    }
    let window = buf.get(..MAX_LINE_LEN).unwrap_or(buf);
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= MAX_LINE_LEN {
            return Step::invalid(Layer::NoMachine, MAX_LINE_LEN, Reason::OverLimit);
        }
        let body = buf.get(prefix.len()..).unwrap_or_default();
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        return if version_ok(body, false) { Step::Incomplete } else { bad_version };
    };
    let line = buf.get(..lf).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = buf.get(lf.saturating_add(1)..).unwrap_or_default();
    let Some(version) = line.strip_prefix(prefix) else {
        return Step::invalid(Layer::NoMachine, 0, Reason::BadMagic);
    };
    if version.is_empty() || !version_ok(version, true) {
        return bad_version;
    }
    match std::str::from_utf8(version) {
        Ok(version) => Step::Done(Line { version, rest }),
        Err(_) => bad_version,
    }
}

/// A parsed NX UDP datagram header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpHeader {
    /// Message type (`u16` little-endian at offset 0).
    pub kind: u16,
    /// Sequence number (`u16` little-endian at offset 6).
    pub sequence: u16,
}

/// Parse the NX header of a whole UDP datagram (see the module contract).
pub fn parse_udp(datagram: &[u8]) -> Step<UdpHeader> {
    let u16_at = |at: usize| datagram.get(at..).and_then(<[u8]>::first_chunk::<2>).map(|b| u16::from_le_bytes(*b));
    let (Some(kind), Some(mark), Some(len), Some(sequence), Some(zero)) =
        (u16_at(0), u16_at(UDP_MARK_AT), u16_at(UDP_LENGTH_AT), u16_at(UDP_SEQUENCE_AT), u16_at(UDP_ZERO_AT))
    else {
        return Step::invalid(Layer::NoMachine, 0, Reason::Truncated);
    };
    if mark != UDP_MARK {
        return Step::invalid(Layer::NoMachine, UDP_MARK_AT, Reason::BadMagic);
    }
    if usize::from(len) != datagram.len() {
        return Step::invalid(Layer::NoMachine, UDP_LENGTH_AT, Reason::BadLength);
    }
    if zero != 0 {
        return Step::invalid(Layer::NoMachine, UDP_ZERO_AT, Reason::BadValue);
    }
    Step::Done(UdpHeader { kind, sequence })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::nomachine::udp;

    const CLIENT_LINE: &[u8] = b"NXSH-8.10.1\n";
    const CLIENT_HELLO_HEAD: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0x7d];

    fn bad_line(offset: usize, reason: Reason) -> Step<Line<'static>> {
        Step::invalid(Layer::NoMachine, offset, reason)
    }

    fn bad_udp(offset: usize, reason: Reason) -> Step<UdpHeader> {
        Step::invalid(Layer::NoMachine, offset, reason)
    }

    #[test]
    fn lines_and_datagrams() {
        let c = [CLIENT_LINE, CLIENT_HELLO_HEAD].concat();
        let Step::Done(l) = parse_line(&c, CLIENT_PREFIX) else { panic!() };
        assert_eq!((l.version, l.rest, l.tls_follows()), ("8.10.1", CLIENT_HELLO_HEAD, Some(true)));
        let Step::Done(l) = parse_line(b"NXD-9.0.188\r\n", SERVER_PREFIX) else { panic!() };
        assert_eq!((l.version, l.tls_follows()), ("9.0.188", None));
        let long = udp(0x0b, 7, &[0xf7, 0x69, 0xc1, 0x18, 0x90, 0x02, 0x69, 0x65]);
        assert_eq!(parse_udp(&long), Step::Done(UdpHeader { kind: 0x0b, sequence: 7 }));
    }

    #[test]
    fn truncation_sweep() {
        let c = [CLIENT_LINE, CLIENT_HELLO_HEAD].concat();
        for len in 0..CLIENT_LINE.len() {
            assert_eq!(parse_line(&c[..len], CLIENT_PREFIX), Step::Incomplete, "{len}");
        }
        for len in CLIENT_LINE.len()..=c.len() {
            assert!(parse_line(&c[..len], CLIENT_PREFIX).done().is_some(), "{len}");
        }
        // A truncated datagram is a different datagram: never an NX header.
        let d = udp(1, 0, b"ab");
        for len in 0..UDP_MIN_LEN {
            assert_eq!(parse_udp(&d[..len]), bad_udp(0, Reason::Truncated), "{len}");
        }
        for len in UDP_MIN_LEN..d.len() {
            assert_eq!(parse_udp(&d[..len]), bad_udp(4, Reason::BadLength), "{len}");
        }
    }

    #[test]
    fn hostile_lengths() {
        // A UDP length field claiming 65535 bytes on a 10-byte datagram.
        let mut d = udp(1, 0, b"");
        d[4..6].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(parse_udp(&d), bad_udp(4, Reason::BadLength));
        // A line that never ends is decided within MAX_LINE_LEN bytes.
        let long = [CLIENT_PREFIX, &[b'1'; MAX_LINE_LEN]].concat();
        assert_eq!(parse_line(&long, CLIENT_PREFIX), bad_line(MAX_LINE_LEN, Reason::OverLimit));
        assert_eq!(parse_line(&b"\n".repeat(10_000), CLIENT_PREFIX), bad_line(0, Reason::BadMagic));
    }

    #[test]
    fn exact_anomalies() {
        for bad in [
            b"NXSH-\n".as_slice(),
            b"NXSH-8..1\n",
            b"NXSH-.8.1\n",
            b"NXSH-8.1.\n",
            b"NXSH-8.1 beta\n",
            b"NXSH-8.10.1\r\r\n",
            b"NXSH-8\n",
            b"NXSH-123456.1\n",
            b"NXSH-8.1x",
        ] {
            assert_eq!(parse_line(bad, CLIENT_PREFIX), bad_line(5, Reason::BadVersion), "{bad:?}");
        }
        for bad in [b"NXS-8.10.1\n".as_slice(), b"nxsh-8.10.1\n", b"NXD-8.10.1\n", b"X"] {
            assert_eq!(parse_line(bad, CLIENT_PREFIX), bad_line(0, Reason::BadMagic), "{bad:?}");
        }
        assert_eq!(parse_line(b"NXSH-8.1", CLIENT_PREFIX), Step::Incomplete);
        assert_eq!(parse_line(b"NXSH-8.1\r", CLIENT_PREFIX), Step::Incomplete);
        let mut bad = udp(1, 0, b"");
        bad[9] = 1;
        assert_eq!(parse_udp(&bad), bad_udp(8, Reason::BadValue));
        let mut bad = udp(1, 0, b"");
        bad[2] = 2;
        assert_eq!(parse_udp(&bad), bad_udp(2, Reason::BadMagic));
        let mut bad = udp(1, 0, b"xy");
        bad[4] = 10;
        assert_eq!(parse_udp(&bad), bad_udp(4, Reason::BadLength));
    }
}
