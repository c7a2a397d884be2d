//! HTTP/1 request and response head parser: the fields that name a destination or a tunnel
//! (Host, User-Agent, CONNECT, Upgrade, Proxy-Authorization).
//!
//! # Contract
//! - [`probe`] tests whether a TCP stream starts like an HTTP/1 request; [`request`] and
//!   [`response`] parse the first message head (start line and header fields, up to the empty
//!   line) of a client or server stream.
//! - `Incomplete` while the head is consistent but unfinished; `Invalid` as soon as a
//!   complete line contradicts the grammar or the head exceeds [`MAX_HEAD_LEN`] bytes (or
//!   [`MAX_FIELDS`] fields) without ending. Bodies are not read.
//! - Pure, panic-free, zero-copy while scanning: only the returned summary allocates (the
//!   method, target and the few field values it keeps).
//! - Field names are matched case-insensitively; field values are kept as sent (trimmed of
//!   surrounding whitespace), except Host which is lower-cased. Values that are not UTF-8
//!   are converted lossily.
//!
//! # Facts used
//! - RFC 9112 §2.1–§2.2: a message head is a start line and header field lines, each ending
//!   in CRLF, then an empty line; a recipient may accept a lone LF as a line terminator
//!   (accepted here); a bare CR elsewhere is invalid.
//! - RFC 9112 §3: request-line = method SP request-target SP HTTP-version; §4: status-line =
//!   HTTP-version SP 3-digit status-code SP [reason-phrase] (the final SP is tolerated when
//!   missing). HTTP-version = `HTTP/1.0` or `HTTP/1.1` here.
//! - RFC 9110 §9: the methods GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, and
//!   PATCH (RFC 5789); §15: status codes are 100–599.
//! - RFC 9110 §5.1, §5.6.2: a field name is a token (tchar), case-insensitive; RFC 9112 §5.1:
//!   no whitespace is allowed between the name and the colon; §5.2: obsolete line folding
//!   (a field line starting with SP or HTAB) is rejected here. RFC 9110 §5.5: field values
//!   must not contain CR, LF or NUL.
//! - RFC 9112 §3.2: a request with more than one Host field is invalid. A request's field
//!   line of printable text with no colon at all is skipped and counted
//!   ([`Request::malformed_fields`]): a server may refuse it, but proxies in the field
//!   accept it, and a sensor must see what they let through.
//! - RFC 9110 §8.6: Content-Length; two different values make a response invalid.
//! - RFC 9110 §7.8: Upgrade (e.g. `websocket`, RFC 6455) with `Connection: Upgrade`, answered
//!   by `101 Switching Protocols`; §9.3.6: CONNECT's target is `host:port` and a 2xx answer
//!   turns the connection into a tunnel; §11.7.2: Proxy-Authorization carries credentials for
//!   a proxy.

use crate::step::{Layer, Reason, Step};
use serde::Serialize;

/// Longest message head (start line, fields and the empty line) accepted.
pub const MAX_HEAD_LEN: usize = 8 * 1024;
/// Most header field lines accepted in one head.
pub const MAX_FIELDS: usize = 128;
/// Request methods recognised by [`probe`] and [`request`].
pub const METHODS: [&str; 9] = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE"];
/// Lowest valid status code (RFC 9110 §15).
const MIN_STATUS: u16 = 100;
/// Highest valid status code (RFC 9110 §15).
const MAX_STATUS: u16 = 599;
/// `HTTP/1.` — the part of the version both directions share.
const VERSION_PREFIX: &[u8] = b"HTTP/1.";
/// Length of `HTTP/1.x`.
const VERSION_LEN: usize = 8;
/// Digits in a status code.
const STATUS_DIGITS: usize = 3;

