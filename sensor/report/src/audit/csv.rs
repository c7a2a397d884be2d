//! The report's CSV files: `alerts.csv` and `sessions.csv`.
//!
//! # Contract
//! - RFC 4180: a header row, records ending in CRLF, a field quoted (`"…"`, inner `"`
//!   doubled) when it holds `,`, `"`, CR or LF; every other field is written as is.
//! - Spreadsheet formula injection: a text field (anything that came from outside, such as a
//!   host name, a message or an AS organisation) that starts with `=`, `+`, `-`, `@`, a tab
//!   or CR gets a leading `'`, so a spreadsheet shows it as text instead of evaluating it.
//!   Numbers the report writes itself (ports, byte counts, gaps, which may be negative) are
//!   never prefixed.
//! - Times are RFC 3339 UTC with microseconds; an absent value is an empty field.
//! - One row per alert / session of the [`ReportData`], in its order; the alert's full JSON
//!   is not repeated here (it is in `report.json`).

use super::period::rfc3339;
use crate::records::ReportData;

/// A CSV field: text from outside (guarded against formula injection) or a number the report
/// wrote itself.
enum Field<'a> {
    /// Text that may be hostile.
    Text(&'a str),
    /// A value the report formatted (a number, a time, a boolean): written verbatim (quoted
    /// if it needs it).
    Own(String),
}

/// `s` as one CSV field, with the formula guard when `guard` is set.
pub(crate) fn field(s: &str, guard: bool) -> String {
    let formula = guard && s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let needs_quotes = s.contains([',', '"', '\r', '\n']);
    let mut out = String::with_capacity(s.len() + 3);
    if needs_quotes {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if needs_quotes {
        out.push('"');
    }
    out
}

/// Appends one record (fields joined by `,`, ended by CRLF).
fn record<'a>(out: &mut String, fields: impl IntoIterator<Item = Field<'a>>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match f {
            Field::Text(s) => out.push_str(&field(s, true)),
            Field::Own(s) => out.push_str(&field(&s, false)),
        }
    }
    out.push_str("\r\n");
}

/// A whole file: the header row of `columns`, then one record per row, its fields from
/// `fields`.
fn table<'a, T, I>(columns: &[&str], rows: &'a [T], fields: impl Fn(&'a T) -> I) -> String
where
    I: IntoIterator<Item = Field<'a>>,
{
    let mut out = String::new();
    record(&mut out, columns.iter().map(|n| Field::Own((*n).to_string())));
    for r in rows {
        record(&mut out, fields(r));
    }
    out
}

fn opt_text(v: &Option<String>) -> Field<'_> {
    Field::Text(v.as_deref().unwrap_or(""))
}

fn opt_num<T: ToString>(v: Option<T>) -> Field<'static> {
    Field::Own(v.map(|x| x.to_string()).unwrap_or_default())
}

/// A float for a spreadsheet: finite values as Rust writes them, anything else empty.
fn float(v: Option<f64>) -> Field<'static> {
    Field::Own(v.filter(|x| x.is_finite()).map(|x| x.to_string()).unwrap_or_default())
}

/// The columns `endpoint_ip` … `peer_org`, which both files have, in this order, from an
/// alert's or a session's fields of the same names.
fn endpoint_and_peer<'a>(
    endpoint_ip: &'a str,
    peer_ip: &'a str,
    peer_port: u16,
    peer_country: &'a Option<String>,
    peer_asn: Option<u32>,
    peer_org: &'a Option<String>,
) -> [Field<'a>; 6] {
    [
        Field::Text(endpoint_ip),
        Field::Text(peer_ip),
        Field::Own(peer_port.to_string()),
        opt_text(peer_country),
        opt_num(peer_asn),
        opt_text(peer_org),
    ]
}

/// The columns of `alerts.csv`.
pub const ALERT_COLUMNS: [&str; 15] = [
    "time",
    "id",
    "sensor",
    "kind",
    "activity",
    "severity",
    "tool",
    "endpoint_ip",
    "peer_ip",
    "peer_port",
    "peer_country",
    "peer_asn",
    "peer_org",
    "gap_ms",
    "message",
];

/// The columns of `sessions.csv`.
pub const SESSION_COLUMNS: [&str; 23] = [
    "first_seen",
    "last_seen",
    "id",
    "sensor",
    "tool",
    "category",
    "direction",
    "transport",
    "endpoint_ip",
    "peer_ip",
    "peer_port",
    "peer_country",
    "peer_asn",
    "peer_org",
    "bytes_in",
    "bytes_out",
    "severity",
    "gap_ms",
    "relayed",
    "keys",
    "iki_median_ms",
    "rhythm",
    "duration_s",
];

/// `alerts.csv`: one row per alert.
pub fn alerts_csv(data: &ReportData) -> String {
    table(&ALERT_COLUMNS, &data.alerts, |a| {
        let head = [
            Field::Own(rfc3339(a.time_us)),
            Field::Text(&a.id),
            Field::Text(&a.sensor),
            Field::Text(&a.kind),
            Field::Text(&a.activity),
            Field::Text(&a.severity),
            Field::Text(&a.tool),
        ];
        let peer = endpoint_and_peer(&a.endpoint_ip, &a.peer_ip, a.peer_port, &a.peer_country, a.peer_asn, &a.peer_org);
        let tail = [float(a.gap_ms), Field::Text(&a.message)];
        head.into_iter().chain(peer).chain(tail)
    })
}

