//! SOCKS4/4a (the de-facto protocol) and SOCKS5 (RFC 1928, RFC 1929) handshakes: greeting,
//! method choice, username/password sub-negotiation, request and reply, read from both
//! directions' first bytes.
//!
//! # Contract
//! - [`parse`] reads the client's (`c`) and the server's (`s`) stream prefixes together,
//!   since which messages follow depends on what the other side said. Every length is
//!   checked against the input; a SOCKS4 user id or 4a host name is looked for within
//!   [`MAX_SOCKS4_FIELD`] bytes.
//! - `Done` once the handshake is decided: the request (and the reply, if the server
//!   answered), or a greeting alone while the server has said nothing, or a refusal (no
//!   acceptable method, failed authentication). `Incomplete` while either side is consistent
//!   but short. `Invalid` as soon as a field contradicts the protocol; the anomaly's offset
//!   is that field's offset *in the direction it was read from* (the client's stream for the
//!   greeting, authentication and request; the server's for the choice, status and reply).
//! - On success [`Socks::inner`] gives where the tunnelled bytes start in each direction.
//! - The parser decides nothing about confidence; the SOCKS fingerprint and the nested
//!   handshake code (`farhand-engine`) read its summary.
//! - Pure and panic-free; the summary owns its target text (at most one host name).
//!
//! # Facts used
//! - SOCKS5, RFC 1928: greeting `05 NMETHODS METHODS…`; choice `05 METHOD` (0xFF: none
//!   acceptable); request `05 CMD 00 ATYP ADDR PORT` (CMD 1 connect, 2 bind, 3 UDP
//!   associate; ATYP 1 IPv4, 3 domain name, 4 IPv6); reply `05 REP 00 ATYP ADDR PORT`
//!   (REP 0 succeeded … 8).
//! - RFC 1929: `01 ULEN UNAME PLEN PASSWD` answered by `01 STATUS` (0: success).
//! - SOCKS4: `04 CMD PORT IPv4 USERID 00` (CMD 1 connect, 2 bind; 4a: IPv4 0.0.0.x followed
//!   by `HOST 00`), answered by 8 bytes `00 5A..5D PORT IPv4` (0x5A granted).

use crate::step::{Layer, Reason, Step};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest SOCKS4 user id / 4a host name accepted.
pub const MAX_SOCKS4_FIELD: usize = 255;
/// Length of a SOCKS4 reply.
pub const SOCKS4_REPLY_LEN: usize = 8;
/// SOCKS4 reply codes: granted, then the refusals.
pub const SOCKS4_GRANTED: u8 = 0x5A;
/// Last SOCKS4 reply code.
const SOCKS4_LAST_REPLY: u8 = 0x5D;
/// Largest SOCKS5 reply code (address type not supported).
pub const SOCKS5_LAST_REPLY: u8 = 8;
/// SOCKS5 method: username/password (RFC 1929).
pub const METHOD_USER_PASSWORD: u8 = 2;
/// SOCKS5 method choice: no acceptable method.
pub const METHOD_NONE_ACCEPTABLE: u8 = 0xFF;
/// Version byte of the RFC 1929 sub-negotiation.
const AUTH_VERSION: u8 = 1;

/// A parsed SOCKS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks {
    /// 4 or 5.
    pub version: u8,
    /// 1 connect, 2 bind, 3 UDP associate (0: no request yet).
    pub command: u8,
    /// Requested destination `host:port` (empty: no request yet).
    pub target: String,
    /// SOCKS5 authentication method chosen (0 none, 2 username/password).
    pub auth_method: Option<u8>,
    /// Reply code (SOCKS5 0 = succeeded; SOCKS4 0x5A = granted), if the server answered.
    pub reply: Option<u8>,
    /// Where the tunnelled bytes start in the client's and the server's stream (after a
    /// successful reply).
    pub inner: Option<(usize, usize)>,
}

impl Socks {
    /// A SOCKS5 handshake that stopped before a request.
    fn no_request(auth_method: Option<u8>) -> Socks {
        Socks { version: 5, command: 0, target: String::new(), auth_method, reply: None, inner: None }
    }
}

