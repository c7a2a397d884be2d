//! Protocol fingerprints: one file per protocol, each shaped **probe → parse → fingerprint**.
//!
//! # Contract
//! - A fingerprint sees an [`Exchange`]: the first payload bytes of a flow in each direction,
//!   reassembled in sequence order by the flow table (TCP) or the first datagram of each
//!   direction (UDP), plus the ports and whether more bytes can still arrive. A UDP
//!   fingerprint that needs a session's rhythm (an opcode sequence) also gets the first byte
//!   and length of the flow's first datagrams ([`Exchange::datagrams`]) by asking for them
//!   ([`Fingerprint::wants_datagrams`]).
//! - [`Fingerprint::inspect`] is pure: it borrows the bytes, allocates only for the small
//!   owned [`Evidence`] it returns, and never panics whatever the bytes are. It answers
//!   [`Outcome::NeedMore`] while the structure is consistent but incomplete,
//!   [`Outcome::NoMatch`] as soon as the bytes contradict the protocol, and
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

use serde::Serialize;

/// Transport protocol of a flow, as far as fingerprints care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP: `Exchange` sides are in-order byte streams.
    Tcp,
    /// UDP: `Exchange` sides are the first datagram of each direction.
    Udp,
    /// ICMP/ICMPv6 echo: `Exchange` sides are the first echo request and reply payloads.
    Icmp,
}

impl Transport {
    /// The transport of an IP protocol number (TCP, UDP, ICMP/ICMPv6 echo).
    pub fn of_proto(proto: u8) -> Transport {
        match proto {
            crate::flow::key::proto::TCP => Transport::Tcp,
            crate::flow::key::proto::ICMP | crate::flow::key::proto::ICMPV6 => Transport::Icmp,
            _ => Transport::Udp,
        }
    }

    /// Lower-case name (`tcp`, `udp`, `icmp`).
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Icmp => "icmp",
        }
    }
}

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
    /// UDP: the first datagrams of the flow in arrival order, both directions (at most
    /// [`MAX_DATAGRAM_HEADS`]), gathered while a fingerprint that
    /// [`Fingerprint::wants_datagrams`] is still possible; empty otherwise.
    pub datagrams: &'a [DatagramHead],
}

/// Most datagram heads gathered per UDP flow.
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

/// What a fingerprint concluded from an [`Exchange`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Consistent with the protocol so far; call again with more bytes.
    NeedMore,
    /// The bytes contradict the protocol: never call again for this flow.
    NoMatch,
    /// The protocol is recognised.
    Match(Match),
}

/// A recognised remote-control protocol with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    /// The tool or protocol.
    pub tool: Tool,
    /// How sure the fingerprint is, 0–100.
    pub confidence: u8,
    /// What the recognition rests on.
    pub method: Method,
    /// Protocol fields extracted from the handshake.
    pub evidence: Evidence,
}

impl Match {
    /// The tool's stable name (a built-in name, or the listed name of an indicator-named tool).
    pub fn tool_name(&self) -> &str {
        match &self.evidence {
            Evidence::Name(n) => &n.tool_name,
            _ => self.tool.name(),
        }
    }

    /// The tool's display name.
    pub fn tool_title(&self) -> &str {
        match &self.evidence {
            Evidence::Name(n) => &n.tool_title,
            _ => self.tool.title(),
        }
    }

    /// The tool's category (an indicator file sets it for listed tools).
    pub fn category(&self) -> Category {
        match &self.evidence {
            Evidence::Name(n) => n.category,
            _ => self.tool.category(),
        }
    }
}

