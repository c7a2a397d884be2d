//! `report.html`: one self-contained page for auditors (inline CSS and SVG, no script, no
//! outside resource).
//!
//! # Contract
//! - The page holds a header (title, period, sensors, generation time, farhand version, the
//!   store), the summary counts, eight charts (alerts over time, alerts by kind, sessions by
//!   tool, peer countries, relay-gap distribution, keystroke rhythm, typing-rhythm labels,
//!   alerts by hour of day),
//!   the top-endpoints table and the alerts table (the first [`MAX_ALERT_ROWS`]; the page
//!   says when `alerts.csv` has more).
//! - Every string that came from data or meta goes through [`esc`]: `&`, `<`, `>`, `"` and
//!   `'` become entities and control characters become U+FFFD, so nothing in an alert can
//!   open a tag or leave an attribute.
//! - A period without alerts gives a complete page that says "no alerts in this period".
//! - The page references no URL (no `src=`, `href=` to the outside, no `@import`, no font
//!   files): it renders the same offline and in an archive years later.

use super::period::{DAY_US, HOUR_US, rfc3339_seconds, short, timestamp};
use super::svg::{self, Column, HBar, Point, Series};
use super::{ReportCounts, ReportMeta, SEVERITIES};
use crate::records::ReportData;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Rows of the alerts table at most (the rest is in `alerts.csv`).
pub const MAX_ALERT_ROWS: usize = 500;
/// Rows of the top-endpoints table at most.
pub const MAX_ENDPOINT_ROWS: usize = 25;
/// Bars of the peer-country chart at most (the rest is summed as "other").
const MAX_COUNTRY_BARS: usize = 12;
/// Columns of the time chart at most before a coarser bucket is chosen.
const MAX_TIME_COLUMNS: i128 = 96;

/// The report's main colour.
const ACCENT: &str = "#1f4e79";
/// Relayed sessions.
const RELAYED: &str = "#c2410c";
/// Sessions not judged relayed.
const DIRECT: &str = "#94a3b8";

/// `s` safe for HTML text and double- or single-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The colour of a severity caption.
pub(crate) fn severity_color(s: &str) -> &'static str {
    match s {
        "Fatal" => "#450a0a",
        "Critical" => "#991b1b",
        "High" => "#dc2626",
        "Medium" => "#f59e0b",
        "Low" => "#3b82f6",
        "Informational" => "#64748b",
        _ => "#a8a29e",
    }
}

/// The CSS class of a severity caption's badge (a fixed set: never data).
fn severity_class(s: &str) -> &'static str {
    match s {
        "Fatal" => "sev-fatal",
        "Critical" => "sev-critical",
        "High" => "sev-high",
        "Medium" => "sev-medium",
        "Low" => "sev-low",
        "Informational" => "sev-info",
        _ => "sev-other",
    }
}

/// The colour of a typing-rhythm label.
fn rhythm_color(s: &str) -> &'static str {
    match s {
        "human" => "#2563eb",
        "automated" => "#dc2626",
        "interactive_obfuscated" => "#9333ea",
        "too_few" => "#94a3b8",
        _ => "#57534e",
    }
}

