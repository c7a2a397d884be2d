//! Protocol fingerprints: one file per protocol, each shaped **probe → parse → fingerprint**.
//!
//! # Contract
//! - A fingerprint sees an [`Exchange`]: the first payload bytes of a flow in each direction,
//!   reassembled in sequence order by the flow table (TCP) or the first datagram of each
//!   direction (UDP), plus the ports and whether more bytes can still arrive. A UDP
//!   fingerprint that needs a session's rhythm (an opcode sequence) also gets the first byte
//!   and length of the flow's first datagrams ([`Exchange::datagrams`]) by asking for them
//!   ([`Interest::datagram_heads`]).
//! - [`Fingerprint::inspect`] is pure: it borrows the bytes, allocates only for the small
//!   owned [`Evidence`](farhand_model::evidence::Evidence) it returns, and never panics whatever the bytes are. It answers
//!   [`Outcome::NeedMore`] while the structure is consistent but incomplete,
//!   [`Outcome::NoMatch`] (or [`Outcome::Anomaly`], saying where and why, when a parser
//!   found the contradiction) as soon as the bytes contradict the protocol, and
//!   [`Outcome::Match`] once the structure is validated.
//! - When `Exchange::finished` is set no more bytes will come; a fingerprint then returns
//!   `Match` on the evidence it has if that evidence is strong enough on its own, and
//!   `NoMatch` otherwise. It never returns `NeedMore` for a finished exchange.
//! - Ports never decide a match: every fingerprint works on any port. Ports are only
//!   reported.
//! - Limits (longest banner, largest record) are named constants in each file.

pub mod dns_tunnel;
pub mod icmp_tunnel;
pub mod ip_kvm;
pub mod ipsec;
pub mod nomachine;
pub mod openvpn;
pub mod pptp;
pub mod radmin;
pub mod rdp;
pub mod rustdesk;
pub mod socks;
pub mod softether;
pub mod ssh;
pub mod stun;
pub mod tailscale;
pub mod teamviewer;
pub mod tinc;
pub mod ultrasurf;
pub mod vnc;
pub mod wireguard;

use farhand_model::anomaly::Anomaly;
use farhand_model::tool::{Match, Tool, Transport};

/// The first bytes of a flow, as a fingerprint sees them.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// TCP or UDP.
    pub transport: Transport,
    /// Bytes sent by the initiator (the TCP client; the sender of the first UDP datagram).
    pub orig: &'a [u8],
    /// Bytes sent by the responder.
    pub resp: &'a [u8],
    /// Initiator's port.
    pub orig_port: u16,
    /// Responder's port.
    pub resp_port: u16,
    /// No more bytes will be added to either side (flow ended or buffer limit reached).
    pub finished: bool,
    /// UDP and ICMP echo: the first datagrams of the flow in arrival order, both directions (at most
    /// [`MAX_DATAGRAM_HEADS`]), gathered while a fingerprint that
    /// [`Interest::datagram_heads`] is still possible; empty otherwise.
    pub datagrams: &'a [DatagramHead],
}

/// Most datagram heads gathered per UDP or ICMP echo flow.
pub const MAX_DATAGRAM_HEADS: usize = 16;

/// What a multi-datagram fingerprint sees of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramHead {
    /// Sent by the initiator.
    pub from_initiator: bool,
    /// First payload byte.
    pub first: u8,
    /// Payload length (saturated at 65535).
    pub len: u16,
}

/// What the responder's first packet says of an initiator's that already fits a protocol
/// whose every packet is recognisable alone (ESP, AH, PPTP's GRE): see [`reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Nothing from the responder yet, and more may come.
    Waiting,
    /// Nothing from the responder, and nothing more will come.
    Unanswered,
    /// The responder's packet fits too.
    Agrees,
    /// The responder's packet contradicts the protocol.
    Contradicts,
}

/// Judge the responder's first packet with `agrees`.
pub(crate) fn reply(ex: &Exchange<'_>, agrees: impl Fn(&[u8]) -> bool) -> Reply {
    match ex.resp.is_empty() {
        true if ex.finished => Reply::Unanswered,
        true => Reply::Waiting,
        false if agrees(ex.resp) => Reply::Agrees,
        false => Reply::Contradicts,
    }
}

/// What a fingerprint concluded from an [`Exchange`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Consistent with the protocol so far; call again with more bytes.
    NeedMore,
    /// The bytes contradict the protocol: never call again for this flow.
    NoMatch,
    /// As [`Outcome::NoMatch`], with where and why the bytes broke the protocol. Answered
    /// only when bytes that began as the protocol (its magic, version or framing were right)
    /// then broke it — never for a side that is empty or never looked like the protocol,
    /// which is plain `NoMatch`. The engine counts it when this fingerprint had also answered
    /// [`Outcome::NeedMore`] on the flow before.
    Anomaly(Anomaly),
    /// The protocol is recognised.
    Match(Match),
}

/// One protocol fingerprint. Implementations are stateless: all state lives in the bytes of
/// the [`Exchange`].
pub trait Fingerprint: Send + Sync {
    /// The tool this fingerprint recognises.
    fn tool(&self) -> Tool;
    /// The detector's name in alerts and configuration (the tool's name by default).
    fn name(&self) -> &'static str {
        self.tool().name()
    }
    /// Version of the detector logic, reported in alerts (`finding_info.analytic.version`).
    fn version(&self) -> &'static str;
    /// What of a flow this fingerprint needs: transports, payload bytes per direction,
    /// datagram heads. The flow table gathers no more than the registry's union of
    /// interests (and the kernel fast path will send no more).
    fn interest(&self) -> Interest;
    /// Decide on the bytes seen so far. Pure and panic-free.
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome;
    /// Whether this fingerprint applies to flows of this transport (from [`Fingerprint::interest`]).
    fn wants(&self, transport: Transport) -> bool {
        self.interest().transports.contains(&transport)
    }
}

