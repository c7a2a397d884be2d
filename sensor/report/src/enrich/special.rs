//! Special-purpose addresses: what an address is before any database is asked about it.
//!
//! # Contract
//! [`classify`] is total and pure: every IPv4 and IPv6 address gets exactly one
//! [`AddrClass`], from a fixed table of IANA special-purpose blocks (RFC 6890 and the IANA
//! IPv4/IPv6 Special-Purpose Address Registries, with RFC 1918, RFC 6598, RFC 5737,
//! RFC 3849, RFC 9637, RFC 2544 and RFC 5180 for the blocks they define). The most specific
//! block wins. Only [`AddrClass::Public`] addresses are looked up in geography or ownership
//! databases; every other class is a label that an alert shows instead.
//!
//! Embedded IPv4: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) and an address of the
//! well-known NAT64 prefix (`64:ff9b::a.b.c.d`, RFC 6052) are the IPv4 peer they carry:
//! [`canonical`] returns that IPv4 address and [`classify`] classifies it.
//!
//! Choices, where the registry leaves room:
//! - The whole IPv6 space outside global unicast `2000::/3` that no narrower block names is
//!   `reserved` (IANA: "Reserved by IETF"), as is the deprecated site-local `fec0::/10`.
//! - `192.0.0.0/24` (IETF protocol assignments) is `reserved`, except `192.0.0.9` (PCP
//!   anycast) and `192.0.0.10` (TURN anycast), which the registry marks globally reachable:
//!   they are `public`. The deprecated 6to4 relay anycast `192.88.99.0/24` is `reserved`.
//! - IPv6 sub-blocks of `2001::/23` other than benchmarking (Teredo, AS112, ORCHID, …)
//!   stay `public`: they are routed, and ownership databases list them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address a peer has, for alerts (`peer.class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrClass {
    /// Globally routed unicast: the only class that is looked up.
    Public,
    /// Private-use: RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), IPv6 unique local
    /// `fc00::/7`, and the NAT64 local-use prefix `64:ff9b:1::/48`.
    Private,
    /// Shared address space for carrier-grade NAT, `100.64.0.0/10` (RFC 6598).
    Cgnat,
    /// Loopback: `127/8`, `::1`.
    Loopback,
    /// Link-local: `169.254/16`, `fe80::/10`.
    LinkLocal,
    /// Documentation examples: `192.0.2/24`, `198.51.100/24`, `203.0.113/24`,
    /// `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Benchmarking: `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// Multicast: `224/4`, `ff00::/8`.
    Multicast,
    /// The unspecified address: `0.0.0.0`, `::`.
    Unspecified,
    /// The limited broadcast address `255.255.255.255`.
    Broadcast,
    /// Reserved or not routed: `0/8` ("this network"), `240/4`, `192.0.0/24`,
    /// `192.88.99/24`, `100::/64` (discard), and IPv6 outside `2000::/3` not named above.
    Reserved,
}

impl AddrClass {
    /// Every class, in declaration order.
    pub const ALL: [AddrClass; 11] = [
        AddrClass::Public,
        AddrClass::Private,
        AddrClass::Cgnat,
        AddrClass::Loopback,
        AddrClass::LinkLocal,
        AddrClass::Documentation,
        AddrClass::Benchmarking,
        AddrClass::Multicast,
        AddrClass::Unspecified,
        AddrClass::Broadcast,
        AddrClass::Reserved,
    ];

    /// The stable lower-case name alerts carry (`public`, `private`, `cgnat`, `loopback`,
    /// `link_local`, `documentation`, `benchmarking`, `multicast`, `unspecified`,
    /// `broadcast`, `reserved`).
    pub fn name(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Private => "private",
            AddrClass::Cgnat => "cgnat",
            AddrClass::Loopback => "loopback",
            AddrClass::LinkLocal => "link_local",
            AddrClass::Documentation => "documentation",
            AddrClass::Benchmarking => "benchmarking",
            AddrClass::Multicast => "multicast",
            AddrClass::Unspecified => "unspecified",
            AddrClass::Broadcast => "broadcast",
            AddrClass::Reserved => "reserved",
        }
    }

    /// Whether databases are asked about addresses of this class.
    pub fn is_public(self) -> bool {
        self == AddrClass::Public
    }
}

