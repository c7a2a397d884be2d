//! An alert as an ArcSight Common Event Format (CEF) record.
//!
//! # Contract
//! - [`cef`] writes `CEF:0|farhand|farhand|VERSION|SignatureID|Name|Severity|Extension`:
//!   SignatureID is the alert kind, Name the alert's title, Severity 0–10 from
//!   [`cef_severity`]. In the header `\` and `|` are escaped with a backslash; in extension
//!   values `\` and `=` are, and CR/LF are written `\r`/`\n`. Other control characters
//!   become spaces, everywhere.
//! - Extension keys, in this order, a key whose value is not known left out: `rt` (alert
//!   time, ms since the epoch), `externalId` (alert id), `act` (`create` or `update`), `cat`
//!   (the tool's category), `src` `spt` `dst` `dpt` (connection roles: the source opened the
//!   connection, as in the JSON alert), `proto` (`TCP`/`UDP`), `app` (the tool),
//!   `deviceDirection` (0 inbound, 1 outbound), the endpoint's MAC and host name as
//!   `smac`/`shost` when the endpoint is the source and `dmac`/`dhost` when it is the
//!   destination, `cs1` tool / `cs2` peer country, `cn1` relay gap in whole ms / `cn2`
//!   episode score (each with its `…Label`), `start` and `end` (ms), and `msg` last.
//! - Never panics; a time is clamped as [`super::timestamp`] clamps it.

use super::{MAX_TIME, cef_severity};
use crate::sink::json::title;
use crate::verdict::{Activity, Alert};
use farhand_model::identity::mac_text;
use farhand_model::{Category, Direction, Micros};