fn bad<T>(offset: usize, reason: Reason) -> Step<T> {
    Step::invalid(Layer::Socks, offset, reason)
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
                return bad(i + 1, Reason::BadLength);
            }
            match b.get(i + 2..i + 2 + usize::from(n)) {
                Some(h) if h.iter().all(|c| c.is_ascii_graphic()) => {
                    (String::from_utf8_lossy(h).into_owned(), 1 + usize::from(n))
                }
                Some(_) => return bad(i + 2, Reason::BadValue),
                None => return Step::Incomplete,
            }
        }
        4 => match b.get(i + 1..i + 17).and_then(|a| <[u8; 16]>::try_from(a).ok()) {
            Some(a) => (format!("[{}]", Ipv6Addr::from(a)), 16),
            None => return Step::Incomplete,
        },
        _ => return bad(i, Reason::BadType),
    };
    match u16_at(b, i + 1 + len) {
        Some(port) => Step::Done((format!("{host}:{port}"), 1 + len + 2)),
        None => Step::Incomplete,
    }
}

/// A NUL-terminated field at `b[i..]`: (bytes, bytes used with the NUL).
fn cstr(b: &[u8], i: usize) -> Step<(&[u8], usize)> {
    let rest = b.get(i..).unwrap_or_default();
    match rest.iter().take(MAX_SOCKS4_FIELD + 1).position(|&c| c == 0) {
        Some(n) => Step::Done((rest.get(..n).unwrap_or_default(), n + 1)),
        None if rest.len() > MAX_SOCKS4_FIELD => bad(i, Reason::OverLimit),
        None => Step::Incomplete,
    }
}

macro_rules! step {
    ($e:expr) => {
        match $e {
            Step::Done(v) => v,
            Step::Incomplete => return Step::Incomplete,
            Step::Invalid(a) => return Step::Invalid(a),
        }
    };
}

/// SOCKS4/4a: the request, then the 8-byte reply.
fn parse4(c: &[u8], s: &[u8]) -> Step<Socks> {
    let command = *c.get(1).unwrap_or(&0);
    if c.len() >= 2 && !matches!(command, 1 | 2) {
        return bad(1, Reason::BadType);
    }
    let (Some(port), Some(&[i0, i1, i2, i3])) = (u16_at(c, 2), c.get(4..8)) else { return Step::Incomplete };
    let (_user, ulen) = step!(cstr(c, 8));
    let mut used = 8 + ulen;
    let mut host = Ipv4Addr::new(i0, i1, i2, i3).to_string();
    if i0 == 0 && i1 == 0 && i2 == 0 && i3 != 0 {
        let (h, hlen) = step!(cstr(c, used));
        if h.is_empty() || !h.iter().all(|b| b.is_ascii_graphic()) {
            return bad(used, Reason::BadValue);
        }
        host = String::from_utf8_lossy(h).into_owned();
        used += hlen;
    }
    let mut out =
        Socks { version: 4, command, target: format!("{host}:{port}"), auth_method: None, reply: None, inner: None };
    match s.get(..SOCKS4_REPLY_LEN) {
        None if s.is_empty() => {}
        None => return Step::Incomplete,
        Some(r) => {
            let (Some(&0), Some(&code)) = (r.first(), r.get(1)) else { return bad(0, Reason::BadVersion) };
            if !(SOCKS4_GRANTED..=SOCKS4_LAST_REPLY).contains(&code) {
                return bad(1, Reason::BadValue);
            }
            out.reply = Some(code);
            if code == SOCKS4_GRANTED {
                out.inner = Some((used, SOCKS4_REPLY_LEN));
            }
        }
    }
    Step::Done(out)
}

/// SOCKS5 greeting: the offered methods and the bytes used.
fn greeting5(c: &[u8]) -> Step<(&[u8], usize)> {
    let Some(&n) = c.get(1) else { return Step::Incomplete };
    if n == 0 {
        return bad(1, Reason::BadValue);
    }
    match c.get(2..2 + usize::from(n)) {
        Some(m) => Step::Done((m, 2 + usize::from(n))),
        None => Step::Incomplete,
    }
}

