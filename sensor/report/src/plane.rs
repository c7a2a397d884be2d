//! The reporting plane's parts that join the others: the store as a sink, and the scheduled
//! reports a live sensor writes. (The binary puts its outputs — JSON lines, syslog, the
//! store — behind one sink of its own, `farhand::outputs::Outputs`.)
//!
//! # Contract
//! - [`StoreSink`] turns each batch into [`Records`] and hands them to a writer thread of
//!   its own, which writes each batch in one transaction: a slow or unreachable database
//!   never holds up the reporting thread's other outputs. Live, a batch that finds the
//!   queue ([`STORE_QUEUE`] batches) full is dropped and counted; offline it waits, so
//!   nothing is lost. A write that fails is reported by the next `emit` (once).
//!   [`StoreSink::finish`] waits (up to a timeout) until everything queued is written; the sink remembers the
//!   time span of what it was given (for the report of an offline run).
//! - [`Schedule`] writes the report of each completed period (UTC) once: the directory of a
//!   period that already has a `manifest.json` is left alone, so a restarted sensor does not
//!   write it again; each report chains to the newest earlier one in the same directory.

use crate::audit::{self, Period, ReportMeta};
use crate::records::Records;
use crate::sink::Sink;
use crate::sink::json::Observer;
use crate::store::{self, Store, StoreTarget};
use crate::verdict::Alert;
use crossbeam_channel::{Sender, TrySendError, bounded};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Finding batches' rows waiting for the store's writer thread.
pub const STORE_QUEUE: usize = 256;

/// What the store's writer thread reports back.
#[derive(Default)]
struct WriterState {
    /// Alerts whose batch was written.
    stored: u64,
    /// Batches that failed, and the first failure not yet reported by `emit`.
    failed: u64,
    unreported: Option<String>,
}

/// Writes alerts into a store as rows, on a thread of its own.
pub struct StoreSink {
    tx: Option<Sender<Records>>,
    worker: Option<std::thread::JoinHandle<()>>,
    state: Arc<Mutex<WriterState>>,
    observer: Observer,
    live: bool,
    queued: u64,
    dropped: u64,
    span: Option<(i64, i64)>,
}

