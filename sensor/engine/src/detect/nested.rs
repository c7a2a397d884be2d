//! Nested handshakes: the protocol carried *inside* an HTTP CONNECT tunnel, a SOCKS
//! connection or a WebSocket, so that SSH over wstunnel or RDP through a proxy is reported
//! as SSH or RDP (with the wrapper), not just as "HTTP".
//!
//! # Contract
//! - [`unwrap`] looks at a TCP [`Exchange`] and, when it begins with a completed wrapper
//!   handshake, returns the inner byte streams of both directions ([`Inner`]):
//!   - HTTP CONNECT answered 2xx: the bytes after each head (RFC 9110 §9.3.6);
//!   - SOCKS4/5 with a success reply: the bytes after the reply
//!     ([`farhand_proto::socks`]);
//!   - WebSocket (an HTTP/1.1 Upgrade answered 101): the payloads of the data frames of
//!     each direction, unmasked and concatenated (RFC 6455 §5.2–5.3), control frames
//!     skipped.
//! - It copies at most [`MAX_INNER`] bytes per direction, never panics, and returns `None`
//!   for anything else (including a wrapper whose handshake is not complete yet).

use crate::detect::fingerprint::Exchange;
use farhand_model::tool::Transport;
use farhand_proto::Step;
use farhand_proto::http;
use farhand_proto::socks;

/// Most inner bytes kept per direction.
pub const MAX_INNER: usize = 4096;

/// The inner streams of a wrapped connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inner {
    /// `http_connect`, `socks` or `websocket`.
    pub wrapper: &'static str,
    /// The wrapper's target (CONNECT authority, SOCKS destination, WebSocket Host + path).
    pub target: String,
    /// Inner bytes from the client.
    pub orig: Vec<u8>,
    /// Inner bytes from the server.
    pub resp: Vec<u8>,
}

fn capped(b: &[u8]) -> Vec<u8> {
    b.get(..MAX_INNER.min(b.len())).unwrap_or_default().to_vec()
}

/// Payloads of the WebSocket data frames at the start of `b`, unmasked, up to
/// [`MAX_INNER`] bytes (a frame cut short contributes what is there).
pub fn websocket_payload(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < MAX_INNER {
        let (Some(&h0), Some(&h1)) = (b.get(i), b.get(i + 1)) else { break };
        let opcode = h0 & 0x0f;
        let masked = h1 & 0x80 != 0;
        let (len, mut j) = match h1 & 0x7f {
            126 => match b.get(i + 2..i + 4) {
                Some(&[x, y]) => (u64::from(u16::from_be_bytes([x, y])), i + 4),
                _ => break,
            },
            127 => match b.get(i + 2..i + 10).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                Some(a) => (u64::from_be_bytes(a), i + 10),
                None => break,
            },
            n => (u64::from(n), i + 2),
        };
        let mask = if masked {
            match b.get(j..j + 4) {
                Some(&[m0, m1, m2, m3]) => {
                    j += 4;
                    Some([m0, m1, m2, m3])
                }
                _ => break,
            }
        } else {
            None
        };
        // Reserved opcodes: not a WebSocket stream (stop).
        if !matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10) {
            break;
        }
        let avail = b.len().saturating_sub(j);
        let take = usize::try_from(len).unwrap_or(usize::MAX).min(avail);
        if matches!(opcode, 0..=2) {
            let room = MAX_INNER - out.len();
            for (k, byte) in b.get(j..j + take.min(room)).unwrap_or_default().iter().enumerate() {
                let m = mask.map_or(0, |m| m.get(k % 4).copied().unwrap_or(0));
                out.push(byte ^ m);
            }
        }
        if take < usize::try_from(len).unwrap_or(usize::MAX) {
            break;
        }
        i = j + take;
    }
    out
}

/// The inner streams of `ex`, if it starts with a completed wrapper handshake.
pub fn unwrap(ex: &Exchange<'_>) -> Option<Inner> {
    if ex.transport != Transport::Tcp {
        return None;
    }
    match ex.orig.first()? {
        4 | 5 => {
            let Step::Done(s) = socks::parse(ex.orig, ex.resp) else { return None };
            let (ci, si) = s.inner?;
            Some(Inner {
                wrapper: "socks",
                target: s.target,
                orig: capped(ex.orig.get(ci..)?),
                resp: capped(ex.resp.get(si..)?),
            })
        }
        _ if http::probe(ex.orig) => {
            let Step::Done(req) = http::request(ex.orig) else { return None };
            let Step::Done(resp) = http::response(ex.resp) else { return None };
            let co = ex.orig.get(req.head_len..)?;
            let so = ex.resp.get(resp.head_len..)?;
            if req.method == "CONNECT" && (200..300).contains(&resp.status) {
                return Some(Inner { wrapper: "http_connect", target: req.target, orig: capped(co), resp: capped(so) });
            }
            let ws = |u: &Option<String>| u.as_deref().is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
            if ws(&req.upgrade) && resp.status == 101 {
                let target = format!("{}{}", req.host.as_deref().unwrap_or(""), req.target);
                return Some(Inner {
                    wrapper: "websocket",
                    target,
                    orig: websocket_payload(co),
                    resp: websocket_payload(so),
                });
            }
            None
        }
        _ => None,
    }
}