/// What of a flow a fingerprint needs before it can decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest {
    /// Transports whose flows it applies to.
    pub transports: &'static [Transport],
    /// Payload bytes per direction it may need.
    pub bytes: usize,
    /// Whether it reads [`Exchange::datagrams`] (UDP and ICMP echo flows then stay in the probe for up to
    /// [`MAX_DATAGRAM_HEADS`] datagrams while it says `NeedMore`).
    pub datagram_heads: bool,
}

impl Interest {
    const fn on(transports: &'static [Transport], bytes: usize) -> Interest {
        Interest { transports, bytes, datagram_heads: false }
    }

    /// TCP flows, up to `bytes` per direction.
    pub const fn tcp(bytes: usize) -> Interest {
        Interest::on(&[Transport::Tcp], bytes)
    }

    /// UDP flows, up to `bytes` of the first datagram per direction.
    pub const fn udp(bytes: usize) -> Interest {
        Interest::on(&[Transport::Udp], bytes)
    }

    /// TCP and UDP flows.
    pub const fn tcp_udp(bytes: usize) -> Interest {
        Interest::on(&[Transport::Tcp, Transport::Udp], bytes)
    }

    /// ICMP echo exchanges, up to `bytes` of payload per direction.
    pub const fn icmp(bytes: usize) -> Interest {
        Interest::on(&[Transport::Icmp], bytes)
    }

    /// The same, also reading the first datagrams' heads.
    pub const fn with_datagram_heads(self) -> Interest {
        Interest { datagram_heads: true, ..self }
    }
}

/// Every built-in fingerprint, in the order the flow table tries them.
pub fn registry() -> Vec<&'static dyn Fingerprint> {
    vec![
        &ssh::SshFingerprint,
        &rdp::RdpFingerprint,
        &vnc::VncFingerprint,
        &teamviewer::TeamViewerFingerprint,
        &rustdesk::RustDeskFingerprint,
        &nomachine::NoMachineFingerprint,
        &radmin::RadminFingerprint,
        &stun::StunFingerprint,
        &wireguard::WireGuardFingerprint,
        &openvpn::OpenVpnFingerprint,
        &tailscale::TailscaleFingerprint,
        &icmp_tunnel::IcmpTunnelFingerprint,
        &socks::SocksFingerprint,
        &ipsec::IpsecFingerprint,
        &pptp::PptpFingerprint,
        &tinc::TincFingerprint,
        &softether::SoftEtherFingerprint,
        &ultrasurf::UltraSurfFingerprint,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex<'a>(transport: Transport, orig: &'a [u8], resp: &'a [u8], finished: bool) -> Exchange<'a> {
        Exchange { transport, orig, resp, orig_port: 40000, resp_port: 443, finished, datagrams: &[] }
    }

    /// Requests and answers of protocols none of the registry's fingerprints covers.
    const OTHERS: &[(&[u8], &[u8])] = &[
        (b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        (b"EHLO mail.example.com\r\n", b"220 mx.example.com ESMTP\r\n"),
        (b"\x16\x03\x01\x00\x2e\x01\x00\x00\x2a\x03\x03", b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00"),
        (b"", b""),
    ];

    #[test]
    fn every_fingerprint_keeps_the_contract() {
        let mut rng = crate::testutil::XorShift64(0x9E37_79B9_7F4A_7C15);
        let mut random = |len: usize| rng.bytes(len);
        for f in registry() {
            let name = f.name();
            assert_eq!(Tool::from_name(name), Some(f.tool()), "{name}: registry name is the tool's name");
            // ICMP exchanges are only for ICMP fingerprints.
            if !f.wants(Transport::Icmp) {
                assert_eq!(f.inspect(&ex(Transport::Icmp, b"abcdefgh", b"abcdefgh", true)), Outcome::NoMatch, "{name}");
            }
            for t in [Transport::Tcp, Transport::Udp, Transport::Icmp] {
                for (o, r) in OTHERS {
                    let out = f.inspect(&ex(t, o, r, true));
                    assert!(!matches!(out, Outcome::Match(_)), "{name} matched {o:?} over {t:?}");
                    assert_ne!(out, Outcome::NeedMore, "{name}: NeedMore on a finished exchange");
                }
                // Random bytes: never a panic, never NeedMore once finished, (almost) never a match.
                let mut matches = 0;
                for len in [0usize, 1, 2, 5, 12, 20, 28, 64, 148, 300, 1232] {
                    for _ in 0..20 {
                        let (o, r) = (random(len), random(len / 2));
                        let out = f.inspect(&ex(t, &o, &r, true));
                        assert_ne!(out, Outcome::NeedMore, "{name}");
                        matches += usize::from(matches!(out, Outcome::Match(_)));
                        let _ = f.inspect(&ex(t, &o, &r, false));
                    }
                }
                assert!(matches <= 1, "{name} matched {matches} random exchanges over {t:?}");
            }
        }
    }
}
