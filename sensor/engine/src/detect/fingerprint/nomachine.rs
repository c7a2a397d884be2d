//! NoMachine (NX) fingerprint: the `NXSH-`/`NXD-` version lines over TCP, and NX's framed
//! UDP datagrams.
//!
//! # Contract
//! Works on any port (NoMachine's default is 4000, which plays no part).
//! - TCP: answers `Match` once both version lines are seen and the client has sent what
//!   follows its line (the TLS handshake, reported), or at once when one direction has a valid
//!   line and the other contradicts it; `NoMatch` as soon as the bytes contradict both lines;
//!   `NeedMore` otherwise. At `finished` a single valid line matches with lower confidence.
//! - UDP: the first datagram of each direction must carry NX's datagram header; both
//!   directions give a match, one alone only at `finished` and with lower confidence.
//!
//! # Facts used
//! - nDPI (`protocols/nomachine.c`): a NoMachine TCP connection starts with a handshake that
//!   contains only `NXSH-` (client) or `NXD-` (server) and a version number, 11–14 bytes,
//!   followed by a TLS handshake. nDPI's `nomachine.pcapng` shows the exact shape: client
//!   `NXSH-8.10.1\n`, server `NXD-8.10.1\n` (LF only), then the client's TLS ClientHello.
//!   Lines are accepted here with a dotted numeric version of at least two parts
//!   (`major.minor[.patch...]`), LF or CR LF, at most [`MAX_LINE_LEN`] bytes.
//! - nDPI: NX UDP datagrams are at least 10 bytes, with `u16` little-endian 1 at offset 2,
//!   the datagram length as `u16` little-endian at offset 4, and zero in bytes 8–9. The same
//!   capture shows a `u16` little-endian message type at offset 0 (1, 2, 3, 10, 11) and a
//!   sequence number at offset 6; the type is reported, not checked.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::NoMachineEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::step::{Layer, Reason};

/// Client line prefix.
pub const CLIENT_PREFIX: &[u8] = b"NXSH-";
/// Server line prefix.
pub const SERVER_PREFIX: &[u8] = b"NXD-";
/// Longest version line accepted, line end included (real ones are 11–14 bytes).
pub const MAX_LINE_LEN: usize = 32;
/// Longest numeric part of a version.
const MAX_VERSION_PART_LEN: usize = 5;
/// Bytes per direction this fingerprint reads: a line and the start of what follows.
pub const BYTES_WANTED: usize = 64;
/// Smallest NX UDP datagram (nDPI: the keep-alive).
pub const UDP_MIN_LEN: usize = 10;
/// The constant `u16` at offset 2 of an NX UDP datagram.
const UDP_MARK: u16 = 1;
/// TLS handshake record type and major version.
const TLS_HANDSHAKE: [u8; 2] = [0x16, 0x03];

