//! The evidence behind a recognition, per protocol: the fields an alert carries.

use crate::tool::{Category, Transport};
use serde::Serialize;

/// Protocol fields extracted by a fingerprint; serialised into the alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum Evidence {
    /// SSH banners and key-exchange fingerprints.
    Ssh(SshEvidence),
    /// RDP negotiation fields.
    Rdp(RdpEvidence),
    /// RFB versions and security type.
    Vnc(VncEvidence),
    /// TeamViewer framing.
    Teamviewer(TeamViewerEvidence),
    /// RustDesk framing.
    Rustdesk(RustDeskEvidence),
    /// NoMachine NX banners.
    Nomachine(NoMachineEvidence),
    /// Radmin handshake.
    Radmin(RadminEvidence),
    /// STUN/TURN messages and the addresses they reveal.
    Stun(StunEvidence),
    /// WireGuard handshake.
    Wireguard(WireGuardEvidence),
    /// OpenVPN control channel.
    Openvpn(OpenVpnEvidence),
    /// Tailscale disco.
    Tailscale(TailscaleEvidence),
    /// IP packets inside ICMP echo payloads.
    IcmpTunnel(IcmpTunnelEvidence),
    /// Data carried in DNS query names.
    DnsTunnel(DnsTunnelEvidence),
    /// A SOCKS proxy handshake.
    Socks(SocksEvidence),
    /// An IKE (IPsec key exchange) message.
    Ipsec(IpsecEvidence),
    /// A PPTP control connection.
    Pptp(PptpEvidence),
    /// A tinc meta connection.
    Tinc(TincEvidence),
    /// SoftEther VPN PACK messages or NAT-traversal keepalives.
    Softether(SoftEtherEvidence),
    /// UltraSurf's fixed stream prefix.
    Ultrasurf(UltraSurfEvidence),
    /// A device of an IP-KVM hardware class (a Raspberry Pi, a KVM maker's OUI) on the
    /// endpoint's segment.
    IpKvm(IpKvmEvidence),
    /// A name, ALPN or certificate that an indicator attributes to a tool.
    Name(Box<NameEvidence>),
}

/// Fields reported with a SoftEther match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SoftEtherEvidence {
    /// First element names of the initiator's PACK (e.g. `opcode`, `tran_id`).
    pub client_elements: Vec<String>,
    /// First element names of the responder's PACK.
    pub server_elements: Vec<String>,
    /// The public address and port the NAT-T server reported back (`IP=…,PORT=…`).
    pub reported_public_address: Option<String>,
    /// What the match rests on.
    pub note: &'static str,
}

/// Fields extracted from a RDP handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RdpEvidence {
    /// TCP (X.224) or UDP (RDP-UDP).
    pub transport: Transport,
    /// User name from the `Cookie: mstshash=` line, at most the RDP fingerprint's `MAX_COOKIE_USER_LEN` bytes.
    pub cookie_user: Option<String>,
    /// A routing token (load-balancer cookie) was present.
    pub routing_token: bool,
    /// Names of the protocols in the negotiation request, if one was sent.
    pub requested_protocols: Option<Vec<&'static str>>,
    /// The protocol the server selected, if it answered with a negotiation response.
    pub selected_protocol: Option<&'static str>,
    /// The failure code, if the server answered with a negotiation failure.
    pub negotiation_failure: Option<u32>,
    /// A valid Connection Confirm was seen.
    pub confirmed: bool,
    /// RDP-UDP: the client's initial sequence number.
    pub udp_initial_sequence: Option<u32>,
    /// RDP-UDP: the client's upstream MTU.
    pub udp_upstream_mtu: Option<u16>,
    /// RDP-UDP: the client's downstream MTU.
    pub udp_downstream_mtu: Option<u16>,
    /// RDP-UDP: a matching SYN+ACK was seen.
    pub udp_syn_ack: bool,
    /// UDP: picked up mid-session from data datagrams whose acknowledgements cross-check.
    pub udp_mid_session: bool,
}

