//! Tools, protocols and how a recognition was made.

use crate::evidence::Evidence;
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
    /// IPsec ESP (IP protocol 50): `Exchange` sides are the first packet's ESP header and
    /// payload in each direction; the flow key has no ports.
    Esp,
    /// IPsec AH in tunnel mode (IP protocol 51 protecting an IP packet): `Exchange` sides are
    /// the first protected packet of each direction; no ports.
    Ah,
    /// GRE (IP protocol 47): `Exchange` sides are the first packet's GRE header and payload in
    /// each direction; no ports.
    Gre,
}

impl Transport {
    /// The transport of an IP protocol number (TCP, UDP, ICMP/ICMPv6 echo, ESP, AH, GRE).
    pub fn of_proto(proto: u8) -> Transport {
        use crate::net::proto;
        match proto {
            proto::TCP => Transport::Tcp,
            proto::ICMP | proto::ICMPV6 => Transport::Icmp,
            proto::ESP => Transport::Esp,
            proto::AH => Transport::Ah,
            proto::GRE => Transport::Gre,
            _ => Transport::Udp,
        }
    }

    /// Lower-case name (`tcp`, `udp`, `icmp`, `esp`, `ah`, `gre`).
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Icmp => "icmp",
            Transport::Esp => "esp",
            Transport::Ah => "ah",
            Transport::Gre => "gre",
        }
    }
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
