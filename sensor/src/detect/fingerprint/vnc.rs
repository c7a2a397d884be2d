//! VNC fingerprint (stub: replaced by the real parser).

use super::{Exchange, Fingerprint, Outcome, Tool, Transport};
use serde::Serialize;

/// Fields extracted from a VNC handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VncEvidence {}

/// The VNC fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct VncFingerprint;

impl Fingerprint for VncFingerprint {
    fn tool(&self) -> Tool {
        Tool::Vnc
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
