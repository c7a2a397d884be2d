//! SSH fingerprint: identification strings and the first `SSH_MSG_KEXINIT` of each side.
//!
//! # Contract
//! Works on the in-order TCP prefix of each direction, on any port. Answers `Match` once
//! both identification strings and both `SSH_MSG_KEXINIT` messages are parsed (or both
//! banners when the session is SSH-1, which has no KEXINIT), `NoMatch` when the bytes
//! contradict an identification string, and `NeedMore` otherwise. At `finished` it matches on
//! at least one valid identification string, with a confidence that grows with what was seen.
//! The wire format (identification lines, packet framing, KEXINIT, their limits) is parsed by
//! [`farhand_proto::ssh`]; this file decides: what to wait for within [`BYTES_WANTED`], the
//! confidence, the evidence and HASSH.
//!
//! # Facts used
//! - RFC 4253 §4.2, §5.1, §6, §7.1 as [`farhand_proto::ssh`] lists them: an identification
//!   string per side (the server may send other lines first), `1.x` other than `1.99` is SSH-1
//!   (no binary packets), then the first binary packet, which is the KEXINIT.
//! - HASSH (Salesforce): client `md5("kex;enc_c2s;mac_c2s;comp_c2s")` and server
//!   `md5("kex;enc_s2c;mac_s2c;comp_s2c")`, lower-case hex.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{SshBanner, SshEvidence};
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::ssh::{self, Ident, KexInit};
use md5::{Digest, Md5};

/// Bytes per direction this fingerprint reads: a banner plus a large KEXINIT.
pub const BYTES_WANTED: usize = 4096;

/// Confidence: both banners and both KEXINITs parsed (or both banners of an SSH-1 session).
pub const CONFIDENCE_FULL: u8 = 98;
/// Confidence: both banners, not both KEXINITs.
pub const CONFIDENCE_BOTH_BANNERS: u8 = 95;
/// Confidence: one banner followed by a valid KEXINIT (one side only).
pub const CONFIDENCE_ONE_BANNER_KEXINIT: u8 = 75;
/// Confidence: a single banner and nothing else SSH-shaped.
pub const CONFIDENCE_ONE_BANNER: u8 = 70;

/// HASSH input string of a client KEXINIT: `kex;enc_c2s;mac_c2s;comp_c2s`.
pub fn hassh_input(k: &KexInit<'_>) -> String {
    [k.kex, k.enc_c2s, k.mac_c2s, k.comp_c2s].join(";")
}

/// HASSHServer input string of a server KEXINIT: `kex;enc_s2c;mac_s2c;comp_s2c`.
pub fn hassh_server_input(k: &KexInit<'_>) -> String {
    [k.kex, k.enc_s2c, k.mac_s2c, k.comp_s2c].join(";")
}

/// What follows an identification string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KexState<'a> {
    /// A complete, valid KEXINIT.
    Parsed(KexInit<'a>),
    /// Consistent so far; more bytes could complete it.
    Pending,
    /// No KEXINIT will be found in this prefix: SSH-1, another message, bytes that are not a
    /// binary packet, or a packet too large for [`BYTES_WANTED`].
    Absent,
}

/// One direction of the exchange, parsed.
// A short-lived stack value of the zero-copy parse: boxing the borrowed fields would allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side<'a> {
    /// Nothing contradicts SSH yet, but no complete identification string either.
    Incomplete,
    /// The bytes are not SSH.
    Invalid,
    /// A valid identification string and what follows it.
    Banner {
        /// The identification string.
        ident: Ident<'a>,
        /// The first binary packet, as far as it goes.
        kex: KexState<'a>,
    },
}

/// Both directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The client (initiator) side.
    pub client: Side<'a>,
    /// The server (responder) side.
    pub server: Side<'a>,
}

/// Parse both directions. Pure and zero-copy.
pub fn parse<'a>(orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    Parsed { client: parse_side(orig, false), server: parse_side(resp, true) }
}

