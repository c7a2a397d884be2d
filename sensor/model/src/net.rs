//! Addresses, canonical flow keys (both directions of a conversation map to one key) and the
//! deployment's home networks.

use ipnet::IpNet;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP address stored in 16 bytes (IPv4 as an IPv4-mapped IPv6 address), cheap to compare
/// and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Addr(pub [u8; 16]);

impl Addr {
    /// From an IPv4 address.
    pub fn v4(o: [u8; 4]) -> Addr {
        let [a, b, c, d] = o;
        Addr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d])
    }

    /// From an IPv6 address.
    pub fn v6(o: [u8; 16]) -> Addr {
        Addr(o)
    }

    /// Whether this is an IPv4 address.
    pub fn is_v4(&self) -> bool {
        matches!(self.0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ..])
    }

    /// As a standard library address.
    pub fn ip(&self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.0);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    }
}

impl From<IpAddr> for Addr {
    fn from(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(v4) => Addr::v4(v4.octets()),
            IpAddr::V6(v6) => Addr::v6(v6.octets()),
        }
    }
}

impl From<Ipv4Addr> for Addr {
    fn from(ip: Ipv4Addr) -> Addr {
        Addr::v4(ip.octets())
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.ip().fmt(f)
    }
}

/// IANA protocol numbers of the transports farhand tracks.
pub mod proto {
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// GRE (RFC 2784; enhanced GRE of PPTP, RFC 2637).
    pub const GRE: u8 = 47;
    /// IPsec ESP (RFC 4303).
    pub const ESP: u8 = 50;
    /// IPsec AH (RFC 4302).
    pub const AH: u8 = 51;
}

/// Canonical flow key: the lower (address, port) pair is side `a`, so both directions of
/// a conversation produce an identical key (and hash). VLAN tags are part of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// Lower endpoint's address.
    pub a: Addr,
    /// Higher endpoint's address.
    pub b: Addr,
    /// Lower endpoint's port.
    pub a_port: u16,
    /// Higher endpoint's port.
    pub b_port: u16,
    /// VLAN IDs (outer << 12 | inner, 24 bits) << 8 | IP protocol number: packed so the
    /// key is 40 bytes (see [`FlowKey::vlan`], [`FlowKey::proto`]).
    vlan_proto: u32,
}

impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Hash as a few wide words: cheaper than field-by-field byte hashing.
        let a = u128::from_ne_bytes(self.a.0);
        let b = u128::from_ne_bytes(self.b.0);
        state.write_u128(a);
        state.write_u128(b);
        state.write_u64(u64::from(self.a_port) | u64::from(self.b_port) << 16 | u64::from(self.vlan_proto) << 32);
    }
}

// Direction has three distinct meanings in farhand, each with one type here:
// - `Side`: which end of the canonical `FlowKey` (A = lower endpoint) sent a packet — what the
//   decoder knows before anything else;
// - `Role`: who sent it relative to the flow's initiator (the TCP client, the first UDP
//   sender) — what the per-flow detectors index their two-element arrays by;
// - `Direction`: who opened a session, seen from the endpoint (inbound: it is being
//   controlled) — what an alert says.

/// Who sent a packet relative to the flow's initiator. Per-flow figures kept "per role" are
/// two-element arrays indexed by [`Role::idx`] (initiator first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that opened the conversation (TCP client, first UDP sender).
    Initiator,
    /// The other side.
    Responder,
}

impl Role {
    /// Both roles, initiator first (the order of per-role arrays).
    pub const BOTH: [Role; 2] = [Role::Initiator, Role::Responder];

    /// The role of a packet sent from `side` in a flow opened by `initiator`.
    #[inline]
    pub fn of(side: Side, initiator: Side) -> Role {
        if side == initiator { Role::Initiator } else { Role::Responder }
    }

    /// Index into per-role arrays: 0 for the initiator, 1 for the responder.
    #[inline]
    pub const fn idx(self) -> usize {
        match self {
            Role::Initiator => 0,
            Role::Responder => 1,
        }
    }

