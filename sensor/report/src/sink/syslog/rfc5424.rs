//! An alert as an RFC 5424 syslog message, and RFC 6587 octet-counting framing.
//!
//! # Contract
//! - [`rfc5424`] writes `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD...] MSG`:
//!   PRI = facility × 8 + [`syslog_severity`]; TIMESTAMP in UTC with microseconds
//!   ([`timestamp`]); HOSTNAME, APP-NAME, PROCID and MSGID (the alert kind) cut to 255, 48,
//!   128 and 32 octets of printable US-ASCII (any other character becomes `_`; empty
//!   becomes the nil value `-`).
//! - Three structured-data elements, in this order: [`SD_ID`] with the alert's key fields
//!   (a field that is not known is left out, never written empty), `origin` (`ip` when the
//!   sender has one, `software`, `swVersion`) and `meta` (`sequenceId`). Parameter values
//!   escape `"`, `\` and `]` with a backslash (§6.3.3); control characters become spaces.
//! - MSG is the alert's one-paragraph message, UTF-8 starting with the byte-order mark
//!   (§6.4), control characters replaced by spaces. With [`Sender::max_octets`] set, MSG is
//!   cut (at a character boundary) so that the whole message fits, and `msgTruncated="true"`
//!   says so; the header and structured data are never cut (when they alone exceed the
//!   limit, the message is them without MSG, longer than the limit).
//! - A time that cannot be written with a four-digit year is clamped and flagged
//!   `timeClamped="true"`.

use super::{Facility, no_controls, syslog_severity, timestamp};
use crate::verdict::{Activity, Alert};
use farhand_model::Direction;
use farhand_model::identity::mac_text;
use std::fmt::Write as _;
use std::net::IpAddr;

/// The private structured-data ID of farhand's fields (32473 is the enterprise number
/// RFC 5612 reserves for documentation, used until farhand has one of its own).
pub const SD_ID: &str = "farhand@32473";
/// APP-NAME unless the sender says otherwise.
pub const APP_NAME: &str = "farhand";
/// RFC 5424 §6: HOSTNAME at most 255 octets.
pub const MAX_HOSTNAME: usize = 255;
/// RFC 5424 §6: APP-NAME at most 48 octets.
pub const MAX_APP_NAME: usize = 48;
/// RFC 5424 §6: PROCID at most 128 octets.
pub const MAX_PROCID: usize = 128;
/// RFC 5424 §6: MSGID at most 32 octets.
pub const MAX_MSGID: usize = 32;
/// RFC 5424 §6: an SD-NAME (parameter name or SD-ID) at most 32 octets.
pub const MAX_SD_NAME: usize = 32;
/// RFC 5424 §7.3.1: `sequenceId` counts 1..=2147483647, then starts again at 1.
pub const MAX_SEQUENCE_ID: u64 = 2_147_483_647;
/// The UTF-8 byte-order mark that opens a UTF-8 MSG (RFC 5424 §6.4).
pub const BOM: &str = "\u{feff}";

/// Who sends the messages: the header fields that are not the alert's.
#[derive(Debug, Clone)]
pub struct Sender {
    /// The facility (default `local0`, see [`Facility`]).
    pub facility: Facility,
    /// HOSTNAME: the sensor's name (FQDN, host name or address); empty = nil (`-`).
    pub hostname: String,
    /// APP-NAME (default [`APP_NAME`]).
    pub app_name: String,
    /// PROCID (the process id, as text); empty = nil (`-`).
    pub proc_id: String,
    /// The sensor's address, written as `origin ip` when given.
    pub ip: Option<IpAddr>,
    /// The largest message to write, in octets (for a transport that limits it, such as
    /// UDP); `None` = no limit.
    pub max_octets: Option<usize>,
}

impl Default for Sender {
    fn default() -> Sender {
        Sender {
            facility: Facility::default(),
            hostname: String::new(),
            app_name: APP_NAME.to_string(),
            proc_id: String::new(),
            ip: None,
            max_octets: None,
        }
    }
}

