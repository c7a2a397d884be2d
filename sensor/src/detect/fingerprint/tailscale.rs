//! Tailscale fingerprint (stub: replaced by the real parser).

use super::{Exchange, Fingerprint, Outcome, Tool, Transport};
use serde::Serialize;

/// Fields extracted from a Tailscale exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TailscaleEvidence {}

/// The Tailscale fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct TailscaleFingerprint;

impl Fingerprint for TailscaleFingerprint {
    fn tool(&self) -> Tool {
        Tool::Tailscale
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
