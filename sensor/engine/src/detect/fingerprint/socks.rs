//! SOCKS proxy fingerprint (SOCKS4/4a and SOCKS5), any port.
//!
//! Facts used: SOCKS5, RFC 1928 — the client greets with `05 NMETHODS METHODS…`, the server
//! picks `05 METHOD` (0xFF: none acceptable); username/password sub-negotiation, RFC 1929
//! (`01 ULEN UNAME PLEN PASSWD` → `01 STATUS`); then the request `05 CMD 00 ATYP ADDR PORT`
//! (CMD 1 connect, 2 bind, 3 UDP associate; ATYP 1 IPv4, 3 domain name, 4 IPv6) and the reply
//! `05 REP 00 ATYP ADDR PORT`. SOCKS4: `04 CMD PORT IPv4 USERID 00` (4a: IPv4 0.0.0.x followed
//! by `HOST 00`) answered by 8 bytes `00 5A..5D PORT IPv4`. After a successful reply the
//! connection carries the tunnelled protocol; [`Socks::inner`] gives where it starts in each
//! direction, so a handshake nested inside can be fingerprinted.
//!
//! # Contract
//! - [`parse`] is pure and zero-copy; every length is checked against the input.
//! - Match when the client's messages are well-formed and the server answered them
//!   consistently (or, at `finished`, when the client side alone is complete and exact).

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::SocksEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::step::{Layer, Reason};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest SOCKS4 user id / 4a host name accepted.
pub const MAX_SOCKS4_FIELD: usize = 255;
/// Confidence: client and server handshakes consistent.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: only the client's side, complete and exact.
pub const CONFIDENCE_CLIENT: u8 = 60;

/// A parsed SOCKS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks {
    /// 4 or 5.
    pub version: u8,
    /// 1 connect, 2 bind, 3 UDP associate.
    pub command: u8,
    /// Requested destination `host:port`.
    pub target: String,
    /// SOCKS5 authentication method chosen (0 none, 2 username/password).
    pub auth_method: Option<u8>,
    /// Reply code (SOCKS5 0 = succeeded; SOCKS4 0x5A = granted), if the server answered.
    pub reply: Option<u8>,
    /// Where the tunnelled bytes start in the client's and the server's stream (after a
    /// successful reply).
    pub inner: Option<(usize, usize)>,
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// `ATYP ADDR PORT` at `b[i..]`: (text, bytes used).
fn address(b: &[u8], i: usize) -> Step<(String, usize)> {
    let Some(&atyp) = b.get(i) else { return Step::Incomplete };
    let (host, len) = match atyp {
        1 => match b.get(i + 1..i + 5) {
            Some(&[a, b2, c, d]) => (Ipv4Addr::new(a, b2, c, d).to_string(), 4),
            _ => return Step::Incomplete,
        },
        3 => {
            let Some(&n) = b.get(i + 1) else { return Step::Incomplete };
            if n == 0 {
                return Step::invalid(Layer::Socks, 0, Reason::BadValue);
            }
            match b.get(i + 2..i + 2 + usize::from(n)) {
                Some(h) if h.iter().all(|c| c.is_ascii_graphic()) => {
                    (String::from_utf8_lossy(h).into_owned(), 1 + usize::from(n))
                }
                Some(_) => return Step::invalid(Layer::Socks, 0, Reason::BadValue),
                None => return Step::Incomplete,
            }
        }
        4 => match b.get(i + 1..i + 17).and_then(|a| <[u8; 16]>::try_from(a).ok()) {
            Some(a) => (format!("[{}]", Ipv6Addr::from(a)), 16),
            None => return Step::Incomplete,
        },
        _ => return Step::invalid(Layer::Socks, 0, Reason::BadValue),
    };
    match u16_at(b, i + 1 + len) {
        Some(port) => Step::Done((format!("{host}:{port}"), 1 + len + 2)),
        None => Step::Incomplete,
    }
}