/// The head of an HTTP/1 request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// Method (one of [`METHODS`]).
    pub method: String,
    /// Request target as sent: origin-form path, absolute-form URI (to a proxy),
    /// authority-form `host:port` (CONNECT) or `*`.
    pub target: String,
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Host field, lower-cased.
    pub host: Option<String>,
    /// User-Agent field.
    pub user_agent: Option<String>,
    /// Upgrade field (e.g. `websocket`).
    pub upgrade: Option<String>,
    /// Connection field (e.g. `Upgrade`, `keep-alive`).
    pub connection: Option<String>,
    /// A Proxy-Authorization field is present (its value is not kept).
    pub proxy_authorization: bool,
    /// Bytes of the head, the terminating empty line included (where the body starts).
    pub head_len: usize,
    /// Field lines of printable text without a colon, skipped (RFC 9112 §5 lets a server
    /// refuse them; proxies in the field accept them, and what they did next is what counts).
    pub malformed_fields: usize,
}

/// The head of an HTTP/1 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    /// Status code (100–599).
    pub status: u16,
    /// Upgrade field (e.g. `websocket` in a 101 answer).
    pub upgrade: Option<String>,
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Server field.
    pub server: Option<String>,
    /// Bytes of the head, the terminating empty line included.
    pub head_len: usize,
    /// Content-Length field, when present and a number (where the next response starts).
    pub content_length: Option<usize>,
}

/// Whether `stream` starts with one of [`METHODS`] followed by a space.
pub fn probe(stream: &[u8]) -> bool {
    method_of(stream).is_some()
}

/// The method at the start of `stream` when it is followed by a space.
fn method_of(stream: &[u8]) -> Option<&'static str> {
    METHODS.into_iter().find(|m| stream.strip_prefix(m.as_bytes()).is_some_and(|rest| rest.first() == Some(&b' ')))
}

/// Whether `stream` (shorter than any complete "METHOD ") can still become one.
fn method_prefix_possible(stream: &[u8]) -> bool {
    METHODS.into_iter().any(|m| {
        let full = m.as_bytes();
        match stream.split_last() {
            // All but a trailing space must be a prefix of the method; a space only after it.
            Some((&b' ', head)) => head == full,
            _ => full.starts_with(stream),
        }
    })
}

/// Parses the head of the first request of a client stream.
pub fn request(stream: &[u8]) -> Step<Request> {
    let Some(method) = method_of(stream) else {
        return if method_prefix_possible(stream) {
            Step::Incomplete
        } else {
            Step::invalid(Layer::Http, 0, Reason::BadType)
        };
    };
    let mut lines = Lines::new(stream);
    let line = match lines.next_line() {
        Step::Done(l) => l,
        Step::Incomplete => {
            // The request line is not finished; what there is must still be plausible.
            let partial = lines.window;
            return if partial.iter().all(|&b| b == b'\r' || !b.is_ascii_control()) {
                Step::Incomplete
            } else {
                Step::invalid(Layer::Http, 0, Reason::BadValue)
            };
        }
        Step::Invalid(a) => return Step::Invalid(a),
    };
    let Some((target, version)) = request_line(line, method.len()) else {
        return Step::invalid(Layer::Http, 0, Reason::BadValue);
    };
    let mut req = Request {
        method: method.to_owned(),
        target: String::from_utf8_lossy(target).into_owned(),
        version,
        host: None,
        user_agent: None,
        upgrade: None,
        connection: None,
        proxy_authorization: false,
        head_len: 0,
        malformed_fields: 0,
    };
    let mut malformed = 0usize;
    let fields = lines.fields(&mut malformed, |name, value| {
        if name.eq_ignore_ascii_case(b"host") {
            if req.host.is_some() {
                return false;
            }
            req.host = Some(String::from_utf8_lossy(value).to_ascii_lowercase());
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            req.user_agent.get_or_insert_with(|| lossy(value));
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            req.upgrade.get_or_insert_with(|| lossy(value));
        } else if name.eq_ignore_ascii_case(b"connection") {
            req.connection.get_or_insert_with(|| lossy(value));
        } else if name.eq_ignore_ascii_case(b"proxy-authorization") {
            req.proxy_authorization = true;
        }
        true
    });
    match fields {
        Step::Done(head_len) => {
            req.head_len = head_len;
            req.malformed_fields = malformed;
            Step::Done(req)
        }
        Step::Incomplete => Step::Incomplete,
        Step::Invalid(a) => Step::Invalid(a),
    }
}