/// Confidence: both lines, and TLS after the client's.
pub const CONFIDENCE_FULL: u8 = 98;
/// Confidence: both lines.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: one line followed by TLS.
pub const CONFIDENCE_ONE_TLS: u8 = 85;
/// Confidence: one line only.
pub const CONFIDENCE_ONE: u8 = 70;
/// Confidence: NX UDP headers in both directions.
pub const CONFIDENCE_UDP_BOTH: u8 = 85;
/// Confidence: an NX UDP header in one direction only.
pub const CONFIDENCE_UDP_ONE: u8 = 60;

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
    if !probe(buf, prefix) {
        return Step::invalid(Layer::NoMachine, 0, Reason::BadValue);
    }
    let window = buf.get(..MAX_LINE_LEN).unwrap_or(buf);
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= MAX_LINE_LEN {
            return Step::invalid(Layer::NoMachine, 0, Reason::BadValue);
        }
        let body = buf.get(prefix.len()..).unwrap_or_default();
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        return if version_ok(body, false) {
            Step::Incomplete
        } else {
            Step::invalid(Layer::NoMachine, 0, Reason::BadValue)
        };
    };
    let line = buf.get(..lf).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = buf.get(lf.saturating_add(1)..).unwrap_or_default();
    let Some(version) = line.strip_prefix(prefix) else {
        return Step::invalid(Layer::NoMachine, 0, Reason::BadValue);
    };
    if version.is_empty() || !version_ok(version, true) {
        return Step::invalid(Layer::NoMachine, 0, Reason::BadValue);
    }
    match std::str::from_utf8(version) {
        Ok(version) => Step::Done(Line { version, rest }),
        Err(_) => Step::invalid(Layer::NoMachine, 0, Reason::BadValue),
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

/// Parse the NX header of a whole UDP datagram.
pub fn parse_udp(datagram: &[u8]) -> Option<UdpHeader> {
    let u16_at = |at: usize| datagram.get(at..at.checked_add(2)?)?.first_chunk::<2>().map(|b| u16::from_le_bytes(*b));
    if datagram.len() < UDP_MIN_LEN
        || u16_at(2)? != UDP_MARK
        || usize::from(u16_at(4)?) != datagram.len()
        || u16_at(8)? != 0
    {
        return None;
    }
    Some(UdpHeader { kind: u16_at(0)?, sequence: u16_at(6)? })
}

/// Both TCP directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The client's `NXSH-` line.
    pub client: Step<Line<'a>>,
    /// The server's `NXD-` line.
    pub server: Step<Line<'a>>,
}

/// Parse a TCP exchange. Pure and zero-copy.
pub fn parse<'a>(orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    Parsed { client: parse_line(orig, CLIENT_PREFIX), server: parse_line(resp, SERVER_PREFIX) }
}

fn tcp_match(confidence: u8, client: Option<Line<'_>>, server: Option<Line<'_>>) -> Outcome {
    let tls_follows = client.and_then(|l| l.tls_follows()).unwrap_or(false);
    Outcome::Match(Match {
        tool: Tool::NoMachine,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Nomachine(NoMachineEvidence {
            transport: Transport::Tcp,
            client_version: client.map(|l| l.version.to_owned()),
            server_version: server.map(|l| l.version.to_owned()),
            tls_follows,
            udp_types: Vec::new(),
        }),
    })
}

/// Decide on a parsed TCP exchange.
pub fn fingerprint(parsed: &Parsed<'_>, finished: bool) -> Outcome {
    match (parsed.client, parsed.server) {
        (Step::Done(c), Step::Done(s)) => match c.tls_follows() {
            None if !finished => Outcome::NeedMore,
            Some(true) => tcp_match(CONFIDENCE_FULL, Some(c), Some(s)),
            _ => tcp_match(CONFIDENCE_BOTH, Some(c), Some(s)),
        },
        // The other side spoke something else: nothing more to wait for.
        (Step::Done(c), Step::Invalid(_)) if c.tls_follows().is_some() || finished => {
            tcp_match(one_confidence(c), Some(c), None)
        }
        (Step::Invalid(_), Step::Done(s)) => tcp_match(CONFIDENCE_ONE, None, Some(s)),
        (Step::Invalid(_), Step::Invalid(_) | Step::Incomplete) | (Step::Incomplete, Step::Invalid(_)) => {
            Outcome::NoMatch
        }
        _ if !finished => Outcome::NeedMore,
        (Step::Done(c), _) => tcp_match(one_confidence(c), Some(c), None),
        (_, Step::Done(s)) => tcp_match(CONFIDENCE_ONE, None, Some(s)),
        _ => Outcome::NoMatch,
    }
}

fn one_confidence(client: Line<'_>) -> u8 {
    if client.tls_follows() == Some(true) { CONFIDENCE_ONE_TLS } else { CONFIDENCE_ONE }
}