/// Remote-control tools, relays, VPNs and tunnels farhand recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    /// Secure Shell.
    Ssh,
    /// Microsoft Remote Desktop Protocol (TCP X.224 or RDP-UDP).
    Rdp,
    /// VNC / Remote Framebuffer protocol.
    Vnc,
    /// TeamViewer.
    TeamViewer,
    /// AnyDesk.
    AnyDesk,
    /// RustDesk.
    RustDesk,
    /// Chrome Remote Desktop.
    ChromeRemoteDesktop,
    /// Splashtop.
    Splashtop,
    /// ConnectWise ScreenConnect / Control.
    ScreenConnect,
    /// LogMeIn / GoTo (GoToAssist, GoToMyPC).
    LogMeIn,
    /// Zoho Assist.
    ZohoAssist,
    /// NoMachine / NX.
    NoMachine,
    /// Radmin.
    Radmin,
    /// Parsec.
    Parsec,
    /// An IP-KVM device (PiKVM, TinyPilot, JetKVM).
    IpKvm,
    /// STUN / TURN (NAT traversal and media relay).
    StunTurn,
    /// WireGuard.
    WireGuard,
    /// OpenVPN.
    OpenVpn,
    /// Tailscale (WireGuard mesh with DERP relays).
    Tailscale,
    /// Cloudflare WARP.
    CloudflareWarp,
    /// IPsec (IKE key exchange; ESP).
    Ipsec,
    /// PPTP.
    Pptp,
    /// tinc.
    Tinc,
    /// SoftEther VPN.
    SoftEther,
    /// Tor.
    Tor,
    /// Cloudflare Tunnel (cloudflared).
    Cloudflared,
    /// ngrok.
    Ngrok,
    /// Psiphon (censorship circumvention).
    Psiphon,
    /// UltraSurf (censorship circumvention).
    UltraSurf,
    /// An HTTP CONNECT proxy tunnel.
    HttpConnect,
    /// A SOCKS 4/5 proxy tunnel.
    Socks,
    /// A tunnel carried in DNS queries and answers.
    DnsTunnel,
    /// A tunnel carried in ICMP echo payloads.
    IcmpTunnel,
    /// A remote-management tool named by an indicator file (e.g. the LOLRMM catalogue); its name is in the evidence.
    Listed,
}

/// What kind of thing a [`Tool`] is: decides the alert kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Software that lets someone drive the endpoint remotely.
    RemoteControl,
    /// A media/NAT relay (STUN/TURN): evidence of a relayed path, not a tool by itself.
    Relay,
    /// A VPN.
    Vpn,
    /// A tunnel or anonymity network.
    Tunnel,
    /// A proxy.
    Proxy,
}