/// A count with a thousands separator (`12,345`).
fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n thing` / `n things`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// A peer as `ip:port` (`[ip]:port` for IPv6).
fn peer(ip: &str, port: u16) -> String {
    if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") }
}

/// A duration in words, for the period line (`7 days`, `36 hours`).
fn span_words(us: i64) -> String {
    if us <= 0 {
        "empty".to_string()
    } else if us % DAY_US == 0 {
        plural((us / DAY_US) as u64, "day", "days")
    } else if us % HOUR_US == 0 {
        plural((us / HOUR_US) as u64, "hour", "hours")
    } else {
        format!("{:.1} hours", us as f64 / HOUR_US as f64)
    }
}

const CSS: &str = r#"
:root{--ink:#1c2430;--muted:#5b6675;--line:#dde3ea;--soft:#f4f6f9;--accent:#1f4e79}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;background:#fff;color:var(--ink);font:14px/1.45 "Segoe UI","Helvetica Neue",Helvetica,Arial,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1240px;margin:0 auto;padding:0 28px 40px}
header.top{background:var(--accent);color:#fff;padding:22px 28px 18px}
header.top .in{max-width:1184px;margin:0 auto;display:flex;flex-wrap:wrap;gap:12px 40px;justify-content:space-between;align-items:flex-end}
header.top h1{margin:0 0 4px;font-size:26px;font-weight:600;letter-spacing:.2px}
header.top .period{margin:0;font-size:15px;opacity:.92}
header.top dl{margin:0;display:grid;grid-template-columns:auto auto;gap:2px 14px;font-size:13px}
header.top dt{opacity:.75}
header.top dd{margin:0;font-weight:600;overflow-wrap:anywhere}
h2{font-size:17px;margin:28px 0 10px;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-top:22px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:var(--soft)}
.card .num{display:block;font-size:26px;font-weight:650;color:var(--accent);line-height:1.15}
.card .what{color:var(--muted);font-size:13px}
.sevs{margin:12px 0 0;display:flex;flex-wrap:wrap;gap:8px}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.sev-fatal{background:#450a0a}.sev-critical{background:#991b1b}.sev-high{background:#dc2626}
.sev-medium{background:#f59e0b;color:#1c1917}.sev-low{background:#3b82f6}.sev-info{background:#64748b}.sev-other{background:#a8a29e;color:#1c1917}
.empty{margin:22px 0 0;padding:14px 16px;border-left:4px solid var(--accent);background:var(--soft);font-size:15px}
.charts{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:18px;margin-top:8px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:12px 14px 10px;break-inside:avoid;page-break-inside:avoid}
figure h2{margin:0;font-size:15px}
figure .sub{margin:2px 0 8px;color:var(--muted);font-size:12.5px}
figure .foot{margin:6px 0 0;color:var(--muted);font-size:12.5px}
svg.chart{display:block;width:100%;height:auto}
svg.chart text{font-family:inherit}
svg .lbl{font-size:11px;fill:#5b6675}
svg .val{font-size:11px;fill:#1c2430;font-weight:600}
svg .grid{stroke:#e7ebf0;stroke-width:1}
svg .ax{stroke:#8a94a3;stroke-width:1}
svg .frame{fill:#f8fafc;stroke:#e2e8f0}
svg .nodata{font-size:13px;fill:#8a94a3}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th{text-align:left;background:var(--soft);color:#334155;font-weight:600;border-bottom:2px solid var(--line);padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:5px 8px;vertical-align:top}
tr{break-inside:avoid;page-break-inside:avoid}
thead{display:table-header-group}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:"DejaVu Sans Mono",Consolas,"Liberation Mono",monospace;font-size:12px;white-space:nowrap}
td.msg{overflow-wrap:anywhere;color:#334155;min-width:260px}
td.kind{min-width:9.5em}
td.ep{overflow-wrap:anywhere;min-width:11em}
.note{color:var(--muted);font-size:13px}
footer{max-width:1240px;margin:0 auto;padding:18px 28px 30px;border-top:1px solid var(--line);color:var(--muted);font-size:12.5px}
@media (max-width:900px){.charts{grid-template-columns:1fr}}
@page{size:A4;margin:12mm}
@media print{body{font-size:11px}main{padding:0}header.top{padding:12px 0}
 .charts{grid-template-columns:1fr;gap:10px}figure{padding:8px 10px}
 table{font-size:9.5px}.mono{font-size:9px;white-space:normal;overflow-wrap:anywhere}
 td.msg,td.kind,td.ep{min-width:0}th{white-space:normal}
 h2{break-after:avoid;page-break-after:avoid}section.alerts{break-before:page;page-break-before:always}}
"#;

/// Alert counts per time bucket: the bucket size and its label format.
struct Buckets {
    origin: i64,
    size: i64,
    count: usize,
    label: &'static str,
    what: &'static str,
}

/// The buckets of the time chart for `[lo, hi)`: hours up to 4 days, then days, weeks
/// (from Monday), 30-day spans, or whatever keeps the chart under 96 columns.
fn buckets(lo: i64, hi: i64) -> Buckets {
    const WEEK: i64 = 7 * DAY_US;
    // The epoch was a Thursday: Mondays are 4 days after a multiple of 7 days.
    const MONDAY: i64 = 4 * DAY_US;
    let span = i128::from(hi) - i128::from(lo);
    let cands: [(i64, i64, &str, &str); 4] = [
        (HOUR_US, 0, "%m-%d %H:00", "per hour"),
        (DAY_US, 0, "%Y-%m-%d", "per day (UTC)"),
        (WEEK, MONDAY, "%Y-%m-%d", "per week (from Monday)"),
        (30 * DAY_US, 0, "%Y-%m-%d", "per 30 days"),
    ];
    for (size, shift, label, what) in cands {
        let origin = (lo.saturating_sub(shift)).div_euclid(size).saturating_mul(size).saturating_add(shift);
        let n = (i128::from(hi) - i128::from(origin) + i128::from(size) - 1) / i128::from(size);
        if n <= MAX_TIME_COLUMNS {
            return Buckets { origin, size, count: usize::try_from(n.max(1)).unwrap_or(1), label, what };
        }
    }
    let size = i64::try_from(span / MAX_TIME_COLUMNS + 1).unwrap_or(i64::MAX);
    let n = usize::try_from(span / i128::from(size) + 1).unwrap_or(1);
    Buckets { origin: lo, size, count: n, label: "%Y-%m-%d", what: "per period" }
}

/// The severities present, in [`SEVERITIES`] order then any others by name.
fn severities_present(data: &ReportData) -> Vec<String> {
    let present: BTreeSet<&str> = data.alerts.iter().map(|a| a.severity.as_str()).collect();
    let mut out: Vec<String> = SEVERITIES.iter().filter(|s| present.contains(*s)).map(|s| (*s).to_string()).collect();
    for s in &present {
        if !SEVERITIES.contains(s) {
            out.push((*s).to_string());
        }
    }
    out
}

/// Chart: alerts over time, stacked by severity.
fn time_chart(data: &ReportData) -> (String, String) {
    let aria = "Alerts over time";
    let a_lo = data.alerts.iter().map(|a| a.time_us).min();
    let a_hi = data.alerts.iter().map(|a| a.time_us.saturating_add(1)).max();
    let (mut lo, mut hi) = (data.from_us, data.to_us);
    if hi <= lo {
        match (a_lo, a_hi) {
            (Some(l), Some(h)) => (lo, hi) = (l, h),
            _ => return (svg::no_data(aria, "no alerts in this period"), String::new()),
        }
    }
    lo = lo.min(a_lo.unwrap_or(lo));
    hi = hi.max(a_hi.unwrap_or(hi));
    let b = buckets(lo, hi);
    let sevs = severities_present(data);
    let mut counts = vec![vec![0f64; sevs.len()]; b.count];
    for a in &data.alerts {
        let i = usize::try_from((i128::from(a.time_us) - i128::from(b.origin)) / i128::from(b.size)).unwrap_or(0);
        let s = sevs.iter().position(|s| *s == a.severity);
        if let (Some(row), Some(s)) = (counts.get_mut(i), s)
            && let Some(c) = row.get_mut(s)
        {
            *c += 1.0;
        }
    }
    let cols: Vec<Column> = counts
        .into_iter()
        .enumerate()
        .map(|(i, values)| {
            let start = b.origin.saturating_add(b.size.saturating_mul(i as i64));
            let end = start.saturating_add(b.size);
            Column {
                label: timestamp(start).strftime(b.label).to_string(),
                values,
                tip: format!("{} – {} UTC", short(start), short(end)),
            }
        })
        .collect();
    let series: Vec<Series> = sevs.iter().map(|s| Series { name: s.clone(), color: severity_color(s) }).collect();
    let svg = if data.alerts.is_empty() {
        svg::no_data(aria, "no alerts in this period")
    } else {
        svg::columns(aria, &series, &cols, "alerts")
    };
    (svg, format!("{}, stacked by severity", b.what))
}

/// Chart: alerts by hour of day (UTC), stacked by severity.
fn hour_chart(data: &ReportData) -> String {
    let aria = "Alerts by hour of day";
    if data.alerts.is_empty() {
        return svg::no_data(aria, "no alerts in this period");
    }
    let sevs = severities_present(data);
    let mut cols: Vec<Column> = (0..24)
        .map(|h| Column {
            label: format!("{h:02}"),
            values: vec![0.0; sevs.len()],
            tip: format!("{h:02}:00–{h:02}:59 UTC"),
        })
        .collect();
    for a in &data.alerts {
        let hour = usize::try_from(a.time_us.rem_euclid(DAY_US) / HOUR_US).unwrap_or(0);
        let s = sevs.iter().position(|s| *s == a.severity);
        if let (Some(c), Some(s)) = (cols.get_mut(hour), s)
            && let Some(v) = c.values.get_mut(s)
        {
            *v += 1.0;
        }
    }
    let series: Vec<Series> = sevs.iter().map(|s| Series { name: s.clone(), color: severity_color(s) }).collect();
    svg::columns(aria, &series, &cols, "alerts")
}

/// Chart: alerts by kind.
fn kind_chart(data: &ReportData) -> String {
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for a in &data.alerts {
        *by.entry(a.kind.as_str()).or_default() += 1;
    }
    let mut v: Vec<(&str, u64)> = by.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let bars: Vec<HBar> = v
        .iter()
        .map(|(k, n)| HBar { label: k.replace('_', " "), value: *n as f64, note: thousands(*n), color: ACCENT })
        .collect();
    svg::hbars("Alerts by kind", &bars)
}

/// Chart: sessions by tool, with how many were relayed.
fn tool_chart(data: &ReportData) -> String {
    let mut by: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for s in &data.sessions {
        let e = by.entry(s.tool.as_str()).or_default();
        e.0 += 1;
        e.1 += u64::from(s.relayed);
    }
    let mut v: Vec<(&str, (u64, u64))> = by.into_iter().collect();
    v.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    let bars: Vec<HBar> = v
        .iter()
        .map(|(t, (n, r))| HBar {
            label: (*t).to_string(),
            value: *n as f64,
            note: if *r > 0 { format!("{} ({} relayed)", thousands(*n), thousands(*r)) } else { thousands(*n) },
            color: ACCENT,
        })
        .collect();
    svg::hbars("Sessions by tool", &bars)
}

/// Chart: alerts by the peer's country ("unknown" when enrichment had none).
fn country_chart(counts: &ReportCounts) -> String {
    let mut v: Vec<(&String, &u64)> = counts.alerts_by_country.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut bars: Vec<HBar> = v
        .iter()
        .take(MAX_COUNTRY_BARS)
        .map(|(c, n)| HBar {
            label: (*c).clone(),
            value: **n as f64,
            note: thousands(**n),
            color: if c.as_str() == "unknown" { DIRECT } else { ACCENT },
        })
        .collect();
    let rest: Vec<&(&String, &u64)> = v.iter().skip(MAX_COUNTRY_BARS).collect();
    if !rest.is_empty() {
        let n: u64 = rest.iter().map(|(_, n)| **n).sum();
        bars.push(HBar { label: format!("{} others", rest.len()), value: n as f64, note: thousands(n), color: DIRECT });
    }
    svg::hbars("Peer countries", &bars)
}

/// Chart: histogram of the sessions' relay gaps, relayed ones marked.
fn gap_chart(data: &ReportData) -> (String, String) {
    let aria = "Relay-gap distribution";
    let gaps: Vec<(f64, bool)> =
        data.sessions.iter().filter_map(|s| s.gap_ms.filter(|g| g.is_finite()).map(|g| (g, s.relayed))).collect();
    let without = data.sessions.len() - gaps.len();
    let foot = if without > 0 {
        format!("{} without a measured gap.", plural(without as u64, "session", "sessions"))
    } else {
        String::new()
    };
    if gaps.is_empty() {
        return (svg::no_data(aria, "no measured relay gaps"), foot);
    }
    let lo = gaps.iter().map(|g| g.0).fold(0.0, f64::min);
    let hi = gaps.iter().map(|g| g.0).fold(f64::MIN, f64::max);
    let step = svg::nice_step(hi - lo, 20.0, false);
    let start = (lo / step).floor() * step;
    let bins = (((hi - start) / step).floor() as usize + 1).clamp(1, 60);
    let mut cols: Vec<Column> = (0..bins)
        .map(|i| {
            let a = start + step * i as f64;
            Column {
                label: svg::tick_text(a),
                values: vec![0.0, 0.0],
                tip: format!("{} – {} ms", svg::tick_text(a), svg::tick_text(a + step)),
            }
        })
        .collect();
    for (g, relayed) in &gaps {
        let i = (((g - start) / step).floor().max(0.0) as usize).min(bins - 1);
        if let Some(c) = cols.get_mut(i).and_then(|c| c.values.get_mut(usize::from(!relayed))) {
            *c += 1.0;
        }
    }
    let series =
        [Series { name: "relayed".into(), color: RELAYED }, Series { name: "not relayed".into(), color: DIRECT }];
    let end = svg::tick_text(start + step * bins as f64);
    (svg::histogram(aria, &series, &cols, "sessions", &end), foot)
}

/// Chart: keystrokes vs median inter-key interval, coloured by rhythm label.
fn rhythm_chart(data: &ReportData) -> (String, String) {
    let mut labels: Vec<String> = Vec::new();
    let mut points = Vec::new();
    let mut without = 0u64;
    for s in &data.sessions {
        let (Some(keys), Some(iki)) = (s.keys, s.iki_median_ms.filter(|v| v.is_finite())) else {
            if s.keys.is_some() {
                without += 1;
            }
            continue;
        };
        let label = s.rhythm.clone().unwrap_or_else(|| "unlabelled".to_string());
        let series = match labels.iter().position(|l| *l == label) {
            Some(i) => i,
            None => {
                labels.push(label.clone());
                labels.len() - 1
            }
        };
        points.push(Point {
            x: keys as f64,
            y: iki,
            series,
            tip: format!("{} {} → {}: {keys} keys, median {iki:.0} ms, {label}", s.tool, s.endpoint_ip, s.peer_ip),
        });
    }
    let series: Vec<Series> =
        labels.iter().map(|l| Series { name: l.replace('_', " "), color: rhythm_color(l) }).collect();
    let svg = if points.is_empty() {
        svg::no_data("Keystroke rhythm", "no keystroke figures")
    } else {
        svg::scatter("Keystroke rhythm", &series, &points, "keystrokes (log scale)", "median inter-key ms", true)
    };
    let foot = if without > 0 {
        format!("{} with keystrokes but no interval median.", plural(without, "session", "sessions"))
    } else {
        String::new()
    };
    (svg, foot)
}

/// Chart: sessions per typing-rhythm label.
fn rhythm_label_chart(data: &ReportData) -> String {
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for s in &data.sessions {
        if let Some(r) = &s.rhythm {
            *by.entry(r.as_str()).or_default() += 1;
        }
    }
    let mut v: Vec<(&str, u64)> = by.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let bars: Vec<HBar> = v
        .iter()
        .map(|(r, n)| HBar {
            label: r.replace('_', " "),
            value: *n as f64,
            note: thousands(*n),
            color: rhythm_color(r),
        })
        .collect();
    svg::hbars("Typing-rhythm labels", &bars)
}

/// One figure: heading, subtitle, chart, footnote.
fn figure(out: &mut String, title: &str, sub: &str, chart: &str, foot: &str) {
    let _ = write!(out, "<figure><h2>{}</h2><p class=\"sub\">{}</p>{chart}", esc(title), esc(sub));
    if !foot.is_empty() {
        let _ = write!(out, "<p class=\"foot\">{}</p>", esc(foot));
    }
    out.push_str("</figure>\n");
}

/// One endpoint's row of the top-endpoints table.
#[derive(Default)]
struct EndpointRow {
    hostname: Option<String>,
    mac: Option<String>,
    alerts: u64,
    sessions: u64,
    tools: BTreeSet<String>,
}

fn endpoints_table(out: &mut String, data: &ReportData) {
    let mut rows: BTreeMap<(&str, &str), EndpointRow> = BTreeMap::new();
    for e in &data.endpoints {
        let r = rows.entry((e.sensor.as_str(), e.ip.as_str())).or_default();
        r.hostname.clone_from(&e.hostname);
        r.mac.clone_from(&e.mac);
    }
    for a in &data.alerts {
        let r = rows.entry((a.sensor.as_str(), a.endpoint_ip.as_str())).or_default();
        r.alerts += 1;
        r.tools.insert(a.tool.clone());
    }
    for s in &data.sessions {
        let r = rows.entry((s.sensor.as_str(), s.endpoint_ip.as_str())).or_default();
        r.sessions += 1;
        r.tools.insert(s.tool.clone());
    }
    let mut v: Vec<((&str, &str), EndpointRow)> = rows.into_iter().collect();
    v.sort_by(|a, b| b.1.alerts.cmp(&a.1.alerts).then(b.1.sessions.cmp(&a.1.sessions)).then(a.0.cmp(&b.0)));
    out.push_str("<section><h2>Top endpoints</h2>");
    if v.is_empty() {
        out.push_str("<p class=\"note\">No endpoint was named by an alert in this period.</p></section>\n");
        return;
    }
    let multi = data.sensors.len() > 1 || v.iter().map(|(k, _)| k.0).collect::<BTreeSet<_>>().len() > 1;
    out.push_str("<table><thead><tr><th>Endpoint</th><th>Host name</th><th>MAC</th>");
    if multi {
        out.push_str("<th>Sensor</th>");
    }
    out.push_str("<th class=\"n\">Alerts</th><th class=\"n\">Sessions</th><th>Tools</th></tr></thead><tbody>");
    for ((sensor, ip), r) in v.iter().take(MAX_ENDPOINT_ROWS) {
        let _ = write!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td>",
            esc(ip),
            esc(r.hostname.as_deref().unwrap_or("—")),
            esc(r.mac.as_deref().unwrap_or("—"))
        );
        if multi {
            let _ = write!(out, "<td>{}</td>", esc(sensor));
        }
        let tools: Vec<&str> = r.tools.iter().map(String::as_str).collect();
        let _ = write!(
            out,
            "<td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            thousands(r.alerts),
            thousands(r.sessions),
            esc(&tools.join(", "))
        );
    }
    out.push_str("</tbody></table>");
    if v.len() > MAX_ENDPOINT_ROWS {
        let _ = write!(
            out,
            "<p class=\"note\">The {MAX_ENDPOINT_ROWS} endpoints with the most alerts of {}; all are in report.json.</p>",
            thousands(v.len() as u64)
        );
    }
    out.push_str("</section>\n");
}

fn alerts_table(out: &mut String, data: &ReportData) {
    out.push_str("<section class=\"alerts\"><h2>Alerts</h2>");
    if data.alerts.is_empty() {
        out.push_str("<p class=\"note\">No alerts in this period.</p></section>\n");
        return;
    }
    let names: BTreeMap<(&str, &str), &str> = data
        .endpoints
        .iter()
        .filter_map(|e| e.hostname.as_deref().map(|h| ((e.sensor.as_str(), e.ip.as_str()), h)))
        .collect();
    out.push_str(
        "<table><thead><tr><th>Time (UTC)</th><th>Severity</th><th>Kind</th><th>Tool</th><th>Endpoint</th>\
         <th>Peer</th><th>Country</th><th>Message</th></tr></thead><tbody>",
    );
    for a in data.alerts.iter().take(MAX_ALERT_ROWS) {
        let host = names.get(&(a.sensor.as_str(), a.endpoint_ip.as_str()));
        let _ = write!(
            out,
            "<tr><td class=\"mono\">{}</td><td><span class=\"badge {}\">{}</span></td><td class=\"kind\">{}</td><td>{}</td>\
             <td class=\"ep\"><span class=\"mono\">{}</span>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"msg\">{}</td></tr>",
            esc(&short(a.time_us)),
            severity_class(&a.severity),
            esc(&a.severity),
            esc(&a.kind.replace('_', " ")),
            esc(&a.tool),
            esc(&a.endpoint_ip),
            host.map(|h| format!("<br>{}", esc(h))).unwrap_or_default(),
            esc(&peer(&a.peer_ip, a.peer_port)),
            esc(a.peer_country.as_deref().unwrap_or("unknown")),
            esc(&a.message)
        );
    }
    out.push_str("</tbody></table>");
    if data.alerts.len() > MAX_ALERT_ROWS {
        let _ = write!(
            out,
            "<p class=\"note\">The first {} of {}; the full list is in alerts.csv.</p>",
            thousands(MAX_ALERT_ROWS as u64),
            plural(data.alerts.len() as u64, "alert", "alerts")
        );
    }
    out.push_str("</section>\n");
}

/// The whole page.
pub fn render(data: &ReportData, meta: &ReportMeta, counts: &ReportCounts) -> String {
    let mut out = String::with_capacity(64 * 1024 + data.alerts.len().min(MAX_ALERT_ROWS) * 600);
    let period = format!(
        "{} → {} UTC ({})",
        short(data.from_us),
        short(data.to_us),
        span_words(data.to_us.saturating_sub(data.from_us))
    );
    let sensors = if meta.sensors.is_empty() { "—".to_string() } else { meta.sensors.join(", ") };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} — {period}</title><style>{CSS}</style></head><body>\n\
         <header class=\"top\"><div class=\"in\"><div><h1>{title}</h1><p class=\"period\">{period}</p></div>\
         <dl><dt>Sensors</dt><dd>{sensors}</dd><dt>Generated</dt><dd>{generated}</dd>\
         <dt>farhand</dt><dd>{version}</dd><dt>Store</dt><dd>{store}</dd></dl></div></header>\n<main>\n",
        title = esc(&meta.title),
        period = esc(&period),
        sensors = esc(&sensors),
        generated = esc(&rfc3339_seconds(meta.generated_us)),
        version = esc(&meta.version),
        store = esc(&meta.store),
    );
    // Summary.
    out.push_str("<section class=\"cards\">");
    let cards = [
        (thousands(counts.alerts), "alerts"),
        (thousands(counts.sessions), "sessions"),
        (thousands(counts.sessions_relayed), "relayed sessions"),
        (thousands(counts.endpoints), "endpoints"),
        (thousands(counts.peer_countries), "peer countries"),
        (thousands(counts.sensors), "sensors"),
    ];
    for (num, what) in cards {
        let _ =
            write!(out, "<div class=\"card\"><span class=\"num\">{num}</span><span class=\"what\">{what}</span></div>");
    }
    out.push_str("</section>\n");
    if data.alerts.is_empty() {
        out.push_str("<p class=\"empty\">No alerts in this period.</p>\n");
    } else {
        out.push_str("<div class=\"sevs\">");
        for s in severities_present(data) {
            let n = counts.alerts_by_severity.get(&s).copied().unwrap_or(0);
            let _ = write!(out, "<span class=\"badge {}\">{} {}</span>", severity_class(&s), esc(&s), thousands(n));
        }
        out.push_str("</div>\n");
    }
    // Charts.
    out.push_str("<section class=\"charts\">\n");
    let (time_svg, time_sub) = time_chart(data);
    figure(&mut out, "Alerts over time", &time_sub, &time_svg, "");
    figure(&mut out, "Alerts by kind", "all alerts of the period", &kind_chart(data), "");
    figure(&mut out, "Sessions by tool", "remote-control and tunnel sessions", &tool_chart(data), "");
    figure(&mut out, "Peer countries", "alerts by the peer's country (ISO 3166 code)", &country_chart(counts), "");
    let (gap_svg, gap_foot) = gap_chart(data);
    figure(
        &mut out,
        "Relay-gap distribution",
        "sessions by relay latency gap (ms); a gap judged too large for a direct path is marked relayed",
        &gap_svg,
        &gap_foot,
    );
    let (rhythm_svg, rhythm_foot) = rhythm_chart(data);
    figure(
        &mut out,
        "Keystroke rhythm",
        "sessions by keystrokes counted and median inter-key interval (timing only, never key contents)",
        &rhythm_svg,
        &rhythm_foot,
    );
    figure(&mut out, "Typing-rhythm labels", "sessions by typing-rhythm label", &rhythm_label_chart(data), "");
    figure(&mut out, "Alerts by hour of day", "hour of the day in UTC, all days of the period", &hour_chart(data), "");
    out.push_str("</section>\n");
    endpoints_table(&mut out, data);
    alerts_table(&mut out, data);
    let _ = write!(
        out,
        "</main>\n<footer>This report's files: report.html (this page), alerts.csv, sessions.csv, report.json, \
         privacy.txt (what the report contains and why), and manifest.json (the size and SHA-256 of each file and \
         the SHA-256 of the previous report's manifest, so that a series of reports can be checked for changes). \
         Times are UTC. Generated {}.</footer>\n</body></html>\n",
        esc(&rfc3339_seconds(meta.generated_us))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(esc("<script>alert('x')</script>"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        assert_eq!(esc("a & \"b\""), "a &amp; &quot;b&quot;");
        assert_eq!(esc("bell\u{7}nul\0"), "bell\u{fffd}nul\u{fffd}");
        assert_eq!(esc("tab\tnl\n"), "tab\tnl\n");
    }

    #[test]
    fn numbers_in_words() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(span_words(7 * DAY_US), "7 days");
        assert_eq!(span_words(36 * HOUR_US), "36 hours");
        assert_eq!(peer("2001:db8::1", 443), "[2001:db8::1]:443");
    }

    #[test]
    fn bucket_sizes_follow_the_window() {
        let day = DAY_US;
        assert_eq!(buckets(0, day).size, HOUR_US);
        assert_eq!(buckets(0, day).count, 24);
        assert_eq!(buckets(0, 4 * day).count, 96);
        let b = buckets(0, 7 * day);
        assert_eq!((b.size, b.count), (day, 7));
        // A year: weeks from Monday (1970-01-05 = 4 days after the epoch).
        let b = buckets(10 * day, 375 * day);
        assert_eq!(b.size, 7 * day);
        assert_eq!(b.origin, 4 * day);
        // The whole range of i64: no overflow, at most 97 columns.
        let b = buckets(i64::MIN, i64::MAX);
        assert!(b.count <= 97, "{}", b.count);
    }
}