impl fmt::Display for AddrClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// IPv4 blocks, most specific first: the first block that contains an address names it.
const V4: &[(u32, u8, AddrClass)] = &[
    (0xffff_ffff, 32, AddrClass::Broadcast),     // 255.255.255.255
    (0x0000_0000, 32, AddrClass::Unspecified),   // 0.0.0.0
    (0xc000_0009, 32, AddrClass::Public),        // 192.0.0.9 PCP anycast
    (0xc000_000a, 32, AddrClass::Public),        // 192.0.0.10 TURN anycast
    (0xc000_0000, 24, AddrClass::Reserved),      // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0200, 24, AddrClass::Documentation), // 192.0.2.0/24 TEST-NET-1
    (0xc058_6300, 24, AddrClass::Reserved),      // 192.88.99.0/24 deprecated 6to4 relay
    (0xc633_6400, 24, AddrClass::Documentation), // 198.51.100.0/24 TEST-NET-2
    (0xcb00_7100, 24, AddrClass::Documentation), // 203.0.113.0/24 TEST-NET-3
    (0xa9fe_0000, 16, AddrClass::LinkLocal),     // 169.254.0.0/16
    (0xc0a8_0000, 16, AddrClass::Private),       // 192.168.0.0/16
    (0xc612_0000, 15, AddrClass::Benchmarking),  // 198.18.0.0/15
    (0xac10_0000, 12, AddrClass::Private),       // 172.16.0.0/12
    (0x6440_0000, 10, AddrClass::Cgnat),         // 100.64.0.0/10
    (0x0000_0000, 8, AddrClass::Reserved),       // 0.0.0.0/8 this network
    (0x0a00_0000, 8, AddrClass::Private),        // 10.0.0.0/8
    (0x7f00_0000, 8, AddrClass::Loopback),       // 127.0.0.0/8
    (0xe000_0000, 4, AddrClass::Multicast),      // 224.0.0.0/4
    (0xf000_0000, 4, AddrClass::Reserved),       // 240.0.0.0/4
];

/// IPv6 blocks, most specific first (embedded IPv4 is handled before this table).
const V6: &[(u128, u8, AddrClass)] = &[
    (0, 128, AddrClass::Unspecified),                                          // ::
    (1, 128, AddrClass::Loopback),                                             // ::1
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64, AddrClass::Reserved),      // 100::/64 discard
    (0x2001_0002_0000_0000_0000_0000_0000_0000, 48, AddrClass::Benchmarking),  // 2001:2::/48
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48, AddrClass::Private),       // NAT64 local use
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32, AddrClass::Documentation), // 2001:db8::/32
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20, AddrClass::Documentation), // 3fff::/20
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, AddrClass::LinkLocal),     // fe80::/10
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10, AddrClass::Reserved),      // site-local
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, AddrClass::Multicast),      // ff00::/8
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, AddrClass::Private),        // fc00::/7
    (0x2000_0000_0000_0000_0000_0000_0000_0000, 3, AddrClass::Public),         // global unicast
    (0, 0, AddrClass::Reserved),                                               // the rest
];

/// The well-known NAT64 prefix `64:ff9b::/96` (RFC 6052).
const NAT64_WKP: u128 = 0x0064_ff9b_0000_0000_0000_0000_0000_0000;

fn in_block<T>(addr: T, base: T, len: u8, bits: u32) -> bool
where
    T: Copy + PartialEq + std::ops::Shr<u32, Output = T>,
{
    let shift = bits - u32::from(len);
    // A shift by the full width is not allowed: a /0 block holds everything.
    shift >= bits || addr >> shift == base >> shift
}

/// The address a peer really is: the IPv4 address inside an IPv4-mapped or well-known
/// NAT64 IPv6 address, or the address itself.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let bits = u128::from(v6);
    // The low 32 bits are the IPv4 address; truncation is the point.
    #[allow(clippy::cast_possible_truncation)]
    let low = bits as u32;
    (bits >> 32 == NAT64_WKP >> 32).then(|| Ipv4Addr::from(low))
}

