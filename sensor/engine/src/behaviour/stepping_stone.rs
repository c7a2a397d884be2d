//! Stepping stones: an endpoint's own outbound interactive session typed by the input of a
//! session controlling that endpoint. Two rules, either of which chains a session:
//!
//! - **Typing periods** (Zhang & Paxson, "Detecting Stepping Stones", USENIX Security 2000:
//!   ON/OFF periods with a 0.5 s idle threshold; two connections are correlated when their
//!   OFF→ON transitions coincide within a small window — 80 ms there — for a large share of
//!   periods): at least [`MIN_MATCHED`] typing periods of the outbound session, and at least
//!   [`MIN_SHARE`] of them, began at most [`CORRELATION_WINDOW_US`] after driving input, and
//!   the chance that so many did by coincidence is at most [`MAX_PERIOD_COINCIDENCE`] (the
//!   same bound as for keys, with the period window).
//! - **Keystrokes**: every keystroke of the outbound session, not only the first of a period,
//!   looks for driving input in a narrow lag window before it ([`window`]); the session is
//!   chained when at least [`MIN_MATCHED_KEYS`] keys, and at least [`MIN_KEY_SHARE`] of them,
//!   matched, and the chance that so many matched by coincidence is at most
//!   [`MAX_COINCIDENCE`]. A short session with few pauses has few periods (a 27-second session
//!   typed through VNC had 4, 3 of them matched: too few for the first rule) but dozens of
//!   keys, each forwarded within milliseconds.
//!
//! # How
//! - Every session whose behaviour reads input (SSH client data after the key exchange, VNC key
//!   and pointer events, RDP fast-path input) reports its initiator's input packets, the start
//!   of each typing ON period (a keystroke after [`ON_IDLE_US`] without one) and every
//!   keystroke ([`super::OnStarts`]).
//! - The engine keeps, per controlled host (the session's responder), the recent input times
//!   of the sessions driving it ([`Onsets`]: the last [`PER_HOST`] per host, at most
//!   [`MAX_HOSTS`] hosts; constant time per packet). When a session *initiated by* that host
//!   starts a typing period, it looks for driving input at most [`CORRELATION_WINDOW_US`]
//!   before it. (Driving input rather than driving ON starts: a keepalive answer just before
//!   the first key of a word would otherwise move the driver's ON start out of the window.)
//!   For each of its keystrokes it looks for driving input in the key's lag window and
//!   estimates the chance of a coincidence at that moment ([`Onsets::key`]).
//! - The outbound session counts its ON periods and the matched ones, its keys, the matched
//!   ones, their lags and the summed chances ([`ChainCount`]); its figures
//!   ([`ChainCount::stats`]) say whether either rule holds, and the verdict raises
//!   `interactive_relay_chain` when one does. Workers shard by endpoint, so both sessions of
//!   one endpoint meet in one worker when `home_networks` names the endpoint's network.
//!
//! # The chance of a coincidence
//! Driving input at rate λ (events per second on the controlled host, over the last
//! [`RATE_WINDOW_US`]) falls in a window of width W before a key that has nothing to do with it
//! with probability p ≤ λ·W: the chance of at least one input in the window is at most the
//! number expected in it (Markov's inequality), whatever the input's rhythm. The Poisson figure
//! 1 − e^(−λ·W) would be lower, and too low: a typist's input is more regular than Poisson
//! arrivals (presses ~150 ms apart, each release 50–150 ms after its press) and covers more
//! windows — in the independent-typists test below, 15.2 % of the keys matched where the
//! Poisson figure expected 14.5 %. So p = min(1, λ·W). Two people typing independently, each at
//! ~5 keys/s, with W = 30 ms: about 15 % of the keys match (30 % when the driver is a VNC
//! session, whose every key is a press and a release). The session's keys are n Bernoulli
//! trials with these per-key chances; the figure reported is the binomial tail P(X ≥ matched |
//! n, p̄) at their mean p̄ ([`ln_binomial_tail`]), which by Hoeffding's theorem (1956) is at
//! least the tail of the trials with unequal chances whenever matched ≥ n·p̄ + 1: the estimate
//! errs on the side of "coincidence". Keys less than W apart share driving input and are not
//! independent; human keys rarely are (intervals of 50 ms or more).
//!
//! # Limits
//! - OpenSSH ≥ 9.5 hides keystroke timing behind a 20 ms cadence with chaff: the outbound
//!   session's "keys" are mostly chaff, few match, and only the period rule can chain it.
//! - A controller who moves the mouse all the time (dozens of pointer events a second) makes
//!   every key likely to match by chance: the coincidence bound then refuses the key rule.

use super::Lat;
use farhand_model::Addr;
use farhand_model::Micros;
use farhand_model::session::ChainStats;
use std::collections::{HashMap, VecDeque};

/// Input idle time that ends an ON period.
pub const ON_IDLE_US: Micros = 500_000;
/// Largest lag between driving input and the driven ON start.
pub const CORRELATION_WINDOW_US: Micros = 80_000;
/// Matched ON periods needed for `interactive_relay_chain`.
pub const MIN_MATCHED: u32 = 4;
/// Share of the outbound session's ON periods that must match.
pub const MIN_SHARE: f64 = 0.5;
/// Largest chance that the matched ON periods are coincidences, for the period rule. A typist
/// driving the endpoint at ~5 inputs a second puts input in an 80 ms window before any instant
/// ~40 % of the time, so an unrelated outbound session typed at the same time matches about as
/// many of its periods: 4 of 8 happen by chance one time in three. A stepping stone's 11 of 11
/// at that rate is ~4·10⁻⁵; 1·10⁻⁴ keeps it and refuses chance (a short chain with few
/// periods is left to the key rule).
pub const MAX_PERIOD_COINCIDENCE: f64 = 1e-4;

