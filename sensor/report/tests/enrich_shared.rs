//! Enrichment against the shared geography data (`../shared/geo/`): the flat-schema country
//! MaxMind DB and the ASN CSVs, for well-known public addresses, asserting what the files say.
//! Skips with a visible message when the shared data is absent.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use farhand_report::enrich::error::EnrichError;
use farhand_report::enrich::lookup::{Enricher, PeerInfo};
use farhand_report::enrich::special::AddrClass;

fn geo() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/geo");
    if dir.join("geo-whois-asn-country.mmdb").exists() {
        Some(dir)
    } else {
        eprintln!("SKIP enrich_shared: {} not found (the shared data is absent)", dir.display());
        None
    }
}

fn open(dir: &Path) -> Result<Enricher, EnrichError> {
    Enricher::open_all(
        Some(&dir.join("geo-whois-asn-country.mmdb")),
        &[&dir.join("asn-ipv4.csv.gz"), &dir.join("asn-ipv6.csv.gz")],
    )
}

fn peer(class: AddrClass, country: &str, asn: u32, org: &str) -> PeerInfo {
    PeerInfo { class, country: Some(country.into()), asn: Some(asn), org: Some(org.into()) }
}

#[test]
fn well_known_addresses_get_what_the_files_say() {
    let Some(dir) = geo() else { return };
    let e = open(&dir).unwrap();
    let public = AddrClass::Public;
    let cases = [
        ("1.1.1.1", peer(public, "AU", 13335, "Cloudflare, Inc.")),
        ("8.8.8.8", peer(public, "US", 15169, "Google LLC")),
        ("::ffff:8.8.8.8", peer(public, "US", 15169, "Google LLC")),
        ("9.9.9.9", peer(public, "US", 19281, "Quad9")),
        ("2001:4860:4860::8888", peer(public, "US", 15169, "Google LLC")),
        ("2606:4700:4700::1111", peer(public, "US", 13335, "Cloudflare, Inc.")),
        ("2620:fe::fe", peer(public, "US", 19281, "Quad9")),
        // The one overlap of the IPv4 file: 214.95.0.0-215.0.255.255 (AS749) holds
        // 215.0.0.0-215.1.3.255 (AS721) in part; the narrower range wins where they meet.
        ("215.0.0.1", peer(public, "US", 721, "DoD Network Information Center")),
        ("214.255.0.1", peer(public, "US", 749, "United States Department of Defense (DoD)")),
    ];
    for (a, want) in cases {
        let ip: IpAddr = a.parse().unwrap();
        assert_eq!(e.lookup(ip), want, "{a}");
    }
    let private = e.lookup("10.0.0.1".parse().unwrap());
    assert_eq!(private, PeerInfo { class: AddrClass::Private, country: None, asn: None, org: None });
    assert_eq!(e.lookup_errors(), 0);
}

#[test]
fn health_names_both_databases_with_their_counts() {
    let Some(dir) = geo() else { return };
    let h = open(&dir).unwrap().health();
    assert!(!h.is_degraded());
    let d = &h.detail;
    assert!(d.contains("(MaxMind DB type \"country ipvAll\", built 2026-06-17, 1306595 nodes, IPv4+IPv6)"), "{d}");
    assert!(
        d.contains(
            "(CSV: 411961 IPv4 + 103197 IPv6 ranges, 81276 organisations, 14.9 MB in memory, 1 overlap resolved)"
        ),
        "{d}"
    );
}
