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
//! - The lines and the datagram header are read by [`farhand_proto::nomachine`]; this file
//!   decides. A contradiction that ends an exchange that had begun as NoMachine (TCP: a side
//!   past its prefix or holding the start of a line; UDP: the other datagram framed) is
//!   answered with [`Outcome::Anomaly`], carrying the parser's offset and reason.
//!
//! # Facts used
//! - nDPI (`protocols/nomachine.c`): a NoMachine TCP connection starts with a handshake that
//!   contains only `NXSH-` (client) or `NXD-` (server) and a version number, 11–14 bytes,
//!   followed by a TLS handshake. nDPI's `nomachine.pcapng` shows the exact shape: client
//!   `NXSH-8.10.1\n`, server `NXD-8.10.1\n` (LF only), then the client's TLS ClientHello.
//!   Lines are accepted here with a dotted numeric version of at least two parts
//!   (`major.minor[.patch...]`), LF or CR LF, at most `MAX_LINE_LEN` bytes
//!   ([`farhand_proto::nomachine::MAX_LINE_LEN`]).
//! - nDPI: NX UDP datagrams are at least 10 bytes, with `u16` little-endian 1 at offset 2,
//!   the datagram length as `u16` little-endian at offset 4, and zero in bytes 8–9. The same
//!   capture shows a `u16` little-endian message type at offset 0 (1, 2, 3, 10, 11) and a
//!   sequence number at offset 6; the type is reported, not checked.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::NoMachineEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::nomachine::{CLIENT_PREFIX, Line, SERVER_PREFIX, parse_line, parse_udp, probe};

/// Bytes per direction this fingerprint reads: a line and the start of what follows.
pub const BYTES_WANTED: usize = 64;

/// Confidence: both lines, and TLS after the client's.
pub const CONFIDENCE_FULL: u8 = 98;
/// Confidence: both lines.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: one line followed by TLS (one side only).
pub const CONFIDENCE_ONE_TLS: u8 = 75;
/// Confidence: one line only.
pub const CONFIDENCE_ONE: u8 = 70;
/// Confidence: NX UDP headers in both directions.
pub const CONFIDENCE_UDP_BOTH: u8 = 85;
/// Confidence: an NX UDP header in one direction only.
pub const CONFIDENCE_UDP_ONE: u8 = 60;

/// Both TCP directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The client's `NXSH-` line.
    pub client: Step<Line<'a>>,
    /// The server's `NXD-` line.
    pub server: Step<Line<'a>>,
    /// Some side has bytes of its line that agree with NoMachine: a line, the start of one,
    /// or a prefix followed by a broken version.
    pub began: bool,
}

