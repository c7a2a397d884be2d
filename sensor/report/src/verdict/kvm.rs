//! IP-KVM precision: every IP-KVM sign a device shows, weighed together, as one alert per
//! device (MITRE ATT&CK T1219.003, Remote Access Hardware).
//!
//! A Raspberry Pi's hardware address alone is common on office networks (routers, sensors,
//! signage, a developer's board); it must not raise a High alert by itself. It becomes
//! evidence when the same device also names itself as a KVM, serves a KVM's default
//! certificate or looks up a KVM vendor's cloud.
//!
//! # Contract
//! - [`KvmDevices::judge`] takes a finding that is an IP-KVM sign ([`is_sign`]: an
//!   `ip_kvm_suspected` finding, or any finding whose tool is [`Tool::IpKvm`]) and keeps, per
//!   device, the signs seen. The device is its MAC address when the sign carries one (the
//!   OUI watch's evidence, a DHCP client's hardware address) or when the device's address
//!   was seen with that MAC before; else its IP address. Signs seen under an address before
//!   its MAC was known join the MAC's record when it is learned.
//! - Each sign has a kind and a weight ([`Sign`], [`weight`]):
//!
//!   | sign | kind | weight |
//!   |---|---|---|
//!   | Raspberry Pi (single-board computer) OUI | [`SignKind::SbcHardware`] | 1 |
//!   | KVM maker's OUI (GL.iNet: Comet/GLKVM, but also its travel routers) | [`SignKind::MakerHardware`] | 2 (1 when the device only forwards others' packets: a router) |
//!   | an IP-KVM vendor named in another field (User-Agent, ALPN, a listed range) | [`SignKind::VendorName`] | 2 |
//!   | a session attributed to an IP-KVM by association (WebRTC media after a vendor name) | [`SignKind::Session`] | 3 |
//!   | a lookup of a KVM vendor's cloud, relay or update name (DNS query or answer, TLS/QUIC SNI, HTTP Host) | [`SignKind::CloudLookup`] | 3 |
//!   | a KVM's default TLS certificate (PiKVM, JetKVM, TinyPilot) | [`SignKind::Certificate`] | 4 |
//!   | the device's own name is a KVM product's (DHCP host name, mDNS) | [`SignKind::DeviceName`] | 4 |
//!
//!   The device's score is the sum, over the kinds seen, of each kind's highest weight (a
//!   second lookup adds nothing). Severity: score 1 → Low, 2–3 → Medium, 4 or more → High
//!   ([`severity`]). So a Raspberry Pi alone stays Low; a KVM maker's OUI, a vendor name or a
//!   cloud lookup alone is Medium; a KVM-specific name or certificate, or a cloud lookup from
//!   KVM-class hardware, is High. Confidence is `min(95, 20 + 15 × score)`, at most
//!   [`UNCORROBORATED_MAX`] (75) until two kinds of sign beyond the hardware address agree or
//!   the device presents a KVM's certificate ([`confidence`]).
//! - One `ip_kvm_suspected` alert per device under a stable id (from the device key): the
//!   first sign creates it (activity Create), each later sign that raises the score updates
//!   it (activity Update, same id); a sign that adds nothing (the same kind again) raises
//!   nothing. The message lists the signs with their weights, the score and what it means.
//! - The alert's endpoint is the device as the sign's flow shows it (the frame's sender; the
//!   DHCP or mDNS sender; the server of a certificate; the client of a lookup, SNI or HTTP
//!   Host — unless that client is outside and the server inside, which is then the device
//!   named); for a device seen only forwarding an outside host's packets, the inside host it
//!   delivered to. Its
//!   evidence is the sign that raised the alert.
//! - Bounded: at most [`MAX_DEVICES`] devices (the least recently seen is forgotten first)
//!   and [`MAX_SIGNS`] signs per device; addresses learned for MACs likewise.

use super::{Activity, Alert, AlertKind, Severity, alert_id};
use farhand_model::evidence::{Evidence, HARDWARE_KVM_MAKER};
use farhand_model::net::{Addr, Side};
use farhand_model::tool::{Category, Match, Tool};
use farhand_model::{Finding, FindingKind, HomeNets, Micros};
use std::collections::HashMap;

