//! Who owns a peer's network: hosting and cloud providers, VPN and anonymiser services, Tor
//! exits, remote-control vendors' relays and residential-proxy ranges — the `peer.owner` an
//! alert carries.
//!
//! # Contract
//! - [`Owners`] is a table by AS number and by address range, built once by an
//!   [`OwnersBuilder`] and then only read (share it in an `Arc`).
//! - [`Owners::lookup`] answers for one address and, when enrichment knows it, its AS number.
//!   A listed range containing the address wins over its AS number (a range is the narrower
//!   statement: a VPN provider's block inside a hosting provider's AS is the VPN's); among
//!   ranges the longest prefix wins.
//! - Ranges are CIDR blocks, so any two are nested or disjoint. [`OwnersBuilder::build`]
//!   flattens them into a sorted partition of the address space, so a lookup is one binary
//!   search (O(log n), no allocation) whatever the nesting.
//! - IPv4 is keyed as IPv4-mapped IPv6: `::ffff:192.0.2.1` finds `192.0.2.1`'s owner.
//! - A later entry for the same AS number or the same range replaces an earlier one (a
//!   deployment's file corrects the built-in list).
//! - Plain data and pure functions: reading and validating the files that fill the table is
//!   the indicator loader's job (`farhand-engine`'s `indicators`).

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// What kind of network owns an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// A hosting or cloud provider: rented servers, virtual machines.
    Hosting,
    /// A VPN or anonymiser service.
    Vpn,
    /// A Tor exit relay.
    TorExit,
    /// A remote-control vendor's relay or broker network.
    VendorRelay,
    /// A residential-proxy provider's exit range.
    ResidentialProxy,
}

impl OwnerKind {
    /// Every kind, in report order.
    pub const ALL: [OwnerKind; 5] =
        [OwnerKind::Hosting, OwnerKind::Vpn, OwnerKind::TorExit, OwnerKind::VendorRelay, OwnerKind::ResidentialProxy];

    /// The stable snake_case name (as serialised and as written in indicator files).
    pub fn name(self) -> &'static str {
        match self {
            OwnerKind::Hosting => "hosting",
            OwnerKind::Vpn => "vpn",
            OwnerKind::TorExit => "tor_exit",
            OwnerKind::VendorRelay => "vendor_relay",
            OwnerKind::ResidentialProxy => "residential_proxy",
        }
    }

    /// The kind with this stable name.
    pub fn from_name(s: &str) -> Option<OwnerKind> {
        OwnerKind::ALL.into_iter().find(|k| k.name() == s)
    }

    fn idx(self) -> usize {
        match self {
            OwnerKind::Hosting => 0,
            OwnerKind::Vpn => 1,
            OwnerKind::TorExit => 2,
            OwnerKind::VendorRelay => 3,
            OwnerKind::ResidentialProxy => 4,
        }
    }
}

impl std::fmt::Display for OwnerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One owner entry: who, what kind of network, and where the entry came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Display name (`DigitalOcean`, `Tor exits`).
    pub name: Arc<str>,
    /// What kind of network it is.
    pub kind: OwnerKind,
    /// Free text (the public record the entry rests on).
    pub note: Option<Arc<str>>,
    /// The list the entry came from (`builtin`, a file path).
    pub source: Option<Arc<str>>,
}

/// What a lookup matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchedBy {
    /// The peer's AS number is listed.
    Asn,
    /// A listed address range contains the peer.
    Cidr,
}

impl MatchedBy {
    /// `"asn"` or `"cidr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Asn => "asn",
            MatchedBy::Cidr => "cidr",
        }
    }
}

/// The answer of [`Owners::lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerMatch {
    /// The owner's display name.
    pub name: Arc<str>,
    /// What kind of network it is.
    pub kind: OwnerKind,
    /// Whether the address range or the AS number matched.
    pub by: MatchedBy,
    /// The listed range that matched (`by == Cidr`).
    pub cidr: Option<IpNet>,
    /// The AS number that matched (`by == Asn`).
    pub asn: Option<u32>,
    /// The list the entry came from.
    pub source: Option<Arc<str>>,
}

