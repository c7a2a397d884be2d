//! tinc VPN fingerprint: the meta connection's ID exchange, any port (usually 655).
//!
//! The ID line is read by [`farhand_proto::tinc`] (facts and limits there); this file
//! decides.
//!
//! # Contract
//! - The encrypted UDP data channel has no clear structure; the engine links it to a
//!   recognised meta connection instead (same two hosts, the meta connection's server port:
//!   tinc uses one port number for TCP and UDP), see `detect::Engine`.
//! - Match when both sides' first lines are exact ID requests with the same major version
//!   (or, at `finished`, one side's is). `Anomaly` (where and why) when a side's first line
//!   began as an ID request (`0 `) and broke it; `NoMatch` for bytes that never looked like one.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::anomaly::Anomaly;
use farhand_model::evidence::Evidence;
use farhand_model::evidence::TincEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::tinc::{ID_REQUEST, MAX_LINE, id_line};

/// Confidence: both ID lines.
pub const CONFIDENCE_BOTH: u8 = 90;
/// Confidence: one ID line.
pub const CONFIDENCE_ONE: u8 = 60;

/// A side whose first line broke the ID request: an anomaly if it began as one (`0 `), plain
/// `NoMatch` for bytes that never looked like tinc.
fn broken(side: &[u8], a: Anomaly) -> Outcome {
    if side.starts_with(ID_REQUEST) { Outcome::Anomaly(a) } else { Outcome::NoMatch }
}

/// The tinc fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct TincFingerprint;

impl Fingerprint for TincFingerprint {
    fn tool(&self) -> Tool {
        Tool::Tinc
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp(MAX_LINE)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Tcp {
            return Outcome::NoMatch;
        }
        let (names, protocol, confidence) = match (id_line(ex.orig), id_line(ex.resp)) {
            (Step::Done(a), Step::Done(b)) if a.major() == b.major() => {
                (vec![a.name.to_string(), b.name.to_string()], a.version.to_string(), CONFIDENCE_BOTH)
            }
            (Step::Done(_), Step::Done(_)) => return Outcome::NoMatch,
            (Step::Invalid(a), _) => return broken(ex.orig, a),
            (_, Step::Invalid(a)) if !ex.resp.is_empty() => return broken(ex.resp, a),
            (Step::Done(a), _) if ex.finished => (vec![a.name.to_string()], a.version.to_string(), CONFIDENCE_ONE),
            (Step::Done(_) | Step::Incomplete, _) if !ex.finished => return Outcome::NeedMore,
            _ => return Outcome::NoMatch,
        };
        Outcome::Match(Match {
            tool: Tool::Tinc,
            confidence,
            method: Method::PayloadStructure,
            evidence: Evidence::Tinc(TincEvidence { names, protocol, udp_data_channel_of: None }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex<'a>(o: &'a [u8], r: &'a [u8], fin: bool) -> Exchange<'a> {
        Exchange {
            transport: Transport::Tcp,
            orig: o,
            resp: r,
            orig_port: 59244,
            resp_port: 655,
            finished: fin,
            datagrams: &[],
        }
    }

    #[test]
    fn id_exchange() {
        let (c, s) = (b"0 alpha 17\n1 429 672 0 0 2CDA\n".as_slice(), b"0 beta_2 17.7\n".as_slice());
        let Outcome::Match(m) = TincFingerprint.inspect(&ex(c, s, false)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::Tinc, CONFIDENCE_BOTH));
        assert_eq!(TincFingerprint.inspect(&ex(c, b"", false)), Outcome::NeedMore);
        assert!(matches!(TincFingerprint.inspect(&ex(c, b"", true)), Outcome::Match(_)));
        assert_eq!(TincFingerprint.inspect(&ex(c, b"0 beta 18\n", false)), Outcome::NoMatch);
        // A reply that began as an ID request and broke it ends the match on the anomaly; a
        // reply that never looked like one is plain NoMatch.
        let a = Anomaly::new(farhand_model::anomaly::Layer::Tinc, 2, farhand_proto::step::Reason::BadValue);
        assert_eq!(TincFingerprint.inspect(&ex(c, b"0 be-ta 17\n", false)), Outcome::Anomaly(a));
        assert_eq!(TincFingerprint.inspect(&ex(c, b"SSH-2.0-x\r\n", false)), Outcome::NoMatch);
        assert_eq!(TincFingerprint.inspect(&ex(b"GET / HTTP/1.1\r\n", b"", false)), Outcome::NoMatch);
        for len in 0..c.len() {
            assert_ne!(TincFingerprint.inspect(&ex(&c[..len], &s[..len.min(s.len())], true)), Outcome::NeedMore);
        }
        for other in [&b"GET / HTTP/1.1\r\n"[..], b"0 a b c\n", b"0 na-me 17\n", b"SSH-2.0-x\r\n", &[b'0'; 300]] {
            assert!(!matches!(TincFingerprint.inspect(&ex(other, other, true)), Outcome::Match(_)), "{other:?}");
        }
    }
}