/// Devices remembered (the least recently seen is forgotten first).
pub const MAX_DEVICES: usize = 4096;
/// Signs remembered per device.
pub const MAX_SIGNS: usize = 16;
/// Lowest score raising Medium.
pub const MEDIUM_FROM: u8 = 2;
/// Lowest score raising High.
pub const HIGH_FROM: u8 = 4;

/// What a sign says about a device (ordered from weakest to strongest kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignKind {
    /// A single-board computer's OUI (Raspberry Pi).
    SbcHardware,
    /// An OUI registered to a maker of IP-KVM devices (GL.iNet).
    MakerHardware,
    /// An IP-KVM vendor named in a field other than those below.
    VendorName,
    /// A session attributed to an IP-KVM by association.
    Session,
    /// A lookup of an IP-KVM vendor's cloud, relay or update name.
    CloudLookup,
    /// An IP-KVM's default TLS certificate.
    Certificate,
    /// The device's own name (DHCP, mDNS) is an IP-KVM product's.
    DeviceName,
}

/// One sign of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sign {
    /// What kind of sign.
    pub kind: SignKind,
    /// Its weight in the device's score.
    pub weight: u8,
    /// What was seen, for the message.
    pub text: String,
}

/// A sign's weight: the kind's, with a KVM maker's OUI on a device seen only forwarding
/// others' packets (`routed`: a router) weighing as little as a single-board computer's.
pub fn weight(kind: SignKind, routed: bool) -> u8 {
    match kind {
        SignKind::SbcHardware => 1,
        SignKind::MakerHardware if routed => 1,
        SignKind::MakerHardware | SignKind::VendorName => 2,
        SignKind::Session | SignKind::CloudLookup => 3,
        SignKind::Certificate | SignKind::DeviceName => 4,
    }
}

/// The severity of a device's score.
pub fn severity(score: u8) -> Severity {
    match score {
        s if s >= HIGH_FROM => Severity::High,
        s if s >= MEDIUM_FROM => Severity::Medium,
        _ => Severity::Low,
    }
}

/// Highest confidence of a device whose signs are not corroborated (see [`confidence`]).
pub const UNCORROBORATED_MAX: u8 = 75;

/// The confidence of a device's score: `min(95, 20 + 15 × score)`, at most
/// [`UNCORROBORATED_MAX`] unless two kinds of sign beyond the hardware address agree or the
/// device presented a KVM's certificate — one packet (a DHCP request naming a KVM, a lookup
/// from KVM-class hardware, which carries both signs in one frame) is never "high"
/// (docs/CONFIDENCE.md).
pub fn confidence(score: u8, kinds: &[SignKind]) -> u8 {
    let c = (20 + 15 * u16::from(score)).min(95) as u8;
    let beyond_hardware =
        kinds.iter().filter(|k| !matches!(k, SignKind::SbcHardware | SignKind::MakerHardware)).count();
    if beyond_hardware >= 2 || kinds.contains(&SignKind::Certificate) { c } else { c.min(UNCORROBORATED_MAX) }
}

/// Whether a finding is an IP-KVM sign (handled here, not as a session).
pub fn is_sign(f: &Finding) -> bool {
    match &f.kind {
        FindingKind::IpKvmSuspected(_) => true,
        FindingKind::RemoteControlSession(m) => m.tool == Tool::IpKvm,
        FindingKind::Sighting(_) => false,
    }
}

/// A device: its MAC when known, else its address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum DeviceKey {
    Mac(String),
    Addr(Addr),
}

impl std::fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceKey::Mac(m) => f.write_str(m),
            DeviceKey::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// What is kept per device.
#[derive(Debug, Clone)]
struct Device {
    first: Micros,
    last: Micros,
    addr: Option<Addr>,
    signs: Vec<Sign>,
    detectors: Vec<(&'static str, &'static str)>,
}

impl Device {
    fn score(&self) -> u8 {
        let mut best: HashMap<SignKind, u8> = HashMap::new();
        for s in &self.signs {
            let w = best.entry(s.kind).or_default();
            *w = (*w).max(s.weight);
        }
        best.values().fold(0u8, |a, w| a.saturating_add(*w))
    }

    /// The kinds of sign seen, each once.
    fn kinds(&self) -> Vec<SignKind> {
        let mut k: Vec<SignKind> = Vec::new();
        for s in &self.signs {
            if !k.contains(&s.kind) {
                k.push(s.kind);
            }
        }
        k
    }