/// Why an AS number cannot name a network on the public Internet (IANA's special-purpose AS
/// numbers registry: RFC 7607, 6793, 5398, 6996, 7300), or `None` for an assignable one.
pub fn asn_reserved(asn: u32) -> Option<&'static str> {
    Some(match asn {
        0 => "AS 0 is reserved (RFC 7607)",
        23456 => "AS 23456 is AS_TRANS (RFC 6793)",
        64496..=64511 | 65536..=65551 => "reserved for documentation (RFC 5398)",
        64512..=65534 | 4_200_000_000..=4_294_967_294 => "reserved for private use (RFC 6996)",
        65535 | 4_294_967_295 => "reserved (RFC 7300)",
        65552..=131_071 => "reserved by IANA",
        _ => return None,
    })
}

/// No range covers this segment of the partition.
const NONE: u32 = u32::MAX;

/// Collects owner entries; [`OwnersBuilder::build`] turns them into a lookup table.
#[derive(Debug, Clone, Default)]
pub struct OwnersBuilder {
    owners: Vec<Owner>,
    /// (AS number, owner index), in insertion order.
    asns: Vec<(u32, u32)>,
    /// (range, owner index), in insertion order.
    nets: Vec<(IpNet, u32)>,
}

impl OwnersBuilder {
    /// An empty builder.
    pub fn new() -> OwnersBuilder {
        OwnersBuilder::default()
    }

    /// Adds one owner with its AS numbers and address ranges (host bits of a range are
    /// ignored: `192.0.2.7/24` is `192.0.2.0/24`).
    pub fn add(&mut self, owner: Owner, asns: &[u32], nets: &[IpNet]) {
        // More than 4 billion owner entries cannot be loaded (files are bounded far below).
        let Ok(idx) = u32::try_from(self.owners.len()) else { return };
        if idx == NONE {
            return;
        }
        self.owners.push(owner);
        self.asns.extend(asns.iter().map(|a| (*a, idx)));
        self.nets.extend(nets.iter().map(|n| (n.trunc(), idx)));
    }

    /// Number of owner entries added.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Number of address ranges added (before removing repeats).
    pub fn range_count(&self) -> usize {
        self.nets.len()
    }

    /// The lookup table of everything added so far.
    pub fn build(&self) -> Owners {
        let mut by_asn = HashMap::with_capacity(self.asns.len());
        for (asn, idx) in &self.asns {
            by_asn.insert(*asn, *idx);
        }
        // Sort by start, wider first, earlier first; of identical ranges keep the last added.
        let mut order: Vec<u32> = (0..self.nets.len()).filter_map(|i| u32::try_from(i).ok()).collect();
        let bounds = |i: u32| self.nets.get(i as usize).map(|(n, _)| range_of(n)).unwrap_or((0, 0));
        order.sort_by(|&a, &b| {
            let (alo, ahi) = bounds(a);
            let (blo, bhi) = bounds(b);
            alo.cmp(&blo).then(bhi.cmp(&ahi)).then(a.cmp(&b))
        });
        let mut kept: Vec<u32> = Vec::with_capacity(order.len());
        for i in order {
            match kept.last_mut() {
                Some(last) if bounds(*last) == bounds(i) => *last = i,
                _ => kept.push(i),
            }
        }
        let nets: Vec<(IpNet, u32)> = kept.iter().filter_map(|i| self.nets.get(*i as usize).copied()).collect();
        let (starts, labels) = flatten(&nets);
        let mut kinds = [0usize; 5];
        for o in &self.owners {
            if let Some(c) = kinds.get_mut(o.kind.idx()) {
                *c += 1;
            }
        }
        Owners { owners: self.owners.clone(), by_asn, nets, starts, labels, kinds }
    }
}

