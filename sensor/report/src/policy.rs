//! The deployment's policy: what is normal here, so the verdict can tell a sanctioned
//! helpdesk session from a laptop driven from abroad.
//!
//! # Contract
//! - A [`Policy`] is plain validated data, built once from the config (`[policy]`) and
//!   shared read-only (`Arc`) by the verdict. Every value is checked by the parsers here
//!   ([`parse_country`], [`Stance::parse`], [`parse_net`], [`Tenant::parse`],
//!   [`BusinessHours::parse`], [`Zone::named`]) before it reaches a `Policy`; their errors
//!   are one line saying what is wrong, which the config turns into `file:line:col: key: …`.
//! - **Home countries** (ISO 3166-1 alpha-2, upper case): where the organisation's people
//!   and peers are expected. A policy with *no* home countries makes no country judgement:
//!   [`Policy::is_home_country`] is then true for every country, so nothing is "abroad"
//!   ([`Policy::judges_countries`] tells which case applies).
//! - **Stances** per tool, keyed by the tool's stable name as alerts print it (`anydesk`,
//!   `teamviewer`, `ssh`, or an indicator-listed name), with a default for the rest.
//! - **Helpdesk hosts**: address ranges of peers that legitimately control endpoints (the
//!   organisation's or its provider's support machines). **Allowlisted endpoints**: inside
//!   hosts whose sessions are expected (the helpdesk's own machines, jump hosts).
//! - **Sanctioned tenants**: the organisation's own accounts on a vendor's service, matched
//!   against the names a session carries (TLS/QUIC server names, DNS names it was reached
//!   by, certificate names, HTTP hosts, a tool's ID or alias when the protocol shows one). An
//!   entry with a dot is a **domain**: it matches that name and every name under it,
//!   case-insensitively, a trailing dot ignored (`acme.screenconnect.com` matches
//!   `acme.screenconnect.com` and `relay.acme.screenconnect.com`, not
//!   `acme.screenconnect.com.evil.net`). An entry without a dot is an **ID or realm**
//!   (a TeamViewer or AnyDesk ID, an AnyDesk alias, a realm name): it matches a name equal
//!   to it, case-insensitively, spaces ignored and, in an ID of digits, dashes too
//!   (`123 456 789` = `123456789` = `123-456-789`).
//! - **Business hours** (`"08:00-18:00"`, workdays) in the deployment's **time zone** (an
//!   IANA name; the database is bundled into the binary, the host's `/usr/share/zoneinfo`
//!   is the fallback for a zone newer than the bundle). A range whose end is before its
//!   start runs overnight and belongs to the workday it starts on (`22:00-06:00` with
//!   Monday a workday covers Monday 22:00 to Tuesday 06:00); `24:00` ends at midnight.
//! - Nothing here panics: a packet time beyond what a calendar can show gives no local
//!   time (`None`).

use crate::physics::{self, Location};
use farhand_model::{Addr, Health, Micros};
use ipnet::IpNet;
use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// How the organisation regards a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stance {
    /// The organisation's own tool: its sessions are expected.
    Sanctioned,
    /// Allowed but not the organisation's tool: sessions are reported, not escalated.
    Tolerated,
    /// Must not be used: any session is an incident.
    Forbidden,
}

impl Stance {
    /// Every stance.
    pub const ALL: [Stance; 3] = [Stance::Sanctioned, Stance::Tolerated, Stance::Forbidden];

    /// The name in the config file and in alerts (`sanctioned`, `tolerated`, `forbidden`).
    pub fn name(self) -> &'static str {
        match self {
            Stance::Sanctioned => "sanctioned",
            Stance::Tolerated => "tolerated",
            Stance::Forbidden => "forbidden",
        }
    }

    /// Parses a stance name (lower case, as [`Stance::name`] writes it).
    pub fn parse(s: &str) -> Result<Stance, String> {
        Stance::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| format!("unknown stance {s:?} (known: {})", Stance::ALL.map(Stance::name).join(", ")))
    }
}

