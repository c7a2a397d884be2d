//! The reporting plane as the binary runs it: the outputs one run feeds (JSON lines, syslog
//! collectors through their spool, the store), what happens to them at the end (drain, the
//! run's report), and the commands that work on what a run left (`farhand report`,
//! `farhand report verify`, `farhand spool flush`).
//!
//! # Contract
//! - [`Outputs::open`] opens every configured output before any packet is read: a store that
//!   cannot be opened, a spool directory that cannot be created or a TLS file that cannot be
//!   read is one error line and exit status 1, never a silent loss later.
//! - Syslog outputs run on a small tokio runtime of their own ([`Outputs`] owns it); the
//!   reporting thread only queues messages (the spool), so a collector that is down never
//!   slows the fast path.
//! - [`Outputs`] hands every batch to each output in turn (JSON lines, each syslog output,
//!   the store); one that fails does not stop the others (the first error is reported), so
//!   a full disk under the JSON file never silences syslog.
//! - [`Outputs::finish`] gives each syslog output up to `drain_timeout` to deliver its
//!   backlog and reports, per output, what was delivered and what stays spooled.

use crate::config::Settings;
use farhand_model::counters::Live;
use farhand_report::metrics::{self, Metrics, OutputGauge};
use farhand_report::plane::{StoreSink, report_from_store};
use farhand_report::sink::json::Observer;
use farhand_report::sink::syslog::forward::{DrainResult, OutputStats, SyslogOutput};
use farhand_report::sink::{JsonLinesSink, Sink};
use farhand_report::store::{self, StoreTarget};
use farhand_report::verdict::Alert;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Everything one run writes alerts to.
pub struct Outputs {
    json: JsonLinesSink,
    /// The JSON-lines file as errors name it.
    json_name: String,
    syslog: Vec<SyslogOutput>,
    store: Option<StoreSink>,
    runtime: Option<tokio::runtime::Runtime>,
    last_sync: std::time::Instant,
}

/// How often the reporting loop's flushes reach the syslog spools' disk.
pub const SPOOL_SYNC_EVERY: Duration = Duration::from_millis(250);

/// What became of one syslog output at the end of a run.
#[derive(Debug, Clone)]
pub struct OutputReport {
    /// The target, as a URL.
    pub target: String,
    /// Its counters.
    pub stats: Arc<OutputStats>,
    /// Whether everything was delivered within the drain time, and what is left.
    pub drain: DrainResult,
}

/// A tokio runtime for the network outputs: one worker thread is plenty.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("farhand-output")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the output runtime: {e}"))
}

impl Outputs {
    /// Opens the JSON-lines file (`settings.alerts`), the syslog outputs and the store
    /// (`live`: a store that falls behind drops batches rather than hold up the others).
    pub fn open(settings: &Settings, observer: &Observer, live: bool) -> Result<Outputs, String> {
        let json = JsonLinesSink::open(&settings.alerts, observer.clone())
            .map_err(|e| format!("{}: cannot write alerts: {e}", settings.alerts))?;
        let r = &settings.reporting;
        let mut runtime = None;
        let mut syslog = Vec::new();
        if !r.syslog.is_empty() || r.metrics.is_some() {
            let rt = runtime.insert(crate::outputs::runtime()?);
            for cfg in &r.syslog {
                let mut cfg = cfg.clone();
                cfg.sender.hostname = observer.name.clone();
                cfg.sender.proc_id = std::process::id().to_string();
                let out = SyslogOutput::start(cfg, &r.spool, rt.handle())?;
                syslog.push(out);
            }
        }
        let store = match &r.store {
            Some(t) => {
                let mut st = store::open(t).map_err(|e| e.to_string())?;
                if let Some(keep) = r.retention {
                    let cutoff = store::retention_cutoff(now_us(), keep);
                    st.prune(cutoff).map_err(|e| e.to_string())?;
                }
                Some(StoreSink::new(st, observer.clone(), live))
            }
            None => None,
        };
        let json_name = if settings.alerts == "-" { "standard output".to_string() } else { settings.alerts.clone() };
        Ok(Outputs { json, json_name, syslog, store, runtime, last_sync: std::time::Instant::now() })
    }

