//! IP-KVM signs on the endpoint's segment: frames sent from a network interface whose OUI
//! belongs to IP-KVM-class hardware — a Raspberry Pi (PiKVM, TinyPilot and many home-made
//! IP-KVMs are Raspberry Pis) or a maker of IP-KVM devices.
//!
//! Facts used (IEEE OUI registry, MA-L assignments; FINGERPRINTS.md): B8:27:EB, DC:A6:32,
//! E4:5F:01, 2C:CF:67 and D8:3A:DD are assigned to Raspberry Pi (Trading) Ltd; 94:83:C4 to
//! GL Technologies (Hong Kong) Limited (GL.iNet), the maker of the Comet / GLKVM IP-KVMs —
//! and of travel routers carrying the same OUI. PiKVM's and TinyPilot's own devices are
//! Raspberry Pi boards (Pi OUIs); no OUI registered to JetKVM or TinyPilot is known. A
//! sensor that sees the endpoint's own segment (office deployment, SPAN of the access
//! switch) sees such a device's source MAC on its DHCP, mDNS, ARP and IP traffic.
//!
//! The hardware class alone proves nothing — Raspberry Pis run routers, sensors and signage
//! — so each report is one *sign*, weighed with the device's other signs (names, certificate,
//! cloud lookups) by the verdict (`farhand_report::verdict::kvm`).
//!
//! # Contract
//! - [`hardware`] is a constant-time check of a source MAC: the vendor and the class
//!   ([`SBC`] or [`KVM_MAKER`]) of IP-KVM-class hardware, `None` for anything else.
//! - [`KvmWatch`] remembers the devices already reported (bounded by [`MAX_DEVICES`]) so
//!   each is reported once per run.
//! - [`IpKvmDevices`] is the engine's frame watch ([`crate::detect::correlate::Correlator`]):
//!   it sees every frame's source MAC and raises an `ip_kvm_suspected` finding per device.

use crate::decode::PacketView;
use crate::detect::correlate::Correlator;
use farhand_model::evidence::{Evidence, IpKvmEvidence};
use farhand_model::tool::{Match, Method, Tool};
use farhand_model::{Finding, FindingKind, FlowSummary, HomeNets};
use std::collections::HashSet;

/// Raspberry Pi OUIs.
pub const RASPBERRY_PI_OUIS: [[u8; 3]; 5] =
    [[0xB8, 0x27, 0xEB], [0xDC, 0xA6, 0x32], [0xE4, 0x5F, 0x01], [0x2C, 0xCF, 0x67], [0xD8, 0x3A, 0xDD]];
/// OUIs of makers of IP-KVM devices, with the vendor's name.
pub const KVM_MAKER_OUIS: [([u8; 3], &str); 1] = [([0x94, 0x83, 0xC4], "GL.iNet")];
/// Hardware class of a single-board computer (Raspberry Pi).
pub const SBC: &str = farhand_model::evidence::HARDWARE_SBC;
/// Hardware class of a maker of IP-KVM devices.
pub const KVM_MAKER: &str = farhand_model::evidence::HARDWARE_KVM_MAKER;
/// Devices remembered per worker.
pub const MAX_DEVICES: usize = 4096;
/// Confidence of an `ip_kvm_suspected` finding from the OUI alone.
pub const CONFIDENCE_OUI: u8 = 50;

/// Whether a MAC address belongs to a Raspberry Pi.
#[inline]
pub fn raspberry_pi(mac: &[u8; 6]) -> bool {
    let [a, b, c, ..] = *mac;
    RASPBERRY_PI_OUIS.contains(&[a, b, c])
}

/// The vendor and hardware class ([`SBC`], [`KVM_MAKER`]) of an IP-KVM-class MAC address.
#[inline]
pub fn hardware(mac: &[u8; 6]) -> Option<(&'static str, &'static str)> {
    let [a, b, c, ..] = *mac;
    if RASPBERRY_PI_OUIS.contains(&[a, b, c]) {
        return Some(("Raspberry Pi", SBC));
    }
    KVM_MAKER_OUIS.iter().find(|(oui, _)| *oui == [a, b, c]).map(|(_, vendor)| (*vendor, KVM_MAKER))
}

