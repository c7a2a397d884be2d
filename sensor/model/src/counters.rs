//! Live counters: the running totals the fast path and the reporting plane publish for the
//! metrics endpoint to read while a run goes on.
//!
//! The caller creates one [`Live`] per run (`Live::new(workers)`), shares it as an
//! `Arc<Live>`, hands it to the fast path (the engine's `RunOptions::live`) and to the
//! reporting plane, and lets the metrics endpoint read it at scrape time
//! ([`Live::snapshot`]).
//!
//! # Contract
//! - [`Live`] is `Send + Sync` and lock-free for everything the fast path touches: plain
//!   `AtomicU64`s, read and written with `Ordering::Relaxed` (each value is a total in its
//!   own right; no reader relies on the order between two of them).
//! - The fast path *stores* its running totals (it keeps its own counts and publishes a copy
//!   now and then: every few thousand frames, on a live tick, after a worker's batch and at
//!   the end of the run), never one atomic operation per packet. Each fast-path atomic has
//!   one writer: the reading thread for [`Live::frames`] … [`Live::interface_dropped`], and
//!   worker `i` for its slot [`Live::worker`]`(i)`. So a published value only ever grows,
//!   except [`WorkerCounters::flows_active`], a gauge.
//! - The reporting plane adds to its own counters ([`Live::add_findings`],
//!   [`Live::count_alerts`]) and stores the time of the last report
//!   ([`Live::set_last_report`]); alerts by kind sit behind a mutex (touched once per batch of
//!   alerts, never by the fast path), keyed by the kind's stable name.
//! - Between two publications a reader sees the totals as last published: figures lag the
//!   fast path by at most one publication interval, and the figures of different atomics may
//!   come from slightly different moments.
//! - Nothing here panics: a poisoned alert map is still read and written (it holds plain
//!   counts, always consistent).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// One fast-path worker's published totals (its flow table and detectors). Worker `i`
/// alone writes slot `i`. Each slot has cache lines of its own, so that two workers'
/// stores never contend for one line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerCounters {
    /// Flows this worker's table created.
    pub flows_created: AtomicU64,
    /// Flows held in this worker's table when last published (a gauge).
    pub flows_active: AtomicU64,
    /// Flows evicted to make room for new ones (the table was full).
    pub flows_evicted: AtomicU64,
    /// Packets dropped because the table was full of protected sessions.
    pub flows_dropped_full: AtomicU64,
    /// Flows that ended (closed, timed out, evicted or drained at the end) and went to the
    /// detectors' final judgement.
    pub flows_ended: AtomicU64,
    /// Flows recognised as remote-access sessions.
    pub sessions: AtomicU64,
    /// Finding batches this worker dropped at the crossing because the reporting plane was
    /// behind (live captures only; with one worker, the reading thread's drops).
    pub findings_dropped: AtomicU64,
}

/// The live counters of one run; see the module's contract.
#[derive(Debug)]
pub struct Live {
    /// Frames read from the source.
    pub frames: AtomicU64,
    /// Captured bytes read (the sum of the frames' captured lengths).
    pub bytes: AtomicU64,
    /// Frames without IPv4/IPv6 (ARP, LLDP, …): not decoded.
    pub non_ip: AtomicU64,
    /// IP packets of other protocols than TCP and UDP (ICMP, ESP, GRE, …): not decoded.
    pub other_ip: AtomicU64,
    /// IP fragments: not decoded.
    pub fragments: AtomicU64,
    /// Frames that ended before their TCP/UDP header was complete: not decoded.
    pub truncated: AtomicU64,
    /// Frames too malformed to decode at any layer.
    pub malformed: AtomicU64,
    /// Frames the kernel dropped because the capture buffer was full (live captures).
    pub capture_dropped: AtomicU64,
    /// Frames the interface or its driver dropped (live captures).
    pub interface_dropped: AtomicU64,
    /// Per-worker flow and detector totals, one slot per worker.
    workers: Vec<WorkerCounters>,
    /// Findings the reporting plane received from the crossing.
    pub findings_received: AtomicU64,
    /// When the last audit report was written, Unix seconds (0: none yet).
    pub last_report_unix: AtomicU64,
    /// Alerts raised, by the kind's stable name.
    alerts: Mutex<BTreeMap<String, u64>>,
    /// The eBPF capture's kernel counters by name (empty for other captures).
    kernel: Mutex<Vec<(&'static str, u64)>>,
}

/// The sums of a [`Live`] at one moment: plain numbers, for the metrics endpoint and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Frames read.
    pub frames: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Frames without IPv4/IPv6.
    pub non_ip: u64,
    /// IP packets of other protocols.
    pub other_ip: u64,
    /// IP fragments.
    pub fragments: u64,
    /// Frames truncated before the transport header.
    pub truncated: u64,
    /// Malformed frames.
    pub malformed: u64,
    /// Kernel drops (full capture buffer).
    pub capture_dropped: u64,
    /// Interface or driver drops.
    pub interface_dropped: u64,
    /// Finding batches dropped at the crossing, all workers.
    pub findings_dropped: u64,
    /// Flows created, all workers.
    pub flows_created: u64,
    /// Flows held now, all workers.
    pub flows_active: u64,
    /// Flows evicted, all workers.
    pub flows_evicted: u64,
    /// Packets dropped by full flow tables, all workers.
    pub flows_dropped_full: u64,
    /// Flows ended, all workers.
    pub flows_ended: u64,
    /// Sessions recognised, all workers.
    pub sessions: u64,
    /// Findings received by the reporting plane.
    pub findings_received: u64,
    /// Last audit report, Unix seconds (0: none yet).
    pub last_report_unix: u64,
    /// Alerts by kind name.
    pub alerts: BTreeMap<String, u64>,
    /// The eBPF capture's kernel counters by name (empty for other captures).
    pub kernel: Vec<(&'static str, u64)>,
}

impl Live {
    /// Counters for a run of `workers` fast-path workers (at least one slot).
    pub fn new(workers: usize) -> Live {
        Live {
            frames: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            non_ip: AtomicU64::new(0),
            other_ip: AtomicU64::new(0),
            fragments: AtomicU64::new(0),
            truncated: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            capture_dropped: AtomicU64::new(0),
            interface_dropped: AtomicU64::new(0),
            workers: (0..workers.max(1)).map(|_| WorkerCounters::default()).collect(),
            findings_received: AtomicU64::new(0),
            last_report_unix: AtomicU64::new(0),
            alerts: Mutex::new(BTreeMap::new()),
            kernel: Mutex::new(Vec::new()),
        }
    }