    /// Adds a sign; whether it raised the score.
    fn add(&mut self, sign: Sign) -> bool {
        if self.signs.iter().any(|s| s.kind == sign.kind && s.text == sign.text) {
            return false;
        }
        let before = self.score();
        if self.signs.len() >= MAX_SIGNS {
            // Keep the strongest: drop the weakest sign if the new one outweighs it.
            let Some((i, weakest)) = self.signs.iter().enumerate().min_by_key(|(_, s)| s.weight) else { return false };
            if weakest.weight >= sign.weight {
                return false;
            }
            self.signs.remove(i);
        }
        self.signs.push(sign);
        self.score() > before
    }
}

/// What one finding says: the sign, the device's side of the flow, its MAC and address
/// when the finding shows them.
struct Seen {
    sign: Sign,
    side: Side,
    mac: Option<String>,
    addr: Option<Addr>,
}

/// The per-device accumulation of IP-KVM signs.
#[derive(Debug, Default)]
pub struct KvmDevices {
    devices: HashMap<DeviceKey, Device>,
    /// Addresses seen sent from a MAC (the device's own frames, not forwarded ones).
    macs_by_addr: HashMap<Addr, String>,
}

impl KvmDevices {
    /// Devices tracked.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// No device tracked.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Records the sign `f` shows and appends the device's alert (created, or updated when
    /// the sign raised its score) to `out`. Findings that are no sign ([`is_sign`]) are
    /// ignored.
    pub fn judge(&mut self, f: &Finding, home: &HomeNets, out: &mut Vec<Alert>) {
        let m = match &f.kind {
            FindingKind::IpKvmSuspected(m) => m,
            FindingKind::RemoteControlSession(m) if m.tool == Tool::IpKvm => m,
            FindingKind::RemoteControlSession(_) | FindingKind::Sighting(_) => return,
        };
        let seen = classify(f, m, home);
        let key = self.key_of(&seen);
        let now = f.flow.last_ts.max(f.ts);
        let (activity, raised) = match self.devices.get_mut(&key) {
            Some(d) => {
                d.first = d.first.min(f.flow.first_ts);
                d.last = d.last.max(now);
                if seen.addr.is_some() {
                    d.addr = seen.addr;
                }
                if !d.detectors.contains(&(f.detector, f.detector_version)) {
                    d.detectors.push((f.detector, f.detector_version));
                }
                (Activity::Update, d.add(seen.sign.clone()))
            }
            None => {
                self.make_room();
                let d = Device {
                    first: f.flow.first_ts,
                    last: now,
                    addr: seen.addr,
                    signs: vec![seen.sign.clone()],
                    detectors: vec![(f.detector, f.detector_version)],
                };
                self.devices.insert(key.clone(), d);
                (Activity::Create, true)
            }
        };
        if !raised {
            return;
        }
        if let Some(d) = self.devices.get(&key) {
            out.push(alert(f, m, &seen, &key, d, activity, home));
        }
    }

    /// The device a sign belongs to; learns which MAC an address belongs to and moves the
    /// signs kept under that address to the MAC's record.
    fn key_of(&mut self, seen: &Seen) -> DeviceKey {
        if let (Some(mac), Some(addr)) = (&seen.mac, seen.addr) {
            if self.macs_by_addr.len() >= MAX_DEVICES && !self.macs_by_addr.contains_key(&addr) {
                let tracked: Vec<String> = self
                    .devices
                    .keys()
                    .filter_map(|k| match k {
                        DeviceKey::Mac(m) => Some(m.clone()),
                        DeviceKey::Addr(_) => None,
                    })
                    .collect();
                self.macs_by_addr.retain(|_, m| tracked.contains(m));
            }
            if self.macs_by_addr.len() < MAX_DEVICES || self.macs_by_addr.contains_key(&addr) {
                self.macs_by_addr.insert(addr, mac.clone());
            }
            if let Some(old) = self.devices.remove(&DeviceKey::Addr(addr)) {
                let into = self.devices.entry(DeviceKey::Mac(mac.clone())).or_insert_with(|| Device {
                    first: old.first,
                    last: old.last,
                    addr: Some(addr),
                    signs: Vec::new(),
                    detectors: Vec::new(),
                });
                into.first = into.first.min(old.first);
                into.last = into.last.max(old.last);
                for s in old.signs {
                    into.add(s);
                }
                for d in old.detectors {
                    if !into.detectors.contains(&d) {
                        into.detectors.push(d);
                    }
                }
            }
        }
        match (&seen.mac, seen.addr) {
            (Some(mac), _) => DeviceKey::Mac(mac.clone()),
            (None, Some(addr)) => match self.macs_by_addr.get(&addr) {
                Some(mac) => DeviceKey::Mac(mac.clone()),
                None => DeviceKey::Addr(addr),
            },
            (None, None) => DeviceKey::Addr(Addr::v4([0; 4])),
        }
    }