impl fmt::Display for Stance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks an ISO 3166-1 alpha-2 country code (any case) against the physics table, which
/// has every code; returns it upper case.
pub fn parse_country(s: &str) -> Result<String, String> {
    let cc = s.trim().to_ascii_uppercase();
    if cc.len() == 2 && physics::has_country(&cc) {
        Ok(cc)
    } else {
        Err(format!("unknown country code {s:?} (ISO 3166-1 alpha-2, like \"DE\")"))
    }
}

/// Parses an address range: a CIDR (`192.0.2.0/24`, `2001:db8::/32`) or one address.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("{s:?} is not a CIDR (like 192.0.2.0/24) or an address"))
}

/// A sanctioned tenant: a domain or an ID/realm (see the module contract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// As written in the config.
    written: String,
    /// What names are compared with: a lower-case domain, or a normalised ID.
    key: TenantKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TenantKey {
    Domain(String),
    Id(String),
}

/// Longest domain name (RFC 1035).
const MAX_DOMAIN: usize = 253;
/// Longest ID, alias or realm.
const MAX_ID: usize = 64;

/// A name as compared with an ID: lower case, no spaces; an ID of digits loses its dashes.
fn normalise_id(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
    if s.chars().all(|c| c.is_ascii_digit() || c == '-') { s.replace('-', "") } else { s }
}

/// A name as compared with a domain: lower case, no trailing dot.
fn normalise_domain(s: &str) -> String {
    s.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl Tenant {
    /// Parses a tenant entry: a domain (has a dot; labels of letters, digits, `-`, `_`) or
    /// an ID, alias or realm (letters, digits, `-`, `_`, `@`, spaces; at most 64).
    pub fn parse(s: &str) -> Result<Tenant, String> {
        let t = s.trim();
        if t.contains('.') {
            let d = normalise_domain(t);
            let ok_label = |l: &str| {
                !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if d.len() > MAX_DOMAIN || d.split('.').count() < 2 || !d.split('.').all(ok_label) {
                return Err(format!(
                    "{s:?} is not a domain name (like acme.screenconnect.com) nor an ID (like 123456789)"
                ));
            }
            return Ok(Tenant { written: t.to_string(), key: TenantKey::Domain(d) });
        }
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '@' | ' ');
        let id = normalise_id(t);
        if id.is_empty() || t.len() > MAX_ID || !t.chars().all(ok) {
            return Err(format!("{s:?} is not a domain name (like acme.screenconnect.com) nor an ID (like 123456789)"));
        }
        Ok(Tenant { written: t.to_string(), key: TenantKey::Id(id) })
    }

    /// The entry as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// Whether a session name matches this tenant.
    pub fn matches(&self, name: &str) -> bool {
        match &self.key {
            TenantKey::Domain(d) => {
                let n = normalise_domain(name);
                n == *d || n.strip_suffix(d.as_str()).is_some_and(|head| head.ends_with('.'))
            }
            TenantKey::Id(id) => normalise_id(name) == *id,
        }
    }
}

/// Parses a weekday: `mon` … `sun` or the full English name, any case.
pub fn parse_weekday(s: &str) -> Result<Weekday, String> {
    let l = s.trim().to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .find(|(_, short, long)| l == *short || l == *long)
        .map(|(d, _, _)| *d)
        .ok_or_else(|| format!("unknown weekday {s:?} (mon, tue, wed, thu, fri, sat, sun)"))
}

/// Weekdays with their short and long names, Monday first.
const WEEKDAYS: [(Weekday, &str, &str); 7] = [
    (Weekday::Monday, "mon", "monday"),
    (Weekday::Tuesday, "tue", "tuesday"),
    (Weekday::Wednesday, "wed", "wednesday"),
    (Weekday::Thursday, "thu", "thursday"),
    (Weekday::Friday, "fri", "friday"),
    (Weekday::Saturday, "sat", "saturday"),
    (Weekday::Sunday, "sun", "sunday"),
];

/// A weekday's English name (`Tuesday`).
pub fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

/// Monday = 0 … Sunday = 6.
fn day_index(d: Weekday) -> usize {
    usize::try_from(d.to_monday_zero_offset()).unwrap_or(0)
}

/// Working hours on workdays, in minutes of the local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    /// First minute inside (0..1440).
    start: u16,
    /// First minute after (1..=1440); before `start` for an overnight range.
    end: u16,
    /// Workdays, Monday first.
    days: [bool; 7],
}

