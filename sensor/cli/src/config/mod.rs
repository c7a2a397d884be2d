//! Config: the TOML file, parsed raw and then validated into [`Settings`].
//!
//! # Contract
//! - [`RawConfig`] mirrors the file exactly; every section rejects unknown keys. Parsing
//!   does no I/O beyond reading the file and no lookups.
//! - [`RawConfig::validate`] turns it into [`Settings`], the runtime form the pipeline uses;
//!   [`RawConfig::validate_embedded`] does the same with the `[enrich]` databases given as
//!   bytes (the demo's, built into the binary: [`crate::demo`]).
//!   Each section's validated form lives beside the component it builds (`FlowConfig` in
//!   the engine's flow table, `FastPath` in the engine's pipeline, `VerdictConfig` and
//!   `RelayConfig` in the reporting crate), and its `build()` returns the component and its
//!   [`Health`](farhand_model::Health) (`health()` alone gives the health without building
//!   anything): config imports components, never the reverse.
//! - Every error is one [`ConfigError`] naming the file, the line and column, and the key or
//!   value at fault.
//! - `[policy]` and `sensor.location` are checked value by value (country codes against the
//!   physics box table, tool names against the built-in tools and the loaded indicators,
//!   stances, CIDRs, tenants, hours, workdays, the IANA time zone, latitude and longitude).
//! - `config/farhand.toml` in the repository documents every key with its default; the
//!   defaults here and there are the same (a test checks).

pub mod outputs;

use farhand_engine::detect::fingerprint::{Fingerprint, registry};
use farhand_engine::flow::FlowConfig;
use farhand_engine::indicators::Indicators;
use farhand_model::tool::Tool;
use farhand_model::{ConfigError, HomeNets};
use farhand_report::enrich::live::{EnrichConfig, Enrichment};
use farhand_report::physics::Location;
use farhand_report::policy::{self, BusinessHours, Policy, Stance, Tenant, Zone};
use farhand_report::relay_latency::RelayConfig;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

/// The config file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// `[sensor]`.
    pub sensor: SensorSection,
    /// `[capture]`.
    pub capture: CaptureSection,
    /// `[flow]`.
    pub flow: FlowSection,
    /// `[detect]`.
    pub detect: DetectSection,
    /// `[behaviour]`.
    pub behaviour: BehaviourSection,
    /// `[enrich]`.
    pub enrich: EnrichSection,
    /// `[output]`.
    pub output: OutputSection,
    /// `[policy]`.
    pub policy: PolicySection,
    /// `[store]`.
    pub store: outputs::StoreSection,
    /// `[report]`.
    pub report: outputs::ReportSection,
    /// `[metrics]`.
    pub metrics: outputs::MetricsSection,
}

/// `[sensor]`: identity, threads, what is inside.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorSection {
    /// Name reported as the observer (empty = the host name).
    pub name: String,
    /// Fast-path worker threads (0 = one per available core).
    pub workers: usize,
    /// CIDRs of the organisation's endpoints (the inside).
    pub home_networks: Vec<Spanned<String>>,
    /// Where the sensor is: `"lat,lon"` or a country code ("" = not set: no physics check).
    pub location: Spanned<String>,
}

impl Default for SensorSection {
    fn default() -> Self {
        SensorSection {
            name: String::new(),
            workers: 0,
            home_networks: DEFAULT_HOME.iter().map(|s| Spanned::new(0..0, (*s).to_string())).collect(),
            location: Spanned::new(0..0, String::new()),
        }
    }
}

/// The name of the name detector in `detect.fingerprints`.
pub const NAMES: &str = "names";
/// The name of the DNS-tunnel watch in `detect.fingerprints`.
pub const DNS_TUNNEL: &str = "dns_tunnel";
/// The name of the IP-KVM device watch in `detect.fingerprints`.
pub const IP_KVM: &str = "ip_kvm";

/// Default inside networks: RFC 1918, RFC 6598 shared space, IPv6 ULA.
pub const DEFAULT_HOME: &[&str] = &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"];

/// `[capture]`: live capture settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureSection {
    /// Bytes kept per frame on live capture.
    pub snaplen: u32,
    /// Promiscuous mode on live capture.
    pub promiscuous: bool,
    /// Kernel capture buffer, MiB.
    pub buffer_mib: u32,
    /// BPF filter applied to live and offline input ("" = none).
    pub filter: String,
    /// Live capture: "pcap" (libpcap, every packet) or "ebpf" (farhand's kernel program:
    /// the first packets of each flow and the sessions' packets).
    pub mode: String,
    /// What to do when the eBPF capture cannot start: "none" (fail) or "pcap".
    pub fallback: String,
    /// A kernel program file to load instead of the one built into farhand ("" = built in).
    pub ebpf_object: String,
}

/// `capture.mode` values.
pub const CAPTURE_MODES: &[&str] = &["pcap", "ebpf"];
/// `capture.fallback` values.
pub const CAPTURE_FALLBACKS: &[&str] = &["none", "pcap"];

impl Default for CaptureSection {
    fn default() -> Self {
        CaptureSection {
            snaplen: 65535,
            promiscuous: true,
            buffer_mib: 64,
            filter: String::new(),
            mode: "pcap".into(),
            fallback: "none".into(),
            ebpf_object: String::new(),
        }
    }
}

/// `[flow]`: table bound and timeouts (seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSection {
    /// Most flows held, over all workers.
    pub max_flows: usize,
    /// TCP idle timeout.
    pub tcp_idle_timeout: u64,
    /// UDP idle timeout.
    pub udp_idle_timeout: u64,
    /// Linger after a TCP close.
    pub tcp_close_linger: u64,
    /// Report long sessions after this long.
    pub active_timeout: u64,
}

impl Default for FlowSection {
    fn default() -> Self {
        let d = FlowConfig::default();
        FlowSection {
            max_flows: d.max_flows,
            tcp_idle_timeout: d.tcp_idle / 1_000_000,
            udp_idle_timeout: d.udp_idle / 1_000_000,
            tcp_close_linger: d.tcp_closed / 1_000_000,
            active_timeout: d.active / 1_000_000,
        }
    }
}

/// `[detect]`: which detectors run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectSection {
    /// Enabled fingerprints by name.
    pub fingerprints: Vec<Spanned<String>>,
    /// Directory of indicator files (`*.toml`) added to the built-in indicators ("" = none).
    pub indicators_dir: String,
}

