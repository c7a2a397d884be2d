//! farhand: a network egress sensor that flags endpoints being driven remotely.
//!
//! This crate is the `farhand` binary's library: the command line, the configuration file
//! (raw → validated, [`config`]) and the wiring ([`pipeline`]) of the fast path
//! (`farhand-engine`: capture → decode → flow → detect) to the reporting plane
//! (`farhand-report`: verdict → sinks) through one bounded channel of findings. The shared
//! types are in `farhand-model`, the parsers in `farhand-proto`; `ARCHITECTURE.md` at the
//! repository root draws the whole pipeline.

pub mod commands;
pub mod config;
pub mod demo;
pub mod geo;
pub mod outputs;
pub mod pipeline;
