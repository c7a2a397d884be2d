//! The delay line: every item is released at its arrival time plus a fixed delay, in arrival
//! order (FIFO), without one item's wait adding to the next one's.
//!
//! [`DelayLine`] is the pure schedule (times are passed in, so it is unit-tested without
//! sleeping); [`pump`] runs one on a thread, fed by a channel whose messages carry the arrival
//! time the reader took right after its `read`/`recv` returned.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

/// Items waiting for their release time, oldest first.
#[derive(Debug)]
pub struct DelayLine<T> {
    delay: Duration,
    queue: VecDeque<(Instant, T)>,
}

impl<T> DelayLine<T> {
    /// An empty line that holds each item for `delay`.
    pub fn new(delay: Duration) -> Self {
        DelayLine { delay, queue: VecDeque::new() }
    }

    /// Queues `item`, which arrived at `arrival`: it is due at `arrival + delay`. Should the
    /// arrival times ever go backwards, the item is due no earlier than the one before it, so
    /// the line stays FIFO.
    pub fn push(&mut self, arrival: Instant, item: T) {
        let mut due = arrival + self.delay;
        if let Some((last, _)) = self.queue.back()
            && *last > due
        {
            due = *last;
        }
        self.queue.push_back((due, item));
    }

    /// When the oldest item is due, if any is queued.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|(due, _)| *due)
    }

    /// Takes the oldest item if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        match self.queue.front() {
            Some((due, _)) if *due <= now => self.queue.pop_front().map(|(_, item)| item),
            _ => None,
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
/// order. Returns when `sink` says [`Flow::Stop`], or when every sender is gone and the queue
/// has drained.
pub fn pump<T>(rx: &Receiver<(Instant, T)>, delay: Duration, mut sink: impl FnMut(T) -> Flow) {
    let mut line = DelayLine::new(delay);
    let mut senders_gone = false;
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
                Ok((arrival, item)) => line.push(arrival, item),
                Err(_) => senders_gone = true,
            },
            (Some(due), true) => std::thread::sleep(due.saturating_duration_since(Instant::now())),
            (Some(due), false) => match rx.recv_deadline(due) {
                Ok((arrival, item)) => line.push(arrival, item),
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
        let start = Instant::now();
        let feeder = std::thread::spawn(move || {
            for i in 0..5u32 {
                tx.send((Instant::now(), i)).unwrap();
                std::thread::sleep(ms(5));
            }
        });
        let mut out = Vec::new();
        pump(&rx, ms(40), |i| {
            out.push((i, start.elapsed()));
            Flow::Continue
        });
        feeder.join().unwrap();
        let order: Vec<u32> = out.iter().map(|(i, _)| *i).collect();
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
        // first item after ~40 ms, the last ~20 ms after it (not 4 x 40 ms)
        let (_, first) = out[0];
        let (_, last) = out[4];
        assert!(first >= ms(40), "first released after {first:?}");
        assert!(first < ms(60), "first released after {first:?}");
        let spread = last - first;
        assert!(spread >= ms(19) && spread < ms(45), "spread {spread:?}");
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
        pump(&rx, Duration::ZERO, |i| {
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
        pump(&rx, ms(15), |c| {
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
        pump(&rx, Duration::ZERO, |i| {
            out.push(i);
            if i == 1 { Flow::Stop } else { Flow::Continue }
        });
        assert_eq!(out, vec![0, 1]);
    }
}
