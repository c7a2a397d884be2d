//! Enrichment: what the reporting plane learns about a peer address from outside data —
//! whether it is special-purpose or public and, for public ones, its country and owner
//! (autonomous system and organisation) — from MaxMind DB files and range tables.
//!
//! # Contract
//! Enrichment runs after the crossing and never on the fast path. Every database or table is
//! untrusted input: a missing, truncated or malformed file is an error value naming the file
//! and what is wrong, never a panic, and memory stays proportional to what was loaded. A
//! lookup only reads: it decides nothing about alerts (the verdict does).
//! - [`special`]: the class of an address, before any lookup; only public addresses are
//!   looked up.
//! - [`range_csv`]: the one reader of `first_ip,last_ip,…` CSV files (plain or gzip) and the
//!   overlap rule of the range tables built from them.
//! - [`asn_table`]: `first_ip,last_ip,asn,organisation` CSV files as a sorted range table.
//! - [`country_table`]: `first_ip,last_ip,country_code` CSV files as a sorted range table.
//! - [`lookup`]: the [`lookup::Enricher`] built from a country source and an ASN source
//!   (each a MaxMind DB or CSV files), answering [`lookup::PeerInfo`] per address.
//! - [`live`]: the configured databases of a running sensor ([`live::Enrichment`]), reopened
//!   when their files change.
//! - [`mmdb_write`]: a MaxMind DB writer (`farhand geo import-asn` and `import-country`, and
//!   test databases).
//! - [`error`]: one error type, one line naming the file and what is wrong.

pub mod asn_table;
pub mod country_table;
pub mod error;
pub mod live;
pub mod lookup;
pub mod mmdb_write;
pub mod range_csv;
pub mod special;
