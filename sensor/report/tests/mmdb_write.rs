//! The MaxMind DB writer read back by an independent reader, the `maxminddb` crate: exact
//! records and networks for IPv4 and IPv6 prefixes, misses, metadata, and hostile trees.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should panic with its message"
)]

use farhand_report::enrich::mmdb_write::{IpVersion, MmdbWriter, Record};
use ipnet::IpNet;
use maxminddb::{Reader, geoip2, path};
use std::net::IpAddr;

fn build(w: &MmdbWriter) -> Reader<Vec<u8>> {
    let mut buf = Vec::new();
    w.write(&mut buf).unwrap();
    let r = Reader::from_source(buf).unwrap();
    r.verify().unwrap();
    r
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// The network the reader says `addr` matched, as text.
fn matched(r: &Reader<Vec<u8>>, addr: &str) -> String {
    r.lookup(ip(addr)).unwrap().network().unwrap().to_string()
}

fn geoip2_country(iso: &str) -> Record {
    Record::new().with("country", Record::new().with("iso_code", iso))
}

fn asn(n: u32, org: &str) -> Record {
    Record::new().with("autonomous_system_number", n).with("autonomous_system_organization", org)
}

#[test]
fn geoip2_country_records_at_several_prefix_lengths() {
    let mut w = MmdbWriter::new("GeoIP2-Country", IpVersion::V6);
    let nets = [
        ("81.0.0.0/8", "FR"),
        ("82.64.0.0/16", "DE"),
        ("82.64.7.0/24", "IT"),
        ("193.51.24.1/32", "ES"),
        ("2a01::/16", "NL"),
        ("2001:db8:1234::/48", "BE"),
        ("2001:db8:ffff::1/128", "LU"),
    ];
    for (n, c) in nets {
        w.insert(net(n), geoip2_country(c)).unwrap();
    }
    let r = build(&w);
    let cases = [
        ("81.255.1.2", "FR", "81.0.0.0/8"),
        // The reader names the tree's node: the /24 inside splits the /16.
        ("82.64.200.1", "DE", "82.64.128.0/17"),
        ("82.64.6.255", "DE", "82.64.6.0/24"),
        ("82.64.7.9", "IT", "82.64.7.0/24"),
        ("193.51.24.1", "ES", "193.51.24.1/32"),
        ("2a01:e0a::1", "NL", "2a01::/16"),
        ("2001:db8:1234:5::9", "BE", "2001:db8:1234::/48"),
        ("2001:db8:ffff::1", "LU", "2001:db8:ffff::1/128"),
    ];
    for (addr, want, network) in cases {
        let c: geoip2::Country = r.lookup(ip(addr)).unwrap().decode().unwrap().unwrap();
        assert_eq!(c.country.iso_code, Some(want), "{addr}");
        let iso: Option<String> = r.lookup(ip(addr)).unwrap().decode_path(&path!["country", "iso_code"]).unwrap();
        assert_eq!(iso.as_deref(), Some(want), "{addr}");
        assert_eq!(matched(&r, addr), network, "{addr}");
    }
    for miss in ["80.255.255.255", "82.65.0.0", "193.51.24.0", "193.51.24.2", "2001:db8:ffff::2", "::1", "2a00::"] {
        let l = r.lookup(ip(miss)).unwrap();
        assert!(!l.has_data(), "{miss}");
        assert!(l.decode::<geoip2::Country>().unwrap().is_none(), "{miss}");
    }
}

#[test]
fn flat_and_asn_schemas() {
    let mut w = MmdbWriter::new("flat", IpVersion::V4);
    w.insert(net("90.0.0.0/9"), Record::new().with("country_code", "FR")).unwrap();
    w.insert(net("90.128.0.0/9"), asn(3215, "Orange")).unwrap();
    let r = build(&w);
    let cc: Option<String> = r.lookup(ip("90.1.2.3")).unwrap().decode_path(&path!["country_code"]).unwrap();
    assert_eq!(cc.as_deref(), Some("FR"));
    let a: geoip2::Asn = r.lookup(ip("90.200.0.1")).unwrap().decode().unwrap().unwrap();
    assert_eq!(a.autonomous_system_number, Some(3215));
    assert_eq!(a.autonomous_system_organization, Some("Orange"));
    assert_eq!(matched(&r, "90.200.0.1"), "90.128.0.0/9");
    assert!(!r.lookup(ip("91.0.0.0")).unwrap().has_data());
    assert!(!r.lookup(ip("89.255.255.255")).unwrap().has_data());
}

#[test]
fn every_value_type_reads_back() {
    let mut w = MmdbWriter::new("types", IpVersion::V4);
    let long = "x".repeat(70_000);
    let rec = Record::new()
        .with("a16", 65_535u16)
        .with("a32", u32::MAX)
        .with("a64", u64::MAX)
        .with("zero", 0u32)
        .with("long", long.as_str())
        .with("empty", "")
        .with("utf8", "Société Générale — 東京")
        .with("nested", Record::new().with("deeper", Record::new().with("n", 7u32)));
    w.insert(net("10.0.0.0/8"), rec).unwrap();
    let r = build(&w);
    let l = r.lookup(ip("10.1.1.1")).unwrap();
    // The reader checks the stored type: each width reads back as itself.
    assert_eq!(l.decode_path::<u16>(&path!["a16"]).unwrap(), Some(65_535));
    assert_eq!(l.decode_path::<u32>(&path!["a32"]).unwrap(), Some(u32::MAX));
    assert_eq!(l.decode_path::<u64>(&path!["a64"]).unwrap(), Some(u64::MAX));
    assert_eq!(l.decode_path::<u32>(&path!["zero"]).unwrap(), Some(0));
    assert!(l.decode_path::<u64>(&path!["a16"]).is_err());
    assert_eq!(l.decode_path::<String>(&path!["long"]).unwrap(), Some(long));
    assert_eq!(l.decode_path::<String>(&path!["empty"]).unwrap().as_deref(), Some(""));
    assert_eq!(l.decode_path::<String>(&path!["utf8"]).unwrap().as_deref(), Some("Société Générale — 東京"));
    assert_eq!(l.decode_path::<u32>(&path!["nested", "deeper", "n"]).unwrap(), Some(7));
}

#[test]
fn metadata_reads_back() {
    let mut w = MmdbWriter::new("GeoLite2-ASN", IpVersion::V4);
    w.set_build_epoch(1_750_000_000);
    w.set_languages(&["en", "fr"]);
    w.set_description("fr", "base de test");
    w.insert(net("10.0.0.0/8"), asn(64_512, "Private")).unwrap();
    let r = build(&w);
    let m = r.metadata();
    // One node per bit of the /8: the eighth node's record holds the data.
    assert_eq!(m.node_count, 8);
    assert_eq!(m.record_size, 24);
    assert_eq!(m.ip_version, 4);
    assert_eq!(m.database_type, "GeoLite2-ASN");
    assert_eq!(m.languages, ["en", "fr"]);
    assert_eq!(m.binary_format_major_version, 2);
    assert_eq!(m.binary_format_minor_version, 0);
    assert_eq!(m.build_epoch, 1_750_000_000);
    assert_eq!(m.description.len(), 2);
    assert_eq!(m.description["en"], "GeoLite2-ASN built by farhand");
    assert_eq!(m.description["fr"], "base de test");

    let empty = build(&MmdbWriter::new("empty", IpVersion::V6));
    assert_eq!((empty.metadata().node_count, empty.metadata().ip_version), (1, 6));
    assert!(!empty.lookup(ip("1.2.3.4")).unwrap().has_data());
    assert!(!empty.lookup(ip("2001:db8::1")).unwrap().has_data());
}

#[test]
fn a_large_data_section_takes_28_bit_records() {
    let mut w = MmdbWriter::new("big", IpVersion::V4);
    let mb = "y".repeat(1 << 20);
    for i in 0..17u8 {
        w.insert(net(&format!("10.{i}.0.0/16")), Record::new().with("s", format!("{i}{mb}"))).unwrap();
    }
    let r = build(&w);
    assert_eq!(r.metadata().record_size, 28);
    let s: String = r.lookup(ip("10.16.3.4")).unwrap().decode_path(&path!["s"]).unwrap().unwrap();
    assert_eq!((s.len(), &s[..3]), ((1 << 20) + 2, "16y"));
}

#[test]
fn the_more_specific_network_wins_in_either_order() {
    for reversed in [false, true] {
        let mut w = MmdbWriter::new("overlap", IpVersion::V6);
        let mut inserts = vec![
            (net("10.0.0.0/8"), asn(1, "wide")),
            (net("10.1.0.0/16"), asn(2, "narrow")),
            (net("10.1.2.3/32"), asn(3, "host")),
            (net("2001:db8::/32"), asn(4, "v6 wide")),
            (net("2001:db8::/64"), asn(5, "v6 narrow")),
        ];
        if reversed {
            inserts.reverse();
        }
        for (n, rec) in inserts {
            w.insert(n, rec).unwrap();
        }
        let r = build(&w);
        let num = |a: &str| r.lookup(ip(a)).unwrap().decode::<geoip2::Asn>().unwrap().unwrap().autonomous_system_number;
        assert_eq!(num("10.200.0.1"), Some(1), "reversed {reversed}");
        assert_eq!(num("10.1.200.1"), Some(2), "reversed {reversed}");
        assert_eq!(num("10.1.2.3"), Some(3), "reversed {reversed}");
        assert_eq!(num("10.1.2.4"), Some(2), "reversed {reversed}");
        assert_eq!(num("2001:db8:1::1"), Some(4), "reversed {reversed}");
        assert_eq!(num("2001:db8::77"), Some(5), "reversed {reversed}");
    }
    // The same network again: the later record.
    let mut w = MmdbWriter::new("again", IpVersion::V4);
    w.insert(net("10.0.0.0/8"), asn(1, "first")).unwrap();
    w.insert(net("10.0.0.0/8"), asn(2, "second")).unwrap();
    let r = build(&w);
    let a: geoip2::Asn = r.lookup(ip("10.9.9.9")).unwrap().decode().unwrap().unwrap();
    assert_eq!((a.autonomous_system_number, a.autonomous_system_organization), (Some(2), Some("second")));
}

#[test]
fn whole_space_and_host_routes() {
    let mut w = MmdbWriter::new("edges", IpVersion::V4);
    w.insert(net("0.0.0.0/0"), asn(1, "all")).unwrap();
    w.insert(net("255.255.255.255/32"), asn(2, "last")).unwrap();
    w.insert(net("0.0.0.0/32"), asn(3, "first")).unwrap();
    let r = build(&w);
    let num = |a: &str| r.lookup(ip(a)).unwrap().decode::<geoip2::Asn>().unwrap().unwrap().autonomous_system_number;
    assert_eq!(num("0.0.0.0"), Some(3));
    assert_eq!(num("0.0.0.1"), Some(1));
    assert_eq!(num("128.0.0.0"), Some(1));
    assert_eq!(num("255.255.255.254"), Some(1));
    assert_eq!(num("255.255.255.255"), Some(2));
    assert_eq!(matched(&r, "255.255.255.255"), "255.255.255.255/32");

    let mut w = MmdbWriter::new("edges6", IpVersion::V6);
    w.insert(net("::/0"), asn(10, "all")).unwrap();
    w.insert(net("0.0.0.0/0"), asn(11, "all v4")).unwrap();
    w.insert(net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), asn(12, "last")).unwrap();
    w.insert(net("1.2.3.4/32"), asn(13, "v4 host")).unwrap();
    let r = build(&w);
    let num = |a: &str| r.lookup(ip(a)).unwrap().decode::<geoip2::Asn>().unwrap().unwrap().autonomous_system_number;
    assert_eq!(num("2001:db8::1"), Some(10));
    assert_eq!(num("9.9.9.9"), Some(11));
    assert_eq!(num("1.2.3.4"), Some(13));
    assert_eq!(num("::1.2.3.4"), Some(13));
    assert_eq!(num("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Some(12));
    assert_eq!(num("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), Some(10));
    assert_eq!(matched(&r, "1.2.3.4"), "1.2.3.4/32");
    assert_eq!(matched(&r, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn addr(&mut self, v4: bool) -> IpAddr {
        if v4 {
            IpAddr::from((self.next() as u32).to_be_bytes())
        } else {
            // Mostly inside 2001:db8::/29 so that networks overlap.
            let hi = (0x2001_0db8u128 << 96) | (u128::from(self.next() & 0x7) << 96) | u128::from(self.next()) << 32;
            IpAddr::from((hi | u128::from(self.next() as u32)).to_be_bytes())
        }
    }
}

/// The record of the longest network holding `a`; the later of equal networks.
fn naive(nets: &[(IpNet, u32)], a: IpAddr) -> Option<u32> {
    let mut best: Option<(u8, u32)> = None;
    for &(n, id) in nets {
        if n.contains(&a) && best.is_none_or(|(len, _)| n.prefix_len() >= len) {
            best = Some((n.prefix_len(), id));
        }
    }
    best.map(|(_, id)| id)
}

#[test]
fn ten_thousand_random_networks_match_a_naive_lookup() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut w = MmdbWriter::new("random", IpVersion::V6);
    let mut nets = Vec::new();
    for i in 0..10_000u32 {
        let v4 = i % 2 == 0;
        let len = if v4 { 4 + (rng.next() % 29) as u8 } else { 20 + (rng.next() % 109) as u8 };
        let n = IpNet::new(rng.addr(v4), len).unwrap().trunc();
        // A few records repeat, so de-duplication is exercised too.
        let id = i % 9_000;
        w.insert(n, Record::new().with("id", id)).unwrap();
        nets.push((n, id));
    }
    let r = build(&w);
    let mut probes: Vec<IpAddr> = nets.iter().step_by(5).map(|(n, _)| n.addr()).collect();
    probes.extend(nets.iter().step_by(7).map(|(n, _)| n.broadcast()));
    for i in 0..1_000 {
        probes.push(rng.addr(i % 2 == 0));
    }
    let mut hits = 0;
    for a in probes {
        let got: Option<u32> = r.lookup(a).unwrap().decode_path(&path!["id"]).unwrap();
        assert_eq!(got, naive(&nets, a), "{a}");
        hits += usize::from(got.is_some());
    }
    assert!(hits > 3_000, "only {hits} probes hit a network");
}
