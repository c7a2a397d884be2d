#![recursion_limit = "512"]
//! farhand's reporting plane: everything after the crossing from the fast path.
//!
//! ```text
//! findings ─► verdict (alerts, per-endpoint correlation, the relay gap) ─► sink (JSON lines)
//! ```
//!
//! - [`verdict`]: [`farhand_model::Finding`]s → explained [`verdict::Alert`]s
//! - [`enrich`]: what outside data says of a peer address (MaxMind DB files; a writer for them)
//! - [`policy`]: the deployment's policy (home countries, tool stances, helpdesk hosts,
//!   sanctioned tenants, allowlist, business hours in its time zone)
//! - [`physics`]: the sensor's location and the distance a round trip allows (a peer
//!   geolocated farther is `location_contradicted`)
//! - [`relay_latency`]: the relay latency gap judged from a session's timing summary
//! - [`identity`]: the per-endpoint directory (MAC, host names) the fast path's sightings
//!   feed, which names an alert's endpoint
//! - [`sink`]: the alert schema (OCSF Detection Finding + ECS) built from model types, and
//!   where alerts go: JSON lines, syslog collectors (RFC 5424 or CEF over UDP, TCP, TLS)
//!   through a durable spool
//! - [`records`] and [`store`]: alerts as rows (alerts, sessions, endpoints) in SQLite or
//!   PostgreSQL, for [`audit`]: auditors' reports (HTML, CSV, JSON) with a manifest chain
//! - [`plane`]: one verdict feeding several sinks, and the scheduled reports of a live sensor
//! - [`metrics`]: the Prometheus endpoint
//!
//! # Contract
//! Depends on `farhand-model` only: it sees the fast path's findings, never its parsers or
//! its state. Network outputs run on tokio (the caller's runtime); the loop ([`report`])
//! runs on a plain thread and never waits on the network: syslog outputs queue into their
//! spool, and what is dropped at the crossing is counted by the fast path.

pub mod audit;
pub mod enrich;
pub mod identity;
pub mod metrics;
pub mod physics;
pub mod plane;
pub mod policy;
pub mod records;
pub mod relay_latency;
pub mod sink;
pub mod store;
pub mod verdict;

#[cfg(test)]
mod testutil;

use crossbeam_channel::Receiver;
use farhand_model::Finding;
use sink::Sink;
use verdict::Verdict;

/// The reporting plane's loop: judges every finding batch that crosses from the fast path
/// and writes the alerts to `sink`, until the fast path drops its end of the channel.
/// Returns the alerts written and the first sink error, if any (writing goes on after one).
pub fn report<S: Sink>(rx: Receiver<Vec<Finding>>, verdict: Verdict, sink: &mut S) -> (u64, Option<String>) {
    report_ticking(rx, verdict, sink, None, std::time::Duration::MAX, &mut || {})
}

/// [`report`], counting findings received and alerts by kind into `live` (the metrics'
/// counters) when given, with `tick` called about every `every` while the channel is open
/// (scheduled reports), between batches; `Duration::MAX` never ticks.
pub fn report_ticking<S: Sink>(
    rx: Receiver<Vec<Finding>>,
    mut verdict: Verdict,
    sink: &mut S,
    live: Option<&farhand_model::counters::Live>,
    every: std::time::Duration,
    tick: &mut dyn FnMut(),
) -> (u64, Option<String>) {
    let mut alerts = Vec::new();
    let mut err = None;
    let mut last = std::time::Instant::now();
    loop {
        // A timeout too long to be a deadline (`Duration::MAX`) waits for ever.
        let batch = match rx.recv_timeout(every.saturating_sub(last.elapsed())) {
            Ok(b) => b,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                tick();
                last = std::time::Instant::now();
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        if last.elapsed() >= every {
            tick();
            last = std::time::Instant::now();
        }
        alerts.clear();
        for f in &batch {
            verdict.judge(f, &mut alerts);
        }
        if let Some(live) = live {
            live.add_findings(batch.len() as u64);
            metrics::record_alerts(live, &alerts);
        }
        if let Err(e) = sink.emit(&alerts).and_then(|_| sink.flush()) {
            err.get_or_insert_with(|| e.to_string());
        }
    }
    if let Err(e) = sink.flush() {
        err.get_or_insert_with(|| e.to_string());
    }
    (sink.written(), err)
}
