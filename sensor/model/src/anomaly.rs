//! Parser trouble as data: which layer, where in its bytes, and why.
//!
//! A parser that meets bytes contradicting its protocol answers with an [`Anomaly`] instead
//! of a bare "invalid". Most anomalies are ordinary (the bytes of some other protocol tried
//! against this one's grammar); the fast path counts the ones that mean something — bytes
//! that began as a protocol and then broke it, a followed session whose framing was lost —
//! in [`AnomalyCounts`], which the run reports at its end, so no parser failure on a flow
//! farhand had recognised is silent.

use std::fmt;

/// The protocol layer (or the parser) that found the trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Layer {
    /// Link layer (Ethernet, VLAN, Linux cooked, …).
    Link,
    /// IPv4 or IPv6 header.
    Ip,
    /// TCP, UDP or ICMP header.
    Transport,
    /// SSH (identification, binary packet, KEXINIT).
    Ssh,
    /// TLS records and handshake messages.
    Tls,
    /// QUIC Initial packets.
    Quic,
    /// DNS messages.
    Dns,
    /// HTTP/1 heads.
    Http,
    /// DHCP messages.
    Dhcp,
    /// STUN/TURN messages and TURN ChannelData.
    Stun,
    /// RDP over TCP (TPKT, X.224, negotiation, fast-path).
    Rdp,
    /// RDP over UDP (MS-RDPEUDP).
    RdpUdp,
    /// VNC (RFB).
    Vnc,
    /// TeamViewer's framing.
    TeamViewer,
    /// RustDesk's framing and rendezvous messages.
    RustDesk,
    /// NoMachine (NX).
    NoMachine,
    /// Radmin.
    Radmin,
    /// OpenVPN.
    OpenVpn,
    /// WireGuard.
    WireGuard,
    /// Tailscale (DERP).
    Tailscale,
    /// SOCKS 4/5.
    Socks,
    /// IKE / IPsec.
    Ipsec,
    /// PPTP control and GRE.
    Pptp,
    /// tinc.
    Tinc,
    /// SoftEther.
    SoftEther,
    /// UltraSurf.
    UltraSurf,
    /// ICMP payloads (tunnels).
    Icmp,
    /// IP-KVM discovery and video frames.
    IpKvm,
}

impl Layer {
    /// Every layer, in declaration order (the index of [`AnomalyCounts`]).
    pub const ALL: [Layer; 28] = [
        Layer::Link,
        Layer::Ip,
        Layer::Transport,
        Layer::Ssh,
        Layer::Tls,
        Layer::Quic,
        Layer::Dns,
        Layer::Http,
        Layer::Dhcp,
        Layer::Stun,
        Layer::Rdp,
        Layer::RdpUdp,
        Layer::Vnc,
        Layer::TeamViewer,
        Layer::RustDesk,
        Layer::NoMachine,
        Layer::Radmin,
        Layer::OpenVpn,
        Layer::WireGuard,
        Layer::Tailscale,
        Layer::Socks,
        Layer::Ipsec,
        Layer::Pptp,
        Layer::Tinc,
        Layer::SoftEther,
        Layer::UltraSurf,
        Layer::Icmp,
        Layer::IpKvm,
    ];

    /// Short lower-case name, used in the run's statistics.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Ip => "ip",
            Layer::Transport => "transport",
            Layer::Ssh => "ssh",
            Layer::Tls => "tls",
            Layer::Quic => "quic",
            Layer::Dns => "dns",
            Layer::Http => "http",
            Layer::Dhcp => "dhcp",
            Layer::Stun => "stun",
            Layer::Rdp => "rdp",
            Layer::RdpUdp => "rdp-udp",
            Layer::Vnc => "vnc",
            Layer::TeamViewer => "teamviewer",
            Layer::RustDesk => "rustdesk",
            Layer::NoMachine => "nomachine",
            Layer::Radmin => "radmin",
            Layer::OpenVpn => "openvpn",
            Layer::WireGuard => "wireguard",
            Layer::Tailscale => "tailscale",
            Layer::Socks => "socks",
            Layer::Ipsec => "ipsec",
            Layer::Pptp => "pptp",
            Layer::Tinc => "tinc",
            Layer::SoftEther => "softether",
            Layer::UltraSurf => "ultrasurf",
            Layer::Icmp => "icmp",
            Layer::IpKvm => "ip-kvm",
        }
    }

    fn index(self) -> usize {
        Layer::ALL.iter().position(|&l| l == self).unwrap_or(0)
    }
}

/// Why the bytes broke the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// A fixed value (magic, marker, reserved bits, cookie) is wrong.
    BadMagic,
    /// A version field names no version of the protocol.
    BadVersion,
    /// A type, opcode or command is not one the protocol defines here.
    BadType,
    /// A length field disagrees with the bytes around it (too short for its structure,
    /// past its container, not a multiple of its unit).
    BadLength,
    /// A length or count exceeds the parser's named limit.
    OverLimit,
    /// A field holds a value the protocol does not allow (non-printable text, empty list,
    /// wrong encoding).
    BadValue,
    /// Two parts of the message (or the two directions) contradict each other.
    Inconsistent,
    /// The input ended where the structure cannot end (only for inputs known complete).
    Truncated,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 8] = [
        Reason::BadMagic,
        Reason::BadVersion,
        Reason::BadType,
        Reason::BadLength,
        Reason::OverLimit,
        Reason::BadValue,
        Reason::Inconsistent,
        Reason::Truncated,
    ];

    /// Short lower-case name, used in the run's statistics.
    pub fn name(self) -> &'static str {
        match self {
            Reason::BadMagic => "bad-magic",
            Reason::BadVersion => "bad-version",
            Reason::BadType => "bad-type",
            Reason::BadLength => "bad-length",
            Reason::OverLimit => "over-limit",
            Reason::BadValue => "bad-value",
            Reason::Inconsistent => "inconsistent",
            Reason::Truncated => "truncated",
        }
    }

    fn index(self) -> usize {
        Reason::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }
}