impl Default for DetectSection {
    fn default() -> Self {
        DetectSection {
            fingerprints: registry()
                .iter()
                .map(|f| f.name())
                .chain([NAMES, DNS_TUNNEL, IP_KVM])
                .map(|n| Spanned::new(0..0, n.to_string()))
                .collect(),
            indicators_dir: String::new(),
        }
    }
}

/// `[behaviour]`: the relay-latency-gap judgement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BehaviourSection {
    /// Gap beyond the baseline (ms) that raises `relayed_remote_control`.
    pub gap_threshold_ms: f64,
    /// Far-leg application RTT samples needed before judging.
    pub min_samples: u64,
    /// Processing baseline of graphical tools (VNC, RDP, …), ms.
    pub baseline_ms: f64,
    /// Processing baseline of SSH, ms.
    pub baseline_ssh_ms: f64,
}

impl Default for BehaviourSection {
    fn default() -> Self {
        let d = RelayConfig::default();
        BehaviourSection {
            gap_threshold_ms: d.gap_threshold_ms,
            min_samples: d.min_samples,
            baseline_ms: d.baseline_ms,
            baseline_ssh_ms: d.baseline_ssh_ms,
        }
    }
}

/// `[enrich]`: the databases that give a peer address its country and owner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrichSection {
    /// Country sources: one path or a list: a country MaxMind DB, or
    /// `first_ip,last_ip,country_code` CSV files ("" or [] = none).
    pub country_db: Spanned<Paths>,
    /// ASN sources (one path or a list): one ASN MaxMind DB, or
    /// `first_ip,last_ip,asn,organisation` CSV files.
    pub asn_db: Spanned<Paths>,
    /// Seconds between checks for a changed database file (0 = never reloaded).
    pub reload_interval: u64,
}

impl Default for EnrichSection {
    fn default() -> Self {
        EnrichSection {
            country_db: Spanned::new(0..0, Paths::Many(Vec::new())),
            asn_db: Spanned::new(0..0, Paths::Many(Vec::new())),
            reload_interval: 60,
        }
    }
}

/// A key that takes one path (`"a.mmdb"`; `""` = none) or a list of paths
/// (`["v4.csv", "v6.csv"]`).
#[derive(Debug, Clone)]
pub enum Paths {
    /// A single string.
    One(String),
    /// An array of strings, each with its place in the file.
    Many(Vec<Spanned<String>>),
}

impl Paths {
    /// The paths, each with its place in the file (`span`: the place of the whole value,
    /// given to a single string); a single `""` is no path.
    pub fn spanned(&self, span: std::ops::Range<usize>) -> Vec<Spanned<String>> {
        match self {
            Paths::One(p) if p.is_empty() => Vec::new(),
            Paths::One(p) => vec![Spanned::new(span, p.clone())],
            Paths::Many(list) => list.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Paths {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PathsVisitor;
        impl<'de> serde::de::Visitor<'de> for PathsVisitor {
            type Value = Paths;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a path or an array of paths")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Paths, E> {
                Ok(Paths::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Paths, A::Error> {
                let mut list = Vec::new();
                while let Some(p) = seq.next_element::<Spanned<String>>()? {
                    list.push(p);
                }
                Ok(Paths::Many(list))
            }
        }
        d.deserialize_any(PathsVisitor)
    }
}

/// `[output]`: where alerts go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSection {
    /// JSON-lines alert file; "-" = standard output.
    pub alerts: String,
    /// Directory where network outputs queue what they have not delivered ("" = memory).
    pub spool_dir: Spanned<String>,
    /// The spool's bound, MiB (per output).
    pub spool_max_mib: u64,
    /// Seconds an offline run keeps trying to deliver at its end.
    pub drain_timeout: u64,
    /// `[[output.syslog]]`: syslog collectors.
    pub syslog: Vec<outputs::SyslogSection>,
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            alerts: "-".into(),
            spool_dir: Spanned::new(0..0, String::new()),
            spool_max_mib: outputs::DEFAULT_SPOOL_MIB,
            drain_timeout: outputs::DEFAULT_DRAIN_SECS,
            syslog: Vec::new(),
        }
    }
}

/// `[policy]`: what is normal for this deployment (see `farhand_report::policy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySection {
    /// ISO 3166-1 alpha-2 codes of the countries where peers are expected ([] = no country
    /// judgement).
    pub home_countries: Vec<Spanned<String>>,
    /// Stance on tools `tools` does not name.
    pub default_stance: Spanned<String>,
    /// `[policy.tools]`: tool name → stance.
    pub tools: BTreeMap<Spanned<String>, Spanned<String>>,
    /// CIDRs of peers that legitimately control endpoints.
    pub helpdesk_hosts: Vec<Spanned<String>>,
    /// The organisation's tenants on vendors' services (domains, IDs, realms).
    pub sanctioned_tenants: Vec<Spanned<String>>,
    /// CIDRs of inside hosts whose sessions are expected.
    pub allowlist: Vec<Spanned<String>>,
    /// `"HH:MM-HH:MM"`, local time.
    pub business_hours: Spanned<String>,
    /// Workdays (`mon` … `sun`).
    pub workdays: Vec<Spanned<String>>,
    /// IANA time zone of the deployment.
    pub timezone: Spanned<String>,
}

impl Default for PolicySection {
    fn default() -> Self {
        let s = |v: &str| Spanned::new(0..0, v.to_string());
        PolicySection {
            home_countries: Vec::new(),
            default_stance: s(Stance::Tolerated.name()),
            tools: BTreeMap::new(),
            helpdesk_hosts: Vec::new(),
            sanctioned_tenants: Vec::new(),
            allowlist: Vec::new(),
            business_hours: s(""),
            workdays: ["mon", "tue", "wed", "thu", "fri"].into_iter().map(s).collect(),
            timezone: s("UTC"),
        }
    }
}