    /// Forgets the least recently seen device when the table is full.
    fn make_room(&mut self) {
        if self.devices.len() < MAX_DEVICES {
            return;
        }
        let oldest = self.devices.iter().min_by_key(|(_, d)| d.last).map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.devices.remove(&k);
            if let DeviceKey::Mac(mac) = k {
                self.macs_by_addr.retain(|_, m| *m != mac);
            }
        }
    }
}

/// The MAC a DHCP host-name sign names: the name detector writes `name (client aa:bb:..)`.
fn client_mac(value: &str) -> Option<String> {
    let inner = value.rsplit_once("(client ")?.1.strip_suffix(')')?;
    let ok = inner.len() == 17
        && inner.split(':').count() == 6
        && inner.split(':').all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()));
    ok.then(|| inner.to_ascii_lowercase())
}

/// The sign a finding shows, and where the device is in its flow.
fn classify(f: &Finding, m: &Match, home: &HomeNets) -> Seen {
    let s = &f.flow;
    let init = s.initiator;
    let addr_of = |side: Side| Some(s.key.side(side).0).filter(|a| !a.ip().is_unspecified());
    match &m.evidence {
        Evidence::IpKvm(e) => {
            let kind = if e.hardware == HARDWARE_KVM_MAKER { SignKind::MakerHardware } else { SignKind::SbcHardware };
            let maker = if kind == SignKind::MakerHardware { ", a KVM maker's (also on its routers)" } else { "" };
            let text = if e.routed {
                format!("{} hardware address {}{maker}, seen forwarding others' packets", e.vendor, e.mac)
            } else {
                format!("{} hardware address {}{maker}", e.vendor, e.mac)
            };
            let sign = Sign { kind, weight: weight(kind, e.routed), text };
            // A forwarded frame carries another host's address: the device's own is unknown.
            let (side, addr) = if e.routed { (init.other(), None) } else { (init, addr_of(init)) };
            Seen { sign, side, mac: Some(e.mac.clone()), addr }
        }
        Evidence::Name(e) => {
            // A name the client sends (lookup, SNI, Host) is the device's when the client is
            // inside; an outside host reaching an inside server by a KVM name names the server.
            let inside = |side: Side| home.contains(&s.key.side(side).0);
            let client = if inside(init) || !inside(init.other()) { init } else { init.other() };
            let (kind, label, side) = match e.field {
                "dhcp_hostname" => (SignKind::DeviceName, "DHCP host name", init),
                f if f.starts_with("mdns") => (SignKind::DeviceName, "mDNS name", init),
                "tls_certificate" => (SignKind::Certificate, "TLS certificate name", init.other()),
                "dns_query" => (SignKind::CloudLookup, "DNS lookup of", client),
                "dns_answer" => (SignKind::CloudLookup, "connection to an address answered for", client),
                "tls_sni" => (SignKind::CloudLookup, "TLS server name", client),
                "quic_sni" => (SignKind::CloudLookup, "QUIC server name", client),
                "http_host" => (SignKind::CloudLookup, "HTTP host", client),
                other => (SignKind::VendorName, other, client),
            };
            let w = weight(kind, false);
            let text = format!("{label} {} ({} pattern {})", e.value, e.tool_title, e.pattern);
            let mac = if e.field == "dhcp_hostname" { client_mac(&e.value) } else { None };
            Seen { sign: Sign { kind, weight: w, text }, side, mac, addr: addr_of(side) }
        }
        _ => {
            // A session attributed to an IP-KVM: the device is the inside side.
            let inside = |side: Side| home.contains(&s.key.side(side).0);
            let side = if inside(init) || !inside(init.other()) { init } else { init.other() };
            let (peer, port) = s.key.side(side.other());
            let text = format!("{} session with {peer}:{port}", m.tool_title());
            let sign = Sign { kind: SignKind::Session, weight: weight(SignKind::Session, false), text };
            Seen { sign, side, mac: None, addr: addr_of(side) }
        }
    }
}

