//! PPTP fingerprint: the control connection (RFC 2637), any port (usually TCP 1723).
//!
//! Facts used: every control message starts with its length (2 bytes), the PPTP message
//! type (1 = control message) and the magic cookie 0x1A2B3C4D, then the control message
//! type (1 Start-Control-Connection-Request, 156 bytes; 2 Start-Control-Connection-Reply,
//! 156 bytes; 7 Outgoing-Call-Request, 168 bytes; 8 Outgoing-Call-Reply, 32 bytes; …). The
//! client opens with a request and the server answers with the matching reply.
//!
//! # Contract
//! - Match when the client's first message is an exact Start-Control-Connection-Request
//!   and the server's (if present) an exact Start-Control-Connection-Reply.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::PptpEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};

/// The magic cookie of every PPTP control message.
pub const MAGIC: [u8; 4] = [0x1A, 0x2B, 0x3C, 0x4D];
/// Length of the Start-Control-Connection request and reply.
pub const SCC_LEN: usize = 156;
/// Confidence: request and reply.
pub const CONFIDENCE_PAIR: u8 = 95;
/// Confidence: request alone.
pub const CONFIDENCE_REQUEST: u8 = 80;

/// `(control message type, message)` of the control message at the start of `b`.
fn message(b: &[u8]) -> Option<(u16, &[u8])> {
    let len = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
    let m = b.get(..len)?;
    (m.get(2..4)? == [0, 1] && m.get(4..8)? == MAGIC).then_some(())?;
    Some((u16::from_be_bytes([*m.get(8)?, *m.get(9)?]), m))
}

/// The PPTP fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct PptpFingerprint;

impl Fingerprint for PptpFingerprint {
    fn tool(&self) -> Tool {
        Tool::Pptp
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp(SCC_LEN)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Tcp {
            return Outcome::NoMatch;
        }
        if ex.orig.len() < SCC_LEN {
            let consistent = ex.orig.get(2..4).is_none_or(|t| t == [0, 1])
                && ex.orig.get(4..8.min(ex.orig.len())).is_none_or(|m| MAGIC.starts_with(m));
            return if consistent && !ex.finished { Outcome::NeedMore } else { Outcome::NoMatch };
        }
        let Some((1, req)) = message(ex.orig) else { return Outcome::NoMatch };
        if req.len() != SCC_LEN {
            return Outcome::NoMatch;
        }
        let replied = match message(ex.resp) {
            Some((2, r)) if r.len() == SCC_LEN => true,
            Some(_) => return Outcome::NoMatch,
            None if ex.resp.len() < SCC_LEN && !ex.finished => return Outcome::NeedMore,
            None if ex.resp.is_empty() || ex.finished => false,
            None => return Outcome::NoMatch,
        };
        let host: String = req
            .get(28..92)
            .unwrap_or_default()
            .iter()
            .take_while(|&&c| c != 0)
            .filter(|c| c.is_ascii_graphic() || **c == b' ')
            .map(|&c| char::from(c))
            .collect();
        Outcome::Match(Match {
            tool: Tool::Pptp,
            confidence: if replied { CONFIDENCE_PAIR } else { CONFIDENCE_REQUEST },
            method: Method::PayloadStructure,
            evidence: Evidence::Pptp(PptpEvidence {
                protocol_version: u16::from_be_bytes([*req.get(12).unwrap_or(&0), *req.get(13).unwrap_or(&0)]),
                host_name: host.trim().to_string(),
                replied,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scc(kind: u16) -> Vec<u8> {
        let mut m = vec![0u8; SCC_LEN];
        m[..2].copy_from_slice(&(SCC_LEN as u16).to_be_bytes());
        m[2..4].copy_from_slice(&[0, 1]);
        m[4..8].copy_from_slice(&MAGIC);
        m[8..10].copy_from_slice(&kind.to_be_bytes());
        m[12..14].copy_from_slice(&[1, 0]);
        m[28..33].copy_from_slice(b"local");
        m
    }

    fn ex<'a>(o: &'a [u8], r: &'a [u8], fin: bool) -> Exchange<'a> {
        Exchange {
            transport: Transport::Tcp,
            orig: o,
            resp: r,
            orig_port: 41366,
            resp_port: 1723,
            finished: fin,
            datagrams: &[],
        }
    }

    #[test]
    fn start_control_connection() {
        let (q, r) = (scc(1), scc(2));
        let Outcome::Match(m) = PptpFingerprint.inspect(&ex(&q, &r, false)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::Pptp, CONFIDENCE_PAIR));
        let Evidence::Pptp(e) = m.evidence else { panic!() };
        assert_eq!((e.protocol_version, e.host_name.as_str()), (0x0100, "local"));
        assert_eq!(PptpFingerprint.inspect(&ex(&q, b"", false)), Outcome::NeedMore);
        assert!(matches!(PptpFingerprint.inspect(&ex(&q, b"", true)), Outcome::Match(_)));
        for len in 0..q.len() {
            assert_ne!(PptpFingerprint.inspect(&ex(&q[..len], b"", true)), Outcome::NeedMore);
            let _ = PptpFingerprint.inspect(&ex(&q, &r[..len], false));
        }
        assert_eq!(PptpFingerprint.inspect(&ex(&q, &scc(7), false)), Outcome::NoMatch);
        let mut bad = q.clone();
        bad[5] = 0;
        assert_eq!(PptpFingerprint.inspect(&ex(&bad, &r, false)), Outcome::NoMatch);
        let http = [b"GET / HTTP/1.1\r\n".as_slice(), &[b'x'; 200]].concat();
        assert_eq!(PptpFingerprint.inspect(&ex(&http, b"", false)), Outcome::NoMatch);
    }
}