/// Decide on a UDP exchange (first datagram of each direction).
pub fn fingerprint_udp(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
    let (o, r) = (parse_udp(orig), parse_udp(resp));
    let confidence = match (o, r) {
        (Some(_), Some(_)) => CONFIDENCE_UDP_BOTH,
        _ if !orig.is_empty() && o.is_none() || !resp.is_empty() && r.is_none() => return Outcome::NoMatch,
        _ if !finished => return Outcome::NeedMore,
        (Some(_), None) | (None, Some(_)) => CONFIDENCE_UDP_ONE,
        (None, None) => return Outcome::NoMatch,
    };
    Outcome::Match(Match {
        tool: Tool::NoMachine,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Nomachine(NoMachineEvidence {
            transport: Transport::Udp,
            client_version: None,
            server_version: None,
            tls_follows: false,
            udp_types: o.iter().chain(r.iter()).map(|h| h.kind).collect(),
        }),
    })
}

/// The NoMachine fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMachineFingerprint;

impl Fingerprint for NoMachineFingerprint {
    fn tool(&self) -> Tool {
        Tool::NoMachine
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
                if !probe(ex.orig, CLIENT_PREFIX) && !probe(ex.resp, SERVER_PREFIX) {
                    return Outcome::NoMatch;
                }
                let orig = ex.orig.get(..BYTES_WANTED).unwrap_or(ex.orig);
                let resp = ex.resp.get(..BYTES_WANTED).unwrap_or(ex.resp);
                let full = ex.orig.len() >= BYTES_WANTED || ex.resp.len() >= BYTES_WANTED;
                fingerprint(&parse(orig, resp), ex.finished || full)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // No NoMachine build is installable here (not packaged for Debian), so the test bytes are
    // built from the format: the version lines as NoMachine 8.10.1 sends them (LF-terminated),
    // followed on the client side by the first bytes of a TLS 1.2 ClientHello record header
    // (type 0x16, version 03 01, length, handshake type 1). UDP datagrams: u16 LE type, u16 LE 1,
    // u16 LE length, u16 LE sequence, u16 0, then payload.
    const CLIENT_LINE: &[u8] = b"NXSH-8.10.1\n";
    const SERVER_LINE: &[u8] = b"NXD-8.10.1\n";
    const CLIENT_HELLO_HEAD: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0x7d, 0x01, 0x00, 0x00, 0x79, 0x03, 0x03];

    fn client() -> Vec<u8> {
        [CLIENT_LINE, CLIENT_HELLO_HEAD].concat()
    }

    fn udp(kind: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(UDP_MIN_LEN + payload.len()).unwrap();
        [&kind.to_le_bytes()[..], &1u16.to_le_bytes(), &len.to_le_bytes(), &seq.to_le_bytes(), &[0, 0], payload]
            .concat()
    }

    fn inspect(transport: Transport, orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        NoMachineFingerprint.inspect(&Exchange {
            transport,
            orig,
            resp,
            orig_port: 48084,
            resp_port: 443,
            finished,
            datagrams: &[],
        })
    }

    fn tcp(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        inspect(Transport::Tcp, orig, resp, finished)
    }

