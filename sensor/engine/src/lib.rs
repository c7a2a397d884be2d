#![recursion_limit = "512"]
//! farhand's fast path: packets in, [`farhand_model::Finding`]s out, on plain threads.
//!
//! ```text
//! capture ─► decode ─► flow ─► detect (fingerprints, names, timing) ─► findings ─┐
//!                                                                   (the crossing: one bounded channel)
//! ```
//!
//! - [`capture`]: libpcap files and interfaces → [`capture::RawFrame`]
//! - [`decode`]: lax, panic-free [`decode::PacketView`] over borrowed bytes
//! - [`flow`]: the bounded [`flow::FlowTable`], endpoint sharding
//! - [`detect`]: fingerprints (one file per protocol), names, nested handshakes → findings
//! - [`behaviour`]: timing of recognised sessions (RTTs, far-leg answers, keystrokes,
//!   stepping stones) → [`farhand_model::session::Summary`]
//! - [`indicators`]: the names, certificates and ports that name tools (data files)
//! - [`pipeline`]: the reader and the workers, up to the crossing
//!
//! # Contract
//! Depends on `farhand-model` and `farhand-proto`, never on the reporting crate: what it
//! hands on is model types through the channel [`pipeline::run`] is given. No tokio.

pub mod behaviour;
pub mod capture;
pub mod decode;
pub mod detect;
pub mod flow;
pub mod indicators;
pub mod pipeline;

/// The protocol crate under the name the shared test helpers use for it.
#[cfg(test)]
use farhand_proto as proto_crate;
#[cfg(test)]
#[path = "../../proto/src/testutil.rs"]
mod testutil;