fn cstr(b: &[u8], i: usize) -> Step<(&[u8], usize)> {
    let rest = b.get(i..).unwrap_or_default();
    match rest.iter().take(MAX_SOCKS4_FIELD + 1).position(|&c| c == 0) {
        Some(n) => Step::Done((rest.get(..n).unwrap_or_default(), n + 1)),
        None if rest.len() > MAX_SOCKS4_FIELD => Step::invalid(Layer::Socks, 0, Reason::BadValue),
        None => Step::Incomplete,
    }
}

macro_rules! step {
    ($e:expr) => {
        match $e {
            Step::Done(v) => v,
            Step::Incomplete => return Step::Incomplete,
            Step::Invalid(_) => return Step::invalid(Layer::Socks, 0, Reason::BadValue),
        }
    };
}

fn parse4(c: &[u8], s: &[u8]) -> Step<Socks> {
    let command = *c.get(1).unwrap_or(&0);
    if c.len() >= 2 && !matches!(command, 1 | 2) {
        return Step::invalid(Layer::Socks, 0, Reason::BadValue);
    }
    let (Some(port), Some(&[i0, i1, i2, i3])) = (u16_at(c, 2), c.get(4..8)) else { return Step::Incomplete };
    let (_user, ulen) = step!(cstr(c, 8));
    let mut used = 8 + ulen;
    let mut host = Ipv4Addr::new(i0, i1, i2, i3).to_string();
    if i0 == 0 && i1 == 0 && i2 == 0 && i3 != 0 {
        let (h, hlen) = step!(cstr(c, used));
        if h.is_empty() || !h.iter().all(|b| b.is_ascii_graphic()) {
            return Step::invalid(Layer::Socks, 0, Reason::BadValue);
        }
        host = String::from_utf8_lossy(h).into_owned();
        used += hlen;
    }
    let mut out =
        Socks { version: 4, command, target: format!("{host}:{port}"), auth_method: None, reply: None, inner: None };
    match s.get(..8) {
        None if s.is_empty() => {}
        None => return Step::Incomplete,
        Some(r) => {
            let (Some(&0), Some(&code)) = (r.first(), r.get(1)) else {
                return Step::invalid(Layer::Socks, 0, Reason::BadValue);
            };
            if !(0x5A..=0x5D).contains(&code) {
                return Step::invalid(Layer::Socks, 0, Reason::BadValue);
            }
            out.reply = Some(code);
            if code == 0x5A {
                out.inner = Some((used, 8));
            }
        }
    }
    Step::Done(out)
}