impl Tool {
    /// Every built-in tool.
    pub const ALL: &'static [Tool] = &[
        Tool::Ssh,
        Tool::Rdp,
        Tool::Vnc,
        Tool::TeamViewer,
        Tool::AnyDesk,
        Tool::RustDesk,
        Tool::ChromeRemoteDesktop,
        Tool::Splashtop,
        Tool::ScreenConnect,
        Tool::LogMeIn,
        Tool::ZohoAssist,
        Tool::NoMachine,
        Tool::Radmin,
        Tool::Parsec,
        Tool::IpKvm,
        Tool::StunTurn,
        Tool::WireGuard,
        Tool::OpenVpn,
        Tool::Tailscale,
        Tool::CloudflareWarp,
        Tool::Ipsec,
        Tool::Pptp,
        Tool::Tinc,
        Tool::SoftEther,
        Tool::Tor,
        Tool::Cloudflared,
        Tool::Ngrok,
        Tool::Psiphon,
        Tool::UltraSurf,
        Tool::HttpConnect,
        Tool::Socks,
        Tool::DnsTunnel,
        Tool::IcmpTunnel,
        Tool::Listed,
    ];

    /// Stable lower-case name used in alerts, indicator files and expectation files.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Ssh => "ssh",
            Tool::Rdp => "rdp",
            Tool::Vnc => "vnc",
            Tool::TeamViewer => "teamviewer",
            Tool::AnyDesk => "anydesk",
            Tool::RustDesk => "rustdesk",
            Tool::ChromeRemoteDesktop => "chrome_remote_desktop",
            Tool::Splashtop => "splashtop",
            Tool::ScreenConnect => "screenconnect",
            Tool::LogMeIn => "logmein",
            Tool::ZohoAssist => "zoho_assist",
            Tool::NoMachine => "nomachine",
            Tool::Radmin => "radmin",
            Tool::Parsec => "parsec",
            Tool::IpKvm => "ip_kvm",
            Tool::StunTurn => "stun_turn",
            Tool::WireGuard => "wireguard",
            Tool::OpenVpn => "openvpn",
            Tool::Tailscale => "tailscale",
            Tool::CloudflareWarp => "cloudflare_warp",
            Tool::Ipsec => "ipsec",
            Tool::Pptp => "pptp",
            Tool::Tinc => "tinc",
            Tool::SoftEther => "softether",
            Tool::Tor => "tor",
            Tool::Cloudflared => "cloudflared",
            Tool::Ngrok => "ngrok",
            Tool::Psiphon => "psiphon",
            Tool::UltraSurf => "ultrasurf",
            Tool::HttpConnect => "http_connect",
            Tool::Socks => "socks",
            Tool::DnsTunnel => "dns_tunnel",
            Tool::IcmpTunnel => "icmp_tunnel",
            Tool::Listed => "listed",
        }
    }

    /// Human-readable product/protocol name.
    pub fn title(self) -> &'static str {
        match self {
            Tool::Ssh => "SSH",
            Tool::Rdp => "RDP",
            Tool::Vnc => "VNC",
            Tool::TeamViewer => "TeamViewer",
            Tool::AnyDesk => "AnyDesk",
            Tool::RustDesk => "RustDesk",
            Tool::ChromeRemoteDesktop => "Chrome Remote Desktop",
            Tool::Splashtop => "Splashtop",
            Tool::ScreenConnect => "ScreenConnect",
            Tool::LogMeIn => "LogMeIn / GoTo",
            Tool::ZohoAssist => "Zoho Assist",
            Tool::NoMachine => "NoMachine",
            Tool::Radmin => "Radmin",
            Tool::Parsec => "Parsec",
            Tool::IpKvm => "IP-KVM",
            Tool::StunTurn => "STUN/TURN",
            Tool::WireGuard => "WireGuard",
            Tool::OpenVpn => "OpenVPN",
            Tool::Tailscale => "Tailscale",
            Tool::CloudflareWarp => "Cloudflare WARP",
            Tool::Ipsec => "IPsec",
            Tool::Pptp => "PPTP",
            Tool::Tinc => "tinc",
            Tool::SoftEther => "SoftEther VPN",
            Tool::Tor => "Tor",
            Tool::Cloudflared => "Cloudflare Tunnel",
            Tool::Ngrok => "ngrok",
            Tool::Psiphon => "Psiphon",
            Tool::UltraSurf => "UltraSurf",
            Tool::HttpConnect => "HTTP CONNECT proxy",
            Tool::Socks => "SOCKS proxy",
            Tool::DnsTunnel => "DNS tunnel",
            Tool::IcmpTunnel => "ICMP tunnel",
            Tool::Listed => "listed tool",
        }
    }

    /// What kind of thing the tool is.
    pub fn category(self) -> Category {
        match self {
            Tool::Ssh
            | Tool::Rdp
            | Tool::Vnc
            | Tool::TeamViewer
            | Tool::AnyDesk
            | Tool::RustDesk
            | Tool::ChromeRemoteDesktop
            | Tool::Splashtop
            | Tool::ScreenConnect
            | Tool::LogMeIn
            | Tool::ZohoAssist
            | Tool::NoMachine
            | Tool::Radmin
            | Tool::Parsec
            | Tool::IpKvm
            | Tool::Listed => Category::RemoteControl,
            Tool::StunTurn => Category::Relay,
            Tool::WireGuard
            | Tool::OpenVpn
            | Tool::Tailscale
            | Tool::CloudflareWarp
            | Tool::Ipsec
            | Tool::Pptp
            | Tool::Tinc
            | Tool::SoftEther => Category::Vpn,
            Tool::Tor
            | Tool::Cloudflared
            | Tool::Ngrok
            | Tool::Psiphon
            | Tool::UltraSurf
            | Tool::DnsTunnel
            | Tool::IcmpTunnel => Category::Tunnel,
            Tool::HttpConnect | Tool::Socks => Category::Proxy,
        }
    }

    /// The tool with this [`Tool::name`].
    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.iter().copied().find(|t| t.name() == name)
    }
}

