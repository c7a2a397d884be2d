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
//! messages, NoMachine's version lines and UDP header, the SOCKS4/4a/5 handshake, and
//! RustDesk's length-prefixed framing with the protobuf rendezvous and peer messages it
//! carries.

pub mod dhcp;
pub mod dns;
pub mod http;
pub mod nomachine;
pub mod quic;
pub mod radmin;
pub mod rdp;
pub mod rustdesk;
pub mod socks;
pub mod ssh;
pub mod step;
pub mod stun;
pub mod teamviewer;
pub mod tls;
pub mod vnc;

pub use step::Step;

#[cfg(test)]
mod testutil;