/// Parses the head of the first response of a server stream.
pub fn response(stream: &[u8]) -> Step<Response> {
    let common = stream.len().min(VERSION_PREFIX.len());
    if stream.get(..common) != VERSION_PREFIX.get(..common) {
        return Step::invalid(Layer::Http, 0, Reason::BadMagic);
    }
    let mut lines = Lines::new(stream);
    let line = match lines.next_line() {
        Step::Done(l) => l,
        Step::Incomplete => {
            return match lines.window.get(..VERSION_LEN) {
                Some(v) if version_of(v).is_none() => Step::invalid(Layer::Http, 0, Reason::BadVersion),
                _ => Step::Incomplete,
            };
        }
        Step::Invalid(a) => return Step::Invalid(a),
    };
    let Some((version, status)) = status_line(line) else {
        return Step::invalid(Layer::Http, 0, Reason::BadValue);
    };
    let mut resp = Response { status, upgrade: None, version, server: None, head_len: 0, content_length: None };
    // A response is the server's own framing: a malformed field line there is an error.
    let mut malformed = 0usize;
    let fields = lines.fields(&mut malformed, |name, value| {
        if name.eq_ignore_ascii_case(b"upgrade") {
            resp.upgrade.get_or_insert_with(|| lossy(value));
        } else if name.eq_ignore_ascii_case(b"server") {
            resp.server.get_or_insert_with(|| lossy(value));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value).ok().and_then(|v| v.parse::<usize>().ok());
            if resp.content_length.is_some() && resp.content_length != n {
                return false;
            }
            resp.content_length = n;
        }
        true
    });
    if malformed > 0 {
        return Step::invalid(Layer::Http, 0, Reason::BadValue);
    }
    match fields {
        Step::Done(head_len) => {
            resp.head_len = head_len;
            Step::Done(resp)
        }
        Step::Incomplete => Step::Incomplete,
        Step::Invalid(a) => Step::Invalid(a),
    }
}

fn lossy(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// `HTTP/1.0` → 0, `HTTP/1.1` → 1.
fn version_of(v: &[u8]) -> Option<u8> {
    match v.strip_prefix(VERSION_PREFIX)? {
        b"0" => Some(0),
        b"1" => Some(1),
        _ => None,
    }
}

/// Splits a request line after its method: returns the target and the minor version.
fn request_line(line: &[u8], method_len: usize) -> Option<(&[u8], u8)> {
    // method_len is followed by the space `method_of` checked.
    let rest = line.get(method_len + 1..)?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let (target, version) = (rest.get(..sp)?, rest.get(sp + 1..)?);
    if target.is_empty() || !target.iter().all(|&b| b > b' ' && b != 0x7f) {
        return None;
    }
    Some((target, version_of(version)?))
}

/// Parses a status line: minor version and status code.
fn status_line(line: &[u8]) -> Option<(u8, u16)> {
    let version = version_of(line.get(..VERSION_LEN)?)?;
    let rest = line.get(VERSION_LEN..)?.strip_prefix(b" ")?;
    let digits = rest.get(..STATUS_DIGITS)?;
    let mut status = 0u16;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        status = status * 10 + u16::from(d - b'0');
    }
    if !(MIN_STATUS..=MAX_STATUS).contains(&status) {
        return None;
    }
    let reason = rest.get(STATUS_DIGITS..)?;
    match reason.split_first() {
        None => {}
        Some((&b' ', phrase)) if phrase.iter().all(|&b| b == b'\t' || !b.is_ascii_control()) => {}
        Some(_) => return None,
    }
    Some((version, status))
}

/// RFC 9110 §5.6.2 tchar.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Line iterator over the first [`MAX_HEAD_LEN`] bytes of a stream.
struct Lines<'a> {
    /// The part of the head window not yet consumed.
    window: &'a [u8],
    /// Bytes consumed so far.
    used: usize,
    /// The stream is longer than the window: running out means the head is too long.
    capped: bool,
}