/// Fields reported with an UltraSurf match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UltraSurfEvidence {
    /// Which side sent the constant: `initiator` or `responder`.
    pub sent_by: &'static str,
}

/// Fields of an ICMP tunnel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IcmpTunnelEvidence {
    /// The IP packet inside the first echo request, if it is one.
    pub request_inner: Option<InnerIp>,
    /// The IP packet inside the first echo reply, if it is one.
    pub reply_inner: Option<InnerIp>,
    /// Payload sizes of the first request and reply.
    pub payload_sizes: [usize; 2],
}

/// An IP header found inside an echo payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InnerIp {
    /// 4 or 6.
    pub version: u8,
    /// The inner packet's protocol (IPv4 protocol / IPv6 next header).
    pub protocol: u8,
    /// The inner packet's total length.
    pub length: usize,
}

/// Fields extracted from an OpenVPN control channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenVpnEvidence {
    /// Transport the session runs over.
    pub transport: Transport,
    /// Opcodes seen, initiator's first.
    pub opcodes: Vec<&'static str>,
    /// Key id of the first packet.
    pub key_id: u8,
    /// The client's session id (hex).
    pub client_session_id: Option<String>,
    /// The server's session id (hex).
    pub server_session_id: Option<String>,
    /// Whether the server's reset acknowledged the client's session id.
    pub session_acked: bool,
    /// Guess at the control-channel protection: `none`, `tls_auth_sha1`, …, `tls_crypt`,
    /// `tls_crypt_v2` (the client's reset is the v3 one carrying a wrapped client key).
    pub tls_auth: &'static str,
    /// tls-crypt-v2: length of the wrapped client key (WKc) the client's reset carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapped_client_key_len: Option<u16>,
    /// XOR-obfuscated session: the key byte that turns the first bytes back into opcodes (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obfuscation_xor: Option<String>,
}

/// Fields extracted from a SSH handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshEvidence {
    /// The client's identification string (boxed to keep the fingerprint outcome small).
    pub client_banner: Option<Box<SshBanner>>,
    /// The server's identification string (boxed to keep the fingerprint outcome small).
    pub server_banner: Option<Box<SshBanner>>,
    /// HASSH of the client KEXINIT.
    pub hassh: Option<String>,
    /// The string HASSH is the MD5 of.
    pub hassh_algorithms: Option<String>,
    /// HASSHServer of the server KEXINIT.
    pub hassh_server: Option<String>,
    /// The string HASSHServer is the MD5 of.
    pub hassh_server_algorithms: Option<String>,
}

/// An identification string in the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshBanner {
    /// Protocol version (`2.0`, `1.99`, `1.5`).
    pub proto: String,
    /// Software version.
    pub software: String,
    /// Comment, if any.
    pub comment: Option<String>,
}

/// Fields reported with a PPTP match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PptpEvidence {
    /// Which channel was seen: `control` (the TCP control connection) or `data` (PPP in
    /// enhanced GRE, without its control connection).
    pub channel: &'static str,
    /// Protocol version the client asked for (0x0100 = 1.0; 0 for the data channel).
    pub protocol_version: u16,
    /// Host name the client sent (printable, trimmed; empty for the data channel).
    pub host_name: String,
    /// The server replied (a Start-Control-Connection-Reply; GRE from the other side).
    pub replied: bool,
    /// Data channel: the call id the initiator's packets carry (the peer's call id).
    pub call_id: Option<u16>,
}

/// Fields extracted from a Radmin exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RadminEvidence {
    /// The client's leading valid messages (at most the Radmin fingerprint's `MAX_MESSAGES`).
    pub client_messages: Vec<RadminMessage>,
    /// The server's leading valid messages (at most the Radmin fingerprint's `MAX_MESSAGES`).
    pub server_messages: Vec<RadminMessage>,
}