fn parse5(c: &[u8], s: &[u8]) -> Step<Socks> {
    let Some(&n) = c.get(1) else { return Step::Incomplete };
    if n == 0 {
        return Step::invalid(Layer::Socks, 0, Reason::BadValue);
    }
    let methods = match c.get(2..2 + usize::from(n)) {
        Some(m) => m,
        None => return Step::Incomplete,
    };
    let mut ci = 2 + usize::from(n);
    // Server's method choice.
    if s.is_empty() {
        // Without the server we can only check the greeting (and a pipelined request).
        if c.len() == ci {
            return Step::Done(Socks {
                version: 5,
                command: 0,
                target: String::new(),
                auth_method: None,
                reply: None,
                inner: None,
            });
        }
    }
    let chosen = match s.get(..2) {
        Some([5, m]) if *m == 0xFF || methods.contains(m) => Some(*m),
        Some(_) => return Step::invalid(Layer::Socks, 0, Reason::BadValue),
        None if s.is_empty() => None,
        None => return Step::Incomplete,
    };
    let mut si = 2;
    if chosen == Some(0xFF) {
        return Step::Done(Socks {
            version: 5,
            command: 0,
            target: String::new(),
            auth_method: chosen,
            reply: None,
            inner: None,
        });
    }
    if chosen == Some(2) {
        // RFC 1929 username/password.
        if c.get(ci) != Some(&1) {
            return if c.len() <= ci { Step::Incomplete } else { Step::invalid(Layer::Socks, 0, Reason::BadValue) };
        }
        let Some(&ulen) = c.get(ci + 1) else { return Step::Incomplete };
        let Some(&plen) = c.get(ci + 2 + usize::from(ulen)) else { return Step::Incomplete };
        ci += 3 + usize::from(ulen) + usize::from(plen);
        match s.get(si..si + 2) {
            Some([1, 0]) => si += 2,
            Some([1, _]) => {
                return Step::Done(Socks {
                    version: 5,
                    command: 0,
                    target: String::new(),
                    auth_method: chosen,
                    reply: None,
                    inner: None,
                });
            }
            Some(_) => return Step::invalid(Layer::Socks, 0, Reason::BadValue),
            None => return Step::Incomplete,
        }
    }
    // The request.
    match c.get(ci..ci + 3) {
        Some([5, cmd, 0]) if (1..=3).contains(cmd) => {}
        Some(_) => return Step::invalid(Layer::Socks, 0, Reason::BadValue),
        None => return Step::Incomplete,
    }
    let command = *c.get(ci + 1).unwrap_or(&0);
    let (target, alen) = step!(address(c, ci + 3));
    ci += 3 + alen;
    let mut out = Socks { version: 5, command, target, auth_method: chosen, reply: None, inner: None };
    if chosen.is_none() {
        return Step::Done(out);
    }
    match s.get(si..si + 3) {
        Some([5, rep, 0]) if *rep <= 8 => {
            out.reply = Some(*rep);
            let (_bound, blen) = step!(address(s, si + 3));
            if *rep == 0 {
                out.inner = Some((ci, si + 3 + blen));
            }
        }
        Some(_) => return Step::invalid(Layer::Socks, 0, Reason::BadValue),
        None => return Step::Incomplete,
    }
    Step::Done(out)
}

/// Parses a SOCKS handshake from the client's (`c`) and server's (`s`) stream prefixes.
pub fn parse(c: &[u8], s: &[u8]) -> Step<Socks> {
    match c.first() {
        Some(4) => parse4(c, s),
        Some(5) => parse5(c, s),
        Some(_) => Step::invalid(Layer::Socks, 0, Reason::BadValue),
        None => Step::Incomplete,
    }
}

/// The SOCKS fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct SocksFingerprint;