/// A header field: printable US-ASCII (33–126; anything else becomes `_`), at most `max`
/// octets, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s.chars().take(max).map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect();
    if v.is_empty() { "-".to_string() } else { v }
}

/// MSGID: the alert kind, as a header field of at most [`MAX_MSGID`] octets.
fn msgid(kind: &str) -> String {
    header_field(kind, MAX_MSGID)
}

/// Whether `name` may be an SD-NAME: 1–32 printable US-ASCII octets, none of `=`, `]`, `"`
/// or space.
pub fn sd_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SD_NAME
        && name.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'=' | b']' | b'"'))
}

/// Appends `s` as an SD-PARAM value: `"`, `\` and `]` escaped, control characters as spaces.
fn push_value(out: &mut String, s: &str) {
    for c in no_controls(s).chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Appends one SD-ELEMENT; parameters whose name is not a valid SD-NAME are left out
/// (names are farhand's own constants, so this only guards against a typo).
fn push_element(out: &mut String, id: &str, params: &[(&str, String)]) {
    out.push('[');
    out.push_str(id);
    for (name, value) in params.iter().filter(|(n, _)| sd_name_ok(n)) {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        push_value(out, value);
        out.push('"');
    }
    out.push(']');
}

/// farhand's own structured-data parameters.
fn farhand_params(a: &Alert, time_clamped: bool, msg_truncated: bool) -> Vec<(&'static str, String)> {
    let mut p: Vec<(&'static str, String)> = vec![
        ("alertId", a.id.clone()),
        (
            "activity",
            match a.activity {
                Activity::Create => "create",
                Activity::Update => "update",
            }
            .to_string(),
        ),
        ("kind", a.kind.name().to_string()),
        ("tool", a.tool_name.clone()),
        ("severity", a.severity.caption().to_string()),
        ("confidence", a.confidence.to_string()),
        (
            "direction",
            match a.direction {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            }
            .to_string(),
        ),
        ("endpointIp", a.endpoint.ip.to_string()),
        ("endpointPort", a.endpoint.port.to_string()),
    ];
    if let Some(id) = &a.endpoint_identity {
        if let Some(m) = &id.mac {
            p.push(("endpointMac", mac_text(m)));
        }
        if let Some((h, _)) = &id.hostname {
            p.push(("endpointHostname", h.clone()));
        }
    }
    p.push(("peerIp", a.peer.ip.to_string()));
    p.push(("peerPort", a.peer.port.to_string()));
    if let Some(c) = &a.peer_info.country {
        p.push(("peerCountry", c.clone()));
    }
    if let Some(n) = a.peer_info.asn {
        p.push(("peerAsn", n.to_string()));
    }
    if let Some(o) = &a.peer_info.org {
        p.push(("peerOrg", o.clone()));
    }
    if let Some(o) = &a.context.owner {
        p.push(("peerOwner", o.name.to_string()));
    }
    if !a.community_id.is_empty() {
        p.push(("communityId", a.community_id.clone()));
    }
    if let Some(g) = a.gap.as_ref().filter(|g| g.gap_ms.is_finite()) {
        p.push(("gapMs", format!("{:.1}", g.gap_ms)));
    }
    if let Some(e) = &a.episode {
        p.push(("episodeScore", e.score.to_string()));
    }
    if time_clamped {
        p.push(("timeClamped", "true".to_string()));
    }
    if msg_truncated {
        p.push(("msgTruncated", "true".to_string()));
    }
    p
}

/// `n` as an RFC 5424 `sequenceId`: counters start at 1 and wrap from
/// [`MAX_SEQUENCE_ID`] back to 1 (0 is written as 1).
pub fn sequence_id(n: u64) -> u64 {
    n.saturating_sub(1) % MAX_SEQUENCE_ID + 1
}

/// Everything before MSG, without the separating space.
fn prefix(a: &Alert, s: &Sender, sequence: u64, msg_truncated: bool) -> String {
    let (time, clamped) = timestamp(a.time);
    let pri = u16::from(s.facility.code()) * 8 + u16::from(syslog_severity(a.severity));
    let mut out = String::with_capacity(512);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "<{pri}>1 {time} {} {} {} {} ",
        header_field(&s.hostname, MAX_HOSTNAME),
        header_field(&s.app_name, MAX_APP_NAME),
        header_field(&s.proc_id, MAX_PROCID),
        msgid(a.kind.name()),
    );
    push_element(&mut out, SD_ID, &farhand_params(a, clamped, msg_truncated));
    let mut origin = Vec::with_capacity(3);
    if let Some(ip) = s.ip {
        origin.push(("ip", ip.to_string()));
    }
    origin.push(("software", "farhand".to_string()));
    origin.push(("swVersion", env!("CARGO_PKG_VERSION").to_string()));
    push_element(&mut out, "origin", &origin);
    push_element(&mut out, "meta", &[("sequenceId", sequence_id(sequence).to_string())]);
    out
}

