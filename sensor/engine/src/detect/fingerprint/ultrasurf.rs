//! UltraSurf fingerprint: the fixed bytes its proxy servers open a stream with, any port.
//!
//! # Facts used
//! - UltraSurf's transport is a custom encrypted protocol with no published structure. Its
//!   servers' first bytes on a stream are the constant `cc 1c 30 41 5b a4 38 66` (observed in
//!   the nDPI capture `ultrasurf.pcap`, port 50053; nDPI's `ultrasurf.c` keys on the same eight
//!   bytes). A random stream starts with them once in 2^64.
//!
//! # Contract
//! Match when either direction's first bytes start with the constant; `NoMatch` as soon as
//! eight bytes of each side that has sent something differ from it. Confidence is moderate:
//! one public capture backs the constant.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::UltraSurfEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};

/// The eight bytes an UltraSurf server stream starts with.
pub const MAGIC: [u8; 8] = [0xcc, 0x1c, 0x30, 0x41, 0x5b, 0xa4, 0x38, 0x66];
/// Confidence of a match on the constant.
pub const CONFIDENCE_MAGIC: u8 = 75;

/// What one side's first bytes say.
#[derive(PartialEq)]
enum Side {
    Magic,
    Maybe,
    Not,
}

fn side(b: &[u8]) -> Side {
    let n = b.len().min(MAGIC.len());
    match (b.get(..n), MAGIC.get(..n)) {
        (Some(have), Some(want)) if have == want => {
            if n == MAGIC.len() {
                Side::Magic
            } else {
                Side::Maybe
            }
        }
        _ => Side::Not,
    }
}

/// The UltraSurf fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct UltraSurfFingerprint;

impl Fingerprint for UltraSurfFingerprint {
    fn tool(&self) -> Tool {
        Tool::UltraSurf
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp(MAGIC.len())
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Tcp {
            return Outcome::NoMatch;
        }
        let sent_by = match (side(ex.orig), side(ex.resp)) {
            (Side::Magic, _) if !ex.orig.is_empty() => "initiator",
            (_, Side::Magic) if !ex.resp.is_empty() => "responder",
            // Empty sides read as `Maybe`: wait while either side could still start with it.
            (Side::Maybe, _) | (_, Side::Maybe) if !ex.finished => return Outcome::NeedMore,
            _ => return Outcome::NoMatch,
        };
        Outcome::Match(Match {
            tool: Tool::UltraSurf,
            confidence: CONFIDENCE_MAGIC,
            method: Method::PayloadStructure,
            evidence: Evidence::Ultrasurf(UltraSurfEvidence { sent_by }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(o: &[u8], r: &[u8], fin: bool) -> Outcome {
        UltraSurfFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig: o,
            resp: r,
            orig_port: 50053,
            resp_port: 37898,
            finished: fin,
            datagrams: &[],
        })
    }

    #[test]
    fn constant_from_either_side() {
        let mut stream = MAGIC.to_vec();
        stream.extend_from_slice(&[0x99, 0x6f, 0xeb]);
        assert!(matches!(inspect(&stream, b"", false), Outcome::Match(_)));
        assert!(matches!(inspect(b"", &stream, false), Outcome::Match(_)));
        assert_eq!(inspect(b"", b"", false), Outcome::NeedMore);
        assert_eq!(inspect(&stream[..5], b"", false), Outcome::NeedMore);
        assert_eq!(inspect(&stream[..5], b"", true), Outcome::NoMatch);
        // The responder may still open with it; once both sides differ, no.
        assert_eq!(inspect(b"\x16\x03\x01\x00", b"", false), Outcome::NeedMore);
        assert_eq!(inspect(b"\x16\x03\x01\x00", b"", true), Outcome::NoMatch);
        assert_eq!(inspect(b"\x16\x03\x01\x00", b"SSH-2.0-x", false), Outcome::NoMatch);
        let mut other = MAGIC;
        other[7] ^= 1;
        assert_eq!(inspect(&other, &other, false), Outcome::NoMatch);
    }
}