    /// The other role.
    #[inline]
    pub const fn other(self) -> Role {
        match self {
            Role::Initiator => Role::Responder,
            Role::Responder => Role::Initiator,
        }
    }
}

/// Who opened a session, seen from the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The peer connected to the endpoint (the endpoint is being controlled).
    Inbound,
    /// The endpoint connected to the peer.
    Outbound,
}

/// Which side of a [`FlowKey`] sent a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Sent by side `a` (the lower address/port).
    A = 0,
    /// Sent by side `b`.
    B = 1,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// 0 for `A`, 1 for `B`: an index into per-side arrays.
    pub fn idx(self) -> usize {
        self as usize
    }
}

impl FlowKey {
    /// Builds the canonical key of a packet and tells which side sent it.
    /// `vlan` keeps its low 24 bits (two 12-bit tags).
    pub fn new(src: Addr, sport: u16, dst: Addr, dport: u16, proto: u8, vlan: u32) -> (FlowKey, Side) {
        let vlan_proto = (vlan & 0x00ff_ffff) << 8 | u32::from(proto);
        if (src, sport) <= (dst, dport) {
            (FlowKey { a: src, b: dst, a_port: sport, b_port: dport, vlan_proto }, Side::A)
        } else {
            (FlowKey { a: dst, b: src, a_port: dport, b_port: sport, vlan_proto }, Side::B)
        }
    }

    /// VLAN IDs: outer << 12 | inner (0 = untagged).
    pub fn vlan(&self) -> u32 {
        self.vlan_proto >> 8
    }

    /// IP protocol number.
    pub fn proto(&self) -> u8 {
        (self.vlan_proto & 0xff) as u8
    }

    /// Address and port of one side.
    pub fn side(&self, s: Side) -> (Addr, u16) {
        match s {
            Side::A => (self.a, self.a_port),
            Side::B => (self.b, self.b_port),
        }
    }