/// `sessions.csv`: one row per session.
pub fn sessions_csv(data: &ReportData) -> String {
    table(&SESSION_COLUMNS, &data.sessions, |s| {
        let duration_s = s.last_seen_us.saturating_sub(s.first_seen_us).max(0) as f64 / 1e6;
        let head = [
            Field::Own(rfc3339(s.first_seen_us)),
            Field::Own(rfc3339(s.last_seen_us)),
            Field::Text(&s.id),
            Field::Text(&s.sensor),
            Field::Text(&s.tool),
            Field::Text(&s.category),
            Field::Text(&s.direction),
            Field::Text(&s.transport),
        ];
        let peer = endpoint_and_peer(&s.endpoint_ip, &s.peer_ip, s.peer_port, &s.peer_country, s.peer_asn, &s.peer_org);
        let tail = [
            Field::Own(s.bytes_in.to_string()),
            Field::Own(s.bytes_out.to_string()),
            Field::Text(&s.severity),
            float(s.gap_ms),
            Field::Own(s.relayed.to_string()),
            opt_num(s.keys),
            float(s.iki_median_ms),
            opt_text(&s.rhythm),
            float(Some(duration_s)),
        ];
        head.into_iter().chain(peer).chain(tail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::tests::{alert, session};

    #[test]
    fn rfc4180_quoting() {
        assert_eq!(field("plain", true), "plain");
        assert_eq!(field("a,b", true), "\"a,b\"");
        assert_eq!(field("say \"hi\"", true), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\r\nlines", true), "\"two\r\nlines\"");
        assert_eq!(field("lf\nonly", true), "\"lf\nonly\"");
        assert_eq!(field("", true), "");
        assert_eq!(field("ünïcödé", true), "ünïcödé");
    }

    #[test]
    fn formula_injection_is_defused() {
        assert_eq!(field("=HYPERLINK(\"http://x\")", true), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(field("+1+2", true), "'+1+2");
        assert_eq!(field("-2+3", true), "'-2+3");
        assert_eq!(field("@SUM(A1)", true), "'@SUM(A1)");
        assert_eq!(field("\tcmd", true), "'\tcmd");
        assert_eq!(field("\r=1", true), "\"'\r=1\"");
        // Not at the start: left alone.
        assert_eq!(field("a=b", true), "a=b");
        // Numbers the report wrote itself are not prefixed.
        assert_eq!(field("-3.5", false), "-3.5");
    }

    /// Splits RFC 4180 text into records of fields (a small reader for the tests).
    pub(crate) fn parse(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut f = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if quoted {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        f.push('"');
                    } else {
                        quoted = false;
                    }
                } else {
                    f.push(c);
                }
            } else if c == '"' {
                quoted = true;
            } else if c == ',' {
                row.push(std::mem::take(&mut f));
            } else if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
                row.push(std::mem::take(&mut f));
                rows.push(std::mem::take(&mut row));
            } else {
                f.push(c);
            }
        }
        assert!(!quoted && f.is_empty() && row.is_empty(), "text ends mid-record");
        rows
    }

    #[test]
    fn alerts_round_trip_with_hostile_fields() {
        let mut a = alert(1_700_000_000_000_000, "High");
        a.message = "=cmd|' /C calc'!A0, \"quoted\"\r\nnext line".into();
        a.peer_org = Some("@evil, Inc.".into());
        a.gap_ms = Some(-4.25);
        let data = ReportData { alerts: vec![a.clone()], ..Default::default() };
        let text = alerts_csv(&data);
        assert!(text.ends_with("\r\n"));
        let rows = parse(&text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], ALERT_COLUMNS.map(String::from).to_vec());
        let r = &rows[1];
        assert_eq!(r.len(), ALERT_COLUMNS.len());
        assert_eq!(r[0], "2023-11-14T22:13:20.000000Z");
        assert_eq!(r[12], "'@evil, Inc.");
        assert_eq!(r[13], "-4.25");
        assert_eq!(r[14], format!("'{}", a.message));
    }

    #[test]
    fn sessions_have_all_columns() {
        let s = session("anydesk", 1_700_000_000_000_000, 30_000_000, Some(85.0), true, Some((400, 120.0, "human")));
        let data = ReportData { sessions: vec![s], ..Default::default() };
        let rows = parse(&sessions_csv(&data));
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.len() == SESSION_COLUMNS.len()));
        let r = &rows[1];
        assert_eq!(r[4], "anydesk");
        assert_eq!(r[18], "true");
        assert_eq!(r[19], "400");
        assert_eq!(r[21], "human");
        assert_eq!(r[22], "30");
        // Empty data: the header alone.
        assert_eq!(parse(&sessions_csv(&ReportData::default())).len(), 1);
    }
}
