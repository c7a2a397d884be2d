//! PPTP fingerprint: the control connection (RFC 2637), any port (usually TCP 1723).
//!
//! Facts used: the control message header and the Start-Control-Connection messages are
//! `farhand_proto::pptp`'s (RFC 2637 §2). The client opens with a
//! Start-Control-Connection-Request and the server answers with the matching reply.
//!
//! # Contract
//! - Match when the client's first message is an exact Start-Control-Connection-Request
//!   and the server's (if present) an exact Start-Control-Connection-Reply. `NoMatch`
//!   otherwise (`Anomaly`, with the parser's offset and reason, when the fixed fields or the
//!   length of a message that had begun as PPTP's broke).

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::PptpEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::pptp::{
    SCC_LEN, START_CONTROL_CONNECTION_REPLY, START_CONTROL_CONNECTION_REQUEST, control_message, fixed_fields,
};

/// Confidence: request and reply.
pub const CONFIDENCE_PAIR: u8 = 95;
/// Confidence: request alone.
pub const CONFIDENCE_REQUEST: u8 = 80;

/// The control message at the front of a direction, an anomaly only once its fixed fields
/// were PPTP's: a direction whose first eight bytes are not (any other protocol, or a server
/// that speaks first while the client's side is still empty) never began as PPTP, so its
/// fixed-field contradiction is `Incomplete` here, read by the callers as no match.
fn begun(b: &[u8]) -> Step<farhand_proto::pptp::Control<'_>> {
    match fixed_fields(b) {
        Step::Invalid(_) => Step::Incomplete,
        _ => control_message(b),
    }
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
            let consistent = !fixed_fields(ex.orig).is_invalid();
            return if consistent && !ex.finished { Outcome::NeedMore } else { Outcome::NoMatch };
        }
        let req = match begun(ex.orig) {
            Step::Done(c) if c.kind == START_CONTROL_CONNECTION_REQUEST && c.message.len() == SCC_LEN => c,
            Step::Invalid(a) => return Outcome::Anomaly(a),
            _ => return Outcome::NoMatch,
        };
        let replied = match begun(ex.resp) {
            Step::Done(r) if r.kind == START_CONTROL_CONNECTION_REPLY && r.message.len() == SCC_LEN => true,
            Step::Done(_) => return Outcome::NoMatch,
            _ if ex.resp.len() < SCC_LEN && !ex.finished => return Outcome::NeedMore,
            _ if ex.resp.is_empty() || ex.finished => false,
            Step::Invalid(a) => return Outcome::Anomaly(a),
            Step::Incomplete => return Outcome::NoMatch,
        };
        let host: String =
            req.host_name().iter().filter(|c| c.is_ascii_graphic() || **c == b' ').map(|&c| char::from(c)).collect();
        Outcome::Match(Match {
            tool: Tool::Pptp,
            confidence: if replied { CONFIDENCE_PAIR } else { CONFIDENCE_REQUEST },
            method: Method::PayloadStructure,
            evidence: Evidence::Pptp(PptpEvidence {
                protocol_version: req.protocol_version(),
                host_name: host.trim().to_string(),
                replied,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::pptp::scc;
    use farhand_proto::step::{Anomaly, Layer, Reason};

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
        assert_eq!(PptpFingerprint.inspect(&ex(&bad[..6], b"", false)), Outcome::NoMatch);
        // A reply whose length field breaks the format, once all of it is there.
        let mut short = r.clone();
        short[..2].copy_from_slice(&4u16.to_be_bytes());
        let length = Outcome::Anomaly(Anomaly::new(Layer::Pptp, 0, Reason::BadLength));
        assert_eq!(PptpFingerprint.inspect(&ex(&q, &short, false)), length);
        let http = [b"GET / HTTP/1.1\r\n".as_slice(), &[b'x'; 200]].concat();
        assert_eq!(PptpFingerprint.inspect(&ex(&http, b"", false)), Outcome::NoMatch);
    }
}
