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

use farhand_model::Tool;
use farhand_model::session::{FarEstimate, LatStats, Summary, agree_half_width_us};
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
    /// Far-leg application RTT where its samples agree (the session's [`FarEstimate`]) −
    /// [`Gap::transport_ms`], ms.
    pub gap_ms: f64,
    /// The transport RTT to the visible peer the gap subtracts, ms: where its samples agree
    /// when the far-leg figure lies in their agreement window (the peer's path explains the
    /// answers), else the smallest sample ([`Gap::transport_basis`]).
    pub transport_ms: f64,
    /// Which figure [`Gap::transport_ms`] is.
    pub transport_basis: TransportBasis,
    /// The baseline subtracted before banding, ms.
    pub baseline_ms: f64,
    /// Gap beyond the baseline, ms (never negative).
    pub excess_ms: f64,
    /// Extra distance beyond the visible peer the excess implies: (at least, at most) km.
    pub extra_distance_km: (u64, u64),
    /// Samples behind the application RTT (the agreeing ones) and the transport RTT.
    pub samples: (u64, u64),
    /// Whether the gap is beyond the threshold with enough samples, in a session with input
    /// ([`MIN_KEYS`]).
    pub relayed: bool,
}

/// Which transport RTT figure a [`Gap`] subtracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportBasis {
    /// Where the transport samples agree ([`FarEstimate::ms`] of the initiator's leg): the
    /// far-leg figure lies within their agreement window.
    Agreement,
    /// The smallest transport sample: the far-leg figure lies beyond the transport samples'
    /// agreement window, or too few of them agree.
    Minimum,
}

impl TransportBasis {
    /// `agreement` or `minimum`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportBasis::Agreement => "agreement",
            TransportBasis::Minimum => "minimum",
        }
    }
}

/// The gap of a session whose far leg is the initiator's (SSH, VNC: the controller is the
/// client), if both RTTs were measured and enough far-leg samples agree for a figure (else
/// the session's [`FarEstimate`] says `insufficient` and there is no gap).
pub fn judge(s: &Summary, cfg: &RelayConfig) -> Option<Gap> {
    let est: &FarEstimate = s.app_rtt_far_estimate.as_ref()?;
    let app_ms = est.ms?;
    let transport: &LatStats = s.transport_rtt.initiator.as_ref()?;
    let baseline_ms = if s.tool == Tool::Ssh { cfg.baseline_ssh_ms } else { cfg.baseline_ms };
    // The far-leg figure is where its samples agree: a pairing may now and then take a
    // message the endpoint did not cause for an answer, and such samples must not set it (a
    // low percentile of a handful of samples is one stray pair away from any value).
    //
    // The visible peer's figure depends on whether its path explains the answers. When the
    // far-leg figure lies within the agreement window of the transport samples (and enough of
    // them agree), the answers come over the same path as the acknowledgements — the visible
    // peer is the controller — and the gap is taken against that agreement: on a jittery path
    // the smallest of many transport samples sinks by the jitter (±20 ms each way puts it
    // ~35 ms under the agreement), and a controller reached directly would read a relay's gap.
    // Otherwise the peer is nearer than the answers, and its smallest transport sample is its
    // distance: an acknowledgement cannot precede the data it covers, retransmissions are
    // never sampled, and acknowledgements that wait for the peer's next packet (OpenSSH's
    // 20 ms keystroke cadence through a relay delays them all) only ever add to it.
    let agreed = s.transport_rtt_estimate.initiator.and_then(|e| e.ms).filter(|&t| {
        let half_ms = agree_half_width_us((t.max(0.0) * 1000.0) as u64) as f64 / 1000.0;
        (app_ms - t).abs() <= half_ms
    });
    let (transport_ms, transport_basis) = match agreed {
        Some(ms) => (ms, TransportBasis::Agreement),
        None => (transport.min_ms, TransportBasis::Minimum),
    };
    let gap_ms = ((app_ms - transport_ms) * 10.0).round() / 10.0;
    let excess_ms = ((gap_ms - baseline_ms).max(0.0) * 10.0).round() / 10.0;
    let keys = s.keystrokes.as_ref().map_or(0, |k| k.keys);
    let relayed = est.agreeing >= cfg.min_samples && excess_ms >= cfg.gap_threshold_ms && keys >= MIN_KEYS;
    Some(Gap {
        gap_ms,
        transport_ms,
        transport_basis,
        baseline_ms,
        excess_ms,
        extra_distance_km: ((excess_ms * 50.0) as u64, (excess_ms * 100.0) as u64),
        samples: (est.agreeing, transport.n),
        relayed,
    })
}

