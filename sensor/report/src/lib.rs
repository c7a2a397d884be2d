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
//!   where alerts go
//!
//! # Contract
//! Depends on `farhand-model` only: it sees the fast path's findings, never its parsers or
//! its state. Enrichment, syslog, the store and reports arrive here.

pub mod audit;
pub mod enrich;
pub mod identity;
pub mod metrics;
pub mod physics;
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
pub fn report<S: Sink>(rx: Receiver<Vec<Finding>>, mut verdict: Verdict, sink: &mut S) -> (u64, Option<String>) {
    let mut alerts = Vec::new();
    let mut err = None;
    for batch in rx {
        alerts.clear();
        for f in &batch {
            verdict.judge(f, &mut alerts);
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