/// SOCKS5 method choice: one of the offered methods, or none acceptable (`None`: the server
/// has said nothing).
fn choice5(s: &[u8], methods: &[u8]) -> Step<Option<u8>> {
    match s.get(..2) {
        Some([5, m]) if *m == METHOD_NONE_ACCEPTABLE || methods.contains(m) => Step::Done(Some(*m)),
        Some([5, _]) => bad(1, Reason::Inconsistent),
        Some(_) => bad(0, Reason::BadVersion),
        None if s.is_empty() => Step::Done(None),
        None => Step::Incomplete,
    }
}

/// RFC 1929 sub-negotiation after the greeting (client at `ci`, server at `si`): the offsets
/// after it, or `None` when the server refused the credentials.
fn user_password(c: &[u8], ci: usize, s: &[u8], si: usize) -> Step<Option<(usize, usize)>> {
    match c.get(ci) {
        Some(&AUTH_VERSION) => {}
        Some(_) => return bad(ci, Reason::BadVersion),
        None => return Step::Incomplete,
    }
    let Some(&ulen) = c.get(ci + 1) else { return Step::Incomplete };
    let Some(&plen) = c.get(ci + 2 + usize::from(ulen)) else { return Step::Incomplete };
    let ci = ci + 3 + usize::from(ulen) + usize::from(plen);
    match s.get(si..si + 2) {
        Some([AUTH_VERSION, 0]) => Step::Done(Some((ci, si + 2))),
        Some([AUTH_VERSION, _]) => Step::Done(None),
        Some(_) => bad(si, Reason::BadVersion),
        None => Step::Incomplete,
    }
}

/// SOCKS5 request or reply head at `b[i..]`: `05 CODE 00`, the code checked by `code_ok`
/// (`reason` if not), then the address. Returns (code, address text, bytes used).
fn message5(b: &[u8], i: usize, code_ok: fn(u8) -> bool, reason: Reason) -> Step<(u8, String, usize)> {
    match b.get(i..i + 3) {
        Some([5, code, 0]) if code_ok(*code) => {
            let code = *code;
            let (addr, alen) = step!(address(b, i + 3));
            Step::Done((code, addr, 3 + alen))
        }
        Some([5, code, _]) if code_ok(*code) => bad(i + 2, Reason::BadValue),
        Some([5, ..]) => bad(i + 1, reason),
        Some(_) => bad(i, Reason::BadVersion),
        None => Step::Incomplete,
    }
}

/// SOCKS5: greeting, method choice, optional username/password, request, reply.
fn parse5(c: &[u8], s: &[u8]) -> Step<Socks> {
    let (methods, mut ci) = step!(greeting5(c));
    // Without the server we can only check the greeting (and a pipelined request).
    if s.is_empty() && c.len() == ci {
        return Step::Done(Socks::no_request(None));
    }
    let chosen = step!(choice5(s, methods));
    let mut si = 2;
    if chosen == Some(METHOD_NONE_ACCEPTABLE) {
        return Step::Done(Socks::no_request(chosen));
    }
    if chosen == Some(METHOD_USER_PASSWORD) {
        match step!(user_password(c, ci, s, si)) {
            Some((c_after, s_after)) => (ci, si) = (c_after, s_after),
            None => return Step::Done(Socks::no_request(chosen)),
        }
    }
    let (command, target, used) = step!(message5(c, ci, |cmd| (1..=3).contains(&cmd), Reason::BadType));
    ci += used;
    let mut out = Socks { version: 5, command, target, auth_method: chosen, reply: None, inner: None };
    if chosen.is_none() {
        return Step::Done(out);
    }
    let (rep, _bound, used) = step!(message5(s, si, |rep| rep <= SOCKS5_LAST_REPLY, Reason::BadValue));
    out.reply = Some(rep);
    if rep == 0 {
        out.inner = Some((ci, si + used));
    }
    Step::Done(out)
}

