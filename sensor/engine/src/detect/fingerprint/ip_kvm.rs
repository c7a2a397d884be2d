//! IP-KVM signs on the endpoint's segment: frames sent from a Raspberry Pi's network
//! interface (PiKVM, TinyPilot and many home-made IP-KVMs are Raspberry Pis).
//!
//! Facts used: the IEEE OUI registry assigns B8:27:EB, DC:A6:32, E4:5F:01, 2C:CF:67 and
//! D8:3A:DD to Raspberry Pi (Trading) Ltd (FINGERPRINTS.md). A sensor that sees the
//! endpoint's own segment (office deployment, SPAN of the access switch) sees such a
//! device's source MAC on its DHCP, mDNS, ARP and IP traffic. A Raspberry Pi next to a
//! company laptop is not proof of a KVM — hence "suspected" — but it is the device class an
//! operator uses to drive a laptop's keyboard, video and mouse from afar without any software
//! on the laptop.
//!
//! # Contract
//! - [`raspberry_pi`] is a constant-time check of a source MAC.
//! - [`KvmWatch`] remembers the devices already reported (bounded by [`MAX_DEVICES`]) so
//!   each is reported once per run.
//! - [`IpKvmDevices`] is the engine's frame watch ([`crate::detect::correlate::Correlator`]):
//!   it sees every frame's source MAC and raises an `ip_kvm_suspected` finding per device.

use crate::decode::PacketView;
use crate::detect::correlate::Correlator;
use farhand_model::evidence::{Evidence, IpKvmEvidence};
use farhand_model::tool::{Match, Method, Tool};
use farhand_model::{EndReason, Finding, FindingKind, FlowSummary, HomeNets};
use std::collections::HashSet;

/// Raspberry Pi OUIs.
pub const RASPBERRY_PI_OUIS: [[u8; 3]; 5] =
    [[0xB8, 0x27, 0xEB], [0xDC, 0xA6, 0x32], [0xE4, 0x5F, 0x01], [0x2C, 0xCF, 0x67], [0xD8, 0x3A, 0xDD]];
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
    /// Evidence for a Raspberry Pi source MAC seen for the first time; `None` otherwise.
    /// `routed`: the frame's source address is not inside (the device forwarded it).
    pub fn check(&mut self, mac: &[u8; 6], routed: bool) -> Option<IpKvmEvidence> {
        if !raspberry_pi(mac) || self.seen.contains(mac) || self.seen.len() >= MAX_DEVICES {
            return None;
        }
        self.seen.insert(*mac);
        Some(IpKvmEvidence { mac: mac_text(mac), vendor: "Raspberry Pi", routed })
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
        if !raspberry_pi(&v.src_mac) {
            return None;
        }
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
        flow: FlowSummary {
            key: v.key,
            initiator: v.side,
            first_ts: v.ts,
            last_ts: v.ts,
            bytes: [0; 2],
            pkts: [0; 2],
            reason: EndReason::Idle,
            handshake: [0; 3],
        },
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
        for i in 0..(MAX_DEVICES as u32 + 10) {
            let [_, x, y, z] = i.to_be_bytes();
            let _ = w.check(&[0xE4, 0x5F, 0x01, x, y, z], false);
        }
        assert!(w.seen.len() <= MAX_DEVICES);
    }
}
