//! VNC fingerprint: the RFB ProtocolVersion exchange and security-type negotiation.
//!
//! # Contract
//! Works on the in-order TCP prefix of each direction, on any port. Answers `Match` once both
//! sides sent a valid ProtocolVersion (waiting, within [`BYTES_WANTED`] and until `finished`,
//! for the security-type bytes that follow), `NoMatch` as soon as the server's first bytes, or
//! both sides, contradict RFB, and `NeedMore` otherwise. At `finished` a valid server version
//! alone matches with lower confidence, a valid client version alone lower still.
//!
//! # Facts used
//! - RFC 6143 §7.1.1: the server first sends ProtocolVersion, exactly 12 bytes
//!   `"RFB xxx.yyy\n"` with three-digit major and minor; the client answers in the same shape.
//!   Versions seen: 003.003, 003.007, 003.008 (RFC), 003.889 (Apple), 004.000/004.001
//!   (RealVNC), 003.005 and others (treated like 3.3 by the RFC). Any `ddd.ddd` is accepted.
//! - RFC 6143 §7.1.2 (3.7 and later): the server sends `u8 number-of-security-types` and that
//!   many `u8` types, or 0 followed by a failure reason; the client answers with one `u8` type.
//! - RFC 6143 Appendix A (version 3.3): the server alone decides and sends a `u32` security
//!   type (0 = failure, 1 = None, 2 = VNC Authentication).
//! - Security type numbers: IANA "RFB Security Types" registry (RFC 6143 §8.1.2).

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{SecurityType, VncEvidence};
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::step::{Layer, Reason};

/// Length of a ProtocolVersion message.
pub const VERSION_LEN: usize = 12;
/// Bytes per direction this fingerprint reads: version, then up to 255 security types.
pub const BYTES_WANTED: usize = 512;

/// Confidence: both versions and the security negotiation (server's offer and client's choice).
pub const CONFIDENCE_FULL: u8 = 95;
/// Confidence: both versions.
pub const CONFIDENCE_VERSIONS: u8 = 90;
/// Confidence: only the server's version.
pub const CONFIDENCE_SERVER_ONLY: u8 = 60;
/// Confidence: only the client's version.
pub const CONFIDENCE_CLIENT_ONLY: u8 = 50;

/// A parsed ProtocolVersion, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    /// `xxx.yyy` as sent.
    pub text: &'a str,
    /// Major number.
    pub major: u16,
    /// Minor number.
    pub minor: u16,
}

impl Version<'_> {
    /// Whether the security handshake is the 3.7+ list form (else the 3.3 `u32` form).
    pub fn uses_type_list(&self) -> bool {
        self.major > 3 || self.major == 3 && self.minor >= 7
    }
}

/// The security negotiation, as far as it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security<'a> {
    /// 3.7+: the server's list (empty list = failure) and the client's choice, once sent.
    List {
        /// Offered types.
        offered: &'a [u8],
        /// The client's choice, once sent.
        chosen: Option<u8>,
    },
    /// 3.3: the type the server imposed (0 = failure).
    Imposed(u8),
}

/// Cheap first look at a side: could it begin a ProtocolVersion? Reads at most 4 bytes.
pub fn probe(side: &[u8]) -> bool {
    let head = side.get(..4).unwrap_or(side);
    b"RFB ".starts_with(head)
}

/// Parse a ProtocolVersion at the start of `buf`.
pub fn parse_version(buf: &[u8]) -> Step<Version<'_>> {
    let head = buf.get(..VERSION_LEN).unwrap_or(buf);
    let shape_ok = head.iter().enumerate().all(|(i, &b)| match i {
        0..=3 => b == b"RFB ".get(i).copied().unwrap_or(0),
        7 => b == b'.',
        11 => b == b'\n',
        _ => b.is_ascii_digit(),
    });
    if !shape_ok {
        return Step::invalid(Layer::Vnc, 0, Reason::BadValue);
    }
    let (Some(major), Some(minor)) = (buf.get(4..7), buf.get(8..11)) else {
        return Step::Incomplete;
    };
    if head.len() < VERSION_LEN {
        return Step::Incomplete;
    }
    let num =
        |d: &[u8]| d.iter().fold(0u16, |a, &b| a.saturating_mul(10).saturating_add(u16::from(b.wrapping_sub(b'0'))));
    match buf.get(4..11).and_then(|t| std::str::from_utf8(t).ok()) {
        Some(text) => Step::Done(Version { text, major: num(major), minor: num(minor) }),
        None => Step::invalid(Layer::Vnc, 0, Reason::BadValue),
    }
}

