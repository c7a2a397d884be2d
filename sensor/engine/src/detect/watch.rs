//! Flow watches: per-flow detectors that read every packet of a flow while it is probed.
//!
//! # Contract
//! - A fingerprint is pure over a flow's first bytes; a watch keeps a small state of its own
//!   per flow, for evidence spread over many packets (the DNS-tunnel watch tallies a flow's
//!   queries). It is started at the flow's first payload packet, or never.
//! - [`FlowWatch::start`] decides from that packet whether the flow is worth watching
//!   (ordinary flows cost nothing more); [`Watching::on_packet`] folds in each later one;
//!   the engine asks [`Watching::verdict`] once [`Watching::full`] says enough was seen, or
//!   when the flow ends. Until then the flow stays in the probe even when every fingerprint
//!   has said no.
//! - Panic-free on any bytes; state bounded whatever the number of packets.
//! - Adding a watch: one file implementing [`FlowWatch`] and one line in [`registry`].

use crate::decode::PacketView;
use crate::detect::fingerprint::Interest;
use farhand_model::Role;
use farhand_model::tool::Match;

/// A per-flow detector with state (see the module contract).
pub trait FlowWatch: Send + Sync {
    /// The detector's name in alerts and configuration.
    fn name(&self) -> &'static str;
    /// Version of the detector logic, reported in alerts.
    fn version(&self) -> &'static str;
    /// The flows it may watch.
    fn interest(&self) -> Interest;
    /// At the first payload packet of a flow (sent by `role`): the state of a new watch over
    /// this flow (the packet already folded in), or `None` when the flow is not worth it.
    fn start(&self, v: &PacketView<'_>, role: Role) -> Option<Box<dyn Watching>>;
}

/// One flow's watch state.
pub trait Watching: std::fmt::Debug + Send {
    /// Fold in a later packet of the flow, sent by `role`.
    fn on_packet(&mut self, v: &PacketView<'_>, role: Role);
    /// Enough was seen to decide.
    fn full(&self) -> bool;
    /// The verdict on what was seen.
    fn verdict(&self) -> Option<Match>;
}

/// Every built-in watch.
pub fn registry() -> Vec<&'static dyn FlowWatch> {
    vec![&super::fingerprint::dns_tunnel::DnsTunnelWatch]
}
