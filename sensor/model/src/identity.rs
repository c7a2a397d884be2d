//! Endpoint identity: what names an endpoint beyond its address — its MAC, the host name it
//! gives itself (DHCP, mDNS) and the names it looked up for itself.
//!
//! # Contract
//! - A [`Sighting`] is what the fast path saw once, when it changed: a device's MAC, the
//!   address it holds (if known) and the names it gave. It crosses to the reporting plane
//!   as a [`crate::FindingKind::Sighting`], raises no alert, and feeds the reporting plane's
//!   per-endpoint directory, which builds the [`EndpointIdentity`] an alert carries.
//! - Everything here is bounded: names are at most [`MAX_NAME_LEN`] bytes, a sighting
//!   carries at most [`MAX_SIGHTING_NAMES`] names, an identity at most [`MAX_OTHER_NAMES`]
//!   names beside its host name.
//! - The router rule: a MAC seen as the source of frames from more than
//!   [`ROUTER_MIN_ADDRS`] inside addresses (IPv6 counted per /64) is a router's (or a VPN
//!   concentrator's), not an identity ([`router_bucket`]).

use crate::Micros;
use crate::net::Addr;

/// A MAC (Ethernet) address.
pub type Mac = [u8; 6];

/// Longest name kept (bytes).
pub const MAX_NAME_LEN: usize = 128;
/// Most names one sighting carries.
pub const MAX_SIGHTING_NAMES: usize = 4;
/// Most names an identity lists beside its host name.
pub const MAX_OTHER_NAMES: usize = 4;
/// A MAC seen from more inside addresses (or IPv6 /64s) than this is a router's.
pub const ROUTER_MIN_ADDRS: usize = 8;

/// Where a name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// DHCP option 12 (Host Name), sent by the client (RFC 2132 §3.14).
    DhcpHostname,
    /// DHCP option 81 (Client FQDN, RFC 4702), from the client or the server's answer.
    DhcpFqdn,
    /// An mDNS announcement or response naming the sender's own address (`.local`, RFC 6762).
    Mdns,
    /// A DNS answer the endpoint received that maps a name to its own address.
    DnsSelf,
    /// A DNS PTR answer the endpoint received for its own address (its reverse name).
    DnsPtr,
}

impl NameSource {
    /// Stable name, as in the alert (`hostname_source`).
    pub fn name(self) -> &'static str {
        match self {
            NameSource::DhcpHostname => "dhcp_hostname",
            NameSource::DhcpFqdn => "dhcp_fqdn",
            NameSource::Mdns => "mdns",
            NameSource::DnsSelf => "dns_self",
            NameSource::DnsPtr => "dns_ptr",
        }
    }

    /// Preference as the host name: lower is preferred (what the device calls itself first).
    pub fn rank(self) -> u8 {
        match self {
            NameSource::DhcpHostname => 0,
            NameSource::DhcpFqdn => 1,
            NameSource::Mdns => 2,
            NameSource::DnsPtr => 3,
            NameSource::DnsSelf => 4,
        }
    }
}

/// How a sighting's MAC was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MacSource {
    /// The client hardware address (`chaddr`) of a DHCP message: the client's own, whatever
    /// relayed it. An ACK's binding of `yiaddr` to it is authoritative.
    Dhcp,
    /// The source MAC of an mDNS frame (link-local multicast: never routed).
    Mdns,
    /// The source MAC of the frame that opened a flow from an inside address: a router's
    /// when the endpoint is behind one (see [`ROUTER_MIN_ADDRS`]).
    Flow,
    /// No MAC (the sighting names an address only).
    None,
}

/// One observation of a device's identity, sent when it changed (not per packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// Packet time.
    pub ts: Micros,
    /// The address the device holds, when known (a DHCP client has none before its ACK).
    pub addr: Option<Addr>,
    /// The device's MAC, when known.
    pub mac: Option<Mac>,
    /// How the MAC was learned.
    pub mac_source: MacSource,
    /// Names it gave or was given, each with its source (at most [`MAX_SIGHTING_NAMES`]).
    pub names: Vec<(NameSource, String)>,
}

/// What an alert says of its endpoint beyond the address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointIdentity {
    /// The endpoint's MAC (never a router's).
    pub mac: Option<Mac>,
    /// The preferred host name and where it came from.
    pub hostname: Option<(String, NameSource)>,
    /// Other names seen for it (at most [`MAX_OTHER_NAMES`]), newest first.
    pub names: Vec<String>,
}

impl EndpointIdentity {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.mac.is_none() && self.hostname.is_none() && self.names.is_empty()
    }
}

/// `aa:bb:cc:dd:ee:ff` (lower case, colons: OCSF and farhand's own fields).
pub fn mac_text(mac: &Mac) -> String {
    let [a, b, c, d, e, f] = *mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// `AA-BB-CC-DD-EE-FF` (upper case, hyphens: the ECS form).
pub fn mac_ecs(mac: &Mac) -> String {
    let [a, b, c, d, e, f] = *mac;
    format!("{a:02X}-{b:02X}-{c:02X}-{d:02X}-{e:02X}-{f:02X}")
}

/// Whether a MAC can name a device: not all-zero (no link layer), not a group address
/// (multicast/broadcast bit set).
pub fn is_device_mac(mac: &Mac) -> bool {
    let [first, ..] = *mac;
    *mac != [0; 6] && first & 1 == 0
}

/// What the router rule counts for an address: IPv4 addresses one by one, IPv6 per /64 (a
/// laptop's temporary addresses share its /64).
pub fn router_bucket(a: &Addr) -> [u8; 16] {
    if a.is_v4() {
        a.0
    } else {
        let mut b = a.0;
        for x in b.iter_mut().skip(8) {
            *x = 0;
        }
        b
    }
}

/// A name as kept: printable ASCII, lower case, no trailing dot, at most [`MAX_NAME_LEN`]
/// bytes; `None` when nothing is left.
pub fn clean_name(raw: &str) -> Option<String> {
    let s: String = raw
        .trim_end_matches('.')
        .chars()
        .filter(char::is_ascii_graphic)
        .take(MAX_NAME_LEN)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_forms_and_device_macs() {
        let m = [0x02, 0x00, 0x0a, 0x29, 0xab, 0x0f];
        assert_eq!(mac_text(&m), "02:00:0a:29:ab:0f");
        assert_eq!(mac_ecs(&m), "02-00-0A-29-AB-0F");
        assert!(is_device_mac(&m));
        assert!(!is_device_mac(&[0; 6]));
        assert!(!is_device_mac(&[0xff; 6]));
        assert!(!is_device_mac(&[0x01, 0x00, 0x5e, 0, 0, 0xfb]));
    }

    #[test]
    fn router_buckets_group_v6_by_64() {
        let a = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        let b = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9]);
        assert_eq!(router_bucket(&a), router_bucket(&b));
        assert_ne!(router_bucket(&Addr::v4([10, 0, 0, 1])), router_bucket(&Addr::v4([10, 0, 0, 2])));
    }

    #[test]
    fn names_are_cleaned_and_bounded() {
        assert_eq!(clean_name("Laptop-AB12.").as_deref(), Some("laptop-ab12"));
        assert_eq!(clean_name("a b\u{7}c").as_deref(), Some("abc"));
        assert_eq!(clean_name(""), None);
        assert_eq!(clean_name(&"x".repeat(1000)).map(|s| s.len()), Some(MAX_NAME_LEN));
        assert!(NameSource::DhcpHostname.rank() < NameSource::DnsSelf.rank());
    }
}