/// Parse the security negotiation after both versions: `server_rest` and `client_rest` are the
/// bytes after each ProtocolVersion; `client` decides the form.
pub fn parse_security<'a>(client: &Version<'_>, server_rest: &'a [u8], client_rest: &[u8]) -> Step<Security<'a>> {
    if client.uses_type_list() {
        let Some((&count, rest)) = server_rest.split_first() else {
            return Step::Incomplete;
        };
        if count == 0 {
            return Step::Done(Security::List { offered: &[], chosen: None });
        }
        let Some(offered) = rest.get(..usize::from(count)) else {
            return Step::Incomplete;
        };
        if offered.contains(&0) {
            return Step::invalid(Layer::Vnc, 0, Reason::BadValue);
        }
        Step::Done(Security::List { offered, chosen: client_rest.first().copied() })
    } else {
        match server_rest.first_chunk::<4>() {
            Some(t) => match u8::try_from(u32::from_be_bytes(*t)) {
                Ok(t) => Step::Done(Security::Imposed(t)),
                Err(_) => Step::invalid(Layer::Vnc, 0, Reason::BadValue),
            },
            None => Step::Incomplete,
        }
    }
}

/// Both directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The server's ProtocolVersion.
    pub server: Step<Version<'a>>,
    /// The client's ProtocolVersion.
    pub client: Step<Version<'a>>,
    /// The security negotiation (only when both versions parsed).
    pub security: Step<Security<'a>>,
}

/// Parse an exchange. Pure and zero-copy.
pub fn parse<'a>(orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    let server = parse_version(resp);
    let client = parse_version(orig);
    let security = match (server, client) {
        (Step::Done(_), Step::Done(c)) => {
            parse_security(&c, resp.get(VERSION_LEN..).unwrap_or_default(), orig.get(VERSION_LEN..).unwrap_or_default())
        }
        _ => Step::Incomplete,
    };
    Parsed { server, client, security }
}

/// Decide on a parsed exchange.
pub fn fingerprint(parsed: &Parsed<'_>, finished: bool) -> Outcome {
    let (confidence, server, client) = match (parsed.server, parsed.client) {
        (Step::Invalid(_), _) | (Step::Incomplete, Step::Invalid(_)) => return Outcome::NoMatch,
        (Step::Done(s), Step::Done(c)) => {
            let waiting = match parsed.security {
                Step::Incomplete => true,
                Step::Done(Security::List { offered, chosen }) => chosen.is_none() && !offered.is_empty(),
                Step::Done(Security::Imposed(_)) | Step::Invalid(_) => false,
            };
            if waiting && !finished {
                return Outcome::NeedMore;
            }
            let confidence = match parsed.security {
                Step::Done(_) if !waiting => CONFIDENCE_FULL,
                _ => CONFIDENCE_VERSIONS,
            };
            (confidence, Some(s), Some(c))
        }
        // The client spoke something else: nothing more to wait for.
        (Step::Done(s), Step::Invalid(_)) => (CONFIDENCE_SERVER_ONLY, Some(s), None),
        _ if !finished => return Outcome::NeedMore,
        (Step::Done(s), _) => (CONFIDENCE_SERVER_ONLY, Some(s), None),
        (_, Step::Done(c)) => (CONFIDENCE_CLIENT_ONLY, None, Some(c)),
        _ => return Outcome::NoMatch,
    };
    let mut ev = VncEvidence {
        server_version: server.map(|v| v.text.to_owned()),
        client_version: client.map(|v| v.text.to_owned()),
        security_types: Vec::new(),
        security_type: None,
        security_failure: false,
    };
    match parsed.security {
        Step::Done(Security::List { offered, chosen }) => {
            ev.security_types = offered.iter().map(|&t| security_type(t)).collect();
            ev.security_type = chosen.map(security_type);
            ev.security_failure = offered.is_empty();
        }
        Step::Done(Security::Imposed(t)) => {
            ev.security_types = vec![security_type(t)];
            ev.security_type = (t != 0).then(|| security_type(t));
            ev.security_failure = t == 0;
        }
        Step::Incomplete | Step::Invalid(_) => {}
    }
    Outcome::Match(Match { tool: Tool::Vnc, confidence, method: Method::PayloadStructure, evidence: Evidence::Vnc(ev) })
}

/// Name of an RFB security type (IANA registry; 113 is UltraVNC's MS-Logon II).
pub fn security_type_name(t: u8) -> &'static str {
    match t {
        0 => "invalid",
        1 => "none",
        2 => "vnc_auth",
        3..=4 | 7..=15 | 128..=255 => "realvnc",
        5 => "ra2",
        6 => "ra2ne",
        16 => "tight",
        17 => "ultra",
        18 => "tls",
        19 => "vencrypt",
        20 => "sasl",
        21 => "md5",
        22 => "xvp",
        23 => "secure_tunnel",
        24 => "integrated_ssh",
        30..=35 => "apple",
        113 => "ultra_mslogon2",
        _ => "unknown",
    }
}