/// The validated runtime configuration.
#[derive(Clone)]
pub struct Settings {
    /// Observer name.
    pub name: String,
    /// Worker threads (≥ 1).
    pub workers: usize,
    /// Inside networks.
    pub home: HomeNets,
    /// Live capture settings (filter also applies offline).
    pub capture: CaptureSection,
    /// Flow table settings for the whole sensor (split over workers by the pipeline).
    pub flow: FlowConfig,
    /// Enabled structural fingerprints.
    pub fingerprints: Vec<&'static dyn Fingerprint>,
    /// The name detector (TLS/QUIC/HTTP/DNS names and certificates against the indicators)
    /// is enabled.
    pub names: bool,
    /// The DNS-tunnel watch is enabled.
    pub dns_tunnel: bool,
    /// The IP-KVM device watch (Raspberry Pi source MACs) is enabled.
    pub ip_kvm: bool,
    /// Alert output path ("-" = stdout).
    pub alerts: String,
    /// Indicators: built-in plus `detect.indicators_dir`.
    pub indicators: Arc<Indicators>,
    /// Relay-gap judgement.
    pub relay: RelayConfig,
    /// The opened enrichment databases.
    pub enrich: Enrichment,
    /// The deployment's policy.
    pub policy: Arc<Policy>,
    /// Where the sensor is (`None`: no physics check).
    pub location: Option<Location>,
    /// The reporting plane's outputs: syslog, spool, store, scheduled reports, metrics.
    pub reporting: outputs::Reporting,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("name", &self.name)
            .field("workers", &self.workers)
            .field("home", &self.home)
            .field("flow", &self.flow)
            .field("fingerprints", &self.fingerprints.iter().map(|f| f.name()).collect::<Vec<_>>())
            .field("names", &self.names)
            .field("alerts", &self.alerts)
            .field("indicators", &self.indicators.counts())
            .field("enrich", self.enrich.config())
            .field("policy", &self.policy)
            .field("location", &self.location)
            .finish()
    }
}

