#![recursion_limit = "512"]
//! farhand: a network egress sensor that flags endpoints being driven remotely.
//!
//! The library holds all logic; `src/bin/farhand.rs` is thin command-line glue. The stages
//! read like the pipeline (see `DESIGN.md`):
//!
//! ```text
//! capture ─► decode ─► flow ─► detect ─► verdict ─► sink
//! ```
//!
//! - [`capture`]: libpcap files and interfaces → [`capture::RawFrame`]
//! - [`decode`]: lax, panic-free [`decode::PacketView`] over borrowed bytes
//! - [`flow`]: canonical [`flow::FlowKey`], the bounded [`flow::FlowTable`], endpoint sharding
//! - [`detect`]: fingerprints (one file per protocol) → [`detect::Finding`]
//! - [`verdict`]: findings → explained [`verdict::Alert`]s
//! - [`sink`]: JSON lines (OCSF Detection Finding + ECS)
//! - [`pipeline`]: the stages wired on worker threads
//! - [`config`]: the TOML file, validated

pub mod behaviour;
pub mod capture;
pub mod config;
pub mod decode;
pub mod detect;
pub mod flow;
pub mod indicators;
pub mod pipeline;
pub mod sink;
pub mod verdict;

#[cfg(test)]
mod testutil;
