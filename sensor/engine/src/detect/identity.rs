//! Endpoint identity on the fast path: who a device is, beyond its address — its MAC, the
//! host name it gives itself, the names it was told are its own — sent across as
//! [`Sighting`]s for the reporting plane's per-endpoint directory.
//!
//! # Contract
//! - [`IdentityWatch::on_frame`] sees every frame and costs ordinary traffic a transport and
//!   port test: only UDP 67/68 (DHCP), 5353 (mDNS) and DNS answers (source port 53) to an
//!   inside address that carry the address's own bytes (or a reverse-lookup name) are parsed.
//! - [`IdentityWatch::on_new_flow`] sees the first frame of each new flow: when its source is
//!   inside `home_networks`, is the endpoint the flow is sharded by (so the sighting crosses
//!   from the worker whose alerts name that endpoint, before them) and the frame has a device
//!   MAC, that MAC is the address's — unless
//!   the MAC has already been the source of more than
//!   [`farhand_model::identity::ROUTER_MIN_ADDRS`] inside addresses in this worker (a router
//!   or VPN concentrator: everything behind it shares its MAC).
//! - A sighting is sent only when it says something new for this worker (a changed MAC for an
//!   address, a new name): DHCP renewals and repeated mDNS announcements send nothing. The
//!   memory of what was sent is bounded ([`MAX_REMEMBERED`]; when full it is forgotten and
//!   sightings are sent again).
//! - Workers are sharded by endpoint, and a DHCP exchange from 0.0.0.0 reaches another worker
//!   than the endpoint's flows: this watch decides nothing per endpoint; the reporting plane's
//!   directory joins the sightings (and applies the router rule across workers).
//!
//! Facts used: RFC 2131 (DHCP: `chaddr`, `ciaddr`, `yiaddr` of an ACK), RFC 2132 §3.14
//! (option 12), RFC 4702 (option 81), RFC 6762 (mDNS on UDP 5353: a host announces its
//! `.local` A/AAAA records in responses; link-local multicast is never routed, so the frame's
//! source MAC is the sender's own), RFC 1035 §3.5 and RFC 3596 §2.5 (reverse names under
//! `in-addr.arpa` and `ip6.arpa`).

use crate::decode::PacketView;
use farhand_model::identity::{self, Mac, MacSource, NameSource, Sighting};
use farhand_model::tool::Transport;
use farhand_model::{Addr, Finding, FindingKind, FlowSummary, HomeNets};
use farhand_proto::{dhcp, dns};
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use std::hash::BuildHasher;

/// Addresses, MACs and sightings remembered per worker before the memory is cleared.
pub const MAX_REMEMBERED: usize = 16_384;
/// DHCP server and client ports (RFC 2131 §4.1).
const DHCP_PORTS: [u16; 2] = [67, 68];
/// mDNS port (RFC 6762).
const MDNS_PORT: u16 = 5353;
/// DNS port.
const DNS_PORT: u16 = 53;
/// The suffix of mDNS host names.
const LOCAL_SUFFIX: &str = ".local";

/// The per-worker identity watch.
#[derive(Debug)]
pub struct IdentityWatch {
    home: HomeNets,
    /// The MAC last reported from flows, per inside address.
    flow_macs: FxHashMap<Addr, Mac>,
    /// Per MAC: the inside addresses (router buckets) it was the source of, up to one past
    /// the router limit.
    mac_addrs: FxHashMap<Mac, Vec<[u8; 16]>>,
    /// Hashes of the DHCP, mDNS and DNS sightings already sent.
    reported: FxHashSet<u64>,
}

impl IdentityWatch {
    /// A watch with nothing seen yet; `home`: the inside networks.
    pub fn new(home: HomeNets) -> IdentityWatch {
        IdentityWatch {
            home,
            flow_macs: FxHashMap::default(),
            mac_addrs: FxHashMap::default(),
            reported: FxHashSet::default(),
        }
    }

    /// The same watch with fresh state (one per worker).
    pub fn fresh(&self) -> IdentityWatch {
        IdentityWatch::new(self.home.clone())
    }