/// Parse one direction: identification (after an optional preamble if `is_server`), then the
/// first binary packet.
pub fn parse_side(buf: &[u8], is_server: bool) -> Side<'_> {
    match ssh::identification(buf, is_server) {
        Step::Incomplete => Side::Incomplete,
        Step::Invalid(_) => Side::Invalid,
        Step::Done((ident, after)) => Side::Banner {
            ident,
            kex: parse_kex(after, &ident, BYTES_WANTED.saturating_sub(buf.len().saturating_sub(after.len()))),
        },
    }
}

/// Parse the first binary packet after an identification string as a KEXINIT; `room` is how
/// many bytes of this direction are left to read (out of [`BYTES_WANTED`]) from `buf` on.
fn parse_kex<'a>(buf: &'a [u8], ident: &Ident<'_>, room: usize) -> KexState<'a> {
    if ident.is_ssh1_only() {
        return KexState::Absent;
    }
    match ssh::binary_packet(buf) {
        Step::Done((payload, _)) => ssh::kexinit(payload).map_or(KexState::Absent, KexState::Parsed),
        Step::Invalid(_) => KexState::Absent,
        Step::Incomplete => match ssh::packet_length(buf) {
            // Wait only for a packet that can fit in what this fingerprint reads.
            Some(len) if usize::try_from(len).unwrap_or(usize::MAX).saturating_add(4) > room => KexState::Absent,
            _ => KexState::Pending,
        },
    }
}

fn banner_of(side: Side<'_>) -> Option<(Ident<'_>, KexState<'_>)> {
    match side {
        Side::Banner { ident, kex } => Some((ident, kex)),
        _ => None,
    }
}

