//! The reporting plane's parts that join the others: the store as a sink, and the scheduled
//! reports a live sensor writes. (The binary puts its outputs — JSON lines, syslog, the
//! store — behind one sink of its own, `farhand::outputs::Outputs`.)
//!
//! # Contract
//! - [`StoreSink`] turns each batch into [`Records`] and writes them in one transaction; it
//!   remembers the time span of what it wrote (for the report of an offline run).
//! - [`Schedule`] writes the report of each completed period (UTC) once: the directory of a
//!   period that already has a `manifest.json` is left alone, so a restarted sensor does not
//!   write it again; each report chains to the newest earlier one in the same directory.

use crate::audit::{self, Period, ReportMeta};
use crate::records::Records;
use crate::sink::Sink;
use crate::sink::json::Observer;
use crate::store::{self, Store, StoreTarget};
use crate::verdict::Alert;
use std::path::{Path, PathBuf};

/// Writes alerts into a store as rows.
pub struct StoreSink {
    store: Box<dyn Store>,
    observer: Observer,
    written: u64,
    span: Option<(i64, i64)>,
}

impl StoreSink {
    /// A sink writing into `store`, naming the sensor `observer`.
    pub fn new(store: Box<dyn Store>, observer: Observer) -> StoreSink {
        StoreSink { store, observer, written: 0, span: None }
    }

    /// The earliest and latest alert time written (µs), if any.
    pub fn span(&self) -> Option<(i64, i64)> {
        self.span
    }
}

impl Sink for StoreSink {
    fn emit(&mut self, batch: &[Alert]) -> std::io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let records = Records::from_alerts(batch, &self.observer);
        for a in &records.alerts {
            let (lo, hi) = self.span.unwrap_or((a.time_us, a.time_us));
            self.span = Some((lo.min(a.time_us), hi.max(a.time_us)));
        }
        self.store.write(&records).map_err(|e| std::io::Error::other(format!("store: {e}")))?;
        self.written += batch.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
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
        let mut st = store::open(&self.store).map_err(|e| e.to_string())?;
        let sensors = if self.sensor.is_empty() { Vec::new() } else { vec![self.sensor.clone()] };
        let data = st.read(from, to, &sensors).map_err(|e| e.to_string())?;
        let meta = ReportMeta {
            title: format!("farhand {} report", self.period.name()),
            generated_us: now_us,
            sensors,
            store: st.describe(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        audit::write_report(&data, &meta, &out, previous.as_deref())?;
        self.done_until = to;
        Ok(Some(out))
    }
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
        let mut sink = StoreSink::new(store::open(&target).unwrap(), observer);
        // Tuesday 10:00 and Wednesday 10:00.
        let tuesday = alerts_at(MONDAY + DAY + 10 * 3_600_000_000, 40_001);
        let wednesday = alerts_at(MONDAY + 2 * DAY + 10 * 3_600_000_000, 40_002);
        sink.emit(&tuesday).unwrap();
        sink.emit(&wednesday).unwrap();

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
}