#[cfg(test)]
mod tests {
    //! The contract (README "Timing figures" and the `relayed_remote_control` row):
    //! `gap_ms` = the far leg's application RTT where its samples agree − the smallest
    //! transport RTT to the visible peer (the initiator's leg); `excess_ms` = gap − the tool's baseline,
    //! never negative; the session is relayed when the excess reaches the threshold over at
    //! least `min_samples` agreeing application-RTT exchanges in a session with at least
    //! [`MIN_KEYS`] keystrokes. Every statistic below has min < p10 < p50 < p90 and the two
    //! legs differ, so reading the wrong percentile or the wrong leg changes the figures.
    use super::*;
    use farhand_model::session::KeystrokeStats;
    use farhand_model::session::{LegEstimates, LegStats};

    fn lat(n: u64, min_ms: f64, p10_ms: f64, p50_ms: f64, p90_ms: f64) -> LatStats {
        assert!(min_ms < p10_ms && p10_ms < p50_ms && p50_ms < p90_ms, "distinct percentiles");
        LatStats { n, min_ms, p10_ms, p50_ms, p90_ms }
    }

    /// A far-leg application RTT whose samples agree at `ms` (`n` of `n + 3` agree); its
    /// distribution's percentiles all differ from `ms` (min 13 ms lower, p10 5 ms higher,
    /// median 17 ms higher, p90 80 ms higher), so reading one of them instead of the
    /// agreement changes the figures.
    fn app(n: u64, ms: f64) -> (u64, f64) {
        (n, ms)
    }

    /// Transport RTT to the visible peer: smallest 1.0 ms, p10 3.5, median 6, p90 20.
    fn peer(n: u64) -> LatStats {
        lat(n, 1.0, 3.5, 6.0, 20.0)
    }

    fn keys(n: u64) -> KeystrokeStats {
        KeystrokeStats {
            keys: n,
            bursts: 1,
            intervals: n.saturating_sub(1),
            iki_p10_ms: None,
            iki_median_ms: None,
            iki_p90_ms: None,
            iki_cv: None,
            rhythm: "human",
        }
    }

    fn summary(tool: Tool, app: Option<(u64, f64)>, transport: Option<LatStats>) -> Summary {
        Summary {
            tool,
            // The endpoint's leg: smaller than the peer's, and never part of the gap.
            transport_rtt: LegStats { initiator: transport, responder: Some(lat(30, 0.4, 0.7, 1.5, 4.0)) },
            app_rtt_far: app.map(|(n, ms)| lat(n + 3, ms - 13.0, ms + 5.0, ms + 17.0, ms + 80.0)),
            app_rtt_far_estimate: app.map(|(n, ms)| FarEstimate {
                ms: Some(ms),
                agreeing: n,
                of: n + 3,
                spread_ms: Some(1.5),
                status: "ok",
            }),
            // No transport agreement (each test that reads one sets it): the minimum is the path.
            transport_rtt_estimate: LegEstimates { initiator: None, responder: None },
            app_rtt_far_alternatives_ms: None,
            // The near leg is not the far leg: a figure read from it would be far off.
            app_rtt_near: Some(lat(25, 0.9, 1.2, 2.0, 9.0)),
            keystrokes: Some(keys(MIN_KEYS)),
            chain: None,
        }
    }

    fn gap(tool: Tool, app_stats: (u64, f64), cfg: &RelayConfig) -> Gap {
        judge(&summary(tool, Some(app_stats), Some(peer(40))), cfg).unwrap()
    }

    #[test]
    fn default_settings() {
        let cfg = RelayConfig::default();
        assert_eq!(
            (cfg.gap_threshold_ms, cfg.min_samples, cfg.baseline_ms, cfg.baseline_ssh_ms, MIN_KEYS),
            (40.0, 5, 10.0, 2.0, 10)
        );
    }

    #[test]
    fn gap_is_app_agreement_minus_smallest_peer_rtt() {
        let cfg = RelayConfig::default();
        // App agrees at 121 (min 108, p10 126, p50 138, p90 201); peer: min 1.0, p10 3.5.
        // 121 − 1 = 120; any other pairing gives 107, 125, 137, 200 (app) or 117.5 (peer p10),
        // 120.6 (endpoint leg).
        let g = gap(Tool::Ssh, app(9, 121.0), &cfg);
        assert_eq!(g.gap_ms, 120.0, "gap = app agreement − peer transport min: {g:?}");
        assert_eq!(g.baseline_ms, 2.0);
        assert_eq!(g.excess_ms, 118.0);
        assert_eq!(g.samples, (9, 40), "samples = (agreeing app samples, peer transport n)");
        assert_eq!((g.transport_ms, g.transport_basis), (1.0, TransportBasis::Minimum));
        assert!(g.relayed);
        assert_eq!(g.extra_distance_km, (5900, 11800), "excess × 50 km .. excess × 100 km");
    }

