//! Enrichment: what the reporting plane learns about a peer address from outside data —
//! country, autonomous system and organisation — from MaxMind DB files and range tables.
//!
//! # Contract
//! Enrichment runs after the crossing and never on the fast path. Every database or table is
//! untrusted input: a missing, truncated or malformed file is an error value naming the file
//! and what is wrong, never a panic, and memory stays proportional to what was loaded. A
//! lookup only reads: it decides nothing about alerts (the verdict does).

pub mod mmdb_write;
