//! Keystroke timing: inter-keystroke intervals (IKI), typing bursts, and whether the rhythm is
//! human, automated or hidden by OpenSSH's keystroke obfuscation. Times only — never which
//! key.
//!
//! # Facts used (FINGERPRINTS.md "Keystroke timing")
//! - Human IKI: mean ≈ 240 ms (fast typists ≈ 120 ms), heavy-tailed; pauses over ~1 s end a
//!   typing burst ([`BURST_GAP_US`]).
//! - Automated input: near-constant intervals, a low coefficient of variation
//!   ([`AUTOMATED_MAX_CV`]).
//! - OpenSSH ≥ 9.5 (`ObscureKeystrokeTiming`, default on): while the user types, the client
//!   sends a packet every 20 ms ([`OBFUSCATION_INTERVAL_US`]), real keystrokes and chaff
//!   alike, so the packet rhythm is the fixed cadence, not the typing.

use super::Lat;
use farhand_model::Micros;
use farhand_model::session::KeystrokeStats;

/// A pause longer than this ends a typing burst (and is not an interval).
pub const BURST_GAP_US: Micros = 1_000_000;
/// Coefficient of variation below which a rhythm is called automated.
pub const AUTOMATED_MAX_CV: f64 = 0.15;
/// Fewest intervals before a rhythm is classified.
pub const MIN_INTERVALS: u64 = 8;
/// OpenSSH's obfuscation cadence.
pub const OBFUSCATION_INTERVAL_US: Micros = 20_000;
/// Tolerance around the cadence (scheduling jitter at the client, queueing on the path).
pub const OBFUSCATION_TOLERANCE_US: Micros = 3_000;
/// Intervals needed before their median alone marks the cadence (a path with jitter).
pub const CADENCE_MEDIAN_MIN_INTERVALS: u64 = 30;
/// Share of intervals at the cadence that marks a session as obfuscated.
pub const OBFUSCATION_MIN_SHARE: f64 = 0.6;

/// Keystroke times of one session.
#[derive(Debug, Clone, Default)]
pub struct Keystrokes {
    last: Option<Micros>,
    /// Intervals within bursts.
    iki: Lat,
    /// Keystrokes counted.
    keys: u64,
    /// Typing bursts.
    bursts: u64,
    /// Intervals within [`OBFUSCATION_TOLERANCE_US`] of the obfuscation cadence.
    at_cadence: u64,
    /// The start of an input ON period not yet reported (see [`super::stepping_stone`]).
    on_start: Option<Micros>,
    /// The latest keystroke not yet reported (see [`super::stepping_stone`]).
    pending: Option<Micros>,
}

impl Keystrokes {
    /// One keystroke (or keystroke-sized packet) at `ts`.
    pub fn key(&mut self, ts: Micros) {
        self.keys += 1;
        self.pending = Some(ts);
        if self.last.is_none_or(|l| ts.saturating_sub(l) >= super::stepping_stone::ON_IDLE_US) {
            self.on_start = Some(ts);
        }
        match self.last {
            Some(l) if ts.saturating_sub(l) <= BURST_GAP_US => {
                let d = ts.saturating_sub(l);
                if d.abs_diff(OBFUSCATION_INTERVAL_US) <= OBFUSCATION_TOLERANCE_US {
                    self.at_cadence += 1;
                }
                self.iki.record(d);
            }
            _ => self.bursts += 1,
        }
        self.last = Some(ts);
    }

    /// Keystrokes counted.
    pub fn count(&self) -> u64 {
        self.keys
    }

    /// The start of an input ON period since the last call, if any.
    pub fn take_on_start(&mut self) -> Option<Micros> {
        self.on_start.take()
    }

    /// The latest keystroke since the last call, if any: each keystroke is reported once
    /// (several in one packet share its time and are reported as one).
    pub fn take_key(&mut self) -> Option<Micros> {
        self.pending.take()
    }

    /// Whether the intervals sit on OpenSSH's obfuscation cadence: most of them within
    /// [`OBFUSCATION_TOLERANCE_US`] of it, or — a path with jitter spreads each interval but
    /// not their middle — at least [`CADENCE_MEDIAN_MIN_INTERVALS`] of them with the median
    /// there (no human types a sustained 50 keys a second).
    pub fn on_cadence(&self) -> bool {
        let n = self.iki.len();
        let share = self.at_cadence as f64 >= OBFUSCATION_MIN_SHARE * n as f64;
        let median = n >= CADENCE_MEDIAN_MIN_INTERVALS
            && self.iki.quantile(0.5).is_some_and(|m| m.abs_diff(OBFUSCATION_INTERVAL_US) <= OBFUSCATION_TOLERANCE_US);
        n >= MIN_INTERVALS && (share || median)
    }

