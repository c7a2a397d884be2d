//! The per-endpoint identity directory: the fast path's [`Sighting`]s joined into what an
//! alert says of its endpoint ([`EndpointIdentity`]: MAC, host name and its source, other
//! names).
//!
//! # Contract
//! - [`Directory::learn`] takes every sighting, from any worker, in the order they cross.
//!   Names belong to the device (its MAC) when the sighting has one, else to the address.
//!   An address is bound to the newest MAC seen for it, with one exception: a MAC learned
//!   from a flow's frame never replaces one a DHCP ACK bound (the ACK says who holds the
//!   address; a flow's MAC may be a router's). When an address changes hands (a new MAC),
//!   the names kept for the address alone are dropped.
//! - The router rule ([`identity::ROUTER_MIN_ADDRS`]): a MAC that flows showed as the
//!   source of more inside addresses (IPv6 per /64) than that is a router's or a VPN
//!   concentrator's; [`Directory::identity`] then names no MAC and none of its names.
//! - Bounded: at most `max` addresses and `max` MACs; when one map is over, the
//!   least recently seen tenth of it is forgotten. Each entry keeps at most
//!   [`MAX_NAMES`] names (the newest).
//! - [`Directory::identity`] prefers as host name what the device calls itself (DHCP
//!   option 12, then option 81, mDNS, its reverse name, then forward DNS), newest first
//!   within a source.

use farhand_model::Addr;
use farhand_model::Micros;
use farhand_model::identity::{self, EndpointIdentity, Mac, MacSource, NameSource, Sighting};
use std::collections::HashMap;

/// Addresses (and, separately, MACs) the directory holds by default.
pub const MAX_ENDPOINTS: usize = 65_536;
/// Names kept per address or MAC.
pub const MAX_NAMES: usize = 8;

/// Names with their source and when each was last seen.
#[derive(Debug, Default, Clone)]
struct Names(Vec<(NameSource, String, Micros)>);

impl Names {
    fn add(&mut self, src: NameSource, name: &str, ts: Micros) {
        match self.0.iter_mut().find(|(s, n, _)| *s == src && n == name) {
            Some(e) => e.2 = e.2.max(ts),
            None => {
                self.0.push((src, name.to_string(), ts));
                if self.0.len() > MAX_NAMES
                    && let Some(i) = self.0.iter().enumerate().min_by_key(|(_, e)| e.2).map(|(i, _)| i)
                {
                    self.0.remove(i);
                }
            }
        }
    }
}

#[derive(Debug, Default)]
struct AddrEntry {
    mac: Option<(Mac, MacSource)>,
    /// Names seen for the address without a MAC (DNS answers).
    names: Names,
    last: Micros,
}

#[derive(Debug, Default)]
struct MacEntry {
    names: Names,
    /// Router buckets of the inside addresses flows showed it for (up to one past the limit).
    buckets: Vec<[u8; 16]>,
    last: Micros,
}

impl MacEntry {
    fn router(&self) -> bool {
        self.buckets.len() > identity::ROUTER_MIN_ADDRS
    }
}

/// The directory: by address and by MAC, bounded.
#[derive(Debug)]
pub struct Directory {
    by_addr: HashMap<Addr, AddrEntry>,
    by_mac: HashMap<Mac, MacEntry>,
    max: usize,
}

impl Default for Directory {
    fn default() -> Directory {
        Directory::new(MAX_ENDPOINTS)
    }
}

impl Directory {
    /// An empty directory holding at most `max` addresses and `max` MACs (at least 10).
    pub fn new(max: usize) -> Directory {
        Directory { by_addr: HashMap::new(), by_mac: HashMap::new(), max: max.max(10) }
    }