/// Width of a keystroke's lag window: how long after driving input (and after the inside
/// leg's round trip, [`window`]) a key the endpoint forwards may leave it.
///
/// Forwarding a key is the endpoint's remote-control server injecting it, the terminal or
/// application reading it and the SSH (VNC, RDP) client sending it: well under 5 ms on an
/// idle host (0.2 ms median in the lab's stepping stone). A loaded host adds scheduler
/// latency — a few time slices of 4–10 ms — and the inside leg's jitter (a VPN over home
/// broadband: a few ms) adds to it; 30 ms covers both. It is also as narrow as that allows:
/// the chance that unrelated driving input falls in the window grows with its width (at 5
/// keys/s, 15 % for 30 ms; 40 % for the period rule's 80 ms, where a matched key would say
/// little).
pub const KEY_WINDOW_US: Micros = 30_000;
/// How far below the inside leg's smallest round trip a keystroke's lag may still be: the
/// round trip is read from a histogram of 1 % resolution, and the two packets' timestamps
/// jitter.
pub const KEY_RTT_SLACK_US: Micros = 2_000;
/// The span over which the driving input rate λ behind a key's chance of coincidence is
/// estimated: two ON-period idle thresholds. Long enough to hold 5–15 events of human typing
/// (a count, not a guess), short enough to follow a typing burst starting or stopping.
pub const RATE_WINDOW_US: Micros = 1_000_000;
/// Matched keystrokes needed for the key rule: two short words. With fewer, the coincidence
/// figure rests on too few trials for its assumptions (independent keys, a steady rate) to
/// hold.
pub const MIN_MATCHED_KEYS: u32 = 10;
/// Share of the outbound session's keystrokes that must match for the key rule. In a real
/// chain nearly every key is forwarded (the lab: all of them); the share leaves room for keys
/// typed at the endpoint itself and for a loaded host's late ones, and is above the chance
/// share at human driving rates (3–8 keys/s: 9–24 % with [`KEY_WINDOW_US`], 18–48 % when
/// each key is a press and a release); where the chance comes near it, the coincidence bound
/// ([`MAX_COINCIDENCE`]) decides.
pub const MIN_KEY_SHARE: f64 = 0.6;
/// Largest chance that the matched keys are coincidences, for the key rule. Each session is
/// tested once: a large site with 10⁴–10⁵ interactive outbound sessions a day expects fewer
/// than one false chain a week from chance alone, while a real chain of a few dozen keys is
/// far below it (40 of 40 keys at a 30 % chance each: 10⁻²¹).
pub const MAX_COINCIDENCE: f64 = 1e-6;
/// Input times kept per controlled host: [`RATE_WINDOW_US`] of up to 32 events a second.
pub const PER_HOST: usize = 32;
/// Controlled hosts remembered per worker.
pub const MAX_HOSTS: usize = 16_384;
/// Most terms summed by [`ln_binomial_tail`] before the rest is bounded geometrically.
pub const MAX_TAIL_TERMS: u64 = 100_000;

/// Recent input times of the sessions that drive each controlled host.
#[derive(Debug, Default)]
pub struct Onsets {
    by_host: HashMap<Addr, VecDeque<(Micros, Addr)>>,
}

/// What the driving input on a host says about one keystroke of a session that host opened.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KeyMatch {
    /// The latest driving input in the key's lag window: (lag, driver).
    pub driving: Option<(Micros, Addr)>,
    /// The chance that driving input falls in a window as wide by coincidence, at the driving
    /// input rate of the moment (0 to 1).
    pub chance: f64,
}

/// A keystroke's lag window, `[lo, hi]` microseconds after driving input: the inside leg's
/// smallest round trip (`inside_rtt`, the sensor ↔ endpoint leg of the driven session; 0 when
/// unknown) less [`KEY_RTT_SLACK_US`], and [`KEY_WINDOW_US`] wide. The sensor sees the
/// driving input on its way in and the forwarded key on its way out, so every lag holds one
/// inside round trip: tens of ms through a VPN, well under one on the endpoint's segment.
pub fn window(inside_rtt: Option<Micros>) -> (Micros, Micros) {
    let lo = inside_rtt.unwrap_or(0).saturating_sub(KEY_RTT_SLACK_US);
    (lo, lo.saturating_add(KEY_WINDOW_US))
}

impl Onsets {
    /// Input of a session driving `controlled` from `driver` at `ts`.
    pub fn note(&mut self, controlled: Addr, driver: Addr, ts: Micros) {
        if self.by_host.len() >= MAX_HOSTS && !self.by_host.contains_key(&controlled) {
            self.by_host.retain(|_, q| q.back().is_some_and(|(t, _)| ts.saturating_sub(*t) <= 60_000_000));
            if self.by_host.len() >= MAX_HOSTS {
                return;
            }
        }
        let q = self.by_host.entry(controlled).or_insert_with(|| VecDeque::with_capacity(PER_HOST));
        if q.len() >= PER_HOST {
            q.pop_front();
        }
        q.push_back((ts, driver));
    }

    /// The chance that driving input falls within [`CORRELATION_WINDOW_US`] before `ts` by
    /// coincidence: the key window's chance ([`Onsets::key`]) scaled to the period window.
    pub fn period_chance(&self, host: Addr, ts: Micros) -> f64 {
        let k = self.key(host, ts, None).chance;
        (k * CORRELATION_WINDOW_US as f64 / KEY_WINDOW_US as f64).min(1.0)
    }

    /// The latest input of a session driving `host` within [`CORRELATION_WINDOW_US`] before
    /// `ts` (an ON start): (lag, driver).
    pub fn driving(&self, host: Addr, ts: Micros) -> Option<(Micros, Addr)> {
        self.by_host
            .get(&host)?
            .iter()
            .rev()
            .find(|(t, _)| *t <= ts && ts - *t <= CORRELATION_WINDOW_US)
            .map(|(t, d)| (ts - *t, *d))
    }

