//! SOCKS proxy fingerprint (SOCKS4/4a and SOCKS5), any port.
//!
//! Facts used: SOCKS5, RFC 1928 — the client greets with `05 NMETHODS METHODS…`, the server
//! picks `05 METHOD` (0xFF: none acceptable); username/password sub-negotiation, RFC 1929
//! (`01 ULEN UNAME PLEN PASSWD` → `01 STATUS`); then the request `05 CMD 00 ATYP ADDR PORT`
//! (CMD 1 connect, 2 bind, 3 UDP associate; ATYP 1 IPv4, 3 domain name, 4 IPv6) and the reply
//! `05 REP 00 ATYP ADDR PORT`. SOCKS4: `04 CMD PORT IPv4 USERID 00` (4a: IPv4 0.0.0.x followed
//! by `HOST 00`) answered by 8 bytes `00 5A..5D PORT IPv4`. After a successful reply the
//! connection carries the tunnelled protocol; [`farhand_proto::socks::Socks::inner`] gives
//! where it starts in each direction, so a handshake nested inside can be fingerprinted.
//!
//! # Contract
//! - The handshake is read by [`farhand_proto::socks::parse`] (shared with the nested
//!   handshake code); this file decides.
//! - Match when the client's messages are well-formed and the server answered them
//!   consistently (or, at `finished`, when the client side alone is complete and exact).
//! - A field that contradicts SOCKS after the client opened with a SOCKS version byte is
//!   answered with [`Outcome::Anomaly`] (the parser's offset, in the direction it was read
//!   from, and reason); any other first byte is a plain `NoMatch`.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::SocksEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::socks::{METHOD_NONE_ACCEPTABLE, parse};

/// Confidence: client and server handshakes consistent.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: only the client's side, complete and exact.
pub const CONFIDENCE_CLIENT: u8 = 60;

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
            // Only a client that opened with a SOCKS version had begun a handshake (a server
            // that speaks first leaves the client side empty, and so undecided, until then).
            Step::Invalid(a) if ex.orig.first().is_some_and(|v| matches!(v, 4 | 5)) => return Outcome::Anomaly(a),
            Step::Incomplete | Step::Invalid(_) => return Outcome::NoMatch,
        };
        let confidence = match (sk.reply, sk.auth_method) {
            (Some(_), _) => CONFIDENCE_BOTH,
            (None, Some(METHOD_NONE_ACCEPTABLE)) => CONFIDENCE_BOTH,
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
    use farhand_model::anomaly::{Anomaly, Layer, Reason};

    // SOCKS5 no-auth connect to www.example.org:80, then HTTP (RFC 1928 §3–§6 layouts, as
    // curl --socks5-hostname sends them). The parser's own tests: proto::socks.
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
    fn socks5_connect_matches() {
        let Outcome::Match(m) = SocksFingerprint.inspect(&ex(C5, S5, false)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::Socks, CONFIDENCE_BOTH));
        let Evidence::Socks(e) = m.evidence else { panic!() };
        assert_eq!((e.version, e.command, e.target.as_str(), e.reply), (5, "connect", "www.example.org:80", Some(0)));
        // The client alone, at the end: lower.
        let client_only = &C5[..25];
        let Outcome::Match(m) = SocksFingerprint.inspect(&ex(client_only, b"", true)) else { panic!() };
        assert_eq!(m.confidence, CONFIDENCE_CLIENT);
        assert_eq!(SocksFingerprint.inspect(&ex(client_only, b"", false)), Outcome::NeedMore);
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
        // A greeting whose server answers with a method it was not offered.
        let not_offered = Outcome::Anomaly(Anomaly::new(Layer::Socks, 1, Reason::Inconsistent));
        assert_eq!(SocksFingerprint.inspect(&ex(b"\x05\x01\x00", b"\x05\x02", false)), not_offered);
        // A server that speaks first, then a client that is not SOCKS: no anomaly.
        assert_eq!(SocksFingerprint.inspect(&ex(b"", b"SSH-2.0-y\r\n", false)), Outcome::NeedMore);
        assert_eq!(SocksFingerprint.inspect(&ex(b"SSH-2.0-x\r\n", b"SSH-2.0-y\r\n", false)), Outcome::NoMatch);
        for other in [&b"GET / HTTP/1.1\r\n"[..], b"SSH-2.0-x\r\n", b"\x16\x03\x01\x00\x05", b"\x05"] {
            assert!(!matches!(SocksFingerprint.inspect(&ex(other, b"", true)), Outcome::Match(_)), "{other:?}");
        }
    }
}