impl RawConfig {
    /// Parses config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<RawConfig, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ConfigError { file: path.to_path_buf(), line, col, msg: e.message().trim().replace('\n', " ") }
        })
    }

    /// Checks values and builds the runtime settings. `text` is the file's content (for
    /// line numbers); `path` names it.
    pub fn validate(&self, text: &str, path: &Path) -> Result<Settings, ConfigError> {
        self.validate_embedded(text, path, &[])
    }

    /// Like [`RawConfig::validate`], with the `[enrich]` databases taken from `databases`
    /// (e.g. the demo's, built into the binary) instead of files: each entry is a path as the
    /// config writes it in `country_db` or `asn_db`, and that file's bytes. When `databases`
    /// is not empty, every database the config names must be one of them (an error at its
    /// value otherwise: no database is read from disk); the databases are checked as files
    /// are, named by their path resolved against `path`, and never reloaded. Empty: exactly
    /// [`RawConfig::validate`].
    pub fn validate_embedded(
        &self,
        text: &str,
        path: &Path,
        databases: &[(&str, &[u8])],
    ) -> Result<Settings, ConfigError> {
        let at = Located { path, text };
        let home = self.home_networks(&at)?;
        let (fingerprints, [names, dns_tunnel, ip_kvm]) = self.fingerprints(&at)?;
        let flow = self.flow_config(&at)?;
        if self.capture.snaplen < 64 || self.capture.snaplen > 262_144 {
            return Err(
                at.key("snaplen", format!("capture.snaplen: {} is out of range (64..=262144)", self.capture.snaplen))
            );
        }
        if !CAPTURE_MODES.contains(&self.capture.mode.as_str()) {
            return Err(at.key(
                "mode",
                format!("capture.mode: {:?} is not one of {}", self.capture.mode, CAPTURE_MODES.join(", ")),
            ));
        }
        if !CAPTURE_FALLBACKS.contains(&self.capture.fallback.as_str()) {
            return Err(at.key(
                "fallback",
                format!("capture.fallback: {:?} is not one of {}", self.capture.fallback, CAPTURE_FALLBACKS.join(", ")),
            ));
        }
        let relay = self.relay_config(&at)?;
        let workers = if self.sensor.workers == 0 { default_workers() } else { self.sensor.workers.min(256) };
        let indicators = if self.detect.indicators_dir.is_empty() {
            Indicators::builtin()
        } else {
            let dir = Path::new(&self.detect.indicators_dir);
            // A relative directory is relative to the config file.
            let dir =
                if dir.is_relative() { path.parent().unwrap_or(Path::new(".")).join(dir) } else { dir.to_path_buf() };
            Indicators::load_dir(&dir)?
        };
        let enrich = self.enrich(&at, databases)?;
        let policy = self.policy(&at, &indicators)?;
        let location = self.location(&at)?;
        let reporting = outputs::validate(&self.output, &self.store, &self.report, &self.metrics, &at)?;
        Ok(Settings {
            name: self.sensor.name.clone(),
            workers,
            home,
            capture: self.capture.clone(),
            flow,
            fingerprints,
            names,
            dns_tunnel,
            ip_kvm,
            alerts: self.output.alerts.clone(),
            indicators: Arc::new(indicators),
            relay,
            enrich,
            policy: Arc::new(policy),
            location,
            reporting,
        })
    }

    /// `[enrich]`: the databases, opened now (a file that cannot be used is an error at its
    /// key); relative paths are relative to the config file. With `databases`, from them
    /// (see [`RawConfig::validate_embedded`]).
    fn enrich(&self, at: &Located<'_>, databases: &[(&str, &[u8])]) -> Result<Enrichment, ConfigError> {
        let e = &self.enrich;
        if e.reload_interval > 86_400 {
            return Err(at.key(
                "reload_interval",
                format!("enrich.reload_interval: {} is out of range (0..=86400 seconds)", e.reload_interval),
            ));
        }
        let resolve = |p: &str| {
            let p = Path::new(p);
            if p.is_relative() { at.path.parent().unwrap_or(Path::new(".")).join(p) } else { p.to_path_buf() }
        };
        let country_db = e.country_db.get_ref().spanned(e.country_db.span());
        if let Some(s) = country_db.iter().find(|s| s.get_ref().is_empty()) {
            return Err(
                at.span(s.span(), "enrich.country_db: an empty path (country_db = [] for no country database)".into())
            );
        }
        let asn_db = e.asn_db.get_ref().spanned(e.asn_db.span());
        if let Some(s) = asn_db.iter().find(|s| s.get_ref().is_empty()) {
            return Err(at.span(s.span(), "enrich.asn_db: an empty path (asn_db = [] for no ASN database)".into()));
        }
        if !databases.is_empty() {
            return self.enrich_embedded(at, databases);
        }
        let cfg = EnrichConfig {
            country_db: country_db.iter().map(|p| resolve(p.get_ref())).collect(),
            asn_db: asn_db.iter().map(|p| resolve(p.get_ref())).collect(),
            reload_every: (e.reload_interval > 0).then(|| std::time::Duration::from_secs(e.reload_interval)),
        };
        cfg.open().map_err(|err| {
            // Point at the key whose file failed.
            let failed = |s: &Spanned<String>| err.to_string().starts_with(&resolve(s.get_ref()).display().to_string());
            let span = country_db.iter().chain(&asn_db).find(|s| failed(s)).map(|s| s.span());
            let msg = format!("enrich: {err}");
            match span {
                Some(sp) => at.span(sp, msg),
                None => at.key("asn_db", msg),
            }
        })
    }

    /// `[enrich]` from databases given as bytes (see [`RawConfig::validate_embedded`]).
    fn enrich_embedded(&self, at: &Located<'_>, databases: &[(&str, &[u8])]) -> Result<Enrichment, ConfigError> {
        let e = &self.enrich;
        let dir = at.path.parent().unwrap_or(Path::new("."));
        // (key, value as written, its name resolved against the config, its bytes)
        let mut named = Vec::new();
        let country_db = e.country_db.get_ref().spanned(e.country_db.span());
        let asn_db = e.asn_db.get_ref().spanned(e.asn_db.span());
        for (key, s) in country_db.iter().map(|s| ("country_db", s)).chain(asn_db.iter().map(|s| ("asn_db", s))) {
            let Some((_, bytes)) = databases.iter().find(|(name, _)| *name == s.get_ref().as_str()) else {
                let names: Vec<&str> = databases.iter().map(|(n, _)| *n).collect();
                let msg = format!(
                    "enrich.{key}: {:?} is not a database built into farhand (built in: {})",
                    s.get_ref(),
                    names.join(", ")
                );
                return Err(at.span(s.span(), msg));
            };
            named.push((key, s, dir.join(s.get_ref()), bytes.to_vec()));
        }
        let failed_at = |err: &farhand_report::enrich::error::EnrichError| {
            let msg = format!("enrich: {err} (built in)");
            match named.iter().find(|(_, _, p, _)| err.to_string().starts_with(&p.display().to_string())) {
                Some((_, s, _, _)) => at.span(s.span(), msg),
                None => at.key("asn_db", msg),
            }
        };
        let mut country = None;
        let mut asn = Vec::new();
        for (key, _, path, bytes) in &named {
            if *key == "country_db" {
                country = Some((path.as_path(), bytes.clone()));
            } else {
                asn.push((path.as_path(), bytes.clone()));
            }
        }
        Enrichment::from_memory(country, asn).map_err(|err| failed_at(&err))
    }

    /// `sensor.location`: `"lat,lon"` or a country code; "" = none.
    fn location(&self, at: &Located<'_>) -> Result<Option<Location>, ConfigError> {
        let v = &self.sensor.location;
        if v.get_ref().trim().is_empty() {
            return Ok(None);
        }
        Location::parse(v.get_ref())
            .map(Some)
            .map_err(|e| at.span(v.span(), format!("sensor.location: {e} (like \"52.52,13.40\" or \"DE\")")))
    }

    /// `[policy]`: every value checked, each error at its value.
    fn policy(&self, at: &Located<'_>, indicators: &Indicators) -> Result<Policy, ConfigError> {
        let p = &self.policy;
        let one = |key: &str, v: &Spanned<String>, e: String| at.span(v.span(), format!("policy.{key}: {e}"));
        let home = p
            .home_countries
            .iter()
            .map(|v| policy::parse_country(v.get_ref()).map_err(|e| one("home_countries", v, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let default_stance =
            Stance::parse(p.default_stance.get_ref()).map_err(|e| one("default_stance", &p.default_stance, e))?;
        let nets = |key: &str, list: &[Spanned<String>]| {
            list.iter()
                .map(|v| policy::parse_net(v.get_ref()).map_err(|e| one(key, v, e)))
                .collect::<Result<Vec<IpNet>, _>>()
        };
        let helpdesk = nets("helpdesk_hosts", &p.helpdesk_hosts)?;
        let allowlist = nets("allowlist", &p.allowlist)?;
        let tenants = p
            .sanctioned_tenants
            .iter()
            .map(|v| Tenant::parse(v.get_ref()).map_err(|e| one("sanctioned_tenants", v, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let workdays = p
            .workdays
            .iter()
            .map(|v| policy::parse_weekday(v.get_ref()).map_err(|e| one("workdays", v, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let hours = match p.business_hours.get_ref().as_str() {
            "" => None,
            h => Some(BusinessHours::parse(h, &workdays).map_err(|e| one("business_hours", &p.business_hours, e))?),
        };
        let zone = Zone::named(p.timezone.get_ref()).map_err(|e| one("timezone", &p.timezone, e))?;
        let mut policy = Policy::default()
            .with_home_countries(home)
            .with_default_stance(default_stance)
            .with_helpdesk_hosts(helpdesk)
            .with_allowlist(allowlist)
            .with_sanctioned_tenants(tenants);
        policy = match hours {
            Some(h) => policy.with_hours(h, zone),
            None => policy.with_zone(zone),
        };
        for (tool, stance) in &p.tools {
            let name = tool.get_ref();
            let known = Tool::ALL.iter().any(|t| *t != Tool::Listed && t.name() == name) || indicators.lists_tool(name);
            if !known {
                return Err(at.span(
                    tool.span(),
                    format!(
                        "policy.tools: unknown tool {name:?} (a tool's name as alerts print it: {}, or one an indicator file lists)",
                        Tool::ALL.iter().filter(|t| **t != Tool::Listed).map(|t| t.name()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            let stance = Stance::parse(stance.get_ref())
                .map_err(|e| at.span(stance.span(), format!("policy.tools.{name}: {e}")))?;
            policy = policy.with_tool(name, stance);
        }
        Ok(policy)
    }

    /// `sensor.home_networks`: CIDRs (or single addresses).
    fn home_networks(&self, at: &Located<'_>) -> Result<HomeNets, ConfigError> {
        let mut nets = Vec::new();
        for s in &self.sensor.home_networks {
            let v = s.get_ref();
            let net: IpNet = v.parse().or_else(|_| v.parse::<std::net::IpAddr>().map(IpNet::from)).map_err(|_| {
                at.span(s.span(), format!("sensor.home_networks: {v:?} is not a CIDR (like 10.0.0.0/8)"))
            })?;
            nets.push(net);
        }
        Ok(HomeNets::new(nets))
    }

    /// `detect.fingerprints`: the structural fingerprints by name, and whether the name
    /// detector, the DNS-tunnel watch and the IP-KVM watch are on.
    fn fingerprints(&self, at: &Located<'_>) -> Result<(Vec<&'static dyn Fingerprint>, [bool; 3]), ConfigError> {
        let all = registry();
        let mut fps = Vec::new();
        let (mut names, mut dns_tunnel, mut ip_kvm) = (false, false, false);
        for s in &self.detect.fingerprints {
            let name = s.get_ref();
            if name == NAMES || name == DNS_TUNNEL || name == IP_KVM {
                names |= name == NAMES;
                dns_tunnel |= name == DNS_TUNNEL;
                ip_kvm |= name == IP_KVM;
                continue;
            }
            let f = all.iter().find(|f| f.name() == name).ok_or_else(|| {
                let known: Vec<_> = all.iter().map(|f| f.name()).chain([NAMES, DNS_TUNNEL, IP_KVM]).collect();
                at.span(
                    s.span(),
                    format!("detect.fingerprints: unknown fingerprint {name:?} (known: {})", known.join(", ")),
                )
            })?;
            if !fps.iter().any(|g: &&dyn Fingerprint| g.name() == f.name()) {
                fps.push(*f);
            }
        }
        Ok((fps, [names, dns_tunnel, ip_kvm]))
    }

    /// `[flow]`: timeouts in seconds (1 s to a week) and the table limit.
    fn flow_config(&self, at: &Located<'_>) -> Result<FlowConfig, ConfigError> {
        let secs = |key: &str, v: u64| {
            if v == 0 || v > 7 * 86400 {
                Err(at.key(key, format!("flow.{key}: {v} is out of range (1..=604800 seconds)")))
            } else {
                Ok(v * 1_000_000)
            }
        };
        let flow = FlowConfig {
            max_flows: self.flow.max_flows,
            tcp_idle: secs("tcp_idle_timeout", self.flow.tcp_idle_timeout)?,
            udp_idle: secs("udp_idle_timeout", self.flow.udp_idle_timeout)?,
            tcp_closed: secs("tcp_close_linger", self.flow.tcp_close_linger)?,
            active: secs("active_timeout", self.flow.active_timeout)?,
        };
        if flow.max_flows < 1024 {
            return Err(at.key("max_flows", format!("flow.max_flows: {} is too small (at least 1024)", flow.max_flows)));
        }
        Ok(flow)
    }

    /// `[behaviour]`: the relay-gap judgement's thresholds.
    fn relay_config(&self, at: &Located<'_>) -> Result<RelayConfig, ConfigError> {
        let b = &self.behaviour;
        for (key, v, max) in [
            ("gap_threshold_ms", b.gap_threshold_ms, 10_000.0),
            ("baseline_ms", b.baseline_ms, 1_000.0),
            ("baseline_ssh_ms", b.baseline_ssh_ms, 1_000.0),
        ] {
            if !(0.0..=max).contains(&v) {
                return Err(at.key(key, format!("behaviour.{key}: {v} is out of range (0..={max} ms)")));
            }
        }
        if !(1..=10_000).contains(&b.min_samples) {
            return Err(
                at.key("min_samples", format!("behaviour.min_samples: {} is out of range (1..=10000)", b.min_samples))
            );
        }
        Ok(RelayConfig {
            gap_threshold_ms: b.gap_threshold_ms,
            min_samples: b.min_samples,
            baseline_ms: b.baseline_ms,
            baseline_ssh_ms: b.baseline_ssh_ms,
        })
    }
}

/// Where a validation error points: the config file and its text.
struct Located<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Located<'_> {
    /// An error at a value's span (line 0 when the span is empty at the start: defaults).
    fn span(&self, span: std::ops::Range<usize>, msg: String) -> ConfigError {
        let (line, col) = if span.is_empty() && span.start == 0 { (0, 0) } else { line_col(self.text, span.start) };
        ConfigError { file: self.path.to_path_buf(), line, col, msg }
    }

    /// An error at the line where `key` is set.
    fn key(&self, key: &str, msg: String) -> ConfigError {
        ConfigError { file: self.path.to_path_buf(), line: find_key_line(self.text, key), col: 1, msg }
    }
}

/// Worker threads when not configured: the cores this process may run on.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

impl Settings {
    /// Built-in defaults (what an empty config file gives).
    pub fn defaults() -> Settings {
        // The defaults are valid by construction; fall back to a minimal form regardless.
        RawConfig::default().validate("", Path::new("<defaults>")).unwrap_or_else(|_| Settings {
            name: String::new(),
            workers: 1,
            home: HomeNets::default(),
            capture: CaptureSection::default(),
            flow: FlowConfig::default(),
            fingerprints: registry(),
            names: true,
            dns_tunnel: true,
            ip_kvm: true,
            alerts: "-".into(),
            indicators: Arc::new(Indicators::builtin()),
            relay: RelayConfig::default(),
            enrich: Enrichment::none(),
            policy: Arc::new(Policy::default()),
            location: None,
            reporting: outputs::Reporting::default(),
        })
    }

    /// Loads and validates a config file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            col: 0,
            msg: format!("cannot read: {e}"),
        })?;
        RawConfig::parse(&text, path)?.validate(&text, path)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

fn find_key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use farhand_model::Addr;
    use farhand_report::physics::Location;

    fn check(text: &str) -> Result<Settings, ConfigError> {
        let p = Path::new("t.toml");
        RawConfig::parse(text, p)?.validate(text, p)
    }

    #[test]
    fn empty_is_defaults() {
        let s = check("").unwrap();
        assert_eq!(s.flow, FlowConfig::default());
        assert_eq!(s.fingerprints.len(), registry().len());
        assert!(s.home.contains(&Addr::v4([10, 1, 2, 3])));
        assert!(!s.home.contains(&Addr::v4([203, 0, 113, 1])));
    }

    #[test]
    fn shipped_default_file_matches_builtin_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/farhand.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let s = RawConfig::parse(&text, &path).unwrap().validate(&text, &path).unwrap();
        let d = Settings::defaults();
        assert_eq!(s.flow, d.flow);
        assert_eq!(s.alerts, d.alerts);
        assert_eq!(s.capture.snaplen, d.capture.snaplen);
        assert_eq!(format!("{:?}", s.home), format!("{:?}", d.home));
        assert_eq!(s.fingerprints.len(), d.fingerprints.len());
        assert_eq!((s.names, s.dns_tunnel, s.ip_kvm), (d.names, d.dns_tunnel, d.ip_kvm));
        assert_eq!(s.enrich.config(), d.enrich.config());
        assert_eq!(s.policy, d.policy);
        assert_eq!(*s.policy, Policy::default());
        assert_eq!(s.location, d.location);
        assert_eq!(s.location, None);
        assert_eq!(format!("{:?}", s.reporting), format!("{:?}", d.reporting));
        assert_eq!(format!("{:?}", s.reporting), format!("{:?}", outputs::Reporting::default()));
    }

    const POLICY: &str = r#"[sensor]
location = "52.52,13.40"
[policy]
home_countries = ["DE", "at"]
default_stance = "forbidden"
helpdesk_hosts = ["198.51.100.0/24", "2001:db8:1::/48"]
sanctioned_tenants = ["acme.screenconnect.com", "123 456 789"]
allowlist = ["10.9.0.7"]
business_hours = "07:30-19:00"
workdays = ["mon", "tue", "wed", "thu", "fri", "sat"]
timezone = "Europe/Berlin"
[policy.tools]
anydesk = "forbidden"
teamviewer = "sanctioned"
ssh = "tolerated"
"#;

    #[test]
    fn policy_and_location() {
        let s = check(POLICY).unwrap();
        let p = &s.policy;
        assert_eq!(p.home_countries().collect::<Vec<_>>(), ["AT", "DE"]);
        assert!(p.is_home_country("de") && !p.is_home_country("US"));
        assert_eq!(p.stance("anydesk"), Stance::Forbidden);
        assert_eq!(p.stance("teamviewer"), Stance::Sanctioned);
        assert_eq!(p.stance("ssh"), Stance::Tolerated);
        assert_eq!(p.stance("rustdesk"), Stance::Forbidden);
        assert!(p.is_helpdesk(Addr::v4([198, 51, 100, 1])));
        assert!(p.is_allowlisted(Addr::v4([10, 9, 0, 7])) && !p.is_allowlisted(Addr::v4([10, 9, 0, 6])));
        assert_eq!(p.sanctioned_tenant(["relay.acme.screenconnect.com"]), Some("acme.screenconnect.com"));
        assert_eq!(p.sanctioned_tenant(["123456789"]), Some("123 456 789"));
        assert_eq!(p.zone().name(), "Europe/Berlin");
        // 2026-03-07 (a Saturday) 06:45 UTC = 07:45 CET: a workday here, inside.
        let h = p.in_business_hours(1_772_865_900_000_000).unwrap();
        assert_eq!(h.local.to_string(), "07:45 Saturday in Europe/Berlin");
        assert!(h.within);
        assert_eq!(s.location, Some(Location::Point { lat: 52.52, lon: 13.40 }));
        // The verdict gets both, and says so; the policy line names them.
        let v = s.verdict();
        assert_eq!(v.location, s.location);
        assert!(Arc::ptr_eq(&v.policy, &s.policy));
        let h = v.health().to_string();
        assert!(h.contains("abroad: outside AT,DE; physics check: from 52.52,13.40"), "{h}");
        let line = s.health().iter().find(|h| h.component == "policy").unwrap().to_string();
        assert!(line.starts_with("policy: ready: home countries AT,DE; default stance forbidden"), "{line}");
        assert!(line.contains("sanctioned: teamviewer"), "{line}");
        assert!(line.contains("business hours 07:30-19:00 mon-sat in Europe/Berlin"), "{line}");
        assert!(line.contains("sensor location 52.52,13.40"), "{line}");
        // A country as the location; the defaults say no judgement and no physics check.
        let s = check("[sensor]\nlocation = \"de\"\n").unwrap();
        assert_eq!(s.location, Some(Location::Country("DE".into())));
        let h = check("").unwrap().verdict().health().to_string();
        assert!(h.contains("abroad: not judged (no home countries); physics check: off (no sensor location)"), "{h}");
    }

    #[test]
    fn policy_tools_from_indicator_files_are_known() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("extra.toml"),
            "[[tool]]\nname = \"acme_rmm\"\ncategory = \"remote_control\"\ndomains = [\"acme-rmm.example\"]\n",
        )
        .unwrap();
        let text = format!(
            "[detect]\nindicators_dir = {:?}\n[policy.tools]\nacme_rmm = \"forbidden\"\n",
            dir.path().display().to_string()
        );
        let s = check(&text).unwrap();
        assert_eq!(s.policy.stance("acme_rmm"), Stance::Forbidden);
        // Without the file the name is unknown.
        let e = check("[policy.tools]\nacme_rmm = \"forbidden\"\n").unwrap_err();
        assert!(e.to_string().contains("unknown tool \"acme_rmm\""), "{e}");
    }

    /// Each bad `[policy]` or `sensor.location` value: the error is one line naming the file,
    /// the line and column of the value, the key, and the value.
    #[test]
    fn policy_errors_name_the_key_and_value() {
        let cases: &[(&str, (usize, usize), &[&str])] = &[
            (
                "[policy]\nhome_countries = [\"DE\", \"ZZ\"]\n",
                (2, 25),
                &["policy.home_countries", "unknown country code \"ZZ\""],
            ),
            ("[policy]\nhome_countries = [\"GER\"]\n", (2, 19), &["policy.home_countries", "\"GER\""]),
            (
                "[policy]\ntimezone = \"Europe/Atlantis\"\n",
                (2, 12),
                &["policy.timezone", "unknown time zone \"Europe/Atlantis\""],
            ),
            ("[policy]\nbusiness_hours = \"8-18\"\n", (2, 18), &["policy.business_hours", "\"8-18\""]),
            ("[policy]\nbusiness_hours = \"09:00-09:00\"\n", (2, 18), &["policy.business_hours", "empty"]),
            (
                "[policy]\nworkdays = [\"mon\", \"funday\"]\n",
                (2, 20),
                &["policy.workdays", "unknown weekday \"funday\""],
            ),
            (
                "[policy]\nhelpdesk_hosts = [\"198.51.100.0/33\"]\n",
                (2, 19),
                &["policy.helpdesk_hosts", "198.51.100.0/33"],
            ),
            ("[policy]\nallowlist = [\"10.0.0.0/8\", \"ten\"]\n", (2, 28), &["policy.allowlist", "\"ten\""]),
            ("[policy]\nsanctioned_tenants = [\"acme..com\"]\n", (2, 23), &["policy.sanctioned_tenants", "acme..com"]),
            (
                "[policy]\ndefault_stance = \"banned\"\n",
                (2, 18),
                &["policy.default_stance", "unknown stance \"banned\""],
            ),
            (
                "[policy.tools]\nanydesk = \"allowed\"\n",
                (2, 11),
                &["policy.tools.anydesk", "unknown stance \"allowed\""],
            ),
            (
                "[policy.tools]\nanydesk = \"forbidden\"\nanydsk = \"forbidden\"\n",
                (3, 1),
                &["policy.tools", "unknown tool \"anydsk\""],
            ),
            ("[policy.tools]\nlisted = \"forbidden\"\n", (2, 1), &["policy.tools", "unknown tool \"listed\""]),
            ("[sensor]\nlocation = \"91.0,13.4\"\n", (2, 12), &["sensor.location", "latitude 91 is out of range"]),
            ("[sensor]\nlocation = \"52.5,181\"\n", (2, 12), &["sensor.location", "longitude 181 is out of range"]),
            ("[sensor]\nlocation = \"XX\"\n", (2, 12), &["sensor.location", "\"XX\""]),
            ("[policy]\nhome_country = [\"DE\"]\n", (2, 1), &["home_country"]),
            ("[policy]\ntimezone = 1\n", (2, 12), &["string"]),
            ("[capture]\nmode = \"epbf\"\n", (2, 1), &["capture.mode", "\"epbf\" is not one of pcap, ebpf"]),
            ("[capture]\nfallback = \"libpcap\"\n", (2, 1), &["capture.fallback", "not one of none, pcap"]),
        ];
        for (text, (line, col), needles) in cases {
            let e = check(text).unwrap_err();
            assert_eq!((e.line, e.col), (*line, *col), "{text}: {e}");
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("t.toml:{line}:{col}: ")), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
            for n in *needles {
                assert!(msg.contains(n), "{text}: {msg} lacks {n}");
            }
        }
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = check("[sensor]\nname = \"gw1\"\nworkres = 4\n").unwrap_err();
        assert_eq!((e.line, e.col), (3, 1));
        let msg = e.to_string();
        assert!(msg.starts_with("t.toml:3:1: "), "{msg}");
        assert!(msg.contains("workres"), "{msg}");
        let e = check("[sensr]\n").unwrap_err();
        assert!(e.to_string().contains("sensr"), "{e}");
        assert_eq!(e.line, 1);
    }

    #[test]
    fn bad_values_are_located() {
        let e = check("[sensor]\nhome_networks = [\"10.0.0.0/8\",\n  \"10.300.0.0/16\"]\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().contains("10.300.0.0/16"));
        let e = check("[detect]\nfingerprints = [\"ssh\", \"teamviewr\"]\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("teamviewr"));
        let e = check("[flow]\nudp_idle_timeout = 0\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = check("[sensor]\nworkers = \"four\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = check("[detect]\nindicators_dir = \"/nonexistent/indicators\"\n").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/indicators"), "{e}");
        let e = check("not toml at all [").unwrap_err();
        assert_eq!(e.line, 1);
    }

    /// Databases given as bytes stand in for the files `[enrich]` names, and only those.
    #[test]
    fn embedded_databases_replace_the_enrich_files() {
        let p = Path::new("/nowhere/demo.toml");
        let dbs: &[(&str, &[u8])] = &[("country.mmdb", crate::demo::COUNTRY_DB), ("asn.mmdb", crate::demo::ASN_DB)];
        let run =
            |text: &str, dbs: &[(&str, &[u8])]| RawConfig::parse(text, p).unwrap().validate_embedded(text, p, dbs);
        let s = run("[enrich]\ncountry_db = \"country.mmdb\"\nasn_db = [\"asn.mmdb\"]\n", dbs).unwrap();
        let info = s.enrich.lookup("157.90.1.2".parse().unwrap());
        assert_eq!((info.country.as_deref(), info.asn), (Some("DE"), Some(24940)));
        assert_eq!(s.enrich.config().asn_db, [Path::new("/nowhere/asn.mmdb")]);
        // A database the config names that is not given: an error at its value, nothing read.
        let e = run("[enrich]\ncountry_db = \"country.mmdb\"\nasn_db = [\"asn.csv\"]\n", dbs).unwrap_err();
        assert_eq!((e.line, e.col), (3, 11), "{e}");
        assert!(
            e.to_string().contains(
                "enrich.asn_db: \"asn.csv\" is not a database built into farhand (built in: country.mmdb, asn.mmdb)"
            ),
            "{e}"
        );
        // Bytes that are no database (text: read as a country CSV): the file's error, at its key.
        let bad: &[(&str, &[u8])] = &[("country.mmdb", b"junk"), ("asn.mmdb", crate::demo::ASN_DB)];
        let e = run("[enrich]\nasn_db = [\"asn.mmdb\"]\ncountry_db = \"country.mmdb\"\n", bad).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().contains("/nowhere/country.mmdb line 1: 1 fields, expected 3"), "{e}");
        // No databases configured: none opened.
        assert!(run("", dbs).unwrap().enrich.config().is_empty());
    }

    #[test]
    fn enrich_databases_are_opened_and_bad_ones_named_at_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("asn.csv");
        std::fs::write(&csv, "1.1.1.0,1.1.1.255,13335,Cloudflare\n").unwrap();
        let cfg = dir.path().join("f.toml");
        // One path as a string, like country_db.
        let text = "[enrich]\nasn_db = \"asn.csv\"\nreload_interval = 5\n";
        std::fs::write(&cfg, text).unwrap();
        // Relative to the config file.
        let s = Settings::load(&cfg).unwrap();
        let info = s.enrich.lookup("1.1.1.1".parse().unwrap());
        assert_eq!((info.asn, info.org.as_deref()), (Some(13335), Some("Cloudflare")));
        assert_eq!(s.enrich.config().reload_every, Some(std::time::Duration::from_secs(5)));

        let text = "[enrich]\ncountry_db = \"missing.mmdb\"\n";
        std::fs::write(&cfg, text).unwrap();
        let e = Settings::load(&cfg).unwrap_err();
        assert_eq!((e.line, e.col), (2, 14), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("enrich: ") && msg.contains("missing.mmdb: cannot read"), "{msg}");
        assert_eq!(msg.lines().count(), 1, "{msg}");

        // An ASN CSV given as the country database is not a country CSV.
        let text = "[enrich]\nasn_db = [\"asn.csv\"]\ncountry_db = \"asn.csv\"\n";
        std::fs::write(&cfg, text).unwrap();
        let e = Settings::load(&cfg).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(
            e.to_string().contains("asn.csv line 1: 4 fields, expected 3 (expected first_ip,last_ip,country_code)"),
            "{e}"
        );

        // Country CSV files: one string, or a list; a bad one named at its own line.
        std::fs::write(dir.path().join("c4.csv"), "1.1.1.0,1.1.1.255,AU\n").unwrap();
        std::fs::write(dir.path().join("c6.csv"), "2001::,2001::ffff,jp\n").unwrap();
        std::fs::write(dir.path().join("bad.csv"), "1.1.1.0,1.1.1.255,AUS\n").unwrap();
        std::fs::write(&cfg, "[enrich]\ncountry_db = \"c4.csv\"\n").unwrap();
        let s = Settings::load(&cfg).unwrap();
        assert_eq!(s.enrich.config().country_db, [dir.path().join("c4.csv")]);
        assert_eq!(s.enrich.lookup("1.1.1.1".parse().unwrap()).country.as_deref(), Some("AU"));
        std::fs::write(&cfg, "[enrich]\ncountry_db = [\n  \"c4.csv\",\n  \"c6.csv\",\n]\n").unwrap();
        let s = Settings::load(&cfg).unwrap();
        assert_eq!(s.enrich.config().country_db, [dir.path().join("c4.csv"), dir.path().join("c6.csv")]);
        assert_eq!(s.enrich.lookup("2001::1".parse().unwrap()).country.as_deref(), Some("JP"));
        std::fs::write(&cfg, "[enrich]\ncountry_db = [\n  \"c4.csv\",\n  \"bad.csv\",\n]\n").unwrap();
        let e = Settings::load(&cfg).unwrap_err();
        assert_eq!((e.line, e.col), (4, 3), "{e}");
        assert!(e.to_string().contains("bad.csv line 1: country_code \"AUS\" is not two letters"), "{e}");
        std::fs::write(&cfg, "[enrich]\ncountry_db = []\n").unwrap();
        assert!(Settings::load(&cfg).unwrap().enrich.config().country_db.is_empty());
        let e = check("[enrich]\ncountry_db = [\"c4.csv\", \"\"]\n").unwrap_err();
        assert!(e.to_string().contains("enrich.country_db: an empty path"), "{e}");
        let e = check("[enrich]\ncountry_db = 5\n").unwrap_err();
        assert!(e.to_string().contains("a path or an array of paths"), "{e}");

        let e = check("[enrich]\nasn_db = [\"\"]\n").unwrap_err();
        assert!(e.to_string().contains("enrich.asn_db: an empty path"), "{e}");
        let e = check("[enrich]\nreload_interval = 100000\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = check("[enrich]\ncountry = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("country"), "{e}");
    }

    #[test]
    fn reporting_sections_are_checked_value_by_value() {
        use farhand_report::sink::syslog::forward::{Format, Transport};
        let s = check(
            "[output]\nspool_dir = \"spool\"\ndrain_timeout = 3\n\n[[output.syslog]]\ntarget = \"udp://127.0.0.1:5514\"\n\n\
             [[output.syslog]]\ntarget = \"tcp://[::1]:6000\"\nformat = \"cef\"\nfacility = \"local3\"\n\n\
             [store]\npath = \"farhand.db\"\nretention_days = 30\n\n[report]\nschedule = \"weekly\"\ndir = \"reports\"\n\n\
             [metrics]\nlisten = \"127.0.0.1:0\"\n",
        )
        .unwrap();
        let r = &s.reporting;
        assert_eq!(r.syslog.len(), 2);
        assert!(matches!(r.syslog[0].target.transport, Transport::Udp));
        assert_eq!(r.syslog[0].sender.max_octets, Some(outputs::UDP_MAX_OCTETS));
        assert!(matches!(r.syslog[1].format, Format::Cef));
        assert_eq!(r.syslog[1].sender.facility.name(), "local3");
        assert_eq!(r.spool.dir.as_deref(), Some(Path::new("spool")));
        assert_eq!(r.drain_timeout, std::time::Duration::from_secs(3));
        assert!(r.store.is_some() && r.schedule.is_some() && r.metrics.is_some());
        assert_eq!(r.retention, Some(std::time::Duration::from_secs(30 * 86_400)));

        // Each bad value is an error at its line, naming the key.
        for (text, line, needle) in [
            ("[[output.syslog]]\ntarget = \"smtp://h:25\"\n", 2, "output.syslog.target"),
            ("[[output.syslog]]\ntarget = \"tcp://h:1\"\nformat = \"leef\"\n", 3, "output.syslog.format"),
            ("[[output.syslog]]\ntarget = \"tcp://h:1\"\nfacility = \"local9\"\n", 3, "facility"),
            ("[[output.syslog]]\ntarget = \"tls://h:6514\"\n", 2, "needs ca"),
            ("[[output.syslog]]\ntarget = \"tcp://h:1\"\nca = \"ca.pem\"\n", 2, "tls://"),
            ("[[output.syslog]]\ntarget = \"tcp://h:1\"\ntaget = 1\n", 3, "taget"),
            ("[output]\nspool_max_mib = 0\n", 2, "spool_max_mib"),
            ("[output]\ndrain_timeout = 100000\n", 2, "drain_timeout"),
            ("[store]\nurl = \"mysql://h/db\"\n", 2, "store.url"),
            ("[store]\npath = \"postgres://h/db\"\n", 2, "store.path"),
            ("[report]\nschedule = \"hourly\"\ndir = \"r\"\n", 2, "report.schedule"),
            ("[report]\nschedule = \"daily\"\ndir = \"r\"\n", 2, "needs a store"),
            ("[metrics]\nlisten = \"localhost\"\n", 2, "metrics.listen"),
        ] {
            let e = check(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(needle), "{text:?}: {e}");
        }
    }
}
