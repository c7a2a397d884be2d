//! Per-endpoint correlators: links between flows.
//!
//! # Contract
//! - A [`Correlator`] sees a flow only through its [`FlowFacts`] and the sessions recognised
//!   on it; it keeps what it learns per endpoint, bounded, in the worker that owns the
//!   endpoint (flows are sharded by endpoint, so all of one endpoint's flows meet here).
//! - [`Correlator::attribute`] is asked about a flow whose own bytes named nothing (every
//!   fingerprint said no, or the flow ended): the first correlator of the engine's list that
//!   answers decides, and its [`Correlator::name`] is the finding's detector.
//! - [`Correlator::on_session`] is told of every session recognised (whoever recognised
//!   it), in list order, before the session is stored: it may learn from it, or amend its
//!   attribution (a STUN/TURN flow right after a WebRTC tool was named is that tool's media).
//! - A correlator that [`Correlator::watches_frames`] also sees every frame before the flow
//!   table (the IP-KVM device watch, added by `Engine::watching_ip_kvm`).
//! - Adding a correlator is one type implementing the trait and one line in
//!   [`correlators`]; the engine holds no branch for any of them.

use super::Session;
use super::names::{self, NameCache};
use crate::decode::PacketView;
use crate::indicators::Indicators;
use farhand_model::evidence::{Evidence, TincEvidence};
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_model::{Addr, Finding, Micros, Via};
use std::collections::HashMap;
use std::sync::Arc;

/// What a correlator sees of a flow: the initiator's and responder's address and port.
#[derive(Debug, Clone, Copy)]
pub struct FlowFacts {
    /// Transport of the flow.
    pub transport: Transport,
    /// (initiator address, responder address).
    pub addrs: (Addr, Addr),
    /// (initiator port, responder port).
    pub ports: (u16, u16),
    /// When the engine decided about the flow.
    pub ts: Micros,
}

/// A detector that links flows through what it learnt from other flows of the same endpoint.
pub trait Correlator: Send {
    /// The detector name a finding it attributes carries (e.g. `names`).
    fn name(&self) -> &'static str;
    /// A flow nothing in its own bytes named: the tool it is linked to, if any.
    fn attribute(&self, _flow: &FlowFacts) -> Option<Match> {
        None
    }
    /// A session was recognised on a flow: learn from it, or amend its attribution.
    fn on_session(&mut self, _flow: &FlowFacts, _session: &mut Session) {}
    /// Whether it wants to see every frame ([`Correlator::on_frame`]); asked once when the
    /// engine is built.
    fn watches_frames(&self) -> bool {
        false
    }
    /// A frame, before the flow table (only if [`Correlator::watches_frames`]): a finding
    /// about the device that sent it, if any.
    fn on_frame(&mut self, _v: &PacketView<'_>) -> Option<Finding> {
        None
    }
    /// The same correlator with fresh state (one per worker).
    fn fresh(&self) -> Box<dyn Correlator>;
}

/// The engine's correlators, in the order they are asked. With indicators (the name
/// detector on): DNS answers and listed address ranges; always: tinc data channels and
/// WebRTC media (last, so that it amends what the others saw unamended).
pub fn correlators(indicators: Option<&Arc<Indicators>>) -> Vec<Box<dyn Correlator>> {
    let mut list: Vec<Box<dyn Correlator>> = vec![Box::new(DnsAnswers::default())];
    if let Some(ind) = indicators {
        list.push(Box::new(ListedAddresses { indicators: ind.clone() }));
    }
    list.push(Box::new(TincLinks::default()));
    list.push(Box::new(WebRtcMedia::default()));
    list
}

/// The addresses tool names resolved to, per endpoint (the endpoint looked this address up
/// under a tool's name: [`NameCache`]).
#[derive(Debug, Default)]
pub struct DnsAnswers {
    answers: NameCache,
}

impl Correlator for DnsAnswers {
    fn name(&self) -> &'static str {
        "names"
    }
    fn attribute(&self, f: &FlowFacts) -> Option<Match> {
        self.answers.lookup(f.addrs.0, f.addrs.1, f.ts)
    }
    fn on_session(&mut self, f: &FlowFacts, s: &mut Session) {
        if let Evidence::Name(e) = &s.found.evidence
            && e.field == "dns_query"
        {
            self.answers.learn(f.addrs.0, s.found.tool, e, f.ts);
        }
    }
    fn fresh(&self) -> Box<dyn Correlator> {
        Box::new(DnsAnswers::default())
    }
}

/// Peers in an address range an indicator file lists.
pub struct ListedAddresses {
    indicators: Arc<Indicators>,
}

impl Correlator for ListedAddresses {
    fn name(&self) -> &'static str {
        "names"
    }
    fn attribute(&self, f: &FlowFacts) -> Option<Match> {
        names::address_match(&self.indicators, f.addrs.1.ip())
    }
    fn fresh(&self) -> Box<dyn Correlator> {
        Box::new(ListedAddresses { indicators: self.indicators.clone() })
    }
}

