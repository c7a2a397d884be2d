//! Stun fingerprint (stub: replaced by the real parser).

use super::{Exchange, Fingerprint, Outcome, Tool, Transport};
use serde::Serialize;

/// Fields extracted from a Stun exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StunEvidence {}

/// The Stun fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct StunFingerprint;

impl Fingerprint for StunFingerprint {
    fn tool(&self) -> Tool {
        Tool::StunTurn
    }
    fn version(&self) -> &'static str {
        "0"
    }
    fn wants(&self, _transport: Transport) -> bool {
        false
    }
    fn bytes_wanted(&self) -> usize {
        0
    }
    fn inspect(&self, _ex: &Exchange<'_>) -> Outcome {
        Outcome::NoMatch
    }
}