    #[test]
    fn figures_in_tenths_of_a_millisecond() {
        let cfg = RelayConfig::default();
        // 37.26 − 1.0 = 36.26 → 36.3; minus VNC's 10 ms baseline = 26.3.
        let g = gap(Tool::Vnc, app(9, 37.26), &cfg);
        assert_eq!((g.gap_ms, g.baseline_ms, g.excess_ms), (36.3, 10.0, 26.3));
        assert_eq!(g.extra_distance_km, (1315, 2630));
        assert!(!g.relayed);
    }

    #[test]
    fn threshold_boundary_ssh() {
        let cfg = RelayConfig::default();
        // SSH baseline 2 ms, threshold 40 ms: relayed from a 42 ms gap (app p10 43, peer min 1).
        let at = gap(Tool::Ssh, app(9, 43.0), &cfg);
        assert_eq!((at.gap_ms, at.excess_ms), (42.0, 40.0));
        assert!(at.relayed, "excess == threshold is relayed: {at:?}");
        assert_eq!(at.extra_distance_km, (2000, 4000));
        let below = gap(Tool::Ssh, app(9, 42.9), &cfg);
        assert_eq!((below.gap_ms, below.excess_ms), (41.9, 39.9));
        assert!(!below.relayed, "excess 0.1 ms below the threshold is not relayed: {below:?}");
        assert_eq!(below.extra_distance_km, (1995, 3990));
        let above = gap(Tool::Ssh, app(9, 43.1), &cfg);
        assert_eq!((above.gap_ms, above.excess_ms), (42.1, 40.1));
        assert!(above.relayed, "excess above the threshold is relayed: {above:?}");
        assert_eq!(above.extra_distance_km, (2005, 4010));
    }

    #[test]
    fn threshold_boundary_graphical_tools() {
        let cfg = RelayConfig::default();
        // VNC/RDP baseline 10 ms: relayed from a 50 ms gap.
        for tool in [Tool::Vnc, Tool::Rdp] {
            let at = gap(tool, app(9, 51.0), &cfg);
            assert_eq!((at.gap_ms, at.baseline_ms, at.excess_ms, at.relayed), (50.0, 10.0, 40.0, true), "{tool:?}");
            let below = gap(tool, app(9, 50.9), &cfg);
            assert_eq!((below.gap_ms, below.excess_ms, below.relayed), (49.9, 39.9, false), "{tool:?}");
            let above = gap(tool, app(9, 51.1), &cfg);
            assert_eq!((above.gap_ms, above.excess_ms, above.relayed), (50.1, 40.1, true), "{tool:?}");
        }
    }

    #[test]
    fn configured_threshold_and_baselines_apply() {
        let cfg = RelayConfig { gap_threshold_ms: 25.0, min_samples: 7, baseline_ms: 15.0, baseline_ssh_ms: 4.0 };
        // SSH: 30 − 1 − 4 = 25 → relayed; 29.9 → 24.9 not.
        let s = gap(Tool::Ssh, app(7, 30.0), &cfg);
        assert_eq!((s.gap_ms, s.baseline_ms, s.excess_ms, s.relayed), (29.0, 4.0, 25.0, true));
        assert!(!gap(Tool::Ssh, app(7, 29.9), &cfg).relayed);
        // VNC: 41 − 1 − 15 = 25 → relayed; 40.9 → 24.9 not.
        let v = gap(Tool::Vnc, app(7, 41.0), &cfg);
        assert_eq!((v.gap_ms, v.baseline_ms, v.excess_ms, v.relayed), (40.0, 15.0, 25.0, true));
        assert!(!gap(Tool::Vnc, app(7, 40.9), &cfg).relayed);
        // min_samples 7: six exchanges are not enough.
        assert!(!gap(Tool::Ssh, app(6, 30.0), &cfg).relayed);
    }

    #[test]
    fn min_samples_boundary_counts_application_exchanges() {
        let cfg = RelayConfig::default();
        // A clear gap (118 ms excess) with min_samples − 1 far-leg exchanges is not judged
        // relayed, even with many transport samples; with min_samples it is, even with few.
        let few = judge(&summary(Tool::Ssh, Some(app(cfg.min_samples - 1, 121.0)), Some(peer(40))), &cfg).unwrap();
        assert_eq!((few.excess_ms, few.samples, few.relayed), (118.0, (4, 40), false));
        let enough = judge(&summary(Tool::Ssh, Some(app(cfg.min_samples, 121.0)), Some(peer(2))), &cfg).unwrap();
        assert_eq!((enough.excess_ms, enough.samples, enough.relayed), (118.0, (5, 2), true));
    }