/// A security type's number and name.
pub fn security_type(id: u8) -> SecurityType {
    SecurityType { id, name: security_type_name(id) }
}

/// The VNC fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct VncFingerprint;

impl Fingerprint for VncFingerprint {
    fn tool(&self) -> Tool {
        Tool::Vnc
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Tcp || !probe(ex.resp) {
            return Outcome::NoMatch;
        }
        let orig = ex.orig.get(..BYTES_WANTED).unwrap_or(ex.orig);
        let resp = ex.resp.get(..BYTES_WANTED).unwrap_or(ex.resp);
        // Past BYTES_WANTED nothing more is read: decide as if finished.
        let full = ex.orig.len() >= BYTES_WANTED || ex.resp.len() >= BYTES_WANTED;
        fingerprint(&parse(orig, resp), ex.finished || full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unhex;

    // Recorded on loopback: x11vnc 0.9.16 (Debian 12 package x11vnc) on `Xvfb :7 -screen 0
    // 320x240x16`, `x11vnc -display :7 -rfbport 5907 -listen 127.0.0.1 -forever ...`, client
    // vncdotool 1.4.2 (`vncdotool -s 127.0.0.1::5907 [-p secret] type hi`), captured with
    // `tcpdump -i lo port 5907`, payload extracted with tshark. Each constant is the start of
    // that direction's in-order byte stream.
    // VNC_NOPW_*: `-nopw` (RFB 3.8, security type None).
    // VNC_PW_*: `-rfbauth <file>` (RFB 3.8, VNC Authentication; challenge/response follow).
    // VNC_V33_*: `-rfbauth <file> -rfbversion 3.3` (RFB 3.3, server-imposed u32 type 2).
    const VNC_NOPW_CLIENT: &str = "524642203030332e3030380a0101";
    const VNC_NOPW_SERVER: &str = "524642203030332e3030380a010100000000014000f0101000ff001f003f001f0b05000000000000";
    const VNC_PW_CLIENT: &str = "524642203030332e3030380a0254";
    const VNC_PW_SERVER: &str = "524642203030332e3030380a0102a40b4edee4caa183876a77e529c099cc00000000014000f01010";
    const VNC_V33_CLIENT: &str = "524642203030332e3030330a1aac";
    const VNC_V33_SERVER: &str = "524642203030332e3030330a0000000258168b52c0133ceb6473f1661e5b939200000000014000f0";

    fn inspect(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        VncFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig,
            resp,
            orig_port: 51000,
            resp_port: 80,
            finished,
            datagrams: &[],
        })
    }