    /// A keystroke at `ts` of a session `host` opened, whose inside leg's smallest round trip
    /// is `inside_rtt`: the latest driving input in its lag window ([`window`]), and the
    /// chance of one there by coincidence, min(1, λ·[`KEY_WINDOW_US`]) with λ the driving
    /// input rate over the last [`RATE_WINDOW_US`] (when all [`PER_HOST`] kept inputs are
    /// that recent, over their span instead: a rate the ring cannot count is not
    /// underestimated). One pass over at most [`PER_HOST`] entries.
    pub fn key(&self, host: Addr, ts: Micros, inside_rtt: Option<Micros>) -> KeyMatch {
        let Some(q) = self.by_host.get(&host) else { return KeyMatch::default() };
        let (lo, hi) = window(inside_rtt);
        let mut driving = None;
        let mut recent = 0u32;
        let mut oldest = ts;
        for &(t, d) in q.iter().rev() {
            // Input after the key (out-of-order capture) neither explains it nor counts.
            let Some(lag) = ts.checked_sub(t) else { continue };
            if driving.is_none() && lag >= lo && lag <= hi {
                driving = Some((lag, d));
            }
            if lag < RATE_WINDOW_US {
                recent += 1;
                oldest = t;
            }
        }
        let full = q.len() >= PER_HOST && recent as usize == q.len();
        let span_us = if full { ts.saturating_sub(oldest).max(1) } else { RATE_WINDOW_US };
        let rate = f64::from(recent) * 1e6 / span_us as f64;
        KeyMatch { driving, chance: (rate * KEY_WINDOW_US as f64 / 1e6).min(1.0) }
    }
}

/// An outbound session's ON periods and keystrokes, and how many of them driving input
/// preceded.
#[derive(Debug, Clone, Default)]
pub struct ChainCount {
    /// ON periods.
    pub on_periods: u32,
    /// ON periods with driving input within [`CORRELATION_WINDOW_US`] before them.
    pub matched: u32,
    /// Lags of the matched periods.
    pub lag: Lat,
    /// The last driving session's peer (the controller or its relay).
    pub driver: Option<Addr>,
    /// Keystrokes.
    pub keys: u32,
    /// Keystrokes with driving input in their lag window.
    pub matched_keys: u32,
    /// Lags of the matched keystrokes.
    pub key_lag: Lat,
    /// The keystrokes' chances of a coincidental match, summed.
    pub chance_sum: f64,
    /// The ON periods' chances of a coincidental match, summed.
    pub period_chance_sum: f64,
}

impl ChainCount {
    /// One ON period of this session, matched or not, with the chance of a match by
    /// coincidence at its start ([`Onsets::period_chance`]).
    pub fn period(&mut self, driving: Option<(Micros, Addr)>, chance: f64) {
        self.on_periods = self.on_periods.saturating_add(1);
        self.period_chance_sum += if chance.is_nan() { 1.0 } else { chance.clamp(0.0, 1.0) };
        if let Some((lag, driver)) = driving {
            self.matched = self.matched.saturating_add(1);
            self.lag.record(lag);
            self.driver = Some(driver);
        }
    }

    /// One keystroke of this session, matched or not.
    pub fn key(&mut self, m: KeyMatch) {
        self.keys = self.keys.saturating_add(1);
        // A chance that is not a number counts as certain coincidence.
        self.chance_sum += if m.chance.is_nan() { 1.0 } else { m.chance.clamp(0.0, 1.0) };
        if let Some((lag, driver)) = m.driving {
            self.matched_keys = self.matched_keys.saturating_add(1);
            self.key_lag.record(lag);
            self.driver = Some(driver);
        }
    }

    /// The figures, when any period or keystroke matched.
    pub fn stats(&self) -> Option<ChainStats> {
        if self.matched == 0 && self.matched_keys == 0 {
            return None;
        }
        let share = f64::from(self.matched) / f64::from(self.on_periods.max(1));
        let period_chance = (self.period_chance_sum / f64::from(self.on_periods.max(1))).clamp(0.0, 1.0);
        let ln_periods = ln_binomial_tail(u64::from(self.on_periods), u64::from(self.matched), period_chance);
        let by_periods = self.matched >= MIN_MATCHED && share >= MIN_SHARE && ln_periods <= MAX_PERIOD_COINCIDENCE.ln();
        let key_share = f64::from(self.matched_keys) / f64::from(self.keys.max(1));
        let key_chance = if self.keys == 0 { 0.0 } else { (self.chance_sum / f64::from(self.keys)).clamp(0.0, 1.0) };
        let ln_p = ln_binomial_tail(u64::from(self.keys), u64::from(self.matched_keys), key_chance);
        let by_keys =
            self.matched_keys >= MIN_MATCHED_KEYS && key_share >= MIN_KEY_SHARE && ln_p <= MAX_COINCIDENCE.ln();
        let key_lag = self.key_lag.stats();
        Some(ChainStats {
            on_periods: self.on_periods,
            matched: self.matched,
            share: (share * 100.0).round() / 100.0,
            median_lag_ms: self.lag.stats().map(|s| s.p50_ms),
            driver: self.driver.map(|d| d.to_string()),
            chained: by_periods || by_keys,
            keys: self.keys,
            matched_keys: self.matched_keys,
            key_share: (key_share * 100.0).round() / 100.0,
            key_lag_median_ms: key_lag.map(|s| s.p50_ms),
            key_lag_p90_ms: key_lag.map(|s| s.p90_ms),
            key_chance: two_digits(key_chance),
            coincidence_p: two_digits(ln_p.exp().max(MIN_REPORTED_P)),
            rule: match (by_periods, by_keys) {
                (true, true) => Some("periods_and_keys"),
                (true, false) => Some("periods"),
                (false, true) => Some("keys"),
                (false, false) => None,
            },
        })
    }
}

/// Smallest coincidence chance reported (smaller ones, down to an underflow to 0, read as
/// this).
pub const MIN_REPORTED_P: f64 = 1e-300;

/// `v` to two significant digits (as its shortest decimal form reads: `3.2e-41`, not
/// `3.2000000000000003e-41`); 0 and non-finite values unchanged.
fn two_digits(v: f64) -> f64 {
    // `{:.1e}` writes 0 as `0.0e0` and the non-finite values as `inf`, `-inf` and `NaN`, which
    // parse back to themselves.
    format!("{v:.1e}").parse().unwrap_or(v)
}

/// ln n! — exact sums below 16, Stirling's series above (error below 10⁻¹² there).
fn ln_factorial(n: u64) -> f64 {
    if n < 16 {
        return (2..=n).map(|k| (k as f64).ln()).sum();
    }
    let x = n as f64;
    let x2 = x * x;
    x * x.ln() - x + 0.5 * (std::f64::consts::TAU * x).ln() + 1.0 / (12.0 * x) - 1.0 / (360.0 * x * x2)
        + 1.0 / (1260.0 * x * x2 * x2)
}