impl<'a> Lines<'a> {
    fn new(stream: &'a [u8]) -> Self {
        let capped = stream.len() >= MAX_HEAD_LEN;
        let window = stream.get(..MAX_HEAD_LEN).unwrap_or(stream);
        Self { window, used: 0, capped }
    }

    /// The next line without its CR LF (or LF). A CR elsewhere than before the LF is
    /// invalid.
    fn next_line(&mut self) -> Step<&'a [u8]> {
        let Some(lf) = self.window.iter().position(|&b| b == b'\n') else {
            return if self.capped {
                Step::invalid(Layer::Http, self.used, Reason::OverLimit)
            } else {
                Step::Incomplete
            };
        };
        let (Some(line), Some(rest)) = (self.window.get(..lf), self.window.get(lf + 1..)) else {
            return Step::invalid(Layer::Http, self.used, Reason::Truncated);
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.contains(&b'\r') {
            return Step::invalid(Layer::Http, self.used, Reason::BadValue);
        }
        self.window = rest;
        self.used += lf + 1;
        Step::Done(line)
    }

    /// Reads field lines up to the empty line, passing each name and trimmed value to
    /// `field` (which answers `false` to reject the head). A line of printable text without
    /// a colon is skipped and counted in `malformed`; any other bad line rejects the head.
    /// Returns the head length.
    fn fields(&mut self, malformed: &mut usize, mut field: impl FnMut(&[u8], &[u8]) -> bool) -> Step<usize> {
        for _ in 0..=MAX_FIELDS {
            let line = match self.next_line() {
                Step::Done(l) => l,
                Step::Incomplete => return Step::Incomplete,
                Step::Invalid(a) => return Step::Invalid(a),
            };
            if line.is_empty() {
                return Step::Done(self.used);
            }
            let at = self.used.saturating_sub(line.len() + 1);
            let Some((name, value)) = field_line(line) else {
                let text = line.first().is_some_and(|&b| b != b' ' && b != b'\t')
                    && line.iter().all(|&b| b == b'\t' || !b.is_ascii_control());
                if text && !line.contains(&b':') {
                    *malformed += 1;
                    continue;
                }
                return Step::invalid(Layer::Http, at, Reason::BadValue);
            };
            if !field(name, value) {
                return Step::invalid(Layer::Http, at, Reason::Inconsistent);
            }
        }
        Step::invalid(Layer::Http, self.used, Reason::OverLimit)
    }
}

/// Splits and validates one field line: `name ":" OWS value OWS`.
fn field_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?;
    // Also rejects obs-fold (a line starting with SP/HTAB) and space before the colon.
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let value = line.get(colon + 1..)?.trim_ascii();
    if value.iter().any(|&b| b != b'\t' && b.is_ascii_control()) {
        return None;
    }
    Some((name, value))
}

#[cfg(test)]
mod tests {
    //! Fixtures recorded on loopback (`tcpdump -i lo tcp port 8088`, payloads extracted with
    //! `tshark -e tcp.payload`): a small Python `http.server.BaseHTTPRequestHandler` server
    //! on 127.0.0.1:8088 answering GET with 200, CONNECT with `200 Connection established`
    //! and a WebSocket upgrade with 101; requests made with curl 7.88.1:
    //! `curl -A "farhand-test/1.0 (loopback)" http://127.0.0.1:8088/index.html?q=1`,
    //! `curl -p -x http://user:secret@127.0.0.1:8088 http://example.test:443/` and
    //! `curl -H 'Upgrade: websocket' -H 'Connection: Upgrade' -H 'Sec-WebSocket-Key: …'
    //! -H 'Sec-WebSocket-Version: 13' http://127.0.0.1:8088/chat`.
    use super::*;