/// Formats a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Devices already reported.
#[derive(Debug, Default)]
pub struct KvmWatch {
    seen: HashSet<[u8; 6]>,
}

impl KvmWatch {
    /// Evidence for an IP-KVM-class source MAC ([`hardware`]) seen for the first time;
    /// `None` otherwise. `routed`: the frame's source address is not inside (the device
    /// forwarded it).
    pub fn check(&mut self, mac: &[u8; 6], routed: bool) -> Option<IpKvmEvidence> {
        let (vendor, class) = hardware(mac)?;
        if self.seen.contains(mac) || self.seen.len() >= MAX_DEVICES {
            return None;
        }
        self.seen.insert(*mac);
        Some(IpKvmEvidence { mac: mac_text(mac), vendor, hardware: class, routed })
    }
}

/// The IP-KVM device watch over every frame, with the deployment's inside networks (a
/// device whose frames carry an outside source address forwarded them: `routed`).
pub struct IpKvmDevices {
    seen: KvmWatch,
    home: HomeNets,
}

impl IpKvmDevices {
    /// A watch with nothing seen yet.
    pub fn new(home: HomeNets) -> IpKvmDevices {
        IpKvmDevices { seen: KvmWatch::default(), home }
    }
}

impl Correlator for IpKvmDevices {
    fn name(&self) -> &'static str {
        "ip_kvm"
    }
    fn watches_frames(&self) -> bool {
        true
    }
    #[inline]
    fn on_frame(&mut self, v: &PacketView<'_>) -> Option<Finding> {
        // (A device is reported from a frame carrying an address of its own, not from the
        // DHCP exchange it sends from 0.0.0.0 before it has one.)
        hardware(&v.src_mac)?;
        let src = v.key.side(v.side).0;
        if src.ip().is_unspecified() {
            return None;
        }
        let e = self.seen.check(&v.src_mac, !self.home.contains(&src))?;
        Some(finding(v, e))
    }
    fn fresh(&self) -> Box<dyn Correlator> {
        Box::new(IpKvmDevices::new(self.home.clone()))
    }
}

/// An `ip_kvm_suspected` finding for the device that sent `v`.
pub fn finding(v: &PacketView<'_>, e: IpKvmEvidence) -> Finding {
    Finding {
        detector: "ip_kvm",
        detector_version: "1",
        ts: v.ts,
        flow: FlowSummary::instant(v.key, v.side, v.ts),
        kind: FindingKind::IpKvmSuspected(Match {
            tool: Tool::IpKvm,
            confidence: CONFIDENCE_OUI,
            method: Method::Name,
            evidence: Evidence::IpKvm(e),
        }),
        via: None,
        behaviour: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ouis_and_once_per_device() {
        let pi = [0xDC, 0xA6, 0x32, 1, 2, 3];
        assert!(raspberry_pi(&pi));
        assert!(!raspberry_pi(&[0x02, 0, 0x0a, 0x14, 0, 0x0a]));
        assert!(!raspberry_pi(&[0; 6]));
        let mut w = KvmWatch::default();
        assert_eq!(w.check(&pi, false).unwrap().mac, "dc:a6:32:01:02:03");
        assert!(w.check(&pi, false).is_none());
        assert!(w.check(&[0xB8, 0x27, 0xEB, 9, 9, 9], false).is_some());
        // A KVM maker's OUI (GL.iNet): reported with its class; other OUIs are not.
        let gl = w.check(&[0x94, 0x83, 0xC4, 1, 2, 3], true).unwrap();
        assert_eq!((gl.vendor, gl.hardware, gl.routed), ("GL.iNet", KVM_MAKER, true));
        assert_eq!(hardware(&pi), Some(("Raspberry Pi", SBC)));
        assert_eq!(hardware(&[0x94, 0x83, 0xC5, 1, 2, 3]), None);
        assert!(w.check(&[0x00, 0x1B, 0x21, 1, 2, 3], false).is_none());
        for i in 0..(MAX_DEVICES as u32 + 10) {
            let [_, x, y, z] = i.to_be_bytes();
            let _ = w.check(&[0xE4, 0x5F, 0x01, x, y, z], false);
        }
        assert!(w.seen.len() <= MAX_DEVICES);
    }
}
