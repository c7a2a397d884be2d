//! Pure, zero-copy protocol parsers: the bytes → structure half of farhand.
//!
//! # Contract
//! - Each parser is pure and zero-copy over the bytes it is given (a flow's first bytes, or
//!   one datagram), returns a small owned summary, never panics whatever the bytes are and
//!   never allocates in proportion to a length field it has not checked against the input.
//!   Limits are named constants, defined once in the protocol's module.
//! - A parser decides nothing about tools: the fingerprints and timing detectors of the
//!   fast path (`farhand-engine`) read its summaries.
//! - Depends on `farhand-model` only.
//!
//! Today: TLS (ClientHello/ServerHello, certificates, JA3/JA4), QUIC (the ClientHello inside
//! the Initial packet), DNS, HTTP/1 (Host, User-Agent, CONNECT, Upgrade), DHCP (the host
//! name a device gives itself), SSH (identification lines, clear-text packet framing, KEXINIT
//! name-lists, and a follower of the clear-text phase for the timing code), the STUN message
//! header (type, class, magic cookie, length, transaction id), RDP (TPKT, the X.224
//! Connection Request/Confirm with cookie, routing token and negotiation structures, the
//! MS-RDPEUDP SYN and data headers, and a follower of the TLS record framing after the
//! Confirm for the timing code), VNC (the RFB ProtocolVersion, the security negotiation,
//! and a follower of the client's messages for the timing code), and the remote-control
//! tools' wire formats: TeamViewer's command framing (TCP and UDP), Radmin's checksummed
//! messages, NoMachine's version lines and UDP header, and the SOCKS4/4a/5 handshake; and the VPN and tunnel formats:
//! OpenVPN (opcodes, TCP length prefix, hard resets under none/tls-auth/tls-crypt), WireGuard
//! (handshake, cookie and data messages, the WARP and longer-handshake variants), IKE (ISAKMP
//! header, NAT-T non-ESP marker, payload chain), PPTP (control message header,
//! Start-Control-Connection fields) and SoftEther (PACK, NAT-T keepalive answer).

pub mod dhcp;
pub mod dns;
pub mod http;
pub mod ike;
pub mod nomachine;
pub mod openvpn;
pub mod pptp;
pub mod quic;
pub mod radmin;
pub mod rdp;
pub mod socks;
pub mod softether;
pub mod ssh;
pub mod step;
pub mod stun;
pub mod teamviewer;
pub mod tls;
pub mod vnc;
pub mod wireguard;

pub use step::Step;

#[cfg(test)]
mod testutil;