    /// A 64-bit hash of one address, used to shard endpoints to workers.
    pub fn addr_hash(a: &Addr) -> u64 {
        let v = u128::from_ne_bytes(a.0);
        let x = (v as u64) ^ ((v >> 64) as u64);
        // splitmix64 finaliser: spreads consecutive addresses over workers.
        let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn home_nets_by_mask_agree_with_the_networks_own_test() {
        let nets: Vec<IpNet> = [
            "10.0.0.0/8",
            "192.168.1.0/24",
            "172.16.0.0/12",
            "203.0.113.7/32",
            "2001:db8::/32",
            "fd00::/8",
            "::ffff:0:0/96",
        ]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
        let addrs: Vec<IpAddr> = [
            "10.0.0.0",
            "10.255.255.255",
            "11.0.0.0",
            "9.255.255.255",
            "192.168.1.77",
            "192.168.2.1",
            "172.31.255.1",
            "172.32.0.1",
            "203.0.113.7",
            "203.0.113.8",
            "0.0.0.0",
            "255.255.255.255",
            "2001:db8::1",
            "2001:db9::1",
            "fd12::1",
            "fe80::1",
            "::",
            "::ffff:10.1.2.3",
            "::1",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        for i in 0..nets.len() {
            let some = HomeNets::new(nets.get(i..).unwrap().to_vec());
            for ip in &addrs {
                let addr = match ip {
                    IpAddr::V4(v4) => Addr::v4(v4.octets()),
                    IpAddr::V6(v6) => Addr::v6(v6.octets()),
                };
                let want = nets.get(i..).unwrap().iter().any(|n| n.contains(&addr.ip()));
                assert_eq!(some.contains(&addr), want, "{ip} in {:?}", nets.get(i..));
            }
        }
        for all in ["0.0.0.0/0", "::/0"] {
            let h = HomeNets::new(vec![all.parse().unwrap()]);
            assert_eq!(h.contains(&Addr::v4([1, 2, 3, 4])), all == "0.0.0.0/0");
            assert_eq!(h.contains(&Addr::v6([0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])), all == "::/0");
        }
    }

    #[test]
    fn both_directions_same_key_and_hash() {
        let c = Addr::v4([10, 0, 0, 1]);
        let s = Addr::v4([203, 0, 113, 5]);
        let (k1, d1) = FlowKey::new(c, 51000, s, 22, proto::TCP, 0);
        let (k2, d2) = FlowKey::new(s, 22, c, 51000, proto::TCP, 0);
        assert_eq!(k1, k2);
        assert_ne!(d1, d2);
        let h = rustc_hash::FxBuildHasher;
        assert_eq!(h.hash_one(k1), h.hash_one(k2));
    }

    #[test]
    fn vlan_and_proto_distinguish() {
        let c = Addr::v4([10, 0, 0, 1]);
        let s = Addr::v4([10, 0, 0, 2]);
        let (k1, _) = FlowKey::new(c, 1, s, 2, proto::TCP, 0);
        let (k2, _) = FlowKey::new(c, 1, s, 2, proto::TCP, 7);
        let (k3, _) = FlowKey::new(c, 1, s, 2, proto::UDP, 0);
        assert_ne!(k1, k2);
        assert_ne!(k1, k3);
    }

    #[test]
    fn same_address_orders_by_port() {
        let a = Addr::v4([127, 0, 0, 1]);
        let (k, d) = FlowKey::new(a, 5000, a, 22, proto::TCP, 0);
        assert_eq!((k.a_port, k.b_port, d), (22, 5000, Side::B));
    }

    #[test]
    fn key_is_40_bytes_and_packs_vlan_and_proto() {
        assert_eq!(std::mem::size_of::<FlowKey>(), 40);
        let (k, _) =
            FlowKey::new(Addr::v4([1, 2, 3, 4]), 1, Addr::v4([5, 6, 7, 8]), 2, proto::UDP, (4094 << 12) | 4093);
        assert_eq!((k.vlan(), k.proto()), ((4094 << 12) | 4093, proto::UDP));
    }

    #[test]
    fn addr_roundtrip() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(Addr::from(v4).ip(), v4);
        assert_eq!(Addr::from(v6).ip(), v6);
        assert!(Addr::from(v4).is_v4());
        assert!(!Addr::from(v6).is_v4());
    }
}

/// The set of inside networks.
#[derive(Debug, Clone, Default)]
pub struct HomeNets {
    nets: Vec<IpNet>,
    /// Each network as (prefix, mask, IPv6) over [`Addr`]'s 16 bytes read as one number, so
    /// that a lookup on the fast path is a mask and a compare per network.
    masks: Vec<(u128, u128, bool)>,
}

impl HomeNets {
    /// How many inside networks are configured.
    pub fn len(&self) -> usize {
        self.nets.len()
    }

    /// Whether no inside network is configured.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// From parsed networks.
    pub fn new(nets: Vec<IpNet>) -> HomeNets {
        let masks = nets
            .iter()
            .map(|n| {
                let (addr, bits, v6) = match n {
                    IpNet::V4(v4) => (Addr::v4(v4.network().octets()), 96 + u32::from(v4.prefix_len()), false),
                    IpNet::V6(v6) => (Addr::v6(v6.network().octets()), u32::from(v6.prefix_len()), true),
                };
                let mask = u128::MAX.checked_shl(128 - bits.min(128)).unwrap_or(0);
                (u128::from_be_bytes(addr.0) & mask, mask, v6)
            })
            .collect();
        HomeNets { nets, masks }
    }

    /// Whether an address is inside (an IPv4 address only in an IPv4 network, as
    /// [`Addr::ip`] reads it).
    #[inline]
    pub fn contains(&self, a: &Addr) -> bool {
        let v = u128::from_be_bytes(a.0);
        let v4 = a.is_v4();
        self.masks.iter().any(|&(prefix, mask, v6)| v6 != v4 && v & mask == prefix)
    }
}