    #[test]
    fn keystrokes_required() {
        let cfg = RelayConfig::default();
        let mut s = summary(Tool::Ssh, Some(app(9, 121.0)), Some(peer(40)));
        s.keystrokes = Some(keys(MIN_KEYS - 1));
        let nine = judge(&s, &cfg).unwrap();
        assert_eq!((nine.excess_ms, nine.relayed), (118.0, false), "9 keystrokes: not judged relayed");
        s.keystrokes = Some(keys(MIN_KEYS));
        assert!(judge(&s, &cfg).unwrap().relayed, "10 keystrokes: relayed");
        // An idle session (no input) is never judged relayed; its figures are still reported.
        s.keystrokes = None;
        let idle = judge(&s, &cfg).unwrap();
        assert_eq!((idle.gap_ms, idle.relayed), (120.0, false));
    }

    #[test]
    fn direct_and_forwarded_sessions_are_not_relayed() {
        let cfg = RelayConfig::default();
        // Direct VNC: 12 − 1 = 11 ms, 1 ms beyond the baseline.
        let d = gap(Tool::Vnc, app(30, 12.0), &cfg);
        assert_eq!((d.gap_ms, d.excess_ms, d.extra_distance_km, d.relayed), (11.0, 1.0, (50, 100), false));
        // Forwarding relay: the transport RTT grows with the application RTT, no gap.
        let f =
            judge(&summary(Tool::Vnc, Some(app(30, 125.0)), Some(lat(40, 121.0, 122.0, 124.0, 130.0))), &cfg).unwrap();
        assert_eq!((f.gap_ms, f.excess_ms, f.relayed), (4.0, 0.0, false));
        // A gap below the baseline, or negative, gives no excess and no distance.
        let n = judge(&summary(Tool::Ssh, Some(app(30, 20.0)), Some(lat(40, 21.5, 22.0, 24.0, 30.0))), &cfg).unwrap();
        assert_eq!((n.gap_ms, n.excess_ms, n.extra_distance_km, n.relayed), (-1.5, 0.0, (0, 0), false));
    }

    #[test]
    fn no_gap_when_too_few_samples_agree() {
        let cfg = RelayConfig::default();
        let mut s = summary(Tool::Ssh, Some(app(9, 121.0)), Some(peer(40)));
        s.app_rtt_far_estimate =
            Some(FarEstimate { ms: None, agreeing: 2, of: 9, spread_ms: None, status: "insufficient" });
        assert_eq!(judge(&s, &cfg), None, "an insufficient estimate gives no gap, whatever the percentiles say");
        s.app_rtt_far_estimate = None;
        assert_eq!(judge(&s, &cfg), None);
    }

    #[test]
    fn no_gap_without_both_rtts() {
        let cfg = RelayConfig::default();
        assert!(judge(&summary(Tool::Vnc, None, Some(peer(40))), &cfg).is_none());
        // The endpoint's leg is measured but the peer's is not: no gap.
        assert!(judge(&summary(Tool::Ssh, Some(app(9, 121.0)), None), &cfg).is_none());
    }

    /// A transport agreement estimate at `ms` (`agreeing` of 40).
    fn agreed(ms: Option<f64>, agreeing: u64) -> FarEstimate {
        FarEstimate {
            ms,
            agreeing,
            of: 40,
            spread_ms: ms.map(|_| 30.0),
            status: if ms.is_some() { "ok" } else { "insufficient" },
        }
    }

    #[test]
    fn path_is_the_transport_agreement_when_it_explains_the_answers() {
        let cfg = RelayConfig::default();
        // A controller reached directly over a jittery path (±20 ms each way): its answers
        // agree at 140 ms and so do the transport samples (137.5), whose smallest sank to
        // 104 (p10 110, median 130: none of them is the figure). Against the minimum the gap
        // would read 36 ms; against the agreement it is 2.5 and nothing is relayed.
        let mut s = summary(Tool::Vnc, Some(app(30, 140.0)), Some(lat(40, 104.0, 110.0, 130.0, 170.0)));
        s.transport_rtt_estimate.initiator = Some(agreed(Some(137.5), 33));
        // The endpoint's leg agrees elsewhere and is never the path.
        s.transport_rtt_estimate.responder = Some(agreed(Some(140.0), 40));
        let g = judge(&s, &cfg).unwrap();
        assert_eq!((g.gap_ms, g.transport_ms, g.transport_basis), (2.5, 137.5, TransportBasis::Agreement));
        assert_eq!((g.excess_ms, g.samples, g.relayed), (0.0, (30, 40), false));
        // Answers below the agreement, within its window: the same path, a negative gap.
        s.app_rtt_far_estimate = Some(FarEstimate { ms: Some(120.0), ..s.app_rtt_far_estimate.unwrap() });
        let below = judge(&s, &cfg).unwrap();
        assert_eq!((below.gap_ms, below.transport_basis, below.excess_ms), (-17.5, TransportBasis::Agreement, 0.0));
    }

