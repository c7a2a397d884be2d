//! The delay line: every item is released at its arrival time plus a fixed delay, in arrival
//! order (FIFO), without one item's wait adding to the next one's.
//!
//! [`DelayLine`] is the pure schedule (times are passed in, so it is unit-tested without
//! sleeping); [`pump`] runs one on a thread, fed by a channel whose messages carry the arrival
//! time the reader took right after its `read`/`recv` returned. A [`Shaping`] may move each
//! hold (jitter: order is still kept), drop items, or hold one back for the next to overtake.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::shape::{Fate, Shaping};

/// Longest an item held back for reordering waits for the next item to overtake it; past
/// this it leaves alone (a late item, not a reordered one).
pub const REORDER_WAIT: Duration = Duration::from_millis(10);

/// One queued item.
#[derive(Debug)]
struct Entry<T> {
    /// When it is due.
    due: Instant,
    /// Held back for reordering: the next item leaves first, or this one leaves at the
    /// deadline.
    back: Option<Instant>,
    item: T,
}

/// Items waiting for their release time, oldest first.
#[derive(Debug)]
pub struct DelayLine<T> {
    delay: Duration,
    queue: VecDeque<Entry<T>>,
}

impl<T> DelayLine<T> {
    /// An empty line that holds each item for `delay`.
    pub fn new(delay: Duration) -> Self {
        DelayLine { delay, queue: VecDeque::new() }
    }

    /// When an item that arrived at `arrival` is due: `arrival + delay`, moved by
    /// `offset_us` (never before `arrival`), and no earlier than the item before it, so the
    /// line stays FIFO whatever the offsets or should the arrival times go backwards.
    fn due(&self, arrival: Instant, offset_us: i64) -> Instant {
        let base = arrival + self.delay;
        let moved = Duration::from_micros(offset_us.unsigned_abs());
        let mut due = if offset_us >= 0 { base + moved } else { base.checked_sub(moved).unwrap_or(arrival) };
        if due < arrival {
            due = arrival;
        }
        if let Some(last) = self.queue.back()
            && last.due > due
        {
            due = last.due;
        }
        due
    }

    /// Queues `item`, which arrived at `arrival`: it is due at `arrival + delay`.
    #[cfg(test)]
    pub fn push(&mut self, arrival: Instant, item: T) {
        self.push_moved(arrival, 0, item);
    }

    /// Queues `item` with its hold moved by `offset_us` microseconds (jitter); order is kept.
    pub fn push_moved(&mut self, arrival: Instant, offset_us: i64, item: T) {
        let due = self.due(arrival, offset_us);
        self.queue.push_back(Entry { due, back: None, item });
    }

    /// Queues `item` held back: the item queued after it leaves first when it is due within
    /// [`REORDER_WAIT`] of this one's due time; otherwise this one leaves at that deadline.
    /// With an item already held back at the end of the line, queues it normally.
    pub fn push_held_back(&mut self, arrival: Instant, offset_us: i64, item: T) {
        let due = self.due(arrival, offset_us);
        let back = match self.queue.back() {
            Some(last) if last.back.is_some() => None,
            _ => Some(due + REORDER_WAIT),
        };
        self.queue.push_back(Entry { due, back, item });
    }

    /// When the next item is due, if any is queued.
    pub fn next_due(&self) -> Option<Instant> {
        let front = self.queue.front()?;
        Some(match front.back {
            Some(deadline) => self.queue.get(1).map_or(deadline, |next| next.due.min(deadline)),
            None => front.due,
        })
    }

    /// Takes the next item if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        let front = self.queue.front()?;
        match front.back {
            Some(deadline) => {
                let overtaker_due = self.queue.get(1).is_some_and(|next| next.due <= now && next.due <= deadline);
                if overtaker_due {
                    // the next item overtakes; the held one follows at once
                    if let Some(front) = self.queue.front_mut() {
                        front.back = None;
                    }
                    self.queue.remove(1).map(|e| e.item)
                } else if deadline <= now {
                    self.queue.pop_front().map(|e| e.item)
                } else {
                    None
                }
            }
            None if front.due <= now => self.queue.pop_front().map(|e| e.item),
            None => None,
        }
    }

    /// Number of queued items.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing is queued.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// What the sink of a [`pump`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep delivering.
    Continue,
    /// Stop now; items still queued are dropped.
    Stop,
}

