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
//! Modules, one per protocol:
//! - web and naming: `tls` (ClientHello/ServerHello, certificates, JA3/JA4), `quic` (the
//!   ClientHello inside the Initial packet), `dns`, `http` (HTTP/1 heads: Host, User-Agent,
//!   CONNECT, Upgrade), `dhcp` (the host name a device gives itself);
//! - remote control: `ssh` (identification lines, clear-text packet framing, KEXINIT
//!   name-lists, and a follower of the clear-text phase for the timing code), `rdp` (TPKT,
//!   X.224 Connection Request/Confirm with cookie, routing token and negotiation structures,
//!   MS-RDPEUDP SYN and data headers, a follower of the TLS record framing for the timing
//!   code), `vnc` (RFB ProtocolVersion, security negotiation, a follower of the client's
//!   messages), `teamviewer` (command framing over TCP and UDP), `rustdesk` (frame header
//!   and the protobuf messages of rendezvous and relay), `radmin` (checksummed messages),
//!   `nomachine` (version lines, the NX UDP header);
//! - relays, VPNs and tunnels: `stun` (STUN/TURN header, attributes and their address
//!   decoding, FINGERPRINT, ChannelData, TCP framing, classic RFC 3489), `socks` (SOCKS4/4a/5
//!   handshake), `openvpn` (opcodes, TCP length prefix, hard resets under
//!   none/tls-auth/tls-crypt), `wireguard` (handshake, cookie and data messages, the WARP and
//!   longer-handshake variants), `ike` (ISAKMP header, NAT-T non-ESP marker, payload chain),
//!   `pptp` (control message header, Start-Control-Connection fields), `softether` (PACK,
//!   NAT-T keepalive answer), `tailscale` (disco packets), `tinc` (the ID request line),
//!   `icmp` (IP headers carried in echo payloads);
//! - `step`: the [`Step`] every parser answers, whose `Invalid` carries a typed
//!   [`Anomaly`](farhand_model::Anomaly) (layer, offset, reason).

pub mod dhcp;
pub mod dns;
pub mod http;
pub mod icmp;
pub mod ike;
pub mod nomachine;
pub mod openvpn;
pub mod pptp;
pub mod quic;
pub mod radmin;
pub mod rdp;
pub mod rustdesk;
pub mod socks;
pub mod softether;
pub mod ssh;
pub mod step;
pub mod stun;
pub mod tailscale;
pub mod teamviewer;
pub mod tinc;
pub mod tls;
pub mod vnc;
pub mod wireguard;

pub use step::Step;

/// This crate under the name the shared test helpers use for it (`farhand_proto` in the
/// engine's tests).
#[cfg(test)]
use crate as proto_crate;
#[cfg(test)]
mod testutil;