    /// Addresses and MACs held.
    pub fn len(&self) -> (usize, usize) {
        (self.by_addr.len(), self.by_mac.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty() && self.by_mac.is_empty()
    }

    /// Whether flows showed this MAC for more inside addresses than one device has.
    pub fn is_router(&self, mac: &Mac) -> bool {
        self.by_mac.get(mac).is_some_and(MacEntry::router)
    }

    /// Takes one sighting.
    pub fn learn(&mut self, s: &Sighting) {
        let mac = s.mac.filter(identity::is_device_mac);
        if let Some(mac) = mac {
            let e = self.by_mac.entry(mac).or_default();
            e.last = e.last.max(s.ts);
            for (src, n) in &s.names {
                e.names.add(*src, n, s.ts);
            }
            if let (Some(a), MacSource::Flow) = (s.addr, s.mac_source) {
                let b = identity::router_bucket(&a);
                if !e.buckets.contains(&b) && !e.router() {
                    e.buckets.push(b);
                }
            }
        }
        if let Some(a) = s.addr {
            let e = self.by_addr.entry(a).or_default();
            e.last = e.last.max(s.ts);
            if let Some(mac) = mac {
                match e.mac {
                    Some((old, MacSource::Dhcp)) if old != mac && s.mac_source == MacSource::Flow => {}
                    Some((old, _)) if old != mac => {
                        e.names = Names::default();
                        e.mac = Some((mac, s.mac_source));
                    }
                    Some((_, ref mut src)) => {
                        if s.mac_source == MacSource::Dhcp {
                            *src = MacSource::Dhcp;
                        }
                    }
                    None => e.mac = Some((mac, s.mac_source)),
                }
            } else {
                for (src, n) in &s.names {
                    e.names.add(*src, n, s.ts);
                }
            }
        }
        self.bound();
    }

    /// What is known of the endpoint at `a`: `None` when nothing is.
    pub fn identity(&self, a: &Addr) -> Option<EndpointIdentity> {
        let e = self.by_addr.get(a)?;
        let mac = e.mac.map(|(m, _)| m).filter(|m| !self.is_router(m));
        let device = mac.and_then(|m| self.by_mac.get(&m));
        let mut all: Vec<&(NameSource, String, Micros)> =
            e.names.0.iter().chain(device.map(|d| d.names.0.iter()).into_iter().flatten()).collect();
        // Newest first; the host name is the most preferred source's newest name.
        all.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| x.1.cmp(&y.1)));
        let hostname = all.iter().min_by_key(|(src, _, _)| src.rank()).map(|(src, n, _)| (n.clone(), *src));
        let mut names: Vec<String> = Vec::new();
        for (_, n, _) in &all {
            if hostname.as_ref().is_some_and(|(h, _)| h == n) || names.contains(n) {
                continue;
            }
            if names.len() < identity::MAX_OTHER_NAMES {
                names.push(n.clone());
            }
        }
        let id = EndpointIdentity { mac, hostname, names };
        (!id.is_empty()).then_some(id)
    }

    /// Forgets the least recently seen tenth of a map that is over the bound.
    fn bound(&mut self) {
        fn trim<K: Clone + Eq + std::hash::Hash, V>(m: &mut HashMap<K, V>, max: usize, last: impl Fn(&V) -> Micros) {
            if m.len() <= max {
                return;
            }
            let mut ages: Vec<Micros> = m.values().map(&last).collect();
            let k = (max / 10).max(1).min(ages.len()) - 1;
            let (_, cutoff, _) = ages.select_nth_unstable(k);
            let cutoff = *cutoff;
            let mut left = k + 1;
            m.retain(|_, v| {
                let drop = left > 0 && last(v) <= cutoff;
                if drop {
                    left -= 1;
                }
                !drop
            });
        }
        trim(&mut self.by_addr, self.max, |e| e.last);
        trim(&mut self.by_mac, self.max, |e| e.last);
    }
}