/// One message in the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RadminMessage {
    /// Bytes on the wire, header included (10 and 46 for the classic hello and reply).
    pub size: usize,
    /// The message code (first payload byte).
    pub code: u8,
    /// The verified checksum field.
    pub checksum: u32,
}

/// Fields extracted from Tailscale disco packets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TailscaleEvidence {
    /// First 8 bytes (hex) of the initiator's disco public key, if it sent a disco packet.
    pub orig_disco_key: Option<String>,
    /// First 8 bytes (hex) of the responder's disco public key, if it sent a disco packet.
    pub resp_disco_key: Option<String>,
    /// Number of disco packets seen (0–2: one datagram per direction).
    pub disco_packets: u8,
}

/// Fields extracted from a TeamViewer exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamViewerEvidence {
    /// TCP or UDP.
    pub transport: Transport,
    /// Frame forms seen (`"1724"`, `"1130"`), in order of first appearance.
    pub magics: Vec<Magic>,
    /// Distinct command codes the client sent, in order (at most the TeamViewer fingerprint's `MAX_EVIDENCE_COMMANDS`).
    pub client_commands: Vec<TvCommand>,
    /// Distinct command codes the server sent, in order (at most the TeamViewer fingerprint's `MAX_EVIDENCE_COMMANDS`).
    pub server_commands: Vec<TvCommand>,
    /// Complete client frames seen (at most the fingerprint's `MAX_FRAMES`; UDP: 0 or 1).
    pub client_frames: usize,
    /// Complete server frames seen (at most the fingerprint's `MAX_FRAMES`; UDP: 0 or 1).
    pub server_frames: usize,
}

/// The two frame forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Magic {
    /// `17 24`: `u8` command, `u16` LE length.
    #[serde(rename = "1724")]
    V1,
    /// `11 30`: `u8` command, `u32` LE length, 24-byte header.
    #[serde(rename = "1130")]
    V2,
}

/// A command code in the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TvCommand {
    /// Command code.
    pub code: u8,
    /// Published name, if the code has one.
    pub name: Option<&'static str>,
}

/// Fields extracted from a WireGuard (or WARP) exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WireGuardEvidence {
    /// Message kinds seen, initiator's first (e.g. `handshake_initiation`).
    pub messages: Vec<&'static str>,
    /// Initiator's sender index (hex, as on the wire little-endian decoded), if seen.
    pub sender_index: Option<String>,
    /// Responder's sender index, if seen.
    pub responder_index: Option<String>,
    /// Receiver indices of the data messages seen (initiator's, responder's).
    pub receiver_indices: Vec<String>,
    /// Whether the response (or cookie reply) named the initiation's sender index.
    pub response_index_matched: bool,
    /// Cloudflare WARP variant: the 3-byte client id from the reserved bytes (hex).
    pub warp_client_id: Option<String>,
    /// Short note on what the verdict rests on.
    pub note: &'static str,
}

/// Evidence of a DNS tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsTunnelEvidence {
    /// The parent domain most queries went to.
    pub parent_domain: String,
    /// Queries seen on the flow when it was decided.
    pub queries: u16,
    /// Of those, under the parent domain.
    pub queries_to_parent: u16,
    /// Of those, for data-carrying record types (NULL, TXT, private, CNAME, MX, SRV, ANY).
    pub data_type_queries: u16,
    /// Of those, with long or high-entropy subdomains.
    pub shaped_queries: u16,
    /// Mean subdomain length, bytes.
    pub mean_subdomain_len: u32,
    /// Longest label, bytes.
    pub longest_label: u16,
    /// Query types and counts.
    pub qtypes: Vec<(u16, u16)>,
}