/// The device's alert after `f`'s sign.
fn alert(
    f: &Finding,
    m: &Match,
    seen: &Seen,
    key: &DeviceKey,
    d: &Device,
    activity: Activity,
    home: &HomeNets,
) -> Alert {
    let score = d.score();
    let mut a = super::flow_alert(f, m, seen.side, home);
    a.id = alert_id(&format!("ip-kvm-{key}"), 0, Tool::IpKvm);
    a.activity = activity;
    a.kind = AlertKind::IpKvmSuspected;
    a.severity = severity(score);
    a.time = f.flow.last_ts.max(f.ts);
    a.tool = Tool::IpKvm;
    a.tool_name = Tool::IpKvm.name().to_string();
    a.tool_title = Tool::IpKvm.title().to_string();
    a.category = Category::RemoteControl;
    a.confidence = confidence(score, &d.kinds());
    a.first_seen = d.first;
    a.last_seen = d.last;
    a.detectors = d.detectors.clone();
    a.message = message(key, d, score);
    // The session's timing figures stay when the sign is a session (WebRTC media).
    a
}

/// The message: the device, its signs with their weights, the score and what it means.
fn message(key: &DeviceKey, d: &Device, score: u8) -> String {
    let device = match (key, d.addr) {
        (DeviceKey::Mac(mac), Some(a)) => format!("{mac} at {a}"),
        _ => key.to_string(),
    };
    let mut signs: Vec<&Sign> = d.signs.iter().collect();
    signs.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.kind.cmp(&b.kind)));
    let list: Vec<String> = signs.iter().map(|s| format!("{} (weight {})", s.text, s.weight)).collect();
    let meaning = match severity(score) {
        Severity::High => {
            "Together they point at an IP-KVM (MITRE ATT&CK T1219.003, Remote Access Hardware): a \
             device that types, clicks and watches the screen of the computer it is plugged into \
             from afar, with no software on that computer. Find the device and what it is \
             plugged into."
        }
        Severity::Medium => {
            "A sign of IP-KVM-class hardware or of a KVM vendor, not yet specific to a KVM on \
             this segment (a KVM maker's OUI also sits on its routers; a vendor lookup may be \
             someone reading about it). A KVM host name, certificate or cloud lookup from the \
             same device would make it High."
        }
        _ => {
            "Hardware of this class alone is common on office networks (routers, sensors, \
             signage) and is recorded, not judged; a KVM host name, certificate or cloud lookup \
             from the same device would raise it."
        }
    };
    format!(
        "IP-KVM signs for device {device}: {} — score {score} ({} from {MEDIUM_FROM}, {} from {HIGH_FROM}). {meaning}",
        list.join("; "),
        Severity::Medium.caption(),
        Severity::High.caption(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use farhand_model::evidence::{HARDWARE_SBC, IpKvmEvidence, NameEvidence};
    use farhand_model::net::{FlowKey, proto};
    use farhand_model::tool::Method;
    use farhand_model::{EndReason, FlowSummary};

    const PI_MAC: &str = "dc:a6:32:12:34:56";

    fn home() -> HomeNets {
        HomeNets::new(vec!["10.0.0.0/8".parse().unwrap()])
    }

    fn flow(client: ([u8; 4], u16), server: ([u8; 4], u16), p: u8, at: Micros) -> FlowSummary {
        let (key, initiator) = FlowKey::new(Addr::v4(client.0), client.1, Addr::v4(server.0), server.1, p, 0);
        FlowSummary {
            key,
            initiator,
            first_ts: at,
            last_ts: at + 1_000,
            bytes: [300, 300],
            pkts: [1, 1],
            reason: EndReason::Idle,
            handshake: [0; 3],
        }
    }

    /// The OUI watch's finding for a frame from `mac` at `addr`.
    fn oui(mac: &str, hardware: &'static str, addr: [u8; 4], routed: bool, at: Micros) -> Finding {
        let vendor = if hardware == HARDWARE_SBC { "Raspberry Pi" } else { "GL.iNet" };
        let e = IpKvmEvidence { mac: mac.into(), vendor, hardware, routed };
        Finding {
            detector: "ip_kvm",
            detector_version: "1",
            ts: at,
            flow: flow((addr, 0), ([10, 0, 0, 1], 0), proto::ICMP, at),
            kind: FindingKind::IpKvmSuspected(Match {
                tool: Tool::IpKvm,
                confidence: 50,
                method: Method::Name,
                evidence: Evidence::IpKvm(e),
            }),
            via: None,
            behaviour: None,
        }
    }

    /// The name detector's finding: `field` = `value` on a flow from `client` to `server`.
    fn name(field: &'static str, value: &str, client: ([u8; 4], u16), server: ([u8; 4], u16), at: Micros) -> Finding {
        let e = NameEvidence {
            tool_name: "ip_kvm".into(),
            tool_title: "IP-KVM".into(),
            category: Category::RemoteControl,
            field,
            value: value.into(),
            pattern: "pikvm".into(),
            source: "builtin".into(),
            tls: None,
            answers: Vec::new(),
        };
        Finding {
            detector: "names",
            detector_version: "1",
            ts: at,
            flow: flow(client, server, proto::UDP, at),
            kind: FindingKind::RemoteControlSession(Match {
                tool: Tool::IpKvm,
                confidence: 70,
                method: Method::Name,
                evidence: Evidence::Name(Box::new(e)),
            }),
            via: None,
            behaviour: None,
        }
    }

    fn judge(k: &mut KvmDevices, f: &Finding) -> Vec<Alert> {
        let mut out = Vec::new();
        k.judge(f, &home(), &mut out);
        out
    }

    fn one(alerts: &[Alert]) -> (&str, Activity, Severity) {
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!(a.kind, AlertKind::IpKvmSuspected);
        (a.id.as_str(), a.activity, a.severity)
    }

    #[test]
    fn weights_and_severities() {
        assert_eq!(weight(SignKind::SbcHardware, false), 1);
        assert_eq!(weight(SignKind::MakerHardware, false), 2);
        assert_eq!(weight(SignKind::MakerHardware, true), 1);
        assert_eq!(weight(SignKind::CloudLookup, false), 3);
        assert_eq!(weight(SignKind::DeviceName, false), 4);
        assert_eq!(weight(SignKind::Certificate, false), 4);
        assert_eq!(
            [1, 2, 3, 4, 9].map(severity),
            [Severity::Low, Severity::Medium, Severity::Medium, Severity::High, Severity::High]
        );
        use SignKind::*;
        let two = [DeviceName, CloudLookup];
        assert_eq!([1, 2, 4, 6].map(|s| confidence(s, &two)), [35, 50, 80, 95]);
        // One kind beyond the hardware address (one DHCP request; one lookup from a Pi, whose
        // frame carries both signs): at most 75, whatever the score.
        assert_eq!(confidence(4, &[DeviceName]), UNCORROBORATED_MAX);
        assert_eq!(confidence(4, &[SbcHardware, CloudLookup]), UNCORROBORATED_MAX);
        assert_eq!(confidence(5, &[MakerHardware, CloudLookup]), UNCORROBORATED_MAX);
        assert_eq!(confidence(3, &[CloudLookup]), 65);
        // A certificate is the device's answer to a client: corroborated on its own.
        assert_eq!(confidence(4, &[Certificate]), 80);
    }

    #[test]
    fn a_raspberry_pi_alone_stays_low() {
        let mut k = KvmDevices::default();
        let a = judge(&mut k, &oui(PI_MAC, HARDWARE_SBC, [10, 0, 0, 50], false, 1_000_000));
        let (_, activity, sev) = one(&a);
        assert_eq!((activity, sev), (Activity::Create, Severity::Low));
        assert_eq!(a[0].endpoint.ip, Addr::v4([10, 0, 0, 50]));
        assert_eq!(a[0].confidence, 35);
        assert!(
            a[0].message.contains("Raspberry Pi hardware address dc:a6:32:12:34:56 (weight 1)"),
            "{}",
            a[0].message
        );
        assert!(a[0].message.contains("score 1"), "{}", a[0].message);
        // Seen again (another worker): nothing new, no alert.
        assert!(judge(&mut k, &oui(PI_MAC, HARDWARE_SBC, [10, 0, 0, 50], false, 2_000_000)).is_empty());
        // A Pi that routes (the segment's gateway): Low too, endpoint the inside host.
        let mut k = KvmDevices::default();
        let mut f = oui("b8:27:eb:26:7a:17", HARDWARE_SBC, [203, 0, 113, 7], true, 1_000_000);
        f.flow = flow(([203, 0, 113, 7], 2408), ([10, 0, 0, 84], 60_555), proto::UDP, 1_000_000);
        let a = judge(&mut k, &f);
        assert_eq!(one(&a).2, Severity::Low);
        assert_eq!(a[0].endpoint.ip, Addr::v4([10, 0, 0, 84]));
    }

    #[test]
    fn a_pi_named_pikvm_in_dhcp_turns_high_under_the_same_id() {
        let mut k = KvmDevices::default();
        let first = judge(&mut k, &oui(PI_MAC, HARDWARE_SBC, [10, 0, 0, 50], false, 5_000_000));
        let (id, _, sev) = one(&first);
        assert_eq!(sev, Severity::Low);
        let dhcp = name("dhcp_hostname", "pikvm (client dc:a6:32:12:34:56)", ([0; 4], 68), ([255; 4], 67), 1_000_000);
        let then = judge(&mut k, &dhcp);
        assert_eq!(one(&then), (id, Activity::Update, Severity::High));
        let msg = &then[0].message;
        assert!(msg.contains("DHCP host name pikvm (client dc:a6:32:12:34:56)"), "{msg}");
        assert!(msg.contains("(weight 4)") && msg.contains("(weight 1)") && msg.contains("score 5"), "{msg}");
        assert!(msg.contains("device dc:a6:32:12:34:56 at 10.0.0.50"), "{msg}");
        assert_eq!(then[0].first_seen, 1_000_000);
        assert_eq!(then[0].detectors, vec![("ip_kvm", "1"), ("names", "1")]);
        // The same name again: nothing.
        assert!(judge(&mut k, &dhcp).is_empty());
    }

    #[test]
    fn the_order_of_signs_does_not_change_the_id() {
        let dhcp = name("dhcp_hostname", "pikvm (client dc:a6:32:12:34:56)", ([0; 4], 68), ([255; 4], 67), 1_000_000);
        let pi = oui(PI_MAC, HARDWARE_SBC, [10, 0, 0, 50], false, 5_000_000);
        let mut k = KvmDevices::default();
        let a = judge(&mut k, &dhcp);
        assert_eq!((one(&a).1, one(&a).2), (Activity::Create, Severity::High));
        let b = judge(&mut k, &pi);
        assert_eq!(one(&b), (a[0].id.as_str(), Activity::Update, Severity::High));
        let mut k2 = KvmDevices::default();
        let c = judge(&mut k2, &pi);
        assert_eq!(c[0].id, a[0].id);
    }

    #[test]
    fn a_cloud_lookup_joins_the_hardware_by_address() {
        // A Pi's cloud lookup before its frames were attributed: kept under its address,
        // moved to its MAC when the MAC is learned; High once both are known.
        let mut k = KvmDevices::default();
        let lookup = name("dns_query", "api.jetkvm.com", ([10, 0, 0, 60], 40_000), ([10, 0, 0, 1], 53), 1_000_000);
        let a = judge(&mut k, &lookup);
        assert_eq!(one(&a).2, Severity::Medium);
        assert_eq!(a[0].endpoint.ip, Addr::v4([10, 0, 0, 60]), "the querier, not the resolver");
        let b = judge(&mut k, &oui("2c:cf:67:00:00:01", HARDWARE_SBC, [10, 0, 0, 60], false, 2_000_000));
        assert_eq!(one(&b).2, Severity::High);
        assert_eq!(k.len(), 1);
        assert!(b[0].message.contains("DNS lookup of api.jetkvm.com"), "{}", b[0].message);
        // Later lookups from that address belong to the MAC's record: a second cloud name adds
        // nothing to the score, so no alert.
        let again = name("dns_query", "app.jetkvm.com", ([10, 0, 0, 60], 40_001), ([10, 0, 0, 1], 53), 3_000_000);
        assert!(judge(&mut k, &again).is_empty());
        assert_eq!(k.len(), 1);
    }

    #[test]
    fn kvm_maker_oui_is_medium_and_a_router_with_it_low() {
        let mut k = KvmDevices::default();
        let a = judge(&mut k, &oui("94:83:c4:01:02:03", HARDWARE_KVM_MAKER, [10, 0, 0, 70], false, 1_000_000));
        assert_eq!(one(&a).2, Severity::Medium);
        // Its GLKVM cloud lookup: High.
        let cloud = name("tls_sni", "www.glkvm.com", ([10, 0, 0, 70], 40_000), ([203, 0, 113, 9], 443), 2_000_000);
        assert_eq!(one(&judge(&mut k, &cloud)).2, Severity::High);
        // A GL.iNet travel router forwarding traffic: Low.
        let mut k = KvmDevices::default();
        let a = judge(&mut k, &oui("94:83:c4:0a:0b:0c", HARDWARE_KVM_MAKER, [203, 0, 113, 5], true, 1_000_000));
        assert_eq!(one(&a).2, Severity::Low);
    }

    #[test]
    fn certificate_names_the_server() {
        let mut k = KvmDevices::default();
        let f = name("tls_certificate", "PiKVM", ([10, 0, 0, 5], 50_000), ([10, 0, 0, 80], 443), 1_000_000);
        let a = judge(&mut k, &f);
        assert_eq!(one(&a).2, Severity::High);
        assert_eq!(a[0].endpoint.ip, Addr::v4([10, 0, 0, 80]));
        assert_eq!(a[0].direction, farhand_model::Direction::Inbound);
    }

    #[test]
    fn client_mac_is_read_only_from_the_detector_format() {
        assert_eq!(client_mac("pikvm (client DC:A6:32:12:34:56)").as_deref(), Some("dc:a6:32:12:34:56"));
        assert_eq!(client_mac("pikvm"), None);
        assert_eq!(client_mac("pikvm (client dc:a6:32:12:34)"), None);
        assert_eq!(client_mac("pikvm (client zz:a6:32:12:34:56)"), None);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut k = KvmDevices::default();
        for i in 0..(MAX_DEVICES as u32 + 50) {
            let [_, x, y, z] = i.to_be_bytes();
            let mac = format!("dc:a6:32:{x:02x}:{y:02x}:{z:02x}");
            let f = oui(&mac, HARDWARE_SBC, [10, x, y, z], false, 1_000_000 + u64::from(i));
            assert_eq!(judge(&mut k, &f).len(), 1);
        }
        assert_eq!(k.len(), MAX_DEVICES);
        assert!(k.macs_by_addr.len() <= MAX_DEVICES);
        // The oldest were forgotten, the newest kept.
        assert!(!k.devices.contains_key(&DeviceKey::Mac("dc:a6:32:00:00:00".into())));
        let last = MAX_DEVICES as u32 + 49;
        let [_, x, y, z] = last.to_be_bytes();
        assert!(k.devices.contains_key(&DeviceKey::Mac(format!("dc:a6:32:{x:02x}:{y:02x}:{z:02x}"))));
        // Signs per device too.
        let mut d = Device { first: 0, last: 0, addr: None, signs: Vec::new(), detectors: Vec::new() };
        for i in 0..(MAX_SIGNS + 5) {
            d.add(Sign { kind: SignKind::CloudLookup, weight: 3, text: format!("n{i}") });
        }
        assert_eq!(d.signs.len(), MAX_SIGNS);
        assert!(d.add(Sign { kind: SignKind::DeviceName, weight: 4, text: "pikvm".into() }));
        assert_eq!(d.signs.len(), MAX_SIGNS);
        assert_eq!(d.score(), 7);
    }

    #[test]
    fn other_findings_are_not_signs() {
        let mut f = name("tls_sni", "x.anydesk.com", ([10, 0, 0, 5], 50_000), ([203, 0, 113, 9], 443), 1);
        if let FindingKind::RemoteControlSession(m) = &mut f.kind {
            m.tool = Tool::AnyDesk;
        }
        assert!(!is_sign(&f));
        let mut k = KvmDevices::default();
        assert!(judge(&mut k, &f).is_empty());
        assert!(k.is_empty());
    }
}
