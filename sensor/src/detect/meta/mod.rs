//! Session metadata: parsers of the protocols that *name* things — TLS (SNI, ALPN,
//! certificates, JA3/JA4), DNS (what an endpoint looked up and the answers), QUIC (the
//! ClientHello inside the Initial packet), HTTP/1 (Host, User-Agent, CONNECT, Upgrade) and
//! DHCP (the host name a device gives itself).
//!
//! # Contract
//! - Each parser is pure and zero-copy over the bytes it is given (a flow's first bytes, or
//!   one datagram), returns a small owned summary, never panics and never allocates in
//!   proportion to a length field it has not checked against the input. Limits are named
//!   constants.
//! - The summaries feed the name- and certificate-based detectors and the per-endpoint name
//!   cache; the parsers themselves decide nothing about tools.

pub mod dhcp;
pub mod dns;
pub mod http;
pub mod quic;
pub mod tls;