/// The longest prefix of `s` of at most `max` octets that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// The alert as one RFC 5424 message (no framing, no trailing newline); `sequence` is the
/// sender's message counter, written as `meta sequenceId` ([`sequence_id`]).
pub fn rfc5424(a: &Alert, s: &Sender, sequence: u64) -> String {
    let text = no_controls(&a.message);
    let whole = |p: &str| p.len() + 1 + BOM.len() + text.len();
    let mut head = prefix(a, s, sequence, false);
    let mut text: &str = &text;
    if let Some(max) = s.max_octets.filter(|&m| whole(&head) > m) {
        head = prefix(a, s, sequence, true);
        // Room left for the message text after the space and the BOM (none: no MSG).
        let room = max.saturating_sub(head.len() + 1 + BOM.len());
        if room == 0 {
            return head;
        }
        text = cut(text, room);
    }
    let mut out = head;
    out.reserve(1 + BOM.len() + text.len());
    out.push(' ');
    out.push_str(BOM);
    out.push_str(text);
    out
}

/// RFC 6587 octet-counting framing for syslog over TCP or TLS: `LEN SP MSG`, LEN the
/// message's length in octets.
pub fn octet_counted(msg: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 8);
    out.extend_from_slice(msg.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{LAPTOP, PEER, episode_scored, inbound, relayed_gap, vnc_alert};
    use super::*;
    use crate::verdict::{AlertKind, Severity};
    use farhand_model::identity::{EndpointIdentity, NameSource};
    use farhand_model::owner::{MatchedBy, OwnerKind, OwnerMatch};
    use syslog_rfc5424::message::ProcId;
    use syslog_rfc5424::{SyslogFacility, SyslogMessage, SyslogSeverity, parse_message};

    fn sender() -> Sender {
        Sender {
            facility: Facility::Local3,
            hostname: "sensor-1.example.org".into(),
            proc_id: "4242".into(),
            ip: Some("192.0.2.7".parse().unwrap()),
            ..Sender::default()
        }
    }

    /// An inbound VNC alert with everything known: identity, enrichment, owner, gap, episode.
    fn full() -> Alert {
        let mut a = inbound();
        a.severity = Severity::High;
        a.time = 1_714_564_800_000_042;
        a.endpoint_identity = Some(EndpointIdentity {
            mac: Some([0x02, 0x00, 0x0a, 0x29, 0x00, 0x42]),
            hostname: Some(("laptop-ab12".into(), NameSource::DhcpHostname)),
            names: vec![],
        });
        a.peer_info.country = Some("RU".into());
        a.peer_info.asn = Some(64500);
        a.peer_info.org = Some("Example Hosting".into());
        a.context.owner = Some(OwnerMatch {
            name: "Example Cloud".into(),
            kind: OwnerKind::Hosting,
            by: MatchedBy::Asn,
            cidr: None,
            asn: Some(64500),
            source: None,
        });
        a.gap = Some(relayed_gap(143.25));
        a.episode = Some(episode_scored(72));
        a
    }

    fn parse(line: &str) -> SyslogMessage {
        parse_message(line).unwrap_or_else(|e| panic!("{e:?}: {line}"))
    }

    fn param<'m>(m: &'m SyslogMessage, id: &str, name: &str) -> Option<&'m str> {
        m.sd.find_tuple(id, name).map(String::as_str)
    }

    #[test]
    fn every_field_parses_back() {
        let a = full();
        let line = rfc5424(&a, &sender(), 7);
        let m = parse(&line);
        assert_eq!(m.facility, SyslogFacility::LOG_LOCAL3);
        assert_eq!(m.severity, SyslogSeverity::SEV_ERR, "High → 3 err");
        assert!(line.starts_with("<155>1 2024-05-01T12:00:00.000042Z "), "{line}");
        assert_eq!(m.version, 1);
        assert_eq!(m.timestamp, Some(1_714_564_800));
        assert_eq!(m.timestamp_nanos, Some(42_000));
        assert_eq!(m.hostname.as_deref(), Some("sensor-1.example.org"));
        assert_eq!(m.appname.as_deref(), Some("farhand"));
        assert_eq!(m.procid, Some(ProcId::PID(4242)));
        assert_eq!(m.msgid.as_deref(), Some("remote_control_session"));
        let want = [
            ("alertId", a.id.as_str()),
            ("activity", "create"),
            ("kind", "remote_control_session"),
            ("tool", "vnc"),
            ("severity", "High"),
            ("confidence", "90"),
            ("direction", "inbound"),
            ("endpointIp", "10.41.0.120"),
            ("endpointPort", "5900"),
            ("endpointMac", "02:00:0a:29:00:42"),
            ("endpointHostname", "laptop-ab12"),
            ("peerIp", "203.0.113.9"),
            ("peerPort", "40000"),
            ("peerCountry", "RU"),
            ("peerAsn", "64500"),
            ("peerOrg", "Example Hosting"),
            ("peerOwner", "Example Cloud"),
            ("communityId", a.community_id.as_str()),
            ("gapMs", "143.2"),
            ("episodeScore", "72"),
        ];
        let farhand = m.sd.find_sdid(SD_ID).unwrap();
        assert_eq!(farhand.len(), want.len(), "{farhand:?}");
        for (k, v) in want {
            assert_eq!(farhand.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert!(a.community_id.starts_with("1:"), "the verdict fills the community id");
        assert_eq!(param(&m, "origin", "ip"), Some("192.0.2.7"));
        assert_eq!(param(&m, "origin", "software"), Some("farhand"));
        assert_eq!(param(&m, "origin", "swVersion"), Some(env!("CARGO_PKG_VERSION")));
        assert_eq!(param(&m, "meta", "sequenceId"), Some("7"));
        assert_eq!(m.sd.len(), 3);
        assert_eq!(m.msg, format!("{BOM}{}", a.message));
        assert!(line.as_bytes().windows(4).any(|w| w == b" \xEF\xBB\xBF"), "MSG opens with the UTF-8 BOM");
        // Every parameter name is a valid SD-NAME.
        for (id, params) in m.sd.iter() {
            assert!(sd_name_ok(id) || id == SD_ID, "{id}");
            for k in params.keys() {
                assert!(sd_name_ok(k), "{k}");
            }
        }
    }

    #[test]
    fn unknown_fields_are_left_out_and_nil_header_fields_are_dashes() {
        let a = vnc_alert((LAPTOP, 40000), (PEER, 5900));
        let line = rfc5424(&a, &Sender::default(), 1);
        let m = parse(&line);
        assert_eq!(m.facility, SyslogFacility::LOG_LOCAL0, "local0 by default");
        assert_eq!(m.hostname, None);
        assert_eq!(m.procid, None);
        assert!(line.contains(" - farhand - remote_control_session ["), "{line}");
        let farhand = m.sd.find_sdid(SD_ID).unwrap();
        for k in [
            "endpointMac",
            "endpointHostname",
            "peerCountry",
            "peerAsn",
            "peerOrg",
            "peerOwner",
            "gapMs",
            "episodeScore",
            "timeClamped",
            "msgTruncated",
        ] {
            assert!(!farhand.contains_key(k), "{k}");
        }
        assert_eq!(farhand.get("direction").map(String::as_str), Some("outbound"));
        assert_eq!(param(&m, "origin", "ip"), None);
        assert!(!line.contains("=\"\""), "no empty values: {line}");
    }

    #[test]
    fn severities_map_to_pri() {
        for (sev, pri) in [
            (Severity::Informational, "<134>"),
            (Severity::Low, "<133>"),
            (Severity::Medium, "<132>"),
            (Severity::High, "<131>"),
            (Severity::Critical, "<130>"),
        ] {
            let mut a = inbound();
            a.severity = sev;
            assert!(rfc5424(&a, &Sender::default(), 1).starts_with(pri), "{sev:?}");
        }
    }

    #[test]
    fn hostile_values_are_escaped_and_parse_back_unchanged() {
        let mut a = full();
        a.tool_name = r#"v"n]c\"#.into();
        a.peer_info.org = Some(r#"Evil] [meta sequenceId="1"] x"#.into());
        a.endpoint_identity = Some(EndpointIdentity {
            mac: None,
            hostname: Some(("bad\nname\r\0".into(), NameSource::DhcpHostname)),
            names: vec![],
        });
        a.message = "line one\nline two \"quoted\" ] \\ — ünïcödé".into();
        let s = Sender { hostname: "hôte näme\twith spaces".into(), ..sender() };
        let line = rfc5424(&a, &s, 1);
        assert!(!line.contains('\n') && !line.contains('\r') && !line.contains('\0'), "{line:?}");
        assert!(line.contains(r#"tool="v\"n\]c\\""#), "{line}");
        let m = parse(&line);
        assert_eq!(m.hostname.as_deref(), Some("h_te_n_me_with_spaces"));
        assert_eq!(param(&m, SD_ID, "tool"), Some(r#"v"n]c\"#));
        assert_eq!(param(&m, SD_ID, "peerOrg"), Some(r#"Evil] [meta sequenceId="1"] x"#));
        assert_eq!(param(&m, SD_ID, "endpointHostname"), Some("bad name  "));
        assert_eq!(param(&m, "meta", "sequenceId"), Some("1"));
        assert_eq!(m.sd.len(), 3, "no element injected");
        assert_eq!(m.msg, format!("{BOM}line one line two \"quoted\" ] \\ — ünïcödé"));
    }

    #[test]
    fn a_10_kb_message_passes_whole_or_is_cut_to_the_limit() {
        let mut a = full();
        // 10 240 octets of two-octet characters: a cut must land between them.
        a.message = "é".repeat(5120);
        let line = rfc5424(&a, &sender(), 1);
        let m = parse(&line);
        assert_eq!(m.msg, format!("{BOM}{}", a.message));
        assert_eq!(param(&m, SD_ID, "msgTruncated"), None);

        for max in [4096, 2048, 1181, 1180] {
            let s = Sender { max_octets: Some(max), ..sender() };
            let line = rfc5424(&a, &s, 1);
            assert!(line.len() <= max && line.len() >= max - 1, "{max}: {}", line.len());
            let m = parse(&line);
            assert_eq!(param(&m, SD_ID, "msgTruncated"), Some("true"));
            let text = m.msg.strip_prefix(BOM).unwrap();
            assert!(!text.is_empty() && text.chars().all(|c| c == 'é'));
        }
        // A limit below the header and structured data: no MSG at all, still a valid message.
        let s = Sender { max_octets: Some(100), ..sender() };
        let line = rfc5424(&a, &s, 1);
        assert!(line.ends_with(']'), "{line}");
        assert_eq!(parse(&line).msg, "");
        // A short message under the limit is untouched.
        let s = Sender { max_octets: Some(2048), ..sender() };
        let short = full();
        assert_eq!(rfc5424(&short, &s, 1), rfc5424(&short, &sender(), 1));
    }

    #[test]
    fn header_fields_are_cut_to_their_limits() {
        let a = full();
        let s = Sender { hostname: "h".repeat(300), app_name: "a".repeat(60), proc_id: "p".repeat(200), ..sender() };
        let line = rfc5424(&a, &s, 1);
        let fields: Vec<&str> = line.splitn(7, ' ').collect();
        assert_eq!(fields[2], "h".repeat(MAX_HOSTNAME));
        assert_eq!(fields[3], "a".repeat(MAX_APP_NAME));
        assert_eq!(fields[4], "p".repeat(MAX_PROCID));
        let m = parse(&line);
        assert_eq!(m.hostname.unwrap().len(), 255);
        assert_eq!(m.appname.unwrap().len(), 48);
        assert_eq!(m.procid, Some(ProcId::Name("p".repeat(128))));
        // MSGID: every alert kind fits; a longer one would be cut.
        for k in AlertKind::all() {
            assert_eq!(msgid(k.name()), k.name());
        }
        assert_eq!(msgid(&"k".repeat(40)), "k".repeat(MAX_MSGID));
        assert_eq!(msgid("ä b"), "__b");
        assert_eq!(msgid(""), "-");
        // A multi-octet character never straddles the limit: it is one `_`.
        assert_eq!(header_field(&"ü".repeat(300), MAX_HOSTNAME), "_".repeat(255));
    }

    #[test]
    fn sd_names() {
        assert!(sd_name_ok("sequenceId") && sd_name_ok(SD_ID));
        for bad in ["", "a=b", "a]", "a\"", "a b", "é", &"n".repeat(33)] {
            assert!(!sd_name_ok(bad), "{bad}");
        }
        assert!(sd_name_ok(&"n".repeat(32)));
    }

    #[test]
    fn out_of_range_times_are_clamped_and_flagged() {
        let mut a = full();
        a.time = u64::MAX;
        let line = rfc5424(&a, &sender(), 1);
        assert!(line.contains(" 9999-12-31T23:59:59.999999Z "), "{line}");
        let m = parse(&line);
        assert_eq!(param(&m, SD_ID, "timeClamped"), Some("true"));
        assert_eq!(param(&parse(&rfc5424(&full(), &sender(), 1)), SD_ID, "timeClamped"), None);
    }

    #[test]
    fn sequence_ids_wrap() {
        assert_eq!(sequence_id(0), 1);
        assert_eq!(sequence_id(1), 1);
        assert_eq!(sequence_id(MAX_SEQUENCE_ID), MAX_SEQUENCE_ID);
        assert_eq!(sequence_id(MAX_SEQUENCE_ID + 1), 1);
        assert_eq!(sequence_id(u64::MAX), (u64::MAX - 1) % MAX_SEQUENCE_ID + 1);
        let line = rfc5424(&full(), &sender(), MAX_SEQUENCE_ID + 5);
        assert_eq!(param(&parse(&line), "meta", "sequenceId"), Some("5"));
    }

    #[test]
    fn octet_counting_counts_octets() {
        assert_eq!(octet_counted("hello"), b"5 hello");
        assert_eq!(octet_counted(""), b"0 ");
        let line = rfc5424(&full(), &sender(), 1);
        let framed = octet_counted(&line);
        let (len, rest) = std::str::from_utf8(&framed).unwrap().split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), rest.len());
        assert_eq!(rest, line);
        assert_eq!(octet_counted("é"), "2 é".as_bytes());
    }
}
