//! Stepping stones: an endpoint's own outbound interactive session whose typing starts when
//! the input of a session controlling that endpoint starts (Zhang & Paxson, "Detecting
//! Stepping Stones", USENIX Security 2000: ON/OFF periods with a 0.5 s idle threshold; two
//! connections are correlated when their OFF→ON transitions coincide within a small window —
//! 80 ms there — for a large share of periods).
//!
//! # How
//! - Every session whose behaviour reads input (SSH client data after the key exchange, VNC key
//!   and pointer events) reports its initiator's input packets, and the start of each typing
//!   ON period (a keystroke after [`ON_IDLE_US`] without one).
//! - The engine keeps, per controlled host (the session's responder), the recent input times
//!   of the sessions driving it ([`Onsets`]); when a session *initiated by* that host starts a
//!   typing period, it looks for driving input at most [`CORRELATION_WINDOW_US`] before it.
//!   (Driving input rather than driving ON starts: a keepalive answer just before the first
//!   key of a word would otherwise move the driver's ON start out of the window.)
//! - The outbound session counts its ON periods and the matched ones ([`ChainCount`]); the
//!   verdict raises `interactive_relay_chain` when enough of them matched ([`MIN_MATCHED`],
//!   [`MIN_SHARE`]). Workers shard by endpoint, so both sessions of one endpoint meet in one
//!   worker when `home_networks` names the endpoint's network.

use super::Lat;
use farhand_model::Addr;
use farhand_model::Micros;
use farhand_model::session::ChainStats;
use std::collections::{HashMap, VecDeque};

/// Input idle time that ends an ON period.
pub const ON_IDLE_US: Micros = 500_000;
/// Largest lag between a driving ON start and the driven one.
pub const CORRELATION_WINDOW_US: Micros = 80_000;
/// Matched ON periods needed for `interactive_relay_chain`.
pub const MIN_MATCHED: u32 = 4;
/// Share of the outbound session's ON periods that must match.
pub const MIN_SHARE: f64 = 0.5;
/// Input times kept per controlled host.
const PER_HOST: usize = 32;
/// Controlled hosts remembered per worker.
const MAX_HOSTS: usize = 16_384;

/// Recent ON starts of the sessions that drive each controlled host.
#[derive(Debug, Default)]
pub struct Onsets {
    by_host: HashMap<Addr, VecDeque<(Micros, Addr)>>,
}

impl Onsets {
    /// An input ON period of a session driving `controlled` from `driver` began at `ts`.
    pub fn note(&mut self, controlled: Addr, driver: Addr, ts: Micros) {
        if self.by_host.len() >= MAX_HOSTS && !self.by_host.contains_key(&controlled) {
            self.by_host.retain(|_, q| q.back().is_some_and(|(t, _)| ts.saturating_sub(*t) <= 60_000_000));
            if self.by_host.len() >= MAX_HOSTS {
                return;
            }
        }
        let q = self.by_host.entry(controlled).or_default();
        if q.len() >= PER_HOST {
            q.pop_front();
        }
        q.push_back((ts, driver));
    }

    /// The latest ON start of a session driving `host` within the window before `ts`: (lag,
    /// driver).
    pub fn driving(&self, host: Addr, ts: Micros) -> Option<(Micros, Addr)> {
        self.by_host
            .get(&host)?
            .iter()
            .rev()
            .find(|(t, _)| *t <= ts && ts - *t <= CORRELATION_WINDOW_US)
            .map(|(t, d)| (ts - *t, *d))
    }
}

/// An outbound session's ON periods and how many a driving session's input preceded.
#[derive(Debug, Clone, Default)]
pub struct ChainCount {
    /// ON periods.
    pub on_periods: u32,
    /// ON periods with a driving ON start within the window before them.
    pub matched: u32,
    /// Lags of the matched ones.
    pub lag: Lat,
    /// The last driving session's peer (the controller or its relay).
    pub driver: Option<Addr>,
}

impl ChainCount {
    /// One ON period of this session, matched or not.
    pub fn period(&mut self, driving: Option<(Micros, Addr)>) {
        self.on_periods += 1;
        if let Some((lag, driver)) = driving {
            self.matched += 1;
            self.lag.record(lag);
            self.driver = Some(driver);
        }
    }

    /// The figures, when any period matched.
    pub fn stats(&self) -> Option<ChainStats> {
        if self.matched == 0 {
            return None;
        }
        let share = f64::from(self.matched) / f64::from(self.on_periods.max(1));
        Some(ChainStats {
            on_periods: self.on_periods,
            matched: self.matched,
            share: (share * 100.0).round() / 100.0,
            median_lag_ms: self.lag.stats().map(|s| s.p50_ms),
            driver: self.driver.map(|d| d.to_string()),
            chained: self.matched >= MIN_MATCHED && share >= MIN_SHARE,
        })
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
            c.period(o.driving(ep, t + 2_000));
        }
        // An own ON period long after any driving input.
        c.period(o.driving(ep, 40_000_000));
        // Input on another host does not count.
        c.period(o.driving(Addr::v4([10, 0, 0, 6]), 2_000));
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
                c.period(Some((u64::from(i + 1) * 10_000, ctl)));
            }
            for _ in 0..unmatched {
                c.period(None);
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
}
