//! Who and where the peers of a session are: the visible peer, and the addresses a session's
//! own messages name (STUN/TURN XOR-MAPPED, XOR-RELAYED and XOR-PEER), each enriched.
//!
//! # Contract
//! - Every alert gets the enrichment of its visible peer ([`PeerInfo`]: class always;
//!   country, AS number and organisation when public and in the databases).
//! - A STUN/TURN session's decoded addresses (already in its evidence as `ip:port`) become
//!   [`SeenAddress`]es, enriched the same way; an address that does not parse is left out
//!   (the evidence keeps its text), never an error.

use std::net::{IpAddr, SocketAddr};

use farhand_model::evidence::Evidence;

use crate::enrich::live::Enrichment;
use crate::enrich::lookup::PeerInfo;

/// An address a session's messages named, with what enrichment says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenAddress {
    /// Where it came from: `xor_mapped` (the client's public address as the STUN server saw
    /// it), `xor_relayed` (the address a TURN relay allocated), `xor_peer` (the far peer a
    /// TURN relay talks to: the controller of a relayed session).
    pub role: &'static str,
    /// The address.
    pub ip: IpAddr,
    /// The port.
    pub port: u16,
    /// Its class, country and owner.
    pub info: PeerInfo,
}

/// The addresses the evidence of a session names, enriched (module contract).
pub fn seen_addresses(evidence: &Evidence, enrich: &Enrichment) -> Vec<SeenAddress> {
    let Evidence::Stun(e) = evidence else { return Vec::new() };
    let lists: [(&'static str, &Vec<String>); 3] =
        [("xor_mapped", &e.mapped_addresses), ("xor_relayed", &e.relayed_addresses), ("xor_peer", &e.peer_addresses)];
    lists
        .into_iter()
        .flat_map(|(role, list)| list.iter().map(move |s| (role, s)))
        .filter_map(|(role, s)| {
            let sa: SocketAddr = s.parse().ok()?;
            Some(SeenAddress { role, ip: sa.ip(), port: sa.port(), info: enrich.lookup(sa.ip()) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::special::AddrClass;
    use farhand_model::evidence::StunEvidence;

    #[test]
    fn stun_addresses_of_every_role_are_classified() {
        let e = Evidence::Stun(StunEvidence {
            mapped_addresses: vec!["203.0.113.7:41331".into(), "[2001:db8::1]:3478".into()],
            relayed_addresses: vec!["198.51.100.2:50000".into()],
            peer_addresses: vec!["10.1.2.3:49161".into(), "not an address".into()],
            ..Default::default()
        });
        let seen = seen_addresses(&e, &Enrichment::none());
        let got: Vec<(&str, String, u16, AddrClass)> =
            seen.iter().map(|s| (s.role, s.ip.to_string(), s.port, s.info.class)).collect();
        assert_eq!(
            got,
            [
                ("xor_mapped", "203.0.113.7".to_string(), 41331, AddrClass::Documentation),
                ("xor_mapped", "2001:db8::1".to_string(), 3478, AddrClass::Documentation),
                ("xor_relayed", "198.51.100.2".to_string(), 50000, AddrClass::Documentation),
                ("xor_peer", "10.1.2.3".to_string(), 49161, AddrClass::Private),
            ]
        );
        assert!(seen_addresses(&Evidence::Vnc(Default::default()), &Enrichment::none()).is_empty());
    }
}
