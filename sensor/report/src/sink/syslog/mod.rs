//! Syslog: an alert as an RFC 5424 message ([`rfc5424()`]) or as a CEF record ([`cef()`]),
//! RFC 6587 octet-counting framing ([`octet_counted`]), and the transport that forwards them
//! ([`forward`]: UDP, TCP or TLS, through a durable [`spool`]; TLS set up by [`tls`]).
//!
//! # Contract
//! - The formats are pure functions: an [`Alert`](crate::verdict::Alert) (plus the sender's
//!   identity and a sequence counter) in, text out. No sockets, no clocks, no configuration
//!   parsing; [`forward::SyslogOutput`] sends these messages.
//! - Never panics, whatever the alert holds: header fields are cut to their RFC 5424 limits
//!   and restricted to printable US-ASCII, structured-data values and CEF fields are
//!   escaped, a time beyond 9999-12-31T23:59:59.999999Z is clamped to it and flagged.
//! - Severity follows the alert's OCSF severity through one documented table per format
//!   ([`syslog_severity`], [`cef_severity`]).
//! - Forwarding never blocks the caller on the network and loses nothing already queued on
//!   disk (see [`forward`] for the delivery guarantees).

pub mod cef;
#[cfg(test)]
mod collector_tests;
pub mod forward;
pub mod rfc5424;
pub mod spool;
pub mod tls;

use crate::verdict::Severity;
use farhand_model::Micros;

pub use cef::cef;
pub use forward::{
    DrainResult, Format, OutputConfig, OutputStats, SpoolConfig, StatsSnapshot, SyslogOutput, Target, Transport,
    flush_spool,
};
pub use rfc5424::{Sender, octet_counted, rfc5424};
pub use tls::TlsFiles;

/// The syslog facility (RFC 5424 §6.2.1, codes 0–23).
///
/// farhand's default is [`Facility::Local0`]: the `local0`–`local7` facilities are the ones
/// RFC 5424 leaves to local use, so a collector can route farhand's alerts by facility
/// without mixing them with the host's own `auth`, `daemon` or `kern` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Facility {
    /// 0: kernel messages.
    Kern = 0,
    /// 1: user-level messages.
    User = 1,
    /// 2: mail system.
    Mail = 2,
    /// 3: system daemons.
    Daemon = 3,
    /// 4: security/authorization messages.
    Auth = 4,
    /// 5: messages generated internally by syslogd.
    Syslog = 5,
    /// 6: line printer subsystem.
    Lpr = 6,
    /// 7: network news subsystem.
    News = 7,
    /// 8: UUCP subsystem.
    Uucp = 8,
    /// 9: clock daemon.
    Cron = 9,
    /// 10: security/authorization messages (private).
    Authpriv = 10,
    /// 11: FTP daemon.
    Ftp = 11,
    /// 12: NTP subsystem.
    Ntp = 12,
    /// 13: log audit.
    Audit = 13,
    /// 14: log alert.
    Alert = 14,
    /// 15: clock daemon (second).
    Clock = 15,
    /// 16: local use 0 (farhand's default).
    #[default]
    Local0 = 16,
    /// 17: local use 1.
    Local1 = 17,
    /// 18: local use 2.
    Local2 = 18,
    /// 19: local use 3.
    Local3 = 19,
    /// 20: local use 4.
    Local4 = 20,
    /// 21: local use 5.
    Local5 = 21,
    /// 22: local use 6.
    Local6 = 22,
    /// 23: local use 7.
    Local7 = 23,
}

impl Facility {
    /// Every facility, by code.
    pub const ALL: [Facility; 24] = [
        Facility::Kern,
        Facility::User,
        Facility::Mail,
        Facility::Daemon,
        Facility::Auth,
        Facility::Syslog,
        Facility::Lpr,
        Facility::News,
        Facility::Uucp,
        Facility::Cron,
        Facility::Authpriv,
        Facility::Ftp,
        Facility::Ntp,
        Facility::Audit,
        Facility::Alert,
        Facility::Clock,
        Facility::Local0,
        Facility::Local1,
        Facility::Local2,
        Facility::Local3,
        Facility::Local4,
        Facility::Local5,
        Facility::Local6,
        Facility::Local7,
    ];

    /// The numeric code (0–23).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The conventional lower-case name (`local0`, `auth`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Facility::Kern => "kern",
            Facility::User => "user",
            Facility::Mail => "mail",
            Facility::Daemon => "daemon",
            Facility::Auth => "auth",
            Facility::Syslog => "syslog",
            Facility::Lpr => "lpr",
            Facility::News => "news",
            Facility::Uucp => "uucp",
            Facility::Cron => "cron",
            Facility::Authpriv => "authpriv",
            Facility::Ftp => "ftp",
            Facility::Ntp => "ntp",
            Facility::Audit => "audit",
            Facility::Alert => "alert",
            Facility::Clock => "clock",
            Facility::Local0 => "local0",
            Facility::Local1 => "local1",
            Facility::Local2 => "local2",
            Facility::Local3 => "local3",
            Facility::Local4 => "local4",
            Facility::Local5 => "local5",
            Facility::Local6 => "local6",
            Facility::Local7 => "local7",
        }
    }

    /// The facility of a name as [`Facility::name`] writes it (case-insensitive).
    pub fn from_name(name: &str) -> Option<Facility> {
        Facility::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// The syslog severity (RFC 5424 §6.2.1, 0 emergency – 7 debug) of an alert of OCSF
/// severity `s`:
///
/// | OCSF | syslog |
/// |---|---|
/// | Informational | 6 informational |
/// | Low | 5 notice |
/// | Medium | 4 warning |
/// | High | 3 error |
/// | Critical | 2 critical |
///
/// 0 (emergency) and 1 (alert) are left to the system itself being unusable or needing
/// immediate action, which no detection of farhand's means; 7 (debug) is not an alert.
pub fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Informational => 6,
        Severity::Low => 5,
        Severity::Medium => 4,
        Severity::High => 3,
        Severity::Critical => 2,
    }
}

