//! tinc VPN fingerprint: the meta connection's ID exchange, any port (usually 655).
//!
//! Facts used (tinc protocol documentation, "meta protocol"): each side of a meta
//! connection first sends an ID request as one text line, `0 <name> <major>[.<minor>]\n`
//! (request number 0 = ID; the node name of letters, digits and underscores; protocol major
//! version 17 in tinc 1.0/1.1), before the key exchange (`1 …` METAKEY lines in 1.0).
//!
//! # Contract
//! - The encrypted UDP data channel has no clear structure; the engine links it to a
//!   recognised meta connection instead (same two hosts, the meta connection's server port:
//!   tinc uses one port number for TCP and UDP), see `detect::Engine`.
//! - Match when both sides' first lines are exact ID requests with the same major version
//!   (or, at `finished`, one side's is).

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::TincEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};

/// Longest ID line considered.
pub const MAX_LINE: usize = 128;
/// Confidence: both ID lines.
pub const CONFIDENCE_BOTH: u8 = 90;
/// Confidence: one ID line.
pub const CONFIDENCE_ONE: u8 = 60;

/// Result of reading one side's first line.
enum Id {
    Line(String, String),
    Partial,
    Not,
}

fn id_line(b: &[u8]) -> Id {
    let Some(nl) = b.iter().take(MAX_LINE).position(|&c| c == b'\n') else {
        let prefix_ok = b.first().is_none_or(|&c| c == b'0') && b.get(1).is_none_or(|&c| c == b' ');
        return if b.len() < MAX_LINE && prefix_ok { Id::Partial } else { Id::Not };
    };
    let line = match std::str::from_utf8(b.get(..nl).unwrap_or_default()) {
        Ok(l) => l,
        Err(_) => return Id::Not,
    };
    let mut f = line.split(' ');
    match (f.next(), f.next(), f.next(), f.next()) {
        (Some("0"), Some(name), Some(ver), None)
            if !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                && !ver.is_empty()
                && ver.len() <= 6
                && ver.split('.').all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|c| c.is_ascii_digit()))
                && ver.split('.').count() <= 2 =>
        {
            Id::Line(name.to_string(), ver.to_string())
        }
        _ => Id::Not,
    }
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
        let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
        let (names, protocol, confidence) = match (id_line(ex.orig), id_line(ex.resp)) {
            (Id::Line(a, va), Id::Line(b, vb)) if major(&va) == major(&vb) => (vec![a, b], va, CONFIDENCE_BOTH),
            (Id::Line(..), Id::Line(..)) | (Id::Not, _) => return Outcome::NoMatch,
            (_, Id::Not) if !ex.resp.is_empty() => return Outcome::NoMatch,
            (Id::Line(a, va), _) if ex.finished => (vec![a], va, CONFIDENCE_ONE),
            (Id::Line(..) | Id::Partial, _) if !ex.finished => return Outcome::NeedMore,
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
        for len in 0..c.len() {
            assert_ne!(TincFingerprint.inspect(&ex(&c[..len], &s[..len.min(s.len())], true)), Outcome::NeedMore);
        }
        for other in [&b"GET / HTTP/1.1\r\n"[..], b"0 a b c\n", b"0 na-me 17\n", b"SSH-2.0-x\r\n", &[b'0'; 300]] {
            assert!(!matches!(TincFingerprint.inspect(&ex(other, other, true)), Outcome::Match(_)), "{other:?}");
        }
    }
}