/// A sentence naming the endpoint for an alert's message: "Endpoint 10.41.0.120 is
/// laptop-ab12 (02:00:0a:29:00:42; host name from dhcp_hostname)." Empty when nothing is known.
pub fn note(ip: Addr, id: Option<&EndpointIdentity>) -> String {
    let Some(id) = id else { return String::new() };
    let mac = id.mac.as_ref().map(identity::mac_text);
    match (&id.hostname, mac) {
        (Some((h, src)), Some(m)) => format!(" Endpoint {ip} is {h} ({m}; host name from {}).", src.name()),
        (Some((h, src)), None) => format!(" Endpoint {ip} is {h} (host name from {}).", src.name()),
        (None, Some(m)) => format!(" Endpoint {ip} has MAC {m}."),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAPTOP: Mac = [0x02, 0x00, 0x0a, 0x29, 0x00, 0x42];
    const IP: Addr = Addr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 41, 0, 120]);

    fn sight(
        ts: Micros,
        addr: Option<Addr>,
        mac: Option<Mac>,
        src: MacSource,
        names: &[(NameSource, &str)],
    ) -> Sighting {
        Sighting { ts, addr, mac, mac_source: src, names: names.iter().map(|(s, n)| (*s, n.to_string())).collect() }
    }

    #[test]
    fn dhcp_request_then_ack_names_the_address() {
        let mut d = Directory::default();
        d.learn(&sight(
            1,
            None,
            Some(LAPTOP),
            MacSource::Dhcp,
            &[(NameSource::DhcpHostname, "laptop-ab12"), (NameSource::DhcpFqdn, "laptop-ab12.corp.example")],
        ));
        assert_eq!(d.identity(&IP), None);
        d.learn(&sight(2, Some(IP), Some(LAPTOP), MacSource::Dhcp, &[]));
        d.learn(&sight(3, Some(IP), None, MacSource::None, &[(NameSource::DnsPtr, "ab12.vpn.example")]));
        let id = d.identity(&IP).unwrap();
        assert_eq!(id.mac, Some(LAPTOP));
        assert_eq!(id.hostname, Some(("laptop-ab12".into(), NameSource::DhcpHostname)));
        assert_eq!(id.names, vec!["ab12.vpn.example".to_string(), "laptop-ab12.corp.example".to_string()]);
        assert_eq!(
            note(IP, Some(&id)),
            " Endpoint 10.41.0.120 is laptop-ab12 (02:00:0a:29:00:42; host name from dhcp_hostname)."
        );
    }

    #[test]
    fn newest_mac_wins_but_a_flow_never_overrides_dhcp() {
        let mut d = Directory::default();
        d.learn(&sight(1, Some(IP), None, MacSource::None, &[(NameSource::DnsSelf, "old-owner.example")]));
        d.learn(&sight(2, Some(IP), Some(LAPTOP), MacSource::Dhcp, &[]));
        let other = [0x02, 0, 0, 0, 0, 0x77];
        d.learn(&sight(3, Some(IP), Some(other), MacSource::Flow, &[]));
        assert_eq!(d.identity(&IP).unwrap().mac, Some(LAPTOP));
        // A new ACK for the address: it changed hands; the old names go with the old owner.
        d.learn(&sight(4, Some(IP), Some(other), MacSource::Dhcp, &[]));
        let id = d.identity(&IP).unwrap();
        assert_eq!((id.mac, id.hostname, id.names.len()), (Some(other), None, 0));
        // Without DHCP, the newest flow MAC wins.
        let ip2 = Addr::v4([10, 41, 0, 121]);
        d.learn(&sight(5, Some(ip2), Some(LAPTOP), MacSource::Flow, &[]));
        d.learn(&sight(6, Some(ip2), Some(other), MacSource::Flow, &[]));
        assert_eq!(d.identity(&ip2).unwrap().mac, Some(other));
    }

    #[test]
    fn a_mac_behind_many_addresses_is_a_router() {
        let mut d = Directory::default();
        let router = [0x02, 0xaa, 0, 0, 0, 1];
        d.learn(&sight(0, None, Some(router), MacSource::Dhcp, &[(NameSource::DhcpHostname, "gw")]));
        for i in 0..=identity::ROUTER_MIN_ADDRS as u8 {
            d.learn(&sight(u64::from(i), Some(Addr::v4([10, 9, 0, i])), Some(router), MacSource::Flow, &[]));
            let named = d.identity(&Addr::v4([10, 9, 0, 0])).and_then(|id| id.mac);
            if usize::from(i) < identity::ROUTER_MIN_ADDRS {
                assert_eq!(named, Some(router), "after {i}");
            } else {
                assert_eq!(named, None, "after {i}");
            }
        }
        assert!(d.is_router(&router));
        // Its names are not the endpoints' either; an address with nothing else is unknown.
        assert_eq!(d.identity(&Addr::v4([10, 9, 0, 3])), None);
        // IPv6 addresses of one /64 count once: a laptop's temporary addresses.
        let mut d = Directory::default();
        for i in 0..50u8 {
            let a = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, i, 1, 2, 3, 4, 5, 6, i]);
            d.learn(&sight(u64::from(i), Some(a), Some(LAPTOP), MacSource::Flow, &[]));
        }
        assert!(!d.is_router(&LAPTOP));
    }

    #[test]
    fn bounded_with_least_recently_seen_forgotten() {
        let mut d = Directory::new(100);
        for i in 0..1000u32 {
            let [_, a, b, c] = i.to_be_bytes();
            d.learn(&sight(
                u64::from(i),
                Some(Addr::v4([10, a, b, c])),
                Some([2, 0, 0, a, b, c]),
                MacSource::Flow,
                &[],
            ));
            let (na, nm) = d.len();
            assert!(na <= 100 && nm <= 100);
        }
        // The newest is still there, the oldest is gone.
        assert!(d.identity(&Addr::v4([10, 0, 3, 231])).is_some());
        assert!(d.identity(&Addr::v4([10, 0, 0, 0])).is_none());
        // Names per device are bounded too, newest kept.
        let mut d = Directory::default();
        for i in 0..40u64 {
            d.learn(&sight(i, Some(IP), Some(LAPTOP), MacSource::Mdns, &[(NameSource::Mdns, &format!("n{i}"))]));
        }
        let id = d.identity(&IP).unwrap();
        assert_eq!(id.hostname, Some(("n39".into(), NameSource::Mdns)));
        assert_eq!(id.names, vec!["n38", "n37", "n36", "n35"]);
    }
}
