//! TeamViewer fingerprint (stub: replaced by the real parser).

use super::{Exchange, Fingerprint, Outcome, Tool, Transport};
use serde::Serialize;

/// Fields extracted from a TeamViewer exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TeamViewerEvidence {}

/// The TeamViewer fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct TeamViewerFingerprint;

impl Fingerprint for TeamViewerFingerprint {
    fn tool(&self) -> Tool {
        Tool::TeamViewer
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