impl Default for BusinessHours {
    /// 08:00-18:00, Monday to Friday.
    fn default() -> Self {
        BusinessHours { start: 8 * 60, end: 18 * 60, days: [true, true, true, true, true, false, false] }
    }
}

impl BusinessHours {
    /// Parses `"HH:MM-HH:MM"` (24-hour clock; `24:00` as an end) with the workdays.
    pub fn parse(hours: &str, workdays: &[Weekday]) -> Result<BusinessHours, String> {
        let bad = || format!("{hours:?} is not a range of hours like \"08:00-18:00\"");
        let (a, b) = hours.trim().split_once('-').ok_or_else(bad)?;
        let minute = |t: &str, end: bool| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            let v = h * 60 + m;
            (m < 60 && (h < 24 || (end && v == 1440))).then_some(v)
        };
        let (start, end) = (minute(a, false).ok_or_else(bad)?, minute(b, true).ok_or_else(bad)?);
        if start == end {
            return Err(format!("{hours:?} is empty (start equals end; \"00:00-24:00\" is the whole day)"));
        }
        let mut days = [false; 7];
        for d in workdays {
            if let Some(x) = days.get_mut(day_index(*d)) {
                *x = true;
            }
        }
        Ok(BusinessHours { start, end, days })
    }

    /// Whether a local weekday and minute of the day fall in business hours.
    pub fn contains(&self, day: Weekday, minute: u16) -> bool {
        let workday = |d: Weekday| self.days.get(day_index(d)).copied().unwrap_or(false);
        if self.start < self.end {
            workday(day) && (self.start..self.end).contains(&minute)
        } else {
            (minute >= self.start && workday(day)) || (minute < self.end && workday(day.previous()))
        }
    }

    /// `08:00-18:00 mon-fri` (workdays listed, runs of three or more joined).
    fn describe(&self) -> String {
        let hm = |v: u16| format!("{:02}:{:02}", v / 60, v % 60);
        let mut days = Vec::new();
        let mut i = 0;
        while i < 7 {
            if self.days.get(i).copied().unwrap_or(false) {
                let mut j = i;
                while self.days.get(j + 1).copied().unwrap_or(false) {
                    j += 1;
                }
                let name = |k: usize| WEEKDAYS.get(k).map(|w| w.1).unwrap_or("?");
                match j - i {
                    0 => days.push(name(i).to_string()),
                    1 => days.extend([name(i).to_string(), name(j).to_string()]),
                    _ => days.push(format!("{}-{}", name(i), name(j))),
                }
                i = j + 1;
            } else {
                i += 1;
            }
        }
        let days = if days.is_empty() { "no workdays".to_string() } else { days.join(",") };
        format!("{}-{} {days}", hm(self.start), hm(self.end))
    }
}

/// The deployment's time zone: an IANA name and its rules.
#[derive(Debug, Clone)]
pub struct Zone {
    name: Arc<str>,
    tz: TimeZone,
}