/// Parse a TCP exchange. Pure and zero-copy.
pub fn parse<'a>(orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    let (client, server) = (parse_line(orig, CLIENT_PREFIX), parse_line(resp, SERVER_PREFIX));
    let began = |side: Step<Line<'_>>, bytes: &[u8]| match side {
        Step::Invalid(a) => a.offset > 0,
        Step::Incomplete | Step::Done(_) => !bytes.is_empty(),
    };
    Parsed { client, server, began: began(client, orig) || began(server, resp) }
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
        (Step::Invalid(a), Step::Invalid(_) | Step::Incomplete) | (Step::Incomplete, Step::Invalid(a)) => {
            if parsed.began { Outcome::Anomaly(a) } else { Outcome::NoMatch }
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
    let (o, r) = (parse_udp(orig).done(), parse_udp(resp).done());
    let confidence = match (o, r) {
        (Some(_), Some(_)) => CONFIDENCE_UDP_BOTH,
        // One datagram framed, the other broken: the match had begun.
        (Some(_), None) if !resp.is_empty() => return udp_anomaly(resp),
        (None, Some(_)) if !orig.is_empty() => return udp_anomaly(orig),
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

/// The anomaly of a datagram without an NX header.
fn udp_anomaly(datagram: &[u8]) -> Outcome {
    match parse_udp(datagram) {
        Step::Invalid(a) => Outcome::Anomaly(a),
        Step::Done(_) | Step::Incomplete => Outcome::NoMatch,
    }
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
            Transport::Icmp | Transport::Esp | Transport::Ah | Transport::Gre => Outcome::NoMatch,
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
    use crate::testutil::nomachine::udp;
    use farhand_model::anomaly::{Anomaly, Layer, Reason};
    use farhand_proto::nomachine::MAX_LINE_LEN;

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
        for i in 1..d.len() {
            // A truncated datagram is a different datagram: never an NX header.
            assert!(matches!(inspect(Transport::Udp, &d, &d[..i], true), Outcome::Anomaly(_)), "{i}");
        }
    }

    #[test]
    fn malformed_lines_end_a_begun_exchange() {
        // Each malformed line's anomaly: proto::nomachine's tests.
        let bad_version = Outcome::Anomaly(Anomaly::new(Layer::NoMachine, 5, Reason::BadVersion));
        assert_eq!(tcp(b"NXSH-8..1\n", b"", false), bad_version);
        assert_eq!(tcp(b"NXSH-8..1\n", b"HTTP/1.1 200 OK\r\n", true), bad_version);
        // The other side contradicting a line that has begun.
        let bad_magic = Outcome::Anomaly(Anomaly::new(Layer::NoMachine, 0, Reason::BadMagic));
        assert_eq!(tcp(b"NXSH-8.1", b"SSH-2.0-x\r\n", false), bad_magic);
        // Nothing began: no anomaly.
        assert_eq!(tcp(b"", b"SSH-2.0-x\r\n", false), Outcome::NoMatch);
        assert_eq!(tcp(b"NXS-8.10.1\n", b"", false), Outcome::NoMatch);
        // A line that never ends is decided within MAX_LINE_LEN bytes.
        let long = [b"NXSH-".as_slice(), &[b'1'; MAX_LINE_LEN]].concat();
        assert_eq!(
            tcp(&long, b"", false),
            Outcome::Anomaly(Anomaly::new(Layer::NoMachine, MAX_LINE_LEN, Reason::OverLimit))
        );
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
        assert_eq!(evidence(&inspect(Transport::Udp, &long, &udp(1, 0, b""), false)).1.udp_types, vec![0x0b, 1]);
        // One direction: wait, then match lower.
        assert_eq!(inspect(Transport::Udp, &udp(1, 0, b""), b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&inspect(Transport::Udp, &udp(1, 0, b""), b"", true)).0, CONFIDENCE_UDP_ONE);
        // Non-zero bytes 8-9 (each field's anomaly: proto::nomachine's tests).
        let mut bad = udp(1, 0, b"");
        bad[9] = 1;
        assert_eq!(inspect(Transport::Udp, &bad, b"", true), Outcome::NoMatch);
        let zero = Outcome::Anomaly(Anomaly::new(Layer::NoMachine, 8, Reason::BadValue));
        assert_eq!(inspect(Transport::Udp, &udp(1, 0, b""), &bad, true), zero);
        // A valid datagram answered by something else.
        let dns = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        let mark = Outcome::Anomaly(Anomaly::new(Layer::NoMachine, 2, Reason::BadMagic));
        assert_eq!(inspect(Transport::Udp, &udp(1, 0, b""), &dns, false), mark);
        // UDP bytes over TCP and TCP bytes over UDP.
        assert_eq!(tcp(&udp(1, 0, b""), b"", true), Outcome::NoMatch);
        assert_eq!(inspect(Transport::Udp, CLIENT_LINE, SERVER_LINE, true), Outcome::NoMatch);
    }

    #[test]
    fn hostile_lengths() {
        // A UDP length field claiming 65535 bytes on a 10-byte datagram.
        let mut d = udp(1, 0, b"");
        d[4..6].copy_from_slice(&u16::MAX.to_le_bytes());
        let length = Outcome::Anomaly(Anomaly::new(Layer::NoMachine, 4, Reason::BadLength));
        assert_eq!(inspect(Transport::Udp, &udp(1, 0, b""), &d, false), length);
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