/// Receives `(arrival, item)` messages and hands each item to `sink` at `arrival + delay`, in
/// order, disturbed as `shaping` says (jitter, drops, reordering). Returns when `sink` says
/// [`Flow::Stop`], or when every sender is gone and the queue has drained.
pub fn pump<T>(rx: &Receiver<(Instant, T)>, delay: Duration, mut shaping: Shaping, mut sink: impl FnMut(T) -> Flow) {
    let mut line = DelayLine::new(delay);
    let mut senders_gone = false;
    let mut admit = |line: &mut DelayLine<T>, arrival: Instant, item: T| match shaping.decide(arrival) {
        Fate::Drop => {}
        Fate::Pass(offset) => line.push_moved(arrival, offset, item),
        Fate::Reorder(offset) => line.push_held_back(arrival, offset, item),
    };
    loop {
        let now = Instant::now();
        while let Some(item) = line.pop_due(now) {
            if sink(item) == Flow::Stop {
                return;
            }
        }
        match (line.next_due(), senders_gone) {
            (None, true) => return,
            (None, false) => match rx.recv() {
                Ok((arrival, item)) => admit(&mut line, arrival, item),
                Err(_) => senders_gone = true,
            },
            (Some(due), true) => std::thread::sleep(due.saturating_duration_since(Instant::now())),
            (Some(due), false) => match rx.recv_deadline(due) {
                Ok((arrival, item)) => admit(&mut line, arrival, item),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => senders_gone = true,
            },
        }
    }
}