impl Default for Zone {
    /// UTC.
    fn default() -> Self {
        Zone { name: "UTC".into(), tz: TimeZone::UTC }
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl Zone {
    /// The zone of an IANA name (`Europe/Berlin`, `UTC`), from the bundled database, or
    /// the host's when the bundle does not know it.
    pub fn named(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        let tz = TimeZoneDatabase::bundled()
            .get(name)
            .or_else(|_| TimeZoneDatabase::from_env().get(name))
            .map_err(|_| format!("unknown time zone {name:?} (an IANA name like \"Europe/Berlin\")"))?;
        let canonical = tz.iana_name().unwrap_or(name).to_string();
        Ok(Zone { name: canonical.into(), tz })
    }

    /// The IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A moment as the deployment's clocks show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    /// Local weekday.
    pub weekday: Weekday,
    /// Local hour, 0..=23.
    pub hour: u8,
    /// Local minute, 0..=59.
    pub minute: u8,
    /// The time zone's IANA name.
    pub zone: Arc<str>,
}

impl fmt::Display for LocalTime {
    /// `03:12 Tuesday in Europe/Berlin`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02} {} in {}", self.hour, self.minute, weekday_name(self.weekday), self.zone)
    }
}

/// Whether a moment is in business hours, and its local time (for explanations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursCheck {
    /// Inside business hours on a workday.
    pub within: bool,
    /// The local time judged.
    pub local: LocalTime,
}

/// The validated `[policy]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    home_countries: BTreeSet<String>,
    default_stance: Stance,
    tools: BTreeMap<String, Stance>,
    helpdesk_hosts: Vec<IpNet>,
    sanctioned_tenants: Vec<Tenant>,
    allowlist: Vec<IpNet>,
    hours: BusinessHours,
    /// Whether business hours are judged (`business_hours` set).
    judge_hours: bool,
    zone: Zone,
}

impl Default for Policy {
    /// No home countries (no country judgement), every tool tolerated, no helpdesk hosts,
    /// tenants or allowlisted endpoints, 08:00-18:00 Monday to Friday in UTC.
    fn default() -> Self {
        Policy {
            home_countries: BTreeSet::new(),
            default_stance: Stance::Tolerated,
            tools: BTreeMap::new(),
            helpdesk_hosts: Vec::new(),
            sanctioned_tenants: Vec::new(),
            allowlist: Vec::new(),
            hours: BusinessHours::default(),
            judge_hours: false,
            zone: Zone::default(),
        }
    }
}

/// Whether an address is in any of the ranges.
fn in_nets(nets: &[IpNet], ip: Addr) -> bool {
    // IPv4 (and IPv4-mapped IPv6) addresses come out as IPv4.
    let ip = ip.ip();
    nets.iter().any(|n| n.contains(&ip))
}

impl Policy {
    /// The same policy with these home countries (already checked by [`parse_country`]).
    pub fn with_home_countries(mut self, countries: impl IntoIterator<Item = String>) -> Policy {
        self.home_countries = countries.into_iter().map(|c| c.to_ascii_uppercase()).collect();
        self
    }

    /// The same policy with this default stance.
    pub fn with_default_stance(mut self, stance: Stance) -> Policy {
        self.default_stance = stance;
        self
    }

    /// The same policy with `tool` (its stable name) regarded as `stance`.
    pub fn with_tool(mut self, tool: &str, stance: Stance) -> Policy {
        self.tools.insert(tool.to_ascii_lowercase(), stance);
        self
    }

    /// The same policy with these helpdesk hosts.
    pub fn with_helpdesk_hosts(mut self, nets: impl IntoIterator<Item = IpNet>) -> Policy {
        self.helpdesk_hosts = nets.into_iter().collect();
        self
    }

    /// The same policy with these sanctioned tenants.
    pub fn with_sanctioned_tenants(mut self, tenants: impl IntoIterator<Item = Tenant>) -> Policy {
        self.sanctioned_tenants = tenants.into_iter().collect();
        self
    }

    /// The same policy with these allowlisted endpoints.
    pub fn with_allowlist(mut self, nets: impl IntoIterator<Item = IpNet>) -> Policy {
        self.allowlist = nets.into_iter().collect();
        self
    }

    /// The same policy with these business hours in this time zone.
    pub fn with_hours(mut self, hours: BusinessHours, zone: Zone) -> Policy {
        self.hours = hours;
        self.judge_hours = true;
        self.zone = zone;
        self
    }

    /// The same policy with this time zone (for local times in explanations) and business
    /// hours not judged.
    pub fn with_zone(mut self, zone: Zone) -> Policy {
        self.judge_hours = false;
        self.zone = zone;
        self
    }

