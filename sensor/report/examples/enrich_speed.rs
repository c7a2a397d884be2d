//! Lookup speed and table size of enrichment with the shared geography data
//! (`../shared/geo/`): `cargo run --release -p farhand-report --example enrich_speed [GEO_DIR]`.
//!
//! # Contract
//! A measurement, not a test: prints load time, the ASN table's memory and lookups per
//! second (country + ASN, over public addresses spread across the IPv4 and IPv6 space).
//! Exits with a message when the data is absent.
#![allow(clippy::print_stdout, reason = "an example that reports its measurement")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Instant;

use farhand_report::enrich::asn_table::AsnTable;
use farhand_report::enrich::lookup::Enricher;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/geo"), PathBuf::from);
    let (country, v4, v6) =
        (dir.join("geo-whois-asn-country.mmdb"), dir.join("asn-ipv4.csv.gz"), dir.join("asn-ipv6.csv.gz"));
    if !country.exists() {
        println!("enrich_speed: {} not found: nothing measured", country.display());
        return;
    }
    let t = Instant::now();
    let table = match AsnTable::load(&[&v4, &v6]) {
        Ok(t) => t,
        Err(e) => return println!("enrich_speed: {e}"),
    };
    println!(
        "ASN table: {} IPv4 + {} IPv6 ranges, {} organisations, {} bytes on the heap, loaded in {:.2} s",
        table.ipv4_ranges(),
        table.ipv6_ranges(),
        table.organisations(),
        table.heap_bytes(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let e = match Enricher::open_all(Some(&country), &[&v4, &v6]) {
        Ok(e) => e,
        Err(e) => return println!("enrich_speed: {e}"),
    };
    println!("Enricher opened in {:.2} s: {}", t.elapsed().as_secs_f64(), e.health());
    // A fixed pseudo-random walk (xorshift) over the address space: mostly public addresses.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let addrs: Vec<IpAddr> = (0..200_000)
        .map(|i| {
            let r = next();
            if i % 4 == 0 {
                // Inside 2000::/4, where most allocated IPv6 space is.
                IpAddr::V6(Ipv6Addr::from((u128::from(r) << 64 | u128::from(next())) >> 4 | 0x2000 << 112))
            } else {
                IpAddr::V4(Ipv4Addr::from((r >> 32) as u32))
            }
        })
        .collect();
    let t = Instant::now();
    let (mut countries, mut owners) = (0u64, 0u64);
    for a in &addrs {
        let p = e.lookup(*a);
        countries += u64::from(p.country.is_some());
        owners += u64::from(p.asn.is_some());
    }
    let s = t.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss, reason = "a rate for display")]
    let rate = addrs.len() as f64 / s;
    println!(
        "{} lookups (country + ASN) in {s:.3} s: {rate:.0} lookups/s; {countries} with a country, {owners} with an owner, {} errors",
        addrs.len(),
        e.lookup_errors()
    );
    let t = Instant::now();
    let hits = addrs.iter().filter(|a| table.lookup(**a).is_some()).count();
    #[allow(clippy::cast_precision_loss, reason = "a rate for display")]
    let rate = addrs.len() as f64 / t.elapsed().as_secs_f64();
    println!("ASN table alone: {rate:.0} lookups/s ({hits} hits)");
}
