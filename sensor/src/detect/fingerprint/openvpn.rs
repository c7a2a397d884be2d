//! OpenVpn fingerprint (stub: replaced by the real parser).

use super::{Exchange, Fingerprint, Outcome, Tool, Transport};
use serde::Serialize;

/// Fields extracted from a OpenVpn exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpenVpnEvidence {}

/// The OpenVpn fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenVpnFingerprint;

impl Fingerprint for OpenVpnFingerprint {
    fn tool(&self) -> Tool {
        Tool::OpenVpn
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