    /// Whether business hours are judged.
    pub fn judges_hours(&self) -> bool {
        self.judge_hours
    }

    /// The stance on a tool, by its stable name (`anydesk`, any case); the default stance
    /// for a tool the policy does not name.
    pub fn stance(&self, tool: &str) -> Stance {
        self.tools.get(&tool.to_ascii_lowercase()).copied().unwrap_or(self.default_stance)
    }

    /// The default stance.
    pub fn default_stance(&self) -> Stance {
        self.default_stance
    }

    /// Whether the policy has home countries (and so judges a peer's country at all).
    pub fn judges_countries(&self) -> bool {
        !self.home_countries.is_empty()
    }

    /// The home countries, sorted.
    pub fn home_countries(&self) -> impl Iterator<Item = &str> {
        self.home_countries.iter().map(String::as_str)
    }

    /// Whether `cc` (ISO 3166-1 alpha-2, any case) is a home country. True for every
    /// country when the policy has none (no country judgement).
    pub fn is_home_country(&self, cc: &str) -> bool {
        self.home_countries.is_empty() || self.home_countries.contains(&cc.trim().to_ascii_uppercase())
    }

    /// Whether a peer is a helpdesk host.
    pub fn is_helpdesk(&self, ip: Addr) -> bool {
        in_nets(&self.helpdesk_hosts, ip)
    }

    /// Whether an endpoint is allowlisted.
    pub fn is_allowlisted(&self, ip: Addr) -> bool {
        in_nets(&self.allowlist, ip)
    }

    /// The first sanctioned tenant (as written in the config) that one of a session's
    /// names matches, if any.
    pub fn sanctioned_tenant<'a, I>(&self, names: I) -> Option<&str>
    where
        I: IntoIterator<Item = &'a str>,
    {
        if self.sanctioned_tenants.is_empty() {
            return None;
        }
        let names: Vec<&str> = names.into_iter().collect();
        self.sanctioned_tenants.iter().find(|t| names.iter().any(|n| t.matches(n))).map(Tenant::as_str)
    }

    /// The time zone.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The business hours.
    pub fn hours(&self) -> &BusinessHours {
        &self.hours
    }

    /// A packet time (µs since the Unix epoch) on the deployment's clocks; `None` beyond
    /// what a calendar shows (after the year 9999).
    pub fn local_time(&self, at: Micros) -> Option<LocalTime> {
        let ts = Timestamp::from_microsecond(i64::try_from(at).ok()?).ok()?;
        let dt = self.zone.tz.to_datetime(ts);
        Some(LocalTime {
            weekday: dt.weekday(),
            hour: u8::try_from(dt.hour()).ok()?,
            minute: u8::try_from(dt.minute()).ok()?,
            zone: self.zone.name.clone(),
        })
    }

    /// Whether a packet time falls in business hours on a workday, with its local time.
    pub fn in_business_hours(&self, at: Micros) -> Option<HoursCheck> {
        if !self.judge_hours {
            return None;
        }
        let local = self.local_time(at)?;
        let minute = u16::from(local.hour) * 60 + u16::from(local.minute);
        Some(HoursCheck { within: self.hours.contains(local.weekday, minute), local })
    }