/// Fields extracted from a NoMachine exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoMachineEvidence {
    /// TCP (version lines) or UDP (datagram headers).
    pub transport: Transport,
    /// The client's version from `NXSH-<version>`.
    pub client_version: Option<String>,
    /// The server's version from `NXD-<version>`.
    pub server_version: Option<String>,
    /// The client started a TLS handshake after its line.
    pub tls_follows: bool,
    /// UDP: the message types of the first datagram of each direction (client first).
    pub udp_types: Vec<u16>,
}

/// Fields reported with a tinc match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TincEvidence {
    /// Node names announced (client, server).
    pub names: Vec<String>,
    /// Protocol version announced.
    pub protocol: String,
    /// For a UDP data channel: the meta connection's server endpoint it was linked to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_data_channel_of: Option<String>,
}

/// Fields extracted from a STUN/TURN exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StunEvidence {
    /// Message types seen, in order, without repeats (`binding_request`, `allocate_success`,
    /// `channel_data`, …).
    pub messages: Vec<&'static str>,
    /// A response echoed a request's transaction id.
    pub transaction_matched: bool,
    /// A FINGERPRINT attribute verified.
    pub fingerprint_verified: bool,
    /// A FINGERPRINT attribute was present with a wrong CRC (seen from Zoom clients).
    pub fingerprint_mismatch: bool,
    /// Classic RFC 3489 STUN (no magic cookie).
    pub classic: bool,
    /// TCP framing, if TCP: `bare` or `rfc4571`.
    pub framing: Option<&'static str>,
    /// SOFTWARE attribute (first seen, sanitised, truncated).
    pub software: Option<String>,
    /// REALM attribute (first seen, sanitised, truncated).
    pub realm: Option<String>,
    /// A USERNAME attribute was present (TURN long-term credentials, ICE).
    pub username_present: bool,
    /// XOR-MAPPED-ADDRESS / MAPPED-ADDRESS values (`ip:port`): the client's public address.
    pub mapped_addresses: Vec<String>,
    /// XOR-RELAYED-ADDRESS values: the relay's allocated address.
    pub relayed_addresses: Vec<String>,
    /// XOR-PEER-ADDRESS values: the far peer the relay talks to.
    pub peer_addresses: Vec<String>,
    /// TURN channel numbers seen (CHANNEL-NUMBER or ChannelData).
    pub channels: Vec<u16>,
}

/// Fields reported with an IKE match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpsecEvidence {
    /// What was seen: `ike` (the key exchange), `esp` (IP protocol 50), `esp_in_udp` (ESP
    /// over UDP 4500, RFC 3948) or `ah` (IP protocol 51 protecting a whole IP packet).
    pub encapsulation: &'static str,
    /// IKE major version (0 when no IKE message was seen).
    pub ike_version: u8,
    /// Exchange type of the first IKE message (0 when none).
    pub exchange_type: u8,
    /// NAT traversal encapsulation (UDP 4500 style).
    pub nat_traversal: bool,
    /// Initiator SPI (hex): IKE's 8-byte SPI, or the initiator's 4-byte ESP/AH SPI.
    pub initiator_spi: String,
    /// The responder answered: with the same initiator SPI (IKE), or with ESP/AH of its own.
    pub responded: bool,
}

/// [`IpKvmEvidence::hardware`] of a single-board computer's OUI (Raspberry Pi).
pub const HARDWARE_SBC: &str = "single_board_computer";
/// [`IpKvmEvidence::hardware`] of an OUI registered to a maker of IP-KVM devices.
pub const HARDWARE_KVM_MAKER: &str = "kvm_maker";

/// Evidence of a suspected IP-KVM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpKvmEvidence {
    /// The device's MAC address.
    pub mac: String,
    /// The vendor the OUI is registered to.
    pub vendor: &'static str,
    /// What that vendor makes: [`HARDWARE_SBC`] (Raspberry Pi: the hardware of PiKVM and
    /// TinyPilot, but also of routers, sensors and signage) or [`HARDWARE_KVM_MAKER`] (a
    /// maker of IP-KVM devices, whose OUI may also sit on its other products).
    pub hardware: &'static str,
    /// The device was seen forwarding traffic of an outside address (it is the segment's
    /// router or a bridge), not sending its own: the alert's endpoint is then the inside
    /// host it delivered to.
    pub routed: bool,
}