/// Whether `ex` starts like a wrapper whose handshake is not complete yet (so the inner
/// protocol may still appear): a SOCKS greeting still consistent, an HTTP request still
/// incomplete, or a CONNECT / WebSocket-upgrade request not answered yet.
pub fn may_wrap(ex: &Exchange<'_>) -> bool {
    if ex.transport != Transport::Tcp {
        return false;
    }
    match ex.orig.first() {
        Some(4 | 5) => !matches!(socks::parse(ex.orig, ex.resp), Step::Invalid(_)),
        Some(_) if http::probe(ex.orig) => match http::request(ex.orig) {
            Step::Incomplete => true,
            Step::Invalid(_) => false,
            Step::Done(r) => {
                let wraps =
                    r.method == "CONNECT" || r.upgrade.as_deref().is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
                wraps && !matches!(http::response(ex.resp), Step::Invalid(_))
            }
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex<'a>(o: &'a [u8], r: &'a [u8]) -> Exchange<'a> {
        Exchange {
            transport: Transport::Tcp,
            orig: o,
            resp: r,
            orig_port: 50000,
            resp_port: 8080,
            finished: false,
            datagrams: &[],
        }
    }

    /// A masked client frame (RFC 6455 §5.3) carrying `payload`.
    fn masked(payload: &[u8]) -> Vec<u8> {
        let mask = [0x24, 0x7b, 0x87, 0xce];
        let mut f = vec![0x82, 0x80 | payload.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[test]
    fn websocket_ssh_is_unwrapped() {
        let mut c = b"GET /v1/events HTTP/1.1\r\nHost: localhost:8888\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
        c.extend(masked(b"SSH-2.0-OpenSSH_8.2p1\r\n"));
        let mut s = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".to_vec();
        s.extend_from_slice(&[0x82, 0x04]);
        s.extend_from_slice(b"SSH-");
        s.extend_from_slice(&[0x89, 0x00, 0x82, 0x05]); // a ping, then more data
        s.extend_from_slice(b"2.0-x");
        let inner = unwrap(&ex(&c, &s)).unwrap();
        assert_eq!(inner.wrapper, "websocket");
        assert_eq!(inner.orig, b"SSH-2.0-OpenSSH_8.2p1\r\n");
        assert_eq!(inner.resp, b"SSH-2.0-x");
        assert_eq!(inner.target, "localhost:8888/v1/events");
    }

    #[test]
    fn connect_and_socks() {
        let c = b"CONNECT 192.0.2.5:3389 HTTP/1.1\r\nHost: 192.0.2.5:3389\r\n\r\n\x03\x00\x00\x13";
        let s = b"HTTP/1.1 200 Connection established\r\n\r\n\x03\x00";
        let inner = unwrap(&ex(c, s)).unwrap();
        assert_eq!(
            (inner.wrapper, inner.orig.as_slice(), inner.resp.as_slice()),
            ("http_connect", &b"\x03\x00\x00\x13"[..], &b"\x03\x00"[..])
        );
        let refused = b"HTTP/1.1 403 Forbidden\r\n\r\n";
        assert!(unwrap(&ex(c, refused)).is_none());
        let sc = b"\x05\x01\x00\x05\x01\x00\x01\xc0\x00\x02\x05\x00\x16SSH-2.0-x\r\n";
        let ss = b"\x05\x00\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00SSH-2.0-y\r\n";
        let inner = unwrap(&ex(sc, ss)).unwrap();
        assert_eq!((inner.wrapper, inner.target.as_str()), ("socks", "192.0.2.5:22"));
        assert!(inner.orig.starts_with(b"SSH-2.0-x"));
    }

    #[test]
    fn hostile_frames_and_plain_http() {
        // 64-bit length claiming 2^63 bytes; truncated headers; reserved opcode.
        let huge = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
        assert_eq!(websocket_payload(&huge), vec![1, 2, 3]);
        for len in 0..huge.len() {
            let _ = websocket_payload(&huge[..len]);
        }
        assert!(websocket_payload(&[0x83, 0x01, 0xff]).is_empty());
        let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let ok = b"HTTP/1.1 200 OK\r\n\r\n";
        assert!(unwrap(&ex(get, ok)).is_none());
        // A very long stream of empty frames stops at MAX_INNER or the input's end.
        let many: Vec<u8> = std::iter::repeat_n([0x82u8, 0x00], 100_000).flatten().collect();
        assert!(websocket_payload(&many).is_empty());
    }
}