/// Half of a round-trip delay given in milliseconds, exact to the microsecond (so an odd `D`
/// still adds `D` ms per round trip).
pub fn half_of_ms(round_trip_ms: u64) -> Duration {
    Duration::from_micros(round_trip_ms.saturating_mul(500))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Shaping;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn release_time_is_arrival_plus_delay() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(ms(30));
        line.push(t0, 'a');
        assert_eq!(line.next_due(), Some(t0 + ms(30)));
        assert_eq!(line.pop_due(t0 + ms(29)), None);
        assert_eq!(line.pop_due(t0 + ms(30)), Some('a'));
        assert!(line.is_empty());
    }

    #[test]
    fn spacing_is_kept_not_serialised() {
        // b arrives 5 ms after a: it must leave 5 ms after a, not 30 ms after a.
        let t0 = Instant::now();
        let mut line = DelayLine::new(ms(30));
        line.push(t0, 'a');
        line.push(t0 + ms(5), 'b');
        line.push(t0 + ms(5), 'c');
        assert_eq!(line.len(), 3);
        assert_eq!(line.pop_due(t0 + ms(30)), Some('a'));
        assert_eq!(line.pop_due(t0 + ms(30)), None);
        assert_eq!(line.next_due(), Some(t0 + ms(35)));
        assert_eq!(line.pop_due(t0 + ms(35)), Some('b'));
        assert_eq!(line.pop_due(t0 + ms(35)), Some('c'));
        assert_eq!(line.next_due(), None);
    }

    #[test]
    fn fifo_even_if_arrival_times_go_backwards() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(ms(10));
        line.push(t0 + ms(4), 1);
        line.push(t0, 2);
        assert_eq!(line.pop_due(t0 + ms(13)), None);
        assert_eq!(line.pop_due(t0 + ms(14)), Some(1));
        assert_eq!(line.pop_due(t0 + ms(14)), Some(2));
    }

    #[test]
    fn zero_delay_releases_at_once() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(Duration::ZERO);
        line.push(t0, "x");
        line.push(t0, "y");
        assert_eq!(line.pop_due(t0), Some("x"));
        assert_eq!(line.pop_due(t0), Some("y"));
        assert_eq!(line.pop_due(t0), None);
    }

    #[test]
    fn half_of_odd_delay() {
        assert_eq!(half_of_ms(0), Duration::ZERO);
        assert_eq!(half_of_ms(61), Duration::from_micros(30_500));
        assert_eq!(half_of_ms(200), ms(100));
    }

    #[test]
    fn pump_keeps_spacing_and_order_in_real_time() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let feeder = std::thread::spawn(move || {
            let mut sent = Vec::new();
            for i in 0..5u32 {
                let now = Instant::now();
                sent.push(now);
                tx.send((now, i)).unwrap();
                std::thread::sleep(ms(5));
            }
            sent
        });
        let mut out = Vec::new();
        pump(&rx, ms(40), Shaping::none(), |i| {
            out.push((i, Instant::now()));
            Flow::Continue
        });
        let sent = feeder.join().unwrap();
        let order: Vec<u32> = out.iter().map(|(i, _)| *i).collect();
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
        // Each item is held its 40 ms from its own send, never less; the holds overlap (the
        // last is out about 40 ms after it was sent, not 4 x 40 ms after the first). Only
        // lower bounds and a wide upper one: a loaded machine (CI builds beside it) may wake
        // the pump late, which delays releases but must not fail the test.
        for ((i, released), sent) in out.iter().zip(&sent) {
            assert!(*released >= *sent + ms(40), "item {i} released {:?} after its send", *released - *sent);
        }
        let (_, last) = out[4];
        assert!(last - sent[0] < ms(150), "the holds ran one after the other: {:?}", last - sent[0]);
    }

    #[test]
    fn pump_zero_delay_drains_and_returns() {
        let (tx, rx) = crossbeam_channel::unbounded();
        for i in 0..3 {
            tx.send((Instant::now(), i)).unwrap();
        }
        drop(tx);
        let mut out = Vec::new();
        let t = Instant::now();
        pump(&rx, Duration::ZERO, Shaping::none(), |i| {
            out.push(i);
            Flow::Continue
        });
        assert_eq!(out, vec![0, 1, 2]);
        assert!(t.elapsed() < ms(20));
    }

    #[test]
    fn pump_drains_queue_after_senders_leave() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let t0 = Instant::now();
        tx.send((t0, 'a')).unwrap();
        drop(tx);
        let mut out = Vec::new();
        pump(&rx, ms(15), Shaping::none(), |c| {
            out.push((c, t0.elapsed()));
            Flow::Continue
        });
        assert_eq!(out.len(), 1);
        assert!(out[0].1 >= ms(15));
    }

    #[test]
    fn pump_stops_when_sink_says_so() {
        let (tx, rx) = crossbeam_channel::unbounded();
        for i in 0..3 {
            tx.send((Instant::now(), i)).unwrap();
        }
        let mut out = Vec::new();
        pump(&rx, Duration::ZERO, Shaping::none(), |i| {
            out.push(i);
            if i == 1 { Flow::Stop } else { Flow::Continue }
        });
        assert_eq!(out, vec![0, 1]);
    }
    #[test]
    fn jitter_moves_the_hold_but_keeps_order() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(ms(50));
        line.push_moved(t0, 4_000, 'a'); // due t0 + 54
        line.push_moved(t0 + ms(1), -4_000, 'b'); // would be t0 + 47: kept behind a
        line.push_moved(t0 + ms(20), -3_000, 'c'); // t0 + 67
        assert_eq!(line.next_due(), Some(t0 + ms(54)));
        assert_eq!(line.pop_due(t0 + ms(53)), None);
        assert_eq!(line.pop_due(t0 + ms(54)), Some('a'));
        assert_eq!(line.pop_due(t0 + ms(54)), Some('b'));
        assert_eq!(line.next_due(), Some(t0 + ms(67)));
        assert_eq!(line.pop_due(t0 + ms(67)), Some('c'));
    }

    #[test]
    fn a_negative_offset_never_releases_before_arrival() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(ms(2));
        line.push_moved(t0 + ms(10), -5_000, 'a');
        assert_eq!(line.next_due(), Some(t0 + ms(10)));
        assert_eq!(line.pop_due(t0 + ms(9)), None);
        assert_eq!(line.pop_due(t0 + ms(10)), Some('a'));
    }

    #[test]
    fn a_held_back_item_is_overtaken_by_the_next() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(ms(30));
        line.push(t0, 'a');
        line.push_held_back(t0 + ms(1), 0, 'b'); // due 31, deadline 41
        line.push(t0 + ms(3), 'c'); // due 33: overtakes b
        line.push(t0 + ms(4), 'd');
        assert_eq!(line.pop_due(t0 + ms(30)), Some('a'));
        assert_eq!(line.pop_due(t0 + ms(31)), None);
        assert_eq!(line.next_due(), Some(t0 + ms(33)));
        assert_eq!(line.pop_due(t0 + ms(33)), Some('c'));
        assert_eq!(line.pop_due(t0 + ms(33)), Some('b'));
        assert_eq!(line.pop_due(t0 + ms(33)), None);
        assert_eq!(line.pop_due(t0 + ms(34)), Some('d'));
        assert!(line.is_empty());
    }

    #[test]
    fn a_held_back_item_alone_leaves_at_its_deadline() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(ms(30));
        line.push_held_back(t0, 0, 'a');
        assert_eq!(line.next_due(), Some(t0 + ms(30) + REORDER_WAIT));
        assert_eq!(line.pop_due(t0 + ms(39)), None);
        // the next item comes too late to overtake: a leaves at its deadline, first
        line.push(t0 + ms(15), 'b'); // due 45
        assert_eq!(line.next_due(), Some(t0 + ms(40)));
        assert_eq!(line.pop_due(t0 + ms(40)), Some('a'));
        assert_eq!(line.pop_due(t0 + ms(44)), None);
        assert_eq!(line.pop_due(t0 + ms(45)), Some('b'));
    }

    #[test]
    fn two_held_back_in_a_row_swap_once() {
        let t0 = Instant::now();
        let mut line = DelayLine::new(ms(10));
        line.push_held_back(t0, 0, 'a');
        line.push_held_back(t0 + ms(1), 0, 'b'); // queued normally: overtakes a
        line.push(t0 + ms(2), 'c');
        let now = t0 + ms(12);
        assert_eq!(line.pop_due(now), Some('b'));
        assert_eq!(line.pop_due(now), Some('a'));
        assert_eq!(line.pop_due(now), Some('c'));
    }

    #[test]
    fn pump_drops_and_reorders_as_shaped() {
        use crate::shape::Rng;
        let (tx, rx) = crossbeam_channel::unbounded();
        let t0 = Instant::now();
        for i in 0..2_000u32 {
            tx.send((t0, i)).unwrap();
        }
        drop(tx);
        let shaping = Shaping { drop_pct: 5.0, reorder_pct: 5.0, ..Shaping::jitter(Duration::ZERO, Rng::new(5)) };
        let mut out = Vec::new();
        pump(&rx, Duration::ZERO, shaping, |i| {
            out.push(i);
            Flow::Continue
        });
        assert!((1_850..1_950).contains(&out.len()), "{} of 2000 delivered", out.len());
        let swapped = out.windows(2).filter(|w| w[0] > w[1]).count();
        assert!((50..150).contains(&swapped), "{swapped} swaps");
        // every item at most one place late: reordering swaps neighbours only
        let mut sorted = out.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), out.len(), "an item delivered twice");
    }

    #[test]
    fn jittered_line_keeps_order_without_waiting() {
        use crate::shape::{Fate, Rng};
        // A busy line (an item every 0.5 ms) with ±20 ms of jitter: every item leaves exactly
        // at its own arrival + delay + offset, never held for the one before it, so the mean
        // added delay is the configured one.
        let mut shaping = Shaping::jitter(ms(20), Rng::new(4));
        let mut line = DelayLine::new(ms(60));
        let t0 = Instant::now();
        let mut expected = Vec::new();
        for i in 0..40_000u64 {
            let arrival = t0 + Duration::from_micros(i * 500);
            let Fate::Pass(offset) = shaping.decide(arrival) else { panic!("jitter only") };
            line.push_moved(arrival, offset, i);
            expected.push(shift(arrival + ms(60), offset));
        }
        let mut out = Vec::new();
        while let Some(due) = line.next_due() {
            let i = line.pop_due(due).unwrap();
            out.push((i, due));
        }
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "order kept");
        let mut extra_us = 0i128;
        for (i, due) in &out {
            let want = expected[*i as usize];
            assert_eq!(*due, want, "item {i} left at its own time");
            extra_us += due.duration_since(t0 + Duration::from_micros(i * 500)).as_micros() as i128 - 60_000;
        }
        let mean = extra_us as f64 / out.len() as f64;
        assert!(mean.abs() < 1_000.0, "mean extra hold {mean} us");
    }

    /// `t` moved by `offset_us` microseconds, either way.
    fn shift(t: Instant, offset_us: i64) -> Instant {
        let m = Duration::from_micros(offset_us.unsigned_abs());
        if offset_us >= 0 { t + m } else { t - m }
    }
}