    #[test]
    fn agreement_window_decides_between_agreement_and_minimum() {
        let cfg = RelayConfig::default();
        // Transport agrees at 100 ms: its window is ± 20 ms (a fifth of the centre).
        let mut s = summary(Tool::Ssh, Some(app(9, 120.0)), Some(lat(40, 70.0, 80.0, 95.0, 130.0)));
        s.transport_rtt_estimate.initiator = Some(agreed(Some(100.0), 30));
        let at = judge(&s, &cfg).unwrap();
        assert_eq!((at.gap_ms, at.transport_basis), (20.0, TransportBasis::Agreement), "120 is at the window's edge");
        s.app_rtt_far_estimate = Some(FarEstimate { ms: Some(120.1), ..s.app_rtt_far_estimate.unwrap() });
        let past = judge(&s, &cfg).unwrap();
        assert_eq!((past.gap_ms, past.transport_ms, past.transport_basis), (50.1, 70.0, TransportBasis::Minimum));
        s.app_rtt_far_estimate = Some(FarEstimate { ms: Some(80.0), ..s.app_rtt_far_estimate.unwrap() });
        assert_eq!(judge(&s, &cfg).unwrap().transport_basis, TransportBasis::Agreement, "80 is at the lower edge");
        s.app_rtt_far_estimate = Some(FarEstimate { ms: Some(79.9), ..s.app_rtt_far_estimate.unwrap() });
        assert_eq!(judge(&s, &cfg).unwrap().transport_basis, TransportBasis::Minimum);
        // Near zero the window is at least ± 5 ms.
        let mut z = summary(Tool::Ssh, Some(app(9, 5.4)), Some(lat(40, 0.1, 0.2, 0.4, 2.0)));
        z.transport_rtt_estimate.initiator = Some(agreed(Some(0.4), 30));
        assert_eq!(
            (judge(&z, &cfg).unwrap().gap_ms, judge(&z, &cfg).unwrap().transport_basis),
            (5.0, TransportBasis::Agreement)
        );
        z.app_rtt_far_estimate = Some(FarEstimate { ms: Some(5.5), ..z.app_rtt_far_estimate.unwrap() });
        assert_eq!(
            (judge(&z, &cfg).unwrap().gap_ms, judge(&z, &cfg).unwrap().transport_basis),
            (5.4, TransportBasis::Minimum)
        );
    }

    #[test]
    fn delayed_acknowledgements_do_not_shrink_a_relay_gap() {
        let cfg = RelayConfig::default();
        // OpenSSH's obfuscated client behind a terminating relay next to the sensor: the
        // relay's acknowledgements ride on the next 20 ms chaff packet, so they agree at
        // 19.8 ms while the relay is 0.1 ms away. The controller answers 120.5 ms after the
        // endpoint speaks, far past the transport window: the gap is against the minimum.
        let mut s = summary(Tool::Ssh, Some(app(9, 120.5)), Some(lat(300, 0.1, 2.0, 18.0, 21.0)));
        s.transport_rtt_estimate.initiator = Some(agreed(Some(19.8), 200));
        let g = judge(&s, &cfg).unwrap();
        assert_eq!((g.gap_ms, g.transport_ms, g.transport_basis), (120.4, 0.1, TransportBasis::Minimum));
        assert!(g.relayed);
    }

    #[test]
    fn path_falls_back_to_the_minimum_when_transport_samples_disagree() {
        let cfg = RelayConfig::default();
        let mut s = summary(Tool::Ssh, Some(app(9, 1.2)), Some(peer(40)));
        // 1.2 would be in a window around 1.0 — but too few samples agree for a figure.
        s.transport_rtt_estimate.initiator = Some(agreed(None, 12));
        let g = judge(&s, &cfg).unwrap();
        assert_eq!((g.gap_ms, g.transport_ms, g.transport_basis), (0.2, 1.0, TransportBasis::Minimum));
        assert_eq!((TransportBasis::Agreement.as_str(), TransportBasis::Minimum.as_str()), ("agreement", "minimum"));
    }
}