    /// The number of worker slots.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Worker `i`'s slot (`None` past the last slot: that worker publishes nothing).
    pub fn worker(&self, i: usize) -> Option<&WorkerCounters> {
        self.workers.get(i)
    }

    /// Adds `n` findings received by the reporting plane.
    pub fn add_findings(&self, n: u64) {
        self.findings_received.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds alerts by kind name: each item is one alert of that kind.
    pub fn count_alerts<'a>(&self, kinds: impl IntoIterator<Item = &'a str>) {
        let mut map = self.alert_map();
        for kind in kinds {
            match map.get_mut(kind) {
                Some(n) => *n += 1,
                None => {
                    map.insert(kind.to_string(), 1);
                }
            }
        }
    }

    /// Stores when the last audit report was written (Unix seconds).
    pub fn set_last_report(&self, unix_secs: u64) {
        self.last_report_unix.store(unix_secs, Ordering::Relaxed);
    }

    /// The sums of every counter now.
    pub fn snapshot(&self) -> Snapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = Snapshot {
            frames: get(&self.frames),
            bytes: get(&self.bytes),
            non_ip: get(&self.non_ip),
            other_ip: get(&self.other_ip),
            fragments: get(&self.fragments),
            truncated: get(&self.truncated),
            malformed: get(&self.malformed),
            capture_dropped: get(&self.capture_dropped),
            interface_dropped: get(&self.interface_dropped),
            findings_received: get(&self.findings_received),
            last_report_unix: get(&self.last_report_unix),
            alerts: self.alert_map().clone(),
            kernel: self.kernel.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone(),
            ..Snapshot::default()
        };
        for w in &self.workers {
            s.findings_dropped = s.findings_dropped.saturating_add(get(&w.findings_dropped));
            s.flows_created = s.flows_created.saturating_add(get(&w.flows_created));
            s.flows_active = s.flows_active.saturating_add(get(&w.flows_active));
            s.flows_evicted = s.flows_evicted.saturating_add(get(&w.flows_evicted));
            s.flows_dropped_full = s.flows_dropped_full.saturating_add(get(&w.flows_dropped_full));
            s.flows_ended = s.flows_ended.saturating_add(get(&w.flows_ended));
            s.sessions = s.sessions.saturating_add(get(&w.sessions));
        }
        s
    }

    /// The alert map, also when a writer panicked while holding it (plain counts).
    /// Replaces the kernel counters (the reading thread, when it publishes).
    pub fn set_kernel(&self, counters: impl IntoIterator<Item = (&'static str, u64)>) {
        let mut k = self.kernel.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        k.clear();
        k.extend(counters);
    }

    fn alert_map(&self) -> MutexGuard<'_, BTreeMap<String, u64>> {
        self.alerts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn live_is_send_and_sync() {
        fn both<T: Send + Sync>() {}
        both::<Live>();
        both::<Arc<Live>>();
    }

    #[test]
    fn snapshot_sums_worker_slots() {
        let live = Live::new(3);
        assert_eq!(live.workers(), 3);
        live.frames.store(10, Ordering::Relaxed);
        live.malformed.store(2, Ordering::Relaxed);
        for (i, created) in [(0usize, 5u64), (1, 7), (2, 11)] {
            let w = live.worker(i).unwrap();
            w.flows_created.store(created, Ordering::Relaxed);
            w.flows_active.store(1, Ordering::Relaxed);
            w.findings_dropped.store(i as u64, Ordering::Relaxed);
        }
        assert!(live.worker(3).is_none());
        let s = live.snapshot();
        assert_eq!(s.frames, 10);
        assert_eq!(s.malformed, 2);
        assert_eq!(s.flows_created, 23);
        assert_eq!(s.flows_active, 3);
        assert_eq!(s.findings_dropped, 3);
        assert_eq!(s.sessions, 0);
    }

    #[test]
    fn zero_workers_still_has_a_slot() {
        assert_eq!(Live::new(0).workers(), 1);
    }

    #[test]
    fn alerts_count_by_kind_and_reports_store_time() {
        let live = Live::new(1);
        live.count_alerts(["a", "b", "a"]);
        live.count_alerts(["a"]);
        live.add_findings(4);
        live.add_findings(1);
        live.set_last_report(1_700_000_000);
        let s = live.snapshot();
        assert_eq!(s.alerts.get("a"), Some(&3));
        assert_eq!(s.alerts.get("b"), Some(&1));
        assert_eq!(s.findings_received, 5);
        assert_eq!(s.last_report_unix, 1_700_000_000);
    }

    #[test]
    fn a_poisoned_alert_map_is_still_counted() {
        let live = Arc::new(Live::new(1));
        let l2 = live.clone();
        let _ = std::thread::spawn(move || {
            let _g = l2.alerts.lock().unwrap();
            panic!("poison the map");
        })
        .join();
        live.count_alerts(["x"]);
        assert_eq!(live.snapshot().alerts.get("x"), Some(&1));
    }
}
