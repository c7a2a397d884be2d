//! RDP fingerprint (stub: replaced by the real parser).

use super::{Exchange, Fingerprint, Outcome, Tool, Transport};
use serde::Serialize;

/// Fields extracted from a RDP handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RdpEvidence {}

/// The RDP fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct RdpFingerprint;

impl Fingerprint for RdpFingerprint {
    fn tool(&self) -> Tool {
        Tool::Rdp
    }
    fn version(&self) -> &'static str {
        "0"
    }
    fn wants(&self, transport: Transport) -> bool {
        transport == Transport::Tcp
    }
    fn bytes_wanted(&self) -> usize {
        0
    }
    fn inspect(&self, _ex: &Exchange<'_>) -> Outcome {
        Outcome::NoMatch
    }
}
