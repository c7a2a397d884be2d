//! RustDesk fingerprint (stub: replaced by the real parser).

use super::{Exchange, Fingerprint, Outcome, Tool, Transport};
use serde::Serialize;

/// Fields extracted from a RustDesk exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RustDeskEvidence {}

/// The RustDesk fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustDeskFingerprint;

impl Fingerprint for RustDeskFingerprint {
    fn tool(&self) -> Tool {
        Tool::RustDesk
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