/// The CEF severity (0–10) of an alert of OCSF severity `s`, placed in the bands ArcSight
/// reads them by (0–3 Low, 4–6 Medium, 7–8 High, 9–10 Very-High):
///
/// | OCSF | CEF |
/// |---|---|
/// | Informational | 1 |
/// | Low | 3 |
/// | Medium | 5 |
/// | High | 8 |
/// | Critical | 10 |
pub fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Informational => 1,
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
        Severity::Critical => 10,
    }
}

/// The latest instant a four-digit RFC 3339 year can write: 9999-12-31T23:59:59.999999Z,
/// in microseconds since the Unix epoch.
pub const MAX_TIME: Micros = 253_402_300_799_999_999;

/// `us` (microseconds since the Unix epoch) as an RFC 3339 UTC timestamp with six fraction
/// digits (`2024-05-01T12:00:00.000042Z`), and whether it had to be clamped to
/// [`MAX_TIME`] to be written.
pub fn timestamp(us: Micros) -> (String, bool) {
    (crate::sink::json::rfc3339(us.min(MAX_TIME)), us > MAX_TIME)
}

/// Replaces C0 control characters (CR, LF, TAB, ...) and DEL with a space: a message or
/// value that a collector reading line by line would otherwise cut in two stays whole.
fn no_controls(s: &str) -> String {
    s.chars().map(|c| if c.is_control() && (c as u32) < 0x80 { ' ' } else { c }).collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Alerts for the format tests, made by the verdict as the sinks receive them.

    use crate::verdict::{Alert, Verdict};
    use farhand_model::HomeNets;
    use farhand_model::tool::Tool;

    /// The inside laptop.
    pub const LAPTOP: [u8; 4] = [10, 41, 0, 120];
    /// The controller abroad.
    pub const PEER: [u8; 4] = [203, 0, 113, 9];

    /// A VNC session from `client` to `server` at t = 1 s.. 2 s, judged by the verdict.
    pub fn vnc_alert(client: ([u8; 4], u16), server: ([u8; 4], u16)) -> Alert {
        let f = crate::testutil::session(Tool::Vnc, client, server, 1_000_000);
        let mut v = Verdict::new(HomeNets::new(vec!["10.0.0.0/8".parse().unwrap()]));
        let mut out = Vec::new();
        v.judge(&f, &mut out);
        assert_eq!(out.len(), 1, "one VNC session, one alert");
        out.remove(0)
    }

    /// A relay gap of `gap_ms` beyond the 10 ms baseline, judged relayed (5,000-13,000 km).
    pub fn relayed_gap(gap_ms: f64) -> crate::relay_latency::Gap {
        crate::relay_latency::Gap {
            gap_ms,
            transport_ms: 30.0,
            transport_basis: crate::relay_latency::TransportBasis::Agreement,
            baseline_ms: 10.0,
            excess_ms: gap_ms - 10.0,
            extra_distance_km: (5000, 13000),
            samples: (40, 60),
            relayed: true,
        }
    }

    /// An episode of `score` over 3 alerts and 2 sessions, its lists empty.
    pub fn episode_scored(score: u8) -> crate::verdict::episode::EpisodeView {
        crate::verdict::episode::EpisodeView {
            score,
            signs: vec![],
            tools: vec![],
            peers: vec![],
            countries: vec![],
            alerts: 3,
            sessions: 2,
            benign: 0,
        }
    }

    /// An inbound VNC session into the laptop.
    pub fn inbound() -> Alert {
        vnc_alert((PEER, 40000), (LAPTOP, 5900))
    }

    #[test]
    fn timestamps() {
        use super::{MAX_TIME, timestamp};
        assert_eq!(timestamp(0), ("1970-01-01T00:00:00.000000Z".to_string(), false));
        assert_eq!(timestamp(1_000_042), ("1970-01-01T00:00:01.000042Z".to_string(), false));
        // 2000-02-29 (a leap day of a century divisible by 400) and 2100-03-01 (2100 is no leap year).
        assert_eq!(timestamp(951_782_400_000_000).0, "2000-02-29T00:00:00.000000Z");
        assert_eq!(timestamp(4_107_542_400_123_456).0, "2100-03-01T00:00:00.123456Z");
        assert_eq!(timestamp(1_714_564_800_999_999).0, "2024-05-01T12:00:00.999999Z");
        assert_eq!(timestamp(MAX_TIME), ("9999-12-31T23:59:59.999999Z".to_string(), false));
        assert_eq!(timestamp(MAX_TIME + 1), ("9999-12-31T23:59:59.999999Z".to_string(), true));
        assert_eq!(timestamp(u64::MAX), ("9999-12-31T23:59:59.999999Z".to_string(), true));
    }

    #[test]
    fn facilities_and_severities() {
        use super::*;
        assert_eq!(Facility::default(), Facility::Local0);
        for (i, f) in Facility::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(f.code()), i);
            assert_eq!(Facility::from_name(f.name()), Some(f));
        }
        assert_eq!(Facility::from_name("LOCAL7"), Some(Facility::Local7));
        assert_eq!(Facility::from_name("local8"), None);
        let all = [Severity::Informational, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];
        assert_eq!(all.map(syslog_severity), [6, 5, 4, 3, 2]);
        assert_eq!(all.map(cef_severity), [1, 3, 5, 8, 10]);
    }
}