    fn evidence(out: &Outcome) -> (u8, &VncEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                method: Method::PayloadStructure,
                tool: Tool::Vnc,
                evidence: Evidence::Vnc(e),
            }) => (*confidence, e),
            other => panic!("expected a VNC match, got {other:?}"),
        }
    }

    const ALL: [(&str, &str); 3] =
        [(VNC_NOPW_CLIENT, VNC_NOPW_SERVER), (VNC_PW_CLIENT, VNC_PW_SERVER), (VNC_V33_CLIENT, VNC_V33_SERVER)];

    #[test]
    fn x11vnc_known_answers() {
        let expect = [("003.008", vec![1], Some(1)), ("003.008", vec![2], Some(2)), ("003.003", vec![2], Some(2))];
        for ((c, s), (version, offered, chosen)) in ALL.iter().zip(expect) {
            let out = inspect(&unhex(c), &unhex(s), false);
            let (conf, e) = evidence(&out);
            assert_eq!(conf, CONFIDENCE_FULL);
            assert_eq!(e.server_version.as_deref(), Some(version));
            assert_eq!(e.client_version.as_deref(), Some(version));
            let ids: Vec<u8> = e.security_types.iter().map(|t| t.id).collect();
            assert_eq!(ids, offered);
            assert_eq!(e.security_type.map(|t| t.id), chosen);
            assert!(!e.security_failure);
        }
        let out = inspect(&unhex(VNC_PW_CLIENT), &unhex(VNC_PW_SERVER), false);
        assert_eq!(evidence(&out).1.security_type.map(|t| t.name), Some("vnc_auth"));
    }

    #[test]
    fn versions_then_security_wait() {
        let (c, s) = (unhex(VNC_NOPW_CLIENT), unhex(VNC_NOPW_SERVER));
        // Both versions, no security bytes yet.
        assert_eq!(inspect(&c[..12], &s[..12], false), Outcome::NeedMore);
        assert_eq!(evidence(&inspect(&c[..12], &s[..12], true)).0, CONFIDENCE_VERSIONS);
        // Server list seen, client choice not yet.
        assert_eq!(inspect(&c[..12], &s[..14], false), Outcome::NeedMore);
        let out = inspect(&c[..12], &s[..14], true);
        assert_eq!(evidence(&out).1.security_types.len(), 1);
    }

    #[test]
    fn one_side_only() {
        let (c, s) = (unhex(VNC_NOPW_CLIENT), unhex(VNC_NOPW_SERVER));
        assert_eq!(inspect(b"", &s[..12], false), Outcome::NeedMore);
        let out = inspect(b"", &s[..12], true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_SERVER_ONLY);
        assert_eq!(e.client_version, None);
        assert_eq!(evidence(&inspect(&c, b"", true)).0, CONFIDENCE_CLIENT_ONLY);
        // A client that answers something else: the server's version alone, decided now.
        let out = inspect(b"GET / HTTP/1.0\r\n\r\n", &s, false);
        assert_eq!(evidence(&out).0, CONFIDENCE_SERVER_ONLY);
    }

    #[test]
    fn truncation_sweep_never_panics_or_contradicts() {
        for (c, s) in ALL {
            let (c, s) = (unhex(c), unhex(s));
            for i in 0..=c.len() {
                for j in 0..=s.len() {
                    let (o, r) = (&c[..i], &s[..j]);
                    assert_ne!(inspect(o, r, false), Outcome::NoMatch, "{i} {j}");
                    assert_ne!(inspect(o, r, true), Outcome::NeedMore, "{i} {j}");
                }
            }
        }
    }

    #[test]
    fn hostile_security_fields() {
        let v38 = b"RFB 003.008\n";
        // Failure (count 0) with a reason claiming 4 GiB: decided at once, nothing read.
        let resp = [v38.as_slice(), &[0], &u32::MAX.to_be_bytes()].concat();
        let out = inspect(v38, &resp, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_FULL);
        assert!(e.security_failure && e.security_types.is_empty());
        // 255 types announced, 3 present: wait, then settle for the versions.
        let resp = [v38.as_slice(), &[255, 1, 2, 16]].concat();
        assert_eq!(inspect(v38, &resp, false), Outcome::NeedMore);
        assert_eq!(evidence(&inspect(v38, &resp, true)).0, CONFIDENCE_VERSIONS);
        // 3.3 security type that does not fit a byte.
        let v33 = b"RFB 003.003\n";
        let resp = [v33.as_slice(), &u32::MAX.to_be_bytes()].concat();
        let out = inspect(v33, &resp, false);
        assert_eq!(evidence(&out).0, CONFIDENCE_VERSIONS);
        // Oversized input is cut at BYTES_WANTED and decided.
        let big = [v38.as_slice(), &[1, 1], &[0u8; 2 * BYTES_WANTED]].concat();
        assert_eq!(evidence(&inspect(v38, &big, false)).0, CONFIDENCE_VERSIONS);
    }

    #[test]
    fn other_versions_and_types() {
        for (v, text, list) in [
            (b"RFB 003.889\n", "003.889", true),
            (b"RFB 004.001\n", "004.001", true),
            (b"RFB 003.005\n", "003.005", false),
        ] {
            let Step::Done(p) = parse_version(v) else {
                panic!("{v:?}");
            };
            assert_eq!((p.text, p.uses_type_list()), (text, list));
        }
        assert!(parse_version(b"RFB 03.008\n\n").is_invalid());
        assert_eq!(parse_version(b"RFB 003.00"), Step::Incomplete);
        assert_eq!(security_type_name(30), "apple");
        assert_eq!(security_type_name(16), "tight");
        assert_eq!(security_type_name(19), "vencrypt");
    }

    #[test]
    fn other_protocols_do_not_match() {
        let http_req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let http_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(inspect(http_req, http_resp, false), Outcome::NoMatch);
        assert_eq!(inspect(http_req, b"", false), Outcome::NoMatch);
        let tls = [0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03];
        assert_eq!(inspect(&tls, b"", false), Outcome::NoMatch);
        assert_eq!(inspect(b"", b"SSH-2.0-OpenSSH_9.2p1\r\n", false), Outcome::NoMatch);
        assert_eq!(inspect(b"", b"RFB 003.008\r", false), Outcome::NoMatch);
        assert_eq!(inspect(b"", b"", true), Outcome::NoMatch);
        assert!(!VncFingerprint.wants(Transport::Udp));
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        for (c, s) in ALL {
            let (c, s) = (unhex(c), unhex(s));
            for pos in 0..c.len().max(s.len()) {
                for v in [0x00, 0xFF, 0x01, b'\n'] {
                    let (mut c2, mut s2) = (c.clone(), s.clone());
                    if let Some(b) = c2.get_mut(pos) {
                        *b = v;
                    }
                    if let Some(b) = s2.get_mut(pos) {
                        *b ^= v;
                    }
                    let _ = inspect(&c2, &s2, false);
                    assert_ne!(inspect(&c2, &s2, true), Outcome::NeedMore);
                }
            }
        }
    }
}