impl StoreSink {
    /// A sink writing into `store`, naming the sensor `observer`. `live`: a batch that finds
    /// the writer's queue full is dropped and counted (a slow or unreachable database never
    /// holds up the other outputs); otherwise it waits (offline: nothing lost).
    pub fn new(mut store: Box<dyn Store>, observer: Observer, live: bool) -> StoreSink {
        let (tx, rx) = bounded::<Records>(STORE_QUEUE);
        let state = Arc::new(Mutex::new(WriterState::default()));
        let shared = state.clone();
        let worker = std::thread::Builder::new()
            .name("farhand-store".into())
            .spawn(move || {
                for records in rx {
                    let result = store.write(&records);
                    let mut st = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    match result {
                        Ok(()) => st.stored += records.alerts.len() as u64,
                        Err(e) => {
                            st.failed += 1;
                            st.unreported.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
            })
            .ok();
        StoreSink { tx: Some(tx), worker, state, observer, live, queued: 0, dropped: 0, span: None }
    }

    /// The earliest and latest alert time handed to the store (µs), if any.
    pub fn span(&self) -> Option<(i64, i64)> {
        self.span
    }

    /// Alerts dropped because the writer's queue was full (live only).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Waits up to `timeout` for the writer to store everything queued (an unreachable
    /// database must not hold the end of a run for ever). Returns the alerts stored and the
    /// batches that failed; a writer still busy at the timeout is left to the process's end.
    pub fn finish(&mut self, timeout: std::time::Duration) -> (u64, u64) {
        self.tx = None;
        let deadline = std::time::Instant::now() + timeout;
        if let Some(w) = self.worker.take() {
            while !w.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if w.is_finished() {
                let _ = w.join();
            } else {
                tracing::warn!("store: writer still busy after {timeout:?}; its queue is not stored");
            }
        }
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (st.stored, st.failed)
    }
}

impl Drop for StoreSink {
    fn drop(&mut self) {
        self.finish(std::time::Duration::from_secs(10));
    }
}

impl Sink for StoreSink {
    fn emit(&mut self, batch: &[Alert]) -> std::io::Result<()> {
        // A failure of an earlier batch, reported once.
        let failed = self.state.lock().unwrap_or_else(PoisonError::into_inner).unreported.take();
        if batch.is_empty() {
            return failed.map_or(Ok(()), |e| Err(std::io::Error::other(format!("store: {e}"))));
        }
        let records = Records::from_alerts(batch, &self.observer);
        for a in &records.alerts {
            let (lo, hi) = self.span.unwrap_or((a.time_us, a.time_us));
            self.span = Some((lo.min(a.time_us), hi.max(a.time_us)));
        }
        let n = batch.len() as u64;
        let sent = match (&self.tx, self.live) {
            (Some(tx), true) => match tx.try_send(records) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => Err(format!("store: writer behind, {n} alerts not stored")),
                Err(TrySendError::Disconnected(_)) => Err("store: writer thread gone".to_string()),
            },
            (Some(tx), false) => tx.send(records).map_err(|_| "store: writer thread gone".to_string()),
            (None, _) => Err("store: closed".to_string()),
        };
        match sent {
            Ok(()) => self.queued += n,
            Err(e) => {
                self.dropped += n;
                return Err(std::io::Error::other(e));
            }
        }
        failed.map_or(Ok(()), |e| Err(std::io::Error::other(format!("store: {e}"))))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    /// Alerts handed to the writer.
    fn written(&self) -> u64 {
        self.queued
    }
}

/// Scheduled reports: every completed period's report, once.
pub struct Schedule {
    /// The period.
    pub period: Period,
    /// The directory the reports go to (one subdirectory per period).
    pub dir: PathBuf,
    /// The store the reports read.
    pub store: StoreTarget,
    /// The sensor's name (the report covers this sensor only).
    pub sensor: String,
    /// The end of the last period written (µs), so each is written once.
    done_until: i64,
}

impl Schedule {
    /// A schedule of `period` reports into `dir`, read from `store`.
    pub fn new(period: Period, dir: PathBuf, store: StoreTarget, sensor: String) -> Schedule {
        Schedule { period, dir, store, sensor, done_until: i64::MIN }
    }

    /// Writes the report of the last period completed before `now_us` unless it exists.
    /// Returns the directory written, `Ok(None)` when there was nothing to do.
    pub fn tick(&mut self, now_us: i64) -> Result<Option<PathBuf>, String> {
        let (from, to) = self.period.last_complete(now_us);
        if to <= self.done_until {
            return Ok(None);
        }
        let out = self.dir.join(period_dir_name(from));
        if out.join("manifest.json").exists() {
            self.done_until = to;
            return Ok(None);
        }
        let previous = newest_before(&self.dir, &out);
        let sensors = if self.sensor.is_empty() { Vec::new() } else { vec![self.sensor.clone()] };
        let title = format!("farhand {} report", self.period.name());
        report_from_store(&self.store, &title, (from, to), &sensors, now_us, &out, previous.as_deref())?;
        self.done_until = to;
        Ok(Some(out))
    }
}

/// Writes the report of `[from, to)` (µs) for `sensors` (empty: all) read from `target` into
/// `out`, titled `title`, generated at `generated_us`, chained to `previous` when given.
pub fn report_from_store(
    target: &StoreTarget,
    title: &str,
    (from, to): (i64, i64),
    sensors: &[String],
    generated_us: i64,
    out: &Path,
    previous: Option<&Path>,
) -> Result<audit::ReportSummary, String> {
    let mut st = store::open(target).map_err(|e| e.to_string())?;
    let data = st.read(from, to, sensors).map_err(|e| e.to_string())?;
    let meta = ReportMeta {
        title: title.to_string(),
        generated_us,
        sensors: if sensors.is_empty() { data.sensors.clone() } else { sensors.to_vec() },
        store: st.describe(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    audit::write_report(&data, &meta, out, previous)
}

/// A report directory's name: its period's start, `YYYY-MM-DD` (UTC).
pub fn period_dir_name(from_us: i64) -> String {
    jiff::Timestamp::from_microsecond(from_us)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| from_us.to_string())
}

/// The newest report directory in `dir` (by name, which sorts by period) before `this`
/// that holds a manifest.
pub fn newest_before(dir: &Path, this: &Path) -> Option<PathBuf> {
    let this_name = this.file_name()?.to_owned();
    let mut best: Option<std::ffi::OsString> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let name = e.file_name();
        if name < this_name && e.path().join("manifest.json").is_file() && best.as_ref().is_none_or(|b| name > *b) {
            best = Some(name);
        }
    }
    best.map(|b| dir.join(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;
    use farhand_model::HomeNets;
    use farhand_model::tool::Tool;

    const DAY: i64 = 86_400_000_000;
    /// 2026-11-02T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_793_577_600_000_000;

    /// Alerts of one VNC session into a laptop, starting at `at` (µs).
    fn alerts_at(at: i64, port: u16) -> Vec<Alert> {
        let f = crate::testutil::session(Tool::Vnc, ([198, 51, 100, 7], port), ([10, 0, 0, 5], 5900), at as u64);
        let mut v = Verdict::new(HomeNets::new(vec!["10.0.0.0/8".parse().unwrap()]));
        let mut out = Vec::new();
        v.judge(&f, &mut out);
        assert!(!out.is_empty());
        out
    }

    #[test]
    fn a_schedule_writes_each_completed_period_once_chained() {
        let tmp = tempfile::tempdir().unwrap();
        let target = StoreTarget::Sqlite(tmp.path().join("farhand.db"));
        let observer = Observer { name: "gw".into() };
        let mut sink = StoreSink::new(store::open(&target).unwrap(), observer, false);
        // Tuesday 10:00 and Wednesday 10:00.
        let tuesday = alerts_at(MONDAY + DAY + 10 * 3_600_000_000, 40_001);
        let wednesday = alerts_at(MONDAY + 2 * DAY + 10 * 3_600_000_000, 40_002);
        sink.emit(&tuesday).unwrap();
        sink.emit(&wednesday).unwrap();
        assert_eq!(sink.finish(std::time::Duration::from_secs(10)), ((tuesday.len() + wednesday.len()) as u64, 0));

        let reports = tmp.path().join("reports");
        let mut s = Schedule::new(Period::Daily, reports.clone(), target, "gw".into());
        // Wednesday noon: Tuesday is complete.
        let first = s.tick(MONDAY + 2 * DAY + 12 * 3_600_000_000).unwrap().unwrap();
        assert_eq!(first, reports.join("2026-11-03"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(first.join("report.json")).unwrap()).unwrap();
        assert_eq!(json["data"]["alerts"].as_array().unwrap().len(), tuesday.len());
        // Again the same day, and after a restart (a new schedule): nothing new.
        assert_eq!(s.tick(MONDAY + 2 * DAY + 13 * 3_600_000_000).unwrap(), None);
        let mut restarted = Schedule::new(
            Period::Daily,
            reports.clone(),
            StoreTarget::Sqlite(tmp.path().join("farhand.db")),
            "gw".into(),
        );
        assert_eq!(restarted.tick(MONDAY + 2 * DAY + 14 * 3_600_000_000).unwrap(), None);
        // Thursday: Wednesday's report, chained to Tuesday's.
        let second = restarted.tick(MONDAY + 3 * DAY + 1).unwrap().unwrap();
        assert_eq!(second, reports.join("2026-11-04"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(second.join("report.json")).unwrap()).unwrap();
        assert_eq!(json["data"]["alerts"].as_array().unwrap().len(), wednesday.len());
        let v = audit::verify(&[first.clone(), second.clone()]).unwrap();
        assert_eq!(v.dirs, 2);
        // The chain is real: Wednesday's manifest names Tuesday's.
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(second.join("manifest.json")).unwrap()).unwrap();
        let tuesday_manifest = std::fs::read(first.join("manifest.json")).unwrap();
        assert_eq!(m["previous"].as_str().unwrap(), audit::manifest::sha256_hex(&tuesday_manifest));
    }

    #[test]
    fn a_locked_store_never_holds_up_a_live_sensor_and_loses_nothing_offline() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("farhand.db");
        let target = StoreTarget::Sqlite(path.clone());
        let alerts = alerts_at(MONDAY + 10 * 3_600_000_000, 40_003);
        // Another process holds the database: every write waits for its lock.
        let mut sink = StoreSink::new(store::open(&target).unwrap(), Observer { name: "gw".into() }, true);
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let batches = STORE_QUEUE + 40;
        let mut refused = 0;
        for _ in 0..batches {
            // Live: a full queue refuses at once instead of waiting for the lock.
            if sink.emit(&alerts).is_err() {
                refused += 1;
            }
        }
        assert!(refused >= 38, "{refused} of {batches} batches refused");
        assert_eq!(sink.dropped(), refused as u64 * alerts.len() as u64);
        holder.execute_batch("COMMIT").unwrap();
        // What was queued is written once the lock is gone (the first write may have given up
        // after the busy timeout: it is counted as failed, never silently lost).
        let (stored, failed) = sink.finish(std::time::Duration::from_secs(30));
        let queued = (batches - refused) as u64;
        assert_eq!(stored + failed * alerts.len() as u64, queued * alerts.len() as u64);

        // Offline: the same lock makes the reporting thread wait, and nothing is dropped.
        let mut sink = StoreSink::new(store::open(&target).unwrap(), Observer { name: "gw2".into() }, false);
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            holder.execute_batch("COMMIT").unwrap();
        });
        for _ in 0..batches {
            sink.emit(&alerts).unwrap();
        }
        releaser.join().unwrap();
        assert_eq!(sink.dropped(), 0);
        assert_eq!(sink.finish(std::time::Duration::from_secs(30)), (batches as u64 * alerts.len() as u64, 0));
    }
}