/// The ownership table: by AS number and by address range. Build it with [`OwnersBuilder`].
#[derive(Debug, Clone, Default)]
pub struct Owners {
    owners: Vec<Owner>,
    by_asn: HashMap<u32, u32>,
    /// Distinct listed ranges, sorted by (start, wider first), with their owner index.
    nets: Vec<(IpNet, u32)>,
    /// The address space cut into segments: segment `i` runs from `starts[i]` to just before
    /// `starts[i + 1]` and belongs to the range `labels[i]` (an index into `nets`) or to none.
    starts: Vec<u128>,
    labels: Vec<u32>,
    kinds: [usize; 5],
}

impl Owners {
    /// Who owns `ip` (with AS number `asn`, when known): the longest listed range containing
    /// it, else the owner listed for the AS number.
    pub fn lookup(&self, ip: IpAddr, asn: Option<u32>) -> Option<OwnerMatch> {
        if let Some((net, idx)) = self.range_of_ip(ip) {
            let o = self.owners.get(idx as usize)?;
            return Some(OwnerMatch {
                name: o.name.clone(),
                kind: o.kind,
                by: MatchedBy::Cidr,
                cidr: Some(net),
                asn: None,
                source: o.source.clone(),
            });
        }
        let asn = asn?;
        let o = self.owners.get(*self.by_asn.get(&asn)? as usize)?;
        Some(OwnerMatch {
            name: o.name.clone(),
            kind: o.kind,
            by: MatchedBy::Asn,
            cidr: None,
            asn: Some(asn),
            source: o.source.clone(),
        })
    }

    /// The innermost listed range containing `ip`, with its owner index.
    fn range_of_ip(&self, ip: IpAddr) -> Option<(IpNet, u32)> {
        let k = key_of(ip);
        let i = self.starts.partition_point(|s| *s <= k).checked_sub(1)?;
        let label = *self.labels.get(i)?;
        if label == NONE {
            return None;
        }
        self.nets.get(label as usize).copied()
    }

    /// Number of owner entries.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Number of owner entries of one kind.
    pub fn count(&self, kind: OwnerKind) -> usize {
        self.kinds.get(kind.idx()).copied().unwrap_or(0)
    }

    /// Number of distinct AS numbers listed.
    pub fn asn_count(&self) -> usize {
        self.by_asn.len()
    }

    /// Number of distinct address ranges listed.
    pub fn range_count(&self) -> usize {
        self.nets.len()
    }
}

fn key_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// First and last address of a range as 128-bit keys.
fn range_of(n: &IpNet) -> (u128, u128) {
    (key_of(n.network()), key_of(n.broadcast()))
}