/// What a recognition rests on, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The protocol's handshake structure was validated in the payload.
    PayloadStructure,
    /// A certificate names the tool.
    Certificate,
    /// The flow belongs to a session recognised by structure (a data channel that runs
    /// beside a recognised control connection, e.g. tinc's UDP).
    Association,
    /// A DNS name, SNI or HTTP host names the tool.
    Name,
    /// Only the port suggests the tool (never alerted on by itself).
    Port,
}

/// Protocol fields extracted by a fingerprint; serialised into the alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum Evidence {
    /// SSH banners and key-exchange fingerprints.
    Ssh(ssh::SshEvidence),
    /// RDP negotiation fields.
    Rdp(rdp::RdpEvidence),
    /// RFB versions and security type.
    Vnc(vnc::VncEvidence),
    /// TeamViewer framing.
    Teamviewer(teamviewer::TeamViewerEvidence),
    /// RustDesk framing.
    Rustdesk(rustdesk::RustDeskEvidence),
    /// NoMachine NX banners.
    Nomachine(nomachine::NoMachineEvidence),
    /// Radmin handshake.
    Radmin(radmin::RadminEvidence),
    /// STUN/TURN messages and the addresses they reveal.
    Stun(stun::StunEvidence),
    /// WireGuard handshake.
    Wireguard(wireguard::WireGuardEvidence),
    /// OpenVPN control channel.
    Openvpn(openvpn::OpenVpnEvidence),
    /// Tailscale disco.
    Tailscale(tailscale::TailscaleEvidence),
    /// IP packets inside ICMP echo payloads.
    IcmpTunnel(icmp_tunnel::IcmpTunnelEvidence),
    /// Data carried in DNS query names.
    DnsTunnel(dns_tunnel::DnsTunnelEvidence),
    /// A SOCKS proxy handshake.
    Socks(socks::SocksEvidence),
    /// An IKE (IPsec key exchange) message.
    Ipsec(ipsec::IpsecEvidence),
    /// A PPTP control connection.
    Pptp(pptp::PptpEvidence),
    /// A tinc meta connection.
    Tinc(tinc::TincEvidence),
    /// SoftEther VPN PACK messages or NAT-traversal keepalives.
    Softether(softether::SoftEtherEvidence),
    /// UltraSurf's fixed stream prefix.
    Ultrasurf(ultrasurf::UltraSurfEvidence),
    /// A Raspberry Pi (IP-KVM class device) on the endpoint's segment.
    IpKvm(ip_kvm::IpKvmEvidence),
    /// A name, ALPN or certificate that an indicator attributes to a tool.
    Name(Box<crate::detect::names::NameEvidence>),
}

/// Result of parsing one structure from a prefix (shared by the fingerprints' parsers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<T> {
    /// Parsed.
    Done(T),
    /// Consistent so far, more bytes needed.
    Incomplete,
    /// Contradicts the protocol.
    Invalid,
}

impl<T> Step<T> {
    /// The parsed value, if parsing finished.
    pub fn done(self) -> Option<T> {
        match self {
            Step::Done(v) => Some(v),
            Step::Incomplete | Step::Invalid => None,
        }
    }
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
    /// Whether this fingerprint applies to flows of this transport.
    fn wants(&self, transport: Transport) -> bool;
    /// Payload bytes per direction this fingerprint may need before it can decide.
    fn bytes_wanted(&self) -> usize;
    /// Decide on the bytes seen so far. Pure and panic-free.
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome;
    /// Whether this fingerprint reads [`Exchange::datagrams`] (UDP flows then stay in the
    /// probe for up to [`MAX_DATAGRAM_HEADS`] datagrams while it says `NeedMore`).
    fn wants_datagrams(&self) -> bool {
        false
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
