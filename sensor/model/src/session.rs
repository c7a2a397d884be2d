//! Session summaries: the timing figures of a remote-control session.

use crate::tool::Tool;
use serde::Serialize;

/// A latency distribution's figures (milliseconds, 0.1 ms resolution).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatStats {
    /// Samples.
    pub n: u64,
    /// Smallest.
    pub min_ms: f64,
    /// 10th percentile.
    pub p10_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
}

/// Half-width of the window within which round-trip samples agree: at least this …
pub const AGREE_MIN_US: u64 = 5_000;
/// … or this share of the window's centre, whichever is wider (jitter on a relayed path
/// grows with its length; a stray pairing is usually off by a whole round trip or more).
pub const AGREE_SHARE: f64 = 0.2;

/// The half-width of the agreement window around `centre_us` ([`AGREE_MIN_US`],
/// [`AGREE_SHARE`]), microseconds.
pub fn agree_half_width_us(centre_us: u64) -> u64 {
    AGREE_MIN_US.max((centre_us as f64 * AGREE_SHARE) as u64)
}

/// The agreeing band around the densest window's median is this many times the window's
/// half-width: samples beyond one window but within this of the mode are the same path's
/// jitter (a smooth jitter process puts whole stretches of a short set-up on one side of the
/// path's centre), not stray pairings, which are off by a round trip or more.
pub const AGREE_BAND: u64 = 2;

/// The half-width of the agreeing band around `centre_us` ([`AGREE_BAND`] ×
/// [`agree_half_width_us`]), microseconds.
pub fn agree_band_us(centre_us: u64) -> u64 {
    agree_half_width_us(centre_us).saturating_mul(AGREE_BAND)
}

/// Where most samples of a round trip agree — the far-leg application RTT's, or a transport
/// leg's: the densest window of samples (a cluster) finds the mode, the samples within
/// [`agree_band_us`] of its median agree, and the figure is their Hodges–Lehmann centre (the
/// median of all pairwise means), reported with how many samples agree and how widely they
/// spread. A stray pairing far off (a round trip early or late) is outside the band; one
/// inside it moves the centre by a bounded amount, and only many of them together (over a
/// quarter of the agreeing samples) could carry it — unlike a low percentile of a handful of
/// samples, which one stray pair sets. The pairwise means use every agreeing sample, so a
/// short set-up whose samples a jittery path splits into two groups reads between them rather
/// than at the larger group's median. It is a
/// central figure, so two of them on one jittery path (the far leg's answers and the
/// transport acknowledgements) move together, where the minimum of many transport samples
/// sinks by the jitter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FarEstimate {
    /// The Hodges–Lehmann centre of the agreeing samples, ms; `None` when
    /// [`FarEstimate::status`] is `insufficient`.
    pub ms: Option<f64>,
    /// Samples within the agreeing band around the densest window's median.
    pub agreeing: u64,
    /// All samples.
    pub of: u64,
    /// 10th to 90th percentile of the agreeing samples, ms.
    pub spread_ms: Option<f64>,
    /// `ok`, or `insufficient` when too few samples agree for a figure.
    pub status: &'static str,
}

/// Transport RTT of the two legs seen from the sensor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LegStats {
    /// Between the sensor and the initiator (for SSH/VNC/RDP: the controller, or the relay it
    /// comes through).
    pub initiator: Option<LatStats>,
    /// Between the sensor and the responder (for SSH/VNC/RDP: the endpoint).
    pub responder: Option<LatStats>,
}

/// Where the transport RTT samples of each leg agree ([`FarEstimate`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LegEstimates {
    /// The initiator's leg (for SSH/VNC/RDP: the controller, or the relay it comes through).
    pub initiator: Option<FarEstimate>,
    /// The responder's leg.
    pub responder: Option<FarEstimate>,
}

