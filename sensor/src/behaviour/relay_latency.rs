//! The relay latency gap: application RTT on the far leg minus the transport RTT to the
//! visible peer, the distance it implies, and the `relayed_remote_control` decision.
//!
//! # Facts used (FINGERPRINTS.md "Latency physics")
//! - Light in fibre covers ~200 km per ms one way: every millisecond of round trip is at most
//!   100 km of great-circle distance, and real paths are 1.5–2× longer than the great circle.
//!   A gap of G ms therefore puts the controller at least G × 100 / 2 km (path factor 2)
//!   beyond the visible peer, and at most G × 100 km.
//! - Remote-desktop encode/decode adds ~10–30 ms: a per-tool baseline is subtracted before
//!   banding and judging ([`RelayConfig::baseline_ms`]).

use super::{LatStats, Summary};
use crate::detect::fingerprint::Tool;
use serde::Serialize;

/// Keystrokes a session must show before it is judged: `relayed_remote_control` is about a
/// hand driving the endpoint from afar, and an idle session has none.
pub const MIN_KEYS: u64 = 10;

/// Settings of the relay-gap judgement (`[behaviour]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelayConfig {
    /// Gap (after the baseline) beyond which a session is relayed, ms.
    pub gap_threshold_ms: f64,
    /// Far-leg samples needed before judging.
    pub min_samples: u64,
    /// Processing baseline of graphical tools (VNC, RDP, …), ms.
    pub baseline_ms: f64,
    /// Processing baseline of SSH, ms.
    pub baseline_ssh_ms: f64,
}

impl Default for RelayConfig {
    fn default() -> RelayConfig {
        RelayConfig { gap_threshold_ms: 40.0, min_samples: 5, baseline_ms: 10.0, baseline_ssh_ms: 2.0 }
    }
}

/// The gap figures of one session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    /// 10th-percentile far-leg application RTT − smallest transport RTT to the visible peer,
    /// ms.
    pub gap_ms: f64,
    /// The baseline subtracted before banding, ms.
    pub baseline_ms: f64,
    /// Gap beyond the baseline, ms (never negative).
    pub excess_ms: f64,
    /// Extra distance beyond the visible peer the excess implies: (at least, at most) km.
    pub extra_distance_km: (u64, u64),
    /// Samples behind the application RTT and the transport RTT.
    pub samples: (u64, u64),
    /// Whether the gap is beyond the threshold with enough samples, in a session with input
    /// ([`MIN_KEYS`]).
    pub relayed: bool,
}

/// The gap of a session whose far leg is the initiator's (SSH, VNC: the controller is the
/// client), if both RTTs were measured.
pub fn judge(s: &Summary, cfg: &RelayConfig) -> Option<Gap> {
    let app: &LatStats = s.app_rtt_far.as_ref()?;
    let transport: &LatStats = s.transport_rtt.initiator.as_ref()?;
    let baseline_ms = if s.tool == Tool::Ssh { cfg.baseline_ssh_ms } else { cfg.baseline_ms };
    // The low end of each distribution is the path: processing, think time and delayed
    // acknowledgements only ever add to a round trip. The transport RTT's minimum is a hard
    // floor (an acknowledgement cannot precede the data it covers, and retransmissions are
    // never sampled), and it stays the path even when every acknowledgement waits for the
    // next packet (OpenSSH's 20 ms keystroke cadence delays them all). The application RTT
    // takes its 10th percentile: a pairing may now and then take a message the endpoint did
    // not cause for an answer, and one such sample must not set the figure.
    let gap_ms = ((app.p10_ms - transport.min_ms) * 10.0).round() / 10.0;
    let excess_ms = ((gap_ms - baseline_ms).max(0.0) * 10.0).round() / 10.0;
    let keys = s.keystrokes.as_ref().map_or(0, |k| k.keys);
    let relayed = app.n >= cfg.min_samples && excess_ms >= cfg.gap_threshold_ms && keys >= MIN_KEYS;
    Some(Gap {
        gap_ms,
        baseline_ms,
        excess_ms,
        extra_distance_km: ((excess_ms * 50.0) as u64, (excess_ms * 100.0) as u64),
        samples: (app.n, transport.n),
        relayed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::LegStats;

    fn stats(n: u64, p50: f64) -> LatStats {
        LatStats { n, min_ms: p50, p10_ms: p50, p50_ms: p50, p90_ms: p50 }
    }

    fn summary(tool: Tool, app: Option<LatStats>, transport: Option<LatStats>) -> Summary {
        Summary {
            tool,
            transport_rtt: LegStats { initiator: transport, responder: Some(stats(3, 0.2)) },
            app_rtt_far: app,
            app_rtt_far_alternatives_ms: None,
            app_rtt_near: None,
            keystrokes: Some(crate::behaviour::keystroke::KeystrokeStats {
                keys: 10,
                bursts: 1,
                intervals: 9,
                iki_p10_ms: None,
                iki_median_ms: None,
                iki_p90_ms: None,
                iki_cv: None,
                rhythm: "human",
            }),
            chain: None,
        }
    }

    #[test]
    fn gap_band_and_threshold() {
        let cfg = RelayConfig::default();
        let g = judge(&summary(Tool::Ssh, Some(stats(9, 121.0)), Some(stats(40, 1.0))), &cfg).unwrap();
        assert_eq!((g.gap_ms, g.excess_ms, g.relayed), (120.0, 118.0, true));
        assert_eq!(g.extra_distance_km, (5900, 11800));
        // Too few samples, or a direct session.
        assert!(!judge(&summary(Tool::Ssh, Some(stats(3, 121.0)), Some(stats(40, 1.0))), &cfg).unwrap().relayed);
        let d = judge(&summary(Tool::Vnc, Some(stats(30, 12.0)), Some(stats(40, 1.0))), &cfg).unwrap();
        assert_eq!((d.excess_ms, d.relayed), (1.0, false));
        // Forwarding relay: transport grows with the application RTT, no gap.
        let f = judge(&summary(Tool::Vnc, Some(stats(30, 125.0)), Some(stats(40, 121.0))), &cfg).unwrap();
        assert!(!f.relayed);
        assert!(judge(&summary(Tool::Vnc, None, Some(stats(40, 1.0))), &cfg).is_none());
        // An idle session (no input) is never judged relayed.
        let mut idle = summary(Tool::Ssh, Some(stats(9, 121.0)), Some(stats(40, 1.0)));
        idle.keystrokes = None;
        assert!(!judge(&idle, &cfg).unwrap().relayed);
    }
}