/// ln C(n, k), for k ≤ n.
fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n.saturating_sub(k))
}

/// ln P(X ≥ m) for X ~ Binomial(n, p), in log space (no overflow or underflow for any n):
/// 0 when m = 0, −∞ when m > n or p = 0 (a p that is not a number counts as 1). The terms
/// are summed from the one nearest the mode outwards, where they shrink geometrically: from m
/// up when m lies above the mode, else the lower tail from m − 1 down, subtracted from 1;
/// after [`MAX_TAIL_TERMS`] terms the rest is bounded by a geometric series. The result is at
/// most 0.
pub fn ln_binomial_tail(n: u64, m: u64, p: f64) -> f64 {
    tail_summed(n, m, p, MAX_TAIL_TERMS)
}

/// Whether a term (relative to the first) no longer changes a sum in f64: below 1e-17 of it.
fn negligible(rel: f64, sum: f64) -> bool {
    rel < 1e-17 * sum
}

/// [`ln_binomial_tail`] with at most `cap` terms (at least 1) summed past the first before the
/// rest is bounded: the rest of a series whose term ratios fall is at most the last term times
/// r / (1 − r), r the last ratio (below 1 on the side summed: from m up, t(k+1)/t(k) < 1 for
/// k ≥ m > (n+1)p; from m − 1 down, t(k−1)/t(k) < 1 for k ≤ m − 1 < (n+1)p).
fn tail_summed(n: u64, m: u64, p: f64, cap: u64) -> f64 {
    if m == 0 {
        return 0.0;
    }
    if m > n {
        return f64::NEG_INFINITY;
    }
    let p = if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) };
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return 0.0;
    }
    let (ln_p, ln_q) = (p.ln(), (-p).ln_1p());
    let odds = p / (1.0 - p);
    let ln_term = |k: u64| ln_choose(n, k) + k as f64 * ln_p + (n - k) as f64 * ln_q;
    let (nf, mf) = (n as f64, m as f64);
    if mf > (nf + 1.0) * p {
        // Upper tail: t(k+1)/t(k) = (n−k)/(k+1)·p/q, below 1 from k = m on and falling.
        let end = n.min(m.saturating_add(cap));
        let (mut sum, mut rel, mut k) = (1.0f64, 1.0f64, m);
        let mut ratio = 0.0;
        while k < end {
            ratio = (n - k) as f64 / (k + 1) as f64 * odds;
            rel *= ratio;
            sum += rel;
            k += 1;
            if negligible(rel, sum) {
                break;
            }
        }
        if end < n && k == end {
            sum += rel * ratio / (1.0 - ratio);
        }
        (ln_term(m) + sum.ln()).min(0.0)
    } else {
        // Lower tail P(X ≤ m−1): t(k−1)/t(k) = k/(n−k+1)·q/p, below 1 from k = m−1 down.
        let top = m - 1;
        let end = top.saturating_sub(cap);
        let (mut sum, mut rel, mut k) = (1.0f64, 1.0f64, top);
        let mut ratio = 0.0;
        while k > end {
            ratio = k as f64 / (n - k + 1) as f64 / odds;
            rel *= ratio;
            sum += rel;
            k -= 1;
            if negligible(rel, sum) {
                break;
            }
        }
        if end > 0 && k == end {
            sum += rel * ratio / (1.0 - ratio);
        }
        let lower = (ln_term(top) + sum.ln()).exp().min(1.0);
        (-lower).ln_1p().min(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onsets_within_the_window_match() {
        let (ep, ctl) = (Addr::v4([10, 0, 0, 5]), Addr::v4([203, 0, 113, 9]));
        let mut o = Onsets::default();
        let mut c = ChainCount::default();
        for i in 0..6u64 {
            let t = i * 3_000_000;
            o.note(ep, ctl, t);
            c.period(o.driving(ep, t + 2_000), 0.0);
        }
        // An own ON period long after any driving input.
        c.period(o.driving(ep, 40_000_000), 0.0);
        // Input on another host does not count.
        c.period(o.driving(Addr::v4([10, 0, 0, 6]), 2_000), 0.0);
        let s = c.stats().unwrap();
        assert_eq!((s.on_periods, s.matched, s.chained), (8, 6, true));
        assert_eq!(s.median_lag_ms, Some(2.0));
        // Driven before the driver: no.
        assert_eq!(o.driving(ep, 14_999_000), None);
        assert_eq!(ChainCount::default().stats(), None);
    }
    // Tests below were added from mutation testing (MUTATION.md).

    #[test]
    fn window_boundary_lag_and_driver() {
        let (ep, a, b) = (Addr::v4([10, 0, 0, 5]), Addr::v4([203, 0, 113, 9]), Addr::v4([198, 51, 100, 7]));
        let mut o = Onsets::default();
        o.note(ep, a, 1_000_000);
        o.note(ep, b, 1_010_000);
        // The latest input at or before the driven ON start: its lag and driver.
        assert_eq!(o.driving(ep, 1_015_000), Some((5_000, b)));
        // Input after the driven start does not count; the earlier one does (kept, not
        // replaced by the later entry).
        assert_eq!(o.driving(ep, 1_005_000), Some((5_000, a)));
        // The window is inclusive: exactly 80 ms matches, one microsecond more does not.
        assert_eq!(o.driving(ep, 1_010_000 + CORRELATION_WINDOW_US), Some((CORRELATION_WINDOW_US, b)));
        assert_eq!(o.driving(ep, 1_010_000 + CORRELATION_WINDOW_US + 1), None);
        // Same time: lag 0.
        assert_eq!(o.driving(ep, 1_000_000), Some((0, a)));
        assert_eq!(o.driving(ep, 999_999), None);
    }

    #[test]
    fn per_host_queue_keeps_the_last_32_inputs() {
        let (ep, ctl) = (Addr::v4([10, 0, 0, 5]), Addr::v4([203, 0, 113, 9]));
        let mut o = Onsets::default();
        for i in 0..=PER_HOST as u64 {
            o.note(ep, ctl, i * 1_000_000);
        }
        // The first input was dropped, the second is still there.
        assert_eq!(o.driving(ep, 10_000), None);
        assert_eq!(o.driving(ep, 1_010_000), Some((10_000, ctl)));
    }

    #[test]
    fn a_new_host_does_not_evict_recent_ones() {
        // Below the host limit nothing is forgotten, however old.
        let (a, b, ctl) = (Addr::v4([10, 0, 0, 5]), Addr::v4([10, 0, 0, 6]), Addr::v4([203, 0, 113, 9]));
        let mut o = Onsets::default();
        o.note(a, ctl, 0);
        o.note(b, ctl, 120_000_000);
        assert_eq!(o.driving(a, 10_000), Some((10_000, ctl)));
        assert_eq!(o.driving(b, 120_010_000), Some((10_000, ctl)));
    }

    #[test]
    fn host_limit_forgets_idle_hosts_only_when_full() {
        let ctl = Addr::v4([203, 0, 113, 9]);
        let host = |i: usize| Addr::v4([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        let mut o = Onsets::default();
        for i in 0..MAX_HOSTS {
            o.note(host(i), ctl, 0);
        }
        // Full, everyone recent (30 s): a new host is not kept; a known host still is.
        o.note(host(MAX_HOSTS), ctl, 30_000_000);
        assert_eq!(o.driving(host(MAX_HOSTS), 30_001_000), None);
        o.note(host(7), ctl, 30_000_000);
        assert_eq!(o.driving(host(7), 30_001_000), Some((1_000, ctl)));
        // 61 s later the hosts idle for over 60 s are forgotten and the new host is kept;
        // host 7 (30 s ago) stays.
        o.note(host(MAX_HOSTS + 1), ctl, 61_000_000);
        assert_eq!(o.driving(host(MAX_HOSTS + 1), 61_001_000), Some((1_000, ctl)));
        assert_eq!(o.by_host.len(), 2);
        assert!(o.by_host.contains_key(&host(7)));
    }

    #[test]
    fn chain_share_and_thresholds() {
        let ctl = Addr::v4([203, 0, 113, 9]);
        let count = |matched: u32, unmatched: u32| {
            let mut c = ChainCount::default();
            for i in 0..matched {
                c.period(Some((u64::from(i + 1) * 10_000, ctl)), 0.0);
            }
            for _ in 0..unmatched {
                c.period(None, 0.0);
            }
            c.stats().unwrap()
        };
        // 4 of 8: both thresholds exactly met.
        let s = count(MIN_MATCHED, MIN_MATCHED);
        assert_eq!((s.on_periods, s.matched, s.share, s.chained), (8, 4, 0.5, true), "{s:?}");
        assert_eq!(s.driver.as_deref(), Some("203.0.113.9"));
        assert_eq!(s.median_lag_ms, Some(20.0), "{s:?}");
        // 3 of 4: a high share but too few matches.
        let s = count(MIN_MATCHED - 1, 1);
        assert_eq!((s.share, s.chained), (0.75, false), "{s:?}");
        // 4 of 9: enough matches, share below one half.
        let s = count(MIN_MATCHED, MIN_MATCHED + 1);
        assert_eq!((s.share, s.chained), (0.44, false), "{s:?}");
        // 6 of 8: the share is rounded to two decimals.
        assert_eq!(count(6, 2).share, 0.75);
        assert_eq!(count(2, 1).share, 0.67);
    }

    // Keystroke matching and the chance of a coincidence.

    /// SplitMix64: a seeded generator for the typing schedules.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Uniform in [lo, hi) µs.
        fn between(&mut self, lo: Micros, hi: Micros) -> Micros {
            lo + (self.unit() * (hi - lo) as f64) as Micros
        }
        /// Log-normal with the given median (µs) and σ.
        fn lognormal(&mut self, median: f64, sigma: f64) -> Micros {
            let z = (-2.0 * (1.0 - self.unit()).ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos();
            (median * (sigma * z).exp()) as Micros
        }
    }

    /// Key times of a person typing from `start` until `end`: words of 3–8 keys, in-word
    /// intervals log-normal around 150 ms (σ 0.4, at least 40 ms), 250–700 ms between words
    /// and a 1–4 s pause after 2–6 words: about 5 keys/s while typing.
    fn typist(rng: &mut Rng, start: Micros, end: Micros) -> Vec<Micros> {
        let mut keys = Vec::new();
        let mut t = start;
        while t < end {
            for _ in 0..2 + rng.next() % 5 {
                for _ in 0..3 + rng.next() % 6 {
                    keys.push(t);
                    t += rng.lognormal(150_000.0, 0.4).max(40_000);
                }
                t += rng.between(250_000, 700_000);
            }
            t += rng.between(1_000_000, 4_000_000);
        }
        keys.retain(|k| *k < end);
        keys
    }

    /// What happens on one endpoint.
    enum Ev {
        /// Input of the session controlling it (a VNC key press or release).
        Driving(Micros),
        /// A keystroke of its own outbound session.
        Key(Micros),
    }

    /// Runs the events in time order through [`Onsets`] and a [`ChainCount`], as the engine
    /// does (inside leg 0.3 ms).
    fn chain_of(mut events: Vec<Ev>) -> ChainStats {
        let (ep, ctl) = (Addr::v4([10, 0, 0, 5]), Addr::v4([203, 0, 113, 9]));
        let at = |e: &Ev| match e {
            Ev::Driving(t) | Ev::Key(t) => *t,
        };
        events.sort_by_key(at);
        let mut o = Onsets::default();
        let mut c = ChainCount::default();
        let mut last_key: Option<Micros> = None;
        for e in &events {
            match *e {
                Ev::Driving(t) => o.note(ep, ctl, t),
                Ev::Key(t) => {
                    if last_key.is_none_or(|l| t - l >= ON_IDLE_US) {
                        c.period(o.driving(ep, t), o.period_chance(ep, t));
                    }
                    last_key = Some(t);
                    c.key(o.key(ep, t, Some(300)));
                }
            }
        }
        c.stats().unwrap_or(ChainStats {
            on_periods: c.on_periods,
            matched: 0,
            share: 0.0,
            median_lag_ms: None,
            driver: None,
            chained: false,
            keys: c.keys,
            matched_keys: 0,
            key_share: 0.0,
            key_lag_median_ms: None,
            key_lag_p90_ms: None,
            key_chance: 0.0,
            coincidence_p: 1.0,
            rule: None,
        })
    }

    /// A VNC controller's input for these key times: each key a press and, 50–150 ms later, a
    /// release.
    fn vnc_input(rng: &mut Rng, keys: &[Micros]) -> Vec<Ev> {
        keys.iter().flat_map(|&k| [Ev::Driving(k), Ev::Driving(k + rng.between(50_000, 150_000))]).collect()
    }

    #[test]
    fn independent_typists_are_not_chained() {
        // The controller types into the endpoint (VNC) while someone else types into the
        // endpoint's outbound session, independently, for 10 s to 5 min. About 15 % of the
        // outbound keys find controller input in their 30 ms window by chance (15.2 % of
        // 173 646 keys; estimated 16.4 %, the Poisson figure would say 14.5 %); the estimate
        // must not be below that, and the key rule must never chain (the smallest coincidence
        // chance among these sessions is 0.026, the largest matched share 0.23).
        let (mut keys, mut matched, mut chance) = (0u64, 0u64, 0.0);
        for seed in 0..400u64 {
            let mut rng = Rng(seed);
            let secs = 10 + rng.next() % 290;
            let driver = typist(&mut rng, 0, secs * 1_000_000);
            let start = rng.between(0, 5_000_000);
            let driven = typist(&mut rng, start, start + secs * 1_000_000);
            let mut events = vnc_input(&mut rng, &driver);
            events.extend(driven.iter().map(|&k| Ev::Key(k)));
            let s = chain_of(events);
            assert!(!s.chained && s.rule.is_none(), "seed {seed}: {s:?}");
            assert!(s.coincidence_p > MAX_COINCIDENCE, "seed {seed}: {s:?}");
            keys += u64::from(s.keys);
            matched += u64::from(s.matched_keys);
            chance += s.key_chance * f64::from(s.keys);
        }
        let (share, expected) = (matched as f64 / keys as f64, chance / keys as f64);
        assert!((0.1..0.35).contains(&share), "chance matches {share}");
        // The estimate of the chance is not below what happened, and close to it.
        assert!(expected >= share && expected <= 1.15 * share, "matched {share}, expected {expected}");
        // Neither rule chains any of them: in the period rule's 80 ms window 55 % of the ON
        // starts find VNC input while both type, and without its coincidence bound
        // (MAX_PERIOD_COINCIDENCE) it chained 10 of these 400 sessions.
    }

    #[test]
    fn a_short_session_typed_through_vnc_is_chained_by_its_keys() {
        // 25 s: three typing periods of 40 keys, each key pressed through VNC and forwarded by
        // the endpoint into its outbound SSH session 2–5 ms later. Three matched periods are
        // too few for the period rule; 120 matched keys are not.
        for seed in 0..50u64 {
            let mut rng = Rng(seed);
            let mut driver = Vec::new();
            let mut t = 1_000_000;
            for _ in 0..3 {
                for _ in 0..40 {
                    driver.push(t);
                    t += rng.between(100_000, 200_000);
                }
                t += 2_000_000;
            }
            assert!(t <= 26_000_000, "{t}");
            let mut events = vnc_input(&mut rng, &driver);
            events.extend(driver.iter().map(|&k| Ev::Key(k + rng.between(2_000, 5_000))));
            let s = chain_of(events);
            assert_eq!((s.on_periods, s.matched, s.keys, s.matched_keys), (3, 3, 120, 120), "seed {seed}: {s:?}");
            assert_eq!((s.chained, s.rule), (true, Some("keys")), "seed {seed}: {s:?}");
            assert!(s.coincidence_p <= 1e-20, "seed {seed}: {s:?}");
            let (med, p90) = (s.key_lag_median_ms.unwrap(), s.key_lag_p90_ms.unwrap());
            assert!((2.0..=5.1).contains(&med) && (med..=5.1).contains(&p90), "seed {seed}: {s:?}");
            assert_eq!(s.driver.as_deref(), Some("203.0.113.9"));
        }
    }

    /// P(X ≥ m) for Binomial(n, p) by direct summation in f64 (small n only).
    fn direct_tail(n: u64, m: u64, p: f64) -> f64 {
        let mut c = 1.0f64;
        let mut sum = 0.0;
        for k in 0..=n {
            if k > 0 {
                c = c * (n - k + 1) as f64 / k as f64;
            }
            if k >= m {
                sum += c * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32);
            }
        }
        sum
    }

    #[test]
    fn binomial_tail_matches_direct_sums() {
        for n in 0..=60u64 {
            for m in 0..=n {
                for p in [0.001, 0.05, 0.15, 0.26, 0.5, 0.9, 0.999] {
                    let (got, want) = (ln_binomial_tail(n, m, p).exp(), direct_tail(n, m, p));
                    assert!((got - want).abs() <= 1e-9 * want.max(1e-300), "n {n} m {m} p {p}: {got} vs {want}");
                }
            }
        }
        // A known value: P(X ≥ 5 | 8, 0.15) = 0.002 853 873 6… (5 of 8 keys at a 15 % chance
        // each).
        assert!((ln_binomial_tail(8, 5, 0.15).exp() - 0.002_853_873_632_812_5).abs() < 1e-15);
    }

    /// t(k) = P(X = k) for Binomial(n, p) in f64 (small n only).
    fn term(n: u64, k: u64, p: f64) -> f64 {
        let c: f64 = (1..=k).map(|i| (n - k + i) as f64 / i as f64).product();
        c * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32)
    }

    /// What [`tail_summed`] must give with `cap` terms past the first: the terms from the side
    /// nearest the mode (from m up when m > (n+1)p, else from m − 1 down, subtracted from 1),
    /// then the last term times r / (1 − r), r the last ratio, if terms were left.
    fn capped_direct(n: u64, m: u64, p: f64, cap: u64) -> f64 {
        let bound = |last: f64, before: f64| {
            let r = last / before;
            last * r / (1.0 - r)
        };
        if m as f64 > (n + 1) as f64 * p {
            let end = n.min(m + cap);
            let sum: f64 = (m..=end).map(|k| term(n, k, p)).sum();
            let rest = if end < n { bound(term(n, end, p), term(n, end - 1, p)) } else { 0.0 };
            sum + rest
        } else {
            let top = m - 1;
            let low = top.saturating_sub(cap);
            let sum: f64 = (low..=top).map(|k| term(n, k, p)).sum();
            let rest = if low > 0 { bound(term(n, low, p), term(n, low + 1, p)) } else { 0.0 };
            1.0 - (sum + rest).min(1.0)
        }
    }

    #[test]
    fn a_term_below_1e_17_of_the_sum_is_negligible() {
        assert!(negligible(0.0, 1.0));
        assert!(negligible(1.9e-17, 2.0));
        assert!(!negligible(1e-17, 1.0), "the bound itself is not below it");
        assert!(!negligible(1e-17, 0.5));
        assert!(!negligible(1e-3, 1.0));
    }

    #[test]
    fn a_capped_sum_bounds_the_rest_geometrically() {
        // With few terms the geometric bound carries much of the value: each side, each cap,
        // and caps that reach the end of the range (no bound then).
        let mut bounded = 0;
        for n in [10u64, 23, 40] {
            for m in 1..=n {
                for p in [0.05, 0.26, 0.5, 0.83] {
                    for cap in [1u64, 2, 3, 7] {
                        let got = tail_summed(n, m, p, cap).exp();
                        let want = capped_direct(n, m, p, cap);
                        // 1 − (lower tail) cancels: an absolute tolerance there.
                        let lower_side = m as f64 <= (n + 1) as f64 * p;
                        let tol = if lower_side { 1e-12 } else { 1e-9 * want.max(1e-300) };
                        assert!((got - want).abs() <= tol, "n {n} m {m} p {p} cap {cap}: {got} vs {want}");
                        let exact = direct_tail(n, m, p);
                        bounded += usize::from((want - exact).abs() > 1e-6 * exact);
                    }
                }
            }
        }
        assert!(bounded > 100, "the bound mattered in only {bounded} cases");
        // The bound is an upper bound of the rest: from above on the upper side, from below
        // (1 − an upper bound of the lower tail) on the lower side.
        assert!(tail_summed(40, 30, 0.5, 2).exp() >= direct_tail(40, 30, 0.5));
        assert!(tail_summed(40, 12, 0.5, 2).exp() <= direct_tail(40, 12, 0.5));
    }

    #[test]
    fn binomial_tail_edges_and_large_counts() {
        assert_eq!(ln_binomial_tail(10, 0, 0.2), 0.0);
        assert_eq!(ln_binomial_tail(0, 0, 0.2), 0.0);
        assert_eq!(ln_binomial_tail(10, 11, 0.2), f64::NEG_INFINITY);
        assert_eq!(ln_binomial_tail(10, 3, 0.0), f64::NEG_INFINITY);
        assert_eq!(ln_binomial_tail(10, 10, 1.0), 0.0);
        // Out of range or not a number: clamped; NaN counts as certain coincidence.
        assert_eq!(ln_binomial_tail(10, 3, f64::NAN), 0.0);
        assert_eq!(ln_binomial_tail(10, 3, 7.0), 0.0);
        assert_eq!(ln_binomial_tail(10, 3, -1.0), f64::NEG_INFINITY);
        // All n of n: exactly n·ln p, far below what f64 can hold as a probability.
        let l = ln_binomial_tail(5_000, 5_000, 0.26);
        assert!((l - 5_000.0 * 0.26f64.ln()).abs() < 1e-6, "{l}");
        // Millions of keys: finite, and the mean is the median (about one half).
        let l = ln_binomial_tail(10_000_000, 6_000_000, 0.15);
        assert!(l.is_finite() && l < -1e6, "{l}");
        let l = ln_binomial_tail(10_000_000, 1_500_000, 0.15).exp();
        assert!((0.49..0.51).contains(&l), "{l}");
        let l = ln_binomial_tail(u64::from(u32::MAX), 1_000, 0.5);
        assert!(l <= 0.0 && l > -1e-9, "{l}");
        // Always a probability.
        for (n, m, p) in [(1, 1, 0.5), (2, 1, 1e-300), (1_000_000, 999_999, 0.999_999)] {
            let l = ln_binomial_tail(n, m, p);
            assert!(l <= 0.0 && !l.is_nan(), "{n} {m} {p}: {l}");
        }
    }

    #[test]
    fn key_window_follows_the_inside_round_trip() {
        let (ep, ctl) = (Addr::v4([10, 0, 0, 5]), Addr::v4([203, 0, 113, 9]));
        assert_eq!(window(None), (0, KEY_WINDOW_US));
        assert_eq!(window(Some(1_000)), (0, KEY_WINDOW_US));
        assert_eq!(window(Some(40_000)), (38_000, 68_000));
        let mut o = Onsets::default();
        o.note(ep, ctl, 1_000_000);
        // On the endpoint's segment: 0–30 ms, inclusive.
        assert_eq!(o.key(ep, 1_003_000, None).driving, Some((3_000, ctl)));
        assert_eq!(o.key(ep, 1_030_000, None).driving, Some((30_000, ctl)));
        assert_eq!(o.key(ep, 1_030_001, None).driving, None);
        // Through a VPN with a 40 ms round trip: a key 3 ms after the input cannot be its
        // forward; one 45 ms after can.
        assert_eq!(o.key(ep, 1_003_000, Some(40_000)).driving, None);
        assert_eq!(o.key(ep, 1_045_000, Some(40_000)).driving, Some((45_000, ctl)));
        assert_eq!(o.key(ep, 1_068_001, Some(40_000)).driving, None);
        // The latest input in the window wins; input after the key does not count.
        let b = Addr::v4([198, 51, 100, 7]);
        o.note(ep, b, 1_010_000);
        assert_eq!(o.key(ep, 1_012_000, None).driving, Some((2_000, b)));
        assert_eq!(o.key(ep, 1_005_000, None).driving, Some((5_000, ctl)));
        // Another host's input does not count, and no input means no chance either.
        assert_eq!(o.key(Addr::v4([10, 0, 0, 6]), 1_012_000, None), KeyMatch::default());
    }

    #[test]
    fn driving_rate_sets_the_chance() {
        let (ep, ctl) = (Addr::v4([10, 0, 0, 5]), Addr::v4([203, 0, 113, 9]));
        let chance = |per_s: f64| (per_s * KEY_WINDOW_US as f64 / 1e6).min(1.0);
        let mut o = Onsets::default();
        // Ten inputs in the last second (and five older ones, not counted): λ = 10/s.
        for i in 0..5 {
            o.note(ep, ctl, i * 100_000);
        }
        for i in 0..10 {
            o.note(ep, ctl, 10_000_000 + i * 100_000);
        }
        let m = o.key(ep, 10_950_000, None);
        assert!((m.chance - chance(10.0)).abs() < 1e-12, "{m:?}");
        assert!((m.chance - 0.3).abs() < 1e-12, "{m:?}");
        // Exactly one second old: out of the span.
        let m = o.key(ep, 11_000_000, None);
        assert!((m.chance - chance(9.0)).abs() < 1e-12, "{m:?}");
        // Idle: no chance at all.
        assert_eq!(o.key(ep, 30_000_000, None).chance, 0.0);
        // More input than the ring holds in a second (32 in 0.31 s: mouse motion): the rate
        // comes from the ring's span, 100/s, not the 32/s a count would give: 3 expected in
        // the window, a chance of 1.
        let mut o = Onsets::default();
        for i in 0..40 {
            o.note(ep, ctl, 5_000_000 + i * 10_000);
        }
        let m = o.key(ep, 5_400_000, None);
        let span_rate = 32.0 / 0.32;
        assert!((m.chance - chance(span_rate)).abs() < 1e-12, "{m:?}");
        assert_eq!(m.chance, 1.0, "{m:?}");
        // 20 in the last second: 0.6.
        let mut o = Onsets::default();
        for i in 0..20 {
            o.note(ep, ctl, 5_000_000 + i * 50_000);
        }
        assert!((o.key(ep, 5_990_000, None).chance - 0.6).abs() < 1e-12);
    }

    #[test]
    fn key_rule_thresholds() {
        let ctl = Addr::v4([203, 0, 113, 9]);
        // `matched` keys matched and `unmatched` not, each at `chance`.
        let count = |matched: u32, unmatched: u32, chance: f64| {
            let mut c = ChainCount::default();
            for i in 0..matched {
                c.key(KeyMatch { driving: Some((u64::from(i % 4 + 2) * 1_000, ctl)), chance });
            }
            for _ in 0..unmatched {
                c.key(KeyMatch { driving: None, chance });
            }
            c.stats().unwrap()
        };
        // 10 of 10 at 10 %: 1e-10, chained by its keys alone.
        let s = count(MIN_MATCHED_KEYS, 0, 0.1);
        assert_eq!((s.keys, s.matched_keys, s.key_share, s.chained, s.rule), (10, 10, 1.0, true, Some("keys")));
        assert_eq!((s.on_periods, s.matched, s.median_lag_ms), (0, 0, None));
        assert_eq!((s.key_chance, s.coincidence_p), (0.1, 1e-10), "{s:?}");
        assert_eq!((s.key_lag_median_ms, s.key_lag_p90_ms), (Some(3.0), Some(5.0)), "{s:?}");
        assert_eq!(s.driver.as_deref(), Some("203.0.113.9"));
        // One key fewer: too few, however unlikely by chance.
        let s = count(MIN_MATCHED_KEYS - 1, 0, 0.01);
        assert!(s.coincidence_p < 1e-17 && !s.chained && s.rule.is_none(), "{s:?}");
        // Share: 12 of 20 (0.6) is enough, 12 of 21 is not.
        let s = count(12, 8, 0.05);
        assert_eq!((s.key_share, s.rule), (0.6, Some("keys")), "{s:?}");
        let s = count(12, 9, 0.05);
        assert_eq!((s.key_share, s.chained), (0.57, false), "{s:?}");
        // Coincidence: 12 of 16 at 40 % each is quite possible by chance (0.49 %).
        let s = count(12, 4, 0.4);
        assert_eq!((s.coincidence_p, s.chained), (0.0049, false), "{s:?}");
        // The bound itself: 12 of 12 at 31.6 % each is 1e-6.
        let edge = 10f64.powf(-0.5);
        assert!(count(12, 0, edge * 0.999).chained && !count(12, 0, edge * 1.001).chained);
        // A key whose chance is not a number counts as a certain coincidence.
        let mut c = ChainCount::default();
        c.key(KeyMatch { driving: Some((2_000, ctl)), chance: f64::NAN });
        assert_eq!((c.stats().unwrap().key_chance, c.stats().unwrap().coincidence_p), (1.0, 1.0));
        // Both rules: reported as both; keys that matched nothing leave the period figures.
        let mut c = ChainCount::default();
        for i in 0..4 {
            c.period(Some((2_000 + i, ctl)), 0.0);
        }
        for _ in 0..20 {
            c.key(KeyMatch { driving: Some((2_000, ctl)), chance: 0.2 });
        }
        assert_eq!(c.stats().unwrap().rule, Some("periods_and_keys"));
        let mut c = ChainCount::default();
        for i in 0..4 {
            c.period(Some((2_000 + i, ctl)), 0.0);
            c.key(KeyMatch { driving: None, chance: 0.2 });
        }
        let s = c.stats().unwrap();
        assert_eq!(
            (s.rule, s.keys, s.matched_keys, s.coincidence_p, s.key_lag_median_ms),
            (Some("periods"), 4, 0, 1.0, None)
        );
        // Tiny chances are reported at two significant digits, and never as 0.
        assert_eq!(count(40, 0, 0.26).coincidence_p, 4e-24);
        assert_eq!(count(1_000, 0, 0.26).coincidence_p, MIN_REPORTED_P);
    }

    #[test]
    fn two_significant_digits() {
        assert_eq!(two_digits(3.2e-41 * (1.0 + 1e-15)), 3.2e-41);
        assert_eq!(two_digits(0.123456), 0.12);
        assert_eq!(two_digits(0.0), 0.0);
        assert_eq!(two_digits(f64::INFINITY), f64::INFINITY);
        assert_eq!(two_digits(f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert!(two_digits(f64::NAN).is_nan());
    }
}