/// The class of an address (of the IPv4 address it carries, for mapped and NAT64 IPv6).
pub fn classify(ip: IpAddr) -> AddrClass {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let a = u32::from(ip);
    V4.iter().find(|&&(base, len, _)| in_block(a, base, len, 32)).map_or(AddrClass::Public, |&(_, _, c)| c)
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    let a = u128::from(ip);
    V6.iter().find(|&&(base, len, _)| in_block(a, base, len, 128)).map_or(AddrClass::Reserved, |&(_, _, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddrClass::*;

    fn c(s: &str) -> AddrClass {
        classify(s.parse().unwrap())
    }

    /// (first, last, class, an address just outside, its class): both ends of every block.
    const V4_BLOCKS: &[(&str, &str, AddrClass, &str, AddrClass)] = &[
        ("0.0.0.0", "0.0.0.0", Unspecified, "0.0.0.1", Reserved),
        ("0.0.0.1", "0.255.255.255", Reserved, "1.0.0.0", Public),
        ("10.0.0.0", "10.255.255.255", Private, "11.0.0.0", Public),
        ("100.64.0.0", "100.127.255.255", Cgnat, "100.63.255.255", Public),
        ("100.64.0.0", "100.127.255.255", Cgnat, "100.128.0.0", Public),
        ("127.0.0.0", "127.255.255.255", Loopback, "128.0.0.0", Public),
        ("169.254.0.0", "169.254.255.255", LinkLocal, "169.253.255.255", Public),
        ("169.254.0.0", "169.254.255.255", LinkLocal, "169.255.0.0", Public),
        ("172.16.0.0", "172.31.255.255", Private, "172.15.255.255", Public),
        ("172.16.0.0", "172.31.255.255", Private, "172.32.0.0", Public),
        ("192.0.0.0", "192.0.0.8", Reserved, "191.255.255.255", Public),
        ("192.0.0.9", "192.0.0.10", Public, "192.0.0.11", Reserved),
        ("192.0.0.11", "192.0.0.255", Reserved, "192.0.1.0", Public),
        ("192.0.2.0", "192.0.2.255", Documentation, "192.0.3.0", Public),
        ("192.88.99.0", "192.88.99.255", Reserved, "192.88.98.255", Public),
        ("192.168.0.0", "192.168.255.255", Private, "192.169.0.0", Public),
        ("198.18.0.0", "198.19.255.255", Benchmarking, "198.17.255.255", Public),
        ("198.18.0.0", "198.19.255.255", Benchmarking, "198.20.0.0", Public),
        ("198.51.100.0", "198.51.100.255", Documentation, "198.51.101.0", Public),
        ("203.0.113.0", "203.0.113.255", Documentation, "203.0.112.255", Public),
        ("224.0.0.0", "239.255.255.255", Multicast, "223.255.255.255", Public),
        ("240.0.0.0", "255.255.255.254", Reserved, "239.255.255.255", Multicast),
        ("255.255.255.255", "255.255.255.255", Broadcast, "255.255.255.254", Reserved),
    ];

    const V6_BLOCKS: &[(&str, &str, AddrClass, &str, AddrClass)] = &[
        ("::", "::", Unspecified, "::2", Reserved),
        ("::1", "::1", Loopback, "::2", Reserved),
        ("100::", "100::ffff:ffff:ffff:ffff", Reserved, "ff::", Reserved),
        ("2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff", Benchmarking, "2001:2:1::", Public),
        ("64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", Private, "64:ff9b:2::", Reserved),
        ("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Documentation, "2001:db9::", Public),
        ("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Documentation, "2001:db7:ffff::", Public),
        ("3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", Documentation, "3fff:1000::", Public),
        ("fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", LinkLocal, "fe7f:ffff::", Reserved),
        ("fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Reserved, "ff00::", Multicast),
        ("ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Multicast, "feff::", Reserved),
        ("fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Private, "fbff:ffff::", Reserved),
        ("fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Private, "fe00::", Reserved),
        ("2000::", "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public, "1fff:ffff::", Reserved),
        ("2000::", "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public, "4000::", Reserved),
    ];

    #[test]
    fn every_ipv4_block_at_both_ends_and_outside() {
        for &(first, last, class, outside, outside_class) in V4_BLOCKS {
            assert_eq!(c(first), class, "{first}");
            assert_eq!(c(last), class, "{last}");
            assert_eq!(c(outside), outside_class, "{outside}");
        }
    }

    #[test]
    fn every_ipv6_block_at_both_ends_and_outside() {
        for &(first, last, class, outside, outside_class) in V6_BLOCKS {
            assert_eq!(c(first), class, "{first}");
            assert_eq!(c(last), class, "{last}");
            assert_eq!(c(outside), outside_class, "{outside}");
        }
    }

    #[test]
    fn well_known_public_addresses_are_public() {
        for ip in ["1.1.1.1", "8.8.8.8", "9.9.9.9", "2001:4860:4860::8888", "2606:4700:4700::1111", "2001::1"] {
            assert_eq!(c(ip), Public, "{ip}");
        }
    }

    #[test]
    fn mapped_and_nat64_ipv6_are_their_ipv4() {
        assert_eq!(c("::ffff:10.1.2.3"), Private);
        assert_eq!(c("::ffff:8.8.8.8"), Public);
        assert_eq!(c("::ffff:127.0.0.1"), Loopback);
        assert_eq!(c("::ffff:0.0.0.0"), Unspecified);
        assert_eq!(c("::ffff:255.255.255.255"), Broadcast);
        assert_eq!(c("64:ff9b::192.168.1.1"), Private);
        assert_eq!(c("64:ff9b::9.9.9.9"), Public);
        assert_eq!(canonical("::ffff:8.8.8.8".parse().unwrap()), "8.8.8.8".parse::<IpAddr>().unwrap());
        assert_eq!(canonical("64:ff9b::1.1.1.1".parse().unwrap()), "1.1.1.1".parse::<IpAddr>().unwrap());
        // Just outside the NAT64 /96: not embedded, and in the reserved ::/8 space.
        let outside: IpAddr = "64:ff9b::1:0:0:1".parse().unwrap();
        assert_eq!(canonical(outside), outside);
        assert_eq!(c("64:ff9b::1:0:0:1"), Reserved);
        // IPv4-compatible (deprecated) is not mapped: reserved IPv6.
        assert_eq!(c("::8.8.8.8"), Reserved);
    }

    #[test]
    fn names_are_stable_and_distinct() {
        let names: Vec<&str> = AddrClass::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "public",
                "private",
                "cgnat",
                "loopback",
                "link_local",
                "documentation",
                "benchmarking",
                "multicast",
                "unspecified",
                "broadcast",
                "reserved"
            ]
        );
        assert_eq!(LinkLocal.to_string(), "link_local");
        assert!(Public.is_public());
        assert!(AddrClass::ALL.iter().filter(|c| c.is_public()).count() == 1);
    }
}