/// Appends `s` as a CEF header field: `\` and `|` escaped, control characters as spaces.
fn push_header(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

/// Appends `s` as a CEF extension value: `\` and `=` escaped, CR and LF as `\r` and `\n`,
/// other control characters as spaces.
fn push_value(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

/// The tool category as the JSON alert names it.
fn category(c: Category) -> &'static str {
    match c {
        Category::RemoteControl => "remote_control",
        Category::Relay => "relay",
        Category::Vpn => "vpn",
        Category::Tunnel => "tunnel",
        Category::Proxy => "proxy",
    }
}

/// Milliseconds since the epoch, clamped like RFC 5424 timestamps.
fn ms(us: Micros) -> String {
    (us.min(MAX_TIME) / 1000).to_string()
}

/// The alert as one CEF record (no syslog header, no trailing newline).
pub fn cef(a: &Alert) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("CEF:0|farhand|farhand|");
    push_header(&mut out, env!("CARGO_PKG_VERSION"));
    out.push('|');
    push_header(&mut out, a.kind.name());
    out.push('|');
    push_header(&mut out, &title(a));
    out.push('|');
    out.push_str(&cef_severity(a.severity).to_string());
    out.push('|');

    let (src, dst) = match a.direction {
        Direction::Inbound => (&a.peer, &a.endpoint),
        Direction::Outbound => (&a.endpoint, &a.peer),
    };
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", ms(a.time)),
        ("externalId", a.id.clone()),
        (
            "act",
            match a.activity {
                Activity::Create => "create",
                Activity::Update => "update",
            }
            .to_string(),
        ),
        ("cat", category(a.category).to_string()),
        ("src", src.ip.to_string()),
        ("spt", src.port.to_string()),
        ("dst", dst.ip.to_string()),
        ("dpt", dst.port.to_string()),
        ("proto", a.transport.name().to_ascii_uppercase()),
        ("app", a.tool_name.clone()),
        (
            "deviceDirection",
            match a.direction {
                Direction::Inbound => "0",
                Direction::Outbound => "1",
            }
            .to_string(),
        ),
    ];
    if let Some(id) = &a.endpoint_identity {
        let (mac_key, host_key) = match a.direction {
            Direction::Inbound => ("dmac", "dhost"),
            Direction::Outbound => ("smac", "shost"),
        };
        if let Some(m) = &id.mac {
            ext.push((mac_key, mac_text(m)));
        }
        if let Some((h, _)) = &id.hostname {
            ext.push((host_key, h.clone()));
        }
    }
    ext.push(("cs1Label", "tool".to_string()));
    ext.push(("cs1", a.tool_name.clone()));
    if let Some(c) = &a.peer_info.country {
        ext.push(("cs2Label", "peerCountry".to_string()));
        ext.push(("cs2", c.clone()));
    }
    if let Some(g) = a.gap.as_ref().filter(|g| g.gap_ms.is_finite()) {
        ext.push(("cn1Label", "gapMs".to_string()));
        // `as` saturates a float beyond i64 (and the value is finite).
        ext.push(("cn1", (g.gap_ms.round() as i64).to_string()));
    }
    if let Some(e) = &a.episode {
        ext.push(("cn2Label", "episodeScore".to_string()));
        ext.push(("cn2", e.score.to_string()));
    }
    ext.push(("start", ms(a.first_seen)));
    ext.push(("end", ms(a.last_seen)));
    ext.push(("msg", a.message.clone()));

    for (i, (k, v)) in ext.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push('=');
        push_value(&mut out, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{LAPTOP, PEER, episode_scored, inbound, relayed_gap, vnc_alert};
    use super::*;
    use crate::verdict::Severity;
    use farhand_model::identity::{EndpointIdentity, NameSource};
    use std::collections::BTreeMap;

    /// Splits `s` at every `sep` not escaped by a backslash, undoing `\\` and `\<sep>`.
    fn split_header(s: &str) -> Vec<String> {
        let mut parts = vec![String::new()];
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => parts.last_mut().unwrap().push(chars.next().unwrap()),
                '|' => parts.push(String::new()),
                c => parts.last_mut().unwrap().push(c),
            }
        }
        parts
    }

    /// A CEF record read back: the seven header fields and the extension's pairs (a value
    /// runs to the last space before the next unescaped `key=`).
    fn parse(line: &str) -> (Vec<String>, Vec<(String, String)>) {
        // The extension starts after the 7th unescaped pipe.
        let mut pipes = 0;
        let mut escaped = false;
        let mut cut = None;
        for (i, c) in line.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '|' {
                pipes += 1;
                if pipes == 7 {
                    cut = Some(i);
                    break;
                }
            }
        }
        let cut = cut.expect("seven header pipes");
        let header = split_header(&line[..cut]);
        let ext = &line[cut + 1..];
        // Tokens: find unescaped '=' and take the word before it as the key.
        let bytes: Vec<char> = ext.chars().collect();
        let mut eqs = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == '\\' {
                i += 2;
                continue;
            }
            if bytes[i] == '=' {
                let mut k = i;
                while k > 0 && bytes[k - 1].is_ascii_alphanumeric() {
                    k -= 1;
                }
                assert!(k == 0 || bytes[k - 1] == ' ', "key boundary at {k} in {ext}");
                eqs.push((k, i));
            }
            i += 1;
        }
        let mut pairs = Vec::new();
        for (n, &(k, eq)) in eqs.iter().enumerate() {
            let end = eqs.get(n + 1).map(|&(k2, _)| k2 - 1).unwrap_or(bytes.len());
            let key: String = bytes[k..eq].iter().collect();
            let raw: String = bytes[eq + 1..end].iter().collect();
            let mut v = String::new();
            let mut it = raw.chars();
            while let Some(c) = it.next() {
                if c == '\\' {
                    match it.next().unwrap() {
                        'n' => v.push('\n'),
                        'r' => v.push('\r'),
                        c @ ('\\' | '=') => v.push(c),
                        c => panic!("bad escape \\{c} in {raw}"),
                    }
                } else {
                    v.push(c);
                }
            }
            pairs.push((key, v));
        }
        (header, pairs)
    }

    fn full() -> Alert {
        let mut a = inbound();
        a.severity = Severity::High;
        a.time = 1_714_564_800_123_456;
        a.endpoint_identity = Some(EndpointIdentity {
            mac: Some([0x02, 0x00, 0x0a, 0x29, 0x00, 0x42]),
            hostname: Some(("laptop-ab12".into(), NameSource::DhcpHostname)),
            names: vec![],
        });
        a.peer_info.country = Some("RU".into());
        a.gap = Some(relayed_gap(143.6));
        a.episode = Some(episode_scored(72));
        a
    }

    #[test]
    fn header_and_standard_keys() {
        let a = full();
        let line = cef(&a);
        let (h, ext) = parse(&line);
        assert_eq!(
            h,
            ["CEF:0", "farhand", "farhand", env!("CARGO_PKG_VERSION"), "remote_control_session", &title(&a), "8"]
        );
        let keys: Vec<&str> = ext.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "rt",
                "externalId",
                "act",
                "cat",
                "src",
                "spt",
                "dst",
                "dpt",
                "proto",
                "app",
                "deviceDirection",
                "dmac",
                "dhost",
                "cs1Label",
                "cs1",
                "cs2Label",
                "cs2",
                "cn1Label",
                "cn1",
                "cn2Label",
                "cn2",
                "start",
                "end",
                "msg"
            ]
        );
        let m: BTreeMap<_, _> = ext.into_iter().collect();
        let get = |k: &str| m.get(k).map(String::as_str);
        assert_eq!(get("rt"), Some("1714564800123"));
        assert_eq!(get("externalId"), Some(a.id.as_str()));
        assert_eq!(get("act"), Some("create"));
        assert_eq!(get("cat"), Some("remote_control"));
        // Inbound: the peer opened the connection, so it is the source.
        assert_eq!(get("src"), Some("203.0.113.9"));
        assert_eq!(get("spt"), Some("40000"));
        assert_eq!(get("dst"), Some("10.41.0.120"));
        assert_eq!(get("dpt"), Some("5900"));
        assert_eq!(get("proto"), Some("TCP"));
        assert_eq!(get("app"), Some("vnc"));
        assert_eq!(get("deviceDirection"), Some("0"));
        assert_eq!(get("dmac"), Some("02:00:0a:29:00:42"));
        assert_eq!(get("dhost"), Some("laptop-ab12"));
        assert_eq!((get("cs1Label"), get("cs1")), (Some("tool"), Some("vnc")));
        assert_eq!((get("cs2Label"), get("cs2")), (Some("peerCountry"), Some("RU")));
        assert_eq!((get("cn1Label"), get("cn1")), (Some("gapMs"), Some("144")));
        assert_eq!((get("cn2Label"), get("cn2")), (Some("episodeScore"), Some("72")));
        assert_eq!(get("start"), Some("1000"));
        assert_eq!(get("end"), Some("2000"));
        assert_eq!(get("msg"), Some(a.message.as_str()));
    }

    #[test]
    fn outbound_puts_the_endpoint_first_and_unknowns_are_left_out() {
        let mut a = vnc_alert((LAPTOP, 40000), (PEER, 5900));
        a.endpoint_identity = Some(EndpointIdentity { mac: Some([2, 0, 0, 0, 0, 1]), hostname: None, names: vec![] });
        let (_, ext) = parse(&cef(&a));
        let m: BTreeMap<_, _> = ext.into_iter().collect();
        assert_eq!(m["src"], "10.41.0.120");
        assert_eq!(m["deviceDirection"], "1");
        assert_eq!(m["smac"], "02:00:00:00:00:01");
        for k in ["shost", "dmac", "dhost", "cs2", "cs2Label", "cn1", "cn1Label", "cn2", "cn2Label"] {
            assert!(!m.contains_key(k), "{k}");
        }
    }

    #[test]
    fn severities() {
        for (sev, want) in [
            (Severity::Informational, "1"),
            (Severity::Low, "3"),
            (Severity::Medium, "5"),
            (Severity::High, "8"),
            (Severity::Critical, "10"),
        ] {
            let mut a = inbound();
            a.severity = sev;
            assert_eq!(parse(&cef(&a)).0[6], want);
        }
    }

    /// The escaping rules of the CEF specification, written out by hand.
    #[test]
    fn escaping_vectors() {
        let header = |s: &str| {
            let mut o = String::new();
            push_header(&mut o, s);
            o
        };
        let value = |s: &str| {
            let mut o = String::new();
            push_value(&mut o, s);
            o
        };
        assert_eq!(header("detected|a|pipe"), r"detected\|a\|pipe");
        assert_eq!(header(r"C:\Windows"), r"C:\\Windows");
        assert_eq!(header("a=b"), "a=b", "no = escaping in the header");
        assert_eq!(header("two\nlines"), "two lines");
        assert_eq!(value("a=b"), r"a\=b");
        assert_eq!(value(r"C:\Windows"), r"C:\\Windows");
        assert_eq!(value("a|b"), "a|b", "no pipe escaping in the extension");
        assert_eq!(value("line1\nline2\r\n"), r"line1\nline2\r\n");
        assert_eq!(value("tab\there"), "tab here");
        assert_eq!(value(r"\="), r"\\\=");
    }

    #[test]
    fn hostile_values_round_trip() {
        let mut a = full();
        a.tool_name = r"evil|tool\ msg=injected".into();
        a.tool_title = "Evil|Title\\".into();
        a.message = "first line\nsecond = line | with \\ backslash cs1=fake".into();
        a.peer_info.country = Some("X=Y".into());
        let line = cef(&a);
        assert!(!line.contains('\n') && !line.contains('\r'));
        let (h, ext) = parse(&line);
        assert_eq!(h.len(), 7);
        assert_eq!(h[5], "Evil|Title\\ remote-control session");
        let m: BTreeMap<_, _> = ext.iter().cloned().collect();
        assert_eq!(ext.len(), m.len(), "no key appears twice: {line}");
        assert_eq!(m["app"], r"evil|tool\ msg=injected");
        assert_eq!(m["cs1"], r"evil|tool\ msg=injected");
        assert_eq!(m["cs2"], "X=Y");
        assert_eq!(m["msg"], a.message);
    }

    #[test]
    fn huge_times_and_gaps_do_not_panic() {
        let mut a = full();
        a.time = u64::MAX;
        a.gap.as_mut().unwrap().gap_ms = 1e300;
        let (_, ext) = parse(&cef(&a));
        let m: BTreeMap<_, _> = ext.into_iter().collect();
        assert_eq!(m["rt"], (MAX_TIME / 1000).to_string());
        assert_eq!(m["cn1"], i64::MAX.to_string());
        a.gap.as_mut().unwrap().gap_ms = f64::NAN;
        assert!(!cef(&a).contains("cn1="));
    }
}
