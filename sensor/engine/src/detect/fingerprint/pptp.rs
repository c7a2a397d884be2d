//! PPTP fingerprint: the control connection (RFC 2637), any port (usually TCP 1723), and
//! the data channel alone — PPP in enhanced GRE (IP protocol 47, RFC 2637 §4), as a capture
//! that missed the control connection (or a gateway that sees only the tunnel) holds it.
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

use super::{Exchange, Fingerprint, Interest, Outcome, Reply, reply};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::PptpEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::pptp::{
    GRE_FIXED_LEN, SCC_LEN, START_CONTROL_CONNECTION_REPLY, START_CONTROL_CONNECTION_REQUEST, control_message,
    enhanced_gre, fixed_fields,
};

/// Confidence: request and reply.
pub const CONFIDENCE_PAIR: u8 = 95;
/// Confidence: request alone (unanswered: one message of one side).
pub const CONFIDENCE_REQUEST: u8 = 70;
/// Confidence: the data channel (PPP in enhanced GRE) both ways.
pub const CONFIDENCE_DATA_PAIR: u8 = 90;
/// Confidence: the data channel, one direction.
pub const CONFIDENCE_DATA_ONE: u8 = 70;

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
        Interest::on(&[Transport::Tcp, Transport::Gre], SCC_LEN)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        match ex.transport {
            Transport::Tcp => {}
            Transport::Gre => return data_channel(ex),
            _ => return Outcome::NoMatch,
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
        // The server answered with something that is not PPTP: no PPTP server.
        if !ex.resp.is_empty() && matches!(fixed_fields(ex.resp), Step::Invalid(_)) {
            return Outcome::NoMatch;
        }
        let replied = match control_message(ex.resp) {
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
                channel: "control",
                protocol_version: req.protocol_version(),
                host_name: host.trim().to_string(),
                replied,
                call_id: None,
            }),
        })
    }
}

/// The data channel alone: PPP in enhanced GRE (version 1, protocol 0x880B), every fixed bit
/// and the payload length exact. Both directions: [`CONFIDENCE_DATA_PAIR`]; one packet of one
/// direction: [`CONFIDENCE_DATA_ONE`] (a single packet stays below "high").
fn data_channel(ex: &Exchange<'_>) -> Outcome {
    fn side(b: &[u8]) -> Option<Option<farhand_proto::pptp::Gre<'_>>> {
        match enhanced_gre(b) {
            Step::Done(g) => Some(Some(g)),
            // Cut by the snaplen after a valid header: as good as whole.
            Step::Incomplete if b.len() >= GRE_FIXED_LEN => Some(None),
            _ => None,
        }
    }
    let Some(o) = side(ex.orig) else { return Outcome::NoMatch };
    let replied = match reply(ex, |r| side(r).is_some()) {
        Reply::Waiting => return Outcome::NeedMore,
        Reply::Contradicts => return Outcome::NoMatch,
        Reply::Unanswered => false,
        Reply::Agrees => true,
    };
    Outcome::Match(Match {
        tool: Tool::Pptp,
        confidence: if replied { CONFIDENCE_DATA_PAIR } else { CONFIDENCE_DATA_ONE },
        method: Method::PayloadStructure,
        evidence: Evidence::Pptp(PptpEvidence {
            channel: "data",
            protocol_version: 0,
            host_name: String::new(),
            replied,
            call_id: o.map(|g| g.call_id).or(match ex.orig.get(6..8) {
                Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
                _ => None,
            }),
        }),
    })
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
    fn the_data_channel_alone() {
        let gre = |o: &'static [u8], r: &'static [u8], fin| Exchange { transport: Transport::Gre, ..ex(o, r, fin) };
        let data: &[u8] =
            &[0x30, 0x81, 0x88, 0x0B, 0x00, 0x04, 0x40, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0xFF, 0x03, 0xC0, 0x21];
        let back: &[u8] = &[0x30, 0x01, 0x88, 0x0B, 0x00, 0x02, 0x80, 0x00, 0, 0, 0, 1, 0xC0, 0x21];
        let Outcome::Match(m) = PptpFingerprint.inspect(&gre(data, back, false)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::Pptp, CONFIDENCE_DATA_PAIR));
        let Evidence::Pptp(e) = &m.evidence else { panic!() };
        assert_eq!((e.channel, e.call_id, e.replied), ("data", Some(0x4002), true));
        assert_eq!(PptpFingerprint.inspect(&gre(data, b"", false)), Outcome::NeedMore);
        let Outcome::Match(m) = PptpFingerprint.inspect(&gre(data, b"", true)) else { panic!() };
        assert_eq!(m.confidence, CONFIDENCE_DATA_ONE);
        // Plain GRE carrying IPv4 (a site-to-site tunnel) is not PPTP; nor is a broken answer.
        let plain: &[u8] = &[0x00, 0x00, 0x08, 0x00, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        assert_eq!(PptpFingerprint.inspect(&gre(plain, plain, true)), Outcome::NoMatch);
        assert_eq!(PptpFingerprint.inspect(&gre(data, plain, true)), Outcome::NoMatch);
        // Cut by a snaplen after the header: still read.
        assert!(matches!(PptpFingerprint.inspect(&gre(&data[..12], back, false)), Outcome::Match(_)));
        for len in 0..data.len() {
            let _ = PptpFingerprint.inspect(&gre(&data[..len], &back[..len.min(back.len())], true));
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
        let Outcome::Match(m) = PptpFingerprint.inspect(&ex(&q, b"", true)) else { panic!() };
        assert_eq!(m.confidence, CONFIDENCE_REQUEST);
        // A server that answers with something else is no PPTP server, at the end too.
        for foreign in [&b"HTTP/1.1 400 Bad Request\r\n\r\n"[..], b"SSH-2.0-OpenSSH_9.2\r\n"] {
            assert_eq!(PptpFingerprint.inspect(&ex(&q, foreign, true)), Outcome::NoMatch);
            assert_eq!(PptpFingerprint.inspect(&ex(&q, foreign, false)), Outcome::NoMatch);
        }
        // A reply cut short by the end of the flow: the request alone.
        let Outcome::Match(m) = PptpFingerprint.inspect(&ex(&q, &r[..40], true)) else { panic!() };
        assert_eq!(m.confidence, CONFIDENCE_REQUEST);
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
