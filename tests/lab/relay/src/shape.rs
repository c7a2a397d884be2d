//! Disturbances beyond the fixed hold, drawn from a seeded generator so a run can be repeated:
//! jitter on every hold (all modes), and for frames (bridge mode) a share dropped and a share
//! reordered, so the endpoints' TCP sees loss and retransmits.
//!
//! Jitter is a smooth random process of time ([`Jitter`]), as the queueing delay of a real path
//! is: a value drawn uniformly within ± the span at knots [`Jitter::period`] apart, straight
//! lines in between. Items close in time are held nearly alike, and the hold changes at most
//! half as fast as time passes, so the line's order is kept without an item ever waiting for
//! the one before it — the mean added delay stays the configured one. (Independent draws per
//! item kept in order would not: on a busy line each item waits for the latest-drawn of its
//! predecessors, and ±20 ms of jitter becomes ~+15 ms of extra delay on every item.)
//!
//! [`Rng`] is a small xorshift64* generator (no dependency, reproducible from its seed);
//! [`Shaping`] turns its draws into one [`Fate`] per item.

use std::time::{Duration, Instant};

/// Multiplier of the golden ratio, used to spread seeds and stream numbers.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// A seeded pseudo-random generator (xorshift64*, seeded through splitmix64): the same seed
/// gives the same draws, on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(GOLDEN);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // xorshift's state must never be zero
        Rng(if z == 0 { GOLDEN } else { z })
    }

    /// The generator of stream `stream` of `seed`: one per connection and direction, so
    /// their draws do not depend on how the streams interleave.
    pub fn stream(seed: u64, stream: u64) -> Self {
        Rng::new(seed ^ stream.wrapping_add(1).wrapping_mul(GOLDEN))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, n)` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        // 53 random bits: every value exactly representable
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: f64) -> bool {
        pct > 0.0 && self.unit() * 100.0 < pct
    }

    /// Uniform whole microseconds in `[-span, +span]`.
    pub fn offset_us(&mut self, span: Duration) -> i64 {
        let span_us = u64::try_from(span.as_micros()).unwrap_or(u64::MAX / 4).min(u64::MAX / 4);
        let draw = self.below(2 * span_us + 1);
        i64::try_from(draw).unwrap_or(0) - i64::try_from(span_us).unwrap_or(0)
    }
}

/// Shortest time between two knots of a [`Jitter`] process.
pub const MIN_KNOT_PERIOD: Duration = Duration::from_millis(50);

/// The jitter process of one direction: offsets in microseconds as a function of arrival time,
/// within ± `span`, linear between knots drawn uniformly every [`Jitter::period`] (at least
/// [`MIN_KNOT_PERIOD`] and four spans, so it never changes faster than half the time that
/// passes). Knots are drawn in order as time goes by, from their own generator.
#[derive(Debug, Clone)]
pub struct Jitter {
    span: Duration,
    period_us: u64,
    rng: Rng,
    /// The first arrival: time 0 of the knots.
    origin: Option<Instant>,
    /// Index of the knot `left` is at; `right` is the next one.
    knot: u64,
    left: i64,
    right: i64,
}

impl Jitter {
    /// A process within ± `span`, its knots drawn from `rng`.
    pub fn new(span: Duration, mut rng: Rng) -> Self {
        let period = MIN_KNOT_PERIOD.max(span.saturating_mul(4));
        let period_us = u64::try_from(period.as_micros()).unwrap_or(u64::MAX).max(1);
        let (left, right) = (rng.offset_us(span), rng.offset_us(span));
        Jitter { span, period_us, rng, origin: None, knot: 0, left, right }
    }

    /// Time between knots.
    pub fn period(&self) -> Duration {
        Duration::from_micros(self.period_us)
    }

    /// The offset at `t`, in microseconds (0 without a span). Times before the first one seen
    /// count as that one.
    pub fn offset_at(&mut self, t: Instant) -> i64 {
        if self.span.is_zero() {
            return 0;
        }
        let origin = *self.origin.get_or_insert(t);
        let e = u64::try_from(t.saturating_duration_since(origin).as_micros()).unwrap_or(u64::MAX);
        let k = e / self.period_us;
        if k > self.knot.saturating_add(1) {
            // idle past whole knots: the ones skipped were never used, draw the two around `t`
            self.left = self.rng.offset_us(self.span);
            self.right = self.rng.offset_us(self.span);
            self.knot = k;
        } else if k > self.knot {
            self.left = self.right;
            self.right = self.rng.offset_us(self.span);
            self.knot = k;
        }
        // an earlier time than the latest seen reads the current segment at its start
        let into = e.saturating_sub(self.knot.saturating_mul(self.period_us)).min(self.period_us);
        let frac = into as f64 / self.period_us as f64;
        self.left + ((self.right - self.left) as f64 * frac).round() as i64
    }
}

/// What becomes of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Lost on the way.
    Drop,
    /// Released after the hold moved by this many microseconds (negative: earlier).
    Pass(i64),
    /// Like [`Fate::Pass`], but held back so that the next item overtakes it (see
    /// [`crate::delay::DelayLine::push_held_back`]).
    Reorder(i64),
}

/// How a direction's items are disturbed beyond the fixed hold.
#[derive(Debug, Clone)]
pub struct Shaping {
    /// How each hold moves: the [`Jitter`] process (± its span).
    pub process: Jitter,
    /// Share of items dropped, in percent (0–100).
    pub drop_pct: f64,
    /// Share of items held back for the next one to overtake, in percent (0–100).
    pub reorder_pct: f64,
    /// The draws.
    pub rng: Rng,
    /// Items dropped so far.
    pub dropped: u64,
    /// Items held back for reordering so far.
    pub reordered: u64,
    /// Names the direction in a log line at each [`Shaping::milestone`] (empty: no log).
    pub label: String,
}

impl Shaping {
    /// No disturbance: every item passes with the fixed hold.
    #[cfg(test)]
    pub fn none() -> Self {
        Shaping::jitter(Duration::ZERO, Rng::new(0))
    }

    /// Jitter only (a byte stream must neither lose nor reorder its chunks).
    pub fn jitter(jitter: Duration, mut rng: Rng) -> Self {
        // the knots have their own generator, so drops and reorders do not move them
        let process = Jitter::new(jitter, Rng::new(rng.next_u64()));
        Shaping { process, drop_pct: 0.0, reorder_pct: 0.0, rng, dropped: 0, reordered: 0, label: String::new() }
    }

    /// Drops and reorders so far, when their sum has just reached a power of two (a log line
    /// now and then, more rarely as they add up).
    pub fn milestone(&self) -> Option<(u64, u64)> {
        let n = self.dropped + self.reordered;
        (n > 0 && n.is_power_of_two()).then_some((self.dropped, self.reordered))
    }

    /// The fate of the next item, which arrived at `arrival` (see [`Shaping::draw`]), logged at
    /// each milestone when the shaping has a label.
    pub fn decide(&mut self, arrival: Instant) -> Fate {
        let fate = self.draw(arrival);
        if !self.label.is_empty()
            && !matches!(fate, Fate::Pass(_))
            && let Some((dropped, reordered)) = self.milestone()
        {
            crate::log(&format!("{}: {dropped} dropped, {reordered} reordered so far", self.label));
        }
        fate
    }

    /// Draws the fate of the next item. Draws only what is configured; the jitter comes from
    /// its own process, so adding drops does not change it.
    fn draw(&mut self, arrival: Instant) -> Fate {
        if self.drop_pct > 0.0 && self.rng.chance(self.drop_pct) {
            self.dropped += 1;
            return Fate::Drop;
        }
        let reorder = self.reorder_pct > 0.0 && self.rng.chance(self.reorder_pct);
        let offset = self.process.offset_at(arrival);
        if reorder {
            self.reordered += 1;
            Fate::Reorder(offset)
        } else {
            Fate::Pass(offset)
        }
    }
}

/// A percentage option: a finite number from 0 to 100.
pub fn parse_pct(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("'{s}' is not a number"))?;
    if v.is_finite() && (0.0..=100.0).contains(&v) { Ok(v) } else { Err(format!("{s} is not within 0-100")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws_other_seed_other_draws() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let xa: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..100).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        // streams of one seed differ from each other and from the seed's own generator
        let s0: Vec<u64> = (0..10)
            .map({
                let mut r = Rng::stream(7, 0);
                move |_| r.next_u64()
            })
            .collect();
        let s1: Vec<u64> = (0..10)
            .map({
                let mut r = Rng::stream(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        assert_ne!(s0, s1);
        assert_ne!(s0.as_slice(), xa.get(..10).unwrap());
    }

    #[test]
    fn zero_seed_is_not_stuck() {
        let mut r = Rng::new(0);
        let x: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert!(x.iter().all(|v| *v != 0));
        assert_ne!(x[0], x[1]);
    }

    #[test]
    fn unit_and_below_stay_in_range_and_spread() {
        let mut r = Rng::new(42);
        let mut buckets = [0u32; 10];
        for _ in 0..100_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            buckets[(u * 10.0) as usize] += 1;
            assert!(r.below(7) < 7);
        }
        assert_eq!(r.below(0), 0);
        for b in buckets {
            assert!((9_000..11_000).contains(&b), "bucket {b}");
        }
    }

    #[test]
    fn chance_matches_its_percentage() {
        let mut r = Rng::new(3);
        let hits = (0..200_000).filter(|_| r.chance(1.0)).count();
        assert!((1_600..2_400).contains(&hits), "{hits} of 200000 at 1 %");
        assert!(!(0..1000).any(|_| r.chance(0.0)));
        assert!((0..1000).all(|_| r.chance(100.0)));
    }

    #[test]
    fn offsets_cover_the_span_both_ways() {
        let mut r = Rng::new(11);
        let span = Duration::from_millis(5);
        let draws: Vec<i64> = (0..50_000).map(|_| r.offset_us(span)).collect();
        assert!(draws.iter().all(|d| (-5_000..=5_000).contains(d)));
        assert!(draws.iter().any(|d| *d < -4_900) && draws.iter().any(|d| *d > 4_900));
        let mean = draws.iter().sum::<i64>() as f64 / draws.len() as f64;
        assert!(mean.abs() < 100.0, "mean {mean} us");
        assert_eq!(r.offset_us(Duration::ZERO), 0);
    }

    #[test]
    fn shaping_shares_and_reproducibility() {
        let make =
            || Shaping { drop_pct: 1.0, reorder_pct: 1.0, ..Shaping::jitter(Duration::from_millis(5), Rng::new(9)) };
        let (mut a, mut b) = (make(), make());
        let t0 = Instant::now();
        let at = |i: u64| t0 + Duration::from_micros(i * 300);
        let fa: Vec<Fate> = (0..100_000).map(|i| a.decide(at(i))).collect();
        let fb: Vec<Fate> = (0..100_000).map(|i| b.decide(at(i))).collect();
        assert_eq!(fa, fb);
        let drops = fa.iter().filter(|f| **f == Fate::Drop).count();
        let reorders = fa.iter().filter(|f| matches!(f, Fate::Reorder(_))).count();
        assert!((800..1_200).contains(&drops), "{drops} drops");
        assert!((750..1_250).contains(&reorders), "{reorders} reorders");
        assert_eq!((a.dropped, a.reordered), (drops as u64, reorders as u64));
        assert!(fa.iter().all(|f| match f {
            Fate::Pass(o) | Fate::Reorder(o) => (-5_000..=5_000).contains(o),
            Fate::Drop => true,
        }));
    }

    #[test]
    fn no_shaping_passes_everything_unmoved() {
        let t0 = Instant::now();
        let mut s = Shaping::none();
        assert!((0..1000).all(|i| s.decide(t0 + Duration::from_millis(i)) == Fate::Pass(0)));
        let mut j = Shaping::jitter(Duration::from_millis(2), Rng::new(1));
        assert!(
            (0..1000).all(|i| matches!(j.decide(t0 + Duration::from_millis(i)), Fate::Pass(o) if o.abs() <= 2_000))
        );
    }

    #[test]
    fn milestones_at_powers_of_two() {
        let mut s = Shaping { drop_pct: 100.0, ..Shaping::jitter(Duration::ZERO, Rng::new(1)) };
        assert_eq!(s.milestone(), None);
        let mut at = Vec::new();
        for _ in 0..20 {
            s.decide(Instant::now());
            if s.milestone().is_some() {
                at.push(s.dropped);
            }
        }
        assert_eq!(at, vec![1, 2, 4, 8, 16]);
    }

    #[test]
    fn percentages_parse() {
        assert_eq!(parse_pct("1"), Ok(1.0));
        assert_eq!(parse_pct("0.5"), Ok(0.5));
        assert!(parse_pct("101").is_err());
        assert!(parse_pct("-1").is_err());
        assert!(parse_pct("NaN").is_err());
        assert!(parse_pct("x").is_err());
    }

    /// Offsets of a ±`span_ms` process every `step_us` over `n` steps.
    fn walk(span_ms: u64, seed: u64, step_us: u64, n: u64) -> Vec<i64> {
        let mut j = Jitter::new(Duration::from_millis(span_ms), Rng::new(seed));
        let t0 = Instant::now();
        (0..n).map(|i| j.offset_at(t0 + Duration::from_micros(i * step_us))).collect()
    }

    #[test]
    fn jitter_stays_within_its_span_and_averages_zero() {
        // ±20 ms: knots 80 ms apart; 2000 s of arrivals every 2 ms (25,000 knots)
        let o = walk(20, 3, 2_000, 1_000_000);
        assert!(o.iter().all(|v| (-20_000..=20_000).contains(v)));
        assert!(o.iter().any(|v| *v < -19_000) && o.iter().any(|v| *v > 19_000), "covers the span");
        let mean = o.iter().sum::<i64>() as f64 / o.len() as f64;
        assert!(mean.abs() < 300.0, "mean {mean} us");
        assert_eq!(Jitter::new(Duration::from_millis(20), Rng::new(3)).period(), Duration::from_millis(80));
        assert_eq!(Jitter::new(Duration::from_millis(5), Rng::new(3)).period(), MIN_KNOT_PERIOD);
        assert!(walk(0, 3, 1_000, 100).iter().all(|v| *v == 0));
    }

    #[test]
    fn jitter_changes_at_most_half_as_fast_as_time() {
        for (span, step) in [(20, 1_000), (5, 250), (20, 37_000)] {
            let o = walk(span, 8, step, 20_000);
            let worst = o.windows(2).map(|w| (w[1] - w[0]).abs()).max().unwrap();
            assert!(worst as u64 <= step / 2 + 1, "±{span} ms every {step} us: a step of {worst} us");
            // and it does move: not a constant
            assert!(worst > 0);
        }
    }

    #[test]
    fn jitter_repeats_from_its_seed_and_survives_idle_gaps() {
        assert_eq!(walk(20, 5, 3_000, 5_000), walk(20, 5, 3_000, 5_000));
        assert_ne!(walk(20, 5, 3_000, 5_000), walk(20, 6, 3_000, 5_000));
        // an hour without items, then on: still within the span, still continuous after it
        let mut j = Jitter::new(Duration::from_millis(20), Rng::new(2));
        let t0 = Instant::now();
        j.offset_at(t0);
        let later = t0 + Duration::from_secs(3600);
        let o: Vec<i64> = (0..1_000).map(|i| j.offset_at(later + Duration::from_millis(i))).collect();
        assert!(o.iter().all(|v| (-20_000..=20_000).contains(v)));
        assert!(o.windows(2).all(|w| (w[1] - w[0]).abs() <= 501));
        // a time before the first one seen reads as it
        let mut k = Jitter::new(Duration::from_millis(20), Rng::new(2));
        let first = k.offset_at(later);
        assert_eq!(k.offset_at(t0), first);
    }
}