/// A session's timing figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The tool.
    #[serde(skip)]
    pub tool: Tool,
    /// Transport RTT per leg.
    pub transport_rtt: LegStats,
    /// Application RTT on the far leg: an endpoint message out → the controller's response
    /// it causes, in.
    pub app_rtt_far: Option<LatStats>,
    /// Where the far-leg samples agree ([`FarEstimate`]): the figure the relay gap is built on.
    pub app_rtt_far_estimate: Option<FarEstimate>,
    /// Where each leg's transport RTT samples agree: the initiator's is the path figure the
    /// relay gap subtracts when enough of its samples agree.
    pub transport_rtt_estimate: LegEstimates,
    /// Further far-leg RTTs the timing fits as well as `app_rtt_far` (RDP: a regular frame
    /// stream whose period divides the round trip), ms; `app_rtt_far` is the smallest, so the
    /// gap built on it can only be too low.
    pub app_rtt_far_alternatives_ms: Option<Vec<f64>>,
    /// The opposite direction (controller input in → the endpoint's response out): inside
    /// leg plus the endpoint's processing; the baseline.
    pub app_rtt_near: Option<LatStats>,
    /// Keystroke timing, if the protocol shows keystrokes.
    pub keystrokes: Option<KeystrokeStats>,
    /// Stepping-stone figures, when this session's input followed input on a session
    /// controlling its initiator.
    pub chain: Option<ChainStats>,
}

/// Keystroke figures of a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeystrokeStats {
    /// Keystrokes (VNC key presses; SSH keystroke-sized client packets).
    pub keys: u64,
    /// Typing bursts (separated by pauses over 1 s).
    pub bursts: u64,
    /// Intervals measured within bursts.
    pub intervals: u64,
    /// 10th percentile IKI.
    pub iki_p10_ms: Option<f64>,
    /// Median IKI.
    pub iki_median_ms: Option<f64>,
    /// 90th percentile IKI.
    pub iki_p90_ms: Option<f64>,
    /// Coefficient of variation of the IKI.
    pub iki_cv: Option<f64>,
    /// `human`, `automated`, `interactive_obfuscated` (OpenSSH ≥ 9.5 cadence) or `too_few`.
    pub rhythm: &'static str,
}

/// Stepping-stone figures of an outbound session: how its typing followed input on a session
/// controlling its host (the driving session), by typing periods and by single keystrokes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainStats {
    /// Its input ON periods (typing after 0.5 s without a key).
    pub on_periods: u32,
    /// Those that began within 80 ms after input on a session controlling its host.
    pub matched: u32,
    /// `matched / on_periods`, two decimals.
    pub share: f64,
    /// Median lag between the driving input and the matched ON starts, ms.
    pub median_lag_ms: Option<f64>,
    /// Peer of the driving session (the controller or its relay) of the last match.
    pub driver: Option<String>,
    /// Either rule holds (`rule`): enough for `interactive_relay_chain`.
    pub chained: bool,
    /// Its keystrokes (every key, not only the first of a period).
    pub keys: u32,
    /// Those with driving input in their lag window: at most 30 ms more than the round trip
    /// between the sensor and the endpoint after it (the endpoint forwarding the key).
    pub matched_keys: u32,
    /// `matched_keys / keys`, two decimals.
    pub key_share: f64,
    /// Median lag between the driving input and the matched keystrokes, ms (the inside leg's
    /// round trip plus the endpoint's forwarding).
    pub key_lag_median_ms: Option<f64>,
    /// 90th percentile of that lag, ms.
    pub key_lag_p90_ms: Option<f64>,
    /// The mean chance that a keystroke matched by coincidence — that unrelated driving input
    /// fell in its window at the driving input rate of the moment (0 to 1, two significant
    /// digits).
    pub key_chance: f64,
    /// The chance of at least `matched_keys` coincidental matches among `keys` at
    /// `key_chance` each (binomial tail; 1 when none matched; two significant digits, at
    /// least 1e-300). The key rule needs it at most 1e-6.
    pub coincidence_p: f64,
    /// Which rule chained the session: `periods` (at least 4 matched periods and half of
    /// them), `keys` (at least 10 matched keystrokes, 60 % of them, and `coincidence_p` at
    /// most 1e-6), `periods_and_keys` (both); `null` when not chained.
    pub rule: Option<&'static str>,
}