    /// Every frame: DHCP, mDNS and DNS answers naming the receiver; a sighting that says
    /// something new goes to `out`.
    #[inline]
    pub fn on_frame(&mut self, v: &PacketView<'_>, out: &mut Vec<Finding>) {
        if v.transport != Transport::Udp {
            return;
        }
        let (src, sport) = v.key.side(v.side);
        let (dst, dport) = v.key.side(v.side.other());
        let s = if DHCP_PORTS.contains(&sport) && DHCP_PORTS.contains(&dport) {
            dhcp_sighting(v.payload, v.ts)
        } else if sport == MDNS_PORT && dport == MDNS_PORT {
            mdns_sighting(v.payload, src, v.src_mac, v.ts)
        } else if sport == DNS_PORT && self.home.contains(&dst) {
            dns_sighting(v.payload, dst, v.ts)
        } else {
            None
        };
        if let Some(s) = s
            && self.first_time(&s)
        {
            out.push(finding(v, s));
        }
    }

    /// The first frame of a new flow: the source MAC of an inside sender, when it changed
    /// and is not a router's.
    pub fn on_new_flow(&mut self, v: &PacketView<'_>, out: &mut Vec<Finding>) {
        let (src, _) = v.key.side(v.side);
        let mac = v.src_mac;
        // Only for the endpoint this worker owns (the flow's shard endpoint, as
        // `flow::shard` picks it): its alerts come from this worker too, after this sighting.
        let owner = if self.home.contains(&v.key.b) && !self.home.contains(&v.key.a) { v.key.b } else { v.key.a };
        if src != owner
            || !identity::is_device_mac(&mac)
            || !self.home.contains(&src)
            || self.flow_macs.get(&src) == Some(&mac)
        {
            return;
        }
        if self.flow_macs.len() >= MAX_REMEMBERED || self.mac_addrs.len() >= MAX_REMEMBERED {
            self.flow_macs.clear();
            self.mac_addrs.clear();
        }
        let addrs = self.mac_addrs.entry(mac).or_default();
        let bucket = identity::router_bucket(&src);
        if !addrs.contains(&bucket) && addrs.len() <= identity::ROUTER_MIN_ADDRS {
            addrs.push(bucket);
        }
        if addrs.len() > identity::ROUTER_MIN_ADDRS {
            return;
        }
        self.flow_macs.insert(src, mac);
        let s = Sighting { ts: v.ts, addr: Some(src), mac: Some(mac), mac_source: MacSource::Flow, names: Vec::new() };
        out.push(finding(v, s));
    }

    /// Whether this sighting (time aside) was not sent before; remembers it.
    fn first_time(&mut self, s: &Sighting) -> bool {
        let h = FxBuildHasher.hash_one((&s.addr, &s.mac, &s.names));
        if self.reported.len() >= MAX_REMEMBERED {
            self.reported.clear();
        }
        self.reported.insert(h)
    }
}

/// A DHCP message's sighting: the client's MAC, the address an ACK binds to it (or that a
/// bound client states), and the names it gives (options 12 and 81). Offers and messages
/// that name neither an address nor a name say nothing.
pub fn dhcp_sighting(payload: &[u8], ts: farhand_model::Micros) -> Option<Sighting> {
    let m = dhcp::parse(payload)?;
    let mac = m.client_mac.filter(identity::is_device_mac)?;
    let addr = match (m.op, m.message_type) {
        (2, Some(dhcp::message_type::ACK)) => m.your_addr.or(m.client_addr),
        (2, _) => return None,
        _ => m.client_addr,
    };
    let names: Vec<(NameSource, String)> = [(NameSource::DhcpHostname, m.host_name), (NameSource::DhcpFqdn, m.fqdn)]
        .into_iter()
        .filter_map(|(src, n)| n.as_deref().and_then(identity::clean_name).map(|n| (src, n)))
        .collect();
    if addr.is_none() && names.is_empty() {
        return None;
    }
    Some(Sighting { ts, addr: addr.map(Addr::v4), mac: Some(mac), mac_source: MacSource::Dhcp, names })
}

/// An mDNS response's sighting: the `.local` names whose A/AAAA records hold the sender's
/// own address, with the frame's source MAC.
pub fn mdns_sighting(payload: &[u8], src: Addr, src_mac: Mac, ts: farhand_model::Micros) -> Option<Sighting> {
    let m = dns::parse(payload).ok().filter(|m| m.response)?;
    let mut names = Vec::new();
    for a in &m.answers {
        let own = match a.data {
            dns::RData::A(ip) => Addr::from(ip) == src,
            dns::RData::Aaaa(ip) => Addr::v6(ip.octets()) == src,
            _ => false,
        };
        let Some(host) = a.name.strip_suffix(LOCAL_SUFFIX) else { continue };
        if own
            && let Some(n) = identity::clean_name(host)
            && !names.iter().any(|(_, x)| *x == n)
            && names.len() < identity::MAX_SIGHTING_NAMES
        {
            names.push((NameSource::Mdns, n));
        }
    }
    if names.is_empty() {
        return None;
    }
    let mac = identity::is_device_mac(&src_mac).then_some(src_mac);
    let mac_source = if mac.is_some() { MacSource::Mdns } else { MacSource::None };
    Some(Sighting { ts, addr: Some(src), mac, mac_source, names })
}