    /// The figures; `obfuscated` overrides the rhythm class when the protocol knows better.
    pub fn summary(&self, obfuscated: Option<&bool>) -> Option<KeystrokeStats> {
        if self.keys == 0 {
            return None;
        }
        let ms = |q: f64| self.iki.quantile(q).map(|us| (us as f64 / 100.0).round() / 10.0);
        let cv = self.iki.mean_stdev().filter(|(m, _)| *m > 0.0).map(|(m, s)| ((s / m) * 100.0).round() / 100.0);
        let rhythm = if obfuscated.copied().unwrap_or(false) {
            "interactive_obfuscated"
        } else if self.iki.len() < MIN_INTERVALS {
            "too_few"
        } else if cv.is_some_and(|c| c < AUTOMATED_MAX_CV) {
            "automated"
        } else {
            "human"
        };
        Some(KeystrokeStats {
            keys: self.keys,
            bursts: self.bursts,
            intervals: self.iki.len(),
            iki_p10_ms: ms(0.10),
            iki_median_ms: ms(0.50),
            iki_p90_ms: ms(0.90),
            iki_cv: cv,
            rhythm,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_automated_obfuscated() {
        let mut h = Keystrokes::default();
        let mut t = 0;
        for d in [180u64, 240, 95, 400, 130, 310, 220, 160, 600, 205, 2_500, 150, 170] {
            t += d * 1000;
            h.key(t);
        }
        let s = h.summary(None).unwrap();
        assert_eq!((s.keys, s.bursts, s.intervals, s.rhythm), (13, 2, 11, "human"));
        assert!((s.iki_median_ms.unwrap() - 205.0).abs() < 3.0, "{s:?}");
        let mut a = Keystrokes::default();
        for i in 0..20 {
            a.key(i * 150_000);
        }
        assert_eq!(a.summary(None).unwrap().rhythm, "automated");
        let mut o = Keystrokes::default();
        for i in 0..40 {
            o.key(i * 20_000 + (i % 3) * 500);
        }
        assert!(o.on_cadence());
        assert_eq!(o.summary(Some(&true)).unwrap().rhythm, "interactive_obfuscated");
        assert!(!h.on_cadence());
        assert_eq!(Keystrokes::default().summary(None), None);
    }
    // Tests below were added from mutation testing (MUTATION.md): each pins a figure or a
    // boundary a mutant of this file changed without any test noticing.

    /// Keys at the given gaps (µs) after a first key at 1 s.
    fn typed(gaps: &[u64]) -> Keystrokes {
        let mut k = Keystrokes::default();
        let mut t = 1_000_000;
        k.key(t);
        for g in gaps {
            t += g;
            k.key(t);
        }
        k
    }

    #[test]
    fn on_periods_start_after_the_idle_time_and_are_taken_once() {
        let idle = crate::behaviour::stepping_stone::ON_IDLE_US;
        let mut k = Keystrokes::default();
        k.key(1_000_000);
        assert_eq!(k.take_on_start(), Some(1_000_000));
        assert_eq!(k.take_on_start(), None);
        k.key(1_100_000);
        assert_eq!(k.take_on_start(), None, "a key 100 ms after the last continues the period");
        k.key(1_100_000 + idle - 1);
        assert_eq!(k.take_on_start(), None, "just under the idle time");
        k.key(1_100_000 + 2 * idle - 1);
        assert_eq!(k.take_on_start(), Some(1_100_000 + 2 * idle - 1), "exactly the idle time");
        assert_eq!(k.count(), 4);
    }

    #[test]
    fn every_key_is_taken_once() {
        let mut k = Keystrokes::default();
        assert_eq!(k.take_key(), None);
        k.key(1_000_000);
        assert_eq!(k.take_key(), Some(1_000_000));
        assert_eq!(k.take_key(), None);
        // Within an ON period too (not only its start), and the latest of two not taken.
        k.key(1_100_000);
        k.key(1_150_000);
        assert_eq!(k.take_on_start(), Some(1_000_000));
        assert_eq!(k.take_key(), Some(1_150_000));
        assert_eq!(k.take_key(), None);
    }

    #[test]
    fn bursts_end_after_the_burst_gap_not_at_it() {
        // One interval of exactly BURST_GAP_US stays in the burst; one longer starts a new one.
        let k = typed(&[200_000, BURST_GAP_US, BURST_GAP_US + 1, 300_000]);
        let s = k.summary(None).unwrap();
        assert_eq!((s.keys, s.bursts, s.intervals), (5, 2, 3), "{s:?}");
        assert_eq!(k.count(), 5);
        // Within a burst every interval is recorded once.
        let s = typed(&[150_000; 9]).summary(None).unwrap();
        assert_eq!((s.keys, s.bursts, s.intervals), (10, 1, 9), "{s:?}");
    }

    #[test]
    fn cadence_needs_enough_intervals_and_the_share() {
        let at = OBFUSCATION_INTERVAL_US;
        // Seven intervals on the cadence: too few to say.
        assert!(!typed(&[at; 7]).on_cadence());
        // Eight: enough.
        assert!(typed(&[at; 8]).on_cadence());
        // The tolerance is inclusive on both sides.
        let edge = [at + OBFUSCATION_TOLERANCE_US, at - OBFUSCATION_TOLERANCE_US];
        assert!(typed(&edge.repeat(4)).on_cadence());
        let out = [at + OBFUSCATION_TOLERANCE_US + 1, at - OBFUSCATION_TOLERANCE_US - 1];
        assert!(!typed(&out.repeat(4)).on_cadence());
        // Share: 6 of 10 on the cadence is enough (0.6), 5 of 10 is not; 1 of 10 surely not.
        let mix = |on: usize| {
            let mut g = vec![at; on];
            g.resize(10, 180_000);
            typed(&g)
        };
        assert!(mix(6).on_cadence());
        assert!(!mix(5).on_cadence());
        assert!(!mix(1).on_cadence());
    }

    #[test]
    fn figures_are_in_milliseconds_and_the_cv_is_exact() {
        // Intervals alternating 100 and 300 ms: median between, p10 ≈ 100, p90 ≈ 300, cv 0.5
        // (population standard deviation 100 over mean 200).
        let s = typed(&[100_000, 300_000].repeat(10)).summary(None).unwrap();
        let near = |v: Option<f64>, want: f64| v.is_some_and(|v| (v - want).abs() <= want * 0.01);
        assert!(near(s.iki_p10_ms, 100.0), "{s:?}");
        assert!(near(s.iki_p90_ms, 300.0), "{s:?}");
        assert!(near(s.iki_median_ms, 100.0) || near(s.iki_median_ms, 300.0), "{s:?}");
        assert!(s.iki_cv.is_some_and(|c| (c - 0.5).abs() <= 0.01), "{s:?}");
        assert_eq!(s.rhythm, "human");
        // 0.1 ms resolution: 123.4 ms intervals read 123.x ms, not 1234 or 0.
        let s = typed(&[123_400; 8]).summary(None).unwrap();
        assert!(near(s.iki_median_ms, 123.4), "{s:?}");
        assert_eq!(s.iki_cv, Some(0.0));
    }

    #[test]
    fn rhythm_boundaries() {
        // Exactly MIN_INTERVALS regular intervals are classified; one fewer is too few.
        let n = MIN_INTERVALS as usize;
        assert_eq!(typed(&vec![150_000; n]).summary(None).unwrap().rhythm, "automated");
        assert_eq!(typed(&vec![150_000; n - 1]).summary(None).unwrap().rhythm, "too_few");
        assert_eq!(typed(&vec![150_000; n + 4]).summary(None).unwrap().rhythm, "automated");
        // One key: counted, no interval, no figures.
        let s = typed(&[]).summary(None).unwrap();
        assert_eq!((s.keys, s.bursts, s.intervals, s.iki_median_ms, s.iki_cv), (1, 1, 0, None, None));
        assert_eq!(s.rhythm, "too_few");
        // The protocol's word about obfuscation wins only when it says yes.
        assert_eq!(typed(&vec![150_000; n]).summary(Some(&false)).unwrap().rhythm, "automated");
        // A cv that rounds to the threshold is not below it: human. 170/230 ms alternating gives
        // (230 - 170) / (230 + 170) = 0.15.
        let s = typed(&[170_000, 230_000].repeat(6)).summary(None).unwrap();
        assert_eq!(s.iki_cv, Some(0.15), "{s:?}");
        assert_eq!(s.rhythm, "human");
        let s = typed(&[175_000, 225_000].repeat(6)).summary(None).unwrap();
        assert!(s.iki_cv.is_some_and(|c| c < AUTOMATED_MAX_CV), "{s:?}");
        assert_eq!(s.rhythm, "automated");
    }

    #[test]
    fn the_cadence_survives_jitter_on_the_path() {
        // OpenSSH's 20 ms packets through a relay whose holds move within +-5 ms (order
        // kept): each interval is 20 ms + the difference of two holds, most of them off the
        // +-3 ms tolerance, but their median stays at 20 ms.
        let mut rng = crate::testutil::XorShift64(7);
        let mut k = Keystrokes::default();
        let mut off_tolerance = 0;
        let mut last: Option<u64> = None;
        for i in 0..200u64 {
            let hold = u64::from(rng.byte() % 11) * 1_000;
            let t = 1_000_000 + i * 20_000 + hold;
            if let Some(l) = last
                && (t - l).abs_diff(OBFUSCATION_INTERVAL_US) > OBFUSCATION_TOLERANCE_US
            {
                off_tolerance += 1;
            }
            last = Some(t);
            k.key(t);
        }
        assert!(off_tolerance > 60, "most intervals are off the tolerance: {off_tolerance}");
        assert!(k.on_cadence());
        // Twenty-nine such intervals are not enough for the median alone; a human at 200 ms
        // never is.
        let mut few = Keystrokes::default();
        for i in 0..30u64 {
            few.key(1_000_000 + i * 20_000 + if i % 2 == 1 { 4_500 } else { 0 });
        }
        assert!(!few.on_cadence(), "29 intervals, none within 3 ms of 20 ms");
        let mut human = Keystrokes::default();
        for i in 0..100u64 {
            human.key(1_000_000 + i * 200_000);
        }
        assert!(!human.on_cadence());
    }
}