/// One piece of parser trouble: the layer, the byte offset within the parsed input where the
/// contradiction sits, and the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Anomaly {
    /// Layer (parser) that found it.
    pub layer: Layer,
    /// Offset of the offending field from the start of the bytes the parser was given
    /// (saturated at `u32::MAX`).
    pub offset: u32,
    /// Why.
    pub reason: Reason,
}

impl Anomaly {
    /// An anomaly at byte `offset` (saturated to `u32`).
    pub const fn new(layer: Layer, offset: usize, reason: Reason) -> Anomaly {
        let offset = if offset > u32::MAX as usize { u32::MAX } else { offset as u32 };
        Anomaly { layer, offset, reason }
    }

    /// The same anomaly moved `by` bytes further (for a parser that parses a structure
    /// embedded at `by` in its own input).
    pub const fn shifted(self, by: usize) -> Anomaly {
        Anomaly::new(self.layer, (self.offset as usize).saturating_add(by), self.reason)
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} at byte {}", self.layer.name(), self.reason.name(), self.offset)
    }
}

/// Anomalies counted per layer and reason (summed across shards at the end of a run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnomalyCounts {
    counts: [[u64; Reason::ALL.len()]; Layer::ALL.len()],
}

impl Default for AnomalyCounts {
    fn default() -> AnomalyCounts {
        AnomalyCounts { counts: [[0; Reason::ALL.len()]; Layer::ALL.len()] }
    }
}

impl AnomalyCounts {
    /// Count one anomaly.
    pub fn add(&mut self, a: Anomaly) {
        if let Some(c) = self.counts.get_mut(a.layer.index()).and_then(|row| row.get_mut(a.reason.index())) {
            *c = c.saturating_add(1);
        }
    }

    /// Add another set of counts to this one.
    pub fn merge(&mut self, o: &AnomalyCounts) {
        for (row, orow) in self.counts.iter_mut().zip(o.counts.iter()) {
            for (c, oc) in row.iter_mut().zip(orow.iter()) {
                *c = c.saturating_add(*oc);
            }
        }
    }

    /// How many anomalies of this layer and reason were counted.
    pub fn get(&self, layer: Layer, reason: Reason) -> u64 {
        self.counts.get(layer.index()).and_then(|row| row.get(reason.index())).copied().unwrap_or(0)
    }

    /// All anomalies counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// The non-zero counts, by layer then reason.
    pub fn iter(&self) -> impl Iterator<Item = (Layer, Reason, u64)> + '_ {
        Layer::ALL.iter().flat_map(move |&l| {
            Reason::ALL.iter().filter_map(move |&r| {
                let n = self.get(l, r);
                (n > 0).then_some((l, r, n))
            })
        })
    }
}

impl fmt::Display for AnomalyCounts {
    /// `ssh bad-length 2, tls over-limit 1` (empty when none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (l, r, n)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {} {}", l.name(), r.name(), n)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_reasons_are_listed_once_in_order() {
        for (i, l) in Layer::ALL.iter().enumerate() {
            assert_eq!(l.index(), i, "{l:?}");
        }
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r:?}");
        }
        let mut names: Vec<_> = Layer::ALL.iter().map(|l| l.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Layer::ALL.len());
    }

    #[test]
    fn counts_add_merge_and_print() {
        let mut a = AnomalyCounts::default();
        a.add(Anomaly::new(Layer::Ssh, 4, Reason::BadLength));
        a.add(Anomaly::new(Layer::Ssh, 9, Reason::BadLength));
        let mut b = AnomalyCounts::default();
        b.add(Anomaly::new(Layer::Tls, 0, Reason::OverLimit));
        b.add(Anomaly::new(Layer::IpKvm, 0, Reason::Truncated));
        a.merge(&b);
        assert_eq!(a.get(Layer::Ssh, Reason::BadLength), 2);
        assert_eq!(a.total(), 4);
        assert_eq!(a.to_string(), "ssh bad-length 2, tls over-limit 1, ip-kvm truncated 1");
        assert_eq!(AnomalyCounts::default().to_string(), "");
    }

    #[test]
    fn offsets_saturate_and_shift() {
        let a = Anomaly::new(Layer::Dns, usize::MAX, Reason::BadValue);
        assert_eq!(a.offset, u32::MAX);
        assert_eq!(a.shifted(5).offset, u32::MAX);
        assert_eq!(Anomaly::new(Layer::Dns, 3, Reason::BadValue).shifted(5).offset, 8);
        assert_eq!(Anomaly::new(Layer::Rdp, 11, Reason::BadType).to_string(), "rdp bad-type at byte 11");
    }
}