/// How long after a tinc meta connection a UDP flow on its port is taken as its data channel.
pub const TINC_UDP_WINDOW: Micros = 3600 * 1_000_000;
/// Confidence of a tinc UDP data channel recognised through its meta connection.
pub const CONFIDENCE_TINC_UDP: u8 = 70;
/// tinc meta connections remembered per worker.
const MAX_TINC_META: usize = 4096;

/// tinc's UDP data channel: tinc sends its encrypted UDP data between the two hosts of a
/// meta connection, on that connection's server port.
#[derive(Debug, Default)]
pub struct TincLinks {
    /// (server address, server port) → (client address, when).
    meta: HashMap<(Addr, u16), (Addr, Micros)>,
}

impl Correlator for TincLinks {
    fn name(&self) -> &'static str {
        "tinc"
    }
    fn attribute(&self, f: &FlowFacts) -> Option<Match> {
        if f.transport != Transport::Udp {
            return None;
        }
        let hit = |server: (Addr, u16), other: Addr| {
            self.meta
                .get(&server)
                .is_some_and(|(client, t)| *client == other && f.ts.saturating_sub(*t) <= TINC_UDP_WINDOW)
                .then(|| format!("{}:{}", server.0.ip(), server.1))
        };
        let meta = hit((f.addrs.1, f.ports.1), f.addrs.0).or_else(|| hit((f.addrs.0, f.ports.0), f.addrs.1))?;
        Some(Match {
            tool: Tool::Tinc,
            confidence: CONFIDENCE_TINC_UDP,
            method: Method::Association,
            evidence: Evidence::Tinc(TincEvidence {
                names: Vec::new(),
                protocol: String::new(),
                udp_data_channel_of: Some(meta),
            }),
        })
    }
    fn on_session(&mut self, f: &FlowFacts, s: &mut Session) {
        if s.found.tool != Tool::Tinc || f.transport != Transport::Tcp || s.via.is_some() {
            return;
        }
        if self.meta.len() >= MAX_TINC_META {
            self.meta.retain(|_, (_, t)| f.ts.saturating_sub(*t) <= TINC_UDP_WINDOW);
        }
        if self.meta.len() < MAX_TINC_META {
            self.meta.insert((f.addrs.1, f.ports.1), (f.addrs.0, f.ts));
        }
    }
    fn fresh(&self) -> Box<dyn Correlator> {
        Box::new(TincLinks::default())
    }
}

/// Tools whose media runs over WebRTC (STUN/TURN, DTLS, SRTP) after a named signalling
/// exchange: a STUN/TURN flow of the same endpoint shortly after is attributed to them.
pub const WEBRTC_TOOLS: &[Tool] = &[Tool::ChromeRemoteDesktop, Tool::IpKvm, Tool::Parsec];
/// How long after naming such a tool a STUN/TURN flow of the endpoint is attributed to it.
pub const WEBRTC_WINDOW: Micros = 30 * 1_000_000;
/// Confidence of a STUN/TURN flow attributed to a WebRTC tool named just before.
pub const CONFIDENCE_WEBRTC: u8 = 75;
/// Endpoints remembered for WebRTC attribution per worker.
const MAX_WEBRTC_HINTS: usize = 16_384;

/// WebRTC media: a STUN/TURN flow right after the endpoint named a WebRTC-based tool (Chrome
/// Remote Desktop, JetKVM, Parsec) is that tool's media path.
#[derive(Debug, Default)]
pub struct WebRtcMedia {
    /// Per endpoint: the last WebRTC-based tool it named (lookup, SNI), when, and the name.
    hints: HashMap<Addr, (Tool, Micros, String)>,
}

impl Correlator for WebRtcMedia {
    fn name(&self) -> &'static str {
        "webrtc"
    }
    fn on_session(&mut self, f: &FlowFacts, s: &mut Session) {
        if let Evidence::Name(e) = &s.found.evidence
            && WEBRTC_TOOLS.contains(&s.found.tool)
        {
            if self.hints.len() >= MAX_WEBRTC_HINTS {
                self.hints.retain(|_, (_, t, _)| f.ts.saturating_sub(*t) <= WEBRTC_WINDOW);
            }
            self.hints.insert(f.addrs.0, (s.found.tool, f.ts, e.value.clone()));
        }
        if s.found.tool == Tool::StunTurn
            && let Some((tool, t, name)) = self.hints.get(&f.addrs.0)
            && f.ts.saturating_sub(*t) <= WEBRTC_WINDOW
        {
            s.found.tool = *tool;
            s.found.confidence = CONFIDENCE_WEBRTC;
            s.via = Some(Via { wrapper: "webrtc", target: name.clone() });
        }
    }
    fn fresh(&self) -> Box<dyn Correlator> {
        Box::new(WebRtcMedia::default())
    }
}