/// Cuts the address space into segments labelled by the innermost range covering them.
/// `nets` is sorted by (start, wider first) and holds no two identical ranges; CIDR ranges
/// are nested or disjoint, so a stack of the ranges open at the current address suffices.
fn flatten(nets: &[(IpNet, u32)]) -> (Vec<u128>, Vec<u32>) {
    let mut starts: Vec<u128> = Vec::with_capacity(nets.len() * 2 + 1);
    let mut labels: Vec<u32> = Vec::with_capacity(nets.len() * 2 + 1);
    // The first address not yet covered by a segment (None: the whole space is covered).
    let mut cur: Option<u128> = Some(0);
    // Emits the segment from `cur` to `last` (inclusive) with `label`, if it is not empty.
    let mut emit = |cur: &mut Option<u128>, last: u128, label: u32| {
        let Some(c) = *cur else { return };
        if c > last {
            return;
        }
        if labels.last() != Some(&label) {
            starts.push(c);
            labels.push(label);
        }
        *cur = last.checked_add(1);
    };
    let mut open: Vec<(u128, u32)> = Vec::new();
    for (i, (net, _)) in nets.iter().enumerate() {
        let Ok(label) = u32::try_from(i) else { break };
        let (lo, hi) = range_of(net);
        while let Some(&(end, l)) = open.last() {
            if end >= lo {
                break;
            }
            emit(&mut cur, end, l);
            open.pop();
        }
        if let Some(before) = lo.checked_sub(1) {
            emit(&mut cur, before, open.last().map_or(NONE, |o| o.1));
        }
        open.push((hi, label));
    }
    while let Some((end, l)) = open.pop() {
        emit(&mut cur, end, l);
    }
    emit(&mut cur, u128::MAX, NONE);
    (starts, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(name: &str, kind: OwnerKind) -> Owner {
        Owner { name: name.into(), kind, note: None, source: Some("test".into()) }
    }

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn who(o: &Owners, ip: &str, asn: Option<u32>) -> Option<(String, &'static str)> {
        o.lookup(ip.parse().unwrap(), asn).map(|m| (m.name.to_string(), m.by.as_str()))
    }

    #[test]
    fn longest_prefix_wins_and_cidr_beats_asn() {
        let mut b = OwnersBuilder::new();
        b.add(owner("Big Hosting", OwnerKind::Hosting), &[14061], &nets(&["198.51.100.0/22", "2001:db8::/32"]));
        b.add(owner("Acme VPN", OwnerKind::Vpn), &[], &nets(&["198.51.101.0/24", "2001:db8:5::/48"]));
        b.add(owner("One exit", OwnerKind::TorExit), &[], &nets(&["198.51.101.77/32"]));
        let o = b.build();
        assert_eq!(who(&o, "198.51.100.1", None), Some(("Big Hosting".into(), "cidr")));
        assert_eq!(who(&o, "198.51.101.1", None), Some(("Acme VPN".into(), "cidr")));
        assert_eq!(who(&o, "198.51.101.77", None), Some(("One exit".into(), "cidr")));
        assert_eq!(who(&o, "198.51.101.78", None), Some(("Acme VPN".into(), "cidr")));
        assert_eq!(who(&o, "198.51.102.0", None), Some(("Big Hosting".into(), "cidr")));
        assert_eq!(who(&o, "198.51.104.0", None), None);
        // The ASN answers only when no range does.
        assert_eq!(who(&o, "203.0.113.9", Some(14061)), Some(("Big Hosting".into(), "asn")));
        assert_eq!(who(&o, "198.51.101.1", Some(14061)), Some(("Acme VPN".into(), "cidr")));
        assert_eq!(who(&o, "203.0.113.9", Some(3320)), None);
        // IPv6, and IPv4-mapped IPv6.
        assert_eq!(who(&o, "2001:db8:5::1", None), Some(("Acme VPN".into(), "cidr")));
        assert_eq!(who(&o, "2001:db8:6::1", None), Some(("Big Hosting".into(), "cidr")));
        assert_eq!(who(&o, "2001:db9::1", None), None);
        assert_eq!(who(&o, "::ffff:198.51.101.77", None), Some(("One exit".into(), "cidr")));
        let m = o.lookup("198.51.101.77".parse().unwrap(), None).unwrap();
        assert_eq!((m.kind, m.cidr, m.asn), (OwnerKind::TorExit, Some("198.51.101.77/32".parse().unwrap()), None));
        let m = o.lookup("203.0.113.9".parse().unwrap(), Some(14061)).unwrap();
        assert_eq!((m.kind, m.cidr, m.asn), (OwnerKind::Hosting, None, Some(14061)));
        assert_eq!((o.len(), o.asn_count(), o.range_count()), (3, 1, 5));
        assert_eq!(
            (o.count(OwnerKind::Hosting), o.count(OwnerKind::Vpn), o.count(OwnerKind::ResidentialProxy)),
            (1, 1, 0)
        );
    }

    #[test]
    fn later_entries_replace_earlier_ones() {
        let mut b = OwnersBuilder::new();
        b.add(owner("Old", OwnerKind::Hosting), &[64_000_000], &nets(&["192.0.2.0/24"]));
        b.add(owner("New", OwnerKind::Vpn), &[64_000_000], &nets(&["192.0.2.0/24"]));
        let o = b.build();
        assert_eq!(who(&o, "192.0.2.1", None), Some(("New".into(), "cidr")));
        assert_eq!(who(&o, "203.0.113.1", Some(64_000_000)), Some(("New".into(), "asn")));
        assert_eq!(o.range_count(), 1);
    }

    #[test]
    fn edges_of_the_address_space() {
        let mut b = OwnersBuilder::new();
        b.add(owner("Low", OwnerKind::Hosting), &[], &nets(&["0.0.0.0/8", "::/16"]));
        b.add(owner("High", OwnerKind::Hosting), &[], &nets(&["255.0.0.0/8", "ffff::/16", "ffff:ffff::/32"]));
        let o = b.build();
        assert_eq!(who(&o, "::", None).map(|w| w.0).as_deref(), Some("Low"));
        assert_eq!(who(&o, "0.0.0.0", None).map(|w| w.0).as_deref(), Some("Low"));
        assert_eq!(who(&o, "255.255.255.255", None).map(|w| w.0).as_deref(), Some("High"));
        assert_eq!(who(&o, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None).map(|w| w.0).as_deref(), Some("High"));
        assert_eq!(who(&o, "fffe::1", None), None);
        assert!(Owners::default().lookup("192.0.2.1".parse().unwrap(), Some(1)).is_none());
    }

    /// The flattened partition answers as a scan of every range for the longest prefix does.
    #[test]
    fn partition_agrees_with_a_linear_scan() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20 {
            let mut b = OwnersBuilder::new();
            let mut all: Vec<(IpNet, u32)> = Vec::new();
            for i in 0..60u32 {
                // Addresses in a small corner of 10/8 so ranges nest often.
                let addr = std::net::Ipv4Addr::from(0x0a00_0000 | (rnd() as u32 & 0x0000_ffff));
                let len = 16 + (rnd() % 17) as u8;
                let net = IpNet::V4(ipnet::Ipv4Net::new(addr, len).unwrap().trunc());
                b.add(owner(&format!("o{i}"), OwnerKind::Hosting), &[], &[net]);
                all.push((net, i));
            }
            let o = b.build();
            for _ in 0..2000 {
                let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 | (rnd() as u32 & 0x0001_ffff)));
                // Longest prefix; of identical ranges the last added.
                let want = all
                    .iter()
                    .filter(|(n, _)| n.contains(&ip))
                    .max_by_key(|(n, i)| (n.prefix_len(), *i))
                    .map(|(_, i)| format!("o{i}"));
                assert_eq!(o.lookup(ip, None).map(|m| m.name.to_string()), want, "round {round}, {ip}");
            }
        }
    }

    #[test]
    fn kind_names_round_trip_and_serialise_in_snake_case() {
        for k in OwnerKind::ALL {
            assert_eq!(OwnerKind::from_name(k.name()), Some(k));
        }
        assert_eq!(OwnerKind::from_name("Hosting"), None);
        assert_eq!(OwnerKind::TorExit.to_string(), "tor_exit");
        assert_eq!(serde_json::to_string(&OwnerKind::ResidentialProxy).unwrap(), "\"residential_proxy\"");
        assert_eq!(serde_json::to_string(&MatchedBy::Cidr).unwrap(), "\"cidr\"");
    }

    #[test]
    fn reserved_asns() {
        for asn in [0, 23456, 64496, 64511, 64512, 65534, 65535, 65536, 65551, 65552, 131_071, 4_200_000_000, u32::MAX]
        {
            assert!(asn_reserved(asn).is_some(), "{asn}");
        }
        for asn in [1, 13335, 14061, 64495, 131_072, 396_982, 4_199_999_999] {
            assert!(asn_reserved(asn).is_none(), "{asn}");
        }
    }
}