/// Parses a SOCKS handshake from the client's (`c`) and server's (`s`) stream prefixes.
pub fn parse(c: &[u8], s: &[u8]) -> Step<Socks> {
    match c.first() {
        Some(4) => parse4(c, s),
        Some(5) => parse5(c, s),
        Some(_) => bad(0, Reason::BadVersion),
        None => Step::Incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // SOCKS5 no-auth connect to www.example.org:80, then HTTP (RFC 1928 §3–§6 layouts, as
    // curl --socks5-hostname sends them).
    const C5: &[u8] = b"\x05\x01\x00\x05\x01\x00\x03\x0fwww.example.org\x00\x50GET / HTTP/1.1\r\n";
    const S5: &[u8] = b"\x05\x00\x05\x00\x00\x01\xc0\x00\x02\x01\x04\x38HTTP/1.1 200 OK\r\n";
    /// Where the request (client) and the reply (server) start in C5/S5.
    const C5_REQUEST: usize = 3;
    const S5_REPLY: usize = 2;

    #[test]
    fn socks5_connect_and_inner_offsets() {
        let Step::Done(s) = parse(C5, S5) else { panic!() };
        assert_eq!((s.version, s.command, s.target.as_str(), s.reply), (5, 1, "www.example.org:80", Some(0)));
        let (ci, si) = s.inner.unwrap();
        assert!(C5[ci..].starts_with(b"GET /"));
        assert!(S5[si..].starts_with(b"HTTP/1.1"));
        // The greeting alone; no acceptable method.
        assert_eq!(parse(&C5[..3], b""), Step::Done(Socks::no_request(None)));
        assert_eq!(parse(&C5[..3], b"\x05\xff"), Step::Done(Socks::no_request(Some(METHOD_NONE_ACCEPTABLE))));
    }

    #[test]
    fn socks5_user_password_and_ipv6() {
        let c = b"\x05\x02\x00\x02\x01\x04user\x04pass\x05\x01\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x16SSH-2.0-x\r\n";
        let s = b"\x05\x02\x01\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00SSH-2.0-y\r\n";
        let Step::Done(k) = parse(c, s) else { panic!() };
        assert_eq!((k.auth_method, k.target.as_str()), (Some(2), "[2001:db8::1]:22"));
        let (ci, si) = k.inner.unwrap();
        assert_eq!((&c[ci..ci + 4], &s[si..si + 4]), (&b"SSH-"[..], &b"SSH-"[..]));
        // Credentials refused: decided, no request.
        assert_eq!(parse(c, b"\x05\x02\x01\x01"), Step::Done(Socks::no_request(Some(METHOD_USER_PASSWORD))));
    }

    #[test]
    fn socks4a() {
        let c = b"\x04\x01\x00\x16\x00\x00\x00\x01bob\x00host.example\x00SSH-2.0-x\r\n";
        let s = b"\x00\x5a\x00\x00\x00\x00\x00\x00SSH-2.0-y\r\n";
        let Step::Done(k) = parse(c, s) else { panic!() };
        assert_eq!((k.version, k.target.as_str(), k.reply), (4, "host.example:22", Some(0x5a)));
        assert!(c[k.inner.unwrap().0..].starts_with(b"SSH-"));
        let Step::Done(k) = parse(b"\x04\x01\x00\x50\x01\x02\x03\x04\x00", b"") else { panic!() };
        assert_eq!((k.target.as_str(), k.reply), ("1.2.3.4:80", None));
    }

    #[test]
    fn truncation_sweep() {
        // Every cut of either side is Incomplete or Done, never a contradiction; a whole client
        // side with a cut server side is never Done with a reply.
        for len in 0..=C5.len() {
            for slen in 0..=S5.len() {
                let got = parse(&C5[..len], &S5[..slen]);
                assert!(!got.is_invalid(), "{len} {slen}");
                if slen < 12 {
                    assert!(got.done().is_none_or(|s| s.reply.is_none()), "{len} {slen}");
                }
            }
        }
        let c4 = b"\x04\x01\x00\x16\x00\x00\x00\x01bob\x00host.example\x00";
        for len in 0..c4.len() {
            assert_eq!(parse(&c4[..len], b""), Step::Incomplete, "{len}");
        }
    }

    #[test]
    fn hostile_lengths() {
        // SOCKS4 user id or 4a host without terminator beyond the limit.
        let mut long = b"\x04\x01\x00\x50\x01\x02\x03\x04".to_vec();
        long.extend(std::iter::repeat_n(b'a', 400));
        assert_eq!(parse(&long, b""), bad(8, Reason::OverLimit));
        let mut long = b"\x04\x01\x00\x50\x00\x00\x00\x01u\x00".to_vec();
        long.extend(std::iter::repeat_n(b'h', MAX_SOCKS4_FIELD + 1));
        assert_eq!(parse(&long, b""), bad(10, Reason::OverLimit));
        // 255 methods, a 255-byte user name and password claimed on a short input: waits.
        assert_eq!(parse(b"\x05\xff\x00", b""), Step::Incomplete);
        assert_eq!(parse(b"\x05\x01\x02\x01\xff", b"\x05\x02\x01\x00"), Step::Incomplete);
        // A domain name claiming 255 bytes that are not there.
        assert_eq!(parse(b"\x05\x01\x00\x05\x01\x00\x03\xffab", b"\x05\x00"), Step::Incomplete);
    }

    #[test]
    fn exact_anomalies() {
        assert_eq!(parse(b"\x06", b""), bad(0, Reason::BadVersion));
        // SOCKS4: command, 4a host, reply version and code.
        assert_eq!(parse(b"\x04\x03", b""), bad(1, Reason::BadType));
        assert_eq!(parse(b"\x04\x01\x00\x50\x00\x00\x00\x01u\x00\x00", b""), bad(10, Reason::BadValue));
        let c4 = b"\x04\x01\x00\x50\x01\x02\x03\x04\x00";
        assert_eq!(parse(c4, b"\x01\x5a\0\0\0\0\0\0"), bad(0, Reason::BadVersion));
        assert_eq!(parse(c4, b"\x00\x5e\0\0\0\0\0\0"), bad(1, Reason::BadValue));
        // SOCKS5 greeting and choice.
        assert_eq!(parse(b"\x05\x00", b""), bad(1, Reason::BadValue));
        assert_eq!(parse(b"\x05\x01\x00", b"\x05\x02"), bad(1, Reason::Inconsistent));
        assert_eq!(parse(b"\x05\x01\x00", b"\x04\x00"), bad(0, Reason::BadVersion));
        // RFC 1929: client and server versions.
        assert_eq!(parse(b"\x05\x01\x02\x05", b"\x05\x02"), bad(3, Reason::BadVersion));
        assert_eq!(parse(b"\x05\x01\x02\x01\x01u\x01p", b"\x05\x02\x05\x00"), bad(2, Reason::BadVersion));
        // The request: version, command, reserved byte, address type, empty name, bad name.
        let at = |i: usize, reason| bad(C5_REQUEST + i, reason);
        let with = |i: usize, v: u8| {
            let mut c = C5.to_vec();
            c[C5_REQUEST + i] = v;
            parse(&c, S5)
        };
        assert_eq!(with(0, 4), at(0, Reason::BadVersion));
        assert_eq!(with(1, 9), at(1, Reason::BadType));
        assert_eq!(with(2, 1), at(2, Reason::BadValue));
        assert_eq!(with(3, 2), at(3, Reason::BadType));
        assert_eq!(with(4, 0), at(4, Reason::BadLength));
        assert_eq!(with(5, b' '), at(5, Reason::BadValue));
        // The reply: version, code, reserved byte, address type (offsets in the server's bytes).
        let with = |i: usize, v: u8| {
            let mut s = S5.to_vec();
            s[S5_REPLY + i] = v;
            parse(C5, &s)
        };
        assert_eq!(with(0, 1), bad(S5_REPLY, Reason::BadVersion));
        assert_eq!(with(1, 9), bad(S5_REPLY + 1, Reason::BadValue));
        assert_eq!(with(2, 1), bad(S5_REPLY + 2, Reason::BadValue));
        assert_eq!(with(3, 7), bad(S5_REPLY + 3, Reason::BadType));
    }
}