    /// Serves `/metrics` on `addr` (the live counters plus each syslog output's), on the
    /// outputs' runtime. Returns the bound address.
    pub fn serve_metrics(&self, addr: SocketAddr, live: Arc<Live>) -> Result<SocketAddr, String> {
        let Some(rt) = &self.runtime else {
            return Err("metrics: no runtime (metrics.listen was not configured)".into());
        };
        let m = Metrics::new(live);
        for o in &self.syslog {
            let stats = o.stats();
            m.add_output(
                o.label(),
                Box::new(move || {
                    let s = stats.snapshot();
                    OutputGauge {
                        queued: s.queued,
                        delivered: s.acked,
                        dropped: s.overflow,
                        backlog_messages: s.backlog,
                        backlog_bytes: s.backlog_bytes,
                        reconnects: s.reconnects,
                    }
                }),
            );
        }
        metrics::start(addr, Arc::new(m), rt.handle())
    }

    /// The earliest and latest alert time the store received (µs).
    pub fn stored_span(&self) -> Option<(i64, i64)> {
        self.store.as_ref().and_then(StoreSink::span)
    }

    /// Makes every syslog spool durable now.
    fn sync_spools(&mut self) -> std::io::Result<()> {
        let mut first = None;
        for s in &mut self.syslog {
            if let Err(e) = s.flush() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Syncs the spools, drains each syslog output for up to `timeout` (all at once) and
    /// stops the runtime.
    pub fn finish(mut self, timeout: Duration) -> Vec<OutputReport> {
        if let Err(e) = self.sync_spools() {
            tracing::warn!("syslog spool: {e}");
        }
        // Everything queued for the store is written before anyone reads it (--report).
        if let Some(st) = &mut self.store {
            let (_, failed) = st.finish(timeout.max(Duration::from_secs(10)));
            if failed > 0 {
                tracing::warn!("store: {failed} batches could not be written");
            }
        }
        let mut out = Vec::new();
        // The outputs send concurrently: one deadline for all of them.
        let deadline = std::time::Instant::now() + timeout;
        for o in std::mem::take(&mut self.syslog) {
            let target = o.target().to_string();
            let stats = o.stats();
            let drain = o.drain(deadline.saturating_duration_since(std::time::Instant::now()));
            out.push(OutputReport { target, stats, drain });
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
        out
    }
}

impl Sink for Outputs {
    fn emit(&mut self, batch: &[Alert]) -> std::io::Result<()> {
        // Every output gets the batch whatever the others do; the first error is returned,
        // naming its output.
        let json = &self.json_name;
        let mut first = self.json.emit(batch).err().map(|e| std::io::Error::new(e.kind(), format!("{json}: {e}")));
        for s in &mut self.syslog {
            if let Err(e) = s.emit(batch) {
                first.get_or_insert(e);
            }
        }
        if let Some(s) = &mut self.store
            && let Err(e) = s.emit(batch)
        {
            first.get_or_insert(e);
        }
        first.map_or(Ok(()), Err)
    }

    /// Flushes the JSON lines every time; syncs the syslog spools to disk at most every
    /// [`SPOOL_SYNC_EVERY`] (an fsync per finding batch would cost a busy sensor more than
    /// the page cache risks; [`Outputs::finish`] syncs them at the end).
    fn flush(&mut self) -> std::io::Result<()> {
        let json = &self.json_name;
        let mut first = self.json.flush().err().map(|e| std::io::Error::new(e.kind(), format!("{json}: {e}")));
        if self.last_sync.elapsed() >= SPOOL_SYNC_EVERY {
            self.last_sync = std::time::Instant::now();
            if let Err(e) = self.sync_spools() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn written(&self) -> u64 {
        self.json.written()
    }
}

/// Now, µs since the epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Writes the report of `[from_us, to_us)` read from `store` into `out` (replacing a report
/// there), chained to `previous` when given. Returns the HTML file's path and size.
pub fn write_report(
    target: &StoreTarget,
    from_us: i64,
    to_us: i64,
    sensors: &[String],
    out: &Path,
    previous: Option<&Path>,
) -> Result<(std::path::PathBuf, u64), String> {
    let summary = report_from_store(target, "farhand report", (from_us, to_us), sensors, now_us(), out, previous)?;
    Ok((out.join("report.html"), summary.html_bytes))
}
