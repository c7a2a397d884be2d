//! Builders shared by the reporting crate's unit tests (test builds only): findings as the
//! fast path hands them over, for the verdict and the sinks to judge and render.

use farhand_model::evidence::{Evidence, VncEvidence};
use farhand_model::net::{FlowKey, proto};
use farhand_model::tool::{Match, Method, Tool};
use farhand_model::{Addr, EndReason, Finding, FindingKind, FlowSummary, Micros};

/// A structural match of `tool` (confidence 90).
pub(crate) fn matched(tool: Tool, evidence: Evidence) -> Match {
    Match { tool, confidence: 90, method: Method::PayloadStructure, evidence }
}

/// A finding of `kind` for a closed TCP flow from `client` to `server`, seen from `first`
/// for 1 s (100/200 bytes, 3/4 packets).
pub(crate) fn finding_of(kind: FindingKind, client: ([u8; 4], u16), server: ([u8; 4], u16), first: Micros) -> Finding {
    let (key, initiator) = FlowKey::new(Addr::v4(client.0), client.1, Addr::v4(server.0), server.1, proto::TCP, 0);
    Finding {
        detector: "test",
        detector_version: "1",
        ts: first,
        flow: FlowSummary {
            key,
            initiator,
            first_ts: first,
            last_ts: first + 1_000_000,
            bytes: [100, 200],
            pkts: [3, 4],
            reason: EndReason::Closed,
            handshake: [0; 3],
        },
        kind,
        via: None,
        behaviour: None,
    }
}

/// A recognised session of `m`'s tool (see [`finding_of`]).
pub(crate) fn finding(m: Match, client: ([u8; 4], u16), server: ([u8; 4], u16), first: Micros) -> Finding {
    finding_of(FindingKind::RemoteControlSession(m), client, server, first)
}

/// A session of `tool` with (empty) VNC evidence.
pub(crate) fn session(tool: Tool, client: ([u8; 4], u16), server: ([u8; 4], u16), first: Micros) -> Finding {
    finding(matched(tool, Evidence::Vnc(VncEvidence::default())), client, server, first)
}
