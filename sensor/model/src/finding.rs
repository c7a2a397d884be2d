//! What the fast path hands to the reporting plane: findings about flows.

use crate::Micros;
use crate::net::{FlowKey, Side};
use crate::tool::Match;

/// A wrapper a nested handshake was found in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Via {
    /// `http_connect`, `socks` or `websocket`.
    pub wrapper: &'static str,
    /// The wrapper's target.
    pub target: String,
}

/// A flow as the verdict sees it: who, when, how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSummary {
    /// Canonical key.
    pub key: FlowKey,
    /// The side that opened the conversation.
    pub initiator: Side,
    /// First packet time (of this report period).
    pub first_ts: Micros,
    /// Last packet time.
    pub last_ts: Micros,
    /// Bytes sent by side A, side B.
    pub bytes: [u64; 2],
    /// Packets sent by side A, side B.
    pub pkts: [u32; 2],
    /// Why the record was produced.
    pub reason: EndReason,
    /// TCP handshake timestamps (SYN, SYN/ACK, ACK); 0 = not seen.
    pub handshake: [Micros; 3],
}

impl FlowSummary {
    /// The summary of one packet seen at `ts` (the flow of a finding about a packet, not a
    /// session: no volumes, no handshake).
    pub fn instant(key: FlowKey, initiator: Side, ts: Micros) -> FlowSummary {
        FlowSummary {
            key,
            initiator,
            first_ts: ts,
            last_ts: ts,
            bytes: [0; 2],
            pkts: [0; 2],
            reason: EndReason::Idle,
            handshake: [0; 3],
        }
    }

    /// Start of the session (the handshake if seen, else the first packet): stable across
    /// active-timeout reports.
    pub fn first_ts_of_session(&self) -> Micros {
        self.handshake.iter().copied().find(|t| *t != 0).unwrap_or(self.first_ts)
    }
}

/// What a detector found.
#[derive(Debug, Clone, PartialEq)]
pub enum FindingKind {
    /// A recognised session of a tool (remote control, VPN, tunnel, proxy, relay).
    RemoteControlSession(Match),
    /// An IP-KVM-class device on the endpoint's segment.
    IpKvmSuspected(Match),
    /// A device's identity seen (MAC, address, names): feeds the reporting plane's
    /// per-endpoint directory and raises no alert. The finding's flow is the packet's.
    Sighting(crate::identity::Sighting),
}

/// A detector's observation about one flow, handed to the verdict stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Detector name (e.g. `ssh`).
    pub detector: &'static str,
    /// Detector version.
    pub detector_version: &'static str,
    /// When the detector concluded.
    pub ts: Micros,
    /// The flow it concerns.
    pub flow: FlowSummary,
    /// What was found.
    pub kind: FindingKind,
    /// The wrapper the tool was found inside, if any.
    pub via: Option<Via>,
    /// The session's timing figures, for the tools whose timing is read.
    pub behaviour: Option<crate::session::Summary>,
}

/// Why a flow record was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// TCP FIN both ways.
    Closed,
    /// TCP RST.
    Reset,
    /// No packets for the idle timeout.
    Idle,
    /// Removed to make room in a full table.
    Evicted,
    /// Still running after the active timeout (the flow continues).
    ActiveTimeout,
    /// The capture ended.
    EndOfInput,
}