impl Fingerprint for SocksFingerprint {
    fn tool(&self) -> Tool {
        Tool::Socks
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp(1024)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Tcp {
            return Outcome::NoMatch;
        }
        let sk = match parse(ex.orig, ex.resp) {
            Step::Done(s) => s,
            Step::Incomplete if !ex.finished => return Outcome::NeedMore,
            Step::Incomplete | Step::Invalid(_) => return Outcome::NoMatch,
        };
        let confidence = match (sk.reply, sk.auth_method) {
            (Some(_), _) => CONFIDENCE_BOTH,
            (None, Some(0xFF)) => CONFIDENCE_BOTH,
            (None, _) if !ex.finished => return Outcome::NeedMore,
            // Client side alone: only a complete request with a target counts.
            (None, _) if !sk.target.is_empty() && ex.resp.is_empty() => CONFIDENCE_CLIENT,
            (None, _) => return Outcome::NoMatch,
        };
        Outcome::Match(Match {
            tool: Tool::Socks,
            confidence,
            method: Method::PayloadStructure,
            evidence: Evidence::Socks(SocksEvidence {
                version: sk.version,
                command: match sk.command {
                    1 => "connect",
                    2 => "bind",
                    3 => "udp_associate",
                    _ => "none",
                },
                target: sk.target,
                auth_method: sk.auth_method,
                reply: sk.reply,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // SOCKS5 no-auth connect to www.example.org:80, then HTTP (RFC 1928 §3–§6 layouts, as
    // curl --socks5-hostname sends them).
    const C5: &[u8] = b"\x05\x01\x00\x05\x01\x00\x03\x0fwww.example.org\x00\x50GET / HTTP/1.1\r\n";
    const S5: &[u8] = b"\x05\x00\x05\x00\x00\x01\xc0\x00\x02\x01\x04\x38HTTP/1.1 200 OK\r\n";

    fn ex<'a>(o: &'a [u8], r: &'a [u8], finished: bool) -> Exchange<'a> {
        Exchange {
            transport: Transport::Tcp,
            orig: o,
            resp: r,
            orig_port: 50000,
            resp_port: 1080,
            finished,
            datagrams: &[],
        }
    }

    #[test]
    fn socks5_connect_and_inner_offsets() {
        let Step::Done(s) = parse(C5, S5) else { panic!() };
        assert_eq!((s.version, s.command, s.target.as_str(), s.reply), (5, 1, "www.example.org:80", Some(0)));
        let (ci, si) = s.inner.unwrap();
        assert!(C5[ci..].starts_with(b"GET /"));
        assert!(S5[si..].starts_with(b"HTTP/1.1"));
        let Outcome::Match(m) = SocksFingerprint.inspect(&ex(C5, S5, false)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::Socks, CONFIDENCE_BOTH));
    }

    #[test]
    fn socks5_user_password_and_ipv6() {
        let c = b"\x05\x02\x00\x02\x01\x04user\x04pass\x05\x01\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x16SSH-2.0-x\r\n";
        let s = b"\x05\x02\x01\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00SSH-2.0-y\r\n";
        let Step::Done(k) = parse(c, s) else { panic!() };
        assert_eq!((k.auth_method, k.target.as_str()), (Some(2), "[2001:db8::1]:22"));
        let (ci, si) = k.inner.unwrap();
        assert_eq!((&c[ci..ci + 4], &s[si..si + 4]), (&b"SSH-"[..], &b"SSH-"[..]));
    }

    #[test]
    fn socks4a() {
        let c = b"\x04\x01\x00\x16\x00\x00\x00\x01bob\x00host.example\x00SSH-2.0-x\r\n";
        let s = b"\x00\x5a\x00\x00\x00\x00\x00\x00SSH-2.0-y\r\n";
        let Step::Done(k) = parse(c, s) else { panic!() };
        assert_eq!((k.version, k.target.as_str(), k.reply), (4, "host.example:22", Some(0x5a)));
        assert!(c[k.inner.unwrap().0..].starts_with(b"SSH-"));
    }

    #[test]
    fn truncation_sweep_hostile_and_negatives() {
        for len in 0..=C5.len() {
            for slen in [0, 1, 2, 5, S5.len()] {
                let _ = SocksFingerprint.inspect(&ex(&C5[..len], &S5[..slen.min(S5.len())], false));
                assert_ne!(
                    SocksFingerprint.inspect(&ex(&C5[..len], &S5[..slen.min(S5.len())], true)),
                    Outcome::NeedMore
                );
            }
        }
        // A 4-byte version 5 "greeting" whose server answers with a method it was not offered.
        assert!(parse(b"\x05\x01\x00", b"\x05\x02").is_invalid());
        // SOCKS4 user id without terminator beyond the limit.
        let mut long = b"\x04\x01\x00\x50\x01\x02\x03\x04".to_vec();
        long.extend(std::iter::repeat_n(b'a', 400));
        assert!(parse(&long, b"").is_invalid());
        for other in [&b"GET / HTTP/1.1\r\n"[..], b"SSH-2.0-x\r\n", b"\x16\x03\x01\x00\x05", b"\x05"] {
            assert!(!matches!(SocksFingerprint.inspect(&ex(other, b"", true)), Outcome::Match(_)), "{other:?}");
        }
    }
}