    /// The policy and the sensor's location for `--check-config`: one line naming the home
    /// countries, stances, hosts, hours, time zone and location. Always ready: no home
    /// countries or no location is a choice (no country judgement, no physics check), said
    /// in the line.
    pub fn health(&self, location: Option<&Location>) -> Health {
        let countries = if self.home_countries.is_empty() {
            "no home countries (no country judgement)".to_string()
        } else {
            format!("home countries {}", self.home_countries.iter().cloned().collect::<Vec<_>>().join(","))
        };
        let mut stances = format!("default stance {}", self.default_stance);
        for st in Stance::ALL {
            let tools: Vec<&str> = self.tools.iter().filter(|(_, s)| **s == st).map(|(t, _)| t.as_str()).collect();
            if !tools.is_empty() {
                stances += &format!(", {st}: {}", tools.join(" "));
            }
        }
        let location = match location {
            Some(l) => format!("sensor location {l} (physics check on)"),
            None => "no sensor location (no physics check)".to_string(),
        };
        Health::ready(
            "policy",
            format!(
                "{countries}; {stances}; {} helpdesk ranges, {} sanctioned tenants, {} allowlisted ranges; business hours {} in {}; {location}",
                self.helpdesk_hosts.len(),
                self.sanctioned_tenants.len(),
                self.allowlist.len(),
                if self.judge_hours { self.hours.describe() } else { "not judged".to_string() },
                self.zone.name,
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-03 (a Tuesday) 02:12:00 UTC, in µs.
    const TUE_0212_UTC: Micros = 1_772_503_920_000_000;

    fn berlin() -> Policy {
        let days: Vec<Weekday> =
            ["mon", "tue", "wed", "thu", "fri"].iter().map(|d| parse_weekday(d).unwrap()).collect();
        Policy::default()
            .with_home_countries(["DE".to_string(), "AT".to_string()])
            .with_default_stance(Stance::Tolerated)
            .with_tool("anydesk", Stance::Forbidden)
            .with_tool("TeamViewer", Stance::Sanctioned)
            .with_helpdesk_hosts([parse_net("198.51.100.0/24").unwrap(), parse_net("2001:db8:1::/48").unwrap()])
            .with_allowlist([parse_net("10.9.0.7").unwrap()])
            .with_sanctioned_tenants([
                Tenant::parse("acme.screenconnect.com").unwrap(),
                Tenant::parse("123 456 789").unwrap(),
                Tenant::parse("ACME-Support").unwrap(),
            ])
            .with_hours(BusinessHours::parse("08:00-18:00", &days).unwrap(), Zone::named("Europe/Berlin").unwrap())
    }

    #[test]
    fn stances() {
        let p = berlin();
        assert_eq!(p.stance("anydesk"), Stance::Forbidden);
        assert_eq!(p.stance("AnyDesk"), Stance::Forbidden);
        assert_eq!(p.stance("teamviewer"), Stance::Sanctioned);
        assert_eq!(p.stance("ssh"), Stance::Tolerated);
        assert_eq!(p.clone().with_default_stance(Stance::Forbidden).stance("ssh"), Stance::Forbidden);
        assert_eq!(p.default_stance(), Stance::Tolerated);
        assert_eq!(Stance::parse("forbidden").unwrap(), Stance::Forbidden);
        assert_eq!(Stance::parse("sanctioned").unwrap().to_string(), "sanctioned");
        let e = Stance::parse("banned").unwrap_err();
        assert!(e.contains("\"banned\"") && e.contains("sanctioned, tolerated, forbidden"), "{e}");
        assert!(Stance::parse("Forbidden").is_err());
    }

    #[test]
    fn home_countries() {
        let p = berlin();
        assert!(p.judges_countries());
        assert!(p.is_home_country("DE") && p.is_home_country("at") && !p.is_home_country("US"));
        assert_eq!(p.home_countries().collect::<Vec<_>>(), ["AT", "DE"]);
        // No home countries: no judgement, every country is "home".
        let none = Policy::default();
        assert!(!none.judges_countries());
        assert!(none.is_home_country("KP") && none.is_home_country("US"));
        assert_eq!(parse_country("de").unwrap(), "DE");
        assert_eq!(parse_country("XK").unwrap(), "XK");
        for bad in ["ZZ", "GER", "", "D", "EU"] {
            assert!(parse_country(bad).unwrap_err().contains("unknown country code"), "{bad}");
        }
    }

    #[test]
    fn helpdesk_and_allowlist() {
        let p = berlin();
        assert!(p.is_helpdesk(Addr::v4([198, 51, 100, 20])));
        assert!(!p.is_helpdesk(Addr::v4([198, 51, 101, 20])));
        assert!(p.is_helpdesk(Addr::from("2001:db8:1:ff::1".parse::<IpAddr>().unwrap())));
        assert!(!p.is_helpdesk(Addr::from("2001:db8:2::1".parse::<IpAddr>().unwrap())));
        // An IPv4-mapped IPv6 address is its IPv4 address.
        assert!(p.is_helpdesk(Addr::from("::ffff:198.51.100.9".parse::<IpAddr>().unwrap())));
        assert!(p.is_allowlisted(Addr::v4([10, 9, 0, 7])));
        assert!(!p.is_allowlisted(Addr::v4([10, 9, 0, 8])));
        assert!(!Policy::default().is_helpdesk(Addr::v4([198, 51, 100, 20])));
        assert_eq!(parse_net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert!(parse_net("10.300.0.0/16").unwrap_err().contains("10.300.0.0/16"));
        assert!(parse_net("").is_err());
    }

    #[test]
    fn sanctioned_tenants() {
        let p = berlin();
        assert_eq!(p.sanctioned_tenant(["acme.screenconnect.com"]), Some("acme.screenconnect.com"));
        assert_eq!(p.sanctioned_tenant(["x.com", "Relay.ACME.screenconnect.com."]), Some("acme.screenconnect.com"));
        assert_eq!(p.sanctioned_tenant(["evil.screenconnect.com"]), None);
        assert_eq!(p.sanctioned_tenant(["notacme.screenconnect.com"]), None);
        assert_eq!(p.sanctioned_tenant(["acme.screenconnect.com.evil.net"]), None);
        // IDs: spaces and, in digits, dashes do not matter; no partial matches.
        assert_eq!(p.sanctioned_tenant(["123456789"]), Some("123 456 789"));
        assert_eq!(p.sanctioned_tenant(["123-456-789"]), Some("123 456 789"));
        assert_eq!(p.sanctioned_tenant(["1234567890"]), None);
        assert_eq!(p.sanctioned_tenant(["acme-support"]), Some("ACME-Support"));
        assert_eq!(p.sanctioned_tenant(["acmesupport"]), None);
        // An ID entry is not a domain suffix, nor a domain entry an ID.
        assert_eq!(p.sanctioned_tenant(["acme-support.example.com"]), None);
        assert_eq!(p.sanctioned_tenant(std::iter::empty()), None);
        assert_eq!(Policy::default().sanctioned_tenant(["acme.screenconnect.com"]), None);
        for bad in ["", "  ", "acme..com", ".com", "acme.screen connect.com", "a/b", "x".repeat(65).as_str()] {
            assert!(Tenant::parse(bad).unwrap_err().contains("is not a domain name"), "{bad:?}");
        }
        assert_eq!(Tenant::parse(" acme@ad ").unwrap().as_str(), "acme@ad");
    }

    #[test]
    fn local_time_and_business_hours() {
        let p = berlin();
        // 02:12 UTC in March is 03:12 CET.
        let t = p.local_time(TUE_0212_UTC).unwrap();
        assert_eq!((t.weekday, t.hour, t.minute), (Weekday::Tuesday, 3, 12));
        assert_eq!(t.to_string(), "03:12 Tuesday in Europe/Berlin");
        let h = p.in_business_hours(TUE_0212_UTC).unwrap();
        assert!(!h.within);
        assert_eq!(h.local, t);
        // 10:00 Berlin the same day: inside; on Saturday: outside.
        let hour = 3_600_000_000;
        assert!(p.in_business_hours(TUE_0212_UTC + 7 * hour).unwrap().within);
        assert!(!p.in_business_hours(TUE_0212_UTC + 4 * 24 * hour + 7 * hour).unwrap().within);
        // Summer time: 2026-07-07 (a Tuesday) 06:30 UTC is 08:30 CEST, inside.
        let summer: Micros = 1_783_405_800_000_000;
        let h = p.in_business_hours(summer).unwrap();
        assert_eq!(h.local.to_string(), "08:30 Tuesday in Europe/Berlin");
        assert!(h.within);
        // The same moment in UTC and in New York.
        let utc = Policy::default();
        assert_eq!(utc.local_time(summer).unwrap().to_string(), "06:30 Tuesday in UTC");
        // The default judges no hours; the same hours set explicitly do.
        assert!(!utc.judges_hours() && utc.in_business_hours(summer).is_none());
        let utc = utc.with_hours(BusinessHours::default(), Zone::default());
        assert!(utc.judges_hours() && !utc.in_business_hours(summer).unwrap().within);
        let ny = Policy::default().with_hours(BusinessHours::default(), Zone::named("america/new_york").unwrap());
        assert_eq!(ny.local_time(summer).unwrap().to_string(), "02:30 Tuesday in America/New_York");
        // Times no calendar shows.
        assert_eq!(p.local_time(u64::MAX), None);
        assert_eq!(p.in_business_hours(u64::MAX), None);
        assert_eq!(p.local_time(0).unwrap().to_string(), "01:00 Thursday in Europe/Berlin");
    }

    #[test]
    fn business_hours_ranges() {
        let wd = |s: &[&str]| s.iter().map(|d| parse_weekday(d).unwrap()).collect::<Vec<_>>();
        let h = BusinessHours::parse("08:00-18:00", &wd(&["mon", "tue", "wed", "thu", "fri"])).unwrap();
        assert_eq!(h, BusinessHours::default());
        assert!(h.contains(Weekday::Monday, 8 * 60));
        assert!(!h.contains(Weekday::Monday, 18 * 60));
        assert!(!h.contains(Weekday::Sunday, 12 * 60));
        // Overnight: belongs to the day it starts on.
        let n = BusinessHours::parse("22:00-06:00", &wd(&["Monday"])).unwrap();
        assert!(n.contains(Weekday::Monday, 23 * 60));
        assert!(n.contains(Weekday::Tuesday, 5 * 60));
        assert!(!n.contains(Weekday::Tuesday, 23 * 60));
        assert!(!n.contains(Weekday::Monday, 5 * 60));
        let all = BusinessHours::parse("00:00-24:00", &wd(&["sat", "sun"])).unwrap();
        assert!(all.contains(Weekday::Sunday, 1439) && !all.contains(Weekday::Monday, 0));
        for bad in
            ["8-18", "08:00", "08:00-18:60", "25:00-26:00", "08:00-08:00", "00:00-24:00x", "24:00-08:00", "8:00-18:00"]
        {
            assert!(BusinessHours::parse(bad, &[]).is_err(), "{bad}");
        }
        assert!(parse_weekday("moon").unwrap_err().contains("\"moon\""));
        assert_eq!(h.describe(), "08:00-18:00 mon-fri");
        assert_eq!(all.describe(), "00:00-24:00 sat,sun");
        assert_eq!(BusinessHours::parse("09:00-17:00", &[]).unwrap().describe(), "09:00-17:00 no workdays");
    }

    #[test]
    fn zones() {
        assert_eq!(Zone::named("Europe/Berlin").unwrap().name(), "Europe/Berlin");
        assert_eq!(Zone::named("UTC").unwrap().name(), "UTC");
        assert_eq!(Zone::default().name(), "UTC");
        let e = Zone::named("Europe/Atlantis").unwrap_err();
        assert!(e.contains("\"Europe/Atlantis\""), "{e}");
        assert!(Zone::named("").is_err());
        assert!(Zone::named("../../etc/passwd").is_err());
    }

    #[test]
    fn health_line() {
        let h = berlin().health(Some(&Location::parse("52.52,13.40").unwrap()));
        assert!(!h.is_degraded());
        assert_eq!(
            h.to_string(),
            "policy: ready: home countries AT,DE; default stance tolerated, sanctioned: teamviewer, forbidden: anydesk; \
             2 helpdesk ranges, 3 sanctioned tenants, 1 allowlisted ranges; business hours 08:00-18:00 mon-fri in \
             Europe/Berlin; sensor location 52.52,13.40 (physics check on)"
        );
        let h = Policy::default().health(None).to_string();
        assert!(h.contains("no home countries (no country judgement)"), "{h}");
        assert!(h.contains("no sensor location (no physics check)"), "{h}");
        assert!(h.contains("in UTC"), "{h}");
    }
}