    const GET: &[u8] = b"GET /index.html?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nUser-Agent: farhand-test/1.0 (loopback)\r\nAccept: */*\r\n\r\n";
    const GET_200: &[u8] = b"HTTP/1.1 200 OK\r\nServer: BaseHTTP/0.6 Python/3.11.7\r\nDate: Tue, 24 Nov 2026 23:24:13 GMT\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n";
    const CONNECT: &[u8] = b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\nProxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\nUser-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n";
    const CONNECT_200: &[u8] = b"HTTP/1.1 200 Connection established\r\nServer: BaseHTTP/0.6 Python/3.11.7\r\nDate: Tue, 24 Nov 2026 23:24:13 GMT\r\n\r\n";
    const TUNNELLED_GET: &[u8] =
        b"GET / HTTP/1.1\r\nHost: example.test:443\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    const WS: &[u8] = b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const WS_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nServer: BaseHTTP/0.6 Python/3.11.7\r\nDate: Tue, 24 Nov 2026 23:24:13 GMT\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    fn done<T>(s: Step<T>) -> T {
        match s {
            Step::Done(t) => t,
            Step::Incomplete => panic!("incomplete"),
            Step::Invalid(a) => panic!("invalid: {a}"),
        }
    }

    #[test]
    fn get_with_user_agent() {
        assert!(probe(GET));
        let r = done(request(GET));
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/index.html?q=1");
        assert_eq!(r.version, 1);
        assert_eq!(r.host.as_deref(), Some("127.0.0.1:8088"));
        assert_eq!(r.user_agent.as_deref(), Some("farhand-test/1.0 (loopback)"));
        assert_eq!(r.upgrade, None);
        assert!(!r.proxy_authorization);
        assert_eq!(r.head_len, GET.len());
        let s = done(response(GET_200));
        assert_eq!((s.status, s.version, s.upgrade), (200, 1, None));
        assert_eq!(s.server.as_deref(), Some("BaseHTTP/0.6 Python/3.11.7"));
        assert_eq!(&GET_200[s.head_len..], b"hello\n");
    }

    #[test]
    fn connect_through_proxy() {
        let r = done(request(CONNECT));
        assert_eq!(r.method, "CONNECT");
        assert_eq!(r.target, "example.test:443");
        assert_eq!(r.host.as_deref(), Some("example.test:443"));
        assert!(r.proxy_authorization);
        assert_eq!(r.user_agent.as_deref(), Some("curl/7.88.1"));
        assert_eq!(done(response(CONNECT_200)).status, 200);
        // The tunnelled bytes follow the CONNECT head on the same stream.
        let mut stream = CONNECT.to_vec();
        stream.extend_from_slice(TUNNELLED_GET);
        let r = done(request(&stream));
        assert_eq!(&stream[r.head_len..], TUNNELLED_GET);
    }

    #[test]
    fn websocket_upgrade() {
        let r = done(request(WS));
        assert_eq!(r.target, "/chat");
        assert_eq!(r.upgrade.as_deref(), Some("websocket"));
        assert_eq!(r.connection.as_deref(), Some("Upgrade"));
        let s = done(response(WS_101));
        assert_eq!(s.status, 101);
        assert_eq!(s.upgrade.as_deref(), Some("websocket"));
    }

    #[test]
    fn every_prefix_is_incomplete() {
        for m in [GET, CONNECT, TUNNELLED_GET, WS] {
            for n in 0..m.len() {
                assert_eq!(request(&m[..n]), Step::Incomplete, "{n}: {:?}", &m[..n]);
            }
        }
        for m in [GET_200, CONNECT_200, WS_101] {
            let head = done(response(m)).head_len;
            for n in 0..head {
                assert_eq!(response(&m[..n]), Step::Incomplete, "{n}");
            }
        }
    }

    #[test]
    fn lf_only_line_ends() {
        let lf: Vec<u8> = GET.iter().copied().filter(|&b| b != b'\r').collect();
        let r = done(request(&lf));
        assert_eq!(r.user_agent.as_deref(), Some("farhand-test/1.0 (loopback)"));
        assert_eq!(r.head_len, lf.len());
        let lf: Vec<u8> = WS_101.iter().copied().filter(|&b| b != b'\r').collect();
        assert_eq!(done(response(&lf)).upgrade.as_deref(), Some("websocket"));
    }

    #[test]
    fn names_are_case_insensitive_and_values_trimmed() {
        let r = done(request(
            b"POST /x HTTP/1.0\r\nhOsT:\t Example.TEST \r\nUSER-AGENT:ua\r\nproxy-authorization: x\r\n\r\n",
        ));
        assert_eq!(r.version, 0);
        assert_eq!(r.host.as_deref(), Some("example.test"));
        assert_eq!(r.user_agent.as_deref(), Some("ua"));
        assert!(r.proxy_authorization);
    }

    #[test]
    fn grammar_violations_are_invalid() {
        for bad in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"[..], // obs-fold
            b"GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n",     // obs-fold
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",                // space before colon
            b"GET / HTTP/1.1\r\n: a\r\n\r\n",                     // empty name
            b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",                 // bare CR
            b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",               // NUL
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",      // two Hosts
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1 \r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET /a b HTTP/1.1\r\n\r\n",
            b"GET /\r\n\r\n", // HTTP/0.9
            b"get / HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GETX",
            b"\x16\x03\x01\x02\x00\x01",
            b"SSH-2.0-OpenSSH_9.2\r\n",
        ] {
            assert!(request(bad).is_invalid(), "{:?}", String::from_utf8_lossy(bad));
        }
        // A request's field line of text without a colon is skipped and counted (proxies
        // accept it); in a response it is an error.
        let r = done(request(b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\nno colon\r\nUser-Agent: x\r\n\r\n"));
        assert_eq!(
            (r.malformed_fields, r.host.as_deref(), r.user_agent.as_deref()),
            (1, Some("a.test:443"), Some("x"))
        );
        assert_eq!(done(request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")).malformed_fields, 0);
        assert!(response(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_invalid());
        // Garbage in an unfinished request line is caught early.
        assert!(request(b"GET /\x01").is_invalid());
        for bad in [
            &b"HTTP/1.1 99 Low\r\n\r\n"[..],
            b"HTTP/1.1 600 High\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 20x OK\r\n\r\n",
            b"HTTP/1.2 200 OK\r\n\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA b: c\r\n\r\n",
            b"RTSP/1.0 200 OK\r\n\r\n",
            b"SSH-2.0-x\r\n",
        ] {
            assert!(response(bad).is_invalid(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(done(response(b"HTTP/1.1 204\r\n\r\n")).status, 204);
    }

    #[test]
    fn oversized_heads_are_invalid() {
        // 100 KB of header lines and no empty line: Invalid, scanning only the cap.
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        while big.len() < 100_000 {
            big.extend_from_slice(b"X-Filler: ");
            big.extend_from_slice(&[b'a'; 200]);
            big.extend_from_slice(b"\r\n");
        }
        assert_eq!(request(&big), Step::invalid(Layer::Http, 8072, Reason::OverLimit));
        // 100 KB in one line with no LF at all.
        let mut line = b"GET /".to_vec();
        line.resize(100_000, b'a');
        assert!(request(&line).is_invalid());
        let mut resp = b"HTTP/1.1 200 OK\r\n".to_vec();
        resp.resize(100_000, b'a');
        assert!(response(&resp).is_invalid());
        // Just under the cap and unfinished: still Incomplete.
        assert_eq!(request(&big[..MAX_HEAD_LEN - 1]), Step::Incomplete);
        // Too many (short) fields.
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..=MAX_FIELDS {
            many.extend_from_slice(b"A: b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert!(many.len() < MAX_HEAD_LEN);
        assert!(request(&many).is_invalid());
    }

    #[test]
    fn probe_methods() {
        for m in METHODS {
            assert!(probe(format!("{m} / HTTP/1.1\r\n").as_bytes()));
            assert!(!probe(m.as_bytes()));
        }
        for not in [
            &b""[..],
            b"GET",
            b"GET/",
            b"get / HTTP/1.1",
            b"PRI * HTTP/2.0",
            b"HTTP/1.1 200 OK",
            b"\x16\x03\x01",
            b"SSH-2.0-",
            b"RFB 003.008\n",
            b" GET /",
        ] {
            assert!(!probe(not), "{not:?}");
        }
        for r in [GET_200, CONNECT_200, WS_101] {
            assert!(!probe(r));
            assert!(request(r).is_invalid());
        }
    }
}
