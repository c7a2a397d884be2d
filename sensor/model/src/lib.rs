//! farhand's shared vocabulary: the types every stage speaks, importing nothing of ours.
//!
//! # Contract
//! - Plain data and small pure helpers only: no I/O, no threads, no parsing of packet bytes.
//!   The one shared-state type is [`counters::Live`], the atomics the fast path and the
//!   reporting plane publish their running totals into for the metrics endpoint.
//! - Every other farhand crate depends on this one; it depends on none of them
//!   (see `ARCHITECTURE.md`).
//! - The types that cross from the fast path to the reporting plane live here: a
//!   [`finding::Finding`] with its [`tool::Match`] (tool, confidence, method and the
//!   [`evidence::Evidence`] fields an alert carries) and the session's timing
//!   [`session::Summary`], and the endpoint [`identity::Sighting`]s that name a device. The
//!   reporting crate builds alerts from these types only.

pub mod anomaly;
pub mod counters;
pub mod error;
pub mod evidence;
pub mod finding;
pub mod health;
pub mod identity;
pub mod net;
pub mod owner;
pub mod session;
pub mod tool;

pub use anomaly::{Anomaly, AnomalyCounts, Layer, Reason};
pub use error::ConfigError;
pub use finding::{EndReason, Finding, FindingKind, FlowSummary, Via};
pub use health::Health;
pub use net::{Addr, Direction, FlowKey, HomeNets, Role, Side};
pub use owner::{MatchedBy, Owner, OwnerKind, OwnerMatch, Owners, OwnersBuilder};
pub use tool::{Category, Match, Method, Tool, Transport};

/// Microseconds since the Unix epoch (packet time).
pub type Micros = u64;