/// A DNS answer's sighting for the endpoint `dst` that received it: names whose A/AAAA
/// records hold `dst` itself, and the PTR names of `dst`'s own reverse name. Answers that
/// carry neither `dst`'s address bytes nor a reverse-lookup name are not parsed.
pub fn dns_sighting(payload: &[u8], dst: Addr, ts: farhand_model::Micros) -> Option<Sighting> {
    let raw: &[u8] = if dst.is_v4() { dst.0.get(12..).unwrap_or_default() } else { &dst.0 };
    let arpa = contains(payload, b"\x07in-addr\x04arpa") || contains(payload, b"\x03ip6\x04arpa");
    if !arpa && !contains(payload, raw) {
        return None;
    }
    let m = dns::parse(payload).ok().filter(|m| m.response)?;
    let reverse = reverse_name(&dst);
    let mut names: Vec<(NameSource, String)> = Vec::new();
    for a in &m.answers {
        let found = match &a.data {
            dns::RData::A(ip) if Addr::from(*ip) == dst => Some((NameSource::DnsSelf, a.name.as_str())),
            dns::RData::Aaaa(ip) if Addr::v6(ip.octets()) == dst => Some((NameSource::DnsSelf, a.name.as_str())),
            dns::RData::Ptr(target) if a.name == reverse => Some((NameSource::DnsPtr, target.as_str())),
            _ => None,
        };
        if let Some((src, n)) = found
            && let Some(n) = identity::clean_name(n)
            && n != "localhost"
            && !names.iter().any(|(_, x)| *x == n)
            && names.len() < identity::MAX_SIGHTING_NAMES
        {
            names.push((src, n));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(Sighting { ts, addr: Some(dst), mac: None, mac_source: MacSource::None, names })
}

/// Whether `needle` occurs in `hay`, ASCII case ignored (DNS names may be sent in mixed case).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// The reverse-lookup name of an address, as the DNS parser writes names: `d.c.b.a.in-addr.arpa`
/// or the 32 nibbles of an IPv6 address, lowest first, under `ip6.arpa`.
pub fn reverse_name(a: &Addr) -> String {
    if a.is_v4() {
        let o = a.0.get(12..).unwrap_or_default();
        let parts: Vec<String> = o.iter().rev().map(u8::to_string).collect();
        format!("{}.in-addr.arpa", parts.join("."))
    } else {
        let mut s = String::with_capacity(72);
        for b in a.0.iter().rev() {
            for nib in [b & 0x0f, b >> 4] {
                s.push(char::from_digit(u32::from(nib), 16).unwrap_or('0'));
                s.push('.');
            }
        }
        s.push_str("ip6.arpa");
        s
    }
}

/// The finding that carries a sighting across; its flow is the packet's.
fn finding(v: &PacketView<'_>, s: Sighting) -> Finding {
    Finding {
        detector: "identity",
        detector_version: "1",
        ts: v.ts,
        flow: FlowSummary::instant(v.key, v.side, v.ts),
        kind: FindingKind::Sighting(s),
        via: None,
        behaviour: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::wire_name;
    use farhand_model::net::{FlowKey, proto};

    const LAPTOP_MAC: Mac = [0x02, 0x00, 0x0a, 0x29, 0x00, 0x42];

    fn home() -> HomeNets {
        HomeNets::new(vec!["10.0.0.0/8".parse().unwrap()])
    }

    fn view<'a>(
        src: (Addr, u16),
        dst: (Addr, u16),
        mac: Mac,
        transport: Transport,
        payload: &'a [u8],
    ) -> PacketView<'a> {
        let p = if transport == Transport::Udp { proto::UDP } else { proto::TCP };
        let (key, side) = FlowKey::new(src.0, src.1, dst.0, dst.1, p, 0);
        PacketView {
            ts: 7,
            key,
            side,
            transport,
            tcp: None,
            payload,
            wire_len: 60,
            truncated: false,
            src_mac: mac,
            echo_reply: false,
        }
    }

    /// A BOOTP/DHCP message (RFC 2131 §2) with these options.
    fn dhcp_msg(op: u8, kind: u8, yiaddr: [u8; 4], opts: &[(u8, &[u8])]) -> Vec<u8> {
        let mut d = vec![0u8; dhcp::HEADER_LEN];
        d[0] = op;
        d[1] = 1;
        d[2] = 6;
        d[16..20].copy_from_slice(&yiaddr);
        d[28..34].copy_from_slice(&LAPTOP_MAC);
        d.extend_from_slice(&dhcp::MAGIC);
        d.extend_from_slice(&[53, 1, kind]);
        for (code, v) in opts {
            d.push(*code);
            d.push(v.len() as u8);
            d.extend_from_slice(v);
        }
        d.push(255);
        d
    }

    fn sightings(out: &[Finding]) -> Vec<&Sighting> {
        out.iter()
            .filter_map(|f| match &f.kind {
                FindingKind::Sighting(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn dhcp_request_names_the_mac_and_ack_binds_the_address() {
        let mut w = IdentityWatch::new(home());
        let mut out = Vec::new();
        let req = dhcp_msg(1, dhcp::message_type::REQUEST, [0; 4], &[(12, b"Laptop-AB12"), (50, &[10, 41, 0, 120])]);
        let zero = (Addr::v4([0; 4]), 68);
        let bcast = (Addr::v4([255; 4]), 67);
        w.on_frame(&view(zero, bcast, LAPTOP_MAC, Transport::Udp, &req), &mut out);
        // The same request again (a retransmission) sends nothing.
        w.on_frame(&view(zero, bcast, LAPTOP_MAC, Transport::Udp, &req), &mut out);
        let offer = dhcp_msg(2, dhcp::message_type::OFFER, [10, 41, 0, 120], &[]);
        let server = (Addr::v4([10, 41, 0, 1]), 67);
        let client = (Addr::v4([10, 41, 0, 120]), 68);
        w.on_frame(&view(server, client, [2, 0, 0, 0, 0, 1], Transport::Udp, &offer), &mut out);
        let ack = dhcp_msg(2, dhcp::message_type::ACK, [10, 41, 0, 120], &[]);
        w.on_frame(&view(server, client, [2, 0, 0, 0, 0, 1], Transport::Udp, &ack), &mut out);
        let s = sightings(&out);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!((s[0].addr, s[0].mac), (None, Some(LAPTOP_MAC)));
        assert_eq!(s[0].names, vec![(NameSource::DhcpHostname, "laptop-ab12".to_string())]);
        assert_eq!((s[1].addr, s[1].mac), (Some(Addr::v4([10, 41, 0, 120])), Some(LAPTOP_MAC)));
        assert_eq!(s[1].mac_source, MacSource::Dhcp);
        // A discover with neither name nor address says nothing.
        assert!(dhcp_sighting(&dhcp_msg(1, dhcp::message_type::DISCOVER, [0; 4], &[]), 0).is_none());
    }

    #[test]
    fn mdns_announcement_of_the_senders_own_address() {
        let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(&wire_name("laptop-ab12.local"));
        m.extend_from_slice(&[0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 41, 0, 120]);
        // Another host's record in the same message is not the sender's name.
        m.extend_from_slice(&wire_name("printer.local"));
        m.extend_from_slice(&[0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 41, 0, 9]);
        let mut w = IdentityWatch::new(home());
        let mut out = Vec::new();
        let src = (Addr::v4([10, 41, 0, 120]), MDNS_PORT);
        let group = (Addr::v4([224, 0, 0, 251]), MDNS_PORT);
        w.on_frame(&view(src, group, LAPTOP_MAC, Transport::Udp, &m), &mut out);
        w.on_frame(&view(src, group, LAPTOP_MAC, Transport::Udp, &m), &mut out);
        let s = sightings(&out);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].names, vec![(NameSource::Mdns, "laptop-ab12".to_string())]);
        assert_eq!((s[0].mac, s[0].mac_source), (Some(LAPTOP_MAC), MacSource::Mdns));
        // A query (not a response) names nothing.
        let mut q = m.clone();
        q[2] = 0;
        assert!(mdns_sighting(&q, src.0, LAPTOP_MAC, 0).is_none());
    }

    #[test]
    fn dns_answers_naming_the_endpoint_itself() {
        let me = Addr::v4([10, 41, 0, 120]);
        // PTR for its own reverse name.
        let mut m = vec![0x43, 0x21, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&wire_name("120.0.41.10.in-addr.arpa"));
        m.extend_from_slice(&[0, 12, 0, 1]);
        let target = wire_name("laptop-ab12.corp.example");
        m.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0x0e, 0x10, 0, target.len() as u8]);
        m.extend_from_slice(&target);
        let s = dns_sighting(&m, me, 0).unwrap();
        assert_eq!(s.names, vec![(NameSource::DnsPtr, "laptop-ab12.corp.example".to_string())]);
        // The same answer received by another endpoint is not its name.
        assert!(dns_sighting(&m, Addr::v4([10, 41, 0, 121]), 0).is_none());
        // An A answer holding its own address.
        let mut a = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        a.extend_from_slice(&wire_name("LAPTOP-AB12.vpn.example"));
        a.extend_from_slice(&[0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 41, 0, 120]);
        let s = dns_sighting(&a, me, 0).unwrap();
        assert_eq!(s.names, vec![(NameSource::DnsSelf, "laptop-ab12.vpn.example".to_string())]);
        // An answer for some other address is skipped before parsing.
        let mut other = a.clone();
        let n = other.len();
        other[n - 1] = 7;
        assert!(dns_sighting(&other, me, 0).is_none());
        assert_eq!(reverse_name(&me), "120.0.41.10.in-addr.arpa");
        let v6 = Addr::v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]);
        assert_eq!(reverse_name(&v6), "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    }

    #[test]
    fn flow_macs_once_per_change_and_never_a_routers() {
        let mut w = IdentityWatch::new(home());
        let mut out = Vec::new();
        let peer = (Addr::v4([203, 0, 113, 9]), 443);
        let lap = (Addr::v4([10, 41, 0, 120]), 50000);
        w.on_new_flow(&view(lap, peer, LAPTOP_MAC, Transport::Tcp, &[]), &mut out);
        w.on_new_flow(&view(lap, peer, LAPTOP_MAC, Transport::Tcp, &[]), &mut out);
        assert_eq!(out.len(), 1);
        // An outside sender, a frame without a link layer, a group MAC: nothing.
        w.on_new_flow(&view(peer, lap, [2, 0, 0, 0, 0, 9], Transport::Tcp, &[]), &mut out);
        w.on_new_flow(&view((Addr::v4([10, 41, 0, 7]), 1), peer, [0; 6], Transport::Tcp, &[]), &mut out);
        w.on_new_flow(&view((Addr::v4([10, 41, 0, 7]), 1), peer, [1, 0, 0x5e, 0, 0, 1], Transport::Tcp, &[]), &mut out);
        // Both sides inside: only the lower address (the flow's shard endpoint) is learned.
        let lower = (Addr::v4([10, 41, 0, 2]), 22);
        w.on_new_flow(&view(lap, lower, [2, 0, 0, 0, 0, 8], Transport::Tcp, &[]), &mut out);
        assert_eq!(out.len(), 1);
        w.on_new_flow(&view(lower, lap, [2, 0, 0, 0, 0, 8], Transport::Tcp, &[]), &mut out);
        assert_eq!(out.len(), 2);
        // A router's MAC: the first ROUTER_MIN_ADDRS addresses go out (the directory judges
        // across workers), then nothing more.
        let router = [0x02, 0xaa, 0, 0, 0, 1];
        for i in 0..20u8 {
            w.on_new_flow(&view((Addr::v4([10, 9, 0, i]), 1), peer, router, Transport::Tcp, &[]), &mut out);
        }
        assert_eq!(out.len(), 2 + identity::ROUTER_MIN_ADDRS);
        // Bounded memory.
        for i in 0..(MAX_REMEMBERED as u32 + 5) {
            let [_, a, b, c] = i.to_be_bytes();
            w.on_new_flow(&view((Addr::v4([10, a, b, c]), 1), peer, [2, 1, a, b, c, 0], Transport::Tcp, &[]), &mut out);
        }
        assert!(w.flow_macs.len() <= MAX_REMEMBERED && w.mac_addrs.len() <= MAX_REMEMBERED);
    }

    #[test]
    fn ordinary_traffic_is_not_parsed() {
        let mut w = IdentityWatch::new(home());
        let mut out = Vec::new();
        let junk = [0xffu8; 300];
        let lap = (Addr::v4([10, 41, 0, 120]), 50000);
        for port in [67u16, 68, 53, 5353, 443] {
            w.on_frame(&view((Addr::v4([198, 51, 100, 1]), port), lap, LAPTOP_MAC, Transport::Udp, &junk), &mut out);
            w.on_frame(&view(lap, (Addr::v4([198, 51, 100, 1]), port), LAPTOP_MAC, Transport::Tcp, &junk), &mut out);
        }
        assert!(out.is_empty());
    }
}
