//! The wiring: the fast path (`farhand-engine`) on the calling thread and its workers, the
//! reporting plane (`farhand-report`) on a thread of its own, joined by the crossing.
//!
//! # Contract
//! [`run`] returns a [`RunSummary`] whatever happens (see `farhand_engine::pipeline`): input
//! errors after the capture was open end the run early with everything read before them
//! processed and reported; sink errors are counted, the first one's message kept.

use crate::config::Settings;
use farhand_engine::capture::Source;
use farhand_engine::pipeline::{self, FastPath};
pub use farhand_engine::pipeline::{RunOptions, RunSummary};
use farhand_model::Health;
use farhand_report::sink::Sink;
use farhand_report::verdict::VerdictConfig;
use std::time::{Duration, Instant};

impl Settings {
    /// What the verdict needs of these settings.
    pub fn verdict(&self) -> VerdictConfig {
        VerdictConfig {
            home: self.home.clone(),
            relay: self.relay,
            policy: self.policy.clone(),
            enrich: self.enrich.clone(),
            owners: self.indicators.owners(),
            location: self.location.clone(),
        }
    }
    /// `--check-config` and the warnings at start): flow table, detection engine, enrichment,
    /// verdict, policy (with the sensor's location), alert output.
    pub fn health(&self) -> Vec<Health> {
        let mut alerts = match self.alerts.as_str() {
            "-" => "JSON lines to standard output".to_string(),
            path => format!("JSON lines to {path}"),
        };
        let r = &self.reporting;
        for o in &r.syslog {
            alerts += &format!("; syslog {} ({})", o.target, o.format.name());
        }
        if !r.syslog.is_empty() {
            match &r.spool.dir {
                Some(d) => {
                    alerts += &format!(", spooled in {} (at most {} MiB each)", d.display(), r.spool.max_bytes >> 20)
                }
                None => alerts += ", queued in memory (no spool_dir: lost if farhand stops during an outage)",
            }
        }
        if let Some(st) = &r.store {
            alerts += &format!("; store {st}");
        }
        if let Some((period, dir)) = &r.schedule {
            alerts += &format!("; {} reports to {}", period.name(), dir.display());
        }
        if let Some(m) = r.metrics {
            alerts += &format!("; metrics on http://{m}/metrics (live)");
        }
        vec![
            self.flow.health(),
            self.fast_path().health(),
            self.enrich.health(),
            self.verdict().health(),
            self.policy.health(self.location.as_ref()),
            Health::ready("output", alerts),
        ]
    }

    /// What the fast path needs of these settings.
    pub fn fast_path(&self) -> FastPath {
        FastPath {
            workers: self.workers,
            home: self.home.clone(),
            flow: self.flow,
            fingerprints: self.fingerprints.clone(),
            names: self.names.then(|| self.indicators.clone()),
            dns_tunnel: self.dns_tunnel,
            ip_kvm: self.ip_kvm,
        }
    }
}

/// Runs farhand over a source (a libpcap `Capture`, or any other [`Source`]) until it ends (or
/// `opts.stop` is set): the fast path here, the verdict and `sink` on a reporting thread.
pub fn run<C: Source + ?Sized, S: Sink>(
    cap: &mut C,
    settings: &Settings,
    sink: &mut S,
    opts: &RunOptions,
) -> RunSummary {
    run_ticking(cap, settings, sink, opts, Duration::MAX, &mut || {})
}

/// [`run`], with `tick` called on the reporting thread about every `every` (scheduled
/// reports and store retention of a live sensor); `Duration::MAX` never ticks.
pub fn run_ticking<C: Source + ?Sized, S: Sink>(
    cap: &mut C,
    settings: &Settings,
    sink: &mut S,
    opts: &RunOptions,
    every: Duration,
    tick: &mut (dyn FnMut() + Send),
) -> RunSummary {
    let started = Instant::now();
    let (ftx, frx) = pipeline::crossing();
    let (verdict, _) = settings.verdict().build();
    std::thread::scope(|scope| {
        let live = opts.live.clone();
        let reporter =
            scope.spawn(move || farhand_report::report_ticking(frx, verdict, sink, live.as_deref(), every, tick));
        let mut summary = pipeline::run(cap, &settings.fast_path(), opts, ftx);
        match reporter.join() {
            Ok((alerts, err)) => {
                summary.alerts = alerts;
                summary.sink_error = err;
            }
            Err(_) => summary.sink_error = Some("reporting thread failed".into()),
        }
        summary.elapsed = started.elapsed();
        summary
    })
}