fn kex_of(side: Side<'_>) -> Option<KexInit<'_>> {
    match side {
        Side::Banner { kex: KexState::Parsed(k), .. } => Some(k),
        _ => None,
    }
}

/// Decide on a parsed exchange.
pub fn fingerprint(parsed: &Parsed<'_>, finished: bool) -> Outcome {
    let (client, server) = (parsed.client, parsed.server);
    let (c, s) = (banner_of(client), banner_of(server));
    match (client, server) {
        (Side::Invalid, Side::Invalid) | (Side::Invalid, Side::Incomplete) | (Side::Incomplete, Side::Invalid) => {
            return Outcome::NoMatch;
        }
        _ => {}
    }
    let ssh1 = c.iter().chain(s.iter()).any(|(i, _)| i.is_ssh1_only());
    let resolved = |k: &KexState<'_>| ssh1 || !matches!(k, KexState::Pending);
    let complete = match (c, s) {
        (Some((_, ck)), Some((_, sk))) => resolved(&ck) && resolved(&sk),
        // The other side spoke something else: nothing more to wait for once ours is done.
        (Some((_, k)), None) if server == Side::Invalid => resolved(&k),
        (None, Some((_, k))) if client == Side::Invalid => resolved(&k),
        _ => false,
    };
    if !complete && !finished {
        return Outcome::NeedMore;
    }
    if c.is_none() && s.is_none() {
        return Outcome::NoMatch;
    }
    let (ck, sk) = (kex_of(client), kex_of(server));
    let confidence = match (c.is_some(), s.is_some()) {
        (true, true) if (ck.is_some() && sk.is_some()) || ssh1 => CONFIDENCE_FULL,
        (true, true) => CONFIDENCE_BOTH_BANNERS,
        _ if ck.is_some() || sk.is_some() => CONFIDENCE_ONE_BANNER_KEXINIT,
        _ => CONFIDENCE_ONE_BANNER,
    };
    let hassh_algorithms = ck.map(|k| hassh_input(&k));
    let hassh_server_algorithms = sk.map(|k| hassh_server_input(&k));
    Outcome::Match(Match {
        tool: Tool::Ssh,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Ssh(SshEvidence {
            client_banner: c.map(|(i, _)| Box::new(banner(i))),
            server_banner: s.map(|(i, _)| Box::new(banner(i))),
            hassh: hassh_algorithms.as_deref().map(md5_hex),
            hassh_algorithms,
            hassh_server: hassh_server_algorithms.as_deref().map(md5_hex),
            hassh_server_algorithms,
        }),
    })
}

/// Lower-case hex MD5 of a string.
pub fn md5_hex(s: &str) -> String {
    use std::fmt::Write as _;
    let digest = Md5::digest(s.as_bytes());
    digest.iter().fold(String::with_capacity(32), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The evidence form of an identification string.
fn banner(i: Ident<'_>) -> SshBanner {
    SshBanner {
        proto: i.proto.to_owned(),
        software: i.software.to_owned(),
        comment: i.comment.map(|c| String::from_utf8_lossy(c).into_owned()),
    }
}

/// The SSH fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct SshFingerprint;

impl Fingerprint for SshFingerprint {
    fn tool(&self) -> Tool {
        Tool::Ssh
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Tcp || !ssh::probe(ex.orig, false) && !ssh::probe(ex.resp, true) {
            return Outcome::NoMatch;
        }
        let orig = ex.orig.get(..BYTES_WANTED).unwrap_or(ex.orig);
        let resp = ex.resp.get(..BYTES_WANTED).unwrap_or(ex.resp);
        fingerprint(&parse(orig, resp), ex.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::ssh::{CLIENT as SSH_CLIENT, SERVER as SSH_SERVER};
    use crate::testutil::unhex;

    /// tshark 4.0.17 `ssh.kex.hassh` / `ssh.kex.hasshserver` for the capture in `testutil::ssh`.
    const TSHARK_HASSH: &str = "472b5de333ad665af5cbf10ff892c4df";
    const TSHARK_HASSH_SERVER: &str = "425d29fe50d8e4f5e37efb6e24bcf660";

    fn inspect(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        SshFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig,
            resp,
            orig_port: 40000,
            resp_port: 8443,
            finished,
            datagrams: &[],
        })
    }

    fn evidence(out: &Outcome) -> (u8, &SshEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                method: Method::PayloadStructure,
                tool: Tool::Ssh,
                evidence: Evidence::Ssh(e),
            }) => (*confidence, e),
            other => panic!("expected an SSH match, got {other:?}"),
        }
    }

    fn banner_len(b: &[u8]) -> usize {
        b.iter().position(|&c| c == b'\n').unwrap() + 1
    }

    #[test]
    fn openssh_full_handshake_known_answer() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        let out = inspect(&c, &s, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_FULL);
        let cb = e.client_banner.as_deref().unwrap();
        assert_eq!((cb.proto.as_str(), cb.software.as_str()), ("2.0", "OpenSSH_9.2p1"));
        assert_eq!(cb.comment.as_deref(), Some("Debian-2+deb12u10"));
        assert_eq!(e.server_banner.as_deref(), Some(cb));
        assert_eq!(e.hassh.as_deref(), Some(TSHARK_HASSH));
        assert_eq!(e.hassh_server.as_deref(), Some(TSHARK_HASSH_SERVER));
        let algs = e.hassh_algorithms.as_deref().unwrap();
        assert!(algs.starts_with("sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,"));
        assert_eq!(algs.split(';').count(), 4);
        assert!(algs.ends_with(";none,zlib@openssh.com,zlib"), "{algs}");
        assert_eq!(md5_hex(algs), TSHARK_HASSH);
        assert!(
            e.hassh_server_algorithms.as_deref().unwrap().ends_with(";none,zlib@openssh.com"),
            "server offers no plain zlib"
        );
        // Ports play no part.
        let swapped = SshFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig: &c,
            resp: &s,
            orig_port: 22,
            resp_port: 53,
            finished: false,
            datagrams: &[],
        });
        assert_eq!(swapped, out);
    }

    #[test]
    fn banners_only_wait_then_match_lower() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        let (cb, sb) = (&c[..banner_len(&c)], &s[..banner_len(&s)]);
        assert_eq!(inspect(cb, sb, false), Outcome::NeedMore);
        let out = inspect(cb, sb, true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH_BANNERS);
        assert!(e.hassh.is_none() && e.hassh_server.is_none());
    }

    #[test]
    fn one_direction_only() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        assert_eq!(inspect(&c, b"", false), Outcome::NeedMore);
        let out = inspect(&c, b"", true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_ONE_BANNER_KEXINIT);
        assert_eq!(e.hassh.as_deref(), Some(TSHARK_HASSH));
        assert!(e.server_banner.is_none());
        let out = inspect(b"", &s[..banner_len(&s)], true);
        assert_eq!(evidence(&out).0, CONFIDENCE_ONE_BANNER);
    }

    #[test]
    fn truncation_sweep_never_panics_or_contradicts() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        let check = |o: &[u8], r: &[u8]| {
            // A genuine prefix is never a contradiction...
            assert_ne!(inspect(o, r, false), Outcome::NoMatch, "{} {}", o.len(), r.len());
            // ...and a finished exchange is always decided.
            assert_ne!(inspect(o, r, true), Outcome::NeedMore, "{} {}", o.len(), r.len());
        };
        for i in 0..=c.len() {
            check(&c[..i], &s);
            check(&c[..i], b"");
            check(&c[..i], &s[..banner_len(&s)]);
        }
        for j in 0..=s.len() {
            check(&c, &s[..j]);
            check(b"", &s[..j]);
            check(&c[..j.min(c.len())], &s[..j]);
        }
    }

    #[test]
    fn hostile_packet_lengths_do_not_wait_or_allocate() {
        let mut c = b"SSH-2.0-x\r\n".to_vec();
        let s = b"SSH-2.0-y\r\n\xff\xff\xff\xff\x0a\x14".to_vec();
        // Client: a packet_length within limits but larger than what is ever read.
        c.extend_from_slice(&30_000u32.to_be_bytes());
        c.extend_from_slice(&[4, ssh::MSG_KEXINIT]);
        // Nothing more can come that would change the answer: match on the banners now.
        assert_eq!(evidence(&inspect(&c, &s, false)).0, CONFIDENCE_BOTH_BANNERS);
        // A line that never ends.
        let long = [b"SSH-2.0-".as_slice(), &[b'a'; ssh::MAX_IDENT_LEN]].concat();
        assert_eq!(inspect(&long, b"", false), Outcome::NoMatch);
        // An endless server preamble, alone or behind an SSH client.
        let pre = b"hello\r\n".repeat(ssh::MAX_PREAMBLE_LEN / 7 + 1);
        assert_eq!(inspect(b"", &pre, false), Outcome::NoMatch);
        assert_eq!(evidence(&inspect(&c, &pre, false)).0, CONFIDENCE_ONE_BANNER);
    }

    #[test]
    fn garbage_after_banner_is_still_ssh() {
        let c = b"SSH-2.0-PuTTY_Release_0.78\r\n\x00\x00\x00\x00garbage";
        let s = b"SSH-2.0-dropbear_2022.83\r\n";
        let out = inspect(c, s, true);
        assert_eq!(evidence(&out).0, CONFIDENCE_BOTH_BANNERS);
    }

    #[test]
    fn ssh1_session_matches_on_banners() {
        let out = inspect(b"SSH-1.5-OpenSSH_6.6\n", b"SSH-1.5-OpenSSH_6.6\n\x00\x00\x01\x04", false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_FULL);
        assert_eq!(e.client_banner.as_ref().unwrap().proto, "1.5");
        assert!(e.hassh.is_none());
    }

    #[test]
    fn other_protocols_do_not_match() {
        let http_req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let http_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(inspect(http_req, http_resp, false), Outcome::NoMatch);
        assert_eq!(inspect(http_req, b"", false), Outcome::NoMatch);
        let tls = [0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03];
        assert_eq!(inspect(&tls, b"", false), Outcome::NoMatch);
        assert_eq!(inspect(b"", b"", true), Outcome::NoMatch);
        // A server that only talks HTTP-like text never matches once finished.
        assert_eq!(inspect(b"", http_resp, true), Outcome::NoMatch);
        assert!(!SshFingerprint.wants(Transport::Udp));
        assert_eq!(SshFingerprint.interest(), Interest::tcp(BYTES_WANTED));
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        for pos in 0..c.len().max(s.len()) {
            for v in [0x00, 0xFF, 0x0A, b'-'] {
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

    #[test]
    fn preamble_within_limit_is_accepted() {
        let line = [[b'x'; 98].as_slice(), b"\r\n"].concat();
        let s = [line.repeat(10), b"SSH-2.0-srv\r\n".to_vec()].concat();
        assert_eq!(evidence(&inspect(b"SSH-2.0-cli\r\n", &s, true)).0, CONFIDENCE_BOTH_BANNERS);
    }
}
