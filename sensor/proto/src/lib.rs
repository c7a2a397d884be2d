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
//! name-lists, and a follower of the clear-text phase for the timing code), STUN/TURN (header,
//! attributes and their address decoding, FINGERPRINT, ChannelData, TCP framing, classic
//! RFC 3489), Tailscale disco packets, tinc's ID request line and the IP headers ICMP tunnels
//! carry in echo payloads.

pub mod dhcp;
pub mod dns;
pub mod http;
pub mod icmp;
pub mod quic;
pub mod ssh;
pub mod step;
pub mod stun;
pub mod tailscale;
pub mod tinc;
pub mod tls;

pub use step::Step;

#[cfg(test)]
mod testutil;