/// Fields extracted from a VNC handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VncEvidence {
    /// The server's ProtocolVersion, `xxx.yyy`.
    pub server_version: Option<String>,
    /// The client's ProtocolVersion, `xxx.yyy`.
    pub client_version: Option<String>,
    /// Security types the server offered (3.3: the one it imposed); empty if not seen.
    pub security_types: Vec<SecurityType>,
    /// The security type in use: the client's choice (3.7+) or the server's (3.3).
    pub security_type: Option<SecurityType>,
    /// The server refused the connection during security negotiation.
    pub security_failure: bool,
}

/// An RFB security type with its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SecurityType {
    /// Type number.
    pub id: u8,
    /// Registry name (the VNC fingerprint's `security_type_name`).
    pub name: &'static str,
}

/// Fields reported with a SOCKS match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocksEvidence {
    /// 4 or 5.
    pub version: u8,
    /// `connect`, `bind` or `udp_associate`.
    pub command: &'static str,
    /// Requested destination.
    pub target: String,
    /// SOCKS5 authentication method.
    pub auth_method: Option<u8>,
    /// Reply code.
    pub reply: Option<u8>,
}

/// Fields extracted from a RustDesk exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RustDeskEvidence {
    /// TCP (framed) or UDP (bare rendezvous messages).
    pub transport: Transport,
    /// The client's opening message.
    pub client_message: Option<MessageName>,
    /// The server's opening message.
    pub server_message: Option<MessageName>,
    /// Complete client frames seen (at most the fingerprint's `MAX_FRAMES`; UDP: 0 or 1).
    pub client_frames: usize,
    /// Complete server frames seen (at most the fingerprint's `MAX_FRAMES`; UDP: 0 or 1).
    pub server_frames: usize,
    /// The RustDesk ID named by an opening message (`register_peer`, `punch_hole_request`,
    /// `request_relay`, ...), client's first.
    pub peer_id: Option<String>,
}

/// An opening message in the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MessageName {
    /// Rendezvous or peer message.
    pub family: Family,
    /// Oneof member name, e.g. `punch_hole_request`, `signed_id`.
    pub name: &'static str,
}

/// A compact view of a TLS handshake, reported with the finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsBrief {
    /// Server name indication.
    pub sni: Option<String>,
    /// ALPN protocol ids offered.
    pub alpn: Vec<String>,
    /// JA3 hash.
    pub ja3: String,
    /// JA4.
    pub ja4: String,
    /// Server certificate subject common name (TLS ≤ 1.2).
    pub cert_subject_cn: Option<String>,
    /// Server certificate issuer common name.
    pub cert_issuer_cn: Option<String>,
    /// Issuer equals subject.
    pub cert_self_signed: Option<bool>,
}

/// Why a flow was attributed to a tool by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameEvidence {
    /// The tool's stable name.
    pub tool_name: String,
    /// The tool's display name.
    pub tool_title: String,
    /// The tool's category.
    pub category: Category,
    /// Where the name was seen: `tls_sni`, `tls_alpn`, `tls_certificate`, `quic_sni`,
    /// `http_host`, `http_user_agent`, `dns_query`.
    pub field: &'static str,
    /// The name as seen.
    pub value: String,
    /// The indicator pattern that matched.
    pub pattern: String,
    /// The indicator file it came from.
    pub source: String,
    /// The TLS handshake, when the flow was TLS.
    pub tls: Option<TlsBrief>,
    /// For a DNS lookup: the addresses and names in the answer.
    pub answers: Vec<String>,
}

/// Which oneof a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `RendezvousMessage` (to/from the ID and relay servers).
    Rendezvous,
    /// `Message` (between peers).
    Peer,
}