    fn evidence(out: &Outcome) -> (u8, &NoMachineEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                method: Method::PayloadStructure,
                tool: Tool::NoMachine,
                evidence: Evidence::Nomachine(e),
            }) => (*confidence, e),
            other => panic!("expected a NoMachine match, got {other:?}"),
        }
    }

    #[test]
    fn tcp_handshake_known_answer() {
        let out = tcp(&client(), SERVER_LINE, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_FULL);
        assert_eq!(e.transport, Transport::Tcp);
        assert_eq!(e.client_version.as_deref(), Some("8.10.1"));
        assert_eq!(e.server_version.as_deref(), Some("8.10.1"));
        assert!(e.tls_follows);
        // Line lengths as nDPI describes them.
        assert_eq!((CLIENT_LINE.len(), SERVER_LINE.len()), (12, 11));
        // Both lines, client's TLS not yet sent: wait, then settle for the lines.
        assert_eq!(tcp(CLIENT_LINE, SERVER_LINE, false), Outcome::NeedMore);
        assert_eq!(evidence(&tcp(CLIENT_LINE, SERVER_LINE, true)).0, CONFIDENCE_BOTH);
        // CR LF endings and other versions.
        let out = tcp(b"NXSH-9.0.188\r\n", b"NXD-9.0.188\r\n", true);
        assert_eq!(evidence(&out).1.client_version.as_deref(), Some("9.0.188"));
        // Something other than TLS after the line is reported, not rejected.
        let out = tcp(&[CLIENT_LINE, b"hello"].concat(), SERVER_LINE, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert!(!e.tls_follows);
    }

    #[test]
    fn one_side_only() {
        assert_eq!(tcp(&client(), b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&tcp(&client(), b"", true)).0, CONFIDENCE_ONE_TLS);
        assert_eq!(evidence(&tcp(CLIENT_LINE, b"", true)).0, CONFIDENCE_ONE);
        let out = tcp(b"", SERVER_LINE, true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_ONE);
        assert!(e.client_version.is_none());
        // The server answered something else: decided at once on the client's line and TLS.
        assert_eq!(evidence(&tcp(&client(), b"HTTP/1.1 400 Bad\r\n", false)).0, CONFIDENCE_ONE_TLS);
    }

    #[test]
    fn truncation_sweep_never_panics_or_contradicts() {
        let c = client();
        for i in 0..=c.len() {
            for j in 0..=SERVER_LINE.len() {
                let (o, r) = (&c[..i], &SERVER_LINE[..j]);
                assert_ne!(tcp(o, r, false), Outcome::NoMatch, "{i} {j}");
                assert_ne!(tcp(o, r, true), Outcome::NeedMore, "{i} {j}");
            }
        }
        let d = udp(1, 0, b"");
        for i in 0..d.len() {
            // A truncated datagram is a different datagram: never an NX header.
            assert_eq!(parse_udp(&d[..i]), None, "{i}");
        }
    }

    #[test]
    fn malformed_lines_are_rejected() {
        for bad in [
            b"NXSH-\n".as_slice(),
            b"NXSH-8..1\n",
            b"NXSH-.8.1\n",
            b"NXSH-8.1.\n",
            b"NXSH-8.1 beta\n",
            b"NXS-8.10.1\n",
            b"nxsh-8.10.1\n",
            b"NXSH-8.10.1\r\r\n",
            b"NXSH-8\n",
            b"NXSH-123456.1\n",
        ] {
            assert!(parse_line(bad, CLIENT_PREFIX).is_invalid(), "{bad:?}");
        }
        assert!(parse_line(b"NXD-8.10.1\n", CLIENT_PREFIX).is_invalid());
        assert_eq!(parse_line(b"NXSH-8.1", CLIENT_PREFIX), Step::Incomplete);
        assert_eq!(parse_line(b"NXSH-8.1\r", CLIENT_PREFIX), Step::Incomplete);
        // A line that never ends is decided within MAX_LINE_LEN bytes.
        let long = [b"NXSH-".as_slice(), &[b'1'; MAX_LINE_LEN]].concat();
        assert!(parse_line(&long, CLIENT_PREFIX).is_invalid());
        assert_eq!(tcp(&long, b"", false), Outcome::NoMatch);
    }

    #[test]
    fn udp_known_answer() {
        // The keep-alive exchange: 10-byte datagrams, types 1 (client) and 2 (server).
        let out = inspect(Transport::Udp, &udp(1, 0, b""), &udp(2, 0, b""), false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_UDP_BOTH);
        assert_eq!(e.transport, Transport::Udp);
        assert_eq!(e.udp_types, vec![1, 2]);
        // A longer datagram with payload.
        let long = udp(0x0b, 0, &[0xf7, 0x69, 0xc1, 0x18, 0x90, 0x02, 0x69, 0x65]);
        assert_eq!(parse_udp(&long), Some(UdpHeader { kind: 0x0b, sequence: 0 }));
        // One direction: wait, then match lower.
        assert_eq!(inspect(Transport::Udp, &udp(1, 0, b""), b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&inspect(Transport::Udp, &udp(1, 0, b""), b"", true)).0, CONFIDENCE_UDP_ONE);
        // Length field disagreeing with the datagram, non-zero bytes 8-9, wrong mark.
        let mut bad = udp(1, 0, b"xy");
        bad[4] = 10;
        assert_eq!(parse_udp(&bad), None);
        let mut bad = udp(1, 0, b"");
        bad[9] = 1;
        assert_eq!(parse_udp(&bad), None);
        let mut bad = udp(1, 0, b"");
        bad[2] = 2;
        assert_eq!(parse_udp(&bad), None);
        // A valid datagram answered by something else.
        let dns = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        assert_eq!(inspect(Transport::Udp, &udp(1, 0, b""), &dns, false), Outcome::NoMatch);
        // UDP bytes over TCP and TCP bytes over UDP.
        assert_eq!(tcp(&udp(1, 0, b""), b"", true), Outcome::NoMatch);
        assert_eq!(inspect(Transport::Udp, CLIENT_LINE, SERVER_LINE, true), Outcome::NoMatch);
    }

    #[test]
    fn hostile_lengths() {
        // A UDP length field claiming 65535 bytes on a 10-byte datagram.
        let mut d = udp(1, 0, b"");
        d[4..6].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(parse_udp(&d), None);
        // Oversized TCP input is cut at BYTES_WANTED and decided.
        let big = [client(), vec![0u8; 4 * BYTES_WANTED]].concat();
        assert_eq!(evidence(&tcp(&big, b"", false)).0, CONFIDENCE_ONE_TLS);
        // 10,000 empty lines are not a version line.
        assert_eq!(tcp(&b"\n".repeat(10_000), b"", false), Outcome::NoMatch);
    }

    #[test]
    fn other_protocols_do_not_match() {
        // ICMP exchanges and other protocols in general: fingerprint::tests (every fingerprint).
        let http_req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let http_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(tcp(http_req, http_resp, false), Outcome::NoMatch);
        let tls = [0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03];
        assert_eq!(tcp(&tls, b"", false), Outcome::NoMatch);
        assert_eq!(tcp(b"SSH-2.0-x\r\n", b"SSH-2.0-y\r\n", false), Outcome::NoMatch);
        assert_eq!(tcp(b"", b"", true), Outcome::NoMatch);
        assert_eq!(inspect(Transport::Udp, b"", b"", true), Outcome::NoMatch);
        // A QUIC Initial-like datagram.
        let quic = [0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0x44, 0xd0];
        assert_eq!(inspect(Transport::Udp, &quic, b"", true), Outcome::NoMatch);
    }

    #[test]
    fn random_bytes_do_not_match() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut matches = 0;
        for round in 0..4000 {
            let len = round % 200;
            let mut buf: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            // A quarter get a real prefix so the line parser goes deeper.
            if round % 4 == 0 {
                buf.splice(0..0, CLIENT_PREFIX.iter().copied());
            }
            let (a, b) = buf.split_at(buf.len() / 2);
            for out in [
                tcp(&buf, b"", true),
                tcp(a, b, false),
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
        let c = client();
        for pos in 0..c.len() {
            for v in [0x00, 0xFF, b'\n', b'.'] {
                let (mut c2, mut s2) = (c.clone(), SERVER_LINE.to_vec());
                c2[pos] = v;
                if let Some(b) = s2.get_mut(pos) {
                    *b = v;
                }
                let _ = tcp(&c2, &s2, false);
                assert_ne!(tcp(&c2, &s2, true), Outcome::NeedMore);
            }
        }
    }
}
