//! Enrichment: what a peer address is (special-purpose or public) and, for public ones,
//! its country and owner (autonomous system and organisation) from operator databases.
//!
//! # Contract
//! - [`special`]: the class of an address, before any lookup; only public addresses are
//!   looked up.
//! - [`asn_table`]: `first_ip,last_ip,asn,organisation` CSV files as a sorted range table.
//! - [`lookup`]: the [`lookup::Enricher`] built from a country MaxMind DB and an ASN source
//!   (MaxMind DB or CSV), answering [`lookup::PeerInfo`] per address.
//! - [`error`]: one error type, one line naming the file and what is wrong.

pub mod asn_table;
pub mod error;
pub mod lookup;
pub mod special;
#[cfg(test)]
mod test_mmdb;
